"""部门日报 of a past day: the orders open at the end of that day and those completed during it, as they stood
then — not the orders open now."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
from sqlalchemy import select

from actions.actor import actor_for_user
from actions.kernel.periods import local_day_bounds
from actions.work_orders import (
    department_report,
    dispatch_requests,
    export_department_report,
)
from models import SHANGHAI, Department, WorkOrder, WorkOrderStatus, utcnow
from tests import factories as f

S = WorkOrderStatus


def test_a_past_day_lists_the_orders_open_at_its_end_and_completed_during_it(session):
    p1 = f.project(session)
    actor = actor_for_user(session, f.user(session, roles=["客服主管"], projects=[p1]))
    today = utcnow().astimezone(SHANGHAI).date()
    day = today - dt.timedelta(days=2)
    start, end = local_day_bounds(day)
    h = dt.timedelta(hours=1)
    reqs = [f.service_request(session, project_=p1, received_at=start - 3 * 24 * h) for _ in range(5)]
    dispatch_requests(session, request_ids=[r.id for r in reqs], actor=actor)
    still_open, done_later, done_that_day, dispatched_after, done_before = orders = [
        session.scalar(select(WorkOrder).where(WorkOrder.request_id == r.id)) for r in reqs]

    def set_(o, status, dispatched, accepted=None, completed=None, closed=None, due=end + 24 * h):
        o.status, o.dispatched_at, o.accepted_at, o.completed_at, o.closed_at = (
            status, dispatched, accepted, completed, closed)
        o.respond_due_at, o.complete_due_at = dispatched + h, due

    set_(still_open, S.ACCEPTED, start + 2 * h, accepted=start + 3 * h)  # open then and now
    set_(done_later, S.DONE, start - 20 * h, accepted=start - 19 * h, completed=end + 3 * h,
         due=end - h)  # open (and late) that evening, completed the next morning
    set_(done_that_day, S.CLOSED, start + h, accepted=start + 2 * h, completed=end - 2 * h,
         closed=end + 24 * h)  # completed during the day, closed since
    set_(dispatched_after, S.DISPATCHED, end + h)  # open now, but did not exist that evening
    set_(done_before, S.DONE, start - 3 * 24 * h, accepted=start - 50 * h, completed=start - 10 * h)
    session.flush()
    engineering = session.scalar(select(Department).where(Department.name == "工程部"))
    assert {o.department_id for o in orders} == {engineering.id}

    report = department_report(session, department_id=engineering.id, actor=actor, day=day)
    lines = {line.id: line for line in report.lines}
    assert set(lines) == {still_open.id, done_later.id, done_that_day.id}
    # each line as it stood at the end of the day
    assert {i: line.status for i, line in lines.items()} == {
        still_open.id: S.ACCEPTED, done_later.id: S.ACCEPTED, done_that_day.id: S.DONE}
    assert lines[done_later.id].completed_at is None and lines[done_that_day.id].completed_at == end - 2 * h
    assert {i: line.sla for i, line in lines.items()} == {
        still_open.id: None, done_later.id: "overdue", done_that_day.id: None}
    assert (report.open_count, report.done_count, report.overdue_count) == (2, 1, 1)

    exported = export_department_report(session, department_id=engineering.id, actor=actor, day=day)
    rows = list(openpyxl.load_workbook(io.BytesIO(exported.content)).active.iter_rows(min_row=2, values_only=True))[1:]
    assert exported.rows == 3 and {row[0] for row in rows} == set(lines)

    # today's report is what is open now, and nothing was completed today
    now = department_report(session, department_id=engineering.id, actor=actor, day=today)
    assert {line.id for line in now.lines} == {still_open.id, dispatched_after.id}
    assert {line.id: line.status for line in now.lines} == {still_open.id: S.ACCEPTED, dispatched_after.id: S.DISPATCHED}
    # the orders themselves were only read
    session.expire_all()
    assert session.get(WorkOrder, done_later.id).status is S.DONE
