"""登门拜访计划 in the console: the plans per member of staff and month, their approval, and 走访统计 — plan against
done for a month and the year so far, the year's visits by kind and result with the unsolved issues."""

from __future__ import annotations

from typing import Any

from sqladmin import Flash, expose
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import scores, visit_plans
from actions.errors import Refused
from actions.kernel.periods import period_of, today_local
from models import StaffVisitPlan, VisitSignoff, label_of

from .base import (
    EnumFilter,
    OperationColumnFilter,
    ReadOnlyView,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    local_datetime,
)
from .pages import XLSX, GrantedPage, attachment, granted, ids_param, int_param, run_action

CATEGORY = "客服工单"
APPROVE = "approve-visit-plans"
SIGN = "action:sign-visits"  # on the 回访走访 view: 主管、经理签阅走访记录


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
        result = await run_action(self.session_maker, request, visit_plans.sign_off_visits,
                                  visit_ids=[i for v in form.getlist("visit_id") for i in ids_param(v)],
                                  comment=str(form.get("comment", "")))
        Flash.success(request, result.message)
        url = request.url_for("admin:view-visit-stats").include_query_params(
            project_id=str(form.get("project_id", "")), month=str(form.get("month", "")))
        return RedirectResponse(url, status_code=303)

    @expose("/visit-stats/export", methods=["GET"], identity="visit-stats-export")
    async def export_year(self, request: Request) -> Response:
        """年终分类统计 as .xlsx, to report upward."""
        if not granted(self, request, "visit", "export"):
            raise HTTPException(status_code=403, detail="没有导出走访统计的权限")
        query = request.query_params
        project_id = int_param(query.get("project_id"), label_of(StaffVisitPlan, "project"))
        year = int_param(query.get("year"), "年份")
        if year is None or not 2000 <= year <= 2100:
            raise Refused(f"年份无效：{query.get('year', '')}")
        result = await run_action(self.session_maker, request, visit_plans.export_visit_year, year=year,
                                  project_ids=[project_id] if project_id else None)
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
