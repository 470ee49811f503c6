"""登门拜访计划 and its follow-through (002 走回访制度): the supervisor's monthly plan per member of staff, approved by
the manager; plan against done — for the month and rolling over the year so far — read from the visits each one
made (定期走访 and 专项走访 recorded with their account); the year's visits by kind and result, with the issues
raised that are not yet resolved, for the year-end report upward."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    AuditKind,
    PlanStatus,
    Satisfaction,
    Staff,
    StaffVisitPlan,
    Unit,
    User,
    Visit,
    VisitKind,
    VisitSignoff,
    label_of,
    utcnow,
)
from models.base import display_loads

from . import records
from .actor import Actor
from .audit import as_actor, log_event, log_operation, record_bulk
from .errors import NotPermitted, Refused
from .kernel.periods import parse_month, read_month
from .kernel.scope import visible_projects
from .kernel.sql import upsert_insert
from .rates import percent
from .xlsx_out import XlsxFile, new_workbook, to_bytes, write_sheet

PLANNED_KINDS = (VisitKind.REGULAR, VisitKind.SPECIAL)  # the 登门拜访 a plan counts; callbacks follow their orders


def planned_visit() -> ColumnElement[bool]:
    """A 登门拜访 a plan counts: 定期/专项走访 of no 派工单 (a 专项回访 of an order is that order's callback)."""
    return and_(Visit.kind.in_(PLANNED_KINDS), Visit.work_order_id.is_(None))


@records.rule(StaffVisitPlan)
def _plan_of_a_month(session: Session, actor: Actor, change: records.Change) -> None:
    """A plan is of a month stored as YYYY-MM, however typed (「2027年3月」, 2027-3 were saved as typed: 走访统计 and
    审批 never found the plan, and a second plan of the same person and month slipped past the unique key). A plan
    changed after its approval waits for approval again: the manager approved what it said then."""
    plan = change.obj
    if plan.month is not None and change.changed("month"):
        plan.month = read_month(plan.month, what=label_of(StaffVisitPlan, "month")).text
    drawn = change.created or any(change.changed(key) for key in ("project_id", "month", "staff_id", "planned", "focus"))
    if drawn and actor.user_id is not None:
        # 制定人 is who draws the plan up — who saves what it says — not a name the form chose: a manager naming his
        # 主管 as 制定人, or changing an approved plan, then approved his own plan (审批 is by someone else)
        plan.planned_by_id = actor.user_id
    if drawn and not change.created and plan.status is PlanStatus.APPROVED:
        plan.status, plan.approved_by_id, plan.approved_at = PlanStatus.DRAFT, None, None


@dataclass(frozen=True)
class Approval:
    approved: int
    message: str


@as_actor
def approve_visit_plans(session: Session, *, project_id: int, month: str, actor: Actor) -> Approval:
    """审批: the month's plans of a project waiting for approval are approved — not by whoever drew them up."""
    m = parse_month(month)
    name = visible_projects(session, [project_id], actor)[project_id]
    waiting = session.scalars(
        select(StaffVisitPlan).where(StaffVisitPlan.project_id == project_id, StaffVisitPlan.month == m.text,
                                     StaffVisitPlan.status == PlanStatus.DRAFT).with_for_update()
    ).all()
    if not waiting:
        raise Refused(f"{name} {m.text} 没有待审批的走访计划", [project_id])
    own = [p.id for p in waiting if p.planned_by_id is not None and p.planned_by_id == actor.user_id]
    if own:
        raise Refused("走访计划须由制定人以外的领导审批", own)
    now = utcnow()
    for plan in waiting:
        plan.status, plan.approved_by_id, plan.approved_at = PlanStatus.APPROVED, actor.user_id, now
    session.flush()
    log_operation(session, "approve_visit_plans", project_id=project_id, params={"month": m.text},
                  counts={"approved": len(waiting)})
    return Approval(len(waiting), f"已批准 {name} {m.text} 走访计划 {len(waiting)} 条")


@dataclass(frozen=True)
class StaffProgress:
    staff_id: int
    staff_name: str
    planned: int  # this month (0: no plan)
    done: int  # households visited this month
    planned_to_date: int  # January … this month
    done_to_date: int
    status: PlanStatus | None

    @staticmethod
    def _rate(done: int, planned: int) -> Decimal | None:
        # the console's one rounding rule (half-up, ``rates``): 1 of 16 reads 6.3 %, as on every other page
        return percent(done, planned)

    @property
    def rate(self) -> Decimal | None:
        return self._rate(self.done, self.planned)

    @property
    def rate_to_date(self) -> Decimal | None:
        return self._rate(self.done_to_date, self.planned_to_date)


@dataclass(frozen=True)
class PlanProgress:
    project_id: int
    project_name: str
    month: str
    lines: tuple[StaffProgress, ...]


def _bounds(first: dt.date, next_first: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(first, dt.time(), SHANGHAI), dt.datetime.combine(next_first, dt.time(), SHANGHAI))


def plan_progress(session: Session, *, project_id: int, month: str, actor: Actor) -> PlanProgress:
    """Plan against done per member of staff: the households each visited (a household visited twice in a month
    counts once), for the month and rolling from January over the months that had a plan."""
    m = parse_month(month)
    name = visible_projects(session, [project_id], actor)[project_id]
    months = [parse_month(f"{m.first.year:04d}-{n:02d}") for n in range(1, m.first.month + 1)]
    plans = session.execute(
        select(StaffVisitPlan.staff_id, StaffVisitPlan.month, StaffVisitPlan.planned, StaffVisitPlan.status)
        .where(StaffVisitPlan.project_id == project_id, StaffVisitPlan.month.in_([mo.text for mo in months]))
    ).all()
    start, end = _bounds(months[0].first, m.next_first)
    per_month = [
        func.count(func.distinct(case((and_(Visit.visited_at >= lo, Visit.visited_at < hi), Visit.unit_id))))
        for lo, hi in (_bounds(mo.first, mo.next_first) for mo in months)
    ]
    done = {
        sid: counts for sid, *counts in session.execute(
            select(User.staff_id, *per_month).join(User, User.id == Visit.visitor_id)
            .where(Visit.project_id == project_id, planned_visit(), Visit.visited_at >= start,
                   Visit.visited_at < end, User.staff_id.is_not(None))
            .group_by(User.staff_id)
        )
    }
    staff_ids = {s for s, *_ in plans} | set(done)
    names = dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids))).all())
    lines = []
    for sid in sorted(staff_ids, key=lambda s: (names.get(s, ""), s)):
        mine = [p for p in plans if p[0] == sid]
        this = next((p for p in mine if p[1] == m.text), None)
        visited = dict(zip((mo.text for mo in months), done.get(sid, [0] * len(months)), strict=True))
        planned_months = {p[1] for p in mine}
        # the rolling figure compares like with like: the households visited in the months that had a plan
        lines.append(StaffProgress(sid, names.get(sid, ""), this[2] if this else 0, visited[m.text],
                                   sum(p[2] for p in mine), sum(visited[mo] for mo in planned_months),
                                   this[3] if this else None))
    return PlanProgress(project_id, name, m.text, tuple(lines))


@dataclass(frozen=True)
class OpenIssue:
    visit_id: int
    visited_at: dt.datetime
    unit: str
    kind: VisitKind
    result: Satisfaction | None
    issues_raised: str


@dataclass(frozen=True)
class VisitYear:
    year: int
    kinds: tuple[VisitKind, ...]
    results: tuple[Satisfaction | None, ...]  # None: no result recorded
    counts: dict[tuple[VisitKind, Satisfaction | None], int]
    open_issues: tuple[OpenIssue, ...]

    def total(self, kind: VisitKind | None = None, result: Satisfaction | None | bool = False) -> int:
        return sum(n for (k, r), n in self.counts.items()
                   if (kind is None or k is kind) and (result is False or r is result))


def visit_year(session: Session, *, year: int, project_ids: Iterable[int] | None = None, actor: Actor) -> VisitYear:
    """年终分类统计: the year's visits by kind and result; the issues raised in visits that ended 不满意 or without
    a result are the unsolved ones, listed to be reported upward."""
    ids = sorted(visible_projects(session, project_ids, actor))
    start, end = _bounds(dt.date(year, 1, 1), dt.date(year + 1, 1, 1))
    in_year = (Visit.project_id.in_(ids), Visit.visited_at >= start, Visit.visited_at < end)
    counts = {(kind, result): n for kind, result, n in session.execute(
        select(Visit.kind, Visit.result, func.count()).where(*in_year).group_by(Visit.kind, Visit.result))}
    rows = session.execute(
        select(Visit.id, Visit.visited_at, Unit, Visit.kind, Visit.result, Visit.issues_raised)
        .outerjoin(Unit, Unit.id == Visit.unit_id).options(*display_loads(Unit))
        .where(*in_year, Visit.issues_raised != "",
               (Visit.result == Satisfaction.UNSATISFIED) | Visit.result.is_(None))
        .order_by(Visit.visited_at)
    ).all()
    issues = tuple(OpenIssue(vid, at, str(unit) if unit else "", kind, result, text)
                   for vid, at, unit, kind, result, text in rows)
    return VisitYear(year, tuple(VisitKind), (*Satisfaction, None), counts, issues)


# --- 签阅 ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignOff:
    signed: int
    already: int  # signed before (a second click): left as they were

    @property
    def message(self) -> str:
        return f"已签阅走访记录 {self.signed} 条" + (f"（{self.already} 条此前已签阅）" if self.already else "")


@as_actor
def sign_off_visits(session: Session, *, visit_ids: Iterable[int], comment: str = "", actor: Actor) -> SignOff:
    """主管/经理签阅: the chosen visit records are signed with who, when and the remark; one already signed keeps
    its first signature; nobody signs their own visit. Two signers at once: the unique visit id keeps one."""
    wanted = sorted({int(i) for i in visit_ids})
    if not wanted:
        raise Refused("请选择要签阅的走访记录")
    rows = session.execute(select(Visit.id, Visit.project_id, Visit.visitor_id).where(Visit.id.in_(wanted))).all()
    missing = sorted(set(wanted) - {r.id for r in rows})
    if missing:
        raise Refused(f"{Visit.__label__}不存在：{'、'.join(map(str, missing))}", missing)
    outside = sorted(r.id for r in rows if not actor.can_see(r.project_id))
    if outside:
        raise NotPermitted(f"无权签阅以下走访记录：{'、'.join(map(str, outside))}", outside)
    own = sorted(r.id for r in rows if actor.user_id is not None and r.visitor_id == actor.user_id)
    if own:
        raise Refused(f"不能签阅本人的走访记录：{'、'.join(map(str, own))}", own)
    done = set(session.scalars(select(VisitSignoff.visit_id).where(VisitSignoff.visit_id.in_(wanted))))
    now, comment = utcnow(), (comment or "").strip()
    new = [{"project_id": r.project_id, "visit_id": r.id, "signed_by_id": actor.user_id, "signed_at": now,
            "comment": comment} for r in rows if r.id not in done]
    ids = list(session.scalars(upsert_insert(session, VisitSignoff).values(new).on_conflict_do_nothing(
        index_elements=["visit_id"]).returning(VisitSignoff.id))) if new else []
    written = len(ids)
    if ids:
        record_bulk(session, kind=AuditKind.INSERT, table=VisitSignoff.__tablename__, summary="签阅走访记录",
                    ids=select(VisitSignoff.id, VisitSignoff.project_id).where(VisitSignoff.id.in_(ids)))
    log_operation(session, "sign_off_visits", project_id=rows[0].project_id if len({r.project_id for r in rows}) == 1
                  else None, params={"visit_ids": wanted}, counts={"signed": written, "already": len(wanted) - written})
    return SignOff(written, len(wanted) - written)


@dataclass(frozen=True)
class UnsignedVisit:
    visit_id: int
    visited_at: dt.datetime
    unit: str
    kind: VisitKind
    visitor: str
    result: Satisfaction | None
    notes: str
    issues_raised: str


@dataclass(frozen=True)
class Unsigned:
    total: int
    visits: tuple[UnsignedVisit, ...]  # the oldest first, one page


def unsigned_visits(session: Session, *, project_id: int, month: str, actor: Actor, limit: int = 50) -> Unsigned:
    """The month's 走访 records (定期、专项) of a project not yet signed — what the supervisor reads and signs."""
    m = parse_month(month)
    visible_projects(session, [project_id], actor)
    start, end = _bounds(m.first, m.next_first)
    where = (Visit.project_id == project_id, planned_visit(), Visit.visited_at >= start,
             Visit.visited_at < end, ~Visit.id.in_(select(VisitSignoff.visit_id).where(VisitSignoff.project_id ==
                                                                                      project_id)))
    total = session.scalar(select(func.count()).select_from(Visit).where(*where))
    rows = session.execute(
        select(Visit.id, Visit.visited_at, Unit, Visit.kind, User.display_name, Visit.result, Visit.notes,
               Visit.issues_raised)
        .outerjoin(Unit, Unit.id == Visit.unit_id).outerjoin(User, User.id == Visit.visitor_id)
        .options(*display_loads(Unit)).where(*where).order_by(Visit.visited_at, Visit.id).limit(limit)
    ).all()
    return Unsigned(total, tuple(UnsignedVisit(vid, at, str(unit) if unit else "", kind, name or "", result, notes,
                                               issues) for vid, at, unit, kind, name, result, notes, issues in rows))


@as_actor
def export_visit_year(session: Session, *, year: int, project_ids: Iterable[int] | None = None,
                      actor: Actor) -> XlsxFile:
    """年终分类统计 as .xlsx, to report upward: the year's visits by kind and result, and the unsolved issues; the
    export is logged."""
    stats = visit_year(session, year=year, project_ids=project_ids, actor=actor)
    names = visible_projects(session, project_ids, actor)
    title = f"{'、'.join(names[p] for p in sorted(names))} {year}年走访分类统计"
    results = [r.label if r else "未填结果" for r in stats.results]
    wb = new_workbook()
    write_sheet(wb, "分类统计", [label_of(Visit, "kind"), *results, "合计"], [
        *((k.label, *(stats.counts.get((k, r), 0) for r in stats.results), stats.total(k)) for k in stats.kinds),
        ("合计", *(stats.total(None, r) for r in stats.results), stats.total())])
    count = write_sheet(wb, "未解决问题", [label_of(Visit, a) for a in ("visited_at", "unit", "kind", "result",
                                                                       "issues_raised")],
                        ((i.visited_at, i.unit, i.kind, i.result, i.issues_raised) for i in stats.open_issues))
    params = {"year": year, "project_ids": sorted(names)}
    log_event(session, AuditKind.EXPORT, summary=f"导出{title}（未解决问题 {count} 条）", changes=params,
              table=Visit.__tablename__)
    log_operation(session, "export_visit_year", params=params, counts={"open_issues": count})
    return XlsxFile(f"{title}.xlsx", to_bytes(wb), count)
