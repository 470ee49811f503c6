"""后台任务 as a queue: limits refused with nothing written, claim → finish with the file in pieces, dead workers'
jobs queued again or failed with the reason, expired files swept, a handler's refusal and failure recorded."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from actions import jobs
from actions.actor import Actor
from actions.errors import Refused
from actions.job_runner import JobRunner, Outcome
from actions.jobs import JobSettings, TooManyJobs
from models import Job, JobFile, JobLock, JobState, OperationLog, OperationStatus, Project, User, utcnow
from models.db import in_turn, make_sessionmaker
from tests import factories as f

SETTINGS = JobSettings(per_user=2, overall=3, lease_seconds=60, keep_hours=24)


def _actor(user) -> Actor:
    return Actor(user_id=user.id, name=user.username, project_ids=None)


def _enqueue(session, actor, **kw):
    return jobs.enqueue_job(session, kind=kw.pop("kind", "echo"), title="测试任务", params=kw.pop("params", {}),
                            actor=actor, settings=SETTINGS, **kw)


def _count(session, model=Job) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_limits_per_user_and_overall_refuse_and_write_nothing(session):
    a, b = _actor(f.user(session)), _actor(f.user(session))
    _enqueue(session, a)
    _enqueue(session, a)
    with pytest.raises(TooManyJobs, match="每人最多 2 个"):
        _enqueue(session, a)
    _enqueue(session, b)
    with pytest.raises(TooManyJobs, match="系统当前任务较多"):
        _enqueue(session, b)
    assert _count(session) == 3
    session.execute(update(Job).where(Job.user_id == a.user_id).values(state=JobState.DONE))
    _enqueue(session, a)  # finished jobs hold no place
    assert _count(session) == 4


def test_claim_run_and_finish_keeps_the_file_in_pieces(session, session_maker, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK", 4)
    actor = _actor(f.user(session))
    job_id = _enqueue(session, actor, upload=[b"0123456789"])
    claimed = jobs.claim_job(session, worker="w1", settings=SETTINGS)
    assert (claimed.id, claimed.attempt) == (job_id, 1)
    assert jobs.claim_job(session, worker="w2", settings=SETTINGS) is None  # nothing else queued
    size = jobs.store_file(session, job_id, "result", [b"abcdefghij"])
    jobs.finish_job(session, job_id, worker="w1", state=JobState.DONE, result={"rows": 1}, file_name="a.xlsx",
                    file_size=size)
    job = session.get(Job, job_id)
    session.refresh(job)
    assert (job.state, job.file_size, job.result, job.attempts) == (JobState.DONE, 10, {"rows": 1}, 1)
    assert session.scalar(select(func.count()).where(JobFile.job_id == job_id, JobFile.role == "result")) == 3
    maker = session_maker  # a session per piece, on the test's connection
    assert b"".join(jobs.read_file(maker, job_id, "result")) == b"abcdefghij"
    assert b"".join(jobs.read_file(maker, job_id, "upload")) == b"0123456789"
    with pytest.raises(jobs.LeaseLost):  # another worker's outcome is never written over it
        jobs.finish_job(session, job_id, worker="w2", state=JobState.FAILED)


def test_a_dead_workers_job_is_queued_again_then_failed_with_the_reason(session):
    actor = _actor(f.user(session))
    job_id = _enqueue(session, actor)
    dead = f"{jobs.HOST}:999999999"  # no such process on this host (SQLite's test); its lease ran out (PostgreSQL's)
    for attempt in (1, 2):
        claimed = jobs.claim_job(session, worker=dead, settings=SETTINGS)
        assert claimed.attempt == attempt
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
        requeued, failed = jobs.recover_jobs(session)
        job = session.get(Job, job_id)
        session.refresh(job)
        if attempt == 1:
            assert (requeued, failed, job.state, job.worker) == (1, 0, JobState.QUEUED, "")
        else:
            assert (requeued, failed, job.state) == (0, 1, JobState.FAILED)
            assert job.error == "处理进程中断（已尝试 2 次），任务未完成，未写入任何数据"


def test_a_live_workers_job_is_left_alone(session):
    actor = _actor(f.user(session))
    job_id = _enqueue(session, actor)
    jobs.claim_job(session, worker=jobs.worker_name("t"), settings=SETTINGS)  # this process: alive, lease current
    assert jobs.recover_jobs(session) == (0, 0)
    assert session.get(Job, job_id).state is JobState.RUNNING


def test_expired_files_are_swept_and_the_record_says_so(session):
    actor = _actor(f.user(session))
    old, new = _enqueue(session, actor, upload=[b"old"]), _enqueue(session, actor, upload=[b"new"])
    session.execute(update(Job).values(state=JobState.DONE, file_size=3))
    session.execute(update(Job).where(Job.id == old).values(expires_at=utcnow() - dt.timedelta(hours=1)))
    assert jobs.sweep_files(session) == 1
    assert session.scalars(select(JobFile.job_id)).all() == [new]
    assert session.scalar(select(Job.file_size).where(Job.id == old)) == 0
    assert jobs.sweep_files(session) == 0


def _runner(session_maker, handler):
    return JobRunner(session_maker, {"echo": handler}, settings=SETTINGS, heartbeat=False)


def test_the_runner_runs_a_job_in_one_transaction_with_its_outcome(session, session_maker):
    user = f.user(session)
    job_id = _enqueue(session, _actor(user), params={"text": "你好"})
    session.commit()

    def echo(s, ctx):
        ctx.progress("写入", 1, 1)
        ctx.output.write_text(ctx.params["text"] + ctx.actor.name)
        return Outcome({"rows": 1}, "echo.txt")

    _runner(session_maker, echo).run_pending()
    job = session.get(Job, job_id)
    session.refresh(job)
    assert (job.state, job.result, job.file_name) == (JobState.DONE, {"rows": 1}, "echo.txt")
    assert b"".join(jobs.read_file(session_maker, job_id, "result")).decode() == "你好" + user.display_name


def test_a_stopped_runner_ends_its_thread_and_claims_nothing_more(session, session_maker):
    """An app going away (a test's console, a worker told to stop) leaves the next job to the runner after it."""
    ran: list[int] = []
    old = _runner(session_maker, lambda s, ctx: ran.append(ctx.job.id) or Outcome({}))
    old.start()
    old.stop()
    assert not old._thread.is_alive()  # waited for, not left polling
    job_id = _enqueue(session, _actor(f.user(session)))
    session.commit()
    assert old.run_once() is False and ran == []
    assert session.scalar(select(Job.state).where(Job.id == job_id)) is JobState.QUEUED


def test_a_refused_or_failing_job_is_recorded_and_writes_nothing(session, session_maker):
    actor = _actor(f.user(session))
    refused, broken = _enqueue(session, actor), _enqueue(session, actor, params={"operation": "export:bill"})
    session.commit()
    project_count = _count(session, OperationLog)

    def handler(s, ctx):
        f.project(s, name=f"不应留下{ctx.job.id}")
        if ctx.job.id == refused:
            raise Refused("没有可导出的记录")
        raise ValueError("boom")

    _runner(session_maker, handler).run_pending()
    states = dict(session.execute(select(Job.id, Job.state)).all())
    errors = dict(session.execute(select(Job.id, Job.error)).all())
    assert (states[refused], errors[refused]) == (JobState.REFUSED, "没有可导出的记录")
    assert (states[broken], errors[broken]) == (JobState.FAILED, "测试任务失败：ValueError")
    log = session.scalars(select(OperationLog).order_by(OperationLog.id.desc())).first()
    assert (log.operation, log.status) == ("export:bill", OperationStatus.FAILED)
    assert _count(session, OperationLog) == project_count + 1
    assert not session.scalars(select(Project).where(Project.name.like("不应留下%"))).all()  # rolled back


# --- queueing locks: one run per project·month·stage ----------------------------------------------------------
LOCK = jobs.QueueLock("dunning/1/2026-11/2", "该项目 2026-11 第二次催缴正在进行中")


def _locks(session) -> dict[str, int]:
    return dict(session.execute(select(JobLock.key, JobLock.job_id)).all())


def test_a_queueing_lock_refuses_a_second_job_until_the_first_ends(session):
    manager = f.user(session)
    manager.display_name = "张经理"
    a, b = _actor(manager), _actor(f.user(session))
    first = _enqueue(session, a, locks=[LOCK])
    before = _count(session)
    with pytest.raises(jobs.JobBusy) as busy:
        _enqueue(session, b, locks=[jobs.QueueLock("other/1", "其他"), LOCK])
    assert busy.value.message.startswith("该项目 2026-11 第二次催缴正在进行中（张经理发起，排队中）")
    assert (_count(session), _locks(session)) == (before, {LOCK.key: first})  # nothing written
    _enqueue(session, b, locks=[jobs.QueueLock("dunning/1/2026-11/3", "第三次")])  # another stage: its own lock

    claimed = jobs.claim_job(session, worker="w1", settings=SETTINGS)
    with pytest.raises(jobs.JobBusy, match="进行中）"):  # running holds it too
        _enqueue(session, b, locks=[LOCK])
    jobs.finish_job(session, claimed.id, worker="w1", state=JobState.DONE)
    assert LOCK.key not in _locks(session)  # given back with the outcome
    second = _enqueue(session, b, locks=[LOCK])
    assert _locks(session)[LOCK.key] == second


def test_a_dead_workers_lock_is_kept_while_it_is_retried_and_given_back_when_it_fails(session):
    actor = _actor(f.user(session))
    job_id = _enqueue(session, actor, locks=[LOCK], params={})
    dead = f"{jobs.HOST}:999999999"
    for attempt in (1, 2):
        jobs.claim_job(session, worker=dead, settings=SETTINGS)
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
        jobs.recover_jobs(session)
        assert (LOCK.key in _locks(session)) is (attempt == 1)
    assert session.get(Job, job_id).state is JobState.FAILED
    # a lock left behind by a job that ended some other way is taken over, not held forever
    stale = _enqueue(session, actor, locks=[LOCK])
    session.execute(update(Job).where(Job.id == stale).values(state=JobState.DONE))
    taken = _enqueue(session, actor, locks=[LOCK])
    assert _locks(session) == {LOCK.key: taken}


@pytest.fixture
def committed_users(engine):
    """Two users committed for real (the concurrent transactions must see them), removed afterwards."""
    with Session(engine) as s, s.begin():
        ids = [f.user(s).id for _ in range(2)]
    yield ids
    with Session(engine) as s, s.begin():
        s.execute(delete(Job).where(Job.user_id.in_(ids)))
        s.execute(delete(User).where(User.id.in_(ids)))


def test_two_concurrent_enqueues_of_one_run_make_exactly_one_job(engine, committed_users):
    """Two transactions at once (PostgreSQL: both inside before either commits; SQLite: the second waits for the
    write lock, as a request does): one job is queued, the other is told 「正在进行中」."""
    maker = make_sessionmaker(engine)
    ready = threading.Barrier(2, timeout=10)
    outcomes: list[object] = []

    def enqueue(user_id: int) -> None:
        tries = []

        def work() -> int:  # run again by in_turn on SQLite when the other wrote first, as a request is
            with maker.begin() as s:
                tries.append(s.scalar(select(func.count()).select_from(Job)))  # inside the transaction …
                if len(tries) == 1:
                    ready.wait()  # … both of them, before either enqueues
                return jobs.enqueue_job(s, kind="dunning", title="发起催缴", params={}, settings=SETTINGS,
                                        actor=Actor(user_id=user_id, name="", project_ids=None), locks=[LOCK])
        try:
            outcomes.append(in_turn(work))
        except (jobs.JobBusy, threading.BrokenBarrierError) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=enqueue, args=(uid,)) for uid in committed_users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(type(o).__name__ for o in outcomes) == ["JobBusy", "int"], outcomes
    with maker() as s:
        queued = s.scalars(select(Job.id).where(Job.user_id.in_(committed_users))).all()
        assert queued == [o for o in outcomes if isinstance(o, int)]
        assert _locks(s) == {LOCK.key: queued[0]}
