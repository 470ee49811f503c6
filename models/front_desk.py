"""The front desk's smaller duties the documents name (002 前台, 000 计划): after-hours collections handed over to
the cashier, the day's mail notified to the butlers, the 特约服务 it takes orders for, and one-off outsourced jobs
followed by a named member of staff."""

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
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, relationship

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    Money,
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


class CashHandover(IdMixin, ProjectScoped, TimestampMixin, Base):
    """代收款交接: 「假日、午休时段以及下午下班之后的费用代收工作，并做好同收银员的工作交接」(002 前台 7) — what a
    front-desk agent collected since their last handover, handed to the cashier, who counts it and confirms. 应交 is
    the cash; the electronic payments of the same span went straight to the company's account and are listed
    beside it by method."""

    __tablename__ = "cash_handover"
    __label__ = "代收款交接"
    __table_args__ = (
        UniqueConstraint("collector_id", "period_to"),
        Index(None, "project_id", "handed_at"),
        CheckConstraint("period_to > period_from", name="period_order",
                        info={"message": "{period_to}须晚于{period_from}"}),
        CheckConstraint("amount >= 0 AND (counted IS NULL OR counted >= 0)", name="money_nonneg",
                        info={"message": "{amount}、{counted}不能为负数"}),
    )
    __display_loads__ = ("collector",)

    collector_id: Mapped[int] = col("代收人", ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    period_from: Mapped[dt.datetime] = col("代收起", UTCDateTime())
    period_to: Mapped[dt.datetime] = col("代收止", UTCDateTime())
    payments: Mapped[int] = col("现金笔数", Integer)
    amount: Mapped[Decimal] = col("应交金额(元)", Money, doc="代收的现金：收银员清点的就是它")
    other_methods: Mapped[str] = col(
        "其他方式(不交现金)", Text, default="", server_default="",
        doc="同期代收的微信、支付宝、刷卡、银行转账：款项直接进入公司账户，按方式列明笔数与金额，不计入应交",
    )
    handed_by_id: Mapped[int | None] = col("交出人", ForeignKey("user_account.id", ondelete="SET NULL"))
    handed_at: Mapped[dt.datetime] = col("交接时间", UTCDateTime())
    cashier_id: Mapped[int | None] = col("收银员", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    confirmed_at: Mapped[dt.datetime | None] = col("确认时间", UTCDateTime(), index=True)
    counted: Mapped[Decimal | None] = col("实收金额(元)", Money, doc="收银员清点的金额")
    note: Mapped[str] = col("说明", Text, default="", doc="有差额时须说明")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    collector: Mapped[Staff] = relationship(info={"label": "代收人"})
    handed_by: Mapped[User | None] = relationship(foreign_keys=[handed_by_id], info={"label": "交出人"})
    cashier: Mapped[User | None] = relationship(foreign_keys=[cashier_id], info={"label": "收银员"})

    def __str__(self) -> str:
        return display("交接", loaded(self, "collector"), f"{self.amount}元", f"#{self.id}")


class MailNotice(IdMixin, ProjectScoped, TimestampMixin, Base):
    """邮件领取通知: 「负责业主信件、报刊的接收工作，并每日按时通知楼宇片区管理员领取」(002 前台 2) — once a day per
    butler, how many items of their buildings wait at the desk."""

    __tablename__ = "mail_notice"
    __label__ = "邮件领取通知"
    __table_args__ = (UniqueConstraint("project_id", "day", "butler_id"),)
    __display_loads__ = ("butler",)

    day: Mapped[dt.date] = col("日期", Date, index=True)
    butler_id: Mapped[int] = col("楼宇管家", ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    items: Mapped[int] = col("待领件数", Integer)
    notified_by_id: Mapped[int | None] = col("通知人", ForeignKey("user_account.id", ondelete="SET NULL"))
    notified_at: Mapped[dt.datetime] = col("通知时间", UTCDateTime())

    project: Mapped[Project] = relationship(info={"label": "项目"})
    butler: Mapped[Staff] = relationship(info={"label": "楼宇管家"})
    notified_by: Mapped[User | None] = relationship(info={"label": "通知人"})

    def __str__(self) -> str:
        return display(self.day, loaded(self, "butler"), f"{self.items}件")


class SpecialService(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """特约服务: the paid services the desk takes orders for (「负责做好小区家政等特约服务受理工作」, 002 前台 8) —
    家政保洁, 家电清洗, 搬家 … with the price the owner is quoted before work starts."""

    __tablename__ = "special_service"
    __label__ = "特约服务"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_nonneg", info={"message": "{price}不能为负数"}),
    )

    name: Mapped[str] = col("服务项目", String(64))
    price: Mapped[Decimal | None] = col("参考价(元)", Money, doc="空：按现场报价")
    price_unit: Mapped[str] = col("计价单位", String(16), default="", doc="如：次、小时、平方米")
    provider: Mapped[str] = col("服务单位", String(64), default="", doc="本公司或合作单位")
    description: Mapped[str] = col("服务说明", Text, default="")
    active: Mapped[bool] = col("启用", Boolean, default=True, index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})


class OutsourcedJobStatus(LabeledEnum):
    PLANNED = "planned", "计划"
    IN_PROGRESS = "in_progress", "实施中"
    RECTIFYING = "rectifying", "限期整改"
    ACCEPTED = "accepted", "已验收"


class OutsourcedJob(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """一次性外包服务: 「对于像“外墙清洗”等类似的一次性外包服务活动，派专人跟进，发现问题，让其马上整改」(000 计划3) —
    the job, the vendor, the member of staff who follows it, what they found and the acceptance."""

    __tablename__ = "outsourced_job"
    __label__ = "一次性外包服务"
    __table_args__ = (
        Index(None, "project_id", "planned_on"),
        CheckConstraint("done_on IS NULL OR done_on >= planned_on", name="done_after_planned",
                        info={"message": "{done_on}不能早于{planned_on}"}),
    )

    title: Mapped[str] = col("服务内容", String(128), doc="如：外墙清洗、化粪池清掏")
    vendor: Mapped[str] = col("外包单位", String(128))
    follower_id: Mapped[int] = col("跟进人", ForeignKey("staff.id", ondelete="RESTRICT"), index=True,
                                   doc="派专人跟进：发现问题让其马上整改")
    planned_on: Mapped[dt.date] = col("计划日期", Date)
    done_on: Mapped[dt.date | None] = col("验收日期", Date)
    status: Mapped[OutsourcedJobStatus] = col("状态", enum_type(OutsourcedJobStatus),
                                              default=OutsourcedJobStatus.PLANNED, index=True)
    issues: Mapped[str] = col("发现问题与整改", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    follower: Mapped[Staff] = relationship(info={"label": "跟进人"})

    # 已验收 needs the day it was accepted; 限期整改 what is to be put right.
    status_requires = {OutsourcedJobStatus.ACCEPTED: ("done_on",), OutsourcedJobStatus.RECTIFYING: ("issues",)}

    def __str__(self) -> str:
        return display(self.planned_on, self.title)
