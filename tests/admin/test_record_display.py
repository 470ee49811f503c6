"""How the console names a record wherever it stands for it — a list column, a select2 picker, an edit form's
current value: by what a user recognises (房屋 楼栋-房号, who, when, which fee), never a bare 装修申请#99."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import (
    SHANGHAI,
    Department,
    DepartmentKind,
    MoveInChecklist,
    RenovationApplication,
    ScoreEvent,
    ScoringRule,
    StaffPosition,
    WorkerPermit,
    WorkOrder,
)
from tests import factories as f


def _lookup(console, identity: str, name: str, term: str) -> list[str]:
    response = console.get(f"/admin/{identity}/ajax/lookup", params={"name": name, "term": term})
    assert response.status_code == 200, response.text[:300]
    return [item["text"] for item in response.json()["results"]]


def _current(page: str, name: str) -> list[str]:
    """The texts a select2 field of an edit form starts with."""
    field = re.search(rf'<(?:input|select)[^>]*\bname="{name}"[^>]*>', page)
    assert field, f"no field {name}"
    data = re.search(r'data-json="([^"]*)"', field.group(0))
    return [item["text"] for item in json.loads(html.unescape(data.group(1)))] if data else []


@pytest.fixture
def site(session):
    p1, p2 = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    building = f.building(session, project_=p1, name="1栋")
    unit = f.unit(session, project_=p1, building_=building, room_no="101")
    owner = f.customer(session, project_=p1, name="张伟", unit_=unit)
    other_unit = f.unit(session, project_=p2, building_=f.building(session, project_=p2, name="1栋"), room_no="101")
    f.user(session, username="boss", superuser=True)
    f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    return {"p1": p1, "p2": p2, "unit": unit, "owner": owner, "other_unit": other_unit}


def test_renovation_and_move_in_pickers_name_the_unit_who_and_when(session, console, site):
    mine = RenovationApplication(project=site["p1"], unit=site["unit"], applicant="张伟", contractor="匠心装饰",
                                 start_date=dt.date(2026, 11, 1), end_date=dt.date(2026, 12, 31))
    # the same applicant in another project: never offered to a 锦绣华庭 user
    theirs = RenovationApplication(project=site["p2"], unit=site["other_unit"], applicant="张伟",
                                   start_date=dt.date(2026, 11, 2), end_date=dt.date(2026, 11, 30))
    checklist = MoveInChecklist(project=site["p1"], unit=site["unit"], customer=site["owner"], received_by="张伟",
                                handover_date=dt.date(2026, 10, 8))
    session.add_all([mine, theirs, checklist])
    session.flush()
    desk = console("desk")
    assert _lookup(desk, "worker-permit", "renovation", "张") == ["1栋-101 张伟（2026-11-01～2026-12-31）"]
    # typed as the desk says it: building-room finds the unit's records
    assert _lookup(desk, "worker-permit", "renovation", "1栋-101") == ["1栋-101 张伟（2026-11-01～2026-12-31）"]
    assert _lookup(desk, "house-defect", "checklist", "张") == ["1栋-101 张伟 2026-10-08 验收"]

    permit = WorkerPermit(project=site["p1"], renovation=mine, code="P-001", name="李师傅",
                          valid_from=dt.date(2026, 11, 1), valid_to=dt.date(2026, 12, 31))
    session.add(permit)
    session.flush()
    # the edit form starts with the record named the same way, and the list shows it so
    assert _current(desk.get(f"/admin/worker-permit/edit/{permit.id}").text, "renovation") == [
        "1栋-101 张伟（2026-11-01～2026-12-31）"]
    listing = html.unescape(desk.get("/admin/worker-permit/list").text)
    assert "1栋-101 张伟（2026-11-01～2026-12-31）" in listing and "装修申请#" not in listing


def test_bill_and_work_order_pickers_name_the_unit_fee_and_request(session, console, site):
    fee = f.fee_type(session, project_=site["p1"], name="物业管理费")
    bill = f.bill(session, unit_=site["unit"], fee_type_=fee, period="2026-11")
    request = f.service_request(session, project_=site["p1"], unit_=site["unit"], content="厨房水管漏水，楼下天花板渗水发黄")
    department = Department(project=site["p1"], name="工程部", kind=DepartmentKind.ENGINEERING)
    now = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
    order = WorkOrder(project=site["p1"], request=request, department=department, dispatched_at=now,
                      respond_due_at=now, complete_due_at=now)
    session.add(order)
    session.flush()
    boss = console("boss")
    # ends with 账单#id: the payment import reads a bill written so
    assert _lookup(boss, "payment", "bill", "2026-11") == [f"1栋-101 物业管理费 2026-11 账单#{bill.id}"]
    assert _lookup(boss, "payment", "bill", "1栋-101") == [f"1栋-101 物业管理费 2026-11 账单#{bill.id}"]
    assert _lookup(boss, "visit", "work_order", str(order.id)) == [
        f"派工单#{order.id} 1栋-101 厨房水管漏水，楼下天花板渗水发黄"]
    assert _lookup(boss, "visit", "request", "水管") == [f"报修(户内)#{request.id} 1栋-101 厨房水管漏水，楼下天花板渗水发黄"]


def test_score_events_show_their_rule_as_the_supervisor_reads_it(session, console, site):
    supervisor = f.user(session, username="zhuguan", roles=["客服主管"], projects=[site["p1"]])
    agent = f.staff(session, project_=site["p1"], name="王芳", position=StaffPosition.FRONT_DESK)
    rules = {r.code: r for r in session.scalars(select(ScoringRule).where(ScoringRule.code.in_(("5.1", "AUTO-COMPLAINT"))))}
    day = dt.datetime.now(SHANGHAI).date()
    session.add_all([
        ScoreEvent(project=site["p1"], staff=agent, event_date=day, rule=rules["5.1"], points=Decimal("-1"),
                   recorded_by=supervisor),
        ScoreEvent(project=site["p1"], staff=agent, event_date=day, rule=rules["AUTO-COMPLAINT"],
                   points=Decimal("-5"), source=rules["AUTO-COMPLAINT"].source, source_id=1),
    ])
    session.flush()
    c = console("zhuguan")
    listing = html.unescape(c.get("/admin/score-event/list").text)
    assert "5.1 仪容仪表：上班人员一律着工作服，统一式样标准：缺一" in listing
    assert "有效投诉：被业主有效投诉（投诉成立并指明被投诉员工）" in listing
    assert "AUTO-" not in listing
    # the rule picker of the form says the same
    assert "5.1 仪容仪表：上班人员一律着工作服，统一式样标准：缺一" in _lookup(c, "score-event", "rule", "5.1")


def test_a_units_page_shows_its_room_number_not_the_key_it_sorts_by(session, console, site):
    """A unit's details read 「房号排序 0000001302」 under 房号 1302 (a building's 「楼栋排序 0000000001栋」): the key the
    lists sort 2栋 before 10栋 by is none of the record's facts, and is left out; the room number stays."""
    from models import Unit

    unit = f.unit(session, project_=site["p1"], room_no="1302")
    session.flush()
    stored = session.scalar(select(Unit.sort_key).where(Unit.id == unit.id))
    assert stored and stored != "1302"  # the key is kept, and differs from the number
    c = console("desk")
    for path, hidden in ((f"/admin/unit/details/{unit.id}", "房号排序"),
                         (f"/admin/building/details/{unit.building_id}", "楼栋排序")):
        page = c.get(path)
        assert page.status_code == 200, path
        assert hidden not in page.text, path
    page = c.get(f"/admin/unit/details/{unit.id}").text
    assert "1302" in page and stored not in page
