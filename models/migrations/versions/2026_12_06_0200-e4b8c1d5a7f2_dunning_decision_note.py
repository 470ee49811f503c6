"""dunning decision note

催缴批次 keep 审批意见: the reason a manager gives for rejecting a power-cut list (required) or a note on approving
it, beside who decided and when.

Revision ID: e4b8c1d5a7f2
Revises: d1a4f7c2e9b3
Create Date: 2026-12-06 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e4b8c1d5a7f2'
down_revision: str | Sequence[str] | None = 'd1a4f7c2e9b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('dunning_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_note', sa.String(length=200), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('dunning_run', schema=None) as batch_op:
        batch_op.drop_column('decision_note')
