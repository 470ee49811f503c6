"""score event form token

录入考核: each form carries a one-time token stored with the events it records; unique with the employee, so a
resubmitted form (a double click, a refresh) records nothing twice.

Revision ID: 5c0e7d1f9a24
Revises: a413e5ce5947
Create Date: 2026-11-23 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5c0e7d1f9a24'
down_revision: str | Sequence[str] | None = 'a413e5ce5947'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('score_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_token', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_score_event_form_token_staff_id'), ['form_token', 'staff_id'])


def downgrade() -> None:
    with op.batch_alter_table('score_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_score_event_form_token_staff_id'), type_='unique')
        batch_op.drop_column('form_token')
