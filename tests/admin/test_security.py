"""CSRF, security headers and the body ceiling (RELIABILITY C01–C04, X15)."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from starlette.testclient import TestClient

from models import Branch, LoginAttempt
from tests import factories
from tests.browser_support import live_server  # noqa: F401  (fixture)
from tests.conftest import Console


def _branches(session) -> int:
    return session.scalar(select(func.count()).select_from(Branch))


def test_cross_site_post_without_token_is_refused(console, session):
    factories.user(session, username="boss", superuser=True)
    c = console("boss")
    before = _branches(session)
    response = c.client.post("/admin/branch/create", data={"name": "跨站分公司"}, follow_redirects=False)
    assert response.status_code == 403
    assert _branches(session) == before


def test_post_with_token_creates(console, session):
    factories.user(session, username="boss", superuser=True)
    c = console("boss")
    before = _branches(session)
    response = c.post("/admin/branch/create", {"name": "华东分公司", "company": "测试物业"})
    assert response.status_code == 302, response.text[:500]
    assert _branches(session) == before + 1


def test_delete_without_token_is_refused(console, session):
    factories.user(session, username="boss", superuser=True)
    row = factories.branch(session, name="待删分公司")
    c = console("boss")
    response = c.client.delete(f"/admin/branch/delete?pks={row.id}")
    assert response.status_code == 403
    assert session.get(Branch, row.id) is not None


def test_token_of_another_session_is_refused(app, console, session):
    factories.user(session, username="boss", superuser=True)
    factories.user(session, username="boss2", superuser=True)
    victim, attacker = console("boss"), console("boss2")
    foreign = attacker.csrf()
    before = _branches(session)
    response = victim.client.post("/admin/branch/create", data={"name": "伪造", "csrf_token": foreign},
                                  follow_redirects=False)
    assert response.status_code == 403
    assert _branches(session) == before


def test_security_headers_on_every_page(app):
    response = TestClient(app).get("/admin/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_session_cookie_flags(app, session):
    factories.user(session, username="boss", superuser=True)
    c = Console(TestClient(app, base_url="http://testserver"))
    response = c.login("boss", factories.PASSWORD)
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()


def test_oversized_body_is_refused_before_reading(app):
    body = b"x" * (11 * 1024 * 1024)
    response = TestClient(app).post("/admin/login", content=body,
                                    headers={"content-type": "application/octet-stream"})
    assert response.status_code == 413


def test_assets_are_local(console, session):
    factories.user(session, username="boss", superuser=True)
    page = console("boss").get("/admin/").text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls
    for url in urls:
        assert url.startswith(("/", "http://testserver/", "#")), url


def test_head_of_the_login_page_answers_200_and_logs_no_one_in(app, session):
    before = session.scalar(select(func.count()).select_from(LoginAttempt))
    response = TestClient(app).head("/admin/login")
    assert response.status_code == 200
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == before


def test_no_redirect_is_built_on_the_host_header(app, session):
    """Q02: ``Host: evil.example`` made the redirect to the login page point there."""
    client = TestClient(app, base_url="http://evil.example")
    for path in ("/admin/", "/admin/customer/list", "/"):
        location = client.get(path, follow_redirects=False).headers["location"]
        assert location.startswith("/") and "evil.example" not in location, location
    factories.user(session, username="hosted", superuser=True)
    c = Console(client)
    assert c.login("hosted", factories.PASSWORD).headers["location"] == "/admin/"


def test_allowed_hosts_refuse_any_other_host(session_maker):
    from admin.app import create_app
    from tests.conftest import SECRET

    app = create_app(session_maker=session_maker, secret_key=SECRET, allowed_hosts=["console.example.com", "*.wuye.cn"])
    assert TestClient(app, base_url="http://console.example.com").get("/admin/login").status_code == 200
    assert TestClient(app, base_url="http://a.wuye.cn:8443").get("/admin/login").status_code == 200
    refused = TestClient(app, base_url="http://evil.example").get("/admin/login")
    assert refused.status_code == 400 and "主机名" in refused.text


def test_the_session_cookie_is_secure_over_https(app, session):
    factories.user(session, username="tls", superuser=True)
    over_tls = Console(TestClient(app, base_url="https://testserver"))
    assert "secure" in over_tls.login("tls", factories.PASSWORD).headers["set-cookie"].lower()
    assert over_tls.get("/admin/").status_code == 200
    plain = Console(TestClient(app, base_url="http://testserver"))
    assert "secure" not in plain.login("tls", factories.PASSWORD).headers["set-cookie"].lower()


def test_a_200_mb_chunked_body_is_refused_with_413(live_server):  # noqa: F811
    """Q02/X15: no Content-Length to refuse by; the body is counted as it streams in, whoever reads it (a form
    read by the input guard, a login, an upload) — never a 500."""
    import http.client
    from urllib.parse import urlsplit

    server = urlsplit(live_server.url)
    chunk = b"a" * (1 << 20)
    for path, content_type in (("/admin/login", "application/x-www-form-urlencoded"),
                               ("/admin/customer/import", "multipart/form-data; boundary=xyz"),
                               ("/admin/login", "application/octet-stream")):
        conn = http.client.HTTPConnection(server.hostname, server.port, timeout=120)
        conn.putrequest("POST", path)
        conn.putheader("transfer-encoding", "chunked")
        conn.putheader("content-type", content_type)
        conn.endheaders()
        try:
            for _ in range(200):
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except OSError:  # the server answered and closed before the last megabyte: as it should
            pass
        response = conn.getresponse()
        status, text = response.status, response.read().decode()
        conn.close()
        # a body nobody reads (not a form) is never taken in: refused for its missing token instead
        assert status in ((413,) if "form" in content_type else (403, 413)), (path, status, text[:200])
        assert status != 413 or "上传内容过大" in text
