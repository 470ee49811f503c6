"""登门拜访计划 (002 走回访制度): each month the supervisor plans how many households each member of staff visits,
and the general manager approves the plan; what was done is read from the visits themselves."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, relationship

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    VersionedMixin,
    col,
    display,
    enum_type,
    loaded,
)

if TYPE_CHECKING:
    from .auth import User
    from .org import Project, Staff


class PlanStatus(LabeledEnum):
    DRAFT = "draft", "待审批"
    APPROVED = "approved", "已批准"


class StaffVisitPlan(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """走访计划: how many households a member of staff is to visit in a month, and whom or what to focus on;
    approved by the manager (「主管每月制定登门拜访计划，报总经理批准」)."""

    __tablename__ = "staff_visit_plan"
    __label__ = "走访计划"
    __table_args__ = (
        UniqueConstraint("project_id", "month", "staff_id"),
        CheckConstraint("planned > 0", name="planned_positive", info={"message": "{planned}须大于 0"}),
    )
    __display_loads__ = ("staff",)

    month: Mapped[str] = col("月份", String(7), index=True, doc="YYYY-MM")
    staff_id: Mapped[int] = col("走访人", ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    planned: Mapped[int] = col("计划户数", Integer)
    focus: Mapped[str] = col("重点对象与内容", Text, default="", doc="如：欠费户、投诉户、新入住业主")
    status: Mapped[PlanStatus] = col("状态", enum_type(PlanStatus), default=PlanStatus.DRAFT, index=True)
    planned_by_id: Mapped[int | None] = col("制定人", ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = col("审批人", ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[dt.datetime | None] = col("审批时间", UTCDateTime())

    project: Mapped[Project] = relationship(info={"label": "项目"})
    staff: Mapped[Staff] = relationship(info={"label": "走访人"})
    planned_by: Mapped[User | None] = relationship(foreign_keys=[planned_by_id], info={"label": "制定人"})
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], info={"label": "审批人"})

    def __str__(self) -> str:
        return display(self.month, loaded(self, "staff"), f"{self.planned}户")
