"""巡查: a patrol recorded with its route's checklist, and a finding made a 客户诉求 in one step.

「负责楼宇的每日巡查，发现问题及时协调相关部门处理」(002 楼宇 9): the butler walks a route, marks each item of its
checklist 正常 / 异常 / 未查 — every item, so a skipped one is a recorded 未查 and not a silent gap —, and notes what
was found. A finding not settled on the spot goes to the front desk as a request (渠道 巡查) through the same intake
as a call, and the finding keeps the request's number: dispatch, callback and closing follow the usual way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Channel,
    CheckResult,
    FindingStatus,
    Patrol,
    PatrolCheck,
    PatrolCheckItem,
    PatrolFinding,
    PatrolRoute,
    Priority,
    Project,
    RequestCategory,
    RequestKind,
    Staff,
    Unit,
    User,
    label_of,
)

from .actor import Actor
from .audit import as_actor, log_operation
from .errors import NotPermitted, Refused
from .kernel.periods import not_yet
from .requests import receive_request, unit_named, units_named
from .scores import SCORED_POSITIONS, SCORED_TEXT


@dataclass(frozen=True)
class CheckInput:
    result: CheckResult
    note: str = ""


@dataclass(frozen=True)
class FindingInput:
    description: str
    location: str = ""
    unit_id: int | None = None
    unit: str = ""  # the unit as typed (3栋-1303), when no unit_id
    item_id: int | None = None
    category: RequestCategory = RequestCategory.OTHER
    resolved: bool = False  # 现场已处理: nothing to report


@dataclass(frozen=True)
class PatrolResult:
    patrol_id: int
    abnormal: int
    findings: tuple[int, ...]
    message: str


def _route(session: Session, route_id: int | None, actor: Actor) -> PatrolRoute:
    route = session.get(PatrolRoute, route_id) if route_id is not None else None
    if route is None:
        raise Refused(f"请选择{label_of(Patrol, 'route')}", [route_id] if route_id else [])
    if not actor.can_see(route.project_id):
        raise NotPermitted(f"无权登记该{label_of(Patrol, 'route')}的巡查", [route_id])
    return route


@as_actor
def record_patrol(session: Session, *, route_id: int | None, patroller_id: int | None, started_at: dt.datetime,
                  ended_at: dt.datetime | None = None, results: Mapping[int, CheckInput],
                  findings: Sequence[FindingInput] = (), summary: str = "", actor: Actor) -> PatrolResult:
    """One patrol of a route: every active item of its checklist gets a result (异常 with what is wrong), the
    findings are kept; the patrol's 异常项数 is counted from the results."""
    route = _route(session, route_id, actor)
    if not route.active:
        raise Refused(f"巡查路线「{route.name}」已停用", [route.id])
    staff = session.get(Staff, patroller_id) if patroller_id is not None else None
    if staff is None or staff.project_id != route.project_id or not staff.active:
        raise Refused(f"{label_of(Patrol, 'patroller')}须为本项目在职员工", [patroller_id] if patroller_id else [])
    if staff.position not in SCORED_POSITIONS:
        raise Refused(f"巡查人须为客服人员（{SCORED_TEXT}）：{staff.name}是{staff.position.label}", [staff.id])
    if not_yet(started_at) or not_yet(ended_at):
        raise Refused("巡查时间不能晚于当前时间")
    if ended_at is not None and ended_at < started_at:
        raise Refused(f"{label_of(Patrol, 'ended_at')}不能早于{label_of(Patrol, 'started_at')}")
    items = {i.id: i for i in session.scalars(
        select(PatrolCheckItem).where(PatrolCheckItem.route_id == route.id, PatrolCheckItem.active.is_(True)))}
    foreign = sorted(set(results) - set(items))
    if foreign:
        raise Refused(f"检查项不属于路线「{route.name}」：{'、'.join(map(str, foreign))}", foreign)
    missing = sorted((i for i in items.values() if i.id not in results), key=lambda i: i.seq)
    if missing:
        raise Refused("以下检查项未填写结果（未检查的请选“未查”）：" + "、".join(f"{i.seq}.{i.item}" for i in missing),
                      [i.id for i in missing])
    unexplained = sorted((items[i] for i, r in results.items() if r.result is CheckResult.ABNORMAL
                          and not r.note.strip()), key=lambda i: i.seq)
    if unexplained:
        raise Refused("异常的检查项须说明情况：" + "、".join(f"{i.seq}.{i.item}" for i in unexplained),
                      [i.id for i in unexplained])
    rows = [_finding(session, f, route, items) for f in findings]
    abnormal = sum(1 for r in results.values() if r.result is CheckResult.ABNORMAL)
    patrol = Patrol(project_id=route.project_id, route_id=route.id, patroller_id=staff.id, started_at=started_at,
                    ended_at=ended_at, abnormal=abnormal, summary=(summary or "").strip(),
                    recorded_by_id=actor.user_id)
    session.add(patrol)
    session.flush()
    session.add_all(PatrolCheck(patrol_id=patrol.id, item_id=i, result=r.result, note=r.note.strip()[:255])
                    for i, r in results.items())
    for row in rows:
        row.patrol_id = patrol.id
    session.add_all(rows)
    session.flush()
    log_operation(session, "record_patrol", project_id=route.project_id,
                  params={"route_id": route.id, "patroller_id": staff.id},
                  counts={"checked": len(results), "abnormal": abnormal, "findings": len(rows)})
    text = f"已登记巡查 #{patrol.id}：{len(results)} 项检查，{abnormal} 项异常，{len(rows)} 条发现"
    return PatrolResult(patrol.id, abnormal, tuple(r.id for r in rows), text)


def _finding(session: Session, f: FindingInput, route: PatrolRoute,
             items: Mapping[int, PatrolCheckItem]) -> PatrolFinding:
    description = (f.description or "").strip()
    if not description:
        raise Refused(f"请填写{label_of(PatrolFinding, 'description')}")
    if f.item_id is not None and f.item_id not in items:
        raise Refused(f"检查项不属于路线「{route.name}」：{f.item_id}", [f.item_id])
    unit_id = f.unit_id if f.unit_id is not None else _typed_unit(session, f.unit, route.project_id)
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.project_id != route.project_id:
            raise Refused(f"{label_of(PatrolFinding, 'unit')} #{unit_id} 不属于该项目", [unit_id])
    return PatrolFinding(project_id=route.project_id, item_id=f.item_id, location=(f.location or "").strip()[:128],
                         unit_id=unit_id, category=f.category, description=description,
                         status=FindingStatus.RESOLVED if f.resolved else FindingStatus.OPEN)


def _serving(session: Session, staff_id: int) -> bool:
    # who found it answers for it (首问负责人) while still on the staff; else whoever reports it
    return bool(session.scalar(select(Staff.active).where(Staff.id == staff_id)))


def _typed_unit(session: Session, text: str, project_id: int) -> int | None:
    """The one unit of the project ``text`` names as people write it (3栋-1303, 3号楼1303)."""
    if not (text or "").strip():
        return None
    names = unit_named(text)
    found = session.scalars(units_named(names, whole=True).where(Unit.project_id == project_id)).all() if names else []
    if len(found) != 1:
        raise Refused(f"{label_of(PatrolFinding, 'unit')}「{text.strip()}」在本项目中找不到，请按“楼栋-房号”填写")
    return found[0]


@dataclass(frozen=True)
class FindingReport:
    finding_id: int
    request_id: int
    created: bool  # False: the finding had been reported before; nothing was written

    @property
    def message(self) -> str:
        if not self.created:
            return f"巡查发现#{self.finding_id} 已报事（诉求 #{self.request_id}），未重复登记"
        return f"巡查发现#{self.finding_id} 已转为诉求 #{self.request_id}，请派工跟进"


@as_actor
def report_finding(session: Session, *, finding_id: int, kind: RequestKind | None = None,
                   priority: Priority = Priority.NORMAL, actor: Actor) -> FindingReport:
    """报事: the finding becomes a 客户诉求 (渠道 巡查) through the intake every request takes — its unit, category
    and words —, and keeps the request's number. Two clicks at once are serialised on the finding's row; the
    second answers with the first one's request."""
    finding = session.execute(
        select(PatrolFinding).where(PatrolFinding.id == finding_id).with_for_update()).scalar_one_or_none()
    if finding is None or not actor.can_see(finding.project_id):
        raise Refused(f"{PatrolFinding.__label__}不存在或无权查看：{finding_id}", [finding_id])
    if finding.request_id is not None:
        return FindingReport(finding.id, finding.request_id, False)
    if finding.status is FindingStatus.RESOLVED:
        raise Refused(f"巡查发现#{finding.id} 现场已处理，无需报事", [finding.id])
    patrol = session.get(Patrol, finding.patrol_id)
    where = finding.location if finding.unit_id is None else ""
    content = " ".join(p for p in ("巡查发现：", where, finding.description) if p).replace("： ", "：")
    kind = kind or (RequestKind.REPAIR_PRIVATE if finding.unit_id is not None else RequestKind.REPAIR_PUBLIC)
    intake = receive_request(session, actor=actor, project_id=finding.project_id, kind=kind, content=content,
                             channel=Channel.PATROL, category=finding.category, priority=priority,
                             unit_id=finding.unit_id,
                             first_staff_id=patrol.patroller_id if _serving(session, patrol.patroller_id) else None)
    finding.request_id, finding.status = intake.request_id, FindingStatus.REPORTED
    session.flush()
    log_operation(session, "report_finding", project_id=finding.project_id,
                  params={"finding_id": finding.id, "request_id": intake.request_id}, counts={"reported": 1})
    return FindingReport(finding.id, intake.request_id, True)


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


@dataclass(frozen=True)
class PatrolForm:
    """What the 登记巡查 page offers: the actor's routes, and for the chosen one its checklist and who may walk it."""

    routes: tuple[Choice, ...]
    route: PatrolRoute | None
    items: tuple[PatrolCheckItem, ...]
    patrollers: tuple[Choice, ...]
    own_staff_id: int | None  # the actor's own staff record: the patroller by default


def patrol_form(session: Session, *, route_id: int | None, actor: Actor) -> PatrolForm:
    routes = tuple(Choice(rid, f"{project} · {name}") for rid, project, name in session.execute(
        select(PatrolRoute.id, Project.name, PatrolRoute.name).join(Project, Project.id == PatrolRoute.project_id)
        .where(actor.project_filter(PatrolRoute.project_id), PatrolRoute.active.is_(True))
        .order_by(Project.name, PatrolRoute.name)))
    if route_id is None:
        return PatrolForm(routes, None, (), (), None)
    route = _route(session, route_id, actor)
    items = tuple(session.scalars(select(PatrolCheckItem).where(
        PatrolCheckItem.route_id == route.id, PatrolCheckItem.active.is_(True)).order_by(PatrolCheckItem.seq)))
    patrollers = tuple(Choice(sid, f"{name}（{position.label}）") for sid, name, position in session.execute(
        select(Staff.id, Staff.name, Staff.position).where(
            Staff.project_id == route.project_id, Staff.active.is_(True), Staff.position.in_(SCORED_POSITIONS))
        .order_by(Staff.position, Staff.name)))
    own = session.scalar(select(User.staff_id).where(User.id == actor.user_id)) if actor.user_id else None
    return PatrolForm(routes, route, items, patrollers, own)
