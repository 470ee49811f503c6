"""Issue 17: a new project's customers file is checked and written column by column (``check_columns``); any other
file falls back to the rows' check. Each file here is imported both ways — the columnar path allowed, then turned
off — and both must agree: the same result (counts, problems, preview), the same refusals and the same database."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.actor import Actor
from actions.bulk_import import CustomerImporter
from actions.spreadsheets import pipeline
from models import AuditLog, Building, Customer, ImportBatch, OperationLog, ProjectMark, Unit, UnitCustomer
from tests import factories as f
from tests.actions.test_bulk_import import _import, p1  # noqa: F401  (fixture)
from tests.data.workbooks import workbook

ROOMS = [("1栋", "101"), ("1栋", "102"), ("1栋", "103"), ("2栋", "201"), ("2栋", "202"), ("3号楼", "0301")]
HEADER = ["项目", "姓名", "类型", "手机号", "身份证号", "楼栋", "房号", "关系", "主要联系人", "起始日期", "备注"]
# the usual file, with what a real one holds: a company, a customer without 身份证号 (known by 手机号 + 姓名), one
# without a unit, one with a 楼栋 but no 房号 (no link), rooms typed as staff type them (3栋 0301 is 3号楼 0301),
# dates as dates and as text, relations and 主要联系人 given or left blank
USUAL = [
    HEADER,
    ["翠湖花园", "张伟", "个人", "13812345678", "11010519491231002X", "1栋", "101", "业主", "是", dt.date(2024, 3, 5), ""],
    ["翠湖花园", "李娜", None, "13900001111", None, "1栋", "102", "租户", "否", "2024/4/1", "租期一年"],
    [None, "王强", None, "021-62345678", "110105194912310038", "2栋", "201", None, None, None, None],
    ["翠湖花园", "某某物流有限公司", "单位", "13700000000", None, "2栋", "202", "商户", None, None, None],
    ["翠湖花园", "赵敏", None, "13600000000", "110105194912310046", "3栋", "301", "家庭成员", None, None, None],
    ["翠湖花园", "孙丽", None, "13500000000", "110105194912310054", None, None, None, None, None, "暂无房屋"],
    ["翠湖花园", "周杰", None, "13400000000", "110105194912310062", "1栋", None, None, None, None, None],
]


@pytest.fixture
def estate(session, p1):  # noqa: F811
    project, actor = p1
    result = _import(session, "units", workbook({"房屋": [["楼栋", "房号"], *map(list, ROOMS)]}), actor,
                     project_id=project.id)
    assert result.written, [p.message for p in result.problems]
    return project, actor


def _spied(monkeypatch) -> list:
    """What each ``check_columns`` call returned (None: the rows' check)."""
    calls: list = []
    check = CustomerImporter.check_columns
    monkeypatch.setattr(CustomerImporter, "check_columns", lambda self, columns: calls.append(check(self, columns))
                        or calls[-1])
    return calls


def _state(session: Session) -> dict:
    """The database as the import left it, ids and batch numbers aside (PostgreSQL's sequences are not rolled back)."""
    batches = {b: "B" for b in session.scalars(select(ImportBatch.id))}

    def plain(value):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        for batch in batches:
            text = re.sub(rf"(#|\"batch_id\": |batch:){batch}\b", r"\1B", text)
        return text

    who = {c.id: c.id_number or f"{c.phone}/{c.name}" for c in session.scalars(select(Customer))}
    units = {u: f"{b}-{r}" for u, b, r in session.execute(
        select(Unit.id, Building.name, Unit.room_no).join(Building, Building.id == Unit.building_id))}
    return {
        "customers": sorted(plain([c.project_id, c.name, c.kind, c.phone, c.id_number, c.vip, c.emergency_contact,
                                   c.note, c.version, c.batch_id is not None]) for c in session.scalars(select(Customer))),
        "links": sorted(plain([link.project_id, units[link.unit_id], who[link.customer_id], link.relation,
                               link.is_primary, link.start_date, link.end_date, link.version, link.batch_id is not None])
                        for link in session.scalars(select(UnitCustomer))),
        "audit": sorted(plain([a.table_name, a.kind, a.record_id, a.project_id, a.actor_id, a.changes, a.summary])
                        for a in session.scalars(select(AuditLog).where(AuditLog.table_name.in_(["customer", "unit_customer"])))),
        "batches": sorted(plain([b.kind, b.target, b.status, b.counts, b.file_name, b.marks is not None])
                          for b in session.scalars(select(ImportBatch).where(ImportBatch.kind == "customers"))),
        "operations": sorted(plain([o.operation, o.params, o.counts, o.message]) for o in session.scalars(
            select(OperationLog).where(OperationLog.operation == "import:customers"))),
        "marks": sorted(plain([m.project_id, m.source, m.version]) for m in session.scalars(select(ProjectMark))),
    }


def _result(result) -> dict:
    d = {**result.stored(), "batch_id": result.batch_id is not None}
    return json.loads(re.sub(r"批次 #\d+", "批次 #B", json.dumps(d, ensure_ascii=False)))


def _both_ways(session, monkeypatch, data, actor, project_id, **kw):
    """The import of ``data`` with the columnar path allowed, then (rolled back in between) turned off: each way's
    result (or refusal), database state and whether ``check_columns`` took the file."""
    outcomes = []
    for columnar in (True, False):
        calls = _spied(monkeypatch) if columnar else []
        with monkeypatch.context() as m:
            if not columnar:
                m.setattr(CustomerImporter, "check_columns", lambda self, columns: None)
            savepoint = session.begin_nested()
            try:
                outcome = _result(_import(session, "customers", data, actor, name="业主.xlsx", project_id=project_id,
                                          **kw))
            except Exception as exc:  # noqa: BLE001  (a refusal must be the same either way)
                outcome = (type(exc).__name__, str(exc))
            session.flush()
            outcomes.append((outcome, _state(session), any(c is not None for c in calls)))
            savepoint.rollback()
            session.expire_all()
    return outcomes


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_usual_file_checked_by_column_is_imported_as_row_by_row(session, estate, monkeypatch, dry_run):
    """A new project's customers file takes the columnar path; its import (and its preview) is the rows' to the
    letter: counts, preview, the customers, their links (rooms as staff type them, a row without 房号 unlinked),
    the batch's audit rows and marks."""
    project, actor = estate
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, workbook({"业主": USUAL}),
                                                                  actor, project.id, dry_run=dry_run)
    assert taken
    assert fast == slow and fast_state == slow_state
    assert fast["counts"]["new"] == 7 and not fast["problems"] and fast["written"] is not dry_run
    assert [r[2] for r in fast["preview"]] == ["new"] * 7
    if not dry_run:
        assert len(fast_state["customers"]) == 7 and len(fast_state["links"]) == 5
        assert len(fast_state["audit"]) == 2  # one 新增 row per table, naming the batch and the count


def test_the_usual_file_written_by_column_reimports_unchanged(session, estate, monkeypatch):
    """What the columnar path wrote is what the file says: previewed again (every row compared), all 无变化."""
    from actions.spreadsheets.records import RecordImporter

    project, actor = estate
    # every 类型 given: a blank one would read as clearing the stored 个人 (see the note of custimp5)
    data = workbook({"业主": [USUAL[0], *([*r[:2], r[2] or "个人", *r[3:]] for r in USUAL[1:])]})
    calls = _spied(monkeypatch)
    assert _import(session, "customers", data, actor, project_id=project.id).written and calls[-1] is not None
    monkeypatch.setattr(RecordImporter, "_as_imported", lambda self, rows: False)
    again = _import(session, "customers", data, actor, project_id=project.id, dry_run=True)
    assert again.counts["unchanged"] == 7 and not again.problems and len(calls) == 1  # the same file: compared


# 张伟 owns two units and rents a third; 李娜 (known by 手机号 + 姓名) lives in two: one customer each, five links
SEVERAL = [*USUAL, ["翠湖花园", "张伟", "个人", "13812345678", "11010519491231002X", "1栋", "103", None, None, None, ""],
           ["翠湖花园", "张伟", "个人", "13812345678", "11010519491231002X", "3号楼", "0301", "租户", None, None, ""],
           ["翠湖花园", "李娜", None, "13900001111", None, "2栋", "201", "家庭成员", "否", "2024/4/1", "租期一年"]]


def test_a_customer_on_several_rows_is_checked_by_column_as_row_by_row(session, estate, monkeypatch):
    """A customer filling one row per unit (the rows agreeing on the customer) still takes the columnar path: one
    customer, a link per row, counts and audit rows as the rows' check gives them."""
    project, actor = estate
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, workbook({"业主": SEVERAL}),
                                                                  actor, project.id)
    assert taken
    assert fast == slow and fast_state == slow_state
    assert fast["counts"]["new"] == 10 and len(fast_state["customers"]) == 7 and len(fast_state["links"]) == 8


def _rows(*changes: tuple[int, int, object]) -> list[list]:
    rows = [list(r) for r in USUAL]
    for row, column, value in changes:
        rows[row][column] = value
    return rows


REFUSED = {
    "an unknown unit": (_rows((2, 6, "109")), "「业主」第3行 房屋 1栋 109 不存在于本项目"),
    "the same 身份证号 on two rows": (_rows((3, 4, "11010519491231002X")), "与第2行"),
    "a masked phone of a new customer": (_rows((1, 3, "138****5678")), "已打码：新增记录须填写完整"),
    "no 身份证号 and no 手机号": (_rows((2, 3, None)), "身份证号或手机号至少填写一项"),
    "a project not the one chosen": (_rows((4, 0, "别的小区")), "别的小区 不存在"),
    "a 编号 not on record": ([["编号", *USUAL[0]], *([None, *r] for r in USUAL[1:3]), [999999, *USUAL[3]]],
                            "999999 不存在或无权访问"),
    "a bad 身份证号": (_rows((5, 4, "110105194912310047")), "身份证号"),
    "an empty 姓名": (_rows((6, 1, None)), "「业主」第7行 姓名 为空"),
    "one customer's rows disagreeing": ([*USUAL, [*SEVERAL[8][:3], "13800000000", *SEVERAL[8][4:]]],
                                        "与第2行为同一客户，但手机号不一致"),
    "one customer twice for one unit": ([*USUAL, [*USUAL[1][:6], "101", *USUAL[1][7:]]], "与第2行重复"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_file_with_a_problem_falls_back_and_is_refused_as_before(session, estate, monkeypatch, case):
    """Anything the columnar check does not take is checked row by row: the same problems, named by sheet, row,
    column and value, and nothing written either way."""
    project, actor = estate
    rows, message = REFUSED[case]
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, workbook({"业主": rows}),
                                                                  actor, project.id)
    assert not taken
    assert fast == slow and fast_state == slow_state
    assert fast["counts"]["error"] >= 1 and not fast["written"]
    assert any(message in p["message"] for p in fast["problems"]), [p["message"] for p in fast["problems"]]
    assert fast_state["customers"] == [] and fast_state["links"] == [] and fast_state["batches"] == []


# 一位业主多套房 as users type it: the customer's 类型 and 备注 once, the next rows of the customer left blank (同上);
# 李娜's 备注 given on her second row only
SAME_AS_ABOVE = [*USUAL, ["翠湖花园", "张伟", None, None, "11010519491231002X", "1栋", "103", None, None, None, None],
                 ["翠湖花园", "某某物流有限公司", None, "13700000000", None, "3号楼", "0301", "商户", None, None, None],
                 ["翠湖花园", "李娜", None, "13900001111", None, "2栋", "201", "家庭成员", None, None, "租期一年"]]


@pytest.mark.parametrize("project_has_customers", [False, True])
def test_a_customers_blank_cells_on_its_other_rows_read_as_same_as_above(session, estate, monkeypatch,
                                                                        project_has_customers):
    """A blank 类型/手机号/备注 on another row of the same customer takes the value given on the customer's other
    rows (before, 「…客户类型不一致」): by column for a new project, row by row once it has customers — the same
    result and database either way; the customer is written with the values given, each row a link."""
    project, actor = estate
    if project_has_customers:
        session.add(Customer(project_id=project.id, name="钱七", phone="13300000000"))
        session.flush()
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, workbook({"业主": SAME_AS_ABOVE}),
                                                                  actor, project.id)
    assert taken is not project_has_customers
    assert fast == slow and fast_state == slow_state
    assert fast["written"] and not fast["problems"], fast["problems"]
    state = {json.loads(c)[1]: json.loads(c)[2:4] + [json.loads(c)[7]] for c in fast_state["customers"]}
    assert state["张伟"] == ["person", "13812345678", ""]
    assert state["某某物流有限公司"] == ["company", "13700000000", ""]
    assert state["李娜"][2] == "租期一年"
    assert len(fast_state["links"]) == 8


def test_two_values_for_one_customer_are_refused_naming_both_rows(session, estate, monkeypatch):
    """Blanks are 同上, but two different values of one customer are still refused — on the later row, naming the
    row that gave the first — the same either way, nothing written."""
    project, actor = estate
    rows = [*SAME_AS_ABOVE, ["翠湖花园", "张伟", "单位", None, "11010519491231002X", "2栋", "202", "租户", None, None, None]]
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, workbook({"业主": rows}),
                                                                  actor, project.id)
    assert not taken
    assert fast == slow and fast_state == slow_state and not fast["written"]
    assert [p["message"] for p in fast["problems"]] == [
        "「业主」第12行 客户类型 与第2行为同一客户，但客户类型不一致（本行为「单位」，第2行为「个人」）"]
    assert fast_state["customers"] == [] and fast_state["links"] == []


FALLBACKS = {
    "a 房屋 column": [["姓名", "手机号", "房屋"], ["张伟", "13812345678", "1栋-101"], ["李娜", "13900001111", "2栋-201"]],
    "a blank row and a total": [["姓名", "手机号", "楼栋", "房号"], ["张伟", "13812345678", "1栋", "101"], [None] * 4,
                                ["李娜", "13900001111", "1栋", "102"], ["合计", None, None, None]],
    "two sheets": None,
    "one customer's rows in two 项目 cells": [HEADER, USUAL[1], [None, *SEVERAL[8][1:]]],
}


@pytest.mark.parametrize("case", list(FALLBACKS))
def test_a_file_the_columns_do_not_take_imports_as_before(session, estate, monkeypatch, case):
    """A file holding what only the rows' check handles (a 房屋 cell to split, blank and total rows, several sheets,
    one customer's rows naming the project differently) is imported row by row: the same result and database either way."""
    project, actor = estate
    sheets = ({"一": [HEADER, USUAL[1]], "二": [HEADER, USUAL[2]]} if FALLBACKS[case] is None
              else {"业主": FALLBACKS[case]})
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, workbook(sheets), actor,
                                                                  project.id)
    assert not taken
    assert fast == slow and fast_state == slow_state
    assert fast["written"] and not fast["problems"], fast["problems"]


def test_a_project_with_customers_is_checked_row_by_row(session, estate, monkeypatch):
    """Once the project has customers, its files are compared with them row by row (新增 / 更新 / 无变化): the
    columnar path does not take them."""
    project, actor = estate
    session.add(Customer(project_id=project.id, name="张伟", phone="13800000000", id_number="11010519491231002X"))
    session.flush()
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, workbook({"业主": USUAL}),
                                                                  actor, project.id)
    assert not taken
    assert fast == slow and fast_state == slow_state
    assert fast["counts"]["update"] == 1 and fast["counts"]["new"] == 6


def test_a_project_named_in_no_row_and_not_chosen_falls_back(session, monkeypatch):
    """Rows without 项目, imported by someone of two projects without choosing one: each row is refused on its own,
    as before (the columnar path takes only rows whose project it knows)."""
    one, two = f.project(session, name="甲小区"), f.project(session, name="乙小区")
    actor = Actor(user_id=None, name="经理", project_ids=frozenset({one.id, two.id}))
    data = workbook({"业主": [["姓名", "手机号"], ["张伟", "13812345678"]]})
    (fast, fast_state, taken), (slow, slow_state, _) = _both_ways(session, monkeypatch, data, actor, None)
    assert not taken and fast == slow and fast_state == slow_state
    assert [p["message"] for p in fast["problems"]] == ["「业主」第2行 项目 为空：请填写项目，或在导入时选择项目"]


def test_the_columns_keep_what_parse_would_make_of_each_row(session):
    """``Columns.rows`` makes the rows :func:`parse` makes (numbers, values): the preview shows the same."""
    from actions.spreadsheets.reader import read_book

    fields = CustomerImporter(session, None).fields()
    book = read_book(workbook({"业主": [["说明：请勿修改表头"], HEADER, *USUAL[1:]]}), "业主.xlsx")
    columnar, rows = pipeline.parse(book, fields, columnar=True), pipeline.parse(book, fields)
    assert columnar.rows == [] and columnar.columns is not None
    made = columnar.columns.rows()
    assert [(r.sheet, r.number, r.values) for r in made] == [(r.sheet, r.number, r.values) for r in rows.rows]
    assert [r.number for r in columnar.columns.rows(2)] == [3, 4]


def test_new_customers_returned_out_of_order_are_linked_to_their_own_units(session, estate, monkeypatch):
    """The new customers' ids come back from the INSERT's RETURNING; were they not in the order given, each is matched
    to its row by its identity (身份证号, else 手机号 + 姓名): every link still goes to its own customer."""
    import actions.bulk_import as bulk_import

    project, actor = estate
    insert = bulk_import.insert_columns

    def shuffled(session, table, columns, values, *, returning=()):
        back = insert(session, table, columns, values, returning=returning)
        return back[::-1] if table is Customer.__table__ else back

    (_, slow_state, _), = [_both_ways(session, monkeypatch, workbook({"业主": USUAL}), actor, project.id)[1]]
    monkeypatch.setattr(bulk_import, "insert_columns", shuffled)
    calls = _spied(monkeypatch)
    assert _import(session, "customers", workbook({"业主": USUAL}), actor, name="业主.xlsx", project_id=project.id).written
    assert calls[-1] is not None and _state(session) == slow_state


def test_a_bad_cell_among_many_good_ones_is_named_on_its_row(session, estate, monkeypatch):
    """In a column of mostly distinct cells (kept as they are when already clean), the one bad phone number, the one
    empty 姓名 and the one total row are still found: the file is checked row by row and refused naming them."""
    project, actor = estate
    rows = [["姓名", "手机号", "身份证号"], *([f"客户{i}", f"1380000{i:04d}", None] for i in range(60))]
    rows[20][1], rows[40][0] = "1380000", None
    rows.append(["　合计", None, None])  # a total, typed after a full-width space: skipped, not a customer
    (fast, fast_state, taken), (slow, _, _) = _both_ways(session, monkeypatch, workbook({"业主": rows}), actor,
                                                         project.id)
    assert not taken and fast == slow and fast_state["customers"] == []
    assert [p["message"] for p in fast["problems"]] == ["「业主」第21行 手机号 1380000 不是有效的电话号码",
                                                        "「业主」第41行 姓名 为空"]
    assert fast["counts"]["totals"] == 1 and fast["counts"]["error"] == 2 and fast["counts"]["new"] == 58
