"""打印单据: the paper the department hands over every day — 派工单 for the technician, 收据 after 收款, 放行条 for
the guard, 施工人员出入证 for a renovation worker, 整改通知书 for an owner, 物业验收清单 for a handover. Each is one :class:`Slip` (a title, a
number, labelled fields, an optional table and the signature lines), read within the actor's projects; the
console prints any slip with one template (half an A4 sheet, or a whole one for a notice).

Labels come from the models; personal data is masked unless ``full`` (the role may see it in full)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    Bill,
    Branch,
    Building,
    Customer,
    Department,
    FeeType,
    GoodsPass,
    HouseDefect,
    MoveInChecklist,
    Payment,
    Project,
    RectificationNotice,
    RenovationApplication,
    ServiceRequest,
    Staff,
    Unit,
    User,
    WorkerPermit,
    WorkOrder,
    label_of,
)

from .actor import Actor
from .billing import payer_id
from .dunning import rmb_upper
from .errors import NotPermitted, Refused
from .privacy import mask


@dataclass(frozen=True)
class Slip:
    kind: str  # work-order / receipt / goods-pass / worker-permit / rectification-notice
    title: str
    company: str
    project: str
    number: str
    fields: tuple[tuple[str, str], ...]
    text: tuple[tuple[str, str], ...] = ()  # long texts, each a paragraph under its label
    table_head: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()
    total: tuple[str, str] | None = None  # (in figures, in words)
    blanks: tuple[str, ...] = ()  # lines left to be filled in by hand
    signs: tuple[str, ...] = ()
    copies: tuple[str, ...] = ("",)  # 客户联 / 存根联 …: the slip printed once per copy
    full_page: bool = False  # A4 (a notice) rather than half an A4


def _local(value: dt.datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _company(session: Session, project_id: int) -> tuple[str, str]:
    project, company, branch = session.execute(
        select(Project.name, Project.company, Branch.company).join(Branch, Branch.id == Project.branch_id)
        .where(Project.id == project_id)).one()
    return company or branch or project, project


def _unit(session: Session, unit_id: int | None) -> str:
    if unit_id is None:
        return ""
    row = session.execute(select(Building.name, Unit.room_no).join(Building, Building.id == Unit.building_id)
                          .where(Unit.id == unit_id)).first()
    return f"{row[0]}-{row[1]}" if row else ""


def _name(session: Session, model: type, row_id: int | None, attr: str = "name") -> str:
    if not row_id:
        return ""
    return session.scalar(select(getattr(model, attr)).where(model.id == row_id)) or ""


def _user(session: Session, user_id: int | None) -> str:
    if not user_id:
        return ""
    name, username = session.execute(select(User.display_name, User.username).where(User.id == user_id)).one()
    return name or username


def _record(session: Session, model: type, record_id: int, actor: Actor) -> Any:
    row = session.get(model, record_id)
    if row is None:
        raise Refused(f"{model.__label__}不存在：{record_id}", [record_id])
    if not actor.can_see(row.project_id):
        raise NotPermitted(f"无权打印{model.__label__}#{record_id}", [record_id])
    return row


def work_order_slip(session: Session, *, order_id: int, actor: Actor, full: bool = False) -> Slip:
    """派工单: what, where, whom to call, by when — and room for the technician's result and the owner's word."""
    order = _record(session, WorkOrder, order_id, actor)
    request = session.get(ServiceRequest, order.request_id)
    company, project = _company(session, order.project_id)
    L = lambda attr: label_of(WorkOrder, attr)  # noqa: E731
    R = lambda attr: label_of(ServiceRequest, attr)  # noqa: E731
    phone = request.contact_phone if full else mask("phone", request.contact_phone)
    return Slip(
        "work-order", WorkOrder.__label__, company, project, f"PG{order.id:06d}",
        fields=(
            (R("unit"), _unit(session, request.unit_id) or "公共区域"), (R("contact_name"), request.contact_name),
            (R("contact_phone"), phone), (R("kind"), request.kind.label), (R("category"), request.category.label),
            (L("priority"), order.priority.label), (L("department"), _name(session, Department, order.department_id)),
            (L("assignee"), _name(session, Staff, order.assignee_id)), (L("dispatched_at"), _local(order.dispatched_at)),
            (L("respond_due_at"), _local(order.respond_due_at)), (L("complete_due_at"), _local(order.complete_due_at)),
            (R("receiver"), _user(session, request.receiver_id)),
        ),
        text=((R("content"), request.content),) + (((L("reassign_note"), order.reassign_note),) if order.reassign_note else ()),
        blanks=("到场时间", "处理结果", "所用材料 / 有偿服务报价（须业主签字确认后施工）", "完工时间"),
        signs=("维修人签字", "业主签字（满意 / 基本满意 / 不满意）"),
    )


def receipt_slip(session: Session, *, payment_id: int, actor: Actor) -> Slip:
    """收据 of the 收款 a payment line belongs to: every bill it paid, under its one number."""
    payment = _record(session, Payment, payment_id, actor)
    rows = session.execute(
        select(Payment, Bill.unit_id, Bill.period, FeeType.name)
        .join(Bill, Bill.id == Payment.bill_id).join(FeeType, FeeType.id == Bill.fee_type_id)
        .where(Payment.project_id == payment.project_id, Payment.receipt_no == payment.receipt_no)
        .order_by(Bill.period, FeeType.name, Payment.id)
    ).all()
    unit_id = rows[0].unit_id
    company, project = _company(session, payment.project_id)
    payer = session.scalar(select(Customer.name).where(Customer.id == payer_id(literal(unit_id))))
    # a line 冲正 since (recorded wrongly) is printed marked and counts in no total: the money it says was not taken
    total = sum((p.amount for p, *_ in rows if p.reversed_at is None), Decimal("0"))
    return Slip(
        "receipt", "收据", company, project, payment.receipt_no,
        fields=(
            (label_of(Bill, "unit"), _unit(session, unit_id)), ("缴费人", payer or ""),
            (label_of(Payment, "paid_at"), _local(payment.paid_at)), (label_of(Payment, "method"), payment.method.label),
            (label_of(Payment, "collector"), _name(session, Staff, payment.collector_id)),
        ),
        table_head=(label_of(Bill, "period"), label_of(Bill, "fee_type"), label_of(Payment, "amount")),
        table=tuple((period, fee, f"{p.amount:,.2f}" + ("（已冲正）" if p.reversed_at is not None else ""))
                    for p, _, period, fee in rows),
        total=(f"{total:,.2f}", rmb_upper(total)),
        signs=("收款人（盖章）", "缴费人签字"),
        copies=("客户联", "存根联"),
    )


def goods_pass_slip(session: Session, *, pass_id: int, actor: Actor, full: bool = False) -> Slip:
    """放行条: the goods a unit may take out, for the guard at the gate."""
    row = _record(session, GoodsPass, pass_id, actor)
    company, project = _company(session, row.project_id)
    L = lambda attr: label_of(GoodsPass, attr)  # noqa: E731
    return Slip(
        "goods-pass", GoodsPass.__label__, company, project, row.code or f"FX{row.id:06d}",
        fields=(
            (L("unit"), _unit(session, row.unit_id)), (L("applicant"), row.applicant),
            (L("owner_confirmed"), "是" if row.owner_confirmed else "否"), (L("carrier"), row.carrier),
            (L("carrier_phone"), row.carrier_phone if full else mask("phone", row.carrier_phone)),
            (L("plate_no"), row.plate_no), (L("pass_date"), _date(row.pass_date)),
            (L("approved_by"), _name(session, Staff, row.approved_by_id)),
        ),
        text=((L("items"), row.items),),
        signs=("客服中心（盖章）", "保安核验放行", "放行时间"),
    )


def worker_permit_slip(session: Session, *, permit_id: int, actor: Actor, full: bool = False) -> Slip:
    """施工人员出入证: the worker, the renovation and the dates it is valid."""
    row = _record(session, WorkerPermit, permit_id, actor)
    company, project = _company(session, row.project_id)
    renovation = session.get(RenovationApplication, row.renovation_id) if row.renovation_id else None
    L = lambda attr: label_of(WorkerPermit, attr)  # noqa: E731
    return Slip(
        "worker-permit", WorkerPermit.__label__, company, project, row.code or f"CR{row.id:06d}",
        fields=(
            (L("name"), row.name), (L("trade"), row.trade),
            (L("id_number"), row.id_number if full else mask("id_number", row.id_number)),
            (L("phone"), row.phone if full else mask("phone", row.phone)),
            ("施工房屋", _unit(session, renovation.unit_id) if renovation else ""),
            (label_of(RenovationApplication, "contractor"), renovation.contractor if renovation else ""),
            ("有效期", f"{_date(row.valid_from)} 至 {_date(row.valid_to)}"),
        ),
        blanks=("须佩戴本证出入，限在施工房屋内作业；装修时间：工作日 8:00–12:00、14:00–18:00",),
        signs=("客服中心（盖章）",),
    )


def rectification_slip(session: Session, *, notice_id: int, actor: Actor) -> Slip:
    """整改通知书: the violation, what to put right and by when, with a 签收 for the owner."""
    row = _record(session, RectificationNotice, notice_id, actor)
    company, project = _company(session, row.project_id)
    L = lambda attr: label_of(RectificationNotice, attr)  # noqa: E731
    return Slip(
        "rectification-notice", RectificationNotice.__label__, company, project, row.code or f"ZG{row.id:06d}",
        fields=(
            (L("unit"), _unit(session, row.unit_id)), (L("customer"), _name(session, Customer, row.customer_id)),
            (L("issued_on"), _date(row.issued_on)), (L("deadline"), _date(row.deadline)),
            (L("issued_by"), _name(session, Staff, row.issued_by_id)),
        ),
        text=((L("violation"), row.violation), (L("requirement"), row.requirement),
              ("", f"请于 {_date(row.deadline)} 前整改完毕，届时本中心将复查。逾期未整改的，本中心将依据《管理规约》及有关规定上报处理。")),
        signs=(f"{project}客户服务中心（盖章）", "业主/使用人签收", "签收日期"),
        full_page=True,
    )


def move_in_slip(session: Session, *, checklist_id: int, actor: Actor) -> Slip:
    """物业验收清单 (001 入伙): 「持《物业验收清单》带领业主……将室内水、电、气表读数记录其中，并要求业主确认是否同意交房，
    双方签字」 — one copy for the owner, one for the owner's file; the quality problems found on this walk-through
    (房屋整改, sent to the developer) listed under it, or lines to write them in."""
    row = _record(session, MoveInChecklist, checklist_id, actor)
    company, project = _company(session, row.project_id)
    L = lambda attr: label_of(MoveInChecklist, attr)  # noqa: E731
    D = lambda attr: label_of(HouseDefect, attr)  # noqa: E731
    defects = session.execute(select(HouseDefect.location, HouseDefect.description, HouseDefect.status)
                              .where(HouseDefect.checklist_id == row.id).order_by(HouseDefect.id)).all()
    reading = lambda value: "" if value is None else f"{value:.2f}"  # noqa: E731
    return Slip(
        "move-in-checklist", "物业验收清单", company, project, f"JF{row.id:06d}",
        fields=(
            (L("unit"), _unit(session, row.unit_id)), (L("customer"), _name(session, Customer, row.customer_id)),
            (L("received_by"), row.received_by), (L("handover_date"), _date(row.handover_date)),
            (L("water_reading"), reading(row.water_reading)), (L("power_reading"), reading(row.power_reading)),
            (L("gas_reading"), reading(row.gas_reading)), (L("keys_count"), str(row.keys_count)),
            (L("handled_by"), _name(session, Staff, row.handled_by_id)),
            (L("accepted"), "是" if row.accepted else "否"),
        ),
        text=tuple((label, value) for label, value in ((L("documents"), row.documents), (L("note"), row.note))
                   if value),
        table_head=(D("location"), D("description"), D("status")) if defects else (),
        table=tuple((location, description, status.label) for location, description, status in defects),
        blanks=() if defects else ("房屋质量问题（如有，记入《房屋整改工程记录表》）", ""),
        signs=("业主（受托人）签字", "带房人员签字", "签字日期"),
        copies=("业主联", "存档联"),
        full_page=True,
    )
