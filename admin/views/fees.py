"""Views of 收费催缴: fee types, bills, payments, dunning runs and notices.

Dunning runs and their notices are made by the dunning action (one run key per project, month and stage,
a second manager's approval for 停电/封铺): the console lists them and records a notice's delivery, it does
not create or approve them by hand.
"""

from __future__ import annotations

from models import Bill, DunningNotice, DunningRun, FeeType, Payment

from .base import (
    BooleanFilter,
    EnumFilter,
    OperationColumnFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
)


class FeeTypeAdmin(ScopedModelView, model=FeeType):
    category = "收费催缴"
    icon = "fa-solid fa-tags"
    column_list = ["id", "project", "name", "basis", "rate", "due_day", "active", "reviewed_on"]
    column_searchable_list = ["name"]
    column_sortable_list = ["id", "name", "basis", "rate", "due_day", "reviewed_on"]
    column_default_sort = [("project_id", False), ("name", False)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("basis"), BooleanFilter("active")]
    form_columns = ["project", "name", "basis", "rate", "due_day", "active", "reviewed_on"]


class BillAdmin(ScopedModelView, model=Bill):
    category = "收费催缴"
    icon = "fa-solid fa-file-invoice-dollar"
    column_list = ["id", "period", "unit", "fee_type", "amount_due", "amount_paid", "status", "due_date"]
    column_searchable_list = ["period", "unit.room_no", "customer.name"]
    column_sortable_list = ["id", "period", "amount_due", "amount_paid", "status", "due_date"]
    column_default_sort = [("period", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("status"),
        ScopedForeignKeyFilter("fee_type"),
        ScopedForeignKeyFilter("collector"),
        OperationColumnFilter("period"),
        OperationColumnFilter("due_date"),
    ]
    form_columns = ["project", "unit", "customer", "fee_type", "period", "amount_due", "amount_paid", "due_date",
                    "status", "collector"]
    form_ajax_refs = ajax_refs(Bill, "unit", "customer", "collector")


class PaymentAdmin(ScopedModelView, model=Payment):
    category = "收费催缴"
    icon = "fa-solid fa-money-bill"
    column_list = ["id", "bill", "amount", "method", "paid_at", "collector", "receipt_no"]
    column_searchable_list = ["receipt_no", "bill.period"]
    column_sortable_list = ["id", "amount", "method", "paid_at", "receipt_no"]
    column_default_sort = [("paid_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("method"), ScopedForeignKeyFilter("collector")]
    form_columns = ["project", "bill", "amount", "method", "paid_at", "collector", "receipt_no"]
    form_ajax_refs = ajax_refs(Payment, "bill", "collector")


class DunningRunAdmin(ScopedModelView, model=DunningRun):
    category = "收费催缴"
    icon = "fa-solid fa-bell"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "project", "cycle", "stage", "status", "notice_count", "total_amount", "requested_by"]
    column_searchable_list = ["cycle", "run_key"]
    column_sortable_list = ["id", "cycle", "stage", "status", "notice_count", "total_amount", "approved_at"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("stage"), EnumFilter("status"),
                      OperationColumnFilter("cycle")]


class DunningNoticeAdmin(ScopedModelView, model=DunningNotice):
    category = "收费催缴"
    icon = "fa-solid fa-envelope-open-text"
    can_create = False
    can_delete = False
    column_list = ["id", "cycle", "stage", "unit", "customer", "amount", "months_in_arrears", "delivered_at"]
    column_searchable_list = ["cycle", "unit.room_no", "customer.name", "signed_by"]
    column_sortable_list = ["id", "cycle", "stage", "amount", "months_in_arrears", "pay_by", "delivered_at"]
    column_default_sort = [("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("stage"),
        EnumFilter("delivery_way"),
        OperationColumnFilter("cycle"),
    ]
    # Only the delivery is recorded by hand: 送达时间、送达人、方式、签收人.
    form_columns = ["delivered_at", "delivered_by", "delivery_way", "signed_by", "note"]
    form_ajax_refs = ajax_refs(DunningNotice, "delivered_by")
