"""RELIABILITY M02: a migration that adds a NOT NULL column to a table that may hold rows gives it a server default
(or adds it nullable, fills it, then tightens it) — never a bare NOT NULL that fails on a populated table."""

from __future__ import annotations

import ast
from pathlib import Path

VERSIONS = Path(__file__).resolve().parents[2] / "models" / "migrations" / "versions"


def _bare_not_null_columns(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_column"):
            continue
        for arg in node.args:
            if not (isinstance(arg, ast.Call) and getattr(arg.func, "attr", None) == "Column"):
                continue
            keywords = {k.arg: k.value for k in arg.keywords}
            not_null = isinstance(keywords.get("nullable"), ast.Constant) and keywords["nullable"].value is False
            if not_null and "server_default" not in keywords:
                name = arg.args[0].value if arg.args and isinstance(arg.args[0], ast.Constant) else "?"
                found.append(f"{name} (line {arg.lineno})")
    return found


def test_added_not_null_columns_have_a_server_default():
    offenders = {path.name: cols for path in sorted(VERSIONS.glob("*.py"))
                 if (cols := _bare_not_null_columns(ast.parse(path.read_text(encoding="utf-8"))))}
    assert offenders == {}


def test_the_check_finds_a_bare_not_null_column():
    bad = ast.parse("op.add_column('unit', sa.Column('sort_key', sa.String(40), nullable=False))")
    good = ast.parse("op.add_column('unit', sa.Column('version', sa.Integer(), server_default='1', nullable=False))")
    assert _bare_not_null_columns(bad) == ["sort_key (line 1)"] and _bare_not_null_columns(good) == []
