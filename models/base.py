"""The declarative base and the conventions every model follows.

Labels are declared once, here in models/: a model's Chinese name in ``__label__``, a column's in
``info={"label": …}`` (via :func:`col`), an enum member's as the second item of its value tuple.
Everything else (admin, forms, spreadsheets, messages) reads them through :func:`label_of`.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    TypeDecorator,
    func,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, joinedload, mapped_column, selectinload

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    __label__: str = ""
    # The relations a record's __str__ shows (房屋 shows as 楼栋-房号): the console loads them, and theirs in
    # turn, wherever it shows the record — lists, details, relation fields, select2 lookups.
    __display_loads__: tuple[str, ...] = ()

    def __str__(self) -> str:  # shown in relation fields, select2 lookups and flash messages
        for attr in ("name", "title", "code", "room_no", "period"):
            value = getattr(self, attr, None)
            if value:
                return str(value)
        return f"{self.__label__ or type(self).__name__}#{getattr(self, 'id', '')}"


def loaded(obj: Any, relation: str) -> Any:
    """A relation's value if it was loaded, else None: a __str__ never lazy-loads (its session may be closed)."""
    return obj.__dict__.get(relation)


def display_loads(model: type, via: Any = None, depth: int = 3, joined: bool = False) -> list[Any]:
    """Loader options for what ``model``'s __str__ shows (its ``__display_loads__``, and theirs in turn, at most
    ``depth`` deep: 派工单 → 客户诉求 → 房屋 → 楼栋), chained below ``via`` — the loader of a relation leading
    to ``model``. ``joined``: a record each row names (many-to-one) joined into the same statement
    (``loader_of``), not read by a statement of its own."""
    options: list[Any] = []
    for name in getattr(model, "__display_loads__", ()) if depth else ():
        relation = getattr(model, name)
        loader = loader_of(relation, via, joined)
        options += display_loads(relation.property.mapper.class_, loader, depth - 1, joined) or [loader]
    return options


def loader_of(relation: Any, via: Any = None, joined: bool = False) -> Any:
    """``selectinload`` of ``relation`` (below ``via``); with ``joined``, a many-to-one relation's ``joinedload``
    (an outer join: a row without the record stays): a list page's 20 rows, their 派工单 → 诉求 → 房屋 → 楼栋, 部门
    and 处理人 read by one statement instead of one each (a searched work-order list: 14 statements, not 19)."""
    if joined and not relation.property.uselist:
        return joinedload(relation) if via is None else via.joinedload(relation)
    return selectinload(relation) if via is None else via.selectinload(relation)


def display(*parts: Any) -> str:
    """The parts of a record's display that are known, separated by spaces."""
    return " ".join(str(p) for p in parts if p not in (None, ""))


def brief(text: str | None, length: int = 20) -> str:
    """The start of a long text (诉求内容 …), enough to recognise it in a picker."""
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[:length] + "…"


class LabeledEnum(str, enum.Enum):
    """A string enum whose members carry their Chinese label: ``PENDING = "pending", "待派工"``."""

    label: str

    def __new__(cls, value: str, label: str):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    def __str__(self) -> str:
        return self.label

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]

    @classmethod
    def from_label(cls, text: str) -> LabeledEnum | None:
        text = text.strip()
        for m in cls:
            if text in (m.value, m.label):
                return m
        return None


class UTCDateTime(TypeDecorator):
    """Timezone-aware timestamps stored in UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            # MariaDB's DATETIME drops the fraction of a second unless given a precision; keep microseconds
            # as SQLite and PostgreSQL do (ordering by time, "newer than" checks). The session runs in UTC
            # (models/db.py), so the server's own CURRENT_TIMESTAMP defaults are UTC as well.
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return super().load_dialect_impl(dialect)


def list_order_indexes(*order: str) -> tuple[Index, Index]:
    """The indexes a console list ordered by ``order`` (then by id, both read newest first) pages from: one within a
    project, for who works in one; one across projects, carrying ``project_id`` so a branch's scope is checked
    in the index itself. Declared once per list, next to the model the list shows."""
    return Index(None, "project_id", *order, "id"), Index(None, *order, "id", "project_id")


# table → the columns console searches match anywhere in, as ``trigram_indexes`` declares them
SEARCHED: dict[str, tuple[str, ...]] = {}
# PostgreSQL: a text's lowercase 2-character substrings (a migration creates it; NULL for NULL or a
# text shorter than 2), which ``trigram_indexes`` indexes and a 2-character search reads (``admin.views.listing``)
BIGRAMS = "bigrams"


def trigram_indexes(table: str, *columns: str, within: str | None = None) -> tuple[Index, ...]:
    """PostgreSQL ``pg_trgm`` GIN indexes for the columns console searches match anywhere in
    (``ILIKE '%1203%'``); the migration creates the extension. ``within``: a column every list of the table is
    scoped by (``project_id``), each index leading with it (``btree_gin``), so a project's matches are found in
    the index itself — not by reading every match of the table to check its project (20,000 audit rows of
    another project: 0.2–0.4 s). Beside each, the same on its values' 2-character substrings (``BIGRAMS``), for
    2-character terms. SQLite gets an FTS5 trigram table over the same columns (``models.search``);
    MariaDB scans."""
    SEARCHED[table] = tuple(dict.fromkeys((*SEARCHED.get(table, ()), *columns)))
    leading = [within] if within else []
    return tuple(
        index.ddl_if(dialect="postgresql")
        for name in columns
        for index in (
            Index(f"ix_{table}_{name}_trgm", *leading, name, postgresql_using="gin",
                  postgresql_ops={name: "gin_trgm_ops"}),
            # a 2-character term holds no trigram: pg_trgm read the whole index and rechecked every row for
            # ILIKE '%张三%' (1.3 s a million audit rows); each value's 2-character substrings find it (0.03 ms)
            Index(f"ix_{table}_{name}_bigram", *leading, text(f"{BIGRAMS}({name})"), postgresql_using="gin"),
        )
    )


# (table, column) → the column of a small table holding each of its values once: see ``searched_among``
SEARCHED_AMONG: dict[tuple[str, str], Any] = {}


def searched_among(column: Any, values: Any) -> None:
    """Declare that the console's search matches ``column`` (a column of few distinct values over many rows: who
    wrote an audit row) through ``values``, the column of a small table holding each of them once: a term finds
    the values that contain it there (a scan of a few hundred names), then the rows holding one of those values by
    ``column``'s B-tree index (``admin.views.listing``) — the same rows as ``column ILIKE '%term%'``, with one index
    entry a written row instead of its every trigram and 2-character substring. The writers keep ``values``."""
    SEARCHED_AMONG[(column.table.name, column.name)] = values


def search_table(table: str) -> str:
    """SQLite's FTS5 table over the searched columns of ``table`` (``models.search``)."""
    return table + "_search"


def is_search_table(name: str) -> bool:
    """One of those FTS tables, or a shadow table FTS5 keeps beside it."""
    found = re.fullmatch(r"(\w+?)_search(_(data|idx|docsize|config|content|terms))?", name)
    return found is not None and found.group(1) in SEARCHED


def sparse_indexes(table: str, *columns: str) -> tuple[Index, ...]:
    """Indexes of columns most rows leave empty (when it closed, whom a complaint names): partial, holding only
    the rows with a value. Every lookup is by a value; and on PostgreSQL a write that moves a row without one
    (a dispatch updating 50,000 requests' status) adds nothing to them."""
    return tuple(
        Index(f"ix_{table}_{name}", name, postgresql_where=text(f"{name} IS NOT NULL"),
              sqlite_where=text(f"{name} IS NOT NULL"))
        for name in columns
    )


def on_database(item: Any, dialect: str) -> bool:
    """Whether a declared schema item exists on ``dialect``: the trigram indexes only on PostgreSQL, a survey
    form's key to its household everywhere else (``ddl_if``) — what alembic compares the models with the database by."""
    if isinstance(item, Table) and is_search_table(item.name):
        return False  # SQLite's FTS tables (``models.search``): no part of the models
    ddl_if = getattr(item, "_ddl_if", None)
    if ddl_if is None or ddl_if.dialect is None:
        return True
    return dialect in ((ddl_if.dialect,) if isinstance(ddl_if.dialect, str) else ddl_if.dialect)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Money = Numeric(12, 2, asdecimal=True)
ZERO = Decimal("0.00")


def enum_type(enum_cls: type[LabeledEnum]) -> SAEnum:
    """Enums are stored as their short English value in a VARCHAR (no native type to migrate)."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=max(len(m.value) for m in enum_cls) + 8,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


@functools.cache
def table_labels() -> dict[str, str]:
    """Every table as its records are called (service_request → 客户诉求): the audit trail names tables. Read once
    the models are all imported (``models`` imports them all)."""
    return {m.class_.__table__.name: m.class_.__label__ or m.class_.__name__ for m in Base.registry.mappers}


def table_label(name: str) -> str:
    return table_labels().get(name, name)


def col(label: str, *args: Any, doc: str | None = None, **kwargs: Any) -> Any:
    """``mapped_column`` carrying the column's Chinese label (and optional help text) once."""
    info = kwargs.pop("info", {})
    info["label"] = label
    return mapped_column(*args, info=info, doc=doc, **kwargs)


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMBER = re.compile(r"\d+|[零〇一二两三四五六七八九十百千]+")
SORT_KEY_LENGTH = 100


def number_value(text: str) -> int:
    """The value of a run of digits or of Chinese numerals: 12 → 12, 十 → 10, 十二 → 12, 二十 → 20, 一百零五 → 105."""
    if text.isdigit():
        return int(text)
    total, digit = 0, 0
    for ch in text:
        if ch in _CN_UNITS:
            total += (digit or 1) * _CN_UNITS[ch]
            digit = 0
        else:
            digit = _CN_DIGITS[ch]
    return total + digit


def natural_sort_key(text: str | None) -> str:
    """Text that sorts as people count: each number — digits or Chinese numerals — written as ten padded digits,
    so 2栋 comes before 10栋, 二期 before 十期 before 十一期, and room 903 before 1303 in SQL's plain text order
    (stored beside the name, indexed, what lists sort by)."""
    return NUMBER.sub(lambda m: str(number_value(m.group())).zfill(10), text or "")[:SORT_KEY_LENGTH]


def sort_key_of(source: str) -> Any:
    """A column default: the natural sort key of the inserted row's ``source`` column (ORM and Core inserts)."""
    return lambda context: natural_sort_key(context.get_current_parameters().get(source))


def label_of(model: type[Base], attr: str) -> str:
    """The Chinese label of a column or relationship, falling back to the attribute name."""
    prop = model.__mapper__.attrs.get(attr)
    if prop is None:
        return attr
    info = getattr(prop, "info", None) or {}
    if "label" in info:
        return info["label"]
    columns = getattr(prop, "columns", None)
    if columns:
        return columns[0].info.get("label", attr)
    return attr


@cache
def _models_by_name() -> dict[str, type[Base]]:
    return {m.class_.__name__: m.class_ for m in Base.registry.mappers}


def label(model: type[Base] | str, attr: str | None = None) -> str:
    """A model's label (``label("Unit")`` → 房屋), or one of its attributes' (``label("Unit", "room_no")`` → 房号):
    by class or by class name — how templates name a column header instead of typing it again."""
    if isinstance(model, str):
        model = _models_by_name()[model]
    return label_of(model, attr) if attr else model.__label__


def labels_of(model: type[Base]) -> dict[str, str]:
    return {attr.key: label_of(model, attr.key) for attr in model.__mapper__.attrs if label_of(model, attr.key) != attr.key}


class IdMixin:
    id: Mapped[int] = mapped_column(Integer, primary_key=True, info={"label": "编号"})


class TimestampMixin:
    created_at: Mapped[dt.datetime] = col("创建时间", UTCDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = col(
        "更新时间", UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class ProjectScoped:
    """Records that belong to one project; the console scopes every access path by ``project_id``."""

    # False where the table's own indexes lead with project_id: one on it alone would only cost writes.
    __project_index__ = True

    @declared_attr
    def project_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey("project.id", ondelete="RESTRICT"), index=cls.__project_index__, info={"label": "项目"}
        )


class VersionedMixin:
    """Optimistic locking: a second save of a stale form fails instead of silently overwriting (B09)."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1", info={"label": "版本"})

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}
