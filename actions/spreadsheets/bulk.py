"""Set-based writes for imports: many rows per statement, never one ORM object per row.

SQLAlchemy's executemany costs tens of microseconds per row here, far more through psycopg, and psycopg's
array parameters are dumped in Python; a 100,000-row survey would spend most of its time there. So:
PostgreSQL loads the rows with ``COPY`` (formatted in C) — straight into the table, or into a temporary table
from which one ``INSERT … SELECT … RETURNING`` or ``UPDATE … FROM`` applies them; SQLite, in-process, gets
multi-row ``VALUES`` (``… RETURNING`` where asked), a few thousand rows a statement. Values still go through each column type's bind
processor, so what is stored is exactly what the ORM would store (enums by value, timestamps in UTC, JSON).
Everything runs in the caller's transaction.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from models.search import indexed_after
from models.totals import PROJECT_MARKS

# SQLite allows 32,766 bound parameters per statement.
SQLITE_PARAMS = 32_000


def _columns(dialect: Dialect, table: Table, names: list[str], columns: list[list[Any]], *, defaults: bool) -> list[list[Any]]:
    """Columns of values as the driver wants them; for new rows, with the table's Python-side defaults filled in
    (their names appended to ``names``, each a column of one value). Column by column, each processor behind a
    cache: an enum or date column holds few distinct values."""
    rows = len(columns[0]) if columns else 0
    fill = []
    if defaults:
        for column in table.columns:
            if column.name in names or column.primary_key or column.default is None:
                continue
            default = column.default
            value = default.arg(None) if default.is_callable else default.arg if default.is_scalar else None
            if value is not None:
                names.append(column.name)
                fill.append(value)
    width = len(names) - len(fill)
    processors = [table.c[n].type._cached_bind_processor(dialect) for n in names]
    out = list(columns)
    for i, processor in enumerate(processors[:width]):
        if processor is None:
            continue
        if isinstance(table.c[names[i]].type, JSON):
            out[i] = [None if v is None else processor(v) for v in out[i]]
            continue
        distinct = set(out[i])
        kinds = set(map(type, distinct)) - {type(None)}
        if len(kinds) <= 1:
            # values of one type (and blanks): each distinct value converted once, the column looked up in C —
            # what the typed cache below gives, for a third of its cost per value
            converted = {v: None if v is None else processor(v) for v in distinct}
            out[i] = list(map(converted.__getitem__, out[i]))
        else:
            cached = functools.lru_cache(maxsize=None, typed=True)(lambda v, p=processor: None if v is None else p(v))
            out[i] = list(map(cached, out[i]))
    return out + [[v if p is None else p(v)] * rows for p, v in zip(processors[width:], fill, strict=True)]


def _by_column(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    # a column at a time: zip(*rows) would unpack 100,000 rows into one call, several times the cost
    return [list(map(itemgetter(i), rows)) for i in range(len(rows[0]))]


def _values(dialect: Dialect, table: Table, names: list[str], rows: Sequence[Sequence[Any]], *, defaults: bool):
    """Rows as the driver wants them (:func:`_columns`, row by row)."""
    return list(zip(*_columns(dialect, table, names, _by_column(rows), defaults=defaults), strict=True))


def _quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


# Column types whose binary form psycopg writes, in C, from the values the columns' bind processors give (ints,
# str, bool, date, aware datetime): 100,000 survey forms 0.64 → 0.08 s of the client's CPU against the text
# format. A table with any other type (numeric, JSON, an enum …) is copied as text, as before.
BINARY_TYPES = frozenset({"smallint", "integer", "bigint", "text", "character varying", "boolean", "date",
                          "timestamp with time zone"})


def _copy(conn: Connection, target: str, names: Sequence[str], rows: list[tuple]) -> None:
    columns = ", ".join(_quote(conn.dialect, n) for n in names)
    with conn.connection.driver_connection.cursor() as cursor:
        cursor.execute("SELECT attname, atttypid, format_type(atttypid, NULL) FROM pg_attribute "
                       "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (target,))
        types = {name: (oid, kind) for name, oid, kind in cursor.fetchall()}
        binary = all(types.get(n, (0, ""))[1] in BINARY_TYPES for n in names)
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")) as copy:
            if binary:
                copy.set_types([types[n][0] for n in names])
            for row in rows:
                copy.write_row(row)


def _staged(conn: Connection, dialect: Dialect, table: Table, names: list[str], rows: list[tuple]) -> str:
    """A temporary table with ``names`` of ``table`` (types only, no constraints), loaded with ``rows``."""
    stage = _quote(dialect, f"wuye_stage_{table.name}")
    cols = ", ".join(_quote(dialect, n) for n in names)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} AS SELECT {cols} FROM {_quote(dialect, table.name)} WITH NO DATA")
    _copy(conn, stage, names, rows)
    return stage


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
    *, returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT ``rows`` (tuples in ``columns`` order); with ``returning``, the named columns of each new row."""
    if not rows:
        return []
    return insert_columns(session, table, columns, _by_column(rows), returning=returning)


def insert_columns(
    session: Session, table: Table, columns: Sequence[str], values: list[list[Any]],
    *, returning: Sequence[str] = (),
) -> list[tuple]:
    """:func:`insert_rows` of rows given column by column (a list of each column's values, in ``columns`` order):
    an import that holds its values by column needs no tuple per row — SQLite's parameters are laid out from the
    columns directly."""
    if not values or not values[0]:
        return []
    conn = session.connection()
    dialect = conn.dialect
    names = list(columns)
    converted = _columns(dialect, table, names, values, defaults=True)
    name = _quote(dialect, table.name)
    cols = ", ".join(_quote(dialect, n) for n in names)
    back = ", ".join(_quote(dialect, n) for n in returning)
    if dialect.name == "postgresql":
        rows = list(zip(*converted, strict=True))
        if not returning:
            _copy(conn, name, names, rows)
            return []
        stage = _staged(conn, dialect, table, names, rows)
        out = [tuple(r) for r in conn.exec_driver_sql(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {stage} RETURNING {back}")]
        conn.exec_driver_sql(f"DROP TABLE {stage}")
        return out
    marked = PROJECT_MARKS.get(table.name)
    # the project's version moved once for the rows, and the search index filled once, not by a trigger per row
    projects = set(values[names.index("project_id")]) if marked is not None and "project_id" in names else set()
    with indexed_after(conn, table.name), (marked.lifted(conn, projects) if projects else contextlib.nullcontext()):
        return _sqlite_insert(conn, name, names, cols, converted, back)


def _sqlite_insert(conn: Connection, name: str, names: list[str], cols: str, columns: list[list[Any]],
                   back: str) -> list[tuple]:
    # Multi-row VALUES, with or without RETURNING: executemany runs one statement per row, and after each statement
    # an FTS5 index (a searched column's, models/search.py) flushes its pending terms — 100,000 customers cost
    # 3–4× the CPU that way; a table without one still takes about twice as long (issue 17).
    # A column holding one value throughout (the project, the batch, a default) is bound once per statement, in
    # ``INSERT … SELECT … FROM (VALUES …)``, not once per row: SQLite parses and binds a third of the parameters
    # of 100,000 customers and links that way.
    total = len(columns[0])
    fixed = [len(column) > 1 and column.count(column[0]) == total for column in columns]
    if all(fixed):
        fixed[0] = False
    varying = [column for column, same in zip(columns, fixed, strict=True) if not same]
    width = len(varying)
    one = "(" + ", ".join("?" for _ in varying) + ")"
    tail = f" RETURNING {back}" if back else ""
    head: tuple[Any, ...] = ()
    if any(fixed):
        # SQLite names a VALUES list's columns column1, column2 …; the fixed values' "?" come first in the text
        at = iter(range(1, width + 1))
        select = ", ".join("?" if same else f"column{next(at)}" for same in fixed)
        head = tuple(column[0] for column, same in zip(columns, fixed, strict=True) if same)
        start_sql = f"INSERT INTO {name} ({cols}) SELECT {select} FROM (VALUES "
        end_sql = f"){tail}"
    else:
        start_sql, end_sql = f"INSERT INTO {name} ({cols}) VALUES ", tail
    out = []
    per = max(1, (SQLITE_PARAMS - len(head)) // width)
    for start in range(0, total, per):
        count = min(per, total - start)
        # the statement's parameters row after row, each column laid into its every width-th place (in C)
        params: list[Any] = [None] * (count * width)
        for i, column in enumerate(varying):
            params[i::width] = column[start:start + count]
        result = conn.exec_driver_sql(start_sql + ", ".join([one] * count) + end_sql, head + tuple(params))
        if back:
            # the driver's tuples, fetched at once (a raw statement's columns are not converted): iterating the result
            # is a driver fetchone per row, and a SQLAlchemy row each costs more than the fetch
            out += result.cursor.fetchall()
            result.close()
    return out


@contextlib.contextmanager
def staged_rows(
    session: Session, stage: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Iterator[Table]:
    """``rows`` loaded into ``stage`` (a ``TEMPORARY`` table without constraints) for INSERT … SELECT statements.

    Written with :func:`insert_rows` — ``COPY`` on PostgreSQL — and dropped afterwards, in the caller's
    transaction: after an error the rollback takes it away (a DROP would fail in PostgreSQL's aborted
    transaction and hide the error).
    """
    conn = session.connection()
    stage.create(conn)
    insert_rows(session, stage, columns, rows)
    yield stage
    stage.drop(conn)


def update_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, key: str = "id"
) -> None:
    """UPDATE ``columns`` of each row identified by ``key``, the first item of each tuple.

    ``updated_at`` is set and ``version`` (optimistic locking, B09) bumped where the table has them, so an
    import counts as an edit for a form opened before it.
    """
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    names = [key, *columns]
    if "updated_at" in table.c and "updated_at" not in columns:
        now = table.c.updated_at.onupdate.arg(None)
        names.append("updated_at")
        rows = [(*row, now) for row in rows]
    values = _values(dialect, table, names, rows, defaults=False)
    bump = ", version = version + 1" if "version" in table.c and "version" not in columns else ""
    name = _quote(dialect, table.name)
    if dialect.name == "postgresql":
        stage = _staged(conn, dialect, table, names, values)
        sets = ", ".join(f"{_quote(dialect, n)} = {stage}.{_quote(dialect, n)}" for n in names[1:])
        conn.exec_driver_sql(
            f"UPDATE {name} SET {sets}{bump} FROM {stage} WHERE {name}.{_quote(dialect, key)} = {stage}.{_quote(dialect, key)}"
        )
        conn.exec_driver_sql(f"DROP TABLE {stage}")
        return
    sets = ", ".join(f"{_quote(dialect, n)} = ?" for n in names[1:])
    conn.exec_driver_sql(f"UPDATE {name} SET {sets}{bump} WHERE {_quote(dialect, key)} = ?",
                         [(*row[1:], row[0]) for row in values])
