"""Finding the header row and matching columns by their Chinese names.

Real sheets put a title or two above the header ("XX小区2026年上半年业主满意度调查汇总表"), sometimes a
two-row header (各部门满意度 over 客服部 / 工程部 …), and name columns in their own words (房号 / 房间号 /
户号). A column is declared once with the model's label (:func:`models.label_of`) and its common variants;
headers are compared after NFKC, with spaces, ``*`` required marks and bracketed notes like ``（必填）``
ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .clean import Cleaner

# Rows a header may sit below (titles, notes, blank lines).
HEADER_SCAN_ROWS = 20
_BRACKETS = re.compile(r"[(\[【].*?[)\]】]")


@dataclass(frozen=True)
class Field:
    """One column an import reads: ``label`` is the model's Chinese label, ``key`` what the importer calls it."""

    key: str
    label: str
    clean: Cleaner
    required: bool = False
    variants: tuple[str, ...] = ()
    note: str = ""  # the template's instructions sheet
    choices: tuple[str, ...] = ()  # the template's drop-down
    example: Any = None

    def names(self) -> set[str]:
        return {n for name in (self.label, *self.variants) for n in header_keys(name)}


def header_keys(text: Any) -> tuple[str, ...]:
    """The forms a header cell is compared by: whole, and without bracketed notes."""
    if not isinstance(text, str):
        return ()
    norm = unicodedata.normalize("NFKC", text)
    norm = "".join(norm.split()).replace("*", "").rstrip(":").lower()
    if not norm:
        return ()
    bare = _BRACKETS.sub("", norm)
    return (norm, bare) if bare and bare != norm else (norm,)


@dataclass(frozen=True)
class Header:
    row: int  # 0-based index of the (lower) header row
    columns: dict[str, int]  # field key → column index
    titles: dict[int, str]  # column index → the header as written
    ignored: tuple[str, ...] = ()  # headers that match no field
    duplicates: tuple[str, ...] = field(default_factory=tuple)  # labels found in two columns

    @property
    def data_start(self) -> int:
        return self.row + 1

    def missing(self, fields: Sequence[Field]) -> list[Field]:
        return [f for f in fields if f.required and f.key not in self.columns]


def _match_row(cells: Sequence[Any], lookup: dict[str, str]) -> dict[int, str]:
    """column index → field key for the cells of one row that name a field."""
    found = {}
    for j, cell in enumerate(cells):
        for key in header_keys(cell):
            if key in lookup:
                found[j] = lookup[key]
                break
    return found


def find_header(rows: Sequence[Sequence[Any]], fields: Sequence[Field]) -> Header | None:
    """The row (or pair of rows) naming the most fields among the first rows; None if no row names any."""
    lookup = {name: f.key for f in fields for name in f.names()}
    candidates = [_match_row(row, lookup) for row in rows[:HEADER_SCAN_ROWS]]
    best: tuple[int, int, dict[int, str]] | None = None  # (score, row, column → key)
    for r, found in enumerate(candidates):
        options = [(r, found)]
        below = candidates[r + 1] if r + 1 < len(candidates) else {}
        if found and below:  # a two-row header: the lower row names what the upper one groups
            options.append((r + 1, {**found, **below}))
        for row, matched in options:
            score = len(set(matched.values()))
            if score and (best is None or score > best[0]):
                best = (score, row, matched)
    if best is None:
        return None
    _, row, matched = best
    upper = rows[row - 1] if row > 0 else ()
    columns: dict[str, int] = {}
    duplicates: list[str] = []
    labels = {f.key: f.label for f in fields}
    for j, key in sorted(matched.items()):
        if key in columns:
            duplicates.append(labels[key])
        else:
            columns[key] = j
    titles = {}
    for j, cell in enumerate(rows[row]):
        text = cell if isinstance(cell, str) and cell.strip() else (upper[j] if j < len(upper) else "")
        if isinstance(text, str) and text.strip():
            titles[j] = text.strip()
    ignored = tuple(t for j, t in sorted(titles.items()) if j not in matched)
    return Header(row, columns, titles, ignored, tuple(duplicates))
