"""survey form's one key: its household

A form (``survey_response``) referenced its project, survey and unit by three foreign keys, each checked for
every form an import writes; one composite key to its household (``survey_household``: project, survey, unit —
whose own keys hold those three) replaces them (issue 17). Every form needs its household first: a form whose
unit was not in the campaign gets one (already 已回收, as an import adds them), and a form's project is its
household's. Deleting a household (with its survey or its unit) deletes its form, as deleting the survey did.

Revision ID: d7b3e5a19c42
Revises: d7a3c5e90b12
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7b3e5a19c42"
down_revision: str | Sequence[str] | None = "d7a3c5e90b12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOUSEHOLD_KEY = "uq_survey_household_project_survey_unit"
FORM_KEY = "fk_survey_response_project_id_survey_household"
KEY = ["project_id", "survey_id", "unit_id"]
OWN_KEYS = (("project_id", "project", "RESTRICT"), ("survey_id", "survey", "CASCADE"), ("unit_id", "unit", "RESTRICT"))


def upgrade() -> None:
    op.execute(sa.text(
        "INSERT INTO survey_household (project_id, survey_id, unit_id, receipt_signed, collected, version) "
        "SELECT DISTINCT s.project_id, r.survey_id, r.unit_id, false, true, 1 "
        "FROM survey_response r JOIN survey s ON s.id = r.survey_id "
        "WHERE NOT EXISTS (SELECT 1 FROM survey_household h WHERE h.survey_id = r.survey_id AND h.unit_id = r.unit_id)"
    ))
    op.execute(sa.text(
        "UPDATE survey_response SET project_id = (SELECT h.project_id FROM survey_household h "
        "WHERE h.survey_id = survey_response.survey_id AND h.unit_id = survey_response.unit_id) "
        "WHERE project_id <> (SELECT h.project_id FROM survey_household h "
        "WHERE h.survey_id = survey_response.survey_id AND h.unit_id = survey_response.unit_id)"
    ))
    op.create_index(HOUSEHOLD_KEY, "survey_household", KEY, unique=True)
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        for column, table, _ in OWN_KEYS:
            batch_op.drop_constraint(f"fk_survey_response_{column}_{table}", type_="foreignkey")
        batch_op.create_foreign_key(FORM_KEY, "survey_household", KEY, KEY, ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.drop_constraint(FORM_KEY, type_="foreignkey")
        for column, table, ondelete in OWN_KEYS:
            batch_op.create_foreign_key(f"fk_survey_response_{column}_{table}", table, [column], ["id"], ondelete=ondelete)
    op.drop_index(HOUSEHOLD_KEY, table_name="survey_household")
