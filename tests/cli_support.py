"""What the command-line tests share: a database made once per process by ``wuye init``, copied for each module
(plus what the module fills in) and copied to a fresh SQLite file for each test, and the row count of every table to show that a
refused or dry-run command wrote nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from admin import cli
from models import Base
from models.db import make_engine
from tests.database_support import copy_sqlite

_INIT: dict[str, Path] = {}  # the database ``wuye init`` made in this test process


def after_init(tmp_path_factory: pytest.TempPathFactory, target: Path) -> Path:
    """A new SQLite file at ``target`` as ``wuye init`` leaves it (migrated, the reference data loaded): a copy of
    the one database ``wuye init`` made in this test process."""
    if "init" not in _INIT:
        made = tmp_path_factory.mktemp("init") / "init.db"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WUYE_DATABASE_URL", f"sqlite:///{made}")
            assert cli.main(["init"]) == 0
        _INIT["init"] = made
    copy_sqlite(_INIT["init"], target)
    return target


def initialised(tmp_path_factory: pytest.TempPathFactory, name: str, fill: Callable[[Session], object]) -> Path:
    """A database after ``wuye init``, then ``fill(session)`` in one transaction."""
    path = after_init(tmp_path_factory, tmp_path_factory.mktemp(name) / "template.db")
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session, session.begin():
        fill(session)
    engine.dispose()
    return path


def copy_of(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The commands' database (``WUYE_DATABASE_URL``) for one test: a copy of ``template``."""
    path = tmp_path / "cli.db"
    path.write_bytes(template.read_bytes())
    monkeypatch.setenv("WUYE_DATABASE_URL", f"sqlite:///{path}")
    engine = make_engine()
    yield engine
    engine.dispose()


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
