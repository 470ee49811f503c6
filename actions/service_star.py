"""服务之星 (004 (四) 1): 「建立分公司每季度“服务之星”活动的评选活动；项目根据推荐候选人，并填写《服务之星推荐表》；
项目经理将《服务之星推荐表》于每月最后一周的星期三交给分公司行政人事部；行政人事部将与分公司职能部门与分公司总经理确定
入选人员；行政人事部在分公司范围内通报表扬，并给予相关的奖励。」

A project nominates any of its customer-service staff with a 推荐表: the reason (主要事迹) and beside it what the
records say — each confirmed month's total and rank, the quarter's average and the praise received — until the
deadline the company sets for the quarter (by default the last Wednesday of its last month). Rank is information, not a limit. The branch decides
among its projects' nominations; who decided and when, the 通报表扬 and the reward are kept with the star.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    MonthlyScore,
    MonthStatus,
    Project,
    RequestKind,
    RequestStatus,
    ScoreMonth,
    ServiceRequest,
    ServiceStar,
    Staff,
    StarDeadline,
    label_of,
    utcnow,
)

from . import records
from .actor import Actor
from .audit import as_actor, log_operation
from .errors import NotPermitted, Refused
from .kernel.money import money
from .kernel.periods import today_local
from .kernel.scope import visible_projects
from .scores import SCORED_POSITIONS

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
WEDNESDAY = 2


def quarter_months(quarter: str) -> tuple[str, str, str]:
    match = _QUARTER.match((quarter or "").strip().upper())
    if not match:
        raise Refused(f"季度格式应为 YYYYQn（例如 2026Q2）：{quarter}")
    year, q = int(match[1]), int(match[2])
    return tuple(f"{year:04d}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1))  # type: ignore[return-value]


def default_deadline(quarter: str) -> dt.date:
    """推荐表 due by default: the last Wednesday of the quarter's last month (「每月最后一周的星期三」 of the month the
    quarter ends)."""
    year, month = map(int, quarter_months(quarter)[-1].split("-"))
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last - dt.timedelta(days=(last.weekday() - WEDNESDAY) % 7)


@dataclass(frozen=True)
class Deadline:
    quarter: str
    day: dt.date
    set_by_company: bool  # False: the default
    note: str
    version: int = 0  # the company's row's; 0: none set yet (the default)

    @property
    def text(self) -> str:
        how = f"公司设定{('：' + self.note) if self.note else ''}" if self.set_by_company else "季度末月最后一个星期三"
        return f"{self.day:%Y-%m-%d}（{how}）"


def nomination_deadline(session: Session, quarter: str) -> Deadline:
    """The quarter's deadline: the company's, else the default."""
    quarter = quarter.strip().upper()
    quarter_months(quarter)
    row = session.execute(select(StarDeadline.deadline, StarDeadline.note, StarDeadline.version)
                          .where(StarDeadline.quarter == quarter)).one_or_none()
    if row is None:
        return Deadline(quarter, default_deadline(quarter), False, "")
    return Deadline(quarter, row.deadline, True, row.note, row.version)


@as_actor
def set_star_deadline(session: Session, *, quarter: str, deadline: dt.date | None, note: str = "",
                      actor: Actor, version: int | None = None) -> Deadline:
    """公司设定推荐截止日: a day within the quarter (a nomination is about the quarter's months); set again, the new
    day replaces the old. Two at once are serialised on the quarter's row (unique quarter). ``version``: the
    deadline's version the form was opened on (0: none set then) — a form opened before another's setting is
    refused, never replaces the newer day."""
    quarter = (quarter or "").strip().upper()
    months = quarter_months(quarter)
    if not actor.sees_all:
        raise NotPermitted("推荐截止日由公司（职能中心）设定")
    if deadline is None:
        raise Refused(f"请填写{label_of(StarDeadline, 'deadline')}")
    first = dt.date.fromisoformat(f"{months[0]}-01")
    last = dt.date.fromisoformat(f"{months[-1]}-01")
    last = last.replace(day=calendar.monthrange(last.year, last.month)[1])
    if not first <= deadline <= last:
        raise Refused(f"{quarter} 的推荐截止日须在 {first} 至 {last} 之间：{deadline}")
    note = (note or "").strip()
    records.check_text_length(StarDeadline, "note", note)
    row = session.execute(select(StarDeadline).where(StarDeadline.quarter == quarter).with_for_update()
                          ).scalar_one_or_none()
    if version is not None and version != (row.version if row else 0):
        raise Refused(f"{quarter} 的推荐截止日已被他人修改（现为 {row.deadline if row else '默认'}），请刷新后重试")
    if row is None:
        row = StarDeadline(quarter=quarter)
        session.add(row)
    row.deadline, row.note, row.set_by_id = deadline, note, actor.user_id
    session.flush()
    log_operation(session, "set_star_deadline", params={"quarter": quarter, "deadline": deadline},
                  counts={"set": 1})
    return Deadline(quarter, deadline, True, note, row.version)


@dataclass(frozen=True)
class MonthLine:
    month: str
    total: Decimal | None  # None: not scored that month, or the month is not confirmed yet
    rank: int | None


@dataclass(frozen=True)
class StarCandidate:
    """One line of the 推荐表's figures: what the records say of a nominee."""

    staff_id: int
    staff_name: str
    employee_no: str
    months: tuple[MonthLine, ...]
    average: Decimal | None  # over the confirmed months the employee was scored in
    praises: int  # 客户表扬 received in the quarter
    rank: int | None  # among those scored in every confirmed month; None for fewer months

    @property
    def months_scored(self) -> int:
        return sum(1 for m in self.months if m.total is not None)


def star_candidates(session: Session, *, quarter: str, project_id: int, actor: Actor) -> tuple[StarCandidate, ...]:
    """The project's customer-service staff with their quarter so far, best first.

    Only confirmed months count; the average ranks those scored in every confirmed month — one good month must
    not outrank three — and the others are listed after them without a rank."""
    months = quarter_months(quarter)
    visible_projects(session, [project_id], actor)
    confirmed = set(session.scalars(
        select(ScoreMonth.month).where(ScoreMonth.project_id == project_id, ScoreMonth.month.in_(months),
                                       ScoreMonth.status == MonthStatus.CONFIRMED)
    ))
    scored = {
        (sid, month): (total, rank) for sid, month, total, rank in session.execute(
            select(MonthlyScore.staff_id, MonthlyScore.month, MonthlyScore.total, MonthlyScore.rank)
            .where(MonthlyScore.project_id == project_id, MonthlyScore.month.in_(sorted(confirmed)))
        )
    }
    first = dt.datetime.strptime(months[0], "%Y-%m").replace(tzinfo=SHANGHAI)
    year, last = map(int, months[-1].split("-"))
    end = dt.datetime(year + last // 12, last % 12 + 1, 1, tzinfo=SHANGHAI)
    praises = dict(session.execute(
        select(ServiceRequest.praised_staff_id, func.count())
        .where(ServiceRequest.project_id == project_id, ServiceRequest.kind == RequestKind.PRAISE,
               ServiceRequest.status != RequestStatus.CANCELLED, ServiceRequest.received_at >= first,
               ServiceRequest.received_at < end, ServiceRequest.praised_staff_id.is_not(None))
        .group_by(ServiceRequest.praised_staff_id)
    ).all())
    people = session.execute(
        select(Staff.id, Staff.name, Staff.employee_no).where(
            Staff.project_id == project_id, Staff.position.in_(SCORED_POSITIONS),
            Staff.active | Staff.id.in_({sid for sid, _ in scored}))
    ).all()
    lines = []
    for sid, name, no in people:
        month_lines = tuple(MonthLine(m, *scored.get((sid, m), (None, None))) for m in months)
        totals = [m.total for m in month_lines if m.total is not None]
        average = (sum(totals) / len(totals)).quantize(Decimal("0.01")) if totals else None
        lines.append((sid, name, no, month_lines, average, praises.get(sid, 0), len(totals)))
    full = len(confirmed)
    ranked = sorted((line for line in lines if full and line[6] == full), key=lambda r: (-r[4], r[2]))
    out: list[StarCandidate] = []
    for i, (sid, name, no, month_lines, average, praised, _) in enumerate(ranked):
        rank = out[-1].rank if out and out[-1].average == average else i + 1
        out.append(StarCandidate(sid, name, no, month_lines, average, praised, rank))
    rest = sorted((line for line in lines if not (full and line[6] == full)), key=lambda r: r[2])
    out += [StarCandidate(sid, name, no, month_lines, average, praised, None)
            for sid, name, no, month_lines, average, praised, _ in rest]
    return tuple(out)


@dataclass(frozen=True)
class StarNomination:
    nomination_id: int
    created: bool
    message: str


def nominate_star(session: Session, *, quarter: str, project_id: int, staff_id: int, reason: str = "",
                  actor: Actor, on: dt.date | None = None) -> StarNomination:
    """A project nominates one of its customer-service staff with a 推荐表, by the quarter's deadline (again:
    nothing changes)."""
    quarter = quarter.strip().upper()
    months = quarter_months(quarter)
    on = on or today_local()
    deadline = nomination_deadline(session, quarter)
    if on > deadline.day:
        raise Refused(f"{quarter} 服务之星推荐已于 {deadline.text}截止", [staff_id])
    if on.strftime("%Y-%m") < months[0]:
        raise Refused(f"{quarter} 尚未开始，不能推荐服务之星", [staff_id])
    candidates = {c.staff_id: c for c in star_candidates(session, quarter=quarter, project_id=project_id, actor=actor)}
    if staff_id not in candidates:
        raise Refused("只能推荐本项目在职的客服人员（前台客服、楼宇管家、收费员）", [staff_id])
    name = candidates[staff_id].staff_name
    existing = session.scalar(select(ServiceStar).where(ServiceStar.quarter == quarter, ServiceStar.staff_id == staff_id))
    if existing is not None:
        return StarNomination(existing.id, False, f"{name} 已在 {quarter} 服务之星推荐名单中")
    reason = (reason or "").strip()
    if not reason:
        raise Refused("请填写推荐理由（主要事迹）", [staff_id])
    records.check_text_length(ServiceStar, "reason", reason)
    row = ServiceStar(project_id=project_id, quarter=quarter, staff_id=staff_id, reason=reason,
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
    commendation: str
    reward: Decimal | None
    version: int  # what the 评定 form was opened on (``choose_stars``' versions)


def star_nominations(session: Session, *, quarter: str, actor: Actor) -> tuple[Nomination, ...]:
    quarter_months(quarter)
    rows = session.execute(
        select(ServiceStar, Project, Staff.name)
        .join(Project, Project.id == ServiceStar.project_id).join(Staff, Staff.id == ServiceStar.staff_id)
        .where(ServiceStar.quarter == quarter.strip().upper(), actor.project_filter(ServiceStar.project_id))
        .order_by(Project.branch_id, Project.name, ServiceStar.id)
    )
    return tuple(
        Nomination(s.id, s.quarter, p.id, p.name, p.branch_id, s.staff_id, name, s.reason, s.chosen, s.chosen_at,
                   s.commendation, s.reward, s.version)
        for s, p, name in rows
    )


@dataclass(frozen=True)
class StarChoice:
    quarter: str
    branch_id: int
    chosen: tuple[int, ...]
    unchosen: tuple[int, ...]
    message: str


def _reward(value: Decimal | str | None) -> Decimal | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    amount = money(text, what="奖励金额")  # 「NaN」「五百」 refused by name, not compared (a 500)
    if amount < 0 or amount > Decimal("1000000"):
        raise Refused(f"奖励金额须在 0–1,000,000 元之间：{text}")
    return amount


def choose_stars(session: Session, *, quarter: str, nomination_ids: Iterable[int], actor: Actor,
                 commendation: str = "", reward: Decimal | str | None = None,
                 versions: Mapping[int, int] | None = None) -> StarChoice:
    """分公司评定: the branch's choice among its projects' nominations, with the 通报表扬 and the reward it gives;
    the others of the quarter are not chosen. ``versions``: {nomination: version} the form was opened on — a form
    opened before another's 评定 (or before a new nomination) is refused, never un-chooses the newer choice."""
    quarter = quarter.strip().upper()
    quarter_months(quarter)
    wanted = sorted({int(i) for i in nomination_ids})
    if not wanted:
        raise Refused("请选择服务之星")
    amount = _reward(reward)
    commendation = (commendation or "").strip()
    records.check_text_length(ServiceStar, "commendation", commendation)
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
    if versions is not None and (stale := [r.id for r in rows if versions.get(r.id) != r.version]):
        raise Refused(f"{quarter} 服务之星的推荐或评定已被他人修改，请刷新后重试", stale)
    now = utcnow()
    for row in rows:
        if row.id in wanted:
            if not row.chosen:
                row.chosen, row.chosen_by_id, row.chosen_at = True, actor.user_id, now
            row.commendation = commendation or row.commendation
            row.reward = amount if amount is not None else row.reward
        elif row.chosen:
            row.chosen, row.chosen_by_id, row.chosen_at, row.commendation, row.reward = False, None, None, "", None
    session.flush()
    unchosen = tuple(r.id for r in rows if not r.chosen)
    log_operation(session, "choose_service_star", params={"quarter": quarter, "branch_id": branch_id,
                  "nomination_ids": wanted, "reward": amount}, counts={"chosen": len(wanted), "unchosen": len(unchosen)})
    names = session.scalars(
        select(Staff.name).join(ServiceStar, ServiceStar.staff_id == Staff.id).where(ServiceStar.id.in_(wanted))
    ).all()
    return StarChoice(quarter, branch_id, tuple(wanted), unchosen, f"已评定 {quarter} 服务之星：{'、'.join(names)}")
