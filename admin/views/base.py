"""The base of every console view: Chinese labels from the models, and project scope on every path.

Scope is applied to lists, counts, details, edit, delete, exports, select2 lookups, filter choices and action
targets alike. sqladmin 0.32 passes ``None`` to ``check_can_delete`` for a row its scoped query cannot see,
and would then delete it with an unscoped lookup: here ``None`` is always refused (A04).

What a view declares, the base completes:
- labels: column, relation and relation-path labels (``"building.name"`` → 楼栋), filter titles, enum choices;
- scope: list/count/details/edit/delete queries, every ``form_ajax_refs`` lookup (A06), the choices of
  non-ajax relation fields and of :class:`ScopedForeignKeyFilter` (A10), the records a form points at (A08);
- personal data: masked in lists, on the detail page and in the edit form unless the role holds
  ``action:view-pii`` on the view; a full view writes a 查看敏感信息 audit row (P01); phone and ID numbers typed
  in a form obey the imports' rule (``clean.phone``, ``clean.id_number``), a masked one sent back unchanged
  keeps the stored value;
- display: a record stands for itself by its ``__str__``; the relations it shows (``__display_loads__``) are
  loaded wherever it appears — lists, details, relation fields, select2 lookups and their current values;
- limited edit: a role that may edit but not create a view's records gets only its ``limited_form_columns``;
- optimistic locking: versioned records carry their version through the edit form (B09); the version itself
  is never shown on a details page;
- form defaults: ``form_default_user`` / ``form_default_now`` pre-fill a new record's 登记人 and 登记时间;
- a status that needs other fields (the model's ``status_requires``, e.g. 已发还 → 认领人、发还时间) is refused
  without them, nothing written.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import anyio
from markupsafe import Markup, escape
from sqladmin import ModelView, action
from sqladmin.ajax import QueryAjaxModelLoader
from sqladmin.authorization import Action, custom_action
from sqladmin.fields import SelectField
from sqladmin.filters import BooleanFilter, StaticValuesFilter, get_column_obj, get_title
from sqladmin.filters import OperationColumnFilter as _OperationColumnFilter
from sqladmin.formatters import BASE_FORMATTERS
from sqladmin.forms import ModelConverter, converts
from sqladmin.helpers import get_object_identifier, object_identifier_values, slugify_class_name
from sqladmin.models import ModelViewMeta
from sqladmin.pagination import Pagination
from sqlalchemy import ColumnElement, Date, Select, String, and_, cast, func, inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import RelationshipProperty, selectinload
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from wtforms import validators
from wtforms.fields import DecimalField, HiddenField
from wtforms.fields.core import UnboundField

from actions import attachments, records
from actions import requests as intake
from actions.actor import Actor, current_actor
from actions.audit import log_event
from actions.errors import NotPermitted, Refused
from actions.form_tokens import new_form_token
from actions.kernel import money
from actions.kernel.periods import local_day_bounds, within_years
from actions.kernel.scope import company_wide
from actions.privacy import mask, shown_tail, whole_number
from actions.records import EditConflict
from actions.spreadsheets import clean
from actions.spreadsheets.clean import MASKED, Invalid
from models import (
    SHANGHAI,
    AuditKind,
    Base,
    Bill,
    Branch,
    Building,
    Customer,
    Department,
    DunningRun,
    FeeType,
    ImportBatch,
    KeyRecord,
    LabeledEnum,
    MoveInChecklist,
    Phase,
    Project,
    RenovationApplication,
    Role,
    ScoringRule,
    ServiceRequest,
    SlaRule,
    Staff,
    Survey,
    SurveyResponse,
    Unit,
    User,
    WorkOrder,
    label_of,
    labels_of,
)
from models.base import IdMixin, UTCDateTime, display_loads, loader_of, table_labels

from ..i18n import ChineseForm
from ..security import database_refusal, log_database_error
from . import listing
from .attachments import ATTACH, AttachmentsMixin, attachments_context
from .list_export import PII_SEARCH, export_response, filtered_query
from .pages import request_actor

PAGE_SIZE = 20
_PK_SLOT = "__wuye_pk__"
ALL = "__all"
ALL_LABEL = "全部"
FILTER_ROWS = "wuye_filter_rows"  # request.state: {a filter's parameter: its choices' rows}, read with the page
VIEW_PII = "view-pii"  # the custom action whose grant shows personal data in full: ("customer", "action:view-pii")
CONFLICT_MESSAGE = "已被他人修改，请刷新后重试"
AUDIT_IDENTITY = "audit-log"
_PII_FULL_STATE = "wuye_pii_full"
DETAIL_OBJ_STATE = "wuye_detail_obj"
_MASK_PII_ATTR = "_wuye_mask_pii"
# sqladmin builds an edit form's class without the request: the edit right, checked just before, leaves here
# which fields this user's form has (``ScopedModelView.limited_form_columns``).
_FORM_LIMIT: ContextVar[tuple[type, tuple[str, ...]] | None] = ContextVar("wuye_form_limit", default=None)
# …and which confidential columns it leaves out for this user (``ScopedModelView.confidential_columns``).
_FORM_HIDDEN: ContextVar[dict[type, frozenset[str]] | None] = ContextVar("wuye_form_hidden", default=None)
# How ``search_query`` searches while ``list`` builds a variant of its query: "keys", a UNION of matching ids
# (``listing.search_ids``); "rows", a condition on each row (``listing.search_filter``); "none", not at all (the
# list's scope and filters, which ``listing.finds_many`` weighs the search's matches against).
_SEARCH_AS: ContextVar[str] = ContextVar("wuye_search_as", default="keys")
# Personal-data columns (``info={"pii": …}``) are checked in forms by the cleaners the imports use.
PII_CLEANERS = {"phone": clean.phone(), "id_number": clean.id_number()}

# Attributes that name a record well enough to stand for it (search placeholders, filter choices, lookups).
DISPLAY_FIELDS = ("name", "title", "code", "room_no", "period", "username", "display_name")

# Shared rows (``project_id`` empty = every project): visible to all, editable only by who sees all projects.
SHARED_WHEN_NULL: tuple[type, ...] = (Department, SlaRule)

# select2 lookup defaults per target model. Targets in BIG_TARGETS are always looked up by ajax: a form
# never loads them whole, even if a view forgets to declare the relation in ``form_ajax_refs``.
AJAX_DEFAULTS: dict[type, dict[str, Any]] = {
    Unit: {"fields": ("room_no",), "order_by": ("room_no",)},
    Customer: {"fields": ("name", "phone"), "order_by": ("name",)},
    Staff: {"fields": ("name", "employee_no"), "order_by": ("name",)},
    Building: {"fields": ("name",), "order_by": ("name",)},
    Bill: {"fields": ("period", "id"), "order_by": (Bill.id.desc(),)},
    ServiceRequest: {"fields": ("id", "contact_name", "content"), "order_by": (ServiceRequest.id.desc(),)},
    WorkOrder: {"fields": ("id", "result"), "order_by": (WorkOrder.id.desc(),)},
    User: {"fields": ("username", "display_name"), "order_by": ("username",)},
    KeyRecord: {"fields": ("code", "name"), "order_by": ("code",)},
    RenovationApplication: {"fields": ("id", "applicant", "contractor"), "order_by": (RenovationApplication.id.desc(),)},
    MoveInChecklist: {"fields": ("id", "received_by"), "order_by": (MoveInChecklist.id.desc(),)},
    SurveyResponse: {"fields": ("id", "respondent"), "order_by": (SurveyResponse.id.desc(),)},
    DunningRun: {"fields": ("cycle", "run_key"), "order_by": (DunningRun.id.desc(),)},
    ImportBatch: {"fields": ("file_name",), "order_by": (ImportBatch.id.desc(),)},
    Project: {"fields": ("name",), "order_by": ("name",)},
    Phase: {"fields": ("name",), "order_by": ("name",)},
    Branch: {"fields": ("name",), "order_by": ("name",)},
    Department: {"fields": ("name",), "order_by": ("name",)},
    FeeType: {"fields": ("name",), "order_by": ("name",)},
    Survey: {"fields": ("title", "period"), "order_by": (Survey.id.desc(),)},
    ScoringRule: {"fields": ("code", "description"), "order_by": ("code",)},
    Role: {"fields": ("name",), "order_by": ("name",)},
}
BIG_TARGETS: frozenset[type] = frozenset(
    {Unit, Customer, Staff, Building, Bill, ServiceRequest, WorkOrder, User, KeyRecord, RenovationApplication,
     MoveInChecklist, SurveyResponse, DunningRun, ImportBatch}
)

CATEGORY_ICONS = {
    "客户档案": "fa-solid fa-address-book",
    "客服工单": "fa-solid fa-headset",
    "收费催缴": "fa-solid fa-file-invoice-dollar",
    "满意度调查": "fa-solid fa-square-poll-vertical",
    "员工考核": "fa-solid fa-ranking-star",
    "前台台帐": "fa-solid fa-book",
    "系统管理": "fa-solid fa-user-gear",
}


# --- who, and what they may see ------------------------------------------------------------------
def target_scope_clause(target: type, actor: Actor) -> ColumnElement[bool] | None:
    """A WHERE clause limiting rows of ``target`` to what ``actor`` may see, or None when unrestricted.

    Used for everything that lists *other* records: select2 lookups, relation field choices, filter
    choices and the check of the records a submitted form points at.
    """
    if actor.sees_all:
        return None
    ids = sorted(actor.project_ids or ())
    if target is Project:
        return Project.id.in_(ids)
    column = getattr(target, "project_id", None)
    if column is not None:
        clause = column.in_(ids)
        return or_(clause, column.is_(None)) if target in SHARED_WHEN_NULL else clause
    if target is Branch:
        return Branch.id.in_(select(Project.branch_id).where(Project.id.in_(ids)))
    if target is User:
        return or_(User.projects.any(Project.id.in_(ids)), User.id == actor.user_id)
    return None  # reference data shared by all projects (roles, rules, grade bands …)


def display_attr(model: type) -> str | None:
    for name in DISPLAY_FIELDS:
        if name in model.__mapper__.column_attrs:
            return name
    return None


def path_label(model: type, path: str) -> str:
    """Label of a column or relation path: ``building.name`` → 楼栋, ``customer.phone`` → 客户手机号."""
    parts = path.split(".")
    if len(parts) == 1:
        return label_of(model, path)
    current, relation_label = model, path
    for part in parts[:-1]:
        relationships = current.__mapper__.relationships
        if part not in relationships:
            return path
        relation_label = label_of(current, part)
        current = relationships[part].mapper.class_
    last = parts[-1]
    if last == display_attr(current):
        return relation_label
    column_label = label_of(current, last)
    return column_label if column_label.startswith(relation_label) else relation_label + column_label


# --- formatters (plain strings: the templates escape them) ----------------------------------------
def _enum_formatter(attr: str):
    def fmt(model: Any, _name: Any) -> Any:
        value = getattr(model, attr)
        if value is None:  # an optional enum not set yet (a 报修's 有效投诉): blank, as sqladmin shows any None
            return ""
        return value.label if isinstance(value, LabeledEnum) else value

    return fmt


def _pii_formatter(attr: str, kind: str):
    def fmt(model: Any, _name: Any) -> str:
        return mask(kind, getattr(model, attr))

    return fmt


def _pii_detail_formatter(attr: str, kind: str):
    """Full value only when the details page decided so for this request (granted and audited)."""

    def fmt(model: Any, _name: Any, request: Request) -> str:
        value = getattr(model, attr)
        if getattr(request.state, _PII_FULL_STATE, False):
            return "" if value is None else str(value)
        return mask(kind, value)

    return fmt


def local_datetime(value: dt.datetime) -> str:
    """Timestamps are stored in UTC and shown in Asia/Shanghai."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


WUYE_FORMATTERS = {**BASE_FORMATTERS, dt.datetime: local_datetime, Decimal: money.readable}


# --- filters --------------------------------------------------------------------------------------
class EnumFilter:
    """Filter on a LabeledEnum column: the choices are the enum's labels — no database query. ``where``: the
    model's own condition for a value, when its index finds the rows by more than the column (a request's status)."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"

    def __init__(self, column: Any, title: str | None = None, parameter_name: str | None = None,
                 where: Callable[[Any], Any] | None = None) -> None:
        self.column = column
        self.title = title or ""
        self.parameter_name = parameter_name or (column if isinstance(column, str) else column.key)
        self.enum_cls: type[LabeledEnum] | None = None
        self.where = where

    def bind(self, model: type) -> None:
        column = getattr(model, self.column) if isinstance(self.column, str) else self.column
        self.column_obj = column
        self.enum_cls = column.type.enum_class
        self.title = self.title or label_of(model, column.key)

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        return [(ALL, ALL_LABEL), *self.enum_cls.choices()]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        member = self.enum_cls._value2member_map_.get(value) if value else None
        if member is None:
            return query
        return query.where(self.where(member) if self.where else self.column_obj == member)


class OperationColumnFilter(_OperationColumnFilter):
    """sqladmin's 等于 / 大于 / 小于 filter — and on a timestamp (来访时间, 巡查开始时间, 签阅时间) the Beijing day typed:
    等于 2026-11-15 is that day's records, 大于 after it, 小于 before it. sqladmin took a timestamp for text and bound
    「2026-11-15」 as typed: an HTTP 500 on the list. A value that is no date filters nothing, as on a date column."""

    def _is_date_type(self, column_obj: Any) -> bool:
        return super()._is_date_type(column_obj) or isinstance(column_obj.type, UTCDateTime)

    async def get_filtered_query(self, query: Select, operation: str, value: Any, model: Any) -> Select:
        column_obj = get_column_obj(self.column, model)
        if not isinstance(column_obj.type, UTCDateTime):
            return await super().get_filtered_query(query, operation, value, model)
        try:
            start, end = local_day_bounds(dt.date.fromisoformat(str(value or "").strip()))
        except ValueError:
            return query
        if operation == "equals":
            return query.where(column_obj >= start, column_obj < end)
        if operation == "greater_than":
            return query.where(column_obj >= end)
        if operation == "less_than":
            return query.where(column_obj < start)
        return query


class FilledFilter:
    """Filter on whether a column is filled in: 借用状态 未归还 (no 归还时间) / 已归还."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"

    def __init__(self, column: str, title: str, empty: str, filled: str) -> None:
        self.column = column
        self.title = title
        self.parameter_name = f"{column}_filled"
        self.choices = (("empty", empty), ("filled", filled))

    def bind(self, model: type) -> None:
        self.column_obj = getattr(model, self.column)

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        return [(ALL, ALL_LABEL), *self.choices]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        if value == "empty":
            return query.where(self.column_obj.is_(None))
        if value == "filled":
            return query.where(self.column_obj.is_not(None))
        return query


class ScopedForeignKeyFilter:
    """Filter on a many-to-one relation whose choices are only the related rows the user may see (A10).

    ``ScopedForeignKeyFilter("building")``: parameter ``building_id``, title 楼栋, choices the buildings of
    the user's projects. A target without a project of its own offers the values used by in-scope rows.
    """

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"

    def __init__(self, relation: str, display: str | None = None, title: str | None = None,
                 parameter_name: str | None = None, limit: int = 300) -> None:
        self.relation = relation
        self.display = display
        self.title = title or ""
        self.parameter_name = parameter_name or ""
        self.limit = limit

    def bind(self, model: type) -> None:
        mapper = model.__mapper__
        if self.relation in mapper.relationships:
            prop = mapper.relationships[self.relation]
            local, remote = prop.local_remote_pairs[0]
            target = prop.mapper.class_
        else:  # a bare foreign key column: "project" → project_id
            key = self.relation if self.relation in mapper.columns else f"{self.relation}_id"
            local = mapper.columns[key]
            remote = next(iter(local.foreign_keys)).column
            target = next(m.class_ for m in Base.registry.mappers if m.local_table is remote.table)
        self.model = model
        self.target = target
        self.fk = getattr(model, local.key)
        self.target_pk = remote
        display = self.display or display_attr(self.target) or self.target_pk.key
        self.display_obj = getattr(self.target, display)
        # a building's name lists as it sorts in lists: by its natural sort key (2栋 before 10栋)
        sort_by = getattr(self.display_obj, "info", {}).get("sort_by")
        self.sort_obj = getattr(self.target, sort_by) if sort_by else self.display_obj
        self.title = self.title or path_label(model, self.relation if self.relation in mapper.attrs else local.key)
        self.parameter_name = self.parameter_name or local.key

    def choices_query(self, request: Request) -> Select:
        """The choices as the user may see them. ``ScopedModelView.list`` runs this with the page's own query, in
        its session off the event loop; ``lookups`` (the template) then reads them from the request."""
        actor = request_actor(request)
        project_column = getattr(self.target, "project_id", None) if self.target is not Project else None
        if project_column is not None and (actor.project_ids is None or len(actor.project_ids) > 1):
            # Several projects: "锦绣华庭 1栋" tells apart the 1栋 of each.
            stmt = (
                select(self.target_pk, self.display_obj, Project.name)
                .outerjoin(Project, Project.id == project_column)
                .order_by(Project.name, self.sort_obj)
            )
        else:
            stmt = select(self.target_pk, self.display_obj).order_by(self.sort_obj)
        clause = target_scope_clause(self.target, actor)
        if clause is not None:
            stmt = stmt.where(clause)
        elif not actor.sees_all:
            used = select(self.fk).where(self.fk.is_not(None))
            own = target_scope_clause(self.model, actor)
            if own is not None:
                used = used.where(own)
            stmt = stmt.where(self.target_pk.in_(used))
        return stmt.limit(self.limit)

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        rows = getattr(request.state, FILTER_ROWS, {}).get(self.parameter_name)
        if rows is None:  # a list page drawn without ScopedModelView.list
            rows = await run_query(self.choices_query(request))
        return [(ALL, ALL_LABEL), *((str(row[0]), " ".join(str(v) for v in (*row[2:], row[1]) if v)) for row in rows)]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        if value in (None, "", ALL):
            return query
        try:
            value = int(value)
        except (TypeError, ValueError):
            return query
        return query.where(self.fk == value)


_BUILTIN_LOOKUPS = {("all", "All"): "All", ("__all", "All"): "All", ("true", "Yes"): "True", ("false", "No"): "False"}


def lookup_links(request: Request, parameter_name: str, lookups: Iterable[tuple[str, str]],
                 words: dict[str, str]) -> Markup:
    """A lookup filter's choices as ``filters/lookup_filter.html`` drew them one by one (a link each, the chosen one
    with its 清除 link), written here in one pass: a branch's 处理人 filter lists 300 staff, and the template's loop
    was a fifth of the work-order list's CPU. sqladmin's own lookups ("All", "Yes", "No") and "Clear filter" read
    as the template translated them (``words``); values from the data pass through."""
    chosen = request.query_params.get(parameter_name)
    others = request.url.remove_query_params(parameter_name)
    # jinja's ``{parameter: value}|urlencode``, the parameter's part once: percent-encoded, nothing left to escape
    prefix = str(escape(str(others))) + ("&amp;" if others.query else "?") + _query_part(parameter_name) + "="
    out = []
    for value, label in lookups:
        builtin = _BUILTIN_LOOKUPS.get((value, label))
        shown = escape(words[builtin] if builtin else label)
        if chosen == value:
            out.append(
                '  <div class="d-flex align-items-center justify-content-between bg-secondary-lt px-2 py-1 rounded">\n'
                f'    <span class="text-truncate fw-bold text-dark">\n      {shown}\n    </span>\n'
                f'    <a href="{escape(str(others))}" class="text-decoration-none ms-2" '
                f'title="{escape(words["Clear filter"])}">\n'
                '      <i class="fa-solid fa-times"></i>\n    </a>\n  </div>\n')
        else:
            out.append(f'  <a href="{prefix}{_query_part(value)}" '
                       f'class="d-block text-decoration-none text-truncate px-2 py-1">\n    {shown}\n  </a>\n')
    return Markup("".join(out))


def _query_part(value: str) -> str:
    return quote(str(value), safe="").replace("%20", "+")  # as jinja's urlencode filter writes a query's part


def _bind_filter(model: type, flt: Any) -> None:
    """Our filters learn their model here; sqladmin's get the Chinese title instead of a prettified name."""
    if hasattr(flt, "bind"):
        flt.bind(model)
        return
    column = getattr(flt, "column", None) or getattr(flt, "foreign_key", None)
    if column is None:
        return
    key = column if isinstance(column, str) else column.key
    if getattr(flt, "title", None) in (None, "", get_title(column)):
        flt.title = path_label(model, key)


def table_choices() -> list[tuple[str, str]]:
    """Every table with its record label, for filters and the audit log (no database query)."""
    return sorted(table_labels().items())


# --- select2 lookups ------------------------------------------------------------------------------
def ajax_refs(model: type, *names: str, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``form_ajax_refs`` for relations of ``model``, with the lookup defaults of each target."""
    refs: dict[str, dict[str, Any]] = {}
    for name in names:
        target = model.__mapper__.relationships[name].mapper.class_
        refs[name] = dict(AJAX_DEFAULTS.get(target) or {"fields": (display_attr(target) or "id",)})
    for name, options in overrides.items():
        refs[name] = {**refs.get(name, {}), **options}
    return refs


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """A select2 loader that only ever returns rows of the user's projects (A06), whatever the view says; it
    matches a personal-data column (a customer's phone) by a part of the number only for a role that may see
    the numbers on the looked-up records' own view, else by the whole number."""

    def _hidden_numbers(self, request: Request) -> dict[str, str]:
        """The looked-up records' personal-data columns (attribute → kind) the user may not see in full."""
        for view in getattr(getattr(self.model_admin, "_admin_ref", None), "views", ()):
            if getattr(view, "model", None) is self.model and hasattr(view, "can_view_pii"):
                return {} if view.can_view_pii(request) else view.pii_columns
        return {}

    def _display_options(self, stmt: Select) -> Select:
        return stmt.options(*display_loads(self.model))

    async def get_list(self, request: Request, term: str) -> list[Any]:
        stmt = select(self.model)
        term = intake.search_term(term)  # a phone typed with spaces finds the number saved without them
        hidden = self._hidden_numbers(request)
        conditions = []
        for field in self._cached_fields:
            kind = hidden.get(field.key)
            if kind is None:
                conditions.append(cast(field, String).ilike(f"%{term}%"))
            elif (number := whole_number(kind, term)) is not None:
                conditions.append(field == number)  # a number whole, never a part of it (as the lists search)
            elif (tail := shown_tail(kind, term)) is not None:
                conditions.append(field.endswith(tail))  # … or its 尾号, which the mask shows
        named = intake.unit_named(term)
        of_units = intake.records_of_unit(self.model, named) if named else None
        unit = self.model.__mapper__.relationships.get("unit")
        if of_units is not None:  # 3栋-1303, 3-1303, 3号楼1303 …: that unit and its records (bills, applications …)
            conditions.append(of_units)
        elif self.model is Unit or (unit is not None and unit.mapper.class_ is Unit and unit.direction.name == "MANYTOONE"):
            if self.model is not Unit:
                stmt = stmt.outerjoin(self.model.unit)
            stmt = stmt.outerjoin(Unit.building)
            conditions.append(Building.name.concat("-").concat(Unit.room_no).ilike(f"%{term}%"))
        stmt = stmt.where(or_(*conditions))
        scope = target_scope_clause(self.model, request_actor(request))
        if scope is not None:
            stmt = stmt.where(scope)
        if self.where is not None:
            stmt = stmt.where(*await self._prepare_where_clauses(request, term))
        if self._cached_fields_order_by:
            stmt = stmt.order_by(*self._cached_fields_order_by)
        stmt = self._display_options(stmt).limit(self.limit)
        return await self.model_admin._run_query(stmt)

    async def format_by_pk(self, pk: Any) -> dict[str, Any]:
        if pk is None:
            return {}
        try:
            values = object_identifier_values(str(pk), self.model)
        except (TypeError, ValueError):
            return {}
        keys = inspect(self.model).primary_key
        stmt = self._display_options(select(self.model).where(*(k == v for k, v in zip(keys, values, strict=True))))
        rows = await self.model_admin._run_query(stmt.limit(1))
        return {"id": str(get_object_identifier(rows[0])), "text": str(rows[0])} if rows else {}


# --- form conversion ------------------------------------------------------------------------------
def _enum_coerce(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return None if value is None else str(value)


class ReadableDecimalField(DecimalField):
    """A ``Numeric`` column's input shows its value as the list and details do (``money.readable``): a 单价 kept
    at four places reads 2.50, not 2.5000. Only the display changes; what is sent back is stored as typed."""

    def _value(self) -> str:
        if self.raw_data or self.data is None:
            return super()._value()
        return money.readable(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        # Read as the imports read a number (``money.decimal_text``): 「1,200.50」「￥80」 yes; Python's own syntax —
        # 「1e3」「1_000」, and 「NaN」「Infinity」 (PostgreSQL would store NaN, every sum over it NaN) — no.
        if not valuelist:
            return
        text = str(valuelist[0]).strip()
        self.data = money.decimal_text(text) if text else None
        if self.data is None and text:
            raise ValueError(f"「{text}」不是有效的小数：请只填数字和小数点（如 1200 或 1,200.50）")


def _within_years(form: Any, field: Any) -> None:
    """A date typed into a console form in the years records live in (kernel ``within_years``): a 周复盘 of
    year 1 was saved as typed."""
    if isinstance(field.data, dt.date):
        try:
            within_years(field.data, what=str(field.label.text), text=f"「{(field.raw_data or [''])[0]}」")
        except Refused as refused:
            raise validators.ValidationError(refused.message) from None


class ScopedModelConverter(ModelConverter):
    """Relation fields list only in-scope rows; enum fields show the Chinese labels; numbers read as money; dates
    within the calendar's years."""

    @converts("Date")
    def conv_date(self, model: type, prop: Any, kwargs: dict[str, Any]) -> Any:
        return super().conv_date(model, prop, {**kwargs, "validators": [*kwargs["validators"], _within_years]})

    @converts("DateTime")
    def conv_datetime(self, model: type, prop: Any, kwargs: dict[str, Any]) -> Any:
        return super().conv_datetime(model, prop, {**kwargs, "validators": [*kwargs["validators"], _within_years]})

    @converts("Numeric")
    def conv_decimal(self, model: type, prop: Any, kwargs: dict[str, Any]) -> Any:
        kwargs.setdefault("places", None)  # as sqladmin's own: the column's places, not WTForms' default of 2
        return ReadableDecimalField(**kwargs)

    async def _prepare_select_options(self, prop: RelationshipProperty, session_maker: Any) -> list[tuple[str, Any]]:
        target = prop.mapper.class_
        stmt = select(target).options(*display_loads(target))
        clause = target_scope_clause(target, current_actor.get())
        if clause is not None:
            stmt = stmt.where(clause)
        display = display_attr(target)
        if display:
            stmt = stmt.order_by(getattr(target, display))

        def run() -> list[tuple[str, str]]:
            with session_maker() as session:
                return [(str(get_object_identifier(o)), str(o)) for o in session.scalars(stmt).unique()]

        return await anyio.to_thread.run_sync(run)

    @converts("Enum")
    def conv_enum(self, model: type, prop: Any, kwargs: dict[str, Any]) -> Any:
        column = prop.columns[0]
        enum_cls = getattr(column.type, "enum_class", None)
        if enum_cls is None or not issubclass(enum_cls, LabeledEnum):
            return super().conv_enum(model, prop, kwargs)
        kwargs["choices"] = enum_cls.choices()
        kwargs["coerce"] = _enum_coerce
        accepted: list[Any] = [m.value for m in enum_cls]
        if column.nullable:
            kwargs["allow_blank"] = True
            accepted.append(None)
            kwargs["filters"] = [*kwargs.get("filters", []), lambda x: x or None]
        kwargs.setdefault("validators", [])
        kwargs["validators"].append(validators.AnyOf(accepted, message="请选择列表中的选项"))
        return SelectField(**kwargs)


# --- personal data --------------------------------------------------------------------------------
class PiiViewMixin:
    """Added by the metaclass to every view of a model with personal data.

    Its action exists so that ``action:view-pii`` appears in the role permission matrix; the details page
    itself shows the full values to a role holding it. The button is not rendered (see
    ``_visible_custom_actions``): opening it just leads back to the detail page.
    """

    @action(VIEW_PII, label="查看完整敏感信息", add_in_list=False, add_in_detail=True)
    async def view_pii(self, request: Request) -> RedirectResponse:
        pks = [pk for pk in request.query_params.get("pks", "").split(",") if pk]
        # every record named is checked: one outside the scope refuses the whole request, nothing shown (A07)
        rows = await self.scoped_targets(request, pks)
        first = next((row for row in rows if str(get_object_identifier(row)) == pks[0].strip()), rows[0])
        url = request.url_for("admin:details", identity=self.identity, pk=get_object_identifier(first))
        return RedirectResponse(url, status_code=302)


# --- the metaclass --------------------------------------------------------------------------------
def _prop_key(item: Any) -> str:
    return item if isinstance(item, str) else item.key


def _version_key(model: type) -> str | None:
    column = model.__mapper__.version_id_col
    return None if column is None else model.__mapper__.get_property_by_column(column).key


class WuyeViewMeta(ModelViewMeta):
    """Derives names, column labels, enum choices and formatters from the model's declarations."""

    def __new__(mcs, name: str, bases: tuple, attrs: dict, **kwargs: Any):
        model = kwargs.get("model")
        if model is not None:
            attrs.setdefault("name", model.__label__)
            attrs.setdefault("name_plural", model.__label__)
            labels = labels_of(model)
            if "id" in model.__mapper__.attrs and "id" not in labels:  # a key from a library's mixin (角色)
                labels["id"] = IdMixin.__dict__["id"].column.info["label"]
            attrs["column_labels"] = {**labels, **attrs.get("column_labels", {})}
            form_args = dict(attrs.get("form_args", {}))
            list_fmt = dict(attrs.get("column_formatters", {}))
            detail_fmt = dict(attrs.get("column_formatters_detail", {}))
            pii_columns: dict[str, str] = {}
            for prop in inspect(model).column_attrs:
                column = prop.columns[0]
                # a model mapped over a SELECT (分项评分) has plain column clauses: no doc, no info
                doc, info = getattr(column, "doc", None), getattr(column, "info", {})
                enum_cls = getattr(column.type, "enum_class", None)
                if enum_cls is not None and issubclass(enum_cls, LabeledEnum):
                    args = dict(form_args.get(prop.key, {}))
                    args.setdefault("choices", enum_cls.choices())
                    args.setdefault("coerce", lambda v: v.value if isinstance(v, enum.Enum) else str(v))
                    form_args[prop.key] = args
                    list_fmt.setdefault(prop.key, _enum_formatter(prop.key))
                    detail_fmt.setdefault(prop.key, _enum_formatter(prop.key))
                if doc:
                    form_args.setdefault(prop.key, {}).setdefault("description", doc)
                if isinstance(column.type, UTCDateTime):
                    # Typed and shown as Beijing time, stored in UTC.
                    args = form_args.setdefault(prop.key, {})
                    args.setdefault("display_timezone", SHANGHAI)
                    args.setdefault("description", "北京时间")
                pii = info.get("pii")
                if pii:
                    pii_columns[prop.key] = pii
                    list_fmt.setdefault(prop.key, _pii_formatter(prop.key, pii))
                    detail_fmt.setdefault(prop.key, _pii_detail_formatter(prop.key, pii))
            attrs["form_args"] = form_args
            attrs["column_formatters"] = list_fmt
            attrs["column_formatters_detail"] = detail_fmt
            attrs["pii_columns"] = pii_columns
            if pii_columns and not any(issubclass(b, PiiViewMixin) for b in bases):
                bases = (PiiViewMixin, *bases)
            if model in attachments.OWNERS.values() and not any(issubclass(b, AttachmentsMixin) for b in bases):
                bases = (AttachmentsMixin, *bases)
        cls = super().__new__(mcs, name, bases, attrs, **kwargs)
        if model is not None:
            mcs._complete(cls, model)
        return cls

    @staticmethod
    def _complete(cls: Any, model: type) -> None:
        # Relation paths get the label of their relation ("building.name" → 楼栋): search placeholder,
        # list and details headers, sort headers.
        labels = dict(cls.column_labels)
        for option in ("column_list", "column_details_list", "column_searchable_list", "column_sortable_list",
                       "column_export_list"):
            items = getattr(cls, option, None)
            if not items or isinstance(items, str):
                continue
            for item in items:
                key = _prop_key(item)
                if "." in key and key not in labels:
                    labels[key] = path_label(model, key)
        cls.column_labels = labels
        relation = model.__mapper__.relationships.get("project")
        items = getattr(cls, "column_list", None)
        if (relation is not None and relation.direction.name == "MANYTOONE" and items and not isinstance(items, str)
                and "project" not in {_prop_key(c) for c in items}):
            # Every per-project list names each row's 项目 (after its 编号): a branch reading two projects' 房屋整改
            # saw 「11栋-1403」 of either. ``list_columns`` leaves it out for who sees one project.
            at = 1 if _prop_key(items[0]) == "id" else 0
            cls.column_list = [*items[:at], "project", *items[at:]]
        if not getattr(cls, "column_details_list", None):
            # A foreign key shown next to its relation would say 项目 twice (as "3" and as its name).
            hidden = {pair[0].key for rel in model.__mapper__.relationships
                      if rel.direction.name == "MANYTOONE" for pair in rel.local_remote_pairs}
            declared = [_prop_key(c) for c in getattr(cls, "column_details_exclude_list", None) or []]
            # A column kept for an index (a request's stage) is none of the record's facts.
            keys = [c.key for c in model.__mapper__.columns if getattr(c, "info", {}).get("index_key")]
            # … nor is the key another column sorts by (房号排序 0000001302 beside 房号 1302).
            keys += [c.info["sort_by"] for c in model.__mapper__.columns if getattr(c, "info", {}).get("sort_by")]
            internal = [key for key in ("password_hash", "form_token", _version_key(model), *keys)
                        if key and key in model.__mapper__.attrs and key not in declared]
            cls.column_details_exclude_list = [*declared, *sorted(hidden - set(declared)), *internal]
        elif not isinstance(cls.column_details_list, str):
            # The optimistic-lock version (B09) is bookkeeping, never shown even when a view lists it.
            version = _version_key(model)
            cls.column_details_list = [c for c in cls.column_details_list if _prop_key(c) != version]
        for flt in getattr(cls, "column_filters", None) or []:
            _bind_filter(model, flt)
        if getattr(cls, "category", "") and not getattr(cls, "category_icon", ""):
            cls.category_icon = CATEGORY_ICONS.get(cls.category, "")


# --- the view -------------------------------------------------------------------------------------
@functools.cache
def _identity_of(model: type) -> str:
    return slugify_class_name(model.__name__)


@dataclass(frozen=True)
class ListCell:
    shown: Any  # the formatted value
    link: str | None  # a relation's details page
    items: tuple[tuple[str | None, Any], ...] | None  # a to-many relation: (link, formatted) of each
    nowrap: bool = False  # a day, an amount or a unit kept on one line (not 「2026-01-」 over 「01」)


@dataclass(frozen=True)
class ListRow:
    pk: str
    details: str | None  # the links the user may follow, else None
    edit: str | None
    delete: str | None
    cells: tuple[ListCell, ...]


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
    form_base_class = ChineseForm
    form_converter = ScopedModelConverter
    column_type_formatters: ClassVar = WUYE_FORMATTERS
    column_type_formatters_detail: ClassVar = WUYE_FORMATTERS
    # Rows with an empty project (shared by all projects) are listed for everyone but only editable by
    # who sees every project.
    shared_rows_visible: ClassVar[bool] = False
    # Audit-trail views themselves have no 变更记录 link.
    audited: ClassVar[bool] = True
    # Every create form carries a one-time token (actions/form_tokens.py), stored unique with what it writes: a
    # double click on 保存 wrote a 失物招领 or a 值班日志 twice, not only a payment.
    one_time_form: ClassVar[bool] = True
    # {attribute: "phone" | "id_number"}, filled in by the metaclass from ``info={"pii": …}``.
    pii_columns: ClassVar[dict[str, str]] = {}
    # Columns the search box matches only whole, by a B-tree index: a record's number (记录编号 877 finds record
    # 877, not 1877 or 8770). A part of it is searched by nobody, and indexing its parts cost each written row
    # a dozen n-gram index entries (issue 17: a 50,000-order dispatch writes 50,000 audit rows).
    column_searched_whole: ClassVar[tuple[str, ...]] = ()
    # Relations an action's page reads from the rows it was asked to run on (``scoped_targets``): loaded with them,
    # as the rows leave their session (撤销诉求 asks the request's 派工单 whether it is done).
    target_loads: ClassVar[tuple[str, ...]] = ()
    # Form fields pre-filled on a new record: with the signed-in user — or their 员工 record, whichever the
    # relation points at — and with the current Beijing date or time (登记人, 登记时间 …).
    form_default_user: ClassVar[tuple[str, ...]] = ()
    form_default_now: ClassVar[tuple[str, ...]] = ()
    # Month fields read as people type them (「2026年12月」, longer than the YYYY-MM stored) by the record's rule in
    # actions/, which stores YYYY-MM: the form does not hold the typed text to the column's length.
    form_typed_months: ClassVar[tuple[str, ...]] = ()
    # The fields a role that may edit but not create these records changes (a butler keeps a unit's state);
    # the rest is master data, changed by who registers the records. Empty: editing means the whole form.
    limited_form_columns: ClassVar[tuple[str, ...]] = ()
    # Columns only the roles that see personal data in full (VIEW_PII: 客服经理及以上) see and change — the VIP
    # flag ("保密信息，仅限客服经理及以上查看"): left out of the details, the forms and the export for the others.
    confidential_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        refs = self._effective_ajax_refs()
        self.form_ajax_refs = refs
        super().__init__()
        self._form_ajax_refs = {
            name: ScopedAjaxLoader(name, self._mapper.relationships[name].mapper.class_, self, **options)
            for name, options in refs.items()
        }
        self._ajax_relation_names = set(self._form_ajax_refs)
        self._version_column = self._mapper.version_id_col
        self._links: dict[tuple[str, str, str], str] = {}  # (route, identity, console address) → link with a slot
        self._is_versioned = self._version_column is not None

    def _effective_ajax_refs(self) -> dict[str, dict[str, Any]]:
        """Declared refs, plus a default one for any form relation to a big table the view left out."""
        refs = dict(type(self).form_ajax_refs)
        mapper = inspect(self.model)
        if self.form is not None:
            return refs
        include = [_prop_key(c) for c in (self.form_columns or [])]
        exclude = {_prop_key(c) for c in (self.form_excluded_columns or [])}
        for rel in mapper.relationships:
            in_form = rel.key in include if include else rel.key not in exclude
            target = rel.mapper.class_
            if in_form and rel.key not in refs and target in BIG_TARGETS:
                refs[rel.key] = dict(AJAX_DEFAULTS[target])
        return refs

    # --- scope ---------------------------------------------------------------------------------
    @classmethod
    def project_column(cls) -> Any | None:
        return getattr(cls.model, "project_id", None)

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        """The WHERE clause of this view's own rows; views without ``project_id`` override it."""
        column = self.project_column()
        actor = request_actor(request)
        if column is None or actor.sees_all:
            return None
        clause = actor.project_filter(column)
        return or_(clause, column.is_(None)) if self.shared_rows_visible else clause

    def scoped(self, request: Request, stmt: Select) -> Select:
        clause = self.scope_clause(request)
        return stmt if clause is None else stmt.where(clause)

    def _with_display_loads(self, stmt: Select, relations: Iterable[Any], joined: bool = False) -> Select:
        for relation in relations:
            loader = loader_of(relation, joined=joined)
            options = display_loads(relation.property.mapper.class_, loader, joined=joined)
            stmt = stmt.options(*options or ([loader] if joined else []))
        return stmt

    def list_query(self, request: Request) -> Select:
        return self._with_display_loads(self.scoped(request, select(self.model)), self._list_relations)

    def search_query(self, stmt: Select, term: str) -> Select:
        """The usual columns, with the term as records store it (a phone typed 185 6520 7620 is searched as
        18565207620); a term written as a unit (3栋-1303, 3-1303, 3栋1303, 3号楼1303) also finds the records
        of that unit — or what the columns find, since "SF-12345" may be a tracking number. A semi-join
        (``listing.search_ids``): a record without the optional relation a column belongs to (a bill without a
        payer) is still found by its other columns."""
        term = intake.search_term(term)
        full = PII_SEARCH.get()
        fields = self.searched_fields(full)
        whole = self._whole_matches(term, full)
        if not (fields or whole is not None) or _SEARCH_AS.get() == "none":
            return stmt
        dense = _SEARCH_AS.get() == "rows"
        if not fields:
            found = whole
        elif dense:
            found = listing.search_filter(self.model, fields, term)
        else:
            found = listing.search_found(self.model, fields, term)
        if whole is not None and fields:
            found = or_(found, whole)
        named = intake.unit_named(term)
        of_units = intake.records_of_unit(self.model, named) if named else None
        if of_units is not None and not dense:
            of_units = listing.among_rows(self.model, of_units)
        found = found if of_units is None else or_(of_units, found)
        return stmt.where(found) if dense else listing.driven_by(stmt, found)

    def searched_fields(self, full: bool) -> list[str]:
        """The search's columns, as a part of the term: a personal-data one only for who may see the numbers."""
        if full:
            return list(self._search_fields)
        return [name for name in self._search_fields if name not in self.pii_columns]

    def _whole_matches(self, term: str, full: bool) -> ColumnElement[bool] | None:
        """The columns the term matches whole: those declared so, each equal to it; and for who may not see
        personal data, its columns searched, each equal to the term when it is a whole number of their kind, or
        ending with it when it is the 尾号 the mask shows (its substring's index finds the candidates)."""
        found = [getattr(self.model, name) == term for name in self.column_searched_whole]
        for name in () if full else self._search_fields:
            kind = self.pii_columns.get(name)
            if kind is None:
                continue
            column = getattr(self.model, name)
            if (number := whole_number(kind, term)) is not None:
                found.append(column == number)
            elif (tail := shown_tail(kind, term)) is not None:
                found.append(and_(listing.search_found(self.model, [name], tail), column.endswith(tail)))
        return or_(*found) if found else None

    def count_query(self, request: Request) -> Select:
        return self.scoped(request, super().count_query(request))

    def _build_url_for(self, name: str, request: Request, obj: Any) -> URL:
        """A record's link (details, edit, its relations' details): the route is looked up once per page kind,
        not once per link — a list page has three to five links a row."""
        return URL(self._link(name, request, obj).replace(_PK_SLOT, str(get_object_identifier(obj))))

    def _link(self, name: str, request: Request, obj: Any) -> str:
        key = (name, self._identity_for_object(obj), str(request.base_url))
        links = self._links
        if key not in links:
            if len(links) >= 256:  # a few addresses of the console, never one per forged Host header
                links.clear()
            links[key] = str(request.url_for(name, identity=key[1], **({"pk": _PK_SLOT} if name != "admin:delete"
                                                                          else {})))
        return links[key]

    def _identity_for_object(self, obj: Any) -> str:
        """sqladmin's, with the class names' slugs worked out once (they were a regex per link)."""
        return self.identity if isinstance(obj, self.model) else _identity_of(type(obj))

    def opens(self, request: Request, obj: Any) -> bool:
        """Whether this user may open ``obj``'s details page: a related record's name (a visit's 走访人, a project's
        分公司) is a link only then — not a link that answers 403 to a role without that list."""
        if obj is None:
            return False
        identity = self._identity_for_object(obj)
        view = next((v for v in self._admin_ref._views if v.is_model and v.identity == identity), None)
        return view is not None and view.can_view_details and view.is_accessible(request)

    def _url_for_delete(self, request: Request, obj: Any) -> str:
        return self._link("admin:delete", request, obj) + "?" + urlencode({"pks": get_object_identifier(obj)})

    def list_columns(self, request: Request) -> list[str]:
        """The list's columns for this user: 项目 only for who sees more than one project — to a butler of one
        project it is the same word on every row, taking a phone's first column. A list of rows shared by every
        project (项目为空) keeps it: there it tells the shared rows from the project's own."""
        projects = request_actor(request).project_ids
        if self.shared_rows_visible or projects is None or len(projects) > 1:
            return self._list_prop_names
        return [name for name in self._list_prop_names if name != "project"]

    async def list_rows(self, request: Request, rows: Iterable[Any]) -> list[ListRow]:
        """What the list's table shows of each row (list.html writes it out): the row's links as its permission
        checks allow and each column's formatted value, worked out here once per page rather than by the
        template cell by cell."""
        query = f"?{request.url.query}" if request.url.query else ""
        columns = self.list_columns(request)
        linked = {name: name in self._relation_names and name not in self._non_link_related_fields
                  for name in columns}
        opened: dict[type, bool] = {}

        def opens(obj: Any) -> bool:  # asked once per related model a page, not per cell
            if obj is None:
                return False
            if type(obj) not in opened:
                opened[type(obj)] = self.opens(request, obj)
            return opened[type(obj)]

        out = []
        for row in rows:
            pk = get_object_identifier(row)
            cells = []
            for name in columns:
                value, shown = await self.get_list_value(row, name, request)
                if name in self._relation_names and isinstance(value, (list, set)):
                    items = tuple((str(self._build_url_for("admin:details", request, v))
                                   if linked[name] and opens(v) else None, each)
                                  for v, each in zip(value, shown, strict=False))
                    cells.append(ListCell(shown, None, items))
                elif linked[name] and opens(getattr(row, name, None)):
                    # a unit or a project name on one line (not 「锦绣华」 over 「庭」 in a branch's list)
                    cells.append(ListCell(shown, str(self._url_for_details_with_prop(request, row, name)), None,
                                          isinstance(value, Unit | Project)))
                else:
                    cells.append(ListCell(shown, None, None, type(value) is dt.date
                                          or isinstance(value, Decimal | Unit | Project)))
            out.append(ListRow(
                pk=pk,
                details=(self._link("admin:details", request, row).replace(_PK_SLOT, str(pk))
                         if await self.check_can_view_details(request, row) else None),
                edit=(self._link("admin:edit", request, row).replace(_PK_SLOT, str(pk)) + query
                      if await self.check_can_edit(request, row) else None),
                delete=self._url_for_delete(request, row) if await self.check_can_delete(request, row) else None,
                cells=tuple(cells),
            ))
        return out

    async def list(self, request: Request) -> Pagination:
        """sqladmin's list page, answered from indexes at any size (``listing``): a capped count or the
        planner's estimate, the page's ids first, then its rows with what they show."""
        page = self.validate_page_number(request.query_params.get("page"), 1)
        size = self.validate_page_number(request.query_params.get("pageSize"), self.page_size)
        size = min(size, max(self.page_size_options))
        if size < 1:
            raise HTTPException(status_code=400, detail="每页条数无效")
        ordered = await filtered_query(self, request)
        term = intake.search_term(request.query_params.get("search") or "")
        fields = self.searched_fields(self.can_view_pii(request))
        # the same list, its search as a condition on each row (for a term that finds many rows), and without it
        dense = scope = None
        if term and self._search_fields:
            dense, scope = [await self._searched_as(request, way) for way in ("rows", "none")]
        key = self.pk_columns[0]
        # the filters' choices in the same session and trip off the event loop, not a session each on it
        choices = {flt.parameter_name: flt.choices_query(request)
                   for flt in self.get_filters() if hasattr(flt, "choices_query")}

        def rows_of(ids: list[Any]) -> Select:
            return self._with_display_loads(select(self.model).where(key.in_(ids)), self._list_relations, joined=True)

        actor = request_actor(request)

        def run() -> tuple[listing.Page, dict[str, list[Any]], Any]:
            with self.session_maker(expire_on_commit=False) as session:
                per_row = dense is not None and bool(fields) and listing.finds_many(session, self.model, fields, term,
                                                                   scope.with_only_columns(key))
                result = listing.page_of(session, ordered=dense if per_row else ordered, key=key, rows_of=rows_of,
                                         page=page, page_size=size, per_row=per_row, searched=dense is not None)
                extra = self.page_extra(session, actor, result.rows) if result.rows else None
                return result, {name: session.execute(stmt).all() for name, stmt in choices.items()}, extra

        result, filter_rows, extra = await anyio.to_thread.run_sync(run)
        setattr(request.state, FILTER_ROWS, filter_rows)
        request.state.page_extra = extra
        return Pagination(rows=result.rows, page=result.page, page_size=size, count=result.count)

    def page_extra(self, session: Any, actor: Actor, rows: list[Any]) -> Any:
        """What a list's page shows besides its rows' own columns (客户: the units each customer lives in), read by
        an action for the page's rows at once, in the list's session and trip off the event loop; a formatter
        taking the request finds it as ``request.state.page_extra``. None: nothing besides."""
        return None

    async def _searched_as(self, request: Request, way: str) -> Select:
        token = _SEARCH_AS.set(way)
        try:
            return await filtered_query(self, request)
        finally:
            _SEARCH_AS.reset(token)

    def sort_query(self, stmt: Select, request: Request) -> Select:
        """sqladmin's, except that a column declaring ``info["sort_by"]`` (a building's name, a room number) sorts
        by that one — its indexed natural sort key, so 10栋 comes after 2栋 and 903 before 1303."""
        sort_by = request.query_params.get("sortBy")
        if sort_by and sort_by not in self._sort_fields:
            raise HTTPException(status_code=400, detail=f"不能按此列排序：{sort_by}")
        fields = [(sort_by, request.query_params.get("sort") == "desc")] if sort_by else self._get_default_sort()
        joined: set[str] = set()
        for field, descending in fields:
            path = self._get_prop_name(field)
            stmt, model = self._join_relationship_paths(stmt, path, joined)
            attr = getattr(model, path.split(".")[-1])
            columns = getattr(getattr(attr, "property", None), "columns", None)
            target = getattr(columns[0], "info", {}).get("sort_by") if columns else None  # (a mapped SELECT has no info)
            column = getattr(model, target) if target else attr
            stmt = stmt.order_by(column.desc() if descending else column.asc())
        return stmt

    def details_query(self, request: Request) -> Select:
        stmt = self.scoped(request, super().details_query(request))
        return self._with_display_loads(stmt, self._details_relations)

    def form_edit_query(self, request: Request) -> Select:
        return self.scoped(request, super().form_edit_query(request))

    def in_scope(self, request: Request, obj: Any) -> bool:
        """May the user change ``obj``? Views without a project column rely on their scoped queries."""
        if obj is None:
            return False
        column = self.project_column()
        return column is None or request_actor(request).can_see(getattr(obj, column.key))

    def readable(self, request: Request, obj: Any) -> bool:
        if self.in_scope(request, obj):
            return True
        column = self.project_column()
        return bool(self.shared_rows_visible and obj is not None and column is not None
                    and getattr(obj, column.key) is None)

    async def check_can_view_details(self, request: Request, model: Any) -> bool:
        return self.readable(request, model) and await super().check_can_view_details(request, model)

    def company_wide_refused(self, request: Request, obj: Any) -> bool:
        """Reference data all projects use, and this user sees only some (``require_company_wide``)."""
        return not request_actor(request).sees_all and company_wide(self.model, obj)

    async def check_can_create(self, request: Request) -> bool:
        return not self.company_wide_refused(request, None) and await super().check_can_create(request)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        allowed = (self.in_scope(request, model) and not self.company_wide_refused(request, model)
                   and await super().check_can_edit(request, model))
        if allowed and self.limited_form_columns:
            _FORM_LIMIT.set((type(self), self.form_limit(request)))
        return allowed

    def form_limit(self, request: Request) -> tuple[str, ...]:
        """The fields this user's edit form has, if fewer than all (``limited_form_columns``)."""
        if self.limited_form_columns and not self.has_permission(request, Action.CREATE):
            return self.limited_form_columns
        return ()

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        return (self.in_scope(request, model) and not self.company_wide_refused(request, model)
                and await super().check_can_delete(request, model))

    def _stmt_by_identifier(self, identifier: str) -> Select:
        # sqladmin coerces the address's id with int(): "abc", "", "1.5" or "1/x" raised a ValueError — a 500 on
        # every details, edit and delete address (RELIABILITY Q01). Not a number: no such record.
        try:
            return super()._stmt_by_identifier(identifier)
        except (ValueError, TypeError):
            raise HTTPException(status_code=404, detail="记录不存在或无权查看") from None

    async def get_object_for_details(self, request: Request) -> Any:
        obj = await super().get_object_for_details(request)
        if obj is None:
            if request.method == "DELETE":
                raise HTTPException(status_code=403, detail="所选记录中有无权删除的记录")
            raise HTTPException(status_code=404, detail="记录不存在或无权查看")
        setattr(request.state, DETAIL_OBJ_STATE, obj)
        return obj

    # --- personal data ---------------------------------------------------------------------------
    def can_view_pii(self, request: Request) -> bool:
        return bool(self.pii_columns) and self.has_permission(request, custom_action(VIEW_PII))

    def hidden_columns(self, request: Request) -> frozenset[str]:
        """The confidential columns this user may neither see nor change."""
        if not self.confidential_columns or self.has_permission(request, custom_action(VIEW_PII)):
            return frozenset()
        return frozenset(self.confidential_columns)

    def is_accessible(self, request: Request) -> bool:
        accessible = super().is_accessible(request)
        if accessible and self.confidential_columns:  # the form is built after this, without the request
            _FORM_HIDDEN.set({**(_FORM_HIDDEN.get() or {}), type(self): self.hidden_columns(request)})
        return accessible

    def _visible_custom_actions(self, request: Request, in_detail: bool = False) -> dict[str, str]:
        actions = super()._visible_custom_actions(request, in_detail)
        actions.pop(VIEW_PII, None)
        actions.pop(ATTACH, None)  # the record's page has the upload form itself
        return actions

    async def details_context(self, request: Request) -> dict[str, Any]:
        context = dict(await super().details_context(request))
        obj = getattr(request.state, DETAIL_OBJ_STATE, None)
        full = self.can_view_pii(request)
        setattr(request.state, _PII_FULL_STATE, full)
        if obj is not None and full:
            shown = [attr for attr in self.pii_columns if getattr(obj, attr, None)]
            if shown:
                await anyio.to_thread.run_sync(self._log_pii_view, request_actor(request), obj, shown)
        if obj is not None and self.audited:
            context["wuye_audit_url"] = self._audit_url(request, obj)
        context["wuye_hidden"] = self.hidden_columns(request)
        if obj is not None:
            context["wuye_record_links"] = self.record_links(request, obj)
            context["wuye_timeline"] = await self.timeline(request, obj)
            context.update(await attachments_context(self, request, obj.id))
            context["wuye_local"] = local_datetime
        return context

    async def timeline(self, request: Request, obj: Any) -> tuple[Any, ...]:
        """The steps of this record's handling (``actions.timeline``), if it has such a history."""
        return ()

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        """(label, url) of the pages about this record the details page links to: 一户一档, a slip to print."""
        return []

    def _log_pii_view(self, actor: Actor, obj: Any, shown: list[str]) -> None:
        pk = str(get_object_identifier(obj))
        with self.session_maker.begin() as session:
            session.info["actor"] = actor
            log_event(
                session,
                AuditKind.VIEW_PII,
                summary=f"查看{self.model.__label__}#{pk}完整信息：{'、'.join(label_of(self.model, a) for a in shown)}",
                changes={"columns": shown},  # which columns, never their values (P02)
                table=self.model.__table__.name,
                record_id=pk,
                project_id=getattr(obj, "project_id", None),
            )

    def _audit_url(self, request: Request, obj: Any) -> str | None:
        admin = getattr(self, "_admin_ref", None)
        for view in getattr(admin, "views", []):
            if getattr(view, "identity", "") == AUDIT_IDENTITY and getattr(view, "is_model", False):
                if not (view.is_accessible(request) and view.has_permission(request, Action.LIST)):
                    return None
                url = request.url_for("admin:list", identity=AUDIT_IDENTITY)
                return str(url.include_query_params(table_name=self.model.__table__.name,
                                                    record_id=str(get_object_identifier(obj))))
        return None

    # --- forms ---------------------------------------------------------------------------------
    async def scaffold_form(self, rules: list[str] | None = None) -> Any:
        form = await super().scaffold_form(rules)
        if self.form is not None:
            return form
        attrs: dict[str, Any] = {}
        for name, default in (await self._form_defaults()).items():
            unbound = form.__dict__.get(name) or getattr(form, name, None)
            if isinstance(unbound, UnboundField):
                # Only the default changes: a blank new form shows it; an edit form shows the stored value.
                field = UnboundField(unbound.field_class, *unbound.args, **{**unbound.kwargs, "default": default})
                field.creation_counter = unbound.creation_counter  # keep the field's place in the form
                attrs[name] = field
        for name in self.form_typed_months:
            unbound = attrs.get(name) or form.__dict__.get(name) or getattr(form, name, None)
            if isinstance(unbound, UnboundField):
                kept = [v for v in unbound.kwargs.get("validators", ()) if not isinstance(v, validators.Length)]
                field = UnboundField(unbound.field_class, *unbound.args, **{**unbound.kwargs, "validators": kept})
                field.creation_counter = unbound.creation_counter
                attrs[name] = field
        if self._is_versioned:
            # The version the user started from travels with the form (B09).
            attrs[self._version_column.key] = HiddenField()
        if self.one_time_form:
            # A new form, a new token; the same form sent twice (a double click, a resend) writes once.
            attrs["form_token"] = HiddenField(default=new_form_token)
        limit = _FORM_LIMIT.get()
        if limit is not None and limit[0] is type(self) and limit[1]:
            # A field set to None leaves the form: what is not sent is not changed, whatever a request adds.
            attrs.update({name: None for name in self._form_prop_names if name not in limit[1]})
        # a confidential field is not in the form of who may not see it; with no request to tell, it is left out
        hidden = (_FORM_HIDDEN.get() or {}).get(type(self), frozenset(self.confidential_columns))
        attrs.update({name: None for name in hidden if name in self._form_prop_names})
        return type(form.__name__, (form,), attrs) if attrs else form

    async def _form_defaults(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        for name in self.form_default_now:
            column = self._mapper.columns[name]
            if isinstance(column.type, Date):
                defaults[name] = lambda: dt.datetime.now(SHANGHAI).date()
            else:
                defaults[name] = lambda: dt.datetime.now(SHANGHAI)
        if not self.form_default_user:
            return defaults
        actor = current_actor.get()
        if actor.user_id is None:
            return defaults
        staff_id: Any = None
        for name in self.form_default_user:
            target = self._mapper.relationships[name].mapper.class_
            if target is User:
                defaults[name] = str(actor.user_id)
            elif target is Staff:
                if staff_id is None:
                    stmt = select(Staff.id).join(User, User.staff_id == Staff.id).where(User.id == actor.user_id)
                    clause = target_scope_clause(Staff, actor)
                    if clause is not None:
                        stmt = stmt.where(clause)
                    rows = await self._run_arbitrary_query(stmt)
                    staff_id = str(rows[0][0]) if rows else ""
                if staff_id:
                    defaults[name] = staff_id
            else:
                raise TypeError(f"{type(self).__name__}.form_default_user: {name} is neither a user nor a staff")
        return defaults

    async def get_object_for_edit(self, request: Request) -> Any:
        obj = await super().get_object_for_edit(request)
        if obj is not None and self.pii_columns and not self.can_view_pii(request):
            setattr(obj, _MASK_PII_ATTR, True)
        return obj

    async def get_form_data_for_edit(self, obj: Any) -> dict[str, Any]:
        data = await super().get_form_data_for_edit(obj)
        for name in self._ajax_relation_names:
            # sqladmin loads a select2 field's current record bare: load what its display shows (楼栋-房号 …).
            value = data.get(name)
            if value is not None and not isinstance(value, list) and display_loads(type(value)):
                pk = inspect(type(value)).primary_key[0]
                rows = await self._run_query(select(type(value)).where(pk == get_object_identifier(value))
                                             .options(*display_loads(type(value))))
                data[name] = rows[0] if rows else value
        if getattr(obj, _MASK_PII_ATTR, False):
            for attr, kind in self.pii_columns.items():
                if attr in data:
                    data[attr] = mask(kind, data[attr])
        if self._is_versioned:
            data[self._version_column.key] = getattr(obj, self._version_column.key)
        return data

    async def on_model_change(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        """Refuse a form that puts the record, or any record it points at, outside the user's projects."""
        actor = request_actor(request)
        self._clean_pii(data, model, is_created)
        for key, value in data.items():
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                data[key] = value.replace(tzinfo=SHANGHAI)  # a form field without a zone: Beijing time
        project_id = data.get("project") or data.get("project_id") or getattr(model, "project_id", None)
        if hasattr(project_id, "id"):
            project_id = project_id.id
        if getattr(self.model, "project_id", None) is not None and project_id is not None:
            try:
                project_id = int(project_id)
            except (TypeError, ValueError) as exc:
                raise Refused("项目无效") from exc
            if not actor.can_see(project_id):
                raise NotPermitted("不能把记录放到无权访问的项目", [project_id])
        elif getattr(self.model, "project_id", None) is not None and not actor.sees_all:
            # An empty project means "every project" (shared rows): only who sees them all may write one.
            raise NotPermitted("请选择项目")
        await self._check_targets(data, actor)
        await super().on_model_change(data, model, is_created, request)

    def _clean_pii(self, data: dict, model: Any, is_created: bool) -> None:
        """Phone and ID numbers obey the rule a spreadsheet import applies (``clean.phone``: a mobile or fixed-line
        number; ``clean.id_number``: 18 digits with the GB 11643 check digit, ``x`` → ``X``, a 15-digit legacy
        number converted) and are stored as it cleans them. A masked value sent back unchanged keeps the stored one."""
        for attr, kind in self.pii_columns.items():
            if attr not in data:
                continue
            sent = data[attr]
            stored = None if is_created else getattr(model, attr)
            if sent == stored:
                continue  # unchanged: a record typed before the rule can still be edited
            value = PII_CLEANERS[kind](sent)
            label = self._column_labels.get(attr, attr)
            if value is MASKED:
                if stored and sent == mask(kind, stored):
                    data.pop(attr)
                    continue
                raise Refused(f"{label}：请填写完整的号码，不能含 *")
            if isinstance(value, Invalid):
                reason = value.reason
                if value.shown and kind == "id_number":  # refusals are logged: no ID number in clear (P02)
                    reason = reason.replace(value.shown, mask(kind, value.shown))
                raise Refused(f"{label}：{reason}")
            data[attr] = value or ""

    @staticmethod
    def submitted(data: dict, model: Any, is_created: bool, name: str, column: str | None = None) -> Any:
        """A field's value as the form sends it (a related record as its id) or, when the form leaves it out,
        the stored one (``column``, default ``name``)."""
        if name in data:
            value = data[name]
            return getattr(value, "id", value)
        return None if is_created else getattr(model, column or name)

    async def _check_targets(self, data: dict, actor: Actor) -> None:
        """Every record a relation field names must be one the user may see (A08)."""
        for key, value in data.items():
            if key not in self._mapper.relationships or value in (None, "", [], ()):
                continue
            prop = self._mapper.relationships[key]
            target = prop.mapper.class_
            clause = target_scope_clause(target, actor)
            if clause is None:
                continue
            values = value if isinstance(value, list | set | tuple) else [value]
            ids: set[Any] = set()
            for item in values:
                if item in (None, "", "__None"):
                    continue
                if hasattr(item, "__mapper__"):
                    ids.add(get_object_identifier(item))
                else:
                    ids.add(str(item))
            if not ids:
                continue
            pk = inspect(target).primary_key[0]
            try:
                typed = {pk.type.python_type(i) for i in ids}
            except (TypeError, ValueError) as exc:
                raise Refused(f"{self._column_labels.get(key, key)}：无效的记录", ids) from exc
            rows = await self._run_arbitrary_query(select(func.count()).select_from(target).where(pk.in_(typed), clause))
            if rows[0][0] != len(typed):
                raise NotPermitted(f"{self._column_labels.get(key, key)}：无权引用该记录", sorted(typed))

    # --- the one save path (actions/records.py) ----------------------------------------------------
    async def insert_model(self, request: Request, data: dict) -> Any:
        return await self._save(request, None, data)

    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        return await self._save(request, pk, data)

    async def _save(self, request: Request, pk: str | None, data: dict) -> Any:
        """Load (within the user's scope), check the form (scope, targets, personal data), then
        ``records.save_record`` — all in one transaction."""
        actor = request_actor(request)
        version = data.pop(self._version_column.key, None) if self._is_versioned else None
        token = data.pop("form_token", None) if self.one_time_form else None

        def work() -> Any:
            with self.session_maker() as session, session.begin():
                session.info["actor"] = actor
                if pk is None:
                    obj = self.model()
                else:
                    obj = session.scalars(self.scoped(request, self._stmt_by_identifier(pk))).first()
                    if obj is None:
                        raise HTTPException(status_code=404, detail="记录不存在或无权访问")
                if pk is not None or not records.created_by_action(self.model):
                    # (an action that creates a record checks scope and references itself)
                    anyio.from_thread.run(self.on_model_change, data, obj, pk is None, request)
                return records.save_record(session, self.model, obj, data, actor=actor, version=version,
                                           form_token=token if pk is None else None)

        return await self._in_thread(request, work)

    async def delete_model(self, request: Request, pk: Any) -> None:
        actor = request_actor(request)

        def work() -> None:
            with self.session_maker() as session, session.begin():
                session.info["actor"] = actor
                obj = session.scalars(self.scoped(request, self._stmt_by_identifier(pk))).first()
                if obj is None:
                    raise HTTPException(status_code=404, detail="记录不存在或无权访问")
                records.delete_record(session, self.model, obj, actor=actor)

        await self._in_thread(request, work)

    async def _in_thread(self, request: Request, work: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(work)
        except (SQLAlchemyError, OverflowError) as exc:
            raise _database_refusal(request, exc) from None

    # --- actions -------------------------------------------------------------------------------
    async def scoped_targets(self, request: Request, pks: list[str]) -> list[Any]:
        """The rows an action was asked to run on; one row outside the scope refuses the whole request (A07)."""
        ids = [int(pk) for pk in pks if pk.strip().isdigit()]
        if not ids or len(ids) != len(pks):
            raise HTTPException(status_code=400, detail="请先选择记录")
        stmt = self.scoped(request, select(self.model).where(self.pk_columns[0].in_(ids)))
        stmt = stmt.options(*(selectinload(getattr(self.model, name)) for name in self.target_loads))
        rows = await self._run_query(stmt)
        if len(rows) != len(set(ids)) or any(not self.in_scope(request, row) for row in rows):
            raise HTTPException(status_code=403, detail="所选记录中有无权操作的记录")
        return rows

    def require(self, request: Request, action: str) -> None:
        """Explicit permission check for custom endpoints (``@expose`` only checks ``is_accessible``)."""
        if not self.has_permission(request, action):
            raise HTTPException(status_code=403, detail="没有执行此操作的权限")

    # --- export (list_export.py) ---------------------------------------------------------------
    async def get_model_objects(self, request: Request, limit: int | None = 0) -> list[Any]:
        return []  # the export streams the list's own query rather than loading every row here

    async def export_data(self, data: Any, export_type: str = "xlsx", request: Request | None = None) -> Any:
        return await export_response(self, request)


class ReadOnlyView(ScopedModelView):
    """Logs and trails: listed and inspected, never written from the console; newest first."""

    can_create = False
    can_edit = False
    can_delete = False
    audited = False


def escape_text(value: Any) -> Markup:
    return escape("" if value is None else str(value))


__all__ = [
    "Action",
    "ALL",
    "BooleanFilter",
    "EditConflict",
    "EnumFilter",
    "FilledFilter",
    "OperationColumnFilter",
    "ReadOnlyView",
    "ScopedAjaxLoader",
    "ScopedForeignKeyFilter",
    "ScopedModelView",
    "StaticValuesFilter",
    "VIEW_PII",
    "ajax_refs",
    "escape_text",
    "path_label",
    "request_actor",
    "table_choices",
    "target_scope_clause",
]


def _database_refusal(request: Request, exc: BaseException) -> Refused:
    """sqladmin shows a failed save's exception text on the form: for a database error that would be its SQL
    and values (a new password's hash), so the form gets the Chinese refusal and the log the error's kind."""
    status, message = database_refusal(exc)
    log_database_error(request, exc, status)
    return Refused(message)
