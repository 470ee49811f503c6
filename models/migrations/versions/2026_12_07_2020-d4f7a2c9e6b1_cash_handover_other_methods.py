"""cash handover other methods

代收款交接: 应交金额 is the cash the desk took (a cashier counts cash; 微信、支付宝、刷卡、银行转账 went straight to the
company's account). The other methods of the same span are listed beside it, by method, in 其他方式(不交现金).
Handovers made before keep their amounts as recorded (all methods) and an empty list.

Revision ID: d4f7a2c9e6b1
Revises: e4f2a8c6d1b9
Create Date: 2026-12-07 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd4f7a2c9e6b1'
down_revision: str | Sequence[str] | None = 'e4f2a8c6d1b9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cash_handover', schema=None) as batch_op:
        batch_op.add_column(sa.Column('other_methods', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cash_handover', schema=None) as batch_op:
        batch_op.drop_column('other_methods')
