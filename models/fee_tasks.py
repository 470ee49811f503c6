"""收费 beside the bills: the yearly review of the fee standards as a dated task (「4-5月份完成对……物业管理收费标准和
……停车收费标准的年审工作」, 000 计划4) and the lease of a parking space (「负责办理小区车位出租手续」, 001 三 10)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, relationship

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    Money,
    ProjectScoped,
    TimestampMixin,
    col,
    display,
    enum_type,
    loaded,
)

if TYPE_CHECKING:
    from .auth import User
    from .customers import Customer
    from .fees import FeeType
    from .org import ParkingSpace, Project


class ReviewStatus(LabeledEnum):
    PENDING = "pending", "待年审"
    DONE = "done", "已年审"


class FeeReview(IdMixin, ProjectScoped, TimestampMixin, Base):
    """收费标准年审: one fee type's yearly review, due between April and May; done with who, when and the outcome."""

    __tablename__ = "fee_review"
    __label__ = "收费标准年审"
    __table_args__ = (
        UniqueConstraint("project_id", "year", "fee_type_id"),
        Index(None, "project_id", "status", "due_by"),
    )
    __display_loads__ = ("fee_type",)

    year: Mapped[int] = col("年度", Integer)
    fee_type_id: Mapped[int] = col("收费项目", ForeignKey("fee_type.id", ondelete="CASCADE"), index=True)
    due_from: Mapped[dt.date] = col("开始日期", Date)
    due_by: Mapped[dt.date] = col("完成期限", Date)
    status: Mapped[ReviewStatus] = col("状态", enum_type(ReviewStatus), default=ReviewStatus.PENDING, index=True)
    reviewed_on: Mapped[dt.date | None] = col("年审日期", Date)
    reviewer_id: Mapped[int | None] = col("年审人", ForeignKey("user_account.id", ondelete="SET NULL"))
    outcome: Mapped[str] = col("年审结论", Text, default="", doc="如：维持现行标准；报物价部门调整为 2.80 元/㎡·月")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    fee_type: Mapped[FeeType] = relationship(info={"label": "收费项目"})
    reviewer: Mapped[User | None] = relationship(info={"label": "年审人"})

    def __str__(self) -> str:
        return display(f"{self.year}年", loaded(self, "fee_type"), "年审")


class ParkingLease(IdMixin, ProjectScoped, TimestampMixin, Base):
    """车位租赁: a space let to a customer for a term at a monthly rent; a space's leases never overlap (held by
    the lease action under a lock on the space)."""

    __tablename__ = "parking_lease"
    __label__ = "车位租赁"
    __table_args__ = (
        Index(None, "space_id", "start_date"),
        CheckConstraint("end_date >= start_date", name="term_order", info={"message": "{end_date}不能早于{start_date}"}),
        CheckConstraint("monthly_rent >= 0", name="rent_nonneg", info={"message": "{monthly_rent}不能为负数"}),
    )
    __display_loads__ = ("space", "customer")

    space_id: Mapped[int] = col("车位", ForeignKey("parking_space.id", ondelete="RESTRICT"))
    customer_id: Mapped[int] = col("承租人", ForeignKey("customer.id", ondelete="RESTRICT"), index=True)
    plate_no: Mapped[str] = col("车牌号", String(16), default="")
    start_date: Mapped[dt.date] = col("起租日期", Date)
    end_date: Mapped[dt.date] = col("到期日期", Date, index=True)
    monthly_rent: Mapped[Decimal] = col("月租金(元)", Money)
    note: Mapped[str] = col("备注", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    space: Mapped[ParkingSpace] = relationship(info={"label": "车位"})
    customer: Mapped[Customer] = relationship(info={"label": "承租人"})

    def __str__(self) -> str:
        return display(loaded(self, "space"), loaded(self, "customer"), f"{self.start_date}至{self.end_date}")
