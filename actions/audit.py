"""The audit trail, written in the same transaction as the change.

ORM changes (console forms, CLI, small actions) are caught by a flush hook; set-based batch statements
that bypass the ORM record their rows with :func:`record_bulk`, or — a spreadsheet import of a whole file —
once per table with :func:`record_batch`, the rows being those carrying the batch's id; each batch action also
writes one operation-log row with :func:`log_operation`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

from sqlalchemy import Select, event, insert, inspect, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE

from models import AuditKind, AuditLog, LoginAttempt, OperationLog, OperationStatus, utcnow

from .actor import Actor, current_actor

REDACTED = "***"
# Never written to the audit trail in clear (P02).
SECRET_COLUMNS = {"password_hash"}
UNAUDITED = (AuditLog, OperationLog, LoginAttempt)


def actor_of(session: Session) -> Actor:
    return session.info.get("actor") or current_actor.get()


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _redacted(column: Any, value: Any) -> Any:
    if value in (None, ""):
        return value
    if column.key in SECRET_COLUMNS or column.info.get("pii") == "id_number":
        return REDACTED
    return _plain(value)


def _row(actor: Actor, kind: AuditKind, obj: Any, changes: dict[str, Any]) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    pk = ",".join(str(v) for v in mapper.primary_key_from_instance(obj))
    label = getattr(type(obj), "__label__", "") or mapper.class_.__name__
    return {
        "at": utcnow(),
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "source": actor.source,
        "kind": kind,
        "table_name": mapper.local_table.name,
        "record_id": pk,
        "project_id": getattr(obj, "project_id", None),
        "summary": f"{kind.label}{label} #{pk}",
        "changes": changes,
        "ip": actor.ip,
    }


def _changes(obj: Any, kind: AuditKind) -> dict[str, Any]:
    state = inspect(obj)
    changes: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        hist = state.attrs[attr.key].history
        if kind is AuditKind.UPDATE:
            if not hist.has_changes():
                continue
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old == new:
                continue
            changes[attr.key] = [_redacted(column, old), _redacted(column, new)]
        else:
            value = state.attrs[attr.key].loaded_value
            if value is NO_VALUE:
                continue
            changes[attr.key] = _redacted(column, value)
    return changes


@event.listens_for(Session, "after_flush")
def _audit_flush(session: Session, _ctx: Any) -> None:
    actor = actor_of(session)
    rows = []
    for kind, objs in (
        (AuditKind.INSERT, session.new),
        (AuditKind.UPDATE, session.dirty),
        (AuditKind.DELETE, session.deleted),
    ):
        for obj in objs:
            if isinstance(obj, UNAUDITED):
                continue
            if kind is AuditKind.UPDATE and not session.is_modified(obj, include_collections=False):
                continue
            changes = _changes(obj, kind)
            if kind is AuditKind.UPDATE and not changes:
                continue
            rows.append(_row(actor, kind, obj, changes))
    if rows:
        session.execute(insert(AuditLog), rows)


def record_bulk(
    session: Session, *, kind: AuditKind, table: str, ids: Select, summary: str, project_column: str | None = "project_id"
) -> None:
    """One audit row per record touched by a set-based statement, in one INSERT … SELECT.

    ``ids`` selects ``id`` (and ``project_id`` when ``project_column`` is given) of the touched rows.
    """
    actor = actor_of(session)
    sub = ids.subquery()
    stmt = insert(AuditLog).from_select(
        ["at", "actor_id", "actor_name", "source", "kind", "table_name", "record_id", "project_id", "summary", "changes", "ip"],
        select(
            literal(utcnow(), AuditLog.at.type),
            literal(actor.user_id, AuditLog.actor_id.type),
            literal(actor.name),
            literal(actor.source),
            literal(kind, AuditLog.kind.type),
            literal(table),
            sub.c.id,
            sub.c[project_column] if project_column else literal(None, AuditLog.project_id.type),
            literal(summary),
            literal({}, AuditLog.changes.type),
            literal(actor.ip),
        ),
    )
    session.execute(stmt)


def record_batch(
    session: Session, *, kind: AuditKind, table: str, batch_id: int, count: int, summary: str,
    details: dict[str, Any] | None = None, project_id: int | None = None, actor: Actor | None = None,
) -> None:
    """One audit row for the ``count`` records of ``table`` an import batch wrote.

    A 100,000-row file would otherwise add 100,000 rows that all say the same thing; the records are found
    through their ``batch_id`` (导入批次), the file, sheets and counts are in the row and in the batch itself.
    ``record_id`` is ``batch:<id>``, so searching the trail for it lists everything the batch did. ``actor``
    is who imported (the session's actor when not given).
    """
    log_event(
        session, kind, summary=summary, table=table, record_id=f"batch:{batch_id}", project_id=project_id,
        changes={"batch_id": batch_id, "count": count, **{k: _plain(v) for k, v in (details or {}).items()}},
        actor=actor,
    )


def log_event(session: Session, kind: AuditKind, *, summary: str, changes: dict[str, Any] | None = None,
              table: str = "", record_id: str = "", project_id: int | None = None, actor: Actor | None = None) -> None:
    """A non-write event worth recording: login, failed login, export, a full view of personal data."""
    actor = actor or actor_of(session)
    session.execute(
        insert(AuditLog),
        [{
            "at": utcnow(), "actor_id": actor.user_id, "actor_name": actor.name, "source": actor.source,
            "kind": kind, "table_name": table, "record_id": record_id, "project_id": project_id,
            "summary": summary, "changes": changes or {}, "ip": actor.ip,
        }],
    )


def log_operation(
    session: Session,
    operation: str,
    *,
    params: dict[str, Any],
    counts: dict[str, Any],
    project_id: int | None = None,
    status: OperationStatus = OperationStatus.DONE,
    message: str = "",
) -> OperationLog:
    """The one operation-log row every batch action writes, in the action's own transaction."""
    actor = actor_of(session)
    row = OperationLog(
        actor_id=actor.user_id,
        actor_name=actor.name,
        operation=operation,
        project_id=project_id,
        status=status,
        params={k: _plain(v) for k, v in params.items()},
        counts={k: _plain(v) for k, v in counts.items()},
        message=message,
    )
    session.add(row)
    session.flush()
    return row
