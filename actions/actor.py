"""Who is acting, and which projects they may touch: passed to every action as ``actor``."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from models import Project, User


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    # None: every project (superuser / HQ); otherwise the projects this actor may see.
    project_ids: frozenset[int] | None
    grants: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    source: str = "console"
    ip: str = ""

    @property
    def sees_all(self) -> bool:
        return self.project_ids is None

    def can_see(self, project_id: int | None) -> bool:
        return self.project_ids is None or project_id in self.project_ids

    def project_filter(self, column: ColumnElement) -> ColumnElement[bool]:
        """A WHERE clause limiting ``column`` (a project_id) to this actor's projects."""
        if self.project_ids is None:
            return true()
        return column.in_(sorted(self.project_ids))

    def outside(self, project_ids: Iterable[int | None]) -> list[int | None]:
        return [p for p in project_ids if not self.can_see(p)]


SYSTEM = Actor(user_id=None, name="系统", project_ids=None, source="system")

# The actor of the current request/command; read by the audit hook when a session carries none.
current_actor: ContextVar[Actor] = ContextVar("current_actor", default=SYSTEM)


def actor_for_user(session: Session, user: User, *, source: str = "console", ip: str = "") -> Actor:
    if user.is_superuser:
        project_ids = None
    else:
        ids = {p.id for p in user.projects}
        if user.branch_id is not None:
            ids |= set(session.scalars(select(Project.id).where(Project.branch_id == user.branch_id)))
        project_ids = frozenset(ids)
    return Actor(
        user_id=user.id,
        name=user.display_name or user.username,
        project_ids=project_ids,
        source=source,
        ip=ip,
    )
