"""收费 tasks in the console: 收费标准年审 (scheduled for a year and completed with POSTs above the list) and 车位租赁
(the form saves through the lease action, which refuses an overlapping term; 退租 a POST)."""

from __future__ import annotations

from sqladmin import expose
from starlette.requests import Request
from starlette.responses import Response

from actions import fee_tasks
from models import FeeReview, ParkingLease, label_of

from ..forms import DateField, IdField, PageForm, TextField
from .base import EnumFilter, OperationColumnFilter, ScopedForeignKeyFilter, ScopedModelView, ajax_refs
from .pages import list_step

CATEGORY = "收费催缴"
SCHEDULE = "action:schedule-reviews"  # 生成年审任务
COMPLETE = "action:complete-review"  # 登记年审结论
END_LEASE = "action:end-lease"  # 退租


class ScheduleForm(PageForm):
    year = IdField(label_of(FeeReview, "year"), default=0)


class CompleteForm(PageForm):
    review_id = IdField(FeeReview.__label__)
    outcome = TextField(label_of(FeeReview, "outcome"))


class EndLeaseForm(PageForm):
    lease_id = IdField(ParkingLease.__label__)
    end_date = DateField(label_of(ParkingLease, "end_date"))


class FeeReviewAdmin(ScopedModelView, model=FeeReview):
    category = CATEGORY
    icon = "fa-solid fa-scale-balanced"
    list_template = "wuye/fees/fee_review_list.html"
    can_create = False
    can_edit = False
    column_list = ["id", "project", "year", "fee_type", "due_from", "due_by", "status", "reviewed_on", "reviewer",
                   "outcome"]
    column_sortable_list = ["id", "year", "due_by", "status"]
    column_default_sort = [("year", True), ("id", False)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), OperationColumnFilter("year")]

    @expose("/schedule", methods=["POST"])
    async def schedule_submit(self, request: Request) -> Response:
        """生成年审任务 of a year for the user's projects."""
        return await list_step(self, request, SCHEDULE, fee_tasks.schedule_fee_reviews, ScheduleForm)

    @expose("/complete", methods=["POST"])
    async def complete_submit(self, request: Request) -> Response:
        return await list_step(self, request, COMPLETE, fee_tasks.complete_fee_review, CompleteForm)


class ParkingLeaseAdmin(ScopedModelView, model=ParkingLease):
    """New leases save through ``lease_parking_space`` (no overlapping term); a lease ends by 退租, not by editing."""

    category = CATEGORY
    icon = "fa-solid fa-square-parking"
    list_template = "wuye/fees/parking_lease_list.html"
    can_edit = False
    can_delete = False
    column_list = ["id", "project", "space", "customer", "plate_no", "start_date", "end_date", "monthly_rent"]
    column_searchable_list = ["plate_no", "space.code", "customer.name"]
    column_sortable_list = ["id", "start_date", "end_date", "monthly_rent"]
    column_default_sort = [("end_date", False), ("id", False)]
    column_filters = [ScopedForeignKeyFilter("project"), OperationColumnFilter("end_date")]
    form_columns = ["space", "customer", "plate_no", "start_date", "end_date", "monthly_rent", "note"]
    form_ajax_refs = ajax_refs(ParkingLease, "space", "customer")

    @expose("/end", methods=["POST"])
    async def end_submit(self, request: Request) -> Response:
        """退租."""
        return await list_step(self, request, END_LEASE, fee_tasks.end_parking_lease, EndLeaseForm)
