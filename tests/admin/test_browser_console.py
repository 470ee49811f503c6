"""In a real browser: log in, open a list, create a record through the form, and see it listed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Branch
from tests import factories
from tests.browser_support import log_in


@pytest.mark.browser
def test_login_open_list_create_and_see_it(live_server, browser):
    with live_server.session_maker.begin() as s:
        factories.user(s, username="browser-admin", superuser=True)
    page = browser.new_page(locale="zh-CN")
    try:
        log_in(page, live_server.url, "browser-admin")

        page.goto(f"{live_server.url}/admin/branch/list")
        assert "分公司" in page.content()
        page.goto(f"{live_server.url}/admin/branch/create")
        page.fill("input[name=name]", "浏览器测试分公司")
        page.click("input[type=submit][name=save], button[type=submit][name=save], input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/branch/list**")
        assert "浏览器测试分公司" in page.content()
    finally:
        page.close()
    with live_server.session_maker() as s:
        assert s.scalar(select(Branch).where(Branch.name == "浏览器测试分公司")) is not None
