"""派工 and the work-order lifecycle: routing, SLA defaults, idempotent dispatch, every transition and refusal."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions import records
from actions.actor import actor_for_user
from actions.audit import trail_clause
from actions.errors import NotPermitted, Refused, integrity_message
from actions.records import TEXT_MAX
from actions.work_orders import (
    DISPATCH_SUMMARY,
    accept_work_orders,
    callback_work_order,
    change_work_order_priority,
    close_work_orders,
    complete_work_order,
    dispatch_requests,
    due_soon_clause,
    overdue_clause,
    reassign_work_orders,
    sla_state,
)
from models import (
    AuditLog,
    Department,
    OperationLog,
    Priority,
    Project,
    RequestCategory,
    RequestKind,
    RequestStatus,
    Satisfaction,
    ServiceRequest,
    SlaRule,
    User,
    Visit,
    VisitKind,
    VisitWay,
    WorkOrder,
    WorkOrderStatus,
    utcnow,
)
from tests import factories as f
from tests.race_support import committed_project

S = WorkOrderStatus


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def counts(session: Session) -> tuple[int, ...]:
    return tuple(count(session, m) for m in (WorkOrder, ServiceRequest, Visit, AuditLog, OperationLog))


def department(session: Session, name: str) -> Department:
    return session.scalar(select(Department).where(Department.name == name, Department.project_id.is_(None)))


@pytest.fixture
def world(session: Session):
    """Two projects; a supervisor of P1 with a unit, an engineer of 工程部 and a guard of 安保部."""
    p1, p2 = f.project(session), f.project(session)
    user = f.user(session, roles=["客服主管"], projects=[p1])
    engineer = f.staff(session, project_=p1, name="李师傅")
    engineer.department_id = department(session, "工程部").id
    session.flush()
    return {
        "p1": p1, "p2": p2, "user": user, "actor": actor_for_user(session, user),
        "unit": f.unit(session, project_=p1), "engineer": engineer,
    }


def order_of(session: Session, request: ServiceRequest) -> WorkOrder:
    return session.scalar(select(WorkOrder).where(WorkOrder.request_id == request.id))


# --- dispatch ----------------------------------------------------------------------------------------
def test_routing_picks_the_department_by_category(session, world):
    cases = {
        RequestCategory.PLUMBING: "工程部",
        RequestCategory.ELEVATOR: "工程部",
        RequestCategory.SECURITY: "安保部",
        RequestCategory.NOISE: "安保部",
        RequestCategory.CLEANING: "环境管理部",
        RequestCategory.GREENING: "环境管理部",
        RequestCategory.DEFECT: "开发公司工程部",
        RequestCategory.FEES: "客服部",
    }
    requests = {c: f.service_request(session, project_=world["p1"], category=c) for c in cases}
    result = dispatch_requests(session, request_ids=[r.id for r in requests.values()], actor=world["actor"])
    assert result.created == len(cases) and result.targets == len(cases) and result.already == ()
    for category, request in requests.items():
        order = order_of(session, request)
        assert order.department.name == cases[category], category
        assert order.status is S.DISPATCHED and order.dispatched_by_id == world["user"].id
    assert dict(result.by_department)["工程部"] == 2


def test_project_department_wins_over_the_shared_one_and_inactive_ones_are_skipped(session, world):
    own = Department(project_id=world["p1"].id, name="一期工程组", kind=department(session, "工程部").kind)
    retired = Department(project_id=world["p1"].id, name="旧保洁组", kind=department(session, "环境管理部").kind,
                         active=False)
    session.add_all([own, retired])
    session.flush()
    leak = f.service_request(session, project_=world["p1"])
    litter = f.service_request(session, project_=world["p1"], category=RequestCategory.CLEANING)
    dispatch_requests(session, request_ids=[leak.id, litter.id], actor=world["actor"])
    assert order_of(session, leak).department_id == own.id
    assert order_of(session, litter).department.name == "环境管理部"


def test_deadlines_default_from_the_sla_rule_of_kind_and_priority(session, world):
    received = utcnow().replace(microsecond=0) - dt.timedelta(minutes=10)
    urgent = f.service_request(session, project_=world["p1"], priority=Priority.URGENT, received_at=received)
    complaint = f.service_request(session, project_=world["p1"], kind=RequestKind.COMPLAINT,
                                  category=RequestCategory.SERVICE, received_at=received)
    dispatch_requests(session, request_ids=[urgent.id, complaint.id], actor=world["actor"])
    o1, o2 = order_of(session, urgent), order_of(session, complaint)
    # 急修 15 分钟响应、4 小时完成；普通投诉 30 分钟响应、48 小时完成 — counted from 受理时间
    assert (o1.respond_due_at, o1.complete_due_at) == (received + dt.timedelta(minutes=15), received + dt.timedelta(hours=4))
    assert (o2.respond_due_at, o2.complete_due_at) == (received + dt.timedelta(minutes=30), received + dt.timedelta(hours=48))


def test_a_project_sla_rule_overrides_the_default_and_priority_and_deadline_can_be_chosen(session, world):
    session.add(SlaRule(project_id=world["p1"].id, kind=RequestKind.REPAIR_PRIVATE, priority=Priority.HIGH,
                        respond_minutes=20, complete_hours=6))
    session.flush()
    received = utcnow().replace(microsecond=0)
    a = f.service_request(session, project_=world["p1"], received_at=received)
    b = f.service_request(session, project_=world["p1"], received_at=received)
    dispatch_requests(session, request_ids=[a.id], priority=Priority.HIGH, actor=world["actor"])
    oa = order_of(session, a)
    assert oa.priority is Priority.HIGH and oa.complete_due_at == received + dt.timedelta(hours=6)
    due = received + dt.timedelta(days=3)
    dispatch_requests(session, request_ids=[b.id], complete_due_at=due, actor=world["actor"])
    ob = order_of(session, b)
    assert ob.complete_due_at == due and ob.respond_due_at == received + dt.timedelta(minutes=30)


def test_one_default_sla_rule_per_kind_and_priority(session, world, console):
    """时限规则 with 项目为空 are every project's defaults. A second 报修(户内)/紧急 default (10 分钟/2 小时 beside the
    seeded 15 分钟/4 小时) was saved from 新建 — the unique (项目, 诉求类型, 优先级) never compares two empty 项目 — and
    派工 then took either's deadlines. It is refused naming the one to change, on a new rule and on an edit into
    the same kind and priority, nothing written; the database holds it too. A project's own rule of that kind
    and priority, and an edit of the default's limits, are taken as before."""
    f.user(session, username="boss", superuser=True)
    session.flush()
    defaults = lambda: session.execute(select(SlaRule.id, SlaRule.kind, SlaRule.priority, SlaRule.respond_minutes,  # noqa: E731
                                              SlaRule.complete_hours).where(SlaRule.project_id.is_(None))
                                       .order_by(SlaRule.id)).all()
    urgent = session.scalar(select(SlaRule).where(SlaRule.project_id.is_(None), SlaRule.kind == RequestKind.REPAIR_PRIVATE,
                                                  SlaRule.priority == Priority.URGENT))
    high = session.scalar(select(SlaRule).where(SlaRule.project_id.is_(None), SlaRule.kind == RequestKind.REPAIR_PRIVATE,
                                                SlaRule.priority == Priority.HIGH))
    before = defaults()
    c = console("boss")
    form = {"project": "__None", "kind": "repair_private", "priority": "urgent", "respond_minutes": "10",
            "complete_hours": "2"}
    refused = c.post("/admin/sla-rule/create", form)
    assert refused.status_code == 400, refused.text[:300]
    assert f"已有「报修(户内)/紧急」的默认时限规则（项目为空，#{urgent.id}）：请修改该规则" in refused.text
    moved = c.post(f"/admin/sla-rule/edit/{high.id}", {**form, "version": str(high.version)})
    assert moved.status_code == 400 and f"（项目为空，#{urgent.id}）" in moved.text, moved.text[:300]
    session.expire_all()
    assert defaults() == before
    # two saves at once pass the check together: the unique index refuses the second
    with pytest.raises(IntegrityError) as raised, session.begin_nested():
        session.add(SlaRule(project_id=None, kind=RequestKind.REPAIR_PRIVATE, priority=Priority.URGENT,
                            respond_minutes=10, complete_hours=2))
        session.flush()
    assert integrity_message(raised.value) == "已存在相同「诉求类型、优先级」的时限规则记录"
    assert defaults() == before

    made = c.post("/admin/sla-rule/create", {**form, "project": str(world["p1"].id)})
    assert made.status_code == 302, made.text[:300]
    changed = c.post(f"/admin/sla-rule/edit/{urgent.id}", {**form, "respond_minutes": "20",
                                                           "version": str(urgent.version)})
    assert changed.status_code == 302, changed.text[:300]
    session.expire_all()
    assert (session.get(SlaRule, urgent.id).respond_minutes, len(defaults())) == (20, len(before))


def test_one_shared_department_of_a_name(session, world, console):
    """部门 with 项目为空 are shared by every project. A second shared 「工程部」 was saved from 新建 — the unique
    (项目, 部门名称) never compares two empty 项目 — routing then took the first and the 派工 form listed both. It is
    refused naming the one there, on a new 部门 and on an edit into the name, nothing written; the database holds it
    too. A project's own 工程部, and an edit of the shared one, are taken as before."""
    f.user(session, username="boss", superuser=True)
    session.flush()
    shared = lambda: session.execute(select(Department.id, Department.name, Department.kind, Department.active)  # noqa: E731
                                     .where(Department.project_id.is_(None)).order_by(Department.id)).all()
    works, guards = department(session, "工程部"), department(session, "安保部")
    before = shared()
    c = console("boss")
    form = {"project": "__None", "name": "工程部", "kind": works.kind.value, "active": "y"}
    refused = c.post("/admin/department/create", form)
    assert refused.status_code == 400, refused.text[:300]
    assert f"已有名为「工程部」的公共部门（项目为空，#{works.id}）：请修改该部门" in refused.text
    moved = c.post(f"/admin/department/edit/{guards.id}", {**form, "kind": guards.kind.value,
                                                           "version": str(guards.version)})
    assert moved.status_code == 400 and f"（项目为空，#{works.id}）" in moved.text, moved.text[:300]
    session.expire_all()
    assert shared() == before
    # two saves at once pass the check together: the unique index refuses the second
    with pytest.raises(IntegrityError) as raised, session.begin_nested():
        session.add(Department(project_id=None, name="工程部", kind=works.kind))
        session.flush()
    assert integrity_message(raised.value) == "已存在相同「部门名称」的部门记录"
    assert shared() == before

    made = c.post("/admin/department/create", {**form, "project": str(world["p1"].id)})
    assert made.status_code == 302, made.text[:300]
    renamed = c.post(f"/admin/department/edit/{guards.id}", {**form, "name": "安保部", "kind": guards.kind.value,
                                                             "active": "", "version": str(guards.version)})
    assert renamed.status_code == 302, renamed.text[:300]
    session.expire_all()
    assert session.get(Department, guards.id).active is False and len(shared()) == len(before)
    assert session.scalar(select(func.count()).select_from(Department).where(
        Department.project_id == world["p1"].id, Department.name == "工程部")) == 1


def test_chosen_department_and_assignee(session, world):
    r = f.service_request(session, project_=world["p1"], category=RequestCategory.NOISE)
    result = dispatch_requests(session, request_ids=[r.id], assignee_id=world["engineer"].id, actor=world["actor"])
    order = order_of(session, r)
    # the assignee's department, not the routing rule's 安保部
    assert order.assignee_id == world["engineer"].id and order.department.name == "工程部"
    assert result.by_department == (("工程部", 1),)


def test_dispatch_writes_the_request_status_audit_and_one_operation_row(session, world):
    requests = [f.service_request(session, project_=world["p1"]) for _ in range(3)]
    before_audit, before_ops = count(session, AuditLog), count(session, OperationLog)
    result = dispatch_requests(session, request_ids=[r.id for r in requests], actor=world["actor"])
    for r in requests:
        session.refresh(r)
        assert r.status is RequestStatus.DISPATCHED and r.version == 2 and r.stage == "open"
    # one row per order, which records its request turning 已派工 too; the request's trail lists it
    assert count(session, AuditLog) - before_audit == 3
    for r in requests:
        order = order_of(session, r)
        trail = session.scalars(select(AuditLog).where(trail_clause("service_request", str(r.id)))
                                .order_by(AuditLog.id)).all()
        assert [(a.table_name, a.record_id, a.summary) for a in trail] == [
            ("service_request", str(r.id), f"新增客户诉求 #{r.id}"),
            ("work_order", str(order.id), DISPATCH_SUMMARY)]
        assert trail[1].changes["request_id"] == r.id and trail[1].changes["status"] == "dispatched"
    assert count(session, OperationLog) - before_ops == 1
    log = session.get(OperationLog, result.operation_id)
    assert log.operation == "dispatch" and log.counts == {"targets": 3, "created": 3, "already": 0}
    assert log.actor_id == world["user"].id


def test_a_dispatch_updates_its_requests_in_place_on_postgresql(session, world):
    """已派工 changes no indexed value and each page keeps room: PostgreSQL writes no index entry (HOT update)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("HOT updates are PostgreSQL's")
    requests = [f.service_request(session, project_=world["p1"]) for _ in range(3)]
    session.flush()
    stats = text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'service_request'")
    before = session.execute(stats).one()
    result = dispatch_requests(session, request_ids=[r.id for r in requests], actor=world["actor"])
    after = session.execute(stats).one()
    assert result.created == 3
    assert (after[0] - before[0], after[1] - before[1]) == (3, 3)  # three rows updated, all three in place
    session.expire_all()
    assert {(r.status, r.stage) for r in requests} == {(RequestStatus.DISPATCHED, "open")}


def test_dry_run_previews_and_writes_nothing(session, world):
    received = utcnow().replace(microsecond=0)
    r = f.service_request(session, project_=world["p1"], received_at=received)
    before = counts(session)
    result = dispatch_requests(session, request_ids=[r.id], actor=world["actor"], dry_run=True)
    assert counts(session) == before
    assert result.dry_run and result.created == 0 and result.targets == 1
    (plan,) = result.preview
    assert plan.request_id == r.id and plan.department == "工程部"
    assert plan.complete_due_at == received + dt.timedelta(hours=24)
    session.refresh(r)
    assert r.status is RequestStatus.PENDING


def test_auto_dispatch_of_a_project_is_idempotent(session, world):
    mine = [f.service_request(session, project_=world["p1"]) for _ in range(4)]
    other = f.service_request(session, project_=world["p2"])
    first = dispatch_requests(session, project_id=world["p1"].id, actor=world["actor"])
    assert first.created == 4
    before = counts(session)
    again = dispatch_requests(session, project_id=world["p1"].id, actor=world["actor"])
    assert again.created == 0 and again.targets == 0
    # the re-run adds no order and touches no request; only its operation-log row is new
    assert counts(session)[:3] == before[:3]
    assert all(order_of(session, r) for r in mine) and order_of(session, other) is None


def test_double_submit_of_a_selection_creates_nothing_twice(session, world):
    r = f.service_request(session, project_=world["p1"])
    dispatch_requests(session, request_ids=[r.id], actor=world["actor"])
    before = counts(session)
    with pytest.raises(Refused) as refused:
        dispatch_requests(session, request_ids=[r.id], actor=world["actor"])
    assert f"#{r.id}（已派工）" in refused.value.message and refused.value.ids == [r.id]
    assert counts(session) == before


@pytest.mark.parametrize("case", ["empty", "other_project", "missing", "closed"])
def test_bad_selections_are_refused_whole(session, world, case):
    good = f.service_request(session, project_=world["p1"])
    other = f.service_request(session, project_=world["p2"])
    closed = f.service_request(session, project_=world["p1"])
    closed.status = RequestStatus.CLOSED
    session.flush()
    ids = {"empty": [], "other_project": [good.id, other.id], "missing": [good.id, 999999],
           "closed": [good.id, closed.id]}[case]
    before = counts(session)
    with pytest.raises(Refused) as refused:
        dispatch_requests(session, request_ids=ids, actor=world["actor"])
    message = refused.value.message
    assert {"empty": "请先选择", "other_project": "无权操作其他项目", "missing": "不存在",
            "closed": "已关闭"}[case] in message
    if case == "other_project":
        assert isinstance(refused.value, NotPermitted) and refused.value.ids == [other.id]
    assert counts(session) == before
    session.refresh(good)
    assert good.status is RequestStatus.PENDING


def test_auto_dispatch_of_another_project_is_not_permitted(session, world):
    f.service_request(session, project_=world["p2"])
    before = counts(session)
    with pytest.raises(NotPermitted):
        dispatch_requests(session, project_id=world["p2"].id, actor=world["actor"])
    assert counts(session) == before


@pytest.mark.parametrize("case", ["missing_department", "inactive_department", "missing_assignee",
                                  "inactive_assignee", "assignee_of_other_project", "assignee_of_other_department",
                                  "department_of_other_project", "past_deadline"])
def test_bad_departments_assignees_and_deadlines_are_refused(session, world, case):
    r = f.service_request(session, project_=world["p1"])
    inactive = Department(name="已撤销部门", kind=department(session, "工程部").kind, active=False)
    foreign_dep = Department(project_id=world["p2"].id, name="二期工程组", kind=inactive.kind)
    session.add_all([inactive, foreign_dep])
    left = f.staff(session, project_=world["p1"])
    left.active = False
    stranger = f.staff(session, project_=world["p2"])
    session.flush()
    kwargs = {
        "missing_department": {"department_id": 999999},
        "inactive_department": {"department_id": inactive.id},
        "missing_assignee": {"assignee_id": 999999},
        "inactive_assignee": {"assignee_id": left.id},
        "assignee_of_other_project": {"assignee_id": stranger.id},
        "assignee_of_other_department": {"assignee_id": world["engineer"].id,
                                         "department_id": department(session, "安保部").id},
        "department_of_other_project": {"department_id": foreign_dep.id},
        "past_deadline": {"complete_due_at": utcnow() - dt.timedelta(hours=1)},
    }[case]
    before = counts(session)
    with pytest.raises(Refused) as refused:
        dispatch_requests(session, request_ids=[r.id], actor=world["actor"], **kwargs)
    assert refused.value.message
    assert counts(session) == before


def test_a_category_without_a_route_names_the_requests(session, world):
    for dep in session.scalars(select(Department).where(Department.name == "开发公司工程部")):
        dep.active = False
    session.flush()
    r = f.service_request(session, project_=world["p1"], category=RequestCategory.DEFECT)
    before = counts(session)
    with pytest.raises(Refused) as refused:
        dispatch_requests(session, request_ids=[r.id], actor=world["actor"])
    assert "房屋质量" in refused.value.message and f"#{r.id}" in refused.value.message
    assert counts(session) == before


# --- lifecycle ---------------------------------------------------------------------------------------
@pytest.fixture
def order(session, world) -> WorkOrder:
    r = f.service_request(session, project_=world["p1"], unit_=world["unit"])
    dispatch_requests(session, request_ids=[r.id], actor=world["actor"])
    return order_of(session, r)


def state(session: Session, order: WorkOrder) -> WorkOrder:
    session.expire_all()
    return session.get(WorkOrder, order.id)


def test_a_callback_is_of_the_kind_of_its_matter(session, world):
    """A 求助 or 咨询 dispatched was called back as 维修工单回访 — the monthly report's 维修工单回访 row and 走访统计 counted
    it as a repair. Each order's callback is now of its matter (002 回访分类): 维修工单回访 for a repair, 投诉回访,
    有偿服务回访, and a 专项回访 for a 求助/咨询; each counts as the order's callback (回访率), the 专项回访 not as a
    planned 登门拜访."""
    from actions.visit_plans import planned_visit

    actor = world["actor"]
    kinds = {}
    for kind in (RequestKind.HELP, RequestKind.INQUIRY, RequestKind.REPAIR_PUBLIC, RequestKind.COMPLAINT):
        r = f.service_request(session, project_=world["p1"], unit_=world["unit"], kind=kind,
                              category=RequestCategory.SERVICE if kind is RequestKind.COMPLAINT else None)
        if kind is RequestKind.COMPLAINT:
            from models import ComplaintValidity
            r.complaint_validity = ComplaintValidity.VALID
            session.flush()
        dispatch_requests(session, request_ids=[r.id], actor=actor)
        o = order_of(session, r)
        accept_work_orders(session, order_ids=[o.id], actor=actor)
        complete_work_order(session, order_id=o.id, result="已处理", actor=actor)
        cb = callback_work_order(session, order_id=o.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED,
                                 actor=actor)
        kinds[kind] = cb.visit_id
    session.expire_all()
    got = {kind: session.get(Visit, vid).kind for kind, vid in kinds.items()}
    assert got == {RequestKind.HELP: VisitKind.SPECIAL, RequestKind.INQUIRY: VisitKind.SPECIAL,
                   RequestKind.REPAIR_PUBLIC: VisitKind.REPAIR, RequestKind.COMPLAINT: VisitKind.COMPLAINT}
    orders = session.scalars(select(WorkOrder).join(Visit, Visit.work_order_id == WorkOrder.id)
                             .where(Visit.id.in_(kinds.values()))).all()
    assert len(orders) == 4 and all(o.callbacks == 1 for o in orders)
    assert session.scalar(select(func.count()).select_from(Visit).where(planned_visit())) == 0


def test_full_lifecycle_to_closed(session, world, order):
    actor = world["actor"]
    accept_work_orders(session, order_ids=[order.id], actor=actor)
    o = state(session, order)
    assert o.status is S.ACCEPTED and o.accepted_at is not None
    complete_work_order(session, order_id=order.id, result="更换角阀，已试水", actor=actor)
    o = state(session, order)
    assert o.status is S.DONE and o.result == "更换角阀，已试水" and o.completed_at is not None
    cb = callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED,
                             notes="业主表示满意", actor=actor)
    o = state(session, order)
    assert o.status is S.CALLED_BACK and not cb.reopened
    visit = session.get(Visit, cb.visit_id)
    assert (visit.kind, visit.way, visit.result) == (VisitKind.REPAIR, VisitWay.PHONE, Satisfaction.SATISFIED)
    assert visit.work_order_id == order.id and visit.unit_id == world["unit"].id and visit.visitor_id == world["user"].id
    close_work_orders(session, order_ids=[order.id], actor=actor)
    o = state(session, order)
    assert o.status is S.CLOSED and o.closed_at is not None
    assert o.request.status is RequestStatus.CLOSED and o.request.closed_at == o.closed_at
    assert o.request.stage == "closed"  # the set-based UPDATE writes the stage with the status
    ops = session.scalars(select(OperationLog.operation).order_by(OperationLog.id.desc()).limit(4)).all()
    assert ops == ["close_work_orders", "callback_work_order", "complete_work_order", "accept_work_orders"]


def test_unsatisfied_callback_reopens_for_rework_and_counts_it(session, world, order):
    actor = world["actor"]
    accept_work_orders(session, order_ids=[order.id], actor=actor)
    complete_work_order(session, order_id=order.id, result="已疏通", actor=actor)
    cb = callback_work_order(session, order_id=order.id, way=VisitWay.DOOR, result=Satisfaction.UNSATISFIED,
                             notes="仍然渗水", actor=actor)
    o = state(session, order)
    assert cb.reopened and o.status is S.ACCEPTED and o.reopen_count == 1 and o.completed_at is None
    with pytest.raises(Refused):  # not closable: the owner is not satisfied
        close_work_orders(session, order_ids=[order.id], actor=actor)
    complete_work_order(session, order_id=order.id, result="更换管件", actor=actor)
    callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.BASIC, actor=actor)
    close_work_orders(session, order_ids=[order.id], actor=actor)
    o = state(session, order)
    assert o.status is S.CLOSED and o.reopen_count == 1
    assert count(session, Visit) == 2


@pytest.mark.parametrize("step", ["complete_unaccepted", "callback_unfinished", "close_uncalled", "accept_twice",
                                  "close_done", "reassign_done"])
def test_transitions_out_of_order_are_refused(session, world, order, step):
    actor = world["actor"]
    if step in ("accept_twice", "close_done", "reassign_done"):
        accept_work_orders(session, order_ids=[order.id], actor=actor)
    if step in ("close_done", "reassign_done"):
        complete_work_order(session, order_id=order.id, result="好了", actor=actor)
    before, status = counts(session), state(session, order).status
    call = {
        "complete_unaccepted": lambda: complete_work_order(session, order_id=order.id, result="好了", actor=actor),
        "callback_unfinished": lambda: callback_work_order(session, order_id=order.id, way=VisitWay.PHONE,
                                                           result=Satisfaction.SATISFIED, actor=actor),
        "close_uncalled": lambda: close_work_orders(session, order_ids=[order.id], actor=actor),
        "accept_twice": lambda: accept_work_orders(session, order_ids=[order.id], actor=actor),
        "close_done": lambda: close_work_orders(session, order_ids=[order.id], actor=actor),
        "reassign_done": lambda: reassign_work_orders(session, order_ids=[order.id], reason="换人",
                                                      assignee_id=world["engineer"].id, actor=actor),
    }[step]
    with pytest.raises(Refused) as refused:
        call()
    assert f"#{order.id}（{status.label}）" in refused.value.message
    assert counts(session) == before and state(session, order).status is status


def test_reassign_records_the_reason_and_needs_a_new_acceptance(session, world, order):
    actor = world["actor"]
    accept_work_orders(session, order_ids=[order.id], actor=actor)
    guard_dep = department(session, "安保部")
    result = reassign_work_orders(session, order_ids=[order.id], department_id=guard_dep.id,
                                  reason="属公共区域，由安保部处理", actor=actor)
    o = state(session, order)
    assert result.status is S.DISPATCHED
    assert o.status is S.DISPATCHED and o.accepted_at is None and o.department_id == guard_dep.id
    assert o.assignee_id is None and o.reassign_note == "属公共区域，由安保部处理"
    audit = session.scalars(
        select(AuditLog).where(AuditLog.table_name == "work_order", AuditLog.record_id == str(order.id))
        .order_by(AuditLog.id.desc())
    ).first()
    assert audit.summary == "转派派工单"


@pytest.mark.parametrize("kwargs,message", [
    ({"reason": " ", "assignee_id": 0}, "转派原因"),
    ({"reason": "换人"}, "请选择转派"),
])
def test_reassign_refusals(session, world, order, kwargs, message):
    if kwargs.get("assignee_id") == 0:
        kwargs["assignee_id"] = world["engineer"].id
    before = counts(session)
    with pytest.raises(Refused) as refused:
        reassign_work_orders(session, order_ids=[order.id], actor=world["actor"], **kwargs)
    assert message in refused.value.message and counts(session) == before


def test_paid_service_is_quoted_and_accepted_before_the_work_starts(session, world, order):
    """服务前需先报价，在业主接受后方可开工: the quote is accepted at 接单, not at completion; the charge stays within it."""
    actor = world["actor"]
    before = counts(session)
    for kwargs, message in [
        ({"paid_service": True, "quote": "80", "quote_accepted": False}, "业主接受后方可开工"),
        ({"paid_service": True, "quote": "0", "quote_accepted": True}, "业主接受后方可开工"),
        ({"paid_service": True, "quote": "-1", "quote_accepted": True}, "金额"),
        ({"paid_service": True, "quote": "abc", "quote_accepted": True}, "不是有效的数字"),
        ({"quote": "80"}, "非有偿服务"),
    ]:
        with pytest.raises(Refused) as refused:
            accept_work_orders(session, order_ids=[order.id], actor=actor, **kwargs)
        assert message in refused.value.message
    assert counts(session) == before and state(session, order).status is WorkOrderStatus.DISPATCHED
    accept_work_orders(session, order_ids=[order.id], actor=actor, paid_service=True, quote="80.00",
                       quote_accepted=True)
    o = state(session, order)
    assert (o.status, o.paid_service, o.quote, o.quote_accepted) == (WorkOrderStatus.ACCEPTED, True, Decimal("80.00"), True)
    before = counts(session)
    with pytest.raises(Refused, match="超过业主确认的报价 80.00 元"):
        complete_work_order(session, order_id=order.id, result="换龙头", charge="95", actor=actor)
    assert counts(session) == before
    complete_work_order(session, order_id=order.id, result="换龙头", charge="75.5", actor=actor)
    o = state(session, order)
    assert (o.paid_service, o.quote, o.quote_accepted, o.charge) == (True, Decimal("80.00"), True, Decimal("75.50"))
    cb = callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED, actor=actor)
    assert session.get(Visit, cb.visit_id).kind is VisitKind.PAID_SERVICE


def test_an_order_accepted_free_cannot_be_charged_at_completion(session, world, order):
    """A quote agreed only at completion is too late: the order was started as free."""
    accept_work_orders(session, order_ids=[order.id], actor=world["actor"])
    before = counts(session)
    with pytest.raises(Refused, match="接单时未登记为有偿服务"):
        complete_work_order(session, order_id=order.id, result="换龙头", charge="50", actor=world["actor"])
    assert counts(session) == before and state(session, order).status is WorkOrderStatus.ACCEPTED


def test_completion_needs_a_result(session, world, order):
    accept_work_orders(session, order_ids=[order.id], actor=world["actor"])
    before = counts(session)
    with pytest.raises(Refused, match="处理结果"):
        complete_work_order(session, order_id=order.id, result="  ", actor=world["actor"])
    assert counts(session) == before


def test_lifecycle_targets_are_scoped(session, world, order):
    outsider = actor_for_user(session, f.user(session, roles=["客服主管"], projects=[world["p2"]]))
    before = counts(session)
    with pytest.raises(NotPermitted):
        accept_work_orders(session, order_ids=[order.id], actor=outsider)
    with pytest.raises(NotPermitted):
        close_work_orders(session, order_ids=[order.id], actor=outsider)
    assert counts(session) == before and state(session, order).status is S.DISPATCHED


def test_accept_is_set_based_over_a_selection(session, world):
    requests = [f.service_request(session, project_=world["p1"]) for _ in range(5)]
    dispatch_requests(session, request_ids=[r.id for r in requests], actor=world["actor"])
    ids = [order_of(session, r).id for r in requests]
    result = accept_work_orders(session, order_ids=ids, actor=world["actor"])
    assert result.order_ids == tuple(sorted(ids))
    session.expire_all()
    assert {session.get(WorkOrder, i).status for i in ids} == {S.ACCEPTED}


# --- SLA ---------------------------------------------------------------------------------------------
def test_overdue_and_due_soon(session, world):
    now = utcnow()
    late = f.service_request(session, project_=world["p1"], received_at=now - dt.timedelta(hours=30))
    soon = f.service_request(session, project_=world["p1"], received_at=now - dt.timedelta(hours=23))
    fine = f.service_request(session, project_=world["p1"], priority=Priority.LOW, received_at=now)
    unanswered = f.service_request(session, project_=world["p1"], received_at=now - dt.timedelta(hours=1))
    dispatch_requests(session, request_ids=[late.id, soon.id, fine.id, unanswered.id], actor=world["actor"])
    orders = {k: order_of(session, r) for k, r in
              {"late": late, "soon": soon, "fine": fine, "unanswered": unanswered}.items()}
    accept_work_orders(session, order_ids=[orders[k].id for k in ("late", "soon", "fine")], actor=world["actor"])
    session.expire_all()
    overdue = set(session.scalars(select(WorkOrder.id).where(overdue_clause(now))))
    due_soon = set(session.scalars(select(WorkOrder.id).where(due_soon_clause(now))))
    # not accepted within 30 minutes of receipt: overdue on the response deadline
    assert overdue == {orders["late"].id, orders["unanswered"].id}
    assert due_soon == {orders["soon"].id}
    assert {k: sla_state(session.get(WorkOrder, o.id), now) for k, o in orders.items()} == {
        "late": "overdue", "soon": "due_soon", "fine": None, "unanswered": "overdue"}


# --- concurrency (B07): row locks, so PostgreSQL only ----------------------------------------------------
@pytest.fixture
def committed(engine):
    """A project, a supervisor and one pending request committed for real; everything removed afterwards."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    with committed_project(engine, ["客服主管"], made=(Visit, WorkOrder, ServiceRequest)) as ids:
        with Session(engine) as s, s.begin():
            ids["request"] = f.service_request(s, project_=s.get(Project, ids["project"])).id
        yield ids


def _in_thread(fn):
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except Exception as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def test_two_dispatchers_grab_the_same_request_one_wins(engine, committed):
    actor, rid = committed["actor"], committed["request"]
    first = Session(engine)
    first.begin()
    won = dispatch_requests(first, request_ids=[rid], actor=actor)

    def second():
        with Session(engine) as s, s.begin():
            return dispatch_requests(s, request_ids=[rid], actor=actor)

    thread, box = _in_thread(second)
    thread.join(1.0)
    assert thread.is_alive()  # waiting on the first dispatcher's uncommitted order
    first.commit()
    first.close()
    thread.join(10)
    assert won.created == 1
    assert box["result"].created == 0 and box["result"].already == (rid,)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.request_id == rid)) == 1


def test_a_request_withdrawn_while_it_is_dispatched_is_not_dispatched(engine, committed):
    """撤销诉求 and 派工 of the same request at once (two app processes): the dispatch read it 待派工, made its order,
    then set 已派工 over the withdrawn (已取消) request — the database's CHECK refused it and the console answered
    HTTP 500 「数据库出错」. The dispatch now waits for the withdrawal, finds the request taken and is refused in
    Chinese, its order rolled back."""
    from actions.requests import withdraw_request
    from tests.race_support import second_while_first_open

    actor, rid = committed["actor"], committed["request"]
    waited, box = second_while_first_open(
        engine, lambda s: withdraw_request(s, request_id=rid, reason="业主来电告知已自行解决", actor=actor),
        lambda s: dispatch_requests(s, request_ids=[rid], actor=actor))
    assert waited  # on the withdrawal's row lock
    assert isinstance(box.get("error"), Refused), box
    assert box["error"].message == f"派工时以下客户诉求已被他人处理，未派工，请刷新后重试：#{rid}（已取消）"
    with Session(engine) as s:
        assert s.get(ServiceRequest, rid).status is RequestStatus.CANCELLED
        assert s.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.request_id == rid)) == 0
        assert s.scalar(select(func.count()).select_from(OperationLog).where(
            OperationLog.operation == "dispatch", OperationLog.project_id == committed["project"])) == 0


def test_two_people_accept_the_same_order_one_is_refused(engine, committed):
    actor, rid = committed["actor"], committed["request"]
    with Session(engine) as s, s.begin():
        dispatch_requests(s, request_ids=[rid], actor=actor)
        oid = s.scalar(select(WorkOrder.id).where(WorkOrder.request_id == rid))
    first = Session(engine)
    first.begin()
    accept_work_orders(first, order_ids=[oid], actor=actor)

    def second():
        with Session(engine) as s, s.begin():
            return accept_work_orders(s, order_ids=[oid], actor=actor)

    thread, box = _in_thread(second)
    thread.join(1.0)
    assert thread.is_alive()  # blocked on the row lock of the first UPDATE
    first.commit()
    first.close()
    thread.join(10)
    assert isinstance(box.get("error"), Refused) and "已被他人处理" in box["error"].message
    with Session(engine) as s:
        order = s.get(WorkOrder, oid)
        assert order.status is S.ACCEPTED and order.version == 2


def _saved_twice_at_once(engine, model: type, values: dict, actor, refusal: str) -> None:
    """Two 新建 of ``values`` in two real transactions: the second waits on the first's index entry, then is refused
    with ``refusal``."""
    first = Session(engine)
    first.begin()
    records.save_record(first, model, None, values, actor=actor)

    def second():
        with Session(engine) as s, s.begin():
            return records.save_record(s, model, None, values, actor=actor)

    thread, box = _in_thread(second)
    thread.join(1.0)
    assert thread.is_alive()  # waiting on the first's index entry
    first.commit()
    first.close()
    thread.join(10)
    assert isinstance(box.get("error"), Refused), box
    assert box["error"].message == refusal


def test_two_new_default_sla_rules_at_once_one_is_refused(engine):
    """Two 新建 of the same default 时限规则 at once both pass the check (neither sees the other's row): the unique
    index holds one, and the second is refused in Chinese, not saved beside it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("two real transactions: PostgreSQL only")
    key = (RequestKind.SUGGESTION, Priority.LOW)
    with Session(engine) as s, s.begin():
        marks = (s.scalar(select(func.max(AuditLog.id))) or 0, s.scalar(select(func.max(OperationLog.id))) or 0)
        seeded = s.scalar(select(SlaRule).where(SlaRule.project_id.is_(None), SlaRule.kind == key[0],
                                                SlaRule.priority == key[1]))
        kept = (seeded.respond_minutes, seeded.complete_hours)
        s.delete(seeded)
        admin_id = f.user(s, username="sla-racer", superuser=True).id
    with Session(engine) as s:
        actor = actor_for_user(s, s.get(User, admin_id))
    values = {"project": None, "kind": key[0], "priority": key[1], "respond_minutes": 240, "complete_hours": 168}
    try:
        _saved_twice_at_once(engine, SlaRule, values, actor, "已存在相同「诉求类型、优先级」的时限规则记录")
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(SlaRule).where(
                SlaRule.project_id.is_(None), SlaRule.kind == key[0], SlaRule.priority == key[1])) == 1
    finally:
        with Session(engine) as s, s.begin():
            s.execute(delete(SlaRule).where(SlaRule.project_id.is_(None), SlaRule.kind == key[0],
                                            SlaRule.priority == key[1]))
            s.add(SlaRule(project_id=None, kind=key[0], priority=key[1], respond_minutes=kept[0],
                          complete_hours=kept[1]))
            s.execute(delete(AuditLog).where(AuditLog.id > marks[0]))
            s.execute(delete(OperationLog).where(OperationLog.id > marks[1]))
            s.execute(delete(User).where(User.id == admin_id))


def test_two_new_shared_departments_of_a_name_at_once_one_is_refused(engine):
    """Two 新建 of the same shared 部门 at once both pass the check (neither sees the other's row): the partial unique
    index holds one, and the second is refused in Chinese, not saved beside it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("two real transactions: PostgreSQL only")
    name = "客服部（竞争测试）"
    with Session(engine) as s, s.begin():
        marks = (s.scalar(select(func.max(AuditLog.id))) or 0, s.scalar(select(func.max(OperationLog.id))) or 0)
        kind = s.scalar(select(Department.kind).limit(1))
        admin_id = f.user(s, username="dept-racer", superuser=True).id
    with Session(engine) as s:
        actor = actor_for_user(s, s.get(User, admin_id))
    values = {"project": None, "name": name, "kind": kind, "active": True}
    try:
        _saved_twice_at_once(engine, Department, values, actor, "已存在相同「部门名称」的部门记录")
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Department).where(
                Department.project_id.is_(None), Department.name == name)) == 1
    finally:
        with Session(engine) as s, s.begin():
            s.execute(delete(Department).where(Department.name == name))
            s.execute(delete(AuditLog).where(AuditLog.id > marks[0]))
            s.execute(delete(OperationLog).where(OperationLog.id > marks[1]))
            s.execute(delete(User).where(User.id == admin_id))


# --- 改优先级 -------------------------------------------------------------------------------------------
def test_a_priority_change_recomputes_the_deadlines_as_dispatch_does(session, world, order):
    accept_work_orders(session, order_ids=[order.id], actor=world["actor"])
    o = state(session, order)
    o.request.received_at = utcnow().replace(microsecond=0) - dt.timedelta(minutes=1)  # its deadlines ahead
    o.respond_due_at = o.request.received_at + dt.timedelta(minutes=30)
    o.complete_due_at = o.request.received_at + dt.timedelta(hours=24)
    session.flush()
    o = state(session, order)
    dispatched, version = o.dispatched_at, o.version
    assert o.priority is Priority.NORMAL
    before_audit, before_ops = count(session, AuditLog), count(session, OperationLog)
    result = change_work_order_priority(session, order_id=order.id, priority=Priority.URGENT, actor=world["actor"],
                                        version=version)
    assert result.changed and result.recomputed
    o = state(session, order)
    # 急修 15 分钟响应、4 小时完成, counted from the request's 受理时间 (as 派工 counts them)
    received = o.request.received_at
    assert (o.priority, o.respond_due_at, o.complete_due_at) == (
        Priority.URGENT, received + dt.timedelta(minutes=15), received + dt.timedelta(hours=4))
    assert (result.respond_due_at, result.complete_due_at) == (o.respond_due_at, o.complete_due_at)
    assert o.status is S.ACCEPTED and o.version == version + 1 and o.dispatched_at == dispatched
    assert count(session, AuditLog) - before_audit == 1 and count(session, OperationLog) == before_ops
    audit = session.scalar(select(AuditLog).order_by(AuditLog.id.desc()).limit(1))
    assert (audit.table_name, audit.record_id, audit.actor_id, audit.project_id) == (
        "work_order", str(order.id), world["user"].id, world["p1"].id)
    assert {"priority", "respond_due_at", "complete_due_at"} <= set(audit.changes)
    assert audit.changes["priority"] == ["normal", "urgent"]

    # the same priority again changes nothing
    again = change_work_order_priority(session, order_id=order.id, priority=Priority.URGENT, actor=world["actor"])
    assert not again.changed and count(session, AuditLog) - before_audit == 1
    assert state(session, order).version == version + 1
    # back to 一般: the 24-hour deadline again
    change_work_order_priority(session, order_id=order.id, priority=Priority.NORMAL, actor=world["actor"])
    o = state(session, order)
    assert (o.respond_due_at, o.complete_due_at) == (
        received + dt.timedelta(minutes=30), received + dt.timedelta(hours=24))


def test_a_priority_change_moves_no_deadline_that_has_passed(session, world, order):
    """Lowering the priority of a late order does not make it on time (超时 counts in reports and scores); raising
    it makes a deadline due now at the earliest, not late already."""
    o = state(session, order)
    o.request.received_at = utcnow().replace(microsecond=0) - dt.timedelta(hours=30)
    o.respond_due_at = o.request.received_at + dt.timedelta(minutes=30)
    o.complete_due_at = o.request.received_at + dt.timedelta(hours=24)
    late = (o.respond_due_at, o.complete_due_at)
    session.flush()
    result = change_work_order_priority(session, order_id=order.id, priority=Priority.LOW, actor=world["actor"])
    assert "已过的时限不变" in result.message
    o = state(session, order)
    assert (o.priority, o.respond_due_at, o.complete_due_at) == (Priority.LOW, *late)

    fresh = state(session, order)
    fresh.request.received_at = utcnow().replace(microsecond=0) - dt.timedelta(hours=5)
    fresh.respond_due_at = fresh.request.received_at + dt.timedelta(minutes=30)
    fresh.complete_due_at = fresh.request.received_at + dt.timedelta(hours=48)  # 低 priority: still ahead
    session.flush()
    before = utcnow()
    change_work_order_priority(session, order_id=order.id, priority=Priority.URGENT, actor=world["actor"])
    o = state(session, order)
    # 急修 4 小时 from 受理 was an hour ago: due now, not overdue since then
    assert before <= o.complete_due_at <= utcnow() and o.respond_due_at == fresh.respond_due_at


def test_a_completed_order_keeps_its_deadlines(session, world, order):
    accept_work_orders(session, order_ids=[order.id], actor=world["actor"])
    complete_work_order(session, order_id=order.id, result="已修复", actor=world["actor"])
    o = state(session, order)
    deadlines = (o.respond_due_at, o.complete_due_at)
    result = change_work_order_priority(session, order_id=order.id, priority=Priority.LOW, actor=world["actor"])
    assert result.changed and not result.recomputed
    o = state(session, order)
    assert o.priority is Priority.LOW and (o.respond_due_at, o.complete_due_at) == deadlines and o.status is S.DONE


def test_priority_change_refusals_write_nothing(session, world, order):
    def unchanged():
        o = state(session, order)
        return counts(session), (o.priority, o.respond_due_at, o.complete_due_at, o.version)

    outsider = actor_for_user(session, f.user(session, roles=["客服主管"], projects=[world["p2"]]))
    before = unchanged()
    o = state(session, order)
    with pytest.raises(NotPermitted):
        change_work_order_priority(session, order_id=order.id, priority=Priority.URGENT, actor=outsider)
    with pytest.raises(Refused, match="已被他人修改"):  # the form was opened before someone else's save
        change_work_order_priority(session, order_id=order.id, priority=Priority.URGENT, actor=world["actor"],
                                   version=o.version - 1)
    session.execute(delete(SlaRule).where(SlaRule.kind == RequestKind.REPAIR_PRIVATE, SlaRule.priority == Priority.LOW))
    with pytest.raises(Refused, match="缺少时限规则"):
        change_work_order_priority(session, order_id=order.id, priority=Priority.LOW, actor=world["actor"])
    with pytest.raises(Refused, match="不存在"):
        change_work_order_priority(session, order_id=order.id + 999, priority=Priority.LOW, actor=world["actor"])
    assert unchanged() == before


# --- 工程部 takes its own orders only ----------------------------------------------------------------------
def test_engineering_accepts_and_completes_its_own_orders_only(session, world):
    engineer_user = f.user(session, roles=["工程部"], projects=[world["p1"]])
    engineer_user.staff_id = world["engineer"].id
    session.flush()
    engineer = actor_for_user(session, engineer_user)
    own, other = (f.service_request(session, project_=world["p1"]) for _ in range(2))
    dispatch_requests(session, request_ids=[own.id], department_id=department(session, "工程部").id,
                      actor=world["actor"])
    dispatch_requests(session, request_ids=[other.id], department_id=department(session, "安保部").id,
                      actor=world["actor"])
    mine, theirs = order_of(session, own), order_of(session, other)
    before = counts(session)
    with pytest.raises(NotPermitted, match=f"只能接单派给工程部或本人的派工单.*#{theirs.id}"):
        accept_work_orders(session, order_ids=[mine.id, theirs.id], actor=engineer)
    assert counts(session) == before
    assert (state(session, mine).status, state(session, theirs).status) == (S.DISPATCHED, S.DISPATCHED)
    # 客服部 records the other department's step for it; the engineer still cannot complete that order
    accept_work_orders(session, order_ids=[theirs.id], actor=world["actor"])
    before = counts(session)
    with pytest.raises(NotPermitted, match="只能完工派给工程部或本人的派工单"):
        complete_work_order(session, order_id=theirs.id, result="已修好", actor=engineer)
    assert counts(session) == before and state(session, theirs).status is S.ACCEPTED
    accept_work_orders(session, order_ids=[mine.id], actor=engineer)
    complete_work_order(session, order_id=mine.id, result="更换水龙头", actor=engineer)
    assert state(session, mine).status is S.DONE


def test_the_trail_of_dispatch_and_steps_holds_the_values(session, world, order):
    """Issue 13 §5: set-based rows record what they wrote — a new order's department and deadlines, a request's
    new status, a value the statement computed (返工次数) — built by the database in the same INSERT … SELECT."""
    def trail(table: str, record_id: int) -> list[dict]:
        return list(session.scalars(select(AuditLog.changes).where(AuditLog.table_name == table,
                                                                   AuditLog.record_id == str(record_id))
                                    .order_by(AuditLog.id)))

    dispatched = trail("work_order", order.id)[0]
    assert dispatched["department_id"] == order.department_id and dispatched["request_id"] == order.request_id
    assert dispatched["status"] == S.DISPATCHED.value and dispatched["priority"] == order.priority.value
    assert dispatched["respond_due_at"] and dispatched["complete_due_at"]
    # the request's 已派工 is recorded by that same row (its summary says so), not by a row of its own
    assert session.scalar(select(AuditLog.summary).where(AuditLog.table_name == "work_order",
                                                         AuditLog.record_id == str(order.id))) == DISPATCH_SUMMARY
    assert trail("service_request", order.request_id)[-1]["status"] == RequestStatus.PENDING.value  # its creation
    actor = world["actor"]
    accept_work_orders(session, order_ids=[order.id], actor=actor)
    complete_work_order(session, order_id=order.id, result="已疏通", actor=actor)
    callback_work_order(session, order_id=order.id, way=VisitWay.DOOR, result=Satisfaction.UNSATISFIED, actor=actor)
    reopened = trail("work_order", order.id)[-1]
    assert reopened["status"] == S.ACCEPTED.value and reopened["reopen_count"] == 1


def test_another_projects_user_completing_a_paid_order_learns_nothing_of_its_quote(session, world, order):
    accept_work_orders(session, order_ids=[order.id], actor=world["actor"], paid_service=True, quote="80.00",
                       quote_accepted=True)
    outsider = actor_for_user(session, f.user(session, roles=["客服主管"], projects=[world["p2"]]))
    before = counts(session)
    with pytest.raises(NotPermitted) as refused:
        complete_work_order(session, order_id=order.id, result="换龙头", charge="95", actor=outsider)
    told = refused.value.message.replace(f"#{order.id}", "")  # its own number may read 80 (order #80, #180 …)
    assert "80" not in told and "报价" not in told
    assert counts(session) == before and state(session, order).status is WorkOrderStatus.ACCEPTED


def test_a_text_beyond_the_bound_is_refused_on_completion_and_callback(session, world, order):
    """完工结果 and 回访记录, typed on the work order's own pages, hold at most TEXT_MAX characters as the console's
    forms and 受理 do: one more is refused naming the field, the order unchanged; the bound itself is saved."""
    actor = world["actor"]
    accept_work_orders(session, order_ids=[order.id], actor=actor)
    before = counts(session)
    with pytest.raises(Refused, match="处理结果过长"):
        complete_work_order(session, order_id=order.id, result="修" * (TEXT_MAX + 1), actor=actor)
    assert counts(session) == before and state(session, order).status is WorkOrderStatus.ACCEPTED
    complete_work_order(session, order_id=order.id, result="修" * TEXT_MAX, actor=actor)
    assert state(session, order).status is WorkOrderStatus.DONE
    before = counts(session)
    with pytest.raises(Refused, match="回访记录过长"):
        callback_work_order(session, order_id=order.id, way=VisitWay.PHONE, result=Satisfaction.SATISFIED,
                            notes="好" * (TEXT_MAX + 1), actor=actor)
    assert counts(session) == before and state(session, order).status is WorkOrderStatus.DONE
