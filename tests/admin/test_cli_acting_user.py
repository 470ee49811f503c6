"""``--as NAME`` on every command that reads or writes a project's data (imports, export, bills, dunning, scores,
dispatch, close-month, monthly-report): the command is held to that account's projects and grants, as the console
is, and its audit and operation-log rows name the account. A refusal exits 1 with the Chinese reason on stderr
and writes nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from admin import cli
from models import AuditLog, Branch, Building, OperationLog, Project, Unit, UnitStatus, User
from tests.cli_support import copy_of, initialised, table_counts


def _fill(session: Session) -> None:
    for name, branch in (("一号项目", "一分公司"), ("二号项目", "二分公司")):
        project = Project(name=name, branch=Branch(name=branch))
        building = Building(project=project, name="1栋")
        session.add_all([Unit(project=project, building=building, room_no=r, status=UnitStatus.OCCUPIED)
                         for r in ("1-101", "1-102")])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = initialised(tmp_path_factory, "acting_user", _fill)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WUYE_DATABASE_URL", f"sqlite:///{path}")
        for argv, password in ((["zhuguan", "--role", "客服主管", "--project", "一号项目"], "主管的密码-123456"),
                               (["qiantai", "--role", "前台客服", "--project", "一号项目"], "前台的密码-123456"),
                               (["jingli", "--role", "客服经理", "收费员", "--project", "一号项目"], "经理的密码-123456")):
            mp.setattr("sys.stdin", io.StringIO(password + "\n"))
            assert cli.main(["user", "add", *argv, "--password-stdin"]) == 0
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from copy_of(template, tmp_path, monkeypatch)


def _units(tmp_path: Path, rows: list[list[object]], name: str = "房屋.xlsx") -> str:
    wb = Workbook()
    ws = wb.active
    ws.title = "房屋"
    for row in [["项目", "楼栋", "房号", "建筑面积(㎡)"], *rows]:
        ws.append(row)
    path = tmp_path / name
    wb.save(path)
    return str(path)


def _refused(capsys, argv: list[str], engine: Engine, message: str) -> None:
    before = table_counts(engine)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert table_counts(engine) == before


def test_an_import_into_another_project_is_refused(db, tmp_path, capsys) -> None:
    path = _units(tmp_path, [["一号项目", "1栋", "1-103", 90]])
    _refused(capsys, ["import", "units", path, "--project", "二号项目", "--as", "zhuguan"], db, "无权操作项目：二号项目")
    # A file whose 项目 column names the other project: the row is refused naming sheet, row, column and value.
    both = _units(tmp_path, [["一号项目", "1栋", "1-103", 90], ["二号项目", "1栋", "1-103", 90]], "两个项目.xlsx")
    before = table_counts(db)
    assert cli.main(["import", "units", both, "--as", "zhuguan"]) == 1
    err = capsys.readouterr().err
    assert "「房屋」第3行 项目 无权导入项目“二号项目”的数据" in err and "Traceback" not in err, err
    assert table_counts(db) == before
    _refused(capsys, ["import", "surveys", path, "--project", "二号项目", "--survey", "满意度调查", "--as", "zhuguan"], db,
             "无权操作项目：二号项目")
    # Without --as the command line acts for the installation: both projects.
    assert cli.main(["import", "units", both]) == 0


def test_an_import_writes_as_the_named_account(db, tmp_path, capsys) -> None:
    path = _units(tmp_path, [["一号项目", "1栋", "1-103", 90]])
    before = table_counts(db)
    assert cli.main(["import", "units", path, "--dry-run", "--as", "zhuguan"]) == 0
    assert table_counts(db) == before
    assert cli.main(["import", "units", path, "--as", "zhuguan"]) == 0, capsys.readouterr().err
    with Session(db) as session:
        cli_rows = select(AuditLog).where(AuditLog.source == "cli", AuditLog.table_name.in_(["unit", "import_batch"]))
        audit = session.scalars(cli_rows).all()
        user_id = session.scalar(select(User.id).where(User.username == "zhuguan"))
        names = {(a.actor_id, a.actor_name) for a in audit}
        ops = session.execute(select(OperationLog.actor_id, OperationLog.actor_name)
                              .where(OperationLog.operation.like("import%"))).all()
        assert session.scalar(select(Unit.id).where(Unit.room_no == "1-103")) is not None
    assert {a.table_name for a in audit} == {"unit", "import_batch"} and names == {(user_id, "zhuguan")}
    assert ops and {o.actor_id for o in ops} == {user_id} and {o.actor_name for o in ops} == {"zhuguan"}


def test_an_account_without_the_grant_is_refused(db, tmp_path, capsys) -> None:
    path = _units(tmp_path, [["一号项目", "1栋", "1-103", 90]])
    _refused(capsys, ["import", "units", path, "--as", "qiantai"], db, "账号 qiantai 没有“导入房屋”的权限")
    _refused(capsys, ["bills", "--project", "一号项目", "--as", "qiantai"], db, "没有“生成账单”的权限")
    _refused(capsys, ["close-month", "--month", "2026-10", "--as", "qiantai"], db, "没有“月结”的权限")
    _refused(capsys, ["import", "units", path, "--as", "nobody"], db, "--as：账号 nobody 不存在或已停用")


def test_an_export_holds_only_the_accounts_projects(db, tmp_path, capsys) -> None:
    out = tmp_path / "房屋.xlsx"
    _refused(capsys, ["export", "unit", str(out), "--project", "二号项目", "--as", "zhuguan"], db,
             "无权操作项目：二号项目")
    assert not out.exists()
    assert cli.main(["export", "unit", str(out), "--as", "zhuguan"]) == 0
    assert "已导出 2 行" in capsys.readouterr().out
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert not any("二号项目" in str(cell) for row in rows for cell in row)
    _refused(capsys, ["export", "customer", str(out), "--unmask", "--as", "zhuguan"], db, "没有“查看完整敏感信息”的权限")
    with Session(db) as session:
        assert session.scalar(select(AuditLog.actor_name).where(AuditLog.table_name == "unit",
                                                                AuditLog.kind == "export")) == "zhuguan"


@pytest.mark.parametrize("argv", [
    ["bills", "--project", "二号项目", "--dry-run"],
    ["dunning", "--stage", "1", "--project", "二号项目", "--dry-run"],
    ["scores", "--month", "2026-10", "--project", "二号项目", "--dry-run"],
    ["dispatch", "二号项目", "--dry-run"],
    ["close-month", "--month", "2026-10", "--project", "二号项目", "--dry-run"],
])
def test_every_project_command_is_held_to_the_accounts_projects(db, capsys, argv) -> None:
    _refused(capsys, [*argv, "--as", "jingli"], db, "无权操作项目：二号项目")


def test_without_a_project_a_command_takes_the_accounts_projects_only(db, capsys) -> None:
    assert cli.main(["dunning", "--stage", "1", "--as-of", "2026-10-05", "--dry-run", "--as", "jingli"]) == 0, \
        capsys.readouterr().err
    out = capsys.readouterr().out
    assert "一号项目" in out and "二号项目" not in out
