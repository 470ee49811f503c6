"""处理经过 (timeline) of a service request and its work orders: every step — received, dispatched, accepted,
reassigned, completed, called back, reworked, closed, edited — with who, when and the words (处理结果, 转派原因,
回访记录 and 反映问题), oldest first. An engineer sent back for rework reads what the owner said.

Read from the records themselves (受理, 派工), their callbacks and visits, and the audit trail, which holds each
lifecycle step with the values it wrote (``work_orders._transition``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Department,
    RequestStatus,
    Satisfaction,
    ServiceRequest,
    Staff,
    User,
    Visit,
    VisitKind,
    VisitWay,
    WorkOrder,
    label_of,
)

from .actor import Actor
from .errors import NotPermitted, Refused


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    who: str
    what: str
    words: str = ""
    order_id: int | None = None  # the work order the step belongs to
    visit_id: int | None = None  # a callback or visit: its record
    late: bool = False  # 不满意, 返工


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    ids.discard(None)  # type: ignore[arg-type]
    if not ids:
        return {}
    return {i: d or u for i, d, u in session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(ids)))}


def _member(enum: type, value: object) -> str:
    try:
        return enum(value).label
    except ValueError:
        return str(value)


# What an audited change of a field says on the timeline, and which fields' values are the step's words.
_WORDS = ("result", "reassign_note", "cancel_reason", "reply", "content")
_SHOWN = ("status", "priority")


def _audit_step(row: AuditLog, order_id: int | None, model: type) -> Step | None:
    changes = row.changes or {}
    what = row.summary
    if row.summary.startswith("修改") or not row.summary:  # a console edit: which fields it changed
        fields = []
        for key, value in changes.items():
            if key in ("updated_at", "version") or not hasattr(model, key):
                continue
            label = label_of(model, key)
            if isinstance(value, list) and len(value) == 2 and key in _SHOWN:
                enum = model.__table__.c[key].type.enum_class  # the record's own: a request's 待派工 is no order's
                fields.append(f"{label}：{_member(enum, value[0])} → {_member(enum, value[1])}")
            elif key not in _WORDS:
                fields.append(label)
        what = f"修改{'、'.join(fields)}" if fields else row.summary
    words = []
    for key in _WORDS:
        value = changes.get(key)
        if isinstance(value, list):  # an edit: [before, after]
            value = value[1]
        if value:
            words.append(f"{label_of(model, key) if hasattr(model, key) else '原因'}：{value}")
    if row.summary == "回访派工单":  # the callback itself is on the timeline with its words (the visit)
        return None
    return Step(row.at, row.actor_name, what.replace("派工单", "") or "修改", "；".join(dict.fromkeys(words)),
                order_id)


def request_timeline(session: Session, *, request_id: int, actor: Actor) -> tuple[Step, ...]:
    """The whole story of a request and its work orders, oldest first."""
    request = session.get(ServiceRequest, request_id)
    if request is None:
        raise Refused(f"客户诉求不存在：{request_id}", [request_id])
    if not actor.can_see(request.project_id):
        raise NotPermitted(f"无权查看客户诉求#{request_id}", [request_id])
    orders = session.execute(
        select(WorkOrder, Department.name, Staff.name).join(Department, Department.id == WorkOrder.department_id)
        .outerjoin(Staff, Staff.id == WorkOrder.assignee_id).where(WorkOrder.request_id == request.id)
    ).all()
    order_ids = [o.id for o, _, _ in orders]
    visits = session.scalars(select(Visit).where(
        (Visit.request_id == request.id) | Visit.work_order_id.in_(order_ids))).all()
    names = _user_names(session, {request.receiver_id, *(o.dispatched_by_id for o, _, _ in orders),
                                  *(v.visitor_id for v in visits)})
    steps = [Step(request.received_at, names.get(request.receiver_id, ""),
                  f"受理{request.kind.label}（{request.channel.label}）", request.content)]
    for order, department, assignee in orders:
        steps.append(Step(order.dispatched_at, names.get(order.dispatched_by_id, "系统"), f"派工单#{order.id} 派工",
                          f"处理部门：{department}" + (f"；处理人：{assignee}" if assignee else "") +
                          f"；完成时限：{order.complete_due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}", order.id))
    audit = session.scalars(
        select(AuditLog).where(
            ((AuditLog.table_name == WorkOrder.__tablename__) & AuditLog.record_id.in_([str(i) for i in order_ids]))
            | ((AuditLog.table_name == ServiceRequest.__tablename__) & (AuditLog.record_id == str(request.id))),
            AuditLog.kind == AuditKind.UPDATE,
        ).order_by(AuditLog.at, AuditLog.id)
    ).all()
    for row in audit:
        if row.table_name == ServiceRequest.__tablename__:
            # 派工 and 关闭 of the request are the order's steps; a console edit of the request is its own
            if row.summary.startswith(("派工", "关闭派工单")):
                continue
            step = _audit_step(row, None, ServiceRequest)
        else:
            step = _audit_step(row, int(row.record_id), WorkOrder)
        if step is not None:
            steps.append(step)
    for v in visits:
        result = v.result.label if v.result else "未填结果"
        words = "；".join(x for x in (v.notes, f"反映问题：{v.issues_raised}" if v.issues_raised else "") if x)
        rework = v.result is Satisfaction.UNSATISFIED and v.work_order_id is not None
        steps.append(Step(v.visited_at, names.get(v.visitor_id, ""),
                          f"{_member(VisitKind, v.kind)}（{_member(VisitWay, v.way)}）：{result}"
                          + ("，退回返工" if rework else ""), words, v.work_order_id, v.id, rework))
    if request.status is RequestStatus.CLOSED and request.closed_at and not orders:
        steps.append(Step(request.closed_at, "", "办结", request.reply))
    return tuple(sorted(steps, key=lambda s: s.at))


def order_timeline(session: Session, *, order_id: int, actor: Actor) -> tuple[Step, ...]:
    """A work order's timeline: its request's whole story (受理 … 关闭)."""
    request_id = session.scalar(select(WorkOrder.request_id).where(WorkOrder.id == order_id))
    if request_id is None:
        raise Refused(f"派工单不存在：{order_id}", [order_id])
    return request_timeline(session, request_id=request_id, actor=actor)
