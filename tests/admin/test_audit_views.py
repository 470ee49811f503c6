"""操作日志 in the console: every operation code the code base writes is shown in Chinese."""

from __future__ import annotations

import ast
import pathlib
import re

from sqlalchemy import select

from actions.audit import OPERATION_LABELS, log_operation, operation_label
from actions.bulk_import import KINDS
from actions.survey_import import SurveyImporter
from models import Bill, OperationLog
from tests import factories as f

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _written_codes() -> tuple[set[str], set[str]]:
    """The operation codes in the source: the literal ones, and the prefixes of the composed ones (``export:``)."""
    codes: set[str] = set()
    prefixes: set[str] = set()
    for path in [*ROOT.joinpath("actions").rglob("*.py"), *ROOT.joinpath("admin").rglob("*.py"),
                 *ROOT.joinpath("seeds").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            args = [node.args[1]] if name == "log_operation" and len(node.args) > 1 else []
            args += [k.value for k in node.keywords if k.arg == "operation"]
            for arg in args:
                for part in ast.walk(arg):
                    if isinstance(part, ast.JoinedStr):
                        prefixes.add(part.values[0].value)
                    elif isinstance(part, ast.Constant) and isinstance(part.value, str) and re.fullmatch(r"[\w-]+", part.value):
                        codes.add(part.value)
    return codes, prefixes


def test_every_operation_code_has_a_chinese_label():
    codes, prefixes = _written_codes()
    assert {"compute_scores", "close_work_orders", "approve_dunning", "reject_dunning", "load_demo"} <= codes
    assert prefixes == {"export:", "import:"}
    missing = sorted(c for c in codes if operation_label(c) == c)
    assert missing == []
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in OPERATION_LABELS.values())
    assert operation_label("export:bill") == f"导出「{Bill.__label__}」"
    for kind, title in {SurveyImporter.kind: SurveyImporter.title, **{k: c.title for k, c in KINDS.items()}}.items():
        assert operation_label(f"import:{kind}") == f"导入「{title}」"
    assert operation_label("something_new") == "something_new"
    assert operation_label("export:no_such_table") == "export:no_such_table"


def test_operation_log_list_and_details_show_the_label(console, session):
    f.user(session, username="root", superuser=True)
    log_operation(session, "compute_scores", params={"month": "2026-10"}, counts={"staff": 3})
    log_operation(session, "export:bill", params={}, counts={"rows": 2})
    log_operation(session, "mystery_code", params={}, counts={})
    row = session.scalar(select(OperationLog).where(OperationLog.operation == "compute_scores"))
    root = console("root")
    page = root.get("/admin/operation-log/list")
    assert page.status_code == 200
    text = page.text
    assert "计算月度考核" in text and f"导出「{Bill.__label__}」" in text and "mystery_code" in text
    assert "compute_scores" not in text and "export:bill" not in text
    details = root.get(f"/admin/operation-log/details/{row.id}")
    assert details.status_code == 200 and "计算月度考核" in details.text and ">compute_scores<" not in details.text
