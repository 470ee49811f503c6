"""Shared fixtures. The database comes from WUYE_TEST_DATABASE_URL (default: a fresh SQLite file).

The schema is built once per run with ``alembic upgrade head`` and the reference data loaded; each test
then runs inside a transaction that is rolled back, so tests see the same starting state. The console under
test gets a session maker bound to that same connection (savepoints for its commits).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest
from alembic import command
from sqlalchemy import Connection, Engine, MetaData, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

import actions  # noqa: F401  (audit hook)
from actions import dunning
from models import SHANGHAI
from models.db import alembic_config, make_engine
from seeds.reference import load_reference

pytest_plugins = ["tests.browser_support"]

SECRET = "test-secret-key-" + "x" * 32


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tests that mostly wait on another server start now, in a process of their own, and run while the others do."""
    from tests.models import test_migrations_mariadb as mariadb

    if any(item.nodeid == mariadb.ROUND_TRIP for item in session.items):
        mariadb.start_round_trip(Path(session.config.rootpath))


def _url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("WUYE_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


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


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(_url(tmp_path_factory))
    reset_schema(engine)
    with Session(engine) as session, session.begin():
        load_reference(session)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        trans = conn.begin()
        yield conn
        trans.rollback()


@pytest.fixture
def session_maker(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_maker: sessionmaker[Session]) -> Iterator[Session]:
    with session_maker() as session:
        yield session


@pytest.fixture
def app(session_maker: sessionmaker[Session]):
    from admin.app import create_app

    # Jobs run at once in the request that queues them: the test's one connection is not shared with a thread.
    return create_app(session_maker=session_maker, secret_key=SECRET, run_jobs="sync")


_EDIT_URL = re.compile(r"^/admin/[\w-]+/edit/\d+$")


class Console:
    """A logged-in browser stand-in: keeps the cookie and sends the CSRF token like the page's script."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def token(self) -> str:
        page = self.client.get("/admin/login")
        match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert match, "login page carries no CSRF token"
        return match.group(1)

    def login(self, username: str, password: str):
        return self.client.post(
            "/admin/login",
            data={"username": username, "password": password, "csrf_token": self.token()},
            follow_redirects=False,
        )

    def csrf(self) -> str:
        page = self.client.get("/admin/")
        match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert match, f"no CSRF token on the page ({page.status_code})"
        return match.group(1)

    def post(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf())
        if "version" not in data and _EDIT_URL.search(url):
            # saved from the form as opened, as a browser does: it carries the record's version (B09)
            data["version"] = self.form_version(url)
        if data.get("version") is None:
            data.pop("version", None)  # ``version=None``: a form sent without one
        return self.client.post(url, data=data, follow_redirects=False, **kwargs)

    def post_job(self, url: str, data: dict | None = None):
        """A POST that may start a 后台任务: its job's page once it ran (the tests' runner is synchronous),
        else the answer itself (a form shown again with its refusal)."""
        response = self.post(url, data)
        if response.status_code == 303 and "/admin/jobs/" in response.headers["location"]:
            return self.client.get(response.headers["location"])
        return response

    def job_file(self, page):
        """The file a done job's page offers."""
        match = re.search(r'href="([^"]*/admin/jobs/\d+/file)"', page.text)
        assert match, f"no download on the job's page ({page.status_code}): {page.text[-1500:]}"
        return self.client.get(match.group(1))

    def form_version(self, url: str) -> str | None:
        """The version an edit form carries, as the page shows it now."""
        page = self.client.get(url.split("?", 1)[0])
        match = re.search(r'<input[^>]*name="version"[^>]*>', page.text)
        value = re.search(r'value="([^"]*)"', match.group(0)) if match else None
        return value.group(1) if value else None

    def delete(self, url: str):
        return self.client.delete(url, headers={"X-CSRF-Token": self.csrf()})

    def get(self, url: str, **kwargs):
        return self.client.get(url, **kwargs)


@pytest.fixture
def console(app) -> Iterator:
    """``console("username")`` → a logged-in Console for that (factory-made) user."""
    clients = []

    def make(username: str, password: str = "pass-word-123") -> Console:
        client = TestClient(app, base_url="http://testserver")
        clients.append(client)
        c = Console(client)
        response = c.login(username, password)
        assert response.status_code == 302, f"login of {username} failed: {response.status_code}"
        return c

    yield make
    for client in clients:
        client.close()


DATA = Path(__file__).parent / "data"


def run_async(fn, *args):
    """Run an async function to completion from a test. In a thread of its own: once a browser test has
    run, Playwright keeps an event loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


@pytest.fixture
def issue_day(monkeypatch):
    """Sets the day (and the moment, 09:00 in Shanghai) a run issues its notices on, a delivery is recorded on
    and a list is approved on: ``today`` and ``utcnow`` of the dunning action."""
    def set_day(when: dt.date, hour: int = 9) -> None:
        monkeypatch.setattr(dunning, "today_local", lambda: when)
        at = dt.datetime.combine(when, dt.time(hour), tzinfo=SHANGHAI).astimezone(dt.UTC)
        monkeypatch.setattr(dunning, "utcnow", lambda: at)
    return set_day
