"""vendor check rectification

外包方月度检查 records whether the vendor put right what the check found (000 工作规划3 三.1: 「利用对外包方的“月会”
制度……发现问题让其限期整改」): 整改情况 (无需整改 / 待整改 / 已整改 / 复查未整改), 复查日期, 复查结果. A check made
before reads 待整改 when it found something or set a 限期整改日期, else 无需整改. Plain ADD COLUMNs (no rebuild).

Revision ID: b5d9e3f7a1c4
Revises: c7e1a9d4b3f2
Create Date: 2026-12-07 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b5d9e3f7a1c4'
down_revision: str | Sequence[str] | None = 'c7e1a9d4b3f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('vendor_check', sa.Column('rectification', sa.String(length=16), server_default='pending',
                                            nullable=False))
    op.add_column('vendor_check', sa.Column('rechecked_on', sa.Date(), nullable=True))
    op.add_column('vendor_check', sa.Column('recheck_result', sa.Text(), server_default='', nullable=False))
    op.execute("UPDATE vendor_check SET rectification = 'none' WHERE findings = '' AND rectify_by IS NULL")
    op.create_index(op.f('ix_vendor_check_rectification'), 'vendor_check', ['rectification'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_vendor_check_rectification'), table_name='vendor_check')
    op.drop_column('vendor_check', 'recheck_result')
    op.drop_column('vendor_check', 'rechecked_on')
    op.drop_column('vendor_check', 'rectification')
