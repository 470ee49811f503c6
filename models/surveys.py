"""满意度调查: campaigns, the households surveyed, responses with their department scores, corrective actions."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Mapped, column_property, relationship

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
    from .imports import ImportBatch
    from .org import Project, Staff, Unit


class SurveyTopic(LabeledEnum):
    """被评价的部门/项目 on a survey form."""

    SERVICE = "service", "客服部"
    ENGINEERING = "engineering", "工程部"
    SECURITY = "security", "秩序维护"
    ENVIRONMENT = "environment", "环境卫生"
    GREENING = "greening", "绿化"
    DEVELOPER = "developer", "开发公司工程部"


class SurveyStatus(LabeledEnum):
    PLANNED = "planned", "筹备中"
    DISTRIBUTING = "distributing", "发放中"
    COLLECTED = "collected", "已回收"
    CLOSED = "closed", "已结束"


class ActionStatus(LabeledEnum):
    OPEN = "open", "整改中"
    DONE = "done", "已整改"
    VERIFIED = "verified", "已回访确认"


class Survey(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """满意度调查 campaign of one project and period (the department runs one every half year)."""

    __tablename__ = "survey"
    __label__ = "满意度调查"
    __table_args__ = (UniqueConstraint("project_id", "title"),)

    title: Mapped[str] = col("调查名称", String(128))
    period: Mapped[str] = col("调查期间", String(16), doc="例如 2026H1")
    start_date: Mapped[dt.date | None] = col("开始日期", Date)
    end_date: Mapped[dt.date | None] = col("结束日期", Date)
    status: Mapped[SurveyStatus] = col("状态", enum_type(SurveyStatus), default=SurveyStatus.PLANNED)
    scale_max: Mapped[int] = col("满分", Integer, default=5)

    project: Mapped[Project] = relationship(info={"label": "项目"})


class SurveyHousehold(IdMixin, ProjectScoped, VersionedMixin, Base):
    """被调查户: a unit included in the campaign, with the form's hand-out and signed receipt (文件签收单)."""

    __tablename__ = "survey_household"
    __label__ = "被调查户"
    # Half of each PostgreSQL page left free: an import's UPDATE of 已回收 over 100,000 households then keeps
    # each row on its page and touches no index (a HOT update; ``collected`` is in none).
    __table_args__ = (
        UniqueConstraint("survey_id", "unit_id"),
        # what a form's one foreign key names (``SurveyResponse``): its household, and through it survey, unit, project
        Index("uq_survey_household_project_survey_unit", "project_id", "survey_id", "unit_id", unique=True),
        {"postgresql_with": {"fillfactor": 50}},
    )

    survey_id: Mapped[int] = col("满意度调查", ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    distributed_at: Mapped[dt.date | None] = col("发放日期", Date)
    receipt_signed: Mapped[bool] = col("已签收", Boolean, default=False)
    collected: Mapped[bool] = col("已回收", Boolean, default=False)

    survey: Mapped[Survey] = relationship(info={"label": "满意度调查"})
    unit: Mapped[Unit] = relationship(info={"label": "房屋"})


# 六个部门的评分 live on the form itself, one column each: an import writes one row per form (COPY on
# PostgreSQL) and the reports sum six columns of the forms instead of re-aggregating six rows per form.
SCORE_COLUMNS: dict[SurveyTopic, str] = {t: f"{t.value}_score" for t in SurveyTopic}


class SurveyAnswerTally(Base):
    """答卷汇总: per survey, how many forms gave each score to one question — a department (its
    ``SurveyTopic`` value) or 总体满意度 (``overall``). What the KPIs and the home page count satisfaction by,
    instead of a branch's 100,000 forms; kept by the database with every write to a form (``models.totals``),
    never written by hand."""

    __tablename__ = "survey_answer_tally"
    __label__ = "答卷汇总"
    OVERALL = "overall"  # the question of 总体满意度

    survey_id: Mapped[int] = col("满意度调查", ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    question: Mapped[str] = col("题目", String(16), primary_key=True)
    score: Mapped[int] = col("评分", Integer, primary_key=True)
    forms: Mapped[int] = col("份数", Integer, default=0)


class SurveyHouseholdTally(Base):
    """调查户数汇总: per survey, households surveyed, collected or not (调查率); kept like
    :class:`SurveyAnswerTally`, from ``survey_household``."""

    __tablename__ = "survey_household_tally"
    __label__ = "调查户数汇总"

    survey_id: Mapped[int] = col("满意度调查", ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    collected: Mapped[bool] = col("已回收", Boolean, primary_key=True)
    households: Mapped[int] = col("户数", Integer, default=0)


def _score_checks() -> tuple[CheckConstraint, ...]:
    return tuple(
        CheckConstraint(f"{name} IS NULL OR ({name} >= 1 AND {name} <= 10)", name=f"{name}_range",
                        info={"message": f"{{{name}}}须在 1–10 之间"})
        for name in SCORE_COLUMNS.values()
    )


class SurveyResponse(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """问卷: one household's answered form with its department scores; a unit answers a survey once."""

    __tablename__ = "survey_response"
    __label__ = "调查问卷"
    __table_args__ = (
        UniqueConstraint("survey_id", "unit_id"),
        # A form is its household's answer: one foreign key to the household holds its survey, unit and project
        # (the household's own keys hold those), where three of their own cost three checks per form — an
        # import's 100,000 forms spent most of their COPY on them. Deleting the household (its survey, its unit)
        # deletes the form; a unit with forms is refused before that (``actions.surveys``). On PostgreSQL the same
        # key is held by statement triggers instead (``models.survey_keys``): one check of a COPY's 100,000 forms
        # rather than a lookup and a row lock per form (the COPY of 100,000: 1.37 → 1.02 s of CPU, client and server).
        ForeignKeyConstraint(["project_id", "survey_id", "unit_id"],
                             ["survey_household.project_id", "survey_household.survey_id", "survey_household.unit_id"],
                             ondelete="CASCADE").ddl_if(dialect=("sqlite", "mysql", "mariadb")),
        CheckConstraint("overall_score IS NULL OR (overall_score >= 1 AND overall_score <= 10)", name="overall_range",
                        info={"message": "{overall_score}须在 1–10 之间"}),
        *_score_checks(),
    )

    project_id: Mapped[int] = col("项目", Integer, index=True)
    # No index of their own: every read by survey leads the unique (survey_id, unit_id) with it, and the one read
    # by unit (a unit's delete rule) goes through its households to that unique key. Each would cost every
    # imported form an index write and answer nothing more (issue 17).
    survey_id: Mapped[int] = col("满意度调查", Integer)
    unit_id: Mapped[int] = col("房屋", Integer)
    respondent: Mapped[str] = col("填表人", String(64), default="")
    signed: Mapped[bool] = col("已署名", Boolean, default=False)
    answered_on: Mapped[dt.date | None] = col("填表日期", Date)
    service_score: Mapped[int | None] = col(SurveyTopic.SERVICE.label, Integer)
    engineering_score: Mapped[int | None] = col(SurveyTopic.ENGINEERING.label, Integer)
    security_score: Mapped[int | None] = col(SurveyTopic.SECURITY.label, Integer)
    environment_score: Mapped[int | None] = col(SurveyTopic.ENVIRONMENT.label, Integer)
    greening_score: Mapped[int | None] = col(SurveyTopic.GREENING.label, Integer)
    developer_score: Mapped[int | None] = col(SurveyTopic.DEVELOPER.label, Integer)
    overall_score: Mapped[int | None] = col("总体满意度", Integer)
    comments: Mapped[str] = col("意见建议", Text, default="")
    batch_id: Mapped[int | None] = col("导入批次", ForeignKey("import_batch.id", ondelete="SET NULL"), index=True)

    # held by the household's key rather than keys of their own, so each join is spelled out
    project: Mapped[Project] = relationship(primaryjoin="foreign(SurveyResponse.project_id) == Project.id",
                                            info={"label": "项目"})
    survey: Mapped[Survey] = relationship(primaryjoin="foreign(SurveyResponse.survey_id) == Survey.id",
                                          info={"label": "满意度调查"})
    unit: Mapped[Unit] = relationship(primaryjoin="foreign(SurveyResponse.unit_id) == Unit.id", info={"label": "房屋"})
    batch: Mapped[ImportBatch | None] = relationship(info={"label": "导入批次"})
    scores: Mapped[list[SurveyScore]] = relationship(
        primaryjoin="SurveyResponse.id == foreign(SurveyScore.response_id)", viewonly=True,
        order_by="SurveyScore.id", info={"label": "分项评分"},
    )

    __display_loads__ = ("survey", "unit")

    def __str__(self) -> str:  # 2026年上半年满意度调查 1栋-101 张伟
        return display(loaded(self, "survey"), loaded(self, "unit"), self.respondent) or super().__str__()

    def score_of(self, topic: SurveyTopic) -> int | None:
        return getattr(self, SCORE_COLUMNS[topic])


def score_column(topic: SurveyTopic) -> InstrumentedAttribute[int | None]:
    """The form's column holding ``topic``'s score."""
    return getattr(SurveyResponse, SCORE_COLUMNS[topic])


# One row per given department score, read from the forms' columns: what the 答题数 / 满意及以上 figures count,
# so their lists hold exactly the counted answers. Not a table: its rows are written as the forms' columns.
# The id packs the form and the department (form id × 8 + the department's place), stable and unique.
_ANSWERS = union_all(*(
    # constants in the SQL, so a filter on the department prunes the other five branches when planned
    select((SurveyResponse.id * literal_column("8") + literal_column(str(i))).label("id"),
           SurveyResponse.id.label("response_id"),
           literal_column(f"'{t.value}'", enum_type(SurveyTopic)).label("topic"), score_column(t).label("score"))
    .where(score_column(t).is_not(None))
    for i, t in enumerate(SurveyTopic)
)).subquery("survey_score")


class SurveyScore(Base):
    """分项评分: one department's score on one form (1 … the survey's full mark) — a read-only row of the
    form's score columns."""

    __table__ = _ANSWERS
    __tablename__ = "survey_score"
    __label__ = "分项评分"
    __mapper_args__ = {"primary_key": [_ANSWERS.c.id]}

    id: Mapped[int] = column_property(_ANSWERS.c.id, info={"label": "编号"})
    response_id: Mapped[int] = column_property(_ANSWERS.c.response_id, info={"label": "调查问卷"})
    topic: Mapped[SurveyTopic] = column_property(_ANSWERS.c.topic, info={"label": "评价部门"})
    score: Mapped[int] = column_property(_ANSWERS.c.score, info={"label": "得分"})

    response: Mapped[SurveyResponse] = relationship(
        primaryjoin="foreign(SurveyScore.response_id) == SurveyResponse.id", viewonly=True,
        info={"label": "调查问卷"},
    )


class CorrectiveAction(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """整改措施: a department's answer to its survey results, followed up by customer-service callbacks."""

    __tablename__ = "corrective_action"
    __label__ = "整改措施"

    survey_id: Mapped[int] = col("满意度调查", ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    topic: Mapped[SurveyTopic] = col("责任部门", enum_type(SurveyTopic))
    issue: Mapped[str] = col("存在问题", Text)
    action: Mapped[str] = col("整改措施", Text)
    owner_id: Mapped[int | None] = col("责任人", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    due_date: Mapped[dt.date | None] = col("完成期限", Date)
    status: Mapped[ActionStatus] = col("状态", enum_type(ActionStatus), default=ActionStatus.OPEN, index=True)
    followed_up_at: Mapped[dt.datetime | None] = col("回访时间", UTCDateTime())
    follow_up_note: Mapped[str] = col("回访情况", Text, default="")

    project: Mapped[Project] = relationship(info={"label": "项目"})
    survey: Mapped[Survey] = relationship(info={"label": "满意度调查"})
    owner: Mapped[Staff | None] = relationship(info={"label": "责任人"})
