"""Views of 满意度调查: campaigns, households surveyed, answered forms, per-department scores, corrective actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from starlette.requests import Request

from models import CorrectiveAction, Survey, SurveyHousehold, SurveyResponse, SurveyScore

from .base import (
    BooleanFilter,
    EnumFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    request_actor,
)


class SurveyAdmin(ScopedModelView, model=Survey):
    category = "满意度调查"
    icon = "fa-solid fa-clipboard-list"
    column_list = ["id", "project", "title", "period", "status", "start_date", "end_date", "scale_max"]
    column_searchable_list = ["title", "period"]
    column_sortable_list = ["id", "title", "period", "status", "start_date", "end_date"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status")]
    form_columns = ["project", "title", "period", "start_date", "end_date", "status", "scale_max"]


class SurveyHouseholdAdmin(ScopedModelView, model=SurveyHousehold):
    category = "满意度调查"
    icon = "fa-solid fa-house-circle-check"
    column_list = ["id", "survey", "unit", "distributed_at", "receipt_signed", "collected"]
    column_searchable_list = ["unit.room_no"]
    column_sortable_list = ["id", "distributed_at", "receipt_signed", "collected"]
    column_default_sort = [("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        ScopedForeignKeyFilter("survey"),
        BooleanFilter("receipt_signed"),
        BooleanFilter("collected"),
    ]
    form_columns = ["survey", "unit", "distributed_at", "receipt_signed", "collected"]
    form_ajax_refs = ajax_refs(SurveyHousehold, "unit")

    async def on_model_change(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        # 被调查户 has no project field of its own: it is the survey's project (checked against the user's).
        survey = data.get("survey")
        if survey not in (None, "", "__None"):
            rows = await self._run_arbitrary_query(select(Survey.project_id).where(Survey.id == int(survey)))
            if rows:
                data["project_id"] = rows[0][0]
        await super().on_model_change(data, model, is_created, request)


class SurveyResponseAdmin(ScopedModelView, model=SurveyResponse):
    category = "满意度调查"
    icon = "fa-solid fa-file-signature"
    column_list = ["id", "survey", "unit", "respondent", "signed", "overall_score", "answered_on", "batch"]
    column_searchable_list = ["respondent", "unit.room_no", "comments"]
    column_sortable_list = ["id", "respondent", "signed", "overall_score", "answered_on"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("survey"), BooleanFilter("signed")]
    form_columns = ["project", "survey", "unit", "respondent", "signed", "answered_on", "overall_score", "comments"]
    form_ajax_refs = ajax_refs(SurveyResponse, "unit")


class SurveyScoreAdmin(ScopedModelView, model=SurveyScore):
    category = "满意度调查"
    icon = "fa-solid fa-star"
    column_list = ["id", "response", "topic", "score"]
    column_sortable_list = ["id", "topic", "score"]
    column_default_sort = [("id", True)]
    column_filters = [EnumFilter("topic")]
    form_columns = ["response", "topic", "score"]
    form_ajax_refs = ajax_refs(SurveyScore, "response")

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        # A score has no project of its own: it belongs to its form's.
        actor = request_actor(request)
        if actor.sees_all:
            return None
        forms = select(SurveyResponse.id).where(actor.project_filter(SurveyResponse.project_id))
        return SurveyScore.response_id.in_(forms)


class CorrectiveActionAdmin(ScopedModelView, model=CorrectiveAction):
    category = "满意度调查"
    icon = "fa-solid fa-list-check"
    column_list = ["id", "survey", "topic", "issue", "owner", "due_date", "status", "followed_up_at"]
    column_searchable_list = ["issue", "action"]
    column_sortable_list = ["id", "topic", "due_date", "status", "followed_up_at"]
    column_default_sort = [("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        ScopedForeignKeyFilter("survey"),
        EnumFilter("topic"),
        EnumFilter("status"),
    ]
    form_columns = ["project", "survey", "topic", "issue", "action", "owner", "due_date", "status", "followed_up_at",
                    "follow_up_note"]
    form_ajax_refs = ajax_refs(CorrectiveAction, "owner")
