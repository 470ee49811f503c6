"""Reading an uploaded spreadsheet safely: the container is checked before any parser sees it.

Refused before parsing (X09–X16): a file over the size limit; anything that is not an .xlsx workbook (or, where
the kind allows it, a UTF-8 / GB18030 CSV); legacy .xls, password-protected workbooks, macro workbooks; then
the gate (``gate``) inflates every part and reads the bounds of its XML — sizes, ratio, DTDs, every cell's
position, rows, columns, cells, shared strings — refusing the first one passed. The small package parts are
parsed with defusedxml. Only then are the cells read, with python-calamine (~10× faster than openpyxl read-only here). A formula is
data, never evaluated: calamine returns its cached value; one without a cached value is listed in
``Sheet.formulas`` so the pipeline can say so.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import queue
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import python_calamine
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from ..errors import Refused
from .gate import (
    CORRUPT,
    LIMITS,
    SPLIT,
    UNSAFE,
    Limits,
    check_inflated,
    check_package,
    column_index,
    mb,
    resolve,
)


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[Any]]
    # (first row, first col, last row, last col), 0-based like ``rows``.
    merged: tuple[tuple[int, int, int, int], ...] = ()
    # (row, col) of formulas that carry no cached value: calamine reads them as empty.
    formulas: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    # (row, col) → the error value a cell holds (#N/A, #DIV/0! …): calamine reads it as empty too.
    errors: dict[tuple[int, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Book:
    file_name: str
    file_hash: str
    format: str  # "xlsx" | "csv"
    sheets: tuple[Sheet, ...]
    # A workbook read a piece at a time (``read_book``'s ``piece_rows``): its one sheet's ``rows`` hold the pieces
    # read so far; :class:`Pieces` reads on.
    pieces: Pieces | None = None


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
WORKBOOK_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
}
MACRO_TYPES = {
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
}
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
SHARED_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
NS_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
NOT_XLSX = "无法识别的文件格式：请上传 Excel 工作簿（.xlsx）"


def check_size(size: int, limits: Limits = LIMITS) -> None:
    """A file of ``size`` bytes is refused past the bound — before it is read, where its size is known first (a
    file on disk)."""
    if size > limits.max_bytes:
        raise Refused(f"文件过大（{mb(size)}），上限 {mb(limits.max_bytes)}")


def read_book(data: bytes, file_name: str, *, allow_csv: bool = False, limits: Limits = LIMITS,
              meanwhile: Callable[[int], None] | None = None, piece_rows: int | None = None) -> Book:
    """Check ``data`` and read its visible sheets, or raise :class:`Refused` saying in Chinese why not.

    ``meanwhile(size)`` — work of the caller's that needs no cell (the database reads an import's check will use),
    given the workbook's size in bytes — runs while calamine parses the sheets, which it does without holding the
    GIL (1.2 of a 100,000-row survey's 1.5 s read): on a second core the two overlap. It runs only once the safe-file
    gate has passed, and at most once; a CSV or a refused file never runs it.

    ``piece_rows``: a workbook of one worksheet as spreadsheet programs write it (no formula, no '#' that may be an
    error value, the gate's quick scan passed it whole) is returned with its first rows only and :attr:`Book.pieces`, which reads on — each stretch of
    about ``piece_rows`` rows parsed by calamine in a thread of its own while the caller works on the rows before."""
    if not data:
        raise Refused("文件为空")
    check_size(len(data), limits)
    digest = hashlib.sha256(data).hexdigest()
    name = PurePosixPath(file_name.replace("\\", "/")).name or "upload"
    suffix = PurePosixPath(name).suffix.lower()
    if data.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise Refused("文件设置了打开密码（已加密），无法读取：请在 Excel 中取消密码后另存为 .xlsx 再导入")
        raise Refused("这是 Excel 97-2003 旧格式（.xls）文件：请在 Excel 中“另存为”.xlsx 后再导入")
    if data.startswith(ZIP_MAGIC):
        sheets, pieces = _read_xlsx(data, limits, meanwhile, piece_rows)
        return Book(name, digest, "xlsx", sheets, pieces)
    text = _as_text(data)
    if text is None:
        raise Refused(NOT_XLSX)
    if not allow_csv:
        raise Refused("这是 CSV 文本文件，不是 Excel 工作簿：请在 Excel 中“另存为”.xlsx 后再导入")
    if suffix != ".csv":
        raise Refused(f"文件扩展名是 {suffix or '（无）'}，内容却是 CSV 文本：CSV 文件请以 .csv 结尾，或另存为 .xlsx")
    return Book(name, digest, "csv", (_read_csv(text, PurePosixPath(name).stem, limits),))


# --- xlsx ------------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, limits: Limits, meanwhile: Callable[[int], None] | None = None,
               piece_rows: int | None = None) -> tuple[tuple[Sheet, ...], Pieces | None]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise Refused(CORRUPT) from exc
    if len(infos) > limits.max_parts:
        raise Refused(f"文件结构异常（包含 {len(infos)} 个部件），已拒绝导入")
    if any(i.flag_bits & 0x1 for i in infos):
        raise Refused("文件已加密，无法读取：请取消密码后另存为 .xlsx 再导入")
    # The declared sizes first: the small parts below are read whole, and zipfile trusts them.
    check_inflated(sum(i.file_size for i in infos), len(data), limits)
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names:
        raise Refused(NOT_XLSX)
    types = _content_types(zf)
    main = [part for part, kind in types.items() if kind in WORKBOOK_TYPES | MACRO_TYPES]
    if any(types[p] in MACRO_TYPES for p in main) or any(n.lower().endswith("vbaproject.bin") for n in names):
        raise Refused("文件包含宏（.xlsm），为安全起见不予导入：请另存为不含宏的 .xlsx 后再导入")
    if len(main) != 1 or main[0].lstrip("/") not in names:
        raise Refused(NOT_XLSX)
    sheets = _sheet_parts(zf, main[0], names)
    # Whatever a reader may take for a worksheet or the shared strings goes through the gate's checks.
    for part, kind in types.items():
        if kind == WORKSHEET_TYPE and part.lstrip("/") in names:
            sheets.setdefault(part.lstrip("/"), part.lstrip("/"))
    strings = {p.lstrip("/") for p, kind in types.items() if kind == SHARED_TYPE} & names
    strings |= {n for n in names if n.lower().endswith("sharedstrings.xml")}
    kept: dict[str, tuple[bytes, int]] | None = {} if piece_rows is not None else None
    with_formulas = check_package(data, infos, sheets, strings - set(sheets), limits, kept)
    # A sheet that may hold formulas or error values (a '#' in its text) is read whole: its unread cells are found
    # over the whole part, and a piece's calamine would read them as empty all the same.
    if kept and len(sheets) == 1 and not with_formulas and (part := next(iter(sheets))) in kept:
        pieces = Pieces.of(data, zf, part, *kept.pop(part), piece_rows)
        if pieces is not None:
            if meanwhile is not None:
                try:
                    meanwhile(len(data))
                except BaseException:
                    pieces.close()
                    raise
            return (pieces.sheet,), pieces
    formulas = _unread_by_sheet(zf, sheets, with_formulas)
    if meanwhile is None:
        return _calamine(data, formulas, limits), None
    # Only past the gate: calamine parses in a thread of its own (releasing the GIL), the caller's work runs here.
    outcome: list = []
    worker = threading.Thread(target=_calamine_into, args=(outcome, data, formulas, limits), name="calamine")
    worker.start()
    try:
        meanwhile(len(data))
    finally:
        worker.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0], None


def _calamine_into(outcome: list, data: bytes, formulas: dict[str, Unread], limits: Limits) -> None:
    """:func:`_calamine` in a worker thread: its sheets, or what it raised (handed to the caller's thread)."""
    try:
        outcome.append(_calamine(data, formulas, limits))
    except BaseException as exc:  # a refusal or pyo3's PanicException: raised again in the caller's thread
        outcome.append(exc)


def _calamine(data: bytes, formulas: dict[str, Unread], limits: Limits) -> tuple[Sheet, ...]:
    """The visible worksheets' cells, read by python-calamine (a file the gate has passed)."""
    with _refused():
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        out = []
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            if meta.visible != python_calamine.SheetVisibleEnum.Visible:
                continue  # hidden sheets hold drop-down lists and the like, not data
            sheet = workbook.get_sheet_by_name(meta.name)
            merged = tuple((a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or ()))
            cells, errors = formulas.get(meta.name, (frozenset(), {}))
            rows = _reaching(sheet.to_python(skip_empty_area=False), cells | errors.keys(), meta.name, limits)
            out.append(Sheet(meta.name, rows, merged, cells, errors))
    return tuple(out)


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    """calamine's errors as refusals, in Chinese."""
    try:
        yield
    except python_calamine.PasswordError as exc:
        raise Refused("文件设置了密码，无法读取：请取消密码后另存为 .xlsx 再导入") from exc
    except python_calamine.CalamineError as exc:
        raise Refused(CORRUPT) from exc
    except BaseException as exc:
        # A Rust panic reaches Python as pyo3's PanicException, a BaseException: one file's bad bytes,
        # never a reason to end the request (or the process) any other way than a refusal.
        if type(exc).__name__ != "PanicException":
            raise
        raise Refused(CORRUPT) from exc


# A piece's sheet holds at least this many times the bytes of the shared strings, which calamine reads again for
# each piece.
STRINGS_SHARE = 8
_SHEET_DATA_END = b"</sheetData>"
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]{1,3})([1-9][0-9]{0,8}):([A-Z]{1,3})([1-9][0-9]{0,8})"\s*/>')


class Pieces:
    """A worksheet's rows read a piece at a time: its ``<sheetData>`` cut at row ends into stretches of about the
    rows asked for, each one packed (uncompressed) with the workbook's other parts and parsed by calamine in a thread
    of its own — which releases the GIL while it parses — while the caller's thread works on the rows before.
    Only text the gate's quick scan passed is cut (``check_package``'s ``kept``), so each stretch holds whole rows and
    cells as spreadsheet programs write them, within the file's bounds. :attr:`sheet`'s ``rows`` grow as
    :meth:`more` takes each piece in, placed where calamine reads them in the whole sheet."""

    def __init__(self, sheet: Sheet, parts: dict[str, bytes], part: str, xml: bytes, cuts: list[tuple[int, int]],
                 max_row: int, estimate: int) -> None:
        self.sheet = sheet
        self.max_row = max_row  # every row number of the sheet is at most this
        self.estimate = estimate  # the rows in all, for the progress bar
        self._done = False
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(parts, part, xml, cuts), name="calamine-pieces",
                                        daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, data: bytes, zf: zipfile.ZipFile, part: str, xml: bytes, max_row: int, piece_rows: int) -> Pieces | None:
        """The pieces of the worksheet ``part`` (inflated: ``xml``), or None where the workbook is not one visible
        worksheet or its merged cells are written otherwise than spreadsheet programs write them."""
        with _refused():
            workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            metas = workbook.sheets_metadata
        if len(metas) != 1 or metas[0].typ != python_calamine.SheetTypeEnum.WorkSheet \
                or metas[0].visible != python_calamine.SheetVisibleEnum.Visible:
            return None
        begin = xml.find(b">", xml.find(b"<sheetData")) + 1
        end = xml.find(_SHEET_DATA_END, begin)
        if xml[begin - 2:begin] == b"/>" or end < 0:
            return None
        tail = xml[end:]
        merges = _MERGE.findall(tail)
        if len(merges) != tail.count(b"<mergeCell "):
            return None
        merged = tuple((int(r0) - 1, column_index(c0.decode()) - 1, int(r1) - 1, column_index(c1.decode()) - 1)
                       for c0, r0, c1, r1 in merges)
        parts = {info.filename: zf.read(info) for info in zf.infolist() if not info.is_dir() and info.filename != part}
        strings = sum(len(v) for k, v in parts.items() if k.lower().endswith("sharedstrings.xml"))
        rows = max(xml.count(b"</row>", begin, end), 1)
        size = max((end - begin) * piece_rows // rows, STRINGS_SHARE * strings, 1)
        cuts = []
        pos = begin
        while pos < end:
            cut = xml.find(b"</row>", min(pos + size, end), end)
            cut = end if cut < 0 else cut + len(b"</row>")
            cuts.append((pos, cut))
            pos = cut
        return cls(Sheet(metas[0].name, [], merged), parts, part, xml, cuts, max_row, rows)

    def _read(self, parts: dict[str, bytes], part: str, xml: bytes, cuts: list[tuple[int, int]]) -> None:
        head, tail = _PIECE_HEAD, _PIECE_TAIL
        try:
            for begin, end in cuts:
                with _refused():
                    package = io.BytesIO()
                    with zipfile.ZipFile(package, "w", zipfile.ZIP_STORED) as zf:
                        for name, content in parts.items():
                            zf.writestr(name, content)
                        zf.writestr(part, b"".join((head, xml[begin:end], tail)))
                    package.seek(0)
                    workbook = python_calamine.CalamineWorkbook.from_filelike(package)
                    sheet = workbook.get_sheet_by_index(0)
                    piece = (sheet.start, sheet.to_python(skip_empty_area=True))
                if not self._put(piece):
                    return
        except BaseException as exc:  # a refusal or pyo3's PanicException: raised again in the caller's thread
            self._put(exc)
            return
        self._put(None)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def more(self) -> bool:
        """Take the next piece's rows in; False once every piece is in."""
        if self._done:
            return False
        item = self._queue.get()
        if item is None:
            self._done = True
            return False
        if isinstance(item, BaseException):
            self._done = True
            raise item
        start, rows = item
        if start is None:  # nothing with a value in this stretch
            return True
        top, left = start
        into = self.sheet.rows
        into += [[] for _ in range(top - len(into))]
        into += rows if not left else [[""] * left + row for row in rows]
        return True

    def rows_at_most(self, most: int) -> bool:
        """Whether the sheet holds at most ``most`` rows (known before they are read: from its row numbers)."""
        return self.max_row <= most

    def wait(self, rows: int) -> None:
        """Take pieces in until ``rows`` rows are (or every piece is)."""
        while len(self.sheet.rows) < rows and self.more():
            pass

    def rest(self) -> None:
        """Take every piece in: the sheet as a whole read would give it."""
        while self.more():
            pass

    def close(self) -> None:
        """Stop reading (the caller has all it wants, or gave up)."""
        self._stop.set()
        self._thread.join()


_PIECE_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats'
               b'.org/spreadsheetml/2006/main"><sheetData>')
_PIECE_TAIL = b"</sheetData></worksheet>"


def _reaching(rows: list[list[Any]], cells: frozenset[tuple[int, int]], sheet: str, limits: Limits) -> list[list[Any]]:
    """``rows`` grown to hold every formula cell without a cached value: calamine ends the grid at the last cell
    with a value, so rows (or columns) of such formulas at the bottom (or right) would not be read at all."""
    if not cells:
        return rows
    height = max(r for r, _ in cells) + 1
    width = max(max(c for _, c in cells) + 1, max(map(len, rows), default=0))
    if height > limits.max_row_number or width > limits.max_cols or height * width > limits.max_cells:
        raise Refused(f"工作表「{sheet}」单元格区域过大：公式单元格延伸到第 {height:,} 行、第 {width:,} 列；{SPLIT}")
    rows += [[] for _ in range(height - len(rows))]
    for row in rows:
        if len(row) < width:
            row += [""] * (width - len(row))
    return rows


def _sheet_parts(zf: zipfile.ZipFile, main: str, names: set[str]) -> dict[str, str]:
    """Each worksheet part the workbook names → its sheet name. A target is taken both as the package
    resolves it and as a lenient reader might, so no part a reader opens as a sheet escapes the gate."""
    main_path = PurePosixPath(main.lstrip("/"))
    rels_name = str(main_path.parent / "_rels" / (main_path.name + ".rels"))
    if rels_name not in names:
        raise Refused(CORRUPT)
    targets = {el.get("Id"): el.get("Target", "") for el in _parse(zf, rels_name).iter(f"{NS_PKG_REL}Relationship")}
    parts: dict[str, str] = {}
    for sheet in _parse(zf, str(main_path)).iter(f"{NS_MAIN}sheet"):
        target = targets.get(sheet.get(f"{NS_REL}id"))
        if not target:
            continue
        clean = target.replace("\\", "/")
        for part in (resolve(main_path.parent, clean), clean.lstrip("/"), f"xl/{clean.lstrip('/')}"):
            if part in names:
                parts.setdefault(part, sheet.get("name", ""))
    return parts


def _parse(zf: zipfile.ZipFile, name: str):
    try:
        return SafeET.fromstring(zf.read(name), forbid_dtd=True)
    except DefusedXmlException as exc:
        raise Refused(UNSAFE) from exc
    except (SafeET.ParseError, KeyError) as exc:
        raise Refused(CORRUPT) from exc


def _content_types(zf: zipfile.ZipFile) -> dict[str, str]:
    root = _parse(zf, "[Content_Types].xml")
    return {el.get("PartName", ""): el.get("ContentType", "") for el in root.iter(f"{NS_TYPES}Override")}


_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]+)([0-9]+)"')
_CACHED = re.compile(rb"<v>[^<]")  # openpyxl writes an empty <v /> after a formula it did not compute
_ERROR = re.compile(rb'\bt="e"')
_VALUE = re.compile(rb"<v>([^<]{1,32})</v>")
# Per sheet: the formulas without a cached value, and the cells holding an error value (→ the error).
Unread = tuple[frozenset[tuple[int, int]], dict[tuple[int, int], str]]


def _unread_by_sheet(zf: zipfile.ZipFile, sheets: dict[str, str], parts: set[str]) -> dict[str, Unread]:
    """The cells calamine reads as empty though they are not, per sheet name (only the sheets the gate found
    formulas or error values in): formulas with no cached value, and error values (#N/A of a VLOOKUP that found
    nothing, kept by a paste of values)."""
    out: dict[str, Unread] = {}
    for part, name in sheets.items():
        if part not in parts:
            continue
        cells, errors = set(), {}
        for match in _CELL.finditer(zf.read(part)):
            body = match.group(2) or b""
            formula = b"<f" in body and not _CACHED.search(body)
            error = _ERROR.search(match.group(1))
            if not (formula or error):
                continue
            ref = _REF.search(match.group(1))
            if ref is None:
                continue
            at = (int(ref.group(2)) - 1, column_index(ref.group(1).decode()) - 1)
            if formula:
                cells.add(at)
            elif value := _VALUE.search(body):
                errors[at] = value.group(1).decode("utf-8", "replace")
        out[name] = (frozenset(cells), errors)
    return out


# --- csv -------------------------------------------------------------------------------------------


def _as_text(data: bytes) -> str | None:
    """The file as text if it is UTF-8 (with or without BOM), UTF-16 with its BOM, or GB18030 (GBK) text, else
    None. Big5 and Shift-JIS files also decode as GB18030, into nonsense: they are named and refused."""
    bomless = _utf16_without_bom(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = (bomless,) if bomless else ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:4096]
        # Binary data is full of control characters; a text with a stray one (a \x07 typed into a name) is
        # text, and the one is dropped on its way in.
        if sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n") > max(2, len(sample) // 100):
            return None
        if encoding == "gb18030" and not _looks_chinese(text[:4096]):
            raise Refused("CSV 文件的编码不受支持（看起来是 Big5 繁体或 Shift-JIS 日文编码）：请在 Excel 中另存为 .xlsx，"
                          "或另存为“CSV UTF-8（逗号分隔）”后再导入")
        return text
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without its BOM (some systems export so): each comma, digit and line end leaves a NUL in every
    other byte — one side only — which UTF-8 and GBK text never hold. Read as such, not called 无法识别 (X18)."""
    sample = data[:4096]
    if len(data) % 2 or len(sample) < 8:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= len(sample) // 16 and odd > 4 * even:
        return "utf-16-le"
    if even >= len(sample) // 16 and even > 4 * odd:
        return "utf-16-be"
    return None


def _looks_chinese(text: str) -> bool:
    """Simplified Chinese text in GBK keeps nearly all its characters within GB2312; Big5 or Shift-JIS bytes
    read as GBK land mostly outside it, or in the private use area."""
    wide = [ch for ch in text if ord(ch) > 127]
    if not wide:
        return True
    if any("\ue000" <= ch <= "\uf8ff" for ch in wide):
        return False
    common = sum(1 for ch in wide if ch.encode("gb2312", "ignore"))
    return common >= 0.9 * len(wide)


def _read_csv(text: str, name: str, limits: Limits) -> Sheet:
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[Any]] = []
    cells = 0
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for row in reader:
            if len(rows) > limits.max_row_number:
                raise Refused(f"文件行数过多（超过 {limits.max_rows} 行），请拆分后分批导入")
            if len(row) > limits.max_cols:
                raise Refused(f"CSV 文件第 {reader.line_num} 行列数过多（{len(row):,} 列，上限 {limits.max_cols} 列）")
            cells += len(row)
            if cells > limits.max_cells:
                raise Refused(f"CSV 文件单元格过多（超过 {limits.max_cells:,} 个），请拆分后分批导入")
            rows.append(row)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise Refused(f"CSV 文件第 {reader.line_num} 行有单元格过长（超过 {csv.field_size_limit():,} 个字符）："
                          "请检查引号是否成对") from exc
        raise Refused(f"CSV 文件第 {reader.line_num} 行格式有误（引号或换行不成对），请用 Excel 打开后另存为 .xlsx") from exc
    return Sheet(name, rows)
