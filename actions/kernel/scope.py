"""Project scope: resolve the projects an action is asked for and authorise the actor on them, with one wording
for "not found" (「项目不存在：…」) and "not yours" (「无权操作项目：…」) on every path — console, CLI, import; and
the data no project owns (reference data every project uses), written only by who sees every project."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Project

from ..actor import Actor
from ..errors import NotPermitted, Refused


def _not_found(missing: list) -> Refused:
    return Refused(f"项目不存在：{'、'.join(map(str, missing))}", missing)


def visible_project(session: Session, actor: Actor, project_id: int | None) -> Project:
    """One project by id, which the actor may act on."""
    project = session.get(Project, project_id) if project_id is not None else None
    if project is None:
        raise _not_found([project_id])
    if not actor.can_see(project.id):  # by its number, as below: another project's name is not the actor's to read
        raise NotPermitted(f"无权操作项目：{project.id}", [project.id])
    return project


def visible_projects(session: Session, project_ids: Iterable[int] | None, actor: Actor) -> dict[int, str]:
    """id → name of the projects asked for (all the actor sees when none); refuses unknown or foreign ones."""
    if project_ids is None:
        found = dict(session.execute(select(Project.id, Project.name).where(actor.project_filter(Project.id))).all())
        if not found:
            raise Refused("没有可操作的项目")
        return found
    wanted = sorted({int(p) for p in project_ids if p is not None})  # a page's project left blank: none asked for
    if not wanted:
        raise Refused("请选择项目")
    outside = actor.outside(wanted)
    if outside:
        raise NotPermitted(f"无权操作项目：{'、'.join(map(str, outside))}", outside)
    found = dict(session.execute(select(Project.id, Project.name).where(Project.id.in_(wanted))).all())
    missing = [p for p in wanted if p not in found]
    if missing:
        raise _not_found(missing)
    return found


def project_ids_named(session: Session, names: Iterable[str], actor: Actor | None = None) -> list[int]:
    """The ids of projects given by name (the command line names them); refuses unknown names, and with ``actor``
    the projects outside its scope (a ``--as`` account of 项目一 names 项目二: refused, as on the console)."""
    names = sorted({n.strip() for n in names})
    found = dict(session.execute(select(Project.name, Project.id).where(Project.name.in_(names))).all())
    missing = [n for n in names if n not in found]
    if missing:
        raise _not_found(missing)
    outside = [n for n in names if actor is not None and not actor.can_see(found[n])]
    if outside:
        raise NotPermitted(f"无权操作项目：{'、'.join(outside)}", [found[n] for n in outside])
    return [found[n] for n in names]


def project_named(session: Session, name: str, actor: Actor | None = None) -> int:
    """One project's id by name (the command line), which ``actor`` (when given) may act on."""
    return project_ids_named(session, [name], actor)[0]


class CompanyWideOnly(NotPermitted):
    """Reference data shared by every project, written by an actor who sees only some of them."""


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
