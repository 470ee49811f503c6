"""登门拜访计划 in the console: the plans per member of staff and month, their approval, and 走访统计 — plan against
done for a month and the year so far, the year's visits by kind and result with the unsolved issues."""

from __future__ import annotations

from typing import Any

from sqladmin import Flash, expose
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import scores, visit_plans
from actions.kernel.periods import period_of, today_local
from models import StaffVisitPlan, VisitSignoff, label_of
from models.db import read_first

from ..forms import IdField, IdsField, MonthField, PageForm, ProjectField, TextField
from .base import (
    EnumFilter,
    OperationColumnFilter,
    ReadOnlyView,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    local_datetime,
)
from .pages import (
    XLSX,
    GrantedPage,
    asks_export,
    attachment,
    confirm_export,
    granted,
    request_actor,
    run_action,
)

CATEGORY = "客服工单"
PROJECT = label_of(StaffVisitPlan, "project")


class MonthForm(PageForm):
    """A project's month (the project's first one the user sees when none is chosen)."""

    project_id = ProjectField(PROJECT)
    month = MonthField(label_of(StaffVisitPlan, "month"), default=lambda: period_of(today_local()))


class SignForm(PageForm):
    visit_id = IdsField(label_of(VisitSignoff, "visit"))
    comment = TextField(label_of(VisitSignoff, "comment"))


class YearForm(PageForm):
    project_id = ProjectField(PROJECT)
    year = IdField("年份", required=True, between=(2000, 2100))
APPROVE = "approve-visit-plans"
SIGN = "action:sign-visits"  # on the 回访走访 view: 主管、经理签阅走访记录


class StaffVisitPlanAdmin(ScopedModelView, model=StaffVisitPlan):
    """Drawn up by the supervisor (制定人: whoever saves it); approved on 走访统计 by another leader, never through the
    form."""

    category = CATEGORY
    icon = "fa-solid fa-calendar-check"
    column_list = ["id", "month", "project", "staff", "planned", "focus", "status", "approved_by", "approved_at"]
    column_searchable_list = ["month", "staff.name", "focus"]
    column_sortable_list = ["id", "month", "planned", "status", "approved_at"]
    column_default_sort = [("month", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("staff"), EnumFilter("status"),
                      OperationColumnFilter("month")]
    form_columns = ["project", "month", "staff", "planned", "focus"]  # 制定人: whoever saves it (the plan's rule)
    form_ajax_refs = ajax_refs(StaffVisitPlan, "staff")
    form_typed_months = ("month",)  # stored as YYYY-MM by the plan's rule (actions/visit_plans.py)

    @expose("/approve", methods=["POST"])
    async def approve_submit(self, request: Request) -> Response:
        self.require(request, f"action:{APPROVE}")
        fields = MonthForm.read(await request.form(), actor=request_actor(request))
        result = await run_action(self.session_maker, request, visit_plans.approve_visit_plans, **fields.data)
        Flash.success(request, result.message)
        url = request.url_for("admin:view-visit-stats").include_query_params(
            project_id=fields.project_id.data or "", month=fields.month.data)
        return RedirectResponse(url, status_code=303)


class VisitStatsPage(GrantedPage):
    name = "走访统计"
    icon = "fa-solid fa-chart-simple"
    category = CATEGORY
    grant = ("staff-visit-plan", "list")

    @expose("/visit-stats", methods=["GET"], identity="visit-stats")
    async def visit_stats_page(self, request: Request) -> Response:
        fields = MonthForm.read(request.query_params, actor=request_actor(request))
        month = fields.month.data

        def load(session: Any, *, actor: Any) -> dict[str, Any]:
            projects = scores.project_choices(session, actor=actor)
            project_id = fields.project_id.data or (projects[0].id if projects else None)
            if project_id is None:
                return {"projects": projects, "project_id": None, "progress": None, "year": None, "unsigned": None}
            progress = visit_plans.plan_progress(session, project_id=project_id, month=month, actor=actor)
            year = visit_plans.visit_year(session, year=int(progress.month[:4]), project_ids=[project_id], actor=actor)
            unsigned = visit_plans.unsigned_visits(session, project_id=project_id, month=progress.month, actor=actor)
            return {"projects": projects, "project_id": project_id, "progress": progress, "year": year,
                    "unsigned": unsigned}

        context = await run_action(self.session_maker, request, load)
        context.update(month=month, can_approve=granted(self, request, "staff-visit-plan", f"action:{APPROVE}"),
                       can_sign=granted(self, request, "visit", SIGN),
                       can_export=granted(self, request, "visit", "export"), local=local_datetime)
        return await self.templates.TemplateResponse(request, "wuye/orders/visit_stats.html", context)

    @expose("/visit-stats/sign", methods=["POST"], identity="visit-stats-sign")
    async def sign_submit(self, request: Request) -> Response:
        """签阅: the ticked visit records of the month, with the remark."""
        if not granted(self, request, "visit", SIGN):
            raise HTTPException(status_code=403, detail="没有签阅走访记录的权限")
        form = await request.form()
        fields = SignForm.read(form)
        result = await run_action(self.session_maker, request, visit_plans.sign_off_visits,
                                  visit_ids=fields.visit_id.data, comment=fields.comment.data)
        Flash.success(request, result.message)
        url = request.url_for("admin:view-visit-stats").include_query_params(
            project_id=str(form.get("project_id", "")), month=str(form.get("month", "")))
        return RedirectResponse(url, status_code=303)

    @expose("/visit-stats/export", methods=["GET", "POST"], identity="visit-stats-export")
    async def export_year(self, request: Request) -> Response:
        """年终分类统计 as .xlsx, to report upward."""
        if not granted(self, request, "visit", "export"):
            raise HTTPException(status_code=403, detail="没有导出走访统计的权限")
        fields = YearForm.read(request.query_params, actor=request_actor(request))
        project_id = fields.project_id.data
        if not asks_export(request):
            back = request.url_for("admin:view-visit-stats").include_query_params(project_id=project_id or "")
            return await confirm_export(self, request, "导出走访年终统计", back)
        with read_first():  # a year of visits read, one audit row written
            result = await run_action(self.session_maker, request, visit_plans.export_visit_year,
                                      year=fields.year.data, project_ids=[project_id] if project_id else None)
        return Response(result.content, media_type=XLSX, headers={"content-disposition": attachment(result.filename)})


class VisitSignoffAdmin(ReadOnlyView, model=VisitSignoff):
    """Signed on 走访统计 (签阅), listed and exported here."""

    category = CATEGORY
    icon = "fa-solid fa-signature"
    audited = True
    column_list = ["id", "project", "visit", "signed_by", "signed_at", "comment"]
    column_searchable_list = ["comment"]
    column_sortable_list = ["id", "signed_at"]
    column_default_sort = [("signed_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), OperationColumnFilter("signed_at")]
