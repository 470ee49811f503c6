"""customer and link indexes another index covers

Three indexes cost every customer and unit link an import writes a write and answer nothing another index does
not (issue 17): ``customer (project_id)`` is the first column of its three (project_id, name / phone /
id_number) indexes, ``unit_customer (unit_id)`` the first of its unique (unit_id, customer_id, relation), and
``unit_customer (relation)`` holds four values, read through the unit or the customer. PostgreSQL, 100,000
links by COPY: 2.14–2.37 s of the server's CPU with them, 1.75–1.76 s without. The foreign keys keep an index
that leads with their column (MariaDB requires one).

Revision ID: f1a4c8e2d6b3
Revises: e3c1a7f5b9d2
Create Date: 2026-12-06 17:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "f1a4c8e2d6b3"
down_revision: str | Sequence[str] | None = "e3c1a7f5b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = (
    ("ix_customer_project_id", "customer", "project_id"),
    ("ix_unit_customer_unit_id", "unit_customer", "unit_id"),
    ("ix_unit_customer_relation", "unit_customer", "relation"),
)


def upgrade() -> None:
    for name, table, _column in COVERED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, column in COVERED:
        op.create_index(name, table, [column])
