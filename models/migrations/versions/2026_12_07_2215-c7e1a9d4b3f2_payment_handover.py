"""payment handover

代收款交接 took a collector's payments by time (收款时间 since the last handover): a payment entered later with an
earlier 收款时间 (cash taken at 18:00, typed in after the 19:00 handover) or committed while a handover was being
made was never handed over. Each payment now names the handover that took it (``handover_id``); a handover takes
the collector's payments not yet taken. Existing handovers take back the payments of their windows; a payment no
window held is left for the next handover.

Revision ID: c7e1a9d4b3f2
Revises: c8e2f4a6b1d3
Create Date: 2026-12-07 22:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c7e1a9d4b3f2'
down_revision: str | Sequence[str] | None = 'c8e2f4a6b1d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_payment_not_handed_over"
FK = "fk_payment_handover_id_cash_handover"


def upgrade() -> None:
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("handover_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f(FK), "cash_handover", ["handover_id"], ["id"], ondelete="SET NULL")
    # the payments each handover took by its window (as it counted them: not reversed, in [代收起, 代收止))
    op.execute(sa.text(
        "UPDATE payment SET handover_id = (SELECT MIN(h.id) FROM cash_handover h"
        " WHERE h.collector_id = payment.collector_id AND h.project_id = payment.project_id"
        " AND payment.paid_at >= h.period_from AND payment.paid_at < h.period_to)"
        " WHERE reversed_at IS NULL AND collector_id IN (SELECT collector_id FROM cash_handover)"))
    op.create_index(INDEX, "payment", ["collector_id"], postgresql_where=sa.text("handover_id IS NULL"),
                    sqlite_where=sa.text("handover_id IS NULL"))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="payment")
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint(batch.f(FK), type_="foreignkey")
        batch.drop_column("handover_id")
