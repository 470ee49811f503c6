"""Benchmark of fees and dunning (issue 4).

Builds one project of 100,000 units (100 buildings in 4 phases, 20 collectors, a customer per unit) with 12
months of bills — 1.2 M bills, ~10 % unpaid, owed by about one unit in six — in a temporary SQLite file and
in the PostgreSQL database ``wuye_bench_dunning`` (dropped and recreated), with set-based INSERT … SELECT
(a recursive CTE on SQLite, ``generate_series`` on PostgreSQL). Then times, on each database:

- 生成账单: ``actions.billing.generate_bills`` for the current month (100,000 new bills);
- 第一次催缴 for every overdue account: ``actions.dunning.issue_dunning`` against one hand-written
  INSERT … SELECT producing the same notices on the same database (the issue asks for within 2×);
- 收费率 for one month: ``actions.billing.collection_rate`` by project, building and collector;
- 欠费账龄 through the app (Starlette TestClient, logged in): list page 1, and a filtered page.

    /work/venv/bin/python bench/dunning.py [--units 100000] [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_dunning]
                                           [--sqlite-only | --pg-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (the benchmarks' shared helpers)
    AUDIT_ACTOR_NGRAMS,
    AUDIT_UNSEARCHED,
    backend_cpu,
    fresh_postgres,
    load_average,
    login,
    migrate,
    seconds,
)

import actions  # noqa: E402,F401  (audit hook)
from actions.accounts import add_user  # noqa: E402
from actions.actor import SYSTEM  # noqa: E402
from actions.billing import collection_rate, generate_bills  # noqa: E402
from actions.dunning import DunningScope, issue_dunning, pay_by  # noqa: E402
from actions.kernel.periods import add_months, current_period
from admin.app import create_app  # noqa: E402
from models import Bill, DunningNotice, DunningRun, DunningStage  # noqa: E402
from models.db import make_engine  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

BUILDINGS, PHASES, COLLECTORS, MONTHS = 100, 4, 20, 12
RUNS = 3
PASSWORD = "bench-pass-2026"
SECRET = "bench-secret-" + "x" * 40





# --- the data set ---------------------------------------------------------------------------------------
def build(engine: Engine, units: int, months: list[str]) -> None:
    """Everything in set-based statements over a numbers table; ids are 1… in a fresh database."""
    pg = engine.dialect.name == "postgresql"
    yes, no = "(1 = 1)", "(1 = 0)"  # a boolean on PostgreSQL, 1/0 on SQLite
    with Session(engine) as s, s.begin():
        load_reference(s)
        add_user(s, username="bench", password=PASSWORD, superuser=True)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE bench_n (i INTEGER PRIMARY KEY)"))
        if pg:
            c.execute(text("INSERT INTO bench_n SELECT generate_series(1, :n)"), {"n": units})
        else:
            c.execute(text("INSERT INTO bench_n WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                           "WHERE i < :n) SELECT i FROM c"), {"n": units})
        c.execute(text("INSERT INTO branch (name, company) VALUES ('基准分公司', '基准物业服务有限公司')"))
        c.execute(text("INSERT INTO project (branch_id, name, kind, address, phone, company) "
                       "VALUES (1, '基准小区', 'residential', '上海市基准路1号', '021-50000000', '基准物业服务有限公司')"))
        c.execute(text("INSERT INTO phase (project_id, name) SELECT 1, i || '期' FROM bench_n WHERE i <= :n"), {"n": PHASES})
        c.execute(text("INSERT INTO building (project_id, phase_id, name, floors) "
                       "SELECT 1, 1 + (i - 1) % :p, i || '栋', 30 FROM bench_n WHERE i <= :n"), {"p": PHASES, "n": BUILDINGS})
        c.execute(text(f"INSERT INTO staff (project_id, employee_no, name, phone, position, active) "
                       f"SELECT 1, 'C' || i, '收费员' || i, '', 'cashier', {yes} FROM bench_n WHERE i <= :n"),
                  {"n": COLLECTORS})
        per_building = -(-units // BUILDINGS)
        c.execute(text(
            "INSERT INTO unit (project_id, building_id, room_no, kind, status, area, collector_id, key_tenant) "
            "SELECT 1, 1 + (i - 1) / :per, CAST(1 + (i - 1) % :per AS VARCHAR(32)), 'house', 'occupied', "
            "CAST(50 + i % 101 AS NUMERIC(10, 2)) + 0.5, 1 + i % :col, (i % 100 = 0) FROM bench_n"),
            {"per": per_building, "col": COLLECTORS})
        c.execute(text(f"INSERT INTO customer (project_id, name, kind, phone, id_number, vip, emergency_contact, note) "
                       f"SELECT 1, '业主' || i, 'person', '138' || CAST(10000000 + i AS VARCHAR(16)), '', {no}, '', '' "
                       f"FROM bench_n"))
        c.execute(text(f"INSERT INTO unit_customer (project_id, unit_id, customer_id, relation, is_primary) "
                       f"SELECT 1, i, i, 'owner', {yes} FROM bench_n"))
        c.execute(text("INSERT INTO fee_type (project_id, name, basis, rate, due_day, active) "
                       f"VALUES (1, '物业管理费', 'per_area', 2.50, 1, {yes})"))
        c.execute(text("CREATE TABLE bench_month (k INTEGER PRIMARY KEY, period VARCHAR(7), due DATE)"))
        for k, period in enumerate(months, start=1):
            c.execute(text("INSERT INTO bench_month VALUES (:k, :p, :d)"),
                      {"k": k, "p": period, "d": dt.date(int(period[:4]), int(period[5:]), 1)})
        # One unit in six owes something; such a unit leaves three months in five unpaid: ~10 % of the bills.
        unpaid = "(u.id % 6 = 0 AND (u.id * 7 + m.k * 3) % 5 < 3)"
        c.execute(text(
            "INSERT INTO bill (project_id, unit_id, customer_id, fee_type_id, period, amount_due, amount_paid, "
            "due_date, status, collector_id) "
            f"SELECT 1, u.id, u.id, 1, m.period, ROUND(u.area * 2.50, 2), "
            f"CASE WHEN {unpaid} THEN 0 ELSE ROUND(u.area * 2.50, 2) END, m.due, "
            f"CASE WHEN {unpaid} THEN 'unpaid' ELSE 'paid' END, u.collector_id "
            "FROM unit u CROSS JOIN bench_month m WHERE u.project_id = 1"))
        c.execute(text("DROP TABLE bench_month"))
        c.execute(text("DROP TABLE bench_n"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))


# --- the operations -----------------------------------------------------------------------------------------
HAND_WRITTEN = """
INSERT INTO dunning_notice (run_id, project_id, unit_id, customer_id, cycle, stage, amount, months_in_arrears,
                            oldest_period, pay_by, signed_by, note, created_at, updated_at)
SELECT :run, 1, b.unit_id,
       (SELECT uc.customer_id FROM unit_customer uc WHERE uc.unit_id = b.unit_id AND uc.end_date IS NULL
        ORDER BY uc.is_primary DESC, uc.id LIMIT 1),
       :cycle, '1', SUM(b.amount_due - b.amount_paid),
       -- 欠费月数: the months with a bill owing at least 0.50 元 (billing.months_in_arrears)
       COUNT(DISTINCT CASE WHEN b.amount_due - b.amount_paid >= 0.50 THEN b.period END),
       COALESCE(MIN(CASE WHEN b.amount_due - b.amount_paid >= 0.50 THEN b.period END), MIN(b.period)), :pay_by, '', '',
       :now, :now
FROM bill b
WHERE b.project_id = 1 AND b.status IN ('unpaid', 'partial') AND b.due_date < :as_of
GROUP BY b.unit_id
ON CONFLICT (unit_id, cycle, stage) DO NOTHING
"""


def hand_written(engine: Engine, as_of: dt.date) -> int:
    """The same notices by one INSERT … SELECT (plus its run row), committed; returns the rows inserted."""
    with Session(engine) as s, s.begin():
        return _hand(s, as_of)


def _hand(s: Session, as_of: dt.date) -> int:
    cycle = f"{as_of:%Y-%m}"
    run = DunningRun(project_id=1, run_key=f"bench-hand-{time.time_ns()}", cycle=cycle, stage=DunningStage.FIRST,
                     as_of=as_of, scope_note="bench")
    s.add(run)
    s.flush()
    return s.execute(text(HAND_WRITTEN).execution_options(preserve_rowcount=True), {
        "run": run.id, "cycle": cycle, "pay_by": pay_by(DunningStage.FIRST, as_of), "as_of": as_of,
        "now": dt.datetime.now(dt.UTC).replace(tzinfo=None) if s.get_bind().dialect.name == "sqlite"
        else dt.datetime.now(dt.UTC),
    }).rowcount


# PostgreSQL: the audit table's index layouts the action is also run against, made in its transaction (rolled back)
AUDIT_LAYOUTS = {
    "action": [],
    "action, 操作人 by n-grams as before d1a7c3e5f9b2": AUDIT_ACTOR_NGRAMS,
    "action, no audit search index (floor)": AUDIT_UNSEARCHED,
}


def _cpu(engine: Engine, work, ddl: list[str]) -> tuple[float, float]:
    """CPU seconds (this process + the PostgreSQL backend; the backend's) of ``work(session)`` in a transaction
    rolled back, after ``ddl`` in the same transaction."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM dunning_notice, dunning_run, audit_log, audit_actor"))
    with Session(engine) as s:
        s.begin()
        for statement in ddl:
            s.execute(text(statement))
        b0, c0 = backend_cpu(s), time.process_time()
        work(s)
        backend = backend_cpu(s) - b0
        spent = time.process_time() - c0 + backend
        s.rollback()
    return spent, backend


def interleaved_cpu(engine: Engine, label: str, as_of: dt.date, rounds: int) -> None:
    """The hand-written INSERT … SELECT and the action under each audit layout, round by round: CPU medians."""
    undo_notices(engine)
    action = lambda s: issue_dunning(s, stage=1, as_of=as_of, scope=DunningScope(project_id=1), actor=SYSTEM)  # noqa: E731
    hand: list[tuple[float, float]] = []
    spent: dict[str, list[tuple[float, float]]] = {name: [] for name in AUDIT_LAYOUTS}
    for _ in range(rounds):
        hand.append(_cpu(engine, lambda s: _hand(s, as_of), []))
        for name, ddl in AUDIT_LAYOUTS.items():
            spent[name].append(_cpu(engine, action, ddl))
    print(f"[{label}] CPU, {rounds} interleaved rounds, load average {load_average()}", flush=True)
    for whose, i in (("this process + backend", 0), ("backend only", 1)):
        h = statistics.median(v[i] for v in hand)
        print(f"[{label}]  {whose}: hand-written INSERT … SELECT median {h:.2f} s", flush=True)
        for name, values in spent.items():
            m = statistics.median(v[i] for v in values)
            print(f"[{label}]   {name}: median {m:.2f} s = {m / h:.2f}×   runs "
                  + ", ".join(f"{v[i] / b[i]:.2f}×" for v, b in zip(values, hand, strict=True)), flush=True)


def undo_notices(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        s.execute(DunningNotice.__table__.delete())
        s.execute(DunningRun.__table__.delete())


def through_action(engine: Engine, as_of: dt.date):
    with Session(engine) as s, s.begin():
        return issue_dunning(s, stage=1, as_of=as_of, scope=DunningScope(project_id=1), actor=SYSTEM)


def page_times(client: TestClient, url: str) -> list[float]:
    times = []
    for _ in range(RUNS):
        t, response = seconds(lambda: client.get(url))
        assert response.status_code == 200, (url, response.status_code, response.text[:500])
        times.append(t)
    return times



def run(label: str, engine: Engine, units: int, rounds: int = 0) -> dict[str, float]:
    gen_period = current_period()
    months = [add_months(gen_period, -k) for k in range(MONTHS, 0, -1)]
    last = months[-1]
    as_of = dt.date(int(last[:4]), int(last[5:]), 5)
    figures: dict[str, float] = {}

    t, _ = seconds(lambda: build(engine, units, months))
    with Session(engine) as s:
        bills = s.scalar(select(func.count()).select_from(Bill))
        unpaid = s.scalar(select(func.count()).where(Bill.status == "unpaid"))
    print(f"[{label}] built {units:,} units, {bills:,} bills ({unpaid / bills:.1%} unpaid) in {t:.0f} s", flush=True)

    def generate():
        with Session(engine) as s, s.begin():
            return generate_bills(s, project_id=1, period=gen_period, actor=SYSTEM)

    figures["generate"], result = seconds(generate)
    print(f"[{label}] 生成账单 {gen_period}: {result.created:,} bills in {figures['generate']:.2f} s", flush=True)

    hand_written(engine, as_of)  # warm-up, undone
    undo_notices(engine)
    if engine.dialect.name == "postgresql" and rounds:  # before the app's threads, which this process's CPU would count
        interleaved_cpu(engine, label, as_of, rounds)
    figures["hand"], n = seconds(lambda: hand_written(engine, as_of))
    undo_notices(engine)
    figures["dunning"], outcome = seconds(lambda: through_action(engine, as_of))
    assert outcome.issued == n, (outcome.issued, n)
    print(f"[{label}] 第一次催缴 as of {as_of}: {outcome.issued:,} notices, {outcome.total_amount} 元 — action "
          f"{figures['dunning']:.2f} s vs hand-written INSERT … SELECT {figures['hand']:.2f} s "
          f"= {figures['dunning'] / figures['hand']:.2f}×", flush=True)

    for group in ("project", "building", "collector"):
        def report(group=group):
            with Session(engine) as s:
                return collection_rate(s, actor=SYSTEM, period_from=last, group_by=group)

        figures[f"rate_{group}"], rep = seconds(report)
        total = rep.totals[0]
        print(f"[{label}] 收费率 {last} by {group}: {len(rep.rows)} rows, {total.amount_rate} % by amount, "
              f"{total.household_rate} % by household, in {figures[f'rate_{group}']:.2f} s", flush=True)

    app = create_app(engine, secret_key=SECRET)
    with TestClient(app, base_url="http://testserver") as client:
        login(client, "bench", PASSWORD)
        for name, url in (
            ("arrears_page1", f"/admin/arrears?as_of={as_of}"),
            ("arrears_filtered", f"/admin/arrears?as_of={as_of}&building_id=7&min_months=2"),
            ("arrears_last_page", f"/admin/arrears?as_of={as_of}&page=800"),
        ):
            times = page_times(client, url)
            figures[name] = statistics.median(times)
            print(f"[{label}] 欠费账龄 {name}: first {times[0]:.2f} s, median of {RUNS} {figures[name]:.2f} s", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_dunning")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=3,
                        help="PostgreSQL: interleaved rounds of the hand-written INSERT … SELECT and the action under "
                             "each audit index layout, by CPU (0: none)")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.pg_only:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            migrate(engine)
            results["SQLite"] = run("SQLite", engine, args.units)
            engine.dispose()
    if not args.sqlite_only:
        engine = make_engine(fresh_postgres(args.pg))
        migrate(engine)
        results["PostgreSQL"] = run("PostgreSQL", engine, args.units, args.rounds)
        engine.dispose()

    print("\n== summary (seconds) ==")
    keys = list(next(iter(results.values())))
    print(f"{'':22}" + "".join(f"{name:>12}" for name in results))
    for key in keys:
        print(f"{key:22}" + "".join(f"{r[key]:12.2f}" for r in results.values()))
    for name, r in results.items():
        verdict = "within" if r["dunning"] <= 2 * r["hand"] else "NOT within"
        print(f"{name}: dunning action / hand-written INSERT … SELECT = {r['dunning'] / r['hand']:.2f}× ({verdict} 2×)")


if __name__ == "__main__":
    main()
