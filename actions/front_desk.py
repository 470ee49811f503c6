"""The front desk's handover of after-hours collections to the cashier, and the day's mail notified to the butlers.

代收款交接 (002 前台 7): what a front-desk agent collected since their last handover (every payment they took, up to
now) is handed over in one record; the cashier — someone else — counts it and confirms, a difference explained.
应交 is the cash only: 微信、支付宝、刷卡、银行转账 went straight to the company's account, and are listed beside it
by method (笔数, 金额), not counted by the cashier.
A collector's handovers follow each other without gap or overlap: each starts where the last one ended, under a
lock on the collector's row.

邮件领取通知 (002 前台 2): once a day, each butler is told how many items for the units of their buildings wait
at the desk; a second click the same day changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    ZERO,
    AuditKind,
    Building,
    CashHandover,
    MailItem,
    MailNotice,
    Payment,
    PayMethod,
    ServiceRequest,
    SpecialService,
    Staff,
    Unit,
    User,
    label_of,
    utcnow,
)

from . import records
from .actor import Actor
from .audit import as_actor, log_operation, record_bulk
from .errors import NotPermitted, Refused
from .kernel.money import cents
from .kernel.scope import visible_projects
from .kernel.sql import upsert_insert


@dataclass(frozen=True)
class Handover:
    handover_id: int
    payments: int
    amount: Decimal
    message: str


@as_actor
def hand_over_collections(session: Session, *, collector_id: int | None = None, actor: Actor) -> Handover:
    """交接: the collector's payments (the actor's own staff record by default) in their project that no handover
    took yet."""
    if collector_id is None:
        collector_id = session.scalar(select(User.staff_id).where(User.id == actor.user_id)) if actor.user_id else None
    collector = session.execute(select(Staff).where(Staff.id == collector_id).with_for_update()
                                ).scalar_one_or_none() if collector_id is not None else None
    if collector is None:
        raise Refused(f"请选择{label_of(CashHandover, 'collector')}（当前账号未关联员工档案）",
                      [collector_id] if collector_id else [])
    project_id = collector.project_id
    if not actor.can_see(project_id):
        raise NotPermitted("无权交接该员工的代收款", [collector.id])
    last = session.scalar(select(func.max(CashHandover.period_to)).where(CashHandover.collector_id == collector.id))
    until = utcnow()
    # The collector's payments no handover took yet — not those timed since the last one: a payment typed in after
    # a handover with an earlier 收款时间, or committed while one was made, is in the next. Locked, so a 冲正 of one
    # waits; each payment is handed over once.
    taken = session.execute(
        select(Payment.id, Payment.method, Payment.amount, Payment.paid_at)
        .where(Payment.collector_id == collector.id, Payment.project_id == project_id, Payment.paid_at < until,
               Payment.handover_id.is_(None), Payment.reversed_at.is_(None))  # 冲正: recorded wrongly, no money taken
        .order_by(Payment.id).with_for_update()
    ).all()
    by_method: dict[PayMethod, tuple[int, Decimal]] = {}
    for row in taken:
        n, total = by_method.get(row.method, (0, ZERO))
        by_method[row.method] = (n + 1, cents(total + row.amount))
    count, amount = by_method.pop(PayMethod.CASH, (0, ZERO))
    others = other_methods_text(by_method)
    if not count:
        after = f"自 {last.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 上次交接以来" if last else ""
        beside = f"（{others}，已直接入公司账户，不交现金）" if others else ""
        raise Refused(f"{collector.name}{after}没有代收现金，无需交接{beside}", [collector.id])
    since = min(r.paid_at for r in taken)
    row = CashHandover(project_id=project_id, collector_id=collector.id, period_from=min(since, last or since),
                       period_to=until, payments=count, amount=amount, other_methods=others,
                       handed_by_id=actor.user_id, handed_at=until)
    session.add(row)
    session.flush()
    ids = [r.id for r in taken]
    session.execute(update(Payment.__table__).where(Payment.id.in_(ids)).values(handover_id=row.id),
                    execution_options={"synchronize_session": False})
    record_bulk(session, kind=AuditKind.UPDATE, table=Payment.__tablename__,
                ids=select(Payment.id, Payment.project_id).where(Payment.id.in_(ids)),
                summary=f"{CashHandover.__label__}#{row.id}", changes={"handover_id": row.id})
    log_operation(session, "hand_over_collections", project_id=project_id,
                  params={"collector_id": collector.id}, counts={"payments": count, "amount": row.amount})
    beside = f"；{others}已直接入公司账户，不交现金" if others else ""
    return Handover(row.id, count, row.amount,
                    f"{collector.name} 交接代收现金 {count} 笔，共 {row.amount} 元，待收银员确认{beside}")


def other_methods_text(by_method: Mapping[PayMethod, tuple[int, Decimal]]) -> str:
    """The electronic payments beside a handover's cash, by method in the methods' order: 「微信 2 笔 300.00 元；
    刷卡 1 笔 50.00 元」 ("" without any)."""
    return "；".join(f"{m.label} {by_method[m][0]} 笔 {by_method[m][1]} 元" for m in PayMethod
                     if m is not PayMethod.CASH and m in by_method)


@as_actor
def confirm_handover(session: Session, *, handover_id: int, counted: Decimal | None, note: str = "",
                     actor: Actor) -> Handover:
    """收银员确认: the cashier — not who handed it over — records the amount counted; a difference needs a word."""
    row = session.execute(select(CashHandover).where(CashHandover.id == handover_id).with_for_update()
                          ).scalar_one_or_none()
    if row is None or not actor.can_see(row.project_id):
        raise Refused(f"{CashHandover.__label__}不存在或无权查看：{handover_id}", [handover_id])
    if row.confirmed_at is not None:
        raise Refused(f"该交接已于 {row.confirmed_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 确认", [handover_id])
    if actor.user_id is not None and actor.user_id == row.handed_by_id:
        raise Refused("交接须由收银员确认，不能由交出人本人确认", [handover_id])
    if counted is None or counted < 0:
        raise Refused(f"请填写{label_of(CashHandover, 'counted')}", [handover_id])
    counted = counted.quantize(Decimal("0.01"))
    note = (note or "").strip()
    records.check_text_length(CashHandover, "note", note)
    if counted != row.amount and not note:
        raise Refused(f"实收 {counted} 元与应交 {row.amount} 元不符，请说明差额", [handover_id])
    row.counted, row.note, row.cashier_id, row.confirmed_at = counted, note, actor.user_id, utcnow()
    session.flush()
    log_operation(session, "confirm_handover", project_id=row.project_id, params={"handover_id": row.id},
                  counts={"amount": row.amount, "counted": counted})
    difference = f"，差额 {counted - row.amount} 元" if counted != row.amount else ""
    return Handover(row.id, row.payments, counted, f"已确认交接 #{row.id}：实收 {counted} 元{difference}")


@dataclass(frozen=True)
class MailNotices:
    day: dt.date
    notified: int  # butlers told now
    already: int  # told before today
    items: int
    unassigned: int  # items whose unit's building has no butler: the desk hands them out itself

    @property
    def message(self) -> str:
        text = f"{self.day} 已通知 {self.notified} 位楼宇管家领取邮件 {self.items} 件"
        if self.already:
            text += f"（{self.already} 位今日已通知）"
        return text + (f"；{self.unassigned} 件所在楼栋未设管家，由前台发放" if self.unassigned else "")


@as_actor
def notify_mail(session: Session, *, day: dt.date, project_ids: Iterable[int] | None = None,
                actor: Actor) -> MailNotices:
    """每日通知管家领取: in these projects (all the actor's when none), the items not yet picked up, received by the
    end of ``day``, counted per butler of the unit (or its building) — one notice per butler and day
    (insert-or-ignore on project, day, butler)."""
    ids = sorted(visible_projects(session, project_ids, actor))
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), SHANGHAI)
    butler = func.coalesce(Unit.butler_id, Building.butler_id)  # the unit's own 责任管家, else its building's
    waiting = session.execute(
        select(MailItem.project_id, butler, func.count(MailItem.id))
        .select_from(MailItem).outerjoin(Unit, Unit.id == MailItem.unit_id)
        .outerjoin(Building, Building.id == Unit.building_id)
        .where(MailItem.project_id.in_(ids), MailItem.picked_up_at.is_(None), MailItem.received_at < end)
        .group_by(MailItem.project_id, butler)
    ).all()
    per_butler = {(p, b): n for p, b, n in waiting if b is not None}
    unassigned = sum(n for _, b, n in waiting if b is None)
    if not per_butler:
        raise Refused(f"{day} 没有待管家领取的邮件包裹", ids)
    now = utcnow()
    rows = [{"project_id": p, "day": day, "butler_id": b, "items": n, "notified_by_id": actor.user_id,
             "notified_at": now} for (p, b), n in sorted(per_butler.items())]
    ids = list(session.scalars(upsert_insert(session, MailNotice).values(rows).on_conflict_do_nothing(
        index_elements=["project_id", "day", "butler_id"]).returning(MailNotice.id)))
    if ids:
        record_bulk(session, kind=AuditKind.INSERT, table=MailNotice.__tablename__, summary=f"{day} 通知管家领取邮件",
                    ids=select(MailNotice.id, MailNotice.project_id).where(MailNotice.id.in_(ids)))
    items = sum(per_butler.values())
    log_operation(session, "notify_mail", project_id=ids[0] if len(ids) == 1 else None,
                  params={"day": day, "project_ids": ids},
                  counts={"notified": len(ids), "already": len(rows) - len(ids), "items": items})
    return MailNotices(day, len(ids), len(rows) - len(ids), items, unassigned)


def check_special_service(session: Session, *, project_id: int | None, special_service_id: int | None) -> None:
    """特约服务 chosen on a request: one of its own project's catalogue, still offered."""
    if special_service_id is None:
        return
    row = session.get(SpecialService, special_service_id)
    if row is None or row.project_id != project_id or not row.active:
        raise Refused(f"{SpecialService.__label__}须为本项目目录中启用的服务", [special_service_id])


@records.rule(ServiceRequest)
def _special_service_on_request(session: Session, actor: Actor, change: records.Change) -> None:
    request = change.obj
    if change.changed("special_service_id") or change.changed("project_id"):
        check_special_service(session, project_id=request.project_id, special_service_id=request.special_service_id)
