"""staff visit plans

登门拜访计划: a month's visits planned per member of staff, approved by the manager.

Revision ID: ef433058bc69
Revises: e73aa94a12ac
Create Date: 2026-12-06 02:46:41.865381
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'ef433058bc69'
down_revision: str | Sequence[str] | None = 'e73aa94a12ac'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_visit_plan',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('planned', sa.Integer(), nullable=False),
    sa.Column('focus', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'approved', name='planstatus', native_enum=False, length=16), nullable=False),
    sa.Column('planned_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('planned > 0', name=op.f('ck_staff_visit_plan_planned_positive')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_staff_visit_plan_approved_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['planned_by_id'], ['user_account.id'], name=op.f('fk_staff_visit_plan_planned_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_staff_visit_plan_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_visit_plan_staff_id_staff'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_visit_plan')),
    sa.UniqueConstraint('project_id', 'month', 'staff_id', name=op.f('uq_staff_visit_plan_project_id_month_staff_id'))
    )
    with op.batch_alter_table('staff_visit_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_visit_plan_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_visit_plan_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_visit_plan_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_visit_plan_status'), ['status'], unique=False)



def downgrade() -> None:
    op.drop_table('staff_visit_plan')  # its indexes go with it (MariaDB keeps one a foreign key needs)
