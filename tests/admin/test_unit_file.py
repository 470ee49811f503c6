"""一户一档 and 客户档案 (actions/unit_file.py, admin/views/files.py): one page with the unit's people, account,
requests, visits and ledgers, each line linked to its record, sections by the user's grants, within scope."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import event

from actions import unit_file, units, work_orders
from actions.actor import SYSTEM, Actor
from actions.kernel.periods import today_local
from models import MailItem, Project, UnitCustomer, UnitRelation, Visit, VisitKind, utcnow
from tests import factories as f


@pytest.fixture
def unit_world(session):
    p1, p2 = f.project(session), f.project(session)
    unit = f.unit(session, project_=p1, building_=f.building(session, project_=p1, name="3栋"), room_no="1303")
    owner = f.customer(session, project_=p1, name="陈静", phone="18565207620")
    session.add(UnitCustomer(unit=unit, customer=owner, project_id=p1.id, is_primary=True))
    fee = f.fee_type(session, project_=p1, name="物业管理费")
    f.bill(session, unit_=unit, fee_type_=fee, period="2026-10", amount_due=Decimal("320.85"))
    request = f.service_request(session, project_=p1, unit_=unit, content="马桶水箱一直流水")
    work_orders.dispatch_requests(session, actor=SYSTEM, request_ids=[request.id])
    session.add_all([
        Visit(project=p1, kind=VisitKind.REGULAR, unit=unit, customer=owner, visited_at=utcnow(), notes="业主反映电梯噪音"),
        MailItem(project=p1, unit=unit, recipient="陈静", received_at=utcnow()),
    ])
    f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    f.user(session, username="cashier", roles=["收费员"], projects=[p1])
    f.user(session, username="elsewhere", roles=["前台客服"], projects=[p2])
    session.flush()
    return unit, owner, request


def test_the_front_desk_sees_everything_of_a_unit_on_one_page(console, unit_world):
    unit, owner, request = unit_world
    c = console("desk")
    details = c.get(f"/admin/unit/details/{unit.id}")
    assert f"/admin/unit/file?unit_id={unit.id}" in html.unescape(details.text)
    page = c.get(f"/admin/unit/file?unit_id={unit.id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "3栋-1303" in text and "陈静" in text and "185****7620" in text and "18565207620" not in text
    assert "320.85" in text and "马桶水箱一直流水" in text and "业主反映电梯噪音" in text
    for key in ("service-request", "work-order", "visit", "mail-item"):
        assert f'data-section="{key}"' in text, key
    assert f"/admin/service-request/details/{request.id}" in text
    assert "/admin/intake?" in text and "room_no=1303" in text  # 受理 from the unit, prefilled
    assert f"/admin/customer/file?customer_id={owner.id}" in text


def test_a_cashier_sees_the_account_but_not_the_desk_ledgers(console, unit_world):
    unit, owner, _ = unit_world
    c = console("cashier")
    text = html.unescape(c.get(f"/admin/unit/file?unit_id={unit.id}").text)
    assert "房屋账户" in text and "收款" in text and "320.85" in text
    assert 'data-section="visit"' not in text and 'data-section="mail-item"' not in text
    customer = html.unescape(c.get(f"/admin/customer/file?customer_id={owner.id}").text)
    assert "陈静" in customer and "3栋-1303" in customer and "320.85" in customer


def test_another_projects_user_cannot_open_the_file(console, unit_world):
    unit, owner, _ = unit_world
    c = console("elsewhere")
    assert c.get(f"/admin/unit/file?unit_id={unit.id}").status_code == 403
    assert c.get(f"/admin/customer/file?customer_id={owner.id}").status_code == 403
    assert c.get("/admin/unit/file?unit_id=999999").status_code == 400
    assert c.get("/admin/unit/file?unit_id=abc").status_code == 400


def _row_of(text: str, name: str) -> str:
    """The <tr …> opening of the table row naming ``name``."""
    at = text.index(f">{name}</a>")
    return text[text.rindex("<tr", 0, at):text.index(">", text.rindex("<tr", 0, at)) + 1]


def test_a_tenant_whose_end_date_is_still_ahead_is_shown_among_the_current_occupants(session, console, unit_world):
    """A link counts as current until its 终止日期 (``units.linked_on``): a lease running to next year is listed
    with the current occupants, before a tenant who moved out yesterday, and is not greyed out."""
    unit, owner, _ = unit_world
    today = today_local()
    p1 = session.get(Project, unit.project_id)
    leaving = f.customer(session, project_=p1, name="阿林")  # sorts before 陈静 and 王磊 by name
    leasing = f.customer(session, project_=p1, name="王磊")
    session.add_all([
        UnitCustomer(unit=unit, customer=leaving, project_id=p1.id, relation=UnitRelation.TENANT, is_primary=False,
                     end_date=today - dt.timedelta(days=1)),
        UnitCustomer(unit=unit, customer=leasing, project_id=p1.id, relation=UnitRelation.TENANT, is_primary=False,
                     end_date=today + dt.timedelta(days=200)),
    ])
    session.flush()
    record = unit_file.unit_file(session, unit_id=unit.id, actor=SYSTEM, may=lambda key: True)
    assert [(o.name, o.current) for o in record.occupants] == [("陈静", True), ("王磊", True), ("阿林", False)]
    mine = unit_file.customer_file(session, customer_id=leasing.id, actor=SYSTEM, may=lambda key: True)
    assert [(o.unit, o.current) for o in mine.units] == [("3栋-1303", True)]
    text = html.unescape(console("desk").get(f"/admin/unit/file?unit_id={unit.id}").text)
    assert text.index(">陈静</a>") < text.index(">王磊</a>") < text.index(">阿林</a>")
    assert "text-muted" not in _row_of(text, "王磊") and "text-muted" in _row_of(text, "阿林")
    assert "text-muted" not in _row_of(text, "陈静")
    customer = html.unescape(console("desk").get(f"/admin/customer/file?customer_id={leasing.id}").text)
    assert "text-muted" not in _row_of(customer, "3栋-1303")


def _reading_links(engine, get):
    """The page ``get()`` answers, and the statements it ran over the customers' links to units."""
    listed = []

    def seen(conn, cursor, statement, *rest):
        if "unit_customer" in statement:
            listed.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        return get(), listed
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_the_customer_list_shows_the_units_each_customer_lives_in_now(session, engine, console, unit_world):
    """The desk finds a caller by name or 尾号 in 客户 and sees his unit(s) on the line: 楼栋-房号（关系）, the links
    current today only (``units.linked_on``), read in one query for the whole page, within the user's projects."""
    unit, owner, _ = unit_world
    p1 = session.get(Project, unit.project_id)
    today = today_local()
    shop = f.unit(session, project_=p1, building_=f.building(session, project_=p1, name="商业街"), room_no="S-12")
    moved_out = f.unit(session, project_=p1, building_=unit.building, room_no="0802")
    session.add_all([
        UnitCustomer(unit=shop, customer=owner, project_id=p1.id, relation=UnitRelation.SHOP_TENANT, is_primary=False,
                     end_date=today + dt.timedelta(days=30)),
        UnitCustomer(unit=moved_out, customer=owner, project_id=p1.id, relation=UnitRelation.TENANT,
                     is_primary=False, end_date=today - dt.timedelta(days=1)),
    ])
    nobody = f.customer(session, project_=p1, name="李未入住")
    p2 = f.project(session)
    other = f.customer(session, project_=p2, name="外项目客户")
    far = f.unit(session, project_=p2, building_=f.building(session, project_=p2, name="9栋"), room_no="901")
    session.add(UnitCustomer(unit=far, customer=owner, project_id=p2.id))  # a link into a project the desk does not see
    session.commit()
    page, listed = _reading_links(engine, lambda: console("desk").get("/admin/customer/list?search=7620"))  # 尾号
    assert page.status_code == 200
    assert '<span class="text-nowrap">3栋-1303</span>（业主）' in page.text  # a unit is not broken across lines
    text = html.unescape(re.sub(r"<span[^>]*>|</span>", "", page.text))
    head = page.text[page.text.index("<thead>"):page.text.index("</thead>")]
    assert head.index("姓名") < head.index("房屋") < head.index("客户类型")
    assert "3栋-1303（业主）、商业街-S-12（商户）" in text and "0802" not in text and "9栋" not in text
    assert len(listed) == 1  # one query for the page's customers, not one a row
    everyone = html.unescape(console("desk").get("/admin/customer/list").text)
    assert "李未入住" in everyone and "外项目客户" not in everyone
    ids = [owner.id, nobody.id, other.id]
    desk = Actor(user_id=None, name="前台", project_ids=frozenset({p1.id}))
    assert units.current_units(session, customer_ids=ids, actor=desk) == {
        owner.id: (("3栋-1303", "业主"), ("商业街-S-12", "商户"))}
    elsewhere = Actor(user_id=None, name="前台", project_ids=frozenset({p2.id}))
    assert units.current_units(session, customer_ids=ids, actor=elsewhere) == {owner.id: (("9栋-901", "业主"),)}


def test_a_tenant_is_registered_from_the_units_page_in_one_form(console, session, unit_world):
    """租户入住: it took a new 客户, then a new 房屋客户 choosing the unit and that same person again. 一户一档's
    登记住户 files the customer and the link at once and comes back to the unit; a refusal keeps what was typed and
    writes nothing; a role that may not file customers has no button and no page; another project's unit is refused."""
    from sqlalchemy import func, select

    from models import Customer

    unit, owner, _ = unit_world

    def counts():
        session.expire_all()
        return (session.scalar(select(func.count()).select_from(Customer)),
                session.scalar(select(func.count()).select_from(UnitCustomer)))

    desk = console("desk")
    page = desk.get("/admin/unit/file", params={"unit_id": unit.id})
    assert f"/admin/unit/occupant?unit_id={unit.id}" in html.unescape(page.text)
    form = desk.get("/admin/unit/occupant", params={"unit_id": unit.id})
    assert form.status_code == 200 and "登记住户" in form.text and "3栋-1303" in form.text
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', form.text).group(1)
    sent = {"unit_id": str(unit.id), "name": "刘洋", "relation": "tenant", "phone": "139 0000 1111",
            "id_number": "", "start_date": "2026年12月1日", "form_token": token}
    before = counts()
    refused = desk.post("/admin/unit/occupant", {**sent, "phone": "1390000"})
    assert refused.status_code == 400 and "手机号：" in html.unescape(refused.text)
    assert 'value="刘洋"' in refused.text  # what was typed stays
    assert counts() == before
    done = desk.post("/admin/unit/occupant", sent)
    assert done.status_code == 303 and done.headers["location"].endswith(f"/admin/unit/file?unit_id={unit.id}")
    assert "已登记 刘洋 为3栋-1303的租户" in html.unescape(desk.get(done.headers["location"]).text)
    assert counts() == (before[0] + 1, before[1] + 1)
    link = session.scalar(select(UnitCustomer).join(Customer).where(Customer.name == "刘洋"))
    assert (link.unit_id, link.relation, link.start_date, link.customer.phone) == (
        unit.id, UnitRelation.TENANT, dt.date(2026, 12, 1), "13900001111")
    again = desk.post("/admin/unit/occupant", sent)  # the same form once more (a double click)
    assert again.status_code == 400 and "刘洋 已是3栋-1303的租户" in html.unescape(again.text)
    assert counts() == (before[0] + 1, before[1] + 1)

    cashier = console("cashier")
    assert "/admin/unit/occupant" not in cashier.get("/admin/unit/file", params={"unit_id": unit.id}).text
    assert cashier.post("/admin/unit/occupant", sent).status_code == 403
    assert console("elsewhere").get("/admin/unit/occupant", params={"unit_id": unit.id}).status_code == 403
    assert counts() == (before[0] + 1, before[1] + 1)


def test_the_unit_list_opens_with_the_unit_and_who_lives_there(session, engine, console, unit_world):
    """A butler on patrol reads 房屋 on a phone (390 px), where the table scrolls sideways: the list spent its first
    columns on 编号 and 项目 (one project for him). It opens now with 楼栋, 房号 and the unit's current 客户
    (陈静（业主）), read in one query for the page; 项目 is listed for who sees several projects, 编号 last."""
    unit, owner, _ = unit_world
    p1 = session.get(Project, unit.project_id)
    today = today_local()
    family, gone = f.customer(session, project_=p1, name="陈晓"), f.customer(session, project_=p1, name="周搬走")
    session.add_all([
        UnitCustomer(unit=unit, customer=family, project_id=p1.id, relation=UnitRelation.FAMILY, is_primary=False),
        UnitCustomer(unit=unit, customer=gone, project_id=p1.id, relation=UnitRelation.TENANT, is_primary=False,
                     end_date=today - dt.timedelta(days=1)),
    ])
    f.user(session, username="butler", roles=["楼宇管家"], projects=[p1])
    p2 = f.project(session)
    f.unit(session, project_=p2, building_=f.building(session, project_=p2, name="9栋"), room_no="901")
    f.user(session, username="branch", roles=["分公司管理"], projects=[p1, p2])
    session.commit()
    page, listed = _reading_links(engine, lambda: console("butler").get("/admin/unit/list"))
    assert page.status_code == 200
    head = re.findall(r"<th[^>]*>(.*?)</th>", page.text[page.text.index("<thead>"):page.text.index("</thead>")], re.S)
    head = [re.sub(r"<[^>]+>|\s", "", cell) for cell in head]
    assert head[2:5] == ["楼栋", "房号", "客户"] and head[-1] == "编号" and "项目" not in head, head
    text = html.unescape(re.sub(r"<span[^>]*>|</span>", "", page.text))
    assert "陈静（业主）、陈晓（家庭成员）" in text and "周搬走" not in text and "9栋" not in text
    assert len(listed) == 1  # one query for the page's units, not one a row
    branch = console("branch").get("/admin/unit/list").text
    head = branch[branch.index("<thead>"):branch.index("</thead>")]
    assert "项目" in head and "9栋" in branch
