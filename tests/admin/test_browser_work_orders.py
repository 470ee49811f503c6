"""One work order's whole life in a real browser: intake → dispatch → accept → complete → callback → closed."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from models import RequestStatus, ServiceRequest, WorkOrder, WorkOrderStatus
from tests import factories as f
from tests.browser_support import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_server):  # noqa: F811
    tag = uuid.uuid4().hex[:6]
    with live_server.session_maker.begin() as session:
        project = f.project(session, name=f"浏览器花园{tag}")
        unit = f.unit(session, project_=project, building_=f.building(session, project_=project, name="9栋"),
                      room_no="0901")
        f.customer(session, project_=project, name="周敏", phone="13600003333", unit_=unit)
        desk = f.user(session, username=f"desk{tag}", roles=["前台客服"], projects=[project])
        boss = f.user(session, username=f"boss{tag}", roles=["客服主管"], projects=[project])
        return {"project": project.id, "unit": unit.id, "desk": desk.username, "boss": boss.username}


def login(browser, base: str, username: str):  # noqa: F811
    page = browser.new_context(locale="zh-CN").new_page()
    log_in(page, base, username)
    return page


def test_intake_dispatch_complete_callback_close(live_server, browser, people):  # noqa: F811
    base = live_server.url
    desk = login(browser, base, people["desk"])

    # 受理: find the unit by its room number, pick it, describe the problem
    desk.goto(f"{base}/admin/intake?room_no=0901&project_id={people['project']}")
    desk.check(f"input[name=pick][value^='{people['unit']}:']")
    desk.select_option("#kind", "repair_private")
    desk.select_option("#category", "plumbing")
    desk.fill("#content", "厨房下水道堵塞 <b>急</b>")
    desk.click("button:has-text('受理')")
    desk.wait_for_url(re.compile(r"/admin/service-request/details/\d+"))
    assert "已受理诉求" in desk.content()
    request_id = int(desk.url.rsplit("/", 1)[1])

    # 派工 by the supervisor, from the request's detail page: routing picks 工程部
    boss = login(browser, base, people["boss"])
    boss.goto(f"{base}/admin/service-request/details/{request_id}")
    boss.click("a[href*='/action/dispatch?pks=']")
    boss.wait_for_url(re.compile(r"/action/dispatch"))
    assert "工程部" in boss.inner_text("table")
    boss.click("button:has-text('确认派工')")
    boss.wait_for_url(re.compile(rf"/admin/service-request/details/{request_id}$"))  # back on the request
    assert "已派工 1 单" in boss.content() and "派工单#" in boss.inner_text(".wuye-timeline")
    with live_server.session_maker() as session:
        order_id = session.scalar(select(WorkOrder.id).where(WorkOrder.request_id == request_id))

    # 接单, 完工 at the front desk
    detail = f"{base}/admin/work-order/details/{order_id}"
    for slug, step, fill in (("accept", "接单", {}), ("complete", "完工", {"#result": "疏通下水管，已试水"})):
        desk.goto(detail)
        desk.click(f"a[href*='/action/{slug}?pks=']")
        desk.wait_for_url(re.compile(r"/action/"))
        for selector, value in fill.items():
            desk.fill(selector, value)
        desk.click(f"button:has-text('确认{step}')")
        desk.wait_for_url(re.compile(rf"/admin/work-order/details/{order_id}$"))  # each step returns to the order
        assert f"已{step} 1 张派工单" in desk.content()
    steps = desk.inner_text(".wuye-timeline")
    assert "受理报修(户内)" in steps and "接单" in steps and "疏通下水管，已试水" in steps
    assert "<b>急</b>" in steps  # user text shown as text, never as markup

    # 回访 from the 工作台: its 待回访 count opens the orders waiting, the order, its 回访 step
    desk.goto(f"{base}/admin/")
    desk.click("a[data-task=callbacks_due]")
    desk.wait_for_url(re.compile(r"/admin/work-order/list\?drill="))
    desk.click(f"a[href$='/admin/work-order/details/{order_id}']")
    desk.click(f"a[href*='/action/callback?pks={order_id}']")
    desk.wait_for_url(re.compile(r"/action/callback"))
    desk.select_option("#way", "phone")
    desk.select_option("#result", "unsatisfied")
    desk.fill("#notes", "业主说下水仍慢，要求再疏通")
    desk.click("button:has-text('确认回访')")
    desk.wait_for_url(re.compile(rf"/admin/work-order/details/{order_id}$"))
    assert "业主说下水仍慢，要求再疏通" in desk.inner_text(".wuye-timeline")  # the engineer reads the owner's words

    # 返工: done again, then a satisfied callback from the 待回访 page, which returns there
    desk.click(f"a[href*='/action/complete?pks={order_id}']")
    desk.fill("#result", "更换存水弯，已试水")
    desk.click("button:has-text('确认完工')")
    desk.wait_for_url(re.compile(rf"/admin/work-order/details/{order_id}$"))
    desk.goto(f"{base}/admin/callbacks")
    desk.click(f"a[href*='pks={order_id}']")
    desk.wait_for_url(re.compile(r"/action/callback"))
    desk.select_option("#way", "phone")
    desk.select_option("#result", "satisfied")
    desk.fill("#notes", "业主表示满意")
    desk.click("button:has-text('确认回访')")
    desk.wait_for_url(re.compile(r"/admin/callbacks"))
    assert "可关闭" in desk.content()

    # 关闭
    desk.goto(detail)
    desk.click("a[href*='/action/close?pks=']")
    desk.wait_for_url(re.compile(r"/action/close"))
    desk.click("button:has-text('确认关闭')")
    desk.wait_for_url(re.compile(rf"/admin/work-order/details/{order_id}$"))
    with live_server.session_maker() as session:
        order = session.get(WorkOrder, order_id)
        assert order.status is WorkOrderStatus.CLOSED
        assert session.get(ServiceRequest, request_id).status is RequestStatus.CLOSED


def test_the_callback_step_is_in_reach_on_a_phone(live_server, browser, people):  # noqa: F811
    """待回访 on a phone (390×844): the 回访 button sat in the last column, a sideways scroll past 项目, 房屋, 诉求内容,
    处理结果 …; it is now beside the order's number, in view, and leads to that order's 回访 step."""
    from actions.actor import actor_for_user
    from actions.work_orders import accept_work_orders, complete_work_order, dispatch_requests
    from models import Project, User
    from models.db import writing

    # reads, then writes: the write lock first (BEGIN IMMEDIATE), or a write of the console serving the earlier
    # tests' pages between the two would make SQLite refuse the first write at once ("database is locked")
    with writing(), live_server.session_maker.begin() as session:
        desk = session.scalar(select(User).where(User.username == people["desk"]))
        actor = actor_for_user(session, desk)
        request = f.service_request(session, project_=session.get(Project, people["project"]),
                                    content="阳台地漏返水，请派人疏通，并检查楼下是否渗水")
        dispatch_requests(session, request_ids=[request.id], actor=actor)
        order_id = session.scalar(select(WorkOrder.id).where(WorkOrder.request_id == request.id))
        accept_work_orders(session, order_ids=[order_id], actor=actor)
        complete_work_order(session, order_id=order_id, result="已疏通地漏，楼下未见渗水", actor=actor)
    page = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    log_in(page, live_server.url, people["desk"])
    page.goto(f"{live_server.url}/admin/callbacks")
    button = page.locator(f"a[href*='pks={order_id}&next=callbacks']")
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    button.click()
    page.wait_for_url(re.compile(rf"/action/callback\?pks={order_id}"))
    assert "确认回访" in page.content()
