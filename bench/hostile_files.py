"""Hostile workbooks of a few KB (RELIABILITY X09, X12, X16): how long the reader takes to refuse each, and its
peak memory, each read in a child process of its own — so one that aborts (a 52 GB allocation) is reported
as a crash rather than taking the benchmark down.

Each case is read by ``actions.spreadsheets.reader.read_book``, the one entry every import (console upload,
CLI, each import kind) goes through. Prints, per case: file size, outcome (refused with its message /
read / crashed with its signal), wall time and the child's peak RSS; a legitimate 100,000 × 16 workbook
is read too, for comparison.

    python bench/hostile_files.py [--legit-rows 100000]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.data.workbooks import (  # noqa: E402
    cells_in_one_row,
    many_rows,
    shared_strings,
    sparse_cell,
    with_sheet,
    workbook,
    zip_bomb,
)

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from actions.errors import Refused
from actions.spreadsheets.reader import read_book
data = open(sys.argv[1], "rb").read()
start = time.perf_counter()
try:
    book = read_book(data, "hostile.xlsx")
    outcome = "read: " + ", ".join(f"{{s.name}} {{len(s.rows):,}} rows × {{max(map(len, s.rows), default=0):,}}"
                                   for s in book.sheets)
except Refused as refused:
    outcome = "refused: " + refused.message
print(f"{{time.perf_counter() - start:.3f}}\\t{{outcome}}")
"""


def cases(legit_rows: int) -> list[tuple[str, Callable[[], bytes]]]:
    header = [["楼栋", "房号", "客服部"]]
    return [
        ("cell at XFD100000", lambda: sparse_cell("XFD100000")),
        ("cell at T1048576", lambda: sparse_cell("T1048576")),
        ("1,048,576 cells in one <row>, no refs", lambda: cells_in_one_row(1 << 20)),
        ("1,048,576 cells in one <row>, refs A2…", lambda: cells_in_one_row(1 << 20, refs="rows")),
        ("1,048,576 rows (X09)", lambda: many_rows(1 << 20)),
        ("declared <dimension> A1:XFD1048576", lambda: with_sheet(b"", dimension="A1:XFD1048576")),
        ("sharedStrings uniqueCount=4e9", lambda: shared_strings(1, declared=4_000_000_000)),
        ("sharedStrings 1 GiB zip bomb",
         lambda: zip_bomb(shared_strings(1), inflated=1 << 30, name="xl/sharedStrings.xml")),
        ("sheet 1 GiB zip bomb (X12)", lambda: zip_bomb(workbook({"S": header}), inflated=1 << 30)),
        (f"legitimate {legit_rows:,} × 16", lambda: legit(legit_rows)),
    ]


def legit(rows: int) -> bytes:
    """A plain ``rows`` × 16 workbook (openpyxl write-only, so the benchmark itself stays small)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("S")
    sheet.append([f"列{c}" for c in range(16)])
    for i in range(rows):
        sheet.append(["1栋", f"1-{i}"] + [5] * 14)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _peak_kb(pid: int) -> int | None:
    """The process's peak RSS so far (VmHWM: per address space, so the parent's before exec is not counted,
    as it is in ru_maxrss)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


def run(path: str) -> tuple[str, float, int]:
    """(outcome, seconds, peak RSS in MB) of reading ``path`` in a child process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT)), path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while True:  # sampled until it ends: a child killed by its own abort cannot report its peak itself
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _peak_kb(child.pid) or 0)
        time.sleep(0.005)
    wall = time.perf_counter() - start
    out = child.stdout.read().strip()
    child.stdout.close()
    child.stderr.close()
    if os.WIFSIGNALED(status):
        return f"CRASHED ({signal.Signals(os.WTERMSIG(status)).name})", wall, peak // 1024
    seconds, _, outcome = out.partition("\t")
    return outcome, float(seconds or wall), peak // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legit-rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'case':42} {'size':>9} {'seconds':>8} {'peak RSS':>9}  outcome")
        for name, make in cases(args.legit_rows):
            data = make()
            path = os.path.join(tmp, "case.xlsx")
            Path(path).write_bytes(data)
            outcome, seconds, rss = run(path)
            print(f"{name:42} {len(data) / 1024:7.1f}KB {seconds:8.2f} {rss:7d}MB  {outcome[:90]}")


if __name__ == "__main__":
    main()
