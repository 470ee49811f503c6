"""CSRF, security headers and the body ceiling (RELIABILITY C01–C04, X15)."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from starlette.testclient import TestClient

from models import Branch
from tests import factories
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
