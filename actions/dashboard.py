"""首页: the managers' home page, per the user's scope — the KPIs against their targets for this month and a
chosen month (``kpis``), open work orders by department with the overdue ones, today's intake, arrears and
their aging, the latest survey's satisfaction by department, and this month's score status.

Each widget is one function over a :class:`kpis.Scope` (the benchmark times them one by one); ``home_page``
puts them together. Every figure carries the :class:`kpis.Drill` of the records behind it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    BillTotal,
    Department,
    MonthStatus,
    RequestKind,
    ServiceRequest,
    Survey,
    SurveyResponse,
    WorkOrder,
    utcnow,
)

from . import billing, kpis, score_results, work_orders
from .actor import Actor
from .kernel.money import cents
from .kernel.periods import add_months, current_period, period_of
from .kpis import Drill, KpiFigures, ProjectRef, Scope, TopicFigure
from .parallel_reads import Runner, in_turn
from .surveys import RUN_STATUSES


# --- open work orders by department -------------------------------------------------------------------------
@dataclass(frozen=True)
class DepartmentOrders:
    department_id: int
    department: str
    open: int
    overdue: int
    drill_open: Drill
    drill_overdue: Drill


def open_orders(session: Session, *, scope: Scope, now: dt.datetime | None = None) -> tuple[DepartmentOrders, ...]:
    """已派工/处理中 orders per handling department, with how many are past a deadline (``work_orders``'s rule)."""
    ids = scope.project_ids
    if not ids:
        return ()
    overdue = work_orders.overdue_clause(now or utcnow())
    rows = session.execute(
        select(WorkOrder.department_id, Department.name, func.count(), func.count().filter(overdue))
        .join(Department, Department.id == WorkOrder.department_id)
        .where(WorkOrder.status.in_(work_orders.OPEN_STATUSES), WorkOrder.project_id.in_(ids))
        .group_by(WorkOrder.department_id, Department.name)
        .order_by(func.count().desc(), Department.name)
    ).all()
    return tuple(
        DepartmentOrders(d, name, n, late, Drill("orders_open", "", ids, str(d)), Drill("orders_overdue", "", ids, str(d)))
        for d, name, n, late in rows
    )


# --- today's intake ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KindCount:
    kind: RequestKind
    count: int
    drill: Drill


@dataclass(frozen=True)
class Intake:
    day: dt.date
    total: int
    by_kind: tuple[KindCount, ...]
    drill: Drill


def intake(session: Session, *, scope: Scope, day: dt.date) -> Intake:
    """客户诉求 received on ``day`` (Beijing time), by kind."""
    ids, period = scope.project_ids, day.isoformat()
    counts: dict[RequestKind, int] = {}
    if ids:
        counts = dict(session.execute(  # the very records its drill-down lists (withdrawn ones left out)
            select(ServiceRequest.kind, func.count())
            .where(Drill("requests_received", period, ids).where())
            .group_by(ServiceRequest.kind)
        ).all())
    by_kind = tuple(KindCount(k, counts[k], Drill("requests_received", period, ids, k.value))
                    for k in RequestKind if counts.get(k))
    return Intake(day, sum(counts.values()), by_kind, Drill("requests_received", period, ids))


# --- arrears ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrears:
    as_of: dt.date
    amounts: dict[str, Decimal]  # aging column ("current" … "m3plus") → amount owed
    total: Decimal
    drills: dict[str, Drill]  # aging column, or "total" → its overdue bills


def arrears(session: Session, *, scope: Scope, as_of: dt.date) -> Arrears:
    """欠费 on ``as_of`` and its aging, as ``billing.arrears`` totals them (the unpaid and part-paid bills past
    their due date, by 账期) — read from 账单汇总 (``BillTotal``: what those bills still owe per project, 账期 and
    due date, kept by the database), not from the bills; the arrears page the home page links to groups the
    bills per account."""
    ids, period = scope.project_ids, as_of.isoformat()
    buckets = list(billing.AGING_LABELS)
    owed = BillTotal.owed
    values = [0] * (len(buckets) + 1)
    if ids:
        values = session.execute(
            select(*(func.sum(case((kpis.aging_clause(as_of, b, BillTotal.period), owed), else_=0)) for b in buckets),
                   func.sum(owed))
            .where(BillTotal.due_date < as_of, BillTotal.project_id.in_(ids))
        ).one()
    drills = {bucket: Drill("bills_overdue", period, ids, bucket) for bucket in buckets}
    drills["total"] = Drill("bills_overdue", period, ids)
    return Arrears(as_of, {b: cents(v) for b, v in zip(buckets, values[:-1], strict=True)},
                   cents(values[-1]), drills)


# --- the latest survey --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LatestSurvey:
    """A project's latest survey: its forms' 总体满意度 — the figure 调查结果 shows under that name —, and the
    departments' answers, each and pooled (各部门合计: the 满意度 KPI of the survey's period)."""

    project: ProjectRef
    survey_id: int
    title: str
    period: str
    topics: tuple[TopicFigure, ...]
    pooled: kpis.Figure  # 各部门合计
    overall: kpis.Share  # 总体满意度

    def drill(self, set_key: str, topic: str = "") -> Drill:
        """``set_key``: scores_answered / scores_satisfied (``topic``: one department's) or forms_rated /
        forms_satisfied."""
        return Drill(set_key, self.period, (self.project.id,), topic)


def latest_periods(session: Session, *, scope: Scope) -> dict[int, tuple[int, str, str]]:
    """project → (survey id, title, 调查期间) of its latest survey that has been run and has answers."""
    ids = scope.project_ids
    if not ids:
        return {}
    answered = exists().where(SurveyResponse.survey_id == Survey.id)
    latest = (select(func.max(Survey.id)).where(Survey.project_id.in_(ids), Survey.status.in_(RUN_STATUSES), answered)
              .group_by(Survey.project_id))
    rows = session.execute(select(Survey.project_id, Survey.id, Survey.title, Survey.period).where(Survey.id.in_(latest)))
    return {p: (survey_id, title, period) for p, survey_id, title, period in rows}


def latest_surveys(session: Session, *, scope: Scope, surveys: kpis.SurveyCounts | None = None,
                   latest: dict[int, tuple[int, str, str]] | None = None) -> tuple[LatestSurvey, ...]:
    """Each project's latest survey that has answers, with its satisfaction by department (pooled with any other
    survey of the same 调查期间, as the satisfaction KPI is). ``latest`` and ``surveys`` (with the forms'
    总体满意度: ``kpis.overall_read``) may come read already."""
    latest = latest_periods(session, scope=scope) if latest is None else latest
    needed = {(p, period) for p, (_, _, period) in latest.items()}
    if surveys is None or not needed <= surveys.periods():
        surveys = kpis.survey_counts(session, project_ids=sorted(latest), periods={x for _, x in needed})
    out = []
    for project in scope.projects:
        if project.id not in latest:
            continue
        survey_id, title, period = latest[project.id]
        figures = surveys.topics(project.id, period)
        pooled = kpis.Figure(kpis.KPIS["satisfaction"], period, project.id, sum(t.satisfied for t in figures),
                             sum(t.answers for t in figures))
        out.append(LatestSurvey(project, survey_id, title, period, figures, pooled,
                                surveys.overall_score(project.id, period)))
    return tuple(out)


# --- this month's scores ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreStatus:
    project: ProjectRef
    month: str
    status: MonthStatus | None  # None: not computed yet
    staff: int
    computed_at: dt.datetime | None
    confirmed_at: dt.datetime | None

    @property
    def label(self) -> str:
        return self.status.label if self.status else "未计算"


def score_status(session: Session, *, scope: Scope, month: str) -> tuple[ScoreStatus, ...]:
    """月度考核 of ``month`` per project: 草稿 / 已确认 / 未计算 (``score_results.month_states``)."""
    if not scope.projects:
        return ()
    states = {t.project_id: t for t in score_results.month_states(session, month=month, project_ids=scope.project_ids,
                                                                 actor=scope.actor)}
    return tuple(ScoreStatus(p, month, t.status, t.staff, t.computed_at, t.confirmed_at)
                 for p in scope.projects for t in [states[p.id]])


# --- the page ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HomePage:
    today: dt.date
    current_month: str
    chosen_month: str
    scope: Scope
    choices: tuple[ProjectRef, ...]  # every project the user may see: the page's project/branch pickers
    kpis: KpiFigures  # current and chosen month
    orders: tuple[DepartmentOrders, ...]
    intake: Intake
    arrears: Arrears
    surveys: tuple[LatestSurvey, ...]
    scores: tuple[ScoreStatus, ...]

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.current_month, self.chosen_month)))


def home_page(session: Session, *, actor: Actor, month: str | None = None, project_id: int | None = None,
              branch_id: int | None = None, now: dt.datetime | None = None, run: Runner | None = None) -> HomePage:
    """The home page of ``actor``: all their projects, or one branch, or one project; ``month`` is the chosen
    month (default: last month) shown beside the current one. ``run`` may run the widgets' reads at once."""
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date()
    current = period_of(today)
    chosen = kpis.parse_month(month).text if month else add_months(current, -1)
    choices = kpis.resolve_scope(session, actor=actor).projects
    scope = kpis.resolve_scope(session, actor=actor, branch_id=branch_id,
                               project_ids=[project_id] if project_id is not None else None)
    latest = latest_periods(session, scope=scope)
    # The survey answers are read once, for the KPIs and the latest surveys alike.
    periods = {period for _, _, period in latest.values()}
    got = (run or in_turn(session))({
        **kpis.kpi_reads(scope, [current, chosen], periods),
        **kpis.overall_read(scope, periods),
        "orders": lambda s: open_orders(s, scope=scope, now=now),
        "intake": lambda s: intake(s, scope=scope, day=today),
        "arrears": lambda s: arrears(s, scope=scope, as_of=today),
        "scores": lambda s: score_status(s, scope=scope, month=current),
    })
    return HomePage(
        today=today,
        current_month=current,
        chosen_month=chosen,
        scope=scope,
        choices=choices,
        kpis=kpis.kpi_figures(session, scope=scope, months=[current, chosen], read=got),
        orders=got["orders"],
        intake=got["intake"],
        arrears=got["arrears"],
        surveys=latest_surveys(session, scope=scope, surveys=kpis.survey_counts_of(got), latest=latest),
        scores=got["scores"],
    )


def trends(session: Session, *, actor: Actor, month: str | None = None, project_id: int | None = None,
           branch_id: int | None = None, months: int = 12, run: Runner | None = None) -> KpiFigures:
    """The KPIs of the ``months`` months ending with ``month`` (default: this month): the trend charts."""
    last = kpis.parse_month(month).text if month else current_period()
    scope = kpis.resolve_scope(session, actor=actor, branch_id=branch_id,
                               project_ids=[project_id] if project_id is not None else None)
    return kpis.kpi_figures(session, scope=scope, months=kpis.last_months(last, months), run=run)

