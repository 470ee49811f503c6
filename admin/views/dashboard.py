"""首页看板 (the console's index: ``install_home`` puts it in place of sqladmin's empty one) and 指标趋势 (12-month
charts). Every logged-in user gets them, over their own projects; the figures come from ``actions.dashboard``
and every figure links to the list of its records (``drill.DrillFilter``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqladmin import BaseView, expose
from sqladmin.helpers import slugify_class_name
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actions import billing, dashboard, kpis, parallel_reads, workbench
from actions.errors import Refused
from actions.kernel import money
from models import SurveyTopic

from ..auth import csrf_token
from ..forms import IdField, PageForm
from .base import local_datetime
from .drill import drill_url
from .pages import refusal_status, run_action

HOME = "首页看板"
ICON = "fa-solid fa-gauge-high"


class DashboardView(BaseView):
    """Open to every logged-in user: what it shows is limited to the user's projects by the actions."""

    category = HOME
    category_icon = ICON

    def is_accessible(self, request: Request) -> bool:
        return True

    @property
    def session_maker(self) -> Any:
        return self._admin_ref.session_maker


async def read_at_once(view: Any, request: Request, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """``fn(session, actor=…, run=…, **kwargs)``: its independent reads run at once (``parallel_reads``)."""

    def load(session: Any, *, actor: Any) -> Any:
        return fn(session, actor=actor, run=parallel_reads.runner(view.session_maker, actor, session), **kwargs)

    return await run_action(view.session_maker, request, load)


class ScopeForm(PageForm):
    """Whose figures: one project, one branch, or (neither) all the user sees — the figures' own refusal
    names a project not the user's."""

    project_id = IdField("项目")
    branch_id = IdField("分公司")


def scope_params(request: Request) -> dict[str, Any]:
    return ScopeForm.read(request.query_params).data


def branches_of(choices: tuple[kpis.ProjectRef, ...]) -> list[tuple[int, str]]:
    return list(dict.fromkeys((p.branch_id, p.branch) for p in choices))


async def page(view: BaseView, request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("local", local_datetime)
    context.setdefault("drill_url", lambda drill: drill_url(request, drill))
    context.setdefault("record_url", lambda record: str(request.url_for(
        "admin:details", identity=slugify_class_name(record[0]), pk=record[1])))
    context.setdefault("money", lambda amount: f"{amount:,.2f}")
    context.setdefault("figure", money.grouped)
    context.setdefault("catalogue", kpis.CATALOGUE)
    return await view.templates.TemplateResponse(request, f"wuye/dashboard/{template}", context,
                                                 status_code=status_code)


def kpi_chart(figures: kpis.KpiFigures, month: str) -> dict[str, Any]:
    """The chosen month's KPIs per project as bars, the targets as marks (dashboard.js draws it)."""
    return {
        "kind": "bars",
        "title": f"{month} 各项目指标完成值（%）",
        "categories": [k.name for k in kpis.CATALOGUE],
        "targets": [None if k.target is None else float(k.target) for k in kpis.CATALOGUE],
        "series": [
            {"name": p.name, "values": [_rate(figures.get(k.key, p.id, month)) for k in kpis.CATALOGUE]}
            for p in figures.projects
        ],
    }


def trend_charts(figures: kpis.KpiFigures) -> list[dict[str, Any]]:
    """One line chart per KPI: each project and, with several, their total, over the months."""
    rows = [(p.name, p.id) for p in figures.projects]
    if len(rows) > 1:
        rows.append(("合计", None))
    return [
        {
            "kind": "lines",
            "id": k.key,
            "title": f"{k.name}（%）",
            "categories": list(figures.months),
            "target": None if k.target is None else float(k.target),
            "series": [{"name": name, "values": [_rate(figures.get(k.key, pid, m)) for m in figures.months],
                        "total": pid is None} for name, pid in rows],
        }
        for k in kpis.CATALOGUE
    ]


def _rate(figure: kpis.Figure) -> float | None:
    """The rate as the tables show it, so a bar never reads 88.8 above a table's 88.7; None: a gap."""
    rate = figure.rate
    return None if rate is None else float(rate)


class HomePage(DashboardView):
    name = "首页"
    icon = "fa-solid fa-house"

    @expose("/dashboard", methods=["GET"], identity="dashboard")
    async def home(self, request: Request) -> Response:
        context: dict[str, Any] = {}
        status_code = 200
        try:
            home = await read_at_once(self, request, dashboard.home_page,
                                      month=request.query_params.get("month") or None, **scope_params(request))
        except Refused as refused:
            context["error"], status_code = refused.message, refusal_status(refused)
            home = await read_at_once(self, request, dashboard.home_page)
        project = home.scope.project_ids[0] if len(home.scope.projects) == 1 else None
        granted = self._authorization_backend().has_permission
        held = {g for g in workbench.GRANTS.values() if g is not None and granted(request, *g)}
        desk = await run_action(self.session_maker, request, workbench.workbench, scope=home.scope,
                                may=lambda identity, needed: (identity, needed) in held,
                                kpis=home.kpis, kpi_month=home.chosen_month)
        arrears = request.url_for("admin:view-arrears") if granted(request, "bill", "list") else None
        report = request.url_for("admin:view-monthly-report").include_query_params(
            month=home.chosen_month, **{k: v for k, v in request.query_params.items() if k in ("project_id", "branch_id")}
        ) if granted(request, "month-snapshot", "list") else None
        return await page(
            self, request, "home.html", status_code=status_code, title=HOME, home=home, desk=desk,
            arrears_url=arrears.include_query_params(project_id=project) if arrears and project else arrears,
            report_url=report,
            branches=branches_of(home.choices), chart=kpi_chart(home.kpis, home.chosen_month),
            aging=billing.AGING_LABELS, topics=list(SurveyTopic), **context,
        )


class SessionPing(DashboardView):
    """登录状态: session.js asks it before a form is sent and when the user chooses to stay; answering it counts as
    activity (the idle clock restarts). Not in the menu."""

    name = "登录状态"
    icon = "fa-solid fa-clock"

    def is_visible(self, request: Request) -> bool:
        return False

    @expose("/session/ping", methods=["GET"], identity="session-ping")
    async def ping(self, request: Request) -> Response:
        clock = self._admin_ref.authentication_backend.session_clock(request)
        return JSONResponse({"ok": True, "csrf": csrf_token(request), **json.loads(clock or "{}")})


class TrendsPage(DashboardView):
    name = "指标趋势"
    icon = "fa-solid fa-chart-line"

    @expose("/dashboard/trends", methods=["GET"], identity="dashboard-trends")
    async def trends(self, request: Request) -> Response:
        query = request.query_params
        context: dict[str, Any] = {}
        status_code = 200
        try:
            params = {"month": query.get("month") or None, **scope_params(request)}
            figures = await read_at_once(self, request, dashboard.trends, **params)
        except Refused as refused:
            context["error"], status_code = refused.message, refusal_status(refused)
            figures = await read_at_once(self, request, dashboard.trends)
        choices = await run_action(self.session_maker, request,
                                   lambda session, actor: kpis.resolve_scope(session, actor=actor).projects)
        return await page(
            self, request, "trends.html", status_code=status_code, title="指标趋势（近12个月）", figures=figures,
            charts=trend_charts(figures), choices=choices, branches=branches_of(choices),
            values={k: query.get(k, "") for k in ("month", "project_id", "branch_id")}, **context,
        )


def install_home(admin: Any) -> None:
    """The console's index (``/admin/``, ``admin:index``) shows the home page instead of sqladmin's blank one."""
    view = next(v for v in admin.views if isinstance(v, HomePage))
    routes = admin.admin.router.routes
    for i, route in enumerate(routes):
        if getattr(route, "name", None) == "index":
            routes[i] = Route(route.path, endpoint=view.home, name="index")
