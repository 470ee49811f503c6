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
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

import actions  # noqa: F401  (audit hook)
from actions import dunning
from actions.accounts import add_user
from models import SHANGHAI, Base, User
from models.db import make_engine
from seeds.demo import load_demo
from seeds.reference import load_reference
from tests.database_support import Templates, keep_sqlite_at_head, reset_schema

pytest_plugins = ["tests.browser_support", "tests.processes_support"]

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


# Fixtures whose tests get a database of their own, copied from the template (tests/database_support.py).
COPY_USERS = {"demo", "app_processes"}
_TEMPLATES: dict[str, Templates] = {}


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(_url(tmp_path_factory))
    reset_schema(engine)
    if engine.dialect.name == "sqlite":
        keep_sqlite_at_head(Path(engine.url.database), tmp_path_factory.mktemp("head"))
    with Session(engine) as session, session.begin():
        load_reference(session)
    templates = _TEMPLATES["templates"] = Templates(engine, tmp_path_factory.mktemp("templates"))
    if engine.dialect.name == "sqlite" or any(COPY_USERS & set(item.fixturenames) for item in request.session.items):
        templates.keep(engine)  # now, while nothing else is connected
    yield engine
    engine.dispose()
    templates.drop()
    del _TEMPLATES["templates"]


@pytest.fixture(scope="session")
def templates(engine: Engine) -> Templates:
    """Copies of the suite's database at head with the reference data (tests/database_support.py)."""
    return _TEMPLATES["templates"]


def table_counts(session: Session) -> dict[str, int]:
    """Every table's row count."""
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


@dataclass(frozen=True)
class DemoLoad:
    """The demo database and how its load went (tests/seeds/test_demo.py checks it)."""

    engine: Engine
    before: dict[str, int]  # every table's row count before the demo
    counts: dict[str, int]  # what load_demo reported
    first: dict[str, int]  # every table's row count after the first load
    second: dict[str, int]  # … and after the second
    again: dict[str, int]  # what the second load reported
    own_hash: str  # password hash of an ``admin`` account made before the demo


DEMO_ADMIN_PASSWORD = "own-admin-password"


@pytest.fixture(scope="session")
def demo(templates: Templates) -> Iterator[DemoLoad]:
    """The demo data set (seeds.demo), loaded once per run into a database of its own, as ``wuye demo`` loads
    it: the reference data, then the demo (an ``admin`` account made first, as ``wuye init --admin admin`` may
    have, is kept as it is), then the demo again, which must change nothing. Committed: each module using it
    reads and writes in a transaction it rolls back."""
    url = templates.copy("demo")
    demo_engine = make_engine(url)
    with Session(demo_engine) as session, session.begin():
        load_reference(session)
        add_user(session, username="admin", password=DEMO_ADMIN_PASSWORD, superuser=True)
        own_hash = session.scalar(select(User.password_hash).where(User.username == "admin"))
        before = table_counts(session)
        counts = load_demo(session)
        first = table_counts(session)
        again = load_demo(session)
        second = table_counts(session)
    yield DemoLoad(demo_engine, before, counts, first, second, again, own_hash)
    demo_engine.dispose()
    templates.drop(url)


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
        """The session's CSRF token, which every page of the session carries: read from the login page, the
        lightest (the home page computes the dashboard: 70–190 ms a time, before each POST)."""
        page = self.client.get("/admin/login")
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
