"""Login, sessions and CSRF for the console.

The session is a signed cookie (HttpOnly, SameSite=strict) holding the user id, the user's session epoch,
a CSRF token and login/last-seen times. Each request re-reads the user: a bumped epoch (logout, password
change, disable) voids every older cookie (L04); 30 minutes idle or ``WUYE_SESSION_MAX_HOURS`` (default 12, a
front-desk shift) since login end it (L05). Pages tell the browser how long the session has left
(``session_clock``): static/wuye/js/session.js warns before the end and, after it, asks for the password again
and completes the submit the user made, so a typed form is never lost.
Every unsafe request must carry the session's CSRF token, as a form field or an ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
from dataclasses import replace

import anyio
from sqladmin.authentication import AuthenticationBackend
from sqladmin.authorization import GrantsAuthorizationBackend
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions.accounts import LoginRefused, check_login, grants_of
from actions.actor import Actor, actor_for_user, current_actor
from actions.audit import log_event
from models import AuditKind, User

IDLE_SECONDS = 30 * 60
MAX_HOURS = 12  # default absolute limit: a front-desk shift (WUYE_SESSION_MAX_HOURS, 1–24)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def clock() -> int:
    """Seconds since the epoch, on which a session's idle and absolute ends are counted. Tests move this clock,
    not the process's: the time module's clock also dates the pool's connections and the signed cookies."""
    return int(time.time())


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, minted on first use (also before login, for the login form)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf", "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = str((await request.form()).get(CSRF_FIELD, ""))
    if not expected or not hmac.compare_digest(str(sent), expected):
        raise HTTPException(status_code=403, detail="请求已失效或来源不明（CSRF 校验失败），请刷新页面后重试")


def max_hours_from_env() -> int:
    """WUYE_SESSION_MAX_HOURS: how long a login lasts at most, in hours (1–24; default 12)."""
    text = os.environ.get("WUYE_SESSION_MAX_HOURS", "").strip()
    if not text:
        return MAX_HOURS
    if not text.isdigit() or not 1 <= int(text) <= 24:
        raise ValueError(f"WUYE_SESSION_MAX_HOURS 须为 1 至 24 之间的整数（小时）：{text}")
    return int(text)


class ConsoleAuth(AuthenticationBackend):
    def __init__(self, secret_key: str, session_maker: sessionmaker[Session], *, https_only: bool = False,
                 max_hours: int | None = None) -> None:
        self.absolute_seconds = (max_hours or max_hours_from_env()) * 3600
        super().__init__(
            secret_key=secret_key,
            session_cookie="wuye_session",
            max_age=self.absolute_seconds,
            same_site="strict",
            https_only=https_only,
        )
        self.session_maker = session_maker
        self.templates = None  # the console's Jinja templates, set once the Admin exists

    async def login(self, request: Request) -> Response | bool:
        if request.method != "POST":  # HEAD (a monitor, a link checker) sees the page, it does not log in
            return await self.templates.TemplateResponse(request, "sqladmin/login.html")
        await check_csrf(request)
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        ip = client_ip(request)
        try:
            user_id, epoch = await anyio.to_thread.run_sync(self._login_sync, username, password, ip)
        except LoginRefused as refused:
            request.state.login_error = refused.message
            return False
        # A fresh session (new CSRF token too): nothing set before login survives it (L03).
        request.session.clear()
        now = clock()
        request.session.update({"uid": user_id, "epoch": epoch, "login_at": now, "seen_at": now, "user": username,
                                "csrf": secrets.token_urlsafe(32)})
        return True

    def _login_sync(self, username: str, password: str, ip: str) -> tuple[int, int]:
        with self.session_maker() as session:
            session.info["actor"] = Actor(user_id=None, name=username[:64], project_ids=frozenset(), ip=ip)
            try:
                user = check_login(session, username, password, ip=ip)
                result = (user.id, user.session_epoch)
            finally:
                session.commit()  # failed attempts are kept: they are what the throttle counts
        return result

    async def logout(self, request: Request) -> Response | bool:
        if request.method != "POST":  # a GET only asks: logging out is a state change (revokes sessions)
            return await self.templates.TemplateResponse(request, "wuye/logout.html")
        await check_csrf(request)
        uid = request.session.get("uid")
        if uid is not None:
            await anyio.to_thread.run_sync(self._logout_sync, uid, client_ip(request))
        request.session.clear()
        return RedirectResponse(request.url_for("admin:login"), status_code=302)

    def _logout_sync(self, uid: int, ip: str) -> None:
        with self.session_maker.begin() as session:
            user = session.get(User, uid)
            if user is None:
                return
            user.session_epoch += 1  # revokes this and every other cookie of the user
            session.info["actor"] = Actor(user_id=user.id, name=str(user), project_ids=None, ip=ip)
            log_event(session, AuditKind.LOGOUT, summary=f"退出登录：{user.username}", table="user_account")

    async def authenticate(self, request: Request) -> Response | bool:
        uid = request.session.get("uid")
        if uid is None:
            return False
        now = clock()
        if now - request.session.get("seen_at", 0) > IDLE_SECONDS or now - request.session.get("login_at", 0) > self.absolute_seconds:
            request.session.clear()
            return False
        actor = await anyio.to_thread.run_sync(self._actor_sync, uid, request.session.get("epoch"), client_ip(request))
        if actor is None:
            request.session.clear()
            return False
        await check_csrf(request)
        request.session["seen_at"] = now
        request.state.actor = actor
        current_actor.set(actor)
        return True

    def _actor_sync(self, uid: int, epoch: int | None, ip: str) -> Actor | None:
        with self.session_maker() as session:
            user = session.scalar(select(User).options(selectinload(User.projects)).where(User.id == uid))
            if user is None or not user.is_active or user.session_epoch != epoch:
                return None
            # the grants too, in this session: sqladmin's authorization backend would open another per request
            return replace(actor_for_user(session, user, ip=ip), grants=grants_of(session, user))

    def session_clock(self, request: Request) -> str:
        """What session.js needs, as JSON for a <meta>: seconds until the idle end and until the absolute end (as
        of this page), the user name to ask the password for, and where to ask. Empty when not logged in."""
        if request.session.get("uid") is None:
            return ""
        now = clock()
        return json.dumps({
            "idle": IDLE_SECONDS,
            "left": max(0, request.session.get("login_at", now) + self.absolute_seconds - now),
            "hours": self.absolute_seconds // 3600,
            "user": request.session.get("user", ""),
            "ping": str(request.url_for("admin:view-session-ping")),
            "login": str(request.url_for("admin:login")),
        }, ensure_ascii=False)

    async def get_user_id(self, request: Request) -> int | None:
        return request.session.get("uid")


class ActorGrants(GrantsAuthorizationBackend):
    """What the user may do: the grants ``ConsoleAuth.authenticate`` read with the user, on every request (a role
    changed takes effect on the next page)."""

    async def get_grants(self, request: Request) -> set[tuple[str, str]]:
        actor = getattr(request.state, "actor", None)
        return set(actor.grants) if actor is not None else set()
