"""versions on the issue-19 records edited in the console

Revision ID: e054e37be1f8
Revises: 7df8596666c5
Create Date: 2026-12-06 06:09:31.823824
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e054e37be1f8'
down_revision: str | Sequence[str] | None = '7df8596666c5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outsourced_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('patrol_check_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('patrol_route', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('special_service', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('special_service', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('patrol_route', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('patrol_check_item', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('outsourced_job', schema=None) as batch_op:
        batch_op.drop_column('version')

