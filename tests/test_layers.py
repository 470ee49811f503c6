"""The layers hold (DESIGN.md): admin/ declares views and calls actions — it writes no record itself and builds no
INSERT/UPDATE/DELETE; actions/ has no import cycle (a domain module is never another's utility module)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRITE_CONSTRUCTS = {"insert", "update", "delete"}
WRITE_CALLS = {"add", "add_all", "delete", "merge", "commit", "bulk_save_objects", "bulk_insert_mappings"}
# The one transaction end admin/ keeps: a failed login's attempt is stored even though the login is refused.
COMMIT_ALLOWED = {("admin/auth.py", "_login_sync")}


def _python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    owner: dict[ast.AST, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.walk(node):
                owner.setdefault(child, node.name)
    return owner


def _admin_writes() -> list[str]:
    found = []
    for path in _python_files("admin"):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owner = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
                for alias in node.names:
                    if alias.name in WRITE_CONSTRUCTS:
                        found.append(f"{rel}:{node.lineno} imports sqlalchemy {alias.name}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_CALLS:
                target = node.func.value
                name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                if "session" not in name:
                    continue
                if node.func.attr == "commit" and (rel, owner.get(node)) in COMMIT_ALLOWED:
                    continue
                found.append(f"{rel}:{node.lineno} {name}.{node.func.attr}()")
    return found


def test_admin_writes_no_record_itself():
    assert _admin_writes() == []


def _actions_graph() -> dict[str, set[str]]:
    """actions module → the actions modules it imports (anywhere in it: an import inside a function is still a
    dependency)."""
    graph: dict[str, set[str]] = {}
    for path in _python_files("actions"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = ".".join(parts[:-1])
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                if not target.startswith("actions"):
                    continue
                for alias in node.names:  # ``from . import billing`` names a module
                    candidate = f"{target}.{alias.name}"
                    deps.add(candidate if _is_module(candidate) else target)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("actions"))
        graph[module] = {d for d in deps if d != module and d != "actions"}
    return graph


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycles.append([*trail[trail.index(dep):], dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_actions_have_no_import_cycle():
    assert _cycles(_actions_graph()) == []


def test_the_checks_see_what_they_look_for():
    """The checks themselves: a cycle and a write are found when there is one."""
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    tree = "from sqlalchemy import update\nsession.add(x)\n"
    nodes = list(ast.walk(ast.parse(tree)))
    assert any(isinstance(n, ast.ImportFrom) and n.names[0].name in WRITE_CONSTRUCTS for n in nodes)
    assert any(isinstance(n, ast.Call) and n.func.attr in WRITE_CALLS for n in nodes if isinstance(n, ast.Call))
