"""The connection pool ``make_engine`` builds from the environment (models.db.POOL_SETTINGS)."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import Engine, event, text

from models.db import make_engine
from tests.conftest import _url


def test_a_busy_moment_keeps_its_connections_for_the_next(tmp_path_factory, monkeypatch) -> None:
    """8 requests at once, twice: the second time finds the 8 connections of the first open. (An overflow
    connection is closed when given back: with the former 5 + 5, 3 new database sessions each time.)"""
    for variable in ("WUYE_DB_POOL_SIZE", "WUYE_DB_MAX_OVERFLOW", "WUYE_DB_POOL_TIMEOUT"):
        monkeypatch.delenv(variable, raising=False)
    engine = make_engine(_url(tmp_path_factory))
    opened = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    try:
        for _ in range(2):
            held = [engine.connect() for _ in range(8)]
            for conn in held:
                conn.close()
        assert len(opened) == 8
        assert engine.pool.size() + engine.pool._max_overflow == 10  # the budget per process the README counts
    finally:
        engine.dispose()


def _unit_index_stat(path) -> tuple[int, int] | None:
    """What SQLite's statistics say of ``bill (unit_id)``: (rows, rows per unit), or None before any."""
    with sqlite3.connect(path) as raw:
        if not raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            return None
        row = raw.execute("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_bill_unit'").fetchone()
    return tuple(map(int, row[0].split())) if row else None


def _filled(path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bill (id INTEGER PRIMARY KEY, unit_id INTEGER, period TEXT)"))
        conn.execute(text("CREATE INDEX ix_bill_unit ON bill (unit_id)"))
        conn.execute(text("INSERT INTO bill (unit_id, period) VALUES (:u, '2026-10')"),
                     [{"u": i % 300} for i in range(3000)])
    return engine


def test_sqlite_gathers_the_planners_statistics_as_a_connection_goes_back(tmp_path) -> None:
    """SQLite has no autovacuum: a connection back in the pool analyses the tables it used (once an hour), from a
    sample, so the planner knows 3,000 bills over 300 units; before any use nothing is analysed."""
    path = tmp_path / "stats.db"
    engine = _filled(path)
    try:
        engine.dispose()  # the connection that filled the table checked in before the table had rows to analyse
        assert _unit_index_stat(path) is None
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM bill WHERE unit_id = 7")) == 10
        gathered = _unit_index_stat(path)
        assert gathered is not None and 2000 < gathered[0] < 4000 and gathered[1] == 10  # a sample's estimate
        with engine.begin() as conn:  # within the hour the same connection does not analyse again
            conn.execute(text("INSERT INTO bill (unit_id, period) SELECT unit_id, period FROM bill"))
            conn.scalar(text("SELECT count(*) FROM bill WHERE unit_id = 7"))
        assert _unit_index_stat(path) == gathered
    finally:
        engine.dispose()


def test_sqlite_statistics_never_wait_behind_a_writer(tmp_path) -> None:
    """Another process holds the write lock: the connection goes back to the pool at once, the statistics left
    for its next checkin, which gathers them once the writer is done."""
    path = tmp_path / "busy.db"
    engine = _filled(path)
    engine.dispose()
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with engine.connect() as conn:
            conn.scalar(text("SELECT count(*) FROM bill WHERE unit_id = 7"))
        assert time.monotonic() - started < 2  # not the 15 s a write waits for the lock
        assert _unit_index_stat(path) is None
        writer.execute("ROLLBACK")
        with engine.connect() as conn:
            conn.scalar(text("SELECT count(*) FROM bill WHERE unit_id = 7"))
        assert _unit_index_stat(path) is not None
    finally:
        writer.close()
        engine.dispose()
