"""withdraw request, payment reversal

撤销诉求 (``action:withdraw`` on 客户诉求): a request the caller withdraws before it is dispatched ends 已取消 with
the reason given; the grant goes to the roles that edit requests (前台客服, 楼宇管家, 客服主管, 客服经理 by default),
as 答复办结's did (b7e2c9d4a615).

冲正 (``action:reverse-payment`` on 收款记录): a payment recorded wrongly is reversed, never deleted — it keeps its
row, amount and receipt number and is marked with 冲正时间, 冲正人 and 冲正原因; its bill's 实收 and status are
recomputed by the action. The grant goes to the roles that edit payments (收费员, 客服主管, 客服经理 by default).

Revision ID: b3d8e6f1a2c4
Revises: a9d3f1c7e5b2
Create Date: 2026-12-07 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = 'b3d8e6f1a2c4'
down_revision: str | Sequence[str] | None = 'a9d3f1c7e5b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (record, the grant, given to the roles holding this grant on the record)
GRANTS = (("service-request", "action:withdraw", "edit"), ("payment", "action:reverse-payment", "edit"))
grant = sa.table("role_grant", sa.column("group_id", sa.Integer), sa.column("identity", sa.String),
                 sa.column("action", sa.String))


def upgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversed_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reversed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reversal_reason', sa.String(length=200), server_default='', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_payment_reversed_by_id_user_account'), 'user_account',
                                    ['reversed_by_id'], ['id'], ondelete='SET NULL')
    bind = op.get_bind()
    for identity, action, holding in GRANTS:
        def holders(what: str, identity: str = identity) -> set[int]:
            return set(bind.scalars(sa.select(grant.c.group_id).where(grant.c.identity == identity,
                                                                      grant.c.action == what)))
        if missing := holders(holding) - holders(action):
            bind.execute(sa.insert(grant), [{"group_id": g, "identity": identity, "action": action}
                                            for g in sorted(missing)])


def downgrade() -> None:
    # the grants stay: they do nothing at the revision below, and the roles keep what they were given
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payment_reversed_by_id_user_account'), type_='foreignkey')
        batch_op.drop_column('reversal_reason')
        batch_op.drop_column('reversed_by_id')
        batch_op.drop_column('reversed_at')
