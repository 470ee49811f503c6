"""变更记录, 操作日志 and 导入批次 in the console: every operation code the code base writes is shown in Chinese,
and a log's details name what it stores — users, projects and records by name, codes by their Chinese label,
times in Beijing time, a change as a table of 字段 / 修改前 / 修改后."""

from __future__ import annotations

import ast
import datetime as dt
import html
import pathlib
import re

from sqlalchemy import select

from actions.actor import Actor
from actions.audit import OPERATION_LABELS, log_operation, operation_label
from actions.bulk_import import KINDS
from actions.survey_import import SurveyImporter
from actions.surveys import create_survey
from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    BatchStatus,
    Bill,
    BookingStatus,
    ImportBatch,
    MeetingBooking,
    OperationLog,
    StaffPosition,
    Survey,
    label_of,
)
from tests import factories as f

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _written_codes() -> tuple[set[str], set[str]]:
    """The operation codes in the source: the literal ones, and the prefixes of the composed ones (``export:``)."""
    codes: set[str] = set()
    prefixes: set[str] = set()
    for path in [*ROOT.joinpath("actions").rglob("*.py"), *ROOT.joinpath("admin").rglob("*.py"),
                 *ROOT.joinpath("seeds").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            args = [node.args[1]] if name == "log_operation" and len(node.args) > 1 else []
            args += [k.value for k in node.keywords if k.arg == "operation"]
            for arg in args:
                for part in ast.walk(arg):
                    if isinstance(part, ast.JoinedStr):
                        prefixes.add(part.values[0].value)
                    elif isinstance(part, ast.Constant) and isinstance(part.value, str) and re.fullmatch(r"[\w-]+", part.value):
                        codes.add(part.value)
    return codes, prefixes


def test_every_operation_code_has_a_chinese_label():
    codes, prefixes = _written_codes()
    assert {"compute_scores", "close_work_orders", "approve_dunning", "reject_dunning", "load_demo"} <= codes
    assert prefixes == {"export:", "import:", "create:", "update:", "delete:"}
    assert operation_label("job:export") == "后台任务（导出）"
    missing = sorted(c for c in codes if operation_label(c) == c)
    assert missing == []
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in OPERATION_LABELS.values())
    assert operation_label("export:bill") == f"导出「{Bill.__label__}」"
    assert operation_label("update:bill") == f"修改「{Bill.__label__}」"
    for kind, title in {SurveyImporter.kind: SurveyImporter.title, **{k: c.title for k, c in KINDS.items()}}.items():
        assert operation_label(f"import:{kind}") == f"导入「{title}」"
    assert operation_label("something_new") == "something_new"
    assert operation_label("export:no_such_table") == "export:no_such_table"


def test_operation_log_list_and_details_show_the_label(console, session):
    f.user(session, username="root", superuser=True)
    log_operation(session, "compute_scores", params={"month": "2026-10"}, counts={"staff": 3})
    log_operation(session, "export:bill", params={}, counts={"rows": 2})
    log_operation(session, "mystery_code", params={}, counts={})
    row = session.scalar(select(OperationLog).where(OperationLog.operation == "compute_scores"))
    root = console("root")
    page = root.get("/admin/operation-log/list")
    assert page.status_code == 200
    text = page.text
    assert "计算月度考核" in text and f"导出「{Bill.__label__}」" in text and "mystery_code" in text
    assert "compute_scores" not in text and "export:bill" not in text
    details = root.get(f"/admin/operation-log/details/{row.id}")
    assert details.status_code == 200 and "计算月度考核" in details.text and ">compute_scores<" not in details.text


def _details(page: str) -> dict[str, str]:
    """{label: text} of a details page's rows (a nested table's text flattened)."""
    body = page.split("<tbody>", 1)[1]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>(?=\s*(?:<tr>\s*<td>|</tbody>\s*</table>\s*</div>))",
                      body, re.S)
    return {html.unescape(label.strip()): " ".join(html.unescape(re.sub(r"<[^>]+>", " ", value)).split())
            for label, value in rows}


def _trail(page: str) -> list[list[str]]:
    """The rows of the readable table of a stored dict (变更内容, 参数, 结果)."""
    tables = re.findall(r'<table class="table table-sm table-bordered mb-0 wuye-trail">(.*?)</table>', page, re.S)
    return [[html.unescape(cell) for cell in re.findall(r'<td class="text-wrap">(.*?)</td>', row, re.S)]
            for table in tables for row in re.findall(r"<tr>(.*?)</tr>", table, re.S) if "<td" in row]


def test_audit_log_details_name_the_user_project_and_changes(console, session):
    p = f.project(session, name="锦绣华庭")
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[p])
    desk.display_name = "王芳"
    approver = f.staff(session, project_=p, name="李主管", position=StaffPosition.SUPERVISOR)  # who grants a room
    f.user(session, username="mgr", roles=["客服经理"], projects=[p])
    start = dt.datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
    booking = MeetingBooking(project=p, room="一号会议室", starts_at=start, ends_at=start + dt.timedelta(hours=2),
                             booked_by="陈静", phone="13812345678", status=BookingStatus.PENDING)
    session.add(booking)
    session.flush()
    form = {"project": str(p.id), "room": "一号会议室", "starts_at": "2026-11-20 09:00:00",
            "ends_at": "2026-11-20 11:30:00", "booked_by": "陈静", "phone": "13912345678", "status": "approved",
            "approved_by": str(approver.id)}
    assert console("desk").post(f"/admin/meeting-booking/edit/{booking.id}", form).status_code == 302
    audit = session.scalars(select(AuditLog).where(AuditLog.table_name == "meeting_booking",
                                                   AuditLog.kind == AuditKind.UPDATE)).one()
    assert audit.changes["status"] == ["pending", "approved"]  # stored for machines …

    page = console("mgr").get(f"/admin/audit-log/details/{audit.id}")
    assert page.status_code == 200
    rows = _details(page.text)
    # … shown for people
    assert (rows["操作人"], rows["项目"], rows["来源"]) == ("王芳", "锦绣华庭", "控制台")
    assert rows["数据表"] == "会议室预订" and rows["记录编号"].startswith(f"{booking.id}")
    changes = {row[0]: row[1:] for row in _trail(page.text)}
    assert changes["状态"] == ["待审批", "已批准"]
    assert changes["结束时间"] == ["2026-11-20 11:00", "2026-11-20 11:30"]  # Beijing time, as typed
    assert changes["审批人"] == ["—", "李主管"]
    assert changes["联系电话"] == ["138****5678", "139****5678"]  # a trail has more readers than the record
    text = html.unescape(page.text)
    assert "pending" not in text and "+00:00" not in text and "{'" not in text


def test_operation_log_and_import_batch_details_read_their_parameters(console, session):
    p = f.project(session, name="锦绣华庭")
    unit = f.unit(session, project_=p, building_=f.building(session, project_=p, name="1栋"), room_no="101")
    boss = f.user(session, username="root", superuser=True)
    boss.display_name = "系统管理员甲"
    visit = log_operation(session, "record_visit", params={"unit_id": unit.id, "kind": "regular", "way": "door",
                                                          "complaint": False},
                          counts={"visits": 1, "complaints": 0}, project_id=p.id)
    delivery = log_operation(session, "record_delivery", params={"notice_ids": [], "way": "door"},
                             counts={"notices": 0})
    survey = Survey(project=p, title="2026年下半年满意度调查", period="2026H2")
    session.add(survey)
    session.flush()
    batch = ImportBatch(kind=SurveyImporter.kind, target=f"survey:{survey.id}", project_id=p.id, file_name="问卷.xlsx",
                        file_hash="0" * 64, status=BatchStatus.DONE, actor_id=boss.id,
                        counts={"new": 3, "error": 0, "responses": 3})
    session.add(batch)
    session.flush()
    c = console("root")

    page = c.get(f"/admin/operation-log/details/{visit.id}").text
    assert _details(page)["项目"] == "锦绣华庭"
    params, counts = _trail(page)[:4], _trail(page)[4:]
    assert params == [["房屋", "1栋-101"], ["类型", "定期走访"], ["方式", "上门"], ["转为投诉", "否"]]
    assert counts == [["走访", "1"], ["投诉", "0"]]
    assert "unit_id" not in page and "regular" not in page
    # the same code of another record reads as that record's: 张贴/塞门 for a dunning notice's delivery
    assert ["送达方式", "张贴/塞门"] in _trail(c.get(f"/admin/operation-log/details/{delivery.id}").text)

    page = c.get(f"/admin/import-batch/details/{batch.id}").text
    rows = _details(page)
    assert (rows["导入类型"], rows["导入目标"], rows["项目"], rows["操作人"]) == (
        SurveyImporter.title, "满意度调查：2026年下半年满意度调查", "锦绣华庭", "系统管理员甲")
    assert _trail(page) == [["新增", "3"], ["错误", "0"], ["问卷", "3"]]
    assert "surveys" not in page and f"survey:{survey.id}" not in page
    listing = html.unescape(c.get("/admin/import-batch/list").text)
    assert SurveyImporter.title in listing and f"满意度调查#{survey.id}" in listing


def test_an_operations_parameters_read_as_its_own_records_columns(console, session):
    """A parameter is labelled by the record the operation is about: a survey's ``period`` is 调查期间, not the
    账期 of a bill, while 生成账单's ``period`` stays 账期; a callback's 回访结果 is its 回访走访 record's."""
    p = f.project(session, name="锦绣华庭")
    f.user(session, username="root", superuser=True)
    campaign = create_survey(session, project_id=p.id, title="2026年下半年满意度调查", period="2026H2",
                             actor=Actor(user_id=None, name="测试", project_ids=None))
    created = session.scalars(select(OperationLog).where(OperationLog.operation == "create-survey")).one()
    assert created.params["period"] == "2026H2"  # stored as the action wrote it
    bills = log_operation(session, "generate_bills", params={"project_id": p.id, "period": "2026-06"}, counts={})
    callback = log_operation(session, "callback_work_order", params={"order_ids": [], "result": "satisfied"},
                             counts={"orders": 0})
    reassigned = log_operation(session, "reassign_work_orders", params={"order_ids": [], "reason": "业主改约"},
                               counts={"orders": 0})
    c = console("root")

    params = _trail(c.get(f"/admin/operation-log/details/{created.id}").text)
    assert params[:3] == [[Survey.__label__, "2026年下半年满意度调查"],
                          [label_of(Survey, "title"), "2026年下半年满意度调查"],
                          [label_of(Survey, "period"), "2026H2"]]
    assert label_of(Survey, "period") == "调查期间" and not any(row[0] == "账期" for row in params)
    assert campaign.survey_id == created.params["survey_id"]
    assert ["账期", "2026-06"] in _trail(c.get(f"/admin/operation-log/details/{bills.id}").text)
    assert ["回访结果", "满意"] in _trail(c.get(f"/admin/operation-log/details/{callback.id}").text)
    # a parameter the record has no column for reads plainly, not as another record's (推荐理由 is a star's)
    assert ["原因", "业主改约"] in _trail(c.get(f"/admin/operation-log/details/{reassigned.id}").text)
