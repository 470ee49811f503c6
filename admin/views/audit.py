"""Views of the audit trail (变更记录) and the operation log: read-only, newest first.

A record's detail page links here as ``/admin/audit-log/list?table_name=<table>&record_id=<id>``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from starlette.requests import Request

from actions.audit import operation_label
from models import AuditLog, OperationLog

from .base import EnumFilter, ReadOnlyView, StaticValuesFilter, table_choices

_TABLE_LABELS = dict(table_choices())


def _table_label(model: Any, _name: Any) -> str:
    return _TABLE_LABELS.get(model.table_name, model.table_name)


def _operation_label(model: Any, _name: Any) -> str:
    return operation_label(model.operation)


class AuditLogAdmin(ReadOnlyView, model=AuditLog):
    category = "系统管理"
    icon = "fa-solid fa-clock-rotate-left"
    column_list = ["id", "at", "actor_name", "kind", "table_name", "record_id", "summary", "ip"]
    column_searchable_list = ["actor_name", "summary", "record_id"]
    column_sortable_list = ["id", "at", "actor_name", "kind", "table_name"]
    column_default_sort = [("at", True), ("id", True)]
    column_filters = [
        EnumFilter("kind"),
        StaticValuesFilter("table_name", values=table_choices(), parameter_name="table_name"),
    ]
    column_formatters = {"table_name": _table_label}
    column_formatters_detail = {"table_name": _table_label}

    def list_query(self, request: Request) -> Select:
        """``?table_name=…&record_id=…``: the trail of one record, as linked from its detail page."""
        stmt = super().list_query(request)
        table = request.query_params.get("table_name")
        record = request.query_params.get("record_id")
        if table and table != "__all":
            stmt = stmt.where(AuditLog.table_name == table)
        if record:
            stmt = stmt.where(AuditLog.record_id == record)
        return stmt


class OperationLogAdmin(ReadOnlyView, model=OperationLog):
    category = "系统管理"
    icon = "fa-solid fa-list"
    column_list = ["id", "at", "actor_name", "operation", "status", "message"]
    column_searchable_list = ["actor_name", "operation", "message"]
    column_sortable_list = ["id", "at", "actor_name", "operation", "status"]
    column_default_sort = [("at", True), ("id", True)]
    column_filters = [EnumFilter("status")]
    column_formatters = {"operation": _operation_label}
    column_formatters_detail = {"operation": _operation_label}
