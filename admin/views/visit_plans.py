"""登门拜访计划 in the console: the plans per member of staff and month, their approval, and 走访统计 — plan against
done for a month and the year so far, the year's visits by kind and result with the unsolved issues."""

from __future__ import annotations

from typing import Any

from sqladmin import Flash, expose
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import scores, visit_plans
from actions.kernel.periods import period_of, today_local
from models import StaffVisitPlan, label_of

from .base import EnumFilter, OperationColumnFilter, ScopedForeignKeyFilter, ScopedModelView, ajax_refs
from .pages import GrantedPage, granted, int_param, run_action

CATEGORY = "客服工单"
APPROVE = "approve-visit-plans"


class StaffVisitPlanAdmin(ScopedModelView, model=StaffVisitPlan):
    """Drawn up by the supervisor (制定人 preset); approved on 走访统计 by the manager, never through the form."""

    category = CATEGORY
    icon = "fa-solid fa-calendar-check"
    column_list = ["id", "month", "project", "staff", "planned", "focus", "status", "approved_by", "approved_at"]
    column_searchable_list = ["month", "staff.name", "focus"]
    column_sortable_list = ["id", "month", "planned", "status", "approved_at"]
    column_default_sort = [("month", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("staff"), EnumFilter("status"),
                      OperationColumnFilter("month")]
    form_columns = ["project", "month", "staff", "planned", "focus", "planned_by"]
    form_ajax_refs = ajax_refs(StaffVisitPlan, "staff", "planned_by")
    form_default_user = ("planned_by",)

    @expose("/approve", methods=["POST"])
    async def approve_submit(self, request: Request) -> Response:
        self.require(request, f"action:{APPROVE}")
        form = await request.form()
        project, month = str(form.get("project_id", "")), str(form.get("month", ""))
        result = await run_action(self.session_maker, request, visit_plans.approve_visit_plans, month=month,
                                  project_id=int_param(project, label_of(StaffVisitPlan, "project")))
        Flash.success(request, result.message)
        url = request.url_for("admin:view-visit-stats").include_query_params(project_id=project, month=month)
        return RedirectResponse(url, status_code=303)


class VisitStatsPage(GrantedPage):
    name = "走访统计"
    icon = "fa-solid fa-chart-simple"
    category = CATEGORY
    grant = ("staff-visit-plan", "list")

    @expose("/visit-stats", methods=["GET"], identity="visit-stats")
    async def visit_stats_page(self, request: Request) -> Response:
        query = request.query_params
        month = query.get("month") or period_of(today_local())

        def load(session: Any, *, actor: Any) -> dict[str, Any]:
            projects = scores.project_choices(session, actor=actor)
            project_id = int_param(query.get("project_id"), label_of(StaffVisitPlan, "project")) or (
                projects[0].id if projects else None)
            if project_id is None:
                return {"projects": projects, "project_id": None, "progress": None, "year": None}
            progress = visit_plans.plan_progress(session, project_id=project_id, month=month, actor=actor)
            year = visit_plans.visit_year(session, year=int(progress.month[:4]), project_ids=[project_id], actor=actor)
            return {"projects": projects, "project_id": project_id, "progress": progress, "year": year}

        context = await run_action(self.session_maker, request, load)
        context.update(month=month, can_approve=granted(self, request, "staff-visit-plan", f"action:{APPROVE}"))
        return await self.templates.TemplateResponse(request, "wuye/orders/visit_stats.html", context)
