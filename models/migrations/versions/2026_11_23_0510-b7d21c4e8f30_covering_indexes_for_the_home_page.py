"""covering indexes for the home page

The home page totals a branch's bills (collection rate by 账期, arrears by due date) and asks of every work
order closed in a month whether it had a callback. On PostgreSQL the bill indexes now carry the amounts
(INCLUDE), and the visits are indexed by work order and kind, so these reads come from the indexes alone
instead of visiting millions of table rows. The single-column visit index is covered by the new one.

Revision ID: b7d21c4e8f30
Revises: 5c0e7d1f9a24
Create Date: 2026-11-23 05:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'b7d21c4e8f30'
down_revision: str | Sequence[str] | None = '5c0e7d1f9a24'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNTS = ['amount_due', 'amount_paid']
BILL_INDEXES = {
    'ix_bill_project_id_period_status': ['project_id', 'period', 'status'],
    'ix_bill_project_id_status_due_date': ['project_id', 'status', 'due_date'],
}


def _bill_indexes(include: list[str]) -> None:
    for name, columns in BILL_INDEXES.items():
        op.drop_index(name, table_name='bill')
        op.create_index(name, 'bill', columns, unique=False, postgresql_include=include)


def _fk_index_first() -> bool:
    """MariaDB refuses to drop the only index its foreign key on visit.work_order_id can use (error 1553):
    there the replacing index is created before the replaced one is dropped. Elsewhere the order is as it
    always was (these statements have run on users' SQLite and PostgreSQL databases)."""
    return op.get_context().dialect.name in ('mysql', 'mariadb')


def upgrade() -> None:
    _bill_indexes(AMOUNTS)
    if _fk_index_first():
        op.create_index('ix_visit_work_order_id_kind', 'visit', ['work_order_id', 'kind'], unique=False)
        op.drop_index('ix_visit_work_order_id', table_name='visit')
        return
    op.drop_index('ix_visit_work_order_id', table_name='visit')
    op.create_index('ix_visit_work_order_id_kind', 'visit', ['work_order_id', 'kind'], unique=False)


def downgrade() -> None:
    if _fk_index_first():
        op.create_index('ix_visit_work_order_id', 'visit', ['work_order_id'], unique=False)
        op.drop_index('ix_visit_work_order_id_kind', table_name='visit')
    else:
        op.drop_index('ix_visit_work_order_id_kind', table_name='visit')
        op.create_index('ix_visit_work_order_id', 'visit', ['work_order_id'], unique=False)
    _bill_indexes([])
