"""View of 导入批次: read-only, newest first — batches are written by the import pipeline only."""

from __future__ import annotations

from models import ImportBatch

from .base import EnumFilter, ReadOnlyView


class ImportBatchAdmin(ReadOnlyView, model=ImportBatch):
    category = "系统管理"
    icon = "fa-solid fa-file-import"
    column_list = ["id", "started_at", "kind", "target", "file_name", "status", "finished_at"]
    column_details_exclude_list = ["file_hash"]
    column_searchable_list = ["file_name", "kind", "target"]
    column_sortable_list = ["id", "started_at", "kind", "status", "finished_at"]
    column_default_sort = [("started_at", True), ("id", True)]
    column_filters = [EnumFilter("status")]
