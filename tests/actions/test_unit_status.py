"""A unit's state follows the front desk's records in the same transaction (issue 16 item 6): a completed
交房验收 → 已交房; an approved renovation → 装修中; its inspection → back to 已交房 / 已入住."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from models import (
    AuditKind,
    AuditLog,
    MoveInChecklist,
    RenovationApplication,
    RenovationStatus,
    Unit,
    UnitStatus,
)
from tests import factories as f

DAY = dt.date(2026, 11, 2)


def _status(session, unit):
    session.expire_all()
    row = session.get(Unit, unit.id)
    return row.status, row.handover_date


def _renovation(session, unit, status=RenovationStatus.PENDING):
    row = RenovationApplication(project=unit.project, unit=unit, applicant="张伟", start_date=DAY,
                                end_date=DAY + dt.timedelta(days=30), deposit=Decimal("2000"), status=status)
    session.add(row)
    session.flush()
    return row


def test_a_completed_handover_marks_the_unit_handed_over(session):
    p = f.project(session)
    unit = f.unit(session, project_=p, status=UnitStatus.VACANT)
    checklist = MoveInChecklist(project=p, unit=unit, received_by="张伟", handover_date=DAY, accepted=False)
    session.add(checklist)
    session.flush()
    assert _status(session, unit) == (UnitStatus.VACANT, None)  # not accepted yet: still vacant

    savepoint = session.begin_nested()
    checklist = session.get(MoveInChecklist, checklist.id)
    checklist.accepted = True
    session.flush()
    assert _status(session, unit) == (UnitStatus.HANDED_OVER, DAY)
    savepoint.rollback()  # one transaction: the unit goes back with the checklist
    assert _status(session, unit) == (UnitStatus.VACANT, None)

    session.get(MoveInChecklist, checklist.id).accepted = True
    session.flush()
    assert _status(session, unit) == (UnitStatus.HANDED_OVER, DAY)
    assert session.scalar(select(AuditLog.changes).where(
        AuditLog.table_name == "unit", AuditLog.record_id == str(unit.id), AuditLog.kind == AuditKind.UPDATE)) == {
        "status": ["vacant", "handed_over"], "handover_date": [None, "2026-11-02"]}


def test_an_occupied_unit_is_not_set_back_by_a_late_checklist(session):
    p = f.project(session)
    unit = f.unit(session, project_=p, status=UnitStatus.OCCUPIED)
    session.add(MoveInChecklist(project=p, unit=unit, received_by="张伟", handover_date=DAY, accepted=True))
    session.flush()
    assert _status(session, unit)[0] is UnitStatus.OCCUPIED


def test_a_renovation_makes_the_unit_decorating_until_it_is_inspected(session):
    p = f.project(session)
    unit = f.unit(session, project_=p, status=UnitStatus.HANDED_OVER)
    renovation = _renovation(session, unit)
    assert _status(session, unit)[0] is UnitStatus.HANDED_OVER  # 待审核
    renovation = session.get(RenovationApplication, renovation.id)
    renovation.status, renovation.approved_on = RenovationStatus.APPROVED, DAY
    session.flush()
    assert _status(session, unit)[0] is UnitStatus.DECORATING
    # a second one approved; the first inspected: still being renovated
    second = _renovation(session, session.get(Unit, unit.id), RenovationStatus.IN_PROGRESS)
    first = session.get(RenovationApplication, renovation.id)
    first.status, first.inspected_on = RenovationStatus.INSPECTED, DAY
    session.flush()
    assert _status(session, unit)[0] is UnitStatus.DECORATING
    last = session.get(RenovationApplication, second.id)
    last.status, last.inspected_on = RenovationStatus.INSPECTED, DAY
    session.flush()
    assert _status(session, unit)[0] is UnitStatus.HANDED_OVER  # nobody moved in: back to 已交房


def test_after_the_inspection_an_occupied_unit_is_occupied_again(session):
    p = f.project(session)
    unit = f.unit(session, project_=p, status=UnitStatus.OCCUPIED)
    unit.handover_date, unit.move_in_date = DAY - dt.timedelta(days=60), DAY - dt.timedelta(days=30)
    renovation = _renovation(session, unit, RenovationStatus.APPROVED)
    assert _status(session, unit)[0] is UnitStatus.DECORATING
    session.get(RenovationApplication, renovation.id).status = RenovationStatus.REJECTED  # withdrawn
    session.flush()
    assert _status(session, unit)[0] is UnitStatus.OCCUPIED


def test_an_approved_renovation_moved_to_another_unit_or_deleted_leaves_no_unit_decorating(session):
    """An approved 装修申请 typed on the wrong room: corrected to the right one, the wrong room is 已交房 again and
    the right one 装修中; then deleted by a supervisor (entered by mistake), the right one is back too — while a
    unit with another approved renovation stays 装修中."""
    from actions.actor import actor_for_user
    from actions.records import delete_record, save_record

    p = f.project(session)
    wrong, right = (f.unit(session, project_=p, status=UnitStatus.HANDED_OVER) for _ in range(2))
    actor = actor_for_user(session, f.user(session, roles=["客服主管"], projects=[p]))
    renovation = _renovation(session, wrong, RenovationStatus.APPROVED)
    assert (_status(session, wrong)[0], _status(session, right)[0]) == (UnitStatus.DECORATING, UnitStatus.HANDED_OVER)

    renovation = session.get(RenovationApplication, renovation.id)
    save_record(session, RenovationApplication, renovation, {"unit": str(right.id)}, actor=actor,
                version=renovation.version)
    assert (_status(session, wrong)[0], _status(session, right)[0]) == (UnitStatus.HANDED_OVER, UnitStatus.DECORATING)

    delete_record(session, RenovationApplication, session.get(RenovationApplication, renovation.id), actor=actor)
    assert _status(session, right)[0] is UnitStatus.HANDED_OVER

    # two approved on one unit: deleting one leaves it 装修中; a pending one deleted changes nothing
    first, second = (_renovation(session, session.get(Unit, right.id), RenovationStatus.APPROVED) for _ in range(2))
    pending = _renovation(session, session.get(Unit, wrong.id))
    delete_record(session, RenovationApplication, session.get(RenovationApplication, first.id), actor=actor)
    delete_record(session, RenovationApplication, session.get(RenovationApplication, pending.id), actor=actor)
    assert (_status(session, right)[0], _status(session, wrong)[0]) == (UnitStatus.DECORATING, UnitStatus.HANDED_OVER)
    assert session.get(RenovationApplication, second.id).status is RenovationStatus.APPROVED
