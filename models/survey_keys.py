"""A survey form's key to its household (``surveys.SurveyResponse``), held on PostgreSQL by triggers instead of a
foreign key: a foreign key looks each of a COPY's 100,000 forms up in ``survey_household`` and share-locks its
household, one at a time; a statement trigger checks the statement's forms in one anti-join.

What the foreign key held, the triggers hold, also between two transactions at once:

- a form inserted or updated names a household that exists (``survey_response_household``, after each statement,
  over its new rows), else the statement fails as the foreign key would (SQLSTATE 23503, the key's name);
- a household deleted takes its forms with it (``survey_household_forms``, after each statement, over its old
  rows), as ``ON DELETE CASCADE`` did; one whose key changes may not leave forms behind (refused, 23503).

Between transactions the survey's row is the lock instead of each household's: a statement writing forms
share-locks its surveys' rows (``FOR KEY SHARE``, as any row naming a survey does) before it checks, and a household's
delete or key change locks its survey's row exclusively (``FOR UPDATE``) before it deletes or checks the forms —
before the household row itself when the statement is the user's own, so that an import still marking that household
已回收 finishes first rather than deadlocks. Whichever comes second waits for the other's commit and, under READ
COMMITTED (the app's), checks with a snapshot taken after it: a form for a household deleted meanwhile is refused,
a form committed meanwhile is deleted with its household. Under a stricter isolation the snapshot is older than the
lock, so each household is share-locked as the foreign key does (a delete committed meanwhile: a serialization
failure). The cost: a household's delete waits for the writers of its survey's forms, households or tallies.

SQLite and MariaDB keep the foreign key (SQLite has one writer). :func:`sync_survey_keys` puts the triggers in place
after every migration (``models/migrations/env.py``), where the key is not a foreign key.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

FORM_KEY = "fk_survey_response_project_id_survey_household"  # the foreign key's name, kept in what is raised
_JOIN = "h.project_id = {f}.project_id AND h.survey_id = {f}.survey_id AND h.unit_id = {f}.unit_id"
_REFUSED = (
    "RAISE EXCEPTION 'insert or update on table \"survey_response\" violates foreign key constraint \"%\"', '{key}' "
    "USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{key}', TABLE = '{table}', DETAIL = format("
    "'Key (project_id, survey_id, unit_id)=(%s, %s, %s) is not present in table \"survey_household\".', "
    "{row}.project_id, {row}.survey_id, {row}.unit_id)"
)

FUNCTIONS = {
    "survey_response_household_held": f"""
CREATE OR REPLACE FUNCTION survey_response_household_held() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orphan record;
BEGIN
    PERFORM 1 FROM survey WHERE id IN (SELECT survey_id FROM new_rows) ORDER BY id FOR KEY SHARE;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        PERFORM 1 FROM survey_household h JOIN new_rows n ON {_JOIN.format(f="n")} ORDER BY h.id FOR KEY SHARE OF h;
    END IF;
    SELECT n.project_id, n.survey_id, n.unit_id INTO orphan FROM new_rows n
    WHERE NOT EXISTS (SELECT FROM survey_household h WHERE {_JOIN.format(f="n")}) LIMIT 1;
    IF FOUND THEN
        {_REFUSED.format(key=FORM_KEY, table="survey_response", row="orphan")};
    END IF;
    RETURN NULL;
END $$""",
    "survey_household_forms_held": f"""
CREATE OR REPLACE FUNCTION survey_household_forms_held() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM survey WHERE id IN (SELECT survey_id FROM old_rows) ORDER BY id FOR UPDATE;
    DELETE FROM survey_response f USING old_rows h WHERE {_JOIN.format(f="f")};
    RETURN NULL;
END $$""",
    # one household's key changed (the console refuses it; a hand-written UPDATE may not leave its forms behind)
    "survey_household_key_held": f"""
CREATE OR REPLACE FUNCTION survey_household_key_held() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orphan record;
BEGIN
    PERFORM 1 FROM survey WHERE id = OLD.survey_id FOR UPDATE;
    IF TG_OP = 'UPDATE' THEN
        SELECT f.project_id, f.survey_id, f.unit_id INTO orphan FROM survey_response f
        WHERE f.project_id = OLD.project_id AND f.survey_id = OLD.survey_id AND f.unit_id = OLD.unit_id LIMIT 1;
        IF FOUND THEN
            {_REFUSED.format(key=FORM_KEY, table="survey_response", row="orphan")};
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END $$""",
}
_KEY_CHANGED = ("OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.survey_id IS DISTINCT FROM NEW.survey_id "
                "OR OLD.unit_id IS DISTINCT FROM NEW.unit_id")
TRIGGERS = {
    ("survey_response", "survey_response_household_insert"): (
        "AFTER INSERT ON survey_response REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION survey_response_household_held()"),
    ("survey_response", "survey_response_household_update"): (
        "AFTER UPDATE ON survey_response REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION survey_response_household_held()"),
    ("survey_household", "survey_household_forms_delete"): (
        "AFTER DELETE ON survey_household REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION survey_household_forms_held()"),
    # the user's own delete locks the survey before the household row (not a cascade from the survey or the unit:
    # the survey's row is the one being deleted, or the statement trigger above locks it)
    ("survey_household", "survey_household_forms_lock"): (
        "BEFORE DELETE ON survey_household FOR EACH ROW WHEN (pg_trigger_depth() = 0) "
        "EXECUTE FUNCTION survey_household_key_held()"),
    # UPDATE OF: an UPDATE that sets none of the key's columns (已回收 of an import's 100,000 households) fires nothing
    ("survey_household", "survey_household_key_update"): (
        "BEFORE UPDATE OF project_id, survey_id, unit_id ON survey_household FOR EACH ROW "
        f"WHEN ({_KEY_CHANGED}) EXECUTE FUNCTION survey_household_key_held()"),
}


def held_by_triggers(connection: Connection) -> bool:
    """Whether the form's key is held by the triggers here: PostgreSQL, from revision e2b6d4f8a1c3 on — the forms'
    table there, with no foreign key to its household (nor, as before the household held them, to its survey, unit
    or project)."""
    if connection.dialect.name != "postgresql" or connection.scalar(text("SELECT to_regclass('survey_response')")) is None:
        return False
    return connection.scalar(text(
        "SELECT 1 FROM pg_constraint WHERE conrelid = 'survey_response'::regclass AND contype = 'f' "
        "AND confrelid::regclass::text IN ('survey_household', 'survey', 'unit', 'project') LIMIT 1")) is None


def sync_survey_keys(connection: Connection) -> None:
    """The functions (as written here) and the triggers in place where the key is held by them. Idempotent."""
    if not held_by_triggers(connection):
        return
    for sql in FUNCTIONS.values():
        connection.execute(text(sql))
    present = set(connection.execute(text(
        "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgrelid IN "
        "('survey_response'::regclass, 'survey_household'::regclass)")).all())
    for (table, name), body in TRIGGERS.items():
        if (table, name) not in present:
            connection.execute(text(f"CREATE TRIGGER {name} {body}"))

