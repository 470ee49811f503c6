"""催缴: the monthly dunning schedule, its preview, issuing notices, the approval of power cuts, delivery, and
the data of the printable letters.

The schedule (000_…txt): 每月5日第一次催费；10日第二次；15日第三次，并派发停电函和违约函；20日对欠费两个月及
两个月以上的租户，经公司批准，停电或停电封铺。

- **Who is chased.** An account is a unit. It is chased at a stage when, on the as-of date, it has bills in
  arrears (past due, not paid in full — :func:`actions.billing.overdue`); the amount is what those bills still
  owe at the moment of issuing, so a payment in full before a stage stops every later stage.
- **Once.** A notice is unique per unit, dunning month (``cycle`` = the as-of month) and stage; notices are
  inserted with insert-or-ignore on that key. A run is unique by ``run_key`` (project, month, stage, as-of
  date and scope): a re-run or a double submit finds the run and writes nothing. On PostgreSQL a
  transaction-scoped advisory lock per project, month and stage makes a concurrent second run stop at once
  with 「正在执行」 instead of waiting.
- **By the calendar.** A stage is issued only on or after its day of the month it is dated in (the 5th, 10th,
  15th, 20th): an earlier 催缴基准日 is refused as a whole, naming the day, whatever was issued before — an
  account chased on the 5th is not chased again on the 6th. Without a date a stage is dated on its day of this
  month, and refused while that day is still ahead (never last month's run by default). On or after its day a
  stage may go to an account that had no earlier stage this month (it fell into arrears later).
- **Stage 4 (停电/封铺).** Only accounts with two or more months in arrears (overdue periods owing at least the
  tolerance), whatever the unit's kind (the documents name none; the approving manager keeps any account off, a
  home say), that had stage 3 (with its 停电函) this month, and whose 停电函 deadline is reached on the as-of date —
  the cut never comes before the day the 停电函 gave. Issuing stage 4 proposes the list: the run waits as 待审批 with its notices as
  the proposed list, which no letter or delivery may use yet. A manager (grant ``action:approve-dunning``: 客服经理,
  分公司管理, 系统管理员) other than the proposer approves — re-checking every account: one that paid meanwhile,
  or whose 停电函 has no recorded delivery, drops out with that reason, and a list with no delivered 停电函 at all
  is refused — or rejects with a reason, which voids the proposed notices. Who decided, when and why is kept
  on the run.
- **Deadlines (限缴日期).** Counted from the later of the as-of date and the day the notice is issued, so a
  late run never prints a deadline already past. Stages 1–3: the next stage's schedule date if it is still
  ahead, else five days on; stage 4: three days on, the last day before the cut — counted from the approval
  day, when the letters are issued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    Bill,
    Branch,
    Building,
    Customer,
    DeliveryWay,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    DunningStage,
    FeeType,
    LabeledEnum,
    Project,
    RoleGrant,
    Staff,
    Unit,
    UnitKind,
    User,
    label_of,
    user_role,
    utcnow,
)

from . import records
from .actor import Actor
from .audit import TRAIL_LINKS, as_actor, log_operation, record_bulk, record_run
from .billing import (
    ARREARS_TOLERANCE,
    OUTSTANDING,
    months_in_arrears,
    oldest_in_arrears,
    overdue,
    payer_id,
)
from .errors import NotPermitted, Refused
from .jobs import QueueLock
from .kernel.money import cents
from .kernel.names import natural_key
from .kernel.periods import month_day, period_of, today_local
from .kernel.scope import visible_project
from .kernel.sql import insert_ignoring, is_postgresql

SCHEDULE_DAY = {DunningStage.FIRST: 5, DunningStage.SECOND: 10, DunningStage.THIRD: 15, DunningStage.CUTOFF: 20}
CUTOFF_MIN_MONTHS = 2  # 欠费两个月及两个月以上
# An account owing less than this is not chased: a rounding remainder (0.30 元 of a 按面积 bill) is settled at the
# next payment, not with a letter (RELIABILITY B10); nor is a month whose bills owe less counted in its 欠费月数.
TOLERANCE = ARREARS_TOLERANCE
GRACE_DAYS = 5
CUTOFF_GRACE_DAYS = 3
SAMPLE = 50
EXAMPLES = 20

# The grants, on the views that carry the dunning pages (seeds/roles.py).
DUNNING = "action:dunning"
APPROVE = "action:approve-dunning"
VIEWS = ("dunning-run", "bill")

N = DunningNotice


class LetterKind(LabeledEnum):
    REMINDER = "reminder", "催缴通知书"
    POWER_CUT = "power_cut", "停电函"
    BREACH = "breach", "违约函"
    CUTOFF = "cutoff", "停电/封铺通知书"


LETTERS = {
    DunningStage.FIRST: (LetterKind.REMINDER,),
    DunningStage.SECOND: (LetterKind.REMINDER,),
    DunningStage.THIRD: (LetterKind.REMINDER, LetterKind.POWER_CUT, LetterKind.BREACH),
    DunningStage.CUTOFF: (LetterKind.CUTOFF,),
}


class Exclusion(LabeledEnum):
    ISSUED = "issued", "本月已发过该阶段通知"
    SMALL = "small", f"欠费不足 {TOLERANCE} 元"
    NO_LETTER = "no_letter", "本月未发第三次催缴及停电函"
    SHORT = "short", "欠费不足两个月"
    LETTER_RUNNING = "letter_running", "停电函限缴日期未到"


# --- schedule -----------------------------------------------------------------------------------------
def stage_of(value: Any) -> DunningStage:
    try:
        return value if isinstance(value, DunningStage) else DunningStage(str(value).strip())
    except ValueError:
        raise Refused(f"催缴阶段应为 1–4，收到：{value}") from None


def schedule_date(stage: DunningStage, cycle: str) -> dt.date:
    return month_day(cycle, SCHEDULE_DAY[stage])


def default_as_of(stage: Any, today: dt.date | None = None) -> dt.date:
    """The stage's day of this month: the date a run without one is dated (refused while it is still ahead)."""
    return schedule_date(stage_of(stage), period_of(today or today_local()))


@dataclass(frozen=True)
class ScheduleDay:
    stage: DunningStage
    day: dt.date  # the stage's day of this month
    reached: bool


def month_schedule(today: dt.date | None = None) -> tuple[ScheduleDay, ...]:
    """This month's four days, and whether each has come: what the dunning page offers."""
    today = today or today_local()
    return tuple(ScheduleDay(s, default_as_of(s, today), default_as_of(s, today) <= today) for s in DunningStage)


def current_stage(today: dt.date | None = None) -> DunningStage:
    """The latest stage whose day this month is reached (the first stage before the 5th): the page's default."""
    day = (today or today_local()).day
    reached = [s for s in DunningStage if SCHEDULE_DAY[s] <= day]
    return reached[-1] if reached else DunningStage.FIRST


def _on_schedule(stage: DunningStage, as_of: dt.date, today: dt.date, dated: bool) -> None:
    """Refuses a run dated before its stage's day of the month (5/10/15/20), or after today."""
    rule = f"{stage.label}须在每月{SCHEDULE_DAY[stage]}日及以后发出"
    if as_of > today and dated:
        # before the month's schedule day is reckoned: a date far ahead (9999-12-31) has no next month
        raise Refused(f"催缴基准日 {as_of} 晚于今天（{today}），不能预先催缴")
    due = schedule_date(stage, period_of(as_of))
    if as_of < due:
        raise Refused(f"{rule}：催缴基准日 {as_of} 早于 {due}")
    if as_of > today:
        # Undated, the run is dated on this month's day of the stage, which has not come yet.
        raise Refused(f"{rule}：本月{due.day}日（{due}）未到")


def pay_by(stage: DunningStage, as_of: dt.date, issued_on: dt.date | None = None) -> dt.date:
    """限缴日期 of a notice dated ``as_of`` and issued on ``issued_on``: never before the day it is issued."""
    start = max(as_of, issued_on or as_of)
    if stage is DunningStage.CUTOFF:
        return start + dt.timedelta(days=CUTOFF_GRACE_DAYS)
    following = DunningStage(str(int(stage.value) + 1))
    deadline = schedule_date(following, period_of(as_of))
    return deadline if deadline > start else start + dt.timedelta(days=GRACE_DAYS)


# --- permissions and scope ----------------------------------------------------------------------------
def has_grant(session: Session, actor: Actor, action: str) -> bool:
    """Whether the actor's roles grant ``action`` on one of the dunning views (the console's own RBAC data)."""
    if actor.user_id is None:
        return False
    if session.scalar(select(User.is_superuser).where(User.id == actor.user_id)):
        return True
    return bool(session.scalar(select(exists().where(
        user_role.c.user_id == actor.user_id,
        RoleGrant.group_id == user_role.c.group_id,
        RoleGrant.identity.in_([*VIEWS, "*"]),
        RoleGrant.action.in_([action, "*"]),
    ))))


@dataclass(frozen=True)
class DunningScope:
    """Whom a run chases: a project, a building, or the selected accounts (units) or bills (→ their units)."""

    project_id: int | None = None
    building_id: int | None = None
    unit_ids: tuple[int, ...] = ()
    bill_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Resolved:
    project: Project
    units: ColumnElement[bool] | None  # a filter on Bill.unit_id, None for the whole project
    signature: str
    note: str


def _selected_units(session: Session, actor: Actor, scope: DunningScope) -> tuple[int, list[int]]:
    if scope.bill_ids:
        ids = sorted({int(i) for i in scope.bill_ids})
        found = session.execute(select(Bill.id, Bill.unit_id, Bill.project_id).where(Bill.id.in_(ids))).all()
        what = Bill.__label__
    else:
        ids = sorted({int(i) for i in scope.unit_ids})
        found = session.execute(select(Unit.id, Unit.id, Unit.project_id).where(Unit.id.in_(ids))).all()
        what = Unit.__label__
    missing = sorted(set(ids) - {r[0] for r in found})
    if missing:
        raise Refused(f"{what}不存在：{missing}", missing)
    hidden = sorted(r[0] for r in found if not actor.can_see(r[2]))
    if hidden:
        raise NotPermitted(f"所选{what}中有无权操作的记录：{hidden}", hidden)
    projects = {r[2] for r in found}
    if len(projects) > 1:
        raise Refused("所选记录分属多个项目，请按项目分别催缴", sorted(projects))
    return projects.pop(), sorted({r[1] for r in found})


def _resolve(session: Session, actor: Actor, scope: DunningScope) -> _Resolved:
    if scope.unit_ids or scope.bill_ids:
        project_id, units = _selected_units(session, actor, scope)
        project = visible_project(session, actor, project_id)
        digest = hashlib.sha1(",".join(map(str, units)).encode()).hexdigest()[:16]
        return _Resolved(project, Bill.unit_id.in_(units), f"u{digest}", f"所选 {len(units)} 户")
    if scope.building_id is not None:
        building = session.get(Building, scope.building_id)
        if building is None:
            raise Refused(f"楼栋不存在：{scope.building_id}", [scope.building_id])
        project = visible_project(session, actor, building.project_id)
        units = Bill.unit_id.in_(select(Unit.id).where(Unit.building_id == building.id))
        return _Resolved(project, units, f"b{building.id}", f"楼栋：{building.name}")
    if scope.project_id is None:
        raise Refused("请选择催缴范围：项目、楼栋或所选房屋/账单")
    project = visible_project(session, actor, scope.project_id)
    return _Resolved(project, None, "p", f"项目：{project.name}")


# --- who is chased ------------------------------------------------------------------------------------
def _accounts(project_id: int, as_of: dt.date, units: ColumnElement[bool] | None) -> Select:
    """Per account in arrears on ``as_of``: amount owed, months (overdue periods with a bill owing at least the
    tolerance: ``billing.months_in_arrears``), oldest period."""
    stmt = (
        select(
            Bill.unit_id.label("unit_id"),
            func.sum(OUTSTANDING).label("amount"),
            months_in_arrears().label("months"),
            oldest_in_arrears().label("oldest_period"),
        )
        .where(Bill.project_id == project_id, overdue(as_of))
        .group_by(Bill.unit_id)
    )
    return stmt if units is None else stmt.where(units)


def _letters(project_id: Any, cycle: Any, *, due_by: dt.date | None = None, delivered: bool = False) -> Select:
    """SELECT the accounts (their units) whose stage-3 notice (with its 停电函) of the month exists — with its
    deadline on or before ``due_by``, delivered. Asked as ``unit_id IN (…)``, not correlated: the month's letters
    are read once (PostgreSQL: a hashed subplan), as a stage's own check of its notices is (``_classified``)."""
    where = [N.project_id == project_id, N.cycle == cycle, N.stage == DunningStage.THIRD]
    if due_by is not None:
        where.append(N.pay_by <= due_by)
    if delivered:
        where.append(N.delivered_at.is_not(None))
    return select(N.unit_id).where(*where)


def _classified(project_id: int, cycle: str, stage: DunningStage, as_of: dt.date, units: ColumnElement[bool] | None):
    acct = _accounts(project_id, as_of, units).subquery()
    # Not correlated: the stage's notices of the month are read once (PostgreSQL: a hashed subplan). An EXISTS per
    # account, planned on the statistics of a notice table found empty, scanned the table for each account while the
    # run's insert filled it: 16,666 notices read 2.1 M pages, 2.0 s of CPU where the same INSERT … SELECT took 0.6 s.
    issued = acct.c.unit_id.in_(select(N.unit_id).where(N.project_id == project_id, N.cycle == cycle, N.stage == stage))
    whens = [(issued, Exclusion.ISSUED.value), (acct.c.amount < TOLERANCE, Exclusion.SMALL.value)]
    if stage is DunningStage.CUTOFF:
        # 停电/封铺 follows the 停电函: only accounts that had stage 3 this month, once the day it gave is reached.
        # (the letters read once too: an EXISTS per account, on a first month's empty statistics, scanned them each)
        whens.append((acct.c.unit_id.not_in(_letters(project_id, cycle)), Exclusion.NO_LETTER.value))
        whens.append((acct.c.months < CUTOFF_MIN_MONTHS, Exclusion.SHORT.value))
        whens.append((acct.c.unit_id.not_in(_letters(project_id, cycle, due_by=as_of)),
                      Exclusion.LETTER_RUNNING.value))
    return select(acct, case(*whens, else_="ok").label("reason")).subquery()


@dataclass(frozen=True)
class Account:
    unit_id: int
    unit_label: str
    payer: str
    amount: Decimal
    months: int
    oldest_period: str
    key_tenant: bool


@dataclass(frozen=True)
class Excluded:
    reason: Exclusion
    count: int
    amount: Decimal
    examples: tuple[Account, ...]


def _listed(session: Session, c: Any, where: ColumnElement[bool], limit: int) -> tuple[Account, ...]:
    rows = session.execute(
        select(c.c.unit_id, c.c.amount, c.c.months, c.c.oldest_period, Building.name, Unit.room_no, Unit.key_tenant,
               Customer.name.label("payer"))
        .join(Unit, Unit.id == c.c.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .outerjoin(Customer, Customer.id == payer_id(Unit.id))
        .where(where)
        .order_by(c.c.amount.desc(), c.c.unit_id)
        .limit(limit)
    )
    return tuple(
        Account(r.unit_id, f"{r.name}-{r.room_no}", r.payer or "", cents(r.amount),
                r.months, r.oldest_period, bool(r.key_tenant))
        for r in rows
    )


# --- issuing ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DunningResult:
    project_id: int
    cycle: str
    stage: DunningStage
    as_of: dt.date
    accounts: int  # accounts the run chases (to chase, in a dry run)
    total_amount: Decimal
    excluded: tuple[Excluded, ...]
    sample: tuple[Account, ...]  # the largest accounts, for the preview
    run_id: int | None
    run_status: DunningRunStatus | None
    issued: int  # notices written by this call
    already_run: bool
    dry_run: bool
    undelivered: int = 0  # stage 4: accounts listed whose 停电函 has no recorded delivery (dropped at approval)

    @property
    def message(self) -> str:
        what = self.stage.label
        if self.already_run and not self.dry_run:
            return f"该批催缴已执行过（批次#{self.run_id}），本次未新增通知"
        if self.dry_run:
            text = f"预览：{what}将发出 {self.accounts} 份通知，欠费合计 {self.total_amount} 元"
            if self.already_run:
                text += f"（相同参数的批次#{self.run_id}已执行过）"
        elif self.run_id is None:
            text = f"{what}：没有需要发出的新通知（无欠费，或本月已发过）"
        elif self.run_status is DunningRunStatus.PROPOSED:
            text = f"已提交{what}名单 {self.issued} 户，欠费合计 {self.total_amount} 元，待客服经理审批"
        else:
            text = f"已发出{what} {self.issued} 份，欠费合计 {self.total_amount} 元"
        skipped = [f"{e.reason.label} {e.count} 户" for e in self.excluded if e.count]
        text += f"；未纳入：{'，'.join(skipped)}" if skipped else ""
        return text + (f"；其中 {self.undelivered} 户的停电函尚未登记送达，审批时将移出名单" if self.undelivered else "")


def _lock(session: Session, project_id: int, cycle: str, stage: DunningStage, *, wait: bool) -> None:
    """PostgreSQL: one run per project, month and stage at a time; the second is told at once, not queued —
    unless it ``wait``s its turn."""
    if not is_postgresql(session):
        return  # SQLite serialises writers on the database file
    key = zlib.crc32(f"dunning/{project_id}/{cycle}/{stage.value}".encode())
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        return
    if not session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}):
        raise Refused("同一项目本月该阶段的催缴正在执行，请稍后刷新查看结果", [project_id])


def _checked(session: Session, stage: Any, scope: DunningScope, actor: Actor,
             as_of: dt.date | None) -> tuple[DunningStage, dt.date, _Resolved]:
    """A run's stage and as-of date by the calendar, its scope the actor's, the actor's grant."""
    stage = stage_of(stage)
    today = today_local()
    dated = as_of is not None
    as_of = as_of or default_as_of(stage, today)
    _on_schedule(stage, as_of, today, dated)
    resolved = _resolve(session, actor, scope)
    if actor.user_id is not None and not has_grant(session, actor, DUNNING):
        raise NotPermitted("没有发起催缴的权限")
    return stage, as_of, resolved


def run_lock(session: Session, *, stage: Any, scope: DunningScope, actor: Actor,
             as_of: dt.date | None = None) -> QueueLock:
    """The queueing lock of a run started as a 后台任务 — one per project, month and stage queued or running
    (a building's run and the project's run of a stage chase the same accounts) — after the run's own checks,
    so a run refused (a day not reached, a project not the actor's) is refused before it is queued."""
    stage, as_of, resolved = _checked(session, stage, scope, actor, as_of)
    cycle, project = period_of(as_of), resolved.project
    return QueueLock(f"dunning/{project.id}/{cycle}/{stage.value}", f"「{project.name}」{cycle} {stage.label}正在进行中")


@as_actor
def issue_dunning(
    session: Session,
    *,
    stage: Any,
    scope: DunningScope,
    actor: Actor,
    as_of: dt.date | None = None,
    dry_run: bool = False,
    wait_turn: bool = False,
) -> DunningResult:
    """催缴通知: preview (``dry_run``) or issue one stage for the accounts in scope; stage 4 is proposed for
    approval instead of issued. ``wait_turn``: behind another run of the project, month and stage, wait for it
    to end rather than be refused — a 后台任务 does (nobody waits on its page; the other may be a killed worker's
    transaction PostgreSQL has not rolled back yet, whose retry must not be refused)."""
    stage, as_of, resolved = _checked(session, stage, scope, actor, as_of)
    project, today = resolved.project, today_local()
    cycle = period_of(as_of)
    run_key = f"{project.id}/{cycle}/{stage.value}/{as_of:%Y%m%d}/{resolved.signature}"
    if not dry_run:
        _lock(session, project.id, cycle, stage, wait=wait_turn)
    existing = session.scalar(select(DunningRun).where(DunningRun.run_key == run_key))

    c = _classified(project.id, cycle, stage, as_of, resolved.units)
    outcome = DunningResult(
        project.id, cycle, stage, as_of, 0, Decimal("0.00"), (), (),
        run_id=existing.id if existing else None, run_status=existing.status if existing else None,
        issued=0, already_run=existing is not None, dry_run=dry_run,
    )
    if dry_run:
        return _with_summary(session, outcome, c, examples=True)
    if existing is not None:
        return replace(outcome, accounts=existing.notice_count, total_amount=existing.total_amount)

    # Issue straight away: the insert is the selection (a second pass to count first would double the
    # work of a large run). A run that finds nothing to issue is undone, and the summary says why.
    proposing = stage is DunningStage.CUTOFF
    point = session.begin_nested()
    run = DunningRun(
        project_id=project.id, run_key=run_key, cycle=cycle, stage=stage, as_of=as_of,
        status=DunningRunStatus.PROPOSED if proposing else DunningRunStatus.RUNNING,
        scope_note=resolved.note, requested_by_id=actor.user_id,
    )
    session.add(run)
    session.flush()
    stamp, deadline = utcnow(), pay_by(stage, as_of, today)
    source = select(
        literal(run.id), literal(project.id), c.c.unit_id, payer_id(c.c.unit_id), literal(cycle),
        literal(stage, N.stage.type), c.c.amount, c.c.months, c.c.oldest_period,
        literal(deadline, N.pay_by.type), literal(""), literal(""),
        literal(stamp, N.created_at.type), literal(stamp, N.updated_at.type),
    ).where(c.c.reason == "ok")
    issued = insert_ignoring(
        session, N.__table__,
        ["run_id", "project_id", "unit_id", "customer_id", "cycle", "stage", "amount", "months_in_arrears",
         "oldest_period", "pay_by", "signed_by", "note", "created_at", "updated_at"],
        source, ["unit_id", "cycle", "stage"],
    )
    if not issued:
        point.rollback()
        return _with_summary(session, outcome, c, examples=False)
    point.commit()
    _recount(session, run)
    if not proposing:
        run.status = DunningRunStatus.DONE
    session.flush()
    # One row for the run's notices (thousands, each saying the same), which each notice's 变更记录 lists (_issued_trail)
    record_run(
        session, kind=AuditKind.INSERT, table=N.__tablename__, run_id=run.id, count=run.notice_count,
        project_id=project.id, details={"stage": stage, "cycle": cycle, "as_of": as_of, "pay_by": deadline,
                                        "scope": resolved.note, "amount": run.total_amount},
        summary=f"{stage.label} {cycle}：{'提交审批' if proposing else '发出'} {run.notice_count} "
                f"{'户' if proposing else '份'}，欠费合计 {run.total_amount} 元",
    )
    outcome = replace(outcome, accounts=run.notice_count, total_amount=run.total_amount, run_id=run.id,
                      run_status=run.status, issued=issued)
    if proposing:
        outcome = replace(outcome, undelivered=session.scalar(
            select(func.count()).where(N.run_id == run.id,
                                       N.unit_id.not_in(_letters(project.id, cycle, delivered=True)))))
    log_operation(
        session, "issue_dunning",
        params={"stage": stage, "as_of": as_of, "scope": resolved.note, "run_key": run_key},
        counts={"notices": issued, "amount": run.total_amount}, project_id=project.id, message=outcome.message,
    )
    return outcome


def _issued_trail(notice_id: int) -> ColumnElement[bool]:
    """A notice's 新增 row: its run's one row (``run:<id>``, :func:`issue_dunning`) — who issued it, when, the stage
    and month, and how many accounts for how much the run chased."""
    run = select(literal("run:") + cast(N.run_id, String)).where(N.id == notice_id).scalar_subquery()
    return and_(AuditLog.table_name == N.__tablename__, AuditLog.record_id == run, AuditLog.kind == AuditKind.INSERT)


TRAIL_LINKS[N.__tablename__] = _issued_trail


def _with_summary(session: Session, outcome: DunningResult, c: Any, *, examples: bool) -> DunningResult:
    """The outcome with who would be chased and who is left out and why (with examples for a preview)."""
    summary = {
        r.reason: (r.n, cents(r.amount))
        for r in session.execute(select(c.c.reason, func.count().label("n"), func.sum(c.c.amount).label("amount"))
                                 .group_by(c.c.reason))
    }
    accounts, total = summary.get("ok", (0, Decimal("0.00")))
    excluded = tuple(
        Excluded(reason, *summary[reason.value], _listed(session, c, c.c.reason == reason.value, EXAMPLES) if examples else ())
        for reason in Exclusion
        if reason.value in summary
    )
    sample = _listed(session, c, c.c.reason == "ok", SAMPLE) if examples else ()
    undelivered = 0
    if outcome.stage is DunningStage.CUTOFF and accounts:
        undelivered = session.scalar(select(func.count()).where(
            c.c.reason == "ok", c.c.unit_id.not_in(_letters(outcome.project_id, outcome.cycle, delivered=True))))
    return replace(outcome, accounts=accounts, total_amount=total, excluded=excluded, sample=sample,
                   undelivered=undelivered)


def _recount(session: Session, run: DunningRun) -> None:
    n, amount = session.execute(
        select(func.count(), func.coalesce(func.sum(N.amount), 0)).where(N.run_id == run.id)
    ).one()
    run.notice_count, run.total_amount = n, cents(amount)


# --- a run and its accounts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerCutLetter:
    """An account's 停电函 of the month (its stage-3 notice): when it was issued, the day it gave, its delivery."""

    issued_on: dt.date
    pay_by: dt.date
    delivered_on: dt.date | None
    signed_by: str


@dataclass(frozen=True)
class RunAccounts:
    """A run with the accounts its notices name: the list a manager approves, or what was issued."""

    run_id: int
    project: str
    cycle: str
    stage: DunningStage
    as_of: dt.date
    status: DunningRunStatus
    scope_note: str
    requested_by: str
    approved_by: str
    approved_at: dt.datetime | None
    decision_note: str
    notice_count: int
    total_amount: Decimal
    accounts: tuple[Account, ...]  # largest first, at most ``limit``
    letters: Mapping[int, PowerCutLetter]  # stage 4: each listed account's 停电函, by unit id

    @property
    def undelivered(self) -> int:
        """Stage 4: listed accounts whose 停电函 has no recorded delivery — dropped from the list at approval."""
        return sum(1 for a in self.accounts if not (a.unit_id in self.letters and self.letters[a.unit_id].delivered_on))


def run_accounts(session: Session, *, run_id: int, actor: Actor, limit: int = 1000) -> RunAccounts:
    run = session.get(DunningRun, run_id)
    if run is None:
        raise Refused(f"催缴批次不存在：{run_id}", [run_id])
    if not actor.can_see(run.project_id):
        raise NotPermitted(f"无权查看批次#{run_id}", [run_id])
    rows = session.execute(
        select(N.unit_id, N.amount, N.months_in_arrears, N.oldest_period, Building.name, Unit.room_no, Unit.key_tenant,
               Customer.name.label("payer"))
        .join(Unit, Unit.id == N.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .outerjoin(Customer, Customer.id == N.customer_id)
        .where(N.run_id == run.id)
        .order_by(N.amount.desc(), N.unit_id)
        .limit(limit)
    )
    accounts = tuple(
        Account(r.unit_id, f"{r.name}-{r.room_no}", r.payer or "", r.amount, r.months_in_arrears, r.oldest_period,
                bool(r.key_tenant))
        for r in rows
    )
    letters: dict[int, PowerCutLetter] = {}
    if run.stage is DunningStage.CUTOFF and accounts:
        for r in session.execute(
            select(N.unit_id, N.created_at, N.pay_by, N.delivered_at, N.signed_by)
            .where(N.cycle == run.cycle, N.stage == DunningStage.THIRD, N.unit_id.in_([a.unit_id for a in accounts]))
        ):
            letters[r.unit_id] = PowerCutLetter(_local_day(r.created_at), r.pay_by, _local_day(r.delivered_at),
                                                r.signed_by)
    return RunAccounts(
        run.id, session.get(Project, run.project_id).name, run.cycle, run.stage, run.as_of, run.status,
        run.scope_note, str(run.requested_by or "命令行/系统"), str(run.approved_by or ""), run.approved_at,
        run.decision_note, run.notice_count, run.total_amount, accounts, letters,
    )


def _local_day(at: dt.datetime | None) -> dt.date | None:
    return at.astimezone(SHANGHAI).date() if at is not None else None


# --- approval of stage 4 ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApprovalResult:
    run_id: int
    approved: bool
    notices: int  # notices standing after the decision
    dropped: int  # accounts that paid (or fell under two months) since the proposal
    undelivered: int  # accounts dropped because their 停电函 has no recorded delivery
    total_amount: Decimal
    decided_by: str
    decided_at: dt.datetime
    kept_out: int = 0  # accounts the approver took off the list (a 主力店 the manager negotiates with himself)

    @property
    def message(self) -> str:
        if not self.approved:
            return f"已驳回停电/封铺名单（批次#{self.run_id}），名单已作废"
        text = f"已批准停电/封铺 {self.notices} 户，欠费合计 {self.total_amount} 元"
        text += f"；{self.dropped} 户已缴费或欠费不足两个月，已移出名单" if self.dropped else ""
        text += f"；{self.undelivered} 户停电函未送达，已移出名单" if self.undelivered else ""
        return text + (f"；{self.kept_out} 户由审批人移出名单，不停电/封铺" if self.kept_out else "")


def approve_dunning(
    session: Session, *, run_id: int, actor: Actor, approve: bool = True, note: str = "",
    keep_out: Iterable[int] = (),
) -> ApprovalResult:
    """审批 a proposed stage-4 list: approve (re-checking every account) or reject with a reason (the list is
    void). ``keep_out``: accounts (units) of the list the approver approves no cut for — 000 规划2 「对主力店、功能店及
    态度恶劣的商家，由部门经理牵头负责逐一谈判解决」: the rest of the list is approved without them, the reason in
    审批意见 (required then, as for a rejection)."""
    note = " ".join((note or "").split())
    records.check_text_length(DunningRun, "decision_note", note)
    if not approve and not note:
        raise Refused("驳回停电/封铺名单须填写驳回理由", [run_id])
    keep_out = sorted({int(u) for u in keep_out})
    if keep_out and not approve:
        raise Refused("驳回时整份名单作废，无须逐户移出", keep_out)
    if keep_out and not note:
        raise Refused("移出名单的住户须在审批意见中说明理由（如主力店由经理逐一谈判）", keep_out)
    run = session.scalar(
        select(DunningRun).where(DunningRun.id == run_id).with_for_update().execution_options(populate_existing=True)
    )
    if run is None:
        raise Refused(f"催缴批次不存在：{run_id}", [run_id])
    if not actor.can_see(run.project_id):
        raise NotPermitted(f"无权审批批次#{run_id}", [run_id])
    if actor.user_id is None or not has_grant(session, actor, APPROVE):
        raise NotPermitted("停电/封铺须经公司批准：只有客服经理及以上可以审批", [run_id])
    if run.stage is not DunningStage.CUTOFF or run.status is not DunningRunStatus.PROPOSED:
        raise Refused(f"批次#{run.id}（{run.stage.label}，{run.status.label}）不是待审批的停电/封铺名单", [run.id])
    if run.requested_by_id == actor.user_id:
        raise NotPermitted("不能审批自己提交的停电/封铺名单，须由另一位管理人员审批", [run.id])
    now = utcnow()
    dropped = undelivered = 0
    if keep_out:
        listed = set(session.scalars(select(N.unit_id).where(N.run_id == run.id, N.unit_id.in_(keep_out))))
        strangers = [u for u in keep_out if u not in listed]
        if strangers:
            # named by 楼栋-房号 only within the run's project: another project's unit stays a number (not its name)
            own = list(session.scalars(select(Unit.id).where(Unit.id.in_(strangers), Unit.project_id == run.project_id)))
            named = _unit_labels(session, own) + [f"#{u}" for u in strangers if u not in own]
            raise Refused(f"以下房屋不在批次#{run.id}的名单中，不能移出：{'、'.join(named)}", strangers)
        if len(listed) == session.scalar(select(func.count()).where(N.run_id == run.id)):
            raise Refused("名单中的住户已全部移出：不停电/封铺请驳回名单", keep_out)
        gone = (N.run_id == run.id, N.unit_id.in_(keep_out))
        record_bulk(session, kind=AuditKind.DELETE, table=N.__tablename__, ids=select(N.id, N.project_id).where(*gone),
                    summary=f"停电/封铺审批：审批人移出（{note}）")
        session.execute(delete(N.__table__).where(*gone))
    if approve:
        # Re-check at approval: an account that paid since the proposal, or owes under two months now, drops
        # out; so does one whose 停电函 has no recorded delivery (the cut follows a letter the tenant received).
        acct = _accounts(
            run.project_id, run.as_of, Bill.unit_id.in_(select(N.unit_id).where(N.run_id == run.id))
        ).subquery()
        still = select(acct.c.unit_id).where(acct.c.months >= CUTOFF_MIN_MONTHS)
        listed = session.execute(
            select(N.unit_id, N.unit_id.in_(still).label("owing"),
                   N.unit_id.in_(_letters(run.project_id, run.cycle, delivered=True)).label("delivered"))
            .where(N.run_id == run.id)
        ).all()
        paid = [r.unit_id for r in listed if not r.owing]
        not_delivered = [r.unit_id for r in listed if r.owing and not r.delivered]
        if not_delivered and len(paid) + len(not_delivered) == len(listed):
            units = _unit_labels(session, not_delivered)
            raise Refused(f"名单中没有停电函已送达的住户，不能批准：{'、'.join(units[:EXAMPLES])}"
                          f"{' 等' if len(units) > EXAMPLES else ''}的停电函尚未登记送达", not_delivered)
        for units, summary in ((paid, "停电/封铺审批：已缴费移出"), (not_delivered, "停电/封铺审批：停电函未送达移出")):
            if units:
                gone = (N.run_id == run.id, N.unit_id.in_(units))
                record_bulk(session, kind=AuditKind.DELETE, table=N.__tablename__,
                            ids=select(N.id, N.project_id).where(*gone), summary=summary)
                session.execute(delete(N.__table__).where(*gone))
        dropped, undelivered = len(paid), len(not_delivered)
        owed = (
            select(func.sum(OUTSTANDING))
            .where(Bill.unit_id == N.unit_id, overdue(run.as_of))
            .correlate(N)
            .scalar_subquery()
        )
        changed = select(N.id, N.project_id).where(N.run_id == run.id, N.amount != owed)
        record_bulk(session, kind=AuditKind.UPDATE, table=N.__tablename__, ids=changed, summary="停电/封铺审批：欠费金额更新")
        session.execute(
            update(N.__table__).where(N.run_id == run.id, N.amount != owed)
            .values(amount=owed, updated_at=now, version=N.version + 1)  # forms opened before are stale (B09)
        )
        # The letters are issued now: their deadline counts from today, not from the proposal.
        deadline = pay_by(run.stage, run.as_of, now.astimezone(SHANGHAI).date())
        record_bulk(session, kind=AuditKind.UPDATE, table=N.__tablename__, summary="停电/封铺审批：限缴日期顺延",
                    ids=select(N.id, N.project_id).where(N.run_id == run.id, N.pay_by < deadline))
        session.execute(
            update(N.__table__).where(N.run_id == run.id, N.pay_by < deadline)
            .values(pay_by=deadline, updated_at=now, version=N.version + 1)
        )
        _recount(session, run)
        run.status = DunningRunStatus.APPROVED
    else:
        proposed = select(N.id, N.project_id).where(N.run_id == run.id)
        record_bulk(session, kind=AuditKind.DELETE, table=N.__tablename__, ids=proposed, summary="停电/封铺名单驳回")
        session.execute(delete(N.__table__).where(N.run_id == run.id))
        run.status = DunningRunStatus.REJECTED
        run.run_key = f"{run.run_key}/rejected-{run.id}"  # frees the key: a corrected list may be proposed again
        run.notice_count, run.total_amount = 0, Decimal("0.00")
    run.approved_by_id, run.approved_at, run.decision_note = actor.user_id, now, note
    session.flush()
    result = ApprovalResult(run.id, approve, run.notice_count, dropped, undelivered, run.total_amount, actor.name, now,
                            len(keep_out))
    log_operation(
        session, "approve_dunning" if approve else "reject_dunning",
        params={"run_id": run.id, "note": note, "keep_out": keep_out},
        counts={"notices": run.notice_count, "dropped": dropped, "undelivered": undelivered, "kept_out": len(keep_out)},
        project_id=run.project_id, message=(note or result.message)[:500],
    )
    return result


def _unit_labels(session: Session, unit_ids: list[int]) -> list[str]:
    """The units' labels (1栋-101) in the order they are delivered: building, then room, by number."""
    rows = session.execute(select(Building.name, Unit.room_no).join(Unit, Unit.building_id == Building.id)
                           .where(Unit.id.in_(unit_ids))).all()
    return [f"{b}-{r}" for b, r in sorted(rows, key=lambda x: (natural_key(x[0]), natural_key(x[1])))]


# --- delivery -----------------------------------------------------------------------------------------
AMEND = "更正请在该通知的编辑页修改"


@dataclass(frozen=True)
class DeliveryResult:
    notice_ids: tuple[int, ...]
    updated: int
    already: int = 0  # delivered before (another tab, another collector): left as recorded

    @property
    def message(self) -> str:
        kept = f"；{self.already} 份此前已登记送达，未改动（{AMEND}）" if self.already else ""
        return f"已登记 {self.updated} 份通知的送达情况{kept}"


def _delivery_rows(session: Session, ids: Iterable[int]) -> list[Any]:
    return list(session.execute(
        select(N.id, N.project_id, N.unit_id, N.created_at, N.delivered_at, DunningRun.status)
        .join(DunningRun, DunningRun.id == N.run_id).where(N.id.in_(ids))
    ).all())


def _notices_named(session: Session, rows: list[Any]) -> str:
    """「1栋-101、1栋-102 … 等 626 份」: the notices a refusal is about, by the 房屋 the user knows them by."""
    units = _unit_labels(session, sorted({r.unit_id for r in rows}))
    more = f" 等 {len(rows)} 份" if len(rows) > EXAMPLES else ""
    return "、".join(units[:EXAMPLES]) + more


def _check_delivery(session: Session, rows: list[Any], delivered_at: dt.datetime, delivered_by_id: int | None) -> None:
    """送达's rules, for 登记送达 and the notice's edit form alike."""
    if delivered_at.tzinfo is None or delivered_at > utcnow() + dt.timedelta(minutes=5):
        raise Refused(f"{label_of(N, 'delivered_at')}无效：不能晚于现在")
    pending = [r for r in rows if r.status not in (DunningRunStatus.DONE, DunningRunStatus.APPROVED)]
    if pending:
        raise Refused(f"以下通知所在批次尚未审批，不能送达：{_notices_named(session, pending)}",
                      sorted(r.id for r in pending))
    # A letter says 「已于…送达」 from this record: a delivery before the notice was issued cannot be true.
    early = [r for r in rows if delivered_at < r.created_at]
    if early:
        issued = max(r.created_at for r in early).astimezone(SHANGHAI)
        raise Refused(f"{label_of(N, 'delivered_at')} {delivered_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 早于通知发出时间"
                      f"（{issued:%Y-%m-%d %H:%M}）：{_notices_named(session, early)}", sorted(r.id for r in early))
    if delivered_by_id is None:
        raise Refused(f"请选择{label_of(N, 'delivered_by_id')}", [r.id for r in rows])
    staff_project = session.scalar(select(Staff.project_id).where(Staff.id == delivered_by_id))
    if staff_project is None or any(r.project_id != staff_project for r in rows):
        raise Refused(f"{label_of(N, 'delivered_by_id')}须是通知所属项目的员工：{delivered_by_id}", [delivered_by_id])


@records.rule(N)
def _delivery_form(session: Session, actor: Actor, change: records.Change) -> None:
    """送达 typed in the notice's edit form: the same rules as 登记送达 (the approval at stage 4 trusts them)."""
    notice = change.obj
    fields = ("delivered_at", "delivered_by_id", "delivery_way", "signed_by")
    if not any(change.changed(name) for name in fields):
        return
    if notice.delivered_at is None:
        # who delivered, how, who signed — without when, a notice would read as handed over that never was
        if notice.delivered_by_id is not None or notice.delivery_way is not None or (notice.signed_by or "").strip():
            raise Refused(f"请填写{label_of(N, 'delivered_at')}：{label_of(N, 'delivered_by_id')}、"
                          f"{label_of(N, 'delivery_way')}、{label_of(N, 'signed_by')}随送达时间一起登记", [notice.id])
        return
    _check_delivery(session, _delivery_rows(session, [notice.id]), notice.delivered_at, notice.delivered_by_id)


def record_delivery(
    session: Session,
    *,
    notice_ids: Iterable[int],
    actor: Actor,
    delivered_by_id: int,
    way: Any,
    signed_by: str = "",
    delivered_at: dt.datetime | None = None,
) -> DeliveryResult:
    """送达登记 for one or many notices: by whom, how, signed for by whom."""
    ids = sorted({int(i) for i in notice_ids})
    if not ids:
        raise Refused("请先选择通知")
    try:
        way = DeliveryWay(way)
    except ValueError:
        raise Refused(f"{label_of(N, 'delivery_way')}无效：{way}") from None
    delivered_at = delivered_at or utcnow()
    signed_by = (signed_by or "").strip()
    records.check_text_length(N, "signed_by", signed_by)
    rows = _delivery_rows(session, ids)
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise Refused(f"通知不存在：{missing}", missing)
    hidden = sorted(r.id for r in rows if not actor.can_see(r.project_id))
    if hidden:
        raise NotPermitted(f"所选通知中有无权操作的记录：{hidden}", hidden)
    _check_delivery(session, rows, delivered_at, delivered_by_id)
    # A delivery is recorded once: a second 登记送达 of a notice (another tab, another collector, a double click)
    # would put its own time and signer over the one the letter and the stage-4 approval read. The condition is in
    # the UPDATE itself, so of two at once the second (waiting on the rows' locks) finds them delivered.
    updated = sorted(session.scalars(
        update(N.__table__).where(N.id.in_(ids), N.delivered_at.is_(None)).values(
            delivered_at=delivered_at, delivered_by_id=delivered_by_id, delivery_way=way,
            signed_by=signed_by, updated_at=utcnow(),
            version=N.version + 1,  # a form opened before the delivery is refused (B09)
        ).returning(N.id)
    ))
    if not updated:
        raise Refused(f"所选通知均已登记送达，未重复登记：{_notices_named(session, rows)}；{AMEND}", ids)
    record_bulk(session, kind=AuditKind.UPDATE, table=N.__tablename__,
                ids=select(N.id, N.project_id).where(N.id.in_(updated)), summary="催缴通知送达登记")
    log_operation(
        session, "record_delivery",
        params={"notice_ids": updated[:100], "delivered_by_id": delivered_by_id, "way": way},
        counts={"notices": len(updated), "already": len(ids) - len(updated)},
        project_id=rows[0].project_id if len({r.project_id for r in rows}) == 1 else None,
    )
    return DeliveryResult(tuple(updated), len(updated), len(ids) - len(updated))


# --- letters ------------------------------------------------------------------------------------------
_DIGITS = "零壹贰叁肆伍陆柒捌玖"


def _section_upper(n: int) -> str:
    """0 < n < 10000 in capital numerals, zeros inside kept once: 1005 → 壹仟零伍."""
    out, zero = "", False
    for power, unit in ((3, "仟"), (2, "佰"), (1, "拾"), (0, "")):
        digit = n // 10**power % 10
        if digit == 0:
            zero = bool(out)
            continue
        out += ("零" if zero else "") + _DIGITS[digit] + unit
        zero = False
    return out


def rmb_upper(amount: Decimal) -> str:
    """人民币大写, as letters and receipts write amounts: 1205.00 → 壹仟贰佰零伍元整, 301.25 → 叁佰零壹元贰角伍分."""
    cents_total = int(cents(amount) * 100)
    yuan, rest = divmod(cents_total, 100)
    jiao, fen = divmod(rest, 10)
    sections = []
    while yuan:
        yuan, section = divmod(yuan, 10000)
        sections.append(section)
    text = ""
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if not section:
            continue
        if text and (sections[index + 1] == 0 or section < 1000):
            text += "零"
        text += _section_upper(section) + ("", "万", "亿", "万亿")[index]
    if text:
        text += "元"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif fen and text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return (text or "零元") + ("" if fen else "整")


@dataclass(frozen=True)
class LetterLine:
    period: str
    fee_types: str  # the month's fee types, 、-separated
    amount_due: Decimal
    amount_paid: Decimal
    outstanding: Decimal


def _day_text(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


@dataclass(frozen=True)
class EarlierNotice:
    """A notice the account had before this one in the same month: its stage, the day it was really issued and
    the day its delivery was recorded (None: no delivery recorded)."""

    stage: DunningStage
    issued_on: dt.date
    delivered_on: dt.date | None


@dataclass(frozen=True)
class Letter:
    notice_id: int
    kind: LetterKind
    stage: DunningStage
    company: str
    project: str
    project_phone: str
    project_address: str
    unit_label: str
    is_shop: bool
    payer: str
    lines: tuple[LetterLine, ...]  # what is still owed now, one line per month
    total: Decimal
    months: int  # 欠费月数: months with a bill owing at least the tolerance (only remainders left: the months listed)
    as_of: dt.date
    pay_by: dt.date
    issued_on: dt.date
    earlier: tuple[EarlierNotice, ...] = ()  # this account's earlier notices of the month, in order

    @property
    def total_upper(self) -> str:
        return rmb_upper(self.total)

    @property
    def ordinal(self) -> str:
        """第一次 … : the reminders this account has had this month with this one, not the stage's number."""
        n = len(self.earlier) + 1
        return f"第{'一二三四'[n - 1] if n <= 4 else n}次"

    @property
    def earlier_text(self) -> str:
        """本月已于 12月5日、12月10日 催缴 — only what was sent, on the days it was sent: a stage issued once its
        date came (the account fell into arrears later in the month) does not claim the reminders it never had."""
        return "、".join(_day_text(e.issued_on) for e in self.earlier)

    @property
    def power_cut_letter(self) -> EarlierNotice | None:
        """The 停电函 (with the 违约函) this account had this month, for the 停电/封铺通知书 to name."""
        return next((e for e in self.earlier if e.stage is DunningStage.THIRD), None)

    @property
    def delivered_text(self) -> str:
        """「12月15日发出的通知已于12月16日送达」 — only deliveries that were recorded."""
        return "；".join(f"{_day_text(e.issued_on)}发出的{'《停电函》《违约函》' if e.stage is DunningStage.THIRD else '催缴通知书'}"
                        f"已于{_day_text(e.delivered_on)}送达" for e in self.earlier if e.delivered_on)


@dataclass(frozen=True)
class RunLetters:
    run_id: int
    project: str
    stage: DunningStage
    cycle: str
    letters: tuple[Letter, ...]
    settled: int  # notices whose account has paid everything since: no letter printed


def run_letters(session: Session, *, run_id: int, actor: Actor, notice_ids: Iterable[int] | None = None) -> RunLetters:
    """The letters of a run (or of some of its notices), one per notice and kind, amounts as owed now."""
    run = session.get(DunningRun, run_id)
    if run is None:
        raise Refused(f"催缴批次不存在：{run_id}", [run_id])
    if not actor.can_see(run.project_id):
        raise NotPermitted(f"无权查看批次#{run_id}", [run_id])
    if run.status not in (DunningRunStatus.DONE, DunningRunStatus.APPROVED):
        raise Refused(f"批次#{run.id}{run.status.label}，未经审批不能打印通知", [run.id])
    chosen = N.run_id == run.id
    if notice_ids is not None:
        chosen = and_(chosen, N.id.in_(sorted({int(i) for i in notice_ids})))
    lines: dict[int, list[LetterLine]] = {}
    owing: dict[int, set[str]] = {}  # the months in arrears: a bill owing at least the tolerance (months_in_arrears)
    for r in session.execute(
        select(N.id, Bill.period, FeeType.name, Bill.amount_due, Bill.amount_paid)
        .join(Bill, and_(Bill.unit_id == N.unit_id, overdue(run.as_of)))
        .join(FeeType, FeeType.id == Bill.fee_type_id)
        .where(chosen)
        .order_by(N.id, Bill.period, FeeType.name)
    ):
        # One line per month: a month's fee types share it, so a long debtor's letter still fits one page.
        owed = lines.setdefault(r.id, [])
        if r.amount_due - r.amount_paid >= TOLERANCE:
            owing.setdefault(r.id, set()).add(r.period)
        if owed and owed[-1].period == r.period:
            last = owed[-1]
            owed[-1] = LetterLine(r.period, f"{last.fee_types}、{r.name}", last.amount_due + r.amount_due,
                                  last.amount_paid + r.amount_paid, last.outstanding + r.amount_due - r.amount_paid)
        else:
            owed.append(LetterLine(r.period, r.name, r.amount_due, r.amount_paid, r.amount_due - r.amount_paid))
    heads = session.execute(
        select(N.id, N.stage, N.pay_by, N.created_at, Building.name.label("building"), Unit.room_no, Unit.kind,
               Customer.name.label("payer"), Project.name.label("project"), Project.phone, Project.address,
               Project.company, Branch.company.label("branch_company"))
        .join(Unit, Unit.id == N.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .join(Project, Project.id == N.project_id)
        .join(Branch, Branch.id == Project.branch_id)
        .outerjoin(Customer, Customer.id == func.coalesce(N.customer_id, payer_id(Unit.id)))
        .where(chosen)
        .order_by(Building.name, Unit.room_no)
    ).all()
    # in the order they are delivered: building, then floor and room, by number (3栋 before 10栋, 103 before 1001)
    heads = sorted(heads, key=lambda h: (natural_key(h.building), natural_key(h.room_no)))
    prior = aliased(N)
    earlier: dict[int, list[EarlierNotice]] = {}
    for notice_id, stage, at, delivered_at in session.execute(
        select(N.id, prior.stage, prior.created_at, prior.delivered_at)
        .join(prior, and_(prior.unit_id == N.unit_id, prior.cycle == N.cycle, prior.stage < N.stage))
        .where(chosen).order_by(N.id, prior.stage)
    ):
        earlier.setdefault(notice_id, []).append(EarlierNotice(stage, _local_day(at), _local_day(delivered_at)))
    letters, settled = [], 0
    for h in heads:
        owed = lines.get(h.id, [])
        if not owed:
            settled += 1
            continue
        for kind in LETTERS[h.stage]:
            letters.append(Letter(
                h.id, kind, h.stage, h.company or h.branch_company or h.project, h.project, h.phone, h.address,
                f"{h.building}-{h.room_no}", h.kind is UnitKind.SHOP, h.payer or "业主/租户",
                tuple(owed), sum((x.outstanding for x in owed), Decimal("0")), len(owing.get(h.id, ())) or len(owed),
                run.as_of, h.pay_by, (run.approved_at or h.created_at).astimezone(SHANGHAI).date(),
                tuple(earlier.get(h.id, ())),
            ))
    return RunLetters(run.id, heads[0].project if heads else "", run.stage, run.cycle, tuple(letters), settled)
