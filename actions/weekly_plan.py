"""周计划 (003 物业客服周计划): a week's tasks by section with their deadlines, the week's review (周复盘), and the
carry-over — 「每周工作结束后……总结本周工作，分析问题」: what the past week left unfinished becomes a task of the new
week, pointing at the one it continues, so nothing open is forgotten and nothing is carried twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from models import Staff, TaskStatus, WeeklyReview, WeeklyTask, label_of

from . import records
from .actor import Actor
from .audit import as_actor, log_operation
from .errors import Refused
from .kernel.periods import monday_of
from .kernel.scope import visible_projects

OPEN = (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.DELAYED)


@dataclass(frozen=True)
class CarryOver:
    project_ids: tuple[int, ...]
    week_start: dt.date
    carried: int  # tasks copied into the week now
    already: int  # tasks of the week carried into it before (a second click)

    @property
    def message(self) -> str:
        text = f"已将上周及更早未完成的 {self.carried} 项工作结转到 {self.week_start} 这一周"
        return text + (f"（{self.already} 项此前已结转）" if self.already else "")


@as_actor
def carry_over_tasks(session: Session, *, week_start: dt.date, project_ids: Iterable[int] | None = None,
                     actor: Actor) -> CarryOver:
    """Into the week of ``week_start`` (any day of it), copy the open tasks (未开始、进行中、已延期) of every earlier week
    of these projects (all the actor's when none) not carried yet — last week's, and an older week's nobody carried
    (left open, it was lost) — into ``week_start``'s plan: same section, task, owner and time of day, due the same
    weekday of the new week, 未开始, 结转自 the original. A task carried already is continued by its copy, which is
    carried in its turn if it stays open: each open task once (held by the unique 结转自). The open tasks are few
    dozen: read once and written in one flush."""
    week_start = monday_of(week_start)
    ids = sorted(visible_projects(session, project_ids, actor))
    previous = week_start - dt.timedelta(days=7)
    copy = aliased(WeeklyTask)
    open_tasks = session.scalars(
        select(WeeklyTask).where(WeeklyTask.project_id.in_(ids), WeeklyTask.week_start < week_start,
                                 WeeklyTask.status.in_(OPEN), ~exists().where(copy.carried_from_id == WeeklyTask.id))
        .order_by(WeeklyTask.week_start, WeeklyTask.id).with_for_update(of=WeeklyTask)
    ).all()
    # read again once they are locked: a click that waited on another's lock sees the copies it made (held anyway
    # by the unique 结转自)
    carried = set(session.scalars(select(copy.carried_from_id).where(
        copy.carried_from_id.in_([t.id for t in open_tasks]))))
    already = session.scalar(select(func.count()).where(
        WeeklyTask.project_id.in_(ids), WeeklyTask.week_start == week_start, WeeklyTask.carried_from_id.is_not(None)))
    new = [
        WeeklyTask(project_id=t.project_id, week_start=week_start, section=t.section, task=t.task, owner_id=t.owner_id,
                   deadline=week_start + dt.timedelta(days=(t.deadline - t.week_start).days % 7),
                   deadline_time=t.deadline_time, status=TaskStatus.NOT_STARTED,
                   note="上周未完成，结转" if t.week_start == previous else f"{t.week_start} 这一周未完成，结转",
                   carried_from_id=t.id)
        for t in open_tasks if t.id not in carried
    ]
    session.add_all(new)
    session.flush()
    log_operation(session, "carry_over_tasks", project_id=ids[0] if len(ids) == 1 else None,
                  params={"week_start": week_start, "project_ids": ids},
                  counts={"carried": len(new), "already": already})
    return CarryOver(tuple(ids), week_start, len(new), already)


@records.rule(WeeklyTask)
def _task_in_its_week(session: Session, actor: Actor, change: records.Change) -> None:
    """A task belongs to a week, Monday to Sunday: 周起始日 is its Monday whatever day of it is typed (a plan dated
    Wednesday was no week's — 结转 looks for last week's tasks by their Monday, and left it open for ever), and it is
    due within that week (「拜访业主：完成时间在本周五15:00前」); what is not done by then is carried into the next.
    Its 负责人 is someone of the project still at work."""
    task = change.obj
    if task.week_start is not None:
        task.week_start = monday_of(task.week_start)
    if task.week_start is not None and task.deadline is not None and (
            change.changed("week_start") or change.changed("deadline")):
        last = task.week_start + dt.timedelta(days=6)
        if not task.week_start <= task.deadline <= last:
            raise Refused(f"{label_of(WeeklyTask, 'deadline')} {task.deadline} 不在该周内（{task.week_start} 至 {last}）："
                          f"周计划的工作在本周内完成，未完成的下周结转")
    if task.owner_id is not None and (change.changed("owner_id") or change.changed("project_id")):
        owner = session.get(Staff, task.owner_id)
        if owner is None or owner.project_id != task.project_id or not owner.active:
            raise Refused(f"{label_of(WeeklyTask, 'owner')} {owner.name if owner else f'#{task.owner_id}'} "
                          f"不是该项目的在职员工", [task.owner_id])


@records.rule(WeeklyReview)
def _review_of_a_week(session: Session, actor: Actor, change: records.Change) -> None:
    """A week's review is the week's, one per project: its 周起始日 is the Monday of the day typed."""
    if change.obj.week_start is not None:
        change.obj.week_start = monday_of(change.obj.week_start)
