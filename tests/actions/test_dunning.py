"""Dunning: the schedule, preview, issuing once, the stage order rule, payments stopping later stages, the
two-month rule and the approval gate of stage 4, delivery, letters, and concurrent runs (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from actions import dunning
from actions.actor import Actor, actor_for_user
from actions.audit import trail_clause
from actions.billing import ArrearsFilter, arrears, pay_account, record_payment
from actions.dunning import (
    DunningScope,
    Exclusion,
    LetterKind,
    approve_dunning,
    current_stage,
    default_as_of,
    issue_dunning,
    pay_by,
    record_delivery,
    rmb_upper,
    run_accounts,
    run_letters,
    schedule_date,
)
from actions.errors import NotPermitted, Refused
from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Bill,
    BillStatus,
    Branch,
    Building,
    Customer,
    DeliveryWay,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    DunningStage,
    FeeType,
    OperationLog,
    Payment,
    Phase,
    Project,
    Receipt,
    ReceiptSequence,
    Staff,
    Unit,
    UnitCustomer,
)
from tests import factories as f
from tests.actions.test_billing import Estate, counts, make_estate, with_bills

D = Decimal


@pytest.fixture
def estate(session) -> Estate:
    return make_estate(session)
WRITES = (DunningRun, DunningNotice, OperationLog, AuditLog)
APR = dt.date(2026, 4, 1)


def day(n: int) -> dt.date:
    return APR.replace(day=n)


def project_scope(e: Estate) -> DunningScope:
    return DunningScope(project_id=e.project.id)


def notices(session, e: Estate, stage: DunningStage | None = None) -> dict[int, DunningNotice]:
    stmt = select(DunningNotice).where(DunningNotice.project_id == e.project.id)
    if stage is not None:
        stmt = stmt.where(DunningNotice.stage == stage)
    return {n.unit_id: n for n in session.scalars(stmt)}


def person(session, e: Estate, role: str, name: str) -> Actor:
    return actor_for_user(session, f.user(session, username=name, roles=[role], projects=[e.project]))


# --- schedule -----------------------------------------------------------------------------------------
def test_schedule_dates_a_stage_on_its_day_of_this_month():
    assert default_as_of(1, dt.date(2026, 4, 7)) == day(5)
    assert default_as_of(2, dt.date(2026, 4, 7)) == day(10)  # this month's, not March's: refused until it comes
    assert default_as_of("4", dt.date(2026, 4, 20)) == day(20)
    assert default_as_of(2, dt.date(2026, 1, 3)) == dt.date(2026, 1, 10)
    assert [current_stage(day(n)) for n in (1, 5, 9, 10, 16, 20, 30)] == [
        DunningStage.FIRST, DunningStage.FIRST, DunningStage.FIRST, DunningStage.SECOND, DunningStage.THIRD,
        DunningStage.CUTOFF, DunningStage.CUTOFF]
    assert schedule_date(DunningStage.THIRD, "2026-02") == dt.date(2026, 2, 15)
    assert pay_by(DunningStage.FIRST, day(5)) == day(10)
    assert pay_by(DunningStage.THIRD, day(15)) == day(20)
    assert pay_by(DunningStage.FIRST, day(12)) == day(17)
    assert pay_by(DunningStage.CUTOFF, day(20)) == day(23)
    # Issued late, the deadline counts from the day of issue, keeping the stage's grace days.
    assert pay_by(DunningStage.FIRST, day(5), issued_on=day(8)) == day(10)
    assert pay_by(DunningStage.FIRST, day(5), issued_on=day(23)) == day(28)
    assert pay_by(DunningStage.THIRD, day(15), issued_on=day(20)) == day(25)
    assert pay_by(DunningStage.CUTOFF, day(20), issued_on=day(22)) == day(25)
    assert pay_by(DunningStage.FIRST, day(12), issued_on=day(5)) == day(17)  # issued_on never moves it earlier


# --- preview and issue ------------------------------------------------------------------------------------
def test_preview_counts_accounts_and_amounts_and_writes_nothing(session, estate):
    e = estate
    with_bills(session, e)
    before = counts(session, *WRITES)

    preview = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor, dry_run=True)

    assert (preview.accounts, preview.total_amount, preview.issued, preview.run_id) == (3, D("2055.00"), 0, None)
    assert [(a.unit_label, a.amount, a.months, a.key_tenant) for a in preview.sample] == [
        ("B栋-201", D("1205.00"), 4, True), ("A栋-101", D("650.00"), 3, False), ("A栋-102", D("200.00"), 1, False)]
    assert preview.sample[1].payer == "张伟"
    assert "预览" in preview.message and "3 份" in preview.message
    assert counts(session, *WRITES) == before


def test_an_account_paid_between_preview_and_issue_is_left_out(session, estate):
    """RELIABILITY B05: the run selects again when it is issued — a payment after the preview counts."""
    e = estate
    with_bills(session, e)
    preview = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor, dry_run=True)
    assert "A栋-102" in [a.unit_label for a in preview.sample]
    pay_account(session, unit_id=e.a102.id, amount="200.00", actor=e.actor)  # A-102 pays its April in full

    issued = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    assert issued.issued == 2 and set(notices(session, e)) == {e.a101.id, e.b201.id}


def test_a_run_killed_after_writing_its_notices_leaves_none_and_a_rerun_issues_each_once(session, estate, monkeypatch):
    """RELIABILITY B06: the notices are written, then the process dies before the run commits — nothing of it stays;
    the run issued again writes every notice once."""
    e = estate
    with_bills(session, e)
    before = counts(session, *WRITES)

    def killed(*_args, **_kwargs):
        assert len(notices(session, e)) == 3  # the notices were written …
        raise RuntimeError("进程被终止")  # … and the process died before the run committed

    with monkeypatch.context() as m:
        m.setattr(dunning, "log_operation", killed)
        with pytest.raises(RuntimeError), session.begin_nested():
            issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    assert notices(session, e) == {} and counts(session, *WRITES) == before

    rerun = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    assert rerun.issued == 3 and set(notices(session, e)) == {e.a101.id, e.a102.id, e.b201.id}
    again = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    assert again.issued == 0 and len(notices(session, e)) == 3


def test_an_account_owing_less_than_the_tolerance_gets_no_letter(session, estate):
    """RELIABILITY B10: a remainder under 0.50 元 is left for the next payment, not chased with a letter."""
    e = estate
    with_bills(session, e)
    april = session.scalars(select(Bill).where(Bill.unit_id == e.a102.id, Bill.period == "2026-04")).one()
    record_payment(session, bill_id=april.id, amount="199.70", actor=e.actor)  # A-102 still owes 0.30

    preview = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor, dry_run=True)
    assert [(x.reason, x.count, x.amount) for x in preview.excluded] == [(Exclusion.SMALL, 1, D("0.30"))]
    assert preview.accounts == 2 and "A栋-102" not in [a.unit_label for a in preview.sample]
    issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    assert set(notices(session, e)) == {e.a101.id, e.b201.id}


def test_a_months_remainder_under_the_tolerance_is_no_month_in_arrears_for_the_power_cut(session, estate, issue_day):
    """000 规划2: 停电/封铺 only for 欠费两个月及两个月以上. A month paid in round figures (199.70 of 200.00) leaves
    0.30 元, which RELIABILITY B10 leaves for the next payment: with April unpaid, A-102 is one month behind, not
    two — listed neither for the cut nor under 欠费≥2个月, and its letters say 1 个月."""
    e = estate
    with_bills(session, e)
    march = session.scalars(select(Bill).where(Bill.unit_id == e.a102.id, Bill.period == "2026-03")).one()
    march.amount_paid, march.status = D("199.70"), BillStatus.PARTIAL  # 0.30 of March, all of April
    session.flush()
    manager = person(session, e, "客服经理", "mgr-remainder")
    issue_day(day(15))
    third = issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=e.actor)
    assert third.issued == 3  # 200.30 owed: chased, as any account owing more than the tolerance
    a102 = notices(session, e, DunningStage.THIRD)[e.a102.id]
    assert (a102.amount, a102.months_in_arrears, a102.oldest_period) == (D("200.30"), 1, "2026-04")
    letter = next(x for x in run_letters(session, run_id=third.run_id, actor=e.actor).letters
                  if x.unit_label == "A栋-102" and x.kind is LetterKind.POWER_CUT)
    assert (letter.total, letter.months, [x.period for x in letter.lines]) == (D("200.30"), 1, ["2026-03", "2026-04"])
    assert arrears(session, actor=e.actor, as_of=day(15), filters=ArrearsFilter(min_months=2)).totals.accounts == 2
    assert [(r.room_no, r.months, r.oldest_period) for r in arrears(session, actor=e.actor, as_of=day(15)).rows
            if r.room_no == "102"] == [("102", 1, "2026-04")]

    issue_day(day(20))
    deliver(session, e, DunningStage.THIRD, (e.a101, e.a102, e.b201), day(16))
    preview = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=e.actor, dry_run=True)
    assert [(x.reason, [a.unit_label for a in x.examples]) for x in preview.excluded] == [
        (Exclusion.SHORT, ["A栋-102"])]
    proposed = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=e.actor)
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.a101.id, e.b201.id}

    # A-101 pays all but 0.30 of February and of March, and April in full, before the approval: 0.60 元 of
    # remainders is no two months in arrears — it drops out of the list, as an account that paid does.
    for period, amount in (("2026-02", "249.70"), ("2026-03", "149.70"), ("2026-04", "250.00")):
        bill = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == period)).one()
        record_payment(session, bill_id=bill.id, amount=amount, actor=e.actor)
    approval = approve_dunning(session, run_id=proposed.run_id, actor=manager)
    assert (approval.notices, approval.dropped, approval.total_amount) == (1, 1, D("1205.00"))
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.b201.id}


def test_issue_once_per_account_and_stage_rerun_and_double_submit_add_nothing(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    issue_day(day(6))

    result = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)

    assert (result.issued, result.accounts, result.total_amount, result.run_status) == (3, 3, D("2055.00"), DunningRunStatus.DONE)
    run = session.get(DunningRun, result.run_id)
    assert (run.cycle, run.stage, run.as_of, run.notice_count, run.total_amount) == ("2026-04", DunningStage.FIRST, day(5), 3, D("2055.00"))
    issued = notices(session, e)
    a101 = issued[e.a101.id]
    assert (a101.amount, a101.months_in_arrears, a101.oldest_period, a101.pay_by, a101.customer_id) == (
        D("650.00"), 3, "2026-02", day(10), e.owner.id)
    # one audit row for the run's notices, which says who issued which stage for how many accounts and how much
    (audited,) = session.scalars(select(AuditLog).where(
        AuditLog.table_name == "dunning_notice", AuditLog.kind == AuditKind.INSERT, AuditLog.project_id == e.project.id)).all()
    assert (audited.record_id, audited.actor_id, audited.actor_name, audited.summary, audited.changes) == (
        f"run:{run.id}", e.actor.user_id, e.actor.name, "第一次催缴(5日) 2026-04：发出 3 份，欠费合计 2055.00 元",
        {"run_id": run.id, "count": 3, "stage": "1", "cycle": "2026-04", "as_of": "2026-04-05", "pay_by": "2026-04-10",
         "scope": f"项目：{e.project.name}", "amount": "2055.00"})
    assert session.scalar(select(func.count()).where(OperationLog.operation == "issue_dunning",
                                        OperationLog.project_id == e.project.id)) == 1

    before = counts(session, *WRITES)
    again = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    assert (again.already_run, again.issued, again.run_id) == (True, 0, run.id)
    assert "已执行过" in again.message and "未新增" in again.message
    # Another scope covering the same accounts: nothing new either, and no empty run.
    building = issue_dunning(session, stage=1, as_of=day(6), scope=DunningScope(building_id=e.a.id), actor=e.actor)
    assert (building.issued, building.run_id, building.accounts) == (0, None, 0)
    assert [(x.reason, x.count) for x in building.excluded] == [(Exclusion.ISSUED, 2)]
    assert "没有需要发出的新通知" in building.message
    assert counts(session, *WRITES) == before


def test_each_notices_trail_lists_the_one_row_of_the_run_that_issued_it(session, estate, issue_day):
    """A run's notices (thousands at a time, each saying the same) are audited by one row for the run, found through
    each notice's run: its 变更记录 shows who issued it and when, with the run's stage, month, count and amount — its
    own later rows (送达) beside it, another run's row not."""
    e = estate
    with_bills(session, e)
    cashier = person(session, e, "收费员", "trail-cashier")
    butler = f.staff(session, project_=e.project, name="吴管家")

    def trail(notice_id: int) -> list[tuple[str, AuditKind, str]]:
        return [(a.record_id, a.kind, a.summary) for a in session.scalars(
            select(AuditLog).where(trail_clause("dunning_notice", str(notice_id))).order_by(AuditLog.id))]

    issue_day(day(5))
    first = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=cashier)
    issue_day(day(10))
    second = issue_dunning(session, stage=2, as_of=day(10), scope=project_scope(e), actor=e.actor)
    ones = sorted(n.id for n in notices(session, e, DunningStage.FIRST).values())
    twos = sorted(n.id for n in notices(session, e, DunningStage.SECOND).values())
    assert (len(ones), len(twos)) == (3, 3)
    rows = session.scalars(select(AuditLog).where(AuditLog.table_name == "dunning_notice").order_by(AuditLog.id)).all()
    assert [(a.record_id, a.kind, a.actor_id, a.actor_name, a.project_id, a.changes["count"], a.changes["amount"])
            for a in rows] == [
        (f"run:{first.run_id}", AuditKind.INSERT, cashier.user_id, cashier.name, e.project.id, 3, "2055.00"),
        (f"run:{second.run_id}", AuditKind.INSERT, None, e.actor.name, e.project.id, 3, str(second.total_amount)),
    ]
    by_first = [(f"run:{first.run_id}", AuditKind.INSERT, "第一次催缴(5日) 2026-04：发出 3 份，欠费合计 2055.00 元")]
    by_second = [(f"run:{second.run_id}", AuditKind.INSERT,
                  f"第二次催缴(10日) 2026-04：发出 3 份，欠费合计 {second.total_amount} 元")]
    assert all(trail(i) == by_first for i in ones) and all(trail(i) == by_second for i in twos)

    record_delivery(session, notice_ids=ones[:1], actor=e.actor, delivered_by_id=butler.id, way=DeliveryWay.DOOR,
                    delivered_at=dt.datetime(2026, 4, 6, 1, 0, tzinfo=dt.UTC))
    assert trail(ones[0]) == [*by_first, (str(ones[0]), AuditKind.UPDATE, "催缴通知送达登记")]
    assert trail(ones[1]) == by_first
    assert trail(str(max(twos) + 1000)) == []  # a number naming no notice
    assert trail(f"run:{first.run_id}") == by_first  # the run's own trail among the notices' rows


def _run_check_plan(session, e, stage: DunningStage, on: int) -> str:
    """PostgreSQL's plan of a run's choice of the accounts it chases, on the statistics of a notice table found
    empty (a first month)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan")
    c = dunning._classified(e.project.id, "2026-04", stage, day(on), None)
    connection = session.connection()
    connection.exec_driver_sql("ANALYZE dunning_notice")  # the statistics of a table with no notice
    compiled = select(c.c.unit_id).where(c.c.reason == "ok").compile(dialect=connection.dialect,
                                                                     compile_kwargs={"render_postcompile": True})
    return "\n".join(connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())


def test_the_accounts_chased_already_are_read_once_a_run_not_once_an_account(session, estate):
    """PostgreSQL: a run's check of the accounts that had the stage this month reads the stage's notices once (a hashed
    subplan) — an EXISTS per account, planned on the statistics of a notice table found empty, scanned the table for
    each account while the run's insert filled it (16,666 notices: 2.1 M pages read, 2.0 s of CPU against 0.6 s)."""
    plan = _run_check_plan(session, estate, DunningStage.FIRST, 5)
    assert "hashed SubPlan" in plan, plan


def test_the_stage_three_letters_a_cutoff_run_checks_are_read_once_a_run_not_once_an_account(session, estate):
    """PostgreSQL: 停电/封铺's checks that the account had this month's 停电函 (stage 3), due by the run's day, read
    the month's letters once (hashed subplans), as the stage's own check does — an EXISTS per account, planned on the
    statistics of a notice table found empty (a first month's run), scanned it for each account."""
    plan = _run_check_plan(session, estate, DunningStage.CUTOFF, 20)
    checks = re.findall(r"\((hashed )?SubPlan \d+\)", plan)  # as the CASE refers to them
    assert len(checks) == 3 and all(checks), plan  # the stage's notices and the letters twice, each hashed


def test_payment_in_full_before_a_stage_stops_the_later_stages(session, estate):
    e = estate
    with_bills(session, e)
    issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    pay_account(session, unit_id=e.a102.id, amount="200.00", actor=e.actor)  # A-102 owed April only
    apr_a101 = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-04")).one()
    record_payment(session, bill_id=apr_a101.id, amount="250.00", actor=e.actor)  # A-101 pays part of its arrears

    second = issue_dunning(session, stage=2, as_of=day(10), scope=project_scope(e), actor=e.actor)

    assert second.issued == 2
    stage2 = notices(session, e, DunningStage.SECOND)
    assert set(stage2) == {e.a101.id, e.b201.id}
    assert stage2[e.a101.id].amount == D("400.00")


def test_a_stage_before_its_day_is_refused_whatever_was_issued_before(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    issue_day(day(5))
    issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    issue_day(day(6))
    before = counts(session, *WRITES)

    # Stage 2 on the 6th after stage 1 on the 5th: every account had stage 1, and still the 10th has not come.
    with pytest.raises(Refused) as refused:
        issue_dunning(session, stage=2, as_of=day(6), scope=project_scope(e), actor=e.actor)
    assert refused.value.message == "第二次催缴(10日)须在每月10日及以后发出：催缴基准日 2026-04-06 早于 2026-04-10"
    for stage, on, named in ((3, 6, "15日"), (4, 6, "20日"), (1, 4, "5日")):
        with pytest.raises(Refused, match=f"须在每月{named}及以后发出"):
            issue_dunning(session, stage=stage, as_of=day(on), scope=project_scope(e), actor=e.actor, dry_run=True)
    # Undated on the 6th: stage 2 is dated on this month's 10th and refused — never last month's run.
    with pytest.raises(Refused) as undated:
        issue_dunning(session, stage=2, scope=project_scope(e), actor=e.actor, dry_run=True)
    assert undated.value.message == "第二次催缴(10日)须在每月10日及以后发出：本月10日（2026-04-10）未到"
    with pytest.raises(Refused, match="本月20日（2026-04-20）未到"):
        issue_dunning(session, stage=4, scope=project_scope(e), actor=e.actor, dry_run=True)
    assert counts(session, *WRITES) == before
    assert issue_dunning(session, stage=1, scope=project_scope(e), actor=e.actor, dry_run=True).as_of == day(5)

    issue_day(day(10))
    second = issue_dunning(session, stage=2, scope=project_scope(e), actor=e.actor)
    assert (second.as_of, second.issued) == (day(10), 3)
    # On its day a stage needs no earlier one: B-201 alone, chased for the first time on the 15th.
    issue_day(day(15))
    third = issue_dunning(session, stage=3, as_of=day(15), scope=DunningScope(unit_ids=(e.b201.id,)), actor=e.actor)
    assert third.issued == 1


def test_stage_three_on_its_date_needs_no_earlier_stage(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    issue_day(day(15))
    result = issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=e.actor)
    assert result.issued == 3 and notices(session, e, DunningStage.THIRD)[e.b201.id].pay_by == day(20)


def test_bad_input_is_refused_and_writes_nothing(session, estate):
    e = estate
    with_bills(session, e)
    other = f.project(session)
    foreign_unit = f.unit(session, project_=other)
    outsider = Actor(user_id=None, name="外人", project_ids=frozenset({other.id}))
    front_desk = person(session, e, "前台客服", "fd1")
    before = counts(session, *WRITES)

    tomorrow = dt.date.today() + dt.timedelta(days=2)
    with pytest.raises(Refused, match="晚于今天"):
        issue_dunning(session, stage=1, as_of=tomorrow, scope=project_scope(e), actor=e.actor)
    with pytest.raises(Refused, match="1–4"):
        issue_dunning(session, stage=5, as_of=day(5), scope=project_scope(e), actor=e.actor)
    with pytest.raises(NotPermitted):
        issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=outsider)
    with pytest.raises(NotPermitted) as hidden:
        issue_dunning(session, stage=1, as_of=day(5), scope=DunningScope(unit_ids=(e.a101.id, foreign_unit.id)),
                      actor=Actor(user_id=None, name="x", project_ids=frozenset({e.project.id})))
    assert hidden.value.ids == [foreign_unit.id]
    with pytest.raises(Refused, match="多个项目"):
        issue_dunning(session, stage=1, as_of=day(5), scope=DunningScope(unit_ids=(e.a101.id, foreign_unit.id)),
                      actor=Actor(user_id=None, name="x", project_ids=None))
    with pytest.raises(NotPermitted, match="权限"):
        issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=front_desk)
    with pytest.raises(Refused, match="催缴范围"):
        issue_dunning(session, stage=1, as_of=day(5), scope=DunningScope(), actor=e.actor)
    assert counts(session, *WRITES) == before


def test_selected_bills_chase_their_accounts(session, estate):
    e = estate
    with_bills(session, e)
    feb = session.scalars(select(Bill.id).where(Bill.unit_id == e.a101.id, Bill.period == "2026-02")).one()
    result = issue_dunning(session, stage=1, as_of=day(5), scope=DunningScope(bill_ids=(feb,)), actor=e.actor)
    assert result.issued == 1 and set(notices(session, e)) == {e.a101.id}
    assert session.get(DunningRun, result.run_id).scope_note == "所选 1 户"


# --- stage 4: two months and approval ----------------------------------------------------------------------
def deliver(session, e: Estate, stage: DunningStage, units, on: dt.date) -> None:
    """Records the delivery of the accounts' notices of ``stage`` at 10:00 (Shanghai) on ``on``."""
    butler = session.scalars(select(Staff).where(Staff.project_id == e.project.id, Staff.name == "送达员")).first() \
        or f.staff(session, project_=e.project, name="送达员")
    ids = [n.id for u, n in notices(session, e, stage).items() if u in {x.id for x in units}]
    at = dt.datetime.combine(on, dt.time(10), tzinfo=SHANGHAI)
    record_delivery(session, notice_ids=ids, actor=e.actor, delivered_by_id=butler.id, way=DeliveryWay.HAND,
                    signed_by="本人", delivered_at=at)


def propose_cutoff(session, e: Estate, issue_day, *, delivered_on: dt.date):
    """Stage 3 on the 15th, its letters to A-101 and B-201 (two months or more behind) delivered on
    ``delivered_on``, stage 4 proposed on the 20th for them."""
    issue_day(day(15))
    issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=e.actor)
    issue_day(day(20))
    deliver(session, e, DunningStage.THIRD, (e.a101, e.b201), delivered_on)
    return issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=e.actor)


def test_cutoff_is_proposed_for_two_months_or_more_and_needs_another_managers_approval(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    cashier = person(session, e, "收费员", "cashier1")
    supervisor = person(session, e, "客服主管", "sup1")
    manager = person(session, e, "客服经理", "mgr1")
    issue_day(day(15))
    issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=cashier)
    issue_day(day(20))

    preview = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=cashier, dry_run=True)
    assert [(x.reason, x.count, [a.unit_label for a in x.examples]) for x in preview.excluded] == [
        (Exclusion.SHORT, 1, ["A栋-102"])]
    assert preview.undelivered == 2 and "其中 2 户的停电函尚未登记送达" in preview.message
    proposed = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=cashier)

    assert (proposed.run_status, proposed.issued, proposed.undelivered) == (DunningRunStatus.PROPOSED, 2, 2)
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.a101.id, e.b201.id}
    assert "待客服经理审批" in proposed.message
    run = session.get(DunningRun, proposed.run_id)
    assert run.requested_by_id == cashier.user_id and run.approved_by_id is None
    with pytest.raises(Refused, match="未经审批"):
        run_letters(session, run_id=run.id, actor=cashier)

    before = counts(session, *WRITES)
    for who in (cashier, supervisor, e.actor):
        with pytest.raises(NotPermitted, match="客服经理及以上"):
            approve_dunning(session, run_id=run.id, actor=who)
    self_proposed = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=manager)
    assert (self_proposed.already_run, self_proposed.issued) == (True, 0)  # the same list awaits approval
    # No 停电函 of the list was delivered: nothing to approve.
    with pytest.raises(Refused) as undelivered:
        approve_dunning(session, run_id=run.id, actor=manager)
    assert undelivered.value.message == "名单中没有停电函已送达的住户，不能批准：A栋-101、B栋-201的停电函尚未登记送达"
    assert counts(session, *WRITES) == before
    session.refresh(run)
    assert (run.status, run.approved_by_id, run.notice_count) == (DunningRunStatus.PROPOSED, None, 2)

    deliver(session, e, DunningStage.THIRD, (e.a101, e.b201), day(16))
    # A-101 pays everything between the proposal and the approval: it drops out of the list.
    pay_account(session, unit_id=e.a101.id, amount="650.00", actor=e.actor)
    approval = approve_dunning(session, run_id=run.id, actor=manager)

    assert (approval.approved, approval.notices, approval.dropped, approval.undelivered, approval.total_amount) == (
        True, 1, 1, 0, D("1205.00"))
    session.refresh(run)
    assert (run.status, run.approved_by_id, run.notice_count) == (DunningRunStatus.APPROVED, manager.user_id, 1)
    assert run.approved_at == dt.datetime(2026, 4, 20, 1, 0, tzinfo=dt.UTC)
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.b201.id}
    assert session.scalar(select(func.count()).where(OperationLog.operation == "approve_dunning",
                                        OperationLog.project_id == e.project.id)) == 1
    with pytest.raises(Refused, match="不是待审批"):
        approve_dunning(session, run_id=run.id, actor=manager)
    letters = run_letters(session, run_id=run.id, actor=manager)
    assert [(x.kind, x.unit_label) for x in letters.letters] == [(LetterKind.CUTOFF, "B栋-201")]
    # Issued on approval (the 20th): three days on, after the 停电函's own deadline (the 20th).
    (cut,) = letters.letters
    assert cut.is_shop and (cut.issued_on, cut.pay_by) == (day(20), day(23))
    assert (cut.earlier_text, cut.power_cut_letter.issued_on, cut.delivered_text) == (
        "4月15日", day(15), "4月15日发出的《停电函》《违约函》已于4月16日送达")


def test_the_approver_keeps_a_key_tenant_off_the_cut_and_approves_the_rest(session, estate, issue_day):
    """000 规划2: 「对主力店、功能店及态度恶劣的商家，由部门经理牵头负责逐一谈判解决」 — the manager approves the list
    without the 主力店 he negotiates with himself (B-201, flagged 主力店/功能店), saying why; before, he could only
    approve the whole list (cutting the 主力店's power) or reject it all."""
    e = estate
    with_bills(session, e)
    manager = person(session, e, "客服经理", "mgr-keep")
    run_id = propose_cutoff(session, e, issue_day, delivered_on=day(16)).run_id
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.a101.id, e.b201.id}
    assert e.b201.key_tenant
    elsewhere = f.project(session, name="别处广场")
    stranger = f.unit(session, project_=elsewhere, building_=f.building(session, project_=elsewhere, name="Z座"),
                      room_no="B1-01")

    before = counts(session, *WRITES)
    for kwargs, message in (
        ({"keep_out": [e.b201.id]}, "移出名单的住户须在审批意见中说明理由（如主力店由经理逐一谈判）"),
        ({"keep_out": [e.a102.id], "note": "谈判中"}, f"以下房屋不在批次#{run_id}的名单中，不能移出：A栋-102"),
        # another project's unit is not named (its 楼栋-房号 is not the approver's to read)
        ({"keep_out": [stranger.id], "note": "谈判中"}, f"以下房屋不在批次#{run_id}的名单中，不能移出：#{stranger.id}"),
        ({"keep_out": [999999999], "note": "谈判中"}, f"以下房屋不在批次#{run_id}的名单中，不能移出：#999999999"),
        ({"keep_out": [e.a101.id, e.b201.id], "note": "都谈"}, "名单中的住户已全部移出：不停电/封铺请驳回名单"),
        ({"keep_out": [e.b201.id], "note": "不批", "approve": False}, "驳回时整份名单作废，无须逐户移出"),
    ):
        with pytest.raises(Refused) as refused:
            approve_dunning(session, run_id=run_id, actor=manager, **kwargs)
        assert refused.value.message == message
    assert counts(session, *WRITES) == before
    assert session.get(DunningRun, run_id).status is DunningRunStatus.PROPOSED

    approval = approve_dunning(session, run_id=run_id, actor=manager, keep_out=[e.b201.id], note="B栋-201 主力店，由经理谈判")

    assert (approval.approved, approval.notices, approval.kept_out, approval.total_amount) == (True, 1, 1, D("650.00"))
    assert approval.message == "已批准停电/封铺 1 户，欠费合计 650.00 元；1 户由审批人移出名单，不停电/封铺"
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.a101.id}
    run = session.get(DunningRun, run_id)
    assert (run.status, run.notice_count, run.decision_note) == (
        DunningRunStatus.APPROVED, 1, "B栋-201 主力店，由经理谈判")
    assert session.scalars(select(AuditLog.summary).where(
        AuditLog.table_name == "dunning_notice", AuditLog.kind == AuditKind.DELETE,
        AuditLog.project_id == e.project.id)).all() == ["停电/封铺审批：审批人移出（B栋-201 主力店，由经理谈判）"]
    assert [x.unit_label for x in run_letters(session, run_id=run_id, actor=manager).letters] == ["A栋-101"]


def test_an_account_whose_power_cut_letter_was_not_delivered_is_left_out_at_approval(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    manager = person(session, e, "客服经理", "mgr4")
    issue_day(day(15))
    issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=e.actor)
    issue_day(day(21))
    deliver(session, e, DunningStage.THIRD, (e.b201,), day(17))  # A-101's 停电函 was never delivered
    run_id = issue_dunning(session, stage=4, as_of=day(21), scope=project_scope(e), actor=e.actor).run_id

    listed = run_accounts(session, run_id=run_id, actor=manager)
    assert listed.undelivered == 1
    assert {a.unit_label: (listed.letters[a.unit_id].issued_on, listed.letters[a.unit_id].pay_by,
                           listed.letters[a.unit_id].delivered_on) for a in listed.accounts} == {
        "A栋-101": (day(15), day(20), None), "B栋-201": (day(15), day(20), day(17))}

    approval = approve_dunning(session, run_id=run_id, actor=manager, note="同意")

    assert (approval.notices, approval.dropped, approval.undelivered) == (1, 0, 1)
    assert "1 户停电函未送达，已移出名单" in approval.message
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.b201.id}
    assert session.get(DunningRun, run_id).decision_note == "同意"
    assert session.scalar(select(func.count()).where(
        AuditLog.table_name == "dunning_notice", AuditLog.kind == AuditKind.DELETE,
        AuditLog.project_id == e.project.id)) == 1


def test_a_power_cut_comes_only_after_the_day_the_power_cut_letter_gave(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    issue_day(day(20))
    # Stage 3 issued late, on the 20th: its 停电函 gives until the 25th, so no cut is proposed before then.
    issue_dunning(session, stage=3, as_of=day(20), scope=project_scope(e), actor=e.actor)
    assert {n.pay_by for n in notices(session, e, DunningStage.THIRD).values()} == {day(25)}
    before = counts(session, *WRITES)

    early = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=e.actor)
    assert (early.issued, early.run_id) == (0, None)
    assert [(x.reason, x.count) for x in early.excluded] == [(Exclusion.SHORT, 1), (Exclusion.LETTER_RUNNING, 2)]
    assert counts(session, *WRITES) == before

    issue_day(day(25))
    assert issue_dunning(session, stage=4, as_of=day(25), scope=project_scope(e), actor=e.actor).issued == 2


def test_proposer_may_not_approve_and_a_rejected_list_can_be_proposed_again(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    manager = person(session, e, "客服经理", "mgr2")
    branch = actor_for_user(session, f.user(session, username="branch1", roles=["分公司管理"], branch_=e.project.branch))
    issue_day(day(15))
    issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=manager)
    issue_day(day(20))
    run_id = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=manager).run_id

    with pytest.raises(NotPermitted, match="自己提交"):
        approve_dunning(session, run_id=run_id, actor=manager)
    before = counts(session, *WRITES)
    for blank in ("", "   "):
        with pytest.raises(Refused, match="驳回停电/封铺名单须填写驳回理由"):
            approve_dunning(session, run_id=run_id, actor=branch, approve=False, note=blank)
    assert counts(session, *WRITES) == before
    assert session.get(DunningRun, run_id).status is DunningRunStatus.PROPOSED
    rejected = approve_dunning(session, run_id=run_id, actor=branch, approve=False, note=" 主力店另行谈判 ")

    assert (rejected.approved, rejected.notices) == (False, 0)
    run = session.get(DunningRun, run_id)
    assert (run.status, run.approved_by_id, run.approved_at, run.decision_note) == (
        DunningRunStatus.REJECTED, branch.user_id, dt.datetime(2026, 4, 20, 1, 0, tzinfo=dt.UTC), "主力店另行谈判")
    assert notices(session, e, DunningStage.CUTOFF) == {}
    assert session.scalar(select(func.count()).where(AuditLog.table_name == "dunning_notice", AuditLog.kind == AuditKind.DELETE,
                                        AuditLog.project_id == e.project.id)) == 2
    again = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=manager)
    assert again.issued == 2 and again.run_id != run_id


def test_cutoff_lists_only_accounts_that_had_the_power_cut_letter_this_month(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    issue_day(day(5))
    issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    # Stage 3 (with its 停电函) goes to B-201 only; A-101 owes two months too but had stage 1 alone.
    issue_day(day(15))
    issue_dunning(session, stage=3, as_of=day(15), scope=DunningScope(unit_ids=(e.b201.id,)), actor=e.actor)
    # Last month's 停电函 does not count for this month.
    march = issue_dunning(session, stage=3, as_of=dt.date(2026, 3, 15), scope=DunningScope(unit_ids=(e.a101.id,)),
                          actor=e.actor)
    assert march.issued == 1
    issue_day(day(20))

    preview = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=e.actor, dry_run=True)
    assert (preview.accounts, [a.unit_label for a in preview.sample]) == (1, ["B栋-201"])
    assert [(x.reason, sorted(a.unit_label for a in x.examples)) for x in preview.excluded] == [
        (Exclusion.NO_LETTER, ["A栋-101", "A栋-102"])]
    assert "本月未发第三次催缴及停电函 2 户" in preview.message

    proposed = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=e.actor)
    assert (proposed.issued, proposed.run_status) == (1, DunningRunStatus.PROPOSED)
    assert set(notices(session, e, DunningStage.CUTOFF)) == {e.b201.id}

    # With no stage 3 at all this month, stage 4 lists nobody, before the 20th or after it, and writes nothing.
    other = make_estate(session, name="无停电函测试苑")
    with_bills(session, other)
    issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(other), actor=other.actor)
    before = counts(session, *WRITES)
    issue_day(day(25))
    for when in (day(20), day(25)):
        nothing = issue_dunning(session, stage=4, as_of=when, scope=project_scope(other), actor=other.actor)
        assert (nothing.issued, nothing.run_id, nothing.accounts) == (0, None, 0)
        assert [(x.reason, x.count) for x in nothing.excluded] == [(Exclusion.NO_LETTER, 3)]
    assert counts(session, *WRITES) == before
    assert notices(session, other, DunningStage.CUTOFF) == {}


def test_a_late_run_gives_a_deadline_after_the_day_it_is_issued(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    issue_day(day(23))  # stage 1 of the 5th, run on the 23rd

    result = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)

    assert result.issued == 3
    assert {n.pay_by for n in notices(session, e, DunningStage.FIRST).values()} == {day(28)}
    (letter, *_) = run_letters(session, run_id=result.run_id, actor=e.actor).letters
    assert (letter.as_of, letter.pay_by) == (day(5), day(28))

    issue_day(day(12))  # stage 2 dated the 12th: the 15th is still ahead
    second = issue_dunning(session, stage=2, as_of=day(12), scope=project_scope(e), actor=e.actor)
    assert second.issued == 3
    assert {n.pay_by for n in notices(session, e, DunningStage.SECOND).values()} == {day(15)}


def test_approval_moves_a_cutoff_deadline_past_the_approval_day(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    manager = person(session, e, "客服经理", "mgr3")
    proposed = propose_cutoff(session, e, issue_day, delivered_on=day(15))
    issue_day(day(24))  # approved four days after the proposal

    approve_dunning(session, run_id=proposed.run_id, actor=manager)

    assert {n.pay_by for n in notices(session, e, DunningStage.CUTOFF).values()} == {day(27)}
    assert {(x.issued_on, x.pay_by) for x in run_letters(session, run_id=proposed.run_id, actor=manager).letters} == {
        (day(24), day(27))}


# --- delivery and letters -----------------------------------------------------------------------------------
def test_delivery_is_recorded_for_issued_notices_only(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    butler = f.staff(session, project_=e.project, name="吴管家")
    stranger = f.staff(session, project_=f.project(session))
    issue_day(day(5))
    first = issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    ids = [n.id for n in notices(session, e).values()]
    at = dt.datetime(2026, 4, 6, 1, 0, tzinfo=dt.UTC)
    issue_day(day(6), hour=10)

    result = record_delivery(session, notice_ids=ids[:2], actor=e.actor, delivered_by_id=butler.id,
                             way=DeliveryWay.DOOR, signed_by="张伟", delivered_at=at)

    assert result.updated == 2
    delivered = [n for n in notices(session, e).values() if n.id in ids[:2]]
    for n in delivered:
        session.refresh(n)
        assert (n.delivered_by_id, n.delivery_way, n.signed_by, n.delivered_at) == (butler.id, DeliveryWay.DOOR, "张伟", at)
    assert session.scalar(select(func.count()).where(AuditLog.table_name == "dunning_notice", AuditLog.kind == AuditKind.UPDATE,
                                        AuditLog.project_id == e.project.id)) == 2

    issue_day(day(15))
    issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=e.actor)
    issue_day(day(20))
    proposed = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=e.actor)
    assert proposed.issued == 2
    third = [n.id for n in notices(session, e, DunningStage.THIRD).values()]
    pending = session.scalars(select(DunningNotice.id).where(DunningNotice.run_id == proposed.run_id)).all()
    before = counts(session, *WRITES)
    # The refusals name the notices by their 房屋 (in delivery order), not by a list of record numbers.
    with pytest.raises(Refused) as unapproved:
        record_delivery(session, notice_ids=pending, actor=e.actor, delivered_by_id=butler.id, way="hand")
    assert unapproved.value.message == "以下通知所在批次尚未审批，不能送达：A栋-101、B栋-201"
    with pytest.raises(Refused, match="所属项目的员工"):
        record_delivery(session, notice_ids=ids, actor=e.actor, delivered_by_id=stranger.id, way="hand")
    with pytest.raises(Refused, match="送达方式"):
        record_delivery(session, notice_ids=ids, actor=e.actor, delivered_by_id=butler.id, way="pigeon")
    with pytest.raises(Refused) as early:  # the 6th's delivery of the 15th's letters
        record_delivery(session, notice_ids=third, actor=e.actor, delivered_by_id=butler.id, way="hand", delivered_at=at)
    assert early.value.message == ("送达时间 2026-04-06 09:00 早于通知发出时间（2026-04-15 09:00）："
                                   "A栋-101、A栋-102、B栋-201")
    assert counts(session, *WRITES) == before
    assert first.run_id


def test_a_delivery_once_recorded_is_not_recorded_over(session, estate, issue_day):
    """登记送达 of a notice already delivered (another tab, another collector) put its own time, way and signer over
    the recorded ones — what the letter says and the stage-4 approval reads. The delivered are left as recorded and
    named; a selection all delivered is refused, nothing written."""
    e = estate
    with_bills(session, e)
    butler = f.staff(session, project_=e.project, name="吴管家")
    other = f.staff(session, project_=e.project, name="郑收费")
    issue_day(day(5))
    issue_dunning(session, stage=1, as_of=day(5), scope=project_scope(e), actor=e.actor)
    ids = sorted(n.id for n in notices(session, e).values())
    first_at, later = dt.datetime(2026, 4, 6, 1, 0, tzinfo=dt.UTC), dt.datetime(2026, 4, 7, 1, 0, tzinfo=dt.UTC)
    issue_day(day(8), hour=10)
    record_delivery(session, notice_ids=ids[:2], actor=e.actor, delivered_by_id=butler.id, way=DeliveryWay.HAND,
                    signed_by="张伟", delivered_at=first_at)
    audits = session.scalar(select(func.count()).where(AuditLog.table_name == "dunning_notice"))

    again = record_delivery(session, notice_ids=ids, actor=e.actor, delivered_by_id=other.id, way=DeliveryWay.DOOR,
                            signed_by="", delivered_at=later)

    assert (again.updated, again.already, again.notice_ids) == (1, 2, (ids[2],))
    assert again.message == "已登记 1 份通知的送达情况；2 份此前已登记送达，未改动（更正请在该通知的编辑页修改）"
    session.expire_all()
    rows = {i: session.get(DunningNotice, i) for i in ids}
    assert [(rows[i].delivered_at, rows[i].delivered_by_id, rows[i].delivery_way, rows[i].signed_by) for i in ids] == [
        (first_at, butler.id, DeliveryWay.HAND, "张伟"), (first_at, butler.id, DeliveryWay.HAND, "张伟"),
        (later, other.id, DeliveryWay.DOOR, "")]
    assert session.scalar(select(func.count()).where(AuditLog.table_name == "dunning_notice")) == audits + 1
    logged = session.scalars(select(OperationLog).where(OperationLog.operation == "record_delivery")
                             .order_by(OperationLog.id.desc())).first()
    assert (logged.params["notice_ids"], logged.counts) == ([ids[2]], {"notices": 1, "already": 2})

    before = counts(session, *WRITES)
    with pytest.raises(Refused) as refused:
        record_delivery(session, notice_ids=ids[:2], actor=e.actor, delivered_by_id=other.id, way="door",
                        delivered_at=later)
    assert refused.value.message.startswith("所选通知均已登记送达，未重复登记：")
    assert refused.value.message.endswith("；更正请在该通知的编辑页修改")
    assert counts(session, *WRITES) == before
    session.expire_all()
    assert session.get(DunningNotice, ids[0]).signed_by == "张伟"


def test_a_signature_or_decision_beyond_its_column_is_refused_not_cut(session, estate, issue_day):
    """签收人 holds 64 characters and 审批意见 200: one more is refused naming the field — both were cut short
    without a word — and the notices and the list are as they were."""
    e = estate
    with_bills(session, e)
    butler = f.staff(session, project_=e.project, name="吴管家")
    manager = person(session, e, "客服经理", "mgr2")
    branch = actor_for_user(session, f.user(session, username="branch1", roles=["分公司管理"], branch_=e.project.branch))
    issue_day(day(15))
    issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=manager)
    ids = [n.id for n in notices(session, e, DunningStage.THIRD).values()]
    issue_day(day(20))
    run_id = issue_dunning(session, stage=4, as_of=day(20), scope=project_scope(e), actor=manager).run_id
    before = counts(session, *WRITES)
    with pytest.raises(Refused, match="签收人过长：最多 64 字，现为 65 字"):
        record_delivery(session, notice_ids=ids, actor=e.actor, delivered_by_id=butler.id, way="hand",
                        signed_by="张" * 65)
    with pytest.raises(Refused, match="审批意见过长：最多 200 字，现为 201 字"):
        approve_dunning(session, run_id=run_id, actor=branch, approve=False, note="驳" * 201)
    assert counts(session, *WRITES) == before
    session.expire_all()
    assert all(session.get(DunningNotice, i).delivered_at is None for i in ids)
    run = session.get(DunningRun, run_id)
    assert (run.status, run.decision_note) == (DunningRunStatus.PROPOSED, "")


def test_third_stage_letters_for_a_known_account(session, estate, issue_day):
    e = estate
    with_bills(session, e)
    e.project.phone, e.project.address = "021-55550000", "上海市浦东新区锦绣路1号"
    for stage, on in ((1, 5), (2, 10)):
        issue_day(day(on))
        issue_dunning(session, stage=stage, as_of=day(on), scope=project_scope(e), actor=e.actor)
    deliver(session, e, DunningStage.FIRST, (e.a101,), day(6))  # only A-101's first reminder was delivered
    issue_day(day(15))
    result = issue_dunning(session, stage=3, as_of=day(15), scope=project_scope(e), actor=e.actor)
    pay_account(session, unit_id=e.a102.id, amount="200.00", actor=e.actor)  # A-102 settles after the notice

    letters = run_letters(session, run_id=result.run_id, actor=e.actor)

    assert letters.settled == 1 and letters.stage is DunningStage.THIRD
    a101 = [x for x in letters.letters if x.unit_label == "A栋-101"]
    assert [x.kind for x in a101] == [LetterKind.REMINDER, LetterKind.POWER_CUT, LetterKind.BREACH]
    letter = a101[0]
    assert (letter.company, letter.project, letter.project_phone, letter.payer) == (
        "测试物业服务有限公司", "翠湖收费测试苑", "021-55550000", "张伟")
    assert [(x.period, x.amount_due, x.amount_paid, x.outstanding) for x in letter.lines] == [
        ("2026-02", D("250.00"), D("0.00"), D("250.00")),
        ("2026-03", D("250.00"), D("100.00"), D("150.00")),
        ("2026-04", D("250.00"), D("0.00"), D("250.00")),
    ]
    assert (letter.total, letter.months, letter.as_of, letter.pay_by) == (D("650.00"), 3, day(15), day(20))
    # the reminders it had this month, on the days they were issued; delivered only where recorded
    assert [(x.stage, x.issued_on, x.delivered_on) for x in letter.earlier] == [
        (DunningStage.FIRST, day(5), day(6)), (DunningStage.SECOND, day(10), None)]
    assert (letter.earlier_text, letter.delivered_text) == ("4月5日、4月10日", "4月5日发出的催缴通知书已于4月6日送达")
    assert letter.ordinal == "第三次" and letter.power_cut_letter is None
    b201 = next(x for x in letters.letters if x.unit_label == "B栋-201")
    assert (b201.earlier_text, b201.delivered_text) == ("4月5日、4月10日", "")
    assert len(letters.letters) == 6  # A-101 and B-201, three letters each
    outsider = Actor(user_id=None, name="外人", project_ids=frozenset())
    with pytest.raises(NotPermitted):
        run_letters(session, run_id=result.run_id, actor=outsider)


# --- concurrency (PostgreSQL: row locks) ---------------------------------------------------------------------
postgres_only = pytest.mark.skipif(
    not os.environ.get("WUYE_TEST_DATABASE_URL", "").startswith("postgresql"), reason="needs PostgreSQL locks"
)


@pytest.fixture
def committed_estate(engine):
    """An estate committed for real (concurrent sessions must see it), removed again afterwards."""
    with Session(engine) as s, s.begin():
        marks = (s.scalar(select(func.max(AuditLog.id))) or 0, s.scalar(select(func.max(OperationLog.id))) or 0)
        p = f.project(s, name="并发测试项目")
        mgmt = f.fee_type(s, project_=p, name="物业管理费")
        building = f.building(s, project_=p, name="C栋")
        for room in ("101", "102", "103"):
            u = f.unit(s, project_=p, building_=building, room_no=room)
            for month in (2, 3):
                f.bill(s, unit_=u, fee_type_=mgmt, period=f"2026-{month:02d}")
        pid, bid = p.id, p.branch_id
    yield pid
    with Session(engine) as s, s.begin():
        for model in (DunningNotice, DunningRun, Payment, Receipt, ReceiptSequence, Bill, FeeType, UnitCustomer, Customer,
                      Unit, Building, Phase, Staff):
            s.execute(delete(model).where(model.project_id == pid))
        s.execute(delete(Project).where(Project.id == pid))
        s.execute(delete(Branch).where(Branch.id == bid))
        s.execute(delete(AuditLog).where(AuditLog.id > marks[0]))
        s.execute(delete(OperationLog).where(OperationLog.id > marks[1]))


@postgres_only
def test_concurrent_runs_issue_once(engine, committed_estate):
    pid = committed_estate
    actor = Actor(user_id=None, name="经理甲", project_ids=None)
    scope = DunningScope(project_id=pid)
    first = Session(engine)
    first.begin()
    outcome = issue_dunning(first, stage=1, as_of=day(5), scope=scope, actor=actor)
    assert outcome.issued == 3

    # A second manager while the first run is still open: told at once, nothing written.
    answers: list[object] = []

    def second_run() -> None:
        with Session(engine) as s, s.begin():
            try:
                answers.append(issue_dunning(s, stage=1, as_of=day(5), scope=scope, actor=actor))
            except Refused as refused:
                answers.append(refused)

    worker = threading.Thread(target=second_run)
    worker.start()
    worker.join(timeout=30)
    assert isinstance(answers[0], Refused) and "正在执行" in answers[0].message
    first.commit()
    first.close()

    second_run()
    assert answers[1].already_run and answers[1].issued == 0
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(DunningNotice.project_id == pid)) == 3
        assert s.scalar(select(func.count()).where(DunningRun.project_id == pid)) == 1


@postgres_only
def test_a_run_that_waits_its_turn_issues_once_the_first_is_rolled_back(engine, committed_estate):
    """A 后台任务 retried after its worker was killed may meet the dead worker's transaction, not yet rolled back
    by PostgreSQL: it waits for it instead of being refused, then issues every notice once."""
    pid = committed_estate
    actor = Actor(user_id=None, name="经理甲", project_ids=None)
    scope = DunningScope(project_id=pid)
    dead = Session(engine)
    dead.begin()
    assert issue_dunning(dead, stage=1, as_of=day(5), scope=scope, actor=actor).issued == 3  # never committed
    answers: list[object] = []

    def retry() -> None:
        with Session(engine) as s, s.begin():
            answers.append(issue_dunning(s, stage=1, as_of=day(5), scope=scope, actor=actor, wait_turn=True))

    worker = threading.Thread(target=retry)
    worker.start()
    worker.join(timeout=2)
    assert worker.is_alive() and answers == []  # waiting its turn, not refused
    dead.rollback()
    dead.close()
    worker.join(timeout=30)
    assert answers[0].issued == 3 and not answers[0].already_run
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(DunningNotice.project_id == pid)) == 3
        assert s.scalar(select(func.count()).where(DunningRun.project_id == pid)) == 1


def test_a_letter_has_one_line_per_month_with_its_fee_types(session, estate):
    e = estate
    with_bills(session, e)
    parking = f.fee_type(session, project_=e.project, name="停车费", rate=D("300.00"))
    f.bill(session, unit_=e.a101, fee_type_=parking, period="2026-03", amount_due=D("600.00"))
    run_id = issue_dunning(session, stage=1, as_of=day(5), scope=DunningScope(unit_ids=(e.a101.id,)), actor=e.actor).run_id

    (letter,) = run_letters(session, run_id=run_id, actor=e.actor).letters

    march = letter.lines[1]
    assert (march.period, march.fee_types, march.amount_due, march.amount_paid, march.outstanding) == (
        "2026-03", "停车费、物业管理费", D("850.00"), D("100.00"), D("750.00"))
    assert (len(letter.lines), letter.months, letter.total, letter.total_upper) == (3, 3, D("1250.00"), "壹仟贰佰伍拾元整")


@pytest.mark.parametrize(("amount", "text"), [
    ("1205.00", "壹仟贰佰零伍元整"), ("301.25", "叁佰零壹元贰角伍分"), ("10.50", "壹拾元伍角整"),
    ("0.05", "伍分"), ("10005.05", "壹万零伍元零伍分"), ("100000", "壹拾万元整"), ("100010001", "壹亿零壹万零壹元整"),
])
def test_amounts_in_capitals(amount, text):
    assert rmb_upper(D(amount)) == text
