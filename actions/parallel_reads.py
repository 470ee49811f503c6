"""Independent read queries run at once, each in a session of its own: a page made of several grouped queries
over large tables (the home page) takes about as long as its slowest query, not their sum.

A *runner* takes named tasks ``fn(session) -> value`` and returns their values by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from .actor import Actor

Task = Callable[[Session], Any]
# Connections one page may hold at once: well inside the engine's pool (5 + 10 overflow) for a few users.
WORKERS = 4
Runner = Callable[[Mapping[str, Task]], dict[str, Any]]


def in_turn(session: Session) -> Runner:
    """One task after the other, in the caller's session (and transaction)."""
    return lambda tasks: {name: task(session) for name, task in tasks.items()}


def in_parallel(session_maker: sessionmaker[Session], actor: Actor) -> Runner:
    """Every task in its own thread and session from ``session_maker``; read-only, nothing is committed."""

    def one(task: Task) -> Any:
        with session_maker() as session:
            session.info["actor"] = actor
            if session.get_bind().dialect.name == "postgresql":
                # The reads already run side by side. PostgreSQL's own parallel workers would only compete with
                # them for the same cores, and its parallel plans (bitmap heap scans) pass over the covering
                # indexes: the branch's arrears total took 140–180 ms so, 30 ms from the index alone.
                session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            return task(session)

    def run(tasks: Mapping[str, Task]) -> dict[str, Any]:
        if len(tasks) < 2:
            return {name: one(task) for name, task in tasks.items()}
        with ThreadPoolExecutor(max_workers=min(len(tasks), WORKERS), thread_name_prefix="wuye-read") as pool:
            futures = {name: pool.submit(one, task) for name, task in tasks.items()}
            return {name: future.result() for name, future in futures.items()}

    return run


def runner(session_maker: sessionmaker[Session], actor: Actor, session: Session) -> Runner:
    """In parallel when the sessions come from an engine's pool; in turn in ``session`` when they share one
    connection (the tests bind every session to the connection they roll back, which threads cannot share)."""
    if isinstance(session_maker.kw.get("bind"), Engine):
        return in_parallel(session_maker, actor)
    return in_turn(session)
