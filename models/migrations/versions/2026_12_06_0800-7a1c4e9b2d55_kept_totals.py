"""kept totals of bills and survey answers

账单汇总 (``BillTotal``), 答卷汇总 (``SurveyAnswerTally``) and 调查户数汇总 (``SurveyHouseholdTally``): what the
home page and the KPIs read instead of every bill and form (issue 17); and the indexes a month's complaints and
closed work orders are read by, per project. The triggers that keep them, and their
first count, come from ``models.totals.sync_totals``, which the migration environment runs after every upgrade.

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
    op.create_table(
        "survey_answer_tally",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("forms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"], name="fk_survey_answer_tally_survey_id_survey",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("survey_id", "question", "score", name="pk_survey_answer_tally"),
    )
    op.create_table(
        "survey_household_tally",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("collected", sa.Boolean(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"], name="fk_survey_household_tally_survey_id_survey",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("survey_id", "collected", name="pk_survey_household_tally"),
    )

    op.create_index("ix_service_request_project_id_kind_received_at", "service_request",
                    ["project_id", "kind", "received_at"])
    op.create_index("ix_work_order_project_id_closed_at", "work_order", ["project_id", "closed_at"])


KEPT = {"bill_total": "bill", "survey_answer_tally": "survey_response", "survey_household_tally": "survey_household"}


def downgrade() -> None:
    op.drop_index("ix_work_order_project_id_closed_at", table_name="work_order")
    op.drop_index("ix_service_request_project_id_kind_received_at", table_name="service_request")
    dialect = op.get_bind().dialect.name
    for target, source in KEPT.items():
        for event in ("insert", "update", "delete"):
            if dialect == "postgresql":
                op.execute(f"DROP TRIGGER IF EXISTS {target}_{event} ON {source}")
            elif dialect == "sqlite":
                op.execute(f"DROP TRIGGER IF EXISTS {target}_{event}")
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS {target}_keep()")
        op.drop_table(target)
