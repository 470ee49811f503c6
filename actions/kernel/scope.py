"""Project scope: resolve the projects an action is asked for and authorise the actor on them, with one wording
for "not found" (「项目不存在：…」) and "not yours" (「无权操作项目：…」) on every path — console, CLI, import."""

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
    if not actor.can_see(project.id):
        raise NotPermitted(f"无权操作项目：{project.name}", [project.id])
    return project


def visible_projects(session: Session, project_ids: Iterable[int] | None, actor: Actor) -> dict[int, str]:
    """id → name of the projects asked for (all the actor sees when none); refuses unknown or foreign ones."""
    if project_ids is None:
        found = dict(session.execute(select(Project.id, Project.name).where(actor.project_filter(Project.id))).all())
        if not found:
            raise Refused("没有可操作的项目")
        return found
    wanted = sorted({int(p) for p in project_ids})
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


def project_ids_named(session: Session, names: Iterable[str]) -> list[int]:
    """The ids of projects given by name (the command line names them); refuses unknown names."""
    names = sorted({n.strip() for n in names})
    found = dict(session.execute(select(Project.name, Project.id).where(Project.name.in_(names))).all())
    missing = [n for n in names if n not in found]
    if missing:
        raise _not_found(missing)
    return [found[n] for n in names]


def project_named(session: Session, name: str) -> int:
    """One project's id by name (the command line)."""
    return project_ids_named(session, [name])[0]
