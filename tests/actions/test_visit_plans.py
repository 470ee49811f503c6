"""登门拜访计划 (issue 19): plans approved by someone else than who drew them up; plan against done for the month and
rolling over the year, hand-counted; the year's visits by kind and result with the unsolved issues."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.visit_plans import approve_visit_plans, plan_progress, visit_year
from models import SHANGHAI, PlanStatus, Satisfaction, StaffVisitPlan, Visit, VisitKind
from tests import factories as f


def _at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def year(session):
    """王管家 planned 10 in October and 12 in November; 李管家 8 in November only.
    王管家 visited: October 3 households (one twice); November 2 households, one of them on Nov 30 23:30 Beijing
    time (still November), plus a repair callback (not a planned visit) and a visit on Dec 1 00:10 (December);
    one in September, a month without a plan.
    李管家 visited 1 household in November. Issues: one unsatisfied visit with an issue raised, one without a result."""
    p, other = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    wang, li = f.staff(session, project_=p, name="王管家"), f.staff(session, project_=p, name="李管家")
    boss = f.user(session, username="zhuguan", roles=["客服主管"], projects=[p])
    manager = f.user(session, username="jingli", roles=["客服经理"], projects=[p])
    uw = f.user(session, username="wang", roles=["楼宇管家"], projects=[p])
    uw.staff_id = wang.id
    ul = f.user(session, username="li", roles=["楼宇管家"], projects=[p])
    ul.staff_id = li.id
    units = [f.unit(session, project_=p) for _ in range(5)]
    for month, staff, planned in (("2026-10", wang, 10), ("2026-11", wang, 12), ("2026-11", li, 8)):
        session.add(StaffVisitPlan(project=p, month=month, staff_id=staff.id, planned=planned, planned_by_id=boss.id))

    def visit(user, unit, when, kind=VisitKind.REGULAR, result=Satisfaction.SATISFIED, issues=""):
        session.add(Visit(project=p, kind=kind, unit_id=unit.id, visited_at=when, visitor_id=user.id, result=result,
                          issues_raised=issues))

    visit(uw, units[3], _at(9, 15))  # September had no plan: not counted against the plans
    visit(uw, units[0], _at(10, 5))
    visit(uw, units[0], _at(10, 20))
    visit(uw, units[1], _at(10, 21), result=Satisfaction.UNSATISFIED, issues="楼道灯长期不亮")
    visit(uw, units[2], _at(10, 22), kind=VisitKind.SPECIAL, result=None, issues="希望增设快递柜")
    visit(uw, units[3], _at(11, 3))
    visit(uw, units[4], dt.datetime(2026, 11, 30, 23, 30, tzinfo=SHANGHAI))
    visit(uw, units[1], _at(11, 10), kind=VisitKind.REPAIR)
    visit(uw, units[2], dt.datetime(2026, 12, 1, 0, 10, tzinfo=SHANGHAI))
    visit(ul, units[0], _at(11, 12), result=Satisfaction.BASIC, issues="已解决：门禁卡补办")
    session.flush()
    return {"p": p, "other": other, "wang": wang, "li": li, "boss": actor_for_user(session, boss),
            "manager": actor_for_user(session, manager), "manager_user": manager}


def test_plan_against_done_for_the_month_and_the_year_so_far(session, year):
    progress = plan_progress(session, project_id=year["p"].id, month="2026-11", actor=year["boss"])
    lines = {ln.staff_name: ln for ln in progress.lines}
    wang, li = lines["王管家"], lines["李管家"]
    assert (wang.planned, wang.done, wang.rate) == (12, 2, 16.7)
    assert (wang.planned_to_date, wang.done_to_date, wang.rate_to_date) == (22, 5, 22.7)
    assert (li.planned, li.done, li.planned_to_date, li.done_to_date) == (8, 1, 8, 1)
    assert wang.status is PlanStatus.DRAFT
    october = {ln.staff_name: ln for ln in plan_progress(session, project_id=year["p"].id, month="2026-10",
                                                         actor=year["boss"]).lines}
    assert (october["王管家"].planned, october["王管家"].done) == (10, 3) and "李管家" not in october


def test_plans_are_approved_by_someone_else_than_who_drew_them_up(session, year):
    p = year["p"]
    with pytest.raises(Refused, match="须由制定人以外的领导审批"):
        approve_visit_plans(session, project_id=p.id, month="2026-11", actor=year["boss"])
    assert set(session.scalars(select(StaffVisitPlan.status))) == {PlanStatus.DRAFT}
    with pytest.raises(NotPermitted):
        approve_visit_plans(session, project_id=year["other"].id, month="2026-11", actor=year["manager"])
    done = approve_visit_plans(session, project_id=p.id, month="2026-11", actor=year["manager"])
    assert done.approved == 2 and "已批准 锦绣华庭 2026-11 走访计划 2 条" == done.message
    rows = session.scalars(select(StaffVisitPlan).where(StaffVisitPlan.month == "2026-11")).all()
    assert {(r.status, r.approved_by_id) for r in rows} == {(PlanStatus.APPROVED, year["manager_user"].id)}
    with pytest.raises(Refused, match="没有待审批的走访计划"):
        approve_visit_plans(session, project_id=p.id, month="2026-11", actor=year["manager"])


def test_the_years_visits_by_kind_and_result_with_the_unsolved_issues(session, year):
    stats = visit_year(session, year=2026, project_ids=[year["p"].id], actor=year["boss"])
    assert stats.total() == 10
    assert stats.counts[(VisitKind.REGULAR, Satisfaction.SATISFIED)] == 6
    assert stats.total(VisitKind.SPECIAL) == 1 and stats.total(None, None) == 1
    assert [(i.issues_raised, i.result) for i in stats.open_issues] == [
        ("楼道灯长期不亮", Satisfaction.UNSATISFIED), ("希望增设快递柜", None)]
