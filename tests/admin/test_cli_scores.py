"""``wuye scores --month YYYY-MM [--project P]`` (issue 6) against a temporary SQLite file: the same action
as the console's 计算月度考核, its --dry-run and --json, and exit code 1 with nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from admin import cli
from models import Base, MonthlyScore, OperationLog, ScoreEvent, ScoringRule
from models.db import make_engine
from tests import factories


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wuye init`` and two projects with staff, one of them with two events in 2026-10; made once."""
    path = tmp_path_factory.mktemp("cli_scores") / "template.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WUYE_DATABASE_URL", f"sqlite:///{path}")
        assert cli.main(["init"]) == 0
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session, session.begin():
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
    engine.dispose()
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    path = tmp_path / "cli.db"
    path.write_bytes(template.read_bytes())
    monkeypatch.setenv("WUYE_DATABASE_URL", f"sqlite:///{path}")
    engine = make_engine()
    yield engine
    engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


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
    before = counts(db)
    assert cli.main(["scores", "--month", "2026-10", "--dry-run"]) == 0
    assert "预览（未保存）" in capsys.readouterr().out
    assert counts(db) == before


@pytest.mark.parametrize(("argv", "message"), [
    (["--month", "2099-01"], "尚未到来"),
    (["--month", "2026-13"], "月份格式"),
    (["--month", "2026-10", "--project", "不存在的项目"], "项目不存在：不存在的项目"),
])
def test_a_refusal_exits_1_and_writes_nothing(db: Engine, capsys, argv, message) -> None:
    before = counts(db)
    assert cli.main(["scores", *argv]) == 1
    assert message in capsys.readouterr().err
    assert counts(db) == before
