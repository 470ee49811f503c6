"""``wuye scores --month YYYY-MM [--project P]`` (issue 6) against a temporary SQLite file: the same action
as the console's 计算月度考核, its --dry-run and --json, and exit code 1 with nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from admin import cli
from models import MonthlyScore, OperationLog, ScoreEvent, ScoringRule
from tests import factories
from tests.cli_support import copy_of, initialised, table_counts


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wuye init`` and two projects with staff, one of them with two events in 2026-10; made once."""
    def fill(session: Session) -> None:
        branch = factories.branch(session, name="闵行分公司")
        sunny = factories.project(session, name="阳光花园", branch_=branch)
        factories.project(session, name="滨江大厦", branch_=branch)
        wang = factories.staff(session, project_=sunny, name="王芳")
        factories.staff(session, project_=sunny, name="李娜")
        late = session.scalar(select(ScoringRule).where(ScoringRule.code == "1.1"))
        session.add_all([
            ScoreEvent(project_id=sunny.id, staff_id=wang.id, event_date=dt.date(2026, 10, d), rule_id=late.id,
                       points=late.points_max)
            for d in (5, 6)
        ])

    return initialised(tmp_path_factory, "cli_scores", fill)


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from copy_of(template, tmp_path, monkeypatch)



def test_scores_computes_a_project_month_and_prints_json(db: Engine, capsys) -> None:
    assert cli.main(["scores", "--month", "2026-10", "--project", "阳光花园", "--json"]) == 0

    out = json.loads(capsys.readouterr().out)
    assert (out["month"], out["scored"], out["events"], out["dry_run"]) == ("2026-10", 2, 2, False)
    assert [p["project_name"] for p in out["projects"]] == ["阳光花园"]
    assert out["message"].startswith("已计算 2026-10 月度考核")
    with Session(db) as session:
        totals = dict(session.execute(select(MonthlyScore.rank, MonthlyScore.total)).all())
        assert totals == {1: Decimal("100"), 2: Decimal("98")}
        log = session.scalar(select(OperationLog).where(OperationLog.operation == "compute_scores"))
        assert log.actor_name == "命令行"


def test_scores_without_a_project_computes_every_project_and_prints_a_table(db: Engine, capsys) -> None:
    assert cli.main(["scores", "--month", "2026-10"]) == 0

    out = capsys.readouterr().out
    assert "2 个项目" in out and "阳光花园" in out and "滨江大厦" in out


def test_a_dry_run_writes_nothing(db: Engine, capsys) -> None:
    before = table_counts(db)
    assert cli.main(["scores", "--month", "2026-10", "--dry-run"]) == 0
    assert "预览（未保存）" in capsys.readouterr().out
    assert table_counts(db) == before


@pytest.mark.parametrize(("argv", "message"), [
    (["--month", "2099-01"], "尚未到来"),
    (["--month", "2026-13"], "月份格式"),
    (["--month", "2026-10", "--project", "不存在的项目"], "项目不存在：不存在的项目"),
])
def test_a_refusal_exits_1_and_writes_nothing(db: Engine, capsys, argv, message) -> None:
    before = table_counts(db)
    assert cli.main(["scores", *argv]) == 1
    assert message in capsys.readouterr().err
    assert table_counts(db) == before
