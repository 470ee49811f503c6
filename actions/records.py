"""The one save path of a record typed in a form: :func:`save_record` and :func:`delete_record`.

A console model view (and anything else that saves a whole record from submitted values) calls these, in the
caller's one transaction: the record's rules, the write, its derived state, and the audit (the flush hook of
:mod:`actions.audit`) and operation-log rows — all or nothing.

Domain modules say what a record needs, next to their other rules, with decorators:

- ``@rule(Model)`` — ``fn(session, actor, change)`` checks a create or an edit before it is written; it may
  adjust ``change.obj`` (a cleaned value) and raises :class:`Refused` to refuse;
- ``@derive(Model)`` — ``fn(session, actor, change)`` after the write (flushed): state that follows from it (a
  key's status from its loans, a survey's status from its forms);
- ``@delete_rule(Model)`` — ``fn(session, actor, obj)`` before a delete; ``@derive`` hooks run after it too,
  with ``change.deleted`` set;
- ``@creates(Model)`` — ``fn(session, actor, values) -> obj``: a record whose creation is an action of its own
  (a survey lists its households; a corrective action starts 整改中), whatever else the form sends.

Versioned records (``version_id_col``) are saved only from the version the form was opened on: a form without
one is refused (「表单缺少版本号」), a stale one too (「已被他人修改，请刷新后重试」).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, Numeric, SmallInteger, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from models import FormSubmission, Project, label_of

from .actor import Actor
from .audit import as_actor, inserted_by, log_operation
from .errors import Refused, integrity_message
from .form_tokens import form_token as one_time
from .form_tokens import not_this_form
from .kernel.scope import require_company_wide

CONFLICT_MESSAGE = "已被他人修改，请刷新后重试"
MISSING_VERSION_MESSAGE = "表单缺少版本号，请刷新后重试"
EMPTY = (None, "", "__None")
# The most characters one text typed in may hold where its column sets no length (诉求内容, 值班事项 …): pages of
# text, beyond any real entry. More is a paste gone wrong or an attack: refused before it is stored, indexed for
# search and copied into the audit trail.
TEXT_MAX = 10_000


class EditConflict(Refused):
    """The record changed since its form was opened (or the form does not say from which version)."""

    def __init__(self, message: str = CONFLICT_MESSAGE, ids: Iterable[Any] = ()) -> None:
        super().__init__(message, list(ids))


@dataclass
class Change:
    """One save: the record (values already assigned), whether it is new, its column values before the save
    and the values submitted."""

    obj: Any
    created: bool
    before: dict[str, Any] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    deleted: bool = False

    def was(self, attr: str) -> Any:
        return self.before.get(attr)

    def changed(self, attr: str) -> bool:
        return self.created or self.before.get(attr) != getattr(self.obj, attr)


Rule = Callable[[Session, Actor, Change], None]
_RULES: dict[type, list[Rule]] = defaultdict(list)
_DERIVED: dict[type, list[Rule]] = defaultdict(list)
_DELETE_RULES: dict[type, list[Callable[[Session, Actor, Any], None]]] = defaultdict(list)
_CREATORS: dict[type, Callable[[Session, Actor, Mapping[str, Any]], Any]] = {}


def _register(table: dict, model: type) -> Callable[[Callable], Callable]:
    def decorator(fn: Callable) -> Callable:
        table[model].append(fn)
        return fn

    return decorator


def rule(model: type) -> Callable[[Callable], Callable]:
    return _register(_RULES, model)


def derive(model: type) -> Callable[[Callable], Callable]:
    return _register(_DERIVED, model)


def delete_rule(model: type) -> Callable[[Callable], Callable]:
    return _register(_DELETE_RULES, model)


def creates(model: type) -> Callable[[Callable], Callable]:
    def decorator(fn: Callable) -> Callable:
        _CREATORS[model] = fn
        return fn

    return decorator


def created_by_action(model: type) -> bool:
    return model in _CREATORS


def version_attr(model: type) -> str | None:
    """The attribute holding a versioned record's version, or None."""
    column = inspect(model).version_id_col
    return None if column is None else inspect(model).get_property_by_column(column).key


def check_version(obj: Any, sent: Any) -> None:
    """Refuse a save from a form opened on another version of ``obj`` (or one that does not say which)."""
    attr = version_attr(type(obj))
    if sent in EMPTY:
        raise EditConflict(MISSING_VERSION_MESSAGE, [inspect(obj).identity[0]])
    try:
        sent = int(sent)
    except (TypeError, ValueError) as exc:
        raise EditConflict(MISSING_VERSION_MESSAGE) from exc
    if sent != getattr(obj, attr):
        raise EditConflict(ids=[inspect(obj).identity[0]])


def new_version(obj: Any) -> None:
    """Move a versioned record's version although none of its own columns changed (its links did: an account's
    roles, a role's grants), so that a form opened before is refused too."""
    mapper = inspect(type(obj))
    key = next(a.key for a in mapper.column_attrs if not a.columns[0].primary_key and a.columns[0] is not mapper.version_id_col)
    flag_modified(obj, key)  # an UPDATE of the row, which moves its version


def ref_id(values: Mapping[str, Any], name: str) -> int | None:
    """The id a form's relation field ``name`` holds (a record or its id), for a ``@creates`` action's arguments."""
    ids = _ids(values.get(name))
    try:
        return int(ids[0]) if ids else None
    except (TypeError, ValueError):
        raise Refused(f"{name}无效：{values.get(name)}") from None


def _ids(value: Any) -> list[Any]:
    items = value if isinstance(value, list | tuple | set) else [value]
    return [getattr(item, "id", item) for item in items if item not in EMPTY]


def check_text_length(model: type, key: str, value: Any, *, label: str | None = None) -> None:
    """Refuses a text longer than its column holds (:data:`TEXT_MAX` where the column sets no length), naming the
    field (``label`` where the text typed is not the column's whole value, e.g. one note appended to it) and both
    lengths — never cut short without saying so."""
    column = inspect(model).columns.get(key)
    limit = getattr(getattr(column, "type", None), "length", None) or TEXT_MAX
    if isinstance(value, str) and len(value) > limit:
        raise Refused(f"{label or label_of(model, key)}过长：最多 {limit:,} 字，现为 {len(value):,} 字")


# The largest whole number each integer type holds on PostgreSQL (SQLite holds 64 bits whatever the column says).
_INT_MAX = ((BigInteger, 2**63 - 1), (SmallInteger, 2**15 - 1), (Integer, 2**31 - 1))


def check_number_range(model: type, key: str, value: Any) -> None:
    """Refuses a number its column cannot hold, naming the field: past a Numeric(p, s) PostgreSQL refuses the row
    and SQLite stores it as a float (「1e309」 typed as a 押金 became Infinity, and the record's page an HTTP 500 from
    then on); past an Integer PostgreSQL refuses what SQLite keeps. Alike on both databases, before the write."""
    column = inspect(model).columns.get(key)
    if column is None or isinstance(value, bool) or not isinstance(value, int | Decimal):
        return
    kind = column.type
    if isinstance(kind, Numeric) and kind.precision is not None:
        limit = Decimal(10) ** (kind.precision - (kind.scale or 0))
        beyond = abs(value) >= limit
        # worded as money() words an amount: 「应收(元)超出范围（最多 9,999,999,999.99 元）」
        most = f"最多 {limit - Decimal(10) ** -(kind.scale or 0):,}{' 元' if '(元)' in label_of(model, key) else ''}"
    elif isinstance(kind, Integer):
        most_int = next(v for integer, v in _INT_MAX if isinstance(kind, integer))
        beyond, most = abs(value) > most_int, f"最多 {most_int:,}"
    else:
        return
    if beyond:
        raise Refused(f"{label_of(model, key)}超出范围（{most}）：{value}")


def _assign(session: Session, obj: Any, values: Mapping[str, Any]) -> None:
    """Form values onto the record: a related record given by its id sets the foreign key; a list of ids sets a
    collection; an empty text in a nullable column is stored as NULL, one of blanks in a required one is refused."""
    mapper = inspect(type(obj))
    for key, value in values.items():
        relation = mapper.relationships.get(key)
        if relation is not None:
            target = relation.mapper
            if relation.uselist:
                pk = target.primary_key[0]
                ids = [pk.type.python_type(i) for i in _ids(value)]
                setattr(obj, key, list(session.scalars(select(target.class_).where(pk.in_(ids)))) if ids else [])
            elif relation.direction.name == "MANYTOONE":
                ident = _ids(value)
                for local, remote in relation.local_remote_pairs:
                    python_type = remote.type.python_type
                    setattr(obj, mapper.get_property_by_column(local).key, python_type(ident[0]) if ident else None)
            else:
                ident = _ids(value)
                setattr(obj, key, session.get(target.class_, ident[0]) if ident else None)
            continue
        column = mapper.columns.get(key)
        if column is not None and column.nullable and value in ("", None):
            value = None
        if (isinstance(value, str) and not value.strip() and column is not None and not column.nullable
                and column.default is None and column.server_default is None):
            # a required text of spaces passes the form's 「required」 but says nothing
            raise Refused(f"请填写{label_of(type(obj), key)}")
        if column is not None and getattr(column.type, "length", None) is None:  # a set length: the form holds it
            check_text_length(type(obj), key, value)
        check_number_range(type(obj), key, value)
        enum_class = getattr(getattr(column, "type", None), "enum_class", None)
        if enum_class is not None and value is not None and not isinstance(value, enum_class):
            value = member(enum_class, value, type(obj), key)  # the rules compare members, as stored ones are
        setattr(obj, key, value)


def member(enum_class: type, value: Any, model: type, key: str) -> Any:
    """The member of ``enum_class`` a form's ``value`` names, or a refusal naming the field."""
    try:
        return enum_class(getattr(value, "value", value))
    except ValueError:
        raise Refused(f"{label_of(model, key)}无效：{value}") from None


def _snapshot(obj: Any) -> dict[str, Any]:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(type(obj)).column_attrs}


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:  # changed by another transaction between loading and saving
        raise EditConflict() from exc
    except IntegrityError as exc:  # a duplicate natural key, a dangling reference …: say which, in Chinese
        raise Refused(integrity_message(exc)) from exc


def _table(obj: Any) -> str:
    return inspect(type(obj)).local_table.name


def _log(session: Session, obj: Any, *, operation: str) -> None:
    """The operation-log row of a console save (``create:unit``, ``update:unit``, ``delete:unit``)."""
    pk = inspect(obj).identity[0]
    label = getattr(type(obj), "__label__", "") or _table(obj)
    log_operation(session, operation, params={"id": pk}, counts={"records": 1},
                  project_id=getattr(obj, "project_id", None), message=f"{label} #{pk}")


@as_actor
def save_record(session: Session, model: type, obj: Any | None, values: Mapping[str, Any], *, actor: Actor,
                version: Any = None, form_token: str | None = None) -> Any:
    """Create (``obj`` None or a new, unsaved instance) or edit one record from submitted values; returns the
    record, flushed. A create form's one-time ``form_token`` makes it write once: sent again, it is answered with
    the record it made."""
    values = dict(values)
    created = obj is None or inspect(obj).transient
    require_company_wide(actor, model, None if created else obj)  # shared reference data: as stored
    claim = None
    if created and (token := one_time(form_token)) is not None:
        claim, earlier = _claim(session, model, token, actor)
        if earlier is not None:
            return earlier
    if created and model in _CREATORS:
        obj = _CREATORS[model](session, actor, values)
        _log(session, obj, operation=f"create:{_table(obj)}")
        _made(claim, obj)
        return obj
    attr = version_attr(model)
    if attr is not None:
        values.pop(attr, None)  # the version moves only by saving
        if not created:
            check_version(obj, version)
    before = {} if created else _snapshot(obj)
    if obj is None:
        obj = model()
    with session.no_autoflush:
        _assign(session, obj, values)
        require_company_wide(actor, model, obj)  # … and as it would be saved (a project's row made shared)
        change = Change(obj, created, before, values)
        check_status_requires(change)
        for check in _RULES.get(model, ()):
            check(session, actor, change)
        check_same_project(session, change)  # after the record's own rules: theirs is the closer wording
    if created:
        session.add(obj)
    _flush(session)
    for follow in _DERIVED.get(model, ()):
        follow(session, actor, change)
    _log(session, obj, operation=f"create:{_table(obj)}" if created else f"update:{_table(obj)}")
    _made(claim, obj)
    return obj


def _claim(session: Session, model: type, token: str, actor: Actor) -> tuple[FormSubmission | None, Any]:
    """Take the token for this form's record — or, taken already, the record it made, if this account made it (its
    新增 row in the trail, written in the same transaction): another account's token — even of the same project —
    is refused, not answered with his record. A second submission at the same moment waits on the token's unique
    index until the first commits, then finds its record."""
    table = inspect(model).local_table.name
    try:
        with session.begin_nested():
            claim = FormSubmission(token=token, table_name=table)
            session.add(claim)
            session.flush()
        return claim, None
    except IntegrityError:
        pass
    used = session.scalar(select(FormSubmission).where(FormSubmission.token == token)
                          .execution_options(populate_existing=True))
    earlier = None if used is None or used.table_name != table or used.record_id is None else \
        session.get(model, used.record_id)
    if earlier is None:
        raise Refused("该表单已提交过，请重新打开页面后再填写")
    project_id = getattr(earlier, "project_id", None)
    if project_id is not None and not actor.can_see(project_id):
        raise not_this_form()  # another project's record: neither shown nor taken for this form's
    made_by = inserted_by(session, table, used.record_id)
    if made_by and made_by[0] != actor.user_id:
        raise not_this_form()  # a colleague's form (same project): what was typed here is not his record
    return None, earlier


def _made(claim: FormSubmission | None, obj: Any) -> None:
    if claim is not None:
        claim.record_id = inspect(obj).identity[0]


@as_actor
def delete_record(session: Session, model: type, obj: Any, *, actor: Actor) -> None:
    """Delete one record: its delete rules, the delete, its derived state and the operation-log row."""
    require_company_wide(actor, model, obj)
    for check in _DELETE_RULES.get(model, ()):
        check(session, actor, obj)
    change = Change(obj, False, _snapshot(obj), {}, deleted=True)
    _log(session, obj, operation=f"delete:{_table(obj)}")
    session.delete(obj)
    _flush(session)
    for follow in _DERIVED.get(model, ()):
        follow(session, actor, change)


def check_status_requires(change: Change) -> None:
    """A status that needs other fields filled in (the model's ``status_requires``, e.g. 已发还 → 认领人、发还时间):
    refused without them."""
    model = type(change.obj)
    status = getattr(getattr(change.obj, "status", None), "value", getattr(change.obj, "status", None))
    for member, names in (getattr(model, "status_requires", None) or {}).items():
        if member.value != status:
            continue
        missing = [name for name in names if _blank(change.obj, name)]
        if missing:
            raise Refused(f"状态为“{member.label}”时须填写{'、'.join(label_of(model, name) for name in missing)}")


def check_same_project(session: Session, change: Change) -> None:
    """A record of a project points only at records of that project (or shared ones, without a project): the
    房屋 of a 放行条, the 客户 of a 装修申请, the 审批人 … — a user of several projects picks from all of them, and
    a 装修申请 of 锦绣华庭 must not set a 翠湖天地 unit 装修中. Checked where the link or the project changed, so
    that an old record can still be edited."""
    obj = change.obj
    model = type(obj)
    project_id = getattr(obj, "project_id", None)
    if project_id is None or not hasattr(model, "project_id"):
        return
    mapper = inspect(model)
    for relation in mapper.relationships:
        target = relation.mapper.class_
        if relation.direction.name != "MANYTOONE" or target is Project or not hasattr(target, "project_id") \
                or len(relation.local_remote_pairs) != 1:
            continue
        key = mapper.get_property_by_column(relation.local_remote_pairs[0][0]).key
        ident = getattr(obj, key)
        if ident is None or not (change.changed(key) or change.changed("project_id")):
            continue
        row = session.get(target, ident)
        if row is None or row.project_id is None or row.project_id == project_id:
            continue  # a dangling id is the foreign key's to refuse; a shared row serves every project
        projects = dict(session.execute(select(Project.id, Project.name)
                                        .where(Project.id.in_([project_id, row.project_id]))).all())
        raise Refused(f"{label_of(model, relation.key)}「{row}」属于项目「{projects.get(row.project_id, row.project_id)}」，"
                      f"不属于本记录的项目「{projects.get(project_id, project_id)}」：请选择本项目的{label_of(model, relation.key)}",
                      [ident])


def _blank(obj: Any, name: str) -> bool:
    mapper = inspect(type(obj))
    relation = mapper.relationships.get(name)
    if relation is not None:  # set by its foreign key (see _assign): the relation itself may be stale
        return all(getattr(obj, mapper.get_property_by_column(local).key) is None
                   for local, _ in relation.local_remote_pairs)
    value = getattr(obj, name, None)
    return value is None or (isinstance(value, str) and not value.strip())
