"""工作台 (actions/workbench.py, queues.py, the top of the home page): each role's queue counts the records
waiting for it within its projects, and each count opens exactly those records."""

from __future__ import annotations

import datetime as dt
import html
import re

from models import MailItem, RequestKind, RequestStatus, utcnow
from tests import factories as f


def tiles(page) -> dict[str, tuple[int, str]]:
    """data-task → (count, href) of the 工作台 tiles."""
    found = re.findall(r'<a class="wuye-task[^"]*" href="([^"]*)" data-task="([^"]+)">\s*'
                       r'<span class="wuye-task-count">(\d+)</span>', page.text)
    return {key: (int(count), html.unescape(href)) for href, key, count in found}


def listed(c, href: str) -> int:
    page = c.get(href)
    assert page.status_code == 200, href
    match = re.search(r"共 (\d+) 条", re.sub(r"<[^>]+>", " ", page.text))
    return int(match.group(1)) if match else 0


def test_the_front_desk_sees_its_own_queue_and_each_count_opens_its_records(console, session):
    p1, p2 = f.project(session), f.project(session)
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    other = f.user(session, username="desk2", roles=["前台客服"], projects=[p1])
    unit = f.unit(session, project_=p1)
    mine = f.service_request(session, project_=p1, unit_=unit, receiver=desk)
    f.service_request(session, project_=p1, unit_=unit, receiver=other)
    f.service_request(session, project_=p2)  # another project's: never counted
    closed = f.service_request(session, project_=p1, receiver=desk, kind=RequestKind.INQUIRY)
    closed.status = RequestStatus.ANSWERED
    now = utcnow()
    session.add_all([
        MailItem(project=p1, recipient="张伟", received_at=now - dt.timedelta(days=1)),
        MailItem(project=p1, recipient="李娜", received_at=now - dt.timedelta(days=2), picked_up_at=now,
                 picked_up_by="李娜"),
        MailItem(project=p2, recipient="王芳", received_at=now),
    ])
    session.flush()

    c = console("desk")
    page = c.get("/admin/")
    assert page.status_code == 200 and "我的工作台" in page.text
    got = tiles(page)
    assert set(got) >= {"requests_pending", "callbacks_due", "first_asked", "mail_waiting", "loans_due"}
    assert "runs_to_approve" not in got and "arrears_to_chase" not in got  # not a front desk's queue
    assert got["requests_pending"][0] == 2 and got["first_asked"][0] == 1 and got["mail_waiting"][0] == 1
    assert got["callbacks_due"][0] == 0 and got["loans_due"][0] == 0
    for key, (count, href) in got.items():
        assert listed(c, href) == count, key
    first = c.get(got["first_asked"][1]).text
    assert f"/service-request/details/{mine.id}" in first and "我的首问" in first


def test_a_manager_is_told_a_power_cut_list_awaits_approval(console, session):
    from models import DunningRun, DunningRunStatus, DunningStage

    p1 = f.project(session)
    f.user(session, username="boss", roles=["客服经理"], projects=[p1])
    session.add(DunningRun(project=p1, run_key="k1", cycle="2026-11", stage=DunningStage.CUTOFF,
                           as_of=dt.date(2026, 11, 20), status=DunningRunStatus.PROPOSED))
    session.flush()
    c = console("boss")
    got = tiles(c.get("/admin/"))
    assert got["runs_to_approve"][0] == 1 and listed(c, got["runs_to_approve"][1]) == 1
    assert "major_open" in got and "kpis_off_target" in got
    assert "mail_waiting" not in got
    assert got["kpis_off_target"][1] == "#wuye-kpi-board"
