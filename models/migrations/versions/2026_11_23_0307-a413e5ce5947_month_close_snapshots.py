"""month close snapshots

月结快照: one row per project and month, freezing the monthly report as it was reported (actions/month_close.py).

Revision ID: a413e5ce5947
Revises: fae8f2b60821
Create Date: 2026-11-23 03:07:31.522702
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'a413e5ce5947'
down_revision: str | Sequence[str] | None = 'fae8f2b60821'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('month_snapshot',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_by_name', sa.String(length=64), nullable=False),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_month_snapshot_closed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_month_snapshot_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_month_snapshot')),
    sa.UniqueConstraint('project_id', 'month', name=op.f('uq_month_snapshot_project_id_month'))
    )
    with op.batch_alter_table('month_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_month_snapshot_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_month_snapshot_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('month_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_month_snapshot_project_id'))
        batch_op.drop_index(batch_op.f('ix_month_snapshot_month'))

    op.drop_table('month_snapshot')
