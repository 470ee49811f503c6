"""诉求升级: a matter the staff cannot settle goes up — 主管, then 经理, then 总经理/分公司 (002 走回访 三 7) — and a
major complaint is handled with the branch (004 (三) 6); each step keeps who raised it, why, and the answer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, relationship

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    col,
    display,
    enum_type,
    loaded,
    utcnow,
)

if TYPE_CHECKING:
    from .auth import User
    from .org import Project
    from .service import ServiceRequest


class EscalationLevel(LabeledEnum):
    """Ordered: a matter goes up one level at a time (its values sort in that order)."""

    SUPERVISOR = "1_supervisor", "客服主管"
    MANAGER = "2_manager", "客服经理"
    GENERAL = "3_general", "总经理/分公司"


class Escalation(IdMixin, ProjectScoped, TimestampMixin, Base):
    """诉求升级: one step up of a request — to whom, who raised it and why, and the answer given."""

    __tablename__ = "escalation"
    __label__ = "诉求升级"
    __table_args__ = (UniqueConstraint("request_id", "level"), Index(None, "project_id", "level", "responded_at"))
    __display_loads__ = ("request",)

    request_id: Mapped[int] = col("客户诉求", ForeignKey("service_request.id", ondelete="CASCADE"), index=True)
    level: Mapped[EscalationLevel] = col("上报至", enum_type(EscalationLevel), index=True)
    reason: Mapped[str] = col("上报原因", Text)
    escalated_by_id: Mapped[int | None] = col("上报人", ForeignKey("user_account.id", ondelete="SET NULL"))
    escalated_at: Mapped[dt.datetime] = col("上报时间", UTCDateTime(), default=utcnow)
    response: Mapped[str] = col("处理意见", Text, default="")
    responded_by_id: Mapped[int | None] = col("批复人", ForeignKey("user_account.id", ondelete="SET NULL"))
    responded_at: Mapped[dt.datetime | None] = col("批复时间", UTCDateTime(), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    request: Mapped[ServiceRequest] = relationship(info={"label": "客户诉求"})
    escalated_by: Mapped[User | None] = relationship(foreign_keys=[escalated_by_id], info={"label": "上报人"})
    responded_by: Mapped[User | None] = relationship(foreign_keys=[responded_by_id], info={"label": "批复人"})

    def __str__(self) -> str:
        return display(loaded(self, "request"), "上报", self.level.label if self.level else "")
