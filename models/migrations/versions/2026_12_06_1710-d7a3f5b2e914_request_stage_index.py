"""request stage index

A dispatch turns up to 50,000 requests 已派工 in one UPDATE (issue 17). With ``status`` in an index PostgreSQL
wrote each row anew and added it to all 13 indexes of ``service_request`` (no HOT update: a column any index
names, even in its predicate, changed); SQLite moved each row's entry within the status index. The index that
finds requests by status now keys by ``stage``, a column the database computes from it in which 待派工 and 已派工
are the same 未办结: a dispatch changes no indexed value, and with half of each page left free (fillfactor,
set before the column's addition rewrites the table, so existing pages get the room too) PostgreSQL updates
every row in place, touching no index. SQLite cannot add a stored column to a table: there it is computed on
reading (and stored in the index).

Revision ID: d7a3f5b2e914
Revises: d1f7b3a9c2e4
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7a3f5b2e914"
down_revision: str | Sequence[str] | None = "d1f7b3a9c2e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "service_request"
STAGE = "CASE WHEN status IN ('pending', 'dispatched') THEN 'open' ELSE status END"


def _on_postgresql(statement: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(statement)


def upgrade() -> None:
    _on_postgresql(f"ALTER TABLE {TABLE} SET (fillfactor = 50)")
    stored = op.get_bind().dialect.name != "sqlite"
    op.add_column(TABLE, sa.Column("stage", sa.String(16), sa.Computed(STAGE, persisted=stored)))
    op.drop_index(f"ix_{TABLE}_project_id_status_received_at", table_name=TABLE)
    op.create_index(f"ix_{TABLE}_project_id_stage_received_at", TABLE, ["project_id", "stage", "received_at"])


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_project_id_stage_received_at", table_name=TABLE)
    op.create_index(f"ix_{TABLE}_project_id_status_received_at", TABLE, ["project_id", "status", "received_at"])
    op.drop_column(TABLE, "stage")
    _on_postgresql(f"ALTER TABLE {TABLE} RESET (fillfactor)")
