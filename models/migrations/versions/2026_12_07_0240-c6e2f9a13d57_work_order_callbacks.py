"""work orders keep the count of their callbacks

``work_order.callbacks`` (回访次数): how many callback visits (投诉、有偿服务、维修工单回访) the order has, kept by
the database with every write to a visit (``models.totals.CALLBACKS``: its triggers, and the first count from the
visits already held, come from ``sync_totals``, which the migration environment runs after every upgrade). The
index of a month's closed orders carries it, so 回访率 counts the month's closed orders and the called-back ones
from that index alone instead of probing the visits once per order (issue 17: a branch's 41,000 orders of a
month, 51 ms of SQLite's CPU against 3 ms).

Revision ID: c6e2f9a13d57
Revises: b4d8e1f2a6c3
Create Date: 2026-12-07 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c6e2f9a13d57"
down_revision: str | Sequence[str] | None = "b4d8e1f2a6c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEX = "ix_work_order_project_id_closed_at"
NEW_INDEX = "ix_work_order_project_id_closed_at_callbacks"


def upgrade() -> None:
    op.add_column("work_order", sa.Column("callbacks", sa.Integer(), server_default="0", nullable=False))
    op.drop_index(OLD_INDEX, table_name="work_order")
    op.create_index(NEW_INDEX, "work_order", ["project_id", "closed_at", "callbacks"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for event in ("insert", "update", "delete"):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS work_order_callbacks_{event} ON visit")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS work_order_callbacks_{event}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS work_order_callbacks_keep()")
    op.drop_index(NEW_INDEX, table_name="work_order")
    op.create_index(OLD_INDEX, "work_order", ["project_id", "closed_at"])
    with op.batch_alter_table("work_order") as batch:
        batch.drop_column("callbacks")
