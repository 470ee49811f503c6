"""Migrations: up → down → up works, and the models match the migrations (RELIABILITY M01)."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import models
from models.base import on_database
from models.db import alembic_config, make_engine


@pytest.fixture
def scratch_url(tmp_path):
    """A database of its own, so going down to base does not disturb the other tests."""
    url = os.environ.get("WUYE_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    parsed = make_url(url)
    name = f"{parsed.database}_migrate"
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield parsed.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(engine, target: str, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def test_up_down_up_and_no_drift(scratch_url):
    engine = make_engine(scratch_url)
    _migrate(engine, "head")
    tables = set(inspect(engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables

    _migrate(engine, "base", down=True)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    _migrate(engine, "head")
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": lambda obj, *_: on_database(obj, conn.dialect.name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), models.Base.metadata)
    assert diff == []
    engine.dispose()
