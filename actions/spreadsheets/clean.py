"""Cell cleaners: what staff really type, turned into typed values.

Each cleaner takes a cell as python-calamine or the CSV reader gives it (str, float, int, bool, date,
datetime, or "" for an empty cell) and returns the clean value, ``None`` for empty, or an :class:`Invalid`
carrying the reason in Chinese. Cleaners are pure and never raise, so the pipeline can cache them per column
and map them over a whole column at C speed (a survey column holds a handful of distinct values).

A cleaner may carry ``canonical``: a pattern that a str cell already in the clean form fullmatches, and which the
cleaner would return unchanged (with ``confirm``, a test such a cell must also pass, the ID's check digit). The
pipeline accepts those cells of a column as they are and sends only the others through the cleaner: a column of
100,000 well-typed phone numbers costs one regex call a cell (:func:`actions.spreadsheets.pipeline.clean_column`).
The patterns use ``[0-9]``, never ``\\d``, which also matches full-width digits that NFKC would fold.

Codes, numbers, dates and phones are NFKC-normalised (full-width ``１３８`` → ``138``, ``－`` → ``-``); free
text is only trimmed — NFKC would turn the Chinese comma ``，`` into ``,`` and change what was typed.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from models import LabeledEnum
from models.base import NUMBER, number_value

from ..kernel.money import decimal_text as _decimal_text
from ..kernel.periods import YEARS
from ..kernel.text import INVISIBLE as _INVISIBLE
from ..kernel.text import fold


def _nfkc(value: str) -> str:
    """:func:`fold`, less the apostrophe typed before a number to keep it text ('13800000000, '110105…): Excel
    keeps it out of the value, but another system's export, or a CSV, keeps it in."""
    shown = fold(value)
    return shown[1:].lstrip() if shown[:1] in _QUOTES else shown


_QUOTES = ("'", "\u2018", "\u2019")


class Invalid:
    """A cell that cannot be read; ``reason`` completes a sentence after the column name. ``shown`` is the value
    the reason quotes, if any: a caller that must not repeat an ID number (a console form's error is logged) masks
    it there."""

    __slots__ = ("reason", "shown")

    def __init__(self, reason: str, shown: str | None = None) -> None:
        self.reason = reason
        self.shown = shown

    def __repr__(self) -> str:
        return f"Invalid({self.reason!r})"


class Masked:
    """A personal-data cell exported masked (``138****5678``): it says "keep what is stored"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MASKED"


MASKED = Masked()
Cleaner = Callable[[Any], Any]


def _canonical(clean: Cleaner, pattern: str, confirm: Callable[[str], bool] | None = None) -> Cleaner:
    clean.canonical = re.compile(pattern)  # type: ignore[attr-defined]
    clean.confirm = confirm  # type: ignore[attr-defined]
    return clean


_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _number_text(value: float | int) -> str:
    """``101.0`` → ``101`` (calamine reads every number as a float)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def text(max_len: int | None = None) -> Cleaner:
    """Free text (names, comments): invisible characters and surrounding/repeated spaces removed."""

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            value = "是" if value else "否"
        elif isinstance(value, int | float):
            value = _number_text(value)
        elif isinstance(value, dt.datetime):
            value = value.strftime("%Y-%m-%d %H:%M")
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif not isinstance(value, str):
            value = str(value)
        if not value.isascii():
            value = value.translate(_INVISIBLE).replace("\u00a0", " ").replace("\u3000", " ")
        value = " ".join(value.split()) if "  " in value or "\n" in value or "\t" in value else value.strip()
        if not value:
            return None
        if max_len is not None and len(value) > max_len:
            return Invalid(f"超过 {max_len} 个字")
        return value

    # Words separated by single spaces: nothing to trim, fold or drop (no control, invisible, U+00A0 or U+3000).
    word = f"[^\\s\\x00-\\x1f\\ufffe\\uffff{''.join(map(chr, _INVISIBLE))}]+"
    longest = "" if max_len is None else f"(?=.{{1,{max_len}}}\\Z)"
    return _canonical(clean, f"{longest}{word}(?: {word})*")


def code(max_len: int | None = None) -> Cleaner:
    """An identifier (楼栋, 房号, 工号, 车位号): NFKC, every space removed, dashes unified."""

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = _number_text(value)
        elif not isinstance(value, str):
            return Invalid("格式不对")
        value = "".join(_nfkc(value).split())
        if not value:
            return None
        if max_len is not None and len(value) > max_len:
            return Invalid(f"超过 {max_len} 个字")
        return value

    # Printable ASCII without spaces and CJK ideographs (U+4E00–U+9FFF): NFKC leaves them as they are; a leading
    # apostrophe is dropped (_nfkc).
    return _canonical(clean, f"(?!')[!-~\\u4e00-\\u9fff]{{1,{max_len or ''}}}")


def plate(max_len: int | None = None) -> Cleaner:
    """车牌号: an identifier with its Latin letters upper-cased (沪a12345 is 沪A12345), as the console's 车位租用 stores it."""
    as_code = code(max_len)

    def clean(value: Any) -> Any:
        value = as_code(value)
        return value.upper() if isinstance(value, str) else value

    # as code()'s, without lower-case Latin letters (U+0061–U+007A)
    return _canonical(clean, f"[!-`{{-~\\u4e00-\\u9fff]{{1,{max_len or ''}}}")


# --- 楼栋 and 房号 as staff type them -----------------------------------------------------------------
# 楼栋的常见写法：“3”“3栋”“3号楼”“3幢”“3座”“3#”“３栋”“ 3 栋 ”都指同一栋楼。Longest first: 3号楼 loses 号楼.
BUILDING_SUFFIXES = ("号楼", "#楼", "栋楼", "幢楼", "栋", "幢", "座", "号", "楼", "#")
_ROOM_SUFFIXES = ("室", "房", "号")
_IDENTIFIER = code()


# Memoised: an import resolves every row's building and room, and a file names a few hundred of each (100,000
# rows of a survey: a hundred buildings, a thousand room numbers); the folding above costs microseconds a call.
@functools.lru_cache(maxsize=1 << 16, typed=True)
def building_key(value: Any) -> str | None:
    """The one form a building is compared by, in every import and lookup: its number or letter without the
    usual suffix, full-width and spaces folded, leading zeros dropped ("3号楼", "3栋", "03#", "３ 幢" → "3";
    "A座" → "A"; "一栋", "十二号楼" → "1", "12"). None for an empty or unreadable cell."""
    text = _IDENTIFIER(value)
    if not isinstance(text, str):
        return None
    stem = text.upper()
    for suffix in BUILDING_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    # 楼栋也常写成汉字：“一栋”“十二号楼”“二十三幢”。
    return str(number_value(stem)) if NUMBER.fullmatch(stem) else stem


_CHINESE_NAMES = "〇一二三四五六七八九"


def _chinese_name(number: int) -> str | None:
    """12 → 十二, 20 → 二十, 7 → 七: a building's number as it is written in words (up to 99)."""
    if not 0 < number < 100:
        return None
    tens, ones = divmod(number, 10)
    if not tens:
        return _CHINESE_NAMES[ones]
    return ("" if tens == 1 else _CHINESE_NAMES[tens]) + "十" + (_CHINESE_NAMES[ones] if ones else "")


def building_spellings(value: Any) -> tuple[str, ...]:
    """The names a building typed as ``value`` may be stored under, for a lookup by name in SQL: as typed, its
    :func:`building_key` and that with each usual suffix — "5", "5栋", "五栋" and "5号楼" all give 5/5栋/5号楼/5幢…
    and 五/五栋/五号楼…, never "15栋"."""
    typed, stem = _IDENTIFIER(value), building_key(value)
    if stem is None:
        return ()
    words = _chinese_name(int(stem)) if stem.isdigit() else None
    stems = (stem,) if words is None else (stem, words)
    return tuple(dict.fromkeys((typed, *stems, *(s + suffix for s in stems for suffix in BUILDING_SUFFIXES))))


@functools.lru_cache(maxsize=1 << 16, typed=True)
def room_key(value: Any) -> str | None:
    """The form a room number is compared by: "101室", "１０１", " 101 ", "0101" → "101" (a number without its
    leading zeros, as a spreadsheet's number cell drops them and the console's lookup reads it); letters upper-cased."""
    text = _IDENTIFIER(value)
    if not isinstance(text, str):
        return None
    room = text.upper()
    for suffix in _ROOM_SUFFIXES:
        if room.endswith(suffix) and len(room) > len(suffix):
            room = room[: -len(suffix)]
            break
    return (room.lstrip("0") or "0") if room.startswith("0") and room.isdigit() else room


def room_spellings(value: Any) -> tuple[str, ...]:
    """The room numbers a room typed as ``value`` may be stored under, for a lookup in SQL: as typed, its
    :func:`room_key`, and for a number that without its leading zeros and padded with them up to four digits —
    "0101" and "101" both give 101/0101, "1" gives 1/01/001/0001."""
    typed, key = _IDENTIFIER(value), room_key(value)
    if key is None:
        return ()
    forms = [typed, key]
    if key.isdigit():
        bare = key.lstrip("0") or "0"
        forms += [bare.zfill(width) for width in range(len(bare), 5)]
    return tuple(dict.fromkeys(forms))


def unit_parts(text: str) -> Iterator[tuple[str, str]]:
    """The ways a unit written as one text ("1栋-101", "1栋101", "3号楼1303室", "1号楼1-102室") may part into its
    楼栋 and 房号, in the order they are to be tried: at each dash, then right after a building suffix, the longest
    such building first ("1号楼101" is 1号楼, not 1号). Without a dash a suffix must part the two: "31303" is not
    guessed at. The caller keeps the first reading that names a building (an import: of the project)."""
    for i, char in enumerate(text):
        if char == "-" and 0 < i < len(text) - 1:
            yield text[:i], text[i + 1:]
    for i in range(len(text) - 1, 0, -1):
        if text[:i].endswith(BUILDING_SUFFIXES):
            yield text[:i], text[i:]


# What people put in a number or date cell for "none" (面积 —, 交房日期 /, 押金 无): blank, not a wrong value. A text
# cell keeps them (a 备注 of 「无」 says something).
PLACEHOLDERS = frozenset({"-", "－", "—", "——", "/", "／", "无", "N/A", "n/a"})


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, str) and value.strip() in PLACEHOLDERS)


def decimal(places: int = 2, *, minimum: Decimal | None = Decimal("0"), positive: bool = False,
            digits: int | None = None) -> Cleaner:
    """Money and areas: numbers or text (``1,234.50``, ``￥80``); floats rounded to ``places`` decimals; at most
    ``digits`` digits in all (the column's ``Numeric(digits, places)``), so a value the column cannot hold is
    refused on its row rather than failing the write (PostgreSQL: numeric field overflow)."""
    quantum = Decimal(1).scaleb(-places)
    bound = None if digits is None else Decimal(10) ** (digits - places)
    beyond = "超出范围" if digits is None else f"超出范围：整数部分最多 {digits - places} 位"

    def clean(value: Any) -> Any:
        if _blank(value):
            return None
        if isinstance(value, bool):
            return Invalid("不是数字")
        if isinstance(value, float | int):
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = _decimal_text(_nfkc(value))
            if number is None:
                return Invalid(f"「{value.strip()}」不是数字") if value.strip() else None
            if number.as_tuple().exponent < -places:
                return Invalid(f"{value.strip()} 最多 {places} 位小数")
        else:
            return Invalid("不是数字")
        # A number of more digits than Decimal's precision (28) cannot be quantized, and no column holds it.
        if number.adjusted() + places >= 28:
            return Invalid(f"{format(number, 'f') if number.adjusted() < 40 else number} {beyond}")
        number = number.quantize(quantum, ROUND_HALF_UP)
        if positive and number <= 0:
            return Invalid(f"{number} 须大于 0")
        if minimum is not None and number < minimum:
            return Invalid(f"{number} 不能小于 {minimum}")
        if bound is not None and abs(number) >= bound:
            return Invalid(f"{number} {beyond}")
        return number

    return clean


# More digits than a 64-bit integer holds. Checked before int(): ``1e999999999`` typed in a cell is a short text
# whose int() would build a billion-digit number (minutes of CPU), and ``1e99999`` is past Python's int limit.
_INT_DIGITS = 19


def integer(minimum: int | None = None, maximum: int | None = None) -> Cleaner:
    def clean(value: Any) -> Any:
        if _blank(value):
            return None
        if isinstance(value, bool):
            return Invalid("不是整数")
        if isinstance(value, str):
            number = _decimal_text(_nfkc(value))
            if number is None:
                return Invalid(f"「{value.strip()}」不是整数") if value.strip() else None
        elif isinstance(value, int | float):
            number = Decimal(repr(value))
        else:
            return Invalid("不是整数")
        if number.adjusted() >= _INT_DIGITS:
            return Invalid(f"{number} 超出范围")
        if number != number.to_integral_value():
            return Invalid(f"{_plain(number)} 不是整数")
        result = int(number)
        if minimum is not None and result < minimum:
            return Invalid(f"{result} 不能小于 {minimum}")
        if maximum is not None and result > maximum:
            return Invalid(f"{result} 不能大于 {maximum}")
        return result

    return clean


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


# --- dates -----------------------------------------------------------------------------------------

# A time of day may follow: after a space or T, or straight after 日/号 (2024年3月5日10:30).
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*[日号])?(?:(?<=[日号])\d.*|[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_PERIOD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:月份?)?$")  # 「2026年12月份」, as a bill names its month
_COMPACT_PERIOD = re.compile(r"^(\d{4})(\d{2})$")
# Serial numbers of 1950-01-01 … 2099-12-31: a number outside is not a date someone meant.
_SERIAL_RANGE = (18264, 73415)


def _from_serial(serial: float) -> dt.date | Invalid:
    if not _SERIAL_RANGE[0] <= serial <= _SERIAL_RANGE[1]:
        return Invalid(f"{_number_text(serial)} 不是有效日期")
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def _ymd(year: str, month: str, day: str, shown: str) -> dt.date | Invalid:
    try:
        day_ = dt.date(int(year), int(month), int(day))
    except ValueError:
        return Invalid(f"{shown} 日期无效")
    if not YEARS[0] <= day_.year <= YEARS[1]:
        # typed 「0001-01-01」: stored as year 1, and a 收款时间 of it was an OverflowError (no row, no column named)
        return Invalid(f"{shown} 超出范围：年份应在 {YEARS[0]}–{YEARS[1]} 之间")
    return day_


def date() -> Cleaner:
    """``2024-03-05``, ``2024/3/5``, ``2024.03.05``, ``2024年3月5日`` (or ``5号``, as often said), ``20240305``, Excel
    serial ``45356``."""

    def clean(value: Any) -> Any:
        if _blank(value):
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, bool):
            return Invalid("不是日期")
        if isinstance(value, int | float):
            if value == int(value) and 10_000_000 <= value < 100_000_000:
                # 20260305 typed into a General cell is a number to Excel, yet the day it is as text
                return _ymd(*_COMPACT_DATE.match(str(int(value))).groups(), str(int(value)))
            return _from_serial(value)
        if not isinstance(value, str):
            return Invalid("不是日期")
        shown = _nfkc(value)
        if not shown:
            return None
        if m := _DATE.match(shown):
            return _ymd(*m.groups(), shown)
        if m := _COMPACT_DATE.match(shown):
            return _ymd(*m.groups(), shown)
        if _SERIAL.match(shown):
            return _from_serial(float(shown))
        return Invalid(f"「{shown}」不是日期（例如 2024-03-05）")

    return clean


_TIME = re.compile(r"(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2}))?")


def timestamp(tz: dt.tzinfo) -> Cleaner:
    """A date with an optional time of day, read in ``tz`` (Shanghai) and returned aware, in UTC."""
    read_date = date()

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            local = value if value.tzinfo else value.replace(tzinfo=tz)
            return local.astimezone(dt.UTC)
        if isinstance(value, float) and not value.is_integer():
            day = _from_serial(value)
            if isinstance(day, Invalid):
                return day
            seconds = round((value % 1) * 86400)
            local = dt.datetime.combine(day, dt.time(), tz) + dt.timedelta(seconds=seconds)
            return local.astimezone(dt.UTC)
        day = read_date(value)
        if not isinstance(day, dt.date):
            return day
        hour = minute = second = 0
        if isinstance(value, str):
            m = _TIME.search(re.split(r"[\sT日号]", _nfkc(value), maxsplit=1)[-1])
            if m:
                hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        try:
            local = dt.datetime.combine(day, dt.time(hour, minute, second), tz)
        except ValueError:
            return Invalid(f"「{value}」时间无效")
        return local.astimezone(dt.UTC)

    return clean


def period() -> Cleaner:
    """账期 YYYY-MM: ``2024-03``, ``2024/3``, ``2024年3月``, ``2024年3月份``, ``202403``, or a date (Excel turns 2024-03
    into one)."""

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, dt.date):
            return f"{value.year:04d}-{value.month:02d}"
        if isinstance(value, bool):
            return Invalid("不是账期")
        if isinstance(value, int | float):
            if float(value).is_integer() and 190001 <= value <= 210012:  # int has no is_integer() before 3.12
                value = _number_text(value)
            else:
                day = _from_serial(value)
                return day if isinstance(day, Invalid) else f"{day.year:04d}-{day.month:02d}"
        shown = _nfkc(str(value))
        m = _PERIOD.match(shown) or _COMPACT_PERIOD.match(shown)
        if not m:
            day = date()(shown)
            if isinstance(day, dt.date):
                return f"{day.year:04d}-{day.month:02d}"
            return Invalid(f"「{shown}」不是账期（例如 2024-03）")
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            return Invalid(f"{shown} 月份无效")
        return f"{year:04d}-{month:02d}"

    return clean


# --- personal data ---------------------------------------------------------------------------------

_SCI = re.compile(r"^\d(?:\.\d+)?[eE]\+?\d+$")
_FLOAT_TEXT = re.compile(r"^\d+\.0+$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")
# A landline and its extension: (021)58888888-8023, 021-58888888转8023, 021 5888 8888 ext. 8023, 58888888分机8023.
_EXTENSION = re.compile(r"^(.*?[0-9)）])\s*(?:-|转|分机|ext\.?)\s*([0-9]{1,6})$", re.IGNORECASE)
# A landline's own digits: 010 and 02x are three-digit area codes, every other one has four (0571, 0755); the local
# number starts with 2–9 and has 7 or 8 digits.
_AREA_AND_NUMBER = re.compile(r"^(?:(0[12][0-9])|(0[3-9][0-9]{2}))?([2-9][0-9]{6,7})$")
# A phone's digits are typed in groups of three or more (138 0000 0000, (021) 5888-8888, 0571-8888 8888): groups of
# one or two are a date or a code (2026-03-05, 12-34-56-78), not a phone.
_SHORT_GROUP = re.compile(r"(?:^|[\s\-()（）])[0-9]{1,2}(?=$|[\s\-()（）])")
_COUNTRY_CODE = re.compile(r"^\+?86(?=[\s\-])")  # +86 138 0000 0000
# Eight digits that read as a day of 1900–2099 (20260305, 19900307): a date typed without separators into a phone
# box or pasted into a shifted column — as 2026-03-05 is refused, so is 20260305. A landline whose number reads as a
# day is written with its area code (021-20260305), which no day has.
_DAY_DIGITS = r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DAY = re.compile(_DAY_DIGITS)


def _landline(digits: str) -> str | None:
    """A landline's digits as stored: ``021-58888888`` (the area code and the number parted by a dash, as with an
    extension) or ``58888888`` without an area code; None when they are no landline."""
    number = _AREA_AND_NUMBER.match(digits)
    if not number:
        return None
    area = number.group(1) or number.group(2)
    if not area and _DAY.fullmatch(digits):
        return None  # a day, not a number (see _DAY_DIGITS)
    return f"{area}-{number.group(3)}" if area else number.group(3)


def _with_extension(shown: str) -> str | None:
    """``021-58888888-8023`` for a landline typed with its extension (after -, 转, 分机 or ext), else None: the
    area code, the number and the extension parted by dashes, whatever separators were typed."""
    m = _EXTENSION.match(shown)
    if not m or _SHORT_GROUP.search(m.group(1)):
        return None
    number = _landline(_PHONE_SEPARATORS.sub("", m.group(1)))
    return f"{number}-{m.group(2)}" if number else None


def phone() -> Cleaner:
    """Mobile (11 digits, 1[3-9]…) or landline (an optional area code 0 + 2–3 digits, then a 7–8 digit number
    starting with 2–9), one normal form each: a mobile as its digits, a landline as ``021-58888888`` (its area code
    and number parted by a dash; ``58888888`` without one), with its extension as ``021-58888888-8023``. A number
    Excel showed as ``1.38E+10`` *text* has lost its digits; a date typed in a phone column (2026-03-05) is none."""

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, float | int) and not isinstance(value, bool):
            if not float(value).is_integer():
                return Invalid(f"{value} 不是电话号码")
            value = str(int(value))
        elif not isinstance(value, str):
            return Invalid("不是电话号码")
        shown = _nfkc(value)
        if not shown:
            return None
        if shown.isdigit():  # the usual cell: nothing to strip, no mask, no exponent (a column of 100,000 numbers)
            digits = shown
        elif "*" in shown:
            return MASKED
        elif _FLOAT_TEXT.match(shown):  # a number written out as a float (a CSV from pandas, a pasted float cell)
            digits = shown.partition(".")[0]
        elif _SCI.match(shown.replace(" ", "")):
            return Invalid(f"{shown} 是科学计数法，号码位数已丢失：请把该列设为文本后重新填写", shown)
        elif extended := _with_extension(shown):
            return extended
        else:
            if _SHORT_GROUP.search(_COUNTRY_CODE.sub("", shown)):
                return Invalid(f"{shown} 不是有效的电话号码", shown)
            digits = _PHONE_SEPARATORS.sub("", shown)
        if digits.startswith("+86"):
            digits = digits[3:]
        elif digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if _MOBILE.match(digits):
            return digits
        if landline := _landline(digits):
            return landline
        if _DAY.fullmatch(digits):
            return Invalid(f"{shown} 像是日期，不是电话号码：座机请连同区号填写（如 021-{digits}）", shown)
        return Invalid(f"{shown} 不是有效的电话号码", shown)

    return _canonical(clean, "1[3-9][0-9]{9}"
                             f"|(?!{_DAY_DIGITS}(?:-|$))"
                             "(?:0[12][0-9]-|0[3-9][0-9]{2}-)?[2-9][0-9]{6,7}(?:-[0-9]{1,6})?")


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# 18 characters whose birth date is a real day (29 February and the year 0 left to the cleaner).
_ID_CANONICAL = (
    "[0-9]{6}[1-9][0-9]{3}"
    "(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)|(?:0[13578]|1[02])31)"
    "[0-9]{3}[0-9X]"
)


def _id_check_right(value: str) -> bool:
    """Whether the 18th character of a canonical ID is its check digit, in one C call rather than 17 int()s: the
    weights are 2**(17-i) mod 11, and 13 ≡ 2 (mod 11), so the weighted sum ≡ 2 × (the 17 digits read in base 13)."""
    return _ID_CHECK[2 * int(value[:17], 13) % 11] == value[17]


def id_check_digit(first17: str) -> str:
    """The 18th character of a resident ID number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    if len(first17) != 17:
        raise ValueError(f"17 digits expected: {first17!r}")
    return _ID_CHECK[sum(map(operator.mul, map(int, first17), _ID_WEIGHTS)) % 11]


def id_number() -> Cleaner:
    """18-digit resident ID with its check digit (``x`` → ``X``); a 15-digit legacy number is converted."""

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, float | int) and not isinstance(value, bool):
            # Excel keeps 15 significant digits: the last digits of an ID typed as a number are gone.
            return Invalid("被 Excel 当成了数字，后几位已丢失：请把该列设为文本后重新填写")
        if not isinstance(value, str):
            return Invalid("不是身份证号")
        shown = "".join(_nfkc(value).split()).upper()
        if not shown:
            return None
        if "*" in shown:
            return MASKED
        if len(shown) == 15 and shown.isdigit():
            first17 = shown[:6] + "19" + shown[6:]
            return first17 + id_check_digit(first17)
        if len(shown) != 18 or not shown[:17].isdigit() or shown[17] not in "0123456789X":
            return Invalid(f"{shown} 不是 18 位身份证号", shown)
        if id_check_digit(shown[:17]) != shown[17]:
            return Invalid(f"{shown} 校验位错误", shown)
        try:
            dt.date(int(shown[6:10]), int(shown[10:12]), int(shown[12:14]))
        except ValueError:
            return Invalid(f"{shown} 出生日期无效", shown)
        return shown

    return _canonical(clean, _ID_CANONICAL, _id_check_right)


# --- choices ---------------------------------------------------------------------------------------

_TRUE = {"是", "有", "已", "y", "yes", "true", "1", "√", "✓", "✔", "对"}
_FALSE = {"否", "无", "未", "n", "no", "false", "0", "×", "✗", "x", "不是"}


def boolean(yes: tuple[str, ...] = (), no: tuple[str, ...] = ()) -> Cleaner:
    """是/否 (and their usual spellings), or the column's own words for them: 在职/离职 in a column 在职."""
    true, false = _TRUE | set(yes), _FALSE | set(no)

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            value = _number_text(value)
        shown = _nfkc(str(value)).lower()
        if not shown:
            return None
        if shown in true or shown.startswith("已"):
            return True
        if shown in false or shown.startswith(("未", "没")):
            return False
        return Invalid(f"「{shown}」应填 是 或 否")

    return clean


def choice(enum_cls: type[LabeledEnum], aliases: dict[str, LabeledEnum] | None = None) -> Cleaner:
    """An enum by its Chinese label (or stored value, or an alias)."""
    names = {_nfkc(m.label): m for m in enum_cls} | {m.value: m for m in enum_cls} | (aliases or {})
    allowed = "、".join(m.label for m in enum_cls)

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = _number_text(value)
        shown = "".join(_nfkc(str(value)).split())
        if not shown:
            return None
        member = names.get(shown)
        return member if member is not None else Invalid(f"「{shown}」不是可选值（{allowed}）")

    return clean


# 满意度 words on the usual five-point scale; a survey scored out of 10 scales them.
SATISFACTION_WORDS = {
    "非常满意": 5, "很满意": 5, "十分满意": 5,
    "满意": 4, "比较满意": 4, "较满意": 4,
    "基本满意": 3, "一般": 3,
    "不满意": 2, "不太满意": 2,
    "很不满意": 1, "非常不满意": 1,
}
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_POINTS = re.compile(r"^(\d+(?:\.\d+)?|[一二两三四五六七八九十])\s*分$")


def satisfaction(scale_max: int = 5) -> Cleaner:
    """A score 1 … ``scale_max``: a number, ``5分``/``五分``, or a word (非常满意 … 很不满意)."""

    def clean(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return Invalid("不是评分")
        if isinstance(value, str):
            shown = "".join(_nfkc(value).split())
            if not shown:
                return None
            if shown in SATISFACTION_WORDS:
                return round(SATISFACTION_WORDS[shown] * scale_max / 5)
            m = _POINTS.match(shown)
            if m:
                shown = str(_CN_DIGITS.get(m.group(1), m.group(1)))
            try:
                number = Decimal(shown)
            except InvalidOperation:
                return Invalid(f"「{shown}」不是评分（1–{scale_max} 分，或 非常满意/满意/基本满意/不满意/很不满意）")
        elif isinstance(value, int | float):
            number = Decimal(repr(value))
        else:
            return Invalid("不是评分")
        if number.is_finite() and number.adjusted() >= _INT_DIGITS:
            return Invalid(f"{number} 超出范围（1–{scale_max} 分）")
        if not number.is_finite() or number != number.to_integral_value():
            return Invalid(f"{_plain(number) if number.is_finite() else value} 不是整数分（1–{scale_max}）")
        score = int(number)
        if not 1 <= score <= scale_max:
            return Invalid(f"{score} 超出范围（1–{scale_max} 分）")
        return score

    return clean
