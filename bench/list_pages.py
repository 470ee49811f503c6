"""Benchmark of the console's lists at a property group's scale (issue 17): the five biggest tables.

The data set is the home page's (``bench/dashboard.py``: one branch of five projects, 100,000 units, 1.2 M bills,
1 M service requests and work orders), plus what the lists need besides: rooms numbered by floor (1203 = 12th
floor, room 3), a payer on the bills of every other unit (the others have none, as after a move-out), one payment
per settled bill (≈ 1.1 M), and 1 M audit rows. It is built once, with set-based INSERT … SELECT, into the
PostgreSQL database ``--pg`` names and the SQLite file ``--sqlite`` names, and reused by later runs
(``--build`` rebuilds; every run first upgrades the schema to alembic's head, so the same data measures a
branch's migration).

Then through the app (Starlette TestClient, logged in: count, page query, rendering), as a project user
(客服经理 of one project) and as a branch user (分公司管理 of the five), for bills, payments, requests, work
orders and audit rows: page 1, page 1,000, a filter and a search — medians of interleaved runs.

    python bench/list_pages.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_list_pages]
                               [--sqlite /tmp/wuye_bench_list_pages.db] [--sqlite-only | --pg-only]
                               [--build] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard  # noqa: E402  (the home page's data set)
from common import backends_cpu, data_set_arguments, fresh_postgres, load_average, login, migrate  # noqa: E402  (the benchmarks' shared helpers)

import actions  # noqa: E402,F401  (audit hook)
from actions.accounts import add_user  # noqa: E402
from admin.app import create_app  # noqa: E402
from models import AuditLog, Bill, Payment, ServiceRequest, WorkOrder, utcnow  # noqa: E402
from models.db import make_engine  # noqa: E402

AUDIT_ROWS = 1_000_000
RUNS = 5
TARGET_MS = 100
PROJECT_USER, BRANCH_USER, PASSWORD = "bench-project", dashboard.USER, dashboard.PASSWORD
SECRET = "bench-secret-" + "y" * 40
DEEP = 1000

# (table, list path, filter query, search term)
LISTS = (
    ("bills", "bill", "status=unpaid", "1203"),
    ("payments", "payment", "method=wechat", "1203"),
    ("requests", "service-request", "status=dispatched", "1203"),
    ("work orders", "work-order", "sla=overdue", "业主"),
    ("audit rows", "audit-log", "kind=update", "客服7"),
)


def build(engine: Engine) -> None:
    dashboard.build(engine, utcnow())
    add_list_data(engine)


def add_list_data(engine: Engine) -> None:
    """What the lists need beyond the home page's data set."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as c:
        # 1203 = 12th floor, room 3: 14 rooms a floor in the buildings of 400 (renumbered through a free name:
        # a unit's room number is unique in its building at every row)
        c.execute(text("UPDATE unit SET room_no = 'x' || id"))
        c.execute(text("UPDATE unit SET room_no = CAST((1 + (id - 1) % 400 / 14) * 100 + 1 + (id - 1) % 400 % 14 "
                       "AS VARCHAR(32))"))
        # customer k is the payer of unit 2k (a fresh database numbers them 1…)
        c.execute(text("INSERT INTO customer (project_id, name, kind, phone, id_number, vip, emergency_contact, note) "
                       "SELECT project_id, '业主' || id, 'person', '', '', (1 = 0), '', '' FROM unit WHERE id % 2 = 0 "
                       "ORDER BY id"))
        c.execute(text("UPDATE bill SET customer_id = unit_id / 2 WHERE unit_id % 2 = 0"))
        paid_at = "(CAST(b.due_date AS timestamp) + interval '5 days')" if pg else \
            "strftime('%Y-%m-%d %H:%M:%f000', b.due_date, '+5 days')"
        c.execute(text("INSERT INTO receipt (project_id, number, created_at, updated_at) "
                       "SELECT project_id, 'R' || id, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM bill WHERE status = 'paid'"))
        c.execute(text("INSERT INTO payment (project_id, bill_id, amount, method, paid_at, receipt_no) "
                       f"SELECT b.project_id, b.id, b.amount_paid, CASE b.id % 3 WHEN 0 THEN 'cash' WHEN 1 THEN "
                       f"'wechat' ELSE 'alipay' END, {paid_at}, 'R' || b.id FROM bill b WHERE b.status = 'paid'"))
        c.execute(text("INSERT INTO audit_log (at, actor_name, source, kind, table_name, record_id, project_id, "
                       "summary, changes, ip) "
                       "SELECT received_at, '客服' || (id % 50), 'console', CASE id % 4 WHEN 0 THEN 'insert' ELSE "
                       "'update' END, 'service_request', CAST(id AS VARCHAR(64)), project_id, '修改客户诉求#' || id, "
                       "'{}', '' FROM service_request WHERE id <= :n"), {"n": AUDIT_ROWS})
        # the names the search of 操作人 reads (models.AuditActor), which the audit writers keep: raw rows add theirs
        c.execute(text("INSERT INTO audit_actor (name) SELECT DISTINCT actor_name FROM audit_log "
                       "WHERE actor_name NOT IN (SELECT name FROM audit_actor)"))
    with Session(engine) as s, s.begin():
        add_user(s, username=PROJECT_USER, password=PASSWORD, roles=["客服经理"], projects=["基准项目1"])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE" if pg else "ANALYZE"))


def pages(terms: tuple[str, ...] = ()) -> dict[str, str]:
    """Each list's pages; ``terms``: more searches, on every list (2-character names: 张三, 业主)."""
    out: dict[str, str] = {}
    for table, path, flt, term in LISTS:
        base = f"/admin/{path}/list"
        out[f"{table} | page 1"] = base
        out[f"{table} | page {DEEP:,}"] = f"{base}?page={DEEP}"
        out[f"{table} | filter {flt}"] = f"{base}?{flt}"
        for each in dict.fromkeys((term, *terms)):
            out[f"{table} | search {each}"] = f"{base}?search={each}"
    return out


def timed(engine: Engine, runs: int, terms: tuple[str, ...]) -> dict[tuple[str, str], tuple[float, float, float, str]]:
    """{(user, page): (median seconds, median CPU seconds of this process, median CPU seconds of the PostgreSQL
    backends, the count the page shows)}; every page of a round before the next round. The CPU figures hold under
    a shared machine's load: on SQLite the process's is the whole page (the database runs in it), on PostgreSQL
    the app's side, the backends' the database's."""
    urls = pages(terms)
    times: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    db_cpu: dict[tuple[str, str], list[float]] = {}
    shown: dict[tuple[str, str], str] = {}
    app = create_app(engine, secret_key=SECRET)
    clients = {}
    for user in (PROJECT_USER, BRANCH_USER):
        client = TestClient(app, base_url="http://testserver").__enter__()
        login(client, user, PASSWORD)
        client.get("/admin/bill/list")  # warm: templates compiled, connections open
        clients[user] = client
    pg = engine.dialect.name == "postgresql"
    # autocommit: pg_stat_activity is read once a transaction, and the app opens connections as it goes
    admin_engine = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT") if pg else None
    with (admin_engine.connect() if pg else contextlib.nullcontext()) as admin:
        for _ in range(runs):
            for name, url in urls.items():
                for user, client in clients.items():
                    b0 = backends_cpu(admin, engine.url.database)
                    t0, c0 = time.perf_counter(), time.process_time()
                    page = client.get(url)
                    times.setdefault((user, name), []).append(time.perf_counter() - t0)
                    cpu.setdefault((user, name), []).append(time.process_time() - c0)
                    db_cpu.setdefault((user, name), []).append(backends_cpu(admin, engine.url.database) - b0)
                    assert page.status_code == 200, (user, url, page.status_code, page.text[:300])
                    found = re.search(r"共\s*([^<]*?条)", page.text)
                    shown[(user, name)] = found.group(1).strip() if found else "?"
    if admin_engine is not None:
        admin_engine.dispose()
    for client in clients.values():
        client.__exit__(None, None, None)
    return {key: (statistics.median(t), statistics.median(cpu[key]), statistics.median(db_cpu[key]), shown[key])
            for key, t in times.items()}


def run(label: str, engine: Engine, *, build_it: bool, runs: int, terms: tuple[str, ...] = ()
        ) -> dict[tuple[str, str], float]:
    if build_it:
        t0 = time.perf_counter()
        migrate(engine)
        build(engine)
        print(f"[{label}] built in {time.perf_counter() - t0:.0f} s", flush=True)
    else:
        migrate(engine)  # the data of an earlier run, at this branch's schema
    with Session(engine) as s:
        sizes = {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                 for m in (Bill, Payment, ServiceRequest, WorkOrder, AuditLog)}
    print(f"[{label}] " + ", ".join(f"{n:,} {name}" for name, n in sizes.items()), flush=True)
    figures = timed(engine, runs, terms)
    print(f"\n[{label}] median of {runs} interleaved runs, ms / CPU ms of this process"
          + (" + of the database's backends" if engine.dialect.name == "postgresql" else "")
          + f" (the count the page shows); load {load_average()}")
    print(f"{'page':34}{'project user':>36}{'branch user':>36}")
    for name in pages(terms):
        cells = []
        for user in (PROJECT_USER, BRANCH_USER):
            secs, cpu, db, count = figures[(user, name)]
            backend = f" + {db * 1000:4.0f}" if engine.dialect.name == "postgresql" else ""
            cells.append(f"{secs * 1000:7.0f} / {cpu * 1000:4.0f}{backend} ({count})")
        print(f"{name:34}" + "".join(f"{c:>36}" for c in cells))
    worst = max(figures.items(), key=lambda kv: kv[1][0])
    print(f"[{label}] slowest: {worst[0]} {worst[1][0] * 1000:.0f} ms (target < {TARGET_MS} ms)", flush=True)
    engine.dispose()
    print(f"[{label}] load {load_average()}", flush=True)
    return {key: secs for key, (secs, _, _, _) in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_set_arguments(parser, "list_pages", RUNS)
    parser.add_argument("--terms", default="", help="more searches on every list, comma-separated: 张三,业主")
    args = parser.parse_args()
    terms = tuple(t for t in args.terms.split(",") if t)
    if not args.sqlite_only:
        url = args.pg
        if args.build:
            fresh_postgres(url)
        run("PostgreSQL", make_engine(url), build_it=args.build, runs=args.runs, terms=terms)
    if not args.pg_only:
        path = Path(make_url(f"sqlite:///{args.sqlite}").database)
        if args.build:
            path.unlink(missing_ok=True)
        run("SQLite", make_engine(f"sqlite:///{path}"), build_it=args.build, runs=args.runs, terms=terms)


if __name__ == "__main__":
    main()
