"""诉求升级 in the console: the list of escalations with, above it, the forms that raise a request one level and
answer an escalation (POSTs with the CSRF token, each one action)."""

from __future__ import annotations

from sqladmin import expose
from sqladmin.pagination import Pagination
from starlette.requests import Request
from starlette.responses import Response

from actions import escalations
from models import Escalation, EscalationLevel, label_of

from ..forms import EnumField, IdField, PageForm, TextField
from .base import EnumFilter, FilledFilter, ScopedForeignKeyFilter, ScopedModelView, local_datetime
from .pages import list_step, run_action

RESPOND = "action:respond"


class RaiseForm(PageForm):
    request_id = IdField(label_of(Escalation, "request"))
    level = EnumField(EscalationLevel, label_of(Escalation, "level"))
    reason = TextField(label_of(Escalation, "reason"))


class RespondForm(PageForm):
    escalation_id = IdField(Escalation.__label__)
    response = TextField(label_of(Escalation, "response"))


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

    async def list(self, request: Request) -> Pagination:
        """The list, and the level up to which the account may answer (its 批复 box is shown only then): the box
        is not offered to an account 批复 would refuse — its post answers no level, or it names no 员工."""
        page = await super().list(request)
        request.state.answers_up_to = (await run_action(self.session_maker, request, escalations.answered_level)
                                       if self.has_permission(request, RESPOND) else None)
        return page

    @expose("/raise", methods=["POST"])
    async def raise_submit(self, request: Request) -> Response:
        """上报: a request one level up, with the reason."""
        return await list_step(self, request, "list", escalations.escalate_request, RaiseForm)

    @expose("/respond", methods=["POST"])
    async def respond_submit(self, request: Request) -> Response:
        """批复: the answer of whom it was raised to."""
        return await list_step(self, request, RESPOND, escalations.respond_escalation, RespondForm)
