"""Benchmark of 计算月度考核 (issue 6).

Builds 500 employees in 20 projects with 100,000 score events in one month, plus the records events are
derived from (complaints, praise, work orders, callbacks), in a temporary SQLite file and in the PostgreSQL
database named by ``--pg`` (dropped and recreated: give it a database of its own). Then times, on each database:

- the compute action (``actions.scores.compute_scores``, all 20 projects): a first compute, which derives the
  events from the records and writes every score (timed in a transaction that first removes what the computes
  before wrote, then rolls back), and recomputes of the draft month with nothing changed;
- the hand-written ``GROUP BY`` the breakdown needs (the month's points per employee and rule), and those per
  employee and per employee and category, each over the month of the 20 projects as the action reads it;
- the write floor of a first compute: storing again the rows it writes (its derived events, the month rows, the
  scores) — with what the database adds to the kept totals of the events (``score_total``) — the same without that
  (the floor before the totals were kept), and the same with the audit rows it wrote;
- the reads a first compute cannot skip besides that GROUP BY: finding the events the records call for
  (``actions.scores.derived_pending`` with no derived event held, as before a first compute);

and prints medians of interleaved runs, wall and CPU (this process's plus the PostgreSQL backend's: the machine is
shared, and load inflates wall times far more), the ratios issue 17 asks for (recompute ≤ 1.5× the GROUP BY staff,
rule; first compute ≤ 1.5× its write floor) and the load average. The write floor is the bare INSERT … SELECT of
the rows a first compute writes (its derived events, month rows and scores) from copies of them. On PostgreSQL
each timed run starts from vacuumed tables (``settle``), as autovacuum leaves them between two computes.

    /work/venv/bin/python bench/scores.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_scores]
                                          [--sqlite-only | --pg-only] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, TextClause, bindparam, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import cpu_seconds, fresh_postgres, load_average, migrate  # noqa: E402  (the benchmarks' shared helpers)

import actions  # noqa: E402,F401  (audit hook)
from actions.actor import SYSTEM  # noqa: E402
from actions.kernel.periods import parse_month  # noqa: E402
from actions.scores import compute_scores, derived_pending  # noqa: E402
from models import (  # noqa: E402
    SHANGHAI,
    Branch,
    Department,
    EventSource,
    Project,
    RequestKind,
    Satisfaction,
    ScoreEvent,
    ScoringRule,
    ServiceRequest,
    Staff,
    StaffPosition,
    Visit,
    VisitKind,
    WorkOrder,
)
from models.db import make_engine  # noqa: E402
from models.totals import SCORE_TOTAL  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

MONTH = "2026-10"
FIRST, NEXT = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
PROJECTS, STAFF, EVENTS = 20, 500, 100_000
COMPLAINTS, PRAISES, ORDERS, CALLBACKS = 3_000, 1_000, 10_000, 5_000
RUNS = 7
# Scoped to the projects as the action's sums are: SQLite then reads the month from the covering index too.
MONTH_RANGE = "WHERE {e}project_id IN :projects AND {e}event_date >= :first AND {e}event_date < :next"


def _month_sql(sql: str) -> TextClause:
    return text(sql).bindparams(bindparam("projects", expanding=True))


# The yardstick: one hand-written GROUP BY totalling the month's points per employee.
BASELINE = _month_sql(f"SELECT staff_id, SUM(points) FROM score_event {MONTH_RANGE.format(e='')} GROUP BY staff_id")
# What the action's breakdown is built from: each employee's points and events by rule, in one pass.
BY_RULE = _month_sql(f"SELECT staff_id, rule_id, SUM(points), COUNT(*) FROM score_event {MONTH_RANGE.format(e='')} "
                     "GROUP BY staff_id, rule_id")
# The same read from the totals the database keeps (score_total), as the action reads it now.
BY_RULE_KEPT = _month_sql("SELECT staff_id, rule_id, SUM(points), SUM(events) FROM score_total WHERE project_id IN "
                          f":projects AND month = '{MONTH}' AND events <> 0 GROUP BY staff_id, rule_id")
# The same, written to give what the action stores too: each employee's points by rule category.
BY_CATEGORY = _month_sql(
    "SELECT e.staff_id, r.category, SUM(e.points) FROM score_event e JOIN scoring_rule r ON r.id = e.rule_id "
    f"{MONTH_RANGE.format(e='e.')} GROUP BY e.staff_id, r.category"
)




def moment(rng: random.Random) -> dt.datetime:
    """A random moment of the month, Beijing time."""
    day = FIRST + dt.timedelta(days=rng.randrange((NEXT - FIRST).days))
    return dt.datetime.combine(day, dt.time(rng.randrange(8, 20), rng.randrange(60)), SHANGHAI)


def analyse(engine: Engine) -> None:
    """What autovacuum does after a bulk load, and on SQLite the pool's statistics upkeep (models.db): full
    statistics, also on a database kept from a run before (``--keep``). A SQLite file kept through several runs
    still read the month's records ≈ 4× slower than a fresh build (180–218 against 49–51 ms, full statistics or
    not): give figures from a fresh build."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def build(engine: Engine) -> dict[str, int]:
    rng = random.Random(6)
    migrate(engine)
    with Session(engine) as session, session.begin():
        load_reference(session)
        branch = Branch(name="基准分公司")
        session.add(branch)
        session.flush()
        session.execute(insert(Project), [{"branch_id": branch.id, "name": f"基准项目{i:02d}"} for i in range(PROJECTS)])
        projects = session.scalars(select(Project.id).order_by(Project.id)).all()
        positions = (StaffPosition.FRONT_DESK, StaffPosition.BUTLER, StaffPosition.CASHIER)
        session.execute(insert(Staff), [
            {"project_id": projects[i % PROJECTS], "employee_no": f"B{i:04d}", "name": f"员工{i:03d}",
             "position": positions[i % 3]}
            for i in range(STAFF)
        ])
        staff = session.execute(select(Staff.id, Staff.project_id)).all()
        rules = session.execute(
            select(ScoringRule.id, ScoringRule.points_min, ScoringRule.points_max)
            .where(ScoringRule.source == EventSource.MANUAL, ScoringRule.valid_to.is_(None))
        ).all()

        def points(lo: Decimal, hi: Decimal) -> Decimal:
            steps = int((hi - lo) / Decimal("0.5"))
            return lo + Decimal("0.5") * rng.randint(0, steps)

        events = []
        for _ in range(EVENTS):
            staff_id, project_id = rng.choice(staff)
            rule_id, lo, hi = rng.choice(rules)
            events.append({"project_id": project_id, "staff_id": staff_id, "rule_id": rule_id,
                           "event_date": FIRST + dt.timedelta(days=rng.randrange(31)), "points": points(lo, hi),
                           "source": EventSource.MANUAL})
        session.execute(insert(ScoreEvent), events)

        def request(kind: RequestKind, **extra) -> dict:
            staff_id, project_id = rng.choice(staff)
            return {"project_id": project_id, "kind": kind, "received_at": moment(rng), "content": "基准", **extra,
                    "_staff": staff_id}

        complaints = [request(RequestKind.COMPLAINT, complaint_validity="valid" if rng.random() < 0.6 else "invalid") for _ in range(COMPLAINTS)]
        for row in complaints:
            named = row.pop("_staff")
            row["complained_staff_id"] = named if rng.random() < 0.8 else None
        praises = [request(RequestKind.PRAISE) for _ in range(PRAISES)]
        for row in praises:
            row["praised_staff_id"] = row.pop("_staff")
        repairs = [request(RequestKind.REPAIR_PRIVATE) for _ in range(ORDERS)]
        for row in repairs:
            row.pop("_staff")
        session.execute(insert(ServiceRequest), complaints + praises + repairs)
        repair_ids = session.execute(
            select(ServiceRequest.id, ServiceRequest.project_id, ServiceRequest.received_at)
            .where(ServiceRequest.kind == RequestKind.REPAIR_PRIVATE)
        ).all()
        by_project: dict[int, list[int]] = {}
        for staff_id, project_id in staff:
            by_project.setdefault(project_id, []).append(staff_id)
        engineering = session.scalar(select(Department.id).where(Department.name == "工程部"))
        orders = []
        for request_id, project_id, received in repair_ids:
            due = received + dt.timedelta(hours=24)
            roll = rng.random()  # 70 % done in time, 20 % late, 10 % still open
            done = due - dt.timedelta(hours=2) if roll < 0.7 else due + dt.timedelta(hours=5) if roll < 0.9 else None
            orders.append({"project_id": project_id, "request_id": request_id, "department_id": engineering,
                           "assignee_id": rng.choice(by_project[project_id]), "dispatched_at": received,
                           "respond_due_at": received + dt.timedelta(minutes=30), "complete_due_at": due,
                           "completed_at": done})
        session.execute(insert(WorkOrder), orders)
        done_orders = session.execute(
            select(WorkOrder.id, WorkOrder.project_id, WorkOrder.completed_at).where(WorkOrder.completed_at.is_not(None))
        ).all()
        session.execute(insert(Visit), [
            {"project_id": project_id, "kind": VisitKind.REPAIR, "work_order_id": order_id,
             "visited_at": completed + dt.timedelta(hours=20),
             "result": Satisfaction.UNSATISFIED if rng.random() < 0.1 else Satisfaction.SATISFIED}
            for order_id, project_id, completed in rng.sample(done_orders, CALLBACKS)
        ])
    analyse(engine)
    return {"projects": PROJECTS, "staff": STAFF, "events": EVENTS, "complaints": COMPLAINTS,
            "praises": PRAISES, "work_orders": ORDERS, "callbacks": CALLBACKS}


Timing = tuple[float, float]  # wall seconds, CPU seconds (process + PostgreSQL backend)


def _unwritten(session: Session) -> None:
    """The month as before its first compute: what computes wrote removed (untimed; the caller rolls back)."""
    for table in ("monthly_score", "score_month"):
        session.execute(text(f"DELETE FROM {table}"))
    session.execute(text("DELETE FROM score_event WHERE source <> 'manual'"))


def compute(engine: Engine, first: bool = False) -> tuple[Timing, object]:
    """A compute of the month; ``first``: as the month's first, rolled back afterwards."""
    with Session(engine) as session, session.begin():
        if first:
            _unwritten(session)
        conn = session.connection()
        t0, c0 = time.perf_counter(), cpu_seconds(conn)
        result = compute_scores(session, month=MONTH, actor=SYSTEM)
        session.flush()
        timing = (time.perf_counter() - t0, cpu_seconds(conn) - c0)
        if first:
            session.rollback()
    return timing, result


def derive_reads(engine: Engine) -> Timing:
    """Finding the events the records call for, before a first compute (rolled back)."""
    with Session(engine) as session, session.begin():
        _unwritten(session)
        ids = session.scalars(select(Project.id).order_by(Project.id)).all()
        conn = session.connection()
        t0, c0 = time.perf_counter(), cpu_seconds(conn)
        derived_pending(session, parse_month(MONTH), list(ids))
        timing = (time.perf_counter() - t0, cpu_seconds(conn) - c0)
        session.rollback()
    return timing


def group_by(engine: Engine, sql=BASELINE) -> Timing:
    with engine.connect() as conn:
        projects = conn.scalars(select(Project.id)).all()
        t0, c0 = time.perf_counter(), cpu_seconds(conn)
        conn.execute(sql, {"projects": projects, "first": FIRST, "next": NEXT}).all()
        return time.perf_counter() - t0, cpu_seconds(conn) - c0


# What a first compute writes (its rows copied, then written again): each table's columns and the rows of it.
WRITTEN = {
    "score_event": ("staff_id, event_date, rule_id, points, note, source, source_id, project_id, created_at, updated_at",
                    "source <> 'manual'"),
    "score_month": ("project_id, month, status, base_score, spot_check_note, inputs_changed, computed_at, created_at, "
                    "updated_at, version", "true"),
    "monthly_score": ("project_id, staff_id, month, base_score, deductions, additions, total, rank, grade, "
                      "by_category, event_count", "true"),
}
AUDIT = "at, actor_id, actor_name, source, kind, table_name, record_id, project_id, summary, changes, ip"


def _write_again(engine: Engine, audit_ids: tuple[int, int] | None, totals: bool = True) -> tuple[Timing, int]:
    """The rows a first compute writes — its derived events, the month rows and the scores — and, with
    ``audit_ids`` (the first id and last id of those the first compute wrote), its audit rows: copied, removed,
    then stored again by one INSERT … SELECT per table, with the tables' indexes and foreign keys, nothing read
    from the records; timed together and rolled back. Without ``totals``, the kept totals' triggers stand aside."""
    with engine.connect() as conn, conn.begin() as tx:
        for table, (columns, which) in WRITTEN.items():
            conn.execute(text(f"CREATE TEMPORARY TABLE copy_{table} AS SELECT {columns} FROM {table} WHERE {which}"))
        if audit_ids:
            conn.execute(text(f"CREATE TEMPORARY TABLE copy_audit AS SELECT {AUDIT} FROM audit_log "
                              "WHERE id BETWEEN :lo AND :hi"), {"lo": audit_ids[0], "hi": audit_ids[1]})
        for table in ("monthly_score", "score_month", "score_event"):
            conn.execute(text(f"DELETE FROM {table} WHERE {WRITTEN[table][1]}"))
        with contextlib.nullcontext() if totals else SCORE_TOTAL.changed_by(conn, dict):
            t0, c0 = time.perf_counter(), cpu_seconds(conn)
            count = 0
            for table, (columns, _) in WRITTEN.items():
                count += conn.execute(text(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM copy_{table}")).rowcount
            if audit_ids:
                count += conn.execute(text(f"INSERT INTO audit_log ({AUDIT}) SELECT {AUDIT} FROM copy_audit")).rowcount
            timing = (time.perf_counter() - t0, cpu_seconds(conn) - c0)
        tx.rollback()
    return timing, count


def write_floor(engine: Engine) -> tuple[Timing, int]:
    """The least a first compute must write: its derived events, month rows and scores (see ``_write_again``)."""
    return _write_again(engine, None)


def audited_floor(engine: Engine, audit_ids: tuple[int, int]) -> tuple[Timing, int]:
    """The same with the audit rows the first compute wrote (``audit_ids``: the first and the last)."""
    return _write_again(engine, audit_ids)


def settle(engine: Engine) -> None:
    """What autovacuum does between two computes on a live server (it is off on this machine's server): the dead
    rows each rolled-back run leaves — thousands of derived events, totals, scores and audit rows, with the same
    keys every time — are cleared before the next, which would otherwise probe them in every unique index and
    scan them in every read. (A month's first compute meets none of them; SQLite's rollback leaves none.)"""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM score_event, score_total, score_month, monthly_score, audit_log, audit_actor, "
                              "operation_log"))


def _built(url: str) -> bool:
    """Does the database at ``url`` hold what :func:`build` makes (a run with ``--keep`` before)?"""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.dialect.has_table(conn, "score_event") and conn.scalar(
                text("SELECT count(*) FROM score_event WHERE source = 'manual'")) == EVENTS
    except OperationalError:  # no such database yet
        return False
    finally:
        engine.dispose()


def run(label: str, engine: Engine, built: bool = False) -> None:
    t0 = time.perf_counter()
    if built:
        print(f"\n== {label}: the database a previous run built, reused")
        analyse(engine)
    else:
        sizes = build(engine)
        print(f"\n== {label}: built in {time.perf_counter() - t0:.1f} s: {sizes}")
    group_by(engine)  # warm the cache for all
    with Session(engine) as session, session.begin():
        _unwritten(session)  # a database kept from a run before: its month as the build leaves it
        last = session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log"))
    _, result = compute(engine)
    with engine.connect() as conn:
        audit_ids = (last + 1, conn.scalar(text("SELECT max(id) FROM audit_log")))
        audit_rows = conn.scalar(text("SELECT count(*) FROM audit_log WHERE id BETWEEN :lo AND :hi"),
                                 {"lo": audit_ids[0], "hi": audit_ids[1]})
    floor_rows = write_floor(engine)[1]
    print(f"first compute derives {result.derived_added} events from the records; "
          f"{result.scored} employees scored, {result.events} events counted")
    # Interleaved, so load from other processes on the machine weighs on all alike.
    runs = {
        "first": lambda: compute(engine, first=True)[0],
        "recompute": lambda: compute(engine)[0],
        "by_rule": lambda: group_by(engine, BY_RULE),
        "by_rule_kept": lambda: group_by(engine, BY_RULE_KEPT),
        "by_staff": lambda: group_by(engine),
        "by_category": lambda: group_by(engine, BY_CATEGORY),
        "floor": lambda: write_floor(engine)[0],
        "untotalled": lambda: _write_again(engine, None, totals=False)[0],
        "audited": lambda: audited_floor(engine, audit_ids)[0],
        "derive_reads": lambda: derive_reads(engine),
    }
    times: dict[str, list[Timing]] = {k: [] for k in runs}
    for _ in range(RUNS):
        for name, fn in runs.items():
            settle(engine)
            times[name].append(fn())
    wall = {k: statistics.median(w for w, _ in v) * 1000 for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) * 1000 for k, v in times.items()}

    def line(label: str, key: str) -> None:
        print(f"  {label:<62} {wall[key]:6.0f} {cpu[key]:6.0f}")

    print(f"medians of {RUNS} interleaved runs, load average {load_average()}:{'wall ms':>21} {'CPU ms':>6}")
    line("first compute (derives and writes everything)", "first")
    line("recompute of the draft month, nothing changed", "recompute")
    line("GROUP BY staff_id, rule_id (what the breakdown needs)", "by_rule")
    line("the same from the kept totals (score_total)", "by_rule_kept")
    line("GROUP BY staff_id", "by_staff")
    line("GROUP BY staff_id, category", "by_category")
    line("reading the events the records call for (derived_pending)", "derive_reads")
    line(f"write floor: {result.derived_added:,} derived events, {result.scored} scores, {len(result.projects)} "
         f"month rows ({floor_rows:,} rows)", "floor")
    line("the same without adding them to the kept totals (score_total)", "untotalled")
    line(f"the same with the {audit_rows:,} audit rows the first compute wrote", "audited")
    for name, m in (("CPU", cpu), ("wall", wall)):
        # What a first compute cannot do without: write its rows and their trail, read the records once and sum
        # the month once.
        least = m["audited"] + m["by_rule"] + m["derive_reads"]
        print(f"  {name}: recompute = {m['recompute'] / m['by_rule']:.2f}× the GROUP BY staff_id, rule_id (target ≤ 1.5×); "
              f"first compute = {m['first'] / m['floor']:.2f}× its write floor (target ≤ 1.5×); "
              f"its least (rows + audit rows + GROUP BY + record reads = {least:.0f} ms) = {least / m['floor']:.2f}× "
              f"the write floor, the first compute {m['first'] / least:.2f}× that; "
              f"first compute = {m['first'] / m['untotalled']:.2f}× the floor without the totals' upkeep")
        kept = m["audited"] + m["by_rule_kept"] + m["derive_reads"]
        print(f"  {name}: with the totals kept, its least (rows + audit rows + totals read + record reads = {kept:.0f} ms)"
              f" = {kept / m['floor']:.2f}× the write floor, the first compute {m['first'] / kept:.2f}× that")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_scores",
                        help="URL of the PostgreSQL database to drop, recreate and fill")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true")
    only.add_argument("--pg-only", action="store_true")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the SQLite file in DIR and the PostgreSQL database after the run, and time on "
                             "those a previous run built instead of building again (for trying changes: figures "
                             "to report come from a fresh build)")
    args = parser.parse_args()
    if not args.pg_only:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{args.keep or tmp}/bench_scores.db"
            run("SQLite", make_engine(url), built=bool(args.keep) and _built(url))
    if not args.sqlite_only:
        built = bool(args.keep) and _built(args.pg)
        run("PostgreSQL", make_engine(args.pg if built else fresh_postgres(args.pg)), built=built)


if __name__ == "__main__":
    main()
