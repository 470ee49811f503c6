"""Account and role actions (actions/accounts.py): the escalation guard, the administrable system, sessions ended,
and one operation-log row naming who — the same calls the console's 账号 / 角色 pages and ``wuye user`` make."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions import accounts
from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from models import AuditKind, AuditLog, OperationLog, Role, RoleGrant, User, user_role
from tests import factories

ADMIN = accounts.ADMIN_ROLE


def _role(session, name: str) -> Role:
    return session.scalar(select(Role).where(Role.name == name))


def _snapshot(session) -> tuple:
    """Everything an account or role change could touch."""
    session.expire_all()
    users = session.execute(select(User.id, User.username, User.is_active, User.is_superuser, User.password_hash,
                                   User.session_epoch, User.branch_id).order_by(User.id)).all()
    links = session.execute(select(user_role.c.user_id, user_role.c.group_id).order_by(user_role.c.user_id,
                                                                                     user_role.c.group_id)).all()
    roles = session.execute(select(Role.id, Role.name).order_by(Role.id)).all()
    grants = session.scalar(select(func.count()).select_from(RoleGrant))
    logs = session.scalar(select(func.count()).select_from(OperationLog))
    return users, links, roles, grants, logs


def _refused(session, fn, message: str, **kwargs) -> None:
    before = _snapshot(session)
    with pytest.raises(Refused) as caught, session.begin_nested():
        fn(session, **kwargs)
    assert message in caught.value.message
    assert _snapshot(session) == before


@pytest.fixture
def world(session):
    p1 = factories.project(session, name="锦绣华庭")
    p2 = factories.project(session, name="翠湖天地")
    root = factories.user(session, username="root", superuser=True)
    # A delegated account manager: 客服经理 of one project, plus the account pages (A09).
    keeper = Role(name="账号管理", description="")
    keeper.accesses = [RoleGrant(identity=i, action=a) for i in ("user", "role")
                       for a in ("list", "details", "create", "edit", "delete")]
    session.add(keeper)
    session.flush()
    manager = factories.user(session, username="mgr", roles=["客服经理", "账号管理"], projects=[p1])
    desk = factories.user(session, username="desk", roles=["前台客服"], projects=[p1])
    return {"p1": p1, "p2": p2, "root": root, "manager": manager, "desk": desk,
            "as_root": actor_for_user(session, root), "as_manager": actor_for_user(session, manager)}


def test_password_change_ends_sessions_and_logs_who(session, world):
    epoch = world["desk"].session_epoch
    result = accounts.set_password(session, username="desk", password="new-pass-word-1", actor=world["as_manager"])
    session.expire_all()
    desk = session.get(User, world["desk"].id)
    assert result.sessions_ended and desk.session_epoch == epoch + 1
    assert accounts.HASHER.verify(desk.password_hash, "new-pass-word-1")
    log = session.scalar(select(OperationLog).where(OperationLog.operation == "set_password"))
    assert log.actor_id == world["manager"].id and log.params["user"] == "desk"
    audit = session.scalar(select(AuditLog).where(AuditLog.table_name == "user_account", AuditLog.kind == AuditKind.UPDATE,
                                                  AuditLog.record_id == str(desk.id)))
    assert audit.actor_id == world["manager"].id and audit.changes["password_hash"] == ["***", "***"]


def test_disable_ends_sessions(session, world):
    epoch = world["desk"].session_epoch
    accounts.disable_user(session, username="desk", actor=world["as_root"])
    session.expire_all()
    desk = session.get(User, world["desk"].id)
    assert not desk.is_active and desk.session_epoch == epoch + 1
    assert session.scalar(select(OperationLog.actor_id).where(OperationLog.operation == "disable_user")) == \
        world["root"].id


def test_grant_within_the_actors_own_rights(session, world):
    accounts.grant_roles(session, username="desk", add=["楼宇管家"], actor=world["as_manager"])
    session.expire_all()
    assert {r.name for r in session.get(User, world["desk"].id).roles} == {"前台客服", "楼宇管家"}
    assert session.scalar(select(OperationLog.actor_name).where(OperationLog.operation == "grant_roles")) == "mgr"


@pytest.mark.parametrize(("call", "kwargs", "message"), [
    ("grant_roles", {"username": "desk", "add": [ADMIN]}, "不能授予超出自己权限的角色：系统管理员"),
    ("grant_roles", {"username": "desk", "add": ["分公司管理"]}, "不能授予超出自己权限的角色"),
    ("grant_roles", {"username": "mgr", "remove": ["客服经理"]}, "不能修改自己账号的角色"),
    ("set_password", {"username": "root", "password": "taken-over-1"}, "只有系统管理员可以修改系统管理员账号"),
    ("disable_user", {"username": "root"}, "只有系统管理员可以修改系统管理员账号"),
    ("disable_user", {"username": "mgr"}, "不能修改自己账号的启用"),
    ("add_user", {"username": "evil", "password": "evil-pass-1", "superuser": True}, "只有系统管理员可以设置系统管理员"),
    ("add_user", {"username": "evil", "password": "evil-pass-1", "projects": ["翠湖天地"]}, "不能授予自己无权访问的项目"),
])
def test_escalations_are_refused_and_change_nothing(session, world, call, kwargs, message):
    _refused(session, getattr(accounts, call), message, actor=world["as_manager"], **kwargs)


def test_an_account_holding_more_than_the_actor_is_out_of_reach(session, world):
    factories.user(session, username="bigger", roles=["分公司管理"], projects=[world["p1"]])
    _refused(session, accounts.set_password, "不能修改权限超出自己的账号", username="bigger",
             password="taken-over-1", actor=world["as_manager"])


def test_the_last_administrator_stays(session, world):
    # Other superusers in the shared test database would hide the rule: only root administers here.
    session.execute(User.__table__.update().where(User.id != world["root"].id).values(is_superuser=False))
    session.execute(user_role.delete().where(user_role.c.group_id == _role(session, ADMIN).id))
    as_root = world["as_root"]
    _refused(session, accounts.disable_user, "至少须保留一个启用的系统管理员", username="root", actor=as_root)
    _refused(session, accounts.save_user, "至少须保留一个启用的系统管理员", user_id=world["root"].id,
             is_superuser=False, actor=as_root)
    other = factories.user(session, username="root2", superuser=True)
    _refused(session, accounts.delete_user, "不能删除自己的账号", user_id=world["root"].id, actor=as_root)
    accounts.disable_user(session, username="root", actor=actor_for_user(session, other))
    session.expire_all()
    assert not session.get(User, world["root"].id).is_active


def test_the_admin_role_is_never_deleted_renamed_or_stripped(session, world):
    admin_role = _role(session, ADMIN)
    holder = factories.user(session, username="holder", roles=[ADMIN], projects=[world["p1"]])
    for actor in (world["as_manager"], world["as_root"]):
        _refused(session, accounts.delete_role, "系统管理员角色不能删除", role_id=admin_role.id, actor=actor)
    _refused(session, accounts.save_role, "系统管理员角色不能改名", role_id=admin_role.id, name="管理员",
             actor=world["as_root"])
    _refused(session, accounts.save_role, "不能修改或删除权限超出自己的角色", role_id=admin_role.id,
             description="x", actor=world["as_manager"])
    session.expire_all()
    assert [r.name for r in session.get(User, holder.id).roles] == [ADMIN]


def test_role_edits_within_the_actors_rights(session, world):
    offered = {"bill:list", "bill:edit", "audit-log:delete"}
    made = accounts.save_role(session, role_id=None, name="查账", description="", grants=["bill:list"],
                              offered=offered, actor=world["as_manager"])
    assert made.added == ("bill:list",)
    _refused(session, accounts.save_role, "不能授予自己没有的权限：audit-log:delete", role_id=made.role_id,
             grants=["bill:list", "audit-log:delete"], offered=offered, actor=world["as_manager"])
    own = _role(session, "账号管理")
    _refused(session, accounts.save_role, "不能修改或删除自己所属的角色", role_id=own.id, description="x",
             actor=world["as_manager"])
    _refused(session, accounts.delete_role, "不能修改或删除自己所属的角色", role_id=own.id, actor=world["as_manager"])
    accounts.delete_role(session, role_id=made.role_id, actor=world["as_manager"])
    assert session.get(Role, made.role_id) is None
    assert session.scalar(select(OperationLog.actor_id).where(OperationLog.operation == "delete_role")) == \
        world["manager"].id


def test_an_editor_keeps_the_projects_it_cannot_see(session, world):
    both = factories.user(session, username="both", roles=["前台客服"], projects=[world["p1"], world["p2"]])
    accounts.save_user(session, user_id=both.id, display_name="两边", project_ids=[world["p1"].id],
                       actor=world["as_manager"])
    session.expire_all()
    assert {p.id for p in session.get(User, both.id).projects} == {world["p1"].id, world["p2"].id}


@pytest.mark.parametrize(("call", "kwargs"), [
    ("set_password", {"password": "taken-over-1"}),
    ("disable_user", {}),
    ("grant_roles", {"add": ["楼宇管家"]}),
])
def test_an_account_of_another_project_is_out_of_reach(session, world, call, kwargs):
    """The command line names any account: one of 翠湖天地 only is not the 锦绣华庭 manager's to touch."""
    factories.user(session, username="other", roles=["前台客服"], projects=[world["p2"]])
    _refused(session, getattr(accounts, call), "无权修改该账号", username="other", actor=world["as_manager"], **kwargs)


@pytest.mark.parametrize("reach", ["project", "branch"])
@pytest.mark.parametrize(("call", "kwargs", "what"), [
    ("set_password", {"password": "taken-over-1"}, "密码"),
    ("disable_user", {}, "启用"),
    ("grant_roles", {"add": ["楼宇管家"]}, "角色"),
    ("grant_roles", {"remove": ["前台客服"]}, "角色"),
])
def test_an_account_reaching_other_projects_keeps_its_password_roles_and_status(session, world, reach, call, kwargs,
                                                                               what):
    """A new password for an account that also works at 翠湖天地 (or its whole 分公司) would hand the manager of
    锦绣华庭 that reach: refused, as are its roles and its status; its name may still be corrected."""
    extra = {"projects": [world["p1"], world["p2"]]} if reach == "project" else \
        {"projects": [world["p1"]], "branch_": world["p2"].branch}
    both = factories.user(session, username="both", roles=["前台客服"], **extra)
    _refused(session, getattr(accounts, call), f"该账号还可访问其他项目，不能修改其{what}", username="both",
             actor=world["as_manager"], **kwargs)
    accounts.save_user(session, user_id=both.id, display_name="两边", actor=world["as_manager"])
    session.expire_all()
    assert session.get(User, both.id).display_name == "两边"


@pytest.mark.parametrize("reach", ["project", "branch"])
def test_a_role_other_projects_use_is_changed_company_wide_only(session, world, reach):
    """前台客服 of 锦绣华庭 only: its manager may adjust the role; once a 翠湖天地 account (or a 分公司 account of
    its branch) holds it too, it is every project's, and only a company-wide account changes or deletes it (A11)."""
    role = Role(name="前台（试用）", description="")
    role.accesses = [RoleGrant(identity="mail-item", action=a) for a in ("list", "details")]
    session.add(role)
    session.flush()
    world["desk"].roles.append(role)
    session.flush()
    offered = {"mail-item:list", "mail-item:details", "mail-item:create"}
    changed = accounts.save_role(session, role_id=role.id, grants=["mail-item:list"], offered=offered,
                                 actor=world["as_manager"])
    assert changed.removed == ("mail-item:details",)
    extra = {"projects": [world["p2"]]} if reach == "project" else {"branch_": world["p2"].branch}
    other = factories.user(session, username="other", roles=["前台客服"], **extra)
    other.roles.append(role)
    session.flush()
    message = "该角色也有其他项目的账号在用"
    _refused(session, accounts.save_role, message, role_id=role.id, grants=[], offered=offered,
             actor=world["as_manager"])
    _refused(session, accounts.save_role, message, role_id=role.id, description="x", actor=world["as_manager"])
    _refused(session, accounts.delete_role, message, role_id=role.id, actor=world["as_manager"])
    accounts.save_role(session, role_id=role.id, grants=[], offered=offered, actor=world["as_root"])
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(RoleGrant).where(RoleGrant.group_id == role.id)) == 0


def test_not_permitted_is_the_refusal_type_of_the_guard(session, world):
    with pytest.raises(NotPermitted), session.begin_nested():
        accounts.guard_user(session, user_id=world["root"].id, actor=world["as_manager"])


def test_two_administrators_disabling_each_other_at_once_leave_one(engine):
    """The last-administrator rule is a count: held by a lock, so of two such requests at once one is refused."""
    import threading

    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    if engine.dialect.name != "postgresql":
        pytest.skip("two writers at once: PostgreSQL only (SQLite has one writer)")
    with Session(engine) as s, s.begin():
        marks = (s.scalar(select(func.max(AuditLog.id))) or 0, s.scalar(select(func.max(OperationLog.id))) or 0)
        a, b = (factories.user(s, username=name, superuser=True) for name in ("admin-a", "admin-b"))
        ids = a.id, b.id
        as_a, as_b = actor_for_user(s, a), actor_for_user(s, b)
    box: dict = {}
    try:
        first = Session(engine)
        first.begin()
        accounts.disable_user(first, username="admin-a", actor=as_b)

        def second():
            try:
                with Session(engine) as s, s.begin():
                    accounts.disable_user(s, username="admin-b", actor=as_a)
            except Refused as exc:
                box["error"] = exc

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # waiting for the first to finish
        first.commit()
        first.close()
        thread.join(15)
        assert "至少须保留一个启用的系统管理员账号" in box["error"].message
        with Session(engine) as s:
            assert dict(s.execute(select(User.username, User.is_active).where(User.id.in_(ids))).all()) == {
                "admin-a": False, "admin-b": True}
    finally:
        with Session(engine) as s, s.begin():
            s.execute(delete(User).where(User.id.in_(ids)))
            s.execute(delete(AuditLog).where(AuditLog.id > marks[0]))
            s.execute(delete(OperationLog).where(OperationLog.id > marks[1]))
