"""前台台帐: the front desk's ledgers — duty log, keys, lost and found, loans, passes, mail, meeting rooms,
renovation, move-in, defects, rectification notices, notices to owners, vendor checks and the weekly plan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, relationship

from .base import (
    ZERO,
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
    utcnow,
)

if TYPE_CHECKING:
    from .auth import User
    from .customers import Customer
    from .org import Project, Staff, Unit


class Shift(LabeledEnum):
    MORNING = "morning", "早班"
    MIDDLE = "middle", "中班"
    NIGHT = "night", "夜班"


class VisitPurpose(LabeledEnum):
    VISIT = "visit", "探亲访友"
    DELIVERY = "delivery", "送货快递"
    REPAIR = "repair", "维修施工"
    VIEWING = "viewing", "看房"
    BUSINESS = "business", "办事"
    OTHER = "other", "其他"


class VisitorDocument(LabeledEnum):
    ID_CARD = "id_card", "身份证"
    DRIVER = "driver", "驾驶证"
    WORK_PASS = "work_pass", "工作证/出入证"
    OTHER = "other", "其他证件"
    NONE = "none", "未查验"


class KeyKind(LabeledEnum):
    UNIT = "unit", "房屋钥匙"
    PUBLIC = "public", "公共区域钥匙"


class KeyStatus(LabeledEnum):
    IN_STOCK = "in_stock", "在库"
    LENT = "lent", "借出"
    HANDED_OVER = "handed_over", "已交业主"
    LOST = "lost", "遗失"


class LostItemStatus(LabeledEnum):
    HELD = "held", "待认领"
    RETURNED = "returned", "已发还"
    TRANSFERRED = "transferred", "已移交"
    DISPOSED = "disposed", "已处理"


class ItemLoanStatus(LabeledEnum):
    LENT = "lent", "借出中"
    RETURNED = "returned", "已归还"
    DAMAGED = "damaged", "归还有损坏"
    LOST = "lost", "未归还/遗失"


class GoodsPassStatus(LabeledEnum):
    ISSUED = "issued", "已开具"
    RELEASED = "released", "已放行"
    VOID = "void", "作废"


class MailKind(LabeledEnum):
    PARCEL = "parcel", "包裹"
    LETTER = "letter", "信件"
    REGISTERED = "registered", "挂号信/包裹单"
    NEWSPAPER = "newspaper", "报刊"


class BookingStatus(LabeledEnum):
    PENDING = "pending", "待审批"
    APPROVED = "approved", "已批准"
    CANCELLED = "cancelled", "已取消"
    USED = "used", "已使用"


class RenovationStatus(LabeledEnum):
    PENDING = "pending", "待审核"
    APPROVED = "approved", "已批准"
    REJECTED = "rejected", "已驳回"
    IN_PROGRESS = "in_progress", "施工中"
    INSPECTED = "inspected", "已验收"
    REFUNDED = "refunded", "已退押金"


class DefectStatus(LabeledEnum):
    PENDING = "pending", "待报送"
    SENT = "sent", "已报开发商"
    IN_PROGRESS = "in_progress", "整改中"
    CLOSED = "closed", "已关闭"


class VendorRectification(LabeledEnum):
    """Whether the vendor put right what its month's check found (000: 「发现问题让其限期整改」), as the recheck saw it."""

    NONE = "none", "无需整改"
    PENDING = "pending", "待整改"
    DONE = "done", "已整改"
    NOT_DONE = "not_done", "复查未整改"


class NoticeStatus(LabeledEnum):
    ISSUED = "issued", "已发出"
    RECTIFIED = "rectified", "已整改"
    OVERDUE = "overdue", "逾期未改"
    ESCALATED = "escalated", "已上报"


class Audience(LabeledEnum):
    ALL = "all", "全体住户"
    OWNERS = "owners", "业主"
    TENANTS = "tenants", "租户/商户"
    PART = "part", "部分楼栋/住户"


class VendorService(LabeledEnum):
    CLEANING = "cleaning", "保洁"
    GREENING = "greening", "绿化"
    SECURITY = "security", "秩序维护"
    ELEVATOR = "elevator", "电梯维保"
    PEST = "pest", "消杀"
    OTHER = "other", "其他"


class TaskStatus(LabeledEnum):
    NOT_STARTED = "not_started", "未开始"
    IN_PROGRESS = "in_progress", "进行中"
    DONE = "done", "已完成"
    DELAYED = "delayed", "已延期"


class DutyLog(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """值班日志: one post's shift — what happened, what is still open — and whom it was handed over to."""

    __tablename__ = "duty_log"
    __label__ = "值班日志"
    __table_args__ = (UniqueConstraint("project_id", "duty_date", "shift", "post"),)

    duty_date: Mapped[dt.date] = col("值班日期", Date, index=True)
    shift: Mapped[Shift] = col("班次", enum_type(Shift), index=True)
    post: Mapped[str] = col("岗位", String(32), default="", doc="如：大堂前台、3楼楼层")
    on_duty_id: Mapped[int] = col("值班人", ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    handed_to_id: Mapped[int | None] = col("接班人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    handed_over_at: Mapped[dt.datetime | None] = col("交接时间", UTCDateTime())
    events: Mapped[str] = col("值班事项", Text, default="", doc="设施、卫生、电梯道闸等异常及处理情况")
    pending: Mapped[str] = col("待办事项", Text, default="", doc="交给下一班跟进的事项")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    on_duty: Mapped[Staff] = relationship(foreign_keys=[on_duty_id], info={"label": "值班人"})
    handed_to: Mapped[Staff | None] = relationship(foreign_keys=[handed_to_id], info={"label": "接班人"})


class KeyRecord(IdMixin, ProjectScoped, VersionedMixin, Base):
    """钥匙: a key the front desk holds — a unit's (before handover or left by its owner) or a public area's."""

    __tablename__ = "key_record"
    __label__ = "钥匙"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        CheckConstraint("copies >= 0", name="copies_nonneg", info={"message": "{copies}不能为负数"}),
    )

    code: Mapped[str] = col("钥匙编号", String(32))
    name: Mapped[str] = col("钥匙名称", String(64), doc="如：3-1201入户门、配电房")
    kind: Mapped[KeyKind] = col("钥匙类别", enum_type(KeyKind), default=KeyKind.UNIT, index=True)
    unit_id: Mapped[int | None] = col("房屋", ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    area_name: Mapped[str] = col("公共区域", String(64), default="")
    copies: Mapped[int] = col("数量(把)", Integer, default=1)
    location: Mapped[str] = col("存放位置", String(64), default="", doc="钥匙柜及挂钩号")
    status: Mapped[KeyStatus] = col("状态", enum_type(KeyStatus), default=KeyStatus.IN_STOCK, index=True)
    note: Mapped[str] = col("备注", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "房屋"})
    loans: Mapped[list[KeyLoan]] = relationship(back_populates="key", info={"label": "借用记录"})


class KeyLoan(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """钥匙借用: who took a key, why and when, and when it came back; open while ``returned_at`` is empty."""

    __tablename__ = "key_loan"
    __label__ = "钥匙借用"
    __table_args__ = (
        CheckConstraint("returned_at IS NULL OR returned_at >= lent_at", name="returned_after_lent",
                        info={"message": "{returned_at}不能早于{lent_at}"}),
    )

    key_id: Mapped[int] = col("钥匙", ForeignKey("key_record.id", ondelete="RESTRICT"), index=True)
    borrower: Mapped[str] = col("借用人", String(64))
    borrower_phone: Mapped[str] = col("联系电话", String(20), default="", info={"pii": "phone"})
    borrower_staff_id: Mapped[int | None] = col("借用员工", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    purpose: Mapped[str] = col("借用事由", String(200), default="")
    lent_at: Mapped[dt.datetime] = col("借出时间", UTCDateTime(), default=utcnow, index=True)
    returned_at: Mapped[dt.datetime | None] = col("归还时间", UTCDateTime(), index=True)
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    key: Mapped[KeyRecord] = relationship(back_populates="loans", info={"label": "钥匙"})
    borrower_staff: Mapped[Staff | None] = relationship(info={"label": "借用员工"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})


class LostItem(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """失物登记: an item found on site (《客户失物登记表》) and, once claimed, to whom it was returned (《物品发还清单》)."""

    __tablename__ = "lost_item"
    __label__ = "失物招领"
    __table_args__ = (
        CheckConstraint("returned_at IS NULL OR returned_at >= found_at", name="returned_after_found",
                        info={"message": "{returned_at}不能早于{found_at}"}),
    )
    # 发还须登记认领人及发还时间（《物品发还清单》）.
    status_requires: ClassVar[dict[LabeledEnum, tuple[str, ...]]] = {
        LostItemStatus.RETURNED: ("claimant", "returned_at"),
    }

    name: Mapped[str] = col("物品名称", String(64))
    description: Mapped[str] = col("物品描述", Text, default="", doc="颜色、品牌、数量、内含物品等")
    found_at: Mapped[dt.datetime] = col("拾获时间", UTCDateTime(), index=True)
    found_place: Mapped[str] = col("拾获地点", String(100), default="")
    finder: Mapped[str] = col("拾获人", String(64), default="")
    storage_place: Mapped[str] = col("存放位置", String(64), default="")
    status: Mapped[LostItemStatus] = col("状态", enum_type(LostItemStatus), default=LostItemStatus.HELD, index=True)
    claimant: Mapped[str] = col("认领人", String(64), default="")
    claimant_phone: Mapped[str] = col("认领人电话", String(20), default="", info={"pii": "phone"})
    customer_id: Mapped[int | None] = col("认领客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    returned_at: Mapped[dt.datetime | None] = col("发还时间", UTCDateTime(), index=True)
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = col("备注", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    customer: Mapped[Customer | None] = relationship(info={"label": "认领客户"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})


class ItemLoan(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """物品借用: an umbrella, tool or trolley lent at the desk; on return its condition is checked and noted."""

    __tablename__ = "item_loan"
    __label__ = "物品借用"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive", info={"message": "{quantity}须大于 0"}),
        CheckConstraint("deposit >= 0", name="deposit_nonneg", info={"message": "{deposit}不能为负数"}),
        CheckConstraint("returned_at IS NULL OR returned_at >= lent_at", name="returned_after_lent",
                        info={"message": "{returned_at}不能早于{lent_at}"}),
    )
    # 归还须登记归还时间；有损坏的须在归还检查中记录.
    status_requires: ClassVar[dict[LabeledEnum, tuple[str, ...]]] = {
        ItemLoanStatus.RETURNED: ("returned_at",),
        ItemLoanStatus.DAMAGED: ("returned_at", "return_condition"),
    }

    name: Mapped[str] = col("借用物品", String(64))
    quantity: Mapped[int] = col("数量", Integer, default=1)
    borrower: Mapped[str] = col("借用人", String(64))
    borrower_phone: Mapped[str] = col("联系电话", String(20), default="", info={"pii": "phone"})
    unit_id: Mapped[int | None] = col("房屋", ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    deposit: Mapped[Decimal] = col("押金(元)", Money, default=ZERO)
    lent_at: Mapped[dt.datetime] = col("借出时间", UTCDateTime(), default=utcnow, index=True)
    due_at: Mapped[dt.datetime | None] = col("约定归还时间", UTCDateTime(), index=True)
    returned_at: Mapped[dt.datetime | None] = col("归还时间", UTCDateTime(), index=True)
    status: Mapped[ItemLoanStatus] = col("状态", enum_type(ItemLoanStatus), default=ItemLoanStatus.LENT, index=True)
    return_condition: Mapped[str] = col("归还检查", String(200), default="", doc="归还时检查物品是否有损坏并记录")
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})


class GoodsPass(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """放行条: permission to take goods out of the estate (搬运放行), shown to the guard at the gate."""

    __tablename__ = "goods_pass"
    __label__ = "放行条"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    code: Mapped[str] = col("放行条编号", String(32))
    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    applicant: Mapped[str] = col("申请人", String(64))
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    owner_confirmed: Mapped[bool] = col("业主确认", Boolean, default=False, doc="租户搬出须经业主同意")
    items: Mapped[str] = col("放行物品", Text, doc="物品名称及数量")
    carrier: Mapped[str] = col("搬运人", String(64), default="")
    carrier_phone: Mapped[str] = col("搬运人电话", String(20), default="", info={"pii": "phone"})
    plate_no: Mapped[str] = col("车牌号", String(16), default="")
    pass_date: Mapped[dt.date] = col("放行日期", Date, index=True)
    approved_by_id: Mapped[int | None] = col("审批人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    status: Mapped[GoodsPassStatus] = col("状态", enum_type(GoodsPassStatus), default=GoodsPassStatus.ISSUED, index=True)
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    approved_by: Mapped[Staff | None] = relationship(info={"label": "审批人"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})


class MailItem(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """邮件包裹: mail, parcels and newspapers signed for at the desk and handed out to the unit's people."""

    __tablename__ = "mail_item"
    __label__ = "邮件包裹"
    __table_args__ = (
        UniqueConstraint("project_id", "tracking_no"),
        CheckConstraint("picked_up_at IS NULL OR picked_up_at >= received_at", name="picked_after_received",
                        info={"message": "{picked_up_at}不能早于{received_at}"}),
    )

    kind: Mapped[MailKind] = col("类别", enum_type(MailKind), default=MailKind.PARCEL, index=True)
    unit_id: Mapped[int | None] = col("收件房屋", ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    recipient: Mapped[str] = col("收件人", String(64), default="")
    recipient_phone: Mapped[str] = col("收件人电话", String(20), default="", info={"pii": "phone"})
    carrier: Mapped[str] = col("快递公司", String(32), default="")
    tracking_no: Mapped[str | None] = col("运单号", String(64))
    received_at: Mapped[dt.datetime] = col("签收时间", UTCDateTime(), default=utcnow, index=True)
    picked_up_by: Mapped[str] = col("领取人", String(64), default="")
    picked_up_at: Mapped[dt.datetime | None] = col("领取时间", UTCDateTime(), index=True)
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "收件房屋"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})


class MeetingBooking(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """会议室预订: a customer's request for a meeting room (会议室使用申请单), approved by the supervisor."""

    __tablename__ = "meeting_booking"
    __label__ = "会议室预订"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_starts",
                        info={"message": "{ends_at}须晚于{starts_at}"}),
        Index(None, "project_id", "room", "starts_at"),
    )

    room: Mapped[str] = col("会议室", String(64))
    starts_at: Mapped[dt.datetime] = col("开始时间", UTCDateTime(), index=True)
    ends_at: Mapped[dt.datetime] = col("结束时间", UTCDateTime())
    booked_by: Mapped[str] = col("预订人", String(64))
    phone: Mapped[str] = col("联系电话", String(20), default="", info={"pii": "phone"})
    unit_id: Mapped[int | None] = col("预订单位", ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    purpose: Mapped[str] = col("会议主题", String(200), default="")
    attendees: Mapped[int | None] = col("参会人数", Integer)
    services: Mapped[str] = col("会务需求", String(200), default="", doc="茶点、投影、布置会场等")
    status: Mapped[BookingStatus] = col("状态", enum_type(BookingStatus), default=BookingStatus.PENDING, index=True)
    approved_by_id: Mapped[int | None] = col("审批人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "预订单位"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    approved_by: Mapped[Staff | None] = relationship(info={"label": "审批人"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})


class RenovationApplication(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """装修申请 (《装修申报表》): who renovates a unit, with which contractor, when, and the deposit held until
    the work passes inspection."""

    __tablename__ = "renovation_application"
    __label__ = "装修申请"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="period_ordered",
                        info={"message": "{end_date}不能早于{start_date}"}),
        CheckConstraint("deposit >= 0 AND deposit_refunded >= 0 AND deposit_refunded <= deposit", name="deposit_range",
                        info={"message": "{deposit}、{deposit_refunded}不能为负数，{deposit_refunded}不能超过{deposit}"}),
    )
    # 验收、退押金都须登记日期.
    status_requires: ClassVar[dict[LabeledEnum, tuple[str, ...]]] = {
        RenovationStatus.INSPECTED: ("inspected_on",),
        RenovationStatus.REFUNDED: ("inspected_on", "refunded_on"),
    }

    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    applicant: Mapped[str] = col("申请人", String(64))
    applicant_phone: Mapped[str] = col("申请人电话", String(20), default="", info={"pii": "phone"})
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    contractor: Mapped[str] = col("装修公司", String(100), default="")
    contractor_contact: Mapped[str] = col("施工负责人", String(64), default="")
    contractor_phone: Mapped[str] = col("施工负责人电话", String(20), default="", info={"pii": "phone"})
    scope: Mapped[str] = col("装修内容", Text, default="")
    start_date: Mapped[dt.date] = col("开工日期", Date, index=True)
    end_date: Mapped[dt.date] = col("完工日期", Date, index=True)
    deposit: Mapped[Decimal] = col("装修押金(元)", Money, default=ZERO)
    deposit_refunded: Mapped[Decimal] = col("退还押金(元)", Money, default=ZERO, doc="扣除违规罚没后退还的金额")
    status: Mapped[RenovationStatus] = col(
        "状态", enum_type(RenovationStatus), default=RenovationStatus.PENDING, index=True
    )
    approved_by_id: Mapped[int | None] = col("审批人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    approved_on: Mapped[dt.date | None] = col("审批日期", Date)
    inspected_on: Mapped[dt.date | None] = col("验收日期", Date, index=True)
    refunded_on: Mapped[dt.date | None] = col("退押金日期", Date)
    note: Mapped[str] = col("备注", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    approved_by: Mapped[Staff | None] = relationship(info={"label": "审批人"})
    permits: Mapped[list[WorkerPermit]] = relationship(back_populates="renovation", info={"label": "施工人员出入证"})

    __display_loads__ = ("unit",)

    def __str__(self) -> str:  # 1栋-101 张伟（2026-11-01～2026-12-31）
        period = f"（{self.start_date}～{self.end_date}）" if self.start_date and self.end_date else ""
        return display(loaded(self, "unit"), self.applicant) + period or super().__str__()


class WorkerPermit(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """装修出入证: a construction worker's pass for one renovation, valid for its period, returned at the end."""

    __tablename__ = "worker_permit"
    __label__ = "施工人员出入证"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        CheckConstraint("valid_to >= valid_from", name="validity_ordered",
                        info={"message": "{valid_to}不能早于{valid_from}"}),
        CheckConstraint("fee >= 0", name="fee_nonneg", info={"message": "{fee}不能为负数"}),
    )

    renovation_id: Mapped[int] = col(
        "装修申请", ForeignKey("renovation_application.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = col("出入证编号", String(32))
    name: Mapped[str] = col("姓名", String(64))
    id_number: Mapped[str] = col("身份证号", String(18), default="", info={"pii": "id_number"})
    phone: Mapped[str] = col("手机号", String(20), default="", info={"pii": "phone"})
    trade: Mapped[str] = col("工种", String(32), default="", doc="如：水电、泥工、木工、油漆")
    valid_from: Mapped[dt.date] = col("有效期起", Date)
    valid_to: Mapped[dt.date] = col("有效期止", Date, index=True)
    fee: Mapped[Decimal] = col("证件费用(元)", Money, default=ZERO)
    returned_on: Mapped[dt.date | None] = col("交回日期", Date, index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    renovation: Mapped[RenovationApplication] = relationship(back_populates="permits", info={"label": "装修申请"})


class MoveInChecklist(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """交房验收 (《物业验收清单》): the walk-through with the owner — meter readings, keys and documents handed
    over, and whether the owner accepted and signed."""

    __tablename__ = "move_in_checklist"
    __label__ = "交房验收"
    __table_args__ = (
        CheckConstraint("keys_count >= 0", name="keys_nonneg", info={"message": "{keys_count}不能为负数"}),
        CheckConstraint("water_reading >= 0 AND power_reading >= 0 AND gas_reading >= 0", name="readings_nonneg",
                        info={"message": "{water_reading}、{power_reading}、{gas_reading}不能为负数"}),
    )

    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    customer_id: Mapped[int | None] = col("业主", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    received_by: Mapped[str] = col("接房人", String(64), default="", doc="业主本人或受托人")
    handover_date: Mapped[dt.date] = col("验收日期", Date, index=True)
    water_reading: Mapped[Decimal | None] = col("水表读数(m³)", Numeric(12, 2))
    power_reading: Mapped[Decimal | None] = col("电表读数(kWh)", Numeric(12, 2))
    gas_reading: Mapped[Decimal | None] = col("燃气表读数(m³)", Numeric(12, 2))
    keys_count: Mapped[int] = col("交付钥匙(把)", Integer, default=0)
    documents: Mapped[str] = col("交付资料", Text, default="", doc="如：业主手册、房屋使用说明书、房屋质量保证书")
    accepted: Mapped[bool] = col("同意交房", Boolean, default=False)
    owner_signed: Mapped[bool] = col("业主签字", Boolean, default=False)
    handled_by_id: Mapped[int | None] = col("带房人员", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = col("备注", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "业主"})
    handled_by: Mapped[Staff | None] = relationship(info={"label": "带房人员"})
    defects: Mapped[list[HouseDefect]] = relationship(back_populates="checklist", info={"label": "房屋整改"})

    __display_loads__ = ("unit", "customer")

    def __str__(self) -> str:  # 1栋-101 张伟 2026-11-01 验收
        who = loaded(self, "customer") or self.received_by
        day = f"{self.handover_date} 验收" if self.handover_date else ""
        return display(loaded(self, "unit"), who, day) or super().__str__()


class HouseDefect(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """房屋整改 (《房屋整改工程记录表》): a quality defect of a unit, sent to the developer and tracked until fixed."""

    __tablename__ = "house_defect"
    __label__ = "房屋整改"
    __table_args__ = (
        CheckConstraint("closed_on IS NULL OR closed_on >= found_on", name="closed_after_found",
                        info={"message": "{closed_on}不能早于{found_on}"}),
    )
    # 已报开发商 and 整改中 say when it went to the developer; closed, it says when (fixed by whoever).
    status_requires: ClassVar[dict[LabeledEnum, tuple[str, ...]]] = {
        DefectStatus.SENT: ("sent_on",), DefectStatus.IN_PROGRESS: ("sent_on",), DefectStatus.CLOSED: ("closed_on",),
    }

    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    checklist_id: Mapped[int | None] = col(
        "交房验收", ForeignKey("move_in_checklist.id", ondelete="SET NULL"), index=True
    )
    location: Mapped[str] = col("部位", String(64), default="", doc="如：主卧、卫生间、阳台")
    description: Mapped[str] = col("问题描述", Text)
    found_on: Mapped[dt.date] = col("发现日期", Date, index=True)
    sent_on: Mapped[dt.date | None] = col("报开发商日期", Date, index=True)
    status: Mapped[DefectStatus] = col("状态", enum_type(DefectStatus), default=DefectStatus.PENDING, index=True)
    follow_up_id: Mapped[int | None] = col("跟进人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    result: Mapped[str] = col("整改结果", Text, default="")
    closed_on: Mapped[dt.date | None] = col("关闭日期", Date, index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    checklist: Mapped[MoveInChecklist | None] = relationship(back_populates="defects", info={"label": "交房验收"})
    follow_up: Mapped[Staff | None] = relationship(info={"label": "跟进人"})


class RectificationNotice(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """整改通知书: issued for a violation (私搭乱建、外置阳台罩、违规装修) with a deadline, then re-checked."""

    __tablename__ = "rectification_notice"
    __label__ = "整改通知书"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        CheckConstraint("deadline >= issued_on", name="deadline_after_issue",
                        info={"message": "{deadline}不能早于{issued_on}"}),
    )
    # 整改与否、逾期、上报, all follow the re-check (复查): its date is recorded.
    status_requires: ClassVar[dict[LabeledEnum, tuple[str, ...]]] = {
        NoticeStatus.RECTIFIED: ("checked_on",),
        NoticeStatus.OVERDUE: ("checked_on",),
        NoticeStatus.ESCALATED: ("checked_on",),
    }

    code: Mapped[str] = col("通知书编号", String(32))
    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    violation: Mapped[str] = col("违规事项", Text)
    requirement: Mapped[str] = col("整改要求", Text, default="")
    issued_on: Mapped[dt.date] = col("发出日期", Date, index=True)
    deadline: Mapped[dt.date] = col("整改期限", Date, index=True)
    issued_by_id: Mapped[int | None] = col("发出人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    status: Mapped[NoticeStatus] = col("状态", enum_type(NoticeStatus), default=NoticeStatus.ISSUED, index=True)
    checked_on: Mapped[dt.date | None] = col("复查日期", Date, index=True)
    check_result: Mapped[str] = col("复查结果", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    issued_by: Mapped[Staff | None] = relationship(info={"label": "发出人"})


class OwnerNotice(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """公告: a notice to residents (停水停电、缴费、温馨提示…) posted for a date range on the boards and groups."""

    __tablename__ = "owner_notice"
    __label__ = "公告"
    __table_args__ = (
        CheckConstraint("published_to IS NULL OR published_to >= published_from", name="period_ordered",
                        info={"message": "{published_to}不能早于{published_from}"}),
    )

    title: Mapped[str] = col("标题", String(100))
    body: Mapped[str] = col("正文", Text)
    audience: Mapped[Audience] = col("发布对象", enum_type(Audience), default=Audience.ALL, index=True)
    audience_note: Mapped[str] = col("发布范围", String(100), default="", doc="部分发布时注明，如：3栋、地下车库")
    published_from: Mapped[dt.date] = col("发布日期", Date, index=True)
    published_to: Mapped[dt.date | None] = col("截止日期", Date, index=True)
    issued_by_id: Mapped[int | None] = col("发布人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    issued_by: Mapped[Staff | None] = relationship(info={"label": "发布人"})


class VendorCheck(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """外包方月度检查: the month's quality score of an outside vendor (保洁、绿化…), what it must put right by when,
    and whether it did (整改情况, 复查日期, 复查结果)."""

    __tablename__ = "vendor_check"
    __label__ = "外包方月度检查"
    __table_args__ = (
        UniqueConstraint("project_id", "vendor_name", "service_kind", "month"),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range",
                        info={"message": "{score}须在 0–100 之间"}),
    )

    vendor_name: Mapped[str] = col("外包方", String(100), index=True)
    service_kind: Mapped[VendorService] = col("服务类别", enum_type(VendorService), index=True)
    month: Mapped[str] = col("检查月份", String(7), index=True, doc="YYYY-MM")
    score: Mapped[int] = col("得分", Integer, doc="0–100")
    findings: Mapped[str] = col("发现问题", Text, default="")
    rectify_by: Mapped[dt.date | None] = col("限期整改日期", Date)
    rectification: Mapped[VendorRectification] = col("整改情况", enum_type(VendorRectification),
                                                     default=VendorRectification.PENDING, index=True)
    rechecked_on: Mapped[dt.date | None] = col("复查日期", Date)
    recheck_result: Mapped[str] = col("复查结果", Text, default="", doc="复查时看到的整改结果")
    checked_by_id: Mapped[int | None] = col("检查人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    checked_by: Mapped[Staff | None] = relationship(info={"label": "检查人"})


class PlanSection(LabeledEnum):
    """The parts of a weekly plan (物业客服周计划怎么写: 概述、日常、特殊事项、培训、问题预判)."""

    GOAL = "goal", "本周目标"
    FOCUS = "focus", "工作重点"
    ROUTINE = "routine", "日常工作"
    SPECIAL = "special", "专项事项"
    TRAINING = "training", "培训学习"
    RISK = "risk", "问题预判"


class WeeklyTask(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """周计划: one task of the department's plan for a week, in its section, with the person responsible and its
    deadline — a day, and a time where it has one (「完成时间在当日17:00前」). An unfinished task is carried over to
    the next week as a new task pointing at it."""

    __tablename__ = "weekly_task"
    __label__ = "周计划"
    __table_args__ = (
        CheckConstraint("deadline >= week_start", name="deadline_after_start",
                        info={"message": "{deadline}不能早于{week_start}"}),
        UniqueConstraint("carried_from_id"),
    )

    week_start: Mapped[dt.date] = col("周起始日", Date, index=True, doc="该周星期一")
    section: Mapped[PlanSection] = col("计划部分", enum_type(PlanSection), default=PlanSection.ROUTINE,
                                       server_default=PlanSection.ROUTINE.value, index=True)
    task: Mapped[str] = col("工作任务", String(200))
    owner_id: Mapped[int] = col("负责人", ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    deadline: Mapped[dt.date] = col("完成时限", Date, index=True)
    deadline_time: Mapped[dt.time | None] = col("完成时间", Time, doc="当日几点前完成，如 17:00；不填为当日内")
    status: Mapped[TaskStatus] = col("状态", enum_type(TaskStatus), default=TaskStatus.NOT_STARTED, index=True)
    note: Mapped[str] = col("备注", Text, default="")
    carried_from_id: Mapped[int | None] = col("结转自", ForeignKey("weekly_task.id", ondelete="SET NULL"),
                                              doc="上周未完成、结转到本周的原任务")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    owner: Mapped[Staff] = relationship(info={"label": "负责人"})
    carried_from: Mapped[WeeklyTask | None] = relationship(remote_side="WeeklyTask.id", info={"label": "结转自"})

    def __str__(self) -> str:
        return display(self.week_start, self.task)


class WeeklyReview(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """周复盘: the week's review meeting — what was done, the problems found and the improvements decided
    (「每周工作结束后，召开复盘会议，总结本周工作，分析问题，制定改进措施」)."""

    __tablename__ = "weekly_review"
    __label__ = "周复盘"
    __table_args__ = (UniqueConstraint("project_id", "week_start"),)

    week_start: Mapped[dt.date] = col("周起始日", Date, index=True, doc="该周星期一")
    summary: Mapped[str] = col("本周工作总结", Text, default="")
    problems: Mapped[str] = col("存在问题", Text, default="")
    improvements: Mapped[str] = col("改进措施", Text, default="")
    reviewed_on: Mapped[dt.date] = col("复盘日期", Date)
    chaired_by_id: Mapped[int | None] = col("主持人", ForeignKey("user_account.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(info={"label": "项目"})
    chaired_by: Mapped[User | None] = relationship(info={"label": "主持人"})

    def __str__(self) -> str:
        return f"{self.week_start} 周复盘"


class VisitorEntry(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """来访登记: an outsider let in at the desk — who, whom they visit, which unit, why, with the document
    checked, and when they came and left (外来人员管理、来访登记)."""

    __tablename__ = "visitor_entry"
    __label__ = "来访登记"
    __table_args__ = (
        CheckConstraint("left_at IS NULL OR left_at >= arrived_at", name="left_after_arrived",
                        info={"message": "{left_at}不能早于{arrived_at}"}),
        CheckConstraint("people >= 1", name="people_positive", info={"message": "{people}至少 1 人"}),
        Index(None, "project_id", "arrived_at"),
    )

    visitor: Mapped[str] = col("来访人", String(64))
    visitor_phone: Mapped[str] = col("来访人电话", String(20), default="", info={"pii": "phone"})
    people: Mapped[int] = col("人数", Integer, default=1)
    purpose: Mapped[VisitPurpose] = col("来访事由", enum_type(VisitPurpose), default=VisitPurpose.VISIT, index=True)
    visiting: Mapped[str] = col("被访人", String(64), default="")
    unit_id: Mapped[int | None] = col("被访房屋", ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    document: Mapped[VisitorDocument] = col("查验证件", enum_type(VisitorDocument), default=VisitorDocument.ID_CARD)
    plate_no: Mapped[str] = col("车牌号", String(16), default="")
    arrived_at: Mapped[dt.datetime] = col("来访时间", UTCDateTime(), default=utcnow, index=True)
    left_at: Mapped[dt.datetime | None] = col("离开时间", UTCDateTime(), index=True)
    note: Mapped[str] = col("备注", Text, default="")
    recorded_by_id: Mapped[int | None] = col("登记人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "被访房屋"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "登记人"})

    def __str__(self) -> str:
        return display(self.visitor, self.visiting)
