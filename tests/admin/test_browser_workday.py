"""A working day in a real browser (issue 18): a login that ends mid-form loses nothing; a cashier finds a unit
as it is written and prints the receipt; the work-order list fits a 1440×900 screen; a butler's pages on a phone."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from models import RequestKind, ServiceRequest
from tests import factories as f
from tests.browser_support import log_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def site(live_server):
    tag = uuid.uuid4().hex[:6]
    with live_server.session_maker.begin() as session:
        project = f.project(session, name=f"工作日花园{tag}")
        unit = f.unit(session, project_=project, building_=f.building(session, project_=project, name="3栋"),
                      room_no="1303")
        f.customer(session, project_=project, name="陈静", phone="18565207620", unit_=unit)
        desk = f.user(session, username=f"desk{tag}", roles=["前台客服"], projects=[project])
        return {"tag": tag, "project": project.id, "unit": unit.id, "desk": desk.username}


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
