"""Views of 前台台帐: the front desk's ledgers. Phone and ID numbers of borrowers, claimants, carriers,
recipients, applicants and workers are personal data: masked unless the role holds ``action:view-pii``."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from sqladmin import Flash, expose
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import slips, weekly_plan
from actions.kernel.periods import monday_of, today_local
from models import (
    DutyLog,
    GoodsPass,
    HouseDefect,
    ItemLoan,
    KeyLoan,
    KeyRecord,
    LostItem,
    MailItem,
    MeetingBooking,
    MoveInChecklist,
    OwnerNotice,
    RectificationNotice,
    RenovationApplication,
    VendorCheck,
    VisitorEntry,
    WeeklyReview,
    WeeklyTask,
    WorkerPermit,
    label_of,
)

from ..forms import DateField, PageForm
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
from .drill import DrillFilter
from .pages import run_action
from .slips import print_url, slip_page

CATEGORY = "前台台帐"

# A new entry is made by whoever is at the desk, as it happens: 登记人 (or 值班人, 发出人 …) defaults to the
# signed-in user or their 员工 record, and the date or time of the entry to now (ScopedModelView.form_default_*).


class DutyLogAdmin(ScopedModelView, model=DutyLog):
    category = CATEGORY
    icon = "fa-solid fa-book-open"
    column_list = ["id", "duty_date", "shift", "post", "on_duty", "handed_to", "handed_over_at"]
    column_searchable_list = ["post", "events", "pending", "on_duty.name"]
    column_sortable_list = ["id", "duty_date", "shift", "post", "handed_over_at"]
    column_default_sort = [("duty_date", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("shift"), ScopedForeignKeyFilter("on_duty"),
                      OperationColumnFilter("duty_date")]
    form_columns = ["project", "duty_date", "shift", "post", "on_duty", "handed_to", "handed_over_at", "events",
                    "pending"]
    form_ajax_refs = ajax_refs(DutyLog, "on_duty", "handed_to")
    form_default_user = ("on_duty",)
    form_default_now = ("duty_date",)


class KeyRecordAdmin(ScopedModelView, model=KeyRecord):
    category = CATEGORY
    icon = "fa-solid fa-key"
    column_list = ["id", "code", "name", "kind", "unit", "copies", "location", "status"]
    column_searchable_list = ["code", "name", "location", "unit.room_no"]
    column_sortable_list = ["id", "code", "name", "kind", "copies", "status"]
    column_default_sort = [("code", False)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("kind"), EnumFilter("status")]
    form_columns = ["project", "code", "name", "kind", "unit", "area_name", "copies", "location", "status", "note"]
    form_ajax_refs = ajax_refs(KeyRecord, "unit")


def _loan_state(model: KeyLoan, attribute: str) -> Markup | str:
    """归还时间, or 未归还 for a key still out."""
    return local_datetime(model.returned_at) if model.returned_at else Markup('<span class="badge bg-warning">未归还</span>')


class KeyLoanAdmin(ScopedModelView, model=KeyLoan):
    category = CATEGORY
    icon = "fa-solid fa-hand-holding"
    column_list = ["id", "key", "borrower", "borrower_phone", "purpose", "lent_at", "returned_at", "recorded_by"]
    column_searchable_list = ["borrower", "borrower_phone", "key.code"]
    column_sortable_list = ["id", "borrower", "lent_at", "returned_at"]
    column_default_sort = [("lent_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), FilledFilter("returned_at", "借用状态", "未归还", "已归还"),
                      DrillFilter()]
    column_formatters = {"returned_at": _loan_state}
    form_columns = ["project", "key", "borrower", "borrower_phone", "borrower_staff", "purpose", "lent_at",
                    "returned_at", "recorded_by"]
    form_ajax_refs = ajax_refs(KeyLoan, "key", "borrower_staff", "recorded_by")
    form_default_user = ("recorded_by",)
    form_default_now = ("lent_at",)


class LostItemAdmin(ScopedModelView, model=LostItem):
    category = CATEGORY
    icon = "fa-solid fa-box-open"
    column_list = ["id", "name", "found_at", "found_place", "storage_place", "status", "claimant", "returned_at"]
    column_searchable_list = ["name", "description", "found_place", "claimant"]
    column_sortable_list = ["id", "name", "found_at", "status", "returned_at"]
    column_default_sort = [("found_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status")]
    form_columns = ["project", "name", "description", "found_at", "found_place", "finder", "storage_place", "status",
                    "claimant", "claimant_phone", "customer", "returned_at", "recorded_by", "note"]
    form_ajax_refs = ajax_refs(LostItem, "customer", "recorded_by")
    form_default_user = ("recorded_by",)
    form_default_now = ("found_at",)


class ItemLoanAdmin(ScopedModelView, model=ItemLoan):
    category = CATEGORY
    icon = "fa-solid fa-toolbox"
    column_list = ["id", "name", "quantity", "borrower", "unit", "lent_at", "due_at", "status"]
    column_searchable_list = ["name", "borrower", "borrower_phone", "unit.room_no"]
    column_sortable_list = ["id", "name", "lent_at", "due_at", "returned_at", "status"]
    column_default_sort = [("lent_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), DrillFilter()]
    form_columns = ["project", "name", "quantity", "borrower", "borrower_phone", "unit", "customer", "deposit",
                    "lent_at", "due_at", "returned_at", "status", "return_condition", "recorded_by"]
    form_ajax_refs = ajax_refs(ItemLoan, "unit", "customer", "recorded_by")
    form_default_user = ("recorded_by",)
    form_default_now = ("lent_at",)


class GoodsPassAdmin(ScopedModelView, model=GoodsPass):
    category = CATEGORY
    icon = "fa-solid fa-truck-ramp-box"
    column_list = ["id", "code", "unit", "applicant", "owner_confirmed", "pass_date", "approved_by", "status"]
    column_searchable_list = ["code", "applicant", "plate_no", "unit.room_no"]
    column_sortable_list = ["id", "code", "pass_date", "owner_confirmed", "status"]
    column_default_sort = [("pass_date", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), BooleanFilter("owner_confirmed"),
                      OperationColumnFilter("pass_date")]
    form_columns = ["project", "code", "unit", "applicant", "customer", "owner_confirmed", "items", "carrier",
                    "carrier_phone", "plate_no", "pass_date", "approved_by", "status", "recorded_by"]
    form_ajax_refs = ajax_refs(GoodsPass, "unit", "customer", "approved_by", "recorded_by")
    form_default_user = ("recorded_by",)
    form_default_now = ("pass_date",)

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        return [("打印放行条", print_url(request, self.identity, obj.id))]

    @expose("/print", methods=["GET"])
    async def print_slip(self, request: Request) -> Response:
        return await slip_page(self, request, slips.goods_pass_slip, "pass_id")


class MailItemAdmin(ScopedModelView, model=MailItem):
    category = CATEGORY
    icon = "fa-solid fa-envelope"
    column_list = ["id", "kind", "unit", "recipient", "carrier", "tracking_no", "received_at", "picked_up_at"]
    column_searchable_list = ["recipient", "recipient_phone", "tracking_no", "unit.room_no"]
    column_sortable_list = ["id", "kind", "received_at", "picked_up_at"]
    column_default_sort = [("received_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("kind"),
                      FilledFilter("picked_up_at", "领取状态", "未领取", "已领取"), DrillFilter()]
    form_columns = ["project", "kind", "unit", "recipient", "recipient_phone", "carrier", "tracking_no",
                    "received_at", "picked_up_by", "picked_up_at", "recorded_by"]
    form_ajax_refs = ajax_refs(MailItem, "unit", "recorded_by")
    form_default_user = ("recorded_by",)
    form_default_now = ("received_at",)


class MeetingBookingAdmin(ScopedModelView, model=MeetingBooking):
    category = CATEGORY
    icon = "fa-solid fa-calendar-days"
    column_list = ["id", "room", "starts_at", "ends_at", "booked_by", "purpose", "attendees", "status"]
    column_searchable_list = ["room", "booked_by", "purpose"]
    column_sortable_list = ["id", "room", "starts_at", "ends_at", "status"]
    column_default_sort = [("starts_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), DrillFilter()]
    form_columns = ["project", "room", "starts_at", "ends_at", "booked_by", "phone", "unit", "customer", "purpose",
                    "attendees", "services", "status", "approved_by", "recorded_by"]
    form_ajax_refs = ajax_refs(MeetingBooking, "unit", "customer", "approved_by", "recorded_by")
    form_default_user = ("recorded_by",)


class RenovationApplicationAdmin(ScopedModelView, model=RenovationApplication):
    category = CATEGORY
    icon = "fa-solid fa-paint-roller"
    column_list = ["id", "unit", "applicant", "contractor", "start_date", "end_date", "deposit", "status"]
    column_searchable_list = ["applicant", "contractor", "unit.room_no"]
    column_sortable_list = ["id", "start_date", "end_date", "deposit", "status", "inspected_on"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), OperationColumnFilter("start_date"),
                      OperationColumnFilter("end_date"), DrillFilter()]
    form_columns = ["project", "unit", "applicant", "applicant_phone", "customer", "contractor",
                    "contractor_contact", "contractor_phone", "scope", "start_date", "end_date", "deposit",
                    "deposit_refunded", "status", "approved_by", "approved_on", "inspected_on", "refunded_on",
                    "note"]
    form_ajax_refs = ajax_refs(RenovationApplication, "unit", "customer", "approved_by")


class WorkerPermitAdmin(ScopedModelView, model=WorkerPermit):
    category = CATEGORY
    icon = "fa-solid fa-id-card"
    column_list = ["id", "code", "name", "trade", "renovation", "valid_from", "valid_to", "returned_on"]
    column_searchable_list = ["code", "name"]
    column_sortable_list = ["id", "code", "name", "valid_from", "valid_to", "returned_on"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), FilledFilter("returned_on", "交回状态", "未交回", "已交回"),
                      OperationColumnFilter("valid_to")]
    form_columns = ["project", "renovation", "code", "name", "id_number", "phone", "trade", "valid_from", "valid_to",
                    "fee", "returned_on"]
    form_ajax_refs = ajax_refs(WorkerPermit, "renovation")

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        return [("打印出入证", print_url(request, self.identity, obj.id))]

    @expose("/print", methods=["GET"])
    async def print_slip(self, request: Request) -> Response:
        return await slip_page(self, request, slips.worker_permit_slip, "permit_id")


class MoveInChecklistAdmin(ScopedModelView, model=MoveInChecklist):
    category = CATEGORY
    icon = "fa-solid fa-door-open"
    column_list = ["id", "unit", "customer", "received_by", "handover_date", "keys_count", "accepted", "owner_signed"]
    column_searchable_list = ["received_by", "unit.room_no", "customer.name"]
    column_sortable_list = ["id", "handover_date", "keys_count", "accepted", "owner_signed"]
    column_default_sort = [("handover_date", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), BooleanFilter("accepted"), BooleanFilter("owner_signed"),
                      OperationColumnFilter("handover_date")]
    form_columns = ["project", "unit", "customer", "received_by", "handover_date", "water_reading", "power_reading",
                    "gas_reading", "keys_count", "documents", "accepted", "owner_signed", "handled_by", "note"]
    form_ajax_refs = ajax_refs(MoveInChecklist, "unit", "customer", "handled_by")
    form_default_now = ("handover_date",)

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        return [("打印物业验收清单", print_url(request, self.identity, obj.id))]

    @expose("/print", methods=["GET"])
    async def print_slip(self, request: Request) -> Response:
        return await slip_page(self, request, slips.move_in_slip, "checklist_id", pii=False)


class HouseDefectAdmin(ScopedModelView, model=HouseDefect):
    category = CATEGORY
    icon = "fa-solid fa-house-crack"
    column_list = ["id", "unit", "location", "description", "found_on", "sent_on", "status", "follow_up"]
    column_searchable_list = ["location", "description", "unit.room_no"]
    column_sortable_list = ["id", "found_on", "sent_on", "status", "closed_on"]
    column_default_sort = [("found_on", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), ScopedForeignKeyFilter("follow_up"),
                      OperationColumnFilter("found_on")]
    form_columns = ["project", "unit", "checklist", "location", "description", "found_on", "sent_on", "status",
                    "follow_up", "result", "closed_on"]
    form_ajax_refs = ajax_refs(HouseDefect, "unit", "checklist", "follow_up")
    form_default_now = ("found_on",)


class RectificationNoticeAdmin(ScopedModelView, model=RectificationNotice):
    category = CATEGORY
    icon = "fa-solid fa-file-circle-exclamation"
    column_list = ["id", "code", "unit", "violation", "issued_on", "deadline", "status", "checked_on"]
    column_searchable_list = ["code", "violation", "unit.room_no"]
    column_sortable_list = ["id", "code", "issued_on", "deadline", "status", "checked_on"]
    column_default_sort = [("issued_on", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), OperationColumnFilter("deadline"),
                      DrillFilter()]
    form_columns = ["project", "code", "unit", "customer", "violation", "requirement", "issued_on", "deadline",
                    "issued_by", "status", "checked_on", "check_result"]
    form_ajax_refs = ajax_refs(RectificationNotice, "unit", "customer", "issued_by")
    form_default_user = ("issued_by",)
    form_default_now = ("issued_on",)

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        return [("打印整改通知书", print_url(request, self.identity, obj.id))]

    @expose("/print", methods=["GET"])
    async def print_slip(self, request: Request) -> Response:
        return await slip_page(self, request, slips.rectification_slip, "notice_id", pii=False)


class OwnerNoticeAdmin(ScopedModelView, model=OwnerNotice):
    category = CATEGORY
    icon = "fa-solid fa-bullhorn"
    column_list = ["id", "title", "audience", "audience_note", "published_from", "published_to", "issued_by"]
    column_searchable_list = ["title", "body"]
    column_sortable_list = ["id", "title", "audience", "published_from", "published_to"]
    column_default_sort = [("published_from", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("audience"), OperationColumnFilter("published_from")]
    form_columns = ["project", "title", "body", "audience", "audience_note", "published_from", "published_to",
                    "issued_by"]
    form_ajax_refs = ajax_refs(OwnerNotice, "issued_by")
    form_default_user = ("issued_by",)
    form_default_now = ("published_from",)


class VendorCheckAdmin(ScopedModelView, model=VendorCheck):
    category = CATEGORY
    icon = "fa-solid fa-handshake"
    column_list = ["id", "project", "month", "vendor_name", "service_kind", "score", "rectify_by", "rectification",
                   "checked_by"]
    column_searchable_list = ["vendor_name", "findings"]
    column_sortable_list = ["id", "month", "vendor_name", "service_kind", "score", "rectify_by", "rectification"]
    column_default_sort = [("month", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("service_kind"), OperationColumnFilter("month"),
                      EnumFilter("rectification")]
    form_columns = ["project", "vendor_name", "service_kind", "month", "score", "findings", "rectify_by", "checked_by",
                    "rectification", "rechecked_on", "recheck_result"]
    form_ajax_refs = ajax_refs(VendorCheck, "checked_by")
    form_default_user = ("checked_by",)
    form_typed_months = ("month",)  # stored as YYYY-MM by checked_month (actions/ledgers.py)


class CarryOverForm(PageForm):
    week_start = DateField(label_of(WeeklyTask, "week_start"), required=True)


class WeeklyTaskAdmin(ScopedModelView, model=WeeklyTask):
    """周计划 by section; 结转上周未完成 (a POST from the list page) carries last week's open tasks."""

    category = CATEGORY
    list_template = "wuye/ledgers/weekly_task_list.html"
    icon = "fa-solid fa-bars-progress"
    # 项目 first: a branch (or a supervisor of two projects) reads several projects' plans in one list
    column_list = ["project", "week_start", "section", "task", "owner", "deadline", "deadline_time", "status"]
    column_searchable_list = ["task", "owner.name"]
    column_sortable_list = ["id", "week_start", "section", "deadline", "status"]
    column_default_sort = [("week_start", True), ("section", False), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("section"), EnumFilter("status"),
                      ScopedForeignKeyFilter("owner"), OperationColumnFilter("week_start"), DrillFilter()]
    form_columns = ["project", "week_start", "section", "task", "owner", "deadline", "deadline_time", "status", "note"]
    # a plan is one week's list: each new task starts in this week (保存并继续新建 no longer asks for it each time)
    form_args = {"week_start": {"default": lambda: monday_of(today_local())}}
    form_ajax_refs = ajax_refs(WeeklyTask, "owner")
    column_formatters = {"deadline_time": lambda m, a: f"{m.deadline_time:%H:%M}前" if m.deadline_time else ""}

    @expose("/carry-over", methods=["POST"])
    async def carry_over_submit(self, request: Request) -> Response:
        self.require(request, "create")
        result = await run_action(self.session_maker, request, weekly_plan.carry_over_tasks,
                                  **CarryOverForm.read(await request.form()).data)
        Flash.success(request, result.message)
        # the list opens on that week's plan (its 周起始日 filter: 等于 the Monday), the carried tasks among it
        url = request.url_for("admin:list", identity=self.identity).include_query_params(
            week_start_op="equals", week_start=str(result.week_start))
        return RedirectResponse(url, status_code=303)


class WeeklyReviewAdmin(ScopedModelView, model=WeeklyReview):
    category = CATEGORY
    icon = "fa-solid fa-magnifying-glass-chart"
    column_list = ["id", "project", "week_start", "reviewed_on", "chaired_by", "problems", "improvements"]
    column_searchable_list = ["summary", "problems", "improvements"]
    column_sortable_list = ["id", "week_start", "reviewed_on"]
    column_default_sort = [("week_start", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), OperationColumnFilter("week_start")]
    form_columns = ["project", "week_start", "reviewed_on", "chaired_by", "summary", "problems", "improvements"]
    form_ajax_refs = ajax_refs(WeeklyReview, "chaired_by")
    form_default_user = ("chaired_by",)
    form_default_now = ("reviewed_on",)

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        """复盘 reads the week's plan: what was planned, whose, and what is still open."""
        url = request.url_for("admin:list", identity="weekly-task").include_query_params(
            project_id=obj.project_id, week_start_op="equals", week_start=str(obj.week_start))
        return [("该周计划", str(url))]


def _visitor_state(model: VisitorEntry, attribute: str) -> Markup | str:
    """离开时间, or 未离开 for a visitor still inside."""
    return local_datetime(model.left_at) if model.left_at else Markup('<span class="badge bg-warning">未离开</span>')


class VisitorEntryAdmin(ScopedModelView, model=VisitorEntry):
    """来访登记: filled at the desk as the visitor arrives (time and 登记人 preset); 离开时间 when they leave."""

    category = CATEGORY
    icon = "fa-solid fa-id-card-clip"
    column_list = ["id", "arrived_at", "visitor", "people", "purpose", "visiting", "unit", "document", "left_at"]
    column_searchable_list = ["visitor", "visitor_phone", "visiting", "plate_no", "unit.room_no"]
    column_sortable_list = ["id", "arrived_at", "purpose", "left_at"]
    column_default_sort = [("arrived_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("purpose"),
                      FilledFilter("left_at", "离开状态", "未离开", "已离开"), OperationColumnFilter("arrived_at")]
    column_formatters = {"left_at": _visitor_state}
    form_columns = ["project", "visitor", "visitor_phone", "people", "purpose", "visiting", "unit", "document",
                    "plate_no", "arrived_at", "left_at", "note", "recorded_by"]
    form_ajax_refs = ajax_refs(VisitorEntry, "unit", "recorded_by")
    form_default_user = ("recorded_by",)
    form_default_now = ("arrived_at",)
