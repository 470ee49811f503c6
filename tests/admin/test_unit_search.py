"""Finding a unit the way it is shown or typed (3栋-1303, 3-1303, 3栋1303, 3号楼1303) and a phone typed with
spaces or dashes, in list searches and select2 lookups (actions/requests.py unit_named/search_term, the base
view's search_query and ScopedAjaxLoader)."""

from __future__ import annotations

import re

import pytest

from actions.requests import search_term, unit_named
from models import UnitCustomer
from tests import factories as f


@pytest.mark.parametrize("typed", ["3栋-1303", "3-1303", "3栋1303", "3号楼1303", "3号楼1303室", "３栋－１３０３", "3栋 1303"])
def test_a_unit_is_read_however_it_is_written(typed):
    (named,) = unit_named(typed)
    assert named.room_no == "1303" and "3栋" in named.buildings and "13栋" not in named.buildings


@pytest.mark.parametrize("typed", ["1303", "31303", "张伟", "2026-11", "2026-11-05"])
def test_what_is_not_a_unit_is_not_guessed_at(typed):
    assert unit_named(typed) == ()


def test_a_phone_is_searched_as_its_digits():
    assert search_term("185 6520 7620") == search_term("185-6520-7620") == search_term("+86 185 6520 7620") == "18565207620"
    assert search_term("2026-11") == "2026-11" and search_term("3-1303") == "3-1303"
    # a landline with its extension is searched as it is stored
    assert search_term("(021)58888888转8023") == search_term("021-58888888-8023") == "021-58888888-8023"


@pytest.mark.parametrize(("typed", "stored"), [
    ("2026年3月", "2026-03"), ("2026-3", "2026-03"), ("2026/03", "2026-03"), ("2026.3", "2026-03"),
    ("2026 年 3 月", "2026-03"), ("2026年3月5日", "2026-03-05"), ("2026/3/5", "2026-03-05"),
    ("2026年13月", "2026年13月"), ("202603", "202603"), ("2026年3-5", "2026年3-5"),
])
def test_a_month_or_day_is_searched_as_stored(typed, stored):
    """账期 are stored 2026-03 and dates 2026-03-05; people write 2026年3月, 2026/3/5."""
    assert search_term(typed) == stored


def ids_listed(page, identity: str) -> set[int]:
    return {int(i) for i in re.findall(rf'/admin/{identity}/details/(\d+)"', page.text)}


@pytest.fixture
def units(session):
    p1 = f.project(session)
    b3, b13 = f.building(session, project_=p1, name="3栋"), f.building(session, project_=p1, name="13栋")
    target = f.unit(session, project_=p1, building_=b3, room_no="1303")
    others = [f.unit(session, project_=p1, building_=b13, room_no="1303"),
              f.unit(session, project_=p1, building_=b3, room_no="303")]
    fee = f.fee_type(session, project_=p1)
    bills = {u.id: f.bill(session, unit_=u, fee_type_=fee, period="2026-11") for u in [target, *others]}
    owner = f.customer(session, project_=p1, name="陈静", phone="18565207620")
    session.add(UnitCustomer(unit=target, customer=owner, project_id=p1.id, relation="owner", is_primary=True))
    f.user(session, username="cashier", roles=["收费员"], projects=[p1])
    session.flush()
    return target, others, bills, owner


@pytest.mark.parametrize("typed", ["3栋-1303", "3-1303", "3栋1303", "3号楼1303"])
def test_a_cashier_finds_the_bills_of_3_1303_and_no_other_units(console, units, typed):
    target, others, bills, _ = units
    c = console("cashier")
    page = c.get("/admin/bill/list", params={"search": typed})
    assert page.status_code == 200
    assert ids_listed(page, "bill") == {bills[target.id].id}
    assert ids_listed(c.get("/admin/unit/list", params={"search": typed}), "unit") == {target.id}
    found = c.get("/admin/bill/ajax/lookup", params={"name": "unit", "term": typed}).json()["results"]
    assert [r["id"] for r in found] == [str(target.id)]


def test_a_phone_typed_with_spaces_finds_the_customer(console, units):
    *_, owner = units
    c = console("cashier")
    for typed in ("185 6520 7620", "185-6520-7620"):
        assert owner.id in ids_listed(c.get("/admin/customer/list", params={"search": typed}), "customer")
    assert owner.id in ids_listed(c.get("/admin/customer/list", params={"search": "3栋-1303"}), "customer")


def test_a_landline_is_found_however_it_is_typed(console, units, session):
    """A landline is stored 021-64381234, as one with an extension is. Typed whole — 02164381234, (021)6438-1234 —
    it is searched as stored, by who sees numbers masked (matched whole) as by who sees them; its start typed
    (021 6438) finds it for who may see numbers; its 尾号 finds it for the desk, and the lists show it masked
    021****1234. A date typed in the search box stays a date."""
    target, *_ = units
    shop = f.customer(session, project_=target.project, name="便利店", phone="021-64381234")
    laundry = f.customer(session, project_=target.project, name="洗衣店", phone="021-64381235")
    f.user(session, username="desk", roles=["前台客服"], projects=[target.project])
    f.user(session, username="boss", roles=["客服经理"], projects=[target.project])
    session.flush()
    assert search_term("02164381234") == search_term("(021)6438-1234") == "021-64381234"
    assert search_term("021 6438") == "021-6438" and search_term("2026-03-05") == "2026-03-05"
    desk, boss = console("desk"), console("boss")
    for c in (desk, boss):
        for typed in ("02164381234", "(021)6438-1234", "021-64381234", "021 6438 1234"):
            assert ids_listed(c.get("/admin/customer/list", params={"search": typed}), "customer") == {shop.id}, typed
    assert ids_listed(boss.get("/admin/customer/list", params={"search": "021 6438"}), "customer") == {
        shop.id, laundry.id}
    listed = desk.get("/admin/customer/list", params={"search": "1234"})
    assert ids_listed(listed, "customer") == {shop.id} and "021****1234" in listed.text
    assert "64381234" not in listed.text


@pytest.mark.parametrize(("typed", "stored"), [
    ("１３０３", "1303"), ("ＳＦ－１２３４５", "SF-12345"), ("张　三", "张 三"),
    ("张伟（业主）", "张伟（业主）"), ("确认：生成", "确认：生成"), ("漏水，急！", "漏水，急！"),
])
def test_full_width_letters_and_digits_are_searched_plain_chinese_punctuation_as_typed(typed, stored):
    assert search_term(typed) == stored


def test_a_name_written_with_chinese_punctuation_is_found_as_typed_or_copied(console, units, session):
    """A Chinese keyboard types （ and ：; the console keeps free text as typed and writes its own summaries with
    them: a search folding them to ( and : found none of those rows."""
    target, *_ = units
    tenant = f.customer(session, project_=target.project, name="李娜（租户）", phone="13912345678")
    f.customer(session, project_=target.project, name="李娜", phone="13912345679")
    session.flush()
    c = console("cashier")
    for typed in ("李娜（租户）", "（租户）", "娜（租"):
        assert ids_listed(c.get("/admin/customer/list", params={"search": typed}), "customer") == {tenant.id}, typed


@pytest.mark.parametrize("typed", ["3栋-1303", "3-1303", "3栋1303", "３－１３０３"])
def test_the_intake_lookup_reads_a_whole_unit_typed_in_the_room_box(console, units, session, typed):
    """At 受理诉求 the agent types what the owner says, 「3栋1303」, into 房号 and leaves 楼栋 empty: it found no unit
    (no room is numbered 3-1303). Now it is read as the lookup reads it in the 楼栋 and 房号 boxes."""
    target, others, _, owner = units
    f.user(session, username="desk", roles=["前台客服"], projects=[target.project])
    session.flush()
    page = console("desk").get("/admin/intake", params={"room_no": typed})
    assert page.status_code == 200
    assert re.findall(r'name="pick" value="(\d+):', page.text) == [str(target.id)]
    assert "3栋-1303" in page.text and owner.name in page.text and "13栋-1303" not in page.text
    # a room number alone still finds every building's 1303, and the building box still narrows it
    alone = console("desk").get("/admin/intake", params={"room_no": "1303"}).text
    assert set(re.findall(r'name="pick" value="(\d+):', alone)) == {str(target.id), str(others[0].id)}
    boxed = console("desk").get("/admin/intake", params={"building": "13栋", "room_no": "1303"}).text
    assert re.findall(r'name="pick" value="(\d+):', boxed) == [str(others[0].id)]
    # a room numbered 单元-房号 (2-1101) is still found by its number
    numbered = f.unit(session, project_=target.project, building_=target.building, room_no="2-1101")
    session.flush()
    found = console("desk").get("/admin/intake", params={"room_no": "2-1101"}).text
    assert re.findall(r'name="pick" value="(\d+):', found) == [str(numbered.id)]
