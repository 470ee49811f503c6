"""Two transactions at once: the first holds its transaction open while the second runs in another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session


def second_while_first_open(engine: Engine, first: Callable[[Session], Any],
                            second: Callable[[Session], Any]) -> tuple[bool, dict]:
    """``first(session)`` in a transaction left open; ``second(session)`` in its own transaction on a thread; the
    first commits after a second. Returns whether the second was still waiting then, and its ``result`` or
    ``error``."""
    box: dict = {}
    held = Session(engine)
    held.begin()
    first(held)

    def run_second() -> None:
        try:
            with Session(engine) as s, s.begin():
                box["result"] = second(s)
        except Exception as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run_second)
    thread.start()
    thread.join(1.0)
    waited = thread.is_alive()
    held.commit()
    held.close()
    thread.join(15)
    return waited, box


@contextmanager
def committed_project(engine: Engine, roles: list[str], made: tuple[type, ...] = ()) -> Iterator[dict]:
    """A committed project with one staff member and a user of ``roles`` (``ids``: project, staff, user, actor); on
    leaving, the rows of the project-scoped ``made`` models, those three, its branch and the logs written meanwhile
    are deleted."""
    from actions.actor import actor_for_user
    from models import AuditLog, Branch, OperationLog, Project, Staff, User, user_project, user_role
    from tests import factories as f

    with Session(engine) as s, s.begin():
        marks = (s.scalar(select(func.max(AuditLog.id))) or 0, s.scalar(select(func.max(OperationLog.id))) or 0)
        p = f.project(s)
        staff, user = f.staff(s, project_=p), f.user(s, roles=roles, projects=[p])
        ids = {"project": p.id, "branch": p.branch_id, "staff": staff.id, "user": user.id}
    with Session(engine) as s:
        ids["actor"] = actor_for_user(s, s.get(User, ids["user"]))
    try:
        yield ids
    finally:
        with Session(engine) as s, s.begin():
            for model in made:
                s.execute(delete(model).where(model.project_id == ids["project"]))
            s.execute(delete(user_role).where(user_role.c.user_id == ids["user"]))
            s.execute(delete(user_project).where(user_project.c.user_id == ids["user"]))
            s.execute(delete(User).where(User.id == ids["user"]))
            s.execute(delete(Staff).where(Staff.id == ids["staff"]))
            s.execute(delete(Project).where(Project.id == ids["project"]))
            s.execute(delete(Branch).where(Branch.id == ids["branch"]))
            s.execute(delete(AuditLog).where(AuditLog.id > marks[0]))
            s.execute(delete(OperationLog).where(OperationLog.id > marks[1]))
