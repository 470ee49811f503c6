"""project data versions, kept by the database; import batches keep the versions their write left

项目数据版本 (``ProjectMark``): a number per project and table that every write to its 楼栋, 房屋, 员工, 客户 and 房屋关系 (and
the project's own row) moves, whatever makes it — kept by triggers that ``models.totals.sync_totals`` puts in place
after every upgrade (and, when it had to make them, every project's version moved). ``import_batch.marks``: the
versions a customer import's write left, so the same file previewed again while they hold is recognised as
unchanged without comparing 100,000 customers and links in Python (issue 17).

Revision ID: d3a7c5e9f214
Revises: d1a7c3e5f9b2
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3a7c5e9f214"
down_revision: str | Sequence[str] | None = "d1a7c3e5f9b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = ("building", "unit", "staff", "customer", "unit_customer", "project")


def upgrade() -> None:
    op.create_table(
        "project_mark",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "source", name="pk_project_mark"),
    )
    with op.batch_alter_table("import_batch") as batch:
        batch.add_column(sa.Column("marks", sa.JSON(), nullable=True))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for source in SOURCES:
        for event in ("insert", "update", "delete"):
            if dialect == "postgresql":
                op.execute(f"DROP TRIGGER IF EXISTS project_mark_{source}_{event} ON {source}")
            elif dialect == "sqlite":
                op.execute(f"DROP TRIGGER IF EXISTS project_mark_{source}_{event}")
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS project_mark_{source}_keep()")
    with op.batch_alter_table("import_batch") as batch:
        batch.drop_column("marks")
    op.drop_table("project_mark")
