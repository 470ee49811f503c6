"""rewards visitors training

有奖有罚: each grade carries the reward or penalty it brings (奖惩金额, the documents give none: the default bands
say so) and 奖惩记录 keeps what a confirmed month earned each employee; 来访登记 at the front desk; 培训 and its
attendance with test scores. Existing default bands get the default amounts.

Revision ID: 9fca9b34ff2b
Revises: e4b8c1d5a7f2
Create Date: 2026-12-06 01:46:23.550625
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '9fca9b34ff2b'
down_revision: str | Sequence[str] | None = 'e4b8c1d5a7f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The seeds' defaults (seeds/scoring_rules.json), for databases whose bands were loaded before amounts existed.
DEFAULT_NOTE = "默认值：文档只说“依据平常成绩到月底进行奖惩”，未给金额，请按公司制度修改"
DEFAULT_REWARDS = (("优秀", 200), ("良好", 0), ("合格", 0), ("不合格", -100))


def upgrade() -> None:
    op.create_table('reward_entry',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('total', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.Enum('reward', 'penalty', 'none', name='rewardkind', native_enum=False, length=15), nullable=False),
    sa.Column('amount', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_reward_entry_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_reward_entry_staff_id_staff'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_entry')),
    sa.UniqueConstraint('staff_id', 'month', name=op.f('uq_reward_entry_staff_id_month'))
    )
    with op.batch_alter_table('reward_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reward_entry_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_reward_entry_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_reward_entry_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reward_entry_project_id_month'), ['project_id', 'month'], unique=False)

    op.create_table('training_session',
    sa.Column('topic', sa.Enum('etiquette', 'complaint', 'patrol', 'law', 'business', 'safety', 'other', name='trainingtopic', native_enum=False, length=17), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('trainer', sa.String(length=64), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=True),
    sa.Column('hours', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('has_test', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('planned', 'held', 'cancelled', name='trainingstatus', native_enum=False, length=17), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('hours > 0', name=op.f('ck_training_session_hours_positive')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_training_session_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_training_session_recorded_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_session'))
    )
    with op.batch_alter_table('training_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_session_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_session_project_id_planned_on'), ['project_id', 'planned_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_session_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_session_topic'), ['topic'], unique=False)

    op.create_table('training_attendance',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=False),
    sa.Column('score', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('score IS NULL OR (score >= 0 AND score <= 100)', name=op.f('ck_training_attendance_score_range')),
    sa.ForeignKeyConstraint(['session_id'], ['training_session.id'], name=op.f('fk_training_attendance_session_id_training_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_training_attendance_staff_id_staff'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_attendance')),
    sa.UniqueConstraint('session_id', 'staff_id', name=op.f('uq_training_attendance_session_id_staff_id'))
    )
    with op.batch_alter_table('training_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_attendance_staff_id_session_id'), ['staff_id', 'session_id'], unique=False)

    op.create_table('visitor_entry',
    sa.Column('visitor', sa.String(length=64), nullable=False),
    sa.Column('visitor_phone', sa.String(length=20), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('visit', 'delivery', 'repair', 'viewing', 'business', 'other', name='visitpurpose', native_enum=False, length=16), nullable=False),
    sa.Column('visiting', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('document', sa.Enum('id_card', 'driver', 'work_pass', 'other', 'none', name='visitordocument', native_enum=False, length=17), nullable=False),
    sa.Column('plate_no', sa.String(length=16), nullable=False),
    sa.Column('arrived_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('left_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('left_at IS NULL OR left_at >= arrived_at', name=op.f('ck_visitor_entry_left_after_arrived')),
    sa.CheckConstraint('people >= 1', name=op.f('ck_visitor_entry_people_positive')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_visitor_entry_project_id_project'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_visitor_entry_recorded_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_visitor_entry_unit_id_unit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visitor_entry'))
    )
    with op.batch_alter_table('visitor_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visitor_entry_arrived_at'), ['arrived_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_entry_left_at'), ['left_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_entry_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_entry_project_id_arrived_at'), ['project_id', 'arrived_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_entry_purpose'), ['purpose'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_entry_recorded_by_id'), ['recorded_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_entry_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('grade_band', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reward', sa.Numeric(precision=10, scale=2), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reward_note', sa.Text(), server_default='', nullable=False))

    bands = sa.table('grade_band', sa.column('name', sa.String), sa.column('reward', sa.Numeric),
                     sa.column('reward_note', sa.Text))
    for name, reward in DEFAULT_REWARDS:
        op.execute(bands.update().where(bands.c.name == name, bands.c.reward == 0)
                   .values(reward=reward, reward_note=DEFAULT_NOTE))


def downgrade() -> None:
    with op.batch_alter_table('grade_band', schema=None) as batch_op:
        batch_op.drop_column('reward_note')
        batch_op.drop_column('reward')
    # A table's indexes go with it (MariaDB refuses to drop an index a foreign key needs first).
    for table in ('visitor_entry', 'training_attendance', 'training_session', 'reward_entry'):
        op.drop_table(table)
