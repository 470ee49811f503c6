"""first responsibility by staff and front desk dispatch

首问负责制 "第一个接待业主或被业主询问的公司员工，不受部门的限制": a request's 首问负责人 is a staff member (with or
without a console account); the account that keyed it in stays as 受理人. Existing requests take the staff record
of their 受理人's account. 前台客服 "负责派工单的派发工作": the front desk role of an existing database may dispatch.

Revision ID: 33a652a2fb23
Revises: 9987d6b5ae7b
Create Date: 2026-12-06 02:21:40.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '33a652a2fb23'
down_revision: str | Sequence[str] | None = '9987d6b5ae7b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_staff_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_service_request_first_staff_id'), ['first_staff_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_service_request_first_staff_id_staff'), 'staff', ['first_staff_id'], ['id'], ondelete='SET NULL')
    op.execute(sa.text(
        "UPDATE service_request SET first_staff_id = (SELECT u.staff_id FROM user_account u "
        "WHERE u.id = service_request.receiver_id) WHERE receiver_id IS NOT NULL"
    ))
    # roles are data: the default 前台客服 role gets the grant seeds/roles.py gives it (the downgrade leaves it:
    # inert without the page, and found in place by the next upgrade)
    op.execute(sa.text(
        "INSERT INTO role_grant (identity, action, group_id) SELECT 'service-request', 'action:dispatch', role.id "
        "FROM role WHERE role.name = '前台客服' AND NOT EXISTS (SELECT 1 FROM role_grant g WHERE g.group_id = role.id "
        "AND g.identity = 'service-request' AND g.action = 'action:dispatch')"
    ))


def downgrade() -> None:
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_service_request_first_staff_id_staff'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_service_request_first_staff_id'))
        batch_op.drop_column('first_staff_id')
