"""Typed refusals: an action that will not do what it was asked raises one, with a Chinese message."""

from __future__ import annotations

import re
from collections.abc import Iterable


class Refused(Exception):
    """The request is refused as a whole; nothing was written. ``ids`` name the offending records."""

    def __init__(self, message: str, ids: Iterable[object] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.ids = list(ids)

    def __str__(self) -> str:
        return self.message


class NotPermitted(Refused):
    """The actor may not do this, or not on these records (another project, a missing grant)."""


def integrity_message(exc: Exception) -> str:
    """A database constraint violation (SQLite, PostgreSQL or MariaDB wording) told in Chinese, with the labels."""
    from models import Base, label_of

    text = str(getattr(exc, "orig", exc))
    tables = {m.local_table.name: m.class_ for m in Base.registry.mappers}

    def model_label(table: str) -> str:
        model = tables.get(table)
        return getattr(model, "__label__", "") or table

    def labels(table: str, columns: Iterable[str]) -> str:
        model = tables.get(table)
        return "、".join(label_of(model, c) if model else c for c in columns)

    def constraint(name: str):
        for table in Base.metadata.tables.values():
            for con in (*table.constraints, *table.indexes):  # a unique index too (a partial one: 项目为空的默认规则)
                if con.name == name:
                    return table, con
        return None, None

    if m := re.search(r"UNIQUE constraint failed: ([\w.,\s]+)", text):
        parts = [p.strip().split(".") for p in m.group(1).split(",")]
        table = parts[0][0]
        return f"已存在相同「{labels(table, [p[1] for p in parts])}」的{model_label(table)}记录"
    if m := (re.search(r'unique constraint "([^"]+)"', text)
             or re.search(r"Duplicate entry .* for key '(?:\w+\.)?(\w+)'", text)):  # MariaDB
        table, con = constraint(m.group(1))
        if table is not None:
            return f"已存在相同「{labels(table.name, [c.name for c in con.columns])}」的{model_label(table.name)}记录"
    if m := (re.search(r"CHECK constraint failed: (\w+)", text) or re.search(r'check constraint "(\w+)"', text)
             or re.search(r"CONSTRAINT `(\w+)` failed", text)):
        name = m.group(1)
        table, con = constraint(name) if name.startswith("ck_") else next(
            ((t, c) for t in Base.metadata.tables.values() for c in t.constraints if c.name and c.name.endswith(name)),
            (None, None),
        )
        if table is not None:
            if rule := con.info.get("message"):  # the rule as the model states it: "{ends_at}须晚于{starts_at}"
                return f"{model_label(table.name)}：" + rule.format_map({c.name: labels(table.name, [c.name])
                                                                         for c in table.columns})
            used = [c.name for c in table.columns if re.search(rf"\b{c.name}\b", str(con.sqltext))]
            return f"{model_label(table.name)}：「{labels(table.name, used)}」的取值不符合规则"
    if m := re.search(r"NOT NULL constraint failed: (\w+)\.(\w+)", text) or re.search(
        r'null value in column "(\w+)" of relation "(\w+)"', text
    ):
        table, column = (m.group(1), m.group(2)) if "NOT NULL" in text else (m.group(2), m.group(1))
        return f"「{labels(table, [column])}」不能为空"
    if m := re.search(r'insert or update on table "\w+" violates foreign key constraint "(\w+)"', text):
        table, con = constraint(m.group(1))
        if table is not None:  # what it names is gone: deleted by another user since the form was loaded
            referred = con.elements[0].column.table.name
            return f"所选的{model_label(referred)}不存在（可能刚被他人删除），请刷新后重试"
    if "FOREIGN KEY" in text or "foreign key" in text:
        return "引用的记录不存在，或该记录仍被其他记录引用，不能删除"
    return "保存失败：数据不符合数据库约束"
