"""收费: generating a month's bills, importing bills, payments, the account statement, arrears aging and the
collection rate (收费率).

Rules kept here:

- A bill is unique by unit + fee type + period (YYYY-MM); generation and import are insert-or-ignore on that
  key, so a re-run adds nothing. Amounts follow the fee type's basis: 按面积 rate × the unit's area, 按车位
  rate × the unit's parking spaces, 固定金额 the rate. Fee types at rate 0 (代收水电 …) are filled per unit by
  import, not generated — save the 按车位 one a project's 车位租赁 bills its 月租 under (below): a project that lets
  every space sets its rate to 0, and its leases are billed all the same.
- A space let by 车位租赁 is billed its lease's 月租 (the agreed rent), not the rate: each month of the term once, in
  the 账期 that month of the term begins in (2026-01-20 至 2027-01-19 is billed 2026-01 … 2026-12), to the lessee's
  unit (the space's 关联房屋 when the lessee is linked to it, else the lessee's first unit), under the project's first
  按车位 fee type with a rate, else — in a project with leases — its first at rate 0. A space let through 车位租赁 is billed by its leases alone: not the rate as well, nor before its
  first term or after 退租 (its 关联房屋 is then the former lessee's, who no longer has it). A space never let there
  (one a household owns) keeps the rate.
- Every 收款 gets one 收据 (an account payment over several bills: one receipt listing them), numbered from
  the project's yearly sequence SJ2026-000123 in the payment's own transaction (a payment import may bring its
  own numbers); a number is used once in a project (held by the database).
- A payment never exceeds what is owed: an overpayment on a bill is refused; a payment for an account is
  spread over its open bills, oldest first, and refused if it exceeds all of them (no prepayment balance is
  kept, so nothing is silently lost).
- A bill is in arrears (欠费) once its due date has passed (``due_date < as_of``) and it is not paid in full.
  Aging counts months between the bill's period and the as-of month: 当月, 1个月, 2个月, 3个月及以上.
- 欠费月数 (the months an account is in arrears: the 停电/封铺 rule's 两个月及以上) counts the 账期 with a bill still
  owing at least ``ARREARS_TOLERANCE`` (0.50 元, RELIABILITY B10): a remainder under it — 0.30 元 left of a month
  paid in round figures — is settled with the next payment, not a month in arrears.
- 收费率 = paid ÷ due of the period's bills (waived bills left out), by amount and by household (a household
  counts as paid when every bill of the period is paid in full); the target is 93 % a month.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    ScalarSelect,
    Select,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, aliased

from models import (
    AuditKind,
    Bill,
    BillStatus,
    Building,
    Customer,
    FeeBasis,
    FeeType,
    ParkingLease,
    ParkingSpace,
    Payment,
    PayMethod,
    Phase,
    Project,
    Receipt,
    ReceiptSequence,
    Staff,
    Unit,
    UnitCustomer,
    UnitRelation,
    User,
    label_of,
    receipt_number,
    utcnow,
)
from models.base import SHANGHAI, Money
from models.fees import FeeCycle

from . import records, xlsx_out
from .actor import Actor
from .audit import as_actor, log_event, log_operation, record_bulk
from .errors import NotPermitted, Refused
from .form_tokens import form_token as one_time
from .form_tokens import not_this_form
from .jobs import QueueLock
from .kernel.money import cents, money
from .kernel.names import natural_key
from .kernel.periods import add_months, current_period, month_day, parse_period, period_of, today_local
from .kernel.posts import COLLECTING_POSITIONS, post_refusal
from .kernel.scope import visible_project
from .kernel.sql import insert_ignoring, upsert_insert
from .rates import meets_text, percent, rate_text
from .units import linked_on

MONTHLY_TARGET = Decimal("93")  # 每月收费率保持在 93% 以上
YEARLY_TARGET = Decimal("90")  # 确保全年 90% 收费目标实现（000 规划4）
OPEN = (BillStatus.UNPAID, BillStatus.PARTIAL)


@dataclass(frozen=True)
class StoredBill:
    id: int
    status: BillStatus
    amount_paid: Decimal


def bill_problem(period: str, amount_due: Decimal | None, stored: StoredBill | None = None) -> tuple[str, str] | None:
    """What is wrong with a bill's 账期 (YYYY-MM) and 应收 — (the field, the reason) — or None; against ``stored``,
    the bill it corrects. 账期 no later than next month (bills are not issued ahead: no prepayment is kept), 应收
    more than 0, not below what has been paid, and a waived bill's amount stays. The console's bill form and the
    bill import both apply it."""
    ahead = add_months(current_period(), 1)
    if period > ahead:
        return "period", f"{period} 晚于下月（{ahead}），不能提前开具账单"
    if amount_due is None:
        return None
    if amount_due <= 0:
        return "amount_due", f"{amount_due} 须大于 0"
    if stored is not None and stored.status is BillStatus.WAIVED:
        return "amount_due", f"账单#{stored.id}{stored.status.label}，不能再修改金额"
    if stored is not None and amount_due < stored.amount_paid:
        return "amount_due", f"{amount_due} 元低于账单#{stored.id}已收的 {stored.amount_paid} 元"
    return None


def check_bill(session: Session, *, bill_id: int | None, period: Any, amount_due: Any, actor: Actor) -> BillStatus:
    """A bill typed or corrected in the console (:func:`bill_problem`). Returns the status the bill then has — it
    follows the money, as a payment makes it."""
    period = parse_period(period)
    due = money(amount_due, what=label_of(Bill, "amount_due"))
    bill = session.get(Bill, bill_id) if bill_id is not None else None
    if bill is not None and not actor.can_see(bill.project_id):
        raise NotPermitted(f"无权修改账单#{bill_id}", [bill_id])
    stored = StoredBill(bill.id, bill.status, bill.amount_paid) if bill is not None else None
    problem = bill_problem(period, due, stored)
    if problem:
        raise Refused(f"{label_of(Bill, problem[0])} {problem[1]}", [bill_id] if bill_id else [])
    paid = bill.amount_paid if bill is not None else Decimal("0")
    if paid >= due:
        return BillStatus.PAID
    return BillStatus.PARTIAL if paid > 0 else BillStatus.UNPAID


@records.rule(Bill)
def _bill_form(session: Session, actor: Actor, change: records.Change) -> None:
    """账期 and 应收 checked as 生成账单 would; the status follows the corrected amount. Once money was taken on it,
    it stays the account and month it was paid for — its 收款 follow the bill. (Its 房屋, 收费项目, 缴费人 and 责任收费员
    are of its project, which its 收费率 and its account read: ``records.check_same_project``, as every record's.)"""
    bill = change.obj
    paid = change.was("amount_paid")
    if not change.created and paid:
        for attr, key in (("project_id", "project"), ("unit_id", "unit"), ("fee_type_id", "fee_type"),
                          ("period", "period")):
            if change.changed(attr):
                raise Refused(f"账单#{bill.id}已收款 {paid} 元，不能修改{label_of(Bill, key)}：收款随账单，"
                              "请另开账单", [bill.id])
    if bill.collector_id is not None and (change.created or change.changed("collector_id")):
        check_collector(session, bill.collector_id, label_of(Bill, "collector_id"))
    bill.status = check_bill(session, bill_id=None if change.created else bill.id, period=bill.period,
                             amount_due=bill.amount_due, actor=actor)


def check_collector(session: Session, staff_id: int, duty: str) -> None:
    """责任到人: the employee named ``duty`` (责任收费员) holds a post that takes money — as the forms' pickers offer
    them and the imports hold them (``post_refusal``); a tampered or stale choice is refused naming the post."""
    staff = session.execute(select(Staff.name, Staff.position).where(Staff.id == staff_id)).first()
    refusal = staff and post_refusal(staff.name, staff.position, duty, COLLECTING_POSITIONS)
    if refusal:
        raise Refused(refusal, [staff_id])


RATE_STEP = Decimal("0.0001")  # FeeType.rate is Numeric(12, 4): 元/㎡·月 to the hundredth of a fen
RATE_MAX = Decimal("99999999.9999")


@records.rule(FeeType)
def _fee_type_form(session: Session, actor: Actor, change: records.Change) -> None:
    """收费项目 typed in the console: 单价 from 0 with at most four decimals (more would be rounded by
    PostgreSQL and kept by SQLite), 缴费截止日 a day of the month 1–31 (a shorter month ends on its last day);
    a fee type billed already stays its project's (its bills are)."""
    fee = change.obj
    rate_label = label_of(FeeType, "rate")
    try:
        rate = Decimal(str(fee.rate).strip())
        fits = rate.is_finite() and 0 <= rate <= RATE_MAX and rate == rate.quantize(RATE_STEP)
    except ArithmeticError:
        fits = False
    if not fits:
        raise Refused(f"{rate_label}须在 0–{RATE_MAX} 之间，最多四位小数：{fee.rate}")
    if fee.due_day is None or not 1 <= int(fee.due_day) <= 31:
        raise Refused(f"{label_of(FeeType, 'due_day')}须为每月 1–31 日（小月按月末）：{fee.due_day}")
    if not change.created and change.changed("project_id"):
        billed = session.scalar(select(Bill.id).where(Bill.fee_type_id == fee.id).limit(1))
        if billed is not None:
            raise Refused(f"{FeeType.__label__}「{fee.name}」已有账单，不能改到其他项目", [fee.id])


# --- shared SQL pieces --------------------------------------------------------------------------------
OUTSTANDING = type_coerce(Bill.amount_due - Bill.amount_paid, Money)


def overdue(as_of: dt.date) -> ColumnElement[bool]:
    """Bills in arrears on ``as_of``: not paid in full and past their due date."""
    return and_(Bill.status.in_(OPEN), Bill.due_date < as_of)


# A balance under this is a rounding remainder, left for the next payment (RELIABILITY B10): no letter chases an
# account owing less, and a bill owing less makes no month in arrears.
ARREARS_TOLERANCE = Decimal("0.50")


def _owing_period() -> ColumnElement[str]:
    return case((OUTSTANDING >= ARREARS_TOLERANCE, Bill.period))


def months_in_arrears() -> ColumnElement[int]:
    """欠费月数 of an account's overdue bills (an aggregate over them): the distinct 账期 with a bill still owing at
    least ``ARREARS_TOLERANCE``. Two months of 0.30 元 left are no two months in arrears (no 停电/封铺 for them)."""
    return func.count(distinct(_owing_period()))


def oldest_in_arrears() -> ColumnElement[str]:
    """最早欠费账期 (an aggregate): the earliest 账期 counted in :func:`months_in_arrears`, else (only remainders
    left) the earliest owing anything."""
    return func.coalesce(func.min(_owing_period()), func.min(Bill.period))


def payer_id(unit_id: ColumnElement, on: dt.date | None = None) -> ScalarSelect:
    """The customer who pays for a unit: its primary link not ended on ``on`` (today by default: a lease with a
    终止日期 ahead still runs), owners before shop tenants and tenants."""
    rank = case(
        {UnitRelation.OWNER: 0, UnitRelation.SHOP_TENANT: 1, UnitRelation.TENANT: 2},
        value=UnitCustomer.relation,
        else_=3,
    )
    return (
        select(UnitCustomer.customer_id)
        .where(UnitCustomer.unit_id == unit_id, linked_on(on))
        .order_by(UnitCustomer.is_primary.desc(), rank, UnitCustomer.id)
        .limit(1)
        .correlate_except(UnitCustomer)
        .scalar_subquery()
    )


# --- choices for the fee pages ------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    id: int
    label: str
    project_id: int


@dataclass(frozen=True)
class FeeChoices:
    projects: tuple[Choice, ...]
    buildings: tuple[Choice, ...]  # by project, then in natural order (1栋, 2栋 … 10栋)
    staff: tuple[Choice, ...]
    fee_types: tuple[Choice, ...]  # active, 按月, with a rate: the ones the monthly run bills
    collectors: tuple[Choice, ...] = ()  # who may be named 收款人: cashiers and the front desk (and the actor)
    own_staff_id: int | None = None  # the actor's own staff record: the default 收款人


def actor_staff_id(session: Session, actor: Actor) -> int | None:
    """The staff record the acting user is linked to (用户 → 对应员工), if any and still active."""
    if actor.user_id is None:
        return None
    return session.scalar(
        select(Staff.id).join(User, User.staff_id == Staff.id).where(User.id == actor.user_id, Staff.active.is_(True))
    )


def fee_choices(session: Session, *, actor: Actor) -> FeeChoices:
    """What the fee and dunning forms offer: the actor's projects and their buildings, staff and fee types."""
    projects = {pid: name for pid, name in session.execute(
        select(Project.id, Project.name).where(actor.project_filter(Project.id)).order_by(Project.name))}
    several = len(projects) > 1
    order = {pid: n for n, pid in enumerate(projects)}

    def named(rows: Iterable[Any]) -> tuple[Choice, ...]:
        return tuple(Choice(i, f"{projects[p]} · {label}" if several else label, p) for i, label, p in rows)

    own = actor_staff_id(session, actor)
    staff = session.execute(select(Staff.id, Staff.name, Staff.project_id, Staff.position)
                            .where(actor.project_filter(Staff.project_id), Staff.active.is_(True))
                            .order_by(Staff.project_id, Staff.name)).all()
    buildings = session.execute(select(Building.id, Building.name, Building.project_id)
                                .where(actor.project_filter(Building.project_id))).all()
    return FeeChoices(
        tuple(Choice(pid, name, pid) for pid, name in projects.items()),
        named(sorted(buildings, key=lambda b: (order.get(b[2], 0), natural_key(b[1])))),
        named((i, name, p) for i, name, p, _ in staff),
        named(session.execute(select(FeeType.id, FeeType.name, FeeType.project_id)
                              .where(actor.project_filter(FeeType.project_id), FeeType.active.is_(True),
                                     FeeType.billing_cycle == FeeCycle.MONTHLY,
                                     _billed_monthly(session, actor.project_filter(FeeType.project_id)))
                              .order_by(FeeType.project_id, FeeType.name))),
        named((i, name, p) for i, name, p, position in staff if position in COLLECTING_POSITIONS or i == own),
        own,
    )


# --- generating bills ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeeTypeBills:
    fee_type_id: int
    name: str
    created: int


@dataclass(frozen=True)
class GenerateBillsResult:
    project_id: int
    period: str
    created: int
    existing: int
    by_fee_type: tuple[FeeTypeBills, ...]
    dry_run: bool
    unbilled_leases: tuple[str, ...] = ()  # spaces whose lessee has no unit here to bill the 月租 to

    @property
    def message(self) -> str:
        verb = "将生成" if self.dry_run else "已生成"
        text = f"{self.period} 账单{verb} {self.created} 张"
        if self.existing:
            text += f"；已存在 {self.existing} 张，不重复生成"
        if self.unbilled_leases:
            text += (f"；车位 {'、'.join(self.unbilled_leases)} 的承租人在本项目没有关联房屋，月租未计入账单"
                     "（请先为承租人关联房屋）")
        return text


def _lease_month_begins(period: str, lease: Any = ParkingLease) -> ColumnElement[bool]:
    """A lease (``lease``: ParkingLease or an alias of it) has a month of its term beginning in ``period``: its 月租
    is billed then."""
    first, last = month_day(period, 1), month_day(period, 31)
    # the day this period's month of the term begins: the start's day of month, clamped to the month's end
    day = case((func.extract("day", lease.start_date) > last.day, last.day),
               else_=func.extract("day", lease.start_date))
    return and_(lease.start_date <= last, or_(
        lease.end_date > last,
        and_(lease.end_date >= first, func.extract("day", lease.end_date) >= day)))


def _lease_billed(period: str) -> ColumnElement[bool]:
    """A lease (ParkingLease) whose 月租 is billed in ``period``: a month of its term begins then — one lease a space
    a month: where a lease ended and the next began within one month (a rent changed mid-term), the newer one."""
    newer = aliased(ParkingLease)
    superseded = exists().where(newer.space_id == ParkingLease.space_id, newer.start_date > ParkingLease.start_date,
                                _lease_month_begins(period, newer))
    return and_(_lease_month_begins(period), ~superseded)


def _lease_rents(project_id: int, period: str) -> Select:
    """(unit, 月租) of each lease billed in ``period`` (:func:`_lease_billed`), billed to the lessee's unit."""
    return select(lessee_unit(month_day(period, 1)).label("unit_id"), ParkingLease.monthly_rent.label("amount")).join(
        ParkingSpace, ParkingSpace.id == ParkingLease.space_id).where(
        ParkingLease.project_id == project_id, _lease_billed(period))


def _rent_fee_types(session: Session, projects: ColumnElement[bool]) -> dict[int, int]:
    """project → the fee type its leases' 月租 is billed under: its first active 按月 按车位 one (停车费) with a rate,
    else its first at rate 0 where the project lets spaces by 车位租赁 (every space let: no rate to charge)."""
    leases = exists().where(ParkingLease.project_id == FeeType.project_id)
    rows = session.execute(select(FeeType.project_id, FeeType.id).where(
        projects, FeeType.active.is_(True), FeeType.basis == FeeBasis.PER_SPACE,
        FeeType.billing_cycle == FeeCycle.MONTHLY, or_(FeeType.rate > 0, leases))
        .order_by(FeeType.project_id, case((FeeType.rate > 0, 0), else_=1), FeeType.id))
    first: dict[int, int] = {}
    for project_id, fee_type_id in rows:
        first.setdefault(project_id, fee_type_id)
    return first


def _rent_fee_type(session: Session, project_id: int) -> int | None:
    return _rent_fee_types(session, FeeType.project_id == project_id).get(project_id)


def _billed_monthly(session: Session, projects: ColumnElement[bool]) -> ColumnElement[bool]:
    """The fee types a month's run bills (of the 按月 ones): those with a rate, and the one 车位租赁's 月租 goes under."""
    return or_(FeeType.rate > 0, FeeType.id.in_(list(_rent_fee_types(session, projects).values())))


def lessee_unit(on: dt.date) -> ColumnElement[int]:
    """The unit a lease's rent is billed to (correlated to ParkingLease and its ParkingSpace): of the lessee's units
    linked on ``on``, the space's 关联房屋, else the primary link's."""
    def linked(*where: ColumnElement[bool]) -> Select:
        return (select(UnitCustomer.unit_id)
                .where(UnitCustomer.customer_id == ParkingLease.customer_id,
                       UnitCustomer.project_id == ParkingLease.project_id, linked_on(on), *where)
                .order_by(UnitCustomer.is_primary.desc(), UnitCustomer.id)
                .limit(1).correlate(ParkingLease, ParkingSpace))
    return func.coalesce(linked(UnitCustomer.unit_id == ParkingSpace.unit_id).scalar_subquery(),
                         linked().scalar_subquery())


def _space_charges(fee_type: FeeType, period: str, rents: bool) -> Select:
    """(unit, amount) per billed space of ``period``: the rate for each space linked to a unit and never let through
    车位租赁, and — with ``rents`` — each lease's 月租 (:func:`_lease_rents`)."""
    leased = exists().where(ParkingLease.space_id == ParkingSpace.id)
    rated = select(ParkingSpace.unit_id.label("unit_id"), literal(fee_type.rate, Numeric(12, 4)).label("amount")).where(
        ParkingSpace.project_id == fee_type.project_id, ParkingSpace.unit_id.is_not(None), ~leased)
    return rated.union_all(_lease_rents(fee_type.project_id, period)) if rents else rated


def _bill_source(fee_type: FeeType, period: str, stamp: dt.datetime, rents: bool = False) -> Select:
    rate = literal(fee_type.rate, Numeric(12, 4))
    start = month_day(period, 1)
    stmt = select()
    if fee_type.basis is FeeBasis.PER_AREA:
        amount = func.round(Unit.area * rate, 2)
        stmt = stmt.where(Unit.area > 0)
    elif fee_type.basis is FeeBasis.PER_SPACE:
        charges = _space_charges(fee_type, period, rents).subquery()
        spaces = (
            select(charges.c.unit_id, func.sum(charges.c.amount).label("total"))
            .where(charges.c.unit_id.is_not(None))
            .group_by(charges.c.unit_id)
            .subquery()
        )
        amount = func.round(spaces.c.total, 2)
        stmt = stmt.join_from(Unit, spaces, spaces.c.unit_id == Unit.id).where(spaces.c.total > 0)
    else:
        amount = func.round(rate, 2)
    already = exists().where(Bill.unit_id == Unit.id, Bill.fee_type_id == fee_type.id, Bill.period == period)
    return stmt.add_columns(
        literal(fee_type.project_id),
        Unit.id,
        payer_id(Unit.id, start),
        literal(fee_type.id),
        literal(period),
        type_coerce(amount, Money),
        literal(Decimal("0"), Money),
        literal(month_day(period, fee_type.due_day), Bill.due_date.type),
        literal(BillStatus.UNPAID, Bill.status.type),
        Unit.collector_id,
        literal(stamp, Bill.created_at.type),
        literal(stamp, Bill.updated_at.type),
        literal(1),
    ).where(Unit.project_id == fee_type.project_id, ~already)


BILL_COLUMNS = (
    "project_id", "unit_id", "customer_id", "fee_type_id", "period", "amount_due", "amount_paid", "due_date",
    "status", "collector_id", "created_at", "updated_at", "version",
)
BILL_KEY = ("unit_id", "fee_type_id", "period")


def _bill_target(session: Session, project_id: int, period: str, actor: Actor,
                 fee_type_ids: Iterable[int] | None) -> tuple[Project, str, list[FeeType]]:
    """What a generation makes: the project (the actor's), the period (no further than next month), the fee
    types (active, 按月, a rate above 0 or the one 车位租赁's 月租 goes under; 按次 ones asked for by id refused)."""
    period = parse_period(period)
    project = visible_project(session, actor, project_id)
    latest = add_months(current_period(), 1)
    if period > latest:
        raise Refused(f"账期 {period} 太远：最多可预先生成下月（{latest}）的账单")
    stmt = select(FeeType).where(FeeType.project_id == project.id, FeeType.active.is_(True),
                                 _billed_monthly(session, FeeType.project_id == project.id))
    fee_types = list(session.scalars(stmt.order_by(FeeType.id)))
    if fee_type_ids is not None:
        wanted = {int(i) for i in fee_type_ids}
        one_off = [ft for ft in fee_types if ft.id in wanted and ft.billing_cycle is not FeeCycle.MONTHLY]
        if one_off:
            raise Refused(
                f"以下收费项目{label_of(FeeType, 'billing_cycle')}为{FeeCycle.ONCE.label}，按实际发生收取，"
                f"不随月度账单生成：{'、'.join(ft.name for ft in one_off)}",
                [ft.id for ft in one_off],
            )
    # 装修管理费、押金等按次收取：月度账单只生成按月的收费项目.
    fee_types = [ft for ft in fee_types if ft.billing_cycle is FeeCycle.MONTHLY]
    if fee_type_ids is not None:
        unknown = sorted(wanted - {ft.id for ft in fee_types})
        if unknown:
            raise Refused(f"以下收费项目不属于项目「{project.name}」，或未启用、单价为 0：{unknown}", unknown)
        fee_types = [ft for ft in fee_types if ft.id in wanted]
    if not fee_types:
        raise Refused(f"项目「{project.name}」没有可生成账单的收费项目（须启用、按月计费且单价大于 0，或为车位租赁月租所计的按车位项目）")
    return project, period, fee_types


def generation_lock(session: Session, *, project_id: int, period: str, actor: Actor,
                    fee_type_ids: Iterable[int] | None = None) -> QueueLock:
    """The queueing lock of a bill generation started as a 后台任务: one per project and period queued or
    running (after the generation's own checks, so a generation refused is refused before it is queued)."""
    project, period, _ = _bill_target(session, project_id, period, actor, fee_type_ids)
    return QueueLock(f"bills/{project.id}/{period}", f"「{project.name}」{period} 账单正在生成中")


@as_actor
def generate_bills(
    session: Session,
    *,
    project_id: int,
    period: str,
    actor: Actor,
    fee_type_ids: Iterable[int] | None = None,
    dry_run: bool = False,
) -> GenerateBillsResult:
    """生成账单: one bill per unit and fee type for the period, from the project's active 按月 fee types; a
    按次 fee type (装修管理费, 押金 …) asked for by id is refused."""
    project, period, fee_types = _bill_target(session, project_id, period, actor, fee_type_ids)
    ids = [ft.id for ft in fee_types]
    existing = session.scalar(
        select(func.count()).where(Bill.project_id == project.id, Bill.period == period, Bill.fee_type_id.in_(ids))
    )
    stamp = utcnow()
    per_type = []
    rent_type = _rent_fee_type(session, project.id)
    unbilled: tuple[str, ...] = ()
    if rent_type in ids:
        unbilled = tuple(session.scalars(
            select(ParkingSpace.code).join(ParkingLease, ParkingLease.space_id == ParkingSpace.id)
            .where(ParkingLease.project_id == project.id, _lease_billed(period),
                   lessee_unit(month_day(period, 1)).is_(None)).order_by(ParkingSpace.code)))
    for fee_type in fee_types:  # one set-based statement per fee type (a project has a handful)
        source = _bill_source(fee_type, period, stamp, rents=fee_type.id == rent_type)
        if dry_run:
            n = session.scalar(select(func.count()).select_from(source.subquery()))
        else:
            n = insert_ignoring(session, Bill.__table__, BILL_COLUMNS, source, BILL_KEY)
        per_type.append(FeeTypeBills(fee_type.id, fee_type.name, n))
    result = GenerateBillsResult(project.id, period, sum(f.created for f in per_type), existing, tuple(per_type), dry_run,
                                 unbilled)
    if not dry_run and result.created:
        record_bulk(
            session,
            kind=AuditKind.INSERT,
            table=Bill.__tablename__,
            ids=select(Bill.id, Bill.project_id).where(
                Bill.project_id == project.id, Bill.period == period, Bill.created_at == stamp
            ),
            summary=f"生成账单 {period}",
        )
    if not dry_run:
        log_operation(
            session,
            "generate_bills",
            params={"project_id": project.id, "period": period, "fee_type_ids": ids},
            counts={"created": result.created, "existing": existing},
            project_id=project.id,
            message=result.message,
        )
    return result


@dataclass(frozen=True)
class PaymentResult:
    payment_id: int
    bill_id: int
    amount: Decimal
    bill_status: BillStatus
    outstanding: Decimal
    receipt_no: str


@dataclass(frozen=True)
class AccountPaymentResult:
    unit_id: int
    amount: Decimal
    payments: tuple[PaymentResult, ...]
    outstanding: Decimal  # what the account still owes after this payment
    resubmitted: bool = False  # the form had been submitted before: these are its payments, nothing new

    @property
    def message(self) -> str:
        if self.resubmitted:
            return f"该表单已提交过：已收款 {self.amount} 元（收据号 {self.receipt_no}），未重复收款；尚欠 {self.outstanding} 元"
        return (f"已收款 {self.amount} 元，冲抵 {len(self.payments)} 张账单，收据号 {self.receipt_no}；"
                f"尚欠 {self.outstanding} 元")

    @property
    def receipt_no(self) -> str:  # one 收款, one 收据
        return self.payments[0].receipt_no


def _payment_terms(session: Session, actor: Actor, project_id: int, amount: Any, collector_id: int | None,
                   paid_at: dt.datetime | None) -> tuple[Decimal, dt.datetime, int | None]:
    amount = money(amount, what=label_of(Payment, "amount"))
    if amount <= 0:
        raise Refused(f"{label_of(Payment, 'amount')}必须大于 0：{amount}")
    paid_at = paid_at or utcnow()
    if paid_at.tzinfo is None:
        raise Refused(f"{label_of(Payment, 'paid_at')}须带时区")
    if paid_at > utcnow() + dt.timedelta(minutes=5):
        raise Refused(f"{label_of(Payment, 'paid_at')}不能晚于现在")
    if collector_id is not None:
        staff = session.execute(select(Staff.name, Staff.project_id, Staff.position).where(Staff.id == collector_id)).first()
        if staff is None or staff.project_id != project_id:
            raise Refused(f"{label_of(Payment, 'collector_id')}不是本项目员工：{collector_id}", [collector_id])
        # as the form's picker offers them: a 收费员 or 前台客服, or the cashier at the keyboard's own record
        refusal = post_refusal(staff.name, staff.position, label_of(Payment, "collector_id"), COLLECTING_POSITIONS)
        if refusal and collector_id != actor_staff_id(session, actor):
            raise Refused(refusal, [collector_id])
    else:
        # 收款人 left blank: the cashier at the keyboard, when their user is linked to a staff record here.
        own = actor_staff_id(session, actor)
        if own is not None and session.scalar(select(Staff.project_id).where(Staff.id == own)) == project_id:
            collector_id = own
    return amount, paid_at, collector_id


def paid_too_early(period: str, paid_at: dt.datetime) -> str | None:
    """Why a 收款 at ``paid_at`` cannot be for a bill of ``period``, or None: a bill is issued at most a month ahead
    (:func:`bill_problem`) and no prepayment is kept, so money before that month's first day (Beijing) is a typo."""
    earliest = month_day(add_months(period, -1), 1)
    day = paid_at.astimezone(SHANGHAI).date()
    if day < earliest:
        return f"{label_of(Payment, 'paid_at')} {day} 早于账单 {period} 最早可开具之日 {earliest}"
    return None


def _refuse_early(bills: Iterable[Bill], paid_at: dt.datetime) -> None:
    for bill in bills:
        if problem := paid_too_early(bill.period, paid_at):
            raise Refused(f"{problem}：请核对收款时间的年份", [bill.id])


def issue_receipt(session: Session, *, project_id: int, paid_at: dt.datetime) -> str:
    """The 收据 of one 收款: the next number of the project's sequence for the year paid (Beijing time)."""
    (number,) = receipt_numbers(session, project_id, paid_at.astimezone(SHANGHAI).year, 1)
    session.add(Receipt(project_id=project_id, number=number))
    session.flush()  # before the payment lines that point at it
    return number


def receipt_numbers(session: Session, project_id: int, year: int, count: int) -> list[str]:
    """The next ``count`` 收据号 of a project·year: SJ2026-000123 … The UPDATE locks the sequence row until this
    transaction ends, so a concurrent payment waits and then takes the numbers after; a rollback gives them back
    (no gap). A number an import already used is passed over."""
    table = ReceiptSequence.__table__
    session.execute(upsert_insert(session, table).values(project_id=project_id, year=year, last_no=0)
                    .on_conflict_do_nothing(index_elements=["project_id", "year"]))
    numbers: list[str] = []
    while len(numbers) < count:
        wanted = count - len(numbers)
        last = session.execute(update(table).where(table.c.project_id == project_id, table.c.year == year)
                               .values(last_no=table.c.last_no + wanted).returning(table.c.last_no)).scalar_one()
        fresh = [receipt_number(year, n) for n in range(last - wanted + 1, last + 1)]
        used = set(session.scalars(select(Receipt.number).where(Receipt.project_id == project_id,
                                                                Receipt.number.in_(fresh))))
        numbers += [n for n in fresh if n not in used]
    return numbers


def _apply(session: Session, bill: Bill, amount: Decimal, method: PayMethod, collector_id: int | None,
           paid_at: dt.datetime, receipt_no: str, form_token: str | None = None) -> PaymentResult:
    payment = Payment(
        project_id=bill.project_id, bill_id=bill.id, amount=amount, method=method,
        paid_at=paid_at, collector_id=collector_id, receipt_no=receipt_no, form_token=form_token,
    )
    session.add(payment)
    bill.amount_paid = bill.amount_paid + amount
    bill.status = BillStatus.PAID if bill.amount_paid >= bill.amount_due else BillStatus.PARTIAL
    session.flush()
    return PaymentResult(payment.id, bill.id, amount, bill.status, bill.amount_due - bill.amount_paid, receipt_no)


def record_payment(
    session: Session,
    *,
    bill_id: int,
    amount: Any,
    actor: Actor,
    method: PayMethod = PayMethod.WECHAT,
    collector_id: int | None = None,
    paid_at: dt.datetime | None = None,
) -> PaymentResult:
    """收款 against one bill, in full or in part, on a 收据 of its own; more than the bill still owes is refused."""
    bill = session.scalar(
        select(Bill).where(Bill.id == bill_id).with_for_update().execution_options(populate_existing=True)
    )
    if bill is None:
        raise Refused(f"账单不存在：{bill_id}", [bill_id])
    if not actor.can_see(bill.project_id):
        raise NotPermitted(f"无权操作账单#{bill_id}", [bill_id])
    if bill.status not in OPEN:
        raise Refused(f"账单#{bill.id}{bill.status.label}，不能再收款", [bill.id])
    amount, paid_at, collector_id = _payment_terms(session, actor, bill.project_id, amount, collector_id, paid_at)
    owed = bill.amount_due - bill.amount_paid
    if amount > owed:
        raise Refused(
            f"收款 {amount} 元超过账单#{bill.id}（{bill.period}）未缴金额 {owed} 元；"
            "多缴部分请按房屋账户收款，冲抵其他未缴账单",
            [bill.id],
        )
    _refuse_early([bill], paid_at)
    receipt_no = issue_receipt(session, project_id=bill.project_id, paid_at=paid_at)
    result = _apply(session, bill, amount, PayMethod(method), collector_id, paid_at, receipt_no)
    log_operation(
        session,
        "record_payment",
        params={"bill_id": bill.id, "amount": amount, "method": PayMethod(method), "collector_id": collector_id,
                "receipt_no": receipt_no},
        counts={"payments": 1},
        project_id=bill.project_id,
    )
    return result


@records.creates(Payment)
def _payment_form(session: Session, actor: Actor, values: Mapping[str, Any]) -> Payment:
    """收款记录 → 新增 is 收款 against the bill chosen: the bill's paid amount and status follow."""
    method = values.get("method")
    try:
        method = PayMethod(getattr(method, "value", method))
    except ValueError:
        raise Refused(f"{label_of(Payment, 'method')}无效：{method}") from None
    if records.ref_id(values, "bill") is None:
        raise Refused(f"请选择{label_of(Payment, 'bill')}")
    result = record_payment(session, bill_id=records.ref_id(values, "bill"), amount=values.get("amount"), method=method,
                            collector_id=records.ref_id(values, "collector"), paid_at=values.get("paid_at"),
                            actor=actor)
    return session.get(Payment, result.payment_id)


# --- 冲正: a payment recorded wrongly ------------------------------------------------------------------------
@dataclass(frozen=True)
class ReversalResult:
    payment_id: int
    bill_id: int
    amount: Decimal
    bill_status: BillStatus
    outstanding: Decimal
    already: bool = False  # reversed before (a double submit): nothing written

    @property
    def message(self) -> str:
        if self.already:
            return f"收款记录#{self.payment_id} 已冲正，未重复登记"
        return (f"已冲正收款记录#{self.payment_id}（{self.amount} 元）；账单#{self.bill_id} 现为"
                f"{self.bill_status.label}，尚欠 {self.outstanding} 元")


def reversal_refusal(payment: Payment) -> str | None:
    """Why ``payment`` cannot be reversed, or None — asked by the form before it is offered."""
    if payment.reversed_at is not None:
        return f"收款记录#{payment.id} 已于 {payment.reversed_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 冲正"
    return None


def _bill_status(bill: Bill) -> BillStatus:
    if bill.status is BillStatus.WAIVED:
        return bill.status
    if bill.amount_paid <= 0:
        return BillStatus.UNPAID
    return BillStatus.PAID if bill.amount_paid >= bill.amount_due else BillStatus.PARTIAL


@as_actor
def reverse_payment(session: Session, *, payment_id: int, reason: str, actor: Actor) -> ReversalResult:
    """冲正: a payment recorded wrongly (wrong bill, amount or household) is reversed — never deleted: the row, its
    amount and receipt number stay, marked 冲正 with who, when and why; its bill's 实收 drops by the amount and its
    status follows (已缴清 → 部分缴纳/未缴). The bill is locked first, as a payment locks it, so a payment and a
    reversal of the same bill wait for each other; a second reversal of the payment answers that it is done."""
    reason = (reason or "").strip()
    found = session.execute(select(Payment.bill_id, Payment.project_id).where(Payment.id == payment_id)).first()
    if found is None or not actor.can_see(found.project_id):
        raise Refused(f"收款记录#{payment_id} 不存在", [payment_id])
    bill = session.scalar(
        select(Bill).where(Bill.id == found.bill_id).with_for_update().execution_options(populate_existing=True)
    )
    payment = session.scalar(select(Payment).where(Payment.id == payment_id)
                             .execution_options(populate_existing=True))
    if payment.reversed_at is not None:
        return ReversalResult(payment.id, bill.id, payment.amount, bill.status, bill.amount_due - bill.amount_paid,
                              already=True)
    if not reason:
        raise Refused(f"请填写{label_of(Payment, 'reversal_reason')}（如：误录金额、收错房屋）")
    records.check_text_length(Payment, "reversal_reason", reason)
    payment.reversed_at = utcnow()
    payment.reversed_by_id = actor.user_id
    payment.reversal_reason = reason
    bill.amount_paid = bill.amount_paid - payment.amount
    bill.status = _bill_status(bill)
    session.flush()  # the audit rows of both: the payment's 冲正 and the bill's 实收/状态
    log_operation(session, "reverse_payment",
                  params={"payment_id": payment.id, "bill_id": bill.id, "amount": payment.amount,
                          "receipt_no": payment.receipt_no, "reason": reason},
                  counts={"reversed": 1}, project_id=payment.project_id,
                  message=f"冲正收款记录#{payment.id}（收据 {payment.receipt_no}，{payment.amount} 元）：{reason}")
    return ReversalResult(payment.id, bill.id, payment.amount, bill.status, bill.amount_due - bill.amount_paid)


@dataclass(frozen=True)
class ReceiptReversal:
    receipt_no: str
    reversals: tuple[ReversalResult, ...]  # the receipt's payments reversed now
    earlier: int = 0  # its payments reversed before (one bill's line reversed on the console)

    @property
    def message(self) -> str:
        text = f"收据 {self.receipt_no}：" + "；".join(r.message for r in self.reversals)
        return text + (f"（另有 {self.earlier} 笔此前已冲正）" if self.earlier else "")


def reverse_receipt(session: Session, *, receipt_no: str, reason: str, actor: Actor,
                    project_id: int | None = None) -> ReceiptReversal:
    """冲正 by 收据号 — the number staff have on the receipt in hand: every payment of the receipt (an account
    payment lists several bills) is reversed as :func:`reverse_payment` reverses one. A number is unique in its
    project only: one of another project is not found, and one found in two of the actor's projects needs the
    project named. A receipt whose payments are all reversed is refused, saying when."""
    number = unicodedata.normalize("NFKC", receipt_no or "").strip().upper()
    label = label_of(Payment, "receipt_no")
    stmt = select(Payment.id, Payment.project_id, Payment.reversed_at).where(
        Payment.receipt_no == number, actor.project_filter(Payment.project_id))
    if project_id is not None:
        stmt = stmt.where(Payment.project_id == project_id)
    rows = session.execute(stmt.order_by(Payment.id)).all()
    if not number or not rows:
        raise Refused(f"{label} {number or '（空）'} 不存在")
    projects = sorted({r.project_id for r in rows})
    if len(projects) > 1:
        names = session.scalars(select(Project.name).where(Project.id.in_(projects)).order_by(Project.name))
        raise Refused(f"{label} {number} 在多个项目中都有：{'、'.join(names)}，请指定项目", projects)
    open_ = [r.id for r in rows if r.reversed_at is None]
    if not open_:
        when = max(r.reversed_at for r in rows).astimezone(SHANGHAI)
        raise Refused(f"收据 {number} 已于 {when:%Y-%m-%d %H:%M} 冲正，未重复登记", [r.id for r in rows])
    done = tuple(reverse_payment(session, payment_id=pid, reason=reason, actor=actor) for pid in open_)
    return ReceiptReversal(number, done, len(rows) - len(open_))


def pay_account(
    session: Session,
    *,
    unit_id: int,
    amount: Any,
    actor: Actor,
    method: PayMethod = PayMethod.WECHAT,
    collector_id: int | None = None,
    paid_at: dt.datetime | None = None,
    form_token: str | None = None,
) -> AccountPaymentResult:
    """收款 for a unit's account: spread over its open bills, oldest period first, on one 收据 listing them; more
    than the account owes is refused (no prepayment balance is kept). ``form_token`` is the console form's one-time token: the
    same form again answers with the payments it made, and takes nothing twice."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise Refused(f"房屋不存在：{unit_id}", [unit_id])
    if not actor.can_see(unit.project_id):
        raise NotPermitted(f"无权操作房屋#{unit_id}", [unit_id])
    token = one_time(form_token)
    amount, paid_at, collector_id = _payment_terms(session, actor, unit.project_id, amount, collector_id, paid_at)
    bills = list(
        session.scalars(
            select(Bill)
            .where(Bill.unit_id == unit.id, Bill.status.in_(OPEN))
            .order_by(Bill.period, Bill.due_date, Bill.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    owed = sum((b.amount_due - b.amount_paid for b in bills), Decimal("0"))
    # checked with the bills locked: a second submission waits here for the first and then finds its payments
    earlier = _paid_by_form(session, unit.id, token, owed)
    if earlier is not None:
        return earlier
    if amount > owed:
        raise Refused(f"收款 {amount} 元超过该房屋全部未缴金额 {owed} 元；本系统不设预存款，多缴部分不能入账", [unit.id])
    parts = []
    left = amount
    for bill in bills:  # an account's own open bills: a handful, not a batch
        if not left:
            break
        parts.append((bill, min(left, bill.amount_due - bill.amount_paid)))
        left -= parts[-1][1]
    _refuse_early((bill for bill, _ in parts), paid_at)
    receipt_no = issue_receipt(session, project_id=unit.project_id, paid_at=paid_at)
    applied = [_apply(session, bill, part, PayMethod(method), collector_id, paid_at, receipt_no, token)
               for bill, part in parts]
    log_operation(
        session,
        "pay_account",
        params={"unit_id": unit.id, "amount": amount, "method": PayMethod(method), "collector_id": collector_id,
                "receipt_no": receipt_no},
        counts={"payments": len(applied)},
        project_id=unit.project_id,
    )
    return AccountPaymentResult(unit.id, amount, tuple(applied), owed - amount)


def _paid_by_form(session: Session, unit_id: int, token: str | None, owed: Decimal) -> AccountPaymentResult | None:
    """The payments the form with this token made, if it was submitted before."""
    if token is None:
        return None
    rows = session.execute(
        select(Payment.id, Payment.bill_id, Payment.amount, Bill.status, Bill.amount_due - Bill.amount_paid,
               Payment.receipt_no, Bill.unit_id)
        .join(Bill, Bill.id == Payment.bill_id).where(Payment.form_token == token).order_by(Payment.id)
    ).all()
    if not rows:
        return None
    if any(row.unit_id != unit_id for row in rows):  # another 房屋's form: its payments are not this account's
        raise not_this_form([unit_id])
    rows = [row[:-1] for row in rows]
    payments = tuple(PaymentResult(*row) for row in rows)
    return AccountPaymentResult(unit_id, sum((p.amount for p in payments), Decimal("0")), payments, owed,
                                resubmitted=True)


# --- the account statement ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementBill:
    bill_id: int
    period: str
    fee_type: str
    amount_due: Decimal
    amount_paid: Decimal
    outstanding: Decimal
    status: BillStatus
    due_date: dt.date
    overdue: bool


@dataclass(frozen=True)
class StatementPayment:
    payment_id: int
    bill_id: int
    period: str
    fee_type: str
    amount: Decimal
    method: PayMethod
    paid_at: dt.datetime
    collector: str
    receipt_no: str
    reversed_at: dt.datetime | None = None  # 冲正: listed, marked, counted in no 实收
    reversal_reason: str = ""


@dataclass(frozen=True)
class AccountStatement:
    unit_id: int
    project_id: int
    project: str
    unit_label: str
    payer: str
    collector: str
    key_tenant: bool
    bills: tuple[StatementBill, ...]
    payments: tuple[StatementPayment, ...]
    total_due: Decimal
    total_paid: Decimal
    balance: Decimal  # still owed; never negative (no prepayment)
    overdue_amount: Decimal


def account_statement(session: Session, *, unit_id: int, actor: Actor, as_of: dt.date | None = None) -> AccountStatement:
    """台账 of one unit: its bills, the payments against them and what is still owed."""
    as_of = as_of or today_local()
    head = session.execute(
        select(Unit, Building.name, Project.name, Staff.name, Customer.name)
        .join(Building, Building.id == Unit.building_id)
        .join(Project, Project.id == Unit.project_id)
        .outerjoin(Staff, Staff.id == Unit.collector_id)
        .outerjoin(Customer, Customer.id == payer_id(Unit.id))
        .where(Unit.id == unit_id)
    ).first()
    if head is None:
        raise Refused(f"房屋不存在：{unit_id}", [unit_id])
    unit, building, project, collector, payer = head
    if not actor.can_see(unit.project_id):
        raise NotPermitted(f"无权查看房屋#{unit_id}", [unit_id])
    bills = tuple(
        StatementBill(
            b.id, b.period, name, b.amount_due, b.amount_paid, b.amount_due - b.amount_paid, b.status, b.due_date,
            b.status in OPEN and b.due_date < as_of,
        )
        for b, name in session.execute(
            select(Bill, FeeType.name).join(FeeType, FeeType.id == Bill.fee_type_id)
            .where(Bill.unit_id == unit.id).order_by(Bill.period.desc(), FeeType.name)
        )
    )
    payments = tuple(
        StatementPayment(p.id, p.bill_id, period, name, p.amount, p.method, p.paid_at, staff or "", p.receipt_no,
                         p.reversed_at, p.reversal_reason)
        for p, period, name, staff in session.execute(
            select(Payment, Bill.period, FeeType.name, Staff.name)
            .join(Bill, Bill.id == Payment.bill_id)
            .join(FeeType, FeeType.id == Bill.fee_type_id)
            .outerjoin(Staff, Staff.id == Payment.collector_id)
            .where(Bill.unit_id == unit.id)
            .order_by(Payment.paid_at.desc(), Payment.id.desc())
        )
    )
    live = [b for b in bills if b.status is not BillStatus.WAIVED]
    total_due = sum((b.amount_due for b in live), Decimal("0"))
    total_paid = sum((b.amount_paid for b in live), Decimal("0"))
    return AccountStatement(
        unit.id, unit.project_id, project, f"{building}-{unit.room_no}", payer or "", collector or "",
        unit.key_tenant, bills, payments, total_due, total_paid,
        sum((b.outstanding for b in live if b.status in OPEN), Decimal("0")),
        sum((b.outstanding for b in live if b.overdue), Decimal("0")),
    )


def customer_accounts(session: Session, *, customer_id: int, actor: Actor) -> tuple[AccountStatement, ...]:
    """The statements of every unit a customer is linked to or has been billed for."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise Refused(f"客户不存在：{customer_id}", [customer_id])
    if not actor.can_see(customer.project_id):
        raise NotPermitted(f"无权查看客户#{customer_id}", [customer_id])
    unit_ids = session.scalars(
        select(UnitCustomer.unit_id).where(UnitCustomer.customer_id == customer.id)
        .union(select(Bill.unit_id).where(Bill.customer_id == customer.id))
    ).all()
    return tuple(account_statement(session, unit_id=u, actor=actor) for u in sorted(set(unit_ids)))


# --- arrears and aging --------------------------------------------------------------------------------
AGING_LABELS = {"current": "当月", "m1": "1个月", "m2": "2个月", "m3plus": "3个月及以上"}


@dataclass(frozen=True)
class ArrearsFilter:
    project_id: int | None = None
    building_id: int | None = None
    collector_id: int | None = None
    key_tenant: bool | None = None
    min_months: int | None = None


@dataclass(frozen=True)
class ArrearsRow:
    unit_id: int
    project_id: int
    project: str
    building: str
    room_no: str
    payer: str
    collector: str
    key_tenant: bool
    current: Decimal
    m1: Decimal
    m2: Decimal
    m3plus: Decimal
    total: Decimal
    months: int
    oldest_period: str


@dataclass(frozen=True)
class ArrearsTotals:
    accounts: int
    current: Decimal
    m1: Decimal
    m2: Decimal
    m3plus: Decimal
    total: Decimal


@dataclass(frozen=True)
class ArrearsPage:
    as_of: dt.date
    rows: tuple[ArrearsRow, ...]
    totals: ArrearsTotals  # over every row the filter selects, not just this page
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.totals.accounts // self.page_size))


def _arrears_project(session: Session, actor: Actor, filters: ArrearsFilter) -> None:
    """A project asked for by number is one the actor works for — refused as 收费率 refuses it, not listed as owing
    nothing."""
    if filters.project_id is not None:
        visible_project(session, actor, filters.project_id)


def _arrears_grouped(actor: Actor, as_of: dt.date, filt: ArrearsFilter) -> Select:
    p0 = period_of(as_of)
    p1, p2 = add_months(p0, -1), add_months(p0, -2)
    zero = literal(Decimal("0"), Money)
    stmt = (
        select(
            Bill.unit_id.label("unit_id"),
            func.sum(case((Bill.period >= p0, OUTSTANDING), else_=zero)).label("current"),
            func.sum(case((Bill.period == p1, OUTSTANDING), else_=zero)).label("m1"),
            func.sum(case((Bill.period == p2, OUTSTANDING), else_=zero)).label("m2"),
            func.sum(case((Bill.period < p2, OUTSTANDING), else_=zero)).label("m3plus"),
            func.sum(OUTSTANDING).label("total"),
            months_in_arrears().label("months"),
            oldest_in_arrears().label("oldest_period"),
        )
        .where(actor.project_filter(Bill.project_id), overdue(as_of))
        .group_by(Bill.unit_id)
    )
    if filt.project_id is not None:
        stmt = stmt.where(Bill.project_id == filt.project_id)
    unit_filters = []
    if filt.building_id is not None:
        unit_filters.append(Unit.building_id == filt.building_id)
    if filt.collector_id is not None:
        unit_filters.append(Unit.collector_id == filt.collector_id)
    if filt.key_tenant is not None:
        unit_filters.append(Unit.key_tenant.is_(filt.key_tenant))
    if unit_filters:
        stmt = stmt.join(Unit, Unit.id == Bill.unit_id).where(*unit_filters)
    if filt.min_months:
        stmt = stmt.having(months_in_arrears() >= filt.min_months)
    return stmt


def _named(grouped: Any) -> Select:
    """The aggregated accounts with the names a list shows, largest first."""
    return (
        select(
            grouped,
            Unit.project_id,
            Project.name.label("project"),
            Building.name.label("building"),
            Unit.room_no,
            Customer.name.label("payer"),
            Staff.name.label("collector"),
            Unit.key_tenant,
        )
        .join(Unit, Unit.id == grouped.c.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .join(Project, Project.id == Unit.project_id)
        .outerjoin(Staff, Staff.id == Unit.collector_id)
        .outerjoin(Customer, Customer.id == payer_id(Unit.id))
        .order_by(grouped.c.total.desc(), grouped.c.unit_id)
    )


def _arrears_row(r: Any) -> ArrearsRow:
    return ArrearsRow(
        r.unit_id, r.project_id, r.project, r.building, r.room_no, r.payer or "", r.collector or "",
        bool(r.key_tenant), cents(r.current), cents(r.m1), cents(r.m2), cents(r.m3plus), cents(r.total),
        r.months, r.oldest_period,
    )


BUCKETS = ("current", "m1", "m2", "m3plus", "total")


def arrears(
    session: Session,
    *,
    actor: Actor,
    as_of: dt.date | None = None,
    filters: ArrearsFilter = ArrearsFilter(),
    page: int = 1,
    page_size: int = 20,
) -> ArrearsPage:
    """欠费账龄 per account (unit), largest first, with the totals of every filtered row."""
    as_of = as_of or today_local()
    _arrears_project(session, actor, filters)
    grouped = _arrears_grouped(actor, as_of, filters).subquery()
    page = max(1, page)
    # One pass: the totals of every filtered row ride along the page as window sums; the page is sorted and cut
    # on the aggregate alone, and only its rows get their names.
    cut = (
        select(grouped, func.count().over().label("n_all"),
               *(func.sum(grouped.c[k]).over().label(f"sum_{k}") for k in BUCKETS))
        .order_by(grouped.c.total.desc(), grouped.c.unit_id)
        .limit(page_size)
        .offset((page - 1) * page_size)
        .subquery()
    )
    rows = session.execute(_named(cut)).all()
    if rows:
        totals = ArrearsTotals(rows[0].n_all, *(cents(rows[0]._mapping[f"sum_{k}"]) for k in BUCKETS))
    else:  # past the last page, or nothing owed
        t = session.execute(
            select(func.count(), *(func.sum(grouped.c[k]) for k in BUCKETS)).select_from(grouped)
        ).one()
        totals = ArrearsTotals(t[0], *(cents(v) for v in t[1:]))
    return ArrearsPage(as_of, tuple(_arrears_row(r) for r in rows), totals, page, page_size)


def arrears_xlsx(session: Session, *, actor: Actor, as_of: dt.date | None = None,
                 filters: ArrearsFilter = ArrearsFilter()) -> bytes:
    """The filtered arrears list as .xlsx (every row, not a page); the export is logged."""
    as_of = as_of or today_local()
    _arrears_project(session, actor, filters)
    rows = [_arrears_row(r) for r in session.execute(_named(_arrears_grouped(actor, as_of, filters).subquery()))]
    header = [
        label_of(Bill, "project_id"), label_of(Unit, "building_id"), label_of(Unit, "room_no"),
        label_of(Bill, "customer_id"), label_of(Unit, "collector_id"), label_of(Unit, "key_tenant"),
        *(f"欠费{v}" for v in AGING_LABELS.values()), "欠费合计(元)", "欠费月数", "最早欠费账期",
    ]
    wb = xlsx_out.new_workbook()
    xlsx_out.write_sheet(wb, f"欠费账龄 {as_of}", header, (
        [r.project, r.building, r.room_no, r.payer, r.collector, r.key_tenant,
         r.current, r.m1, r.m2, r.m3plus, r.total, r.months, r.oldest_period]
        for r in rows
    ))
    log_event(session, AuditKind.EXPORT, summary=f"导出欠费账龄（截至 {as_of}，{len(rows)} 户）", table=Bill.__tablename__,
              project_id=filters.project_id)
    log_operation(session, "export_arrears", params={"as_of": as_of, **filters.__dict__}, counts={"rows": len(rows)},
                  project_id=filters.project_id)
    return xlsx_out.to_bytes(wb)


# --- collection rate ----------------------------------------------------------------------------------
RATE_GROUPS = {
    "project": Project.__label__,
    "phase": Phase.__label__,
    "building": Building.__label__,
    "collector": label_of(Bill, "collector_id"),
}


@dataclass(frozen=True)
class RateRow:
    period: str
    project_id: int
    key: int | None
    label: str
    amount_due: Decimal
    amount_paid: Decimal
    amount_rate: Decimal | None  # %
    households: int
    households_paid: int
    household_rate: Decimal | None  # %
    # the month's target (每月收费率保持在 93% 以上); None for a range's total, which no document sets a target for
    target: Decimal | None = MONTHLY_TARGET

    @property
    def meets_target(self) -> bool | None:
        """Against the exact ratio, not the rounded rate shown (92.96 % reads 93.0 % and is still short); None
        without anything due — no rate ("—"), so neither 达标 nor 未达标, as on the KPI board."""
        if not self.amount_due or self.target is None:
            return None
        return self.amount_paid * 100 >= self.target * self.amount_due

    @property
    def target_label(self) -> str:
        """达标 / 未达标, as the page and the export show it; "—" without anything due."""
        return meets_text(self.meets_target)


@dataclass(frozen=True)
class CollectionRateReport:
    group_by: str
    period_from: str
    period_to: str
    rows: tuple[RateRow, ...]
    totals: tuple[RateRow, ...]  # one per period, over all rows
    # over the whole range (several periods): 应收 and 实收 summed, 户数 / 已缴清户数 summed month by month (户·月)
    range_total: RateRow | None = None
    target: Decimal = MONTHLY_TARGET


def _rate_row(period: str, project_id: int, key: int | None, label: str, due: Any, paid: Any, n: int, n_paid: int,
              target: Decimal | None = MONTHLY_TARGET) -> RateRow:
    due, paid = cents(due), cents(paid)
    return RateRow(period, project_id, key, label, due, paid, percent(paid, due), n, n_paid, percent(n_paid, n),
                   target)


def _sum_rows(period: str, rows: Sequence[RateRow], label: str = "合计",
              target: Decimal | None = MONTHLY_TARGET) -> RateRow:
    """合计 of ``rows``: their amounts and households summed, the rates taken again from the sums."""
    return _rate_row(
        period, 0, None, label, sum(r.amount_due for r in rows), sum(r.amount_paid for r in rows),
        sum(r.households for r in rows), sum(r.households_paid for r in rows), target,
    )


def _rate_labels(session: Session, group_by: str,
                 keys: set[tuple[int, int | None]]) -> dict[tuple[int, int | None], tuple[str, tuple]]:
    """Each group's label and its sort key: the project's name, then the member in its natural order."""
    projects = dict(session.execute(select(Project.id, Project.name).where(Project.id.in_({p for p, _ in keys}))).all())
    if group_by == "project":
        return {(p, k): (projects[p], (projects[p],)) for p, k in keys}
    model = {"phase": Phase, "building": Building, "collector": Staff}[group_by]
    names = dict(session.execute(select(model.id, model.name).where(model.id.in_({k for _, k in keys if k}))).all())
    missing = "未分期" if group_by == "phase" else "未指定"
    out = {}
    for p, k in keys:
        name = names.get(k, missing)
        # 未分期 / 未指定 after the named ones
        out[(p, k)] = (f"{projects[p]} · {name}", (projects[p], k not in names, natural_key(name)))
    return out


def collection_rate(
    session: Session,
    *,
    actor: Actor,
    period_from: str,
    period_to: str | None = None,
    group_by: str = "project",
    project_id: int | None = None,
) -> CollectionRateReport:
    """收费率 of the periods' bills by project / phase / building / collector and month."""
    period_from = parse_period(period_from)
    period_to = parse_period(period_to or period_from)
    if period_to < period_from:
        raise Refused(f"账期范围有误：{period_from} 晚于 {period_to}")
    if group_by not in RATE_GROUPS:
        raise Refused(f"统计维度应为 {'、'.join(RATE_GROUPS.values())} 之一")
    if project_id is not None:
        visible_project(session, actor, project_id)
    key = {
        "project": Bill.project_id,
        "phase": Building.phase_id,
        "building": Unit.building_id,
        "collector": Bill.collector_id,
    }[group_by]
    per_unit = (
        select(
            Bill.project_id.label("pid"), key.label("k"), Bill.period.label("period"),
            func.sum(Bill.amount_due).label("due"), func.sum(Bill.amount_paid).label("paid"),
        )
        .where(
            actor.project_filter(Bill.project_id),
            Bill.period >= period_from,
            Bill.period <= period_to,
            Bill.status != BillStatus.WAIVED,
        )
        .group_by(Bill.project_id, key, Bill.period, Bill.unit_id)
    )
    if group_by in ("phase", "building"):
        per_unit = per_unit.join(Unit, Unit.id == Bill.unit_id)
    if group_by == "phase":
        per_unit = per_unit.join(Building, Building.id == Unit.building_id)
    if project_id is not None:
        per_unit = per_unit.where(Bill.project_id == project_id)
    u = per_unit.subquery()
    grouped = session.execute(
        select(
            u.c.period, u.c.pid, u.c.k, func.sum(u.c.due), func.sum(u.c.paid), func.count(),
            func.sum(case((u.c.paid >= u.c.due, 1), else_=0)),
        ).group_by(u.c.period, u.c.pid, u.c.k)
    ).all()
    if group_by == "project":
        # A branch compares its projects month by month: one without bills in a month that others have is listed
        # with nothing due and its rate 「—」, not left out of the comparison (004 分公司 监督指导).
        projects = select(Project.id).where(actor.project_filter(Project.id))
        if project_id is not None:
            projects = projects.where(Project.id == project_id)
        billed = {(r[0], r[1]) for r in grouped}
        scope = list(session.scalars(projects)) if grouped else []
        grouped = [*grouped, *((period, pid, pid, 0, 0, 0, 0) for period in sorted({r[0] for r in grouped})
                               for pid in scope if (period, pid) not in billed)]
    labels = _rate_labels(session, group_by, {(r[1], r[2]) for r in grouped})
    rows = sorted(
        (_rate_row(r[0], r[1], r[2], labels[(r[1], r[2])][0], r[3], r[4], r[5], r[6]) for r in grouped),
        key=lambda r: (r.period, labels[(r.project_id, r.key)][1]),
    )
    totals = [_sum_rows(period, [r for r in rows if r.period == period]) for period in sorted({r.period for r in rows})]
    # a range of months: its total too (a single month's is that month's 合计)
    whole = _sum_rows(f"{period_from}~{period_to}", totals, "区间合计", None) if period_to > period_from and totals else None
    return CollectionRateReport(group_by, period_from, period_to, tuple(rows), tuple(totals), whole)


RATE_HEADER = ("收费率(按金额)", "户数", "已缴清户数", "收费率(按户)", "目标", "达标")


def collection_rate_xlsx(session: Session, report: CollectionRateReport) -> bytes:
    """The report as .xlsx; the export is logged."""
    header = [label_of(Bill, "period"), RATE_GROUPS[report.group_by], label_of(Bill, "amount_due"),
              label_of(Bill, "amount_paid"), *RATE_HEADER]
    wb = xlsx_out.new_workbook()
    xlsx_out.write_sheet(wb, f"收费率 {report.period_from}~{report.period_to}", header, (
        [r.period, r.label, r.amount_due, r.amount_paid, rate_text(r.amount_rate), r.households, r.households_paid,
         rate_text(r.household_rate), rate_text(r.target), r.target_label]
        for r in (*report.rows, *report.totals, *((report.range_total,) if report.range_total else ()))
    ))
    log_event(session, AuditKind.EXPORT, table=Bill.__tablename__,
              summary=f"导出收费率（{RATE_GROUPS[report.group_by]}，{report.period_from}~{report.period_to}）")
    log_operation(session, "export_collection_rate",
                  params={"group_by": report.group_by, "period_from": report.period_from, "period_to": report.period_to},
                  counts={"rows": len(report.rows)})
    return xlsx_out.to_bytes(wb)
