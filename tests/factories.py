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
