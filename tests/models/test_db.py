"""The connection pool ``make_engine`` builds from the environment (models.db.POOL_SETTINGS)."""

from __future__ import annotations

from sqlalchemy import event

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
