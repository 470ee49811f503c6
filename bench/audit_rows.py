"""What writing audit rows costs on PostgreSQL, by the audit table's index layout (issue 17).

A batch action writes one audit row per record in one INSERT … SELECT (``actions.audit.record_bulk``): a dispatch
50,000, a dunning run's first stage 16,666. Each row pays every index of ``audit_log``. This times that INSERT alone
(the backend's CPU, read from /proc, and the clock), ``--rows`` rows of one actor and one summary as a batch writes
them, in a transaction rolled back, the layouts interleaved round by round (medians), each made inside that
transaction:

- before: the search indexes of revision c9e2f4a7b1d5 — 操作人 and 摘要 each a GIN index of its trigrams and one of
  its 2-character substrings, both leading with the project;
- now: 操作人 searched among the names the trail holds (``models.AuditActor``), by a B-tree ``(actor_name,
  project_id)``; 摘要's two GIN indexes as before;
- 摘要 in one GIN index: now, 摘要's trigrams and 2-character substrings in one index (a layout not taken: 5 % less);
- 摘要 among its texts too: now, 摘要 also searched among the texts the trail holds (a B-tree ``(summary,
  project_id)``, as 操作人): what that design (not built) would leave;
- floor: no search index at all (neither 操作人's nor 摘要's) — what the rows cost with the B-trees every list
  and trail needs; and that less the index of 类型 (``kind``).

    python bench/audit_rows.py --pg postgresql://postgres@127.0.0.1:5432/<a database at the head revision>
                               [--rows 50000] [--runs 5] [--actor 派工主管] [--summary 派工]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import AUDIT_ACTOR_NGRAMS, AUDIT_UNSEARCHED, backend_cpu, load_average  # noqa: E402  (the benchmarks' shared helpers)

BEFORE, FLOOR = AUDIT_ACTOR_NGRAMS, AUDIT_UNSEARCHED
SUMMARY_AMONG = [
    "DROP INDEX ix_audit_log_summary_trgm",
    "DROP INDEX ix_audit_log_summary_bigram",
    "CREATE INDEX ix_audit_log_summary_project_id ON audit_log (summary, project_id)",
]
NO_KIND = ["DROP INDEX ix_audit_log_kind"]
ONE_GIN = [
    "DROP INDEX ix_audit_log_summary_trgm",
    "DROP INDEX ix_audit_log_summary_bigram",
    "CREATE INDEX ix_audit_log_summary_search ON audit_log USING gin (project_id, summary gin_trgm_ops, "
    "bigrams(summary))",
]
LAYOUTS = {"before (c9e2f4a7b1d5)": BEFORE, "now (操作人 among names)": [],
           "摘要 in one GIN index": ONE_GIN, "摘要 among its texts too": SUMMARY_AMONG, "floor (no search index)": FLOOR,
           "floor less the kind index": FLOOR + NO_KIND}

INSERT = text(
    "INSERT INTO audit_log (at, actor_id, actor_name, source, kind, table_name, record_id, project_id, summary, "
    "changes, ip) SELECT now(), NULL, :actor, 'bench', 'insert', 'work_order', CAST(i AS text), :project, :summary, "
    "CAST('{}' AS json), '' FROM generate_series(1, :rows) AS i")


def timed(engine, ddl: list[str], args: dict) -> tuple[float, float]:
    with engine.connect() as conn:
        trans = conn.begin()
        for statement in ddl:
            conn.execute(text(statement))
        b0, t0 = backend_cpu(conn), time.perf_counter()
        conn.execute(INSERT, args)
        elapsed, cpu = time.perf_counter() - t0, backend_cpu(conn) - b0
        trans.rollback()
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", required=True)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--actor", default="派工主管")
    parser.add_argument("--summary", default="派工")
    opts = parser.parse_args()
    engine = create_engine(opts.pg)
    with engine.connect() as conn:
        project = conn.scalar(text("SELECT min(id) FROM project"))
    args = {"actor": opts.actor, "summary": opts.summary, "project": project, "rows": opts.rows}
    cpu: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    clock: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    timed(engine, [], args)  # warm the caches
    for _ in range(opts.runs):
        for name, ddl in LAYOUTS.items():
            elapsed, spent = timed(engine, ddl, args)
            cpu[name].append(spent)
            clock[name].append(elapsed)
    print(f"{opts.rows:,} audit rows in one INSERT … SELECT (actor {opts.actor}, summary {opts.summary}), "
          f"{opts.runs} interleaved rounds, load average {load_average()}")
    floor = statistics.median(cpu["floor (no search index)"])
    for name in LAYOUTS:
        m = statistics.median(cpu[name])
        print(f"  {name:28} backend CPU median {m:.3f} s ({m / floor:.2f}× the floor)   runs "
              + ", ".join(f"{v:.3f}" for v in cpu[name]) + f"   clock median {statistics.median(clock[name]):.3f} s")


if __name__ == "__main__":
    main()
