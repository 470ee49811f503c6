"""The kernel (actions/kernel/): periods, money, project scope — and that no other module keeps its own copy."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from actions.actor import Actor
from actions.errors import NotPermitted, Refused
from actions.kernel import money as money_mod
from actions.kernel import names, periods, scope, sql
from actions.kernel.money import cents, money, readable
from actions.kernel.periods import add_months, local_day_bounds, month_day, parse_month, parse_period
from actions.kernel.scope import project_ids_named, project_named, visible_project, visible_projects
from models import Project
from tests import factories

ACTIONS = Path(__file__).resolve().parents[2] / "actions"


def test_months_and_periods():
    assert add_months("2026-01", -1) == "2025-12" and add_months("2026-11", 14) == "2028-01"
    assert month_day("2026-02", 31) == dt.date(2026, 2, 28) and month_day("2028-02", 30) == dt.date(2028, 2, 29)
    m = parse_month(" 2026-12 ")
    assert (m.text, m.first, m.next_first) == ("2026-12", dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    for typed in ("2026-13", "2026-1", "202612", ""):
        with pytest.raises(Refused, match="YYYY-MM"):
            parse_month(typed)
    with pytest.raises(Refused, match="账期格式应为 YYYY-MM（如 2026-05），收到：2026-00"):
        parse_period("2026-00")
    start, end = local_day_bounds(dt.date(2026, 12, 6))
    assert start == dt.datetime(2026, 12, 5, 16, tzinfo=dt.UTC) and end - start == dt.timedelta(days=1)


def test_money_is_exact():
    assert money("1,234.5") == Decimal("1234.50") and money(" 12 ") == Decimal("12.00")
    for bad in (1.5, "1.005", "abc", "NaN", "1e3", "1E3", "1_000", "1_000.00", "+-1", "1.2.3"):
        with pytest.raises(Refused, match="不是有效的数字|浮点数|两位小数"):
            money(bad)
    assert money("-12.5") == Decimal("-12.50") and money(".5") == Decimal("0.50") and money("１２") == Decimal("12.00")
    assert money("9,999,999,999.99") == Decimal("9999999999.99")  # the most a Numeric(12, 2) holds
    with pytest.raises(Refused, match="应收超出范围（最多 9,999,999,999.99 元）：10000000000"):
        money("10000000000", what="应收")
    for huge in ("1" + "0" * 309, "-" + "1" * 30, "1" * 40):  # past 28 digits: quantize() raised InvalidOperation
        with pytest.raises(Refused, match="超出范围"):
            money(huge)
    assert readable(Decimal("Infinity")) == "Infinity"  # an edit page of a value SQLite stored as Infinity opens
    assert cents(None) == Decimal("0.00") and cents(Decimal("3.456")) == Decimal("3.46")


def test_money_typed_or_pasted_reads_as_the_imports_read_it():
    """A cashier's full-width input method, an amount pasted from Excel with its 元 or ¥, a space between thousands:
    read as the import reads the same cell. A comma that is no thousands separator (「12,00」 meant as 12.00) was read
    as 1200 — now refused, not taken as a hundred times the money."""
    for typed, amount in (("１２００．５０", "1200.50"), ("1,200.50元", "1200.50"), ("¥100", "100.00"),
                          ("￥ 1 200", "1200.00"), ("RMB 80", "80.00"), ("１，２００", "1200.00"), ("\u200b268.5", "268.50"),
                          ("１２０．５ 元\n", "120.50")):
        assert money(typed) == Decimal(amount), typed
    for bad in ("12,00", "1,2,3", "1，5", "12,0000", "元", "一百二十", "120.5.0"):
        with pytest.raises(Refused, match=f"金额不是有效的数字：{bad}"):
            money(bad)


def test_natural_order_of_names():
    assert sorted(["10栋", "2栋", "1栋", "十一栋"], key=names.natural_key) == ["1栋", "2栋", "10栋", "十一栋"]


def test_project_scope_has_one_wording(session):
    mine, other = factories.project(session), factories.project(session)
    actor = Actor(user_id=None, name="t", project_ids=frozenset({mine.id}))
    assert visible_project(session, actor, mine.id).id == mine.id
    assert visible_projects(session, [mine.id], actor) == {mine.id: mine.name}
    assert project_named(session, f" {other.name} ") == other.id
    assert project_ids_named(session, [other.name, mine.name]) == sorted([mine.id, other.id], key=lambda i: (
        {mine.id: mine.name, other.id: other.name}[i]))
    missing = (session.scalar(select(func.max(Project.id))) or 0) + 1
    with pytest.raises(NotPermitted, match=f"无权操作项目：{other.id}$"):  # not its name: not the actor's to read
        visible_project(session, actor, other.id)
    with pytest.raises(NotPermitted, match=f"无权操作项目：{other.id}"):
        visible_projects(session, [other.id], actor)
    for call in (lambda: visible_project(session, actor, None),
                 lambda: visible_projects(session, [missing], Actor(None, "hq", None)),
                 lambda: project_named(session, "无此项目")):
        with pytest.raises(Refused, match="项目不存在："):
            call()


def test_dialect_helpers_follow_the_bound_database(session):
    assert sql.dialect_name(session) in ("sqlite", "postgresql")
    assert sql.is_postgresql(session) == (session.get_bind().dialect.name == "postgresql")


def test_no_module_keeps_its_own_copy_of_a_kernel_helper():
    kernel = {
        node.name
        for mod in (periods, money_mod, names, scope, sql)
        for node in ast.parse(Path(mod.__file__).read_text()).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
    }
    copies = [
        f"{path.relative_to(ACTIONS)}:{node.name}"
        for path in ACTIONS.rglob("*.py") if "kernel" not in path.parts
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in kernel | {"today", "month_of", "dialect_insert"}
    ]
    assert copies == []
