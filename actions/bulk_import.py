"""批量导入: buildings and units, customers and their units, parking spaces, staff, bills, payments.

Every kind goes through the one pipeline (``actions.spreadsheets``): the same header detection and cleaning,
the same preview (新增 / 更新 / 无变化 / 错误), error report and all-or-nothing confirm as the survey import,
and upserts by natural key (``actions.spreadsheets.records``):

- 房屋 by 项目 + 楼栋 + 房号 (a 楼栋 not yet known is created);
- 客户 by 身份证号, else 手机号 + 姓名; each row may also link the customer to a 房屋 (关系, 主要联系人, 起始日期);
- 车位 by 项目 + 车位号; 员工 by 项目 + 工号;
- 账单 by 房屋 + 收费项目 + 账期 (实收 and 状态 follow the payments, never the file);
- 收款记录 by 项目 + 收据号, against the bill named by 账单 (as a list shows it, ``2024-03 账单#12``) or by
  房屋 + 收费项目 + 账期; the bills' 实收 and 状态 are recomputed from their payments.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, exists, func, literal, select, update
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Bill,
    BillStatus,
    Building,
    Customer,
    CustomerKind,
    Department,
    FeeType,
    ImportBatch,
    ParkingSpace,
    Payment,
    PayMethod,
    Receipt,
    Staff,
    StaffPosition,
    Unit,
    UnitCustomer,
    UnitKind,
    UnitRelation,
    UnitStatus,
    label_of,
    natural_sort_key,
    utcnow,
)

from .actor import Actor
from .audit import IMPORT_TITLES, TRAIL_LINKS, as_actor, record_batch
from .billing import (
    StoredBill,
    actor_staff_id,
    bill_problem,
    paid_too_early,
    payer_id,
    receipt_numbers,
)
from .errors import NotPermitted, Refused
from .fee_tasks import current_leases, not_rented_refusal
from .kernel.periods import month_day, parse_period
from .kernel.posts import BUTLER_POSITIONS, COLLECTING_POSITIONS
from .records import TEXT_MAX
from .spreadsheets import clean
from .spreadsheets.bulk import insert_columns, insert_rows, update_rows
from .spreadsheets.clean import MASKED
from .spreadsheets.header import Field
from .spreadsheets.pipeline import (
    LIMITS,
    Checked,
    Columns,
    ImportResult,
    Limits,
    Outcome,
    Progress,
    Row,
    run_import,
    shown,
)
from .spreadsheets.records import (
    RecordImporter,
    StaffRefs,
    UnitRefs,
    audit,
    audit_updates,
    chunks,
    standing,
    written_columns,
)
from .units import unit_dates_problem

UNIT_VARIANTS = ("房间", "房屋编号", "房产", "户")


def _choices(enum_cls) -> tuple[str, ...]:
    return tuple(m.label for m in enum_cls)


def _unit_fields(model, *, required: bool) -> tuple[Field, ...]:
    """A unit named by 楼栋 + 房号, or by one 房屋 column as lists show it ("1栋-101"). The examples are
    as units are stored: 房号 "101" under 楼栋 "1栋", not "1-101"."""
    return (
        Field("unit", label_of(model, "unit"), clean.code(80), variants=UNIT_VARIANTS + ("关联房屋", "房屋"),
              note="“楼栋-房号”，如 1栋-101；也可分列填写楼栋、房号", example=None),
        Field("building", label_of(Building, "name"), clean.code(32), variants=("楼号", "栋号", "楼栋号"),
              example="1栋"),
        Field("room_no", label_of(Unit, "room_no"), clean.code(32), variants=("房间号", "户号", "室号"),
              note=("必填（或填写房屋列）；" if required else "") + "不含楼栋，如 101", example="101"),
    )


def _unit_key(v: dict[str, Any]) -> Any:
    """A row's unit as in-file repeats are told apart: 楼栋 + 房号 as staff type them (3号楼 101 = 3栋 101),
    else the 房屋 text; None without either."""
    if v.get("building") and v.get("room_no"):
        return clean.building_key(v["building"]), clean.room_key(v["room_no"])
    return v.get("unit")


def _resolve_units(importer: RecordImporter, rows: list[Row], refs: UnitRefs, *, required: bool) -> None:
    """Each row's unit from 房屋, or 楼栋 + 房号; ``values['unit_id']`` and ``values['unit_collector_id']`` set,
    unknown units failed. The units are looked up column by column, a project at a time (:meth:`UnitRefs.ids`):
    a whole project's file passes here, and a dictionary per unit and a key folded per row cost more than the read."""
    label = importer.label("unit")
    named: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        v = row.values
        if v.get("unit"):
            parts = refs.split(v["project_id"], v["unit"])
            if parts is None:
                row.fail(label, v["unit"], f"{v['unit']} 不存在于本项目")
                continue
            v["building"], v["room_no"] = parts
        if v.get("building") and v.get("room_no"):
            named[v["project_id"]].append(row)
        elif required:
            row.fail(label, "", "为空：请填写房屋，或楼栋和房号")
    collectors = refs.collectors
    for project_id, part in named.items():
        values = [r.values for r in part]
        ids = refs.ids(project_id, [v["building"] for v in values], [v["room_no"] for v in values])
        for row, v, unit_id in zip(part, values, ids, strict=True):
            if unit_id is None:
                building, room = v["building"], v["room_no"]
                row.fail(label, f"{building}-{room}", refs.missing(project_id, building, room))
            else:
                v["unit_id"] = unit_id
                v["unit_collector_id"] = collectors[unit_id]


def _present(rows: list[Row]) -> set[str]:
    """The fields the file's rows bring (a column the file lacks is not in a row's values)."""
    return set().union(*(r.values.keys() for r in rows))


def _stored(session: Session, model, ids: list[int], columns: list[str]) -> dict[int, dict[str, Any]]:
    """id → (id, project, ``columns``) of the records: only what the file's columns are compared with."""
    table = model.__table__
    wanted = [table.c.id, table.c.project_id, *(table.c[c] for c in columns)]
    out: dict[int, dict[str, Any]] = {}
    for part in chunks(ids):
        result = session.execute(select(*wanted).where(table.c.id.in_(part)))
        names = list(result.keys())
        for rec in result.all():
            out[rec[0]] = dict(zip(names, rec, strict=True))
    return out


def _read_keyed(session: Session, wanted: list, scope: ColumnElement[bool], column, keys: set) -> list[dict[str, Any]]:
    """The rows (``wanted`` columns) within ``scope`` whose ``column`` is one of ``keys``: ``IN`` a thousand keys
    at a time — or, when the keys are about as many as the rows in scope (a whole project's file), one read of
    those rows, kept here by key: binding a hundred lists of a thousand keys costs more than reading the rows."""
    if not keys:
        return []
    stmt = select(*wanted).where(scope)
    whole = session.scalar(select(func.count()).where(scope)) <= 2 * len(keys)
    conn = session.connection()  # Core rows: the ORM's result layer costs more than the read here
    out: list[dict[str, Any]] = []
    for part in [stmt] if whole else [stmt.where(column.in_(part)) for part in chunks(keys)]:
        result = conn.execute(part)
        names = list(result.keys())
        at = names.index(column.key)
        # fetched at once (row by row is the driver's fetchone per row), made dicts in one comprehension
        out += [dict(zip(names, rec, strict=True)) for rec in result.all() if rec[at] in keys]
    return out


class UnitImporter(RecordImporter):
    kind = "units"
    model = Unit
    title = Unit.__label__
    key = ("building", "room_no")
    columns = {
        "kind": "kind", "status": "status", "area": "area", "handover_date": "handover_date",
        "move_in_date": "move_in_date", "butler": "butler_id", "collector": "collector_id", "key_tenant": "key_tenant",
    }
    notes = ("每行一套房屋；楼栋不存在时会自动新建。", "已有的房屋（项目+楼栋+房号相同）按文件内容更新，只更新文件中有的列。")
    # its check reads the projects' buildings, units and staff only; its one rule of today (no date after today)
    # still holds for a date that held when the file was imported
    marked = ("project", "building", "unit", "staff")

    def own_fields(self) -> tuple[Field, ...]:
        return (
            Field("building", label_of(Unit, "building"), clean.code(32), required=True,
                  variants=("楼号", "栋号", "楼栋号", "幢号"), example="1栋"),
            Field("room_no", label_of(Unit, "room_no"), clean.code(32), required=True,
                  variants=("房间号", "户号", "室号", "门牌号"), note="不含楼栋，如 101", example="101"),
            Field("kind", label_of(Unit, "kind"), clean.choice(UnitKind), variants=("类型", "用途"),
                  choices=_choices(UnitKind), example=UnitKind.HOUSE.label),
            Field("status", label_of(Unit, "status"), clean.choice(UnitStatus), variants=("状态",),
                  choices=_choices(UnitStatus), example=UnitStatus.OCCUPIED.label),
            Field("area", label_of(Unit, "area"), clean.area(2, digits=Unit.area.type.precision), variants=("面积", "建筑面积", "面积(㎡)"),
                  note="平方米，最多两位小数", example=Decimal("89.50")),
            Field("handover_date", label_of(Unit, "handover_date"), clean.date(), example=None),
            Field("move_in_date", label_of(Unit, "move_in_date"), clean.date(), example=None),
            Field("butler", label_of(Unit, "butler"), clean.text(32), variants=("管家", "楼宇管家"),
                  note="员工姓名或工号", example=None),
            Field("collector", label_of(Unit, "collector"), clean.text(32), variants=("收费员",),
                  note="员工姓名或工号", example=None),
            Field("key_tenant", label_of(Unit, "key_tenant"), clean.boolean(), variants=("主力店", "重点商户"),
                  choices=("是", "否"), example="否"),
        )

    def row_key(self, row: Row) -> tuple | None:
        v = row.values
        if not (v.get("building") and v.get("room_no")):
            return None
        return v.get("project") or "", clean.building_key(v["building"]), clean.room_key(v["room_no"])

    def resolve(self, rows: list[Row]) -> None:
        projects = {r.values["project_id"] for r in rows}
        self.refs = UnitRefs(self.session, projects)
        texts = {r.values[k] for r in rows for k in ("butler", "collector") if r.values.get(k)}
        self.staff = StaffRefs(self.session, projects, texts)
        butler, collector = self.label("butler"), self.label("collector")
        for row in rows:
            self.staff.resolve(row, "butler", butler, BUTLER_POSITIONS)
            self.staff.resolve(row, "collector", collector, COLLECTING_POSITIONS)

    def compare(self, row: Row, stored: dict[str, Any] | None) -> None:
        """The dates as the unit would hold them — a column the file leaves out keeps the stored date — agree, as
        the console's unit form holds them: a file of 入住日期 alone is checked against the 交房日期 on record."""
        values = row.values
        dates = {key: values[key] if key in values else (stored or {}).get(key)
                 for key in ("handover_date", "move_in_date")}
        problem = unit_dates_problem(dates["handover_date"], dates["move_in_date"])
        if problem:
            key, reason = problem
            if key not in values:  # the file's other date is at fault against this stored one
                key = "handover_date" if key == "move_in_date" else "move_in_date"
            row.fail(self.label(key), values.get(key), reason)
            return
        super().compare(row, stored)

    def find(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        self.refs.load((r.values["project_id"], r.values["building"], r.values["room_no"]) for r in rows)
        found = {id(r): u["id"] for r in rows if (u := self.refs.get(r.values["project_id"], r.values["building"], r.values["room_no"]))}
        for row in rows if self.refs.ambiguous else ():
            v = row.values
            if (v["project_id"], clean.building_key(v["building"]), clean.room_key(v["room_no"])) in self.refs.ambiguous:
                # 101 of a building holding 101 and 0101: neither updated, and no third unit added
                row.fail(self.label("room_no"), v["room_no"], self.refs.missing(v["project_id"], v["building"],
                                                                               v["room_no"]))
        # the dates always: a file that sets one is checked against the other on record (compare)
        wanted = (_present(rows) & set(self.columns)) | {"handover_date", "move_in_date"}
        stored = _stored(self.session, Unit, list(found.values()), [self.columns[k] for k in sorted(wanted)])
        return {key: stored[unit_id] for key, unit_id in found.items()}

    def shown_stored(self, key: str, value: Any) -> Any:
        return self.staff.name(value) if key in ("butler", "collector") else value

    def write_new(self, rows: list[Row], batch: ImportBatch) -> list[int]:
        # a new building as the file first spells it: "3栋" and "3号楼" in one file are one building
        missing: dict[tuple[int, str | None], str] = {}
        for r in rows:
            if self.refs.building_id(r.values["project_id"], r.values["building"]) is None:
                missing.setdefault((r.values["project_id"], clean.building_key(r.values["building"])),
                                   r.values["building"])
        made = insert_rows(self.session, Building.__table__, ["project_id", "name", "sort_key"],
                           sorted((p, name, natural_sort_key(name)) for (p, _), name in missing.items()),
                           returning=["id", "project_id", "name"])
        for building_id, project_id, name in made:
            self.refs.buildings[(project_id, clean.building_key(name))] = building_id
        audit(self.session, Building, [b for b, _, _ in made], AuditKind.INSERT, f"导入房屋时新建楼栋（批次 #{batch.id}）",
              written_columns(Building))
        self.buildings_added = len(made)
        # the natural sort key given here: a raw INSERT fills only defaults that need no other column
        columns = ["project_id", "building_id", "room_no", "sort_key", *self.columns.values()]
        values = [
            (r.values["project_id"], self.refs.building_id(r.values["project_id"], r.values["building"]),
             r.values["room_no"], natural_sort_key(r.values["room_no"]), *(self.new_value(r, k) for k in self.columns))
            for r in rows
        ]
        return [i for (i,) in insert_rows(self.session, Unit.__table__, columns, values, returning=["id"])]

    def after_write(self, new: list[Row], updated: list[Row], batch: ImportBatch) -> dict[str, int]:
        return {"buildings_added": getattr(self, "buildings_added", 0)}


class ParkingImporter(RecordImporter):
    kind = "parking"
    model = ParkingSpace
    title = ParkingSpace.__label__
    key = ("code",)
    columns = {"area_name": "area_name", "unit": "unit_id", "plate_no": "plate_no", "is_rented": "is_rented"}

    def own_fields(self) -> tuple[Field, ...]:
        return (
            Field("code", label_of(ParkingSpace, "code"), clean.code(32), required=True, variants=("车位编号", "车位"),
                  example="B1-001"),
            Field("area_name", label_of(ParkingSpace, "area_name"), clean.text(32), variants=("车库", "位置"),
                  example="地下一层"),
            Field("unit", label_of(ParkingSpace, "unit"), clean.code(80), variants=("房屋", "所属房屋"),
                  note="“楼栋-房号”，如 1栋-101", example=None),
            Field("plate_no", label_of(ParkingSpace, "plate_no"), clean.plate(16), variants=("车牌",), example="沪A12345"),
            Field("is_rented", label_of(ParkingSpace, "is_rented"), clean.boolean(yes=("出租", "租用", "在租"), no=("空闲", "空置")),
                  variants=("是否租用", "出租"),
                  choices=("是", "否"), example="否"),
        )

    def row_key(self, row: Row) -> tuple | None:
        return (row.values.get("project") or "", row.values["code"]) if row.values.get("code") else None

    def resolve(self, rows: list[Row]) -> None:
        refs = UnitRefs(self.session, {r.values["project_id"] for r in rows})
        _resolve_units(self, rows, refs, required=False)
        self.unit_names = {u["id"]: u["name"] for u in refs.units.values()}

    def find(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        stored: dict[tuple[int, str], dict[str, Any]] = {}
        table = ParkingSpace.__table__
        for part in chunks(r.values["code"] for r in rows):
            stmt = select(table).where(table.c.project_id.in_(sorted({r.values["project_id"] for r in rows})),
                                       table.c.code.in_(part))
            for rec in self.session.execute(stmt).mappings():
                stored[(rec["project_id"], rec["code"])] = dict(rec)
        return {id(r): s for r in rows if (s := stored.get((r.values["project_id"], r.values["code"])))}

    def shown_stored(self, key: str, value: Any) -> Any:
        return self.unit_names.get(value, value) if key == "unit" else value

    def check(self, rows: list[Row]) -> None:
        """租用 否 for a space let today is refused, as in the console (``fee_tasks``): it follows the lease."""
        super().check(rows)
        self._name_stored_units(rows)
        ending = [r for r in rows if r.ok and r.target_id and r.values.get("is_rented") is False]
        leases = current_leases(self.session, (r.target_id for r in ending))
        for row in ending:
            if (lease := leases.get(row.target_id)) is not None:
                row.fail(self.label("is_rented"), "否", not_rented_refusal(row.values["code"], lease))

    def _name_stored_units(self, rows: list[Row]) -> None:
        """A space's stored 房屋 that the file changes is shown by its name, as the file names units (「1栋-1-101 →
        1栋-1-102」), not by its id: the units the file does not name looked up together."""
        moved = [r for r in rows if r.changes and "unit" in r.changes]
        unknown = {r.changes["unit"][0] for r in moved} - {None, *self.unit_names}
        for part in chunks(unknown):
            stmt = select(Unit.id, Building.name, Unit.room_no).join(Building, Unit.building_id == Building.id) \
                .where(Unit.id.in_(part))
            self.unit_names.update((unit_id, f"{building}-{room}") for unit_id, building, room in self.session.execute(stmt))
        for row in moved:
            old, new = row.changes["unit"]
            row.changes["unit"] = (self.unit_names.get(old, old), new)

    def write_new(self, rows: list[Row], batch: ImportBatch) -> list[int]:
        columns = ["project_id", "code", *self.columns.values()]
        values = [(r.values["project_id"], r.values["code"], *(self.new_value(r, k) for k in self.columns)) for r in rows]
        return [i for (i,) in insert_rows(self.session, ParkingSpace.__table__, columns, values, returning=["id"])]


class StaffImporter(RecordImporter):
    kind = "staff"
    model = Staff
    title = Staff.__label__
    key = ("employee_no",)
    columns = {"name": "name", "phone": "phone", "position": "position", "department": "department_id",
               "hired_on": "hired_on", "active": "active"}
    needed_for_new = ("name", "position")
    kept_when_blank = frozenset({"phone"})

    def own_fields(self) -> tuple[Field, ...]:
        return (
            Field("employee_no", label_of(Staff, "employee_no"), clean.code(32), required=True,
                  variants=("员工编号", "员工号"), example="KF001"),
            Field("name", label_of(Staff, "name"), clean.text(32), variants=("员工姓名",), note="新增时必填",
                  example="李娜"),
            Field("phone", label_of(Staff, "phone"), clean.phone(), variants=("电话", "联系电话", "手机"),
                  example="13900001111"),
            Field("position", label_of(Staff, "position"), clean.choice(StaffPosition), variants=("职位", "职务"),
                  choices=_choices(StaffPosition), note="新增时必填", example=StaffPosition.FRONT_DESK.label),
            Field("department", label_of(Staff, "department"), clean.text(64), variants=("所属部门",),
                  note="部门名称，如 客服部", example="客服部"),
            Field("hired_on", label_of(Staff, "hired_on"), clean.date(), variants=("入职时间",), example=None),
            Field("active", label_of(Staff, "active"), clean.boolean(yes=("在职",), no=("离职",)), variants=("是否在职",), choices=("是", "否"),
                  example="是"),
        )

    def row_key(self, row: Row) -> tuple | None:
        return (row.values.get("project") or "", row.values["employee_no"]) if row.values.get("employee_no") else None

    def resolve(self, rows: list[Row]) -> None:
        projects = sorted({r.values["project_id"] for r in rows})
        departments: dict[tuple[int | None, str], int] = {
            (project_id, name): dept_id
            for dept_id, project_id, name in self.session.execute(
                select(Department.id, Department.project_id, Department.name).where(
                    Department.project_id.in_(projects) | Department.project_id.is_(None))
            )
        }
        self.department_names = {v: k[1] for k, v in departments.items()}
        label = self.label("department")
        for row in rows:
            name = row.values.get("department")
            if name is None:
                continue
            dept_id = departments.get((row.values["project_id"], name)) or departments.get((None, name))
            if dept_id is None:
                row.fail(label, name, f"{name} 不存在")
            else:
                row.values["department_id"] = dept_id

    def find(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        stored: dict[tuple[int, str], dict[str, Any]] = {}
        table = Staff.__table__
        for part in chunks(r.values["employee_no"] for r in rows):
            stmt = select(table).where(table.c.project_id.in_(sorted({r.values["project_id"] for r in rows})),
                                       table.c.employee_no.in_(part))
            for rec in self.session.execute(stmt).mappings():
                stored[(rec["project_id"], rec["employee_no"])] = dict(rec)
        return {id(r): s for r in rows if (s := stored.get((r.values["project_id"], r.values["employee_no"])))}

    def shown_stored(self, key: str, value: Any) -> Any:
        return self.department_names.get(value, value) if key == "department" else value

    def write_new(self, rows: list[Row], batch: ImportBatch) -> list[int]:
        columns = ["project_id", "employee_no", *self.columns.values()]
        values = [(r.values["project_id"], r.values["employee_no"], *(self.new_value(r, k) for k in self.columns))
                  for r in rows]
        return [i for (i,) in insert_rows(self.session, Staff.__table__, columns, values, returning=["id"])]


def _recompute_bills(session: Session, bill_ids: list[int]) -> None:
    """实收 and 状态 of these bills from their payments (a waived bill stays waived)."""
    paid = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.bill_id == Bill.id, Payment.reversed_at.is_(None))  # a reversed (冲正) payment counts no more
        .scalar_subquery()
    )
    for part in chunks(bill_ids):
        session.execute(
            update(Bill.__table__)
            .where(Bill.id.in_(part), Bill.status != BillStatus.WAIVED)
            .values(
                amount_paid=paid,
                status=case(
                    (paid >= Bill.amount_due, BillStatus.PAID.value),
                    (paid > 0, BillStatus.PARTIAL.value),
                    else_=BillStatus.UNPAID.value,
                ),
                version=Bill.version + 1,
            )
        )


def _paid_meanwhile(title: str, failed: list[str]) -> Refused:
    """A bills or payments import refused at its write: a 收款 committed since its check changed what it checked."""
    return Refused(f"导入{title}未完成：核对之后这些账单有了新的收款，本次没有写入任何内容，请重新上传预览。"
                   + "；".join(failed[:5]) + (f" 等 {len(failed)} 处" if len(failed) > 5 else ""))


class BillImporter(RecordImporter):
    kind = "bills"
    model = Bill
    title = Bill.__label__
    key = ("unit", "fee_type", "period")
    columns = {"amount_due": "amount_due", "due_date": "due_date", "collector": "collector_id"}
    needed_for_new = ("amount_due",)
    kept_when_blank = frozenset({"collector"})  # 不填时为房屋的责任收费员: blank on a bill on file, its own is kept
    notes = ("实收金额和状态由收款记录决定，导入时不读取这两列。",)

    def own_fields(self) -> tuple[Field, ...]:
        return (
            *_unit_fields(Bill, required=True),
            Field("fee_type", label_of(Bill, "fee_type"), clean.text(64), required=True, variants=("费用名称", "费项"),
                  example="物业管理费"),
            Field("period", label_of(Bill, "period"), clean.period(), required=True, variants=("所属期间", "月份", "计费月份"),
                  note="如 2026-03", example="2026-03"),
            Field("amount_due", label_of(Bill, "amount_due"),
                  clean.decimal(2, positive=True, digits=Bill.amount_due.type.precision), variants=("应收金额", "应收", "金额"),
                  note="元，新增时必填", example=Decimal("268.50")),
            Field("due_date", label_of(Bill, "due_date"), clean.date(), variants=("截止日期",),
                  note="不填时按收费项目的缴费截止日", example=None),
            Field("collector", label_of(Bill, "collector"), clean.text(32), variants=("收费员",),
                  note="员工姓名或工号；新增账单不填时为房屋的责任收费员，已有账单不填时不变", example=None),
        )

    def row_key(self, row: Row) -> tuple | None:
        v = row.values
        unit = _unit_key(v)
        if not (unit and v.get("fee_type") and v.get("period")):
            return None
        return (v.get("project") or "", unit, v["fee_type"], v["period"])

    def resolve(self, rows: list[Row]) -> None:
        projects = {r.values["project_id"] for r in rows}
        _resolve_units(self, rows, UnitRefs(self.session, projects), required=True)
        fee_types = {
            (project_id, name): (fee_id, due_day)
            for fee_id, project_id, name, due_day in self.session.execute(
                select(FeeType.id, FeeType.project_id, FeeType.name, FeeType.due_day).where(
                    FeeType.project_id.in_(sorted(projects)))
            )
        }
        texts = {r.values["collector"] for r in rows if r.values.get("collector")}
        self.staff = StaffRefs(self.session, projects, texts)
        label = self.label("fee_type")
        for row in [r for r in rows if r.ok]:
            fee = fee_types.get((row.values["project_id"], row.values["fee_type"]))
            if fee is None:
                row.fail(label, row.values["fee_type"], f"{row.values['fee_type']} 不是本项目的收费项目")
                continue
            row.values["fee_type_id"], row.values["due_day"] = fee
            self.staff.resolve(row, "collector", self.label("collector"), COLLECTING_POSITIONS)

    def find(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        stored: dict[tuple[int, int, str], dict[str, Any]] = {}
        table = Bill.__table__
        for part in chunks(r.values["unit_id"] for r in rows):
            for rec in self.session.execute(select(table).where(table.c.unit_id.in_(part))).mappings():
                stored[(rec["unit_id"], rec["fee_type_id"], rec["period"])] = dict(rec)
        return {id(r): s for r in rows
                if (s := stored.get((r.values["unit_id"], r.values["fee_type_id"], r.values["period"])))}

    def check(self, rows: list[Row]) -> None:
        """The rules of a bill typed in the console (``billing.bill_problem``), per row and against the bills
        ``find`` loaded when the row changes 应收. The status then follows the money (``after_write``)."""
        super().check(rows)
        for row in rows:
            if not row.ok:
                continue
            v = row.values
            try:
                period = parse_period(v["period"])
            except Refused as e:
                row.fail(self.label("period"), v["period"], e.message)
                continue
            stored = self.stored.get(row.target_id) if row.target_id else None
            changed = stored is not None and "amount_due" in (row.changes or {})
            problem = bill_problem(period, v.get("amount_due"), StoredBill(
                stored["id"], BillStatus(stored["status"]), stored["amount_paid"]) if changed else None)
            if problem:
                key, reason = problem
                row.fail(self.label(key), period if key == "period" else v.get("amount_due"), reason)

    def shown_stored(self, key: str, value: Any) -> Any:
        return self.staff.name(value) if key == "collector" else value

    def write_new(self, rows: list[Row], batch: ImportBatch) -> list[int]:
        columns = ["project_id", "unit_id", "fee_type_id", "period", "amount_due", "amount_paid", "status", "due_date",
                   "collector_id"]
        values = [
            (v["project_id"], v["unit_id"], v["fee_type_id"], v["period"], v["amount_due"], Decimal("0"),
             BillStatus.UNPAID, v.get("due_date") or month_day(v["period"], v["due_day"]),
             v.get("collector_id") or v.get("unit_collector_id"))
            for v in (r.values for r in rows)
        ]
        ids = [i for (i,) in insert_rows(self.session, Bill.__table__, columns, values, returning=["id"])]
        for part in chunks(ids):  # who pays: the unit's primary current customer, as generated bills do
            self.session.execute(update(Bill.__table__).where(Bill.id.in_(part)).values(customer_id=payer_id(Bill.unit_id)))
        return ids

    def write_updates(self, rows: list[Row]) -> None:
        """A new 应收 checked again with its bill locked, as 收款 at the counter locks it: a payment committed since
        the check (read unlocked, for seconds on a big file) may have taken 已收 past it. Refused as a whole."""
        corrected = {r.target_id: r for r in rows if "amount_due" in (r.changes or {})}
        failed = []
        for part in chunks(sorted(corrected)):  # in id order, as every writer of several bills takes them
            for bill_id, status, paid in self.session.execute(
                select(Bill.id, Bill.status, Bill.amount_paid).where(Bill.id.in_(part)).order_by(Bill.id)
                .with_for_update()
            ):
                row = corrected[bill_id]
                problem = bill_problem(row.values["period"], row.values["amount_due"], StoredBill(bill_id, status, paid))
                if problem:
                    failed.append(f"「{row.sheet}」第{row.number}行 {self.label(problem[0])} {problem[1]}")
        if failed:
            raise _paid_meanwhile(self.title, failed)
        super().write_updates(rows)

    def after_write(self, new: list[Row], updated: list[Row], batch: ImportBatch) -> dict[str, int]:
        _recompute_bills(self.session, [r.target_id for r in updated if "amount_due" in (r.changes or {})])
        return {}


BILL_TEXT = re.compile(r"(?:账单)?#?(\d+)$")
# 支付方式 as the cashier's own till and bank statements write it (a 收银系统's export says 微信支付, a POS slip
# 银行卡 / 信用卡): the same five ways, not an error per row.
PAY_METHOD_WORDS = {
    **dict.fromkeys(("现金支付", "现金收款", "现钞"), PayMethod.CASH),
    **dict.fromkeys(("微信支付", "微信扫码", "微信转账"), PayMethod.WECHAT),
    **dict.fromkeys(("支付宝支付", "支付宝扫码", "支付宝转账"), PayMethod.ALIPAY),
    **dict.fromkeys(("银行卡", "信用卡", "借记卡", "储蓄卡", "POS", "pos", "POS机", "pos机", "刷卡支付"), PayMethod.CARD),
    **dict.fromkeys(("转账", "银行汇款", "汇款", "对公转账", "网银转账", "银行转帐", "转帐"), PayMethod.TRANSFER),
}


class PaymentImporter(RecordImporter):
    kind = "payments"
    model = Payment
    title = Payment.__label__
    key = ("receipt_no",)
    columns = {"bill": "bill_id", "amount": "amount", "method": "method", "paid_at": "paid_at",
               "collector": "collector_id"}
    needed_for_new = ("paid_at",)
    notes = ("每行一笔收款，以收据号和账单识别；收据号留空的，按收款时间的年度自动编号（如 SJ2026-000123）；"
             "填写的收据号不能是本项目已用过的。一张收据冲抵几张账单时，各行填同一收据号、同一房屋、同一收款时间。",
             "导入后账单的实收金额和状态按收款记录重新计算。",
             "账单可填列表中显示的“2026-03 账单#12”，或填写房屋、收费项目和账期。")

    def own_fields(self) -> tuple[Field, ...]:
        return (
            Field("receipt_no", label_of(Payment, "receipt_no"), clean.code(32),
                  variants=("收据编号", "票据号", "流水号"), note="留空则自动编号", example="SJ2026-000123"),
            Field("bill", label_of(Payment, "bill"), clean.text(64), variants=("账单编号",),
                  note="如 2026-03 账单#12；或改填房屋、收费项目、账期", example=None),
            *_unit_fields(Bill, required=False),
            Field("fee_type", label_of(Bill, "fee_type"), clean.text(64), variants=("费用名称", "费项"),
                  example="物业管理费"),
            Field("period", label_of(Bill, "period"), clean.period(), variants=("所属期间", "月份"), example="2026-03"),
            Field("amount", label_of(Payment, "amount"), clean.decimal(2, positive=True, digits=Payment.amount.type.precision), required=True,
                  variants=("收款金额", "金额"),
                  note="元，大于 0", example=Decimal("268.50")),
            Field("method", label_of(Payment, "method"), clean.choice(PayMethod, PAY_METHOD_WORDS), variants=("付款方式", "缴费方式"),
                  choices=_choices(PayMethod), example=PayMethod.WECHAT.label),
            Field("paid_at", label_of(Payment, "paid_at"), clean.timestamp(SHANGHAI), variants=("收款日期", "缴费时间", "日期"),
                  note="如 2026-03-05 10:30", example="2026-03-05 10:30"),
            Field("collector", label_of(Payment, "collector"), clean.text(32), variants=("收费员", "经办人"),
                  note="员工姓名或工号", example=None),
        )

    def row_key(self, row: Row) -> tuple | None:
        """A payment line: its receipt and its bill (one receipt may list several bills, each once)."""
        v = row.values
        if not v.get("receipt_no"):
            return None
        bill = v.get("bill") or (v.get("building"), v.get("room_no"), v.get("fee_type"), v.get("period"))
        return v.get("project") or "", v["receipt_no"], bill

    def resolve(self, rows: list[Row]) -> None:
        projects = {r.values["project_id"] for r in rows}
        by_text = [r for r in rows if r.values.get("bill")]
        by_unit = [r for r in rows if not r.values.get("bill")]
        label = self.label("bill")
        for row in by_text:
            m = BILL_TEXT.search(row.values["bill"].replace(" ", ""))
            if m is None:
                row.fail(label, row.values["bill"], f"「{row.values['bill']}」不是账单编号（如 2026-03 账单#12）")
            else:
                row.values["bill_id"] = int(m.group(1))
        _resolve_units(self, by_unit, UnitRefs(self.session, projects), required=False)
        fee_types = {
            (project_id, name): fee_id
            for fee_id, project_id, name in self.session.execute(
                select(FeeType.id, FeeType.project_id, FeeType.name).where(FeeType.project_id.in_(sorted(projects))))
        }
        wanted = defaultdict(list)
        for row in by_unit:
            v = row.values
            if not row.ok:
                continue
            if not (v.get("unit_id") and v.get("fee_type") and v.get("period")):
                row.fail(label, "", "为空：请填写账单，或房屋、收费项目和账期")
                continue
            fee_id = fee_types.get((v["project_id"], v["fee_type"]))
            if fee_id is None:
                row.fail(self.label("fee_type"), v["fee_type"], f"{v['fee_type']} 不是本项目的收费项目")
                continue
            wanted[(v["unit_id"], fee_id, v["period"])].append(row)
        for part in chunks(u for u, _, _ in wanted):
            for bill_id, unit_id, fee_id, period in self.session.execute(
                select(Bill.id, Bill.unit_id, Bill.fee_type_id, Bill.period).where(Bill.unit_id.in_(part))
            ):
                for row in wanted.pop((unit_id, fee_id, period), ()):
                    row.values["bill_id"] = bill_id
        for rows_without_bill in wanted.values():
            for row in rows_without_bill:
                v = row.values
                row.fail(label, "", f"{v['building']}-{v['room_no']} {v['fee_type']} {v['period']} 没有账单")
        bills = {}
        for part in chunks(r.values["bill_id"] for r in rows if r.ok):
            for bill_id, project_id, status, due, period, unit_id in self.session.execute(
                select(Bill.id, Bill.project_id, Bill.status, Bill.amount_due, Bill.period, Bill.unit_id)
                .where(Bill.id.in_(part))
            ):
                bills[bill_id] = (project_id, status, due, period, unit_id)
        self.bills = bills
        texts = {r.values["collector"] for r in rows if r.values.get("collector")}
        self.staff = StaffRefs(self.session, projects, texts)
        own = actor_staff_id(self.session, self.actor)
        for row in rows:
            if not row.ok:
                continue
            bill = bills.get(row.values["bill_id"])
            if bill is None or bill[0] != row.values["project_id"]:
                row.fail(label, row.values.get("bill") or row.values["bill_id"], "账单不存在于本项目")
            elif bill[1] is BillStatus.WAIVED:
                row.fail(label, row.values.get("bill") or row.values["bill_id"], "账单已减免，不能收款")
            else:
                # as the console's 收款: a post that takes money, or the importing cashier's own record
                self.staff.resolve(row, "collector", self.label("collector"), COLLECTING_POSITIONS, own)

    def find(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        """The line of the row's receipt on the row's bill; else the receipt's first line (the number is taken:
        :meth:`compare` says how the row differs from it)."""
        stored: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        table = Payment.__table__
        numbered = [r for r in rows if r.values.get("receipt_no")]
        for part in chunks(r.values["receipt_no"] for r in numbered):
            stmt = select(table).where(table.c.project_id.in_(sorted({r.values["project_id"] for r in numbered})),
                                       table.c.receipt_no.in_(part)).order_by(table.c.id)
            for rec in self.session.execute(stmt).mappings():
                stored[(rec["project_id"], rec["receipt_no"])].append(dict(rec))
        found = {}
        for row in numbered:
            if lines := stored.get((row.values["project_id"], row.values["receipt_no"])):
                found[id(row)] = next((s for s in lines if s["bill_id"] == row.values["bill_id"]), lines[0])
        return found

    def compare(self, row: Row, stored: dict[str, Any] | None) -> None:
        """收款 is never edited: a 收据号 (or 编号) already booked re-imports only as it is stored (无变化, as an
        exported file does); any difference is an error on the row, not an update of booked money."""
        super().compare(row, stored)
        if stored is None or not row.ok:
            return
        differs = [self.label(k) for k in row.changes or {}]
        if row.values.get("bill_id") is not None and row.values["bill_id"] != stored["bill_id"] \
                and self.label("bill") not in differs:
            differs.append(self.label("bill"))
        receipt = row.values.get("receipt_no") or "（空）"
        if stored["receipt_no"] != receipt:
            row.changes = None
            row.fail(self.label("id"), stored["id"], f"{stored['id']} 是收据号 {stored['receipt_no']} 的收款，"
                     f"与本行收据号 {receipt} 不符：收款记录不能通过导入修改")
        elif differs:
            row.changes = None
            row.fail(self.label("receipt_no"), receipt, f"{receipt} 已用于收款 #{stored['id']}：收款记录不能通过导入修改"
                     f"（{'、'.join(differs)}与已登记的不同）")

    def check(self, rows: list[Row]) -> None:
        super().check(rows)
        self._check_receipts([r for r in rows if r.ok and r.outcome is Outcome.NEW and r.values.get("receipt_no")])
        # 收款时间 no later than now, as at the counter (``billing._payment_terms``: five minutes of clock skew).
        now = utcnow()
        latest = now + dt.timedelta(minutes=5)
        label = self.label("paid_at")
        for row in rows:
            paid_at = row.values.get("paid_at")
            if row.ok and paid_at is not None and paid_at > latest:
                row.fail(label, paid_at, f"{shown(paid_at)} 晚于现在（北京时间 {shown(now)}），不能登记未来的收款")
            elif row.ok and paid_at is not None and (early := paid_too_early(self.bills[row.values["bill_id"]][3], paid_at)):
                row.fail(label, paid_at, early.removeprefix(f"{label} "))
        self._check_totals([r for r in rows if r.ok and r.outcome is Outcome.NEW])

    def _check_receipts(self, rows: list[Row]) -> None:
        """Rows that bring one new 收据号 are one 收款: the same unit at the same moment."""
        first: dict[tuple[int, str], Row] = {}
        for row in rows:
            v = row.values
            earlier = first.setdefault((v["project_id"], v["receipt_no"]), row)
            if earlier is not row and (self.bills[v["bill_id"]][4] != self.bills[earlier.values["bill_id"]][4]
                                       or v.get("paid_at") != earlier.values.get("paid_at")):
                row.fail(self.label("receipt_no"), v["receipt_no"],
                         f"{v['receipt_no']} 已用于第{earlier.number}行：同一收据号的各行须为同一房屋、同一收款时间的一笔收款")

    def _check_totals(self, rows: list[Row]) -> None:
        """收款合计 of a bill may not pass its 应收: the payments kept, plus the ones this file brings."""
        replaced = {r.target_id for r in rows if r.target_id}
        bill_ids = {r.values["bill_id"] for r in rows} | {self.stored[i]["bill_id"] for i in replaced}
        kept: dict[int, Decimal] = defaultdict(Decimal)
        for part in chunks(bill_ids):
            for bill_id, payment_id, amount in self.session.execute(
                select(Payment.bill_id, Payment.id, Payment.amount)
                .where(Payment.bill_id.in_(part), Payment.reversed_at.is_(None))
            ):
                if payment_id not in replaced:
                    kept[bill_id] += amount
        total = dict(kept)
        for row in rows:
            amount = row.values.get("amount") or self.stored.get(row.target_id, {}).get("amount") or Decimal("0")
            total[row.values["bill_id"]] = total.get(row.values["bill_id"], Decimal("0")) + amount
        for row in rows:
            bill_id = row.values["bill_id"]
            due = self.bills[bill_id][2]
            if total[bill_id] > due:
                row.fail(self.label("amount"), row.values.get("amount"),
                         f"账单#{bill_id}（{self.bills[bill_id][3]}）收款合计 {total[bill_id]} 元超过应收 {due} 元")

    def shown_stored(self, key: str, value: Any) -> Any:
        return self.staff.name(value) if key == "collector" else value

    def _lock_bills(self, rows: list[Row]) -> None:
        """The rows' bills locked as 收款 at the counter locks them (``billing.record_payment``), then their totals
        checked again: a cashier's payment committed since the check (a file of thousands of rows is checked for
        seconds) would otherwise take a bill past 应收 with the file's. Refused as a whole, nothing written."""
        ids = sorted({r.values["bill_id"] for r in rows})
        for part in chunks(ids):  # in id order, as every writer of several bills takes them
            self.session.execute(select(Bill.id).where(Bill.id.in_(part)).order_by(Bill.id).with_for_update())
        self._check_totals(rows)
        failed = [p.message for r in rows if not r.ok for p in r.problems or ()]
        if failed:
            raise _paid_meanwhile(self.title, failed)

    def write_new(self, rows: list[Row], batch: ImportBatch) -> list[int]:
        """The receipts first — the numbers the file brings, the next of the sequence for a row without — then
        the payments on them."""
        self._lock_bills(rows)
        numbers = {id(r): r.values["receipt_no"] for r in rows if r.values.get("receipt_no")}
        given = sorted({(r.values["project_id"], r.values["receipt_no"]) for r in rows if id(r) in numbers})
        insert_rows(self.session, Receipt.__table__, ["project_id", "number"], given)  # before the sequence skips them
        blank: dict[tuple[int, int], list[Row]] = defaultdict(list)
        for row in rows:
            if id(row) not in numbers:
                blank[(row.values["project_id"], row.values["paid_at"].astimezone(SHANGHAI).year)].append(row)
        for (project_id, year), unnumbered in blank.items():
            fresh = receipt_numbers(self.session, project_id, year, len(unnumbered))
            insert_rows(self.session, Receipt.__table__, ["project_id", "number"], [(project_id, n) for n in fresh])
            numbers.update(zip(map(id, unnumbered), fresh, strict=True))
        columns = ["project_id", "receipt_no", *self.columns.values()]
        values = [(r.values["project_id"], numbers[id(r)], *(self.new_value(r, k) for k in self.columns))
                  for r in rows]
        return [i for (i,) in insert_rows(self.session, Payment.__table__, columns, values, returning=["id"])]

    def after_write(self, new: list[Row], updated: list[Row], batch: ImportBatch) -> dict[str, int]:
        bills = {r.values["bill_id"] for r in new + updated} | {self.stored[r.target_id]["bill_id"] for r in updated}
        _recompute_bills(self.session, sorted(bills))
        audit(self.session, Bill, sorted(bills), AuditKind.UPDATE, f"收款导入后重算实收（批次 #{batch.id}）",
              ["amount_paid", "status"])
        return {"bills_recomputed": len(bills)}


class CustomerImporter(RecordImporter):
    """客户 and, when the row names a unit, the customer's link to it. One customer may fill several rows
    (one per unit); what the rows say about the customer must then agree."""

    kind = "customers"
    model = Customer
    title = Customer.__label__
    key = ("unit", "name", "relation")
    columns = {"name": "name", "kind": "kind", "phone": "phone", "id_number": "id_number",
               "emergency_contact": "emergency_contact", "note": "note"}
    link_columns = {"is_primary": "is_primary", "start_date": "start_date"}
    kept_when_blank = frozenset({"phone", "id_number"})
    marked = ("project", "building", "unit", "customer", "unit_customer")  # all its check reads
    notes = ("客户按身份证号识别；没有身份证号时按手机号加姓名识别。",
             "一位客户有多套房屋时可填多行，每行一套房屋；同一客户的类型、电话、备注等填在其中一行即可，其余行留空视为同上，"
             "各行填写的须一致。",
             "导出文件中打码的身份证号、手机号（如 138****5678）导入时保留原值；已有客户的身份证号、手机号、类型留空时也保留原值。")

    def own_fields(self) -> tuple[Field, ...]:
        return (
            Field("name", label_of(Customer, "name"), clean.text(64), required=True,
                  variants=("客户姓名", "业主姓名", "业主", "名称"), example="张伟"),
            Field("kind", label_of(Customer, "kind"), clean.choice(CustomerKind), variants=("类型",),
                  choices=_choices(CustomerKind), example=CustomerKind.PERSON.label),
            Field("phone", label_of(Customer, "phone"), clean.phone(), variants=("电话", "联系电话", "手机"),
                  note="手机或座机；请把该列设为文本", example="13812345678"),
            Field("id_number", label_of(Customer, "id_number"), clean.id_number(), variants=("身份证", "证件号码", "身份证号码"),
                  note="18 位（15 位旧号自动转换）；请把该列设为文本", example="11010519491231002X"),
            Field("emergency_contact", label_of(Customer, "emergency_contact"), clean.text(64), example=None),
            Field("note", label_of(Customer, "note"), clean.text(TEXT_MAX), example=None),
            *_unit_fields(UnitCustomer, required=False),
            Field("relation", label_of(UnitCustomer, "relation"), clean.choice(UnitRelation), variants=("身份", "客户身份"),
                  choices=_choices(UnitRelation), note="不填为业主", example=UnitRelation.OWNER.label),
            Field("is_primary", label_of(UnitCustomer, "is_primary"), clean.boolean(), choices=("是", "否"), example="是"),
            Field("start_date", label_of(UnitCustomer, "start_date"), clean.date(), variants=("入住日期", "起租日期"),
                  example=None),
        )

    @staticmethod
    def identity(values: dict[str, Any]) -> tuple | None:
        """Who the row's customer is: its 编号, else 身份证号, else 手机号 + 姓名."""
        project = values.get("project_id", values.get("project") or "")
        if values.get("id") is not None:
            return ("id", values["id"])
        if values.get("id_number") not in (None, MASKED):
            return ("idn", project, values["id_number"])
        if values.get("phone") not in (None, MASKED) and values.get("name"):
            return ("tel", project, values["phone"], values["name"])
        return None

    @staticmethod
    def identities(values: list[dict[str, Any]], projects: Iterable[Any]) -> list[tuple | None]:
        """:meth:`identity` of each row's ``values`` (its project from ``projects``), column by column: a whole
        file passes here, and a call per row costs more than the comparisons."""
        get = dict.get
        return [("id", i) if i is not None
                else ("idn", p, n) if n is not None and n is not MASKED
                else ("tel", p, ph, nm) if ph is not None and ph is not MASKED and nm
                else None
                for i, p, n, ph, nm in zip(map(get, values, repeat("id")), projects, map(get, values, repeat("id_number")),
                                           map(get, values, repeat("phone")), map(get, values, repeat("name")),
                                           strict=True)]

    def row_key(self, row: Row) -> tuple | None:
        who = self.identity(row.values)
        if who is None:
            return None
        return (*who, _unit_key(row.values) or "", row.values.get("relation") or UnitRelation.OWNER)

    def row_keys(self, rows: list[Row]) -> list[tuple | None]:
        """:meth:`row_key` of every row, column by column (nested, not spread: the same rows compare equal) — or,
        where no customer is on two rows, the customers' identities alone: no two rows can then be alike."""
        values = [r.values for r in rows]
        get = dict.get
        projects = [p if p is not None else (name or "") for p, name in
                    zip(map(get, values, repeat("project_id")), map(get, values, repeat("project")), strict=True)]
        whos = self.identities(values, projects)
        if len(set(whos)) + max(whos.count(None) - 1, 0) == len(whos):
            return whos
        building_key, room_key, owner = clean.building_key, clean.room_key, UnitRelation.OWNER
        units = [(building_key(b), room_key(r)) if b and r else u or "" for b, r, u in
                 zip(map(get, values, repeat("building")), map(get, values, repeat("room_no")),
                     map(get, values, repeat("unit")), strict=True)]
        return [None if who is None else (who, unit, relation or owner) for who, unit, relation in
                zip(whos, units, map(get, values, repeat("relation")), strict=True)]

    def describe_key(self, row: Row) -> str:
        v = row.values
        unit = v.get("unit") or (f"{v['building']}-{v['room_no']}" if v.get("building") and v.get("room_no") else "")
        return " / ".join(p for p in (unit, v.get("name") or "", shown(v.get("relation") or UnitRelation.OWNER)) if p)

    def resolve(self, rows: list[Row]) -> None:
        values = [r.values for r in rows]
        whos = self.identities(values, map(itemgetter("project_id"), values))
        for v, who in zip(values, whos, strict=True):
            v["who"] = who
        if None in whos:
            for row, who in zip(rows, whos, strict=True):
                if who is None:
                    row.fail(self.label("id_number"), "", "身份证号或手机号至少填写一项（用于识别客户）")
        if len(set(whos)) != len(whos):  # a customer on several rows: blanks are 同上, before the rows are compared
            self._same_as_above(rows, whos)
        rows = standing(rows)
        self.refs = UnitRefs(self.session, {r.values["project_id"] for r in rows})
        _resolve_units(self, rows, self.refs, required=False)

    def _same_as_above(self, rows: list[Row], whos: list[tuple | None]) -> None:
        """The rows' blank cells of a customer on several rows take its other rows' value (:func:`same_as_above`);
        a second, different value is refused on its row, naming the row that gave the first."""
        values = [r.values for r in rows]
        for key in self.columns:
            if not any(key in v for v in values):
                continue  # a column the file does not bring
            column = [v.get(key) for v in values]
            for i, j in same_as_above(whos, column):
                rows[i].fail(self.label(key), column[i], f"与第{rows[j].number}行为同一客户，但{self.label(key)}不一致"
                                                         f"（本行为「{shown(column[i])}」，第{rows[j].number}行为「{shown(column[j])}」）")
            for v, value in zip(values, column, strict=True):
                if key in v or value is not None:
                    v[key] = value

    def find(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        table = Customer.__table__
        projects = sorted({r.values["project_id"] for r in rows})
        if not self.session.scalar(select(exists().where(table.c.project_id.in_(projects)))):
            return {}  # a new project's file: its rows are not walked to look up customers none of which exist
        # Only the columns the file brings are compared (an absent column leaves the stored value as it is).
        present = _present(rows) - {"id_number", "phone", "name"}  # those three identify the customer
        wanted = [table.c.id, table.c.project_id, table.c.id_number, table.c.phone, table.c.name,
                  *(table.c[c] for k, c in self.columns.items() if k in present)]

        def stored(column, values) -> list[dict[str, Any]]:
            return _read_keyed(self.session, wanted, table.c.project_id.in_(projects), column, values)

        numbers = {r.values["id_number"] for r in rows if r.values.get("id_number") not in (None, MASKED)}
        by_idn = {("idn", rec["project_id"], rec["id_number"]): rec for rec in stored(table.c.id_number, numbers)}
        found = {}
        by_phone = []
        # By phone + name: a customer without an ID number, or first registered without one. Only the phones of
        # the rows not found by ID number are looked up; when none was (a file of new customers), every row's
        # phone, taken without asking each row again — and with no customer found by phone, the rows are not walked.
        if not by_idn:
            by_phone = [r for r in rows if r.values.get("phone") not in (None, MASKED)]
        else:
            for row in rows:
                who = row.values["who"]
                rec = by_idn.get(who) if who[0] == "idn" else None
                if rec is not None:
                    found[id(row)] = rec
                elif row.values.get("phone") not in (None, MASKED):
                    by_phone.append(row)
        phones = {r.values["phone"] for r in by_phone}
        by_tel = {("tel", rec["project_id"], rec["phone"], rec["name"]): rec for rec in stored(table.c.phone, phones)}
        if not by_tel:
            return found
        for row in by_phone:
            rec = by_tel.get(("tel", row.values["project_id"], row.values["phone"], row.values["name"]))
            if rec is not None:
                found[id(row)] = rec
        return found

    def as_imported(self, rows: list[Row]) -> bool:
        named = [r for r in rows if r.values.get("unit")]
        if not named:
            return True
        refs = UnitRefs(self.session, {r.values["project_id"] for r in named})
        parts = [refs.split(r.values["project_id"], r.values["unit"]) for r in named]
        if None in parts:
            return False
        for row, (building, room) in zip(named, parts, strict=True):
            row.values["building"], row.values["room_no"] = building, room
        return True

    def check(self, rows: list[Row]) -> None:
        super().check(rows)
        rows = standing(rows)
        # One customer over several rows: the first row speaks for the customer, the others must agree.
        for row in rows:
            if row.target_id:
                row.values["who"] = ("id", row.target_id)
        whos = list(map(itemgetter("who"), map(attrgetter("values"), rows)))
        if len(set(whos)) == len(whos):  # each customer on one row (told in C): every row leads
            self.leads = set(map(id, rows))
            self._check_links(rows)
            return
        first: dict[tuple, Row] = {}
        lead_of = first.setdefault
        for row in rows:
            if row.target_id:
                row.values["who"] = who = ("id", row.target_id)
            else:
                who = row.values["who"]
            lead = lead_of(who, row)
            if lead is row:
                continue
            for key in self.columns:
                if key in row.values and key in lead.values and row.values[key] != lead.values[key]:
                    row.fail(self.label(key), row.values[key], f"与第{lead.number}行为同一客户，但{self.label(key)}不一致")
            if row.ok and row.outcome is not Outcome.NEW:
                row.outcome = Outcome.UNCHANGED
                row.changes = None  # the first row carries the customer's changes
        self.leads = {id(r) for r in first.values()}
        self._check_links(standing(rows))

    def _check_links(self, rows: list[Row]) -> None:
        customers = {r.target_id for r in rows if r.target_id}
        links: dict[tuple[int, int, str], dict[str, Any]] = {}
        table = UnitCustomer.__table__
        present = _present(rows)
        self.relinked_columns = {k: c for k, c in self.link_columns.items() if k in present}
        wanted = [table.c.id, table.c.unit_id, table.c.customer_id, table.c.relation,
                  *(table.c[c] for c in self.relinked_columns.values())]
        mine = table.c.customer_id.in_(select(Customer.id).where(
            Customer.project_id.in_(sorted({r.values["project_id"] for r in rows}))))
        # a blank 关系 (「不填为业主」 for a new link) names the customer's one link to the unit, whatever its 关系
        only: dict[tuple[int, int], dict[str, Any] | None] = {}
        for link in _read_keyed(self.session, wanted, mine, table.c.customer_id, customers):
            links[(link["unit_id"], link["customer_id"], link["relation"])] = link
            pair = (link["unit_id"], link["customer_id"])
            only[pair] = None if pair in only else link
        relinked = list(self.relinked_columns.items())
        owner, new_, update, unchanged = UnitRelation.OWNER, Outcome.NEW, Outcome.UPDATE, Outcome.UNCHANGED
        for row in rows:
            v = row.values
            unit_id = v.get("unit_id")
            if unit_id is None:
                continue
            relation = v.get("relation")
            link = links.get((unit_id, row.target_id, relation or owner)) if row.target_id else None
            if link is None and relation is None and row.target_id:
                link = only.get((unit_id, row.target_id))
            if link is None:
                if row.outcome is not update:
                    row.outcome = new_
                v["link"] = "new"
                continue
            v["link_id"], v["link_stored"] = link["id"], link
            if not relinked:
                continue
            changes = {k: (link[c], v[k]) for k, c in relinked if v.get(k) is not None and link[c] != v[k]}
            if changes:
                v["link_changes"] = changes
                row.changes = {**(row.changes or {}), **changes}
                if row.outcome is unchanged:
                    row.outcome = update

    def check_columns(self, columns: Columns) -> Checked | None:
        """A new project's customers file (the first import of its owners: no customer stored in the project yet),
        checked column by column — one project, no 编号 and no 房屋 cell, every customer identified (身份证号, else
        手机号 + 姓名), one on several rows only where they agree (:meth:`_leads`), nothing masked, every 楼栋 + 房号
        a unit of the project: every customer is then new and every row naming a unit a new link, as the rows'
        check would find them. Anything else —
        and every file of a project with customers — is checked row by row (None)."""
        values = columns.values
        n = len(columns)
        if any(v is not None for v in values.get("unit", ())):
            return None  # 「1栋-101」 cells are split row by row
        if any(any(map(operator.is_, values.get(k, ()), repeat(MASKED))) for k in ("phone", "id_number")):
            return None  # a new customer's masked value is refused on its row
        project_id = self.project_of_columns(values)
        if project_id is None or self.session.scalar(select(exists().where(Customer.project_id == project_id))):
            return None
        # each row's customer: its 身份证号, else its 手机号 + 姓名 (a row with neither is refused on its row)
        numbers, phones, names = (values.get(k) or [None] * n for k in ("id_number", "phone", "name"))
        if None in numbers:
            if any(phone is None or not name for number, phone, name in zip(numbers, phones, names, strict=True)
                   if number is None):
                return None
            whos = [number if number is not None else (phone, name)
                    for number, phone, name in zip(numbers, phones, names, strict=True)]
        else:
            whos = numbers  # the usual file: every customer by 身份证号
        buildings, rooms = values.get("building") or [None] * n, values.get("room_no") or [None] * n
        leads = None if len(set(whos)) == n else self._leads(values, whos, buildings, rooms)
        if leads is False:
            return None
        # the rows naming a unit (楼栋 and 房号 both filled): in the usual file, every row
        if all(buildings) and all(rooms):
            linked = list(range(n))
        else:
            linked = [i for i in range(n) if buildings[i] and rooms[i]]
            buildings, rooms = [buildings[i] for i in linked], [rooms[i] for i in linked]
        self.refs = UnitRefs(self.session, {project_id})
        units = self.refs.ids(project_id, buildings, rooms)
        if None in units:
            return None  # an unknown (or ambiguous) unit is named on its row
        return NewCustomers({project_id}, project_id, values, n, linked, units, leads)

    def _leads(self, values: dict[str, list[Any]], whos: list[Any], buildings: list[Any],
               rooms: list[Any]) -> tuple[list[int], list[int]] | bool:
        """A customer on several rows (one per unit): (the first row of each customer, each row's first row) where
        the rows' check finds nothing to say — no row repeating another (the same customer, unit and 关系) and each
        later row agreeing with the first on the customer's columns — else False. A customer's rows must also agree
        on the 项目 cell: the repeats are told by the cell, the check by the project it names."""
        first: dict[Any, int] = {}
        lead_of = [first.setdefault(who, i) for i, who in enumerate(whos)]
        later = [i for i, lead in enumerate(lead_of) if lead != i]
        column = values.get("project")
        if column is not None and any(column[i] != column[lead_of[i]] for i in later):
            return False
        # blanks of a customer's rows are 同上 (as the rows' check fills them); a second value is refused there
        several = sorted({*later, *(lead_of[i] for i in later)})
        group = [whos[i] for i in several]
        for key in self.columns:
            column = values.get(key)
            if column is None:
                continue
            part = [column[i] for i in several]
            if same_as_above(group, part):
                return False
            for i, value in zip(several, part, strict=True):
                column[i] = value
        owner, building_key, room_key = UnitRelation.OWNER, clean.building_key, clean.room_key
        relations = values.get("relation") or [None] * len(whos)
        repeats = [(who, (building_key(b), room_key(r)) if b and r else "", relation or owner)
                   for who, b, r, relation in zip(whos, buildings, rooms, relations, strict=True)]
        if len(set(repeats)) != len(repeats):
            return False
        return sorted(first.values()), lead_of

    def write_columns(self, checked: Checked, batch: ImportBatch) -> dict[str, int]:
        """The new customers and links of :meth:`check_columns`, written as :meth:`write` writes them (the same
        statements, values and audit rows), column by column."""
        assert isinstance(checked, NewCustomers)
        values, n, project_id = checked.values, checked.count, checked.project_id
        # one new customer per lead row (each row, unless a customer fills several)
        leads = checked.leads[0] if checked.leads else None
        count = n if leads is None else len(leads)
        columns = [[project_id] * count]
        for key in self.columns:
            column, default = values.get(key) or [None] * n, self._defaults.get(key)
            if leads is not None:
                column = [column[i] for i in leads]
            columns.append(column if default is None or None not in column else [default if x is None else x for x in column])
        names = ["project_id", *self.columns.values(), "batch_id"]
        back = insert_columns(self.session, Customer.__table__, names, [*columns, [batch.id] * count],
                              returning=["id", "project_id", "id_number", "phone", "name"])
        made = list(map(itemgetter(0), back))
        if not (list(map(itemgetter(2), back)) == columns[names.index("id_number")]
                and list(map(itemgetter(3), back)) == columns[names.index("phone")]
                and list(map(itemgetter(4), back)) == columns[names.index("name")]):
            # not in the order given: each new customer's id matched back by its identity, as write_new does
            by_identity = {(number, phone, name): i for i, _, number, phone, name in back}
            made = list(map(by_identity.__getitem__, zip(*(columns[names.index(k)] for k in ("id_number", "phone", "name")),
                                                         strict=True)))
        if leads is not None:  # each row's customer: its lead row's
            of_lead = dict(zip(leads, made, strict=True))
            made = list(map(of_lead.__getitem__, checked.leads[1]))
        self._record_created(Customer, {project_id: count}, batch)
        linked, owner = checked.linked, UnitRelation.OWNER
        relations, primaries = values.get("relation") or [None] * n, values.get("is_primary") or [None] * n
        starts = values.get("start_date") or [None] * n
        everyone = len(linked) == n
        pick = (lambda column: column) if everyone else (lambda column: [column[i] for i in linked])
        insert_columns(self.session, UnitCustomer.__table__,
                       ["project_id", "unit_id", "customer_id", "relation", "is_primary", "start_date", "batch_id"], [
                           [project_id] * len(linked), checked.units, pick(made),
                           [relation or owner for relation in pick(relations)],
                           [True if primary is None else primary for primary in pick(primaries)],
                           pick(starts), [batch.id] * len(linked),
                       ])
        self._record_created(UnitCustomer, {project_id: len(linked)} if linked else {}, batch)
        return {"customers_inserted": count, "customers_updated": 0, "links_inserted": len(linked), "links_updated": 0}

    def write(self, rows: list[Row], batch: ImportBatch) -> dict[str, int]:
        title = f"导入{self.title}（批次 #{batch.id}）"
        leads, new_ = self.leads, Outcome.NEW
        new_customers = [r for r in rows if r.target_id is None and r.outcome is new_ and id(r) in leads]
        changed = [r for r in rows if r.target_id and id(r) in leads
                   and any(k in self.columns for k in (r.changes or {}))]
        made = self.write_new(new_customers, batch)
        customer_of = dict(zip(map(itemgetter("who"), map(attrgetter("values"), new_customers)), made, strict=True))
        self._record_created(Customer, Counter(r.values["project_id"] for r in new_customers), batch)
        self.write_updates(changed)
        audit_updates(self.session, Customer, self.changed_columns(changed), title)
        new_links = [r for r in rows if r.values.get("link") == "new"]
        # The links column by column (a whole project's file: no tuple per link); a link's customer is the row's
        # own, or the one this import just created for the row's identity.
        values = [r.values for r in new_links]
        get = dict.get
        customers = [target or customer_of[who] for target, who in
                     zip(map(attrgetter("target_id"), new_links), map(itemgetter("who"), values), strict=True)]
        owner = UnitRelation.OWNER
        link_columns = [
            list(map(itemgetter("project_id"), values)), list(map(itemgetter("unit_id"), values)), customers,
            [relation or owner for relation in map(get, values, repeat("relation"))],
            [True if primary is None else primary for primary in map(get, values, repeat("is_primary"))],
            list(map(get, values, repeat("start_date"))), [batch.id] * len(values),
        ]
        insert_columns(self.session, UnitCustomer.__table__,
                       ["project_id", "unit_id", "customer_id", "relation", "is_primary", "start_date", "batch_id"],
                       link_columns)
        self._record_created(UnitCustomer, Counter(r.values["project_id"] for r in new_links), batch)
        relinked = [r for r in rows if r.values.get("link_changes")]
        # The link columns the file brings; a blank cell keeps what is stored.
        update_rows(self.session, UnitCustomer.__table__, list(self.relinked_columns.values()), [
            (r.values["link_id"], *(r.values[k] if r.values.get(k) is not None else r.values["link_stored"][c]
                                    for k, c in self.relinked_columns.items()))
            for r in relinked
        ])
        audit(self.session, UnitCustomer, [r.values["link_id"] for r in relinked], AuditKind.UPDATE, title,
              list(self.link_columns.values()))
        return {"customers_inserted": len(made), "customers_updated": len(changed),
                "links_inserted": len(new_links), "links_updated": len(relinked)}

    def _record_created(self, model, created: dict[int, int], batch: ImportBatch) -> None:
        """The records of ``model`` the batch created, ``created`` of each project: one 新增 audit row per project
        (who, the file, how many), not one per record — each carries the batch, by which its 变更记录 lists that row
        (:func:`_imported_trail`). An import updating a record still writes that record's own row, old → new."""
        for project_id, count in sorted(created.items()):
            record_batch(self.session, kind=AuditKind.INSERT, table=model.__tablename__, batch_id=batch.id, count=count,
                         project_id=project_id, actor=self.actor, details={"file_name": batch.file_name},
                         summary=f"导入{model.__label__} {count} 条（批次 #{batch.id}）")

    def write_new(self, rows: list[Row], batch: ImportBatch) -> list[int]:
        # One statement per customer would be slow; RETURNING keeps the order of the rows here, so each new
        # customer's id is matched back by identity columns rather than trusted by position.
        columns = ["project_id", *self.columns.values(), "batch_id"]
        back = insert_columns(self.session, Customer.__table__, columns, [*self.new_columns(rows), [batch.id] * len(rows)],
                              returning=["id", "project_id", "id_number", "phone", "name"])
        # each returned customer's identity as the rows hold it, made in one comprehension, matched in C
        by_identity = dict(zip([("idn", p, number) if number else ("tel", p, phone, name)
                                for _, p, number, phone, name in back], map(itemgetter(0), back), strict=True))
        return list(map(by_identity.__getitem__, map(itemgetter("who"), map(attrgetter("values"), rows))))


def same_as_above(whos: list[Any], column: list[Any]) -> list[tuple[int, int]]:
    """一位业主多套房: users fill a customer's details on one of its rows and leave them blank on the others, meaning
    同上. In place, each blank (None) cell of a customer (``whos``: each row's customer) takes the value given on
    another of its rows. Returns (row, row that gave the first value) of each second, different value."""
    given: dict[Any, int] = {}
    clashes = []
    for i, (who, value) in enumerate(zip(whos, column, strict=True)):
        if who is None or value is None:
            continue
        first = given.setdefault(who, i)
        if first != i and column[first] != value:
            clashes.append((i, first))
    for i, who in enumerate(whos):
        if column[i] is None and who in given:
            column[i] = column[given[who]]
    return clashes


@dataclass(frozen=True)
class NewCustomers(Checked):
    """A file of new customers :meth:`CustomerImporter.check_columns` checked: its columns, the rows (by index)
    naming a unit with their units' ids, and where a customer fills several rows which row leads."""

    project_id: int
    values: dict[str, list[Any]]
    count: int
    linked: list[int]
    units: list[int | None]
    # where a customer fills several rows: (the first row of each customer, each row's first row)
    leads: tuple[list[int], list[int]] | None = None


def _imported_trail(model) -> Callable[[int], ColumnElement[bool]]:
    """A record an import created: its 变更记录 also lists the batch's one 新增 row for its project."""
    def link(record_id: int) -> ColumnElement[bool]:
        mine = model.__table__.c
        return and_(
            AuditLog.table_name == model.__tablename__, AuditLog.kind == AuditKind.INSERT,
            AuditLog.record_id == select(literal("batch:") + cast(mine.batch_id, String))
            .where(mine.id == record_id).scalar_subquery(),
            AuditLog.project_id == select(mine.project_id).where(mine.id == record_id).scalar_subquery(),
        )
    return link


TRAIL_LINKS.update({model.__tablename__: _imported_trail(model) for model in (Customer, UnitCustomer)})


KINDS: dict[str, type[RecordImporter]] = {
    cls.kind: cls for cls in (UnitImporter, CustomerImporter, ParkingImporter, StaffImporter, BillImporter, PaymentImporter)
}
IMPORT_TITLES.update({kind: cls.title for kind, cls in KINDS.items()})


def importer_for(session: Session, kind: str, *, actor: Actor, project_id: int | None = None) -> RecordImporter:
    cls = KINDS.get(kind)
    if cls is None:
        raise Refused(f"不支持的导入类型：{kind}（可选：{'、'.join(KINDS)}）")
    if project_id is not None and not actor.can_see(project_id):
        raise NotPermitted("无权向该项目导入数据", ids=[project_id])
    return cls(session, actor, project_id=project_id)


@as_actor
def import_records(
    session: Session,
    *,
    kind: str,
    data: bytes,
    file_name: str,
    actor: Actor,
    project_id: int | None = None,
    dry_run: bool = False,
    limits: Limits = LIMITS,
    progress: Progress | None = None,
    unmask: bool = False,
) -> ImportResult:
    """Preview (``dry_run``) or upsert a workbook (or CSV) of ``kind`` records: units, customers, parking,
    staff, bills, payments. Phone and 身份证号 values in the preview are masked unless ``unmask`` (the caller
    decides as for an export: the role's 查看完整敏感信息 grant)."""
    importer = importer_for(session, kind, actor=actor, project_id=project_id)
    importer.unmask = unmask
    return run_import(session, importer, data=data, file_name=file_name, dry_run=dry_run, limits=limits,
                      progress=progress)
