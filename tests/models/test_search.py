"""SQLite's search tables (models.search): made after every upgrade, rebuilt when a table lost its triggers (a
batch ALTER recreates the table) or its declaration changed, so a search finds every row written meanwhile."""

from __future__ import annotations

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

from models import base
from models.db import make_engine
from models.search import drop_search_views, sync_search_tables
from tests.database_support import sqlite_at_head


@pytest.fixture
def engine(tmp_path_factory, tmp_path):
    """A new SQLite database at head: a copy of the file ``alembic upgrade head`` left (tests/database_support.py)."""
    engine = make_engine(sqlite_at_head(tmp_path_factory, tmp_path / "search.db"))
    yield engine
    engine.dispose()


def _found(conn, table: str, column: str, term: str) -> list[int]:
    return [i for (i,) in conn.execute(text(f"SELECT rowid FROM {table}_search WHERE {column} LIKE :p ORDER BY rowid"),
                                       {"p": f"%{term}%"})]


def _row(conn, name: str) -> int:
    """An audit row by ``name`` (a table without required relations), its 摘要 the same."""
    conn.execute(text("INSERT INTO audit_log (at, actor_name, source, kind, table_name, record_id, summary, changes, "
                      "ip) VALUES ('2026-12-01 00:00:00', :n, 'cli', 'update', 'unit', '1', :n, '{}', '')"),
                 {"n": name})
    return conn.scalar(text("SELECT max(id) FROM audit_log"))


def test_every_write_keeps_the_search_table(engine):
    with engine.begin() as conn:
        a, b = _row(conn, "张三丰"), _row(conn, "李四光")
        conn.execute(text("UPDATE audit_log SET summary = '王五常' WHERE id = :i"), {"i": b})
        assert _found(conn, "audit_log", "summary", "张三丰") == [a]
        assert _found(conn, "audit_log", "summary", "李四光") == []
        assert _found(conn, "audit_log", "summary", "五常") == []  # under a trigram the index finds nothing…
        assert _found(conn, "audit_log", "summary", "王五常") == [b]
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": a})
        assert _found(conn, "audit_log", "summary", "张三丰") == []
        conn.execute(text("INSERT INTO audit_log_search(audit_log_search) VALUES ('integrity-check')"))  # raises if out of sync


def test_sync_rebuilds_a_table_that_lost_its_triggers_or_changed(engine, monkeypatch):
    with engine.begin() as conn:
        a = _row(conn, "张三丰")
        conn.execute(text("DROP TRIGGER audit_log_search_ai"))  # as a batch ALTER's recreated table has none
        b = _row(conn, "张三丰二")
        assert _found(conn, "audit_log", "summary", "张三丰") == [a]
        sync_search_tables(conn)
        assert _found(conn, "audit_log", "summary", "张三丰") == [a, b]
        c = _row(conn, "张三丰三")
        assert _found(conn, "audit_log", "summary", "张三丰") == [a, b, c]

        monkeypatch.setitem(base.SEARCHED, "audit_log", (*base.SEARCHED["audit_log"], "table_name"))
        sync_search_tables(conn)
        assert _found(conn, "audit_log", "table_name", "unit") == [a, b, c]
        conn.execute(text("INSERT INTO audit_log_search(audit_log_search) VALUES ('integrity-check')"))



def _two(conn, term: str) -> list[int]:
    """The audit rows whose 摘要 holds a 2-character ``term``: the trigrams starting with it."""
    return [i for (i,) in conn.execute(text(
        "SELECT DISTINCT doc FROM audit_log_search_terms WHERE col = 'summary' AND term >= :t AND term < :t || "
        "char(1114111) ORDER BY doc"), {"t": term})]


def test_a_two_character_term_is_the_start_of_a_trigram_wherever_it_is(engine):
    """Each value is indexed with an end marker after it: a 2-character name, or one ending a value, starts a
    trigram as one inside a value does, through writes and rebuilds alike; a 3-character LIKE finds the same rows."""
    with engine.begin() as conn:
        rows = [_row(conn, name) for name in ("张三", "张三丰", "老张三", "老张三丰", "张四三", "三张")]
        assert _two(conn, "张三") == rows[:4]
        assert _found(conn, "audit_log", "summary", "张三丰") == [rows[1], rows[3]]
        conn.execute(text("UPDATE audit_log SET summary = '张' WHERE id = :i"), {"i": rows[0]})
        assert _two(conn, "张三") == rows[1:4]
        conn.execute(text("INSERT INTO audit_log_search(audit_log_search) VALUES ('rebuild')"))
        assert _two(conn, "张三") == rows[1:4]
        conn.execute(text("INSERT INTO audit_log_search(audit_log_search) VALUES ('integrity-check')"))


def test_a_batch_alter_of_a_searched_table_keeps_its_search(engine):
    """A migration's batch ALTER recreates the table and renames it: SQLite refuses while a view over the old one
    stands (the search table's content), so the migration environment drops them first and makes them after."""
    with engine.begin() as conn:
        a = _row(conn, "张三")
        drop_search_views(conn)
        with Operations(MigrationContext.configure(conn)).batch_alter_table("audit_log", recreate="always"):
            pass
        sync_search_tables(conn)
        b = _row(conn, "老张三")
        assert _two(conn, "张三") == [a, b]
        conn.execute(text("INSERT INTO audit_log_search(audit_log_search) VALUES ('integrity-check')"))


def test_a_search_table_records_no_column_sizes(engine):
    """Only ranking reads them and a search never ranks: no ``_docsize`` row per write (issue 17, a dispatch's
    50,000 audit rows); a search still finds every row, and a deleted one goes."""
    with engine.begin() as conn:
        tables = set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'")))
        assert {f"{t}_search" for t in base.SEARCHED} <= tables
        assert not {name for name in tables if name.endswith("_search_docsize")}
        first, second = _row(conn, "派工主管甲"), _row(conn, "派工主管乙")
        assert _found(conn, "audit_log", "summary", "派工主管") == [first, second]
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": first})
        assert _found(conn, "audit_log", "summary", "派工主管") == [second]
