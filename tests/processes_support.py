"""Several real app processes, as an operator runs them: ``wuye serve`` subprocesses on free ports of 127.0.0.1,
all on one PostgreSQL database of their own (``<test database>_procs``, copied once per test run from the
template at head with the reference data, dropped after).

The processes cannot see the per-test transaction the other tests roll back: tests commit what they need
through ``app_processes.session_maker`` and give their records unique names. The app processes leave 后台任务
to ``wuye worker`` processes (``WUYE_JOB_RUNNER=worker``), which a test starts with ``start_worker()`` (leases of
:data:`LEASE_SECONDS`, so a killed worker's job is taken back quickly); they are all stopped at the end. The
fixture is registered once for the run (tests/conftest.py's ``pytest_plugins``: a module importing it would get
processes of its own); use it from any test module::

    def test_something(app_processes): ...
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import actions  # noqa: F401  (audit hook)
from models.db import make_engine, make_sessionmaker
from tests.browser_support import _free_port
from tests.database_support import Templates

PROCESSES = 2
SECRET = "processes-test-secret-" + "z" * 32
LEASE_SECONDS = 3
WUYE = str(Path(sys.executable).with_name("wuye"))


@dataclass(frozen=True)
class AppProcesses:
    urls: list[str]  # http://127.0.0.1:<port>, one per process
    database_url: str
    engine: Engine
    session_maker: sessionmaker[Session]
    env: dict[str, str]
    logs: Path
    workers: list[subprocess.Popen]

    def start_worker(self) -> subprocess.Popen:
        """A ``wuye worker`` process on the same database, running once it says so."""
        log = self.logs / f"worker-{len(self.workers)}.log"
        with log.open("wb") as out:
            worker = subprocess.Popen([WUYE, "worker"], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while "已启动" not in log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"wuye worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        return worker


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"wuye serve exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/admin/login", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"wuye serve did not answer at {url}:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def app_processes(engine: Engine, templates: Templates,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcesses]:
    if engine.dialect.name != "postgresql":
        pytest.skip("several app processes share a PostgreSQL database (set WUYE_TEST_DATABASE_URL)")
    url = templates.copy("procs")  # at head, with the reference data
    own = make_engine(url)
    maker = make_sessionmaker(own)
    env = {**os.environ, "WUYE_DATABASE_URL": url, "WUYE_SECRET_KEY": SECRET, "WUYE_JOB_RUNNER": "worker",
           "WUYE_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    env.pop("WUYE_TRUSTED_PROXIES", None)  # the default: only 127.0.0.1, where the tests' requests come from
    logs = tmp_path_factory.mktemp("processes")
    processes: list[tuple[subprocess.Popen, Path]] = []
    urls: list[str] = []
    workers: list[subprocess.Popen] = []
    try:
        for i in range(PROCESSES):
            port, log = _free_port(), logs / f"serve-{i}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [WUYE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env, stdout=out, stderr=subprocess.STDOUT)
            processes.append((process, log))
            urls.append(f"http://127.0.0.1:{port}")
        for url_, (process, log) in zip(urls, processes, strict=True):
            _wait_until_serving(url_, process, log)
        yield AppProcesses(urls, url, own, maker, env, logs, workers)
    finally:
        for process in [p for p, _ in processes] + workers:
            if process.poll() is None:
                process.terminate()
        for process in [p for p, _ in processes] + workers:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        own.dispose()
        templates.drop(url)
