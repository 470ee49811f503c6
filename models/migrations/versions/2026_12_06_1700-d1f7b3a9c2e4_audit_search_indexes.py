"""audit search indexes

The search of 变更记录 (操作人姓名, 摘要, 记录编号) as a project's user missed the 100 ms target (issue 17):

- 摘要 had no index: every search scanned that column in the list's scope (a project's 200,000 rows: 140–173 ms
  of CPU on SQLite, more on PostgreSQL), whatever the other columns' indexes found. It gets its ``pg_trgm``
  index here; on SQLite the migration environment's ``models.search.sync_search_tables`` adds it to the audit
  rows' FTS5 table, as the model declares it.
- on PostgreSQL a term in 20,000 rows of other projects had each of them read to check its project (16,000
  heap pages, 0.2–0.4 s): the audit rows' trigram indexes lead with ``project_id`` (``btree_gin``), so a
  project's matches are found in the index (3 ms).

Revision ID: d1f7b3a9c2e4
Revises: c4e8a2f61b97
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d1f7b3a9c2e4"
down_revision: str | Sequence[str] | None = "c4e8a2f61b97"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ["actor_name", "record_id"]
AFTER = ["actor_name", "summary", "record_id"]


def _create(column: str, *leading: str) -> None:
    op.create_index(f"ix_audit_log_{column}_trgm", "audit_log", [*leading, column], postgresql_using="gin",
                    postgresql_ops={column: "gin_trgm_ops"})


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for column in BEFORE:
        op.drop_index(f"ix_audit_log_{column}_trgm", table_name="audit_log")
    for column in AFTER:
        _create(column, "project_id")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in AFTER:
        op.drop_index(f"ix_audit_log_{column}_trgm", table_name="audit_log")
    for column in BEFORE:
        _create(column)
