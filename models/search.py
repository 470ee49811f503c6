"""SQLite's index for the console's searches: what ``pg_trgm`` is on PostgreSQL (``base.trigram_indexes``).

A list search matches anywhere in a column (``ILIKE '%1203%'``), which no B-tree serves: SQLite scanned every row
(1.5–9 s on a million bills or audit rows). For each table ``trigram_indexes`` names, SQLite gets an FTS5
``trigram`` table over those columns, ``<table>_search``, its content the table itself through a view (no copy) and
kept by three triggers, so every write keeps it whatever makes it (an action, an import's INSERT … SELECT, a
migration). A search then reads ``rowid`` from it by ``LIKE`` — the same case-insensitive substring match — for
a term of at least 3 characters (a trigram). A 2-character term is the start of a trigram wherever it occurs, once
each value is indexed with ``END`` after it (张三 as a whole name: 「张三␟」): its rows are the documents of the
index's trigrams that start with it, read from ``<table>_search_terms`` (an ``fts5vocab`` table) by a range of
terms. The index's text is a view, ``<table>_search_content`` (the columns with ``END`` appended), which the
triggers and a rebuild both index — a ``LIKE`` of a term without it finds the same rows in either. A 1-character
term scans as before (``admin.views.listing``).

They are made by :func:`sync_search_tables`, which the migration environment runs after every upgrade on SQLite
rather than a revision of their own: a batch ALTER on SQLite recreates its table and drops the table's triggers,
and a changed declaration must change the FTS table; both are put right there, the index rebuilt from the rows
when its table is new. They are no part of the models: ``base.on_database`` keeps alembic from comparing them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, text

from .base import SEARCHED, search_table

MIN_TERM = 3  # a trigram: shorter terms are no phrase of the index
PREFIX_TERM = 2  # a trigram's first two characters: found among the index's terms (``search_terms``); shorter scan
# after every value indexed: a control character the engine strips from every value written (``db.CONTROL``), so no
# text holds it and no search term either
END = "\x1f"


def search_content(table: str) -> str:
    """The view the search table indexes: ``table``'s key and searched columns, each with ``END`` appended."""
    return search_table(table) + "_content"


def search_terms(table: str) -> str:
    """The ``fts5vocab`` table of the search table's trigrams, one row for each occurrence (term, doc, col)."""
    return search_table(table) + "_terms"


def _ddl(table: str, columns: tuple[str, ...]) -> tuple[str, list[str]]:
    fts = search_table(table)
    names = ", ".join(columns)
    new = ", ".join(f"new.{c} || char({ord(END)})" for c in columns)
    old = ", ".join(f"old.{c} || char({ord(END)})" for c in columns)
    # columnsize=0: no per-row record of the columns' sizes (the ``_docsize`` table), which only ranking reads — a
    # search filters and never ranks; each audited write then adds one B-tree row less (a dispatch's 50,000
    # audit rows: about 0.06 s of SQLite's CPU, issue 17).
    create = (f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{search_content(table)}', content_rowid='id', "
              "tokenize='trigram', columnsize=0)")
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    delete = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    triggers = [
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {names} ON {table} BEGIN {delete} {insert} END",
    ]
    return create, triggers


def _view(table: str, columns: tuple[str, ...]) -> str:
    padded = ", ".join(f"{c} || char({ord(END)}) AS {c}" for c in columns)
    return f"CREATE VIEW {search_content(table)} AS SELECT id, {padded} FROM {table}"


def drop_search_views(connection: Connection) -> None:
    """On SQLite, before a migration: no view over a searched table, which a batch ALTER could not rename its new
    table under (SQLite checks every view: "error in view …: no such table"). ``sync_search_tables`` makes them
    again."""
    if connection.dialect.name != "sqlite":
        return
    for table in sorted(SEARCHED):
        connection.execute(text(f"DROP VIEW IF EXISTS {search_content(table)}"))


def sync_search_tables(connection: Connection) -> None:
    """On SQLite: every declared search table as declared, its triggers in place, its index built (rows written
    while it had no triggers included); none for a table the schema does not have (or not with those columns,
    below the head). Idempotent; nothing on another database."""
    if connection.dialect.name != "sqlite":
        return
    existing = dict(connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    views = dict(connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'view'")).all())
    for table, columns in sorted(SEARCHED.items()):
        fts = search_table(table)
        have = {row[1] for row in connection.execute(text(f"PRAGMA table_info({table})"))}
        if not set(columns) <= have:
            if fts in existing:
                connection.execute(text(f"DROP TABLE {fts}"))  # its shadow tables with it
            connection.execute(text(f"DROP TABLE IF EXISTS {search_terms(table)}"))
            connection.execute(text(f"DROP VIEW IF EXISTS {search_content(table)}"))
            continue
        create, triggers = _ddl(table, columns)
        view = _view(table, columns)
        if views.get(search_content(table)) != view:
            connection.execute(text(f"DROP VIEW IF EXISTS {search_content(table)}"))
            connection.execute(text(view))
        rebuild = False
        if existing.get(fts) != create:
            if fts in existing:
                connection.execute(text(f"DROP TABLE {fts}"))
            for suffix in ("ai", "ad", "au"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {fts}_{suffix}"))
            connection.execute(text(create))
            rebuild = True
        present = {name for (name,) in connection.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table})}
        if not {f"{fts}_ai", f"{fts}_ad", f"{fts}_au"} <= present:
            rebuild = True  # the table was recreated without them: rows may have been written since
        for trigger in triggers:
            connection.execute(text(trigger))
        connection.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {search_terms(table)} "
                                f"USING fts5vocab({fts}, 'instance')"))
        if rebuild:
            connection.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"))


@contextlib.contextmanager
def indexed_after(connection: Connection, table: str) -> Iterator[None]:
    """Around one bulk INSERT into ``table`` on SQLite: its search table's insert trigger lifted, and the new rows —
    those above the highest id before it, SQLite's one writer letting no one else insert meanwhile — indexed after
    it by one INSERT … SELECT from the content view, in the writing transaction. 100,000 customers: 1.0–1.6 →
    0.9–1.4 s of CPU with the commit (the trigger's one index insert per row, interleaved with the table's own
    B-tree writes, against one pass). Nothing on another database, or for a table without a search table."""
    fts = search_table(table)
    trigger = None
    if connection.dialect.name == "sqlite" and table in SEARCHED:
        trigger = connection.scalar(text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
                                    {"name": f"{fts}_ai"})
    if trigger is None:
        yield
        return
    before = int(connection.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}")))
    connection.execute(text(f"DROP TRIGGER {fts}_ai"))
    yield
    names = ", ".join(SEARCHED[table])
    connection.execute(text(f"INSERT INTO {fts}(rowid, {names}) SELECT id, {names} FROM {search_content(table)} "
                            f"WHERE id > {before}"))
    connection.execute(text(trigger))
