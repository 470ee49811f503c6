"""In a real browser: upload a survey workbook, watch its progress, preview, confirm, see the results.

Chromium is driven from a thread of its own: the session-scoped ``browser`` fixture of tests/browser_support.py,
imported into several modules, becomes one Playwright per module, and a second sync Playwright refuses to start
in the thread where the first one's event loop runs.
"""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import delete, func, select

from actions.actor import Actor
from actions.surveys import create_survey
from admin.views import spreadsheets
from models import (
    Branch,
    Building,
    ImportBatch,
    Project,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    Unit,
    User,
)
from tests import factories
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, live_server, log_in  # noqa: F401  (fixture)
from tests.data.workbooks import workbook


def in_browser(steps) -> None:
    """Run ``steps(page)`` in headless Chromium on a thread of its own; re-raise what it raised."""
    from playwright.sync_api import sync_playwright

    failure: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    steps(chromium.new_page(locale="zh-CN"))
                finally:
                    chromium.close()
        except BaseException as exc:  # noqa: BLE001  (handed back to the test's thread)
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(180)
    if failure:
        raise failure[0]


@pytest.mark.browser
def test_upload_preview_confirm_results(live_server, tmp_path, monkeypatch):  # noqa: F811
    with live_server.session_maker.begin() as s:
        project = factories.project(s, name="浏览器问卷小区")
        building = factories.building(s, project_=project, name="8栋")
        for room in ("8-101", "8-102", "8-103", "8-104"):
            factories.unit(s, project_=project, building_=building, room_no=room)
        factories.user(s, username="browser-sv", roles=["客服主管"], projects=[project])
        survey_id = create_survey(s, project_id=project.id, title="浏览器问卷调查",
                                  actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    path = tmp_path / "回收汇总.xlsx"
    path.write_bytes(workbook({"回收": [
        ["浏览器问卷小区2026年上半年业主满意度调查汇总表"],
        ["序号", "楼号", "房间号", "客服部满意度", "工程部", "意见建议"],
        [1, "8栋", "８－１０１", "非常满意", "5分", "电梯要修"],
        [2, "8栋", "8-102", "满意", 3, ""],
        [3, "8栋", "8-103", "不满意", "基本满意", ""],
        ["合计"],
    ]}))
    # Every file goes to the background, so the progress bar and its polling script run for real.
    monkeypatch.setattr(spreadsheets, "WAIT_BYTES", 0)
    errors: list[str] = []

    def steps(page) -> None:
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        log_in(page, live_server.url, "browser-sv")

        page.goto(f"{live_server.url}/admin/survey/details/{survey_id}")
        page.click("text=导入问卷")
        page.wait_for_url("**/admin/import?**")
        page.set_input_files("input[name=file]", str(path))
        page.click("button:has-text('上传并预览')")
        page.wait_for_selector("text=预览：以下内容尚未写入", timeout=30_000)
        assert "新增" in page.content() and "8-101" in page.content()

        page.click("button:has-text('确认导入')")
        page.wait_for_selector("text=已导入：新增 3 行", timeout=30_000)
        page.click("a:has-text('查看调查结果')")
        page.wait_for_selector("text=调查率", timeout=10_000)
        content = page.content()
        assert "75.0%" in content  # 3 of 4 households
        assert "电梯要修" in content

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
    try:
        in_browser(steps)
        assert not [e for e in errors if "Content Security Policy" in e], errors
        with live_server.session_maker() as s:
            assert s.scalar(select(func.count()).where(SurveyResponse.survey_id == survey_id)) == 3
    finally:
        forget(live_server, project.id, survey_id)


def forget(server, project_id: int, survey_id: int) -> None:
    """Take this test's records out of the shared live database again (other browser tests count on its ids)."""
    with server.session_maker.begin() as s:
        for model in (SurveyResponse, SurveyHousehold):
            s.execute(delete(model).where(model.survey_id == survey_id))
        s.execute(delete(Survey).where(Survey.id == survey_id))
        s.execute(delete(ImportBatch).where(ImportBatch.project_id == project_id))
        s.execute(delete(Unit).where(Unit.project_id == project_id))
        s.execute(delete(Building).where(Building.project_id == project_id))
        user = s.scalar(select(User).where(User.username == "browser-sv"))
        user.roles, user.projects = [], []
        s.flush()
        s.delete(user)
        branch_id = s.scalar(select(Project.branch_id).where(Project.id == project_id))
        s.execute(delete(Project).where(Project.id == project_id))
        s.execute(delete(Branch).where(Branch.id == branch_id))
