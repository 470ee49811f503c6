"""The console pages of issue 3 through the real app: intake, dispatch, the lifecycle steps, the SLA filter,
待回访, 走访计划, 部门日报 and 投诉统计 — with their permission, scope and CSRF refusals."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, or_, select

from actions.actor import actor_for_user
from actions.errors import Refused
from actions.work_orders import (
    accept_work_orders,
    callback_work_order,
    close_work_orders,
    complete_work_order,
    dispatch_requests,
)
from admin.views.base import local_datetime
from admin.views.service import OrderCreateForm, _pk
from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Department,
    DepartmentKind,
    Job,
    OperationLog,
    Priority,
    RequestKind,
    RequestStatus,
    Satisfaction,
    ServiceRequest,
    StaffPosition,
    Visit,
    VisitWay,
    WorkOrder,
    WorkOrderStatus,
    label_of,
    utcnow,
)
from tests import factories as f

S = WorkOrderStatus


def rows(session) -> tuple[int, int, int]:
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (ServiceRequest, WorkOrder, Visit))


@pytest.fixture
def site(session):
    p1, p2 = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    b = f.building(session, project_=p1, name="5栋")
    unit = f.unit(session, project_=p1, building_=b, room_no="0802")
    f.customer(session, project_=p1, name="陈静", phone="13700002222", unit_=unit)
    users = {
        "desk": f.user(session, username="desk", roles=["前台客服"], projects=[p1]),
        "boss": f.user(session, username="boss", roles=["客服主管"], projects=[p1]),
        "cashier": f.user(session, username="cashier", roles=["收费员"], projects=[p1]),
        "other": f.user(session, username="other", roles=["客服主管"], projects=[p2]),
        "branch": f.user(session, username="branch", roles=["分公司管理"], branch_=p1.branch),
    }
    session.flush()  # the console runs on the same connection: it sees what is flushed
    return {"p1": p1, "p2": p2, "unit": unit, **users}


def order_of(session, request_id: int) -> WorkOrder:
    session.expire_all()
    return session.scalar(select(WorkOrder).where(WorkOrder.request_id == request_id))


def flash_of(page) -> str:
    return " ".join(re.findall(r'class="alert[^"]*"[^>]*>\s*([^<]+)', page.text))


# --- intake ------------------------------------------------------------------------------------------
def test_intake_lookup_then_receive_records_the_first_contact_owner(session, console, site):
    desk = console("desk")
    page = desk.get("/admin/intake?room_no=0802")
    assert page.status_code == 200 and "5栋-0802" in page.text and "陈静" in page.text and "137****2222" in page.text
    pick = re.search(r'name="pick" value="(\d+:\d+)"', page.text).group(1)
    before = rows(session)
    done = desk.post("/admin/intake", {"project_id": site["p1"].id, "channel": "phone", "kind": "repair_private",
                                       "category": "plumbing", "priority": "high", "pick": pick,
                                       "content": "卫生间漏水 {{7*7}}"})
    assert done.status_code == 303
    request = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id.desc())).first()
    assert rows(session)[0] == before[0] + 1
    assert request.receiver_id == site["desk"].id and request.unit_id == site["unit"].id
    assert request.contact_name == "陈静" and request.content == "卫生间漏水 {{7*7}}"
    detail = desk.get(done.headers["location"])
    assert "已受理诉求" in detail.text and "{{7*7}}" in detail.text and "49" not in flash_of(detail)


def test_the_intake_form_sent_twice_records_one_request(session, console, site):
    desk = console("desk")
    page = desk.get("/admin/intake?room_no=0802")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text).group(1)
    pick = re.search(r'name="pick" value="(\d+:\d+)"', page.text).group(1)
    form = {"project_id": site["p1"].id, "channel": "phone", "kind": "repair_private", "category": "plumbing",
            "priority": "normal", "pick": pick, "content": "厨房下水堵塞", "form_token": token}
    before = rows(session)
    first = desk.post("/admin/intake", form)
    again = desk.post("/admin/intake", form)  # a double click: the same form again
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    request = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id.desc())).first()
    assert f"该表单已提交过：诉求 #{request.id} 已受理，未重复登记" in desk.get(again.headers["location"]).text
    assert rows(session)[0] == before[0] + 1 and request.repeat_of_id is None
    # a fresh form for the same problem is a new request (flagged as a repeat, as before)
    fresh = re.search(r'name="form_token" value="([0-9a-f]{32})"', desk.get("/admin/intake?room_no=0802").text).group(1)
    assert fresh != token
    assert desk.post("/admin/intake", {**form, "form_token": fresh}).status_code == 303
    assert rows(session)[0] == before[0] + 2


def test_an_intake_form_token_of_another_account_is_refused_not_answered_with_its_request(session, console, site):
    """Another project's user posting a 受理 with the desk's used token was answered 「该表单已提交过：诉求 #n 已受理」
    — the other project's request, and the call he took was dropped. It is refused; nothing recorded."""
    desk, other = console("desk"), console("other")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', desk.get("/admin/intake").text).group(1)
    form = {"channel": "phone", "kind": "inquiry", "category": "other", "priority": "normal", "pick": "",
            "form_token": token}
    assert desk.post("/admin/intake", {**form, "project_id": site["p1"].id, "content": "询问停车"}).status_code == 303
    before = rows(session)
    page = other.post("/admin/intake", {**form, "project_id": site["p2"].id, "content": "电梯异响"})
    assert page.status_code == 400 and "表单编号无效：该表单不是本账号为此打开的" in page.text
    assert "询问停车" not in page.text and "#" + str(before[0]) not in flash_of(page)
    assert rows(session) == before


def test_a_visit_form_token_used_for_another_household_or_project_is_refused(session, console, site):
    elsewhere = f.unit(session, project_=site["p2"], building_=f.building(session, project_=site["p2"], name="9栋"),
                       room_no="0101")
    other_here = f.unit(session, project_=site["p1"], building_=site["unit"].building, room_no="0803")
    session.flush()
    desk = console("desk")
    page = desk.get(f"/admin/visit-plan?project_id={site['p1'].id}&unit_id={site['unit'].id}")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text).group(1)
    form = {"way": "door", "result": "satisfied", "form_token": token}
    assert desk.post("/admin/visit-plan", {**form, "project_id": site["p1"].id, "unit_id": site["unit"].id}
                     ).status_code == 303
    before = rows(session)
    for who, unit in (("desk", other_here), ("other", elsewhere)):
        page = console(who).post("/admin/visit-plan", {**form, "project_id": unit.project_id, "unit_id": unit.id})
        assert page.status_code == 400 and "表单编号无效：该表单不是本账号为此打开的" in page.text, who
        assert rows(session) == before


def test_intake_refusal_writes_nothing_and_branch_may_not_create(session, console, site):
    desk = console("desk")
    before = rows(session)
    page = desk.post("/admin/intake", {"project_id": site["p1"].id, "channel": "phone", "kind": "complaint",
                                       "category": "noise", "priority": "normal", "content": " "})
    assert page.status_code == 400 and "请填写诉求内容" in page.text
    page = desk.post("/admin/intake", {"project_id": site["p2"].id, "channel": "phone", "kind": "complaint",
                                       "category": "noise", "priority": "normal", "content": "噪音"})
    assert page.status_code == 403
    assert console("branch").post("/admin/intake", {"project_id": site["p1"].id, "kind": "complaint",
                                                    "content": "x"}).status_code == 403
    assert rows(session) == before


def test_an_unset_enum_shows_blank_not_none(session, console, site):
    # a 报修 has no 有效投诉 judgement: its details page leaves the cell empty, as it does any other empty value
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    session.flush()
    assert r.complaint_validity is None
    page = console("boss").get(f"/admin/service-request/details/{r.id}")
    assert page.status_code == 200
    cell = re.search(r"<td>有效投诉</td>\s*<td>(.*?)</td>", page.text, re.S)
    assert cell is not None and cell.group(1).strip() == "", cell


# --- dispatch ----------------------------------------------------------------------------------------
def test_dispatch_parameter_page_then_post_then_double_submit(session, console, site):
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    session.flush()
    boss = console("boss")
    before = rows(session)
    form = boss.get(f"/admin/service-request/action/dispatch?pks={r.id}")
    assert form.status_code == 200 and "工程部" in form.text and "将派工 1 单" in form.text
    due = r.received_at + dt.timedelta(hours=24)
    assert due.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M") in form.text
    assert rows(session) == before  # the GET is a dry run
    data = {"request_ids": str(r.id), "department_id": "", "assignee_id": "", "priority": "", "complete_due_at": ""}
    done = boss.post("/admin/service-request/dispatch", data)
    assert done.status_code == 303 and done.headers["location"].endswith(f"/admin/service-request/details/{r.id}")
    order = order_of(session, r.id)
    assert order.department.name == "工程部" and order.dispatched_by_id == site["boss"].id
    assert order.complete_due_at == due
    again = boss.post("/admin/service-request/dispatch", data)
    assert again.status_code == 400 and f"#{r.id}（已派工）" in again.text
    assert rows(session) == (before[0], before[1] + 1, before[2])


def test_the_dispatch_page_of_a_request_dispatched_closed_or_cancelled_says_why_without_a_form(session, console, site):
    """The 派工 page offered its form for a request already dispatched, closed or cancelled, and refused only once
    the user had filled it: the reason is shown at once, in place of the form."""
    boss = console("boss")
    dispatched = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    closed = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    cancelled = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    dispatch_requests(session, actor=actor_for_user(session, site["boss"]), request_ids=[dispatched.id])
    closed.status, cancelled.status = RequestStatus.CLOSED, RequestStatus.CANCELLED
    session.flush()
    before = rows(session)
    for row, label in ((dispatched, "已派工"), (closed, "已关闭"), (cancelled, "已取消")):
        page = boss.get(f"/admin/service-request/action/dispatch?pks={row.id}")
        assert page.status_code == 200 and f"#{row.id}（{label}）" in page.text and "不能再派工" in page.text
        assert "确认派工" not in page.text and 'name="department_id"' not in page.text
        details = boss.get(f"/admin/service-request/details/{row.id}")  # nor is the button offered on its page
        assert details.status_code == 200 and "/action/dispatch?" not in details.text
    pending = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    session.flush()
    assert f"/action/dispatch?pks={pending.id}" in boss.get(f"/admin/service-request/details/{pending.id}").text
    mixed = boss.get(f"/admin/service-request/action/dispatch?pks={pending.id},{closed.id}")
    assert f"#{closed.id}（已关闭）" in mixed.text and "确认派工" not in mixed.text
    assert "确认派工" in boss.get(f"/admin/service-request/action/dispatch?pks={pending.id}").text
    assert rows(session)[1:] == before[1:]


def test_a_priority_chosen_on_the_dispatch_page_sets_the_deadline_of_that_priority(session, console, site):
    """The page fills 完成时限 with the SLA deadline of the request's own priority (普通: 24 h). Choosing 紧急 and
    confirming sent that default as a deadline typed by hand: the urgent order was due in 24 hours, not 4. The
    default left as shown now means 按时限规则 for the priority chosen; a deadline changed by hand still stands."""
    boss = console("boss")
    for typed in (False, True):
        r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
        session.flush()
        page = boss.get(f"/admin/service-request/action/dispatch?pks={r.id}")
        shown = re.search(r'name="complete_due_at" value="([^"]+)"', page.text)[1]
        assert f'name="sla_due_at" value="{shown}"' in page.text
        by_hand = (r.received_at + dt.timedelta(hours=6)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        done = boss.post("/admin/service-request/dispatch", {
            "request_ids": str(r.id), "department_id": "", "assignee_id": "", "priority": "urgent",
            "complete_due_at": by_hand if typed else shown, "sla_due_at": shown})
        assert done.status_code == 303
        order = order_of(session, r.id)
        expected = r.received_at + dt.timedelta(hours=6 if typed else 4)  # 紧急 报修(户内): 4 h by the SLA rules
        assert order.priority is Priority.URGENT and order.complete_due_at.replace(second=0, microsecond=0) == \
            expected.replace(second=0, microsecond=0), typed


def test_the_front_desk_dispatches_with_the_supervisors_page_and_a_cashier_may_not(session, console, site):
    """002 前台职责：需要报事的应填写派工单并发至相关部门；负责派工单的派发工作. A01: a role without the grant."""
    r = f.service_request(session, project_=site["p1"])
    session.flush()
    cashier = console("cashier")
    before = rows(session)
    assert cashier.get(f"/admin/service-request/action/dispatch?pks={r.id}").status_code == 403
    assert cashier.post("/admin/service-request/dispatch", {"request_ids": str(r.id)}).status_code == 403
    assert rows(session) == before
    desk = console("desk")
    page = desk.get(f"/admin/service-request/action/dispatch?pks={r.id}")
    assert page.status_code == 200 and "确认派工" in page.text
    assert desk.post("/admin/service-request/dispatch", {"request_ids": str(r.id)}).status_code == 303
    assert rows(session) == (before[0], before[1] + 1, before[2])
    assert order_of(session, r.id).dispatched_by_id == site["desk"].id


def test_dispatch_targets_are_scoped_and_need_csrf(session, console, site):  # A07, C01, C02
    mine = f.service_request(session, project_=site["p1"])
    theirs = f.service_request(session, project_=site["p2"])
    session.flush()
    boss = console("boss")
    before = rows(session)
    assert boss.get(f"/admin/service-request/action/dispatch?pks={mine.id},{theirs.id}").status_code == 403
    page = boss.post("/admin/service-request/dispatch", {"request_ids": f"{mine.id},{theirs.id}"})
    assert page.status_code == 403 and f"#{theirs.id}" in page.text
    assert boss.get("/admin/service-request/action/dispatch?pks=").status_code == 400
    empty = boss.post("/admin/service-request/dispatch", {"request_ids": ""})
    assert empty.status_code == 400 and "请先选择" in empty.text
    naked = boss.client.post("/admin/service-request/dispatch", data={"request_ids": str(mine.id)})
    assert naked.status_code == 403
    assert rows(session) == before


def test_dispatch_to_an_inactive_department_is_refused(session, console, site):
    r = f.service_request(session, project_=site["p1"])
    gone = Department(project_id=site["p1"].id, name="已撤销工程组", kind=DepartmentKind.ENGINEERING, active=False)
    session.add(gone)
    session.flush()
    before = rows(session)
    page = console("boss").post("/admin/service-request/dispatch",
                                {"request_ids": str(r.id), "department_id": str(gone.id)})
    assert page.status_code == 400 and "不存在或已停用" in page.text
    assert rows(session) == before


# --- lifecycle ---------------------------------------------------------------------------------------
def test_lifecycle_through_the_console_with_rework(session, console, site):
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    session.flush()
    boss, desk = console("boss"), console("desk")
    boss.post("/admin/service-request/dispatch", {"request_ids": str(r.id)})
    oid = order_of(session, r.id).id

    def step(client, name, **data):
        form = client.get(f"/admin/work-order/action/{name}?pks={oid}")
        assert form.status_code == 200, (name, form.status_code)
        return client.post(f"/admin/work-order/step/{name}", {"order_ids": str(oid), **opened_on(form), **data})

    early = step(desk, "complete", result="已修好")  # never accepted
    assert early.status_code == 400 and "（已派工）" in early.text
    assert step(desk, "accept").status_code == 303
    assert step(desk, "complete", result="更换角阀").status_code == 303
    assert step(desk, "callback", way="phone", result="unsatisfied", notes="仍漏水").status_code == 303
    o = order_of(session, r.id)
    assert o.status is S.ACCEPTED and o.reopen_count == 1
    assert step(desk, "complete", result="更换整段水管").status_code == 303
    assert step(desk, "callback", way="door", result="satisfied").status_code == 303
    assert step(desk, "close").status_code == 303
    o = order_of(session, r.id)
    assert o.status is S.CLOSED and o.request.status is RequestStatus.CLOSED
    assert session.scalar(select(func.count()).select_from(Visit).where(Visit.work_order_id == oid)) == 2


def opened_on(form) -> dict:
    """The versions a step page was opened on, as its form posts them (none for the steps that carry none)."""
    versions = re.search(r'name="versions" value="([\d:,]+)"', form.text)
    return {"versions": versions.group(1)} if versions else {}


def test_a_completion_or_callback_opened_before_a_rework_is_refused(session, console, site):
    """完工 and 回访 carried no version: a 完工 form opened in the first round (before an unsatisfied 回访 sent the
    order back for rework) was taken in the second round with the first round's 处理结果, the rework never described;
    a 回访 form of the first round judged the rework the owner was never asked about. The forms carry the order's
    version: a stale one is refused in Chinese naming the order, nothing written; a form without it is refused too
    (B13)."""
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    session.flush()
    boss, desk = console("boss"), console("desk")
    boss.post("/admin/service-request/dispatch", {"request_ids": str(r.id)})
    oid = order_of(session, r.id).id
    desk.post("/admin/work-order/step/accept", {"order_ids": str(oid)})

    def opened(client, name) -> dict:
        page = client.get(f"/admin/work-order/action/{name}?pks={oid}")
        assert page.status_code == 200
        versions = opened_on(page)
        assert versions, f"the {name} form carries no version"
        return {"order_ids": str(oid), **versions}

    def state():
        o = order_of(session, r.id)
        logs = session.scalar(select(func.count()).select_from(OperationLog)
                              .where(OperationLog.operation == "complete_work_order"))
        return o.status, o.result, o.completed_at, o.reopen_count, o.version, logs

    first_round, other_tab = opened(desk, "complete"), opened(boss, "complete")
    assert boss.post("/admin/work-order/step/complete", {**other_tab, "result": "更换角阀"}).status_code == 303
    first_callback = opened(boss, "callback")
    callback = {"way": "phone", "result": "unsatisfied", "notes": "仍漏水"}
    assert desk.post("/admin/work-order/step/callback", {**opened(desk, "callback"), **callback}).status_code == 303
    reworking = state()
    assert reworking[:4] == (S.ACCEPTED, "更换角阀", None, 1)

    stale = desk.post("/admin/work-order/step/complete", {**first_round, "result": "已修好"})
    assert stale.status_code == 400 and f"以下派工单已被他人修改，请刷新后重试：#{oid}" in html.unescape(stale.text)
    assert state() == reworking
    bare = desk.post("/admin/work-order/step/complete", {"order_ids": str(oid), "result": "已修好"})
    assert bare.status_code == 400 and "表单缺少版本号" in bare.text and state() == reworking

    fresh = desk.post("/admin/work-order/step/complete", {**opened(desk, "complete"), "result": "更换整段水管"})
    assert fresh.status_code == 303
    done = state()
    assert done[:2] == (S.DONE, "更换整段水管") and done[2] is not None and done[5] == reworking[5] + 1

    def visits():
        return session.scalar(select(func.count()).select_from(Visit).where(Visit.work_order_id == oid))

    stale = boss.post("/admin/work-order/step/callback", {**first_callback, "way": "phone", "result": "satisfied"})
    assert stale.status_code == 400 and f"以下派工单已被他人修改，请刷新后重试：#{oid}" in html.unescape(stale.text)
    assert state() == done and visits() == 1
    bare = boss.post("/admin/work-order/step/callback", {"order_ids": str(oid), "way": "phone", "result": "satisfied"})
    assert bare.status_code == 400 and "表单缺少版本号" in bare.text and state() == done and visits() == 1
    fresh = boss.post("/admin/work-order/step/callback", {**opened(boss, "callback"), "way": "door",
                                                          "result": "satisfied"})
    assert fresh.status_code == 303 and state()[0] is S.CALLED_BACK and visits() == 2


def test_reassign_needs_its_grant_and_a_reason(session, console, site):
    r = f.service_request(session, project_=site["p1"])
    session.flush()
    boss = console("boss")
    boss.post("/admin/service-request/dispatch", {"request_ids": str(r.id)})
    oid = order_of(session, r.id).id
    assert console("desk").post("/admin/work-order/step/reassign", {"order_ids": str(oid)}).status_code == 403
    version = f"{oid}:{order_of(session, r.id).version}"
    page = boss.post("/admin/work-order/step/reassign",
                     {"order_ids": str(oid), "reason": "", "department_id": "", "versions": version})
    assert page.status_code == 400 and "转派原因" in page.text
    assert boss.post("/admin/work-order/step/unknown", {"order_ids": str(oid)}).status_code == 404


def test_a_reassign_form_opened_before_another_reassign_is_refused(session, console, site):
    """转派 carried no version: a supervisor's form opened before another supervisor's 转派 sent the order on to
    another department over the newer decision, silently. The form carries each order's version: the stale one is
    refused in Chinese naming the order, nothing written; a form without versions is refused too (B13)."""
    r = f.service_request(session, project_=site["p1"])
    a = Department(project_id=site["p1"].id, name="工程一组", kind=DepartmentKind.ENGINEERING)
    b = Department(project_id=site["p1"].id, name="工程二组", kind=DepartmentKind.ENGINEERING)
    session.add_all([a, b])
    f.user(session, username="boss2", roles=["客服主管"], projects=[site["p1"]])
    session.flush()
    boss, boss2 = console("boss"), console("boss2")
    boss.post("/admin/service-request/dispatch", {"request_ids": str(r.id)})
    oid = order_of(session, r.id).id

    def opened(client) -> dict:
        page = client.get(f"/admin/work-order/action/reassign?pks={oid}")
        assert page.status_code == 200
        versions = re.search(r'name="versions" value="([\d:,]+)"', page.text)
        assert versions, "the 转派 form carries no version"
        return {"order_ids": str(oid), "versions": versions.group(1)}

    def state():
        order = order_of(session, r.id)
        logs = session.scalar(select(func.count()).select_from(OperationLog)
                              .where(OperationLog.operation == "reassign_work_orders"))
        return order.department_id, order.reassign_note, order.version, logs

    first, second = opened(boss), opened(boss2)
    done = boss.post("/admin/work-order/step/reassign", {**first, "reason": "业主改约", "department_id": str(a.id)})
    assert done.status_code == 303
    reassigned = state()
    assert reassigned[:2] == (a.id, "业主改约") and reassigned[3] == 1

    stale = boss2.post("/admin/work-order/step/reassign", {**second, "reason": "换人", "department_id": str(b.id)})
    assert stale.status_code == 400 and f"以下派工单已被他人修改，请刷新后重试：#{oid}" in html.unescape(stale.text)
    assert state() == reassigned
    bare = boss2.post("/admin/work-order/step/reassign", {"order_ids": str(oid), "reason": "换人",
                                                          "department_id": str(b.id)})
    assert bare.status_code == 400 and "表单缺少版本号" in bare.text and state() == reassigned
    forged = boss2.post("/admin/work-order/step/reassign", {"order_ids": str(oid), "reason": "换人",
                                                            "department_id": str(b.id), "versions": "1:99999999999"})
    assert forged.status_code == 400 and "版本无效" in forged.text and state() == reassigned

    fresh = boss2.post("/admin/work-order/step/reassign", {**opened(boss2), "reason": "换人", "department_id": str(b.id)})
    assert fresh.status_code == 303 and state()[0] == b.id


def test_other_projects_orders_are_out_of_reach(session, console, site):  # A07 on the lifecycle
    r = f.service_request(session, project_=site["p1"])
    session.flush()
    console("boss").post("/admin/service-request/dispatch", {"request_ids": str(r.id)})
    oid = order_of(session, r.id).id
    other = console("other")
    assert other.get(f"/admin/work-order/action/accept?pks={oid}").status_code == 403
    assert other.post("/admin/work-order/step/accept", {"order_ids": str(oid)}).status_code == 403
    assert order_of(session, r.id).status is S.DISPATCHED


# --- the edit and create forms: state moves only through the lifecycle -------------------------------
def _record(session, model, pk) -> dict:
    session.expire_all()
    row = session.get(model, pk)
    return {c.key: getattr(row, c.key) for c in model.__table__.columns}


def test_a_tampered_edit_cannot_close_an_order_or_its_request(session, console, site):
    # received a minute ago: its deadlines are ahead, so a priority change moves them
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"], received_at=utcnow() - dt.timedelta(minutes=1))
    boss = actor_for_user(session, site["boss"])
    dispatch_requests(session, request_ids=[r.id], actor=boss)
    order = order_of(session, r.id)
    accept_work_orders(session, order_ids=[order.id], actor=boss)
    session.flush()
    desk = console("desk")
    form = desk.get(f"/admin/work-order/edit/{order.id}")
    assert form.status_code == 200 and 'name="priority"' in form.text
    for field in ("status", "closed_at", "completed_at", "result", "department", "charge", "reopen_count"):
        assert f'name="{field}"' not in form.text, field
    before, request_before = _record(session, WorkOrder, order.id), _record(session, ServiceRequest, r.id)
    visits = rows(session)[2]

    page = desk.post(f"/admin/work-order/edit/{order.id}", {
        "priority": "urgent", "status": "closed", "closed_at": "2026-11-20 10:00:00",
        "completed_at": "2026-11-20 09:00:00", "result": "已处理", "reopen_count": "0", "charge": "999",
        "department": "", "request": "", "version": str(before["version"]), "save": "保存",
    })
    assert page.status_code == 302, page.text
    after = _record(session, WorkOrder, order.id)
    assert after["priority"] is Priority.URGENT  # the one field the form edits, and the deadlines that follow it
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"priority", "respond_due_at", "complete_due_at", "updated_at", "version"}
    assert (after["status"], after["closed_at"], after["completed_at"], after["result"]) == (S.ACCEPTED, None, None, "")
    assert _record(session, ServiceRequest, r.id) == request_before
    assert rows(session)[2] == visits  # no callback appeared either


def test_editing_the_priority_recomputes_the_deadlines_of_an_open_order_only(session, console, site):
    boss = actor_for_user(session, site["boss"])
    open_r, done_r = (f.service_request(session, project_=site["p1"], unit_=site["unit"],
                                        received_at=utcnow() - dt.timedelta(minutes=1)) for _ in range(2))
    dispatch_requests(session, request_ids=[open_r.id, done_r.id], actor=boss)
    open_o, done_o = order_of(session, open_r.id), order_of(session, done_r.id)
    accept_work_orders(session, order_ids=[open_o.id, done_o.id], actor=boss)
    complete_work_order(session, order_id=done_o.id, result="已修复", actor=boss)
    session.flush()
    desk = console("desk")
    before = _record(session, WorkOrder, open_o.id)
    audits = session.scalar(select(func.count()).select_from(AuditLog))

    # without the CSRF token: refused, nothing changed
    refused = desk.client.post(f"/admin/work-order/edit/{open_o.id}", data={
        "priority": "urgent", "version": str(before["version"]), "save": "保存"}, follow_redirects=False)
    assert refused.status_code == 403
    assert _record(session, WorkOrder, open_o.id) == before

    page = desk.post(f"/admin/work-order/edit/{open_o.id}", {
        "priority": "urgent", "version": str(before["version"]), "save": "保存"})
    assert page.status_code == 302, page.text
    after = _record(session, WorkOrder, open_o.id)
    # 急修：15 分钟响应、4 小时完成, counted from the request's 受理时间 as 派工 counts them
    received = _record(session, ServiceRequest, open_r.id)["received_at"]
    assert (after["priority"], after["respond_due_at"], after["complete_due_at"]) == (
        Priority.URGENT, received + dt.timedelta(minutes=15), received + dt.timedelta(hours=4))
    assert after["version"] == before["version"] + 1
    audit = session.scalar(select(AuditLog).order_by(AuditLog.id.desc()).limit(1))
    assert session.scalar(select(func.count()).select_from(AuditLog)) == audits + 1
    assert (audit.record_id, audit.actor_id) == (str(open_o.id), site["desk"].id)
    assert audit.changes["priority"] == ["normal", "urgent"] and "complete_due_at" in audit.changes

    # a stale form (the version it started from has moved on) is refused, nothing changed
    stale = desk.post(f"/admin/work-order/edit/{open_o.id}", {
        "priority": "low", "version": str(before["version"]), "save": "保存"})
    assert stale.status_code == 400 and "已被他人修改" in stale.text
    assert _record(session, WorkOrder, open_o.id) == after
    # … and so is a form with its version removed (it was saved over whatever had changed since: B13)
    bare = desk.post(f"/admin/work-order/edit/{open_o.id}", {"priority": "low", "version": None, "save": "保存"})
    assert bare.status_code == 400 and "表单缺少版本号，请刷新后重试" in bare.text
    assert _record(session, WorkOrder, open_o.id) == after

    done_before = _record(session, WorkOrder, done_o.id)
    page = desk.post(f"/admin/work-order/edit/{done_o.id}", {
        "priority": "urgent", "version": str(done_before["version"]), "save": "保存"})
    assert page.status_code == 302, page.text
    done_after = _record(session, WorkOrder, done_o.id)
    assert done_after["priority"] is Priority.URGENT and done_after["status"] is S.DONE
    assert (done_after["respond_due_at"], done_after["complete_due_at"]) == (
        done_before["respond_due_at"], done_before["complete_due_at"])


def test_a_tampered_request_edit_cannot_close_it(session, console, site):
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    dispatch_requests(session, request_ids=[r.id], actor=actor_for_user(session, site["boss"]))
    session.flush()
    desk = console("desk")
    form = desk.get(f"/admin/service-request/edit/{r.id}")
    assert form.status_code == 200 and 'name="content"' in form.text
    assert 'name="status"' not in form.text and 'name="closed_at"' not in form.text
    before = _record(session, ServiceRequest, r.id)
    page = desk.post(f"/admin/service-request/edit/{r.id}", {
        "project": str(site["p1"].id), "channel": "phone", "kind": before["kind"].value, "unit": str(site["unit"].id),
        "category": before["category"].value, "priority": "high", "content": "卫生间漏水，楼下天花板渗水",
        "received_at": before["received_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
        "status": "closed", "closed_at": "2026-11-20 10:00:00", "version": str(before["version"]), "save": "保存",
    })
    assert page.status_code == 302, page.text
    after = _record(session, ServiceRequest, r.id)
    assert after["content"] == "卫生间漏水，楼下天花板渗水" and after["priority"] is Priority.HIGH
    assert (after["status"], after["closed_at"]) == (RequestStatus.DISPATCHED, None)
    assert order_of(session, r.id).status is S.DISPATCHED


def test_creating_an_order_in_the_console_is_a_dispatch(session, console, site):
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    engineering = session.scalar(select(Department).where(Department.name == "工程部"))
    session.flush()
    boss = console("boss")
    form = boss.get("/admin/work-order/create")
    assert form.status_code == 200 and 'name="status"' not in form.text
    due = (utcnow() + dt.timedelta(days=2)).astimezone(SHANGHAI).replace(microsecond=0)
    data = {"request": str(r.id), "department": str(engineering.id), "priority": "high",
            "complete_due_at": due.strftime("%Y-%m-%d %H:%M:%S"), "status": "closed",
            "closed_at": "2026-11-20 10:00:00", "save": "保存"}
    page = boss.post("/admin/work-order/create", data)
    assert page.status_code == 302, page.text
    order = order_of(session, r.id)
    assert (order.status, order.closed_at, order.department_id, order.priority) == (
        S.DISPATCHED, None, engineering.id, Priority.HIGH)
    assert order.complete_due_at == due and order.dispatched_by_id == site["boss"].id
    assert session.get(ServiceRequest, r.id).status is RequestStatus.DISPATCHED
    # the same request again: refused by the dispatch, nothing more written
    before = rows(session)
    again = boss.post("/admin/work-order/create", data)
    assert again.status_code == 400 and "不能再派工" in again.text
    assert rows(session) == before


def test_a_bad_relation_id_on_the_create_form_is_named_and_nothing_is_written(session, console, site):
    """The create form's relation values are read as ids by ``OrderCreateForm`` before 派工 runs."""
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    session.flush()
    with pytest.raises(Refused, match=f"^{label_of(WorkOrder, 'department')}无效：工程部$"):
        OrderCreateForm.read({"request": str(r.id), "department": "工程部"})
    assert OrderCreateForm.read({"request": _pk(r), "department": _pk("__None")}).data == {
        "request": r.id, "department": None, "assignee": None}
    before = rows(session)
    page = console("boss").post("/admin/work-order/create", {"request": str(r.id), "department": "工程部",
                                                             "priority": "high", "save": "保存"})
    assert page.status_code != 302 and rows(session) == before


def test_a_bad_value_on_the_report_pages_is_named_and_nothing_is_queued(session, console, site, orders):
    boss = console("boss")
    before = (session.scalar(select(func.count()).select_from(Job)),
              session.scalar(select(func.count()).select_from(OperationLog)))
    for url, message in (
        ("/admin/department-report?day=2026-02-30", "日期「2026-02-30」无法识别为日期"),
        ("/admin/department-report?department_id=工程部&export=xlsx", f"{label_of(WorkOrder, 'department')}无效：工程部"),
        ("/admin/complaint-stats?month_from=2026-11&project_id=一期", f"{label_of(ServiceRequest, 'project')}无效：一期"),
        ("/admin/complaint-stats?month_from=2026-11&month_to=十二月&export=xlsx", "结束月份"),
    ):
        refused = boss.post(url) if "export=" in url else boss.get(url)  # 导出 is the page's POST
        assert refused.status_code == 400 and message in html.unescape(refused.text), url
    session.expire_all()
    assert (session.scalar(select(func.count()).select_from(Job)),
            session.scalar(select(func.count()).select_from(OperationLog))) == before


def _buttons(client, oid: int) -> list[str]:
    page = client.get(f"/admin/work-order/details/{oid}")
    assert page.status_code == 200
    return re.findall(rf"/admin/work-order/action/([\w-]+)\?pks={oid}\b", page.text)


def test_detail_page_shows_the_steps_the_status_allows_in_lifecycle_order(session, console, site):
    boss = actor_for_user(session, site["boss"])
    a, b = (f.service_request(session, project_=site["p1"], unit_=site["unit"]) for _ in range(2))
    dispatch_requests(session, request_ids=[a.id, b.id], actor=boss)
    new, closed = order_of(session, a.id), order_of(session, b.id)
    session.flush()
    client = console("boss")
    assert _buttons(client, new.id) == ["accept", "reassign"]
    accept_work_orders(session, order_ids=[new.id, closed.id], actor=boss)
    session.flush()
    assert _buttons(client, new.id) == ["reassign", "complete"]
    complete_work_order(session, order_id=closed.id, result="已修复", actor=boss)
    session.flush()
    assert _buttons(client, closed.id) == ["callback"]
    callback_work_order(session, order_id=closed.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED, actor=boss)
    session.flush()
    assert _buttons(client, closed.id) == ["close"]
    close_work_orders(session, order_ids=[closed.id], actor=boss)
    session.flush()
    assert _buttons(client, closed.id) == []
    # the list offers every step, in lifecycle order; the front desk lacks 转派
    listing = client.get("/admin/work-order/list").text
    assert re.findall(r"/admin/work-order/action/([\w-]+)", listing)[:5] == [
        "accept", "reassign", "complete", "callback", "close"]
    assert _buttons(console("desk"), new.id) == ["complete"]


def test_completing_a_reworked_paid_service_keeps_its_quote_and_charge(session, console, site):
    boss = actor_for_user(session, site["boss"])
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    dispatch_requests(session, request_ids=[r.id], actor=boss)
    order = order_of(session, r.id)
    # the quote is accepted when the work starts (接单), through the step page
    page = console("boss").get(f"/admin/work-order/action/accept?pks={order.id}")
    assert page.status_code == 200 and 'name="quote"' in page.text and "业主接受后方可开工" in page.text
    unquoted = console("boss").post("/admin/work-order/step/accept", {"order_ids": str(order.id), "paid_service": "1",
                                                                      "quote": "100"})
    assert unquoted.status_code == 400 and order_of(session, r.id).status is WorkOrderStatus.DISPATCHED
    accepted = console("boss").post("/admin/work-order/step/accept", {"order_ids": str(order.id), "paid_service": "1",
                                                                      "quote": "100", "quote_accepted": "1"})
    assert accepted.status_code == 303
    complete_work_order(session, order_id=order.id, result="更换水龙头", charge="80", actor=boss)
    callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.UNSATISFIED, actor=boss)
    session.flush()
    page = console("boss").get(f"/admin/work-order/action/complete?pks={order.id}")
    assert page.status_code == 200
    assert "业主已确认报价 100.00 元" in page.text and 'name="quote"' not in page.text
    assert 'name="charge" inputmode="decimal" value="80.00"' in page.text


def test_a_quote_typed_without_ticking_paid_service_is_refused_not_dropped(session, console, site):
    """报价 typed and 业主已接受 ticked, 有偿服务 forgotten: the order was accepted as free and the quote dropped, so
    the charge could never be recorded at 完工. Now refused naming the box to tick, the order untouched."""
    boss = actor_for_user(session, site["boss"])
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    dispatch_requests(session, request_ids=[r.id], actor=boss)
    order = order_of(session, r.id)
    client = console("boss")
    for form in ({"quote": "120", "quote_accepted": "1"}, {"quote": "120"}, {"quote_accepted": "1"}):
        refused = client.post("/admin/work-order/step/accept", {"order_ids": str(order.id), **form})
        assert refused.status_code == 400 and "请勾选「有偿服务」" in html.unescape(refused.text)
        o = order_of(session, r.id)
        assert (o.status, o.paid_service, o.quote, o.accepted_at) == (WorkOrderStatus.DISPATCHED, False, 0, None)
    assert client.post("/admin/work-order/step/accept", {"order_ids": str(order.id), "quote": " "}).status_code == 303
    assert order_of(session, r.id).status is WorkOrderStatus.ACCEPTED


def test_a_quote_or_charge_that_is_not_a_number_is_refused_in_chinese(session, console, site):
    """「NaN」 typed as a quote or a charge (Decimal reads it as not-a-number) was a 500: refused by name, nothing
    written."""
    boss = actor_for_user(session, site["boss"])
    r = f.service_request(session, project_=site["p1"], unit_=site["unit"])
    dispatch_requests(session, request_ids=[r.id], actor=boss)
    order = order_of(session, r.id)
    client = console("boss")
    for typed in ("NaN", "nan", "Infinity"):
        refused = client.post("/admin/work-order/step/accept", {"order_ids": str(order.id), "paid_service": "1",
                                                               "quote": typed, "quote_accepted": "1"})
        assert refused.status_code == 400 and f"{label_of(WorkOrder, 'quote')}不是有效的数字：{typed}" in html.unescape(refused.text)
        o = order_of(session, r.id)
        assert (o.status, o.paid_service, o.quote, o.accepted_at) == (WorkOrderStatus.DISPATCHED, False, 0, None)
    assert client.post("/admin/work-order/step/accept", {"order_ids": str(order.id), "paid_service": "1",
                                                         "quote": "100", "quote_accepted": "1"}).status_code == 303
    for typed in ("NaN", "-5"):
        refused = client.post("/admin/work-order/step/complete", {"order_ids": str(order.id), "result": "更换水龙头",
                                                                 "charge": typed})
        assert refused.status_code == 400 and label_of(WorkOrder, "charge") in html.unescape(refused.text)
        o = order_of(session, r.id)
        assert (o.status, o.charge, o.result, o.completed_at) == (WorkOrderStatus.ACCEPTED, 0, "", None)
    done = client.post("/admin/work-order/step/complete", {"order_ids": str(order.id), "result": "更换水龙头",
                                                          "charge": "８０", "versions": f"{o.id}:{o.version}"})
    assert done.status_code == 303
    o = order_of(session, r.id)
    assert (o.status, o.charge) == (WorkOrderStatus.DONE, Decimal("80.00"))


# --- SLA list, callbacks, reports --------------------------------------------------------------------
@pytest.fixture
def orders(session, site):
    """Three orders of P1: one overdue (received 30 h ago), one due soon (23 h ago, accepted), one done."""
    now = utcnow()
    boss = actor_for_user(session, site["boss"])
    late = f.service_request(session, project_=site["p1"], received_at=now - dt.timedelta(hours=30))
    soon = f.service_request(session, project_=site["p1"], received_at=now - dt.timedelta(hours=23))
    done = f.service_request(session, project_=site["p1"], kind=RequestKind.COMPLAINT, content="{{7*7}} 噪音")
    done.contact_phone = "13911112222"
    dispatch_requests(session, request_ids=[late.id, soon.id, done.id], actor=boss)
    ids = {k: order_of(session, r.id).id for k, r in {"late": late, "soon": soon, "done": done}.items()}
    accept_work_orders(session, order_ids=[ids["soon"], ids["done"]], actor=boss)
    complete_work_order(session, order_id=ids["done"], result="已劝导", actor=boss)
    session.flush()
    return ids


def listed(page) -> set[int]:
    return {int(i) for i in re.findall(r'/admin/work-order/details/(\d+)', page.text)}


def test_the_request_list_filters_by_each_status(session, console, site):
    made = {}
    for status in RequestStatus:
        request = f.service_request(session, project_=site["p1"])
        request.status = status
        made[status] = request.id
    session.flush()
    boss = console("boss")
    for status, request_id in made.items():
        page = boss.get(f"/admin/service-request/list?status={status.value}")
        assert page.status_code == 200
        assert {int(i) for i in re.findall(r"/admin/service-request/details/(\d+)", page.text)} == {request_id}, status
    # the stage is the index's key, none of the record's facts
    details = boss.get(f"/admin/service-request/details/{made[RequestStatus.PENDING]}")
    assert details.status_code == 200 and "待派工" in details.text and "办理阶段" not in details.text


def test_sla_filter_highlight_and_phone_search(session, console, site, orders):
    desk = console("desk")
    overdue = desk.get("/admin/work-order/list?sla=overdue")
    assert overdue.status_code == 200 and listed(overdue) == {orders["late"]}
    assert "wuye-overdue" in overdue.text and "已超时" in overdue.text
    soon = desk.get("/admin/work-order/list?sla=due_soon")
    assert listed(soon) == {orders["soon"]} and "wuye-due-soon" in soon.text
    found = desk.get("/admin/work-order/list?search=13911112222")
    assert listed(found) == {orders["done"]}


def test_each_deadline_column_is_marked_by_its_own_deadline(session, console, site):
    """完成时限 was marked 「即将到期」 when only the response (响应时限) was near: an order just dispatched, to be
    answered within the hour but done only tomorrow, showed 完成时限 「明天 … 即将到期」. Each column is marked by the
    deadline it shows — 响应时限 while the order is not accepted, 完成时限 while it is open."""
    now = utcnow().replace(second=0, microsecond=0)
    r = f.service_request(session, project_=site["p1"])
    dispatch_requests(session, request_ids=[r.id], actor=actor_for_user(session, site["boss"]))
    order = order_of(session, r.id)
    order.respond_due_at, order.complete_due_at = now + dt.timedelta(minutes=40), now + dt.timedelta(hours=20)
    session.flush()
    respond, complete = (local_datetime(d) for d in (order.respond_due_at, order.complete_due_at))
    page = html.unescape(console("desk").get("/admin/work-order/list").text)
    assert f"{respond} 即将到期" in page and complete in page and f"{complete} 即将到期" not in page
    order.complete_due_at = now + dt.timedelta(minutes=90)  # both near now: both marked
    session.flush()
    page = html.unescape(console("desk").get("/admin/work-order/list").text)
    assert f"{local_datetime(order.complete_due_at)} 即将到期" in page
    accept_work_orders(session, order_ids=[order.id], actor=actor_for_user(session, site["boss"]))
    order.complete_due_at = now + dt.timedelta(hours=20)  # accepted: the response is met, the completion far off
    session.flush()
    page = html.unescape(console("desk").get("/admin/work-order/list").text)
    assert "wuye-due-soon" not in page and "wuye-overdue" not in page


def test_callbacks_page_lists_done_orders_for_desk_not_cashier(session, console, site, orders):
    page = console("desk").get("/admin/callbacks")
    assert page.status_code == 200 and f"#{orders['done']}" in page.text and "{{7*7}} 噪音" in page.text
    assert f"/admin/work-order/action/callback?pks={orders['done']}" in page.text
    assert console("cashier").get("/admin/callbacks").status_code == 403


def test_department_report_print_and_export(session, console, site, orders):
    engineering = session.scalar(select(Department.id).where(Department.name == "工程部"))
    boss, desk = console("boss"), console("desk")
    page = desk.get(f"/admin/department-report?department_id={engineering}")
    assert page.status_code == 200 and "未完成 2 单（其中超时 1 单），当日完工 1 单" in page.text
    printed = desk.get(f"/admin/department-report?department_id={engineering}&print=1")
    assert '<link rel="icon" href="http://testserver/static/wuye/img/favicon.svg">' in printed.text
    assert printed.status_code == 200 and "<nav" not in printed.text and "工程部派工日报" in printed.text
    assert desk.post(f"/admin/department-report?department_id={engineering}&export=xlsx").status_code == 403
    before_ops = session.scalar(select(func.count()).select_from(OperationLog))
    xlsx = boss.job_file(boss.post_job(f"/admin/department-report?department_id={engineering}&export=xlsx"))
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 5  # title, header, the two open orders and the one completed today
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OperationLog)) == before_ops + 1


def test_complaint_statistics_page_and_export(session, console, site, orders):
    boss = console("boss")
    month = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    page = boss.get(f"/admin/complaint-stats?month_from={month}")
    assert page.status_code == 200 and "投诉处理率" in page.text and "锦绣华庭" in page.text
    assert "未达标" in page.text  # one complaint received, none closed
    bad = boss.get("/admin/complaint-stats?month_from=2025-13")
    assert bad.status_code == 400 and "月份格式" in bad.text
    xlsx = boss.job_file(boss.post_job(f"/admin/complaint-stats?month_from={month}&export=xlsx"))
    assert xlsx.status_code == 200
    header = next(openpyxl.load_workbook(io.BytesIO(xlsx.content))["投诉统计"].iter_rows(min_row=2, values_only=True))
    assert header[:3] == ("项目", "月份", "受理投诉")
    assert console("desk").post(f"/admin/complaint-stats?month_from={month}&export=xlsx").status_code == 403


def test_visit_plan_lists_households_and_records_a_visit_with_a_complaint(session, console, site):
    desk = console("desk")
    page = desk.get(f"/admin/visit-plan?project_id={site['p1'].id}")
    assert page.status_code == 200 and "5栋-0802" in page.text and "应走访 1 户" in page.text
    before = rows(session)
    done = desk.post("/admin/visit-plan", {"project_id": site["p1"].id, "unit_id": site["unit"].id, "way": "door",
                                           "result": "basic", "issues_raised": "电梯经常停运", "complaint": "1"})
    assert done.status_code == 303
    assert rows(session) == (before[0] + 1, before[1], before[2] + 1)
    after = desk.get(done.headers["location"])
    assert "应走访 0 户" in after.text and "已转为投诉" in after.text
    assert console("cashier").get(f"/admin/visit-plan?project_id={site['p1'].id}").status_code == 403


def test_the_visit_form_names_the_unit_by_its_label(session, console, site):
    """登记走访's heading names the household as the list does (5栋-0802), not by its record number; a unit of
    another project, or none, offers no form and says so."""
    page = console("desk").get(f"/admin/visit-plan?project_id={site['p1'].id}&unit_id={site['unit'].id}")
    assert re.search(r"登记走访：\s*5栋-0802", page.text) and f"#{site['unit'].id}" not in page.text
    elsewhere = f.unit(session, project_=site["p2"], building_=f.building(session, project_=site["p2"], name="9栋"),
                       room_no="0101")
    session.flush()
    for unit_id in (elsewhere.id, 99999999):
        page = console("desk").get(f"/admin/visit-plan?project_id={site['p1'].id}&unit_id={unit_id}")
        assert page.status_code == 200 and "登记走访：" not in page.text and "9栋-0101" not in page.text
        assert "所选房屋不在本项目中" in page.text


def test_a_visit_form_sent_twice_records_one_visit_and_one_complaint(session, console, site):
    """登记走访 with 转为投诉 clicked twice recorded two visits and two complaints (the month's 受理投诉 doubled). The
    page's form now carries a one-time token: sent again it answers with the visit recorded, and writes nothing."""
    desk = console("desk")
    page = desk.get(f"/admin/visit-plan?project_id={site['p1'].id}&unit_id={site['unit'].id}")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text).group(1)
    form = {"project_id": site["p1"].id, "unit_id": site["unit"].id, "way": "door", "result": "unsatisfied",
            "issues_raised": "楼上漏水到我家，多次反映未处理", "complaint": "1", "form_token": token}
    before = rows(session)
    assert desk.post("/admin/visit-plan", form).status_code == 303
    once = rows(session)
    assert once == (before[0] + 1, before[1], before[2] + 1)
    again = desk.post("/admin/visit-plan", form)
    assert again.status_code == 303 and rows(session) == once
    assert "该表单已提交过" in desk.get(again.headers["location"]).text
    visit = session.scalars(select(Visit).where(Visit.form_token == token)).one()
    complaint = session.get(ServiceRequest, visit.request_id)
    assert (complaint.kind, complaint.content) == (RequestKind.COMPLAINT, "楼上漏水到我家，多次反映未处理")
    # a fresh page is a fresh form: the next visit is recorded
    fresh = re.search(r'name="form_token" value="([0-9a-f]{32})"',
                      desk.get(f"/admin/visit-plan?project_id={site['p1'].id}&unit_id={site['unit'].id}").text).group(1)
    assert fresh != token
    assert desk.post("/admin/visit-plan", {**form, "complaint": "", "form_token": fresh}).status_code == 303
    assert rows(session) == (once[0], once[1], once[2] + 1)


def test_my_first_responsibility_page_lists_the_open_matters(session, console, site):
    guard = f.staff(session, project_=site["p1"], name="保安老周", position=StaffPosition.GUARD)
    session.flush()
    desk = console("desk")
    page = desk.get("/admin/intake")
    assert "保安老周" in page.text and 'name="first_staff_id"' in page.text
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    done = desk.post("/admin/intake", {"project_id": site["p1"].id, "channel": "visit", "kind": "repair_public",
                                       "category": "other", "priority": "normal", "pick": "", "form_token": token,
                                       "content": "地库灯不亮", "first_staff_id": str(guard.id)})
    assert done.status_code == 303
    request = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id.desc())).first()
    assert (request.first_staff_id, request.receiver_id) == (guard.id, site["desk"].id)
    listing = desk.get(f"/admin/first-responsibility?staff_id={guard.id}")
    assert listing.status_code == 200 and "我的首问：保安老周" in listing.text and "地库灯不亮" in listing.text
    assert "共 1 件未办结" in listing.text
    assert "没有未办结的首问诉求" in desk.get("/admin/first-responsibility").text  # the desk's own: none
    assert desk.get("/admin/first-responsibility?staff_id=abc").status_code == 400


def test_a_dispatched_requests_history_lists_its_orders_dispatch_row(session, console, site):
    """One audit row per dispatched order records the request turning 已派工: the request's 变更记录 lists it
    beside the request's own rows, and no row of another request's order."""
    f.user(session, username="root", superuser=True)
    r, other = (f.service_request(session, project_=site["p1"], unit_=site["unit"]) for _ in range(2))
    dispatch_requests(session, request_ids=[r.id, other.id], actor=actor_for_user(session, site["boss"]))
    session.flush()
    order = order_of(session, r.id)
    # the order's later rows are its own trail's
    accept_work_orders(session, order_ids=[order.id], actor=actor_for_user(session, site["boss"]))
    session.flush()
    expected = set(session.scalars(select(AuditLog.id).where(or_(
        (AuditLog.table_name == "service_request") & (AuditLog.record_id == str(r.id)),
        (AuditLog.table_name == "work_order") & (AuditLog.record_id == str(order.id))
        & (AuditLog.kind == AuditKind.INSERT)))))
    page = console("root").get(f"/admin/audit-log/list?table_name=service_request&record_id={r.id}")
    assert page.status_code == 200
    listed = {int(i) for i in re.findall(r"/admin/audit-log/details/(\d+)", page.text)}
    assert listed == expected and len(expected) == 2  # its creation and its order's dispatch
    huge = console("root").get("/admin/audit-log/list?table_name=service_request&record_id=99999999999999999999")
    assert huge.status_code == 200 and not re.findall(r"/admin/audit-log/details/(\d+)", huge.text)  # no record
