"""变更记录's 记录编号 searched whole

The audit list's search matches 记录编号 whole (``column_searched_whole``: 877 finds record 877, not 1877): a
B-tree index on it (with the project, which the list's scope checks) replaces its two GIN indexes on PostgreSQL —
its trigrams and its 2-character substrings, ≈ 12 of the ≈ 57 index entries each audit row cost (issue 17: a
50,000-order dispatch writes 50,000 audit rows). SQLite's FTS5 table of the audit rows drops the column by
itself: ``models.search.sync_search_tables`` rebuilds a table whose declaration changed after the upgrade.

Revision ID: c9e2f4a7b1d5
Revises: c8e4f1a2b7d5
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c9e2f4a7b1d5"
down_revision: str | Sequence[str] | None = "c8e4f1a2b7d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_record_id_project_id", "audit_log", ["record_id", "project_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_audit_log_record_id_trgm", table_name="audit_log")
        op.drop_index("ix_audit_log_record_id_bigram", table_name="audit_log")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_audit_log_record_id_trgm", "audit_log", ["project_id", "record_id"],
                        postgresql_using="gin", postgresql_ops={"record_id": "gin_trgm_ops"})
        op.create_index("ix_audit_log_record_id_bigram", "audit_log", ["project_id", sa.text("bigrams(record_id)")],
                        postgresql_using="gin")
    op.drop_index("ix_audit_log_record_id_project_id", table_name="audit_log")
