"""The sidebar menu, drawn once per kind of user (admin/menu.py), and the list page's filter choices, read with
its rows: what each user sees is still exactly what their grants and projects allow, on every request."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from actions.accounts import grant_roles
from actions.actor import SYSTEM
from models import DutyLog, Shift
from tests import factories

BILLS, ORDERS = 'href="http://testserver/admin/bill/list"', 'href="http://testserver/admin/work-order/list"'


def menu(page) -> str:
    assert page.status_code == 200, page.status_code
    return page.text.split('id="navbarSupportedContent">', 1)[1].split("</nav>", 1)[0]


def active_links(page) -> list[str]:
    return re.findall(r'class="nav-link ps-lg-3 active" (href="[^"]*")', menu(page))


@pytest.fixture
def projects(session):
    return factories.project(session, name="甲项目"), factories.project(session, name="乙项目")


def test_a_user_sees_the_links_of_their_grants_whoever_was_drawn_before(app, console, session, projects):
    p1, p2 = projects
    factories.user(session, username="sup1", roles=["客服主管"], projects=[p1])
    factories.user(session, username="sup2", roles=["客服主管"], projects=[p2])
    factories.user(session, username="eng", roles=["工程部"], projects=[p1])
    sup1, sup2, eng = console("sup1"), console("sup2"), console("eng")
    for _ in range(2):  # the second round is answered from the drawn menus
        assert BILLS in menu(sup1.get("/admin/work-order/list"))
        assert BILLS not in menu(eng.get("/admin/work-order/list"))  # 工程部 holds no grant on bills
        assert BILLS in menu(sup2.get("/admin/work-order/list"))
        assert ORDERS in menu(eng.get("/admin/"))
    # the same grants in other projects are another kind of user: drawn apart, with the same links
    drawn = app.state.admin.templates.env.globals["sidebar_menu"].drawn
    scopes = {key[2] for key in drawn}
    assert {frozenset({p1.id}), frozenset({p2.id})} <= scopes
    assert menu(sup1.get("/admin/work-order/list")) == menu(sup2.get("/admin/work-order/list"))


def test_a_role_given_or_taken_shows_on_the_next_page(console, session, projects):
    p1, _ = projects
    factories.user(session, username="eng", roles=["工程部"], projects=[p1])
    factories.user(session, username="root", roles=["系统管理员"])  # roles change only while one remains
    eng = console("eng")
    assert BILLS not in menu(eng.get("/admin/"))
    assert eng.get("/admin/bill/list").status_code == 403

    grant_roles(session, username="eng", add=["收费员"], actor=SYSTEM)
    session.flush()
    assert BILLS in menu(eng.get("/admin/"))
    assert eng.get("/admin/bill/list").status_code == 200

    grant_roles(session, username="eng", remove=["收费员"], actor=SYSTEM)
    session.flush()
    assert BILLS not in menu(eng.get("/admin/"))
    assert eng.get("/admin/bill/list").status_code == 403


def test_each_page_marks_its_own_entry_active(console, session, projects):
    p1, _ = projects
    factories.user(session, username="sup", roles=["客服主管"], projects=[p1])
    sup = console("sup")
    assert active_links(sup.get("/admin/bill/list")) == [BILLS]
    assert active_links(sup.get("/admin/work-order/list")) == [ORDERS]
    assert active_links(sup.get("/admin/bill/list?status=unpaid")) == [BILLS]
    assert active_links(sup.get("/admin/")) == []


def test_a_list_reads_its_filter_choices_with_its_rows(app, console, session, projects, monkeypatch):
    p1, p2 = projects
    factories.user(session, username="sup", roles=["客服主管"], projects=[p1])
    view = next(v for v in app.state.admin.views if getattr(v, "identity", None) == "work-order")

    def refused(_stmt):
        raise AssertionError("a filter read its choices in a session of its own")

    monkeypatch.setattr(view, "_run_arbitrary_query", refused)
    page = console("sup").get("/admin/work-order/list")
    assert page.status_code == 200
    # the 项目 filter offers the user's project only
    assert f'project_id={p1.id}"' in page.text and f'project_id={p2.id}"' not in page.text


def test_a_lists_rows_link_as_the_users_rights_allow(console, session, projects):
    """The rows worked out once per page (ScopedModelView.list_rows): details, edit (keeping the list's query)
    and delete links for who may, none of them for who may not."""
    p1, _ = projects
    log = DutyLog(project=p1, duty_date=dt.date(2026, 11, 1), shift=list(Shift)[0],
                  on_duty=factories.staff(session, project_=p1))
    session.add(log)
    session.flush()
    factories.user(session, username="root", superuser=True)
    factories.user(session, username="branch", roles=["分公司管理"], projects=[p1])  # lists and reads, no more
    rows = console("root").get("/admin/duty-log/list?pageSize=50").text
    assert f'href="http://testserver/admin/duty-log/details/{log.id}"' in rows
    assert f'href="http://testserver/admin/duty-log/edit/{log.id}?pageSize=50"' in rows
    assert f'data-url="http://testserver/admin/duty-log/delete?pks={log.id}"' in rows
    page = console("branch").get("/admin/duty-log/list")
    assert page.status_code == 200
    assert f'href="http://testserver/admin/duty-log/details/{log.id}"' in page.text
    assert f"/admin/duty-log/edit/{log.id}" not in page.text
    assert f"/admin/duty-log/delete?pks={log.id}" not in page.text


def test_a_related_record_is_a_link_only_for_who_may_open_it(console, session, projects):
    """A project's 分公司 on the project list and page: a link for who may open branches, plain text for a
    前台客服 (the link answered 403)."""
    p1, _ = projects
    factories.user(session, username="root", superuser=True)
    factories.user(session, username="desk", roles=["前台客服"], projects=[p1])
    branch = f'href="http://testserver/admin/branch/details/{p1.branch_id}"'
    for page in (f"/admin/project/list?search={p1.name}", f"/admin/project/details/{p1.id}"):
        assert branch in console("root").get(page).text, page
        shown = console("desk").get(page)
        assert shown.status_code == 200 and p1.branch.name in shown.text, page
        assert branch not in shown.text, page
    assert console("desk").get(f"/admin/branch/details/{p1.branch_id}").status_code == 403
