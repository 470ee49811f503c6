"""In a real browser: the home page with its figures and its chart (drawn by the locally served chart library,
under the console's CSP), the trends, and a drill-down link followed to its list."""

from __future__ import annotations

import re
import uuid

import pytest

from tests import dashboard_support as ds
from tests import factories
from tests.browser_support import log_in

pytestmark = pytest.mark.browser


def test_home_page_chart_and_drill_down(live_server, browser):
    suffix = uuid.uuid4().hex[:6]
    username = f"dash-{suffix}"
    with live_server.session_maker.begin() as session:
        world = ds.build(session, suffix=suffix)
        factories.user(session, username=username, roles=["客服经理"], projects=[world.p1])
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location.get('url', '')}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, live_server.url, username)

        page.goto(f"{live_server.url}/admin/?month={ds.MONTH}")
        assert "52.9%" in page.inner_text("body") and "指标与目标" in page.inner_text("body")
        chart = page.wait_for_selector('[data-chart="0"][data-rendered="true"] svg', timeout=15_000)
        assert chart is not None
        drawn = page.inner_html('[data-chart="0"]')
        assert "收费率" in drawn and "甲项目" in drawn  # axis and legend, in Chinese

        # 投诉处理率's denominator for September: the complaints received, 4 of them
        page.click(f'a[href*="drill=complaints_received%3A{ds.MONTH}%3A{world.p1.id}%3A"] >> nth=0')
        page.wait_for_url("**/admin/service-request/list?**")
        body = page.inner_text("body")
        assert re.search(r"共\s*4\s*条", body) and "指标明细" in body

        page.goto(f"{live_server.url}/admin/dashboard/trends?month=2025-12")
        # one chart per KPI (全年收费率 beside 收费率: eight)
        page.wait_for_selector('[data-chart="7"][data-rendered="true"] svg', timeout=15_000)
        assert page.locator('[data-rendered="true"]').count() == 8
        # nothing blocked by the CSP, no script error, no missing file
        assert errors == []
    finally:
        context.close()
