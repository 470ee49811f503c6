"""收费标准年审 as dated tasks, and parking-space leases.

年审 (000 计划4 「4-5月份完成对……收费标准……的年审工作」): each year every active fee type of a project gets a review
due between April 1 and May 31 (insert-or-ignore: scheduling twice adds nothing); completing one records who,
when and the outcome, and stamps the fee type's 年度复核日期.

车位租赁 (001 三 10 「负责办理小区车位出租手续」): a space is let to a customer of its project for a term; the
terms of one space never overlap (checked under a lock on the space's row). The space's 租用 flag follows its
leases: rented while one covers today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from models import (
    AuditKind,
    Customer,
    FeeReview,
    FeeType,
    ParkingLease,
    ParkingSpace,
    ReviewStatus,
    label_of,
)

from . import records
from .actor import Actor
from .audit import as_actor, log_operation, record_bulk
from .errors import NotPermitted, Refused
from .kernel.periods import today_local
from .kernel.scope import visible_projects
from .kernel.sql import upsert_insert

REVIEW_FROM, REVIEW_BY = (4, 1), (5, 31)  # 4-5月份完成年审


@dataclass(frozen=True)
class ReviewSchedule:
    year: int
    scheduled: int
    already: int

    @property
    def message(self) -> str:
        text = f"已生成 {self.year} 年收费标准年审任务 {self.scheduled} 项（{self.year}-04-01 至 {self.year}-05-31）"
        return text + (f"，{self.already} 项此前已生成" if self.already else "")


@as_actor
def schedule_fee_reviews(session: Session, *, year: int, project_ids: Iterable[int] | None = None,
                         actor: Actor) -> ReviewSchedule:
    """One 年审 per active fee type of these projects (all the actor's when none), due April–May of ``year``."""
    if not 2000 <= year <= 2100:
        raise Refused(f"年度无效：{year}")
    ids = sorted(visible_projects(session, project_ids, actor))
    fee_types = session.execute(select(FeeType.id, FeeType.project_id).where(
        FeeType.project_id.in_(ids), FeeType.active.is_(True))).all()
    rows = [{"project_id": pid, "year": year, "fee_type_id": fid, "due_from": dt.date(year, *REVIEW_FROM),
             "due_by": dt.date(year, *REVIEW_BY), "status": ReviewStatus.PENDING, "outcome": ""}
            for fid, pid in fee_types]
    new = list(session.scalars(upsert_insert(session, FeeReview).values(rows).on_conflict_do_nothing(
        index_elements=["project_id", "year", "fee_type_id"]).returning(FeeReview.id))) if rows else []
    if new:
        record_bulk(session, kind=AuditKind.INSERT, table=FeeReview.__tablename__, summary=f"生成 {year} 年收费标准年审任务",
                    ids=select(FeeReview.id, FeeReview.project_id).where(FeeReview.id.in_(new)))
    log_operation(session, "schedule_fee_reviews", project_id=ids[0] if len(ids) == 1 else None,
                  params={"year": year, "project_ids": ids}, counts={"scheduled": len(new), "already": len(rows) - len(new)})
    return ReviewSchedule(year, len(new), len(rows) - len(new))


@dataclass(frozen=True)
class ReviewDone:
    review_id: int
    late: bool  # done after 05-31
    message: str


@as_actor
def complete_fee_review(session: Session, *, review_id: int, outcome: str, actor: Actor,
                        on: dt.date | None = None) -> ReviewDone:
    """年审完成: who, when and the outcome; the fee type's 年度复核日期 becomes that day."""
    row = session.execute(select(FeeReview).where(FeeReview.id == review_id).with_for_update()).scalar_one_or_none()
    if row is None or not actor.can_see(row.project_id):
        raise Refused(f"{FeeReview.__label__}不存在或无权查看：{review_id}", [review_id])
    if row.status is ReviewStatus.DONE:
        raise Refused(f"该项年审已于 {row.reviewed_on} 完成", [review_id])
    outcome = (outcome or "").strip()
    if not outcome:
        raise Refused(f"请填写{label_of(FeeReview, 'outcome')}", [review_id])
    records.check_text_length(FeeReview, "outcome", outcome)
    on = on or today_local()
    row.status, row.reviewed_on, row.reviewer_id, row.outcome = ReviewStatus.DONE, on, actor.user_id, outcome
    fee_type = session.get(FeeType, row.fee_type_id)
    fee_type.reviewed_on = on
    session.flush()
    log_operation(session, "complete_fee_review", project_id=row.project_id,
                  params={"review_id": row.id, "fee_type_id": row.fee_type_id}, counts={"done": 1})
    late = on > row.due_by
    return ReviewDone(row.id, late, f"{row.year}年「{fee_type.name}」年审已完成" + ("（已超过 5 月 31 日期限）" if late else ""))


@dataclass(frozen=True)
class Lease:
    lease_id: int
    message: str


def _space(session: Session, space_id: int | None, actor: Actor) -> ParkingSpace:
    space = session.execute(select(ParkingSpace).where(ParkingSpace.id == space_id).with_for_update()
                            ).scalar_one_or_none() if space_id is not None else None
    if space is None:
        raise Refused(f"请选择{label_of(ParkingLease, 'space')}", [space_id] if space_id else [])
    if not actor.can_see(space.project_id):
        raise NotPermitted("无权办理该车位的租赁", [space.id])
    return space


def _sync_rented(session: Session, space: ParkingSpace) -> None:
    """租用 follows the leases: a space is rented while a lease covers today."""
    on = today_local()
    space.is_rented = bool(session.scalar(select(exists().where(
        ParkingLease.space_id == space.id, ParkingLease.start_date <= on, ParkingLease.end_date >= on))))


@as_actor
def lease_parking_space(session: Session, *, space_id: int | None, customer_id: int | None, start_date: dt.date | None,
                        end_date: dt.date | None, monthly_rent: Decimal | None, plate_no: str = "", note: str = "",
                        actor: Actor) -> Lease:
    """出租: a term of a space to a customer of its project, not overlapping another lease of the space."""
    space = _space(session, space_id, actor)
    plate_no, note = (plate_no or "").strip().upper(), (note or "").strip()
    records.check_text_length(ParkingLease, "plate_no", plate_no)
    records.check_text_length(ParkingLease, "note", note)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None or customer.project_id != space.project_id:
        raise Refused(f"{label_of(ParkingLease, 'customer')}须为本项目客户", [customer_id] if customer_id else [])
    if start_date is None or end_date is None:
        raise Refused(f"请填写{label_of(ParkingLease, 'start_date')}和{label_of(ParkingLease, 'end_date')}")
    if end_date < start_date:
        raise Refused(f"{label_of(ParkingLease, 'end_date')}不能早于{label_of(ParkingLease, 'start_date')}")
    if monthly_rent is None or monthly_rent < 0:
        raise Refused(f"请填写{label_of(ParkingLease, 'monthly_rent')}")
    clash = session.execute(select(ParkingLease.id, ParkingLease.start_date, ParkingLease.end_date).where(
        ParkingLease.space_id == space.id,
        and_(ParkingLease.start_date <= end_date, ParkingLease.end_date >= start_date)).limit(1)).first()
    if clash:
        raise Refused(f"车位 {space.code} 在 {clash.start_date} 至 {clash.end_date} 已出租（租赁 #{clash.id}），租期不能重叠",
                      [clash.id])
    row = ParkingLease(project_id=space.project_id, space_id=space.id, customer_id=customer.id,
                       plate_no=plate_no, start_date=start_date, end_date=end_date,
                       monthly_rent=monthly_rent.quantize(Decimal("0.01")), note=note)
    session.add(row)
    if row.plate_no:
        space.plate_no = row.plate_no
    session.flush()
    _sync_rented(session, space)
    session.flush()
    log_operation(session, "lease_parking_space", project_id=space.project_id,
                  params={"space_id": space.id, "customer_id": customer.id, "start": start_date, "end": end_date},
                  counts={"leases": 1})
    return Lease(row.id, f"车位 {space.code} 已租给 {customer.name}：{start_date} 至 {end_date}，月租 {row.monthly_rent} 元")


@as_actor
def end_parking_lease(session: Session, *, lease_id: int, end_date: dt.date | None, actor: Actor) -> Lease:
    """退租: the lease ends on ``end_date`` (not before it began, not after its term)."""
    row = session.execute(select(ParkingLease).where(ParkingLease.id == lease_id).with_for_update()
                          ).scalar_one_or_none()
    if row is None or not actor.can_see(row.project_id):
        raise Refused(f"{ParkingLease.__label__}不存在或无权查看：{lease_id}", [lease_id])
    if end_date is None or not row.start_date <= end_date <= row.end_date:
        raise Refused(f"退租日期须在 {row.start_date} 至 {row.end_date} 之间", [lease_id])
    space = _space(session, row.space_id, actor)
    row.end_date = end_date
    session.flush()
    _sync_rented(session, space)
    session.flush()
    log_operation(session, "end_parking_lease", project_id=row.project_id,
                  params={"lease_id": row.id, "end_date": end_date}, counts={"ended": 1})
    return Lease(row.id, f"车位 {space.code} 于 {end_date} 退租")


def current_leases(session: Session, space_ids: Iterable[int]) -> dict[int, ParkingLease]:
    """The lease covering today of each of these spaces that has one."""
    on = today_local()
    ids = sorted(set(space_ids))
    if not ids:
        return {}
    return {lease.space_id: lease for lease in session.scalars(select(ParkingLease).where(
        ParkingLease.space_id.in_(ids), ParkingLease.start_date <= on, ParkingLease.end_date >= on))}


def not_rented_refusal(code: str, lease: ParkingLease) -> str:
    """Why a space let today cannot be set 未租用 (by hand, or by an import): its 租用 follows the lease."""
    return (f"车位 {code} 租期 {lease.start_date} 至 {lease.end_date}（租赁 #{lease.id}）：{label_of(ParkingSpace, 'is_rented')}"
            f"随车位租赁，退租请在车位租赁中办理")


@records.rule(ParkingSpace)
def _rented_follows_leases(session: Session, actor: Actor, change: records.Change) -> None:
    """A space let today is 租用: set 否 by hand it would be offered for rent while it is let. (A space set 是
    without a lease recorded here is taken: a project's spaces let before its leases were typed in.)"""
    space = change.obj
    if space.id is None or space.is_rented or not change.changed("is_rented"):
        return
    lease = current_leases(session, [space.id]).get(space.id)
    if lease is not None:
        raise Refused(not_rented_refusal(space.code, lease), [space.id])


@records.creates(ParkingLease)
def _lease_form(session: Session, actor: Actor, values: Mapping[str, Any]) -> ParkingLease:
    """车位租赁 → 新增 is 出租 (no overlapping term); a lease ends by 退租, not by editing."""
    result = lease_parking_space(
        session, space_id=records.ref_id(values, "space"), customer_id=records.ref_id(values, "customer"),
        start_date=values.get("start_date"), end_date=values.get("end_date"), monthly_rent=values.get("monthly_rent"),
        plate_no=values.get("plate_no") or "", note=values.get("note") or "", actor=actor)
    return session.get(ParkingLease, result.lease_id)
