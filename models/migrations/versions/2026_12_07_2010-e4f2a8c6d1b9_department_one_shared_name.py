"""department: one shared 部门 of a name

部门 with 项目为空 are shared by every project. The unique constraint (project_id, name) never compared two of them
(NULL is not equal to NULL), so a second shared 部门 of the same name was saved: routing took the lowest id and the
派工 form listed both. A partial unique index holds one. Shared 部门 already doubled keep the first (lowest id): the
work orders and staff of a later copy are moved to it (the copy kept active if any was), then the copies are removed.
MariaDB (schema only) keeps no partial index: there it would be unique over every project's 部门, so it is not made
(the models declare it for PostgreSQL and SQLite).

Revision ID: e4f2a8c6d1b9
Revises: b3d8e6f1a2c4
Create Date: 2026-12-07 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e4f2a8c6d1b9'
down_revision: str | Sequence[str] | None = 'b3d8e6f1a2c4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the shared 部门 each later copy folds into: the first of its name
_KEPT = ("(SELECT min(k.id) FROM department k JOIN department c ON c.name = k.name "
         "WHERE k.project_id IS NULL AND c.id = {col})")
_COPIES = ("(SELECT id FROM department WHERE project_id IS NULL AND id NOT IN "
           "(SELECT min(id) FROM department WHERE project_id IS NULL GROUP BY name))")


def _partial() -> bool:
    return op.get_context().dialect.name in ('postgresql', 'sqlite')


def upgrade() -> None:
    if not _partial():
        return
    for table in ('work_order', 'staff'):
        op.execute(f"UPDATE {table} SET department_id = {_KEPT.format(col=f'{table}.department_id')} "
                   f"WHERE department_id IN {_COPIES}")
    op.get_bind().execute(sa.text(
        "UPDATE department SET active = :yes WHERE project_id IS NULL AND active = :no AND EXISTS ("
        "SELECT 1 FROM department c WHERE c.project_id IS NULL AND c.name = department.name "
        "AND c.id > department.id AND c.active = :yes) AND id IN "
        "(SELECT min(id) FROM department WHERE project_id IS NULL GROUP BY name)"),
        {"yes": True, "no": False})
    op.execute(f"DELETE FROM department WHERE id IN {_COPIES}")
    op.create_index('uq_department_shared_name', 'department', ['name'], unique=True,
                    postgresql_where=sa.text('project_id IS NULL'), sqlite_where=sa.text('project_id IS NULL'))


def downgrade() -> None:
    if _partial():
        op.drop_index('uq_department_shared_name', table_name='department')
