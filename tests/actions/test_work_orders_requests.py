"""客户诉求受理 (actions/requests.py): unit lookup, 首问负责人, repeat flag, refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, literal, select

from actions.actor import actor_for_user
from actions.billing import payer_id
from actions.errors import NotPermitted, Refused
from actions.requests import find_units, first_received, receive_request
from models import (
    SHANGHAI,
    Channel,
    OperationLog,
    Priority,
    RequestCategory,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    StaffPosition,
    UnitCustomer,
    UnitRelation,
    utcnow,
)
from tests import factories as f


@pytest.fixture
def desk(session):
    p1, p2 = f.project(session), f.project(session)
    user = f.user(session, roles=["前台客服"], projects=[p1])
    b = f.building(session, project_=p1, name="3栋")
    unit = f.unit(session, project_=p1, building_=b, room_no="1502")
    owner = f.customer(session, project_=p1, name="王秀英", phone="13900001111", unit_=unit)
    return {"p1": p1, "p2": p2, "user": user, "actor": actor_for_user(session, user), "unit": unit, "owner": owner}


def requests_count(session) -> int:
    return session.scalar(select(func.count()).select_from(ServiceRequest))


@pytest.mark.parametrize("query", [
    {"building": "3栋", "room_no": "1502"},
    {"room_no": "１５０２　"},  # full-width digits and space, as typed on a Chinese keyboard
    {"name": "秀英"},
    {"phone": "13900001111"},
    {"phone": "139 0000 1111"},
    {"phone": "1111"},  # the 尾号 a caller gives, which the match shows too
])
def test_find_units_by_room_or_owner(session, desk, query):
    (match,) = find_units(session, actor=desk["actor"], project_id=desk["p1"].id, **query)
    assert (match.unit_id, match.unit, match.customer) == (desk["unit"].id, "3栋-1502", "王秀英")
    assert match.phone == "139****1111"


@pytest.mark.parametrize("part", ["00001111", "1390000", "0000"])
def test_find_units_by_a_part_of_a_phone_finds_nothing(session, desk, part):
    """The matches show the number masked: a part of it found would tell the digits the mask hides (``0000``
    is four digits, but hidden ones: no number ends with them)."""
    assert find_units(session, actor=desk["actor"], project_id=desk["p1"].id, phone=part) == ()


@pytest.mark.parametrize("typed", ["5", "5栋", "5号楼", "５", "５栋", " 5 幢", "5座", "5#", "05"])
def test_find_units_takes_the_building_as_the_front_desk_types_it(session, desk, typed):
    b5 = f.building(session, project_=desk["p1"], name="5栋")
    b15 = f.building(session, project_=desk["p1"], name="15栋")
    unit = f.unit(session, project_=desk["p1"], building_=b5, room_no="2303")
    f.unit(session, project_=desk["p1"], building_=b15, room_no="2303")
    found = find_units(session, actor=desk["actor"], project_id=desk["p1"].id, building=typed, room_no="2303")
    assert [(m.unit_id, m.unit) for m in found] == [(unit.id, "5栋-2303")]


@pytest.mark.parametrize(("query", "expected"), [
    ({"building": "一栋", "room_no": "101"}, "1栋-101"),
    ({"building": "1栋", "room_no": "0101"}, "1栋-101"),
    ({"building": "一号楼", "room_no": "0101"}, "1栋-101"),
    ({"building": "1", "room_no": "102"}, "1栋-0102"),
    ({"building": "十二栋", "room_no": "1"}, "十二栋-0001"),
    ({"building": "12", "room_no": "0001"}, "十二栋-0001"),
    ({"room_no": "一栋0101"}, "1栋-101"),
    ({"room_no": "1号楼102室"}, "1栋-0102"),
    ({"room_no": "一栋-102"}, "1栋-0102"),
    ({"room_no": "12栋1"}, "十二栋-0001"),
])
def test_find_units_reads_chinese_numerals_and_zero_padded_rooms(session, desk, query, expected):
    """「一栋」 is 1栋 (and 1栋 finds a building named 十二栋's 12), 「0101」 is room 101 and 「102」 room 0102: as the
    front desk types them, in the boxes or the whole unit in the 房号 box, read as the imports read it."""
    b1 = f.building(session, project_=desk["p1"], name="1栋")
    f.unit(session, project_=desk["p1"], building_=b1, room_no="101")
    f.unit(session, project_=desk["p1"], building_=b1, room_no="0102")
    f.unit(session, project_=desk["p1"], building_=b1, room_no="1101")
    b12 = f.building(session, project_=desk["p1"], name="十二栋")
    f.unit(session, project_=desk["p1"], building_=b12, room_no="0001")
    f.unit(session, project_=desk["p1"], building_=f.building(session, project_=desk["p1"], name="11栋"),
           room_no="0101")
    found = find_units(session, actor=desk["actor"], project_id=desk["p1"].id, **query)
    assert [m.unit for m in found] == [expected]


def test_find_units_building_alone_does_not_match_a_longer_number(session, desk):
    f.unit(session, project_=desk["p1"], building_=f.building(session, project_=desk["p1"], name="13栋"),
           room_no="0101")
    assert find_units(session, actor=desk["actor"], project_id=desk["p1"].id, building="3") == (
        find_units(session, actor=desk["actor"], project_id=desk["p1"].id, building="3栋"))
    (match,) = find_units(session, actor=desk["actor"], project_id=desk["p1"].id, building="3号楼")
    assert match.unit == "3栋-1502"


def test_find_units_stays_in_scope(session, desk):
    other_unit = f.unit(session, project_=desk["p2"], room_no="1502")
    found = find_units(session, actor=desk["actor"], room_no="1502")
    assert [m.unit_id for m in found] == [desk["unit"].id] and other_unit.id not in [m.unit_id for m in found]
    assert find_units(session, actor=desk["actor"]) == ()
    with pytest.raises(NotPermitted):
        find_units(session, actor=desk["actor"], project_id=desk["p2"].id, room_no="1502")


def test_intake_records_the_receiver_as_first_contact_owner(session, desk):
    before_ops = session.scalar(select(func.count()).select_from(OperationLog))
    result = receive_request(
        session, actor=desk["actor"], project_id=desk["p1"].id, kind=RequestKind.REPAIR_PRIVATE,
        category=RequestCategory.PLUMBING, channel=Channel.VISIT, priority=Priority.HIGH,
        unit_id=desk["unit"].id, customer_id=desk["owner"].id, content="卫生间漏水到楼下",
    )
    request = session.get(ServiceRequest, result.request_id)
    assert request.receiver_id == desk["user"].id == result.receiver_id
    assert (request.status, request.channel, request.priority) == (RequestStatus.PENDING, Channel.VISIT, Priority.HIGH)
    # contact taken from the customer when the form leaves it empty
    assert (request.contact_name, request.contact_phone) == ("王秀英", "13900001111")
    assert result.repeat_of_id is None
    assert session.scalar(select(func.count()).select_from(OperationLog)) == before_ops + 1


def test_a_repeat_of_the_same_unit_and_problem_is_flagged(session, desk):
    now = utcnow()
    kwargs = {"actor": desk["actor"], "project_id": desk["p1"].id, "kind": RequestKind.REPAIR_PRIVATE,
              "category": RequestCategory.PLUMBING, "unit_id": desk["unit"].id, "content": "漏水"}
    old = receive_request(session, received_at=now - dt.timedelta(days=10), **kwargs)
    first = receive_request(session, received_at=now - dt.timedelta(days=2), **kwargs)
    again = receive_request(session, **kwargs)
    other_problem = receive_request(session, **{**kwargs, "category": RequestCategory.NOISE})
    assert old.repeat_of_id is None
    assert first.repeat_of_id is None  # 10 days apart: not a repeat
    assert again.repeat_of_id == first.request_id
    assert other_problem.repeat_of_id is None


@pytest.mark.parametrize("case", ["empty_content", "other_project", "unit_of_other_project", "missing_customer",
                                  "future", "bad_phone"])
def test_intake_refusals_write_nothing(session, desk, case):
    foreign_unit = f.unit(session, project_=desk["p2"])
    kwargs = {"actor": desk["actor"], "project_id": desk["p1"].id, "kind": RequestKind.COMPLAINT, "content": "噪音"}
    kwargs.update({
        "empty_content": {"content": "  "},
        "other_project": {"project_id": desk["p2"].id},
        "unit_of_other_project": {"unit_id": foreign_unit.id},
        "missing_customer": {"customer_id": 999999},
        "future": {"received_at": utcnow() + dt.timedelta(days=1)},
        "bad_phone": {"contact_phone": "abc-not-a-phone"},
    }[case])
    before = requests_count(session)
    with pytest.raises(Refused) as refused:
        receive_request(session, **kwargs)
    assert refused.value.message
    assert isinstance(refused.value, NotPermitted) == (case == "other_project")
    assert requests_count(session) == before


def test_the_caller_phone_is_read_as_the_imports_read_it(session, desk):
    kwargs = {"actor": desk["actor"], "project_id": desk["p1"].id, "kind": RequestKind.INQUIRY, "content": "咨询"}
    typed = receive_request(session, contact_phone="１３９ ０００0-2222", **kwargs)
    assert session.get(ServiceRequest, typed.request_id).contact_phone == "13900002222"
    with pytest.raises(Refused, match="联系电话：abc-not-a-phone 不是有效的电话号码"):
        receive_request(session, contact_phone="abc-not-a-phone", **kwargs)
    # the masked number the lookup showed, typed back, is not a number: the customer's own is kept
    masked = receive_request(session, contact_phone="139****1111", customer_id=desk["owner"].id, **kwargs)
    assert session.get(ServiceRequest, masked.request_id).contact_phone == "13900001111"


def test_major_flag_only_on_complaints(session, desk):
    base = {"actor": desk["actor"], "project_id": desk["p1"].id, "content": "态度差", "complaint_major": True}
    complaint = receive_request(session, kind=RequestKind.COMPLAINT, **base)
    inquiry = receive_request(session, kind=RequestKind.INQUIRY, **base)
    assert session.get(ServiceRequest, complaint.request_id).complaint_major is True
    assert session.get(ServiceRequest, inquiry.request_id).complaint_major is False


# --- 首问负责制 ----------------------------------------------------------------------------------------------
def test_the_first_receiver_is_a_staff_member_and_owns_it_until_closed(session, desk):
    """001 八：第一个接待业主或被业主询问的公司员工，不受部门的限制 — the desk's own staff record by default; the
    guard the owner stopped (no console account) when named; each sees the open ones in 「我的首问」."""
    p1 = desk["p1"]
    clerk = f.staff(session, project_=p1, name="前台小李")
    desk["user"].staff_id = clerk.id
    guard = f.staff(session, project_=p1, name="保安老周", position=StaffPosition.GUARD)
    session.flush()
    own = receive_request(session, actor=desk["actor"], project_id=p1.id, kind=RequestKind.INQUIRY,
                          content="快递放哪里", unit_id=desk["unit"].id)
    stopped = receive_request(session, actor=desk["actor"], project_id=p1.id, kind=RequestKind.REPAIR_PUBLIC,
                              content="地库灯不亮", first_staff_id=guard.id)
    first = {r.id: r.first_staff_id for r in session.scalars(select(ServiceRequest).where(
        ServiceRequest.id.in_([own.request_id, stopped.request_id])))}
    assert first == {own.request_id: clerk.id, stopped.request_id: guard.id}

    mine = first_received(session, actor=desk["actor"])
    assert (mine.person, mine.total, [m.request_id for m in mine.matters]) == ("前台小李", 1, [own.request_id])
    assert mine.matters[0].unit == "3栋-1502"
    his = first_received(session, actor=desk["actor"], staff_id=guard.id)
    assert (his.person, [m.request_id for m in his.matters]) == ("保安老周", [stopped.request_id])
    session.get(ServiceRequest, stopped.request_id).status = RequestStatus.CLOSED  # closed: off the list
    session.flush()
    assert first_received(session, actor=desk["actor"], staff_id=guard.id).total == 0


def test_a_first_receiver_of_another_project_is_refused(session, desk):
    stranger = f.staff(session, project_=desk["p2"], name="外人")
    before = requests_count(session)
    with pytest.raises(Refused, match="不是该项目的在职员工"):
        receive_request(session, actor=desk["actor"], project_id=desk["p1"].id, kind=RequestKind.INQUIRY,
                        content="问路", first_staff_id=stranger.id)
    assert requests_count(session) == before
    with pytest.raises(Refused, match="不存在"):
        first_received(session, actor=desk["actor"], staff_id=stranger.id)


def test_a_user_without_a_staff_record_sees_what_they_received(session, desk):
    result = receive_request(session, actor=desk["actor"], project_id=desk["p1"].id, kind=RequestKind.HELP,
                             content="帮忙开门")
    assert session.get(ServiceRequest, result.request_id).first_staff_id is None
    assert [m.request_id for m in first_received(session, actor=desk["actor"]).matters] == [result.request_id]


def test_find_units_finds_a_tenant_whose_lease_ends_ahead_not_one_ended(session, desk):
    """A tenant typed with the lease's 终止日期 (next May) is the unit's tenant now: a call from them finds the unit.
    A link that ended yesterday is no longer the unit's."""
    today = dt.datetime.now(SHANGHAI).date()
    tenant = f.customer(session, project_=desk["p1"], name="李租户", phone="13900002222", id_number="")
    gone = f.customer(session, project_=desk["p1"], name="赵旧租", phone="13900003333", id_number="")
    session.add_all([
        UnitCustomer(project=desk["p1"], unit=desk["unit"], customer=tenant, relation=UnitRelation.TENANT,
                     start_date=today - dt.timedelta(days=30), end_date=today + dt.timedelta(days=180)),
        UnitCustomer(project=desk["p1"], unit=desk["unit"], customer=gone, relation=UnitRelation.TENANT,
                     start_date=today - dt.timedelta(days=400), end_date=today - dt.timedelta(days=1)),
    ])
    session.flush()
    for query in ({"phone": "2222"}, {"name": "李租户"}):
        (match,) = find_units(session, actor=desk["actor"], project_id=desk["p1"].id, **query)
        assert (match.unit_id, match.customer_id) == (desk["unit"].id, tenant.id)
    assert find_units(session, actor=desk["actor"], project_id=desk["p1"].id, phone="3333") == ()
    found = find_units(session, actor=desk["actor"], project_id=desk["p1"].id, building="3栋", room_no="1502")
    assert sorted(m.customer for m in found) == sorted(["王秀英", "李租户"])


def test_the_payer_is_a_shop_tenant_whose_lease_ends_ahead(session, desk):
    """payer_id (the customer named on a 催缴通知, a bill): the current tenant of a unit without an owner on file,
    though the lease has its 终止日期 typed."""
    today = dt.datetime.now(SHANGHAI).date()
    shop = f.unit(session, project_=desk["p1"], room_no="S101")
    tenant = f.customer(session, project_=desk["p1"], name="好又多超市", phone="13900004444", id_number="")
    session.add(UnitCustomer(project=desk["p1"], unit=shop, customer=tenant, relation=UnitRelation.SHOP_TENANT,
                             start_date=today - dt.timedelta(days=30), end_date=today + dt.timedelta(days=700)))
    session.flush()
    assert session.scalar(select(payer_id(literal(shop.id)))) == tenant.id
