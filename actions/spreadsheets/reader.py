"""Reading an uploaded spreadsheet safely: the container is checked before any parser sees it.

Refused before parsing (X09–X15): a file over the size limit; anything that is not an .xlsx workbook (or, where
the kind allows it, a UTF-8 / GB18030 CSV); legacy .xls, password-protected workbooks, macro workbooks; a zip
whose parts inflate past the limit or the ratio — every part is inflated and counted, because zip headers can
lie — and any DTD or entity declaration (XML bombs, XXE). The small package parts are parsed with defusedxml.
Only then are the cells read, with python-calamine (~10× faster than openpyxl read-only here). A formula is
data, never evaluated: calamine returns its cached value; one without a cached value is listed in
``Sheet.formulas`` so the pipeline can say so.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import python_calamine
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from ..errors import Refused

MiB = 1024 * 1024
# Title, header and footer rows allowed on top of the data-row cap.
ROW_SLACK = 100


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * MiB
    max_uncompressed: int = 100 * MiB
    max_ratio: int = 100
    max_rows: int = 200_000
    max_parts: int = 2_000


LIMITS = Limits()


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[Any]]
    # (first row, first col, last row, last col), 0-based like ``rows``.
    merged: tuple[tuple[int, int, int, int], ...] = ()
    # (row, col) of formulas that carry no cached value: calamine reads them as empty.
    formulas: frozenset[tuple[int, int]] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Book:
    file_name: str
    file_hash: str
    format: str  # "xlsx" | "csv"
    sheets: tuple[Sheet, ...]


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
NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
NS_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
CHUNK = 4 * MiB
DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
FORMULA_MARKERS = (b"<f>", b"<f ")

NOT_XLSX = "无法识别的文件格式：请上传 Excel 工作簿（.xlsx）"
UNSAFE = "文件格式不安全（含有 DTD/实体声明），已拒绝导入"
CORRUPT = "文件已损坏或不是有效的 .xlsx 工作簿，请用 Excel 打开后重新“另存为”.xlsx"


def _mb(n: int) -> str:
    return f"{n / MiB:.1f} MB"


def read_book(data: bytes, file_name: str, *, allow_csv: bool = False, limits: Limits = LIMITS) -> Book:
    """Check ``data`` and read its visible sheets, or raise :class:`Refused` saying in Chinese why not."""
    if not data:
        raise Refused("文件为空")
    if len(data) > limits.max_bytes:
        raise Refused(f"文件过大（{_mb(len(data))}），上限 {_mb(limits.max_bytes)}")
    digest = hashlib.sha256(data).hexdigest()
    name = PurePosixPath(file_name.replace("\\", "/")).name or "upload"
    suffix = PurePosixPath(name).suffix.lower()
    if data.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise Refused("文件设置了打开密码（已加密），无法读取：请在 Excel 中取消密码后另存为 .xlsx 再导入")
        raise Refused("这是 Excel 97-2003 旧格式（.xls）文件：请在 Excel 中“另存为”.xlsx 后再导入")
    if data.startswith(ZIP_MAGIC):
        return Book(name, digest, "xlsx", _read_xlsx(data, limits))
    text = _as_text(data)
    if text is None:
        raise Refused(NOT_XLSX)
    if not allow_csv:
        raise Refused("这是 CSV 文本文件，不是 Excel 工作簿：请在 Excel 中“另存为”.xlsx 后再导入")
    if suffix != ".csv":
        raise Refused(f"文件扩展名是 {suffix or '（无）'}，内容却是 CSV 文本：CSV 文件请以 .csv 结尾，或另存为 .xlsx")
    return Book(name, digest, "csv", (_read_csv(text, PurePosixPath(name).stem, limits),))


# --- xlsx ------------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, limits: Limits) -> tuple[Sheet, ...]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise Refused(CORRUPT) from exc
    if len(infos) > limits.max_parts:
        raise Refused(f"文件结构异常（包含 {len(infos)} 个部件），已拒绝导入")
    if any(i.flag_bits & 0x1 for i in infos):
        raise Refused("文件已加密，无法读取：请取消密码后另存为 .xlsx 再导入")
    declared = sum(i.file_size for i in infos)
    _check_inflated(declared, len(data), limits)
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names:
        raise Refused(NOT_XLSX)
    types = _content_types(zf)
    main = [part for part, kind in types.items() if kind in WORKBOOK_TYPES | MACRO_TYPES]
    if any(types[p] in MACRO_TYPES for p in main) or any(n.lower().endswith("vbaproject.bin") for n in names):
        raise Refused("文件包含宏（.xlsm），为安全起见不予导入：请另存为不含宏的 .xlsx 后再导入")
    if len(main) != 1 or main[0].lstrip("/") not in names:
        raise Refused(NOT_XLSX)
    worksheets = {p for p, kind in types.items() if kind == WORKSHEET_TYPE}
    rows, with_formulas = _inflate_all(data, infos, worksheets, limits)
    if rows > limits.max_rows + ROW_SLACK:
        raise Refused(f"文件行数过多（超过 {limits.max_rows} 行），请拆分后分批导入")
    formulas = _formulas_by_sheet(zf, main[0], with_formulas)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            if meta.visible != python_calamine.SheetVisibleEnum.Visible:
                continue  # hidden sheets hold drop-down lists and the like, not data
            sheet = workbook.get_sheet_by_name(meta.name)
            merged = tuple((a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or ()))
            sheets.append(Sheet(meta.name, sheet.to_python(skip_empty_area=False), merged,
                                formulas.get(meta.name, frozenset())))
    except python_calamine.PasswordError as exc:
        raise Refused("文件设置了密码，无法读取：请取消密码后另存为 .xlsx 再导入") from exc
    except python_calamine.CalamineError as exc:
        raise Refused(CORRUPT) from exc
    return tuple(sheets)


def _check_inflated(total: int, packed: int, limits: Limits) -> None:
    if total > limits.max_uncompressed:
        raise Refused(f"文件解压后过大（超过 {_mb(limits.max_uncompressed)}），已拒绝导入")
    # Small parts compress however they like; a big inflation from a small file is a zip bomb.
    if total > MiB and total > limits.max_ratio * packed:
        raise Refused(f"文件解压后过大（压缩比超过 {limits.max_ratio}:1），已拒绝导入")


def _inflate_all(
    data: bytes, infos: list[zipfile.ZipInfo], worksheets: set[str], limits: Limits
) -> tuple[int, set[str]]:
    """Inflate every part and count the real bytes, whatever its header declares.

    Returns the number of ``<row>`` elements of all worksheets and the worksheets that contain formulas.
    """
    total = 0
    rows = 0
    with_formulas: set[str] = set()
    for info in infos:
        is_xml = info.filename.endswith((".xml", ".rels"))
        is_sheet = "/" + info.filename in worksheets
        size = 0
        tail = b""
        for chunk in _inflate(data, info):
            size += len(chunk)
            total += len(chunk)
            _check_inflated(total, len(data), limits)
            if is_xml:
                # One quick search per marker family; the precise test only where it hits.
                edge = tail + chunk[:16]
                if (b"<!" in chunk or b"<!" in edge) and any(m in chunk or m in edge for m in DTD_MARKERS):
                    raise Refused(UNSAFE)
                if is_sheet:
                    rows += chunk.count(b"<row")
                    if (b"<f" in chunk or b"<f" in edge) and any(m in chunk or m in edge for m in FORMULA_MARKERS):
                        with_formulas.add(info.filename)
                tail = chunk[-16:]
        if size != info.file_size:  # a header that lies about the size is how zip bombs get past checks
            raise Refused(CORRUPT)
    return rows, with_formulas


def _inflate(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's content in chunks, inflated from its compressed bytes with no trust in declared sizes."""
    if data[info.header_offset:info.header_offset + 4] != b"PK\x03\x04":
        raise Refused(CORRUPT)
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    raw = memoryview(data)[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        for pos in range(0, len(raw), CHUNK):
            yield bytes(raw[pos:pos + CHUNK])
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise Refused(CORRUPT)
    inflater = zlib.decompressobj(-15)
    pos = 0
    try:
        while not inflater.eof:
            if inflater.unconsumed_tail:
                piece = inflater.unconsumed_tail
            elif pos < len(raw):
                piece = raw[pos:pos + CHUNK]
                pos += CHUNK
            else:
                break
            out = inflater.decompress(piece, CHUNK)
            if out:
                yield out
        rest = inflater.flush()
    except zlib.error as exc:
        raise Refused(CORRUPT) from exc
    if rest:
        yield rest


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


def _formulas_by_sheet(zf: zipfile.ZipFile, main: str, parts: set[str]) -> dict[str, frozenset[tuple[int, int]]]:
    """Cells holding a formula but no cached value, per sheet name (only sheets that have formulas)."""
    if not parts:
        return {}
    main_path = PurePosixPath(main.lstrip("/"))
    rels_name = str(main_path.parent / "_rels" / (main_path.name + ".rels"))
    targets = {
        el.get("Id"): str(PurePosixPath(_resolve(main_path.parent, el.get("Target", ""))))
        for el in _parse(zf, rels_name).iter(f"{NS_PKG_REL}Relationship")
    }
    out: dict[str, frozenset[tuple[int, int]]] = {}
    for sheet in _parse(zf, str(main_path)).iter(f"{NS_MAIN}sheet"):
        part = targets.get(sheet.get(f"{NS_REL}id"))
        if part not in parts:
            continue
        cells = set()
        for match in _CELL.finditer(zf.read(part)):
            body = match.group(2) or b""
            if b"<f" in body and not _CACHED.search(body):
                ref = _REF.search(match.group(1))
                if ref:
                    cells.add((int(ref.group(2)) - 1, _column_index(ref.group(1).decode())))
        out[sheet.get("name", "")] = frozenset(cells)
    return out


def _resolve(base: PurePosixPath, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = []
    for piece in (base / target).parts:
        if piece == "..":
            if parts:
                parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


# --- csv -------------------------------------------------------------------------------------------


def _as_text(data: bytes) -> str | None:
    """The file as text if it is UTF-8 (with or without BOM) or GB18030 text, else None."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\r\n")
        return None if controls else text
    return None


def _read_csv(text: str, name: str, limits: Limits) -> Sheet:
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[Any]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            if len(rows) > limits.max_rows + ROW_SLACK:
                raise Refused(f"文件行数过多（超过 {limits.max_rows} 行），请拆分后分批导入")
            rows.append(row)
    except csv.Error as exc:
        raise Refused(f"CSV 文件格式有误：{exc}") from exc
    return Sheet(name, rows)
