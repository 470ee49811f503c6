"""What the benchmarks share: a fresh database at the schema's head, a stopwatch, and a logged-in console.

Each benchmark takes ``--pg URL``, the URL of a PostgreSQL database of its own: it is dropped and recreated.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.db import alembic_config, make_engine  # noqa: E402

T = TypeVar("T")


def migrate(engine: Engine) -> None:
    """The schema at alembic's head, as ``wuye init`` makes it."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def fresh_postgres(url: str) -> str:
    """Drops and recreates the database ``url`` names (connected to the server's ``postgres`` database);
    returns ``url``."""
    name = make_url(url).database
    server = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def load_average() -> str:
    """The machine's 1/5/15-minute load averages, printed with every figure: the machine is shared."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu_of(pid: int) -> float:
    """CPU seconds process ``pid`` of this machine has used so far (/proc: utime + stime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu(db: Session | Connection) -> float:
    """CPU seconds the PostgreSQL backend serving ``db`` has used, read from /proc when the server runs here (0 on
    SQLite, which runs in this process, or when the backend is not visible)."""
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    if dialect.name != "postgresql":
        return 0.0
    try:
        return _cpu_of(db.scalar(text("SELECT pg_backend_pid()")))
    except OSError:
        return 0.0


def cpu_seconds(conn: Connection) -> float:
    """CPU seconds used so far by this process and by the PostgreSQL backend serving ``conn``. On SQLite the
    database's work is the process's own. Differences of it time a piece of work by CPU, which load from other
    processes on the shared machine inflates far less than the wall clock."""
    return time.process_time() + backend_cpu(conn)


def backends_cpu(admin: Connection | None, database: str) -> float:
    """CPU seconds used so far by every PostgreSQL backend connected to ``database`` (a local server: /proc),
    asked over ``admin``, a connection to another database, so the asking costs none of it; 0 without one
    (SQLite, whose work is the process's)."""
    if admin is None:
        return 0.0
    total = 0.0
    for pid in admin.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database}).scalars():
        try:
            total += _cpu_of(pid)
        except OSError:  # gone since, or not on this machine
            continue
    return total


def data_set_arguments(parser, name: str, runs: int) -> None:
    """The options of a benchmark whose data set is built once into both databases and reused by later runs."""
    parser.add_argument("--pg", default=f"postgresql://postgres@127.0.0.1:5432/wuye_bench_{name}")
    parser.add_argument("--sqlite", default=f"/tmp/wuye_bench_{name}.db")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--build", action="store_true", help="build the data set (else reuse an earlier run's)")
    parser.add_argument("--runs", type=int, default=runs)


def seconds(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def login(client, username: str, password: str) -> None:
    """Logs a Starlette TestClient in to the console, with the login form's CSRF token."""
    page = client.get("/admin/login")
    token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    response = client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 302, response.status_code


# PostgreSQL DDL, run inside a rolled-back transaction to time a write against another audit index layout (issue 17):
# 操作人 searched by its n-grams, as before revision d1a7c3e5f9b2 searched it among the names the trail holds …
AUDIT_ACTOR_NGRAMS = [
    "DROP INDEX ix_audit_log_actor_name_project_id",
    "CREATE INDEX ix_audit_log_actor_name_trgm ON audit_log USING gin (project_id, actor_name gin_trgm_ops)",
    "CREATE INDEX ix_audit_log_actor_name_bigram ON audit_log USING gin (project_id, bigrams(actor_name))",
]
# … and no search index of the audit rows at all (neither 操作人's B-tree nor 摘要's GIN indexes): the floor
AUDIT_UNSEARCHED = [
    "DROP INDEX ix_audit_log_actor_name_project_id",
    "DROP INDEX ix_audit_log_summary_trgm",
    "DROP INDEX ix_audit_log_summary_bigram",
]
