"""imported customers batch

A bulk import of customers wrote one audit row per customer and per unit link it created (200,000 rows for a
100,000-row file, 7.3 s of 16.6 s on PostgreSQL). It now writes one row per batch and project for each table;
each created customer and link keeps the batch that created it, by which its 变更记录 finds that row (issue 17).
No index: nothing lists by it, and every imported row would pay for one.

Revision ID: d7a3c5e90b12
Revises: d7a3f5b2e914
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7a3c5e90b12"
down_revision: str | Sequence[str] | None = "d7a3f5b2e914"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customer", "unit_customer")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(batch_op.f(f"fk_{table}_batch_id_import_batch"), "import_batch",
                                        ["batch_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_batch_id_import_batch"), type_="foreignkey")
            batch_op.drop_column("batch_id")
