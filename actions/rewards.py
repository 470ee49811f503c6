"""有奖有罚: a confirmed month's scores bring each employee the reward or penalty of their grade.

「依据平常成绩到月底进行奖惩」(000 §1), 「做到有奖有罚，奖罚分明」(考核制度). The amount of each grade is data
(考核等级 · 奖惩金额, the company's own: the documents give none). The rows are written when the supervisor
confirms the month and taken back when the manager reopens it, so the payroll only ever reads confirmed figures.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from models import AuditKind, GradeBand, MonthlyScore, RewardEntry, RewardKind

from .audit import record_bulk


def _this_month(month: str, project_ids: Iterable[int]) -> tuple:
    return RewardEntry.month == month, RewardEntry.project_id.in_(sorted(project_ids))


def derive_rewards(session: Session, *, month: str, project_ids: Iterable[int]) -> int:
    """One 奖惩记录 per employee scored in ``month`` in these projects, from their grade's amount; returns how many."""
    ids = sorted(project_ids)
    if not ids:
        return 0
    kind = case((GradeBand.reward > 0, literal(RewardKind.REWARD.value)),
                (GradeBand.reward < 0, literal(RewardKind.PENALTY.value)),
                else_=literal(RewardKind.NONE.value))
    rows = (
        select(MonthlyScore.project_id, MonthlyScore.staff_id, MonthlyScore.month, MonthlyScore.total,
               MonthlyScore.grade, kind, GradeBand.reward, GradeBand.reward_note)
        .join(GradeBand, GradeBand.name == MonthlyScore.grade)
        .where(MonthlyScore.month == month, MonthlyScore.project_id.in_(ids))
    )
    columns = ["project_id", "staff_id", "month", "total", "grade", "kind", "amount", "note"]
    session.execute(insert(RewardEntry).from_select(columns, rows))
    written = select(RewardEntry.id, RewardEntry.project_id).where(*_this_month(month, ids))
    record_bulk(session, kind=AuditKind.INSERT, table="reward_entry", summary=f"{month} 月度考核确认：生成奖惩记录",
                ids=written)
    return session.scalar(select(func.count()).select_from(written.subquery()))


def withdraw_rewards(session: Session, *, month: str, project_ids: Iterable[int]) -> int:
    """A reopened month's 奖惩记录 are taken back until it is confirmed again."""
    ids = sorted(project_ids)
    record_bulk(session, kind=AuditKind.DELETE, table="reward_entry", summary=f"{month} 月度考核重新开放：撤回奖惩记录",
                ids=select(RewardEntry.id, RewardEntry.project_id).where(*_this_month(month, ids)))
    return session.execute(delete(RewardEntry).where(*_this_month(month, ids))).rowcount
