"""Databases of their own for the tests that need one beside the suite's (the demo, the app processes, SQLite
search tables, the browser's console): each a copy of a template made once per run, instead of migrating afresh.

- :class:`Templates`: the schema at head with the reference data, taken from the suite's database right after it
  was migrated and loaded, before any test ran. PostgreSQL: ``<test database>_template``, made and copied with
  ``CREATE DATABASE … TEMPLATE`` (a page copy: no migration, no insert runs again); SQLite: a file, copied with
  SQLite's backup API.
- :func:`sqlite_at_head`: an SQLite file at head without data, migrated once per process (on an SQLite run, the
  suite's own database as migrated), for tests that always run on SQLite whatever the suite's database.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.db import alembic_config, make_engine
from seeds.reference import load_reference


def reset_schema(engine: Engine) -> None:
    """Drop every table (also ones a previous run left) and migrate to head."""
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_HEAD: dict[str, Path] = {}  # the SQLite file at head of this test process


def copy_sqlite(source: Path, target: Path) -> None:
    """``source`` copied page by page to ``target`` (whatever its write-ahead log still holds included)."""
    target.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def keep_sqlite_at_head(path: Path, directory: Path) -> None:
    """On an SQLite run: the suite's database, just migrated and holding nothing yet, kept as the file at head."""
    if "head" not in _HEAD:
        _HEAD["head"] = directory / "head.db"
        copy_sqlite(path, _HEAD["head"])


def sqlite_at_head(tmp_path_factory: pytest.TempPathFactory, target: Path) -> str:
    """A new SQLite database at ``target``, at head and empty, as ``alembic upgrade head`` leaves it; the URL."""
    if "head" not in _HEAD:
        head = tmp_path_factory.mktemp("head") / "head.db"
        engine = make_engine(f"sqlite:///{head}")
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        engine.dispose()
        _HEAD["head"] = head
    copy_sqlite(_HEAD["head"], target)
    return f"sqlite:///{target}"


class Templates:
    """Copies of the suite's database as it stood after the migration and the reference data."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self.url = engine.url
        self.directory = directory
        self.postgresql = engine.dialect.name == "postgresql"
        self.name = f"{engine.url.database}_template" if self.postgresql else str(directory / "template.db")
        self.kept = False

    def _server(self) -> Engine:
        return make_engine(self.url.set(database="postgres").render_as_string(hide_password=False),
                           isolation_level="AUTOCOMMIT")

    def _create(self, name: str, template: str) -> None:
        server = self._server()
        try:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                # waits (up to 5 s) for the closed connections of the template's database to end
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        finally:
            server.dispose()

    def keep(self, engine: Engine) -> None:
        """Take the template from ``engine``'s database; its pooled connections are closed first (a PostgreSQL
        template is copied only while no one is connected to it)."""
        engine.dispose()
        if self.postgresql:
            try:
                self._create(self.name, self.url.database)
            except OperationalError:  # someone else connected to it: the copies are then migrated afresh
                return
        else:
            copy_sqlite(Path(self.url.database), Path(self.name))
        self.kept = True

    def copy(self, suffix: str) -> str:
        """A new database ``<test database>_<suffix>`` (PostgreSQL) or file (SQLite) copied from the template,
        replacing one a previous run left; its URL."""
        if self.postgresql:
            name = f"{self.url.database}_{suffix}"
            url = self.url.set(database=name).render_as_string(hide_password=False)
            if self.kept:
                self._create(name, self.name)
            else:  # no template (the run's tests were not known to need one): migrated afresh
                self._create(name, "template0")
                engine = make_engine(url)
                reset_schema(engine)
                with Session(engine) as session, session.begin():
                    load_reference(session)
                engine.dispose()
            return url
        path = self.directory / f"{suffix}.db"
        copy_sqlite(Path(self.name), path)
        return f"sqlite:///{path}"

    def drop(self, url: str | None = None) -> None:
        """Drop a copy (by its URL), or the template itself."""
        name = make_url(url).database if url else self.name
        if not self.postgresql:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{name}{suffix}").unlink(missing_ok=True)
            return
        server = self._server()
        try:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            server.dispose()

