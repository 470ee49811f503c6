"""月度报告 and 月结 (models/reports.py): the monthly report of a project or a branch, its print view and .xlsx,
and the month close — a GET shows what would be closed, the POST (CSRF token, ``action:close-month`` on
``month-snapshot``) closes it. A closed project's report shows its figures as reported and, beside them,
what has changed since."""

from __future__ import annotations

from typing import Any

from sqladmin import Flash, expose
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import kpis, month_close, monthly_report
from actions.errors import Refused
from actions.kernel.periods import add_months, current_period
from models import utcnow

from ..forms import MonthField
from .dashboard import HOME, ICON, ScopeForm, branches_of, page, read_at_once
from .jobs import may_export, report_export, start_report
from .pages import GrantedPage, refusal_status, run_action


class ReportForm(ScopeForm):
    month = MonthField("月份", default=lambda: add_months(current_period(), -1))

CLOSE = "action:close-month"


def _shown_and_choices(session: Any, *, actor: Any, **params: Any) -> tuple[Any, Any]:
    """The report as shown (a closed month as reported unless ``live``) and the projects the pickers offer."""
    return monthly_report.shown_report(session, actor=actor, **params), kpis.resolve_scope(session, actor=actor).projects


def _report_params(source: Any) -> dict[str, Any]:
    """month, project_ids, branch_id from the query or the form; the month defaults to last month."""
    form = ReportForm.read(source)
    return {"month": form.month.data, "branch_id": form.branch_id.data,
            "project_ids": [form.project_id.data] if form.project_id.data is not None else None}


@report_export("monthly-report", "月度报告", grant=("month-snapshot", "export"))
def monthly_report_file(session: Any, actor: Any, query: Any) -> tuple[bytes, str]:
    result = monthly_report.export_monthly_report(session, actor=actor, live=query.get("live") == "1",
                                                  **_report_params(query))
    return result.content, result.filename


class ReportPage(GrantedPage):
    name = "月度报告"
    icon = "fa-solid fa-file-lines"
    category = HOME
    category_icon = ICON
    grant = ("month-snapshot", "list")

    def _params(self, source: Any) -> dict[str, Any]:
        return _report_params(source)

    def _query(self, params: dict[str, Any]) -> dict[str, str]:
        return {"month": params["month"], "project_id": str(params["project_ids"][0]) if params["project_ids"] else "",
                "branch_id": str(params["branch_id"] or "")}

    async def _render(self, request: Request, template: str) -> Response:
        live = request.query_params.get("live") == "1"
        params = self._params(request.query_params)
        shown, choices = await read_at_once(self, request, _shown_and_choices, live=live, **params)
        report = shown.report
        return await page(
            self, request, template, title=report.title, report=report, tables=shown.tables,
            closures=shown.closures, closure=shown.closure, live=live, values=self._query(params), choices=choices,
            branches=branches_of(choices), can_export=may_export(self, request, "monthly-report"),
            can_close=self.has_permission(request, CLOSE), month_over=kpis.parse_month(report.month).end <= utcnow(),
        )

    @expose("/dashboard/report", methods=["GET"], identity="monthly-report")
    async def report_page(self, request: Request) -> Response:
        return await self._render(request, "report.html")

    @expose("/dashboard/report/print", methods=["GET"], identity="monthly-report-print")
    async def print_page(self, request: Request) -> Response:
        return await self._render(request, "report_print.html")

    @expose("/dashboard/report/xlsx", methods=["GET", "POST"], identity="monthly-report-xlsx")
    async def xlsx(self, request: Request) -> Response:
        return await start_report(self, request, "monthly-report",
                                  request.url_for("admin:view-monthly-report").replace(query=request.url.query))

    @expose("/dashboard/report/close", methods=["GET", "POST"], identity="month-close")
    async def close(self, request: Request) -> Response:
        """GET: what closing would freeze (a dry run). POST: close."""
        if not self.has_permission(request, CLOSE):  # explicit: a POST here writes (A02)
            raise HTTPException(status_code=403, detail="没有月结的权限")
        closing = request.method == "POST"
        source = await request.form() if closing else request.query_params
        params: dict[str, Any] = {"month": str(source.get("month") or ""), "project_ids": None, "branch_id": None}
        try:
            params = self._params(source)
            result = await run_action(self.session_maker, request, month_close.close_month, dry_run=not closing,
                                      **params)
        except Refused as refused:
            return await page(self, request, "close.html", status_code=refusal_status(refused), title="月结",
                              error=refused.message, values=self._query(params))
        if closing:
            Flash.success(request, result.message)
            url = request.url_for("admin:view-monthly-report").include_query_params(**self._query(params))
            return RedirectResponse(url, status_code=303)
        return await page(self, request, "close.html", title="月结", result=result, values=self._query(params))
