"""Writing .xlsx safely and readably: no user text ever becomes a live formula (E01). The one place an export's
look is decided — title row, frozen header, widths for Chinese headers, number, money, percentage and date
formats — whatever writes the file.

openpyxl writes any string starting with ``=`` as a formula; Excel also evaluates cells starting with
``+ - @`` and, after a TAB or CR, the rest. Such strings are written as explicit text cells. Small workbooks
(reports, templates) are built with openpyxl write-only; a list export, up to a million rows, is written
directly as the sheet's XML (:func:`stream_sheet`: a million rows of eight cells in ~15 s of CPU, memory flat).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

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
HEADER_FONT = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
TITLE_HEIGHT = 24
# Excel opens no cell of more than 32,767 characters (UTF-16 units: an emoji counts two) — it calls the whole file
# damaged. A longer stored text (a 诉求内容 pasted whole) is cut to the limit, saying so at its end.
CELL_TEXT_MAX = 32_767
CUT_MARK = "…（超出 Excel 单元格上限，以下已截断）"
# A rate as the pages show it (``rates.percent_text``: 46.9%) goes into a sheet as the number 0.469 shown 46.9%,
# so it can be summed and charted; "—" (no denominator) stays text.
_PERCENT = re.compile(r"-?\d+(\.\d+)?%")


def safe_cell(ws: WriteOnlyWorksheet, value: Any, *, font: Font | None = None) -> WriteOnlyCell:
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
        cell.value = within_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
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
    if font is not None:
        cell.font = font
    return cell


def within_cell(text: str) -> str:
    """``text``, cut to what one Excel cell holds (:data:`CELL_TEXT_MAX`) with :data:`CUT_MARK` at its end."""
    if len(text) <= CELL_TEXT_MAX // 2:  # the usual case, without counting: at most two UTF-16 units a character
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * CELL_TEXT_MAX:
        return text
    keep = units[: 2 * (CELL_TEXT_MAX - len(CUT_MARK))].decode("utf-16-le", "ignore")  # never half an emoji
    return keep + CUT_MARK


def write_sheet(
    wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, widths: Sequence[float] = (),
    caption: str | None = None,
) -> int:
    """Append a sheet: a title row (``caption``, else the sheet's title; ``""`` for none, as a template to fill in
    has), then a bold header row, both frozen so they stay in view; returns the number of data rows written.

    ``widths`` (characters, per column) must be known up front: a write-only sheet writes them first. Without
    them each column is as wide as its header needs — a Chinese character takes two — and at least 10.
    """
    ws = wb.create_sheet(title=title[:31])
    shown = title if caption is None else caption
    ws.freeze_panes = "A3" if shown else "A2"
    for i, width in enumerate(widths or [header_width(h) for h in header], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    if shown:  # one cell: its text runs on over the empty cells beside it
        ws.row_dimensions[1].height = TITLE_HEIGHT
        ws.append([safe_cell(ws, shown, font=TITLE_FONT)])
    ws.append([safe_cell(ws, h, font=HEADER_FONT) for h in header])
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


# --- A list export, up to a million rows: the sheet's XML written directly ------------------------------------
# A general writer costs minutes a million rows (XlsxWriter in constant memory: 214 µs a row of eight cells, measured
# on the loaded 2-core machine); a list export needs one sheet of typed cells and four styles, written here at
# ~7.5 µs of CPU a row, deflate included. Text cells are
# inline strings (no shared-string table to hold in memory), never formulas.
_EPOCH = dt.date(1899, 12, 30).toordinal()  # Excel's day 0 (1900 date system)
# What a text cell cannot carry as is: XML's specials, a CR (an XML reader turns it into LF, so Excel's
# ``_x000D_``), what XML cannot carry at all (left out), and text that already reads as such an escape
# (``_x005F_`` escapes its underscore, as Excel does).
_SPECIAL = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
# Text needing none of that, nor xml:space (no space at either end), nor a look for a rate (no %).
_PLAIN = re.compile(r"[^\s%_&<>\x00-\x1f\ufffe\uffff](?:[^%_&<>\x00-\x1f\ufffe\uffff]*[^\s%_&<>\x00-\x1f\ufffe\uffff])?")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "_x000D_"}
# cellXfs of the styles part below: 1 title, 2 header, then the number formats
_TITLE, _HEADER, _MONEY, _DATE, _DATETIME, _PERCENT_STYLE = (f' s="{i}"' for i in range(1, 7))
_FLUSH_ROWS = 2_000
# zlib's fastest level: a row of eight cells costs ~7.5 µs of CPU written and deflated, against ~13 µs at the
# default level 6 (measured, 100,000 bills' rows); the file is ~35 % larger.
ZIP_LEVEL = 1

_NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PACKAGE = {
    "[Content_Types].xml": _HEAD + (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'),
    "_rels/.rels": _HEAD + (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="xl/workbook.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
        '</Relationships>'),
    "xl/_rels/workbook.xml.rels": _HEAD + (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
        '<Relationship Id="rId2" Target="styles.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"/></Relationships>'),
    "xl/styles.xml": _HEAD + (
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<numFmts count="4"><numFmt numFmtId="164" formatCode="{MONEY_FORMAT}"/>'
        f'<numFmt numFmtId="165" formatCode="{DATE_FORMAT}"/><numFmt numFmtId="166" formatCode="{DATETIME_FORMAT}"/>'
        f'<numFmt numFmtId="167" formatCode="{PERCENT_FORMAT}"/></numFmts>'
        '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        f'<font><b/><sz val="{TITLE_FONT.size:g}"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        + "".join(f'<xf numFmtId="{n}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
                  for n in range(164, 168))
        + '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>'),
}


def stream_sheet(path: Any, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
                 widths: Sequence[float] = (), caption: str | None = None) -> int:
    """Write one sheet to ``path`` as :func:`write_sheet` lays it out (a title row, the bold header, both frozen in
    view, the widths, typed cells), streaming: rows go to a temporary file as they come, then into the zip, so
    memory stays flat however many there are. Returns the rows."""
    shown = title if caption is None else caption
    top = 2 if shown else 1  # the header's row
    letters = [get_column_letter(i) for i in range(1, max(len(header), 1) + 1)]
    n = 0
    with tempfile.TemporaryFile() as data:
        buf = []
        if shown:  # one cell: its text runs on over the empty cells beside it
            buf.append(f'<row r="1" ht="{TITLE_HEIGHT}" customHeight="1">{_text("A1", shown, _TITLE)}</row>')
        titles = "".join(_text(f"{c}{top}", str(h), _HEADER) for c, h in zip(letters, header, strict=False))
        buf.append(f'<row r="{top}">{titles}</row>')
        for n, row in enumerate(rows, start=1):
            r = str(top + n)
            # one dict look-up by the value's type per cell: the inner loop of a million rows
            cells = [_CELLS.get(type(v), _cell)(c + r, v) for c, v in zip(letters, row, strict=False) if v is not None]
            buf.append(f'<row r="{r}">{"".join(cells)}</row>')
            if n % _FLUSH_ROWS == 0:
                data.write("".join(buf).encode("utf-8", "replace"))
                buf.clear()
        data.write("".join(buf).encode("utf-8", "replace"))
        last = max(top + n, 1)
        cols = "".join(f'<col min="{i}" max="{i}" width="{_stored_width(w)}" customWidth="1"/>'
                       for i, w in enumerate(widths or [header_width(h) for h in header], start=1))
        pane = f'<pane ySplit="{top}" topLeftCell="A{top + 1}" activePane="bottomLeft" state="frozen"/>'
        head = (f'{_HEAD}<worksheet {_NS}><dimension ref="A1:{letters[-1]}{last}"/><sheetViews>'
                f'<sheetView tabSelected="1" workbookViewId="0">{pane}<selection pane="bottomLeft"/></sheetView>'
                f'</sheetViews><sheetFormatPr defaultRowHeight="15"/>{f"<cols>{cols}</cols>" if cols else ""}'
                '<sheetData>').encode()
        tail = (b'</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
                b'</worksheet>')
        workbook = (f'{_HEAD}<workbook {_NS}><bookViews><workbookView/></bookViews><sheets>'
                    f'<sheet name="{escape(sheet_title(title, set()), {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/>'
                    '</sheets></workbook>')
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as book:
            for name, text in (*_PACKAGE.items(), ("xl/workbook.xml", workbook)):
                book.writestr(name, text)
            size = len(head) + data.tell() + len(tail)
            data.seek(0)
            # ZIP64 only for a sheet past 2 GB (its size is known: the rows are all written)
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=size * 1.05 > zipfile.ZIP64_LIMIT) as out:
                out.write(head)
                shutil.copyfileobj(data, out, 1 << 20)
                out.write(tail)
    return n


def _stored_width(width: float) -> float:
    # What Excel stores for a column ``width`` characters wide (7-pixel digits, 5 pixels of padding), as XlsxWriter
    # and Excel itself write it.
    return int((int(max(width, 1) * 7 + 0.5) + 5) / 7 * 256) / 256


def _escaped(match: re.Match) -> str:
    found = match.group()
    return _ESCAPES.get(found, "") if len(found) == 1 else "_x005F" + found


def _text(ref: str, value: str, style: str = "") -> str:
    value = within_cell(value)
    if _SPECIAL.search(value):
        value = _SPECIAL.sub(_escaped, value)
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'


def _str_cell(ref: str, value: str) -> str:
    if _PLAIN.fullmatch(value) and len(value) <= CELL_TEXT_MAX // 2:  # most text: written as it is
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
    if value.endswith("%") and _PERCENT.fullmatch(value):
        return f'<c r="{ref}"{_PERCENT_STYLE}><v>{Decimal(value[:-1]) / 100}</v></c>'
    return _text(ref, value)


def _float(ref: str, value: float) -> str:
    return f'<c r="{ref}"><v>{value!r}</v></c>' if math.isfinite(value) else _text(ref, str(value))


def _datetime_cell(ref: str, value: dt.datetime) -> str:
    if value.tzinfo is not None:
        from models import SHANGHAI

        value = value.astimezone(SHANGHAI)
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return f'<c r="{ref}"{_DATETIME}><v>{value.toordinal() - _EPOCH + seconds / 86400!r}</v></c>'


_CELLS: dict[type, Callable[[str, Any], str]] = {
    str: _str_cell,
    int: lambda ref, v: f'<c r="{ref}"><v>{v}</v></c>',
    bool: lambda ref, v: _text(ref, "是" if v else "否"),
    float: _float,
    Decimal: lambda ref, v: f'<c r="{ref}"{_MONEY}><v>{v}</v></c>' if v.is_finite() else _text(ref, str(v)),
    dt.date: lambda ref, v: f'<c r="{ref}"{_DATE}><v>{v.toordinal() - _EPOCH}</v></c>',
    dt.datetime: _datetime_cell,
}


def _cell(ref: str, value: Any) -> str:
    """One typed cell, as :func:`safe_cell` types it: dates as dates, money as numbers, a rate as a percentage,
    enums by their label, anything else as its text — never a formula."""
    kind = type(value)
    if issubclass(kind, LabeledEnum):
        write = _label
    else:  # a subclass as its base (the most derived first); anything else as its text
        write = next((_CELLS[base] for base in (dt.datetime, dt.date, Decimal, float, int, str)
                      if issubclass(kind, base)), _as_text)
    _CELLS[kind] = write  # found once per type: each enum is one
    return write(ref, value)


def _label(ref: str, value: LabeledEnum) -> str:
    return _str_cell(ref, value.label)


def _as_text(ref: str, value: Any) -> str:
    return _text(ref, str(value))
