"""open major complaints index

The home page counts the open 重大投诉 on every view (``actions.queues.major_open``): at a branch's scale
(100,000 complaints) that read scanned every complaint (165 ms warm, 0.8 s cold); an index of only the open
major ones answers it from a handful of rows (issue 17). MariaDB has no partial index: there it is a full one
on (complaint_major, project_id), still selective.

Revision ID: c4e8a2f61b97
Revises: b6f2d9a4c1e3
Create Date: 2026-12-06 12:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e8a2f61b97"
down_revision: str | Sequence[str] | None = "b6f2d9a4c1e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_service_request_major_open"


def upgrade() -> None:
    op.create_index(NAME, "service_request", ["complaint_major", "project_id"],
                    postgresql_where=sa.text("complaint_major IS true AND closed_at IS NULL"),
                    sqlite_where=sa.text("complaint_major IS 1 AND closed_at IS NULL"))


def downgrade() -> None:
    op.drop_index(NAME, table_name="service_request")
