"""月结: closing a month freezes each project's monthly report as it is sent (a ``MonthSnapshot``). The records
of a closed month may still be corrected; the report then shows the figures as reported and, beside them,
every difference between the reported and the current figures, instead of silently changing a report that
has been sent (``monthly_report.shown_report``).

A snapshot is unique by project and month and inserted with insert-or-ignore: closing twice, or two managers
closing at once, freezes each project's month once. Only a month that has ended can be closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditKind, MonthSnapshot, utcnow

from . import kpis
from .actor import Actor
from .audit import as_actor, log_operation, record_bulk
from .errors import Refused
from .kernel.periods import parse_month
from .kernel.sql import upsert_insert
from .monthly_report import freeze, monthly_report


@dataclass(frozen=True)
class CloseMonthResult:
    month: str
    closed: tuple[str, ...]  # projects whose month this call closed (would close, on a dry run)
    already: tuple[str, ...]  # projects closed before: left as they were
    dry_run: bool
    operation_id: int | None

    @property
    def message(self) -> str:
        done = "将月结" if self.dry_run else "已月结"
        parts = [f"{self.month}：{done} {len(self.closed)} 个项目" + (f"（{'、'.join(self.closed)}）" if self.closed else "")]
        if self.already:
            parts.append(f"此前已月结 {len(self.already)} 个（{'、'.join(self.already)}），数据保持不变")
        return "；".join(parts)


@as_actor
def close_month(session: Session, *, actor: Actor, month: str, project_ids: Iterable[int] | None = None,
                branch_id: int | None = None, dry_run: bool = False, now: dt.datetime | None = None) -> CloseMonthResult:
    """月结 ``month`` for the chosen projects (one, a branch's, or all the actor sees): each project's monthly
    report is frozen as it stands."""
    m = parse_month(month)
    if m.end > (now or utcnow()):
        raise Refused(f"{m.text} 尚未结束，不能月结")
    # The projects and their snapshots first: a dry run, or a close of a month every project has closed already, freezes
    # nothing, so it builds no report (a branch's report re-reads a month of its requests, orders and bills).
    scope = kpis.resolve_scope(session, actor=actor, project_ids=project_ids, branch_id=branch_id)
    names = {p.id: p.name for p in scope.projects}
    if not names:
        raise Refused("没有可月结的项目")
    before = set(session.scalars(
        select(MonthSnapshot.project_id).where(MonthSnapshot.month == m.text, MonthSnapshot.project_id.in_(names))
    ))
    if dry_run:
        return CloseMonthResult(m.text, tuple(names[p] for p in names if p not in before),
                                tuple(names[p] for p in names if p in before), True, None)
    stamp = now or utcnow()
    rows = []
    if set(names) - before:
        report = monthly_report(session, actor=actor, month=m.text, project_ids=project_ids, branch_id=branch_id)
        rows = [
            {"project_id": p, "month": m.text, "figures": freeze(report.project_tables[p]),
             "closed_by_id": actor.user_id, "closed_by_name": actor.name, "closed_at": stamp}
            for p in names if p not in before
        ]
    inserted: dict[int, int] = {}
    if rows:
        # Insert-or-ignore: a concurrent close of the same month freezes nothing twice.
        stmt = upsert_insert(session, MonthSnapshot).values(rows).on_conflict_do_nothing(
            index_elements=["project_id", "month"]).returning(MonthSnapshot.id, MonthSnapshot.project_id)
        inserted = {pid: sid for sid, pid in session.execute(stmt)}
    if inserted:
        record_bulk(session, kind=AuditKind.INSERT, table=MonthSnapshot.__tablename__,
                    ids=select(MonthSnapshot.id, MonthSnapshot.project_id).where(MonthSnapshot.id.in_(inserted.values())),
                    summary=f"月结 {m.text}")
    closed = tuple(names[p] for p in names if p in inserted)
    already = tuple(names[p] for p in names if p not in inserted)
    log = log_operation(
        session, "close_month", params={"month": m.text, "project_ids": sorted(names), "branch_id": branch_id},
        counts={"closed": len(closed), "already": len(already)},
        project_id=next(iter(names)) if len(names) == 1 else None,
        message=f"月结 {m.text}：新增 {len(closed)} 个项目，此前已月结 {len(already)} 个",
    )
    return CloseMonthResult(m.text, closed, already, False, log.id)
