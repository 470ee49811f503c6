"""Totals kept by the database, so that the home page, the KPIs and the monthly scores read a few rows instead of
a branch's 1.2 M bills, 100,000 survey forms or a month's 100,000 score events:

- ``bill_total`` (``fees.BillTotal``): 应收, 实收 and 欠费 per project, 账期 and due date;
- ``survey_answer_tally`` (``surveys.SurveyAnswerTally``): per survey, how many forms gave each score to each
  department and to 总体满意度;
- ``survey_household_tally`` (``surveys.SurveyHouseholdTally``): per survey, households surveyed, by collected;
- ``score_total`` (``scoring.ScoreTotal``): per project, month, employee and rule, the score events' points and count;
- and a count kept on each row of another table (:class:`KeptCount`): ``work_order.callbacks``, the order's callback
  visits, which 回访率 reads with the month's closed orders from one index instead of probing the visits per order.

Every write to the source table — an action's ORM flush, billing's INSERT … SELECT of a month, an import's
COPY, a migration — adds its change to the rows it touches, in the writing transaction: on PostgreSQL one
statement-level trigger per event, over the statement's transition tables (a month of 100,000 bills is one
grouped upsert, not 100,000); on SQLite row triggers (it has no other kind), lifted around an import's bulk
write (:meth:`Kept.in_bulk`), as PostgreSQL's stand aside where the import adds the figures it holds. A statement that leaves a row's figures unchanged (a new 责任收费员, a payer
linked) does not touch it, so such writes take no lock on it; two payments of one project's month wait for each
other's commit on that row, which keeps the sum exact.

Like SQLite's search tables (``models.search``), the triggers are put in place by :func:`sync_totals`, which the
migration environment runs after every upgrade (a batch ALTER on SQLite drops a table's triggers); whenever a
table's triggers had to be made, its totals are recounted from the source. MariaDB (schema only) gets none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, inspect, text

from .fees import BillStatus
from .service import CALLBACK_KINDS
from .surveys import SCORE_COLUMNS, SurveyAnswerTally

# A transaction-local setting naming the total whose PostgreSQL trigger stands aside for the statement being
# written: its writer adds what it wrote itself (``Kept.in_bulk``).
WRITER_COUNTS = "wuye.writer_counts"


@dataclass(frozen=True)
class Part:
    """What one source row adds to one total row: its key and figures as SQL over the row (``{r}``), when
    ``when`` holds."""

    keys: tuple[str, ...]
    figures: tuple[str, ...]
    when: str = "1 = 1"
    sqlite_keys: tuple[str, ...] | None = None  # where SQLite spells a key otherwise (a date's month)

    def over(self, row: str, sign: str, dialect: str = "postgresql") -> tuple[list[str], list[str], str]:
        keys = self.sqlite_keys if dialect == "sqlite" and self.sqlite_keys else self.keys
        return ([k.format(r=row) for k in keys], [f"{sign}({x.format(r=row)})" for x in self.figures],
                self.when.format(r=row))


class Triggers:
    """What :class:`Kept` and :class:`KeptCount` share: the triggers on ``source`` that keep their figures, named
    after ``prefix``, and :meth:`sync`, which puts them in place."""

    source: str
    watched: tuple[str, ...]  # the source's columns the figures read (SQLite's UPDATE OF)
    guard = ""  # PL/pgSQL the function runs first

    @property
    def prefix(self) -> str:
        raise NotImplementedError

    def grouped(self, rows: dict[str, int]) -> str:
        """SQL adding the changes of ``rows`` (table or transition table → +1/-1)."""
        raise NotImplementedError

    def _sqlite_add(self, row: str, sign: str) -> str:
        """SQL adding what one source row (``new``/``old``) counts, signed."""
        raise NotImplementedError

    def kept_here(self, connection: Connection) -> bool:
        """Whether the database holds what is kept (not below its revision)."""
        raise NotImplementedError

    def recount(self, connection: Connection) -> None:
        """Everything kept counted again from the source."""
        raise NotImplementedError

    def pg_function(self) -> str:
        return f"""
CREATE OR REPLACE FUNCTION {self.prefix}_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{self.guard}
    IF TG_OP = 'INSERT' THEN
        {self.grouped({"new_rows": 1})};
    ELSIF TG_OP = 'UPDATE' THEN
        {self.grouped({"new_rows": 1, "old_rows": -1})};
    ELSE
        {self.grouped({"old_rows": -1})};
    END IF;
    RETURN NULL;
END $$"""

    def pg_triggers(self) -> dict[str, str]:
        tables = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                  "delete": "OLD TABLE AS old_rows"}
        return {f"{self.prefix}_{event}": (
            f"CREATE TRIGGER {self.prefix}_{event} AFTER {event.upper()} ON {self.source} REFERENCING {refs} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {self.prefix}_keep()") for event, refs in tables.items()}

    def sqlite_triggers(self) -> dict[str, str]:
        t, s = self.prefix, self.source
        return {
            f"{t}_insert": f"CREATE TRIGGER {t}_insert AFTER INSERT ON {s} BEGIN {self._sqlite_add('new', '')} END",
            f"{t}_update": (f"CREATE TRIGGER {t}_update AFTER UPDATE OF {', '.join(self.watched)} ON {s} "
                            f"BEGIN {self._sqlite_add('old', '-')} {self._sqlite_add('new', '')} END"),
            f"{t}_delete": f"CREATE TRIGGER {t}_delete AFTER DELETE ON {s} BEGIN {self._sqlite_add('old', '-')} END",
        }

    def sync(self, connection: Connection) -> None:
        """The triggers in place (the function's body as written here), and everything kept recounted if any had
        to be made. Nothing where it is not kept yet (below its revision)."""
        if not self.kept_here(connection):
            return
        if connection.dialect.name == "postgresql":
            connection.execute(text(self.pg_function()))
            present = set(connection.scalars(
                text(f"SELECT tgname FROM pg_trigger WHERE tgrelid = '{self.source}'::regclass")))
            triggers = self.pg_triggers()
        else:
            # a trigger whose SQL this code writes otherwise is made again (SQLite keeps each as it was created)
            triggers = self.sqlite_triggers()
            present = {name for name, sql in connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")) if triggers.get(name) == sql}
        missing = [name for name in triggers if name not in present]
        for name in missing:
            if connection.dialect.name == "sqlite":
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            connection.execute(text(triggers[name]))
        if missing:
            self.recount(connection)


@dataclass(frozen=True)
class Kept(Triggers):
    target: str
    source: str
    key: tuple[str, ...]  # the target's key columns
    figures: tuple[str, ...]  # the target's figure columns, added to
    parts: tuple[Part, ...]
    watched: tuple[str, ...]  # the source's columns the parts read (SQLite's UPDATE OF)

    @property
    def add(self) -> str:
        return (f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET "
                + ", ".join(f"{f} = {self.target}.{f} + excluded.{f}" for f in self.figures))

    def grouped(self, rows: dict[str, int], dialect: str = "postgresql") -> str:
        """One upsert of the changes of ``rows`` (table or transition table → +1/-1) added up per key; keys in
        order, so two statements lock the rows they share in the same order; all-zero changes left out."""
        selects = []
        for table, sign in rows.items():
            for part in self.parts:
                keys, figures, when = part.over("r", "", dialect)
                columns = [f"{k} AS k{i}" for i, k in enumerate(keys)] + [
                    f"{sign} * {x} AS f{i}" for i, x in enumerate(figures)]
                selects.append(f"SELECT {', '.join(columns)} FROM {table} r WHERE {when}")
        ks = [f"k{i}" for i in range(len(self.key))]
        sums = [f"sum(f{i})" for i in range(len(self.figures))]
        held = f" WHERE {self._held([f'd.k{i}' for i in range(len(self.key))])}" if all(sign < 0 for sign in rows.values()) else ""
        return (f"INSERT INTO {self.target} ({', '.join(self.key + self.figures)}) "
                f"SELECT {', '.join(ks + sums)} FROM ({' UNION ALL '.join(selects)}) d{held} GROUP BY {', '.join(ks)} "
                f"HAVING {' OR '.join(f'{s} <> 0' for s in sums)} ORDER BY {', '.join(ks)} {self.add}")

    def _held(self, keys: list[str]) -> str:
        """SQL: the total row of ``keys`` (SQL, one for each key column) exists.

        Rows only taken away (a delete) change totals that exist: one gone already went with its parent — a
        survey deleted takes its tally rows and its households, whose −1 would otherwise be written as a new
        row naming a survey no longer there (refused by the tally's foreign key, so the survey could not be
        deleted)."""
        return (f"EXISTS (SELECT 1 FROM {self.target} t WHERE "
                + " AND ".join(f"t.{k} = {v}" for k, v in zip(self.key, keys, strict=True)) + ")")

    def _sqlite_add(self, row: str, sign: str) -> str:
        out = []
        for part in self.parts:
            keys, figures, when = part.over(row, sign, "sqlite")
            if sign:
                when = f"{when} AND {self._held(keys)}"
            out.append(f"INSERT INTO {self.target} ({', '.join(self.key + self.figures)}) "
                       f"SELECT {', '.join(keys + figures)} WHERE {when} {self.add};")
        return " ".join(out)

    @property
    def prefix(self) -> str:
        return self.target

    @property
    def guard(self) -> str:  # type: ignore[override]
        return f"""
    IF current_setting('{WRITER_COUNTS}', true) = '{self.target}' THEN
        RETURN NULL;  -- the writing statement's figures are added by its writer (Kept.in_bulk)
    END IF;"""

    def kept_here(self, connection: Connection) -> bool:
        if connection.dialect.name == "postgresql":
            return connection.scalar(text(f"SELECT to_regclass('{self.target}')")) is not None
        return connection.scalar(text(f"SELECT name FROM sqlite_master WHERE name = '{self.target}'")) is not None

    def recount(self, connection: Connection) -> None:
        connection.execute(text(f"DELETE FROM {self.target}"))
        connection.execute(text(self.grouped({self.source: 1}, connection.dialect.name)))

    def add_counted(self, connection: Connection, totals: dict[tuple, tuple]) -> None:
        """Add ``totals`` (key → figures, counted by the caller from rows it holds) in one executemany upsert,
        keys in order as ``grouped`` does; all-zero figures left out."""
        columns = self.key + self.figures
        rows = [dict(zip(columns, (*key, *figures), strict=True))
                for key, figures in sorted(totals.items()) if any(figures)]
        if rows:
            connection.execute(text(f"INSERT INTO {self.target} ({', '.join(columns)}) "
                                    f"VALUES ({', '.join(':' + c for c in columns)}) {self.add}"), rows)

    @contextlib.contextmanager
    def in_bulk(self, connection: Connection, where: str,
                counted: Callable[[], dict[tuple, tuple]] | None = None) -> Iterator[None]:
        """Around one write of many source rows — those ``where`` (SQL over the source's columns) selects, the same
        set before and after the write: the rows' figures taken off before it and added after it, once, instead of
        by the triggers — all in the writing transaction, so no one sees the totals without them and a rollback
        restores everything.

        ``counted``, where the caller holds every row ``where`` selects after the write (a new batch's rows), gives
        their figures by key: added as they are rather than read back (7 index scans and a sort of 700,000 rows
        for 100,000 forms: 1.75 s). On SQLite the row triggers (several upserts per row: 7 s for 100,000 survey
        forms) are lifted for the block; on PostgreSQL the statement trigger already groups the write, so only with
        ``counted`` does it stand aside — by a transaction-local setting its function reads, not by dropping it
        (that would lock the table against every reader until commit)."""
        if connection.dialect.name == "postgresql" and counted is None:
            yield
            return
        rows = f"(SELECT * FROM {self.source} WHERE {where})"
        with self._aside(connection) as aside:
            if aside:
                connection.execute(text(self.grouped({rows: -1}, connection.dialect.name)))
            yield
        if not aside:
            return
        if counted is None:
            connection.execute(text(self.grouped({rows: 1}, connection.dialect.name)))
        else:
            self.add_counted(connection, counted())

    @contextlib.contextmanager
    def changed_by(self, connection: Connection, change: Callable[[], dict[tuple, tuple]]) -> Iterator[None]:
        """Around one write whose change to the totals its writer counts itself: ``change()`` (key → figures to add,
        negative for what the write took away) is added after it, in place of the triggers — nothing of the
        source is read, before or after (``in_bulk`` reads the rows' figures before the write: for 100,000
        households marked 已回收 on PostgreSQL 0.37 s of the server's CPU)."""
        with self._aside(connection) as aside:
            yield
        if aside:
            self.add_counted(connection, change())

    @contextlib.contextmanager
    def inserted(self, connection: Connection) -> Iterator[None]:
        """Around one INSERT of many source rows: on SQLite its row triggers (an upsert per row) lifted for it and
        the rows added in one grouped upsert after it — those above the highest id before it, SQLite's one writer
        letting no one else insert meanwhile — in the writing transaction. PostgreSQL's statement trigger already
        adds the insert in one grouped upsert: nothing changes there."""
        if connection.dialect.name != "sqlite":
            yield
            return
        before = int(connection.scalar(text(f"SELECT coalesce(max(id), 0) FROM {self.source}")))
        with self._aside(connection) as aside:
            yield
        if aside:
            connection.execute(text(self.grouped({f"(SELECT * FROM {self.source} WHERE id > {before})": 1}, "sqlite")))

    @contextlib.contextmanager
    def _aside(self, connection: Connection) -> Iterator[bool]:
        """The triggers out of the way for the block: lifted on SQLite, standing aside on PostgreSQL. Yields
        whether they were (not on SQLite where the schema was made without them, nor on MariaDB)."""
        dialect = connection.dialect.name
        triggers: dict[str, str] = {}
        if dialect == "sqlite":
            present = set(connection.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :source"), {"source": self.source}))
            triggers = {name: sql for name, sql in self.sqlite_triggers().items() if name in present}
            aside = bool(triggers)  # none: not kept here (a schema made without its revision)
        else:
            aside = dialect == "postgresql"
        if not aside:
            yield False
            return
        if dialect == "sqlite":
            for name in triggers:
                connection.execute(text(f"DROP TRIGGER {name}"))
        else:
            connection.execute(text("SELECT set_config(:name, :target, true)"),
                               {"name": WRITER_COUNTS, "target": self.target})
        yield True
        if dialect == "sqlite":
            for sql in triggers.values():
                connection.execute(text(sql))
        else:
            connection.execute(text("SELECT set_config(:name, '', true)"), {"name": WRITER_COUNTS})

WAIVED = f"'{BillStatus.WAIVED.value}'"
OPEN = f"('{BillStatus.UNPAID.value}', '{BillStatus.PARTIAL.value}')"
BILL_TOTAL = Kept(
    "bill_total", "bill", ("project_id", "period", "due_date"), ("amount_due", "amount_paid", "owed"),
    (Part(("{r}.project_id", "{r}.period", "{r}.due_date"), (
        f"CASE WHEN {{r}}.status <> {WAIVED} THEN {{r}}.amount_due ELSE 0 END",
        f"CASE WHEN {{r}}.status <> {WAIVED} THEN {{r}}.amount_paid ELSE 0 END",
        f"CASE WHEN {{r}}.status IN {OPEN} THEN {{r}}.amount_due - {{r}}.amount_paid ELSE 0 END")),),
    ("project_id", "period", "due_date", "status", "amount_due", "amount_paid"),
)
# survey_answer_tally.question: a department's SurveyTopic value, or 总体满意度's
_QUESTIONS = {**{topic.value: column for topic, column in SCORE_COLUMNS.items()},
              SurveyAnswerTally.OVERALL: "overall_score"}
SURVEY_ANSWER_TALLY = Kept(
    "survey_answer_tally", "survey_response", ("survey_id", "question", "score"), ("forms",),
    tuple(Part(("{r}.survey_id", f"'{question}'", f"{{r}}.{column}"), ("1",), f"{{r}}.{column} IS NOT NULL")
          for question, column in _QUESTIONS.items()),
    ("survey_id", *_QUESTIONS.values()),
)
SURVEY_HOUSEHOLD_TALLY = Kept(
    "survey_household_tally", "survey_household", ("survey_id", "collected"), ("households",),
    (Part(("{r}.survey_id", "{r}.collected"), ("1",)),),
    ("survey_id", "collected"),
)
# score_total: an event's month, as actions.kernel.periods.period_of gives it
SCORE_TOTAL = Kept(
    "score_total", "score_event", ("project_id", "month", "staff_id", "rule_id"), ("points", "events"),
    (Part(("{r}.project_id", "to_char({r}.event_date, 'YYYY-MM')", "{r}.staff_id", "{r}.rule_id"),
          ("{r}.points", "1"),
          sqlite_keys=("{r}.project_id", "strftime('%Y-%m', {r}.event_date)", "{r}.staff_id", "{r}.rule_id")),),
    ("project_id", "event_date", "staff_id", "rule_id", "points"),
)
KEPT = (BILL_TOTAL, SURVEY_ANSWER_TALLY, SURVEY_HOUSEHOLD_TALLY, SCORE_TOTAL)


@dataclass(frozen=True)
class KeptCount(Triggers):
    """A count kept on each row of ``target``: how many rows of ``source`` point at it by ``link`` and satisfy
    ``when`` (SQL over a source row ``{r}``). The same triggers as :class:`Kept` — statement-level over the
    transition tables on PostgreSQL (one grouped UPDATE a statement, rows in id order), row triggers on SQLite —
    adding each write's change to the rows it points at; a statement that changes no count touches no row."""

    target: str
    column: str
    source: str
    link: str
    when: str
    watched: tuple[str, ...]

    @property
    def prefix(self) -> str:
        return f"{self.target}_{self.column}"

    def _changes(self, rows: dict[str, int]) -> str:
        """(id, change) per target row of the rows of ``rows`` (table → +1/-1), all-zero changes left out."""
        selects = " UNION ALL ".join(
            f"SELECT r.{self.link} AS id, {sign} AS n FROM {table} r "
            f"WHERE r.{self.link} IS NOT NULL AND {self.when.format(r='r')}" for table, sign in rows.items())
        return f"SELECT id, sum(n) AS n FROM ({selects}) d GROUP BY id HAVING sum(n) <> 0"

    def grouped(self, rows: dict[str, int]) -> str:
        """The changes of ``rows`` added; the rows locked first in id order, so two statements that touch the same
        orders wait for each other rather than deadlock."""
        changes = self._changes(rows)
        return (f"PERFORM 1 FROM {self.target} WHERE id IN (SELECT id FROM ({changes}) o) ORDER BY id FOR UPDATE; "
                f"UPDATE {self.target} t SET {self.column} = t.{self.column} + c.n FROM ({changes}) c WHERE t.id = c.id")

    def _sqlite_add(self, row: str, sign: str) -> str:
        return (f"UPDATE {self.target} SET {self.column} = {self.column} {sign or '+'} 1 WHERE id = {row}.{self.link} "
                f"AND {self.when.format(r=row)};")

    def recount(self, connection: Connection) -> None:
        """Every target row's count from the source."""
        counted = (f"SELECT {self.link} AS id, count(*) AS n FROM {self.source} r "
                   f"WHERE {self.link} IS NOT NULL AND {self.when.format(r='r')} GROUP BY {self.link}")
        connection.execute(text(f"UPDATE {self.target} SET {self.column} = 0 WHERE {self.column} <> 0"))
        connection.execute(text(f"UPDATE {self.target} SET {self.column} = c.n FROM ({counted}) c "
                                f"WHERE {self.target}.id = c.id"))

    def kept_here(self, connection: Connection) -> bool:
        schema = inspect(connection)
        return schema.has_table(self.target) and self.column in {c["name"] for c in schema.get_columns(self.target)}


# work_order.callbacks: the order's callback visits (回访率 counts the orders closed in a month with one)
CALLBACKS = KeptCount(
    "work_order", "callbacks", "visit", "work_order_id",
    "{r}.kind IN (" + ", ".join(f"'{kind.value}'" for kind in CALLBACK_KINDS) + ")",
    ("work_order_id", "kind"),
)
COUNTS = (CALLBACKS,)


MARK_TABLE = "project_mark"


@dataclass(frozen=True)
class Marked(Triggers):
    """``project_mark.version`` (``imports.ProjectMark``) moved by every write to ``source``, for the project its
    ``key`` column names (old and new row): on PostgreSQL one statement trigger per event, one upsert of the
    statement's projects in id order; on SQLite row triggers, lifted around an import's bulk insert
    (:meth:`lifted`), which moves each project it wrote to once instead. The version only grows: whoever kept one
    knows nothing was written to the project's records while it still holds. The cost: a write to a project's
    records locks its row until commit (PostgreSQL), so two transactions writing one project's units or customers
    take turns, as two payments of one project's month do on its ``bill_total`` row."""

    source: str
    key: str = "project_id"
    # (table, its column the source row points at it by): whose project's version moves too — a link names its
    # customer, whose project's check reads it, whatever project the link itself names
    via: tuple[tuple[str, str], ...] = ()

    @property
    def prefix(self) -> str:
        return f"{MARK_TABLE}_{self.source}"

    @property
    def watched(self) -> tuple[str, ...]:  # type: ignore[override]
        return ()

    def grouped(self, rows: dict[str, int]) -> str:
        projects = " UNION ".join(
            [f"SELECT {self.key} AS k FROM {table}" for table in rows]
            + [f"SELECT o.project_id FROM {table} r JOIN {other} o ON o.id = r.{link}"
               for table in rows for other, link in self.via])
        return (f"INSERT INTO {MARK_TABLE} (project_id, source, version) SELECT DISTINCT k, '{self.source}', 1 "
                f"FROM ({projects}) d WHERE k IS NOT NULL ORDER BY k {self._bump}")

    @property
    def _bump(self) -> str:
        return f"ON CONFLICT (project_id, source) DO UPDATE SET version = {MARK_TABLE}.version + 1"

    def _sqlite_add(self, row: str, sign: str) -> str:
        bump = f" {self._bump};"
        return (f"INSERT INTO {MARK_TABLE} (project_id, source, version) SELECT {row}.{self.key}, '{self.source}', 1 "
                f"WHERE {row}.{self.key} IS NOT NULL{bump}" + "".join(
                    f" INSERT INTO {MARK_TABLE} (project_id, source, version) SELECT project_id, '{self.source}', 1 FROM {other} "
                    f"WHERE id = {row}.{link} AND project_id IS DISTINCT FROM {row}.{self.key}{bump}"
                    for other, link in self.via))

    def sqlite_triggers(self) -> dict[str, str]:
        t, s = self.prefix, self.source
        return {  # any column: what an import compares is any of them
            f"{t}_insert": f"CREATE TRIGGER {t}_insert AFTER INSERT ON {s} BEGIN {self._sqlite_add('new', '')} END",
            f"{t}_update": (f"CREATE TRIGGER {t}_update AFTER UPDATE ON {s} "
                            f"BEGIN {self._sqlite_add('old', '')} {self._sqlite_add('new', '')} END"),
            f"{t}_delete": f"CREATE TRIGGER {t}_delete AFTER DELETE ON {s} BEGIN {self._sqlite_add('old', '')} END",
        }

    def kept_here(self, connection: Connection) -> bool:
        return inspect(connection).has_table(MARK_TABLE)

    def recount(self, connection: Connection) -> None:
        """Writes made while the triggers were missing went unmarked: every project's version of ``source`` moves."""
        connection.execute(text(
            f"INSERT INTO {MARK_TABLE} (project_id, source, version) SELECT id, '{self.source}', 1 FROM project "
            f"WHERE true {self._bump}"))

    @contextlib.contextmanager
    def lifted(self, connection: Connection, projects: Iterable[int]) -> Iterator[None]:
        """Around one bulk insert into ``source`` of rows of ``projects``: on SQLite the row triggers (an upsert per
        row) lifted and each project's version moved once after it, in the writing transaction; PostgreSQL's
        statement trigger already moves them once per statement."""
        present: set[str] = set()
        if connection.dialect.name == "sqlite":
            present = set(connection.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :source"), {"source": self.source}))
        triggers = {name: sql for name, sql in self.sqlite_triggers().items() if name in present}
        for name in triggers:
            connection.execute(text(f"DROP TRIGGER {name}"))
        yield
        for sql in triggers.values():
            connection.execute(text(sql))
        if triggers and (ids := sorted(set(projects) - {None})):
            connection.execute(text(
                f"INSERT INTO {MARK_TABLE} (project_id, source, version) VALUES (:p, '{self.source}', 1) {self._bump}"),
                [{"p": p} for p in ids])


# what an import of customers or units is checked against: a project's buildings, units, staff (a unit's 管家 and
# 收费员), customers, their units
PROJECT_MARKS = {table: Marked(table) for table in ("building", "unit", "staff", "customer")}
PROJECT_MARKS["unit_customer"] = Marked("unit_customer", via=(("customer", "customer_id"),))
PROJECT_MARKS["project"] = Marked("project", "id")


def project_marks(connection: Connection, projects: Iterable[int], sources: Iterable[str]) -> dict[str, int]:
    """``"<project id>:<source>"`` (a JSON key) → that version now, for each project and source; 0 for one never
    written."""
    ids, names = sorted(set(projects)), sorted(set(sources))
    held = {(p, t): v for p, t, v in connection.execute(text(
        f"SELECT project_id, source, version FROM {MARK_TABLE} WHERE project_id IN "
        f"({', '.join(str(int(i)) for i in ids) or 'NULL'})")).all()}
    return {f"{p}:{t}": int(held.get((p, t), 0)) for p in ids for t in names}


def sync_totals(connection: Connection) -> None:
    """Every kept table's and kept count's triggers in place (PostgreSQL, SQLite); nothing on MariaDB.
    Idempotent."""
    if connection.dialect.name in ("postgresql", "sqlite"):
        for kept in (*KEPT, *COUNTS, *PROJECT_MARKS.values()):
            kept.sync(connection)
