"""客户诉求 (service requests), 派工单 (work orders), 回访/走访 (callbacks and visits), SLA and routing rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, relationship, validates

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    Money,
    ProjectScoped,
    TimestampMixin,
    UTCDateTime,
    VersionedMixin,
    brief,
    col,
    display,
    enum_type,
    list_order_indexes,
    loaded,
    sparse_indexes,
    trigram_indexes,
)
from .org import DepartmentKind

# 未办结重大投诉 (``actions.queues.major_open``, counted on every view of the home page): an index of only those
# few rows instead of a scan of every complaint. The predicate is spelled as each dialect renders the queue's
# ``complaint_major IS true`` — SQLite uses a partial index only for a WHERE term written the same way.
MAJOR_OPEN = {"postgresql": "complaint_major IS true AND closed_at IS NULL",
              "sqlite": "complaint_major IS 1 AND closed_at IS NULL"}

# ``ServiceRequest.stage``: the statuses a dispatch moves between share the key ``open``. The database holds the
# rule (a CHECK of this expression); ``stage_of`` is the same rule for a value being written.
STAGE = "CASE WHEN status IN ('pending', 'dispatched') THEN 'open' ELSE status END"
_OPEN_STAGE = ("pending", "dispatched")


def stage_of(status: str) -> str:
    """``STAGE`` of one status (a ``RequestStatus`` or its value)."""
    value = getattr(status, "value", status)
    return "open" if value in _OPEN_STAGE else value


def _default_stage(context: Any) -> str:
    # an INSERT's stage from the status it writes (the status's own default already applied: it comes first)
    return stage_of(context.get_current_parameters()["status"])

if TYPE_CHECKING:
    from .auth import User
    from .customers import Customer
    from .front_desk import SpecialService
    from .org import Department, Project, Staff, Unit


class Channel(LabeledEnum):
    PHONE = "phone", "电话"
    VISIT = "visit", "来访"
    WECHAT = "wechat", "微信"
    EMAIL = "email", "邮件"
    WEBSITE = "website", "网站"
    PATROL = "patrol", "巡查"


class RequestKind(LabeledEnum):
    REPAIR_PRIVATE = "repair_private", "报修(户内)"
    REPAIR_PUBLIC = "repair_public", "报修(公共)"
    COMPLAINT = "complaint", "投诉"
    INQUIRY = "inquiry", "咨询"
    HELP = "help", "求助"
    SUGGESTION = "suggestion", "建议"
    PRAISE = "praise", "表扬"


class RequestCategory(LabeledEnum):
    """问题类别: what the request is about; routing rules send each to a department."""

    PLUMBING = "plumbing", "水电"
    BUILDING = "building", "土建门窗"
    ELEVATOR = "elevator", "电梯设备"
    SECURITY = "security", "治安秩序"
    PARKING = "parking", "停车"
    NOISE = "noise", "噪音扰民"
    CLEANING = "cleaning", "环境卫生"
    GREENING = "greening", "绿化"
    FEES = "fees", "费用"
    SERVICE = "service", "服务态度"
    DEFECT = "defect", "房屋质量"
    OTHER = "other", "其他"


class Priority(LabeledEnum):
    URGENT = "urgent", "紧急"
    HIGH = "high", "高"
    NORMAL = "normal", "普通"
    LOW = "low", "低"


class RequestStatus(LabeledEnum):
    PENDING = "pending", "待派工"
    DISPATCHED = "dispatched", "已派工"
    ANSWERED = "answered", "已答复"
    CLOSED = "closed", "已关闭"
    CANCELLED = "cancelled", "已取消"


class WorkOrderStatus(LabeledEnum):
    DISPATCHED = "dispatched", "已派工"
    ACCEPTED = "accepted", "处理中"
    DONE = "done", "已完工"
    CALLED_BACK = "called_back", "已回访"
    CLOSED = "closed", "已关闭"
    # 撤销: the owner withdrew the request before the work was done (修好了/自己请了师傅) — reached only through
    # ``actions.requests.withdraw_request``; out of every figure, as the withdrawn request is
    CANCELLED = "cancelled", "已取消"


class VisitKind(LabeledEnum):
    REGULAR = "regular", "定期走访"
    SPECIAL = "special", "专项走访"
    COMPLAINT = "complaint", "投诉回访"
    PAID_SERVICE = "paid_service", "有偿服务回访"
    REPAIR = "repair", "维修工单回访"
    SURVEY = "survey", "满意度整改回访"


# The visits that are a work order's callback (回访率 counts the orders that had one): ``WorkOrder.callbacks``. A
# 专项回访 linked to an order is the callback of a 求助/咨询/建议 dispatched (only the order's 回访 step links one).
CALLBACK_KINDS = (VisitKind.COMPLAINT, VisitKind.PAID_SERVICE, VisitKind.REPAIR, VisitKind.SPECIAL)


class VisitWay(LabeledEnum):
    PHONE = "phone", "电话"
    DOOR = "door", "上门"
    PATROL = "patrol", "巡视"


class ComplaintValidity(LabeledEnum):
    """有效投诉: judged by a supervisor; a complaint is 待判定 until then (it is neither valid nor not)."""

    PENDING = "pending", "待判定"
    VALID = "valid", "有效"
    INVALID = "invalid", "无效"


class Satisfaction(LabeledEnum):
    SATISFIED = "satisfied", "满意"
    BASIC = "basic", "基本满意"
    UNSATISFIED = "unsatisfied", "不满意"


class ServiceRequest(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """客户诉求/报事: one call, visit or message. 首问负责人 — the first staff member the owner reached, of any
    department, with or without a console account — owns it until it is closed; 受理人 is who keyed it in."""

    __tablename__ = "service_request"
    __label__ = "客户诉求"
    # A write that changes an indexed column rewrites the row through every index; one that changes none
    # updates it in place on its page (PostgreSQL's HOT update, for which a page keeps room: fillfactor). No
    # index names ``status``, not even in a predicate: a dispatch turning 50,000 requests 已派工 changes only
    # ``stage``'s inputs, not its value, and writes no index (issue 17). None here repeats another's leading
    # columns (project, unit), none holds a few-valued column alone (kind: filtered within a project or a list
    # order), and the mostly empty ones are partial.
    __project_index__ = False
    __table_args__ = (
        Index(None, "project_id", "stage", "received_at"),
        Index(None, "project_id", "kind", "received_at"),  # a month's complaints (the KPIs, the home page)
        Index("ix_service_request_major_open", "complaint_major", "project_id",
              postgresql_where=text(MAJOR_OPEN["postgresql"]), sqlite_where=text(MAJOR_OPEN["sqlite"])),
        *list_order_indexes("received_at"),
        *trigram_indexes("service_request", "contact_name", "contact_phone"),
        Index(None, "unit_id", "category", "received_at"),
        *sparse_indexes("service_request", "complaint_validity", "repeat_of_id", "complained_staff_id",
                        "praised_staff_id", "special_service_id", "closed_at"),
        UniqueConstraint("form_token"),
        CheckConstraint(f"stage = ({STAGE})", name="stage_of_status",
                        info={"message": "{stage}与{status}不符"}),
        {"postgresql_with": {"fillfactor": 50}},  # room on its page for each row's next version (a dispatch)
    )

    channel: Mapped[Channel] = col("来源渠道", enum_type(Channel), default=Channel.PHONE)
    kind: Mapped[RequestKind] = col("诉求类型", enum_type(RequestKind))
    category: Mapped[RequestCategory] = col("问题类别", enum_type(RequestCategory), default=RequestCategory.OTHER)
    priority: Mapped[Priority] = col("优先级", enum_type(Priority), default=Priority.NORMAL)
    status: Mapped[RequestStatus] = col("状态", enum_type(RequestStatus), default=RequestStatus.PENDING)
    # What the status index keys by (``status_in``): 待派工 and 已派工 as one 未办结 — so 派工 leaves it as it was
    # — and every other status as itself. A plain column written with the status (an INSERT by its default, an
    # ORM write by ``_keep_stage``, a set-based UPDATE by ``status_values``), held by the CHECK ``stage_of_status``:
    # computed by the database instead, SQLite rewrote the index entry of every row whose status changed, though
    # its stage did not (issue 17).
    stage: Mapped[str] = col("办理阶段", String(16), default=_default_stage,
                            info={"audited": False, "index_key": True})
    unit_id: Mapped[int | None] = col("房屋", ForeignKey("unit.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    contact_name: Mapped[str] = col("联系人", String(64), default="")
    contact_phone: Mapped[str] = col("联系电话", String(20), default="", index=True, info={"pii": "phone"})
    content: Mapped[str] = col("诉求内容", Text)
    received_at: Mapped[dt.datetime] = col("受理时间", UTCDateTime())
    receiver_id: Mapped[int | None] = col(
        "受理人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True, doc="在系统中登记该诉求的账号"
    )
    first_staff_id: Mapped[int | None] = col(
        "首问负责人", ForeignKey("staff.id", ondelete="SET NULL"), index=True,
        doc="首问负责制：第一个接待业主的员工（不受部门限制），跟进至办结",
    )
    repeat_of_id: Mapped[int | None] = col(
        "重复诉求", ForeignKey("service_request.id", ondelete="SET NULL"), doc="同一房屋同类问题短期内再次报事"
    )
    # 投诉 only
    complaint_validity: Mapped[ComplaintValidity | None] = col(
        "有效投诉", enum_type(ComplaintValidity), doc="由客服主管判定：待判定 / 有效 / 无效"
    )
    # 细则：被业主投诉者，视情况扣5-10分 — one complaint, one deduction: the supervisor's choice replaces the
    # provisional one the records give (ScoringRule of source 有效投诉), it never adds to it.
    complaint_points: Mapped[Decimal | None] = col(
        "评定扣分", Numeric(6, 1), doc="主管对被投诉员工的评定（扣分为负数）；未评定时按细则暂定扣分"
    )
    complaint_judged_by_id: Mapped[int | None] = col("判定人", ForeignKey("user_account.id", ondelete="SET NULL"))
    complaint_judged_at: Mapped[dt.datetime | None] = col("判定时间", UTCDateTime())
    complaint_major: Mapped[bool] = col("重大投诉", Boolean, default=False, doc="须报客服经理/分公司")
    complained_staff_id: Mapped[int | None] = col("被投诉员工", ForeignKey("staff.id", ondelete="SET NULL"))
    praised_staff_id: Mapped[int | None] = col("被表扬员工", ForeignKey("staff.id", ondelete="SET NULL"))
    reply: Mapped[str] = col("答复内容", Text, default="")
    special_service_id: Mapped[int | None] = col(
        "特约服务", ForeignKey("special_service.id", ondelete="SET NULL"),
        doc="业主预约的有偿特约服务（家政等）：从本项目的特约服务目录中选择",
    )
    closed_at: Mapped[dt.datetime | None] = col("办结时间", UTCDateTime())
    form_token: Mapped[str | None] = col("受理表单", String(32), doc="受理诉求表单的一次性编号")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    receiver: Mapped[User | None] = relationship(foreign_keys=[receiver_id], info={"label": "受理人"})
    first_staff: Mapped[Staff | None] = relationship(foreign_keys=[first_staff_id], info={"label": "首问负责人"})
    complaint_judged_by: Mapped[User | None] = relationship(foreign_keys=[complaint_judged_by_id],
                                                            info={"label": "判定人"})
    complained_staff: Mapped[Staff | None] = relationship(foreign_keys=[complained_staff_id], info={"label": "被投诉员工"})
    praised_staff: Mapped[Staff | None] = relationship(foreign_keys=[praised_staff_id], info={"label": "被表扬员工"})
    special_service: Mapped[SpecialService | None] = relationship(info={"label": "特约服务"})
    repeat_of: Mapped[ServiceRequest | None] = relationship(remote_side="ServiceRequest.id", info={"label": "重复诉求"})
    work_orders: Mapped[list[WorkOrder]] = relationship(back_populates="request", info={"label": "派工单"})

    __display_loads__ = ("unit",)

    def __str__(self) -> str:  # 报修(户内)#12 1栋-101 厨房水管漏水
        return display(f"{self.kind.label if self.kind else ''}#{self.id}", self.about())

    def about(self) -> str:
        """Where and what, as a picker names it: 1栋-101 厨房水管漏水…."""
        return display(loaded(self, "unit"), brief(self.content))

    @validates("status")
    def _keep_stage(self, _key: str, status: RequestStatus) -> RequestStatus:
        self.stage = stage_of(status)  # unchanged (待派工 → 已派工): no write, the ORM sends only what changed
        return status

    @classmethod
    def status_values(cls, status: RequestStatus) -> dict[str, Any]:
        """The values of a set-based UPDATE to ``status``, its stage with it (``update(...).values(**…)``)."""
        return {"status": status, "stage": stage_of(status)}

    @classmethod
    def status_in(cls, *statuses: RequestStatus) -> ColumnElement[bool]:
        """The requests in one of ``statuses``, as the (project, stage, received_at) index finds them: by their
        stage, and among the 未办结 ones (few beside the years of closed ones) by their status."""
        stages = sorted({"open" if s.value in _OPEN_STAGE else s.value for s in statuses})
        clause = cls.stage.in_(stages)
        if "open" in stages and not set(_OPEN_STAGE) <= {s.value for s in statuses}:  # one of the two: which
            clause = and_(clause, cls.status.in_(statuses))
        return clause


class WorkOrder(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """派工单/维修单. "真正的结束是在回访之后": it closes only after a satisfied callback; an unsatisfied one
    sends it back for rework."""

    __tablename__ = "work_order"
    __label__ = "派工单"
    __table_args__ = (
        UniqueConstraint("request_id"),  # one order per request: a double dispatch inserts nothing twice
        Index(None, "project_id", "status", "complete_due_at"),
        Index(None, "department_id", "status"),
        Index(None, "project_id", "created_at"),
        # a month's closed orders and how many were called back (回访率), from the index alone; also where SQLite
        # keeps no statistics
        Index(None, "project_id", "closed_at", "callbacks"),
        *list_order_indexes("dispatched_at"),
        *trigram_indexes("work_order", "result"),
        CheckConstraint("quote >= 0 AND charge >= 0", name="money_nonneg",
                        info={"message": "{quote}、{charge}不能为负数"}),
    )

    request_id: Mapped[int] = col("客户诉求", ForeignKey("service_request.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = col("处理部门", ForeignKey("department.id", ondelete="RESTRICT"))
    assignee_id: Mapped[int | None] = col("处理人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    priority: Mapped[Priority] = col("优先级", enum_type(Priority), default=Priority.NORMAL)
    status: Mapped[WorkOrderStatus] = col("状态", enum_type(WorkOrderStatus), default=WorkOrderStatus.DISPATCHED, index=True)
    dispatched_at: Mapped[dt.datetime] = col("派工时间", UTCDateTime())
    dispatched_by_id: Mapped[int | None] = col("派工人", ForeignKey("user_account.id", ondelete="SET NULL"))
    respond_due_at: Mapped[dt.datetime] = col("响应时限", UTCDateTime(), index=True)
    complete_due_at: Mapped[dt.datetime] = col("完成时限", UTCDateTime())
    accepted_at: Mapped[dt.datetime | None] = col("接单时间", UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = col("完工时间", UTCDateTime(), index=True)
    closed_at: Mapped[dt.datetime | None] = col("关闭时间", UTCDateTime(), index=True)
    result: Mapped[str] = col("处理结果", Text, default="")
    paid_service: Mapped[bool] = col("有偿服务", Boolean, default=False)
    quote: Mapped[Decimal] = col("报价(元)", Money, default=Decimal("0"), doc="有偿服务须在施工前经业主确认报价")
    quote_accepted: Mapped[bool] = col("业主已确认报价", Boolean, default=False)
    charge: Mapped[Decimal] = col("收费(元)", Money, default=Decimal("0"))
    reopen_count: Mapped[int] = col("返工次数", Integer, default=0)
    # Kept by the database with every write to a visit (models.totals.CALLBACKS), never written by hand: the
    # month's 回访率 counts its closed orders with callbacks > 0 from the index above, instead of probing the
    # visits once per order (a branch's 41,000 orders of a month: 51 ms of SQLite's CPU).
    callbacks: Mapped[int] = col("回访次数", Integer, default=0, server_default="0")
    reassign_note: Mapped[str] = col("转派原因", String(255), default="")
    # 撤销 (已取消): when and why; who is in its audit row. Not 关闭时间: the month's closed orders are the 回访率's
    # denominator, and a withdrawn order was neither done nor called back
    cancelled_at: Mapped[dt.datetime | None] = col("取消时间", UTCDateTime())
    cancel_reason: Mapped[str] = col("撤销原因", String(200), default="", server_default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    request: Mapped[ServiceRequest] = relationship(back_populates="work_orders", info={"label": "客户诉求"})
    department: Mapped[Department] = relationship(info={"label": "处理部门"})
    assignee: Mapped[Staff | None] = relationship(info={"label": "处理人"})
    dispatched_by: Mapped[User | None] = relationship(info={"label": "派工人"})

    __display_loads__ = ("request",)

    def __str__(self) -> str:  # 派工单#861 1栋-101 厨房水管漏水
        request = loaded(self, "request")
        return display(f"派工单#{self.id}", request.about() if request is not None else "")


class Visit(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """回访/走访: a callback after a repair, complaint or paid service, or a planned household visit.
    An issue raised in a visit that is a complaint enters the complaint process as a new request."""

    __tablename__ = "visit"
    __label__ = "回访走访"
    __table_args__ = (
        Index(None, "project_id", "kind", "visited_at"),
        Index(None, "unit_id", "visited_at"),
        # "has this work order had a callback (of these kinds)?" — answered from the index alone (回访率)
        Index(None, "work_order_id", "kind"),
        # 登记走访 sent twice (a double click) records once; an index, not a constraint: on SQLite a new
        # constraint would rebuild the table and drop the callback-count triggers it carries
        Index(None, "form_token", unique=True),
    )

    kind: Mapped[VisitKind] = col("类型", enum_type(VisitKind), index=True)
    way: Mapped[VisitWay] = col("方式", enum_type(VisitWay), default=VisitWay.PHONE)
    unit_id: Mapped[int | None] = col("房屋", ForeignKey("unit.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int | None] = col("客户", ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    work_order_id: Mapped[int | None] = col("派工单", ForeignKey("work_order.id", ondelete="SET NULL"))
    request_id: Mapped[int | None] = col("客户诉求", ForeignKey("service_request.id", ondelete="SET NULL"), index=True)
    visited_at: Mapped[dt.datetime] = col("回访时间", UTCDateTime())
    visitor_id: Mapped[int | None] = col("回访人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    result: Mapped[Satisfaction | None] = col("回访结果", enum_type(Satisfaction), index=True)
    notes: Mapped[str] = col("回访记录", Text, default="")
    issues_raised: Mapped[str] = col("反映问题", Text, default="")
    form_token: Mapped[str | None] = col("走访表单", String(32), doc="登记走访表单的一次性编号")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit: Mapped[Unit | None] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer | None] = relationship(info={"label": "客户"})
    work_order: Mapped[WorkOrder | None] = relationship(info={"label": "派工单"})
    request: Mapped[ServiceRequest | None] = relationship(info={"label": "客户诉求"})
    visitor: Mapped[User | None] = relationship(info={"label": "回访人"})


class SlaRule(IdMixin, VersionedMixin, Base):
    """时限规则: response and completion limits by request kind and priority (project empty = default)."""

    __tablename__ = "sla_rule"
    __label__ = "时限规则"
    __table_args__ = (
        UniqueConstraint("project_id", "kind", "priority"),
        # the default (项目为空) too: a constraint's NULL is never equal to another's, so a second default of a kind
        # and priority was taken, and 派工 used one or the other. Partial: MariaDB (schema only) has none, and would
        # make it unique over every project's rules
        Index("uq_sla_rule_default", "kind", "priority", unique=True, postgresql_where=text("project_id IS NULL"),
              sqlite_where=text("project_id IS NULL")).ddl_if(dialect=("postgresql", "sqlite")),
        CheckConstraint("respond_minutes > 0 AND complete_hours > 0", name="positive",
                        info={"message": "{respond_minutes}、{complete_hours}须大于 0"}),
    )

    project_id: Mapped[int | None] = col("项目", ForeignKey("project.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RequestKind] = col("诉求类型", enum_type(RequestKind))
    priority: Mapped[Priority] = col("优先级", enum_type(Priority))
    respond_minutes: Mapped[int] = col("响应时限(分钟)", Integer)
    complete_hours: Mapped[int] = col("完成时限(小时)", Integer)

    project: Mapped[Project | None] = relationship(info={"label": "项目"})


class RoutingRule(IdMixin, VersionedMixin, Base):
    """派工路由: which kind of department takes a request category when the dispatcher chooses none."""

    __tablename__ = "routing_rule"
    __label__ = "派工路由"
    __table_args__ = (UniqueConstraint("category"),)

    category: Mapped[RequestCategory] = col("问题类别", enum_type(RequestCategory))
    department_kind: Mapped[DepartmentKind] = col("处理部门类别", enum_type(DepartmentKind))
