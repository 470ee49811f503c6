"""jobs

后台任务 and their files: long work recorded in the database, run by any worker, answered by any app process.

Revision ID: 7df8596666c5
Revises: 5c0e7d2a91b4
Create Date: 2026-12-06 04:37:45.674583
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import models.base

revision: str = '7df8596666c5'
down_revision: str | Sequence[str] | None = '5c0e7d2a91b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'refused', 'failed', name='jobstate', native_enum=False, length=15), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_size', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=120), nullable=False),
    sa.Column('lease_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('attempts >= 0 AND done >= 0 AND total >= 0', name=op.f('ck_job_counts')),
    sa.ForeignKeyConstraint(['parent_id'], ['job.id'], name=op.f('fk_job_parent_id_job'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_job_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    op.create_index(op.f('ix_job_expires_at'), 'job', ['expires_at'], unique=False)
    op.create_index(op.f('ix_job_parent_id'), 'job', ['parent_id'], unique=False)
    op.create_index(op.f('ix_job_state_id'), 'job', ['state', 'id'], unique=False)
    op.create_index(op.f('ix_job_user_id_created_at'), 'job', ['user_id', 'created_at'], unique=False)
    op.create_table('job_file',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary().with_variant(mysql.LONGBLOB(), 'mysql', 'mariadb'), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_job_file_job_id_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'role', 'seq', name=op.f('pk_job_file'))
    )


def downgrade() -> None:
    op.drop_table('job_file')
    op.drop_table('job')  # with its indexes (MariaDB keeps one for the foreign key: it cannot be dropped alone)
