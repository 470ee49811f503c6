"""月结 (actions/month_close.py): the snapshot freezes the report as reported; a later correction shows as a
difference against it; closing twice, a dry run, an unfinished month and another project change nothing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from actions.actor import actor_for_user
from actions.billing import record_payment
from actions.errors import NotPermitted, Refused
from actions.month_close import close_month
from actions.monthly_report import closures, monthly_report
from models import AuditKind, AuditLog, Bill, BillStatus, MonthSnapshot, OperationLog, RequestStatus
from tests import dashboard_support as ds
from tests import factories as f


@pytest.fixture
def world(session):
    return ds.build(session)


@pytest.fixture
def manager(session, world):
    return actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1, world.p2]))


def test_closing_freezes_each_projects_report(session, world, manager):
    before = ds.counts(session)
    result = close_month(session, actor=manager, month=ds.MONTH)
    assert (result.closed, result.already, result.dry_run) == (("乙项目", "甲项目"), (), False)
    assert result.message == "2025-09：已月结 2 个项目（乙项目、甲项目）"
    snaps = {s.project_id: s for s in session.scalars(select(MonthSnapshot).where(MonthSnapshot.month == ds.MONTH))}
    assert set(snaps) == {world.p1.id, world.p2.id}
    assert snaps[world.p1.id].closed_by_id == manager.user_id and snaps[world.p1.id].closed_by_name == manager.name
    tables = {t["key"]: t for t in snaps[world.p1.id].figures["tables"]}
    kpi_rows = {row[0]: row for row in tables["kpis"]["rows"]}
    assert kpi_rows["收费率"][6] == "52.9%" and kpi_rows["回访率"][6] == "66.7%"
    after = ds.counts(session)
    assert after[0] == before[0] + 2
    assert ds.count(session, AuditLog, AuditLog.table_name == "month_snapshot", AuditLog.kind == AuditKind.INSERT) == 2
    log = session.get(OperationLog, result.operation_id)
    assert log.operation == "close_month" and log.counts == {"closed": 2, "already": 0}


def test_closing_twice_freezes_nothing_new(session, world, manager):
    close_month(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    frozen = session.scalar(select(MonthSnapshot.figures).where(MonthSnapshot.project_id == world.p1.id))
    world.unpaid.amount_paid, world.unpaid.status = Decimal("250.00"), BillStatus.PAID
    session.flush()
    snaps = ds.count(session, MonthSnapshot)
    result = close_month(session, actor=manager, month=ds.MONTH)
    assert (result.closed, result.already) == (("乙项目",), ("甲项目",))
    assert ds.count(session, MonthSnapshot) == snaps + 1
    session.expire_all()
    assert session.scalar(select(MonthSnapshot.figures).where(MonthSnapshot.project_id == world.p1.id)) == frozen


def test_a_correction_after_closing_shows_as_a_difference(session, world, manager):
    close_month(session, actor=manager, month=ds.MONTH)
    # corrections to September's records after the report went out
    world.unpaid.amount_paid, world.unpaid.status = Decimal("250.00"), BillStatus.PAID
    world.c2.closed_at = ds.sh(9, 29)
    world.c1.reply = "已更换车库道闸"
    session.flush()
    report = monthly_report(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    closure = closures(session, report=report)[world.p1.id]
    assert closure.closed_by == manager.name
    changed = {(d.table, d.row, d.column): (d.reported, d.current, d.delta) for d in closure.differences}
    assert changed[("主要指标", "收费率", "分子数")] == ("450.00", "700.00", "+250.00")
    assert changed[("主要指标", "收费率", "完成值")] == ("52.9%", "82.4%", "+29.5个百分点")  # 700 ÷ 850 = 82.35 %
    assert changed[("主要指标", "投诉处理率", "分子数")] == ("2", "3", "+1")
    assert changed[("重大投诉及处理情况", str(world.c1.id), "答复内容")] == ("", "已更换车库道闸", "")
    assert changed[("收费情况（按分期）", "一期", "实收(元)")] == ("350.00", "600.00", "+250.00")
    # the report as reported is still there, unchanged
    kpis = next(t for t in closure.reported if t.key == "kpis")
    assert [c.text for c in kpis.rows[0]][6] == "52.9%"
    # an unchanged project shows no difference
    report = monthly_report(session, actor=manager, month=ds.MONTH, project_ids=[world.p2.id])
    assert closures(session, report=report)[world.p2.id].differences == ()


def test_money_received_after_closing_is_collection_not_a_correction(session, world, manager):
    closed_at = ds.sh(10, 8, 9, 30)
    close_month(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id], now=closed_at)
    # an ordinary late payment on September's unpaid bill (250.00), received on October 10th
    record_payment(session, bill_id=world.unpaid.id, amount="223.90", paid_at=ds.sh(10, 10), actor=manager)

    report = monthly_report(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    closure = closures(session, report=report)[world.p1.id]

    assert closure.differences == ()  # no correction
    assert (closure.late.amount, closure.late.payments, closure.late.by_phase) == (
        Decimal("223.90"), 1, (("一期", Decimal("223.90")),))
    assert closure.late.text == "月结后补收 223.90 元（1 笔）"
    later = {(d.table, d.row, d.column): (d.reported, d.current) for d in closure.collected_later}
    # 450.00 + 223.90 = 673.90 of 850.00 = 79.28 %; still 未达标, so 是否达标 did not change
    assert later == {
        ("主要指标", "收费率", "分子数"): ("450.00", "673.90"),
        ("主要指标", "收费率", "完成值"): ("52.9%", "79.3%"),
        # 全年收费率: August's 250 unpaid too → 450 of 1100 = 40.9 %, then 673.90 of 1100 = 61.3 %
        ("主要指标", "全年收费率", "分子数"): ("450.00", "673.90"),
        ("主要指标", "全年收费率", "完成值"): ("40.9%", "61.3%"),
        ("收费情况（按分期）", "一期", "实收(元)"): ("350.00", "573.90"),
        ("收费情况（按分期）", "一期", "收费率"): ("46.7%", "76.5%"),
        ("收费情况（按分期）", "合计", "实收(元)"): ("450.00", "673.90"),
        ("收费情况（按分期）", "合计", "收费率"): ("52.9%", "79.3%"),
    }


def test_money_received_after_closing_for_an_earlier_month_moves_the_yearly_rate_only(session, world, manager):
    close_month(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id], now=ds.sh(10, 8, 9, 30))
    august = session.scalars(select(Bill).where(Bill.project_id == world.p1.id, Bill.period == "2025-08")).one()
    record_payment(session, bill_id=august.id, amount="250.00", paid_at=ds.sh(10, 12), actor=manager)

    report = monthly_report(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    closure = closures(session, report=report)[world.p1.id]

    assert closure.differences == ()
    assert (closure.late.amount, closure.late.payments, closure.late.year_amount) == (Decimal("0"), 0, Decimal("250.00"))
    assert closure.late.text == "月结后补收：本年此前账期 250.00 元"
    assert {(d.row, d.column): (d.reported, d.current) for d in closure.collected_later} == {
        ("全年收费率", "分子数"): ("450.00", "700.00"), ("全年收费率", "完成值"): ("40.9%", "63.6%")}


def test_a_late_payment_dated_before_the_close_or_beside_an_edit_is_a_correction(session, world, manager):
    close_month(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id], now=ds.sh(10, 8, 9, 30))
    # received on October 2nd, before the close, but entered after it: the report missed it — a correction
    record_payment(session, bill_id=world.unpaid.id, amount="50.00", paid_at=ds.sh(10, 2), actor=manager)
    report = monthly_report(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    closure = closures(session, report=report)[world.p1.id]
    assert (closure.late.payments, closure.collected_later) == (0, ())
    assert {(d.table, d.row, d.column) for d in closure.differences} >= {
        ("主要指标", "收费率", "分子数"), ("收费情况（按分期）", "一期", "实收(元)")}

    # a later payment beside an edit of the month's paid amount: the amounts are not explained, all corrections
    record_payment(session, bill_id=world.unpaid.id, amount="100.00", paid_at=ds.sh(10, 10), actor=manager)
    report = monthly_report(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    closure = closures(session, report=report)[world.p1.id]
    assert closure.late.amount == Decimal("100.00") and closure.collected_later == ()
    assert ("主要指标", "收费率", "分子数", "450.00", "600.00") in {
        (d.table, d.row, d.column, d.reported, d.current) for d in closure.differences}


def test_a_new_record_in_a_closed_month_is_a_new_row(session, world, manager):
    close_month(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    late = f.service_request(session, project_=world.p1, received_at=ds.sh(9, 12))
    late.kind, late.complaint_major = world.c1.kind, True
    late.status = RequestStatus.PENDING
    session.flush()
    report = monthly_report(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id])
    changed = {(d.table, d.row, d.column): (d.reported, d.current)
               for d in closures(session, report=report)[world.p1.id].differences}
    assert changed[("重大投诉及处理情况", str(late.id), "状态")] == ("", "待派工")
    assert changed[("主要指标", "投诉处理率", "分母数")] == ("4", "5")


def test_a_dry_run_writes_nothing(session, world, manager):
    before = ds.counts(session)
    result = close_month(session, actor=manager, month=ds.MONTH, dry_run=True)
    assert (result.closed, result.dry_run, result.operation_id) == (("乙项目", "甲项目"), True, None)
    assert result.message.startswith("2025-09：将月结 2 个项目")
    assert ds.counts(session) == before



def _tables_read(session, fn):
    """The tables the statements ``fn`` runs name in their FROM/JOIN clauses."""
    statements = []

    def seen(conn, cursor, statement, *rest):
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        out = fn()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return out, {m for st in statements for m in re.findall(r"(?:FROM|JOIN)\s+(\w+)", st)}


def test_a_dry_run_and_a_closed_month_build_no_report(session, world, manager):
    # what a close would freeze is known from the projects and their snapshots: the month's requests, orders,
    # visits and bills are read only when there is a report to freeze
    records = {"service_request", "work_order", "visit", "bill", "bill_total"}
    result, read = _tables_read(session, lambda: close_month(session, actor=manager, month=ds.MONTH, dry_run=True))
    assert result.closed == ("乙项目", "甲项目") and not read & records
    close_month(session, actor=manager, month=ds.MONTH)
    snaps = ds.count(session, MonthSnapshot)
    result, read = _tables_read(session, lambda: close_month(session, actor=manager, month=ds.MONTH))
    assert (result.closed, result.already) == ((), ("乙项目", "甲项目")) and not read & records
    assert ds.count(session, MonthSnapshot) == snaps

def test_an_unfinished_month_cannot_be_closed(session, world, manager):
    before = ds.counts(session)
    with pytest.raises(Refused, match="尚未结束"):
        close_month(session, actor=manager, month="2025-10", now=ds.sh(10, 31, 23, 59))
    with pytest.raises(Refused, match="月份格式"):
        close_month(session, actor=manager, month="2025-9")
    assert ds.counts(session) == before
    result = close_month(session, actor=manager, month="2025-10", now=ds.sh(11, 1, 0, 0))
    assert len(result.closed) == 2


def test_another_projects_month_cannot_be_closed(session, world, manager):
    nobody = actor_for_user(session, f.user(session, roles=["客服经理"]))
    before = ds.counts(session)
    with pytest.raises(NotPermitted):
        close_month(session, actor=manager, month=ds.MONTH, project_ids=[world.p1.id, world.p3.id])
    with pytest.raises(Refused, match="没有可月结的项目"):
        close_month(session, actor=nobody, month=ds.MONTH)
    assert ds.counts(session) == before


def test_closing_is_stamped_with_the_time_given(session, world, manager):
    stamp = dt.datetime(2025, 10, 8, 9, 0, tzinfo=dt.UTC)
    close_month(session, actor=manager, month=ds.MONTH, project_ids=[world.p2.id], now=stamp)
    assert session.scalar(select(MonthSnapshot.closed_at).where(MonthSnapshot.project_id == world.p2.id)) == stamp
