"""满意度调查 campaigns: the households surveyed, the forms handed out against a signed receipt, and each
department's corrective actions followed up by customer-service callbacks.

"各项目每年按照客服部确定的调查问卷至少进行一次客户满意度调查。发放调查问卷时应在文件签收单上做好签收记录。"
"整改完毕后，反馈客服部进行回访直至业主满意。"
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import Session

from models import (
    SCORE_COLUMNS,
    SHANGHAI,
    ActionStatus,
    AuditKind,
    CorrectiveAction,
    Project,
    Satisfaction,
    Staff,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyStatus,
    SurveyTopic,
    Unit,
    UnitStatus,
    VisitKind,
    VisitWay,
    label_of,
    utcnow,
)

from . import records
from .actor import Actor
from .audit import as_actor, log_operation, record_bulk
from .errors import NotPermitted, Refused
from .kernel.periods import read_month
from .kernel.scope import project_named, visible_project

CHUNK = 1000
# 意见建议 of one form, typed or imported alike: a paper form's comment box, not pages.
COMMENTS_MAX = 2000
# A survey counts in the figures (调查率, 满意度) once its forms have gone out: 筹备中 is a plan, not a survey.
RUN_STATUSES = (SurveyStatus.DISTRIBUTING, SurveyStatus.COLLECTED, SurveyStatus.CLOSED)
# 调查期间: a year, a half year, a quarter or a month — the forms ``kpis.survey_periods`` reads as covering a month.
_PERIOD = re.compile(r"\d{4}(H[12]|Q[1-4]|-(0[1-9]|1[0-2]))?")


@dataclass(frozen=True)
class SurveyCampaign:
    survey_id: int
    title: str
    project_id: int
    households: int
    created: bool = True


def _period_of(title: str, today: dt.date) -> str:
    """调查期间 from a title like "2026年上半年…" (2026H1), else the current half year."""
    m = re.search(r"(\d{4})\s*年?\s*(上半年|下半年)?", title)
    if m is None:
        return f"{today.year}H{1 if today.month <= 6 else 2}"
    return m.group(1) + {"上半年": "H1", "下半年": "H2"}.get(m.group(2) or "", "")


# 调查期间 as people write it: 2026年上半年, 2026下半年, 2026年, 2026年第三季度 / 2026年三季度, 2026年11月 / 2026.11
_HALF_WRITTEN = re.compile(r"(\d{4})年?(上|下)半年(度)?")
_QUARTER_WRITTEN = re.compile(r"(\d{4})年?第?([1-4一二三四])季度")
_YEAR_WRITTEN = re.compile(r"(\d{4})年(度)?")
_QUARTERS = {"一": "1", "二": "2", "三": "3", "四": "4"}


def checked_period(period: str) -> str:
    """调查期间 as stored (``2026H1``; full-width characters and a lower-case h accepted), or refused. Written as
    people write it — 2026年下半年, 2026年第三季度, 2026年, 2026年11月 — it is read as the period it names (a survey is
    typed so on its paper form; refused, the form said 「格式不正确」 to what was plainly a half year)."""
    text = unicodedata.normalize("NFKC", period or "").replace(" ", "").strip().upper()
    if m := _HALF_WRITTEN.fullmatch(text):
        text = f"{m[1]}H{1 if m[2] == '上' else 2}"
    elif m := _QUARTER_WRITTEN.fullmatch(text):
        text = f"{m[1]}Q{_QUARTERS.get(m[2], m[2])}"
    elif m := _YEAR_WRITTEN.fullmatch(text):
        text = m[1]
    elif not _PERIOD.fullmatch(text):
        with contextlib.suppress(Refused):
            text = read_month(text, what=label_of(Survey, "period")).text  # 2026年11月, 2026.11 (the kernel's reading)
    if not _PERIOD.fullmatch(text):
        raise Refused(f"{label_of(Survey, 'period')}格式不正确：「{period}」。应为半年如 2026H1、2026H2，"
                      "或全年 2026、季度 2026Q3、月份 2026-11")
    return text


def check_dates(start_date: dt.date | None, end_date: dt.date | None) -> None:
    if start_date and end_date and end_date < start_date:
        raise Refused(f"{label_of(Survey, 'end_date')}（{end_date}）不能早于{label_of(Survey, 'start_date')}"
                      f"（{start_date}）")


def mark_run(survey: Survey) -> None:
    """A campaign whose forms went out or came back has been run: 筹备中 → 发放中 (it counts in the KPIs from now)."""
    if survey.status is SurveyStatus.PLANNED:
        survey.status = SurveyStatus.DISTRIBUTING


def survey_run(session: Session, *, survey_id: int, actor: Actor) -> None:
    """The same after a form or a hand-out typed in the console (audited as the user's change of the survey)."""
    mark_run(survey_in_scope(session, survey_id, actor))
    session.flush()


def check_open(survey: Survey) -> None:
    """A survey 已结束 takes no more forms: its results were summarised and reported (002: 「客服部主管…进行分类汇总…上报总经理」)."""
    if survey.status is SurveyStatus.CLOSED:
        raise Refused(f"调查「{survey.title}」已结束，不能再录入问卷；如需补录，请先将该调查的状态改为"
                      f"“{SurveyStatus.COLLECTED.label}”", [survey.id])


def check_response(session: Session, *, project_id: int, survey_id: int, unit_id: int,
                   answered_on: dt.date | None, actor: Actor) -> None:
    """A form typed or corrected in the console: its survey and unit of the form's project, answered no later
    than today (as the import checks it)."""
    survey = survey_in_scope(session, survey_id, actor)
    if survey.project_id != project_id:
        raise Refused(f"{label_of(SurveyResponse, 'survey')}「{survey.title}」不属于所选项目", [survey_id])
    if session.scalar(select(Unit.project_id).where(Unit.id == unit_id)) != project_id:
        raise Refused(f"{label_of(SurveyResponse, 'unit')}不属于所选项目", [unit_id])
    today = dt.datetime.now(SHANGHAI).date()
    if answered_on is not None and answered_on > today:
        raise Refused(f"{label_of(SurveyResponse, 'answered_on')} {answered_on} 不能晚于今天（{today}，北京时间）")
    if answered_on is not None and survey.start_date is not None and answered_on < survey.start_date:
        raise Refused(f"{label_of(SurveyResponse, 'answered_on')} {answered_on} {before_the_survey(survey.start_date)}")


def before_the_survey(start: dt.date) -> str:
    """A form dated before its survey began: another campaign's form (last half year's file imported into this
    one), or the year typed wrong — its answers would count in the wrong survey's figures."""
    return f"早于本次调查的{label_of(Survey, 'start_date')}（{start}）：是否其他调查的问卷？请核对"


def create_survey(
    session: Session,
    *,
    project_id: int,
    title: str,
    actor: Actor,
    period: str | None = None,
    scale_max: int = 5,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    unit_statuses: Sequence[UnitStatus] = (UnitStatus.OCCUPIED,),
) -> SurveyCampaign:
    """A campaign of ``project_id``; its households are the units in ``unit_statuses`` (all occupied ones)."""
    title = " ".join(title.split())
    if not title:
        raise Refused("调查名称不能为空")
    records.check_text_length(Survey, "title", title)
    if not actor.can_see(project_id):
        raise NotPermitted("无权为该项目创建满意度调查", ids=[project_id])
    if session.get(Project, project_id) is None:
        raise Refused(f"项目 #{project_id} 不存在", ids=[project_id])
    check_scale(scale_max)
    period = checked_period(period) if period else _period_of(title, dt.datetime.now(SHANGHAI).date())
    check_dates(start_date, end_date)
    if session.scalar(select(Survey.id).where(Survey.project_id == project_id, Survey.title == title)):
        raise Refused(f"本项目已有名为“{title}”的满意度调查")
    survey = Survey(
        project_id=project_id, title=title, period=period,
        scale_max=scale_max, start_date=start_date, end_date=end_date,
    )
    session.add(survey)
    session.flush()
    units = select(Unit.project_id, literal(survey.id), Unit.id).where(
        Unit.project_id == project_id, Unit.status.in_(list(unit_statuses))
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … SELECT built by SQLAlchemy.
    households = len(session.execute(
        insert(SurveyHousehold.__table__).from_select(["project_id", "survey_id", "unit_id"], units)
        .returning(SurveyHousehold.id)
    ).all())
    record_bulk(
        session, kind=AuditKind.INSERT, table=SurveyHousehold.__tablename__,
        ids=select(SurveyHousehold.id, SurveyHousehold.project_id).where(SurveyHousehold.survey_id == survey.id),
        summary=f"列入满意度调查：{title}",
    )
    log_operation(
        session, "create-survey", params={"survey_id": survey.id, "title": title, "period": survey.period},
        counts={"households": households}, project_id=project_id, message=f"创建满意度调查：{title}",
    )
    return SurveyCampaign(survey.id, title, project_id, households)


@as_actor
def find_or_create_survey(session: Session, *, project_name: str, title: str, actor: Actor) -> SurveyCampaign:
    """The survey of that project with that title, created (with its households) if there is none yet."""
    project = visible_project(session, actor, project_named(session, project_name, actor))
    survey = session.scalar(select(Survey).where(Survey.project_id == project.id, Survey.title == " ".join(title.split())))
    if survey is None:
        return create_survey(session, project_id=project.id, title=title, actor=actor)
    households = session.scalar(select(func.count()).where(SurveyHousehold.survey_id == survey.id)) or 0
    return SurveyCampaign(survey.id, survey.title, project.id, households, created=False)


def survey_in_scope(session: Session, survey_id: int, actor: Actor) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise Refused(f"满意度调查 #{survey_id} 不存在", ids=[survey_id])
    if not actor.can_see(survey.project_id):
        raise NotPermitted("无权访问该项目的满意度调查", ids=[survey_id])
    return survey


@dataclass(frozen=True)
class DistributionResult:
    survey_id: int
    households: int  # handed out now
    signed: int = 0  # handed out before, their 文件签收单 signed now
    kept: int = 0  # handed out (or answered) before: left as they were

    @property
    def message(self) -> str:
        text = f"已登记 {self.households} 户问卷发放"
        if self.signed:
            text += f"；{self.signed} 户此前已发放，补登签收"
        if self.kept:
            text += f"；{self.kept} 户此前已发放或已回收，保留原发放日期与签收"
        return text


def record_distribution(
    session: Session,
    *,
    survey_id: int,
    unit_ids: Sequence[int],
    distributed_on: dt.date,
    receipt_signed: bool,
    actor: Actor,
) -> DistributionResult:
    """问卷发放: the forms handed to these households on ``distributed_on``, and whether the receipt was signed.

    「发放调查问卷时应在文件签收单上做好签收记录」: what was recorded stays. A household handed out before keeps its
    date and its signed receipt — a page selected again and registered without 签收 ticked wiped the receipts signed
    — and one whose form came back (已回收) is left alone; a receipt handed in later is added (补登签收). A survey
    已结束 takes no more hand-outs: its figures were reported."""
    survey = survey_in_scope(session, survey_id, actor)
    ids = sorted(set(unit_ids))
    if not ids:
        raise Refused("请选择发放问卷的房屋")
    if distributed_on is None:
        raise Refused(f"请填写{label_of(SurveyHousehold, 'distributed_at')}")
    check_distribution(distributed_on, receipt_signed)
    if survey.status is SurveyStatus.CLOSED:
        raise Refused(f"调查「{survey.title}」已结束，不能再登记问卷发放", [survey.id])
    H = SurveyHousehold
    rows = []
    for start in range(0, len(ids), CHUNK):
        rows += session.execute(select(H.id, H.unit_id, H.distributed_at, H.receipt_signed, H.collected).where(
            H.survey_id == survey.id, H.unit_id.in_(ids[start:start + CHUNK]))).all()
    if len(rows) != len(ids):
        missing = sorted(set(ids) - {r.unit_id for r in rows})
        raise Refused(f"{len(missing)} 户不在本次调查范围内", ids=missing)
    new = [r.id for r in rows if r.distributed_at is None and not r.collected]
    sign = [r.id for r in rows if receipt_signed and r.distributed_at is not None and not r.receipt_signed
            and not r.collected]
    steps = ((new, {"distributed_at": distributed_on, "receipt_signed": receipt_signed},
              f"问卷发放{'（已签收）' if receipt_signed else ''}：{survey.title}"),
             (sign, {"receipt_signed": True}, f"补登问卷签收：{survey.title}"))
    for chosen, values, summary in steps:
        for start in range(0, len(chosen), CHUNK):
            where = H.id.in_(chosen[start:start + CHUNK])
            session.execute(update(H).where(where).values(**values, version=H.version + 1),
                            execution_options={"synchronize_session": False})
            record_bulk(session, kind=AuditKind.UPDATE, table=H.__tablename__,
                        ids=select(H.id, H.project_id).where(where), summary=summary)
    if new:
        mark_run(survey)
    result = DistributionResult(survey.id, len(new), len(sign), len(rows) - len(new) - len(sign))
    log_operation(
        session, "distribute-survey",
        params={"survey_id": survey.id, "distributed_on": distributed_on, "receipt_signed": receipt_signed},
        counts={"households": len(new), "signed": len(sign), "kept": result.kept}, project_id=survey.project_id,
        message=f"发放问卷：{survey.title}",
    )
    session.flush()
    session.expire_all()
    return result


@dataclass(frozen=True)
class CorrectiveActionResult:
    action_id: int
    status: ActionStatus
    visit_id: int | None = None  # the 满意度整改回访 recorded by a follow-up naming the household called back


def add_corrective_action(
    session: Session,
    *,
    survey_id: int,
    topic: SurveyTopic,
    issue: str,
    action: str,
    actor: Actor,
    owner_id: int | None = None,
    due_date: dt.date | None = None,
) -> CorrectiveActionResult:
    """整改措施: a department's answer to what its survey results show."""
    survey = survey_in_scope(session, survey_id, actor)
    if not issue.strip() or not action.strip():
        raise Refused("请填写存在问题和整改措施")
    for key, text in (("issue", issue.strip()), ("action", action.strip())):
        records.check_text_length(CorrectiveAction, key, text)
    if owner_id is not None:
        owner = session.get(Staff, owner_id)
        if owner is None or owner.project_id != survey.project_id:
            raise Refused("责任人须为本项目员工", ids=[owner_id])
    row = CorrectiveAction(
        project_id=survey.project_id, survey_id=survey.id, topic=topic, issue=issue.strip(), action=action.strip(),
        owner_id=owner_id, due_date=due_date,
    )
    session.add(row)
    session.flush()
    log_operation(session, "add-corrective-action", params={"survey_id": survey.id, "topic": topic},
                  counts={"actions": 1}, project_id=survey.project_id, message=f"{topic.label}整改措施")
    return CorrectiveActionResult(row.id, row.status)


def _action(session: Session, action_id: int, actor: Actor) -> CorrectiveAction:
    """The action to change, locked and read afresh: a second 整改完成 or 回访 of it (a double click, another tab)
    waits for the first and then finds its step taken."""
    row = session.scalar(select(CorrectiveAction).where(CorrectiveAction.id == action_id).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None:
        raise Refused(f"整改措施 #{action_id} 不存在", ids=[action_id])
    if not actor.can_see(row.project_id):
        raise NotPermitted("无权访问该项目的整改措施", ids=[action_id])
    return row


def complete_corrective_action(session: Session, *, action_id: int, actor: Actor) -> CorrectiveActionResult:
    """The department reports the work done; customer service then calls back."""
    row = _action(session, action_id, actor)
    if row.status is ActionStatus.VERIFIED:
        raise Refused("该整改已回访确认，无需再次完成", ids=[action_id])
    if row.status is ActionStatus.DONE:
        raise Refused("该整改已登记完成，请安排回访", ids=[action_id])
    row.status = ActionStatus.DONE
    session.flush()
    log_operation(session, "complete-corrective-action", params={"action_id": action_id}, counts={"actions": 1},
                  project_id=row.project_id)
    return CorrectiveActionResult(row.id, row.status)


def follow_up_corrective_action(
    session: Session, *, action_id: int, satisfied: bool, note: str, actor: Actor, unit: str = "",
    way: VisitWay = VisitWay.PHONE,
) -> CorrectiveActionResult:
    """回访: satisfied closes the action (已回访确认); not satisfied sends it back to 整改中 — 直至业主满意.
    ``unit``: the household called back (房号 as typed, 3栋1303): the callback is then a 回访 record of it, a
    满意度整改回访 (002 12.11 「根据各部门整改措施及时进行跟进回访」, 13.3 「整改完毕后，反馈客服部进行回访直至业主满意」)
    written by the one write of a visit (``visits.record_visit``), counted in 走访统计 and the monthly report."""
    from .requests import unit_named, units_named
    from .visits import record_visit

    row = _action(session, action_id, actor)
    if row.status is ActionStatus.VERIFIED:
        raise Refused(f"该整改已于 {row.followed_up_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 回访确认，无需再次回访",
                      ids=[action_id])
    if row.status is not ActionStatus.DONE:
        raise Refused("整改完成后才能回访", ids=[action_id])
    note = (note or "").strip()
    records.check_text_length(CorrectiveAction, "follow_up_note", note)
    unit_id = None
    if (unit or "").strip():
        names = unit_named(unit)
        ids = session.scalars(units_named(names, whole=True).where(Unit.project_id == row.project_id)
                              .limit(2)).all() if names else []
        if len(ids) != 1:
            raise Refused(f"回访住户「{unit.strip()}」{'在本项目找到多户' if ids else '不是本项目的房屋'}："
                          f"请按楼栋和房号填写，如 3栋1303", [action_id])
        unit_id = ids[0]
    row.followed_up_at = utcnow()
    row.follow_up_note = note
    row.status = ActionStatus.VERIFIED if satisfied else ActionStatus.OPEN
    session.flush()
    visit_id = None
    if unit_id is not None:
        visit_id = record_visit(
            session, unit_id=unit_id, actor=actor, kind=VisitKind.SURVEY, way=way,
            result=Satisfaction.SATISFIED if satisfied else Satisfaction.UNSATISFIED,
            notes=f"整改回访：{row.topic.label}「{row.issue}」" + (f"；{note}" if note else ""),
            visited_at=row.followed_up_at).visit_id
    log_operation(session, "follow-up-corrective-action", params={"action_id": action_id, "satisfied": satisfied},
                  counts={"actions": 1, "visits": int(visit_id is not None)}, project_id=row.project_id)
    return CorrectiveActionResult(row.id, row.status, visit_id)


# --- the console's forms (records.save_record) ------------------------------------------------------------
@records.creates(Survey)
def _survey_form(session: Session, actor: Actor, values: Mapping[str, Any]) -> Survey:
    """A new campaign lists its households: every occupied unit of the project."""
    project_id = records.ref_id(values, "project")
    if project_id is None:
        raise Refused(f"请选择{label_of(Survey, 'project')}")
    made = create_survey(session, project_id=project_id, title=values.get("title") or "", actor=actor,
                         period=values.get("period") or None, scale_max=int(values.get("scale_max") or 5),
                         start_date=values.get("start_date"), end_date=values.get("end_date"))
    return session.get(Survey, made.survey_id)


@records.rule(Survey)
def _survey_edit(session: Session, actor: Actor, change: records.Change) -> None:
    """An edit is held to the rules of a new campaign: 调查期间 and the dates."""
    survey = change.obj
    if change.changed("period"):
        survey.period = checked_period(str(survey.period or ""))
    check_dates(survey.start_date, survey.end_date)
    if change.created:
        return
    if change.changed("project_id"):
        raise Refused(f"{label_of(Survey, 'project')}不能修改：调查的被调查户和问卷都属于原项目", [survey.id])
    if change.changed("status") and survey.status is SurveyStatus.PLANNED and _run(session, survey.id):
        raise Refused(f"该调查的问卷已发放或已回收，不能改回“{SurveyStatus.PLANNED.label}”"
                      "（筹备中的调查不计入调查率和满意度）", [survey.id])
    if change.changed("scale_max"):
        check_scale(survey.scale_max)
        answered = select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id).limit(1)
        if session.scalar(answered) is not None:
            raise Refused(f"该调查已有问卷，不能修改{label_of(Survey, 'scale_max')}"
                          f"（已录入的评分按 {change.was('scale_max')} 分制）", [survey.id])


def _run(session: Session, survey_id: int) -> bool:
    """Has the campaign been run: a form handed out or collected, or a form typed or imported?"""
    handed = select(SurveyHousehold.id).where(
        SurveyHousehold.survey_id == survey_id,
        SurveyHousehold.distributed_at.is_not(None) | SurveyHousehold.collected).limit(1)
    answered = select(SurveyResponse.id).where(SurveyResponse.survey_id == survey_id).limit(1)
    return session.scalar(handed) is not None or session.scalar(answered) is not None


def check_scale(scale_max: Any) -> None:
    if scale_max is None or not 2 <= int(scale_max) <= 10:
        raise Refused(f"{label_of(Survey, 'scale_max')}应在 2–10 分之间")


@records.rule(SurveyHousehold)
def _household_form(session: Session, actor: Actor, change: records.Change) -> None:
    """被调查户 typed in the console: a unit of the survey's project (调查率 counts it there), kept as listed — a
    household is deleted and another listed rather than moved — with its hand-out as 问卷发放 records it."""
    household = change.obj
    survey = survey_in_scope(session, household.survey_id, actor)
    if not change.created and (change.changed("survey_id") or change.changed("unit_id")):
        raise Refused(f"{label_of(SurveyHousehold, 'survey')}和{label_of(SurveyHousehold, 'unit')}不能修改："
                      "请删除该户后另行列入", [household.id])
    if session.scalar(select(Unit.project_id).where(Unit.id == household.unit_id)) != survey.project_id:
        raise Refused(f"{label_of(SurveyHousehold, 'unit')}不属于该调查的项目", [household.unit_id])
    household.project_id = survey.project_id
    check_distribution(household.distributed_at, household.receipt_signed)
    if not change.created and change.changed("collected") and not household.collected:
        answered = select(SurveyResponse.id).where(SurveyResponse.survey_id == household.survey_id,
                                                   SurveyResponse.unit_id == household.unit_id).limit(1)
        if session.scalar(answered) is not None:  # its form counts in 满意度: the household in 调查率
            raise Refused(f"该{SurveyHousehold.__label__}已有{SurveyResponse.__label__}，不能改为未回收", [household.id])


def check_distribution(distributed_on: dt.date | None, receipt_signed: bool) -> None:
    """A hand-out is dated no later than today (Beijing), and a receipt is signed when the form is handed out."""
    today = dt.datetime.now(SHANGHAI).date()
    if distributed_on is not None and distributed_on > today:
        raise Refused(f"{label_of(SurveyHousehold, 'distributed_at')} {distributed_on} 不能晚于今天（{today}，北京时间）")
    if receipt_signed and distributed_on is None:
        raise Refused(f"{label_of(SurveyHousehold, 'receipt_signed')}须填写{label_of(SurveyHousehold, 'distributed_at')}"
                      "（文件签收单在发放问卷时签收）")


@records.derive(SurveyHousehold)
def _household_run(session: Session, actor: Actor, change: records.Change) -> None:
    household = change.obj
    if not change.deleted and (household.distributed_at is not None or household.collected):
        survey_run(session, survey_id=household.survey_id, actor=actor)


@records.rule(SurveyResponse)
def _response_form(session: Session, actor: Actor, change: records.Change) -> None:
    form = change.obj
    check_response(session, project_id=form.project_id, survey_id=form.survey_id, unit_id=form.unit_id,
                   answered_on=form.answered_on, actor=actor)
    if change.created or change.changed("survey_id"):  # a form already in it may still be corrected
        check_open(session.get(Survey, form.survey_id))
    check_answers(session.get(Survey, form.survey_id), form)
    join_campaign(session, project_id=form.project_id, survey_id=form.survey_id, unit_id=form.unit_id)


def check_answers(survey: Survey, form: SurveyResponse) -> None:
    """A form typed in the console is held to what its import would accept: each department's score and the
    overall one 1 … the survey's 满分, 意见建议 at most :data:`COMMENTS_MAX` characters."""
    scale = survey.scale_max or 5
    for key in (*SCORE_COLUMNS.values(), "overall_score"):
        score = getattr(form, key)
        if score is not None and not 1 <= int(score) <= scale:
            raise Refused(f"{label_of(SurveyResponse, key)}：{score} 超出范围（本调查满分 {scale}，须为 1–{scale} 分）",
                          [form.id] if form.id else [])
    comments = form.comments or ""
    if len(comments) > COMMENTS_MAX:
        raise Refused(f"{label_of(SurveyResponse, 'comments')}过长：最多 {COMMENTS_MAX:,} 字，现为 {len(comments):,} 字")


def join_campaign(session: Session, *, project_id: int, survey_id: int, unit_id: int) -> None:
    """A form typed for a unit not in the campaign brings it in (it was surveyed), before the form is written:
    a form's key is its household."""
    where = (SurveyHousehold.survey_id == survey_id, SurveyHousehold.unit_id == unit_id)
    if session.scalar(select(SurveyHousehold.id).where(*where)) is not None:
        return
    session.execute(insert(SurveyHousehold.__table__).values(project_id=project_id, survey_id=survey_id,
                                                             unit_id=unit_id, receipt_signed=False, collected=False,
                                                             version=1))
    record_bulk(session, kind=AuditKind.INSERT, table=SurveyHousehold.__tablename__,
                ids=select(SurveyHousehold.id, SurveyHousehold.project_id).where(*where),
                summary=f"列入{SurveyHousehold.__label__}（录入问卷，不在原调查范围内）")


@records.derive(SurveyResponse)
def _response_run(session: Session, actor: Actor, change: records.Change) -> None:
    """The household that answered is 已回收, as an import marks it; the survey has been run."""
    if change.deleted:
        return
    form = change.obj
    household = session.scalar(select(SurveyHousehold).where(SurveyHousehold.survey_id == form.survey_id,
                                                             SurveyHousehold.unit_id == form.unit_id))
    if household is not None and not household.collected:
        household.collected = True
    survey_run(session, survey_id=form.survey_id, actor=actor)


@records.delete_rule(Unit)
def _unit_with_forms(session: Session, actor: Actor, unit: Unit) -> None:
    """A unit's survey forms go with its households when it is deleted: one that has answered stays."""
    # through the unit's households, whose (survey, unit) the forms' unique key leads with: no index on the unit
    answered = (select(SurveyResponse.id)
                .join(SurveyHousehold, (SurveyHousehold.survey_id == SurveyResponse.survey_id)
                      & (SurveyHousehold.unit_id == SurveyResponse.unit_id))
                .where(SurveyHousehold.unit_id == unit.id).limit(1))
    if session.scalar(answered) is not None:
        raise Refused(f"该{Unit.__label__}已有{SurveyResponse.__label__}，不能删除", [unit.id])


@records.delete_rule(SurveyHousehold)
def _household_with_form(session: Session, actor: Actor, household: SurveyHousehold) -> None:
    """A household's form goes with it (the form's key): one that has answered stays, as its unit does."""
    answered = select(SurveyResponse.id).where(SurveyResponse.survey_id == household.survey_id,
                                               SurveyResponse.unit_id == household.unit_id).limit(1)
    if session.scalar(answered) is not None:
        raise Refused(f"该{SurveyHousehold.__label__}已有{SurveyResponse.__label__}，不能删除", [household.id])


@records.delete_rule(Survey)
def _survey_with_forms(session: Session, actor: Actor, survey: Survey) -> None:
    """A campaign's forms, households and tallies go with it: one with a form typed or imported stays (its
    households' forms are refused alike); one set up by mistake, with no form yet, is deleted."""
    answered = select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id).limit(1)
    if session.scalar(answered) is not None:
        raise Refused(f"该{Survey.__label__}已有{SurveyResponse.__label__}，不能删除", [survey.id])


@records.creates(CorrectiveAction)
def _corrective_form(session: Session, actor: Actor, values: Mapping[str, Any]) -> CorrectiveAction:
    """A new 整改措施 starts 整改中 whatever the form says: 完成 and 回访 are steps of their own."""
    survey_id = records.ref_id(values, "survey")
    if survey_id is None:
        raise Refused(f"请选择{label_of(CorrectiveAction, 'survey')}")
    topic = values.get("topic")
    try:
        topic = SurveyTopic(getattr(topic, "value", topic))
    except ValueError:
        raise Refused(f"{label_of(CorrectiveAction, 'topic')}无效：{topic}") from None
    made = add_corrective_action(session, survey_id=survey_id, topic=topic, issue=values.get("issue") or "",
                                 action=values.get("action") or "", owner_id=records.ref_id(values, "owner"),
                                 due_date=values.get("due_date"), actor=actor)
    return session.get(CorrectiveAction, made.action_id)


@records.rule(CorrectiveAction)
def _corrective_edit(session: Session, actor: Actor, change: records.Change) -> None:
    """An edit corrects what was written; its state moves only by 完成 and 回访, which check their order."""
    row = change.obj
    for attr in ("status", "followed_up_at", "follow_up_note", "project_id", "survey_id"):
        if change.changed(attr):
            raise Refused(f"{label_of(CorrectiveAction, attr)}不能在表单里修改：请用“完成整改”“回访”", [row.id])
    if row.owner_id is not None and row.owner_id != change.was("owner_id"):
        owner = session.get(Staff, row.owner_id)
        if owner is None or owner.project_id != row.project_id:
            raise Refused("责任人须为本项目员工", ids=[row.owner_id])
