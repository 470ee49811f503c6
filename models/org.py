"""The organisation: branch → project → phase → building → unit, parking spaces, departments, staff."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, relationship, validates

from .base import (
    SORT_KEY_LENGTH,
    Base,
    IdMixin,
    LabeledEnum,
    ProjectScoped,
    TimestampMixin,
    VersionedMixin,
    col,
    enum_type,
    loaded,
    natural_sort_key,
    sort_key_of,
    trigram_indexes,
)


class ProjectKind(LabeledEnum):
    RESIDENTIAL = "residential", "住宅"
    COMMERCIAL = "commercial", "商业"
    OFFICE = "office", "写字楼"
    MIXED = "mixed", "综合体"


class UnitKind(LabeledEnum):
    HOUSE = "house", "住宅"
    SHOP = "shop", "商铺"
    OFFICE = "office", "办公"


class UnitStatus(LabeledEnum):
    VACANT = "vacant", "空置"
    HANDED_OVER = "handed_over", "已交房"
    DECORATING = "decorating", "装修中"
    OCCUPIED = "occupied", "已入住"


class DepartmentKind(LabeledEnum):
    SERVICE = "service", "客服部"
    ENGINEERING = "engineering", "工程部"
    SECURITY = "security", "安保部"
    ENVIRONMENT = "environment", "环境管理部"
    GENERAL = "general", "综合管理部"
    DEVELOPER = "developer", "开发公司工程部"
    VENDOR = "vendor", "外包方"


class StaffPosition(LabeledEnum):
    FRONT_DESK = "front_desk", "前台客服"
    BUTLER = "butler", "楼宇管家"
    CASHIER = "cashier", "收费员"
    SUPERVISOR = "supervisor", "客服主管"
    MANAGER = "manager", "客服经理"
    ENGINEER = "engineer", "维修工"
    GUARD = "guard", "秩序维护员"
    CLEANER = "cleaner", "保洁员"
    OTHER = "other", "其他"


class Branch(IdMixin, TimestampMixin, VersionedMixin, Base):
    """分公司: groups several projects; its staff see all of them."""

    __tablename__ = "branch"
    __label__ = "分公司"

    name: Mapped[str] = col("名称", String(64), unique=True)
    company: Mapped[str] = col("所属公司", String(128), default="")

    projects: Mapped[list[Project]] = relationship(back_populates="branch", info={"label": "项目"})


class Project(IdMixin, TimestampMixin, VersionedMixin, Base):
    """项目 (小区/大厦): the unit of data ownership — a project's staff see only its records."""

    __tablename__ = "project"
    __label__ = "项目"

    branch_id: Mapped[int] = col("分公司", ForeignKey("branch.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = col("项目名称", String(64), unique=True)
    kind: Mapped[ProjectKind] = col("类型", enum_type(ProjectKind), default=ProjectKind.RESIDENTIAL)
    address: Mapped[str] = col("地址", String(200), default="")
    phone: Mapped[str] = col("服务电话", String(32), default="")
    company: Mapped[str] = col("物业公司", String(128), default="", doc="打印催费函等文书时的落款单位")

    branch: Mapped[Branch] = relationship(back_populates="projects", info={"label": "分公司"})


class Phase(IdMixin, ProjectScoped, VersionedMixin, Base):
    """期: a construction phase of a project; collection rates are reported per phase."""

    __tablename__ = "phase"
    __label__ = "分期"
    __table_args__ = (UniqueConstraint("project_id", "name"), Index(None, "project_id", "sort_key"))

    name: Mapped[str] = col("分期名称", String(32), info={"sort_by": "sort_key"})
    sort_key: Mapped[str] = col("分期排序", String(SORT_KEY_LENGTH), default=sort_key_of("name"), server_default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})

    @validates("name")
    def _keep_sort_key(self, _key: str, value: str) -> str:  # 一期, 二期 … 十期, 十一期
        self.sort_key = natural_sort_key(value)
        return value


class Building(IdMixin, ProjectScoped, VersionedMixin, Base):
    """楼栋, with the butler (楼宇管家) who looks after it."""

    __tablename__ = "building"
    __label__ = "楼栋"
    __table_args__ = (UniqueConstraint("project_id", "name"), Index(None, "project_id", "sort_key"))

    phase_id: Mapped[int | None] = col("分期", ForeignKey("phase.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = col("楼栋", String(32), info={"sort_by": "sort_key"})
    sort_key: Mapped[str] = col("楼栋排序", String(SORT_KEY_LENGTH), default=sort_key_of("name"), server_default="")
    floors: Mapped[int | None] = col("层数", Integer)
    butler_id: Mapped[int | None] = col("楼宇管家", ForeignKey("staff.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    phase: Mapped[Phase | None] = relationship(info={"label": "分期"})
    butler: Mapped[Staff | None] = relationship(info={"label": "楼宇管家"})

    @validates("name")
    def _keep_sort_key(self, _key: str, value: str) -> str:  # a renamed building sorts by its new name
        self.sort_key = natural_sort_key(value)
        return value


class Unit(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """房屋/商铺: unique by project + building + room number; bills, requests and visits hang off it."""

    __tablename__ = "unit"
    __label__ = "房屋"
    __table_args__ = (
        UniqueConstraint("project_id", "building_id", "room_no"),
        *trigram_indexes("unit", "room_no"),
        CheckConstraint("area >= 0", name="area_nonneg", info={"message": "{area}不能为负数"}),
        Index(None, "building_id", "sort_key"),
    )

    building_id: Mapped[int] = col("楼栋", ForeignKey("building.id", ondelete="RESTRICT"), index=True)
    room_no: Mapped[str] = col("房号", String(32), index=True, info={"sort_by": "sort_key"})
    sort_key: Mapped[str] = col("房号排序", String(SORT_KEY_LENGTH), default=sort_key_of("room_no"), server_default="")
    kind: Mapped[UnitKind] = col("房屋类型", enum_type(UnitKind), default=UnitKind.HOUSE)
    status: Mapped[UnitStatus] = col("房屋状态", enum_type(UnitStatus), default=UnitStatus.VACANT, index=True)
    area: Mapped[Decimal] = col("建筑面积(㎡)", Numeric(10, 2), default=Decimal("0"))
    handover_date: Mapped[dt.date | None] = col("交房日期", Date)
    move_in_date: Mapped[dt.date | None] = col("入住日期", Date)
    butler_id: Mapped[int | None] = col("责任管家", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    collector_id: Mapped[int | None] = col(
        "责任收费员", ForeignKey("staff.id", ondelete="SET NULL"), index=True, doc="收费责任到人"
    )
    key_tenant: Mapped[bool] = col("主力店/功能店", Boolean, default=False, doc="重点商户：催缴单独跟进")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    building: Mapped[Building] = relationship(info={"label": "楼栋"})
    butler: Mapped[Staff | None] = relationship(foreign_keys=[butler_id], info={"label": "责任管家"})
    collector: Mapped[Staff | None] = relationship(foreign_keys=[collector_id], info={"label": "责任收费员"})

    @validates("room_no")
    def _keep_sort_key(self, _key: str, value: str) -> str:
        self.sort_key = natural_sort_key(value)
        return value

    __display_loads__ = ("building",)

    def __str__(self) -> str:
        building = loaded(self, "building")
        return f"{building.name}-{self.room_no}" if building is not None else self.room_no


class ParkingSpace(IdMixin, ProjectScoped, VersionedMixin, Base):
    """车位: rented or owned; billed as 停车费/车位租金."""

    __tablename__ = "parking_space"
    __label__ = "车位"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    code: Mapped[str] = col("车位号", String(32))
    area_name: Mapped[str] = col("区域", String(32), default="")
    unit_id: Mapped[int | None] = col("关联房屋", ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    plate_no: Mapped[str] = col("车牌号", String(16), default="")
    is_rented: Mapped[bool] = col("租用", Boolean, default=False)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "关联房屋"})


class Department(IdMixin, VersionedMixin, Base):
    """部门 a request can be routed to; ``project_id`` empty means a department shared by all projects."""

    __tablename__ = "department"
    __label__ = "部门"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        # a shared one (项目为空) too: a constraint's NULL is never equal to another's, so a second shared 部门 of a
        # name was taken (routing took the first, 派工 listed both). Partial: MariaDB (schema only) has none
        Index("uq_department_shared_name", "name", unique=True, postgresql_where=text("project_id IS NULL"),
              sqlite_where=text("project_id IS NULL")).ddl_if(dialect=("postgresql", "sqlite")),
    )

    project_id: Mapped[int | None] = col("项目", ForeignKey("project.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = col("部门名称", String(64))
    kind: Mapped[DepartmentKind] = col("部门类别", enum_type(DepartmentKind), index=True)
    active: Mapped[bool] = col("启用", Boolean, default=True)

    project: Mapped[Project | None] = relationship(info={"label": "项目"})


class Staff(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """员工: the people who take requests, own buildings, collect fees and are scored monthly."""

    __tablename__ = "staff"
    __label__ = "员工"
    __table_args__ = (UniqueConstraint("project_id", "employee_no"), Index(None, "project_id", "name"),
                      *trigram_indexes("staff", "name"))

    employee_no: Mapped[str] = col("工号", String(32))
    name: Mapped[str] = col("姓名", String(32))
    # an employee's own mobile is personal data as a customer's is (PIPL): masked but for who may see it
    phone: Mapped[str] = col("手机号", String(20), default="", info={"pii": "phone"})
    position: Mapped[StaffPosition] = col("岗位", enum_type(StaffPosition), index=True)
    department_id: Mapped[int | None] = col("部门", ForeignKey("department.id", ondelete="SET NULL"), index=True)
    hired_on: Mapped[dt.date | None] = col("入职日期", Date)
    active: Mapped[bool] = col("在职", Boolean, default=True, index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    department: Mapped[Department | None] = relationship(info={"label": "部门"})
