"""The same step sent twice at once through two app processes on PostgreSQL (two tabs, a double click behind a
load balancer): one is taken, the other answered in Chinese — never a 500 — and the step is written and logged
once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from actions.actor import Actor
from actions.dunning import DunningScope, issue_dunning
from actions.surveys import add_corrective_action, create_survey
from models import SHANGHAI, ActionStatus, CorrectiveAction, DunningNotice, OperationLog, SurveyTopic
from tests import factories
from tests.browser_support import Browser

pytestmark = pytest.mark.postgres_only


def _at_once(app_processes, username: str, path: str, form: dict, page: str) -> list[tuple[int, str]]:
    """``form`` POSTed to ``path`` through each process at the same moment, by one user logged in on both (each
    tab opened ``page`` first); the answers in process order."""
    tabs = [Browser(url) for url in app_processes.urls]
    assert tabs[0].log_in(username) == 302
    for tab in tabs[1:]:
        tab.cookies = dict(tabs[0].cookies)
    for tab in tabs:
        assert tab.request("GET", page)[0] == 200
    start, answers = threading.Barrier(len(tabs)), [None] * len(tabs)

    def send(i: int) -> None:
        start.wait()
        answers[i] = tabs[i].request("POST", path, form)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(tabs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def _logged(app_processes, operation: str, project_id: int) -> int:
    with app_processes.session_maker() as session:
        return session.scalar(select(func.count()).select_from(OperationLog).where(
            OperationLog.operation == operation, OperationLog.project_id == project_id))


def test_a_notice_delivered_through_two_processes_at_once_is_recorded_once(app_processes):
    """登记送达 of the same notice from two tabs: both were saved, the later time and signer over the first (the one
    the letter and the stage-4 approval read), one operation-log row each. Now the second finds it delivered."""
    with app_processes.session_maker.begin() as session:
        project = factories.project(session, name="两进程送达苑")
        fee = factories.fee_type(session, project_=project, name="物业管理费")
        building = factories.building(session, project_=project, name="E栋")
        unit = factories.unit(session, project_=project, building_=building, room_no="101")
        factories.bill(session, unit_=unit, fee_type_=fee, period="2026-03")
        actor = Actor(user_id=None, name="收费员", project_ids=frozenset({project.id}))
        issue_dunning(session, stage=1, as_of=dt.date(2026, 4, 5), scope=DunningScope(project_id=project.id),
                      actor=actor)
        notice_id = session.scalar(select(DunningNotice.id).where(DunningNotice.project_id == project.id))
        collector = factories.staff(session, project_=project, name="送达员甲").id
        factories.user(session, username="deliverer", superuser=True)
        project_id = project.id
    at = (dt.datetime.now(SHANGHAI) + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    form = {"notice_ids": str(notice_id), "delivered_by_id": str(collector), "way": "hand", "signed_by": "王芳",
            "delivered_at": at}
    answers = _at_once(app_processes, "deliverer", "/admin/dunning-notice/deliver", form,
                       f"/admin/dunning-notice/action/deliver?pks={notice_id}")
    assert sorted(status for status, _ in answers) == [303, 400], [(s, p[:300]) for s, p in answers]
    refused = next(page for status, page in answers if status == 400)
    assert "所选通知均已登记送达，未重复登记：E栋-101；更正请在该通知的编辑页修改" in refused
    with app_processes.session_maker() as session:
        notice = session.get(DunningNotice, notice_id)
        assert (notice.signed_by, notice.delivered_by_id, notice.version) == ("王芳", collector, 2)
    assert _logged(app_processes, "record_delivery", project_id) == 1


def test_a_corrective_action_completed_through_two_processes_at_once_is_recorded_once(app_processes):
    """整改完成 from two tabs: one process answered HTTP 500 「数据库出错」 (its save found the row's version moved) or
    both recorded it. Now one is recorded; the other is told 「该整改已登记完成，请安排回访」."""
    with app_processes.session_maker.begin() as session:
        project = factories.project(session, name="两进程整改苑")
        actor = Actor(user_id=None, name="主管", project_ids=frozenset({project.id}))
        survey_id = create_survey(session, project_id=project.id, title="2026年上半年满意度调查", actor=actor).survey_id
        action_id = add_corrective_action(session, survey_id=survey_id, topic=SurveyTopic.SERVICE, issue="前台接待慢",
                                          action="高峰时段增加一名前台", actor=actor).action_id
        factories.user(session, username="rectifier", superuser=True)
        project_id = project.id
    page = f"/admin/survey-results/{survey_id}"
    answers = _at_once(app_processes, "rectifier", page, {"action_id": str(action_id), "step": "complete"}, page)
    assert sorted(status for status, _ in answers) == [200, 400], [(s, p[:300]) for s, p in answers]
    assert any("已登记整改完成，请安排回访" in page for status, page in answers if status == 200)
    assert any("该整改已登记完成，请安排回访" in page for status, page in answers if status == 400)
    with app_processes.session_maker() as session:
        assert session.get(CorrectiveAction, action_id).status is ActionStatus.DONE
    assert _logged(app_processes, "complete-corrective-action", project_id) == 1
