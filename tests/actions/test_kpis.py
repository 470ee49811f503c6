"""The KPI catalogue (actions/kpis.py) on the hand-checked fixture of tests/dashboard_support.py: every KPI per
project and in total, empty months and zero denominators ("—"), the drill-down record sets matching the
figures, and the scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from actions import kpis
from actions.actor import actor_for_user
from actions.complaints import complaint_statistics
from actions.errors import NotPermitted, Refused
from models import Bill, SurveyScore, SurveyTopic
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
        "collection_rate": Decimal("93"), "handling_rate": Decimal("98"), "timeliness_rate": None,
        "validity_rate": None, "survey_rate": Decimal("95"), "satisfaction": None, "callback_rate": Decimal("100"),
    }
    p1, p2 = world.p1.id, world.p2.id
    assert figures.get("collection_rate", p1, ds.MONTH).meets is False
    assert figures.get("collection_rate", p2, ds.MONTH).meets is True
    assert figures.get("survey_rate", p2, ds.MONTH).meets is True
    assert figures.get("handling_rate", p2, ds.MONTH).meets is False  # 0 %: a figure, off target
    assert figures.get("callback_rate", p2, ds.MONTH).meets is None  # no denominator: no mark
    assert figures.get("timeliness_rate", p1, ds.MONTH).meets is None  # no target
    assert figures.get("handling_rate", p2, ds.MONTH).rate == Decimal("0.00")
    assert figures.get("callback_rate", p2, ds.MONTH).rate is None


def test_the_mark_is_exact_and_the_shown_rate_never_rounds_up_to_the_target():
    kpi = kpis.KPIS["handling_rate"]
    short = kpis.Figure(kpi, ds.MONTH, 1, 9799, 10000)  # 97.99 %
    assert short.meets is False and short.shown == "97.9%" and short.rate == Decimal("97.99")
    exact = kpis.Figure(kpi, ds.MONTH, 1, 49, 50)
    assert exact.meets is True and exact.shown == "98.0%"


def test_an_empty_month_shows_dashes_not_zero_or_an_error(session, world):
    actor = actor_of(session, roles=["分公司管理"], branch_=world.b1)
    figures = figures_of(session, actor, [ds.EMPTY_MONTH])
    for kpi in kpis.CATALOGUE:
        for project_id in (world.p1.id, world.p2.id, None):
            figure = figures.get(kpi.key, project_id, ds.EMPTY_MONTH)
            assert (figure.numerator, figure.denominator, figure.shown, figure.rate, figure.meets) == (
                0, 0, "—", None, None), kpi.key


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
        (SurveyTopic.SERVICE, 2, 3, "66.6%"), (SurveyTopic.ENGINEERING, 1, 2, "50.0%")]
    assert [(t.topic, t.shown) for t in counts.topics(world.p2.id, "2025Q3")] == [(SurveyTopic.SERVICE, "50.0%")]
    assert counts.households == {(world.p1.id, "2025H2"): (3, 4), (world.p2.id, "2025Q3"): (2, 2)}
    assert kpis.survey_counts(session, project_ids=[], periods=["2025H2"]).answers == {}
    # the KPI given these counts is the KPI that reads them itself
    scope = kpis.resolve_scope(session, actor=actor_of(session, roles=["分公司管理"], branch_=world.b1))
    read = {name: task(session) for name, task in kpis.kpi_reads(scope, [ds.MONTH]).items()}
    assert kpis.survey_counts_of(read).households == counts.households
    given = kpis.kpi_figures(session, scope=scope, months=[ds.MONTH], read=read)
    assert given.get("satisfaction", None, ds.MONTH).shown == ds.EXPECTED["total"]["satisfaction"][2]
