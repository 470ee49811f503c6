"""Benchmark of 派工 (issue 3): one action dispatching 50,000 pending requests of a project.

Builds one project with 50,000 pending service requests (every kind, category and priority) in a temporary
SQLite file and in the PostgreSQL database ``wuye_bench_dispatch`` (dropped and recreated), with one
set-based INSERT … SELECT each. Then times, on each database, inside a transaction that is rolled back so
every run starts from the same 50,000 pending requests:

- the action ``actions.work_orders.dispatch_requests(project_id=…)``: validation, routing, SLA deadlines,
  the work orders, the requests' status, one audit row per order (it records the request's 已派工 too), the
  operation-log row;
- the equivalent single hand-written INSERT … SELECT creating the same 50,000 work orders (department by
  routing rule, deadlines by SLA rule) and nothing else,

and prints both, the ratio (issue 17 asks for the action within 2× of the INSERT … SELECT) and the load average.
On PostgreSQL each run starts from a vacuumed table, as autovacuum leaves it between two dispatches: the rolled
back rows of the run before would otherwise weigh on the next.

Where the action's time goes, to show its floor: the time of each of its statements (the orders' INSERT, the
requests' status UPDATE, the audit rows' INSERT, the rest), medians over the runs. SQLite runs in this process, so
its CPU time (``time.process_time``) is printed too, in all and by statement: under a shared machine's load it
varies less than the clock. On PostgreSQL the CPU time adds the backend's (read from /proc, the server being on
this machine).
On PostgreSQL a third variant runs in the same rounds: the action with every index of ``service_request`` dropped
(inside the rolled-back transaction) but its primary key and the (project, stage, received_at) index the
dispatch finds pending requests by — what trimming the request indexes could gain at most, for the rows a dispatch
cannot update in place (HOT) for want of room on their page. A fourth variant is the action without the audit rows'
search index: on SQLite the trigger that adds each new audit row to its FTS5 table, on PostgreSQL the GIN indexes of
the searched columns (trigrams and 2-character substrings), dropped inside the rolled-back transaction — that
index's share. And, computed from the same runs, the action less its status UPDATE: what deriving 已派工 from the
open order instead of writing it would leave.

    /work/venv/bin/python bench/dispatch.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_dispatch] [--sqlite-only]
                                            [--pg-only] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import AUDIT_ACTOR_NGRAMS, backend_cpu, fresh_postgres, load_average, migrate  # noqa: E402  (the benchmarks' shared helpers)

import actions  # noqa: E402,F401  (audit hook)
from actions.actor import Actor  # noqa: E402
from actions.work_orders import dispatch_requests  # noqa: E402
from models import (  # noqa: E402
    AuditLog,
    Branch,
    Building,
    Project,
    ServiceRequest,
    Unit,
    User,
    WorkOrder,
    utcnow,
)
from models.base import search_table  # noqa: E402
from models.db import make_engine  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

REQUESTS = 50_000
UNITS = 2_000

# 50,000 pending requests over the units; kind, category and priority cycle so every routing and SLA rule is
# used; received over the last 12 hours.
_COLUMNS = (
    "project_id, channel, kind, category, priority, status, stage, unit_id, contact_name, contact_phone, content, "
    "received_at, complaint_major, reply, created_at, updated_at, version"
)
_VALUES = (
    ":project, 'phone', "
    "(CASE i % 7 WHEN 0 THEN 'repair_private' WHEN 1 THEN 'repair_public' WHEN 2 THEN 'complaint' "
    " WHEN 3 THEN 'inquiry' WHEN 4 THEN 'help' WHEN 5 THEN 'suggestion' ELSE 'praise' END), "
    "(CASE i % 12 WHEN 0 THEN 'plumbing' WHEN 1 THEN 'building' WHEN 2 THEN 'elevator' WHEN 3 THEN 'security' "
    " WHEN 4 THEN 'parking' WHEN 5 THEN 'noise' WHEN 6 THEN 'cleaning' WHEN 7 THEN 'greening' WHEN 8 THEN 'fees' "
    " WHEN 9 THEN 'service' WHEN 10 THEN 'defect' ELSE 'other' END), "
    "(CASE i % 4 WHEN 0 THEN 'urgent' WHEN 1 THEN 'high' WHEN 2 THEN 'normal' ELSE 'low' END), "
    "'pending', 'open', :first_unit + i % :units, '业主', '1380000' || (1000 + i % 9000), '基准诉求', {received}, "
    "false, '', :now, :now, 1"
)
BUILD = {
    "sqlite": text(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
        f"INSERT INTO service_request ({_COLUMNS}) SELECT "
        + _VALUES.format(received="strftime('%Y-%m-%d %H:%M:%f000', :now, printf('-%d minutes', i % 720))")
        + " FROM n"
    ),
    "postgresql": text(
        f"INSERT INTO service_request ({_COLUMNS}) SELECT "
        + _VALUES.format(received="CAST(:now AS timestamptz) - make_interval(mins => i % 720)")
        + " FROM generate_series(1, :count) AS i"
    ),
}

# The same work orders in one statement: department by routing rule (shared departments), deadlines by the
# default SLA rule, counted from 受理时间.
_DEADLINE = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%S', sr.received_at, printf('+%d minutes', {minutes})) "
              "|| substr(sr.received_at, 20)",
    "postgresql": "sr.received_at + make_interval(mins => {minutes})",
}
BASELINE = (
    "INSERT INTO work_order (project_id, request_id, department_id, assignee_id, priority, status, dispatched_at, "
    "dispatched_by_id, respond_due_at, complete_due_at, result, paid_service, quote, quote_accepted, charge, "
    "reopen_count, reassign_note, created_at, updated_at, version) "
    "SELECT sr.project_id, sr.id, d.id, NULL, sr.priority, 'dispatched', :now, :user, {respond}, {complete}, "
    "'', false, 0, false, 0, 0, '', :now, :now, 1 "
    "FROM service_request sr "
    "JOIN routing_rule rr ON rr.category = sr.category "
    "JOIN department d ON d.kind = rr.department_kind AND d.project_id IS NULL AND d.active "
    "JOIN sla_rule s ON s.kind = sr.kind AND s.priority = sr.priority AND s.project_id IS NULL "
    "WHERE sr.project_id = :project AND sr.status = 'pending'"
)


def baseline_sql(dialect: str) -> str:
    deadline = _DEADLINE[dialect]
    return BASELINE.format(respond=deadline.format(minutes="s.respond_minutes"),
                           complete=deadline.format(minutes="s.complete_hours * 60"))




def build(engine: Engine) -> dict[str, int]:
    migrate(engine)
    with Session(engine) as session, session.begin():
        load_reference(session)
        branch = Branch(name="基准分公司")
        project = Project(name="基准项目", branch=branch)
        building = Building(project=project, name="1栋")
        user = User(username="dispatcher", display_name="派工主管", password_hash="-")
        session.add_all([branch, project, building, user])
        session.flush()
        session.execute(
            Unit.__table__.insert(),
            [{"project_id": project.id, "building_id": building.id, "room_no": f"{i:05d}", "kind": "house",
              "status": "occupied", "area": 90, "key_tenant": False} for i in range(UNITS)],
        )
        first_unit = session.scalar(select(func.min(Unit.id)))
        session.execute(BUILD[engine.dialect.name], {
            "count": REQUESTS, "project": project.id, "first_unit": first_unit, "units": UNITS, "now": utcnow(),
        })
        ids = {"project": project.id, "user": user.id}
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
    return ids


def vacuum(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE service_request, work_order, audit_log"))


# The action's statements by what they write; any other statement (its reads, the operation log) is "other".
PARTS = {"orders": "INSERT INTO work_order", "statuses": "UPDATE service_request", "audit": "INSERT INTO audit_log"}


@contextmanager
def statement_times(engine: Engine) -> Iterator[tuple[dict[str, float], dict[str, float]]]:
    """Seconds spent in each part's statements while the block runs (the clock around each cursor execute), and
    this process's CPU seconds in them (SQLite's work: it runs in this process)."""
    spent = dict.fromkeys((*PARTS, "other"), 0.0)
    spent_cpu = dict.fromkeys((*PARTS, "other"), 0.0)
    started: list[tuple[float, float]] = []

    def before(*_: object) -> None:
        started.append((time.perf_counter(), time.process_time()))

    def after(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        part = next((name for name, head in PARTS.items() if statement.lstrip().startswith(head)), "other")
        t0, cpu0 = started.pop()
        spent[part] += time.perf_counter() - t0
        spent_cpu[part] += time.process_time() - cpu0

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent, spent_cpu
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def trimmable_request_indexes(engine: Engine) -> list[str]:
    """PostgreSQL statements dropping every index of service_request but its primary key and the
    (project, stage, received_at) index a dispatch selects the pending requests by."""
    with engine.connect() as conn:
        kept = {"pk_service_request", "ix_service_request_project_id_stage_received_at"}
        constraints = set(conn.scalars(text(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'service_request'::regclass AND contype = 'u'")))
        names = conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'service_request'")).all()
    return [f"ALTER TABLE service_request DROP CONSTRAINT {n}" if n in constraints else f"DROP INDEX {n}"
            for n in sorted(set(names) - kept)]


def audit_search_indexes(engine: Engine) -> list[str]:
    """PostgreSQL statements dropping the audit rows' search indexes: every GIN index of audit_log."""
    with engine.connect() as conn:
        names = conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log' "
                                  "AND indexdef LIKE '%USING gin%'")).all()
    return [f"DROP INDEX {name}" for name in sorted(names)]


def timed_baseline(engine: Engine, ids: dict[str, int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process and the PostgreSQL backend, orders created)."""
    vacuum(engine)
    with engine.connect() as conn:
        trans = conn.begin()
        b0 = backend_cpu(conn)
        t0, cpu0 = time.perf_counter(), time.process_time()
        conn.execute(text(baseline_sql(engine.dialect.name)), {"now": utcnow(), **ids})
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        cpu += backend_cpu(conn) - b0
        created = conn.scalar(select(func.count()).select_from(WorkOrder))
        trans.rollback()
    return elapsed, cpu, created


def timed_action(engine: Engine, ids: dict[str, int], drops: Sequence[str] = ()
                 ) -> tuple[float, float, dict[str, float], dict[str, float], int, int]:
    """(wall seconds, CPU seconds of this process and the PostgreSQL backend, each part's wall and process CPU
    seconds, orders created, audit rows written)."""
    actor = Actor(user_id=ids["user"], name="派工主管", project_ids=frozenset({ids["project"]}), source="bench")
    vacuum(engine)
    with Session(engine) as session:
        session.begin()
        for statement in drops:  # rolled back with the rest
            session.execute(text(statement))
        audit_before = session.scalar(select(func.count()).select_from(AuditLog))
        b0 = backend_cpu(session)
        with statement_times(engine) as (parts, parts_cpu):
            t0, cpu0 = time.perf_counter(), time.process_time()
            result = dispatch_requests(session, project_id=ids["project"], actor=actor)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        cpu += backend_cpu(session) - b0
        audit = session.scalar(select(func.count()).select_from(AuditLog)) - audit_before
        pending = session.scalar(select(func.count()).select_from(ServiceRequest)
                                 .where(ServiceRequest.status == "pending"))
        assert pending == 0, pending
        session.rollback()
    return elapsed, cpu, parts, parts_cpu, result.created, audit


def runs(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} s   runs {', '.join(f'{x:.2f}' for x in values)}"


def run(label: str, engine: Engine, rounds: int) -> None:
    t0 = time.perf_counter()
    ids = build(engine)
    print(f"\n== {label}: built {REQUESTS:,} pending requests on {UNITS:,} units in {time.perf_counter() - t0:.1f} s")
    drops = trimmable_request_indexes(engine) if engine.dialect.name == "postgresql" else []
    unsearched = [f"DROP TRIGGER {search_table('audit_log')}_ai"] if engine.dialect.name == "sqlite" \
        else audit_search_indexes(engine)
    base, base_cpu, act, act_cpu, trimmed, unsearched_cpu = [], [], [], [], [], []
    ngrams_cpu: list[float] = []
    unsearched_audit: list[float] = []
    parts: dict[str, list[float]] = {}
    parts_cpu: dict[str, list[float]] = {}
    for _ in range(rounds):  # alternate, so every variant sees the same cache and background load
        elapsed, cpu, created = timed_baseline(engine, ids)
        base.append(elapsed)
        base_cpu.append(cpu)
        assert created == REQUESTS, created
        elapsed, cpu, spent, spent_cpu, created, audit = timed_action(engine, ids)
        act.append(elapsed)
        act_cpu.append(cpu)
        for name, seconds in spent.items():
            parts.setdefault(name, []).append(seconds)
            parts_cpu.setdefault(name, []).append(spent_cpu[name])
        assert created == REQUESTS, created
        if drops:
            elapsed, _, _, _, created, _ = timed_action(engine, ids, drops)
            trimmed.append(elapsed)
            assert created == REQUESTS, created
        if unsearched:
            _, cpu, spent, spent_cpu, created, _ = timed_action(engine, ids, unsearched)
            unsearched_cpu.append(cpu)
            # SQLite's CPU is this process's; PostgreSQL's INSERT by the clock (its backend counted for the action)
            unsearched_audit.append(spent_cpu["audit"] if engine.dialect.name == "sqlite" else spent["audit"])
            assert created == REQUESTS, created
        if engine.dialect.name == "postgresql":
            _, cpu, _, _, created, _ = timed_action(engine, ids, AUDIT_ACTOR_NGRAMS)
            ngrams_cpu.append(cpu)
            assert created == REQUESTS, created
    b, a = statistics.median(base), statistics.median(act)
    print(f"single INSERT … SELECT (orders only):  {runs(base)}")
    print(f"dispatch action (orders + requests + {audit:,} audit rows + log):  {runs(act)}")
    print("  of which " + ", ".join(f"{name} {statistics.median(v):.2f} s ({statistics.median(v) / b:.2f}×)"
                                    for name, v in parts.items()) + " (medians; × the INSERT … SELECT)")
    print(f"action ÷ INSERT … SELECT = {a / b:.2f}×  (target ≤ 2×)   load average {load_average()}")
    # What a design that derived 已派工 from the open order, writing no status, would leave: each run's action
    # less its status UPDATE (computed from the same runs, not run on its own).
    unwritten = statistics.median(x - y for x, y in zip(act, parts["statuses"], strict=True))
    print(f"action less its status UPDATE (computed): median {unwritten:.2f} s = {unwritten / b:.2f}×")
    # SQLite works in this process; PostgreSQL's CPU is its backend's (when the server runs on this machine) plus
    # this process's.
    whose = "this process" if engine.dialect.name == "sqlite" else "this process + PostgreSQL backend"
    bc = statistics.median(base_cpu)
    print(f"CPU time ({whose}): INSERT … SELECT median {bc:.2f} s, action median "
          f"{statistics.median(act_cpu):.2f} s = {statistics.median(act_cpu) / bc:.2f}×   runs "
          + ", ".join(f"{a / b:.2f}×" for a, b in zip(act_cpu, base_cpu, strict=True)) + " (each round's ratio)")
    if engine.dialect.name == "sqlite":
        print("  of which CPU " + ", ".join(f"{name} {statistics.median(v):.2f} s ({statistics.median(v) / bc:.2f}×)"
                                          for name, v in parts_cpu.items()) + " (medians; × the INSERT … SELECT)")
    if trimmed:
        print(f"action with service_request's indexes cut from {len(drops) + 2} to 2 (primary key, project+stage): "
              f"{runs(trimmed)} = {statistics.median(trimmed) / b:.2f}× the INSERT … SELECT")
    if unsearched and engine.dialect.name == "postgresql":
        # the backend's CPU is counted for the whole action only: the audit INSERT's share by the clock
        print(f"CPU of the action without the audit rows' {len(unsearched)} search indexes (GIN): median "
              f"{statistics.median(unsearched_cpu):.2f} s = {statistics.median(unsearched_cpu) / bc:.2f}×   runs "
              + ", ".join(f"{a / b:.2f}×" for a, b in zip(unsearched_cpu, base_cpu, strict=True))
              + f" (its audit INSERT {statistics.median(unsearched_audit):.2f} s by the clock, "
              f"with them {statistics.median(parts['audit']):.2f} s)")
    if ngrams_cpu:
        print(f"CPU of the action with 操作人's two GIN indexes (trigrams, 2-character substrings) instead of its "
              f"B-tree, as before d1a7c3e5f9b2: median {statistics.median(ngrams_cpu):.2f} s = "
              f"{statistics.median(ngrams_cpu) / bc:.2f}×   runs "
              + ", ".join(f"{a / b:.2f}×" for a, b in zip(ngrams_cpu, base_cpu, strict=True)))
    if unsearched and engine.dialect.name == "sqlite":
        # the audit rows' search index (FTS5 trigram, kept by a trigger per row): its share of the action
        print(f"CPU of the action without the audit rows' search trigger: median {statistics.median(unsearched_cpu):.2f} s"
              f" = {statistics.median(unsearched_cpu) / bc:.2f}× (its audit INSERT {statistics.median(unsearched_audit):.2f} s"
              f" = {statistics.median(unsearched_audit) / bc:.2f}×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_dispatch",
                        help="URL of the PostgreSQL database to drop, recreate and fill")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--runs", type=int, default=5, help="rounds of the interleaved variants (medians)")
    args = parser.parse_args()
    if not args.pg_only:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            run("SQLite", engine, args.runs)
            engine.dispose()
    if not args.sqlite_only:
        engine = make_engine(fresh_postgres(args.pg))
        run("PostgreSQL", engine, args.runs)
        engine.dispose()


if __name__ == "__main__":
    main()
