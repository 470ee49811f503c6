"""Benchmark of the branch pages issue 17 gives no target of their own, on the home page's data set: the
12-month trends (指标趋势), the monthly report (月度报告) and the month close's dry run (月结, what closing would
freeze) — bounded here by < 1 s on SQLite and < 0.3 s on PostgreSQL.

The data set is ``bench/dashboard.py``'s (one branch of five projects: 1.2 M bills, 1 M requests and work orders,
100,000 survey forms), built once into the PostgreSQL database ``--pg`` names and the SQLite file ``--sqlite``
names (``--build`` rebuilds; ``bench/list_pages.py``'s file holds the same data and may be reused). Every run
first upgrades the schema to alembic's head.

Through the app (Starlette TestClient, logged in), as the branch user (分公司管理 of the five projects, the pages
for the branch) and a project user (客服经理 of 基准项目1, the pages for that project): each page's median wall
time and CPU time of interleaved runs — the process's CPU, plus on PostgreSQL the CPU of the database's backends —
with the load average.

    python bench/report_pages.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_report_pages]
                                 [--sqlite /tmp/wuye_bench_report_pages.db] [--sqlite-only | --pg-only]
                                 [--build] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard  # noqa: E402  (the home page's data set)
from common import data_set_arguments, fresh_postgres, load_average, login, migrate  # noqa: E402  (the benchmarks' shared helpers)

import actions  # noqa: E402,F401  (audit hook)
from actions.accounts import add_user  # noqa: E402
from actions.kernel.periods import add_months, current_period  # noqa: E402
from admin.app import create_app  # noqa: E402
from models import User, utcnow  # noqa: E402
from models.db import make_engine  # noqa: E402

TARGETS = {"SQLite": 1.0, "PostgreSQL": 0.3}  # seconds a page, both users
PROJECT_USER, BRANCH_USER, PASSWORD = "bench-project", dashboard.USER, dashboard.PASSWORD
SECRET = "bench-secret-" + "w" * 40


def pages(month: str) -> dict[str, dict[str, str]]:
    """page → user → path: the branch user asks for the branch, the project user for their project."""
    scopes = {BRANCH_USER: "branch_id=1", PROJECT_USER: "project_id=1"}
    return {
        "trends": {u: f"/admin/dashboard/trends?{q}" for u, q in scopes.items()},
        "monthly report": {u: f"/admin/dashboard/report?month={month}&{q}" for u, q in scopes.items()},
        "month close (dry run)": {u: f"/admin/dashboard/report/close?month={month}&{q}" for u, q in scopes.items()},
    }


def prepare(engine: Engine, *, build: bool) -> None:
    if build:
        dashboard.build(engine, utcnow())
    with Session(engine) as s, s.begin():
        if s.scalar(select(User.id).where(User.username == PROJECT_USER)) is None:
            add_user(s, username=PROJECT_USER, password=PASSWORD, roles=["客服经理"], projects=["基准项目1"])


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving the database (the app's pool: several at once while a
    page's reads run side by side); the server runs on this machine, so /proc has them."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.db = engine, make_url(str(engine.url)).database
        self.watcher = engine.connect() if engine.dialect.name == "postgresql" else None

    def __call__(self) -> float:
        if self.watcher is None:
            return 0.0
        pids = self.watcher.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND "
                                         "pid <> pg_backend_pid()"), {"db": self.db}).scalars()
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / 100


def measure(label: str, engine: Engine, runs: int) -> dict[tuple[str, str], tuple[float, float]]:
    month = add_months(current_period(), -1)
    backend = BackendCpu(engine)
    clients = {}
    app = create_app(engine, secret_key=SECRET)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for user in (BRANCH_USER, PROJECT_USER):
        clients[user] = TestClient(app, base_url="http://testserver").__enter__()
        login(clients[user], user, PASSWORD)
    try:
        for round_ in range(runs + 1):  # the first round warms (templates, pool, caches) and is not counted
            for page, paths in pages(month).items():
                for user, path in paths.items():
                    wall, cpu, db_cpu = time.perf_counter(), time.process_time(), backend()
                    response = clients[user].get(path)
                    wall = time.perf_counter() - wall
                    cpu = time.process_time() - cpu + backend() - db_cpu
                    assert response.status_code == 200, (path, response.status_code, response.text[:300])
                    if round_:
                        samples.setdefault((page, user), []).append((wall, cpu))
            print(f"[{label}] round {round_} done (load {load_average()})", flush=True)
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
        if backend.watcher is not None:
            backend.watcher.close()
    return {key: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s)) for key, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_set_arguments(parser, "report_pages", 5)
    args = parser.parse_args()

    targets = []
    if not args.pg_only:
        if args.build:
            Path(args.sqlite).unlink(missing_ok=True)
        targets.append(("SQLite", f"sqlite:///{args.sqlite}"))
    if not args.sqlite_only:
        targets.append(("PostgreSQL", fresh_postgres(args.pg) if args.build else args.pg))
    results = {}
    for label, url in targets:
        engine = make_engine(url)
        migrate(engine)
        prepare(engine, build=args.build)
        results[label] = measure(label, engine, args.runs)
        engine.dispose()

    print(f"\n== medians of {args.runs} interleaved runs: wall / CPU (process + PostgreSQL backends) s; "
          f"load {load_average()} ==")
    for label, figures in results.items():
        print(f"{label} (target < {TARGETS[label]} s)")
        for (page, user), (wall, cpu) in figures.items():
            verdict = "within" if wall < TARGETS[label] else "NOT within"
            print(f"  {page:24} {user:14} {wall:7.3f} / {cpu:6.3f}  {verdict}")


if __name__ == "__main__":
    main()
