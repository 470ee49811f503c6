"""收据号 (actions/billing.py): one receipt per 收款 — the lines of an account payment share it — numbered from the
project's yearly sequence in the payment's own transaction; a number is used once in a project."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.actor import Actor
from actions.billing import pay_account, record_payment
from actions.errors import Refused
from models import (
    AuditLog,
    Bill,
    OperationLog,
    Payment,
    Receipt,
    ReceiptSequence,
    Unit,
)
from tests.actions.test_billing import counts, make_estate, with_bills
from tests.actions.test_dunning import committed_estate, postgres_only  # noqa: F401  (fixture)

D = Decimal
SH = dt.timezone(dt.timedelta(hours=8))
WRITES = (Bill, Payment, Receipt, ReceiptSequence, OperationLog, AuditLog)


def test_each_payment_takes_the_next_number_of_its_project_and_year(session):
    e = make_estate(session)
    with_bills(session, e)
    other = make_estate(session, name="别的收费苑")
    with_bills(session, other)
    noon = dt.datetime(2026, 4, 6, 12, tzinfo=SH)
    feb = session.scalar(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-02"))

    single = record_payment(session, bill_id=feb.id, amount="10.00", paid_at=noon, actor=e.actor)
    # 2025-12-31 23:30 in Beijing is still 2025: that year's sequence (for January's bill, issued in December)
    jan = session.scalar(select(Bill).where(Bill.unit_id == e.b201.id, Bill.period == "2026-01"))
    new_year_eve = record_payment(session, bill_id=jan.id, amount="10.00",
                                  paid_at=dt.datetime(2025, 12, 31, 23, 30, tzinfo=SH), actor=e.actor)
    account = pay_account(session, unit_id=e.b201.id, amount="700.00", paid_at=noon, actor=e.actor)
    elsewhere = pay_account(session, unit_id=other.a101.id, amount="10.00", paid_at=noon, actor=other.actor)

    assert single.receipt_no == "SJ2026-000001"
    assert account.receipt_no == "SJ2026-000002" and len(account.payments) == 3
    assert {p.receipt_no for p in account.payments} == {"SJ2026-000002"}
    assert "收据号 SJ2026-000002" in account.message
    assert elsewhere.receipt_no == "SJ2026-000001"  # numbers are per project
    assert new_year_eve.receipt_no == "SJ2025-000001"
    stored = session.execute(select(Payment.receipt_no, func.count()).where(Payment.project_id == e.project.id)
                             .group_by(Payment.receipt_no).order_by(Payment.receipt_no)).all()
    assert stored == [("SJ2025-000001", 1), ("SJ2026-000001", 1), ("SJ2026-000002", 3)]
    assert session.scalars(select(Receipt.number).where(Receipt.project_id == e.project.id)
                           .order_by(Receipt.number)).all() == ["SJ2025-000001", "SJ2026-000001", "SJ2026-000002"]
    assert dict(session.execute(select(ReceiptSequence.year, ReceiptSequence.last_no)
                                .where(ReceiptSequence.project_id == e.project.id)).all()) == {2025: 1, 2026: 2}


def test_the_sequence_passes_over_a_number_an_import_used(session):
    e = make_estate(session)
    with_bills(session, e)
    noon = dt.datetime(2026, 4, 6, 12, tzinfo=SH)
    session.add(Receipt(project_id=e.project.id, number="SJ2026-000002"))  # brought by a payment import
    session.flush()
    feb, mar = (session.scalar(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == f"2026-0{m}"))
                for m in (2, 3))
    numbers = [record_payment(session, bill_id=bill.id, amount="10.00", paid_at=noon, actor=e.actor).receipt_no
               for bill in (feb, mar)]
    assert numbers == ["SJ2026-000001", "SJ2026-000003"]
    before = counts(session, *WRITES)
    with pytest.raises(Refused, match="超过账单"):  # a refused payment takes no number
        record_payment(session, bill_id=feb.id, amount="999.00", paid_at=noon, actor=e.actor)
    assert counts(session, *WRITES) == before


# --- concurrency (PostgreSQL: row locks) ---------------------------------------------------------------------
@postgres_only
def test_two_cashiers_at_once_never_share_a_number_and_a_rollback_gives_it_back(engine, committed_estate):  # noqa: F811
    pid = committed_estate
    with Session(engine) as s:
        u1, u2, u3 = s.scalars(select(Unit.id).where(Unit.project_id == pid).order_by(Unit.room_no)).all()
    actor = Actor(user_id=None, name="收费员", project_ids=None)
    noon = dt.datetime(2026, 4, 6, 12, tzinfo=SH)
    first = Session(engine)
    first.begin()
    assert pay_account(first, unit_id=u1, amount="100.00", paid_at=noon, actor=actor).receipt_no == "SJ2026-000001"

    # A second cashier while the first payment is still open: waits for it, then takes the number after.
    answers: list[str] = []

    def second_cashier(unit_id: int) -> None:
        with Session(engine) as s, s.begin():
            answers.append(pay_account(s, unit_id=unit_id, amount="100.00", paid_at=noon, actor=actor).receipt_no)

    worker = threading.Thread(target=second_cashier, args=(u2,))
    worker.start()
    time.sleep(1)
    assert worker.is_alive() and answers == []  # held by the sequence row's lock
    first.commit()
    first.close()
    worker.join(timeout=30)
    assert answers == ["SJ2026-000002"]

    # a payment rolled back hands its number back: no gap
    third = Session(engine)
    third.begin()
    assert pay_account(third, unit_id=u3, amount="100.00", paid_at=noon, actor=actor).receipt_no == "SJ2026-000003"
    third.rollback()
    third.close()
    second_cashier(u3)
    assert answers[-1] == "SJ2026-000003"
    with Session(engine) as s:
        rows = s.execute(select(Payment.receipt_no, Bill.unit_id).join(Bill, Bill.id == Payment.bill_id)
                         .where(Payment.project_id == pid).order_by(Payment.receipt_no)).all()
        assert rows == [("SJ2026-000001", u1), ("SJ2026-000002", u2), ("SJ2026-000003", u3)]
        assert s.scalar(select(ReceiptSequence.last_no).where(ReceiptSequence.project_id == pid)) == 3
