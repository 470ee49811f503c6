"""weekly plan sections review carry over

周计划 per 003: each task in a section of the plan (目标、重点、日常、专项、培训、问题预判) with a time of day to its
deadline and, when carried over from last week, the task it continues (once: unique); 周复盘, one per project and week.

Revision ID: e73aa94a12ac
Revises: fe481ac246d6
Create Date: 2026-12-06 02:40:09.401791
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'e73aa94a12ac'
down_revision: str | Sequence[str] | None = 'fe481ac246d6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('weekly_review',
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.Column('improvements', sa.Text(), nullable=False),
    sa.Column('reviewed_on', sa.Date(), nullable=False),
    sa.Column('chaired_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['chaired_by_id'], ['user_account.id'], name=op.f('fk_weekly_review_chaired_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_weekly_review_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weekly_review')),
    sa.UniqueConstraint('project_id', 'week_start', name=op.f('uq_weekly_review_project_id_week_start'))
    )
    with op.batch_alter_table('weekly_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_weekly_review_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_weekly_review_week_start'), ['week_start'], unique=False)

    with op.batch_alter_table('weekly_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('section', sa.Enum('goal', 'focus', 'routine', 'special', 'training', 'risk', name='plansection', native_enum=False, length=16), server_default='routine', nullable=False))
        batch_op.add_column(sa.Column('deadline_time', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('carried_from_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_weekly_task_section'), ['section'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_weekly_task_carried_from_id'), ['carried_from_id'])
        batch_op.create_foreign_key(batch_op.f('fk_weekly_task_carried_from_id_weekly_task'), 'weekly_task', ['carried_from_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('weekly_task', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_weekly_task_carried_from_id_weekly_task'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_weekly_task_carried_from_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_weekly_task_section'))
        batch_op.drop_column('carried_from_id')
        batch_op.drop_column('deadline_time')
        batch_op.drop_column('section')

    op.drop_table('weekly_review')  # its indexes go with it (MariaDB keeps one a foreign key needs)
