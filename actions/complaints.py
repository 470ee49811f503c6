"""投诉统计: the monthly complaint figures per project the documents name, against their targets.

Per project and month (Asia/Shanghai calendar month of 受理时间):
- 受理 received: complaints received in the month, not withdrawn (已取消);
- 办结 closed: of those, closed before the month ended — "保证将投诉消化在当月";
- 及时办结 closed in time: of the closed, those handled within their time limit (:func:`handled_in_time`): a
  complaint sent to a department by its work order's completion, by the order's 完成时限 — its last completion: an
  unsatisfied callback sends the order back and clears it —; one answered without a work order (「需要报事的应
  填写派工单」, 002: an invalid complaint is answered, not dispatched) by its closing, within the 完成时限 its SLA
  rule gives (kind and priority, the project's own rule before the default: 投诉 48 小时内处理完毕并回复) from 受理;
- 有效 valid / 无效 invalid / 待判定 pending: the supervisor's judgement; 重大 major: flagged on the complaint;
- 投诉处理率 = 办结 ÷ 受理 (target ≥ 98 %), 处理及时率 = 及时办结 ÷ 办结, 投诉有效率 = 有效 ÷ 受理 (DOMAIN.md:
  valid complaints ÷ complaints — every complaint received counts, so one not judged yet lowers the rate until it
  is; its count is shown beside the rate);
- 回访率 = work orders closed in the month that had a callback ÷ work orders closed in the month (target 100 %).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from models import (  # noqa: F401  (CALLBACK_KINDS: complaints.CALLBACK_KINDS as before)
    CALLBACK_KINDS,
    SHANGHAI,
    AuditKind,
    ComplaintValidity,
    EventSource,
    Project,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    SlaRule,
    User,
    WorkOrder,
    label_of,
    utcnow,
)

from . import scores
from .actor import Actor
from .audit import as_actor, log_event, log_operation
from .errors import NotPermitted, Refused
from .kernel.periods import period_of
from .kernel.sql import minutes_between
from .rates import meets_text, percent, rate_text
from .xlsx_out import XlsxFile, new_workbook, to_bytes, write_sheet

# Targets named in the documents, in percent; the other two rates are monthly statistics without a target.
TARGETS = {"handling_rate": Decimal("98"), "callback_rate": Decimal("100")}
MAX_MONTHS = 36
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Each rate's numerator and denominator (counts of ``ComplaintMonth``).
PARTS = {"handling_rate": ("closed", "received"), "timeliness_rate": ("closed_in_time", "closed"),
         "validity_rate": ("valid", "received"), "callback_rate": ("orders_called_back", "orders_closed")}


@dataclass(frozen=True)
class ComplaintMonth:
    project_id: int | None  # None on the total row
    project: str
    month: str  # YYYY-MM
    received: int = 0
    closed: int = 0
    closed_in_time: int = 0
    valid: int = 0
    invalid: int = 0
    pending: int = 0
    major: int = 0
    orders_closed: int = 0
    orders_called_back: int = 0

    # The rates in percent as every page shows them (``rates.percent``: one decimal, half-up).
    @property
    def handling_rate(self) -> Decimal | None:
        return self._rate("handling_rate")

    @property
    def timeliness_rate(self) -> Decimal | None:
        return self._rate("timeliness_rate")

    @property
    def validity_rate(self) -> Decimal | None:
        return self._rate("validity_rate")

    @property
    def callback_rate(self) -> Decimal | None:
        return self._rate("callback_rate")

    def _rate(self, rate: str) -> Decimal | None:
        return percent(*(getattr(self, k) for k in PARTS[rate]))

    def meets(self, rate: str) -> bool | None:
        """Whether a rate reaches its target, compared exactly (97.96 % shows 98.0 % and is short of 98 %);
        None without a target or without data."""
        part, whole = (getattr(self, k) for k in PARTS[rate])
        return None if rate not in TARGETS or not whole else part * 100 >= TARGETS[rate] * whole


COUNTS = ("received", "closed", "closed_in_time", "valid", "invalid", "pending", "major", "orders_closed",
          "orders_called_back")
RATES = ("handling_rate", "timeliness_rate", "validity_rate", "callback_rate")
LABELS = {
    "project": label_of(ServiceRequest, "project"),
    "month": "月份",
    "received": "受理投诉",
    "closed": "当月办结",
    "closed_in_time": "及时办结",
    "valid": "有效投诉",
    "invalid": "无效投诉",
    "pending": "待判定投诉",
    "major": "重大投诉",
    "orders_closed": "关闭工单",
    "orders_called_back": "已回访工单",
    "handling_rate": "投诉处理率",
    "timeliness_rate": "处理及时率",
    "validity_rate": "投诉有效率",
    "callback_rate": "回访率",
}


@dataclass(frozen=True)
class ComplaintStatistics:
    month_from: str
    month_to: str
    rows: tuple[ComplaintMonth, ...]  # per project and month, months ascending
    total: ComplaintMonth  # all rows summed (month = the range)


def _month_start(month: str) -> dt.date:
    match = _MONTH.match(month or "")
    if not match or not 1 <= int(match[2]) <= 12:
        raise Refused(f"月份格式应为 YYYY-MM：{month}")
    return dt.date(int(match[1]), int(match[2]), 1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), SHANGHAI).astimezone(dt.UTC)


def not_withdrawn() -> ColumnElement[bool]:
    """A complaint the figures count: not withdrawn (已取消 — 业主撤销报事). A withdrawn complaint was neither
    handled (办结) nor judged valid: counted, it would raise 投诉处理率 and 投诉有效率 alike; the scores, the
    service star and 未办结重大投诉 leave it out as well."""
    return ServiceRequest.status != RequestStatus.CANCELLED


def handled_in_time() -> ColumnElement[bool]:
    """A closed request was handled within its time limit: its work order completed by the order's 完成时限, or —
    answered without one — closed within the 完成时限 of its SLA rule, counted from 受理时间 (no rule: not in time).
    One order a request (``uq_work_order_request_id``), whose ``completed_at`` is its last completion."""
    SR = ServiceRequest
    order = exists().where(WorkOrder.request_id == SR.id)
    order_in_time = exists().where(WorkOrder.request_id == SR.id, WorkOrder.completed_at <= WorkOrder.complete_due_at)
    limit_hours = (
        select(SlaRule.complete_hours)
        .where(SlaRule.kind == SR.kind, SlaRule.priority == SR.priority,
               or_(SlaRule.project_id == SR.project_id, SlaRule.project_id.is_(None)))
        .order_by(SlaRule.project_id.is_(None))  # the project's own rule first
        .limit(1)
        .scalar_subquery()
    )
    answered_in_time = and_(~order, minutes_between(SR.received_at, SR.closed_at) <= limit_hours * 60)
    return or_(order_in_time, answered_in_time)


def complaint_statistics(session: Session, *, actor: Actor, month_from: str, month_to: str | None = None,
                         project_ids: Sequence[int] | None = None) -> ComplaintStatistics:
    """The figures for every project the actor sees (or ``project_ids``) and every month in the range."""
    month_to = month_to or month_from
    first, last = _month_start(month_from), _month_start(month_to)
    if last < first:
        raise Refused("结束月份不能早于开始月份")
    months: list[tuple[str, dt.datetime, dt.datetime]] = []
    day = first
    while day <= last:
        nxt = _next_month(day)
        months.append((day.strftime("%Y-%m"), _utc(day), _utc(nxt)))
        day = nxt
    if len(months) > MAX_MONTHS:
        raise Refused(f"一次最多统计 {MAX_MONTHS} 个月")
    if project_ids is not None:
        outside = actor.outside(project_ids)
        if outside:
            raise NotPermitted("无权查看所选项目的投诉统计", outside)
    SR = ServiceRequest

    def scope(column):
        # project_ids are the actor's (refused above otherwise): one IN, not the actor's too — with two on
        # project_id SQLite leaves the (project, kind, received_at) index for the whole month's requests
        # (a branch's November: 28 ms instead of 6)
        return column.in_(project_ids) if project_ids is not None else actor.project_filter(column)

    # Month by month, grouped by project: each read follows its index in order, where one query bucketing every
    # month by a CASE sorted the rows to group them (a branch's 41,000 closed orders of a month on SQLite: 30 ms
    # against 6).
    in_time = handled_in_time()
    figures: dict[tuple[int, str], dict[str, int]] = {}
    for month, start, end in months:
        # 保证将投诉消化在当月: closed before the month of receipt ended
        closed = and_(SR.closed_at.is_not(None), SR.closed_at < end)
        for project_id, n, c, t, v, x, m in session.execute(
            select(SR.project_id, func.count(), func.sum(case((closed, 1), else_=0)),
                   func.sum(case((and_(closed, in_time), 1), else_=0)),
                   func.sum(case((SR.complaint_validity == ComplaintValidity.VALID, 1), else_=0)),
                   func.sum(case((SR.complaint_validity == ComplaintValidity.INVALID, 1), else_=0)),
                   func.sum(case((SR.complaint_major.is_(True), 1), else_=0)))
            .where(SR.kind == RequestKind.COMPLAINT, SR.received_at >= start, SR.received_at < end,
                   scope(SR.project_id), not_withdrawn())
            .group_by(SR.project_id)
        ):
            valid, invalid = int(v or 0), int(x or 0)
            figures[(project_id, month)] = {"received": n, "closed": int(c or 0), "closed_in_time": int(t or 0),
                                            "valid": valid, "invalid": invalid, "pending": n - valid - invalid,
                                            "major": int(m or 0)}

        # Callbacks: work orders closed in the month, and how many of them had a callback — the count of its
        # callbacks the database keeps on the order (``WorkOrder.callbacks``), read with the month's orders from
        # their index (project, closed_at, callbacks) alone instead of probing the visits once per order.
        for project_id, n, cb in session.execute(
            select(WorkOrder.project_id, func.count(), func.sum(case((WorkOrder.callbacks > 0, 1), else_=0)))
            .where(WorkOrder.closed_at >= start, WorkOrder.closed_at < end, scope(WorkOrder.project_id))
            .group_by(WorkOrder.project_id)
        ):
            entry = figures.setdefault((project_id, month), {})
            entry.update(orders_closed=n, orders_called_back=int(cb or 0))
    # 004: a branch compares its projects month by month; one without a complaint or a closed order in a month is
    # listed with 0 and its rates 「—」, not left out of the comparison
    for project_id in session.scalars(select(Project.id).where(scope(Project.id))):
        for month, _, _ in months:
            figures.setdefault((project_id, month), {})

    names = dict(session.execute(
        select(Project.id, Project.name).where(Project.id.in_({p for p, _ in figures}))
    ).all()) if figures else {}
    rows = tuple(
        ComplaintMonth(project_id, names.get(project_id, ""), month, **values)
        for (project_id, month), values in sorted(figures.items(), key=lambda kv: (kv[0][1], names.get(kv[0][0], "")))
    )
    period = month_from if month_from == month_to else f"{month_from}～{month_to}"
    total = ComplaintMonth(None, "合计", period)
    for row in rows:
        total = replace(total, **{k: getattr(total, k) + getattr(row, k) for k in COUNTS})
    return ComplaintStatistics(month_from, month_to, rows, total)


@as_actor
def export_complaint_statistics(session: Session, *, actor: Actor, month_from: str, month_to: str | None = None,
                                project_ids: Sequence[int] | None = None) -> XlsxFile:
    """投诉统计 as .xlsx: one row per project and month plus the total; rates in percent; the targets on a
    second sheet. The export is logged."""
    stats = complaint_statistics(session, actor=actor, month_from=month_from, month_to=month_to,
                                 project_ids=project_ids)
    header = [LABELS["project"], LABELS["month"], *(LABELS[k] for k in COUNTS),
              *(LABELS[k] for k in RATES), *(f"{LABELS[k]}达标" for k in TARGETS)]
    data = [
        (row.project, row.month, *(getattr(row, k) for k in COUNTS), *(rate_text(getattr(row, k)) for k in RATES),
         *(meets_text(row.meets(k)) for k in TARGETS))
        for row in (*stats.rows, stats.total)
    ]
    wb = new_workbook()
    count = write_sheet(wb, "投诉统计", header, data, caption=f"投诉统计 {stats.month_from}~{stats.month_to}")
    write_sheet(wb, "目标", ["指标", "目标"], [(f"{LABELS[k]} ≥", rate_text(v)) for k, v in TARGETS.items()])
    params = {"month_from": stats.month_from, "month_to": stats.month_to,
              "project_ids": list(project_ids) if project_ids is not None else None}
    log_event(session, AuditKind.EXPORT, summary=f"导出投诉统计 {stats.total.month}，{count} 行", changes=params,
              table=ServiceRequest.__tablename__)
    log_operation(session, "export_complaint_statistics", params=params, counts={"rows": count})
    return XlsxFile(f"投诉统计-{stats.total.month}.xlsx", to_bytes(wb), count)



# --- 判定: the supervisor's judgement of a complaint ---------------------------------------------------------
@dataclass(frozen=True)
class Judgement:
    request_id: int
    validity: ComplaintValidity
    points: Decimal | None  # the deduction chosen (negative), None: none chosen (the provisional one applies)
    staff: str  # the employee complained about, "" if none is named
    already: bool = False  # the same judgement sent again (a double click, a second tab): nothing written

    @property
    def message(self) -> str:
        if self.already:
            return f"投诉 #{self.request_id} 已判定为{self.validity.label}，未重复登记"
        text = f"投诉 #{self.request_id} 已判定为{self.validity.label}"
        if self.validity is ComplaintValidity.VALID and self.staff:
            if self.points is None:
                text += f"；{self.staff} 暂按细则扣分，待评定"
            else:
                text += f"；{self.staff} 评定扣 {-self.points:f} 分（替代暂定扣分，不叠加）"
            text += "，重新计算该月考核后计入得分"
        return text


@dataclass(frozen=True)
class ComplaintCase:
    """What the 判定投诉 page shows: the complaint, whom it names and the deductions it may be judged."""

    request_id: int
    text: str
    staff: str
    points_range: str  # "5 至 10", the deduction as the supervisor types it; "" without a rule in force
    provisional: str  # "5"


def complaint_case(session: Session, *, request_id: int, actor: Actor) -> ComplaintCase:
    request = session.get(ServiceRequest, request_id)
    if request is None or not actor.can_see(request.project_id):
        raise Refused(f"诉求 #{request_id} 不存在", [request_id])
    rule = scores.derived_rule(session, EventSource.COMPLAINT, request.received_at.astimezone(SHANGHAI).date())
    staff = request.complained_staff
    return ComplaintCase(
        request_id, str(request), staff.name if staff else "",
        scores.range_text(-rule.points_max, -rule.points_min) if rule else "",
        scores.range_text(-rule.points_max, -rule.points_max) if rule else "",
    )


def judge_refusal(request: ServiceRequest) -> str | None:
    """Why ``request`` cannot be judged at all, or None — asked by the request's page before it offers 判定投诉, by
    the 判定投诉 page before its form, and by 判定投诉 itself: only a complaint is judged 有效 / 无效."""
    if request.kind is not RequestKind.COMPLAINT:
        return (f"诉求 #{request.id} 是{request.kind.label}，不是投诉，"
                f"不能判定{label_of(ServiceRequest, 'complaint_validity')}")
    return None


@as_actor
def judge_complaint(session: Session, *, request_id: int, validity: ComplaintValidity,
                    points: Decimal | None = None, actor: Actor, version: int | None = None) -> Judgement:
    """判定投诉: 有效 / 无效 (or back to 待判定), and for a valid complaint naming an employee the deduction chosen
    in the range of the rule of 有效投诉 (细则：被业主投诉者，视情况扣5-10分). The choice replaces the provisional
    deduction: one complaint, one deduction. ``points`` may be given as 8 or −8 (扣 8 分). ``version``: the one the
    form started from — a form opened before another judgement (another tab, another supervisor) is refused, never
    replaces it; the same judgement sent again answers that it is done and writes nothing."""
    SR = ServiceRequest
    request = session.get(SR, request_id, with_for_update=True)
    if request is None:
        raise Refused(f"诉求 #{request_id} 不存在", [request_id])
    if not actor.can_see(request.project_id):
        raise NotPermitted("无权判定该项目的投诉", [request_id])
    if refusal := judge_refusal(request):
        raise Refused(refusal, [request_id])
    if not isinstance(validity, ComplaintValidity):
        raise Refused(f"请选择{label_of(SR, 'complaint_validity')}")
    staff = request.complained_staff
    if staff is not None and actor.user_id is not None and session.scalar(
            select(User.staff_id).where(User.id == actor.user_id)) == staff.id:
        # the one complained about does not judge the complaint (as who raised an escalation does not answer it)
        raise NotPermitted(f"{staff.name} 是该投诉的{label_of(SR, 'complained_staff')}，不能判定本人被投诉的诉求："
                           f"须由其他客服主管或经理判定", [request_id])
    if points is not None:
        points = -abs(Decimal(points))
        if validity is not ComplaintValidity.VALID:
            raise Refused(f"只有有效投诉才评定扣分：投诉 #{request_id} 判定为{validity.label}", [request_id])
        if staff is None:
            raise Refused(f"投诉 #{request_id} 未指明{label_of(SR, 'complained_staff')}，无需评定扣分", [request_id])
        day = request.received_at.astimezone(SHANGHAI).date()
        rule = scores.derived_rule(session, EventSource.COMPLAINT, day)
        if rule is None:
            raise Refused(f"{day} 没有适用的有效投诉考核细则", [request_id])
        if points != points.quantize(scores.POINTS_STEP):
            raise Refused(f"{label_of(SR, 'complaint_points')}最多保留一位小数：{-points:f}", [request_id])
        if not rule.points_min <= points <= rule.points_max:
            low, high = -rule.points_max, -rule.points_min
            raise Refused(f"{label_of(SR, 'complaint_points')}须在 {scores.range_text(low, high)} 分之间"
                          f"（细则：被业主投诉者，视情况扣分）：{-points:f}", [request_id])
    if version is not None and version != request.version:  # read under the row lock: a judgement meanwhile is seen
        if (validity, points) == (request.complaint_validity, request.complaint_points):
            return Judgement(request_id, validity, points, staff.name if staff else "", already=True)
        now = request.complaint_validity or ComplaintValidity.PENDING
        raise Refused(f"投诉 #{request_id} 已被他人修改（现为{now.label}），请刷新后重试", [request_id])
    if staff is not None and (validity, points) != (request.complaint_validity, request.complaint_points):
        # the employee's month would score differently: not once it is confirmed
        month = period_of(request.received_at.astimezone(SHANGHAI).date())
        scores.refuse_confirmed(session, month, [staff.project_id], "更改该月投诉的判定")
    request.complaint_validity = validity
    request.complaint_points = points
    request.complaint_judged_by_id = actor.user_id
    request.complaint_judged_at = utcnow()
    session.flush()
    log_operation(session, "judge_complaint", project_id=request.project_id,
                  params={"request_id": request_id, "validity": validity, "points": points},
                  counts={"judged": 1}, message=f"判定投诉 #{request_id}：{validity.label}")
    return Judgement(request_id, validity, points, staff.name if staff else "")
