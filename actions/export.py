"""导出: a list as .xlsx, exactly as the user sees it, in bounded memory.

The caller hands in the list's own query — its project scope, search, filters and sort — and its columns; the
scope is applied again here all the same. Rows stream from the database in batches into an XlsxWriter
workbook in constant-memory mode (each row goes to disk as it is written), so a million bills never sit in memory. Cells are
typed (dates as dates, money as numbers, enums by their Chinese label), a related record shows as the list
shows it (a unit as ``楼栋-房号``), ID and phone numbers are masked unless the role may see them, and text that
starts with ``= + - @`` is written as text (:mod:`actions.xlsx_out`). Every export writes a 导出 audit row
with its filters and row count, and an operation-log row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, inspect, or_, select
from sqlalchemy.orm import RelationshipProperty, Session, selectinload

from models import SHANGHAI, AuditKind, LabeledEnum
from models.base import display_loads

from . import xlsx_out
from .actor import Actor
from .audit import log_event, log_operation
from .privacy import mask

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


def _loads(model: type, keys: Sequence[str]) -> list[Any]:
    """selectinload of every related record the columns show, batch by batch as rows stream."""
    mapper = inspect(model)
    options = []
    for key in {k.split(".")[0] for k in keys}:
        prop = mapper.attrs.get(key)
        if isinstance(prop, RelationshipProperty):
            # the related record's name may need its own relations (房屋 → 楼栋-房号, 账单 → 房屋, 收费项目)
            load = selectinload(getattr(model, key))
            options += display_loads(prop.mapper.class_, load) or [load]
    return options


def _value(obj: Any, column: ExportColumn, unmask: bool) -> Any:
    value = obj
    for part in column.key.split("."):
        value = getattr(value, part, None) if value is not None else None
    if value is None:
        return None
    if column.pii and not unmask:
        return mask(column.pii, value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, str | int | float | Decimal | dt.date | LabeledEnum):
        return value  # typed cells: xlsx_out writes dates as dates, money as numbers, enums by label
    return str(value)  # a related record, as the list shows it


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
) -> ExportResult:
    """Write the rows of ``query`` (a ``select(model)`` with the list's search, filters and sort) to ``path``."""
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
    stream = session.execute(
        query.options(*_loads(model, [c.key for c in columns])).limit(cap).execution_options(yield_per=BATCH)
    ).scalars()
    written = 0

    def rows():
        nonlocal written
        for obj in stream:
            yield [_value(obj, c, unmask) for c in columns]
            written += 1
            if written % BATCH == 0:
                report("导出", written, min(total, cap))

    stamp = dt.datetime.now(SHANGHAI)
    xlsx_out.stream_sheet(path, title, [c.label for c in columns], rows(),
                          widths=[max(8, min(40, len(c.label) * 2 + 4)) for c in columns],
                          caption=f"{title}（导出时间 {stamp:%Y-%m-%d %H:%M}）")
    file_name = f"{title}_{stamp:%Y%m%d_%H%M%S}.xlsx"
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    summary = f"导出{title} {written} 行" + ("（已打码）" if masked else "")
    log_event(session, AuditKind.EXPORT, summary=summary[:255], table=model.__tablename__,
              changes={"filters": filters, "rows": written, "masked": masked, "file": file_name})
    log_operation(session, f"export:{model.__tablename__}", params={"filters": filters, "file_name": file_name},
                  counts={"rows": written, "total": total}, message=summary[:500])
    report("导出", written, written)
    return ExportResult(path, file_name, written, total, total > cap, masked, filters)
