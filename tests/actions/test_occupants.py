"""登记住户 (actions/units.py ``add_occupant``): a tenant, family member or new owner registered from the unit's page —
the customer and the link to the unit in one step, an existing customer found rather than filed twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.units import add_occupant
from models import AuditLog, Customer, UnitCustomer, UnitRelation
from tests import factories as f


def _counts(session) -> tuple[int, int, int]:
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Customer, UnitCustomer, AuditLog))


@pytest.fixture
def estate(session):
    p1, p2 = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    unit = f.unit(session, project_=p1, building_=f.building(session, project_=p1, name="3栋"), room_no="1303")
    owner = f.customer(session, project_=p1, name="陈静", phone="13812345678", id_number="310101199003071230",
                       unit_=unit)
    desk = actor_for_user(session, f.user(session, roles=["前台客服"], projects=[p1]))
    stranger = actor_for_user(session, f.user(session, roles=["前台客服"], projects=[p2]))
    return {"p1": p1, "unit": unit, "owner": owner, "desk": desk, "stranger": stranger}


def test_a_tenant_is_filed_and_linked_in_one_step_with_the_numbers_as_typed_at_the_desk(session, estate):
    result = add_occupant(session, unit_id=estate["unit"].id, name=" 刘洋 ", relation=UnitRelation.TENANT,
                          phone="139 0000-1111", id_number="３１０１０１１９８５０５１２４５６１",
                          start_date=dt.date(2026, 12, 1), actor=estate["desk"])
    assert result.created and result.message == "已登记 刘洋 为3栋-1303的租户"
    customer = session.get(Customer, result.customer_id)
    assert (customer.project_id, customer.name, customer.phone, customer.id_number) == (
        estate["p1"].id, "刘洋", "13900001111", "310101198505124561")
    link = session.get(UnitCustomer, result.link_id)
    assert (link.unit_id, link.customer_id, link.relation, link.start_date, link.is_primary) == (
        estate["unit"].id, customer.id, UnitRelation.TENANT, dt.date(2026, 12, 1), False)
    audited = set(session.scalars(select(AuditLog.table_name).where(
        AuditLog.record_id.in_([str(customer.id), str(link.id)]))))
    assert {"customer", "unit_customer"} <= audited


def test_a_customer_already_on_file_is_linked_not_filed_again(session, estate):
    """The owner's spouse filed under another unit, or the owner himself as 家庭成员 of a second unit: found by his
    身份证号 (or 手机号 + 姓名), linked — no second 客户."""
    other = f.unit(session, project_=estate["p1"], room_no="1304")
    before = _counts(session)
    result = add_occupant(session, unit_id=other.id, name="陈静", relation=UnitRelation.FAMILY,
                          id_number="310101199003071230", actor=estate["desk"])
    assert (result.created, result.customer_id) == (False, estate["owner"].id)
    assert result.message.endswith("（已有客户档案，未重复建档）")
    by_phone = add_occupant(session, unit_id=other.id, name="陈静", relation=UnitRelation.OWNER, phone="138-1234-5678",
                            actor=estate["desk"])
    assert (by_phone.created, by_phone.customer_id) == (False, estate["owner"].id)
    after = _counts(session)
    assert (after[0], after[1]) == (before[0], before[1] + 2)


@pytest.mark.parametrize(("values", "message"), [
    ({"name": "  "}, "请填写姓名"),
    ({"phone": "1381234"}, "手机号："),
    ({"id_number": "310101199003071231"}, "身份证号：310***********1231 校验位错误"),
    ({"phone": "138****5678"}, "手机号：请填写完整的号码，不能含 *"),
    ({"name": "王强", "id_number": "310101199003071230"}, "身份证号 310***********1230 已登记为客户 陈静，与所填姓名「王强」不符"),
    ({"name": "陈静", "relation": UnitRelation.OWNER, "id_number": "310101199003071230"}, "陈静 已是3栋-1303的业主"),
])
def test_a_refused_registration_writes_nothing(session, estate, values, message):
    before = _counts(session)
    sent = {"name": "刘洋", "relation": UnitRelation.TENANT, **values}
    with pytest.raises(Refused) as refused, session.begin_nested():
        add_occupant(session, unit_id=estate["unit"].id, actor=estate["desk"], **sent)
    assert message in refused.value.message
    assert _counts(session) == before


def test_another_projects_unit_is_refused(session, estate):
    before = _counts(session)
    with pytest.raises(NotPermitted), session.begin_nested():
        add_occupant(session, unit_id=estate["unit"].id, name="刘洋", relation=UnitRelation.TENANT,
                     actor=estate["stranger"])
    assert _counts(session) == before


def test_the_same_form_sent_twice_files_one_customer(session, estate):
    """A double click on 登记 with neither 手机号 nor 身份证号 (a child added as 家庭成员) filed the child twice: the
    form's one-time number finds the first, and the second is refused 「已是…」, nothing more written."""
    sent = {"unit_id": estate["unit"].id, "name": "陈小宝", "relation": UnitRelation.FAMILY, "form_token": "d" * 32}
    add_occupant(session, actor=estate["desk"], **sent)
    before = _counts(session)
    with pytest.raises(Refused, match="陈小宝 已是3栋-1303的家庭成员"), session.begin_nested():
        add_occupant(session, actor=estate["desk"], **sent)
    assert _counts(session) == before
