"""Benchmark of the managers' home page (issue 8).

Builds the other issues' data sets together, in one branch of five projects: 100,000 units with 12 months of
bills (1.2 M bills), 1 M service requests with their work orders over two years (a tenth of them complaints)
and their callbacks, a half-year survey with 100,000 answered forms (6 department scores each), 100,000
score events and this month's computed scores — in a temporary SQLite file and in the PostgreSQL database
``--pg`` names (dropped and recreated), with set-based INSERT … SELECT (a recursive CTE on SQLite,
``generate_series`` on PostgreSQL). Then, on each database, as a branch account (分公司管理) of that branch:

- each widget of the home page through its action (``actions.dashboard`` / ``actions.kpis``);
- the home page through the app (Starlette TestClient, logged in), the time issue 17 bounds (< 0.2 s on
  PostgreSQL, < 1 s on SQLite);
- for information: the 12-month trends page, the branch's monthly report, and the month close (dry run).

    /work/venv/bin/python bench/dashboard.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_dashboard]
                                             [--sqlite-only | --pg-only] [--skip-build] [--sqlite FILE]

``--skip-build`` reuses the PostgreSQL database a previous run built; ``--sqlite FILE`` a SQLite file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import backends_cpu, fresh_postgres, load_average, login, migrate  # noqa: E402  (shared helpers)

import actions  # noqa: E402,F401  (audit hook)
from actions import dashboard, kpis, month_close  # noqa: E402
from actions.accounts import add_user  # noqa: E402
from actions.actor import SYSTEM, actor_for_user  # noqa: E402
from actions.billing import today_local  # noqa: E402
from actions.kernel.periods import add_months, current_period
from actions.scores import compute_scores  # noqa: E402
from admin.app import create_app  # noqa: E402
from models import (  # noqa: E402
    SCORE_COLUMNS,
    Bill,
    ScoreEvent,
    ServiceRequest,
    SurveyResponse,
    SurveyScore,
    User,
    Visit,
    WorkOrder,
    utcnow,
)
from models.db import make_engine  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

PROJECTS, UNITS, BUILDINGS_PER_PROJECT, MONTHS = 5, 100_000, 50, 12
REQUESTS, DAYS = 1_000_000, 730
STAFF_PER_PROJECT, EVENTS = 94, 100_000
RUNS = 5
TARGETS = {"PostgreSQL": 0.2, "SQLite": 1.0}  # issue 17: the home page of a branch of 5 projects
USER, PASSWORD = "bench-branch", "bench-pass-2026"
SECRET = "bench-secret-" + "x" * 40






# --- the data set -----------------------------------------------------------------------------------------------
class Sql:
    """The few expressions that differ between the two databases."""

    def __init__(self, engine: Engine) -> None:
        self.pg = engine.dialect.name == "postgresql"

    def ago(self, secs: str) -> str:
        """The moment ``secs`` seconds before :now, stored as each database stores a UTCDateTime."""
        if self.pg:
            return f"(CAST(:now AS timestamptz) - make_interval(secs => {secs}))"
        return f"strftime('%Y-%m-%d %H:%M:%f000', :now, printf('-%d seconds', {secs}))"

    def plus(self, column: str, secs: str) -> str:
        if self.pg:
            return f"({column} + make_interval(secs => {secs}))"
        return f"strftime('%Y-%m-%d %H:%M:%f000', {column}, printf('%+d seconds', {secs}))"

    def days_before(self, day: str, days: str) -> str:
        if self.pg:
            return f"(CAST({day} AS DATE) - ({days}))"
        return f"date({day}, printf('-%d days', {days}))"

    def numbers(self, n: int) -> str:
        if self.pg:
            return f"INSERT INTO bench_n SELECT generate_series(1, {n})"
        return f"INSERT INTO bench_n WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) SELECT i FROM c"


def build(engine: Engine, now: dt.datetime) -> None:
    """Everything in set-based statements over a numbers table; ids are 1… in a fresh database."""
    sql = Sql(engine)
    now_param = now if sql.pg else now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")
    current = current_period(now)
    half = f"{current[:4]}H{1 if int(current[5:]) <= 6 else 2}"
    months = [add_months(current, -k) for k in range(MONTHS - 1, -1, -1)]
    per_project = UNITS // PROJECTS
    per_building = per_project // BUILDINGS_PER_PROJECT
    with Session(engine) as s, s.begin():
        load_reference(s)
    with engine.begin() as c:
        def run(statement: str, **params) -> None:
            c.execute(text(statement), {"now": now_param, **params})

        run("CREATE TABLE bench_n (i INTEGER PRIMARY KEY)")
        run(sql.numbers(REQUESTS))
        run("INSERT INTO branch (name, company) VALUES ('基准分公司', '基准物业服务有限公司')")
        run("INSERT INTO project (branch_id, name, kind, address, phone, company) "
            "SELECT 1, '基准项目' || i, 'residential', '', '', '基准物业服务有限公司' FROM bench_n WHERE i <= :p",
            p=PROJECTS)
        run("INSERT INTO phase (project_id, name) SELECT 1 + (i - 1) / 2, (1 + (i - 1) % 2) || '期' FROM bench_n "
            "WHERE i <= :n", n=PROJECTS * 2)
        run("INSERT INTO building (project_id, phase_id, name, floors) "
            "SELECT 1 + (i - 1) / :b, 1 + ((i - 1) / :b) * 2 + (i - 1) % 2, ((i - 1) % :b + 1) || '栋', 30 "
            "FROM bench_n WHERE i <= :n", b=BUILDINGS_PER_PROJECT, n=PROJECTS * BUILDINGS_PER_PROJECT)
        # units of project p are ids (p-1)·20000+1 … p·20000, in buildings of 400
        run("INSERT INTO unit (project_id, building_id, room_no, kind, status, area, key_tenant) "
            "SELECT 1 + (i - 1) / :pp, 1 + (i - 1) / :pb, CAST(1 + (i - 1) % :pb AS VARCHAR(32)), 'house', "
            "'occupied', CAST(50 + i % 101 AS NUMERIC(10, 2)) + 0.5, (1 = 0) FROM bench_n WHERE i <= :n",
            pp=per_project, pb=per_building, n=UNITS)
        run("INSERT INTO staff (project_id, employee_no, name, phone, position, active) "
            "SELECT 1 + (i - 1) / :s, 'E' || i, '员工' || i, '', "
            "CASE i % 3 WHEN 0 THEN 'front_desk' WHEN 1 THEN 'butler' ELSE 'cashier' END, (1 = 1) "
            "FROM bench_n WHERE i <= :n", s=STAFF_PER_PROJECT, n=PROJECTS * STAFF_PER_PROJECT)
        run("INSERT INTO fee_type (project_id, name, basis, rate, due_day, active) "
            "SELECT i, '物业管理费', 'per_area', 2.50, 1, (1 = 1) FROM bench_n WHERE i <= :p", p=PROJECTS)

        # 1.2 M bills, generated month by month as the console does: one unit in six owes three months in five
        run("CREATE TABLE bench_month (k INTEGER PRIMARY KEY, period VARCHAR(7), due DATE)")
        for k, period in enumerate(months, start=1):
            run("INSERT INTO bench_month VALUES (:k, :p, :d)", k=k, p=period,
                d=dt.date(int(period[:4]), int(period[5:]), 1))
        unpaid = "(u.id % 6 = 0 AND (u.id * 7 + m.k * 3) % 5 < 3)"
        run("INSERT INTO bill (project_id, unit_id, fee_type_id, period, amount_due, amount_paid, due_date, status) "
            f"SELECT u.project_id, u.id, u.project_id, m.period, ROUND(u.area * 2.50, 2), "
            f"CASE WHEN {unpaid} THEN 0 ELSE ROUND(u.area * 2.50, 2) END, m.due, "
            f"CASE WHEN {unpaid} THEN 'unpaid' ELSE 'paid' END FROM bench_month m CROSS JOIN unit u ORDER BY m.k, u.id")

        # 1 M requests over two years, one a minute-ish; every tenth a complaint; older than 3 days: closed
        age = f"(i * {DAYS * 86400 // REQUESTS})"
        old = f"{age} > 259200"
        run("INSERT INTO service_request (project_id, channel, kind, category, priority, status, stage, unit_id, "
            "contact_name, contact_phone, content, received_at, complaint_validity, complaint_major, reply, closed_at) "
            f"SELECT 1 + i % :p, 'phone', CASE WHEN i % 10 = 0 THEN 'complaint' ELSE 'repair_private' END, "
            "CASE i % 6 WHEN 0 THEN 'plumbing' WHEN 1 THEN 'elevator' WHEN 2 THEN 'noise' WHEN 3 THEN 'cleaning' "
            "WHEN 4 THEN 'parking' ELSE 'service' END, 'normal', "
            f"CASE WHEN {old} THEN 'closed' ELSE 'dispatched' END, CASE WHEN {old} THEN 'closed' ELSE 'open' END, "
            "(i % :p) * :pp + 1 + (i / :p) % :pp, '业主', '', "
            f"'基准诉求', {sql.ago(age)}, CASE WHEN i % 10 = 0 THEN CASE WHEN i % 3 <> 0 THEN 'valid' ELSE 'invalid' END END, (i % 970 = 0), '', "
            f"CASE WHEN {old} THEN {sql.ago(age + ' - 172800')} END FROM bench_n",
            p=PROJECTS, pp=per_project)
        # their work orders: due 24 h after receipt, one in three done late; closed two days after receipt
        run("INSERT INTO work_order (project_id, request_id, department_id, priority, status, dispatched_at, "
            "respond_due_at, complete_due_at, completed_at, closed_at, result, paid_service, quote, quote_accepted, "
            "charge, reopen_count, reassign_note) "
            "SELECT sr.project_id, sr.id, "
            "(SELECT d.id FROM department d WHERE d.project_id IS NULL AND d.name = "
            "CASE WHEN sr.kind = 'complaint' THEN '客服部' ELSE '工程部' END), 'normal', "
            "CASE WHEN sr.status = 'closed' THEN 'closed' WHEN sr.id % 2 = 0 THEN 'accepted' ELSE 'dispatched' END, "
            f"sr.received_at, {sql.plus('sr.received_at', '1800')}, {sql.plus('sr.received_at', '86400')}, "
            f"CASE WHEN sr.status = 'closed' THEN {sql.plus('sr.received_at', 'CASE WHEN sr.id % 3 = 0 THEN 108000 ELSE 72000 END')} END, "
            "sr.closed_at, '', (1 = 0), 0, (1 = 0), 0, 0, '' FROM service_request sr")
        # callbacks of 95 % of the closed orders
        run("INSERT INTO visit (project_id, kind, way, work_order_id, request_id, unit_id, visited_at, result, notes, "
            "issues_raised) "
            "SELECT wo.project_id, CASE WHEN wo.request_id % 10 = 0 THEN 'complaint' ELSE 'repair' END, 'phone', "
            f"wo.id, wo.request_id, NULL, {sql.plus('wo.closed_at', '-3600')}, "
            "CASE WHEN wo.id % 17 = 0 THEN 'unsatisfied' ELSE 'satisfied' END, '', '' "
            "FROM work_order wo WHERE wo.status = 'closed' AND wo.id % 20 <> 0")

        # this half year's survey: every unit surveyed and answering (100,000 forms)
        run("INSERT INTO survey (project_id, title, period, status, scale_max) "
            "SELECT i, '基准项目' || i || ' ' || :half || ' 满意度调查', :half, 'collected', 5 FROM bench_n WHERE i <= :p",
            half=half, p=PROJECTS)
        run("INSERT INTO survey_household (project_id, survey_id, unit_id, receipt_signed, collected) "
            "SELECT u.project_id, u.project_id, u.id, (1 = 1), (u.id % 40 <> 0) FROM unit u")
        run("INSERT INTO survey_response (project_id, survey_id, unit_id, respondent, signed, comments, overall_score) "
            "SELECT u.project_id, u.project_id, u.id, '', (1 = 1), '', 1 + u.id % 5 FROM unit u")
        # each form's six department scores, in its own columns
        run("UPDATE survey_response SET " + ", ".join(
            f"{column} = CASE WHEN (id * 7 + {k}) % 10 < 7 THEN 4 + (id + {k}) % 2 ELSE 1 + (id + {k}) % 3 END"
            for k, column in enumerate(SCORE_COLUMNS.values(), 1)))

        # 100,000 score events over the last year, on the documents' typed rules
        run("CREATE TABLE bench_rule (k INTEGER PRIMARY KEY, id INTEGER, points NUMERIC(6, 1))")
        rules = c.execute(text("SELECT id, points_min FROM scoring_rule WHERE source = 'manual' AND valid_to IS NULL "
                               "ORDER BY id")).all()
        for k, (rule_id, points) in enumerate(rules):
            run("INSERT INTO bench_rule VALUES (:k, :id, :pts)", k=k, id=rule_id, pts=points)
        run("INSERT INTO score_event (project_id, staff_id, event_date, rule_id, points, note, source) "
            f"SELECT 1 + (i % :staff) / :s, 1 + i % :staff, {sql.days_before(':today', 'i % 365')}, r.id, r.points, "
            "'', 'manual' FROM bench_n JOIN bench_rule r ON r.k = i % :rules WHERE i <= :n",
            staff=PROJECTS * STAFF_PER_PROJECT, s=STAFF_PER_PROJECT, today=today_local().isoformat(),
            rules=len(rules), n=EVENTS)
        for table in ("bench_n", "bench_month", "bench_rule"):
            run(f"DROP TABLE {table}")
    with Session(engine) as s, s.begin():
        compute_scores(s, month=current, actor=SYSTEM)  # this month: a draft of every project
        add_user(s, username=USER, password=PASSWORD, roles=["分公司管理"], branch_id=1)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE" if sql.pg else "ANALYZE"))  # what autovacuum does after a bulk load


# --- the timings ------------------------------------------------------------------------------------------------
class Clock:
    """Wall and CPU seconds of a piece of work: the CPU of this process (every thread: the home page's parallel
    reads) and of the PostgreSQL backends serving the bench's database (asked over a connection to another
    database) — on the shared machine the CPU figure is the one load inflates least."""

    def __init__(self, engine: Engine) -> None:
        self.database = engine.url.database
        self.admin = None
        if engine.dialect.name == "postgresql":
            server = engine.url.set(database="postgres").render_as_string(hide_password=False)
            self.admin = make_engine(server, isolation_level="AUTOCOMMIT").connect()

    def cpu(self) -> float:
        return time.process_time() + backends_cpu(self.admin, self.database)

    def median_of(self, fn: Callable[[], object]) -> tuple[float, float, float, object]:
        """(first run's wall, median wall of RUNS, median CPU of RUNS, result)."""
        walls, cpus, out = [], [], None
        for _ in range(RUNS):
            cpu, start = self.cpu(), time.perf_counter()
            out = fn()
            walls.append(time.perf_counter() - start)
            cpus.append(self.cpu() - cpu)
        return walls[0], statistics.median(walls), statistics.median(cpus), out

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()



def run(label: str, engine: Engine, *, skip_build: bool, home_only: bool = False) -> dict[str, tuple[float, float]]:
    """Figure name → (median wall, median CPU) seconds."""
    now = utcnow()
    if not skip_build:
        start = time.perf_counter()
        build(engine, now)
        print(f"[{label}] built in {time.perf_counter() - start:.0f} s", flush=True)
    with Session(engine) as s:
        sizes = {model.__tablename__: s.scalar(select(func.count()).select_from(model))
                 for model in (Bill, ServiceRequest, WorkOrder, Visit, SurveyResponse, SurveyScore, ScoreEvent)}
        actor = actor_for_user(s, s.scalar(select(User).where(User.username == USER)))
    print(f"[{label}] " + ", ".join(f"{n:,} {name}" for name, n in sizes.items()), flush=True)

    today = today_local()
    current = current_period()
    chosen = add_months(current, -1)
    figures: dict[str, tuple[float, float]] = {}
    clock = Clock(engine)

    def widget(name: str, fn: Callable[[Session, kpis.Scope], object]) -> None:
        def once():
            with Session(engine) as s:
                return fn(s, kpis.resolve_scope(s, actor=actor))

        first, median, cpu, _ = clock.median_of(once)
        figures[name] = (median, cpu)
        print(f"[{label}] widget {name:14} first {first:.3f} s, median of {RUNS} {median:.3f} s, CPU {cpu:.3f} s "
              f"(load {load_average()})", flush=True)

    widget("scope", lambda s, scope: scope)
    widget("kpis", lambda s, scope: kpis.kpi_figures(s, scope=scope, months=[current, chosen]))
    widget("open_orders", lambda s, scope: dashboard.open_orders(s, scope=scope))
    widget("intake", lambda s, scope: dashboard.intake(s, scope=scope, day=today))
    widget("arrears", lambda s, scope: dashboard.arrears(s, scope=scope, as_of=today))
    widget("latest_surveys", lambda s, scope: dashboard.latest_surveys(s, scope=scope))
    widget("score_status", lambda s, scope: dashboard.score_status(s, scope=scope, month=current))

    app = create_app(engine, secret_key=SECRET)
    with TestClient(app, base_url="http://testserver") as client:
        login(client, USER, PASSWORD)
        pages = (("home_page", "/admin/"), ("trends", "/admin/dashboard/trends"),
                 ("branch_report", f"/admin/dashboard/report?month={chosen}&branch_id=1"))
        for name, url in pages[:1] if home_only else pages:
            def get(url=url):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code, response.text[:300])
                return response

            first, median, cpu, _ = clock.median_of(get)
            figures[name] = (median, cpu)
            print(f"[{label}] page {name:14} first {first:.3f} s, median of {RUNS} {median:.3f} s, CPU {cpu:.3f} s "
                  f"(load {load_average()})", flush=True)

    def close():
        with Session(engine) as s:
            return month_close.close_month(s, actor=actor, month=chosen, dry_run=True)

    if not home_only:
        _, median, cpu, result = clock.median_of(close)
        figures["close_dry_run"] = (median, cpu)
        print(f"[{label}] month close (dry run) {result.message}: median {median:.3f} s, CPU {cpu:.3f} s", flush=True)
    clock.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_dashboard")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--skip-build", action="store_true", help="reuse the PostgreSQL database of a previous run")
    parser.add_argument("--sqlite", help="reuse this SQLite file of a previous run (bench/list_pages.py's holds the "
                                         "same data set), upgraded to the schema's head; built there if absent")
    parser.add_argument("--home-only", action="store_true", help="the widgets and the home page, not the other pages")
    args = parser.parse_args()

    results: dict[str, dict[str, tuple[float, float]]] = {}
    if args.sqlite and not args.pg_only:
        built = Path(args.sqlite).exists()  # a file not there yet is built, and kept for the next run
        engine = make_engine(f"sqlite:///{args.sqlite}")
        migrate(engine)
        results["SQLite"] = run("SQLite", engine, skip_build=built, home_only=args.home_only)
        engine.dispose()
    elif not args.pg_only and not args.skip_build:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            migrate(engine)
            results["SQLite"] = run("SQLite", engine, skip_build=False, home_only=args.home_only)
            engine.dispose()
    if not args.sqlite_only:
        url = args.pg if args.skip_build else fresh_postgres(args.pg)
        engine = make_engine(url)
        if not args.skip_build:
            migrate(engine)
        results["PostgreSQL"] = run("PostgreSQL", engine, skip_build=args.skip_build, home_only=args.home_only)
        engine.dispose()

    print(f"\n== summary: median seconds, wall / CPU (load {load_average()}) ==")
    keys = list(next(iter(results.values())))
    print(f"{'':16}" + "".join(f"{name:>18}" for name in results))
    for key in keys:
        print(f"{key:16}" + "".join(f"{r[key][0]:9.3f}{r[key][1]:9.3f}" for r in results.values()))
    widgets = ("scope", "kpis", "open_orders", "intake", "arrears", "latest_surveys", "score_status")
    for name, r in results.items():
        wall, cpu = r["home_page"]
        print(f"{name}: widgets add up to {sum(r[w][0] for w in widgets):.3f} s; the home page takes {wall:.3f} s "
              f"(CPU {cpu:.3f} s; {'within' if wall < TARGETS[name] else 'NOT within'} the {TARGETS[name]} s "
              f"issue 17 sets)")


if __name__ == "__main__":
    main()
