"""月结: the figures of a project's month as they were reported when the month was closed."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, relationship

from .base import Base, IdMixin, ProjectScoped, UTCDateTime, col, utcnow

if TYPE_CHECKING:
    from .auth import User
    from .org import Project


class MonthSnapshot(IdMixin, ProjectScoped, Base):
    """月结快照: closing a month freezes its monthly report's figures here, once per project and month. A later
    correction of that month's records changes the live figures, never this row: the report shows the
    difference against it instead of silently changing what was sent."""

    __tablename__ = "month_snapshot"
    __label__ = "月结快照"
    __table_args__ = (UniqueConstraint("project_id", "month"),)

    month: Mapped[str] = col("月份", String(7), index=True, doc="YYYY-MM")
    figures: Mapped[dict[str, Any]] = col("月结数据", JSON, default=dict)
    closed_by_id: Mapped[int | None] = col("月结人", ForeignKey("user_account.id", ondelete="SET NULL"))
    closed_by_name: Mapped[str] = col("月结人姓名", String(64), default="")
    closed_at: Mapped[dt.datetime] = col("月结时间", UTCDateTime(), default=utcnow)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    closed_by: Mapped[User | None] = relationship(info={"label": "月结人"})
