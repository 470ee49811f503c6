"""导出: a list as .xlsx, exactly as the user sees it, in bounded memory.

The caller hands in the list's own query — its project scope, search, filters and sort — and its columns; the
scope is applied again here all the same. Only the exported columns are selected, as plain rows streamed in
batches (no ORM object per row), and each row goes to disk as it is written (:func:`xlsx_out.stream_sheet`),
so a million bills never sit in memory. Cells are typed (dates as dates, money as numbers, enums by their
Chinese label), a related record shows as the list shows it (a unit as ``楼栋-房号``, read once per unit, not
once per row), ID and phone numbers are masked unless the role may see them, and text that starts with
``= + - @`` is written as text (:mod:`actions.xlsx_out`). Every export writes a 导出 audit row
with its filters and row count, and an operation-log row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Select, func, inspect, or_, select
from sqlalchemy.orm import ColumnProperty, RelationshipProperty, Session

from models import SHANGHAI, AuditKind, LabeledEnum
from models.base import display_loads

from . import xlsx_out
from .actor import Actor
from .audit import as_actor, log_event, log_operation
from .privacy import mask, masked_text

# Excel holds 1,048,576 rows a sheet; an export stops short of that and says so.
EXPORT_CAP = 1_000_000
BATCH = 2_000


@dataclass(frozen=True)
class ExportColumn:
    key: str  # attribute of the model, or of a related record ("unit.room_no")
    label: str
    pii: str | None = None  # "phone" / "id_number": masked unless the role may see it


@dataclass(frozen=True)
class ExportResult:
    path: Path
    file_name: str
    rows: int
    total: int
    truncated: bool
    masked: bool
    filters: dict[str, Any] = field(default_factory=dict)


def export_columns(model: type, keys: Sequence[str], labels: dict[str, str]) -> list[ExportColumn]:
    """Columns of ``model`` by attribute, with their labels and whether they hold personal data."""
    mapper = inspect(model)
    out = []
    for key in keys:
        prop = mapper.attrs.get(key)
        pii = getattr(prop.columns[0], "info", {}).get("pii") if prop is not None and hasattr(prop, "columns") else None
        out.append(ExportColumn(key, labels.get(key, key), pii))
    return out


class _Shown:
    """How one column is read: the SQL expression selected, and what becomes of its value in the row."""

    def __init__(self, model: type, column: ExportColumn, unmask: bool) -> None:
        head, *rest = column.key.split(".")
        prop = inspect(model).attrs.get(head)
        self.related: _Related | None = None
        self.joined = False
        self.shown_as = None  # a column's display function (models: ``info["shown_as"]``), as its list shows it
        if isinstance(prop, RelationshipProperty):
            self.related = _Related(prop, rest)
            self.expr = self.related.local
        elif isinstance(prop, ColumnProperty) and not rest:
            self.expr = getattr(model, head)
            self.joined = isinstance(prop.columns[0].type, JSON)  # a list, shown as its items
            self.shown_as = getattr(prop.columns[0], "info", {}).get("shown_as")  # a column_property has none
        else:
            raise ValueError(f"{model.__name__}.{column.key}: not a column nor a many-to-one relation")
        self.mask = column.pii if column.pii and not unmask else None


class _Related:
    """A related record's column (房屋 as 楼栋-房号, or ``unit.room_no``), shown as the list shows it. Read once per
    record, not once per row — a million bills name a hundred thousand units — and kept in a bounded table."""

    LIMIT = 200_000

    def __init__(self, prop: RelationshipProperty, path: list[str]) -> None:
        if prop.uselist or len(prop.local_remote_pairs) != 1:
            raise ValueError(f"{prop}: only a many-to-one relation on one column is exported")
        ((self.local, remote),) = prop.local_remote_pairs
        self.target = prop.mapper.class_
        self.key = prop.mapper.get_property_by_column(remote).key
        self.path = path
        self.shown: dict[Any, Any] = {}

    def read(self, session: Session, keys: set[Any]) -> None:
        missing = sorted(k for k in keys if k is not None and k not in self.shown)
        if len(self.shown) + len(missing) > self.LIMIT:
            self.shown.clear()
        key = getattr(self.target, self.key)
        for i in range(0, len(missing), BATCH):
            query = select(self.target).where(key.in_(missing[i:i + BATCH])).options(*display_loads(self.target))
            for obj in session.scalars(query):
                value = obj
                for part in self.path:
                    value = getattr(value, part, None) if value is not None else None
                self.shown[getattr(obj, self.key)] = _value(value)


def _value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | Decimal | dt.date | LabeledEnum):
        return value  # typed cells: xlsx_out writes dates as dates, money as numbers, enums by label
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)  # a related record, as the list shows it


def _converter(shown: _Shown) -> Callable[[Any], Any] | None:
    if shown.related is not None:
        return shown.related.shown.get
    if shown.mask is not None:
        return lambda value, kind=shown.mask: None if value is None else mask(kind, value)
    if shown.shown_as is not None:
        return lambda value, show=shown.shown_as: None if value is None else show(value)
    return _value if shown.joined else None


def _rows(session: Session, query: Select, shown: list[_Shown], tick: Callable[[int], None]) -> Iterator[list[Any]]:
    """The rows, as plain values read in batches (a server-side cursor on PostgreSQL): no ORM object per row —
    loading a million took ~40 % of an export's time."""
    # a relation shown twice (房屋, 房屋.房号) is read once; found by identity (``==`` on a column builds SQL)
    exprs = list(dict.fromkeys(s.expr for s in shown))
    where = {expr: i for i, expr in enumerate(exprs)}
    at = [where[s.expr] for s in shown]
    pick = None if at == list(range(len(exprs))) else itemgetter(*at)
    convert = [(i, f) for i, s in enumerate(shown) if (f := _converter(s)) is not None]
    related = [(i, s.related) for i, s in zip(at, shown, strict=True) if s.related is not None]
    stmt = query.with_only_columns(*exprs, maintain_column_froms=True).execution_options(yield_per=BATCH)
    for batch in session.connection().execute(stmt).partitions():
        for i, table in related:
            table.read(session, {row[i] for row in batch})
        for row in batch:
            values = list(row if pick is None else pick(row))
            for i, f in convert:
                values[i] = f(values[i])
            yield values
        tick(len(batch))


@as_actor
def export_list(
    session: Session,
    *,
    query: Select,
    model: type,
    columns: Sequence[ExportColumn],
    title: str,
    actor: Actor,
    path: Path,
    unmask: bool = False,
    filters: dict[str, Any] | None = None,
    cap: int = EXPORT_CAP,
    progress: Callable[[str, int, int], None] | None = None,
    subtitle: str | None = None,
) -> ExportResult:
    """Write the rows of ``query`` (a ``select(model)`` with the list's search, filters and sort) to ``path``;
    ``subtitle`` says which of the title's records they are, in the file's first line."""
    report = progress or (lambda *_: None)
    project = getattr(model, "project_id", None)
    if project is not None and not actor.sees_all:
        # The list's query is scoped already; this only ever removes rows — another project's — never adds.
        # Rows without a project are shared ones (shown to all) where the list shows them.
        clause = actor.project_filter(project)
        query = query.where(or_(project.is_(None), clause) if model.__table__.c.project_id.nullable else clause)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    report("导出", 0, min(total, cap))
    masked = not unmask and any(c.pii for c in columns)
    written = 0

    def tick(rows: int) -> None:
        nonlocal written
        written += rows
        report("导出", written, min(total, cap))

    stamp = dt.datetime.now(SHANGHAI)
    rows = _rows(session, query.limit(cap), [_Shown(model, c, unmask) for c in columns], tick)
    xlsx_out.stream_sheet(path, title, [c.label for c in columns], rows,
                          widths=[max(8, min(40, len(c.label) * 2 + 4)) for c in columns],
                          caption=f"{title}{f' · {subtitle}' if subtitle else ''}（导出时间 {stamp:%Y-%m-%d %H:%M}）")
    file_name = f"{title}_{stamp:%Y%m%d_%H%M%S}.xlsx"
    # the search as typed, with any ID or phone number in it masked: the trail is no way round the masking (P02)
    filters = masked_text({k: v for k, v in (filters or {}).items() if v not in (None, "")})
    summary = f"导出{title} {written} 行" + ("（已打码）" if masked else "")
    log_event(session, AuditKind.EXPORT, summary=summary[:255], table=model.__tablename__,
              changes={"filters": filters, "rows": written, "masked": masked, "file": file_name})
    log_operation(session, f"export:{model.__tablename__}", params={"filters": filters, "file_name": file_name},
                  counts={"rows": written, "total": total}, message=summary[:500])
    report("导出", written, written)
    return ExportResult(path, file_name, written, total, total > cap, masked, filters)
