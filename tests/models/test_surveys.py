"""The survey form's table keeps only the indexes its readers need (issue 17): an import writes every one of them
for each of its 100,000 forms."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from actions.actor import Actor
from actions.errors import Refused
from actions.surveys import _unit_with_forms, create_survey
from models import SurveyResponse, Unit
from tests import factories as f


def test_the_forms_indexes_lead_no_other_and_none_is_on_the_unit(session):
    """An index whose columns lead another's (``survey_id`` before the unique ``survey_id, unit_id``) answers
    nothing the other does not, and costs each imported form a write; the unit's had one reader, which goes
    through the unit's households instead."""
    found = inspect(session.connection())
    table = SurveyResponse.__tablename__
    keys = [tuple(i["column_names"]) for i in found.get_indexes(table)]
    keys += [tuple(u["column_names"]) for u in found.get_unique_constraints(table)]
    assert ("survey_id", "unit_id") in keys
    assert [k for k in keys for other in keys if k != other and other[:len(k)] == k] == []
    assert ("survey_id",) not in keys and ("unit_id",) not in keys
    # what stays: the project (the console's scope), the batch (its foreign key)
    assert {("project_id",), ("batch_id",)} <= set(keys)


def test_a_units_forms_are_found_through_its_households(session):
    """The one reader by unit — a unit's delete rule — finds a form of any of its surveys, and no other unit's."""
    project = f.project(session)
    answered, quiet = f.unit(session, project_=project), f.unit(session, project_=project)
    actor = Actor(user_id=None, name="测试", project_ids=None)
    first, second = (create_survey(session, project_id=project.id, title=t, actor=actor).survey_id
                     for t in ("2026年上半年满意度调查", "2026年下半年满意度调查"))
    session.add(SurveyResponse(project_id=project.id, survey_id=second, unit_id=answered.id, overall_score=5))
    session.flush()
    with pytest.raises(Refused, match="该房屋已有调查问卷，不能删除"):
        _unit_with_forms(session, actor, session.get(Unit, answered.id))
    _unit_with_forms(session, actor, session.get(Unit, quiet.id))  # listed in both campaigns, answered neither
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
    assert first != second
