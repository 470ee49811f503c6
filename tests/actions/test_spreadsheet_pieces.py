"""A worksheet read a piece at a time (``read_book``'s ``piece_rows``): the rows are those of the whole read, the
gate's refusals are the same and come before any piece is parsed, and a workbook not written as spreadsheet
programs write it is read whole."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from actions.errors import Refused
from actions.spreadsheets import reader
from actions.spreadsheets.reader import read_book
from tests.actions.test_spreadsheet_gate import HOSTILE
from tests.data.workbooks import with_sheet, workbook

ROOT = Path(__file__).resolve().parents[2]


def _trimmed(rows: list[list]) -> list[list]:
    """Rows without their trailing blanks: a piece is as wide as its own rows, the whole sheet as its widest."""
    out = []
    for row in rows:
        row = list(row)
        while row and row[-1] == "":
            row.pop()
        out.append(row)
    return out


def _in_pieces(data: bytes, piece_rows: int, monkeypatch) -> tuple[reader.Book, list[int]]:
    """The book read in pieces, every piece taken in; and the rows each piece brought."""
    monkeypatch.setattr(reader, "STRINGS_SHARE", 0)  # pieces as small as asked, shared strings or not
    book = read_book(data, "回收表.xlsx", piece_rows=piece_rows)
    assert book.pieces is not None
    sizes = []
    try:
        before = len(book.sheets[0].rows)
        while book.pieces.more():
            sizes.append(len(book.sheets[0].rows) - before)
            before = len(book.sheets[0].rows)
    finally:
        book.pieces.close()
    return book, sizes


def test_pieces_hold_the_rows_of_the_whole_read(monkeypatch):
    """Shared strings, numbers, real dates, blank cells, blank rows, a first column left empty, a title merged above
    the header: read two rows a piece, the rows are those the whole read gives, in their places."""
    rows = [["2026年满意度调查", None, None], [None, None, None], ["楼栋", "房号", "客服部", "填表日期"],
            *([None if i % 3 else f"{i}栋", f"{i}-101", i % 5 + 0.5 if i % 4 else i, dt.date(2026, 3, 1 + i)]
              for i in range(1, 12)), [None, None, None, None], [None, "9-909", "满意", None]]
    data = workbook({"问卷": rows}, merged={"问卷": ["A1:D1"]})
    whole = read_book(data, "回收表.xlsx")
    book, sizes = _in_pieces(data, 2, monkeypatch)
    assert len(sizes) > 4 and sum(sizes) == len(whole.sheets[0].rows)
    assert _trimmed(book.sheets[0].rows) == _trimmed(whole.sheets[0].rows)
    assert [list(map(type, r)) for r in _trimmed(book.sheets[0].rows)] == \
        [list(map(type, r)) for r in _trimmed(whole.sheets[0].rows)]
    assert book.sheets[0].name == "问卷" and book.sheets[0].merged == whole.sheets[0].merged == ((0, 0, 0, 3),)


def test_a_sheet_starting_right_of_column_a_keeps_its_columns(monkeypatch):
    """A piece whose cells all lie right of column A (calamine starts its range at the first cell) is placed in the
    sheet's own columns."""
    data = with_sheet(b'<row r="2"><c r="B2"><v>7</v></c></row><row r="3"><c r="C3"><v>8</v></c></row>')
    book, sizes = _in_pieces(data, 1, monkeypatch)
    assert len(sizes) > 1
    assert _trimmed(book.sheets[0].rows) == [["楼栋", "房号", "客服部"], ["", 7.0], ["", "", 8.0]]


@pytest.mark.parametrize("data", [
    workbook({"问卷": [["楼栋"]], "说明": [["填写说明"]]}),  # two sheets
    with_sheet(b'<row r="2"><c r="A2"><f>1+1</f><v>2</v></c></row>'),  # a formula
    with_sheet(b'<!-- x --><row r="2"><c r="A2"><v>1</v></c></row>'),  # left to the gate's exact parse
    workbook({"问卷": [["楼栋", "房号", "客服部"], ["1栋", "1-101", "#N/A"]]}),  # an error value
], ids=["two-sheets", "formula", "exact-parse", "error-value"])
def test_other_workbooks_are_read_whole(data):
    book = read_book(data, "回收表.xlsx", piece_rows=1)
    assert book.pieces is None and book.sheets


def test_error_values_asked_for_in_pieces_are_those_of_the_whole_read(monkeypatch):
    """Error values (#N/A, #DIV/0!) among shared strings, numbers, dates and blanks, asked for two rows a piece: the
    sheet — its rows and the error cells it reports — is the whole read's (the sheet is read whole: its error cells
    are found over the whole part)."""
    rows = [["楼栋", "房号", "客服部", "填表日期"],
            *([f"{i}栋", f"{i}-101", "#N/A" if i % 4 == 0 else i % 5 + 0.5, dt.date(2026, 3, i)] for i in range(1, 12)),
            [None, None, None, None], ["9栋", "9-909", "#DIV/0!", None]]
    data = workbook({"问卷": rows})
    monkeypatch.setattr(reader, "STRINGS_SHARE", 0)
    whole = read_book(data, "回收表.xlsx").sheets[0]
    sheet = read_book(data, "回收表.xlsx", piece_rows=2).sheets[0]
    assert _trimmed(sheet.rows) == _trimmed(whole.rows)
    assert sheet.errors == whole.errors == {(4, 2): "#N/A", (8, 2): "#N/A", (13, 2): "#DIV/0!"}
    assert sheet.formulas == whole.formulas == frozenset()


def test_a_piece_calamine_cannot_read_is_refused_when_its_turn_comes(monkeypatch):
    """The rows before it are handed over; the piece itself raises the whole read's refusal."""
    body = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in range(2, 8))
    data = with_sheet(body + b'<row r="8"><c r="A8" t="n"><v>abc</v></c></row>')
    with pytest.raises(Refused, match="文件已损坏") as whole:
        read_book(data, "a.xlsx")
    monkeypatch.setattr(reader, "STRINGS_SHARE", 0)
    book = read_book(data, "a.xlsx", piece_rows=2)
    try:
        with pytest.raises(Refused) as pieced:
            book.pieces.rest()
    finally:
        book.pieces.close()
    assert pieced.value.message == whole.value.message
    assert len(book.sheets[0].rows) >= 5  # the rows of the pieces before it came in


def test_closing_stops_the_reader_thread(monkeypatch):
    """A caller that stops early (a 合计 row, an error) leaves no thread reading on."""
    monkeypatch.setattr(reader, "STRINGS_SHARE", 0)
    data = with_sheet(b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(2, 200)))
    book = read_book(data, "a.xlsx", piece_rows=1)
    book.pieces.close()
    assert not book.pieces._thread.is_alive()


CHILD = """
import sys
sys.path.insert(0, {root!r})
from actions.errors import Refused
from actions.spreadsheets.reader import read_book
from tests.actions.test_spreadsheet_gate import HOSTILE
for name, (make, message) in HOSTILE.items():
    try:
        book = read_book(make(), "回收表.xlsx", piece_rows=1)
        if book.pieces is not None:
            book.pieces.rest()
        print(name, "READ")
    except Refused as refused:
        print(name, "OK" if message in refused.message else "WRONG " + refused.message)
"""


def test_hostile_workbooks_asked_for_in_pieces_are_refused_as_before_in_a_process_that_lives_on():
    """Every hostile workbook of the gate's tests, read with pieces asked for in a child process: each is refused with
    the gate's message (no piece is parsed before the whole file has passed), and the process lives to the end."""
    done = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT))], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:-1] == [f"{name} OK" for name in HOSTILE]
