"""Independent read queries run at once, in a few sessions of their own: a page made of several grouped queries
over large tables (the home page) takes about as long as its slowest query, not their sum.

A *runner* takes named tasks ``fn(session) -> value`` and returns their values by name.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, QueuePool, text
from sqlalchemy.orm import Session, sessionmaker

from .actor import Actor
from .kernel.sql import is_postgresql

Task = Callable[[Session], Any]
# Connections one page may hold at once for its reads.
WORKERS = 4
Runner = Callable[[Mapping[str, Task]], dict[str, Any]]

# Per engine, how many connections parallel reads may hold at once across the process: half of what its pool
# may hold. The rest is left to requests, so a page's reads never wait for connections that pages waiting for
# their own reads hold; under load, a page finding no slot free reads in turn (the cores are busy anyway).
_SLOTS: weakref.WeakKeyDictionary[Engine, threading.BoundedSemaphore] = weakref.WeakKeyDictionary()
_SLOTS_LOCK = threading.Lock()


def _slots(engine: Engine) -> threading.BoundedSemaphore:
    with _SLOTS_LOCK:
        slots = _SLOTS.get(engine)
        if slots is None:
            pool = engine.pool
            capacity = pool.size() + max(pool._max_overflow, 0) if isinstance(pool, QueuePool) else 0
            slots = _SLOTS[engine] = threading.BoundedSemaphore(capacity // 2)
        return slots


def in_turn(session: Session) -> Runner:
    """One task after the other, in the caller's session (and transaction)."""
    return lambda tasks: {name: task(session) for name, task in tasks.items()}


def in_parallel(session_maker: sessionmaker[Session], actor: Actor, session: Session) -> Runner:
    """The tasks spread over as many threads as the engine's read slots allow (at most ``WORKERS``), each thread
    with one session from ``session_maker`` (read-only, nothing is committed) taking the next task until none is
    left — a session per thread, not per task: each costs a connection checkout, a statement and a rollback.
    With fewer than two slots free, in turn in ``session``."""

    def reader(pending: queue.SimpleQueue, done: dict[str, Any]) -> None:
        with session_maker() as own:
            own.info["actor"] = actor
            if is_postgresql(own):
                # The reads already run side by side. PostgreSQL's own parallel workers would only compete with
                # them for the same cores, and its parallel plans (bitmap heap scans) pass over the covering
                # indexes: the branch's arrears total took 140–180 ms so, 30 ms from the index alone.
                own.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            while True:
                try:
                    name, task = pending.get_nowait()
                except queue.Empty:
                    return
                done[name] = task(own)

    def run(tasks: Mapping[str, Task]) -> dict[str, Any]:
        slots, taken = _slots(session_maker.kw["bind"]), 0
        while taken < min(len(tasks), WORKERS) and slots.acquire(blocking=False):
            taken += 1
        if taken < 2:
            for _ in range(taken):
                slots.release()
            return in_turn(session)(tasks)
        pending: queue.SimpleQueue = queue.SimpleQueue()
        for item in tasks.items():
            pending.put(item)
        done: dict[str, Any] = {}
        try:
            with ThreadPoolExecutor(max_workers=taken, thread_name_prefix="wuye-read") as pool:
                for future in [pool.submit(reader, pending, done) for _ in range(taken)]:
                    future.result()  # a task's exception is the caller's
            return {name: done[name] for name in tasks}
        finally:
            for _ in range(taken):
                slots.release()

    return run


def runner(session_maker: sessionmaker[Session], actor: Actor, session: Session) -> Runner:
    """In parallel when the sessions come from an engine's pool; in turn in ``session`` when they share one
    connection (the tests bind every session to the connection they roll back, which threads cannot share)."""
    if isinstance(session_maker.kw.get("bind"), Engine):
        return in_parallel(session_maker, actor, session)
    return in_turn(session)
