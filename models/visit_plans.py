"""登门拜访计划 (002 走回访制度): each month the supervisor plans how many households each member of staff visits,
and the general manager approves the plan; what was done is read from the visits themselves."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    from .service import Visit


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


class VisitSignoff(IdMixin, ProjectScoped, TimestampMixin, Base):
    """签阅: a supervisor or the manager has read a visit record and signs it, with a remark (「走访记录由主管、经理
    审阅签字」, 002 走回访制度) — once per record, never by whoever made the visit."""

    __tablename__ = "visit_signoff"
    __label__ = "走访签阅"
    __table_args__ = (UniqueConstraint("visit_id"), Index(None, "project_id", "signed_at"))
    __display_loads__ = ("visit",)

    visit_id: Mapped[int] = col("走访记录", ForeignKey("visit.id", ondelete="CASCADE"))
    signed_by_id: Mapped[int | None] = col("签阅人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    signed_at: Mapped[dt.datetime] = col("签阅时间", UTCDateTime())
    comment: Mapped[str] = col("签阅意见", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    visit: Mapped[Visit] = relationship(info={"label": "走访记录"})
    signed_by: Mapped[User | None] = relationship(info={"label": "签阅人"})

    def __str__(self) -> str:
        return display("签阅", loaded(self, "visit"))
