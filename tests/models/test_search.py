"""SQLite's search tables (models.search): made after every upgrade, rebuilt when a table lost its triggers (a
batch ALTER recreates the table) or its declaration changed, so a search finds every row written meanwhile."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from models import base
from models.db import alembic_config, make_engine
from models.search import sync_search_tables


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'search.db'}")
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
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
        conn.execute(text("UPDATE audit_log SET actor_name = '王五常' WHERE id = :i"), {"i": b})
        assert _found(conn, "audit_log", "actor_name", "张三丰") == [a]
        assert _found(conn, "audit_log", "actor_name", "李四光") == []
        assert _found(conn, "audit_log", "actor_name", "五常") == []  # under a trigram the index finds nothing…
        assert _found(conn, "audit_log", "actor_name", "王五常") == [b]
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": a})
        assert _found(conn, "audit_log", "actor_name", "张三丰") == []
        conn.execute(text("INSERT INTO audit_log_search(audit_log_search) VALUES ('integrity-check')"))  # raises if out of sync


def test_sync_rebuilds_a_table_that_lost_its_triggers_or_changed(engine, monkeypatch):
    with engine.begin() as conn:
        a = _row(conn, "张三丰")
        conn.execute(text("DROP TRIGGER audit_log_search_ai"))  # as a batch ALTER's recreated table has none
        b = _row(conn, "张三丰二")
        assert _found(conn, "audit_log", "actor_name", "张三丰") == [a]
        sync_search_tables(conn)
        assert _found(conn, "audit_log", "actor_name", "张三丰") == [a, b]
        c = _row(conn, "张三丰三")
        assert _found(conn, "audit_log", "actor_name", "张三丰") == [a, b, c]

        monkeypatch.setitem(base.SEARCHED, "audit_log", (*base.SEARCHED["audit_log"], "table_name"))
        sync_search_tables(conn)
        assert _found(conn, "audit_log", "table_name", "unit") == [a, b, c]
        conn.execute(text("INSERT INTO audit_log_search(audit_log_search) VALUES ('integrity-check')"))

