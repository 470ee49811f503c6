"""The survey import's floor on this 2-core machine (issue 17: ≤ 1.5× the bare calamine read), measured by CPU.

Each part that any import of the file must do, timed by the CPU it takes (this process's and its PostgreSQL
backend's: load from other processes inflates CPU far less than the wall clock), over ``--runs`` interleaved rounds,
medians:

- R, the bare read: python-calamine, the sheet to Python cells (the target's unit; single-threaded, so on a quiet
  core its CPU is its wall time);
- G, the safe-file gate (``gate.check_package``): it must pass before calamine may run in this process;
- C, the check: the import's preview (``dry_run``: the gated read, parse, clean, repeats, the lookups, the check)
  less the gated read it starts with — the rows cleaned and checked, nothing written; of it L, the lookups
  (``SurveyImporter.prefetch``: units, answered forms, households, owners), which are read while calamine parses;
- W, the write: the least of the write floor — the forms alone bulk-written into the indexed table
  (``survey_import.write_floor``: COPY / executemany), the database's work included — and the import's own write
  (a real import's CPU less the preview's: households, forms, tallies, 已回收, audit rows, commit; on SQLite it writes
  with the indexes built after, cheaper than the floor's executemany).

- P, the read in pieces (``read_book`` with ``piece_rows``, every piece taken in): the gate, keeping the sheet's
  text, then calamine over each stretch of rows packed on its own — the whole read's cells, at P's CPU.

Then the bounds over 2 cores, as multiples of R: the CPU bound (R + G + C + W) / 2 — no design on 2 cores goes
below it — and the chain bounds. Read whole, calamine hands over every row at once when it ends, so C and W all come
after R: the least an import then takes is R + max(C − L, (C − L + W) / 2) with the gate off the path (gate and
calamine side by side, as a sandboxed child process would allow), G + R + the same with the gate first. Read in
pieces (a real run today), the check and the write of each piece overlap the parse of the next: after the gate, the
read in pieces (P − G, in its own thread), the check and the write share the two cores — G + max(P − G, C − L,
(P − G + C − L + W) / 2).

    /work/venvs/<name>/bin/python bench/survey_floor.py [--rows 100000] [--runs 5] [--sqlite-only | --pg-only]
        [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_floor]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import survey_import as bench  # noqa: E402  (the survey bench: workbooks, estate, write floor)
from common import backend_cpu, load_average  # noqa: E402

from actions.spreadsheets import gate  # noqa: E402
from actions.spreadsheets.reader import read_book  # noqa: E402
from actions.survey_import import SurveyImporter, import_survey_responses  # noqa: E402
from actions.surveys import survey_in_scope  # noqa: E402


def gate_cpu(data: bytes) -> float:
    """CPU of the safe-file gate alone over the workbook's parts (as ``reader._read_xlsx`` calls it)."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    infos = [i for i in zf.infolist() if not i.is_dir()]
    names = {i.filename for i in infos}
    sheets = {n: n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")}
    strings = {n for n in names if n.lower().endswith("sharedstrings.xml")}
    start = time.process_time()
    gate.check_package(data, infos, sheets, strings, gate.LIMITS)
    return time.process_time() - start


def read_cpu(data: bytes) -> float:
    start = time.process_time()
    bench.read_calamine(data)
    return time.process_time() - start


def gated_read_cpu(data: bytes) -> float:
    start = time.process_time()
    read_book(data, "回收汇总.xlsx")
    return time.process_time() - start


def pieced_read_cpu(data: bytes) -> float:
    start = time.process_time()
    book = read_book(data, "回收汇总.xlsx", piece_rows=10_000)
    if book.pieces is not None:
        book.pieces.rest()
    return time.process_time() - start


def preview_cpu(engine, survey_id: int, actor, data: bytes) -> float:
    """CPU of a preview of the file (process + backend): everything an import does but write."""
    with Session(engine) as session, session.begin():
        before = time.process_time() + backend_cpu(session)
        result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="回收汇总.xlsx",
                                         actor=actor, dry_run=True)
        spent = time.process_time() + backend_cpu(session) - before
        assert not result.problems, result.problems[:3]
        session.rollback()
    return spent


def lookups_cpu(engine, survey_id: int, actor, data: bytes) -> float:
    """CPU (process + backend) of the lookups the import reads while calamine parses."""
    with Session(engine) as session, session.begin():
        importer = SurveyImporter(session, actor, survey_in_scope(session, survey_id, actor))
        before = time.process_time() + backend_cpu(session)
        importer.prefetch(len(data))
        return time.process_time() + backend_cpu(session) - before


def import_cpu(engine, survey_id: int, actor, data: bytes) -> float:
    """CPU (process + backend) of a real import of the file, undone after (untimed)."""
    before = bench.last_ids(engine)
    _, spent, _, _ = bench.timed_import(engine, survey_id, actor, data)
    bench.undo_import(engine, survey_id, before)
    return spent


def write_cpu(engine, survey_id: int, rows: int) -> float:
    """CPU (process + backend) of the write floor."""
    spent: list[float] = []
    bench.write_floor(engine, survey_id, rows, cpu=spent)
    return spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_floor")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    args = parser.parse_args()
    files = {"bench": bench.cached(f"bench_{args.rows}.xlsx", lambda: bench.write_workbook(args.rows)),
             "realistic": bench.cached(f"realistic_{args.rows}.xlsx", lambda: bench.realistic_workbook(args.rows))}
    for label, _, engine in bench.databases(args):
        survey_id, actor = bench.build(engine, args.rows)
        print(f"\n== {label}: {args.rows:,} units and the campaign built; load {load_average()}")
        for name, data in files.items():
            parts: dict[str, list[float]] = {k: [] for k in ("R", "G", "gated", "P", "preview", "L", "W", "import")}
            for _ in range(args.runs):  # interleaved: one of each per round
                parts["R"].append(read_cpu(data))
                parts["G"].append(gate_cpu(data))
                parts["gated"].append(gated_read_cpu(data))
                parts["P"].append(pieced_read_cpu(data))
                parts["preview"].append(preview_cpu(engine, survey_id, actor, data))
                parts["L"].append(lookups_cpu(engine, survey_id, actor, data))
                parts["W"].append(write_cpu(engine, survey_id, args.rows))
                parts["import"].append(import_cpu(engine, survey_id, actor, data))
            m = {k: statistics.median(v) for k, v in parts.items()}
            r, g = m["R"], m["G"]
            w = min(m["W"], m["import"] - m["preview"])
            c, lookups = max(m["preview"] - m["gated"], 0.0), m["L"]
            after = max(c - lookups, 0.0)  # the check's part that needs the cells
            post = max(after, (after + w) / 2)
            pieced = m["P"] - g
            overlapped = g + max(pieced, after, (pieced + after + w) / 2)
            print(f"  {name} file (CPU s, medians of {args.runs}; load {load_average()}): read R {r:.2f}, gate G {g:.2f} "
                  f"({g / r:.2f}×), check C {c:.2f} ({c / r:.2f}×; preview {m['preview']:.2f} less the gated read "
                  f"{m['gated']:.2f}; of it the lookups L {lookups:.2f}), write W {w:.2f} ({w / r:.2f}×; the floor's "
                  f"{m['W']:.2f}, the import's {m['import'] - m['preview']:.2f} = its {m['import']:.2f} less the preview)")
            print(f"    bounds over 2 cores, × R: CPU (R+G+C+W)/2 = {(r + g + c + w) / 2 / r:.2f}×; "
                  f"chain with the gate beside calamine R + max(C-L, (C-L+W)/2) = {(r + post) / r:.2f}×; "
                  f"with the gate first G + R + max(C-L, (C-L+W)/2) = {(g + r + post) / r:.2f}×; read in pieces "
                  f"(P {m['P']:.2f} = {m['P'] / r:.2f}×) G + max(P-G, C-L, (P-G+C-L+W)/2) = {overlapped / r:.2f}× "
                  f"(target ≤ 1.5×)")
        engine.dispose()


if __name__ == "__main__":
    main()
