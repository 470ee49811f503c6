"""楼宇周报: 「每周对所报事件情况进行统计分析」(002 楼宇管家 11) — per building and week, the matters reported
(service requests received that week on the building's units) by kind and by their status now; requests without
a unit (public areas) form a line of their own. A butler's report is the units they look after: each unit's own
责任管家, else its building's 楼宇管家 — as 走访 and the mail notices count them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import SHANGHAI, Building, RequestKind, RequestStatus, ServiceRequest, Staff, Unit, User, label_of

from .actor import Actor
from .errors import NotPermitted, Refused
from .kernel.names import natural_key
from .kernel.periods import monday_of, today_local
from .kernel.scope import visible_projects

NO_BUILDING = "公共区域（未指定房屋）"


@dataclass(frozen=True)
class BuildingLine:
    building_id: int | None
    building: str
    butler: str
    by_kind: tuple[int, ...]  # in the order of ``BuildingWeek.kinds``
    by_status: tuple[int, ...]  # in the order of ``BuildingWeek.statuses``

    @property
    def total(self) -> int:
        return sum(self.by_kind)


@dataclass(frozen=True)
class BuildingWeek:
    project_id: int
    project_name: str
    week_start: dt.date
    butler_id: int | None
    butler_name: str
    kinds: tuple[RequestKind, ...]
    statuses: tuple[RequestStatus, ...]
    lines: tuple[BuildingLine, ...]
    totals: BuildingLine

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=6)


def building_week(session: Session, *, project_id: int, week: dt.date | None = None, butler_id: int | None = None,
                  actor: Actor) -> BuildingWeek:
    """The week (Monday to Sunday, Beijing time) containing ``week`` — last week when not given."""
    name = visible_projects(session, [project_id], actor)[project_id]
    start = monday_of(week) if week else monday_of(today_local()) - dt.timedelta(days=7)
    butler_name = ""
    if butler_id is not None:
        butler = session.get(Staff, butler_id)
        if butler is None:
            raise Refused(f"{label_of(Building, 'butler')}不存在：{butler_id}", [butler_id])
        if butler.project_id != project_id:
            raise NotPermitted(f"{butler.name} 不是{name}的员工", [butler_id])
        butler_name = butler.name
    begin = dt.datetime.combine(start, dt.time(), SHANGHAI)
    end = begin + dt.timedelta(days=7)
    # each unit's butler is its own 责任管家, else its building's — as visits and the mail notices count them
    responsible = func.coalesce(Unit.butler_id, Building.butler_id)
    counted = (
        select(Unit.building_id, ServiceRequest.kind, ServiceRequest.status, func.count())
        .select_from(ServiceRequest).outerjoin(Unit, Unit.id == ServiceRequest.unit_id)
        .outerjoin(Building, Building.id == Unit.building_id)
        .where(ServiceRequest.project_id == project_id, ServiceRequest.received_at >= begin,
               ServiceRequest.received_at < end)
        .group_by(Unit.building_id, ServiceRequest.kind, ServiceRequest.status)
    )
    if butler_id is not None:
        counted = counted.where(responsible == butler_id)
    counts = session.execute(counted).all()
    # the butlers of each building's units: the building's own first, then those of units with a 责任管家 of their own
    looked_after = session.execute(
        select(Unit.building_id, Building.butler_id, responsible, Staff.name).distinct()
        .join(Building, Building.id == Unit.building_id).join(Staff, Staff.id == responsible)
        .where(Unit.project_id == project_id)).all()
    names: dict[int, list[str]] = {}
    for building_id, _, _, staff_name in sorted(looked_after, key=lambda r: (r[2] != r[1], r[3])):
        names.setdefault(building_id, []).append(staff_name)
    buildings = select(Building.id, Building.name, Staff.name).outerjoin(Staff, Staff.id == Building.butler_id) \
        .where(Building.project_id == project_id)
    if butler_id is not None:  # the buildings they look after, and those where some units are theirs
        theirs = {b for b, _, who, _ in looked_after if who == butler_id}
        buildings = buildings.where(or_(Building.butler_id == butler_id, Building.id.in_(theirs)))
    rows = sorted(((b, bname, butler_name if butler_id is not None else "、".join(names.get(b, ())) or butler)
                   for b, bname, butler in session.execute(buildings)), key=lambda r: natural_key(r[1]))
    kinds, statuses = tuple(RequestKind), tuple(RequestStatus)

    def line(building_id: int | None, building: str, butler: str) -> BuildingLine:
        mine = [(k, s, n) for b, k, s, n in counts if b == building_id]
        return BuildingLine(building_id, building, butler,
                            tuple(sum(n for k, _, n in mine if k is kind) for kind in kinds),
                            tuple(sum(n for _, s, n in mine if s is status) for status in statuses))

    lines = [line(b, bname, butler or "") for b, bname, butler in rows]
    if butler_id is None and any(b is None for b, *_ in counts):
        lines.append(line(None, NO_BUILDING, ""))
    totals = BuildingLine(None, "合计", "", tuple(sum(ln.by_kind[i] for ln in lines) for i in range(len(kinds))),
                          tuple(sum(ln.by_status[i] for ln in lines) for i in range(len(statuses))))
    return BuildingWeek(project_id, name, start, butler_id, butler_name, kinds, statuses, tuple(lines), totals)


@dataclass(frozen=True)
class Butlers:
    choices: tuple[tuple[int, str], ...]  # the project's staff who look after a building, or units of their own
    own: int | None  # the user's own staff record, when they are one of them: their report opens on it


def butlers(session: Session, *, project_id: int, actor: Actor) -> Butlers:
    visible_projects(session, [project_id], actor)
    choices = tuple((sid, name) for sid, name in session.execute(
        select(Staff.id, Staff.name).where(or_(
            Staff.id.in_(select(Building.butler_id).where(Building.project_id == project_id)),
            Staff.id.in_(select(Unit.butler_id).where(Unit.project_id == project_id)))).order_by(Staff.name)
    ))
    staff_id = session.scalar(select(User.staff_id).where(User.id == actor.user_id)) if actor.user_id else None
    return Butlers(choices, staff_id if staff_id in {sid for sid, _ in choices} else None)
