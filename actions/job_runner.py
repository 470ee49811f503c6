"""The loop that runs 后台任务: ``wuye worker`` runs it, and each app process runs it on a thread of its own
unless workers do (``WUYE_JOB_RUNNER=worker``) — on SQLite, and by default, ``wuye demo`` stays one command.

A job's handler is an ordinary caller of an action: it gets a session in one transaction (the job's outcome and
its file are written in that same transaction, so a job is done with its writes or not at all), the requesting
user as actor, the job's parameters, a progress callback and a temporary file to write its result to.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload

from models import ACTIVE_STATES, Job, JobState, OperationStatus, User
from models.db import is_lock_timeout, writing

from .actor import Actor, actor_for_user
from .audit import log_operation
from .errors import Refused
from .jobs import (
    Claimed,
    JobSettings,
    LeaseLost,
    claim_job,
    file_pieces,
    finish_job,
    read_file,
    recover_jobs,
    renew_lease,
    store_file,
    sweep_files,
    worker_name,
)

log = logging.getLogger(__name__)
SWEEP_SECONDS = 600

# Progress of the jobs running in this process, as (stage, done, total): on SQLite the running job holds the
# database's write lock, so its progress is shown from here rather than from its row.
LIVE: dict[int, tuple[str, int, int]] = {}


@dataclass(frozen=True)
class Outcome:
    """What a handler returns: the result shown on the job's page, and the file it wrote to ``ctx.output``."""

    result: dict[str, Any]
    file_name: str = ""


@dataclass
class JobContext:
    job: Claimed
    actor: Actor
    output: Path
    session_maker: Any
    live: tuple[str, int, int] = ("开始处理", 0, 0)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def progress(self, stage: str, done: int, total: int) -> None:
        self.live = LIVE[self.job.id] = (stage, done, total)

    def upload(self, job_id: int | None = None) -> bytes:
        """The file uploaded with this job (or with ``job_id``: an import's confirm reads its preview's)."""
        return b"".join(read_file(self.session_maker, job_id or self.job.id, "upload"))


Handler = Callable[[Session, JobContext], Outcome]


class JobRunner:
    """Claims and runs queued jobs with ``handlers`` (kind → handler)."""

    def __init__(self, session_maker: Any, handlers: dict[str, Handler], *, settings: JobSettings | None = None,
                 name: str = "", heartbeat: bool = True) -> None:
        self.session_maker = session_maker
        self.handlers = handlers
        self.settings = settings or JobSettings.from_env()
        self.name = worker_name(name)
        self.heartbeat = heartbeat
        with session_maker() as session:
            self.dialect = session.get_bind().dialect.name
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swept = 0.0

    # --- the loop ---------------------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Recover dead workers' jobs, then run one queued job; False when none was waiting."""
        if time.monotonic() - self._swept > SWEEP_SECONDS:
            with writing(), self.session_maker.begin() as session:
                sweep_files(session)
            self._swept = time.monotonic()
        with self.session_maker() as session:  # a look first: an idle poll takes no lock and writes nothing
            if not session.scalar(select(exists().where(Job.state.in_(ACTIVE_STATES)))):
                return False
        if self._stop.is_set():  # stopped while looking: a stopped runner claims nothing more
            return False
        with writing(), self.session_maker.begin() as session:  # SQLite: the claim under the write lock
            recover_jobs(session)
            claimed = claim_job(session, worker=self.name, settings=self.settings)
        if claimed is None:
            return False
        self._run(claimed)
        return True

    def run_pending(self) -> None:
        while self.run_once():
            pass

    def run_forever(self, poll: float = 1.0) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the database away for a moment: try again, never stop the loop
                log.exception("job runner: claiming failed")
                worked = False
            if not worked:
                self._wake.wait(poll)
                self._wake.clear()

    def start(self) -> None:
        """Run the loop on a daemon thread (an app process running jobs itself)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run_forever, name="wuye-jobs", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, wait: float = 10.0) -> None:
        """End the loop; its thread, if any, is waited for (bounded) so the job it is running finishes before the
        app goes — and a stopped runner never claims a job a newer one of the same database was meant to run."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(wait)

    # --- one job ----------------------------------------------------------------------------------------
    def _actor(self, job: Claimed) -> Actor:
        with self.session_maker() as session:
            user = session.scalar(select(User).options(selectinload(User.projects)).where(User.id == job.user_id))
            if user is None or not user.is_active:
                raise Refused("发起任务的账号已停用，任务未执行")
            return actor_for_user(session, user)

    def _run(self, job: Claimed) -> None:
        handler = self.handlers.get(job.kind)
        fd, name = tempfile.mkstemp(prefix=f"wuye-job-{job.id}-")
        output = Path(name)
        os.close(fd)
        beat = _Heartbeat(self, job) if self.heartbeat and self.dialect != "sqlite" else None
        ctx: JobContext | None = None
        try:
            if handler is None:
                raise Refused(f"不支持的任务类型：{job.kind}")
            ctx = JobContext(job, self._actor(job), output, self.session_maker)
            if beat is not None:
                beat.ctx = ctx
                beat.start()
            self._work(handler, ctx)
        except LeaseLost:
            log.warning("job %s: lease lost, its outcome is another worker's", job.id)
        except Refused as refused:
            self._end(job, JobState.REFUSED, refused.message)
        except Exception as exc:  # the page says it failed; the log keeps the trace
            log.exception("job %s (%s) failed", job.id, job.kind)
            self._end(job, JobState.FAILED, f"{job.title}失败：{exc.__class__.__name__}")
        finally:
            if beat is not None:
                beat.stop()
            LIVE.pop(job.id, None)
            output.unlink(missing_ok=True)

    def _work(self, handler: Handler, ctx: JobContext) -> None:
        def attempt() -> None:
            with self.session_maker.begin() as session:
                session.info["actor"] = ctx.actor
                outcome = handler(session, ctx)
                size = store_file(session, ctx.job.id, "result", file_pieces(ctx.output)) if outcome.file_name else 0
                finish_job(session, ctx.job.id, worker=self.name, state=JobState.DONE, result=outcome.result,
                           file_name=outcome.file_name, file_size=size, progress=ctx.live)

        try:
            if ctx.params.get("writes"):  # SQLite: a job that writes takes the write lock first, as a POST does
                with writing():
                    attempt()
            else:
                attempt()
        except OperationalError as exc:
            # SQLite: the work read, then wrote, and another writer (a login) committed in between — once more,
            # taking the write lock first (models.db.WriteIntent).
            if not is_lock_timeout(exc):
                raise
            with writing():
                attempt()

    def _end(self, job: Claimed, state: JobState, message: str) -> None:
        """A job that did not complete: its work rolled back; the reason recorded, the failure logged."""
        try:
            with writing(), self.session_maker.begin() as session:
                finish_job(session, job.id, worker=self.name, state=state, error=message)
                if state is JobState.FAILED:
                    operation = job.params.get("operation") or f"job:{job.kind}"
                    log_operation(session, operation,
                                  params={"job": job.id, "title": job.title}, counts={},
                                  status=OperationStatus.FAILED, message=message[:500])
        except LeaseLost:
            log.warning("job %s: lease lost before its failure was recorded", job.id)


class _Heartbeat:
    """Renews the lease and writes the progress every second while a job runs (PostgreSQL: the job's row is
    free to update; SQLite keeps the progress in :data:`LIVE`)."""

    def __init__(self, runner: JobRunner, job: Claimed) -> None:
        self.runner, self.job = runner, job
        self.ctx: JobContext | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"wuye-job-{job.id}-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _loop(self) -> None:
        interval = min(1.0, self.runner.settings.lease_seconds / 3)
        while not self._stop.wait(interval):
            stage, done, total = self.ctx.live if self.ctx else ("开始处理", 0, 0)
            try:
                with self.runner.session_maker.begin() as session:
                    renew_lease(session, self.job.id, worker=self.runner.name, settings=self.runner.settings,
                                stage=stage, done=done, total=total)
            except Exception:  # the next beat tries again; the lease outlasts a few missed ones
                log.warning("job %s: lease renewal failed", self.job.id, exc_info=True)
