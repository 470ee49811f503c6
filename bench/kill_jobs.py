"""Kill test (issue 15): ``kill -9`` in the middle of a 100,000-row import and of a dunning run, on PostgreSQL.

1. 导入房屋: a 100,000-row units file queued as the console queues an import (a 后台任务 of kind ``import``);
   ``wuye worker`` started and killed -9 while the import runs; the job and the unit count are printed (nothing
   written). A second worker takes the job once the dead one's lease has run out and completes it; printed again.
2. 催缴: ``wuye dunning`` (the same action the console calls) is killed -9 mid-run: the notice count is printed
   (unchanged), then the run again completes. Then the run as the console starts it — a 后台任务 of kind
   ``dunning`` holding the project·month·stage lock — with its worker killed -9 mid-run: the job, the notices
   (none) and the lock (still held: a second run is refused) are printed; a second worker completes it.

    /work/venv/bin/python bench/kill_jobs.py [--rows 100000] [--units 20000] [--only import|dunning]
                                             [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_kill]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_import import PROJECT, units_file  # noqa: E402
from common import fresh_postgres, migrate  # noqa: E402
from dunning import MONTHS  # noqa: E402
from dunning import build as build_dunning  # noqa: E402

import actions  # noqa: E402,F401  (audit hook)
from actions.actor import Actor  # noqa: E402
from actions.dunning import DunningScope, run_lock  # noqa: E402
from actions.jobs import JobBusy, JobSettings, enqueue_job  # noqa: E402
from actions.kernel.periods import add_months, current_period  # noqa: E402
from models import Branch, DunningNotice, Job, Project, Unit, User  # noqa: E402
from models.db import make_engine  # noqa: E402
from seeds.reference import load_reference  # noqa: E402

WUYE = str(Path(sys.executable).with_name("wuye"))
LEASE = 5


def env(url: str) -> dict[str, str]:
    return {**os.environ, "WUYE_DATABASE_URL": url, "WUYE_JOB_LEASE_SECONDS": str(LEASE)}


def start_worker(url: str, log: Path) -> subprocess.Popen:
    out = log.open("wb")
    worker = subprocess.Popen([WUYE, "worker"], env=env(url), stdout=out, stderr=subprocess.STDOUT)
    while "已启动" not in log.read_text(errors="replace"):
        if worker.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.1)
    return worker


def rerun(engine, url: str, job_id: int, log: Path) -> tuple[Job, float]:
    """A new worker, until the dead one's job has ended (after its lease ran out): the job and the seconds."""
    t0 = time.perf_counter()
    worker = start_worker(url, log)
    while (job := job_row(engine, job_id)).state.value in ("queued", "running"):
        time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    worker.wait()
    return job, time.perf_counter() - t0


def job_row(engine, job_id: int) -> Job:
    with Session(engine) as s:
        return s.get(Job, job_id)


def units(engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Unit))


def import_kill(url: str, rows: int, logs: Path) -> None:
    engine = make_engine(fresh_postgres(url))
    migrate(engine)
    with Session(engine) as s, s.begin():
        load_reference(s)
        project = Project(name=PROJECT, branch=Branch(name="基准分公司"))
        user = User(username="importer", display_name="导入员", password_hash="-", is_superuser=True)
        s.add_all([project, user])
        s.flush()
        actor = Actor(user_id=user.id, name="导入员", project_ids=None, source="bench")
        data = units_file(rows)
        job_id = enqueue_job(s, kind="import", title=f"导入房屋：{rows} 行", actor=actor, upload=[data],
                             settings=JobSettings.from_env(), params={
                                 "kind": "units", "file_name": "房屋.xlsx", "project_id": None, "survey_id": None,
                                 "unmask": False, "dry_run": False, "writes": True, "operation": "import:units"})
    print(f"\n== 导入房屋 {rows:,} 行 ({len(data) / 2**20:.1f} MB) queued as job #{job_id}; units now {units(engine):,}")
    worker = start_worker(url, logs / "worker-1.log")
    while job_row(engine, job_id).state.value != "running":
        time.sleep(0.05)
    time.sleep(8)  # well inside the import (it takes tens of seconds at this size)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    job = job_row(engine, job_id)
    print(f"kill -9 of worker pid {worker.pid} 8 s into the import: job {job.state.label} (attempt {job.attempts}), "
          f"units {units(engine):,} (nothing half-written)")
    job, seconds = rerun(engine, url, job_id, logs / "worker-2.log")
    print(f"a new worker took it after the {LEASE} s lease ran out and finished in {seconds:.1f} s: "
          f"job {job.state.label} (attempt {job.attempts}, {job.error or '无错误'}), units {units(engine):,}, "
          f"新增 {job.result['counts']['new']:,}" if job.result else f"job {job.state.label}: {job.error}")
    engine.dispose()


def notices(engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(DunningNotice))


def dunning_kill(url: str, units_n: int, logs: Path) -> None:
    engine = make_engine(fresh_postgres(url))
    migrate(engine)
    gen_period = current_period()
    months = [add_months(gen_period, -k) for k in range(MONTHS, 0, -1)]
    build_dunning(engine, units_n, months)
    with engine.begin() as c:
        c.execute(text("ANALYZE"))
    last = months[-1]
    as_of = dt.date(int(last[:4]), int(last[5:]), 5).isoformat()
    command = [WUYE, "dunning", "--stage", "1", "--as-of", as_of, "--project", "基准小区"]
    print(f"\n== 催缴 stage 1 on {units_n:,} units × {MONTHS} months; notices now {notices(engine):,}")
    t0 = time.perf_counter()
    run = subprocess.run(command, env=env(url), capture_output=True, text=True)
    full = time.perf_counter() - t0
    issued = notices(engine)
    print(f"a whole run (measured first, then undone): {issued:,} notices in {full:.1f} s (exit {run.returncode})")
    with engine.begin() as c:
        c.execute(text("DELETE FROM dunning_notice"))
        c.execute(text("DELETE FROM dunning_run"))
    process = subprocess.Popen(command, env=env(url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(full / 2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    print(f"kill -9 of `wuye dunning` {full / 2:.1f} s into the run: notices {notices(engine):,} (unchanged)")
    run = subprocess.run(command, env=env(url), capture_output=True, text=True)
    print(f"run again: exit {run.returncode}, notices {notices(engine):,} (complete)")
    dunning_job_kill(engine, url, as_of, logs)
    engine.dispose()


def dunning_job_kill(engine, url: str, as_of: str, logs: Path) -> None:
    with engine.begin() as c:
        c.execute(text("DELETE FROM dunning_notice"))
        c.execute(text("DELETE FROM dunning_run"))

    def enqueue() -> int:
        with Session(engine) as s, s.begin():
            user = s.scalar(select(User).where(User.username == "dunner"))
            if user is None:
                user = User(username="dunner", display_name="收费主管", password_hash="-", is_superuser=True)
                s.add(user)
                s.flush()
            actor = Actor(user_id=user.id, name="收费主管", project_ids=None, source="bench")
            scope = DunningScope(project_id=s.scalar(select(Project.id).where(Project.name == "基准小区")))
            lock = run_lock(s, stage="1", scope=scope, actor=actor, as_of=dt.date.fromisoformat(as_of))
            return enqueue_job(s, kind="dunning", title="发起催缴", actor=actor, settings=JobSettings.from_env(),
                               locks=[lock], params={"stage": "1", "as_of": as_of, "scope": asdict(scope),
                                                     "operation": "issue_dunning", "writes": True})

    job_id = enqueue()
    print(f"\n== the same run as a 后台任务 (job #{job_id}), as the console queues it; notices {notices(engine):,}")
    worker = start_worker(url, logs / "worker-3.log")
    writing = text("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'INSERT INTO dunning_notice%'")
    while True:  # until the worker is writing its notices (a transaction per look: the view is a snapshot)
        with engine.connect() as c:
            if c.scalar(writing) or job_row(engine, job_id).state.value not in ("queued", "running"):
                break
        time.sleep(0.02)
    started = time.perf_counter()
    time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    job = job_row(engine, job_id)
    try:
        enqueue()
        second = "queued (wrong)"
    except JobBusy as busy:
        second = f"refused: {busy.message}"
    print(f"kill -9 of worker pid {worker.pid} {time.perf_counter() - started:.1f} s into writing the notices: "
          f"job {job.state.label} "
          f"(attempt {job.attempts}), notices {notices(engine):,} (unchanged); a second run {second}")
    job, seconds = rerun(engine, url, job_id, logs / "worker-4.log")
    print(f"a new worker took it after the {LEASE} s lease ran out and finished in {seconds:.1f} s: "
          f"job {job.state.label} (attempt {job.attempts}): {(job.result or {}).get('message') or job.error}; "
          f"notices {notices(engine):,} (complete, each once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_kill")
    parser.add_argument("--only", choices=("import", "dunning"), help="one of the two kills")
    args = parser.parse_args()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"wuye-kill-{os.getpid()}"
    logs.mkdir()
    if args.only != "dunning":
        import_kill(args.pg, args.rows, logs)
    if args.only != "import":
        dunning_kill(args.pg, args.units, logs)


if __name__ == "__main__":
    main()
