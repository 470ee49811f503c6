"""list order and trigram indexes

Every big list pages from an index matching its default order (issue 17): within a project and across
projects (``models.base.list_order_indexes``); the indexes they supersede (project + time without the id)
go. On PostgreSQL the columns list searches match anywhere in get ``pg_trgm`` GIN indexes
(``models.base.trigram_indexes``); SQLite keeps scanning them.

Revision ID: 5e7d3c1a9b40
Revises: e054e37be1f8
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e7d3c1a9b40"
down_revision: str | Sequence[str] | None = "e054e37be1f8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (its list's order column, the index it supersedes)
LISTS = {
    "bill": ("period", []),
    "payment": ("paid_at", ["ix_payment_project_id_paid_at"]),
    "service_request": ("received_at", ["ix_service_request_project_id_received_at"]),
    "work_order": ("dispatched_at", ["ix_work_order_project_id_dispatched_at"]),
    "audit_log": ("at", ["ix_audit_log_at", "ix_audit_log_project_id"]),
}
TRIGRAM = {
    "unit": ["room_no"],
    "customer": ["name"],
    "staff": ["name"],
    "bill": ["period"],
    "payment": ["receipt_no"],
    "service_request": ["contact_name", "contact_phone"],
    "work_order": ["result"],
    "audit_log": ["actor_name", "record_id"],
}
SUPERSEDED_COLUMNS = {
    "ix_payment_project_id_paid_at": ["project_id", "paid_at"],
    "ix_service_request_project_id_received_at": ["project_id", "received_at"],
    "ix_work_order_project_id_dispatched_at": ["project_id", "dispatched_at"],
    "ix_audit_log_at": ["at"],
    "ix_audit_log_project_id": ["project_id"],
}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, (order, superseded) in LISTS.items():
        for name in superseded:
            op.drop_index(name, table_name=table)
        op.create_index(f"ix_{table}_project_id_{order}_id", table, ["project_id", order, "id"])
        op.create_index(f"ix_{table}_{order}_id_project_id", table, [order, "id", "project_id"])
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, columns in TRIGRAM.items():
            for column in columns:
                op.create_index(f"ix_{table}_{column}_trgm", table, [column], postgresql_using="gin",
                                postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in TRIGRAM.items():
            for column in columns:
                op.drop_index(f"ix_{table}_{column}_trgm", table_name=table)
    for table, (order, superseded) in LISTS.items():
        op.drop_index(f"ix_{table}_{order}_id_project_id", table_name=table)
        op.drop_index(f"ix_{table}_project_id_{order}_id", table_name=table)
        for name in superseded:
            op.create_index(name, table, SUPERSEDED_COLUMNS[name])
