"""Benchmark of the work-order list (issue 3): 1,000,000 orders through the real console.

Builds one project with 1,000,000 service requests and as many work orders (received one a minute over
the last two years; 97 % closed, 1 % each 已派工 / 处理中 / 已完工 — nearly all of the open ones past their
deadline) in a temporary SQLite file and in the PostgreSQL database ``wuye_bench_work_order_list``
(dropped and recreated), with set-based INSERT … SELECT (a recursive CTE on SQLite, generate_series on
PostgreSQL). Then, logged in as the project's 客服主管 (so the project scope applies), times through the app
(starlette TestClient, the whole request: count, page query, rendering):

- page 1 of the list, and page 1,000 (20 rows a page);
- the 时限 filter 已超时;
- a search by a full mobile number.

    /work/venv/bin/python bench/work_order_list.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_work_order_list]
                                                   [--sqlite-only] [--orders N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fresh_postgres, migrate  # noqa: E402  (the benchmarks' shared helpers)

import actions  # noqa: E402,F401  (audit hook)
from actions.accounts import hash_password  # noqa: E402
from admin.app import create_app  # noqa: E402
from models import Branch, Building, Department, Project, Role, Unit, User, utcnow  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

ORDERS = 1_000_000
UNITS = 5_000
RUNS = 3
PASSWORD = "bench-pass-123"
SECRET = "bench-secret-" + "z" * 32

# Request i: received i minutes after :start (two years before now); mobile 139 followed by i.
_REQUEST_COLUMNS = (
    "project_id, channel, kind, category, priority, status, stage, unit_id, contact_name, contact_phone, content, "
    "received_at, complaint_major, reply, created_at, updated_at, version"
)
_REQUEST_VALUES = (
    ":project, 'phone', (CASE i % 3 WHEN 0 THEN 'repair_private' WHEN 1 THEN 'repair_public' ELSE 'complaint' END), "
    "'plumbing', 'normal', (CASE WHEN i % 100 < 3 THEN 'dispatched' ELSE 'closed' END), "
    "(CASE WHEN i % 100 < 3 THEN 'open' ELSE 'closed' END), :first_unit + i % :units, "
    "'业主', {phone}, '基准诉求', {received}, false, '', :now, :now, 1"
)
# Order of request r (i = its position): 97 % closed; of the rest a third each 已派工 / 处理中 / 已完工.
_ORDER = (
    "INSERT INTO work_order (project_id, request_id, department_id, priority, status, dispatched_at, respond_due_at, "
    "complete_due_at, accepted_at, completed_at, closed_at, result, paid_service, quote, quote_accepted, charge, "
    "reopen_count, reassign_note, created_at, updated_at, version) "
    "SELECT sr.project_id, sr.id, :department, 'normal', "
    "(CASE (sr.id - :first_request) % 100 WHEN 0 THEN 'dispatched' WHEN 1 THEN 'accepted' WHEN 2 THEN 'done' "
    " ELSE 'closed' END), {plus10}, {plus30}, {plus1440}, {plus60}, {plus600}, "
    "(CASE WHEN (sr.id - :first_request) % 100 < 3 THEN NULL ELSE {plus1440} END), "
    "'', false, 0, false, 0, 0, '', :now, :now, 1 FROM service_request sr"
)
SQL = {
    "sqlite": {
        "requests": (
            f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1) "
            f"INSERT INTO service_request ({_REQUEST_COLUMNS}) SELECT "
            + _REQUEST_VALUES.format(phone="'139' || printf('%08d', i)",
                                     received="strftime('%Y-%m-%d %H:%M:%f000', :start, printf('+%d minutes', i))")
            + " FROM n"
        ),
        "plus": "strftime('%Y-%m-%d %H:%M:%f000', sr.received_at, '+{m} minutes')",
    },
    "postgresql": {
        "requests": (
            f"INSERT INTO service_request ({_REQUEST_COLUMNS}) SELECT "
            + _REQUEST_VALUES.format(phone="'139' || lpad(i::text, 8, '0')",
                                     received="CAST(:start AS timestamptz) + make_interval(mins => i)")
            + " FROM generate_series(0, :count - 1) AS i"
        ),
        "plus": "sr.received_at + interval '{m} minutes'",
    },
}


def build(engine: Engine, orders: int) -> dict[str, int]:
    migrate(engine)
    sql = SQL[engine.dialect.name]
    now = utcnow()
    with Session(engine) as session, session.begin():
        load_reference(session)
        project = Project(name="基准项目", branch=Branch(name="基准分公司"))
        building = Building(project=project, name="1栋")
        supervisor = User(username="supervisor", display_name="客服主管", password_hash=hash_password(PASSWORD),
                          roles=[session.scalar(select(Role).where(Role.name == "客服主管"))], projects=[project])
        session.add_all([project, building, supervisor])
        session.flush()
        session.execute(Unit.__table__.insert(), [
            {"project_id": project.id, "building_id": building.id, "room_no": f"{i:05d}", "kind": "house",
             "status": "occupied", "area": 90, "key_tenant": False} for i in range(UNITS)])
        first_unit = session.scalar(select(Unit.id).order_by(Unit.id).limit(1))
        session.execute(text(sql["requests"]), {
            "count": orders, "project": project.id, "first_unit": first_unit, "units": UNITS, "now": now,
            "start": now - dt.timedelta(minutes=orders),
        })
        first_request = session.scalar(text("SELECT min(id) FROM service_request"))
        plus = {f"plus{m}": sql["plus"].format(m=m) for m in (10, 30, 60, 600, 1440)}
        session.execute(text(_ORDER.format(**plus)), {
            "department": session.scalar(select(Department.id).where(Department.name == "工程部")),
            "first_request": first_request, "now": now,
        })
        phone = session.scalar(text("SELECT contact_phone FROM service_request WHERE id = :id"),
                               {"id": first_request + orders // 2})
        ids = {"project": project.id, "phone": phone}
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
    return ids


PAGES = {
    "page 1": "/admin/work-order/list",
    "page 1,000": "/admin/work-order/list?page=1000",
    "filter 已超时": "/admin/work-order/list?sla=overdue",
    "search by phone": "/admin/work-order/list?search={phone}",
}


def timed_pages(engine: Engine, ids: dict) -> dict[str, tuple[float, float, int]]:
    """{page: (median seconds, median CPU seconds of this process, rows shown)}; the CPU figure holds under a
    shared machine's load (SQLite: the whole page; PostgreSQL: the app's side)."""
    app = create_app(session_maker=make_sessionmaker(engine), secret_key=SECRET)
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    cpu: dict[str, list[float]] = {name: [] for name in PAGES}
    rows: dict[str, int] = {}
    with TestClient(app, base_url="http://testserver") as client:
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/admin/login").text).group(1)
        client.post("/admin/login", data={"username": "supervisor", "password": PASSWORD, "csrf_token": token})
        for _ in range(RUNS):  # interleaved, so background load weighs on every page alike
            for name, url in PAGES.items():
                t0, c0 = time.perf_counter(), time.process_time()
                page = client.get(url.format(**ids))
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                assert page.status_code == 200, (name, page.status_code)
                rows[name] = len(set(re.findall(r"/admin/work-order/details/(\d+)", page.text)))
    return {name: (statistics.median(t), statistics.median(cpu[name]), rows[name]) for name, t in times.items()}


def run(label: str, engine: Engine, orders: int) -> None:
    t0 = time.perf_counter()
    ids = build(engine, orders)
    print(f"\n== {label}: built {orders:,} requests and work orders in {time.perf_counter() - t0:.0f} s")
    for name, (seconds, cpu, shown) in timed_pages(engine, ids).items():
        print(f"{name:<18} {seconds * 1000:8.0f} ms, CPU {cpu * 1000:5.0f} ms  (median of {RUNS}; {shown} rows on the page)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_work_order_list",
                        help="URL of the PostgreSQL database to drop, recreate and fill")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--orders", type=int, default=ORDERS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", make_engine(f"sqlite:///{tmp}/bench.db"), args.orders)
    if not args.sqlite_only:
        run("PostgreSQL", make_engine(fresh_postgres(args.pg)), args.orders)


if __name__ == "__main__":
    main()
