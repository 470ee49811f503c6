"""score month inputs changed

A mark on each month of scores, set by every write that can change them and cleared by a compute, so a
recompute of an unchanged month neither derives nor sums again (issue 17). Existing months start marked: their
next compute is a full one.

Revision ID: b6f2d9a4c1e3
Revises: 5e2b8c41f0a7
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b6f2d9a4c1e3"
down_revision: str | Sequence[str] | None = "5e2b8c41f0a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score_month") as batch_op:
        batch_op.add_column(sa.Column("inputs_changed", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("score_month") as batch_op:
        batch_op.drop_column("inputs_changed")
