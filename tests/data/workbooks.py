"""Spreadsheets the tests write themselves with openpyxl: messy real-world ones and hostile ones."""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook


def workbook(sheets: dict[str, Sequence[Sequence[Any]]], *, merged: dict[str, Sequence[str]] | None = None,
             text_cells: dict[str, Sequence[str]] | None = None) -> bytes:
    """An .xlsx with these sheets; ``merged`` ranges per sheet; ``text_cells`` forced to text (``=1+1`` as data).

    A string starting with ``=`` elsewhere is written by openpyxl as a formula without a cached value.
    """
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
        for ref in (merged or {}).get(name, ()):
            ws.merge_cells(ref)
        for ref in (text_cells or {}).get(name, ()):
            ws[ref].data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def replace_part(data: bytes, name: str, content: bytes) -> bytes:
    """The same package with one part's content replaced (to plant a DTD, a bomb …)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, content if info.filename == name else src.read(info.filename))
    return out.getvalue()


def add_part(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr(name, content)
    return out.getvalue()


def zip_bomb(data: bytes, *, inflated: int, declared: int | None = None, name: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with ``name`` replaced by ``inflated`` bytes (whole MiBs) packed ~1000:1 — 1 GiB in 1 MiB —
    its header declaring ``declared`` bytes (the truth by default). The CRC is not computed: a reader must
    refuse long before it could check it."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    # After a full flush the compressor forgets its history, so the same block encodes to the same bytes:
    # repeating them is a valid stream.
    block = deflate.compress(b"0" * (1 << 20)) + deflate.flush(zlib.Z_FULL_FLUSH)
    packed = block * (inflated >> 20) + b"\x03\x00"  # an empty final block ends the stream
    return _rebuild(data, {name: (packed, inflated if declared is None else declared, 0)})


def lying_sizes(data: bytes, name: str, declared: int) -> bytes:
    """The workbook with ``name``'s real content but a declared uncompressed size of ``declared``."""
    content = zipfile.ZipFile(io.BytesIO(data)).read(name)
    return _rebuild(data, {name: (_deflate(content), declared, zlib.crc32(content))})


def _deflate(content: bytes, level: int = 6) -> bytes:
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    return comp.compress(content) + comp.flush()


def _rebuild(data: bytes, replaced: dict[str, tuple[bytes, int, int]]) -> bytes:
    """The archive written by hand: each part as (packed bytes, declared size, CRC), ``replaced`` ones as given."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    central = []
    for info in src.infolist():
        if info.filename in replaced:
            packed, size, crc = replaced[info.filename]
        else:
            content = src.read(info.filename)
            packed, size, crc = _deflate(content), len(content), zlib.crc32(content)
        name = info.filename.encode()
        offset = out.tell()
        sizes = _le(crc, 4) + _le(len(packed), 4) + _le(size, 4) + _le(len(name), 2)
        out.write(b"PK\x03\x04" + _le(20, 2) + _le(0, 2) + _le(8, 2) + _le(0, 4) + sizes + _le(0, 2) + name)
        out.write(packed)
        central.append(b"PK\x01\x02" + _le(20, 2) + _le(20, 2) + _le(0, 2) + _le(8, 2) + _le(0, 4) + sizes
                       + _le(0, 2) * 4 + _le(0, 4) + _le(offset, 4) + name)
    start = out.tell()
    out.write(b"".join(central))
    end = out.tell()
    out.write(b"PK\x05\x06" + _le(0, 4) + _le(len(central), 2) * 2 + _le(end - start, 4) + _le(start, 4) + _le(0, 2))
    return out.getvalue()


def _le(value: int, width: int) -> bytes:
    return value.to_bytes(width, "little")


# --- hostile workbooks of a few KB (RELIABILITY X16): each one's cells cost gigabytes if a reader trusts them --

HEADER = ("楼栋", "房号", "客服部")
_SHEET_OPEN = b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def with_sheet(body: bytes, *, dimension: str | None = None, header: Sequence[str] = HEADER,
               shared: bytes | None = None, padding: int = 0) -> bytes:
    """A workbook whose only sheet「S」has the header row then ``body`` (raw ``<row>`` XML); ``dimension`` is the
    sheet's declared ``<dimension ref>``; ``shared`` a sharedStrings part; ``padding`` bytes of noise in a part
    of their own, which keep the whole file under a compression-ratio limit. Packed fast (level 1): a body of
    millions of cells stays a few KB, as an attacker's would."""
    cells = b"".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>'.encode() for i, h in enumerate(header))
    xml = (_SHEET_OPEN + (f'<dimension ref="{dimension}"/>'.encode() if dimension else b"")
           + b'<sheetData><row r="1">' + cells + b"</row>" + body + b"</sheetData></worksheet>")
    base = workbook({"S": [list(header)]})
    parts = {"xl/worksheets/sheet1.xml": xml}
    if shared is not None:
        base = add_part(base, "xl/sharedStrings.xml", b"")
        parts["xl/sharedStrings.xml"] = shared
    if padding:
        base = add_part(base, "docProps/thumbnail.jpeg", b"")
        parts["docProps/thumbnail.jpeg"] = random.Random(padding).randbytes(padding)
    return _rebuild(base, {name: (_deflate(content, 1), len(content), zlib.crc32(content))
                           for name, content in parts.items()})


def sparse_cell(ref: str) -> bytes:
    """One number at ``ref`` (``XFD100000``, ``T1048576``) below the header: the dense grid a reader builds
    from A1 to it is rows × columns."""
    row = "".join(ch for ch in ref if ch.isdigit())
    return with_sheet(f'<row r="{row}"><c r="{ref}"><v>1</v></c></row>'.encode())


def cells_in_one_row(n: int, *, refs: str = "none") -> bytes:
    """``n`` cells inside one ``<row>``: without references (each the next column, as readers place them) or,
    with ``refs="rows"``, at A2, A3 … A(n+1) — a million rows that a count of ``<row>`` tags does not see.
    Padded to stay under the 100:1 compression ratio, as an attacker would."""
    if refs == "rows":
        body = b"".join(b'<c r="A%d"><v>1</v></c>' % i for i in range(2, n + 2))
    else:
        body = b"<c><v>1</v></c>" * n
    return with_sheet(b'<row r="2">' + body + b"</row>", padding=len(body) // 50)


def many_rows(n: int) -> bytes:
    """``n`` data rows of one cell each (X09): 1,048,576 fit in a few hundred KB."""
    return with_sheet(b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(2, n + 2)))


def shared_strings(count: int, *, declared: int | None = None) -> bytes:
    """A sheet using string 0 of a sharedStrings part holding ``count`` strings and declaring ``declared``
    (a reader that reserves the declared count asks for 96 GB at four billion)."""
    n = declared if declared is not None else count
    sst = (b'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
           b'2006/main" count="%d" uniqueCount="%d">' % (n, n) + b"<si><t>1</t></si>" * count + b"</sst>")
    return with_sheet(b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>', shared=sst)
