"""定期走访: "原则上三个月走访一次" — a rolling cycle per household: one whose last 定期走访 is three months old
or more (or who was never visited) is due, and the households due are listed for their butlers. (Calendar
quarters would let a household visited on 1 January and next on 30 June go almost six months.) An issue raised in a visit that is
a complaint enters the complaint process as a new request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from models import (
    SHANGHAI,
    Building,
    Channel,
    Customer,
    Project,
    RequestKind,
    Satisfaction,
    ServiceRequest,
    Staff,
    Unit,
    UnitCustomer,
    UnitStatus,
    User,
    Visit,
    VisitKind,
    VisitWay,
    label_of,
    utcnow,
)

from . import records
from .actor import Actor
from .audit import as_actor, log_operation
from .errors import NotPermitted, Refused
from .form_tokens import form_token as one_time
from .form_tokens import not_this_form
from .kernel.periods import local_day_bounds, not_yet
from .requests import add_request
from .spreadsheets.pipeline import shown
from .work_orders import CALLBACK_ON_ORDER

# 已交房、装修中、已入住的房屋都算住户；空置房不走访。
HOUSEHOLD_STATUSES = (UnitStatus.HANDED_OVER, UnitStatus.DECORATING, UnitStatus.OCCUPIED)


VISIT_MONTHS = 3


def visit_cycle(day: dt.date) -> tuple[dt.date, dt.date]:
    """The three months up to ``day``: [the day after the same day three months before, the day after ``day``) —
    a household with a 定期走访 in it is not due on ``day``; one visited on 01-02 is due again on 04-02. 05-31
    looks back to 02-28 (there is no 02-31)."""
    months = day.year * 12 + day.month - 1 - VISIT_MONTHS
    year, month = divmod(months, 12)
    month += 1
    last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last_day)) + dt.timedelta(days=1), day + dt.timedelta(days=1)


@dataclass(frozen=True)
class HouseholdDue:
    unit_id: int
    unit: str
    butler: str
    last_visit_at: dt.datetime | None


@dataclass(frozen=True)
class VisitPlan:
    project: str
    cycle_start: dt.date
    cycle_end: dt.date  # exclusive
    households: int
    visited: int
    due: tuple[HouseholdDue, ...]  # one page of the households not visited in the cycle

    @property
    def not_visited(self) -> int:
        return self.households - self.visited


def households_not_visited(session: Session, *, project_id: int, actor: Actor, day: dt.date | None = None,
                           limit: int = 200, offset: int = 0) -> VisitPlan:
    """The 走访计划 on ``day``: households of the project without a 定期走访 in the three months up to it,
    longest unvisited first, each with its butler (the unit's, else the building's)."""
    project = session.get(Project, project_id)
    if project is None:
        raise Refused(f"项目 #{project_id} 不存在", [project_id])
    if not actor.can_see(project_id):
        raise NotPermitted("无权查看该项目的住户", [project_id])
    day = day or utcnow().astimezone(SHANGHAI).date()
    cycle_start, cycle_end = visit_cycle(day)
    start, end = local_day_bounds(cycle_start)[0], local_day_bounds(cycle_end)[0]

    regular = and_(Visit.unit_id == Unit.id, Visit.kind == VisitKind.REGULAR)
    visited_in_cycle = select(Visit.id).where(regular, Visit.visited_at >= start, Visit.visited_at < end).exists()
    last_visit = select(func.max(Visit.visited_at)).where(regular).scalar_subquery()
    households = [Unit.project_id == project_id, Unit.status.in_(HOUSEHOLD_STATUSES)]
    total, visited = session.execute(
        select(func.count(), func.count().filter(visited_in_cycle)).select_from(Unit).where(*households)
    ).one()
    unit_butler, building_butler = aliased(Staff), aliased(Staff)
    rows = session.execute(
        select(Unit.id, Building.name, Unit.room_no, func.coalesce(unit_butler.name, building_butler.name, ""),
               last_visit.label("last_visit"))
        .join(Building, Building.id == Unit.building_id)
        .outerjoin(unit_butler, unit_butler.id == Unit.butler_id)
        .outerjoin(building_butler, building_butler.id == Building.butler_id)
        .where(*households, ~visited_in_cycle)
        .order_by(last_visit.is_not(None), last_visit, Building.sort_key, Unit.sort_key, Unit.id)  # 2栋 before 10栋
        .limit(limit).offset(offset)
    ).all()
    return VisitPlan(
        project.name, cycle_start, cycle_end, total, visited,
        tuple(HouseholdDue(u, f"{b}-{r}", butler, last) for u, b, r, butler, last in rows),
    )


@dataclass(frozen=True)
class VisitResult:
    visit_id: int
    request_id: int | None  # the complaint opened from the issue raised, if any
    operation_id: int | None  # None: the form had been submitted before and nothing was written

    @property
    def message(self) -> str:
        if self.operation_id is None:
            return f"该表单已提交过：走访 #{self.visit_id} 已登记，未重复登记"
        return f"已登记走访 #{self.visit_id}" + (f"，反映的问题已转为投诉 #{self.request_id}" if self.request_id else "")


@as_actor
def record_visit(session: Session, *, unit_id: int | None, actor: Actor, kind: VisitKind = VisitKind.REGULAR,
                 way: VisitWay = VisitWay.DOOR, result: Satisfaction | None = None, notes: str = "",
                 issues_raised: str = "", complaint: bool = False, customer_id: int | None = None,
                 visited_at: dt.datetime | None = None, form_token: str | None = None,
                 request_id: int | None = None, visitor_id: int | None = None) -> VisitResult:
    """走访记录 of one household — the one write of a visit, from the 定期走访 page and the 走访记录 form alike (a
    派工单's 回访 is the order's step). With ``complaint`` the issue raised becomes a 投诉 received by the visitor.
    ``form_token`` is the page's one-time token: the same form again answers with the visit it recorded.
    ``request_id``: the 诉求 the visit follows up (投诉回访); ``visitor_id``: who visited, the actor by default."""
    token = one_time(form_token)
    earlier = _submitted(session, token, actor, unit_id)
    if earlier is not None:
        return earlier
    if unit_id is None:
        raise Refused(f"请选择{label_of(Visit, 'unit')}")
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise Refused(f"{label_of(Visit, 'unit')} #{unit_id} 不存在", [unit_id])
    if not actor.can_see(unit.project_id):
        raise NotPermitted("无权走访其他项目的住户", [unit_id])
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer_id is not None and (customer is None or customer.project_id != unit.project_id):
        raise Refused(f"{label_of(Visit, 'customer')} #{customer_id} 不属于该项目", [customer_id])
    followed = session.get(ServiceRequest, request_id) if request_id is not None else None
    if request_id is not None and (followed is None or followed.project_id != unit.project_id):
        raise Refused(f"{label_of(Visit, 'request')} #{request_id} 不属于该项目", [request_id])
    _check_complaint_named(VisitKind(kind), followed)
    _check_household(session, unit.id, customer_id, request_id)
    if visitor_id is not None and session.get(User, visitor_id) is None:
        raise Refused(f"{label_of(Visit, 'visitor')} #{visitor_id} 不存在", [visitor_id])
    issues_raised = (issues_raised or "").strip()
    if complaint and not issues_raised:
        raise Refused(f"转为投诉须填写{label_of(Visit, 'issues_raised')}")
    visited_at = visited_at or utcnow()
    _check_visited_at(visited_at, None)
    _check_after_request(visited_at, followed, None)
    try:
        with session.begin_nested():
            visit, request_id = _add_visit(
                session, actor, unit, kind=kind, way=way, result=result, notes=notes, issues_raised=issues_raised,
                complaint=complaint, customer=customer, visited_at=visited_at, token=token, request_id=request_id,
                visitor_id=visitor_id)
    except IntegrityError:
        # the same form's first submission committed while this one waited for its key
        earlier = _submitted(session, token, actor, unit_id)
        if earlier is None:
            raise
        return earlier
    log = log_operation(
        session, "record_visit", params={"unit_id": unit_id, "kind": kind, "way": way, "complaint": complaint},
        counts={"visits": 1, "complaints": int(request_id is not None)}, project_id=unit.project_id,
    )
    return VisitResult(visit.id, request_id, log.id)


def _add_visit(session: Session, actor: Actor, unit: Unit, *, kind: VisitKind, way: VisitWay,
               result: Satisfaction | None, notes: str, issues_raised: str, complaint: bool,
               customer: Customer | None, visited_at: dt.datetime, token: str | None, request_id: int | None,
               visitor_id: int | None) -> tuple[Visit, int | None]:
    """The visit, and with ``complaint`` the 投诉 it opens (channel 巡查, received when the visit was made)."""
    if complaint:
        request_id = add_request(
            session, actor=actor, project_id=unit.project_id, channel=Channel.PATROL, kind=RequestKind.COMPLAINT,
            unit_id=unit.id, customer_id=customer.id if customer else None, content=issues_raised,
            received_at=visited_at, contact_name=customer.name if customer else "",
            contact_phone=customer.phone if customer else "",
        ).id
    visit = Visit(
        project_id=unit.project_id, kind=kind, way=way, unit_id=unit.id, customer_id=customer.id if customer else None,
        request_id=request_id, visited_at=visited_at, visitor_id=visitor_id or actor.user_id, result=result,
        notes=(notes or "").strip(), issues_raised=issues_raised, form_token=token,
    )
    session.add(visit)
    session.flush()
    return visit, request_id


def _submitted(session: Session, token: str | None, actor: Actor, unit_id: int | None) -> VisitResult | None:
    """What the form with this token recorded, if it was submitted before — the same household's, of a project the
    account works on."""
    if token is None:
        return None
    row = session.execute(select(Visit.id, Visit.request_id, Visit.unit_id, Visit.project_id)
                          .where(Visit.form_token == token)).one_or_none()
    if row is not None and (row.unit_id != unit_id or not actor.can_see(row.project_id)):
        raise not_this_form()
    return None if row is None else VisitResult(row.id, row.request_id, None)


def _check_after_request(visited_at: dt.datetime | None, followed: ServiceRequest | None,
                         visit_id: int | None) -> None:
    """A 回访 follows up the 诉求 it names (投诉回访、有偿服务回访 …): it is made after that 诉求 was received — one
    dated before (a month typed wrong) would put the callback ahead of the complaint in its 处理经过 and count in a
    month the complaint had not come in yet."""
    if followed is None or visited_at is None or followed.received_at is None or visited_at >= followed.received_at:
        return
    raise Refused(f"{label_of(Visit, 'visited_at')} {shown(visited_at)} 早于所回访{label_of(Visit, 'request')} "
                  f"#{followed.id} 的{label_of(ServiceRequest, 'received_at')} {shown(followed.received_at)}："
                  f"回访须在受理之后，请核对日期", [visit_id] if visit_id else [followed.id])


def _check_visited_at(visited_at: dt.datetime | None, visit_id: int | None) -> None:
    """A visit is recorded once made: a 回访时间 ahead of now (next year's for this year's) would count the household
    as visited when its cycle comes."""
    if not_yet(visited_at):
        raise Refused(f"{label_of(Visit, 'visited_at')} {shown(visited_at)} 晚于当前时间：只能登记已做的走访/回访",
                      [visit_id] if visit_id else [])


@records.creates(Visit)
def _visit_form(session: Session, actor: Actor, values: Mapping[str, Any]) -> Visit:
    """走访记录 → 新增 is 登记走访 (:func:`record_visit`), as on the 定期走访 page: one write, one set of rules. A
    visit linked to a 派工单 is that order's 回访, made by its step."""
    if records.ref_id(values, "work_order") is not None:
        raise Refused(CALLBACK_ON_ORDER, [records.ref_id(values, "work_order")])
    unit_id, project_id = records.ref_id(values, "unit"), records.ref_id(values, "project")
    if unit_id is not None and project_id is not None and \
            session.scalar(select(Unit.project_id).where(Unit.id == unit_id)) not in (project_id, None):
        raise Refused(f"{label_of(Visit, 'unit')} #{unit_id} 不属于所选{label_of(Visit, 'project')}", [unit_id])
    enums = {key: records.member(enum, values.get(key), Visit, key)
             for key, enum in (("kind", VisitKind), ("way", VisitWay), ("result", Satisfaction))
             if values.get(key) not in (None, "")}
    result = record_visit(session, actor=actor, unit_id=unit_id, **enums, notes=values.get("notes") or "",
                          issues_raised=values.get("issues_raised") or "", customer_id=records.ref_id(values, "customer"),
                          visited_at=values.get("visited_at") or None, request_id=records.ref_id(values, "request"),
                          visitor_id=records.ref_id(values, "visitor"))
    return session.get(Visit, result.visit_id)


@records.rule(Visit)
def _visit_edited(session: Session, actor: Actor, change: records.Change) -> None:
    """An edit of a 走访记录 is held to what :func:`record_visit` holds."""
    visit = change.obj
    if change.changed("visited_at"):
        _check_visited_at(visit.visited_at, visit.id)
    if visit.request_id is not None and (change.changed("visited_at") or change.changed("request_id")):
        _check_after_request(visit.visited_at, session.get(ServiceRequest, visit.request_id), visit.id)
    if change.changed("kind") or change.changed("request_id"):
        _check_complaint_named(visit.kind, session.get(ServiceRequest, visit.request_id)
                               if visit.request_id is not None else None)
    if visit.unit_id is not None and any(change.changed(a) for a in ("unit_id", "customer_id", "request_id")):
        _check_household(session, visit.unit_id, visit.customer_id, visit.request_id)


def _check_complaint_named(kind: VisitKind, request: ServiceRequest | None) -> None:
    """投诉回访 follows a complaint (「协助客服经理接待处理投诉，跟进结果并及时沟通，直至业主满意」, 002): it names the
    complaint it follows up, so the complaint's 处理经过 shows it and 回访 is counted against it."""
    if kind is not VisitKind.COMPLAINT:
        return
    if request is None:
        raise Refused(f"{kind.label}须选择所回访的投诉（{label_of(Visit, 'request')}）")
    if request.kind is not RequestKind.COMPLAINT:
        raise Refused(f"{label_of(Visit, 'request')} #{request.id} 是{request.kind.label}，不是投诉：{kind.label}"
                      f"须选择所回访的投诉", [request.id])


def _check_household(session: Session, unit_id: int, customer_id: int | None, request_id: int | None) -> None:
    """The visit is of one household: the 客户 visited is one of the unit's people (业主、租户、家庭成员 … as the
    房屋客户 links say), the 诉求 it follows up (投诉回访) one about that unit — a customer picked from the
    project's list by a slip would put the visit on another family's record."""
    label = lambda attr: label_of(Visit, attr)  # noqa: E731
    if customer_id is not None and session.scalar(select(UnitCustomer.id).where(
            UnitCustomer.unit_id == unit_id, UnitCustomer.customer_id == customer_id).limit(1)) is None:
        name = session.scalar(select(Customer.name).where(Customer.id == customer_id))
        raise Refused(f"{label('customer')} {name} 不是{label('unit')}「{_unit_name(session, unit_id)}」登记的客户："
                      f"请选择该房屋的业主、租户或家庭成员，或清空此项", [customer_id])
    if request_id is not None:
        about = session.scalar(select(ServiceRequest.unit_id).where(ServiceRequest.id == request_id))
        if about is not None and about != unit_id:
            raise Refused(f"{label('request')} #{request_id} 是「{_unit_name(session, about)}」的诉求，不是"
                          f"{label('unit')}「{_unit_name(session, unit_id)}」的：请选择该房屋的诉求", [request_id])


def _unit_name(session: Session, unit_id: int) -> str:
    row = session.execute(select(Building.name, Unit.room_no).join(Building, Building.id == Unit.building_id)
                          .where(Unit.id == unit_id)).first()
    return f"{row.name}-{row.room_no}" if row else f"#{unit_id}"
