"""The KPI catalogue (actions/kpis.py) on the hand-checked fixture of tests/dashboard_support.py: every KPI per
project and in total, empty months and zero denominators ("—"), the drill-down record sets matching the
figures, and the scope."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from actions import kpis, rates
from actions.actor import actor_for_user
from actions.complaints import ComplaintMonth, complaint_statistics
from actions.errors import NotPermitted, Refused
from actions.survey_results import Satisfaction
from models import (
    Bill,
    ComplaintValidity,
    Phase,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyScore,
    SurveyStatus,
    SurveyTopic,
)
from tests import dashboard_support as ds
from tests import factories as f


@pytest.fixture
def world(session):
    return ds.build(session)


def actor_of(session, **kwargs):
    return actor_for_user(session, f.user(session, **kwargs))


def figures_of(session, actor, months, **scope):
    return kpis.kpi_figures(session, scope=kpis.resolve_scope(session, actor=actor, **scope), months=months)


def test_every_kpi_per_project_and_in_total(session, world):
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    figures = figures_of(session, actor, [ds.MONTH])
    assert sorted(p.id for p in figures.projects) == [world.p1.id, world.p2.id]
    for who, project_id in (("P1", world.p1.id), ("P2", world.p2.id), ("total", None)):
        for key, (num, den, shown) in ds.EXPECTED[who].items():
            figure = figures.get(key, project_id, ds.MONTH)
            assert (figure.numerator, figure.denominator, figure.shown) == (num, den, shown), (who, key)


def test_targets_and_marks(session, world):
    actor = actor_of(session, roles=["客服经理"], projects=[world.p1, world.p2])
    figures = figures_of(session, actor, [ds.MONTH])
    assert {k.key: k.target for k in kpis.CATALOGUE} == {
        "collection_rate": Decimal("93"), "yearly_collection_rate": Decimal("90"), "handling_rate": Decimal("98"),
        "timeliness_rate": None,
        "validity_rate": None, "survey_rate": Decimal("95"), "satisfaction": None, "callback_rate": Decimal("100"),
    }
    p1, p2 = world.p1.id, world.p2.id
    assert figures.get("collection_rate", p1, ds.MONTH).meets is False
    assert figures.get("collection_rate", p2, ds.MONTH).meets is True
    assert figures.get("survey_rate", p2, ds.MONTH).meets is True
    assert figures.get("handling_rate", p2, ds.MONTH).meets is False  # 0 %: a figure, off target
    assert figures.get("callback_rate", p2, ds.MONTH).meets is None  # no denominator: no mark
    assert figures.get("timeliness_rate", p1, ds.MONTH).meets is None  # no target
    assert figures.get("handling_rate", p2, ds.MONTH).rate == Decimal("0.0")
    assert figures.get("callback_rate", p2, ds.MONTH).rate is None


def test_the_rate_is_rounded_half_up_and_the_mark_is_exact():
    kpi = kpis.KPIS["handling_rate"]
    short = kpis.Figure(kpi, ds.MONTH, 1, 9799, 10000)  # 97.99 %: reads 98.0 %, still short of 98 %
    assert short.meets is False and short.shown == "98.0%" and short.rate == Decimal("98.0")
    exact = kpis.Figure(kpi, ds.MONTH, 1, 49, 50)
    assert exact.meets is True and exact.shown == "98.0%"
    # the cases the walkthrough found cut: 88.99 %, 11/14, 2/3, 514/679 — and halves go up, not to even
    for part, whole, shown in ((8899, 10000, "89.0%"), (11, 14, "78.6%"), (2, 3, "66.7%"), (514, 679, "75.7%"),
                               (2, 7, "28.6%"), (1, 16, "6.3%"), (1, 2000, "0.1%"), (0, 5, "0.0%"), (3, 0, "—"),
                               (Decimal("340335.31"), Decimal("382481.82"), "89.0%")):
        assert kpis.Figure(kpi, ds.MONTH, 1, part, whole).shown == shown == rates.percent_text(part, whole)


def test_one_rounding_rule_on_every_page():
    """The KPIs, a department's satisfaction, the survey results and the complaint statistics: one helper."""
    figure = kpis.Figure(kpis.KPIS["satisfaction"], ds.MONTH, 1, 514, 679)
    topic = kpis.TopicFigure(514, 679, topic=SurveyTopic.SERVICE)
    results = Satisfaction(answers=679, satisfied=514, mean=None)
    assert figure.shown == topic.shown == results.shown == "75.7%"
    assert figure.rate == topic.rate == results.rate == Decimal("75.7")
    row = ComplaintMonth(1, "甲项目", ds.MONTH, received=7, closed=2, orders_closed=3, orders_called_back=2)
    assert (row.handling_rate, row.callback_rate, row.timeliness_rate) == (Decimal("28.6"), Decimal("66.7"), Decimal("0.0"))
    # 达标 against the exact ratio: 97.96 % shows 98.0 % and is short of 98 %
    short = ComplaintMonth(1, "甲项目", ds.MONTH, received=4898, closed=4898 * 9796 // 10000)
    assert short.handling_rate == Decimal("98.0") and short.meets("handling_rate") is False
    assert ComplaintMonth(1, "甲项目", ds.MONTH, received=50, closed=49).meets("handling_rate") is True
    assert ComplaintMonth(1, "甲项目", ds.MONTH).meets("handling_rate") is None


def test_an_empty_month_shows_dashes_not_zero_or_an_error(session, world):
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    figures = figures_of(session, actor, [ds.EMPTY_MONTH])
    for kpi in kpis.CATALOGUE:
        for project_id in (world.p1.id, world.p2.id, None):
            figure = figures.get(kpi.key, project_id, ds.EMPTY_MONTH)
            assert (figure.numerator, figure.denominator, figure.shown, figure.rate, figure.meets) == (
                0, 0, "—", None, None), kpi.key


def test_the_yearly_collection_rate_counts_the_year_to_date(session, world):
    """P1: August 250 due, nothing paid; September 850 due, 450 paid (a waived bill left out) → September's
    全年收费率 450 ÷ 1100 = 40.9 %, under 90 %; P2: September 100 of 100 → 100 %, met. October adds nothing;
    January 2026 starts a new year with no bills: —."""
    actor = actor_of(session, roles=["客服经理"], projects=[world.p1, world.p2])
    p1, p2 = world.p1.id, world.p2.id
    f.bill(session, unit_=f.unit(session, project_=world.p1), fee_type_=world.unpaid.fee_type, period="2024-12",
           amount_due=Decimal("999.00"))  # last year's: not in 2025's rate
    figures = figures_of(session, actor, ["2025-08", ds.MONTH, "2025-10", "2026-01"])

    def shown(project_id, month):
        x = figures.get("yearly_collection_rate", project_id, month)
        return x.numerator, x.denominator, x.shown, x.meets

    assert shown(p1, "2025-08") == (Decimal("0.00"), Decimal("250.00"), "0.0%", False)
    assert shown(p1, ds.MONTH) == (Decimal("450.00"), Decimal("1100.00"), "40.9%", False)
    assert shown(p2, ds.MONTH) == (Decimal("100.00"), Decimal("100.00"), "100.0%", True)
    assert shown(None, ds.MONTH) == (Decimal("550.00"), Decimal("1200.00"), "45.8%", False)
    assert shown(p1, "2025-10") == shown(p1, ds.MONTH)
    assert shown(p1, "2026-01") == (0, 0, "—", None)
    # the monthly rate beside it is September's alone
    assert figures.get("collection_rate", p1, ds.MONTH).shown == "52.9%"
    # the bills behind the figure: January … September 2025 of P1, not waived
    drill = figures.get("yearly_collection_rate", p1, ds.MONTH).drill("denominator", [p1])
    assert sorted(session.scalars(select(Bill.period).where(drill.where()))) == ["2025-08", *[ds.MONTH] * 4]
    # one month read alone gives the same
    alone = figures_of(session, actor, [ds.MONTH]).get("yearly_collection_rate", p1, ds.MONTH)
    assert (alone.numerator, alone.denominator) == (Decimal("450.00"), Decimal("1100.00"))


def test_a_survey_counts_for_the_months_its_period_covers(session, world):
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    figures = figures_of(session, actor, ["2025-05", "2025-10", "2026-01"])
    p1, p2 = world.p1.id, world.p2.id
    # 2025H1 covers May: one household, its one answer (1 of 5) not satisfied → a real 0 %
    assert figures.get("survey_rate", p1, "2025-05").shown == "100.0%"
    assert figures.get("satisfaction", p1, "2025-05").shown == "0.0%"
    # October: P1's 2025H2 still, P2's 2025Q3 no longer
    assert figures.get("satisfaction", p1, "2025-10").shown == "60.0%"
    assert figures.get("satisfaction", p2, "2025-10").shown == "—"
    assert figures.get("survey_rate", p1, "2026-01").shown == "—"
    assert kpis.survey_periods("2025-11") == ("2025", "2025H2", "2025Q4", "2025-11")
    assert kpis.survey_periods("2025H2") == ("2025H2",)


def test_a_survey_started_later_never_rewrites_the_months_before_it(session, world):
    """A second 2025H2 campaign of P1 entered on 2025-11-20 (no 开始日期) with 10 households, one form back:
    July–October keep P1's first 2025H2 campaign alone (3 of 4 households, 3 of 5 answers satisfied);
    November and December count both: 3 + 1 of 4 + 10 households = 28.6 %, 3 + 0 of 5 + 1 answers = 50.0 %."""
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    months = ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12"]
    before = figures_of(session, actor, months)
    late = Survey(project=world.p1, title="2025年下半年补充调查", period="2025H2", scale_max=5,
                  status=SurveyStatus.DISTRIBUTING, created_at=ds.sh(11, 20))
    session.add(late)
    session.flush()
    units = [f.unit(session, project_=world.p1) for _ in range(10)]
    session.add_all([SurveyHousehold(project_id=world.p1.id, survey_id=late.id, unit_id=u.id, collected=u is units[0])
                     for u in units])
    session.add(SurveyResponse(project_id=world.p1.id, survey_id=late.id, unit_id=units[0].id, service_score=2))
    session.flush()

    after = figures_of(session, actor, months)

    p1 = world.p1.id
    for month in months[:4]:
        for key in ("survey_rate", "satisfaction"):
            was, now = before.get(key, p1, month), after.get(key, p1, month)
            assert (now.numerator, now.denominator, now.shown) == (was.numerator, was.denominator, was.shown), month
        assert after.get("survey_rate", p1, month).shown == "75.0%"
    for month in months[4:]:
        rate, satisfaction = after.get("survey_rate", p1, month), after.get("satisfaction", p1, month)
        assert ((rate.numerator, rate.denominator, rate.shown), (satisfaction.numerator, satisfaction.denominator)) == (
            (4, 14, "28.6%"), (3, 6))
    # the lists behind the figures agree: October's 4 households, November's 14
    for month, n in (("2025-10", 4), ("2025-11", 14)):
        drill = after.get("survey_rate", p1, month).drill("denominator", [p1])
        assert session.scalar(select(func.count()).select_from(drill.records.model).where(drill.where())) == n


def test_several_months_at_once_match_one_month_at_a_time(session, world):
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    months = kpis.last_months(ds.MONTH, 12)
    assert months[0] == "2024-10" and months[-1] == ds.MONTH and len(months) == 12
    together = figures_of(session, actor, months + ["2023-01"])
    assert together.months == ("2023-01", *months)
    alone = figures_of(session, actor, [ds.MONTH])
    assert {k: (v.numerator, v.denominator) for k, v in alone.figures.items()} == {
        k: (v.numerator, v.denominator) for k, v in together.figures.items() if k[2] == ds.MONTH}
    assert kpis.distinct_months(["2025-03", "2025-01", "2025-03"]) == ("2025-01", "2025-03")


def test_the_complaint_figures_are_those_of_the_complaint_statistics(session, world):
    actor = actor_of(session, roles=["客服经理"], projects=[world.p1])
    figures = figures_of(session, actor, [ds.MONTH])
    row = complaint_statistics(session, actor=actor, month_from=ds.MONTH).rows[0]
    assert figures.get("handling_rate", world.p1.id, ds.MONTH).rate == row.handling_rate
    assert figures.get("timeliness_rate", world.p1.id, ds.MONTH).rate == row.timeliness_rate
    assert figures.get("validity_rate", world.p1.id, ds.MONTH).rate == row.validity_rate
    assert figures.get("callback_rate", world.p1.id, ds.MONTH).rate == row.callback_rate


@pytest.mark.parametrize("kpi", [k.key for k in kpis.CATALOGUE])
def test_the_drill_down_records_make_the_figures(session, world, kpi):
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    figures = figures_of(session, actor, [ds.MONTH])
    for project_ids, project_id in (([world.p1.id], world.p1.id), ([world.p2.id], world.p2.id),
                                    ([world.p1.id, world.p2.id], None)):
        figure = figures.get(kpi, project_id, ds.MONTH)
        for part, expected in (("numerator", figure.numerator), ("denominator", figure.denominator)):
            drill = kpis.Drill.parse(figure.drill(part, project_ids).code)
            model = drill.records.model
            if figure.kpi.money:
                amount = Bill.amount_paid if part == "numerator" else Bill.amount_due
                found = session.scalar(select(func.coalesce(func.sum(amount), 0)).where(drill.where()))
                assert Decimal(found) == expected, (kpi, part, project_ids)
            else:
                found = session.scalar(select(func.count()).select_from(model).where(drill.where()))
                assert found == expected, (kpi, part, project_ids)


def test_drill_codes_round_trip_and_bad_codes_are_refused():
    drill = kpis.Drill("scores_answered", "2025H2", (3, 1, 3), SurveyTopic.SERVICE.value)
    assert drill.code == "scores_answered:2025H2:1,3:service"
    assert kpis.Drill.parse(drill.code) == drill
    assert drill.records.model is SurveyScore
    for bad in ("", "nope:2025-09:1:", "bills_due:2025-09::", "bills_due:2025-09:1;drop:", "bills_due"):
        with pytest.raises(Refused):
            kpis.Drill.parse(bad)
    with pytest.raises(Refused):
        kpis.Drill("bills_due", "2025-13", (1,)).where()


def test_a_project_user_sees_only_their_projects_figures(session, world):
    actor = actor_of(session, roles=["客服经理"], projects=[world.p1])
    scope = kpis.resolve_scope(session, actor=actor)
    assert scope.project_ids == (world.p1.id,)
    figures = kpis.kpi_figures(session, scope=scope, months=[ds.MONTH])
    total = figures.get("collection_rate", None, ds.MONTH)
    assert (total.numerator, total.denominator) == ds.EXPECTED["P1"]["collection_rate"][:2]
    assert all(key[1] in (world.p1.id, None) for key in figures.figures)
    with pytest.raises(NotPermitted) as refused:
        kpis.resolve_scope(session, actor=actor, project_ids=[world.p2.id, world.p1.id])
    # named by its number only: the name of a project the user may not see is not told
    assert str(refused.value) == f"无权查看所选项目（编号 {world.p2.id}）的指标" and refused.value.ids == [world.p2.id]
    # a branch account: its branch only, and one branch of it when asked
    branch = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    assert sorted(kpis.resolve_scope(session, actor=branch).project_ids) == [world.p1.id, world.p2.id]
    assert kpis.resolve_scope(session, actor=branch, branch_id=world.b2.id).project_ids == ()
    with pytest.raises(NotPermitted):
        kpis.resolve_scope(session, actor=branch, project_ids=[world.p3.id])


def test_a_user_without_projects_gets_empty_figures(session, world):
    actor = actor_of(session, roles=["前台客服"])
    figures = figures_of(session, actor, [ds.MONTH])
    assert figures.projects == ()
    assert figures.get("collection_rate", None, ds.MONTH).shown == "—"


def test_satisfaction_by_department(session, world):
    counts = kpis.survey_counts(session, project_ids=[world.p1.id, world.p2.id], periods=["2025H2", "2025Q3"])
    assert [(t.topic, t.satisfied, t.answers, t.shown) for t in counts.topics(world.p1.id, "2025H2")] == [
        (SurveyTopic.SERVICE, 2, 3, "66.7%"), (SurveyTopic.ENGINEERING, 1, 2, "50.0%")]
    assert [(t.topic, t.shown) for t in counts.topics(world.p2.id, "2025Q3")] == [(SurveyTopic.SERVICE, "50.0%")]
    assert counts.households == {(world.p1.id, "2025H2"): (3, 4), (world.p2.id, "2025Q3"): (2, 2)}
    # the forms' own 总体满意度 beside them: 4 and 2 of 5 (P1), 9 of 10 (P2); unanswered ones not counted
    assert counts.overall == {(world.p1.id, "2025H2"): (1, 2), (world.p2.id, "2025Q3"): (1, 1)}
    assert counts.overall_score(world.p1.id, "2025H2").shown == "50.0%"
    assert kpis.survey_counts(session, project_ids=[], periods=["2025H2"]).answers == {}
    # the KPI given these counts is the KPI that reads them itself
    scope = kpis.resolve_scope(session, actor=actor_of(session, roles=["分公司管理"], branch_=world.b1))
    read = {name: task(session) for name, task in kpis.kpi_reads(scope, [ds.MONTH]).items()}
    assert kpis.survey_counts_of(read).households == counts.households
    given = kpis.kpi_figures(session, scope=scope, months=[ds.MONTH], read=read)
    assert given.get("satisfaction", None, ds.MONTH).shown == ds.EXPECTED["total"]["satisfaction"][2]


def test_a_survey_not_yet_run_counts_nowhere(session, world):
    """筹备中: the households of P1's 2025-09 survey are listed and a form was typed in, yet it has handed out
    nothing — September's figures, and the lists they open, leave it out until it is 发放中."""
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    planned = session.scalar(select(Survey).where(Survey.status == SurveyStatus.PLANNED))
    assert planned.project_id == world.p1.id and planned.period == ds.MONTH
    figures = figures_of(session, actor, [ds.MONTH])
    rate, satisfaction = (figures.get(k, world.p1.id, ds.MONTH) for k in ("survey_rate", "satisfaction"))
    assert ((rate.numerator, rate.denominator), (satisfaction.numerator, satisfaction.denominator)) == ((3, 4), (3, 5))
    for part in ("numerator", "denominator"):
        drill = rate.drill(part, [world.p1.id])
        assert session.scalar(select(func.count()).select_from(drill.records.model).where(drill.where())) == (
            rate.numerator if part == "numerator" else rate.denominator)
    assert kpis.survey_counts(session, project_ids=[world.p1.id], periods=[ds.MONTH]) == kpis.SurveyCounts({}, {})
    # once distributed it counts: its 4 households, none collected yet, and its one answer (1 of 5)
    planned.status = SurveyStatus.DISTRIBUTING
    session.flush()
    figures = figures_of(session, actor, [ds.MONTH])
    rate, satisfaction = (figures.get(k, world.p1.id, ds.MONTH) for k in ("survey_rate", "satisfaction"))
    assert ((rate.numerator, rate.denominator), (satisfaction.numerator, satisfaction.denominator)) == ((3, 8), (3, 6))


def test_a_drill_code_in_words(session, world):
    """Captions name the records with Chinese labels and names, never keys or ids."""
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    p1, p2 = world.p1.id, world.p2.id
    phase_id = session.scalar(select(Phase.id).where(Phase.project_id == p1))  # P1's 一期
    cases = {
        kpis.Drill("scores_answered", "2025H2", (p1,), "service"): "2025H2 答题数（客服部） · 甲项目",
        kpis.Drill("bills_overdue", "2025-10-15", (p1, p2), "m2"): "截至 2025-10-15 欠费账单（2个月） · 甲项目、乙项目",
        kpis.Drill("orders_overdue", "", (p1,), str(world.engineering.id)): "超时工单（工程部） · 甲项目",
        kpis.Drill("orders_open", "", (p1,)): "未完成工单 · 甲项目",
        kpis.Drill("complaints_received", ds.MONTH, (p1,), world.c1.category.value):
            f"{ds.MONTH} 受理投诉（{world.c1.category.label}） · 甲项目",
        kpis.Drill("requests_received", ds.MONTH, (p1,), "repair_public"): f"{ds.MONTH} 受理的客户诉求（报修(公共)） · 甲项目",
        kpis.Drill("visits", ds.MONTH, (p1,), "repair/none"): f"{ds.MONTH} 回访走访（维修工单回访·未填结果） · 甲项目",
        kpis.Drill("bills_due", ds.MONTH, (p1,), str(phase_id)): f"{ds.MONTH} 应收账单（一期） · 甲项目",
        kpis.Drill("bills_paid", ds.MONTH, (p1,), "none"): f"{ds.MONTH} 已收款账单（未分期） · 甲项目",
        kpis.Drill("forms_rated", "2025H2", (p1,)): "2025H2 填写总体满意度的调查问卷 · 甲项目",
        # a project the user may not see is named by its number only
        kpis.Drill("complaints_received", ds.MONTH, (p1, world.p3.id)): f"{ds.MONTH} 受理投诉 · 甲项目、项目 #{world.p3.id}",
    }
    for drill, caption in cases.items():
        assert kpis.describe(session, drill, actor=actor) == caption, drill.code


def test_a_withdrawn_complaint_counts_in_no_complaint_figure(session, world):
    """A complaint the owner withdrew (已取消, closed when withdrawn) was neither handled nor valid: counted, it
    raised 投诉处理率 and 投诉有效率; the report's requests by kind, the drill-downs and 投诉统计 leave it out alike."""
    actor = actor_of(session, roles=["客服经理"], projects=[world.p1])
    before = figures_of(session, actor, [ds.MONTH])
    stats_before = complaint_statistics(session, actor=actor, month_from=ds.MONTH).rows[0]
    requests_drill = kpis.Drill("requests_received", ds.MONTH, (world.p1.id,), RequestKind.COMPLAINT.value)
    listed_before = session.scalar(select(func.count()).select_from(ServiceRequest).where(requests_drill.where()))
    received = dt.datetime(2025, 9, 10, 2, 0, tzinfo=dt.UTC)
    withdrawn = f.service_request(session, project_=world.p1, kind=RequestKind.COMPLAINT, received_at=received)
    withdrawn.complaint_validity = ComplaintValidity.VALID
    withdrawn.status, withdrawn.closed_at = RequestStatus.CANCELLED, received + dt.timedelta(hours=2)
    session.flush()
    assert session.get(ServiceRequest, withdrawn.id).status is RequestStatus.CANCELLED
    after = figures_of(session, actor, [ds.MONTH])
    for key in ("handling_rate", "timeliness_rate", "validity_rate"):
        old, new = before.get(key, world.p1.id, ds.MONTH), after.get(key, world.p1.id, ds.MONTH)
        assert (new.numerator, new.denominator) == (old.numerator, old.denominator), key
    stats = complaint_statistics(session, actor=actor, month_from=ds.MONTH).rows[0]
    assert (stats.received, stats.closed, stats.valid) == (stats_before.received, stats_before.closed,
                                                           stats_before.valid)
    for key in ("complaints_received", "complaints_closed", "complaints_valid"):
        drill = kpis.Drill(key, ds.MONTH, (world.p1.id,))
        assert withdrawn.id not in session.scalars(select(ServiceRequest.id).where(drill.where())).all(), key
    assert session.scalar(select(func.count()).select_from(ServiceRequest).where(requests_drill.where())) \
        == listed_before
