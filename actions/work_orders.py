"""派工单: dispatch of service requests, the work-order lifecycle and its SLA deadlines.

Lifecycle: 已派工 —接单→ 处理中 —完工→ 已完工 —回访(满意/基本满意)→ 已回访 —关闭→ 已关闭.
"真正的结束是在回访后，而不是完工收钱后": an order closes only after a satisfied callback; an unsatisfied
callback sends it back to 处理中 for rework and counts a 返工. 转派 returns an open order to 已派工. An open order
whose request the owner withdraws (撤销诉求) ends 已取消.
Every transition is one conditional UPDATE (… WHERE status IN allowed): of two people acting on the same
order at once, one wins and the other is refused (B07).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Building,
    Department,
    DepartmentKind,
    Priority,
    Project,
    RequestKind,
    RequestStatus,
    RoutingRule,
    Satisfaction,
    ServiceRequest,
    SlaRule,
    Staff,
    Unit,
    User,
    Visit,
    VisitKind,
    VisitWay,
    WorkOrder,
    WorkOrderStatus,
    label_of,
    utcnow,
)
from models.base import UTCDateTime

from . import records
from .actor import Actor
from .audit import TRAIL_LINKS, as_actor, log_event, log_operation, record_bulk
from .errors import NotPermitted, Refused
from .kernel.money import money
from .kernel.periods import local_day_bounds
from .kernel.sql import is_postgresql, upsert_insert
from .privacy import mask
from .xlsx_out import XlsxFile, new_workbook, to_bytes, write_sheet

S = WorkOrderStatus
OPEN_STATUSES = (S.DISPATCHED, S.ACCEPTED)
# The lifecycle steps in their order, each with the statuses it may start from (the actions below check these).
STEP_FROM: dict[str, tuple[WorkOrderStatus, ...]] = {
    "accept": (S.DISPATCHED,),
    "reassign": OPEN_STATUSES,
    "complete": (S.ACCEPTED,),
    "callback": (S.DONE,),
    "close": (S.CALLED_BACK,),
}
# The steps a handling department's own staff take on its orders (and on no other department's).
OWN_DEPARTMENT_STEPS = ("accept_work_orders", "complete_work_order")
# 即将到期: the deadline falls within this window.
DUE_SOON = dt.timedelta(hours=2)
# Rows a dry run shows; the counts always cover every target.
PREVIEW_LIMIT = 200
MAX_IDS_IN_MESSAGE = 20
# What a dispatch decides for each new order: its audit row records them.
DISPATCHED_COLUMNS = ("request_id", "department_id", "assignee_id", "priority", "status", "dispatched_at",
                      "respond_due_at", "complete_due_at")
# short: each of its characters is written into the audit rows' search indexes on every one of a dispatch's 50,000
# rows (issue 17); its table (派工单), kind (新增) and changes (the request, 已派工) say the rest
DISPATCH_SUMMARY = "派工"


def id_list(ids: Iterable[Any]) -> str:
    """``#3、#5、#9`` — at most 20 ids, then how many more."""
    ids = sorted(ids, key=lambda i: (str(type(i)), i))
    shown = "、".join(f"#{i}" for i in ids[:MAX_IDS_IN_MESSAGE])
    return shown + (f" 等 {len(ids)} 条" if len(ids) > MAX_IDS_IN_MESSAGE else "")




def _plus_minutes(session: Session, moment: Any, minutes: Any) -> Any:
    """``moment + minutes`` for a timestamp column, in SQL. SQLite keeps the text SQLAlchemy stores
    (``YYYY-MM-DD HH:MM:SS.ffffff``): whole minutes leave the fraction as it was, so it is copied over."""
    if is_postgresql(session):
        return moment + func.make_interval(0, 0, 0, 0, 0, minutes)
    return func.strftime("%Y-%m-%d %H:%M:%S", moment, func.printf("%+d minutes", minutes)).concat(
        func.substr(moment, 20))


# --- dispatch ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedOrder:
    request_id: int
    project_id: int
    kind: str
    content: str
    department: str
    assignee: str
    priority: Priority
    respond_due_at: dt.datetime
    complete_due_at: dt.datetime


@dataclass(frozen=True)
class DispatchResult:
    dry_run: bool
    targets: int  # pending requests selected
    created: int  # work orders created by this run
    already: tuple[int, ...]  # selected requests someone else dispatched meanwhile: nothing created for them
    by_department: tuple[tuple[str, int], ...]
    preview: tuple[PlannedOrder, ...] = ()
    operation_id: int | None = None

    @property
    def message(self) -> str:
        split = "、".join(f"{name} {n}" for name, n in self.by_department)
        if self.dry_run:
            return f"将派工 {self.targets} 单" + (f"：{split}" if split else "")
        text = f"已派工 {self.created} 单" + (f"：{split}" if split and self.created == self.targets else "")
        if self.already:
            text += f"；{id_list(self.already)} 已被他人派工，未重复派工"
        return text if self.targets else "没有待派工的客户诉求"


def _department(session: Session, department_id: int) -> Department:
    row = session.get(Department, department_id)
    if row is None or not row.active:
        raise Refused(f"处理部门 #{department_id} 不存在或已停用", [department_id])
    return row


def _assignee(session: Session, staff_id: int, department: Department | None) -> Staff:
    row = session.get(Staff, staff_id)
    if row is None or not row.active:
        raise Refused(f"处理人 #{staff_id} 不存在或已离职", [staff_id])
    if department is not None and row.department_id not in (None, department.id):
        raise Refused(f"处理人 {row.name} 不属于{department.name}", [staff_id])
    return row


def _check_handlers(department: Department | None, assignee: Staff | None, project_ids: set[int]) -> None:
    """The chosen department and person must serve every project of the selection."""
    if department is not None and department.project_id is not None and project_ids - {department.project_id}:
        raise Refused(f"处理部门 {department.name} 不属于所选诉求的项目", [department.id])
    if assignee is not None and project_ids - {assignee.project_id}:
        raise Refused(f"处理人 {assignee.name} 不属于所选诉求的项目", [assignee.id])


def _routing(session: Session, pairs: set[tuple[int, Any]]) -> dict[tuple[int, Any], Department]:
    """(project, category) → the active department of the kind the routing rule names; a project's own
    department before a shared one."""
    categories = {c for _, c in pairs}
    rules = dict(
        session.execute(
            select(RoutingRule.category, RoutingRule.department_kind).where(RoutingRule.category.in_(categories))
        ).all()
    )
    projects = {p for p, _ in pairs}
    departments = session.scalars(
        select(Department)
        .where(
            Department.active.is_(True),
            Department.kind.in_(set(rules.values())),
            or_(Department.project_id.is_(None), Department.project_id.in_(projects)),
        )
        .order_by(Department.project_id.is_(None), Department.id)
    ).all()
    out = {}
    for project_id, category in pairs:
        for dep in departments:
            if dep.kind == rules.get(category) and dep.project_id in (None, project_id):
                out[(project_id, category)] = dep
                break
    return out


def _lookup(columns: Sequence[Any], table: dict[tuple[Any, ...], Any]) -> Any:
    """``table[(columns…)]`` in SQL as nested simple CASEs (``CASE project_id WHEN 1 THEN CASE kind WHEN …``):
    a few comparisons per row, where a join of a literal table lets SQLite pick a row-multiplying plan."""
    if len(columns) == 1:
        return case({key[0]: value for key, value in table.items()}, value=columns[0])
    inner: dict[Any, dict[tuple[Any, ...], Any]] = {}
    for key, value in table.items():
        inner.setdefault(key[0], {})[key[1:]] = value
    return case({first: _lookup(columns[1:], rest) for first, rest in inner.items()}, value=columns[0])


def _sla(session: Session, triples: set[tuple[int, Any, Any]]) -> dict[tuple[int, Any, Any], tuple[int, int]]:
    """(project, kind, priority) → (respond minutes, complete hours); a project's own rule before the default."""
    projects = {p for p, _, _ in triples}
    rules = session.execute(
        select(SlaRule.project_id, SlaRule.kind, SlaRule.priority, SlaRule.respond_minutes, SlaRule.complete_hours)
        .where(or_(SlaRule.project_id.is_(None), SlaRule.project_id.in_(projects)))
    )
    found: dict[tuple[int | None, Any, Any], tuple[int, int]] = {(p, k, pr): (m, h) for p, k, pr, m, h in rules}
    out = {}
    for project_id, kind, priority in triples:
        limits = found.get((project_id, kind, priority)) or found.get((None, kind, priority))
        if limits:
            out[(project_id, kind, priority)] = limits
    return out


@records.rule(SlaRule)
def _one_default_rule(session: Session, actor: Actor, change: records.Change) -> None:
    """项目为空 is every project's default: one per 诉求类型 and 优先级, as a project has one of its own — with two, 派工
    took either's deadlines. A second is refused naming the one to change (the unique index holds it under a race)."""
    rule = change.obj
    if rule.project_id is not None or rule.kind is None or rule.priority is None or not any(
            change.changed(a) for a in ("project_id", "kind", "priority")):
        return
    same = session.scalar(select(SlaRule.id).where(
        SlaRule.project_id.is_(None), SlaRule.kind == rule.kind, SlaRule.priority == rule.priority,
        SlaRule.id != rule.id if rule.id is not None else literal(True)).limit(1))
    if same is not None:
        raise Refused(f"已有「{rule.kind.label}/{rule.priority.label}」的默认{SlaRule.__label__}（项目为空，#{same}）："
                      f"请修改该规则，或为项目另设{SlaRule.__label__}", [same])


@records.rule(Department)
def _one_shared_department(session: Session, actor: Actor, change: records.Change) -> None:
    """项目为空 is a 部门 shared by every project: one of a name, as a project has one of its own — with two, routing
    took the first and the 派工 form listed both. A second is refused naming the one there (the partial unique index
    holds it under a race)."""
    dept = change.obj
    if dept.project_id is not None or not dept.name or not any(change.changed(a) for a in ("project_id", "name")):
        return
    same = session.scalar(select(Department.id).where(
        Department.project_id.is_(None), Department.name == dept.name,
        Department.id != dept.id if dept.id is not None else literal(True)).limit(1))
    if same is not None:
        raise Refused(f"已有名为「{dept.name}」的公共{Department.__label__}（项目为空，#{same}）：请修改该部门，"
                      f"或为项目另设{Department.__label__}", [same])


# A 报修 or 投诉 left 已答复 (older records, imports: an answer given, the matter open) still needs its 派工单 — its
# 回访 closes it (「真正的结束是在回访后」); 答复办结 does not take those kinds. 咨询/求助/建议/表扬 已答复 close by 答复办结.
ANSWERED_TO_DISPATCH = (RequestKind.REPAIR_PRIVATE, RequestKind.REPAIR_PUBLIC, RequestKind.COMPLAINT)


def _dispatchable(request: Any) -> bool:
    return request.status is RequestStatus.PENDING or (
        request.status is RequestStatus.ANSWERED and request.kind in ANSWERED_TO_DISPATCH)


def dispatch_refusal(requests: Iterable[Any]) -> str | None:
    """Why the selected requests (anything with ``id``, ``status`` and ``kind``) cannot be dispatched, or None — asked
    by the 派工 page before its form is offered, and by 派工 itself."""
    done = sorted((r.id, r.status) for r in requests if not _dispatchable(r))
    if not done:
        return None
    listed = "、".join(f"#{i}（{st.label}）" for i, st in done[:MAX_IDS_IN_MESSAGE])
    return f"以下客户诉求已派工或已办结，不能再派工：{listed}"


@as_actor
def dispatch_requests(
    session: Session,
    *,
    actor: Actor,
    request_ids: Sequence[int] | None = None,
    project_id: int | None = None,
    department_id: int | None = None,
    assignee_id: int | None = None,
    priority: Priority | None = None,
    complete_due_at: dt.datetime | None = None,
    dry_run: bool = False,
) -> DispatchResult:
    """派工: one work order per selected request (``request_ids``), or per pending request of ``project_id``.

    Without a department the routing rules choose one by the request's 问题类别; deadlines count from the
    request's 受理时间 by the SLA rule for its kind and priority, unless ``complete_due_at`` is given.
    A selection naming a request already dispatched or closed is refused as a whole. One INSERT … SELECT
    with ON CONFLICT DO NOTHING on the order's unique request: a double submit creates nothing twice.
    """
    SR = ServiceRequest
    now = utcnow()
    if request_ids is not None:
        ids = sorted(set(request_ids))
        if not ids:
            raise Refused("请先选择要派工的客户诉求")
        rows = session.execute(select(SR.id, SR.project_id, SR.status, SR.kind).where(SR.id.in_(ids))).all()
        missing = set(ids) - {r[0] for r in rows}
        if missing:
            raise Refused(f"客户诉求不存在：{id_list(missing)}", missing)
        outside = [r[0] for r in rows if not actor.can_see(r[1])]
        if outside:
            raise NotPermitted(f"无权操作其他项目的客户诉求：{id_list(outside)}", outside)
        if refusal := dispatch_refusal(rows):
            raise Refused(refusal, [r.id for r in rows if not _dispatchable(r)])
        targets = and_(SR.id.in_(ids), SR.status_in(RequestStatus.PENDING, RequestStatus.ANSWERED))
    elif project_id is not None:
        if session.get(Project, project_id) is None:
            raise Refused(f"项目 #{project_id} 不存在", [project_id])
        if not actor.can_see(project_id):
            raise NotPermitted("无权操作该项目的客户诉求", [project_id])
        targets = and_(SR.project_id == project_id, SR.status_in(RequestStatus.PENDING))
    else:
        raise Refused("请先选择要派工的客户诉求或项目")
    if complete_due_at is not None and complete_due_at <= now:
        raise Refused("完成时限不能早于当前时间")

    department = _department(session, department_id) if department_id is not None else None
    assignee = _assignee(session, assignee_id, department) if assignee_id is not None else None
    if department is None and assignee is not None and assignee.department_id is not None:
        department = _department(session, assignee.department_id)

    groups = session.execute(
        select(SR.project_id, SR.category, SR.kind, SR.priority, func.count()).where(targets)
        .group_by(SR.project_id, SR.category, SR.kind, SR.priority)
    ).all()
    project_ids = {g[0] for g in groups}
    _check_handlers(department, assignee, project_ids)
    if not groups:  # a re-run of an auto-dispatch: nothing is pending any more
        log_id = None if dry_run else log_operation(
            session, "dispatch", params={"project_id": project_id}, counts={"targets": 0, "created": 0},
            project_id=project_id, message="没有待派工的客户诉求",
        ).id
        return DispatchResult(dry_run, 0, 0, (), (), (), log_id)

    # Department per request: the chosen one, or the routing rule's for (project, category).
    if department is not None:
        department_expr: Any = literal(department.id)
        names = {department.id: department.name}
    else:
        routes = _routing(session, {(p, c) for p, c, _, _, _ in groups})
        unrouted = sorted({c.label for p, c, _, _, _ in groups if (p, c) not in routes})
        if unrouted:
            bad = session.scalars(
                select(SR.id).where(targets, SR.category.in_([c for _, c, _, _, _ in groups if c.label in unrouted]))
                .order_by(SR.id).limit(MAX_IDS_IN_MESSAGE + 1)
            ).all()
            raise Refused(f"问题类别「{'、'.join(unrouted)}」没有可用的处理部门（请检查派工路由和部门）：{id_list(bad)}", bad)
        department_expr = _lookup([SR.project_id, SR.category], {key: d.id for key, d in routes.items()})
        names = {d.id: d.name for d in routes.values()}

    # Deadlines per request from the SLA rule of (project, kind, effective priority), counted from 受理时间.
    triples = {(p, k, priority or pr) for p, _, k, pr, _ in groups}
    limits = _sla(session, triples)
    missing_sla = sorted({f"{k.label}/{pr.label}" for (p, k, pr) in triples if (p, k, pr) not in limits})
    if missing_sla:
        raise Refused(f"缺少时限规则：{'、'.join(missing_sla)}（请在「时限规则」中补充）")
    keys = [SR.project_id, SR.kind] if priority else [SR.project_id, SR.kind, SR.priority]
    width = len(keys)
    respond_expr = _plus_minutes(session, SR.received_at, _lookup(keys, {k[:width]: m for k, (m, _) in limits.items()}))
    complete_expr = (
        literal(complete_due_at, UTCDateTime()) if complete_due_at
        else _plus_minutes(session, SR.received_at, _lookup(keys, {k[:width]: h * 60 for k, (_, h) in limits.items()}))
    )
    source = (
        select(
            SR.project_id,
            SR.id.label("request_id"),
            department_expr.label("department_id"),
            literal(assignee.id if assignee else None, WorkOrder.assignee_id.type).label("assignee_id"),
            (literal(priority, WorkOrder.priority.type) if priority else SR.priority).label("priority"),
            literal(S.DISPATCHED, WorkOrder.status.type).label("status"),
            literal(now, UTCDateTime()).label("dispatched_at"),
            literal(actor.user_id, WorkOrder.dispatched_by_id.type).label("dispatched_by_id"),
            type_coerce(respond_expr, UTCDateTime()).label("respond_due_at"),
            type_coerce(complete_expr, UTCDateTime()).label("complete_due_at"),
        )
        .where(targets)
    )
    counts: dict[str, int] = {}
    for p, c, _, _, n in groups:
        name = department.name if department is not None else routes[(p, c)].name
        counts[name] = counts.get(name, 0) + n
    by_department = tuple(sorted(counts.items(), key=lambda x: -x[1]))
    total = sum(counts.values())
    params = {
        "request_ids": list(request_ids)[:1000] if request_ids is not None else None,
        "project_id": project_id,
        "department_id": department.id if department else None,
        "assignee_id": assignee.id if assignee else None,
        "priority": priority,
        "complete_due_at": complete_due_at,
    }

    if dry_run:
        assignee_name = assignee.name if assignee else ""
        preview = tuple(
            PlannedOrder(r.request_id, r.project_id, r.kind.label, r.content, names.get(r.department_id, "?"),
                         assignee_name, Priority(r.priority), r.respond_due_at, r.complete_due_at)
            for r in session.execute(source.add_columns(SR.kind, SR.content).order_by(SR.id).limit(PREVIEW_LIMIT))
        )
        return DispatchResult(True, total, 0, (), by_department, preview)

    extra = {
        "result": literal(""), "paid_service": literal(False), "quote": literal(Decimal("0")),
        "quote_accepted": literal(False), "charge": literal(Decimal("0")), "reopen_count": literal(0),
        "reassign_note": literal(""), "created_at": literal(now, UTCDateTime()),
        "updated_at": literal(now, UTCDateTime()), "version": literal(1),
    }
    full = source.add_columns(*[v.label(k) for k, v in extra.items()])
    if is_postgresql(session):
        # One lock order, so two overlapping dispatches cannot deadlock. SQLite locks the whole database for a
        # write: there the sort of every target bought nothing (and was 15 % of a 50,000-request dispatch's INSERT).
        full = full.order_by(SR.id)
    stmt = (
        upsert_insert(session, WorkOrder.__table__)
        .from_select([c.name for c in full.selected_columns], full)
        .on_conflict_do_nothing(index_elements=["request_id"])
    )
    session.execute(stmt)

    # This run's orders: created at this very instant by this actor (a concurrent run has its own instant).
    mine = (
        WorkOrder.project_id.in_(project_ids),
        WorkOrder.created_at == now,
        WorkOrder.dispatched_by_id.is_(None) if actor.user_id is None else WorkOrder.dispatched_by_id == actor.user_id,
    )
    mine_requests = select(WorkOrder.request_id).where(*mine)
    # (counted, not taken from rowcount: psycopg reports none for INSERT … SELECT … ON CONFLICT)
    created = session.scalar(select(func.count()).select_from(WorkOrder).where(*mine)) or 0
    answered = 0
    if request_ids is not None:  # a 报修/投诉 left 已答复 (ANSWERED_TO_DISPATCH) moves to the stage 未办结: written
        answered = session.execute(
            update(SR).where(SR.id.in_(mine_requests), SR.status == RequestStatus.ANSWERED)
            .values(**SR.status_values(RequestStatus.DISPATCHED), updated_at=now, version=SR.version + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
    # 待派工 → 已派工 keeps the stage (未办结): it is not written, so SQLite leaves the stage index alone; the
    # CHECK stage_of_status would refuse a request that was not 待派工.
    turned = answered + session.execute(
        update(SR)
        .where(SR.id.in_(mine_requests), SR.status == RequestStatus.PENDING)
        .values(status=RequestStatus.DISPATCHED, updated_at=now, version=SR.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if turned != created:
        # withdrawn (撤销) or answered by another user since the orders were read: the request's row, waited for,
        # is no longer 待派工 — the whole dispatch is refused (rolled back), as a selection naming one would be
        gone = session.execute(select(SR.id, SR.status).where(SR.id.in_(mine_requests),
                                                              SR.status != RequestStatus.DISPATCHED)
                               .order_by(SR.id).limit(MAX_IDS_IN_MESSAGE)).all()
        listed = "、".join(f"#{i}（{st.label}）" for i, st in gone)
        raise Refused(f"派工时以下客户诉求已被他人处理，未派工，请刷新后重试：{listed}", [i for i, _ in gone])
    # One audit row per order, which also records its request turning 已派工 (the order names its request, the
    # request's trail lists its orders' rows): a second row per request doubled the trail a dispatch writes.
    record_bulk(session, kind=AuditKind.INSERT, table=WorkOrder.__tablename__, summary=DISPATCH_SUMMARY,
                ids=select(*(WorkOrder.__table__.c[c] for c in ("id", "project_id", *DISPATCHED_COLUMNS))).where(*mine),
                columns=DISPATCHED_COLUMNS)
    already: tuple[int, ...] = ()
    if request_ids is not None and created < len(set(request_ids)):
        already = tuple(sorted(set(request_ids) - set(session.scalars(mine_requests))))
    log = log_operation(
        session, "dispatch", params=params,
        counts={"targets": total, "created": created, "already": len(already)},
        project_id=next(iter(project_ids)) if len(project_ids) == 1 else None,
        message=f"派工 {created} 单" + (f"；{len(already)} 条已被他人派工" if already else ""),
    )
    return DispatchResult(False, total, created, already, by_department, (), log.id)


def _request_trail(request_id: int) -> ColumnElement[bool]:
    """A request's trail also lists its orders' 派工 rows, which record its turning 已派工
    (:func:`dispatch_requests` writes no row of the request's own for it)."""
    orders = select(cast(WorkOrder.id, String)).where(WorkOrder.request_id == request_id).scalar_subquery()
    return and_(AuditLog.table_name == WorkOrder.__tablename__, AuditLog.record_id.in_(orders),
                AuditLog.kind == AuditKind.INSERT)  # an order is made by its dispatch only


TRAIL_LINKS[ServiceRequest.__tablename__] = _request_trail


# --- lifecycle ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransitionResult:
    operation: str
    verb: str
    order_ids: tuple[int, ...]
    status: WorkOrderStatus
    operation_id: int | None = None
    dry_run: bool = False

    @property
    def message(self) -> str:
        done = "将" if self.dry_run else "已"
        return f"{done}{self.verb} {len(self.order_ids)} 张派工单（{id_list(self.order_ids)}），状态：{self.status.label}"


def steps_allowed(status: WorkOrderStatus) -> tuple[str, ...]:
    """The lifecycle steps an order in ``status`` may take next, in lifecycle order."""
    return tuple(step for step, allowed in STEP_FROM.items() if status in allowed)


def _orders(session: Session, order_ids: Sequence[int], actor: Actor, allowed: Sequence[WorkOrderStatus],
            verb: str) -> list[tuple[int, int, WorkOrderStatus]]:
    """The orders (id, project, status), refusing missing, out-of-scope and wrong-status ones by name."""
    ids = sorted(set(order_ids))
    if not ids:
        raise Refused("请先选择派工单")
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.project_id, WorkOrder.status).where(WorkOrder.id.in_(ids))
    ).all()
    missing = set(ids) - {r[0] for r in rows}
    if missing:
        raise Refused(f"派工单不存在：{id_list(missing)}", missing)
    outside = [r[0] for r in rows if not actor.can_see(r[1])]
    if outside:
        raise NotPermitted(f"无权操作其他项目的派工单：{id_list(outside)}", outside)
    wrong = sorted((i, st) for i, _, st in rows if st not in allowed)
    if wrong:
        listed = "、".join(f"#{i}（{st.label}）" for i, st in wrong[:MAX_IDS_IN_MESSAGE])
        need = "或".join(f"「{a.label}」" for a in allowed)
        raise Refused(f"以下派工单不能{verb}（须为{need}状态）：{listed}", [i for i, _ in wrong])
    return rows


def _check_own_department(session: Session, actor: Actor, order_ids: Sequence[int], verb: str) -> None:
    """A handling department's staff (工程部 …) accept and complete the orders sent to their department or to
    themselves only; 客服部 records any department's step, as the others report their handling to the front desk."""
    mine = session.execute(
        select(Staff.id, Staff.department_id, Department.name)
        .join(User, User.staff_id == Staff.id).join(Department, Department.id == Staff.department_id)
        .where(User.id == actor.user_id, Department.kind != DepartmentKind.SERVICE)
    ).first()
    if mine is None:
        return
    others = sorted(session.scalars(select(WorkOrder.id).where(
        WorkOrder.id.in_(order_ids), WorkOrder.department_id.is_distinct_from(mine.department_id),
        WorkOrder.assignee_id.is_distinct_from(mine.id))))
    if others:
        raise NotPermitted(f"只能{verb}派给{mine.name}或本人的派工单，以下派工单属于其他部门：{id_list(others)}", others)


def _transition(session: Session, *, actor: Actor, operation: str, verb: str, order_ids: Sequence[int],
                allowed: Sequence[WorkOrderStatus], values: dict[str, Any], params: dict[str, Any] | None = None,
                dry_run: bool = False, versions: Mapping[int, int] | None = None) -> TransitionResult:
    """The step on the orders; ``versions``: {order: the version its form was opened on} — an order changed since
    (another's step meanwhile) refuses the whole step, named."""
    rows = _orders(session, order_ids, actor, allowed, verb)
    ids = tuple(r[0] for r in rows)
    current: list[ColumnElement] = []
    if versions is not None:
        stale = [i for i, v in session.execute(select(WorkOrder.id, WorkOrder.version).where(WorkOrder.id.in_(ids)))
                 if versions.get(i) != v]
        if stale:
            raise Refused(f"以下派工单已被他人修改，请刷新后重试：{id_list(stale)}", stale)
        # …and still so when written (a step committed between the read and the UPDATE finds no row)
        current.append(or_(*(and_(WorkOrder.id == i, WorkOrder.version == versions[i]) for i in ids)))
    if operation in OWN_DEPARTMENT_STEPS:
        _check_own_department(session, actor, ids, verb)
    target = values.get("status", rows[0][2])
    if dry_run:
        return TransitionResult(operation, verb, ids, target, None, True)
    now = utcnow()
    done = session.execute(
        update(WorkOrder)
        .where(WorkOrder.id.in_(ids), WorkOrder.status.in_(allowed), *current)
        .values(**values, updated_at=now, version=WorkOrder.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != len(ids):  # someone changed one of them since we looked: the caller rolls back
        raise Refused(f"派工单已被他人处理，请刷新后重试：{id_list(ids)}", ids)
    # the words of the step (结果, 转派原因, 回访结果 …) stay with the order's history: its timeline reads them here
    written = {k: v for k, v in {**values, **(params or {})}.items() if not isinstance(v, ClauseElement)}
    # a value the statement computed (返工次数 + 1 …) is read back from the row it wrote
    computed = [k for k, v in values.items() if isinstance(v, ClauseElement)]
    record_bulk(session, kind=AuditKind.UPDATE, table=WorkOrder.__tablename__, summary=f"{verb}派工单",
                ids=select(WorkOrder.id, WorkOrder.project_id).where(WorkOrder.id.in_(ids)), changes=written,
                columns=computed)
    projects = {r[1] for r in rows}
    log = log_operation(
        session, operation, params={"order_ids": list(ids), **(params or {})}, counts={"orders": len(ids)},
        project_id=next(iter(projects)) if len(projects) == 1 else None, message=f"{verb} {len(ids)} 单",
    )
    # Objects of these orders already in the session are stale after the set-based UPDATE.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, WorkOrder) and obj.id in ids:
            session.expire(obj)
    return TransitionResult(operation, verb, ids, target, log.id)


@as_actor
def accept_work_orders(session: Session, *, order_ids: Sequence[int], actor: Actor, paid_service: bool = False,
                       quote: Any = None, quote_accepted: bool = False, dry_run: bool = False) -> TransitionResult:
    """接单: the handling department has taken the order and starts; the response deadline is met or missed here.

    有偿服务 "服务前需先报价，在业主接受后方可开工": a paid order is accepted only with the quote the owner accepted,
    one order at a time; completion then charges within that quote.
    """
    values: dict[str, Any] = {"status": S.ACCEPTED, "accepted_at": utcnow()}
    params: dict[str, Any] = {}
    if paid_service:
        if len(set(order_ids)) != 1:
            raise Refused("有偿服务的报价逐单确认：请只选择一张派工单")
        quote_amount = _money(quote, label_of(WorkOrder, "quote"))
        if not quote_accepted or quote_amount <= 0:
            raise Refused("有偿服务须先向业主报价，业主接受后方可开工（接单）", list(order_ids))
        values.update(paid_service=True, quote=quote_amount, quote_accepted=True)
        params = {"paid_service": True, "quote": quote_amount}
    elif quote not in (None, "") or quote_accepted:
        raise Refused("非有偿服务不能填写报价或业主接受报价：有偿服务请勾选「有偿服务」，免费维修请清空报价",
                      list(order_ids))
    return _transition(session, actor=actor, operation="accept_work_orders", verb="接单", order_ids=order_ids,
                       allowed=STEP_FROM["accept"], values=values, params=params, dry_run=dry_run)


@as_actor
def reassign_work_orders(session: Session, *, order_ids: Sequence[int], reason: str, actor: Actor,
                         department_id: int | None = None, assignee_id: int | None = None,
                         dry_run: bool = False, versions: Mapping[int, int] | None = None) -> TransitionResult:
    """转派: another department or person takes the open orders; they must accept again. The reason is kept
    on the order and in the audit trail. ``versions``: the orders' versions the form was opened on — a 转派 form
    opened before another's 转派 (or 接单) is refused, never sends the order back over the newer decision."""
    reason = (reason or "").strip()
    if not reason:
        raise Refused(f"请填写{label_of(WorkOrder, 'reassign_note')}")
    if department_id is None and assignee_id is None:
        raise Refused("请选择转派到的处理部门或处理人")
    department = _department(session, department_id) if department_id is not None else None
    assignee = _assignee(session, assignee_id, department) if assignee_id is not None else None
    if department is None and assignee is not None and assignee.department_id is not None:
        department = _department(session, assignee.department_id)
    rows = _orders(session, order_ids, actor, STEP_FROM["reassign"], "转派")
    _check_handlers(department, assignee, {r[1] for r in rows})
    values: dict[str, Any] = {"status": S.DISPATCHED, "accepted_at": None, "reassign_note": reason[:255]}
    if department is not None:
        values["department_id"] = department.id
    if assignee is not None or department is not None:
        values["assignee_id"] = assignee.id if assignee else None
    return _transition(session, actor=actor, operation="reassign_work_orders", verb="转派", order_ids=order_ids,
                       allowed=STEP_FROM["reassign"], values=values, dry_run=dry_run, versions=versions,
                       params={"department_id": department_id, "assignee_id": assignee_id, "reason": reason})


def _money(value: Any, label: str) -> Decimal:
    # the kernel's reading: 「NaN」 or 「Infinity」 typed in the form is refused by name, not compared (a 500)
    amount = money(value if value not in (None, "") else "0", what=label)
    if amount < 0:
        raise Refused(f"{label}须为不小于 0 的金额：{value}")
    return amount


@as_actor
def complete_work_order(session: Session, *, order_id: int, result: str, actor: Actor, charge: Any = None,
                        dry_run: bool = False, versions: Mapping[int, int] | None = None) -> TransitionResult:
    """完工: the result, and for an order accepted as 有偿服务 the charge, within the quote the owner accepted
    before the work started (接单); an order accepted as free charges nothing. ``versions``: the order's version
    the form was opened on — a 完工 form opened before an unsatisfied 回访 sent the order back for rework is
    refused, never completes the rework with the first round's 处理结果."""
    result = (result or "").strip()
    if not result:
        raise Refused(f"请填写{label_of(WorkOrder, 'result')}")
    records.check_text_length(WorkOrder, "result", result)
    charge_amount = _money(charge, label_of(WorkOrder, "charge"))
    _orders(session, [order_id], actor, tuple(S), "完工")  # scope first: the refusal below names the quote
    paid = session.execute(select(WorkOrder.paid_service, WorkOrder.quote).where(WorkOrder.id == order_id)).first()
    if paid is not None and paid.paid_service:
        if charge_amount > paid.quote:
            raise Refused(f"收费 {charge_amount} 元超过业主确认的报价 {paid.quote} 元", [order_id])
    elif charge_amount:
        raise Refused("该派工单接单时未登记为有偿服务（须先报价、业主接受后方可开工），不能收费", [order_id])
    return _transition(
        session, actor=actor, operation="complete_work_order", verb="完工", order_ids=[order_id],
        allowed=STEP_FROM["complete"], dry_run=dry_run, versions=versions,
        values={"status": S.DONE, "completed_at": utcnow(), "result": result, "charge": charge_amount},
        params={"charge": charge_amount},
    )


@dataclass(frozen=True)
class PriorityResult:
    order_id: int
    priority: Priority
    respond_due_at: dt.datetime
    complete_due_at: dt.datetime
    changed: bool  # False: the order already had this priority, nothing was written
    recomputed: bool  # the deadlines follow the new priority (an order not yet completed)

    @property
    def message(self) -> str:
        if not self.changed:
            return f"派工单 #{self.order_id} 的优先级未变"
        text = f"已将派工单 #{self.order_id} 的优先级改为{self.priority.label}"
        return text + ("，未到的时限已按时限规则重算（已过的时限不变）" if self.recomputed else "（已完工，时限不变）")


@as_actor
def change_work_order_priority(session: Session, *, order_id: int, priority: Priority, actor: Actor,
                               version: int | None = None) -> PriorityResult:
    """改优先级. An order not yet completed gets the deadlines of the new priority — the SLA rule of its
    project, kind and priority, counted from the request's 受理时间 (as 派工 does) — for the deadlines still ahead:
    one already passed stays (the order was late then, and 超时 counts in reports and staff scores), and a new one
    is not set before now (a raised priority makes the order due now, not late already). A completed or closed
    order keeps the deadlines it was judged by. ``version``: the one the edit form started from (refused if it
    moved on)."""
    if not isinstance(priority, Priority):
        raise Refused(f"请选择{label_of(WorkOrder, 'priority')}")
    _orders(session, [order_id], actor, tuple(s for s in S if s is not S.CANCELLED), "修改优先级")
    order = session.get(WorkOrder, order_id)
    if version is not None and version != order.version:
        raise Refused("派工单已被他人修改，请刷新后重试", [order_id])
    if order.priority is priority:
        return PriorityResult(order_id, priority, order.respond_due_at, order.complete_due_at, False, False)
    recompute = order.status in OPEN_STATUSES
    if recompute:
        key = (order.project_id, order.request.kind, priority)
        limits = _sla(session, {key}).get(key)
        if limits is None:
            raise Refused(f"缺少时限规则：{key[1].label}/{priority.label}（请在「时限规则」中补充）", [order_id])
        minutes, hours = limits
        received, now = order.request.received_at, utcnow()  # counted as 派工 counts them
        if order.respond_due_at > now:
            order.respond_due_at = max(received + dt.timedelta(minutes=minutes), now)
        if order.complete_due_at > now:
            order.complete_due_at = max(received + dt.timedelta(hours=hours), now)
    order.priority = priority
    try:
        # One record, as a console edit: the flush writes its audit row with the changed values (优先级 and the
        # deadlines, before → after), and the version column refuses a row someone changed meanwhile.
        session.flush()
    except StaleDataError:
        raise Refused("派工单已被他人修改，请刷新后重试", [order_id]) from None
    return PriorityResult(order_id, priority, order.respond_due_at, order.complete_due_at, True, recompute)


@dataclass(frozen=True)
class CallbackResult:
    order_id: int
    visit_id: int | None
    status: WorkOrderStatus
    reopened: bool
    operation_id: int | None = None
    dry_run: bool = False

    @property
    def message(self) -> str:
        if self.reopened:
            return f"已回访派工单 #{self.order_id}：业主不满意，已退回处理中返工"
        return f"已回访派工单 #{self.order_id}：状态 {self.status.label}，可关闭"


# 002 业主走回访制度 二 回访分类: 定期走访、专项走访、投诉回访、有偿服务回访、维修工单(回访) — an order's callback is of
# its matter: a complaint's 投诉回访, a paid job's 有偿服务回访, a repair's 维修工单回访; a 求助、咨询、建议 dispatched is
# no repair — its callback is one on that matter, a 专项回访 (「专项走(回)访」).
REPAIR_KINDS = (RequestKind.REPAIR_PRIVATE, RequestKind.REPAIR_PUBLIC)


def _callback_kind(order: WorkOrder) -> VisitKind:
    if order.paid_service:
        return VisitKind.PAID_SERVICE
    if order.request.kind is RequestKind.COMPLAINT:
        return VisitKind.COMPLAINT
    return VisitKind.REPAIR if order.request.kind in REPAIR_KINDS else VisitKind.SPECIAL


@as_actor
def callback_work_order(session: Session, *, order_id: int, way: VisitWay, result: Satisfaction, actor: Actor,
                        notes: str = "", issues_raised: str = "", dry_run: bool = False,
                        versions: Mapping[int, int] | None = None) -> CallbackResult:
    """回访 a completed order. 满意/基本满意 → 已回访 (ready to close); 不满意 → back to 处理中 for rework,
    返工次数 + 1, the completion time cleared until it is done again. ``versions``: the order's version the form
    was opened on — a 回访 form of the first round never judges the rework the owner was not asked about."""
    if not isinstance(result, Satisfaction) or not isinstance(way, VisitWay):
        raise Refused("请选择回访方式和回访结果")
    for key, text in (("notes", notes), ("issues_raised", issues_raised)):
        records.check_text_length(Visit, key, text)
    _orders(session, [order_id], actor, STEP_FROM["callback"], "回访")
    reopen = result is Satisfaction.UNSATISFIED
    if dry_run:
        return CallbackResult(order_id, None, S.ACCEPTED if reopen else S.CALLED_BACK, reopen, None, True)
    values: dict[str, Any] = (
        {"status": S.ACCEPTED, "completed_at": None, "reopen_count": WorkOrder.reopen_count + 1}
        if reopen else {"status": S.CALLED_BACK}
    )
    outcome = _transition(session, actor=actor, operation="callback_work_order", verb="回访", order_ids=[order_id],
                          allowed=STEP_FROM["callback"], values=values, params={"way": way, "result": result},
                          versions=versions)
    order = session.get(WorkOrder, order_id)
    request = order.request
    visit = Visit(
        project_id=order.project_id, kind=_callback_kind(order), way=way, unit_id=request.unit_id,
        customer_id=request.customer_id, work_order_id=order.id, request_id=request.id, visited_at=utcnow(),
        visitor_id=actor.user_id, result=result, notes=(notes or "").strip(), issues_raised=(issues_raised or "").strip(),
    )
    session.add(visit)
    session.flush()
    return CallbackResult(order_id, visit.id, outcome.status, reopen, outcome.operation_id)


CALLBACK_ON_ORDER = "派工单的回访须在派工单上办理（「回访」：不满意退回返工，满意方可关闭），不能在走访记录中关联或修改"


@records.rule(Visit)
def _callback_only_by_its_step(session: Session, actor: Actor, change: records.Change) -> None:
    """A visit linked to a 派工单 is its 回访, made by :func:`callback_work_order` — 不满意 sends the order back
    for rework, 满意 lets it close. The 走访记录 form would skip that: it may not link a visit to an order, nor
    change the link or the result of one linked (its notes stay editable)."""
    visit = change.obj
    if change.changed("work_order_id") and (visit.work_order_id is not None or change.was("work_order_id")) or (
            visit.work_order_id is not None and change.changed("result")):
        raise Refused(CALLBACK_ON_ORDER,
                      [visit.work_order_id or change.was("work_order_id")])



@records.delete_rule(Visit)
def _callback_stays(session: Session, actor: Actor, visit: Visit) -> None:
    """A 派工单's 回访 is what let it close (「真正的结束是在回访后」) or sent it back for rework: deleting it would
    leave a closed order without its callback, and the 回访率 short. It stays; a mistyped note is corrected."""
    if visit.work_order_id is not None:
        order = session.get(WorkOrder, visit.work_order_id)
        raise Refused(f"该记录是{order}的回访（{order.status.label}），不能删除：回访记录随派工单保留，"
                      f"填写有误可修改{label_of(Visit, 'notes')}", [visit.id])


@as_actor
def close_work_orders(session: Session, *, order_ids: Sequence[int], actor: Actor,
                      dry_run: bool = False) -> TransitionResult:
    """关闭 orders whose callback was satisfied; their service requests are 办结 with them (首问负责人's
    ownership ends here)."""
    now = utcnow()
    outcome = _transition(session, actor=actor, operation="close_work_orders", verb="关闭", order_ids=order_ids,
                          allowed=STEP_FROM["close"], values={"status": S.CLOSED, "closed_at": now}, dry_run=dry_run)
    if dry_run:
        return outcome
    SR = ServiceRequest
    requests = select(WorkOrder.request_id).where(WorkOrder.id.in_(outcome.order_ids))
    session.execute(
        update(SR).where(SR.id.in_(requests), SR.status != RequestStatus.CLOSED)
        .values(**SR.status_values(RequestStatus.CLOSED), closed_at=now, updated_at=now, version=SR.version + 1)
        .execution_options(synchronize_session=False)
    )
    record_bulk(session, kind=AuditKind.UPDATE, table=SR.__tablename__, summary="关闭派工单：客户诉求办结",
                ids=select(SR.id, SR.project_id).where(SR.id.in_(requests)),
                changes={"status": RequestStatus.CLOSED, "closed_at": now})
    for obj in list(session.identity_map.values()):
        if isinstance(obj, SR):
            session.expire(obj)
    return outcome


# --- 撤销: the owner withdraws a request whose order is under way ------------------------------------------------
# 「漏水自己好了」「自己请了师傅」: before the work is done (已派工/处理中) the front desk withdraws the request
# (``requests.withdraw_request``) and its order ends 已取消 — out of the department's open list, the engineer's
# queues and every figure. Once 已完工 it is not withdrawn: it goes to its 回访 and closes as every order does.
CANCELLABLE = OPEN_STATUSES


def cancel_refusal(order: WorkOrder) -> str | None:
    """Why the request of ``order`` cannot be withdrawn because of the order, or None."""
    if order.status in CANCELLABLE:
        return None
    if order.status is S.CANCELLED:
        return f"派工单 #{order.id} 已取消"
    then = "请回访，满意后随派工单关闭办结" if order.status is S.DONE else "请关闭派工单，诉求随之办结"
    return f"派工单 #{order.id} {order.status.label}，不能撤销：{then}"


def cancel_open_order(session: Session, *, order: WorkOrder, reason: str, now: dt.datetime) -> None:
    """The order of a request being withdrawn ends 已取消, in the caller's transaction (which writes the operation
    log). One conditional UPDATE, as every step: an engineer completing it at the same moment either went first —
    then this is refused, nothing written — or is refused himself once this commits."""
    values = {"status": S.CANCELLED, "cancelled_at": now, "cancel_reason": reason}
    done = session.execute(
        update(WorkOrder).where(WorkOrder.id == order.id, WorkOrder.status.in_(CANCELLABLE))
        .values(**values, updated_at=now, version=WorkOrder.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire(order)
    if done != 1:
        raise Refused(cancel_refusal(order) or f"派工单 #{order.id} 已被他人处理，请刷新后重试", [order.id])
    record_bulk(session, kind=AuditKind.UPDATE, table=WorkOrder.__tablename__, summary="撤销派工单",
                ids=select(WorkOrder.id, WorkOrder.project_id).where(WorkOrder.id == order.id), changes=values)


# --- SLA ---------------------------------------------------------------------------------------------
def _pending_deadline() -> ColumnElement[dt.datetime]:
    """The deadline an open order must meet next: the response deadline until it is accepted (or the
    completion deadline, if that is earlier), then the completion deadline. One expression, so the lists filter
    open orders through the (project, status) index and test this on those few rows."""
    return case(
        (and_(WorkOrder.status == S.DISPATCHED, WorkOrder.respond_due_at < WorkOrder.complete_due_at),
         WorkOrder.respond_due_at),
        else_=WorkOrder.complete_due_at,
    )


def overdue_clause(now: dt.datetime) -> ColumnElement[bool]:
    """已超时: an open order whose next deadline has passed."""
    return and_(WorkOrder.status.in_(OPEN_STATUSES), _pending_deadline() < now)


def due_soon_clause(now: dt.datetime) -> ColumnElement[bool]:
    """即将到期: an open order whose next deadline falls within the next two hours."""
    deadline = _pending_deadline()
    return and_(WorkOrder.status.in_(OPEN_STATUSES), deadline >= now, deadline < now + DUE_SOON)


def sla_state(order: WorkOrder, now: dt.datetime | None = None, status: WorkOrderStatus | None = None) -> str | None:
    """``"overdue"``, ``"due_soon"`` or None for one order — the same rule as the two clauses above.
    ``status``: the order's status at ``now``, when that is not its status today (a past day's report)."""
    status = status or order.status
    if status not in OPEN_STATUSES:
        return None
    deadline = order.complete_due_at
    if status == S.DISPATCHED:
        deadline = min(deadline, order.respond_due_at)
    return _state_of(deadline, now or utcnow())


def deadline_state(order: WorkOrder, deadline: str, now: dt.datetime | None = None) -> str | None:
    """``"overdue"``, ``"due_soon"`` or None for one deadline of an open order, as its column shows it: 完成时限
    (``complete_due_at``) by itself — an order whose response is due soon is not marked on its completion
    deadline hours away —, 响应时限 (``respond_due_at``) until the order is accepted (then it has been met)."""
    if order.status not in OPEN_STATUSES or (deadline == "respond_due_at" and order.status != S.DISPATCHED):
        return None
    value = getattr(order, deadline)
    return None if value is None else _state_of(value, now or utcnow())


def _state_of(deadline: dt.datetime, now: dt.datetime) -> str | None:
    if deadline < now:
        return "overdue"
    return "due_soon" if deadline < now + DUE_SOON else None


SLA_LABELS = {"overdue": "已超时", "due_soon": "即将到期"}


# --- reading orders: the forms, the daily report, the callback list ---------------------------------
@dataclass(frozen=True)
class OrderSummary:
    """One order as the console's forms and lists show it (phone masked)."""

    id: int
    project_id: int
    project: str
    unit: str  # 楼栋-房号
    kind: str
    content: str
    contact_name: str
    contact_phone: str
    department: str
    assignee: str
    status: WorkOrderStatus
    priority: Priority
    dispatched_at: dt.datetime
    respond_due_at: dt.datetime
    complete_due_at: dt.datetime
    completed_at: dt.datetime | None
    result: str
    paid_service: bool
    quote: Decimal
    quote_accepted: bool
    charge: Decimal
    reopen_count: int
    reassign_note: str
    sla: str | None  # "overdue" / "due_soon" / None

    @property
    def sla_label(self) -> str:
        return SLA_LABELS.get(self.sla or "", "")


def _status_at(order: WorkOrder, moment: dt.datetime) -> WorkOrderStatus:
    """The status ``order`` had at a past ``moment``, from its timestamps (the history of 回访 is not kept: an
    order completed by then shows 已完工 unless it has stayed in a later step since)."""
    if order.cancelled_at is not None and order.cancelled_at < moment:
        return S.CANCELLED
    if order.closed_at is not None and order.closed_at < moment:
        return S.CLOSED
    if order.completed_at is not None and order.completed_at < moment:
        return order.status if order.status in (S.DONE, S.CALLED_BACK) else S.DONE
    return S.ACCEPTED if order.accepted_at is not None and order.accepted_at < moment else S.DISPATCHED


def _summaries(session: Session, *where: Any, order_by: Sequence[Any], limit: int | None = None,
               offset: int = 0, now: dt.datetime | None = None, as_of: dt.datetime | None = None,
               ) -> tuple[OrderSummary, ...]:
    """The orders as summaries; their 时限 state is judged as of ``now`` (default: this moment). With ``as_of``
    (a past instant) each order is shown as it stood then: its status, and no completion after that instant."""
    SR = ServiceRequest
    stmt = (
        select(WorkOrder, Project.name, Building.name, Unit.room_no, SR.kind, SR.content, SR.contact_name,
               SR.contact_phone, Department.name, Staff.name)
        .join(SR, SR.id == WorkOrder.request_id)
        .join(Project, Project.id == WorkOrder.project_id)
        .join(Department, Department.id == WorkOrder.department_id)
        .outerjoin(Unit, Unit.id == SR.unit_id)
        .outerjoin(Building, Building.id == Unit.building_id)
        .outerjoin(Staff, Staff.id == WorkOrder.assignee_id)
        .where(*where)
        .order_by(*order_by)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    now = now or utcnow()

    def summary(o: WorkOrder, project: str, building: str | None, room: str | None, kind: RequestKind, content: str,
                name: str, phone: str, department: str, assignee: str | None) -> OrderSummary:
        status = _status_at(o, as_of) if as_of is not None else o.status
        completed_at = o.completed_at if as_of is None or (o.completed_at and o.completed_at < as_of) else None
        return OrderSummary(
            o.id, o.project_id, project, f"{building}-{room}" if room else "", kind.label, content, name,
            mask("phone", phone), department, assignee or "", status, o.priority, o.dispatched_at,
            o.respond_due_at, o.complete_due_at, completed_at, o.result, o.paid_service, o.quote, o.quote_accepted, o.charge,
            o.reopen_count, o.reassign_note, sla_state(o, now, status),
        )

    return tuple(summary(*row) for row in session.execute(stmt))


def order_summaries(session: Session, *, order_ids: Sequence[int], actor: Actor) -> tuple[OrderSummary, ...]:
    """The selected orders for an action's form; refused whole if one is missing or out of scope."""
    ids = sorted(set(order_ids))
    if not ids:
        raise Refused("请先选择派工单")
    found = _summaries(session, WorkOrder.id.in_(ids), order_by=[WorkOrder.id])
    missing = set(ids) - {o.id for o in found}
    if missing:
        raise Refused(f"派工单不存在：{id_list(missing)}", missing)
    outside = [o.id for o in found if not actor.can_see(o.project_id)]
    if outside:
        raise NotPermitted(f"无权操作其他项目的派工单：{id_list(outside)}", outside)
    return found


@dataclass(frozen=True)
class DepartmentReport:
    """日报: a department's open orders and those it finished that day — "其他部门每天下班前将事件处理情况上报前台"."""

    department: str
    day: dt.date
    lines: tuple[OrderSummary, ...]

    @property
    def open_count(self) -> int:
        return sum(1 for line in self.lines if line.status in OPEN_STATUSES)

    @property
    def done_count(self) -> int:
        return len(self.lines) - self.open_count

    @property
    def overdue_count(self) -> int:
        return sum(1 for line in self.lines if line.sla == "overdue")


REPORT_COLUMNS = (
    ("id", label_of(WorkOrder, "id")), ("project", label_of(WorkOrder, "project")),
    ("unit", label_of(ServiceRequest, "unit")), ("kind", label_of(ServiceRequest, "kind")),
    ("content", label_of(ServiceRequest, "content")), ("assignee", label_of(WorkOrder, "assignee")),
    ("status", label_of(WorkOrder, "status")), ("dispatched_at", label_of(WorkOrder, "dispatched_at")),
    ("complete_due_at", label_of(WorkOrder, "complete_due_at")), ("completed_at", label_of(WorkOrder, "completed_at")),
    ("sla_label", "时限"),
)


def department_report(session: Session, *, department_id: int, actor: Actor, day: dt.date | None = None,
                      project_id: int | None = None) -> DepartmentReport:
    """The department's open orders (已派工/处理中) and the orders it completed on ``day``, in the actor's
    projects, earliest completion deadline first. 已超时 is judged as of the end of ``day`` (or now, for today):
    the report of a past day says what was late that evening, not what is late since.

    For a past day "open" means open at the end of that day — dispatched before it ended and not completed
    (or closed) by then — whatever has happened to the order since, and each line shows its status then."""
    department = session.get(Department, department_id)
    if department is None:
        raise Refused(f"处理部门 #{department_id} 不存在", [department_id])
    if project_id is not None and not actor.can_see(project_id):
        raise NotPermitted("无权查看该项目的派工单", [project_id])
    now = utcnow()
    day = day or now.astimezone(SHANGHAI).date()
    start, end = local_day_bounds(day)
    past = end <= now
    done_that_day = and_(WorkOrder.completed_at >= start, WorkOrder.completed_at < end)
    if past:
        open_then = and_(
            WorkOrder.dispatched_at < end,
            or_(WorkOrder.completed_at.is_(None), WorkOrder.completed_at >= end),
            or_(WorkOrder.closed_at.is_(None), WorkOrder.closed_at >= end),
            or_(WorkOrder.cancelled_at.is_(None), WorkOrder.cancelled_at >= end),  # withdrawn by then: not open
        )
        state = or_(open_then, done_that_day)
    else:
        state = or_(WorkOrder.status.in_(OPEN_STATUSES), done_that_day)
    where = [WorkOrder.department_id == department_id, actor.project_filter(WorkOrder.project_id), state]
    if project_id is not None:
        where.append(WorkOrder.project_id == project_id)
    lines = _summaries(session, *where, order_by=[WorkOrder.complete_due_at, WorkOrder.id], now=min(now, end),
                       as_of=end if past else None)
    return DepartmentReport(department.name, day, lines)


@as_actor
def export_department_report(session: Session, *, department_id: int, actor: Actor, day: dt.date | None = None,
                             project_id: int | None = None) -> XlsxFile:
    """The daily report as .xlsx; the export is logged (who, which department and day, how many rows)."""
    report = department_report(session, department_id=department_id, actor=actor, day=day, project_id=project_id)
    wb = new_workbook()
    count = write_sheet(wb, f"{report.department}日报", [label for _, label in REPORT_COLUMNS],
                        ([getattr(line, key) for key, _ in REPORT_COLUMNS] for line in report.lines),
                        caption=f"{report.department}派工日报 {report.day.isoformat()}")
    params = {"department_id": department_id, "day": report.day.isoformat(), "project_id": project_id}
    log_event(session, AuditKind.EXPORT, summary=f"导出{report.department} {report.day} 派工日报 {count} 行",
              changes=params, table=WorkOrder.__tablename__, project_id=project_id)
    log_operation(session, "export_department_report", params=params, counts={"rows": count}, project_id=project_id)
    return XlsxFile(f"{report.department}日报-{report.day.isoformat()}.xlsx", to_bytes(wb), count)


def callbacks_due(session: Session, *, actor: Actor, project_id: int | None = None, limit: int = 100,
                  offset: int = 0) -> tuple[int, tuple[OrderSummary, ...]]:
    """待回访: completed orders awaiting their callback, oldest completion first; (total, one page)."""
    if project_id is not None and not actor.can_see(project_id):
        raise NotPermitted("无权查看该项目的派工单", [project_id])
    where = [WorkOrder.status == S.DONE, actor.project_filter(WorkOrder.project_id)]
    if project_id is not None:
        where.append(WorkOrder.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(WorkOrder).where(*where)) or 0
    return total, _summaries(session, *where, order_by=[WorkOrder.completed_at, WorkOrder.id], limit=limit,
                             offset=offset)


# --- what the forms offer ----------------------------------------------------------------------------
@dataclass(frozen=True)
class HandlerChoice:
    id: int
    label: str
    project_id: int | None
    department_id: int | None


@dataclass(frozen=True)
class HandlerChoices:
    departments: tuple[HandlerChoice, ...]  # active, shared or of the projects
    staff: tuple[HandlerChoice, ...]  # active staff of the projects, with their department


def handler_choices(session: Session, *, actor: Actor, project_ids: Iterable[int] = ()) -> HandlerChoices:
    """Departments and people a dispatch or reassignment of orders of ``project_ids`` may choose."""
    projects = sorted(p for p in set(project_ids) if actor.can_see(p))
    departments = session.execute(
        select(Department.id, Department.name, Department.project_id)
        .where(Department.active.is_(True), or_(Department.project_id.is_(None), Department.project_id.in_(projects)))
        .order_by(Department.project_id.is_not(None), Department.id)
    ).all()
    dep_names = {i: name for i, name, _ in departments}
    staff = session.execute(
        select(Staff.id, Staff.name, Staff.project_id, Staff.department_id)
        .where(Staff.active.is_(True), Staff.project_id.in_(projects))
        .order_by(Staff.department_id, Staff.name)
    ).all()
    return HandlerChoices(
        tuple(HandlerChoice(i, name, p, i) for i, name, p in departments),
        tuple(HandlerChoice(i, f"{name}（{dep_names.get(d, '未分部门')}）", p, d) for i, name, p, d in staff),
    )


# --- names, for the command line ---------------------------------------------------------------------
def department_named(session: Session, name: str, project_id: int | None) -> int:
    """A department by name: the project's own before the shared one of that name."""
    found = session.scalar(
        select(Department.id)
        .where(Department.name == name.strip(), or_(Department.project_id.is_(None), Department.project_id == project_id))
        .order_by(Department.project_id.is_(None))
        .limit(1)
    )
    if found is None:
        raise Refused(f"处理部门不存在：{name}")
    return found


def staff_numbered(session: Session, employee_no: str, project_id: int | None) -> int:
    found = session.scalar(select(Staff.id).where(Staff.employee_no == employee_no.strip(), Staff.project_id == project_id))
    if found is None:
        raise Refused(f"员工不存在：工号 {employee_no}")
    return found
