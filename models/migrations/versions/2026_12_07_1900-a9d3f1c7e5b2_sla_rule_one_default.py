"""sla rule: one default per kind and priority

时限规则 with 项目为空 are every project's defaults. The unique constraint (project_id, kind, priority) never compared
two of them (NULL is not equal to NULL), so a second default of a kind and priority was saved and 派工 took either's
deadlines. A partial unique index holds one. Defaults already doubled keep the first (the seeded one); the later
copies are removed. MariaDB (schema only) keeps no partial index: there it would be unique over every project's
rules, so it is not made (the models declare it for PostgreSQL and SQLite).

Revision ID: a9d3f1c7e5b2
Revises: c5d1e8a3f7b9
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a9d3f1c7e5b2'
down_revision: str | Sequence[str] | None = 'c5d1e8a3f7b9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _partial() -> bool:
    return op.get_context().dialect.name in ('postgresql', 'sqlite')


def upgrade() -> None:
    if not _partial():
        return
    op.execute(
        "DELETE FROM sla_rule WHERE project_id IS NULL AND id NOT IN ("
        "SELECT min(id) FROM sla_rule WHERE project_id IS NULL GROUP BY kind, priority)"
    )
    op.create_index('uq_sla_rule_default', 'sla_rule', ['kind', 'priority'], unique=True,
                    postgresql_where=sa.text('project_id IS NULL'), sqlite_where=sa.text('project_id IS NULL'))


def downgrade() -> None:
    if _partial():
        op.drop_index('uq_sla_rule_default', table_name='sla_rule')
