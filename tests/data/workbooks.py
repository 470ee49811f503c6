"""Spreadsheets the tests write themselves with openpyxl: messy real-world ones and hostile ones."""

from __future__ import annotations

import io
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


def _deflate(content: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
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
