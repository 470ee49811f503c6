"""survey form indexes another index covers

Two indexes cost every form an import writes an index write and answer nothing another does not (issue 17):
``survey_response (survey_id)`` is the first column of its unique (survey_id, unit_id), and
``survey_response (unit_id)`` had one reader, a unit's delete rule, which now reads the unit's households and
from them that unique key. The form's only foreign key (to its household: project_id, survey_id, unit_id) keeps
``survey_response (project_id)`` leading with its first column; the batch's key keeps its own.

Revision ID: c8e4f1a2b7d5
Revises: c6e2f9a13d57
Create Date: 2026-12-07 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c8e4f1a2b7d5"
down_revision: str | Sequence[str] | None = "c6e2f9a13d57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "survey_response"


def upgrade() -> None:
    op.drop_index("ix_survey_response_survey_id", table_name=TABLE)
    op.drop_index("ix_survey_response_unit_id", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_survey_response_unit_id", TABLE, ["unit_id"])
    op.create_index("ix_survey_response_survey_id", TABLE, ["survey_id"])
