"""Keyword-only factories: each makes one record with sensible defaults and flushes it."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.accounts import hash_password
from models import (
    Branch,
    Building,
    Customer,
    Project,
    Role,
    Staff,
    StaffPosition,
    Unit,
    UnitCustomer,
    UnitStatus,
    User,
)

_seq = itertools.count(1)
PASSWORD = "pass-word-123"
_HASH: dict[str, str] = {}


def _n() -> int:
    return next(_seq)


def branch(session: Session, *, name: str | None = None) -> Branch:
    row = Branch(name=name or f"分公司{_n()}")
    session.add(row)
    session.flush()
    return row


def project(session: Session, *, name: str | None = None, branch_: Branch | None = None) -> Project:
    row = Project(name=name or f"项目{_n()}", branch=branch_ or branch(session), company="测试物业服务有限公司")
    session.add(row)
    session.flush()
    return row


def building(session: Session, *, project_: Project, name: str | None = None) -> Building:
    row = Building(project=project_, name=name or f"{_n()}栋")
    session.add(row)
    session.flush()
    return row


def unit(
    session: Session,
    *,
    project_: Project,
    building_: Building | None = None,
    room_no: str | None = None,
    area: Decimal = Decimal("89.50"),
    status: UnitStatus = UnitStatus.OCCUPIED,
) -> Unit:
    row = Unit(
        project=project_,
        building=building_ or building(session, project_=project_),
        room_no=room_no or f"{_n()}01",
        area=area,
        status=status,
    )
    session.add(row)
    session.flush()
    return row


def customer(session: Session, *, project_: Project, name: str = "张伟", phone: str = "13812345678",
             id_number: str = "110101199003071234", unit_: Unit | None = None) -> Customer:
    row = Customer(project=project_, name=name, phone=phone, id_number=id_number)
    session.add(row)
    session.flush()
    if unit_ is not None:
        session.add(UnitCustomer(project=project_, unit=unit_, customer=row, start_date=dt.date(2024, 1, 1)))
        session.flush()
    return row


def staff(session: Session, *, project_: Project, name: str | None = None,
          position: StaffPosition = StaffPosition.FRONT_DESK) -> Staff:
    n = _n()
    row = Staff(project=project_, name=name or f"员工{n}", employee_no=f"E{n:05d}", position=position)
    session.add(row)
    session.flush()
    return row


def user(session: Session, *, username: str | None = None, roles: list[str] = (), projects: list[Project] = (),
         branch_: Branch | None = None, superuser: bool = False, password: str = PASSWORD) -> User:
    if password not in _HASH:  # argon2 is slow on purpose; tests reuse one hash per password
        _HASH[password] = hash_password(password)
    role_rows = list(session.scalars(select(Role).where(Role.name.in_(roles)))) if roles else []
    assert len(role_rows) == len(set(roles)), f"unknown role in {roles}"
    row = User(
        username=username or f"user{_n()}",
        display_name=username or "测试用户",
        password_hash=_HASH[password],
        is_superuser=superuser,
        roles=role_rows,
        projects=list(projects),
        branch=branch_,
    )
    session.add(row)
    session.flush()
    return row


def service_request(session: Session, *, project_, kind=None, category=None, priority=None, unit_=None,
                    received_at: dt.datetime | None = None, content: str = "厨房水管漏水", receiver: User | None = None):
    """A pending 客户诉求 (defaults: a private repair of the plumbing, received an hour ago)."""
    from models import Priority, RequestCategory, RequestKind, ServiceRequest, utcnow

    row = ServiceRequest(
        project=project_,
        kind=kind or RequestKind.REPAIR_PRIVATE,
        category=category or RequestCategory.PLUMBING,
        priority=priority or Priority.NORMAL,
        unit=unit_,
        contact_name="张伟",
        contact_phone="13812345678",
        content=content,
        received_at=received_at or utcnow() - dt.timedelta(hours=1),
        receiver=receiver,
    )
    session.add(row)
    session.flush()
    return row


def fee_type(session: Session, *, project_, name: str | None = None, basis=None, rate: Decimal = Decimal("2.50"),
             due_day: int = 1, active: bool = True):
    """A 收费项目 (default: 物业管理费 at 2.50 元/㎡·月, due on the 1st)."""
    from models import FeeBasis, FeeType

    row = FeeType(project=project_, name=name or f"物业管理费{_n()}", basis=basis or FeeBasis.PER_AREA, rate=rate,
                  due_day=due_day, active=active)
    session.add(row)
    session.flush()
    return row


def bill(session: Session, *, unit_: Unit, fee_type_, period: str, amount_due: Decimal = Decimal("250.00"),
         amount_paid: Decimal = Decimal("0.00"), due_date: dt.date | None = None, customer_=None, collector_=None):
    """A 账单; status follows ``amount_paid`` (未缴 / 部分缴纳 / 已缴清); due on the 1st of the period."""
    from models import Bill, BillStatus

    status = BillStatus.UNPAID if not amount_paid else BillStatus.PAID if amount_paid >= amount_due else BillStatus.PARTIAL
    row = Bill(
        project_id=unit_.project_id, unit=unit_, fee_type=fee_type_, period=period, amount_due=amount_due,
        amount_paid=amount_paid, status=status, customer=customer_,
        due_date=due_date or dt.date(int(period[:4]), int(period[5:7]), 1),
        collector_id=collector_.id if collector_ is not None else unit_.collector_id,
    )
    session.add(row)
    session.flush()
    return row
