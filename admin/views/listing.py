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
  ``search_found``); a term in many rows is checked on each row along the list's order instead — its related
  records probed by key (``_Probed``), not read whole — and counted a few pages ahead (``PAGES_AHEAD``), along
  that order too — many within the list's scope, not the table (``finds_many``): a term in 20,000
  rows of other projects is read from those, not checked on each of a project's 200,000;
- beyond the cap, a page SQLite would sort (a branch's scope, a filter) is read along the order index
  (``_along_order``);
- a searched list takes its count and its page from one read of its ids in the list's order, as far as the count's
  cap (``_read_ahead``), not from a count and a page that each read the matches;
- every statement here is compiled once by SQLAlchemy and then taken from its cache: the elements that write their
  own SQL key it by what that SQL is made of, a search term by its shape (``_Term``), its text bound — compiled on
  every request, a searched list's statements took 7–11 ms of the app's CPU to compile, from the cache 2–3 ms
  (bench/list_pages.py's data, a branch's work orders 「业主」 and bills 「1203」).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    String,
    Text,
    and_,
    cast,
    exists,
    func,
    inspect,
    literal_column,
    or_,
    select,
    union,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import BindParameter, ClauseElement, Executable, Grouping, bindparam
from sqlalchemy.sql.visitors import InternalTraversal

from models.base import BIGRAMS, SEARCHED, SEARCHED_AMONG, search_table
from models.search import MIN_TERM, PREFIX_TERM, search_terms

EXACT_UP_TO = 10_000
# The SQL elements below compile to SQL of their own: each keys SQLAlchemy's compiled cache by what its SQL is made
# of (``_cache_key_traversal``: its model, column names, clauses, a term's shape and bound parameters), and shows no
# children to SQLAlchemy's traversals (cloning, annotating), which never looked inside them.
NO_CHILDREN: list[Any] = []
# A search checked on each row (a term in more than EXACT_UP_TO rows) is counted only this many pages past the
# one shown: its count reads rows until it has found them all, ≈ 500,000 rows for 10,000 matches of a term in
# one row of 50, each matched on every searched column (2.4 s on SQLite); the pages ahead are what the pager links.
PAGES_AHEAD = 4
# The most matches a search is read from first on SQLite, the list's scope and filters checked on each: 20,000
# spread over a million audit rows take 35–60 ms of CPU; a term in more rows is checked on each row along the order.
MATCHES_READ = 30_000
# The most records of a related table (customers named 业主) whose rows of the list are counted, to weigh a search
# through that relation (``_matches``), after the first RELATED_SAMPLE of them had fewer rows than records: a
# count of the first 100,000 read as all of them (a skew only makes the search slower, never other rows).
RELATED_READ = 100_000
RELATED_SAMPLE = 100
# A 2-character term the planner's statistics of the column's substrings find in more than this many times the
# cap's rows of a related table (a share of its sample of 30,000 rows, not a guess) is many without a count.
TRUSTED_ESTIMATE = 10
# A search the planner judges many within the list's scope, checked (``_seen_few``): in the list's first DENSE_WALK
# rows along its order, then counted through its index as far as FEW_CHECKED — a term frequent in other projects
# only is few in this one. Counted to EXACT_UP_TO, a term truly in many of the scope's rows cost 10–30 ms more a
# page (客服7 over a branch: 16–17 → 27–39 ms of CPU).
DENSE_WALK = 1_000
FEW_CHECKED = 1_000


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

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("stmt", InternalTraversal.dp_clauseelement)]

    def __init__(self, stmt: Select) -> None:
        self.stmt = stmt

    @property
    def _all_selected_columns(self) -> tuple[()]:
        # a plan's rows are read by position: no column of the statement names them (asked of a cached compile)
        return ()


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
            per_row: bool = False, searched: bool = False) -> Page:
    """One page of the list ``ordered`` (a SELECT of the model, filtered and sorted): its ids first, from the
    index of the list's order, then the rows (``rows_of(ids)``: a SELECT with the loads the list shows).
    ``per_row``: its search is a condition checked on each row (``search_filter``), which no index counts;
    ``searched``: a search read from its few matches (``search_found``). Either is counted from the ids its pages
    show, read once along the list's order (``_read_ahead``), not by a count and then a page that each read them."""
    ids = ordered.with_only_columns(key)
    if per_row:
        # where the planner would sort (SQLite), read along the list's order: the matches the next pages show, not
        # the first ones the planner's index meets (a project without any, scanned to its end). PostgreSQL walks
        # the order index as asked: counted in the project's index it met 120,000 bills without a payer before
        # 101 with one (业主: 0.25–0.6 s, along the order 3 ms)
        ids = _along_order(session, ids)
    if per_row or searched:
        ahead = _read_ahead(session, ids, page, page_size,
                            (page + PAGES_AHEAD) * page_size if per_row else EXACT_UP_TO)
        if ahead is not None:
            return _page_rows(session, rows_of, *ahead)
    if per_row:
        count = count_rows(session, ids, cap=(page + PAGES_AHEAD) * page_size)
    else:
        count = count_rows(session, ids.order_by(None))
        if isinstance(count, ApproxCount):
            ids = _along_order(session, ids)
    if not isinstance(count, ApproxCount):
        page = min(max(page, 1), _last_page(count, page_size))
    # none to read when none was counted (a search whose matches are all out of the scope: read once, not twice)
    page_ids = list(session.scalars(ids.limit(page_size + 1).offset((page - 1) * page_size))) if count else []
    if isinstance(count, ApproxCount):
        if not page_ids and page > 1:  # past the end of an estimated list: its last page, counted exactly
            count = session.scalar(select(func.count()).select_from(ids.order_by(None).subquery()))
            page = _last_page(count, page_size)
            page_ids = list(session.scalars(ids.limit(page_size + 1).offset((page - 1) * page_size)))
        elif len(page_ids) <= page_size:  # the last page: the count is known exactly
            count = (page - 1) * page_size + len(page_ids)
        else:  # at least one row more than this page shows
            count = type(count)(max(int(count), page * page_size + 1))
    return _page_rows(session, rows_of, page_ids[:page_size], page, count)


def _read_ahead(session: Session, ids: Select, page: int, page_size: int, cap: int
                ) -> tuple[list[Any], int, int] | None:
    """(the page's ids, the page, the count) from the list's first ``cap + 1`` ids in its order, one statement:
    the count exact up to ``cap``, beyond it the estimate (as ``count_rows``). A search's count and its page each
    read its matches — 「1203」's 3,060 bills twice, 「业主」's rows walked along the order twice. None: the page lies
    beyond those ids (a deep page of a list of more than ``cap``), read by the page query."""
    page = max(page, 1)
    first = list(session.scalars(ids.limit(cap + 1)))
    if len(first) <= cap:
        count = len(first)
        page = min(page, _last_page(count, page_size))
        return first[(page - 1) * page_size:page * page_size], page, count
    if page * page_size >= len(first):
        return None
    estimate = estimated_rows(session, ids)
    count = AtLeast(cap) if estimate is None else ApproxCount(max(estimate, cap + 1))
    return first[(page - 1) * page_size:page * page_size], page, type(count)(max(int(count), page * page_size + 1))


def _page_rows(session: Session, rows_of: Any, page_ids: list[Any], page: int, count: int) -> Page:
    rows = {inspect(row).identity[0]: row for row in session.scalars(rows_of(page_ids)).unique()} if page_ids else {}
    return Page([rows[i] for i in page_ids if i in rows], page, count)


class _Unindexed(ColumnElement[bool]):
    """A condition SQLite checks on each row but looks up by no index: ``+(…)`` (SQLite's documented way to
    keep a term from an index); as it is elsewhere."""

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("clause", InternalTraversal.dp_clauseelement)]
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

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("key", InternalTraversal.dp_clauseelement), ("keys", InternalTraversal.dp_clauseelement)]
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


def among_rows(model: type, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """The rows of ``model`` where ``condition`` holds (a unit's records: ``request_id IN (<its requests>)``) as
    their keys read first, beside a search's other matches: a bare ``IN (SELECT …)`` in the search's OR became a
    hashed SubPlan, which no index answers, and PostgreSQL walked every work order of the scope along the list's
    order to check it (「1栋-1203」, 50 orders of a branch: 0.8 s a statement, 1.7–3.9 s a page)."""
    key = inspect(model).primary_key[0]
    return among_keys(key, select(key).where(condition))


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
class _Term(ClauseElement):
    """A search term as the statements built from it hold it (never rendered itself): what decides their SQL — its
    length as far as a trigram, whether its letters have a case, whether they are ASCII, whether it holds a LIKE
    wildcard — apart from its text, which only bound parameters carry. The elements above compile their SQL from the
    shape only, so SQLAlchemy compiles a searched list once for every term of its shape and takes each term's
    parameters from its statement (its cache key); a key holding the text compiled every new term's statements, and
    one missing a part of the shape would give another term's SQL."""

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("shape", InternalTraversal.dp_plain_obj),
                            ("params", InternalTraversal.dp_clauseelement_tuple)]

    def __init__(self, term: str) -> None:
        self.size = min(len(term), MIN_TERM)
        self.cased = term.lower() != term.upper()
        self.ascii = term.isascii()
        self.wild = any(c in term for c in "%_\\")
        self.shape = (self.size, self.cased, self.ascii, self.wild)
        self.pattern = _bound(_pattern(term))  # %term%, its wildcards escaped (ESCAPE '\\')
        self.unescaped = _bound(f"%{term}%")  # for FTS5's LIKE, which reads its index without an ESCAPE only
        self.phrase = _bound(_phrase(term))  # an FTS5 phrase
        self.lowered = _bound(term.lower())  # the substrings' and the trigram terms' case
        self.lowered_end = _bound(term.lower() + "\U0010ffff")  # past the last trigram term starting with it
        self.params = (self.pattern, self.unescaped, self.phrase, self.lowered, self.lowered_end)

    @classmethod
    def of(cls, term: str | _Term) -> _Term:
        return term if isinstance(term, _Term) else cls(term)


def _bound(value: str | BindParameter) -> BindParameter:
    return value if isinstance(value, BindParameter) else bindparam(None, value, String(), unique=True)


def _matching(column: Any, pattern: str) -> ColumnElement[bool]:
    # a text column as it is (its trigram index applies); a number or date as text
    expr = column if isinstance(column.type, String) else cast(column, String)
    return _CaseFree(expr, pattern)


class _CaseFree(ColumnElement[bool]):
    """``expr ILIKE pattern``. On SQLite plain ``LIKE``, which ignores the case of ASCII letters already — the
    only ones its ``lower()`` folds — so it matches the same rows as ``lower(expr) LIKE lower(pattern)``, at
    0.4× the time where no index serves (a term under a trigram scans: 86 against 213 ms a million rows)."""

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("expr", InternalTraversal.dp_clauseelement),
                            ("pattern", InternalTraversal.dp_clauseelement)]
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, expr: Any, pattern: str | BindParameter) -> None:
        self.expr, self.pattern = expr, _bound(pattern)


@compiles(_CaseFree)
def _case_free(element: _CaseFree, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.expr.ilike(element.pattern, escape="\\"), **kw)


@compiles(_CaseFree, "sqlite")
def _case_free_sqlite(element: _CaseFree, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.expr.like(element.pattern, escape="\\"), **kw)


class _Contains(ColumnElement[bool]):
    """``column ILIKE pattern``; on SQLite, for a column with a search table (``models.search``) and a term of a
    trigram or more, ``id IN (<its rowids in <table>_search>)`` (``_indexed``): read from the index instead of every
    row. ``estimated``: as the planner is to estimate it — on PostgreSQL a 2-character term's substrings without
    the ILIKE, which holds for the same rows but on ``column || ''``, of no statistics."""

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("model", InternalTraversal.dp_plain_obj), ("name", InternalTraversal.dp_string),
                            ("term", InternalTraversal.dp_clauseelement), ("estimated", InternalTraversal.dp_boolean)]
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is: not "= 1" on SQLite, which would hide the IN from its planner

    def __init__(self, model: type, name: str, term: str | _Term, estimated: bool = False) -> None:
        self.model, self.name, self.term = model, name, _Term.of(term)
        self.pattern = self.term.pattern
        self.estimated = estimated


@compiles(_Contains)
def _contains(element: _Contains, compiler: Any, **kw: Any) -> str:
    column = getattr(element.model, element.name)
    values = SEARCHED_AMONG.get((element.model.__table__.name, element.name))
    if values is not None:
        # a column of few values (操作人): the values holding the term, from their small table, then their rows by
        # the column's B-tree — the rows ILIKE finds, without an n-gram index every written row pays for
        among = among_keys(column, select(values).where(_matching(values, element.pattern)))
        if compiler.dialect.name == "postgresql":
            # the ILIKE kept beside it for the planner, which estimates it from the column's common values (业主:
            # none), where it takes an ``= ANY`` of values read at run time for a fifth of the table — and walked a
            # branch's million audit rows along the list's order to find none of them (3.7 s; 15 ms so)
            among = and_(among, _matching(column, element.pattern)).self_group()
        return compiler.process(among, **kw)
    return compiler.process(_matching(column, element.pattern), **kw)


@compiles(_Contains, "sqlite")
def _contains_sqlite(element: _Contains, compiler: Any, **kw: Any) -> str:
    found = _indexed(element.model.__table__.name, element.name, element.term)
    if found is None:
        return _contains(element, compiler, **kw)
    return compiler.process(inspect(element.model).primary_key[0].in_(found), **kw)


@compiles(_Contains, "postgresql")
def _contains_postgresql(element: _Contains, compiler: Any, **kw: Any) -> str:
    """A 2-character term, which holds no trigram (``pg_trgm`` read its whole index and rechecked every row:
    1.3 s for 张三 in a million audit rows), is read from the column's 2-character substrings
    (``models.base.BIGRAMS``): ``bigrams(column) @> ARRAY['张三']`` (0.03 ms), the ILIKE kept on the rows it finds.
    For a term whose letters are ASCII or have no case, as on SQLite: the index holds ``lower()``'s substrings,
    the same length as the term only for those."""
    term = element.term
    if term.size != PREFIX_TERM or element.name not in SEARCHED.get(element.model.__table__.name, ()) \
            or (term.cased and not term.ascii):
        return _contains(element, compiler, **kw)
    column = getattr(element.model, element.name)
    substrings = getattr(func, BIGRAMS)(column, type_=ARRAY(Text))
    found = substrings.contains(cast(array([term.lowered]), ARRAY(Text)))
    if element.estimated:
        # its selectivity from the index's statistics (业主 in every contact name): the ILIKE's default (0.5 %)
        # multiplied in, 业主 looked few and was counted to 10,001 through the index (0.2–0.3 s, not 60 ms)
        return compiler.process(found, **kw)
    # the ILIKE on ``column || ''``, which the trigram index does not match: offered it, the planner read that
    # index whole for one of the audit rows' three columns (10 s for a branch's 张三) instead of its bigrams'
    return compiler.process(and_(found, _matching(column.concat(""), element.pattern)).self_group(), **kw)


def _indexed(table: str, name: str, term: str | _Term) -> Select | None:
    """On SQLite, SELECT the keys of the rows of ``table`` whose ``name`` contains ``term`` from its search table
    (its rowids are the table's keys); None where that table does not answer: no such table, a term of one
    character."""
    term = _Term.of(term)
    if name not in SEARCHED.get(table, ()) or term.size < PREFIX_TERM:
        return None
    if term.size < MIN_TERM:
        return _prefixed(table, name, term)
    fts = sql_table(search_table(table), sql_column(name), sql_column("rowid"))
    if not term.cased:
        # the phrase of its trigrams: the table folds the case of every letter and LIKE of ASCII ones only, the same
        # rows for a term without letters of two cases (客服7, 1203) — 1 ms for 20,000 audit rows where the table's
        # LIKE re-reads each matching row (68 ms)
        return select(fts.c.rowid).where(fts.c[name].match(term.phrase))
    if term.wild:
        return None  # FTS5 reads its index for a LIKE without an ESCAPE clause only: a term holding a wildcard scans
    return select(fts.c.rowid).where(fts.c[name].like(term.unescaped))


def _prefixed(table: str, name: str, term: _Term) -> Select | None:
    """The keys of the rows whose ``name`` holds a 2-character ``term``: the documents of the index's trigrams
    starting with it (张三丰, 张三␟ — ``models.search.END``), a range of its terms (「张三」 in a million audit
    rows' names: 0.1 ms of CPU where LIKE scanned the column, 213 ms). The index folds the case of every letter, LIKE of ASCII ones
    only: a term with ASCII letters is checked again on its rows, one with other letters scans."""
    if term.cased and not term.ascii:
        return None
    terms = sql_table(search_terms(table), sql_column("doc"), sql_column("col"), sql_column("term"))
    # a document once for each of its trigrams: no DISTINCT (12 of 22 ms for 60,000 names), where IN keeps each once
    docs = select(terms.c.doc).where(terms.c.term >= term.lowered, terms.c.term < term.lowered_end,
                                     terms.c.col == name)
    if not term.cased:
        return docs
    rows = sql_table(table, sql_column("id"), sql_column(name))
    return select(rows.c.id).where(rows.c.id.in_(docs), rows.c[name].like(term.pattern, escape="\\"))


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _path_ids(model: type, path: list[str], term: str | _Term) -> Select:
    """SELECT the keys of ``model`` whose ``path`` (``unit.room_no``, ``request.unit.room_no``) matches."""
    key = inspect(model).primary_key[0]
    if len(path) == 1:
        return select(key).where(_Contains(model, path[0], term))
    relation = model.__mapper__.relationships[path[0]]
    target = relation.mapper.class_
    inner = _path_ids(target, path[1:], term)
    if (local := _key_column(model, path[0])) is not None:
        # the related keys read first, from their own index (unit.room_no's trigram index, 0.8 ms): joined
        # instead, PostgreSQL guessed 12,000 bills for 3,000 and scanned all 100,000 units in parallel to
        # join them (20–38 ms, each of the count and the page)
        return select(key).where(among_keys(local, inner))
    target_key = inspect(target).primary_key[0]
    return select(key).where(getattr(model, path[0]).any(target_key.in_(inner))
                             if relation.uselist else getattr(model, path[0]).has(target_key.in_(inner)))


def _pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_ids(model: type, fields: list[str], term: str | _Term) -> Any:
    """The keys of the rows of ``model`` one of ``fields`` (columns or relation paths) finds ``term`` in — a
    UNION of index-driven selects, so a row without an optional relation is still found by its other fields.
    For a term that finds few rows: each select reads only its matches."""
    term = _Term.of(term)
    selects = [_path_ids(model, field.split("."), term) for field in fields]
    return selects[0] if len(selects) == 1 else union(*selects)


class _Found(ColumnElement[bool]):
    """The rows of ``model`` one of ``fields`` finds ``term`` in, read from their matches: the related records'
    keys read first (``search_ids``, ``among_keys``). On SQLite the keys its own columns' search tables hold are
    those rows' keys already: ``id IN (<their rowids>)``, each match's row read once — through ``SELECT id FROM
    audit_log WHERE id IN (…)`` it was read twice (20,000 matches: 78 against 45 ms)."""

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("model", InternalTraversal.dp_plain_obj), ("fields", InternalTraversal.dp_plain_obj),
                            ("term", InternalTraversal.dp_clauseelement)]
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, model: type, fields: list[str], term: str | _Term) -> None:
        self.model, self.fields, self.term = model, tuple(fields), _Term.of(term)


@compiles(_Found)
def _found(element: _Found, compiler: Any, **kw: Any) -> str:
    """The list's own columns as conditions beside its scope, which their indexes may lead with
    (``trigram_indexes(within=…)``); the related records' keys read first (``among_keys``)."""
    model, term = element.model, element.term
    own = [field for field in element.fields if "." not in field]
    related = [field for field in element.fields if "." in field]
    found = [_Contains(model, field, term) for field in own]
    # a record the list names by a key column of its own (a bill's 房屋, 缴费人): that column among the records'
    # matching keys, read by its index beside the other conditions (a BitmapOr), each row of the list read once —
    # through ``bill.id = ANY(<the bills of those units, UNION …>)`` every match was read twice, the second time by
    # its primary key (「1203」, 3,060 bills: 16,000 buffers and 15 ms a query against 4,000 and 4 ms)
    by_key = [field for field in related if _key_column(model, field.split(".", 1)[0]) is not None]
    for field in by_key:
        step, rest = field.split(".", 1)
        target = model.__mapper__.relationships[step].mapper.class_
        found.append(among_keys(_key_column(model, step), _path_ids(target, rest.split("."), term)))
    rest = [field for field in related if field not in by_key]
    if rest:
        found.append(among_keys(inspect(model).primary_key[0], search_ids(model, rest, term)))
    return compiler.process(or_(*found).self_group(), **kw)


@compiles(_Found, "sqlite")
def _found_sqlite(element: _Found, compiler: Any, **kw: Any) -> str:
    model, term = element.model, element.term
    key = inspect(model).primary_key[0]
    indexed = {field: _indexed(model.__table__.name, field, term) for field in element.fields if "." not in field}
    keys = [found for found in indexed.values() if found is not None]
    rest = [field for field in element.fields if indexed.get(field) is None]
    found = [key.in_(keys[0] if len(keys) == 1 else union(*keys))] if keys else []
    if rest:
        found.append(among_keys(key, search_ids(model, rest, term)))
    return compiler.process(or_(*found).self_group(), **kw)


def search_found(model: type, fields: list[str], term: str) -> ColumnElement[bool]:
    """The search as a condition read from its matches' keys (``search_ids``): for a term that finds few rows."""
    return _Found(model, fields, term)


def _path_matches(model: type, path: list[str], pattern: str) -> ColumnElement[bool]:
    if len(path) == 1:
        return _matching(getattr(model, path[0]), pattern)
    relation = getattr(model, path[0])
    inner = _path_matches(relation.property.mapper.class_, path[1:], pattern)
    if relation.property.uselist:
        return relation.any(inner)
    return relation.has(inner) if _key_column(model, path[0]) is None else _Probed(model, path[0], inner)


class _Probed(ColumnElement[bool]):
    """``EXISTS`` the record ``name`` names (a many-to-one relation by a key column) where ``inner`` holds. On
    PostgreSQL its subquery is fenced by ``OFFSET 0``, so that it stays a probe of the record's primary key for each
    row the list's order index walks. Bare, the planner made it a hashed SubPlan — every record matching the term
    read whole first, however few rows the page walks (业主: all 50,000 customers and 100,000 units scanned, 115 ms
    before a page of 20 bills; as probes, 41 rows walked, 0.4 ms). Either lists the same rows, and the planner's
    estimate of them (the count shown, 约 18 万) is the same: a SubPlan's selectivity is its default either way."""

    inherit_cache = True
    _traverse_internals = NO_CHILDREN
    _cache_key_traversal = [("model", InternalTraversal.dp_plain_obj), ("name", InternalTraversal.dp_string),
                            ("inner", InternalTraversal.dp_clauseelement)]
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, model: type, name: str, inner: ColumnElement[bool]) -> None:
        self.model, self.name, self.inner = model, name, inner

    def exists(self) -> ColumnElement[bool]:
        return getattr(self.model, self.name).has(self.inner)

    def self_group(self, against: Any = None) -> ColumnElement[Any]:
        # parenthesised where the EXISTS it stands for is: the same statement as before on SQLite
        return Grouping(self) if isinstance(self.exists().self_group(against=against), Grouping) else self


@compiles(_Probed)
def _probed(element: _Probed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.exists(), **kw)


@compiles(_Probed, "postgresql")
def _probed_postgresql(element: _Probed, compiler: Any, **kw: Any) -> str:
    relation = element.model.__mapper__.relationships[element.name]
    key = inspect(relation.mapper.class_).primary_key[0]
    probe = select(literal_column("1")).where(key == _key_column(element.model, element.name), element.inner)
    return compiler.process(exists(probe.offset(0)), **kw)


def _key_column(model: type, step: str) -> Any:
    """The column of ``model`` holding the primary key of the record its relation ``step`` names (a bill's
    ``unit_id``), where ``step`` is a many-to-one relation by that one column; else None."""
    relation = model.__mapper__.relationships[step]
    if relation.direction.name != "MANYTOONE" or len(relation.local_remote_pairs) != 1:
        return None
    local, remote = relation.local_remote_pairs[0]
    return getattr(model, local.key) if remote is inspect(relation.mapper.class_).primary_key[0] else None


def search_filter(model: type, fields: list[str], term: str) -> ColumnElement[bool]:
    """The same search as a condition on each row (``EXISTS`` per relation): for a term that finds many rows
    (业主 in every contact name), the list's order index is walked and its first rows match at once."""
    return or_(*(_path_matches(model, field.split("."), _pattern(term)) for field in fields))


def finds_many(session: Session, model: type, fields: list[str], term: str, scope: Select) -> bool:
    """Is the search better checked on each row along the list's order (``search_filter``) than read from its
    matches? Read from them while they are at most ``EXACT_UP_TO``, each column's counted from its index: on
    PostgreSQL the list's own columns' within its scope (``scope``: the list's keys, filtered but not searched),
    which their trigram indexes lead with (``trigram_indexes(within=…)``); on SQLite in the whole table (its
    search tables hold no scope), and then up to ``MATCHES_READ`` while the scope has more rows than the matches.
    Checked on each row, a term in 20,000 audit rows, none of them a project's, was checked on all 200,000 of the
    project's (0.3 s on SQLite, 0.55–0.78 s on PostgreSQL). Either answer lists the same rows — it only chooses
    how."""
    if session.get_bind().dialect.name == "postgresql":
        return _matches(session, model, fields, term, EXACT_UP_TO, scope) > EXACT_UP_TO
    matches = _matches(session, model, fields, term, MATCHES_READ)
    if matches <= EXACT_UP_TO:
        return False
    if matches > MATCHES_READ:
        return True
    # the scope counted only as far as the matches: a list of fewer rows is checked row by row at no more cost
    return session.scalar(select(func.count()).select_from(scope.order_by(None).limit(matches).subquery())) < matches


def _matches(session: Session, model: type, fields: list[str], term: str, cap: int, scope: Select | None = None) -> int:
    """The matches of the search's columns, each counted in its own table, from its index, as far as ``cap`` all
    together (then ``cap + 1``); a column of ``model`` itself within ``scope`` if given. Asked of the column's
    table rather than through the relation: ``request_id IN (SELECT id FROM service_request WHERE contact_name …)
    LIMIT 10001`` reads every match of the inner select before it stops (1 s at a million requests); the column's
    own matches stop at the cap."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    total = 0
    for field in fields:
        *path, name = field.split(".")
        owner = model
        for step in path:
            owner = owner.__mapper__.relationships[step].mapper.class_
        table = owner.__table__.name
        substrings = None  # the planner's estimate of a 2-character term's related records
        if scope is not None and not path:
            found = scope.order_by(None).where(_Contains(model, name, term))
            # the planner's estimate first (2 ms): counted, a branch's 20,000 matches were 10,001 rows read (0.1–0.3 s)
            weighed = scope.order_by(None).where(_Contains(model, name, term, True))
            estimated = estimated_rows(session, weighed)
            if (estimated or 0) > cap - total:
                # the planner multiplies the scope's share of the table by the term's: a term in 100,000 rows of
                # another project (业主) looked 20,000 of a project's, none of which it is, and was checked on each
                # of its 200,000 rows (0.25–0.27 s of CPU; a branch of 3 projects 0.7 s) — checked (``_seen_few``)
                counted = _seen_few(session, scope, model, name, term, weighed, min(FEW_CHECKED, cap - total))
                if counted is None:
                    return cap + 1
                total += counted
                continue
        elif sqlite and len(term) < MIN_TERM and (prefixed := _indexed(table, name, term)) is not None:
            found = prefixed  # a 2-character term: its trigrams' documents
        elif sqlite and name in SEARCHED.get(table, ()) and len(term) >= MIN_TERM:
            # the trigram table's own phrase match: 1 ms for 10,001 of a million audit rows, where LIKE re-reads
            # each row (30–70 ms); it may fold the case of letters LIKE keeps, which only weighs on this choice
            fts = sql_table(search_table(table), sql_column(name), sql_column("rowid"))
            found = select(fts.c.rowid).where(fts.c[name].match(_phrase(term)))
        else:
            found = _path_ids(owner, [name], term)
            substrings = estimated_rows(session, select(inspect(owner).primary_key[0]).where(
                _Contains(owner, name, term, True))) if not sqlite and len(term) == PREFIX_TERM else None
            if (substrings or 0) > cap - total:
                # a 2-character term in many related records (业主 in every request's contact): read along the
                # table, which finds the first of them at once, not from its substrings' index, whose bitmap is
                # built whole first (50 ms)
                found = select(inspect(owner).primary_key[0]).where(_matching(getattr(owner, name), _pattern(term)))
        if (substrings or 0) > TRUSTED_ESTIMATE * cap:
            # judged many by far from the substrings' statistics (业主 in 75 % of a million contacts): not counted
            # again — reading 10,001 of them (ILIKE folding each row's case) was 5–27 ms of a 40 ms page
            found_here = cap - total + 1
        else:
            found_here = _count(session, found, cap - total)
        if path and total + found_here > cap and _through_keys(model, path) \
                and _count(session, _rows_through(model, path, found.limit(RELATED_SAMPLE)), RELATED_SAMPLE) \
                < RELATED_SAMPLE:
            # many related records, and the first of them have fewer of the list's rows than records: those rows
            # may be few (业主 in 50,000 customers' names, none of them a payer), counted instead — of the first
            # RELATED_READ records — by the list's index on the key naming the record. Where they have one each or
            # more (业主 paying bills), the matches are many already: not read (50,000 customers' keys, 40 ms).
            found_here = _count(session, _rows_through(model, path, found.limit(RELATED_READ)), cap - total)
        total += found_here
        if total > cap:
            break
    return total


def _seen_few(session: Session, scope: Select, model: type, name: str, term: str, weighed: Select,
              cap: int) -> int | None:
    """The matches of ``weighed`` (``term`` in the column ``name`` within ``scope``), which the planner judges many,
    where they are ``cap`` or fewer; None where they may be many. First along the list's order (``scope``'s): a term
    in one of a hundred of its first ``DENSE_WALK`` rows is many (the page, checked on each row, has its matches and
    its pages ahead's within about 10,000 rows; 客服7, 修改客户). Else counted through the column's index, which the
    scope leads (``project_id``), as far as ``cap``, and by that index only (PostgreSQL, the only database asked): a
    plan along the table (``LIMIT`` makes a term it judges many look found at once) read 900,000 rows before the
    rows of 业主修 an UPDATE had moved to its end (0.36–0.42 s of CPU a page); counted through the index whatever
    the walk saw, a term in most rows built a bitmap of them all (修改客户 over a branch: 130–210 ms by the clock)."""
    walked = scope.with_only_columns(getattr(model, name)).limit(DENSE_WALK).subquery()
    dense = DENSE_WALK // 100
    seen = select(literal_column("1")).select_from(walked).where(_matching(walked.c[name], _pattern(term)))
    if _count(session, seen, dense - 1) >= dense:
        return None
    # for this count only, within the transaction (a count that fails aborts it, and its rollback restores them)
    planned = ("enable_seqscan", "enable_indexscan")
    prior = session.execute(select(*(func.current_setting(setting) for setting in planned))).one()
    session.execute(select(*(func.set_config(setting, "off", True) for setting in planned)))
    counted = _count(session, weighed, cap)
    session.execute(select(*(func.set_config(setting, value, True) for setting, value in zip(planned, prior, strict=True))))
    return None if counted > cap else counted


def _count(session: Session, found: Select, cap: int) -> int:
    """The rows of ``found`` as far as ``cap`` (then ``cap + 1``)."""
    return session.scalar(select(func.count()).select_from(found.limit(cap + 1).subquery()))


def _rows_through(model: type, path: list[str], keys: Select) -> Select:
    """The keys of ``model``'s rows whose record at the end of ``path`` (a chain ``_through_keys`` accepts) is
    one of ``keys``: each step's rows read by the index on its key column (``among_keys``)."""
    relation = model.__mapper__.relationships[path[0]]
    inner = keys if len(path) == 1 else _rows_through(relation.mapper.class_, path[1:], keys)
    return select(inspect(model).primary_key[0]).where(
        among_keys(getattr(model, relation.local_remote_pairs[0][0].key), inner))


def _through_keys(model: type, path: list[str]) -> bool:
    """Does ``path`` lead from ``model`` to its record by keys only — each step a many-to-one relation by one
    column to the next record's primary key, whose rows ``_path_ids`` reads by that column's index?"""
    for step in path:
        if _key_column(model, step) is None:
            return False
        model = model.__mapper__.relationships[step].mapper.class_
    return True
