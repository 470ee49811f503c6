"""escalations

诉求升级: a request raised one level at a time (主管 → 经理 → 总经理/分公司), with the reason and the answer.

Revision ID: 815b94bdeb5d
Revises: ef433058bc69
Create Date: 2026-12-06 02:54:34.869599
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '815b94bdeb5d'
down_revision: str | Sequence[str] | None = 'ef433058bc69'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('escalation',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Enum('1_supervisor', '2_manager', '3_general', name='escalationlevel', native_enum=False, length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('escalated_by_id', sa.Integer(), nullable=True),
    sa.Column('escalated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('responded_by_id', sa.Integer(), nullable=True),
    sa.Column('responded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['escalated_by_id'], ['user_account.id'], name=op.f('fk_escalation_escalated_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_escalation_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], name=op.f('fk_escalation_request_id_service_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['responded_by_id'], ['user_account.id'], name=op.f('fk_escalation_responded_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation')),
    sa.UniqueConstraint('request_id', 'level', name=op.f('uq_escalation_request_id_level'))
    )
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_project_id_level_responded_at'), ['project_id', 'level', 'responded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_responded_at'), ['responded_at'], unique=False)



def downgrade() -> None:
    op.drop_table('escalation')  # its indexes go with it (MariaDB keeps one a foreign key needs)
