"""Views of 满意度调查: campaigns, households surveyed, answered forms, per-department scores, corrective actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqladmin import Flash, action, expose
from sqlalchemy import ColumnElement, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import surveys
from models import (
    SCORE_COLUMNS,
    SHANGHAI,
    CorrectiveAction,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyScore,
    label_of,
)

from ..forms import DateField, PageForm
from .base import (
    BooleanFilter,
    EnumFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
)
from .drill import DrillFilter
from .pages import request_actor, run_action, selected_pks


class DistributeForm(PageForm):
    distributed_on = DateField(label_of(SurveyHousehold, "distributed_at"), required=True)


class SurveyAdmin(ScopedModelView, model=Survey):
    category = "满意度调查"
    icon = "fa-solid fa-clipboard-list"
    column_list = ["id", "project", "title", "period", "status", "start_date", "end_date", "scale_max"]
    column_searchable_list = ["title", "period"]
    column_sortable_list = ["id", "title", "period", "status", "start_date", "end_date"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status")]
    form_columns = ["project", "title", "period", "start_date", "end_date", "status", "scale_max"]
    # A new campaign has distributed nothing yet: it starts 筹备中, and 登记问卷发放 moves it on (actions/surveys.py).
    form_create_rules = [c for c in form_columns if c != "status"]

    @action("import-responses", label="导入问卷", add_in_list=False, add_in_detail=True)
    async def import_responses(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request)[:1])
        url = request.url_for("admin:view-import").include_query_params(kind="surveys", survey_id=rows[0].id)
        return RedirectResponse(url, status_code=302)

    @action("survey-results", label="调查结果", add_in_list=False, add_in_detail=True)
    async def show_results(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request)[:1])
        return RedirectResponse(request.url_for("admin:view-survey-results", survey_id=rows[0].id), status_code=302)


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
        DrillFilter(),
    ]
    form_columns = ["survey", "unit", "distributed_at", "receipt_signed", "collected"]
    form_ajax_refs = ajax_refs(SurveyHousehold, "unit")

    @action("distribute", label="登记问卷发放")
    async def distribute_form(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request))
        return await self.templates.TemplateResponse(request, "wuye/surveys/distribute.html", {
            "title": "登记问卷发放", "rows": rows, "pks": ",".join(str(r.id) for r in rows),
            "today": dt.datetime.now(SHANGHAI).date().isoformat(),
        })

    @expose("/distribute", methods=["POST"])
    async def distribute(self, request: Request) -> Response:
        """问卷发放 against the 文件签收单: the selected households, by survey (actions/surveys.py)."""
        self.require(request, "action:distribute")
        form = await request.form()
        rows = await self.scoped_targets(request, str(form.get("pks", "")).split(","))
        day = DistributeForm.read(form).distributed_on.data
        by_survey: dict[int, list[int]] = {}
        for row in rows:
            by_survey.setdefault(row.survey_id, []).append(row.unit_id)
        done = [await run_action(self.session_maker, request, surveys.record_distribution, survey_id=survey_id,
                                 unit_ids=unit_ids, distributed_on=day, receipt_signed=form.get("receipt_signed") == "1")
                for survey_id, unit_ids in by_survey.items()]
        Flash.success(request, "；".join(result.message for result in done))
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), status_code=303)

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
    column_details_exclude_list = ["scores"]  # the department scores are the form's own columns
    column_searchable_list = ["respondent", "unit.room_no", "comments"]
    column_sortable_list = ["id", "respondent", "signed", "overall_score", "answered_on"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("survey"), BooleanFilter("signed"),
                      DrillFilter()]
    form_columns = ["project", "survey", "unit", "respondent", "signed", "answered_on", *SCORE_COLUMNS.values(),
                    "overall_score", "comments"]
    form_ajax_refs = ajax_refs(SurveyResponse, "unit")


class SurveyScoreAdmin(ScopedModelView, model=SurveyScore):
    """The answers as a list (what 答题数 / 满意及以上 count); a score is edited on its form."""

    category = "满意度调查"
    icon = "fa-solid fa-star"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "response", "topic", "score"]
    column_sortable_list = ["id", "topic", "score"]
    column_default_sort = [("id", True)]
    column_filters = [EnumFilter("topic"), DrillFilter()]

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
    # 状态 and 回访 move only by 完成整改 / 回访 (actions/surveys.py), which check their order.
    form_columns = ["project", "survey", "topic", "issue", "action", "owner", "due_date"]
    form_ajax_refs = ajax_refs(CorrectiveAction, "owner")
