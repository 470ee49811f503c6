"""The spreadsheet pipeline's parts: cell cleaners, header detection, the reader's formats."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from actions.errors import Refused
from actions.spreadsheets import clean
from actions.spreadsheets.clean import MASKED, Invalid
from actions.spreadsheets.header import Field, find_header
from actions.spreadsheets.reader import read_book
from models import SHANGHAI, UnitRelation, UnitStatus
from tests.data.workbooks import workbook


@pytest.mark.parametrize("cell", ["2024/3/5", "2024.03.05", 45356.0, "45356", "2024年3月5日", "20240305",
                                  " 2024-03-05 ", "２０２４－０３－０５", dt.datetime(2024, 3, 5, 9, 30)])
def test_dates_as_typed(cell):  # X05
    assert clean.date()(cell) == dt.date(2024, 3, 5)


def test_impossible_date():
    assert isinstance(clean.date()("2024-02-30"), Invalid)
    assert clean.date()("2024-02-30").reason == "2024-02-30 日期无效"
    assert isinstance(clean.date()(3.0), Invalid)  # a small number is not a date anyone meant


@pytest.mark.parametrize("cell", ["0001-01-01", "9999-12-31", "1899/12/31", "21010101", "0001-01-01 00:00"])
def test_a_date_outside_the_calendars_years_is_a_cell_error(cell):
    """「0001-01-01」 was read as year 1 (a 交房日期 of year 1 stored), and as a 收款时间 raised OverflowError on its
    way to UTC — the import failed without naming the row or the column."""
    for read in (clean.date(), clean.timestamp(SHANGHAI)):
        value = read(cell)
        assert isinstance(value, Invalid) and "超出范围：年份应在 1900–2100 之间" in value.reason


def test_timestamps_are_read_in_shanghai():
    assert clean.timestamp(SHANGHAI)("2024-03-05 10:30") == dt.datetime(2024, 3, 5, 2, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("cell", [13800000000.0, "13800000000", "１３８００００００００", "138 0000 0000",
                                  "138-0000-0000", "+86 13800000000"])
def test_phones(cell):  # X06, X07
    assert clean.phone()(cell) == "13800000000"


@pytest.mark.parametrize(("cell", "stored"), [
    ("(021)58888888-8023", "021-58888888-8023"), ("021-58888888转8023", "021-58888888-8023"),
    ("（０２１）５８８８ ８８８８－８０２３", "021-58888888-8023"), ("021 5888 8888 ext. 8023", "021-58888888-8023"),
    ("0571-88888888 EXT8023", "0571-88888888-8023"), ("58888888分机8023", "58888888-8023"),
    ("021-58888888-8023", "021-58888888-8023"), ("0571-8888 8888", "0571-88888888"), ("(010)6543-2100", "010-65432100"),
])
def test_landlines_with_an_area_code_and_an_extension(cell, stored):
    """A shop's or an office's landline is given with its extension; stored in one form, the number before it as a
    landline without one is stored (its area code and number parted by a dash), a mobile as before."""
    assert clean.phone()(cell) == stored
    assert clean.phone().canonical.fullmatch(stored)  # a cell already in that form is taken as it is


@pytest.mark.parametrize(("cell", "stored"), [
    ("02158888888", "021-58888888"), ("021 5888 8888", "021-58888888"), ("（021）5888-8888", "021-58888888"),
    (2158888888.0, None), ("01065432100", "010-65432100"), ("075588888888", "0755-88888888"),
    ("58888888", "58888888"), ("5888 8888", "58888888"), ("6543210", "6543210"), ("021-58888888", "021-58888888"),
])
def test_a_landline_is_stored_in_one_form(cell, stored):
    """A landline was stored as its digits (02158888888) while one with an extension was dashed; now both are: the
    area code (010, 02x, 0571 …) and the number (7–8 digits from 2–9) parted by a dash, the number alone without one.
    A number cell lost its leading 0 (2158888888): no area code starts with 2, so it is refused, not guessed."""
    got = clean.phone()(cell)
    if stored is None:
        assert isinstance(got, Invalid) and got.reason == "2158888888 不是有效的电话号码"
    else:
        assert got == stored and clean.phone().canonical.fullmatch(stored)


@pytest.mark.parametrize("cell", ["2026-03-05", "2026 03 05", "2026/03/05", "12-34-56-78", "12345678", "01234567",
                                  "0211-58888888", "021-1234567", "10086", "1380000000", "023-5888888888"])
def test_what_is_no_landline_is_refused(cell):
    """Any 7–8 digits passed as a landline: 「2026-03-05」 typed in a phone column was stored 20260305. A landline is
    an optional area code (0 and 2–3 digits) and a number of 7–8 digits starting with 2–9, typed in groups of three
    or more; a date or a code typed in pairs is no phone."""
    got = clean.phone()(cell)
    assert isinstance(got, Invalid) and got.reason == f"{cell} 不是有效的电话号码"


@pytest.mark.parametrize("cell", ["20260305", "19900307", "2026 0305", 20260305, "２０２６０３０５"])
def test_eight_digits_that_read_as_a_day_are_no_landline(cell):
    """「20260305」 typed without separators was stored as the landline 20260305, where 「2026-03-05」 was refused: a
    day of 1900–2099 as eight bare digits is refused the same in the console and an import (whose fast path keeps
    only what the cleaner would), saying how a landline of those digits is written; with its area code it is one."""
    got = clean.phone()(cell)
    assert isinstance(got, Invalid) and got.reason == f"{str(cell).replace('２０２６０３０５', '20260305')} 像是日期，" \
        f"不是电话号码：座机请连同区号填写（如 021-{str(cell).replace(' ', '').replace('２０２６０３０５', '20260305')}）"
    assert not clean.phone().canonical.fullmatch(str(cell))
    assert clean.phone()("021-20260305") == "021-20260305" == clean.phone()("(021)2026 0305")
    assert clean.phone()("20261305") == "20261305"  # no month 13: a local number


@pytest.mark.parametrize("cell", ["13812345678-1", "021-58888888-1234567", "0211-58888888-8023", "12345转1",
                                  "转8023", "021-转8023", "abc-123"])
def test_an_extension_does_not_make_nonsense_a_phone(cell):
    assert isinstance(clean.phone()(cell), Invalid)


def test_phone_in_scientific_notation_has_lost_digits():
    assert "科学计数法" in clean.phone()("1.38E+10").reason
    assert clean.phone()("138****5678") is MASKED


def test_id_numbers():  # X20
    valid = "11010519491231002X"
    assert clean.id_number()(valid.lower()) == valid
    assert clean.id_number()("110105491231002") == valid  # 15-digit legacy, converted
    assert clean.id_number()("110105194912310021").reason.endswith("校验位错误")
    assert "后几位已丢失" in clean.id_number()(1.10105194912310e17).reason
    assert clean.id_number()("110***********002X") is MASKED


@pytest.mark.parametrize("cell", ["1-101", " 1-101 ", "1-101\u00a0", "1\u200b-101", "１－１０１", "1—101", "1 - 101"])
def test_codes_lose_spaces_and_widths(cell):  # X07, X08
    assert clean.code()(cell) == "1-101"


def test_text_keeps_chinese_punctuation():
    assert clean.text()("  电梯，太慢\u3000 ") == "电梯，太慢"
    assert clean.text(max_len=2)("三个字").reason == "超过 2 个字"


@pytest.mark.parametrize("cell, score", [("非常满意", 5), ("满意", 4), ("基本满意", 3), ("不满意", 2), ("很不满意", 1),
                                         ("5分", 5), ("五分", 5), (4.0, 4), ("３", 3)])
def test_satisfaction(cell, score):
    assert clean.satisfaction(5)(cell) == score


@pytest.mark.parametrize("cell", [11, -1, 8.5, "优", 0, True])
def test_satisfaction_out_of_range(cell):  # X19
    assert isinstance(clean.satisfaction(10)(cell), Invalid)


def test_money_and_numbers():
    money = clean.decimal()
    assert money("1,234.50") == Decimal("1234.50") and money("￥80") == Decimal("80.00")
    assert money(12.345) == Decimal("12.35")  # a float from Excel is rounded
    assert money("12.345").reason == "12.345 最多 2 位小数"
    assert money(-1).reason == "-1.00 不能小于 0"
    assert clean.integer(1, 10)("11").reason == "11 不能大于 10"
    # an exponent is Python's number syntax, not a number typed: refused before int() (past Python's int limit,
    # or minutes of CPU) as no number
    assert clean.integer(1)("1e99999").reason == "「1e99999」不是整数"
    assert clean.integer(1)("1e999999999").reason == "「1e999999999」不是整数"
    assert clean.integer(1)("10000000000000000000000").reason == "10000000000000000000000 超出范围"


@pytest.mark.parametrize("typed", ["1e3", "1E3", "1_000", "1_000.50", "0x10", "NaN", "Infinity", "１e３"])
def test_python_number_syntax_is_no_number_in_a_spreadsheet(typed):
    """「1e3」 was read as 1000.00 and 「1_000」 as 1000 (Python's Decimal syntax): a cell nobody reads as an amount.
    Refused naming the cell, as the console refuses it (both read through ``money.decimal_text``)."""
    assert clean.decimal()(typed).reason == f"「{typed}」不是数字"
    assert clean.integer(0)(typed).reason == f"「{typed}」不是整数"


def test_a_period_given_as_an_int_is_read():
    """A cleaner takes int cells too (the CSV and JSON paths, a caller's value): 202403 and the serial 45356 as
    ints raised AttributeError (int has no is_integer() on Python 3.11)."""
    assert clean.period()(202403) == "2024-03" and clean.period()(45356) == "2024-03"


def test_periods_and_choices():
    period = clean.period()
    assert {period(c) for c in ("2024-03", "2024/3", "2024年3月", "202403", dt.date(2024, 3, 1))} == {"2024-03"}
    assert clean.choice(UnitStatus)("已入住") is UnitStatus.OCCUPIED
    assert "可选值" in clean.choice(UnitStatus)("住着").reason
    assert clean.boolean()("√") is True and clean.boolean()("否") is False


FIELDS = (
    Field("building", "楼栋", clean.code(), required=True, variants=("楼号",)),
    Field("room_no", "房号", clean.code(), required=True, variants=("房间号", "户号")),
    Field("area", "建筑面积(㎡)", clean.decimal()),
)


def test_header_below_titles_with_variants():
    rows = [["某小区业主信息表"], [], ["序号", "楼号", " 房间号 ", "建筑面积（m2）"], [1, "1栋", "1-101", 89]]
    header = find_header(rows, FIELDS)
    assert header.row == 2 and header.columns == {"building": 1, "room_no": 2, "area": 3}
    assert header.ignored == ("序号",)


def test_header_with_required_marks_and_notes():
    header = find_header([["*楼栋", "房号（必填）", "建筑面积"]], FIELDS)
    assert header.columns == {"building": 0, "room_no": 1, "area": 2}


def test_no_header():
    assert find_header([["名称", "数量"], ["苹果", 3]], FIELDS) is None


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])
def test_csv_encodings(encoding):
    """X18: UTF-16 without its BOM (``utf-16-le``/``-be``) was refused as 「无法识别的文件格式」; it is read too."""
    text = "楼栋,房号,业主姓名\r\n1栋,1-101,张伟\r\n"
    book = read_book(text.encode(encoding), "业主.csv", allow_csv=True)
    assert book.format == "csv" and book.sheets[0].rows == [["楼栋", "房号", "业主姓名"], ["1栋", "1-101", "张伟"]]


@pytest.mark.parametrize("encoding, text", [
    ("big5", "樓棟,房號,業主姓名,聯繫電話\r\n1棟,1-101,張偉,13800000000\r\n"),
    ("shift_jis", "棟,部屋番号,氏名,電話\r\n1棟,101,山田太郎,0312345678\r\n"),
])
def test_csv_in_an_encoding_not_supported_is_named(encoding, text):  # X18
    with pytest.raises(Refused, match="编码不受支持（看起来是 Big5 繁体或 Shift-JIS 日文编码）"):
        read_book(text.encode(encoding), "业主.csv", allow_csv=True)


def test_csv_errors_are_in_chinese():
    huge = ("楼栋,房号\r\n1栋,\"" + "x" * 200_000 + "\r\n").encode()
    with pytest.raises(Refused, match=r"CSV 文件第 \d+ 行有单元格过长（超过 131,072 个字符）：请检查引号是否成对"):
        read_book(huge, "业主.csv", allow_csv=True)
    wide = ("楼栋,房号\r\n" + "," * 1_000_000 + "\r\n").encode()
    with pytest.raises(Refused, match="CSV 文件第 2 行列数过多（1,000,001 列，上限 256 列）"):
        read_book(wide, "业主.csv", allow_csv=True)


def test_csv_needs_its_extension_and_a_kind_that_takes_it():
    data = "楼栋,房号\n1栋,1-101\n".encode()
    with pytest.raises(Refused, match="内容却是 CSV"):
        read_book(data, "业主.xlsx", allow_csv=True)
    with pytest.raises(Refused, match="CSV 文本文件"):
        read_book(data, "业主.csv", allow_csv=False)


def test_hidden_sheets_are_not_read():
    from io import BytesIO

    from openpyxl import load_workbook

    wb = load_workbook(BytesIO(workbook({"数据": [["楼栋"]], "选项": [["x"]]})))
    wb["选项"].sheet_state = "hidden"
    out = BytesIO()
    wb.save(out)
    assert [s.name for s in read_book(out.getvalue(), "a.xlsx").sheets] == ["数据"]


def _id(first17: str) -> str:
    return first17 + clean.id_check_digit(first17)


TRICKY = [
    "13912345678", "１３９１２３４５６７８", " 13912345678", "13912345678 ", "139 1234 5678", "139-1234-5678",
    "+8613912345678", "8613912345678", "+86 13912345678", "1.3912345678E10", "1.39E+10", 13912345678.0, 1.3912345678e10,
    13912345678, "139****5678", "1391234\x075678", "\x0713912345678", "02112345678", "12345678", "1391234567",
    _id("31010419900101001"), _id("31010419900101001").lower(), " " + _id("31010419900101001"),
    "310104199001010011" if _id("31010419900101001") != "310104199001010011" else "310104199001010012",
    _id("31010419920229001"), _id("31010419910229001"), _id("31010419900431001"), _id("31010400000101001"),
    "３１０１０４１９９００１０１００１" + _id("31010419900101001")[17], "310104900101001", "310104199001010012345",
    _id("11010519491231002").replace("X", "x"), "3101041990****0011", _id("31010419900101001")[:9] + "\x07" + _id("31010419900101001")[9:],
    "王伟", " 王伟", "王伟 ", "王  伟", "王 伟", "王\u3000伟", "王\u00a0伟", "王\u200b伟", "王\t伟", "王\n伟", "王\x07伟",
    "王伟\x1f", "长名字长名字长名字", "A座", "３栋", "3栋", " 101 ", "１０１", "101室", "1\u20140A", "B-1", "", None,
    True, 101.0, 3, "ＡＢ", "ab c", "\ufeff101", "021-58888888", "2026-03-05", "20260305", "0571-8888 8888",
]


@pytest.mark.parametrize("cleaner", [clean.phone(), clean.id_number(), clean.text(4), clean.text(), clean.code(4),
                                     clean.code()], ids=["phone", "id", "text4", "text", "code4", "code"])
def test_fast_path_gives_what_the_cleaner_gives(cleaner):
    """A column's canonical cells are kept without the cleaner: for every tricky cell the result is the cleaner's,
    value and message, and a cell the fast path takes is one the cleaner returns unchanged."""
    from actions.spreadsheets.pipeline import clean_column
    from models.db import without_controls

    def same(value):
        return (type(value), value.reason, value.shown) if isinstance(value, Invalid) else (type(value), value)

    assert list(map(same, clean_column(cleaner, TRICKY))) == [same(cleaner(without_controls(c))) for c in TRICKY]
    taken = [c for c in TRICKY if isinstance(c, str) and cleaner.canonical.fullmatch(c)
             and (cleaner.confirm is None or cleaner.confirm(c))]
    assert taken  # the fast path is exercised, not only the cleaner
    for cell in taken:
        assert cleaner(cell) == cell, cell


def test_fast_id_check_is_the_check_digit():
    """The fast path's check (digits read in base 13) accepts exactly the ID whose 18th character is its check digit."""
    check = clean.id_number().confirm
    for i in range(0, 10**17, 10**17 // 997 + 12345):
        first17 = f"{i:017d}"
        right = clean.id_check_digit(first17)
        assert [d for d in "0123456789X" if check(first17 + d)] == [right], first17


def test_calamine_parses_while_the_callers_work_runs(monkeypatch):
    """``meanwhile`` runs while calamine reads the sheets in a thread of its own: the patched read below waits for
    the caller's work to have started, which a read done before or after it would never see."""
    import threading

    from actions.spreadsheets import reader

    started = threading.Event()
    seen: dict[str, object] = {}
    real = reader._calamine

    def calamine(*args):
        seen["overlapped"] = started.wait(timeout=5)
        seen["thread"] = threading.current_thread().name
        return real(*args)

    def meanwhile(size: int) -> None:
        seen["size"] = size
        started.set()

    monkeypatch.setattr(reader, "_calamine", calamine)
    data = workbook({"数据": [["楼栋", "房号"], ["1栋", "101"]]})
    book = read_book(data, "a.xlsx", meanwhile=meanwhile)
    assert seen == {"size": len(data), "overlapped": True, "thread": "calamine"}
    assert book.sheets[0].rows == [["楼栋", "房号"], ["1栋", "101"]]


def test_the_callers_work_waits_for_the_gate():
    """A file the gate refuses reaches neither calamine nor the caller's work."""
    from tests.data.workbooks import sparse_cell

    called = []
    with pytest.raises(Refused, match="列数过多"):
        read_book(sparse_cell("XFD100000"), "a.xlsx", meanwhile=called.append)
    assert called == []


def test_a_refusal_in_the_calamine_thread_reaches_the_caller_after_its_work(monkeypatch):
    """calamine's refusal, raised in its thread, is raised in the caller's — once the caller's work is done."""
    from actions.spreadsheets import reader

    def calamine(*args):
        raise Refused(reader.CORRUPT)

    done = []
    monkeypatch.setattr(reader, "_calamine", calamine)
    with pytest.raises(Refused, match="文件已损坏"):
        read_book(workbook({"数据": [["楼栋"]]}), "a.xlsx", meanwhile=done.append)
    assert len(done) == 1


def test_the_callers_error_waits_for_calamine(monkeypatch):
    """The caller's work failing is raised only after calamine's thread has ended (none is left reading)."""
    import threading

    from actions.spreadsheets import reader

    real = reader._calamine
    ended = threading.Event()

    def calamine(*args):
        try:
            return real(*args)
        finally:
            ended.set()

    def meanwhile(size: int) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(reader, "_calamine", calamine)
    with pytest.raises(RuntimeError, match="database gone"):
        read_book(workbook({"数据": [["楼栋"]]}), "a.xlsx", meanwhile=meanwhile)
    assert ended.is_set()


@pytest.mark.parametrize("cleaner", [clean.phone(), clean.text(4), clean.code(), clean.boolean(), clean.date(),
                                     clean.choice(UnitRelation)], ids=["phone", "text4", "code", "bool", "date", "choice"])
@pytest.mark.parametrize("cells", [
    [c for c in TRICKY if isinstance(c, str)] * 10,  # few distinct texts: each cleaned once, the column looked up
    [*TRICKY, 1, 1.0, True, "1", "是", 0, False, 0.0] * 10,  # 1, 1.0 and True are one key to a dict: kept apart
], ids=["texts", "typed"])
def test_a_column_of_few_values_gives_what_the_cleaner_gives(cleaner, cells):
    """A column of few distinct values is cleaned value by value, each cell getting its own value's result — also
    where cells a dictionary takes for one (1, 1.0, True) are cleaned differently."""
    from actions.spreadsheets.pipeline import clean_column
    from models.db import without_controls

    def same(value):
        return (type(value), value.reason, value.shown) if isinstance(value, Invalid) else (type(value), value)

    assert list(map(same, clean_column(cleaner, cells))) == [same(cleaner(without_controls(c))) for c in cells]
