"""work order list index by dispatch time

The work-order list is ordered by 派工时间 (newest first) within the user's projects; with this index a page
reads its twenty rows from the index instead of sorting every order of the project.

Revision ID: fae8f2b60821
Revises: a6f6e5f0d376
Create Date: 2026-11-23 02:29:10.320122
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'fae8f2b60821'
down_revision: str | Sequence[str] | None = 'a6f6e5f0d376'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_project_id_dispatched_at'), ['project_id', 'dispatched_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_project_id_dispatched_at'))
