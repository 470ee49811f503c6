"""登门拜访计划 (issue 19): plans approved by someone else than who drew them up; plan against done for the month and
rolling over the year, hand-counted; the year's visits by kind and result with the unsolved issues."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from actions import rates
from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.visit_plans import (
    approve_visit_plans,
    export_visit_year,
    plan_progress,
    sign_off_visits,
    unsigned_visits,
    visit_year,
)
from models import (
    SHANGHAI,
    AuditLog,
    OperationLog,
    PlanStatus,
    Satisfaction,
    StaffVisitPlan,
    Visit,
    VisitKind,
    VisitSignoff,
)
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
            "manager": actor_for_user(session, manager), "manager_user": manager, "boss_user": boss,
            "wang_actor": actor_for_user(session, uw)}


def test_plan_against_done_for_the_month_and_the_year_so_far(session, year):
    progress = plan_progress(session, project_id=year["p"].id, month="2026-11", actor=year["boss"])
    lines = {ln.staff_name: ln for ln in progress.lines}
    wang, li = lines["王管家"], lines["李管家"]
    assert (wang.planned, wang.done, wang.rate) == (12, 2, Decimal("16.7"))
    assert (wang.planned_to_date, wang.done_to_date, wang.rate_to_date) == (22, 5, Decimal("22.7"))
    assert (li.planned, li.done, li.planned_to_date, li.done_to_date) == (8, 1, 8, 1)
    assert wang.status is PlanStatus.DRAFT
    october = {ln.staff_name: ln for ln in plan_progress(session, project_id=year["p"].id, month="2026-10",
                                                         actor=year["boss"]).lines}
    assert (october["王管家"].planned, october["王管家"].done) == (10, 3) and "李管家" not in october



def test_a_completion_rate_is_rounded_half_up_as_on_every_other_page(session, year):
    """1 household of 16 planned is 6.25 %: it read 6.2 % (the float's round-half-even) where every other page
    reads 6.3 % (``rates``, half-up)."""
    plan = session.scalars(select(StaffVisitPlan).where(StaffVisitPlan.staff_id == year["li"].id)).one()
    plan.planned = 16
    session.flush()
    li = {ln.staff_name: ln for ln in plan_progress(session, project_id=year["p"].id, month="2026-11",
                                                     actor=year["boss"]).lines}["李管家"]
    assert (li.planned, li.done, li.planned_to_date, li.done_to_date) == (16, 1, 16, 1)
    assert str(li.rate) == str(li.rate_to_date) == "6.3" and rates.percent_text(li.done, li.planned) == "6.3%"

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


def _november(session, year) -> list[int]:
    """The month's 走访 (定期、专项) in visit order: 王 11-03, 李 11-12, 王 11-30 23:30 — the repair callback is no
    走访 and 12-01 00:10 is December."""
    return [v.visit_id for v in unsigned_visits(session, project_id=year["p"].id, month="2026-11",
                                                    actor=year["boss"]).visits]


def test_visit_records_are_signed_once_by_someone_else(session, year):
    first, second, third = _november(session, year)
    done = sign_off_visits(session, visit_ids=[first, second], comment="已阅，门禁卡问题已解决", actor=year["boss"])
    assert (done.signed, done.already, done.message) == (2, 0, "已签阅走访记录 2 条")
    rows = session.scalars(select(VisitSignoff).order_by(VisitSignoff.visit_id)).all()
    assert [(r.visit_id, r.signed_by_id, r.comment) for r in rows] == [
        (first, year["boss_user"].id, "已阅，门禁卡问题已解决"), (second, year["boss_user"].id, "已阅，门禁卡问题已解决")]
    assert all(r.signed_at is not None and r.project_id == year["p"].id for r in rows)
    left = unsigned_visits(session, project_id=year["p"].id, month="2026-11", actor=year["boss"])
    assert (left.total, [v.visit_id for v in left.visits]) == (1, [third])

    again = sign_off_visits(session, visit_ids=[first, third], actor=year["manager"])
    assert (again.signed, again.already) == (1, 1)
    assert session.get(VisitSignoff, rows[0].id).signed_by_id == year["boss_user"].id  # the first signature stays
    audited = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "visit_signoff"))
    assert audited == 3
    assert session.scalar(select(func.count()).select_from(OperationLog)
                          .where(OperationLog.operation == "sign_off_visits")) == 2


def test_signing_refusals_write_nothing(session, year):
    first, *_ = _november(session, year)
    with pytest.raises(Refused, match=f"不能签阅本人的走访记录：{first}"):
        sign_off_visits(session, visit_ids=[first], actor=year["wang_actor"])
    outsider = actor_for_user(session, f.user(session, username="waibu", roles=["客服主管"], projects=[year["other"]]))
    with pytest.raises(NotPermitted, match="无权签阅"):
        sign_off_visits(session, visit_ids=[first], actor=outsider)
    with pytest.raises(Refused, match="回访走访不存在：999999"):
        sign_off_visits(session, visit_ids=[first, 999999], actor=year["boss"])
    with pytest.raises(Refused, match="请选择要签阅的走访记录"):
        sign_off_visits(session, visit_ids=[], actor=year["boss"])
    assert session.scalar(select(func.count()).select_from(VisitSignoff)) == 0


def test_the_year_is_exported_to_report_upward(session, year):
    result = export_visit_year(session, year=2026, project_ids=[year["p"].id], actor=year["boss"])
    assert result.filename == "锦绣华庭 2026年走访分类统计.xlsx" and result.rows == 2
    wb = load_workbook(io.BytesIO(result.content), read_only=True)
    counts = list(wb["分类统计"].values)[1:]  # below the title row
    assert counts[0] == ("类型", "满意", "基本满意", "不满意", "未填结果", "合计")
    assert counts[1] == ("定期走访", 6, 1, 1, 0, 8) and counts[-1] == ("合计", 7, 1, 1, 1, 10)
    issues = list(wb["未解决问题"].values)[1:]
    units = [i.unit for i in visit_year(session, year=2026, project_ids=[year["p"].id], actor=year["boss"]).open_issues]
    assert all(u.endswith("栋-" + u.split("-")[-1]) for u in units)  # 楼栋-房号, as the lists show a unit
    assert [row[1:] for row in issues[1:]] == [(units[0], "定期走访", "不满意", "楼道灯长期不亮"),
                                               (units[1], "专项走访", None, "希望增设快递柜")]
    assert session.scalar(select(AuditLog.summary).where(AuditLog.kind == "export")).startswith("导出锦绣华庭 2026年")


def test_the_console_signs_and_exports(session, console, year):
    first, second, third = _november(session, year)
    boss = console("zhuguan")
    page = boss.get(f"/admin/visit-stats?project_id={year['p'].id}&month=2026-11")
    assert page.status_code == 200 and "2026-11 待签阅的走访记录：3 条" in page.text and "签阅所选" in page.text
    assert console("wang").post("/admin/visit-stats/sign", {"visit_id": str(first)}).status_code == 403
    signed = boss.post("/admin/visit-stats/sign", {"visit_id": [str(first), str(third)], "comment": "已阅",
                                                   "project_id": str(year["p"].id), "month": "2026-11"})
    assert signed.status_code == 303 and "month=2026-11" in signed.headers["location"]
    assert set(session.scalars(select(VisitSignoff.visit_id))) == {first, third}
    address = f"/admin/visit-stats/export?project_id={year['p'].id}&year=2026"
    assert f'<form method="post" action="http://testserver{address.replace("&", "&amp;")}"' in page.text
    exports = lambda: session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.kind == "export"))  # noqa: E731
    bookmark = boss.get(address)  # 导出 audits: a GET exports nothing, it offers the button
    assert bookmark.status_code == 200 and "打开这个地址本身不会导出" in bookmark.text and exports() == 0
    assert boss.client.post(address, data={"csrf_token": "forged"}).status_code == 403 and exports() == 0
    exported = boss.post(address)
    assert exported.status_code == 200 and exported.content[:2] == b"PK" and exports() == 1
    assert boss.post(f"/admin/visit-stats/export?project_id={year['p'].id}&year=abc").status_code == 400
    assert console("wang").post(f"/admin/visit-stats/export?project_id={year['p'].id}&year=2026").status_code == 403


def test_a_plan_typed_on_the_console_is_of_its_month_and_changed_after_approval_waits_again(session, console, year):
    """A plan typed 「2026年12月」 or 2026-12 written 2026-12 … was saved as typed: 走访统计 and 审批 looked for 2026-12 and
    never found it, and the same person could be given a second plan of the month. The month is now stored as
    YYYY-MM; a plan changed after its approval is 待审批 again (the manager approved what it said then)."""
    p, wang = year["p"], year["wang"]
    c = console("zhuguan")
    form = {"project": str(p.id), "staff": str(wang.id), "planned": "15", "focus": "欠费户",
            "planned_by": str(year["boss_user"].id)}
    assert c.post("/admin/staff-visit-plan/create", {**form, "month": "２０２６年１２月"}).status_code == 302
    plan = session.scalars(select(StaffVisitPlan).order_by(StaffVisitPlan.id.desc())).first()
    assert plan.month == "2026-12"
    count = session.scalar(select(func.count()).select_from(StaffVisitPlan))
    again = c.post("/admin/staff-visit-plan/create", {**form, "month": "2026/12"})
    assert again.status_code == 400 and session.scalar(select(func.count()).select_from(StaffVisitPlan)) == count
    refused = c.post("/admin/staff-visit-plan/create", {**form, "month": "2026年13月"})
    assert refused.status_code == 400 and "月份格式应为 YYYY-MM" in refused.text
    assert approve_visit_plans(session, project_id=p.id, month="2026-12", actor=year["manager"]).approved == 1
    session.refresh(plan)
    assert plan.status is PlanStatus.APPROVED
    edited = c.post(f"/admin/staff-visit-plan/edit/{plan.id}",
                    {**form, "month": "2026-12", "planned": "5", "version": str(plan.version)})
    assert edited.status_code == 302
    session.expire_all()
    plan = session.get(StaffVisitPlan, plan.id)
    assert (plan.planned, plan.status, plan.approved_by_id, plan.approved_at) == (5, PlanStatus.DRAFT, None, None)
