"""A working day in a real browser (issue 18): a login that ends mid-form loses nothing; a cashier finds a unit
as it is written and prints the receipt; the work-order list fits a 1440×900 screen; a butler's pages on a phone."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from models import Payment, Project, RequestKind, ServiceRequest, WorkOrder, utcnow
from tests import factories as f
from tests.browser_support import log_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

# Screenshots of the pages, kept as test artefacts (looked at by people, not compared).
SHOTS = Path(os.environ.get("WUYE_SCREENSHOTS", "/tmp/wuye-screenshots"))
SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def site(live_server):
    tag = uuid.uuid4().hex[:6]
    with live_server.session_maker.begin() as session:
        project = f.project(session, name=f"工作日花园{tag}")
        unit = f.unit(session, project_=project, building_=f.building(session, project_=project, name="3栋"),
                      room_no="1303")
        f.customer(session, project_=project, name="陈静", phone="18565207620", unit_=unit)
        desk = f.user(session, username=f"desk{tag}", roles=["前台客服"], projects=[project])
        cashier = f.user(session, username=f"cash{tag}", roles=["收费员"], projects=[project])
        fee = f.fee_type(session, project_=project, name="物业管理费")
        for period in ("2026-10", "2026-11"):
            f.bill(session, unit_=unit, fee_type_=fee, period=period, amount_due=Decimal("320.85"))
        return {"tag": tag, "project": project.id, "unit": unit.id, "desk": desk.username, "cashier": cashier.username}


def test_a_login_that_ends_mid_form_keeps_the_complaint(live_server, browser, site):
    base = live_server.url
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    log_in(page, base, site["desk"])
    page.goto(f"{base}/admin/intake?building=3栋&room_no=1303&project_id={site['project']}")
    page.select_option("#kind", "complaint")
    words = f"楼上装修超时施工，噪音很大 {site['tag']}"
    page.fill("#content", words)
    context.clear_cookies()  # the session ends while the complaint is being typed
    page.click("button:has-text('受理')")
    page.wait_for_selector(".wuye-relogin input[type=password]")
    assert page.input_value("#content") == words  # still on the page, as typed
    page.fill(".wuye-relogin input[type=password]", "not-the-password")
    page.click(".wuye-relogin button[type=submit]")
    page.wait_for_selector(".wuye-relogin .text-danger:has-text('登录失败')")
    page.fill(".wuye-relogin input[type=password]", PASSWORD)
    page.click(".wuye-relogin button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/service-request/details/\d+$"))  # the submit completed, to its record
    assert "已受理诉求" in page.content()
    with live_server.session_maker() as session:
        saved = session.scalars(select(ServiceRequest).where(ServiceRequest.content == words)).all()
        assert len(saved) == 1 and saved[0].kind is RequestKind.COMPLAINT and saved[0].unit_id == site["unit"]
    context.close()


def test_a_cashier_finds_3_1303_as_written_and_prints_the_receipt(live_server, browser, site):
    base = live_server.url
    page = browser.new_page(locale="zh-CN", viewport={"width": 1440, "height": 900})
    log_in(page, base, site["cashier"])
    page.goto(f"{base}/admin/bill/list")
    page.fill("#search-input", "3栋-1303")
    page.press("#search-input", "Enter")
    page.wait_for_url(re.compile(r"search="))
    assert page.locator("a[href*='/admin/bill/details/']").count() == 2  # the unit's two bills, no other unit's
    page.goto(f"{base}/admin/unit/list?search=3栋1303")
    page.click(f"a[href$='/admin/unit/details/{site['unit']}']")
    page.click("a.wuye-record-link:has-text('一户一档')")
    page.click(".card-actions a.btn:has-text('收款')")
    page.wait_for_url(re.compile(r"/admin/bill/account\?unit_id="))
    page.fill("input[name=amount]", "641.70")
    assert page.locator("input[name=receipt_no]").count() == 0  # nobody types the 收据号
    page.click("button:has-text('收款（先冲最早的欠费）')")
    page.wait_for_url(re.compile(r"/admin/payment/print\?"))  # the 收据, right after 收款
    assert page.locator("section[data-slip=receipt]").count() == 2  # 客户联 and 存根联
    text = page.inner_text("section[data-slip=receipt] >> nth=0")
    with live_server.session_maker() as session:  # both bills paid on one receipt, numbered by the system
        numbers = set(session.scalars(select(Payment.receipt_no).where(Payment.project_id == site["project"])))
    assert len(numbers) == 1 and re.fullmatch(r"SJ\d{4}-000001", number := numbers.pop())
    assert number in text and text.count("2026-1") >= 2 and "641.70" in text
    assert "陆佰肆拾壹元柒角" in text and "3栋-1303" in text
    pdf = page.pdf(prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # both copies on one A4 sheet
    page.click("a:has-text('返回')")
    page.wait_for_url(re.compile(r"/admin/bill/account\?unit_id="))
    assert f"已收款 641.70 元，冲抵 2 张账单，收据号 {number}" in page.content()
    page.goto(f"{base}/admin/payment/list")  # the payment list finds the receipt by its number
    page.fill("#search-input", number)
    page.press("#search-input", "Enter")
    page.wait_for_url(re.compile(r"search="))
    assert page.locator("a[href*='/admin/payment/details/']").count() == 2
    page.click("a[href*='/admin/payment/details/'] >> nth=0")
    assert number in page.inner_text("body") and page.locator("a:has-text('打印收据')").count() == 1
    page.close()


def test_the_work_order_list_shows_status_and_the_sla_mark_at_1440x900(live_server, browser, site):
    from actions.actor import SYSTEM
    from actions.work_orders import dispatch_requests

    with live_server.session_maker.begin() as session:
        project = session.get(Project, site["project"])
        request = f.service_request(session, project_=project,
                                    content="卫生间下水管道堵塞，请派人疏通，业主下午三点后在家，请提前电话联系" * 2)
        boss_name = f.user(session, username=f"boss{site['tag']}", roles=["客服主管"], projects=[project]).username
        dispatch_requests(session, request_ids=[request.id], actor=SYSTEM)
        late = utcnow() - dt.timedelta(hours=1)  # an order already late: the list marks it 已超时
        session.execute(update(WorkOrder).where(WorkOrder.request_id == request.id)
                        .values(respond_due_at=late, complete_due_at=late))
    page = browser.new_page(locale="zh-CN", viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, boss_name)
    page.goto(f"{live_server.url}/admin/work-order/list")
    width = page.evaluate("document.documentElement.clientWidth")
    for header in ("状态", "派工时间", "完成时限"):
        box = page.locator(f"thead th:has-text('{header}')").bounding_box()
        assert box is not None and box["x"] + box["width"] <= width, header  # on screen, no scrolling
    late = page.locator(".wuye-overdue").first
    box = late.bounding_box()
    assert "已超时" in late.inner_text() and box["x"] + box["width"] <= width
    page.screenshot(path=str(SHOTS / "work-orders-1440x900.png"))
    page.close()


def test_a_butler_walks_the_pages_on_a_phone(live_server, browser, site):
    with live_server.session_maker.begin() as session:
        butler = f.user(session, username=f"butler{site['tag']}", roles=["楼宇管家"],
                        projects=[session.get(Project, site["project"])])
        name = butler.username
        for _ in range(101):  # six pages: the list's footer (count, pages, page size) is at its widest
            f.service_request(session, project_=session.get(Project, site["project"]))
    page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    log_in(page, live_server.url, name)

    def fits() -> bool:  # the page itself never scrolls sideways (a wide table scrolls in its own box)
        return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")

    assert page.locator("a[data-task=notices_to_deliver]").is_visible() and fits()
    page.screenshot(path=str(SHOTS / "butler-home-390x844.png"))
    page.goto(f"{live_server.url}/admin/unit/list?search=3栋-1303")
    assert page.locator(f"a[href$='/admin/unit/details/{site['unit']}']").first.is_visible() and fits()
    page.goto(f"{live_server.url}/admin/unit/file?unit_id={site['unit']}")
    assert page.locator("text=3栋-1303").first.is_visible() and fits()
    page.screenshot(path=str(SHOTS / "butler-unit-file-390x844.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/service-request/list")
    assert page.locator(".pagination").is_visible() and fits()
    page.screenshot(path=str(SHOTS / "butler-requests-390x844.png"))
    page.goto(f"{live_server.url}/admin/visit/create")
    field = page.locator("textarea[name=notes]")
    field.scroll_into_view_if_needed()
    box = field.bounding_box()
    assert box["width"] >= 0.7 * 390 and fits()  # a form field nearly as wide as the phone, not one character
    page.close()
