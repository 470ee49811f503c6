"""The ``wuye`` command line against a temporary SQLite file: init, user add/passwd/disable, serve, demo.

Each test calls ``main([...])`` directly and checks the exit code, what was printed and the database state;
a refused command must exit 1 and write nothing.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from actions.accounts import HASHER
from admin import cli
from admin.serving import LeastConnectionsLoop
from models import AuditLog, OperationLog, Role, RoleGrant, User
from models.db import make_engine
from seeds.roles import ROLES
from tests.cli_support import table_counts

SECRET = "cli-test-secret-" + "k" * 40


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("WUYE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("WUYE_SECRET_KEY", raising=False)
    engine = make_engine()
    yield engine
    engine.dispose()


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def user(engine: Engine, username: str) -> User | None:
    with Session(engine) as session:
        found = session.scalar(select(User).where(User.username == username))
        if found is not None:
            _ = [r.name for r in found.roles], [p.name for p in found.projects]
        return found



@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database after ``wuye init --admin root``, made once and copied for each test that needs one."""
    path = tmp_path_factory.mktemp("cli") / "template.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WUYE_DATABASE_URL", f"sqlite:///{path}")
        mp.setattr("sys.stdin", io.StringIO("root-password-1\n"))
        assert cli.main(["init", "--admin", "root", "--password-stdin"]) == 0
    return path


@pytest.fixture
def initialised(template: Path, tmp_path: Path, db: Engine) -> Engine:
    db.dispose()
    shutil.copyfile(template, tmp_path / "cli.db")
    return db


def test_init_migrates_loads_reference_and_creates_the_admin(db: Engine, monkeypatch, capsys) -> None:
    stdin(monkeypatch, "root-password-1\n")

    assert cli.main(["init", "--admin", "root", "--password-stdin"]) == 0

    out = capsys.readouterr().out
    assert "数据库结构已升级到版本" in out
    assert f"基础数据：新增 角色 {len(ROLES)}" in out
    assert "已创建系统管理员账号 root" in out
    assert "WUYE_SECRET_KEY" in out  # how to set the key is explained, init does not fail
    root = user(db, "root")
    assert root.is_superuser and root.is_active
    assert HASHER.verify(root.password_hash, "root-password-1")
    with Session(db) as session:
        assert session.scalar(select(func.count()).select_from(Role)) == len(ROLES)
        audit = session.scalars(select(AuditLog).where(AuditLog.table_name == "user_account")).all()
        assert audit and {(a.actor_name, a.source) for a in audit} == {("命令行", "cli")}


def test_init_twice_changes_nothing(initialised: Engine, monkeypatch, capsys) -> None:
    before = table_counts(initialised)
    monkeypatch.setenv("WUYE_SECRET_KEY", SECRET)

    assert cli.main(["init", "--admin", "root"]) == 0

    out = capsys.readouterr().out
    assert "数据库结构已是最新" in out
    assert "基础数据已齐全，未作修改" in out
    assert "管理员账号 root 已存在，未作修改" in out
    assert "WUYE_SECRET_KEY" not in out
    assert table_counts(initialised) == before


def test_init_generates_and_prints_a_password_once(db: Engine, capsys) -> None:
    assert cli.main(["init", "--admin", "boss"]) == 0

    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("初始密码"))
    password = line.split("：", 1)[1]
    assert HASHER.verify(user(db, "boss").password_hash, password)


def test_user_add_passwd_disable(initialised: Engine, monkeypatch, capsys) -> None:
    stdin(monkeypatch, "desk-password-1\n")
    assert cli.main(["user", "add", "xiaowang", "--role", "前台客服", "楼宇管家", "--display-name", "王小明",
                     "--password-stdin"]) == 0
    assert "已创建账号 xiaowang" in capsys.readouterr().out
    created = user(initialised, "xiaowang")
    assert sorted(r.name for r in created.roles) == ["前台客服", "楼宇管家"]
    assert created.display_name == "王小明" and not created.is_superuser
    assert HASHER.verify(created.password_hash, "desk-password-1")

    stdin(monkeypatch, "new-password-22\n")
    assert cli.main(["user", "passwd", "xiaowang", "--password-stdin"]) == 0
    changed = user(initialised, "xiaowang")
    assert HASHER.verify(changed.password_hash, "new-password-22")
    assert changed.session_epoch == created.session_epoch + 1  # every open session is void

    assert cli.main(["user", "disable", "xiaowang"]) == 0
    disabled = user(initialised, "xiaowang")
    assert not disabled.is_active
    assert disabled.session_epoch == changed.session_epoch + 1
    assert "已停用账号 xiaowang" in capsys.readouterr().out


def test_user_add_with_a_generated_password(initialised: Engine, capsys) -> None:
    assert cli.main(["user", "add", "cashier", "--role", "收费员"]) == 0
    out = capsys.readouterr().out
    password = next(x for x in out.splitlines() if x.startswith("初始密码")).split("：", 1)[1]
    assert HASHER.verify(user(initialised, "cashier").password_hash, password)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["user", "add", "x", "--role", "不存在的角色"], "角色不存在：不存在的角色"),
        (["user", "add", "x", "--role", "前台客服", "--project", "无此项目"], "项目不存在：无此项目"),
        (["user", "add", "x", "--role", "分公司管理", "--branch", "无此分公司"], "分公司不存在：无此分公司"),
        (["user", "add", "x"], "请至少指定一个角色"),
        (["user", "add", "root", "--role", "前台客服"], "用户名 root 已存在"),
        (["user", "disable", "nobody"], "用户 nobody 不存在"),
    ],
)
def test_a_refused_command_exits_1_and_writes_nothing(initialised: Engine, capsys, argv, message) -> None:
    before = table_counts(initialised)

    assert cli.main(argv) == 1

    err = capsys.readouterr().err
    assert message in err
    assert table_counts(initialised) == before


def test_a_too_short_password_is_refused(initialised: Engine, monkeypatch, capsys) -> None:
    before = user(initialised, "root").password_hash
    stdin(monkeypatch, "short\n")

    assert cli.main(["user", "passwd", "root", "--password-stdin"]) == 1

    assert "密码至少 8 位" in capsys.readouterr().err
    assert user(initialised, "root").password_hash == before


def test_user_commands_act_as_the_named_account(initialised: Engine, monkeypatch, capsys) -> None:
    """``--as NAME``: the account's own limits apply and the operation log names it; without it the command line
    acts for the installation, which still keeps its last administrator."""
    with Session(initialised) as session, session.begin():  # a delegated account manager: the 账号 page's grants
        session.add(Role(name="账号管理", description="", accesses=[
            RoleGrant(identity="user", action=a) for a in ("list", "details", "create", "edit")]))
    assert cli.main(["user", "add", "mgr", "--role", "客服经理", "账号管理"]) == 0
    assert cli.main(["user", "add", "desk", "--role", "前台客服"]) == 0
    assert cli.main(["user", "grant", "desk", "--role", "楼宇管家", "--as", "mgr"]) == 0
    assert sorted(r.name for r in user(initialised, "desk").roles) == ["前台客服", "楼宇管家"]
    with Session(initialised) as session:
        log = session.scalar(select(OperationLog).where(OperationLog.operation == "grant_roles"))
        assert log.actor_name == "mgr" and log.actor_id == user(initialised, "mgr").id
        assert session.scalar(select(OperationLog.actor_name).where(OperationLog.operation == "add_user")) == "命令行"
    capsys.readouterr()

    root_hash = user(initialised, "root").password_hash
    stdin(monkeypatch, "taken-over-pass-1\n")
    for argv, message in (
        (["user", "grant", "desk", "--role", "系统管理员", "--as", "mgr"], "不能授予超出自己权限的角色：系统管理员"),
        (["user", "passwd", "root", "--password-stdin", "--as", "mgr"], "只有系统管理员可以修改系统管理员账号"),
        (["user", "disable", "mgr", "--as", "mgr"], "不能修改自己账号的启用"),
        (["user", "add", "evil", "--superuser", "--as", "mgr"], "只有系统管理员可以设置系统管理员"),
        (["user", "disable", "root"], "至少须保留一个启用的系统管理员账号"),
        (["user", "disable", "desk", "--as", "nobody"], "--as：账号 nobody 不存在或已停用"),
        # without the 账号 page's grants, as on the console
        (["user", "disable", "mgr", "--as", "desk"], "账号 desk 没有“修改账号”的权限"),
        (["user", "grant", "desk", "--role", "楼宇管家", "--as", "desk"], "账号 desk 没有“修改账号”的权限"),
        (["user", "add", "evil", "--role", "前台客服", "--as", "desk"], "账号 desk 没有“新建账号”的权限"),
    ):
        before = table_counts(initialised)
        assert cli.main(argv) == 1, argv
        assert message in capsys.readouterr().err, argv
        assert table_counts(initialised) == before, argv
    assert user(initialised, "root").is_active and user(initialised, "desk").is_active
    assert user(initialised, "root").password_hash == root_hash


def test_passwd_without_a_terminal_asks_for_password_stdin(initialised: Engine, monkeypatch, capsys) -> None:
    stdin(monkeypatch, "")
    assert cli.main(["user", "passwd", "root"]) == 1
    assert "--password-stdin" in capsys.readouterr().err


def test_a_database_without_tables_asks_for_init(db: Engine, capsys) -> None:
    assert cli.main(["user", "disable", "someone"]) == 2
    err = capsys.readouterr().err
    assert "wuye init" in err and "WUYE_DATABASE_URL" not in err


def test_only_an_unreachable_database_asks_to_check_the_url(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WUYE_DATABASE_URL", f"sqlite:///{tmp_path / 'no-such-folder' / 'cli.db'}")
    assert cli.main(["user", "disable", "someone"]) == 2
    assert "无法连接数据库" in (err := capsys.readouterr().err) and "WUYE_DATABASE_URL" in err


def test_user_add_beside_a_running_console_waits_its_turn(initialised: Engine, monkeypatch, capsys) -> None:
    """RELIABILITY B11 / issue 14 item 3: the console holds SQLite's write lock and commits a write while the
    command runs. Reading first and writing later, the command failed at once (「database is locked」, with a
    misleading 「请检查 WUYE_DATABASE_URL」); taking the lock first, it waits and then adds the account."""
    import threading
    import time

    from models.db import writing

    holding, done = threading.Event(), threading.Event()

    def console_write() -> None:
        with writing(), initialised.begin() as conn:  # a console POST: BEGIN IMMEDIATE
            conn.exec_driver_sql("UPDATE user_account SET display_name = '管理员' WHERE username = 'root'")
            holding.set()
            time.sleep(1.0)
        done.set()

    writer = threading.Thread(target=console_write)
    writer.start()
    holding.wait(10)
    stdin(monkeypatch, "pass-word-123\n")
    code = cli.main(["user", "add", "xiaowang", "--role", "前台客服", "--password-stdin"])
    writer.join(10)
    assert (code, done.is_set()) == (0, True), capsys.readouterr().err
    assert user(initialised, "xiaowang") is not None and user(initialised, "root").display_name == "管理员"


def test_a_busy_database_is_not_called_unreachable() -> None:
    from sqlalchemy.exc import OperationalError

    code, message = cli.database_problem(OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked")))
    assert code == cli.REFUSED and "数据库正忙" in message and "WUYE_DATABASE_URL" not in message


def test_serve_needs_the_secret_key(db: Engine, capsys) -> None:
    assert cli.main(["serve"]) == 2
    assert "WUYE_SECRET_KEY" in capsys.readouterr().err


@pytest.fixture
def uvicorn_logging() -> Iterator[None]:
    """``uvicorn.Config`` sets up logging for the whole process: its loggers' handlers, writing to the stream this
    test's capsys holds (closed after the test), and their levels. Put back as they were, or the tests' console
    server (tests/browser_support.py) would log to a closed stream when it stops."""
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")]
    kept = [(logger, logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, handlers, level, propagate in kept:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("uvicorn_logging")
def test_serve_runs_the_console(initialised: Engine, monkeypatch, capsys) -> None:
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("WUYE_SECRET_KEY", SECRET)
    monkeypatch.setenv("WUYE_TRUSTED_PROXIES", "")  # restored after the test: serve hands it to its workers

    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "9001", "--workers", "3",
                     "--forwarded-allow-ips", "10.0.0.5,10.0.1.0/24"]) == 0

    (app, kw), = calls
    assert (kw["host"], kw["port"], kw["workers"], kw["factory"], kw["proxy_headers"]) == ("0.0.0.0", 9001, 3, True, False)
    # a worker slow to start on a busy machine is waited for, not killed after uvicorn's 5 s and restarted in a loop
    assert kw["timeout_worker_healthcheck"] >= 30
    assert uvicorn.Config(app, **kw).timeout_worker_healthcheck == kw["timeout_worker_healthcheck"]  # a real option
    # the processes share the socket by least connections (tests/admin/test_serving.py), in uvicorn's loop setting
    assert uvicorn.Config(app, **kw).get_loop_factory() is LeastConnectionsLoop
    assert os.environ["WUYE_TRUSTED_PROXIES"] == "10.0.0.5,10.0.1.0/24"
    module, _, factory = app.partition(":")  # what each worker process builds
    assert hasattr(getattr(importlib.import_module(module), factory)().state, "admin")
    assert "http://0.0.0.0:9001/admin/" in capsys.readouterr().out
    assert cli.main(["serve", "--workers", "1"]) == 0  # alone on its socket: uvicorn's own loop
    assert calls[-1][1]["loop"] == "auto"
    assert cli.main(["serve", "--workers", "0"]) == 2
    monkeypatch.setenv("WUYE_DB_POOL_SIZE", "十")
    assert cli.main(["serve"]) == 2
    assert "WUYE_DB_POOL_SIZE 应为正整数" in capsys.readouterr().err
    monkeypatch.delenv("WUYE_DB_POOL_SIZE")
    monkeypatch.setenv("WUYE_JOB_RUNNER", "celery")
    assert cli.main(["serve"]) == 2
    assert "WUYE_JOB_RUNNER 应为 thread" in capsys.readouterr().err
    assert len(calls) == 2


def test_worker_runs_the_queued_jobs(initialised: Engine, monkeypatch, capsys) -> None:
    from actions.job_runner import JobRunner

    ran = []
    monkeypatch.setattr(JobRunner, "run_forever", lambda self: ran.append(self.run_once()))  # one round, then stop
    import signal

    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["worker"]) == 0
    assert ran == [False]  # nothing queued
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's SIGTERM handler given back
    assert "后台任务处理进程已启动" in capsys.readouterr().out


def test_demo_prints_the_accounts_and_serves_with_a_temporary_key(db: Engine, monkeypatch, capsys) -> None:
    import seeds.demo

    monkeypatch.setattr(seeds.demo, "load_demo", lambda session: {"branch": 2, "project": 4})
    calls = []
    monkeypatch.setattr(cli, "serve", lambda args, key: calls.append((args.host, args.port, key)) or 0)

    assert cli.main(["demo", "--port", "8100"]) == 0

    out = capsys.readouterr().out
    assert "演示数据：已载入 6 行" in out
    for account in seeds.demo.ACCOUNTS:
        assert account.username in out
    assert seeds.demo.DEMO_PASSWORD in out
    assert "未设置 WUYE_SECRET_KEY" in out
    (host, port, key), = calls
    assert (host, port) == ("127.0.0.1", 8100) and len(key) >= 32


def test_demo_no_serve(db: Engine, monkeypatch, capsys) -> None:
    import seeds.demo

    monkeypatch.setattr(seeds.demo, "load_demo", lambda session: {})
    monkeypatch.setattr(cli, "serve", lambda *a: pytest.fail("must not serve"))

    assert cli.main(["demo", "--no-serve"]) == 0
    assert "演示数据已存在" in capsys.readouterr().out


def test_help_and_usage_errors(capsys) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "用法：" in out and "init" in out and "user" in out
    assert cli.main(["no-such-command"]) == 2
    assert cli.main([]) == 2
    assert "错误" in capsys.readouterr().err


def test_a_command_can_be_registered(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))
    monkeypatch.setattr(cli, "GROUPS", dict(cli.GROUPS))
    cli.group("zz-example", "示例命令组")

    @cli.command("zz-example hello", "示例命令", lambda p: p.add_argument("month"))
    def hello(args) -> int:
        print(f"hello {args.month}")
        return 0

    assert cli.main(["zz-example", "hello", "2026-10"]) == 0
    assert "hello 2026-10" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert "示例命令组" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["export", "department"], ["monthly-report", "--month", "2026-10"]])
def test_a_file_that_cannot_be_written_is_refused_before_the_work(initialised: Engine, tmp_path: Path, capsys,
                                                                  argv) -> None:
    """A bad output path: exit 1 with the reason in Chinese, no traceback, no file and no operation-log row."""
    before = table_counts(initialised)
    missing = tmp_path / "no-such-dir" / "x.xlsx"
    for target, message in ((missing, f"输出目录不存在：{missing.parent}"), (tmp_path, "是一个目录，请指定文件名")):
        assert cli.main([*argv, str(target)]) == 1
        captured = capsys.readouterr()
        assert message in captured.err and "Traceback" not in captured.err
        assert captured.out == ""  # nothing was exported before the refusal
    assert not missing.parent.exists()
    assert table_counts(initialised) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write to any directory")
def test_an_unwritable_directory_is_refused(initialised: Engine, tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    before = table_counts(initialised)
    assert cli.main(["export", "department", str(locked / "x.xlsx")]) == 1
    assert f"没有写入权限：{locked}" in capsys.readouterr().err
    assert table_counts(initialised) == before and list(locked.iterdir()) == []


def test_export_to_a_writable_path_still_works(initialised: Engine, tmp_path: Path, capsys) -> None:
    target = tmp_path / "部门.xlsx"
    assert cli.main(["export", "department", str(target)]) == 0
    assert "已导出" in capsys.readouterr().out and target.stat().st_size > 0


def test_json_prints_every_result_one_way(capsys) -> None:
    """``--json`` of any command: a result dataclass's fields and its message; enums as values, amounts exact,
    dates ISO, nested results and pairs as lists — and a result that declares ``to_dict()`` prints that."""
    import datetime as dt
    import inspect
    import json
    from dataclasses import dataclass
    from decimal import Decimal

    from models import Priority

    @dataclass(frozen=True)
    class Line:
        day: dt.date
        priority: Priority

    @dataclass(frozen=True)
    class Result:
        total: Decimal
        lines: tuple[Line, ...]
        by_name: tuple[tuple[str, int], ...]
        at: dt.datetime

        @property
        def message(self) -> str:
            return f"共 {len(self.lines)} 条"

    @dataclass(frozen=True)
    class Declared:
        rows: tuple[int, ...]

        def to_dict(self) -> dict:
            return {"rows": len(self.rows)}

    at = dt.datetime(2026, 12, 7, 9, 5, tzinfo=dt.UTC)
    cli.print_json([Result(Decimal("2055.00"), (Line(dt.date(2026, 12, 7), Priority.URGENT),), (("工程部", 2),), at)])
    assert json.loads(capsys.readouterr().out) == [{
        "total": "2055.00", "lines": [{"day": "2026-12-07", "priority": Priority.URGENT.value}],
        "by_name": [["工程部", 2]], "at": "2026-12-07T09:05:00+00:00", "message": "共 1 条"}]
    cli.print_json(Declared((1, 2, 3)))
    assert json.loads(capsys.readouterr().out) == {"rows": 3}
    # no command prints JSON its own way
    assert inspect.getsource(cli).count("json.dumps(") == 1


def test_a_rule_only_the_database_holds_is_refused_in_chinese(initialised: Engine, monkeypatch, capsys) -> None:
    """A write the database itself refuses (here a second 项目 of the same name) ends the command with exit 1, the
    constraint told in Chinese on stderr and no traceback; the whole transaction is rolled back."""
    from models import Branch, Project

    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))
    monkeypatch.setattr(cli, "GROUPS", dict(cli.GROUPS))

    @cli.command("zz-twice", "示例：同名项目写两次")
    def twice(args) -> int:
        with cli.transaction() as session:
            branch = Branch(name="示例分公司")
            session.add_all([Project(name="同名项目", branch=branch), Project(name="同名项目", branch=branch)])
            session.flush()
        return 0

    before = table_counts(initialised)
    assert cli.main(["zz-twice"]) == 1
    err = capsys.readouterr().err
    assert "错误：已存在相同「项目名称」的项目记录；没有写入任何内容" in err and "Traceback" not in err, err
    assert table_counts(initialised) == before


@pytest.mark.parametrize(("argv", "said"), [
    (["dispatch", "--project", "1"], "wuye：错误：无法识别的参数：--project（用 -h 查看该命令的参数）"),
    (["dunning", "--stage", "9"], "wuye dunning：错误：参数 --stage：无效的选项 '9'（可选：'1', '2', '3', '4'）"),
    (["serve", "--port", "abc"], "wuye serve：错误：参数 --port：无效的值 'abc'（应为整数）"),
    (["export", "work-order"], "wuye export：错误：缺少必需的参数：文件"),
    (["scores", "--month"], "wuye scores：错误：参数 --month：缺少参数值"),
])
def test_a_mistyped_command_line_is_refused_in_chinese(capsys, argv, said) -> None:
    """argparse's own refusals were English (「unrecognized arguments: --project」) after a Chinese 「错误：」."""
    assert cli.main(argv) == cli.USAGE
    err = capsys.readouterr().err
    assert said in err and not re.search(r"[a-z]+ [a-z]+ [a-z]+", err.split("错误：", 1)[1]), err
