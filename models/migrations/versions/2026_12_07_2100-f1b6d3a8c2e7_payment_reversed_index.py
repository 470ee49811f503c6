"""payment reversed index

The 收款记录 list's 已冲正 filter reads the few reversed payments from a partial index of ``reversed_at`` (only the
rows with one), not every payment of the user's scope (≈ 1.1 M in a branch).

Revision ID: f1b6d3a8c2e7
Revises: d4f7a2c9e6b1
Create Date: 2026-12-07 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f1b6d3a8c2e7'
down_revision: str | Sequence[str] | None = 'd4f7a2c9e6b1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_payment_reversed_at"


def upgrade() -> None:
    op.create_index(INDEX, "payment", ["reversed_at"], postgresql_where=sa.text("reversed_at IS NOT NULL"),
                    sqlite_where=sa.text("reversed_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="payment")
