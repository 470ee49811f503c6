"""培训: the department's training — sessions planned at least quarterly (礼仪, 投诉技巧, 巡查, 法规 …), held with
a trainer, and each staff member's attendance and test score (000 §1 §4, 004 (三) 3)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, relationship

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    ProjectScoped,
    TimestampMixin,
    VersionedMixin,
    col,
    display,
    enum_type,
    loaded,
)

if TYPE_CHECKING:
    from .auth import User
    from .org import Project, Staff


class TrainingTopic(LabeledEnum):
    ETIQUETTE = "etiquette", "礼仪礼节"
    COMPLAINT = "complaint", "投诉处理技巧"
    PATROL = "patrol", "巡查"
    LAW = "law", "法律法规"
    BUSINESS = "business", "业务知识"
    SAFETY = "safety", "安全消防"
    OTHER = "other", "其他"


class TrainingStatus(LabeledEnum):
    PLANNED = "planned", "计划"
    HELD = "held", "已实施"
    CANCELLED = "cancelled", "已取消"


class TrainingSession(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """培训: one training of a project's staff — planned for a date, then held with its trainer; the plan of a
    quarter is the sessions planned in it (「每季度至少一次」)."""

    __tablename__ = "training_session"
    __label__ = "培训"
    __table_args__ = (
        CheckConstraint("hours > 0", name="hours_positive", info={"message": "{hours}须大于 0"}),
        Index(None, "project_id", "planned_on"),
    )

    topic: Mapped[TrainingTopic] = col("主题类别", enum_type(TrainingTopic), index=True)
    title: Mapped[str] = col("培训内容", String(128))
    trainer: Mapped[str] = col("培训讲师", String(64), default="")
    planned_on: Mapped[dt.date] = col("计划日期", Date)
    held_on: Mapped[dt.date | None] = col("实施日期", Date)
    hours: Mapped[Decimal] = col("学时", Numeric(4, 1), default=Decimal("1"))
    has_test: Mapped[bool] = col("有考核", Boolean, default=False, doc="笔试或现场考核：登记出勤时填写成绩")
    status: Mapped[TrainingStatus] = col("状态", enum_type(TrainingStatus), default=TrainingStatus.PLANNED, index=True)
    summary: Mapped[str] = col("培训小结", Text, default="")
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(info={"label": "项目"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})

    # 已实施 needs its date (a held training has happened on a day).
    status_requires = {TrainingStatus.HELD: ("held_on",)}

    def __str__(self) -> str:
        return display(self.planned_on, self.title)


class TrainingAttendance(IdMixin, TimestampMixin, VersionedMixin, Base):
    """培训签到: who attended a training and, where it had a test, their score (0–100)."""

    __tablename__ = "training_attendance"
    __label__ = "培训签到"
    __table_args__ = (
        UniqueConstraint("session_id", "staff_id"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range",
                        info={"message": "{score}须在 0–100 之间"}),
        Index(None, "staff_id", "session_id"),
    )
    __display_loads__ = ("session", "staff")

    session_id: Mapped[int] = col("培训", ForeignKey("training_session.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = col("员工", ForeignKey("staff.id", ondelete="RESTRICT"))
    attended: Mapped[bool] = col("出勤", Boolean, default=True)
    score: Mapped[Decimal | None] = col("考核成绩", Numeric(5, 1))
    note: Mapped[str] = col("备注", Text, default="")

    session: Mapped[TrainingSession] = relationship(info={"label": "培训"})
    staff: Mapped[Staff] = relationship(info={"label": "员工"})

    def __str__(self) -> str:
        return display(loaded(self, "session"), loaded(self, "staff"))
