"""判定投诉 (issue 16 items 2–3): one complaint, one deduction; validity 待判定 / 有效 / 无效 and 投诉有效率."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from actions.complaints import complaint_case, complaint_statistics, judge_complaint
from actions.errors import Refused
from actions.score_results import month_tables, score_breakdown
from actions.scores import (
    JUDGED_NOTE,
    PROVISIONAL_NOTE,
    compute_scores,
    confirm_scores,
)
from models import (
    ComplaintValidity,
    EventSource,
    MonthStatus,
    OperationLog,
    RequestKind,
    RewardEntry,
    ScoreEvent,
    ScoreMonth,
    ScoringRule,
    ServiceRequest,
)
from tests.score_support import MONTH, at, build_org, count, request, scores

V = ComplaintValidity


@pytest.fixture
def org(session):
    return build_org(session)


def _compute(session, org):
    return compute_scores(session, month=MONTH, project_ids=[org["project"].id], actor=org["actor"])


def _complaint_events(session, complaint):
    return session.execute(
        select(ScoreEvent.points, ScoreEvent.note)
        .where(ScoreEvent.source == EventSource.COMPLAINT, ScoreEvent.source_id == complaint.id)
    ).all()


def test_a_complaint_judged_minus_8_costs_8_not_13(session, org):
    """细则：被业主投诉者，视情况扣5-10分 — the judgement replaces the provisional −5, it never adds to it."""
    p, wang = org["project"], org["staff"]["a"]
    complaint = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 9), complaint_validity=V.VALID,
                        complained_staff=wang)
    _compute(session, org)
    assert scores(session)["王芳"].total == Decimal("95")  # provisional: 100 − 5
    assert _complaint_events(session, complaint) == [(Decimal("-5"), PROVISIONAL_NOTE)]

    result = judge_complaint(session, request_id=complaint.id, validity=V.VALID, points=Decimal("8"),
                             actor=org["actor"])
    assert result.points == Decimal("-8") and "评定扣 8 分" in result.message
    assert (complaint.complaint_points, complaint.complaint_judged_by_id) == (Decimal("-8"), org["boss"].id)
    recomputed = _compute(session, org)
    assert (recomputed.derived_added, recomputed.derived_removed) == (1, 1)
    assert scores(session)["王芳"].total == Decimal("92")  # 100 − 8, not 100 − 5 − 8
    assert _complaint_events(session, complaint) == [(Decimal("-8"), JUDGED_NOTE)]
    # the breakdown says which: the supervisor's judgement, on the one event of that complaint
    breakdown = score_breakdown(session, staff_id=wang.id, month=MONTH, actor=org["actor"])
    assert [(e.points, e.note) for e in breakdown.events] == [(Decimal("-8"), JUDGED_NOTE)]
    # judged −8 again (typed as −8): nothing changes at the next compute
    judge_complaint(session, request_id=complaint.id, validity=V.VALID, points=Decimal("-8"), actor=org["actor"])
    again = _compute(session, org)
    assert (again.derived_added, again.derived_removed) == (0, 0)

    # found not valid after all: the deduction goes
    judge_complaint(session, request_id=complaint.id, validity=V.INVALID, actor=org["actor"])
    assert complaint.complaint_points is None
    _compute(session, org)
    assert scores(session)["王芳"].total == Decimal("100") and _complaint_events(session, complaint) == []


def test_the_rule_of_valid_complaints_is_a_range_and_the_unstated_points_are_the_companys_own(session, org):
    rule = session.scalar(select(ScoringRule).where(ScoringRule.source == EventSource.COMPLAINT))
    assert (rule.points_min, rule.points_max, rule.choose_in_range, rule.company_own) == (
        Decimal("-10"), Decimal("-5"), True, False)
    own = set(session.scalars(select(ScoringRule.code).where(ScoringRule.company_own.is_(True))))
    assert own == {"AUTO-OVERDUE", "AUTO-CALLBACK", "AUTO-PRAISE", "8.1"}
    case = complaint_case(session, request_id=request(
        session, org["project"], RequestKind.COMPLAINT, at(2026, 10, 9), complained_staff=org["staff"]["a"]).id,
        actor=org["actor"])
    assert (case.staff, case.points_range, case.provisional) == ("王芳", "5 至 10", "5")


def _state(session, complaint):
    session.expire_all()
    row = session.get(ServiceRequest, complaint.id)
    return (row.complaint_validity, row.complaint_points, row.complaint_judged_by_id, count(session, OperationLog),
            count(session, ScoreEvent))


@pytest.mark.parametrize(("validity", "points", "says"), [
    (V.VALID, Decimal("12"), "须在 5 至 10 分之间"),
    (V.VALID, Decimal("4"), "须在 5 至 10 分之间"),
    (V.VALID, Decimal("7.25"), "最多保留一位小数"),
    (V.INVALID, Decimal("8"), "只有有效投诉才评定扣分"),
    (V.PENDING, Decimal("8"), "只有有效投诉才评定扣分"),
])
def test_a_judgement_out_of_range_is_refused_and_writes_nothing(session, org, validity, points, says):
    complaint = request(session, org["project"], RequestKind.COMPLAINT, at(2026, 10, 9),
                        complaint_validity=V.PENDING, complained_staff=org["staff"]["a"])
    before = _state(session, complaint)
    with pytest.raises(Refused, match=says):
        judge_complaint(session, request_id=complaint.id, validity=validity, points=points, actor=org["actor"])
    assert _state(session, complaint) == before


def test_a_judgement_on_a_non_complaint_or_without_an_employee_is_refused(session, org):
    p = org["project"]
    repair = request(session, p, RequestKind.REPAIR_PRIVATE, at(2026, 10, 9))
    before = _state(session, repair)
    with pytest.raises(Refused, match="不是投诉"):
        judge_complaint(session, request_id=repair.id, validity=V.VALID, actor=org["actor"])
    assert _state(session, repair) == before and before[0] is None
    nobody = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 9), complaint_validity=V.PENDING)
    before = _state(session, nobody)
    with pytest.raises(Refused, match="未指明被投诉员工"):
        judge_complaint(session, request_id=nobody.id, validity=V.VALID, points=Decimal("6"), actor=org["actor"])
    assert _state(session, nobody) == before
    # valid without a deduction to choose: judged
    judge_complaint(session, request_id=nobody.id, validity=V.VALID, actor=org["actor"])
    assert _state(session, nobody)[:3] == (V.VALID, None, org["boss"].id)


def test_a_confirmed_month_keeps_its_judgements(session, org):
    complaint = request(session, org["project"], RequestKind.COMPLAINT, at(2026, 10, 9), complaint_validity=V.VALID,
                        complained_staff=org["staff"]["a"])
    judge_complaint(session, request_id=complaint.id, validity=V.VALID, points=Decimal("6"), actor=org["actor"])
    _compute(session, org)
    confirm_scores(session, month=MONTH, project_ids=[org["project"].id], actor=org["actor"])
    before = _state(session, complaint)
    with pytest.raises(Refused, match="已确认"):
        judge_complaint(session, request_id=complaint.id, validity=V.VALID, points=Decimal("9"), actor=org["actor"])
    assert _state(session, complaint) == before


def test_validity_rate_with_the_unjudged_beside_it(session, org):
    """10 complaints: 7 有效, 2 无效, 1 待判定 → 投诉有效率 = 有效 ÷ 受理 = 70.0 %, 待判定 1 shown beside it."""
    p = org["project"]
    for i, validity in enumerate([V.VALID] * 7 + [V.INVALID] * 2 + [V.PENDING]):
        request(session, p, RequestKind.COMPLAINT, at(2026, 10, 2 + i), complaint_validity=validity)
    request(session, p, RequestKind.REPAIR_PRIVATE, at(2026, 10, 3))  # not a complaint: not counted
    stats = complaint_statistics(session, actor=org["actor"], month_from=MONTH, project_ids=[p.id])
    (row,) = stats.rows
    assert (row.received, row.valid, row.invalid, row.pending) == (10, 7, 2, 1)
    assert row.validity_rate == Decimal("70.0")
    assert (stats.total.valid, stats.total.invalid, stats.total.pending) == (7, 2, 1)


def test_the_employee_complained_about_does_not_judge_the_complaint(session, org):
    """A 客服主管 named as 被投诉员工 could judge the complaint against himself 无效 (no deduction, 投诉有效率 down); the
    judgement is now refused to him, nothing written, and another supervisor judges it."""
    from actions.actor import actor_for_user
    from actions.errors import NotPermitted
    from tests import factories

    p, boss = org["project"], org["boss"]
    boss.staff_id = org["staff"]["a"].id
    complaint = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 9), complaint_validity=V.PENDING,
                        complained_staff=org["staff"]["a"])
    before = _state(session, complaint)
    for validity in (V.INVALID, V.VALID):
        with pytest.raises(NotPermitted, match="不能判定本人被投诉的诉求"):
            judge_complaint(session, request_id=complaint.id, validity=validity, actor=actor_for_user(session, boss))
        assert _state(session, complaint) == before
    other = factories.user(session, username="zhuguan2", roles=["客服主管"], projects=[p])
    judge_complaint(session, request_id=complaint.id, validity=V.VALID, points=Decimal("6"),
                    actor=actor_for_user(session, other))
    assert _state(session, complaint)[:3] == (V.VALID, Decimal("-6"), other.id)


def _month_state(session, org):
    return session.execute(
        select(ScoreMonth.status, ScoreMonth.confirmed_by_id, ScoreMonth.confirmed_at)
        .where(ScoreMonth.month == MONTH, ScoreMonth.project_id == org["project"].id)
    ).one()


def test_a_month_with_provisional_complaint_deductions_is_not_confirmed_until_judged(session, org):
    """细则：被业主投诉者，视情况扣5-10分 — the supervisor judges each before the month is locked: the confirm
    names the employees and complaints still 「暂定扣分，待主管评定」 and changes nothing."""
    p, wang, li = org["project"], org["staff"]["a"], org["staff"]["b"]
    first = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 9), complaint_validity=V.VALID,
                    complained_staff=wang)
    second = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 20), complaint_validity=V.VALID,
                     complained_staff=li)
    _compute(session, org)
    before = (_month_state(session, org), count(session, OperationLog), count(session, RewardEntry))
    assert before[0][0] is MonthStatus.DRAFT
    table = month_tables(session, month=MONTH, project_ids=[p.id], actor=org["actor"])[0]
    assert {(j.staff, j.request_id) for j in table.to_judge} == {(wang.name, first.id), (li.name, second.id)}

    with pytest.raises(Refused) as refused:
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    says = refused.value.message
    assert "暂定扣分，待主管评定" in says and "不能确认" in says
    assert f"{wang.name} 投诉#{first.id}（2026-10-09，暂扣 5 分）" in says and f"{li.name} 投诉#{second.id}" in says
    assert (_month_state(session, org), count(session, OperationLog), count(session, RewardEntry)) == before

    # one judged, the other still provisional: refused naming only that one
    judge_complaint(session, request_id=first.id, validity=V.VALID, points=Decimal("7"), actor=org["actor"])
    _compute(session, org)
    with pytest.raises(Refused) as refused:
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert f"投诉#{second.id}" in refused.value.message and f"投诉#{first.id}" not in refused.value.message
    assert _month_state(session, org)[0] is MonthStatus.DRAFT

    # both judged (and recomputed): confirmed
    judge_complaint(session, request_id=second.id, validity=V.VALID, points=Decimal("5"), actor=org["actor"])
    _compute(session, org)
    assert month_tables(session, month=MONTH, project_ids=[p.id], actor=org["actor"])[0].to_judge == ()
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert _month_state(session, org)[0] is MonthStatus.CONFIRMED
