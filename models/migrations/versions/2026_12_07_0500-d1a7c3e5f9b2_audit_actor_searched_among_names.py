"""变更记录's 操作人 searched among the names the trail holds

The audit list's search matches 操作人 through ``audit_actor``, each name an audit row was written with once: a
part of a name finds the names there, the names their rows by a B-tree ``audit_log (actor_name, project_id)`` —
the same rows as before. On PostgreSQL that B-tree replaces the column's two GIN indexes (its trigrams and its
2-character substrings, ≈ 10 of the ≈ 22 search-index entries each audit row cost; issue 17: a 50,000-order
dispatch writes 50,000 audit rows). SQLite's FTS5 table of the audit rows drops the column by itself:
``models.search.sync_search_tables`` rebuilds a table whose declaration changed after the upgrade.

Revision ID: d1a7c3e5f9b2
Revises: c9e2f4a7b1d5
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1a7c3e5f9b2"
down_revision: str | Sequence[str] | None = "c9e2f4a7b1d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_actor",
        sa.Column("name", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_audit_actor"),
    )
    op.execute("INSERT INTO audit_actor (name) SELECT DISTINCT actor_name FROM audit_log WHERE actor_name <> ''")
    op.create_index("ix_audit_log_actor_name_project_id", "audit_log", ["actor_name", "project_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_audit_log_actor_name_trgm", table_name="audit_log")
        op.drop_index("ix_audit_log_actor_name_bigram", table_name="audit_log")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_audit_log_actor_name_trgm", "audit_log", ["project_id", "actor_name"],
                        postgresql_using="gin", postgresql_ops={"actor_name": "gin_trgm_ops"})
        op.create_index("ix_audit_log_actor_name_bigram", "audit_log",
                        ["project_id", sa.text("bigrams(actor_name)")], postgresql_using="gin")
    op.drop_index("ix_audit_log_actor_name_project_id", table_name="audit_log")
    op.drop_table("audit_actor")
