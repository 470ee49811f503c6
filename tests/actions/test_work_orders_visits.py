"""回访 list, 定期走访 plan and visit records (actions/visits.py), and a department's daily report."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from urllib.parse import unquote_plus

import openpyxl
import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.kernel.periods import local_day_bounds
from actions.visits import households_not_visited, record_visit, visit_cycle
from actions.work_orders import (
    accept_work_orders,
    callback_work_order,
    callbacks_due,
    close_work_orders,
    complete_work_order,
    department_report,
    dispatch_requests,
    export_department_report,
)
from models import (
    SHANGHAI,
    Department,
    RequestKind,
    RequestStatus,
    Satisfaction,
    ServiceRequest,
    UnitStatus,
    Visit,
    VisitKind,
    VisitWay,
    WorkOrder,
    utcnow,
)
from tests import factories as f


@pytest.fixture
def site(session):
    p1, p2 = f.project(session), f.project(session)
    butler = f.staff(session, project_=p1, name="赵管家")
    b = f.building(session, project_=p1, name="1栋")
    b.butler_id = butler.id
    units = [f.unit(session, project_=p1, building_=b, room_no=f"10{i}") for i in range(1, 5)]
    units[3].status = UnitStatus.VACANT
    session.flush()
    user = f.user(session, roles=["客服主管"], projects=[p1])
    return {"p1": p1, "p2": p2, "units": units, "actor": actor_for_user(session, user), "user": user}


def test_visit_cycle_is_three_rolling_months():
    assert visit_cycle(dt.date(2025, 2, 14)) == (dt.date(2024, 11, 15), dt.date(2025, 2, 15))
    assert visit_cycle(dt.date(2025, 5, 31)) == (dt.date(2025, 3, 1), dt.date(2025, 6, 1))
    assert visit_cycle(dt.date(2025, 12, 31)) == (dt.date(2025, 10, 1), dt.date(2026, 1, 1))


def test_a_household_is_due_three_months_after_its_last_visit_not_at_a_quarter(session, site):
    """Visited on 01-02: due again from 04-02 (not only in the next quarter, not a quarter later); one visited on
    03-20 is not due on 04-10 though a new quarter began."""
    u1, u2, _, _ = site["units"]
    at = lambda m, d: dt.datetime(2025, m, d, 10, tzinfo=SHANGHAI)  # noqa: E731
    session.add_all([Visit(project_id=site["p1"].id, kind=VisitKind.REGULAR, unit_id=u1.id, visited_at=at(1, 2)),
                     Visit(project_id=site["p1"].id, kind=VisitKind.REGULAR, unit_id=u2.id, visited_at=at(3, 20))])
    session.flush()

    def due(day):
        plan = households_not_visited(session, project_id=site["p1"].id, actor=site["actor"], day=day)
        return {d.unit_id for d in plan.due} & {u1.id, u2.id}

    assert due(dt.date(2025, 3, 31)) == set()
    assert due(dt.date(2025, 4, 1)) == set()  # a new quarter: neither is due yet
    assert due(dt.date(2025, 4, 2)) == {u1.id}  # three months since 01-02
    assert due(dt.date(2025, 6, 19)) == {u1.id}
    assert due(dt.date(2025, 6, 20)) == {u1.id, u2.id}


def test_households_not_visited_in_the_cycle(session, site):
    u1, u2, u3, vacant = site["units"]
    day = dt.date(2025, 5, 20)
    at = lambda m, d: dt.datetime(2025, m, d, 10, tzinfo=SHANGHAI)  # noqa: E731
    session.add_all([
        Visit(project_id=site["p1"].id, kind=VisitKind.REGULAR, unit_id=u1.id, visited_at=at(4, 10)),  # this quarter
        Visit(project_id=site["p1"].id, kind=VisitKind.REGULAR, unit_id=u2.id, visited_at=at(2, 1)),  # over 3 months ago
        Visit(project_id=site["p1"].id, kind=VisitKind.REPAIR, unit_id=u3.id, visited_at=at(5, 1)),  # not a 走访
    ])
    session.flush()
    plan = households_not_visited(session, project_id=site["p1"].id, actor=site["actor"], day=day)
    assert (plan.cycle_start, plan.cycle_end) == (dt.date(2025, 2, 21), dt.date(2025, 5, 21))
    assert (plan.households, plan.visited, plan.not_visited) == (3, 1, 2)  # the vacant unit is no household
    # never visited first, then the longest unvisited
    assert [d.unit_id for d in plan.due] == [u3.id, u2.id]
    assert plan.due[0].butler == "赵管家" and plan.due[0].last_visit_at is None
    assert plan.due[1].last_visit_at == at(2, 1)
    with pytest.raises(NotPermitted):
        households_not_visited(session, project_id=site["p2"].id, actor=site["actor"], day=day)


def test_record_visit_and_raise_a_complaint(session, site):
    u1 = site["units"][0]
    plain = record_visit(session, unit_id=u1.id, actor=site["actor"], notes="一切正常")
    assert plain.request_id is None and session.get(Visit, plain.visit_id).kind is VisitKind.REGULAR
    raised = record_visit(session, unit_id=u1.id, actor=site["actor"], issues_raised="楼道灯坏了一周无人修",
                          complaint=True)
    request = session.get(ServiceRequest, raised.request_id)
    assert (request.kind, request.status, request.unit_id) == (RequestKind.COMPLAINT, RequestStatus.PENDING, u1.id)
    assert request.receiver_id == site["user"].id and request.content == "楼道灯坏了一周无人修"
    assert session.get(Visit, raised.visit_id).request_id == request.id


def test_record_visit_refusals(session, site):
    before = session.scalar(select(func.count()).select_from(Visit))
    foreign = f.unit(session, project_=site["p2"])
    with pytest.raises(NotPermitted):
        record_visit(session, unit_id=foreign.id, actor=site["actor"])
    with pytest.raises(Refused, match="反映问题"):
        record_visit(session, unit_id=site["units"][0].id, actor=site["actor"], complaint=True)
    assert session.scalar(select(func.count()).select_from(Visit)) == before


def _complaint_callback_form(session, site, console, unit, **values) -> tuple:
    """The supervisor's console and a 投诉回访 form of ``unit`` done two hours ago (plus ``values``)."""
    site["user"].username = "zhuguan"
    session.flush()
    done = (utcnow() - dt.timedelta(hours=2)).astimezone(SHANGHAI)
    return console("zhuguan"), {"project": str(site["p1"].id), "kind": "complaint", "way": "phone",
                                "unit": str(unit.id), "visited_at": f"{done:%Y-%m-%d %H:%M:%S}",
                                "result": "satisfied", "notes": "投诉回访", **values}


def test_a_visit_names_a_customer_and_a_complaint_of_its_own_household(session, site, console):
    """The 客户 of a visit is one of the unit's people, the 诉求 it follows up one about that unit: picked from the
    project's lists by a slip (the neighbour 1栋-102's owner) they are refused naming both, nothing written — on
    the 走访记录 form as through record_visit, and on an edit; the unit's own owner and complaint are taken."""
    u1, u2 = site["units"][0], site["units"][1]
    owner = f.customer(session, project_=site["p1"], name="范睿", phone="13400000792", unit_=u1)
    neighbour = f.customer(session, project_=site["p1"], name="万颖", phone="13400000261", unit_=u2)
    earlier = utcnow() - dt.timedelta(hours=3)  # received before the callback below (made 2 hours ago)
    complaint = f.service_request(session, project_=site["p1"], kind=RequestKind.COMPLAINT, unit_=u1,
                                  received_at=earlier)
    other_complaint = f.service_request(session, project_=site["p1"], kind=RequestKind.COMPLAINT, unit_=u2,
                                        received_at=earlier)
    count = lambda: session.scalar(select(func.count()).select_from(Visit))  # noqa: E731
    before = count()
    with pytest.raises(Refused, match="客户 万颖 不是房屋「1栋-101」登记的客户"):
        record_visit(session, unit_id=u1.id, actor=site["actor"], customer_id=neighbour.id)
    with pytest.raises(Refused, match=f"#{other_complaint.id} 是「1栋-102」的诉求"):
        record_visit(session, unit_id=u1.id, actor=site["actor"], kind=VisitKind.COMPLAINT,
                     request_id=other_complaint.id)
    assert count() == before

    client, form = _complaint_callback_form(session, site, console, u1, customer=str(neighbour.id),
                                            request=str(complaint.id))
    refused = client.post("/admin/visit/create", form)
    assert refused.status_code == 400 and "万颖 不是房屋「1栋-101」登记的客户" in refused.text, refused.text[:300]
    assert count() == before
    assert client.post("/admin/visit/create", {**form, "customer": str(owner.id)}).status_code == 302
    visit = session.scalars(select(Visit).where(Visit.unit_id == u1.id)).one()
    assert (visit.customer_id, visit.request_id, visit.kind) == (owner.id, complaint.id, VisitKind.COMPLAINT)
    edit = client.get(f"/admin/visit/edit/{visit.id}")
    version = re.search(r'name="version"[^>]*value="(\d+)"', edit.text) or re.search(
        r'value="(\d+)"[^>]*name="version"', edit.text)
    refused = client.post(f"/admin/visit/edit/{visit.id}",
                          {**form, "customer": str(owner.id), "request": str(other_complaint.id),
                           "version": version.group(1)})
    assert refused.status_code == 400 and "是「1栋-102」的诉求" in refused.text, refused.text[:300]
    session.expire_all()
    assert session.get(Visit, visit.id).request_id == complaint.id


def test_a_callback_is_not_dated_before_the_request_it_follows_up(session, site, console):
    """A 投诉回访 typed with last month's date (「2026-11-01」 for a complaint received on 11-15) was saved: the callback
    stood before the complaint in its 处理经过 and counted in a month the complaint had not come in yet. A visit that
    names the 诉求 it follows up is made after its 受理时间 — refused otherwise, on the form, through record_visit and
    on an edit, naming both times; nothing written. One made after it is recorded as before."""
    u1 = site["units"][0]
    received = (utcnow() - dt.timedelta(days=10)).astimezone(SHANGHAI).replace(microsecond=0)
    complaint = f.service_request(session, project_=site["p1"], kind=RequestKind.COMPLAINT, unit_=u1,
                                  received_at=received)
    count = lambda: session.scalar(select(func.count()).select_from(Visit))  # noqa: E731
    before = count()
    too_early = received - dt.timedelta(days=14)
    with pytest.raises(Refused, match=f"回访时间 {too_early:%Y-%m-%d %H:%M} 早于所回访客户诉求 #{complaint.id} 的受理时间 "
                                      f"{received:%Y-%m-%d %H:%M}：回访须在受理之后"):
        record_visit(session, unit_id=u1.id, actor=site["actor"], kind=VisitKind.COMPLAINT, way=VisitWay.PHONE,
                     request_id=complaint.id, visited_at=too_early)
    assert count() == before

    site["user"].username = "zhuguan"
    session.flush()
    client = console("zhuguan")
    form = {"project": str(site["p1"].id), "kind": "complaint", "way": "phone", "unit": str(u1.id),
            "request": str(complaint.id), "visited_at": f"{too_early:%Y-%m-%d %H:%M:%S}", "result": "satisfied",
            "notes": "投诉回访"}
    refused = client.post("/admin/visit/create", form)
    assert refused.status_code == 400 and "早于所回访客户诉求" in refused.text, refused.text[:300]
    assert count() == before

    after = received + dt.timedelta(days=1)
    assert client.post("/admin/visit/create", {**form, "visited_at": f"{after:%Y-%m-%d %H:%M:%S}"}).status_code == 302
    visit = session.scalars(select(Visit).where(Visit.request_id == complaint.id)).one()
    assert (visit.visited_at, visit.kind) == (after, VisitKind.COMPLAINT)
    moved = client.post(f"/admin/visit/edit/{visit.id}", {**form, "version": str(visit.version)})
    assert moved.status_code == 400 and "回访须在受理之后" in moved.text, moved.text[:300]
    session.expire_all()
    assert session.get(Visit, visit.id).visited_at == after
    # a visit of no request (定期走访) keeps any past date
    assert client.post("/admin/visit/create", {**form, "kind": "regular", "request": ""}).status_code == 302
    assert count() == before + 2


def test_a_complaint_callback_names_the_complaint_it_follows_up(session, site, console):
    """投诉回访 was saved naming no complaint (or a repair): the complaint's 处理经过 never showed it and nobody could
    tell which complaint was followed up. Refused naming what is missing — through record_visit, the 走访记录 form
    and an edit — nothing written; the same visit naming the household's complaint is taken, and a 定期走访 needs none."""
    u1 = site["units"][0]
    # received before the callback the form records (two hours ago): a callback is made after its complaint
    complaint = f.service_request(session, project_=site["p1"], kind=RequestKind.COMPLAINT, unit_=u1,
                                  received_at=utcnow() - dt.timedelta(hours=3))
    repair = f.service_request(session, project_=site["p1"], unit_=u1)
    count = lambda: session.scalar(select(func.count()).select_from(Visit))  # noqa: E731
    before = count()
    with pytest.raises(Refused, match="^投诉回访须选择所回访的投诉（客户诉求）$"):
        record_visit(session, unit_id=u1.id, actor=site["actor"], kind=VisitKind.COMPLAINT)
    with pytest.raises(Refused, match=f"#{repair.id} 是报修\\(户内\\)，不是投诉|#{repair.id} 是.*，不是投诉"):
        record_visit(session, unit_id=u1.id, actor=site["actor"], kind=VisitKind.COMPLAINT, request_id=repair.id)
    assert count() == before

    client, form = _complaint_callback_form(session, site, console, u1)
    refused = client.post("/admin/visit/create", form)
    assert refused.status_code == 400 and "投诉回访须选择所回访的投诉" in refused.text, refused.text[:300]
    assert count() == before
    assert client.post("/admin/visit/create", {**form, "request": str(complaint.id)}).status_code == 302
    visit = session.scalars(select(Visit).where(Visit.unit_id == u1.id)).one()
    assert (visit.kind, visit.request_id) == (VisitKind.COMPLAINT, complaint.id)
    edit = client.get(f"/admin/visit/edit/{visit.id}")
    version = re.search(r'name="version"[^>]*value="(\d+)"', edit.text) or re.search(
        r'value="(\d+)"[^>]*name="version"', edit.text)
    refused = client.post(f"/admin/visit/edit/{visit.id}", {**form, "request": "", "version": version.group(1)})
    assert refused.status_code == 400 and "投诉回访须选择所回访的投诉" in refused.text, refused.text[:300]
    session.expire_all()
    assert session.get(Visit, visit.id).request_id == complaint.id
    regular = record_visit(session, unit_id=u1.id, actor=site["actor"], kind=VisitKind.REGULAR)
    assert session.get(Visit, regular.visit_id).request_id is None


def _done_orders(session, site, n: int) -> list[WorkOrder]:
    reqs = [f.service_request(session, project_=site["p1"], unit_=site["units"][i]) for i in range(n)]
    dispatch_requests(session, request_ids=[r.id for r in reqs], actor=site["actor"])
    orders = [session.scalar(select(WorkOrder).where(WorkOrder.request_id == r.id)) for r in reqs]
    accept_work_orders(session, order_ids=[o.id for o in orders], actor=site["actor"])
    for o in reversed(orders):  # the last one completes first
        complete_work_order(session, order_id=o.id, result="已修复", actor=site["actor"])
    return orders


def test_callbacks_due_oldest_completion_first_and_scoped(session, site):
    orders = _done_orders(session, site, 3)
    total, rows = callbacks_due(session, actor=site["actor"])
    assert total == 3 and [r.id for r in rows] == [o.id for o in reversed(orders)]
    assert rows[0].contact_phone == "138****5678" and rows[0].department == "工程部"
    outsider = actor_for_user(session, f.user(session, roles=["前台客服"], projects=[site["p2"]]))
    assert callbacks_due(session, actor=outsider) == (0, ())


def test_department_daily_report_and_export(session, site):
    done = _done_orders(session, site, 1)[0]
    late = f.service_request(session, project_=site["p1"], received_at=utcnow() - dt.timedelta(days=3),
                             content="=HYPERLINK(\"http://x\")")
    other = f.service_request(session, project_=site["p2"])
    dispatch_requests(session, request_ids=[late.id], actor=site["actor"])
    admin = actor_for_user(session, f.user(session, superuser=True))
    dispatch_requests(session, request_ids=[other.id], actor=admin)
    engineering = session.scalar(select(Department).where(Department.name == "工程部"))
    report = department_report(session, department_id=engineering.id, actor=site["actor"])
    assert [line.id for line in report.lines][-1] == done.id  # later completion deadline last
    assert (report.open_count, report.done_count, report.overdue_count) == (1, 1, 1)
    assert report.lines[0].sla == "overdue" and report.lines[0].content.startswith("=HYPERLINK")

    exported = export_department_report(session, department_id=engineering.id, actor=site["actor"])
    assert exported.rows == 2 and exported.filename.startswith("工程部日报-")
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    header, first = list(sheet.iter_rows(min_row=2, values_only=True))[:2]
    assert header[:3] == ("编号", "项目", "房屋") and first[4] == "=HYPERLINK(\"http://x\")" and first[-1] == "已超时"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as z:
        assert all("<f>" not in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_department_report_of_a_past_day_judges_overdue_as_of_that_evening(session, site):
    today = utcnow().astimezone(SHANGHAI).date()
    past = today - dt.timedelta(days=2)
    _, evening = local_day_bounds(past)
    reqs = [f.service_request(session, project_=site["p1"], received_at=evening - dt.timedelta(days=1))
            for _ in range(2)]
    dispatch_requests(session, request_ids=[r.id for r in reqs], actor=site["actor"])
    late_then, late_since = (session.scalar(select(WorkOrder).where(WorkOrder.request_id == r.id)) for r in reqs)
    accept_work_orders(session, order_ids=[late_then.id, late_since.id], actor=site["actor"])
    session.refresh(late_then)
    session.refresh(late_since)
    for o in (late_then, late_since):  # dispatched and accepted on that day
        o.dispatched_at, o.accepted_at = evening - dt.timedelta(hours=8), evening - dt.timedelta(hours=7)
    late_then.complete_due_at = evening - dt.timedelta(hours=1)  # already late that evening
    late_since.complete_due_at = evening + dt.timedelta(hours=2)  # due after that day ended, late by now
    session.flush()
    engineering = session.scalar(select(Department).where(Department.name == "工程部"))

    then = department_report(session, department_id=engineering.id, actor=site["actor"], day=past)
    assert {line.id: line.sla for line in then.lines} == {late_then.id: "overdue", late_since.id: None}
    assert then.overdue_count == 1
    now = department_report(session, department_id=engineering.id, actor=site["actor"], day=today)
    assert {line.id: line.sla for line in now.lines} == {late_then.id: "overdue", late_since.id: "overdue"}
    assert now.overdue_count == 2
    exported = export_department_report(session, department_id=engineering.id, actor=site["actor"], day=past)
    rows = list(openpyxl.load_workbook(io.BytesIO(exported.content)).active.iter_rows(min_row=2, values_only=True))[1:]
    assert {row[0]: row[-1] for row in rows} == {late_then.id: "已超时", late_since.id: None}


def test_a_work_orders_callback_is_made_only_by_its_callback_step(session, site, console):
    """回访 of a 派工单 through the 走访记录 form would skip its rule (不满意 → 返工, 满意 → may close): the form
    neither links a visit to an order nor changes the result of a visit linked to one."""
    (order,) = _done_orders(session, site, 1)
    site["user"].username = "zhuguan"
    session.flush()
    client = console("zhuguan")
    form = {"project": str(site["p1"].id), "kind": "repair", "way": "phone", "unit": str(site["units"][0].id),
            "visited_at": "2026-12-01 10:00:00", "result": "unsatisfied", "notes": "", "issues_raised": "",
            "work_order": str(order.id)}
    before = session.scalar(select(func.count()).select_from(Visit))
    refused = client.post("/admin/visit/create", form)
    assert refused.status_code == 400 and "派工单的回访须在派工单上办理" in refused.text
    assert session.scalar(select(func.count()).select_from(Visit)) == before
    session.expire_all()
    assert (session.get(WorkOrder, order.id).status, session.get(WorkOrder, order.id).reopen_count) == ("done", 0)
    callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED,
                        actor=site["actor"])
    visit = session.scalars(select(Visit).where(Visit.work_order_id == order.id)).one()
    edit = client.post(f"/admin/visit/edit/{visit.id}", {**form, "version": str(visit.version)})
    assert edit.status_code == 400 and "派工单的回访须在派工单上办理" in edit.text
    session.expire_all()
    assert session.get(Visit, visit.id).result is Satisfaction.SATISFIED
    noted = client.post(f"/admin/visit/edit/{visit.id}", {**form, "result": "satisfied", "notes": "业主补充：谢谢",
                                                          "version": str(visit.version)})
    assert noted.status_code == 302


def test_a_visit_is_recorded_once_it_happened_not_ahead_of_now(session, site, console):
    """A 走访记录 typed with a 回访时间 next year (a typo of the year) was saved, and such a 定期走访 counts the
    household as visited when its cycle comes: the form is held to what 受理 and the ledgers hold — only what has
    happened is recorded; nothing is written. An edit of an old visit's notes keeps its time."""
    site["user"].username = "zhuguan"
    session.flush()
    client = console("zhuguan")
    ahead = (utcnow() + dt.timedelta(days=200)).astimezone(SHANGHAI)
    form = {"project": str(site["p1"].id), "kind": "regular", "way": "door", "unit": str(site["units"][0].id),
            "visited_at": f"{ahead:%Y-%m-%d %H:%M:%S}", "result": "satisfied", "notes": "例行走访", "issues_raised": ""}
    before = session.scalar(select(func.count()).select_from(Visit))
    refused = client.post("/admin/visit/create", form)
    assert refused.status_code == 400 and f"回访时间 {ahead:%Y-%m-%d %H:%M} 晚于当前时间" in refused.text
    assert session.scalar(select(func.count()).select_from(Visit)) == before
    done = (utcnow() - dt.timedelta(days=2)).astimezone(SHANGHAI)
    assert client.post("/admin/visit/create", {**form, "visited_at": f"{done:%Y-%m-%d %H:%M:%S}"}).status_code == 302
    visit = session.scalars(select(Visit).where(Visit.unit_id == site["units"][0].id)).one()
    assert visit.visited_at == done.replace(microsecond=0) and visit.kind is VisitKind.REGULAR
    moved = client.post(f"/admin/visit/edit/{visit.id}", {**form, "version": str(visit.version)})
    assert moved.status_code == 400 and "晚于当前时间" in moved.text
    session.expire_all()
    assert session.get(Visit, visit.id).visited_at == done.replace(microsecond=0)


def test_the_visit_form_records_through_the_one_visit_action(session, site, console):
    """走访记录 → 新增 is 登记走访 (record_visit), the 定期走访 page's action: its rules (only what has happened, the
    household of the project) and its operation row, one write path; nothing written on a refusal."""
    from models import OperationLog

    site["user"].username = "zhuguan"
    session.flush()
    client = console("zhuguan")
    done = (utcnow() - dt.timedelta(days=1)).astimezone(SHANGHAI)
    form = {"project": str(site["p1"].id), "kind": "special", "way": "phone", "unit": str(site["units"][0].id),
            "visited_at": f"{done:%Y-%m-%d %H:%M:%S}", "result": "basic", "notes": "专项走访", "issues_raised": ""}
    before = session.scalar(select(func.count()).select_from(OperationLog).where(OperationLog.operation == "record_visit"))
    assert client.post("/admin/visit/create", form).status_code == 302
    visit = session.scalars(select(Visit).where(Visit.unit_id == site["units"][0].id)).one()
    assert (visit.kind, visit.way, visit.result, visit.notes) == (VisitKind.SPECIAL, VisitWay.PHONE,
                                                                  Satisfaction.BASIC, "专项走访")
    assert visit.visitor_id == site["user"].id and visit.visited_at == done.replace(microsecond=0)
    assert session.scalar(select(func.count()).select_from(OperationLog)
                          .where(OperationLog.operation == "record_visit")) == before + 1
    # refused as the page refuses: no household, or another project's — nothing written
    count = session.scalar(select(func.count()).select_from(Visit))
    other = f.unit(session, project_=site["p2"])
    session.flush()
    for bad, reason in ((("unit", ""), "请选择房屋"), (("unit", str(other.id)), "不属于所选项目")):
        refused = client.post("/admin/visit/create", {**form, bad[0]: bad[1]})
        assert refused.status_code == 400 and reason in refused.text, refused.text[:200]
    assert session.scalar(select(func.count()).select_from(Visit)) == count


def test_a_closed_orders_callback_is_not_deleted_a_plain_visit_is(session, site, console):
    """「真正的结束是在回访后」: the 回访 that let an order close stays with it — a supervisor's 删除 of it on the
    走访记录 list is refused, the visit and the closed order as they were; a 走访 of no order is deleted."""
    (order,) = _done_orders(session, site, 1)
    callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED,
                        actor=site["actor"])
    close_work_orders(session, order_ids=[order.id], actor=site["actor"])
    callback = session.scalars(select(Visit).where(Visit.work_order_id == order.id)).one()
    plain = record_visit(session, unit_id=site["units"][1].id, actor=site["actor"], notes="例行走访")
    site["user"].username = "zhuguan"
    session.flush()
    client = console("zhuguan")
    before = session.scalar(select(func.count()).select_from(Visit))
    refused = client.delete(f"/admin/visit/delete?pks={callback.id}")  # sqladmin answers with the list URL
    shown = unquote_plus(refused.text)
    assert "error=" in shown and f"该记录是派工单#{order.id}" in shown and "的回访（已关闭），不能删除" in shown
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Visit)) == before
    assert session.get(Visit, callback.id).work_order_id == order.id
    assert session.get(WorkOrder, order.id).status == "closed"
    deleted = client.delete(f"/admin/visit/delete?pks={plain.visit_id}")
    assert deleted.status_code == 200 and "error=" not in deleted.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Visit)) == before - 1
