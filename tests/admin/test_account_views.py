"""The console's 账号 / 角色 pages and the company-wide reference data (issue 14, items 6 and 7): what a delegated
account manager or a one-project 客服经理 asks for is refused in Chinese, and nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from actions.accounts import ADMIN_ROLE
from models import OperationLog, Role, RoleGrant, RoutingRule, ScoringRule, SlaRule, User, user_role
from tests import factories


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _rows(session, model) -> list[tuple]:
    session.expire_all()
    table = model.__table__
    return [tuple(row) for row in session.execute(select(table).order_by(table.c.id))]


@pytest.fixture
def world(session):
    p1 = factories.project(session, name="锦绣华庭")
    keeper = Role(name="账号管理", description="")
    keeper.accesses = [RoleGrant(identity=i, action=a) for i in ("user", "role")
                       for a in ("list", "details", "create", "edit", "delete")]
    session.add(keeper)
    session.flush()
    factories.user(session, username="root", superuser=True)
    manager = factories.user(session, username="mgr", roles=["客服经理", "账号管理"], projects=[p1])
    desk = factories.user(session, username="desk", roles=["前台客服"], projects=[p1])
    return {"p1": p1, "manager": manager, "desk": desk, "admin_role": session.scalar(
        select(Role).where(Role.name == ADMIN_ROLE))}


def _role_state(session, role_id: int) -> tuple:
    session.expire_all()
    return (session.get(Role, role_id) is not None,
            _count(session, RoleGrant, RoleGrant.group_id == role_id),
            _count(session, user_role, user_role.c.group_id == role_id))


@pytest.mark.parametrize("who", ["mgr", "root"])
def test_nobody_deletes_the_admin_role(console, session, world, who):
    factories.user(session, username="holder", roles=[ADMIN_ROLE], projects=[world["p1"]])
    role_id = world["admin_role"].id
    before = _role_state(session, role_id)
    assert before[0] and before[1] and before[2]
    response = console(who).delete(f"/admin/role/delete?pks={role_id}")
    assert response.status_code == 403
    assert _role_state(session, role_id) == before


def test_a_delegated_manager_cannot_edit_the_admin_role(console, session, world):
    role_id = world["admin_role"].id
    before = _rows(session, Role), _rows(session, RoleGrant)
    c = console("mgr")
    assert c.get(f"/admin/role/edit/{role_id}").status_code == 403
    assert c.post(f"/admin/role/edit/{role_id}", {"name": "随便", "description": ""}).status_code == 403
    assert (_rows(session, Role), _rows(session, RoleGrant)) == before


def test_a_delegated_manager_edits_an_account_through_the_action(console, session, world):
    desk = world["desk"]
    epoch = desk.session_epoch
    response = console("mgr").post(f"/admin/user/edit/{desk.id}", {
        "username": "desk", "display_name": "前台小王", "is_active": "y", "roles": [str(r.id) for r in desk.roles],
        "projects": str(world["p1"].id), "new_password": "brand-new-pass-1",
    })
    assert response.status_code == 302, response.text
    session.expire_all()
    saved = session.get(User, desk.id)
    assert saved.display_name == "前台小王" and saved.session_epoch == epoch + 1
    log = session.scalar(select(OperationLog).where(OperationLog.operation == "save_user"))
    assert log.actor_id == world["manager"].id and log.params["password_changed"] is True


def test_a_delegated_manager_cannot_take_over_an_account_of_two_projects(console, session, world):
    """翠湖天地's staff member also helps at 锦绣华庭: a new password from 锦绣华庭's manager would open 翠湖天地 to
    him — refused on the edit form, nothing saved, the session kept."""
    p2 = factories.project(session, name="翠湖天地")
    both = factories.user(session, username="both", roles=["前台客服"], projects=[world["p1"], p2])
    c = console("mgr")
    before = _rows(session, User), _count(session, OperationLog)
    response = c.post(f"/admin/user/edit/{both.id}", {
        "username": "both", "display_name": "both", "is_active": "y", "roles": [str(r.id) for r in both.roles],
        "projects": str(world["p1"].id), "new_password": "taken-over-pass-1", "version": str(both.version),
    })
    assert response.status_code in (400, 403)
    assert "该账号还可访问其他项目，不能修改其密码" in response.text
    assert (_rows(session, User), _count(session, OperationLog)) == before


def test_a_delegated_manager_cannot_make_itself_admin(console, session, world):
    manager = world["manager"]
    c = console("mgr")  # the login itself writes 最近登录
    before = _rows(session, User), _count(session, user_role)
    response = c.post(f"/admin/user/edit/{manager.id}", {
        "username": "mgr", "display_name": "mgr", "is_active": "y", "is_superuser": "y",
        "roles": [str(r.id) for r in manager.roles] + [str(world["admin_role"].id)], "projects": str(world["p1"].id),
    })
    assert response.status_code == 400
    assert "只有系统管理员可以设置系统管理员" in response.text
    assert (_rows(session, User), _count(session, user_role)) == before


# --- company-wide reference data (issue 14, item 6) ----------------------------------------------------------
def test_a_one_project_manager_cannot_touch_company_wide_rules(console, session, world):
    routing = session.scalar(select(RoutingRule).order_by(RoutingRule.id))
    rule = session.scalar(select(ScoringRule).where(ScoringRule.valid_to.is_(None)).order_by(ScoringRule.id))
    shared_sla = session.scalar(select(SlaRule).where(SlaRule.project_id.is_(None)).order_by(SlaRule.id))
    before = [_rows(session, m) for m in (RoutingRule, ScoringRule, SlaRule)]
    c = console("mgr")
    for url in (f"/admin/routing-rule/edit/{routing.id}", f"/admin/scoring-rule/edit/{rule.id}",
                "/admin/scoring-rule/create", f"/admin/sla-rule/edit/{shared_sla.id}"):
        assert c.get(url).status_code == 403, url
        assert c.post(url, {"description": "改了", "respond_minutes": "1"}).status_code == 403, url
    assert c.delete(f"/admin/routing-rule/delete?pks={routing.id}").status_code == 403
    form = c.get(f"/admin/scoring-rule/action/revise-rule?pks={rule.id}")
    assert form.status_code == 403 and "各项目共用的基础数据" in form.text
    revise = c.post("/admin/scoring-rule/revise", {
        "rule_id": str(rule.id), "valid_from": (dt.date.today() + dt.timedelta(days=40)).isoformat(),
        "points_min": str(rule.points_min), "points_max": str(rule.points_max), "description": "改了"})
    assert revise.status_code == 403
    assert "「考核细则」是各项目共用的基础数据，只有拥有全公司权限的账号可以修改" in revise.text
    assert [_rows(session, m) for m in (RoutingRule, ScoringRule, SlaRule)] == before
    # The rules of his own project stay his: an SLA rule of 锦绣华庭 can still be made.
    made = c.post("/admin/sla-rule/create", {"project": str(world["p1"].id), "kind": shared_sla.kind.value,
                                             "priority": shared_sla.priority.value, "respond_minutes": "15",
                                             "complete_hours": "4"})
    assert made.status_code == 302, made.text
    assert _count(session, SlaRule, SlaRule.project_id == world["p1"].id) == 1


def test_who_sees_every_project_edits_them(console, session, world):
    routing = session.scalar(select(RoutingRule).order_by(RoutingRule.id))
    c = console("root")
    assert c.get(f"/admin/routing-rule/edit/{routing.id}").status_code == 200
    assert c.get("/admin/scoring-rule/create").status_code == 200


def test_an_account_is_created_and_deleted_through_the_actions(console, session, world):
    c = console("root")
    made = c.post("/admin/user/create", {"username": "newbie", "display_name": "新人", "is_active": "y",
                                         "roles": str(world["desk"].roles[0].id), "projects": str(world["p1"].id),
                                         "new_password": "first-pass-123"})
    assert made.status_code == 302, made.text
    newbie = session.scalar(select(User).where(User.username == "newbie"))
    assert [r.name for r in newbie.roles] == ["前台客服"] and [p.id for p in newbie.projects] == [world["p1"].id]
    without = c.post("/admin/user/create", {"username": "nopass", "is_active": "y"})
    assert without.status_code == 400 and "请设置初始密码" in without.text
    assert session.scalar(select(User).where(User.username == "nopass")) is None
    newbie_id = newbie.id
    assert c.delete(f"/admin/user/delete?pks={newbie_id}").status_code == 200
    session.expire_all()
    assert session.get(User, newbie_id) is None
    ops = session.scalars(select(OperationLog.operation).where(OperationLog.params["user"].as_string() == "newbie")
                          .order_by(OperationLog.id)).all()
    assert ops == ["save_user", "delete_user"]
