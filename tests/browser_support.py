"""Fixtures for browser tests: the real console served by uvicorn on 127.0.0.1, and headless Chromium.

The served app cannot share the per-test connection the other tests roll back (another thread, real
commits), so it runs on its own SQLite file, at head (a copy of the run's SQLite file migrated with alembic,
tests/database_support.py) and loaded with the reference data once per process. Tests commit what they need through ``live_server.session_maker`` and give their records
unique names. Use from a test module::

    from tests.browser_support import browser, live_server  # noqa: F401  (fixtures)

    @pytest.mark.browser
    def test_something(live_server, browser): ...

Each module that imports a fixture gets a fixture of its own, so the server and Chromium are kept once per
process here. And sqladmin keeps its Admin and session maker on the view *classes*: whichever app was
created last serves every view. So the server runs a switchboard, and ``live_server`` (per test) puts a
freshly created app behind it — the views then point at the live database, whatever other tests made since.
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import actions  # noqa: F401  (audit hook)
from models.db import make_engine, make_sessionmaker
from seeds.reference import load_reference
from tests import factories
from tests.database_support import sqlite_at_head

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET = "browser-test-secret-" + "y" * 32


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:<port>
    engine: Engine
    session_maker: sessionmaker[Session]


class _Switchboard:
    """The ASGI app uvicorn serves: passes every request to the app the current test installed."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


_PROCESS: dict[str, Any] = {}  # the one server and the one Chromium of this test process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path_factory: pytest.TempPathFactory) -> tuple[_Switchboard, LiveServer]:
    if "server" in _PROCESS:
        return _PROCESS["server"]
    engine = make_engine(sqlite_at_head(tmp_path_factory, tmp_path_factory.mktemp("live") / "live.db"))
    maker = make_sessionmaker(engine)
    with maker.begin() as session:
        load_reference(session)
    switchboard, port = _Switchboard(), _free_port()
    server = uvicorn.Server(uvicorn.Config(switchboard, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)  # not the main thread: no signal handlers
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console did not start")
        time.sleep(0.05)

    def stop() -> None:
        if switchboard.app is not None:
            switchboard.app.state.admin.jobs.runner.stop()
        server.should_exit = True
        thread.join(10)
        engine.dispose()

    _PROCESS["stop"] = stop  # by pytest_sessionfinish below, while pytest still takes the server's last log lines
    _PROCESS["server"] = (switchboard, LiveServer(f"http://127.0.0.1:{port}", engine, maker))
    return _PROCESS["server"]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The console server stops with the run, not at the interpreter's exit: by then pytest has closed the
    output its log lines go to (a "Logging error" traceback)."""
    stop = _PROCESS.pop("stop", None)
    if stop is not None:
        stop()
        del _PROCESS["server"]


class Browser:
    """One user's cookies and CSRF token against a live console, over plain HTTP; ``headers`` go with every
    request (an X-Forwarded-For, as a proxy would add)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        server = urlsplit(url)
        self.conn = http.client.HTTPConnection(server.hostname, server.port, timeout=60)
        self.headers = dict(headers or {})
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        headers = {**self.headers, "cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode({**form, "csrf_token": self.token})
            headers["content-type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("set-cookie") or ():
            self.cookies.update({k: m.value for k, m in SimpleCookie(header).items()})
        if 'name="csrf-token" content="' in text:
            self.token = text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        return response.status, text

    def log_in(self, username: str, password: str = factories.PASSWORD) -> int:
        self.request("GET", "/admin/login")
        return self.request("POST", "/admin/login", {"username": username, "password": password})[0]


@pytest.fixture
def live_server(tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    from admin.app import create_app

    switchboard, server = _serve(tmp_path_factory)
    if switchboard.app is not None:  # the previous test's console: its job thread ends with it
        switchboard.app.state.admin.jobs.runner.stop()
    switchboard.app = create_app(session_maker=server.session_maker, secret_key=SECRET, run_jobs="thread")
    switchboard.app.state.admin.jobs.runner.start()  # as the app's lifespan would (uvicorn runs it without here)
    return server


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if "browser" in _PROCESS:  # another module's fixture started it and will close it
        yield _PROCESS["browser"]
        return
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _PROCESS["browser"] = chromium
        yield chromium
        del _PROCESS["browser"]
        chromium.close()


def log_in(page: Any, base: str, username: str) -> None:
    """Logs ``page`` in to the console at ``base`` as ``username`` (with the factories' password)."""
    from tests.factories import PASSWORD

    page.goto(f"{base}/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
