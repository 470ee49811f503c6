"""survey household fillfactor

An import marks up to 100,000 households 已回收 in one UPDATE (issue 17). On PostgreSQL a page filled to the
brim makes every such update write the row anew elsewhere and add it to each of the table's indexes; with half
of each page left free the new version stays on its page and no index is touched (a HOT update), since
``collected`` is in no index. Pages written from now on keep the room; existing ones once the table is
rewritten (``VACUUM FULL survey_household``). Nothing on SQLite or MariaDB.

Revision ID: 5e2b8c41f0a7
Revises: 55533d28dc1a
Create Date: 2026-12-06 09:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e2b8c41f0a7"
down_revision: str | Sequence[str] | None = "55533d28dc1a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fillfactor(percent: int) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE survey_household SET (fillfactor = {percent})")


def upgrade() -> None:
    _fillfactor(50)


def downgrade() -> None:
    _fillfactor(100)
