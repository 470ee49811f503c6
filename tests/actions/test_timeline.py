"""处理经过 (actions/timeline.py): every step of a request and its order with who, when and the words — the
owner's words at an unsatisfied callback and the reason of a reassignment survive the rework that follows."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from actions.actor import actor_for_user
from actions.errors import NotPermitted
from actions.timeline import order_timeline, request_timeline
from actions.work_orders import (
    accept_work_orders,
    callback_work_order,
    close_work_orders,
    complete_work_order,
    dispatch_requests,
    reassign_work_orders,
)
from models import Department, Satisfaction, VisitWay, WorkOrder, utcnow
from tests import factories as f


def test_the_whole_story_with_the_words_of_each_step(session):
    p1 = f.project(session)
    user = f.user(session, username="boss", roles=["客服主管"], projects=[p1])
    actor = actor_for_user(session, user)
    request = f.service_request(session, project_=p1, unit_=f.unit(session, project_=p1), content="卫生间漏水到楼下",
                                receiver=user)
    dispatch_requests(session, request_ids=[request.id], actor=actor)
    order = session.scalar(select(WorkOrder).where(WorkOrder.request_id == request.id))
    guard = session.scalar(select(Department).where(Department.name == "安保部", Department.project_id.is_(None)))
    engineering = order.department_id
    accept_work_orders(session, order_ids=[order.id], actor=actor)
    reassign_work_orders(session, order_ids=[order.id], department_id=guard.id, reason="需先入户确认漏点", actor=actor)
    reassign_work_orders(session, order_ids=[order.id], department_id=engineering, reason="已确认漏点，回工程部",
                         actor=actor)
    accept_work_orders(session, order_ids=[order.id], actor=actor)
    complete_work_order(session, order_id=order.id, result="重做防水层", actor=actor)
    callback_work_order(session, order_id=order.id, way=VisitWay.DOOR, result=Satisfaction.UNSATISFIED,
                        notes="楼下天花仍有水渍", issues_raised="要求赔偿涂料", actor=actor)
    complete_work_order(session, order_id=order.id, result="补刷防水并修补楼下天花", actor=actor)
    callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED,
                        notes="业主满意", actor=actor)
    close_work_orders(session, order_ids=[order.id], actor=actor)

    steps = request_timeline(session, request_id=request.id, actor=actor)
    assert steps == order_timeline(session, order_id=order.id, actor=actor)
    whats = [s.what for s in steps]
    assert whats[0].startswith("受理") and steps[0].words == "卫生间漏水到楼下" and steps[0].who == "boss"
    assert whats[1] == f"派工单#{order.id} 派工" and "工程部" in steps[1].words
    assert whats.count("转派") == 2 and whats.count("完工") == 2 and whats[-1] == "关闭"
    words = "\n".join(s.words for s in steps)
    for said in ("需先入户确认漏点", "已确认漏点，回工程部", "重做防水层", "楼下天花仍有水渍", "要求赔偿涂料",
                 "补刷防水并修补楼下天花", "业主满意"):
        assert said in words, said
    rework = [s for s in steps if s.late]
    assert len(rework) == 1 and "不满意，退回返工" in rework[0].what and rework[0].visit_id is not None
    assert all(s.who == "boss" for s in steps) and [s.at for s in steps] == sorted(s.at for s in steps)


def test_the_dispatch_step_says_the_deadline_in_beijing_time(session):
    # 完成时限 is stored in UTC: 01:51 UTC is 09:51 in Beijing, the time the order's list and the dispatch page show
    p1 = f.project(session)
    user = f.user(session, username="boss", roles=["客服主管"], projects=[p1])
    actor = actor_for_user(session, user)
    request = f.service_request(session, project_=p1, unit_=f.unit(session, project_=p1), receiver=user)
    due = (utcnow() + dt.timedelta(days=3)).replace(hour=1, minute=51, second=0, microsecond=0)
    dispatch_requests(session, request_ids=[request.id], complete_due_at=due, actor=actor)

    steps = request_timeline(session, request_id=request.id, actor=actor)
    assert steps[1].words.endswith(f"完成时限：{due:%Y-%m-%d} 09:51"), steps[1].words


def test_another_projects_user_reads_no_timeline(session):
    p1, p2 = f.project(session), f.project(session)
    request = f.service_request(session, project_=p1)
    other = actor_for_user(session, f.user(session, roles=["客服主管"], projects=[p2]))
    with pytest.raises(NotPermitted):
        request_timeline(session, request_id=request.id, actor=other)


def test_a_requests_status_change_reads_in_chinese_both_ways(session):
    """A request's own status change read 「修改状态：pending → 已关闭」: its 待派工 was looked up among the work
    orders' statuses, which have none. Each record's statuses are its own."""
    from actions.requests import answer_request
    from models import RequestKind

    p1 = f.project(session)
    user = f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    actor = actor_for_user(session, user)
    request = f.service_request(session, project_=p1, kind=RequestKind.INQUIRY, receiver=user)
    answer_request(session, request_id=request.id, reply="已告知", actor=actor)
    whats = [s.what for s in request_timeline(session, request_id=request.id, actor=actor)]
    assert any(w.startswith("修改状态：待派工 → 已关闭") for w in whats), whats
