"""The import pipeline: read → clean → validate → resolve in bulk → preview → apply all-or-nothing.

One path for every kind of import (survey responses, units, customers, bills …) and for both the preview
and the real run: a dry run is the same code stopping before the writes (as django-import-export does).
A kind of import is an :class:`Importer` — its columns (:class:`Field`), how a row is identified, a bulk
``check`` that resolves references and compares with the database, and a set-based ``write``.

Every row ends as 新增 / 更新 / 无变化 / 重复 / 错误, each problem with sheet, row, column, value and reason.
A real run writes only when no row has an error, in the caller's transaction, under an :class:`ImportBatch`
whose kind + target + file hash is unique: the same file a second time is refused with 该批次已导入 (X21).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat, zip_longest
from operator import attrgetter
from typing import Any, ClassVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import SHANGHAI, BatchStatus, ImportBatch, LabeledEnum, utcnow
from models.db import controls_stripped, without_controls

from ..actor import Actor
from ..audit import log_operation
from ..errors import Refused, integrity_message
from ..kernel.sql import upsert_insert
from ..privacy import mask
from .clean import MASKED, Invalid, building_key, room_key
from .header import HEADER_SCAN_ROWS, Field, Header, find_header
from .reader import LIMITS, Book, Limits, Pieces, Sheet, read_book

# (stage in Chinese, rows done, rows in all) — shown by the console's progress bar and the CLI.
Progress = Callable[[str, int, int], None]
PREVIEW_ROWS = 20
# A column takes the canonical fast path when more than 1 cell in this many holds its own value.
DISTINCT_FOR_FAST_PATH = 8
LISTED_UPDATES = 1000
# A row whose first cells say this is a total, not a household.
TOTAL_MARKERS = ("合计", "总计", "小计", "平均", "汇总", "总数")
_TOTAL_FIRST = {m[0] for m in TOTAL_MARKERS}
# A text whose first letter past blanks may begin a total, found in a column's texts joined (a false hit only costs
# the exact test of each text).
_MAYBE_TOTAL = re.compile(f"(?:^|\x00)\\s*[{''.join(sorted(_TOTAL_FIRST))}]")
# After a grand total only footers follow (制表人、审核、日期).
END_MARKERS = ("合计", "总计")


class Outcome(LabeledEnum):
    NEW = "new", "新增"
    UPDATE = "update", "更新"
    UNCHANGED = "unchanged", "无变化"
    DUPLICATE = "duplicate", "重复"
    ERROR = "error", "错误"


def shown(value: Any) -> str:
    """A value as the preview and the messages show it."""
    if value is None or value is MASKED:
        return "" if value is None else "（已打码，保留原值）"
    if isinstance(value, Invalid):  # the cell as typed is not at hand here: never show the marker itself
        return ""
    if isinstance(value, LabeledEnum):
        return value.label
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value.tzinfo else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@dataclass(frozen=True, slots=True)
class Problem:
    sheet: str
    row: int  # as Excel numbers it
    column: str  # the column's Chinese header; "" for the row as a whole
    value: str
    reason: str

    @property
    def message(self) -> str:
        return " ".join(p for p in (f"「{self.sheet}」第{self.row}行", self.column, self.reason) if p)


@dataclass(slots=True)
class Row:
    """One data row on its way through the pipeline; the importer sets its outcome, target and changes."""

    sheet: str
    number: int
    values: dict[str, Any]
    outcome: Outcome = Outcome.NEW
    # Made on first use: a 100,000-row file has few problems and, when re-imported, few changes.
    problems: list[Problem] | None = None
    target_id: int | None = None
    changes: dict[str, tuple[Any, Any]] | None = None
    # The cells that could not be read, as typed: the preview shows what the user wrote, not the marker.
    typed: dict[str, Any] | None = None

    def fail(self, column: str, value: Any, reason: str) -> None:
        self._note(column, value, reason)
        self.outcome = Outcome.ERROR

    def duplicate(self, column: str, value: Any, reason: str) -> None:
        """Reported, not counted twice, and not an error: the rest of the file still imports."""
        self._note(column, value, reason)
        if self.outcome is not Outcome.ERROR:
            self.outcome = Outcome.DUPLICATE

    def _note(self, column: str, value: Any, reason: str) -> None:
        if self.problems is None:
            self.problems = []
        self.problems.append(Problem(self.sheet, self.number, column, shown(value), reason))

    @property
    def ok(self) -> bool:
        return self.outcome is not Outcome.ERROR


@dataclass(frozen=True)
class RowResult:
    sheet: str
    row: int
    outcome: Outcome
    values: tuple[tuple[str, str], ...]  # (column, value as understood)
    reasons: tuple[str, ...] = ()
    changes: tuple[tuple[str, str, str], ...] = ()  # (column, stored, from the file)


@dataclass(frozen=True)
class ImportResult:
    kind: str
    title: str
    file_name: str
    file_hash: str
    dry_run: bool
    written: bool
    batch_id: int | None
    counts: dict[str, int]
    problems: tuple[Problem, ...]
    preview: tuple[RowResult, ...]
    updates: tuple[RowResult, ...]
    sheets: tuple[str, ...]
    skipped_sheets: tuple[str, ...]
    ignored_columns: tuple[str, ...]
    imported_before: str = ""

    @property
    def has_errors(self) -> bool:
        return self.counts.get(Outcome.ERROR.value, 0) > 0

    @property
    def unused_warning(self) -> str:
        """The columns no field reads, named: what they hold is not imported (never silently dropped)."""
        if not self.ignored_columns:
            return ""
        names = "、".join(f"「{c}」" for c in self.ignored_columns)
        return f"以下 {len(self.ignored_columns)} 列未能识别，其内容不会导入：{names}。如需导入，请按模板修改列名后重新上传"

    @property
    def rows(self) -> int:
        return sum(self.counts.get(o.value, 0) for o in Outcome)

    def to_dict(self) -> dict[str, Any]:
        """The outcome for scripts (``--json``) and the progress endpoint."""
        return {
            "kind": self.kind, "file_name": self.file_name, "dry_run": self.dry_run, "written": self.written,
            "batch_id": self.batch_id, "counts": dict(self.counts), "sheets": list(self.sheets),
            "skipped_sheets": list(self.skipped_sheets), "ignored_columns": list(self.ignored_columns),
            "imported_before": self.imported_before,
            "problems": [
                {"sheet": p.sheet, "row": p.row, "column": p.column, "value": p.value, "reason": p.reason,
                 "message": p.message}
                for p in self.problems
            ],
        }


    def stored(self) -> dict[str, Any]:
        """All of it as JSON: a 后台任务 keeps its preview so that any process shows it (:meth:`from_stored`)."""
        return {**self.to_dict(), "title": self.title, "file_hash": self.file_hash,
                "preview": [_stored_row(r) for r in self.preview], "updates": [_stored_row(r) for r in self.updates]}

    @classmethod
    def from_stored(cls, d: dict[str, Any]) -> ImportResult:
        return cls(
            kind=d["kind"], title=d["title"], file_name=d["file_name"], file_hash=d["file_hash"],
            dry_run=d["dry_run"], written=d["written"], batch_id=d["batch_id"], counts=d["counts"],
            problems=tuple(Problem(p["sheet"], p["row"], p["column"], p["value"], p["reason"]) for p in d["problems"]),
            preview=tuple(map(_row_from_stored, d["preview"])), updates=tuple(map(_row_from_stored, d["updates"])),
            sheets=tuple(d["sheets"]), skipped_sheets=tuple(d["skipped_sheets"]),
            ignored_columns=tuple(d["ignored_columns"]), imported_before=d["imported_before"],
        )


def _stored_row(r: RowResult) -> list[Any]:
    return [r.sheet, r.row, r.outcome.value, [list(v) for v in r.values], list(r.reasons), [list(c) for c in r.changes]]


def _row_from_stored(row: list[Any]) -> RowResult:
    sheet, number, outcome, values, reasons, changes = row
    return RowResult(sheet, number, Outcome(outcome), tuple(map(tuple, values)), tuple(reasons),
                     tuple(map(tuple, changes)))

# a unit as staff type it: 3号楼 101 and 3栋 101室 are one household
SAME = {"building": building_key, "room_no": room_key}


class Importer:
    """A kind of import. Subclasses declare the columns and implement ``check`` and ``write``, set-based."""

    kind: ClassVar[str]  # ImportBatch.kind, the CLI's name
    title: ClassVar[str]  # what one row is, in Chinese (the model's label)
    allow_csv: ClassVar[bool] = True
    key: ClassVar[tuple[str, ...]] = ()  # the fields identifying a row: twice in one file is an error…
    # …unless the later ones are skipped as 重复 (a household answering twice: the first form counts)
    repeats_skipped: ClassVar[bool] = False
    notes: ClassVar[tuple[str, ...]] = ()  # the template's instructions besides the columns'
    # Whether the preview may show personal data (phone, 身份证号) in full: the caller decides, as an export
    # does (the role's 查看完整敏感信息 grant); by default they are masked.
    unmask: bool = False

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor

    def pii(self) -> dict[str, str]:
        """Field key → kind of personal data (``phone`` / ``id_number``), masked in the preview."""
        return {}

    def hidden(self, key: str, value: Any) -> Any:
        """``value`` of field ``key`` as this preview may show it: personal data masked unless ``unmask``."""
        kind = None if self.unmask else self.pii().get(key)
        if kind is None or value is None or value is MASKED or isinstance(value, Invalid):
            return value
        return mask(kind, str(value))

    def describe_key(self, row: Row) -> str:
        """The row's key as its labelled values show it, for messages: a unit as lists show it (``1栋-101``),
        then the other values (``1栋-101 / 物业管理费 / 2026-03``); personal data masked."""
        v = row.values
        parts = []
        for k in self.key:
            if k == "room_no" and "building" in self.key:
                continue
            if k in ("building", "unit"):
                unit = v.get("unit") if k == "unit" else None
                if not unit and v.get("building") and v.get("room_no"):
                    unit = f"{v['building']}-{v['room_no']}"
                parts.append(unit or "")
            else:
                parts.append(shown(self.hidden(k, v.get(k))))
        return " / ".join(p for p in parts if p)

    def fields(self) -> tuple[Field, ...]:
        raise NotImplementedError

    def target(self) -> str:
        """ImportBatch.target: what the file is imported into (``survey:12``, ``all``)."""
        return "all"

    def project_id(self) -> int | None:
        return None

    def row_key(self, row: Row) -> tuple | None:
        values = row.values
        key = []
        for name, fold in self._key_folds:
            value = values.get(name)
            if value is None or value is MASKED:
                return None
            key.append(value if fold is None else fold(value))
        return tuple(key) if key else None

    def row_keys(self, rows: list[Row]) -> list[tuple | None] | None:
        """Every row's key at once, where the kind works them out column by column (a whole file passes here): keys
        that are equal exactly where the rows' ``row_key`` are (the repeats check compares nothing else) — or,
        where no two rows can be alike, any keys all distinct. None: one ``row_key`` call per row."""
        return None

    @functools.cached_property
    def _key_folds(self) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
        # asked for every row of the file: each key field's fold looked up once
        return tuple((k, SAME.get(k)) for k in self.key)

    def check(self, rows: list[Row]) -> None:
        """Resolve references and compare with the database, in bulk; set each row's outcome."""
        raise NotImplementedError

    # The batch that imported the same file before, if any (set before ``check``).
    previous: ImportBatch | None = None

    def recognise(self, rows: list[Row]) -> bool:
        """Whether the rows are known to be as ``previous`` — the same file's import — left them: then each is set
        無变化 here and neither the repeats nor ``check`` run."""
        return False

    def check_columns(self, columns: Columns) -> Checked | None:
        """The rows of a usual file (:class:`Columns`: nothing in them to report row by row) checked column by
        column, without a row object: what :meth:`write_columns` writes, where every row is 新增 and the check of
        the rows (repeats and ``check``) would find no problem in any — else None, and the rows are made and checked
        one by one. A kind that does not override it always has its rows made."""
        return None

    def write_columns(self, checked: Checked, batch: ImportBatch) -> dict[str, int]:
        """Write what :meth:`check_columns` checked, as :meth:`write` would have written its rows."""
        raise NotImplementedError

    def marks_of(self, projects: set[int]) -> dict[str, int] | None:
        """:meth:`marks` of a write to ``projects`` (a columnar one: no rows)."""
        return None

    def prefetch(self, size: int) -> None:
        """Read ahead what ``check`` and ``write`` will read from the database, while calamine parses the file of
        ``size`` bytes (:func:`read_book`'s ``meanwhile``): a kind that does nothing here reads the file in one
        thread."""

    def streams(self) -> bool:
        """Whether a real run may check and write the file a piece at a time (:meth:`stream`): ``check`` then takes
        any piece of the rows and reads nothing from the database (all it needs was read ahead)."""
        return False

    def stream(self, batch: ImportBatch, headers: list[Header]) -> contextlib.AbstractContextManager[Stream]:
        """The writer of a streamed run under ``batch``: see :class:`Stream`."""
        raise NotImplementedError

    def marks(self, rows: list[Row]) -> dict[str, int] | None:
        """What the batch keeps of the database as its write left it (``ImportBatch.marks``), or None."""
        return None

    def write(self, rows: list[Row], batch: ImportBatch) -> dict[str, int]:
        """Write the 新增/更新 rows, set-based, with their audit rows; return counts for the batch."""
        raise NotImplementedError

    def label(self, key: str) -> str:
        return self._labels[key]

    @functools.cached_property
    def _labels(self) -> dict[str, str]:
        # asked for once per row and column by some checks: looked up, not searched for
        return {f.key: f.label for f in reversed(self.fields())}


@dataclass(frozen=True)
class Checked:
    """A file :meth:`Importer.check_columns` checked: the projects it writes to, and what the kind's write needs."""

    projects: set[int]


class Stream:
    """What a streamed run hands its rows to: ``write`` each checked piece without an error (in order), then
    ``finish`` with all the file's rows once every piece is written — its counts for the batch, as ``write`` returns
    them. Leaving the block without ``finish`` (an error in a row, or an exception) ends the writing; the run rolls it
    back."""

    def write(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def finish(self, rows: list[Row]) -> dict[str, int]:
        raise NotImplementedError


# --- parsing ---------------------------------------------------------------------------------------


@dataclass
class Columns:
    """A sheet's data rows kept as columns (:func:`parse` with ``columnar``): every row below the header, numbered
    from ``first`` on, none blank, none a total, no cell invalid, merged, a formula without a value or empty where its
    field is required — the rows :func:`parse` would give, not yet made. ``values``: field key → its cleaned cells."""

    sheet: str
    first: int  # the Excel number of the first row
    values: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.values.values()), ()))

    def rows(self, stop: int | None = None) -> list[Row]:
        """The first ``stop`` rows (all without it) as :func:`parse` makes them: one Row and one dict each, in C loops."""
        keys = list(self.values)
        cells = [column[:stop] for column in self.values.values()]
        count = len(cells[0]) if cells else 0
        return list(map(Row, repeat(self.sheet), range(self.first, self.first + count),
                        map(dict, map(zip, repeat(keys), zip(*cells, strict=True)))))


@dataclass
class Parsed:
    rows: list[Row]
    sheets: list[str]
    skipped: list[str]
    ignored: list[str]
    blank: int = 0
    totals: int = 0
    # The one sheet's rows as columns, ``rows`` left empty: see :func:`parse`.
    columns: Columns | None = None


def _is_total(cell: Any) -> str | None:
    # Most cells are told apart by their first letter: a column of 100,000 phone numbers is not joined and searched.
    if isinstance(cell, str) and cell.lstrip()[:1] in _TOTAL_FIRST:
        text = "".join(cell.split())
        for marker in TOTAL_MARKERS:
            if text.startswith(marker):
                return marker
    return None


def _headers(book: Book, fields: Sequence[Field]) -> tuple[Parsed, list[tuple[Sheet, Header]]]:
    """Each sheet's header; refuse a workbook where no sheet has the columns needed."""
    found: list[tuple[Sheet, Header]] = []
    partial: list[tuple[Sheet, Header]] = []
    skipped: list[str] = []
    for sheet in book.sheets:
        header = find_header(sheet.rows, fields)
        if header is None:
            skipped.append(f"{sheet.name}（未找到表头）")
        elif header.duplicates:
            raise Refused(f"工作表「{sheet.name}」中 {'、'.join(header.duplicates)} 出现在多列，请只保留一列")
        elif header.missing(fields):
            partial.append((sheet, header))
        else:
            _refuse_split_columns(sheet, header, fields)
            found.append((sheet, header))
    if not found:
        expected = "、".join(f.label + ("（必填）" if f.required else "") for f in fields)
        if partial:
            sheet, header = max(partial, key=lambda p: len(p[1].columns))
            missing = "、".join(f.label for f in header.missing(fields))
            raise Refused(f"工作表「{sheet.name}」缺少列：{missing}。应有的列：{expected}")
        raise Refused(f"未找到表头：没有一个工作表含有 {expected} 等列（可下载导入模板对照）")
    skipped += [f"{s.name}（缺少列：{'、'.join(f.label for f in h.missing(fields))}）" for s, h in partial]
    parsed = Parsed([], [s.name for s, _ in found], skipped, [])
    for _, header in found:
        parsed.ignored += [t for t in header.ignored if t not in parsed.ignored]
    return parsed, found


def _refuse_split_columns(sheet: Sheet, header: Header, fields: Sequence[Field]) -> None:
    """A column's header merged over several columns with headings of its own in the row below — 「客服部」 over
    「满意 | 基本满意 | 不满意」 ticked √, as paper forms are tallied —: the lower row is no data row, and only the
    first of those columns would be read. Refused for the sheet, saying how to lay it out, rather than row by row
    (「第2行 楼栋 为空」, 「「√」不是评分」)."""
    below = sheet.rows[header.row + 1] if header.row + 1 < len(sheet.rows) else []
    read = {j: key for key, j in header.columns.items()}
    notes = {f.key: f.note for f in fields}
    for r1, c1, _, c2 in sheet.merged:
        if r1 != header.row or c1 not in read or c2 <= c1:
            continue
        parts = [str(below[j]).strip() for j in range(c1, min(c2 + 1, len(below))) if str(below[j]).strip()]
        if len(parts) > 1:
            title = header.titles[c1]
            how = f"（{notes[read[c1]]}）" if notes.get(read[c1]) else ""
            raise Refused(f"工作表「{sheet.name}」第 {header.row + 1}–{header.row + 2} 行是两行表头：「{title}」"
                          f"下分为「{'、'.join(parts)}」{len(parts)} 列，而每项只能占一列：请把「{title}」合并为一列"
                          f"填写{how}后重新导入（可下载导入模板对照）")


def parse(book: Book, fields: Sequence[Field], *, columnar: bool = False) -> Parsed:
    """Find each sheet's header and read its rows; refuse a workbook where no sheet has the columns needed.
    ``columnar``: a workbook of one sheet whose rows hold nothing to report row by row (see :class:`Columns`) is kept
    as columns in ``columns``, its rows not made (``Columns.rows`` makes them)."""
    parsed, found = _headers(book, fields)
    for sheet, header in found:
        for _ in _row_chunks(sheet, header, fields, parsed, None, columnar=columnar and len(found) == 1):
            pass
    return parsed


def parse_in_chunks(book: Book, fields: Sequence[Field], size: int) -> tuple[Parsed, list[Header], Iterator[list[Row]]]:
    """:func:`parse` a piece at a time: the headers found (and the workbook refused) at once, then the rows as they
    are read, ``size`` rows of a sheet at a time (each piece is also added to the result's rows). The rows, their
    values and their problems are those :func:`parse` gives."""
    pieces = book.pieces
    if pieces is not None:
        pieces.wait(HEADER_SCAN_ROWS)  # the header is among the first rows
    parsed, found = _headers(book, fields)
    if pieces is not None:
        (sheet, header), = found  # a book in pieces has one sheet
        # A merge reaching below the header needs its top cell's value before the rows under it are read: such a
        # sheet is read whole first.
        if all(r1 < header.data_start for _, _, r1, _ in sheet.merged):
            return parsed, [header], _piece_chunks(sheet, header, fields, parsed, size, pieces)
        pieces.rest()
    chunks = (chunk for sheet, header in found for chunk in _row_chunks(sheet, header, fields, parsed, size))
    return parsed, [header for _, header in found], chunks


def _piece_chunks(sheet: Sheet, header: Header, fields: Sequence[Field], parsed: Parsed, size: int,
                  pieces: Pieces) -> Iterator[list[Row]]:
    """:func:`_row_chunks` of a sheet read in pieces: each chunk's rows read as the pieces holding them come in."""
    lo = header.data_start
    while True:
        while len(sheet.rows) < lo + size and pieces.more():
            pass
        stop = min(lo + size, len(sheet.rows))
        if lo >= stop:
            return
        rows, ended = _read_rows(sheet, header, fields, parsed, lo, stop, set())
        lo = stop
        if rows:
            yield rows
        if ended:
            return


def _row_chunks(sheet: Sheet, header: Header, fields: Sequence[Field], parsed: Parsed,
                size: int | None, *, columnar: bool = False) -> Iterator[list[Row]]:
    start = header.data_start
    rows_of = sheet.rows
    merged_below = {
        (r, c) for r0, c0, r1, c1 in sheet.merged
        # a merge of a value (an empty merged block shows nothing on its rows either)
        if r0 < len(rows_of) and c0 < len(rows_of[r0]) and rows_of[r0][c0] not in (None, "")
        for r in range(max(r0 + 1, start), r1 + 1) for c in range(c0, c1 + 1)
    }
    step = size or max(len(rows_of) - start, 1)
    for lo in range(start, len(rows_of), step):
        rows, ended = _read_rows(sheet, header, fields, parsed, lo, min(lo + step, len(rows_of)), merged_below,
                                 columnar=columnar)
        if rows:
            yield rows
        if ended:
            return


def _read_rows(sheet: Sheet, header: Header, fields: Sequence[Field], parsed: Parsed, begin: int, stop: int,
               merged_below: set[tuple[int, int]], *, columnar: bool = False) -> tuple[list[Row], bool]:
    """The rows of the sheet's rows ``begin`` … ``stop`` (0-based, below the header), added to ``parsed``; and whether a
    grand total ended the sheet among them. ``columnar``: rows with nothing to report are kept as columns instead
    (``parsed.columns``; no row returned)."""
    start = begin  # the sheet's row of data[0]
    data = sheet.rows[begin:stop]
    if not data:
        return [], False
    present = [f for f in fields if f.key in header.columns]
    columns = list(zip_longest(*data, fillvalue=""))
    empty = ("",) * len(data)
    cleaned, made, raw = [], [], {}  # each column's values, what its cleaner made, its distinct cells by sheet column
    for f in present:
        j = header.columns[f.key]
        values, made_here, raw[j] = _clean_column(f.clean, columns[j] if j < len(columns) else empty)
        cleaned.append(values)
        made.append(made_here)
    # Only the columns that hold a bad value, an empty required cell, a formula or a merged cell are looked at cell by
    # cell. A cell under the top of a merge reads blank though the sheet shows the merge's value on that row: refused
    # in any column (a merged 楼栋 or 责任收费员 is not "none" for the rows below), never read as blank.
    suspect = []
    formula_cols = {c for _, c in sheet.formulas} | {c for _, c in sheet.errors} | {c for _, c in merged_below}
    filled = False  # whether some column has no blank cell: then no row is blank
    for k, (f, values) in enumerate(zip(present, made, strict=True)):
        j = header.columns[f.key]
        # the types of what the cleaner made told in C (a cell kept as it is is a str): a column of 100,000 phone
        # numbers is not walked in Python
        invalid = any(issubclass(t, Invalid) for t in set(map(type, values)))
        blank = None in values
        if invalid or (f.required and blank) or j in formula_cols:
            suspect.append(k)
        filled = filled or not blank
    total_at: dict[int, str] = {}
    for j, col in enumerate(columns[:3]):
        # a column's distinct texts tested once; only a column holding a total is walked (a str key never equals
        # a number cell)
        distinct = raw[j] if j in raw else set(col)
        texts = "\x00".join(filter(str.__instancecheck__, distinct))
        # no letter that may begin a total anywhere in the texts (a column of phone numbers, searched in C), or none
        # beginning a text: the column's texts are not tested one by one
        if not any(first in texts for first in _TOTAL_FIRST) or not _MAYBE_TOTAL.search(texts):
            continue
        markers = {v: m for v in distinct if v.__class__ is str and (m := _is_total(v))}
        if markers:
            for i in [i for i, v in enumerate(col) if v in markers]:
                total_at.setdefault(i, markers[col[i]])
    keys = [f.key for f in present]
    if columnar and filled and not suspect and not total_at:
        # nothing to say of any row, none to skip: the usual file, kept as its columns
        parsed.columns = Columns(sheet.name, start + 1, dict(zip(keys, cleaned, strict=True)))
        return [], False
    width = len(keys)
    name = sheet.name
    tuples = list(zip(*cleaned, strict=True))
    # Blank rows found in C (a tuple of Nones compares equal to the blank one); every row before the first grand
    # total that is neither blank nor a total becomes a Row, built in C loops: one dict and one Row per household,
    # no Python step of our own per row.
    blank_row = (None,) * width
    end = len(tuples)
    ended = False
    for i in sorted(total_at):
        if total_at[i] in END_MARKERS:
            end, ended = i + 1, True
            break
    skipped = {i for i in total_at if i < end}
    parsed.totals += len(skipped)
    if blank_row in tuples:
        # a row of formulas without a cached value reads blank, yet is not: it is reported below, cell by cell
        read = {header.columns[f.key] for f in present}
        formulas = {r - start for r, c in (*sheet.formulas, *sheet.errors) if c in read}
        blanks = {i for i, values in enumerate(tuples[:end]) if values == blank_row} - skipped - formulas
        parsed.blank += len(blanks)
        skipped |= blanks
    kept = [i for i in range(end) if i not in skipped] if skipped else range(end)
    if skipped:
        tuples = [tuples[i] for i in kept]
    rows = list(map(Row, repeat(name), [start + i + 1 for i in kept], map(dict, map(zip, repeat(keys), tuples))))
    parsed.rows += rows
    # Only the columns that hold a bad value, an empty required cell or a formula are looked at cell by cell.
    for k in suspect:
        f = present[k]
        j = header.columns[f.key]
        for row, i, values in zip(rows, kept, tuples, strict=True):
            value = values[k]
            if isinstance(value, Invalid):
                cell = data[i][j] if j < len(data[i]) else ""
                row.fail(f.label, cell, value.reason)
                if row.typed is None:
                    row.typed = {}
                row.typed[f.key] = cell
            elif value is None and (start + i, j) in sheet.formulas:
                row.fail(f.label, "", "为公式且没有计算结果：请复制该列后“选择性粘贴”为数值")
            elif value is None and (error := sheet.errors.get((start + i, j))):
                # never read as blank: a blank 备注 or 车牌号 would clear what is stored
                row.fail(f.label, error, f"为错误值 {error}（公式出错）：请改正或删除该单元格后重新导入")
            elif value is None and (start + i, j) in merged_below:
                row.fail(f.label, "", "为空（合并单元格？请取消合并并逐行填写）")
            elif value is None and f.required:
                row.fail(f.label, "", "为空")
    return rows, ended


# --- running ---------------------------------------------------------------------------------------


def run_import(
    session: Session,
    importer: Importer,
    *,
    data: bytes,
    file_name: str,
    dry_run: bool = False,
    limits: Limits = LIMITS,
    progress: Progress | None = None,
) -> ImportResult:
    """Read, check and — unless ``dry_run`` or any row has an error — write ``data`` through ``importer``.

    A file that cannot be read safely, or has no usable header, raises :class:`Refused`; row problems are
    reported in the result, and then nothing is written. Only a clean real run writes, in one go.
    """
    with _collector_paused(), contextlib.ExitStack() as cleanup:
        return _run_import(session, importer, data=data, file_name=file_name, dry_run=dry_run, limits=limits,
                           progress=progress, cleanup=cleanup)


def _run_import(
    session: Session, importer: Importer, *, data: bytes, file_name: str, dry_run: bool, limits: Limits,
    progress: Progress | None, cleanup: contextlib.ExitStack,
) -> ImportResult:
    report = progress or (lambda *_: None)
    if not dry_run:  # the same file a second time is refused before any work (double click, X21)
        previous = session.scalar(_batch_query(importer, hashlib.sha256(data).hexdigest()))
        if previous is not None and previous.status is BatchStatus.DONE:
            raise Refused(f"该批次已导入：{_imported_before(previous)}", ids=[previous.id])
    report("读取文件", 0, 0)
    ahead = importer.prefetch if type(importer).prefetch is not Importer.prefetch else None
    # A real run that may stream reads the file in pieces too: each piece's check and write overlap the parse of the
    # next (the stretches after the first are parsed while the rows before are worked on).
    piece_rows = STREAM_ROWS if not dry_run and type(importer).stream is not Importer.stream else None
    book = read_book(data, file_name, allow_csv=importer.allow_csv, limits=limits, meanwhile=ahead,
                     piece_rows=piece_rows)
    if book.pieces is not None:
        cleanup.callback(book.pieces.close)
    fields = importer.fields()
    streamed = fast = None
    if not dry_run and importer.streams() and _rows_at_most(book, limits.max_rows):
        previous = importer.previous = session.scalar(_batch_query(importer, book.file_hash))
        parsed, streamed = _streamed(session, importer, book, fields, previous, report)
        rows = parsed.rows
    else:
        if book.pieces is not None:
            book.pieces.rest()  # checked whole after all
        parsed = parse(book, fields, columnar=type(importer).check_columns is not Importer.check_columns)
        columns = parsed.columns
        total = len(parsed.rows) if columns is None else len(columns)
        if total > limits.max_rows:
            raise Refused(f"文件数据行数过多（{total} 行，上限 {limits.max_rows} 行），请拆分后分批导入")
        report("核对数据", 0, total)
        previous = importer.previous = session.scalar(_batch_query(importer, book.file_hash))
        if columns is not None:
            # The usual file checked column by column, unless it is one its import left as it is (recognised below)
            # or the importer finds anything it leaves to the rows' check: then its rows are made here.
            if previous is None or previous.status is not BatchStatus.DONE:
                fast = importer.check_columns(columns)
            if fast is None:
                parsed.rows = columns.rows()
        rows = parsed.rows
        # A file its earlier import left as it is needs no check (and, imported then, has no repeats).
        if fast is None and not importer.recognise(rows):
            _check_repeats(importer, rows)
            importer.check(rows)
    imported_before = _imported_before(previous)
    if fast is not None:
        # every row 新增, none with a problem; the preview's rows made, the others never
        rows = columns.rows(PREVIEW_ROWS)
        counts = {o.value: 0 for o in Outcome} | {Outcome.NEW.value: len(columns)}
    else:
        tally = Counter(map(attrgetter("outcome"), rows))  # one C-level pass, not an enum lookup per row
        counts = {o.value: tally[o] for o in Outcome}
    done = sum(counts.values())  # every row counted once
    report("核对数据", done, done)
    written = False
    batch_id = None
    if not dry_run and not counts[Outcome.ERROR.value]:
        report("写入数据", 0, done)
        if streamed is not None:
            batch, written_counts = streamed
        else:
            batch = _claim_batch(session, importer, book, previous)
            try:
                with controls_stripped(session):  # every text the rows carry went through _without_controls
                    written_counts = importer.write(rows, batch) if fast is None else importer.write_columns(fast, batch)
            except Exception as exc:
                _refuse_duplicate(importer, exc)
                raise
        batch.status = BatchStatus.DONE
        batch.finished_at = utcnow()
        batch.marks = importer.marks(rows) if fast is None else importer.marks_of(fast.projects)
        batch.counts = {**counts, **written_counts}
        log_operation(
            session,
            f"import:{importer.kind}",
            params={"file_name": book.file_name, "target": importer.target(), "batch_id": batch.id},
            counts={**counts, **written_counts},
            project_id=importer.project_id(),
            message=f"导入{importer.title}：{book.file_name}",
        )
        session.flush()
        # The rows went in without the ORM: nothing loaded before may be trusted.
        session.expire_all()
        written, batch_id = True, batch.id
        report("写入数据", done, done)
    counts["blank"] = parsed.blank
    counts["totals"] = parsed.totals
    labels = {f.key: f.label for f in fields}
    update = Outcome.UPDATE  # looked up once, not once a row: 100,000 rows 10 → 3 ms
    return ImportResult(
        kind=importer.kind,
        title=importer.title,
        file_name=book.file_name,
        file_hash=book.file_hash,
        dry_run=dry_run,
        written=written,
        batch_id=batch_id,
        counts=counts,
        problems=tuple(p for row in rows if row.problems for p in row.problems),
        preview=tuple(_row_result(importer, row, labels) for row in rows[:PREVIEW_ROWS]),
        updates=tuple(_row_result(importer, row, labels)
                      for row in rows if row.outcome is update)[:LISTED_UPDATES],
        sheets=tuple(parsed.sheets),
        skipped_sheets=tuple(parsed.skipped),
        ignored_columns=tuple(parsed.ignored),
        imported_before=imported_before,
    )


# A real run of an importer that streams (``Importer.streams``) reads, checks and writes this many rows at a time.
STREAM_ROWS = 10_000


def _rows_at_most(book: Book, most: int) -> bool:
    """Whether the book's sheets hold at most ``most`` rows, headers and all: a file beyond is refused after its
    whole parse (naming its rows), never streamed."""
    if book.pieces is not None:
        return book.pieces.rows_at_most(most)
    return sum(len(sheet.rows) for sheet in book.sheets) <= most


def _streamed(session: Session, importer: Importer, book: Book, fields: Sequence[Field], previous: ImportBatch | None,
              report: Progress) -> tuple[Parsed, tuple[ImportBatch, dict[str, int]] | None]:
    """A real run written as it is read: each piece of ``STREAM_ROWS`` rows parsed, checked for repeats (against the
    rows before it too) and checked, then handed to the importer's writer (``Importer.stream``), which writes it in a
    thread of its own — the database's work on one piece (PostgreSQL's backend, SQLite's steps, outside the GIL)
    overlapping the parse and the check of the next. The rows, their outcomes and their problems are those a
    whole-file run gives. The writes go under the batch in a savepoint: once a row has an error nothing more is
    handed over, every row is still checked (all problems are listed), and the savepoint is rolled back — nothing is
    written. Returns the parse and, where all was written, (batch, the write's counts)."""
    parsed, headers, pieces = parse_in_chunks(book, fields, STREAM_ROWS)
    # the rows to check, at most (the progress bar's end)
    most = book.pieces.estimate if book.pieces is not None else sum(len(sheet.rows) for sheet in book.sheets)
    savepoint = session.begin_nested()
    try:
        batch = _claim_batch(session, importer, book, previous)
        seen: dict[tuple, Row] = {}
        failed = False
        with controls_stripped(session), importer.stream(batch, headers) as stream:
            for piece in pieces:
                report("核对数据", len(parsed.rows) - len(piece), most)
                _check_repeats(importer, piece, seen)
                importer.check(piece)
                failed = failed or any(row.outcome is Outcome.ERROR for row in piece)
                if not failed:
                    stream.write(piece)
            written = None if failed else stream.finish(parsed.rows)
    except BaseException as exc:
        if savepoint.is_active:
            savepoint.rollback()
        if isinstance(exc, Exception):
            _refuse_duplicate(importer, exc)
        raise
    if failed:
        savepoint.rollback()
        return parsed, None
    savepoint.commit()
    return parsed, (batch, written)


def _refuse_duplicate(importer: Importer, exc: Exception) -> None:
    """Checked against the database as it was when this import read it; another import that added the same records
    (the same 房号 from another file) committed since. The unique keys held: nothing is written. Any other
    constraint the write met (a NOT NULL, a record deleted meanwhile) is named as such, never as a duplicate."""
    if _duplicate(exc):
        raise Refused(f"导入{importer.title}未完成：另一项导入刚刚写入了相同的记录（如同一房号），本次没有写入任何"
                      "内容。请重新上传预览，核对后再导入") from exc
    if _violation(exc):
        raise Refused(f"导入{importer.title}未完成，本次没有写入任何内容：{integrity_message(exc)}") from exc


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """A 100,000-row file becomes millions of small objects without reference cycles; the cyclic garbage
    collector would walk them over and over (up to half the parse time here, and again for every batch of
    tuples the writes build while the rows are alive). It waits until the import is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def clean_column(clean: Callable[[Any], Any], cells: Sequence[Any]) -> list[Any]:
    """A column's cells cleaned: see :func:`_clean_column`."""
    return _clean_column(clean, cells)[0]


def _clean_column(clean: Callable[[Any], Any], cells: Sequence[Any]) -> tuple[list[Any], Collection[Any], set[Any]]:
    """A column's cells cleaned, with the values the cleaner made for them (a cell kept as it is, a str, aside: what
    the column holds besides such strs, each at least once) and the column's distinct cells.

    Cleaned through the cleaner cached: a survey column holds a handful of distinct values, so most of its cells
    cost one dictionary lookup (typed, so 1, 1.0 and True stay apart). A column of mostly
    distinct values (phones, ID numbers) would miss the cache at every cell: there a cell already in the cleaner's
    canonical form (a str its ``canonical`` pattern fullmatches and its ``confirm`` accepts) is kept as it is, which
    the cleaner would return anyway, for one regex call; only the others go through the cleaner."""
    slow = functools.lru_cache(maxsize=None, typed=True)(_without_controls(clean))
    canonical = getattr(clean, "canonical", None)
    # A cache hit costs less than the regex (100 buildings, 1,000 room numbers in 100,000 rows); the hashes the
    # set computes are kept by the str cells for the cache's lookups.
    distinct = set(cells)
    if canonical is None or len(distinct) * DISTINCT_FOR_FAST_PATH < len(cells):
        if not any(issubclass(t, _NUMBER_TYPES) for t in set(map(type, distinct))):
            # No two distinct cells a dict would take for one (1, 1.0 and True are): each distinct cell cleaned
            # once and the column looked up in C, a third of the cache's cost per cell.
            cleaned = dict(zip(distinct, map(slow, distinct), strict=True))
            return list(map(cleaned.__getitem__, cells)), cleaned.values(), distinct
        values = list(map(slow, cells))
        return values, values, distinct
    fullmatch, confirm = canonical.fullmatch, clean.confirm
    made: list[Any] = []  # the cleaner's values: only for the cells not kept as they are

    def cleaned_(cell: Any) -> Any:
        value = slow(cell)
        made.append(value)
        return value

    if confirm is None:
        return [c if c.__class__ is str and fullmatch(c) else cleaned_(c) for c in cells], made, distinct
    return [c if c.__class__ is str and fullmatch(c) and confirm(c) else cleaned_(c) for c in cells], made, distinct


# Cells a dictionary would confuse with a cell of another type (1 == 1.0 == True): such columns go through the
# cleaner's typed cache.
_NUMBER_TYPES = (int, float, complex, Decimal)


def _without_controls(clean: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The cell's cleaner, after control characters (``_x0007_`` in the file) are dropped: the preview shows
    what will be stored."""
    return lambda value: clean(without_controls(value))


def _check_repeats(importer: Importer, rows: list[Row], seen: dict[tuple, Row] | None = None) -> None:
    """The same record twice in one file is an error on the later row, naming the earlier (X16) — or, where the
    importer skips repeats, the later row is listed as 重复 and not counted. ``seen``: the first row of each key of
    the file's rows before these (a file checked a piece at a time), kept up to date."""
    if not importer.key:
        return
    keys = list(_row_keys(importer, rows))
    # A file without repeats (the usual one) is told in C, its rows not walked: every key but the blank ones distinct.
    distinct = set(keys)
    if len(distinct) + max(keys.count(None) - 1, 0) == len(keys) and (not seen or seen.keys().isdisjoint(distinct)):
        if seen is not None:
            seen.update(zip(keys, rows, strict=True))
            seen.pop(None, None)
        return
    if seen is None:
        seen = {}
    column = " / ".join(importer.label(k) for k in importer.key)
    for row, key in zip(rows, keys, strict=True):
        if key is None:
            continue
        first = seen.setdefault(key, row)
        if first is not row:
            where = f"第{first.number}行" if first.sheet == row.sheet else f"「{first.sheet}」第{first.number}行"
            # Named by its labelled values, never by the internal key (which may hold a full phone number).
            described = importer.describe_key(row)
            if importer.repeats_skipped:
                row.duplicate(column, described, f"{described} 与{where}重复：只计{where}，本行不计入")
            else:
                row.fail(column, described, f"{described} 与{where}重复")


def _row_keys(importer: Importer, rows: list[Row]) -> Iterable[tuple | None]:
    """Each row's ``row_key``; where the importer keeps the default one, worked out column by column (each key
    field's values taken in one pass and folded through its cached fold), not by a call per row."""
    keys = importer.row_keys(rows)
    if keys is not None:
        return keys
    if type(importer).row_key is not Importer.row_key or not importer.key:
        return map(importer.row_key, rows)
    parts = []
    for name, fold in importer._key_folds:
        values = map(dict.get, map(attrgetter("values"), rows), repeat(name))
        # a field left empty (or masked) makes the row keyless, whatever the fold would make of it
        parts.append([_NO_KEY if v is None or v is MASKED else v if fold is None else fold(v) for v in values])
    return (None if _NO_KEY in key else key for key in zip(*parts, strict=True))


_NO_KEY = object()


def _row_result(importer: Importer, row: Row, labels: dict[str, str]) -> RowResult:
    typed = row.typed or {}
    hide = importer.hidden
    return RowResult(
        sheet=row.sheet,
        row=row.number,
        outcome=row.outcome,
        values=tuple((labels[k], shown(hide(k, typed.get(k, v)))) for k, v in row.values.items() if k in labels),
        reasons=tuple(p.reason if not p.column else f"{p.column} {p.reason}" for p in row.problems or ()),
        changes=tuple((labels.get(k, k), *_change_shown(importer, k, old, new))
                      for k, (old, new) in (row.changes or {}).items()),
    )


def _change_shown(importer: Importer, key: str, old: Any, new: Any) -> tuple[str, str]:
    """A change as the preview shows it. Masking may hide the very digits that change (137****1757 →
    137****1757): then the new value says so, rather than look like no change."""
    before, after = shown(importer.hidden(key, old)), shown(importer.hidden(key, new))
    if before == after and shown(old) != shown(new):
        after += "（隐藏部分已改）"
    return before, after


def _batch_query(importer: Importer, file_hash: str) -> Select:
    return select(ImportBatch).where(
        ImportBatch.kind == importer.kind, ImportBatch.target == importer.target(), ImportBatch.file_hash == file_hash
    )


def _imported_before(batch: ImportBatch | None) -> str:
    if batch is None or batch.status is not BatchStatus.DONE:
        return ""
    when = (batch.finished_at or batch.started_at).astimezone(SHANGHAI)
    return f"同一文件已于 {when:%Y-%m-%d %H:%M} 导入（批次 #{batch.id}）"


def _duplicate(exc: BaseException) -> bool:
    """A unique key refused a row — SQLAlchemy's IntegrityError, or the driver's own from a raw ``COPY`` —: SQLSTATE
    23505 on PostgreSQL, SQLite's and MariaDB's own words elsewhere. Not a NOT NULL, check or foreign key."""
    if not _violation(exc):
        return False
    error = getattr(exc, "orig", exc)
    if state := str(getattr(error, "sqlstate", "") or ""):
        return state == "23505"
    text = str(error)
    return "UNIQUE constraint failed" in text or "Duplicate entry" in text


def _violation(exc: BaseException) -> bool:
    """The database refused a row on a constraint: SQLAlchemy's IntegrityError, or the driver's own from a raw
    ``COPY`` (PostgreSQL's SQLSTATE class 23, integrity constraint violation)."""
    return isinstance(exc, IntegrityError) or str(getattr(exc, "sqlstate", "") or "").startswith("23")


def _claim_batch(session: Session, importer: Importer, book: Book, previous: ImportBatch | None) -> ImportBatch:
    """The batch this run writes under. A failed earlier run of the same file is taken over (retry)."""
    now = utcnow()
    actor = importer.actor
    if previous is not None:
        previous.status = BatchStatus.RUNNING
        previous.started_at, previous.finished_at, previous.actor_id = now, None, actor.user_id
        session.flush()
        return previous
    values = {
        "kind": importer.kind, "target": importer.target(), "project_id": importer.project_id(),
        "file_name": book.file_name[:255], "file_hash": book.file_hash, "status": BatchStatus.RUNNING,
        "started_at": now, "actor_id": actor.user_id, "counts": {},
    }
    stmt = (
        upsert_insert(session, ImportBatch)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["kind", "target", "file_hash"])
        .returning(ImportBatch.id)
    )
    batch_id = session.scalar(stmt)
    if batch_id is None:  # another user's import of the same file committed first (double click)
        raise Refused("该批次已导入：同一文件刚刚已由他人导入")
    return session.get(ImportBatch, batch_id)
