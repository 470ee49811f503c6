"""一户一档: everything of one unit (or one customer) on one page — who lives there, the account (bills, payments,
balance: ``billing.account_statement``), requests and work orders, callbacks and visits, dunning notices and the
front-desk ledgers that name it (renovation, mail, loans, passes, notices, defects, keys, move-in).

Each section is the unit's (customer's) latest records of one kind, newest first, with how many there are in all;
the console links each line to its record and the section to the filtered list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Building,
    Customer,
    DunningNotice,
    GoodsPass,
    HouseDefect,
    ItemLoan,
    KeyRecord,
    MailItem,
    MoveInChecklist,
    ParkingSpace,
    Project,
    RectificationNotice,
    RenovationApplication,
    ServiceRequest,
    Staff,
    Unit,
    UnitCustomer,
    Visit,
    WorkOrder,
)
from models.base import display_loads

from . import billing
from .actor import Actor
from .errors import NotPermitted, Refused
from .privacy import mask
from .units import linked_on

LIMIT = 10


@dataclass(frozen=True)
class Entry:
    record_id: int
    when: dt.datetime | dt.date | None
    text: str
    status: str


@dataclass(frozen=True)
class Section:
    key: str  # the console view of its records (its identity)
    title: str
    total: int
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Occupant:
    customer_id: int
    unit_id: int
    unit: str
    name: str
    relation: str
    phone: str  # masked
    primary: bool
    since: dt.date | None
    until: dt.date | None
    current: bool  # not ended today (``units.linked_on``): a 终止日期 still ahead is a current tie


@dataclass(frozen=True)
class UnitFile:
    unit_id: int
    project_id: int
    project: str
    label: str  # 3栋-1303
    building: str
    room_no: str
    facts: tuple[tuple[str, str], ...]  # (label, value) of the unit's record: 类型, 状态, 面积, 管家 …
    occupants: tuple[Occupant, ...]
    accounts: tuple[billing.AccountStatement, ...]
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class _Kind:
    key: str
    model: type
    when: Any  # column
    status: str | None = "status"
    text: Callable[[Any], str] = str

    def column(self, name: str) -> Any:
        return getattr(self.model, name, None)


def _order_text(order: WorkOrder) -> str:
    return f"{order} · {order.department.name if order.department else ''}"


def _visit_text(visit: Visit) -> str:
    parts = [visit.kind.label, visit.result.label if visit.result else "", visit.notes]
    return " · ".join(p for p in parts if p)


def _notice_text(notice: DunningNotice) -> str:
    return f"{notice.cycle} {notice.stage.label} · 欠费 {notice.amount:,.2f} 元（{notice.months_in_arrears} 个月）"


KINDS: tuple[_Kind, ...] = (
    _Kind("service-request", ServiceRequest, ServiceRequest.received_at),
    _Kind("work-order", WorkOrder, WorkOrder.dispatched_at, text=_order_text),
    _Kind("visit", Visit, Visit.visited_at, status=None, text=_visit_text),
    _Kind("dunning-notice", DunningNotice, DunningNotice.created_at, status=None, text=_notice_text),
    _Kind("renovation-application", RenovationApplication, RenovationApplication.start_date),
    _Kind("rectification-notice", RectificationNotice, RectificationNotice.issued_on),
    _Kind("house-defect", HouseDefect, HouseDefect.found_on),
    _Kind("move-in-checklist", MoveInChecklist, MoveInChecklist.handover_date, status=None),
    _Kind("goods-pass", GoodsPass, GoodsPass.pass_date),
    _Kind("mail-item", MailItem, MailItem.received_at, status=None),
    _Kind("item-loan", ItemLoan, ItemLoan.lent_at),
    _Kind("key-record", KeyRecord, KeyRecord.id),
    _Kind("parking-space", ParkingSpace, ParkingSpace.id, status=None),
)


def _where(kind: _Kind, unit_ids: list[int], customer_id: int | None) -> Any:
    if kind.model is WorkOrder:  # a work order names its unit through its request
        requests = select(ServiceRequest.id).where(
            ServiceRequest.customer_id == customer_id if customer_id else ServiceRequest.unit_id.in_(unit_ids))
        return WorkOrder.request_id.in_(requests)
    if customer_id is not None:
        column = kind.column("customer_id")
        return None if column is None else column == customer_id
    return kind.model.unit_id.in_(unit_ids)


def _sections(session: Session, may: Callable[[str], bool], unit_ids: list[int],
              customer_id: int | None = None) -> tuple[Section, ...]:
    out = []
    for kind in KINDS:
        where = _where(kind, unit_ids, customer_id)
        if where is None or not may(kind.key):
            continue
        total = session.scalar(select(func.count()).select_from(kind.model).where(where)) or 0
        if not total:
            continue
        options = display_loads(kind.model) + ([selectinload(WorkOrder.department)] if kind.model is WorkOrder else [])
        rows = session.scalars(select(kind.model).options(*options).where(where)
                               .order_by(kind.when.desc(), kind.model.id.desc()).limit(LIMIT)).all()
        entries = tuple(
            Entry(row.id, None if kind.when is kind.model.id else getattr(row, kind.when.key), kind.text(row),
                  getattr(row, kind.status).label if kind.status and getattr(row, kind.status, None) else "")
            for row in rows
        )
        out.append(Section(kind.key, kind.model.__label__, total, entries))
    return tuple(out)


def _occupants(session: Session, where: Any) -> tuple[Occupant, ...]:
    """The links of ``where``: the current ones first (``units.linked_on``, as the desk's lookups and the account
    read them — a tenant whose 终止日期 is still ahead lives there now), then the ended ones."""
    current = case((linked_on(), 0), else_=1)
    rows = session.execute(
        select(UnitCustomer, Customer, Building.name, Unit.room_no, current)
        .join(Customer, Customer.id == UnitCustomer.customer_id)
        .join(Unit, Unit.id == UnitCustomer.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .where(where)
        .order_by(current, UnitCustomer.is_primary.desc(), Customer.name, Building.name, Unit.room_no)
    ).all()
    return tuple(
        Occupant(c.id, link.unit_id, f"{b}-{r}", c.name, link.relation.label, mask("phone", c.phone), link.is_primary,
                 link.start_date, link.end_date, ended == 0)
        for link, c, b, r, ended in rows
    )


def unit_file(session: Session, *, unit_id: int, actor: Actor, may: Callable[[str], bool]) -> UnitFile:
    """一户一档 of a unit; ``may(identity)``: whether the user may list that view's records (a section)."""
    row = session.execute(
        select(Unit, Building.name, Project.name).join(Building, Building.id == Unit.building_id)
        .join(Project, Project.id == Unit.project_id).where(Unit.id == unit_id)
    ).first()
    if row is None:
        raise Refused(f"房屋不存在：{unit_id}", [unit_id])
    unit, building, project = row
    if not actor.can_see(unit.project_id):
        raise NotPermitted(f"无权查看房屋#{unit_id}", [unit_id])
    staff = dict(session.execute(select(Staff.id, Staff.name).where(
        Staff.id.in_([i for i in (unit.butler_id, unit.collector_id) if i]))).all())
    facts = (
        ("房屋类型", unit.kind.label), ("房屋状态", unit.status.label), ("建筑面积(㎡)", f"{unit.area:,.2f}"),
        ("交房日期", str(unit.handover_date or "—")), ("入住日期", str(unit.move_in_date or "—")),
        ("责任管家", staff.get(unit.butler_id, "—")), ("责任收费员", staff.get(unit.collector_id, "—")),
    )
    accounts = (billing.account_statement(session, unit_id=unit.id, actor=actor),) if may("bill") else ()
    return UnitFile(unit.id, unit.project_id, project, f"{building}-{unit.room_no}", building, unit.room_no, facts,
                    _occupants(session, UnitCustomer.unit_id == unit.id), accounts,
                    _sections(session, may, [unit.id]))


@dataclass(frozen=True)
class CustomerFile:
    customer_id: int
    project_id: int
    project: str
    name: str
    facts: tuple[tuple[str, str], ...]
    units: tuple[Occupant, ...]  # the units the customer is linked to, as which
    accounts: tuple[billing.AccountStatement, ...]
    sections: tuple[Section, ...]


def customer_file(session: Session, *, customer_id: int, actor: Actor, may: Callable[[str], bool]) -> CustomerFile:
    """客户档案: the customer's units, their accounts, and the customer's own requests, visits, notices …"""
    row = session.execute(select(Customer, Project.name).join(Project, Project.id == Customer.project_id)
                          .where(Customer.id == customer_id)).first()
    if row is None:
        raise Refused(f"客户不存在：{customer_id}", [customer_id])
    customer, project = row
    if not actor.can_see(customer.project_id):
        raise NotPermitted(f"无权查看客户#{customer_id}", [customer_id])
    facts = (("客户类型", customer.kind.label), ("手机号", mask("phone", customer.phone) or "—"),
             ("紧急联系人", customer.emergency_contact or "—"))
    accounts = billing.customer_accounts(session, customer_id=customer.id, actor=actor) if may("bill") else ()
    return CustomerFile(customer.id, customer.project_id, project, customer.name, facts,
                        _occupants(session, UnitCustomer.customer_id == customer.id), accounts,
                        _sections(session, may, [], customer.id))
