"""Simultaneous requests on the embedded SQLite database wait for each other instead of failing with
"database is locked" (RELIABILITY B11): a request that may write takes the write lock when its transaction
begins — but an export (a POST that reads long, then writes its audit row) takes it only when a write overtook
its read, and is then run again that way."""

from __future__ import annotations

import http.client
import re
import sqlite3
import threading
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import anyio
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError
from starlette.requests import Request

from admin.views.pages import run_action
from models import AuditKind, AuditLog, LoginAttempt, LostItem, User, utcnow
from models.db import make_engine, make_sessionmaker
from tests import factories
from tests.browser_support import Browser, live_server  # noqa: F401  (fixture)

USERS = 8


def test_an_edit_whose_form_checks_read_the_database_saves_at_once(live_server):  # noqa: F811
    """The edit's own transaction holds the write lock while the form's checks (the records it points at are in
    scope, a rule of the view) read in transactions of their own: they must not wait for that lock."""
    with live_server.session_maker.begin() as session:
        project = factories.project(session)
        desk = factories.user(session, username="editor", roles=["前台客服"], projects=[project])
        item = LostItem(project=project, name="雨伞", found_at=utcnow(), recorded_by=desk)
        session.add(item)
        session.flush()
        form = {"project": str(project.id), "name": "黑色雨伞", "found_at": "2026-11-20 09:30:00", "status": "held",
                "recorded_by": str(desk.id)}
        item_id = item.id
    browser = Browser(live_server.url)
    assert browser.log_in("editor") == 302
    _, page = browser.request("GET", f"/admin/lost-item/edit/{item_id}")
    form["version"] = re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)  # the form as opened
    started = time.monotonic()
    status, text = browser.request("POST", f"/admin/lost-item/edit/{item_id}", form)
    assert (status, time.monotonic() - started < 5) == (302, True), text[-1500:]
    with live_server.session_maker() as session:
        assert session.get(LostItem, item_id).name == "黑色雨伞"


def test_simultaneous_logins_all_succeed(live_server):  # noqa: F811
    names = [f"concurrent{i}" for i in range(USERS)]
    with live_server.session_maker.begin() as session:
        project = factories.project(session)
        for name in names:
            factories.user(session, username=name, roles=["前台客服"], projects=[project])
    ready = threading.Barrier(USERS)
    statuses: dict[str, int] = {}

    def log_in(name: str) -> None:
        server = urlsplit(live_server.url)
        conn = http.client.HTTPConnection(server.hostname, server.port, timeout=60)
        conn.request("GET", "/admin/login")
        page = conn.getresponse()
        token = page.read().decode().split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        cookie = SimpleCookie(page.headers["set-cookie"])
        form = urlencode({"username": name, "password": factories.PASSWORD, "csrf_token": token})
        ready.wait()
        conn.request("POST", "/admin/login", body=form, headers={
            "content-type": "application/x-www-form-urlencoded",
            "cookie": "; ".join(f"{k}={m.value}" for k, m in cookie.items())})
        response = conn.getresponse()
        response.read()
        statuses[name] = response.status
        conn.close()

    threads = [threading.Thread(target=log_in, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == {name: 302 for name in names}
    with live_server.session_maker() as session:
        logged = session.scalar(select(func.count()).select_from(LoginAttempt)
                                .where(LoginAttempt.username.in_(names), LoginAttempt.success.is_(True)))
    assert logged == USERS


def test_a_read_overtaken_by_a_write_is_run_again_with_the_write_lock(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ledger (entry TEXT)"))
    attempts = []

    def export(session, *, actor):
        """Reads, then writes its audit row; on the first try another user's write commits in between."""
        rows = session.scalar(text("SELECT count(*) FROM ledger"))
        attempts.append(rows)
        if len(attempts) == 1:
            with engine.begin() as other:
                other.execute(text("INSERT INTO ledger VALUES ('收款')"))
        session.execute(text("INSERT INTO ledger VALUES ('导出')"))
        return rows

    request = Request({"type": "http", "method": "GET", "headers": []})
    answer = {}
    # its own thread: the browser tests' driver keeps an event loop running in the main one
    worker = threading.Thread(target=lambda: answer.setdefault(
        "read", anyio.run(lambda: run_action(make_sessionmaker(engine), request, export))))
    worker.start()
    worker.join(30)
    assert (answer["read"], attempts) == (1, [0, 1])
    with engine.connect() as conn:
        assert conn.scalars(text("SELECT entry FROM ledger ORDER BY rowid")).all() == ["收款", "导出"]
    engine.dispose()


def _download(browser: Browser, path: str) -> tuple[int, bytes]:
    """The 导出 button's POST, from the list page it is on, whose answer may be a file (Browser.request reads
    pages as text)."""
    assert browser.request("GET", path.replace("/export/xlsx", "/list"))[0] == 200  # the page, and its token
    browser.conn.request("POST", path, body=urlencode({"csrf_token": browser.token}), headers={
        "cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
        "content-type": "application/x-www-form-urlencoded"})
    response = browser.conn.getresponse()
    return response.status, response.read()


def _export_files() -> set:
    """The .xlsx files where the console writes its exports."""
    import tempfile
    from pathlib import Path

    from admin.views import list_export

    folder = getattr(list_export, "EXPORT_DIR", Path(tempfile.gettempdir()))
    return set(folder.glob("*.xlsx")) if folder.exists() else set()


def _no_file_left(before: set) -> bool:
    """No export file but those there before (a sent file is removed just after its last byte went out)."""
    deadline = time.monotonic() + 10
    while not _export_files() <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    return _export_files() <= before


def _exports_logged(maker, table: str) -> int:
    with maker() as session:
        return session.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.kind == AuditKind.EXPORT, AuditLog.table_name == table))


def test_an_export_overtaken_by_another_users_write_waits_its_turn(live_server, monkeypatch):  # noqa: F811
    """Issue 14 item 3: an export reads its rows, then writes its audit row; someone's login committed in
    between, and SQLite refused the write at once (HTTP 500/503 「database is locked」, the temp file left
    behind). Now it runs once more holding the write lock: the file comes, one audit row, no file left."""
    from admin.views import list_export

    with live_server.session_maker.begin() as session:
        factories.user(session, username="exporter", superuser=True)
    real, tries = list_export.export_list, []

    def overtaken(session, **kwargs):
        session.scalar(select(func.count()).select_from(User))  # the export's read snapshot begins
        tries.append(1)
        if len(tries) == 1:  # another user's write commits before the export writes
            with live_server.session_maker.begin() as other:
                other.execute(update(User).where(User.username == "exporter").values(display_name="导出员"))
        return real(session, **kwargs)

    monkeypatch.setattr(list_export, "export_list", overtaken)
    before, logged = _export_files(), _exports_logged(live_server.session_maker, "user_account")
    browser = Browser(live_server.url)
    assert browser.log_in("exporter") == 302
    status, body = _download(browser, "/admin/user/export/xlsx")
    assert (status, body[:2], len(tries)) == (200, b"PK", 2)
    assert _exports_logged(live_server.session_maker, "user_account") == logged + 1
    assert _no_file_left(before)


def test_an_export_that_fails_leaves_no_file(live_server, monkeypatch):  # noqa: F811
    from admin.views import list_export

    with live_server.session_maker.begin() as session:
        factories.user(session, username="unlucky", superuser=True)

    def always_locked(session, *, path, **kwargs):
        path.write_bytes(b"half a workbook")
        raise OperationalError("INSERT INTO audit_log", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(list_export, "export_list", always_locked)
    before = _export_files()
    browser = Browser(live_server.url)
    assert browser.log_in("unlucky") == 302
    status, page = _download(browser, "/admin/user/export/xlsx")
    assert status == 503 and "请稍后重试" in page.decode() and "database is locked" not in page.decode()
    assert _no_file_left(before)


def test_exports_beside_logins_all_succeed(live_server):  # noqa: F811
    """The failing case as found: two users logging in again and again while a third exports."""
    with live_server.session_maker.begin() as session:
        for name in ("churn1", "churn2", "exporter2"):
            factories.user(session, username=name, superuser=True)
    stop, failures = threading.Event(), []

    def churn(name: str) -> None:
        while not stop.is_set():
            status = Browser(live_server.url).log_in(name)
            if status != 302:
                failures.append(status)

    threads = [threading.Thread(target=churn, args=(n,)) for n in ("churn1", "churn2")]
    for thread in threads:
        thread.start()
    try:
        browser = Browser(live_server.url)
        assert browser.log_in("exporter2") == 302
        statuses = [_download(browser, "/admin/user/export/xlsx")[0] for _ in range(4)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert (statuses, failures) == ([200] * 4, [])
