"""The department's processes added in issue 19, in the console: 来访登记 at the desk, 培训 and its attendance,
奖惩记录 and the grade's 奖惩金额 — each pre-filled, held to its rules with nothing written on a refusal, scoped
to the user's projects and audited."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    GradeBand,
    PlanStatus,
    RequestKind,
    RewardEntry,
    RewardKind,
    StaffVisitPlan,
    TrainingAttendance,
    TrainingSession,
    TrainingStatus,
    TrainingTopic,
    VisitorEntry,
)
from tests import factories as f


def _count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def site(session):
    p1, p2 = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    boss = f.user(session, username="boss", roles=["客服主管"], projects=[p1])
    admin = f.user(session, username="root", superuser=True)
    unit = f.unit(session, project_=p1, room_no="1303")
    return {"p1": p1, "p2": p2, "desk": desk, "boss": boss, "admin": admin, "unit": unit,
            "wang": f.staff(session, project_=p1, name="王芳"), "zhou": f.staff(session, project_=p2, name="周外")}


def _visitor_form(site, **overrides) -> dict:
    return {"project": str(site["p1"].id), "visitor": "张先生", "visitor_phone": "13812345678", "people": "2",
            "purpose": "visit", "visiting": "李娜", "unit": str(site["unit"].id), "document": "id_card",
            "arrived_at": "2026-11-20 09:30:00", "recorded_by": str(site["desk"].id), **overrides}


def test_the_desk_registers_a_visitor_and_a_departure_before_arrival_is_refused(session, console, site):
    c = console("desk")
    page = c.get("/admin/visitor-entry/create")
    assert page.status_code == 200 and "来访人" in page.text and "查验证件" in page.text
    before = _count(session, VisitorEntry)
    refused = c.post("/admin/visitor-entry/create", _visitor_form(site, left_at="2026-11-20 09:00:00"))
    assert refused.status_code == 400
    assert "来访登记：离开时间不能早于来访时间" in html.unescape(refused.text)
    assert _count(session, VisitorEntry) == before

    saved = c.post("/admin/visitor-entry/create", _visitor_form(site))
    assert saved.status_code == 302, saved.text[:500]
    row = session.scalars(select(VisitorEntry).where(VisitorEntry.visitor == "张先生")).one()
    assert (row.people, row.unit_id, row.recorded_by_id, row.left_at) == (2, site["unit"].id, site["desk"].id, None)
    audit = session.scalars(select(AuditLog).where(AuditLog.table_name == "visitor_entry",
                                                   AuditLog.record_id == str(row.id))).one()
    assert (audit.kind, audit.actor_id) == (AuditKind.INSERT, site["desk"].id)

    listed = c.get("/admin/visitor-entry/list?left_at_filled=empty")
    assert "张先生" in listed.text and "未离开" in listed.text
    details = c.get(f"/admin/visitor-entry/details/{row.id}").text
    assert "13812345678" not in details and "138****5678" in details  # personal data masked for the desk


def test_a_visitor_of_another_project_is_not_seen(session, console, site):
    other = VisitorEntry(project=site["p2"], visitor="外来人员甲", arrived_at=dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC))
    session.add(other)
    session.flush()
    c = console("desk")
    assert "外来人员甲" not in c.get("/admin/visitor-entry/list").text
    assert c.get(f"/admin/visitor-entry/details/{other.id}").status_code == 404


def test_the_visitor_list_is_filtered_by_the_beijing_day_of_arrival(session, console, site):
    """来访时间 等于 / 大于 / 小于 a day (the list's filter) is that Beijing calendar day, not an HTTP 500: a visitor
    at 07:30 on 11-15 in Beijing (23:30 UTC the day before) is of 11-15."""
    at = {"早到": dt.datetime(2026, 11, 14, 23, 30, tzinfo=dt.UTC),  # 11-15 07:30 in Beijing
          "晚走": dt.datetime(2026, 11, 15, 15, 30, tzinfo=dt.UTC),  # 11-15 23:30
          "前一天": dt.datetime(2026, 11, 14, 15, 0, tzinfo=dt.UTC),  # 11-14 23:00
          "后一天": dt.datetime(2026, 11, 15, 16, 30, tzinfo=dt.UTC)}  # 11-16 00:30
    session.add_all([VisitorEntry(project=site["p1"], visitor=name, arrived_at=when) for name, when in at.items()])
    session.flush()
    c = console("desk")
    for op, shown in (("equals", {"早到", "晚走"}), ("greater_than", {"后一天"}), ("less_than", {"前一天"})):
        page = c.get(f"/admin/visitor-entry/list?arrived_at_op={op}&arrived_at=2026-11-15")
        assert page.status_code == 200, page.text[:300]
        assert {name for name in at if name in page.text} == shown, op
    page = c.get("/admin/visitor-entry/list?arrived_at_op=equals&arrived_at=昨天")
    assert page.status_code == 200 and all(name in page.text for name in at)  # no date: nothing filtered


def test_training_is_planned_held_and_scored_by_the_supervisor(session, console, site):
    c = console("boss")
    form = {"project": str(site["p1"].id), "topic": "complaint", "title": "投诉处理技巧", "trainer": "客服经理",
            "planned_on": "2026-11-18", "hours": "2", "status": "held", "has_test": "y"}
    before = _count(session, TrainingSession)
    refused = c.post("/admin/training-session/create", form)
    assert refused.status_code == 400
    assert "状态为“已实施”时须填写实施日期" in html.unescape(refused.text)
    assert _count(session, TrainingSession) == before
    assert c.post("/admin/training-session/create", {**form, "held_on": "2026-11-18"}).status_code == 302
    training = session.scalars(select(TrainingSession).where(TrainingSession.title == "投诉处理技巧")).one()
    assert (training.status, training.topic, training.held_on) == (TrainingStatus.HELD, TrainingTopic.COMPLAINT,
                                                                   dt.date(2026, 11, 18))

    attend = {"session": str(training.id), "staff": str(site["wang"].id), "attended": "y", "score": "120"}
    refused = c.post("/admin/training-attendance/create", attend)
    assert refused.status_code == 400 and "考核成绩须在 0–100 之间" in html.unescape(refused.text)
    assert _count(session, TrainingAttendance) == 0
    # a staff member of a project the supervisor does not see cannot be signed in
    stray = c.post("/admin/training-attendance/create", {**attend, "staff": str(site["zhou"].id), "score": "90"})
    assert stray.status_code in (400, 403) and _count(session, TrainingAttendance) == 0
    assert c.post("/admin/training-attendance/create", {**attend, "score": "92.5"}).status_code == 302
    row = session.scalars(select(TrainingAttendance)).one()
    assert (row.staff_id, row.attended, row.score) == (site["wang"].id, True, Decimal("92.5"))
    # the staff member's training history, linked from their page: the attendance list filtered by them
    page = c.get(f"/admin/staff/details/{site['wang'].id}").text
    link = f"/admin/training-attendance/list?staff_id={site['wang'].id}"
    assert "培训记录" in page and link in html.unescape(page)
    history = c.get(link)
    assert "投诉处理技巧" in history.text and "92.5" in history.text

    # the front desk reads the plan but does not write it
    desk = console("desk")
    assert desk.get("/admin/training-session/list").status_code == 200
    assert desk.post("/admin/training-session/create", {**form, "held_on": "2026-11-18"}).status_code == 403


def test_attendance_of_another_projects_training_is_not_seen(session, console, site):
    theirs = TrainingSession(project=site["p2"], topic=TrainingTopic.LAW, title="法规培训（翠湖）",
                             planned_on=dt.date(2026, 10, 15))
    session.add(theirs)
    session.flush()
    session.add(TrainingAttendance(session_id=theirs.id, staff_id=site["zhou"].id, score=Decimal("88")))
    session.flush()
    c = console("boss")
    assert "法规培训（翠湖）" not in c.get("/admin/training-attendance/list").text
    assert "法规培训（翠湖）" not in c.get("/admin/training-session/list").text


def test_rewards_are_read_and_exported_never_typed_and_the_amounts_are_the_companys(session, console, site):
    session.add(RewardEntry(project=site["p1"], staff_id=site["wang"].id, month="2026-10", total=Decimal("99"),
                            grade="优秀", kind=RewardKind.REWARD, amount=Decimal("200"), note="默认值"))
    session.add(RewardEntry(project=site["p2"], staff_id=site["zhou"].id, month="2026-10", total=Decimal("60"),
                            grade="不合格", kind=RewardKind.PENALTY, amount=Decimal("-100"), note="默认值"))
    session.flush()
    c = console("boss")
    listed = c.get("/admin/reward-entry/list")
    assert listed.status_code == 200 and "王芳" in listed.text and "奖励" in listed.text and "周外" not in listed.text
    assert c.get("/admin/reward-entry/create").status_code in (403, 404)
    exported = c.post("/admin/reward-entry/export/xlsx")
    assert exported.status_code == 200

    band = session.scalar(select(GradeBand).where(GradeBand.name == "优秀"))
    form = {"name": "优秀", "min_total": "95", "reward": "300", "reward_note": "2027 年起按公司薪酬制度"}
    admin = console("root")
    assert admin.post(f"/admin/grade-band/edit/{band.id}", form).status_code == 302
    session.expire_all()
    assert session.get(GradeBand, band.id).reward == Decimal("300")


def test_the_butler_opens_the_weekly_report_of_their_buildings_and_prints_it(session, console, site):
    butler = f.user(session, username="guanjia", roles=["楼宇管家"], projects=[site["p1"]])
    butler.staff_id = site["wang"].id
    site["unit"].building.butler_id = site["wang"].id
    f.building(session, project_=site["p1"], name="他管栋")  # not theirs (a name no factory building contains)
    f.service_request(session, project_=site["p1"], unit_=site["unit"], kind=RequestKind.COMPLAINT,
                      received_at=dt.datetime(2026, 11, 10, 9, tzinfo=SHANGHAI))
    session.flush()
    c = console("guanjia")
    page = c.get("/admin/building-week?week=2026-11-12")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "2026-11-09 至 2026-11-15" in text and "王芳所辖楼栋" in text
    assert site["unit"].building.name in text and "他管栋" not in text
    everything = html.unescape(c.get("/admin/building-week?week=2026-11-12&butler_id=").text)
    assert "他管栋" in everything
    printed = c.get("/admin/building-week?week=2026-11-12&print=1")
    assert printed.status_code == 200 and "楼宇管家签字" in printed.text
    assert c.get(f"/admin/building-week?project_id={site['p2'].id}").status_code == 403


def test_the_manager_approves_the_visit_plans_on_the_statistics_page(session, console, site):
    f.user(session, username="jingli", roles=["客服经理"], projects=[site["p1"]])
    c = console("boss")
    form = {"project": str(site["p1"].id), "month": "2026年11月", "staff": str(site["wang"].id), "planned": "20",
            "focus": "欠费户", "planned_by": str(site["boss"].id)}
    assert c.post("/admin/staff-visit-plan/create", {**form, "planned": "0"}).status_code == 400
    assert c.post("/admin/staff-visit-plan/create", form).status_code == 302
    page = html.unescape(c.get(f"/admin/visit-stats?project_id={site['p1'].id}&month=2026-11").text)
    assert "王芳" in page and "待审批" in page and "批准本月待审批的走访计划" not in page  # not the supervisor's to approve
    assert c.post("/admin/staff-visit-plan/approve", {"project_id": str(site["p1"].id),
                                                      "month": "2026-11"}).status_code == 403
    m = console("jingli")
    assert "批准本月待审批的走访计划" in m.get(f"/admin/visit-stats?project_id={site['p1'].id}&month=2026-11").text
    assert m.post("/admin/staff-visit-plan/approve", {"project_id": str(site["p1"].id),
                                                      "month": "2026-11"}).status_code == 303
    session.expire_all()
    assert session.scalars(select(StaffVisitPlan.status)).all() == [PlanStatus.APPROVED]


def test_a_manager_cannot_approve_a_plan_he_drew_up_by_naming_another_as_its_author(session, console, site):
    """走访计划 is approved by a leader other than its 制定人 — but 制定人 was a field of the form: a 经理 drew a plan
    up naming his 主管, then approved it himself; or changed an approved plan (back to 待审批) and approved it again.
    制定人 is now whoever saves what the plan says; his 审批 is refused, the plan stays 待审批."""
    manager = f.user(session, username="jingli", roles=["客服经理"], projects=[site["p1"]])
    session.flush()
    m = console("jingli")
    form = {"project": str(site["p1"].id), "month": "2026-11", "staff": str(site["wang"].id), "planned": "20",
            "focus": "欠费户", "planned_by": str(site["boss"].id)}
    assert m.post("/admin/staff-visit-plan/create", form).status_code == 302
    session.expire_all()
    plan = session.scalars(select(StaffVisitPlan)).one()
    assert plan.planned_by_id == manager.id
    approve = {"project_id": str(site["p1"].id), "month": "2026-11"}
    refused = m.post("/admin/staff-visit-plan/approve", approve)
    assert refused.status_code == 400 and "走访计划须由制定人以外的领导审批" in html.unescape(refused.text)
    session.expire_all()
    assert session.get(StaffVisitPlan, plan.id).status is PlanStatus.DRAFT

    # drawn up by the 主管 and approved by the 经理; the 经理 then changes it: it is his to have approved again
    boss = console("boss")
    assert boss.post(f"/admin/staff-visit-plan/edit/{plan.id}", {**form, "planned": "25"}).status_code == 302
    assert m.post("/admin/staff-visit-plan/approve", approve).status_code == 303
    assert m.post(f"/admin/staff-visit-plan/edit/{plan.id}", {**form, "planned": "40"}).status_code == 302
    session.expire_all()
    plan = session.get(StaffVisitPlan, plan.id)
    assert (plan.status, plan.planned_by_id, plan.planned) == (PlanStatus.DRAFT, manager.id, 40)
    assert m.post("/admin/staff-visit-plan/approve", approve).status_code == 400
    session.expire_all()
    assert session.get(StaffVisitPlan, plan.id).status is PlanStatus.DRAFT


def test_approving_visit_plans_with_the_project_left_blank_asks_for_it(session, console, site):
    """The 审批 form posted with 项目 blank (typed away, or a page of no project) was an HTTP 500 (int(None)); it is
    refused 「请选择项目」 and nothing is approved."""
    f.user(session, username="jingli", roles=["客服经理"], projects=[site["p1"]])
    c = console("boss")
    form = {"project": str(site["p1"].id), "month": "2026-11", "staff": str(site["wang"].id), "planned": "20",
            "focus": "欠费户", "planned_by": str(site["boss"].id)}
    assert c.post("/admin/staff-visit-plan/create", form).status_code == 302
    response = console("jingli").post("/admin/staff-visit-plan/approve", {"project_id": "", "month": "2026-11"})
    assert response.status_code == 400 and "请选择项目" in html.unescape(response.text)
    session.expire_all()
    assert session.scalars(select(StaffVisitPlan.status)).all() == [PlanStatus.DRAFT]
