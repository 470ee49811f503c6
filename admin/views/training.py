"""Views of 培训: the training plan and sessions of each project, and each staff member's attendance and score
(a staff member's training history is the attendance list filtered by them)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from starlette.requests import Request

from models import TrainingAttendance, TrainingSession

from .base import (
    BooleanFilter,
    EnumFilter,
    OperationColumnFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    request_actor,
)

CATEGORY = "员工考核"


class TrainingSessionAdmin(ScopedModelView, model=TrainingSession):
    category = CATEGORY
    icon = "fa-solid fa-chalkboard-user"
    column_list = ["id", "project", "planned_on", "topic", "title", "trainer", "hours", "has_test", "status",
                   "held_on"]
    column_searchable_list = ["title", "trainer"]
    column_sortable_list = ["id", "planned_on", "topic", "status", "held_on"]
    column_default_sort = [("planned_on", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("topic"), EnumFilter("status"),
                      OperationColumnFilter("planned_on")]
    form_columns = ["project", "topic", "title", "trainer", "planned_on", "held_on", "hours", "has_test", "status",
                    "summary", "recorded_by"]
    form_ajax_refs = ajax_refs(TrainingSession, "recorded_by")
    form_default_user = ("recorded_by",)


class TrainingAttendanceAdmin(ScopedModelView, model=TrainingAttendance):
    category = CATEGORY
    icon = "fa-solid fa-user-check"
    column_list = ["id", "session", "staff", "attended", "score", "note"]
    column_searchable_list = ["staff.name", "session.title"]
    column_sortable_list = ["id", "attended", "score"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("session"), ScopedForeignKeyFilter("staff"), BooleanFilter("attended")]
    form_columns = ["session", "staff", "attended", "score", "note"]
    form_ajax_refs = ajax_refs(TrainingAttendance, "session", "staff")

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        # An attendance has no project of its own: it belongs to its training's.
        actor = request_actor(request)
        if actor.sees_all:
            return None
        sessions = select(TrainingSession.id).where(actor.project_filter(TrainingSession.project_id))
        return TrainingAttendance.session_id.in_(sessions)
