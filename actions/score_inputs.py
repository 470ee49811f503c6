"""What a month's scores are computed from, and the mark a write of it leaves on the draft months of its project.

Every write goes through the audit trail (the flush hook, ``record_bulk``, ``record_batch``): that is where the
mark is set, in the writer's transaction, so a write made by any action, form or import is seen by the next
compute, which then derives and sums again; a compute of a month with no mark only returns what it holds.

The mark is a row update, not a flag read: a writer holds the draft month rows of its project until it commits,
and a compute locks them first (``actions.scores``), so the two run one after the other — a compute never
clears a mark for a change it could not see yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Select, update
from sqlalchemy.orm import Session

from models import MonthStatus, ScoreMonth

# The tables the compute reads: the events and their source records (complaints and praise are service requests,
# overdue orders, callbacks), who is assessed (staff), the rules, the grades, a month's base score.
SCORE_INPUTS = frozenset({
    "score_event", "service_request", "work_order", "visit", "staff", "scoring_rule", "grade_band", "score_month",
})
_QUIET = "score_inputs.quiet"


def feeds_scores(table: str) -> bool:
    return table in SCORE_INPUTS


def mark_changed(session: Session, project_ids: Select | Iterable[int | None]) -> None:
    """Marks the draft months of these projects (a select of their ids, or ids; a ``None`` among them — a
    rule or grade, company-wide — marks every project's) as changed since their compute. A confirmed month
    is locked; reopening it is a write of its own row, which marks it."""
    if session.info.get(_QUIET):
        return
    table = ScoreMonth.__table__
    # updated_at kept: the mark is no edit of the month
    stmt = update(table).where(table.c.status == MonthStatus.DRAFT).values(inputs_changed=True,
                                                                          updated_at=table.c.updated_at)
    if not isinstance(project_ids, Select):
        ids = set(project_ids)
        if not ids:
            return
        if None not in ids:
            stmt = stmt.where(table.c.project_id.in_(sorted(ids)))
    else:
        stmt = stmt.where(table.c.project_id.in_(project_ids))
    session.execute(stmt)


@contextmanager
def computing(session: Session) -> Iterator[None]:
    """The compute's own writes (its derived events, the month rows) leave no mark: they are what it computes."""
    session.info[_QUIET] = True
    try:
        yield
    finally:
        session.info.pop(_QUIET, None)
