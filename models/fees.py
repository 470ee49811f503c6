"""收费: fee types, bills, payments; 催缴: dunning runs, their approval and the notices they issue."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
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
    list_order_indexes,
    loaded,
    sparse_indexes,
    trigram_indexes,
)

if TYPE_CHECKING:
    from .auth import User
    from .customers import Customer
    from .org import Project, Staff, Unit


class FeeBasis(LabeledEnum):
    PER_AREA = "per_area", "按面积(元/㎡·月)"
    PER_SPACE = "per_space", "按车位(元/个·月)"
    FIXED = "fixed", "固定金额(元/月)"


class FeeCycle(LabeledEnum):
    MONTHLY = "monthly", "按月"
    ONCE = "once", "按次"


class BillStatus(LabeledEnum):
    UNPAID = "unpaid", "未缴"
    PARTIAL = "partial", "部分缴纳"
    PAID = "paid", "已缴清"
    WAIVED = "waived", "已减免"


class PayMethod(LabeledEnum):
    CASH = "cash", "现金"
    WECHAT = "wechat", "微信"
    ALIPAY = "alipay", "支付宝"
    CARD = "card", "刷卡"
    TRANSFER = "transfer", "银行转账"


class DunningStage(LabeledEnum):
    FIRST = "1", "第一次催缴(5日)"
    SECOND = "2", "第二次催缴(10日)"
    THIRD = "3", "第三次催缴及停电函、违约函(15日)"
    CUTOFF = "4", "停电/封铺(20日)"


class DunningRunStatus(LabeledEnum):
    PROPOSED = "proposed", "待审批"
    APPROVED = "approved", "已审批"
    RUNNING = "running", "发送中"
    DONE = "done", "已完成"
    REJECTED = "rejected", "已驳回"
    FAILED = "failed", "失败"


class DeliveryWay(LabeledEnum):
    HAND = "hand", "当面送达"
    DOOR = "door", "张贴/塞门"
    PHONE = "phone", "电话/短信"
    WECHAT = "wechat", "微信"
    MAIL = "mail", "邮寄"


class FeeType(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """收费项目 (管理费, 停车费, 装修管理费 …) with its rate; rates are reviewed yearly. 按月 fees are billed by
    the monthly run (生成账单); 按次 fees (装修管理费, 押金 …) are charged per occasion and never generated."""

    __tablename__ = "fee_type"
    __label__ = "收费项目"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint("rate >= 0", name="rate_nonneg", info={"message": "{rate}不能为负数"}),
    )

    name: Mapped[str] = col("收费项目", String(64))
    basis: Mapped[FeeBasis] = col("计费方式", enum_type(FeeBasis))
    rate: Mapped[Decimal] = col("单价(元)", Numeric(12, 4))
    billing_cycle: Mapped[FeeCycle] = col(
        "计费周期", enum_type(FeeCycle), default=FeeCycle.MONTHLY, server_default=FeeCycle.MONTHLY.value,
        doc="按月：每月生成账单；按次：按实际发生收取（装修管理费、押金等），不随月度账单生成",
    )
    due_day: Mapped[int] = col("缴费截止日", Integer, default=1, doc="账期当月的第几日为缴费截止日")
    active: Mapped[bool] = col("启用", Boolean, default=True)
    reviewed_on: Mapped[dt.date | None] = col("年度复核日期", Date)

    project: Mapped[Project] = relationship(info={"label": "项目"})


class Bill(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """账单: one per unit, fee type and period (YYYY-MM); paid and status follow the payments."""

    __tablename__ = "bill"
    __label__ = "账单"
    __table_args__ = (
        UniqueConstraint("unit_id", "fee_type_id", "period"),
        # The amounts ride along (PostgreSQL): collection rates and arrears totals over a project's millions
        # of bills are read from the index alone, without visiting the table.
        Index(None, "project_id", "period", "status", postgresql_include=["amount_due", "amount_paid"]),
        Index(None, "project_id", "status", "due_date", postgresql_include=["amount_due", "amount_paid"]),
        *list_order_indexes("period"),
        *trigram_indexes("bill", "period"),
        CheckConstraint("amount_due >= 0 AND amount_paid >= 0", name="money_nonneg",
                        info={"message": "{amount_due}、{amount_paid}不能为负数"}),
    )

    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    customer_id: Mapped[int | None] = col("缴费人", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    fee_type_id: Mapped[int] = col("收费项目", ForeignKey("fee_type.id", ondelete="RESTRICT"), index=True)
    period: Mapped[str] = col("账期", String(7), doc="YYYY-MM")
    amount_due: Mapped[Decimal] = col("应收(元)", Money)
    amount_paid: Mapped[Decimal] = col("实收(元)", Money, default=Decimal("0"))
    due_date: Mapped[dt.date] = col("缴费截止日", Date)
    status: Mapped[BillStatus] = col("状态", enum_type(BillStatus), default=BillStatus.UNPAID)
    collector_id: Mapped[int | None] = col("责任收费员", ForeignKey("staff.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "缴费人"})
    fee_type: Mapped[FeeType] = relationship(info={"label": "收费项目"})
    collector: Mapped[Staff | None] = relationship(info={"label": "责任收费员"})
    payments: Mapped[list[Payment]] = relationship(back_populates="bill", info={"label": "收款记录"})

    __display_loads__ = ("unit", "fee_type")

    def __str__(self) -> str:
        # 1栋-101 物业管理费 2026-11 账单#15806. It ends with 账单#id: the payment import reads a bill so (BILL_TEXT).
        return display(loaded(self, "unit"), loaded(self, "fee_type"), self.period, f"账单#{self.id}")


class BillTotal(Base):
    """账单汇总: a project's bills of one 账期 and due date added up — what 收费率, 全年收费率 and the arrears
    aging read instead of a branch's 1.2 M bills. Kept by the database in the transaction of every write to a
    bill, whatever makes it (``models.totals``); never written by hand. 已减免 bills are left out of 应收/实收 as
    收费率 leaves them out; 欠费 is what the unpaid and part-paid bills still owe."""

    __tablename__ = "bill_total"
    __label__ = "账单汇总"

    project_id: Mapped[int] = col("项目", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = col("账期", String(7), primary_key=True)
    due_date: Mapped[dt.date] = col("缴费截止日", Date, primary_key=True)
    amount_due: Mapped[Decimal] = col("应收(元)", Numeric(16, 2), default=Decimal("0"))
    amount_paid: Mapped[Decimal] = col("实收(元)", Numeric(16, 2), default=Decimal("0"))
    owed: Mapped[Decimal] = col("欠费(元)", Numeric(16, 2), default=Decimal("0"))


RECEIPT_PREFIX = "SJ"  # 收据


def receipt_number(year: int, serial: int) -> str:
    """The 收据号 a project's yearly sequence gives: SJ2026-000123."""
    return f"{RECEIPT_PREFIX}{year}-{serial:06d}"


class Receipt(IdMixin, ProjectScoped, TimestampMixin, Base):
    """收据: one per 收款 — an account payment spread over several bills is one receipt listing them. Its number
    is used once in the project (a receipt book's numbers): the next of the project's yearly sequence, or the
    number a payment import brings."""

    __tablename__ = "receipt"
    __label__ = "收据"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    number: Mapped[str] = col("收据号", String(32))

    project: Mapped[Project] = relationship(info={"label": "项目"})

    def __str__(self) -> str:
        return self.number or super().__str__()


class ReceiptSequence(IdMixin, ProjectScoped, Base):
    """收据号 sequence of a project and year: the last number given. The payment that takes the next one holds
    this row locked until it commits, so two cashiers never get the same number, and a payment rolled back
    gives its number back (no gaps)."""

    __tablename__ = "receipt_sequence"
    __label__ = "收据号序列"
    __table_args__ = (UniqueConstraint("project_id", "year"),)

    year: Mapped[int] = col("年度", Integer)
    last_no: Mapped[int] = col("已用至", Integer, default=0)


class Payment(IdMixin, ProjectScoped, TimestampMixin, Base):
    """收款: a full or partial payment against one bill, on the 收据 of its 收款 (the lines of one account
    payment share the receipt and its number). A payment recorded wrongly is 冲正 (reversed), never deleted: it
    keeps its row, amount and receipt number, marked with who reversed it, when and why, and counts no more toward
    its bill's 实收."""

    __tablename__ = "payment"
    __label__ = "收款记录"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive", info={"message": "{amount}须大于 0"}),
        *list_order_indexes("paid_at"),
        # the 已冲正 filter of the list reads the few reversed payments, not every payment of the scope
        *sparse_indexes("payment", "reversed_at"),
        # 代收款交接 takes a collector's payments not yet handed over: the few of each collector, not every payment
        Index("ix_payment_not_handed_over", "collector_id", postgresql_where=text("handover_id IS NULL"),
              sqlite_where=text("handover_id IS NULL")),
        *trigram_indexes("payment", "receipt_no"),
        # the number is a receipt of the same project: a number is never shared by two 收款
        ForeignKeyConstraint(["project_id", "receipt_no"], ["receipt.project_id", "receipt.number"],
                             ondelete="RESTRICT"),
        Index(None, "project_id", "receipt_no"),
        UniqueConstraint("form_token", "bill_id"),
    )

    bill_id: Mapped[int] = col("账单", ForeignKey("bill.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[Decimal] = col("金额(元)", Money)
    method: Mapped[PayMethod] = col("支付方式", enum_type(PayMethod), default=PayMethod.WECHAT)
    paid_at: Mapped[dt.datetime] = col("收款时间", UTCDateTime())
    collector_id: Mapped[int | None] = col("收款人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    receipt_no: Mapped[str] = col("收据号", String(32), doc="系统按项目、年度顺序编号，如 SJ2026-000123")
    form_token: Mapped[str | None] = col("收款表单", String(32), doc="房屋账户收款表单的一次性编号")
    reversed_at: Mapped[dt.datetime | None] = col("冲正时间", UTCDateTime())
    reversed_by_id: Mapped[int | None] = col("冲正人", ForeignKey("user_account.id", ondelete="SET NULL"))
    reversal_reason: Mapped[str] = col("冲正原因", String(200), default="", server_default="")
    handover_id: Mapped[int | None] = col(
        "代收款交接", ForeignKey("cash_handover.id", ondelete="SET NULL"),
        doc="交出这笔收款的代收款交接：每笔收款只交接一次，收款时间早于上次交接而后补录的，也在下次交接中")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    bill: Mapped[Bill] = relationship(back_populates="payments", info={"label": "账单"})
    collector: Mapped[Staff | None] = relationship(info={"label": "收款人"})
    reversed_by: Mapped[User | None] = relationship(foreign_keys=[reversed_by_id], info={"label": "冲正人"})


class DunningRun(IdMixin, ProjectScoped, TimestampMixin, Base):
    """催缴批次: one stage of the month's schedule for a project. ``run_key`` makes a double submit or a
    concurrent second run a no-op; stage 4 (停电/封铺) waits for a manager other than the proposer."""

    __tablename__ = "dunning_run"
    __label__ = "催缴批次"
    __table_args__ = (UniqueConstraint("run_key"), Index(None, "project_id", "cycle", "stage"))

    run_key: Mapped[str] = col("批次键", String(128))
    cycle: Mapped[str] = col("催缴月份", String(7), doc="YYYY-MM")
    stage: Mapped[DunningStage] = col("阶段", enum_type(DunningStage))
    as_of: Mapped[dt.date] = col("催缴基准日", Date)
    status: Mapped[DunningRunStatus] = col("状态", enum_type(DunningRunStatus), default=DunningRunStatus.RUNNING)
    scope_note: Mapped[str] = col("范围", String(255), default="")
    requested_by_id: Mapped[int | None] = col("发起人", ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = col("审批人", ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[dt.datetime | None] = col("审批时间", UTCDateTime())
    decision_note: Mapped[str] = col("审批意见", String(200), default="", server_default="",
                                     doc="批准或驳回停电/封铺名单的意见；驳回须写明理由")
    notice_count: Mapped[int] = col("通知数", Integer, default=0)
    total_amount: Mapped[Decimal] = col("欠费合计(元)", Money, default=Decimal("0"))

    project: Mapped[Project] = relationship(info={"label": "项目"})
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id], info={"label": "发起人"})
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], info={"label": "审批人"})

    def __str__(self) -> str:  # 2026-11 第一次催缴(5日)
        return display(self.cycle, self.stage.label if self.stage else "") or super().__str__()


class DunningNotice(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """催缴通知: one per account (unit), dunning month and stage — never twice; printable as a letter."""

    __tablename__ = "dunning_notice"
    __label__ = "催缴通知"
    __table_args__ = (
        UniqueConstraint("unit_id", "cycle", "stage"),
        Index(None, "project_id", "cycle", "stage"),
        CheckConstraint("amount >= 0", name="amount_nonneg", info={"message": "{amount}不能为负数"}),
    )

    run_id: Mapped[int] = col("催缴批次", ForeignKey("dunning_run.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="RESTRICT"))
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    cycle: Mapped[str] = col("催缴月份", String(7))
    stage: Mapped[DunningStage] = col("阶段", enum_type(DunningStage))
    amount: Mapped[Decimal] = col("欠费金额(元)", Money)
    months_in_arrears: Mapped[int] = col("欠费月数", Integer)
    oldest_period: Mapped[str] = col("最早欠费账期", String(7))
    pay_by: Mapped[dt.date] = col("限缴日期", Date)
    delivered_at: Mapped[dt.datetime | None] = col("送达时间", UTCDateTime())
    delivered_by_id: Mapped[int | None] = col("送达人", ForeignKey("staff.id", ondelete="SET NULL"))
    delivery_way: Mapped[DeliveryWay | None] = col("送达方式", enum_type(DeliveryWay))
    signed_by: Mapped[str] = col("签收人", String(64), default="")
    note: Mapped[str] = col("备注", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    run: Mapped[DunningRun] = relationship(info={"label": "催缴批次"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    delivered_by: Mapped[Staff | None] = relationship(info={"label": "送达人"})
