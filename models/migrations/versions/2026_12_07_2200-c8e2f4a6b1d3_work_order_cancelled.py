"""work order cancelled

撤销诉求 now also takes a dispatched request whose 派工单 is not yet done (已派工/处理中): the order ends 已取消 with
取消时间 and 撤销原因 (who: its audit row). The status is a VARCHAR without a CHECK (``enum_type``), long enough
for ``cancelled``: only the two columns are added — plain ADD COLUMNs, so SQLite keeps the table (no rebuild).

Revision ID: c8e2f4a6b1d3
Revises: f1b6d3a8c2e7
Create Date: 2026-12-07 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = 'c8e2f4a6b1d3'
down_revision: str | Sequence[str] | None = 'f1b6d3a8c2e7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('work_order', sa.Column('cancelled_at', UTCDateTime(timezone=True), nullable=True))
    op.add_column('work_order', sa.Column('cancel_reason', sa.String(length=200), server_default='', nullable=False))


def downgrade() -> None:
    # an order withdrawn has no status below this revision: it goes back to the last one it had (已派工/处理中)
    op.execute("UPDATE work_order SET status = CASE WHEN accepted_at IS NULL THEN 'dispatched' ELSE 'accepted' END "
               "WHERE status = 'cancelled'")
    # plain DROP COLUMNs (SQLite ≥ 3.35): a batch rebuild of the table breaks the visit triggers naming it
    op.drop_column('work_order', 'cancel_reason')
    op.drop_column('work_order', 'cancelled_at')
