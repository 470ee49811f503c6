"""批量导入: blank cells of columns the database keeps NOT NULL, in a file re-imported onto records on file.

A blank 类型 of a customer on file was previewed as 「客户类型 单位 → （空）」 and the import then refused as if
another import had written the same records (the NOT NULL the write met read as a duplicate). A blank cell now
keeps what such a column holds — or, where the column's own blank is '' (备注, 紧急联系人, 车牌), stores that — and
the preview says so; a constraint other than a unique key is named for what it is."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from actions.bulk_import import CustomerImporter, import_records
from actions.errors import Refused
from models import (
    Bill,
    Customer,
    CustomerKind,
    ParkingSpace,
    Payment,
    PayMethod,
    Staff,
    StaffPosition,
    Unit,
    UnitCustomer,
    UnitKind,
    UnitRelation,
    UnitStatus,
)
from tests import factories as f
from tests.actions.test_bulk_import import UNITS, _billed, _state, counts, p1  # noqa: F401  (fixture)
from tests.data.workbooks import workbook


def _import(session, kind, rows, actor, name="导入.xlsx", **kw):
    return import_records(session, kind=kind, data=workbook({"数据": rows}), file_name=name, actor=actor, **kw)


def _changes(result) -> list[tuple[tuple[str, str, str], ...]]:
    return [u.changes for u in result.updates]


CUSTOMER_HEAD = ["姓名", "手机号", "身份证号", "类型", "紧急联系人", "备注"]


def _customer(session) -> tuple:
    session.expire_all()
    c = session.scalar(select(Customer).where(Customer.name == "张伟"))
    return c.kind, c.phone, c.id_number, c.emergency_contact, c.note


def test_a_blank_customer_type_keeps_the_stored_type_and_the_file_imports(session, p1):  # noqa: F811
    """The colleague's file: 张伟 imported as 单位, then the same with 类型 blank and 备注 "x"."""
    project, actor = p1
    first = [["姓名", "手机号", "类型", "备注"], ["张伟", "13812345678", "单位", None]]
    assert _import(session, "customers", first, actor, project_id=project.id).written
    again = [["姓名", "手机号", "类型", "备注"], ["张伟", "13812345678", None, "x"]]
    preview = _import(session, "customers", again, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert (preview.counts["update"], preview.counts["error"]) == (1, 0)
    assert _changes(preview) == [(("备注", "", "x"),)]  # no 「客户类型 单位 → （空）」
    result = _import(session, "customers", again, actor, name="2.xlsx", project_id=project.id)
    assert result.written and result.counts["update"] == 1 and _changes(result) == [(("备注", "", "x"),)]
    assert _customer(session) == (CustomerKind.COMPANY, "13812345678", "", "", "x")


def test_blank_cells_of_a_customer_on_file_keep_or_clear_as_each_column_may(session, p1):  # noqa: F811
    """类型 (an enum), 手机号 and 身份证号 (which identify the customer) keep what is stored; 紧急联系人 and 备注, whose
    blank is '', are cleared — shown as such in the preview, written, and re-imported 无变化."""
    project, actor = p1
    first = [CUSTOMER_HEAD, ["张伟", "13812345678", "11010519491231002X", "单位", "李四 13900000000", "老客户"]]
    assert _import(session, "customers", first, actor, project_id=project.id).written
    before = _customer(session)
    blank = [CUSTOMER_HEAD, ["张伟", None, "11010519491231002X", None, None, None]]
    preview = _import(session, "customers", blank, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert (preview.counts["update"], preview.counts["error"]) == (1, 0), [p.message for p in preview.problems]
    assert _changes(preview) == [(("紧急联系人", "李四 13900000000", ""), ("备注", "老客户", ""))]
    assert _customer(session) == before  # a preview writes nothing
    result = _import(session, "customers", blank, actor, name="2.xlsx", project_id=project.id)
    assert result.written and result.counts["update"] == 1, [p.message for p in result.problems]
    assert _customer(session) == (CustomerKind.COMPANY, "13812345678", "11010519491231002X", "", "")
    # found by 手机号 + 姓名, its 身份证号 blank: kept too
    by_phone = [CUSTOMER_HEAD, ["张伟", "13812345678", None, None, None, "改"]]
    result = _import(session, "customers", by_phone, actor, name="3.xlsx", project_id=project.id)
    assert result.written and _changes(result) == [(("备注", "", "改"),)]
    assert _customer(session) == (CustomerKind.COMPANY, "13812345678", "11010519491231002X", "", "改")
    again = _import(session, "customers", by_phone, actor, name="4.xlsx", project_id=project.id, dry_run=True)
    assert (again.counts["unchanged"], again.counts["update"]) == (1, 0)


def test_blank_cells_of_staff_on_file_keep_the_stored_values(session, p1):  # noqa: F811
    """职位 (an enum, no default), 姓名, 手机号 and 在职 of an employee on file: a blank cell keeps each."""
    project, actor = p1
    head = ["工号", "姓名", "手机号", "职位", "部门", "在职"]
    first = [head, ["KF001", "李娜", "13900001111", "前台客服", None, "是"]]
    assert _import(session, "staff", first, actor, project_id=project.id).written
    blank = [head, ["KF001", None, None, None, None, None]]
    preview = _import(session, "staff", blank, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert (preview.counts["unchanged"], preview.counts["update"], preview.counts["error"]) == (1, 0, 0), \
        ([p.message for p in preview.problems], _changes(preview))
    result = _import(session, "staff", blank, actor, name="2.xlsx", project_id=project.id)
    assert result.written and result.counts["unchanged"] == 1
    session.expire_all()
    staff = session.scalar(select(Staff).where(Staff.employee_no == "KF001"))
    assert (staff.name, staff.phone, staff.position, staff.active) == ("李娜", "13900001111", StaffPosition.FRONT_DESK, True)


def test_blank_cells_of_parking_on_file_clear_its_area_and_plate(session, p1):  # noqa: F811
    """车库/位置 and 车牌, NOT NULL texts whose blank is '': a blank cell stores '' (the car gone), 租用 keeps."""
    project, actor = p1
    head = ["车位号", "位置", "车牌号", "是否租用"]
    first = [head, ["B1-001", "地下一层", "沪A12345", "否"]]
    assert _import(session, "parking", first, actor, project_id=project.id).written
    blank = [head, ["B1-001", None, None, None]]
    preview = _import(session, "parking", blank, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert (preview.counts["update"], preview.counts["error"]) == (1, 0), [p.message for p in preview.problems]
    assert _changes(preview) == [(("区域", "地下一层", ""), ("车牌号", "沪A12345", ""))]
    result = _import(session, "parking", blank, actor, name="2.xlsx", project_id=project.id)
    assert result.written and result.counts["update"] == 1, [p.message for p in result.problems]
    session.expire_all()
    space = session.scalar(select(ParkingSpace).where(ParkingSpace.code == "B1-001"))
    assert (space.area_name, space.plate_no, space.is_rented) == ("", "", False)


def test_blank_type_status_and_area_of_a_unit_on_file_keep_them(session, p1):  # noqa: F811
    """类型, 状态 (enums) and 面积 keep; 交房日期 (may be NULL) is cleared, as before."""
    project, actor = p1
    assert _import(session, "units", UNITS, actor).written
    blank = [UNITS[0], ["翠湖花园", "1栋", "1-101", None, None, None, None]]
    preview = _import(session, "units", blank, actor, name="2.xlsx", dry_run=True)
    assert (preview.counts["update"], preview.counts["error"]) == (1, 0), [p.message for p in preview.problems]
    assert _changes(preview) == [(("交房日期", "2024-03-05", ""),)]
    assert _import(session, "units", blank, actor, name="2.xlsx").written
    session.expire_all()
    unit = session.scalar(select(Unit).where(Unit.room_no == "1-101"))
    assert (unit.kind, unit.status, unit.area, unit.handover_date) == (UnitKind.HOUSE, UnitStatus.OCCUPIED,
                                                                       Decimal("89.50"), None)


def test_a_constraint_other_than_a_unique_key_is_not_told_as_a_duplicate(session, p1, monkeypatch):  # noqa: F811
    """Whatever NOT NULL a write still met is named (the column, in Chinese), not 「另一项导入刚刚写入了相同的记录」;
    nothing is written."""
    project, actor = p1
    first = [CUSTOMER_HEAD, ["张伟", "13812345678", None, "单位", None, "老客户"]]
    assert _import(session, "customers", first, actor, project_id=project.id).written
    session.commit()  # the test's savepoint: what the refused import's rollback returns to
    before = counts(session)
    stored = _customer(session)
    def null(self, rows):  # a NULL where the database wants a value, as the blank 类型 was written
        self.session.execute(update(Customer.__table__).where(Customer.id.in_([r.target_id for r in rows]))
                             .values(note=None))

    monkeypatch.setattr(CustomerImporter, "write_updates", null)
    changed = [CUSTOMER_HEAD, ["张伟", "13812345678", None, None, None, "新备注"]]
    with pytest.raises(Refused) as refused:
        _import(session, "customers", changed, actor, name="2.xlsx", project_id=project.id)
    assert refused.value.message == "导入客户未完成，本次没有写入任何内容：「备注」不能为空"
    session.rollback()  # the caller's transaction ends; on PostgreSQL the failed statement aborted it anyway
    assert counts(session) == before and _customer(session) == stored


def test_a_blank_collector_or_due_date_of_a_bill_on_file_keeps_them(session, p1):  # noqa: F811
    """责任收费员 「不填时为房屋的责任收费员」: blank on a bill on file it keeps the bill's collector (was: cleared,
    「责任收费员 陈收费 → （空）」); 截止日期 (NOT NULL) keeps; 应收 corrected on the same row is written."""
    project, actor = p1
    assert _import(session, "units", UNITS, actor).written
    f.staff(session, project_=project, name="陈收费", position=StaffPosition.CASHIER)
    head = ["楼栋", "房号", "收费项目", "账期", "应收(元)", "截止日期", "责任收费员"]
    first = [head, ["1栋", "1-101", "物业管理费", "2026-04", 100, "2026-04-20", "陈收费"]]
    assert _import(session, "bills", first, actor, project_id=project.id).written
    blank = [head, ["1栋", "1-101", "物业管理费", "2026-04", 120, None, None]]
    preview = _import(session, "bills", blank, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert (preview.counts["update"], preview.counts["error"]) == (1, 0), [p.message for p in preview.problems]
    assert _changes(preview) == [(("应收(元)", "100.00", "120.00"),)]
    assert _import(session, "bills", blank, actor, name="2.xlsx", project_id=project.id).written
    session.expire_all()
    bill = session.scalar(select(Bill))
    assert (bill.amount_due, bill.due_date, bill.collector.name) == (Decimal("120.00"), dt.date(2026, 4, 20), "陈收费")



def test_a_changed_collector_or_unit_shows_the_stored_one_by_name(session, p1):  # noqa: F811
    """The preview of a file naming another 责任收费员 (of a unit, of a bill) or another 房屋 (of a parking space)
    showed the stored one by its id (「责任收费员 1 → 李收费」): now by name, as the console shows it."""
    project, actor = p1
    assert _import(session, "units", UNITS, actor).written
    f.staff(session, project_=project, name="陈收费", position=StaffPosition.CASHIER)
    f.staff(session, project_=project, name="李收费", position=StaffPosition.CASHIER)
    head = ["楼栋", "房号", "收费项目", "账期", "应收(元)", "责任收费员"]
    bills = [head, ["1栋", "1-101", "物业管理费", "2026-04", 100, "陈收费"]]
    assert _import(session, "bills", bills, actor, project_id=project.id).written
    bills[1][-1] = "李收费"
    preview = _import(session, "bills", bills, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert _changes(preview) == [(("责任收费员", "陈收费", "李收费"),)]
    units = [["楼栋", "房号", "责任收费员"], ["1栋", "1-101", "陈收费"]]
    assert _import(session, "units", units, actor, name="3.xlsx").written
    units[1][-1] = "李收费"
    preview = _import(session, "units", units, actor, name="4.xlsx", dry_run=True)
    assert _changes(preview) == [(("责任收费员", "陈收费", "李收费"),)]
    parking = [["车位号", "房屋"], ["B1-001", "1栋-1-101"]]
    assert _import(session, "parking", parking, actor, project_id=project.id).written
    parking[1][-1] = "1栋-1-102"
    preview = _import(session, "parking", parking, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert _changes(preview) == [(("关联房屋", "1栋-1-101", "1栋-1-102"),)]
    session.expire_all()  # previews: nothing written
    assert session.scalar(select(Bill)).collector.name == "陈收费"
    assert session.scalar(select(Unit).where(Unit.room_no == "1-101")).collector.name == "陈收费"
    assert session.scalar(select(ParkingSpace)).unit.room_no == "1-101"


def test_a_booked_payment_with_a_blank_method_re_imports_unchanged(session, p1):  # noqa: F811
    """支付方式 (an enum) blank on a payment on file: 无变化 — it was refused as 「收款记录不能通过导入修改（支付方式与已登记的
    不同）」; nothing written either way."""
    project, actor = p1
    _billed(session, p1, amount_paid=100)
    bill = session.scalar(select(Bill).order_by(Bill.id))
    before, state = counts(session), _state(session)
    rows = [["收据号", "账单", "金额(元)", "支付方式", "收款时间"], ["R001", f"账单#{bill.id}", 100, None, "2026-03-05 10:30"]]
    result = _import(session, "payments", rows, actor, name="p1.xlsx", project_id=project.id, dry_run=True)
    assert (result.counts["unchanged"], result.counts["error"]) == (1, 0), [p.message for p in result.problems]
    result = _import(session, "payments", rows, actor, name="p1.xlsx", project_id=project.id)
    assert result.written and result.counts["unchanged"] == 1
    session.expire_all()
    assert _state(session) == state and session.scalar(select(Payment)).method is PayMethod.CASH
    assert [counts(session)[m] for m in ("Payment", "Bill")] == [before[m] for m in ("Payment", "Bill")]


def test_a_blank_relation_names_the_customers_one_link_to_the_unit(session, p1):  # noqa: F811
    """关系 「不填为业主」 is for a new link: 李娜, 租户 of 1栋-1-101 on file, re-imported with 关系 blank was previewed as a
    new 业主 link of the same customer to the same unit (and written so). It now names her one link there: 无变化."""
    project, actor = p1
    assert _import(session, "units", UNITS, actor).written
    head = ["姓名", "手机号", "楼栋", "房号", "关系"]
    assert _import(session, "customers", [head, ["李娜", "13900001111", "1栋", "1-101", "租户"]], actor,
                   project_id=project.id).written
    before = counts(session)
    blank = [head, ["李娜", "13900001111", "1栋", "1-101", None]]
    preview = _import(session, "customers", blank, actor, name="2.xlsx", project_id=project.id, dry_run=True)
    assert (preview.counts["unchanged"], preview.counts["new"], preview.counts["error"]) == (1, 0, 0)
    result = _import(session, "customers", blank, actor, name="2.xlsx", project_id=project.id)
    assert result.written and result.counts["unchanged"] == 1
    assert [counts(session)[m] for m in ("Customer", "UnitCustomer")] == [before[m] for m in ("Customer", "UnitCustomer")]
    session.expire_all()
    assert [(link.relation, link.unit.room_no) for link in session.scalars(select(UnitCustomer))] == [
        (UnitRelation.TENANT, "1-101")]


def test_a_plate_typed_in_lower_case_is_the_stored_plate(session, p1):  # noqa: F811
    """车牌号 沪a12345 is 沪A12345, as the console's 车位租用 stores it: stored upper-cased, and a file typing it in lower
    case against the stored plate is 无变化 (was: 「车牌号 沪A12345 → 沪a12345」, written lower-case)."""
    project, actor = p1
    head = ["车位号", "车牌号"]
    assert _import(session, "parking", [head, ["B1-001", "沪a 12345"], ["B1-002", "沪A12346"]], actor,
                   project_id=project.id).written
    lower = [head, ["B1-001", "沪A12345"], ["B1-002", "沪a12346"]]
    result = _import(session, "parking", lower, actor, name="2.xlsx", project_id=project.id)
    assert result.written and (result.counts["unchanged"], result.counts["update"]) == (2, 0), _changes(result)
    session.expire_all()
    assert session.scalars(select(ParkingSpace.plate_no).order_by(ParkingSpace.code)).all() == ["沪A12345", "沪A12346"]


def test_a_yes_no_column_takes_its_own_words(session, p1):  # noqa: F811
    """A roster's 在职 column holding 在职/离职, a parking list's 租用 holding 出租/空闲: read as 是/否 (was: 「「离职」应填
    是 或 否」); anything else is still refused on its row, nothing written."""
    project, actor = p1
    head = ["工号", "姓名", "岗位", "在职"]
    rows = [head, ["KF001", "李娜", "前台客服", "在职"], ["KF002", "王强", "收费员", "离职"]]
    assert _import(session, "staff", rows, actor, project_id=project.id).written
    session.expire_all()
    assert session.execute(select(Staff.employee_no, Staff.active).order_by(Staff.employee_no)).all() == [
        ("KF001", True), ("KF002", False)]
    head = ["车位号", "租用"]
    assert _import(session, "parking", [head, ["B1-001", "出租"], ["B1-002", "空闲"]], actor, project_id=project.id).written
    session.expire_all()
    assert session.execute(select(ParkingSpace.code, ParkingSpace.is_rented).order_by(ParkingSpace.code)).all() == [
        ("B1-001", True), ("B1-002", False)]
    before = counts(session)
    refused = _import(session, "staff", [["工号", "在职"], ["KF001", "休假"]], actor, name="3.xlsx", project_id=project.id)
    assert not refused.written and [p.message for p in refused.problems] == ["「数据」第2行 在职 「休假」应填 是 或 否"]
    assert counts(session) == before
