"""receipts, phase order, attachment grants

收据 (issue 18): one receipt per 收款, its number unique in the project — a ``receipt`` row the payment lines
point at (project + number), numbered from a per project·year sequence (SJ2026-000123). The payments already
there get theirs: the lines of one 收款 (same unit, moment and form, as the receipt slip read them) share one
receipt; a typed number is kept (an account payment's R-1, R-2 … become R), a payment without one is numbered
in the order paid.

分期 sort by a natural sort key like 楼栋 and 房号; the key now reads Chinese numerals too (一期 … 十期, 十一期), so
the keys already stored are recomputed. 上传/删除附件 becomes a grant of its own (``action:attach``), given to the
roles that could create, edit or complete a record carrying attachments (they could add them until now).

Revision ID: 55533d28dc1a
Revises: a3d9f1c7e215
Create Date: 2026-12-06 07:37:57.185799
"""

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
from models.base import natural_sort_key

revision: str = '55533d28dc1a'
down_revision: str | Sequence[str] | None = 'a3d9f1c7e215'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
ATTACHING = ("service-request", "work-order", "house-defect", "renovation-application", "vendor-check")
ATTACH = "action:attach"
_SUFFIX = re.compile(r"-\d+$")

payment = sa.table("payment", sa.column("id", sa.Integer), sa.column("project_id", sa.Integer),
                   sa.column("bill_id", sa.Integer), sa.column("paid_at", models.base.UTCDateTime()),
                   sa.column("receipt_no", sa.String), sa.column("form_token", sa.String))
bill = sa.table("bill", sa.column("id", sa.Integer), sa.column("unit_id", sa.Integer))
receipt = sa.table("receipt", sa.column("project_id", sa.Integer), sa.column("number", sa.String))
sequence = sa.table("receipt_sequence", sa.column("project_id", sa.Integer), sa.column("year", sa.Integer),
                    sa.column("last_no", sa.Integer))
grant = sa.table("role_grant", sa.column("group_id", sa.Integer), sa.column("identity", sa.String),
                 sa.column("action", sa.String))


def _number_payments(bind) -> None:
    rows = bind.execute(
        sa.select(payment.c.id, payment.c.project_id, bill.c.unit_id, payment.c.paid_at, payment.c.receipt_no,
                  payment.c.form_token)
        .join(bill, bill.c.id == payment.c.bill_id).order_by(payment.c.paid_at, payment.c.id)).all()
    payments = defaultdict(list)  # 收款 → its lines
    for row in rows:
        payments[(row.project_id, row.unit_id, row.paid_at, row.form_token)].append(row)
    receipts = []  # (project, year, number or None, payment ids), in the order paid
    for (project_id, _, paid_at, _), lines in payments.items():
        numbers = defaultdict(list)
        for line in lines:
            number = line.receipt_no or None
            numbers[_SUFFIX.sub("", number) if number and len(lines) > 1 else number].append(line.id)
        receipts += [(project_id, paid_at.astimezone(SHANGHAI).year, n, ids) for n, ids in numbers.items()]
    taken = {(p, n) for p, _, n, _ in receipts if n}
    last: dict[tuple[int, int], int] = defaultdict(int)
    for project_id, number in taken:  # a number already of the sequence's form continues it
        if (m := re.fullmatch(r"SJ(\d{4})-(\d{6})", number)):
            key = (project_id, int(m.group(1)))
            last[key] = max(last[key], int(m.group(2)))
    numbered = []
    for project_id, year, number, ids in receipts:
        while number is None:
            last[(project_id, year)] += 1
            candidate = f"SJ{year}-{last[(project_id, year)]:06d}"  # models.fees.receipt_number at this revision
            if (project_id, candidate) not in taken:
                number = candidate
                taken.add((project_id, number))
        numbered.append((project_id, year, number, ids))
    if numbered:
        bind.execute(sa.insert(receipt), [{"project_id": p, "number": n} for p, _, n, _ in numbered])
        _set_numbers(bind, [{"pid": i, "no": n} for _, _, n, ids in numbered for i in ids])
    if last:
        bind.execute(sa.insert(sequence), [{"project_id": p, "year": y, "last_no": n} for (p, y), n in last.items()])


def _unnumber_payments(bind) -> None:
    """Down: the lines of a receipt over several bills take R-1, R-2 … again (a number per payment row)."""
    lines = defaultdict(list)
    for pid, project_id, number in bind.execute(
            sa.select(payment.c.id, payment.c.project_id, payment.c.receipt_no).order_by(payment.c.id)):
        lines[(project_id, number)].append(pid)
    renamed = [{"pid": pid, "no": f"{number}-{i}"} for (_, number), ids in lines.items() if len(ids) > 1
               for i, pid in enumerate(ids, start=1)]
    if renamed:
        _set_numbers(bind, renamed)


def _set_numbers(bind, numbers: list[dict]) -> None:
    """payment.receipt_no from (pid, no) pairs, through a scratch table written in bulk and one UPDATE (an UPDATE
    per payment takes a minute for 200,000 of them on PostgreSQL)."""
    scratch = sa.Table("receipt_number_move", sa.MetaData(), sa.Column("pid", sa.Integer, primary_key=True),
                       sa.Column("no", sa.String(32), nullable=False))
    scratch.create(bind)
    bind.execute(sa.insert(scratch), numbers)
    bind.execute(payment.update().where(payment.c.id.in_(sa.select(scratch.c.pid)))
                 .values(receipt_no=sa.select(scratch.c.no).where(scratch.c.pid == payment.c.id).scalar_subquery()))
    scratch.drop(bind)


def _sort_keys(bind) -> None:
    """分期 keys filled; 楼栋 and 房号 keys recomputed where a Chinese numeral now counts."""
    for table, source in (("phase", "name"), ("building", "name"), ("unit", "room_no")):
        rows = sa.table(table, sa.column("id", sa.Integer), sa.column(source, sa.String), sa.column("sort_key", sa.String))
        keys = [{"row_id": i, "key": key} for i, value, stored in bind.execute(sa.select(rows.c.id, rows.c[source], rows.c.sort_key))
                if (key := natural_sort_key(value)) != stored]
        if keys:
            bind.execute(rows.update().where(rows.c.id == sa.bindparam("row_id")).values(sort_key=sa.bindparam("key")), keys)


def _attach_grants(bind) -> None:
    held = set(bind.execute(sa.select(grant.c.group_id, grant.c.identity).where(grant.c.action == ATTACH)).all())
    editors = set(bind.execute(sa.select(grant.c.group_id, grant.c.identity).where(
        grant.c.identity.in_(ATTACHING), grant.c.action.in_(("create", "edit", "action:complete")))).all())
    if editors - held:
        bind.execute(sa.insert(grant), [{"group_id": g, "identity": i, "action": ATTACH} for g, i in sorted(editors - held)])


def upgrade() -> None:
    op.create_table('receipt',
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_receipt_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_receipt_project_id_number'))
    )
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_project_id'), ['project_id'], unique=False)

    op.create_table('receipt_sequence',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_no', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_receipt_sequence_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_sequence')),
    sa.UniqueConstraint('project_id', 'year', name=op.f('uq_receipt_sequence_project_id_year'))
    )
    with op.batch_alter_table('receipt_sequence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_sequence_project_id'), ['project_id'], unique=False)

    bind = op.get_bind()
    # the new index first: MariaDB keeps the unique one while a foreign key (project_id) still needs it
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_project_id_receipt_no'), ['project_id', 'receipt_no'], unique=False)
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payment_project_id_receipt_no'), type_='unique')
    _number_payments(bind)  # (the lines of one receipt share its number: no longer unique per payment)
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.alter_column('receipt_no', existing_type=sa.VARCHAR(length=32), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_payment_project_id_receipt'), 'receipt', ['project_id', 'receipt_no'],
                                    ['project_id', 'number'], ondelete='RESTRICT')

    with op.batch_alter_table('phase', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sort_key', sa.String(length=100), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_phase_project_id_sort_key'), ['project_id', 'sort_key'], unique=False)
    _sort_keys(bind)
    _attach_grants(bind)


def downgrade() -> None:
    bind = op.get_bind()  # (an action:attach grant stays: it does nothing at the revision below)
    with op.batch_alter_table('phase', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phase_project_id_sort_key'))
        batch_op.drop_column('sort_key')

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payment_project_id_receipt'), type_='foreignkey')
        batch_op.alter_column('receipt_no', existing_type=sa.VARCHAR(length=32), nullable=True)
    _unnumber_payments(bind)
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_payment_project_id_receipt_no'), ['project_id', 'receipt_no'])
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_project_id_receipt_no'))

    op.drop_table('receipt_sequence')  # their indexes go with them
    op.drop_table('receipt')
