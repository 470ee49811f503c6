"""A POST above a list (``pages.list_step``): the grant checked, one action, its message, back to the list; a
refusal is the page's Chinese message with nothing written. Shown on 诉求升级 → 上报."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Escalation, EscalationLevel
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
