"""answer request grant

答复办结 (``action:answer`` on 客户诉求): a 咨询/求助/建议/表扬 answered at the desk is closed with its 答复内容, without
a 派工单. Given to the roles that edit requests (前台客服, 楼宇管家, 客服主管, 客服经理 by default).

Revision ID: b7e2c9d4a615
Revises: f4c8a2d6b1e7
Create Date: 2026-12-07 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7e2c9d4a615'
down_revision: str | Sequence[str] | None = 'f4c8a2d6b1e7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDENTITY, ANSWER = "service-request", "action:answer"
grant = sa.table("role_grant", sa.column("group_id", sa.Integer), sa.column("identity", sa.String),
                 sa.column("action", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    editors = set(bind.scalars(sa.select(grant.c.group_id).where(grant.c.identity == IDENTITY, grant.c.action == "edit")))
    held = set(bind.scalars(sa.select(grant.c.group_id).where(grant.c.identity == IDENTITY, grant.c.action == ANSWER)))
    if editors - held:
        bind.execute(sa.insert(grant), [{"group_id": g, "identity": IDENTITY, "action": ANSWER}
                                        for g in sorted(editors - held)])


def downgrade() -> None:
    pass  # the grant stays: it does nothing at the revision below, and the roles keep what they were given
