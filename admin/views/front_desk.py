"""前台 smaller duties in the console: 代收款交接 (handed over and confirmed with POSTs above the list), 邮件领取通知
(one POST a day), the 特约服务 catalogue and the one-off outsourced jobs (records)."""

from __future__ import annotations

from sqladmin import expose
from starlette.requests import Request
from starlette.responses import Response

from actions import front_desk
from actions.kernel.periods import today_local
from models import CashHandover, MailNotice, OutsourcedJob, SpecialService, label_of

from ..forms import DateField, DecimalField, IdField, PageForm, TextField
from .base import (
    BooleanFilter,
    EnumFilter,
    FilledFilter,
    OperationColumnFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    local_datetime,
)
from .pages import list_step

CATEGORY = "前台台帐"
CONFIRM = "action:confirm-handover"  # 收银员确认交接
NOTIFY = "action:notify-mail"  # 每日通知管家领取邮件


class ConfirmForm(PageForm):
    handover_id = IdField(CashHandover.__label__)
    counted = DecimalField(label_of(CashHandover, "counted"))
    note = TextField(label_of(CashHandover, "note"))


class NotifyForm(PageForm):
    day = DateField(label_of(MailNotice, "day"), default=today_local)


class CashHandoverAdmin(ScopedModelView, model=CashHandover):
    category = CATEGORY
    icon = "fa-solid fa-money-bill-transfer"
    list_template = "wuye/ledgers/cash_handover_list.html"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "project", "collector", "period_from", "period_to", "payments", "amount", "other_methods",
                   "handed_at",
                   "cashier", "confirmed_at", "counted", "note"]
    column_sortable_list = ["id", "handed_at", "confirmed_at", "amount"]
    column_default_sort = [("handed_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("collector"),
                      FilledFilter("confirmed_at", "确认状态", "待确认", "已确认")]
    column_formatters = {"confirmed_at": lambda m, a: local_datetime(m.confirmed_at) if m.confirmed_at else "待确认"}

    @expose("/hand-over", methods=["POST"])
    async def hand_over_submit(self, request: Request) -> Response:
        """交接: the user's own collections since their last handover."""
        return await list_step(self, request, "list", front_desk.hand_over_collections)

    @expose("/confirm", methods=["POST"])
    async def confirm_submit(self, request: Request) -> Response:
        """收银员确认: the amount counted, a difference explained."""
        return await list_step(self, request, CONFIRM, front_desk.confirm_handover, ConfirmForm)


class MailNoticeAdmin(ScopedModelView, model=MailNotice):
    category = CATEGORY
    icon = "fa-solid fa-bell"
    list_template = "wuye/ledgers/mail_notice_list.html"
    can_create = False
    can_edit = False
    column_list = ["id", "project", "day", "butler", "items", "notified_by", "notified_at"]
    column_sortable_list = ["id", "day", "items"]
    column_default_sort = [("day", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("butler"), OperationColumnFilter("day")]

    @expose("/notify", methods=["POST"])
    async def notify_submit(self, request: Request) -> Response:
        """通知管家领取: the day's waiting mail, one notice per butler."""
        return await list_step(self, request, NOTIFY, front_desk.notify_mail, NotifyForm)


class SpecialServiceAdmin(ScopedModelView, model=SpecialService):
    category = CATEGORY
    icon = "fa-solid fa-broom"
    column_list = ["id", "project", "name", "price", "price_unit", "provider", "active"]
    column_searchable_list = ["name", "provider", "description"]
    column_sortable_list = ["id", "name", "price"]
    column_default_sort = [("id", False)]
    column_filters = [ScopedForeignKeyFilter("project"), BooleanFilter("active")]
    form_columns = ["project", "name", "price", "price_unit", "provider", "description", "active"]


class OutsourcedJobAdmin(ScopedModelView, model=OutsourcedJob):
    category = CATEGORY
    icon = "fa-solid fa-helmet-safety"
    column_list = ["id", "project", "title", "vendor", "follower", "planned_on", "status", "done_on", "issues"]
    column_searchable_list = ["title", "vendor", "issues"]
    column_sortable_list = ["id", "planned_on", "status", "done_on"]
    column_default_sort = [("planned_on", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("follower"), EnumFilter("status"),
                      OperationColumnFilter("planned_on")]
    form_columns = ["project", "title", "vendor", "follower", "planned_on", "status", "done_on", "issues"]
    form_ajax_refs = ajax_refs(OutsourcedJob, "follower")
