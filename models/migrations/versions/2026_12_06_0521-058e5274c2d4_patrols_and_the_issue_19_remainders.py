"""patrols and the issue-19 remainders

Issue 19's remainder: 巡查 (routes with their checklists, patrols with each item's result, findings linked to the
request they became); 走访签阅 (who signed a visit record, when, the remark); 服务之星推荐截止日 as the company sets it;
代收款交接, 邮件领取通知, 特约服务, 一次性外包服务; 收费标准年审 as dated tasks; 车位租赁 (term, tenant, rent).

Revision ID: 058e5274c2d4
Revises: 853b69ef8726
Create Date: 2026-12-06 05:21:34.976754
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '058e5274c2d4'
down_revision: str | Sequence[str] | None = '853b69ef8726'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('special_service',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('price_unit', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('price IS NULL OR price >= 0', name=op.f('ck_special_service_price_nonneg')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_special_service_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_special_service')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_special_service_project_id_name'))
    )
    with op.batch_alter_table('special_service', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_special_service_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_special_service_project_id'), ['project_id'], unique=False)

    op.create_table('outsourced_job',
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('vendor', sa.String(length=128), nullable=False),
    sa.Column('follower_id', sa.Integer(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('planned', 'in_progress', 'rectifying', 'accepted', name='outsourcedjobstatus', native_enum=False, length=19), nullable=False),
    sa.Column('issues', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('done_on IS NULL OR done_on >= planned_on', name=op.f('ck_outsourced_job_done_after_planned')),
    sa.ForeignKeyConstraint(['follower_id'], ['staff.id'], name=op.f('fk_outsourced_job_follower_id_staff'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_outsourced_job_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outsourced_job'))
    )
    with op.batch_alter_table('outsourced_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outsourced_job_follower_id'), ['follower_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outsourced_job_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outsourced_job_project_id_planned_on'), ['project_id', 'planned_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_outsourced_job_status'), ['status'], unique=False)

    op.create_table('cash_handover',
    sa.Column('collector_id', sa.Integer(), nullable=False),
    sa.Column('period_from', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_to', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payments', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('handed_by_id', sa.Integer(), nullable=True),
    sa.Column('handed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cashier_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('counted', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('amount >= 0 AND (counted IS NULL OR counted >= 0)', name=op.f('ck_cash_handover_money_nonneg')),
    sa.CheckConstraint('period_to > period_from', name=op.f('ck_cash_handover_period_order')),
    sa.ForeignKeyConstraint(['cashier_id'], ['user_account.id'], name=op.f('fk_cash_handover_cashier_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['collector_id'], ['staff.id'], name=op.f('fk_cash_handover_collector_id_staff'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['handed_by_id'], ['user_account.id'], name=op.f('fk_cash_handover_handed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_cash_handover_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_handover')),
    sa.UniqueConstraint('collector_id', 'period_to', name=op.f('uq_cash_handover_collector_id_period_to'))
    )
    with op.batch_alter_table('cash_handover', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cash_handover_cashier_id'), ['cashier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cash_handover_collector_id'), ['collector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cash_handover_confirmed_at'), ['confirmed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cash_handover_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cash_handover_project_id_handed_at'), ['project_id', 'handed_at'], unique=False)

    op.create_table('fee_review',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('fee_type_id', sa.Integer(), nullable=False),
    sa.Column('due_from', sa.Date(), nullable=False),
    sa.Column('due_by', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'done', name='reviewstatus', native_enum=False, length=15), nullable=False),
    sa.Column('reviewed_on', sa.Date(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['fee_type_id'], ['fee_type.id'], name=op.f('fk_fee_review_fee_type_id_fee_type'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_fee_review_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_fee_review_reviewer_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_review')),
    sa.UniqueConstraint('project_id', 'year', 'fee_type_id', name=op.f('uq_fee_review_project_id_year_fee_type_id'))
    )
    with op.batch_alter_table('fee_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fee_review_fee_type_id'), ['fee_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fee_review_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fee_review_project_id_status_due_by'), ['project_id', 'status', 'due_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_fee_review_status'), ['status'], unique=False)

    op.create_table('mail_notice',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('butler_id', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('notified_by_id', sa.Integer(), nullable=True),
    sa.Column('notified_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['butler_id'], ['staff.id'], name=op.f('fk_mail_notice_butler_id_staff'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['notified_by_id'], ['user_account.id'], name=op.f('fk_mail_notice_notified_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_mail_notice_project_id_project'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_notice')),
    sa.UniqueConstraint('project_id', 'day', 'butler_id', name=op.f('uq_mail_notice_project_id_day_butler_id'))
    )
    with op.batch_alter_table('mail_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_notice_butler_id'), ['butler_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_notice_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_notice_project_id'), ['project_id'], unique=False)

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

    op.create_table('parking_lease',
    sa.Column('space_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('plate_no', sa.String(length=16), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('monthly_rent', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_parking_lease_term_order')),
    sa.CheckConstraint('monthly_rent >= 0', name=op.f('ck_parking_lease_rent_nonneg')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_parking_lease_customer_id_customer'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_parking_lease_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['space_id'], ['parking_space.id'], name=op.f('fk_parking_lease_space_id_parking_space'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_lease'))
    )
    with op.batch_alter_table('parking_lease', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parking_lease_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_lease_end_date'), ['end_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_lease_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_lease_space_id_start_date'), ['space_id', 'start_date'], unique=False)

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

    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('special_service_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_service_request_special_service_id'), ['special_service_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_service_request_special_service_id_special_service'), 'special_service', ['special_service_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_service_request_special_service_id_special_service'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_service_request_special_service_id'))
        batch_op.drop_column('special_service_id')
    for table in ("visit_signoff", "patrol_finding", "patrol_check", "parking_lease", "patrol_check_item", "patrol", "star_deadline", "patrol_route", "mail_notice", "fee_review", "cash_handover", "outsourced_job", "special_service"):
        op.drop_table(table)  # its indexes go with it (MariaDB keeps one a foreign key needs)
