"""Views of the audit trail (变更记录) and the operation log: read-only, newest first.

A record's detail page links here as ``/admin/audit-log/list?table_name=<table>&record_id=<id>``.

What the logs store is made for machines: ids, English codes, UTC timestamps in ISO form, dicts of them. Their
detail pages show it as a user reads it (:class:`TrailView`, also the base of 导入批次): a record by its name
(项目 锦绣华庭, 房屋 1栋-101), a code by its Chinese label (上门, 已批准), a time in Beijing time, and a change
as a table of 字段 / 修改前 / 修改后. The keys are read through the models: a key of the changed record is its
column; an operation's parameter is the column of that name (``unit_id`` → 房屋, ``kind`` → the enum that
holds the value).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import anyio
from markupsafe import Markup
from sqlalchemy import JSON, Column, ForeignKey, Select, inspect, select
from starlette.requests import Request

from actions.actor import Actor
from actions.audit import operation_label, trail_clause
from actions.privacy import mask
from actions.spreadsheets.pipeline import Outcome
from models import (
    AuditKind,
    AuditLog,
    AuditSource,
    Base,
    CorrectiveAction,
    DunningNotice,
    DunningRun,
    LabeledEnum,
    OperationLog,
    Payment,
    ScoringRule,
    ServiceRequest,
    Visit,
    WorkOrder,
    label_of,
)
from models.base import table_label

from .base import (
    DETAIL_OBJ_STATE,
    EnumFilter,
    ReadOnlyView,
    StaticValuesFilter,
    display_loads,
    local_datetime,
    table_choices,
    target_scope_clause,
)
from .pages import request_actor

_MODELS = sorted((m.class_ for m in Base.registry.mappers), key=lambda cls: cls.__tablename__)
TABLES = {cls.__tablename__: cls for cls in _MODELS}
_NAMES_STATE = "wuye_trail_names"
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
EMPTY = "—"
SHOWN_IDS = 20  # a long id list (派工 of 1 000 requests) shows its first ones and the count

# Parameter and result keys that are no column of any record, or whose column's label would mislead.
KEY_LABELS = {
    "filters": "筛选条件", "search": "搜索", "sortBy": "排序字段", "sort": "排序方向", "page": "页码",
    "pageSize": "每页行数", "file": "文件", "file_name": "文件名", "masked": "已打码", "columns": "查看的字段",
    "count": "记录数", "sheets": "工作表", "month": "月份", "month_from": "起始月份", "month_to": "截止月份",
    "period_from": "起始账期", "period_to": "截止账期", "group_by": "分组方式", "as_reported": "按月结报送值",
    "as_of": "基准日", "day": "日期", "scope": "范围", "run_key": "批次键", "quarter": "季度", "rule": "考核细则",
    "code": "编码", "complaint": "转为投诉", "topic": "整改事项", "satisfied": "回访满意", "receipt_signed": "已签收",
    "distributed_on": "发放日期", "restore_grants": "补回默认权限", "seed": "随机种子", "title": "标题",
    "reason": "原因",
    # results (结果)
    **{o.value: o.label for o in Outcome},
    "rows": "行数", "total": "合计", "created": "新建", "inserted": "写入", "updated": "更新", "already": "此前已处理",
    "existing": "已存在", "dropped": "移出", "targets": "待处理", "notices": "通知", "orders": "派工单",
    "payments": "收款", "events": "考核记录", "visits": "走访", "complaints": "投诉", "households": "户数",
    "households_added": "新增调查户", "responses": "问卷", "scores": "分项评分", "months": "月份数",
    "actions": "整改措施", "nominations": "推荐", "chosen": "当选", "unchosen": "未当选", "confirmed": "已确认",
    "closed": "已关闭", "repeat": "重复诉求", "repeated": "重复诉求", "buildings_added": "新增楼栋",
    "bills_recomputed": "重算账单", "customers_inserted": "新增客户", "customers_updated": "更新客户",
    "new_rule_id": "新版本条款", "blank": "空行", "totals": "合计行",
}
# Parameters whose ids point at a record no column is named after.
KEY_TARGETS: dict[str, type] = {"order_ids": WorkOrder, "notice_ids": DunningNotice, "action_id": CorrectiveAction,
                                "new_rule_id": ScoringRule}
# The record an operation's parameters describe, where its code does not name it (see _operation_record) or
# names another: a callback's 回访方式/回访结果 are its 回访走访 record's, not the work order's.
OPERATION_RECORDS: dict[str, type] = {
    "record_visit": Visit, "callback_work_order": Visit, "receive_request": ServiceRequest, "dispatch": WorkOrder, "record_delivery": DunningNotice,
    "issue_dunning": DunningRun, "record_payment": Payment, "pay_account": Payment,
}


# --- one key of a stored dict: its label, the record its ids name, the enum its codes come from ------------
@functools.cache
def _columns(model: type | None, key: str) -> tuple[tuple[type, Column], ...]:
    """The columns a key stands for: the described record's own (``way`` may be its ``delivery_way``), else
    every record's column of that name (``staff_ids`` → ``staff_id``)."""
    name = key[:-1] if key.endswith("_ids") else key
    if model is not None:
        table = model.__table__
        own = table.c.get(name)
        if own is None and key not in KEY_LABELS:  # a work order's 撤销原因 is not the reason of its 改派
            own = next((c for c in table.c if c.name.endswith(f"_{name}")), None)
        if own is not None:
            return ((model, own),)
    return tuple((m, m.__table__.c[name]) for m in _MODELS if name in m.__table__.c)


def _referred(fk: ForeignKey) -> Column:
    """The column a key names a record by: through a composite key, the referred column's own key (a survey
    form's survey_id → its household's survey_id → survey.id)."""
    while len(fk.constraint.elements) > 1 and fk.column.foreign_keys:
        fk = next(iter(fk.column.foreign_keys))
    return fk.column


@functools.cache
def _target(model: type | None, key: str) -> type | None:
    if key in KEY_TARGETS:
        return KEY_TARGETS[key]
    for _, column in _columns(model, key):
        for fk in column.foreign_keys:
            return TABLES.get(_referred(fk).table.name)
    if key in ("project_id", "project_ids"):  # the logs keep a project as a bare number
        return TABLES["project"]
    return None


def _member(model: type | None, key: str, value: Any) -> tuple[type, Column, LabeledEnum] | None:
    if not isinstance(value, str):
        return None
    for owner, column in _columns(model, key):
        enum_cls = getattr(column.type, "enum_class", None)
        if enum_cls is not None and issubclass(enum_cls, LabeledEnum) and value in enum_cls._value2member_map_:
            return owner, column, enum_cls(value)
    return None


def _label(model: type | None, key: str, value: Any = None) -> str:
    columns = _columns(model, key)
    if model is not None and columns and columns[0][0] is model:
        return label_of(model, columns[0][1].key)
    if key in KEY_LABELS:
        return KEY_LABELS[key]
    if found := _member(model, key, value):
        return label_of(found[0], found[1].key)
    if columns:  # the label most records give that column
        return Counter(label_of(m, c.key) for m, c in columns).most_common(1)[0][0]
    target = _target(model, key)
    return target.__label__ if target is not None else key


def _ids(value: Any) -> list[int] | None:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, int) and not isinstance(i, bool)
                            or isinstance(i, str) and i.isdigit() for i in items):
        return None
    return [int(i) for i in items]


# --- the names of the records a log points at: one query per kind of record ------------------------------
Names = dict[tuple[type, int], str]


def _refs(model: type | None, values: dict[str, Any]) -> Iterator[tuple[type, int]]:
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _refs(model, value)
            continue
        target = _target(model, key)
        pair = isinstance(value, list) and len(value) == 2 and model is not None and key in model.__table__.c
        for item in (value if pair else [value]):  # an update's [old, new]
            ids = _ids(item) if target is not None else None
            yield from ((target, i) for i in (ids or [])[:SHOWN_IDS])


def load_names(session: Any, refs: Iterable[tuple[type, int]], actor: Actor) -> Names:
    """``{(record type, id): name}`` of the records the user may see; others stay numbers."""
    wanted: dict[type, set[int]] = {}
    for target, pk in refs:
        wanted.setdefault(target, set()).add(pk)
    names: Names = {}
    for target, ids in wanted.items():
        pk = inspect(target).primary_key[0]
        stmt = select(target).where(pk.in_(sorted(ids))).options(*display_loads(target))
        if (clause := target_scope_clause(target, actor)) is not None:
            stmt = stmt.where(clause)
        for row in session.scalars(stmt):
            key, name = getattr(row, pk.key), str(row)
            if name != f"{target.__label__}#{key}":  # a record with no name of its own stays a number
                names[(target, key)] = name
    return names


# --- values as text, dicts as tables ------------------------------------------------------------------------
def value_text(model: type | None, key: str, value: Any, names: Names) -> str:
    """One stored value as a user reads it."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "；".join(f"{_label(model, k, v)}：{value_text(model, k, v, names)}" for k, v in value.items()) or EMPTY
    target = _target(model, key)
    if target is not None and (ids := _ids(value)) is not None:
        shown = "、".join(names.get((target, i)) or f"{target.__label__}#{i}" for i in ids[:SHOWN_IDS])
        return shown + (f" 等 {len(ids)} 条" if len(ids) > SHOWN_IDS else "")
    if key == "columns" and model is not None and isinstance(value, list):  # which columns a full view showed
        return "、".join(label_of(model, c) for c in value)
    if isinstance(value, list):
        return "、".join(value_text(model, key, v, names) for v in value)
    if found := _member(model, key, value):
        return found[2].label
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return local_datetime(moment) if moment.tzinfo else moment.strftime("%Y-%m-%d %H:%M")
    columns = _columns(model, key)
    if columns and (kind := columns[0][1].info.get("pii")) and isinstance(value, str):
        return mask(kind, value)  # a trail is read by more people than may see the number itself
    return str(value)


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> Markup:
    if not rows:
        return Markup(EMPTY)
    head = Markup("").join(Markup("<th>{}</th>").format(h) for h in headers)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(Markup('<td class="text-wrap">{}</td>').format(c) for c in row))
        for row in rows
    )
    return Markup('<table class="table table-sm table-bordered mb-0 wuye-trail">'
                  "<thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(head, body)


def values_table(model: type | None, values: dict[str, Any] | None, names: Names, *, diff: bool = False,
                 skip_empty: bool = False) -> Markup:
    """A stored dict as a table: 字段 / 值, or 字段 / 修改前 / 修改后 for an update's ``{key: [old, new]}``."""
    rows = []
    for key, value in (values or {}).items():
        if diff and isinstance(value, list) and len(value) == 2:
            rows.append((_label(model, key, value[1]), value_text(model, key, value[0], names),
                         value_text(model, key, value[1], names)))
        elif not (skip_empty and value in (None, "", [], {})):
            rows.append((_label(model, key, value), value_text(model, key, value, names)))
    if diff:
        return _table(("字段", "修改前", "修改后"), rows)
    return _table(("字段", "值"), rows)


# --- the views ----------------------------------------------------------------------------------------------
class TrailView(ReadOnlyView):
    """A log whose detail page names the records, codes and times it stores (see the module's docstring)."""

    def described(self, obj: Any) -> type | None:
        """The kind of record the log's dicts describe, when it is known."""
        return None

    async def details_context(self, request: Request) -> dict[str, Any]:
        obj = getattr(request.state, DETAIL_OBJ_STATE, None)
        if obj is not None:
            names = await anyio.to_thread.run_sync(self._names, obj, request_actor(request))
            setattr(request.state, _NAMES_STATE, names)
        return await super().details_context(request)

    def _names(self, obj: Any, actor: Actor) -> Names:
        model = self.described(obj)
        refs = list(_refs(type(obj), {c.key: getattr(obj, c.key) for c in inspect(type(obj)).column_attrs
                                      if c.key.endswith("_id") and c.key != "id"}))
        for column in inspect(type(obj)).column_attrs:
            if isinstance(column.columns[0].type, JSON):
                refs += _refs(model, getattr(obj, column.key) or {})
        with self.session_maker() as session:
            return load_names(session, refs, actor)


def names_of(request: Request | None) -> Names:
    return getattr(getattr(request, "state", None), _NAMES_STATE, None) or {}


def record_name(attr: str) -> Callable[[Any, Any, Request], str]:
    """An id column of the log shown as the record's name (项目 锦绣华庭)."""

    def fmt(model: Any, _name: Any, request: Request) -> str:
        return value_text(type(model), attr, getattr(model, attr), names_of(request))

    return fmt


def _actor(model: Any, _name: Any, request: Request) -> str:
    """操作人 as recorded at the time (a user renamed or removed later still reads as then)."""
    return model.actor_name or record_name("actor_id")(model, _name, request)


def _table_label(model: Any, _name: Any) -> str:
    return table_label(model.table_name)


def _operation_label(model: Any, _name: Any) -> str:
    return operation_label(model.operation)


def _source(model: Any, _name: Any) -> str:
    member = AuditSource._value2member_map_.get(model.source)
    return member.label if member is not None else model.source


_TRAIL = "wuye_record_trail"


class _TableFilter(StaticValuesFilter):
    """数据表; on one record's trail (``list_query``) the trail has chosen its rows already: a request's includes
    its orders' 派工 rows, of another table."""

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        if query.get_execution_options().get(_TRAIL):
            return query
        return await super().get_filtered_query(query, value, model)


class AuditLogAdmin(TrailView, model=AuditLog):
    category = "系统管理"
    icon = "fa-solid fa-clock-rotate-left"
    column_list = ["id", "at", "actor_name", "kind", "table_name", "record_id", "summary", "ip"]
    column_details_list = ["id", "at", "actor_id", "source", "kind", "table_name", "record_id", "project_id",
                           "summary", "changes", "ip"]
    column_searchable_list = ["actor_name", "summary"]
    column_searched_whole = ("record_id",)
    column_sortable_list = ["id", "at", "actor_name", "kind", "table_name"]
    column_default_sort = [("at", True), ("id", True)]
    column_filters = [
        EnumFilter("kind"),
        _TableFilter("table_name", values=table_choices(), parameter_name="table_name"),
    ]
    column_formatters = {"table_name": _table_label, "source": _source}
    column_formatters_detail = {
        "table_name": _table_label,
        "source": _source,
        "actor_id": _actor,
        "project_id": record_name("project_id"),
        "record_id": lambda m, a, request: _record(m, request),
        "changes": lambda m, a, request: values_table(
            TABLES.get(m.table_name), m.changes, names_of(request), diff=m.kind is AuditKind.UPDATE,
            skip_empty=m.kind in (AuditKind.INSERT, AuditKind.DELETE)),
    }

    def described(self, obj: Any) -> type | None:
        return TABLES.get(obj.table_name)

    def _names(self, obj: Any, actor: Actor) -> Names:
        names = super()._names(obj, actor)
        model = self.described(obj)
        if model is not None and "id" in model.__table__.c and obj.record_id.isdigit():
            with self.session_maker() as session:
                names.update(load_names(session, [(model, int(obj.record_id))], actor))
        return names

    def list_query(self, request: Request) -> Select:
        """``?table_name=…&record_id=…``: the trail of one record, as linked from its detail page."""
        stmt = super().list_query(request)
        table = request.query_params.get("table_name")
        record = request.query_params.get("record_id")
        if table and table != "__all" and record:
            return stmt.where(trail_clause(table, record)).execution_options(**{_TRAIL: True})
        if table and table != "__all":
            stmt = stmt.where(AuditLog.table_name == table)
        if record:
            stmt = stmt.where(AuditLog.record_id == record)
        return stmt


def _record(model: Any, request: Request) -> str:
    """记录编号 with the record's name while it exists: 877（1栋-101）."""
    table = TABLES.get(model.table_name)
    name = names_of(request).get((table, int(model.record_id))) if table and model.record_id.isdigit() else None
    return f"{model.record_id}（{name}）" if name else model.record_id


class OperationLogAdmin(TrailView, model=OperationLog):
    category = "系统管理"
    icon = "fa-solid fa-list"
    column_list = ["id", "at", "actor_name", "operation", "status", "message"]
    column_details_list = ["id", "at", "actor_id", "operation", "project_id", "status", "params", "counts", "message"]
    column_searchable_list = ["actor_name", "operation", "message"]
    column_sortable_list = ["id", "at", "actor_name", "operation", "status"]
    column_default_sort = [("at", True), ("id", True)]
    column_filters = [EnumFilter("status")]
    column_formatters = {"operation": _operation_label}
    column_formatters_detail = {
        "operation": _operation_label,
        "actor_id": _actor,
        "project_id": record_name("project_id"),
        "params": lambda m, a, request: values_table(_operation_record(m.operation), m.params, names_of(request)),
        "counts": lambda m, a, request: values_table(_operation_record(m.operation), m.counts, names_of(request)),
    }

    def described(self, obj: Any) -> type | None:
        return _operation_record(obj.operation)


@functools.cache
def _operation_record(code: str) -> type | None:
    """The record an operation's parameters are about: ``export:bill`` → 账单, ``record_visit`` → 回访走访, else
    the record its code names after the verb (``create-survey`` → 满意度调查, ``close_work_orders`` → 工单), so
    that a parameter reads as that record's column (a survey's ``period`` is 调查期间, not a bill's 账期)."""
    prefix, _, rest = code.partition(":")
    if code in OPERATION_RECORDS or prefix == "export":
        return OPERATION_RECORDS.get(code) or TABLES.get(rest)
    words = code.replace("-", "_").split("_")
    for start in range(1, len(words)):  # the longest name first: follow_up_corrective_action → corrective_action
        name = "_".join(words[start:])
        if model := TABLES.get(name) or TABLES.get(name.removesuffix("s")):
            return model
    return None
