"""job queueing locks: one dunning run per project·month·stage, one score compute per project·month, one bill
generation per project·period queued or running at a time

Revision ID: a3c91e5d7b20
Revises: 5e7d3c1a9b40
Create Date: 2026-12-06 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a3c91e5d7b20'
down_revision: str | Sequence[str] | None = '5e7d3c1a9b40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'job_lock',
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_job_lock_job_id_job'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_job_lock')),
    )
    with op.batch_alter_table('job_lock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_lock_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    op.drop_table('job_lock')  # with its index (MariaDB keeps it for the foreign key: it cannot be dropped alone)
