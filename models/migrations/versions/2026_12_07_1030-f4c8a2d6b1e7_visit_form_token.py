"""visit form token

登记走访 (走访计划): the form carries a one-time token stored with the visit, unique, so the form sent twice (a double
click) records one visit and, with 转为投诉, one complaint. A unique index rather than a constraint: SQLite adds it
without rebuilding the table, which would drop the triggers that count a work order's callbacks.

Revision ID: f4c8a2d6b1e7
Revises: e2b6d4f8a1c3
Create Date: 2026-12-07 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f4c8a2d6b1e7'
down_revision: str | Sequence[str] | None = 'e2b6d4f8a1c3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('visit', sa.Column('form_token', sa.String(length=32), nullable=True))
    op.create_index(op.f('ix_visit_form_token'), 'visit', ['form_token'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_visit_form_token'), table_name='visit')
    op.drop_column('visit', 'form_token')  # ALTER TABLE … DROP COLUMN on SQLite too: the triggers stay
