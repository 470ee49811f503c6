"""Kept totals (models.totals) — 账单汇总, 答卷汇总, 调查户数汇总, 考核汇总: every write to a bill — an ORM flush, a set-based UPDATE, INSERT … SELECT, a delete —
leaves bill_total equal to the bills added up, in the writing transaction; two payments of one project's month
at once both count (PostgreSQL: the second waits for the first's commit on the total's row). The same for the
score events and score_total: 录入考核, a form's edit and delete, the compute's derived events, set-based writes,
two writers at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import case, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from actions.kernel.periods import period_of
from actions.scores import compute_scores
from models import (
    CALLBACK_KINDS,
    Bill,
    BillStatus,
    BillTotal,
    Branch,
    Building,
    ComplaintValidity,
    Department,
    EventSource,
    FeeType,
    Project,
    RequestKind,
    Satisfaction,
    ScoreEvent,
    ScoreTotal,
    ServiceRequest,
    Staff,
    Survey,
    SurveyAnswerTally,
    SurveyHousehold,
    SurveyHouseholdTally,
    SurveyResponse,
    Unit,
    Visit,
    VisitKind,
    WorkOrder,
)
from models.totals import CALLBACKS, SURVEY_HOUSEHOLD_TALLY, sync_totals
from tests import factories as f
from tests.race_support import second_while_first_open
from tests.score_support import (
    DAY,
    MONTH,
    at,
    build_org,
    callback,
    hand_checked,
    order,
    request,
    rule,
    scores,
)

OPEN = (BillStatus.UNPAID, BillStatus.PARTIAL)


def recounted(session) -> dict:
    """(project, 账期, due date) → (应收, 实收, 欠费) from the bills themselves, all-zero keys left out."""
    kept = Bill.status != BillStatus.WAIVED
    rows = session.execute(
        select(Bill.project_id, Bill.period, Bill.due_date,
               func.sum(case((kept, Bill.amount_due), else_=0)), func.sum(case((kept, Bill.amount_paid), else_=0)),
               func.sum(case((Bill.status.in_(OPEN), Bill.amount_due - Bill.amount_paid), else_=0)))
        .group_by(Bill.project_id, Bill.period, Bill.due_date))
    return _by_key(rows)


def _by_key(rows) -> dict:
    return {tuple(r[:3]): tuple(Decimal(str(v)).quantize(Decimal("0.01")) for v in r[3:]) for r in rows if any(r[3:])}


def kept(session) -> dict:
    rows = session.execute(select(BillTotal.project_id, BillTotal.period, BillTotal.due_date, BillTotal.amount_due,
                                  BillTotal.amount_paid, BillTotal.owed))
    return _by_key(rows)


def test_every_kind_of_write_keeps_the_totals(session):
    p = f.project(session)
    fee = f.fee_type(session, project_=p)
    units = [f.unit(session, project_=p, room_no=f"{n + 1}01") for n in range(4)]
    bills = [f.bill(session, unit_=u, fee_type_=fee, period=period, amount_due=Decimal("100.50"))
             for u in units for period in ("2026-10", "2026-11")]
    session.flush()
    assert kept(session) == recounted(session)
    assert kept(session)[(p.id, "2026-11", dt.date(2026, 11, 1))] == (Decimal("402.00"), 0, Decimal("402.00"))

    bills[0].amount_paid, bills[0].status = Decimal("100.50"), BillStatus.PAID  # a payment through the ORM
    bills[2].amount_paid, bills[2].status = Decimal("30.00"), BillStatus.PARTIAL
    bills[4].status = BillStatus.WAIVED
    session.flush()
    assert kept(session) == recounted(session)
    session.execute(update(Bill).where(Bill.id == bills[1].id).values(due_date=dt.date(2026, 11, 15)))
    session.execute(update(Bill).where(Bill.project_id == p.id).values(collector_id=None))  # no figure changes
    session.execute(delete(Bill).where(Bill.id == bills[3].id))
    session.execute(text("INSERT INTO bill (project_id, unit_id, fee_type_id, period, amount_due, amount_paid, "
                         "due_date, status, created_at, updated_at, version) "
                         "SELECT project_id, unit_id, fee_type_id, '2026-12', amount_due, 0, due_date, 'unpaid', "
                         "created_at, updated_at, 1 FROM bill WHERE project_id = :p AND period = '2026-11'"),
                    {"p": p.id})
    session.expire_all()
    assert kept(session) == recounted(session)
    assert kept(session)[(p.id, "2026-10", dt.date(2026, 10, 1))] == (
        Decimal("301.50"), Decimal("130.50"), Decimal("171.00"))  # one paid, one part-paid, one waived, one owed
    assert (p.id, "2026-11", dt.date(2026, 11, 15)) in kept(session)  # moved by its due date


def tallies(session) -> tuple[dict, dict]:
    answers = {(sid, q, score): n for sid, q, score, n in session.execute(
        select(SurveyAnswerTally.survey_id, SurveyAnswerTally.question, SurveyAnswerTally.score,
               SurveyAnswerTally.forms)) if n}
    households = {(sid, bool(c)): n for sid, c, n in session.execute(
        select(SurveyHouseholdTally.survey_id, SurveyHouseholdTally.collected, SurveyHouseholdTally.households))
        if n}
    return answers, households


def campaign(session, room: str) -> tuple[Project, Survey, list[Unit]]:
    """A project's survey and three of its units (rooms 1…3 + ``room``)."""
    p = f.project(session)
    survey = Survey(project=p, title="2026H2 满意度调查", period="2026H2")
    units = [f.unit(session, project_=p, room_no=f"{n + 1}{room}") for n in range(3)]
    session.add(survey)
    session.flush()
    return p, survey, units


def test_every_write_to_a_form_or_a_household_keeps_the_tallies(session):
    p, survey, units = campaign(session, "05")
    households = [SurveyHousehold(project_id=p.id, survey=survey, unit=u, collected=u is not units[2]) for u in units]
    forms = [SurveyResponse(project_id=p.id, survey=survey, unit=units[0], service_score=5, overall_score=4),
             SurveyResponse(project_id=p.id, survey=survey, unit=units[1], service_score=5, greening_score=2)]
    session.add_all([*households, *forms])
    session.flush()
    s = survey.id
    assert tallies(session) == ({(s, "service", 5): 2, (s, "overall", 4): 1, (s, "greening", 2): 1},
                                {(s, True): 2, (s, False): 1})
    forms[1].service_score, forms[1].greening_score = 3, None
    households[2].collected = True
    session.flush()
    session.execute(delete(SurveyResponse).where(SurveyResponse.id == forms[0].id))
    assert tallies(session) == ({(s, "service", 3): 1}, {(s, True): 3})


def test_a_writer_that_counts_its_own_change_adds_it_in_place_of_the_triggers(session):
    p, survey, units = campaign(session, "06")
    session.add_all([SurveyHousehold(project_id=p.id, survey=survey, unit=u, collected=False) for u in units])
    session.flush()
    s = survey.id
    connection = session.connection()
    # The writer's own count, deliberately not what the UPDATE did: what is kept is the writer's, not the triggers'.
    with SURVEY_HOUSEHOLD_TALLY.changed_by(connection, lambda: {(s, False): (-1,), (s, True): (1,)}):
        session.execute(update(SurveyHousehold).where(SurveyHousehold.survey_id == s).values(collected=True))
    assert tallies(session)[1] == {(s, False): 2, (s, True): 1}
    # After the block the triggers count again.
    session.execute(update(SurveyHousehold).where(SurveyHousehold.unit_id == units[0].id).values(collected=False))
    assert tallies(session)[1] == {(s, False): 3}


@pytest.fixture
def committed(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    with Session(engine) as s, s.begin():
        p = f.project(s)
        fee = f.fee_type(s, project_=p)
        bills = [f.bill(s, unit_=f.unit(s, project_=p, room_no=f"{n + 1}02"), fee_type_=fee, period="2026-11")
                 for n in range(2)]
        s.flush()
        ids = {"project": p.id, "branch": p.branch_id, "bills": [b.id for b in bills]}
    yield ids
    drop_committed(engine, ids, (Bill, BillTotal, Unit, Building, FeeType))


def drop_committed(engine, ids: dict, models: tuple) -> None:
    """What a fixture committed: the rows of ``models`` in its project, the project and its branch."""
    with Session(engine) as s, s.begin():
        for model in models:
            s.execute(delete(model).where(model.project_id == ids["project"]))
        s.execute(delete(Project).where(Project.id == ids["project"]))
        s.execute(delete(Branch).where(Branch.id == ids["branch"]))


def test_two_payments_of_one_month_at_once_both_count(engine, committed):
    first_bill, second_bill = committed["bills"]
    paid = {"amount_paid": Decimal("250.00"), "status": BillStatus.PAID}
    waited, box = second_while_first_open(
        engine, lambda s: s.execute(update(Bill).where(Bill.id == first_bill).values(**paid)),
        lambda s: s.execute(update(Bill).where(Bill.id == second_bill).values(**paid)))
    assert waited and "error" not in box
    with Session(engine) as s:
        assert kept(s)[(committed["project"], "2026-11", dt.date(2026, 11, 1))] == (
            Decimal("500.00"), Decimal("500.00"), Decimal("0.00"))
        assert kept(s) == recounted(s)


# --- 考核汇总: score_total -------------------------------------------------------------------------------
def events_recounted(session) -> dict:
    """(project, month, employee, rule) → (points, events) from the events themselves: what the compute summed
    before the totals were kept."""
    out: dict = {}
    for project_id, day, staff_id, rule_id, points in session.execute(
            select(ScoreEvent.project_id, ScoreEvent.event_date, ScoreEvent.staff_id, ScoreEvent.rule_id,
                   ScoreEvent.points)):
        key = (project_id, period_of(day), staff_id, rule_id)
        total, n = out.get(key, (Decimal("0"), 0))
        out[key] = (total + Decimal(str(points)).quantize(Decimal("0.1")), n + 1)
    return out


def score_totals(session) -> dict:
    """What is kept, keys without events left out (as the compute leaves them out) — after checking that such a
    key holds no points either."""
    rows = session.execute(select(ScoreTotal.project_id, ScoreTotal.month, ScoreTotal.staff_id, ScoreTotal.rule_id,
                                  ScoreTotal.points, ScoreTotal.events)).all()
    assert all(Decimal(str(r.points)).quantize(Decimal("0.1")) == 0 for r in rows if r.events == 0)
    return {tuple(r[:4]): (Decimal(str(r.points)).quantize(Decimal("0.1")), r.events) for r in rows if r.events}


def test_every_write_to_a_score_event_keeps_the_score_totals(session):
    org = build_org(session)
    p, s = org["project"], org["staff"]
    hand_checked(session, org)  # 录入考核 (record_events), a praise to derive
    assert score_totals(session) == events_recounted(session)
    assert score_totals(session)[(p.id, MONTH, s["a"].id, rule(session, "1.1").id)] == (Decimal("-2.0"), 2)

    # the compute derives its events (an INSERT … SELECT), and drops those their records no longer call for
    wrong = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 9), complaint_validity=ComplaintValidity.VALID,
                    complained_staff=s["d"])
    late = order(session, p, s["b"], at(2026, 10, 10), None)
    callback(session, p, late, at(2026, 10, 11), Satisfaction.UNSATISFIED)
    assert compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"]).derived_added == 4
    assert score_totals(session) == events_recounted(session)
    wrong.complaint_validity = ComplaintValidity.INVALID
    late.assignee = s["c"]
    session.flush()
    assert compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"]).derived_removed == 3
    assert score_totals(session) == events_recounted(session)

    # a form's edit (ORM): other points, another rule, another employee, another month; a form's delete
    a, c, e = (session.scalar(select(ScoreEvent).where(ScoreEvent.staff_id == s[k].id,
                                                       ScoreEvent.source == EventSource.MANUAL).limit(1))
               for k in ("a", "c", "e"))
    a.points = Decimal("-3.5")
    c.rule_id, c.staff_id = rule(session, "1.2").id, s["d"].id
    e.event_date = dt.date(2026, 9, 30)  # into September
    session.flush()
    assert score_totals(session) == events_recounted(session)
    assert (p.id, "2026-09", s["e"].id, e.rule_id) in score_totals(session)
    session.delete(a)
    session.flush()
    assert score_totals(session) == events_recounted(session)

    # set-based writes, as an import or a script makes them: many rows at once, INSERT … SELECT, UPDATE, DELETE
    now = dt.datetime.now(dt.UTC)
    session.execute(insert(ScoreEvent), [
        {"project_id": p.id, "staff_id": s[k].id, "event_date": dt.date(2026, 10, d), "rule_id": rule(session, "2.1").id,
         "points": Decimal("-1"), "source": EventSource.MANUAL, "created_at": now, "updated_at": now}
        for k in ("a", "b", "e") for d in (2, 3)])
    session.execute(text("INSERT INTO score_event (project_id, staff_id, event_date, rule_id, points, note, source, "
                         "created_at, updated_at, version) SELECT project_id, staff_id, event_date, rule_id, points, "
                         "'copy', source, created_at, updated_at, 1 FROM score_event WHERE project_id = :p"),
                    {"p": p.id})
    assert score_totals(session) == events_recounted(session)
    session.execute(update(ScoreEvent).where(ScoreEvent.note == "copy").values(points=ScoreEvent.points - 1))
    session.execute(update(ScoreEvent).where(ScoreEvent.project_id == p.id).values(note="无关的修改"))
    session.execute(delete(ScoreEvent).where(ScoreEvent.staff_id == s["b"].id))
    session.expire_all()
    assert score_totals(session) == events_recounted(session)
    assert not any(k[2] == s["b"].id for k in score_totals(session))

    # and the scores computed from the totals are those of the events
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    summed = {sid: (Decimal("0"), 0) for sid in (s[k].id for k in ("a", "b", "c", "d", "e"))}
    for (project, month, sid, _), (points, n) in events_recounted(session).items():
        if project == p.id and month == MONTH and sid in summed:
            summed[sid] = (summed[sid][0] + points, summed[sid][1] + n)
    got = {r.staff_id: (r.total - r.base_score, r.event_count) for r in scores(session).values()}
    assert {sid: got[sid] for sid in summed} == summed


@pytest.fixture
def committed_project(engine):
    """(engine, a committed project's id), on PostgreSQL: what two transactions at once share."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    with Session(engine) as s, s.begin():
        project_id = f.project(s).id
    return engine, project_id


@pytest.fixture
def scored_staff(committed_project):
    engine, p_id = committed_project
    with Session(engine) as s, s.begin():
        p = s.get(Project, p_id)
        staff = f.staff(s, project_=p, name="并发员工")
        s.flush()
        ids = {"project": p.id, "branch": p.branch_id, "staff": staff.id, "rule": rule(s, "1.1").id}
    yield ids
    with Session(engine) as s, s.begin():
        s.execute(delete(ScoreEvent).where(ScoreEvent.project_id == ids["project"]))
        s.execute(delete(ScoreTotal).where(ScoreTotal.project_id == ids["project"]))
        s.execute(delete(Staff).where(Staff.id == ids["staff"]))
        s.execute(delete(Project).where(Project.id == ids["project"]))
        s.execute(delete(Branch).where(Branch.id == ids["branch"]))


def test_two_writers_of_one_employees_month_at_once_both_count(engine, scored_staff):
    """The second writer's change to the total waits for the first's commit on the total's row (or on its new
    key), so neither is lost; then a delete against an insert, the same."""
    ids = scored_staff
    key = (ids["project"], MONTH, ids["staff"], ids["rule"])

    def event(points: str):
        def write(s):
            s.add(ScoreEvent(project_id=ids["project"], staff_id=ids["staff"], event_date=DAY, rule_id=ids["rule"],
                             points=Decimal(points), source=EventSource.MANUAL))
            s.flush()
        return write

    waited, box = second_while_first_open(engine, event("-1"), event("-0.5"))
    assert waited and "error" not in box
    with Session(engine) as s:
        assert score_totals(s)[key] == (Decimal("-1.5"), 2)
        assert score_totals(s) == events_recounted(s)
        first = s.scalar(select(ScoreEvent.id).where(ScoreEvent.project_id == ids["project"],
                                                     ScoreEvent.points == Decimal("-1")))

    waited, box = second_while_first_open(
        engine, lambda s: s.execute(delete(ScoreEvent).where(ScoreEvent.id == first)), event("-2"))
    assert waited and "error" not in box
    with Session(engine) as s:
        assert score_totals(s)[key] == (Decimal("-2.5"), 2)
        assert score_totals(s) == events_recounted(s)


def callbacks_recounted(session, orders) -> dict:
    """Order id → its callback visits (投诉、有偿服务、维修工单回访), counted from the visits themselves."""
    ids = [o.id for o in orders]
    counted = dict(session.execute(
        select(Visit.work_order_id, func.count()).where(Visit.work_order_id.in_(ids), Visit.kind.in_(CALLBACK_KINDS))
        .group_by(Visit.work_order_id)).all())
    return {i: counted.get(i, 0) for i in ids}


def callbacks_kept(session, orders) -> dict:
    return dict(session.execute(select(WorkOrder.id, WorkOrder.callbacks)
                                .where(WorkOrder.id.in_([o.id for o in orders]))).all())


def test_every_write_to_a_visit_keeps_the_orders_callback_count(session):
    org = build_org(session)
    p, fixer = org["project"], org["staff"]["fixer"]
    orders = [order(session, p, fixer, at(2026, 10, d), at(2026, 10, d)) for d in (3, 4, 5, 6)]
    o1, o2, o3, o4 = orders
    assert callbacks_kept(session, orders) == {o.id: 0 for o in orders}

    # ORM inserts: callbacks count, a visit of another kind (定期走访) or of no order does not
    first = callback(session, p, o1, at(2026, 10, 7), Satisfaction.UNSATISFIED)
    callback(session, p, o1, at(2026, 10, 8), Satisfaction.SATISFIED)
    regular = Visit(project=p, kind=VisitKind.REGULAR, work_order=o2, visited_at=at(2026, 10, 8))
    session.add_all([regular, Visit(project=p, kind=VisitKind.REPAIR, visited_at=at(2026, 10, 8))])
    session.flush()
    assert callbacks_kept(session, orders) == callbacks_recounted(session, orders) == {o1.id: 2, o2.id: 0,
                                                                                     o3.id: 0, o4.id: 0}

    # ORM updates: a callback moved to another order, a visit's kind changed either way, a change that moves
    # nothing (回访记录)
    first.work_order = o3
    regular.kind = VisitKind.COMPLAINT
    session.flush()
    assert callbacks_kept(session, orders) == callbacks_recounted(session, orders) == {o1.id: 1, o2.id: 1,
                                                                                     o3.id: 1, o4.id: 0}
    regular.kind = VisitKind.SURVEY
    first.notes = "业主已确认"
    session.flush()
    assert callbacks_kept(session, orders) == callbacks_recounted(session, orders)
    assert callbacks_kept(session, orders)[o2.id] == 0

    # set-based writes: many rows at once, INSERT … SELECT, UPDATE, DELETE
    now = dt.datetime.now(dt.UTC)
    session.execute(insert(Visit), [
        {"project_id": p.id, "kind": kind, "way": "phone", "work_order_id": o.id, "visited_at": now,
         "notes": "", "issues_raised": "", "created_at": now, "updated_at": now}
        for o in (o2, o4) for kind in (VisitKind.REPAIR, VisitKind.PAID_SERVICE, VisitKind.SURVEY)])
    session.execute(text("INSERT INTO visit (project_id, kind, way, work_order_id, visited_at, notes, issues_raised, "
                         "created_at, updated_at, version) SELECT project_id, kind, way, work_order_id, visited_at, "
                         "'copy', '', created_at, updated_at, 1 FROM visit WHERE work_order_id IN (:a, :b)"),
                    {"a": o1.id, "b": o4.id})
    assert callbacks_kept(session, orders) == callbacks_recounted(session, orders)
    assert callbacks_kept(session, orders)[o4.id] == 4
    session.execute(update(Visit).where(Visit.notes == "copy").values(work_order_id=o3.id))
    session.execute(update(Visit).where(Visit.work_order_id == o2.id, Visit.kind == VisitKind.SURVEY)
                    .values(kind=VisitKind.COMPLAINT))
    session.execute(update(Visit).where(Visit.project_id == p.id).values(issues_raised="无"))
    assert callbacks_kept(session, orders) == callbacks_recounted(session, orders)
    session.execute(delete(Visit).where(Visit.work_order_id == o4.id))
    session.execute(update(Visit).where(Visit.work_order_id == o2.id).values(work_order_id=None))
    session.expire_all()
    assert callbacks_kept(session, orders) == callbacks_recounted(session, orders)
    assert callbacks_kept(session, orders)[o4.id] == callbacks_kept(session, orders)[o2.id] == 0

    # an ORM delete
    session.delete(session.scalar(select(Visit).where(Visit.work_order_id == o1.id)))
    session.flush()
    assert callbacks_kept(session, orders) == callbacks_recounted(session, orders)
    assert callbacks_kept(session, orders)[o1.id] == 0


def test_callback_counts_are_recounted_when_their_triggers_are_put_back(session):
    org = build_org(session)
    p = org["project"]
    o = order(session, p, org["staff"]["fixer"], at(2026, 10, 3), at(2026, 10, 3))
    callback(session, p, o, at(2026, 10, 4), Satisfaction.SATISFIED)
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    for name in CALLBACKS.pg_triggers() if postgres else CALLBACKS.sqlite_triggers():
        connection.execute(text(f"DROP TRIGGER {name}" + (" ON visit" if postgres else "")))
    callback(session, p, o, at(2026, 10, 5), Satisfaction.SATISFIED)  # no trigger: not counted
    assert callbacks_kept(session, [o]) == {o.id: 1}
    sync_totals(connection)
    assert callbacks_kept(session, [o]) == callbacks_recounted(session, [o]) == {o.id: 2}


@pytest.fixture
def committed_order(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    with Session(engine) as s, s.begin():
        p = f.project(s)
        req = f.service_request(s, project_=p, kind=RequestKind.REPAIR_PRIVATE)
        dept = s.scalar(select(Department).where(Department.project_id.is_(None)).limit(1))
        due = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)
        wo = WorkOrder(project=p, request=req, department=dept, dispatched_at=due, respond_due_at=due,
                       complete_due_at=due)
        s.add(wo)
        s.flush()
        ids = {"project": p.id, "branch": p.branch_id, "order": wo.id}
    yield ids
    drop_committed(engine, ids, (Visit, WorkOrder, ServiceRequest))


def test_two_callbacks_of_one_order_at_once_both_count(engine, committed_order):
    now = dt.datetime.now(dt.UTC)

    def called_back(session):
        session.execute(insert(Visit).values(project_id=committed_order["project"], kind=VisitKind.REPAIR,
                                             way="phone", work_order_id=committed_order["order"], visited_at=now,
                                             notes="", issues_raised="", created_at=now, updated_at=now))

    waited, box = second_while_first_open(engine, called_back, called_back)
    assert waited and "error" not in box
    with Session(engine) as s:
        assert s.scalar(select(WorkOrder.callbacks).where(WorkOrder.id == committed_order["order"])) == 2
