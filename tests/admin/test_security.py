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


# --- the database down, a connection dropped, a lock not had (RELIABILITY R02, B11; "clear Chinese 503") ------

def _unreachable_url(engine) -> str:
    """The test's own database, but where no server answers: a SQLite file in a directory that does not exist,
    a PostgreSQL port nobody listens on."""
    if engine.dialect.name == "sqlite":
        return "sqlite:////nonexistent-wuye-dir/down.db"
    return engine.url.set(port=1).render_as_string(hide_password=False).replace("+psycopg", "")


def test_a_database_that_cannot_be_reached_is_answered_503_in_chinese(engine, console, session, tmp_path):
    """The server stopped or the file gone: a logged-in user's page, a save and a login are each told in Chinese
    that the database cannot be reached (503, Retry-After), never a 500, the SQL or the driver's words."""
    from admin.app import create_app
    from admin.security import UNAVAILABLE
    from models.db import make_engine
    from tests.conftest import SECRET

    factories.user(session, username="boss", superuser=True)
    logged_in = console("boss")
    token = logged_in.csrf()
    down_engine = make_engine(_unreachable_url(engine))
    down = TestClient(create_app(down_engine, secret_key=SECRET, run_jobs="sync"), base_url="http://testserver",
                      raise_server_exceptions=False)
    down.cookies = logged_in.client.cookies  # the same browser, the database gone since its login
    before = _branches(session)
    answers = [down.get("/admin/customer/list"), down.get("/admin/"),
               down.post("/admin/branch/create", data={"name": "断线分公司", "company": "测试物业", "csrf_token": token}),
               down.post("/admin/login", data={"username": "boss", "password": factories.PASSWORD, "csrf_token": token})]
    for response in answers:
        assert (response.status_code, response.headers.get("retry-after")) == (503, "5"), response.text[:300]
        assert UNAVAILABLE in response.text
        assert not re.search(r"Traceback|OperationalError|psycopg|sqlite3|connection to server|SELECT ", response.text)
    assert _branches(session) == before
    down_engine.dispose()


def test_a_connection_dropped_or_a_lock_not_had_is_a_503_and_a_mistake_in_sql_still_a_500(engine):
    """Real driver errors, classified by the one handler: the server ending the connection mid-request (PostgreSQL)
    or the file unreadable (SQLite) → 「无法连接」; a lock not had within ``lock_timeout`` → 「数据库正忙」; a statement
    that is wrong is the program's fault and stays a 500 — still without its SQL."""
    from sqlalchemy import text as sql
    from sqlalchemy.exc import DBAPIError

    from admin.security import SAVING, UNAVAILABLE, database_refusal
    from models.db import make_engine

    def error_of(run) -> DBAPIError:
        try:
            run()
        except DBAPIError as exc:
            return exc
        raise AssertionError("no database error")

    with engine.connect() as conn:
        wrong = error_of(lambda: conn.execute(sql("SELECT * FROM no_such_table_here")))
    assert database_refusal(wrong)[0] == 500

    if engine.dialect.name == "sqlite":
        missing = make_engine("sqlite:////nonexistent-wuye-dir/down.db")
        assert database_refusal(error_of(lambda: missing.connect().execute(sql("SELECT 1")))) == (503, UNAVAILABLE)
        missing.dispose()
        return

    with engine.connect() as holder, engine.connect() as victim:
        holder.begin()
        holder.execute(sql("LOCK TABLE branch IN ACCESS EXCLUSIVE MODE"))
        victim.begin()
        victim.execute(sql("SET LOCAL lock_timeout = '50ms'"))
        assert database_refusal(error_of(lambda: victim.execute(sql("SELECT count(*) FROM branch"))))[:2] == (503, SAVING)
        victim.rollback()
        holder.rollback()
        pid = victim.execute(sql("SELECT pg_backend_pid()")).scalar()
        holder.execute(sql("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        holder.rollback()
        dropped = error_of(lambda: victim.execute(sql("SELECT 1")))
        assert database_refusal(dropped) == (503, UNAVAILABLE)


def test_a_form_past_the_parsers_bounds_is_refused_in_chinese(console, session):
    """A field over 1 MB, over 1,000 fields, a part without a name: Starlette's parser said so in English
    ("Field exceeded maximum size of 1024KB."); the page says it in Chinese, at login and on a save, and nothing is
    written."""
    factories.user(session, username="boss", superuser=True)
    c = console("boss")
    token = c.csrf()
    before = _branches(session)
    big = "长" * 400_000  # 1.2 MB in UTF-8, under the 10 MB body limit
    many = [("name", "分公司"), ("csrf_token", token)] + [(f"f{n}", "x") for n in range(1_100)]
    nameless = b'--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n'
    answers = {
        "field": c.client.post("/admin/branch/create", data={"name": big, "company": "测试物业", "csrf_token": token}),
        "login": c.client.post("/admin/login", data={"username": "boss", "password": big, "csrf_token": token}),
        "fields": c.client.post("/admin/branch/create", content="&".join(f"{k}={v}" for k, v in many).encode(),
                                headers={"content-type": "application/x-www-form-urlencoded"}),
        "multipart": c.client.post("/admin/branch/create", data={"name": big, "csrf_token": token},
                                   files={"attachment": ("a.txt", b"x", "text/plain")}),
        "nameless": c.client.post("/admin/branch/create", content=nameless,
                                  headers={"content-type": "multipart/form-data; boundary=b", "x-csrf-token": token}),
    }
    expected = {"field": "每项上限 1,024 KB", "login": "每项上限 1,024 KB", "fields": "表单项过多（上限 1,000 项）",
                "multipart": "每项上限 1,024 KB", "nameless": "表单格式无效"}
    for case, response in answers.items():
        assert response.status_code == 400, (case, response.status_code)
        assert expected[case] in response.text, (case, response.text[-800:])
        assert not re.search(r"exceeded|Too many|Content-Disposition|boundary|multipart data", response.text), case
    assert _branches(session) == before


def test_a_fault_of_the_program_is_a_page_in_chinese_without_its_words(app, session):
    """Whatever a view raises that no handler knows: 500 with the console's page in Chinese — not Starlette's
    English "Internal Server Error", not the exception's text (which may quote a value)."""
    from admin.security import FAULT

    async def broken(request):
        raise KeyError("13812345678 张伟")

    app.state.admin.admin.add_route("/broken-for-test", broken)
    response = TestClient(app, raise_server_exceptions=False).get("/admin/broken-for-test")
    assert response.status_code == 500
    assert FAULT in response.text and 'lang="zh-CN"' in response.text
    assert not re.search(r"Internal Server Error|KeyError|13812345678|Traceback", response.text)


def test_paths_outside_the_console_answer_in_chinese(app):
    """``/``, ``/static/wuye`` and unknown paths are Starlette's own: they said "Not Found", "Method Not Allowed"."""
    client = TestClient(app, raise_server_exceptions=False)
    answers = {"/robots.txt": client.get("/robots.txt"), "/static/wuye/js/nope.js": client.get("/static/wuye/js/nope.js"),
               "POST /": client.post("/")}
    assert {k: r.status_code for k, r in answers.items()} == {"/robots.txt": 404, "/static/wuye/js/nope.js": 404,
                                                              "POST /": 405}
    assert [r.text for r in answers.values()] == ["页面不存在", "页面不存在", "不支持该请求方式"]
    assert set(answers["POST /"].headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_a_save_overtaken_by_another_is_answered_409_in_chinese_not_500(console, session, monkeypatch):
    """A row's version moved between an action's read and its save (another app process saved it first) raised
    StaleDataError, answered HTTP 500 「数据库出错」 when the action did not turn it into its own refusal: it is the
    console's 「已被他人修改，请刷新后重试」 (409), nothing saved, no SQL or driver words."""
    from sqlalchemy.orm.exc import StaleDataError

    from models import OperationLog

    def overtaken(*args, **kwargs):
        raise StaleDataError("UPDATE statement on table 'corrective_action' expected to update 1 row(s); 0 were matched.")

    monkeypatch.setattr("admin.views.spreadsheets.complete_corrective_action", overtaken)
    factories.user(session, username="boss", superuser=True)
    logs = session.scalar(select(func.count()).select_from(OperationLog))
    response = console("boss").post("/admin/survey-results/1", data={"action_id": "1", "step": "complete"})
    assert response.status_code == 409, response.text[:300]
    assert "已被他人修改，请刷新后重试（没有保存任何内容）" in response.text
    assert not re.search(r"Traceback|StaleDataError|corrective_action|UPDATE ", response.text)
    assert session.scalar(select(func.count()).select_from(OperationLog)) == logs
