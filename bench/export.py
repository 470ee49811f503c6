"""Benchmark of the list export (issue 7): 1,000,000 bills to .xlsx in bounded memory.

Builds 100,000 units and ten months of bills for each (1,000,000 bills, set-based: a recursive CTE on SQLite,
generate_series on PostgreSQL) in a SQLite file and in the PostgreSQL database ``wuye_bench_export``
(dropped and recreated, unless ``--reuse`` finds the bills there already). Then, in a fresh process so its
memory is its own, exports the bill list exactly as the console does — the action ``export_list`` with the
list's columns and sort, related records shown as the list shows them, money as numbers, dates as dates —
and prints the time, the process's CPU time, the rows per second, the file's size, the process's peak
resident memory next to its memory before the export, and the load average (the machine may be shared).
With ``--runs N`` the databases take turns, N exports each, and the medians are printed.

    python bench/export.py [--units 100000] [--months 10] [--pg postgresql://…/wuye_bench_export]
                           [--sqlite-file PATH] [--reuse] [--runs 1] [--sqlite-only | --pg-only]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fresh_postgres, migrate  # noqa: E402  (the benchmarks' shared helpers)
from survey_import import BUILD_UNITS, UNITS_PER_BUILDING, analyze, building_name  # noqa: E402

from models import Bill, Branch, Building, FeeBasis, FeeType, Project, labels_of, utcnow  # noqa: E402
from models.base import UTCDateTime  # noqa: E402
from models.db import make_engine  # noqa: E402

# The bill list's columns and default sort (admin/views/fees.py, BillAdmin).
COLUMNS = ["id", "period", "unit", "fee_type", "amount_due", "amount_paid", "status", "due_date"]
_BILLS = (
    "INSERT INTO bill (project_id, unit_id, fee_type_id, period, amount_due, amount_paid, due_date, status, "
    "created_at, updated_at, version) "
    "SELECT u.project_id, u.id, :fee, {period}, 268.50, CASE WHEN m < :months - 1 THEN 268.50 ELSE 0 END, {due}, "
    "CASE WHEN m < :months - 1 THEN 'paid' ELSE 'unpaid' END, :now, :now, 1 "
)
BUILD_BILLS = {
    "sqlite": "WITH RECURSIVE months(m) AS (SELECT 1 UNION ALL SELECT m + 1 FROM months WHERE m < :months) "
              + _BILLS.format(period="printf('2025-%02d', m)", due="printf('2025-%02d-15', m)")
              + "FROM unit u CROSS JOIN months WHERE u.project_id = :project",
    "postgresql": _BILLS.format(period="'2025-' || lpad(m::text, 2, '0')", due="make_date(2025, m, 15)")
                  + "FROM unit u CROSS JOIN generate_series(1, :months) AS m WHERE u.project_id = :project",
}


def build(engine: Engine, units: int, months: int) -> int:
    migrate(engine)
    with Session(engine) as session, session.begin():
        project = Project(name="基准小区", branch=Branch(name="基准分公司"))
        buildings = [Building(project=project, name=building_name(b * UNITS_PER_BUILDING))
                     for b in range(-(-units // UNITS_PER_BUILDING))]
        fee = FeeType(project=project, name="物业管理费", basis=FeeBasis.PER_AREA, rate=3, due_day=15)
        session.add_all([project, fee, *buildings])
        session.flush()
        now = bindparam("now", type_=UTCDateTime())
        session.execute(text(BUILD_UNITS[engine.dialect.name]).bindparams(now),
                        {"count": units, "project": project.id, "first_building": buildings[0].id, "now": utcnow()})
        session.execute(text(BUILD_BILLS[engine.dialect.name]).bindparams(now),
                        {"months": months, "project": project.id, "fee": fee.id, "now": utcnow()})
        bills = session.scalar(select(func.count()).select_from(Bill))
    analyze(engine)
    return bills


def export_in_child(url: str, out: str, queue: multiprocessing.Queue) -> None:
    """Runs in a fresh process: the export, and the memory it took."""
    import actions  # noqa: F401  (audit hook)
    from actions.actor import Actor
    from actions.export import export_columns, export_list

    engine = make_engine(url)
    actor = Actor(user_id=None, name="基准", project_ids=None, source="bench")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, cpu0 = time.perf_counter(), time.process_time()
    with Session(engine) as session, session.begin():
        session.info["actor"] = actor
        result = export_list(
            session, query=select(Bill).order_by(Bill.period.desc(), Bill.id.desc()), model=Bill,
            columns=export_columns(Bill, COLUMNS, labels_of(Bill)), title="账单", actor=actor, path=Path(out),
        )
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((elapsed, cpu, result.rows, before / 1024, peak / 1024))


def built(url: str) -> int:
    """The bills a database built earlier holds (0 if none, or no schema)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Bill)) or 0
    except Exception:  # noqa: BLE001  (no such database or table yet: build it)
        return 0
    finally:
        engine.dispose()


def export(url: str, label: str) -> tuple[float, float]:
    """One export in a fresh process; prints its figures and returns its time and CPU time."""
    out = Path(tempfile.mkdtemp()) / "账单.xlsx"
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=export_in_child, args=(url, str(out), queue))
    child.start()
    elapsed, cpu, rows, before, peak = queue.get()
    child.join()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: {rows:,} rows × {len(COLUMNS)} columns in {elapsed:.1f} s (CPU {cpu:.1f} s; "
          f"{rows / elapsed:,.0f} rows/s), file {out.stat().st_size / 2**20:.1f} MB; peak resident memory "
          f"{peak:.0f} MB (before the export: {before:.0f} MB); load average {load}", flush=True)
    out.unlink()
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_export")
    parser.add_argument("--sqlite-file", help="the SQLite database (default: a new temporary file)")
    parser.add_argument("--reuse", action="store_true", help="keep databases that already hold the bills")
    parser.add_argument("--runs", type=int, default=1)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true")
    only.add_argument("--pg-only", action="store_true")
    args = parser.parse_args()
    targets = []
    if not args.pg_only:
        targets.append(("SQLite", f"sqlite:///{args.sqlite_file or Path(tempfile.mkdtemp()) / 'bench.db'}"))
    if not args.sqlite_only:
        targets.append(("PostgreSQL", args.pg))
    expected = args.units * args.months
    for label, url in targets:
        if args.reuse and built(url) == expected:
            print(f"== {label}: {expected:,} bills built earlier", flush=True)
            continue
        if label == "PostgreSQL":
            fresh_postgres(url)
        else:
            Path(make_url(url).database).unlink(missing_ok=True)
        engine = make_engine(url)
        t0 = time.perf_counter()
        bills = build(engine, args.units, args.months)
        engine.dispose()
        print(f"== {label}: built {bills:,} bills on {args.units:,} units in {time.perf_counter() - t0:.1f} s",
              flush=True)
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in targets}
    for run in range(1, args.runs + 1):  # the databases take turns: a busier minute falls on both
        for label, url in targets:
            times[label].append(export(url, f"{label} export {run}/{args.runs}"))
    if args.runs > 1:
        for label, figures in times.items():
            print(f"{label}: median {statistics.median(t for t, _ in figures):.1f} s "
                  f"(CPU {statistics.median(c for _, c in figures):.1f} s) over {args.runs} exports")


if __name__ == "__main__":
    main()
