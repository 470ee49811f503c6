"""Reading the scores (issue 6): the ranked table, an employee's breakdown and history, the .xlsx export."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from actions.actor import Actor
from actions.errors import NotPermitted
from actions.score_results import export_scores, month_tables, score_breakdown, staff_history
from actions.scores import compute_scores
from models import AuditKind, AuditLog, ComplaintValidity, EventSource, MonthStatus, RequestKind, RuleCategory
from tests.score_support import MONTH, at, build_org, count, hand_checked, record, request


@pytest.fixture
def org(session):
    return build_org(session)


def test_breakdown_lists_every_event_with_its_source_and_history_spans_months(session, org):
    p, s = org["project"], org["staff"]
    hand_checked(session, org)
    complaint = request(session, p, RequestKind.COMPLAINT, at(2026, 10, 2), complaint_validity=ComplaintValidity.VALID, complained_staff=s["a"])
    record(session, org, [s["a"]], "1.1", day=dt.date(2026, 9, 3))
    compute_scores(session, month="2026-09", project_ids=[p.id], actor=org["actor"])
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])

    bd = score_breakdown(session, staff_id=s["a"].id, month=MONTH, actor=org["actor"])
    assert (bd.score.total, bd.score.rank, bd.events_total, bd.stale) == (Decimal("91.5"), 4, Decimal("-8.5"), False)
    assert [(e.rule_code, e.points, e.source, e.source_id) for e in bd.events] == [
        ("AUTO-COMPLAINT", Decimal("-5"), EventSource.COMPLAINT, complaint.id),
        ("1.1", Decimal("-1"), EventSource.MANUAL, None),
        ("5.2", Decimal("-1.5"), EventSource.MANUAL, None),
        ("1.1", Decimal("-1"), EventSource.MANUAL, None),
    ]
    assert bd.events[1].recorded_by == "zhuguan"
    assert dict(bd.score.by_category) == {RuleCategory.RECEPTION: Decimal("-2"), RuleCategory.APPEARANCE: Decimal("-1.5"),
                                          RuleCategory.COMPLAINT: Decimal("-5")}
    record(session, org, [s["a"]], "1.2")
    assert score_breakdown(session, staff_id=s["a"].id, month=MONTH, actor=org["actor"]).stale

    history = staff_history(session, staff_id=s["a"].id, actor=org["actor"])
    assert [(h.month, h.total, h.rank, h.of, h.status) for h in history.lines] == [
        ("2026-10", Decimal("91.5"), 4, 5, MonthStatus.DRAFT),
        ("2026-09", Decimal("99"), 5, 5, MonthStatus.DRAFT),
    ]
    (table,) = month_tables(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert [ln.staff_name for ln in table.lines][:2] == ["李娜", "刘洋"] and table.status is MonthStatus.DRAFT


def test_export_has_a_sheet_per_project_and_the_breakdown_with_formulas_as_text(session, org):
    p, other, s = org["project"], org["other"], org["staff"]
    p.name = "阳光花园/一期"  # a slash is not allowed in a sheet title
    hand_checked(session, org)
    record(session, org, [s["d"]], "1.1", note="=HYPERLINK(\"http://x\")")
    everywhere = Actor(user_id=None, name="系统", project_ids=None)
    compute_scores(session, month=MONTH, project_ids=[p.id, other.id], actor=everywhere)
    exports = count(session, AuditLog, AuditLog.kind == AuditKind.EXPORT)
    result = export_scores(session, month=MONTH, project_ids=[p.id, other.id], actor=everywhere)
    wb = load_workbook(io.BytesIO(result.content))
    assert wb.sheetnames == ["阳光花园_一期", "滨江大厦", "明细"]
    head = [c.value for c in wb["阳光花园_一期"][2]]
    assert head[:10] == ["排名", "员工", "工号", "岗位", "基础分", "扣分", "加分", "总分", "等级", "记录数"]
    first = [c.value for c in wb["阳光花园_一期"][3]]
    assert first[:2] == [1, "李娜"] and first[7] == 102
    assert [c.value for c in wb["滨江大厦"][3]][1] == "周外"
    details = list(wb["明细"].iter_rows(min_row=3, values_only=True))
    assert len(details) == 9
    cell = next(c for row in wb["明细"].iter_rows(min_row=3) for c in row if str(c.value).startswith("=HYPER"))
    assert cell.data_type == "s"
    assert count(session, AuditLog, AuditLog.kind == AuditKind.EXPORT) == exports + 1


def test_reading_is_limited_to_the_actors_projects(session, org):
    with pytest.raises(NotPermitted):
        score_breakdown(session, staff_id=org["staff"]["x"].id, month=MONTH, actor=org["actor"])
    with pytest.raises(NotPermitted):
        month_tables(session, month=MONTH, project_ids=[org["other"].id], actor=org["actor"])
    with pytest.raises(NotPermitted):
        staff_history(session, staff_id=org["staff"]["x"].id, actor=org["actor"])
