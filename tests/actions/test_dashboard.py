"""The home page's widgets (actions/dashboard.py): open orders by department, today's intake, arrears, the latest
survey, the score status, and the page put together — within the user's projects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from actions import billing, dashboard, kpis
from actions.actor import actor_for_user
from actions.survey_results import survey_results
from models import Bill, MonthStatus, RequestKind, SurveyTopic
from tests import dashboard_support as ds
from tests import factories as f


@pytest.fixture
def world(session):
    return ds.build(session)


def count(session, drill: kpis.Drill) -> int:
    return session.scalar(select(func.count()).select_from(drill.records.model).where(drill.where()))


def test_open_orders_by_department_with_the_overdue(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    scope = kpis.resolve_scope(session, actor=actor)
    rows = dashboard.open_orders(session, scope=scope)
    assert [(r.department, r.open, r.overdue) for r in rows] == [("客服部", 1, 0), ("工程部", 1, 1)] or [
        (r.department, r.open, r.overdue) for r in rows] == [("工程部", 1, 1), ("客服部", 1, 0)]
    for r in rows:
        assert count(session, r.drill_open) == r.open and count(session, r.drill_overdue) == r.overdue
    branch = actor_for_user(session, f.user(session, roles=["分公司管理"], branch_=world.b2))
    rows = dashboard.open_orders(session, scope=kpis.resolve_scope(session, actor=branch))
    assert [(r.department, r.open, r.overdue) for r in rows] == [("工程部", 1, 1)]


def test_todays_intake_by_kind(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    scope = kpis.resolve_scope(session, actor=actor)
    day = dt.date(2025, 9, 30)
    got = dashboard.intake(session, scope=scope, day=day)
    assert (got.total, [(k.kind, k.count) for k in got.by_kind]) == (1, [(RequestKind.COMPLAINT, 1)])  # c4, 23:30
    assert count(session, got.drill) == 1 and count(session, got.by_kind[0].drill) == 1
    assert dashboard.intake(session, scope=scope, day=dt.date(2025, 9, 1)).total == 0


def test_arrears_total_and_aging_as_the_arrears_page_totals_them(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    scope = kpis.resolve_scope(session, actor=actor)
    as_of = dt.date(2025, 10, 15)
    got = dashboard.arrears(session, scope=scope, as_of=as_of)
    # overdue on 10/15: September's 250 unpaid (u3) and 150 owed (u2), August's 250 (u1); the waived bill is not
    assert (got.amounts, got.total) == (
        {"current": Decimal("0.00"), "m1": Decimal("400.00"), "m2": Decimal("250.00"), "m3plus": Decimal("0.00")},
        Decimal("650.00"))
    totals = billing.arrears(session, actor=actor, as_of=as_of).totals
    assert (totals.current, totals.m1, totals.m2, totals.m3plus, totals.total) == (
        *got.amounts.values(), got.total)
    for bucket in (*got.amounts, "total"):
        owed = session.scalar(select(func.coalesce(func.sum(Bill.amount_due - Bill.amount_paid), 0))
                              .where(got.drills[bucket].where()))
        assert Decimal(owed) == got.amounts.get(bucket, got.total), bucket


def test_the_latest_survey_by_department(session, world):
    actor = actor_for_user(session, f.user(session, roles=["分公司管理"], branch_=world.b1))
    surveys = dashboard.latest_surveys(session, scope=kpis.resolve_scope(session, actor=actor))
    # 总体满意度 (the forms' own column), 各部门合计 (the 满意度 KPI), each department; P1's latest is 2025H2, not
    # its newer survey still 筹备中
    got = {s.project.name: (s.title, s.overall.shown, s.pooled.shown, [(t.topic, t.shown) for t in s.topics])
           for s in surveys}
    assert got == {
        "甲项目": ("2025年下半年调查", "50.0%", "60.0%",
                 [(SurveyTopic.SERVICE, "66.7%"), (SurveyTopic.ENGINEERING, "50.0%")]),
        "乙项目": ("2025年三季度调查", "100.0%", "50.0%", [(SurveyTopic.SERVICE, "50.0%")]),
    }
    p1 = next(s for s in surveys if s.project.id == world.p1.id)
    # the same figures as the survey's own results page
    results = survey_results(session, survey_id=p1.survey_id, actor=actor)
    assert (results.overall_score.shown, results.overall.shown) == (p1.overall.shown, p1.pooled.shown)
    assert (p1.overall.satisfied, p1.overall.answers) == (results.overall_score.satisfied, results.overall_score.answers)
    # each figure opens the records it counts
    assert count(session, p1.drill("scores_answered", SurveyTopic.SERVICE.value)) == 3
    assert count(session, p1.drill("scores_satisfied", SurveyTopic.SERVICE.value)) == 2
    assert count(session, p1.drill("scores_answered")) == p1.pooled.denominator == 5
    assert count(session, p1.drill("forms_rated")) == p1.overall.answers == 2
    assert count(session, p1.drill("forms_satisfied")) == p1.overall.satisfied == 1


def test_score_status(session, world):
    actor = actor_for_user(session, f.user(session, roles=["分公司管理"], branch_=world.b1))
    scope = kpis.resolve_scope(session, actor=actor)
    rows = {s.project.name: (s.status, s.label, s.staff) for s in dashboard.score_status(session, scope=scope,
                                                                                        month=ds.MONTH)}
    assert rows == {"甲项目": (MonthStatus.CONFIRMED, "已确认", 2), "乙项目": (None, "未计算", 0)}


def test_the_home_page_of_a_project_user(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    now = dt.datetime(2025, 10, 15, 9, 0, tzinfo=dt.UTC)
    page = dashboard.home_page(session, actor=actor, now=now)
    assert (page.current_month, page.chosen_month, page.today) == ("2025-10", ds.MONTH, dt.date(2025, 10, 15))
    assert page.months == ("2025-10", ds.MONTH)
    assert page.scope.project_ids == (world.p1.id,) and [p.id for p in page.choices] == [world.p1.id]
    assert page.kpis.get("handling_rate", world.p1.id, ds.MONTH).shown == "50.0%"
    assert page.arrears.total == Decimal("650.00")
    assert [s.project.id for s in page.surveys] == [world.p1.id]
    assert [s.month for s in page.scores] == ["2025-10"]


def test_the_home_page_narrowed_to_a_branch_or_a_project(session, world):
    hq = actor_for_user(session, f.user(session, superuser=True))
    page = dashboard.home_page(session, actor=hq, month=ds.MONTH, branch_id=world.b1.id)
    assert sorted(page.scope.project_ids) == [world.p1.id, world.p2.id]
    assert {p.id for p in page.choices} >= {world.p1.id, world.p2.id, world.p3.id}
    total = page.kpis.get("collection_rate", None, ds.MONTH)
    assert (total.numerator, total.denominator) == ds.EXPECTED["total"]["collection_rate"][:2]
    page = dashboard.home_page(session, actor=hq, month=ds.MONTH, project_id=world.p3.id)
    assert page.scope.project_ids == (world.p3.id,)
    assert [o.department for o in page.orders] == ["工程部"]


def test_trends_cover_twelve_months(session, world):
    actor = actor_for_user(session, f.user(session, roles=["分公司管理"], branch_=world.b1))
    figures = dashboard.trends(session, actor=actor, month="2025-12")
    assert figures.months[0] == "2025-01" and figures.months[-1] == "2025-12" and len(figures.months) == 12
    assert figures.get("survey_rate", world.p1.id, "2025-03").shown == "100.0%"
    assert figures.get("survey_rate", world.p1.id, ds.MONTH).shown == "75.0%"  # not the 筹备中 survey's 0 of 4
    assert figures.get("collection_rate", None, ds.MONTH).shown == ds.EXPECTED["total"]["collection_rate"][2]
    assert figures.get("collection_rate", None, "2025-12").shown == "—"


def test_nothing_breaks_for_a_user_without_projects(session, world):
    actor = actor_for_user(session, f.user(session, roles=["前台客服"]))
    page = dashboard.home_page(session, actor=actor)
    assert page.scope.projects == () and page.orders == () and page.surveys == () and page.scores == ()
    assert page.intake.total == 0 and page.arrears.total == Decimal("0.00")
    assert page.kpis.get("collection_rate", None, page.chosen_month).shown == "—"
