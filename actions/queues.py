"""待办 (the 工作台's queues): each is the WHERE clause of the records waiting for someone's next step, over a
:class:`kpis.Drill` (``kpis.RECORD_SETS`` registers them), so the count on the home page and the list it opens
are the same records. ``period`` is the day (YYYY-MM-DD, Beijing) a queue is due by, or empty; ``arg`` names
the person a queue belongs to (a user id for 首问, a staff id for 收费责任人) or is empty for the whole team's.

Kept apart from ``kpis`` (which imports this module) so both ``kpis`` and ``workbench`` can use them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, select
from sqlalchemy.orm import aliased

from models import (
    Bill,
    BookingStatus,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    ItemLoan,
    ItemLoanStatus,
    KeyLoan,
    MailItem,
    MeetingBooking,
    NoticeStatus,
    RectificationNotice,
    RenovationApplication,
    RenovationStatus,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    TaskStatus,
    WeeklyTask,
    WorkOrder,
    WorkOrderStatus,
)

from . import billing
from .errors import Refused
from .kernel.periods import local_day_bounds
from .requests import OPEN, first_asked_of

# A notice of a stage-4 list waiting for (or refused) approval is not delivered: only approved or issued runs.
DELIVERABLE_RUNS = (DunningRunStatus.APPROVED, DunningRunStatus.RUNNING, DunningRunStatus.DONE)


def _day(d: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(d.period)
    except ValueError:
        raise Refused(f"日期格式应为 YYYY-MM-DD：{d.period}") from None


def _person(d: Any) -> int | None:
    return int(d.arg) if d.arg.isdigit() else None


def requests_pending(d: Any) -> ColumnElement[bool]:
    """待派工: requests no one has dispatched (or answered) yet."""
    return and_(ServiceRequest.status_in(RequestStatus.PENDING), ServiceRequest.project_id.in_(d.project_ids))


def requests_answered(d: Any) -> ColumnElement[bool]:
    """已答复待办结: requests answered and left open, as older records and imports hold them (答复办结 now closes a
    request when it answers it). Nothing else listed them: not 待派工, not 我的首问 — the desk closes a 咨询/求助/建议/
    表扬 with 答复办结 (its answer offered), dispatches a 报修/投诉 (its 回访 closes it), or withdraws one the caller
    called off: every one has a way out, so the count comes down."""
    return and_(ServiceRequest.status_in(RequestStatus.ANSWERED), ServiceRequest.project_id.in_(d.project_ids))


def first_asked(d: Any) -> ColumnElement[bool]:
    """我的首问: open requests whose 首问负责人 is the user ``arg`` — the 我的首问 page's (``requests.first_asked_of``),
    not those the user merely keyed in for the guard or engineer the owner reached first."""
    user = _person(d)
    if user is None:
        return false()
    return and_(first_asked_of(user), ServiceRequest.status_in(*OPEN),
                ServiceRequest.project_id.in_(d.project_ids))


def major_open(d: Any) -> ColumnElement[bool]:
    """重大投诉 not yet closed: reported to the manager/branch until done."""
    SR = ServiceRequest
    return and_(SR.kind == RequestKind.COMPLAINT, SR.complaint_major.is_(True), SR.closed_at.is_(None),
                SR.status != RequestStatus.CANCELLED, SR.project_id.in_(d.project_ids))


def callbacks_due(d: Any) -> ColumnElement[bool]:
    """待回访: completed orders waiting for their callback (``work_orders.callbacks_due``)."""
    return and_(WorkOrder.status == WorkOrderStatus.DONE, WorkOrder.project_id.in_(d.project_ids))


def orders_to_close(d: Any) -> ColumnElement[bool]:
    """已回访待关闭: orders whose callback was satisfied — 「真正的结束是在回访后」: the desk closes them, and their
    requests are 办结 with them. Listed nowhere before, they stayed open for weeks (in 我的首问, not in 投诉处理率)."""
    return and_(WorkOrder.status == WorkOrderStatus.CALLED_BACK, WorkOrder.project_id.in_(d.project_ids))


def _of_department(d: Any, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    clause = and_(clause, WorkOrder.project_id.in_(d.project_ids))
    return and_(clause, WorkOrder.department_id == int(d.arg)) if d.arg.isdigit() else clause


def orders_to_accept(d: Any) -> ColumnElement[bool]:
    """待接单: orders dispatched to the department ``arg`` (any, if empty) and not yet taken."""
    return _of_department(d, WorkOrder.status == WorkOrderStatus.DISPATCHED)


def orders_in_hand(d: Any) -> ColumnElement[bool]:
    """处理中: taken and not yet done — reworks after an unsatisfied callback among them."""
    return _of_department(d, WorkOrder.status == WorkOrderStatus.ACCEPTED)


def mail_waiting(d: Any) -> ColumnElement[bool]:
    """待领取: mail and parcels not picked up."""
    return and_(MailItem.picked_up_at.is_(None), MailItem.project_id.in_(d.project_ids))


def loans_due(d: Any) -> ColumnElement[bool]:
    """到期未还: items lent whose agreed return is by the end of the day ``period``."""
    _, end = local_day_bounds(_day(d))
    return and_(ItemLoan.status == ItemLoanStatus.LENT, ItemLoan.due_at.is_not(None), ItemLoan.due_at < end,
                ItemLoan.project_id.in_(d.project_ids))


def keys_out(d: Any) -> ColumnElement[bool]:
    """钥匙未归还."""
    return and_(KeyLoan.returned_at.is_(None), KeyLoan.project_id.in_(d.project_ids))


def arrears_to_chase(d: Any) -> ColumnElement[bool]:
    """欠费 on the day ``period``; ``arg``: only the bills the staff member is 收费责任人 of (责任到人)."""
    clause = and_(billing.overdue(_day(d)), Bill.project_id.in_(d.project_ids))
    staff = _person(d)
    return clause if staff is None else and_(clause, Bill.collector_id == staff)


def notices_to_deliver(d: Any) -> ColumnElement[bool]:
    """催缴通知 issued (approved, for a stage-4 list) and not yet delivered."""
    runs = select(DunningRun.id).where(DunningRun.status.in_(DELIVERABLE_RUNS),
                                       DunningRun.project_id.in_(d.project_ids))
    return and_(DunningNotice.delivered_at.is_(None), DunningNotice.run_id.in_(runs),
                DunningNotice.project_id.in_(d.project_ids))


def runs_to_approve(d: Any) -> ColumnElement[bool]:
    """停电/封铺名单 waiting for the company's approval."""
    return and_(DunningRun.status == DunningRunStatus.PROPOSED, DunningRun.project_id.in_(d.project_ids))


def renovations_to_review(d: Any) -> ColumnElement[bool]:
    """装修申请 待审核."""
    return and_(RenovationApplication.status == RenovationStatus.PENDING,
                RenovationApplication.project_id.in_(d.project_ids))


def renovations_under_way(d: Any) -> ColumnElement[bool]:
    """施工中: the butler's renovation checks."""
    return and_(RenovationApplication.status == RenovationStatus.IN_PROGRESS,
                RenovationApplication.project_id.in_(d.project_ids))


def bookings_to_approve(d: Any) -> ColumnElement[bool]:
    """会议室预约 待审批."""
    return and_(MeetingBooking.status == BookingStatus.PENDING, MeetingBooking.project_id.in_(d.project_ids))


def rectifications_due(d: Any) -> ColumnElement[bool]:
    """整改通知书 已发出 whose 整改期限 is the day ``period`` or before, not yet re-checked: 「限期整改」 — the deadline
    is the day to go and look, and the notice stays 已发出 until someone does (复查: 已整改 / 逾期未改 / 已上报)."""
    return and_(RectificationNotice.status == NoticeStatus.ISSUED, RectificationNotice.deadline <= _day(d),
                RectificationNotice.project_id.in_(d.project_ids))


def tasks_overdue(d: Any) -> ColumnElement[bool]:
    """周计划 tasks whose 完成时限 is before the day ``period`` and not 已完成 (未开始、进行中、已延期): 「明确每个任务的
    责任人和完成时间，避免任务拖延或遗漏」 — the supervisor reviewing the week sees what slipped, and whose. A task
    carried over (结转) is continued by its copy: the copy is the one counted, not both."""
    copy = aliased(WeeklyTask)
    return and_(WeeklyTask.status != TaskStatus.DONE, WeeklyTask.deadline < _day(d),
                WeeklyTask.project_id.in_(d.project_ids), ~exists().where(copy.carried_from_id == WeeklyTask.id))


# set key → (label, model, clause); ``kpis`` makes them record sets.
QUEUES: dict[str, tuple[str, type, Any]] = {
    "requests_pending": ("待派工诉求", ServiceRequest, requests_pending),
    "requests_answered": ("已答复待办结诉求", ServiceRequest, requests_answered),
    "first_asked": ("我的首问（未办结）", ServiceRequest, first_asked),
    "major_open": ("未办结重大投诉", ServiceRequest, major_open),
    "callbacks_due": ("待回访工单", WorkOrder, callbacks_due),
    "orders_to_close": ("已回访待关闭工单", WorkOrder, orders_to_close),
    "orders_to_accept": ("待接单派工单", WorkOrder, orders_to_accept),
    "orders_in_hand": ("处理中派工单（含返工）", WorkOrder, orders_in_hand),
    "mail_waiting": ("待领取邮件包裹", MailItem, mail_waiting),
    "loans_due": ("到期未还物品", ItemLoan, loans_due),
    "keys_out": ("未归还钥匙", KeyLoan, keys_out),
    "arrears_to_chase": ("待催收欠费账单", Bill, arrears_to_chase),
    "notices_to_deliver": ("待送达催缴通知", DunningNotice, notices_to_deliver),
    "runs_to_approve": ("待审批停电/封铺名单", DunningRun, runs_to_approve),
    "renovations_to_review": ("待审核装修申请", RenovationApplication, renovations_to_review),
    "renovations_under_way": ("施工中装修（待检查）", RenovationApplication, renovations_under_way),
    "bookings_to_approve": ("待审批会议室预约", MeetingBooking, bookings_to_approve),
    "rectifications_due": ("到期待复查整改通知书", RectificationNotice, rectifications_due),
    "tasks_overdue": ("逾期未完成周计划", WeeklyTask, tasks_overdue),
}
