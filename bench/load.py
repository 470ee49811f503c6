"""Load benchmark of several app processes on PostgreSQL (issue 15).

Builds, in the PostgreSQL database ``--pg`` names (dropped and recreated), the demo data set (``wuye demo``) plus
one project of 100,000 units with 12 months of bills (1.2 M bills, bench/export.py's builder), and a 客服主管 of
both that project and the demo's 锦绣华庭. Then serves the console with ``wuye serve --workers N`` on 127.0.0.1
(plus ``wuye worker`` when that command exists) and, for 1, 8 and 32 concurrent logged-in clients (threads,
each with its own keep-alive connection and session), runs each workload for ``--duration`` seconds:

- ``home``: the home page (首页看板);
- ``bills``: the bill list (page 1, default sort) — the 1.2 M bills are in the user's scope;
- ``orders``: the work-order list;
- ``mixed``: in turn the work-order list, the bill list, 受理诉求 (the form, then a POST recording a request),
  the home page.

and prints throughput, p50/p95/p99 latency and the errors (any answer but 200, or 303 for the POST; 503 counted
apart), with 4 processes and with 1. Targets on a 2-core machine: no error at 32 clients; p95 under 1 s for the
list pages at 32 clients. The load generator runs on the same cores as the servers and the database.

    python bench/load.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_load] [--skip-build]
                         [--processes 4,1] [--clients 1,8,32] [--duration 20] [--units 100000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fresh_postgres, migrate  # noqa: E402  (the benchmarks' shared helpers)
from export import build as build_bill_project  # noqa: E402  (100,000 units × N months of bills)

import actions  # noqa: E402,F401  (audit hook)
from actions.accounts import add_user  # noqa: E402
from models import Bill, Project, WorkOrder  # noqa: E402
from models.db import make_engine  # noqa: E402
from seeds.demo import load_demo  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

USER, PASSWORD = "bench-zhuguan", "bench-pass-2026"
SECRET = "bench-secret-" + "x" * 40
PORT = 8790
WUYE = str(Path(sys.executable).with_name("wuye"))
WORKLOADS = ("home", "bills", "orders", "mixed")
PAGES = {"home": "/admin/", "bills": "/admin/bill/list", "orders": "/admin/work-order/list"}
TOKEN = re.compile(r'name="(csrf-token|form_token)" (?:content|value)="([^"]*)"')


# --- the data set -----------------------------------------------------------------------------------------
def build(url: str, units: int) -> None:
    engine = make_engine(fresh_postgres(url))
    migrate(engine)
    started = time.perf_counter()
    with Session(engine) as session, session.begin():
        load_reference(session)
        load_demo(session)
    print(f"demo data set loaded in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    build_bill_project(engine, units, 12)
    print(f"{units * 12:,}-bill project built in {time.perf_counter() - started:.0f} s", flush=True)
    with Session(engine) as session, session.begin():
        projects = list(session.scalars(select(Project.name).where(Project.name.in_(["基准小区", "锦绣华庭"]))))
        add_user(session, username=USER, password=PASSWORD, roles=["客服主管"], projects=projects)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


# --- the clients ------------------------------------------------------------------------------------------
@dataclass
class Tally:
    times: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


class Client:
    """One logged-in user on a keep-alive connection: cookies, CSRF token, the intake form's one-time token."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}
        self.tokens: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> int:
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode({**form, "csrf_token": self.tokens.get("csrf-token", "")})
            headers["content-type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                page = response.read().decode()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.conn.close()  # reconnects on the next request
                # The server closes a kept-alive connection idle for 5 s (uvicorn's default), as while the other
                # clients finish a workload: sent again once on a new connection, as a browser does.
                if attempt == 2 or not isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError
                                                   | BrokenPipeError):
                    return 0
        for header in response.headers.get_all("set-cookie") or ():
            self.cookies.update({k: m.value for k, m in SimpleCookie(header).items()})
        self.tokens.update(TOKEN.findall(page))
        return response.status

    def log_in(self) -> None:
        self.request("GET", "/admin/login")
        status = self.request("POST", "/admin/login", {"username": USER, "password": PASSWORD})
        if status != 302:
            raise RuntimeError(f"login answered {status}")


def steps(workload: str, project_id: int):
    """The requests of one round of a workload: (method, path, form, expected status)."""
    if workload != "mixed":
        return [("GET", PAGES[workload], None, 200)]
    intake = {"project_id": str(project_id), "channel": "phone", "kind": "repair_private", "category": "plumbing",
              "priority": "normal", "pick": "", "contact_name": "基准业主", "contact_phone": "13800000000",
              "content": "负载测试：厨房水管漏水"}
    return [("GET", PAGES["orders"], None, 200), ("GET", PAGES["bills"], None, 200),
            ("GET", "/admin/intake", None, 200), ("POST", "/admin/intake", intake, 303), ("GET", PAGES["home"], None, 200)]


def run_workload(clients: list[Client], workload: str, seconds: float, project_id: int) -> tuple[Tally, float]:
    tally, lock = Tally(), threading.Lock()
    start = threading.Barrier(len(clients) + 1)
    deadline = [0.0]

    def loop(i: int, client: Client) -> None:
        plan = steps(workload, project_id)
        k = i % len(plan)  # the clients of the mixed workload start at different steps
        start.wait()
        while time.monotonic() < deadline[0]:
            method, path, form, expected = plan[k % len(plan)]
            if form is not None:
                form = {**form, "form_token": client.tokens.get("form_token", "")}
            began = time.monotonic()
            status = client.request(method, path, form)
            elapsed = time.monotonic() - began
            with lock:
                tally.times.append(elapsed)
                if status != expected:
                    tally.errors[status] += 1
            k += 1

    threads = [threading.Thread(target=loop, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    began = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join(seconds + 130)  # a request still out at the deadline is let finish (timeout 120 s)
    return tally, time.monotonic() - began


def percentile(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1] if len(times) > 1 else (times or [0])[0]


# --- the servers ------------------------------------------------------------------------------------------
def has_worker() -> bool:
    return subprocess.run([WUYE, "worker", "--help"], capture_output=True).returncode == 0


def start(url: str, processes: int, worker: bool) -> list[subprocess.Popen]:
    env = {**os.environ, "WUYE_DATABASE_URL": url, "WUYE_SECRET_KEY": SECRET}
    log = open(f"/tmp/wuye-bench-load-{processes}.log", "wb")  # noqa: SIM115  (kept open for the servers' life)
    started = [subprocess.Popen([WUYE, "serve", "--host", "127.0.0.1", "--port", str(PORT),
                                 "--workers", str(processes)], env=env, stdout=log, stderr=subprocess.STDOUT)]
    if worker:
        started.append(subprocess.Popen([WUYE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/admin/login", timeout=5):
                return started
        except OSError:
            time.sleep(0.5)
    stop(started)
    raise RuntimeError(f"wuye serve did not answer; see {log.name}")


def stop(started: list[subprocess.Popen]) -> None:
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_load")
    parser.add_argument("--skip-build", action="store_true", help="reuse the database of a previous run")
    parser.add_argument("--units", type=int, default=100_000, help="units of the big project (12 bills each)")
    parser.add_argument("--processes", default="4,1")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--duration", type=float, default=20, help="seconds per workload and client count (≤ 30)")
    args = parser.parse_args()
    duration = min(args.duration, 30)
    if not args.skip_build:
        build(args.pg, args.units)
    engine = make_engine(args.pg)
    with Session(engine) as session:
        project_id = session.scalar(select(Project.id).where(Project.name == "锦绣华庭"))
        sizes = {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in (Bill, WorkOrder)}
    engine.dispose()
    print(", ".join(f"{n:,} {name}" for name, n in sizes.items()), flush=True)
    worker = has_worker()
    print(f"wuye worker: {'started beside the app processes' if worker else 'not available, run without'}")

    rows = []
    for processes in (int(p) for p in args.processes.split(",")):
        started = start(args.pg, processes, worker)
        try:
            for count in (int(c) for c in args.clients.split(",")):
                clients = [Client(PORT) for _ in range(count)]
                for client in clients:
                    client.log_in()
                for workload in WORKLOADS:
                    tally, elapsed = run_workload(clients, workload, duration, project_id)
                    times = sorted(tally.times)
                    row = (processes, count, workload, len(times) / elapsed, percentile(times, 50),
                           percentile(times, 95), percentile(times, 99), sum(tally.errors.values()) - tally.errors[503],
                           tally.errors[503], dict(tally.errors))
                    rows.append(row)
                    print(f"{processes} proc {count:>2} clients {workload:6} {row[3]:7.1f} req/s  p50 {row[4]:.3f} s  "
                          f"p95 {row[5]:.3f} s  p99 {row[6]:.3f} s  errors {row[7]} (503: {row[8]}) {row[9] or ''}",
                          flush=True)
                for client in clients:
                    client.conn.close()
        finally:
            stop(started)

    print("\n== summary ==")
    print(f"{'proc':>4} {'clients':>7} {'workload':8} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} "
          f"{'errors':>6} {'503':>5}")
    for r in rows:
        print(f"{r[0]:>4} {r[1]:>7} {r[2]:8} {r[3]:7.1f} {r[4]:7.3f} {r[5]:7.3f} {r[6]:7.3f} {r[7]:>6} {r[8]:>5}")
    top = max(int(c) for c in args.clients.split(","))
    for processes in sorted({r[0] for r in rows}, reverse=True):
        at_top = [r for r in rows if r[0] == processes and r[1] == top]
        errors = sum(r[7] + r[8] for r in at_top)
        lists = {r[2]: r[5] for r in at_top if r[2] in ("bills", "orders")}
        print(f"{processes} process(es), {top} clients: {errors} errors ({'target met' if not errors else 'NOT met'}); "
              f"list p95 " + ", ".join(f"{k} {v:.3f} s" for k, v in lists.items())
              + f" ({'under' if all(v < 1 for v in lists.values()) else 'NOT under'} the 1 s target)")


if __name__ == "__main__":
    main()
