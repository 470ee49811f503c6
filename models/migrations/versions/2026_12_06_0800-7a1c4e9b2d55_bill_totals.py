"""bill totals

账单汇总 (``models.fees.BillTotal``): a project's bills per 账期 and due date added up, which the home page and
the KPIs read instead of every bill (issue 17). The triggers that keep it, and its first count, come from
``models.totals.sync_bill_totals``, which the migration environment runs after every upgrade.

Revision ID: 7a1c4e9b2d55
Revises: a3c91e5d7b20
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a1c4e9b2d55"
down_revision: str | Sequence[str] | None = "a3c91e5d7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bill_total",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_due", sa.Numeric(16, 2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(16, 2), nullable=False),
        sa.Column("owed", sa.Numeric(16, 2), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name="fk_bill_total_project_id_project",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "period", "due_date", name="pk_bill_total"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS bill_total_{event} ON bill")
        op.execute("DROP FUNCTION IF EXISTS bill_total_keep()")
    elif op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS bill_total_{event}")
    op.drop_table("bill_total")
