"""Views of 客服工单: service requests, work orders, callbacks and visits, SLA and routing rules."""

from __future__ import annotations

from models import RoutingRule, ServiceRequest, SlaRule, Visit, WorkOrder

from .base import BooleanFilter, EnumFilter, ScopedForeignKeyFilter, ScopedModelView, ajax_refs


class ServiceRequestAdmin(ScopedModelView, model=ServiceRequest):
    category = "客服工单"
    icon = "fa-solid fa-phone"
    column_list = ["id", "received_at", "kind", "category", "unit", "contact_name", "status", "receiver"]
    column_searchable_list = ["contact_name", "contact_phone", "unit.room_no"]
    column_sortable_list = ["id", "received_at", "kind", "category", "priority", "status", "closed_at"]
    column_default_sort = [("received_at", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("status"),
        EnumFilter("kind"),
        EnumFilter("category"),
        EnumFilter("channel"),
        EnumFilter("priority"),
        BooleanFilter("complaint_major"),
    ]
    form_columns = [
        "project", "channel", "kind", "category", "priority", "status", "unit", "customer", "contact_name",
        "contact_phone", "content", "received_at", "receiver", "repeat_of", "complaint_valid", "complaint_major",
        "complained_staff", "praised_staff", "reply", "closed_at",
    ]
    form_ajax_refs = ajax_refs(
        ServiceRequest, "unit", "customer", "receiver", "repeat_of", "complained_staff", "praised_staff"
    )


class WorkOrderAdmin(ScopedModelView, model=WorkOrder):
    category = "客服工单"
    icon = "fa-solid fa-screwdriver-wrench"
    column_list = ["id", "request", "department", "assignee", "priority", "status", "dispatched_at", "complete_due_at"]
    column_searchable_list = ["assignee.name", "request.contact_name", "result"]
    column_sortable_list = ["id", "priority", "status", "dispatched_at", "respond_due_at", "complete_due_at",
                            "completed_at", "closed_at"]
    column_default_sort = [("dispatched_at", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("status"),
        ScopedForeignKeyFilter("department"),
        ScopedForeignKeyFilter("assignee"),
        EnumFilter("priority"),
        BooleanFilter("paid_service"),
    ]
    form_columns = [
        "project", "request", "department", "assignee", "priority", "status", "dispatched_at", "dispatched_by",
        "respond_due_at", "complete_due_at", "accepted_at", "completed_at", "closed_at", "result",
        "paid_service", "quote", "quote_accepted", "charge", "reopen_count", "reassign_note",
    ]
    form_ajax_refs = ajax_refs(WorkOrder, "request", "assignee", "dispatched_by")


class VisitAdmin(ScopedModelView, model=Visit):
    category = "客服工单"
    icon = "fa-solid fa-comments"
    column_list = ["id", "visited_at", "kind", "way", "unit", "customer", "result", "visitor"]
    column_searchable_list = ["unit.room_no", "customer.name", "notes"]
    column_sortable_list = ["id", "visited_at", "kind", "way", "result"]
    column_default_sort = [("visited_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("kind"), EnumFilter("way"), EnumFilter("result")]
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
