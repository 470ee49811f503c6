"""The role matrix: each role's default grants decide what the console opens (RELIABILITY A01, A09)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from models import Branch, DutyLog, Role, Shift, User
from seeds.roles import ROLE_NAMES, role_spec
from tests import factories

SAMPLE_VIEWS = ("service-request", "work-order", "bill", "payment", "customer", "score-event", "duty-log",
                "fee-type", "user", "role", "audit-log", "branch")


def _allowed(role: str, identity: str, action: str) -> bool:
    grants = set(role_spec(role).pairs())
    return bool({("*", "*"), (identity, action), (identity, "*"), ("*", action)} & grants)


@pytest.fixture
def p1(session):
    return factories.project(session, name="甲项目")


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_pages_open_exactly_as_the_role_grants(console, session, p1, role):
    factories.user(session, username="who", roles=[role], projects=[p1])
    c = console("who")
    for identity in SAMPLE_VIEWS:
        any_grant = any(i in (identity, "*") for i, _ in role_spec(role).pairs())
        listing = c.get(f"/admin/{identity}/list")
        assert (listing.status_code == 200) == any_grant, (role, identity, listing.status_code)
        create = c.get(f"/admin/{identity}/create")
        # A 分公司 is company-wide reference data: not created by an account of one project, whatever its role.
        view_creates = identity not in ("audit-log", "branch")
        expected = any_grant and view_creates and _allowed(role, identity, "create")
        assert (create.status_code == 200) == expected, (role, identity, create.status_code)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_delete_needs_the_delete_grant(console, session, p1, role):
    factories.user(session, username="who", roles=[role], projects=[p1])
    log = DutyLog(project=p1, duty_date=dt.date(2026, 11, 1), shift=list(Shift)[0],
                  on_duty=factories.staff(session, project_=p1))
    session.add(log)
    session.flush()
    c = console("who")
    response = c.delete(f"/admin/duty-log/delete?pks={log.id}")
    still_there = session.scalar(select(DutyLog.id).where(DutyLog.id == log.id)) is not None
    if _allowed(role, "duty-log", "delete"):
        assert response.status_code == 200 and not still_there
    else:
        assert response.status_code == 403 and still_there


def test_cashier_cannot_give_itself_a_role(console, session, p1):
    cashier = factories.user(session, username="cashier", roles=["收费员"], projects=[p1])
    admin_role = session.scalar(select(Role).where(Role.name == "系统管理员"))
    c = console("cashier")
    response = c.post(f"/admin/user/edit/{cashier.id}", {"roles": str(admin_role.id), "username": "cashier"})
    assert response.status_code in (400, 403)
    session.expire_all()
    assert [r.name for r in session.get(User, cashier.id).roles] == ["收费员"]


def test_supervisor_cannot_create_a_superuser_or_grant_beyond_itself(console, session, p1):
    factories.user(session, username="sup", roles=["客服主管"], projects=[p1])
    users_before = session.scalar(select(func.count()).select_from(User))
    roles_before = session.scalar(select(func.count()).select_from(Role))
    c = console("sup")
    made = c.post("/admin/user/create", {"username": "evil", "is_superuser": "y", "new_password": "Evil-pass-123",
                                         "projects": str(p1.id)})
    assert made.status_code in (400, 403)
    role = c.post("/admin/role/create", {"name": "超级角色", "permissions": ["user:delete", "role:edit"]})
    assert role.status_code in (400, 403)
    assert session.scalar(select(func.count()).select_from(User)) == users_before
    assert session.scalar(select(func.count()).select_from(Role)) == roles_before
    assert not session.scalar(select(User).where(User.username == "evil"))


def test_branch_account_sees_all_projects_of_its_branch_only(session):
    from actions.actor import actor_for_user

    east = factories.branch(session, name="华东")
    west = factories.branch(session, name="华西")
    a = factories.project(session, branch_=east)
    b = factories.project(session, branch_=east)
    c = factories.project(session, branch_=west)
    user = factories.user(session, roles=["分公司管理"], branch_=east)
    actor = actor_for_user(session, user)
    assert actor.project_ids == frozenset({a.id, b.id})
    assert not actor.can_see(c.id)
    assert session.get(Branch, east.id) is not None


def test_role_pages_speak_chinese(console, session):
    """The role list's headers, a role's grants and the permission matrix name pages and actions in Chinese."""
    import re

    from models import RoleGrant

    factories.user(session, username="root", superuser=True)
    role = session.scalar(select(Role).where(Role.name == "客服主管"))
    grants = session.execute(select(RoleGrant.identity, RoleGrant.action).where(RoleGrant.group_id == role.id)).all()
    assert ("bill", "action:account") in grants
    c = console("root")
    listing = c.get("/admin/role/list").text
    headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", listing, re.S)]
    assert "编号" in headers and "id" not in headers

    details = c.get(f"/admin/role/details/{role.id}").text
    assert "accesses" not in details and "(bill:" not in details and "bill:action:account" not in details
    bill = re.search(r"<strong>账单</strong> <span class=\"text-muted small\">bill</span>：([^<]*)</div>", details)
    assert bill and "列表" in bill.group(1).split("、")
    pages = re.findall(r"<div><strong>([^<]+)</strong>", details)
    assert len(pages) == len({identity for identity, _ in grants})
    assert "收款记录" in pages and not any(":" in p for p in pages)

    edit = c.get(f"/admin/role/edit/{role.id}").text
    rows = re.findall(r'<td class="w-25"><strong>(.*?)</strong><div class="text-muted small">(.*?)</div>', edit)
    assert ("账单", "bill") in rows and ("操作日志", "operation-log") in rows
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name, _ in rows), rows


def test_butler_keeps_the_state_of_units_but_not_their_master_data(console, session, p1):
    """README: 楼宇管家 look after units (空置 / 已交房 / 装修中 / 已入住). They edit a unit's state and dates; its
    project, building, room, area and responsible staff stay with the roles that may create units."""
    import html
    import re
    from decimal import Decimal

    from models import AuditKind, AuditLog, Unit, UnitStatus

    p2 = factories.project(session, name="乙项目")
    unit = factories.unit(session, project_=p1, room_no="1201", status=UnitStatus.HANDED_OVER)
    theirs = factories.unit(session, project_=p2, room_no="1202", status=UnitStatus.HANDED_OVER)
    butler = factories.user(session, username="guanjia", roles=["楼宇管家"], projects=[p1])
    factories.user(session, username="desk", roles=["前台客服"], projects=[p1])
    factories.user(session, username="cashier", roles=["收费员"], projects=[p1])
    factories.user(session, username="root", superuser=True)
    assert ("unit", "edit") in role_spec("楼宇管家").pairs() and ("unit", "create") not in role_spec("楼宇管家").pairs()

    def fields(page: str) -> set[str]:
        # (the record's version and the form's one-time number travel with every form: bookkeeping, not fields the
        # butler edits)
        return set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([a-z_]+)"', page)) - {"csrf_token", "save",
                                                                                              "version", "form_token"}

    c = console("guanjia")
    page = c.get(f"/admin/unit/edit/{unit.id}")
    assert page.status_code == 200
    assert fields(page.text) == {"status", "handover_date", "move_in_date"}
    # dates that cannot be: in the future, moving in before the handover or with none: refused, nothing written
    for dates, reason in (
        ({"handover_date": "2031-01-01", "move_in_date": ""}, "交房日期 2031-01-01 晚于今天"),
        ({"handover_date": "2019-08-25", "move_in_date": "2018-01-01"}, "入住日期 2018-01-01 早于交房日期 2019-08-25"),
        ({"handover_date": "", "move_in_date": "2026-10-01"}, "有入住日期须先填写交房日期"),
    ):
        refused = c.post(f"/admin/unit/edit/{unit.id}", {"status": "occupied", **dates})
        assert refused.status_code == 400 and reason in html.unescape(refused.text), dates
    assert session.scalars(select(AuditLog).where(AuditLog.table_name == "unit", AuditLog.kind == AuditKind.UPDATE)).all() == []
    # a tampered form changes only what the butler's form has
    response = c.post(f"/admin/unit/edit/{unit.id}", {
        "status": "decorating", "handover_date": "2026-10-08", "move_in_date": "",
        "room_no": "9999", "area": "1", "project": str(p2.id), "butler": ""})
    assert response.status_code == 302, html.unescape(response.text)[:500]
    session.expire_all()
    row = session.get(Unit, unit.id)
    assert (row.status, row.handover_date.isoformat()) == (UnitStatus.DECORATING, "2026-10-08")
    assert (row.room_no, row.area, row.project_id) == ("1201", Decimal("89.50"), p1.id)
    audit = session.scalars(select(AuditLog).where(AuditLog.table_name == "unit", AuditLog.kind == AuditKind.UPDATE)).one()
    assert audit.actor_id == butler.id and set(audit.changes) == {"status", "handover_date"}
    # another project's unit stays out of reach
    assert c.get(f"/admin/unit/edit/{theirs.id}").status_code in (403, 404)
    assert c.post(f"/admin/unit/edit/{theirs.id}", {"status": "occupied"}).status_code in (403, 404)
    session.expire_all()
    assert session.get(Unit, theirs.id).status == UnitStatus.HANDED_OVER
    # the other roles are as they were: no unit edit for the front desk or the cashier, the whole form for the admin
    for who in ("desk", "cashier"):
        assert console(who).get(f"/admin/unit/edit/{unit.id}").status_code == 403
    full = fields(console("root").get(f"/admin/unit/edit/{unit.id}").text)
    assert {"room_no", "area", "building", "butler", "status"} <= full
