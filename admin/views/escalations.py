"""诉求升级 in the console: the list of escalations with, above it, the forms that raise a request one level and
answer an escalation (POSTs with the CSRF token, each one action)."""

from __future__ import annotations

from sqladmin import Flash, expose
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import escalations
from models import Escalation, EscalationLevel, label_of

from .base import EnumFilter, FilledFilter, ScopedForeignKeyFilter, ScopedModelView, local_datetime
from .pages import int_param, member_param, run_action

RESPOND = "action:respond"


class EscalationAdmin(ScopedModelView, model=Escalation):
    category = "客服工单"
    icon = "fa-solid fa-arrow-up-right-dots"
    list_template = "wuye/orders/escalation_list.html"
    levels = EscalationLevel.choices()
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "request", "level", "reason", "escalated_by", "escalated_at", "response", "responded_at"]
    column_searchable_list = ["reason", "response"]
    column_sortable_list = ["id", "level", "escalated_at", "responded_at"]
    column_default_sort = [("escalated_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("level"),
                      FilledFilter("responded_at", "批复状态", "待批复", "已批复")]
    column_formatters = {"responded_at": lambda m, a: local_datetime(m.responded_at) if m.responded_at else "待批复"}

    async def _step(self, request: Request, grant: str, fn, **parse) -> Response:
        self.require(request, grant)
        form = await request.form()
        result = await run_action(self.session_maker, request, fn, **{k: p(form) for k, p in parse.items()})
        Flash.success(request, result.message)
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), status_code=303)

    @expose("/raise", methods=["POST"])
    async def raise_submit(self, request: Request) -> Response:
        """上报: a request one level up, with the reason."""
        return await self._step(
            request, "list", escalations.escalate_request,
            request_id=lambda f: int_param(f.get("request_id"), label_of(Escalation, "request")),
            level=lambda f: member_param(EscalationLevel, f.get("level"), label_of(Escalation, "level")),
            reason=lambda f: str(f.get("reason", "")))

    @expose("/respond", methods=["POST"])
    async def respond_submit(self, request: Request) -> Response:
        """批复: the answer of whom it was raised to."""
        return await self._step(
            request, RESPOND, escalations.respond_escalation,
            escalation_id=lambda f: int_param(f.get("escalation_id"), Escalation.__label__),
            response=lambda f: str(f.get("response", "")))
