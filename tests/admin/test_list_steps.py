"""A POST above a list (``pages.list_step``): the grant checked, one action, its message, back to the list; a
refusal is the page's Chinese message with nothing written. Shown on 诉求升级 → 上报."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Escalation, EscalationLevel, StaffPosition
from models.base import utcnow
from tests import factories


def _escalations(session) -> int:
    return session.scalar(select(func.count()).select_from(Escalation))


def test_a_step_above_the_list_runs_its_action_and_returns_to_the_list(console, session):
    project = factories.project(session)
    factories.user(session, username="lead", roles=["客服主管"], projects=[project])
    request = factories.service_request(session, project_=project)
    c = console("lead")
    response = c.post("/admin/escalation/raise", {"request_id": str(request.id),
                                                   "level": EscalationLevel.SUPERVISOR.value, "reason": "业主多次来电"})
    assert response.status_code == 303 and response.headers["location"].endswith("/admin/escalation/list")
    row = session.scalar(select(Escalation).where(Escalation.request_id == request.id))
    assert (row.level, row.reason) == (EscalationLevel.SUPERVISOR, "业主多次来电")

    before = _escalations(session)
    refused = c.post("/admin/escalation/raise", {"request_id": str(request.id),
                                                  "level": EscalationLevel.SUPERVISOR.value, "reason": "再报一次"})
    assert refused.status_code == 400 and "只能向更高一级上报" in refused.text
    other = factories.service_request(session, project_=factories.project(session))
    foreign = c.post("/admin/escalation/raise", {"request_id": str(other.id),
                                                  "level": EscalationLevel.MANAGER.value, "reason": "不是本项目的"})
    assert foreign.status_code == 403 and "无权上报" in foreign.text
    assert _escalations(session) == before


def test_the_answer_box_is_offered_only_to_who_may_answer(console, session):
    """The 批复 box was shown to every account with the 批复 grant, and then refused what it sent: a 客服主管 login
    with no 员工 record, or whose 员工 holds no answering post. It is offered only to an account whose post answers
    a level (its title names up to which); a post from the other accounts is still refused, nothing written."""
    project = factories.project(session)
    lead = factories.user(session, username="lead", roles=["客服主管"], projects=[project])
    lead.staff_id = factories.staff(session, project_=project, position=StaffPosition.SUPERVISOR).id
    factories.user(session, username="nostaff", roles=["客服主管"], projects=[project])
    clerk = factories.user(session, username="clerk", roles=["客服主管"], projects=[project])
    clerk.staff_id = factories.staff(session, project_=project, position=StaffPosition.FRONT_DESK).id
    factories.user(session, username="desk", roles=["前台客服"], projects=[project])
    request = factories.service_request(session, project_=project)
    row = Escalation(project_id=project.id, request_id=request.id, level=EscalationLevel.SUPERVISOR, reason="业主多次来电",
                     escalated_at=utcnow())
    session.add(row)
    session.flush()
    box = "/admin/escalation/respond"
    page = console("lead").get("/admin/escalation/list")
    assert page.status_code == 200 and box in page.text and "可批复上报至客服主管及以下的诉求" in page.text
    for name in ("nostaff", "clerk", "desk"):
        page = console(name).get("/admin/escalation/list")
        assert page.status_code == 200 and "诉求升级" in page.text and box not in page.text, name
    for name in ("nostaff", "clerk"):
        refused = console(name).post(box, {"escalation_id": str(row.id), "response": "已处理"})
        assert refused.status_code == 403 and "须由客服主管批复" in refused.text, name
    session.expire_all()
    assert session.get(Escalation, row.id).responded_at is None
