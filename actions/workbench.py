"""工作台: the top of the home page — what is waiting for the user, by their role, with a count and the list
behind it (a :class:`kpis.Drill` of ``queues``, or a page), over the projects the home page shows.

A role's queue follows the duties the source documents give it (前台: 派工单的派发, 回访, 信件报刊, 借用物品, 首问负责制;
收费员: 催缴, 收费责任到人; 主管: 工单督办, 月度考核; 经理/分公司: 审批停电, 重大投诉, 指标). A user with several roles
gets each role's items once; a role the table does not know gets every item its grants allow. An item is shown
only if the user may open its list (``may``), so a count never leads to a 403.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import SHANGHAI, Role, Staff, User, user_role, utcnow

from . import billing, score_results
from .actor import Actor
from .kernel.periods import add_months, period_of
from .kpis import Drill, KpiFigures, Scope

# item key → the grant its list needs: (view identity, action); None: everyone
GRANTS: dict[str, tuple[str, str] | None] = {
    "requests_pending": ("service-request", "list"),
    "requests_answered": ("service-request", "action:answer"),
    "first_asked": ("service-request", "list"),
    "major_open": ("service-request", "list"),
    "callbacks_due": ("work-order", "action:callback"),
    "orders_to_close": ("work-order", "action:close"),
    "orders_overdue": ("work-order", "list"),
    "orders_to_accept": ("work-order", "action:accept"),
    "orders_in_hand": ("work-order", "action:complete"),
    "mail_waiting": ("mail-item", "list"),
    "loans_due": ("item-loan", "list"),
    "keys_out": ("key-loan", "list"),
    "arrears_to_chase": ("bill", "list"),
    "notices_to_deliver": ("dunning-notice", "action:deliver"),
    "runs_to_approve": ("dunning-run", "action:approve-dunning"),
    "renovations_to_review": ("renovation-application", "edit"),
    "renovations_under_way": ("renovation-application", "edit"),
    "bookings_to_approve": ("meeting-booking", "edit"),
    "scores_to_compute": ("score-month", "action:compute-scores"),
    "rectifications_due": ("rectification-notice", "edit"),
    "tasks_overdue": ("weekly-task", "list"),
    "kpis_off_target": None,  # the home page itself
}

_DESK = ("requests_pending", "requests_answered", "callbacks_due", "orders_to_close", "first_asked", "mail_waiting",
         "loans_due", "keys_out")
_LEAD = ("runs_to_approve", "major_open", "kpis_off_target")
ROLE_ITEMS: dict[str, tuple[str, ...]] = {
    "前台客服": _DESK,
    "楼宇管家": ("notices_to_deliver", "renovations_under_way", "rectifications_due", "first_asked", "mail_waiting"),
    "收费员": ("arrears_to_chase", "notices_to_deliver"),
    "工程部": ("orders_to_accept", "orders_in_hand", "orders_overdue"),
    "客服主管": ("orders_overdue", "requests_pending", "requests_answered", "callbacks_due", "orders_to_close",
             "scores_to_compute", "renovations_to_review", "bookings_to_approve", "rectifications_due", "tasks_overdue"),
    "客服经理": (*_LEAD, "orders_overdue", "tasks_overdue"),
    "分公司管理": _LEAD,
    "系统管理员": (*_LEAD, "orders_overdue"),
}
# Shown in red when not zero: someone is already late.
LATE = frozenset({"orders_overdue", "loans_due", "runs_to_approve", "major_open", "kpis_off_target",
                  "rectifications_due", "tasks_overdue"})
# Shown only when not zero: a leftover of older records, which nothing makes any more.
LEFTOVER = frozenset({"requests_answered"})
LABELS = {"orders_overdue": "超时工单", "scores_to_compute": "上月考核未计算的项目", "kpis_off_target": "未达标指标"}


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    count: int
    late: bool
    drill: Drill | None  # the list behind the count; None: ``page`` says where
    page: str = ""  # "scores" (the compute page for ``month``) or "kpis" (the KPI board below)
    month: str = ""


@dataclass(frozen=True)
class Workbench:
    roles: tuple[str, ...]
    items: tuple[Item, ...]

    @property
    def waiting(self) -> int:
        return sum(1 for item in self.items if item.count)


def role_names(session: Session, actor: Actor) -> tuple[str, ...]:
    if actor.user_id is None:
        return ()
    return tuple(session.scalars(
        select(Role.name).join(user_role, user_role.c.group_id == Role.id)
        .where(user_role.c.user_id == actor.user_id).order_by(Role.id)
    ))


def _keys(session: Session, actor: Actor, roles: tuple[str, ...]) -> tuple[str, ...]:
    if actor.user_id is not None and session.scalar(select(User.is_superuser).where(User.id == actor.user_id)):
        roles = (*roles, "系统管理员")
    known = [key for role in roles for key in ROLE_ITEMS.get(role, ())]
    if not roles or any(role not in ROLE_ITEMS for role in roles):
        known += list(GRANTS)
    return tuple(dict.fromkeys(known))


def off_target(figures: KpiFigures, month: str) -> int:
    """The (project, KPI) figures of ``month`` that have a target and miss it."""
    return sum(1 for (_, project, m), f in figures.figures.items()
               if m == month and project is not None and f.meets is False)


def workbench(session: Session, *, actor: Actor, scope: Scope, may: Callable[[str, str], bool],
              kpis: KpiFigures | None = None, kpi_month: str = "", now: dt.datetime | None = None) -> Workbench:
    """The items of the actor's roles that ``may`` allows, counted over ``scope``'s projects; ``kpis`` (the home
    page's figures of ``kpi_month``) give 未达标指标."""
    roles = role_names(session, actor)
    today = (now or utcnow()).astimezone(SHANGHAI).date()
    ids = scope.project_ids
    items: list[Item] = []
    for key in _keys(session, actor, roles):
        grant = GRANTS[key]
        if (grant is not None and not may(*grant)) or not ids:
            continue
        if key == "scores_to_compute":
            month = add_months(period_of(today), -1)
            states = score_results.month_states(session, month=month, project_ids=ids, actor=scope.actor)
            count = sum(1 for t in states if t.status is None)
            items.append(Item(key, LABELS[key], count, False, None, "scores", month))
            continue
        if key == "kpis_off_target":
            if kpis is not None:
                items.append(Item(key, f"{kpi_month} {LABELS[key]}", off_target(kpis, kpi_month), True, None,
                                  "kpis", kpi_month))
            continue
        drill = _drill(session, actor, roles, key, ids, today)
        count = session.scalar(select(func.count()).select_from(drill.records.model).where(drill.where())) or 0
        if key in LEFTOVER and not count:
            continue
        items.append(Item(key, LABELS.get(key, drill.records.label), count, key in LATE and count > 0, drill))
    return Workbench(roles, tuple(items))


def _drill(session: Session, actor: Actor, roles: tuple[str, ...], key: str, ids: tuple[int, ...], today: dt.date
           ) -> Drill:
    if key == "first_asked":
        return Drill(key, "", ids, str(actor.user_id or 0))
    if key == "arrears_to_chase":
        staff = billing.actor_staff_id(session, actor)
        return Drill(key, today.isoformat(), ids, "" if staff is None else str(staff))
    if key in ("orders_to_accept", "orders_in_hand", "orders_overdue") and "工程部" in roles:
        # an engineer's own department's orders (用户 → 对应员工 → 所属部门)
        department = session.scalar(select(Staff.department_id).join(User, User.staff_id == Staff.id)
                                    .where(User.id == actor.user_id))
        return Drill(key, "", ids, "" if department is None else str(department))
    if key in ("loans_due", "rectifications_due", "tasks_overdue"):
        return Drill(key, today.isoformat(), ids)
    return Drill(key, "", ids)
