"""The spreadsheet gate (RELIABILITY X09, X12, X16): workbooks of a few KB whose cells would cost a reader
gigabytes are refused from their own XML, fast, in Chinese, naming the bound — and the unusual ways a real
file may be written still read."""

from __future__ import annotations

import time

import pytest

from actions.errors import Refused
from actions.spreadsheets.reader import Limits, read_book
from tests.data.workbooks import (
    cells_in_one_row,
    many_rows,
    shared_strings,
    sparse_cell,
    with_sheet,
    workbook,
    zip_bomb,
)

HOSTILE = {
    "cell-at-XFD100000": (lambda: sparse_cell("XFD100000"), "列数过多：单元格 XFD100000 在第 16,384 列，上限 256 列"),
    "cell-at-T1048576": (lambda: sparse_cell("T1048576"), "行数过多：第 1,048,576 行有数据，上限 200,100 行"),
    "million-cells-in-one-row": (lambda: cells_in_one_row(1 << 20), "列数过多：单元格 IW2 在第 257 列"),
    "million-rows-in-one-row": (lambda: cells_in_one_row(1 << 20, refs="rows"), "第 2 行的单元格过多"),
    "million-rows": (lambda: many_rows(1 << 20), "行数过多：第 200,101 行有数据"),
    "area": (lambda: sparse_cell("Z199999"), "单元格区域过大：从 A1 到单元格 Z199999共 199,999 行 × 26 列"),
    # a formula without a value is read (to be named on its row): the grid grown to hold it is bounded too
    "formula-far-away": (lambda: with_sheet(b'<row r="190000"><c r="IV190000"><f>1</f></c></row>'),
                         "单元格区域过大：公式单元格延伸到第 190,000 行、第 256 列"),
    "declared-dimension": (lambda: with_sheet(b"", dimension="A1:XFD1048576"), "声明的范围 A1:XFD1048576 行数过多"),
    "declared-shared-strings": (lambda: shared_strings(1, declared=4_000_000_000), "共享字符串表声明了 4,000,000,000 个"),
    "shared-strings-bomb": (lambda: zip_bomb(shared_strings(1), inflated=1 << 30, name="xl/sharedStrings.xml"),
                            "文件解压后过大"),
    "sheet-bomb": (lambda: zip_bomb(workbook({"S": [["楼栋"]]}), inflated=1 << 30), "文件解压后过大"),
}


@pytest.mark.parametrize("make, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_workbooks_are_refused_in_under_a_second(make, message):
    data = make()
    assert len(data) < 10 * 1024 * 1024  # within the upload limit: the gate, not the size check, refuses it
    # CPU time, not wall time: the machine running the suite is shared.
    start = time.process_time()
    with pytest.raises(Refused) as refused:
        read_book(data, "回收表.xlsx")
    assert time.process_time() - start < 1.0
    assert message in refused.value.message


def _sheet(body: bytes, **kw) -> bytes:
    return with_sheet(body, **kw)


@pytest.mark.parametrize("body, message", [
    # The reader places a cell by its last r: a second one must not slip past.
    (b'<row r="2"><c r="A2" r="XFD2"><v>1</v></c></row>', "已损坏"),
    (b'<row r="2"><c r="A2" s=">" r="XFD2"><v>1</v></c></row>', "已损坏"),
    (b"<row r=\"2\"><c r=\"A2\" r='XFD2'><v>1</v></c></row>", "已损坏"),
    (b'<row r="2"><c r="A2" t="n"\n r="XFD2"><v>1</v></c></row>', "已损坏"),
    (b'<row r="2"><c r="A2"><v>1</v></c><c r="XFD2"><v>1</v></c></row>', "列数过多"),  # wider than the rows before
    (b"<row r='2'><c r='XFD2'><v>1</v></c></row>", "列数过多"),
    (b'<row r="2"><c r = "XFD2"><v>1</v></c></row>', "列数过多"),
    (b'<row r="2"><c r="xfd2"><v>1</v></c></row>', "列数过多"),
    (b'<row r="2"><c r="A300000"><v>1</v></c></row>', "行数过多"),  # a cell's own row, not its <row>'s
    (b'<!-- x --><row r="2"><c r="XFD2"><v>1</v></c></row>', "列数过多"),
    (b'<row r="2"><c r="A2"><is><t>x</t></is></c><c r="XFD2" t="inlineStr"><is><t></t></is></c></row>', "列数过多"),
    (b'<x:row r="2" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
     b'<x:c r="XFD2"><x:v>1</x:v></x:c></x:row>', "列数过多"),
    (b'<row r="2">' + b"<c><v>1</v></c>" * 300 + b"</row>", "列数过多"),  # no references: one after another
    (b"<row>" + b'<c r="A2"><v>1</v></c>' * 300 + b"</row>", "单元格过多"),  # the same cell again and again
])
def test_unusual_spellings_do_not_slip_past(body, message):
    with pytest.raises(Refused, match=message):
        read_book(_sheet(body), "a.xlsx")


@pytest.mark.parametrize("body, expected", [
    # A blank, styled cell far to the right and rows formatted beyond the cap: the reader skips them.
    (b'<row r="2"><c r="A2"><v>5</v></c><c r="XFD2" s="0"/></row><row r="900000" ht="20" customHeight="1"/>',
     [["楼栋", "房号", "客服部"], [5, "", ""]]),
    # Written by another program: white space between rows, cells without references, prefixes.
    (b'\n  <row r="2">\n    <c r="A2"><v>1</v></c>\n  </row>\n  <row><c><v>2</v></c><c><v>3</v></c></row>',
     [["楼栋", "房号", "客服部"], [1, "", ""], [2, 3, ""]]),
])
def test_unusual_but_harmless_files_still_read(body, expected):
    book = read_book(_sheet(body), "a.xlsx")
    assert [[int(v) if isinstance(v, float) else v for v in row] for row in book.sheets[0].rows] == expected


def test_limits_are_configurable():
    data = _sheet(b'<row r="2"><c r="A2"><v>1</v></c></row><row r="5000"><c r="T5000"><v>1</v></c></row>')
    assert len(read_book(data, "a.xlsx").sheets[0].rows) == 5000
    with pytest.raises(Refused, match="单元格区域过大.*5,000 行 × 20 列 = 100,000 个单元格，上限 50,000 个"):
        read_book(data, "a.xlsx", limits=Limits(max_cells=50_000))
    with pytest.raises(Refused, match="列数过多：单元格 T5000 在第 20 列，上限 10 列"):
        read_book(data, "a.xlsx", limits=Limits(max_cols=10))
    with pytest.raises(Refused, match="共享字符串过多（超过 1,000 个）"):
        read_book(shared_strings(2000, declared=10), "a.xlsx", limits=Limits(max_cells=1000))


def test_a_workbook_as_spreadsheet_programs_write_it_needs_no_exact_parse(monkeypatch):
    """The quick scan decides an ordinary workbook alone — numbers, dates, inline strings, formulas with their
    cached values, a column used only far down — so the import reads it at close to the reader's own speed."""
    from actions.spreadsheets import gate

    def exact(*args, **kwargs):
        raise AssertionError("the exact parse ran")

    monkeypatch.setattr(gate, "_exact", exact)
    rows = [["楼栋", "房号", "客服部", "意见建议"], *[["1栋", f"{i}01", 5, ""] for i in range(1, 3000)],
            ["2栋", "101", 4, "电梯<维修>及时 & r=\"1\""]]
    book = read_book(workbook({"S": rows}), "a.xlsx")
    assert book.sheets[0].rows[-1] == ["2栋", "101", 4, "电梯<维修>及时 & r=\"1\""]
    assert len(book.sheets[0].rows) == 3001


def test_the_quick_scan_widens_its_pattern_a_few_times_a_file(monkeypatch):
    """What the quick scan allows widens by steps — the rows to the next multiple of ROW_STEP, the columns to a
    row's farthest cell at once — so a 40,000-row sheet compiles its pattern a handful of times, not once per
    piece and column; the exact parse is still not needed, and the bounds still hold (a cell below every row
    allowed, a row past the cap)."""
    from actions.spreadsheets import gate

    compiled = []
    real = gate._QuickSheet._compile
    monkeypatch.setattr(gate._QuickSheet, "_compile", lambda self: compiled.append(1) or real(self))
    monkeypatch.setattr(gate, "_exact", lambda *a, **kw: (_ for _ in ()).throw(AssertionError("the exact parse ran")))
    body = b"".join(f'<row r="{r}"><c r="A{r}" t="n"><v>{r}</v></c><c r="B{r}" s="1" t="n"><v>5</v></c>'
                    f'<c r="C{r}" t="inlineStr"><is><t>满意</t></is></c></row>'.encode() for r in range(2, 40_002))
    book = read_book(_sheet(body), "a.xlsx")
    assert len(book.sheets[0].rows) == 40_001
    assert book.sheets[0].rows[-1] == [40_001, 5, "满意"]
    # the first row's 3 columns at once, then rows 16,384 / 32,768 / 49,152: with the starting pattern, 5 compiles
    assert len(compiled) <= 1 + 1 + -(-40_001 // gate.ROW_STEP)


@pytest.mark.parametrize("body, message", [
    (b'<row r="2"><c r="A2"><v>1</v></c><c r="B20000"><v>1</v></c></row>' + b'<row r="3"><c r="A3"><v>1</v></c></row>'
     + b'<row r="200101"><c r="A200101"><v>1</v></c></row>', "行数过多"),
    (b'<row r="2"><c r="A2"><v>1</v></c></row><row r="20000"><c r="A20000"><v>1</v></c><c r="C20000"><v>1</v></c>'
     b'<c r="XFD20000"><v>1</v></c></row>', "列数过多"),
])
def test_bounds_hold_across_the_widened_steps(body, message):
    with pytest.raises(Refused, match=message):
        read_book(_sheet(body), "a.xlsx")


ORDINARY = b"".join(f'<row r="{r}" spans="1:3"><c r="A{r}" s="1" t="n"><v>{r % 7}</v></c><c r="B{r}" t="n"><v>{r}</v></c>'
                    f'<c r="C{r}" t="inlineStr"><is><t>满意</t></is></c><c r="D{r}" s="1"/></row>'.encode()
                    for r in range(2, 3002))


@pytest.mark.parametrize("body, message", [
    (b'<row r="3002"><c r="A3002" r="XFD3002"><v>1</v></c></row>', "已损坏"),
    (b'<row r="3002"><c r="A3002" t="n" r="XFD3002"><v>1</v></c></row>', "已损坏"),
    (b'<row r="3002"><c r="XFD3002"><v>1</v></c></row>', "列数过多"),
    (b'<row r="3002"><c r="A300000"><v>1</v></c></row>', "行数过多"),
    (b'<row r="3002"><c r="A3002"><v>1</v></c><c r="E300000" t="inlineStr"><is><t>x</t></is></c></row>', "行数过多"),
    (b'<!-- x --><row r="3002"><c r="XFD3002"><v>1</v></c></row>', "列数过多"),
    (b'<x:row r="3002" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
     b'<x:c r="XFD3002"><x:v>1</x:v></x:c></x:row>', "列数过多"),
    (b'<row r="3002">' + b"<c><v>1</v></c>" * 300 + b"</row>", "列数过多"),
    (b'<row r="3002"><c r="A3002"><v>1</v><x:c r="XFD3002" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/'
     b'2006/main"><x:v>1</x:v></x:c></c></row>', "列数过多"),
    (b'<row r="300000"><c r="A300000"><v>1</v></c></row>', "行数过多"),
])
def test_the_quick_scans_run_of_common_cells_stops_at_anything_else(body, message):
    """The quick scan takes runs of cells and rows as spreadsheet programs write them whole; an unusual spelling
    after thousands of them is still judged as when alone: refused, or left to the exact parse."""
    with pytest.raises(Refused, match=message):
        read_book(_sheet(ORDINARY + body), "a.xlsx")
    assert len(read_book(_sheet(ORDINARY), "a.xlsx").sheets[0].rows) == 3001


def test_rows_the_quick_scans_run_cannot_take_cost_the_search_alone(monkeypatch):
    """Where the run of common cells stops (cells with other attributes, a text kept with its spaces), the search
    takes a whole stretch of rows at a time: a file of only such rows costs a few calls per stretch, not one per tag
    (which made a 150,000-row file of them ten times slower to check)."""
    from actions.spreadsheets import gate

    calls = []

    class Counted:
        def __init__(self, pattern):
            self.pattern = pattern

        def match(self, *args):
            calls.append(1)
            return self.pattern.match(*args)

        def search(self, *args):
            calls.append(1)
            return self.pattern.search(*args)

    real = gate._QuickSheet._compile
    monkeypatch.setattr(gate._QuickSheet, "_compile", lambda self: tuple(map(Counted, real(self))))
    monkeypatch.setattr(gate, "_exact", lambda *a, **kw: (_ for _ in ()).throw(AssertionError("the exact parse ran")))
    body = b"".join(f'<row r="{r}"><c r="A{r}" s="1" t="n" cm="1"><v>{r}</v></c><c r="B{r}" t="inlineStr">'
                    f'<is><t xml:space="preserve"> 满意 </t></is></c></row>'.encode() for r in range(2, 20_002))
    book = read_book(_sheet(body), "a.xlsx")
    assert book.sheets[0].rows[-1] == [20_001, " 满意 ", ""]
    assert len(body) > 1_000_000
    assert len(calls) < 4 * len(body) // gate.SEARCH_STRETCH + 20  # 20,001 rows, 80,000 tags


@pytest.mark.parametrize("make, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_parts_inflated_ahead_in_a_thread_are_refused_alike(make, message, monkeypatch):
    """Parts inflated a chunk ahead in a thread of their own (here every part of 64 KB packed or more): the same
    refusal, and no inflating thread left behind once it is raised."""
    import threading

    from actions.spreadsheets import gate

    monkeypatch.setattr(gate, "CHUNK", 64 * 1024)
    with pytest.raises(Refused) as refused:
        read_book(make(), "回收表.xlsx")
    assert message in refused.value.message
    assert not [t for t in threading.enumerate() if t.name == "gate-inflate"]


def test_a_workbook_inflated_ahead_reads_as_before(monkeypatch):
    from actions.spreadsheets import gate

    data = many_rows(50_000)
    before = read_book(data, "a.xlsx").sheets[0].rows
    monkeypatch.setattr(gate, "CHUNK", 64 * 1024)
    assert read_book(data, "a.xlsx").sheets[0].rows == before
