"""满意度调查 through the console's form (admin/views/surveys.py): a campaign with an 调查期间 not of the documented
forms, or ending before it starts, is refused in Chinese — on create and on edit — and nothing is written; a form
typed by hand is held to the import's rules."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import delete, func, select

from actions.actor import Actor
from actions.surveys import create_survey
from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    CorrectiveAction,
    Project,
    Survey,
    SurveyHousehold,
    SurveyHouseholdTally,
    SurveyResponse,
    SurveyStatus,
    Unit,
    UnitStatus,
)
from tests import factories


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _form(project, **fields) -> dict:
    return {"project": str(project.id), "title": "2026年下半年满意度调查", "period": "2026H2", "start_date": "",
            "end_date": "", "scale_max": "5", **fields}


def test_create_refuses_a_bad_period_or_dates(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    factories.unit(session, project_=p)
    c = console("boss")
    before = (_count(session, Survey), _count(session, SurveyHousehold))
    for fields, message in (
        ({"period": "abc"}, "调查期间格式不正确：「abc」"),
        ({"start_date": "2026-12-31", "end_date": "2026-11-01"}, "结束日期（2026-11-01）不能早于开始日期（2026-12-31）"),
    ):
        response = c.post("/admin/survey/create", _form(p, **fields))
        assert response.status_code == 400, fields
        assert message in html.unescape(response.text)
        assert (_count(session, Survey), _count(session, SurveyHousehold)) == before
    response = c.post("/admin/survey/create", _form(p, period="2026h2", start_date="2026-11-01", end_date="2026-12-31"))
    assert response.status_code == 302, response.text[:500]
    assert session.scalar(select(Survey.period).where(Survey.project_id == p.id)) == "2026H2"


@pytest.mark.parametrize(("typed", "stored"), [
    ("2026年下半年", "2026H2"), ("2026上半年", "2026H1"), ("2026年第三季度", "2026Q3"), ("2026年三季度", "2026Q3"),
    ("2026年度", "2026"), ("2026年11月", "2026-11"), ("2026.3", "2026-03"),
])
def test_a_period_written_as_people_write_it_is_read_as_the_period_it_names(console, session, typed, stored):
    """调查期间 typed 「2026年下半年」 — as the paper form and the title say it — was refused 「调查期间格式不正确」; it is
    read as the half year, quarter, year or month it names and stored as the KPIs read it (2026H2 …)."""
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    response = console("boss").post("/admin/survey/create", _form(p, period=typed))
    assert response.status_code == 302, response.text[:500]
    assert session.scalar(select(Survey.period).where(Survey.project_id == p.id)) == stored


def test_edit_refuses_a_bad_period_or_dates(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查", period="2026H2",
                              actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    session.flush()
    c = console("boss")
    for fields, message in (
        ({"period": "2026H3"}, "调查期间格式不正确：「2026H3」"),
        ({"start_date": "2026-12-31", "end_date": "2026-11-01"}, "结束日期（2026-11-01）不能早于开始日期（2026-12-31）"),
    ):
        response = c.post(f"/admin/survey/edit/{survey_id}", {**_form(p, **fields), "status": "planned"})
        assert response.status_code == 400, fields
        assert message in html.unescape(response.text)
        session.expire_all()
        survey = session.get(Survey, survey_id)
        assert (survey.period, survey.start_date, survey.end_date) == ("2026H2", None, None)


def test_a_form_typed_by_hand_is_held_to_the_imports_rules(console, session):
    factories.user(session, username="boss", superuser=True)
    p, other = factories.project(session), factories.project(session)
    unit, foreign_unit = factories.unit(session, project_=p), factories.unit(session, project_=other)
    everyone = Actor(user_id=None, name="测试", project_ids=None)
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查", actor=everyone).survey_id
    session.flush()
    c = console("boss")
    tomorrow = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=1)
    form = {"project": str(p.id), "survey": str(survey_id), "unit": str(unit.id), "respondent": "张伟",
            "answered_on": "2026-11-01", "overall_score": "5", "comments": ""}
    for fields, message in (
        ({"answered_on": tomorrow.isoformat()}, f"填表日期 {tomorrow} 不能晚于今天"),
        ({"unit": str(foreign_unit.id)}, "房屋不属于所选项目"),
    ):
        response = c.post("/admin/survey-response/create", {**form, **fields})
        assert response.status_code == 400, fields
        assert message in html.unescape(response.text), html.unescape(response.text)[-3000:]
        assert _count(session, SurveyResponse) == 0
    assert session.get(Survey, survey_id).status is SurveyStatus.PLANNED
    assert c.post("/admin/survey-response/create", form).status_code == 302
    assert _count(session, SurveyResponse) == 1
    # a form came back: the campaign has been run, as a recorded hand-out or an import would say
    session.expire_all()
    assert session.get(Survey, survey_id).status is SurveyStatus.DISTRIBUTING


def test_a_form_typed_by_hand_before_its_survey_began_is_refused(console, session):
    """The console's 调查问卷 form holds what the import holds: a 填表日期 before the survey's 开始日期 (another
    campaign's paper form, or the year typed wrong) is refused naming it, nothing written; the first day is taken."""
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    unit = factories.unit(session, project_=p)
    everyone = Actor(user_id=None, name="测试", project_ids=None)
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查", actor=everyone,
                              start_date=dt.date(2026, 7, 1)).survey_id
    session.flush()
    c = console("boss")
    form = {"project": str(p.id), "survey": str(survey_id), "unit": str(unit.id), "respondent": "张伟",
            "answered_on": "2026-03-06", "overall_score": "5", "comments": ""}
    refused = c.post("/admin/survey-response/create", form)
    assert refused.status_code == 400
    assert "填表日期 2026-03-06 早于本次调查的开始日期（2026-07-01）" in html.unescape(refused.text)
    assert _count(session, SurveyResponse) == 0
    assert c.post("/admin/survey-response/create", {**form, "answered_on": "2026-07-01"}).status_code == 302
    assert _count(session, SurveyResponse) == 1


def test_a_hand_out_typed_in_the_console_moves_a_planned_survey_on(console, session):
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    factories.unit(session, project_=p)  # occupied: the campaign lists it
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查",
                              actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    session.flush()
    household = session.scalars(select(SurveyHousehold).where(SurveyHousehold.survey_id == survey_id)).first()
    c = console("boss")
    form = {"survey": str(survey_id), "unit": str(household.unit_id), "distributed_at": ""}
    assert c.post(f"/admin/survey-household/edit/{household.id}", form).status_code == 302
    session.expire_all()
    assert session.get(Survey, survey_id).status is SurveyStatus.PLANNED  # nothing handed out yet
    assert c.post(f"/admin/survey-household/edit/{household.id}", {**form, "distributed_at": "2026-11-02"}).status_code == 302
    session.expire_all()
    assert session.get(Survey, survey_id).status is SurveyStatus.DISTRIBUTING


def test_a_form_typed_for_a_unit_outside_the_campaign_brings_its_household_in(console, session):
    """A form's key is its household: typed for a unit the campaign did not list (vacant here), the household is
    added first and, as an import marks it, 已回收."""
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    listed, vacant = factories.unit(session, project_=p), factories.unit(session, project_=p, status=UnitStatus.VACANT)
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查",
                              actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    session.flush()
    c = console("boss")
    form = {"project": str(p.id), "survey": str(survey_id), "respondent": "张伟", "answered_on": "2026-11-01",
            "overall_score": "5", "comments": ""}
    for unit in (listed, vacant):
        assert c.post("/admin/survey-response/create", {**form, "unit": str(unit.id)}).status_code == 302
    session.expire_all()
    households = dict(session.execute(select(SurveyHousehold.unit_id, SurveyHousehold.collected)
                                      .where(SurveyHousehold.survey_id == survey_id)).all())
    assert households == {listed.id: True, vacant.id: True}
    assert _count(session, SurveyResponse) == 2
    trail = session.scalars(select(AuditLog.summary).where(AuditLog.table_name == SurveyHousehold.__tablename__,
                                                           AuditLog.kind == AuditKind.INSERT)).all()
    assert any("录入问卷" in s for s in trail)


def _one_answered(session) -> tuple[int, int, int]:
    """A campaign of two units, one of which has answered: (survey, answered unit, other unit)."""
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    unit, quiet = factories.unit(session, project_=p), factories.unit(session, project_=p)
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查",
                              actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    session.add(SurveyResponse(project_id=p.id, survey_id=survey_id, unit_id=unit.id, overall_score=4))
    session.flush()
    return survey_id, unit.id, quiet.id


def test_a_unit_that_answered_a_survey_is_not_deleted(console, session):
    """Its forms would go with its household (the form's key): the delete is refused and nothing goes."""
    _, unit_id, quiet_id = _one_answered(session)
    c = console("boss")
    refused = c.delete(f"/admin/unit/delete?pks={unit_id}")  # sqladmin answers with the list URL
    assert "error=" in refused.text and "该房屋已有调查问卷，不能删除" in unquote_plus(refused.text)
    session.expire_all()
    assert session.get(Unit, unit_id) is not None and _count(session, SurveyResponse) == 1
    assert "error=" not in c.delete(f"/admin/unit/delete?pks={quiet_id}").text
    session.expire_all()
    assert session.get(Unit, quiet_id) is None


def test_a_household_that_answered_is_not_deleted(console, session):
    """Its form would go with it (the form's key): the delete is refused and nothing goes; one that has not
    answered is deleted."""
    survey_id, unit_id, quiet_id = _one_answered(session)
    answered, silent = (session.scalar(select(SurveyHousehold.id).where(SurveyHousehold.survey_id == survey_id,
                                                                        SurveyHousehold.unit_id == u))
                        for u in (unit_id, quiet_id))
    c = console("boss")
    refused = c.delete(f"/admin/survey-household/delete?pks={answered}")
    assert "error=" in refused.text and "该被调查户已有调查问卷，不能删除" in unquote_plus(refused.text)
    session.expire_all()
    assert session.get(SurveyHousehold, answered) is not None and _count(session, SurveyResponse) == 1
    assert "error=" not in c.delete(f"/admin/survey-household/delete?pks={silent}").text
    session.expire_all()
    assert session.get(SurveyHousehold, silent) is None and _count(session, SurveyResponse) == 1


def test_a_score_beyond_the_surveys_full_mark_is_refused_on_the_form_as_on_the_import(console, session):
    """满分 5: a paper form's 8 typed in the console would count as 满意 (8×5 ≥ 5×4) and skew 满意度; refused naming
    the column and the scale, as the import refuses it, and so is a comment longer than the import takes; the
    form on the scale is saved. An edit is held to it too."""
    factories.user(session, username="boss", superuser=True)
    p = factories.project(session)
    unit = factories.unit(session, project_=p)
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查",
                              actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    session.flush()
    c = console("boss")
    form = {"project": str(p.id), "survey": str(survey_id), "unit": str(unit.id), "respondent": "张伟",
            "answered_on": "2026-11-01", "overall_score": "5", "comments": ""}
    before = (_count(session, SurveyResponse), _count(session, AuditLog))
    for fields, message in (
        ({"service_score": "8"}, "客服部：8 超出范围（本调查满分 5，须为 1–5 分）"),
        ({"overall_score": "6"}, "总体满意度：6 超出范围（本调查满分 5，须为 1–5 分）"),
        ({"comments": "慢" * 2001}, "意见建议过长：最多 2,000 字，现为 2,001 字"),
    ):
        response = c.post("/admin/survey-response/create", {**form, **fields})
        assert response.status_code == 400, fields
        assert message in html.unescape(response.text), html.unescape(response.text)[-2000:]
        assert (_count(session, SurveyResponse), _count(session, AuditLog)) == before
    assert c.post("/admin/survey-response/create", {**form, "service_score": "5", "comments": "慢" * 2000}).status_code == 302
    response_id = session.scalar(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey_id))
    refused = c.post(f"/admin/survey-response/edit/{response_id}", {**form, "service_score": "9"})
    assert refused.status_code == 400 and "客服部：9 超出范围" in html.unescape(refused.text)
    session.expire_all()
    assert session.get(SurveyResponse, response_id).service_score == 5


def test_a_surveys_full_mark_is_not_changed_under_its_answers(console, session):
    """满分 edited: within 2–10 as on create, and not once forms are in (their scores were given on the old
    scale: 5 of 5 would read as 5 of 10); the survey unchanged."""
    survey_id, _, _ = _one_answered(session)
    c = console("boss")
    p_id = session.get(Survey, survey_id).project_id
    project = session.get(Project, p_id)
    for scale, message in (("1", "满分应在 2–10 分之间"), ("10", "该调查已有问卷，不能修改满分（已录入的评分按 5 分制）")):
        response = c.post(f"/admin/survey/edit/{survey_id}", {**_form(project, scale_max=scale), "status": "planned"})
        assert response.status_code == 400, scale
        assert message in html.unescape(response.text)
        session.expire_all()
        assert session.get(Survey, survey_id).scale_max == 5


def test_a_corrective_action_beyond_the_text_bound_is_refused_by_its_create_form(console, session):
    """The create form saves through 新增整改措施 (not the generic form save that holds the bound): a pasted
    100,000-character 存在问题 is refused there in Chinese, nothing written."""
    survey_id, _, _ = _one_answered(session)
    p_id = session.get(Survey, survey_id).project_id
    c = console("boss")
    before = (_count(session, CorrectiveAction), _count(session, AuditLog))
    response = c.post("/admin/corrective-action/create", {"project": str(p_id), "survey": str(survey_id),
                                                          "topic": "engineering", "issue": "长" * 100_000,
                                                          "action": "增设夜间值班", "owner": "", "due_date": ""})
    assert response.status_code == 400 and "存在问题过长：最多 10,000 字，现为 100,000 字" in html.unescape(response.text)
    assert (_count(session, CorrectiveAction), _count(session, AuditLog)) == before


def test_a_run_survey_is_not_set_back_to_planned_nor_moved_to_another_project(console, session):
    """A campaign whose forms came back counts in 调查率 and 满意度: set back to 筹备中 on its form it would drop out
    of them, and moved to another project its households and forms would not follow — both refused in Chinese,
    the survey as it was; closing it is its next step."""
    survey_id, _, _ = _one_answered(session)
    survey = session.get(Survey, survey_id)
    survey.status = SurveyStatus.COLLECTED
    session.flush()
    project = session.get(Project, survey.project_id)
    elsewhere = factories.project(session)
    c = console("boss")
    for fields, message in (
        ({"status": "planned"}, "该调查的问卷已发放或已回收，不能改回“筹备中”"),
        ({"status": "collected", "project": str(elsewhere.id)}, "项目不能修改：调查的被调查户和问卷都属于原项目"),
    ):
        response = c.post(f"/admin/survey/edit/{survey_id}", {**_form(project), **fields})
        assert response.status_code == 400, fields
        assert message in html.unescape(response.text), html.unescape(response.text)[-1500:]
        session.expire_all()
        assert (session.get(Survey, survey_id).status, session.get(Survey, survey_id).project_id) == (
            SurveyStatus.COLLECTED, project.id)
    assert c.post(f"/admin/survey/edit/{survey_id}", {**_form(project), "status": "closed"}).status_code == 302
    session.expire_all()
    assert session.get(Survey, survey_id).status is SurveyStatus.CLOSED


def test_a_household_typed_in_the_console_is_of_the_surveys_project_and_handed_out_as_recorded(console, session):
    """被调查户 of another project's unit would count in this survey's 调查率; a hand-out dated after today, or a
    receipt signed with no hand-out, is not what happened; a listed household is not moved to another unit. Each
    refused in Chinese, nothing written; a hand-out of today is saved."""
    factories.user(session, username="boss", superuser=True)
    p, other = factories.project(session), factories.project(session)
    unit, spare = factories.unit(session, project_=p), factories.unit(session, project_=p, status=UnitStatus.VACANT)
    foreign = factories.unit(session, project_=other)
    survey_id = create_survey(session, project_id=p.id, title="2026年下半年满意度调查",
                              actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    session.flush()
    household = session.scalar(select(SurveyHousehold).where(SurveyHousehold.survey_id == survey_id))
    c = console("boss")

    def state():
        session.expire_all()
        return _count(session, SurveyHousehold), session.execute(
            select(SurveyHousehold.unit_id, SurveyHousehold.distributed_at, SurveyHousehold.receipt_signed,
                   SurveyHousehold.version).where(SurveyHousehold.id == household.id)).one()

    before = state()
    refused = c.post("/admin/survey-household/create", {"survey": str(survey_id), "unit": str(foreign.id)})
    assert refused.status_code == 400 and "房屋不属于该调查的项目" in html.unescape(refused.text)
    today = dt.datetime.now(SHANGHAI).date()
    later = today + dt.timedelta(days=30)
    form = {"survey": str(survey_id), "unit": str(unit.id), "distributed_at": "", "receipt_signed": "", "collected": ""}
    for fields, message in (
        ({"distributed_at": later.isoformat()}, f"发放日期 {later} 不能晚于今天"),
        ({"receipt_signed": "y"}, "已签收须填写发放日期"),
        ({"unit": str(spare.id)}, "满意度调查和房屋不能修改"),
    ):
        response = c.post(f"/admin/survey-household/edit/{household.id}", {**form, **fields})
        assert response.status_code == 400, fields
        assert message in html.unescape(response.text), html.unescape(response.text)[-1500:]
    assert state() == before
    saved = c.post(f"/admin/survey-household/edit/{household.id}",
                   {**form, "distributed_at": today.isoformat(), "receipt_signed": "y"})
    assert saved.status_code == 302
    assert state()[1][1:3] == (today, True)


def test_a_household_whose_form_is_in_stays_collected(console, session):
    """Its form counts in 满意度; unticked 已回收 it would drop out of 调查率 — refused, the household as it was."""
    survey_id, unit_id, _ = _one_answered(session)
    household = session.scalar(select(SurveyHousehold).where(SurveyHousehold.survey_id == survey_id,
                                                             SurveyHousehold.unit_id == unit_id))
    household.collected = True
    session.flush()
    version = household.version
    c = console("boss")
    refused = c.post(f"/admin/survey-household/edit/{household.id}",
                     {"survey": str(survey_id), "unit": str(unit_id), "distributed_at": "", "receipt_signed": "",
                      "collected": ""})
    assert refused.status_code == 400 and "该被调查户已有调查问卷，不能改为未回收" in html.unescape(refused.text)
    session.expire_all()
    assert (session.get(SurveyHousehold, household.id).collected, session.get(SurveyHousehold, household.id).version) == (
        True, version)


def test_a_campaign_set_up_by_mistake_is_deleted_with_its_households_one_with_a_form_is_not(console, session):
    """Its households and their tally go with it (the tally not written again for a campaign no longer there); a
    campaign holding a form is refused in Chinese and nothing goes."""
    survey_id, unit_id, _ = _one_answered(session)
    other_id = create_survey(session, project_id=session.get(Survey, survey_id).project_id, title="2027年上半年满意度调查",
                             actor=Actor(user_id=None, name="测试", project_ids=None)).survey_id
    c = console("boss")
    refused = c.delete(f"/admin/survey/delete?pks={survey_id}")
    assert "error=" in refused.text and "该满意度调查已有调查问卷，不能删除" in unquote_plus(refused.text)
    session.expire_all()
    assert session.get(Survey, survey_id) is not None and _count(session, SurveyResponse) == 1
    assert _tally(session, survey_id) == {False: 2} == _tally(session, other_id)

    session.execute(delete(SurveyResponse).where(SurveyResponse.survey_id == survey_id))
    assert "error=" not in c.delete(f"/admin/survey/delete?pks={survey_id}").text
    session.expire_all()
    assert session.get(Survey, survey_id) is None and _tally(session, survey_id) == {}
    assert session.scalar(select(func.count()).where(SurveyHousehold.survey_id == survey_id)) == 0
    assert _tally(session, other_id) == {False: 2}  # another campaign's tally is not touched
    assert session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.table_name == "survey", AuditLog.record_id == str(survey_id), AuditLog.kind == AuditKind.DELETE)) == 1


def _tally(session, survey_id) -> dict[bool, int]:
    return dict(session.execute(select(SurveyHouseholdTally.collected, SurveyHouseholdTally.households)
                                .where(SurveyHouseholdTally.survey_id == survey_id, SurveyHouseholdTally.households != 0)).all())
