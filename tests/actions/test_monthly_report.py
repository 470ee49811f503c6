"""The monthly report (actions/monthly_report.py) of a project and of a branch, and its .xlsx."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import Counter
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from actions import kpis
from actions.actor import actor_for_user
from actions.errors import NotPermitted
from actions.month_close import close_month
from actions.monthly_report import export_monthly_report, monthly_report, shown_report
from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    BillStatus,
    OperationLog,
    RequestKind,
    Satisfaction,
    ServiceRequest,
    Visit,
    VisitKind,
)
from tests import dashboard_support as ds
from tests import factories as f


@pytest.fixture
def world(session):
    return ds.build(session)


def rows_of(report, key):
    table = next(t for t in report.tables if t.key == key)
    return table, [[c.text for c in row] for row in table.rows]


def test_a_projects_report(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    report = monthly_report(session, actor=actor, month=ds.MONTH, project_ids=[world.p1.id])
    assert report.title == "甲项目 2025年9月客服月度报告"
    assert [t.key for t in report.tables] == ["kpis", "requests", "complaints", "majors", "collection", "visits",
                                              "surveys", "scores"]
    _, kpi_rows = rows_of(report, "kpis")
    assert [(r[0], r[3], r[5], r[6], r[7]) for r in kpi_rows] == [
        (k.name, str(ds.EXPECTED["P1"][k.key][0]), str(ds.EXPECTED["P1"][k.key][1]), ds.EXPECTED["P1"][k.key][2],
         {True: "达标", False: "未达标", None: "—"}[
             None if k.target is None or not ds.EXPECTED["P1"][k.key][1] else
             ds.EXPECTED["P1"][k.key][0] * 100 >= k.target * ds.EXPECTED["P1"][k.key][1]])
        for k in kpis.CATALOGUE
    ]
    table, rows = rows_of(report, "requests")
    assert table.header[-1] == "合计" and rows == [["甲项目", "0", "1", "4", "0", "0", "0", "0", "5"]]
    _, rows = rows_of(report, "majors")
    assert [(r[0], r[3], r[4]) for r in rows] == [(str(world.c1.id), "水电", "厨房水管漏水")]
    table, rows = rows_of(report, "collection")
    assert rows == [["一期", "750.00", "350.00", "46.7%", "3", "1"], ["未分期", "100.00", "100.00", "100.0%", "1", "1"],
                    ["合计", "850.00", "450.00", "52.9%", "4", "2"]]
    _, rows = rows_of(report, "visits")
    assert rows == [["定期走访", "0", "0", "0", "1", "1"], ["投诉回访", "1", "0", "0", "0", "1"],
                    ["维修工单回访", "1", "0", "0", "0", "1"]]
    table, rows = rows_of(report, "surveys")
    # only the surveys run: 2025H2, not September's 筹备中 one
    assert [r[0] for r in rows] == ["2025H2"]
    assert rows[0][:4] == ["2025H2", "4", "3", "75.0%"] and rows[0][4:6] == ["66.7%", "50.0%"]
    # 各部门合计 (the 满意度 KPI: 3 of 5 answers), then the forms' own 总体满意度 (1 of 2), each named so
    assert table.header[-2:] == ("满意度（各部门合计）", "总体满意度") and rows[0][-2:] == ["60.0%", "50.0%"]
    assert [c.drill.set_key for c in table.rows[0][-2:]] == ["scores_answered", "forms_rated"]
    _, rows = rows_of(report, "scores")
    assert rows == [["甲项目", "已确认", "2", "93.0", "98.0", "88.0", "1", "1", "0", "0"]]


def test_each_cell_drills_into_the_records_it_counts(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    report = monthly_report(session, actor=actor, month=ds.MONTH, project_ids=[world.p1.id])
    checked = 0
    for table in report.tables:
        for row in table.rows:
            for cell in row:
                if cell.drill is None or table.key in ("kpis", "collection", "surveys"):
                    continue
                model = cell.drill.records.model
                assert session.scalar(select(func.count()).select_from(model).where(cell.drill.where())) == cell.value
                checked += 1
    assert checked > 20


def test_a_branch_report_has_every_project_and_the_total(session, world):
    actor = actor_for_user(session, f.user(session, roles=["分公司管理"], branch_=world.b1))
    report = monthly_report(session, actor=actor, month=ds.MONTH, branch_id=world.b1.id)
    assert report.title == "甲分公司 2025年9月客服月度报告"
    table, rows = rows_of(report, "kpis")
    assert table.header[0] == "项目" and table.keys == 2
    total = {r[1]: r[7] for r in rows if r[0] == "合计"}
    assert total == {k.name: ds.EXPECTED["total"][k.key][2] for k in kpis.CATALOGUE}
    assert {r[0] for r in rows} == {"甲项目", "乙项目", "合计"}
    assert set(report.project_tables) == {world.p1.id, world.p2.id}
    _, rows = rows_of(report, "requests")
    assert rows[-1][0] == "合计" and rows[-1][-1] == "6"  # P1 five, P2 one complaint — and not P3's
    with pytest.raises(NotPermitted):
        monthly_report(session, actor=actor, month=ds.MONTH, project_ids=[world.p3.id])


def test_a_month_without_a_survey_lists_the_project_with_dashes(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    report = monthly_report(session, actor=actor, month=ds.EMPTY_MONTH, project_ids=[world.p1.id])
    _, rows = rows_of(report, "surveys")
    assert rows == [["—"] * 12]
    _, rows = rows_of(report, "kpis")
    assert {r[6] for r in rows} == {"—"}


def test_the_survey_sheet_lists_every_project_and_the_total(session, world):
    """满意度调查 listed only the projects with a survey, while every other sheet lists each project the user sees:
    a project without one (丙项目) is listed with 「—」, and the 合计's rates are of the summed counts."""
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1, world.p2, world.p3]))
    ids = [world.p1.id, world.p2.id, world.p3.id]
    _, rows = rows_of(monthly_report(session, actor=actor, month=ds.MONTH, project_ids=ids), "surveys")
    assert [r[0] for r in rows] == ["丙项目", "乙项目", "甲项目", "合计"]
    assert rows[0][1:] == ["—"] * 12
    # 6 households, 5 collected (the 调查率 KPI of 甲 and 乙 together); 7 answers, 4 satisfied; 3 forms rated, 2
    assert rows[-1][1:6] == ["", "6", "5", "83.3%", "60.0%"] and rows[-1][-2:] == ["57.1%", "66.7%"]
    result = export_monthly_report(session, actor=actor, month=ds.MONTH, project_ids=ids)
    sheet = sheet_rows(result, "满意度调查")
    assert [r[0] for r in sheet] == ["项目", "丙项目", "乙项目", "甲项目", "合计"]
    assert sheet[1][1:] == ["—"] * 12 and sheet[-1][2:5] == [6, 5, 0.833]


def test_the_xlsx_has_a_sheet_per_table_and_is_logged(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    world.c1.content = "=HYPERLINK(\"http://x\")"
    session.flush()
    logs = ds.count(session, OperationLog)
    result = export_monthly_report(session, actor=actor, month=ds.MONTH, project_ids=[world.p1.id])
    assert result.filename == "甲项目 2025年9月客服月度报告.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(result.content))
    assert book.sheetnames[:3] == ["主要指标", "诉求类型统计（当月受理）", "投诉问题类别统计（当月受理）"]
    sheet = book["主要指标"]
    assert [c.value for c in sheet[3]][:8] == ["收费率", "≥ 93%", "已收款账单", 450, "应收账单", 850, 0.529, "未达标"]
    # a rate is a number shown as a percentage; the header stays in view; the columns fit their Chinese headers
    assert sheet["G3"].number_format == "0.0%" and sheet.freeze_panes == "A3"
    assert sheet.column_dimensions["A"].width >= 10
    majors = book["重大投诉及处理情况"]
    assert majors.cell(3, 5).value == "=HYPERLINK(\"http://x\")"
    with zipfile.ZipFile(io.BytesIO(result.content)) as z:
        assert not any("<f>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert ds.count(session, OperationLog) == logs + 1
    assert ds.count(session, AuditLog, AuditLog.kind == AuditKind.EXPORT, AuditLog.actor_id == actor.user_id) == 1


def sheet_rows(result, title):
    return [list(r) for r in openpyxl.load_workbook(io.BytesIO(result.content))[title].iter_rows(min_row=2, values_only=True)]


def test_a_closed_month_is_exported_as_reported(session, world):
    """After 月结 the .xlsx is what the page shows: the figures as reported, the corrections since (reported →
    current → difference); the live figures only when asked for."""
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1, world.p2]))
    closed_at = dt.datetime(2025, 10, 8, 9, 30, tzinfo=SHANGHAI)
    close_month(session, actor=actor, month=ds.MONTH, now=closed_at)
    world.unpaid.amount_paid, world.unpaid.status = Decimal("250.00"), BillStatus.PAID  # a correction after
    session.flush()
    one = {"month": ds.MONTH, "project_ids": [world.p1.id]}

    shown = shown_report(session, actor=actor, **one)
    assert shown.as_reported and shown.state == "报送时的数据"
    assert [c.text for c in shown.tables[0].rows[0]][3:7] == ["450.00", "应收账单", "850.00", "52.9%"]
    result = export_monthly_report(session, actor=actor, **one)
    assert openpyxl.load_workbook(io.BytesIO(result.content)).sheetnames == [
        *(t.title for t in shown.tables), "月结情况", "月结后更正"]
    # as reported, the figures as numbers again
    assert sheet_rows(result, "主要指标")[1][:8] == ["收费率", "≥ 93%", "已收款账单", 450, "应收账单", 850, 0.529, "未达标"]
    n = len(shown.closure.differences)
    assert sheet_rows(result, "月结情况")[1:] == [["甲项目", dt.datetime(2025, 10, 8, 9, 30), actor.name, 0, 0, n, "报送时的数据"]]
    corrections = {tuple(r[1:4]): tuple(r[4:]) for r in sheet_rows(result, "月结后更正")[1:]}
    assert len(corrections) == n
    assert corrections[("主要指标", "收费率", "分子数")] == ("450.00", "700.00", "+250.00")
    assert corrections[("主要指标", "收费率", "完成值")] == (0.529, 0.824, "+29.5个百分点")

    live = export_monthly_report(session, actor=actor, live=True, **one)
    assert sheet_rows(live, "主要指标")[1][3:7] == [700, "应收账单", 850, 0.824]
    assert sheet_rows(live, "月结情况")[1][-1] == "当前数据（含月结后的更正）"
    # a branch's report is live (it has no frozen form) and lists each closed project's corrections
    branch = export_monthly_report(session, actor=actor, month=ds.MONTH, branch_id=world.b1.id)
    assert [(r[0], r[5], r[6]) for r in sheet_rows(branch, "月结情况")[1:]] == [
        ("乙项目", 0, "当前数据（含月结后的更正）"), ("甲项目", n, "当前数据（含月结后的更正）")]
    logged = session.scalars(select(OperationLog.params).where(OperationLog.operation == "export_monthly_report")
                             .order_by(OperationLog.id)).all()
    assert [p["as_reported"] for p in logged] == [True, False, False]


def test_an_open_month_exports_live_without_close_sheets(session, world):
    actor = actor_for_user(session, f.user(session, roles=["客服经理"], projects=[world.p1]))
    result = export_monthly_report(session, actor=actor, month=ds.MONTH, project_ids=[world.p1.id])
    names = openpyxl.load_workbook(io.BytesIO(result.content)).sheetnames
    assert "月结情况" not in names and "月结后更正" not in names
    assert shown_report(session, actor=actor, month=ds.MONTH, project_ids=[world.p1.id]).state == "当前数据"


@pytest.mark.parametrize("month", [ds.MONTH, ds.EMPTY_MONTH])
def test_the_request_and_visit_counts_are_the_records_of_the_month_and_scope(session, world, month):
    # at the month's edges in Beijing time, of every kind, and in a project of another branch
    for project, received, kind in ((world.p1, ds.sh(8, 31, 23, 59), RequestKind.INQUIRY),
                                    (world.p1, ds.sh(9, 1, 0, 0), RequestKind.PRAISE),
                                    (world.p2, ds.sh(9, 30, 23, 59), RequestKind.SUGGESTION),
                                    (world.p2, ds.sh(10, 1, 0, 0), RequestKind.HELP),
                                    (world.p3, ds.sh(9, 15), RequestKind.REPAIR_PUBLIC)):
        f.service_request(session, project_=project, kind=kind, received_at=received)
    for project, visited, kind, result in ((world.p2, ds.sh(9, 1, 0, 0), VisitKind.SPECIAL, None),
                                           (world.p2, ds.sh(9, 30, 23, 59), VisitKind.SURVEY, Satisfaction.BASIC),
                                           (world.p1, ds.sh(10, 1, 0, 0), VisitKind.REGULAR, None),
                                           (world.p3, ds.sh(9, 15), VisitKind.REGULAR, Satisfaction.SATISFIED)):
        session.add(Visit(project_id=project.id, kind=kind, visited_at=visited, result=result))
    session.flush()
    actor = actor_for_user(session, f.user(session, roles=["分公司管理"], branch_=world.b1))
    report = monthly_report(session, actor=actor, month=month, branch_id=world.b1.id)
    names = {world.p1.id: world.p1.name, world.p2.id: world.p2.name}

    def of_month(moment):
        return moment.astimezone(SHANGHAI).strftime("%Y-%m") == month

    requests, visits = Counter(), Counter()
    for r in session.scalars(select(ServiceRequest)):
        if r.project_id in names and of_month(r.received_at):
            requests[(names[r.project_id], r.kind.label)] += 1
    for v in session.scalars(select(Visit)):
        if v.project_id in names and of_month(v.visited_at):
            visits[(names[v.project_id], v.kind.label, v.result.label if v.result else kpis.NO_RESULT)] += 1
    assert (sum(requests.values()), sum(visits.values())) == ((8, 5) if month == ds.MONTH else (0, 0))  # 6 and 3 before these

    table, rows = rows_of(report, "requests")
    kinds = table.header[1:-1]
    shown = Counter({(row[0], kind): int(n) for row in rows if row[0] != "合计"
                     for kind, n in zip(kinds, row[1:-1], strict=True) if n != "0"})
    assert shown == requests
    assert rows[-1][-1] == str(sum(requests.values()))
    table, rows = rows_of(report, "visits")
    results = table.header[2:-1]
    shown = Counter({(row[0], row[1], result): int(n) for row in rows
                     for result, n in zip(results, row[2:-1], strict=True) if n != "0"})
    totals = Counter()
    for (_, kind, result), n in visits.items():
        totals[("合计", kind, result)] += n
    assert shown == visits + totals
