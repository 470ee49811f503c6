"""Login, throttling and session revocation (RELIABILITY L01–L05)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

import admin.auth
from models import AuditKind, AuditLog, LoginAttempt
from tests import factories
from tests.conftest import Console


def _client(app) -> Console:
    return Console(TestClient(app, base_url="http://testserver"))


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_login_succeeds_and_is_audited(app, session):
    factories.user(session, username="wang", superuser=True)
    c = _client(app)
    response = c.login("wang", factories.PASSWORD)
    assert response.status_code == 302
    assert c.get("/admin/").status_code == 200
    assert _count(session, AuditLog, AuditLog.kind == AuditKind.LOGIN, AuditLog.summary.contains("wang")) == 1
    assert _count(session, LoginAttempt, LoginAttempt.username == "wang", LoginAttempt.success.is_(True)) == 1
    # one record of the login: not also a 修改账号 row for its last-login timestamp
    assert _count(session, AuditLog, AuditLog.table_name == "user_account", AuditLog.kind == AuditKind.UPDATE) == 0


def test_wrong_password_is_refused_in_chinese_and_logged(app, session):
    factories.user(session, username="li", superuser=True)
    c = _client(app)
    response = c.login("li", "wrong-password")
    assert response.status_code == 400
    assert "用户名或密码错误" in response.text
    assert c.get("/admin/", follow_redirects=False).status_code == 302
    assert _count(session, AuditLog, AuditLog.kind == AuditKind.LOGIN_FAILED) == 1


def test_sixth_try_is_locked_even_with_the_right_password(app, session):
    factories.user(session, username="zhao", superuser=True)
    factories.user(session, username="qian", superuser=True)
    c = _client(app)
    for _ in range(5):
        assert c.login("zhao", "bad-password").status_code == 400
    locked = c.login("zhao", factories.PASSWORD)
    assert locked.status_code == 400
    assert "锁定" in locked.text
    # another account from the same address is not affected
    assert _client(app).login("qian", factories.PASSWORD).status_code == 302
    assert _count(session, LoginAttempt, LoginAttempt.username == "zhao", LoginAttempt.success.is_(False)) == 6


def test_many_usernames_from_one_address_are_throttled(app, session):
    factories.user(session, username="sun", superuser=True)
    c = _client(app)
    for i in range(20):
        assert c.login(f"nobody{i}", "whatever-pass").status_code == 400
    refused = c.login("sun", factories.PASSWORD)
    assert refused.status_code == 400
    assert "该地址" in refused.text


def _age(session, username: str, seconds: int) -> None:
    """The account's attempts so far, as if made ``seconds`` ago (within the 15-minute window still)."""
    from models import utcnow

    session.execute(LoginAttempt.__table__.update().where(LoginAttempt.username == username)
                    .values(at=utcnow() - dt.timedelta(seconds=seconds)))


def _at(app, address: str) -> Console:
    return Console(TestClient(app, base_url="http://testserver", client=(address, 40000)))


def test_an_outsider_cannot_keep_staff_locked_out(app, session):
    """Issue 14 item 10: any five wrong passwords locked a known account for 15 minutes, for everyone — one
    outsider could keep a colleague out all day. The lock now holds the outsider's address only; the colleague,
    at a desk she logged in from before, gets in; a new address meets a short, growing delay, never a lock."""
    factories.user(session, username="zhou", superuser=True)
    desk, outsider, laptop = "10.0.0.21", "203.0.113.9", "198.51.100.7"
    assert _at(app, desk).login("zhou", factories.PASSWORD).status_code == 302
    guesser = _at(app, outsider)
    answers = [guesser.login("zhou", f"guess-{i}") for i in range(8)]
    assert [a.status_code for a in answers] == [400] * 8
    assert all("锁定" in a.text for a in answers[5:]) and not any("锁定" in a.text for a in answers[:5])
    assert "锁定" in guesser.login("zhou", factories.PASSWORD).text  # the outsider's lock holds, right password or not
    assert _at(app, desk).login("zhou", factories.PASSWORD).status_code == 302
    waiting = _at(app, laptop).login("zhou", factories.PASSWORD)
    seconds = int(re.search(r"请 (\d+) 秒后再试", waiting.text).group(1))
    assert waiting.status_code == 400 and 1 <= seconds <= 60
    # once the delay has passed, the new address gets in with the right password
    _age(session, "zhou", 61)
    assert _at(app, laptop).login("zhou", factories.PASSWORD).status_code == 302
    assert _count(session, LoginAttempt, LoginAttempt.username == "zhou", LoginAttempt.success.is_(True)) == 3


def test_the_wait_grows_with_the_failures_and_is_capped(session):
    from actions.accounts import MAX_ACCOUNT_DELAY, LoginRefused, check_login

    factories.user(session, username="wu")
    for i in range(12):  # guesses from twelve addresses, none locked on its own
        with pytest.raises(LoginRefused):
            check_login(session, "wu", "bad-guess", ip=f"192.0.2.{i}")
        _age(session, "wu", MAX_ACCOUNT_DELAY + 1)
    with pytest.raises(LoginRefused, match="用户名或密码错误"):
        check_login(session, "wu", "bad-guess", ip="192.0.2.99")  # the delay had passed: the password is checked
    with pytest.raises(LoginRefused) as refused:
        check_login(session, "wu", factories.PASSWORD, ip="192.0.2.100")
    assert f"请 {MAX_ACCOUNT_DELAY} 秒后再试" in refused.value.message
    assert _count(session, LoginAttempt, LoginAttempt.username == "wu", LoginAttempt.success.is_(True)) == 0


def test_unknown_user_costs_a_password_check_too(session):
    from actions.accounts import LoginRefused, check_login

    factories.user(session, username="zhou", superuser=True)

    def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            try:
                check_login(session, username, "bad-password-1", ip=f"10.9.9.{len(times)}")
            except LoginRefused:
                pass
            times.append(time.perf_counter() - t0)
        return min(times)

    # Both run one Argon2 verification: the answer's timing does not tell which usernames exist (L02).
    assert fastest("no-such-user") > fastest("zhou") / 3

def test_cookie_from_before_login_is_not_a_session(app, session):
    factories.user(session, username="wu", superuser=True)
    c = _client(app)
    c.get("/admin/login")
    before = dict(c.client.cookies)
    assert c.login("wu", factories.PASSWORD).status_code == 302
    stale = TestClient(app, base_url="http://testserver", cookies=before)
    assert stale.get("/admin/", follow_redirects=False).status_code == 302


def test_logout_needs_post_and_revokes_the_cookie(app, session):
    factories.user(session, username="zheng", superuser=True)
    c = _client(app)
    c.login("zheng", factories.PASSWORD)
    cookies = dict(c.client.cookies)
    page = c.get("/admin/logout")
    assert page.status_code == 200 and "退出登录" in page.text
    assert c.get("/admin/", follow_redirects=False).status_code == 200  # GET changed nothing
    assert c.client.post("/admin/logout", follow_redirects=False).status_code == 403  # no token
    assert c.post("/admin/logout").status_code == 302
    replay = TestClient(app, base_url="http://testserver", cookies=cookies)
    assert replay.get("/admin/", follow_redirects=False).status_code == 302
    assert _count(session, AuditLog, AuditLog.kind == AuditKind.LOGOUT) == 1


def test_password_change_and_disable_revoke_sessions(app, session):
    from actions.accounts import disable_user, set_password
    from actions.actor import SYSTEM

    factories.user(session, username="feng", superuser=True)
    factories.user(session, username="chen", superuser=True)
    a, b = _client(app), _client(app)
    a.login("feng", factories.PASSWORD)
    b.login("chen", factories.PASSWORD)
    set_password(session, username="feng", password="another-pass-9", actor=SYSTEM)
    disable_user(session, username="chen", actor=SYSTEM)
    session.flush()
    assert a.get("/admin/", follow_redirects=False).status_code == 302
    assert b.get("/admin/", follow_redirects=False).status_code == 302
    assert _client(app).login("chen", factories.PASSWORD).status_code == 400


def test_idle_and_absolute_timeouts(app, session, monkeypatch):
    factories.user(session, username="jiang", superuser=True)
    c = _client(app)
    c.login("jiang", factories.PASSWORD)
    now = time.time()
    monkeypatch.setattr(admin.auth, "clock", lambda: int(now) + 31 * 60)
    assert c.get("/admin/", follow_redirects=False).status_code == 302

    c = _client(app)
    monkeypatch.setattr(admin.auth, "clock", lambda: int(now))
    c.login("jiang", factories.PASSWORD)
    for minutes in range(25, 12 * 60, 25):  # active a whole front-desk shift, never idle for 30 minutes
        monkeypatch.setattr(admin.auth, "clock", lambda m=minutes: int(now) + m * 60)
        page = c.get("/admin/", follow_redirects=False)
        assert page.status_code == 200, (minutes, page.status_code, page.text[:300])
    monkeypatch.setattr(admin.auth, "clock", lambda: int(now) + 12 * 3600 + 60)
    assert c.get("/admin/", follow_redirects=False).status_code == 302


def test_the_session_cookie_stays_small_whatever_lists_the_user_searches(app, session, monkeypatch):
    """Browsers drop a cookie over 4 KB: if list parameters were kept in it, a user searching lists all day
    would stop refreshing ``seen_at`` and be logged out as idle while working."""
    from sqladmin import ModelView

    factories.user(session, username="sun", superuser=True)
    c = _client(app)
    now = time.time()
    monkeypatch.setattr(admin.auth, "clock", lambda: int(now))
    c.login("sun", factories.PASSWORD)
    lists = [v.identity for v in app.state.admin._views if isinstance(v, ModelView) and v.column_searchable_list]
    sizes = []
    for i in range(100):  # 100 × 20 s: idle-logged-out halfway unless every view refreshes seen_at
        monkeypatch.setattr(admin.auth, "clock", lambda i=i: int(now) + (i + 1) * 20)
        search = f"锦绣华庭{i}号楼·张伟的报修（{'漏水' * (i % 7 + 1)}）"
        response = c.get(f"/admin/{lists[i % len(lists)]}/list", params={"search": search},
                         follow_redirects=False)
        assert response.status_code == 200, (i, lists[i % len(lists)], response.headers.get("location"))
        sizes.append(len(c.client.cookies["wuye_session"]))
    assert max(sizes) < 2048, max(sizes)
    assert len(set(sizes)) <= 2  # only seen_at changes


def test_forwarded_address_is_believed_only_from_a_trusted_proxy(session, session_maker):
    """Behind a proxy on another host every request comes from the proxy: login throttling must count the
    address it forwards — but only a trusted proxy's, or anyone could pick the address their tries count to."""
    from admin.app import create_app
    from tests.conftest import SECRET

    factories.user(session, username="proxied", superuser=True)
    app = create_app(session_maker=session_maker, secret_key=SECRET, trusted_proxies="10.0.0.0/8")
    forwarded = {"x-forwarded-for": "192.0.2.10", "x-forwarded-proto": "https"}
    locations, cookies = {}, {}
    for sender in ("10.1.2.3", "192.0.2.66"):  # the proxy; a client claiming to be someone else
        # plain HTTP to the app: whether the cookie is Secure depends on whom the app believes said "https"
        page = TestClient(app, base_url="http://testserver", client=(sender, 40000), headers=forwarded)
        cookies[sender] = page.get("/admin/login").headers["set-cookie"]
        base = "https" if sender == "10.1.2.3" else "http"  # a browser sends a Secure cookie over HTTPS only
        c = Console(TestClient(app, base_url=f"{base}://testserver", client=(sender, 40000), headers=forwarded))
        locations[sender] = c.login("proxied", factories.PASSWORD).headers["location"]
    ips = session.scalars(select(LoginAttempt.ip).where(LoginAttempt.username == "proxied").order_by(LoginAttempt.id))
    assert list(ips) == ["192.0.2.10", "192.0.2.66"]
    # the proxy said HTTPS: the session cookie is Secure; the other sender's "https" is not believed
    assert {k: "secure" in v.lower() for k, v in cookies.items()} == {"10.1.2.3": True, "192.0.2.66": False}
    assert set(locations.values()) == {"/admin/"}  # never a URL built on the Host header


def test_the_absolute_limit_is_configurable_and_pages_say_how_long_is_left(session_maker, session, monkeypatch):
    from admin.app import create_app

    factories.user(session, username="shift", superuser=True)
    monkeypatch.setenv("WUYE_SESSION_MAX_HOURS", "9")
    c = _client(create_app(session_maker=session_maker, secret_key="s" * 40))
    c.login("shift", factories.PASSWORD)
    clock = json.loads(html.unescape(re.search(r'<meta name="wuye-session" content="([^"]+)"', c.get("/admin/").text)[1]))
    assert clock["idle"] == 30 * 60 and clock["hours"] == 9 and 9 * 3600 - 60 <= clock["left"] <= 9 * 3600
    assert clock["user"] == "shift" and clock["ping"].endswith("/admin/session/ping")
    pinged = c.get("/admin/session/ping", headers={"Accept": "application/json"}).json()
    assert pinged["ok"] and pinged["csrf"] and pinged["hours"] == 9
    now = time.time()
    monkeypatch.setattr(admin.auth, "clock", lambda: int(now) + 9 * 3600 + 60)
    assert c.get("/admin/session/ping", follow_redirects=False).status_code == 302  # ended: to the login
    for wrong in ("0", "25", "abc"):
        monkeypatch.setenv("WUYE_SESSION_MAX_HOURS", wrong)
        with pytest.raises(ValueError, match="WUYE_SESSION_MAX_HOURS"):
            create_app(session_maker=session_maker, secret_key="s" * 40)
