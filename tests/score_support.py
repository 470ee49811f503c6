"""Shared by the tests of 员工考核 (actions/scores, score_results, service_star): a small organisation, the
records events are derived from, and a fixture checked by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from actions.actor import Actor
from actions.scores import record_events
from models import (
    SHANGHAI,
    AuditLog,
    Department,
    MonthlyScore,
    OperationLog,
    Project,
    RequestKind,
    Satisfaction,
    ScoreEvent,
    ScoreMonth,
    ScoringRule,
    ServiceStar,
    StaffPosition,
    Visit,
    VisitKind,
    WorkOrder,
)
from tests import factories

MONTH = "2026-10"
ORG_PROJECTS = ("阳光花园", "滨江大厦")
DAY = dt.date(2026, 10, 12)
COUNTED = (ScoreEvent, MonthlyScore, ScoreMonth, ServiceStar, OperationLog, AuditLog)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(session) -> tuple[int, ...]:
    return tuple(count(session, m) for m in COUNTED)


def rule(session, code: str, on: dt.date = DAY) -> ScoringRule:
    return session.scalar(
        select(ScoringRule).where(
            ScoringRule.code == code, ScoringRule.valid_from <= on,
            (ScoringRule.valid_to.is_(None)) | (ScoringRule.valid_to > on),
        )
    )


def at(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    """A moment typed in Beijing time."""
    return dt.datetime(y, m, d, h, tzinfo=SHANGHAI)


def actor_for(user, *projects) -> Actor:
    return Actor(user_id=user.id, name=user.display_name, project_ids=frozenset(p.id for p in projects))


def build_org(session) -> dict:
    """One project with five front-desk staff, an inactive one and an engineer; a second project."""
    branch = factories.branch(session, name="浦东分公司")
    p = factories.project(session, name=ORG_PROJECTS[0], branch_=branch)
    other = factories.project(session, name=ORG_PROJECTS[1], branch_=branch)
    s = {k: factories.staff(session, project_=p, name=n) for k, n in
         (("a", "王芳"), ("b", "李娜"), ("c", "张伟"), ("d", "刘洋"), ("e", "陈静"))}
    s["gone"] = factories.staff(session, project_=p, name="赵离")
    s["gone"].active = False
    s["fixer"] = factories.staff(session, project_=p, name="孙师傅", position=StaffPosition.ENGINEER)
    s["x"] = factories.staff(session, project_=other, name="周外")
    boss = factories.user(session, username="zhuguan", roles=["客服主管"], projects=[p])
    session.flush()
    return {"project": p, "other": other, "branch": branch, "staff": s, "boss": boss,
            "actor": actor_for(boss, p)}


def request(session, project, kind: RequestKind, when: dt.datetime, **fields):
    row = factories.service_request(session, project_=project, kind=kind, received_at=when)
    for key, value in fields.items():
        setattr(row, key, value)
    session.flush()
    return row


def order(session, project, assignee, due: dt.datetime, completed: dt.datetime | None):
    req = request(session, project, RequestKind.REPAIR_PRIVATE, due - dt.timedelta(days=1))
    dept = session.scalar(select(Department).where(Department.name == "工程部", Department.project_id.is_(None)))
    row = WorkOrder(project=project, request=req, department=dept, assignee=assignee,
                    dispatched_at=due - dt.timedelta(days=1), respond_due_at=due - dt.timedelta(hours=20),
                    complete_due_at=due, completed_at=completed)
    session.add(row)
    session.flush()
    return row


def callback(session, project, work_order, when: dt.datetime, result: Satisfaction):
    row = Visit(project=project, kind=VisitKind.REPAIR, work_order=work_order, visited_at=when, result=result)
    session.add(row)
    session.flush()
    return row


def record(session, org, who, code, points=None, day=DAY, **kw):
    return record_events(session, project_id=org["project"].id, staff_ids=[s.id for s in who],
                         event_date=day, rule_id=rule(session, code, day).id, points=points,
                         actor=org["actor"], **kw)


def scores(session, month=MONTH) -> dict[str, MonthlyScore]:
    """The month's scores of the org's projects by employee name (the database may hold other tests' rows)."""
    ours = select(Project.id).where(Project.name.in_(ORG_PROJECTS))
    rows = session.scalars(select(MonthlyScore).where(MonthlyScore.month == month,
                                                      MonthlyScore.project_id.in_(ours))).all()
    return {r.staff.name: r for r in rows}


def hand_checked(session, org):
    """The fixture checked by hand (base 100):
    王芳 不及时接待 ×2 (−1 each), 乱发 −1.5                  → 96.5  优秀
    李娜 表扬 (+2, from a praise request)                    → 102   优秀
    张伟 投诉被扣 −10 (range 5–10), 值班记录 −6 (range 2–10) →  84   合格
    刘洋 nothing                                             → 100   优秀
    陈静 厌烦情绪 −2, 当众化妆 −1.5                          → 96.5  优秀
    孙师傅 (engineer) one overdue order: not a 客服人员, no event, not scored
    ranks: 李娜 1, 刘洋 2, 王芳 3, 陈静 3, 张伟 5"""
    s = org["staff"]
    record(session, org, [s["a"]], "1.1")
    record(session, org, [s["a"]], "1.1", day=DAY + dt.timedelta(days=1))
    record(session, org, [s["a"]], "5.2", points=Decimal("-1.5"))
    request(session, org["project"], RequestKind.PRAISE, at(2026, 10, 5), praised_staff=s["b"])
    record(session, org, [s["c"]], "1.3", points=Decimal("-10"))
    record(session, org, [s["c"]], "4.1", points=Decimal("-6"))
    record(session, org, [s["e"]], "2.1")
    record(session, org, [s["e"]], "5.5", points=Decimal("-1.5"))
    order(session, org["project"], s["fixer"], at(2026, 10, 8), at(2026, 10, 9))
