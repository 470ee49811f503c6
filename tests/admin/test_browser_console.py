"""In a real browser: log in, open a list, create a record through the form, and see it listed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import AuditKind, AuditLog, Branch
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


def _workbook(download):
    return load_workbook(io.BytesIO(Path(download.path()).read_bytes()))


@pytest.mark.browser
def test_the_lists_export_button_posts_the_list_as_shown(live_server, browser, tmp_path):
    """导出 on a list is a POST with the CSRF token (it audits): clicking it sends the list's search and sort and
    the file comes back; the address alone, opened as a bookmark, exports nothing and offers the button."""
    with live_server.session_maker.begin() as s:
        factories.user(s, username="browser-exporter", superuser=True)
        for name in ("导出甲分公司", "导出乙分公司", "别的分公司"):
            factories.branch(s, name=name)
    page = browser.new_page(locale="zh-CN")
    try:
        log_in(page, live_server.url, "browser-exporter")
        with live_server.session_maker() as s:
            logged = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.kind == AuditKind.EXPORT))
        page.goto(f"{live_server.url}/admin/branch/list?search=导出&sortBy=name&sort=desc")
        button = page.get_by_role("button", name="导出", exact=True)
        assert button.is_visible()
        page.screenshot(path=str(tmp_path / "list.png"))
        with page.expect_download() as download:
            button.click()
        assert download.value.suggested_filename.endswith(".xlsx")
        rows = list(_workbook(download.value).worksheets[0].iter_rows(min_row=3, values_only=True))
        # searched, and sorted as the list was: by name descending (甲 U+7532 after 乙 U+4E59; the default is ascending)
        assert [r[1] for r in rows] == ["导出甲分公司", "导出乙分公司"]

        page.goto(f"{live_server.url}/admin/branch/export/xlsx?search=导出")  # an old bookmark
        assert "打开这个地址本身不会导出" in page.content()
        with live_server.session_maker() as s:
            assert s.scalar(select(func.count()).select_from(AuditLog)
                            .where(AuditLog.kind == AuditKind.EXPORT)) == logged + 1  # the click's only
        with page.expect_download() as again:
            page.get_by_role("button", name="开始导出").click()
        assert len(list(_workbook(again.value).worksheets[0].iter_rows(min_row=3))) == 2
    finally:
        page.close()
