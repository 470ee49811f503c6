"""Migrations on MariaDB (RELIABILITY M01): up → down → up, no drift, the reference data loads and survives.

Independent of the suite's database (WUYE_TEST_DATABASE_URL): it runs against the server at
WUYE_TEST_MARIADB_URL in a database of its own, created and dropped here, whenever that server answers;
it is skipped only when nothing listens there. A wrong password or a missing driver is a failure.

The round trip is some 1,500 DDL statements, each waiting a few dozen milliseconds for MariaDB's disk (a minute
or more, little of it CPU): when the run includes it, ``tests/conftest.py`` starts it at once in a pytest of its
own (:func:`start_round_trip`), which runs while the other tests do; the test here takes that run's outcome.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, CheckConstraint, Engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

import models
from actions.errors import integrity_message
from models.base import on_database
from models.db import alembic_config, make_engine
from seeds.reference import load_reference

MARIADB_URL = os.environ.get("WUYE_TEST_MARIADB_URL") or "mysql+pymysql://root@127.0.0.1:3306/test"
# Client errors 2002/2003: no server on that socket / host and port.
UNREACHABLE = {2002, 2003}


@pytest.fixture
def mariadb_url() -> str:
    """A database of its own (per process: two suites may run at once), dropped afterwards."""
    url = make_url(MARIADB_URL)
    name = f"wuye_migrations_test_{os.getpid()}"
    admin = make_engine(url.render_as_string(hide_password=False))
    try:
        conn = admin.connect()
    except OperationalError as exc:
        admin.dispose()
        if exc.orig is not None and exc.orig.args and exc.orig.args[0] in UNREACHABLE:
            pytest.skip(
                f"MariaDB not reachable at {url.render_as_string()} (WUYE_TEST_MARIADB_URL): {exc.orig}"
            )
        raise
    with conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        # The collation README.md asks for: case- and accent-sensitive, like PostgreSQL's equality.
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def _migrate(engine: Engine, target: str, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for name, table in models.Base.metadata.tables.items()
        }


ROUND_TRIP = "tests/models/test_migrations_mariadb.py::test_up_down_up_no_drift_and_reference_data"
IN_CHILD = "WUYE_TEST_MARIADB_CHILD"
_child: tuple[subprocess.Popen, Path] | None = None


def start_round_trip(root: Path) -> None:
    """The round trip run now, by a pytest of its own (its result read by the test below)."""
    global _child
    if os.environ.get(IN_CHILD) or _child is not None:
        return
    out = Path(tempfile.mkdtemp(prefix="wuye-mariadb-"))
    with (out / "log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={out / 'result.xml'}", ROUND_TRIP],
            cwd=root, env={**os.environ, IN_CHILD: "1"}, stdout=log, stderr=subprocess.STDOUT)
    _child = process, out


def test_up_down_up_no_drift_and_reference_data(request):
    if _child is None:  # run alone, or in the child: here and now
        _round_trip(request.getfixturevalue("mariadb_url"))
        return
    process, out = _child
    process.wait()
    report = (out / "log").read_text(errors="replace")
    cases = ElementTree.parse(out / "result.xml").getroot().iter("testcase") if process.returncode == 0 else []
    outcomes = [[(child.tag, child.get("message", "")) for child in case] for case in cases]
    shutil.rmtree(out, ignore_errors=True)
    if len(outcomes) == 1 and [tag for tag, _ in outcomes[0]] == ["skipped"]:  # nothing listens there
        pytest.skip(outcomes[0][0][1])
    assert outcomes == [[]], report[-6000:]  # one test, passed


def _round_trip(mariadb_url: str) -> None:
    engine = make_engine(mariadb_url)
    try:
        _migrate(engine, "head")
        assert set(models.Base.metadata.tables) <= set(inspect(engine).get_table_names())

        _migrate(engine, "base", down=True)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        _migrate(engine, "head")
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_object": lambda obj, *_: on_database(obj, conn.dialect.name)}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), models.Base.metadata)
        assert diff == []

        # Autogenerate compares no CHECK constraints, and takes MariaDB's JSON (LONGTEXT plus a column check
        # json_valid(…)) for LONGTEXT: look them up in the catalogue instead.
        with engine.connect() as conn:
            checks = {
                (table, name): clause
                for table, name, clause in conn.execute(
                    text(
                        "SELECT table_name, constraint_name, check_clause FROM information_schema.check_constraints"
                        " WHERE constraint_schema = DATABASE()"
                    )
                )
            }
        for table in models.Base.metadata.tables.values():
            for ck in table.constraints:
                if isinstance(ck, CheckConstraint):
                    assert (table.name, ck.name) in checks, f"CHECK {ck.name} missing"
            for column in table.columns:
                if isinstance(column.type, JSON):
                    clause = checks.get((table.name, column.name), "")
                    assert clause == f"json_valid(`{column.name}`)", (
                        f"{table.name}.{column.name} not checked as JSON"
                    )

        with Session(engine) as session, session.begin():
            counts = load_reference(session)
        assert all(counts.values()), counts
        with Session(engine) as session, session.begin():
            assert not any(load_reference(session).values())  # insert-or-ignore: nothing the second time

        # Seeded data survives a migration round trip above it (down one revision, up again).
        before = _snapshot(engine)
        assert before["scoring_rule"] and before["role"]
        _migrate(engine, "-1", down=True)
        _migrate(engine, "head")
        assert _snapshot(engine) == before

        # What the connection settings promise: 4-byte characters (utf8mb4), CHECK constraints enforced,
        # timestamps in UTC with microseconds.
        with Session(engine, expire_on_commit=False) as session, session.begin():
            branch = models.Branch(name="𠀾城分公司", company="测试物业")
            session.add(branch)
        with Session(engine) as session:
            stored = session.get(models.Branch, branch.id)
            assert stored.name == "𠀾城分公司"
            assert stored.created_at.tzinfo is not None
            assert abs(stored.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
            assert stored.created_at == branch.created_at  # microseconds kept
        with engine.begin() as conn:  # the server's own default (CURRENT_TIMESTAMP) is UTC too
            conn.execute(text("INSERT INTO branch (name, company) VALUES ('服务器时间', '')"))
        with Session(engine) as session:
            row = session.scalars(select(models.Branch).where(models.Branch.name == "服务器时间")).one()
            assert abs(row.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
        with Session(engine) as session, pytest.raises(IntegrityError) as refused, session.begin():
            project = models.Project(
                branch_id=branch.id,
                name="校验项目",
                kind=models.ProjectKind.RESIDENTIAL,
                address="",
                phone="",
                company="",
            )
            session.add(project)
            session.flush()
            session.add(
                models.FeeType(
                    project_id=project.id,
                    name="物业费",
                    basis=models.FeeBasis.PER_AREA,
                    rate=Decimal("-1"),
                    due_day=1,
                    active=True,
                )
            )
        # told in Chinese with the labels, as on the other databases
        assert integrity_message(refused.value) == "收费项目：单价(元)不能为负数"
        with Session(engine) as session, pytest.raises(IntegrityError) as duplicate, session.begin():
            session.add(models.Branch(name="𠀾城分公司", company=""))
        assert integrity_message(duplicate.value) == "已存在相同「名称」的分公司记录"
    finally:
        engine.dispose()


def test_named_locks_last_until_the_transaction_ends(mariadb_url):
    """``lock_names`` on MariaDB (GET_LOCK, held by the connection, not the transaction): a second transaction
    asking for the name waits for the first to end, and a connection back in the pool holds no lock — what keeps
    login throttling exact across processes there."""
    import threading
    import time

    from models.db import lock_names, make_sessionmaker

    engine = make_engine(mariadb_url)
    maker, events = make_sessionmaker(engine), []

    def second() -> None:
        with maker.begin() as session:
            lock_names(session, ["login-user:wang", "login-ip:10.0.0.9"])
            events.append("second has it")

    with maker.begin() as session:
        lock_names(session, ["login-ip:10.0.0.9", "login-user:wang"])
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.5)
        events.append("first ends")
    waiting.join(20)
    started = time.monotonic()
    with maker.begin() as session:  # released with the connection: had at once
        lock_names(session, ["login-user:wang"])
    assert events == ["first ends", "second has it"] and time.monotonic() - started < 1
    engine.dispose()
