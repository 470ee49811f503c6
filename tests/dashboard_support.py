"""The hand-checked data set of the home page, the KPIs, the monthly report and the month close.

Branch 甲 holds P1 and P2, branch 乙 holds P3 (which a P1 or branch-甲 user must never see). The month checked
is September 2025 (Asia/Shanghai); the expected figures are in :data:`EXPECTED` and worked out in comments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    SCORE_COLUMNS,
    SHANGHAI,
    AuditLog,
    Bill,
    BillStatus,
    Branch,
    ComplaintValidity,
    Department,
    MonthlyScore,
    MonthSnapshot,
    MonthStatus,
    OperationLog,
    Phase,
    Project,
    RequestKind,
    RequestStatus,
    Satisfaction,
    ScoreMonth,
    ServiceRequest,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyStatus,
    SurveyTopic,
    Visit,
    VisitKind,
    WorkOrder,
    WorkOrderStatus,
    utcnow,
)
from tests import factories as f

MONTH = "2025-09"
EMPTY_MONTH = "2024-05"
COUNTED = (MonthSnapshot, AuditLog, OperationLog)


def sh(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2025) -> dt.datetime:
    """A moment typed in Beijing time."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def count(session: Session, model: type, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def counts(session: Session) -> tuple[int, ...]:
    return tuple(count(session, m) for m in COUNTED)


# (numerator, denominator, shown) per KPI of September 2025, per project and for P1 + P2.
EXPECTED = {
    "P1": {
        # bills: 250/250, 250/100, 250/0, 100/100 (2栋, no phase); a waived 250 left out → 450 ÷ 850 = 52.94 %
        "collection_rate": (Decimal("450.00"), Decimal("850.00"), "52.9%"),
        # January–September: August's 250 unpaid besides → 450 ÷ 1100 = 40.91 %
        "yearly_collection_rate": (Decimal("450.00"), Decimal("1100.00"), "40.9%"),
        # complaints received: c1, c2, c3, c4 (9/30 23:30 Beijing); closed in September: c1, c3
        "handling_rate": (2, 4, "50.0%"),
        # of c1 and c3 only c1's order was done by its deadline
        "timeliness_rate": (1, 2, "50.0%"),
        "validity_rate": (2, 4, "50.0%"),
        # survey 2025H2: 4 households, 3 forms collected (the 筹备中 survey of 2025-09 does not count)
        "survey_rate": (3, 4, "75.0%"),
        # answers 5, 4, 3 (客服部) and 2, 4 (工程部) of 5: three are 4 or 5
        "satisfaction": (3, 5, "60.0%"),
        # orders closed in September: c1's (called back), c3's (not), r1's (called back): 66.67 % rounds up
        "callback_rate": (2, 3, "66.7%"),
    },
    "P2": {
        "collection_rate": (Decimal("100.00"), Decimal("100.00"), "100.0%"),
        "yearly_collection_rate": (Decimal("100.00"), Decimal("100.00"), "100.0%"),
        "handling_rate": (0, 1, "0.0%"),  # a real 0 %: one complaint, not closed
        "timeliness_rate": (0, 0, "—"),  # nothing closed: no denominator
        "validity_rate": (0, 1, "0.0%"),
        # survey 2025Q3 on a 10-point scale: 8 is satisfied, 7 is not
        "survey_rate": (2, 2, "100.0%"),
        "satisfaction": (1, 2, "50.0%"),
        "callback_rate": (0, 0, "—"),
    },
    "total": {
        "collection_rate": (Decimal("550.00"), Decimal("950.00"), "57.9%"),  # 57.89 % rounds up
        "yearly_collection_rate": (Decimal("550.00"), Decimal("1200.00"), "45.8%"),  # 45.83 %
        "handling_rate": (2, 5, "40.0%"),
        "timeliness_rate": (1, 2, "50.0%"),
        "validity_rate": (2, 5, "40.0%"),
        "survey_rate": (5, 6, "83.3%"),
        "satisfaction": (4, 7, "57.1%"),
        "callback_rate": (2, 3, "66.7%"),
    },
}


@dataclass
class World:
    b1: Branch
    b2: Branch
    p1: Project
    p2: Project
    p3: Project
    c1: ServiceRequest  # P1's major complaint of September
    c2: ServiceRequest  # received in September, closed on 2 October
    unpaid: Bill  # P1's unpaid September bill (u3)
    engineering: Department
    service: Department


def build(session: Session, suffix: str = "") -> World:
    """The data set; ``suffix`` keeps names unique when it is committed (browser tests)."""
    b1 = f.branch(session, name=f"甲分公司{suffix}")
    b2 = f.branch(session, name=f"乙分公司{suffix}")
    p1 = f.project(session, name=f"甲项目{suffix}", branch_=b1)
    p2 = f.project(session, name=f"乙项目{suffix}", branch_=b1)
    p3 = f.project(session, name=f"丙项目{suffix}", branch_=b2)
    service = session.scalar(select(Department).where(Department.name == "客服部", Department.project_id.is_(None)))
    engineering = session.scalar(select(Department).where(Department.name == "工程部", Department.project_id.is_(None)))

    # --- bills of September (and one of August, not counted) ---------------------------------------------
    phase = Phase(project=p1, name="一期")
    session.add(phase)
    session.flush()
    b_1 = f.building(session, project_=p1, name="1栋")
    b_1.phase_id = phase.id
    b_2 = f.building(session, project_=p1, name="2栋")
    u = [f.unit(session, project_=p1, building_=b_1, room_no=f"10{i}") for i in range(1, 5)]
    u5 = f.unit(session, project_=p1, building_=b_2, room_no="201")
    fee1, fee2, fee3 = (f.fee_type(session, project_=p) for p in (p1, p2, p3))
    f.bill(session, unit_=u[0], fee_type_=fee1, period=MONTH, amount_paid=Decimal("250.00"))
    f.bill(session, unit_=u[1], fee_type_=fee1, period=MONTH, amount_paid=Decimal("100.00"))
    unpaid = f.bill(session, unit_=u[2], fee_type_=fee1, period=MONTH)
    f.bill(session, unit_=u[3], fee_type_=fee1, period=MONTH).status = BillStatus.WAIVED
    f.bill(session, unit_=u5, fee_type_=fee1, period=MONTH, amount_due=Decimal("100.00"),
           amount_paid=Decimal("100.00"))
    f.bill(session, unit_=u[0], fee_type_=fee1, period="2025-08")
    q = [f.unit(session, project_=p2, room_no=f"30{i}") for i in range(1, 3)]
    f.bill(session, unit_=q[0], fee_type_=fee2, period=MONTH, amount_due=Decimal("100.00"),
           amount_paid=Decimal("100.00"))
    r3 = f.unit(session, project_=p3, room_no="501")
    f.bill(session, unit_=r3, fee_type_=fee3, period=MONTH, amount_due=Decimal("300.00"))

    # --- complaints, work orders, callbacks --------------------------------------------------------------
    def request(project, received, *, kind=RequestKind.COMPLAINT, valid=None, major=False, closed=None, unit=None):
        r = f.service_request(session, project_=project, kind=kind, received_at=received, unit_=unit)
        r.complaint_validity = {True: ComplaintValidity.VALID, False: ComplaintValidity.INVALID,
                                None: ComplaintValidity.PENDING}[valid] if kind is RequestKind.COMPLAINT else None
        r.complaint_major = major
        if closed:
            r.status, r.closed_at = RequestStatus.CLOSED, closed
        session.flush()
        return r

    def order(r, *, department=engineering, status=WorkOrderStatus.CLOSED, done=None, due=None, closed=None,
              callback: VisitKind | None = None, respond_due=None):
        o = WorkOrder(project_id=r.project_id, request=r, department_id=department.id, status=status,
                      dispatched_at=r.received_at, respond_due_at=respond_due or r.received_at + dt.timedelta(hours=1),
                      complete_due_at=due or r.received_at + dt.timedelta(days=1), completed_at=done, closed_at=closed)
        session.add(o)
        session.flush()
        if callback:
            session.add(Visit(project_id=r.project_id, kind=callback, work_order_id=o.id, request_id=r.id,
                              visited_at=closed, result=Satisfaction.SATISFIED, unit_id=r.unit_id))
        return o

    c1 = request(p1, sh(9, 2), valid=True, major=True, closed=sh(9, 5), unit=u[0])
    order(c1, done=sh(9, 3), due=sh(9, 4), closed=sh(9, 5), callback=VisitKind.COMPLAINT)
    c2 = request(p1, sh(9, 10), valid=False, closed=sh(10, 2))
    order(c2, done=sh(9, 12), due=sh(9, 15), closed=sh(10, 2), callback=VisitKind.COMPLAINT)
    c3 = request(p1, sh(9, 20), valid=True, closed=sh(9, 25))
    order(c3, done=sh(9, 24), due=sh(9, 22), closed=sh(9, 25))
    request(p1, sh(9, 30, 23, 30))  # c4: still September in Beijing
    request(p1, sh(8, 31, 23, 30), valid=True)  # August
    r1 = request(p1, sh(9, 3), kind=RequestKind.REPAIR_PUBLIC, closed=sh(9, 6))
    order(r1, done=sh(9, 4), due=sh(9, 5), closed=sh(9, 6), callback=VisitKind.REPAIR)
    session.add(Visit(project_id=p1.id, kind=VisitKind.REGULAR, unit_id=u[1].id, visited_at=sh(9, 15)))
    request(p2, sh(9, 8), valid=False)
    request(p3, sh(9, 8), valid=True, major=True)

    # open orders now: P1 one overdue at 工程部, one on time at 客服部; P3 one (out of P1's sight)
    now = utcnow()
    for project, department, respond_due, due in (
        (p1, engineering, now - dt.timedelta(hours=5), now + dt.timedelta(days=2)),
        (p1, service, now + dt.timedelta(hours=5), now + dt.timedelta(days=2)),
        (p3, engineering, now - dt.timedelta(hours=5), now - dt.timedelta(hours=1)),
    ):
        r = request(project, now - dt.timedelta(hours=6), kind=RequestKind.REPAIR_PRIVATE)
        order(r, department=department, status=WorkOrderStatus.DISPATCHED, respond_due=respond_due, due=due)

    # --- surveys -----------------------------------------------------------------------------------------
    def survey(project, title, period, scale, units, collected, answers, status=SurveyStatus.CLOSED):
        """``answers``: (unit, department scores, the form's 总体满意度 or None)."""
        # begun on the first day of its 调查期间: it counts toward every month the period covers
        first = {"2025H1": dt.date(2025, 1, 1), "2025H2": dt.date(2025, 7, 1), "2025Q3": dt.date(2025, 7, 1),
                 MONTH: dt.date(2025, 9, 1)}[period]
        s = Survey(project=project, title=title, period=period, scale_max=scale, status=status, start_date=first)
        session.add(s)
        session.flush()
        for unit in units:
            session.add(SurveyHousehold(project_id=project.id, survey_id=s.id, unit_id=unit.id,
                                        collected=unit in collected))
        for unit, scores, overall in answers:
            session.add(SurveyResponse(project_id=project.id, survey_id=s.id, unit_id=unit.id, overall_score=overall,
                                       **{SCORE_COLUMNS[t]: v for t, v in scores}))
        session.flush()
        return s

    S, E = SurveyTopic.SERVICE, SurveyTopic.ENGINEERING
    survey(p1, "2025年上半年调查", "2025H1", 5, u[:1], u[:1], [(u[0], [(S, 1)], None)])
    # 总体满意度 on the forms: 4 and 2 of 5 → 1 of 2 (50.0 %), not the departments' pooled 3 of 5 (60.0 %)
    survey(p1, "2025年下半年调查", "2025H2", 5, u, u[:3],
           [(u[0], [(S, 5), (E, 2)], 4), (u[1], [(S, 4), (E, 4)], 2), (u[2], [(S, 3)], None)], SurveyStatus.COLLECTED)
    survey(p2, "2025年三季度调查", "2025Q3", 10, q, q, [(q[0], [(S, 8)], 9), (q[1], [(S, 7)], None)],
           SurveyStatus.DISTRIBUTING)
    # 筹备中: its households are listed and a form was typed in, but it has not been run — it counts nowhere
    # (were it counted, P1's September 调查率 would be 3 of 8 and the latest survey this one).
    survey(p1, "2025年9月专项调查（筹备中）", MONTH, 5, u, [], [(u[3], [(S, 1)], 1)], SurveyStatus.PLANNED)

    # --- scores of September: P1 confirmed ------------------------------------------------------------------
    session.add(ScoreMonth(project=p1, month=MONTH, status=MonthStatus.CONFIRMED, computed_at=sh(10, 3),
                           confirmed_at=sh(10, 5)))
    for total, rank, grade in ((Decimal("98.0"), 1, "优秀"), (Decimal("88.0"), 2, "良好")):
        staff = f.staff(session, project_=p1)
        session.add(MonthlyScore(project=p1, staff=staff, month=MONTH, base_score=Decimal("100"),
                                 deductions=total - 100, additions=Decimal("0"), total=total, rank=rank, grade=grade))
    session.flush()
    return World(b1, b2, p1, p2, p3, c1, c2, unpaid, engineering, service)
