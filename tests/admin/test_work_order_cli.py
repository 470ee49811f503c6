"""``wuye dispatch`` against a temporary SQLite file: dry run, auto-dispatch of a project, re-run, refusals."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from admin import cli
from models import OperationLog, RequestCategory, ServiceRequest, WorkOrder
from models.db import make_engine
from tests import factories as f
from tests.cli_support import after_init


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database after ``wuye init`` (tests/cli_support.py), copied for each test."""
    return after_init(tmp_path_factory, tmp_path_factory.mktemp("dispatch_cli") / "template.db")


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    shutil.copyfile(template, tmp_path / "cli.db")
    monkeypatch.setenv("WUYE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    engine = make_engine()
    with Session(engine) as session, session.begin():
        p1, p2 = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
        for category in (RequestCategory.PLUMBING, RequestCategory.PLUMBING, RequestCategory.CLEANING):
            f.service_request(session, project_=p1, category=category)
        f.service_request(session, project_=p2)
        staff = f.staff(session, project_=p1)
        staff.employee_no = "G0001"
    yield engine
    engine.dispose()


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (session.scalar(select(func.count()).select_from(WorkOrder)),
                session.scalar(select(func.count()).select_from(OperationLog)))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["dispatch", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_dry_run_then_dispatch_then_rerun(db, capsys):
    before = counts(db)
    code, out, _ = run(capsys, "锦绣华庭", "--dry-run", "--json")
    plan = json.loads(out)
    assert code == 0 and plan["dry_run"] and plan["targets"] == 3 and plan["created"] == 0
    assert dict(plan["by_department"]) == {"工程部": 2, "环境管理部": 1} and len(plan["preview"]) == 3
    assert counts(db) == before

    code, out, _ = run(capsys, "锦绣华庭", "--json")
    done = json.loads(out)
    assert code == 0 and done["created"] == 3 and done["operation_id"]
    assert counts(db) == (before[0] + 3, before[1] + 1)
    with Session(db) as session:  # the other project's request is untouched
        other = session.scalar(select(ServiceRequest).where(ServiceRequest.project.has(name="翠湖天地")))
        assert session.scalar(select(WorkOrder).where(WorkOrder.request_id == other.id)) is None

    code, out, _ = run(capsys, "锦绣华庭")
    assert code == 0 and "没有待派工的客户诉求" in out
    assert counts(db)[0] == before[0] + 3


def test_chosen_requests_department_assignee_and_priority(db, capsys):
    with Session(db) as session:
        first = session.scalar(select(ServiceRequest.id).order_by(ServiceRequest.id))
    code, out, _ = run(capsys, "锦绣华庭", "--request", str(first), "--department", "安保部", "--assignee", "G0001",
                       "--priority", "紧急", "--deadline", "2099-01-01T18:00")
    assert code == 0 and "已派工 1 单" in out
    with Session(db) as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.request_id == first))
        assert order.department.name == "安保部" and order.assignee.employee_no == "G0001"
        assert order.priority.label == "紧急" and order.complete_due_at.isoformat() == "2099-01-01T10:00:00+00:00"


@pytest.mark.parametrize("argv,message", [
    (["没有的项目"], "项目不存在"),
    (["锦绣华庭", "--department", "不存在的部门"], "处理部门不存在"),
    (["锦绣华庭", "--priority", "十万火急"], "优先级无效"),
    (["锦绣华庭", "--deadline", "明天"], "完成时限格式"),
    (["锦绣华庭", "--deadline", "2000-01-01T08:00"], "完成时限不能早于当前时间"),
])
def test_refusals_exit_1_and_write_nothing(db, capsys, argv, message):
    before = counts(db)
    code, _, err = run(capsys, *argv)
    assert code == 1 and message in err
    assert counts(db) == before


def test_a_request_of_another_project_is_refused(db, capsys):
    with Session(db) as session:
        other = session.scalar(select(ServiceRequest.id).where(ServiceRequest.project.has(name="翠湖天地")))
    before = counts(db)
    code, _, err = run(capsys, "锦绣华庭", "--request", str(other))
    assert code == 1 and f"#{other}" in err
    assert counts(db) == before
