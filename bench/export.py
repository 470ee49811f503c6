"""Benchmark of the list export (issue 7): 1,000,000 bills to .xlsx in bounded memory.

Builds 100,000 units and ten months of bills for each (1,000,000 bills, set-based: a recursive CTE on SQLite,
generate_series on PostgreSQL) in a temporary SQLite file and in the PostgreSQL database ``wuye_bench_export``
(dropped and recreated). Then, in a fresh process so its memory is its own, exports the bill list exactly as
the console does — the action ``export_list`` with the list's columns and sort, related records shown as the
list shows them, money as numbers, dates as dates — and prints the time, the rows per second, the file's
size, and the process's peak resident memory next to its memory before the export.

    /work/venv/bin/python bench/export.py [--units 100000] [--months 10] [--pg postgresql://…/postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, bindparam, func, select, text
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
    t0 = time.perf_counter()
    with Session(engine) as session, session.begin():
        session.info["actor"] = actor
        result = export_list(
            session, query=select(Bill).order_by(Bill.period.desc(), Bill.id.desc()), model=Bill,
            columns=export_columns(Bill, COLUMNS, labels_of(Bill)), title="账单", actor=actor, path=Path(out),
        )
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((elapsed, result.rows, before / 1024, peak / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_export")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.db")]
    if not args.sqlite_only:
        targets.append(("PostgreSQL", None))
    context = multiprocessing.get_context("spawn")
    for label, url in targets:
        url = url or fresh_postgres(args.pg)
        engine = make_engine(url)
        t0 = time.perf_counter()
        bills = build(engine, args.units, args.months)
        engine.dispose()
        print(f"\n== {label}: built {bills:,} bills on {args.units:,} units in {time.perf_counter() - t0:.1f} s")
        out = Path(tempfile.mkdtemp()) / "账单.xlsx"
        queue = context.Queue()
        child = context.Process(target=export_in_child, args=(url, str(out), queue))
        child.start()
        elapsed, rows, before, peak = queue.get()
        child.join()
        print(f"export of the bill list: {rows:,} rows × {len(COLUMNS)} columns in {elapsed:.1f} s "
              f"({rows / elapsed:,.0f} rows/s), file {out.stat().st_size / 2**20:.1f} MB")
        print(f"  peak resident memory of the exporting process: {peak:.0f} MB (before the export: {before:.0f} MB)")


if __name__ == "__main__":
    main()
