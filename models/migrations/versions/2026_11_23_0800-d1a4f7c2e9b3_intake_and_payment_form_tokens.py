"""intake and payment form tokens

受理诉求 and 房屋账户收款: each form carries a one-time token stored with what it writes (the request; each bill's
payment), unique, so a resubmitted form (a double click, a refresh) writes nothing twice.

Revision ID: d1a4f7c2e9b3
Revises: c3e9a1f47b52
Create Date: 2026-11-23 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd1a4f7c2e9b3'
down_revision: str | Sequence[str] | None = 'c3e9a1f47b52'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_token', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_service_request_form_token'), ['form_token'])
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_token', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payment_form_token_bill_id'), ['form_token', 'bill_id'])


def downgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payment_form_token_bill_id'), type_='unique')
        batch_op.drop_column('form_token')
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_service_request_form_token'), type_='unique')
        batch_op.drop_column('form_token')
