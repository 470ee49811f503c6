"""Several app processes on one PostgreSQL database, as behind a round-robin proxy: login throttling holds
exactly across them, the client address is the one the (trusted) proxy names, and a request that finds no
database connection free waits its turn, then is answered 503 in Chinese."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from admin.app import create_app
from admin.security import BUSY
from models import AuditKind, AuditLog, LoginAttempt
from models.db import make_engine, make_sessionmaker
from tests import factories
from tests.browser_support import Browser
from tests.conftest import Console
from tests.processes_support import SECRET

pytestmark = pytest.mark.postgres_only
TRIES = 30


def test_thirty_wrong_passwords_at_once_through_two_processes_are_checked_five_times(app_processes):
    with app_processes.session_maker.begin() as session:
        factories.user(session, username="throttled", superuser=True)
    # each through a process in turn, all from one office address behind the proxy
    browsers = [Browser(app_processes.urls[i % len(app_processes.urls)], {"x-forwarded-for": "203.0.113.7"})
                for i in range(TRIES)]
    for browser in browsers:
        assert browser.request("GET", "/admin/login")[0] == 200
    ready, answers = threading.Barrier(TRIES), []

    def wrong_password(browser: Browser) -> None:
        ready.wait()
        answers.append(browser.request("POST", "/admin/login", {"username": "throttled", "password": "wrong-pass"}))

    threads = [threading.Thread(target=wrong_password, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(status for status, _ in answers) == [400] * TRIES
    assert sum("用户名或密码错误" in page for _, page in answers) == 5
    assert sum("账号已锁定" in page for _, page in answers) == TRIES - 5
    with app_processes.session_maker() as session:
        tries = session.scalars(select(LoginAttempt.ip).where(LoginAttempt.username == "throttled")).all()
        checked = session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.kind == AuditKind.LOGIN_FAILED, AuditLog.summary == "登录失败：throttled"))
    assert (len(tries), set(tries), checked) == (TRIES, {"203.0.113.7"}, 5)  # the password was checked 5 times


def test_each_process_believes_the_forwarded_address_of_a_trusted_proxy_only(app_processes):
    """The test's requests come from 127.0.0.1, the default trusted proxy: the address it forwards is the
    client's. (A sender that is no trusted proxy: tests/admin/test_auth.py.)"""
    with app_processes.session_maker.begin() as session:
        factories.user(session, username="forwarded", superuser=True)
    for i, url in enumerate(app_processes.urls):
        browser = Browser(url, {"x-forwarded-for": f"198.51.100.{i + 1}, 127.0.0.1", "x-forwarded-proto": "https"})
        assert browser.log_in("forwarded") == 302
    with app_processes.session_maker() as session:
        ips = session.scalars(select(LoginAttempt.ip).where(LoginAttempt.username == "forwarded")).all()
    assert sorted(ips) == ["198.51.100.1", "198.51.100.2"]


def test_a_request_finding_no_connection_waits_its_turn_then_is_answered_503_in_chinese(app_processes):
    with app_processes.session_maker.begin() as session:
        factories.user(session, username="patient", superuser=True)
    engine = make_engine(app_processes.database_url, pool_size=1, max_overflow=0, pool_timeout=1)
    client = TestClient(create_app(session_maker=make_sessionmaker(engine), secret_key=SECRET),
                        base_url="http://testserver")
    console = Console(client)
    assert console.login("patient", factories.PASSWORD).status_code == 302
    with engine.connect():  # the pool's one connection, taken
        started = time.monotonic()
        busy = client.get("/admin/", follow_redirects=False)
        waited = time.monotonic() - started
    assert (busy.status_code, busy.headers["retry-after"], BUSY in busy.text) == (503, "5", True)
    assert 1 <= waited < 5 and "Traceback" not in busy.text and "sqlalchemy" not in busy.text.lower()

    held = engine.connect()  # given back while the request waits: it is served
    threading.Timer(0.3, held.close).start()
    assert client.get("/admin/", follow_redirects=False).status_code == 200
    client.close()
    engine.dispose()
