"""complaint validity and judged deduction

有效投诉 becomes 待判定 / 有效 / 无效 (a supervisor judges it): 是 → 有效; blank (never judged) → 待判定. The
supervisor's judgement of the deduction (细则：被业主投诉者，视情况扣5-10分) is kept on the complaint and replaces
the provisional one the records give — the rule of source 有效投诉 now spans −10 … −5, −5 being the provisional
deduction. Rules whose points the documents do not give are marked as the company's own.

Revision ID: 9987d6b5ae7b
Revises: 815b94bdeb5d
Create Date: 2026-12-06 01:46:30.514797
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '9987d6b5ae7b'
down_revision: str | Sequence[str] | None = '815b94bdeb5d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 细则未载分值、由本公司自定的条款（种子数据中的编码）
COMPANY_OWN = ('AUTO-OVERDUE', 'AUTO-CALLBACK', 'AUTO-PRAISE', '8.1')
PROVISIONAL = '暂定扣分，待主管评定'
# roles are data: the default roles of an existing database get the new grant (seeds/roles.py holds the defaults)
JUDGE = ('service-request', 'action:judge-complaint', ('客服主管', '客服经理'))


def _grant(identity: str, action: str, roles: tuple[str, ...]) -> None:
    op.execute(sa.text(
        "INSERT INTO role_grant (identity, action, group_id) SELECT :identity, :action, role.id FROM role "
        "WHERE role.name IN :roles AND NOT EXISTS (SELECT 1 FROM role_grant g WHERE g.group_id = role.id "
        "AND g.identity = :identity AND g.action = :action)"
    ).bindparams(sa.bindparam('roles', expanding=True), identity=identity, action=action, roles=list(roles)))


def upgrade() -> None:
    with op.batch_alter_table('scoring_rule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company_own', sa.Boolean(), server_default=sa.false(), nullable=False))
    rule = sa.table('scoring_rule', sa.column('code', sa.String), sa.column('source', sa.String),
                    sa.column('company_own', sa.Boolean), sa.column('points_min', sa.Numeric),
                    sa.column('choose_in_range', sa.Boolean))
    op.execute(rule.update().where(rule.c.code.in_(COMPANY_OWN)).values(company_own=True))
    op.execute(rule.update().where(rule.c.source == 'complaint').values(points_min=-10, choose_in_range=True))

    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaint_validity', sa.Enum('pending', 'valid', 'invalid', name='complaintvalidity', native_enum=False, create_constraint=False, length=15), nullable=True))
        batch_op.add_column(sa.Column('complaint_points', sa.Numeric(precision=6, scale=1), nullable=True))
        batch_op.add_column(sa.Column('complaint_judged_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('complaint_judged_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_service_request_complaint_validity'), ['complaint_validity'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_service_request_complaint_judged_by_id_user_account'), 'user_account', ['complaint_judged_by_id'], ['id'], ondelete='SET NULL')
    request = sa.table('service_request', sa.column('kind', sa.String), sa.column('complaint_valid', sa.Boolean),
                       sa.column('complaint_validity', sa.String))
    complaint = request.c.kind == 'complaint'
    op.execute(request.update().where(complaint, request.c.complaint_valid.is_(True)).values(complaint_validity='valid'))
    op.execute(request.update().where(complaint, request.c.complaint_validity.is_(None)).values(complaint_validity='pending'))
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.drop_column('complaint_valid')
    # the events already derived from valid complaints are the provisional deductions
    event = sa.table('score_event', sa.column('source', sa.String), sa.column('note', sa.Text))
    op.execute(event.update().where(event.c.source == 'complaint').values(note=PROVISIONAL))
    _grant(*JUDGE)


def downgrade() -> None:
    # the grant stays: a grant of an action the console does not have is inert, and up again finds it in place
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaint_valid', sa.BOOLEAN(), nullable=True))
    request = sa.table('service_request', sa.column('complaint_valid', sa.Boolean),
                       sa.column('complaint_validity', sa.String))
    op.execute(request.update().where(request.c.complaint_validity == 'valid').values(complaint_valid=True))
    op.execute(request.update().where(request.c.complaint_validity == 'invalid').values(complaint_valid=False))
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_service_request_complaint_judged_by_id_user_account'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_service_request_complaint_validity'))
        batch_op.drop_column('complaint_judged_at')
        batch_op.drop_column('complaint_judged_by_id')
        batch_op.drop_column('complaint_points')
        batch_op.drop_column('complaint_validity')
    event = sa.table('score_event', sa.column('source', sa.String), sa.column('note', sa.Text))
    op.execute(event.update().where(event.c.source == 'complaint').values(note=''))
    rule = sa.table('scoring_rule', sa.column('source', sa.String), sa.column('points_min', sa.Numeric),
                    sa.column('choose_in_range', sa.Boolean))
    op.execute(rule.update().where(rule.c.source == 'complaint').values(points_min=-5, choose_in_range=False))
    with op.batch_alter_table('scoring_rule', schema=None) as batch_op:
        batch_op.drop_column('company_own')
