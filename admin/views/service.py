"""Views of 客服工单: service requests, work orders, callbacks and visits, SLA and routing rules — and the
pages of issue 3: 受理诉求 (intake), 派工 (dispatch), the work-order lifecycle (接单/转派/完工/回访/关闭),
待回访, 走访计划, 部门日报 and 投诉统计.

A GET only shows a form or a preview; every change is a POST with the CSRF token, checked against the
action's grant explicitly (``@expose`` checks nothing but access), and made by an action in actions/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape
from sqladmin import Flash, action, expose
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import billing, complaints, slips, timeline, units, visits, work_orders
from actions import requests as intake
from actions.errors import Refused
from actions.form_tokens import new_form_token
from actions.kernel.periods import add_months, current_period
from models import (
    SHANGHAI,
    Channel,
    ComplaintValidity,
    Priority,
    RequestCategory,
    RequestKind,
    RoutingRule,
    Satisfaction,
    ServiceRequest,
    SlaRule,
    Visit,
    VisitWay,
    WorkOrder,
    WorkOrderStatus,
    label_of,
    utcnow,
)

from ..forms import (
    DateField,
    DecimalField,
    EnumField,
    FlagField,
    IdField,
    IdsField,
    LocalDateTimeField,
    MonthField,
    PageForm,
    PageNumberField,
    ProjectField,
    TextField,
    VersionField,
    VersionsField,
)
from . import listing
from .base import (
    ALL,
    ALL_LABEL,
    DETAIL_OBJ_STATE,
    WUYE_FORMATTERS,
    BooleanFilter,
    EnumFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    local_datetime,
)
from .drill import DrillFilter
from .jobs import may_export, report_export, start_report
from .pages import (
    GrantedPage,
    TextStep,
    granted,
    refusal_status,
    request_actor,
    run_action,
    selected_pks,
)
from .slips import print_url, slip_page

SERVICE = "客服工单"


async def _page(view: Any, request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("local", local_datetime)
    return await view.templates.TemplateResponse(request, f"wuye/orders/{template}", context, status_code=status_code)


def _local_input(value: dt.datetime | None) -> str:
    """A timestamp as a datetime-local field's value (Beijing time)."""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if value else ""


class SlaFilter:
    """时限 filter: 已超时 / 即将到期 open orders by their next deadline (actions.work_orders) — the list marks it on
    its own column, 响应时限 or 完成时限."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    title = "时限"
    parameter_name = "sla"

    def bind(self, model: type) -> None:
        pass

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        return [(ALL, ALL_LABEL), *work_orders.SLA_LABELS.items()]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        clause = {"overdue": work_orders.overdue_clause, "due_soon": work_orders.due_soon_clause}.get(value)
        return query if clause is None else query.where(clause(utcnow()))


def _shown_if(applies: Callable[[Any], bool]) -> Callable[[Any, Any], Any]:
    """A detail formatter showing a field only on the orders it means something on; the others show a dash."""
    def shown(order: Any, name: Any) -> Any:
        if not applies(order):
            return "—"
        value = getattr(order, name)
        formatter = WUYE_FORMATTERS.get(type(value))
        return formatter(value) if formatter else value
    return shown


# 报价/收费 on 有偿服务 only (not 0.00 on every free repair); 取消时间/撤销原因 on a withdrawn order only
_paid_service_only = _shown_if(lambda order: order.paid_service)
_cancelled_only = _shown_if(lambda order: order.status is WorkOrderStatus.CANCELLED)


def _deadline_formatter(attr: str):
    """The deadline in Beijing time, marked 已超时 / 即将到期 by that deadline while the order is open."""

    def fmt(order: Any, _name: Any) -> Markup:
        value = getattr(order, attr)
        text = escape(local_datetime(value)) if value else Markup("")
        state = work_orders.deadline_state(order, attr)
        if state is None:
            return text
        css = "wuye-overdue" if state == "overdue" else "wuye-due-soon"
        return Markup('<span class="{}">{} {}</span>').format(css, text, work_orders.SLA_LABELS[state])

    return fmt


class ServiceRequestAdmin(ScopedModelView, model=ServiceRequest):
    category = "客服工单"
    icon = "fa-solid fa-phone"
    column_list = ["id", "received_at", "kind", "category", "unit", "contact_name", "status", "first_staff", "repeat_of"]
    target_loads = ("work_orders",)  # 撤销诉求's page: is its 派工单 done?
    column_searchable_list = ["contact_name", "contact_phone", "unit.room_no"]
    column_sortable_list = ["id", "received_at", "kind", "category", "priority", "status", "closed_at"]
    column_default_sort = [("received_at", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("status", where=ServiceRequest.status_in),
        EnumFilter("kind"),
        EnumFilter("category"),
        EnumFilter("channel"),
        EnumFilter("priority"),
        EnumFilter("complaint_validity"),
        BooleanFilter("complaint_major"),
        DrillFilter(),
    ]
    # 有效投诉 and 评定扣分 are the supervisor's judgement (判定投诉 below), not the intake form's.
    # 状态 and 办结时间 move only with 派工 and the work order's 关闭 (actions/work_orders.py): not in the form,
    # so a posted value is ignored.
    form_columns = [
        "project", "channel", "kind", "category", "priority", "unit", "customer", "contact_name",
        "contact_phone", "content", "received_at", "receiver", "first_staff", "repeat_of", "complaint_major",
        "complained_staff", "praised_staff", "special_service", "reply",
    ]
    form_ajax_refs = ajax_refs(
        ServiceRequest, "unit", "customer", "receiver", "first_staff", "repeat_of", "complained_staff", "praised_staff",
        "special_service",
    )

    @action("judge-complaint", label="判定投诉")
    async def judge_form(self, request: Request) -> Response:
        (row,) = await self.scoped_targets(request, selected_pks(request)[:1])
        values = {"validity": (row.complaint_validity or ComplaintValidity.PENDING).value,
                  "points": f"{-row.complaint_points:f}" if row.complaint_points is not None else "",
                  "version": str(row.version)}
        # a 报修, 咨询 …: said at once, not after the judgement is chosen
        return await self._judge_page(request, row, values, closed=complaints.judge_refusal(row))

    @expose("/judge-complaint", methods=["POST"])
    async def judge_submit(self, request: Request) -> Response:
        """判定投诉: 有效 / 无效, and the deduction chosen for the employee complained about (replaces the
        provisional one: one complaint, one deduction)."""
        self.require(request, "action:judge-complaint")
        form = await request.form()
        values = {k: str(form.get(k, "")) for k in ("request_id", "validity", "points", "version")}
        (row,) = await self.scoped_targets(request, [values["request_id"]])
        try:
            result = await run_action(self.session_maker, request, complaints.judge_complaint, request_id=row.id,
                                      **JudgeForm.read(form).data)
        except Refused as refused:
            return await self._judge_page(request, row, values, status_code=refusal_status(refused),
                                          error=refused.message)
        Flash.success(request, result.message)
        return RedirectResponse(request.url_for("admin:details", identity=self.identity, pk=row.id), status_code=303)

    async def _judge_page(self, request: Request, row: ServiceRequest, values: dict, *, status_code: int = 200,
                          **context: Any) -> Response:
        case = await run_action(self.session_maker, request, complaints.complaint_case, request_id=row.id)
        return await _page(self, request, "judge.html", status_code=status_code, title="判定投诉", case=case,
                           values=values, validities=ComplaintValidity.choices(), **context)
    @action("answer", label="答复办结")
    async def answer_form(self, request: Request) -> Response:
        # a 报修/投诉, or a request already dispatched or closed: said at once, not after the answer is typed
        return await ANSWER.opened(self, request)

    @expose("/answer", methods=["POST"])
    async def answer_submit(self, request: Request) -> Response:
        """答复办结: a 咨询/求助/建议/表扬 answered at the desk is closed with the answer given."""
        return await ANSWER.posted(self, request)

    @action("withdraw", label="撤销诉求")
    async def withdraw_form(self, request: Request) -> Response:
        # a request already dispatched, closed or withdrawn: said at once, not after the reason is typed
        return await WITHDRAW.opened(self, request)

    @expose("/withdraw", methods=["POST"])
    async def withdraw_submit(self, request: Request) -> Response:
        """撤销: the caller withdraws a request not yet done (its open 派工单 with it); the reason is required."""
        return await WITHDRAW.posted(self, request)

    def _visible_custom_actions(self, request: Request, in_detail: bool = False) -> dict[str, str]:
        """On a request's page, 派工 and 答复办结 only while it can still be dispatched or answered, 判定投诉 only on a
        complaint (the pages say why when opened from a list selection)."""
        actions = super()._visible_custom_actions(request, in_detail)
        row = getattr(request.state, DETAIL_OBJ_STATE, None) if in_detail else None
        if isinstance(row, ServiceRequest):
            if work_orders.dispatch_refusal([row]):
                actions.pop("dispatch", None)
            if intake.answer_refusal(row):
                actions.pop("answer", None)
            if intake.withdraw_refusal(row):
                actions.pop("withdraw", None)
            if complaints.judge_refusal(row):
                actions.pop("judge-complaint", None)
        return actions

    async def timeline(self, request: Request, obj: Any) -> tuple[Any, ...]:
        return await run_action(self.session_maker, request, timeline.request_timeline, request_id=obj.id)

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        """The request's unit, 一户一档: what else the household has asked, owes and said in callbacks."""
        if obj.unit_id is None:
            return []
        return [("一户一档", str(request.url_for("admin:view-unit-file_page").include_query_params(unit_id=obj.unit_id)))]

    @action("dispatch", label="派工")
    async def dispatch_form(self, request: Request) -> Response:
        """The parameter page: what routing and the SLA rules would do with the selection (a dry run)."""
        rows = await self.scoped_targets(request, selected_pks(request))
        # a request already dispatched, closed or cancelled: said at once, not after the form is filled
        return await self._dispatch_page(request, [row.id for row in rows], {},
                                         closed=work_orders.dispatch_refusal(rows))

    @expose("/dispatch", methods=["POST"])
    async def dispatch_submit(self, request: Request) -> Response:
        self.require(request, "action:dispatch")
        form = await request.form()
        values = {k: str(form.get(k, "")) for k in ("department_id", "assignee_id", "priority", "complete_due_at",
                                                    "sla_due_at")}
        ids: list[int] = []
        try:
            ids = list(DispatchForm.read({"request_ids": form.get("request_ids", "")}).request_ids.data)
            chosen = DispatchForm.read(form).data
            if values["complete_due_at"] and values["complete_due_at"] == values["sla_due_at"]:
                # the page's default (the SLA deadline of the request's own priority), left as it was: 按时限规则 —
                # with another 优先级 chosen, the deadline of that priority, not the one shown before choosing it
                chosen["complete_due_at"] = None
            result = await run_action(self.session_maker, request, work_orders.dispatch_requests,
                                      **chosen | {"request_ids": ids})
        except Refused as refused:
            return await self._dispatch_page(request, ids, values, status_code=refusal_status(refused), error=refused.message)
        Flash.success(request, result.message)
        if len(ids) == 1:  # one request: back to it, its 处理经过 showing the new order
            return RedirectResponse(request.url_for("admin:details", identity=self.identity, pk=ids[0]), status_code=303)
        return RedirectResponse(request.url_for("admin:list", identity="work-order"), status_code=303)

    async def _dispatch_page(self, request: Request, ids: list[int], values: dict, *, status_code: int = 200,
                             **context: Any) -> Response:
        def load(session: Any, *, actor: Any) -> tuple[Any, Any, str | None]:
            try:
                plan = work_orders.dispatch_requests(session, actor=actor, request_ids=ids, dry_run=True)
            except Refused as refused:
                return None, work_orders.handler_choices(session, actor=actor), refused.message
            projects = {p.project_id for p in plan.preview}
            return plan, work_orders.handler_choices(session, actor=actor, project_ids=projects), None

        if context.get("closed"):
            return await _page(self, request, "dispatch.html", status_code=status_code, title="派工", ids=ids,
                               plan=None, choices=None, values=values, priorities=(), **context)
        plan, choices, problem = await run_action(self.session_maker, request, load)
        if not values and plan and len(plan.preview) == 1:  # one request: its SLA deadline as the default
            due = _local_input(plan.preview[0].complete_due_at)
            values = {"complete_due_at": due, "sla_due_at": due}
        context.setdefault("error", problem)
        return await _page(self, request, "dispatch.html", status_code=status_code, title="派工", ids=ids,
                           plan=plan, choices=choices, values=values, priorities=Priority.choices(), **context)


class WorkOrderAdmin(ScopedModelView, model=WorkOrder):
    category = "客服工单"
    icon = "fa-solid fa-screwdriver-wrench"
    # 状态 and the deadlines (with the SLA mark) first: on a 1440×900 screen they stay in view; the rest on the
    # record's page
    column_list = ["id", "status", "respond_due_at", "complete_due_at", "request", "department", "assignee", "priority",
                   "dispatched_at"]
    # the room as the front desk is told it (「203」): the orders of the requests of the rooms holding it, read from the
    # room numbers' index, then the requests' and orders' keys
    column_searchable_list = ["assignee.name", "request.contact_name", "request.unit.room_no", "result"]
    column_sortable_list = ["id", "priority", "status", "dispatched_at", "respond_due_at", "complete_due_at",
                            "completed_at", "closed_at"]
    column_default_sort = [("dispatched_at", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("status"),
        SlaFilter(),
        ScopedForeignKeyFilter("department"),
        ScopedForeignKeyFilter("assignee"),
        EnumFilter("priority"),
        BooleanFilter("paid_service"),
        DrillFilter(),
    ]
    # 状态, its timestamps, 处理部门/处理人, 处理结果 and the money move only through 派工 and the lifecycle
    # steps below, which check them. A new order is a 派工 of one request (insert_model); an edit changes the
    # 优先级 alone — fields not in the form are ignored when posted.
    form_columns = ["request", "department", "assignee", "priority", "complete_due_at"]
    form_edit_rules = ["priority"]
    form_ajax_refs = ajax_refs(WorkOrder, "request", "assignee")
    column_formatters = {
        "respond_due_at": _deadline_formatter("respond_due_at"),
        "complete_due_at": _deadline_formatter("complete_due_at"),
    }
    column_formatters_detail = {**{name: _paid_service_only for name in ("quote", "quote_accepted", "charge")},
                                **{name: _cancelled_only for name in ("cancelled_at", "cancel_reason")}}

    async def timeline(self, request: Request, obj: Any) -> tuple[Any, ...]:
        return await run_action(self.session_maker, request, timeline.order_timeline, order_id=obj.id)

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        return [("打印派工单", print_url(request, self.identity, obj.id))]

    @expose("/print", methods=["GET"])
    async def print_slip(self, request: Request) -> Response:
        """派工单 on paper, for the technician: where, whom to call, by when, room for the result and signatures."""
        return await slip_page(self, request, slips.work_order_slip, "order_id")

    async def scaffold_form(self, rules: list[str] | None = None) -> Any:
        form = await super().scaffold_form(rules)
        if rules and rules == self.form_edit_rules:  # the edit form: drop the fields only 派工 sets
            dropped = {name: None for name in self.form_columns if name not in rules}
            form = type(form.__name__, (form,), dropped)
        return form

    async def insert_model(self, request: Request, data: dict) -> Any:
        """新建派工单 = 派工 of the chosen request, with the same checks (actions.work_orders.dispatch_requests)."""
        due = data.get("complete_due_at")
        if isinstance(due, dt.datetime) and due.tzinfo is None:
            due = due.replace(tzinfo=SHANGHAI)
        priority = data.get("priority")

        chosen = OrderCreateForm.read({name: _pk(data.get(name)) for name in ("request", "department", "assignee")}).data

        def dispatch(session: Any, *, actor: Any) -> int:
            request_id = chosen["request"]
            if request_id is None:
                raise Refused(f"请选择{label_of(WorkOrder, 'request')}")
            result = work_orders.dispatch_requests(
                session, actor=actor, request_ids=[request_id],
                department_id=chosen["department"], assignee_id=chosen["assignee"],
                priority=Priority(priority) if priority else None, complete_due_at=due,
            )
            if not result.created:
                raise Refused(result.message, [request_id])
            return session.scalar(select(WorkOrder.id).where(WorkOrder.request_id == request_id))

        order_id = await run_action(self.session_maker, request, dispatch)
        Flash.success(request, f"已派工：派工单 #{order_id}")
        return WorkOrder(id=order_id)

    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        """The edit form = 改优先级 (actions.work_orders.change_work_order_priority): an open order's deadlines
        follow the new priority."""
        priority = data.get("priority")
        fields = PriorityForm.read({"order_id": pk, "priority": getattr(priority, "value", priority) or "",
                                    "version": data.get("version") or ""})
        result = await run_action(self.session_maker, request, work_orders.change_work_order_priority, **fields.data)
        Flash.success(request, result.message)
        return WorkOrder(id=result.order_id)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        # 已取消 (the request withdrawn): nothing is left to change — 改优先级 refuses it too
        return (getattr(model, "status", None) is not WorkOrderStatus.CANCELLED
                and await super().check_can_edit(request, model))

    def _visible_custom_actions(self, request: Request, in_detail: bool = False) -> dict[str, str]:
        """The lifecycle buttons in lifecycle order; on a detail page only the steps the order's status allows
        (the steps check again when run)."""
        actions = super()._visible_custom_actions(request, in_detail)
        order = getattr(request.state, DETAIL_OBJ_STATE, None) if in_detail else None
        steps = work_orders.steps_allowed(order.status) if isinstance(order, WorkOrder) else tuple(STEPS)
        ordered = {slug: actions[slug] for slug in STEPS if slug in actions and slug in steps}
        ordered.update({slug: label for slug, label in actions.items() if slug not in STEPS})
        return ordered

    def search_query(self, stmt: Select, term: str) -> Select:
        """A full mobile number finds the orders of requests from that number through the phone index; other
        terms search the usual columns. (As ``id IN (…)`` the list is read from: SQLite would otherwise walk the
        project's index and test every order.)"""
        digits = intake.search_term(term)
        if len(digits) == 11 and digits.isdigit():
            other = aliased(WorkOrder)
            requests = select(ServiceRequest.id).where(ServiceRequest.contact_phone == digits)
            return listing.driven_by(stmt, WorkOrder.id.in_(select(other.id).where(other.request_id.in_(requests))))
        return super().search_query(stmt, term)

    # --- lifecycle: one GET form per step, one POST that runs it --------------------------------------
    @action("accept", label="接单")
    async def accept_form(self, request: Request) -> Response:
        return await self._step_page(request, "accept", selected_pks(request))

    @action("reassign", label="转派")
    async def reassign_form(self, request: Request) -> Response:
        return await self._step_page(request, "reassign", selected_pks(request))

    @action("complete", label="完工")
    async def complete_form(self, request: Request) -> Response:
        return await self._step_page(request, "complete", _one(selected_pks(request)))

    @action("callback", label="回访")
    async def callback_form(self, request: Request) -> Response:
        return await self._step_page(request, "callback", _one(selected_pks(request)))

    @action("close", label="关闭")
    async def close_form(self, request: Request) -> Response:
        return await self._step_page(request, "close", selected_pks(request))

    @expose("/step/{step}", methods=["POST"])
    async def step_submit(self, request: Request) -> Response:
        step = request.path_params["step"]
        if step not in STEPS:
            raise HTTPException(status_code=404)
        self.require(request, f"action:{step}")
        form = await request.form()
        values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
        ids: list[int] = []
        try:
            ids = list(StepForm.read(values).order_ids.data)
            kwargs = _step_arguments(step, values, ids)
            result = await run_action(self.session_maker, request, STEPS[step][1], **kwargs)
        except Refused as refused:
            return await self._step_page(request, step, [str(i) for i in ids], values=values,
                                         status_code=refusal_status(refused), error=refused.message)
        Flash.success(request, result.message)
        # back where the user was: the 待回访 page, or the order itself (its 处理经过 shows the step), or the list
        if values.get("next") == "callbacks":
            back = request.url_for("admin:view-callbacks")
        elif len(ids) == 1:
            back = request.url_for("admin:details", identity=self.identity, pk=ids[0])
        else:
            back = request.url_for("admin:list", identity=self.identity)
        return RedirectResponse(back, status_code=303)

    async def _step_page(self, request: Request, step: str, pks: list[str], *, values: dict | None = None,
                         status_code: int = 200, **context: Any) -> Response:
        rows = await self.scoped_targets(request, pks)

        def load(session: Any, *, actor: Any) -> tuple[Any, Any]:
            orders = work_orders.order_summaries(session, order_ids=[r.id for r in rows], actor=actor)
            projects = {o.project_id for o in orders}
            return orders, work_orders.handler_choices(session, actor=actor, project_ids=projects)

        orders, choices = await run_action(self.session_maker, request, load)
        if values is None and step == "complete" and len(orders) == 1 and orders[0].paid_service:
            values = {"charge": str(orders[0].charge)}  # completed again after a rework: the charge stands
        return await _page(
            self, request, "step.html", status_code=status_code, title=STEPS[step][0], step=step, orders=orders,
            choices=choices, values={"next": request.query_params.get("next", ""), **(values or {})},
            versions=",".join(f"{r.id}:{r.version}" for r in rows),
            ways=VisitWay.choices(), results=Satisfaction.choices(), **context,
        )


class VisitAdmin(ScopedModelView, model=Visit):
    category = "客服工单"
    icon = "fa-solid fa-comments"
    column_list = ["id", "visited_at", "kind", "way", "unit", "customer", "result", "visitor"]
    column_searchable_list = ["unit.room_no", "customer.name", "notes"]
    column_sortable_list = ["id", "visited_at", "kind", "way", "result"]
    column_default_sort = [("visited_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("kind"), EnumFilter("way"), EnumFilter("result"),
                      DrillFilter()]
    form_columns = ["project", "kind", "way", "unit", "customer", "work_order", "request", "visited_at", "visitor",
                    "result", "notes", "issues_raised"]
    form_ajax_refs = ajax_refs(Visit, "unit", "customer", "work_order", "request", "visitor")


class SlaRuleAdmin(ScopedModelView, model=SlaRule):
    category = "客服工单"
    icon = "fa-solid fa-stopwatch"
    shared_rows_visible = True  # 项目为空 = 所有项目的默认时限
    column_list = ["id", "project", "kind", "priority", "respond_minutes", "complete_hours"]
    column_sortable_list = ["id", "kind", "priority", "respond_minutes", "complete_hours"]
    column_default_sort = [("kind", False), ("priority", False)]
    column_filters = [EnumFilter("kind"), EnumFilter("priority"), ScopedForeignKeyFilter("project")]
    form_columns = ["project", "kind", "priority", "respond_minutes", "complete_hours"]


class RoutingRuleAdmin(ScopedModelView, model=RoutingRule):
    category = "客服工单"
    icon = "fa-solid fa-route"
    column_list = ["id", "category", "department_kind"]
    column_sortable_list = ["id", "category", "department_kind"]
    column_default_sort = [("category", False)]
    column_filters = [EnumFilter("category"), EnumFilter("department_kind")]
    form_columns = ["category", "department_kind"]


STEPS = {
    "accept": ("接单", work_orders.accept_work_orders),
    "reassign": ("转派", work_orders.reassign_work_orders),
    "complete": ("完工", work_orders.complete_work_order),
    "callback": ("回访", work_orders.callback_work_order),
    "close": ("关闭", work_orders.close_work_orders),
}


def _pk(value: Any) -> str:
    """A relation field's value (a record or its id) as typed, for ``OrderCreateForm``; blank when none."""
    return "" if value in (None, "", "__None") else str(getattr(value, "id", value))


class OrderCreateForm(PageForm):
    """新建派工单's relations (sqladmin's select fields), read as ids."""

    request = IdField(label_of(WorkOrder, "request"))
    department = IdField(label_of(WorkOrder, "department"))
    assignee = IdField(label_of(WorkOrder, "assignee"))


def _one(pks: list[str]) -> list[str]:
    """完工 and 回访 record one order's own result."""
    if len(pks) > 1:
        raise HTTPException(status_code=400, detail="请只选择一张派工单")
    return pks


class DispatchForm(PageForm):
    request_ids = IdsField(ServiceRequest.__label__)
    department_id = IdField(label_of(WorkOrder, "department"))
    assignee_id = IdField(label_of(WorkOrder, "assignee"))
    priority = EnumField(Priority, label_of(WorkOrder, "priority"), required=False)
    complete_due_at = LocalDateTimeField(label_of(WorkOrder, "complete_due_at"))


class PriorityForm(PageForm):
    """The work order's edit form: 改优先级, from the version it was opened on."""

    order_id = IdField(WorkOrder.__label__, required=True)
    priority = EnumField(Priority, label_of(WorkOrder, "priority"))
    version = VersionField()


class StepForm(PageForm):
    """A lifecycle step of the ticked orders (接单, 关闭 …)."""

    order_ids = IdsField(WorkOrder.__label__)


class CompleteForm(StepForm):
    result = TextField(label_of(WorkOrder, "result"))
    charge = TextField("收费金额")
    versions = VersionsField()


class CallbackForm(StepForm):
    way = EnumField(VisitWay, label_of(Visit, "way"))
    result = EnumField(Satisfaction, label_of(Visit, "result"))
    notes = TextField(label_of(Visit, "notes"))
    issues_raised = TextField(label_of(Visit, "issues_raised"))
    versions = VersionsField()


class AcceptForm(StepForm):
    paid_service = FlagField(label_of(WorkOrder, "paid_service"))
    quote = TextField(label_of(WorkOrder, "quote"))
    quote_accepted = FlagField(label_of(WorkOrder, "quote_accepted"))


class ReassignForm(StepForm):
    reason = TextField("转派原因")
    department_id = IdField(label_of(WorkOrder, "department"))
    assignee_id = IdField(label_of(WorkOrder, "assignee"))
    versions = VersionsField()


STEP_FORMS: dict[str, type[StepForm]] = {"complete": CompleteForm, "callback": CallbackForm, "accept": AcceptForm,
                                         "reassign": ReassignForm}


def _step_arguments(step: str, values: dict[str, str], ids: list[int]) -> dict[str, Any]:
    """The action's keyword arguments from a step form."""
    fields = STEP_FORMS.get(step, StepForm).read(values).data
    del fields["order_ids"]
    if step in ("complete", "callback"):
        if len(ids) != 1:
            raise Refused("请只选择一张派工单")
        if step == "complete":
            fields["charge"] = fields["charge"] or None
        return {"order_id": ids[0], **fields}
    if step == "accept":  # a quote typed with 有偿服务 left unticked goes to the action, which refuses it
        fields["quote"] = fields["quote"] or None
    return {"order_ids": ids, **fields}


# --- pages without a model of their own ---------------------------------------------------------------------
class ServicePage(GrantedPage):
    """A page of 客服工单 whose access is a grant on a model view (``grant``)."""

    category = SERVICE


class JudgeForm(PageForm):
    validity = EnumField(ComplaintValidity, label_of(ServiceRequest, "complaint_validity"))
    points = DecimalField(label_of(ServiceRequest, "complaint_points"))
    version = VersionField()


class AnswerForm(PageForm):
    reply = TextField(label_of(ServiceRequest, "reply"))
    version = VersionField()


class WithdrawForm(PageForm):
    reason = TextField("撤销原因")
    version = VersionField()


ANSWER = TextStep(
    "answer", "答复办结", "咨询、求助、建议、表扬当场答复的，登记答复内容后办结；报修、投诉须派工处理，回访满意后随派工单关闭办结。",
    "reply", label_of(ServiceRequest, "reply"), "答复并办结", "request_id", intake.answer_request, AnswerForm,
    intake.answer_refusal, version=True, initial=lambda row: {"reply": row.reply})
WITHDRAW = TextStep(
    "withdraw", "撤销诉求", "业主撤回尚未办完的诉求（如来电告知已自行解决、已自行请人维修）：填写撤销原因后诉求为「已取消」，"
    "已派工未完工的派工单随之「已取消」，不再计入受理、办结、派工及投诉统计；派工单已完工的须回访后随派工单关闭。", "reason", "撤销原因", "撤销诉求", "request_id",
    intake.withdraw_request, WithdrawForm, intake.withdraw_refusal, placeholder="如：业主来电告知已自行解决",
    version=True)


class IntakeForm(PageForm):
    """受理诉求 (the unit and customer come as the chosen ``unit:customer`` pair, see ``_pick``)."""

    project_id = ProjectField(label_of(ServiceRequest, "project"))
    channel = EnumField(Channel, label_of(ServiceRequest, "channel"))
    kind = EnumField(RequestKind, label_of(ServiceRequest, "kind"))
    category = EnumField(RequestCategory, label_of(ServiceRequest, "category"))
    priority = EnumField(Priority, label_of(ServiceRequest, "priority"))
    contact_name = TextField(label_of(ServiceRequest, "contact_name"))
    contact_phone = TextField(label_of(ServiceRequest, "contact_phone"))
    content = TextField(label_of(ServiceRequest, "content"))
    complaint_major = FlagField(label_of(ServiceRequest, "complaint_major"))
    form_token = TextField("表单")
    first_staff_id = IdField(label_of(ServiceRequest, "first_staff"))


class PickForm(PageForm):
    unit_id = IdField(label_of(ServiceRequest, "unit"))
    customer_id = IdField(label_of(ServiceRequest, "customer"))


class ListForm(PageForm):
    """A list page's filters and page."""

    page = PageNumberField()
    project_id = IdField(label_of(WorkOrder, "project"))
    staff_id = IdField(label_of(ServiceRequest, "first_staff"))
    day = DateField("日期")
    unit_id = IdField(label_of(Visit, "unit"))


class VisitForm(PageForm):
    unit_id = IdField(label_of(Visit, "unit"))
    way = EnumField(VisitWay, label_of(Visit, "way"))
    result = EnumField(Satisfaction, label_of(Visit, "result"), required=False)
    notes = TextField(label_of(Visit, "notes"))
    issues_raised = TextField(label_of(Visit, "issues_raised"))
    complaint = FlagField("转为投诉")
    form_token = TextField("表单")


def _pick(value: str) -> tuple[int | None, int | None]:
    """The intake form's chosen ``unit:customer`` pair."""
    unit, _, customer = value.partition(":")
    pick = PickForm.read({"unit_id": unit, "customer_id": customer})
    return pick.unit_id.data, pick.customer_id.data


class IntakePage(ServicePage):
    """受理诉求: look the unit up by 楼栋/房号 or the owner's name or phone, then record the request; its
    首问负责人 is the user's own staff record, or the staff member (any department) the owner reached first."""

    name = "受理诉求"
    icon = "fa-solid fa-headset"
    grant = ("service-request", "create")
    FIELDS = ("project_id", "channel", "kind", "category", "priority", "pick", "contact_name", "contact_phone",
              "content", "complaint_major", "form_token", "first_staff_id")
    LOOKUP = ("building", "room_no", "name", "phone")

    @expose("/intake", methods=["GET", "POST"], identity="intake")
    async def intake_page(self, request: Request) -> Response:
        if not self.has_permission(request, "list"):  # explicit: a POST here creates a request
            raise HTTPException(status_code=403, detail="没有受理诉求的权限")
        query = request.query_params
        lookup = {k: query.get(k, "") for k in self.LOOKUP}
        values = {k: query.get(k, "") for k in self.FIELDS}
        context: dict[str, Any] = {}
        status_code = 200
        if request.method == "POST":
            form = await request.form()
            values = {k: str(form.get(k, "")) for k in self.FIELDS}
            lookup = {k: str(form.get(k, "")) for k in self.LOOKUP}
            try:
                fields = IntakeForm.read(values, actor=request_actor(request)).data
                unit_id, customer_id = _pick(values["pick"])
                result = await run_action(self.session_maker, request, intake.receive_request,
                                          unit_id=unit_id, customer_id=customer_id, **fields)
            except Refused as refused:
                context["error"], status_code = refused.message, refusal_status(refused)
            else:
                Flash.success(request, result.message)
                return RedirectResponse(
                    request.url_for("admin:details", identity="service-request", pk=result.request_id), status_code=303)

        def load(session: Any, *, actor: Any) -> tuple[Any, Any, Any]:
            projects = billing.fee_choices(session, actor=actor).projects
            project_id = ListForm.read({"project_id": values["project_id"]}).project_id.data
            matches = intake.find_units(session, actor=actor, project_id=project_id, **lookup)
            staff = work_orders.handler_choices(session, actor=actor, project_ids=[p.id for p in projects]).staff
            return projects, matches, staff

        try:
            projects, matches, staff = await run_action(self.session_maker, request, load)
        except Refused as refused:
            projects, matches, staff = (), (), ()
            context["error"], status_code = refused.message, refusal_status(refused)
        values["form_token"] = values["form_token"] or new_form_token()  # kept while the form is corrected
        if len(matches) == 1 and not values["pick"]:
            values["pick"] = f"{matches[0].unit_id}:{matches[0].customer_id or ''}"
            values["project_id"] = values["project_id"] or str(matches[0].project_id)
        return await _page(
            self, request, "intake.html", status_code=status_code, title=self.name, values=values, lookup=lookup,
            projects=projects, matches=matches, staff=staff, channels=Channel.choices(), kinds=RequestKind.choices(),
            categories=RequestCategory.choices(), priorities=Priority.choices(), **context,
        )


class FirstResponsibilityPage(ServicePage):
    """我的首问: the open matters a person received first, until closed — one's own, or a colleague's of the
    same projects (the guard or engineer without a console account)."""

    name = "我的首问"
    icon = "fa-solid fa-user-check"
    grant = ("service-request", "list")
    PAGE = 50

    @expose("/first-responsibility", methods=["GET"], identity="first-responsibility")
    async def first_page(self, request: Request) -> Response:
        query = request.query_params
        context: dict[str, Any] = {}
        status_code = 200

        def load(session: Any, *, actor: Any) -> tuple[Any, Any]:
            shown = ListForm.read(query)
            listing = intake.first_received(session, actor=actor, staff_id=shown.staff_id.data, limit=self.PAGE,
                                            offset=(shown.page.data - 1) * self.PAGE)
            projects = billing.fee_choices(session, actor=actor).projects
            return listing, work_orders.handler_choices(session, actor=actor, project_ids=[p.id for p in projects]).staff

        try:
            listing, staff = await run_action(self.session_maker, request, load)
        except Refused as refused:
            listing, staff = None, ()
            context["error"], status_code = refused.message, refusal_status(refused)
        return await _page(self, request, "first.html", status_code=status_code, title=self.name, listing=listing,
                           staff=staff, staff_id=query.get("staff_id", ""), **context)


class CallbacksPage(ServicePage):
    """待回访: completed orders awaiting their callback, oldest first, each with its 回访 form."""

    name = "待回访"
    icon = "fa-solid fa-phone-volume"
    grant = ("work-order", "action:callback")
    PAGE = 50

    @expose("/callbacks", methods=["GET"], identity="callbacks")
    async def callbacks_page(self, request: Request) -> Response:
        shown = ListForm.read(request.query_params)
        page = shown.page.data
        total, rows = await run_action(self.session_maker, request, work_orders.callbacks_due,
                                       project_id=shown.project_id.data, limit=self.PAGE, offset=(page - 1) * self.PAGE)
        return await _page(self, request, "callbacks.html", title=self.name, rows=rows, total=total, page=page,
                           pages=max((total + self.PAGE - 1) // self.PAGE, 1))


class VisitPlanPage(ServicePage):
    """定期走访: the households of a project not yet visited in this quarter, and the 走访 record form."""

    name = "定期走访"  # the menu has 走访计划 already: the staff's monthly plans (StaffVisitPlan)
    icon = "fa-solid fa-house-user"
    grant = ("visit", "list")
    FIELDS = ("unit_id", "way", "result", "notes", "issues_raised", "complaint", "form_token")

    @expose("/visit-plan", methods=["GET", "POST"], identity="visit-plan")
    async def visit_plan_page(self, request: Request) -> Response:
        source = await request.form() if request.method == "POST" else request.query_params
        project, day = str(source.get("project_id", "")), str(source.get("day", ""))
        values = {k: str(source.get(k, "")) for k in self.FIELDS}
        context: dict[str, Any] = {}
        status_code = 200
        if request.method == "POST":
            if not granted(self, request, "visit", "create"):
                raise HTTPException(status_code=403, detail="没有登记走访的权限")
            try:
                result = await run_action(self.session_maker, request, visits.record_visit,
                                          **VisitForm.read(values).data)
            except Refused as refused:
                context["error"], status_code = refused.message, refusal_status(refused)
            else:
                Flash.success(request, result.message)
                url = request.url_for("admin:view-visit-plan").include_query_params(project_id=project, day=day)
                return RedirectResponse(url, status_code=303)

        shown = ListForm.read({"project_id": project, "day": day, "unit_id": values["unit_id"]})
        chosen = shown.unit_id.data

        def load(session: Any, *, actor: Any) -> tuple[Any, Any, Any]:
            projects = billing.fee_choices(session, actor=actor).projects
            project_id = shown.project_id.data or (projects[0].id if projects else None)
            plan = visits.households_not_visited(session, project_id=project_id, actor=actor,
                                                 day=shown.day.data) if project_id else None
            # the household chosen, named as the list names it (not by its record number)
            unit = units.unit_label(session, unit_id=chosen, project_id=project_id,
                                    actor=actor) if chosen and project_id else None
            return projects, plan, unit

        projects, plan, unit = await run_action(self.session_maker, request, load)
        if chosen and unit is None:
            context.setdefault("error", f"所选{label_of(Visit, 'unit')}不在本项目中，请从下表中选择")
        values["form_token"] = values["form_token"] or new_form_token()  # kept while the form is corrected
        return await _page(
            self, request, "visit_plan.html", status_code=status_code, title=self.name, projects=projects, plan=plan,
            project=project, day=day, values=values, unit=unit, ways=VisitWay.choices(), results=Satisfaction.choices(),
            can_record=granted(self, request, "visit", "create"), **context,
        )


def _department_params(session: Any, actor: Any, query: Any) -> tuple[Any, Any, dict[str, Any]]:
    """The projects and departments offered, and the report's parameters: a report opens on the first
    department's, not an empty form."""
    projects = billing.fee_choices(session, actor=actor).projects
    departments = work_orders.handler_choices(session, actor=actor, project_ids=[p.id for p in projects]).departments
    params = DepartmentReportForm.read(query).data
    if params["department_id"] is None and departments:
        params["department_id"] = departments[0].id
    return projects, departments, params


class DepartmentReportForm(PageForm):
    """部门日报's choice (the actions check the department and project are the user's)."""

    department_id = IdField(label_of(WorkOrder, "department"))
    day = DateField("日期")
    project_id = IdField(label_of(WorkOrder, "project"))


@report_export("department-report", "部门日报", grant=("work-order", "export"))
def department_report_file(session: Any, actor: Any, query: Any) -> tuple[bytes, str]:
    _, _, params = _department_params(session, actor, query)
    if params["department_id"] is None:
        raise Refused(f"没有可导出的{label_of(WorkOrder, 'department')}")
    report = work_orders.export_department_report(session, actor=actor, **params)
    return report.content, report.filename


class DepartmentReportPage(ServicePage):
    """部门日报: a department's open orders and those it completed on a day — printable and as .xlsx."""

    name = "部门日报"
    icon = "fa-solid fa-clipboard-list"
    grant = ("work-order", "list")

    @expose("/department-report", methods=["GET", "POST"], identity="department-report")
    async def department_report_page(self, request: Request) -> Response:
        query = request.query_params
        values = {k: query.get(k, "") for k in ("department_id", "day", "project_id")}

        def load(session: Any, *, actor: Any) -> tuple[Any, Any, Any]:
            projects, departments, params = _department_params(session, actor, query)
            values["department_id"] = str(params["department_id"] or "")
            if params["department_id"] is None:
                return projects, departments, None
            return projects, departments, work_orders.department_report(session, actor=actor, **params)

        if query.get("export") == "xlsx":
            DepartmentReportForm.read(query)  # a bad value is refused here, not in the queued job
            return await start_report(self, request, "department-report")
        projects, departments, report = await run_action(self.session_maker, request, load)
        template = "report_print.html" if query.get("print") == "1" and report else "report.html"
        return await _page(self, request, template, title=self.name, values=values, projects=projects,
                           departments=departments, report=report, columns=work_orders.REPORT_COLUMNS,
                           can_export=may_export(self, request, "department-report"))


class ComplaintStatsForm(PageForm):
    """投诉统计's months and project (the action checks the project is the user's)."""

    month_from = MonthField("开始月份")
    month_to = MonthField("结束月份")
    project_id = IdField(label_of(ServiceRequest, "project"))


def _complaint_params(query: Any) -> dict[str, Any]:
    """The months (from the last complete one by default) and the project of 投诉统计."""
    form = ComplaintStatsForm.read(query).data
    return {"month_from": form["month_from"] or add_months(current_period(), -1), "month_to": form["month_to"],
            "project_ids": [form["project_id"]] if form["project_id"] else None}


@report_export("complaint-stats", "投诉统计", grant=("service-request", "export"))
def complaint_stats_file(session: Any, actor: Any, query: Any) -> tuple[bytes, str]:
    stats = complaints.export_complaint_statistics(session, actor=actor, **_complaint_params(query))
    return stats.content, stats.filename


class ComplaintStatsPage(ServicePage):
    """投诉统计: per project and month, against the targets; .xlsx with the export grant."""

    name = "投诉统计"
    icon = "fa-solid fa-chart-column"
    grant = ("service-request", "list")

    @expose("/complaint-stats", methods=["GET", "POST"], identity="complaint-stats")
    async def complaint_stats_page(self, request: Request) -> Response:
        query = request.query_params
        last_month = add_months(current_period(), -1)  # the last complete month by default
        values = {"month_from": query.get("month_from") or last_month, "month_to": query.get("month_to", ""),
                  "project_id": query.get("project_id", "")}
        if query.get("export") == "xlsx":
            ComplaintStatsForm.read(query)  # a bad value is refused here, not in the queued job
            return await start_report(self, request, "complaint-stats")

        def load(session: Any, *, actor: Any) -> tuple[Any, Any]:
            stats = complaints.complaint_statistics(session, actor=actor, **_complaint_params(query))
            return billing.fee_choices(session, actor=actor).projects, stats

        context: dict[str, Any] = {}
        status_code = 200
        try:
            projects, stats = await run_action(self.session_maker, request, load)
        except Refused as refused:
            projects, stats = await run_action(self.session_maker, request,
                                               lambda session, actor: (billing.fee_choices(session, actor=actor).projects, None))
            context["error"], status_code = refused.message, refusal_status(refused)
        else:  # the months as read (2026年11月 typed in a browser's text box → 2026-11, which the month input shows)
            values.update(month_from=stats.month_from, month_to=stats.month_to if values["month_to"] else "")
        return await _page(
            self, request, "complaints.html", status_code=status_code, title=self.name, values=values,
            projects=projects, stats=stats, labels=complaints.LABELS, counts=complaints.COUNTS,
            rates=complaints.RATES, targets=complaints.TARGETS, validity=ComplaintValidity,
            can_export=may_export(self, request, "complaint-stats"), **context,
        )
