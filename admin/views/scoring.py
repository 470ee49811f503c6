"""Views of 员工考核: the rules, score events, months, monthly scores, grade bands and 服务之星.

Monthly scores are computed by the scoring action (one row per employee and month, B08) and shown read-only;
confirming a month and choosing the 服务之星 are actions that record who did it, not form fields.
"""

from __future__ import annotations

from models import GradeBand, MonthlyScore, ScoreEvent, ScoreMonth, ScoringRule, ServiceStar

from .base import (
    BooleanFilter,
    EnumFilter,
    OperationColumnFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
)


class ScoringRuleAdmin(ScopedModelView, model=ScoringRule):
    category = "员工考核"
    icon = "fa-solid fa-scale-balanced"
    column_list = ["id", "code", "category", "description", "points_min", "points_max", "source", "valid_from"]
    column_searchable_list = ["code", "description"]
    column_sortable_list = ["id", "code", "category", "points_min", "points_max", "valid_from", "valid_to"]
    column_default_sort = [("code", False)]
    column_filters = [EnumFilter("category"), EnumFilter("source"), BooleanFilter("choose_in_range")]
    form_columns = ["code", "category", "description", "points_min", "points_max", "choose_in_range", "source",
                    "valid_from", "valid_to"]


class ScoreEventAdmin(ScopedModelView, model=ScoreEvent):
    category = "员工考核"
    icon = "fa-solid fa-clipboard-check"
    column_list = ["id", "event_date", "staff", "rule", "points", "source", "recorded_by"]
    column_searchable_list = ["staff.name", "note"]
    column_sortable_list = ["id", "event_date", "points", "source"]
    column_default_sort = [("event_date", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        ScopedForeignKeyFilter("staff"),
        EnumFilter("source"),
        OperationColumnFilter("event_date"),
    ]
    form_columns = ["project", "staff", "event_date", "rule", "points", "note", "source", "source_id", "recorded_by"]
    form_ajax_refs = ajax_refs(ScoreEvent, "staff", "rule", "recorded_by")


class ScoreMonthAdmin(ScopedModelView, model=ScoreMonth):
    category = "员工考核"
    icon = "fa-solid fa-calendar-check"
    column_list = ["id", "project", "month", "status", "base_score", "computed_at", "confirmed_by", "confirmed_at"]
    column_searchable_list = ["month"]
    column_sortable_list = ["id", "month", "status", "computed_at", "confirmed_at"]
    column_default_sort = [("month", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), OperationColumnFilter("month")]
    form_columns = ["project", "month", "base_score", "spot_check_note"]


class MonthlyScoreAdmin(ScopedModelView, model=MonthlyScore):
    category = "员工考核"
    icon = "fa-solid fa-ranking-star"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "month", "staff", "total", "deductions", "additions", "rank", "grade"]
    column_searchable_list = ["staff.name", "month"]
    column_sortable_list = ["id", "month", "total", "deductions", "additions", "rank", "grade"]
    column_default_sort = [("month", True), ("rank", False)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("staff"), OperationColumnFilter("month")]


class ServiceStarAdmin(ScopedModelView, model=ServiceStar):
    category = "员工考核"
    icon = "fa-solid fa-award"
    column_list = ["id", "quarter", "project", "staff", "reason", "chosen", "chosen_at"]
    column_searchable_list = ["quarter", "staff.name"]
    column_sortable_list = ["id", "quarter", "chosen", "chosen_at"]
    column_default_sort = [("quarter", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), BooleanFilter("chosen"), OperationColumnFilter("quarter")]
    form_columns = ["project", "quarter", "staff", "reason"]
    form_ajax_refs = ajax_refs(ServiceStar, "staff")


class GradeBandAdmin(ScopedModelView, model=GradeBand):
    category = "员工考核"
    icon = "fa-solid fa-medal"
    column_list = ["id", "name", "min_total"]
    column_sortable_list = ["id", "name", "min_total"]
    column_default_sort = [("min_total", True)]
    form_columns = ["name", "min_total"]
