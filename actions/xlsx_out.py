"""Writing .xlsx safely: openpyxl write-only, and no user text ever becomes a live formula (E01).

openpyxl writes any string starting with ``=`` as a formula; Excel also evaluates cells starting with
``+ - @`` and, after a TAB or CR, the rest. Such strings are written as explicit text cells.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from models import LabeledEnum

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
PERCENT_FORMAT = "0.0%"
# A rate as the pages show it (``rates.percent_text``: 46.9%) goes into a sheet as the number 0.469 shown 46.9%,
# so it can be summed and charted; "—" (no denominator) stays text.
_PERCENT = re.compile(r"-?\d+(\.\d+)?%")


def safe_cell(ws: WriteOnlyWorksheet, value: Any, *, bold: bool = False) -> WriteOnlyCell:
    """A typed cell: dates as dates, money as numbers, enums by their label, risky text as text."""
    if isinstance(value, LabeledEnum):
        value = value.label
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        from models import SHANGHAI

        value = value.astimezone(SHANGHAI).replace(tzinfo=None)
    cell = WriteOnlyCell(ws, value=None)
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        cell.value = Decimal(value[:-1]) / 100
        cell.number_format = PERCENT_FORMAT
    elif isinstance(value, str):
        # What XML cannot carry (a control character stored before it was refused) is left out, not fatal.
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"  # never "f", whatever the text starts with
    elif isinstance(value, bool):
        cell.value = "是" if value else "否"
    else:
        cell.value = value
        if isinstance(value, Decimal):
            cell.number_format = MONEY_FORMAT
        elif isinstance(value, dt.datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, dt.date):
            cell.number_format = DATE_FORMAT
    if bold:
        cell.font = Font(bold=True)
    return cell


def write_sheet(
    wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, widths: Sequence[float] = ()
) -> int:
    """Append a sheet with a bold header row, frozen so it stays in view; returns the number of data rows written.

    ``widths`` (characters, per column) must be known up front: a write-only sheet writes them first. Without
    them each column is as wide as its header needs — a Chinese character takes two — and at least 10.
    """
    ws = wb.create_sheet(title=title[:31])
    ws.freeze_panes = "A2"
    for i, width in enumerate(widths or [header_width(h) for h in header], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append([safe_cell(ws, h, bold=True) for h in header])
    n = 0
    for row in rows:
        ws.append([safe_cell(ws, v) for v in row])
        n += 1
    return n


def header_width(text: Any) -> float:
    """Column width (in Excel's characters) that shows ``text`` whole: CJK and full-width characters count two."""
    shown = str(text or "")
    return min(50.0, max(10.0, sum(2 if ord(c) > 0x2E7F else 1 for c in shown) + 2.0))


def new_workbook() -> Workbook:
    return Workbook(write_only=True)


def to_bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_title(text: str, taken: set[str]) -> str:
    """A sheet title Excel accepts (≤ 31 characters, none of ``[]:*?/\\``), unique within ``taken``,
    which it joins: project names may be long, alike in their first 31 characters, or contain a slash."""
    base = _SHEET_FORBIDDEN.sub("_", text).strip("'") or "Sheet"
    title, n = base[:31], 1
    while title.lower() in {t.lower() for t in taken}:
        n += 1
        suffix = f"({n})"
        title = base[: 31 - len(suffix)] + suffix
    taken.add(title)
    return title


@dataclass(frozen=True)
class XlsxFile:
    """A workbook made in memory, ready to download."""

    filename: str
    content: bytes
    rows: int
