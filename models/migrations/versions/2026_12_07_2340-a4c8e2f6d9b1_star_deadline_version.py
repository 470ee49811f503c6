"""star deadline version

服务之星推荐截止日 carries a version (B13): a 推荐截止日 form opened before another's setting is refused, never
replaces the newer day. A plain ADD COLUMN with its default (no rebuild); existing rows read version 1.

Revision ID: a4c8e2f6d9b1
Revises: b5d9e3f7a1c4
Create Date: 2026-12-07 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a4c8e2f6d9b1'
down_revision: str | Sequence[str] | None = 'b5d9e3f7a1c4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('star_deadline', sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    op.drop_column('star_deadline', 'version')
