"""Bills, payments, the account statement, arrears aging and the collection rate, on a hand-checked estate."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from actions.actor import Actor, actor_for_user
from actions.billing import (
    ArrearsFilter,
    FeeChoices,
    account_statement,
    arrears,
    arrears_xlsx,
    collection_rate,
    collection_rate_xlsx,
    customer_accounts,
    fee_choices,
    generate_bills,
    pay_account,
    record_payment,
    reverse_receipt,
)
from actions.bulk_import import import_records
from actions.errors import NotPermitted, Refused
from actions.fee_tasks import end_parking_lease, lease_parking_space
from actions.kernel.names import natural_key
from actions.kernel.periods import current_period
from models import (
    AuditKind,
    AuditLog,
    Bill,
    BillStatus,
    FeeBasis,
    OperationLog,
    ParkingLease,
    ParkingSpace,
    Payment,
    PayMethod,
    Phase,
    StaffPosition,
    UnitCustomer,
    UnitKind,
    UnitRelation,
)
from models.fees import FeeCycle, FeeType
from tests import factories as f
from tests.data.workbooks import workbook

D = Decimal
AS_OF = dt.date(2026, 4, 5)


@dataclass
class Estate:
    project: object
    actor: Actor
    a: object
    b: object
    c1: object
    c2: object
    a101: object
    a102: object
    b201: object
    mgmt: object
    owner: object


def counts(session, *models) -> dict:
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in models}


WRITES = (Bill, Payment, OperationLog, AuditLog)


@pytest.fixture
def estate(session) -> Estate:
    return make_estate(session)


def make_estate(session, name: str = "翠湖收费测试苑") -> Estate:
    """一期 A 栋 (A-101 100㎡, A-102 80㎡, collector C1) and 二期 B 栋 (B-201 a 120.50㎡ key shop, collector C2)."""
    p = f.project(session, name=name)
    one, two = Phase(project=p, name="一期"), Phase(project=p, name="二期")
    session.add_all([one, two])
    session.flush()
    a = f.building(session, project_=p, name="A栋")
    b = f.building(session, project_=p, name="B栋")
    a.phase_id, b.phase_id = one.id, two.id
    c1 = f.staff(session, project_=p, name="陈收费", position=StaffPosition.CASHIER)
    c2 = f.staff(session, project_=p, name="周收费", position=StaffPosition.CASHIER)
    a101 = f.unit(session, project_=p, building_=a, room_no="101", area=D("100.00"))
    a102 = f.unit(session, project_=p, building_=a, room_no="102", area=D("80.00"))
    b201 = f.unit(session, project_=p, building_=b, room_no="201", area=D("120.50"))
    b201.kind, b201.key_tenant = UnitKind.SHOP, True
    a101.collector_id = a102.collector_id = c1.id
    b201.collector_id = c2.id
    owner = f.customer(session, project_=p, name="张伟", unit_=a101)
    f.customer(session, project_=p, name="李娜", phone="13900001111", unit_=a102)
    shop = f.customer(session, project_=p, name="王芳", phone="13700002222")
    f.customer(session, project_=p, name="赵强", phone="13600003333", unit_=b201)  # the owner …
    from models import UnitCustomer

    session.add(UnitCustomer(project=p, unit=b201, customer=shop, relation=UnitRelation.SHOP_TENANT, is_primary=False))
    mgmt = f.fee_type(session, project_=p, name="物业管理费", rate=D("2.50"))
    session.flush()
    actor = Actor(user_id=None, name="测试收费员", project_ids=frozenset({p.id}))
    return Estate(p, actor, a, b, c1, c2, a101, a102, b201, mgmt, owner)


def with_bills(session, e: Estate) -> None:
    """January–April: A-101 paid Jan, nothing Feb, 100 of Mar, nothing Apr; A-102 paid Jan–Mar; B-201 nothing."""
    plan = {
        e.a101: (D("250.00"), [D("250.00"), D("0"), D("100.00"), D("0")]),
        e.a102: (D("200.00"), [D("200.00"), D("200.00"), D("200.00"), D("0")]),
        e.b201: (D("301.25"), [D("0"), D("0"), D("0"), D("0")]),
    }
    for unit, (due, paid) in plan.items():
        for month, amount_paid in enumerate(paid, start=1):
            f.bill(session, unit_=unit, fee_type_=e.mgmt, period=f"2026-{month:02d}", amount_due=due, amount_paid=amount_paid)


def one_off(session, e: Estate, name: str) -> FeeType:
    """A 按次 fee type (装修管理费 …) at 300 元 a time."""
    row = f.fee_type(session, project_=e.project, name=name, basis=FeeBasis.FIXED, rate=D("300.00"))
    row.billing_cycle = FeeCycle.ONCE
    session.flush()
    return row


# --- generating bills ---------------------------------------------------------------------------------
def test_generate_bills_from_rates_once_per_unit_fee_type_and_period(session, estate):
    e = estate
    parking = f.fee_type(session, project_=e.project, name="停车费", basis=FeeBasis.PER_SPACE, rate=D("300.00"))
    f.fee_type(session, project_=e.project, name="水电费代收", basis=FeeBasis.FIXED, rate=D("0"))  # filled by import
    f.fee_type(session, project_=e.project, name="旧收费项目", rate=D("9.00"), active=False)
    renovation = one_off(session, e, "装修管理费")  # charged per renovation: never in the monthly run
    e.mgmt.due_day = 10
    session.add_all([ParkingSpace(project=e.project, code=c, unit=e.a101) for c in ("P-1", "P-2")])
    session.flush()

    result = generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor)

    assert (result.created, result.existing) == (4, 0)
    assert {x.name: x.created for x in result.by_fee_type} == {"物业管理费": 3, "停车费": 1}
    assert not session.scalar(select(func.count()).where(Bill.fee_type_id == renovation.id))
    bills = {(b.unit_id, b.fee_type_id): b for b in session.scalars(select(Bill).where(Bill.project_id == e.project.id))}
    assert bills[(e.a101.id, e.mgmt.id)].amount_due == D("250.00")
    assert bills[(e.a102.id, e.mgmt.id)].amount_due == D("200.00")
    assert bills[(e.b201.id, e.mgmt.id)].amount_due == D("301.25")
    assert bills[(e.a101.id, parking.id)].amount_due == D("600.00")
    first = bills[(e.a101.id, e.mgmt.id)]
    assert isinstance(first.amount_due, Decimal)
    assert (first.period, first.due_date, first.status, first.amount_paid) == ("2026-03", dt.date(2026, 3, 10), BillStatus.UNPAID, D("0"))
    assert (first.customer_id, first.collector_id) == (e.owner.id, e.c1.id)
    audited = session.scalar(select(func.count()).where(AuditLog.table_name == "bill", AuditLog.kind == AuditKind.INSERT,
                                                    AuditLog.project_id == e.project.id))
    assert audited == 4
    log = session.scalars(select(OperationLog).where(OperationLog.operation == "generate_bills",
                                                   OperationLog.project_id == e.project.id)).one()
    assert log.counts == {"created": 4, "existing": 0}
    assert renovation.id not in log.params["fee_type_ids"]

    again = generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor)
    assert (again.created, again.existing) == (0, 4)
    assert session.scalar(select(func.count()).where(Bill.project_id == e.project.id)) == 4
    assert "不重复生成" in again.message


def test_a_leased_space_is_billed_its_monthly_rent_once_a_month_of_its_term(session, estate):
    """车位租赁's 月租 is what the lessee agreed: each month of the term billed once, in the 账期 it begins in, to the
    lessee's unit; a space let there is never billed the rate too (nor after its term); spaces never let keep it."""
    e = estate
    parking = f.fee_type(session, project_=e.project, name="停车费", basis=FeeBasis.PER_SPACE, rate=D("300.00"))
    p1, p2, p3, p4 = (ParkingSpace(project=e.project, code=c, unit=u)
                      for c, u in (("P-1", e.a101), ("P-2", e.a101), ("P-3", None), ("P-4", None)))
    session.add_all([p1, p2, p3, p4])
    session.flush()
    li_na = session.scalars(select(UnitCustomer.customer_id).where(UnitCustomer.unit_id == e.a102.id)).one()
    outsider = f.customer(session, project_=e.project, name="孙丽", phone="13500004444")  # no unit here
    for space, who, start, end, rent in ((p1, e.owner.id, "2026-01-31", "2026-03-30", "250.00"),  # Jan 31, Feb 28
                                         (p3, li_na, "2026-02-15", "2026-08-14", "180.00"),
                                         (p4, outsider.id, "2026-03-01", "2026-12-31", "200.00")):
        lease_parking_space(session, space_id=space.id, customer_id=who, start_date=dt.date.fromisoformat(start),
                            end_date=dt.date.fromisoformat(end), monthly_rent=D(rent), actor=e.actor)

    def parking_bills(period: str) -> dict:
        preview = generate_bills(session, project_id=e.project.id, period=period, actor=e.actor,
                                 fee_type_ids=[parking.id], dry_run=True)
        result = generate_bills(session, project_id=e.project.id, period=period, actor=e.actor, fee_type_ids=[parking.id])
        bills = {b.unit_id: b.amount_due for b in session.scalars(
            select(Bill).where(Bill.fee_type_id == parking.id, Bill.period == period))}
        assert preview.created == result.created == len(bills)
        rooms = {e.a101.id: "A-101", e.a102.id: "A-102", e.b201.id: "B-201"}
        return {rooms[u]: amount for u, amount in bills.items()}, result

    january, _ = parking_bills("2026-01")
    assert january == {"A-101": D("550.00")}  # P-1 月租 250 + P-2 rate 300; P-3's term begins in February
    february, _ = parking_bills("2026-02")
    assert february == {"A-101": D("550.00"), "A-102": D("180.00")}  # P-1's second month begins Feb 28
    march, result = parking_bills("2026-03")
    # P-1 is let until Mar 30 (its month began Feb 28): neither 月租 nor the rate; P-4's lessee has no unit to bill
    assert march == {"A-101": D("300.00"), "A-102": D("180.00")}
    assert "车位 P-4 的承租人在本项目没有关联房屋" in result.message
    lease_of_p3 = session.scalars(select(ParkingLease.id).where(ParkingLease.space_id == p3.id)).one()
    # 李娜's rent changes mid-term: her lease ends Apr 20 (its April month began Apr 15) and a new one begins Apr 21
    end_parking_lease(session, lease_id=lease_of_p3, end_date=dt.date(2026, 4, 20), actor=e.actor)
    lease_parking_space(session, space_id=p3.id, customer_id=li_na, start_date=dt.date(2026, 4, 21),
                        end_date=dt.date(2026, 12, 31), monthly_rent=D("200.00"), actor=e.actor)
    april, result = parking_bills("2026-04")
    # P-1 let no more: not billed the rate to its former lessee; P-3 billed once, at the new rent
    assert april == {"A-101": D("300.00"), "A-102": D("200.00")}

    rate = collection_rate(session, actor=e.actor, period_from="2026-03").rows[0]
    assert rate.amount_due == D("480.00")  # March's bills: 300 + 180  # the bills' own sums: 收费率 reads what was billed
    logs = session.scalars(select(OperationLog).where(OperationLog.operation == "generate_bills",
                                                    OperationLog.project_id == e.project.id))
    assert ["P-4" in log.message for log in logs] == [False, False, True, True]


def test_a_project_letting_every_space_bills_its_leases_under_a_parking_fee_at_rate_0(session, estate):
    """A project that lets every space by 车位租赁 sets 停车费's rate to 0: its leases' 月租 are billed all the same
    (the run took only fee types with a rate above 0, and billed no lease); a space without a lease bills nothing."""
    e = estate
    parking = f.fee_type(session, project_=e.project, name="停车费", basis=FeeBasis.PER_SPACE, rate=D("0"))
    f.fee_type(session, project_=e.project, name="代收水费", basis=FeeBasis.FIXED, rate=D("0"))  # filled by import
    p1, p2, p3 = (ParkingSpace(project=e.project, code=c, unit=u) for c, u in (("P-1", e.a101), ("P-2", e.a102),
                                                                               ("P-3", None)))
    session.add_all([p1, p2, p3])
    session.flush()
    assert [c.label for c in fee_choices(session, actor=e.actor).fee_types] == ["物业管理费"]  # no lease: nothing to bill
    li_na = session.scalars(select(UnitCustomer.customer_id).where(UnitCustomer.unit_id == e.a102.id)).one()
    for space, who, rent in ((p1, e.owner.id, "250.00"), (p3, li_na, "180.00")):  # P-2 (A-102's) is not let
        lease_parking_space(session, space_id=space.id, customer_id=who, start_date=dt.date(2026, 1, 1),
                            end_date=dt.date(2026, 12, 31), monthly_rent=D(rent), actor=e.actor)
    assert sorted(c.label for c in fee_choices(session, actor=e.actor).fee_types) == ["停车费", "物业管理费"]

    preview = generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor, dry_run=True)
    result = generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor)
    by_type = {t.name: t.created for t in result.by_fee_type}
    assert by_type == {"物业管理费": 3, "停车费": 2} == {t.name: t.created for t in preview.by_fee_type}
    bills = {b.unit_id: b.amount_due for b in session.scalars(select(Bill).where(Bill.fee_type_id == parking.id))}
    assert bills == {e.a101.id: D("250.00"), e.a102.id: D("180.00")}  # 月租 only: P-2 at rate 0 adds nothing
    assert session.scalar(select(func.count()).select_from(Bill)) == preview.created == result.created == 5
    # asked for by itself, it is billed too (April)
    april = generate_bills(session, project_id=e.project.id, period="2026-04", actor=e.actor, fee_type_ids=[parking.id])
    assert april.created == 2 and session.scalar(select(func.sum(Bill.amount_due)).where(
        Bill.fee_type_id == parking.id, Bill.period == "2026-04")) == D("430.00")


def test_generate_bills_dry_run_and_refusals_write_nothing(session, estate):
    e = estate
    other = f.project(session)
    foreign = f.fee_type(session, project_=other)
    renovation = one_off(session, e, "装修管理费")
    deposit = one_off(session, e, "装修押金")
    before = counts(session, *WRITES)

    preview = generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor, dry_run=True)
    assert (preview.created, preview.dry_run) == (3, True)
    assert "将生成 3 张" in preview.message

    with pytest.raises(NotPermitted):
        generate_bills(session, project_id=other.id, period="2026-03", actor=e.actor)
    with pytest.raises(Refused, match="账期格式"):
        generate_bills(session, project_id=e.project.id, period="2026-3", actor=e.actor)
    with pytest.raises(Refused, match="太远"):
        generate_bills(session, project_id=e.project.id, period="2099-01", actor=e.actor)
    with pytest.raises(Refused, match="不属于项目") as refused:
        generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor, fee_type_ids=[foreign.id])
    assert refused.value.ids == [foreign.id]
    with pytest.raises(Refused, match="按次") as refused:
        generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor,
                       fee_type_ids=[e.mgmt.id, renovation.id, deposit.id])
    assert "装修管理费、装修押金" in refused.value.message and "不随月度账单生成" in refused.value.message
    assert refused.value.ids == [renovation.id, deposit.id]
    assert counts(session, *WRITES) == before


def test_a_project_with_only_one_off_fee_types_has_nothing_to_bill(session, estate):
    e = estate
    e.mgmt.billing_cycle = FeeCycle.ONCE
    session.flush()
    before = counts(session, *WRITES)
    with pytest.raises(Refused, match="按月计费"):
        generate_bills(session, project_id=e.project.id, period="2026-03", actor=e.actor)
    assert counts(session, *WRITES) == before


def test_fee_choices_offer_monthly_fee_types_collectors_and_buildings_in_natural_order(session, estate):
    e = estate
    one_off(session, e, "装修管理费")
    for name in ("10栋", "2栋", "1栋"):
        f.building(session, project_=e.project, name=name)
    engineer = f.staff(session, project_=e.project, name="孙维修", position=StaffPosition.ENGINEER)
    f.staff(session, project_=e.project, name="钱保安", position=StaffPosition.GUARD)
    desk = f.staff(session, project_=e.project, name="前台小吴", position=StaffPosition.FRONT_DESK)

    choices = fee_choices(session, actor=e.actor)

    assert isinstance(choices, FeeChoices)
    assert [c.label for c in choices.fee_types] == ["物业管理费"]
    assert [c.label for c in choices.buildings] == ["1栋", "2栋", "10栋", "A栋", "B栋"]
    assert {c.label for c in choices.collectors} == {"陈收费", "周收费", "前台小吴"}
    assert choices.own_staff_id is None
    assert desk.id in {c.id for c in choices.staff} and engineer.id in {c.id for c in choices.staff}

    # An engineer at the keyboard (linked staff record) is offered as themself and is the default.
    user = f.user(session, username="eng1", roles=["收费员"], projects=[e.project])
    user.staff_id = engineer.id
    session.flush()
    mine = fee_choices(session, actor=actor_for_user(session, user))
    assert mine.own_staff_id == engineer.id
    assert {c.label for c in mine.collectors} == {"陈收费", "周收费", "前台小吴", "孙维修"}


def test_default_period_is_this_month_in_shanghai():
    assert current_period(dt.datetime(2026, 4, 30, 17, 0, tzinfo=dt.UTC)) == "2026-05"
    assert current_period(dt.datetime(2026, 4, 30, 15, 0, tzinfo=dt.UTC)) == "2026-04"


def test_partial_then_full_payment_moves_paid_and_status(session, estate):
    e = estate
    with_bills(session, e)
    feb = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-02")).one()
    paid_at = dt.datetime(2026, 4, 6, 2, 30, tzinfo=dt.UTC)

    first = record_payment(session, bill_id=feb.id, amount="100.00", method=PayMethod.CASH, collector_id=e.c1.id,
                           paid_at=paid_at, actor=e.actor)
    assert (first.bill_status, first.outstanding) == (BillStatus.PARTIAL, D("150.00"))
    second = record_payment(session, bill_id=feb.id, amount=D("150.00"), actor=e.actor)
    assert (second.bill_status, second.outstanding) == (BillStatus.PAID, D("0.00"))
    session.refresh(feb)
    assert (feb.amount_paid, feb.status) == (D("250.00"), BillStatus.PAID)
    payment = session.get(Payment, first.payment_id)
    assert (payment.amount, payment.method, payment.collector_id, payment.paid_at, payment.receipt_no) == (
        D("100.00"), PayMethod.CASH, e.c1.id, paid_at, "SJ2026-000001")
    assert (first.receipt_no, second.receipt_no) == ("SJ2026-000001", "SJ2026-000002")  # a 收据 each

    before = counts(session, *WRITES)
    with pytest.raises(Refused, match="已缴清"):
        record_payment(session, bill_id=feb.id, amount="1.00", actor=e.actor)
    assert counts(session, *WRITES) == before


def test_overpayment_float_and_foreign_payments_are_refused(session, estate):
    e = estate
    with_bills(session, e)
    apr = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-04")).one()
    stranger = f.staff(session, project_=f.project(session))
    outsider = Actor(user_id=None, name="外人", project_ids=frozenset())
    before = counts(session, *WRITES)

    with pytest.raises(Refused, match="超过账单") as refused:
        record_payment(session, bill_id=apr.id, amount="250.01", actor=e.actor)
    assert refused.value.ids == [apr.id]
    with pytest.raises(Refused, match="浮点数"):
        record_payment(session, bill_id=apr.id, amount=100.0, actor=e.actor)
    with pytest.raises(Refused, match="大于 0"):
        record_payment(session, bill_id=apr.id, amount="0", actor=e.actor)
    with pytest.raises(Refused, match="不是本项目员工"):
        record_payment(session, bill_id=apr.id, amount="10.00", collector_id=stranger.id, actor=e.actor)
    with pytest.raises(NotPermitted):
        record_payment(session, bill_id=apr.id, amount="10.00", actor=outsider)
    with pytest.raises(Refused, match="不设预存款"):
        pay_account(session, unit_id=e.a101.id, amount="650.01", actor=e.actor)
    assert counts(session, *WRITES) == before


def test_a_payment_dated_before_its_bill_could_exist_is_refused(session, estate):
    """收款时间 typed a decade out (2016 for 2026) was booked: a 收据 of 2016's sequence, money in a year long closed.
    A bill is issued at most a month ahead and no prepayment is kept, so a payment before the month ahead of its
    账期 is a typo — refused at the counter and in the import, naming the earliest day, nothing written."""
    e = estate
    with_bills(session, e)
    mar = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-03")).one()
    typo = dt.datetime(2016, 3, 5, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    before = counts(session, *WRITES)
    with pytest.raises(Refused, match="收款时间 2016-03-05 早于账单 2026-03 最早可开具之日 2026-02-01"):
        record_payment(session, bill_id=mar.id, amount="10.00", paid_at=typo, actor=e.actor)
    with pytest.raises(Refused, match="收款时间 2016-03-05 早于账单 2026-0[1-4] 最早可开具之日"):
        pay_account(session, unit_id=e.b201.id, amount="700.00", paid_at=typo, actor=e.actor)
    # the earliest day itself (Beijing time) is taken: a bill of 2026-03 issued and paid on 2026-02-01
    early = dt.datetime(2026, 2, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with pytest.raises(Refused, match="收款时间 2026-02-01 早于账单 2026-04"):  # the account's April bill too
        pay_account(session, unit_id=e.b201.id, amount="1205.00", paid_at=early, actor=e.actor)
    bank = workbook({"收款": [["收据号", "账单", "金额(元)", "支付方式", "收款时间"],
                              ["YH-1", f"账单#{mar.id}", 10, "银行转账", "2016-03-05 10:30"]]})
    result = import_records(session, kind="payments", data=bank, file_name="银行.xlsx", actor=e.actor,
                            project_id=e.project.id)
    assert [p.message for p in result.problems] == [
        "「收款」第2行 收款时间 2016-03-05 早于账单 2026-03 最早可开具之日 2026-02-01"]
    assert counts(session, *WRITES) == before
    assert record_payment(session, bill_id=mar.id, amount="10.00", paid_at=early, actor=e.actor).amount == D("10.00")


def test_account_payment_is_spread_oldest_first(session, estate):
    e = estate
    with_bills(session, e)

    result = pay_account(session, unit_id=e.b201.id, amount="700.00", method=PayMethod.TRANSFER,
                         paid_at=dt.datetime(2026, 4, 6, 2, 30, tzinfo=dt.UTC), actor=e.actor)

    assert [(p.amount, p.bill_status) for p in result.payments] == [
        (D("301.25"), BillStatus.PAID), (D("301.25"), BillStatus.PAID), (D("97.50"), BillStatus.PARTIAL)]
    assert result.outstanding == D("505.00")
    statuses = dict(session.execute(select(Bill.period, Bill.status).where(Bill.unit_id == e.b201.id)).all())
    assert statuses == {"2026-01": BillStatus.PAID, "2026-02": BillStatus.PAID, "2026-03": BillStatus.PARTIAL,
                        "2026-04": BillStatus.UNPAID}
    receipts = session.scalars(select(Payment.receipt_no).where(Payment.project_id == e.project.id).order_by(Payment.id)).all()
    assert receipts == ["SJ2026-000001"] * 3 and result.receipt_no == "SJ2026-000001"  # one 收款, one 收据


def test_a_receipt_is_reversed_by_its_number_within_the_actors_projects(session, estate):
    """冲正 by 收据号: every payment the receipt lists, once; the number of another project's receipt is not found
    from this one; a receipt already reversed is refused — each refusal writes nothing."""
    e = estate
    with_bills(session, e)
    receipt = pay_account(session, unit_id=e.a101.id, amount="400", actor=e.actor).receipt_no  # Feb 250 + Mar 150
    other = make_estate(session, name="云栖收费测试苑")
    theirs = f.bill(session, unit_=other.a101, fee_type_=other.mgmt, period="2026-04", amount_due=D("250.00"))
    same, foreign = (record_payment(session, bill_id=theirs.id, amount="100", actor=other.actor).receipt_no
                     for _ in range(2))
    assert same == receipt != foreign  # each project numbers its own receipts
    before = counts(session, *WRITES)

    with pytest.raises(Refused, match=f"收据号 {foreign} 不存在"):
        reverse_receipt(session, receipt_no=foreign, reason="误录", actor=e.actor)
    with pytest.raises(Refused, match="收据号 SJ2099-000001 不存在"):
        reverse_receipt(session, receipt_no="SJ2099-000001", reason="误录", actor=e.actor)
    with pytest.raises(Refused, match="请填写冲正原因"):
        reverse_receipt(session, receipt_no=receipt, reason=" ", actor=e.actor)
    assert counts(session, *WRITES) == before

    done = reverse_receipt(session, receipt_no=f" {receipt.lower()} ", reason="收错房屋", actor=e.actor)
    assert [(r.amount, r.bill_status) for r in done.reversals] == [(D("250.00"), BillStatus.UNPAID),
                                                                   (D("150.00"), BillStatus.PARTIAL)]
    paid = session.execute(select(Bill.period, Bill.amount_paid).where(Bill.unit_id == e.a101.id,
                                                                      Bill.period.in_(["2026-02", "2026-03"]))
                           .order_by(Bill.period)).all()
    assert paid == [("2026-02", D("0.00")), ("2026-03", D("100.00"))]
    assert session.scalar(select(func.count()).where(Payment.receipt_no == receipt, Payment.project_id == e.project.id,
                                                     Payment.reversed_at.is_(None))) == 0
    assert session.scalar(select(func.count()).where(Payment.project_id == other.project.id,
                                                     Payment.reversed_at.is_(None))) == 2
    after = counts(session, *WRITES)
    with pytest.raises(Refused, match=f"收据 {receipt} 已于 .* 冲正"):
        reverse_receipt(session, receipt_no=receipt, reason="收错房屋", actor=e.actor)
    assert counts(session, *WRITES) == after


def test_a_bills_collector_holds_a_collecting_post_on_the_form(session, estate):
    """账单 表单的 责任收费员: as the unit's and the payment's — a 维修工 sent is refused naming him and his post,
    nothing saved; a 收费员 is kept."""
    from actions.records import save_record

    e = estate
    fixer = f.staff(session, project_=e.project, name="孙师傅", position=StaffPosition.ENGINEER)
    values = {"project": e.project.id, "unit": e.a101.id, "fee_type": e.mgmt.id, "period": "2026-05",
              "amount_due": "100.00", "due_date": dt.date(2026, 5, 15)}
    before = session.scalar(select(func.count()).select_from(Bill)), session.scalar(select(func.count()).select_from(OperationLog))
    with pytest.raises(Refused, match="孙师傅 的岗位是维修工，责任收费员须为收费员、前台客服"), session.begin_nested():
        save_record(session, Bill, None, {**values, "collector": fixer.id}, actor=e.actor)
    assert (session.scalar(select(func.count()).select_from(Bill)),
            session.scalar(select(func.count()).select_from(OperationLog))) == before
    bill = save_record(session, Bill, None, {**values, "collector": e.c1.id}, actor=e.actor)
    assert bill.collector_id == e.c1.id
    with pytest.raises(Refused, match="孙师傅 的岗位是维修工"), session.begin_nested():
        save_record(session, Bill, bill, {"collector": fixer.id}, actor=e.actor, version=str(bill.version))
    session.refresh(bill)
    assert bill.collector_id == e.c1.id


def test_a_payment_without_collector_names_the_cashier_at_the_keyboard(session, estate):
    e = estate
    with_bills(session, e)
    user = f.user(session, username="cashier-c1", roles=["收费员"], projects=[e.project])
    user.staff_id = e.c1.id
    session.flush()
    cashier = actor_for_user(session, user)

    result = pay_account(session, unit_id=e.b201.id, amount="400.00", actor=cashier)
    apr = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-04")).one()
    single = record_payment(session, bill_id=apr.id, amount="10.00", actor=cashier)
    named = record_payment(session, bill_id=apr.id, amount="10.00", actor=cashier, collector_id=e.c2.id)

    collectors = dict(session.execute(select(Payment.id, Payment.collector_id).where(Payment.project_id == e.project.id)).all())
    assert [collectors[p.payment_id] for p in result.payments] == [e.c1.id, e.c1.id]
    assert collectors[single.payment_id] == e.c1.id
    assert collectors[named.payment_id] == e.c2.id  # a collector chosen on the form is kept
    # one the form does not offer (a 维修工), sent anyway, is refused naming the post; nothing is recorded
    fixer = f.staff(session, project_=e.project, name="孙师傅", position=StaffPosition.ENGINEER)
    before = session.scalar(select(func.count()).select_from(Payment)), apr.amount_paid
    with pytest.raises(Refused, match="孙师傅 的岗位是维修工，收款人须为收费员、前台客服"):
        record_payment(session, bill_id=apr.id, amount="10.00", actor=cashier, collector_id=fixer.id)
    session.refresh(apr)
    assert (session.scalar(select(func.count()).select_from(Payment)), apr.amount_paid) == before
    log = session.scalars(select(OperationLog).where(OperationLog.operation == "pay_account",
                                                   OperationLog.project_id == e.project.id)).one()
    assert log.params["collector_id"] == e.c1.id

    # Without a staff record here (another project's, or none) the collector stays empty.
    user.staff_id = f.staff(session, project_=f.project(session), position=StaffPosition.CASHIER).id
    session.flush()
    elsewhere = record_payment(session, bill_id=apr.id, amount="10.00", actor=actor_for_user(session, user))
    anonymous = record_payment(session, bill_id=apr.id, amount="10.00", actor=e.actor)
    assert session.get(Payment, elsewhere.payment_id).collector_id is None
    assert session.get(Payment, anonymous.payment_id).collector_id is None


def test_account_statement_shows_bills_payments_and_balance(session, estate):
    e = estate
    with_bills(session, e)
    feb = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-02")).one()
    record_payment(session, bill_id=feb.id, amount="50.00", collector_id=e.c1.id, actor=e.actor)

    st = account_statement(session, unit_id=e.a101.id, actor=e.actor, as_of=AS_OF)

    assert (st.unit_label, st.payer, st.collector, st.project) == ("A栋-101", "张伟", "陈收费", "翠湖收费测试苑")
    assert [b.period for b in st.bills] == ["2026-04", "2026-03", "2026-02", "2026-01"]
    assert (st.total_due, st.total_paid, st.balance, st.overdue_amount) == (D("1000.00"), D("400.00"), D("600.00"), D("600.00"))
    assert [(p.period, p.amount, p.collector) for p in st.payments] == [("2026-02", D("50.00"), "陈收费")]
    assert [s.unit_id for s in customer_accounts(session, customer_id=e.owner.id, actor=e.actor)] == [e.a101.id]
    with pytest.raises(NotPermitted):
        account_statement(session, unit_id=e.a101.id, actor=Actor(user_id=None, name="外人", project_ids=frozenset()))


# --- arrears --------------------------------------------------------------------------------------------
def test_arrears_aging_per_account_with_totals_over_the_filter(session, estate):
    e = estate
    with_bills(session, e)

    page = arrears(session, actor=e.actor, as_of=AS_OF)

    assert [(r.building, r.room_no) for r in page.rows] == [("B栋", "201"), ("A栋", "101"), ("A栋", "102")]
    b201, a101, a102 = page.rows
    assert (b201.current, b201.m1, b201.m2, b201.m3plus, b201.total, b201.months, b201.oldest_period) == (
        D("301.25"), D("301.25"), D("301.25"), D("301.25"), D("1205.00"), 4, "2026-01")
    assert (a101.current, a101.m1, a101.m2, a101.m3plus, a101.total, a101.months) == (
        D("250.00"), D("150.00"), D("250.00"), D("0.00"), D("650.00"), 3)
    assert (a102.total, a102.months, a102.collector, a102.payer) == (D("200.00"), 1, "陈收费", "李娜")
    assert (b201.key_tenant, b201.collector, b201.payer) == (True, "周收费", "赵强")
    t = page.totals
    assert (t.accounts, t.current, t.m1, t.m2, t.m3plus, t.total) == (
        3, D("751.25"), D("451.25"), D("551.25"), D("301.25"), D("2055.00"))

    one = arrears(session, actor=e.actor, as_of=AS_OF, page_size=1, page=2)
    assert [r.room_no for r in one.rows] == ["101"] and one.totals.total == D("2055.00") and one.pages == 3
    past = arrears(session, actor=e.actor, as_of=AS_OF, page_size=1, page=9)
    assert (past.rows, past.totals.accounts, past.totals.m3plus) == ((), 3, D("301.25"))
    assert arrears(session, actor=e.actor, as_of=AS_OF, filters=ArrearsFilter(key_tenant=True)).totals.total == D("1205.00")
    assert arrears(session, actor=e.actor, as_of=AS_OF, filters=ArrearsFilter(min_months=2)).totals.total == D("1855.00")
    by_building = arrears(session, actor=e.actor, as_of=AS_OF, filters=ArrearsFilter(building_id=e.a.id))
    assert (by_building.totals.accounts, by_building.totals.total) == (2, D("850.00"))
    assert arrears(session, actor=e.actor, as_of=AS_OF, filters=ArrearsFilter(collector_id=e.c2.id)).totals.accounts == 1
    # Before April's due date passes, April is not in arrears yet.
    assert arrears(session, actor=e.actor, as_of=dt.date(2026, 4, 1)).totals.current == D("0.00")
    assert arrears(session, actor=Actor(user_id=None, name="外人", project_ids=frozenset()), as_of=AS_OF).totals.accounts == 0


def test_arrears_export_is_xlsx_with_formulas_as_text_and_logged(session, estate):
    e = estate
    with_bills(session, e)
    e.owner.name = "=HYPERLINK(\"http://evil\",\"x\")"
    session.flush()
    exports = session.scalar(select(func.count()).where(AuditLog.kind == AuditKind.EXPORT))

    data = arrears_xlsx(session, actor=e.actor, as_of=AS_OF, filters=ArrearsFilter(project_id=e.project.id))

    ws = load_workbook(io.BytesIO(data)).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows[0][:3] == ("项目", "楼栋", "房号") and len(rows) == 4
    a101 = next(r for r in ws.iter_rows(min_row=3) if r[2].value == "101")
    assert a101[3].value.startswith("=HYPERLINK") and a101[3].data_type == "s"
    assert a101[10].value == 650
    assert session.scalar(select(func.count()).where(AuditLog.kind == AuditKind.EXPORT)) == exports + 1


# --- collection rate --------------------------------------------------------------------------------------
def test_collection_rate_by_amount_and_household(session, estate):
    e = estate
    with_bills(session, e)

    by_project = collection_rate(session, actor=e.actor, period_from="2026-03")
    (row,) = by_project.rows
    assert (row.label, row.amount_due, row.amount_paid, row.amount_rate) == ("翠湖收费测试苑", D("751.25"), D("300.00"), D("39.9"))
    assert (row.households, row.households_paid, row.household_rate, row.meets_target) == (3, 1, D("33.3"), False)
    assert by_project.target == D("93")

    by_building = {r.label: r for r in collection_rate(session, actor=e.actor, period_from="2026-03", group_by="building").rows}
    assert by_building["翠湖收费测试苑 · A栋"].amount_rate == D("66.7")
    assert by_building["翠湖收费测试苑 · A栋"].household_rate == D("50.00")
    assert by_building["翠湖收费测试苑 · B栋"].amount_rate == D("0.00")
    by_phase = {r.label: r.amount_due for r in collection_rate(session, actor=e.actor, period_from="2026-03", group_by="phase").rows}
    assert by_phase == {"翠湖收费测试苑 · 一期": D("450.00"), "翠湖收费测试苑 · 二期": D("301.25")}
    by_collector = {r.label: r.amount_paid for r in
                    collection_rate(session, actor=e.actor, period_from="2026-03", group_by="collector").rows}
    assert by_collector == {"翠湖收费测试苑 · 陈收费": D("300.00"), "翠湖收费测试苑 · 周收费": D("0.00")}

    months = collection_rate(session, actor=e.actor, period_from="2026-01", period_to="2026-02")
    assert [(r.period, r.amount_rate, r.household_rate) for r in months.rows] == [
        ("2026-01", D("59.9"), D("66.7")), ("2026-02", D("26.6"), D("33.3"))]
    assert [t.amount_due for t in months.totals] == [D("751.25"), D("751.25")]
    january_a = collection_rate(session, actor=e.actor, period_from="2026-01", group_by="building").rows[0]
    assert (january_a.amount_rate, january_a.meets_target) == (D("100.00"), True)

    with pytest.raises(Refused, match="统计维度"):
        collection_rate(session, actor=e.actor, period_from="2026-03", group_by="floor")


def test_natural_order_of_phase_and_building_names():
    names = ["三期", "十期", "一期", "未分期", "二期", "十二期", "二十期"]
    assert sorted(names, key=natural_key) == ["一期", "二期", "三期", "十期", "十二期", "二十期", "未分期"]
    assert sorted(["10栋", "2栋", "1栋", "B栋", "A栋", "11栋"], key=natural_key) == ["1栋", "2栋", "10栋", "11栋", "A栋", "B栋"]
    assert sorted(["3期", "一百零五期", "十一期"], key=natural_key) == ["3期", "十一期", "一百零五期"]


def test_collection_rate_lists_phases_and_buildings_in_natural_order(session, estate):
    e = estate
    with_bills(session, e)
    three, ten = Phase(project=e.project, name="三期"), Phase(project=e.project, name="十期")
    session.add_all([three, ten])
    session.flush()
    for phase, building in ((ten, "10栋"), (three, "2栋"), (None, "1栋")):
        b = f.building(session, project_=e.project, name=building)
        b.phase_id = phase.id if phase else None
        unit = f.unit(session, project_=e.project, building_=b, room_no="101", area=D("50.00"))
        f.bill(session, unit_=unit, fee_type_=e.mgmt, period="2026-03", amount_due=D("125.00"))
    session.flush()

    phases = collection_rate(session, actor=e.actor, period_from="2026-03", group_by="phase").rows
    assert [r.label.rpartition(" · ")[2] for r in phases] == ["一期", "二期", "三期", "十期", "未分期"]
    buildings = collection_rate(session, actor=e.actor, period_from="2026-03", group_by="building").rows
    assert [r.label.rpartition(" · ")[2] for r in buildings] == ["1栋", "2栋", "10栋", "A栋", "B栋"]



def test_a_month_with_nothing_due_is_neither_met_nor_short(session, estate):
    """Bills of nothing due (应收 0.00): no rate ("—"), and no mark either — it read "— 未达标", where the KPI
    board shows "—" without a mark."""
    e = estate
    for unit in (e.a101, e.a102):
        f.bill(session, unit_=unit, fee_type_=e.mgmt, period="2026-06", amount_due=D("0.00"))
    session.flush()
    assert session.scalar(select(func.count()).where(Bill.period == "2026-06", Bill.amount_due == 0)) == 2
    report = collection_rate(session, actor=e.actor, period_from="2026-06")
    (row,), (total,) = report.rows, report.totals
    for r in (row, total):
        assert (r.amount_due, r.amount_rate, r.meets_target, r.target_label) == (D("0.00"), None, None, "—")
    ws = load_workbook(io.BytesIO(collection_rate_xlsx(session, report))).active
    assert [(r[4], r[9]) for r in ws.iter_rows(min_row=3, values_only=True)] == [("—", "—"), ("—", "—")]

def test_a_range_of_months_has_its_total_on_the_page_and_the_export(session, estate):
    """收费率 2026-01..03: each month's 合计 and the range's — 应收 and 实收 summed, the rate from the sums (rounded as
    a month's), households summed month by month; no target for a range (the documents set one a month, 93 %, and
    one a year, 90 %)."""
    e = estate
    with_bills(session, e)
    report = collection_rate(session, actor=e.actor, period_from="2026-01", period_to="2026-03")
    assert [(t.period, t.amount_due, t.amount_paid) for t in report.totals] == [
        ("2026-01", D("751.25"), D("450.00")), ("2026-02", D("751.25"), D("200.00")),
        ("2026-03", D("751.25"), D("300.00"))]
    whole = report.range_total
    assert (whole.period, whole.label, whole.amount_due, whole.amount_paid, whole.amount_rate) == (
        "2026-01~2026-03", "区间合计", D("2253.75"), D("950.00"), D("42.2"))
    assert (whole.households, whole.households_paid, whole.household_rate) == (9, 4, D("44.4"))
    assert (whole.meets_target, whole.target_label) == (None, "—")
    # one month: its 合计 is the whole, no range total
    assert collection_rate(session, actor=e.actor, period_from="2026-03").range_total is None

    exports = session.scalar(select(func.count()).where(AuditLog.kind == AuditKind.EXPORT))
    ws = load_workbook(io.BytesIO(collection_rate_xlsx(session, report))).active
    last = list(ws.iter_rows(min_row=3, values_only=True))[-1]
    assert last[:8] == ("2026-01~2026-03", "区间合计", 2253.75, 950, 0.422, 9, 4, 0.444)
    assert last[8:] == ("—", "—")
    assert session.scalar(select(func.count()).where(AuditLog.kind == AuditKind.EXPORT)) == exports + 1


def test_collection_rate_export(session, estate):
    e = estate
    with_bills(session, e)
    report = collection_rate(session, actor=e.actor, period_from="2026-03", group_by="building")
    exports = session.scalar(select(func.count()).where(AuditLog.kind == AuditKind.EXPORT))

    ws = load_workbook(io.BytesIO(collection_rate_xlsx(session, report))).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))

    assert rows[0][:4] == ("账期", "楼栋", "应收(元)", "实收(元)")
    assert rows[1][:5] == ("2026-03", "翠湖收费测试苑 · A栋", 450, 300, 0.667)  # a number shown 66.7%
    assert ws.cell(3, 5).number_format == "0.0%" and ws.cell(3, 9).value == 0.93
    assert rows[-1][1] == "合计" and rows[-1][9] == "未达标"
    assert {r[9] for r in rows[1:]} == {"未达标"}
    january = collection_rate(session, actor=e.actor, period_from="2026-01", group_by="building")
    ws = load_workbook(io.BytesIO(collection_rate_xlsx(session, january))).active
    assert [(r[1], r[9]) for r in ws.iter_rows(min_row=3, values_only=True)] == [
        ("翠湖收费测试苑 · A栋", "达标"), ("翠湖收费测试苑 · B栋", "未达标"), ("合计", "未达标")]
    assert session.scalar(select(func.count()).where(AuditLog.kind == AuditKind.EXPORT)) == exports + 2  # one per export


def test_a_project_without_bills_in_a_month_is_compared_with_its_rate_shown_as_a_dash(session, estate):
    """004: the branch compares its projects' 收费率. A project that had no bills in a month the others had was
    left out of that month (and of the export), so the comparison silently lost it; it is listed with nothing
    due, 「—」 and no 达标 mark, and the 合计 stays the others' sums."""
    e = estate
    with_bills(session, e)
    other = make_estate(session, name="滨江收费测试苑")
    f.bill(session, unit_=other.a101, fee_type_=other.mgmt, period="2026-02", amount_due=D("100.00"),
           amount_paid=D("100.00"))
    branch = Actor(user_id=None, name="分公司", project_ids=frozenset({e.project.id, other.project.id}))
    report = collection_rate(session, actor=branch, period_from="2026-02", period_to="2026-03")
    assert [(r.period, r.label, r.amount_due, r.amount_rate, r.target_label) for r in report.rows] == [
        ("2026-02", "滨江收费测试苑", D("100.00"), D("100.0"), "达标"),
        ("2026-02", "翠湖收费测试苑", D("751.25"), D("26.6"), "未达标"),
        ("2026-03", "滨江收费测试苑", D("0.00"), None, "—"),
        ("2026-03", "翠湖收费测试苑", D("751.25"), D("39.9"), "未达标"),
    ]
    assert [(t.period, t.amount_due, t.amount_paid, t.amount_rate) for t in report.totals] == [
        ("2026-02", D("851.25"), D("300.00"), D("35.2")), ("2026-03", D("751.25"), D("300.00"), D("39.9"))]
    rows = list(load_workbook(io.BytesIO(collection_rate_xlsx(session, report))).active.iter_rows(values_only=True))
    assert ("2026-03", "滨江收费测试苑", 0, 0, "—", 0, 0, "—", 0.93, "—") in rows
    # one project asked for: only it; a month no project had bills in is still not invented
    alone = collection_rate(session, actor=branch, period_from="2026-03", period_to="2026-06", project_id=other.project.id)
    assert alone.rows == () and alone.totals == ()
