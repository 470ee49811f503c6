"""``wuye`` — the command line: set up the database, load the demo, serve the console, manage accounts.

A thin caller of ``actions/`` and ``seeds/``: each command is one small function registered with
:func:`command`, taking the parsed arguments and returning the exit code. Database work runs in
:func:`transaction`, which stamps the session with the command-line actor so the audit trail says who.

Adding a command::

    group("scores", "员工考核")

    def _compute_args(p):
        p.add_argument("project", help="项目名称")

    @command("scores compute", "计算月度考核得分", _compute_args)
    def cmd_scores_compute(args) -> int:
        with transaction() as session:
            ...
        return OK

Exit codes: 0 done, 1 refused (the reason goes to stderr; nothing was written), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import re
import secrets
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields, is_dataclass, replace
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from actions.actor import Actor
from actions.errors import Refused
from actions.kernel.periods import current_period
from actions.kernel.scope import project_ids_named, project_named

OK, REFUSED, USAGE = 0, 1, 2
CLI_ACTOR = Actor(user_id=None, name="命令行", project_ids=None, source="cli")

Handler = Callable[[argparse.Namespace], int]


# --- the registry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    name: str  # "init", or "user add" for a command inside a group
    help: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


COMMANDS: dict[str, Command] = {}
GROUPS: dict[str, str] = {}


def group(name: str, help: str) -> None:
    """Declare a command group (``wuye user …``) and its help text."""
    GROUPS[name] = help


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] | None = None):
    """Register ``handler`` as ``wuye <name>``; ``arguments`` adds the command's options to its parser."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = Command(name, help, handler, arguments)
        return handler

    return register


# --- Chinese argparse --------------------------------------------------------------------------------
class _HelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class ArgumentParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示此帮助并退出")

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}：错误：{_chinese(message)}\n")


# argparse's own refusals (it has no Chinese catalog): what was typed, said in Chinese — 「unrecognized arguments」
# reached a user who typed --project where the command takes 项目 as a word.
_ARGPARSE_WORDS = (
    (re.compile(r"^unrecognized arguments: (.*)$"), "无法识别的参数：{0}（用 -h 查看该命令的参数）"),
    (re.compile(r"^the following arguments are required: (.*)$"), "缺少必需的参数：{0}"),
    (re.compile(r"^one of the arguments (.*) is required$"), "须指定以下参数之一：{0}"),
    (re.compile(r"^invalid choice: (.*) \(choose from (.*)\)$"), "无效的选项 {0}（可选：{1}）"),
    (re.compile(r"^invalid (\w+) value: (.*)$"), "无效的值 {1}（应为{0}）"),
    (re.compile(r"^expected one argument$"), "缺少参数值"),
    (re.compile(r"^expected at least one argument$"), "至少需要一个参数值"),
    (re.compile(r"^not allowed with argument (.*)$"), "不能与参数 {0} 同时使用"),
    (re.compile(r"^ambiguous option: (.*) could match (.*)$"), "参数 {0} 不明确，可能是：{1}"),
)
_ARGPARSE_TYPES = {"int": "整数", "float": "数字"}


def _chinese(message: str) -> str:
    argument, _, rest = message.partition(": ") if message.startswith("argument ") else ("", "", message)
    for pattern, words in _ARGPARSE_WORDS:
        if match := pattern.match(rest):
            said = words.format(*(_ARGPARSE_TYPES.get(g, g) for g in match.groups()))
            return f"参数 {argument.removeprefix('argument ')}：{said}" if argument else said
    return message


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="wuye", description="物业客服后台 命令行工具")
    top = parser.add_subparsers(title="命令", dest="command", metavar="<命令>", parser_class=ArgumentParser)
    top.required = True
    subgroups: dict[str, Any] = {}
    for cmd in COMMANDS.values():
        head, _, rest = cmd.name.partition(" ")
        if rest:
            if head not in subgroups:
                gp = top.add_parser(head, help=GROUPS.get(head, ""), description=GROUPS.get(head, ""))
                subgroups[head] = gp.add_subparsers(title="命令", dest="subcommand", metavar="<命令>",
                                                    parser_class=ArgumentParser)
                subgroups[head].required = True
            p = subgroups[head].add_parser(rest, help=cmd.help, description=cmd.help)
        else:
            p = top.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        if cmd.arguments:
            cmd.arguments(p)
        p.set_defaults(handler=cmd.handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return int(exc.code or 0)
    try:
        return args.handler(args)
    except Refused as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return REFUSED
    except (OperationalError, ProgrammingError) as exc:
        code, message = database_problem(exc)
        print(message, file=sys.stderr)
        return code
    except (IntegrityError, DataError) as exc:  # a rule only the database held: told in Chinese, rolled back
        from actions.errors import integrity_message

        print(f"错误：{integrity_message(exc)}；没有写入任何内容", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        return 130


def database_problem(exc: OperationalError | ProgrammingError) -> tuple[int, str]:
    """(exit code, what to tell the operator) for a database error: busy is not unreachable, and neither is a
    database that was never set up."""
    from models.db import LOCK_WAIT_SECONDS, is_busy, is_lock_timeout

    text = str(exc.orig)
    if isinstance(exc, OperationalError) and (is_lock_timeout(exc) or is_busy(exc)):
        return REFUSED, (f"数据库正忙：控制台或另一个命令正在写入，等候 {LOCK_WAIT_SECONDS} 秒仍未轮到；"
                         "没有写入任何内容，请稍后重试")
    if "no such table" in text or "does not exist" in text and "relation" in text:
        return USAGE, f"数据库尚未初始化（{text.splitlines()[0]}）：请先运行 wuye init"
    return USAGE, f"无法连接数据库：{text.splitlines()[0] if text else type(exc.orig).__name__}\n请检查 WUYE_DATABASE_URL"


# --- helpers -----------------------------------------------------------------------------------------
@contextmanager
def database() -> Iterator[Engine]:
    from models.db import make_engine

    engine = make_engine()
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction(engine: Engine | None = None, *, reads_first: bool = False) -> Iterator[Session]:
    """One transaction for one command: committed at the end, rolled back on any error or refusal.

    Every command writes (at least its audit row), so on SQLite it takes the write lock first and waits its
    turn beside a running console (models.db.WriteIntent) — reading first and writing later would fail at once
    if the console wrote in between. ``reads_first``: a long read that writes only at its end (an export) takes
    no lock; its caller runs it through ``models.db.in_turn``, which retries it with the lock if need be."""
    import actions  # noqa: F401  (installs the audit hook)
    from models.db import make_sessionmaker, writing

    with database() if engine is None else _given(engine) as bound, nullcontext() if reads_first else writing():
        with make_sessionmaker(bound).begin() as session:
            session.info["actor"] = CLI_ACTOR
            yield session


@contextmanager
def _given(engine: Engine) -> Iterator[Engine]:
    yield engine


def read_password(args: argparse.Namespace) -> str | None:
    """The password from stdin with ``--password-stdin``, else None (the caller generates or prompts)."""
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise Refused("未从标准输入读到密码")
        return line
    return None


def prompt_password() -> str:
    if not sys.stdin.isatty():
        raise Refused("非交互环境请使用 --password-stdin 从标准输入传入密码")
    first = getpass.getpass("新密码：")
    if first != getpass.getpass("再次输入新密码："):
        raise Refused("两次输入的密码不一致")
    return first


def output_path(file: str) -> Path:
    """The file a command will write, checked before any work: a typo in the path is refused up front, not
    after a long export (and, for a report, after its operation log was written)."""
    path = Path(file)
    folder = path.parent
    if path.is_dir():
        raise Refused(f"输出文件“{file}”是一个目录，请指定文件名，如 {path / '导出.xlsx'}")
    if not folder.is_dir():
        raise Refused(f"输出目录不存在：{folder}（文件“{file}”），请先创建该目录或换一个路径")
    if not os.access(folder, os.W_OK | os.X_OK) or path.exists() and not os.access(path, os.W_OK):
        raise Refused(f"没有写入权限：{path if path.exists() else folder}（文件“{file}”）")
    return path


def _labels() -> dict[str, str]:
    from models import Base

    return {m.local_table.name: m.class_.__label__ or m.local_table.name for m in Base.registry.mappers}


def describe_counts(counts: dict[str, int]) -> str:
    labels = _labels()
    return "、".join(f"{labels.get(table, table)} {n}" for table, n in counts.items() if n)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Rows aligned in columns; Chinese characters count two columns wide, as a terminal shows them."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        print("  " + "  ".join(cells).rstrip())


def jsonable(value: Any) -> Any:
    """A result as JSON data, the same way for every command: a dataclass is its fields plus its ``message``
    (or its own ``to_dict()`` when it declares one, as an import's result leaves its rows out); enums are their
    values, amounts exact strings, dates ISO, tuples lists."""
    if is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return jsonable(value.to_dict())
        data = {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
        message = getattr(value, "message", None)
        return data | ({"message": message} if isinstance(message, str) else {})
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date | dt.time):  # a datetime is a date
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def print_json(result: Any) -> None:
    """``--json``: the command's result (or its results, one per project) for scripts."""
    print(json.dumps(jsonable(result), ensure_ascii=False))


def _shown_url(engine: Engine) -> str:
    return make_url(str(engine.url)).render_as_string(hide_password=True)


def migrate(engine: Engine) -> str:
    """``alembic upgrade head`` on this engine; returns what happened, in Chinese."""
    from alembic import command as alembic_command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from models.db import alembic_config

    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        if before == head:
            return f"数据库结构已是最新（版本 {head}）"
        cfg.attributes["connection"] = conn
        alembic_command.upgrade(cfg, "head")
    return f"数据库结构已升级到版本 {head}（原版本：{before or '空库'}）"


def secret_key_hint() -> str | None:
    """None when WUYE_SECRET_KEY is usable, else the Chinese explanation of how to set it."""
    from admin.app import ConfigError, secret_key_from_env

    try:
        secret_key_from_env()
    except ConfigError as exc:
        return str(exc)
    return None


# --- init --------------------------------------------------------------------------------------------
def _init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--admin", metavar="用户名", help="同时创建第一个系统管理员账号（已存在则不作修改）")
    p.add_argument("--password-stdin", action="store_true",
                   help="从标准输入读取管理员密码（不加此项则自动生成并只显示一次）")


def setup_database(engine: Engine, session: Session) -> None:
    from seeds.reference import load_reference

    print(f"数据库：{_shown_url(engine)}")
    print(migrate(engine))
    counts = load_reference(session)
    if any(counts.values()):
        print(f"基础数据：新增 {describe_counts(counts)}")
    else:
        print("基础数据已齐全，未作修改")


@command("init", "升级数据库结构，载入基础数据（角色权限、部门、派工路由、时限、考核细则），可创建管理员", _init_args)
def cmd_init(args: argparse.Namespace) -> int:
    from actions.accounts import ADMIN_ROLE, add_user
    from actions.reference import existing_usernames

    password = read_password(args)
    with database() as engine, transaction(engine) as session:
        setup_database(engine, session)
        if args.admin:
            if existing_usernames(session, [args.admin]):
                print(f"管理员账号 {args.admin} 已存在，未作修改")
            else:
                result = add_user(session, username=args.admin, password=password, roles=[ADMIN_ROLE],
                                  superuser=True, display_name=ADMIN_ROLE, actor=CLI_ACTOR)
                print(f"已创建系统管理员账号 {result.username}")
                if result.generated_password:
                    print(f"初始密码（只显示这一次，请登录后修改）：{result.generated_password}")
    hint = secret_key_hint()
    if hint:
        print(f"\n提示：启动后台前需要设置密钥。{hint}")
    return OK


# --- serve -------------------------------------------------------------------------------------------
WORKER_HEALTHCHECK_SECONDS = 60

def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1）")
    p.add_argument("--port", type=int, default=8000, help="监听端口（默认 8000）")
    p.add_argument("--workers", type=int, default=1,
                   help="进程数（默认 1）；每个进程最多占用 WUYE_DB_POOL_SIZE + WUYE_DB_MAX_OVERFLOW 个数据库连接")
    p.add_argument("--forwarded-allow-ips", metavar="地址",
                   help="可信反向代理的地址或网段，逗号分隔（默认取 WUYE_TRUSTED_PROXIES，再默认 127.0.0.1）："
                        "只采信这些地址发来的 X-Forwarded-For / X-Forwarded-Proto")


def serve(args: argparse.Namespace, secret_key: str) -> int:
    """uvicorn, in ``--workers`` processes: each builds the console from the environment (``app_from_env``), so
    what this process decided (the key, the trusted proxies) goes to them through it."""
    import uvicorn

    from models.db import pool_settings

    if args.workers < 1:
        print("错误：--workers 至少为 1", file=sys.stderr)
        return USAGE
    from admin.jobs import runner_mode_from_env

    try:
        pool_settings()
        runner_mode_from_env()
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return USAGE
    os.environ["WUYE_SECRET_KEY"] = secret_key
    if args.forwarded_allow_ips:
        os.environ["WUYE_TRUSTED_PROXIES"] = args.forwarded_allow_ips
    print(f"物业客服后台：http://{args.host}:{args.port}/admin/  （{args.workers} 个进程，Ctrl+C 停止）", flush=True)
    # proxy_headers off: the console itself decides whom to believe (admin.app, WUYE_TRUSTED_PROXIES).
    # uvicorn's supervisor kills a worker that has not answered its health ping within 5 s by default — on a
    # busy 2-core machine a starting worker (≈ 4–6 s) or one in a long CPU-bound export missed it and was
    # restarted in a loop; a worker that is really hung is still replaced, after WORKER_HEALTHCHECK_SECONDS.
    # Several processes on one socket: the one holding the fewest connections accepts the next (admin.serving).
    loop = "admin.serving:LeastConnectionsLoop" if args.workers > 1 else "auto"
    uvicorn.run("admin.app:app_from_env", factory=True, host=args.host, port=args.port, workers=args.workers,
                proxy_headers=False, log_level="info", timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                loop=loop)
    return OK


@command("serve", "启动物业客服后台（需要环境变量 WUYE_SECRET_KEY）", _serve_args)
def cmd_serve(args: argparse.Namespace) -> int:
    from admin.app import ConfigError, secret_key_from_env

    try:
        key = secret_key_from_env()
    except ConfigError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return USAGE
    return serve(args, key)


@command("worker", "启动后台任务处理进程（导出、导入等大任务；可启动多个，PostgreSQL）")
def cmd_worker(args: argparse.Namespace) -> int:
    """Claims and runs 后台任务 until stopped: SIGTERM ends it once the job at hand is done; a worker killed
    mid-job leaves nothing written (the job's work is one transaction) and its lease runs out, so another worker
    runs the job again. The app processes then need not run jobs themselves: ``WUYE_JOB_RUNNER=worker``."""
    import secrets
    import signal

    from admin.app import create_app

    with database() as engine:
        # The console's views, built but never served: an export job builds the list's query as the list does.
        app = create_app(engine, secret_key=secrets.token_urlsafe(48), run_jobs="worker")
        runner = app.state.admin.jobs.runner
        # the caller's own handler back afterwards: run in-process (a test), SIGTERM must stop the caller again
        previous = signal.signal(signal.SIGTERM, lambda *_: runner.stop())
        print(f"后台任务处理进程已启动（{runner.name}，数据库 {_shown_url(engine)}），Ctrl+C 停止", flush=True)
        try:
            runner.run_forever()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    return OK


# --- demo --------------------------------------------------------------------------------------------
def _demo_args(p: argparse.ArgumentParser) -> None:
    _serve_args(p)
    p.add_argument("--no-serve", action="store_true", help="只载入演示数据，不启动后台")


@command("demo", "初始化数据库并载入演示数据（4 个项目、约 2400 户、一年的账单与报事），然后启动后台", _demo_args)
def cmd_demo(args: argparse.Namespace) -> int:
    from actions.reference import existing_usernames
    from seeds.demo import ACCOUNTS, DEMO_PASSWORD, demo_loaded, load_demo

    with database() as engine, transaction(engine) as session:
        setup_database(engine, session)
        # An account that exists before the first demo load (``init --admin admin``) is kept as it is.
        kept = set() if demo_loaded(session) else existing_usernames(session, [a.username for a in ACCOUNTS])
        started = time.perf_counter()
        counts = load_demo(session)
        elapsed = time.perf_counter() - started
    if counts:
        print(f"演示数据：已载入 {sum(counts.values())} 行，用时 {elapsed:.1f} 秒")
        print(f"  {describe_counts(counts)}")
    else:
        print("演示数据已存在，未作修改（账号密码如未修改仍如下表）")
    print("\n演示账号：")
    rows = [("角色", "用户名", "密码", "范围")] + [
        (a.role, a.username, "（原有账号，密码未改）" if a.username in kept else DEMO_PASSWORD, a.display)
        for a in ACCOUNTS
    ]
    print_table(rows)
    if args.no_serve:
        return OK
    key = os.environ.get("WUYE_SECRET_KEY", "")
    if len(key) < 32:
        key = secrets.token_urlsafe(48)
        print("\n注意：未设置 WUYE_SECRET_KEY，本次已临时生成密钥；重启后需要重新登录。")
    print()
    return serve(args, key)


# --- user --------------------------------------------------------------------------------------------
group("user", "管理后台账号：新建、改密码、授予角色、停用")


def _acting_user_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="acting_user", metavar="用户名",
                   help="以该账号的身份操作：受其权限与项目范围限制，操作日志记为该账号（不指定则记为“命令行”）")


def acting_user(session: Session, args: argparse.Namespace, grant: tuple[str, str] | None = None,
                doing: str = "") -> Actor:
    """``--as NAME``: the account the command acts for, with its scope and grants (refused without ``grant``, the
    console's grant for ``doing``); else the command line itself, which acts for whoever runs the installation."""
    from actions.accounts import acting_as, require_grant

    name = getattr(args, "acting_user", None)
    if not name:
        return CLI_ACTOR
    actor = acting_as(session, name, source="cli")
    if grant is not None:
        require_grant(actor, *grant, doing)
    return actor


def _user_add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username", metavar="用户名")
    p.add_argument("--role", dest="roles", action="extend", nargs="+", default=[], metavar="角色",
                   help="角色名称，可多次指定，如 前台客服、客服主管")
    p.add_argument("--project", dest="projects", action="extend", nargs="+", default=[], metavar="项目",
                   help="可访问的项目名称，可多次指定")
    p.add_argument("--branch", metavar="分公司", help="所属分公司：可查看该分公司的全部项目")
    p.add_argument("--display-name", default="", metavar="姓名", help="显示的姓名（默认同用户名）")
    p.add_argument("--superuser", action="store_true", help="系统管理员：不受项目范围和权限限制")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（不加此项则自动生成并只显示一次）")
    _acting_user_arg(p)


@command("user add", "新建账号", _user_add_args)
def cmd_user_add(args: argparse.Namespace) -> int:
    from actions.accounts import add_user
    from actions.reference import branch_id

    if not args.roles and not args.superuser:
        raise Refused("请至少指定一个角色（--role），或使用 --superuser")
    password = read_password(args)
    with transaction() as session:
        result = add_user(
            session,
            username=args.username,
            password=password,
            roles=args.roles,
            projects=args.projects,
            branch_id=branch_id(session, args.branch) if args.branch else None,
            display_name=args.display_name,
            superuser=args.superuser,
            actor=acting_user(session, args, ("user", "create"), "新建账号"),
        )
    scope = "、".join(args.projects) or (args.branch or ("全部项目" if args.superuser else "无"))
    print(f"已创建账号 {result.username}（角色：{'、'.join(args.roles) or '无'}；范围：{scope}）")
    if result.generated_password:
        print(f"初始密码（只显示这一次，请登录后修改）：{result.generated_password}")
    return OK


def _user_name_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username", metavar="用户名")
    _acting_user_arg(p)


def _user_passwd_args(p: argparse.ArgumentParser) -> None:
    _user_name_args(p)
    p.add_argument("--password-stdin", action="store_true", help="从标准输入读取新密码（否则在终端输入两次）")


@command("user passwd", "修改账号密码（该账号已登录的会话全部失效）", _user_passwd_args)
def cmd_user_passwd(args: argparse.Namespace) -> int:
    from actions.accounts import set_password

    password = read_password(args) or prompt_password()
    with transaction() as session:
        result = set_password(session, username=args.username, password=password,
                              actor=acting_user(session, args, ("user", "edit"), "修改账号"))
    print(f"已修改 {result.username} 的密码；该账号已登录的会话全部失效")
    return OK


def _user_grant_args(p: argparse.ArgumentParser) -> None:
    _user_name_args(p)
    p.add_argument("--role", dest="roles", action="extend", nargs="+", default=[], metavar="角色",
                   help="授予的角色名称，可多次指定")
    p.add_argument("--revoke", action="extend", nargs="+", default=[], metavar="角色", help="撤销的角色名称，可多次指定")


@command("user grant", "授予或撤销账号的角色", _user_grant_args)
def cmd_user_grant(args: argparse.Namespace) -> int:
    from actions.accounts import grant_roles

    if not args.roles and not args.revoke:
        raise Refused("请指定要授予（--role）或撤销（--revoke）的角色")
    with transaction() as session:
        result = grant_roles(session, username=args.username, add=args.roles, remove=args.revoke,
                             actor=acting_user(session, args, ("user", "edit"), "修改账号"))
    print(f"已更新 {result.username} 的角色（授予：{'、'.join(args.roles) or '无'}；撤销：{'、'.join(args.revoke) or '无'}）")
    return OK


@command("user disable", "停用账号（该账号已登录的会话全部失效）", _user_name_args)
def cmd_user_disable(args: argparse.Namespace) -> int:
    from actions.accounts import disable_user

    with transaction() as session:
        result = disable_user(session, username=args.username,
                              actor=acting_user(session, args, ("user", "edit"), "修改账号"))
    print(f"已停用账号 {result.username}；该账号已登录的会话全部失效")
    return OK


# --- 派工 ----------------------------------------------------------------------------------------------
def _dispatch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", metavar="项目", help="项目名称")
    p.add_argument("--request", dest="requests", action="extend", nargs="+", type=int, default=[], metavar="编号",
                   help="只派这些客户诉求（编号，可多个）；不指定则派该项目全部待派工的诉求")
    p.add_argument("--department", metavar="部门", help="处理部门名称；不指定则按派工路由")
    p.add_argument("--assignee", metavar="工号", help="处理人的工号")
    p.add_argument("--priority", metavar="优先级", help="紧急/高/普通/低；不指定则按诉求")
    p.add_argument("--deadline", metavar="时间", help="完成时限，北京时间，如 2026-11-25T18:00；不指定则按时限规则")
    p.add_argument("--dry-run", action="store_true", help="只预览将生成的派工单，不写入")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果")
    _acting_user_arg(p)


@command("dispatch", "派工：为项目的待派工客户诉求（或指定的诉求）生成派工单", _dispatch_args)
def cmd_dispatch(args: argparse.Namespace) -> int:
    from actions import work_orders
    from models import SHANGHAI, Priority

    priority = Priority.from_label(args.priority) if args.priority else None
    if args.priority and priority is None:
        raise Refused(f"优先级无效：{args.priority}（可选：{'、'.join(p.label for p in Priority)}）")
    try:
        deadline = dt.datetime.fromisoformat(args.deadline).replace(tzinfo=SHANGHAI) if args.deadline else None
    except ValueError:
        raise Refused(f"完成时限格式应为 YYYY-MM-DDTHH:MM：{args.deadline}") from None
    with transaction() as session:
        acting = acting_user(session, args, ("service-request", "action:dispatch"), "派工")
        project_id = project_named(session, args.project, acting)
        # The command acts within the named project: a --request of another project is refused.
        actor = replace(acting, project_ids=frozenset({project_id}))
        result = work_orders.dispatch_requests(
            session, actor=actor, request_ids=args.requests or None, project_id=None if args.requests else project_id,
            department_id=work_orders.department_named(session, args.department, project_id) if args.department else None,
            assignee_id=work_orders.staff_numbered(session, args.assignee, project_id) if args.assignee else None,
            priority=priority, complete_due_at=deadline, dry_run=args.dry_run,
        )
    if args.json:
        print_json(result)
    else:
        print(result.message + ("（预览，未写入）" if result.dry_run else ""))
    return OK


# --- scores ------------------------------------------------------------------------------------------
def _scores_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="考核月份，如 2026-05")
    p.add_argument("--project", dest="projects", action="extend", nargs="+", default=[], metavar="项目",
                   help="项目名称，可多次指定（不指定则全部项目）")
    p.add_argument("--dry-run", action="store_true", help="只预览计算结果，不保存")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果，供脚本使用")
    _acting_user_arg(p)


@command("scores", "计算月度考核：考核记录与投诉、超时工单、不满意回访、表扬记录 → 得分、排名、等级", _scores_args)
def cmd_scores(args: argparse.Namespace) -> int:
    from actions.scores import compute_scores

    with transaction() as session:
        actor = acting_user(session, args, ("score-month", "action:compute-scores"), "计算考核得分")
        project_ids = project_ids_named(session, args.projects, actor) if args.projects else None
        result = compute_scores(session, month=args.month, project_ids=project_ids, actor=actor,
                                dry_run=args.dry_run)
    if args.json:
        print_json(result)
        return OK
    print(result.message)
    print_table([("项目", "员工", "考核记录")]
                + [(o.project_name, str(o.scored), str(o.events)) for o in result.projects])
    return OK


# --- 导入 --------------------------------------------------------------------------------------------
group("import", "批量导入：先逐行核对，全部无误才写入；同一文件不会导入两次")


def _import_kinds() -> dict[str, str]:
    """kind → what one row is (the model's label, as the importers declare it and the console's 批量导入 shows)."""
    from actions import bulk_import, survey_import

    return {survey_import.SurveyImporter.kind: survey_import.SurveyImporter.title,
            **{kind: importer.title for kind, importer in bulk_import.KINDS.items()}}


IMPORT_KINDS = _import_kinds()


def _import_args(survey: bool) -> Callable[[argparse.ArgumentParser], None]:
    def arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", metavar="文件", help=".xlsx" + ("" if survey else " 或 .csv（UTF-8 / GB18030）"))
        if survey:
            p.add_argument("--project", required=True, metavar="项目", help="项目名称")
            p.add_argument("--survey", required=True, metavar="调查名称", help="满意度调查名称；不存在则新建（被调查户为全部已入住房屋）")
        else:
            p.add_argument("--project", metavar="项目", help="文件中没有“项目”列时，导入到该项目")
        p.add_argument("--dry-run", action="store_true", help="只核对并显示结果，不写入")
        p.add_argument("--json", action="store_true", help="以 JSON 输出结果（计数和每个问题），供脚本使用")
        _acting_user_arg(p)

    return arguments


class _Progress:
    """Progress of a long import on stderr, at most twice a second."""

    def __init__(self) -> None:
        self.shown = 0.0
        self.started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.5 and done < total:
            return
        self.shown = now
        count = f" {done}/{total}" if total else ""
        print(f"\r{stage}{count}（{now - self.started:.0f} 秒）", end="", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def _import(kind: str, args: argparse.Namespace) -> int:
    from actions.bulk_import import import_records
    from actions.spreadsheets.reader import check_size
    from actions.survey_import import import_survey_responses
    from actions.surveys import find_or_create_survey

    path = Path(args.file)
    if not path.is_file():
        raise Refused(f"文件不存在：{args.file}")
    check_size(path.stat().st_size)  # a file of gigabytes given by mistake is refused unread
    data = path.read_bytes()
    progress = _Progress()
    try:
        with transaction() as session:
            from admin.views.spreadsheets import IMPORT_KINDS as GRANTS

            actor = acting_user(session, args, GRANTS[kind].grant, f"导入{IMPORT_KINDS[kind]}")
            if kind == "surveys":
                survey = find_or_create_survey(session, project_name=args.project, title=args.survey, actor=actor)
                if survey.created:
                    done = "将新建（预览，未写入）" if args.dry_run else "已新建"  # a dry run's transaction is rolled back
                    print(f"{done}满意度调查“{survey.title}”（被调查户 {survey.households} 户）", file=sys.stderr)
                result = import_survey_responses(session, survey_id=survey.survey_id, data=data, file_name=path.name,
                                                 actor=actor, dry_run=args.dry_run, progress=progress)
            else:
                project_id = project_named(session, args.project, actor) if args.project else None
                result = import_records(session, kind=kind, data=data, file_name=path.name, actor=actor,
                                        project_id=project_id, dry_run=args.dry_run, progress=progress)
            if args.dry_run:
                session.rollback()  # a new survey made for the preview is not kept either
    finally:
        progress.end()
    if args.json:
        print_json(result)
    else:
        c = result.counts
        head = "预览（未写入）" if result.dry_run else ("已导入" if result.written else "未导入")
        print(f"{head}：{result.file_name} 新增 {c['new']}、更新 {c['update']}、无变化 {c['unchanged']}、"
              f"重复 {c['duplicate']}、错误 {c['error']}（跳过空行 {c['blank']}、合计行 {c['totals']}）")
        if result.imported_before:
            print(result.imported_before)
        if result.unused_warning:
            print(f"注意：{result.unused_warning}", file=sys.stderr)
        for problem in result.problems:
            print(problem.message, file=sys.stderr)
    return REFUSED if result.has_errors else OK


for _kind, _title in IMPORT_KINDS.items():
    _survey = _kind == "surveys"
    command(f"import {_kind}", f"导入{_title}" + ("（.xlsx）" if _survey else ""), _import_args(_survey))(
        lambda args, kind=_kind: _import(kind, args))


# --- 收费催缴 --------------------------------------------------------------------------------------------
def _bills_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", dest="projects", action="extend", nargs="+", default=[], metavar="项目",
                   help="项目名称，可多次指定（不指定则全部项目）")
    p.add_argument("--period", metavar="YYYY-MM", help="账期（默认本月）")
    p.add_argument("--dry-run", action="store_true", help="只预览将生成的账单数，不写入")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果，供脚本使用")
    _acting_user_arg(p)


def _fee_projects(session: Session, names: list[str], actor: Actor) -> dict[int, str]:
    """The named projects (all the actor sees when none is named): id → name."""
    from actions.billing import fee_choices

    every = {p.id: p.label for p in fee_choices(session, actor=actor).projects}
    return {pid: every[pid] for pid in project_ids_named(session, names, actor)} if names else every


@command("bills", "生成账单：按收费项目的单价为每户生成一个账期的账单（重复执行不会重复生成）", _bills_args)
def cmd_bills(args: argparse.Namespace) -> int:
    from actions.billing import generate_bills

    with transaction() as session:
        actor = acting_user(session, args, ("bill", "action:generate-bills"), "生成账单")
        projects = _fee_projects(session, args.projects, actor)
        results = [
            generate_bills(session, project_id=pid, period=args.period or current_period(), actor=actor,
                           dry_run=args.dry_run)
            for pid in projects
        ]
    if args.json:
        print_json(results)
    for r in [] if args.json else results:
        print(f"{projects[r.project_id]}：{r.message}")
    return OK


def _dunning_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stage", required=True, choices=["1", "2", "3", "4"],
                   help="阶段：1 第一次催缴(5日)，2 第二次(10日)，3 第三次及停电函、违约函(15日)，4 停电/封铺(20日，提交审批)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="催缴基准日（默认该阶段本月的计划日；各阶段须在每月5/10/15/20日及以后发出）")
    p.add_argument("--project", dest="projects", action="extend", nargs="+", default=[], metavar="项目",
                   help="项目名称，可多次指定（不指定则全部项目）")
    p.add_argument("--dry-run", action="store_true", help="只预览户数与金额，不发出")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果，供脚本使用")
    _acting_user_arg(p)


@command("dunning", "催缴通知：按阶段向欠费住户发出通知（每户每阶段每月一次；停电/封铺须在后台经经理审批）",
         _dunning_args)
def cmd_dunning(args: argparse.Namespace) -> int:
    from actions.dunning import DunningScope, issue_dunning

    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise Refused(f"催缴基准日格式应为 YYYY-MM-DD：{args.as_of}") from None
    with transaction() as session:
        actor = acting_user(session, args, ("dunning-run", "action:dunning"), "催缴")
        projects = _fee_projects(session, args.projects, actor)
        results = [
            issue_dunning(session, stage=args.stage, as_of=as_of, scope=DunningScope(project_id=pid), actor=actor,
                          dry_run=args.dry_run)
            for pid in projects
        ]
    if args.json:
        print_json(results)
    for r in [] if args.json else results:
        print(f"{projects[r.project_id]}：{r.message}")
    return OK


def _reverse_payment_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("payment_id", type=int, metavar="收款记录编号", help="收款记录的编号（收款记录列表的 ID）")
    p.add_argument("--reason", required=True, metavar="原因", help="冲正原因，如：误录金额、收错房屋")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果，供脚本使用")
    _acting_user_arg(p)


@command("reverse-payment", "冲正：误录的收款不再计入账单实收，账单状态随之重算；收款记录与收据号保留（须填原因）",
         _reverse_payment_args)
def cmd_reverse_payment(args: argparse.Namespace) -> int:
    from actions.billing import reverse_payment

    with transaction() as session:
        actor = acting_user(session, args, ("payment", "action:reverse-payment"), "冲正")
        result = reverse_payment(session, payment_id=args.payment_id, reason=args.reason, actor=actor)
    if args.json:
        print_json(result)
    else:
        print(result.message)
    return OK


# --- 导出 --------------------------------------------------------------------------------------------
def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", metavar="列表", help="控制台列表地址中的名称，如 unit、customer、bill、payment")
    p.add_argument("file", metavar="文件", help="导出到的 .xlsx 文件")
    p.add_argument("--project", metavar="项目", help="只导出该项目的记录")
    p.add_argument("--unmask", action="store_true", help="身份证号、手机号不打码（会记入审计）")
    _acting_user_arg(p)


@command("export", "把一个列表导出为 .xlsx：与控制台导出相同的列，敏感信息默认打码，大文件显示进度", _export_args)
def cmd_export(args: argparse.Namespace) -> int:
    from sqladmin.helpers import slugify_class_name

    from actions.accounts import require_grant
    from admin.views import VIEWS
    from admin.views.jobs import job_request
    from admin.views.list_export import export_keys, export_view
    from models.db import in_turn

    found = next((v for v in VIEWS if getattr(v, "model", None) is not None
                  and slugify_class_name(v.model.__name__) == args.what), None)
    if found is None:
        raise Refused(f"没有名为 {args.what} 的列表")
    view = found()  # its export columns as the console's export has them (a list's page-only column is none)
    path = output_path(args.file)
    progress = _Progress()

    def export() -> Any:
        with transaction(reads_first=True) as session:
            actor = acting_user(session, args, (view.identity, "export"), f"导出{view.model.__label__}")
            if args.unmask:  # as the console's export: full 身份证号、手机号 need the view's 查看完整敏感信息 grant
                require_grant(actor, view.identity, "action:view-pii", "查看完整敏感信息")
            query = select(view.model).order_by(view.model.id)
            if args.project:
                project_id = project_named(session, args.project, actor)
                if not hasattr(view.model, "project_id"):
                    raise Refused(f"该列表不分项目，不能按项目“{args.project}”导出")
                query = query.where(view.model.project_id == project_id)
            keys = export_keys(view, job_request(actor, ""))
            return export_view(session, view, query, keys, unmask=args.unmask, actor=actor, path=path,
                               filters={"project": args.project}, progress=progress)

    try:
        result = in_turn(export)
    finally:
        progress.end()
    print(f"已导出 {result.rows} 行到 {args.file}" + ("（身份证号、手机号已打码）" if result.masked else "")
          + (f"；共 {result.total} 行，超过上限未全部导出" if result.truncated else ""))
    return OK



# --- 月度报告与月结 ----------------------------------------------------------------------------------------
def _month_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="月份，如 2026-10")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--project", dest="projects", action="append", default=[], metavar="项目",
                       help="项目名称，可多次指定")
    scope.add_argument("--branch", metavar="分公司", help="分公司名称（其全部项目）")
    _acting_user_arg(p)


def _month_scope(session: Session, args: argparse.Namespace, actor: Actor) -> dict[str, Any]:
    from actions.reference import branch_id

    return {"project_ids": project_ids_named(session, args.projects, actor) if args.projects else None,
            "branch_id": branch_id(session, args.branch) if args.branch else None}


def _close_args(p: argparse.ArgumentParser) -> None:
    _month_args(p)
    p.add_argument("--dry-run", action="store_true", help="只列出将月结的项目，不保存")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果，供脚本使用")


@command("close-month", "月结：冻结各项目当月的月度报告（不指定项目则全部项目）；此后的更正以差异列出", _close_args)
def cmd_close_month(args: argparse.Namespace) -> int:
    from actions.month_close import close_month

    with transaction() as session:
        actor = acting_user(session, args, ("month-snapshot", "action:close-month"), "月结")
        result = close_month(session, month=args.month, actor=actor, dry_run=args.dry_run,
                             **_month_scope(session, args, actor))
    if args.json:
        print_json(result)
    else:
        print(result.message)
    return OK


def _report_args(p: argparse.ArgumentParser) -> None:
    _month_args(p)
    p.add_argument("file", metavar="文件", help="导出到的 .xlsx 文件")


@command("monthly-report", "月度报告导出为 .xlsx：指标、诉求与投诉、重大投诉处理、收费、回访、满意度、考核", _report_args)
def cmd_monthly_report(args: argparse.Namespace) -> int:
    from actions.monthly_report import export_monthly_report
    from models.db import in_turn

    path = output_path(args.file)

    def export() -> Any:
        with transaction(reads_first=True) as session:
            actor = acting_user(session, args, ("month-snapshot", "list"), "月度报告")
            return export_monthly_report(session, month=args.month, actor=actor, **_month_scope(session, args, actor))

    result = in_turn(export)
    path.write_bytes(result.content)
    print(f"已导出{result.filename.removesuffix('.xlsx')}（{result.rows} 行）到 {args.file}")
    return OK

if __name__ == "__main__":
    sys.exit(main())
