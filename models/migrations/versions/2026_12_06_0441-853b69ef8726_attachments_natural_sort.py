"""attachments and natural sort keys

附件: the photos and files of requests, work orders, 房屋整改, renovations and vendor checks, their bytes in the
database (every app process serves them). 楼栋/房号 sort keys (digits padded, so 10栋 follows 2栋), indexed, filled
for the rows already there.

Revision ID: 853b69ef8726
Revises: 5b7e2c9d1a40
Create Date: 2026-12-06 04:41:42.479652
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import models.base
from models.base import natural_sort_key

revision: str = '853b69ef8726'
down_revision: str | Sequence[str] | None = '5b7e2c9d1a40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attachment',
    sa.Column('record_table', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('general', 'before', 'after', name='attachmentstage', native_enum=False, length=15), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), 'mariadb').with_variant(mysql.MEDIUMBLOB(), 'mysql'), nullable=False),
    sa.Column('thumbnail', sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), 'mariadb').with_variant(mysql.MEDIUMBLOB(), 'mysql'), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('size > 0', name=op.f('ck_attachment_size_positive')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_attachment_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_attachment_uploaded_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment'))
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachment_record_table_record_id'), ['record_table', 'record_id'], unique=False)
    for table, source, index in (("building", "name", ["project_id", "sort_key"]),
                                 ("unit", "room_no", ["building_id", "sort_key"])):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('sort_key', sa.String(length=100), server_default='', nullable=False))
            batch_op.create_index(batch_op.f(f'ix_{table}_{index[0]}_sort_key'), index, unique=False)
        rows = sa.table(table, sa.column('id', sa.Integer), sa.column(source, sa.String), sa.column('sort_key', sa.String))
        bind = op.get_bind()
        keys = [{"row_id": i, "key": natural_sort_key(v)} for i, v in bind.execute(sa.select(rows.c.id, rows.c[source]))]
        if keys:
            bind.execute(rows.update().where(rows.c.id == sa.bindparam("row_id")).values(sort_key=sa.bindparam("key")), keys)


def downgrade() -> None:
    for table, first in (("unit", "building_id"), ("building", "project_id")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{first}_sort_key'))
            batch_op.drop_column('sort_key')
    op.drop_table('attachment')  # its indexes go with it (MariaDB refuses to drop the one its foreign key uses)
