"""前台台帐 rules beyond what a form's fields say:

- 钥匙借用: a key goes out only while one of its copies is in the cabinet, and its 状态 follows its loans — 借出
  while a loan is open (no 归还时间), 在库 once every copy is back. 已交业主 and 遗失 are set by hand and end lending.
- 会议室预订: a room asked for or granted (待审批 / 已批准) for a time is not booked again for any of it; 已批准
  names its 审批人, a 客服主管 or 客服经理 (「填写客户会议室使用申请单，报告主管领导审批」).
- 物品借用: the 约定归还时间 comes after the 借出时间; one given back (归还时间) is not 借出中 — nor a lost item with
  its 发还时间 待认领.
- 外包方月度检查: the 检查月份 is a month that has come; its 限期整改日期 not before that month.
- 登记的时刻 (借出、归还、发还、领取、离开 …) have happened: none is later than now — a return typed a month ahead
  would put a key back 在库 while it is still out.
- 整改通知书: 已整改 / 逾期未改 / 已上报 follow a 复查 on a day between the notice and today; 逾期未改 only once
  the 整改期限 has come.
- 房屋整改: a defect found at a 交房验收 is of that checklist's unit; 报开发商日期 not before it was found.
- 放行条: a tenant's (租户、商户) goods leave the unit only with the owner's consent (业主确认).
- 施工人员出入证: issued for a renovation that is approved or under way, valid within its 开工日期–完工日期.
- 装修申请: a unit is renovated once handed over (「交房手续办理完毕后…物业产权人申报房屋装修」): a 空置 unit's
  renovation is not approved — approving it would make the unit 装修中, then 已交房 with no 交房验收 ever made.
- 邮件包裹 (「邮件、包裹单等的签收与发放工作，认真填写记录」): a parcel handed out names who took it and when — a
  领取时间 without 领取人, or a 领取人 without 领取时间 (listed as still waiting), is half a record.
- 公告: one to 部分楼栋/住户 says which (发布范围).
- 交房验收: 同意交房 is recorded on or after the 验收日期 — the walk-through done, not one planned: it hands the unit
  over with that date as its 交房日期, which the unit itself may not have ahead of today.
- 值班日志 (「做好服务中心值班记录和交接班记录」): a shift that has begun (its 值班日期 not after today), handed over
  to someone else, at the end of that shift — on its 值班日期 or, for a night shift, the morning after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    Audience,
    BookingStatus,
    Building,
    Customer,
    DutyLog,
    GoodsPass,
    GoodsPassStatus,
    HouseDefect,
    ItemLoan,
    ItemLoanStatus,
    KeyLoan,
    KeyRecord,
    KeyStatus,
    LostItem,
    LostItemStatus,
    MailItem,
    MeetingBooking,
    MoveInChecklist,
    NoticeStatus,
    OwnerNotice,
    RectificationNotice,
    RenovationApplication,
    RenovationStatus,
    Staff,
    StaffPosition,
    Unit,
    UnitCustomer,
    UnitRelation,
    UnitStatus,
    VendorCheck,
    VendorRectification,
    VisitorEntry,
    WorkerPermit,
    label_of,
    utcnow,
)
from models.db import lock_names

from . import records
from .actor import Actor
from .errors import NotPermitted, Refused
from .kernel.periods import not_yet, today_local
from .spreadsheets import clean
from .spreadsheets.pipeline import shown

# The statuses the loans decide; the others are a fact about the key that a loan cannot change.
FOLLOWS_LOANS = (KeyStatus.IN_STOCK, KeyStatus.LENT)


def _locked_key(session: Session, key_id: int, actor: Actor) -> KeyRecord:
    """The key, its row locked until the transaction ends: two loans of its last copy at once are taken one after
    the other, the second seeing the first."""
    key = session.scalar(select(KeyRecord).where(KeyRecord.id == key_id).with_for_update()
                         .execution_options(populate_existing=True))
    if key is None:
        raise Refused(f"钥匙不存在：{key_id}", [key_id])
    if not actor.can_see(key.project_id):
        raise NotPermitted("无权操作其他项目的钥匙", [key_id])
    return key


def _open_loans(session: Session, key_id: int, *, besides: int | None = None) -> int:
    where = [KeyLoan.key_id == key_id, KeyLoan.returned_at.is_(None)]
    if besides is not None:
        where.append(KeyLoan.id != besides)
    return session.scalar(select(func.count()).select_from(KeyLoan).where(*where)) or 0


@records.rule(KeyLoan)
def check_loan(session: Session, actor: Actor, change: records.Change) -> None:
    """A loan typed or corrected in the console: the key is of the loan's project, and a loan that goes out
    (a new one, or one moved to another key or no longer returned) needs a copy of a key that can be lent."""
    loan = change.obj
    if loan.key_id is None or loan.project_id is None:
        return  # the table's NOT NULL answers
    key = _locked_key(session, loan.key_id, actor)
    if key.project_id != loan.project_id:
        raise Refused(f"钥匙 {key.code} 不属于所选项目", [key.id])
    if loan.returned_at is not None:
        return
    if not change.created and change.was("key_id") == key.id and change.was("returned_at") is None:
        return  # an open loan corrected (a phone number, the purpose): it went out already
    if key.status not in FOLLOWS_LOANS:
        raise Refused(f"钥匙 {key.code} {key.name} {key.status.label}，不能借出", [key.id])
    if _open_loans(session, key.id, besides=loan.id) >= key.copies:
        raise Refused(f"钥匙 {key.code} {key.name} 共 {key.copies} 把，均已借出未还：请先登记归还", [key.id])


@records.rule(KeyRecord)
def check_key_status(session: Session, actor: Actor, change: records.Change) -> None:
    """在库 and 借出 follow the loans: a new key has none out; a key with copies out is not 在库, one with none
    out is not 借出. 已交业主 and 遗失 are set by hand."""
    key = change.obj
    if change.created:
        if key.status is KeyStatus.LENT:
            raise Refused(f"新登记的钥匙没有借用记录：请登记为{KeyStatus.IN_STOCK.label}，借出时登记钥匙借用")
        return
    out = _open_loans(session, key.id)
    if key.copies is not None and out > key.copies:
        raise Refused(f"该钥匙尚有 {out} 把借出未还，{label_of(KeyRecord, 'copies')}不能少于 {out}：请先登记归还",
                      [key.id])
    if key.status is KeyStatus.IN_STOCK and out:
        raise Refused(f"该钥匙尚有 {out} 把借出未还：登记归还后自动改为{KeyStatus.IN_STOCK.label}", [key.id])
    if key.status is KeyStatus.LENT and not out:
        raise Refused(f"该钥匙没有未归还的借用登记：{KeyStatus.LENT.label}状态由借用登记自动设置", [key.id])


@records.derive(KeyLoan)
def _loan_moves_key(session: Session, actor: Actor, change: records.Change) -> None:
    sync_key_status(session, key_ids={change.was("key_id"), change.obj.key_id}, actor=actor)


def sync_key_status(session: Session, *, key_ids: Iterable[int | None], actor: Actor) -> list[int]:
    """Set 借出 / 在库 from the keys' open loans (the audit trail records the change and who made it);
    returns the keys changed."""
    ids = sorted({int(k) for k in key_ids if k is not None})
    out = set(session.scalars(
        select(KeyLoan.key_id).where(KeyLoan.key_id.in_(ids), KeyLoan.returned_at.is_(None)).distinct()
    ))
    changed = []
    for key in session.scalars(select(KeyRecord).where(KeyRecord.id.in_(ids), actor.project_filter(KeyRecord.project_id))):
        wanted = KeyStatus.LENT if key.id in out else KeyStatus.IN_STOCK
        if key.status in FOLLOWS_LOANS and key.status is not wanted:
            key.status = wanted
            changed.append(key.id)
    session.flush()
    return changed


# --- 会议室预订 ----------------------------------------------------------------------------------------
# A booking that is asked for or granted holds its room for its time.
HOLDS_ROOM = (BookingStatus.PENDING, BookingStatus.APPROVED)


def _span(starts: dt.datetime, ends: dt.datetime) -> str:
    """2026-11-20 09:00–11:00, or both days when the booking runs past midnight (Beijing time)."""
    start, end = shown(starts), shown(ends)
    return f"{start}–{end[11:] if end[:10] == start[:10] else end}"


@records.rule(MeetingBooking)
def check_booking(session: Session, actor: Actor, change: records.Change) -> None:
    """At least one attendee; a room is not booked twice for the same time (待审批 or 已批准) — the clash named.
    The room's name is locked first, so two bookings of it at once are checked one after the other."""
    booking = change.obj
    booking.room = (booking.room or "").strip()
    booking.status = booking.status or BookingStatus.PENDING
    room, starts_at, ends_at = booking.room, booking.starts_at, booking.ends_at
    if booking.attendees is not None and booking.attendees < 1:
        raise Refused(f"{label_of(MeetingBooking, 'attendees')}须至少 1 人，填写的是 {booking.attendees}")
    if booking.status is BookingStatus.APPROVED and (change.changed("status") or change.changed("approved_by_id")):
        _check_approver(session, booking)
    if booking.status not in HOLDS_ROOM or not (room and starts_at and ends_at) or ends_at <= starts_at:
        return  # a cancelled or used booking holds nothing; a reversed time is refused by the table's rule
    lock_names(session, [f"meeting-room:{booking.project_id}:{room}"])
    clash = session.scalars(
        select(MeetingBooking).where(
            MeetingBooking.project_id == booking.project_id, MeetingBooking.room == room,
            MeetingBooking.status.in_(HOLDS_ROOM), MeetingBooking.starts_at < ends_at,
            MeetingBooking.ends_at > starts_at, MeetingBooking.id != (booking.id or 0),
        ).order_by(MeetingBooking.starts_at).limit(1)
    ).first()
    if clash is not None:
        raise Refused(
            f"会议室「{room}」{_span(starts_at, ends_at)} 与已有预订重叠：{clash.booked_by} "
            f"{_span(clash.starts_at, clash.ends_at)}（{clash.status.label}，预订#{clash.id}）。"
            f"请调整{label_of(MeetingBooking, 'starts_at')}、{label_of(MeetingBooking, 'ends_at')}或换一间会议室",
            [clash.id],
        )


# 「报告主管领导审批」: who may grant a room.
APPROVERS = (StaffPosition.SUPERVISOR, StaffPosition.MANAGER)


def _check_approver(session: Session, booking: MeetingBooking) -> None:
    label = label_of(MeetingBooking, "approved_by")
    approver = session.get(Staff, booking.approved_by_id) if booking.approved_by_id is not None else None
    wanted = "或".join(p.label for p in APPROVERS)
    if approver is None:
        raise Refused(f"状态为“{BookingStatus.APPROVED.label}”时须填写{label}：会议室使用须报主管领导审批（{wanted}）")
    if approver.position not in APPROVERS:
        raise Refused(f"{label} {approver.name} 的岗位是{approver.position.label}：会议室使用须由{wanted}审批",
                      [approver.id])


# --- 物品借用, 外包方月度检查 ----------------------------------------------------------------------------
@records.rule(ItemLoan)
def check_item_loan(session: Session, actor: Actor, change: records.Change) -> None:
    """约定归还 after 借出; a loan with its 归还时间 filled is not still 借出中 — it stayed in 到期未还 as if out."""
    loan = change.obj
    lent_at, due_at = loan.lent_at, loan.due_at
    if lent_at and due_at and due_at < lent_at:
        raise Refused(f"{label_of(ItemLoan, 'due_at')} {shown(due_at)} 早于{label_of(ItemLoan, 'lent_at')} "
                      f"{shown(lent_at)}：请填写借出之后的时间")
    if loan.status is ItemLoanStatus.LENT and loan.returned_at is not None \
            and (change.changed("status") or change.changed("returned_at")):
        raise Refused(f"已填写{label_of(ItemLoan, 'returned_at')} {shown(loan.returned_at)}，{label_of(ItemLoan, 'status')}"
                      f"不能为“{ItemLoanStatus.LENT.label}”：请选择“{ItemLoanStatus.RETURNED.label}”或"
                      f"“{ItemLoanStatus.DAMAGED.label}”，或清空{label_of(ItemLoan, 'returned_at')}",
                      [loan.id] if loan.id else [])


@records.rule(LostItem)
def check_lost_item(session: Session, actor: Actor, change: records.Change) -> None:
    """「如有客户认领，需在《物品发还清单》中进行记录」: an item with its 发还时间 filled is not still 待认领."""
    item = change.obj
    if item.status is LostItemStatus.HELD and item.returned_at is not None \
            and (change.changed("status") or change.changed("returned_at")):
        raise Refused(f"已填写{label_of(LostItem, 'returned_at')} {shown(item.returned_at)}，{label_of(LostItem, 'status')}"
                      f"不能为“{LostItemStatus.HELD.label}”：请选择“{LostItemStatus.RETURNED.label}”，或清空"
                      f"{label_of(LostItem, 'returned_at')}", [item.id] if item.id else [])


_MONTH = clean.period()


@records.rule(VendorCheck)
def _checked_month_rule(session: Session, actor: Actor, change: records.Change) -> None:
    """The 检查月份 a month that has come; the 限期整改日期 given for what it found not before that month began."""
    check = change.obj
    if change.changed("month"):
        check.month = checked_month(check.month)
    if check.rectify_by is not None and check.month and (change.changed("rectify_by") or change.changed("month")) \
            and check.rectify_by < dt.date(int(check.month[:4]), int(check.month[5:7]), 1):
        raise Refused(f"{label_of(VendorCheck, 'rectify_by')} {check.rectify_by} 早于{label_of(VendorCheck, 'month')} "
                      f"{check.month}：整改期限须在检查之后", [check.id] if check.id else [])


@records.rule(VendorCheck)
def _recheck_rule(session: Session, actor: Actor, change: records.Change) -> None:
    """已整改 / 复查未整改 is what a recheck saw: it needs the 复查日期, a day that has come and not before the
    checked month."""
    check, ids = change.obj, [change.obj.id] if change.obj.id else []
    status, day = label_of(VendorCheck, "rectification"), label_of(VendorCheck, "rechecked_on")
    if check.rectification in (VendorRectification.DONE, VendorRectification.NOT_DONE) and check.rechecked_on is None:
        raise Refused(f"{status}为「{check.rectification.label}」须填写{day}", ids)
    if check.rechecked_on is None or not (change.changed("rechecked_on") or change.changed("month")):
        return
    if check.rechecked_on > today_local():
        raise Refused(f"{day} {check.rechecked_on} 晚于今天（{today_local()}）", ids)
    if check.month and check.rechecked_on < dt.date(int(check.month[:4]), int(check.month[5:7]), 1):
        raise Refused(f"{day} {check.rechecked_on} 早于{label_of(VendorCheck, 'month')} {check.month}", ids)


def checked_month(value: str | None) -> str:
    """检查月份 as YYYY-MM (2026/3 and 2026年3月 read as 2026-03), a month that has come."""
    label, now = label_of(VendorCheck, "month"), f"{dt.datetime.now(SHANGHAI):%Y-%m}"
    month = _MONTH(value)
    if not isinstance(month, str):
        raise Refused(f"{label}「{value or ''}」无效：须为 YYYY-MM 格式的月份（如 {now}）")
    if month > now:
        raise Refused(f"{label} {month} 晚于本月（{now}）：只能登记已检查的月份")
    return month


# --- 施工人员出入证 ----------------------------------------------------------------------------------------
# A worker is let in for a renovation that may go on: approved, or under way.
PERMITTING = (RenovationStatus.APPROVED, RenovationStatus.IN_PROGRESS)


@records.rule(WorkerPermit)
def check_permit(session: Session, actor: Actor, change: records.Change) -> None:
    """装修出入证 (「负责装修出入证的办理」): for a renovation approved or under way — not one still 待审核, 已驳回 or
    finished —, valid within its period. Checked when the permit is issued or its renovation or dates change, so a
    permit handed back (交回日期) after the inspection is still recorded."""
    permit = change.obj
    if permit.renovation_id is None or not (change.changed("renovation_id") or change.changed("valid_from")
                                            or change.changed("valid_to")):
        return
    renovation = session.get(RenovationApplication, permit.renovation_id)
    if renovation is None:
        return  # the foreign key answers
    if change.changed("renovation_id") and renovation.status not in PERMITTING:
        raise Refused(f"{label_of(WorkerPermit, 'renovation')}「{renovation}」{renovation.status.label}：出入证只能为"
                      f"{'或'.join(s.label for s in PERMITTING)}的装修办理", [renovation.id])
    start, end = renovation.start_date, renovation.end_date
    for key in ("valid_from", "valid_to"):
        day = getattr(permit, key)
        if day is not None and start is not None and end is not None and not start <= day <= end:
            raise Refused(f"{label_of(WorkerPermit, key)} {day} 不在装修期内（{start}～{end}）：出入证有效期须在"
                          f"{label_of(RenovationApplication, 'start_date')}与{label_of(RenovationApplication, 'end_date')}之间",
                          [renovation.id])


# Decided by the 管理处 (「物业产权人申报房屋装修，应填写《装修申报表》…向小区物业管理处提交」, 001): from 已批准 or 已驳回
# on, an application names who decided it and when.
DECIDED = (RenovationStatus.APPROVED, RenovationStatus.REJECTED, RenovationStatus.IN_PROGRESS,
           RenovationStatus.INSPECTED, RenovationStatus.REFUNDED)


@records.rule(RenovationApplication)
def check_renovation(session: Session, actor: Actor, change: records.Change) -> None:
    """A decided application (已批准/已驳回 and after) names its 审批人 and 审批日期; a renovation approved or under
    way is of a unit handed over: not of one still 空置 (no 交房验收 yet)."""
    renovation = change.obj
    if renovation.status in DECIDED and any(change.changed(a) for a in ("status", "approved_by_id", "approved_on")):
        missing = [label_of(RenovationApplication, a) for a in ("approved_by", "approved_on")
                   if getattr(renovation, f"{a}_id" if a == "approved_by" else a) is None]
        if missing:
            raise Refused(f"{renovation.status.label}的装修申请须填写{'、'.join(missing)}：谁审批、哪天审批",
                          [renovation.id] if renovation.id else [])
    if renovation.unit_id is None or renovation.status not in PERMITTING \
            or not (change.changed("status") or change.changed("unit_id")):
        return
    unit = session.execute(select(Unit.status, Building.name, Unit.room_no).join(Building, Building.id == Unit.building_id)
                           .where(Unit.id == renovation.unit_id)).first()
    if unit is not None and unit.status is UnitStatus.VACANT:
        raise Refused(f"{label_of(RenovationApplication, 'unit')}「{unit.name}-{unit.room_no}」{unit.status.label}，尚未交房："
                      f"不能登记为“{renovation.status.label}”，请先办理交房验收（同意交房）", [renovation.unit_id])


# --- 放行条 ----------------------------------------------------------------------------------------------
TENANTS = (UnitRelation.TENANT, UnitRelation.SHOP_TENANT)


@records.rule(GoodsPass)
def check_goods_pass(session: Session, actor: Actor, change: records.Change) -> None:
    """「租户搬出须经业主同意」: a pass for a customer who rents the unit (租户、商户, a link current on the 放行日期) is
    issued or released only once the owner has agreed (业主确认). A voided pass needs nothing."""
    gate = change.obj
    if gate.status is GoodsPassStatus.VOID or gate.owner_confirmed or gate.customer_id is None or gate.unit_id is None:
        return
    if not any(change.changed(a) for a in ("status", "customer_id", "unit_id", "owner_confirmed", "pass_date")):
        return
    day = gate.pass_date
    relation = session.scalar(select(UnitCustomer.relation).where(
        UnitCustomer.unit_id == gate.unit_id, UnitCustomer.customer_id == gate.customer_id,
        UnitCustomer.relation.in_(TENANTS),
        *((UnitCustomer.start_date.is_(None) | (UnitCustomer.start_date <= day),
           UnitCustomer.end_date.is_(None) | (UnitCustomer.end_date >= day)) if day else ()),
    ).limit(1))
    if relation is not None:
        name = session.get(Customer, gate.customer_id).name
        raise Refused(f"{label_of(GoodsPass, 'customer')} {name} 是该房屋的{relation.label}：租户搬出须经业主同意，"
                      f"请先取得业主同意并勾选「{label_of(GoodsPass, 'owner_confirmed')}」", [gate.customer_id])


# --- 已发生的时刻 ------------------------------------------------------------------------------------------
# What the desk records as done: the key lent and given back, the item found and returned, the parcel in and
# picked up, the visitor come and gone. (A booking's times, a loan's 约定归还时间 are plans: not here.)
HAPPENED = {
    KeyLoan: ("lent_at", "returned_at"),
    ItemLoan: ("lent_at", "returned_at"),
    LostItem: ("found_at", "returned_at"),
    MailItem: ("received_at", "picked_up_at"),
    VisitorEntry: ("arrived_at", "left_at"),
    DutyLog: ("handed_over_at",),
}


def _has_happened(session: Session, actor: Actor, change: records.Change) -> None:
    obj = change.obj
    now = utcnow()
    for attr in HAPPENED[type(obj)]:
        when = getattr(obj, attr)
        if change.changed(attr) and not_yet(when):
            raise Refused(f"{label_of(type(obj), attr)} {shown(when)} 晚于当前时间（{shown(now)}）：只能登记已发生的时间",
                          [obj.id] if obj.id else [])


for _model in HAPPENED:
    records.rule(_model)(_has_happened)


# --- 值班日志 ----------------------------------------------------------------------------------------------
@records.rule(DutyLog)
def check_duty_log(session: Session, actor: Actor, change: records.Change) -> None:
    """A shift is logged once it has begun and handed over to another person, at its end: on the 值班日期 or the
    morning after (a night shift) — a 交接时间 a week off is a typo, and the log would not say whose shift it was."""
    log, L = change.obj, lambda attr: label_of(DutyLog, attr)  # noqa: E731
    ids = [log.id] if log.id else []
    today = dt.datetime.now(SHANGHAI).date()
    if log.duty_date is not None and log.duty_date > today and change.changed("duty_date"):
        raise Refused(f"{L('duty_date')} {log.duty_date} 晚于今天（{today}）：值班日志记录已开始的班次", ids)
    if log.handed_to_id is not None and log.handed_to_id == log.on_duty_id \
            and (change.changed("handed_to_id") or change.changed("on_duty_id")):
        raise Refused(f"{L('handed_to')}与{L('on_duty')}是同一人：交接班须交给下一班的值班人员", [log.handed_to_id])
    handed = log.handed_over_at
    if handed is None or log.duty_date is None or not (change.changed("handed_over_at") or change.changed("duty_date")):
        return
    day = handed.astimezone(SHANGHAI).date()
    if not log.duty_date <= day <= log.duty_date + dt.timedelta(days=1):
        raise Refused(f"{L('handed_over_at')} {shown(handed)} 不在{L('duty_date')} {log.duty_date} 当天或次日："
                      f"交接班在本班结束时进行，请核对日期", ids)


# --- 整改通知书 --------------------------------------------------------------------------------------------
@records.rule(RectificationNotice)
def check_rectification(session: Session, actor: Actor, change: records.Change) -> None:
    """The 复查 is on a day between the notice's 发出日期 and today; 逾期未改 is found at a 复查 on or after the
    整改期限, not before it."""
    notice = change.obj
    checked, L = notice.checked_on, lambda attr: label_of(RectificationNotice, attr)  # noqa: E731
    if checked is None or not any(change.changed(a) for a in ("checked_on", "status", "issued_on", "deadline")):
        return
    today = dt.datetime.now(SHANGHAI).date()
    if checked > today:
        raise Refused(f"{L('checked_on')} {checked} 晚于今天（{today}）：只能登记已做的复查", [notice.id] if notice.id else [])
    if notice.issued_on is not None and checked < notice.issued_on:
        raise Refused(f"{L('checked_on')} {checked} 早于{L('issued_on')} {notice.issued_on}", [notice.id] if notice.id else [])
    if notice.status is NoticeStatus.OVERDUE and notice.deadline is not None and checked < notice.deadline:
        raise Refused(f"{L('deadline')} {notice.deadline} 未到（{L('checked_on')} {checked}）：不能登记为"
                      f"“{NoticeStatus.OVERDUE.label}”", [notice.id] if notice.id else [])


# --- 邮件包裹 ---------------------------------------------------------------------------------------------
@records.rule(MailItem)
def check_mail_pickup(session: Session, actor: Actor, change: records.Change) -> None:
    item, L = change.obj, lambda attr: label_of(MailItem, attr)  # noqa: E731
    if not (change.changed("picked_up_at") or change.changed("picked_up_by")):
        return
    who = (item.picked_up_by or "").strip()
    if item.picked_up_at is not None and not who:
        raise Refused(f"已填写{L('picked_up_at')}，请填写{L('picked_up_by')}：发放须登记由谁领取", [item.id] if item.id else [])
    if who and item.picked_up_at is None:
        raise Refused(f"已填写{L('picked_up_by')} {who}，请填写{L('picked_up_at')}", [item.id] if item.id else [])


# --- 公告 ---------------------------------------------------------------------------------------------------
@records.rule(OwnerNotice)
def check_notice_audience(session: Session, actor: Actor, change: records.Change) -> None:
    """A notice to 部分楼栋/住户 names them in its 发布范围 (3栋、地下车库): without it nobody can tell who was told."""
    notice = change.obj
    if notice.audience is Audience.PART and not (notice.audience_note or "").strip() \
            and (change.changed("audience") or change.changed("audience_note")):
        raise Refused(f"{label_of(OwnerNotice, 'audience')}为“{Audience.PART.label}”时须填写"
                      f"{label_of(OwnerNotice, 'audience_note')}（如：3栋、地下车库）", [notice.id] if notice.id else [])


# --- 交房验收 ---------------------------------------------------------------------------------------------
@records.rule(MoveInChecklist)
def check_move_in(session: Session, actor: Actor, change: records.Change) -> None:
    """同意交房 on a 验收日期 ahead would hand the unit over today with a 交房日期 to come (the unit's own form refuses
    that date, and any later edit of the unit with it): the acceptance is recorded once the walk-through is done."""
    checklist = change.obj
    today = dt.datetime.now(SHANGHAI).date()
    if checklist.accepted and checklist.handover_date is not None and checklist.handover_date > today \
            and (change.changed("accepted") or change.changed("handover_date")):
        raise Refused(f"{label_of(MoveInChecklist, 'handover_date')} {checklist.handover_date} 晚于今天（{today}）："
                      f"验收完成后才能登记“{label_of(MoveInChecklist, 'accepted')}”", [checklist.id] if checklist.id else [])


# --- 房屋整改 ---------------------------------------------------------------------------------------------
@records.rule(HouseDefect)
def check_defect(session: Session, actor: Actor, change: records.Change) -> None:
    defect, L = change.obj, lambda attr: label_of(HouseDefect, attr)  # noqa: E731
    if defect.checklist_id is not None and (change.changed("checklist_id") or change.changed("unit_id")):
        checklist = session.get(MoveInChecklist, defect.checklist_id)
        if checklist is not None and checklist.unit_id != defect.unit_id:
            raise Refused(f"{L('checklist')}「{checklist}」是另一套房屋的：请选择该房屋的{L('checklist')}，或清空此项",
                          [checklist.id])
    if defect.sent_on is not None and defect.found_on is not None and defect.sent_on < defect.found_on \
            and (change.changed("sent_on") or change.changed("found_on")):
        raise Refused(f"{L('sent_on')} {defect.sent_on} 早于{L('found_on')} {defect.found_on}",
                      [defect.id] if defect.id else [])
