"""HTTP hardening around the whole app: security headers, a request-body ceiling (X15), no NUL or invalid UTF-8
in any input (Q01), and database errors answered in Chinese without their SQL or values."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_to_bytes, urlsplit, urlunsplit

from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actions.errors import NotPermitted, Refused
from actions.jobs import JobBusy
from actions.records import CONFLICT_MESSAGE
from models.db import is_busy, is_contended, is_lock_timeout, is_unavailable

BUSY = "系统繁忙，当前访问人数较多，请稍候几秒再试"
SAVING = "数据库正忙（其他人正在保存），请稍后重试"
FAULT = "系统出错，请求未能完成；请稍后重试，或联系管理员"
UNAVAILABLE = "数据库暂时无法连接，操作未完成（没有保存任何内容）；请稍后重试，或联系管理员"
MAX_BODY_BYTES = 10 * 1024 * 1024

# Only our own assets: sqladmin's statics and ours are served locally; inline styles are used by
# sqladmin's templates, inline scripts are not allowed.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeadersMiddleware:
    """Security headers on every answer, and two things sqladmin and Starlette build from the request:

    - a redirect to our own host is made relative: ``request.url_for`` builds absolute URLs from the Host header,
      which the client chooses — ``Host: evil.example`` would send the user there (Q02);
    - over HTTPS (the scheme a trusted proxy's X-Forwarded-Proto named, admin.app) cookies are marked ``Secure``,
      so a browser never sends the session over plain HTTP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in HEADERS.items():
                    headers.setdefault(key, value)
                if scope["path"].startswith("/admin") and "/statics/" not in scope["path"]:
                    headers.setdefault("cache-control", "no-store")
                if "location" in headers:
                    headers["location"] = _relative(headers["location"], host)
                if scope.get("scheme") == "https":
                    _secure_cookies(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _relative(location: str, host: str) -> str:
    """``http://<the request's host>/admin/x?y`` → ``/admin/x?y``; a redirect elsewhere is left as it is."""
    parts = urlsplit(location)
    if not parts.netloc or parts.netloc.lower() != host.lower():
        return location
    return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def _secure_cookies(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        secure = any(part.strip().lower() == "secure" for part in cookie.split(";"))
        headers.append("set-cookie", cookie if secure else cookie + "; secure")


class AllowedHostsMiddleware:
    """With ``WUYE_ALLOWED_HOSTS`` set (``console.example.com,*.example.com``), a request naming any other host
    is refused, 400 in Chinese, before anything reads it: no page or link is ever built on a host the operator
    did not name. Unset, every host is answered (redirects are relative all the same)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = [name.strip().lower() for name in allowed if name.strip()]

    def allows(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host  # without the port; [::1] as is
        name = name.lower()
        return any(name == pattern or pattern.startswith("*.") and name.endswith(pattern[1:])
                   for pattern in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.allowed and not self.allows(
                Headers(scope=scope).get("host", "")):
            await PlainTextResponse("请求的主机名不在允许范围内（WUYE_ALLOWED_HOSTS），已拒绝", status_code=400)(
                scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses a body larger than the limit with 413, from Content-Length or while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PlainTextResponse("上传内容过大（上限 10 MB）", status_code=413)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await too_large(scope, receive, send)


class BodyTooLarge(Exception):
    pass


BAD_INPUT = "请求含有无效字符（空字符或无效的 UTF-8 编码），已拒绝"
FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")


def _bad_bytes(value: bytes) -> bool:
    """A NUL, or bytes that are not UTF-8: no field of ours takes either."""
    if b"\x00" in value:
        return True
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _bad_query(query: bytes) -> bool:
    return any(_bad_bytes(unquote_to_bytes(part.replace(b"+", b" ")))
               for pair in query.split(b"&") for part in pair.split(b"=", 1))


def _bad_form(content_type: bytes, body: bytes) -> bool:
    if content_type.lower().startswith(FORM_TYPES[0]):
        return _bad_query(body)
    boundary = content_type.partition(b"boundary=")[2].split(b";")[0].strip(b'"')
    if not boundary:
        return False
    for part in body.split(b"--" + boundary):
        headers, _, value = part.partition(b"\r\n\r\n")
        if b"filename=" not in headers and _bad_bytes(value.removesuffix(b"\r\n")):
            return True  # a file is whatever it is; a text field is text
    return False


class InputGuardMiddleware:
    """Refuses, with 400 in Chinese, a NUL or invalid UTF-8 in the path, the query or a form field (RELIABILITY
    Q01) before any view reads it: PostgreSQL cannot store a NUL, and a value half-decoded would be saved
    silently changed. A form body is read here (the body limit still applies) and handed on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = PlainTextResponse(BAD_INPUT, status_code=400)
        if "\x00" in scope["path"] or _bad_query(scope.get("query_string", b"")):
            await refused(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")  # the boundary is case-sensitive
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE") or not content_type.lower().startswith(FORM_TYPES):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:  # the whole form, as the view would read it anyway
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _bad_form(content_type, body):
            await refused(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# --- database errors ------------------------------------------------------------------------------------------

log = logging.getLogger("wuye.errors")


def database_refusal(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, Chinese message) for an error the database raised on a request's values: never its SQL,
    its parameters (a password hash, a phone number …) or the driver's words, which quote the values."""
    if isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError | ValueError):
        exc = exc.orig  # a value the driver could not bind (a date past its calendar), raised before any SQL ran
    if isinstance(exc, OverflowError | DataError):
        return 400, "请求中的数值超出范围或格式无效，已拒绝（没有保存任何内容）"
    if isinstance(exc, StaleDataError):  # a row's version moved under a save no action turned into its refusal
        return 409, f"{CONFLICT_MESSAGE}（没有保存任何内容）"
    if isinstance(exc, OperationalError) and is_lock_timeout(exc) or is_contended(exc):
        return 503, SAVING
    if is_busy(exc):  # every connection of the process in use past the pool's wait (WUYE_DB_POOL_TIMEOUT)
        return 503, BUSY
    if is_unavailable(exc):  # the server down, restarting, the connection dropped: nothing the request did
        return 503, UNAVAILABLE
    return 500, "数据库出错，操作未完成（没有保存任何内容）；请稍后重试，或联系管理员"


def log_database_error(request: Request, exc: BaseException, status: int) -> None:
    """The error's kind and SQLSTATE, the request's method and path: enough to find it, nothing personal."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or ""
    log.warning("%s %s → %d: %s%s%s", request.method, request.url.path, status, type(exc).__name__,
                f" ({type(orig).__name__})" if orig is not None else "", f" SQLSTATE {code}" if code else "")


def refusal_status(refused: Refused) -> int:
    if isinstance(refused, JobBusy):
        return 409  # the same run is under way: nothing wrong with the request itself
    return 403 if isinstance(refused, NotPermitted) else 400


# Starlette's form parser refuses a form past its bounds in English, numbers inside ("Field exceeded maximum size
# of 1024KB."): said in Chinese here, with the bound it names.
FORM_BOUNDS = (
    (re.compile(r"(?:Field|Part) exceeded maximum size of (\d+)KB"), "表单中有一项内容过长（每项上限 {} KB），已拒绝（没有保存任何内容）"),
    (re.compile(r"Too many fields\. Maximum number of fields is (\d+)"), "表单项过多（上限 {} 项），已拒绝（没有保存任何内容）"),
    (re.compile(r"Too many files\. Maximum number of files is (\d+)"), "一次上传的文件过多（上限 {} 个），已拒绝（没有保存任何内容）"),
    (re.compile(r"Content-Disposition|Missing boundary|Invalid multipart data"), "表单格式无效，已拒绝（没有保存任何内容）"),
)


def form_bound_message(detail: object) -> str | None:
    for pattern, message in FORM_BOUNDS:
        match = pattern.search(detail) if isinstance(detail, str) else None
        if match:
            return message.format(*(f"{int(n):,}" for n in match.groups()))
    return None


def install_error_pages(admin_app: Starlette) -> None:
    """Refusals and database errors no view caught become the console's error page in Chinese (400 for a value out of
    range, 503 while the database is busy or cannot be reached), never a 500 with the SQL in it (RELIABILITY Q01)."""
    render = admin_app.exception_handlers[HTTPException]

    async def database_error(request: Request, exc: Exception) -> Response:
        status, message = database_refusal(exc)
        log_database_error(request, exc, status)
        response = await render(request, HTTPException(status_code=status, detail=message))
        if status == 503:
            response.headers["retry-after"] = "5"
        return response

    async def refusal(request: Request, exc: Exception) -> Response:
        # A page that only shows a refusal (no form to keep) lets it rise to here: the one place that turns a
        # typed refusal into its Chinese message and status (400, or 403 for NotPermitted).
        assert isinstance(exc, Refused)
        return await render(request, HTTPException(status_code=refusal_status(exc), detail=exc.message))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = form_bound_message(exc.detail)
        if message:
            exc = HTTPException(status_code=exc.status_code, detail=message, headers=exc.headers)
        return await render(request, exc)

    for kind in (OverflowError, SQLAlchemyError):
        admin_app.add_exception_handler(kind, database_error)
    admin_app.add_exception_handler(Refused, refusal)
    async def server_error(request: Request, exc: Exception) -> Response:
        # A fault of the program itself: still a page in Chinese, never Starlette's English "Internal Server
        # Error" or the exception's words; the server's log keeps the traceback (the exception is raised on).
        try:
            return await render(request, HTTPException(status_code=500, detail=FAULT))
        except Exception:  # the page itself could not be drawn
            return PlainTextResponse(FAULT, status_code=500)

    admin_app.add_exception_handler(HTTPException, http_error)
    admin_app.add_exception_handler(Exception, server_error)


# Outside /admin (``/``, ``/static/wuye``) Starlette answers in English ("Not Found", "Method Not Allowed"): said in
# Chinese there too, as plain text — those paths have no console page to draw.
PLAIN_WORDS = {400: "请求无效，已拒绝", 403: "没有权限", 404: "页面不存在", 405: "不支持该请求方式",
               413: "上传内容过大（上限 10 MB）"}


async def _plain_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = form_bound_message(exc.detail) or PLAIN_WORDS.get(exc.status_code, "请求无法完成")
    return PlainTextResponse(message, status_code=exc.status_code, headers=exc.headers)


async def _plain_fault(_request: Request, _exc: Exception) -> Response:
    return PlainTextResponse(FAULT, status_code=500)


OUTER_ERROR_HANDLERS = {HTTPException: _plain_http_error, Exception: _plain_fault}
