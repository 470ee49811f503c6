"""Independent reads at once (actions/parallel_reads.py): each task in a session of its own, as the caller's
actor; results by name; a failing task fails the whole; sessions sharing one connection run in turn."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from actions.actor import Actor
from actions.errors import Refused
from actions.parallel_reads import in_parallel, in_turn, runner
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

    got = in_parallel(make_sessionmaker(engine), ACTOR)({"a": task("a"), "bb": task("bb"), "ccc": task("ccc")})
    assert got == {"a": 1, "bb": 2, "ccc": 3}
    assert all(thread.startswith("wuye-read") for thread, _, _ in seen.values())
    assert len({session for _, session, _ in seen.values()}) == 3
    assert {actor for _, _, actor in seen.values()} == {ACTOR}


def test_a_refusal_in_one_task_is_the_callers(engine):
    def refuse(session):
        raise Refused("不行")

    with pytest.raises(Refused, match="不行"):
        in_parallel(make_sessionmaker(engine), ACTOR)({"ok": lambda s: 1, "no": refuse})


def test_sessions_on_one_connection_run_in_turn_in_the_callers_session(engine):
    with engine.connect() as conn:
        maker = sessionmaker(bind=conn)
        with maker() as session:
            run = runner(maker, ACTOR, session)
            assert run({"x": lambda s: s is session, "y": lambda s: s is session}) == {"x": True, "y": True}
    with make_sessionmaker(engine)() as session:
        assert runner(make_sessionmaker(engine), ACTOR, session)({"x": lambda s: s is session}) == {"x": False}
        assert in_turn(session)({}) == {}
