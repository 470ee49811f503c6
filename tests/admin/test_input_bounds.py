"""Malformed input answers 400/404 in Chinese, never 500, never SQL or values (RELIABILITY Q01, X17): ids out of
range on every list, detail, edit, action and custom page; NUL and invalid UTF-8 anywhere; control characters
dropped on the way into the database; exports of text stored before that still work."""

from __future__ import annotations

import io
import logging
import re

import pytest
from openpyxl import load_workbook
from sqladmin import ModelView
from sqlalchemy import func, insert, select, text
from starlette.routing import Route

from models import Branch, Customer, KeyRecord, SpecialService, User, label_of
from tests import factories as f

HUGE = "99999999999999999999"
LOGGED = re.compile(r"\[SQL|SELECT .* FROM |INSERT INTO |UPDATE \w+ SET |\$argon2|\[parameters")
SQL = re.compile(LOGGED.pattern + "|Traceback")


@pytest.fixture
def boss(console, session):
    f.user(session, username="boss", superuser=True)
    return console("boss")


def _views(app) -> list[ModelView]:
    return [v for v in app.state.admin.views if isinstance(v, ModelView)]


def _fine(response, *allowed) -> None:
    assert response.status_code in (allowed or (200, 400, 404)), (response.status_code, response.text[:300])
    assert not SQL.search(response.text), response.text[:500]


def test_out_of_range_ids_on_every_list(app, boss):
    for view in _views(app):
        for query in (f"project_id={HUGE}", f"page={HUGE}", f"pageSize={HUGE}", f"unit_id=-{HUGE}",
                      f"sortBy=id&search={HUGE}"):
            response = boss.get(f"/admin/{view.identity}/list?{query}")
            _fine(response)


def test_out_of_range_ids_on_every_record_and_action(app, boss):
    for view in _views(app):
        for page in ("details", "edit"):
            _fine(boss.get(f"/admin/{view.identity}/{page}/{HUGE}"), 400, 403, 404)
        for name in getattr(view, "_custom_actions_in_list", {}) or {}:
            _fine(boss.get(f"/admin/{view.identity}/action/{name}?pks={HUGE}"), 200, 302, 400, 403, 404)


def test_out_of_range_ids_on_every_custom_page(app, boss):
    """Every page the console adds (accounts, imports, letters, reports …) with a number in each path
    parameter and in the usual query parameters."""
    for route in app.state.admin.admin.routes:
        if not isinstance(route, Route) or "{" not in route.path or "GET" not in (route.methods or ()):
            continue
        path = re.sub(r"\{[^}]+\}", HUGE, route.path)
        _fine(boss.get(f"/admin{path}?project_id={HUGE}&id={HUGE}", follow_redirects=False), 200, 302, 303, 400, 403,
              404)


def test_a_failed_save_shows_no_sql_and_logs_no_values(boss, session, caplog):
    """A value the database cannot hold (a number past BIGINT): the form says so in Chinese; neither the page
    nor the log carries the statement or its values."""
    project = f.project(session)
    before = session.scalar(select(func.count()).select_from(Customer))
    with caplog.at_level(logging.INFO):
        response = boss.post("/admin/key-record/create",
                             {"project": str(project.id), "code": "K-1", "name": "1栋钥匙", "kind": "public", "copies": HUGE})
    assert response.status_code in (200, 400), response.status_code
    assert "超出范围" in response.text or "数值" in response.text
    assert not SQL.search(response.text)
    assert not any(LOGGED.search(r.getMessage()) or (r.exc_text and LOGGED.search(r.exc_text)) for r in caplog.records)
    assert session.scalar(select(func.count()).select_from(Customer)) == before


@pytest.mark.parametrize("url", ["/admin/customer/list?search=%00", "/admin/customer/list?search=%FF%FE",
                                 "/admin/customer/details/1%00", "/admin/customer/list?x%00=1"])
def test_nul_and_invalid_utf8_in_the_query_are_refused(boss, url):
    response = boss.get(url)
    assert response.status_code == 400 and "无效字符" in response.text


def test_nul_or_invalid_utf8_in_a_form_field_is_refused(boss, session):
    before = session.scalar(select(func.count()).select_from(Branch))
    nul = boss.post("/admin/branch/create", {"name": "华东\x00分公司", "company": "测试物业"})
    assert nul.status_code == 400 and "无效字符" in nul.text
    raw = boss.client.post("/admin/branch/create", content=b"name=%E5%8D%8E%FF&csrf_token=" + boss.csrf().encode(),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert raw.status_code == 400
    multipart = boss.client.post("/admin/branch/create", data={"name": "华东\x00", "csrf_token": boss.csrf()},
                                 files={"attachment": ("a.bin", b"\x00\xff binary is fine in a file", "x/y")})
    assert multipart.status_code == 400
    mixed_case = boss.client.post(  # a browser's boundary has capitals: the part is found all the same
        "/admin/branch/create", headers={"content-type": "multipart/form-data; boundary=----WebKitAbC"},
        content=b'------WebKitAbC\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xe5\x8d\x8e\x00'
                b"\r\n------WebKitAbC--\r\n")
    assert mixed_case.status_code == 400
    assert session.scalar(select(func.count()).select_from(Branch)) == before


def test_a_browsers_upload_with_a_binary_file_is_not_refused(boss, session):
    """A browser's boundary has capitals (----WebKitFormBoundary…): the parts are still told apart, a file may hold
    any bytes, and a NUL in a text field is still refused."""

    def multipart(name: str) -> bytes:
        boundary = b"----WebKitFormBoundaryAbC9xYz"
        parts = [(b'name="name"', name.encode()), (b'name="company"', "测试物业".encode()),
                 (b'name="csrf_token"', boss.csrf().encode()),
                 ('name="attachment"; filename="回收汇总.xlsx"'.encode(), b"PK\x03\x04\x00\x00\xff binary")]
        body = b"".join(b"--" + boundary + b"\r\nContent-Disposition: form-data; " + head + b"\r\n\r\n" + value + b"\r\n"
                        for head, value in parts)
        return boss.client.post("/admin/branch/create", content=body + b"--" + boundary + b"--\r\n",
                                headers={"content-type": "multipart/form-data; boundary=" + boundary.decode()})

    assert multipart("华东分公司").status_code != 400
    assert session.scalar(select(func.count()).select_from(Branch).where(Branch.name == "华东分公司")) == 1
    assert multipart("华南\x00").status_code == 400


def test_a_user_edit_with_a_nul_shows_no_hash(boss, session, caplog):
    user = f.user(session, username="xiaoli")
    stored = user.password_hash
    with caplog.at_level(logging.INFO):
        response = boss.post(f"/admin/user/edit/{user.id}",
                             {"username": "xiaoli", "display_name": "小\x00李", "new_password": "another-pass-123"})
    assert response.status_code == 400 and "argon2" not in response.text
    assert not any("argon2" in r.getMessage() for r in caplog.records)
    session.expire_all()
    assert session.get(User, user.id).password_hash == stored


def test_control_characters_never_reach_the_database(session, connection):
    """Typed, imported (``_x0007_``) or from the CLI, every write passes the engine: \\x07 and NUL are dropped,
    TAB and new lines kept — on PostgreSQL the NUL would otherwise fail the whole statement."""
    project = f.project(session)
    customer = Customer(project=project, name="张\x07三\x00", note="第一行\n第二行\t备注")
    session.add(customer)
    session.flush()
    session.execute(insert(Customer).values(project_id=project.id, name="李\x1b四"))
    names = session.scalars(select(Customer.name).where(Customer.project_id == project.id).order_by(Customer.id))
    assert list(names) == ["张三", "李四"]
    assert session.scalar(select(Customer.note).where(Customer.id == customer.id)) == "第一行\n第二行\t备注"


def test_an_export_never_fails_on_stored_text(boss, session, connection):
    """A control character stored before the engine dropped them (written here past it, through the driver)."""
    project = f.project(session)
    f.user(session, username="mgr", roles=["客服经理"], projects=[project])
    customer = f.customer(session, project_=project, name="王五")
    session.flush()
    dbapi = connection.connection.dbapi_connection.cursor()
    value = "王\x07五" if connection.dialect.name == "postgresql" else "王\x07五\x00"
    marker = "%s" if connection.dialect.name == "postgresql" else "?"
    dbapi.execute(f"UPDATE customer SET name = {marker} WHERE id = {marker}", (value, customer.id))
    session.expire_all()
    assert session.scalar(text("SELECT name FROM customer WHERE id = :id"), {"id": customer.id}).startswith("王\x07")
    response = boss.post("/admin/customer/export/xlsx?search=王")
    assert response.status_code == 200, response.text[:300]
    rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows()]
    assert any("王五" in [str(v) for v in row] for row in rows)


@pytest.mark.parametrize("pk", ["abc", "", "1.5", "1e3", "1/x", "%20"])
def test_an_id_that_is_not_a_number_is_not_found_on_every_record_address(app, boss, session, pk):
    """``/details/abc``, ``/edit/`` , ``/edit/1/x``, ``DELETE ?pks=abc``: sqladmin's int() raised a ValueError, a 500
    on every view; now 404 in Chinese, and nothing written."""
    before = session.scalar(select(func.count()).select_from(Branch))
    for view in _views(app):
        for page in ("details", "edit"):
            response = boss.get(f"/admin/{view.identity}/{page}/{pk}")
            _fine(response, 302, 403, 404)  # 302: the view has no such page for anyone (a read-only list)
            assert response.status_code != 404 or "记录不存在" in response.text or "页面不存在" in response.text
        _fine(boss.delete(f"/admin/{view.identity}/delete?pks={pk}"), 403, 404, 405)
    _fine(boss.post(f"/admin/branch/edit/{pk}", {"name": "改名", "version": None}), 404)
    assert session.scalar(select(func.count()).select_from(Branch)) == before


def test_a_search_of_a_pasted_page_is_refused_in_chinese_on_every_list_and_lookup(app, boss, session):
    """A search of 50 001 characters (a page pasted into the box, or a crafted address) was an HTTP 500 on every list
    and autocomplete on SQLite (its LIKE pattern limit) and a scan of every column with it on PostgreSQL; it is
    refused 400 「搜索内容过长」 — a search of a sentence still lists."""
    project = f.project(session)
    f.customer(session, project_=project, name="王五")
    long = "w" * 50_001  # the test client sends at most 64 KiB of address
    for view in _views(app):
        response = boss.get(f"/admin/{view.identity}/list", params={"search": long})
        _fine(response, 400)
        assert "搜索内容过长" in response.text, view.identity
    lookup = boss.get("/admin/bill/ajax/lookup", params={"name": "unit", "term": long})
    _fine(lookup, 400)
    sentence = boss.get("/admin/customer/list", params={"search": "王五" + "，" * 150})
    assert sentence.status_code == 200


@pytest.mark.parametrize(("identity", "field", "typed"), [
    ("special-service", "price", "1" + "0" * 309),  # a Numeric(12, 2): SQLite stored Infinity, its page a 500
    ("special-service", "price", "12345678901"),
    ("key-record", "copies", "3000000000"),  # an Integer: PostgreSQL refused it (naming no field), SQLite kept it
])
def test_a_number_past_its_column_is_refused_naming_the_field_on_every_database(boss, session, identity, field, typed):
    project = f.project(session)
    forms = {
        "special-service": {"project": str(project.id), "name": "家电清洗", "price": "80", "price_unit": "次"},
        "key-record": {"project": str(project.id), "code": "K-9", "name": "配电房", "kind": "public", "copies": "2"},
    }
    model = {"special-service": SpecialService, "key-record": KeyRecord}[identity]
    before = session.scalar(select(func.count()).select_from(model))
    response = boss.post(f"/admin/{identity}/create", {**forms[identity], field: typed})
    assert response.status_code == 400, response.status_code
    assert f"{label_of(model, field)}超出范围" in response.text
    assert session.scalar(select(func.count()).select_from(model)) == before
    assert boss.post(f"/admin/{identity}/create", forms[identity]).status_code == 302  # the same form, in range


YEAR_RANGE = "年份应在 1900–2100 之间"
ODD_DAYS = ("0001-01-01", "9999-12-31", "1899-12-31", "2101-01-01")


@pytest.mark.parametrize("day", ODD_DAYS)
@pytest.mark.parametrize("url", ["/admin/visit-plan?day={}", "/admin/building-week?week={}",
                                 "/admin/department-report?day={}", "/admin/arrears?as_of={}",
                                 "/admin/dunning?preview=1&as_of={}", "/admin/scores/record?event_date={}"])
def test_a_day_outside_the_calendars_years_is_refused_naming_it_on_every_page(boss, session, url, day):
    """A date typed year 1 or year 9999 into a page's day box: 定期走访 computed a cycle three months before
    year 1 (an HTTP 500), 楼宇周报 bound a day past the driver's calendar (a 500); now every page's day box
    names what was typed and the years it takes."""
    f.project(session)
    response = boss.get(url.format(day))
    _fine(response, 400)
    assert f"「{day}」 超出范围：{YEAR_RANGE}" in response.text


@pytest.mark.parametrize("typed", ["0001-01-01", "9999-12-31"])
def test_carrying_over_to_a_week_of_year_1_is_refused_naming_it(boss, session, typed):
    from models import WeeklyTask

    f.project(session)
    before = session.scalar(select(func.count()).select_from(WeeklyTask))
    response = boss.post("/admin/weekly-task/carry-over", {"week_start": typed})
    _fine(response, 400)
    assert f"{label_of(WeeklyTask, 'week_start')} 「{typed}」 超出范围：{YEAR_RANGE}" in response.text
    assert session.scalar(select(func.count()).select_from(WeeklyTask)) == before


def test_a_page_number_past_any_integer_is_refused_naming_it(boss, session):
    f.project(session)
    for url in ("/admin/first-responsibility", "/admin/callbacks"):
        response = boss.get(f"{url}?page={HUGE}")
        _fine(response, 400)
        assert f"页码无效：{HUGE}" in response.text


@pytest.mark.parametrize("typed", ["0001-01-01", "9999-12-31"])
def test_a_console_form_date_outside_the_calendars_years_is_refused_naming_it(boss, session, typed):
    """周复盘 → 新增 with 周起始日 typed as year 1 (a slip of the keyboard) was saved as typed."""
    from models import WeeklyReview

    project = f.project(session)
    before = session.scalar(select(func.count()).select_from(WeeklyReview))
    response = boss.post("/admin/weekly-review/create", {
        "project": str(project.id), "week_start": typed, "reviewed_on": "2026-11-06", "summary": "本周复盘"})
    _fine(response, 200, 400)
    assert f"{label_of(WeeklyReview, 'week_start')} 「{typed}」 超出范围：{YEAR_RANGE}" in response.text
    assert session.scalar(select(func.count()).select_from(WeeklyReview)) == before
