"""房屋: what a unit's state and dates must agree with, typed in the console or read from a spreadsheet —
and the state the front desk's records move it to: a completed 交房验收 hands it over, an approved renovation
makes it 装修中 until the work is inspected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, event, inspect, or_, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    Building,
    Customer,
    MoveInChecklist,
    Project,
    RenovationApplication,
    RenovationStatus,
    Staff,
    Unit,
    UnitCustomer,
    UnitRelation,
    UnitStatus,
    label_of,
)

from . import records
from .actor import Actor
from .audit import as_actor
from .errors import NotPermitted, Refused
from .kernel.periods import today_local
from .kernel.posts import BUTLER_POSITIONS, COLLECTING_POSITIONS, post_refusal
from .privacy import mask
from .spreadsheets import clean


def unit_dates_problem(handover: dt.date | None, move_in: dt.date | None) -> tuple[str, str] | None:
    """Why these 交房日期 / 入住日期 cannot stand — (the field at fault, the reason in Chinese) — or None: no date
    after today (Beijing time), and no one moves in before the handover or into a unit not handed over."""
    today = dt.datetime.now(SHANGHAI).date()
    for key, day in (("handover_date", handover), ("move_in_date", move_in)):
        if day is not None and day > today:
            return key, f"{label_of(Unit, key)} {day} 晚于今天（{today}）"
    if move_in is None or (handover is not None and move_in >= handover):
        return None  # the common case, asked for every row of an import: no labels looked up
    handover_label, move_in_label = label_of(Unit, "handover_date"), label_of(Unit, "move_in_date")
    if handover is None:
        return "move_in_date", f"有{move_in_label}须先填写{handover_label}：房屋交付后才能入住"
    return "move_in_date", f"{move_in_label} {move_in} 早于{handover_label} {handover}"


def unit_label(session: Session, *, unit_id: int, project_id: int, actor: Actor) -> str | None:
    """The unit as the lists name it (楼栋-房号: 5栋-0802), for a page naming the one chosen (登记走访); None where it
    is not a unit of ``project_id`` the actor sees — its name is then not told."""
    row = session.execute(select(Building.name, Unit.room_no, Unit.project_id)
                          .join(Building, Building.id == Unit.building_id).where(Unit.id == unit_id)).first()
    if row is None or row.project_id != project_id or not actor.can_see(project_id):
        return None
    return f"{row.name}-{row.room_no}"


@records.rule(Unit)
def _unit_form(session: Session, actor: Actor, change: records.Change) -> None:
    unit = change.obj
    problem = unit_dates_problem(unit.handover_date, unit.move_in_date)
    if problem:
        raise Refused(problem[1], [unit.id] if unit.id else [])
    # 责任到人 as the units import holds it: the form's pickers offer only these posts, a tampered or stale choice
    # is refused here
    for key, positions in (("butler_id", BUTLER_POSITIONS), ("collector_id", COLLECTING_POSITIONS)):
        staff_id = getattr(unit, key)
        if staff_id is None or not (change.created or change.changed(key)):
            continue
        staff = session.execute(select(Staff.name, Staff.position).where(Staff.id == staff_id)).first()
        refusal = staff and post_refusal(staff.name, staff.position, label_of(Unit, key), positions)
        if refusal:
            raise Refused(refusal, [staff_id])


def linked_on(day: dt.date | None = None) -> ColumnElement[bool]:
    """A customer's tie to a unit not ended on ``day`` (today, Beijing time, by default): no 终止日期, or one on or
    after it — a tenant whose lease runs to next May is the unit's tenant now, and is found when calling."""
    return or_(UnitCustomer.end_date.is_(None), UnitCustomer.end_date >= (day or today_local()))


def current_units(session: Session, *, customer_ids: Sequence[int],
                  actor: Actor) -> dict[int, tuple[tuple[str, str], ...]]:
    """The units each customer is linked to now (``linked_on``), as (楼栋-房号, 关系) — shown 1栋-101（业主）, the
    primary contact's link first — for a page of customers (the desk's list finds a caller by name or 尾号 and sees where
    he lives): one query for the page, only units of projects the actor sees."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(UnitCustomer.customer_id, Building.name, Unit.room_no, UnitCustomer.relation)
        .join(Unit, Unit.id == UnitCustomer.unit_id).join(Building, Building.id == Unit.building_id)
        .where(UnitCustomer.customer_id.in_(sorted(set(customer_ids))), linked_on(),
               actor.project_filter(Unit.project_id))
        .order_by(UnitCustomer.customer_id, UnitCustomer.is_primary.desc(), Building.sort_key, Unit.sort_key,
                  UnitCustomer.id)).all()
    out: dict[int, list[tuple[str, str]]] = {}
    for customer_id, building, room_no, relation in rows:
        out.setdefault(customer_id, []).append((f"{building}-{room_no}", relation.label))
    return {customer_id: tuple(units) for customer_id, units in out.items()}


def current_occupants(session: Session, *, unit_ids: Sequence[int],
                      actor: Actor) -> dict[int, tuple[tuple[str, str], ...]]:
    """Who lives in each unit now, as (姓名, 关系) — shown 陈静（业主）, the primary contact first — for a page of
    units (a butler on patrol reads the unit and its resident first): one query for the page, only units of
    projects the actor sees."""
    if not unit_ids:
        return {}
    rows = session.execute(
        select(UnitCustomer.unit_id, Customer.name, UnitCustomer.relation)
        .join(Customer, Customer.id == UnitCustomer.customer_id).join(Unit, Unit.id == UnitCustomer.unit_id)
        .where(UnitCustomer.unit_id.in_(sorted(set(unit_ids))), linked_on(), actor.project_filter(Unit.project_id))
        .order_by(UnitCustomer.unit_id, UnitCustomer.is_primary.desc(), UnitCustomer.id)).all()
    out: dict[int, list[tuple[str, str]]] = {}
    for unit_id, name, relation in rows:
        out.setdefault(unit_id, []).append((name, relation.label))
    return {unit_id: tuple(people) for unit_id, people in out.items()}


@records.rule(UnitCustomer)
def _link_dates(session: Session, actor: Actor, change: records.Change) -> None:
    """A customer's tie to a unit (业主、租户 …) ends after it starts: a 终止日期 before the 起始日期 is a typo that
    would make the link look ended before it began."""
    link = change.obj
    if link.start_date is not None and link.end_date is not None and link.end_date < link.start_date:
        raise Refused(f"{label_of(UnitCustomer, 'end_date')} {link.end_date} 早于{label_of(UnitCustomer, 'start_date')} "
                      f"{link.start_date}", [link.id] if link.id else [])


@records.delete_rule(Customer)
def _customer_with_units(session: Session, actor: Actor, customer: Customer) -> None:
    """A customer still linked to a unit (业主、租户 …) is not deleted: the delete failed on its links with
    「「客户」不能为空」, which named nothing the user did. Refused naming the units; the links are ended (终止日期)
    or removed in 房屋客户 first."""
    links = session.execute(
        select(Building.name, Unit.room_no, UnitCustomer.relation).join(Unit, Unit.id == UnitCustomer.unit_id)
        .join(Building, Building.id == Unit.building_id).where(UnitCustomer.customer_id == customer.id)
        .order_by(Building.name, Unit.room_no).limit(4)).all()
    if links:
        named = "、".join(f"{b}-{r}（{rel.label}）" for b, r, rel in links[:3]) + ("等" if len(links) > 3 else "")
        raise Refused(f"客户 {customer.name} 仍关联房屋 {named}，不能删除：请先在{UnitCustomer.__label__}中删除这些关联",
                      [customer.id])


# 装修申请 states in which the unit is being renovated: approved, or under way.
RENOVATING = (RenovationStatus.APPROVED, RenovationStatus.IN_PROGRESS)


def _changed(obj: Any, *attrs: str) -> bool:
    state = inspect(obj)
    return state.pending or any(state.attrs[a].history.has_changes() for a in attrs)


def _after_renovation(session: Session, unit: Unit, ended: RenovationApplication) -> UnitStatus:
    """The state a unit returns to when a renovation ends (inspected, refunded, rejected): still 装修中 while
    another approved one runs; else 已入住 if someone moved in, 已交房 otherwise."""
    others = session.scalar(
        select(RenovationApplication.id).where(
            RenovationApplication.unit_id == unit.id, RenovationApplication.status.in_(RENOVATING),
            RenovationApplication.id != ended.id,
        ).limit(1)
    ) if unit.id is not None else None
    if others is not None:
        return UnitStatus.DECORATING
    return UnitStatus.OCCUPIED if unit.move_in_date else UnitStatus.HANDED_OVER


@event.listens_for(Session, "before_flush")
def _unit_status_follows_its_records(session: Session, _ctx: Any, _instances: Any) -> None:
    """Whatever writes the record (a console form, an action, the CLI), the unit's state moves in the same flush,
    so in the same transaction: 交房验收 with 同意交房 → 已交房 (a vacant unit; its 交房日期 filled if empty);
    装修申请 approved → 装修中; inspected / deposit refunded / rejected → back to 已入住 or 已交房."""
    with session.no_autoflush:
        for obj in [*session.new, *session.dirty]:
            if isinstance(obj, MoveInChecklist) and obj.accepted and _changed(obj, "accepted", "unit_id"):
                unit = obj.unit or session.get(Unit, obj.unit_id)
                if unit is not None and unit.status is UnitStatus.VACANT:
                    unit.status = UnitStatus.HANDED_OVER
                    if unit.handover_date is None:
                        unit.handover_date = obj.handover_date
            elif isinstance(obj, RenovationApplication) and _changed(obj, "status", "unit_id"):
                # moved off a unit (the wrong room typed, corrected): that unit's renovation ended with it
                history = inspect(obj).attrs.unit_id.history
                if _stored(obj, "status") in RENOVATING:
                    for was in history.deleted or ():
                        _renovation_ended(session, session.get(Unit, was) if was is not None else None, obj)
                unit = session.get(Unit, obj.unit_id) if history.deleted else obj.unit or session.get(Unit, obj.unit_id)
                if unit is None:
                    continue
                if obj.status in RENOVATING:
                    unit.status = UnitStatus.DECORATING
                else:
                    _renovation_ended(session, unit, obj)
        for obj in session.deleted:
            if isinstance(obj, RenovationApplication) and _stored(obj, "status") in RENOVATING:
                # an approved renovation deleted (entered by mistake): its unit is not left 装修中
                _renovation_ended(session, session.get(Unit, _stored(obj, "unit_id")), obj)


def _stored(obj: Any, attr: str) -> Any:
    """The value as loaded from the database, before any change in this session."""
    history = inspect(obj).attrs[attr].history
    return history.deleted[0] if history.deleted else getattr(obj, attr)


def _renovation_ended(session: Session, unit: Unit | None, ended: RenovationApplication) -> None:
    if unit is not None and unit.status is UnitStatus.DECORATING:
        unit.status = _after_renovation(session, unit, ended)


# --- 登记住户 ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OccupantAdded:
    unit_id: int
    customer_id: int
    link_id: int
    created: bool  # a new 客户; else one of the project, found by 身份证号 or by 手机号 + 姓名
    message: str


def _number(kind: str, typed: str, label: str) -> str:
    """A phone or ID number as the customers import stores it (``clean.phone`` / ``clean.id_number``), or a refusal
    naming the field (an ID number masked: refusals are logged)."""
    value = (clean.phone() if kind == "phone" else clean.id_number())(typed)
    if value is clean.MASKED:
        raise Refused(f"{label}：请填写完整的号码，不能含 *")
    if isinstance(value, clean.Invalid):
        reason = value.reason.replace(value.shown, mask(kind, value.shown)) if value.shown else value.reason
        raise Refused(f"{label}：{reason}")
    return value or ""


def occupant_unit(session: Session, *, unit_id: int, actor: Actor) -> str:
    """The unit the 登记住户 page is for, as its title names it (锦绣华庭 1栋-1302), within the actor's projects."""
    unit = session.get(Unit, unit_id)
    if unit is None or not actor.can_see(unit.project_id):
        raise NotPermitted("房屋不存在，或不在您负责的项目内", [unit_id])
    return f"{session.scalar(select(Project.name).where(Project.id == unit.project_id))} {_unit_name(session, unit)}"


@as_actor
def add_occupant(session: Session, *, unit_id: int, name: str, relation: UnitRelation, phone: str = "",
                 id_number: str = "", start_date: dt.date | None = None, is_primary: bool = False,
                 form_token: str | None = None, actor: Actor) -> OccupantAdded:
    """登记住户 from the unit's page: a tenant moving in, a family member, a new owner — the customer and the link to
    the unit in one step (it took a new 客户 and then a new 房屋客户, choosing the same person again). The customer
    is the project's one with this 身份证号, else with this 手机号 and 姓名 (as the customers import identifies
    them), or a new one; both records go through their forms' rules and are audited. The form's one-time
    ``form_token`` goes with the new customer: the same form sent twice finds him and is refused 「已是…」."""
    unit = session.get(Unit, unit_id)
    if unit is None or not actor.can_see(unit.project_id):
        raise NotPermitted("房屋不存在，或不在您负责的项目内", [unit_id])
    name = (name or "").strip()
    if not name:
        raise Refused(f"请填写{label_of(Customer, 'name')}")
    phone = _number("phone", phone, label_of(Customer, "phone"))
    id_number = _number("id_number", id_number, label_of(Customer, "id_number"))
    same = Customer.project_id == unit.project_id
    customer = None
    if id_number:
        customer = session.scalar(select(Customer).where(same, Customer.id_number == id_number).limit(1))
        if customer is not None and customer.name != name:
            raise Refused(f"{label_of(Customer, 'id_number')} {mask('id_number', id_number)} 已登记为客户 {customer.name}，"
                          f"与所填{label_of(Customer, 'name')}「{name}」不符", [customer.id])
    elif phone:
        customer = session.scalar(select(Customer).where(same, Customer.phone == phone, Customer.name == name)
                                  .order_by(Customer.id).limit(1))
    created = customer is None
    if created:
        customer = records.save_record(session, Customer, None, {
            "project": unit.project_id, "name": name, "phone": phone, "id_number": id_number}, actor=actor,
            form_token=form_token)
    held = session.execute(select(UnitCustomer.id, UnitCustomer.end_date).where(
        UnitCustomer.unit_id == unit.id, UnitCustomer.customer_id == customer.id, UnitCustomer.relation == relation)
    ).first()
    if held is not None:  # one link per unit, customer and relation (its unique constraint)
        ended = held.end_date is not None and held.end_date < today_local()
        raise Refused(f"{customer.name} {'曾' if ended else '已'}是{_unit_name(session, unit)}的{relation.label}"
                      + (f"（至 {held.end_date}）：请在{UnitCustomer.__label__}中修改该记录的"
                         f"{label_of(UnitCustomer, 'end_date')}" if ended else ""), [held.id])
    link = records.save_record(session, UnitCustomer, None, {
        "project": unit.project_id, "unit": unit.id, "customer": customer.id, "relation": relation,
        "is_primary": is_primary, "start_date": start_date}, actor=actor)
    message = f"已登记 {customer.name} 为{_unit_name(session, unit)}的{relation.label}" + (
        "" if created else "（已有客户档案，未重复建档）")
    return OccupantAdded(unit.id, customer.id, link.id, created, message)


def _unit_name(session: Session, unit: Unit) -> str:
    building = session.scalar(select(Building.name).where(Building.id == unit.building_id))
    return f"{building}-{unit.room_no}"
