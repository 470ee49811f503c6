"""fee type billing cycle

收费项目 gain 计费周期 (按月 / 按次): the monthly bill run bills only the 按月 fee types; 装修管理费 and deposits
are charged per occasion. Existing fee types become 按月, except the one-off types seeded by name.

Revision ID: c3e9a1f47b52
Revises: b7d21c4e8f30
Create Date: 2026-11-23 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c3e9a1f47b52'
down_revision: str | Sequence[str] | None = 'b7d21c4e8f30'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 按次收取的收费项目（种子数据中的名称）
ONE_OFF = ('装修管理费', '装修押金', '装修保证金', '押金')


def upgrade() -> None:
    with op.batch_alter_table('fee_type', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_cycle', sa.Enum('monthly', 'once', name='feecycle', native_enum=False,
                                                               create_constraint=False, length=15),
                                      server_default='monthly', nullable=False))
    fee_type = sa.table('fee_type', sa.column('name', sa.String), sa.column('billing_cycle', sa.String))
    op.execute(fee_type.update().where(fee_type.c.name.in_(ONE_OFF)).values(billing_cycle='once'))


def downgrade() -> None:
    with op.batch_alter_table('fee_type', schema=None) as batch_op:
        batch_op.drop_column('billing_cycle')
