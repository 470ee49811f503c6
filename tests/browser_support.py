"""Fixtures for browser tests: the real console served by uvicorn on 127.0.0.1, and headless Chromium.

The served app cannot share the per-test connection the other tests roll back (another thread, real
commits), so it runs on its own SQLite file, migrated with alembic and loaded with the reference data once
per test session. Tests commit what they need through ``live_server.session_maker`` and give their records
unique names. tests/conftest.py loads this module as a plugin, so a test just names the fixtures::

    @pytest.mark.browser
    def test_something(live_server, browser): ...
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from alembic import command
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import actions  # noqa: F401  (audit hook)
from models.db import alembic_config, make_engine, make_sessionmaker
from seeds.reference import load_reference

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET = "browser-test-secret-" + "y" * 32


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:<port>
    engine: Engine
    session_maker: sessionmaker[Session]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from admin.app import create_app

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}")
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    maker = make_sessionmaker(engine)
    with maker.begin() as session:
        load_reference(session)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(session_maker=maker, secret_key=SECRET), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)  # not the main thread: no signal handlers
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", engine, maker)
    server.should_exit = True
    thread.join(10)
    engine.dispose()


_running: dict[str, object] = {}


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One Chromium for the whole run, however many modules ask: a second sync Playwright cannot start
    while the first one's event loop runs."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
    if "browser" in _running:
        yield _running["browser"]
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _running["browser"] = chromium
        try:
            yield chromium
        finally:
            _running.pop("browser", None)
            chromium.close()
