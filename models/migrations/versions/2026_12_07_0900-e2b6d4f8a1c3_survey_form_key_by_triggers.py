"""a survey form's key to its household held by statement triggers on PostgreSQL, not a foreign key

问卷 → 被调查户: on PostgreSQL the foreign key goes; ``models.survey_keys.sync_survey_keys``, which the migration
environment runs after every upgrade, puts in place the triggers that hold the same key — one check of an import's
100,000 forms per statement instead of a lookup and a row lock per form (issue 17). SQLite and MariaDB keep the
foreign key.

Revision ID: e2b6d4f8a1c3
Revises: d3a7c5e9f214
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e2b6d4f8a1c3"
down_revision: str | Sequence[str] | None = "d3a7c5e9f214"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FORM_KEY = "fk_survey_response_project_id_survey_household"
TRIGGERS = {
    "survey_response": ("survey_response_household_insert", "survey_response_household_update"),
    "survey_household": ("survey_household_forms_delete", "survey_household_forms_lock",
                         "survey_household_key_update"),
}
FUNCTIONS = ("survey_response_household_held", "survey_household_forms_held", "survey_household_key_held")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FORM_KEY, "survey_response", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, names in TRIGGERS.items():
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for name in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.create_foreign_key(FORM_KEY, "survey_response", "survey_household", ["project_id", "survey_id", "unit_id"],
                          ["project_id", "survey_id", "unit_id"], ondelete="CASCADE")
