"""巡查: the butlers' and customer-service staff's patrols (000 计划4 「将客服人员的日常巡查工作落到实处」; 002 楼宇
「负责楼宇的每日巡查，发现问题及时协调相关部门处理」, 「对楼宇水、电、气、通讯、有线电视等设施的巡视检查」). A route
carries its checklist; a patrol records each item's result and what was found; a finding becomes a 客户诉求 (渠道
巡查) in one step and keeps the link."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, relationship

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    VersionedMixin,
    brief,
    col,
    display,
    enum_type,
    loaded,
)
from .service import RequestCategory

if TYPE_CHECKING:
    from .auth import User
    from .org import Building, Project, Staff, Unit
    from .service import ServiceRequest


class PatrolFrequency(LabeledEnum):
    DAILY = "daily", "每日"
    WEEKLY = "weekly", "每周"
    MONTHLY = "monthly", "每月"


class CheckResult(LabeledEnum):
    OK = "ok", "正常"
    ABNORMAL = "abnormal", "异常"
    SKIPPED = "skipped", "未查"


class FindingStatus(LabeledEnum):
    OPEN = "open", "待处理"
    REPORTED = "reported", "已报事"
    RESOLVED = "resolved", "现场已处理"


class PatrolRoute(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """巡查路线: a round a butler or the desk walks (a building's floors, the car park, the public areas), how often,
    and its checklist (检查项)."""

    __tablename__ = "patrol_route"
    __label__ = "巡查路线"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    name: Mapped[str] = col("路线名称", String(64))
    building_id: Mapped[int | None] = col("楼栋", ForeignKey("building.id", ondelete="SET NULL"), index=True,
                                          doc="楼宇巡查所属楼栋；公共区域可不填")
    frequency: Mapped[PatrolFrequency] = col("频次", enum_type(PatrolFrequency), default=PatrolFrequency.DAILY)
    description: Mapped[str] = col("巡查范围", Text, default="")
    active: Mapped[bool] = col("启用", Boolean, default=True, index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    building: Mapped[Building | None] = relationship(info={"label": "楼栋"})
    items: Mapped[list[PatrolCheckItem]] = relationship(
        back_populates="route", order_by="PatrolCheckItem.seq", info={"label": "检查项"})


class PatrolCheckItem(IdMixin, TimestampMixin, VersionedMixin, Base):
    """检查项: one line of a route's checklist — what is looked at and what counts as normal. An item no longer
    checked is switched off, not deleted: past patrols keep their results."""

    __tablename__ = "patrol_check_item"
    __label__ = "检查项"
    __table_args__ = (
        UniqueConstraint("route_id", "seq"),
        CheckConstraint("seq > 0", name="seq_positive", info={"message": "{seq}须大于 0"}),
    )
    __display_loads__ = ("route",)

    route_id: Mapped[int] = col("巡查路线", ForeignKey("patrol_route.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = col("序号", Integer)
    item: Mapped[str] = col("检查项目", String(128), doc="如：消防通道是否畅通")
    standard: Mapped[str] = col("检查标准", String(255), default="")
    active: Mapped[bool] = col("启用", Boolean, default=True)

    route: Mapped[PatrolRoute] = relationship(back_populates="items", info={"label": "巡查路线"})

    def __str__(self) -> str:
        return display(loaded(self, "route"), f"{self.seq}.", self.item)


class Patrol(IdMixin, ProjectScoped, TimestampMixin, Base):
    """巡查记录: one walk of a route by a member of staff — when, the checklist's results, what was found."""

    __tablename__ = "patrol"
    __label__ = "巡查记录"
    __table_args__ = (
        Index(None, "project_id", "started_at"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_started",
                        info={"message": "{ended_at}不能早于{started_at}"}),
    )
    __display_loads__ = ("route", "patroller")

    route_id: Mapped[int] = col("巡查路线", ForeignKey("patrol_route.id", ondelete="RESTRICT"), index=True)
    patroller_id: Mapped[int] = col("巡查人", ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    started_at: Mapped[dt.datetime] = col("开始时间", UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = col("结束时间", UTCDateTime())
    abnormal: Mapped[int] = col("异常项数", Integer, default=0)
    summary: Mapped[str] = col("巡查情况", Text, default="")
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(info={"label": "项目"})
    route: Mapped[PatrolRoute] = relationship(info={"label": "巡查路线"})
    patroller: Mapped[Staff] = relationship(info={"label": "巡查人"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})
    checks: Mapped[list[PatrolCheck]] = relationship(back_populates="patrol", info={"label": "检查结果"})
    findings: Mapped[list[PatrolFinding]] = relationship(back_populates="patrol", info={"label": "巡查发现"})

    def __str__(self) -> str:
        return display(loaded(self, "route"), loaded(self, "patroller"), f"#{self.id}")


class PatrolCheck(IdMixin, Base):
    """检查结果: a checklist item's result on one patrol."""

    __tablename__ = "patrol_check"
    __label__ = "检查结果"
    __table_args__ = (UniqueConstraint("patrol_id", "item_id"),)
    __display_loads__ = ("item",)

    patrol_id: Mapped[int] = col("巡查记录", ForeignKey("patrol.id", ondelete="CASCADE"))
    item_id: Mapped[int] = col("检查项", ForeignKey("patrol_check_item.id", ondelete="RESTRICT"), index=True)
    result: Mapped[CheckResult] = col("结果", enum_type(CheckResult), index=True)
    note: Mapped[str] = col("说明", String(255), default="")

    patrol: Mapped[Patrol] = relationship(back_populates="checks", info={"label": "巡查记录"})
    item: Mapped[PatrolCheckItem] = relationship(info={"label": "检查项"})

    def __str__(self) -> str:  # 3. 消防通道是否畅通：异常（堆放杂物）
        item = loaded(self, "item")
        text = f"{item.seq}. {item.item}：" if item is not None else ""
        return text + (self.result.label if self.result else "") + (f"（{self.note}）" if self.note else "")


class PatrolFinding(IdMixin, ProjectScoped, TimestampMixin, Base):
    """巡查发现: a problem seen on a patrol — where and what; settled on the spot, or made a 客户诉求 (报事) that
    the usual dispatch takes on, linked here."""

    __tablename__ = "patrol_finding"
    __label__ = "巡查发现"
    __table_args__ = (UniqueConstraint("request_id"), Index(None, "project_id", "status"))
    __display_loads__ = ("unit",)

    patrol_id: Mapped[int] = col("巡查记录", ForeignKey("patrol.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = col("检查项", ForeignKey("patrol_check_item.id", ondelete="SET NULL"))
    location: Mapped[str] = col("位置", String(128), default="")
    unit_id: Mapped[int | None] = col("房屋", ForeignKey("unit.id", ondelete="SET NULL"), index=True,
                                      doc="问题在住户房屋内时填写")
    category: Mapped[RequestCategory] = col("问题类别", enum_type(RequestCategory), default=RequestCategory.OTHER)
    description: Mapped[str] = col("问题描述", Text)
    status: Mapped[FindingStatus] = col("处理状态", enum_type(FindingStatus), default=FindingStatus.OPEN, index=True)
    request_id: Mapped[int | None] = col("报事单", ForeignKey("service_request.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(info={"label": "项目"})
    patrol: Mapped[Patrol] = relationship(back_populates="findings", info={"label": "巡查记录"})
    item: Mapped[PatrolCheckItem | None] = relationship(info={"label": "检查项"})
    unit: Mapped[Unit | None] = relationship(info={"label": "房屋"})
    request: Mapped[ServiceRequest | None] = relationship(info={"label": "报事单"})

    def __str__(self) -> str:
        return display(f"巡查发现#{self.id}", loaded(self, "unit") or self.location, brief(self.description))
