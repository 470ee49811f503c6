"""Engine and session factory: the database URL comes from the environment."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as DatabaseBusy
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = f"sqlite:///{Path.cwd() / 'wuye.db'}"


class WriteIntent:
    """SQLite: a transaction that reads and then writes cannot wait for another writer — if one committed in
    between, its first write fails at once ("database is locked", SQLITE_BUSY_SNAPSHOT), whatever the busy
    timeout. So a unit of work that means to write (a console POST, see admin.app) begins with BEGIN IMMEDIATE:
    it takes the write lock first, waiting its turn; reads (GET) begin deferred and never wait, WAL serving them a
    snapshot.

    Only one transaction at a time takes the lock: the ones the request opens while it holds it — a form's checks,
    run while the edit's own transaction is open — only read, and waiting for the lock their own request holds
    would never end."""

    __slots__ = ("holder",)

    def __init__(self) -> None:
        self.holder: Any = None  # the connection whose transaction holds the write lock


WRITING: ContextVar[WriteIntent | None] = ContextVar("wuye_writing", default=None)


@contextmanager
def writing() -> Iterator[None]:
    """Transactions begun inside (in this context, and in the threads it hands work to) mean to write."""
    token = WRITING.set(WriteIntent())
    try:
        yield
    finally:
        WRITING.reset(token)


@contextmanager
def read_first() -> Iterator[None]:
    """Inside a POST that writes one row after a long read — an export and its audit row — no write lock is
    taken up front: holding SQLite's one write lock while thousands of rows are read would hold up every other
    writer. :func:`in_turn` takes the lock only if another writer overtook the read."""
    token = WRITING.set(None)
    try:
        yield
    finally:
        WRITING.reset(token)


def is_lock_timeout(exc: OperationalError) -> bool:
    """SQLite's "database is locked": the write lock not had in time, or a read snapshot overtaken by a write."""
    return "database is locked" in str(exc.orig)


T = TypeVar("T")


def in_turn(work: Callable[[], T]) -> T:
    """Run ``work`` — one transaction that reads and then writes (an export and its audit row) — and, on SQLite,
    when another writer committed between its reads and its first write, run it once more taking the write lock
    first (BEGIN IMMEDIATE, waiting its turn). The first try takes no lock, so a long read never holds up the
    writers; only the retry does. Elsewhere (PostgreSQL, or already inside :func:`writing`) ``work`` runs once."""
    try:
        return work()
    except OperationalError as exc:
        if WRITING.get() is not None or not is_lock_timeout(exc):
            raise
    with writing():
        return work()


def lock_names(session: Session, names: Iterable[str]) -> None:
    """Hold an exclusive lock on each name until the session's transaction ends; a second transaction asking
    for one of them waits its turn. For a check-then-write that no row can lock (a count of attempts): the
    check runs only once the lock is held, so it sees every write of the transactions before it.

    PostgreSQL: transaction-scoped advisory locks. MariaDB: ``GET_LOCK``, held by the connection — released
    when the connection goes back to the pool, which the session does at the end of its transaction. SQLite:
    nothing to do — a transaction that writes took the database's one write lock with ``BEGIN IMMEDIATE``
    (:class:`WriteIntent`). Names are taken in sorted order, so two transactions never wait for each other."""
    dialect = session.get_bind().dialect.name
    for name in sorted(set(names)):
        if dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})
        elif dialect in ("mysql", "mariadb"):
            connection = session.connection()
            key = "wuye:" + hashlib.sha1(name.encode()).hexdigest()  # GET_LOCK names are at most 64 characters
            if connection.scalar(text("SELECT GET_LOCK(:key, :wait)"), {"key": key, "wait": LOCK_WAIT_SECONDS}) != 1:
                raise DatabaseBusy(f"lock {name!r} not had within {LOCK_WAIT_SECONDS} s")
            connection.info[_NAMED_LOCKS] = True


LOCK_WAIT_SECONDS = 15
_NAMED_LOCKS = "wuye_named_locks"


def is_busy(exc: BaseException) -> bool:
    """No connection to be had in time: the pool's wait ran out (every connection of this process in use), a
    lock of :func:`lock_names` was not had in time, or the server has no connection slot left."""
    if isinstance(exc, DatabaseBusy):
        return True
    return isinstance(exc, OperationalError) and any(m in str(exc.orig) for m in _NO_SLOT)


_NO_SLOT = ("too many clients", "remaining connection slots", "Too many connections")


def is_contended(exc: BaseException) -> bool:
    """The transaction lost a race or a wait, not a wrong request: PostgreSQL's serialization failure (40001),
    deadlock (40P01), lock not had (55P03: ``lock_timeout``, NOWAIT) or a timed-out statement (57014);
    MariaDB's lock wait timeout (1205) and deadlock (1213). Tried again later it may well pass."""
    if not isinstance(exc, OperationalError):
        return False
    return _sqlstate(exc) in ("40001", "40P01", "55P03", "57014") or _mysql_code(exc) in (1205, 1213)


def is_unavailable(exc: BaseException) -> bool:
    """The database could not serve the request at all: the server unreachable, refusing connections, shutting
    down or out of resources, the connection dropped mid-request, the SQLite file not to be opened or written.
    Not a fault of the request: a mistake in a statement (SQLite's own OperationalError for it) is not one."""
    if getattr(exc, "connection_invalidated", False):
        return True
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if isinstance(getattr(orig, "sqlite_errorname", None), str):
        return orig.sqlite_errorname.split("_")[1] in ("CANTOPEN", "IOERR", "FULL", "READONLY", "NOMEM", "CORRUPT",
                                                       "NOTADB")
    state = _sqlstate(exc)
    if state:  # connection exception, insufficient resources, operator intervention, system error
        return state[:2] in ("08", "53", "57", "58")
    if _mysql_code(exc) is not None:
        return _mysql_code(exc) in (2002, 2003, 2005, 2006, 2013, 1040, 1053)
    # psycopg's own connection failures carry no SQLSTATE: refused, unknown host, database not accepting, …
    return type(orig).__module__.startswith("psycopg")


def _sqlstate(exc: OperationalError) -> str:
    orig = exc.orig
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def _mysql_code(exc: OperationalError) -> int | None:
    args = getattr(exc.orig, "args", ())
    module = type(exc.orig).__module__
    return args[0] if args and isinstance(args[0], int) and ("mysql" in module or "MySQL" in module) else None


def database_url() -> str:
    return os.environ.get("WUYE_DATABASE_URL") or DEFAULT_URL


# C0 control characters but TAB, LF and CR, and the two noncharacters: typed by mistake, pasted from other systems,
# or unescaped from ``_x0007_`` in a workbook. Stored, one breaks every .xlsx export of its list (XML cannot carry
# it), and PostgreSQL refuses NUL outright: they are dropped on the way in, whichever path writes (RELIABILITY X17).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def without_controls(value: Any) -> Any:
    return CONTROL.sub("", value) if isinstance(value, str) and CONTROL.search(value) else value


def _dirty(params: Any) -> bool:
    """Whether a statement's parameters (a row, rows, or one flat row of many) hold a control character."""
    if isinstance(params, dict):
        params = params.values()
    elif not isinstance(params, list | tuple):
        return isinstance(params, str) and CONTROL.search(params) is not None
    for value in params:
        if isinstance(value, str):
            if CONTROL.search(value):
                return True
        elif isinstance(value, dict | list | tuple) and _dirty(value):
            return True
    return False


def _cleaned(params: Any) -> Any:
    if isinstance(params, dict):
        return {key: _cleaned(value) for key, value in params.items()}
    if isinstance(params, list | tuple):
        return type(params)(map(_cleaned, params))
    return without_controls(params)


STRIPPED = "wuye_controls_stripped"


@contextmanager
def controls_stripped(session: Any) -> Iterator[None]:
    """Statements inside carry only values already without control characters (an import's cleaned cells):
    the engine need not look through its hundreds of thousands of parameters again."""
    info = session.connection().info
    info[STRIPPED] = True
    try:
        yield
    finally:
        info.pop(STRIPPED, None)


def _strip_controls(conn, _cursor, statement, parameters, _context, _executemany):
    """Every statement's text parameters without control characters (console, imports, CLI alike)."""
    if conn.info.get(STRIPPED) or not _dirty(parameters):
        return statement, parameters
    return statement, _cleaned(parameters)


# Connections one process may hold: POOL_SIZE kept open, up to MAX_OVERFLOW more at peaks; a request finding
# them all in use waits up to POOL_TIMEOUT seconds for one, then is answered 503 (admin.app). N processes hold at
# most N × (POOL_SIZE + MAX_OVERFLOW) connections: see the README on fitting PostgreSQL's max_connections.
# No overflow by default: the pool closes an overflow connection as soon as it is given back, so with 5 + 5 a
# process serving 8 clients started a PostgreSQL backend for every other request (566 sessions in one 20 s run of
# bench/load.py, 38 with 10 + 0, for a fifth more requests/s and a p95 a fifth lower).
POOL_SETTINGS = {"pool_size": ("WUYE_DB_POOL_SIZE", 10), "max_overflow": ("WUYE_DB_MAX_OVERFLOW", 0),
                 "pool_timeout": ("WUYE_DB_POOL_TIMEOUT", 10)}


def pool_settings() -> dict[str, int]:
    """The pool's size, overflow and wait from the environment (:data:`POOL_SETTINGS`)."""
    settings = {}
    for key, (variable, default) in POOL_SETTINGS.items():
        raw = os.environ.get(variable, "").strip()
        if not raw:
            settings[key] = default
        elif raw.isdigit() and (int(raw) > 0 or key == "max_overflow"):
            settings[key] = int(raw)
        else:
            raise ValueError(f"{variable} 应为{'非负' if key == 'max_overflow' else '正'}整数，当前为 {raw!r}")
    return settings


# SQLite has no autovacuum to gather the planner's statistics, and without them it guesses, worse as the tables
# grow: with a year of records (168,000 requests, 120,000 orders) the month's scores read their source records in
# 209–222 ms of CPU without statistics, 44–45 ms with them (the month of the scores bench alone: no difference). So a connection going back to the pool — at most
# once every STATISTICS_EVERY seconds — asks SQLite to analyse the tables it used whose statistics are missing or
# stale (PRAGMA optimize), each from a sample of ANALYSIS_LIMIT rows per index, so a table of millions of rows
# costs milliseconds. PostgreSQL's autovacuum does this itself.
STATISTICS_EVERY = 3600
ANALYSIS_LIMIT = 1000


def _sqlite_statistics(dbapi_conn, record) -> None:
    now = time.monotonic()
    if dbapi_conn is None or now < record.info.get("statistics_due", now):
        return
    record.info["statistics_due"] = now + STATISTICS_EVERY
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout=0")  # never wait behind a writer for this: it is done next time
        cur.execute("PRAGMA optimize")
    except sqlite3.OperationalError:
        record.info["statistics_due"] = now  # the database was busy: tried again at the next checkin
    finally:
        cur.execute(f"PRAGMA busy_timeout={LOCK_WAIT_SECONDS * 1000}")
        cur.close()


def make_engine(url: str | None = None, **kwargs) -> Engine:
    # An error's message never carries the statement's values (password hashes, phone numbers) into a log.
    kwargs.setdefault("hide_parameters", True)
    engine = _make_engine(url, **kwargs)
    event.listen(engine, "before_cursor_execute", _strip_controls, retval=True)
    return engine


def _make_engine(url: str | None = None, **kwargs) -> Engine:
    url = url or database_url()
    if ":memory:" not in url and "poolclass" not in kwargs:  # in memory: one connection, no pool to size
        for key, value in pool_settings().items():
            kwargs.setdefault(key, value)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 15})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # The driver's own transaction handling would skip BEGIN, turning the first SAVEPOINT into the
            # outer transaction (a nested "rollback" would then commit): SQLAlchemy issues BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # WAL + busy_timeout: an import and an edit at once wait for each other instead of failing (B11).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={LOCK_WAIT_SECONDS * 1000}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            cur.close()

        event.listen(engine.pool, "checkin", _sqlite_statistics)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            intent = WRITING.get()
            if intent is not None and intent.holder is None:
                intent.holder = conn
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _sqlite_end(conn) -> None:
            intent = WRITING.get()
            if intent is not None and intent.holder is conn:
                intent.holder = None

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith(("mysql", "mariadb")):
        url = _mariadb_url(url)
        # MariaDB's defaults depend on the server's configuration; pin what the schema relies on:
        # - utf8mb4: 'utf8' is 3-byte utf8mb3 there, which rejects some CJK characters (e.g. 𠀾, names in
        #   extension B) and emoji in free text.
        # - time_zone UTC: DATETIME keeps no offset, and server defaults (CURRENT_TIMESTAMP) are taken in
        #   the session's zone; UTCDateTime reads stored values back as UTC, so the session must be UTC too.
        # - strict mode: otherwise a too-long string or an out-of-range number is silently truncated with a
        #   warning instead of refused. ANSI_QUOTES is not needed: all SQL we send is generated by SQLAlchemy.
        # - READ COMMITTED, PostgreSQL's default: under InnoDB's REPEATABLE READ the set-based UPDATE … WHERE
        #   of the actions would also lock the gaps between rows and block unrelated inserts.
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("charset", "utf8mb4")
        connect_args.setdefault(
            "init_command",
            "SET time_zone = '+00:00', "
            "sql_mode = 'STRICT_TRANS_TABLES,STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,"
            "NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'",
        )
        kwargs.setdefault("isolation_level", "READ COMMITTED")
        engine = create_engine(url, **kwargs)
        event.listen(engine, "handle_error", _check_violation_is_integrity_error)
        event.listen(engine.pool, "checkin", _release_named_locks)
        return engine
    if url.startswith("postgresql+psycopg"):
        # JIT compilation cost more than it saved on the console's report queries (measured: 1.9 s of 2.0 s).
        kwargs.setdefault("connect_args", {"options": "-c jit=off"})
    return create_engine(url, **kwargs)


def _mariadb_url(url: str) -> str:
    """``mysql://`` / ``mariadb://`` without a driver mean PyMySQL (pure Python, nothing to compile)."""
    for scheme in ("mysql", "mariadb"):
        if url.startswith(scheme + "://"):
            return f"{scheme}+pymysql://" + url.removeprefix(scheme + "://")
    return url


# MariaDB's ER_CONSTRAINT_FAILED (4025) and MySQL's ER_CHECK_CONSTRAINT_VIOLATED (3819).
_CHECK_VIOLATED = {4025, 3819}


def _check_violation_is_integrity_error(ctx) -> IntegrityError | None:
    """PyMySQL reports a failed CHECK constraint as an OperationalError; every other backend (and the code
    that turns constraint violations into a refusal in Chinese) calls it an IntegrityError."""
    orig = ctx.original_exception
    args = getattr(orig, "args", ())
    if isinstance(ctx.sqlalchemy_exception, OperationalError) and args and args[0] in _CHECK_VIOLATED:
        return IntegrityError(ctx.statement, ctx.parameters, orig)
    return None


def _release_named_locks(dbapi_connection, record) -> None:
    """MariaDB: the locks of :func:`lock_names` end with the transaction that took them, as on PostgreSQL."""
    if dbapi_connection is not None and record.info.pop(_NAMED_LOCKS, False):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("DO RELEASE_ALL_LOCKS()")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config():
    """Alembic's configuration for our migrations, usable from any working directory."""
    from alembic.config import Config

    root = Path(__file__).resolve().parent
    cfg = Config()
    cfg.set_main_option("script_location", str(root / "migrations"))
    return cfg
