"""后台任务 as a queue in the job table: enqueue (within the per-user and overall limits), claim, renew the lease,
finish, recover the jobs of dead workers, and sweep expired files.

A table of our own rather than procrastinate (the candidate the issue measured): the product must also run on
SQLite with one command (``wuye demo``), and procrastinate needs PostgreSQL and an async worker. What it gave is
kept: on PostgreSQL workers claim with ``SELECT … FOR UPDATE SKIP LOCKED`` (many workers, no double run) and the
job's outcome is written in the same transaction as the work it did, so a job is done with its writes or not
at all. A worker holds a lease it renews while it works (:func:`renew_lease`); a lease run out means the worker
died, and the job is queued again or — after ``max_attempts`` — failed with that reason. On SQLite (one machine
by nature: the database is a file) the claim runs under the database's write lock, and a dead worker is known
by its process id instead, since a running job holds SQLite's one write lock and no lease could be renewed.

A job's file is its user's for as long as it is kept (``WUYE_JOB_FILE_HOURS``) — but only while the user still sees
what it holds: each job notes the projects its user saw when it was queued, and the file of a job made over a
project the user no longer sees — or of a list export whose 导出 grant (or 查看完整敏感信息, for one unmasked) the
user no longer holds — is refused (:func:`file_refusal`), as a new export would be.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from models import ACTIVE_STATES, Job, JobFile, JobLock, JobState, User, utcnow
from models.db import lock_names

from .accounts import grants_of_user, holds
from .actor import Actor
from .errors import NotPermitted, Refused

CHUNK = 1024 * 1024  # a file is stored in pieces of this size: no process holds a whole file to store or send it
HOST = socket.gethostname()
# The job's parameter noting the projects its user saw when it was queued: their ids, or ALL_PROJECTS.
SEEN = "projects_seen"
ALL_PROJECTS = "all"
# The job's parameter naming the console's grant ``[identity, action]`` its file takes (a report's 导出): held
# when it is queued, and again when its file is downloaded.
GRANT = "grant"


class TooManyJobs(Refused):
    """Over the per-user or the overall limit of jobs queued or running (answered 429)."""


class NoSuchJob(Refused):
    """The job asked for is not there, or not the actor's (answered 404)."""


class JobBusy(Refused):
    """A queueing lock held by a job queued or running: the same run is already under way (answered 409)."""


@dataclass(frozen=True)
class QueueLock:
    """What a job holds while queued or running, so no second one is queued beside it."""

    key: str  # e.g. ``dunning/12/2026-11/2``: one dunning run per project, month and stage
    busy: str  # the refusal of a second one: 「该项目 2026-11 第二次催缴正在进行中」


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


@dataclass(frozen=True)
class JobSettings:
    per_user: int  # jobs one user may have queued or running
    overall: int  # jobs all users together may have queued or running: the rest of the connections stay free
    lease_seconds: int  # how long a worker may go without renewing its lease before it is taken for dead
    keep_hours: int  # how long a job's files (its upload, its result) are kept

    @classmethod
    def from_env(cls) -> JobSettings:
        return cls(_env_int("WUYE_JOBS_PER_USER", 4), _env_int("WUYE_JOBS_TOTAL", 32),
                   _env_int("WUYE_JOB_LEASE_SECONDS", 60), _env_int("WUYE_JOB_FILE_HOURS", 24))


def worker_name(thread: str = "") -> str:
    """``host:pid[:thread]`` — the pid tells a SQLite runner whether the worker still lives."""
    return f"{HOST}:{os.getpid()}" + (f":{thread}" if thread else "")


def enqueue_job(session: Session, *, kind: str, title: str, params: dict[str, Any], actor: Actor,
                settings: JobSettings, upload: Iterable[bytes] = (), parent_id: int | None = None,
                max_attempts: int = 2, locks: Iterable[QueueLock] = ()) -> int:
    """A new queued job of ``actor``'s, refused with :class:`TooManyJobs` past the limits; ``upload``: the
    file it reads, stored with it so any worker reads it; ``parent_id``: the job it continues (one of the
    actor's own); ``locks``: held until the job ends, refused with :class:`JobBusy` while another job holds one."""
    if parent_id is not None and job_of(session, parent_id, actor=actor) is None:
        raise NoSuchJob("任务不存在或不是您发起的")
    # The count and the insert as one across processes (SQLite: the caller's write lock does it).
    lock_names(session, ["wuye:jobs"])
    active = session.execute(
        select(func.count(), func.count().filter(Job.user_id == actor.user_id)).where(Job.state.in_(ACTIVE_STATES))
    ).one()
    if active[1] >= settings.per_user:
        raise TooManyJobs(f"您已有 {active[1]} 个任务在排队或进行中（每人最多 {settings.per_user} 个），"
                          "请等其完成后再试（见「我的任务」）")
    if active[0] >= settings.overall:
        raise TooManyJobs(f"系统当前任务较多（{active[0]} 个在排队或进行中），请稍候几分钟再试")
    locks = list(locks)
    _refuse_held(session, locks)
    seen = ALL_PROJECTS if actor.sees_all else sorted(actor.project_ids or ())
    job_id = session.execute(insert(Job).values(
        user_id=actor.user_id, parent_id=parent_id, kind=kind, title=title[:120], params={**params, SEEN: seen},
        state=JobState.QUEUED, stage="排队中",
        done=0, total=0, error="", file_name="", file_size=0, attempts=0, max_attempts=max_attempts, worker="",
        created_at=utcnow(), expires_at=utcnow() + dt.timedelta(hours=settings.keep_hours),
    ).returning(Job.id)).scalar_one()
    if locks:  # the primary key holds them, whatever process asks (the check above only words the refusal)
        session.execute(insert(JobLock), [{"key": lock.key, "job_id": job_id} for lock in locks])
    store_file(session, job_id, "upload", upload)
    return job_id


def _refuse_held(session: Session, locks: list[QueueLock]) -> None:
    if not locks:
        return
    keys = [lock.key for lock in locks]
    # A lock whose job ended is free: finish_job and recover_jobs give it back, this takes over any left behind.
    session.execute(delete(JobLock).where(JobLock.key.in_(keys), JobLock.job_id.in_(
        select(Job.id).where(Job.state.not_in(ACTIVE_STATES)))))
    held = session.execute(
        select(JobLock.key, Job.state, func.coalesce(func.nullif(User.display_name, ""), User.username))
        .join(Job, Job.id == JobLock.job_id).outerjoin(User, User.id == Job.user_id)
        .where(JobLock.key.in_(keys)).order_by(JobLock.key)
    ).first()
    if held is not None:
        busy = next(lock.busy for lock in locks if lock.key == held.key)
        raise JobBusy(f"{busy}（{held[2] or '他人'}发起，{held.state.label}），请等其完成后再试（结果见「我的任务」）")


def release_locks(session: Session, job_ids: Iterable[int]) -> None:
    """The queueing locks of jobs that ended, given back in the transaction that ends them."""
    session.execute(delete(JobLock).where(JobLock.job_id.in_(list(job_ids))))


def store_file(session: Session, job_id: int, role: str, pieces: Iterable[bytes]) -> int:
    """Store a file as pieces of at most :data:`CHUNK` bytes; returns its size."""
    size = seq = 0
    for piece in pieces:
        for start in range(0, len(piece), CHUNK):
            part = piece[start:start + CHUNK]
            session.execute(insert(JobFile).values(job_id=job_id, role=role, seq=seq, data=part))
            size += len(part)
            seq += 1
    return size


def file_pieces(path: Any) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while piece := fh.read(CHUNK):
            yield piece


def read_file(session_maker: Any, job_id: int, role: str) -> Iterator[bytes]:
    """A stored file piece by piece, each read in a short transaction of its own (a download may be slow)."""
    seq = 0
    while True:
        with session_maker() as session:
            piece = session.scalar(select(JobFile.data).where(
                JobFile.job_id == job_id, JobFile.role == role, JobFile.seq == seq))
        if piece is None:
            return
        yield piece
        seq += 1


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    title: str
    params: dict[str, Any]
    user_id: int | None
    attempt: int
    parent_id: int | None = None


def claim_job(session: Session, *, worker: str, settings: JobSettings) -> Claimed | None:
    """The oldest queued job, now this worker's; None when there is none."""
    query = select(Job).where(Job.state == JobState.QUEUED).order_by(Job.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # another worker takes the next one, never this one
    job = session.scalars(query).first()
    if job is None:
        return None
    claimed = Claimed(job.id, job.kind, job.title, dict(job.params or {}), job.user_id, job.attempts + 1,
                      job.parent_id)
    now = utcnow()
    session.execute(update(Job).where(Job.id == job.id).values(
        state=JobState.RUNNING, stage="开始处理", attempts=claimed.attempt, worker=worker, started_at=now,
        lease_until=now + dt.timedelta(seconds=settings.lease_seconds)))
    return claimed


def renew_lease(session: Session, job_id: int, *, worker: str, settings: JobSettings, stage: str, done: int,
                total: int) -> bool:
    """Progress, and the lease renewed; False when the job is no longer this worker's (taken for dead)."""
    result = session.execute(update(Job).where(
        Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING,
    ).values(stage=stage[:40], done=done, total=total,
             lease_until=utcnow() + dt.timedelta(seconds=settings.lease_seconds)))
    return result.rowcount == 1


class LeaseLost(RuntimeError):
    """The job was taken for dead and given to another worker: this worker's outcome is not written."""


def finish_job(session: Session, job_id: int, *, worker: str, state: JobState, result: dict[str, Any] | None = None,
               error: str = "", file_name: str = "", file_size: int = 0,
               progress: tuple[str, int, int] | None = None) -> None:
    """The job's outcome — in the transaction of its work, when it did any — with its last progress."""
    last = dict(zip(("stage", "done", "total"), progress, strict=True)) if progress else {}
    done = session.execute(update(Job).where(
        Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING,
    ).values(**last, state=state, result=result, error=error[:2000], file_name=file_name[:255],
             file_size=file_size, finished_at=utcnow(), lease_until=None))
    if done.rowcount != 1:
        raise LeaseLost(f"job {job_id} is no longer {worker}'s")
    release_locks(session, [job_id])


def _alive(worker: str) -> bool:
    """Whether the process named by a worker name lives: only knowable on this host."""
    host, _, rest = worker.partition(":")
    pid = rest.split(":")[0]
    if host != HOST or not pid.isdigit():
        return True  # another machine's: its lease decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_jobs(session: Session) -> tuple[int, int]:
    """Jobs whose worker died: queued again while attempts remain, else failed with the reason. Returns
    (requeued, failed). Their work was one transaction, rolled back with the worker: nothing is half-written."""
    now = utcnow()
    running = select(Job.id, Job.worker, Job.attempts, Job.max_attempts).where(Job.state == JobState.RUNNING)
    if session.get_bind().dialect.name == "sqlite":
        dead = [row for row in session.execute(running) if not _alive(row.worker)]
    else:
        dead = list(session.execute(running.where(Job.lease_until < now).with_for_update(skip_locked=True)))
    requeued = [row.id for row in dead if row.attempts < row.max_attempts]
    failed = [row for row in dead if row.attempts >= row.max_attempts]
    if requeued:
        session.execute(update(Job).where(Job.id.in_(requeued), Job.state == JobState.RUNNING).values(
            state=JobState.QUEUED, stage="处理进程中断，重新排队", worker="", lease_until=None,
            error="上次处理时处理进程中断，已重新排队"))
    for row in failed:
        session.execute(update(Job).where(Job.id == row.id, Job.state == JobState.RUNNING).values(
            state=JobState.FAILED, stage=JobState.FAILED.label, finished_at=now, lease_until=None,
            error=f"处理进程中断（已尝试 {row.attempts} 次），任务未完成，未写入任何数据"))
    if failed:
        release_locks(session, [row.id for row in failed])
    return len(requeued), len(failed)


def sweep_files(session: Session) -> int:
    """Files of jobs past their expiry removed (the job's record stays, saying so); returns how many jobs."""
    expired = select(Job.id).where(Job.expires_at < utcnow(), Job.state.not_in(ACTIVE_STATES),
                                   or_(Job.file_size > 0, Job.id.in_(select(JobFile.job_id))))
    ids = list(session.scalars(expired))
    if ids:
        session.execute(delete(JobFile).where(JobFile.job_id.in_(ids)))
        session.execute(update(Job).where(Job.id.in_(ids)).values(file_size=0))
    return len(ids)


def my_jobs(session: Session, *, actor: Actor, limit: int = 100) -> list[Job]:
    """The user's jobs, newest first (我的任务)."""
    return list(session.scalars(select(Job).where(Job.user_id == actor.user_id)
                                .order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def job_of(session: Session, job_id: int, *, actor: Actor, latest: bool = False) -> Job | None:
    """The job, if it is ``actor``'s; ``latest``: the last job continuing it, if any (an import's confirm)."""
    job = session.get(Job, job_id)
    if job is None or job.user_id != actor.user_id:
        return None
    if latest:
        job = session.scalars(select(Job).where(Job.parent_id == job_id).order_by(Job.id.desc())).first() or job
    return job


def file_refusal(session: Session, job: Job, *, actor: Actor) -> None:
    """Refuse (:class:`NotPermitted`) the file of ``actor``'s job once it holds what the actor may no longer see:
    a project outside the actor's projects now, or a list export — or a job naming the grant it took (a report) —
    without its grants now. A job queued before its projects (or grant) were noted is not refused on them."""
    params = job.params or {}
    seen = params.get(SEEN)
    lost = (not actor.sees_all) if seen == ALL_PROJECTS else bool(actor.outside(seen or ()))
    view = params.get("view") if job.kind == "export" else None
    grant = params.get(GRANT)
    if (view or grant) and not lost:
        grants = grants_of_user(session, actor.user_id)
        lost = bool(view) and (not holds(grants, view, "export")
                               or bool(params.get("unmask")) and not holds(grants, view, "action:view-pii"))
        lost = lost or (bool(grant) and not holds(grants, *grant))
    if lost:
        raise NotPermitted("该文件含有您现在无权查看的数据（负责项目或权限已变更），不再提供下载；如仍需要，请重新导出")
