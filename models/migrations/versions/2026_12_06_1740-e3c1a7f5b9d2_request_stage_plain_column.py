"""request stage plain column

``service_request.stage`` (待派工 and 已派工 as one 未办结, the status index's key) was a column the database
computed: STORED on PostgreSQL, VIRTUAL on SQLite. SQLite rewrites an index entry whenever an input of its
generated column changes, even when the value stays the same, so a dispatch's status UPDATE still moved 50,000
entries of the stage index (0.35–0.39 s CPU against 0.18–0.21 s with none). It becomes a plain column written with
the status, and the rule stays the database's: a CHECK that it equals the expression (issue 17).

PostgreSQL keeps the stored values (DROP EXPRESSION; no rewrite, the fillfactor stays). Elsewhere the column is
dropped, added plain and filled; SQLite, which cannot add a CHECK to a table, then recreates it (a batch ALTER;
the migration environment puts the search triggers back).

Revision ID: e3c1a7f5b9d2
Revises: d7b3e5a19c42
Create Date: 2026-12-06 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3c1a7f5b9d2"
down_revision: str | Sequence[str] | None = "d7b3e5a19c42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "service_request"
STAGE = "CASE WHEN status IN ('pending', 'dispatched') THEN 'open' ELSE status END"
CHECK = "stage_of_status"  # ck_service_request_stage_of_status by the naming convention
INDEX = f"ix_{TABLE}_project_id_stage_received_at"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} ALTER COLUMN stage DROP EXPRESSION")
        op.alter_column(TABLE, "stage", existing_type=sa.String(16), nullable=False)
        op.create_check_constraint(CHECK, TABLE, f"stage = ({STAGE})")
        return
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_column(TABLE, "stage")
    op.add_column(TABLE, sa.Column("stage", sa.String(16)))
    op.execute(f"UPDATE {TABLE} SET stage = {STAGE}")
    with op.batch_alter_table(TABLE) as batch:  # SQLite: the table recreated; MariaDB: plain ALTERs
        batch.alter_column("stage", existing_type=sa.String(16), nullable=False)
        batch.create_check_constraint(CHECK, f"stage = ({STAGE})")
    op.create_index(INDEX, TABLE, ["project_id", "stage", "received_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f(f"ck_{TABLE}_{CHECK}"), type_="check")
        batch.drop_column("stage")
    stored = op.get_bind().dialect.name != "sqlite"
    op.add_column(TABLE, sa.Column("stage", sa.String(16), sa.Computed(STAGE, persisted=stored)))
    op.create_index(INDEX, TABLE, ["project_id", "stage", "received_at"])
