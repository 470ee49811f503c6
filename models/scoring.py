"""员工考核: the assessment rules as data, score events, monthly scores, grade bands and the 服务之星."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    true,
)
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
)

if TYPE_CHECKING:
    from .auth import User
    from .org import Project, Staff


class RuleCategory(LabeledEnum):
    RECEPTION = "reception", "接待"
    ANSWER = "answer", "答复"
    COOPERATION = "cooperation", "协作"
    DUTY_RECORD = "duty_record", "值班记录"
    APPEARANCE = "appearance", "仪容仪表"
    DISCIPLINE = "discipline", "纪律"
    ATTENDANCE = "attendance", "考勤"
    SECURITY = "security", "安全防范"
    COMPLAINT = "complaint", "客户投诉"
    WORK_ORDER = "work_order", "工单时效"
    CALLBACK = "callback", "回访"
    PRAISE = "praise", "表扬"


class EventSource(LabeledEnum):
    MANUAL = "manual", "人工录入"
    COMPLAINT = "complaint", "有效投诉"
    OVERDUE_ORDER = "overdue_order", "超时工单"
    UNSATISFIED_CALLBACK = "unsatisfied_callback", "不满意回访"
    PRAISE = "praise", "客户表扬"


class MonthStatus(LabeledEnum):
    DRAFT = "draft", "草稿"
    CONFIRMED = "confirmed", "已确认"


class ScoringRule(IdMixin, TimestampMixin, VersionedMixin, Base):
    """考核细则: one line of 客户服务部员工考核实施细则 — points per occurrence, or a range the supervisor
    chooses within. A rule applies in the months between ``valid_from`` and ``valid_to``."""

    __tablename__ = "scoring_rule"
    __label__ = "考核细则"
    __table_args__ = (
        UniqueConstraint("code", "valid_from"),
        CheckConstraint("points_min <= points_max", name="range_ordered",
                        info={"message": "{points_min}不能大于{points_max}"}),
    )

    code: Mapped[str] = col("编码", String(32), index=True)
    category: Mapped[RuleCategory] = col("类别", enum_type(RuleCategory), index=True)
    description: Mapped[str] = col("考核内容", Text)
    points_min: Mapped[Decimal] = col("分值下限", Numeric(6, 1), doc="扣分为负数，加分为正数")
    points_max: Mapped[Decimal] = col("分值上限", Numeric(6, 1))
    choose_in_range: Mapped[bool] = col("须在区间内评定", Boolean, default=False)
    source: Mapped[EventSource] = col("来源", enum_type(EventSource), default=EventSource.MANUAL)
    company_own: Mapped[bool] = col("本公司自定", Boolean, default=False,
                                    doc="细则原文未载分值，分值为本公司自定（可按本公司制度修订）")
    valid_from: Mapped[dt.date] = col("生效日期", Date)
    valid_to: Mapped[dt.date | None] = col("失效日期", Date)

    def __str__(self) -> str:
        # A supervisor reads a rule by its number and category (5.1 仪容仪表：…); one the system applies from the
        # records by where it comes from (有效投诉：…), its AUTO- code means nothing to them.
        if self.source in (None, EventSource.MANUAL):
            head = display(self.code, self.category.label if self.category else "")
        else:
            head = self.source.label
        text = f"{head}：{self.description}" if self.description else head
        return f"{text}（有效至 {self.valid_to}）" if self.valid_to else text


class ScoreEvent(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """考核记录: an occurrence scored against a rule, typed by a supervisor or derived from a record
    (a valid complaint, an overdue order, an unsatisfied callback, a praise) — each source counted once."""

    __tablename__ = "score_event"
    __label__ = "考核记录"
    __table_args__ = (
        UniqueConstraint("source", "source_id", "staff_id"),
        # A resubmitted 录入考核 form (a double click, a refresh) records nothing twice.
        UniqueConstraint("form_token", "staff_id"),
        # Covering: the monthly compute reads its sums from this index alone, never the table.
        Index(None, "project_id", "event_date", "staff_id", "rule_id", "points"),
        Index(None, "staff_id", "event_date"),
    )

    staff_id: Mapped[int] = col("员工", ForeignKey("staff.id", ondelete="RESTRICT"))
    event_date: Mapped[dt.date] = col("日期", Date)
    rule_id: Mapped[int] = col("考核细则", ForeignKey("scoring_rule.id", ondelete="RESTRICT"), index=True)
    points: Mapped[Decimal] = col("分值", Numeric(6, 1))
    note: Mapped[str] = col("说明", Text, default="")
    source: Mapped[EventSource] = col("来源", enum_type(EventSource), default=EventSource.MANUAL)
    source_id: Mapped[int | None] = col("来源记录", Integer, doc="来源为投诉/工单/回访时的记录编号")
    recorded_by_id: Mapped[int | None] = col("记录人", ForeignKey("user_account.id", ondelete="SET NULL"))
    form_token: Mapped[str | None] = col("录入表单", String(32), doc="录入考核表单的一次性编号")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    staff: Mapped[Staff] = relationship(info={"label": "员工"})
    rule: Mapped[ScoringRule] = relationship(info={"label": "考核细则"})
    recorded_by: Mapped[User | None] = relationship(info={"label": "记录人"})


class ScoreTotal(Base):
    """考核汇总: a project's score events of one month added up per employee and rule — what the monthly compute
    reads instead of every event of the month. Kept by the database in the transaction of every write to an
    event, whatever makes it (``models.totals``); never written by hand. A key whose events are all gone stays
    with 0 events (the compute leaves it out). The employee and the rule are those of its events, which the
    events' own foreign keys hold: none here, so a first compute's new keys cost no lookups of them."""

    __tablename__ = "score_total"
    __label__ = "考核汇总"

    project_id: Mapped[int] = col("项目", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = col("月份", String(7), primary_key=True)
    staff_id: Mapped[int] = col("员工", Integer, primary_key=True)
    rule_id: Mapped[int] = col("考核细则", Integer, primary_key=True)
    points: Mapped[Decimal] = col("分值合计", Numeric(12, 1), default=Decimal("0"))
    events: Mapped[int] = col("记录数", Integer, default=0)


class GradeBand(IdMixin, VersionedMixin, Base):
    """考核等级: the lowest total that earns a grade (优秀/良好/合格/不合格), and the reward or penalty the grade
    brings when the month is confirmed (「依据平常成绩到月底进行奖惩」「做到有奖有罚，奖罚分明」)."""

    __tablename__ = "grade_band"
    __label__ = "考核等级"
    __table_args__ = (UniqueConstraint("name"),)

    name: Mapped[str] = col("等级", String(16))
    min_total: Mapped[Decimal] = col("最低分", Numeric(6, 1))
    reward: Mapped[Decimal] = col("奖惩金额", Numeric(10, 2), default=Decimal("0"), server_default="0",
                                  doc="正数为奖励，负数为处罚，0 为不奖不罚（元）")
    reward_note: Mapped[str] = col("奖惩说明", Text, default="", server_default="")


class RewardKind(LabeledEnum):
    REWARD = "reward", "奖励"
    PENALTY = "penalty", "处罚"
    NONE = "none", "不奖不罚"


class RewardEntry(IdMixin, ProjectScoped, TimestampMixin, Base):
    """奖惩记录: what an employee's confirmed monthly score earns — derived from the grade's 奖惩金额 when the
    supervisor confirms the month, removed when the manager reopens it; the payroll reads it."""

    __tablename__ = "reward_entry"
    __label__ = "奖惩记录"
    __table_args__ = (UniqueConstraint("staff_id", "month"), Index(None, "project_id", "month"))

    staff_id: Mapped[int] = col("员工", ForeignKey("staff.id", ondelete="RESTRICT"))
    month: Mapped[str] = col("月份", String(7), index=True)
    total: Mapped[Decimal] = col("总分", Numeric(6, 1))
    grade: Mapped[str] = col("等级", String(16))
    kind: Mapped[RewardKind] = col("奖惩", enum_type(RewardKind), index=True)
    amount: Mapped[Decimal] = col("金额", Numeric(10, 2), doc="正数为奖励，负数为处罚（元）")
    note: Mapped[str] = col("说明", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    staff: Mapped[Staff] = relationship(info={"label": "员工"})


class ScoreMonth(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """月度考核: a project's month, draft until the supervisor confirms it; the manager may reopen it."""

    __tablename__ = "score_month"
    __label__ = "月度考核"
    __table_args__ = (UniqueConstraint("project_id", "month"),)

    month: Mapped[str] = col("月份", String(7), index=True)
    status: Mapped[MonthStatus] = col("状态", enum_type(MonthStatus), default=MonthStatus.DRAFT)
    base_score: Mapped[Decimal] = col("基础分", Numeric(6, 1), default=Decimal("100"))
    computed_at: Mapped[dt.datetime | None] = col("计算时间", UTCDateTime())
    confirmed_by_id: Mapped[int | None] = col("确认人", ForeignKey("user_account.id", ondelete="SET NULL"))
    confirmed_at: Mapped[dt.datetime | None] = col("确认时间", UTCDateTime())
    spot_check_note: Mapped[str] = col("抽查意见", Text, default="")
    reopened_by_id: Mapped[int | None] = col("重新开放人", ForeignKey("user_account.id", ondelete="SET NULL"))
    reopened_at: Mapped[dt.datetime | None] = col("重新开放时间", UTCDateTime())
    # Set in the transaction of every write that can change the month's scores (actions.score_inputs), cleared
    # by a compute: a recompute of an unchanged month has nothing to derive or sum again.
    inputs_changed: Mapped[bool] = col("计算后有变化", Boolean, default=True, server_default=true(),
                                       doc="上次计算之后，考核记录或其来源记录（投诉、表扬、工单、回访、员工、细则、等级）有变化")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id], info={"label": "确认人"})


class MonthlyScore(IdMixin, ProjectScoped, Base):
    """月度得分: an employee's total for a month with its breakdown by category, rank and grade."""

    __tablename__ = "monthly_score"
    __label__ = "月度得分"
    __table_args__ = (UniqueConstraint("staff_id", "month"), Index(None, "project_id", "month", "rank"))

    staff_id: Mapped[int] = col("员工", ForeignKey("staff.id", ondelete="RESTRICT"))
    month: Mapped[str] = col("月份", String(7))
    base_score: Mapped[Decimal] = col("基础分", Numeric(6, 1))
    deductions: Mapped[Decimal] = col("扣分", Numeric(6, 1))
    additions: Mapped[Decimal] = col("加分", Numeric(6, 1))
    total: Mapped[Decimal] = col("总分", Numeric(6, 1))
    rank: Mapped[int] = col("排名", Integer)
    grade: Mapped[str] = col("等级", String(16))
    by_category: Mapped[dict[str, Any]] = col("分类明细", JSON, default=dict)
    event_count: Mapped[int] = col("记录数", Integer, default=0)

    project: Mapped[Project] = relationship(info={"label": "项目"})
    staff: Mapped[Staff] = relationship(info={"label": "员工"})


class ServiceStar(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """服务之星: a project's 推荐表 for a quarter (the nominee and the reason); the branch's decision, with who
    decided and when, the 通报表扬 and the reward."""

    __tablename__ = "service_star"
    __label__ = "服务之星"
    __table_args__ = (UniqueConstraint("quarter", "staff_id"),)

    quarter: Mapped[str] = col("季度", String(7), index=True, doc="例如 2026Q2")
    staff_id: Mapped[int] = col("员工", ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    reason: Mapped[str] = col("推荐理由", Text, default="", doc="主要事迹")
    nominated_by_id: Mapped[int | None] = col("推荐人", ForeignKey("user_account.id", ondelete="SET NULL"))
    chosen: Mapped[bool] = col("当选", Boolean, default=False)
    chosen_by_id: Mapped[int | None] = col("评定人", ForeignKey("user_account.id", ondelete="SET NULL"))
    chosen_at: Mapped[dt.datetime | None] = col("评定时间", UTCDateTime())
    commendation: Mapped[str] = col("通报表扬", Text, default="", server_default="")
    reward: Mapped[Decimal | None] = col("奖励金额", Numeric(10, 2), doc="分公司评定时给予的奖励（元）")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    staff: Mapped[Staff] = relationship(info={"label": "员工"})


class StarDeadline(IdMixin, TimestampMixin, VersionedMixin, Base):
    """服务之星推荐截止日 of a quarter as the company sets it; a quarter without one closes on the default, the last
    Wednesday of its last month (「于每月最后一周的星期三交给分公司行政人事部」, 004 (四) 1)."""

    __tablename__ = "star_deadline"
    __label__ = "服务之星推荐截止日"
    __table_args__ = (UniqueConstraint("quarter"),)

    quarter: Mapped[str] = col("季度", String(7), doc="例如 2026Q4")
    deadline: Mapped[dt.date] = col("推荐截止日", Date)
    note: Mapped[str] = col("说明", String(255), default="")
    set_by_id: Mapped[int | None] = col("设定人", ForeignKey("user_account.id", ondelete="SET NULL"))

    set_by: Mapped[User | None] = relationship(info={"label": "设定人"})

    def __str__(self) -> str:
        return f"{self.quarter} {self.deadline}"
