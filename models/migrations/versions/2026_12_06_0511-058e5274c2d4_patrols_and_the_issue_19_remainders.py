"""patrols and the issue-19 remainders

Issue 19's remainder: 巡查 (routes with their checklists, patrols with each item's result, findings linked to the
request they became); 走访签阅 (who signed a visit record, when, the remark); 服务之星推荐截止日 as the company sets it.

Revision ID: 058e5274c2d4
Revises: 33a652a2fb23
Create Date: 2026-12-06 05:11:31.440956
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '058e5274c2d4'
down_revision: str | Sequence[str] | None = '33a652a2fb23'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('patrol_route',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.Enum('daily', 'weekly', 'monthly', name='patrolfrequency', native_enum=False, length=15), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_patrol_route_building_id_building'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_patrol_route_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_route')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_patrol_route_project_id_name'))
    )
    with op.batch_alter_table('patrol_route', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_route_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_route_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_route_project_id'), ['project_id'], unique=False)

    op.create_table('star_deadline',
    sa.Column('quarter', sa.String(length=7), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['set_by_id'], ['user_account.id'], name=op.f('fk_star_deadline_set_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_star_deadline')),
    sa.UniqueConstraint('quarter', name=op.f('uq_star_deadline_quarter'))
    )
    op.create_table('patrol',
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('patroller_id', sa.Integer(), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('abnormal', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('ended_at IS NULL OR ended_at >= started_at', name=op.f('ck_patrol_ended_after_started')),
    sa.ForeignKeyConstraint(['patroller_id'], ['staff.id'], name=op.f('fk_patrol_patroller_id_staff'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_patrol_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_patrol_recorded_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_route.id'], name=op.f('fk_patrol_route_id_patrol_route'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol'))
    )
    with op.batch_alter_table('patrol', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_patroller_id'), ['patroller_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_project_id_started_at'), ['project_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_route_id'), ['route_id'], unique=False)

    op.create_table('patrol_check_item',
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=128), nullable=False),
    sa.Column('standard', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('seq > 0', name=op.f('ck_patrol_check_item_seq_positive')),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_route.id'], name=op.f('fk_patrol_check_item_route_id_patrol_route'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_check_item')),
    sa.UniqueConstraint('route_id', 'seq', name=op.f('uq_patrol_check_item_route_id_seq'))
    )
    with op.batch_alter_table('patrol_check_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_check_item_route_id'), ['route_id'], unique=False)

    op.create_table('patrol_check',
    sa.Column('patrol_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.Enum('ok', 'abnormal', 'skipped', name='checkresult', native_enum=False, length=16), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['patrol_check_item.id'], name=op.f('fk_patrol_check_item_id_patrol_check_item'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['patrol_id'], ['patrol.id'], name=op.f('fk_patrol_check_patrol_id_patrol'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_check')),
    sa.UniqueConstraint('patrol_id', 'item_id', name=op.f('uq_patrol_check_patrol_id_item_id'))
    )
    with op.batch_alter_table('patrol_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_check_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_check_result'), ['result'], unique=False)

    op.create_table('patrol_finding',
    sa.Column('patrol_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('location', sa.String(length=128), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.Enum('plumbing', 'building', 'elevator', 'security', 'parking', 'noise', 'cleaning', 'greening', 'fees', 'service', 'defect', 'other', name='requestcategory', native_enum=False, length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'reported', 'resolved', name='findingstatus', native_enum=False, length=16), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['patrol_check_item.id'], name=op.f('fk_patrol_finding_item_id_patrol_check_item'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patrol_id'], ['patrol.id'], name=op.f('fk_patrol_finding_patrol_id_patrol'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_patrol_finding_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], name=op.f('fk_patrol_finding_request_id_service_request'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_patrol_finding_unit_id_unit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_finding')),
    sa.UniqueConstraint('request_id', name=op.f('uq_patrol_finding_request_id'))
    )
    with op.batch_alter_table('patrol_finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_finding_patrol_id'), ['patrol_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_finding_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_finding_project_id_status'), ['project_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_finding_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_finding_unit_id'), ['unit_id'], unique=False)

    op.create_table('visit_signoff',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_visit_signoff_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['signed_by_id'], ['user_account.id'], name=op.f('fk_visit_signoff_signed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_signoff_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_signoff')),
    sa.UniqueConstraint('visit_id', name=op.f('uq_visit_signoff_visit_id'))
    )
    with op.batch_alter_table('visit_signoff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_signoff_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_signoff_project_id_signed_at'), ['project_id', 'signed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_signoff_signed_by_id'), ['signed_by_id'], unique=False)



def downgrade() -> None:
    for table in ("visit_signoff", "patrol_finding", "patrol_check", "patrol_check_item", "patrol", "star_deadline", "patrol_route"):
        op.drop_table(table)  # its indexes go with it (MariaDB keeps one a foreign key needs)
