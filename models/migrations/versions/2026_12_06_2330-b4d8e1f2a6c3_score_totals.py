"""kept totals of the score events

考核汇总 (``ScoreTotal``): a project's score events of a month added up per employee and rule, which the
monthly compute reads instead of the month's 100,000 events (issue 17). The triggers that keep it, and its first
count from the events already held, come from ``models.totals.sync_totals``, which the migration environment runs
after every upgrade. The employee and the rule carry no foreign key: the events' own hold them, and a first
compute's thousands of new keys would each look both up again (10–30 ms of PostgreSQL's CPU, measured).

Revision ID: b4d8e1f2a6c3
Revises: e5c2a8f04b17
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b4d8e1f2a6c3"
down_revision: str | Sequence[str] | None = "e5c2a8f04b17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_total",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Numeric(12, 1), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name="fk_score_total_project_id_project",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "month", "staff_id", "rule_id", name="pk_score_total"),
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for event in ("insert", "update", "delete"):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS score_total_{event} ON score_event")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS score_total_{event}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS score_total_keep()")
    op.drop_table("score_total")
