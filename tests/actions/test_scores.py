"""Monthly staff scores (issue 6): rules by month, events typed and derived, compute / confirm / reopen."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from actions.actor import SYSTEM
from actions.audit import trail_clause
from actions.errors import NotPermitted, Refused
from actions.records import TEXT_MAX, delete_record, save_record
from actions.scores import (
    compute_scores,
    confirm_scores,
    event_choices,
    record_events,
    record_spot_check,
    reopen_scores,
    revise_rule,
    rules_in_force,
)
from actions.work_orders import reassign_work_orders
from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Branch,
    ComplaintValidity,
    EventSource,
    GradeBand,
    MonthlyScore,
    MonthStatus,
    OperationLog,
    Project,
    RequestKind,
    RewardEntry,
    RuleCategory,
    Satisfaction,
    ScoreEvent,
    ScoreMonth,
    ScoreTotal,
    ScoringRule,
    Staff,
    WorkOrder,
    utcnow,
)
from tests import factories
from tests.race_support import second_while_first_open
from tests.score_support import (
    DAY,
    MONTH,
    actor_for,
    at,
    build_org,
    callback,
    count,
    hand_checked,
    order,
    record,
    request,
    rule,
    scores,
    snapshot,
)


@pytest.fixture
def org(session):
    return build_org(session)


# --- rules --------------------------------------------------------------------------------------------
def test_the_documents_rules_load_with_their_points(session):
    assert (rule(session, "1.1").points_min, rule(session, "1.1").points_max) == (Decimal("-1"), Decimal("-1"))
    sleeping = rule(session, "5.8")  # 上班打瞌睡、睡觉（视情况严重）扣 3-5 分
    assert (sleeping.points_min, sleeping.points_max, sleeping.choose_in_range) == (Decimal("-5"), Decimal("-3"), True)
    hair = rule(session, "5.2")  # 视情况扣 0.5-1.5 分
    assert (hair.points_min, hair.points_max, hair.category) == (Decimal("-1.5"), Decimal("-0.5"), RuleCategory.APPEARANCE)
    assert rule(session, "AUTO-PRAISE").points_max == Decimal("2")
    assert rule(session, "AUTO-COMPLAINT").source is EventSource.COMPLAINT
    assert {c.category for c in rules_in_force(session, month=MONTH)} >= {
        RuleCategory.RECEPTION, RuleCategory.ANSWER, RuleCategory.COOPERATION, RuleCategory.DUTY_RECORD,
        RuleCategory.APPEARANCE, RuleCategory.DISCIPLINE, RuleCategory.ATTENDANCE, RuleCategory.PRAISE,
    }
    bands = dict(session.execute(select(GradeBand.name, GradeBand.min_total)).all())
    assert bands == {"优秀": Decimal("95"), "良好": Decimal("85"), "合格": Decimal("70"), "不合格": Decimal("0")}


def test_a_month_is_scored_with_the_rules_in_force_that_month(session, org):
    a, b = org["staff"]["a"], org["staff"]["b"]
    # 2026-10-01 起：不及时接待扣 3 分；被有效投诉扣 8 分
    for code, points in (("1.1", "-3"), ("AUTO-COMPLAINT", "-8")):
        old = rule(session, code, dt.date(2026, 9, 1))
        old.valid_to = dt.date(2026, 10, 1)
        session.add(ScoringRule(code=code, category=old.category, description=old.description, source=old.source,
                                points_min=Decimal(points), points_max=Decimal(points), valid_from=dt.date(2026, 10, 1)))
    session.flush()
    assert [r.points_max for r in rules_in_force(session, month="2026-09") if r.code == "1.1"] == [Decimal("-1")]
    assert [r.points_max for r in rules_in_force(session, month="2026-10") if r.code == "1.1"] == [Decimal("-3")]

    record(session, org, [a], "1.1", day=dt.date(2026, 9, 30))
    record(session, org, [a], "1.1", day=dt.date(2026, 10, 1))
    sep_rule = rule(session, "1.1", dt.date(2026, 9, 30))
    with pytest.raises(Refused, match="在 2026-10-02 不适用"):
        record_events(session, project_id=org["project"].id, staff_ids=[a.id], event_date=dt.date(2026, 10, 2),
                      rule_id=sep_rule.id, actor=org["actor"])
    request(session, org["project"], RequestKind.COMPLAINT, at(2026, 9, 20), complaint_validity=ComplaintValidity.VALID, complained_staff=b)
    request(session, org["project"], RequestKind.COMPLAINT, at(2026, 10, 20), complaint_validity=ComplaintValidity.VALID, complained_staff=b)

    compute_scores(session, month="2026-09", project_ids=[org["project"].id], actor=org["actor"])
    compute_scores(session, month="2026-10", project_ids=[org["project"].id], actor=org["actor"])
    assert (scores(session, "2026-09")["王芳"].total, scores(session, "2026-09")["李娜"].total) == (Decimal("99"), Decimal("95"))
    assert (scores(session, "2026-10")["王芳"].total, scores(session, "2026-10")["李娜"].total) == (Decimal("97"), Decimal("92"))


def test_a_rule_is_revised_from_a_future_date_only(session, org):
    current = rule(session, "2.1")
    company = dataclasses.replace(org["actor"], project_ids=None)  # the rules hold for every project
    with pytest.raises(Refused, match="须晚于今天"):
        revise_rule(session, rule_id=current.id, valid_from=dt.date(2026, 1, 1), points_min=Decimal("-3"),
                    points_max=Decimal("-3"), actor=company)
    before = count(session, ScoringRule)
    logs = count(session, OperationLog, OperationLog.operation == "revise_scoring_rule")
    start = utcnow().astimezone(SHANGHAI).date().replace(day=1) + dt.timedelta(days=40)
    with pytest.raises(Refused, match="只有拥有全公司权限的账号可以修改"):
        revise_rule(session, rule_id=current.id, valid_from=start, points_min=Decimal("-4"),
                    points_max=Decimal("-2"), actor=org["actor"])  # a manager of one project
    assert count(session, ScoringRule) == before and current.valid_to is None
    result = revise_rule(session, rule_id=current.id, valid_from=start, points_min=Decimal("-4"),
                         points_max=Decimal("-2"), actor=company)
    new = session.get(ScoringRule, result.new_rule_id)
    assert (current.valid_to, new.valid_from, new.points_min, new.choose_in_range) == (start, start, Decimal("-4"), True)
    assert count(session, ScoringRule) == before + 1
    assert count(session, OperationLog, OperationLog.operation == "revise_scoring_rule") == logs + 1


# --- events -------------------------------------------------------------------------------------------
def test_several_employees_get_one_event_each(session, org):
    s = org["staff"]
    result = record(session, org, [s["a"], s["b"], s["c"]], "5.8", points=Decimal("-4"), note="夜班瞌睡")
    assert len(result.event_ids) == 3 and result.points == Decimal("-4")
    rows = session.scalars(select(ScoreEvent).where(ScoreEvent.id.in_(result.event_ids))).all()
    assert {(r.staff_id, r.points, r.source, r.recorded_by_id, r.note) for r in rows} == {
        (x.id, Decimal("-4"), EventSource.MANUAL, org["boss"].id, "夜班瞌睡") for x in (s["a"], s["b"], s["c"])
    }
    mine = org["project"].id
    assert count(session, AuditLog, AuditLog.table_name == "score_event", AuditLog.kind == AuditKind.INSERT,
                 AuditLog.project_id == mine) == 3
    assert count(session, OperationLog, OperationLog.operation == "record_score_events",
                 OperationLog.project_id == mine) == 1


def test_a_resubmitted_form_records_its_events_once(session, org):
    s = org["staff"]
    first = record(session, org, [s["a"], s["b"]], "5.8", points=Decimal("-4"), form_token="f" * 32)
    assert len(first.event_ids) == 2 and first.repeated == ()
    before = snapshot(session)
    events = count(session, ScoreEvent, ScoreEvent.project_id == org["project"].id)

    again = record(session, org, [s["a"], s["b"]], "5.8", points=Decimal("-4"), form_token="f" * 32)
    assert again.event_ids == () and again.repeated == tuple(sorted((s["a"].id, s["b"].id)))
    assert "该表单已提交过，未重复录入" in again.message
    assert count(session, ScoreEvent, ScoreEvent.project_id == org["project"].id) == events
    assert count(session, AuditLog) == before[-1]  # nothing written, so nothing audited
    log = session.scalars(select(OperationLog).where(OperationLog.operation == "record_score_events")
                          .order_by(OperationLog.id.desc())).first()
    assert log.counts == {"events": 0, "repeated": 2}

    # the same form with one more employee ticked: only the newcomer is recorded
    more = record(session, org, [s["a"], s["b"], s["c"]], "5.8", points=Decimal("-4"), form_token="f" * 32)
    assert len(more.event_ids) == 1 and more.repeated == tuple(sorted((s["a"].id, s["b"].id)))
    assert "另有 2 名员工此前已由同一表单录入" in more.message
    assert session.scalar(select(ScoreEvent.staff_id).where(ScoreEvent.id == more.event_ids[0])) == s["c"].id
    # another form is another occurrence
    other = record(session, org, [s["a"]], "5.8", points=Decimal("-4"), form_token="g" * 32)
    assert len(other.event_ids) == 1
    assert count(session, ScoreEvent, ScoreEvent.staff_id == s["a"].id) == 2


def test_a_form_token_of_another_account_is_refused_not_taken_as_resubmitted(session, org):
    """Another 主管 submitting 录入考核 with a form token already used had every employee of it skipped as
    「此前已由同一表单录入」: the events typed were dropped without a word. Refused, nothing written."""
    s = org["staff"]
    record(session, org, [s["a"], s["b"]], "5.8", points=Decimal("-4"), form_token="h" * 32)
    other = factories.user(session, username="zhuguan9", roles=["客服主管"], projects=[org["project"]])
    session.flush()
    before = snapshot(session)
    with pytest.raises(Refused, match="表单编号无效：该表单不是本账号为此打开的"), session.begin_nested():
        record_events(session, project_id=org["project"].id, staff_ids=[s["a"].id, s["c"].id], event_date=DAY,
                      rule_id=rule(session, "5.8", DAY).id, points=Decimal("-3"), actor=actor_for(other, org["project"]),
                      form_token="h" * 32)
    assert snapshot(session) == before


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("outside_range", "超出细则 5.8 的范围（-5 至 -3 分）"),
        ("range_needs_points", "须在 -10 至 -5 分之间评定"),
        ("other_project", "不属于项目 阳光花园"),
        ("future_date", "晚于今天"),
        ("derived_rule", "自动生成，不能手工录入"),
        ("foreign_project", "无权操作"),
        ("too_precise", "最多保留一位小数"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_written(session, org, case, message):
    s = org["staff"]
    before = snapshot(session)
    kwargs = {"project_id": org["project"].id, "staff_ids": [s["a"].id], "event_date": DAY,
              "rule_id": rule(session, "5.8").id, "points": Decimal("-4"), "actor": org["actor"]}
    if case == "outside_range":
        kwargs["points"] = Decimal("-6")
    elif case == "range_needs_points":
        kwargs.update(rule_id=rule(session, "1.3").id, points=None)
    elif case == "other_project":
        kwargs["staff_ids"] = [s["a"].id, s["x"].id]
    elif case == "future_date":
        kwargs["event_date"] = utcnow().astimezone(SHANGHAI).date() + dt.timedelta(days=1)
    elif case == "derived_rule":
        kwargs.update(rule_id=rule(session, "AUTO-PRAISE").id, points=None)
    elif case == "foreign_project":
        kwargs.update(project_id=org["other"].id, staff_ids=[s["x"].id])
    elif case == "too_precise":
        kwargs["points"] = Decimal("-3.25")
    with pytest.raises(Refused, match=message) as refused:
        record_events(session, **kwargs)
    if case == "foreign_project":
        assert isinstance(refused.value, NotPermitted) and refused.value.ids == [org["other"].id]
    if case == "other_project":
        assert refused.value.ids == [s["x"].id]
    assert snapshot(session) == before


def test_a_dry_run_records_nothing(session, org):
    before = snapshot(session)
    result = record(session, org, [org["staff"]["a"]], "1.1", dry_run=True)
    assert result.dry_run and result.event_ids == () and result.points == Decimal("-1")
    assert snapshot(session) == before


# --- compute ------------------------------------------------------------------------------------------
def test_totals_ranks_and_grades_on_the_hand_checked_fixture(session, org):
    hand_checked(session, org)
    result = compute_scores(session, month=MONTH, project_ids=[org["project"].id], actor=org["actor"])
    assert (result.scored, result.events, result.derived_added, result.derived_removed) == (5, 8, 1, 0)
    got = {name: (r.total, r.rank, r.grade) for name, r in scores(session).items()}
    assert got == {
        "李娜": (Decimal("102"), 1, "优秀"),
        "刘洋": (Decimal("100"), 2, "优秀"),
        "王芳": (Decimal("96.5"), 3, "优秀"),
        "陈静": (Decimal("96.5"), 3, "优秀"),
        "张伟": (Decimal("84"), 5, "合格"),
    }
    wang, li = scores(session)["王芳"], scores(session)["李娜"]
    assert (wang.deductions, wang.additions, wang.event_count) == (Decimal("-3.5"), Decimal("0"), 3)
    assert wang.by_category == {"reception": "-2.0", "appearance": "-1.5"}
    assert (li.additions, li.by_category) == (Decimal("2"), {"praise": "2.0"})
    month = session.scalar(select(ScoreMonth).where(ScoreMonth.project_id == org["project"].id))
    assert (month.status, month.base_score, month.computed_at is not None) == (MonthStatus.DRAFT, Decimal("100"), True)
    # 周外 is in the other project; 赵离 left and has no events; 孙师傅 is an engineer: none is scored
    assert not {"周外", "赵离", "孙师傅"} & set(scores(session))
    mine = org["project"].id
    assert count(session, AuditLog, AuditLog.table_name == "monthly_score", AuditLog.kind == AuditKind.INSERT,
                 AuditLog.project_id == mine) == 5
    assert count(session, OperationLog, OperationLog.operation == "compute_scores", OperationLog.project_id == mine) == 1


def test_only_customer_service_staff_are_assessed(session, org):
    """考核制度“适用于物业客服人员”: an engineer's overdue order or praise makes no event, and he cannot be
    recorded by hand (nothing written); the form offers the customer-service staff only."""
    p, s = org["project"], org["staff"]
    order(session, p, s["fixer"], at(2026, 10, 8), None)
    request(session, p, RequestKind.PRAISE, at(2026, 10, 5), praised_staff=s["fixer"])
    before = snapshot(session)
    with pytest.raises(Refused, match=r"不在客服人员考核范围内（前台客服、楼宇管家、收费员）：孙师傅（维修工）"):
        record(session, org, [s["a"], s["fixer"]], "1.1")
    assert snapshot(session) == before
    result = compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert result.derived_added == 0 and count(session, ScoreEvent, ScoreEvent.staff_id == s["fixer"].id) == 0
    assert "孙师傅" not in scores(session) and len(scores(session)) == 5
    offered = event_choices(session, actor=org["actor"], project_id=p.id, month=MONTH).staff
    assert [c.label.split()[1] for c in offered] == ["王芳", "李娜", "张伟", "刘洋", "陈静"]


def test_a_grade_band_edited_changes_the_next_compute(session, org):
    hand_checked(session, org)
    session.scalar(select(GradeBand).where(GradeBand.name == "优秀")).min_total = Decimal("98")
    session.flush()
    compute_scores(session, month=MONTH, project_ids=[org["project"].id], actor=org["actor"])
    assert {n: r.grade for n, r in scores(session).items()}["王芳"] == "良好"


def test_events_derived_from_records_are_counted_exactly_once(session, org):
    p, s = org["project"], org["staff"]
    valid = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 31, 20), complaint_validity=ComplaintValidity.VALID, complained_staff=s["a"])
    request(session, p, RequestKind.COMPLAINT, at(2026, 10, 3), complaint_validity=ComplaintValidity.INVALID, complained_staff=s["b"])
    request(session, p, RequestKind.COMPLAINT, at(2026, 10, 3), complaint_validity=ComplaintValidity.VALID)  # names nobody
    # 2026-11-01 01:00 in Beijing is still October in UTC: it belongs to November
    request(session, p, RequestKind.COMPLAINT, at(2026, 11, 1, 1), complaint_validity=ComplaintValidity.VALID, complained_staff=s["a"])
    late = order(session, p, s["c"], at(2026, 10, 10), at(2026, 10, 11))
    never = order(session, p, s["c"], at(2026, 10, 20), None)
    order(session, p, s["c"], at(2026, 10, 15), at(2026, 10, 14))  # done in time
    unhappy = callback(session, p, late, at(2026, 10, 12), Satisfaction.UNSATISFIED)
    callback(session, p, never, at(2026, 10, 21), Satisfaction.SATISFIED)
    praise = request(session, p, RequestKind.PRAISE, at(2026, 10, 6), praised_staff=s["d"])

    first = compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert first.derived_added == 5
    derived = session.execute(
        select(ScoreEvent.source, ScoreEvent.source_id, ScoreEvent.staff_id, ScoreEvent.event_date, ScoreEvent.points)
        .where(ScoreEvent.source != EventSource.MANUAL)
    ).all()
    assert sorted(derived) == sorted([
        (EventSource.COMPLAINT, valid.id, s["a"].id, dt.date(2026, 10, 31), Decimal("-5")),
        (EventSource.OVERDUE_ORDER, late.id, s["c"].id, dt.date(2026, 10, 10), Decimal("-2")),
        (EventSource.OVERDUE_ORDER, never.id, s["c"].id, dt.date(2026, 10, 20), Decimal("-2")),
        (EventSource.UNSATISFIED_CALLBACK, unhappy.id, s["c"].id, dt.date(2026, 10, 12), Decimal("-2")),
        (EventSource.PRAISE, praise.id, s["d"].id, dt.date(2026, 10, 6), Decimal("2")),
    ])
    before = snapshot(session)
    again = compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert (again.derived_added, again.derived_removed, again.scored) == (0, 0, first.scored)
    assert count(session, ScoreEvent) == before[0]
    assert count(session, MonthlyScore) == before[1]
    assert {n: r.total for n, r in scores(session).items()} == {
        "王芳": Decimal("95"), "李娜": Decimal("100"), "张伟": Decimal("94"), "刘洋": Decimal("102"), "陈静": Decimal("100"),
    }


def test_the_derived_events_of_a_compute_are_audited_in_one_row_per_project(session, org):
    """A compute's derived events (thousands a month, each saying the same) are recorded in one row per project
    naming them all; each one's 变更记录 lists that row, a typed event's does not."""
    p, other, s = org["project"], org["other"], org["staff"]
    company = dataclasses.replace(org["actor"], project_ids=None)
    request(session, p, RequestKind.PRAISE, at(2026, 10, 5), praised_staff=s["b"])
    request(session, p, RequestKind.COMPLAINT, at(2026, 10, 6), complaint_validity=ComplaintValidity.VALID,
            complained_staff=s["a"])
    order(session, p, s["c"], at(2026, 10, 8), None)
    request(session, other, RequestKind.PRAISE, at(2026, 10, 7), praised_staff=s["x"])
    typed = record(session, org, [s["d"]], "1.1").event_ids[0]
    derived_rows = (AuditLog.table_name == "score_event", AuditLog.kind == AuditKind.INSERT,
                    AuditLog.record_id == f"compute:{MONTH}")

    def derived(project) -> list[int]:
        return sorted(session.scalars(select(ScoreEvent.id).where(
            ScoreEvent.project_id == project.id, ScoreEvent.source != EventSource.MANUAL)))

    def trail(event_id: int) -> list[tuple[str, str]]:
        return [(a.record_id, a.summary) for a in session.scalars(
            select(AuditLog).where(trail_clause("score_event", str(event_id))).order_by(AuditLog.id))]

    result = compute_scores(session, month=MONTH, project_ids=[p.id, other.id], actor=company)
    assert result.derived_added == 4 and (len(derived(p)), len(derived(other))) == (3, 1)
    rows = session.scalars(select(AuditLog).where(*derived_rows).order_by(AuditLog.project_id)).all()
    assert [(a.project_id, a.summary, a.actor_id, a.changes["count"], a.changes["ids"]) for a in rows] == [
        (project.id, f"计算 {MONTH}：根据记录生成考核记录", org["boss"].id, len(derived(project)), derived(project))
        for project in sorted((p, other), key=lambda x: x.id)
    ]
    assert count(session, AuditLog, AuditLog.table_name == "score_event", AuditLog.kind == AuditKind.INSERT,
                 AuditLog.record_id.in_([str(i) for i in derived(p) + derived(other)])) == 0
    created = [(f"compute:{MONTH}", f"计算 {MONTH}：根据记录生成考核记录")]
    assert all(trail(i) == created for i in derived(p) + derived(other))
    assert trail(typed) == [(str(typed), "录入考核记录：细则 1.1")]

    first = derived(p)
    request(session, p, RequestKind.PRAISE, at(2026, 10, 9), praised_staff=s["e"])
    assert compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"]).derived_added == 1
    (new,) = set(derived(p)) - set(first)
    latest = session.scalars(select(AuditLog).where(*derived_rows).order_by(AuditLog.id.desc())).first()
    assert (latest.project_id, latest.changes["count"], latest.changes["ids"]) == (p.id, 1, [new])
    assert count(session, AuditLog, *derived_rows) == 3
    assert trail(new) == created and all(trail(i) == created for i in first)
    assert session.scalars(select(AuditLog.id).where(trail_clause("score_event", str(new)))).one() == latest.id


def test_a_first_compute_leaves_a_record_counted_in_another_month_where_it_is(session, org):
    """A month's first compute inserts the events its records call for without comparing them with events held (it
    holds none): a record counted in another month already (an order whose due date moved since) is not counted
    again, nor named in the compute's audit row, nor in its result; it stays in that month until it is recomputed."""
    p, s = org["project"], org["staff"]
    moved = order(session, p, s["c"], at(2026, 10, 10), None)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    (october,) = session.scalars(select(ScoreEvent.id).where(ScoreEvent.source == EventSource.OVERDUE_ORDER,
                                                             ScoreEvent.source_id == moved.id)).all()
    moved.complete_due_at = at(2026, 11, 10)  # 延期：时限改到 11 月
    praise = request(session, p, RequestKind.PRAISE, at(2026, 11, 5), praised_staff=s["d"])
    session.flush()
    totals_before = {n: r.total for n, r in scores(session).items()}

    result = compute_scores(session, month="2026-11", project_ids=[p.id], actor=org["actor"])
    assert (result.derived_added, result.derived_removed, result.events) == (1, 0, 1)
    derived = session.execute(
        select(ScoreEvent.id, ScoreEvent.source, ScoreEvent.source_id, ScoreEvent.staff_id, ScoreEvent.event_date)
        .where(ScoreEvent.source != EventSource.MANUAL).order_by(ScoreEvent.id)
    ).all()
    (added,) = [i for i, *_ in derived if i != october]
    assert derived == [
        (october, EventSource.OVERDUE_ORDER, moved.id, s["c"].id, dt.date(2026, 10, 10)),
        (added, EventSource.PRAISE, praise.id, s["d"].id, dt.date(2026, 11, 5)),
    ]
    (row,) = session.scalars(select(AuditLog).where(AuditLog.table_name == "score_event",
                                                    AuditLog.record_id == "compute:2026-11")).all()
    assert (row.project_id, row.kind, row.changes) == (p.id, AuditKind.INSERT, {"count": 1, "ids": [added]})
    november = scores(session, "2026-11")
    assert (november["张伟"].total, november["张伟"].event_count) == (Decimal("100"), 0)
    assert (november["刘洋"].total, november["刘洋"].event_count) == (Decimal("102"), 1)
    assert {n: r.total for n, r in scores(session).items()} == totals_before


def test_an_employee_moved_during_the_month_is_scored_with_the_events_of_both_projects(session, org):
    """The totals keep a moved employee's events of one rule in a row per project; the compute of both projects
    adds them up as one rule: deductions, additions, breakdown and count as the events give them."""
    p, other, s = org["project"], org["other"], org["staff"]
    company = dataclasses.replace(org["actor"], project_ids=None)
    record(session, org, [s["a"]], "1.1")  # −1 in 阳光花园
    s["a"].project = other  # 王芳 调往滨江大厦
    session.flush()
    for day in (DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)):
        record_events(session, project_id=other.id, staff_ids=[s["a"].id], event_date=day,
                      rule_id=rule(session, "1.1", day).id, actor=company)
    request(session, other, RequestKind.PRAISE, at(2026, 10, 20), praised_staff=s["a"])
    assert count(session, ScoreTotal, ScoreTotal.staff_id == s["a"].id) == 2  # rule 1.1 in each project

    compute_scores(session, month=MONTH, project_ids=[p.id, other.id], actor=company)
    wang = scores(session)["王芳"]
    assert (wang.project_id, wang.deductions, wang.additions, wang.total, wang.event_count) == (
        other.id, Decimal("-3"), Decimal("2"), Decimal("99"), 4)
    assert wang.by_category == {"reception": "-3.0", "praise": "2.0"}


def test_recompute_replaces_a_draft_month_after_a_data_fix(session, org):
    p, s = org["project"], org["staff"]
    wrong = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 9), complaint_validity=ComplaintValidity.VALID, complained_staff=s["a"])
    late = order(session, p, s["b"], at(2026, 10, 10), None)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert (scores(session)["王芳"].total, scores(session)["李娜"].total) == (Decimal("95"), Decimal("98"))
    rows_before = count(session, MonthlyScore)

    wrong.complaint_validity = ComplaintValidity.INVALID  # 复核后投诉不成立
    late.assignee = s["c"]  # 转派给张伟
    session.flush()
    record(session, org, [s["d"]], "1.2")
    result = compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert (result.derived_added, result.derived_removed) == (1, 2)
    got = {n: r.total for n, r in scores(session).items()}
    assert (got["王芳"], got["李娜"], got["张伟"], got["刘洋"]) == (Decimal("100"), Decimal("100"), Decimal("98"), Decimal("98"))
    assert count(session, MonthlyScore) == rows_before
    assert count(session, ScoreEvent, ScoreEvent.source == EventSource.COMPLAINT, ScoreEvent.source_id == wrong.id) == 0
    assert count(session, AuditLog, AuditLog.table_name == "score_event", AuditLog.kind == AuditKind.DELETE,
                 AuditLog.project_id == p.id) == 2


def test_a_recompute_writes_only_the_scores_that_changed(session, org):
    """Records unchanged: no score is written again (no audit row). One employee's new event and another's leaving
    without events: the row of who left goes, those whose total or rank moved are updated in place, the others
    stay as they were."""
    hand_checked(session, org)
    p, s = org["project"], org["staff"]

    def trail() -> tuple[int, int, int]:
        return tuple(count(session, AuditLog, AuditLog.table_name == "monthly_score", AuditLog.kind == kind,
                           AuditLog.project_id == p.id) for kind in (AuditKind.INSERT, AuditKind.UPDATE, AuditKind.DELETE))

    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    ids = {n: r.id for n, r in scores(session).items()}
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert ({n: r.id for n, r in scores(session).items()}, trail()) == (ids, (5, 0, 0))

    record(session, org, [s["c"]], "1.1")  # 张伟 −1 more
    s["d"].active = False  # 刘洋 leaves; he has no events this month
    session.flush()
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert {n: (r.id, r.total, r.rank) for n, r in scores(session).items()} == {
        "李娜": (ids["李娜"], Decimal("102"), 1), "王芳": (ids["王芳"], Decimal("96.5"), 2),
        "陈静": (ids["陈静"], Decimal("96.5"), 2), "张伟": (ids["张伟"], Decimal("83"), 4),
    }
    assert trail() == (5, 3, 1)
    changed = session.scalars(select(AuditLog.changes).where(
        AuditLog.table_name == "monthly_score", AuditLog.kind == AuditKind.UPDATE,
        AuditLog.record_id == str(ids["张伟"]))).one()
    assert (Decimal(str(changed["total"])), changed["rank"]) == (Decimal("83"), 4)


def test_compute_and_confirm_are_recorded_as_the_acting_user(session, org):
    """The audit and operation-log rows name the ``actor`` passed in, whatever actor the session carries (a
    batch that computes on behalf of each project's supervisor)."""
    p = org["project"]
    record(session, org, [org["staff"]["a"]], "1.1")
    session.info["actor"] = SYSTEM
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert session.info["actor"] is SYSTEM  # given back afterwards
    logs = session.execute(select(OperationLog.operation, OperationLog.actor_id).where(
        OperationLog.operation.in_(["compute_scores", "confirm_scores"]))).all()
    assert sorted(logs) == [("compute_scores", org["boss"].id), ("confirm_scores", org["boss"].id)]
    writers = set(session.scalars(select(AuditLog.actor_id).where(AuditLog.table_name == "monthly_score")))
    assert writers == {org["boss"].id}


def test_a_dry_run_computes_and_writes_nothing(session, org):
    hand_checked(session, org)
    before = snapshot(session)
    result = compute_scores(session, month=MONTH, project_ids=[org["project"].id], actor=org["actor"], dry_run=True)
    assert (result.dry_run, result.scored, result.events, result.derived_added) == (True, 5, 8, 1)
    assert snapshot(session) == before


def test_a_confirmed_month_is_locked_until_the_manager_reopens_it(session, org):
    p, s = org["project"], org["staff"]
    hand_checked(session, org)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    done = confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert done.changed == (p.id,)
    month = session.scalar(select(ScoreMonth).where(ScoreMonth.project_id == p.id))
    assert (month.status, month.confirmed_by_id) == (MonthStatus.CONFIRMED, org["boss"].id)
    assert confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"]).unchanged == (p.id,)

    before = snapshot(session)
    with pytest.raises(Refused, match="2026-10 月度考核已确认（阳光花园），不能重新计算") as refused:
        compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert refused.value.ids == [p.id]
    with pytest.raises(Refused, match="不能再录入该月的考核记录"):
        record(session, org, [s["d"]], "1.1")
    assert snapshot(session) == before

    manager = factories.user(session, username="jingli", roles=["客服经理"], projects=[p])
    boss = actor_for(manager, p)
    with pytest.raises(Refused, match="请填写重新开放的原因"):
        reopen_scores(session, month=MONTH, project_id=p.id, note=" ", actor=boss)
    record_spot_check(session, month=MONTH, project_id=p.id, note="抽查张伟值班记录，属实", actor=boss)
    reopen_scores(session, month=MONTH, project_id=p.id, note="刘洋漏记一次迟到", actor=boss)
    session.refresh(month)
    assert (month.status, month.reopened_by_id, month.confirmed_at) == (MonthStatus.DRAFT, manager.id, None)
    assert "抽查：抽查张伟值班记录，属实" in month.spot_check_note and "重新开放：刘洋漏记一次迟到" in month.spot_check_note
    assert count(session, AuditLog, AuditLog.table_name == "score_month", AuditLog.kind == AuditKind.UPDATE,
                 AuditLog.project_id == p.id) >= 3
    record(session, org, [s["d"]], "8.1", points=Decimal("-1"))
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert scores(session)["刘洋"].total == Decimal("99")
    with pytest.raises(Refused, match="尚未确认，无需重新开放"):
        reopen_scores(session, month=MONTH, project_id=p.id, note="再开", actor=boss)


def test_spot_check_and_reopen_are_refused_to_an_account_without_the_grant(session, org):
    """抽查 and 重新开放 hold the console's grants in the action itself: called directly (the command line, another
    page) by the 客服主管 who confirmed the month — who may neither edit 月度考核 nor reopen it — both are refused
    naming the account and what it may not do, the month still confirmed with its notes as they were."""
    p = org["project"]
    hand_checked(session, org)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    month = _month_row(session, p)
    kept = (month.status, month.spot_check_note, month.confirmed_at, month.version)
    before = snapshot(session), count(session, RewardEntry)
    with pytest.raises(NotPermitted, match="账号 .* 没有“抽查月度考核”的权限"):
        record_spot_check(session, month=MONTH, project_id=p.id, note="抽查王芳，属实", actor=org["actor"])
    with pytest.raises(NotPermitted, match="账号 .* 没有“重新开放月度考核”的权限"):
        reopen_scores(session, month=MONTH, project_id=p.id, note="更正基础分", actor=org["actor"])
    session.expire_all()
    month = _month_row(session, p)
    assert (month.status, month.spot_check_note, month.confirmed_at, month.version) == kept
    assert (snapshot(session), count(session, RewardEntry)) == before


def test_compute_and_confirm_are_refused_to_an_account_without_the_grant(session, org):
    """计算 and 确认 hold the console's grants in the action itself, as 抽查 and 重新开放 do: a 前台客服 of the project,
    calling them directly (the command line, another page), is refused naming what it may not do, nothing written."""
    p = org["project"]
    hand_checked(session, org)
    desk = actor_for(factories.user(session, username="qiantai", roles=["前台客服"], projects=[p]), p)
    before = snapshot(session), count(session, ScoreMonth), count(session, RewardEntry)
    with pytest.raises(NotPermitted, match="账号 .* 没有“计算月度考核”的权限"):
        compute_scores(session, month=MONTH, project_ids=[p.id], actor=desk)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    computed = snapshot(session), count(session, ScoreMonth), count(session, RewardEntry)
    assert computed != before
    with pytest.raises(NotPermitted, match="账号 .* 没有“确认月度考核”的权限"):
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=desk)
    session.expire_all()
    assert (snapshot(session), count(session, ScoreMonth), count(session, RewardEntry)) == computed
    assert _month_row(session, p).status is MonthStatus.DRAFT


def test_a_spot_check_or_reopen_note_beyond_the_text_bound_is_refused(session, org):
    """抽查意见 and 重新开放的原因 hold at most TEXT_MAX characters each, as the console's forms do: one more is
    refused naming which, the month unchanged (still confirmed, its notes as they were)."""
    p = org["project"]
    hand_checked(session, org)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    manager = factories.user(session, username="jingli", roles=["客服经理"], projects=[p])
    boss = actor_for(manager, p)
    month = _month_row(session, p)
    kept = (month.status, month.spot_check_note, month.version)
    before = snapshot(session)
    with pytest.raises(Refused, match=f"抽查意见过长：最多 {TEXT_MAX:,} 字，现为 {TEXT_MAX + 1:,} 字"):
        record_spot_check(session, month=MONTH, project_id=p.id, note="查" * (TEXT_MAX + 1), actor=boss)
    with pytest.raises(Refused, match=f"重新开放的原因过长：最多 {TEXT_MAX:,} 字"):
        reopen_scores(session, month=MONTH, project_id=p.id, note="错" * (TEXT_MAX + 1), actor=boss)
    session.expire_all()
    month = _month_row(session, p)
    assert (month.status, month.spot_check_note, month.version) == kept and snapshot(session) == before
    reopen_scores(session, month=MONTH, project_id=p.id, note="错" * TEXT_MAX, actor=boss)
    assert _month_row(session, p).status is MonthStatus.DRAFT


def test_a_confirmed_month_is_not_unlocked_or_rewritten_through_its_form(session, org):
    """The 月度考核 form holds the lock as compute and 录入 do: a confirmed month's 基础分 is not changed, nor is the
    month deleted (that would unlock its scores without 重新开放); no form moves a month to another month or
    project or rewrites the 抽查意见 trail; 基础分 stays within its column. Each refusal names the field and leaves
    the month as it was; a draft month's 基础分 is corrected."""
    p = org["project"]
    hand_checked(session, org)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    boss = actor_for(factories.user(session, username="jingli", roles=["客服经理"], projects=[p]), p)
    record_spot_check(session, month=MONTH, project_id=p.id, note="抽查王芳，属实", actor=boss)
    month = _month_row(session, p)

    def kept():
        session.expire_all()
        row = _month_row(session, p)
        return (row.month, row.status, row.base_score, row.spot_check_note, row.version), snapshot(session)

    before = kept()
    cases = (
        ({"base_score": Decimal("90")}, "2026-10 月度考核已确认，不能修改基础分：请经理重新开放后再修改"),
        ({"month": "2026-11"}, "月份不能在表单里修改"),
        ({"project": str(org["other"].id)}, "项目不能在表单里修改"),
        ({"spot_check_note": "（已删去）"}, "抽查意见请在“考核结果”页填写"),
    )
    for values, message in cases:
        with pytest.raises(Refused, match=message):
            save_record(session, ScoreMonth, _month_row(session, p), values, actor=boss, version=month.version)
        assert kept() == before
    with pytest.raises(Refused, match="2026-10 月度考核已确认，不能删除：请经理重新开放"):
        delete_record(session, ScoreMonth, _month_row(session, p), actor=boss)
    assert kept() == before
    with pytest.raises(Refused, match="不能重新计算"):  # still locked
        compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])

    reopen_scores(session, month=MONTH, project_id=p.id, note="更正基础分", actor=boss)
    month = _month_row(session, p)
    for bad, message in ((Decimal("-1"), "基础分须在 0–99999.9 之间，最多一位小数"),
                         (Decimal("100000"), "基础分超出范围（最多 99,999.9）：100000"),  # past its column
                         (Decimal("99.55"), "基础分须在 0–99999.9 之间，最多一位小数")):
        with pytest.raises(Refused, match=message):
            save_record(session, ScoreMonth, month, {"base_score": bad}, actor=boss, version=month.version)
        session.expire_all()  # the form's values were assigned, not written: its transaction is rolled back
        month = _month_row(session, p)
        assert month.base_score == Decimal("100")
    note = month.spot_check_note
    save_record(session, ScoreMonth, month, {"base_score": Decimal("95"), "spot_check_note": note.replace("\n", "\r\n")},
                actor=boss, version=month.version)
    session.expire_all()
    assert (_month_row(session, p).base_score, _month_row(session, p).spot_check_note) == (Decimal("95"), note)


def test_an_event_note_or_rule_text_beyond_the_bound_is_refused(session, org):
    """录入考核's 说明 holds TEXT_MAX characters on its page as on the event's form, and a revised rule's 考核内容
    too: one more is refused naming the field, nothing written."""
    s = org["staff"]
    before = snapshot(session)
    with pytest.raises(Refused, match=f"说明过长：最多 {TEXT_MAX:,} 字，现为 {TEXT_MAX + 1:,} 字"):
        record(session, org, [s["a"]], "1.1", note="迟" * (TEXT_MAX + 1))
    company = dataclasses.replace(org["actor"], project_ids=None)  # the rules hold for every project
    start = utcnow().astimezone(SHANGHAI).date().replace(day=1) + dt.timedelta(days=40)
    with pytest.raises(Refused, match=f"考核内容过长：最多 {TEXT_MAX:,} 字"):
        revise_rule(session, rule_id=rule(session, "2.1").id, valid_from=start, points_min=Decimal("-3"),
                    points_max=Decimal("-3"), description="细" * (TEXT_MAX + 1), actor=company)
    assert snapshot(session) == before and count(session, ScoringRule, ScoringRule.code == "2.1") == 1
    assert rule(session, "2.1").valid_to is None


def test_an_event_form_records_who_typed_it_not_who_the_form_names(session, org):
    """考核记录's form offered 登记人 and 来源记录: a supervisor saved a deduction as recorded by the manager, and a
    hand-typed event pointing at a complaint's number. 登记人 is now who saves it (kept on a correction), and a
    来源记录 on a hand-typed event is refused, nothing written."""
    s, p = org["staff"], org["project"]
    manager = factories.user(session, username="jingli", roles=["客服经理"], projects=[p])
    values = {"project": str(p.id), "staff": str(s["a"].id), "event_date": DAY, "rule": str(rule(session, "1.1").id),
              "points": "-1", "source": EventSource.MANUAL.value, "recorded_by": str(manager.id)}
    event = save_record(session, ScoreEvent, None, values, actor=org["actor"])
    assert event.recorded_by_id == org["boss"].id
    event = save_record(session, ScoreEvent, event, {**values, "points": "-1", "note": "补记"}, actor=org["actor"],
                        version=event.version)
    assert (event.recorded_by_id, event.note) == (org["boss"].id, "补记")
    before = snapshot(session)
    with pytest.raises(Refused, match="来源记录只能由系统生成"):
        save_record(session, ScoreEvent, None, {**values, "source_id": "77"}, actor=org["actor"])
    assert snapshot(session) == before


def test_confirming_stale_or_uncomputed_scores_is_refused(session, org):
    p, s = org["project"], org["staff"]
    with pytest.raises(Refused, match="尚未计算"):
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    record(session, org, [s["a"]], "1.1")
    with pytest.raises(Refused, match="请重新计算后再确认"):
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    request(session, p, RequestKind.PRAISE, at(2026, 10, 6), praised_staff=s["d"])
    with pytest.raises(Refused, match="请重新计算后再确认"):
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert session.scalar(select(ScoreMonth.status).where(ScoreMonth.project_id == p.id)) is MonthStatus.DRAFT


@pytest.mark.parametrize("change", ["delete", "edit", "add"])
def test_confirm_is_refused_after_an_event_behind_the_draft_changed(session, org, change):
    p, s = org["project"], org["staff"]
    kept = record(session, org, [s["a"], s["b"]], "1.1")
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    event = session.get(ScoreEvent, kept.event_ids[0])
    if change == "delete":  # as the console's delete does
        session.delete(event)
    elif change == "edit":
        event.points = Decimal("-1")  # the same points: touched, so counted as changed
        event.note = "更正说明"
    else:
        record(session, org, [s["c"]], "1.1")
    session.flush()
    before = snapshot(session)
    with pytest.raises(Refused, match="请重新计算后再确认"):
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert snapshot(session) == before
    assert session.scalar(select(ScoreMonth.status).where(ScoreMonth.project_id == p.id)) is MonthStatus.DRAFT

    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"]).changed == (p.id,)
    expected = {"delete": Decimal("100"), "edit": Decimal("99"), "add": Decimal("99")}[change]
    assert scores(session)["王芳"].total == expected


@pytest.mark.parametrize(("month", "message"), [("2099-01", "尚未到来"), ("2026-13", "月份格式"), ("十月", "月份格式")])
def test_a_bad_or_future_month_is_refused(session, org, month, message):
    before = snapshot(session)
    with pytest.raises(Refused, match=message):
        compute_scores(session, month=month, project_ids=[org["project"].id], actor=org["actor"])
    assert snapshot(session) == before


def test_scope_limits_compute(session, org):
    p, other = org["project"], org["other"]
    before = snapshot(session)
    with pytest.raises(NotPermitted) as refused:
        compute_scores(session, month=MONTH, project_ids=[p.id, other.id], actor=org["actor"])
    assert refused.value.ids == [other.id]
    assert snapshot(session) == before
    # no projects named: every project the actor sees, and only those
    result = compute_scores(session, month=MONTH, actor=org["actor"])
    assert [o.project_id for o in result.projects] == [p.id]
    assert count(session, MonthlyScore, MonthlyScore.project_id == other.id) == 0


@pytest.mark.postgres_only
@pytest.mark.skipif(not os.environ.get("WUYE_TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks: PostgreSQL only")
def test_two_computes_of_the_same_month_run_one_after_the_other(engine):
    """B08: the second compute waits for the first (the month rows are locked), then replaces its rows."""
    with Session(engine) as setup, setup.begin():
        p = factories.project(setup, name="并发花园")
        staff = [factories.staff(setup, project_=p, name=n) for n in ("甲", "乙")]
        late = rule(setup, "1.1")
        setup.add(ScoreEvent(project_id=p.id, staff_id=staff[0].id, event_date=DAY, rule_id=late.id,
                             points=late.points_max))
        ids = {"project": p.id, "branch": p.branch_id, "staff": [s.id for s in staff]}
    first_holds, finished = threading.Event(), []

    def compute(name: str, hold: bool) -> None:
        with Session(engine) as session, session.begin():
            compute_scores(session, month=MONTH, project_ids=[ids["project"]], actor=SYSTEM)
            if hold:
                first_holds.set()
                time.sleep(1.0)  # the second compute must wait for this commit
            finished.append(name)

    try:
        first = threading.Thread(target=compute, args=("first", True))
        first.start()
        assert first_holds.wait(10)
        second = threading.Thread(target=compute, args=("second", False))
        second.start()
        first.join(10)
        second.join(10)
        assert finished == ["first", "second"]
        with Session(engine) as check:
            rows = check.execute(select(MonthlyScore.staff_id, MonthlyScore.total)
                                 .where(MonthlyScore.project_id == ids["project"])).all()
            assert sorted(rows) == sorted([(ids["staff"][0], Decimal("99")), (ids["staff"][1], Decimal("100"))])
            assert count(check, ScoreMonth, ScoreMonth.project_id == ids["project"]) == 1
    finally:
        with Session(engine) as cleanup, cleanup.begin():
            for model in (MonthlyScore, ScoreEvent, ScoreMonth):
                cleanup.execute(delete(model).where(model.project_id == ids["project"]))
            cleanup.execute(delete(Staff).where(Staff.id.in_(ids["staff"])))
            cleanup.execute(delete(Project).where(Project.id == ids["project"]))
            cleanup.execute(delete(Branch).where(Branch.id == ids["branch"]))


# --- what a recompute derives again: the mark of a change since the compute ----------------------------------
def _month_row(session, project) -> ScoreMonth:
    row = session.scalar(select(ScoreMonth).where(ScoreMonth.project_id == project.id, ScoreMonth.month == MONTH))
    session.refresh(row)
    return row


def _move_staff(session, org) -> None:
    org["staff"]["d"].project = org["other"]  # 刘洋 is transferred: no longer scored here


def _reassign(session, org) -> None:  # a set-based write (record_bulk), not a flush
    reassign_work_orders(session, order_ids=[org["fixer_order"].id], reason="转给客服跟进", assignee_id=org["staff"]["d"].id,
                         actor=SYSTEM)


def _set(model, where, **values):
    def change(session, org) -> None:
        row = session.scalar(select(model).where(where(org)))
        for key, value in values.items():
            setattr(row, key, value)
    return change


# Each source of the scores, changed the way its action or console form changes it; then 刘洋's (or 王芳's,
# 李娜's) total or grade after the recompute.
SOURCES = {
    "manual_event": (lambda session, org: record(session, org, [org["staff"]["d"]], "1.1"), "刘洋", Decimal("99")),
    "complaint": (lambda session, org: request(session, org["project"], RequestKind.COMPLAINT, at(2026, 10, 20),
                                               complaint_validity=ComplaintValidity.VALID,
                                               complained_staff=org["staff"]["d"]), "刘洋", Decimal("95")),
    "praise": (lambda session, org: request(session, org["project"], RequestKind.PRAISE, at(2026, 10, 21),
                                            praised_staff=org["staff"]["d"]), "刘洋", Decimal("102")),
    "overdue_order": (lambda session, org: order(session, org["project"], org["staff"]["d"], at(2026, 10, 22), None),
                      "刘洋", Decimal("98")),
    "order_reassigned": (_reassign, "刘洋", Decimal("98")),
    "callback": (lambda session, org: callback(session, org["project"], org["in_time"], at(2026, 10, 25),
                                               Satisfaction.UNSATISFIED), "刘洋", Decimal("98")),
    "rule_edited": (_set(ScoringRule, lambda org: ScoringRule.code == "AUTO-PRAISE", points_min=Decimal("3"),
                         points_max=Decimal("3")), "李娜", Decimal("103")),
    "grade_band_edited": (_set(GradeBand, lambda org: GradeBand.name == "优秀", min_total=Decimal("98")), "王芳", "良好"),
    "base_score_edited": (_set(ScoreMonth, lambda org: ScoreMonth.project_id == org["project"].id,
                               base_score=Decimal("90")), "刘洋", Decimal("90")),
    "staff_moved": (_move_staff, "刘洋", None),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_source_of_the_scores_marks_the_month_for_the_next_recompute(session, org, source):
    """A recompute of an unchanged month derives and writes nothing (its mark is clear); a change to any of the
    records the scores come from marks the month in the same transaction, and the next recompute takes it in."""
    change, who, expected = SOURCES[source]
    p, s = org["project"], org["staff"]
    hand_checked(session, org)
    org["in_time"] = order(session, p, s["d"], at(2026, 10, 20), at(2026, 10, 19))  # no event: done in time
    org["fixer_order"] = session.scalar(select(WorkOrder).where(WorkOrder.assignee_id == s["fixer"].id))
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert _month_row(session, p).inputs_changed is False
    before = {n: (r.total, r.grade) for n, r in scores(session).items()}
    trail = count(session, AuditLog, AuditLog.table_name.in_(["score_event", "monthly_score"]))
    again = compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert (again.derived_added, again.derived_removed, again.scored, again.events) == (0, 0, 5, 8)
    assert {n: (r.total, r.grade) for n, r in scores(session).items()} == before
    assert count(session, AuditLog, AuditLog.table_name.in_(["score_event", "monthly_score"])) == trail

    change(session, org)
    session.flush()
    assert _month_row(session, p).inputs_changed is True
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    got = {n: (r.total, r.grade) for n, r in scores(session).items()}
    if expected is None:
        assert who not in got
    else:
        assert got[who][0 if isinstance(expected, Decimal) else 1] == expected
    assert _month_row(session, p).inputs_changed is False


def test_a_write_marks_only_the_draft_months_of_its_project(session, org):
    """Another project's month keeps its mark clear; a confirmed month is not marked, and reopening it marks it."""
    p, other = org["project"], org["other"]
    hand_checked(session, org)
    compute_scores(session, month=MONTH, project_ids=[p.id, other.id], actor=SYSTEM)
    record(session, org, [org["staff"]["a"]], "1.1")
    assert (_month_row(session, p).inputs_changed, _month_row(session, other).inputs_changed) == (True, False)
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    request(session, p, RequestKind.PRAISE, at(2026, 10, 21), praised_staff=org["staff"]["d"])
    assert _month_row(session, p).inputs_changed is False
    reopen_scores(session, month=MONTH, project_id=p.id, note="补录表扬", actor=SYSTEM)
    assert _month_row(session, p).inputs_changed is True
    result = compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert result.derived_added == 1 and scores(session)["刘洋"].total == Decimal("102")


def test_a_month_computed_before_it_is_over_is_derived_again(session, org):
    """An order becomes overdue without any write when its due time passes: a month computed before its end keeps
    its mark, so the next compute derives again."""
    p = org["project"]
    current = utcnow().astimezone(SHANGHAI).strftime("%Y-%m")
    compute_scores(session, month=current, project_ids=[p.id], actor=org["actor"])
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    marks = dict(session.execute(select(ScoreMonth.month, ScoreMonth.inputs_changed)
                                 .where(ScoreMonth.project_id == p.id)).all())
    assert marks == {current: True, MONTH: False}


@pytest.mark.postgres_only
@pytest.mark.skipif(not os.environ.get("WUYE_TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks: PostgreSQL only")
def test_a_compute_waiting_for_a_confirm_is_refused_once_it_commits(engine):
    """确认 not yet committed holds the month's row: a compute started meanwhile passes its first check (the month is
    still a draft to it), waits for the row, then finds the month confirmed and is refused, its scores, month row
    and trail as the confirm left them."""
    with Session(engine) as setup, setup.begin():
        p = factories.project(setup, name="确认花园")
        staff = factories.staff(setup, project_=p, name="乙")
        ids = {"project": p.id, "branch": p.branch_id, "staff": staff.id}
    with Session(engine) as first, first.begin():
        compute_scores(first, month=MONTH, project_ids=[ids["project"]], actor=SYSTEM)

    def confirm(session: Session) -> None:
        confirm_scores(session, month=MONTH, project_ids=[ids["project"]], actor=SYSTEM)

    def compute(session: Session) -> None:
        compute_scores(session, month=MONTH, project_ids=[ids["project"]], actor=SYSTEM)

    def state(session: Session) -> tuple:
        """The month's status, what its computes wrote (computed_at, the scores) and their trail's rows."""
        month = session.execute(select(ScoreMonth.status, ScoreMonth.computed_at)
                                .where(ScoreMonth.project_id == ids["project"])).one()
        scores = session.execute(select(MonthlyScore.id, MonthlyScore.total)
                                 .where(MonthlyScore.project_id == ids["project"])).all()
        computes = session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.project_id == ids["project"], AuditLog.summary.startswith(f"计算 {MONTH}")))
        return tuple(month), sorted(scores), computes

    try:
        with Session(engine) as check:
            (status, computed_at), scores, computes = state(check)
        assert (status, [total for _, total in scores]) == (MonthStatus.DRAFT, [Decimal("100")])
        waited, box = second_while_first_open(engine, confirm, compute)
        assert waited and isinstance(box.get("error"), Refused)
        assert f"{MONTH} 月度考核已确认（确认花园），不能重新计算" in str(box["error"])
        with Session(engine) as check:
            assert state(check) == ((MonthStatus.CONFIRMED, computed_at), scores, computes)
    finally:
        with Session(engine) as cleanup, cleanup.begin():
            # the confirm's trail and log too: other tests count the rows of rewards' trail and of confirms
            for model in (RewardEntry, MonthlyScore, ScoreEvent, ScoreMonth, AuditLog, OperationLog):
                cleanup.execute(delete(model).where(model.project_id == ids["project"]))
            cleanup.execute(delete(Staff).where(Staff.id == ids["staff"]))
            cleanup.execute(delete(Project).where(Project.id == ids["project"]))
            cleanup.execute(delete(Branch).where(Branch.id == ids["branch"]))


@pytest.mark.postgres_only
@pytest.mark.skipif(not os.environ.get("WUYE_TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks: PostgreSQL only")
def test_a_compute_and_a_write_that_marks_its_month_run_one_after_the_other(engine):
    """A write not yet committed holds the month it marks: a compute started meanwhile waits and takes it in; a
    write made while a compute runs waits for it, and its mark is left for the next compute."""
    with Session(engine) as setup, setup.begin():
        p = factories.project(setup, name="并发花园")
        staff = factories.staff(setup, project_=p, name="甲")
        late = rule(setup, "1.1")
        ids = {"project": p.id, "branch": p.branch_id, "staff": staff.id, "rule": late.id}
    with Session(engine) as first, first.begin():
        compute_scores(first, month=MONTH, project_ids=[ids["project"]], actor=SYSTEM)

    def write(session: Session) -> None:
        session.add(ScoreEvent(project_id=ids["project"], staff_id=ids["staff"], event_date=DAY, rule_id=ids["rule"],
                               points=Decimal("-1")))
        session.flush()

    def compute(session: Session) -> Decimal:
        compute_scores(session, month=MONTH, project_ids=[ids["project"]], actor=SYSTEM)
        return session.scalar(select(MonthlyScore.total).where(MonthlyScore.staff_id == ids["staff"]))

    def mark(session: Session) -> bool:
        return session.scalar(select(ScoreMonth.inputs_changed).where(ScoreMonth.project_id == ids["project"]))

    try:
        waited, box = second_while_first_open(engine, write, compute)
        assert waited and box == {"result": Decimal("99")}
        waited, box = second_while_first_open(engine, compute, write)
        assert waited and "error" not in box
        with Session(engine) as check:
            assert mark(check) is True
        with Session(engine) as last, last.begin():
            assert compute(last) == Decimal("98")
            assert mark(last) is False
    finally:
        with Session(engine) as cleanup, cleanup.begin():
            for model in (MonthlyScore, ScoreEvent, ScoreMonth):
                cleanup.execute(delete(model).where(model.project_id == ids["project"]))
            cleanup.execute(delete(Staff).where(Staff.id == ids["staff"]))
            cleanup.execute(delete(Project).where(Project.id == ids["project"]))
            cleanup.execute(delete(Branch).where(Branch.id == ids["branch"]))
