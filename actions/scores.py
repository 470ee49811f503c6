"""员工考核: rules in force by month, score events (typed or derived from records), the monthly compute with
ranks and grades, confirmation, spot-checks and reopening. Reading the results: ``score_results``; the
quarterly 服务之星: ``service_star``.

"客服主管负责每月对客服人员进行考核。客服经理负责对客服人员工作的抽查" (客户服务部员工考核制度). Every point of a
total is a ``ScoreEvent`` — typed by a supervisor, or derived from a valid complaint, an overdue work order,
an unsatisfied callback or a praise, each source record counted once by the unique
(source, source_id, staff_id). A month is confirmed only once no complaint deduction in it is still provisional
(细则：被业主投诉者，视情况扣5-10分 — judged by the supervisor). A confirmed month is locked until the manager
reopens it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    ComplaintValidity,
    EventSource,
    GradeBand,
    MonthlyScore,
    MonthStatus,
    Project,
    RequestKind,
    RequestStatus,
    RuleCategory,
    Satisfaction,
    ScoreEvent,
    ScoreMonth,
    ScoreTotal,
    ScoringRule,
    ServiceRequest,
    Staff,
    StaffPosition,
    Visit,
    WorkOrder,
    WorkOrderStatus,
    label_of,
    utcnow,
)
from models.totals import SCORE_TOTAL

from . import records
from .accounts import hold_grant
from .actor import Actor
from .audit import (
    TRAIL_LINKS,
    actor_of,
    as_actor,
    log_operation,
    note_actors,
    record_bulk,
    record_per_project,
    record_per_project_with,
)
from .errors import NotPermitted, Refused
from .form_tokens import form_token as one_time
from .form_tokens import not_this_form
from .jobs import QueueLock
from .kernel.periods import Month, parse_month, period_of, today_local
from .kernel.scope import require_company_wide, visible_projects
from .kernel.sql import dialect_name, is_postgresql, local_date, upsert_insert
from .rewards import derive_rewards, withdraw_rewards
from .score_inputs import computing

T = TypeVar("T")

# 考核对象：客服人员（考核制度“适用于物业客服人员”）。其他岗位不录入、不生成考核记录，也不参加排名：
# 维修工的超时工单由工程部考核。
SCORED_POSITIONS = (StaffPosition.FRONT_DESK, StaffPosition.BUTLER, StaffPosition.CASHIER)
SCORED_TEXT = "、".join(p.label for p in SCORED_POSITIONS)
POINTS_STEP = Decimal("0.1")  # ScoreEvent.points is Numeric(6, 1)
DERIVED = tuple(s for s in EventSource if s is not EventSource.MANUAL)
# What a recompute's audit row of a changed score shows.
SCORE_COLUMNS = ("total", "rank", "grade", "deductions", "additions", "event_count")



# --- months, rules in force ---------------------------------------------------------------
def parse_past_month(text: str) -> Month:
    """A month that has begun: a future month has nothing to score yet."""
    month = parse_month(text)
    if month.first > today_local():
        raise Refused(f"月份 {month.text} 尚未到来，不能考核")
    return month


def _in_force_on(day: ColumnElement | dt.date) -> ColumnElement[bool]:
    # 失效日期当天起不再适用
    return and_(ScoringRule.valid_from <= day, or_(ScoringRule.valid_to.is_(None), ScoringRule.valid_to > day))


def derived_rule(session: Session, source: EventSource, day: dt.date) -> ScoringRule | None:
    """The rule the records of ``source`` are scored with on ``day``."""
    return session.scalar(select(ScoringRule).where(ScoringRule.source == source, _in_force_on(day)))


def rules_in_force(session: Session, *, month: str, manual_only: bool = False) -> list[ScoringRule]:
    """The rule versions in force on some day of ``month``, by code (the pick list of the event form)."""
    m = parse_month(month)
    stmt = select(ScoringRule).where(
        ScoringRule.valid_from < m.next_first,
        or_(ScoringRule.valid_to.is_(None), ScoringRule.valid_to > m.first),
    )
    if manual_only:
        stmt = stmt.where(ScoringRule.source == EventSource.MANUAL)
    rules = list(session.scalars(stmt))
    # 1.2 before 1.10; the AUTO- codes after the numbered ones
    return sorted(rules, key=lambda r: ([(0, int(p)) if p.isdigit() else (1, p) for p in r.code.split(".")],
                                        r.valid_from))


def _points_text(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


def range_text(points_min: Decimal, points_max: Decimal) -> str:
    lo, hi = _points_text(points_min), _points_text(points_max)
    return lo if lo == hi else f"{lo} 至 {hi}"


@dataclass(frozen=True)
class RuleRevision:
    old_rule_id: int
    new_rule_id: int
    code: str
    valid_from: dt.date

    @property
    def message(self) -> str:
        return f"已修订细则 {self.code}：新版本自 {self.valid_from} 起生效，此前的月份仍按原细则考核"


@as_actor
def revise_rule(
    session: Session,
    *,
    rule_id: int,
    valid_from: dt.date,
    points_min: Decimal,
    points_max: Decimal,
    description: str | None = None,
    choose_in_range: bool | None = None,
    actor: Actor,
) -> RuleRevision:
    """A new version of a rule from a future date, when the current version stops being in force.

    Past months keep the rules they were scored with: a revision can only start after today.
    """
    require_company_wide(actor, ScoringRule)
    old = session.get(ScoringRule, rule_id)
    if old is None:
        raise Refused(f"考核细则不存在：{rule_id}", [rule_id])
    records.check_text_length(ScoringRule, "description", description)
    if old.valid_to is not None:
        raise Refused(f"细则 {old.code} 的这一版本已于 {old.valid_to} 失效，请修订现行版本", [rule_id])
    if valid_from <= today_local():
        raise Refused(f"新版本的生效日期须晚于今天（{today_local()}）：已过去的月份按当时的细则考核", [rule_id])
    check_points_range(old.code, old.source, points_min, points_max, [rule_id])
    new = ScoringRule(
        code=old.code,
        category=old.category,
        description=description if description is not None else old.description,
        points_min=points_min,
        points_max=points_max,
        choose_in_range=(points_min != points_max) if choose_in_range is None else choose_in_range,
        source=old.source,
        company_own=old.company_own,
        valid_from=valid_from,
    )
    old.valid_to = valid_from
    session.add(new)
    session.flush()
    log_operation(
        session, "revise_scoring_rule",
        params={"rule_id": rule_id, "code": old.code, "valid_from": valid_from,
                "points_min": points_min, "points_max": points_max},
        counts={"new_rule_id": new.id},
    )
    return RuleRevision(old.id, new.id, old.code, valid_from)


def check_points_range(code: str, source: EventSource | None, points_min: Any, points_max: Any,
                       ids: list[Any]) -> None:
    """A rule's 分值区间: 下限 ≤ 上限, all deductions or all additions, fixed for a rule the system applies."""
    if points_min is None or points_max is None:
        raise Refused(f"请填写{label_of(ScoringRule, 'points_min')}和{label_of(ScoringRule, 'points_max')}", ids)
    points_min, points_max = Decimal(points_min), Decimal(points_max)
    if points_min > points_max:
        raise Refused(f"分值下限 {points_min} 大于上限 {points_max}", ids)
    if points_min < 0 < points_max:  # the compute splits deductions from additions by rule
        raise Refused("一条细则或扣分或加分（扣分为负数，加分为正数），分值区间不能跨过 0", ids)
    # 有效投诉 alone is judged within a range (its upper end is the provisional deduction); the other derived
    # rules score every record alike
    if source not in (None, EventSource.MANUAL, EventSource.COMPLAINT) and points_min != points_max:
        raise Refused(f"细则 {code} 由系统自动生成，分值须固定（下限与上限相同）", ids)


# What scores a month: a version in force before today keeps these, so a past month recomputed scores as it was.
_SCORED_BY = ("code", "source", "points_min", "points_max", "valid_from")


@records.rule(ScoringRule)
def _rule_form(session: Session, actor: Actor, change: records.Change) -> None:
    """考核细则 typed in the console obey 修订's rules: the 分值区间 (:func:`check_points_range`), 失效日期 after
    生效日期; a version already in force keeps its code, source, points and start — past months were scored with
    it — and ends no earlier than tomorrow: a change of points is a new version from a future date (修订)."""
    rule = change.obj
    ids = [] if change.created else [rule.id]
    check_points_range(rule.code, rule.source, rule.points_min, rule.points_max, ids)
    if rule.valid_from is None:
        raise Refused(f"请填写{label_of(ScoringRule, 'valid_from')}", ids)
    if rule.valid_to is not None and rule.valid_to <= rule.valid_from:
        raise Refused(f"{label_of(ScoringRule, 'valid_to')}须晚于{label_of(ScoringRule, 'valid_from')}", ids)
    _refuse_overlap(session, rule, ids)
    today = today_local()
    if change.created or change.was("valid_from") > today:
        return
    for attr in _SCORED_BY:
        if change.changed(attr):
            raise Refused(f"细则 {change.was('code')} 自 {change.was('valid_from')} 起已用于考核，不能在表单里修改"
                          f"{label_of(ScoringRule, attr)}：请用“修订”从以后某日起生效新版本", ids)
    if change.changed("valid_to") and rule.valid_to is not None and rule.valid_to <= today:
        raise Refused(f"细则 {rule.code} 已用于考核，{label_of(ScoringRule, 'valid_to')}须晚于今天（{today}）", ids)


def _refuse_overlap(session: Session, rule: ScoringRule, ids: list[Any]) -> None:
    """One version of a rule in force on a day — and, for a rule the system applies, one rule of its source: two
    would leave the day scored by whichever the compute met first (a second 表扬 rule from 2026-11-01 was saved
    and never applied, the first one scoring on). A new version is 修订: it ends the current one."""
    clash = or_(ScoringRule.code == rule.code,
                and_(ScoringRule.source == rule.source, ScoringRule.source != EventSource.MANUAL))
    overlaps = [ScoringRule.valid_to.is_(None) | (ScoringRule.valid_to > rule.valid_from)]
    if rule.valid_to is not None:
        overlaps.append(ScoringRule.valid_from < rule.valid_to)
    other = session.execute(
        select(ScoringRule.code, ScoringRule.valid_from, ScoringRule.valid_to)
        .where(clash, *overlaps, *((ScoringRule.id != rule.id,) if rule.id is not None else ()))
        .order_by(ScoringRule.valid_from).limit(1)
    ).first()
    if other is not None:
        until = f"至 {other.valid_to} " if other.valid_to else "起现行"
        same = "" if other.code == rule.code else f"（同为根据{rule.source.label}记录生成）"
        raise Refused(f"细则 {other.code}{same} 已有自 {other.valid_from} {until}的版本，与 {rule.valid_from} 起的"
                      f"{'新版本' if other.code == rule.code else '细则 ' + rule.code}重叠：同一天只能适用一个版本，"
                      "更改分值请对现行版本用“修订”", ids)


# --- database and scope helpers --------------------------------------------------------------------
def _confirmed(session: Session, month: str, project_ids: Iterable[int]) -> dict[int, str]:
    rows = session.execute(
        select(ScoreMonth.project_id, Project.name)
        .join(Project, Project.id == ScoreMonth.project_id)
        .where(ScoreMonth.month == month, ScoreMonth.project_id.in_(list(project_ids)),
               ScoreMonth.status == MonthStatus.CONFIRMED)
    )
    return dict(rows.all())


def refuse_confirmed(session: Session, month: str, project_ids: Iterable[int], doing: str) -> None:
    locked = _confirmed(session, month, project_ids)
    if locked:
        raise Refused(
            f"{month} 月度考核已确认（{'、'.join(locked.values())}），不能{doing}；如需更正，请客服经理重新开放",
            sorted(locked),
        )


# --- score events -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordedEvents:
    event_ids: tuple[int, ...]
    staff_ids: tuple[int, ...]
    rule_code: str
    points: Decimal
    event_date: dt.date
    dry_run: bool = False
    repeated: tuple[int, ...] = ()  # employees this form had already recorded (a resubmission): not again

    @property
    def message(self) -> str:
        what = f"{self.event_date} 细则 {self.rule_code}，每人 {_points_text(self.points)} 分"
        if self.repeated and not self.event_ids:
            return f"该表单已提交过，未重复录入（{len(self.repeated)} 名员工的考核记录此前已录入：{what}）"
        done = "预览：将为" if self.dry_run else "已为"
        message = f"{done} {len(self.staff_ids) - len(self.repeated)} 名员工录入考核记录：{what}"
        if self.repeated:
            message += f"；另有 {len(self.repeated)} 名员工此前已由同一表单录入，未重复录入"
        return message


def _checked_points(rule: ScoringRule, day: dt.date, points: Decimal | None) -> Decimal:
    """The points an occurrence of ``rule`` on ``day`` scores: the rule's own when fixed, else the
    supervisor's choice within its range."""
    if rule.source is not EventSource.MANUAL:
        raise Refused(f"细则 {rule.code} 由系统根据{rule.source.label}记录自动生成，不能手工录入", [rule.id])
    if rule.valid_from > day or (rule.valid_to is not None and rule.valid_to <= day):
        until = f"，{rule.valid_to} 起失效" if rule.valid_to else ""
        raise Refused(f"细则 {rule.code} 在 {day} 不适用（{rule.valid_from} 起生效{until}）", [rule.id])
    allowed = range_text(rule.points_min, rule.points_max)
    if points is None:
        if rule.points_min != rule.points_max:
            raise Refused(f"细则 {rule.code} 须在 {allowed} 分之间评定分值", [rule.id])
        return rule.points_max
    points = Decimal(points)
    if points != points.quantize(POINTS_STEP):
        raise Refused(f"分值最多保留一位小数：{points}")
    if not rule.points_min <= points <= rule.points_max:
        raise Refused(f"分值 {_points_text(points)} 超出细则 {rule.code} 的范围（{allowed} 分）", [rule.id])
    return points


@as_actor
def record_events(
    session: Session,
    *,
    project_id: int,
    staff_ids: Sequence[int],
    event_date: dt.date,
    rule_id: int,
    points: Decimal | None = None,
    note: str = "",
    form_token: str | None = None,
    actor: Actor,
    dry_run: bool = False,
) -> RecordedEvents:
    """One occurrence of a rule for one or several employees of a project (e.g. a whole shift late).

    ``form_token`` is the console form's one-time token: an employee it already recorded is skipped, so a
    double-submitted form writes its events once.
    """
    staff_ids = sorted({int(s) for s in staff_ids})
    if not staff_ids:
        raise Refused("请选择员工")
    note = (note or "").strip()
    records.check_text_length(ScoreEvent, "note", note)
    names = visible_projects(session, [project_id], actor)
    if event_date > today_local():
        raise Refused(f"考核日期 {event_date} 晚于今天，不能录入")
    members = {
        sid: (pid, name, position) for sid, pid, name, position in session.execute(
            select(Staff.id, Staff.project_id, Staff.name, Staff.position).where(Staff.id.in_(staff_ids))
        )
    }
    foreign = [s for s in staff_ids if s not in members or members[s][0] != project_id]
    if foreign:
        raise Refused(f"以下员工不属于项目 {names[project_id]}：{'、'.join(map(str, foreign))}", foreign)
    unassessed = [s for s in staff_ids if members[s][2] not in SCORED_POSITIONS]
    if unassessed:
        who = "、".join(f"{members[s][1]}（{members[s][2].label}）" for s in unassessed)
        raise Refused(f"以下员工不在客服人员考核范围内（{SCORED_TEXT}）：{who}", unassessed)
    rule = session.get(ScoringRule, rule_id)
    if rule is None:
        raise Refused(f"考核细则不存在：{rule_id}", [rule_id])
    points = _checked_points(rule, event_date, points)
    refuse_confirmed(session, period_of(event_date), [project_id], "再录入该月的考核记录")
    token = one_time(form_token)
    if token is not None and session.scalar(select(ScoreEvent.id).where(
            ScoreEvent.form_token == token, or_(ScoreEvent.project_id != project_id,
                                                ScoreEvent.recorded_by_id.is_distinct_from(actor.user_id))).limit(1)):
        # another account's (or project's) form: its employees would be skipped as 「已由同一表单录入」, nothing
        # recorded of what was typed here
        raise not_this_form()
    if dry_run:
        return RecordedEvents((), tuple(staff_ids), rule.code, points, event_date, dry_run=True)
    now = utcnow()
    inserted = session.execute(
        upsert_insert(session, ScoreEvent)
        .values([
            {"project_id": project_id, "staff_id": s, "event_date": event_date, "rule_id": rule.id, "points": points,
             "note": note, "source": EventSource.MANUAL, "recorded_by_id": actor.user_id,
             "form_token": token, "created_at": now, "updated_at": now}
            for s in staff_ids
        ])
        # the first submission's transaction holds the keys until it commits: a concurrent second one skips them
        .on_conflict_do_nothing(index_elements=["form_token", "staff_id"])
        .returning(ScoreEvent.id, ScoreEvent.staff_id)
    ).all()
    event_ids = tuple(sorted(i for i, _ in inserted))
    repeated = tuple(sorted(set(staff_ids) - {s for _, s in inserted}))
    if event_ids:
        record_bulk(session, kind=AuditKind.INSERT, table="score_event", summary=f"录入考核记录：细则 {rule.code}",
                    ids=select(ScoreEvent.id, ScoreEvent.project_id).where(ScoreEvent.id.in_(event_ids)))
    log_operation(
        session, "record_score_events", project_id=project_id,
        params={"staff_ids": staff_ids, "event_date": event_date, "rule": rule.code, "points": points,
                "form_token": token},
        counts={"events": len(event_ids), "repeated": len(repeated)},
    )
    return RecordedEvents(event_ids, tuple(staff_ids), rule.code, points, event_date, repeated=repeated)


def _check_event_change(session: Session, actor: Actor, event_id: int, stored: Mapping[str, Any]) -> None:
    """May this event (as ``stored``) be corrected or deleted by hand? Derived events follow their records, and a
    confirmed month is locked."""
    if not actor.can_see(stored["project_id"]):
        raise NotPermitted(f"无权修改该考核记录：{event_id}", [event_id])
    if stored["source"] is not EventSource.MANUAL:
        raise Refused(f"该记录由系统根据{stored['source'].label}记录自动生成，请更正来源记录后重新计算", [event_id])
    refuse_confirmed(session, period_of(stored["event_date"]), [stored["project_id"]], "修改或删除该月的考核记录")


@records.delete_rule(ScoreEvent)
def _event_delete(session: Session, actor: Actor, event: ScoreEvent) -> None:
    _check_event_change(session, actor, event.id, {"project_id": event.project_id, "source": event.source,
                                                  "event_date": event.event_date})


@records.rule(ScoreEvent)
def _event_form(session: Session, actor: Actor, change: records.Change) -> None:
    """A form's event obeys the rules of 录入考核: points in the rule's range, the employee of the project, the
    month not confirmed; derived events are not edited by hand."""
    event = change.obj
    if not change.created:
        _check_event_change(session, actor, event.id, change.before)
    if event.source is not None and event.source is not EventSource.MANUAL:
        raise Refused(f"{label_of(ScoreEvent, 'source')}只能是{EventSource.MANUAL.label}：其他来源的记录由系统生成")
    if event.source_id is not None:
        raise Refused(f"{label_of(ScoreEvent, 'source_id')}只能由系统生成：手工录入的考核记录没有来源记录")
    # 登记人 is who typed it (as 录入考核 records it), not a name the form may choose; a correction keeps it
    event.recorded_by_id = actor.user_id if change.created else change.was("recorded_by_id")
    record_events(session, project_id=event.project_id, staff_ids=[event.staff_id], event_date=event.event_date,
                  rule_id=event.rule_id, points=event.points, actor=actor, dry_run=True)


BASE_MAX = Decimal("99999.9")  # ScoreMonth.base_score is Numeric(6, 1)


@records.rule(ScoreMonth)
def _month_form(session: Session, actor: Actor, change: records.Change) -> None:
    """月度考核 typed in the console: 月份 as YYYY-MM and 基础分 from 0 with one decimal. A month stays the project's
    month it was computed for; once confirmed it is locked (「确认后如需更正，由经理重新开放」), as compute and 录入
    are; 抽查意见 is added on 考核结果 with who wrote it and when, never rewritten here."""
    row = change.obj
    if change.created:
        row.month = parse_month(row.month, what=label_of(ScoreMonth, "month")).text
    else:
        for attr, key in (("project_id", "project"), ("month", "month")):
            if change.changed(attr):
                raise Refused(f"{label_of(ScoreMonth, key)}不能在表单里修改：月度考核按项目和月份计算", [row.id])
        if _lines(row.spot_check_note) != _lines(change.was("spot_check_note")):
            raise Refused(f"{label_of(ScoreMonth, 'spot_check_note')}请在“考核结果”页填写（记下抽查人和时间），"
                          "不能在表单里改写", [row.id])
        row.spot_check_note = change.was("spot_check_note")
        if change.was("status") is MonthStatus.CONFIRMED and change.changed("base_score"):
            raise Refused(f"{change.was('month')} 月度考核已确认，不能修改{label_of(ScoreMonth, 'base_score')}："
                          "请经理重新开放后再修改", [row.id])
    if row.base_score is None:
        return  # the model's default, 100
    if _decimal_in(row.base_score, Decimal(0), BASE_MAX, POINTS_STEP) is None:
        raise Refused(f"{label_of(ScoreMonth, 'base_score')}须在 0–{BASE_MAX} 之间，最多一位小数：{row.base_score}")


REWARD_MAX = Decimal("99999999.99")  # GradeBand.reward is Numeric(10, 2)


@records.rule(GradeBand)
def _grade_form(session: Session, actor: Actor, change: records.Change) -> None:
    """考核等级 typed in the console: 最低分 0–99999.9 with one decimal and no other grade's (one of the two would
    never be given), 奖惩金额 within its column to the fen; a grade already given keeps its name — the months'
    scores and their 奖惩 name it."""
    band = change.obj
    ids = [] if change.created else [band.id]
    low = _decimal_in(band.min_total, Decimal(0), BASE_MAX, POINTS_STEP)
    if low is None:
        raise Refused(f"{label_of(GradeBand, 'min_total')}须在 0–{BASE_MAX} 之间，最多一位小数：{band.min_total}", ids)
    if band.reward is not None and _decimal_in(band.reward, -REWARD_MAX, REWARD_MAX, Decimal("0.01")) is None:
        raise Refused(f"{label_of(GradeBand, 'reward')}须在 ±{REWARD_MAX:,} 元之间，最多两位小数：{band.reward}", ids)
    same = session.scalar(select(GradeBand.name).where(GradeBand.min_total == low, GradeBand.id != band.id).limit(1))
    if same is not None:
        raise Refused(f"{label_of(GradeBand, 'min_total')} {low} 与等级「{same}」相同：一分数段只能对应一个等级", ids)
    if not change.created and change.changed("name"):
        given = session.scalar(select(MonthlyScore.month).where(MonthlyScore.grade == change.was("name")).limit(1))
        if given is not None:
            raise Refused(f"等级「{change.was('name')}」已用于月度考核（如 {given}），不能改名", ids)


def _decimal_in(value: Any, low: Decimal, high: Decimal, step: Decimal) -> Decimal | None:
    """``value`` as a Decimal within [low, high] at ``step``, or None."""
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    ok = number.is_finite() and low <= number <= high and number == number.quantize(step)
    return number if ok else None


def _lines(text: str | None) -> str:
    """A note as a form sends it back (a textarea's CRLF line ends, blanks around it) compared as stored."""
    return (text or "").replace("\r\n", "\n").strip()


@records.delete_rule(ScoreMonth)
def _month_delete(session: Session, actor: Actor, row: ScoreMonth) -> None:
    """A confirmed month is the record of its scores: deleting it would unlock them without 重新开放."""
    if row.status is MonthStatus.CONFIRMED:
        raise Refused(f"{row.month} 月度考核已确认，不能删除：请经理重新开放", [row.id])


# --- choices for the console's forms --------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    id: int
    label: str


@dataclass(frozen=True)
class RuleChoice:
    id: int
    code: str
    category: RuleCategory
    description: str
    points_min: Decimal
    points_max: Decimal

    @property
    def label(self) -> str:
        return f"{self.code} {self.category.label}：{self.description}（{range_text(self.points_min, self.points_max)} 分）"


@dataclass(frozen=True)
class EventChoices:
    projects: tuple[Choice, ...]
    staff: tuple[Choice, ...]  # the active staff of the chosen project
    rules: tuple[RuleChoice, ...]  # the rules a supervisor records, in force in the month


def last_month() -> str:
    return period_of(today_local().replace(day=1) - dt.timedelta(days=1))


def project_choices(session: Session, *, actor: Actor) -> tuple[Choice, ...]:
    rows = session.execute(select(Project.id, Project.name).where(actor.project_filter(Project.id)).order_by(Project.name))
    return tuple(Choice(pid, name) for pid, name in rows)


def event_choices(session: Session, *, actor: Actor, project_id: int | None, month: str) -> EventChoices:
    staff: tuple[Choice, ...] = ()
    if project_id is not None:
        visible_projects(session, [project_id], actor)
        staff = tuple(
            Choice(sid, f"{no} {name} {position.label}") for sid, no, name, position in session.execute(
                select(Staff.id, Staff.employee_no, Staff.name, Staff.position)
                .where(Staff.project_id == project_id, Staff.active.is_(True), Staff.position.in_(SCORED_POSITIONS))
                .order_by(Staff.employee_no)
            )
        )
    rules = tuple(
        RuleChoice(r.id, r.code, r.category, r.description, r.points_min, r.points_max)
        for r in rules_in_force(session, month=month, manual_only=True)
    )
    return EventChoices(project_choices(session, actor=actor), staff, rules)


# --- a month's statements, built once ---------------------------------------------------------------
# The compute's large statements are built once for each kind of database, their month, projects and time bound
# when they run (:func:`_month_values`): building and keying them again took ≈ 4 ms of Python each, every compute.
_BUILT: dict[tuple[str, str], Any] = {}


def _built(session: Session, name: str, build: Callable[[], T]) -> T:
    key = (dialect_name(session), name)
    if key not in _BUILT:
        _BUILT[key] = build()
    return _BUILT[key]


def _month_values(month: Month, project_ids: Sequence[int], now: dt.datetime | None = None) -> dict[str, Any]:
    """The values of a built statement's parameters: the month (its text, its first days, its Beijing start and
    end), the projects, and now."""
    return {"month": month.text, "first": month.first, "next_first": month.next_first, "start": month.start,
            "end": month.end, "projects": list(project_ids), "now": now or utcnow()}


def _projects() -> BindParameter:
    return bindparam("projects", expanding=True)


def _in_month() -> tuple[ColumnElement[bool], ...]:
    """:func:`in_month`, bound (:func:`_month_values`)."""
    return (ScoreEvent.project_id.in_(_projects()), ScoreEvent.event_date >= bindparam("first"),
            ScoreEvent.event_date < bindparam("next_first"))


# --- events derived from the records ------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    source: EventSource
    key: ColumnElement  # the source record's id
    staff: ColumnElement  # the employee it names
    at: ColumnElement  # the moment that decides its month
    where: tuple[ColumnElement[bool], ...]
    joins: tuple = ()
    # The points of an occurrence: the rule's (its ``points_max``) unless the record carries its own judgement.
    judged: ColumnElement | None = None


DERIVED_SUMMARY = "根据记录生成考核记录"
# 一次投诉只扣一次：有效投诉先按细则暂定扣分，主管评定后以评定分值替代（不叠加）。
PROVISIONAL_NOTE = "暂定扣分，待主管评定"
JUDGED_NOTE = "主管评定"


def _sources() -> tuple[_Source, ...]:
    now = bindparam("now")
    return (
        # 有效投诉并指明被投诉员工
        _Source(EventSource.COMPLAINT, ServiceRequest.id, ServiceRequest.complained_staff_id,
                ServiceRequest.received_at,
                (ServiceRequest.kind == RequestKind.COMPLAINT,
                 ServiceRequest.complaint_validity == ComplaintValidity.VALID,
                 ServiceRequest.status != RequestStatus.CANCELLED),
                judged=ServiceRequest.complaint_points),
        # 超过完成时限仍未完工，或完工晚于时限：计入时限所在月份
        _Source(EventSource.OVERDUE_ORDER, WorkOrder.id, WorkOrder.assignee_id, WorkOrder.complete_due_at,
                (WorkOrder.complete_due_at < now,
                 or_(WorkOrder.completed_at.is_(None), WorkOrder.completed_at > WorkOrder.complete_due_at),
                 WorkOrder.status != WorkOrderStatus.CANCELLED)),  # withdrawn by the owner: no one was late
        # 回访不满意：计给该工单的处理人
        _Source(EventSource.UNSATISFIED_CALLBACK, Visit.id, WorkOrder.assignee_id, Visit.visited_at,
                (Visit.result == Satisfaction.UNSATISFIED,),
                ((WorkOrder, WorkOrder.id == Visit.work_order_id),)),
        _Source(EventSource.PRAISE, ServiceRequest.id, ServiceRequest.praised_staff_id, ServiceRequest.received_at,
                (ServiceRequest.kind == RequestKind.PRAISE, ServiceRequest.status != RequestStatus.CANCELLED)),
    )


def _candidates(session: Session, src: _Source) -> Select:
    """The events a source's records call for (source, source_id, staff_id, event_date, rule_id, points,
    project_id), scored with the rule of that source in force on the day (bound: :func:`_month_values`)."""
    day = local_date(session, src.at)
    points, note = ScoringRule.points_max, literal("")
    if src.judged is not None:
        points = func.coalesce(src.judged, ScoringRule.points_max)
        note = case((src.judged.is_(None), literal(PROVISIONAL_NOTE)), else_=literal(JUDGED_NOTE))
    stmt = select(
        literal(src.source, ScoreEvent.source.type).label("source"),
        src.key.label("source_id"),
        Staff.id.label("staff_id"),
        type_coerce(day, Date).label("event_date"),
        ScoringRule.id.label("rule_id"),
        type_coerce(points, ScoreEvent.points.type).label("points"),
        type_coerce(note, ScoreEvent.note.type).label("note"),
        Staff.project_id.label("project_id"),
    ).select_from(src.key.table)
    for target, on in src.joins:
        stmt = stmt.join(target, on)
    return stmt.join(Staff, and_(Staff.id == src.staff, Staff.position.in_(SCORED_POSITIONS))).join(
        ScoringRule, and_(ScoringRule.source == src.source, _in_force_on(day))
    ).where(*src.where, src.at >= bindparam("start"), src.at < bindparam("end"), Staff.project_id.in_(_projects()))


def in_month(month: Month, project_ids: list[int]) -> tuple[ColumnElement[bool], ...]:
    return (ScoreEvent.project_id.in_(project_ids), ScoreEvent.event_date >= month.first,
            ScoreEvent.event_date < month.next_first)


# What makes a derived event the one its record calls for; the project follows the employee.
_KEY = ("source", "source_id", "staff_id", "event_date", "rule_id", "points", "note")


def _diff(session: Session) -> Select:
    """The keys where the month's derived events and the events the records call for differ, in one pass over
    each side: a called-for key counts +1, a held one −1, so ``side`` > 0 is missing (with the ``project_id``
    of its employee) and ``side`` < 0 is stale (with the ``held_id`` of the event: a complaint found invalid,
    an order reassigned, a rule revised…).

    Grouped rather than joined: a hash or sort over both sides whatever the statistics say. A join planned from
    statistics taken before a first compute (which call the month's thousands of derived events none) turned
    into a nested loop rescanning one side for every row of the other.
    """
    called = union_all(*(
        select(*(c.c[k] for k in _KEY), literal(1).label("side"), c.c.project_id,
               literal(None, ScoreEvent.id.type).label("held_id"))
        for c in (_candidates(session, src).subquery() for src in _sources())
    ), select(
        *(getattr(ScoreEvent, k) for k in _KEY), literal(-1).label("side"),
        literal(None, ScoreEvent.project_id.type).label("project_id"), ScoreEvent.id.label("held_id"),
    ).where(ScoreEvent.source.in_(DERIVED), *_in_month())).subquery()
    side = func.sum(called.c.side)
    return (
        select(*(called.c[k] for k in _KEY), side.label("side"), func.max(called.c.project_id).label("project_id"),
               func.max(called.c.held_id).label("held_id"))
        .group_by(*(called.c[k] for k in _KEY)).having(side != 0)
    )


@dataclass(frozen=True)
class DerivedChanges:
    added: int
    removed: int


def derived_pending(session: Session, month: Month, project_ids: list[int]) -> DerivedChanges:
    """What deriving would change now, without changing it."""

    def build() -> Select:
        d = _diff(session).subquery()
        return select(func.count().filter(d.c.side > 0), func.count().filter(d.c.side < 0))

    missing, stale = session.execute(_built(session, "pending", build), _month_values(month, project_ids)).one()
    return DerivedChanges(missing, stale)


def _called_for(session: Session) -> Select:
    """Every event the records call for (the ``_KEY`` columns and ``project_id``), the sources one after the other."""
    parts = [_candidates(session, src).subquery() for src in _sources()]
    called = union_all(*(select(*(c.c[k] for k in _KEY), c.c.project_id) for c in parts)).subquery()
    return select(*(called.c[k] for k in _KEY), called.c.project_id).where(true())


def _missing(session: Session) -> Select:
    """The events the records call for that the month's derived events lack (after the stale went)."""
    c = _diff(session).subquery()
    return select(*(c.c[k] for k in _KEY), c.c.project_id).where(c.c.side > 0)


def derive_events(session: Session, month: Month, project_ids: list[int]) -> DerivedChanges:
    """Bring the month's derived events in line with the records: drop the stale, add the missing.

    Insert-or-ignore on (source, source_id, staff_id): a record is counted once however often this runs.
    """
    stale: list[int] = []
    values = _month_values(month, project_ids)
    held = _built(session, "held", lambda: select(
        select(ScoreEvent.id).where(ScoreEvent.source.in_(DERIVED), *_in_month()).exists()))
    if session.scalar(held, values):
        diff = session.execute(_built(session, "diff", lambda: select(
            (d := _diff(session).subquery()).c.side, d.c.held_id)), values).all()
        stale = [held_id for side, held_id in diff if side < 0]
        if stale:  # usually a few: the corrections since the last compute
            record_bulk(
                session, kind=AuditKind.DELETE, table="score_event", summary=f"重新计算 {month.text}：来源记录已变化",
                ids=select(ScoreEvent.id, ScoreEvent.project_id).where(ScoreEvent.id.in_(stale)),
            )
            session.execute(delete(ScoreEvent).where(ScoreEvent.id.in_(stale)))
        if not any(side > 0 for side, _ in diff):  # a recompute with the records unchanged: nothing to add
            return DerivedChanges(0, len(stale))
        # Only the missing are left to find now: the difference again, against the events just cleaned.
        added = _insert_derived(session, month, values, "missing", _missing)
    else:
        # A month with no derived event held (its first compute) has none stale and misses every event its records
        # call for: they are inserted as the sources give them, without the difference (no read of the events held,
        # there are none, and no grouping of every event by its seven keys).
        added = _insert_derived(session, month, values, "called_for", _called_for)
    return DerivedChanges(added, len(stale))


def _insert_derived(session: Session, month: Month, values: dict[str, Any], name: str,
                    missing: Callable[[Session], Select]) -> int:
    """Insert the derived events ``missing`` selects, each record's event once — a key (source, source_id,
    staff_id) held already is left as it is: the same record named in another month's events (a due date moved)
    stays there until that month is recomputed — and their trail: one row per project for all the events derived
    there (thousands a month, each saying the same), at their creation time ``now``, which lists it on each one's
    变更记录 (:func:`_derived_trail`). Returns how many were inserted."""
    trail = {"kind": AuditKind.INSERT, "table": "score_event", "summary": f"计算 {month.text}：{DERIVED_SUMMARY}",
             "record_id": f"compute:{month.text}", "at": values["now"]}

    def insert(leaving_held: bool) -> ReturningInsert:
        def build() -> ReturningInsert:
            m = missing(session).subquery()
            now = bindparam("now", type_=ScoreEvent.created_at.type)
            rows = select(*m.c, now.label("created_at"), now.label("updated_at")).where(true())
            # the table, not the entity: the ORM takes a statement's values for rows to insert
            events = ScoreEvent.__table__
            stmt = upsert_insert(session, events).from_select([col.name for col in rows.selected_columns], rows)
            if leaving_held:
                stmt = stmt.on_conflict_do_nothing(index_elements=["source", "source_id", "staff_id"])
            return stmt.returning(events.c.id, events.c.project_id)

        return _built(session, f"insert {name}{' leaving held' if leaving_held else ''}", build)

    if not is_postgresql(session):
        # SQLite adds the new events to score_total in one grouped statement rather than by a trigger per event
        with SCORE_TOTAL.inserted(session.connection()):
            inserted = session.execute(insert(leaving_held=True), values).all()
        record_per_project(session, ids=inserted, **trail)
        return len(inserted)
    # PostgreSQL: the events and their trail in one statement, the ids not sent back. A key held already is rare
    # (a record whose month changed since that month's compute): the insert is tried as it is first, in a
    # savepoint — ON CONFLICT's speculative insertion of every row cost ≈ 17 ms of 5,763 events' 200, the savepoint
    # nothing measurable — and only if a key is held, again leaving those as they are.
    # (A savepoint of the connection: the session's own would note the 操作人 again inside it.)
    note_actors(session, [actor_of(session).name])
    try:
        with session.connection().begin_nested():
            counts = record_per_project_with(session, insert(leaving_held=False), values, **trail)
    except IntegrityError:
        counts = record_per_project_with(session, insert(leaving_held=True), values, **trail)
    return sum(n for _, n in counts)


def _derived_trail(event_id: int) -> ColumnElement[bool]:
    """A derived event's 新增 row: its compute's row for the project, written at the event's creation time."""
    return and_(
        AuditLog.table_name == ScoreEvent.__tablename__, AuditLog.kind == AuditKind.INSERT,
        AuditLog.record_id.startswith("compute:"),
        select(ScoreEvent.id).where(ScoreEvent.id == event_id, ScoreEvent.source.in_(DERIVED),
                                    ScoreEvent.project_id == AuditLog.project_id,
                                    ScoreEvent.created_at == AuditLog.at).exists(),
    )


TRAIL_LINKS[ScoreEvent.__tablename__] = _derived_trail


# --- compute ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectOutcome:
    project_id: int
    project_name: str
    scored: int
    events: int


@dataclass(frozen=True)
class ComputeResult:
    month: str
    projects: tuple[ProjectOutcome, ...]
    scored: int
    events: int
    derived_added: int
    derived_removed: int
    dry_run: bool = False

    @property
    def message(self) -> str:
        done = "预览（未保存）" if self.dry_run else "已计算"
        derived = f"；根据投诉、工单、回访、表扬记录新增 {self.derived_added} 条、撤销 {self.derived_removed} 条"
        return (f"{done} {self.month} 月度考核：{len(self.projects)} 个项目、{self.scored} 名员工、"
                f"{self.events} 条考核记录{derived}")


def compute_locks(session: Session, *, month: str, project_ids: Iterable[int] | None = None,
                  actor: Actor) -> list[QueueLock]:
    """The queueing locks of a compute started as a 后台任务: one compute per project and month queued or
    running (after the compute's own checks: a past month, the actor's projects, none confirmed)."""
    m = parse_past_month(month)
    projects = visible_projects(session, project_ids, actor)
    refuse_confirmed(session, m.text, projects, "重新计算")
    return [QueueLock(f"scores/{pid}/{m.text}", f"「{name}」{m.text} 月度考核正在计算中") for pid, name in projects.items()]


@as_actor
def compute_scores(
    session: Session, *, month: str, project_ids: Iterable[int] | None = None, actor: Actor, dry_run: bool = False
) -> ComputeResult:
    """计算月度考核: derive the events from the records, then each employee's total, rank and grade.

    Recomputing replaces a draft month; a confirmed month is refused. A dry run goes the same way inside a
    savepoint and rolls it back.
    """
    hold_grant(session, actor, SCORE_MONTH, "action:compute-scores", "计算月度考核")
    m = parse_past_month(month)
    projects = visible_projects(session, project_ids, actor)
    refuse_confirmed(session, m.text, projects, "重新计算")
    if not dry_run:
        return _compute(session, m, projects)
    savepoint = session.begin_nested()
    try:
        return replace(_compute(session, m, projects), dry_run=True)
    finally:
        savepoint.rollback()


def _compute(session: Session, m: Month, projects: dict[int, str]) -> ComputeResult:
    ids = sorted(projects)
    session.flush()  # the caller's pending changes mark their months before the compute reads the marks
    with computing(session):
        started = utcnow()
        months = _lock_months(session, m, ids)
        # Only the months with a write since their compute (or never computed) are derived and summed again;
        # the others already hold what the records give.
        todo = sorted(p for p, (_, changed) in months.items() if changed)
        derived = derive_events(session, m, todo) if todo else DerivedChanges(0, 0)
        if todo:
            _write_scores(session, m, todo)
        # one statement for all the month rows (the ORM's versioned flush writes one per row)
        now = utcnow()
        ours = ScoreMonth.id.in_([i for i, _ in months.values()])
        session.execute(update(ScoreMonth).where(ours).values(
            computed_at=now, updated_at=now, version=ScoreMonth.version + 1,
            # an order becomes overdue without a write when its due time passes: until the month is over, the
            # next compute derives again
            inputs_changed=started < m.end,
        ))
        record_bulk(session, kind=AuditKind.UPDATE, table="score_month", summary=f"计算 {m.text} 月度考核",
                    ids=select(ScoreMonth.id, ScoreMonth.project_id).where(ours), changes={"computed_at": now})

    this_month = (MonthlyScore.month == m.text, MonthlyScore.project_id.in_(ids))
    counts = {
        p: (n, events) for p, n, events in session.execute(
            select(MonthlyScore.project_id, func.count(), func.sum(MonthlyScore.event_count))
            .where(*this_month).group_by(MonthlyScore.project_id)
        )
    }
    outcomes = tuple(ProjectOutcome(p, projects[p], *counts.get(p, (0, 0))) for p in ids)
    result = ComputeResult(
        month=m.text, projects=outcomes, scored=sum(o.scored for o in outcomes),
        events=sum(o.events for o in outcomes), derived_added=derived.added, derived_removed=derived.removed,
    )
    log_operation(
        session, "compute_scores", project_id=ids[0] if len(ids) == 1 else None,
        params={"month": m.text, "project_ids": ids},
        counts={"scored": result.scored, "events": result.events, "derived_added": derived.added,
                "derived_removed": derived.removed},
    )
    return result


def _write_scores(session: Session, m: Month, ids: list[int]) -> None:
    """The month's scores of these projects from their events, each written only where it changed."""
    this_month = (MonthlyScore.month == m.text, MonthlyScore.project_id.in_(ids))
    # The scores of those no longer assessed here go (moved to another project, left without events); the others
    # are written where they changed, so a recompute of unchanged records writes no score.
    # Found first (usually none: the month rows are locked, no other compute writes these scores meanwhile), so a
    # month where none goes costs one read rather than a delete and its trail's insert.
    values = _month_values(m, ids)
    gone = session.scalars(_built(session, "gone", lambda: select(MonthlyScore.id).where(
        MonthlyScore.month == bindparam("month"), MonthlyScore.project_id.in_(_projects()),
        ~select(Staff.id).where(Staff.id == MonthlyScore.staff_id, _assessed()).exists())), values).all()
    if gone:
        record_bulk(session, kind=AuditKind.DELETE, table="monthly_score", summary=f"重新计算 {m.text} 月度得分",
                    ids=select(MonthlyScore.id, MonthlyScore.project_id).where(MonthlyScore.id.in_(gone)))
        session.execute(delete(MonthlyScore).where(MonthlyScore.id.in_(gone)))
    before = session.scalar(select(func.coalesce(func.max(MonthlyScore.id), 0)))
    written = session.scalars(_built(session, "scores", lambda: _scores_upsert(session)), values).all()
    if any(i > before for i in written):
        # the month rows are locked: the rows of it above ``before`` are those just inserted (no list of ids to send)
        record_bulk(session, kind=AuditKind.INSERT, table="monthly_score", summary=f"计算 {m.text} 月度得分",
                    ids=select(MonthlyScore.id, MonthlyScore.project_id).where(*this_month, MonthlyScore.id > before))
    updated = [i for i in written if i <= before]
    if updated:
        record_bulk(session, kind=AuditKind.UPDATE, table="monthly_score", summary=f"计算 {m.text} 月度得分",
                    ids=select(MonthlyScore.id, MonthlyScore.project_id).where(MonthlyScore.id.in_(updated)),
                    columns=SCORE_COLUMNS)
    # the upsert went round the session: scores it holds are read again
    for obj in list(session.identity_map.values()):
        if isinstance(obj, MonthlyScore):
            session.expire(obj)


def _lock_months(session: Session, m: Month, ids: list[int]) -> dict[int, tuple[int, bool]]:
    """The month rows of these projects, created if missing and locked, so two computes of the same month — and
    a compute and a write that marks the month (``score_inputs``) — run one after the other (B08): by project,
    its row's id and whether it is to be computed again (never computed, or marked since)."""
    def build() -> ReturningInsert:
        table = ScoreMonth.__table__  # the table: see _insert_derived
        return upsert_insert(session, table).from_select(
            ["project_id", "month"],
            select(Project.id, bindparam("month", type_=table.c.month.type)).where(Project.id.in_(_projects())),
        ).on_conflict_do_nothing(index_elements=["project_id", "month"]).returning(table.c.id)

    created = session.scalars(_built(session, "months", build), _month_values(m, ids)).all()
    if created:
        record_bulk(
            session, kind=AuditKind.INSERT, table="score_month", summary=f"新建 {m.text} 月度考核",
            ids=select(ScoreMonth.id, ScoreMonth.project_id).where(ScoreMonth.id.in_(created)),
        )
    rows = session.execute(
        select(ScoreMonth.id, ScoreMonth.project_id, ScoreMonth.inputs_changed, ScoreMonth.computed_at,
               ScoreMonth.status)
        .where(ScoreMonth.month == m.text, ScoreMonth.project_id.in_(ids))
        .order_by(ScoreMonth.project_id).with_for_update()
    ).all()
    if any(status is MonthStatus.CONFIRMED for *_, status in rows):
        # confirmed between the first check and the lock
        refuse_confirmed(session, m.text, ids, "重新计算")
    return {p: (i, changed or computed is None) for i, p, changed, computed, _ in rows}


def _assessed() -> ColumnElement[bool]:
    """Whom the month's compute scores: the customer-service staff of the projects; one who left during the
    month still for the events of it (bound: :func:`_month_values`)."""
    has_events = select(ScoreEvent.id).where(ScoreEvent.staff_id == Staff.id, *_in_month()).exists()
    return and_(Staff.project_id.in_(_projects()), Staff.position.in_(SCORED_POSITIONS),
                or_(Staff.active.is_(True), has_events))


def _scores_upsert(session: Session) -> ReturningInsert:
    """Upsert of the month's ``MonthlyScore`` rows (:func:`_scores_select`) that writes a row only where it is
    new or differs from the stored one; returns the ids written (bound: :func:`_month_values`)."""
    rows = _scores_select(session)
    names = [c.name for c in rows.selected_columns]
    stmt = upsert_insert(session, MonthlyScore.__table__).from_select(names, rows)  # the table: see _insert_derived
    stored, new = MonthlyScore.__table__.c, stmt.excluded
    changed = [n for n in names if n not in ("staff_id", "month")]

    def differs(name: str) -> ColumnElement[bool]:  # PostgreSQL's json has no equality: compared as built, text
        old, now = (cast(stored[name], Text), cast(new[name], Text)) if name == "by_category" else (stored[name], new[name])
        return old.is_distinct_from(now)

    return stmt.on_conflict_do_update(
        index_elements=["staff_id", "month"], set_={n: new[n] for n in changed}, where=or_(*map(differs, changed)),
    ).returning(stored.id)


def _scores_select(session: Session) -> Select:
    """The month's ``MonthlyScore`` rows: the month's events by employee — read from the totals the database keeps
    with every event write (``ScoreTotal``: by project, employee and rule, a few rows per employee instead of
    every event) — with their sums by category, rank and grade."""
    postgres = is_postgresql(session)
    # A totals row holds one rule's events (of one project): 一条细则或扣分或加分（扣分为负数，加分为正数）, so its sign
    # is its rule's, and the rows are split into deductions and additions as the rules' sums would be — no sum
    # by rule first.
    pts = ScoreTotal.points
    # NULL for a category without events (a sum over no rows), so the breakdown lists only those with events.
    # FILTER rather than a CASE in each sum: the month's 11,700 totals rows of 500 employees summed in 7.4 ms of
    # PostgreSQL's CPU rather than 9.8 (NULL deductions or additions are 0 below).
    by_category = [func.sum(pts).filter(ScoringRule.category == c).label(c.value) for c in RuleCategory]
    per_staff = (
        select(ScoreTotal.staff_id, func.sum(ScoreTotal.events).label("events"),
               func.sum(pts).filter(pts < 0).label("deductions"),
               func.sum(pts).filter(pts > 0).label("additions"), *by_category)
        .join(ScoringRule, ScoringRule.id == ScoreTotal.rule_id)
        # a key whose events are all gone stays with none: not counted, as no event is
        .where(ScoreTotal.month == bindparam("month"), ScoreTotal.project_id.in_(_projects()), ScoreTotal.events != 0)
        .group_by(ScoreTotal.staff_id).cte("per_staff")
        # computed once: PostgreSQL, inlining it, reran the whole aggregate for every project's month row (20×)
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    # JSON keeps exact decimals as text: "-1.5"; the NULL members are dropped (an employee without events: {})
    pairs = [x for c in RuleCategory for x in (c.value, cast(func.round(per_staff.c[c.value], 1), String))]
    breakdown = (func.json_strip_nulls(func.json_build_object(*pairs)) if postgres
                 else func.json_patch("{}", func.json_object(*pairs)))
    deductions = func.round(func.coalesce(per_staff.c.deductions, 0), 1)
    additions = func.round(func.coalesce(per_staff.c.additions, 0), 1)
    scored = (
        select(
            Staff.project_id, Staff.id.label("staff_id"), ScoreMonth.base_score,
            deductions.label("deductions"), additions.label("additions"),
            func.round(ScoreMonth.base_score + deductions + additions, 1).label("total"),
            func.coalesce(per_staff.c.events, 0).label("event_count"),
            breakdown.label("by_category"),
        )
        .join(ScoreMonth, and_(ScoreMonth.project_id == Staff.project_id, ScoreMonth.month == bindparam("month")))
        .outerjoin(per_staff, per_staff.c.staff_id == Staff.id)
        .where(_assessed())
        .cte("scored")
    )
    s = scored.c
    # Each band covers its lowest total up to the next band's; the lowest band also takes the totals below it.
    bands = select(
        GradeBand.name, GradeBand.min_total,
        func.lead(GradeBand.min_total).over(order_by=GradeBand.min_total).label("below"),
        func.row_number().over(order_by=GradeBand.min_total).label("n"),
    ).cte("bands")
    b = bands.c
    rows = select(
        s.project_id, s.staff_id, bindparam("month", type_=MonthlyScore.month.type).label("month"), s.base_score, s.deductions, s.additions, s.total,
        # 并列同分同名次（1, 1, 3）
        func.rank().over(partition_by=s.project_id, order_by=s.total.desc()).label("rank"),
        func.coalesce(b.name, "").label("grade"), s.by_category, s.event_count,
    ).select_from(scored).outerjoin(
        bands, and_(or_(b.n == 1, s.total >= b.min_total), or_(b.below.is_(None), s.total < b.below))
    )
    return rows.where(true())  # SQLite parses an upsert's SELECT only with a WHERE


# --- confirm, spot-check, reopen ----------------------------------------------------------------------
SCORE_MONTH = "score-month"  # the console's grants these hold, as its 考核结果 page checks them
REOPEN_SCORES = "action:reopen-scores"


@dataclass(frozen=True)
class MonthsResult:
    month: str
    changed: tuple[int, ...]  # project ids whose month changed state
    unchanged: tuple[int, ...]  # already in the state asked for (a double click)
    message: str


@as_actor
def confirm_scores(session: Session, *, month: str, project_ids: Iterable[int], actor: Actor) -> MonthsResult:
    """确认: the supervisor locks the month's scores. Refused while the scores are not those the records give
    now (never computed, or events or source records changed since), while the month is not over, and while a
    complaint's deduction in it is still 「暂定扣分，待主管评定」 (naming the employees and complaints to judge)."""
    hold_grant(session, actor, SCORE_MONTH, "action:confirm-scores", "确认月度考核")
    m = parse_past_month(month)
    if m.next_first > today_local():
        # 「依据平常成绩到月底进行奖惩」: confirmed, the month is locked and its rewards paid — on part of it
        raise Refused(f"{m.text} 尚未结束，不能确认月度考核：月底之后再确认（现在可先计算预览）")
    projects = visible_projects(session, project_ids, actor)
    ids = sorted(projects)
    months = {
        sm.project_id: sm for sm in session.scalars(
            select(ScoreMonth).where(ScoreMonth.month == m.text, ScoreMonth.project_id.in_(ids)).with_for_update()
        )
    }
    never = [p for p in ids if p not in months or months[p].computed_at is None]
    if never:
        raise Refused(f"{m.text} 尚未计算月度考核：{'、'.join(projects[p] for p in never)}", never)
    draft = [p for p in ids if months[p].status is MonthStatus.DRAFT]
    if draft:
        changed = _changed_since_compute(session, m, {p: months[p].computed_at for p in draft})
        pending = derived_pending(session, m, draft)
        if changed or pending.added or pending.removed:
            names = "、".join(projects[p] for p in (changed or draft))
            raise Refused(f"计算之后考核记录或来源记录有变化（{names}），请重新计算后再确认", changed or draft)
        # 细则：被业主投诉者，视情况扣5-10分 — the supervisor's judgement, not the provisional figure, is confirmed
        waiting = to_judge(session, m, draft)
        if waiting:
            raise Refused(f"{m.text} 仍有投诉扣分为「{PROVISIONAL_NOTE}」，不能确认月度考核："
                          f"{to_judge_text(waiting)}；请先在「判定投诉」评定扣分（视情况扣5-10分），"
                          f"重新计算后再确认", sorted({j.project_id for j in waiting}))
    now = utcnow()
    for p in draft:
        months[p].status = MonthStatus.CONFIRMED
        months[p].confirmed_by_id = actor.user_id
        months[p].confirmed_at = now
    session.flush()
    rewards = derive_rewards(session, month=m.text, project_ids=draft)
    already = tuple(p for p in ids if p not in draft)
    log_operation(
        session, "confirm_scores", project_id=ids[0] if len(ids) == 1 else None,
        params={"month": m.text, "project_ids": ids},
        counts={"confirmed": len(draft), "already": len(already), "rewards": rewards},
    )
    message = f"已确认 {m.text} 月度考核：{'、'.join(projects[p] for p in draft) or '无'}"
    if draft:
        message += f"，生成奖惩记录 {rewards} 条"
    if already:
        message += f"（{'、'.join(projects[p] for p in already)} 此前已确认）"
    return MonthsResult(m.text, tuple(draft), already, message)


@dataclass(frozen=True)
class ToJudge:
    """A complaint's deduction still provisional in a month: the supervisor judges it before the month is
    confirmed."""

    project_id: int
    staff: str
    request_id: int
    event_date: dt.date
    points: Decimal

    def __str__(self) -> str:  # 段馨 投诉#123（2026-09-03，暂扣 5 分）
        return f"{self.staff} 投诉#{self.request_id}（{self.event_date}，暂扣 {_points_text(-self.points)} 分）"


TO_JUDGE_SHOWN = 10  # a refusal names this many and counts the rest


def to_judge(session: Session, m: Month, project_ids: Iterable[int]) -> list[ToJudge]:
    """The month's complaint deductions still 「暂定扣分，待主管评定」, by employee and date."""
    return [
        ToJudge(*row) for row in session.execute(
            select(ScoreEvent.project_id, Staff.name, ScoreEvent.source_id, ScoreEvent.event_date, ScoreEvent.points)
            .join(Staff, Staff.id == ScoreEvent.staff_id)
            .where(*in_month(m, sorted(project_ids)), ScoreEvent.source == EventSource.COMPLAINT,
                   ScoreEvent.note == PROVISIONAL_NOTE)
            .order_by(Staff.name, ScoreEvent.event_date, ScoreEvent.source_id)
        )
    ]


def to_judge_text(waiting: Sequence[ToJudge]) -> str:
    text = "、".join(str(j) for j in waiting[:TO_JUDGE_SHOWN])
    if len(waiting) > TO_JUDGE_SHOWN:
        text += f" 等 {len(waiting)} 条"
    return text


def _changed_since_compute(session: Session, m: Month, computed_at: dict[int, dt.datetime]) -> list[int]:
    """The projects whose events changed since their compute: one added or edited after it, or one deleted —
    the events counted now, the way the compute counts them, differ from those its scores counted."""
    ids = sorted(computed_at)
    now = {
        p: (n, last) for p, n, last in session.execute(
            select(Staff.project_id, func.count(), func.max(ScoreEvent.updated_at))
            .join(Staff, Staff.id == ScoreEvent.staff_id)
            .where(*in_month(m, ids), Staff.project_id.in_(ids)).group_by(Staff.project_id)
        )
    }
    counted = dict(session.execute(
        select(MonthlyScore.project_id, func.sum(MonthlyScore.event_count))
        .where(MonthlyScore.month == m.text, MonthlyScore.project_id.in_(ids)).group_by(MonthlyScore.project_id)
    ).all())
    changed = []
    for p in ids:
        events, last_change = now.get(p, (0, None))
        if events != (counted.get(p) or 0) or (last_change is not None and last_change > computed_at[p]):
            changed.append(p)
    return changed


def _month_row(session: Session, month: str, project_id: int, actor: Actor) -> tuple[Month, ScoreMonth, str]:
    m = parse_month(month)
    name = visible_projects(session, [project_id], actor)[project_id]
    row = session.scalar(
        select(ScoreMonth).where(ScoreMonth.month == m.text, ScoreMonth.project_id == project_id).with_for_update()
    )
    if row is None or row.computed_at is None:
        raise Refused(f"{name} {m.text} 尚未计算月度考核", [project_id])
    return m, row, name


def _append_note(row: ScoreMonth, actor: Actor, text: str) -> None:
    stamp = utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    line = f"{stamp} {actor.name}：{text}"
    row.spot_check_note = f"{row.spot_check_note}\n{line}" if row.spot_check_note else line


@as_actor
def record_spot_check(session: Session, *, month: str, project_id: int, note: str, actor: Actor) -> MonthsResult:
    """抽查: the manager's note on a month, kept with who wrote it and when (the grant to edit 月度考核)."""
    hold_grant(session, actor, SCORE_MONTH, "edit", "抽查月度考核")
    note = (note or "").strip()
    if not note:
        raise Refused("请填写抽查意见")
    records.check_text_length(ScoreMonth, "spot_check_note", note)
    m, row, name = _month_row(session, month, project_id, actor)
    _append_note(row, actor, f"抽查：{note}")
    session.flush()
    log_operation(session, "spot_check_scores", project_id=project_id, params={"month": m.text, "note": note},
                  counts={"months": 1})
    return MonthsResult(m.text, (), (project_id,), f"已记录 {name} {m.text} 的抽查意见")


@as_actor
def reopen_scores(session: Session, *, month: str, project_id: int, note: str, actor: Actor) -> MonthsResult:
    """重新开放: the manager unlocks a confirmed month for correction; the reason is recorded with the month."""
    hold_grant(session, actor, SCORE_MONTH, REOPEN_SCORES, "重新开放月度考核")
    note = (note or "").strip()
    if not note:
        raise Refused("请填写重新开放的原因")
    records.check_text_length(ScoreMonth, "spot_check_note", note, label="重新开放的原因")
    m, row, name = _month_row(session, month, project_id, actor)
    if row.status is not MonthStatus.CONFIRMED:
        raise Refused(f"{name} {m.text} 月度考核尚未确认，无需重新开放", [project_id])
    row.status = MonthStatus.DRAFT
    row.confirmed_by_id = None
    row.confirmed_at = None
    row.reopened_by_id = actor.user_id
    row.reopened_at = utcnow()
    _append_note(row, actor, f"重新开放：{note}")
    session.flush()
    withdrawn = withdraw_rewards(session, month=m.text, project_ids=[project_id])
    log_operation(session, "reopen_scores", project_id=project_id, params={"month": m.text, "note": note},
                  counts={"months": 1, "rewards_withdrawn": withdrawn})
    return MonthsResult(m.text, (project_id,), (), f"已重新开放 {name} {m.text} 月度考核，可更正后重新计算")


