"""巡查 in the console: routes and their checklists (edited as records), patrols recorded on one page with the
route's checklist (登记巡查), and findings made requests with a POST (转为报事)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqladmin import Flash, action, expose
from sqlalchemy import ColumnElement, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import patrols
from actions.errors import Refused
from models import (
    SHANGHAI,
    CheckResult,
    Patrol,
    PatrolCheck,
    PatrolCheckItem,
    PatrolFinding,
    PatrolRoute,
    Priority,
    RequestCategory,
    RequestKind,
    ServiceRequest,
    label_of,
)

from ..forms import EnumField, IdField, IdsField, LocalDateTimeField, PageForm, TextField
from .base import (
    BooleanFilter,
    EnumFilter,
    OperationColumnFilter,
    ReadOnlyView,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    local_datetime,
    request_actor,
)
from .pages import refusal_status, run_action, selected_pks


class RouteForm(PageForm):
    route_id = IdField(label_of(Patrol, "route"))


class PatrolForm(RouteForm):
    """登记巡查's own fields; the checklist's and the findings' rows are read beside it (``_record``)."""

    patroller_id = IdField(label_of(Patrol, "patroller"))
    started_at = LocalDateTimeField(label_of(Patrol, "started_at"), required=True)
    ended_at = LocalDateTimeField(label_of(Patrol, "ended_at"))
    summary = TextField(label_of(Patrol, "summary"))


class ReportForm(PageForm):
    finding_id = IdsField(PatrolFinding.__label__)
    kind = EnumField(RequestKind, label_of(ServiceRequest, "kind"), required=False)
    priority = EnumField(Priority, label_of(ServiceRequest, "priority"), default=Priority.NORMAL, required=False)

CATEGORY = "巡查"
FINDING_ROWS = 3  # blank finding lines on the 登记巡查 page; more are added by recording again


class PatrolRouteAdmin(ScopedModelView, model=PatrolRoute):
    category = CATEGORY
    icon = "fa-solid fa-route"
    column_list = ["id", "project", "name", "building", "frequency", "description", "active"]
    column_searchable_list = ["name", "description"]
    column_sortable_list = ["id", "name", "frequency"]
    column_default_sort = [("id", False)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("frequency"), BooleanFilter("active")]
    column_details_list = ["id", "project", "name", "building", "frequency", "description", "active", "items"]
    form_columns = ["project", "name", "building", "frequency", "description", "active"]


class PatrolCheckItemAdmin(ScopedModelView, model=PatrolCheckItem):
    category = CATEGORY
    icon = "fa-solid fa-list-check"
    column_list = ["id", "route", "seq", "item", "standard", "active"]
    column_searchable_list = ["item", "standard", "route.name"]
    column_sortable_list = ["id", "seq"]
    column_default_sort = [("route_id", False), ("seq", False)]
    column_filters = [ScopedForeignKeyFilter("route"), BooleanFilter("active")]
    form_columns = ["route", "seq", "item", "standard", "active"]
    form_ajax_refs = ajax_refs(PatrolCheckItem, "route")

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        # A checklist item has no project of its own: it belongs to its route's.
        actor = request_actor(request)
        if actor.sees_all:
            return None
        return PatrolCheckItem.route_id.in_(select(PatrolRoute.id).where(actor.project_filter(PatrolRoute.project_id)))


class PatrolAdmin(ScopedModelView, model=Patrol):
    """Recorded on 登记巡查 (the route's whole checklist at once), never through the generic form."""

    category = CATEGORY
    icon = "fa-solid fa-person-walking"
    list_template = "wuye/patrols/patrol_list.html"
    can_create = False
    can_edit = False
    column_list = ["id", "project", "route", "patroller", "started_at", "ended_at", "abnormal", "summary"]
    column_searchable_list = ["summary", "route.name", "patroller.name"]
    column_sortable_list = ["id", "started_at", "abnormal"]
    column_default_sort = [("started_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("route"),
                      ScopedForeignKeyFilter("patroller"), OperationColumnFilter("started_at")]
    column_details_list = ["id", "project", "route", "patroller", "started_at", "ended_at", "abnormal", "summary",
                           "checks", "findings", "recorded_by", "created_at"]

    @expose("/record", methods=["GET", "POST"])
    async def record_page(self, request: Request) -> Response:
        """登记巡查: choose a route, mark its checklist, note what was found."""
        self.require(request, "create")
        source = await request.form() if request.method == "POST" else request.query_params
        values = {k: str(v) for k, v in source.items() if k != "csrf_token"}
        # recorded as the round ends: 结束时间 now unless typed
        values.setdefault("ended_at", dt.datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M"))
        route_id = None
        error, status_code = "", 200
        try:
            route_id = RouteForm.read(source).route_id.data
            if request.method == "POST":
                result = await run_action(self.session_maker, request, _record, values=values)
                Flash.success(request, result.message)
                return RedirectResponse(request.url_for("admin:details", identity=self.identity, pk=result.patrol_id),
                                        status_code=303)
        except Refused as refused:
            error, status_code = refused.message, refusal_status(refused)
        form = await run_action(self.session_maker, request, patrols.patrol_form, route_id=route_id)
        return await self.templates.TemplateResponse(request, "wuye/patrols/record.html", {
            "title": "登记巡查", "form": form, "values": values, "error": error, "results": CheckResult.choices(),
            "categories": RequestCategory.choices(), "finding_rows": range(1, FINDING_ROWS + 1),
            "labels": {k: label_of(Patrol, k) for k in ("route", "patroller", "started_at", "ended_at", "summary")},
        }, status_code=status_code)


def _checklist(items: Any) -> type[PageForm]:
    """A route's checklist as fields: one result per item, named by its number and item."""
    return type("ChecklistForm", (PageForm,), {
        f"result_{item.id}": EnumField(CheckResult, f"{item.seq}.{item.item}", required=False) for item in items})


# The blank finding lines of the page: which item it concerns and its category, per line.
FindingsForm = type("FindingsForm", (PageForm,), {
    name: field for n in range(1, FINDING_ROWS + 1) for name, field in (
        (f"finding_item_{n}", IdField(label_of(PatrolFinding, "item"))),
        (f"finding_category_{n}", EnumField(RequestCategory, label_of(PatrolFinding, "category"),
                                            default=RequestCategory.OTHER, required=False)))})


def _record(session: Any, *, values: dict[str, str], actor: Any) -> patrols.PatrolResult:
    """The 登记巡查 form read into the action's arguments (a field refused by its label) and recorded."""
    fields = PatrolForm.read(values)
    form = patrols.patrol_form(session, route_id=fields.route_id.data, actor=actor)
    checks = _checklist(form.items).read(values).data
    results = {item.id: patrols.CheckInput(checks[f"result_{item.id}"], values.get(f"note_{item.id}", ""))
               for item in form.items if checks[f"result_{item.id}"]}  # one left blank: the action names it
    rows = FindingsForm.read(values).data
    findings = [
        patrols.FindingInput(
            description=text, location=values.get(f"finding_location_{n}", ""), unit=values.get(f"finding_unit_{n}", ""),
            item_id=rows[f"finding_item_{n}"], category=rows[f"finding_category_{n}"],
            resolved=values.get(f"finding_resolved_{n}") == "1")
        for n in range(1, FINDING_ROWS + 1) if (text := values.get(f"finding_{n}", "").strip())
    ]
    return patrols.record_patrol(
        session, route_id=form.route.id if form.route else None, patroller_id=fields.patroller_id.data,
        started_at=fields.started_at.data, ended_at=fields.ended_at.data, results=results, findings=findings,
        summary=fields.summary.data, actor=actor)


class PatrolCheckAdmin(ReadOnlyView, model=PatrolCheck):
    category = CATEGORY
    icon = "fa-solid fa-clipboard-check"
    audited = True
    column_list = ["id", "patrol", "item", "result", "note"]
    column_searchable_list = ["note", "item.item"]
    column_sortable_list = ["id", "result"]
    column_default_sort = [("id", True)]
    column_filters = [EnumFilter("result"), ScopedForeignKeyFilter("patrol")]

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        # A result has no project of its own: it belongs to its patrol's.
        actor = request_actor(request)
        if actor.sees_all:
            return None
        return PatrolCheck.patrol_id.in_(select(Patrol.id).where(actor.project_filter(Patrol.project_id)))


class PatrolFindingAdmin(ScopedModelView, model=PatrolFinding):
    """Written with its patrol; 转为报事 makes it a request (its status follows); a wrong one is deleted."""

    category = CATEGORY
    icon = "fa-solid fa-triangle-exclamation"
    can_create = False
    can_edit = False
    column_list = ["id", "project", "patrol", "unit", "location", "category", "description", "status", "request"]
    column_searchable_list = ["description", "location"]
    column_sortable_list = ["id", "status", "category", "created_at"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), EnumFilter("category")]
    column_details_list = ["id", "project", "patrol", "item", "unit", "location", "category", "description",
                           "status", "request", "created_at"]
    column_formatters = {"created_at": lambda m, a: local_datetime(m.created_at)}

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        if obj.request_id is None:
            return []
        return [(f"报事单 #{obj.request_id}",
                 str(request.url_for("admin:details", identity="service-request", pk=obj.request_id)))]

    @action("report-finding", label="转为报事")
    async def report_form(self, request: Request) -> Response:
        ids = [row.id for row in await self.scoped_targets(request, selected_pks(request))]
        rows = await self._run_query(self.list_query(request).where(PatrolFinding.id.in_(ids)))  # units shown
        return await self.templates.TemplateResponse(request, "wuye/patrols/report.html", {
            "title": "巡查发现转为报事", "findings": rows, "kinds": RequestKind.choices(),
            "priorities": Priority.choices()})

    @expose("/report", methods=["POST"])
    async def report_submit(self, request: Request) -> Response:
        """报事: each finding chosen becomes a 客户诉求 (渠道 巡查), one transaction for all."""
        self.require(request, "action:report-finding")
        fields = ReportForm.read(await request.form())
        ids = fields.finding_id.data

        def report(session: Any, *, actor: Any) -> list[patrols.FindingReport]:
            return [patrols.report_finding(session, finding_id=i, kind=fields.kind.data, priority=fields.priority.data,
                                           actor=actor) for i in ids]

        if not ids:
            raise Refused("请先选择巡查发现")
        done = await run_action(self.session_maker, request, report)
        for result in done:
            Flash.success(request, result.message)
        target = (request.url_for("admin:details", identity=self.identity, pk=ids[0]) if len(ids) == 1
                  else request.url_for("admin:list", identity=self.identity))
        return RedirectResponse(target, status_code=303)
