"""批量导入: every kind's template, upsert by natural key, unchanged detection, CSV, hostile input, scope."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from actions.actor import Actor
from actions.audit import trail_clause
from actions.billing import record_payment
from actions.bulk_import import KINDS, import_records, importer_for
from actions.errors import NotPermitted, Refused
from actions.kernel.periods import add_months, current_period
from actions.records import save_record
from actions.spreadsheets.writer import template
from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Bill,
    BillStatus,
    Building,
    Customer,
    FeeBasis,
    FeeType,
    ImportBatch,
    OperationLog,
    ParkingSpace,
    Payment,
    PayMethod,
    Receipt,
    Staff,
    StaffPosition,
    Unit,
    UnitCustomer,
    UnitStatus,
)
from tests import factories as f
from tests.actions.test_dunning import committed_estate, postgres_only  # noqa: F401  (fixture)
from tests.data.workbooks import replace_part, workbook, zip_bomb
from tests.race_support import second_while_first_open

MODELS = (Unit, Building, Customer, UnitCustomer, ParkingSpace, Staff, Bill, Payment, ImportBatch, OperationLog, AuditLog)


def counts(session) -> dict[str, int]:
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in MODELS}


@pytest.fixture
def p1(session):
    project = f.project(session, name="翠湖花园")
    fee = FeeType(project=project, name="物业管理费", basis=FeeBasis.PER_AREA, rate=Decimal("3.00"), due_day=15)
    session.add(fee)
    session.flush()
    actor = Actor(user_id=None, name="主管", project_ids=frozenset({project.id}))
    return project, actor


def _import(session, kind, data, actor, name="导入.xlsx", **kw):
    return import_records(session, kind=kind, data=data, file_name=name, actor=actor, **kw)


def _filled_template(session, kind, actor, project_id) -> bytes:
    """The kind's template as downloaded, with its example row kept (the example is a valid row)."""
    data = template(importer_for(session, kind, actor=actor, project_id=project_id))
    return data


def test_every_template_imports(session, p1):
    project, actor = p1
    for kind in ("units", "customers", "parking", "staff", "bills", "payments"):
        data = _filled_template(session, kind, actor, project.id)
        book = load_workbook(io.BytesIO(data))
        assert book.sheetnames[1] == "填写说明"
        result = _import(session, kind, data, actor, name=f"{kind}.xlsx", project_id=project.id)
        assert not result.problems, (kind, [p.message for p in result.problems])
        assert result.written and result.counts["new"] == 1, (kind, result.counts)
    bill = session.scalar(select(Bill))
    assert (bill.amount_due, bill.amount_paid, bill.status) == (Decimal("268.50"), Decimal("268.50"), BillStatus.PAID)
    assert bill.due_date == dt.date(2026, 3, 15)  # the fee type's due day
    customer = session.scalar(select(Customer))
    assert customer.id_number == "11010519491231002X" and (customer.unit_links[0].unit.building.name, customer.unit_links[0].unit.room_no) == ("1栋", "101")
    assert bill.customer_id == customer.id  # who pays: the unit's owner
    staff = session.scalar(select(Staff).where(Staff.employee_no == "KF001"))
    assert staff.position is StaffPosition.FRONT_DESK and staff.department.name == "客服部"


def test_template_examples_name_units_as_they_are_stored(session, p1):
    """The example row names 1栋 / 101, as units are stored; kept as downloaded, it finds that unit."""
    project, actor = p1
    unit = f.unit(session, project_=project, building_=f.building(session, project_=project, name="1栋"), room_no="101")
    for kind in ("units", "customers", "bills"):
        data = _filled_template(session, kind, actor, project.id)
        sheet = load_workbook(io.BytesIO(data)).worksheets[0]
        header, example = ([c.value for c in row] for row in sheet.iter_rows(max_row=2))
        assert (example[header.index("楼栋")], example[header.index("房号")]) == ("1栋", "101"), kind
        notes = " ".join(str(c.value or "") for row in load_workbook(io.BytesIO(data))["填写说明"].iter_rows()
                         for c in row)
        assert "1-101" not in notes, kind
        before = counts(session)
        result = _import(session, kind, data, actor, name=f"{kind}.xlsx", project_id=project.id, dry_run=True)
        unit_columns = {"房屋", "楼栋", "房号"}
        assert [p.message for p in result.problems if p.column in unit_columns] == [], kind
        assert not result.problems, (kind, [p.message for p in result.problems])
        assert result.counts["error"] == 0 and counts(session) == before, kind
    # the units template names that unit rather than a new one
    result = _import(session, "units", _filled_template(session, "units", actor, project.id), actor,
                     project_id=project.id, dry_run=True)
    assert result.counts["new"] == 0 and result.counts["update"] + result.counts["unchanged"] == 1
    # and the one-column form the instructions give (“楼栋-房号”，如 1栋-101) finds it too
    one_column = workbook({"客户": [["房屋", "客户姓名", "手机号"], ["1栋-101", "王芳", "13900002222"]]})
    result = _import(session, "customers", one_column, actor, project_id=project.id, dry_run=True)
    assert not result.problems and result.counts["new"] == 1
    assert session.get(Unit, unit.id).room_no == "101"


UNITS = [
    ["项目", "楼栋", "房号", "房屋类型", "房屋状态", "建筑面积(㎡)", "交房日期"],
    ["翠湖花园", "1栋", "1-101", "住宅", "已入住", 89.5, "2024/3/5"],
    ["翠湖花园", "1栋", "1-102", "住宅", "空置", "120", None],
    ["翠湖花园", "２栋", "２－１０１　", "商铺", "已交房", "56.25", "2024年3月5日"],
]


def test_upsert_by_natural_key(session, p1):
    project, actor = p1
    data = workbook({"房屋": UNITS})  # once: openpyxl stamps the time, and the same file must be the same bytes
    first = _import(session, "units", data, actor)
    assert first.written and first.counts["new"] == 3 and first.counts["update"] == 0
    assert first.counts and session.get(ImportBatch, first.batch_id).counts["buildings_added"] == 2
    shop = session.scalar(select(Unit).where(Unit.room_no == "2-101"))
    assert (shop.building.name, shop.area, shop.handover_date) == ("2栋", Decimal("56.25"), dt.date(2024, 3, 5))
    assert (shop.building.sort_key, shop.sort_key) == ("0000000002栋", "0000000002-0000000101")  # natural order

    before = counts(session)
    with pytest.raises(Refused, match="该批次已导入"):
        _import(session, "units", data, actor)
    same = _import(session, "units", data, actor, dry_run=True)
    assert same.counts["unchanged"] == 3 and same.counts["new"] == 0 and counts(session) == before

    corrected = [row[:] for row in UNITS]
    corrected[1][5] = 90
    corrected[2][4] = "已入住"
    result = _import(session, "units", workbook({"房屋": corrected}), actor, name="更正.xlsx")
    assert result.written and (result.counts["update"], result.counts["unchanged"]) == (2, 1)
    assert [u.changes for u in result.updates] == [(("建筑面积(㎡)", "89.50", "90.00"),), (("房屋状态", "空置", "已入住"),)]
    session.expire_all()
    assert session.scalar(select(Unit.area).where(Unit.room_no == "1-101")) == Decimal("90.00")
    assert session.scalar(select(Unit.status).where(Unit.room_no == "1-102")) is UnitStatus.OCCUPIED
    assert session.scalar(select(func.count()).select_from(Unit)) == before["Unit"]
    updates = session.scalar(select(func.count()).where(AuditLog.table_name == "unit", AuditLog.kind == AuditKind.UPDATE))
    assert updates == 2


def test_missing_columns_are_left_alone(session, p1):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    only_keys = workbook({"S": [["楼栋", "房号"], ["1栋", "1-101"]]})
    result = _import(session, "units", only_keys, actor, name="b.xlsx", project_id=project.id)
    assert result.counts["unchanged"] == 1 and result.written
    assert session.get(ImportBatch, result.batch_id).counts["updated"] == 0
    assert session.scalar(select(Unit.area).where(Unit.room_no == "1-101")) == Decimal("89.50")


def test_rows_with_problems_write_nothing(session, p1):
    project, actor = p1
    other = f.project(session, name="别的项目")
    f.staff(session, project_=project, name="王芳")
    f.staff(session, project_=project, name="王芳")
    data = workbook({"房屋": [
        ["项目", "楼栋", "房号", "建筑面积(㎡)", "责任管家", "房屋状态"],
        ["翠湖花园", "1栋", "1-101", -5, None, None],
        ["翠湖花园", "1栋", "1-102", 80, "王芳", None],
        ["别的项目", "1栋", "1-103", 80, None, None],
        ["不存在", "1栋", "1-104", 80, None, None],
        ["翠湖花园", "1栋", "1-105", 80, "赵六", None],
        ["翠湖花园", "1 栋", "1-101 ", 80, None, None],
        ["翠湖花园", "1栋", "1-106", 80, None, "住着"],
    ]})
    before = counts(session)
    result = _import(session, "units", data, actor)
    assert counts(session) == before and not result.written
    messages = {p.message for p in result.problems}
    assert messages >= {
        "「房屋」第2行 建筑面积(㎡) -5.00 不能小于 0",
        "「房屋」第3行 责任管家 王芳 有重名，请填写工号",
        "「房屋」第4行 项目 无权导入项目“别的项目”的数据",
        "「房屋」第5行 项目 不存在 不存在",
        "「房屋」第6行 责任管家 赵六 不是本项目员工",
        "「房屋」第7行 楼栋 / 房号 1栋-1-101 与第2行重复",
    }
    assert any(m.startswith("「房屋」第8行 房屋状态 「住着」不是可选值") for m in messages)
    assert other.id not in {u.project_id for u in session.scalars(select(Unit))}


def test_each_row_naming_another_project_is_refused_on_its_own_row(session, p1):
    """The verdict on a 项目 is worked out once per name; every row naming it still gets its own message."""
    project, _ = p1
    other = f.project(session, name="别的项目")
    actor = Actor(user_id=None, name="主管", project_ids=frozenset({project.id, other.id}))
    data = workbook({"房屋": [
        ["项目", "楼栋", "房号", "建筑面积(㎡)"],
        ["别的项目", "1栋", "1-101", 80],
        ["翠湖花园", "1栋", "1-102", 80],
        ["别的项目", "1栋", "1-103", 80],
        ["没有这个项目", "1栋", "1-104", 80],
        ["没有这个项目", "1栋", "1-105", 80],
    ]})
    before = counts(session)
    result = _import(session, "units", data, actor, project_id=project.id)
    assert counts(session) == before and not result.written
    assert [p.message for p in result.problems] == [
        "「房屋」第2行 项目 别的项目 不是导入时选择的项目",
        "「房屋」第4行 项目 别的项目 不是导入时选择的项目",
        "「房屋」第5行 项目 没有这个项目 不存在",
        "「房屋」第6行 项目 没有这个项目 不存在",
    ]
    assert result.counts["error"] == 4 and result.counts["new"] == 1


def test_customers_and_links_over_many_insert_statements(session, p1, monkeypatch):
    """SQLite writes the new rows a few thousand to a statement (multi-row VALUES): with statements of four rows,
    ten customers and their links are all written, each customer linked to its own unit."""
    from actions.spreadsheets import bulk

    monkeypatch.setattr(bulk, "SQLITE_PARAMS", 40)
    project, actor = p1
    rooms = [f"1-{100 + i}" for i in range(10)]
    _import(session, "units", workbook({"房屋": [["楼栋", "房号"], *(["1栋", r] for r in rooms)]}), actor,
            project_id=project.id)
    data = workbook({"业主": [
        ["姓名", "手机号", "楼栋", "房号", "关系"],
        *([f"客户{i}", f"1380000{i:04d}", "1栋", r, "业主"] for i, r in enumerate(rooms)),
    ]})
    result = _import(session, "customers", data, actor, project_id=project.id)
    assert result.written and result.counts["new"] == 10, [p.message for p in result.problems]
    linked = session.execute(
        select(Customer.name, Customer.phone, Unit.room_no, UnitCustomer.batch_id)
        .join(UnitCustomer, UnitCustomer.customer_id == Customer.id).join(Unit, Unit.id == UnitCustomer.unit_id)
    ).all()
    assert sorted(linked) == sorted((f"客户{i}", f"1380000{i:04d}", r, result.batch_id) for i, r in enumerate(rooms))
    again = _import(session, "customers", data, actor, project_id=project.id, dry_run=True)
    assert again.counts["unchanged"] == 10 and not again.has_errors


def test_columns_of_one_value_are_written_to_every_row(session, p1, monkeypatch):
    """A column holding one value throughout (the project, a default) is bound once per statement on SQLite: every
    row still gets it, the others their own values, and RETURNING gives the rows in the order given — for many
    rows over several statements, for one row (every column one value) and for rows all alike."""
    from actions.spreadsheets import bulk

    monkeypatch.setattr(bulk, "SQLITE_PARAMS", 40)
    project, _ = p1
    table = Customer.__table__
    names = [f"客户{i}" for i in range(9)]
    back = bulk.insert_columns(session, table, ["project_id", "name", "phone", "note"],
                               [[project.id] * 9, names, ["13800000000"] * 9, ["备注"] * 9], returning=["id", "name"])
    assert [name for _, name in back] == names
    one = bulk.insert_columns(session, table, ["project_id", "name"], [[project.id], ["单独"]], returning=["id", "name"])
    alike = bulk.insert_columns(session, table, ["project_id", "name"], [[project.id] * 2, ["同名"] * 2], returning=["id"])
    assert [name for _, name in one] == ["单独"] and len({i for (i,) in alike}) == 2
    stored = session.execute(select(Customer.id, Customer.project_id, Customer.name, Customer.phone, Customer.note,
                                    Customer.version).order_by(Customer.id)).all()
    assert [(r.id, r.name) for r in stored] == [*back, *one, *((i, "同名") for (i,) in alike)]
    assert {(r.project_id, r.version) for r in stored} == {(project.id, 1)}
    assert [(r.phone, r.note) for r in stored[:9]] == [("13800000000", "备注")] * 9


def test_unit_rows_keep_the_units_rules(session, p1):
    """The dates and the responsible staff as the console's unit form holds them: nothing written."""
    project, actor = p1
    f.staff(session, project_=project, name="孙师傅", position=StaffPosition.ENGINEER)
    f.staff(session, project_=project, name="前台小李", position=StaffPosition.FRONT_DESK)
    data = workbook({"房屋": [
        ["项目", "楼栋", "房号", "建筑面积(㎡)", "交房日期", "入住日期", "责任管家", "责任收费员"],
        ["翠湖花园", "1栋", "1-101", 80, "2031-01-01", None, None, None],
        ["翠湖花园", "1栋", "1-102", 80, "2019-08-25", "2018-01-01", None, None],
        ["翠湖花园", "1栋", "1-103", 80, None, "2020-01-01", None, None],
        ["翠湖花园", "1栋", "1-104", 80, None, None, "前台小李", "孙师傅"],
    ]})
    before = counts(session)
    result = _import(session, "units", data, actor)
    assert counts(session) == before and not result.written
    assert {p.message for p in result.problems} == {
        f"「房屋」第2行 交房日期 交房日期 2031-01-01 晚于今天（{dt.datetime.now(SHANGHAI).date()}）",
        "「房屋」第3行 入住日期 入住日期 2018-01-01 早于交房日期 2019-08-25",
        "「房屋」第4行 入住日期 有入住日期须先填写交房日期：房屋交付后才能入住",
        "「房屋」第5行 责任管家 前台小李 的岗位是前台客服，责任管家须为楼宇管家",
        "「房屋」第5行 责任收费员 孙师傅 的岗位是维修工，责任收费员须为收费员、前台客服",
    }


def test_a_number_or_date_cell_holding_a_dash_or_none_is_blank(session, p1):
    """面积 「—」, 交房日期 「/」, 「无」: what people put for "none" is an empty cell, not 「不是数字」; a required one
    still says it is empty, naming its row."""
    project, actor = p1
    data = workbook({"房屋": [
        ["项目", "楼栋", "房号", "建筑面积(㎡)", "交房日期", "入住日期"],
        ["翠湖花园", "1栋", "1-101", "—", "/", "无"],
        ["翠湖花园", "1栋", "1-102", " - ", "2019-08-25", "——"],
        ["翠湖花园", "1栋", "1-103", None, None, None],  # left empty: what the others must read as
    ]})
    result = _import(session, "units", data, actor)
    assert result.written and result.counts["new"] == 3, [p.message for p in result.problems]
    rows = session.execute(select(Unit.area, Unit.handover_date, Unit.move_in_date)
                           .where(Unit.project_id == project.id).order_by(Unit.room_no)).all()
    empty = tuple(rows[2])
    assert empty[1:] == (None, None) and [tuple(r) for r in rows[:2]] == [empty, (empty[0], dt.date(2019, 8, 25), None)]
    before = counts(session)
    paid = workbook({"收款": [["楼栋", "房号", "收费项目", "账期", "金额", "收款日期"],
                              ["1栋", "1-101", "物业管理费", "2026-03", "—", "2026-03-05"]]})
    refused = _import(session, "payments", paid, actor, project_id=project.id)
    assert not refused.written and counts(session) == before
    assert [p.message for p in refused.problems] == ["「收款」第2行 金额(元) 为空"]


def test_customers_with_links_and_masked_values(session, p1):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": [
        ["姓名", "手机号", "身份证号", "楼栋", "房号", "关系", "起始日期"],
        ["张伟", "13812345678", "11010519491231002x", "1栋", "1-101", "业主", "2024-03-05"],
        ["张伟", "13812345678", "11010519491231002X", "1栋", "1-102", "业主", "2024-03-05"],
        ["李娜", "139 0000 1111", None, "2栋", "2-101", "商户", None],
    ]})
    result = _import(session, "customers", data, actor, project_id=project.id)
    assert result.written and result.counts["new"] == 3, [p.message for p in result.problems]
    assert session.scalar(select(func.count()).select_from(Customer)) == 2
    assert session.scalar(select(func.count()).select_from(UnitCustomer)) == 3

    masked = workbook({"业主": [
        ["姓名", "手机号", "身份证号", "楼栋", "房号", "关系", "起始日期"],
        ["张伟", "138****5678", "110***********002X", "1栋", "1-101", "业主", "2024-03-05"],
    ]})
    # Masked numbers cannot identify a customer: this row needs its 编号 (an exported file has it).
    result = _import(session, "customers", masked, actor, name="m.xlsx", project_id=project.id, dry_run=True)
    assert result.has_errors and "至少填写一项" in result.problems[0].message
    zhang = session.scalar(select(Customer).where(Customer.name == "张伟"))
    with_id = workbook({"业主": [
        ["编号", "姓名", "手机号", "身份证号", "紧急联系人"],
        [zhang.id, "张伟", "138****5678", "110***********002X", "张伟妻 13900000000"],
    ]})
    result = _import(session, "customers", with_id, actor, name="m2.xlsx")
    assert result.written and result.counts["update"] == 1
    assert [c[0] for c in result.updates[0].changes] == ["紧急联系人"]
    session.expire_all()
    zhang = session.get(Customer, zhang.id)
    assert (zhang.phone, zhang.id_number) == ("13812345678", "11010519491231002X")

    conflicting = workbook({"业主": [
        ["姓名", "手机号", "身份证号", "楼栋", "房号"],
        ["王五", "13700000000", "11010519491231002X", "1栋", "1-101"],
        ["王五", "13700000001", "11010519491231002X", "1栋", "1-102"],
    ]})
    result = _import(session, "customers", conflicting, actor, name="c.xlsx", project_id=project.id, dry_run=True)
    assert "与第2行为同一客户，但手机号不一致" in result.problems[0].message


def test_imported_customers_and_links_are_audited_per_batch(session, p1):
    """Issue 17: the customers and links an import creates get one 新增 audit row per table and project (who, the
    file, how many), which each one's 变更记录 lists; a customer the import updates keeps its own row, old → new."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": [
        ["姓名", "手机号", "身份证号", "楼栋", "房号", "关系"],
        ["张伟", "13812345678", "11010519491231002X", "1栋", "1-101", "业主"],
        ["张伟", "13812345678", "11010519491231002X", "1栋", "1-102", "业主"],
        ["李娜", "13900001111", None, "2栋", "2-101", "商户"],
    ]})
    result = _import(session, "customers", data, actor, name="业主.xlsx", project_id=project.id)
    assert result.written
    rows = session.scalars(select(AuditLog).where(AuditLog.table_name.in_(["customer", "unit_customer"]))
                           .order_by(AuditLog.id)).all()
    assert [(a.table_name, a.kind, a.record_id, a.project_id, a.actor_id, a.changes) for a in rows] == [
        ("customer", AuditKind.INSERT, f"batch:{result.batch_id}", project.id, actor.user_id,
         {"batch_id": result.batch_id, "count": 2, "file_name": "业主.xlsx"}),
        ("unit_customer", AuditKind.INSERT, f"batch:{result.batch_id}", project.id, actor.user_id,
         {"batch_id": result.batch_id, "count": 3, "file_name": "业主.xlsx"}),
    ]
    customers = session.scalars(select(Customer).order_by(Customer.id)).all()
    links = session.scalars(select(UnitCustomer).order_by(UnitCustomer.id)).all()
    assert {c.batch_id for c in customers} == {link.batch_id for link in links} == {result.batch_id}

    def trail(table, record_id):
        return [(a.kind, a.record_id) for a in session.scalars(
            select(AuditLog).where(trail_clause(table, str(record_id))).order_by(AuditLog.id))]

    assert trail("customer", customers[0].id) == [(AuditKind.INSERT, f"batch:{result.batch_id}")]
    assert trail("unit_customer", links[2].id) == [(AuditKind.INSERT, f"batch:{result.batch_id}")]
    console = Customer(project_id=project.id, name="王五", phone="13700000000")  # not imported: no batch row
    session.add(console)
    session.flush()
    assert trail("customer", console.id) == [(AuditKind.INSERT, str(console.id))]

    changed = workbook({"业主": [
        ["姓名", "手机号", "身份证号", "紧急联系人", "楼栋", "房号", "关系"],
        ["张伟", "13812345678", "11010519491231002X", "张伟妻", "1栋", "1-101", "业主"],
    ]})
    again = _import(session, "customers", changed, actor, name="业主-改.xlsx", project_id=project.id)
    assert again.written and again.counts["update"] == 1
    zhang = customers[0].id
    assert trail("customer", zhang) == [(AuditKind.INSERT, f"batch:{result.batch_id}"), (AuditKind.UPDATE, str(zhang))]
    update = session.scalars(select(AuditLog).where(AuditLog.kind == AuditKind.UPDATE,
                                                    AuditLog.table_name == "customer")).one()
    assert update.changes == {"emergency_contact": "张伟妻"}
    assert session.scalar(select(Customer.batch_id).where(Customer.id == zhang)) == result.batch_id  # still its creator


def test_new_customer_cannot_be_masked(session, p1):
    project, actor = p1
    data = workbook({"S": [["姓名", "手机号", "身份证号"], ["赵六", "13700000000", "110***********002X"]]})
    result = _import(session, "customers", data, actor, project_id=project.id, dry_run=True)
    assert result.problems[0].message == "「S」第2行 身份证号 已打码：新增记录须填写完整"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_in_both_encodings(session, p1, encoding):
    project, actor = p1
    text = "楼栋,房号,房屋状态,建筑面积(㎡)\r\n1栋,1-201,已入住,88.8\r\n1栋,1-202,空置,\r\n"
    result = _import(session, "units", text.encode(encoding), actor, name="房屋.csv", project_id=project.id)
    assert result.written and result.counts["new"] == 2
    assert session.scalar(select(Unit.area).where(Unit.room_no == "1-201")) == Decimal("88.80")


@pytest.mark.parametrize(("refused", "taken", "stored"), [
    # X06: a CSV written from a float column (pandas, another system's export) holds 「13812345678.0」 as text: it
    # was refused; it is the phone 13812345678, as the same number in a float cell is — a fraction not zero is not.
    ("13812345678.5", ("13812345678.0", "１３９００００１１１１.００"), {"13812345678", "13900001111"}),
    # a shop's landline with its extension was refused by the import as by the forms; both store 021-58888888-8023
    # now — a mobile with an extension is still no phone
    ("13812345678-1", ("(021)58888888-8023", "0571-8888 8888转12", "021-58888888-8024"),
     {"021-58888888-8023", "0571-88888888-12", "021-58888888-8024"}),
    # a date in the phone column passed as the landline 20260305; a landline is stored dashed, as with an extension
    ("2026-03-05", ("02164381234", "(0571)8888 8888", "6438 1234"), {"021-64381234", "0571-88888888", "64381234"}),
])
def test_a_phone_as_other_systems_and_people_write_it_is_read_as_stored(session, p1, refused, taken, stored):
    """What is no phone is refused 「不是有效的电话号码」, naming the row, and then nothing is written."""
    project, actor = p1
    before = counts(session)
    text = f"姓名,手机号\r\n张伟,{refused}\r\n李娜,13900001111.0\r\n"
    result = _import(session, "customers", text.encode("utf-8"), actor, name="业主.csv", project_id=project.id)
    assert not result.written and [p.message for p in result.problems] == [f"「业主」第2行 手机号 {refused} 不是有效的电话号码"]
    assert counts(session) == before
    text = "姓名,手机号\r\n" + "".join(f"客户{i},{phone}\r\n" for i, phone in enumerate(taken))
    result = _import(session, "customers", text.encode("utf-8"), actor, name="业主.csv", project_id=project.id)
    assert result.written and not result.problems and result.counts["new"] == len(taken)
    assert set(session.scalars(select(Customer.phone))) == stored


def test_a_unit_written_without_a_dash_after_its_building_is_found(session, p1):
    """房屋 as people write it, 「1栋101」 or 「1号楼1-102室」, was 「不存在于本项目」 (only 「1栋-101」 was split); the
    building is now read up to its suffix, the longest first. A unit the project does not have is still refused,
    and then nothing is written."""
    project, actor = p1
    b1 = f.building(session, project_=project, name="1栋")
    f.building(session, project_=project, name="11栋")
    u101 = f.unit(session, project_=project, building_=b1, room_no="101")
    u102 = f.unit(session, project_=project, building_=b1, room_no="1-102")
    before = counts(session)
    rows = [["业主姓名", "联系电话", "房屋"], ["张伟", "13812345678", "1栋101"], ["李娜", "13900001111", "1号楼1-102室"],
            ["赵敏", "13900001113", "11栋101"]]
    result = _import(session, "customers", workbook({"业主": rows}), actor, project_id=project.id)
    assert not result.written and [p.message for p in result.problems] == ["「业主」第4行 房屋 11栋 101 不存在于本项目"]
    assert counts(session) == before
    result = _import(session, "customers", workbook({"业主": rows[:3]}), actor, name="业主2.xlsx", project_id=project.id)
    assert result.written and not result.problems and result.counts["new"] == 2
    linked = dict(session.execute(select(Customer.name, UnitCustomer.unit_id).join(UnitCustomer.customer)).all())
    assert linked == {"张伟": u101.id, "李娜": u102.id}


def test_a_room_is_found_with_or_without_its_leading_zeros(session, p1):
    """A spreadsheet's number cell drops a room's leading zeros: 101 for the stored 0101 was 「不存在于本项目」,
    though the console's 受理 lookup finds it. The imports now read a room as the lookup does (0101 = 101), in a
    房屋 column as in 楼栋 + 房号, and a units file updates the stored 0101 rather than adding a 101 beside it."""
    project, actor = p1
    b1 = f.building(session, project_=project, name="1栋")
    u0101 = f.unit(session, project_=project, building_=b1, room_no="0101")
    u102 = f.unit(session, project_=project, building_=b1, room_no="102")
    rows = [["业主姓名", "联系电话", "房屋"], ["张伟", "13812345678", "1栋-101"], ["李娜", "13900001111", "1栋0102"]]
    result = _import(session, "customers", workbook({"业主": rows}), actor, project_id=project.id)
    assert result.written and not result.problems and result.counts["new"] == 2
    linked = dict(session.execute(select(Customer.name, UnitCustomer.unit_id).join(UnitCustomer.customer)).all())
    assert linked == {"张伟": u0101.id, "李娜": u102.id}
    units = [["楼栋", "房号", "建筑面积(㎡)"], ["1栋", 101, "95.5"]]  # a number cell: 0101 as Excel keeps it
    result = _import(session, "units", workbook({"房屋": units}), actor, project_id=project.id)
    assert result.written and not result.problems and result.counts.get("new", 0) == 0
    session.expire_all()
    assert session.scalars(select(Unit.room_no).where(Unit.building_id == b1.id).order_by(Unit.room_no)).all() == [
        "0101", "102"]
    assert session.get(Unit, u0101.id).area == Decimal("95.50")


def test_a_room_two_units_answer_to_is_refused_naming_both(session, p1):
    """A building holding both 101 and 0101: a row naming either, however typed, cannot tell which — it is refused
    naming both, not given one of them silently (nor a third unit added by a units file); nothing is written."""
    project, actor = p1
    b1 = f.building(session, project_=project, name="1栋")
    f.unit(session, project_=project, building_=b1, room_no="101")
    f.unit(session, project_=project, building_=b1, room_no="0101")
    f.unit(session, project_=project, building_=b1, room_no="102")
    before = counts(session)
    both = "可能是1栋-0101、1栋-101（本项目两户都有）：请先更正重复的房号"
    rows = [["业主姓名", "联系电话", "楼栋", "房号"], ["张伟", "13812345678", "1栋", "0101"],
            ["李娜", "13900001111", "1栋", "101"], ["赵敏", "13900001113", "1栋", "102"]]
    result = _import(session, "customers", workbook({"业主": rows}), actor, project_id=project.id)
    assert not result.written and [p.message for p in result.problems] == [
        f"「业主」第2行 房屋 1栋 0101 {both}", f"「业主」第3行 房屋 1栋 101 {both}"]
    units = [["楼栋", "房号", "建筑面积(㎡)"], ["1栋", 101, "95.5"], ["1栋", "102", "80"]]
    result = _import(session, "units", workbook({"房屋": units}), actor, project_id=project.id)
    assert not result.written and [p.message for p in result.problems] == [f"「房屋」第2行 房号 1栋 101 {both}"]
    assert counts(session) == before


def test_a_building_written_in_chinese_numerals_is_found(session, p1):
    """「一栋101」, 楼栋 「十一号楼」: the building's number in words is the same building as its digits (1栋, 11栋), as
    the front desk's lookup reads it."""
    project, actor = p1
    u101 = f.unit(session, project_=project, building_=f.building(session, project_=project, name="1栋"), room_no="101")
    u1101 = f.unit(session, project_=project, building_=f.building(session, project_=project, name="11栋"),
                   room_no="1101")
    rows = [["业主姓名", "联系电话", "房屋"], ["张伟", "13812345678", "一栋101"], ["李娜", "13900001111", "十一号楼1101"]]
    result = _import(session, "customers", workbook({"业主": rows}), actor, project_id=project.id)
    assert result.written and not result.problems and result.counts["new"] == 2
    linked = dict(session.execute(select(Customer.name, UnitCustomer.unit_id).join(UnitCustomer.customer)).all())
    assert linked == {"张伟": u101.id, "李娜": u1101.id}


def test_payments_recompute_bills_and_refuse_overpayment(session, p1):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    bills = workbook({"账单": [
        ["楼栋", "房号", "收费项目", "账期", "应收(元)"],
        ["1栋", "1-101", "物业管理费", "2026-03", "268.50"],
        ["1栋", "1-102", "物业管理费", "2026年3月", 300],
    ]})
    assert _import(session, "bills", bills, actor, project_id=project.id).counts["new"] == 2
    bill = session.scalar(select(Bill).where(Bill.amount_due == Decimal("268.50")))
    payments = workbook({"收款": [
        ["收据号", "账单", "金额(元)", "支付方式", "收款时间"],
        ["R001", f"2026-03 账单#{bill.id}", 100, "现金", "2026-03-05 10:30"],
        ["R002", None, 300, "微信", "2026-03-06"],
    ]})
    result = _import(session, "payments", payments, actor, project_id=project.id, dry_run=True)
    assert "账单 为空：请填写账单，或房屋、收费项目和账期" in result.problems[0].message
    payments = workbook({"收款": [
        ["收据号", "账单", "楼栋", "房号", "收费项目", "账期", "金额(元)", "支付方式", "收款时间"],
        ["R001", f"2026-03 账单#{bill.id}", None, None, None, None, 100, "现金", "2026-03-05 10:30"],
        ["R002", None, "1栋", "1-102", "物业管理费", "2026-03", 300, "微信", "2026-03-06"],
    ]})
    result = _import(session, "payments", payments, actor, name="p.xlsx", project_id=project.id)
    assert result.written and result.counts["new"] == 2, [p.message for p in result.problems]
    session.expire_all()
    statuses = dict(session.execute(select(Bill.amount_due, Bill.status)).all())
    assert statuses == {Decimal("268.50"): BillStatus.PARTIAL, Decimal("300.00"): BillStatus.PAID}
    paid_at = session.scalar(select(Payment.paid_at).where(Payment.receipt_no == "R001"))
    assert paid_at == dt.datetime(2026, 3, 5, 2, 30, tzinfo=dt.UTC)

    before = counts(session)
    too_much = workbook({"收款": [["收据号", "账单", "金额(元)", "收款时间"], ["R003", f"账单#{bill.id}", 200, "2026-03-07"]]})
    result = _import(session, "payments", too_much, actor, name="q.xlsx", project_id=project.id)
    assert not result.written and counts(session) == before
    assert "收款合计 300.00 元超过应收 268.50 元" in result.problems[0].message


def test_payment_methods_as_a_till_or_a_bank_writes_them_are_read(session, p1):
    """支付方式 as the cashier's till export and POS slips write it — 微信支付, 支付宝扫码, 银行卡, 信用卡, POS机,
    对公转账, 现金支付 — is the way it names (before: 「「信用卡」不是可选值」 on every such row, nothing imported);
    a word that is no way at all is still refused on its row."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    bills = workbook({"账单": [["楼栋", "房号", "收费项目", "账期", "应收(元)"], ["1栋", "1-101", "物业管理费", "2026-03", 1000]]})
    assert _import(session, "bills", bills, actor, project_id=project.id).counts["new"] == 1
    words = {"微信支付": PayMethod.WECHAT, "支付宝扫码": PayMethod.ALIPAY, "银行卡": PayMethod.CARD,
             "信用卡": PayMethod.CARD, "POS机": PayMethod.CARD, "对公转账": PayMethod.TRANSFER, "现金支付": PayMethod.CASH}
    rows = [["收据号", "楼栋", "房号", "收费项目", "账期", "金额(元)", "支付方式", "收款时间"]]
    rows += [[f"R{n}", "1栋", "1-101", "物业管理费", "2026-03", 10, word, "2026-03-05 10:30"] for n, word in enumerate(words)]
    bad = _import(session, "payments", workbook({"收款": [*rows, ["R99", "1栋", "1-101", "物业管理费", "2026-03", 10,
                                                                  "赊账", "2026-03-05 10:30"]]}), actor, project_id=project.id)
    assert not bad.written and [p.message for p in bad.problems] == [
        "「收款」第9行 支付方式 「赊账」不是可选值（现金、微信、支付宝、刷卡、银行转账）"]
    result = _import(session, "payments", workbook({"收款": rows}), actor, project_id=project.id)
    assert result.written and result.counts["new"] == len(words), [p.message for p in result.problems]
    stored = dict(session.execute(select(Payment.receipt_no, Payment.method)).all())
    assert stored == {f"R{n}": method for n, method in enumerate(words.values())}


def test_a_payment_dated_year_1_is_refused_on_its_row_naming_the_column(session, p1):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    bills = workbook({"账单": [["楼栋", "房号", "收费项目", "账期", "应收(元)"], ["1栋", "1-101", "物业管理费", "2026-03", 100]]})
    _import(session, "bills", bills, actor, project_id=project.id)
    before = counts(session)
    payments = workbook({"收款": [
        ["收据号", "楼栋", "房号", "收费项目", "账期", "金额(元)", "支付方式", "收款时间"],
        ["R009", "1栋", "1-101", "物业管理费", "2026-03", 50, "现金", "0001-01-01 09:00"],
    ]})
    result = _import(session, "payments", payments, actor, name="y1.xlsx", project_id=project.id)
    assert not result.written and counts(session) == before
    assert "第2行 收款时间" in result.problems[0].message and "年份应在 1900–2100 之间" in result.problems[0].message


def test_other_projects_are_out_of_reach(session, p1):
    project, actor = p1
    other = f.project(session, name="别的项目")
    with pytest.raises(NotPermitted):
        _import(session, "units", workbook({"房屋": UNITS}), actor, project_id=other.id)
    unit = f.unit(session, project_=other, room_no="9-999")
    result = _import(session, "units", workbook({"S": [["编号", "楼栋", "房号", "建筑面积(㎡)"], [unit.id, "x", "9-999", 1]]}),
                     actor, project_id=project.id, dry_run=True)
    assert f"编号 {unit.id} 不存在或无权访问" in result.problems[0].message


def test_hostile_files_are_refused(session, p1):
    project, actor = p1
    before = counts(session)
    with pytest.raises(Refused, match="内容却是 CSV"):
        _import(session, "units", "楼栋,房号\n1栋,1-101\n".encode(), actor, name="房屋.xlsx")
    with pytest.raises(Refused, match="解压后过大"):
        _import(session, "units", zip_bomb(workbook({"S": [["楼栋", "房号"]]}), inflated=1 << 30, declared=100), actor)
    with pytest.raises(Refused, match="不支持的导入类型"):
        _import(session, "owners", b"", actor)
    assert counts(session) == before
    assert set(KINDS) == {"units", "customers", "parking", "staff", "bills", "payments"}


def _billed(session, p1, amount_paid: int | None = None):
    """Units, two bills of 2026-03 (268.50 and 300.00) and, when asked, a payment R001 on the first."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    bills = workbook({"账单": [
        ["楼栋", "房号", "收费项目", "账期", "应收(元)"],
        ["1栋", "1-101", "物业管理费", "2026-03", "268.50"],
        ["1栋", "1-102", "物业管理费", "2026-03", 300],
    ]})
    assert _import(session, "bills", bills, actor, name="b0.xlsx", project_id=project.id).written
    first, second = session.scalars(select(Bill).order_by(Bill.id)).all()
    if amount_paid is not None:
        pay = workbook({"收款": [["收据号", "账单", "金额(元)", "支付方式", "收款时间"],
                                 ["R001", f"账单#{first.id}", amount_paid, "现金", "2026-03-05 10:30"]]})
        assert _import(session, "payments", pay, actor, name="p0.xlsx", project_id=project.id).written
    session.expire_all()
    return first, second


def _state(session):
    return (session.execute(select(Payment.id, Payment.bill_id, Payment.amount, Payment.receipt_no).order_by(Payment.id)).all(),
            session.execute(select(Bill.id, Bill.amount_due, Bill.amount_paid, Bill.status).order_by(Bill.id)).all())


def test_payments_already_booked_are_not_rewritten(session, p1):
    project, actor = p1
    first, second = _billed(session, p1, amount_paid="268.50")
    payment_id = session.scalar(select(Payment.id))
    before, state = counts(session), _state(session)
    moved = workbook({"收款": [["收据号", "账单", "金额(元)", "支付方式", "收款时间"],
                               ["R001", f"账单#{second.id}", 10, "现金", "2026-03-05 10:30"]]})
    for dry_run in (True, False):
        result = _import(session, "payments", moved, actor, name="m.xlsx", project_id=project.id, dry_run=dry_run)
        assert not result.written and result.counts["error"] == 1 and result.counts["update"] == 0 and not result.updates
        assert [p.message for p in result.problems] == [
            f"「收款」第2行 收据号 R001 已用于收款 #{payment_id}：收款记录不能通过导入修改（账单、金额(元)与已登记的不同）"]
        assert result.problems[0].value == "R001"
        assert counts(session) == before and _state(session) == state
    assert session.get(Bill, first.id).status is BillStatus.PAID

    # by 编号 with another 收据号: the same refusal, nothing changed
    renamed = workbook({"收款": [["编号", "收据号", "账单", "金额(元)"], [payment_id, "R009", f"账单#{first.id}", "268.50"]]})
    result = _import(session, "payments", renamed, actor, name="r.xlsx", project_id=project.id)
    assert [p.message for p in result.problems] == [
        f"「收款」第2行 编号 {payment_id} 是收据号 R001 的收款，与本行收据号 R009 不符：收款记录不能通过导入修改"]
    assert not result.written and counts(session) == before and _state(session) == state

    # the row as stored is 无变化, and a real run of it writes no payment
    same = workbook({"收款": [["收据号", "账单", "金额(元)", "支付方式", "收款时间"],
                              ["R001", f"2026-03 账单#{first.id}", "268.50", "现金", "2026-03-05 10:30"]]})
    result = _import(session, "payments", same, actor, name="s.xlsx", project_id=project.id)
    assert not result.problems and result.counts["unchanged"] == 1 and result.written
    assert _state(session) == state


def test_payments_in_the_future_are_refused(session, p1):
    project, actor = p1
    first, _ = _billed(session, p1)
    before, state = counts(session), _state(session)
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    data = workbook({"收款": [["收据号", "账单", "金额(元)", "收款时间"],
                              ["R100", f"账单#{first.id}", 10, f"{tomorrow:%Y-%m-%d %H:%M}"]]})
    result = _import(session, "payments", data, actor, project_id=project.id)
    assert not result.written and result.counts["error"] == 1
    problem = result.problems[0]
    assert (problem.column, problem.value) == ("收款时间", f"{tomorrow:%Y-%m-%d %H:%M}")
    assert "晚于现在（北京时间" in problem.reason and "不能登记未来的收款" in problem.reason
    assert counts(session) == before and _state(session) == state


def test_payment_imports_keep_a_number_given_once_and_number_the_rest(session, p1):
    """收据号: a file's number is kept (one receipt may list several bills of one unit paid at once); a row without
    one takes the next of the project's sequence; a number another 收款 has is refused, naming the row."""
    project, actor = p1
    first, second = _billed(session, p1)
    april = f.bill(session, unit_=session.get(Unit, first.unit_id), fee_type_=session.scalar(select(FeeType)),
                   period="2026-04", amount_due=Decimal("268.50"))
    head = ["收据号", "账单", "金额(元)", "收款时间"]
    one_receipt = [["SJ2026-000002", f"账单#{first.id}", 100, "2026-03-05 10:30"],
                   ["SJ2026-000002", f"账单#{april.id}", 50, "2026-03-05 10:30"]]
    data = workbook({"收款": [head, *one_receipt, [None, f"账单#{second.id}", 300, "2026-03-06 09:00"]]})
    result = _import(session, "payments", data, actor, name="收款1.xlsx", project_id=project.id)
    assert result.written and result.counts["new"] == 3, [p.message for p in result.problems]
    assert session.execute(select(Payment.bill_id, Payment.receipt_no).order_by(Payment.id)).all() == [
        (first.id, "SJ2026-000002"), (april.id, "SJ2026-000002"), (second.id, "SJ2026-000001")]
    assert session.scalars(select(Receipt.number).order_by(Receipt.number)).all() == ["SJ2026-000001", "SJ2026-000002"]
    # the counter passes over the number the file brought
    assert record_payment(session, bill_id=april.id, amount="10.00", paid_at=dt.datetime(2026, 3, 8, tzinfo=SHANGHAI),
                          actor=actor).receipt_no == "SJ2026-000003"

    assert _import(session, "payments", workbook({"收款": [head, *one_receipt]}), actor, name="收款2.xlsx",
                   project_id=project.id).counts["unchanged"] == 2  # the receipt as stored: 无变化
    before, state = counts(session), _state(session)
    bad = workbook({"收款": [head, ["SJ2026-000001", f"账单#{april.id}", 10, "2026-03-07 10:00"],
                             ["R7", f"账单#{first.id}", 10, "2026-03-07 10:00"],
                             ["R7", f"账单#{second.id}", 10, "2026-03-07 10:00"]]})
    result = _import(session, "payments", bad, actor, name="收款3.xlsx", project_id=project.id)
    messages = [p.message for p in result.problems]
    assert not result.written and len(messages) == 2, messages
    assert messages[0].startswith("「收款」第2行 收据号 SJ2026-000001 已用于收款 #")
    assert messages[1] == "「收款」第4行 收据号 R7 已用于第3行：同一收据号的各行须为同一房屋、同一收款时间的一笔收款"
    assert counts(session) == before and _state(session) == state


def test_bill_import_keeps_the_bill_rules(session, p1):
    project, actor = p1
    first, second = _billed(session, p1, amount_paid="268.50")
    before, state = counts(session), _state(session)
    bad = workbook({"账单": [
        ["楼栋", "房号", "收费项目", "账期", "应收(元)"],
        ["1栋", "1-101", "物业管理费", "2026-03", "1.00"],  # below the 268.50 paid
        ["1栋", "1-102", "物业管理费", "2026-03", 0],
        ["2栋", "2-101", "物业管理费", "2031-01", 100],
        ["1栋", "1-102", "物业管理费", "2026-04", "99999999999"],  # beyond Numeric(12, 2): named, not a database error
        ["2栋", "2-101", "物业管理费", "2026-03", "-5"],  # the same rule as 0: 「须大于 0」, not 「不能小于 0」
    ]})
    result = _import(session, "bills", bad, actor, project_id=project.id)
    assert not result.written and result.counts["error"] == 5
    assert [(p.row, p.column, p.value, p.reason) for p in result.problems] == [
        (2, "应收(元)", "1.00", f"1.00 元低于账单#{first.id}已收的 268.50 元"),
        (3, "应收(元)", "0", "0.00 须大于 0"),
        (4, "账期", "2031-01", f"2031-01 晚于下月（{add_months(current_period(), 1)}），不能提前开具账单"),
        (5, "应收(元)", "99999999999", "99999999999.00 超出范围：整数部分最多 10 位"),
        (6, "应收(元)", "-5", "-5.00 须大于 0"),
    ]
    assert counts(session) == before and _state(session) == state

    # 应收 raised on a paid bill: stored, and the status follows the money
    raised = workbook({"账单": [["楼栋", "房号", "收费项目", "账期", "应收(元)"], ["1栋", "1-101", "物业管理费", "2026-03", 300]]})
    result = _import(session, "bills", raised, actor, name="r.xlsx", project_id=project.id)
    assert result.written and result.counts["update"] == 1, [p.message for p in result.problems]
    session.expire_all()
    bill = session.get(Bill, first.id)
    assert (bill.amount_due, bill.amount_paid, bill.status) == (Decimal("300.00"), Decimal("268.50"), BillStatus.PARTIAL)


def test_bill_and_payment_imports_name_only_collectors(session, p1):
    """责任收费员 of a bill and 收款人 of a payment hold a post that takes money (收费员、前台客服), as the console's
    forms hold them: a 维修工 named is refused on the row, naming the person and the post; nothing written."""
    project, actor = p1
    first, _ = _billed(session, p1)
    f.staff(session, project_=project, name="孙师傅", position=StaffPosition.ENGINEER)
    f.staff(session, project_=project, name="陈收费", position=StaffPosition.CASHIER)
    before, state = counts(session), _state(session)
    bills = workbook({"账单": [["楼栋", "房号", "收费项目", "账期", "应收(元)", "责任收费员"],
                               ["1栋", "1-102", "物业管理费", "2026-04", 100, "孙师傅"]]})
    payments = workbook({"收款": [["账单", "金额(元)", "收款时间", "收款人"],
                                  [f"账单#{first.id}", 10, "2026-03-05 10:00", "孙师傅"]]})
    for kind, data, column in (("bills", bills, "责任收费员"), ("payments", payments, "收款人")):
        result = _import(session, kind, data, actor, project_id=project.id)
        assert not result.written and [(p.row, p.column, p.value, p.reason) for p in result.problems] == [
            (2, column, "孙师傅", f"孙师傅 的岗位是维修工，{column}须为收费员、前台客服")], kind
    assert counts(session) == before and _state(session) == state
    # a cashier is taken
    ok = workbook({"收款": [["账单", "金额(元)", "收款时间", "收款人"], [f"账单#{first.id}", 10, "2026-03-05 10:00", "陈收费"]]})
    result = _import(session, "payments", ok, actor, project_id=project.id)
    assert result.written, [p.message for p in result.problems]


def test_preview_masks_personal_data(session, p1):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": [["姓名", "手机号", "身份证号", "楼栋", "房号"],
                              ["张伟", "13414350792", "11010519491231002X", "1栋", "1-101"]]})
    assert _import(session, "customers", data, actor, project_id=project.id).written
    zhang = session.scalar(select(Customer))
    changed = workbook({"业主": [["编号", "姓名", "手机号", "身份证号"], [zhang.id, "张伟", "13900003001", "110105194912310038"]]})
    before = counts(session)
    masked = _import(session, "customers", changed, actor, name="c.xlsx", dry_run=True)
    assert [u.changes for u in masked.updates] == [(("手机号", "134****0792", "139****3001"),
                                                    ("身份证号", "110***********002X", "110***********0038"))]
    assert ("手机号", "139****3001") in masked.preview[0].values
    text = repr(masked.preview) + repr(masked.updates)
    assert "13414350792" not in text and "13900003001" not in text and "11010519491231002X" not in text
    full = _import(session, "customers", changed, actor, name="c.xlsx", dry_run=True, unmask=True)
    assert full.updates[0].changes[0] == ("手机号", "13414350792", "13900003001")
    assert counts(session) == before


def test_a_change_hidden_by_the_mask_is_not_shown_as_no_change(session, p1):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": [["姓名", "手机号", "楼栋", "房号"], ["张伟", "13712341757", "1栋", "1-101"]]})
    assert _import(session, "customers", data, actor, project_id=project.id).written
    zhang = session.scalar(select(Customer))
    changed = workbook({"业主": [["编号", "姓名", "手机号"], [zhang.id, "张伟", "13799991757"]]})
    before = counts(session)
    preview = _import(session, "customers", changed, actor, name="c.xlsx", dry_run=True)
    # both numbers mask to 137****1757: the preview says the hidden digits changed, still without showing them
    assert [u.changes for u in preview.updates] == [(("手机号", "137****1757", "137****1757（隐藏部分已改）"),)]
    assert "13799991757" not in repr(preview.updates)
    full = _import(session, "customers", changed, actor, name="c.xlsx", dry_run=True, unmask=True)
    assert full.updates[0].changes == (("手机号", "13712341757", "13799991757"),)
    assert counts(session) == before
    assert session.scalar(select(Customer.phone).where(Customer.id == zhang.id)) == "13712341757"


def test_repeated_rows_are_named_by_their_values(session, p1):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"客户": [["姓名", "手机号", "楼栋", "房号", "关系"],
                              ["王芳", "13900003001", "1栋", "1-101", "租户"],
                              ["王芳", "13900003001", "1栋", "1-101", "租户"]]})
    before = counts(session)
    result = _import(session, "customers", data, actor, project_id=project.id)
    assert not result.written and counts(session) == before
    assert [p.message for p in result.problems] == ["「客户」第3行 房屋 / 姓名 / 关系 1栋-1-101 / 王芳 / 租户 与第2行重复"]
    assert "13900003001" not in repr(result.problems) and "tel" not in result.problems[0].message


def test_control_characters_in_cells_are_dropped(session, p1):
    """X17: ``_x0007_`` in a cell is how a workbook carries \\x07 (a CSV carries it as it is): the preview and the
    stored record hold the text without it, and its list still exports."""
    project, actor = p1
    data = workbook({"业主": [["姓名", "手机号"], ["王_x0007_五", "13812345678"], ["赵_x0000_六", "13812345679"]]})
    preview = _import(session, "customers", data, actor, project_id=project.id, dry_run=True)
    assert [dict(r.values)["姓名"] for r in preview.preview] == ["王五", "赵六"]
    result = _import(session, "customers", data, actor, project_id=project.id)
    assert result.written, [p.message for p in result.problems]
    csv = "姓名,手机号\r\n孙\x07七,13812345670\r\n".encode()
    assert _import(session, "customers", csv, actor, name="业主.csv", project_id=project.id).written
    names = session.scalars(select(Customer.name).where(Customer.project_id == project.id).order_by(Customer.id))
    assert list(names) == ["王五", "赵六", "孙七"]


def test_the_loser_of_two_imports_adding_the_same_units_is_told_in_chinese(session, p1, monkeypatch):
    """Issue 14 item 10: two imports checked the same new units against the database before either wrote; the
    second to write met the unique key and its page said 「导入房屋失败：IntegrityError」. Here the other import
    writes between this one's check and its write."""
    from actions.bulk_import import UnitImporter

    project, actor = p1
    before = counts(session)
    real = UnitImporter.write
    theirs = [row[:] for row in UNITS]
    theirs[1][5] = 91  # another file (another hash), the same units

    def overtaken(self, rows, batch):
        monkeypatch.setattr(UnitImporter, "write", real)
        assert _import(session, "units", workbook({"房屋": theirs}), actor, name="另一份.xlsx").written
        return real(self, rows, batch)

    monkeypatch.setattr(UnitImporter, "write", overtaken)
    with pytest.raises(Refused) as refused:
        _import(session, "units", workbook({"房屋": UNITS}), actor)
    assert "另一项导入刚刚写入了相同的记录" in refused.value.message and "Integrity" not in refused.value.message
    session.rollback()  # the caller's transaction ends; on PostgreSQL the failed statement aborted it anyway
    assert counts(session)["Unit"] <= before["Unit"]


def test_the_trail_of_an_import_holds_each_rows_values(session, p1):
    """Issue 13 §5: each imported unit's audit row carries its values; an update carries the fields the file
    changed, with their new values — still one INSERT … SELECT per set of changed fields."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    unit = session.scalar(select(Unit).where(Unit.room_no == "1-102"))
    inserted = session.scalar(select(AuditLog.changes).where(AuditLog.table_name == "unit", AuditLog.kind == AuditKind.INSERT,
                                                             AuditLog.record_id == str(unit.id)))
    assert (inserted["room_no"], inserted["status"], inserted["project_id"]) == ("1-102", "vacant", project.id)
    assert inserted["building_id"] == unit.building_id and "id" not in inserted
    corrected = [row[:] for row in UNITS]
    corrected[1][5] = 90
    corrected[2][4] = "已入住"
    _import(session, "units", workbook({"房屋": corrected}), actor, name="更正.xlsx")
    updates = dict(session.execute(select(AuditLog.record_id, AuditLog.changes).where(
        AuditLog.table_name == "unit", AuditLog.kind == AuditKind.UPDATE)).all())
    first = session.scalar(select(Unit.id).where(Unit.room_no == "1-101"))
    assert updates[str(unit.id)] == {"status": "occupied"}
    assert list(updates[str(first)]) == ["area"] and Decimal(str(updates[str(first)]["area"])) == Decimal("90")


def test_a_connection_lost_mid_import_writes_nothing_and_the_retry_imports_every_row_once(session, p1, monkeypatch):
    """RELIABILITY X22: the database goes away while the rows are being written — the import's one transaction
    leaves nothing of them; imported again, each row is written exactly once."""
    from sqlalchemy.exc import OperationalError

    from actions.bulk_import import UnitImporter

    project, actor = p1
    before = counts(session)
    real = UnitImporter.write
    data = workbook({"房屋": UNITS})  # one file's bytes: a workbook made again a second later has another hash

    def dropped(self, rows, batch):
        real(self, rows, batch)  # the rows went out …
        raise OperationalError("INSERT …", {}, Exception("server closed the connection unexpectedly"))  # … and then

    with monkeypatch.context() as m:
        m.setattr(UnitImporter, "write", dropped)
        with pytest.raises(OperationalError), session.begin_nested():
            _import(session, "units", data, actor)
    assert counts(session) == before

    retried = _import(session, "units", data, actor)
    assert retried.written and retried.counts["new"] == 3 and counts(session)["Unit"] == before["Unit"] + 3
    with pytest.raises(Refused, match="该批次已导入"):  # the same file once more: once is enough
        _import(session, "units", data, actor, name="再导一次.xlsx")
    assert counts(session)["Unit"] == before["Unit"] + 3


def test_a_file_of_one_date_is_checked_against_the_other_on_record(session, p1):
    """A list of 入住日期 alone (or of 交房日期 alone) updates units whose other date is stored: the two must agree
    as on the unit form — one that moves in before the stored handover, or a handover moved after the stored
    move-in, is refused naming the row, the column and the value, nothing written; one that agrees is imported
    (where the old check refused it for want of a 交房日期 column)."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)  # 1-101 handed over 2024-03-05, 1-102 never
    move_ins = workbook({"入住": [["楼栋", "房号", "入住日期"],
                                  ["1栋", "1-101", "2024-02-01"],
                                  ["1栋", "1-102", "2024-04-01"]]})
    before = counts(session)
    result = _import(session, "units", move_ins, actor, name="入住.xlsx", project_id=project.id)
    assert counts(session) == before and not result.written
    assert {p.message for p in result.problems} == {
        "「入住」第2行 入住日期 入住日期 2024-02-01 早于交房日期 2024-03-05",
        "「入住」第3行 入住日期 有入住日期须先填写交房日期：房屋交付后才能入住",
    }
    fine = workbook({"入住": [["楼栋", "房号", "入住日期"], ["1栋", "1-101", "2024-04-01"]]})
    assert _import(session, "units", fine, actor, name="入住2.xlsx", project_id=project.id).written
    assert session.scalar(select(Unit.move_in_date).where(Unit.room_no == "1-101")) == dt.date(2024, 4, 1)

    handovers = workbook({"交房": [["楼栋", "房号", "交房日期"], ["1栋", "1-101", "2024-05-01"]]})
    before = counts(session)
    result = _import(session, "units", handovers, actor, name="交房.xlsx", project_id=project.id)
    assert counts(session) == before and not result.written
    assert [p.message for p in result.problems] == ["「交房」第2行 交房日期 入住日期 2024-04-01 早于交房日期 2024-05-01"]
    session.expire_all()
    assert session.scalar(select(Unit.handover_date).where(Unit.room_no == "1-101")) == dt.date(2024, 3, 5)


def test_a_customer_note_holds_what_the_console_holds(session, p1):
    """备注 is bounded as on the console's form (records.TEXT_MAX, 10,000 characters): a 5,000-character note the
    console keeps is imported, one over the bound is refused naming sheet, row, column and length, writing nothing."""
    project, actor = p1
    head = ["姓名", "手机号", "备注"]
    long_note = "业主要求" * 1250  # 5,000 characters
    result = _import(session, "customers", workbook({"业主": [head, ["张伟", "13812345678", long_note]]}), actor,
                     project_id=project.id)
    assert result.written and not result.problems, [p.message for p in result.problems]
    assert session.scalar(select(Customer.note).where(Customer.name == "张伟")) == long_note
    before = counts(session)
    result = _import(session, "customers", workbook({"业主": [head, ["李娜", "13900001111", "字" * 10_001]]}), actor,
                     name="过长.xlsx", project_id=project.id)
    assert not result.written and [(p.row, p.column) for p in result.problems] == [(2, "备注")]
    assert "「业主」第2行 备注" in result.problems[0].message and "超过 10000 个字" in result.problems[0].message
    assert counts(session) == before


def test_a_number_the_column_cannot_hold_is_refused_on_its_row(session, p1):
    """建筑面积 is Numeric(10, 2), 应收金额 and 实收金额 Numeric(12, 2): a bigger number is refused naming sheet, row,
    column and value, instead of failing the write (PostgreSQL: numeric field overflow); nothing is written."""
    project, actor = p1
    before = counts(session)
    result = _import(session, "units", workbook({"房屋": [["楼栋", "房号", "建筑面积(㎡)"], ["1栋", "1-101", 123456789012.5],
                                                        ["1栋", "1-102", 99999999.99]]}), actor, project_id=project.id)
    assert not result.written and [(p.row, p.column) for p in result.problems] == [(2, "建筑面积(㎡)")]
    assert "「房屋」第2行 建筑面积(㎡)" in result.problems[0].message
    assert "123456789012.50 超出范围：整数部分最多 8 位" in result.problems[0].message
    assert counts(session) == before
    result = _import(session, "units", workbook({"房屋": [["楼栋", "房号", "建筑面积(㎡)"], ["1栋", "1-102", 99999999.99]]}),
                     actor, name="最大.xlsx", project_id=project.id)
    assert result.written and session.scalar(select(Unit.area).where(Unit.room_no == "1-102")) == Decimal("99999999.99")



def test_a_number_of_more_digits_than_any_column_holds_is_refused_on_its_row(session, p1):
    """A number beyond Decimal's 28 digits (a float cell 1E+30, thirty digits typed as text) was an exception that
    ended the import (HTTP 500 in the console): it is refused on its row like any number too big; nothing written."""
    project, actor = p1
    before = counts(session)
    data = workbook({"房屋": [["楼栋", "房号", "建筑面积(㎡)"], ["1栋", "1-101", 1e30], ["1栋", "1-102", "1" * 30]]})
    result = _import(session, "units", data, actor, project_id=project.id)
    assert not result.written and [(p.row, p.column) for p in result.problems] == [(2, "建筑面积(㎡)"), (3, "建筑面积(㎡)")]
    assert "「房屋」第2行 建筑面积(㎡) 1" + "0" * 30 + " 超出范围：整数部分最多 8 位" in result.problems[0].message
    assert "1" * 30 + " 超出范围" in result.problems[1].message
    assert counts(session) == before


OWNERS = [
    ["姓名", "手机号", "身份证号", "房屋", "关系"],
    ["张伟", "13812345678", "11010519491231002X", "1栋-1-101", "业主"],
    ["张伟", "13812345678", "11010519491231002X", "1栋-1-102", "业主"],
    ["李娜", "13900001111", None, "2栋-2-101", "商户"],
]


def _previewed_twice(session, monkeypatch, data, actor, project, kind="customers", name="业主.xlsx"):
    """The preview of ``data``, and the same preview with every row compared (the recognition turned off); whether
    the first recognised the file (no record was looked up)."""
    from actions.spreadsheets.records import RecordImporter

    importer = KINDS[kind]
    looked_up = []
    find = importer.find
    monkeypatch.setattr(importer, "find", lambda self, rows: looked_up.append(1) or find(self, rows))
    fast = _import(session, kind, data, actor, name=name, project_id=project.id, dry_run=True)
    recognised = not looked_up
    with monkeypatch.context() as m:
        m.setattr(RecordImporter, "_as_imported", lambda self, rows: False)
        compared = _import(session, kind, data, actor, name=name, project_id=project.id, dry_run=True)
    return fast, compared, recognised


def test_an_unchanged_file_is_recognised_without_comparing_its_rows(session, p1, monkeypatch):
    """Issue 17: the same customer file previewed again after its import, nothing written to the project's records
    since, is found 无变化 from the project's data version alone — the same result as comparing every row, and the
    preview writes nothing."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": OWNERS})
    first = _import(session, "customers", data, actor, name="业主.xlsx", project_id=project.id)
    assert first.written and first.counts["new"] == 3
    assert set(session.get(ImportBatch, first.batch_id).marks) == {
        f"{project.id}:{t}" for t in ("project", "building", "unit", "customer", "unit_customer")}
    if session.bind.dialect.name == "sqlite":  # the search index filled after the insert, its trigger back in place
        found = session.execute(text("SELECT rowid FROM customer_search WHERE name LIKE '%李娜' || char(31) || '%'")).scalars().all()
        assert found == [session.scalar(select(Customer.id).where(Customer.name == "李娜"))]
    before = counts(session)
    fast, compared, recognised = _previewed_twice(session, monkeypatch, data, actor, project)
    assert recognised and fast.counts["unchanged"] == 3 and not fast.problems
    assert fast.to_dict() == compared.to_dict()
    assert [dict(r.values)["楼栋"] for r in fast.preview] == ["1栋", "1栋", "2栋"]  # as the check splits 房屋
    assert counts(session) == before
    # another actor without the project gets its rows refused, not recognised
    stranger = Actor(user_id=None, name="外人", project_ids=frozenset({project.id + 1000}))
    with pytest.raises(NotPermitted):
        _import(session, "customers", data, stranger, name="业主.xlsx", project_id=project.id, dry_run=True)
    session.add(Customer(project_id=project.id, name="赵六六", phone="13700000001"))
    session.flush()
    if session.bind.dialect.name == "sqlite":
        assert session.execute(text("SELECT count(*) FROM customer_search WHERE name LIKE '%赵六六%'")).scalar() == 1


def _edit_customer(session, project):
    zhang = session.scalar(select(Customer).where(Customer.name == "张伟"))
    zhang.phone = "13812340000"  # as a console form saves it: the ORM's flush
    session.flush()
    return "update"


def _raw_update(session, project):
    session.execute(Customer.__table__.update().where(Customer.name == "李娜").values(note="改过"))
    return "unchanged"  # 备注 is not in the file: still 无变化, but compared


def _delete_link(session, project):
    session.execute(UnitCustomer.__table__.delete().where(
        UnitCustomer.id == select(func.max(UnitCustomer.id)).scalar_subquery()))
    return "new"


def _rename_unit(session, project):
    unit = session.scalar(select(Unit).where(Unit.room_no == "1-102"))
    unit.room_no = "1-103"
    session.flush()
    return "error"


def _new_building(session, project):
    session.add(Building(project_id=project.id, name="9栋"))
    session.flush()
    return "unchanged"


def _link_named_elsewhere(session, project):
    """A link naming another project, to this project's customer: the customer's project moves too."""
    other = f.project(session, name="别处花园")
    session.execute(UnitCustomer.__table__.insert().values(
        project_id=other.id, unit_id=session.scalar(select(Unit.id).where(Unit.room_no == "2-101")),
        customer_id=session.scalar(select(Customer.id).where(Customer.name == "张伟")), relation="owner",
        is_primary=False, version=1))
    return "unchanged"


@pytest.mark.parametrize("write", [_edit_customer, _raw_update, _delete_link, _rename_unit, _new_building,
                                   _link_named_elsewhere])
def test_any_write_to_the_projects_records_since_makes_the_preview_compare_again(session, p1, monkeypatch, write):
    """Whatever writes the project's buildings, units, customers or links after the import — a console form's flush,
    a set-based UPDATE or DELETE — moves the project's data version: the preview compares every row again and
    shows what changed."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": OWNERS})
    assert _import(session, "customers", data, actor, name="业主.xlsx", project_id=project.id).written
    expected = write(session, project)
    before = counts(session)
    fast, compared, recognised = _previewed_twice(session, monkeypatch, data, actor, project)
    assert not recognised and fast.to_dict() == compared.to_dict()
    assert fast.counts[expected] >= 1, fast.counts
    assert counts(session) == before


def test_a_write_to_another_project_leaves_the_recognition(session, p1, monkeypatch):
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": OWNERS})
    assert _import(session, "customers", data, actor, name="业主.xlsx", project_id=project.id).written
    other = f.project(session, name="别处花园")
    session.add(Customer(project_id=other.id, name="王五", phone="13700000000"))
    session.flush()
    fast, compared, recognised = _previewed_twice(session, monkeypatch, data, actor, project)
    assert recognised and fast.to_dict() == compared.to_dict() and fast.counts["unchanged"] == 3


def test_another_import_into_the_project_makes_the_preview_compare_again(session, p1, monkeypatch):
    """An import's bulk write (COPY on PostgreSQL, multi-row VALUES with the row triggers lifted on SQLite) moves the
    project's data version like any other write."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    data = workbook({"业主": OWNERS})
    assert _import(session, "customers", data, actor, name="业主.xlsx", project_id=project.id).written
    other = workbook({"业主": [["姓名", "手机号", "房屋"], ["王五", "13700000000", "2栋-2-101"]]})
    assert _import(session, "customers", other, actor, name="王五.xlsx", project_id=project.id).written
    fast, compared, recognised = _previewed_twice(session, monkeypatch, data, actor, project)
    assert not recognised and fast.to_dict() == compared.to_dict() and fast.counts["unchanged"] == 3


def test_an_unchanged_units_file_is_recognised_until_a_unit_or_employee_changes(session, p1, monkeypatch):
    """The units import too: recognised after its import; a write to the project's staff (a 收费员 a unit names) or
    units makes the preview compare every row again — each time the same result as comparing."""
    project, actor = p1
    cashier = f.staff(session, project_=project, name="钱收费", position=StaffPosition.CASHIER)
    rows = [row[:] + [None] for row in UNITS]
    rows[0][-1], rows[1][-1] = "收费员", cashier.employee_no
    data = workbook({"房屋": rows})
    assert _import(session, "units", data, actor, name="房屋.xlsx", project_id=project.id).written
    before = counts(session)
    fast, compared, recognised = _previewed_twice(session, monkeypatch, data, actor, project, "units", "房屋.xlsx")
    assert recognised and fast.to_dict() == compared.to_dict() and fast.counts["unchanged"] == 3
    assert counts(session) == before
    # customers are no part of a units file's check: writing one leaves the file recognised
    session.add(Customer(project_id=project.id, name="王五", phone="13700000000"))
    session.flush()
    before = counts(session)
    fast, compared, recognised = _previewed_twice(session, monkeypatch, data, actor, project, "units", "房屋.xlsx")
    assert recognised and fast.to_dict() == compared.to_dict() and counts(session) == before
    cashier.position = StaffPosition.ENGINEER  # no longer one who may collect: the row is refused again
    session.flush()
    before = counts(session)
    fast, compared, recognised = _previewed_twice(session, monkeypatch, data, actor, project, "units", "房屋.xlsx")
    assert not recognised and fast.to_dict() == compared.to_dict() and fast.counts["error"] == 1, fast.counts
    assert counts(session) == before


def test_a_merged_building_or_collector_cell_is_named_not_read_as_blank(session, p1):
    """楼栋 merged down over its rooms (as such sheets are drawn) was refused 「房屋 为空：请填写房屋，或楼栋和房号」 —
    naming a column the file does not have — and a merged 责任收费员 was read as blank for the rows under it, each
    bill then given the unit's own collector: both are now refused on their row naming the column and the merge."""
    project, actor = p1
    _import(session, "units", workbook({"房屋": UNITS}), actor)
    f.staff(session, project_=project, name="钱收费", position=StaffPosition.CASHIER)
    bills = workbook({"账单": [
        ["楼栋", "房号", "收费项目", "账期", "应收(元)", "责任收费员"],
        ["1栋", "1-101", "物业管理费", "2026-03", "268.50", "钱收费"],
        [None, "1-102", "物业管理费", "2026-03", 300, None],
        ["２栋", "２－１０１", "物业管理费", "2026-03", 100, None],
    ]}, merged={"账单": ["A2:A3", "F2:F4"]})
    before = counts(session)
    result = _import(session, "bills", bills, actor, project_id=project.id)
    messages = [p.message for p in result.problems]
    assert messages == ["「账单」第3行 楼栋 为空（合并单元格？请取消合并并逐行填写）",
                        "「账单」第3行 责任收费员 为空（合并单元格？请取消合并并逐行填写）",
                        "「账单」第4行 责任收费员 为空（合并单元格？请取消合并并逐行填写）"], messages
    assert not result.written and counts(session) == before


def test_a_row_of_formulas_without_values_is_named_not_skipped_as_blank(session, p1):
    """A file written by a program and never opened in Excel holds formulas with no cached value (openpyxl writes
    ``=A1&B1`` with an empty <v/>): a row made only of such cells — in the middle or as the last rows, which the
    reader ended the sheet before — was skipped as blank and the rest imported. Each cell is now named on its row;
    nothing is written. A formula that carries its cached value is read as that value."""
    project, actor = p1
    rows = [
        ["楼栋", "房号", "建筑面积(㎡)"],
        ["1栋", "1-101", 80],
        ["=A2", "=A1&B1", None],
        ["1栋", "1-103", 80],
        ["=A4", "=A1&B1", None],
    ]
    before = counts(session)
    result = _import(session, "units", workbook({"房屋": rows}), actor, project_id=project.id)
    messages = [p.message for p in result.problems]
    paste = "为公式且没有计算结果：请复制该列后“选择性粘贴”为数值"
    assert messages == [f"「房屋」第{n}行 {column} {paste}" for n in (3, 5) for column in ("楼栋", "房号")], messages
    assert not result.written and counts(session) == before

    cached = workbook({"房屋": rows[:3]})
    sheet = zipfile.ZipFile(io.BytesIO(cached)).read("xl/worksheets/sheet1.xml")
    sheet = sheet.replace(b'<f>A2</f><v />', b'<f>A2</f><v>1\xe6\xa0\x8b</v>', 1).replace(
        b'<f>A1&amp;B1</f><v />', b'<f>A1&amp;B1</f><v>1-102</v>', 1)
    cached = replace_part(cached, "xl/worksheets/sheet1.xml", sheet)
    result = _import(session, "units", cached, actor, project_id=project.id)
    assert result.written and not result.problems and result.counts["new"] == 2
    assert session.scalar(select(Unit).where(Unit.room_no == "1-102")).building.name == "1栋"


def test_a_bill_or_payment_names_a_collector_of_a_collecting_post(session, p1):
    """责任收费员 of a bill and 收款人 of a payment hold their post in the imports and the bill's form, as a unit's and
    the counter's do: an engineer named there (a stale sheet, a tampered choice) counted his bills in 收费率 by
    责任收费员 — what a cashier's pay follows. Refused naming the post, nothing written."""
    project, actor = p1
    first, _ = _billed(session, p1)
    f.staff(session, project_=project, name="孙工程", position=StaffPosition.ENGINEER)
    cashier = f.staff(session, project_=project, name="钱收费", position=StaffPosition.CASHIER)
    before = counts(session)
    bills = workbook({"账单": [["楼栋", "房号", "收费项目", "账期", "应收(元)", "责任收费员"],
                               ["1栋", "1-101", "物业管理费", "2026-04", "268.50", "孙工程"]]})
    result = _import(session, "bills", bills, actor, project_id=project.id)
    assert [p.message for p in result.problems] == ["「账单」第2行 责任收费员 孙工程 的岗位是维修工，责任收费员须为收费员、前台客服"]
    pay = workbook({"收款": [["收据号", "账单", "金额(元)", "支付方式", "收款时间", "收款人"],
                             ["R009", f"账单#{first.id}", 100, "现金", "2026-03-05 10:30", "孙工程"]]})
    result = _import(session, "payments", pay, actor, project_id=project.id)
    assert [p.message for p in result.problems] == ["「收款」第2行 收款人 孙工程 的岗位是维修工，收款人须为收费员、前台客服"]
    engineer = session.scalar(select(Staff.id).where(Staff.name == "孙工程"))
    with pytest.raises(Refused, match="孙工程 的岗位是维修工，责任收费员须为收费员、前台客服"):
        save_record(session, Bill, first, {"collector": str(engineer)}, actor=actor, version=first.version)
    session.expire_all()
    assert counts(session) == before and session.get(Bill, first.id).collector_id != engineer
    save_record(session, Bill, first, {"collector": str(cashier.id)}, actor=actor, version=first.version)
    assert first.collector_id == cashier.id


# --- concurrency (PostgreSQL: row locks) ---------------------------------------------------------------------
def _import_while_the_counter_pays(engine, pid, bill_id, kind, data):
    """The cashier takes 200 at the counter on ``bill_id``, the transaction held open, while ``data`` is imported:
    the import must wait for it. Returns the import's error (None if it wrote); the import batch is removed."""
    actor = Actor(user_id=None, name="收费员", project_ids=None)
    try:
        waited, box = second_while_first_open(
            engine, lambda s: record_payment(s, bill_id=bill_id, amount="200.00", actor=actor),
            lambda s: import_records(s, kind=kind, data=data, file_name="导入.xlsx", actor=actor, project_id=pid))
        assert waited
        with Session(engine) as s:
            assert bool(s.scalar(select(func.count()).select_from(ImportBatch).where(ImportBatch.project_id == pid))) \
                == ("error" not in box)
        return box.get("error")
    finally:
        with Session(engine) as s, s.begin():
            s.execute(delete(Payment).where(Payment.project_id == pid))
            s.execute(delete(ImportBatch).where(ImportBatch.project_id == pid))


def _bill_of(engine, pid, room="101", period="2026-02"):
    with Session(engine) as s:
        return s.scalar(select(Bill.id).join(Unit, Unit.id == Bill.unit_id)
                        .where(Bill.project_id == pid, Unit.room_no == room, Bill.period == period))


def _bill_state(engine, bill_id):
    with Session(engine) as s:
        return s.execute(select(Bill.amount_due, Bill.amount_paid, Bill.status).where(Bill.id == bill_id)).one()


@postgres_only
def test_a_payment_import_and_a_counter_payment_at_once_never_pay_a_bill_twice(engine, committed_estate):  # noqa: F811
    """The cashier takes 200 of a 250 bill at the counter while the back office imports the bank's 100 for the same
    bill: the import waits for the counter's payment, then refuses the row that would pass 应收, writing nothing."""
    pid = committed_estate
    bill_id = _bill_of(engine, pid)
    bank = workbook({"收款": [["收据号", "账单", "金额(元)", "支付方式", "收款时间"],
                              ["YH-001", f"账单#{bill_id}", 100, "银行转账", "2026-03-05 10:30"]]})
    error = _import_while_the_counter_pays(engine, pid, bill_id, "payments", bank)
    assert isinstance(error, Refused) and "收款合计 300.00 元超过应收 250.00 元" in str(error), error
    assert _bill_state(engine, bill_id) == (Decimal("250.00"), Decimal("200.00"), BillStatus.PARTIAL)


@postgres_only
def test_a_bill_import_lowering_due_while_the_counter_takes_money_never_leaves_it_below_paid(engine, committed_estate):  # noqa: F811
    """应收 corrected down to 150 by a file while the cashier takes 200 of the 250 at the counter: the import waits for
    the payment, then refuses the row (应收 below 已收), writing nothing."""
    pid = committed_estate
    bill_id = _bill_of(engine, pid)
    lower = workbook({"账单": [["楼栋", "房号", "收费项目", "账期", "应收(元)"], ["C栋", "101", "物业管理费", "2026-02", 150]]})
    error = _import_while_the_counter_pays(engine, pid, bill_id, "bills", lower)
    assert isinstance(error, Refused) and f"150.00 元低于账单#{bill_id}已收的 200.00 元" in str(error), error
    assert _bill_state(engine, bill_id) == (Decimal("250.00"), Decimal("200.00"), BillStatus.PARTIAL)


def test_a_date_typed_as_eight_digits_is_read_as_the_day(session, p1):
    """20260305 typed into a cell Excel formats as 常规 is a number in the file, not text: 交房日期 and 起始日期
    were refused 「20260305 不是有效日期」 (row by row, nothing imported) though the same digits as text read."""
    project, actor = p1
    units = workbook({"房屋": [["楼栋", "房号", "交房日期"], ["1栋", "1-101", 20260301], ["1栋", "1-102", 20260302.0]]})
    result = _import(session, "units", units, actor, project_id=project.id)
    assert result.written and result.counts["new"] == 2, [p.message for p in result.problems]
    owners = workbook({"业主": [["楼栋", "房号", "姓名", "手机号", "关系", "起始日期"],
                                ["1栋", "1-101", "王小明", "13800000001", "业主", 20260305]]})
    result = _import(session, "customers", owners, actor, name="业主.xlsx", project_id=project.id)
    assert result.written and result.counts["new"] == 1, [p.message for p in result.problems]
    session.expire_all()
    assert sorted(session.execute(select(Unit.room_no, Unit.handover_date)).all()) == [
        ("1-101", dt.date(2026, 3, 1)), ("1-102", dt.date(2026, 3, 2))]
    assert session.scalar(select(UnitCustomer.start_date)) == dt.date(2026, 3, 5)
    # a number of eight digits that is no day is still refused on its row, naming it
    before = counts(session)
    bad = workbook({"房屋": [["楼栋", "房号", "交房日期"], ["1栋", "1-103", 20261341]]})
    result = _import(session, "units", bad, actor, name="坏.xlsx", project_id=project.id)
    assert not result.written and [(p.row, p.column, p.value, p.reason) for p in result.problems] == [
        (2, "交房日期", "20261341", "20261341 日期无效")]
    assert counts(session) == before


def test_an_apostrophe_kept_before_a_number_is_not_part_of_it(session, p1):
    """A roster exported by another system (or a CSV) keeps the apostrophe that made 手机号 and 身份证号 text in
    Excel: each such row was refused 「'13900000002 不是有效的电话号码」."""
    project, actor = p1
    units = workbook({"房屋": [["楼栋", "房号", "建筑面积(㎡)"], ["1栋", "'1-101", "'89.50"]]})
    assert _import(session, "units", units, actor, project_id=project.id).written
    owners = workbook({"业主": [["楼栋", "房号", "姓名", "手机号", "身份证号", "起始日期"],
                                ["1栋", "1-101", "李四", "'13900000002", "'11010519491231002x", "'2026-03-05"]]})
    result = _import(session, "customers", owners, actor, name="业主.xlsx", project_id=project.id)
    assert result.written and result.counts["new"] == 1, [p.message for p in result.problems]
    session.expire_all()
    assert session.execute(select(Customer.phone, Customer.id_number)).one() == ("13900000002", "11010519491231002X")
    assert session.execute(select(Unit.room_no, Unit.area)).one() == ("1-101", Decimal("89.50"))
    assert session.scalar(select(UnitCustomer.start_date)) == dt.date(2026, 3, 5)


def test_a_cell_holding_an_error_value_is_refused_naming_it(session, p1):
    """#N/A of a VLOOKUP that found nothing, kept by 「选择性粘贴 → 数值」: the reader took it for an empty cell, so
    a re-import cleared the stored 备注 and imported the rows as if nothing were wrong."""
    project, actor = p1
    owners = workbook({"业主": [["楼栋", "房号", "姓名", "手机号", "备注"],
                                ["1栋", "1-101", "王小明", "13800000001", "老业主"]]})
    units = workbook({"房屋": [["楼栋", "房号"], ["1栋", "1-101"]]})
    assert _import(session, "units", units, actor, project_id=project.id).written
    assert _import(session, "customers", owners, actor, name="业主.xlsx", project_id=project.id).written
    before = counts(session)
    pasted = workbook({"业主": [["楼栋", "房号", "姓名", "手机号", "备注"],
                                ["1栋", "1-101", "王小明", "13800000001", "#N/A"],
                                ["1栋", "1-101", "李四", "#DIV/0!", None]]})
    assert b't="e"' in zipfile.ZipFile(io.BytesIO(pasted)).read("xl/worksheets/sheet1.xml")  # real error cells
    result = _import(session, "customers", pasted, actor, name="业主2.xlsx", project_id=project.id)
    assert not result.written
    assert [(p.sheet, p.row, p.column, p.value, p.reason) for p in result.problems] == [
        ("业主", 2, "备注", "#N/A", "为错误值 #N/A（公式出错）：请改正或删除该单元格后重新导入"),
        ("业主", 3, "手机号", "#DIV/0!", "为错误值 #DIV/0!（公式出错）：请改正或删除该单元格后重新导入"),
    ]
    session.expire_all()
    assert counts(session) == before
    assert session.execute(select(Customer.name, Customer.note)).all() == [("王小明", "老业主")]


def test_a_period_written_as_a_month_of_the_year_is_read(session, p1):
    """「2026年3月份」 is how a bill names its month (3月份物业费): each such row was refused 「不是账期」."""
    project, actor = p1
    assert _import(session, "units", workbook({"房屋": [["楼栋", "房号"], ["1栋", "1-101"]]}), actor,
                   project_id=project.id).written
    bills = workbook({"账单": [["楼栋", "房号", "收费项目", "账期", "应收(元)"],
                               ["1栋", "1-101", "物业管理费", "2026年3月份", "268.50"],
                               ["1栋", "1-101", "物业管理费", "2026年 4 月份", "268.50"]]})
    result = _import(session, "bills", bills, actor, name="账单.xlsx", project_id=project.id)
    assert result.written and result.counts["new"] == 2, [p.message for p in result.problems]
    session.expire_all()
    assert session.execute(select(Bill.period, Bill.amount_due).order_by(Bill.period)).all() == [
        ("2026-03", Decimal("268.50")), ("2026-04", Decimal("268.50"))]

