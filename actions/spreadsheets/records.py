"""Imports that upsert master records by natural key, in the projects the actor may see.

A row names its record by the natural key (a unit by 项目 + 楼栋 + 房号 …) or, in a file exported by the
console, by its 编号. A record not found is 新增; one found is compared column by column with what is stored —
only the columns the file has, cleaned the same way — and is 更新 (listing each change) or 无变化, so an
exported file re-imports unchanged and a corrected one changes only what was corrected. A masked ID or
phone number (``138****5678``, as exports show them to most roles) keeps the stored value.

Without a 项目 column the rows belong to the project chosen for the import (the console's selection, the CLI's
``--project``), to the record's own project when the row has an 编号, or to the actor's only project.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from operator import contains, itemgetter
from typing import Any, ClassVar

from sqlalchemy import Enum, Select, func, select
from sqlalchemy.orm import Session

from models import (
    AuditKind,
    Base,
    BatchStatus,
    Building,
    ImportBatch,
    Project,
    Staff,
    StaffPosition,
    Unit,
    label_of,
)
from models.totals import project_marks

from ..actor import Actor
from ..audit import record_bulk
from ..kernel.posts import post_refusal
from . import clean
from .bulk import insert_columns, update_rows
from .clean import MASKED
from .header import Field
from .pipeline import Importer, Outcome, Row

CHUNK = 1000
# field key → the row value holding its resolved reference (``butler`` → ``butler_id``)
_REFERENCE: dict[str, str] = {}
AUDIT_CHUNK = 5000
_ABSENT = object()  # a field the file has no column for


def standing(rows: Iterable[Row]) -> list[Row]:
    """The rows without an error so far (``Row.ok`` without a property call per row: a file's rows pass
    here several times)."""
    error = Outcome.ERROR
    return [r for r in rows if r.outcome is not error]


def chunks(values: Iterable[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    ordered = sorted(set(values), key=str)
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


def audit(session: Session, model: type[Base], ids: Sequence[int], kind: AuditKind, summary: str,
          columns: Sequence[str] = ()) -> None:
    """One audit row per written record (``record_bulk``) with the values it now holds in ``columns``, in chunks
    the drivers accept."""
    for part in chunks(ids, AUDIT_CHUNK):
        record_bulk(session, kind=kind, table=model.__tablename__, columns=columns,
                    ids=select(model.id, model.project_id).where(model.id.in_(part)), summary=summary)


def written_columns(model: type[Base]) -> list[str]:
    """Every column a new record was given (as the flush hook records an insert), its key aside."""
    return [c.name for c in model.__table__.c if c.name != "id" and c.info.get("audited") is not False]


def audit_updates(session: Session, model: type[Base], rows: Iterable[tuple[int, Iterable[str]]], summary: str) -> None:
    """Audit rows of updated records, each with the columns it changed: ``rows`` are (id, changed columns), one
    statement per set of changed columns (a file changes a few sets: 电话 here, 电话 and 备注 there)."""
    by_columns: dict[tuple[str, ...], list[int]] = {}
    for record_id, columns in rows:
        by_columns.setdefault(tuple(sorted(set(columns))), []).append(record_id)
    for columns, ids in by_columns.items():
        audit(session, model, ids, AuditKind.UPDATE, summary, columns)


class RecordImporter(Importer):
    model: ClassVar[type[Base]]
    # field key → the model column it writes (references resolve to an id first).
    columns: ClassVar[dict[str, str]] = {}
    # Fields a new record cannot do without, besides the required ones (an update may leave them out).
    needed_for_new: ClassVar[tuple[str, ...]] = ()
    # Fields whose blank cell keeps the stored value of an existing record though the column may hold '' (a
    # customer's 手机号 and 身份证号, which identify him: a file that lacks one does not erase it).
    kept_when_blank: ClassVar[frozenset[str]] = frozenset()
    # Every table the check reads, each moving its project's ``ProjectMark`` (models.totals): then the same file
    # previewed again after its import, none of them written in its projects since, is not compared row by row.
    marked: ClassVar[tuple[str, ...]] = ()
    _head: dict[int, dict[str, Any]] | None = None  # what ``recognise`` checked already

    def __init__(self, session: Session, actor: Actor, *, project_id: int | None = None) -> None:
        super().__init__(session, actor)
        self.default_project = project_id
        self.stored: dict[int, dict[str, Any]] = {}  # id → the stored values of ``columns``
        self._fields = (
            Field("id", label_of(self.model, "id"), clean.integer(1), note="由系统导出的文件带有编号；新增记录留空"),
            Field("project", label_of(self.model, "project"), clean.text(64), variants=("项目名称", "小区", "小区名称"),
                  note="不填时为导入时选择的项目", example=None),
            *self.own_fields(),
        )

    # --- declared by each kind -----------------------------------------------------------------------
    def own_fields(self) -> tuple[Field, ...]:
        raise NotImplementedError

    def resolve(self, rows: list[Row]) -> None:
        """Turn names into ids (one query per kind of reference); fail the rows whose references are unknown."""

    def pii(self) -> dict[str, str]:
        table = self.model.__table__
        return {key: kind for key, column in self.columns.items() if (kind := table.c[column].info.get("pii"))}

    def find(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        """``id(row)`` → the stored record (``id`` and ``columns``) of the rows found by natural key."""
        raise NotImplementedError

    def write_new(self, rows: list[Row], batch: ImportBatch) -> list[int]:
        """Insert the new records; return their ids."""
        columns = ["project_id", *self.columns.values()]
        return [i for (i,) in insert_columns(self.session, self.model.__table__, columns, self.new_columns(rows),
                                             returning=["id"])]

    def after_write(self, new: list[Row], updated: list[Row], batch: ImportBatch) -> dict[str, int]:
        return {}

    # --- the common path -----------------------------------------------------------------------------
    def fields(self) -> tuple[Field, ...]:
        return self._fields

    def target(self) -> str:
        return f"project:{self.default_project}" if self.default_project else "all"

    def project_id(self) -> int | None:
        return self.default_project

    def recognise(self, rows: list[Row]) -> bool:
        if not self.marked or self.previous is None or self.previous.status is not BatchStatus.DONE:
            return False
        self._head = self._head_check(rows)
        return self._as_imported(rows)

    def _head_check(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        """The rows' 编号 and 项目 checked, each row given its project; the records named by 编号."""
        rows = standing(rows)
        by_id = self._by_id(rows)
        self._projects(rows, by_id)
        return by_id

    def check(self, rows: list[Row]) -> None:
        by_id = self._head if self._head is not None else self._head_check(rows)
        rows = standing(rows)
        self.resolve(rows)
        rows = standing(rows)
        found = self.find([r for r in rows if r.values.get("id") is None])
        compare, error = self.compare, Outcome.ERROR
        # Where the kind compares as every kind does, the rows of new records are checked together (a new project's
        # file is all new rows): no call per row.
        together = type(self).compare is RecordImporter.compare
        if together and not found and not by_id:
            self._new(rows)  # nothing found (a new project's file): every row a new record, not walked here
            return
        new = []
        for row in rows:
            if row.outcome is error:
                continue
            record_id = row.values.get("id")
            stored = found.get(id(row)) if record_id is None else by_id.get(record_id)
            if stored is None and together:
                new.append(row)
            else:
                compare(row, stored)
        self._new(new)

    def marks(self, rows: list[Row]) -> dict[str, int] | None:
        return self.marks_of({r.values["project_id"] for r in standing(rows)})

    def marks_of(self, projects: set[int]) -> dict[str, int] | None:
        if not self.marked:
            return None
        self.session.flush()
        return project_marks(self.session.connection(), projects, self.marked)

    def _as_imported(self, rows: list[Row]) -> bool:
        """The same file as a batch that imported it, every row standing, and no write to the rows' projects'
        records since (their ``ProjectMark`` versions as the batch's write left them): the rows are as that import
        left them — each 无变化 — without reading and comparing them (issue 17). Anything else: False, and the rows
        are checked one by one."""
        previous = self.previous
        if not previous.marks or any(r.outcome is not Outcome.NEW or r.problems for r in rows):
            return False
        projects = {r.values["project_id"] for r in rows}
        if project_marks(self.session.connection(), projects, self.marked) != previous.marks or not self.as_imported(rows):
            return False
        unchanged = Outcome.UNCHANGED
        for row in rows:
            row.outcome = unchanged
        return True

    def as_imported(self, rows: list[Row]) -> bool:
        """What the check would have set on the rows that the preview shows (a unit's 楼栋 and 房号 from its
        one 房屋 cell); False where it cannot be told without the whole check."""
        return True

    def _by_id(self, rows: list[Row]) -> dict[int, dict[str, Any]]:
        wanted = [r.values["id"] for r in rows if r.values.get("id") is not None]
        table = self.model.__table__
        stored: dict[int, dict[str, Any]] = {}
        for part in chunks(wanted):
            for rec in self.session.execute(select(table).where(table.c.id.in_(part))).mappings():
                stored[rec["id"]] = dict(rec)
        label = self.label("id")
        for row in rows:
            record_id = row.values.get("id")
            if record_id is None:
                continue
            rec = stored.get(record_id)
            if rec is None or not self.actor.can_see(rec["project_id"]):
                row.fail(label, record_id, f"{record_id} 不存在或无权访问")
        return stored

    def _named_projects(self, names: set[str]) -> dict[str, tuple[int | None, str | None]]:
        """Each project name → (its id, None), or (None, why a row naming it is refused)."""
        known = dict(self.session.execute(select(Project.name, Project.id).where(Project.name.in_(sorted(names)))).all()) if names else {}
        named: dict[str, tuple[int | None, str | None]] = {}
        for name in names:
            project_id = known.get(name)
            if project_id is None:
                named[name] = None, f"{name} 不存在"
            elif not self.actor.can_see(project_id):
                named[name] = None, f"无权导入项目“{name}”的数据"
            elif self.default_project is not None and project_id != self.default_project:
                named[name] = None, f"{name} 不是导入时选择的项目"
            else:
                named[name] = project_id, None
        return named

    def _only_project(self) -> int | None:
        """The actor's one project, where the actor has one."""
        return next(iter(self.actor.project_ids)) if self.actor.project_ids and len(self.actor.project_ids) == 1 else None

    def project_of_columns(self, values: dict[str, list[Any]]) -> int | None:
        """The one project every row of a columnar file (:meth:`check_columns`) belongs to, as :meth:`_projects`
        gives each row its own; None where the rows name a 编号, a project refused, or more than one project, or
        where one without a 项目 has none (those are left to the rows' check)."""
        if any(v is not None for v in values.get("id", ())):
            return None
        column = values.get("project", ())
        names = set(column)
        projects = {project_id for project_id, _ in self._named_projects({n for n in names if n}).values()}
        if any(not n for n in names) or not column:
            projects.add(self.default_project or self._only_project())
        return projects.pop() if len(projects) == 1 and None not in projects else None

    def _projects(self, rows: list[Row], by_id: dict[int, dict[str, Any]]) -> None:
        names = {r.values["project"] for r in rows if r.values.get("project")}
        only = self._only_project()
        label = self.label("project")
        # Every row naming a project gets the same verdict: worked out once per name, not once per row.
        named = self._named_projects(names)
        error = Outcome.ERROR
        for row in rows:
            if row.outcome is error:
                continue
            values = row.values
            name = values.get("project")
            record_id = values.get("id")
            record = None if record_id is None else by_id.get(record_id)
            if name:
                project_id, problem = named[name]
                if problem is not None:
                    row.fail(label, name, problem)
                    continue
            else:
                project_id = self.default_project or (record["project_id"] if record else None) or only
                if project_id is None:
                    row.fail(label, "", "为空：请填写项目，或在导入时选择项目")
                    continue
            if record is not None and record["project_id"] != project_id:
                row.fail(self.label("id"), record_id, f"{record_id} 不属于该项目")
                continue
            values["project_id"] = project_id

    def _new(self, rows: list[Row]) -> None:
        """The rows of records not found: 新增, unless a field a new record needs is empty or masked."""
        for key in self.needed_for_new:
            label = self.label(key)
            for row in rows:
                if row.values.get(key) is None:
                    row.fail(label, "", "为空（新增记录必填）")
        for row in rows:
            if MASKED in row.values.values():  # one pass in C
                for key, value in row.values.items():
                    if value is MASKED:
                        row.fail(self.label(key), value, "已打码：新增记录须填写完整")
        new, error = Outcome.NEW, Outcome.ERROR
        for row in rows:
            if row.outcome is not error:
                row.outcome = new

    def compare(self, row: Row, stored: dict[str, Any] | None) -> None:
        if stored is None:
            self._new([row])
            return
        row.target_id = stored["id"]
        self.stored[stored["id"]] = stored
        changes = {}
        values = row.values
        for key, column, ref, clearable in self._compared:
            new = values.get(key, _ABSENT)
            if new is _ABSENT or new is MASKED:
                continue
            if ref in values:
                new = values[ref]
            old = stored[column]
            if new is None:
                if not clearable:
                    continue  # an empty cell leaves a required value as it is
            elif old == new:  # a cleaned value cleans to itself: an unchanged cell costs one comparison
                continue
            if not self.same(key, old, new):
                changes[key] = (self.shown_stored(key, old), values[key])
        row.changes = changes
        row.outcome = Outcome.UPDATE if changes else Outcome.UNCHANGED

    @functools.cached_property
    def _compared(self) -> list[tuple[str, str, str, bool]]:
        """(field key, column, the key of its resolved reference, whether a blank cell clears it) of each column
        a row is compared on: worked out once, not once per cell."""
        return [(key, column, f"{key}_id", key in self._blanks) for key, column in self.columns.items()]

    def file_value(self, row: Row, key: str) -> Any:
        """The value to store for ``key``: a reference's resolved id (``<key>_id``), else the cleaned cell."""
        values = row.values
        ref = _REFERENCE.get(key) or _REFERENCE.setdefault(key, f"{key}_id")
        return values[ref] if ref in values else values.get(key)

    def updated_value(self, row: Row, key: str) -> Any:
        """The value an existing record is given for ``key``: the file's, or what its blank cell stores there."""
        value = self.file_value(row, key)
        return self._blanks.get(key) if value is None else value

    def new_columns(self, rows: list[Row]) -> list[list[Any]]:
        """The values of new records column by column — project, then each of ``columns`` — a blank as the column's
        default: a 100,000-row file would otherwise cost a few method calls per cell, and a tuple per row."""
        values = [r.values for r in rows]
        columns = [list(map(itemgetter("project_id"), values))]
        for key in self.columns:
            ref, default = f"{key}_id", self._defaults.get(key)
            # the cells taken and the references looked for in C loops; rows walked only where one holds a reference
            column = list(map(dict.get, values, repeat(key)))
            if any(map(contains, values, repeat(ref))):
                column = [v[ref] if ref in v else x for v, x in zip(values, column, strict=True)]
            columns.append(column if default is None or None not in column else [default if x is None else x for x in column])
        return columns

    def new_value(self, row: Row, key: str) -> Any:
        value = self.file_value(row, key)
        return self._defaults.get(key) if value is None else value

    @functools.cached_property
    def _defaults(self) -> dict[str, Any]:
        """Field key → its column's scalar default, looked up once, not once per cell of a new record."""
        table = self.model.__table__
        return {key: d.arg for key, column in self.columns.items()
                if (d := table.c[column].default) is not None and d.is_scalar}

    def shown_stored(self, key: str, value: Any) -> Any:
        return value

    @functools.cached_property
    def _blanks(self) -> dict[str, Any]:
        """Field key → what a blank cell stores in an existing record, for the fields a blank cell may clear: None in
        a column that may be NULL, '' in a NOT NULL text whose own default is '' (no 备注, no 车牌). Any other field —
        a NOT NULL column without such a default (客户类型, 职位, 面积 …) and ``kept_when_blank`` — keeps the stored
        value, as a required field does: NULL would be refused by the database."""
        table, blanks = self.model.__table__, {}
        for key, column in self.columns.items():
            col = table.c[column]
            if key in self.kept_when_blank:
                continue
            if col.nullable:
                blanks[key] = None
            elif not isinstance(col.type, Enum) and getattr(col.default, "arg", None) == "":
                blanks[key] = ""
        return blanks

    def same(self, key: str, old: Any, new: Any) -> bool:
        if new is None:
            return old in (None, "")
        if old == new:  # a cleaned value cleans to itself: an unchanged file costs one comparison a cell
            return True
        if isinstance(old, str):
            field = next(f for f in self._fields if f.key == key)
            return field.clean(old) == new
        if isinstance(old, dt.datetime) and isinstance(new, dt.datetime):
            return abs(old - new) < dt.timedelta(seconds=1)  # a spreadsheet keeps time to the second
        return old == new

    def write(self, rows: list[Row], batch: ImportBatch) -> dict[str, int]:
        new = [r for r in rows if r.outcome is Outcome.NEW]
        updated = [r for r in rows if r.outcome is Outcome.UPDATE]
        title = f"导入{self.title}（批次 #{batch.id}）"
        ids = self.write_new(new, batch)
        audit(self.session, self.model, ids, AuditKind.INSERT, title, written_columns(self.model))
        self.write_updates(updated)
        audit_updates(self.session, self.model, self.changed_columns(updated), title)
        return {"inserted": len(ids), "updated": len(updated), **self.after_write(new, updated, batch)}

    def changed_columns(self, rows: list[Row]) -> list[tuple[int, list[str]]]:
        """(id, the model columns the file changed) of each updated row."""
        return [(r.target_id, [self.columns[k] for k in r.changes or () if k in self.columns]) for r in rows]

    def write_updates(self, rows: list[Row]) -> None:
        # Only the record's own columns (a customer row's changes may include its unit link's).
        changed = sorted({k for r in rows for k in r.changes or () if k in self.columns}, key=list(self.columns).index)
        if not rows:
            return
        values = []
        for row in rows:
            stored = self.stored[row.target_id]
            values.append((row.target_id, *(
                self.updated_value(row, k) if k in (row.changes or {}) else stored[self.columns[k]] for k in changed
            )))
        update_rows(self.session, self.model.__table__, [self.columns[k] for k in changed], values)


def plain_rows(session: Session, stmt: Select) -> list[tuple]:
    """The rows of ``stmt`` as the driver returns them, where no column's type converts what the driver gives (ids,
    text): a whole project's 100,000 units are 0.07 s of SQLite's CPU read so, and 0.17 s as SQLAlchemy rows.
    Any other statement's rows go through SQLAlchemy, converted."""
    result = session.connection().execute(stmt)
    dialect = session.get_bind().dialect
    if any(c.type._cached_result_processor(dialect, None) is not None for c in stmt.selected_columns):
        return result.all()
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


# --- references shared by several kinds --------------------------------------------------------------


class UnitRefs:
    """Units of some projects by 楼栋 + 房号, or by the "楼栋-房号" text a list shows for a unit — compared as
    staff type them (:func:`clean.building_key`, :func:`clean.room_key`: 3号楼 = 3栋 = 3#, 101室 = 101)."""

    def __init__(self, session: Session, project_ids: set[int]) -> None:
        self.session = session
        self.buildings: dict[tuple[int, str], int] = {}  # (project, building key) → building id
        self.names: dict[int, str] = {}  # building id → its stored name
        self.keys: dict[int, str | None] = {}  # building id → its name's building_key, once per building
        for building_id, project_id, name in session.execute(
            select(Building.id, Building.project_id, Building.name).where(Building.project_id.in_(sorted(project_ids)))
        ):
            key = self.keys[building_id] = clean.building_key(name)
            self.buildings.setdefault((project_id, key), building_id)
            self.names[building_id] = name
        self.units: dict[tuple[int, str, str], dict[str, Any]] = {}
        self.collectors: dict[int, int | None] = {}  # unit id → its 责任收费员, of the units :meth:`ids` found
        self._whole: dict[int, dict[tuple[str | None, str | None], int]] = {}  # a project's units, read ahead
        # (project, building key, room key) → the stored units it names, where it names more than one (101 and 0101
        # of one building): a row naming either is refused, not given one of them
        self.ambiguous: dict[tuple[int, str | None, str | None], list[str]] = {}

    def building_id(self, project_id: int, building: str) -> int | None:
        return self.buildings.get((project_id, clean.building_key(building)))

    def split(self, project_id: int, text: str) -> tuple[str, str] | None:
        """"1栋-101" (or "1号楼-101") → ("1栋", "101"): the first reading of :func:`clean.unit_parts` whose
        building is one of the project's — at a dash, else right after a building suffix ("1栋101", "3号楼1303室")."""
        return next(((building, room) for building, room in clean.unit_parts(text)
                     if self.building_id(project_id, building) is not None), None)

    def load(self, keys: Iterable[tuple[int, str, str]]) -> None:
        """Load the units with these (project, 楼栋, 房号) keys, one IN query per thousand room numbers."""
        keys = set(keys)
        typed = {room for _, _, room in keys}  # a file names each room number many times: folded once each
        rooms = _room_spellings(typed)
        projects = sorted({p for p, _, _ in keys})
        for part in chunks(rooms):
            stmt = select(Unit.id, Unit.project_id, Unit.building_id, Unit.room_no, Unit.collector_id).where(
                Unit.project_id.in_(projects), Unit.room_no.in_(part)
            )
            names, keys, units, room_key = self.names, self.keys, self.units, clean.room_key
            # Core rows: a whole project's units pass here, and the ORM's result layer costs more than the read
            for unit_id, project_id, building_id, room, collector_id in self.session.connection().execute(stmt).all():
                key = (project_id, keys[building_id], room_key(room))
                unit = {"id": unit_id, "collector_id": collector_id, "name": f"{names[building_id]}-{room}"}
                if (other := units.setdefault(key, unit)) is not unit and other["id"] != unit_id:
                    self.ambiguous.setdefault(key, [other["name"]]).append(unit["name"])

    def ids(self, project_id: int, buildings: Sequence[Any], rooms: Sequence[Any]) -> list[int | None]:
        """The unit id of each (楼栋, 房号) of one project, None where the project has no such unit (each found unit's
        责任收费员 kept in ``collectors``) — column by column, for a whole file: the rooms' units read in one IN query
        per thousand room numbers, each row's key folded through the memoised folds and looked up in C loops (no
        dictionary per unit, no call per row). A file naming about as many units as the project has reads the
        project's units at once: each room number's IN probe of ``ix_unit_room_no`` (a room number every building
        has) fetches the rows one by one, 100,000 units 0.21 s of SQLite's CPU against 0.07 s for one scan."""
        found = self._whole.get(project_id)
        if found is None:
            if self.session.scalar(select(func.count()).where(Unit.project_id == project_id)) <= 2 * len(rooms):
                found = self._read(project_id, [self._units_of(project_id)])
            else:
                typed = set(rooms)
                typed.discard(None)
                found = self._read(project_id, [self._units_of(project_id).where(Unit.room_no.in_(part))
                                                for part in chunks(_room_spellings(typed))])
        return list(map(found.get, zip(_folded(clean.building_key, buildings), _folded(clean.room_key, rooms), strict=True)))

    def prefetch(self, project_id: int, rows: int) -> bool:
        """The project's units read now for :meth:`ids` to come, when a file of at most ``rows`` rows will name about
        as many (at most twice ``rows`` units: what :meth:`ids` would read then) — in an import, while calamine
        parses the file. Whether they were read."""
        if self.session.scalar(select(func.count()).where(Unit.project_id == project_id)) > 2 * rows:
            return False
        self._whole[project_id] = self._read(project_id, [self._units_of(project_id)])
        return True

    @staticmethod
    def _units_of(project_id: int) -> Select:
        return select(Unit.id, Unit.building_id, Unit.room_no, Unit.collector_id).where(Unit.project_id == project_id)

    def _read(self, project_id: int, parts: list[Select]) -> dict[tuple[str | None, str | None], int]:
        """(building key, room key) → unit id of the units ``parts`` select (each found unit's 责任收费员 kept); a key
        two units name is left out and kept in ``ambiguous``."""
        units = [unit for stmt in parts for unit in plain_rows(self.session, stmt)]
        found: dict[tuple[str | None, str | None], int] = {}
        if units:
            # a column at a time: zip(*units) unpacks 100,000 rows into one call, ten times the cost
            unit_ids, building_ids, numbers, collectors = (list(map(itemgetter(i), units)) for i in range(4))
            keys = list(zip(map(self.keys.__getitem__, building_ids), _folded(clean.room_key, numbers), strict=True))
            found.update(zip(keys, unit_ids, strict=True))
            if len(found) < len(keys):  # two units of a building one key names (101 and 0101), told in C
                for key in self._ambiguous(project_id, keys, building_ids, numbers):
                    del found[key]
            self.collectors.update(zip(unit_ids, collectors, strict=True))
        return found

    def _ambiguous(self, project_id: int, keys: list[tuple[str | None, str | None]], building_ids: list[int],
                   numbers: list[str]) -> set[tuple[str | None, str | None]]:
        """The keys two of the units name, each kept in ``ambiguous`` with the units' names."""
        seen: dict[tuple[str | None, str | None], str] = {}
        twice = set()
        for key, building_id, room in zip(keys, building_ids, numbers, strict=True):
            name = f"{self.names[building_id]}-{room}"
            if (first := seen.setdefault(key, name)) != name:
                named = self.ambiguous.setdefault((project_id, *key), [first])
                if name not in named:
                    named.append(name)
                twice.add(key)
        return twice

    def get(self, project_id: int, building: str, room: str) -> dict[str, Any] | None:
        key = (project_id, clean.building_key(building), clean.room_key(room))
        return None if key in self.ambiguous else self.units.get(key)

    def missing(self, project_id: int, building: str, room: str) -> str:
        """Why (楼栋, 房号) names no unit of the project: none has it, or two do — 101 and 0101 of one building,
        which the room typed either way names both — named so that the file or the units can be corrected."""
        named = self.ambiguous.get((project_id, clean.building_key(building), clean.room_key(room)))
        if named:
            return f"{building} {room} 可能是{'、'.join(sorted(named))}（本项目两户都有）：请先更正重复的房号"
        return f"{building} {room} 不存在于本项目"


def _folded(fold: Callable[[Any], Any], values: Sequence[Any]) -> Iterator[Any]:
    """``fold`` of each value, each distinct text folded once and the values looked up in C (a whole project's
    100,000 rooms name about a thousand room numbers): a third less than the memoised fold's call per value. Values
    other than texts (a dict would take 1, 1.0 and True for one) each go through ``fold``."""
    distinct = set(values)
    if not set(map(type, distinct)) <= {str, type(None)}:
        return map(fold, values)
    return map(dict(zip(distinct, map(fold, distinct), strict=True)).__getitem__, values)


def _room_spellings(typed: set[Any]) -> set[Any]:
    """The room numbers to read for rooms typed so: each as typed, its key, and a number's key padded with zeros to
    four digits (101 → 101 and 0101, as :func:`clean.room_spellings` gives them), so that a unit stored 0101 is
    found by a file's 101 and a building's 101 and 0101 both. Keys folded through the memoised ``room_key``: a file's
    20,000 rooms are not each spelt out by a call."""
    keys = set(map(clean.room_key, typed))
    numbers = [key for key in keys if key and key.isdigit() and len(key) < 4]
    return typed | keys | {key.zfill(width) for key in numbers for width in range(len(key) + 1, 5)}


class StaffRefs:
    """Staff of some projects by 工号 or by name (a name two people share is ambiguous)."""

    def __init__(self, session: Session, project_ids: set[int], texts: set[str]) -> None:
        self.session, self.project_ids = session, project_ids
        self.by_no: dict[tuple[int, str], int] = {}
        self.by_name: dict[tuple[int, str], list[int]] = {}
        self.names: dict[int, str] = {}
        self.positions: dict[int, StaffPosition] = {}
        self._all_named = False
        for part in chunks(texts):
            stmt = select(Staff.id, Staff.project_id, Staff.employee_no, Staff.name, Staff.position).where(
                Staff.project_id.in_(sorted(project_ids)), (Staff.employee_no.in_(part) | Staff.name.in_(part))
            )
            for staff_id, project_id, number, name, position in session.execute(stmt):
                self.by_no[(project_id, number)] = staff_id
                self.by_name.setdefault((project_id, name), []).append(staff_id)
                self.names[staff_id] = name
                self.positions[staff_id] = position

    def name(self, staff_id: Any) -> Any:
        """An employee's name, as a preview shows a stored 责任收费员 the file changes: one the file does not name is
        looked up with every employee of the projects, once (a project's staff are a few hundred), not one by one."""
        if staff_id is not None and staff_id not in self.names and not self._all_named:
            self._all_named = True
            stmt = select(Staff.id, Staff.name).where(Staff.project_id.in_(sorted(self.project_ids)))
            for other_id, name in self.session.execute(stmt):
                self.names.setdefault(other_id, name)
        return self.names.get(staff_id, staff_id)

    def resolve(self, row: Row, key: str, label: str, positions: Sequence[StaffPosition] = (),
                anyone: int | None = None) -> None:
        """Replace the row's ``key`` text by the staff id, or fail the row — also when ``positions`` are given
        and the employee holds none of them (an engineer is not a unit's 责任收费员: ``kernel.posts``), unless it
        is ``anyone`` (the importing cashier's own record, as 收款人)."""
        text = row.values.get(key)
        if text is None:
            return
        project_id = row.values["project_id"]
        staff_id = self.by_no.get((project_id, text))
        if staff_id is None:
            matches = self.by_name.get((project_id, text), [])
            if len(matches) > 1:
                row.fail(label, text, f"{text} 有重名，请填写工号")
                return
            staff_id = matches[0] if matches else None
        if staff_id is None:
            row.fail(label, text, f"{text} 不是本项目员工")
            return
        refusal = positions and post_refusal(text, self.positions[staff_id], label, positions)
        if refusal and staff_id != anyone:
            row.fail(label, text, refusal)
            return
        row.values[f"{key}_id"] = staff_id

