"""导出: formulas neutralised, masking by role, audit, the list's filters and sort, typed cells, round trip."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select
from sqlalchemy.orm import selectinload

from actions.actor import Actor
from actions.bulk_import import import_records
from actions.export import export_columns, export_list
from actions.xlsx_out import CELL_TEXT_MAX, CUT_MARK, new_workbook, to_bytes, write_sheet
from models import (
    AuditKind,
    AuditLog,
    Bill,
    BillStatus,
    Customer,
    FeeBasis,
    FeeType,
    OperationLog,
    ParkingSpace,
    Payment,
    Staff,
    Unit,
    labels_of,
)
from tests import factories as f
from tests.data.workbooks import workbook

HOSTILE = ["=cmd|' /c calc'!A1", "==1+1", "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


@pytest.fixture
def p1(session):
    project = f.project(session, name="翠湖花园")
    actor = Actor(user_id=None, name="主管", project_ids=frozenset({project.id}))
    return project, actor


def _export(session, tmp_path, model, keys, actor, query=None, **kw):
    path = tmp_path / "out.xlsx"
    result = export_list(session, query=query if query is not None else select(model).order_by(model.id), model=model,
                         columns=export_columns(model, keys, labels_of(model)), title=model.__label__, actor=actor,
                         path=path, **kw)
    return result, path.read_bytes()


def _rows(data: bytes) -> list[list]:
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(min_row=2)]


def test_formulas_are_written_as_text(session, p1, tmp_path):
    project, actor = p1
    for name in HOSTILE:
        f.customer(session, project_=project, name=name)
    result, data = _export(session, tmp_path, Customer, ["id", "name"], actor)
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet
    # A CR is written escaped, as the format says (``_x000D_``, which Excel reads back as a CR); the text is
    # otherwise kept as typed.
    assert [r[1] for r in _rows(data)[1:]] == [h.replace("\r", "_x000D_") for h in HOSTILE]
    assert result.rows == len(HOSTILE)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_a_text_longer_than_an_excel_cell_is_cut_saying_so(session, p1, tmp_path):
    """Excel calls a file with a cell of more than 32,767 characters damaged: a longer stored text is cut, in the
    streamed list export and in the openpyxl-written workbooks alike; a text at the limit is kept whole."""
    project, actor = p1
    long_note = "投诉内容" * 9_000 + "😀" * 10  # 36,010 characters, 36,020 UTF-16 units
    at_limit = "记" * CELL_TEXT_MAX
    f.customer(session, project_=project, name="张伟").note = long_note
    f.customer(session, project_=project, name="李娜").note = at_limit
    session.flush()
    _, data = _export(session, tmp_path, Customer, ["name", "note"], actor)
    wb = new_workbook()
    write_sheet(wb, "备注", ["备注"], [[long_note], [at_limit]])
    written = load_workbook(io.BytesIO(to_bytes(wb))).worksheets[0]
    for cut, whole in ([r[1] for r in _rows(data)[1:]], [written.cell(3, 1).value, written.cell(4, 1).value]):
        assert cut.endswith(CUT_MARK) and _utf16_units(cut) <= CELL_TEXT_MAX
        assert long_note.startswith(cut.removesuffix(CUT_MARK))
        assert whole == at_limit


def test_personal_data_masked_unless_allowed(session, p1, tmp_path):
    project, actor = p1
    f.customer(session, project_=project, name="张伟", phone="13812345678", id_number="11010519491231002X")
    _, masked = _export(session, tmp_path, Customer, ["name", "phone", "id_number"], actor)
    assert _rows(masked)[1] == ["张伟", "138****5678", "110***********002X"]
    result, clear = _export(session, tmp_path, Customer, ["name", "phone", "id_number"], actor, unmask=True)
    assert _rows(clear)[1] == ["张伟", "13812345678", "11010519491231002X"] and not result.masked


def test_export_is_audited_with_its_filters(session, p1, tmp_path):
    project, actor = p1
    f.customer(session, project_=project, name="张伟")
    f.customer(session, project_=project, name="李娜")
    query = select(Customer).where(Customer.name.like("%张%")).order_by(Customer.id)
    result, data = _export(session, tmp_path, Customer, ["name"], actor, query=query, filters={"search": "张", "x": ""})
    assert [r[0] for r in _rows(data)] == ["姓名", "张伟"]
    event = session.scalar(select(AuditLog).where(AuditLog.kind == AuditKind.EXPORT))
    assert event.table_name == "customer" and event.changes["rows"] == 1
    assert event.changes["filters"] == {"search": "张"} and event.changes["masked"] is False
    log = session.scalar(select(OperationLog).where(OperationLog.operation == "export:customer"))
    assert log.counts == {"rows": 1, "total": 1}


def test_sort_typed_cells_and_cap(session, p1, tmp_path):
    project, actor = p1
    building = f.building(session, project_=project, name="1栋")
    for room, area in (("1-103", "70.25"), ("1-101", "89.50"), ("1-102", "120")):
        unit = f.unit(session, project_=project, building_=building, room_no=room, area=Decimal(area))
        unit.handover_date = dt.date(2024, 3, 5)
    session.flush()
    query = select(Unit).order_by(Unit.room_no.desc())
    result, data = _export(session, tmp_path, Unit, ["building", "room_no", "area", "handover_date", "status"], actor,
                           query=query, cap=2)
    rows = _rows(data)
    assert rows[0] == ["楼栋", "房号", "建筑面积(㎡)", "交房日期", "房屋状态"]
    assert [r[1] for r in rows[1:]] == ["1-103", "1-102"]
    assert rows[1][2] == 70.25 and isinstance(rows[1][3], dt.datetime) and rows[1][4] == "已入住"
    assert result.truncated and (result.rows, result.total) == (2, 3)


def test_export_stays_in_scope(session, p1, tmp_path):
    project, actor = p1
    f.customer(session, project_=project, name="本项目")
    f.customer(session, project_=f.project(session), name="别的项目")
    _, data = _export(session, tmp_path, Customer, ["name"], actor, query=select(Customer))
    assert [r[0] for r in _rows(data)[1:]] == ["本项目"]


# The columns each console list shows (admin/views), exported and imported back.
ROUND_TRIP = {
    "units": (Unit, ["id", "project", "building", "room_no", "kind", "status", "area", "butler"]),
    "customers": (Customer, ["id", "project", "name", "kind", "phone", "id_number", "emergency_contact", "created_at"]),
    "parking": (ParkingSpace, ["id", "project", "code", "area_name", "unit", "plate_no", "is_rented"]),
    "staff": (Staff, ["id", "project", "employee_no", "name", "position", "department", "phone", "active"]),
    "bills": (Bill, ["id", "period", "unit", "fee_type", "amount_due", "amount_paid", "status", "due_date"]),
    "payments": (Payment, ["id", "bill", "amount", "method", "paid_at", "collector", "receipt_no"]),
}


def test_round_trip_changes_nothing(session, p1, tmp_path):
    project, actor = p1
    session.add(FeeType(project=project, name="物业管理费", basis=FeeBasis.PER_AREA, rate=Decimal("3"), due_day=15))
    session.flush()
    setup = {
        "units": [["楼栋", "房号", "房屋状态", "建筑面积(㎡)", "责任管家"], ["1栋", "1-101", "已入住", 89.5, None],
                  ["1栋", "1-102", "空置", 100, None]],
        "staff": [["工号", "姓名", "岗位", "部门", "手机号"], ["KF001", "=李娜", "楼宇管家", "客服部", "13900001111"]],
        "customers": [["姓名", "手机号", "身份证号", "紧急联系人", "楼栋", "房号"],
                      ["张伟", "13812345678", "11010519491231002X", "+1+1", "1栋", "1-101"]],
        "parking": [["车位号", "区域", "关联房屋", "租用"], ["B1-001", "地下一层", "1栋-1-101", "是"]],
        "bills": [["楼栋", "房号", "收费项目", "账期", "应收(元)"], ["1栋", "1-101", "物业管理费", "2026-03", 268.5],
                  ["1栋", "1-102", "物业管理费", "2026-03", 300]],
    }
    for kind, rows in setup.items():
        data = workbook({"S": rows}, text_cells={"S": ["B2"]})  # "=李娜" is a name here, not a formula
        result = import_records(session, kind=kind, data=data, file_name=f"{kind}.xlsx", actor=actor,
                                project_id=project.id)
        assert result.written, (kind, [p.message for p in result.problems])
    bill = session.scalar(select(Bill).order_by(Bill.id))
    import_records(session, kind="payments", file_name="p.xlsx", actor=actor, project_id=project.id, data=workbook({"S": [
        ["收据号", "账单", "金额(元)", "收款时间", "收款人"], ["R1", f"账单#{bill.id}", 100, "2026-03-05 10:30:41", "KF001"]]}))
    session.execute(Unit.__table__.update().values(butler_id=session.scalar(select(Staff.id))))
    session.expire_all()
    for kind, (model, keys) in ROUND_TRIP.items():
        _, data = _export(session, tmp_path, model, keys, actor)
        result = import_records(session, kind=kind, data=data, file_name="导出.xlsx", actor=actor, dry_run=True)
        assert not result.problems, (kind, [p.message for p in result.problems])
        total = session.scalar(select(func.count()).select_from(model))
        assert result.counts["unchanged"] == total and result.counts["update"] == result.counts["new"] == 0, (kind, result.counts)


def test_a_large_export_round_trips_values_types_and_masking(session, p1, tmp_path):
    """20,000 bills and 2,000 payers read back cell by cell: each value, its type, the unit and payer as the list
    shows them, money and dates typed, text kept as typed (formula-like, spaced, control characters left out),
    phones and ID numbers masked — and nothing of another project."""
    project, actor = p1
    fee = f.fee_type(session, project_=project, name="物业管理费")
    buildings = [f.building(session, project_=project, name=f"{b}栋") for b in range(1, 21)]
    units = [Unit(project=project, building=buildings[i % 20], room_no=f"{i // 20 + 1}0{i % 20 + 1}", area=Decimal("90"))
             for i in range(2_000)]
    names = ["=SUM(A1)", "+86 客户", "-张伟", "@李娜", " 前后有空格 ", "王\x01芳", "a_x000D_b", "赵&<钱>"]
    payers = [Customer(project=project, name=f"{names[i % len(names)]}{i}", phone=f"139{i:08d}",
                       id_number=f"110105{i:08d}002X") for i in range(2_000)]
    session.add_all(units + payers)
    session.flush()
    periods = [f"2025-{m:02d}" for m in range(1, 11)]
    session.execute(insert(Bill), [
        {"project_id": project.id, "unit_id": u.id, "customer_id": payers[i].id, "fee_type_id": fee.id, "period": p,
         "amount_due": Decimal(f"{100 + i}.{m:02d}"), "amount_paid": Decimal("0.00") if m % 3 else Decimal(f"{100 + i}.{m:02d}"),
         "status": BillStatus.UNPAID if m % 3 else BillStatus.PAID, "due_date": dt.date(2025, m, 15)}
        for i, u in enumerate(units) for m, p in enumerate(periods, start=1)])
    other = f.project(session)
    f.bill(session, unit_=f.unit(session, project_=other), fee_type_=f.fee_type(session, project_=other), period="2025-01")
    keys = ["id", "period", "unit", "customer", "fee_type", "amount_due", "amount_paid", "status", "due_date"]
    query = select(Bill).order_by(Bill.period.desc(), Bill.id.desc())
    result, data = _export(session, tmp_path, Bill, keys, actor, query=query)

    def shown(name):  # as a text cell reads back: control characters left out, a CR as Excel's escape
        return name.replace("\x01", "").replace("_x000D_", "_x005F_x000D_")

    expected = [
        [b.id, b.period, f"{b.unit.building.name}-{b.unit.room_no}", shown(b.customer.name), "物业管理费",
         float(b.amount_due), float(b.amount_paid), b.status.label, dt.datetime.combine(b.due_date, dt.time())]
        for b in session.scalars(query.where(Bill.project_id == project.id).options(
            selectinload(Bill.unit).selectinload(Unit.building), selectinload(Bill.customer)))]
    book = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]  # read-only: 180,000 cells, fast
    rows = [list(row) for row in book.iter_rows(min_row=2, values_only=True)]
    assert rows[0] == [labels_of(Bill)[k] for k in keys]
    assert rows[1:] == expected and len(expected) == result.rows == 20_000
    first = next(book.iter_rows(min_row=3, max_row=3))
    assert [c.number_format for c in first[5:9:3]] == ["#,##0.00", "yyyy-mm-dd"]
    assert [c.data_type for c in first[:4]] == ["n", "s", "s", "s"]

    _, masked = _export(session, tmp_path, Customer, ["id", "name", "phone", "id_number"], actor)
    _, clear = _export(session, tmp_path, Customer, ["id", "name", "phone", "id_number"], actor, unmask=True)
    people = session.scalars(select(Customer).where(Customer.project_id == project.id).order_by(Customer.id)).all()
    assert _rows(masked)[1:] == [[c.id, shown(c.name), f"{c.phone[:3]}****{c.phone[-4:]}",
                                  f"{c.id_number[:3]}{'*' * 11}{c.id_number[-4:]}"] for c in people]
    assert _rows(clear)[1:] == [[c.id, shown(c.name), c.phone, c.id_number] for c in people]



def test_export_layout(session, p1, tmp_path):
    """The title row, the bold header frozen in view under it, the widths; text kept as typed around its spaces."""
    project, actor = p1
    f.customer(session, project_=project, name=" 张伟 ", phone="")
    _, data = _export(session, tmp_path, Customer, ["name", "phone", "emergency_contact"], actor)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.title == "客户" and sheet.freeze_panes == "A3"
    assert sheet["A1"].value.startswith("客户（导出时间 ") and sheet["A1"].font.b and sheet["A1"].font.sz == 14
    assert sheet.row_dimensions[1].height == 24 and sheet["A2"].font.b and sheet["A2"].value == "姓名"
    assert sheet.column_dimensions["C"].width > sheet.column_dimensions["A"].width >= 8
    assert [c.value for c in sheet[3]] == [" 张伟 ", "", ""]
