"""``wuye import …`` against a temporary SQLite file: outcome, --json, --dry-run, exit codes, progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from admin import cli
from models import Branch, Building, Project, Survey, SurveyResponse, Unit, UnitStatus
from models.db import make_engine
from tests.cli_support import after_init
from tests.data.workbooks import workbook


@pytest.fixture
def db(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A database as ``wuye init`` leaves it (tests/cli_support.py), with a project of three units."""
    monkeypatch.setenv("WUYE_DATABASE_URL", f"sqlite:///{after_init(tmp_path_factory, tmp_path / 'cli.db')}")
    engine = make_engine()
    with Session(engine) as session, session.begin():
        project = Project(name="翠湖花园", branch=Branch(name="一分公司"))
        building = Building(project=project, name="1栋")
        session.add_all([Unit(project=project, building=building, room_no=r, status=UnitStatus.OCCUPIED)
                         for r in ("1-101", "1-102", "1-103")])
    yield engine
    engine.dispose()


def count(engine: Engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def _file(tmp_path: Path, rows, name="问卷.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(workbook({"问卷": rows}))
    return str(path)


SURVEY = [["楼栋", "房号", "客服部", "工程部"], ["1栋", "1-101", "满意", 5], ["1栋", "1-102", "5分", "基本满意"]]
ARGS = ["--project", "翠湖花园", "--survey", "2026年上半年满意度调查"]


def test_survey_import_json(db, tmp_path, capsys):
    capsys.readouterr()
    path = _file(tmp_path, SURVEY)
    code = cli.main(["import", "surveys", path, *ARGS, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    outcome = json.loads(out.out)
    assert outcome["written"] and outcome["counts"]["new"] == 2 and outcome["problems"] == []
    assert "已新建满意度调查" in out.err and "写入数据" in out.err  # progress on stderr
    assert count(db, SurveyResponse) == 2 and count(db, Survey) == 1
    # The same file again: refused, exit 1, nothing added.
    assert cli.main(["import", "surveys", path, *ARGS]) == 1
    assert "该批次已导入" in capsys.readouterr().err
    assert count(db, SurveyResponse) == 2


def test_dry_run_writes_nothing(db, tmp_path, capsys):
    code = cli.main(["import", "surveys", _file(tmp_path, SURVEY), *ARGS, "--dry-run"])
    out = capsys.readouterr()
    assert code == 0 and "预览（未写入）" in out.out
    # the survey named is not there yet, and a dry run does not say it made it
    assert "将新建（预览，未写入）满意度调查“2026年上半年满意度调查”" in out.err and "已新建" not in out.err
    assert count(db, SurveyResponse) == 0 and count(db, Survey) == 0


def test_errors_exit_non_zero_with_every_problem(db, tmp_path, capsys):
    rows = [["楼栋", "房号", "客服部"], ["1栋", "1-101", 11], ["9栋", "9-999", 5]]
    code = cli.main(["import", "surveys", _file(tmp_path, rows), *ARGS, "--json"])
    outcome = json.loads(capsys.readouterr().out)
    assert code == 1 and not outcome["written"] and outcome["counts"]["error"] == 2
    assert [p["row"] for p in outcome["problems"]] == [2, 3]
    assert outcome["problems"][0]["column"] == "客服部" and "超出范围" in outcome["problems"][0]["reason"]
    assert count(db, SurveyResponse) == 0


def test_refused_file(db, tmp_path, capsys):
    path = tmp_path / "旧.xlsx"
    path.write_bytes("楼栋,房号\n1栋,1-101\n".encode())
    assert cli.main(["import", "surveys", str(path), *ARGS]) == 1
    assert "CSV" in capsys.readouterr().err
    assert cli.main(["import", "units", str(tmp_path / "没有.xlsx")]) == 1
    assert "文件不存在" in capsys.readouterr().err


def test_a_file_past_the_size_bound_is_refused_unread(db, tmp_path, capsys, monkeypatch):
    """A file of gigabytes named by mistake: refused by its size on disk, not read into memory first."""
    path = tmp_path / "备份.xlsx"
    with path.open("wb") as sparse:
        sparse.truncate(3 * 2**30)  # 3 GB on disk, no blocks written
    read, before = [], count(db, Unit)
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or b"")
    assert cli.main(["import", "units", str(path), "--project", "翠湖花园"]) == 1
    assert "文件过大（3072.0 MB），上限 10.0 MB" in capsys.readouterr().err
    assert read == [] and count(db, Unit) == before


def test_units_and_csv(db, tmp_path, capsys):
    csv = tmp_path / "房屋.csv"
    csv.write_bytes("楼栋,房号,建筑面积(㎡)\r\n2栋,2-101,99.5\r\n1栋,1-101,80\r\n".encode("gb18030"))
    assert cli.main(["import", "units", str(csv), "--project", "翠湖花园"]) == 0
    out = capsys.readouterr().out
    assert "已导入：房屋.csv 新增 1、更新 1" in out
    assert count(db, Unit) == 4
    assert cli.main(["import", "units", str(csv), "--project", "别处"]) == 1


def test_export_then_reimport_unchanged(db, tmp_path, capsys):
    out = tmp_path / "房屋.xlsx"
    assert cli.main(["export", "unit", str(out), "--project", "翠湖花园"]) == 0
    assert "已导出 3 行" in capsys.readouterr().out
    assert cli.main(["import", "units", str(out), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["counts"]["unchanged"] == 3 and outcome["counts"]["new"] == outcome["counts"]["update"] == 0
    assert cli.main(["export", "nothing", str(out)]) == 1


@pytest.mark.parametrize("kind", ["surveys", "units", "customers", "parking", "staff", "bills", "payments"])
def test_hostile_workbook_is_refused_for_every_kind(db, tmp_path, capsys, kind):
    from tests.data.workbooks import sparse_cell

    path = tmp_path / "攻击.xlsx"
    path.write_bytes(sparse_cell("T1048576"))
    extra = ARGS if kind == "surveys" else ["--project", "翠湖花园"]
    before = count(db, Unit), count(db, SurveyResponse)
    assert cli.main(["import", kind, str(path), *extra]) == 1
    assert "行数过多：第 1,048,576 行有数据，上限 200,100 行" in capsys.readouterr().err
    assert (count(db, Unit), count(db, SurveyResponse)) == before


def test_hostile_workbook_does_not_end_the_process(db, tmp_path):
    """Before the gate, this 5 KB file made the reader ask for 52 GB and the process abort (exit 134)."""
    import os
    import subprocess
    import sys

    from tests.data.workbooks import sparse_cell

    path = tmp_path / "攻击.xlsx"
    path.write_bytes(sparse_cell("XFD100000"))
    done = subprocess.run([sys.executable, "-c", "from admin.cli import main; raise SystemExit(main())",
                           "import", "units", str(path), "--project", "翠湖花园"],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 1, done.stderr
    assert "列数过多：单元格 XFD100000" in done.stderr
    assert count(db, Unit) == 3


def test_every_list_exports_from_the_command_line_as_from_the_console(db, tmp_path, capsys):
    """客户 and 账号 have a column only their list page shows (a customer's 房屋, an account's 角色): the command
    stopped on it with a traceback. It exports the console's columns, headers and sheet name, and the customers
    file imports back unchanged."""
    rows = [["楼栋", "房号", "姓名", "手机号", "关系"], ["1栋", "1-101", "张三", "13800000000", "业主"]]
    assert cli.main(["import", "customers", _file(tmp_path, rows, "业主.xlsx"), "--project", "翠湖花园"]) == 0
    out = tmp_path / "客户.xlsx"
    assert cli.main(["export", "customer", str(out), "--project", "翠湖花园"]) == 0
    assert "已导出 1 行" in capsys.readouterr().out
    sheet = load_workbook(out).active
    assert sheet.title == "客户"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("编号", "项目", "姓名", "客户类型", "手机号", "身份证号", "紧急联系人", "创建时间")
    assert rows[2][2:5] == ("张三", "个人", "138****0000")
    assert cli.main(["import", "customers", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["unchanged"] == 1
    users = tmp_path / "账号.xlsx"
    assert cli.main(["export", "user", str(users)]) == 0
    assert "已导出" in capsys.readouterr().out
    assert "密码" not in str(list(load_workbook(users).active.iter_rows(values_only=True))[1])
