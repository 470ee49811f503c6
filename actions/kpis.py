"""指标 (KPIs): the one catalogue the home page, the trends, the monthly report, its export, the month close and
the tests use — each KPI's name, target, formula, and the records behind its numerator and denominator.

Per project and calendar month (Asia/Shanghai):

- 收费率 = 实收 ÷ 应收 of the month's bills (账期 = the month, 已减免 left out), by amount; target ≥ 93 %
  (``billing.collection_rate``'s rate by amount, summed here without its per-household grouping).
- 全年收费率 = the same over the year to date (账期 January … the month); target ≥ 90 % (000 规划4:
  确保全年90%收费目标实现的基础上，每季每月的收费工作…).
- 投诉处理率 = complaints received in the month and closed before it ended ÷ complaints received (a withdrawn
  one, 已取消, counts in neither); ≥ 98 %.
- 处理及时率 = of those closed, the ones handled within their time limit ÷ closed: the work order done by its
  完成时限, or — answered without an order — closed within the SLA rule's 完成时限 from 受理
  (``complaints.handled_in_time``).
- 投诉有效率 = valid complaints ÷ complaints received.
- 回访率 = work orders closed in the month that had a callback ÷ work orders closed in the month; target 100 %.
  These four from ``complaints.complaint_statistics``.
- 调查率 = households whose form was collected ÷ households surveyed; target ≥ 95 %.
- 满意度 = answers 满意 or better (a score of at least 4/5 of the survey's full mark) ÷ answers, every
  department's answers pooled (各部门合计 — not the forms' own 总体满意度, which is shown beside it as such).
  A month's survey figures are those of the project's surveys whose 调查期间 covers the month — ``2026``,
  ``2026H2``, ``2026Q4`` or ``2026-11`` all cover November 2026 — that have been run (发放中, 已回收,
  已结束: ``surveys.RUN_STATUSES``; one 筹备中 has handed out nothing), and that had started by the month's end
  (开始日期, or the day the campaign was entered when it has none): a 2026H2 campaign begun in November counts
  toward November and December, never rewriting July–October. Computed here:
  ``survey_results.survey_results`` reads one survey, not many projects and months at once.

A zero denominator has no rate: it is shown "—", never 0 % and never an error. A rate is shown rounded half-up
to one decimal (``rates``); 达标 compares the exact ratio.

Every figure is a count (or a sum) over a *record set*; a :class:`Drill` names one — the set, the month (or
day), the projects, an optional narrowing argument — as a short code the console's lists filter by, so the
list behind a figure is selected by the very WHERE clause the figure is defined by.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from models import (
    SHANGHAI,
    Bill,
    BillStatus,
    BillTotal,
    Branch,
    Building,
    ComplaintValidity,
    Department,
    LabeledEnum,
    Phase,
    Project,
    RequestCategory,
    RequestKind,
    Satisfaction,
    ServiceRequest,
    Staff,
    Survey,
    SurveyAnswerTally,
    SurveyHousehold,
    SurveyHouseholdTally,
    SurveyResponse,
    SurveyScore,
    SurveyTopic,
    Unit,
    User,
    Visit,
    VisitKind,
    WorkOrder,
    label_of,
    user_project,
    utcnow,
)

from . import billing, complaints, queues, survey_results, work_orders
from .actor import Actor
from .errors import NotPermitted, Refused
from .kernel.money import cents
from .kernel.periods import add_months, local_day_bounds, parse_month, period_of
from .parallel_reads import Runner, Task, in_turn
from .rates import percent, percent_text
from .surveys import RUN_STATUSES

NO_RESULT = "未填结果"  # a visit without a 回访结果


# --- record sets and drill-down codes ------------------------------------------------------------------------
@dataclass(frozen=True)
class Drill:
    """The records behind one figure: ``set_key`` of :data:`RECORD_SETS`, the month (``YYYY-MM``) or day
    (``YYYY-MM-DD``) — for survey sets also a 调查期间 such as ``2026H1`` —, the projects, and an optional
    argument that narrows the set (a department, a kind, a survey topic …)."""

    set_key: str
    period: str
    project_ids: tuple[int, ...]
    arg: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "project_ids", tuple(sorted(set(self.project_ids))))  # one code per set

    @property
    def code(self) -> str:
        return ":".join((self.set_key, self.period, ",".join(map(str, self.project_ids)), self.arg))

    @classmethod
    def parse(cls, code: str) -> Drill:
        parts = (code or "").split(":", 3)
        if len(parts) != 4 or parts[0] not in RECORD_SETS or not re.fullmatch(r"\d+(,\d+)*", parts[2]):
            raise Refused(f"无效的指标明细参数：{code}")
        return cls(parts[0], parts[1], tuple(int(p) for p in parts[2].split(",")), parts[3])

    @property
    def records(self) -> RecordSet:
        return RECORD_SETS[self.set_key]

    def where(self) -> ColumnElement[bool]:
        """The WHERE clause on ``records.model`` selecting exactly the records this figure counts."""
        return self.records.where(self)


@dataclass(frozen=True)
class RecordSet:
    key: str
    label: str
    model: type
    where: Callable[[Drill], ColumnElement[bool]]


def _day_or_month(period: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a month ``YYYY-MM`` or a day ``YYYY-MM-DD`` in Asia/Shanghai."""
    if len(period) == 10:
        try:
            day = dt.date.fromisoformat(period)
        except ValueError:
            raise Refused(f"日期格式应为 YYYY-MM-DD：{period}") from None
        return local_day_bounds(day)
    m = parse_month(period)
    return m.start, m.end


def survey_periods(period: str) -> tuple[str, ...]:
    """The 调查期间 values that cover a month (``2026-11`` → 2026, 2026H2, 2026Q4, 2026-11); any other text
    is one 调查期间 itself."""
    if not re.fullmatch(r"\d{4}-\d{2}", period):
        return (period,)
    m = parse_month(period)
    year, month = m.first.year, m.first.month
    return (f"{year}", f"{year}H{1 if month <= 6 else 2}", f"{year}Q{(month - 1) // 3 + 1}", m.text)


def run_surveys(project_ids: Iterable[int], periods: Iterable[str]) -> ColumnElement[bool]:
    """The surveys the figures count: the projects', of these 调查期间, and run (not 筹备中)."""
    return and_(Survey.project_id.in_(sorted(set(project_ids))), Survey.period.in_(sorted(set(periods))),
                Survey.status.in_(RUN_STATUSES))


def started_by(month: str) -> ColumnElement[bool]:
    """The survey had started by the end of ``month``: its 开始日期, or without one the day it was entered."""
    m = parse_month(month)
    return or_(Survey.start_date < m.next_first, and_(Survey.start_date.is_(None), Survey.created_at < m.end))


def start_month(start_date: dt.date | None, created_at: dt.datetime) -> str:
    """The month a survey started in, as :func:`started_by` reads it."""
    return period_of(start_date or created_at.astimezone(SHANGHAI).date())


def _surveys(d: Drill):
    found = select(Survey.id).where(run_surveys(d.project_ids, survey_periods(d.period)))
    # a month's figure counts the campaigns started by then; a 调查期间's (the survey table) all of its own
    return found.where(started_by(d.period)) if re.fullmatch(r"\d{4}-\d{2}", d.period) else found


def _named(column: Any, key: str) -> Any:
    """The member of ``column``'s enum that a drill code's argument names by its key; any other text is refused,
    so the list selects nothing (bound as it was, the driver failed on it: HTTP 500)."""
    try:
        return column.type.enum_class(key)
    except ValueError:
        raise Refused(f"无效的指标明细参数：{key}") from None


def _complaints_received(d: Drill) -> ColumnElement[bool]:
    start, end = _day_or_month(d.period)
    SR = ServiceRequest
    clause = and_(SR.kind == RequestKind.COMPLAINT, SR.received_at >= start, SR.received_at < end,
                  SR.project_id.in_(d.project_ids), complaints.not_withdrawn())
    return and_(clause, SR.category == _named(SR.category, d.arg)) if d.arg else clause


def _complaints_closed(d: Drill) -> ColumnElement[bool]:
    # 保证将投诉消化在当月: closed before the month of receipt ended.
    _, end = _day_or_month(d.period)
    SR = ServiceRequest
    return and_(_complaints_received(d), SR.closed_at.is_not(None), SR.closed_at < end)


def _complaints_closed_in_time(d: Drill) -> ColumnElement[bool]:
    return and_(_complaints_closed(d), complaints.handled_in_time())


def _complaints_valid(d: Drill) -> ColumnElement[bool]:
    return and_(_complaints_received(d), ServiceRequest.complaint_validity == ComplaintValidity.VALID)


def _complaints_major(d: Drill) -> ColumnElement[bool]:
    return and_(_complaints_received(d), ServiceRequest.complaint_major.is_(True))


def every_kind(column: Any) -> ColumnElement[bool]:
    """``column IN (every member of its enum)``, true of every row (the column is NOT NULL and holds members
    only): it lets an index (project, kind, time) read each kind's rows of the month, instead of the project's
    every entry — SQLite does not skip over the kind by itself (a branch's month of requests: 0.35 s → 1 ms)."""
    return column.in_(list(column.type.enum_class))


def _requests_received(d: Drill) -> ColumnElement[bool]:
    start, end = _day_or_month(d.period)
    SR = ServiceRequest
    # a withdrawn request (已取消) is left out, as 投诉统计 leaves out a withdrawn complaint: the report's 投诉 by
    # kind is its 受理投诉
    clause = and_(SR.received_at >= start, SR.received_at < end, SR.project_id.in_(d.project_ids),
                  complaints.not_withdrawn())
    return and_(clause, SR.kind == _named(SR.kind, d.arg) if d.arg else every_kind(SR.kind))


def _orders_closed(d: Drill) -> ColumnElement[bool]:
    start, end = _day_or_month(d.period)
    return and_(WorkOrder.closed_at >= start, WorkOrder.closed_at < end, WorkOrder.project_id.in_(d.project_ids))


def _orders_called_back(d: Drill) -> ColumnElement[bool]:
    """Closed in the month and called back: a callback visit the database counts on the order
    (``WorkOrder.callbacks``), as 投诉统计 counts them."""
    return and_(_orders_closed(d), WorkOrder.callbacks > 0)


def _orders_open(d: Drill) -> ColumnElement[bool]:
    clause = and_(WorkOrder.status.in_(work_orders.OPEN_STATUSES), WorkOrder.project_id.in_(d.project_ids))
    return and_(clause, WorkOrder.department_id == int(d.arg)) if d.arg.isdigit() else clause


def _orders_overdue(d: Drill) -> ColumnElement[bool]:
    return and_(_orders_open(d), work_orders.overdue_clause(utcnow()))


def _visits(d: Drill) -> ColumnElement[bool]:
    """Visits of the month; ``arg`` is a 类型 and optionally ``/`` a 回访结果 (``repair/unsatisfied``, ``none``
    for visits without one)."""
    start, end = _day_or_month(d.period)
    clause = and_(Visit.visited_at >= start, Visit.visited_at < end, Visit.project_id.in_(d.project_ids))
    kind, _, result = d.arg.partition("/")
    clause = and_(clause, Visit.kind == _named(Visit.kind, kind) if kind else every_kind(Visit.kind))
    if result:
        clause = and_(clause, Visit.result.is_(None) if result == "none" else Visit.result == _named(Visit.result, result))
    return clause


def _in_phase(arg: str) -> ColumnElement[bool]:
    """``arg``: a phase id, ``none`` for units of a building without a phase, empty for any."""
    if not arg:
        return true()
    phase = Building.phase_id.is_(None) if arg == "none" else Building.phase_id == int(arg) if arg.isdigit() else false()
    return Bill.unit_id.in_(select(Unit.id).join(Building, Building.id == Unit.building_id).where(phase))


def _bills_of(months: Sequence[str], project_ids: Sequence[int]) -> ColumnElement[bool]:
    """The bills 收费率 counts: the months' (账期), not waived."""
    return and_(Bill.period.in_(months), Bill.status != BillStatus.WAIVED, Bill.project_id.in_(project_ids))


def _bills_due(d: Drill) -> ColumnElement[bool]:
    return and_(_bills_of([parse_month(d.period).text], d.project_ids), _in_phase(d.arg))


def _bills_paid(d: Drill) -> ColumnElement[bool]:
    return and_(_bills_due(d), Bill.amount_paid > 0)


def year_to_date(month: str) -> tuple[str, ...]:
    """January … ``month`` of its year: the 账期 全年收费率 counts."""
    m = parse_month(month)
    return tuple(f"{m.first.year:04d}-{k:02d}" for k in range(1, m.first.month + 1))


def _bills_due_ytd(d: Drill) -> ColumnElement[bool]:
    return _bills_of(year_to_date(d.period), d.project_ids)


def _bills_paid_ytd(d: Drill) -> ColumnElement[bool]:
    return and_(_bills_due_ytd(d), Bill.amount_paid > 0)


def aging_clause(as_of: dt.date, bucket: str, period: Any = Bill.period) -> ColumnElement[bool]:
    """The bills of one aging column of ``billing.arrears`` (当月 / 1个月 / 2个月 / 3个月及以上), by 账期
    (``period``: the bill's, or 账单汇总's)."""
    p0 = period_of(as_of)
    p1, p2 = add_months(p0, -1), add_months(p0, -2)
    return {"current": period >= p0, "m1": period == p1, "m2": period == p2,
            "m3plus": period < p2}.get(bucket, true())


def _bills_overdue(d: Drill) -> ColumnElement[bool]:
    try:
        as_of = dt.date.fromisoformat(d.period)
    except ValueError:
        raise Refused(f"日期格式应为 YYYY-MM-DD：{d.period}") from None
    return and_(billing.overdue(as_of), Bill.project_id.in_(d.project_ids), aging_clause(as_of, d.arg))


def _households_surveyed(d: Drill) -> ColumnElement[bool]:
    return SurveyHousehold.survey_id.in_(_surveys(d))


def _households_collected(d: Drill) -> ColumnElement[bool]:
    return and_(_households_surveyed(d), SurveyHousehold.collected.is_(True))


def _scores_answered(d: Drill) -> ColumnElement[bool]:
    forms = select(SurveyResponse.id).where(SurveyResponse.survey_id.in_(_surveys(d)))
    clause = SurveyScore.response_id.in_(forms)
    return and_(clause, SurveyScore.topic == _named(SurveyScore.topic, d.arg)) if d.arg else clause


def satisfied(score: Any, scale_max: Any) -> ColumnElement[bool]:
    """满意 or better: score ≥ 4/5 of the full mark — ``survey_results.satisfied_from`` as SQL (for whole
    scores, score ≥ ⌈scale × 4/5⌉ ⇔ 5 × score ≥ 4 × scale)."""
    return score * 5 >= scale_max * 4


def _forms_rated(d: Drill) -> ColumnElement[bool]:
    """The forms that give a 总体满意度 (the form's own overall score)."""
    return and_(SurveyResponse.survey_id.in_(_surveys(d)), SurveyResponse.overall_score.is_not(None))


def _forms_satisfied(d: Drill) -> ColumnElement[bool]:
    scale = select(Survey.scale_max).where(Survey.id == SurveyResponse.survey_id).scalar_subquery()
    return and_(_forms_rated(d), satisfied(SurveyResponse.overall_score, scale))


def _scores_satisfied(d: Drill) -> ColumnElement[bool]:
    score, form = aliased(SurveyScore), aliased(SurveyResponse)
    ok = (
        select(score.id)
        .join(form, form.id == score.response_id)
        .join(Survey, Survey.id == form.survey_id)
        .where(Survey.id.in_(_surveys(d)), satisfied(score.score, Survey.scale_max))
    )
    return and_(_scores_answered(d), SurveyScore.id.in_(ok))


_SETS = (
    RecordSet("complaints_received", complaints.LABELS["received"], ServiceRequest, _complaints_received),
    RecordSet("complaints_closed", complaints.LABELS["closed"], ServiceRequest, _complaints_closed),
    RecordSet("complaints_closed_in_time", complaints.LABELS["closed_in_time"], ServiceRequest,
              _complaints_closed_in_time),
    RecordSet("complaints_valid", complaints.LABELS["valid"], ServiceRequest, _complaints_valid),
    RecordSet("complaints_major", complaints.LABELS["major"], ServiceRequest, _complaints_major),
    RecordSet("requests_received", f"受理的{ServiceRequest.__label__}", ServiceRequest, _requests_received),
    RecordSet("orders_closed", complaints.LABELS["orders_closed"], WorkOrder, _orders_closed),
    RecordSet("orders_called_back", complaints.LABELS["orders_called_back"], WorkOrder, _orders_called_back),
    RecordSet("orders_open", "未完成工单", WorkOrder, _orders_open),
    RecordSet("orders_overdue", "超时工单", WorkOrder, _orders_overdue),
    RecordSet("visits", Visit.__label__, Visit, _visits),
    RecordSet("bills_due", f"应收{Bill.__label__}", Bill, _bills_due),
    RecordSet("bills_paid", f"已收款{Bill.__label__}", Bill, _bills_paid),
    RecordSet("bills_due_ytd", f"本年应收{Bill.__label__}", Bill, _bills_due_ytd),
    RecordSet("bills_paid_ytd", f"本年已收款{Bill.__label__}", Bill, _bills_paid_ytd),
    RecordSet("bills_overdue", f"欠费{Bill.__label__}", Bill, _bills_overdue),
    RecordSet("households_surveyed", SurveyHousehold.__label__, SurveyHousehold, _households_surveyed),
    RecordSet("households_collected", f"{label_of(SurveyHousehold, 'collected')}问卷", SurveyHousehold,
              _households_collected),
    RecordSet("scores_answered", "答题数", SurveyScore, _scores_answered),
    RecordSet("scores_satisfied", "满意及以上", SurveyScore, _scores_satisfied),
    RecordSet("forms_rated", f"填写{label_of(SurveyResponse, 'overall_score')}的{SurveyResponse.__label__}",
              SurveyResponse, _forms_rated),
    RecordSet("forms_satisfied", f"{label_of(SurveyResponse, 'overall_score')}满意及以上的{SurveyResponse.__label__}",
              SurveyResponse, _forms_satisfied),
    *(RecordSet(key, label, model, where) for key, (label, model, where) in queues.QUEUES.items()),
)
RECORD_SETS: Mapping[str, RecordSet] = {s.key: s for s in _SETS}


# --- a drill code in words ---------------------------------------------------------------------------------------
def _member(enum: type[LabeledEnum], value: str) -> str:
    member = enum.from_label(value)
    return member.label if member else value


def _visit_arg(session: Session, arg: str, actor: Actor) -> str:
    kind, _, result = arg.partition("/")
    words = [_member(VisitKind, kind)] if kind else []
    if result:
        words.append(NO_RESULT if result == "none" else _member(Satisfaction, result))
    return "·".join(words)


def _department_arg(session: Session, arg: str, actor: Actor) -> str:
    # a shared department (no project) or one of the actor's projects'; a number for any other
    name = session.scalar(select(Department.name).where(
        Department.id == int(arg), or_(Department.project_id.is_(None), actor.project_filter(Department.project_id))
    )) if arg.isdigit() else None
    return name or f"部门 #{arg}"


def _user_arg(session: Session, arg: str, actor: Actor) -> str:
    # the actor, or an account of one of the actor's projects; a number for any other
    mine = or_(User.id == actor.user_id,
               User.id.in_(select(user_project.c.user_id).where(actor.project_filter(user_project.c.project_id))))
    name = session.scalar(select(func.coalesce(func.nullif(User.display_name, ""), User.username))
                          .where(User.id == int(arg), mine)) if _an_id(arg) else None
    return name or f"用户 #{arg}"


def _staff_arg(session: Session, arg: str, actor: Actor) -> str:
    # a member of staff of one of the actor's projects; a number for any other
    name = session.scalar(select(Staff.name).where(Staff.id == int(arg), actor.project_filter(Staff.project_id))
                          ) if _an_id(arg) else None
    return name or f"员工 #{arg}"


def _an_id(arg: str) -> bool:
    return arg.isdigit() and len(arg) <= 9


def _phase_arg(session: Session, arg: str, actor: Actor) -> str:
    if arg == "none":
        return "未分期"
    name = session.scalar(select(Phase.name).where(Phase.id == int(arg), actor.project_filter(Phase.project_id))
                          ) if arg.isdigit() else None
    return name or f"分期 #{arg}"


_ARG_NAMES: Mapping[str, Callable[[Session, str, Actor], str]] = {
    **{key: lambda session, arg, actor: _member(RequestCategory, arg)
       for key in ("complaints_received", "complaints_closed", "complaints_closed_in_time", "complaints_valid",
                   "complaints_major")},
    "requests_received": lambda session, arg, actor: _member(RequestKind, arg),
    "orders_open": _department_arg,
    "orders_overdue": _department_arg,
    "orders_to_accept": _department_arg,
    "orders_in_hand": _department_arg,
    "visits": _visit_arg,
    "bills_due": _phase_arg,
    "bills_paid": _phase_arg,
    "bills_overdue": lambda session, arg, actor: billing.AGING_LABELS.get(arg, arg),
    "scores_answered": lambda session, arg, actor: _member(SurveyTopic, arg),
    "scores_satisfied": lambda session, arg, actor: _member(SurveyTopic, arg),
    "first_asked": _user_arg,
    "arrears_to_chase": _staff_arg,
}


def describe(session: Session, drill: Drill, *, actor: Actor) -> str:
    """The records a drill code opens, in words — labels, not keys: 「2025-09 受理投诉（水电） · 甲项目、乙项目」,
    「超时工单（工程部） · 甲项目」. Projects, departments and phases the actor may not see are named by number."""
    names = dict(session.execute(
        select(Project.id, Project.name).where(Project.id.in_(drill.project_ids), actor.project_filter(Project.id))
    ).all())
    projects = "、".join(names.get(p, f"项目 #{p}") for p in drill.project_ids)
    arg = _ARG_NAMES.get(drill.set_key, lambda session, arg, actor: arg)(session, drill.arg, actor) if drill.arg else ""
    period = f"截至 {drill.period}" if drill.set_key == "bills_overdue" else drill.period
    what = drill.records.label + (f"（{arg}）" if arg else "")
    return " ".join(p for p in (period, what) if p) + f" · {projects}"


# --- the catalogue ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    target: Decimal | None  # percent the rate must reach; None: a statistic without a target
    numerator: str  # record-set keys
    denominator: str
    formula: str
    money: bool = False  # numerator and denominator are amounts (元) summed over the records, not counts

    @property
    def numerator_label(self) -> str:
        return RECORD_SETS[self.numerator].label

    @property
    def denominator_label(self) -> str:
        return RECORD_SETS[self.denominator].label

    @property
    def target_text(self) -> str:
        return "—" if self.target is None else f"≥ {self.target.normalize():f}%"


CATALOGUE: tuple[Kpi, ...] = (
    Kpi("collection_rate", "收费率", billing.MONTHLY_TARGET, "bills_paid", "bills_due",
        "当月账单实收金额 ÷ 应收金额（不含已减免账单）", money=True),
    Kpi("yearly_collection_rate", "全年收费率", billing.YEARLY_TARGET, "bills_paid_ytd", "bills_due_ytd",
        "本年 1 月至当月账单实收金额 ÷ 应收金额（不含已减免账单）", money=True),
    Kpi("handling_rate", complaints.LABELS["handling_rate"], complaints.TARGETS["handling_rate"],
        "complaints_closed", "complaints_received", "当月受理的投诉中当月办结的件数 ÷ 当月受理投诉件数"),
    Kpi("timeliness_rate", complaints.LABELS["timeliness_rate"], None, "complaints_closed_in_time",
        "complaints_closed", "当月办结投诉中派工单在完成时限内完工的件数 ÷ 当月办结件数"),
    Kpi("validity_rate", complaints.LABELS["validity_rate"], None, "complaints_valid", "complaints_received",
        "有效投诉件数 ÷ 当月受理投诉件数（待判定的投诉计入受理、不计为有效）"),
    Kpi("survey_rate", "调查率", survey_results.COVERAGE_TARGET * 100, "households_collected",
        "households_surveyed", "调查期间覆盖当月的满意度调查：已回收问卷户数 ÷ 被调查户数"),
    Kpi("satisfaction", "满意度", None, "scores_satisfied", "scores_answered",
        "调查期间覆盖当月的满意度调查：各部门评分中满意及以上（满分的 4/5 及以上）的答题数 ÷ 答题数"),
    Kpi("callback_rate", complaints.LABELS["callback_rate"], complaints.TARGETS["callback_rate"],
        "orders_called_back", "orders_closed", "当月关闭的派工单中有回访记录的单数 ÷ 当月关闭的派工单数"),
)
KPIS: Mapping[str, Kpi] = {k.key: k for k in CATALOGUE}


@dataclass(frozen=True)
class Figure:
    """One KPI of one project (``project_id`` None: all projects shown, pooled) and month."""

    kpi: Kpi
    month: str
    project_id: int | None
    numerator: Decimal | int
    denominator: Decimal | int

    @property
    def rate(self) -> Decimal | None:
        """Percent as shown — in tables and charts alike —, rounded half-up to one decimal (``rates.percent``);
        None without a denominator."""
        return percent(self.numerator, self.denominator)

    @property
    def meets(self) -> bool | None:
        """达标 (compared exactly, not after rounding); None without a target or without a denominator."""
        if self.kpi.target is None or not self.denominator:
            return None
        return Decimal(self.numerator) * 100 >= self.kpi.target * Decimal(self.denominator)

    @property
    def shown(self) -> str:
        """``95.2%``; ``—`` without a denominator."""
        return percent_text(self.numerator, self.denominator)

    def drill(self, part: str, project_ids: Sequence[int]) -> Drill:
        """``part``: "numerator" or "denominator"."""
        return Drill(getattr(self.kpi, part), self.month, tuple(project_ids))


# --- scope ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectRef:
    id: int
    name: str
    branch_id: int
    branch: str


@dataclass(frozen=True)
class Scope:
    """The projects a page shows: the actor's, narrowed to a branch or to chosen projects. ``actor`` is the
    caller narrowed to them, so the other modules' functions, scoped by the actor, see the same projects."""

    actor: Actor
    projects: tuple[ProjectRef, ...]

    @property
    def project_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.projects)


def resolve_scope(session: Session, *, actor: Actor, project_ids: Iterable[int] | None = None,
                  branch_id: int | None = None) -> Scope:
    """The actor's projects (all of them, those of ``branch_id``, or ``project_ids``); refuses projects the
    actor may not see or that do not exist."""
    stmt = (
        select(Project.id, Project.name, Project.branch_id, Branch.name)
        .join(Branch, Branch.id == Project.branch_id)
        .where(actor.project_filter(Project.id))
        .order_by(Branch.name, Project.name)
    )
    if branch_id is not None:
        stmt = stmt.where(Project.branch_id == branch_id)
    if project_ids is not None:
        wanted = sorted({int(p) for p in project_ids})
        outside = actor.outside(wanted)
        if outside:
            raise NotPermitted(f"无权查看所选项目（编号 {'、'.join(map(str, outside))}）的指标", outside)
        stmt = stmt.where(Project.id.in_(wanted))
    projects = tuple(ProjectRef(*row) for row in session.execute(stmt))
    if project_ids is not None:
        missing = sorted(set(wanted) - {p.id for p in projects})
        if missing:
            raise Refused(f"项目不存在或不属于所选分公司：{'、'.join(map(str, missing))}", missing)
    narrowed = dataclasses.replace(actor, project_ids=frozenset(p.id for p in projects))
    return Scope(narrowed, projects)


# --- figures ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KpiFigures:
    months: tuple[str, ...]
    projects: tuple[ProjectRef, ...]
    figures: Mapping[tuple[str, int | None, str], Figure]  # (kpi key, project id or None for all, month)

    def get(self, kpi: str, project_id: int | None, month: str) -> Figure:
        return self.figures[(kpi, project_id, month)]

    @property
    def project_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.projects)


def distinct_months(months: Iterable[str]) -> tuple[str, ...]:
    """The months asked for, checked, each once, in order."""
    return tuple(sorted({parse_month(m).text for m in months}))


@dataclass(frozen=True)
class Share:
    """满意及以上 of some answers: a department's, or the forms' own 总体满意度."""

    satisfied: int
    answers: int

    @property
    def rate(self) -> Decimal | None:
        return percent(self.satisfied, self.answers)

    @property
    def shown(self) -> str:
        return percent_text(self.satisfied, self.answers)


@dataclass(frozen=True)
class TopicFigure(Share):
    """满意度 of one department (survey topic)."""

    topic: SurveyTopic


Pair = tuple[int, int]


def _summed(pairs: Iterable[tuple[tuple, Pair]], month: str | None) -> dict[tuple, Pair]:
    """Pairs keyed (project, 调查期间, start month, *rest) → keyed (project, 调查期间, *rest), summed over the
    surveys started by ``month`` (all, without one)."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for (project_id, period, since, *rest), (ok, n) in pairs:
        if month is None or since <= month:
            _add(out[(project_id, period, *rest)], (ok, n))
    return {key: (ok, n) for key, (ok, n) in out.items()}


@dataclass(frozen=True)
class SurveyCounts:
    """Per (project, 调查期间, the month the survey started): households (collected, surveyed), per department
    the answers (satisfied, answered), and — when read — the forms' 总体满意度 (satisfied, answered); each pair
    numerator first. One pass over the answers serves the KPIs and the by-department figures alike. The views
    by (project, 调查期间) take every survey, or with ``month`` those started by then."""

    started_households: Mapping[tuple[int, str, str], Pair]
    started_answers: Mapping[tuple[int, str, str, SurveyTopic], Pair]
    started_overall: Mapping[tuple[int, str, str], Pair] = dataclasses.field(default_factory=dict)

    def households_by(self, month: str | None = None) -> dict[tuple[int, str], Pair]:
        return _summed(self.started_households.items(), month)

    def answers_by(self, month: str | None = None) -> dict[tuple[int, str, SurveyTopic], Pair]:
        return _summed(self.started_answers.items(), month)

    @property
    def households(self) -> dict[tuple[int, str], Pair]:
        return self.households_by()

    @property
    def answers(self) -> dict[tuple[int, str, SurveyTopic], Pair]:
        return self.answers_by()

    @property
    def overall(self) -> dict[tuple[int, str], Pair]:
        return _summed(self.started_overall.items(), None)

    def topics(self, project_id: int, period: str, month: str | None = None) -> tuple[TopicFigure, ...]:
        answers = self.answers_by(month)
        return tuple(TopicFigure(*answers[(project_id, period, t)], topic=t)
                     for t in SurveyTopic if (project_id, period, t) in answers)

    def overall_score(self, project_id: int, period: str, month: str | None = None) -> Share:
        return Share(*_summed(self.started_overall.items(), month).get((project_id, period), (0, 0)))

    def periods(self) -> set[tuple[int, str]]:
        return {(p, period) for p, period, *_ in (*self.started_households, *self.started_answers)}


def _survey_scales(session: Session, project_ids: Sequence[int], periods: Iterable[str]
                   ) -> dict[int, tuple[int, str, str, int]]:
    """survey id → (project, 调查期间, start month, full mark) of the surveys counted."""
    return {sid: (p, period, start_month(start, created), scale or 5)
            for sid, p, period, start, created, scale in session.execute(
                select(Survey.id, Survey.project_id, Survey.period, Survey.start_date, Survey.created_at,
                       Survey.scale_max).where(run_surveys(project_ids, periods)))}


def survey_households(session: Session, *, project_ids: Sequence[int], periods: Iterable[str]
                      ) -> dict[tuple[int, str, str], Pair]:
    """(collected, surveyed) households per (project, 调查期间, start month), from 调查户数汇总 (kept by the database
    with every write to a surveyed household: ``models.totals``)."""
    surveys = _survey_scales(session, project_ids, periods)
    if not surveys:
        return {}
    out: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for sid, collected, n in session.execute(
        select(SurveyHouseholdTally.survey_id, SurveyHouseholdTally.collected, SurveyHouseholdTally.households)
        .where(SurveyHouseholdTally.survey_id.in_(surveys))
    ):
        _add(out[surveys[sid][:3]], (n if collected else 0, n))
    return {key: (ok, n) for key, (ok, n) in out.items()}


def _answer_tally(session: Session, surveys: Mapping[int, Any], overall: bool) -> Any:
    """(survey, question, score, forms) of 答卷汇总 (kept by the database with every write to a form:
    ``models.totals``): the departments' answers, or 总体满意度's — a few rows per survey, not its forms."""
    question, named = SurveyAnswerTally.question, SurveyAnswerTally.OVERALL
    return session.execute(
        select(SurveyAnswerTally.survey_id, question, SurveyAnswerTally.score, SurveyAnswerTally.forms)
        .where(SurveyAnswerTally.survey_id.in_(surveys), (question == named) if overall else (question != named))
    )


def survey_answers(session: Session, *, project_ids: Sequence[int], periods: Iterable[str]
                   ) -> dict[tuple[int, str, str, SurveyTopic], Pair]:
    """(satisfied, answered) per (project, 调查期间, start month, department), each department's answers held
    against its survey's full mark."""
    surveys = _survey_scales(session, project_ids, periods)
    if not surveys:
        return {}
    return _tally(surveys, ((sid, SurveyTopic(question), score, n)
                            for sid, question, score, n in _answer_tally(session, surveys, overall=False)))


def survey_overall(session: Session, *, project_ids: Sequence[int], periods: Iterable[str]
                   ) -> dict[tuple[int, str, str], Pair]:
    """(satisfied, answered) of the forms' own 总体满意度 per (project, 调查期间, start month) — the figure 调查结果
    shows as 总体满意度, beside the departments' answers pooled (the 满意度 KPI)."""
    surveys = _survey_scales(session, project_ids, periods)
    if not surveys:
        return {}
    return _tally(surveys, ((sid, score, n) for sid, _, score, n in _answer_tally(session, surveys, overall=True)))


def _tally(surveys: Mapping[int, tuple[int, str, str, int]], rows: Iterable[Any]) -> dict[tuple, Pair]:
    """Rows (survey id, *group, score, count) → (satisfied, answered) per (project, 调查期间, start month,
    *group), each survey's full mark applied to the counts."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for survey_id, *group, score, n in rows:
        project_id, period, since, scale = surveys[survey_id]
        acc = out[(project_id, period, since, *group)]
        acc[0] += n if score >= survey_results.satisfied_from(scale) else 0
        acc[1] += n
    return {key: (ok, n) for key, (ok, n) in out.items()}


def survey_counts(session: Session, *, project_ids: Sequence[int], periods: Iterable[str]) -> SurveyCounts:
    periods = set(periods)
    if not project_ids or not periods:
        return SurveyCounts({}, {})
    return SurveyCounts(survey_households(session, project_ids=project_ids, periods=periods),
                        survey_answers(session, project_ids=project_ids, periods=periods),
                        survey_overall(session, project_ids=project_ids, periods=periods))


def overall_read(scope: Scope, periods: Iterable[str]) -> dict[str, Task]:
    """The forms' 总体满意度 of ``periods``, as a task beside ``kpi_reads`` (no KPI needs it; the pages that show
    the surveys do)."""
    ids, periods = scope.project_ids, set(periods)
    if not ids:
        return {}
    return {"survey overall": lambda session: survey_overall(session, project_ids=ids, periods=periods)}


def survey_counts_of(read: Mapping[str, Any]) -> SurveyCounts:
    """The survey counts among the results of ``kpi_reads`` (and ``overall_read``)."""
    return SurveyCounts(read.get("survey households", {}), read.get("survey answers", {}),
                        read.get("survey overall", {}))


def covering(months: Iterable[str]) -> set[str]:
    """Every 调查期间 that covers one of the months."""
    return {p for m in months for p in survey_periods(m)}


def collection_sums(session: Session, *, project_ids: Sequence[int], months: Sequence[str]
                    ) -> dict[tuple[int, str], tuple[Decimal, Decimal]]:
    """(实收, 应收) per (project, 账期): ``billing.collection_rate`` by amount, without its per-household grouping —
    read from 账单汇总 (``BillTotal``, kept by the database with every write to a bill), a few rows per project
    and month instead of its 100,000 bills."""
    rows = session.execute(
        select(BillTotal.project_id, BillTotal.period, func.sum(BillTotal.amount_paid), func.sum(BillTotal.amount_due))
        .where(BillTotal.period.in_(months), BillTotal.project_id.in_(project_ids))
        .group_by(BillTotal.project_id, BillTotal.period)
    )
    return {(p, period): (cents(paid), cents(due)) for p, period, paid, due in rows}


def kpi_reads(scope: Scope, months: Iterable[str], survey_periods_too: Iterable[str] = ()) -> dict[str, Task]:
    """The reads the KPIs of ``months`` need, one month each, as tasks a runner may run at once
    (``kpi_figures`` puts their results together); ``survey_periods_too`` adds 调查期间 to the survey read for
    another widget."""
    ids = scope.project_ids
    if not ids:
        return {}
    wanted = distinct_months(months)
    periods = covering(wanted) | set(survey_periods_too)

    def collection(month: str) -> Task:
        return lambda session: collection_sums(session, project_ids=ids, months=[month])

    def complaint_rows(month: str) -> Task:
        return lambda session: complaints.complaint_statistics(session, actor=scope.actor, month_from=month,
                                                               project_ids=list(ids)).rows

    # 全年收费率 also needs the year's earlier months: read at once, by (project, 账期) like the months themselves
    earlier = sorted({p for m in wanted for p in year_to_date(m)} - set(wanted))
    return {
        **{f"collection {m}": collection(m) for m in wanted},
        **({"collection earlier": lambda session: collection_sums(session, project_ids=ids, months=earlier)}
           if earlier else {}),
        **{f"complaints {m}": complaint_rows(m) for m in wanted},
        # the survey answers are the largest read: households apart, so that both run at once
        "survey households": lambda session: survey_households(session, project_ids=ids, periods=periods),
        "survey answers": lambda session: survey_answers(session, project_ids=ids, periods=periods),
    }


def kpi_figures(session: Session, *, scope: Scope, months: Iterable[str], run: Runner | None = None,
                read: Mapping[str, Any] | None = None) -> KpiFigures:
    """Every KPI of every project of ``scope`` and every month, and their totals over the projects: two grouped
    queries a month and two for the surveys, whatever the number of projects. ``read``: the results of
    ``kpi_reads`` when the caller has run them already."""
    months = list(months)
    if read is None:
        read = (run or in_turn(session))(kpi_reads(scope, months))
    wanted = distinct_months(months)
    ids = scope.project_ids
    counts: dict[tuple[str, int, str], list[Any]] = defaultdict(lambda: [0, 0])
    if ids:
        sums = dict(item for m in wanted for item in read[f"collection {m}"].items())
        for (project_id, period), pair in sums.items():
            counts[("collection_rate", project_id, period)] = list(pair)
        sums.update(read.get("collection earlier", {}))
        for (project_id, period), pair in sums.items():
            for month in wanted:
                if month[:4] == period[:4] and period <= month:
                    _add(counts[("yearly_collection_rate", project_id, month)], pair)
        for row in (row for m in wanted for row in read[f"complaints {m}"]):
            counts[("handling_rate", row.project_id, row.month)] = [row.closed, row.received]
            counts[("timeliness_rate", row.project_id, row.month)] = [row.closed_in_time, row.closed]
            counts[("validity_rate", row.project_id, row.month)] = [row.valid, row.received]
            counts[("callback_rate", row.project_id, row.month)] = [row.orders_called_back, row.orders_closed]
        surveys = survey_counts_of(read)
        for month in wanted:
            periods = survey_periods(month)
            for (project_id, period), pair in surveys.households_by(month).items():
                if period in periods:
                    _add(counts[("survey_rate", project_id, month)], pair)
            for (project_id, period, _), pair in surveys.answers_by(month).items():
                if period in periods:
                    _add(counts[("satisfaction", project_id, month)], pair)
    figures: dict[tuple[str, int | None, str], Figure] = {}
    for kpi in CATALOGUE:
        zero = cents(0) if kpi.money else 0
        for month in wanted:
            total = [zero, zero]
            for project_id in ids:
                num, den = counts.get((kpi.key, project_id, month), (zero, zero))
                figures[(kpi.key, project_id, month)] = Figure(kpi, month, project_id, num, den)
                _add(total, (num, den))
            figures[(kpi.key, None, month)] = Figure(kpi, month, None, *total)
    return KpiFigures(wanted, scope.projects, figures)


def _add(acc: list[Any], pair: Sequence[Any]) -> None:
    acc[0] += pair[0]
    acc[1] += pair[1]


def last_months(month: str, n: int = 12) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first (the trend charts' axis)."""
    return [add_months(parse_month(month).text, -i) for i in range(n - 1, -1, -1)]
