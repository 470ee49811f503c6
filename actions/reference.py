"""Look-ups by natural key for thin callers (the CLI): a name in, an id or a Chinese refusal out."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Branch, User

from .errors import Refused


def branch_id(session: Session, name: str) -> int:
    found = session.scalar(select(Branch.id).where(Branch.name == name.strip()))
    if found is None:
        raise Refused(f"分公司不存在：{name}")
    return found


def existing_usernames(session: Session, usernames: Iterable[str]) -> set[str]:
    names = sorted({n.strip() for n in usernames})
    if not names:
        return set()
    return set(session.scalars(select(User.username).where(User.username.in_(names))))
