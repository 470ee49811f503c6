"""满意度调查结果: coverage and satisfaction — overall, per department, per building — the comments, and each
department's corrective actions; the same figures as an .xlsx.

调查率 = forms collected ÷ households surveyed (target ≥ 95 %, "业主满足度调查率保证在95%以上").
满意度 = share of answers 满意 or better: a score of at least 4/5 of the survey's full mark (4 of 5, 8 of 10);
the mean score is given beside it. ``overall`` pools every department's answers (各部门合计: the 满意度 of the
KPI catalogue); ``overall_score`` is the forms' own 总体满意度 column. Rates are percents as every page shows them
(``rates``: one decimal, half-up).

Its .xlsx names the households who commented (楼栋, 房号, 填表人): exporting it takes the survey's 导出 grant and
is audited (:func:`export_survey_results`), as every export is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models import (
    ActionStatus,
    AuditKind,
    Building,
    CorrectiveAction,
    Project,
    Staff,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyScore,
    SurveyTopic,
    Unit,
    label_of,
    score_column,
)

from . import xlsx_out
from .accounts import hold_grant
from .actor import Actor
from .audit import log_event
from .kernel.names import natural_key
from .rates import percent, percent_text
from .surveys import survey_in_scope

COVERAGE_TARGET = Decimal("0.95")
COVERAGE_TARGET_TEXT = f"{(COVERAGE_TARGET * 100).normalize():f}%"  # 95%
MEAN = Decimal("0.01")


@dataclass(frozen=True)
class Satisfaction:
    answers: int
    satisfied: int
    mean: Decimal | None

    @property
    def rate(self) -> Decimal | None:
        return percent(self.satisfied, self.answers)

    @property
    def shown(self) -> str:
        return percent_text(self.satisfied, self.answers)


@dataclass(frozen=True)
class Comment:
    building: str
    room_no: str
    respondent: str
    answered_on: dt.date | None
    text: str


@dataclass(frozen=True)
class ActionLine:
    action_id: int
    topic: SurveyTopic
    issue: str
    action: str
    owner: str
    due_date: dt.date | None
    status: ActionStatus
    followed_up_at: dt.datetime | None
    follow_up_note: str


@dataclass(frozen=True)
class SurveyResults:
    survey_id: int
    title: str
    project: str
    period: str
    scale_max: int
    households: int
    distributed: int
    receipts: int
    collected: int
    responses: int
    overall: Satisfaction
    overall_score: Satisfaction
    by_topic: tuple[tuple[SurveyTopic, Satisfaction], ...]
    by_building: tuple[tuple[str, Satisfaction], ...]
    comments: tuple[Comment, ...]
    actions: tuple[ActionLine, ...]

    @property
    def coverage(self) -> Decimal | None:
        return percent(self.collected, self.households)

    @property
    def coverage_shown(self) -> str:
        return percent_text(self.collected, self.households)

    @property
    def coverage_target(self) -> str:
        return COVERAGE_TARGET_TEXT

    @property
    def coverage_met(self) -> bool:
        """调查率 reaches its target, compared exactly (not after rounding)."""
        return bool(self.households) and self.collected >= COVERAGE_TARGET * self.households


def satisfied_from(scale_max: int) -> int:
    """The lowest score that counts as 满意: 4 of 5, 8 of 10."""
    return math.ceil(scale_max * 4 / 5)


def _satisfaction(answers: int | None, satisfied: int | None, mean) -> Satisfaction:
    mean = None if mean is None else Decimal(str(mean)).quantize(MEAN, ROUND_HALF_UP)
    return Satisfaction(int(answers or 0), int(satisfied or 0), mean)


def survey_results(session: Session, *, survey_id: int, actor: Actor) -> SurveyResults:
    survey = survey_in_scope(session, survey_id, actor)
    scale = survey.scale_max or 5
    threshold = satisfied_from(scale)
    households = session.execute(
        select(
            func.count(),
            func.count(SurveyHousehold.distributed_at),
            func.coalesce(func.sum(case((SurveyHousehold.receipt_signed, 1), else_=0)), 0),
            func.coalesce(func.sum(case((SurveyHousehold.collected, 1), else_=0)), 0),
        ).where(SurveyHousehold.survey_id == survey.id)
    ).one()
    # Per building, each department's (answers, satisfied, total) from its column of the forms: one pass over
    # the survey's forms; departments, buildings and the whole survey are sums of these.
    per_building = session.execute(
        select(Building.name, *(figure for t in SurveyTopic for figure in (
            func.count(score_column(t)), func.coalesce(func.sum(case((score_column(t) >= threshold, 1), else_=0)), 0),
            func.coalesce(func.sum(score_column(t)), 0),
        )))
        .select_from(SurveyResponse)
        .join(Unit, SurveyResponse.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(SurveyResponse.survey_id == survey.id)
        .group_by(Building.name)
    ).all()
    per_building.sort(key=lambda row: natural_key(row[0]))  # 2栋 before 10栋, as every other page lists them
    topics = tuple(SurveyTopic)
    tallies: dict[object, list[int]] = defaultdict(lambda: [0, 0, 0])
    for name, *figures in per_building:
        for i, topic in enumerate(topics):
            for key in (None, topic, ("building", name)):
                acc = tallies[key]
                for j in range(3):
                    acc[j] += int(figures[3 * i + j])

    def tallied(key: object) -> Satisfaction:
        n, ok, total = tallies.get(key, (0, 0, 0))
        return _satisfaction(n, ok, Decimal(total) / n if n else None)

    overall = tallied(None)
    by_topic = {t: tallied(t) for t in topics if tallies.get(t, (0,))[0]}
    by_building = tuple((name, tallied(("building", name))) for name, *_ in per_building
                        if tallies[("building", name)][0])
    overall_score = _satisfaction(*session.execute(
        select(
            func.count(SurveyResponse.overall_score),
            func.sum(case((SurveyResponse.overall_score >= threshold, 1), else_=0)),
            func.avg(SurveyResponse.overall_score),
        ).where(SurveyResponse.survey_id == survey.id)
    ).one())
    responses = session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey.id)) or 0
    comments = tuple(
        Comment(*row)
        for row in session.execute(
            select(Building.name, Unit.room_no, SurveyResponse.respondent, SurveyResponse.answered_on,
                   SurveyResponse.comments)
            .join(Unit, SurveyResponse.unit_id == Unit.id)
            .join(Building, Unit.building_id == Building.id)
            .where(SurveyResponse.survey_id == survey.id, SurveyResponse.comments != "")
        )
    )
    comments = tuple(sorted(comments, key=lambda c: (natural_key(c.building), natural_key(c.room_no))))
    actions = tuple(
        ActionLine(a.id, a.topic, a.issue, a.action, owner or "", a.due_date, a.status, a.followed_up_at,
                   a.follow_up_note)
        for a, owner in session.execute(
            select(CorrectiveAction, Staff.name)
            .outerjoin(Staff, CorrectiveAction.owner_id == Staff.id)
            .where(CorrectiveAction.survey_id == survey.id)
            .order_by(CorrectiveAction.topic, CorrectiveAction.id)
        )
    )
    return SurveyResults(
        survey_id=survey.id,
        title=survey.title,
        project=session.scalar(select(Project.name).where(Project.id == survey.project_id)) or "",
        period=survey.period,
        scale_max=scale,
        households=households[0],
        distributed=households[1],
        receipts=int(households[2]),
        collected=int(households[3]),
        responses=responses,
        overall=overall,
        overall_score=overall_score,
        by_topic=tuple((t, by_topic[t]) for t in SurveyTopic if t in by_topic),
        by_building=by_building,
        comments=comments,
        actions=actions,
    )


def results_workbook(results: SurveyResults) -> bytes:
    """The results as .xlsx: 概况, 各部门, 各楼栋, 意见建议, 整改措施."""
    wb = xlsx_out.new_workbook()
    figures = ("答题数", "满意及以上", "满意率", "平均分")

    def line(s: Satisfaction) -> list:
        return [s.answers, s.satisfied, s.shown, s.mean]

    xlsx_out.write_sheet(wb, "概况", ("项目", "内容"), [
        (label_of(Project, "name"), results.project),
        (label_of(SurveyResponse, "survey"), results.title),
        ("调查期间", results.period),
        ("被调查户数", results.households),
        ("已发放", results.distributed),
        ("已签收", results.receipts),
        ("已回收", results.collected),
        ("调查率", results.coverage_shown),
        ("调查率目标", f"≥ {COVERAGE_TARGET_TEXT}"),
        ("是否达标", "是" if results.coverage_met else "否"),
        ("满意率（各部门合计）", results.overall.shown),
        ("平均分（各部门合计）", results.overall.mean),
        (f"{label_of(SurveyResponse, 'overall_score')}满意率", results.overall_score.shown),
        (f"{label_of(SurveyResponse, 'overall_score')}平均分", results.overall_score.mean),
        ("满分", results.scale_max),
    ])
    xlsx_out.write_sheet(wb, "各部门", (label_of(SurveyScore, "topic"), *figures),
                         [(t.label, *line(s)) for t, s in results.by_topic])
    xlsx_out.write_sheet(wb, "各楼栋", (label_of(Building, "name"), *figures),
                         [(name, *line(s)) for name, s in results.by_building])
    xlsx_out.write_sheet(
        wb, "意见建议",
        (label_of(Building, "name"), label_of(Unit, "room_no"), label_of(SurveyResponse, "respondent"),
         label_of(SurveyResponse, "answered_on"), label_of(SurveyResponse, "comments")),
        [(c.building, c.room_no, c.respondent, c.answered_on, c.text) for c in results.comments],
    )
    xlsx_out.write_sheet(
        wb, "整改措施",
        tuple(label_of(CorrectiveAction, a) for a in
              ("topic", "issue", "action", "owner", "due_date", "status", "followed_up_at", "follow_up_note")),
        [(a.topic, a.issue, a.action, a.owner, a.due_date, a.status, a.followed_up_at, a.follow_up_note)
         for a in results.actions],
    )
    return xlsx_out.to_bytes(wb)


@dataclass(frozen=True)
class ResultsFile:
    filename: str
    content: bytes
    comments: int


def export_survey_results(session: Session, *, survey_id: int, actor: Actor) -> ResultsFile:
    """导出 a survey's results (.xlsx): the survey's 导出 grant, in the actor's scope, audited with who, which
    survey and how many comments (each naming its household)."""
    hold_grant(session, actor, "survey", "export", "导出满意度调查")
    results = survey_results(session, survey_id=survey_id, actor=actor)
    content = results_workbook(results)
    project_id = session.scalar(select(Survey.project_id).where(Survey.id == survey_id))
    log_event(session, AuditKind.EXPORT, table=Survey.__tablename__, record_id=str(survey_id), project_id=project_id,
              summary=f"导出调查结果：{results.title}（意见建议 {len(results.comments)} 条）"[:255],
              changes={"survey_id": survey_id, "comments": len(results.comments)})
    return ResultsFile(f"{results.title}结果.xlsx", content, len(results.comments))
