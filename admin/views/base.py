"""The base of every console view: Chinese labels from the models, and project scope on every path.

Scope is applied to lists, counts, details, edit, delete, exports, select2 lookups, filter choices and action
targets alike. sqladmin 0.32 passes ``None`` to ``check_can_delete`` for a row its scoped query cannot see,
and would then delete it with an unscoped lookup: here ``None`` is always refused (A04).
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

from markupsafe import Markup, escape
from sqladmin import ModelView
from sqladmin.authorization import Action
from sqladmin.models import ModelViewMeta
from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import RelationshipProperty
from starlette.exceptions import HTTPException
from starlette.requests import Request

from actions.actor import SYSTEM, Actor
from actions.privacy import mask
from models import LabeledEnum, labels_of

PAGE_SIZE = 20


def request_actor(request: Request) -> Actor:
    return getattr(request.state, "actor", None) or SYSTEM


def _enum_formatter(attr: str):
    def fmt(model: Any, _name: Any) -> Any:
        value = getattr(model, attr)
        return value.label if isinstance(value, LabeledEnum) else value

    return fmt


def _pii_formatter(attr: str, kind: str):
    def fmt(model: Any, _name: Any) -> str:
        return mask(kind, getattr(model, attr))

    return fmt


class WuyeViewMeta(ModelViewMeta):
    """Derives names, column labels, enum choices and formatters from the model's declarations."""

    def __new__(mcs, name: str, bases: tuple, attrs: dict, **kwargs: Any):
        model = kwargs.get("model")
        if model is not None:
            attrs.setdefault("name", model.__label__)
            attrs.setdefault("name_plural", model.__label__)
            attrs["column_labels"] = {**labels_of(model), **attrs.get("column_labels", {})}
            form_args = dict(attrs.get("form_args", {}))
            list_fmt = dict(attrs.get("column_formatters", {}))
            detail_fmt = dict(attrs.get("column_formatters_detail", {}))
            for prop in inspect(model).column_attrs:
                column = prop.columns[0]
                enum_cls = getattr(column.type, "enum_class", None)
                if enum_cls is not None and issubclass(enum_cls, LabeledEnum):
                    args = dict(form_args.get(prop.key, {}))
                    args.setdefault("choices", enum_cls.choices())
                    args.setdefault("coerce", lambda v: v.value if isinstance(v, enum.Enum) else str(v))
                    form_args[prop.key] = args
                    list_fmt.setdefault(prop.key, _enum_formatter(prop.key))
                    detail_fmt.setdefault(prop.key, _enum_formatter(prop.key))
                if column.doc:
                    form_args.setdefault(prop.key, {}).setdefault("description", column.doc)
                pii = column.info.get("pii")
                if pii:
                    list_fmt.setdefault(prop.key, _pii_formatter(prop.key, pii))
            attrs["form_args"] = form_args
            attrs["column_formatters"] = list_fmt
            attrs["column_formatters_detail"] = detail_fmt
        return super().__new__(mcs, name, bases, attrs, **kwargs)


class ScopedModelView(ModelView, metaclass=WuyeViewMeta):
    """A model view whose every access path is limited to the user's projects."""

    page_size = PAGE_SIZE
    page_size_options: ClassVar[list[int]] = [20, 50, 100]
    column_default_sort: ClassVar = [("id", True)]
    form_excluded_columns: ClassVar[list[str]] = ["created_at", "updated_at", "version"]
    can_export = True
    export_types: ClassVar[list[str]] = ["xlsx"]
    # A form that names a related record is checked server-side for the related record's project (A08).
    icon = "fa-solid fa-table"

    # --- scope ---------------------------------------------------------------------------------
    @classmethod
    def project_column(cls) -> Any | None:
        return getattr(cls.model, "project_id", None)

    def scoped(self, request: Request, stmt: Select) -> Select:
        column = self.project_column()
        if column is None:
            return stmt
        return stmt.where(request_actor(request).project_filter(column))

    def list_query(self, request: Request) -> Select:
        return self.scoped(request, select(self.model))

    def count_query(self, request: Request) -> Select:
        return self.scoped(request, super().count_query(request))

    def details_query(self, request: Request) -> Select:
        return self.scoped(request, super().details_query(request))

    def form_edit_query(self, request: Request) -> Select:
        return self.scoped(request, super().form_edit_query(request))

    def in_scope(self, request: Request, obj: Any) -> bool:
        if obj is None:
            return False
        column = self.project_column()
        return column is None or request_actor(request).can_see(obj.project_id)

    async def check_can_view_details(self, request: Request, model: Any) -> bool:
        return self.in_scope(request, model) and await super().check_can_view_details(request, model)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        return self.in_scope(request, model) and await super().check_can_edit(request, model)

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        return self.in_scope(request, model) and await super().check_can_delete(request, model)

    async def get_object_for_details(self, request: Request) -> Any:
        obj = await super().get_object_for_details(request)
        if obj is None:
            raise HTTPException(status_code=404, detail="记录不存在或无权查看")
        return obj

    async def on_model_change(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        """Refuse a form that puts the record, or any record it points at, outside the user's projects."""
        actor = request_actor(request)
        project_id = data.get("project") or data.get("project_id") or getattr(model, "project_id", None)
        if hasattr(project_id, "id"):
            project_id = project_id.id
        if self.project_column() is not None and project_id is not None and not actor.can_see(int(project_id)):
            raise HTTPException(status_code=403, detail="不能把记录放到无权访问的项目")
        for key, value in data.items():
            prop = self._mapper.attrs.get(key)
            if not isinstance(prop, RelationshipProperty) or value is None:
                continue
            for target in value if isinstance(value, list | set | tuple) else [value]:
                target_project = getattr(target, "project_id", None)
                if target_project is not None and not actor.can_see(target_project):
                    raise HTTPException(status_code=403, detail=f"{self._column_labels.get(prop, key)}：无权引用该记录")
        await super().on_model_change(data, model, is_created, request)

    # --- actions -------------------------------------------------------------------------------
    async def scoped_targets(self, request: Request, pks: list[str]) -> list[Any]:
        """The rows an action was asked to run on; one row outside the scope refuses the whole request (A07)."""
        ids = [int(pk) for pk in pks if pk.strip().isdigit()]
        if not ids or len(ids) != len(pks):
            raise HTTPException(status_code=400, detail="请先选择记录")
        rows = await self._run_query(select(self.model).where(self.pk_columns[0].in_(ids)))
        if len(rows) != len(set(ids)) or any(not self.in_scope(request, row) for row in rows):
            raise HTTPException(status_code=403, detail="所选记录中有无权操作的记录")
        return rows

    def require(self, request: Request, action: str) -> None:
        """Explicit permission check for custom endpoints (``@expose`` only checks ``is_accessible``)."""
        if not self.has_permission(request, action):
            raise HTTPException(status_code=403, detail="没有执行此操作的权限")


def escape_text(value: Any) -> Markup:
    return escape("" if value is None else str(value))


__all__ = ["Action", "ScopedModelView", "request_actor", "escape_text"]
