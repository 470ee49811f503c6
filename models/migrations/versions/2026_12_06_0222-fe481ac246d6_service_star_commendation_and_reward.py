"""service star commendation and reward

服务之星 per 004: the branch's decision records the 通报表扬 and the reward it gives with the star.

Revision ID: fe481ac246d6
Revises: 9fca9b34ff2b
Create Date: 2026-12-06 02:22:09.890343
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'fe481ac246d6'
down_revision: str | Sequence[str] | None = '9fca9b34ff2b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('service_star', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commendation', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('reward', sa.Numeric(precision=10, scale=2), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('service_star', schema=None) as batch_op:
        batch_op.drop_column('reward')
        batch_op.drop_column('commendation')

