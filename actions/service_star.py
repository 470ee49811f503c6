"""服务之星: each project nominates from its top scores of the quarter — the average of its confirmed monthly
totals — and the branch chooses among its projects' nominations; who nominated and who chose is recorded."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Numeric, func, select, type_coerce
from sqlalchemy.orm import Session

from models import MonthlyScore, MonthStatus, Project, ScoreMonth, ServiceStar, Staff, utcnow

from .actor import Actor
from .audit import log_operation
from .errors import NotPermitted, Refused
from .scores import visible_projects

# 各项目从本季度得分前几名中推荐服务之星
STAR_CANDIDATES = 3
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_months(quarter: str) -> tuple[str, str, str]:
    match = _QUARTER.match((quarter or "").strip().upper())
    if not match:
        raise Refused(f"季度格式应为 YYYYQn（例如 2026Q2）：{quarter}")
    year, q = int(match[1]), int(match[2])
    return tuple(f"{year:04d}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1))  # type: ignore[return-value]



@dataclass(frozen=True)
class StarCandidate:
    staff_id: int
    staff_name: str
    employee_no: str
    average: Decimal
    months: int
    rank: int


def star_candidates(session: Session, *, quarter: str, project_id: int, actor: Actor,
                    top: int = STAR_CANDIDATES) -> tuple[StarCandidate, ...]:
    """The project's top scores of a quarter (average of its confirmed monthly totals), ties included.

    Only employees scored in every month of the quarter: one who joined or left during it has fewer months, and
    one good month must not outrank three."""
    months = quarter_months(quarter)
    name = visible_projects(session, [project_id], actor)[project_id]
    confirmed = set(session.scalars(
        select(ScoreMonth.month).where(ScoreMonth.project_id == project_id, ScoreMonth.month.in_(months),
                                       ScoreMonth.status == MonthStatus.CONFIRMED)
    ))
    missing = [mo for mo in months if mo not in confirmed]
    if missing:
        raise Refused(f"{name} {quarter.upper()} 尚有未确认的月度考核：{'、'.join(missing)}", [project_id])
    rows = session.execute(
        select(Staff.id, Staff.name, Staff.employee_no,
               type_coerce(func.sum(MonthlyScore.total), Numeric(10, 1)), func.count())
        .join(Staff, Staff.id == MonthlyScore.staff_id)
        .where(MonthlyScore.project_id == project_id, MonthlyScore.month.in_(months))
        .group_by(Staff.id, Staff.name, Staff.employee_no)
        .having(func.count() == len(months))
    ).all()
    scored = sorted(
        ((sid, sname, no, (total / n).quantize(Decimal("0.01")), n) for sid, sname, no, total, n in rows),
        key=lambda r: (-r[3], r[2]),
    )
    out: list[StarCandidate] = []
    for i, (sid, sname, no, avg, n) in enumerate(scored):
        rank = out[-1].rank if out and out[-1].average == avg else i + 1
        if rank > top:
            break
        out.append(StarCandidate(sid, sname, no, avg, n, rank))
    return tuple(out)


@dataclass(frozen=True)
class StarNomination:
    nomination_id: int
    created: bool
    message: str


def nominate_star(session: Session, *, quarter: str, project_id: int, staff_id: int, reason: str = "",
                  actor: Actor) -> StarNomination:
    """A project nominates one of its top scorers for the quarter's 服务之星 (again: nothing changes)."""
    quarter = quarter.strip().upper()
    candidates = {c.staff_id: c for c in star_candidates(session, quarter=quarter, project_id=project_id, actor=actor)}
    if staff_id not in candidates:
        raise Refused(f"该员工不在本项目 {quarter} 季度得分前 {STAR_CANDIDATES} 名内，不能推荐", [staff_id])
    name = candidates[staff_id].staff_name
    existing = session.scalar(select(ServiceStar).where(ServiceStar.quarter == quarter, ServiceStar.staff_id == staff_id))
    if existing is not None:
        return StarNomination(existing.id, False, f"{name} 已在 {quarter} 服务之星推荐名单中")
    row = ServiceStar(project_id=project_id, quarter=quarter, staff_id=staff_id, reason=(reason or "").strip(),
                      nominated_by_id=actor.user_id)
    session.add(row)
    session.flush()
    log_operation(session, "nominate_service_star", project_id=project_id,
                  params={"quarter": quarter, "staff_id": staff_id}, counts={"nominations": 1})
    return StarNomination(row.id, True, f"已推荐 {name} 参评 {quarter} 服务之星")


@dataclass(frozen=True)
class Nomination:
    nomination_id: int
    quarter: str
    project_id: int
    project_name: str
    branch_id: int
    staff_id: int
    staff_name: str
    reason: str
    chosen: bool
    chosen_at: dt.datetime | None


def star_nominations(session: Session, *, quarter: str, actor: Actor) -> tuple[Nomination, ...]:
    quarter_months(quarter)
    rows = session.execute(
        select(ServiceStar, Project, Staff.name)
        .join(Project, Project.id == ServiceStar.project_id).join(Staff, Staff.id == ServiceStar.staff_id)
        .where(ServiceStar.quarter == quarter.strip().upper(), actor.project_filter(ServiceStar.project_id))
        .order_by(Project.branch_id, Project.name, ServiceStar.id)
    )
    return tuple(
        Nomination(s.id, s.quarter, p.id, p.name, p.branch_id, s.staff_id, name, s.reason, s.chosen, s.chosen_at)
        for s, p, name in rows
    )


@dataclass(frozen=True)
class StarChoice:
    quarter: str
    branch_id: int
    chosen: tuple[int, ...]
    unchosen: tuple[int, ...]
    message: str


def choose_stars(session: Session, *, quarter: str, nomination_ids: Iterable[int], actor: Actor) -> StarChoice:
    """分公司评定: the branch's choice among its projects' nominations; the others of the quarter are not chosen."""
    quarter = quarter.strip().upper()
    quarter_months(quarter)
    wanted = sorted({int(i) for i in nomination_ids})
    if not wanted:
        raise Refused("请选择服务之星")
    picked = session.execute(
        select(ServiceStar.id, ServiceStar.quarter, ServiceStar.project_id, Project.branch_id)
        .join(Project, Project.id == ServiceStar.project_id).where(ServiceStar.id.in_(wanted))
    ).all()
    missing = sorted(set(wanted) - {r[0] for r in picked})
    if missing:
        raise Refused(f"推荐记录不存在：{'、'.join(map(str, missing))}", missing)
    outside = [r[0] for r in picked if not actor.can_see(r[2])]
    if outside:
        raise NotPermitted(f"无权评定以下推荐：{'、'.join(map(str, outside))}", outside)
    other = [r[0] for r in picked if r[1] != quarter]
    if other:
        raise Refused(f"以下推荐不属于 {quarter}：{'、'.join(map(str, other))}", other)
    branches = {r[3] for r in picked}
    if len(branches) > 1:
        raise Refused("一次只能评定一个分公司的服务之星", wanted)
    branch_id = branches.pop()
    branch_projects = select(Project.id).where(Project.branch_id == branch_id)
    if not actor.sees_all:
        hidden = session.scalars(branch_projects.where(~actor.project_filter(Project.id))).all()
        if hidden:
            raise NotPermitted("评定服务之星须能查看该分公司的全部项目", hidden)
    rows = list(session.scalars(
        select(ServiceStar).where(ServiceStar.quarter == quarter, ServiceStar.project_id.in_(branch_projects))
        .with_for_update()
    ))
    now = utcnow()
    for row in rows:
        chosen = row.id in wanted
        if chosen and not row.chosen:
            row.chosen, row.chosen_by_id, row.chosen_at = True, actor.user_id, now
        elif not chosen and row.chosen:
            row.chosen, row.chosen_by_id, row.chosen_at = False, None, None
    session.flush()
    unchosen = tuple(r.id for r in rows if not r.chosen)
    log_operation(session, "choose_service_star", params={"quarter": quarter, "branch_id": branch_id,
                  "nomination_ids": wanted}, counts={"chosen": len(wanted), "unchosen": len(unchosen)})
    names = session.scalars(
        select(Staff.name).join(ServiceStar, ServiceStar.staff_id == Staff.id).where(ServiceStar.id.in_(wanted))
    ).all()
    return StarChoice(quarter, branch_id, tuple(wanted), unchosen, f"已评定 {quarter} 服务之星：{'、'.join(names)}")
