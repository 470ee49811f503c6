"""A survey form's key to its household (models.survey_keys): a form names a household that exists, a household's
delete takes its forms, a key change may not leave them behind — on PostgreSQL held by statement triggers, also
between two transactions at once (a delete against a form's insert, an import, a console form, in either order);
on SQLite by the foreign key."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from actions.actor import Actor
from actions.errors import Refused
from actions.records import save_record
from actions.survey_import import import_survey_responses
from actions.surveys import create_survey
from models import (
    AuditLog,
    Branch,
    Building,
    ImportBatch,
    OperationLog,
    Project,
    Survey,
    SurveyAnswerTally,
    SurveyHousehold,
    SurveyHouseholdTally,
    SurveyResponse,
    Unit,
)
from tests import factories as f
from tests.race_support import second_while_first_open

ORPHANS = select(func.count()).select_from(SurveyResponse).where(~exists().where(
    SurveyHousehold.project_id == SurveyResponse.project_id, SurveyHousehold.survey_id == SurveyResponse.survey_id,
    SurveyHousehold.unit_id == SurveyResponse.unit_id))


def _form(session, household: SurveyHousehold | dict, **values) -> None:
    h = household if isinstance(household, dict) else {
        "project_id": household.project_id, "survey_id": household.survey_id, "unit_id": household.unit_id}
    session.execute(insert(SurveyResponse).values(**h, respondent="张伟", overall_score=4, **values))


@pytest.fixture
def campaign(session):
    """A survey of three occupied units: its households."""
    p = f.project(session)
    b = f.building(session, project_=p, name="1栋")
    for room in ("101", "102", "103"):
        f.unit(session, project_=p, building_=b, room_no=room)
    actor = Actor(user_id=None, name="主管", project_ids=frozenset({p.id}))
    survey_id = create_survey(session, project_id=p.id, title="2026年上半年业主满意度调查", actor=actor).survey_id
    return session.scalars(select(SurveyHousehold).where(SurveyHousehold.survey_id == survey_id)
                           .order_by(SurveyHousehold.unit_id)).all()


def _forms(session) -> int:
    return session.scalar(select(func.count()).select_from(SurveyResponse))


def test_a_form_without_its_household_is_refused(session, campaign):
    before = _forms(session)
    h = campaign[0]
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        _form(session, {"project_id": h.project_id, "survey_id": h.survey_id, "unit_id": h.unit_id + 1000})
    assert "fk_survey_response_project_id_survey_household" in str(caught.value) or "FOREIGN KEY" in str(caught.value)
    # a form moved onto a unit not in the campaign: the same
    _form(session, h)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(update(SurveyResponse).where(SurveyResponse.unit_id == h.unit_id)
                        .values(unit_id=h.unit_id + 1000))
    assert _forms(session) == before + 1 and session.scalar(ORPHANS) == 0


def test_a_households_delete_takes_its_forms_and_only_its_own(session, campaign):
    for h in campaign:
        _form(session, h)
    before = _forms(session)
    session.execute(delete(SurveyHousehold).where(SurveyHousehold.id == campaign[0].id))
    assert _forms(session) == before - 1
    assert session.scalar(select(SurveyResponse.unit_id).where(SurveyResponse.unit_id == campaign[0].unit_id)) is None
    tally = session.scalar(select(func.sum(SurveyAnswerTally.forms)).where(
        SurveyAnswerTally.survey_id == campaign[0].survey_id, SurveyAnswerTally.question == "overall"))
    assert tally == 2  # the deleted form's answer counted off
    # a unit's delete: its households, and their forms, with it
    session.execute(delete(Unit).where(Unit.id == campaign[1].unit_id))
    assert _forms(session) == before - 2 and session.scalar(ORPHANS) == 0


def test_a_households_key_change_may_not_leave_its_forms(session, campaign):
    answered, other = campaign[0], campaign[1]
    _form(session, answered)
    spare = f.unit(session, project_=session.get(Project, answered.project_id),
                   building_=session.scalars(select(Building).where(Building.project_id == answered.project_id)).one(),
                   room_no="104")
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(update(SurveyHousehold).where(SurveyHousehold.id == answered.id).values(unit_id=spare.id))
    session.execute(update(SurveyHousehold).where(SurveyHousehold.id == other.id).values(unit_id=spare.id))
    assert session.scalar(select(SurveyHousehold.unit_id).where(SurveyHousehold.id == answered.id)) == answered.unit_id
    assert session.scalar(select(SurveyHousehold.unit_id).where(SurveyHousehold.id == other.id)) == spare.id
    assert session.scalar(ORPHANS) == 0


# --- two transactions at once (PostgreSQL: SQLite has one writer) -------------------------------------------------
@pytest.fixture
def committed(engine):
    """A committed survey of 1栋 101 and 102 (its households), on PostgreSQL; everything it and the tests wrote
    dropped afterwards."""
    if engine.dialect.name != "postgresql":
        pytest.skip("two writers at once: PostgreSQL only")
    with Session(engine) as s, s.begin():
        marks = (s.scalar(select(func.max(AuditLog.id))) or 0, s.scalar(select(func.max(OperationLog.id))) or 0)
        p = f.project(s)
        b = f.building(s, project_=p, name="1栋")
        units = [f.unit(s, project_=p, building_=b, room_no=room) for room in ("101", "102")]
        actor = Actor(user_id=None, name="主管", project_ids=frozenset({p.id}))
        survey_id = create_survey(s, project_id=p.id, title="2026年上半年业主满意度调查", actor=actor).survey_id
        households = {u.room_no: s.scalar(select(SurveyHousehold.id).where(SurveyHousehold.unit_id == u.id))
                      for u in units}
        ids = {"project": p.id, "branch": p.branch_id, "survey": survey_id, "actor": actor, "households": households,
               "units": {u.room_no: u.id for u in units}}
    yield ids
    with Session(engine) as s, s.begin():
        s.execute(delete(SurveyHousehold).where(SurveyHousehold.survey_id == ids["survey"]))  # its forms with it
        for model in (SurveyHouseholdTally, SurveyAnswerTally):
            s.execute(delete(model).where(model.survey_id == ids["survey"]))
        s.execute(delete(Survey).where(Survey.id == ids["survey"]))
        for model in (ImportBatch, Unit, Building):
            s.execute(delete(model).where(model.project_id == ids["project"]))
        s.execute(delete(Project).where(Project.id == ids["project"]))
        s.execute(delete(Branch).where(Branch.id == ids["branch"]))
        s.execute(delete(AuditLog).where(AuditLog.id > marks[0]))
        s.execute(delete(OperationLog).where(OperationLog.id > marks[1]))


def _household(ids: dict, room: str) -> dict:
    return {"project_id": ids["project"], "survey_id": ids["survey"], "unit_id": ids["units"][room]}


def _deleted(ids: dict, room: str):
    return lambda s: s.execute(delete(SurveyHousehold).where(SurveyHousehold.id == ids["households"][room]))


def _state(engine, ids: dict) -> tuple[int, int, int]:
    """(forms, households) of the survey, and forms anywhere without their household."""
    with Session(engine) as s:
        return (s.scalar(select(func.count()).where(SurveyResponse.survey_id == ids["survey"])),
                s.scalar(select(func.count()).where(SurveyHousehold.survey_id == ids["survey"])),
                s.scalar(ORPHANS))


def test_a_form_inserted_while_its_household_is_deleted_is_refused(engine, committed):
    """The delete first: the form's insert waits for its commit, then finds no household."""
    waited, box = second_while_first_open(engine, _deleted(committed, "101"),
                                          lambda s: _form(s, _household(committed, "101")))
    assert waited
    assert isinstance(box.get("error"), IntegrityError)
    assert "fk_survey_response_project_id_survey_household" in str(box["error"])
    assert _state(engine, committed) == (0, 1, 0)


def test_under_repeatable_read_a_form_for_a_household_deleted_meanwhile_is_refused_too(engine, committed):
    """A snapshot taken before the delete's commit still shows the household: the household's own lock refuses it
    (a serialization failure) rather than the check passing on what the snapshot shows."""
    def inserted(s):
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        _form(s, _household(committed, "101"))

    waited, box = second_while_first_open(engine, _deleted(committed, "101"), inserted)
    assert waited
    assert isinstance(box.get("error"), DBAPIError)
    assert _state(engine, committed) == (0, 1, 0)


def test_a_household_deleted_while_its_form_is_inserted_takes_the_form(engine, committed):
    """The form first: the delete waits for its commit, then deletes it with the household (ON DELETE CASCADE)."""
    waited, box = second_while_first_open(engine, lambda s: _form(s, _household(committed, "101")),
                                          _deleted(committed, "101"))
    assert waited and "error" not in box
    assert _state(engine, committed) == (0, 1, 0)


def test_a_households_key_changed_while_its_form_is_inserted_is_refused(engine, committed):
    waited, box = second_while_first_open(
        engine, lambda s: _form(s, _household(committed, "101")),
        lambda s: s.execute(update(SurveyHousehold).where(SurveyHousehold.id == committed["households"]["101"])
                            .values(unit_id=committed["units"]["102"] + 1000)))
    assert waited and isinstance(box.get("error"), IntegrityError)
    assert _state(engine, committed) == (1, 2, 0)


def _workbook(*rooms: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["楼栋", "房号", "客服部", "总体满意度"])
    for room in rooms:
        ws.append(["1栋", room, 5, 4])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _imported(ids: dict):
    return lambda s: import_survey_responses(s, survey_id=ids["survey"], data=_workbook("101", "102"),
                                             file_name="问卷.xlsx", actor=ids["actor"])


def test_an_import_while_a_household_is_deleted_is_refused_in_chinese(engine, committed):
    """The import checked the file against the households as they were; the delete committed before its forms went
    in: refused, naming the room, and nothing of it written."""
    waited, box = second_while_first_open(engine, _deleted(committed, "101"), _imported(committed))
    assert waited
    error = box.get("error")
    assert isinstance(error, Refused)
    assert "1栋 101 的被调查户刚刚已被他人删除" in str(error) and "没有写入任何内容" in str(error)
    assert _state(engine, committed) == (0, 1, 0)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(ImportBatch.project_id == committed["project"])) == 0


def test_a_household_deleted_during_an_import_takes_its_form(engine, committed):
    """The import first: the delete waits for its commit (the survey's row), then deletes the household it waited
    for, with the form just imported — no deadlock on the household the import marked 已回收."""
    waited, box = second_while_first_open(engine, _imported(committed), _deleted(committed, "101"))
    assert waited and "error" not in box
    assert _state(engine, committed) == (1, 1, 0)
    with Session(engine) as s:
        assert s.scalar(select(SurveyResponse.unit_id).where(SurveyResponse.survey_id == committed["survey"])) == \
            committed["units"]["102"]


def test_a_console_form_while_its_household_is_deleted_is_refused_in_chinese(engine, committed):
    values = {"project": committed["project"], "survey": committed["survey"], "unit": committed["units"]["101"],
              "respondent": "张伟", "overall_score": 4}
    waited, box = second_while_first_open(
        engine, _deleted(committed, "101"),
        lambda s: save_record(s, SurveyResponse, None, values, actor=committed["actor"]).id)
    assert waited
    assert isinstance(box.get("error"), Refused)
    assert str(box["error"]) == "所选的被调查户不存在（可能刚被他人删除），请刷新后重试"
    assert _state(engine, committed) == (0, 1, 0)
