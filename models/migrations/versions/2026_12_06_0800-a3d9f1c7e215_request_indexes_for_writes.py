"""request indexes for writes

A dispatch updates thousands of requests' status at once, and on PostgreSQL each updated row goes into every
index of ``service_request`` (issue 17): the indexes another one already leads with (project, unit) and those of
a few-valued column alone (status, kind) go; those of mostly empty columns keep only the rows with a value
(``models.base.sparse_indexes``).

Revision ID: a3d9f1c7e215
Revises: 7a1c4e9b2d55
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3d9f1c7e215"
down_revision: str | Sequence[str] | None = "7a1c4e9b2d55"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "service_request"
DROPPED = ["project_id", "unit_id", "status", "kind"]
SPARSE = ["complaint_validity", "repeat_of_id", "complained_staff_id", "praised_staff_id", "special_service_id",
          "closed_at"]


def _sparse() -> list[str]:
    # MariaDB has no partial index: its full ones stay (and back a foreign key there).
    return SPARSE if op.get_bind().dialect.name in ("postgresql", "sqlite") else []


def upgrade() -> None:
    for column in DROPPED + _sparse():
        op.drop_index(f"ix_{TABLE}_{column}", table_name=TABLE)
    for column in _sparse():
        op.create_index(f"ix_{TABLE}_{column}", TABLE, [column], postgresql_where=sa.text(f"{column} IS NOT NULL"),
                        sqlite_where=sa.text(f"{column} IS NOT NULL"))


def downgrade() -> None:
    for column in _sparse():
        op.drop_index(f"ix_{TABLE}_{column}", table_name=TABLE)
    for column in DROPPED + _sparse():
        op.create_index(f"ix_{TABLE}_{column}", TABLE, [column])
