"""The front desk's smaller duties (issue 19 item 10): after-hours collections handed over and confirmed by the
cashier, the day's mail notified to the butlers once per butler, 一次性外包 with its follower and acceptance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.front_desk import confirm_handover, hand_over_collections, notify_mail
from models import (
    SHANGHAI,
    AuditLog,
    CashHandover,
    MailItem,
    MailNotice,
    OutsourcedJob,
    Payment,
    PayMethod,
    Receipt,
    StaffPosition,
    utcnow,
)
from tests import factories as f


@pytest.fixture
def desk(session):
    """前台 王丽 took 3 payments after hours (100 + 250.50 + 49.50 = 400.00); 收费员 took one (not hers)."""
    p, other = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    wang = f.staff(session, project_=p, name="王丽")
    cashier_staff = f.staff(session, project_=p, name="赵收费", position=StaffPosition.CASHIER)
    desk_user = f.user(session, username="qiantai", roles=["前台客服"], projects=[p])
    desk_user.staff_id = wang.id
    cashier = f.user(session, username="shoufei", roles=["收费员"], projects=[p])
    cashier.staff_id = cashier_staff.id
    unit = f.unit(session, project_=p)
    bill = f.bill(session, unit_=unit, fee_type_=f.fee_type(session, project_=p), period="2026-11",
                  amount_due=Decimal("1000.00"))
    now = utcnow()
    for n, (amount, who) in enumerate(((Decimal("100.00"), wang), (Decimal("250.50"), wang),
                                       (Decimal("49.50"), wang), (Decimal("300.00"), cashier_staff))):
        session.add(Receipt(project_id=p.id, number=f"R{n}"))
        session.flush()
        session.add(Payment(project_id=p.id, bill_id=bill.id, amount=amount, method=PayMethod.CASH,
                            paid_at=now - dt.timedelta(hours=5 - n), collector_id=who.id, receipt_no=f"R{n}"))
    session.flush()
    return {"p": p, "other": other, "wang": wang, "bill": bill, "unit": unit, "desk_user": desk_user,
            "cashier_user": cashier, "desk": actor_for_user(session, desk_user),
            "cashier": actor_for_user(session, cashier)}


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_collections_are_handed_over_since_the_last_handover_and_confirmed(session, desk):
    first = hand_over_collections(session, actor=desk["desk"])
    assert (first.payments, first.amount) == (3, Decimal("400.00"))
    assert first.message == "王丽 交接代收现金 3 笔，共 400.00 元，待收银员确认"
    row = session.get(CashHandover, first.handover_id)
    assert (row.collector_id, row.handed_by_id, row.confirmed_at) == (desk["wang"].id, desk["desk_user"].id, None)
    with pytest.raises(Refused, match="王丽自 .* 上次交接以来没有代收现金，无需交接"):
        hand_over_collections(session, actor=desk["desk"])
    with pytest.raises(Refused, match="不能由交出人本人确认"):
        confirm_handover(session, handover_id=row.id, counted=Decimal("400"), actor=desk["desk"])
    with pytest.raises(Refused, match="实收 390.00 元与应交 400.00 元不符，请说明差额"):
        confirm_handover(session, handover_id=row.id, counted=Decimal("390"), actor=desk["cashier"])
    assert row.confirmed_at is None
    done = confirm_handover(session, handover_id=row.id, counted=Decimal("390"), note="找零差 10 元，已补",
                            actor=desk["cashier"])
    assert done.message == f"已确认交接 #{row.id}：实收 390.00 元，差额 -10.00 元"
    session.refresh(row)
    assert (row.counted, row.cashier_id, row.note) == (Decimal("390.00"), desk["cashier_user"].id, "找零差 10 元，已补")
    with pytest.raises(Refused, match="该交接已于 .* 确认"):
        confirm_handover(session, handover_id=row.id, counted=Decimal("400"), actor=desk["cashier"])

    # the next payment is the next handover's, which starts where the first ended
    session.add(Receipt(project_id=desk["p"].id, number="R9"))
    session.flush()
    session.add(Payment(project_id=desk["p"].id, bill_id=desk["bill"].id, amount=Decimal("20.00"),
                        method=PayMethod.CASH, paid_at=utcnow(), collector_id=desk["wang"].id, receipt_no="R9"))
    session.flush()
    second = hand_over_collections(session, actor=desk["desk"])
    assert (second.payments, second.amount) == (1, Decimal("20.00"))
    assert session.get(CashHandover, second.handover_id).period_from == row.period_to
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "cash_handover")) >= 3


def _pay(session, desk, n, amount, method, at=None):
    session.add(Receipt(project_id=desk["p"].id, number=f"E{n}"))
    session.flush()
    session.add(Payment(project_id=desk["p"].id, bill_id=desk["bill"].id, amount=Decimal(amount), method=method,
                        paid_at=at or utcnow() - dt.timedelta(minutes=30 - n), collector_id=desk["wang"].id,
                        receipt_no=f"E{n}"))
    session.flush()


def test_the_desk_hands_over_its_cash_and_lists_the_other_methods_beside_it(session, desk):
    """A cashier counts cash: 微信、支付宝、刷卡、银行转账 went straight to the company's account. 应交 is the cash
    (3 payments, 400.00); the others are listed by method, not counted — it asked the cashier for 1190.00."""
    for n, (amount, method) in enumerate((("300.00", PayMethod.WECHAT), ("200.00", PayMethod.WECHAT),
                                          ("150.00", PayMethod.ALIPAY), ("90.00", PayMethod.CARD),
                                          ("50.00", PayMethod.TRANSFER))):
        _pay(session, desk, n, amount, method)
    done = hand_over_collections(session, actor=desk["desk"])
    row = session.get(CashHandover, done.handover_id)
    others = "微信 2 笔 500.00 元；支付宝 1 笔 150.00 元；刷卡 1 笔 90.00 元；银行转账 1 笔 50.00 元"
    assert (row.payments, row.amount, row.other_methods) == (3, Decimal("400.00"), others)
    assert done.message == f"王丽 交接代收现金 3 笔，共 400.00 元，待收银员确认；{others}已直接入公司账户，不交现金"
    # the cashier counts the 400.00 in cash: no difference to explain
    confirm_handover(session, handover_id=row.id, counted=Decimal("400"), actor=desk["cashier"])
    assert (row.counted, row.note) == (Decimal("400.00"), "")

    # only electronic payments since: nothing to hand over, nothing written, the payments named
    _pay(session, desk, 9, "20.00", PayMethod.WECHAT, utcnow())
    before = (_count(session, CashHandover), _count(session, AuditLog))
    with pytest.raises(Refused) as refused:
        hand_over_collections(session, actor=desk["desk"])
    assert "没有代收现金，无需交接（微信 1 笔 20.00 元，已直接入公司账户，不交现金）" in refused.value.message
    assert (_count(session, CashHandover), _count(session, AuditLog)) == before


def test_cash_typed_in_after_a_handover_with_an_earlier_time_is_in_the_next(session, desk):
    """Cash taken at 18:00 and typed in after the 19:00 handover (收款时间 18:00) was never handed over: the next
    handover took only the payments timed after 19:00 — 「没有代收现金，无需交接」, the 30.00 counted by nobody. Each
    payment now names the handover that took it; the next takes those none took, whatever their time."""
    first = hand_over_collections(session, actor=desk["desk"])
    took = session.scalars(select(Payment.id).where(Payment.handover_id == first.handover_id)).all()
    assert len(took) == 3
    assert session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.table_name == "payment", AuditLog.summary == f"代收款交接#{first.handover_id}")) == 3
    handed = session.get(CashHandover, first.handover_id).period_to
    _pay(session, desk, 7, "30.00", PayMethod.CASH, handed - dt.timedelta(hours=1))  # typed in late

    second = hand_over_collections(session, actor=desk["desk"])

    assert (second.payments, second.amount) == (1, Decimal("30.00"))
    late = session.scalar(select(Payment).where(Payment.receipt_no == "E7"))
    session.refresh(late)
    assert late.handover_id == second.handover_id
    row = session.get(CashHandover, second.handover_id)
    assert (row.period_from, row.period_to > handed) == (late.paid_at, True)
    # nothing is handed over twice
    before = (_count(session, CashHandover), _count(session, AuditLog))
    with pytest.raises(Refused, match="没有代收现金，无需交接"):
        hand_over_collections(session, actor=desk["desk"])
    assert (_count(session, CashHandover), _count(session, AuditLog)) == before


def test_a_handover_of_another_project_is_not_permitted(session, desk):
    outsider = actor_for_user(session, f.user(session, username="waibu", roles=["收费员"], projects=[desk["other"]]))
    with pytest.raises(NotPermitted):
        hand_over_collections(session, collector_id=desk["wang"].id, actor=outsider)
    done = hand_over_collections(session, actor=desk["desk"])
    with pytest.raises(Refused, match="不存在或无权查看"):
        confirm_handover(session, handover_id=done.handover_id, counted=Decimal("400"), actor=outsider)
    assert session.get(CashHandover, done.handover_id).confirmed_at is None


def test_the_days_mail_is_notified_once_per_butler(session, desk):
    """1栋 (管家 甲): 2 waiting + 1 picked up; 2栋 (管家 乙): 1 waiting, 1 received tomorrow; a unit whose own
    责任管家 is 乙 in 1栋: 1 waiting; one without a unit: the desk's."""
    p = desk["p"]
    jia, yi = (f.staff(session, project_=p, name=n, position=StaffPosition.BUTLER) for n in ("甲管家", "乙管家"))
    b1, b2 = f.building(session, project_=p, name="1栋"), f.building(session, project_=p, name="2栋")
    b1.butler_id, b2.butler_id = jia.id, yi.id
    u1, u2, own = f.unit(session, project_=p, building_=b1), f.unit(session, project_=p, building_=b2), \
        f.unit(session, project_=p, building_=b1)
    own.butler_id = yi.id
    day = dt.date(2026, 11, 20)
    at = dt.datetime(2026, 11, 20, 9, tzinfo=SHANGHAI)
    for n, (unit, when, picked) in enumerate([(u1, at, None), (u1, at, None), (u1, at, at), (u2, at, None),
                                              (u2, at + dt.timedelta(days=1), None), (own, at, None),
                                              (None, at, None)]):
        session.add(MailItem(project_id=p.id, unit_id=unit.id if unit else None, tracking_no=f"SF{n}",
                             received_at=when, picked_up_at=picked))
    session.flush()
    done = notify_mail(session, day=day, project_ids=[p.id], actor=desk["desk"])
    assert (done.notified, done.already, done.items, done.unassigned) == (2, 0, 4, 1)
    assert done.message == "2026-11-20 已通知 2 位楼宇管家领取邮件 4 件；1 件所在楼栋未设管家，由前台发放"
    rows = {r.butler_id: r.items for r in session.scalars(select(MailNotice))}
    assert rows == {jia.id: 2, yi.id: 2}
    again = notify_mail(session, day=day, project_ids=[p.id], actor=desk["desk"])
    assert (again.notified, again.already) == (0, 2) and _count(session, MailNotice) == 2
    with pytest.raises(Refused, match="2026-11-01 没有待管家领取的邮件包裹"):
        notify_mail(session, day=dt.date(2026, 11, 1), project_ids=[p.id], actor=desk["desk"])


def test_the_console_hands_over_and_the_cashier_confirms(session, console, desk):
    qiantai = console("qiantai")
    page = qiantai.get("/admin/cash-handover/list")
    assert page.status_code == 200 and "交接我的代收款" in page.text and "收银员确认" not in page.text
    assert qiantai.post("/admin/cash-handover/hand-over").status_code == 303
    row = session.scalars(select(CashHandover)).one()
    assert qiantai.post("/admin/cash-handover/confirm", {"handover_id": str(row.id), "counted": "400"}
                        ).status_code == 403
    shoufei = console("shoufei")
    refused = shoufei.post("/admin/cash-handover/confirm", {"handover_id": str(row.id), "counted": "abc"})
    assert refused.status_code == 400 and "实收金额(元)无效" in refused.text
    assert shoufei.post("/admin/cash-handover/confirm", {"handover_id": str(row.id), "counted": "400.00"}
                        ).status_code == 303
    session.expire_all()
    assert session.get(CashHandover, row.id).counted == Decimal("400.00")


def test_an_outsourced_job_is_accepted_with_its_day(session, console, desk):
    zhuguan = f.user(session, username="zhuguan", roles=["客服主管"], projects=[desk["p"]])
    assert zhuguan
    boss = console("zhuguan")
    form = {"project": str(desk["p"].id), "title": "外墙清洗", "vendor": "洁美清洗公司", "follower": str(desk["wang"].id),
            "planned_on": "2026-11-20", "status": "accepted", "issues": ""}
    refused = boss.post("/admin/outsourced-job/create", form)
    assert refused.status_code == 400 and "状态为“已验收”时须填写验收日期" in refused.text
    assert _count(session, OutsourcedJob) == 0
    assert boss.post("/admin/outsourced-job/create", {**form, "done_on": "2026-11-22"}).status_code == 302
    job = session.scalars(select(OutsourcedJob)).one()
    assert (job.follower_id, job.done_on) == (desk["wang"].id, dt.date(2026, 11, 22))


def test_a_paid_request_names_a_special_service_of_its_project(session, console, desk):
    from models import ServiceRequest, SpecialService

    ours = SpecialService(project_id=desk["p"].id, name="家政保洁", price=Decimal("50"), price_unit="小时")
    retired = SpecialService(project_id=desk["p"].id, name="擦玻璃", active=False)
    theirs = SpecialService(project_id=desk["other"].id, name="搬家")
    session.add_all([ours, retired, theirs])
    request = f.service_request(session, project_=desk["p"], content="预约周六家政保洁 3 小时")
    f.user(session, username="zhuguan", roles=["客服主管"], projects=[desk["p"], desk["other"]])
    boss = console("zhuguan")
    form = {"project": str(desk["p"].id), "channel": "phone", "kind": "help", "category": "other",
            "priority": "normal", "content": request.content, "received_at": "2026-11-20 09:00:00",
            "contact_name": "张伟", "contact_phone": "13812345678", "reply": "",
            "version": str(request.version)}
    for wrong in (retired, theirs):
        refused = boss.post(f"/admin/service-request/edit/{request.id}", {**form, "special_service": str(wrong.id)})
        assert refused.status_code == 400 and "特约服务须为本项目目录中启用的服务" in refused.text
    saved = boss.post(f"/admin/service-request/edit/{request.id}", {**form, "special_service": str(ours.id)})
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(ServiceRequest, request.id).special_service_id == ours.id
