"""covering index for the monthly score compute

The compute sums a month's events per employee and rule; with staff_id, rule_id and points in the index it
reads them from the index alone. The old (project_id, event_date) index is its prefix, hence dropped.

Revision ID: a6f6e5f0d376
Revises: 42b292e72f87
Create Date: 2026-11-23 01:57:18.299245
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'a6f6e5f0d376'
down_revision: str | Sequence[str] | None = '42b292e72f87'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('score_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_event_project_id_event_date'))
        batch_op.create_index(
            batch_op.f('ix_score_event_project_id_event_date_staff_id_rule_id_points'),
            ['project_id', 'event_date', 'staff_id', 'rule_id', 'points'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('score_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_event_project_id_event_date_staff_id_rule_id_points'))
        batch_op.create_index(batch_op.f('ix_score_event_project_id_event_date'), ['project_id', 'event_date'], unique=False)
