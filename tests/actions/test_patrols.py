"""巡查 (issue 19 item 8): a patrol with its route's whole checklist, findings kept, a finding made a request in one
step and linked back; scope and audit; the console's 登记巡查 and 转为报事 as POSTs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.patrols import CheckInput, FindingInput, record_patrol, report_finding
from models import (
    SHANGHAI,
    AuditLog,
    Channel,
    CheckResult,
    FindingStatus,
    OperationLog,
    Patrol,
    PatrolCheck,
    PatrolCheckItem,
    PatrolFinding,
    PatrolRoute,
    RequestCategory,
    RequestKind,
    ServiceRequest,
    StaffPosition,
)
from tests import factories as f

OK, BAD, SKIP = CheckResult.OK, CheckResult.ABNORMAL, CheckResult.SKIPPED
STARTED = dt.datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def case(session):
    p, other = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    b = f.building(session, project_=p, name="3栋")
    unit = f.unit(session, project_=p, building_=b, room_no="1303")
    butler = f.staff(session, project_=p, name="王管家", position=StaffPosition.BUTLER)
    guard = f.staff(session, project_=p, name="赵保安", position=StaffPosition.GUARD)
    route = PatrolRoute(project=p, name="3栋楼宇巡查", building=b)
    session.add(route)
    session.flush()
    items = [PatrolCheckItem(route_id=route.id, seq=n, item=text) for n, text in
             enumerate(("消防通道是否畅通", "楼道照明", "电梯运行"), 1)]
    retired = PatrolCheckItem(route_id=route.id, seq=9, item="报刊栏", active=False)
    session.add_all([*items, retired])
    theirs = PatrolRoute(project=other, name="地库巡查")
    session.add(theirs)
    session.flush()
    user = f.user(session, username="guanjia", roles=["楼宇管家"], projects=[p])
    user.staff_id = butler.id
    session.flush()
    return {"p": p, "unit": unit, "butler": butler, "guard": guard, "route": route, "items": items,
            "retired": retired, "theirs": theirs, "user": user, "actor": actor_for_user(session, user)}


def _all_ok(case, changes: dict[int, CheckInput] | None = None) -> dict[int, CheckInput]:
    return {i.id: CheckInput(OK) for i in case["items"]} | (changes or {})


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_patrol_records_every_item_and_its_findings(session, case):
    light = case["items"][1]
    done = record_patrol(
        session, route_id=case["route"].id, patroller_id=case["butler"].id, started_at=STARTED,
        ended_at=STARTED + dt.timedelta(minutes=40),
        results=_all_ok(case, {light.id: CheckInput(BAD, "12楼声控灯不亮"), case["items"][2].id: CheckInput(SKIP)}),
        findings=[FindingInput("12楼声控灯不亮", location="3栋12楼楼道", item_id=light.id,
                               category=RequestCategory.PLUMBING),
                  FindingInput("门口有纸屑", location="3栋大堂", category=RequestCategory.CLEANING, resolved=True),
                  FindingInput("阳台外置罩", unit="3栋-1303", category=RequestCategory.DEFECT)],
        summary="总体正常", actor=case["actor"])
    assert done.message == f"已登记巡查 #{done.patrol_id}：3 项检查，1 项异常，3 条发现"
    patrol = session.get(Patrol, done.patrol_id)
    assert (patrol.project_id, patrol.abnormal, patrol.recorded_by_id) == (case["p"].id, 1, case["user"].id)
    checks = {c.item_id: (c.result, c.note) for c in session.scalars(select(PatrolCheck))}
    assert checks == {case["items"][0].id: (OK, ""), light.id: (BAD, "12楼声控灯不亮"), case["items"][2].id: (SKIP, "")}
    findings = session.scalars(select(PatrolFinding).order_by(PatrolFinding.id)).all()
    assert [(x.status, x.unit_id, x.item_id) for x in findings] == [
        (FindingStatus.OPEN, None, light.id), (FindingStatus.RESOLVED, None, None),
        (FindingStatus.OPEN, case["unit"].id, None)]
    assert session.scalar(select(AuditLog.actor_id).where(AuditLog.table_name == "patrol")) == case["user"].id
    assert session.scalar(select(OperationLog.counts).where(OperationLog.operation == "record_patrol")) == {
        "checked": 3, "abnormal": 1, "findings": 3}


@pytest.mark.parametrize("change, message", [
    ("missing", "以下检查项未填写结果（未检查的请选“未查”）：3.电梯运行"),
    ("unexplained", "异常的检查项须说明情况：1.消防通道是否畅通"),
    ("retired", "检查项不属于路线「3栋楼宇巡查」"),
    ("guard", "巡查人须为客服人员（前台客服、楼宇管家、收费员）：赵保安是秩序维护员"),
    ("ended", "结束时间不能早于开始时间"),
    ("future", "巡查时间不能晚于当前时间"),
    ("unit", "房屋「9栋-101」在本项目中找不到"),
    ("blank", "请填写问题描述"),
])
def test_refusals_write_nothing(session, case, change, message):
    items = case["items"]
    kwargs = {"route_id": case["route"].id, "patroller_id": case["butler"].id, "started_at": STARTED,
              "results": _all_ok(case), "findings": []}
    if change == "missing":
        del kwargs["results"][items[2].id]
    elif change == "unexplained":
        kwargs["results"][items[0].id] = CheckInput(BAD, " ")
    elif change == "retired":
        kwargs["results"][case["retired"].id] = CheckInput(OK)
    elif change == "guard":
        kwargs["patroller_id"] = case["guard"].id
    elif change == "ended":
        kwargs["ended_at"] = STARTED - dt.timedelta(minutes=1)
    elif change == "future":
        kwargs["started_at"] = dt.datetime.now(SHANGHAI) + dt.timedelta(hours=1)
    elif change == "unit":
        kwargs["findings"] = [FindingInput("漏水", unit="9栋-101")]
    elif change == "blank":
        kwargs["findings"] = [FindingInput("  ")]
    with pytest.raises(Refused, match=message.replace("（", r"\（").replace("）", r"\）")):
        record_patrol(session, **kwargs, actor=case["actor"])
    assert (_count(session, Patrol), _count(session, PatrolCheck), _count(session, PatrolFinding)) == (0, 0, 0)


def test_another_projects_route_is_not_permitted(session, case):
    with pytest.raises(NotPermitted):
        record_patrol(session, route_id=case["theirs"].id, patroller_id=case["butler"].id, started_at=STARTED,
                      results={}, actor=case["actor"])
    assert _count(session, Patrol) == 0


def test_a_finding_becomes_a_request_once(session, case):
    done = record_patrol(
        session, route_id=case["route"].id, patroller_id=case["butler"].id, started_at=STARTED,
        results=_all_ok(case), findings=[FindingInput("阳台外置罩", unit="3栋-1303", category=RequestCategory.DEFECT),
                                         FindingInput("大堂地面湿滑", location="3栋大堂"),
                                         FindingInput("纸屑", location="大堂", resolved=True)],
        actor=case["actor"])
    private, public, resolved = done.findings
    first = report_finding(session, finding_id=private, actor=case["actor"])
    assert first.created and first.message == f"巡查发现#{private} 已转为诉求 #{first.request_id}，请派工跟进"
    request = session.get(ServiceRequest, first.request_id)
    assert (request.channel, request.kind, request.category, request.unit_id, request.first_staff_id) == (
        Channel.PATROL, RequestKind.REPAIR_PRIVATE, RequestCategory.DEFECT, case["unit"].id, case["butler"].id)
    assert request.content == "巡查发现：阳台外置罩"
    finding = session.get(PatrolFinding, private)
    assert (finding.status, finding.request_id) == (FindingStatus.REPORTED, first.request_id)

    again = report_finding(session, finding_id=private, actor=case["actor"])
    assert (again.created, again.request_id) == (False, first.request_id)
    assert _count(session, ServiceRequest) == 1

    second = report_finding(session, finding_id=public, actor=case["actor"])
    request = session.get(ServiceRequest, second.request_id)
    assert (request.kind, request.content) == (RequestKind.REPAIR_PUBLIC, "巡查发现：3栋大堂 大堂地面湿滑")
    with pytest.raises(Refused, match="现场已处理，无需报事"):
        report_finding(session, finding_id=resolved, actor=case["actor"])
    assert _count(session, ServiceRequest) == 2
    assert session.scalar(select(func.count()).select_from(OperationLog)
                          .where(OperationLog.operation == "report_finding")) == 2


def test_a_finding_of_another_project_is_not_reported(session, case):
    other_user = f.user(session, username="other", roles=["楼宇管家"], projects=[case["theirs"].project])
    done = record_patrol(session, route_id=case["route"].id, patroller_id=case["butler"].id, started_at=STARTED,
                         results=_all_ok(case), findings=[FindingInput("灯不亮")], actor=case["actor"])
    with pytest.raises(Refused, match="不存在或无权查看"):
        report_finding(session, finding_id=done.findings[0], actor=actor_for_user(session, other_user))
    assert _count(session, ServiceRequest) == 0


def test_the_console_records_a_patrol_and_reports_its_finding(session, console, case):
    butler = console("guanjia")
    items = case["items"]
    page = butler.get(f"/admin/patrol/record?route_id={case['route'].id}")
    assert page.status_code == 200 and "消防通道是否畅通" in page.text and "报刊栏" not in page.text
    form = {"route_id": str(case["route"].id), "patroller_id": str(case["butler"].id),
            "started_at": "2026-11-20T09:00", "ended_at": "2026-11-20T09:40",
            **{f"result_{i.id}": "ok" for i in items}, f"result_{items[1].id}": "abnormal",
            "finding_1": "12楼声控灯不亮", "finding_location_1": "12楼", "finding_category_1": "plumbing"}
    refused = butler.post("/admin/patrol/record", form)
    assert refused.status_code == 400 and "异常的检查项须说明情况：2.楼道照明" in refused.text
    assert 'value="12楼声控灯不亮"' in refused.text and _count(session, Patrol) == 0  # the typing is kept
    saved = butler.post("/admin/patrol/record", {**form, f"note_{items[1].id}": "声控灯不亮"})
    assert saved.status_code == 303
    patrol = session.scalars(select(Patrol)).one()
    assert saved.headers["location"].endswith(f"/admin/patrol/details/{patrol.id}")
    assert patrol.started_at == STARTED and patrol.abnormal == 1
    details = butler.get(f"/admin/patrol/details/{patrol.id}")
    assert "2. 楼道照明：异常（声控灯不亮）" in details.text

    finding = session.scalars(select(PatrolFinding)).one()
    confirm = butler.get(f"/admin/patrol-finding/action/report-finding?pks={finding.id}")
    assert confirm.status_code == 200 and "12楼声控灯不亮" in confirm.text
    reported = butler.post("/admin/patrol-finding/report", {"finding_id": str(finding.id), "kind": "",
                                                            "priority": "high"})
    assert reported.status_code == 303
    session.expire_all()
    finding = session.get(PatrolFinding, finding.id)
    assert finding.status is FindingStatus.REPORTED
    assert session.get(ServiceRequest, finding.request_id).channel is Channel.PATROL


def test_the_console_scopes_patrols(session, console, case):
    theirs = case["theirs"]
    item = PatrolCheckItem(route_id=theirs.id, seq=1, item="地库照明")
    session.add(item)
    session.flush()
    butler = console("guanjia")
    assert butler.get(f"/admin/patrol/record?route_id={theirs.id}").status_code == 403
    assert "地库照明" not in butler.get("/admin/patrol-check-item/list").text
    assert butler.get(f"/admin/patrol-check-item/details/{item.id}").status_code in (403, 404)


def test_patrols_export_as_xlsx_for_the_supervisor_only(session, console, case):
    record_patrol(session, route_id=case["route"].id, patroller_id=case["butler"].id, started_at=STARTED,
                  results=_all_ok(case), findings=[FindingInput("灯不亮", location="12楼")], actor=case["actor"])
    f.user(session, username="zhuguan", roles=["客服主管"], projects=[case["p"]])
    sheet = console("zhuguan").post("/admin/patrol-finding/export/xlsx")
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    assert console("guanjia").post("/admin/patrol-finding/export/xlsx").status_code == 403
