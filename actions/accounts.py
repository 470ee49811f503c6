"""Accounts and roles: the login check with its throttle (L01/L02), and every change to an account or a role.

Each change is one action with an acting user, used alike by the console (账号 / 角色) and the CLI (``wuye user``):
the escalation guard (A09), the write, the end of the account's sessions and one operation-log row, in the caller's
transaction. The guard, for anyone who does not see every project (that is, anyone but a 系统管理员):

- no making or editing a 系统管理员 account, nor any account holding a permission the actor lacks (resetting its
  password would hand that permission over);
- no change to one's own roles, projects or status; no deleting one's own account;
- no granting a role or a permission the actor lacks, nor a project outside the actor's scope; no 所属分公司;
- no editing or deleting a role one holds, or one holding a permission the actor lacks.

For everyone, superusers included, the system stays administrable (issue 14, item 7): the 系统管理员 role is never
deleted, renamed or stripped of its grants, and the last enabled administrator is never disabled, deleted or
demoted. A new password or a disabled account voids every session of that account (``session_epoch``, L04).
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from models import (
    AuditKind,
    LoginAttempt,
    Project,
    Role,
    RoleGrant,
    Staff,
    User,
    user_project,
    user_role,
    utcnow,
)
from models.db import lock_names

from .actor import SYSTEM, Actor, actor_for_user
from .audit import as_actor, log_event, log_operation
from .errors import NotPermitted, Refused
from .records import check_version, new_version

# OWASP's Argon2id floor: 19 MiB, 2 passes.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A hash of nothing, so an unknown user costs the same time as a wrong password (L02).
_DUMMY_HASH = HASHER.hash(secrets.token_hex(8))

LOCK_WINDOW = dt.timedelta(minutes=15)
MAX_USER_FAILURES = 5
MAX_IP_FAILURES = 20
MAX_ACCOUNT_DELAY = 60  # seconds: the longest wait a guessed-at account imposes on a new address
MIN_PASSWORD = 8

ADMIN_ROLE = "系统管理员"
WILDCARD = "*"
# A keyword left at KEEP leaves that part of the account as it is.
KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP"})()


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
    # Bookkeeping, not an edit of the account: written past the optimistic lock (and 更新时间), so an account
    # form an administrator has open still saves after its user logs in.
    kept: dict[str, Any] = {"last_login_at": now, "updated_at": User.updated_at}
    if HASHER.check_needs_rehash(user.password_hash):
        kept["password_hash"] = HASHER.hash(password)
    session.execute(update(User).where(User.id == user.id).values(**kept))
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


# --- grants ----------------------------------------------------------------------------------------------
Grant = tuple[str, str]


def holds(grants: Collection[Grant], identity: str, action: str) -> bool:
    """Does a set of grants allow ``(identity, action)``? Either side of a grant may be ``*`` (as sqladmin matches)."""
    return bool({(identity, action), (identity, WILDCARD), (WILDCARD, action), (WILDCARD, WILDCARD)} & set(grants))


def grants_of_user(session: Session, user_id: int | None) -> frozenset[Grant]:
    """Everything the account may do: ``*:*`` for a superuser, else the union of its roles' grants."""
    if user_id is None:
        return frozenset()
    return _grants(session, user_id, bool(session.scalar(select(User.is_superuser).where(User.id == user_id))))


def grants_of(session: Session, user: User) -> frozenset[Grant]:
    """``grants_of_user`` of a user already loaded (the console's per-request lookup)."""
    return _grants(session, user.id, user.is_superuser)


def _grants(session: Session, user_id: int, superuser: bool) -> frozenset[Grant]:
    if superuser:
        return frozenset({(WILDCARD, WILDCARD)})
    rows = session.execute(
        select(RoleGrant.identity, RoleGrant.action)
        .join(user_role, user_role.c.group_id == RoleGrant.group_id)
        .where(user_role.c.user_id == user_id)
    )
    return frozenset((identity, action) for identity, action in rows)


def acting_as(session: Session, username: str, *, source: str = "cli") -> Actor:
    """The actor of an active account named by the command line (``--as NAME``): its projects and its roles'
    grants, as the console builds them at login — so a command is held to what that account may do there."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise Refused(f"--as：账号 {username} 不存在或已停用")
    return replace(actor_for_user(session, user, source=source), grants=grants_of(session, user))


def require_grant(actor: Actor, identity: str, action: str, doing: str) -> None:
    """Refuse an account's actor that lacks the console's grant for ``doing`` (the same ``(identity, action)`` the
    console's page checks). The installation itself (``wuye`` without ``--as``, the system) acts unrestricted."""
    if actor.user_id is not None and not holds(actor.grants, identity, action):
        raise NotPermitted(f"账号 {actor.name} 没有“{doing}”的权限")


def hold_grant(session: Session, actor: Actor, identity: str, action: str, doing: str) -> None:
    """An action's own check of the console's grant ``(identity, action)`` for ``doing``: the account's roles as
    stored now, whichever path called (a page, the command line, another action), not only what the page checked.
    The installation itself (no account: ``wuye`` without ``--as``, the system) acts unrestricted."""
    if actor.user_id is not None and not holds(grants_of_user(session, actor.user_id), identity, action):
        raise NotPermitted(f"账号 {actor.name} 没有“{doing}”的权限")


def _actor_grants(session: Session, actor: Actor) -> frozenset[Grant]:
    # The command line without --as, and the system itself, act for whoever runs the installation.
    if actor.sees_all:
        return frozenset({(WILDCARD, WILDCARD)})
    return grants_of_user(session, actor.user_id)


def _role_grants(session: Session, role_ids: Iterable[int]) -> dict[str, set[Grant]]:
    rows = session.execute(
        select(Role.name, RoleGrant.identity, RoleGrant.action)
        .join(RoleGrant, RoleGrant.group_id == Role.id)
        .where(Role.id.in_(sorted(set(role_ids))))
    )
    out: dict[str, set[Grant]] = {}
    for name, identity, action in rows:
        out.setdefault(name, set()).add((identity, action))
    return out


def _beyond(mine: frozenset[Grant], theirs: Iterable[Grant]) -> bool:
    return any(not holds(mine, identity, action) for identity, action in theirs)


# --- administrators ----------------------------------------------------------------------------------------
def _administrators(session: Session) -> int:
    """Enabled accounts that can administer the system: superusers and holders of the 系统管理员 role."""
    admin_role = select(Role.id).where(Role.name == ADMIN_ROLE).scalar_subquery()
    holders = select(user_role.c.user_id).where(user_role.c.group_id == admin_role)
    return session.scalar(
        select(func.count()).select_from(User).where(
            User.is_active.is_(True), or_(User.is_superuser.is_(True), User.id.in_(holders))
        )
    ) or 0


def _keep_an_administrator(session: Session) -> None:
    """Refuse the change (the caller's transaction rolls back) when it left no enabled administrator. Counted
    under a lock, so two administrators disabling each other at once cannot both pass."""
    session.flush()
    lock_names(session, ["administrators"])
    if _administrators(session) == 0:
        raise Refused(f"至少须保留一个启用的{ADMIN_ROLE}账号：不能停用、删除或撤下最后一个{ADMIN_ROLE}")


# --- accounts ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserResult:
    user_id: int
    username: str
    generated_password: str | None = None
    sessions_ended: bool = False


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise Refused(f"用户 {username} 不存在")
    return user


def _names(session: Session, model: type, names: Iterable[str], what: str) -> list[int]:
    names = list(dict.fromkeys(names))
    rows = dict(session.execute(select(model.name, model.id).where(model.name.in_(names))).all()) if names else {}
    missing = [n for n in names if n not in rows]
    if missing:
        raise Refused(f"{what}不存在：{'、'.join(missing)}")
    return [rows[n] for n in names]


def _guard_account(session: Session, actor: Actor, user: User | None) -> None:
    """May ``actor`` touch this account at all (A09)? Not one whose projects are all others' (the console's 账号
    list does not show it; the command line names any account)."""
    if actor.sees_all or user is None or user.id is None or user.id == actor.user_id:
        return
    if user.is_superuser:
        raise NotPermitted(f"只有{ADMIN_ROLE}可以修改{ADMIN_ROLE}账号", [user.id])
    reach = _reach(session, user)
    if reach and len(actor.outside(reach)) == len(reach):
        raise NotPermitted("无权修改该账号：不属于自己可访问的项目", [user.id])
    if _beyond(_actor_grants(session, actor), grants_of_user(session, user.id)):
        raise NotPermitted("不能修改权限超出自己的账号", [user.id])


def _reach(session: Session, user: User) -> frozenset[int]:
    """The projects an account (not a superuser) works in: its own and those of its 分公司."""
    return actor_for_user(session, user).project_ids or frozenset()


@as_actor
def save_user(
    session: Session,
    *,
    user_id: int | None,
    actor: Actor,
    username: str = KEEP,
    display_name: str = KEEP,
    password: str | None = None,
    is_active: bool = KEEP,
    is_superuser: bool = KEEP,
    branch_id: int | None = KEEP,
    staff_id: int | None = KEEP,
    role_ids: Collection[int] = KEEP,
    project_ids: Collection[int] = KEEP,
    operation: str = "save_user",
    version: Any = KEEP,
) -> UserResult:
    """Create (``user_id=None``) or edit an account as the console's 账号 form and ``wuye user`` do.

    Projects the actor cannot see stay on the account as they are (the editor is not even offered them).
    A form sends the ``version`` it was opened on: a stale one is refused (the command line sends none).
    """
    created = user_id is None
    user = User(is_active=True, is_superuser=False, roles=[], projects=[]) if created else session.get(User, user_id)
    if user is None:
        raise Refused("账号不存在或已删除", [user_id])
    if not created and version is not KEEP:
        check_version(user, version)
    _guard_account(session, actor, user)
    was_admin = not created and user.is_active and user.is_superuser
    before_roles = set() if created else {r.id for r in user.roles}
    before_projects = set() if created else {p.id for p in user.projects}
    role_ids = before_roles if role_ids is KEEP else set(role_ids)
    project_ids = before_projects if project_ids is KEEP else set(project_ids)
    if not actor.sees_all:
        project_ids |= {p for p in before_projects if not actor.can_see(p)}
        _guard_change(session, actor, user, created, password=password, is_superuser=is_superuser, is_active=is_active,
                      branch_id=branch_id, staff_id=staff_id, roles=(before_roles, role_ids),
                      projects=(before_projects, project_ids))
    if username is not KEEP:
        username = (username or "").strip()
        if not username:
            raise Refused("用户名不能为空")
        if session.scalar(select(User.id).where(User.username == username, User.id != user.id if user.id else True)):
            raise Refused(f"用户名 {username} 已存在")
        user.username = username
    elif created:
        raise Refused("用户名不能为空")
    if display_name is not KEEP:
        user.display_name = display_name or user.username
    elif created:
        user.display_name = user.username
    if created and not password:
        raise Refused("请设置初始密码")
    revoke = False
    if password:
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
        revoke = True
    if is_active is not KEEP:
        revoke |= bool(user.is_active) and not is_active
        user.is_active = bool(is_active)
    if is_superuser is not KEEP:
        user.is_superuser = bool(is_superuser)
    if branch_id is not KEEP:
        user.branch_id = branch_id
    if staff_id is not KEEP:
        user.staff_id = staff_id
    if role_ids != before_roles:
        user.roles = list(session.scalars(select(Role).where(Role.id.in_(sorted(role_ids))))) if role_ids else []
    if project_ids != before_projects:
        user.projects = (list(session.scalars(select(Project).where(Project.id.in_(sorted(project_ids)))))
                         if project_ids else [])
    if revoke and not created:
        user.session_epoch = (user.session_epoch or 1) + 1
    if created:
        session.add(user)
    else:
        new_version(user)
    session.flush()
    if not created and (was_admin or before_roles - role_ids or is_active is False):
        _keep_an_administrator(session)
    log_operation(
        session, operation,
        params={"user": user.username, "created": created, "password_changed": bool(password),
                "roles": sorted(r.name for r in user.roles), "projects": sorted(project_ids)},
        counts={"sessions_ended": revoke and not created},
    )
    return UserResult(user.id, user.username, sessions_ended=revoke and not created)


def _guard_change(session: Session, actor: Actor, user: User, created: bool, *, password: str | None,
                  is_superuser: Any, is_active: Any, branch_id: Any, staff_id: Any, roles: tuple[set[int], set[int]],
                  projects: tuple[set[int], set[int]]) -> None:
    """The escalation guard for an actor who does not see every project."""
    if is_superuser not in (KEEP, False, None) and (created or not user.is_superuser):
        raise NotPermitted(f"只有{ADMIN_ROLE}可以设置{ADMIN_ROLE}")
    if not created and user.id != actor.user_id:
        # An account that also reaches other projects (another project, its 分公司): a new password would hand the
        # editor that reach, its roles act there, disabling it would stop work there — theirs to decide.
        beyond = bool(actor.outside(_reach(session, user)))
        changed = [label for label, done in (("密码", bool(password)), ("角色", roles[1] != roles[0]),
                                              ("启用", is_active is not KEEP and bool(is_active) != bool(user.is_active)))
                   if done]
        if beyond and changed:
            raise NotPermitted(f"该账号还可访问其他项目，不能修改其{'、'.join(changed)}", [user.id])
    if not created and user.id == actor.user_id:
        changed = [label for label, (before, after) in (("角色", roles), ("项目", projects)) if before != after]
        if is_active is not KEEP and bool(is_active) != bool(user.is_active):
            changed.append("启用")
        if changed:
            raise NotPermitted(f"不能修改自己账号的{'、'.join(changed)}", [user.id])
    if branch_id is not KEEP and branch_id != (None if created else user.branch_id):
        raise NotPermitted(f"只有{ADMIN_ROLE}可以设置所属分公司")
    added = roles[1] - roles[0]
    if added:
        mine = _actor_grants(session, actor)
        beyond = sorted(name for name, grants in _role_grants(session, added).items() if _beyond(mine, grants))
        if beyond:
            raise NotPermitted(f"不能授予超出自己权限的角色：{'、'.join(beyond)}", sorted(added))
    outside = sorted(p for p in projects[1] - projects[0] if not actor.can_see(p))
    if outside:
        raise NotPermitted("不能授予自己无权访问的项目", outside)
    if staff_id not in (KEEP, None) and staff_id != (None if created else user.staff_id):
        project = session.scalar(select(Staff.project_id).where(Staff.id == staff_id))
        if not actor.can_see(project):
            raise NotPermitted("对应员工：无权引用该记录", [staff_id])


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
    actor: Actor = SYSTEM,
) -> UserResult:
    """Create an account by role and project names (CLI, seeds); with no password one is generated and returned
    once. ``actor`` is SYSTEM only when the installation itself makes its accounts (``wuye init``, the demo)."""
    generated = None if password else secrets.token_urlsafe(12)
    result = save_user(
        session, user_id=None, actor=actor, username=username, display_name=display_name,
        password=password or generated, is_superuser=superuser, branch_id=branch_id,
        role_ids=_names(session, Role, roles, "角色"), project_ids=_names(session, Project, projects, "项目"),
        operation="add_user",
    )
    return UserResult(result.user_id, result.username, generated)


def set_password(session: Session, *, username: str, password: str, actor: Actor) -> UserResult:
    """Change a password; every session of the user opened before is revoked (L04)."""
    user = _user(session, username)
    return save_user(session, user_id=user.id, actor=actor, password=password, operation="set_password")


def disable_user(session: Session, *, username: str, actor: Actor) -> UserResult:
    """Disable an account; its sessions end at once (L04). The last enabled administrator stays."""
    user = _user(session, username)
    return save_user(session, user_id=user.id, actor=actor, is_active=False, operation="disable_user")


def grant_roles(session: Session, *, username: str, actor: Actor, add: Iterable[str] = (),
                remove: Iterable[str] = ()) -> UserResult:
    """Give an account the roles ``add`` and take away ``remove`` (by name)."""
    user = _user(session, username)
    added, removed = _names(session, Role, add, "角色"), _names(session, Role, remove, "角色")
    roles = ({r.id for r in user.roles} | set(added)) - set(removed)
    return save_user(session, user_id=user.id, actor=actor, role_ids=roles, operation="grant_roles")


def guard_user(session: Session, *, user_id: int, actor: Actor, deleting: bool = False) -> User:
    """The account, if ``actor`` may change (or delete) it; else :class:`NotPermitted`. The console asks this
    before it offers the edit form or the delete button; the actions below ask it again when they write."""
    user = session.get(User, user_id)
    if user is None:
        raise Refused("账号不存在或已删除", [user_id])
    if deleting and user.id == actor.user_id:
        raise NotPermitted("不能删除自己的账号", [user.id])
    _guard_account(session, actor, user)
    return user


@as_actor
def delete_user(session: Session, *, user_id: int, actor: Actor) -> UserResult:
    user = guard_user(session, user_id=user_id, actor=actor, deleting=True)
    name = user.username
    session.delete(user)
    _keep_an_administrator(session)
    log_operation(session, "delete_user", params={"user": name}, counts={"deleted": 1})
    return UserResult(user_id, name)


# --- roles -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoleResult:
    role_id: int
    name: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def guard_role(session: Session, *, role_id: int, actor: Actor, deleting: bool = False) -> Role:
    """The role, if ``actor`` may change (or delete) it; else :class:`NotPermitted` (asked like ``guard_user``)."""
    role = session.get(Role, role_id)
    if role is None:
        raise Refused("角色不存在或已删除", [role_id])
    if deleting and role.name == ADMIN_ROLE:
        raise NotPermitted(f"{ADMIN_ROLE}角色不能删除：系统须始终有人可以管理", [role.id])
    _guard_role(session, actor, role)
    return role


def _guard_role(session: Session, actor: Actor, role: Role) -> None:
    if actor.sees_all:
        return
    held = session.scalar(select(user_role.c.group_id).where(user_role.c.user_id == actor.user_id,
                                                             user_role.c.group_id == role.id))
    if held is not None:
        raise NotPermitted("不能修改或删除自己所属的角色", [role.id])
    grants = {(g.identity, g.action) for g in role.accesses}
    if _beyond(_actor_grants(session, actor), grants):
        raise NotPermitted("不能修改或删除权限超出自己的角色", [role.id])
    if _held_beyond(session, actor, role.id):
        raise NotPermitted("该角色也有其他项目的账号在用，只有拥有全公司权限的账号可以修改或删除", [role.id])


def _held_beyond(session: Session, actor: Actor, role_id: int) -> bool:
    """Does an account of a project outside ``actor``'s scope (by its projects or its 分公司) hold this role? A
    role is shared by every project that uses it: changing it changes what their staff may do (A11)."""
    mine = sorted(actor.project_ids or ())
    holders = select(user_role.c.user_id).join(User, User.id == user_role.c.user_id).where(
        user_role.c.group_id == role_id, User.is_superuser.is_(False))  # a superuser's grants are all, whatever it holds
    by_project = select(user_project.c.user_id).where(user_project.c.user_id.in_(holders),
                                                      user_project.c.project_id.not_in(mine))
    by_branch = select(User.id).join(Project, Project.branch_id == User.branch_id).where(
        User.id.in_(holders), Project.id.not_in(mine))
    return session.scalar(select(by_project.union(by_branch).exists())) or False


def _grant_value(grant: Grant) -> str:
    return f"{grant[0]}:{grant[1]}"


@as_actor
def save_role(
    session: Session,
    *,
    role_id: int | None,
    actor: Actor,
    name: str = KEEP,
    description: str = KEEP,
    grants: Collection[str] | None = None,
    offered: Collection[str] = (),
    version: Any = KEEP,
) -> RoleResult:
    """Create or edit a role and its grants (``identity:action``) as the permission matrix shows them.

    Only ``offered`` grants (the matrix's checkboxes) change: wildcards such as the 系统管理员's ``*:*`` stay.
    A grant the actor lacks cannot be given; the 系统管理员 role keeps its name and its grants.
    """
    created = role_id is None
    role = Role(name="", description="") if created else session.get(Role, role_id)
    if role is None:
        raise Refused("角色不存在或已删除", [role_id])
    if not created:
        _guard_role(session, actor, role)
        if version is not KEEP:  # a form's: saved only from the version it was opened on
            check_version(role, version)
    if name is not KEEP:
        name = (name or "").strip()
        if not name:
            raise Refused("角色名称不能为空")
        if not created and role.name == ADMIN_ROLE and name != ADMIN_ROLE:
            raise NotPermitted(f"{ADMIN_ROLE}角色不能改名", [role.id])
        if session.scalar(select(Role.id).where(Role.name == name, Role.id != role.id if role.id else True)):
            raise Refused(f"角色名称 {name} 已存在")
        role.name = name
    elif created:
        raise Refused("角色名称不能为空")
    if description is not KEEP:
        role.description = description or ""
    existing = {_grant_value((g.identity, g.action)): g for g in role.accesses}
    added: list[str] = []
    removed: list[str] = []
    if grants is not None:
        offered = set(offered)
        desired = set(grants) & offered
        added = sorted(desired - set(existing))
        removed = sorted((set(existing) & offered) - desired)
        if removed and role.name == ADMIN_ROLE:
            raise NotPermitted(f"{ADMIN_ROLE}角色的权限不能减少", [role.id])
        mine = _actor_grants(session, actor)
        forbidden = [g for g in added if not holds(mine, *g.split(":", 1))]
        if forbidden:
            raise NotPermitted(f"不能授予自己没有的权限：{'、'.join(forbidden)}")
        for value in removed:
            role.accesses.remove(existing[value])
        for value in added:
            identity, action = value.split(":", 1)
            role.accesses.append(RoleGrant(identity=identity, action=action))
    if created:
        session.add(role)
    else:
        new_version(role)
    session.flush()
    if removed:
        _keep_an_administrator(session)
    log_operation(session, "save_role", params={"role": role.name, "created": created},
                  counts={"added": added, "removed": removed})
    return RoleResult(role.id, role.name, tuple(added), tuple(removed))


@as_actor
def delete_role(session: Session, *, role_id: int, actor: Actor) -> RoleResult:
    """Delete a role; the 系统管理员 role is never deleted, whoever asks."""
    role = guard_role(session, role_id=role_id, actor=actor, deleting=True)
    name = role.name
    session.delete(role)
    _keep_an_administrator(session)
    log_operation(session, "delete_role", params={"role": name}, counts={"deleted": 1})
    return RoleResult(role_id, name)
