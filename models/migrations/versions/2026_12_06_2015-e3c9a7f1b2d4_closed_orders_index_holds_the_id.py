"""the closed-orders index holds the order's id (PostgreSQL)

回访率 (the home page, the trends, the monthly report) asks of every work order closed in a month whether it had
a callback: the orders come from ``(project_id, closed_at)`` and the callback from ``visit (work_order_id,
kind)``. On PostgreSQL that index did not hold the order's id the probe needs, so each order's row was read
too (a branch's month: 41,000 rows); with the id included (INCLUDE) the orders come from the index alone.
SQLite's index holds the rowid already; MariaDB's the primary key.

Revision ID: e3c9a7f1b2d4
Revises: d7b3e5a19c42
Create Date: 2026-12-06 20:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'e3c9a7f1b2d4'
down_revision: str | Sequence[str] | None = 'd7b3e5a19c42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME, COLUMNS = 'ix_work_order_project_id_closed_at', ['project_id', 'closed_at']


def _index(include: list[str]) -> None:
    if op.get_context().dialect.name != 'postgresql':
        return
    op.drop_index(NAME, table_name='work_order')
    op.create_index(NAME, 'work_order', COLUMNS, unique=False, postgresql_include=include)


def upgrade() -> None:
    _index(['id'])


def downgrade() -> None:
    _index([])
