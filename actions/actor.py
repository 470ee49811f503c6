"""Who is acting, and which projects they may touch: passed to every action as ``actor``."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from models import Project, User

from .errors import NotPermitted


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


class CompanyWideOnly(NotPermitted):
    """Reference data shared by every project, written by an actor who sees only some of them."""


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


# Tables without a project column whose rows still belong to one project — through their parent (出勤 → 培训,
# 得分 → 答卷) or as the project itself — or that have their own guard (accounts and roles: accounts.py).
OWNED_ELSEWHERE = frozenset({"training_attendance", "survey_score", "project", "user_account", "role", "role_grant",
                             "login_attempt"})


def company_wide(model: type, obj: object | None = None) -> bool:
    """Is this record (or, with ``obj`` None, a new one) reference data every project uses? 派工路由, 考核细则,
    等级, 分公司 — any table without a project column — and a shared row (SLA default, a department) whose project
    is empty. A new project is company-wide too: it belongs to nobody's scope yet."""
    table = model.__table__.name
    if table == "project":
        return obj is None
    if table in OWNED_ELSEWHERE:
        return False
    if "project_id" not in model.__table__.c:
        return True
    return obj is not None and getattr(obj, "project_id", None) is None


def require_company_wide(actor: Actor, model: type, obj: object | None = None) -> None:
    """Refuse a write of company-wide reference data by an actor who does not see every project (issue 14, 6):
    a 客服经理 of one project would otherwise change the rules of all of them. The one check every save path
    (console create/edit/delete, custom pages, CLI) calls before writing."""
    if actor.sees_all or not company_wide(model, obj):
        return
    label = getattr(model, "__label__", "") or model.__name__
    raise CompanyWideOnly(f"「{label}」是各项目共用的基础数据，只有拥有全公司权限的账号可以修改")
