"""楼宇周报 (issue 19): per building and week, the matters reported by kind and status, hand-counted."""

from __future__ import annotations

import datetime as dt

import pytest

from actions.actor import actor_for_user
from actions.building_week import NO_BUILDING, building_week, butlers
from actions.errors import NotPermitted
from models import SHANGHAI, RequestKind, RequestStatus
from tests import factories as f

MONDAY = dt.date(2026, 11, 9)


def _at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def week(session):
    """锦绣华庭: 2栋 and 10栋 looked after by 王管家, 3栋 by 李管家. The week of 11-09 … 11-15 (Beijing time):
    2栋  two repairs (one closed) and a complaint; 10栋 an inquiry; 3栋 nothing; one public-area request without a
    unit. Outside the week: 2栋 a repair on Sunday 11-08 23:30 and on Monday 11-16 00:10; another project's request."""
    p, other = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    wang = f.staff(session, project_=p, name="王管家")
    li = f.staff(session, project_=p, name="李管家")
    b2, b10, b3 = (f.building(session, project_=p, name=n) for n in ("2栋", "10栋", "3栋"))
    b2.butler_id = b10.butler_id = wang.id
    b3.butler_id = li.id
    u2, u10 = f.unit(session, project_=p, building_=b2), f.unit(session, project_=p, building_=b10)
    for unit, kind, when, status in (
        (u2, RequestKind.REPAIR_PRIVATE, _at(9, 9), RequestStatus.CLOSED),
        (u2, RequestKind.REPAIR_PRIVATE, _at(12), RequestStatus.PENDING),
        (u2, RequestKind.COMPLAINT, _at(15, 22), RequestStatus.DISPATCHED),
        (u10, RequestKind.INQUIRY, _at(11), RequestStatus.ANSWERED),
        (None, RequestKind.REPAIR_PUBLIC, _at(13), RequestStatus.PENDING),
        (u2, RequestKind.REPAIR_PRIVATE, dt.datetime(2026, 11, 8, 23, 30, tzinfo=SHANGHAI), RequestStatus.PENDING),
        (u2, RequestKind.REPAIR_PRIVATE, dt.datetime(2026, 11, 16, 0, 10, tzinfo=SHANGHAI), RequestStatus.PENDING),
    ):
        row = f.service_request(session, project_=p, kind=kind, unit_=unit, received_at=when)
        row.status = status
    f.service_request(session, project_=other, received_at=_at(10))
    user = f.user(session, username="wang", roles=["楼宇管家"], projects=[p])
    user.staff_id = wang.id
    session.flush()
    return {"p": p, "other": other, "wang": wang, "li": li, "b2": b2, "actor": actor_for_user(session, user)}


def _row(report, name):
    line = next(ln for ln in report.lines + (report.totals,) if ln.building == name)
    kinds = {k: n for k, n in zip(report.kinds, line.by_kind, strict=True) if n}
    statuses = {s: n for s, n in zip(report.statuses, line.by_status, strict=True) if n}
    return line.butler, kinds, statuses, line.total


def test_every_building_of_the_project_in_natural_order_with_its_weeks_matters(session, week):
    report = building_week(session, project_id=week["p"].id, week=dt.date(2026, 11, 12), actor=week["actor"])
    assert (report.week_start, report.week_end) == (MONDAY, dt.date(2026, 11, 15))
    assert [ln.building for ln in report.lines] == ["2栋", "3栋", "10栋", NO_BUILDING]
    assert _row(report, "2栋") == ("王管家", {RequestKind.REPAIR_PRIVATE: 2, RequestKind.COMPLAINT: 1},
                                  {RequestStatus.CLOSED: 1, RequestStatus.PENDING: 1, RequestStatus.DISPATCHED: 1}, 3)
    assert _row(report, "3栋") == ("李管家", {}, {}, 0)
    assert _row(report, "10栋") == ("王管家", {RequestKind.INQUIRY: 1}, {RequestStatus.ANSWERED: 1}, 1)
    assert _row(report, NO_BUILDING) == ("", {RequestKind.REPAIR_PUBLIC: 1}, {RequestStatus.PENDING: 1}, 1)
    assert _row(report, "合计")[3] == 5


def test_a_butlers_report_is_their_buildings(session, week):
    assert butlers(session, project_id=week["p"].id, actor=week["actor"]).own == week["wang"].id
    report = building_week(session, project_id=week["p"].id, week=MONDAY, butler_id=week["wang"].id,
                           actor=week["actor"])
    assert [ln.building for ln in report.lines] == ["2栋", "10栋"] and report.totals.total == 4
    assert report.butler_name == "王管家"


def test_another_projects_week_or_butler_is_refused(session, week):
    with pytest.raises(NotPermitted):
        building_week(session, project_id=week["other"].id, week=MONDAY, actor=week["actor"])
    stranger = f.staff(session, project_=week["other"], name="周外")
    with pytest.raises(NotPermitted, match="不是锦绣华庭的员工"):
        building_week(session, project_id=week["p"].id, week=MONDAY, butler_id=stranger.id, actor=week["actor"])


def test_a_unit_with_its_own_butler_is_counted_in_that_butlers_report(session, week):
    """A unit's own 责任管家 comes first, as 走访 and the mail notices count it: 楼宇周报 had counted every unit of a
    building for the building's butler. 2栋 room with 赵管家 as its 责任管家 (who looks after no building): its two
    matters of the week are in 赵's report, not in 王's; the project's report names both on 2栋's line, counts the
    same in all, and 赵 is one of the butlers to choose."""
    p = week["p"]
    zhao = f.staff(session, project_=p, name="赵管家")
    unit = f.unit(session, project_=p, building_=week["b2"])
    unit.butler_id = zhao.id
    for kind, status in ((RequestKind.REPAIR_PRIVATE, RequestStatus.PENDING), (RequestKind.HELP, RequestStatus.CLOSED)):
        f.service_request(session, project_=p, kind=kind, unit_=unit, received_at=_at(10)).status = status
    session.flush()

    def report(butler=None):
        return building_week(session, project_id=p.id, week=MONDAY, butler_id=butler and butler.id,
                             actor=week["actor"])

    wangs = report(week["wang"])
    assert [ln.building for ln in wangs.lines] == ["2栋", "10栋"] and wangs.totals.total == 4
    zhaos = report(zhao)
    assert [ln.building for ln in zhaos.lines] == ["2栋"]
    assert _row(zhaos, "2栋") == ("赵管家", {RequestKind.REPAIR_PRIVATE: 1, RequestKind.HELP: 1},
                                  {RequestStatus.PENDING: 1, RequestStatus.CLOSED: 1}, 2)
    whole = report()
    assert _row(whole, "2栋")[0] == "王管家、赵管家" and _row(whole, "2栋")[3] == 5 and whole.totals.total == 7
    assert (zhao.id, "赵管家") in butlers(session, project_id=p.id, actor=week["actor"]).choices
