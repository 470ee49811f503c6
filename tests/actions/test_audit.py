"""The audit trail: every write, whatever its source, in the same transaction (issue 2 §7, P02)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from actions.actor import Actor
from actions.audit import log_operation, record_batch, record_bulk
from models import AuditKind, AuditLog, Customer, OperationLog, Unit
from tests import factories


def _rows(session, **where):
    stmt = select(AuditLog).order_by(AuditLog.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditLog, key) == value)
    return session.scalars(stmt).all()


def test_insert_update_delete_are_recorded_with_diffs_and_actor(session):
    p = factories.project(session)
    session.info["actor"] = Actor(user_id=None, name="测试员", project_ids=None, source="cli")
    c = factories.customer(session, project_=p, name="李雷", phone="13900001111", id_number="110101199003071234")
    inserted = _rows(session, table_name="customer", record_id=str(c.id))
    assert [r.kind for r in inserted] == [AuditKind.INSERT]
    assert inserted[0].actor_name == "测试员" and inserted[0].source == "cli"
    assert inserted[0].changes["name"] == "李雷"
    assert inserted[0].changes["id_number"] == "***"  # ID numbers never in clear

    c.name = "韩梅梅"
    c.phone = "13900002222"
    session.flush()
    updated = _rows(session, table_name="customer", record_id=str(c.id), kind=AuditKind.UPDATE)
    assert len(updated) == 1
    assert updated[0].changes["name"] == ["李雷", "韩梅梅"]
    assert updated[0].changes["phone"] == ["139****1111", "139****2222"]  # masked (issue 14)
    assert set(updated[0].changes) == {"name", "phone"}
    assert updated[0].project_id == p.id

    session.delete(c)
    session.flush()
    assert [r.kind for r in _rows(session, table_name="customer", record_id=str(c.id))][-1] == AuditKind.DELETE


def test_an_unchanged_save_writes_nothing(session):
    p = factories.project(session)
    c = factories.customer(session, project_=p)
    before = session.scalar(select(func.count()).select_from(AuditLog))
    c.name = c.name
    session.flush()
    assert session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_passwords_are_redacted(session):
    user = factories.user(session, username="redact")
    row = _rows(session, table_name="user_account", record_id=str(user.id))[0]
    assert row.changes["password_hash"] == "***"


def test_rollback_takes_the_audit_rows_with_it(session):
    p = factories.project(session)
    before = session.scalar(select(func.count()).select_from(AuditLog))
    nested = session.begin_nested()
    factories.customer(session, project_=p)
    nested.rollback()
    assert session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_set_based_writes_are_recorded_per_row_and_operation_logged(session):
    p = factories.project(session)
    units = [factories.unit(session, project_=p) for _ in range(3)]
    ids = [u.id for u in units]
    session.info["actor"] = Actor(user_id=None, name="批处理", project_ids=None, source="action")
    session.execute(update(Unit).where(Unit.id.in_(ids)).values(key_tenant=True))
    record_bulk(session, kind=AuditKind.UPDATE, table="unit",
                ids=select(Unit.id, Unit.project_id).where(Unit.id.in_(ids)), summary="标记主力店")
    log_operation(session, "mark_key_tenants", params={"project": p.id}, counts={"units": 3}, project_id=p.id)
    rows = _rows(session, table_name="unit", kind=AuditKind.UPDATE, summary="标记主力店")
    assert sorted(int(r.record_id) for r in rows) == sorted(ids)
    assert {r.actor_name for r in rows} == {"批处理"} and {r.project_id for r in rows} == {p.id}
    op = session.scalars(select(OperationLog).where(OperationLog.operation == "mark_key_tenants")).one()
    assert op.counts == {"units": 3} and op.actor_name == "批处理"


def test_an_import_batch_is_recorded_once_per_table(session):
    p = factories.project(session)
    session.info["actor"] = Actor(user_id=None, name="导入员", project_ids=None, source="import", ip="10.0.0.8")
    before = session.scalar(select(func.count()).select_from(AuditLog))
    record_batch(session, kind=AuditKind.INSERT, table="survey_response", batch_id=42, count=100_000,
                 summary="导入调查问卷 100000 份（批次 #42）", project_id=p.id,
                 details={"file_name": "回收汇总.xlsx", "sheets": ["1栋", "2栋"]})
    assert session.scalar(select(func.count()).select_from(AuditLog)) == before + 1
    row = _rows(session, table_name="survey_response", record_id="batch:42").pop()
    assert (row.kind, row.actor_name, row.source, row.ip, row.project_id) == (
        AuditKind.INSERT, "导入员", "import", "10.0.0.8", p.id)
    assert row.changes == {"batch_id": 42, "count": 100_000, "file_name": "回收汇总.xlsx", "sheets": ["1栋", "2栋"]}


def test_customer_phone_mask():
    from actions.privacy import mask

    assert mask("phone", "13812345678") == "138****5678"
    assert mask("id_number", "11010119900307123X") == "110***********123X"
    assert mask("phone", "") == ""
    assert Customer.__table__.c.phone.info["pii"] == "phone"


def test_a_numbers_tail_is_what_its_mask_shows():
    from actions.privacy import mask, shown_tail

    assert shown_tail("phone", "5678") == shown_tail("phone", " 56 78") == mask("phone", "13812345678")[-4:]
    assert shown_tail("id_number", "123x") == mask("id_number", "11010119900307123X")[-4:]
    assert shown_tail("phone", "45678") is shown_tail("phone", "567X") is shown_tail("id_number", "12X3") is None
    assert shown_tail("name", "5678") is None


def test_phone_numbers_are_stored_masked_in_the_trail(session):
    """Issue 14 item 10: the trail kept phone numbers in clear (only its page masked them); it has more readers
    than the record. ID numbers were and are never kept."""
    p = factories.project(session)
    customer = Customer(project=p, name="陈静", phone="13812345678", id_number="11010119900307123X")
    session.add(customer)
    session.flush()
    customer.phone = "13987654321"
    session.flush()
    rows = {r.kind: r.changes for r in _rows(session, table_name="customer", record_id=str(customer.id))}
    assert (rows[AuditKind.INSERT]["phone"], rows[AuditKind.INSERT]["id_number"]) == ("138****5678", "***")
    assert rows[AuditKind.UPDATE]["phone"] == ["138****5678", "139****4321"]
    stored = session.scalars(select(AuditLog.changes).where(AuditLog.table_name == "customer")).all()
    assert not any("13812345678" in str(c) or "13987654321" in str(c) for c in stored)
