"""``bill_total`` (``fees.BillTotal``), kept by the database: the home page's and the KPIs' bill figures without
reading a branch's 1.2 M bills on every view.

Every write to ``bill`` — an action's ORM flush, billing's INSERT … SELECT of a month, an import, a migration —
adds its change to the (project, 账期, due date) rows it touches, in the writing transaction: on PostgreSQL one
statement-level trigger per event, over the statement's transition tables (a month of 100,000 bills is one
grouped upsert, not 100,000); on SQLite a row trigger per event (it has no other kind). A row whose figures a
statement leaves unchanged (a new 责任收费员, a payer linked) is not touched, so such writes take no lock on it;
two payments of one project's month wait for each other's commit on that row, which keeps the sum exact.

Like SQLite's search tables (``models.search``), the triggers are put in place by :func:`sync_bill_totals`,
which the migration environment runs after every upgrade (a batch ALTER on SQLite drops a table's triggers);
whenever they had to be made, the totals are recounted from the bills. MariaDB (schema only) gets none.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from .fees import BillStatus

WAIVED = f"'{BillStatus.WAIVED.value}'"
OPEN = f"('{BillStatus.UNPAID.value}', '{BillStatus.PARTIAL.value}')"
KEY = "project_id, period, due_date"
FIGURES = ("amount_due", "amount_paid", "owed")


def _figures(row: str, sign: str = "") -> tuple[str, str, str]:
    """A bill row's share of each figure (``row``: its alias, or ``new``/``old`` in a trigger)."""
    return (f"{sign}CASE WHEN {row}.status <> {WAIVED} THEN {row}.amount_due ELSE 0 END",
            f"{sign}CASE WHEN {row}.status <> {WAIVED} THEN {row}.amount_paid ELSE 0 END",
            f"{sign}CASE WHEN {row}.status IN {OPEN} THEN {row}.amount_due - {row}.amount_paid ELSE 0 END")


_ADD = (f"ON CONFLICT ({KEY}) DO UPDATE SET "
        + ", ".join(f"{f} = bill_total.{f} + excluded.{f}" for f in FIGURES))


def _grouped(source: str) -> str:
    """The upsert of ``source``'s rows (signed bill rows ``b``) added up per key; keys in order, so two
    statements lock the rows they share in the same order; all-zero changes left out."""
    sums = [f"sum({x})" for x in _figures("b", "b.sign * ")]
    return (f"INSERT INTO bill_total ({KEY}, {', '.join(FIGURES)}) "
            f"SELECT {KEY}, {', '.join(sums)} FROM ({source}) b GROUP BY {KEY} "
            f"HAVING {' OR '.join(f'{s} <> 0' for s in sums)} ORDER BY {KEY} {_ADD}")


def _rows(table: str, sign: int) -> str:
    return f"SELECT {sign} AS sign, {KEY}, status, amount_due, amount_paid FROM {table}"


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION bill_total_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_grouped(_rows("new_rows", 1))};
    ELSIF TG_OP = 'UPDATE' THEN
        {_grouped(_rows("new_rows", 1) + " UNION ALL " + _rows("old_rows", -1))};
    ELSE
        {_grouped(_rows("old_rows", -1))};
    END IF;
    RETURN NULL;
END $$
"""
_PG_TRIGGERS = {
    "bill_total_insert": "AFTER INSERT ON bill REFERENCING NEW TABLE AS new_rows",
    "bill_total_update": "AFTER UPDATE ON bill REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "bill_total_delete": "AFTER DELETE ON bill REFERENCING OLD TABLE AS old_rows",
}


def _sqlite_add(row: str, sign: str) -> str:
    return (f"INSERT INTO bill_total ({KEY}, {', '.join(FIGURES)}) VALUES ({row}.project_id, {row}.period, "
            f"{row}.due_date, {', '.join(_figures(row, sign))}) {_ADD};")


_SQLITE_TRIGGERS = {
    "bill_total_insert": f"AFTER INSERT ON bill BEGIN {_sqlite_add('new', '')} END",
    "bill_total_update": (f"AFTER UPDATE OF {KEY}, status, amount_due, amount_paid ON bill "
                          f"BEGIN {_sqlite_add('old', '-')} {_sqlite_add('new', '')} END"),
    "bill_total_delete": f"AFTER DELETE ON bill BEGIN {_sqlite_add('old', '-')} END",
}

RECOUNT = _grouped(_rows("bill", 1))


def sync_bill_totals(connection: Connection) -> None:
    """The triggers in place (the function's body as written here), and the totals recounted if any had to be
    made. Idempotent; nothing where ``bill_total`` does not exist yet (below its revision) or on MariaDB."""
    dialect = connection.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return
    if dialect == "postgresql":
        if connection.scalar(text("SELECT to_regclass('bill_total')")) is None:
            return
        connection.execute(text(_PG_FUNCTION))
        present = set(connection.scalars(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'bill'::regclass")))
        triggers = {name: f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION bill_total_keep()"
                    for name, when in _PG_TRIGGERS.items()}
    else:
        if connection.scalar(text("SELECT name FROM sqlite_master WHERE name = 'bill_total'")) is None:
            return
        present = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        triggers = {name: f"CREATE TRIGGER {name} {when}" for name, when in _SQLITE_TRIGGERS.items()}
    missing = [name for name in triggers if name not in present]
    if not missing:
        return
    for name in missing:
        connection.execute(text(triggers[name]))
    connection.execute(text("DELETE FROM bill_total"))
    connection.execute(text(RECOUNT))
