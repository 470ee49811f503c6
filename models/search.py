"""SQLite's index for the console's searches: what ``pg_trgm`` is on PostgreSQL (``base.trigram_indexes``).

A list search matches anywhere in a column (``ILIKE '%1203%'``), which no B-tree serves: SQLite scanned every row
(1.5–9 s on a million bills or audit rows). For each table ``trigram_indexes`` names, SQLite gets an FTS5
``trigram`` table over those columns, ``<table>_search``, its content the table itself (no copy of the text) and
kept by three triggers, so every write keeps it whatever makes it (an action, an import's INSERT … SELECT, a
migration). A search then reads ``rowid`` from it by ``LIKE`` — the same case-insensitive substring match — for
a term of at least 3 characters (a trigram); a shorter term scans as before (``admin.views.listing``).

They are made by :func:`sync_search_tables`, which the migration environment runs after every upgrade on SQLite
rather than a revision of their own: a batch ALTER on SQLite recreates its table and drops the table's triggers,
and a changed declaration must change the FTS table; both are put right there, the index rebuilt from the rows
when its table is new. They are no part of the models: ``base.on_database`` keeps alembic from comparing them.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from .base import SEARCHED, search_table

MIN_TERM = 3  # a trigram: shorter terms find nothing in the index, and scan


def _ddl(table: str, columns: tuple[str, ...]) -> tuple[str, list[str]]:
    fts = search_table(table)
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    create = (f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id', "
              "tokenize='trigram')")
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    delete = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    triggers = [
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {names} ON {table} BEGIN {delete} {insert} END",
    ]
    return create, triggers


def sync_search_tables(connection: Connection) -> None:
    """On SQLite: every declared search table as declared, its triggers in place, its index built (rows written
    while it had no triggers included); none for a table the schema does not have (or not with those columns,
    below the head). Idempotent; nothing on another database."""
    if connection.dialect.name != "sqlite":
        return
    existing = dict(connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    for table, columns in sorted(SEARCHED.items()):
        fts = search_table(table)
        have = {row[1] for row in connection.execute(text(f"PRAGMA table_info({table})"))}
        if not set(columns) <= have:
            if fts in existing:
                connection.execute(text(f"DROP TABLE {fts}"))  # its shadow tables with it
            continue
        create, triggers = _ddl(table, columns)
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
        if rebuild:
            connection.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"))
