"""Accounts: create, change password, disable, and the login check with its throttle (L01/L02)."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditKind, LoginAttempt, Project, Role, User, utcnow
from models.db import lock_names

from .audit import log_event
from .errors import Refused

# OWASP's Argon2id floor: 19 MiB, 2 passes.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A hash of nothing, so an unknown user costs the same time as a wrong password (L02).
_DUMMY_HASH = HASHER.hash(secrets.token_hex(8))

LOCK_WINDOW = dt.timedelta(minutes=15)
MAX_USER_FAILURES = 5
MAX_IP_FAILURES = 20
MAX_ACCOUNT_DELAY = 60  # seconds: the longest wait a guessed-at account imposes on a new address
MIN_PASSWORD = 8


class LoginRefused(Refused):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Refused(f"密码至少 {MIN_PASSWORD} 位")
    return HASHER.hash(password)


def _failures(session: Session, where, since: dt.datetime) -> int:
    return session.scalar(
        select(func.count()).where(where, LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    ) or 0


def check_login(session: Session, username: str, password: str, *, ip: str) -> User:
    """The user whose credentials these are, or :class:`LoginRefused` with the Chinese reason.

    Five failures for an account from one address within 15 minutes lock further tries of that account from that
    address — even with the right password — until the window has passed; twenty failures from one address lock
    the address. An outsider guessing at a colleague's account thus locks only himself: the colleague, at her own
    desk, still logs in. Guessing from many addresses at once meets a growing delay instead (:func:`_account_wait`).
    Exactly so however many tries arrive at once, through however many processes: the account and the address
    are locked until the caller's transaction (which records this try) ends, so each try counts the ones before it.
    """
    username = username.strip()
    lock_names(session, [f"login-user:{username[:64]}", f"login-ip:{ip}"])
    now = utcnow()
    since = now - LOCK_WINDOW
    account = LoginAttempt.username == username
    if _failures(session, account & (LoginAttempt.ip == ip), since) >= MAX_USER_FAILURES:
        _attempt(session, username, ip, False, "账号已锁定")
        raise LoginRefused("登录失败次数过多，账号已锁定 15 分钟，请稍后再试")
    if _failures(session, LoginAttempt.ip == ip, since) >= MAX_IP_FAILURES:
        _attempt(session, username, ip, False, "IP 受限")
        raise LoginRefused("该地址登录失败次数过多，请 15 分钟后再试")
    wait = _account_wait(session, username, ip, now)
    if wait:
        _attempt(session, username, ip, False, "稍后再试")
        raise LoginRefused(f"该账号近期登录失败较多，请 {wait} 秒后再试")
    user = session.scalar(select(User).where(User.username == username))
    try:
        HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None and user.is_active
    except (VerificationError, InvalidHashError):
        ok = False
    _attempt(session, username, ip, ok, "")
    if not ok:
        raise LoginRefused("用户名或密码错误")
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    user.last_login_at = now
    return user


def _account_wait(session: Session, username: str, ip: str, now: dt.datetime) -> int:
    """Seconds an address must still wait before trying this account: after five failures of the account within
    the window, from any addresses, each further try comes at least 1, 2, 4 … up to 60 seconds after the last
    failure — a password guesser with many addresses gets at most one guess a minute, and nobody is locked out.
    An address the account logged in from before is never held up (the staff member's own desk)."""
    failures, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(False), LoginAttempt.at >= now - LOCK_WINDOW)
    ).one()
    if failures < MAX_USER_FAILURES:
        return 0
    known = select(LoginAttempt.id).where(LoginAttempt.username == username, LoginAttempt.ip == ip,
                                          LoginAttempt.success.is_(True)).limit(1)
    if session.scalar(known) is not None:
        return 0
    if last.tzinfo is None:  # SQLite keeps no offset: stored in UTC
        last = last.replace(tzinfo=dt.UTC)
    delay = min(2 ** (failures - MAX_USER_FAILURES), MAX_ACCOUNT_DELAY)
    return max(0, math.ceil((last + dt.timedelta(seconds=delay) - now).total_seconds()))


def _attempt(session: Session, username: str, ip: str, success: bool, note: str) -> None:
    session.add(LoginAttempt(at=utcnow(), username=username[:64], ip=ip, success=success))
    log_event(
        session,
        AuditKind.LOGIN if success else AuditKind.LOGIN_FAILED,
        summary=f"{'登录成功' if success else '登录失败'}：{username[:64]}{('（' + note + '）') if note else ''}",
        table="user_account",
    )
    session.flush()


@dataclass(frozen=True)
class UserResult:
    user_id: int
    username: str
    generated_password: str | None = None


def add_user(
    session: Session,
    *,
    username: str,
    password: str | None,
    roles: list[str] = (),
    projects: list[str] = (),
    branch_id: int | None = None,
    display_name: str = "",
    superuser: bool = False,
) -> UserResult:
    """Create an account; with no password one is generated and returned once."""
    username = username.strip()
    if not username:
        raise Refused("用户名不能为空")
    if session.scalar(select(User.id).where(User.username == username)):
        raise Refused(f"用户名 {username} 已存在")
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    role_rows = list(session.scalars(select(Role).where(Role.name.in_(roles)))) if roles else []
    missing = sorted(set(roles) - {r.name for r in role_rows})
    if missing:
        raise Refused(f"角色不存在：{'、'.join(missing)}")
    project_rows = list(session.scalars(select(Project).where(Project.name.in_(projects)))) if projects else []
    missing = sorted(set(projects) - {p.name for p in project_rows})
    if missing:
        raise Refused(f"项目不存在：{'、'.join(missing)}")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        is_superuser=superuser,
        branch_id=branch_id,
        roles=role_rows,
        projects=project_rows,
        password_changed_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return UserResult(user.id, user.username, generated)


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise Refused(f"用户 {username} 不存在")
    return user


def set_password(session: Session, *, username: str, password: str) -> UserResult:
    """Change a password; every session of the user opened before is revoked (L04)."""
    user = _user(session, username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.session_epoch += 1
    session.flush()
    return UserResult(user.id, user.username)


def disable_user(session: Session, *, username: str) -> UserResult:
    user = _user(session, username)
    user.is_active = False
    user.session_epoch += 1
    session.flush()
    return UserResult(user.id, user.username)
