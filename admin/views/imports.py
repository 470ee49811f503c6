"""View of 导入批次: read-only, newest first — batches are written by the import pipeline only. Its detail page
names the import, its target and project and reads its counts as the other logs do (audit.TrailView)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from actions.actor import Actor
from models import ImportBatch

from .audit import TABLES, Names, TrailView, load_names, names_of, record_name, values_table
from .base import EnumFilter
from .spreadsheets import IMPORT_KINDS


def _kind(model: Any, _name: Any) -> str:
    spec = IMPORT_KINDS.get(model.kind)
    return spec.title if spec is not None else model.kind


def _target_ref(target: str) -> tuple[type, int] | None:
    """``survey:12`` → (满意度调查, 12); ``all`` (each row names its project) → None."""
    table, _, pk = (target or "").partition(":")
    model = TABLES.get(table)
    return (model, int(pk)) if model is not None and pk.isdigit() else None


def _target(model: Any, _name: Any, request: Request | None = None) -> str:
    ref = _target_ref(model.target)
    if ref is None:
        return "全部（按文件各行的项目）" if model.target == "all" else model.target
    name = names_of(request).get(ref)
    return f"{ref[0].__label__}：{name}" if name else f"{ref[0].__label__}#{ref[1]}"


class ImportBatchAdmin(TrailView, model=ImportBatch):
    category = "系统管理"
    icon = "fa-solid fa-file-import"
    column_list = ["id", "started_at", "kind", "target", "file_name", "status", "finished_at"]
    column_details_list = ["id", "kind", "target", "project_id", "file_name", "status", "started_at", "finished_at",
                           "actor_id", "counts"]
    column_searchable_list = ["file_name", "kind", "target"]
    column_sortable_list = ["id", "started_at", "kind", "status", "finished_at"]
    column_default_sort = [("started_at", True), ("id", True)]
    column_filters = [EnumFilter("status")]
    column_formatters = {"kind": _kind, "target": _target}
    column_formatters_detail = {
        "kind": _kind,
        "target": _target,
        "project_id": record_name("project_id"),
        "actor_id": record_name("actor_id"),
        "counts": lambda m, a, request: values_table(None, m.counts, names_of(request)),
    }

    def _names(self, obj: Any, actor: Actor) -> Names:
        names = super()._names(obj, actor)
        if ref := _target_ref(obj.target):
            with self.session_maker() as session:
                names.update(load_names(session, [ref], actor))
        return names
