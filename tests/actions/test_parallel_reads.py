"""Independent reads at once (actions/parallel_reads.py): in sessions of their own (one per reading thread), as
the caller's actor; results by name; a failing task fails the whole; sessions sharing one connection run in turn."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from actions.actor import Actor
from actions.errors import Refused
from actions.parallel_reads import WORKERS, in_parallel, in_turn, runner
from models.db import make_engine, make_sessionmaker

ACTOR = Actor(user_id=7, name="测试", project_ids=frozenset({1}))


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'reads.db'}")
    yield engine
    engine.dispose()


def test_tasks_run_in_threads_and_sessions_of_their_own(engine):
    seen: dict[str, tuple] = {}

    def task(name: str):
        def read(session):
            seen[name] = (threading.current_thread().name, id(session), session.info["actor"])
            return session.execute(text(f"SELECT {len(name)}")).scalar()
        return read

    maker = make_sessionmaker(engine)
    with maker() as caller:
        got = in_parallel(maker, ACTOR, caller)({"a": task("a"), "bb": task("bb"), "ccc": task("ccc")})
    assert got == {"a": 1, "bb": 2, "ccc": 3}
    assert all(thread.startswith("wuye-read") for thread, _, _ in seen.values())
    assert id(caller) not in {session for _, session, _ in seen.values()}
    assert {actor for _, _, actor in seen.values()} == {ACTOR}


def test_a_reading_thread_keeps_one_session_for_the_tasks_it_takes(engine):
    """A session per reading thread, not per task: nine reads take at most WORKERS sessions (checkouts)."""
    seen: dict[int, tuple] = {}

    def task(n: int):
        def read(session):
            seen[n] = (threading.current_thread().name, session)  # held: no id reused by a later session
            return session.execute(text(f"SELECT {n}")).scalar()
        return read

    maker = make_sessionmaker(engine)
    with maker() as caller:
        got = in_parallel(maker, ACTOR, caller)({f"t{n}": task(n) for n in range(9)})
    assert got == {f"t{n}": n for n in range(9)}
    sessions = {session for _, session in seen.values()}
    assert 1 <= len(sessions) <= WORKERS
    assert len({(thread, session) for thread, session in seen.values()}) == len(sessions)  # one per thread


def test_a_refusal_in_one_task_is_the_callers(engine):
    def refuse(session):
        raise Refused("不行")

    maker = make_sessionmaker(engine)
    with maker() as caller, pytest.raises(Refused, match="不行"):
        in_parallel(maker, ACTOR, caller)({"ok": lambda s: 1, "no": refuse})


def test_sessions_on_one_connection_run_in_turn_in_the_callers_session(engine):
    with engine.connect() as conn:
        maker = sessionmaker(bind=conn)
        with maker() as session:
            run = runner(maker, ACTOR, session)
            assert run({"x": lambda s: s is session, "y": lambda s: s is session}) == {"x": True, "y": True}
    with make_sessionmaker(engine)() as session:  # one task: no thread for it
        assert runner(make_sessionmaker(engine), ACTOR, session)({"x": lambda s: s is session}) == {"x": True}
        assert in_turn(session)({}) == {}


def test_reads_hold_at_most_half_the_pool_and_read_in_turn_when_no_slot_is_free(tmp_path):
    """Several home pages at once must not take every connection for their reads (each page also holds its
    own): parallel reads hold at most half of what the pool may, the pages finding no slot read in turn."""
    engine = make_engine(f"sqlite:///{tmp_path / 'slots.db'}", pool_size=3, max_overflow=3)  # 6: 3 for reads
    maker, inside, peak, lock = make_sessionmaker(engine), threading.Barrier(3, timeout=10), [0, 0], threading.Lock()

    def read(session):
        with lock:
            peak[0] += 1
            peak[1] = max(peak)
        try:
            inside.wait()  # the three first reads meet: three connections held by reads at once
        except threading.BrokenBarrierError:
            pass
        with lock:
            peak[0] -= 1
        return threading.current_thread().name

    with maker() as first, maker() as second:
        one = in_parallel(maker, ACTOR, first)
        other = in_parallel(maker, ACTOR, second)
        shown = {}
        page = threading.Thread(target=lambda: shown.update(one({"a": read, "b": read, "c": read, "d": read})))
        page.start()
        while peak[1] < 3:  # the first page holds the three slots
            page.join(0.01)
        in_turn_ = other({"x": lambda s: s is second, "y": lambda s: s is second})
        inside.abort()
        page.join(10)
    assert peak[1] == 3  # never the fourth read at once: WORKERS is 4, the slots are 3
    assert all(name.startswith("wuye-read") for name in shown.values())
    assert in_turn_ == {"x": True, "y": True}  # no slot free: in turn, in the caller's session
    engine.dispose()
