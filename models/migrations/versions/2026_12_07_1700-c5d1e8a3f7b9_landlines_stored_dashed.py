"""landlines stored dashed

A landline with its area code is stored as ``021-58888888`` (its area code and number parted by a dash), as one
with an extension already was (``021-58888888-8023``); it had been stored as its digits (``02158888888``). The
phone columns' stored landlines are rewritten so that a search, a lookup by the whole number and the customer
import's match by phone and name (``clean.phone``'s normal form) find them. Mobiles, numbers without an area code
and anything that is no landline are left as they are. Data only: no schema change.

Revision ID: c5d1e8a3f7b9
Revises: b7e2c9d4a615
Create Date: 2026-12-07 17:00:00.000000
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c5d1e8a3f7b9'
down_revision: str | Sequence[str] | None = 'b7e2c9d4a615'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns holding phones read by clean.phone (``info={"pii": "phone"}``), as of this revision.
PHONE_COLUMNS = (
    ('staff', 'phone'), ('customer', 'phone'), ('mail_item', 'recipient_phone'), ('visitor_entry', 'visitor_phone'),
    ('goods_pass', 'carrier_phone'), ('item_loan', 'borrower_phone'), ('key_loan', 'borrower_phone'),
    ('lost_item', 'claimant_phone'), ('meeting_booking', 'phone'), ('renovation_application', 'applicant_phone'),
    ('renovation_application', 'contractor_phone'), ('service_request', 'contact_phone'), ('worker_permit', 'phone'),
)
# 010 and 02x are three-digit area codes, every other one has four; the number has 7–8 digits from 2–9.
DIGITS = re.compile(r'^(0[12][0-9]|0[3-9][0-9]{2})([2-9][0-9]{6,7})$')
DASHED = re.compile(r'^(0[12][0-9]|0[3-9][0-9]{2})-([2-9][0-9]{6,7})$')


def _rewrite(stored: re.Pattern[str]) -> None:
    bind = op.get_bind()
    for name, column in PHONE_COLUMNS:
        table = sa.table(name, sa.column('id', sa.Integer), sa.column(column, sa.String))
        phone = table.c[column]
        rows = bind.execute(sa.select(table.c.id, phone).where(phone.like('0%'))).all()
        changed = [{'row_id': i, 'phone': f'{m[1]}-{m[2]}' if stored is DIGITS else f'{m[1]}{m[2]}'}
                   for i, value in rows if (m := stored.match(value or ''))]
        if changed:
            bind.execute(table.update().where(table.c.id == sa.bindparam('row_id'))
                         .values({column: sa.bindparam('phone')}), changed)


def upgrade() -> None:
    _rewrite(DIGITS)


def downgrade() -> None:
    _rewrite(DASHED)
