"""工作台 (actions/workbench.py, queues.py, the top of the home page): each role's queue counts the records
waiting for it within its projects, and each count opens exactly those records."""

from __future__ import annotations

import datetime as dt
import html
import re

from models import MailItem, RequestKind, RequestStatus, utcnow
from tests import factories as f


def tiles(page) -> dict[str, tuple[int, str]]:
    """data-task → (count, href) of the 工作台 tiles."""
    found = re.findall(r'<a class="wuye-task[^"]*" href="([^"]*)" data-task="([^"]+)">\s*'
                       r'<span class="wuye-task-count">(\d+)</span>', page.text)
    return {key: (int(count), html.unescape(href)) for href, key, count in found}


def listed(c, href: str) -> int:
    page = c.get(href)
    assert page.status_code == 200, href
    match = re.search(r"共 (\d+) 条", re.sub(r"<[^>]+>", " ", page.text))
    return int(match.group(1)) if match else 0


def test_the_front_desk_sees_its_own_queue_and_each_count_opens_its_records(console, session):
    p1, p2 = f.project(session), f.project(session)
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    other = f.user(session, username="desk2", roles=["前台客服"], projects=[p1])
    unit = f.unit(session, project_=p1)
    mine = f.service_request(session, project_=p1, unit_=unit, receiver=desk)
    f.service_request(session, project_=p1, unit_=unit, receiver=other)
    f.service_request(session, project_=p2)  # another project's: never counted
    closed = f.service_request(session, project_=p1, receiver=desk, kind=RequestKind.INQUIRY)
    closed.status = RequestStatus.ANSWERED
    now = utcnow()
    session.add_all([
        MailItem(project=p1, recipient="张伟", received_at=now - dt.timedelta(days=1)),
        MailItem(project=p1, recipient="李娜", received_at=now - dt.timedelta(days=2), picked_up_at=now,
                 picked_up_by="李娜"),
        MailItem(project=p2, recipient="王芳", received_at=now),
    ])
    session.flush()

    c = console("desk")
    page = c.get("/admin/")
    assert page.status_code == 200 and "我的工作台" in page.text
    got = tiles(page)
    assert set(got) >= {"requests_pending", "callbacks_due", "first_asked", "mail_waiting", "loans_due"}
    assert "runs_to_approve" not in got and "arrears_to_chase" not in got  # not a front desk's queue
    assert got["requests_pending"][0] == 2 and got["first_asked"][0] == 1 and got["mail_waiting"][0] == 1
    assert got["callbacks_due"][0] == 0 and got["loans_due"][0] == 0
    for key, (count, href) in got.items():
        assert listed(c, href) == count, key
    first = c.get(got["first_asked"][1]).text
    assert f"/service-request/details/{mine.id}" in first and "我的首问" in first
    assert "wuye-drill-caption" in first  # what the list holds, said at its top


def test_a_manager_is_told_a_power_cut_list_awaits_approval(console, session):
    from models import DunningRun, DunningRunStatus, DunningStage

    p1 = f.project(session)
    f.user(session, username="boss", roles=["客服经理"], projects=[p1])
    session.add(DunningRun(project=p1, run_key="k1", cycle="2026-11", stage=DunningStage.CUTOFF,
                           as_of=dt.date(2026, 11, 20), status=DunningRunStatus.PROPOSED))
    session.flush()
    c = console("boss")
    got = tiles(c.get("/admin/"))
    assert got["runs_to_approve"][0] == 1 and listed(c, got["runs_to_approve"][1]) == 1
    assert "major_open" in got and "kpis_off_target" in got
    assert "mail_waiting" not in got
    assert got["kpis_off_target"][1] == "#wuye-kpi-board"


def test_an_engineer_accepts_and_completes_the_orders_of_their_department(console, session):
    from sqlalchemy import select

    from actions.actor import SYSTEM
    from actions.work_orders import dispatch_requests
    from models import Department, Staff, StaffPosition, WorkOrder, WorkOrderStatus

    p1 = f.project(session)
    engineering = session.scalar(select(Department).where(Department.name == "工程部", Department.project_id.is_(None)))
    guard = session.scalar(select(Department).where(Department.name == "安保部", Department.project_id.is_(None)))
    me = Staff(project=p1, name="李师傅", employee_no="E1", position=StaffPosition.ENGINEER, department=engineering)
    session.add(me)
    session.flush()
    user = f.user(session, username="fixer", roles=["工程部"], projects=[p1])
    user.staff_id = me.id
    mine = f.service_request(session, project_=p1, unit_=f.unit(session, project_=p1))
    theirs = f.service_request(session, project_=p1)
    dispatch_requests(session, request_ids=[mine.id], department_id=engineering.id, actor=SYSTEM)
    dispatch_requests(session, request_ids=[theirs.id], department_id=guard.id, actor=SYSTEM)
    session.flush()
    order = session.scalar(select(WorkOrder).where(WorkOrder.request_id == mine.id))

    c = console("fixer")
    got = tiles(c.get("/admin/"))
    assert set(got) == {"orders_to_accept", "orders_in_hand", "orders_overdue"}
    assert got["orders_to_accept"][0] == 1 and listed(c, got["orders_to_accept"][1]) == 1
    done = c.post("/admin/work-order/step/accept", {"order_ids": str(order.id)})
    assert done.status_code == 303 and done.headers["location"].endswith(f"/admin/work-order/details/{order.id}")
    session.refresh(order)
    done = c.post("/admin/work-order/step/complete", {"order_ids": str(order.id), "result": "更换水龙头",
                                                      "versions": f"{order.id}:{order.version}"})
    assert done.status_code == 303
    session.expire_all()
    assert session.get(WorkOrder, order.id).status is WorkOrderStatus.DONE
    page = c.get(f"/admin/work-order/details/{order.id}")
    assert "处理经过" in page.text and "更换水龙头" in page.text
    # not a front desk's or supervisor's: no callback, no dispatch
    assert c.post("/admin/work-order/step/callback", {"order_ids": str(order.id)}).status_code == 403


def test_the_open_major_complaints_are_counted_from_their_own_index(console, session):
    from types import SimpleNamespace

    from sqlalchemy import func, select, text

    from actions import queues
    from models import ServiceRequest

    p1, p2 = f.project(session), f.project(session)
    f.user(session, username="boss", roles=["客服经理"], projects=[p1])

    def complaint(project_, *, major=True, status=None, closed=False):
        row = f.service_request(session, project_=project_, kind=RequestKind.COMPLAINT)
        row.complaint_major = major
        row.status = status or row.status
        row.closed_at = utcnow() if closed else None
        return row

    complaint(p1)
    complaint(p1)
    complaint(p1, major=False)
    complaint(p1, status=RequestStatus.CLOSED, closed=True)
    complaint(p1, status=RequestStatus.CANCELLED)
    complaint(p2)  # another project's: never counted
    session.flush()

    c = console("boss")
    count, href = tiles(c.get("/admin/"))["major_open"]
    assert count == 2 and listed(c, href) == 2

    # The home page counts them on every view: read from the partial index of the open major ones (the queue's
    # predicate and the index's must stay spelled alike, or the count scans every complaint again).
    count_sql = select(func.count()).select_from(ServiceRequest).where(
        queues.major_open(SimpleNamespace(project_ids=[p1.id])))
    connection = session.connection()
    compiled = str(count_sql.compile(connection, compile_kwargs={"literal_binds": True}))
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL enable_seqscan = off"))  # a handful of rows: a scan would be cheaper
        # the statistics this handful leaves, not those of whatever the database held before (autovacuum may be off)
        connection.execute(text("ANALYZE service_request"))
        plan = " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + compiled))
    else:
        plan = " ".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled))
    assert "ix_service_request_major_open" in plan, plan


def test_my_first_asked_on_the_home_page_is_the_first_asked_page(console, session):
    """首问负责制 (001 八): the 工作台's 「我的首问」 counted the requests the desk had keyed in — also one taken for the
    guard the owner stopped, its 首问负责人 — and not one a colleague keyed in naming the desk's own 员工 record; the
    我的首问 page listed by 首问负责人 and counted 已答复 ones as still open (qiantai: 21 on the home page, 124 on the
    page). Both now read the same: the requests naming the user's 员工 record, 待派工 or 已派工."""
    from models import StaffPosition

    p1 = f.project(session)
    clerk = f.staff(session, project_=p1, name="前台小李")
    guard = f.staff(session, project_=p1, name="保安老周", position=StaffPosition.GUARD)
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    desk.staff_id = clerk.id
    other = f.user(session, username="desk2", roles=["前台客服"], projects=[p1])
    unit = f.unit(session, project_=p1)
    own = f.service_request(session, project_=p1, unit_=unit, receiver=desk)
    own.first_staff_id = clerk.id
    for_guard = f.service_request(session, project_=p1, unit_=unit, receiver=desk)
    for_guard.first_staff_id = guard.id
    by_colleague = f.service_request(session, project_=p1, unit_=unit, receiver=other)
    by_colleague.first_staff_id = clerk.id
    answered = f.service_request(session, project_=p1, receiver=desk, kind=RequestKind.INQUIRY)
    answered.first_staff_id, answered.status = clerk.id, RequestStatus.ANSWERED
    session.flush()

    c = console("desk")
    count, href = tiles(c.get("/admin/"))["first_asked"]
    listed_ids = set(map(int, re.findall(r"/service-request/details/(\d+)", c.get(href).text)))
    assert (count, listed_ids) == (2, {own.id, by_colleague.id})
    page = re.sub(r"<[^>]+>", " ", c.get("/admin/first-responsibility").text)
    assert "共 2 件" in page and f"#{for_guard.id} " not in page and f"#{answered.id} " not in page


def test_answered_requests_left_open_are_shown_to_the_desk_until_closed(console, session):
    """已答复 rows of older records and imports (答复办结 now closes a request as it answers it) were listed nowhere:
    not 待派工, not 我的首问 — open for ever, unseen; a 报修 or 投诉 among them could not even be dispatched. The
    desk's 工作台 now counts them (已答复待办结) while there are any, the count opens exactly them; 答复办结 closes an
    inquiry with its answer, 派工 takes the repair (its 回访 will close it); the tile then goes away."""
    from sqlalchemy import func, select

    from models import OperationLog, ServiceRequest

    p1, p2 = f.project(session), f.project(session)
    f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    left = f.service_request(session, project_=p1, kind=RequestKind.INQUIRY, content="咨询停车月卡办理")
    theirs = f.service_request(session, project_=p2, kind=RequestKind.INQUIRY)
    repair = f.service_request(session, project_=p1, content="楼道灯不亮")
    for row in (left, theirs, repair):
        row.status, row.reply = RequestStatus.ANSWERED, "已告知到物业中心办理"
    session.flush()
    version = repair.version
    c = console("desk")
    got = tiles(c.get("/admin/"))
    count, href = got["requests_answered"]
    assert count == 2 and listed(c, href) == 2 and f"/service-request/details/{left.id}" in c.get(href).text
    assert "/action/dispatch?" in c.get(f"/admin/service-request/details/{repair.id}").text
    assert c.post("/admin/service-request/dispatch", {"request_ids": str(repair.id)}).status_code == 303
    form = c.get(f"/admin/service-request/action/answer?pks={left.id}").text
    assert "已告知到物业中心办理" in form  # its answer offered
    assert c.post("/admin/service-request/answer", {"request_id": str(left.id), "reply": "已告知到物业中心办理",
                                                    "version": str(left.version)}).status_code == 303
    session.expire_all()
    closed = session.get(ServiceRequest, left.id)
    assert (closed.status, closed.reply) == (RequestStatus.CLOSED, "已告知到物业中心办理") and closed.closed_at
    sent = session.get(ServiceRequest, repair.id)
    assert (sent.status, sent.stage, len(sent.work_orders)) == (RequestStatus.DISPATCHED, "open", 1)
    assert sent.version == version + 1 and sent.reply == "已告知到物业中心办理"  # its answer kept
    assert session.scalar(select(func.count()).select_from(OperationLog)
                          .where(OperationLog.operation == "answer_request")) == 1
    assert "requests_answered" not in tiles(c.get("/admin/"))  # none left: no tile


def test_orders_called_back_satisfied_wait_for_closing_on_the_desks_queue(console, session):
    """「真正的结束是在回访后」: an order called back 满意 waits for 关闭, which 办结s its request. No queue listed them —
    the demo's stayed 已回访 for weeks, their requests open in 我的首问 and out of 投诉处理率. The desk's 工作台 now
    counts them (已回访待关闭工单), the count opens exactly them, and once closed they leave it."""
    from sqlalchemy import select

    from actions.actor import actor_for_user
    from actions.work_orders import (
        accept_work_orders,
        callback_work_order,
        complete_work_order,
        dispatch_requests,
    )
    from models import Satisfaction, ServiceRequest, VisitWay, WorkOrder, WorkOrderStatus

    p1, p2 = f.project(session), f.project(session)
    f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    boss = f.user(session, roles=["客服主管"], projects=[p1, p2])
    ids = {}
    for key, project, satisfied in (("mine", p1, True), ("rework", p1, False), ("theirs", p2, True)):
        actor = actor_for_user(session, boss)
        rid = f.service_request(session, project_=project).id
        dispatch_requests(session, request_ids=[rid], actor=actor)
        oid = session.scalar(select(WorkOrder.id).where(WorkOrder.request_id == rid))
        accept_work_orders(session, order_ids=[oid], actor=actor)
        complete_work_order(session, order_id=oid, result="已修复", actor=actor)
        callback_work_order(session, order_id=oid, way=VisitWay.PHONE, actor=actor,
                            result=Satisfaction.SATISFIED if satisfied else Satisfaction.UNSATISFIED)
        ids[key] = (rid, oid)
    c = console("desk")
    count, href = tiles(c.get("/admin/"))["orders_to_close"]
    assert count == 1 and listed(c, href) == 1
    assert f"/work-order/details/{ids['mine'][1]}" in c.get(href).text
    assert c.post("/admin/work-order/step/close", {"order_ids": str(ids["mine"][1]), "next": ""}).status_code == 303
    session.expire_all()
    assert session.get(WorkOrder, ids["mine"][1]).status is WorkOrderStatus.CLOSED
    assert session.get(ServiceRequest, ids["mine"][0]).status is RequestStatus.CLOSED
    assert tiles(c.get("/admin/"))["orders_to_close"][0] == 0


def test_the_supervisor_is_told_the_notices_due_for_recheck_and_the_weekly_tasks_overdue(console, session):
    """A 整改通知书 past its 整改期限 stayed 已发出 with nothing to say it was due for 复查 (「限期整改」), and a 周计划
    task past its 完成时限 still 未开始 was found only by reading the whole plan (「明确每个任务的责任人和完成时间，避免任务
    拖延或遗漏」). The supervisor's 工作台 counts both (the butler's the notices) and each count opens those records."""
    from models import SHANGHAI, NoticeStatus, PlanSection, RectificationNotice, TaskStatus, WeeklyTask

    p1, p2 = f.project(session), f.project(session)
    f.user(session, username="lead", roles=["客服主管"], projects=[p1])
    f.user(session, username="butler", roles=["楼宇管家"], projects=[p1])
    unit, owner = f.unit(session, project_=p1), f.staff(session, project_=p1)
    today = dt.datetime.now(SHANGHAI).date()
    day = dt.timedelta(days=1)

    def notice(project, code, deadline, status=NoticeStatus.ISSUED, checked_on=None):
        return RectificationNotice(project=project, code=code, unit=unit if project is p1 else f.unit(session,
                                   project_=project), violation="私搭乱建阳台小阁楼", issued_on=deadline - 7 * day,
                                   deadline=deadline, status=status, checked_on=checked_on)

    monday = today - dt.timedelta(days=today.weekday())

    def task(project, text, deadline, status):
        week = deadline - dt.timedelta(days=deadline.weekday())
        return WeeklyTask(project=project, week_start=week, section=PlanSection.ROUTINE, task=text,
                          owner=owner if project is p1 else f.staff(session, project_=project), deadline=deadline,
                          status=status)

    session.add_all([
        notice(p1, "ZG1", today - 3 * day),  # due three days ago: to re-check
        notice(p1, "ZG2", today),  # due today: to re-check
        notice(p1, "ZG3", today + day),  # not yet due
        notice(p1, "ZG4", today - 3 * day, NoticeStatus.RECTIFIED, today - day),  # re-checked
        notice(p2, "ZG5", today - 3 * day),  # another project's
        task(p1, "回访上周完工的维修工单", monday - 4 * day, TaskStatus.NOT_STARTED),
        task(p1, "更新公告栏通知", monday - 5 * day, TaskStatus.DELAYED),
        task(p1, "组织前台服务礼仪培训", monday - 4 * day, TaskStatus.DONE),
        task(p1, "寒潮来临前检查水管防冻", today, TaskStatus.IN_PROGRESS),  # due today: not late yet
        task(p2, "回访上周完工的维修工单", monday - 4 * day, TaskStatus.NOT_STARTED),
    ])
    session.flush()

    # a task of two weeks ago carried into last week (结转) and still open there: one task late, not two
    origin = task(p1, "核对业主通讯录", monday - 11 * day, TaskStatus.NOT_STARTED)
    session.add(origin)
    session.flush()
    carried = task(p1, "核对业主通讯录", monday - 4 * day, TaskStatus.NOT_STARTED)
    carried.carried_from = origin
    session.add(carried)
    session.flush()

    lead = console("lead")
    got = tiles(lead.get("/admin/"))
    assert got["rectifications_due"][0] == 2 and got["tasks_overdue"][0] == 3
    late = lead.get(got["tasks_overdue"][1]).text
    assert f"/weekly-task/details/{carried.id}" in late and f"/weekly-task/details/{origin.id}" not in late
    for key in ("rectifications_due", "tasks_overdue"):
        assert listed(lead, got[key][1]) == got[key][0], key
    listing = lead.get(got["rectifications_due"][1]).text
    assert "ZG1" in listing and "ZG2" in listing and "ZG3" not in listing and "ZG4" not in listing
    assert "到期待复查整改通知书" in listing
    butler = console("butler")
    mine = tiles(butler.get("/admin/"))
    assert mine["rectifications_due"][0] == 2 and "tasks_overdue" not in mine
    session.expire_all()
    assert session.query(RectificationNotice).filter_by(status=NoticeStatus.ISSUED).count() == 4  # only read
