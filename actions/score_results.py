"""员工考核 results: the ranked table of a project's month, an employee's breakdown (every event with its
source) and history, and the month's .xlsx — one sheet per project, then the breakdown."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from models import (
    AuditKind,
    EventSource,
    MonthlyScore,
    MonthStatus,
    Project,
    RuleCategory,
    ScoreEvent,
    ScoreMonth,
    ScoringRule,
    Staff,
    StaffPosition,
    User,
    label_of,
)

from .actor import Actor
from .audit import log_event, log_operation
from .errors import NotPermitted, Refused
from .kernel.periods import parse_month
from .kernel.scope import visible_projects
from .scores import ToJudge, in_month, to_judge
from .xlsx_out import new_workbook, sheet_title, to_bytes, write_sheet


@dataclass(frozen=True)
class ScoreLine:
    staff_id: int
    employee_no: str
    staff_name: str
    position: StaffPosition
    base_score: Decimal
    deductions: Decimal
    additions: Decimal
    total: Decimal
    rank: int
    grade: str
    event_count: int
    by_category: tuple[tuple[RuleCategory, Decimal], ...]


@dataclass(frozen=True)
class MonthTable:
    project_id: int
    project_name: str
    month: str
    status: MonthStatus | None  # None: never computed
    computed_at: dt.datetime | None
    confirmed_by: str
    confirmed_at: dt.datetime | None
    spot_check_note: str
    lines: tuple[ScoreLine, ...]
    # a draft month's complaint deductions still provisional: judged before it is confirmed
    to_judge: tuple[ToJudge, ...] = ()


def _line(score: MonthlyScore, staff: Staff) -> ScoreLine:
    cats = tuple((RuleCategory(k), Decimal(v)) for k, v in (score.by_category or {}).items())
    return ScoreLine(
        staff.id, staff.employee_no, staff.name, staff.position, score.base_score, score.deductions,
        score.additions, score.total, score.rank, score.grade, score.event_count,
        tuple(sorted(cats, key=lambda c: list(RuleCategory).index(c[0]))),
    )


def month_tables(
    session: Session, *, month: str, project_ids: Iterable[int] | None = None, actor: Actor
) -> list[MonthTable]:
    """The ranked table of each project for a month (two queries whatever the number of projects)."""
    m = parse_month(month)
    projects = visible_projects(session, project_ids, actor)
    ids = sorted(projects)
    confirmer = aliased(User)
    months = {
        sm.project_id: (sm, name)
        for sm, name in session.execute(
            select(ScoreMonth, confirmer.display_name)
            .outerjoin(confirmer, confirmer.id == ScoreMonth.confirmed_by_id)
            .where(ScoreMonth.month == m.text, ScoreMonth.project_id.in_(ids))
        )
    }
    lines: dict[int, list[ScoreLine]] = defaultdict(list)
    for score, staff in session.execute(
        select(MonthlyScore, Staff).join(Staff, Staff.id == MonthlyScore.staff_id)
        .where(MonthlyScore.month == m.text, MonthlyScore.project_id.in_(ids))
        .order_by(MonthlyScore.project_id, MonthlyScore.rank, Staff.employee_no)
    ):
        lines[score.project_id].append(_line(score, staff))
    drafts = [p for p, (sm, _) in months.items() if sm.status is MonthStatus.DRAFT and sm.computed_at is not None]
    waiting: dict[int, list[ToJudge]] = defaultdict(list)
    for j in to_judge(session, m, drafts) if drafts else ():
        waiting[j.project_id].append(j)
    tables = []
    for p in ids:
        sm, confirmed_by = months.get(p, (None, None))
        tables.append(MonthTable(
            p, projects[p], m.text, sm.status if sm else None, sm.computed_at if sm else None,
            confirmed_by or "", sm.confirmed_at if sm else None, sm.spot_check_note if sm else "",
            tuple(lines[p]), tuple(waiting[p]),
        ))
    return tables


@dataclass(frozen=True)
class MonthState:
    """Where a project's month stands, without its lines: the home page and the to-do list need no more."""

    project_id: int
    status: MonthStatus | None  # None: never computed
    staff: int  # employees scored
    computed_at: dt.datetime | None
    confirmed_at: dt.datetime | None


def month_states(
    session: Session, *, month: str, project_ids: Iterable[int] | None = None, actor: Actor
) -> list[MonthState]:
    """Each project's month as :func:`month_tables` gives it, but only its status and its number of lines (two
    index reads rather than every employee's score)."""
    m = parse_month(month)
    ids = sorted(visible_projects(session, project_ids, actor))
    months = {sm.project_id: sm for sm in session.scalars(
        select(ScoreMonth).where(ScoreMonth.month == m.text, ScoreMonth.project_id.in_(ids)))}
    staff = dict(session.execute(
        select(MonthlyScore.project_id, func.count())
        .where(MonthlyScore.month == m.text, MonthlyScore.project_id.in_(ids))
        .group_by(MonthlyScore.project_id)).all())
    return [MonthState(p, sm.status if sm else None, staff.get(p, 0), sm.computed_at if sm else None,
                       sm.confirmed_at if sm else None)
            for p in ids for sm in [months.get(p)]]


@dataclass(frozen=True)
class EventLine:
    event_id: int
    event_date: dt.date
    rule_code: str
    category: RuleCategory
    description: str
    points: Decimal
    source: EventSource
    source_id: int | None
    note: str
    recorded_by: str
    company_own: bool = False  # the rule's points are the company's own: the documents give none


@dataclass(frozen=True)
class Breakdown:
    staff_id: int
    staff_name: str
    employee_no: str
    project_id: int
    project_name: str
    month: str
    score: ScoreLine | None
    events: tuple[EventLine, ...]

    @property
    def events_total(self) -> Decimal:
        return sum((e.points for e in self.events), Decimal("0.0"))

    @property
    def stale(self) -> bool:
        """The stored total no longer matches the events (recorded after the last compute)."""
        if self.score is None:
            return bool(self.events)
        return self.score.total - self.score.base_score != self.events_total


def _visible_staff(session: Session, staff_id: int, actor: Actor) -> tuple[Staff, str]:
    row = session.execute(
        select(Staff, Project.name).join(Project, Project.id == Staff.project_id).where(Staff.id == staff_id)
    ).first()
    if row is None:
        raise Refused(f"员工不存在：{staff_id}", [staff_id])
    if not actor.can_see(row[0].project_id):
        raise NotPermitted(f"无权查看该员工的考核：{staff_id}", [staff_id])
    return row


def score_breakdown(session: Session, *, staff_id: int, month: str, actor: Actor) -> Breakdown:
    """The events that make an employee's month, each with its rule and source."""
    m = parse_month(month)
    staff, project_name = _visible_staff(session, staff_id, actor)
    score = session.scalar(select(MonthlyScore).where(MonthlyScore.staff_id == staff_id, MonthlyScore.month == m.text))
    events = session.execute(
        select(ScoreEvent, ScoringRule, User.display_name)
        .join(ScoringRule, ScoringRule.id == ScoreEvent.rule_id)
        .outerjoin(User, User.id == ScoreEvent.recorded_by_id)
        .where(ScoreEvent.staff_id == staff_id, ScoreEvent.event_date >= m.first, ScoreEvent.event_date < m.next_first)
        .order_by(ScoreEvent.event_date, ScoreEvent.id)
    ).all()
    return Breakdown(
        staff.id, staff.name, staff.employee_no, staff.project_id, project_name, m.text,
        _line(score, staff) if score else None,
        tuple(
            EventLine(e.id, e.event_date, r.code, r.category, r.description, e.points, e.source, e.source_id,
                      e.note, by or "", r.company_own)
            for e, r, by in events
        ),
    )


@dataclass(frozen=True)
class HistoryLine:
    month: str
    total: Decimal
    rank: int
    of: int  # employees ranked in the project that month
    grade: str
    status: MonthStatus | None


@dataclass(frozen=True)
class StaffHistory:
    staff_id: int
    staff_name: str
    employee_no: str
    project_name: str
    lines: tuple[HistoryLine, ...]


def staff_history(session: Session, *, staff_id: int, actor: Actor, months: int = 24) -> StaffHistory:
    """An employee's totals, ranks and grades over the last ``months`` months, newest first."""
    staff, project_name = _visible_staff(session, staff_id, actor)
    mine = aliased(MonthlyScore, name="mine")
    ranked = (
        select(func.count()).select_from(MonthlyScore)
        .where(MonthlyScore.project_id == mine.project_id, MonthlyScore.month == mine.month)
        .correlate(mine).scalar_subquery()
    )
    rows = session.execute(
        select(mine, ranked, ScoreMonth.status)
        .outerjoin(ScoreMonth, and_(ScoreMonth.project_id == mine.project_id, ScoreMonth.month == mine.month))
        .where(mine.staff_id == staff_id).order_by(mine.month.desc()).limit(months)
    ).all()
    return StaffHistory(
        staff.id, staff.name, staff.employee_no, project_name,
        tuple(HistoryLine(s.month, s.total, s.rank, of, s.grade, status) for s, of, status in rows),
    )


@dataclass(frozen=True)
class ScoresExport:
    filename: str
    content: bytes
    sheets: int
    rows: int


def export_scores(
    session: Session, *, month: str, project_ids: Iterable[int] | None = None, actor: Actor
) -> ScoresExport:
    """.xlsx of a month: one ranked sheet per project, then every event behind the totals (明细)."""
    tables = month_tables(session, month=month, project_ids=project_ids, actor=actor)
    ids = [t.project_id for t in tables]
    m = parse_month(month)
    wb = new_workbook()
    taken: set[str] = set()
    header = [label_of(MonthlyScore, a) for a in ("rank", "staff")] + [label_of(Staff, "employee_no"),
              label_of(Staff, "position")] + [label_of(MonthlyScore, a) for a in
              ("base_score", "deductions", "additions", "total", "grade", "event_count")]
    cats = list(RuleCategory)
    rows = 0
    for t in tables:
        rows += write_sheet(
            wb, sheet_title(t.project_name, taken), header + [c.label for c in cats],
            ([ln.rank, ln.staff_name, ln.employee_no, ln.position, ln.base_score, ln.deductions, ln.additions,
              ln.total, ln.grade, ln.event_count] + [dict(ln.by_category).get(c) for c in cats] for ln in t.lines),
        )
    events = session.execute(
        select(Project.name, Staff.employee_no, Staff.name, ScoreEvent.event_date, ScoringRule.code,
               ScoringRule.category, ScoringRule.description, ScoreEvent.points, ScoreEvent.source,
               ScoreEvent.source_id, ScoreEvent.note, User.display_name)
        .join(Staff, Staff.id == ScoreEvent.staff_id).join(Project, Project.id == ScoreEvent.project_id)
        .join(ScoringRule, ScoringRule.id == ScoreEvent.rule_id)
        .outerjoin(User, User.id == ScoreEvent.recorded_by_id)
        .where(*in_month(m, ids))
        .order_by(Project.name, Staff.employee_no, ScoreEvent.event_date, ScoreEvent.id)
    )
    rows += write_sheet(
        wb, sheet_title("明细", taken),
        [label_of(ScoreEvent, "project"), label_of(Staff, "employee_no"), label_of(Staff, "name"),
         label_of(ScoreEvent, "event_date"), label_of(ScoringRule, "code"), label_of(ScoringRule, "category"),
         label_of(ScoringRule, "description"), label_of(ScoreEvent, "points"), label_of(ScoreEvent, "source"),
         label_of(ScoreEvent, "source_id"), label_of(ScoreEvent, "note"), label_of(ScoreEvent, "recorded_by")],
        events,
    )
    content = to_bytes(wb)
    log_event(session, AuditKind.EXPORT, summary=f"导出 {m.text} 月度考核（{len(tables)} 个项目）",
              table="monthly_score", project_id=ids[0] if len(ids) == 1 else None)
    log_operation(session, "export_scores", project_id=ids[0] if len(ids) == 1 else None,
                  params={"month": m.text, "project_ids": ids}, counts={"sheets": len(tables) + 1, "rows": rows})
    return ScoresExport(f"月度考核_{m.text}.xlsx", content, len(tables) + 1, rows)


