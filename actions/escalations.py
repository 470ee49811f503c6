"""诉求升级: 「员工无法解决的问题，报主管；主管无法解决的，报经理；经理无法解决的，报总经理」(002 走回访 三 7). A request
goes up one level at a time while it is open — a 重大投诉 straight to the manager or the branch; each step keeps who
raised it and why, and the answer given. Two people raising the same request at once are serialised on the
request's row; the level is unique per request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    Escalation,
    EscalationLevel,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    Staff,
    StaffPosition,
    User,
    label_of,
    utcnow,
)

from . import records
from .actor import Actor
from .audit import as_actor, log_operation
from .errors import NotPermitted, Refused

ENDED = (RequestStatus.CLOSED, RequestStatus.CANCELLED)
# The level each post answers for: 主管 what was raised to 主管, 经理 to 经理 (and below).
POST_LEVELS = {StaffPosition.SUPERVISOR: EscalationLevel.SUPERVISOR, StaffPosition.MANAGER: EscalationLevel.MANAGER}


def _answers_up_to(session: Session, actor: Actor) -> tuple[EscalationLevel | None, str] | None:
    """The highest level the actor answers for and the post it holds; None when the account names no 员工 (its post
    unknown). A 分公司 or company-wide account answers every level."""
    if actor.sees_all:
        return EscalationLevel.GENERAL, "分公司"
    row = session.execute(select(User.is_superuser, User.branch_id, Staff.position)
                          .outerjoin(Staff, Staff.id == User.staff_id).where(User.id == actor.user_id)).first()
    if row is None:
        return None
    if row.is_superuser or row.branch_id is not None:
        return EscalationLevel.GENERAL, "分公司"
    if row.position is None:
        return None
    return POST_LEVELS.get(row.position), row.position.label


def answered_level(session: Session, *, actor: Actor) -> EscalationLevel | None:
    """The highest level the actor may answer (批复), or None when it answers none: its 员工 record holds no post
    that answers a level, or it names none. The 诉求升级 list offers its 批复 box only to an account that answers
    one; 批复 itself holds the rule (``respond_escalation``)."""
    held = _answers_up_to(session, actor)
    return held[0] if held else None


LEVELS = tuple(EscalationLevel)


def _skipped_level(session: Session, request: ServiceRequest, level: EscalationLevel,
                   highest: EscalationLevel | None, actor: Actor) -> str | None:
    """Why ``level`` skips one, or None. 「员工无法解决的报主管，主管无法解决的报经理，经理无法解决的报总经理」(002 走回访
    三 7): one level up from the highest raised so far — or from the post of who raises it (a 主管 raises what he
    cannot settle to the 经理). A 重大投诉 goes to the manager or the branch at once: 经理「受理重要投诉…重大问题及时
    向上级领导汇报」(002 经理职责 七), 「对于重大投诉事件，由分公司负责协助项目进行处理」(004 (三) 6)."""
    below = LEVELS[LEVELS.index(level) - 1] if level is not LEVELS[0] else None
    if below is None or below == highest:
        return None
    if request.kind is RequestKind.COMPLAINT and request.complaint_major:
        return None
    held = _answers_up_to(session, actor)
    own = held[0] if held is not None else None
    if own is not None and own.value >= below.value:
        return None
    reached = max((x for x in (highest, own) if x is not None), key=LEVELS.index, default=None)
    step = LEVELS[LEVELS.index(reached) + 1] if reached is not None else LEVELS[0]
    return (f"诉求#{request.id} 须逐级上报：员工无法解决的报{LEVELS[0].label}，{LEVELS[0].label}无法解决的报"
            f"{LEVELS[1].label}，{LEVELS[1].label}无法解决的报{LEVELS[2].label}——请先上报{step.label}"
            f"（重大投诉可直接上报{LEVELS[1].label}或{LEVELS[2].label}）")


@dataclass(frozen=True)
class EscalationResult:
    escalation_id: int
    message: str


@as_actor
def escalate_request(session: Session, *, request_id: int, level: EscalationLevel, reason: str,
                     actor: Actor) -> EscalationResult:
    request = session.execute(
        select(ServiceRequest).where(ServiceRequest.id == request_id).with_for_update()
    ).scalar_one_or_none()
    if request is None:
        raise Refused(f"{label_of(Escalation, 'request')}不存在：{request_id}", [request_id])
    if not actor.can_see(request.project_id):
        raise NotPermitted(f"无权上报该{label_of(Escalation, 'request')}", [request_id])
    if request.status in ENDED:
        raise Refused(f"诉求#{request_id} {request.status.label}，无需上报", [request_id])
    reason = (reason or "").strip()
    if not reason:
        raise Refused(f"请填写{label_of(Escalation, 'reason')}", [request_id])
    records.check_text_length(Escalation, "reason", reason)
    highest = session.scalar(select(func.max(Escalation.level)).where(Escalation.request_id == request_id))
    if highest is not None and level.value <= EscalationLevel(highest).value:
        raise Refused(f"诉求#{request_id} 已上报至{EscalationLevel(highest).label}，只能向更高一级上报", [request_id])
    if refusal := _skipped_level(session, request, level, highest and EscalationLevel(highest), actor):
        raise Refused(refusal, [request_id])
    row = Escalation(project_id=request.project_id, request_id=request_id, level=level, reason=reason,
                     escalated_by_id=actor.user_id, escalated_at=utcnow())
    session.add(row)
    session.flush()
    log_operation(session, "escalate_request", project_id=request.project_id,
                  params={"request_id": request_id, "level": level.label}, counts={"escalations": 1})
    return EscalationResult(row.id, f"已将诉求#{request_id} 上报至{level.label}")


@as_actor
def respond_escalation(session: Session, *, escalation_id: int, response: str, actor: Actor) -> EscalationResult:
    row = session.execute(select(Escalation).where(Escalation.id == escalation_id).with_for_update()).scalar_one_or_none()
    if row is None or not actor.can_see(row.project_id):
        raise Refused(f"{Escalation.__label__}不存在或无权查看：{escalation_id}", [escalation_id])
    if row.escalated_by_id is not None and row.escalated_by_id == actor.user_id:
        # 员工无法解决的报主管，主管无法解决的报经理: the answer is the level's it was raised to, not the raiser's own
        raise NotPermitted(f"不能批复自己上报的{Escalation.__label__}：须由{row.level.label}批复", [escalation_id])
    held = _answers_up_to(session, actor)
    if held is None:
        # the level answers by post (员工档案), not by the role an account was given: a login with no 员工 record —
        # a shared desk account, one made for a temp — could otherwise answer what went to the 经理
        raise NotPermitted(f"您的账号未关联员工档案，无法确认岗位：该诉求已上报至{row.level.label}，须由{row.level.label}批复"
                           "（请系统管理员在账号中关联员工）", [escalation_id])
    if held[0] is None or held[0].value < row.level.value:
        # 员工无法解决的报主管，主管无法解决的报经理，经理无法解决的报总经理: a 主管 does not answer what went to the 经理
        raise NotPermitted(f"该诉求已上报至{row.level.label}，须由{row.level.label}批复（您的岗位是{held[1]}）",
                           [escalation_id])
    if row.responded_at is not None:
        raise Refused(f"该上报已于 {row.responded_at.astimezone(SHANGHAI):%Y-%m-%d} 批复", [escalation_id])
    response = (response or "").strip()
    if not response:
        raise Refused(f"请填写{label_of(Escalation, 'response')}", [escalation_id])
    records.check_text_length(Escalation, "response", response)
    row.response, row.responded_by_id, row.responded_at = response, actor.user_id, utcnow()
    session.flush()
    log_operation(session, "respond_escalation", project_id=row.project_id,
                  params={"escalation_id": escalation_id}, counts={"responses": 1})
    return EscalationResult(row.id, f"已批复诉求#{row.request_id} 的上报")
