"""撤销 a dispatched request: 「漏水自己好了」「自己请了师傅」 — the owner calls after the order went out. 撤销诉求 was
refused once a 派工单 existed (orders had no cancelled state), so the order stayed in the department's open list,
the engineer's queue and the figures until someone pretended to complete it. Now the request is withdrawn with a
reason while its order is not done (已派工/处理中), and the order ends 已取消 with it; once 已完工 it goes to its 回访."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions import dashboard, kpis, queues
from actions.actor import actor_for_user
from actions.errors import Refused
from actions.requests import withdraw_request
from actions.scores import compute_scores
from actions.timeline import order_timeline
from actions.work_orders import (
    accept_work_orders,
    callback_work_order,
    change_work_order_priority,
    complete_work_order,
    department_report,
    dispatch_requests,
    reassign_work_orders,
)
from models import (
    SHANGHAI,
    AuditLog,
    EventSource,
    OperationLog,
    Priority,
    RequestStatus,
    Satisfaction,
    ScoreEvent,
    ServiceRequest,
    VisitWay,
    WorkOrder,
    WorkOrderStatus,
    utcnow,
)
from tests import factories as f
from tests.actions.test_work_orders import _in_thread, committed, department  # noqa: F401  (committed: a fixture)
from tests.score_support import MONTH, at, build_org
from tests.score_support import order as overdue_order

S = WorkOrderStatus


@pytest.fixture
def desk(session):
    p = f.project(session, name="锦绣华庭")
    user = f.user(session, username="qiantai", roles=["前台客服"], projects=[p])
    engineer = f.staff(session, project_=p, name="李师傅")
    engineer.department_id = department(session, "工程部").id
    session.flush()
    return {"p": p, "user": user, "actor": actor_for_user(session, user), "engineer": engineer,
            "unit": f.unit(session, project_=p)}


def _dispatched(session, desk, accepted: bool = False) -> tuple[ServiceRequest, WorkOrder]:
    request = f.service_request(session, project_=desk["p"], unit_=desk["unit"], content="卫生间漏水")
    dispatch_requests(session, request_ids=[request.id], actor=desk["actor"],
                      department_id=department(session, "工程部").id, assignee_id=desk["engineer"].id)
    order = session.scalar(select(WorkOrder).where(WorkOrder.request_id == request.id))
    if accepted:
        accept_work_orders(session, order_ids=[order.id], actor=desk["actor"])
    session.expire_all()
    return request, order


def _state(session, *ids: int) -> tuple:
    """The requests and orders of ``ids`` (request ids) as stored, with the trail's and the log's sizes."""
    rows = session.execute(
        select(ServiceRequest.status, ServiceRequest.version, ServiceRequest.reply, ServiceRequest.closed_at,
               WorkOrder.status, WorkOrder.version, WorkOrder.cancelled_at, WorkOrder.cancel_reason,
               WorkOrder.completed_at)
        .join(WorkOrder, WorkOrder.request_id == ServiceRequest.id).where(ServiceRequest.id.in_(ids))
        .order_by(ServiceRequest.id)).all()
    trail = AuditLog.table_name.in_(("service_request", "work_order"))  # not the logins of the test's consoles
    return (tuple(rows), session.scalar(select(func.count()).select_from(AuditLog).where(trail)),
            session.scalar(select(func.count()).select_from(OperationLog)))


def test_the_front_desk_withdraws_a_dispatched_request_and_its_order_is_cancelled(session, console, desk):
    waiting, waiting_order = _dispatched(session, desk)
    taken, taken_order = _dispatched(session, desk, accepted=True)
    client = console("qiantai")
    assert "/action/withdraw?" in client.get(f"/admin/service-request/details/{waiting.id}").text
    page = client.get(f"/admin/service-request/action/withdraw?pks={waiting.id}")
    assert page.status_code == 200 and 'name="reason"' in page.text and 'name="csrf_token"' in page.text

    form = {"request_id": str(waiting.id), "reason": "业主来电：漏水已自行停止", "version": str(waiting.version)}
    for _ in range(2):  # the second: a double click — nothing more written
        assert client.post("/admin/service-request/withdraw", form).status_code == 303
    assert withdraw_request(session, request_id=taken.id, reason="业主已自行请人维修",
                            actor=desk["actor"]).message == (
        f"已撤销诉求 #{taken.id}，派工单 #{taken_order.id} 已取消，不再计入受理与办结统计")
    session.expire_all()

    for request, order, reason in ((waiting, waiting_order, "业主来电：漏水已自行停止"),
                                   (taken, taken_order, "业主已自行请人维修")):
        request, order = session.get(ServiceRequest, request.id), session.get(WorkOrder, order.id)
        assert (request.status, request.reply) == (RequestStatus.CANCELLED, f"撤销原因：{reason}")
        assert (order.status, order.cancel_reason, order.completed_at, order.closed_at) == (
            S.CANCELLED, reason, None, None)
        assert order.cancelled_at == request.closed_at and order.cancelled_at is not None
        # who and when: the order's own audit row
        trail = session.scalars(select(AuditLog).where(AuditLog.table_name == "work_order",
                                                       AuditLog.record_id == str(order.id),
                                                       AuditLog.summary == "撤销派工单")).all()
        assert [(row.actor_id, row.changes["status"], row.changes["cancel_reason"]) for row in trail] == [
            (desk["user"].id, "cancelled", reason)]
        # 处理经过 of the order says who withdrew it and why
        assert any(step.what == "撤销" and step.words == f"撤销原因：{reason}" and step.who
                   for step in order_timeline(session, order_id=order.id, actor=desk["actor"]))
    logs = session.scalars(select(OperationLog).where(OperationLog.operation == "withdraw_request")).all()
    assert [(log.counts, log.actor_id) for log in logs] == [({"withdrawn": 1, "orders_cancelled": 1}, desk["user"].id)] * 2

    # out of the department's open list, the engineer's queues and the open-order figures
    ids = {waiting_order.id, taken_order.id}
    scope = kpis.Drill("orders_open", "", (desk["p"].id,), "")
    for clause in (queues.orders_to_accept(scope), queues.orders_in_hand(scope), scope.where(),
                   kpis.Drill("orders_overdue", "", (desk["p"].id,), "").where()):
        assert not ids & set(session.scalars(select(WorkOrder.id).where(clause)))
    assert dashboard.open_orders(session, scope=kpis.resolve_scope(session, actor=desk["actor"])) == ()
    report = department_report(session, department_id=department(session, "工程部").id, actor=desk["actor"])
    assert report.lines == ()
    shown = client.get(f"/admin/work-order/details/{waiting_order.id}")
    assert shown.status_code == 200 and "已取消" in shown.text and "业主来电：漏水已自行停止" in shown.text
    assert f"/admin/work-order/edit/{waiting_order.id}" not in shown.text  # nothing left to change
    assert client.get(f"/admin/work-order/edit/{waiting_order.id}").status_code == 403
    other = client.get(f"/admin/work-order/details/{_dispatched(session, desk)[1].id}")
    assert re.search(r"撤销原因</t[dh]>\s*<td[^>]*>\s*—", other.text)  # an order not withdrawn: a dash
    listed = client.get("/admin/work-order/list?status=cancelled")
    assert listed.status_code == 200 and f"/admin/work-order/details/{waiting_order.id}" in listed.text


def test_a_cancelled_order_takes_no_further_step(session, desk):
    request, order = _dispatched(session, desk, accepted=True)
    withdraw_request(session, request_id=request.id, reason="业主已自行请人维修", actor=desk["actor"])
    session.expire_all()
    before = _state(session, request.id)
    steps = (
        lambda: accept_work_orders(session, order_ids=[order.id], actor=desk["actor"]),
        lambda: complete_work_order(session, order_id=order.id, result="已修复", actor=desk["actor"]),
        lambda: reassign_work_orders(session, order_ids=[order.id], reason="换人", actor=desk["actor"],
                                     assignee_id=desk["engineer"].id),
        lambda: callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED,
                                    actor=desk["actor"]),
        lambda: change_work_order_priority(session, order_id=order.id, priority=Priority.URGENT, actor=desk["actor"]),
    )
    for step in steps:
        with pytest.raises(Refused, match=r"（已取消）"):
            step()
    assert _state(session, request.id) == before


def test_a_completed_order_is_not_withdrawn_it_goes_to_its_callback(session, console, desk):
    request, order = _dispatched(session, desk, accepted=True)
    complete_work_order(session, order_id=order.id, result="已更换水管", actor=desk["actor"])
    session.expire_all()
    before = _state(session, request.id)
    client = console("qiantai")
    page = client.get(f"/admin/service-request/action/withdraw?pks={request.id}")
    assert f"派工单 #{order.id} 已完工，不能撤销：请回访，满意后随派工单关闭办结" in page.text
    assert 'name="reason"' not in page.text
    assert "/action/withdraw?" not in client.get(f"/admin/service-request/details/{request.id}").text
    refused = client.post("/admin/service-request/withdraw", {"request_id": str(request.id), "reason": "不修了",
                                                              "version": str(session.get(ServiceRequest, request.id).version)})
    assert refused.status_code == 400 and "已完工，不能撤销" in refused.text
    f.user(session, username="shoufei", roles=["收费员"], projects=[desk["p"]])
    session.flush()
    assert console("shoufei").post("/admin/service-request/withdraw", {
        "request_id": str(request.id), "reason": "不修了"}).status_code in (403, 404)
    session.expire_all()
    assert _state(session, request.id) == before


def test_a_withdrawn_order_past_its_deadline_costs_the_engineer_nothing(session):
    """超时工单 counts against the handler (细则): an order the owner withdrew was never late."""
    org = build_org(session)
    p, fixer = org["project"], org["staff"]["c"]
    kept = overdue_order(session, p, fixer, at(2026, 10, 10), None)
    withdrawn = overdue_order(session, p, fixer, at(2026, 10, 12), None)
    withdraw_request(session, request_id=withdrawn.request_id, reason="业主自行维修", actor=org["actor"])
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert set(session.scalars(select(ScoreEvent.source_id).where(
        ScoreEvent.source == EventSource.OVERDUE_ORDER))) == {kept.id}


def test_a_past_days_report_shows_an_order_open_until_it_was_withdrawn(session, desk):
    """日报 of a past day lists the orders open that evening: a withdrawn order up to the day it was withdrawn."""
    request, order = _dispatched(session, desk)
    withdraw_request(session, request_id=request.id, reason="业主自行维修", actor=desk["actor"])
    row = session.get(WorkOrder, order.id)
    today = utcnow().astimezone(SHANGHAI).date()
    row.dispatched_at = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(10), tzinfo=SHANGHAI)
    row.cancelled_at = dt.datetime.combine(today - dt.timedelta(days=2), dt.time(10), tzinfo=SHANGHAI)
    session.flush()
    dept = department(session, "工程部").id
    lines = {day: department_report(session, department_id=dept, actor=desk["actor"],
                                    day=today - dt.timedelta(days=day)).lines for day in (3, 2, 1)}
    assert [(line.id, line.status) for line in lines[3]] == [(order.id, S.DISPATCHED)]
    assert lines[2] == lines[1] == ()


# --- the engineer completes while the front desk withdraws: PostgreSQL, two real transactions ---------------------
def _race_setup(engine, committed):  # noqa: F811
    actor, rid = committed["actor"], committed["request"]
    with Session(engine) as s, s.begin():
        dispatch_requests(s, request_ids=[rid], actor=actor)
        oid = s.scalar(select(WorkOrder.id).where(WorkOrder.request_id == rid))
        accept_work_orders(s, order_ids=[oid], actor=actor)
    return actor, rid, oid


def _stored(engine, rid: int, oid: int) -> tuple:
    with Session(engine) as s:
        request, order = s.get(ServiceRequest, rid), s.get(WorkOrder, oid)
        return request.status, order.status, order.completed_at is not None, order.cancelled_at is not None


def _first_then_second(engine, first, second) -> dict:
    held = Session(engine)
    held.begin()
    first(held)

    def run():
        with Session(engine) as s, s.begin():
            return second(s)

    thread, box = _in_thread(run)
    thread.join(1.0)
    assert thread.is_alive()  # waiting on the first's row lock of the order
    held.commit()
    held.close()
    thread.join(10)
    return box


def test_withdrawing_while_the_engineer_completes_one_wins(engine, committed):  # noqa: F811
    actor, rid, oid = _race_setup(engine, committed)
    box = _first_then_second(
        engine, lambda s: complete_work_order(s, order_id=oid, result="已修复", actor=actor),
        lambda s: withdraw_request(s, request_id=rid, reason="业主自行维修", actor=actor))
    assert isinstance(box.get("error"), Refused) and f"派工单 #{oid} 已完工，不能撤销" in box["error"].message
    assert _stored(engine, rid, oid) == (RequestStatus.DISPATCHED, S.DONE, True, False)


def test_completing_while_the_front_desk_withdraws_one_wins(engine, committed):  # noqa: F811
    actor, rid, oid = _race_setup(engine, committed)
    box = _first_then_second(
        engine, lambda s: withdraw_request(s, request_id=rid, reason="业主自行维修", actor=actor),
        lambda s: complete_work_order(s, order_id=oid, result="已修复", actor=actor))
    assert isinstance(box.get("error"), Refused) and "已被他人处理" in box["error"].message
    assert _stored(engine, rid, oid) == (RequestStatus.CANCELLED, S.CANCELLED, False, True)


def test_a_repair_or_complaint_left_answered_is_dispatched_an_inquiry_is_not(session, desk):
    """已答复 (older records, imports) of a 报修/投诉 had no way out: 派工 took 待派工 only, 答复办结 refuses those kinds.
    It is dispatched now — its answer kept, its stage 未办结 (the CHECK stage_of_status holds on both databases); a
    咨询 已答复 is still refused (答复办结 closes it), nothing written."""
    from models import RequestKind

    repair = f.service_request(session, project_=desk["p"], unit_=desk["unit"])
    complaint = f.service_request(session, project_=desk["p"], unit_=desk["unit"], kind=RequestKind.COMPLAINT)
    inquiry = f.service_request(session, project_=desk["p"], unit_=desk["unit"], kind=RequestKind.INQUIRY)
    for row in (repair, complaint, inquiry):
        row.status, row.reply = RequestStatus.ANSWERED, "已电话答复业主"
    session.flush()
    orders = session.scalar(select(func.count()).select_from(WorkOrder))
    with pytest.raises(Refused, match=rf"#{inquiry.id}（已答复）"):
        dispatch_requests(session, request_ids=[repair.id, inquiry.id], actor=desk["actor"])
    assert session.scalar(select(func.count()).select_from(WorkOrder)) == orders
    result = dispatch_requests(session, request_ids=[repair.id, complaint.id], actor=desk["actor"])
    assert result.created == 2
    session.expire_all()
    for row in (repair, complaint):
        stored = session.get(ServiceRequest, row.id)
        assert (stored.status, stored.stage, stored.reply) == (RequestStatus.DISPATCHED, "open", "已电话答复业主")
        assert [o.status for o in stored.work_orders] == [S.DISPATCHED]
    assert session.get(ServiceRequest, inquiry.id).status is RequestStatus.ANSWERED
