"""Console forms: audit of edits, masking of personal data, escaping of hostile text, bad input refused
(issue 2 §7–8, "Bad input"; RELIABILITY S01, S02, P01, B09)."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from actions.actor import Actor
from actions.errors import Refused
from actions.records import TEXT_MAX
from actions.requests import receive_request
from admin.views import VIEWS
from models import (
    AuditKind,
    AuditLog,
    Branch,
    Customer,
    Department,
    DepartmentKind,
    DunningRun,
    DunningRunStatus,
    DunningStage,
    RequestKind,
    ServiceRequest,
    StaffPosition,
    Unit,
    WorkOrder,
)
from tests import factories


def _count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_form_edit_is_audited_with_the_user_and_field_diff(console, session):
    user = factories.user(session, username="boss", superuser=True)
    row = factories.branch(session, name="华东分公司")
    c = console("boss")
    response = c.post(f"/admin/branch/edit/{row.id}", {"name": "华东区域分公司", "company": "锦程物业"})
    assert response.status_code == 302, response.text[:300]
    audit = session.scalars(
        select(AuditLog).where(AuditLog.table_name == "branch", AuditLog.record_id == str(row.id),
                               AuditLog.kind == AuditKind.UPDATE)
    ).one()
    assert audit.actor_id == user.id and audit.source == "console"
    assert audit.changes["name"] == ["华东分公司", "华东区域分公司"]
    detail = c.get(f"/admin/branch/details/{row.id}")
    assert "变更记录" in detail.text
    history = c.get(f"/admin/audit-log/list?table_name=branch&record_id={row.id}")
    assert history.status_code == 200 and f"修改分公司 #{row.id}" in history.text


def test_duplicate_natural_key_is_refused_in_chinese_and_nothing_written(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    u = factories.unit(session, project_=p, room_no="101")
    before = _count(session, Unit)
    c = console("boss")
    response = c.post("/admin/unit/create", {"project": str(p.id), "building": str(u.building_id), "room_no": "101",
                                             "kind": "house", "status": "occupied", "area": "89.5"})
    assert response.status_code == 400
    assert "已存在相同「项目、楼栋、房号」的房屋记录" in response.text
    assert _count(session, Unit) == before


def test_negative_area_is_refused_at_the_field(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    b = factories.building(session, project_=p)
    before = _count(session, Unit)
    response = console("boss").post("/admin/unit/create", {"project": str(p.id), "building": str(b.id),
                                                           "room_no": "909", "kind": "house", "status": "vacant",
                                                           "area": "-3"})
    assert response.status_code == 400
    assert "建筑面积(㎡)" in response.text
    assert _count(session, Unit) == before


def test_a_units_butler_and_collector_hold_their_posts_in_the_console_as_in_the_import(console, session):
    """责任到人: a unit's 责任收费员 is a 收费员 or the front desk, its 责任管家 a 楼宇管家 — the units import refuses
    anyone else, and so does the unit's form (a tampered or stale choice), naming the employee and the post; the
    unit unchanged. The right posts are saved."""
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    u = factories.unit(session, project_=p, room_no="101")
    butler = factories.staff(session, project_=p, name="吴管家", position=StaffPosition.BUTLER)
    cashier = factories.staff(session, project_=p, name="钱收费", position=StaffPosition.CASHIER)
    engineer = factories.staff(session, project_=p, name="郑工程", position=StaffPosition.ENGINEER)
    form = {"project": str(p.id), "building": str(u.building_id), "room_no": "101", "kind": "house",
            "status": "occupied", "area": "89.5"}
    c = console("boss")
    for fields, message in (
        ({"collector": str(butler.id)}, "吴管家 的岗位是楼宇管家，责任收费员须为收费员、前台客服"),
        ({"collector": str(engineer.id)}, "郑工程 的岗位是维修工，责任收费员须为收费员、前台客服"),
        ({"butler": str(cashier.id)}, "钱收费 的岗位是收费员，责任管家须为楼宇管家"),
    ):
        response = c.post(f"/admin/unit/edit/{u.id}", {**form, **fields})
        assert response.status_code == 400 and message in html.unescape(response.text), fields
        session.expire_all()
        assert (session.get(Unit, u.id).collector_id, session.get(Unit, u.id).butler_id) == (None, None)
    created = c.post("/admin/unit/create", {**form, "room_no": "102", "collector": str(butler.id)})
    assert created.status_code == 400 and _count(session, Unit, Unit.room_no == "102") == 0
    saved = c.post(f"/admin/unit/edit/{u.id}", {**form, "collector": str(cashier.id), "butler": str(butler.id)})
    assert saved.status_code == 302
    session.expire_all()
    assert (session.get(Unit, u.id).collector_id, session.get(Unit, u.id).butler_id) == (cashier.id, butler.id)


def test_hostile_text_is_shown_as_text(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    cust = factories.customer(session, project_=p, name="<script>alert(1)</script>")
    row = factories.branch(session, name="{{7*7}}{% raw %}")
    c = console("boss")
    for url in ("/admin/customer/list", f"/admin/customer/details/{cust.id}", f"/admin/customer/edit/{cust.id}"):
        page = c.get(url).text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    page = c.get(f"/admin/branch/details/{row.id}").text
    assert "{{7*7}}" in page and ">49<" not in page


def test_personal_data_is_masked_for_the_front_desk_and_full_for_the_manager(console, session):
    p = factories.project(session)
    cust = factories.customer(session, project_=p, name="王芳", phone="13812345678", id_number="11010119900307123X")
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    factories.user(session, username="mgr", roles=["客服经理"], projects=[p])
    desk = console("desk")
    listing = desk.get("/admin/customer/list").text
    assert "138****5678" in listing and "13812345678" not in listing
    detail = desk.get(f"/admin/customer/details/{cust.id}").text
    assert "13812345678" not in detail and "11010119900307123X" not in detail
    assert _count(session, AuditLog, AuditLog.kind == AuditKind.VIEW_PII) == 0

    full = console("mgr").get(f"/admin/customer/details/{cust.id}").text
    assert "13812345678" in full and "11010119900307123X" in full
    logged = session.scalars(select(AuditLog).where(AuditLog.kind == AuditKind.VIEW_PII)).all()
    assert len(logged) == 1 and logged[0].record_id == str(cust.id)
    assert "13812345678" not in str(logged[0].changes)


def test_view_pii_naming_a_record_of_another_project_is_refused_whole(console, session):
    """查看完整 asked for one record of the manager's project and one of another was taken as the first alone: the
    request went on to the full details page (and its 查看敏感信息 record). Now the whole request is refused (A07)."""
    p, other = factories.project(session), factories.project(session)
    mine = factories.customer(session, project_=p, name="王芳", phone="13812345678")
    theirs = factories.customer(session, project_=other, name="李雷", phone="13912345678")
    factories.user(session, username="mgr", roles=["客服经理"], projects=[p])
    c = console("mgr")
    for pks in (f"{mine.id},{theirs.id}", f"{theirs.id},{mine.id}"):
        response = c.get(f"/admin/customer/action/view-pii?pks={pks}", follow_redirects=False)
        assert response.status_code == 403, (pks, response.status_code)
    assert _count(session, AuditLog, AuditLog.kind == AuditKind.VIEW_PII) == 0
    response = c.get(f"/admin/customer/action/view-pii?pks={mine.id}", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"].endswith(f"/admin/customer/details/{mine.id}")


def test_every_view_renders_for_an_administrator(console, session):
    from admin.views import VIEWS

    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    factories.customer(session, project_=p, unit_=factories.unit(session, project_=p))
    c = console("boss")
    for view in VIEWS:
        identity = getattr(view, "identity", "")
        if not getattr(view, "model", None):
            continue
        assert c.get(f"/admin/{identity}/list").status_code == 200, identity
        if view.can_create:
            assert c.get(f"/admin/{identity}/create").status_code == 200, identity
        first = session.scalar(select(view.model).limit(1))
        if first is not None:
            pk = first.id
            assert c.get(f"/admin/{identity}/details/{pk}").status_code == 200, identity
            if view.can_edit:
                assert c.get(f"/admin/{identity}/edit/{pk}").status_code == 200, identity
    assert _count(session, Branch) >= 1 and _count(session, Customer) == 1


def _detail_rows(page: str) -> dict[str, str]:
    """{label: shown value} of a details page's table."""
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>", page, re.S)
    return {html.unescape(label.strip()): html.unescape(re.sub(r"<[^>]+>", "", value)).strip() for label, value in rows}


def test_no_details_page_shows_the_lock_version():
    for view in VIEWS:
        if getattr(view, "model", None) is not None and view.model.__mapper__.version_id_col is not None:
            assert "version" not in view()._details_prop_names, view.__name__


def test_dunning_run_details_hide_the_run_key(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    run = DunningRun(project=p, run_key=f"run-key-{p.id}-2026-11-first", cycle="2026-11", stage=DunningStage.FIRST,
                     as_of=dt.date(2026, 11, 5), status=DunningRunStatus.DONE)
    session.add(run)
    session.flush()
    page = console("boss").get(f"/admin/dunning-run/details/{run.id}")
    assert page.status_code == 200
    rows = _detail_rows(page.text)
    assert rows["催缴月份"] == "2026-11"
    assert "批次键" not in rows and run.run_key not in page.text


def test_work_order_details_hide_the_version_and_show_money_only_on_paid_service(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    department = Department(project=p, name="工程部", kind=DepartmentKind.ENGINEERING)
    now = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
    orders = []
    requests = [factories.service_request(session, project_=p) for _ in range(2)]
    for paid, request in zip((False, True), requests, strict=True):
        orders.append(WorkOrder(project=p, request=request, department=department, dispatched_at=now,
                                respond_due_at=now, complete_due_at=now, paid_service=paid,
                                quote=Decimal("120.00") if paid else Decimal("0"),
                                charge=Decimal("120.00") if paid else Decimal("0")))
    session.add_all(orders)
    session.flush()
    c = console("boss")
    free, paid = (_detail_rows(c.get(f"/admin/work-order/details/{o.id}").text) for o in orders)
    assert "版本" not in free and "版本" not in paid
    assert (free["报价(元)"], free["收费(元)"], free["业主已确认报价"]) == ("—", "—", "—")
    assert (paid["报价(元)"], paid["收费(元)"]) == ("120.00", "120.00")
    assert free["处理部门"] == paid["处理部门"] == "工程部"


def _customer_form(project, **overrides) -> dict:
    return {"project": str(project.id), "name": "李娜", "kind": "person", "phone": "13912345678",
            "id_number": "11010119900307002X", **overrides}


def test_customer_form_checks_id_and_phone_numbers_as_the_import_does(console, session):
    """RELIABILITY X20: 18 digits with the GB 11643 check digit, x → X, a 15-digit legacy number converted (as
    clean.id_number documents for imports); a phone is a mobile or fixed-line number. Refused forms write nothing."""
    p = factories.project(session)
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    c = console("desk")
    before = _count(session, Customer)
    refusals = {
        "id_number": ("110101199003071234", "身份证号：110***********1234 校验位错误"),  # never the number in clear
        "phone": ("12345", "手机号：12345 不是有效的电话号码"),
    }
    for field, (value, message) in refusals.items():
        response = c.post("/admin/customer/create", _customer_form(p, **{field: value}))
        assert response.status_code == 400, field
        assert message in html.unescape(response.text)
        assert _count(session, Customer) == before
    # a date typed in the phone box was taken as the landline 20260305
    for value in ("2026-03-05", "2026 03 05"):
        response = c.post("/admin/customer/create", _customer_form(p, phone=value))
        assert response.status_code == 400, value
        message = f"手机号：{value} 不是有效的电话号码"
        assert message in html.unescape(response.text)
        assert _count(session, Customer) == before
    # …and typed without separators, as the imports refuse it (the landline of those digits takes its area code)
    response = c.post("/admin/customer/create", _customer_form(p, phone="20260305"))
    assert response.status_code == 400
    assert "手机号：20260305 像是日期，不是电话号码：座机请连同区号填写（如 021-20260305）" in html.unescape(response.text)
    assert _count(session, Customer) == before
    response = c.post("/admin/customer/create", _customer_form(p, id_number="1101011990030713"))
    assert response.status_code == 400 and "不是 18 位身份证号" in html.unescape(response.text)
    assert _count(session, Customer) == before

    stored = {}
    for name, id_number, phone in (("李娜", "11010119900307002x", "139-1234-5678"),  # lowercase x, dashes
                                   ("王强", "110101900307123", "021-64381234")):  # 15-digit ID, a landline
        response = c.post("/admin/customer/create", _customer_form(p, name=name, id_number=id_number, phone=phone))
        assert response.status_code == 302, response.text[:500]
        session.expire_all()
        row = session.scalars(select(Customer).where(Customer.name == name)).one()
        stored[name] = (row.id_number, row.phone)
    assert stored == {"李娜": ("11010119900307002X", "13912345678"), "王强": ("110101199003071233", "021-64381234")}


def test_masked_numbers_sent_back_unchanged_keep_the_stored_ones(console, session):
    p = factories.project(session)
    # typed before the rule (bad check digit): an edit that leaves it alone still saves
    cust = factories.customer(session, project_=p, name="张伟", phone="13812345678", id_number="110101199003071234")
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    factories.user(session, username="mgr", roles=["客服经理"], projects=[p])
    desk = console("desk")
    form = _customer_form(p, name="张伟（业主）", phone="138****5678", id_number="110***********1234")
    assert desk.post(f"/admin/customer/edit/{cust.id}", form).status_code == 302
    session.expire_all()
    row = session.get(Customer, cust.id)
    assert (row.name, row.phone, row.id_number) == ("张伟（业主）", "13812345678", "110101199003071234")
    # a masked value that is not the stored one's mask is no number: refused, nothing changed
    response = desk.post(f"/admin/customer/edit/{cust.id}", {**form, "name": "张三", "phone": "139****0000"})
    assert response.status_code == 400
    assert "手机号：请填写完整的号码，不能含 *" in html.unescape(response.text)
    session.expire_all()
    assert (session.get(Customer, cust.id).name, session.get(Customer, cust.id).phone) == ("张伟（业主）", "13812345678")
    # the manager sees the full number in the form and sends it back as it is
    response = console("mgr").post(f"/admin/customer/edit/{cust.id}", {**form, "name": "张伟", "phone": "13812345678",
                                                                       "id_number": "110101199003071234"})
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    assert session.get(Customer, cust.id).id_number == "110101199003071234"


def test_the_vip_flag_is_seen_and_set_by_the_manager_only(console, session):
    """models: VIP 保密信息，仅限客服经理及以上查看 — not in the desk's details, forms or export."""
    p = factories.project(session)
    cust = factories.customer(session, project_=p, name="王芳", phone="13812345678", id_number="11010119900307123X")
    cust.vip = True
    session.flush()
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    factories.user(session, username="mgr", roles=["客服经理"], projects=[p])
    desk, mgr = console("desk"), console("mgr")
    vip_row = re.compile(r"<td>\s*VIP\s*</td>")
    assert not vip_row.search(desk.get(f"/admin/customer/details/{cust.id}").text)
    assert 'name="vip"' not in desk.get(f"/admin/customer/edit/{cust.id}").text
    assert 'name="vip"' not in desk.get("/admin/customer/create").text
    # a desk's edit that sends the flag anyway changes nothing of it
    form = _customer_form(p, name="王芳", phone="138****5678", id_number="110***********123X")
    assert desk.post(f"/admin/customer/edit/{cust.id}", {**form, "vip": ""}).status_code == 302
    session.expire_all()
    assert session.get(Customer, cust.id).vip is True

    assert vip_row.search(mgr.get(f"/admin/customer/details/{cust.id}").text)
    assert 'name="vip"' in mgr.get(f"/admin/customer/edit/{cust.id}").text
    full = {**form, "phone": "13812345678", "id_number": "11010119900307123X"}
    assert mgr.post(f"/admin/customer/edit/{cust.id}", full).status_code == 302  # unticked: no longer VIP
    session.expire_all()
    assert session.get(Customer, cust.id).vip is False


def test_a_text_beyond_the_bound_is_refused_by_the_form_and_by_intake(console, session):
    """A text whose column sets no length (备注, 诉求内容) holds at most TEXT_MAX characters, on the console's form and
    on 受理 alike: one character more is refused naming the field, nothing written; the bound itself is saved."""
    p = factories.project(session)
    user = factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    c = console("desk")
    before = _count(session, Customer)
    response = c.post("/admin/customer/create", _customer_form(p, note="记" * (TEXT_MAX + 1)))
    assert response.status_code == 400
    assert f"备注过长：最多 {TEXT_MAX:,} 字，现为 {TEXT_MAX + 1:,} 字" in html.unescape(response.text)
    assert _count(session, Customer) == before
    assert c.post("/admin/customer/create", _customer_form(p, note="记" * TEXT_MAX)).status_code == 302
    assert _count(session, Customer) == before + 1
    actor = Actor(user_id=user.id, name="desk", project_ids=frozenset({p.id}))
    requests = _count(session, ServiceRequest)
    with pytest.raises(Refused, match="诉求内容过长"):
        receive_request(session, actor=actor, project_id=p.id, kind=RequestKind.INQUIRY,
                        content="问" * (TEXT_MAX + 1), contact_phone="13800000000")
    assert _count(session, ServiceRequest) == requests


def test_a_required_text_of_blanks_is_refused(console, session):
    """姓名 of spaces (or full-width spaces) passes the browser's 「required」 but names no one: refused like an
    empty one, nothing written; an optional text of spaces is still accepted."""
    p = factories.project(session)
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    c = console("desk")
    before = _count(session, Customer)
    for blank in ("   ", "\u3000\u3000"):
        response = c.post("/admin/customer/create", _customer_form(p, name=blank))
        assert response.status_code == 400 and "请填写姓名" in html.unescape(response.text)
        assert _count(session, Customer) == before
    assert c.post("/admin/customer/create", _customer_form(p, note="  ")).status_code == 302


def test_a_unit_link_ends_after_it_starts(console, session):
    """客户关联: a 终止日期 before the 起始日期 is refused on the form, naming both, and nothing is written or
    changed; the same link with the dates in order is saved."""
    from models import UnitCustomer

    p = factories.project(session, name="锦绣华庭")
    unit = factories.unit(session, project_=p)
    customer = factories.customer(session, project_=p, name="李娜")
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    c = console("desk")
    form = {"project": p.id, "unit": unit.id, "customer": customer.id, "relation": "tenant", "is_primary": "y",
            "start_date": "2026-03-01"}
    links = select(UnitCustomer.end_date).where(UnitCustomer.customer_id == customer.id)

    def refuses(url: str, end: str) -> None:  # refused naming both dates; the links as they were
        stored = session.scalars(links).all()
        refused = c.post(url, {**form, "end_date": end})
        assert (refused.status_code, f"终止日期 {end} 早于起始日期 2026-03-01" in html.unescape(refused.text)) == (400, True)
        session.expire_all()
        assert session.scalars(links).all() == stored

    refuses("/admin/unit-customer/create", "2026-02-28")
    assert c.post("/admin/unit-customer/create", {**form, "end_date": "2027-02-28"}).status_code == 302
    link_id = session.scalars(select(UnitCustomer.id).where(UnitCustomer.customer_id == customer.id)).one()
    refuses(f"/admin/unit-customer/edit/{link_id}", "2025-12-31")
    assert session.scalars(links).all() == [dt.date(2027, 2, 28)]


def test_a_staff_members_mobile_is_masked_as_a_customers_is(console, session):
    """An employee's own mobile is personal data (PIPL): the front desk and the supervisor read 139****1111 in
    the list, on the details page and in the export; the manager sees it in full on the details page (audited)
    and in the edit form; a change of it is kept masked in the trail."""
    import io

    from openpyxl import load_workbook

    p = factories.project(session)
    staff = factories.staff(session, project_=p, name="李员工")
    staff.phone = "13900001111"
    session.flush()
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    factories.user(session, username="sv", roles=["客服主管"], projects=[p])
    factories.user(session, username="mgr", roles=["客服经理"], projects=[p])
    for who in ("desk", "sv"):
        c = console(who)
        for url in ("/admin/staff/list", f"/admin/staff/details/{staff.id}", "/admin/staff/list?search=李员工"):
            page = c.get(url)
            assert page.status_code == 200 and "李员工" in page.text, (who, url)
            assert "13900001111" not in page.text and "139****1111" in page.text, (who, url)
    export = console("sv").post("/admin/staff/export/xlsx")
    assert export.status_code == 200, export.text[:300]
    rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(min_row=2)]
    assert rows[1][rows[0].index("手机号")] == "139****1111"
    assert _count(session, AuditLog, AuditLog.kind == AuditKind.VIEW_PII) == 0

    mgr = console("mgr")
    assert "13900001111" in mgr.get(f"/admin/staff/details/{staff.id}").text
    assert _count(session, AuditLog, AuditLog.kind == AuditKind.VIEW_PII, AuditLog.table_name == "staff") == 1
    form = mgr.get(f"/admin/staff/edit/{staff.id}").text
    assert 'value="13900001111"' in form
    response = mgr.post(f"/admin/staff/edit/{staff.id}", {
        "project": str(p.id), "employee_no": staff.employee_no, "name": "李员工", "phone": "13900002222",
        "position": staff.position.value, "active": "y", "version_id": mgr.form_version(f"/admin/staff/edit/{staff.id}"),
    })
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    assert session.get(type(staff), staff.id).phone == "13900002222"
    change = session.scalars(select(AuditLog).where(AuditLog.table_name == "staff", AuditLog.kind == AuditKind.UPDATE,
                                                    AuditLog.source == "console")).one()
    assert change.changes["phone"] == ["139****1111", "139****2222"]


def test_who_may_not_see_a_number_finds_a_record_by_the_whole_number_or_its_tail_only(console, session):
    """The front desk finds a caller by the number they give (matched whole) or its 尾号, the last four digits
    the mask shows; another part of it finds nothing — else typing 1381234, 13812340 … would tell the digits the
    mask hides. The manager, who sees numbers, searches by parts. The same in the lists, their exports and the
    select2 lookups."""
    import io

    from openpyxl import load_workbook

    p = factories.project(session)
    unit = factories.unit(session, project_=p)
    factories.customer(session, project_=p, name="王芳", phone="13812345678", id_number="11010119900307123X",
                       unit_=unit)
    factories.customer(session, project_=p, name="赵六", phone="13900000000", unit_=unit)
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    factories.user(session, username="sv", roles=["客服主管"], projects=[p])
    factories.user(session, username="mgr", roles=["客服经理"], projects=[p])

    def listed(c, term):
        page = c.get(f"/admin/customer/list?search={term}")
        assert page.status_code == 200
        return {name for name in ("王芳", "赵六") if f">{name}<" in page.text or f"{name}</a>" in page.text}

    def looked_up(c, term):
        response = c.get(f"/admin/unit-customer/ajax/lookup?name=customer&term={term}")
        assert response.status_code == 200
        return {r["text"].split("（")[0].split(" ")[0] for r in response.json()["results"]}

    for who in ("desk", "sv"):
        c = console(who)
        assert listed(c, "13812345678") == {"王芳"}
        assert listed(c, "138 1234 5678") == {"王芳"}
        assert listed(c, "1381234") == listed(c, "345678") == listed(c, "1234") == set()
        assert listed(c, "5678") == listed(c, " 56 78") == {"王芳"}  # its 尾号
        assert listed(c, "0000") == {"赵六"}
        assert listed(c, "王") == {"王芳"}  # the other columns as before
        assert {t[:2] for t in looked_up(c, "13812345678")} == {"王芳"}
        assert {t[:2] for t in looked_up(c, "5678")} == {"王芳"}
        assert looked_up(c, "1381234") == looked_up(c, "1234") == set()
    export = console("sv").post("/admin/customer/export/xlsx?search=1381234")
    assert export.status_code == 200
    assert len(list(load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(min_row=3))) == 0
    mgr = console("mgr")
    assert listed(mgr, "1381234") == {"王芳"} and listed(mgr, "139") == {"赵六"}
    assert {t[:2] for t in looked_up(mgr, "1381234")} == {"王芳"}
    export = mgr.post("/admin/customer/export/xlsx?search=1381234")
    assert [r[2].value for r in load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(min_row=3)] == ["王芳"]
