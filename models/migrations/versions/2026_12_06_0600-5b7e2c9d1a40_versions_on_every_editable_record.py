"""versions on every editable record, one-time create forms

Optimistic locking (B09) on every record the console edits, not only bills, requests and work orders: a second
save from a stale form is refused instead of silently overwriting the first. Existing rows start at version 1.
form_submission: the one-time token of a console create form that takes money or moves a state, and the record
it made — the same form sent twice writes once.

Revision ID: 5b7e2c9d1a40
Revises: 33a652a2fb23
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = '5b7e2c9d1a40'
down_revision: str | Sequence[str] | None = '33a652a2fb23'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    'branch', 'building', 'corrective_action', 'customer', 'department', 'dunning_notice', 'duty_log', 'fee_type',
    'goods_pass', 'grade_band', 'house_defect', 'item_loan', 'key_loan', 'key_record', 'lost_item', 'mail_item',
    'meeting_booking', 'move_in_checklist', 'owner_notice', 'parking_space', 'phase', 'project',
    'rectification_notice', 'renovation_application', 'role', 'routing_rule', 'score_event', 'score_month',
    'scoring_rule', 'service_star', 'sla_rule', 'staff', 'staff_visit_plan', 'survey', 'survey_household',
    'survey_response', 'survey_score', 'training_attendance', 'training_session', 'unit', 'unit_customer',
    'user_account', 'vendor_check', 'visit', 'visitor_entry', 'weekly_review', 'weekly_task', 'worker_permit',
)


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.create_table(
        'form_submission',
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('table_name', sa.String(length=64), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=True),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_form_submission')),
        sa.UniqueConstraint('token', name=op.f('uq_form_submission_token')),
    )


def downgrade() -> None:
    op.drop_table('form_submission')
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
