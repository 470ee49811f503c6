"""The audit trail, written in the same transaction as the change.

ORM changes (console forms, CLI, small actions) are caught by a flush hook; set-based batch statements
that bypass the ORM record their rows with :func:`record_bulk`, one row per record, or — where every row would
say the same thing — one row for many records: a spreadsheet import of a whole file once per table with
:func:`record_batch`, the rows being those carrying the batch's id; a dunning run's notices once for the run with
:func:`record_run`, the notices carrying the run's id; a compute's derived score events once per project with
:func:`record_per_project`, naming them. Each record's 变更记录 still lists the row that made it
(:data:`TRAIL_LINKS`: who, when, what the run said). Each batch action also writes one operation-log row with
:func:`log_operation`. Being the one place every write passes, it is also where a
write to what the monthly scores are computed from marks the months it changes (:mod:`actions.score_inputs`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import json
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    event,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE
from sqlalchemy.sql.dml import ReturningInsert

from models import (
    AuditActor,
    AuditKind,
    AuditLog,
    Base,
    FormSubmission,
    LoginAttempt,
    OperationLog,
    OperationStatus,
    utcnow,
)

from .actor import Actor, current_actor
from .kernel.sql import insert_leaving_held, json_object, json_value
from .privacy import mask
from .score_inputs import feeds_scores, mark_changed

T = TypeVar("T")

REDACTED = "***"
# Never written to the audit trail in clear (P02).
SECRET_COLUMNS = {"password_hash"}
UNAUDITED = (AuditLog, AuditActor, OperationLog, LoginAttempt, FormSubmission)
MAX_ID = 2**31 - 1  # an id column's range: a longer number in an address names no record
# A record's 变更记录 beyond its own rows, by table: ``link(id)`` selects the rows written for it among others
# (a request's 派工, on its order; a derived score event's compute, one row for the project's events; a dunning
# notice's run, one row for the run's notices).
TRAIL_LINKS: dict[str, Callable[[int], ColumnElement[bool]]] = {}
_NOTED = "wuye_audit_actors"  # session.info: (the transaction, the 操作人 names noted in it)


def actor_of(session: Session) -> Actor:
    return session.info.get("actor") or current_actor.get()


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _redacted(column: Any, value: Any) -> Any:
    """A value as the audit trail keeps it: secrets and ID numbers never; a phone number masked as the lists show
    it (``138****5678``: enough to tell which number changed, not to call it — PIPL, P02)."""
    if value in (None, ""):
        return value
    pii = column.info.get("pii")
    if column.key in SECRET_COLUMNS or pii == "id_number":
        return REDACTED
    if pii:
        return mask(pii, str(value))
    return _plain(value)


def _row(actor: Actor, kind: AuditKind, obj: Any, changes: dict[str, Any]) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    pk = ",".join(str(v) for v in mapper.primary_key_from_instance(obj))
    label = getattr(type(obj), "__label__", "") or mapper.class_.__name__
    return {
        "at": utcnow(),
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "source": actor.source,
        "kind": kind,
        "table_name": mapper.local_table.name,
        "record_id": pk,
        "project_id": getattr(obj, "project_id", None),
        "summary": f"{kind.label}{label} #{pk}",
        "changes": changes,
        "ip": actor.ip,
    }


def _changes(obj: Any, kind: AuditKind) -> dict[str, Any]:
    state = inspect(obj)
    changes: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        if column.info.get("audited") is False:  # bookkeeping (a last login, an index key kept with a status)
            continue
        hist = state.attrs[attr.key].history
        if kind is AuditKind.UPDATE:
            if not hist.has_changes():
                continue
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old == new:
                continue
            changes[attr.key] = [_redacted(column, old), _redacted(column, new)]
        else:
            value = state.attrs[attr.key].loaded_value
            if value is NO_VALUE:
                continue
            changes[attr.key] = _redacted(column, value)
    return changes


def note_actors(session: Session, names: Iterable[str]) -> None:
    """Keep the names audit rows are written with in ``AuditActor``, which the search of 操作人 reads
    (``models.base.searched_among``): each name once a transaction (a savepoint's own), an insert that leaves a
    name already there as it is. Every writer of audit rows calls it — a row written around it (raw SQL) is not
    found by its 操作人 until its name is added."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    noted = session.info.get(_NOTED)
    if noted is None or noted[0] is not transaction:
        noted = session.info[_NOTED] = (transaction, set())
    new = sorted({name for name in names if name} - noted[1])
    if new:
        session.execute(insert_leaving_held(session, AuditActor, ["name"]), [{"name": name} for name in new])
        noted[1].update(new)


@event.listens_for(Session, "after_flush")
def _audit_flush(session: Session, _ctx: Any) -> None:
    actor = actor_of(session)
    # audit rows added as records (a test's, a seed's) are found by their 操作人 too
    written = [obj.actor_name for objs in (session.new, session.dirty) for obj in objs if isinstance(obj, AuditLog)]
    rows = []
    for kind, objs in (
        (AuditKind.INSERT, session.new),
        (AuditKind.UPDATE, session.dirty),
        (AuditKind.DELETE, session.deleted),
    ):
        for obj in objs:
            if isinstance(obj, UNAUDITED):
                continue
            if kind is AuditKind.UPDATE and not session.is_modified(obj, include_collections=False):
                continue
            changes = _changes(obj, kind)
            if kind is AuditKind.UPDATE and not changes:
                continue
            rows.append(_row(actor, kind, obj, changes))
    note_actors(session, [*written, *(r["actor_name"] for r in rows)])
    if rows:
        session.execute(insert(AuditLog), rows)
        touched: list[int | None] = []
        for r in rows:
            if feeds_scores(r["table_name"]):
                touched.append(r["project_id"])
                if r["kind"] is AuditKind.UPDATE and "project_id" in r["changes"]:
                    touched.append(r["changes"]["project_id"][0])  # moved: its old project's scores change too
        if touched:
            mark_changed(session, touched)


def record_bulk(
    session: Session, *, kind: AuditKind, table: str, ids: Select, summary: str, project_column: str | None = "project_id",
    changes: dict[str, Any] | None = None, columns: Sequence[str] = (),
) -> None:
    """One audit row per record touched by a set-based statement, in one INSERT … SELECT.

    ``ids`` selects ``id`` (and ``project_id`` when ``project_column`` is given) of the touched rows; ``changes``:
    the values the statement wrote, the same for every row (a lifecycle step's status, result, reason);
    ``columns``: columns of ``table`` whose value each row holds after the statement (an imported row's fields, a
    new order's department) — read in the same SELECT (from ``ids`` when it selects them all, else from ``table``
    by id) and built into the row's JSON by the database, so a 100,000-row import still writes its trail in one
    statement.
    """
    actor = actor_of(session)
    sub = ids.subquery()
    values = {k: _text(_plain(v)) if _json_scalar(v) else _parsed_json(session, v) for k, v in (changes or {}).items()}
    source: Any = sub
    if columns:
        target = Base.metadata.tables[table]
        # Columns ``ids`` selects already are read from it: no second lookup of every row by its id.
        held = all(name in sub.c for name in columns)
        if not held:
            source = sub.join(target, target.c.id == sub.c.id)
        values.update({name: _audited_value(target.c[name], sub.c[name] if held else target.c[name])
                       for name in columns})
    stmt = insert(AuditLog).from_select(
        ["at", "actor_id", "actor_name", "source", "kind", "table_name", "record_id", "project_id", "summary", "changes", "ip"],
        select(
            literal(utcnow(), AuditLog.at.type),
            literal(actor.user_id, AuditLog.actor_id.type),
            literal(actor.name),
            literal(actor.source),
            literal(kind, AuditLog.kind.type),
            literal(table),
            sub.c.id,
            sub.c[project_column] if project_column else literal(None, AuditLog.project_id.type),
            literal(summary),
            _json_object(session, values) if values else literal({}, AuditLog.changes.type),
            literal(actor.ip),
        ).select_from(source),
    )
    session.execute(stmt)
    note_actors(session, [actor.name])
    if feeds_scores(table):
        mark_changed(session, select(sub.c[project_column]) if project_column else [None])


def record_per_project(
    session: Session, *, kind: AuditKind, table: str, ids: Iterable[tuple[int, int]], summary: str, record_id: str,
    at: dt.datetime,
) -> None:
    """One audit row per project for the many records of ``table`` a set-based statement wrote — ``ids``, the
    (id, project_id) of each, as its RETURNING gave them — in one INSERT: ``{"count": n, "ids": [...]}`` (ids in
    ascending order), at ``at`` (the records' own time stamp, which links each record to its row:
    :data:`TRAIL_LINKS`).

    For writes whose rows would all say the same thing (a compute's thousands of derived score events): the
    trail keeps which records, who and when, without a row per record — and without reading them again.
    """
    actor = actor_of(session)
    by_project: dict[int, list[int]] = {}
    for record, project in ids:
        by_project.setdefault(project, []).append(record)
    if not by_project:
        return
    session.execute(insert(AuditLog), [{
        "at": at, "actor_id": actor.user_id, "actor_name": actor.name, "source": actor.source, "kind": kind,
        "table_name": table, "record_id": record_id, "project_id": project, "summary": summary,
        "changes": {"count": len(records), "ids": sorted(records)}, "ip": actor.ip,
    } for project, records in sorted(by_project.items())])
    note_actors(session, [actor.name])
    if feeds_scores(table):
        mark_changed(session, by_project)


def record_per_project_with(
    session: Session, written: ReturningInsert, values: dict[str, Any] | None = None, *, kind: AuditKind, table: str,
    summary: str, record_id: str, at: dt.datetime,
) -> list[tuple[int, int]]:
    """:func:`record_per_project`'s rows for ``written`` — a set-based INSERT of ``table`` … RETURNING the ``id``
    and ``project_id`` of each row — run with it as one statement (PostgreSQL: the insert as a data-modifying CTE),
    so the thousands of ids never travel to Python and back; ``changes`` is built by the database, the same
    ``{"count": n, "ids": [...]}`` (ids in ascending order). ``values``: those of ``written``'s bound parameters.
    Returns (project_id, n) for each project written."""
    actor = actor_of(session)
    trail = _per_project.get(written)
    if trail is None:  # built once for each statement a caller keeps (its values bound)
        trail = _per_project[written] = _per_project_trail(written)
    counts = [(project, n) for project, n in session.execute(trail, {
        **(values or {}), "trail_at": at, "trail_actor_id": actor.user_id, "trail_actor_name": actor.name,
        "trail_source": actor.source, "trail_kind": kind, "trail_table": table, "trail_record_id": record_id,
        "trail_summary": summary, "trail_ip": actor.ip,
    })]
    if counts:
        note_actors(session, [actor.name])
        if feeds_scores(table):
            mark_changed(session, [project for project, _ in counts])
    return sorted(counts)


_per_project: weakref.WeakKeyDictionary[ReturningInsert, Any] = weakref.WeakKeyDictionary()


def _per_project_trail(written: ReturningInsert) -> Any:
    rows = written.cte("written")
    audit = AuditLog.__table__  # the table, not the entity: the ORM takes a statement's values for rows to insert
    columns = ["at", "actor_id", "actor_name", "source", "kind", "table_name", "record_id", "summary", "ip"]
    bound = {name: bindparam(f"trail_{'table' if name == 'table_name' else name}", type_=audit.c[name].type)
             for name in columns}
    return insert(audit).from_select(
        [*columns, "project_id", "changes"],
        select(
            *(bound[name] for name in columns), rows.c.project_id,
            func.json_build_object(literal("count", Text), func.count(),
                                   literal("ids", Text), func.json_agg(aggregate_order_by(rows.c.id, rows.c.id))),
        ).group_by(rows.c.project_id),
    ).add_cte(rows).returning(audit.c.project_id, cast(audit.c.changes.op("->>")(literal("count", Text)), Integer))


def trail_clause(table: str, record: str) -> ColumnElement[bool]:
    """The audit rows of one record's trail (变更记录): its own, and those :data:`TRAIL_LINKS` links to it."""
    own = and_(AuditLog.table_name == table, AuditLog.record_id == record)
    link = TRAIL_LINKS.get(table)
    if link is None or not record.isdigit() or int(record) > MAX_ID:
        return own
    return or_(own, link(int(record)))


def inserted_by(session: Session, table: str, record_id: int) -> list[int | None]:
    """Who made the record, as its 新增 row in the trail says: [the account's id] (None for the system or a deleted
    account), or [] where the trail has no row of its own for it (a record of a batch: ``record_batch``)."""
    return list(session.scalars(select(AuditLog.actor_id).where(
        AuditLog.table_name == table, AuditLog.record_id == str(record_id), AuditLog.kind == AuditKind.INSERT).limit(1)))


def _json_scalar(value: Any) -> bool:
    # Strings and numbers go in as they are; booleans, lists and dicts as JSON text the database parses.
    return not isinstance(value, bool | list | tuple | dict) and value is not None


def _text(value: Any) -> Any:
    # Typed, so PostgreSQL's json_build_object knows what each parameter is.
    return cast(literal(value), Text) if isinstance(value, str) else literal(value)


def _parsed_json(session: Session, value: Any) -> Any:
    return json_value(session, _text(json.dumps(_plain_deep(value), ensure_ascii=False)))


def _plain_deep(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_deep(v) for k, v in value.items()}
    return _plain(value)


def _audited_value(column: Any, value: Any) -> Any:
    """``value``, the SQL of ``column``'s value, as the trail may show it: a secret or an ID number as ``***``
    (P02), like the flush hook."""
    if column.key in SECRET_COLUMNS or column.info.get("pii") == "id_number":
        return case((or_(value.is_(None), value == ""), value), else_=literal(REDACTED))
    return value


def _json_object(session: Session, values: dict[str, Any]) -> Any:
    pairs = [part for key, value in values.items() for part in (_text(key), value)]
    return json_object(session, pairs, AuditLog.changes.type)


def record_batch(
    session: Session, *, kind: AuditKind, table: str, batch_id: int, count: int, summary: str,
    details: dict[str, Any] | None = None, project_id: int | None = None, actor: Actor | None = None,
) -> None:
    """One audit row for the ``count`` records of ``table`` an import batch wrote.

    A 100,000-row file would otherwise add 100,000 rows that all say the same thing; the records are found
    through their ``batch_id`` (导入批次), the file, sheets and counts are in the row and in the batch itself.
    ``record_id`` is ``batch:<id>``, so searching the trail for it lists everything the batch did. ``actor``
    is who imported (the session's actor when not given).
    """
    _record_group(session, kind, table, "batch", batch_id, count, summary, details, project_id, actor)


def record_run(
    session: Session, *, kind: AuditKind, table: str, run_id: int, count: int, summary: str, project_id: int,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row for the ``count`` records of ``table`` one run of a batch action wrote, each of which
    carries ``run_id`` (a dunning run's notices): who ran it, when, and what it says of them all (``details``: a
    stage, a month, an amount) — a row per record would say the same thing thousands of times, each paying its
    search-index entries (摘要). ``record_id`` is ``run:<id>``; :data:`TRAIL_LINKS` lists the row on each record's
    变更记录, through the record's own ``run_id`` (no list of ids to write or read).
    """
    _record_group(session, kind, table, "run", run_id, count, summary, details, project_id, None)


def _record_group(session: Session, kind: AuditKind, table: str, group: str, group_id: int, count: int, summary: str,
                  details: dict[str, Any] | None, project_id: int | None, actor: Actor | None) -> None:
    """The one row of a batch's or a run's records: ``record_id`` ``<group>:<id>``, ``<group>_id`` and ``count``
    in its changes."""
    log_event(
        session, kind, summary=summary, table=table, record_id=f"{group}:{group_id}", project_id=project_id,
        changes={f"{group}_id": group_id, "count": count, **{k: _plain(v) for k, v in (details or {}).items()}},
        actor=actor,
    )
    if feeds_scores(table):
        mark_changed(session, [project_id])


def log_event(session: Session, kind: AuditKind, *, summary: str, changes: dict[str, Any] | None = None,
              table: str = "", record_id: str = "", project_id: int | None = None, actor: Actor | None = None) -> None:
    """A non-write event worth recording: login, failed login, export, a full view of personal data."""
    actor = actor or actor_of(session)
    session.execute(
        insert(AuditLog),
        [{
            "at": utcnow(), "actor_id": actor.user_id, "actor_name": actor.name, "source": actor.source,
            "kind": kind, "table_name": table, "record_id": record_id, "project_id": project_id,
            "summary": summary, "changes": changes or {}, "ip": actor.ip,
        }],
    )
    note_actors(session, [actor.name])


def log_operation(
    session: Session,
    operation: str,
    *,
    params: dict[str, Any],
    counts: dict[str, Any],
    project_id: int | None = None,
    status: OperationStatus = OperationStatus.DONE,
    message: str = "",
) -> OperationLog:
    """The one operation-log row every batch action writes, in the action's own transaction."""
    actor = actor_of(session)
    row = OperationLog(
        actor_id=actor.user_id,
        actor_name=actor.name,
        operation=operation,
        project_id=project_id,
        status=status,
        params={k: _plain(v) for k, v in params.items()},
        counts={k: _plain(v) for k, v in counts.items()},
        message=message,
    )
    session.add(row)
    session.flush()
    return row


# What each operation-log code means, in Chinese: the one place the console (操作日志) reads it from.
# ``export:<table>``, ``import:<kind>`` and the console's ``create:/update:/delete:<table>`` are named after the
# record (see operation_label).
OPERATION_LABELS: dict[str, str] = {
    # 工单
    "receive_request": "受理客户诉求",
    "answer_request": "答复办结诉求",
    "withdraw_request": "撤销诉求",
    "dispatch": "派工",
    "accept_work_orders": "接单",
    "reassign_work_orders": "转派工单",
    "complete_work_order": "工单完工",
    "callback_work_order": "工单回访",
    "close_work_orders": "关闭工单",
    "record_visit": "登记走访",
    "export_department_report": "导出部门日报",
    "export_complaint_statistics": "导出投诉统计",
    "export_monthly_report": "导出月度报表",
    # 收费与催缴
    "generate_bills": "生成账单",
    "record_payment": "登记收款",
    "reverse_payment": "冲正收款",
    "pay_account": "按户收款",
    "export_arrears": "导出欠费明细",
    "export_collection_rate": "导出收缴率",
    "issue_dunning": "发出催缴通知",
    "approve_dunning": "批准催缴名单",
    "reject_dunning": "驳回催缴名单",
    "record_delivery": "登记催缴送达",
    "close_month": "月结",
    # 满意度调查
    "create-survey": "创建满意度调查",
    "distribute-survey": "登记问卷发放",
    "add-corrective-action": "添加整改措施",
    "complete-corrective-action": "完成整改措施",
    "follow-up-corrective-action": "整改跟踪回访",
    # 考核
    "revise_scoring_rule": "修订考核条款",
    "record_score_events": "录入考核",
    "compute_scores": "计算月度考核",
    "judge_complaint": "判定投诉",
    "confirm_scores": "确认月度考核",
    "spot_check_scores": "抽查月度考核",
    "reopen_scores": "重新开放月度考核",
    "export_scores": "导出月度考核",
    "nominate_service_star": "推荐服务之星",
    "choose_service_star": "评定服务之星",
    "set_star_deadline": "设定服务之星推荐截止日",
    # 台帐
    "carry_over_tasks": "结转上周未完成工作",
    "approve_visit_plans": "批准走访计划",
    "escalate_request": "诉求升级上报",
    "respond_escalation": "批复诉求升级",
    "sign_off_visits": "签阅走访记录",
    "export_visit_year": "导出年度走访统计",
    "record_patrol": "登记巡查",
    "hand_over_collections": "交接代收款",
    "confirm_handover": "确认代收款交接",
    "notify_mail": "通知管家领取邮件",
    "schedule_fee_reviews": "生成收费标准年审任务",
    "complete_fee_review": "完成收费标准年审",
    "lease_parking_space": "办理车位租赁",
    "end_parking_lease": "车位退租",
    "report_finding": "巡查发现报事",
    # 系统
    "add_user": "新建账号",
    "save_user": "保存账号",
    "set_password": "修改密码",
    "disable_user": "停用账号",
    "grant_roles": "授予或撤销角色",
    "delete_user": "删除账号",
    "save_role": "保存角色",
    "delete_role": "删除角色",
    "load_reference": "载入基础数据",
    "load_demo": "载入演示数据",
}


# Codes named after a record: an export, and a console form's save (actions/records.py).
RECORD_VERBS = {"export": "导出", "create": "新增", "update": "修改", "delete": "删除"}


@functools.cache
def _record_labels() -> dict[str, str]:
    return {m.class_.__table__.name: m.class_.__label__ or m.class_.__name__ for m in Base.registry.mappers}


# ``import:<kind>`` → the importer's title. Each importer module registers its kinds when it is loaded, so this
# module needs none of them (the importers write their operation rows through it).
IMPORT_TITLES: dict[str, str] = {}


def operation_label(code: str) -> str:
    """An operation-log code in Chinese: ``export:bill`` → 导出「账单」, a console form's ``update:unit`` → 修改「房屋」;
    a code not known is shown as itself."""
    if label := OPERATION_LABELS.get(code):
        return label
    prefix, _, rest = code.partition(":")
    if prefix in RECORD_VERBS and (name := _record_labels().get(rest)):
        return f"{RECORD_VERBS[prefix]}「{name}」"
    if prefix == "import" and (name := IMPORT_TITLES.get(rest)):
        return f"导入「{name}」"
    if prefix == "job":  # a 后台任务 that failed before its own operation was known (actions/job_runner.py)
        return f"后台任务（{ {'export': '导出', 'import': '导入', 'report': '导出报表', 'letters': '催缴通知函'}.get(rest, rest)}）"
    return code


def as_actor(fn: Callable[..., T]) -> Callable[..., T]:
    """Attribute the audit and operation-log rows an action writes to its ``actor`` argument (the audit
    helpers read the session's actor), restoring the session's own afterwards."""

    @functools.wraps(fn)
    def wrapper(session: Session, *args: Any, actor: Actor, **kwargs: Any) -> T:
        previous = session.info.get("actor")
        session.info["actor"] = actor
        try:
            return fn(session, *args, actor=actor, **kwargs)
        finally:
            if previous is None:
                session.info.pop("actor", None)
            else:
                session.info["actor"] = previous

    return wrapper
