"""The spreadsheet gate: what a workbook will cost is read from its own XML before any reader allocates.

A reader trusts the package. python-calamine builds the dense grid from the first to the farthest cell (one
number at XFD100000 below a header is 1.6 billion cells, 52 GB: the process aborts), reserves a shared-string
table as large as the count the file declares (``uniqueCount="4000000000"`` in a 5 KB file aborts it too),
and places a cell that has no reference right after the one before it. Counting ``<row>`` tags sees none of
this. So every part is inflated here first — its real bytes, not the sizes its header declares (zip bombs) —
in chunks, in constant memory, and the XML parts are parsed with expat as they inflate: each cell's position
as the reader will compute it, the declared ``<dimension>``, cells per row, the number of cells and of
shared strings. The first bound passed is refused at once, in Chinese, naming it; only a workbook within
every bound reaches the reader (RELIABILITY X09, X12, X16).

Only cells that carry a value count (``<v>`` or ``<is>``): the reader skips the rest, so a styled empty cell
far to the right of real data is no reason to refuse a file.
"""

from __future__ import annotations

import pyexpat
import queue
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from string import ascii_letters, ascii_uppercase

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
    # Every import template is narrower than 60 columns; 256 was Excel's own limit until 2007.
    max_cols: int = 256
    # The grid a reader builds, from A1 to the farthest cell (blank cells included), and the cells it holds;
    # 200,000 rows × 20 columns. Also the cap on shared strings: each cell uses at most one.
    max_cells: int = 4_000_000

    @property
    def max_row_number(self) -> int:
        return self.max_rows + ROW_SLACK


LIMITS = Limits()

CHUNK = 4 * MiB
XML_CHUNK = 256 * 1024  # what expat is fed at a time: a refusal comes within one such piece of the cause
DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
UNSAFE = "文件格式不安全（含有 DTD/实体声明），已拒绝导入"
CORRUPT = "文件已损坏或不是有效的 .xlsx 工作簿，请用 Excel 打开后重新“另存为”.xlsx"
SPLIT = "请删除多余的行列，或拆分后分批导入"


def mb(n: int) -> str:
    return f"{n / MiB:.1f} MB"


def column_letters(index: int) -> str:
    """1 → A, 27 → AA, 16384 → XFD."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = ascii_uppercase[rest] + letters
    return letters


def check_package(data: bytes, infos: list[zipfile.ZipInfo], sheets: dict[str, str], strings: set[str],
                  limits: Limits, kept: dict[str, tuple[bytes, int]] | None = None) -> set[str]:
    """Inflate every part of the zip ``data``, refusing the first bound passed; returns the sheet parts that
    hold formulas or may hold error values (#N/A …): cells the reader reads as empty.

    ``sheets`` maps each part a reader may open as a worksheet to its sheet name (for messages); ``strings``
    holds the shared-string parts. Each is checked as it inflates by a quick scan of its text (``_QuickSheet``,
    ``_QuickStrings``) when it is written the way spreadsheet programs write it; otherwise — or where the
    quick scan cannot be sure — the part is inflated again and parsed with expat (``_Scan``), exactly as the
    reader will place its cells.

    ``kept``: given, each sheet part the quick scan passed whole is kept there as it inflated, with a bound on its
    row numbers (a reader may then be handed its rows a stretch at a time, cut at a ``</row>``: each stretch is
    text the scan passed). A part left to the exact parse is not kept.
    """
    check_inflated(sum(i.file_size for i in infos), len(data), limits)
    total = 0
    with_formulas: set[str] = set()
    for info in infos:
        part = info.filename
        is_xml = part.endswith((".xml", ".rels"))
        quick: _QuickSheet | _QuickStrings | None = None
        if part in sheets:
            quick = _QuickSheet(sheets[part], limits)
        elif part in strings:
            quick = _QuickStrings(limits)
        sure = quick is not None
        size = 0
        tail = b""
        keep: list[bytes] | None = [] if kept is not None and part in sheets else None
        errors = False
        for chunk in _inflated_ahead(data, info):
            if keep is not None:
                keep.append(chunk)
            size += len(chunk)
            total += len(chunk)
            check_inflated(total, len(data), limits)
            if part in sheets and not errors:
                errors = b"#" in chunk  # every error value begins with it (#N/A, #VALUE!): one memchr a chunk
            if sure:  # a quick scan sure of a part has seen no "<!" in it
                sure = quick.feed(chunk)
            elif is_xml:
                tail = _no_dtd(chunk, tail)
        if size != info.file_size:  # a header that lies about the size is how zip bombs get past checks
            raise Refused(CORRUPT)
        if quick is None:
            continue
        if not (sure and quick.finish()):
            quick = _exact(data, info, sheets.get(part, part), limits)
        elif keep is not None:
            kept[part] = (b"".join(keep), quick.max_row)
        if quick.formulas or errors:
            with_formulas.add(part)
    return with_formulas


def _inflated_ahead(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """:func:`_inflate`'s chunks, a big part's inflated in a thread of its own a chunk or two ahead: zlib inflates
    without the GIL, so on a second core a sheet inflates while the chunk before is scanned. What the inflation raises
    is raised here in turn, after the chunks before it; a caller that stops early (a refusal) stops the thread."""
    if info.compress_size < CHUNK:
        yield from _inflate(data, info)
        return
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def inflate() -> None:
        try:
            for chunk in _inflate(data, info):
                if not _hand(chunks, chunk, stop):
                    return
        except BaseException as exc:  # raised again in the caller's thread, in turn
            _hand(chunks, exc, stop)
            return
        _hand(chunks, None, stop)

    worker = threading.Thread(target=inflate, name="gate-inflate", daemon=True)
    worker.start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _hand(chunks: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` for the caller unless it has stopped; whether it was put."""
    while not stop.is_set():
        try:
            chunks.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _exact(data: bytes, info: zipfile.ZipInfo, sheet: str, limits: Limits) -> _Scan:
    """The part parsed with expat, every start tag seen (what the quick scans leave undecided)."""
    scan = _Scan(sheet, limits)
    parser = scan.parser()
    tail = b""
    try:
        for chunk in _inflate(data, info):
            tail = _no_dtd(chunk, tail)
            for pos in range(0, len(chunk), XML_CHUNK):
                parser.Parse(chunk[pos:pos + XML_CHUNK], False)
        parser.Parse(b"", True)
    except pyexpat.ExpatError as exc:
        raise Refused(CORRUPT) from exc
    return scan


def _no_dtd(chunk: bytes, tail: bytes) -> bytes:
    """Refuse a DTD or entity declaration in ``chunk`` (or across its seam with the ``tail`` of the chunk before);
    returns this chunk's tail. One quick search per chunk; the precise test only where it hits."""
    edge = tail + chunk[:16]
    if (b"<!" in chunk or b"<!" in edge) and any(m in chunk or m in edge for m in DTD_MARKERS):
        raise Refused(UNSAFE)
    return chunk[-16:]


def check_inflated(total: int, packed: int, limits: Limits) -> None:
    if total > limits.max_uncompressed:
        raise Refused(f"文件解压后过大（超过 {mb(limits.max_uncompressed)}），已拒绝导入")
    # Small parts compress however they like; a big inflation from a small file is a zip bomb.
    if total > MiB and total > limits.max_ratio * packed:
        raise Refused(f"文件解压后过大（压缩比超过 {limits.max_ratio}:1），已拒绝导入")


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


# --- the quick scans: regular expressions over the text, C speed; anything unusual goes to the exact parse ----

# Attributes as spreadsheet programs write them: name="value", never a second r.
_ATTRS = rb'(?:\s+(?!r=)[\w:.-]+="[^"]*")*+'
# A cell's content up to its </c>, holding no other cell or row.
_CELL_BODY = rb'(?:/>|>[^<]*+(?:<(?!/c>|/?(?:[\w.-]+:)?(?:c|row)[\s/>])[^<]*+)*+</c>)'
# A whole row whose every cell's reference carries the row's own number (the back-reference).
_ROW = re.compile(rb'\s*<row r="([1-9][0-9]{0,8})"' + _ATTRS + rb'\s*(?:/>|>(?:\s*<c r="[A-Za-z]{1,3}\1"' + _ATTRS
                  + rb'\s*' + _CELL_BODY + rb')*+\s*</row>)')
_ROW_TAG = re.compile(rb'<row r="([1-9][0-9]{0,8})"[\s/>]')
# The rows a quick scan's pattern allows grow in steps of this many: one compile per step, not one per piece.
ROW_STEP = 16_384
# A cell's start tag as spreadsheet programs write it: its reference first, then attributes named anything but
# r (the reader places a cell by its last r), double-quoted, one space apart.
# The two attributes spreadsheet programs write on nearly every cell (t, s) are tried first as literals: the same
# cells pass, for less work per cell than the general name and value (a 100,000-row sheet has 1.6 million).
_CELL_ATTRS = rb'(?: t="[A-Za-z]{1,9}+"| s="[0-9]{1,9}+"| [a-qs-z][\w]*+="[^"<>]*+")*+ ?/?>'
_CELL_TAG = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,8})"' + _CELL_ATTRS)
# Any other element the reader does not read cells from: unprefixed, not a cell, row, formula or sheetData.
_OTHER_TAG = rb'(?!(?:c|row|f|sheetData)[\s/>])[A-Za-z][\w.-]*+[\s/>]'
# Comments, CDATA, processing instructions, or a prefixed element a reader takes for a cell or a row.
_ODD = re.compile(rb'<[!?]|<[\w.-]+:(?:c|row|v|is|sheetData|si|sst)[\s/>]')
_OUTSIDE = re.compile(rb'<(?:[\w.-]+:)?(?:c|row|sheetData)[\s/>]')
_DIMENSION = re.compile(rb'<dimension\s+ref="([^"]*)"')
_DECLARATION = re.compile(rb'\A(?:\xef\xbb\xbf)?<\?xml[^>]*\?>')
_SI = re.compile(rb'<(?:[\w.-]+:)?si[\s/>]')
_SST = re.compile(rb'<(?:[\w.-]+:)?sst\b((?:[^>"\']|"[^"]*"|\'[^\']*\')*)>')
_COUNTS = re.compile(rb'\b(count|uniqueCount)\s*=\s*(["\'])(.*?)\2')
LONGEST_ROW = MiB  # a row longer than this is left to the exact parse
# Where the quick scan's run of common cells stops, the search takes over for this many bytes, to a row's end.
SEARCH_STRETCH = 64 * 1024


def _valued(buf: bytes, start: int, end: int) -> int:
    """Cells with a value between ``start`` and ``end``: the reader skips the others."""
    return (buf.count(b"<v>", start, end) + buf.count(b"<v ", start, end)
            + buf.count(b"<is>", start, end) + buf.count(b"<is ", start, end))


def _up_to(n: int) -> str:
    """A regular expression for the numbers 1 … ``n``, without leading zeros."""
    if n < 1:
        return "(?!)"
    text = str(n)
    shorter = f"[1-9][0-9]{{0,{len(text) - 2}}}|" if len(text) > 1 else ""
    return shorter + _same_length(text, "0", "9", first="1")


def _columns_up_to(n: int) -> str:
    """A regular expression for the letters of columns 1 … ``n`` (A, B … Z, AA …)."""
    if n < 1:
        return "(?!)"
    text = column_letters(n)
    return "".join(f"[A-Z]{{{k}}}|" for k in range(1, len(text))) + _same_length(text, "A", "Z")


def _same_length(text: str, low: str, high: str, first: str | None = None) -> str:
    """Strings as long as ``text`` of characters ``low`` … ``high`` (the first from ``first``) that sort at or
    below it."""
    alternatives = []
    for i, ch in enumerate(text):
        bottom = first if i == 0 and first else low
        if ch > bottom:
            alternatives.append(text[:i] + f"[{bottom}-{chr(ord(ch) - 1)}]" + f"[{low}-{high}]" * (len(text) - i - 1))
    return "|".join([*alternatives, text])


class _QuickSheet:
    """A worksheet as spreadsheet programs write it — a head, ``<sheetData>`` whose every tag is one the gate
    knows, a tail — checked as it inflates with one regular-expression search per piece: it stops only at a
    tag it has not seen the like of (``_tags``). Each cell's start tag must carry its reference first and no
    other r, within the rows and the columns allowed so far; a ``<row>`` numbered beyond the rows allowed
    raises them to the next multiple of ``ROW_STEP`` (never past the row cap), a cell in a further column
    widens the columns (at most ``max_cols`` times); anything else — a prefix, a comment, a cell without a
    reference, a cell below every ``<row>`` allowed — leaves the part to the exact parse. The grid is bounded by
    the rows allowed, which are at least every row seen. ``feed`` answers False
    where the text is anything else; ``finish`` False where the bounds need the exact parse to decide."""

    def __init__(self, sheet: str, limits: Limits) -> None:
        self.sheet = sheet
        self.limits = limits
        self.state = "head"
        self.buf = b""
        self.cells = 0
        self.max_row = 0  # the rows allowed: at least the highest <row> seen, rounded up to ROW_STEP
        self.max_col = 0
        self.formulas = False
        self._compiled: tuple[tuple[int, int, bool], re.Pattern[bytes]] | None = None

    def feed(self, chunk: bytes) -> bool:
        if self.state == "tail":
            edge, self.buf = self.buf + chunk, chunk[-32:]
            return not (_ODD.search(edge) or _OUTSIDE.search(edge))
        self.buf += chunk
        if self.state == "head" and not self._head():
            return self.state == "head" and len(self.buf) < MiB
        return self._rows()

    def _head(self) -> bool:
        start = self.buf.find(b"<sheetData")
        if start < 0:
            return False
        head = self.buf[:start]
        declaration = _DECLARATION.match(head)
        body = head[declaration.end() if declaration else 0:]
        end = self.buf.find(b">", start)
        if end < 0:
            return False
        if _ODD.search(body) or _OUTSIDE.search(body) or self.buf[start + 10] not in b" \t\r\n>/":
            self.state = "odd"
            return False
        dimension = _DIMENSION.search(body)
        if dimension:
            _Scan(self.sheet, self.limits).dimension(dimension.group(1).decode("ascii", "replace"))
        self.state = "tail" if self.buf[end - 1:end] == b"/" else "rows"
        self.buf = self.buf[end + 1:]
        return True

    def _rows(self) -> bool:
        if self.state != "rows":
            return self.state == "tail" and self.feed(b"")
        buf = self.buf
        end = buf.find(b"</sheetData>")
        # Up to the last whole row, else the last "<": every tag before it ends before it (a value holding "<"
        # does not match _tags).
        cut = end if end >= 0 else max(buf.rfind(b"</row>") + len(b"</row>"), buf.rfind(b"<"))
        if cut <= 0 and end < 0:
            return len(buf) < LONGEST_ROW
        limits = self.limits
        # Searched in place up to ``cut``: slicing out the region would copy every piece once more.
        self.cells += buf.count(b'<c r="', 0, cut)  # blank ones too: past the cap, the exact parse decides
        if self.cells > limits.max_cells or not self._tags(buf, cut):
            return False
        if end >= 0:
            self.state, self.buf = "tail", b""
            return self.feed(buf[end + len(b"</sheetData>"):])
        self.buf = buf[cut:]
        return True

    def _tags(self, region: bytes, end: int) -> bool:
        """Whether every tag of ``region`` up to ``end`` is a closing tag, a row or a cell within the rows and
        columns allowed, or an element the reader takes no cell from; a row beyond them, a cell in a further
        column (or the first formula) widens what is allowed and the search goes on from there. A row past the
        cap refuses the file (``_beyond``)."""
        pos = 0
        find = region.find
        while True:
            fast, pattern = self._pattern()
            # The cells and rows as spreadsheet programs write them are taken whole, many per call. Where the run
            # stops, the search judges the next stretch of whole rows (at least SEARCH_STRETCH bytes), tag by tag:
            # a file whose every row the run cannot take costs one more call per stretch than the search alone.
            pos = fast.match(region, pos, end).end()
            if pos >= end:
                return True
            stop = find(b"</row>", min(pos + SEARCH_STRETCH, end), end)
            stop = end if stop < 0 else stop + len(b"</row>")
            hit = pattern.search(region, pos, stop)
            if hit is None:
                pos = stop
                continue
            pos = hit.start()
            cell = _CELL_TAG.match(region, pos)
            if cell is not None:
                col = column_index(cell.group(1).decode())
                if int(cell.group(2)) > self.max_row or col <= self.max_col or col > self.limits.max_cols:
                    return False
                self.max_col = self._widest(region, pos, end, col)
            elif (row := _ROW_TAG.match(region, pos)) is not None and int(row.group(1)) > self.max_row:
                number = int(row.group(1))
                if number > self.limits.max_row_number:
                    return self._beyond(region[:end])
                self.max_row = min(-(-number // ROW_STEP) * ROW_STEP, self.limits.max_row_number)
            elif region.startswith((b"<f>", b"<f ", b"<f/"), pos) and not self.formulas:
                self.formulas = True
            else:
                return False

    def _widest(self, region: bytes, pos: int, end: int, col: int) -> int:
        """The farthest column of the cells from ``pos`` to the end of their row that the pattern would allow once
        widened to them: one widening (one compile) for a header row of 16 columns, not 16. Only cells this
        scan accepts widen it; any other tag is still met, and judged, by the search."""
        stop = region.find(b"</row>", pos, end)
        limits = self.limits
        for later in _CELL_TAG.finditer(region, pos, end if stop < 0 else stop):
            c = column_index(later.group(1).decode())
            if int(later.group(2)) > self.max_row or c > limits.max_cols:
                break
            col = max(col, c)
        return col

    def _pattern(self) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
        key = (self.max_row, self.max_col, self.formulas)
        if self._compiled is None or self._compiled[0] != key:
            self._compiled = (key, self._compile())
        return self._compiled[1]

    def _compile(self) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
        """(the run of common cells and rows within what is allowed, matched whole; the first tag not known to be
        harmless — a row beyond max_row, a cell beyond (max_row, max_col), or anything unusual). Compiled anew only
        when what is allowed widens (a few times a file). Every tag the first takes, the second passes."""
        rows = _up_to(self.max_row).encode()
        cells = b'c r="(?:' + _columns_up_to(self.max_col).encode() + b")(?:" + rows + b')"'
        formula = rb"|f[\s/>]" if self.formulas else b""
        # The commonest tags first: closing tags, values, inline strings, then cells.
        search = re.compile(rb"<(?!/|v>|t>|is>|" + cells + _CELL_ATTRS + rb"|" + _OTHER_TAG
                            + rb'|row r="(?:' + rows + rb')"[\s/>]' + formula + rb")")
        # A cell: its reference, t and s attributes, and no content, a value or an inline string; a row's start tag
        # with its attributes (as the search, only its r is read), its end, blanks between.
        fast = re.compile(rb'(?:<' + cells + rb'(?: t="[A-Za-z]{1,9}+"| s="[0-9]{1,9}+")*+(?:/>|>(?:<v>[^<]*+</v>'
                          rb'|<is><t>[^<]*+</t></is>)?</c>)|<row r="(?:' + rows + rb')"(?:\s++[\w:.-]++="[^"<>]*+")*+\s*+/?>'
                          rb"|</row>|\s++)*+")
        return fast, search

    def _beyond(self, region: bytes) -> bool:
        """Refuse the first row past the cap that holds a value; rows there that hold none are for the exact
        parse to judge."""
        limits = self.limits
        for row in _ROW.finditer(region):
            number = int(row.group(1))
            if number > limits.max_row_number and _valued(region, *row.span()):
                raise Refused(f"工作表「{self.sheet}」行数过多：第 {number:,} 行有数据，上限 {limits.max_row_number:,} 行"
                              f"（{limits.max_rows:,} 行数据）；{SPLIT}")
        return False

    def finish(self) -> bool:
        return self.state == "tail" and self.max_col * self.max_row <= self.limits.max_cells


class _QuickStrings:
    """The shared-string table: its declared counts (a reader reserves them) and its ``<si>`` elements."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.head = b""
        self.strings = 0
        self.edge = b""
        self.formulas = False

    def feed(self, chunk: bytes) -> bool:
        if self.head is not None:
            self.head += chunk
            declaration = _DECLARATION.match(self.head)
            sst = _SST.search(self.head, declaration.end() if declaration else 0)
            if sst is None:
                return len(self.head) < MiB
            if _ODD.search(self.head, declaration.end() if declaration else 0, sst.start()):
                return False
            for key, _, value in _COUNTS.findall(sst.group(1)):
                if not value.isdigit():
                    raise Refused(CORRUPT)
                if int(value) > self.limits.max_cells:
                    raise Refused(f"共享字符串表声明了 {int(value):,} 个字符串（{key.decode()}），"
                                  f"超过上限 {self.limits.max_cells:,} 个，文件异常，已拒绝导入")
            chunk, self.head = self.head, None
        # A tag cut by the chunk's edge is counted in the seam (perhaps twice: counting more is safe).
        seam = self.edge + chunk[:16]
        self.edge = chunk[-16:]
        if _ODD.search(chunk) or _ODD.search(seam):
            return False
        self.strings += len(_SI.findall(chunk)) + len(_SI.findall(seam))
        if self.strings > self.limits.max_cells:
            raise Refused(f"共享字符串过多（超过 {self.limits.max_cells:,} 个），{SPLIT}")
        return True

    def finish(self) -> bool:
        return self.head is None


class _Scan:
    """One XML part's bounds, from expat's start tags: cells as the reader places them, rows, the declared
    dimension, shared strings. Kept to integer work per tag: a 100,000-row sheet has millions of them."""

    def __init__(self, sheet: str, limits: Limits) -> None:
        self.sheet = sheet
        self.limits = limits
        self.row = 0  # the current <row>'s number (1-based)
        self.col = 0  # the column of the cell before, in this row
        self.in_row = 0  # cells with a value in this row
        self.cells = 0
        self.max_row = 0
        self.max_col = 0
        self.pending: tuple[int, int, str] | None = None  # the open cell: (row, column, reference)
        self.strings = 0
        self.formulas = False
        self.columns: dict[str, int] = {}  # column letters seen → index, so each is computed once

    def parser(self) -> pyexpat.XMLParserType:
        parser = pyexpat.ParserCreate()
        parser.ordered_attributes = True
        parser.StartElementHandler = self.start
        parser.StartDoctypeDeclHandler = self.doctype
        return parser

    def doctype(self, *_: object) -> None:
        raise Refused(UNSAFE)

    def start(self, name: str, attrs: list[str]) -> None:
        if ":" in name:  # a prefixed element is the same element to the reader
            name = name.rpartition(":")[2]
        if name == "v" or name == "is":
            if self.pending is not None:
                self.count(*self.pending)
                self.pending = None
        elif name == "c":
            self.cell(attrs)
        elif name == "row":
            self.pending = None
            self.in_row = 0
            self.col = 0
            ref = _attr(attrs, "r")
            self.row = self.row + 1 if ref is None else self.number(ref, ref)
        elif name == "f":
            self.formulas = True
        elif name == "dimension":
            self.dimension(_attr(attrs, "ref") or "")
        elif name == "si":
            self.strings += 1
            if self.strings > self.limits.max_cells:
                raise Refused(f"共享字符串过多（超过 {self.limits.max_cells:,} 个），{SPLIT}")
        elif name == "sst":
            for key in ("count", "uniqueCount"):
                declared = _attr(attrs, key)
                if declared is not None and self.number(declared, declared) > self.limits.max_cells:
                    raise Refused(f"共享字符串表声明了 {declared} 个字符串，超过上限 {self.limits.max_cells:,} 个，"
                                  "文件异常，已拒绝导入")

    def cell(self, attrs: list[str]) -> None:
        ref = attrs[1] if attrs and attrs[0] == "r" else _attr(attrs, "r")
        if ref is None:  # placed after the cell before it, as the reader does
            self.col += 1
            self.pending = (max(self.row, 1), self.col, "")
            return
        digits = ref.lstrip(ascii_letters)
        letters = ref[:len(ref) - len(digits)]
        col = self.columns.get(letters) or self.column(letters, ref)
        self.col = col
        self.pending = (self.number(digits, ref), col, ref)

    def count(self, row: int, col: int, ref: str) -> None:
        limits = self.limits
        self.in_row += 1
        self.cells += 1
        if row > self.max_row or col > self.max_col or self.in_row > limits.max_cols or self.cells > limits.max_cells:
            self.refuse_beyond(row, col, ref)
            self.max_row, self.max_col = max(row, self.max_row), max(col, self.max_col)

    def refuse_beyond(self, row: int, col: int, ref: str) -> None:
        """Refuse the cell at (row, col) if it passes a bound; the messages are made only then."""
        limits = self.limits
        where = f"工作表「{self.sheet}」"
        cell = f"单元格 {ref or column_letters(col) + str(row)}"
        if row > limits.max_row_number:
            raise Refused(f"{where}行数过多：{cell} 在第 {row:,} 行，上限 {limits.max_row_number:,} 行"
                          f"（{limits.max_rows:,} 行数据）；{SPLIT}")
        if col > limits.max_cols:
            raise Refused(f"{where}列数过多：{cell} 在第 {col:,} 列，上限 {limits.max_cols} 列；{SPLIT}")
        if self.in_row > limits.max_cols:
            raise Refused(f"{where}第 {self.row:,} 行的单元格过多（超过 {limits.max_cols} 个，上限 {limits.max_cols} 列）；"
                          f"{SPLIT}")
        if self.cells > limits.max_cells:
            raise Refused(f"{where}单元格过多（超过 {limits.max_cells:,} 个）；{SPLIT}")
        rows, cols = max(row, self.max_row), max(col, self.max_col)
        if rows * cols > limits.max_cells:
            raise Refused(f"{where}单元格区域过大：从 A1 到{cell}共 {rows:,} 行 × {cols:,} 列 = {rows * cols:,} 个单元格，"
                          f"上限 {limits.max_cells:,} 个；{SPLIT}")

    def dimension(self, ref: str) -> None:
        """The range the sheet declares: readers that trust it (openpyxl) size their work by it."""
        last = ref.rpartition(":")[2]
        digits = last.lstrip(ascii_letters)
        letters = last[:len(last) - len(digits)]
        row = self.number(digits, ref) if digits else 0
        col = column_index(letters) if letters else 0
        where = f"工作表「{self.sheet}」声明的范围 {ref} "
        if row > self.limits.max_row_number:
            raise Refused(f"{where}行数过多：到第 {row:,} 行，上限 {self.limits.max_row_number:,} 行；{SPLIT}")
        if col > self.limits.max_cols:
            raise Refused(f"{where}列数过多：到第 {col:,} 列，上限 {self.limits.max_cols} 列；{SPLIT}")
        if row * col > self.limits.max_cells:
            raise Refused(f"{where}过大：{row:,} 行 × {col:,} 列 = {row * col:,} 个单元格，"
                          f"上限 {self.limits.max_cells:,} 个；{SPLIT}")

    def column(self, letters: str, ref: str) -> int:
        if not letters or len(letters) > 3:
            if not letters:
                raise Refused(f"工作表「{self.sheet}」的单元格引用 {ref[:20]!r} 无效；{CORRUPT}")
            raise Refused(f"工作表「{self.sheet}」列数过多：单元格 {ref[:20]} 超出上限 {self.limits.max_cols} 列；{SPLIT}")
        col = self.columns[letters] = column_index(letters)
        return col

    def number(self, digits: str, ref: str) -> int:
        if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
            raise Refused(f"工作表「{self.sheet}」的引用 {ref[:20]!r} 无效；{CORRUPT}")
        return int(digits)


def _attr(attrs: list[str], key: str) -> str | None:
    """The value of ``key`` in expat's ordered attribute list (name, value, name, value …)."""
    for i in range(0, len(attrs), 2):
        if attrs[i] == key:
            return attrs[i + 1]
    return None


def column_index(letters: str) -> int:
    """A → 1, XFD → 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def resolve(base: PurePosixPath, target: str) -> str:
    """A relationship's target as a part name of the package."""
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

