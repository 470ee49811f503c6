"""How every console list answers from an index at any size (issue 17).

sqladmin counts a list as ``SELECT count(*) FROM (<the page query, ORDER BY included>)`` and pages it with
OFFSET over whole rows: at a million bills PostgreSQL sorts them all on disk to count them. Here:

- the count is exact up to ``EXACT_UP_TO`` rows, by a capped count (``SELECT count(*) FROM (SELECT id … LIMIT
  10001)``, no ORDER BY); beyond it the database's estimate when it keeps one (PostgreSQL's planner: 约 120 万),
  else the bound (SQLite: 1 万以上); the last page of a list always knows its count exactly;
- a page selects its ids first (the list's order, from the index that matches it: ``models.list_order_indexes``),
  then those rows with what they show;
- a search is a semi-join: the ids of the rows whose own columns match, UNION the rows whose related record
  matches (``unit_id IN (SELECT id FROM unit WHERE room_no …)``) — never an inner join, which drops the rows
  without the optional relation (a bill with no payer). The list is read from its few matches (``driven_by``,
  ``among_keys``); a term in many rows is checked on each row along the list's order instead, and counted a few
  pages ahead (``PAGES_AHEAD``);
- beyond the cap, a page SQLite would sort (a branch's scope, a filter) is read along the order index
  (``_along_order``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, String, cast, func, inspect, or_, select, union
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement, Executable

from models.base import SEARCHED, search_table
from models.search import MIN_TERM

EXACT_UP_TO = 10_000
# A search checked on each row (a term in more than EXACT_UP_TO rows) is counted only this many pages past the
# one shown: its count reads rows until it has found them all, ≈ 500,000 rows for 10,000 matches of a term in
# one row of 50, each matched on every searched column (2.4 s on SQLite); the pages ahead are what the pager links.
PAGES_AHEAD = 4


class ApproxCount(int):
    """A row count known only roughly: the list's footer reads 共 约 120 万 条."""

    def __str__(self) -> str:
        n = int(self)
        if n >= 100_000_000:
            return f"约 {n / 100_000_000:.1f} 亿".replace(".0 ", " ")
        if n >= 10_000:
            return f"约 {round(n / 10_000):,} 万"
        return f"约 {n:,}"


class AtLeast(ApproxCount):
    """A row count known only to pass a bound, where the database keeps no estimate (SQLite): 共 1 万以上 条."""

    def __str__(self) -> str:
        n = int(self)
        return f"{n // 10_000:,} 万以上" if n >= 10_000 and n % 10_000 == 0 else f"{n:,} 以上"


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <stmt>`` (PostgreSQL), ``EXPLAIN QUERY PLAN <stmt>`` (SQLite), its parameters
    bound as the statement's own."""

    inherit_cache = False

    def __init__(self, stmt: Select) -> None:
        self.stmt = stmt


@compiles(_Explain, "postgresql")
def _explain_postgresql(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.stmt, **kw)


@compiles(_Explain, "sqlite")
def _explain_sqlite(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + compiler.process(element.stmt, **kw)


def estimated_rows(session: Session, stmt: Select) -> int | None:
    """The planner's estimate of the rows ``stmt`` returns (PostgreSQL, < 2 ms); None where there is none."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    plan = session.execute(_Explain(stmt)).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def count_rows(session: Session, ids: Select, cap: int | None = None) -> int:
    """The rows of ``ids`` (a SELECT of the list's key): exact up to ``cap`` (``EXACT_UP_TO``), beyond it the
    planner's estimate (an :class:`ApproxCount`) where the database keeps one, else that bound (:class:`AtLeast`)."""
    cap = EXACT_UP_TO if cap is None else cap
    capped = session.scalar(select(func.count()).select_from(ids.limit(cap + 1).subquery()))
    if capped <= cap:
        return capped
    estimate = estimated_rows(session, ids)
    if estimate is None:
        return AtLeast(cap)
    return ApproxCount(max(estimate, cap + 1))


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    page: int
    count: int


def page_of(session: Session, *, ordered: Select, key: Any, rows_of: Any, page: int, page_size: int,
            per_row: bool = False) -> Page:
    """One page of the list ``ordered`` (a SELECT of the model, filtered and sorted): its ids first, from the
    index of the list's order, then the rows (``rows_of(ids)``: a SELECT with the loads the list shows).
    ``per_row``: its search is a condition checked on each row (``search_filter``), which no index counts."""
    ids = ordered.with_only_columns(key)
    if per_row:
        # where the planner would sort (SQLite), counted along the list's order: the matches the next pages show,
        # not the first ones the planner's index meets (a project without any, scanned to its end)
        along = _along_order(session, ids)
        ids, counted = along, (along if along is not ids else ids.order_by(None))
        count = count_rows(session, counted, cap=(page + PAGES_AHEAD) * page_size)
    else:
        count = count_rows(session, ids.order_by(None))
        if isinstance(count, ApproxCount):
            ids = _along_order(session, ids)
    if not isinstance(count, ApproxCount):
        page = min(max(page, 1), _last_page(count, page_size))
    page_ids = list(session.scalars(ids.limit(page_size + 1).offset((page - 1) * page_size)))
    if isinstance(count, ApproxCount):
        if not page_ids and page > 1:  # past the end of an estimated list: its last page, counted exactly
            count = session.scalar(select(func.count()).select_from(ids.order_by(None).subquery()))
            page = _last_page(count, page_size)
            page_ids = list(session.scalars(ids.limit(page_size + 1).offset((page - 1) * page_size)))
        elif len(page_ids) <= page_size:  # the last page: the count is known exactly
            count = (page - 1) * page_size + len(page_ids)
        else:  # at least one row more than this page shows
            count = type(count)(max(int(count), page * page_size + 1))
    page_ids = page_ids[:page_size]
    rows = {inspect(row).identity[0]: row for row in session.scalars(rows_of(page_ids)).unique()} if page_ids else {}
    return Page([rows[i] for i in page_ids if i in rows], page, count)


class _Unindexed(ColumnElement[bool]):
    """A condition SQLite checks on each row but looks up by no index: ``+(…)`` (SQLite's documented way to
    keep a term from an index); as it is elsewhere."""

    inherit_cache = False
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, clause: ColumnElement[bool]) -> None:
        self.clause = clause


@compiles(_Unindexed)
def _unindexed(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clause, **kw)


@compiles(_Unindexed, "sqlite")
def _unindexed_sqlite(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return "+(" + compiler.process(element.clause, **kw) + ")"


def driven_by(stmt: Select, condition: ColumnElement[bool]) -> Select:
    """``stmt`` also where ``condition`` — a search's few matching keys (``id IN (…)``, at most ``EXACT_UP_TO``
    a column) — read from those keys: on SQLite the conditions ``stmt`` had (the scope, the filters) are checked
    on each of them, not used to pick the index. SQLite's planner otherwise walked a project's index and probed
    the matches for each of its 200,000 rows (0.4–1 s for 「1203」 or a mobile number; from the matches, 11 ms)."""
    if stmt.whereclause is None:
        return stmt.where(condition)
    return _conditions_unindexed(stmt, condition)


def _conditions_unindexed(stmt: Select, *more: ColumnElement[bool]) -> Select:
    """The same select with its conditions so far as one term no index serves, and ``more`` after them."""
    unindexed = stmt._generate()
    unindexed._where_criteria = (_Unindexed(stmt.whereclause), *more)
    return unindexed


class _AmongKeys(ColumnElement[bool]):
    """``key IN (keys)``; on PostgreSQL ``key = ANY(ARRAY(keys))``: the keys are read first (an InitPlan) and the
    rows fetched by the primary key, where the planner, guessing 12,000 matches for 3,000, hash-joined them
    against a scan of every bill of a branch (bills 「1203」: 270 → 48 ms for the count)."""

    inherit_cache = False
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, key: Any, keys: Any) -> None:
        self.key, self.keys = key, keys


@compiles(_AmongKeys)
def _among_keys(element: _AmongKeys, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.key.in_(element.keys), **kw)


@compiles(_AmongKeys, "postgresql")
def _among_keys_postgresql(element: _AmongKeys, compiler: Any, **kw: Any) -> str:
    return (compiler.process(element.key, **kw) + " = ANY(ARRAY"
            + compiler.process(element.keys.scalar_subquery(), **kw) + ")")


def among_keys(key: Any, keys: Any) -> ColumnElement[bool]:
    """The rows whose ``key`` is one of ``keys`` (a SELECT of few keys: a search's matches), read from those."""
    return _AmongKeys(key, keys)


def _along_order(session: Session, ids: Select) -> Select:
    """``ids`` read along the list's order index, for a list of more rows than the cap: its first pages are
    the first matching rows that index meets. SQLite's planner, given a filter's or a branch's scope (``project_id
    IN (…)``), reads every matching row by that index and sorts them all (0.3–6 s at a million rows) — asked
    its plan (< 1 ms), a plan that sorts is replaced by the same condition checked along the order index.
    PostgreSQL weighs the two with its statistics and is left to it."""
    if session.get_bind().dialect.name != "sqlite" or ids.whereclause is None:
        return ids
    if not any("B-TREE FOR ORDER BY" in row[-1] for row in session.execute(_Explain(ids.limit(1)))):
        return ids
    return _conditions_unindexed(ids)


def _last_page(count: int, page_size: int) -> int:
    return max(1, (count + page_size - 1) // page_size)


# --- search -------------------------------------------------------------------------------------------------
def _matching(column: Any, pattern: str) -> ColumnElement[bool]:
    # a text column as it is (its trigram index applies); a number or date as text
    expr = column if isinstance(column.type, String) else cast(column, String)
    return _CaseFree(expr, pattern)


class _CaseFree(ColumnElement[bool]):
    """``expr ILIKE pattern``. On SQLite plain ``LIKE``, which ignores the case of ASCII letters already — the
    only ones its ``lower()`` folds — so it matches the same rows as ``lower(expr) LIKE lower(pattern)``, at
    0.4× the time where no index serves (a term under a trigram scans: 86 against 213 ms a million rows)."""

    inherit_cache = False
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, expr: Any, pattern: str) -> None:
        self.expr, self.pattern = expr, pattern


@compiles(_CaseFree)
def _case_free(element: _CaseFree, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.expr.ilike(element.pattern, escape="\\"), **kw)


@compiles(_CaseFree, "sqlite")
def _case_free_sqlite(element: _CaseFree, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.expr.like(element.pattern, escape="\\"), **kw)


class _Contains(ColumnElement[bool]):
    """``column ILIKE pattern``; on SQLite, for a column with a search table (``models.search``) and a term of a
    trigram or more, ``id IN (SELECT rowid FROM <table>_search WHERE column LIKE pattern)``: read from the
    index instead of every row."""

    inherit_cache = False
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is: not "= 1" on SQLite, which would hide the IN from its planner

    def __init__(self, model: type, name: str, term: str) -> None:
        self.model, self.name, self.term, self.pattern = model, name, term, _pattern(term)


@compiles(_Contains)
def _contains(element: _Contains, compiler: Any, **kw: Any) -> str:
    return compiler.process(_matching(getattr(element.model, element.name), element.pattern), **kw)


@compiles(_Contains, "sqlite")
def _contains_sqlite(element: _Contains, compiler: Any, **kw: Any) -> str:
    table, term = element.model.__table__.name, element.term
    # FTS5 reads its index for a LIKE without an ESCAPE clause only: a term holding a wildcard scans
    if element.name not in SEARCHED.get(table, ()) or len(term) < MIN_TERM or any(c in term for c in "%_\\"):
        return _contains(element, compiler, **kw)
    fts = sql_table(search_table(table), sql_column(element.name), sql_column("rowid"))
    found = select(fts.c.rowid).where(fts.c[element.name].like(f"%{term}%"))
    return compiler.process(inspect(element.model).primary_key[0].in_(found), **kw)


def _path_ids(model: type, path: list[str], term: str) -> Select:
    """SELECT the keys of ``model`` whose ``path`` (``unit.room_no``, ``request.unit.room_no``) matches."""
    key = inspect(model).primary_key[0]
    if len(path) == 1:
        return select(key).where(_Contains(model, path[0], term))
    relation = model.__mapper__.relationships[path[0]]
    target = relation.mapper.class_
    inner = _path_ids(target, path[1:], term)
    if relation.direction.name == "MANYTOONE" and len(relation.local_remote_pairs) == 1:
        local, remote = relation.local_remote_pairs[0]
        if remote is inspect(target).primary_key[0]:
            # the related keys read first, from their own index (unit.room_no's trigram index, 0.8 ms): joined
            # instead, PostgreSQL guessed 12,000 bills for 3,000 and scanned all 100,000 units in parallel to
            # join them (20–38 ms, each of the count and the page)
            return select(key).where(among_keys(getattr(model, local.key), inner))
    target_key = inspect(target).primary_key[0]
    return select(key).where(getattr(model, path[0]).any(target_key.in_(inner))
                             if relation.uselist else getattr(model, path[0]).has(target_key.in_(inner)))


def _pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_ids(model: type, fields: list[str], term: str) -> Any:
    """The keys of the rows of ``model`` one of ``fields`` (columns or relation paths) finds ``term`` in — a
    UNION of index-driven selects, so a row without an optional relation is still found by its other fields.
    For a term that finds few rows: each select reads only its matches."""
    selects = [_path_ids(model, field.split("."), term) for field in fields]
    return selects[0] if len(selects) == 1 else union(*selects)


def _path_matches(model: type, path: list[str], pattern: str) -> ColumnElement[bool]:
    if len(path) == 1:
        return _matching(getattr(model, path[0]), pattern)
    relation = getattr(model, path[0])
    inner = _path_matches(relation.property.mapper.class_, path[1:], pattern)
    return relation.any(inner) if relation.property.uselist else relation.has(inner)


def search_filter(model: type, fields: list[str], term: str) -> ColumnElement[bool]:
    """The same search as a condition on each row (``EXISTS`` per relation): for a term that finds many rows
    (业主 in every contact name), the list's order index is walked and its first rows match at once."""
    return or_(*(_path_matches(model, field.split("."), _pattern(term)) for field in fields))


def finds_many(session: Session, model: type, fields: list[str], term: str) -> bool:
    """Does one of the search's columns match more than ``EXACT_UP_TO`` rows of its own table? (each read capped,
    from its index.) Asked of the column's table rather than through the relation: ``request_id IN (SELECT id FROM
    service_request WHERE contact_name …) LIMIT 10001`` reads every match of the inner select before it stops
    (1 s at a million requests); the column's own matches stop at the cap. Either answer lists the same rows — it
    only chooses how."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    for field in fields:
        *path, name = field.split(".")
        owner = model
        for step in path:
            owner = owner.__mapper__.relationships[step].mapper.class_
        table = owner.__table__.name
        if sqlite and name in SEARCHED.get(table, ()) and len(term) >= MIN_TERM:
            # the trigram table's own phrase match: 1 ms for 10,001 of a million audit rows, where LIKE re-reads
            # each row (30–70 ms); it may fold the case of letters LIKE keeps, which only weighs on this choice
            fts = sql_table(search_table(table), sql_column(name), sql_column("rowid"))
            found = select(fts.c.rowid).where(fts.c[name].match('"' + term.replace('"', '""') + '"'))
        else:
            found = _path_ids(owner, [name], term)
        if session.scalar(select(func.count()).select_from(found.limit(EXACT_UP_TO + 1).subquery())) > EXACT_UP_TO:
            return True
    return False
