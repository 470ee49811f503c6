"""钥匙借用: a key goes out only while one of its copies is in the cabinet, and its 状态 follows its loans —
借出 while a loan is open (no 归还时间), 在库 once every copy is back. 已交业主 and 遗失 are set by hand and
end lending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import KeyLoan, KeyRecord, KeyStatus

from .actor import Actor
from .errors import NotPermitted, Refused

# The statuses the loans decide; the others are a fact about the key that a loan cannot change.
FOLLOWS_LOANS = (KeyStatus.IN_STOCK, KeyStatus.LENT)


def _key(session: Session, key_id: int, actor: Actor) -> KeyRecord:
    key = session.get(KeyRecord, key_id)
    if key is None:
        raise Refused(f"钥匙不存在：{key_id}", [key_id])
    if not actor.can_see(key.project_id):
        raise NotPermitted("无权操作其他项目的钥匙", [key_id])
    return key


def _open_loans(session: Session, key_id: int, *, besides: int | None = None) -> int:
    where = [KeyLoan.key_id == key_id, KeyLoan.returned_at.is_(None)]
    if besides is not None:
        where.append(KeyLoan.id != besides)
    return session.scalar(select(func.count()).select_from(KeyLoan).where(*where)) or 0


def check_loan(session: Session, *, project_id: int, key_id: int, returned_at: dt.datetime | None,
               loan_id: int | None = None, actor: Actor) -> None:
    """A loan typed or corrected in the console: the key is of the loan's project, and a loan that goes out
    (a new one, or one moved to another key or no longer returned) needs a copy of a key that can be lent."""
    key = _key(session, key_id, actor)
    if key.project_id != project_id:
        raise Refused(f"钥匙 {key.code} 不属于所选项目", [key_id])
    if returned_at is not None:
        return
    before = session.get(KeyLoan, loan_id) if loan_id is not None else None
    if before is not None and before.key_id == key_id and before.returned_at is None:
        return  # an open loan corrected (a phone number, the purpose): it went out already
    if key.status not in FOLLOWS_LOANS:
        raise Refused(f"钥匙 {key.code} {key.name} {key.status.label}，不能借出", [key_id])
    if _open_loans(session, key_id, besides=loan_id) >= key.copies:
        raise Refused(f"钥匙 {key.code} {key.name} 共 {key.copies} 把，均已借出未还：请先登记归还", [key_id])


def check_key_status(session: Session, *, key_id: int, status: KeyStatus, actor: Actor) -> None:
    """在库 and 借出 follow the loans: a key with copies out is not 在库, one with none out is not 借出."""
    _key(session, key_id, actor)
    out = _open_loans(session, key_id)
    if status is KeyStatus.IN_STOCK and out:
        raise Refused(f"该钥匙尚有 {out} 把借出未还：登记归还后自动改为{KeyStatus.IN_STOCK.label}", [key_id])
    if status is KeyStatus.LENT and not out:
        raise Refused(f"该钥匙没有未归还的借用登记：{KeyStatus.LENT.label}状态由借用登记自动设置", [key_id])


def sync_key_status(session: Session, *, key_ids: Iterable[int], actor: Actor) -> list[int]:
    """Set 借出 / 在库 from the keys' open loans (the audit trail records the change and who made it);
    returns the keys changed."""
    ids = sorted({int(k) for k in key_ids if k is not None})
    out = set(session.scalars(
        select(KeyLoan.key_id).where(KeyLoan.key_id.in_(ids), KeyLoan.returned_at.is_(None)).distinct()
    ))
    changed = []
    for key in session.scalars(select(KeyRecord).where(KeyRecord.id.in_(ids), actor.project_filter(KeyRecord.project_id))):
        wanted = KeyStatus.LENT if key.id in out else KeyStatus.IN_STOCK
        if key.status in FOLLOWS_LOANS and key.status is not wanted:
            key.status = wanted
            changed.append(key.id)
    session.flush()
    return changed
