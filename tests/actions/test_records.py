"""The one save path (actions/records.py): a record's rules, its write, its derived state and its operation-log
row in the caller's transaction; versions required on edit; race-prone rules held by a lock (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from actions import records
from actions.actor import actor_for_user
from actions.errors import Refused
from actions.records import EditConflict, delete_record, save_record
from models import (
    SHANGHAI,
    ActionStatus,
    Bill,
    BookingStatus,
    CorrectiveAction,
    FormSubmission,
    GoodsPass,
    KeyLoan,
    KeyRecord,
    KeyStatus,
    MeetingBooking,
    OperationLog,
    RenovationApplication,
    SurveyTopic,
    UnitStatus,
)
from tests import factories as f
from tests.race_support import committed_project, second_while_first_open

LENT_AT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def desk(session):
    p = f.project(session)
    user = f.user(session, roles=["前台客服"], projects=[p])
    return p, actor_for_user(session, user)


def _count(session: Session, model: type, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_a_save_runs_the_rules_writes_derives_and_logs_in_one_transaction(session, desk):
    p, actor = desk
    key = save_record(session, KeyRecord, None, {"project": str(p.id), "code": "K-1", "name": "大门",
                                                         "copies": "1", "status": "in_stock"}, actor=actor)
    loan = save_record(session, KeyLoan, None, {"project": p.id, "key": str(key.id), "borrower": "张师傅",
                                                       "lent_at": LENT_AT}, actor=actor)
    assert key.status is KeyStatus.LENT  # derived in the same transaction
    logs = session.scalars(select(OperationLog).where(OperationLog.operation.in_(["create:key_record",
                                                                                  "create:key_loan"])).order_by(OperationLog.id)).all()
    assert [(log.operation, log.actor_id, log.params["id"]) for log in logs] == [
        ("create:key_record", actor.user_id, key.id), ("create:key_loan", actor.user_id, loan.id)]
    # the rule refuses a second loan of the only copy: nothing written
    before = _count(session, KeyLoan), _count(session, OperationLog)
    with pytest.raises(Refused, match="共 1 把，均已借出未还"), session.begin_nested():
        save_record(session, KeyLoan, None, {"project": p.id, "key": key.id, "borrower": "李娜", "lent_at": LENT_AT},
                    actor=actor)
    assert (_count(session, KeyLoan), _count(session, OperationLog)) == before
    # deleted: the key is back in stock, and the delete is logged
    loan = session.get(KeyLoan, loan.id)
    delete_record(session, KeyLoan, loan, actor=actor)
    assert session.get(KeyRecord, key.id).status is KeyStatus.IN_STOCK
    assert _count(session, OperationLog, OperationLog.operation == "delete:key_loan") == 1


def test_an_edit_needs_the_version_it_was_opened_on(session, desk):
    p, actor = desk
    unit = f.unit(session, project_=p)
    bill = f.bill(session, unit_=unit, fee_type_=f.fee_type(session, project_=p), period="2026-10")
    session.flush()
    stored = bill.version
    with pytest.raises(EditConflict, match="表单缺少版本号"):
        save_record(session, Bill, bill, {"amount_due": "300.00"}, actor=actor)
    with pytest.raises(EditConflict, match="已被他人修改"):
        save_record(session, Bill, bill, {"amount_due": "300.00"}, actor=actor, version=stored - 1)
    session.refresh(bill)
    assert bill.version == stored and str(bill.amount_due) == "250.00"
    save_record(session, Bill, bill, {"amount_due": "300.00"}, actor=actor, version=str(stored))
    assert bill.version == stored + 1
    # the form opened before that save is now stale
    with pytest.raises(EditConflict, match="已被他人修改"):
        save_record(session, Bill, bill, {"amount_due": "320.00"}, actor=actor, version=stored)


def test_a_corrective_action_is_created_by_its_action_whatever_the_form_says(session, desk):
    from actions.surveys import create_survey

    p, actor = desk
    survey = create_survey(session, project_id=p.id, title="2026年上半年满意度调查", actor=actor)
    row = save_record(session, CorrectiveAction, None, {
        "project": p.id, "survey": survey.survey_id, "topic": SurveyTopic.ENGINEERING.value, "issue": "电梯故障多",
        "action": "加强维保", "status": ActionStatus.VERIFIED.value}, actor=actor)
    assert row.status is ActionStatus.OPEN
    assert _count(session, OperationLog, OperationLog.operation == "add-corrective-action") == 1
    # its state is not changed by an edit either: 完成 and 回访 are steps of their own
    with pytest.raises(Refused, match="不能在表单里修改"):
        save_record(session, CorrectiveAction, row, {"status": ActionStatus.VERIFIED.value}, actor=actor,
                    version=row.version)


def test_registering_is_per_model():
    assert records.created_by_action(CorrectiveAction) and not records.created_by_action(KeyLoan)


# --- races (PostgreSQL: row and advisory locks; SQLite serialises writers with BEGIN IMMEDIATE) ---------------
@pytest.fixture
def committed(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    with committed_project(engine, ["前台客服"], made=(KeyLoan, KeyRecord, MeetingBooking)) as ids:
        with Session(engine) as s, s.begin():
            key = KeyRecord(project_id=ids["project"], code="K-9", name="机房", copies=1)
            s.add(key)
            s.flush()
            ids["key"] = key.id
        yield ids


def _race(engine, actor, model, first_values, second_values, **kwargs):
    """The first save holds its transaction open while the second starts: the second must wait for it, and then
    see it. Returns the second's outcome."""
    return second_while_first_open(
        engine, lambda s: save_record(s, model, None, first_values, actor=actor, **kwargs),
        lambda s: save_record(s, model, None, second_values, actor=actor, **kwargs).id)


def test_two_loans_of_the_last_copy_at_once_one_wins(engine, committed):
    actor, key_id, p = committed["actor"], committed["key"], committed["project"]
    waited, box = _race(engine, actor, KeyLoan, {"project": p, "key": key_id, "borrower": "张师傅", "lent_at": LENT_AT},
                        {"project": p, "key": key_id, "borrower": "李娜", "lent_at": LENT_AT})
    assert waited
    assert isinstance(box.get("error"), Refused) and "均已借出未还" in str(box["error"])
    with Session(engine) as s:
        assert _count(s, KeyLoan, KeyLoan.key_id == key_id) == 1
        assert s.get(KeyRecord, key_id).status is KeyStatus.LENT


def test_two_bookings_of_a_room_at_once_one_wins(engine, committed):
    actor, p = committed["actor"], committed["project"]
    booking = {"project": p, "room": "一号会议室", "starts_at": LENT_AT, "ends_at": LENT_AT + dt.timedelta(hours=2),
               "booked_by": "张伟", "attendees": 5, "status": BookingStatus.PENDING.value}  # 待审批 holds the room too
    waited, box = _race(engine, actor, MeetingBooking, booking,
                        {**booking, "booked_by": "李娜", "starts_at": LENT_AT + dt.timedelta(hours=1),
                         "ends_at": LENT_AT + dt.timedelta(hours=3)})
    assert waited
    assert isinstance(box.get("error"), Refused) and "与已有预订重叠" in str(box["error"])
    with Session(engine) as s:
        assert _count(s, MeetingBooking, MeetingBooking.project_id == p) == 1


def test_a_create_form_sent_twice_writes_once(session, desk):
    p, actor = desk
    key = save_record(session, KeyRecord, None, {"project": p.id, "code": "K-2", "name": "机房", "copies": "2"},
                      actor=actor)
    form = {"project": p.id, "key": key.id, "borrower": "张师傅", "lent_at": LENT_AT}
    first = save_record(session, KeyLoan, None, form, actor=actor, form_token="a" * 32)
    logs = _count(session, OperationLog)
    again = save_record(session, KeyLoan, None, form, actor=actor, form_token="a" * 32)
    assert again.id == first.id and _count(session, KeyLoan, KeyLoan.key_id == key.id) == 1
    assert _count(session, OperationLog) == logs  # nothing written the second time
    # a token of another kind of record is not an answer
    with pytest.raises(Refused, match="该表单已提交过"), session.begin_nested():
        save_record(session, MeetingBooking, None, {"project": p.id, "room": "一号", "booked_by": "张伟"},
                    actor=actor, form_token="a" * 32)


def test_a_create_form_token_of_another_projects_record_is_refused_not_answered(session, desk):
    """The token of a form that made another project's 钥匙借用 was answered with that record (shown as this
    form's, the loan typed here dropped); it is refused, nothing written."""
    p, actor = desk
    key = save_record(session, KeyRecord, None, {"project": p.id, "code": "K-3", "name": "配电房", "copies": "1"},
                      actor=actor)
    save_record(session, KeyLoan, None, {"project": p.id, "key": key.id, "borrower": "张师傅", "lent_at": LENT_AT},
                actor=actor, form_token="c" * 32)
    p2 = f.project(session)
    stranger = actor_for_user(session, f.user(session, roles=["前台客服"], projects=[p2]))
    key2 = save_record(session, KeyRecord, None, {"project": p2.id, "code": "K-1", "name": "大门", "copies": "1"},
                       actor=stranger)
    loans, logs = _count(session, KeyLoan), _count(session, OperationLog)
    with pytest.raises(Refused, match="表单编号无效：该表单不是本账号为此打开的"), session.begin_nested():
        save_record(session, KeyLoan, None, {"project": p2.id, "key": key2.id, "borrower": "李师傅", "lent_at": LENT_AT},
                    actor=stranger, form_token="c" * 32)
    assert (_count(session, KeyLoan), _count(session, OperationLog)) == (loans, logs)


def test_the_same_form_at_once_writes_once(engine, committed):
    actor, key_id, p = committed["actor"], committed["key"], committed["project"]
    form = {"project": p, "key": key_id, "borrower": "张师傅", "lent_at": LENT_AT}
    with Session(engine) as s, s.begin():  # a second copy: the rule would let both go out
        s.get(KeyRecord, key_id).copies = 2
    waited, box = _race(engine, actor, KeyLoan, form, form, form_token="b" * 32)
    assert waited and "error" not in box, box
    with Session(engine) as s:
        assert _count(s, KeyLoan, KeyLoan.key_id == key_id) == 1
        assert box["result"] == s.scalar(select(KeyLoan.id).where(KeyLoan.key_id == key_id))
        s.execute(delete(FormSubmission).where(FormSubmission.token == "b" * 32))
        s.commit()


def test_a_record_points_only_at_records_of_its_own_project(session):
    """A user of two projects picks from both: a 装修申请 of 锦绣华庭 naming a 翠湖天地 unit is refused, naming both
    projects, and nothing is written — that unit is not made 装修中; the same unit of its own project is saved."""
    p1, p2 = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    own, other = f.unit(session, project_=p1), f.unit(session, project_=p2, status=UnitStatus.OCCUPIED)
    actor = actor_for_user(session, f.user(session, roles=["客服主管"], projects=[p1, p2]))
    approver = f.staff(session, project_=p1)
    values = {"project": p1.id, "unit": str(other.id), "applicant": "张伟", "start_date": dt.date(2026, 11, 20),
              "end_date": dt.date(2026, 12, 20), "status": "approved", "approved_by": str(approver.id),
              "approved_on": dt.date(2026, 11, 18)}
    before = (_count(session, RenovationApplication), _count(session, OperationLog))
    with pytest.raises(Refused) as refused:
        with session.begin_nested():
            save_record(session, RenovationApplication, None, values, actor=actor)
    assert str(refused.value) == (f"房屋「{other}」属于项目「翠湖天地」，不属于本记录的项目「锦绣华庭」：请选择本项目的房屋")
    assert refused.value.ids == [other.id]
    session.expire_all()
    assert (_count(session, RenovationApplication), _count(session, OperationLog)) == before
    assert session.get(type(other), other.id).status is UnitStatus.OCCUPIED

    # an edit that moves a 放行条 to the other project's unit: refused, the stored one kept
    gate = save_record(session, GoodsPass, None, {"project": p1.id, "code": "FX-1", "unit": str(own.id),
                                                 "applicant": "张伟", "items": "沙发一张",
                                                 "pass_date": dt.date(2026, 11, 20)}, actor=actor)
    with pytest.raises(Refused, match="房屋「.*」属于项目「翠湖天地」"):
        with session.begin_nested():
            save_record(session, GoodsPass, gate, {"unit": str(other.id)}, actor=actor, version=gate.version)
    session.expire_all()
    assert session.get(GoodsPass, gate.id).unit_id == own.id
    # … and one that moves the record to the other project, leaving its unit behind
    with pytest.raises(Refused, match="属于项目「锦绣华庭」，不属于本记录的项目「翠湖天地」"):
        with session.begin_nested():
            save_record(session, GoodsPass, session.get(GoodsPass, gate.id), {"project": p2.id}, actor=actor,
                        version=gate.version)
    session.expire_all()
    assert session.get(GoodsPass, gate.id).project_id == p1.id

    made = save_record(session, RenovationApplication, None, {**values, "unit": str(own.id)}, actor=actor)
    assert (made.unit_id, session.get(type(own), own.id).status) == (own.id, UnitStatus.DECORATING)


def test_a_customer_linked_to_a_unit_is_not_deleted_the_refusal_names_the_units(session, console):
    """Deleting a customer still linked to a unit answered 「「客户」不能为空」 — nothing the user did. Refused naming
    the units, nothing deleted; once the link is removed the customer is deleted and the bills keep their rows."""
    from models import Customer, UnitCustomer

    p = f.project(session)
    unit = f.unit(session, project_=p, building_=f.building(session, project_=p, name="1栋"), room_no="101")
    customer = f.customer(session, project_=p, name="范睿", unit_=unit)
    f.user(session, username="root", superuser=True)
    admin = console("root")
    refused = admin.client.delete(f"/admin/customer/delete?pks={customer.id}", headers={"x-csrf-token": admin.csrf()})
    assert "仍关联房屋 1栋-101（业主），不能删除" in unquote_plus(refused.text), refused.text[:300]
    session.expire_all()
    assert session.get(Customer, customer.id) is not None
    assert _count(session, UnitCustomer, UnitCustomer.customer_id == customer.id) == 1

    link = session.scalars(select(UnitCustomer).where(UnitCustomer.customer_id == customer.id)).one()
    delete_record(session, UnitCustomer, link, actor=actor_for_user(session, f.user(session, superuser=True)))
    delete_record(session, Customer, session.get(Customer, customer.id),
                  actor=actor_for_user(session, f.user(session, superuser=True)))
    assert session.get(Customer, customer.id) is None


def test_a_create_form_token_of_a_colleagues_record_is_refused_not_answered(session, desk):
    """The same project, another account: the token of the form that made a colleague's 钥匙借用 was answered with
    his loan (the loan typed here dropped, told 已保存); it is refused, nothing written. The same account sending
    its form again is still answered with its record."""
    p, actor = desk
    key = save_record(session, KeyRecord, None, {"project": p.id, "code": "K-4", "name": "水泵房", "copies": "3"},
                      actor=actor)
    first = save_record(session, KeyLoan, None, {"project": p.id, "key": key.id, "borrower": "张师傅",
                                                 "lent_at": LENT_AT}, actor=actor, form_token="d" * 32)
    colleague = actor_for_user(session, f.user(session, roles=["前台客服"], projects=[p]))
    loans, logs = _count(session, KeyLoan), _count(session, OperationLog)
    with pytest.raises(Refused, match="表单编号无效：该表单不是本账号为此打开的"), session.begin_nested():
        save_record(session, KeyLoan, None, {"project": p.id, "key": key.id, "borrower": "李师傅", "lent_at": LENT_AT},
                    actor=colleague, form_token="d" * 32)
    assert (_count(session, KeyLoan), _count(session, OperationLog)) == (loans, logs)
    assert _count(session, KeyLoan, KeyLoan.borrower == "李师傅") == 0
    again = save_record(session, KeyLoan, None, {"project": p.id, "key": key.id, "borrower": "张师傅",
                                                 "lent_at": LENT_AT}, actor=actor, form_token="d" * 32)
    assert again.id == first.id and _count(session, KeyLoan) == loans
