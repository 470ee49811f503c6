"""客户诉求受理 (intake): the front desk's quick form, the unit lookup behind it and the repeat check; 我的首问.

首问负责制 "第一个接待业主或被业主询问的公司员工，不受部门的限制": the staff member the owner reached first — the
one keying it in by default, or the engineer or guard the owner stopped — is its 首问负责人 and owns it until it
is closed; 「我的首问」 lists a person's open ones.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import (
    Building,
    Channel,
    ComplaintValidity,
    Customer,
    Priority,
    Project,
    RequestCategory,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    Staff,
    Unit,
    UnitCustomer,
    User,
    WorkOrder,
    label_of,
    utcnow,
)

from . import records, work_orders
from .actor import Actor
from .audit import as_actor, log_operation
from .errors import NotPermitted, Refused
from .form_tokens import form_token as one_time
from .form_tokens import not_this_form
from .kernel.periods import not_yet
from .privacy import mask, shown_tail, whole_number
from .spreadsheets.clean import Invalid, building_spellings, room_key, room_spellings, unit_parts
from .spreadsheets.clean import phone as phone_cleaner
from .spreadsheets.pipeline import shown
from .units import linked_on

# 同一房屋同类问题在此期间内再次报事，标记为重复诉求。
REPEAT_WINDOW = dt.timedelta(days=7)
LOOKUP_LIMIT = 20
PHONE = phone_cleaner()


def clean(text: str | None) -> str:
    """Full-width digits and spaces to half-width, surrounding blanks dropped (X07/X08)."""
    return unicodedata.normalize("NFKC", text or "").replace("\u200b", "").strip()


# A unit as the lists show it or as people type it: 3栋-1303, 3-1303, 3栋1303, 3号楼1303室, A座1203, 主楼-101, 一栋0101 —
# parted as the imports part it (``clean.unit_parts``); its room a number or code, with a dash between parts (1-102).
_UNIT_DASHES = str.maketrans({c: "-" for c in "_/—－"})
_ROOM_TYPED = re.compile(r"^[0-9A-Z]+(?:-[0-9A-Z]+)*$")
# A phone typed with spaces, dashes or brackets: 185 6520 7620, 185-6520-7620, (021) 5678-1234.
_PHONE_TYPED = re.compile(r"^[+(（]?[0-9][0-9 \-()（）]{5,}[0-9]$")
# A landline's area code (010, 02x, 0571 …) before the first digits of its number.
_AREA_CODE = re.compile(r"^(0[12][0-9]|0[3-9][0-9]{2})(?=[2-9])")
_DATE_TYPED = re.compile(r"^[0-9]{4}[-/][0-9]{1,2}([-/][0-9]{1,2})?$")
# A month or a day as people write it: 2026年3月, 2026-3, 2026/03, 2026.3, 2026年3月5日, 2026/3/5.
_MONTH_WRITTEN = re.compile(r"^(?P<y>20[0-9]{2})(?:年(?P<m1>[0-9]{1,2})月(?:(?P<d1>[0-9]{1,2})[日号])?"
                            r"|[-/.](?P<m2>[0-9]{1,2})(?:[-/.](?P<d2>[0-9]{1,2}))?)$")


@dataclass(frozen=True)
class UnitName:
    buildings: tuple[str, ...]  # the names the building may be stored under (``building_spellings``)
    room_no: str


def unit_named(text: str | None) -> tuple[UnitName, ...]:
    """The units ``text`` may name (building and room), each reading ``clean.unit_parts`` gives whose room is a
    room number ("1号楼1-102室": 1号楼1 room 102, or 1号楼 room 1-102); none when it is not a unit written so."""
    typed = clean(text).replace(" ", "").upper()
    if _DATE_TYPED.match(typed):  # 2026-11 is a month, not room 11 of building 2026
        return ()
    named = []
    for building, room in unit_parts(typed.translate(_UNIT_DASHES)):
        buildings, room_no = building_spellings(building), room_key(room)
        if buildings and room_no and _ROOM_TYPED.match(room_no):
            named.append(UnitName(buildings, room_no))
    return tuple(named)


def units_named(names: tuple[UnitName, ...], *, whole: bool = False) -> Select:
    """SELECT the ids of the units ``names`` name (in any project: the caller scopes), the room written with or
    without its leading zeros (1栋-0101 → 1栋 101). The room is a prefix, so a lookup narrows as it is typed
    (3-13 → 3栋 1301, 1302 …); ``whole``: the room number whole."""
    def room(name: UnitName) -> ColumnElement[bool]:
        rooms = room_spellings(name.room_no)
        return Unit.room_no.in_(rooms) if whole else or_(*(Unit.room_no.startswith(r, autoescape=True) for r in rooms))

    return (select(Unit.id).join(Building, Building.id == Unit.building_id)
            .where(or_(*(and_(Building.name.in_(name.buildings), room(name)) for name in names))))


def records_of_unit(model: type, names: tuple[UnitName, ...]) -> ColumnElement[bool] | None:
    """The records of ``model`` that belong to a unit ``names`` name: the unit itself, records with a 房屋, the
    work orders of its requests, the customers linked to it; None: ``model`` names no unit."""
    units = units_named(names)
    if model is Unit:
        return Unit.id.in_(units)
    if model is Customer:
        return Customer.id.in_(select(UnitCustomer.customer_id).where(UnitCustomer.unit_id.in_(units)))
    if model is WorkOrder:
        return WorkOrder.request_id.in_(select(ServiceRequest.id).where(ServiceRequest.unit_id.in_(units)))
    unit = model.__mapper__.relationships.get("unit")
    if unit is not None and unit.mapper.class_ is Unit and unit.direction.name == "MANYTOONE":
        return model.unit_id.in_(units)
    return None


# The punctuation of Chinese text: kept as typed in a search. Every other full-width character (letters, digits, the
# dash, slash and # of codes and dates) and the ideographic space are what a Chinese keyboard types for plain ones.
_CHINESE_PUNCTUATION = "！（），：；？"
_WIDE_PLAIN = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in _CHINESE_PUNCTUATION} | {0x3000: 0x20}
# A search is a few words: a longer term (a pasted page) is refused before it becomes a LIKE pattern, which SQLite
# refuses past 50 000 bytes (an HTTP 500 on every list and lookup) and PostgreSQL scans with over every column.
SEARCH_MAX = 200


def search_term(text: str | None) -> str:
    """A search box's term as the records store it: full-width letters, digits and signs as plain ones, a phone typed
    with spaces or dashes as stored (a mobile as its digits, a landline 021-58888888), and a month or day as written
    (2026年3月, 2026/3/5) as stored: 账期 2026-03, dates 2026-03-05. Punctuation stays as typed: free text is
    stored as it was typed (「张伟（业主）」「漏水，急」) and the console writes its own texts with Chinese
    punctuation (「2026-09 月度考核确认：生成奖惩记录」), so a 「：」 typed or copied from the screen is the one
    stored — folded to 「:」 it found none of them."""
    if text and len(text) > SEARCH_MAX:
        raise Refused(f"搜索内容过长（{len(text)} 个字），最多 {SEARCH_MAX} 个字，请只输入要找的关键词")
    term = clean(text)
    written = _MONTH_WRITTEN.match(term.replace(" ", ""))
    if written and 1 <= int(month := written["m1"] or written["m2"]) <= 12:
        day = written["d1"] or written["d2"]
        return f"{written['y']}-{int(month):02d}" + (f"-{int(day):02d}" if day else "")
    landline = PHONE(term) if any(c.isdigit() for c in term) else None
    if isinstance(landline, str) and "-" in landline:
        return landline  # a landline with its area code or extension, stored as 021-58888888 or 021-58888888-8023
    if _PHONE_TYPED.match(term) and not _DATE_TYPED.match(term) and sum(c.isdigit() for c in term) >= 7:
        digits = re.sub(r"[^0-9+]", "", term)
        digits = re.sub(r"^\+?86(?=1[0-9]{10}$)", "", digits)  # +86 185… is stored as 185…
        return _AREA_CODE.sub(r"\1-", digits)  # the start of a landline, 021 5888 → 021-5888 as 021-58888888 is stored
    return (text or "").translate(_WIDE_PLAIN).replace("\u200b", "").strip()


@dataclass(frozen=True)
class UnitMatch:
    unit_id: int
    project_id: int
    project: str
    unit: str  # 楼栋-房号
    customer_id: int | None
    customer: str
    phone: str  # masked


def find_units(session: Session, *, actor: Actor, project_id: int | None = None, building: str = "",
               room_no: str = "", name: str = "", phone: str = "", limit: int = LOOKUP_LIMIT) -> tuple[UnitMatch, ...]:
    """Units matching 项目/楼栋/房号, or the name or phone of a customer linked to them, in the actor's
    projects — one row per unit and customer (a unit without customers appears once). The phone is the
    caller's whole number (``138 1234 5678`` as typed) or its 尾号 (``5678``): the matches show it masked, and
    another part of it would tell the digits the mask hides (``privacy.whole_number``); such a part finds nothing."""
    building, room_no, name, phone = clean(building), clean(room_no), clean(name), clean(phone)
    if not any((building, room_no, name, phone)):
        return ()
    if project_id is not None and not actor.can_see(project_id):
        raise NotPermitted("无权查看该项目的房屋", [project_id])
    where = [actor.project_filter(Unit.project_id)]
    if project_id is not None:
        where.append(Unit.project_id == project_id)
    if building:
        where.append(Building.name.in_(building_spellings(building)))
    if room_no:
        # with or without its leading zeros (0101 is room 101, 102 room 0102)
        room = Unit.room_no.in_(room_spellings(room_no) or (room_no,))
        if not building:
            # the whole unit typed in the 房号 box, as the owner says it (3栋1303, 3-1303, 一栋0101) — or a room
            # numbered so (2-1101: 单元-房号)
            room = or_(room, *(and_(Building.name.in_(named.buildings), Unit.room_no.in_(room_spellings(named.room_no)))
                               for named in unit_named(room_no)))
        where.append(room)
    if name:
        where.append(Customer.name.contains(name, autoescape=True))
    if phone:
        tail = shown_tail("phone", phone)
        where.append(Customer.phone.endswith(tail) if tail else Customer.phone == (whole_number("phone", phone) or phone))
    rows = session.execute(
        select(Unit.id, Unit.project_id, Project.name, Building.name, Unit.room_no, Customer.id, Customer.name,
               Customer.phone)
        .join(Building, Building.id == Unit.building_id)
        .join(Project, Project.id == Unit.project_id)
        .outerjoin(UnitCustomer, and_(UnitCustomer.unit_id == Unit.id, linked_on()))
        .outerjoin(Customer, Customer.id == UnitCustomer.customer_id)
        .where(*where)
        .order_by(Project.name, Building.sort_key, Unit.sort_key, Unit.id, UnitCustomer.is_primary.desc(), Customer.id)
        .limit(limit)
    ).all()
    return tuple(
        UnitMatch(u, p, pname, f"{b}-{r}", c, cname or "", mask("phone", cphone))
        for u, p, pname, b, r, c, cname, cphone in rows
    )


@dataclass(frozen=True)
class IntakeResult:
    request_id: int
    receiver_id: int | None
    repeat_of_id: int | None  # the earlier request of the same unit and problem, if this one repeats it
    operation_id: int | None  # None: the form had been submitted before and nothing was written
    resubmitted: bool = False

    @property
    def message(self) -> str:
        if self.resubmitted:
            return f"该表单已提交过：诉求 #{self.request_id} 已受理，未重复登记"
        text = f"已受理诉求 #{self.request_id}，首问负责人请跟进至办结"
        if self.repeat_of_id:
            text += f"；同一房屋同类问题 {REPEAT_WINDOW.days} 天内已报过（#{self.repeat_of_id}），已标记为重复诉求"
        return text


@as_actor
def receive_request(
    session: Session,
    *,
    actor: Actor,
    project_id: int | None,
    kind: RequestKind,
    content: str,
    channel: Channel = Channel.PHONE,
    category: RequestCategory = RequestCategory.OTHER,
    priority: Priority = Priority.NORMAL,
    unit_id: int | None = None,
    customer_id: int | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    complaint_major: bool = False,
    received_at: dt.datetime | None = None,
    form_token: str | None = None,
    first_staff_id: int | None = None,
) -> IntakeResult:
    """受理: record a call, visit or message; the actor becomes its 首问负责人. A request for the same unit and
    问题类别 within seven days of an earlier one is flagged as its repeat. ``form_token`` is the console form's
    one-time token: the same form again answers with the request it recorded, and records nothing."""
    token = one_time(form_token)
    earlier = _submitted(session, token, actor)
    if earlier is not None:
        return earlier
    content = (content or "").strip()
    if not content:
        raise Refused(f"请填写{label_of(ServiceRequest, 'content')}")
    records.check_text_length(ServiceRequest, "content", content)
    if not isinstance(kind, RequestKind):
        raise Refused(f"请选择{label_of(ServiceRequest, 'kind')}")
    if project_id is None:
        raise Refused(f"请选择{label_of(ServiceRequest, 'project')}")
    if session.get(Project, project_id) is None:
        raise Refused(f"项目 #{project_id} 不存在", [project_id])
    if not actor.can_see(project_id):
        raise NotPermitted("无权在该项目受理诉求", [project_id])
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit_id is not None and (unit is None or unit.project_id != project_id):
        raise Refused(f"{label_of(ServiceRequest, 'unit')} #{unit_id} 不属于该项目", [unit_id])
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer_id is not None and (customer is None or customer.project_id != project_id):
        raise Refused(f"{label_of(ServiceRequest, 'customer')} #{customer_id} 不属于该项目", [customer_id])
    _check_first_staff(session, first_staff_id, project_id)
    _check_home_repair(kind, unit_id)
    phone = PHONE(contact_phone)  # as the spreadsheet imports read it; a masked number copied back counts as none
    if isinstance(phone, Invalid):
        raise Refused(f"{label_of(ServiceRequest, 'contact_phone')}：{phone.reason}")
    received_at = received_at or utcnow()
    _check_received_at(received_at)

    try:
        with session.begin_nested():
            request = add_request(
                session, actor=actor, project_id=project_id, channel=channel, kind=kind, category=category,
                priority=priority, unit_id=unit_id, customer_id=customer_id,
                contact_name=clean(contact_name) or (customer.name if customer else ""),
                contact_phone=(phone if isinstance(phone, str) else "") or (customer.phone if customer else ""),
                content=content, received_at=received_at,
                complaint_major=bool(complaint_major and kind is RequestKind.COMPLAINT), form_token=token,
                **({"first_staff_id": first_staff_id} if first_staff_id is not None else {}),
            )
    except IntegrityError:
        # the same form's first submission committed while this one waited for its key
        earlier = _submitted(session, token, actor)
        if earlier is None:
            raise
        return earlier
    repeat_of = request.repeat_of_id
    log = log_operation(
        session, "receive_request",
        params={"kind": kind, "channel": channel, "category": category, "unit_id": unit_id},
        counts={"created": 1, "repeat": int(repeat_of is not None)}, project_id=project_id,
        message=f"受理诉求 #{request.id}" + (f"（重复诉求，前次 #{repeat_of}）" if repeat_of else ""),
    )
    return IntakeResult(request.id, actor.user_id, repeat_of, log.id)


def _submitted(session: Session, token: str | None, actor: Actor) -> IntakeResult | None:
    """What the form with this token recorded, if it was submitted before — by this account (its 受理人)."""
    if token is None:
        return None
    row = session.execute(
        select(ServiceRequest.id, ServiceRequest.receiver_id, ServiceRequest.repeat_of_id)
        .where(ServiceRequest.form_token == token)
    ).one_or_none()
    if row is not None and row.receiver_id != actor.user_id:
        raise not_this_form()
    return None if row is None else IntakeResult(*row, operation_id=None, resubmitted=True)


def _check_home_repair(kind: RequestKind | None, unit_id: int | None) -> None:
    """报修(户内) is a repair inside a home: the engineer is sent to that 房屋 (its 派工单 names where to go)."""
    if kind is RequestKind.REPAIR_PRIVATE and unit_id is None:
        raise Refused(f"{RequestKind.REPAIR_PRIVATE.label}须选择{label_of(ServiceRequest, 'unit')}（维修人员按房屋上门）："
                      f"请先查找房屋；公共区域的维修请选{RequestKind.REPAIR_PUBLIC.label}")


def _check_received_at(received_at: dt.datetime) -> None:
    if not_yet(received_at):
        raise Refused(f"{label_of(ServiceRequest, 'received_at')}不能晚于当前时间")


def _check_received_before_handling(session: Session, request: ServiceRequest) -> None:
    """A 受理时间 corrected on the form stays before what followed it — the 派工 (its 时限 count from it) and the
    办结: one typed after them put the request's 处理经过 out of order and showed it closed before it came in."""
    dispatched = session.scalar(select(func.min(WorkOrder.dispatched_at)).where(WorkOrder.request_id == request.id))
    for label, moment in ((label_of(WorkOrder, "dispatched_at"), dispatched),
                          (label_of(ServiceRequest, "closed_at"), request.closed_at)):
        if moment is not None and request.received_at > moment:
            raise Refused(f"{label_of(ServiceRequest, 'received_at')} {shown(request.received_at)} 晚于该诉求的{label}"
                          f" {shown(moment)}：受理在先，请核对时间", [request.id])


def _repeat_of(session: Session, unit_id: int | None, category: RequestCategory | None,
               received_at: dt.datetime) -> int | None:
    """The latest request of the same unit and 问题类别 within :data:`REPEAT_WINDOW` before ``received_at``."""
    if unit_id is None:
        return None
    SR = ServiceRequest
    return session.scalar(
        select(SR.id)
        .where(SR.unit_id == unit_id, SR.category == (category or RequestCategory.OTHER),
               SR.received_at >= received_at - REPEAT_WINDOW, SR.received_at <= received_at)
        .order_by(SR.received_at.desc(), SR.id.desc())
        .limit(1)
    )


def _own_staff(session: Session, actor: Actor, project_id: int | None) -> int | None:
    """The actor's own 员工 record, as 首问负责人 — when it is one of the request's project still at work (an
    account linked to another project's record leaves the field empty rather than name a stranger)."""
    if not actor.user_id:
        return None
    return session.scalar(select(Staff.id).join(User, User.staff_id == Staff.id).where(
        User.id == actor.user_id, Staff.project_id == project_id, Staff.active.is_(True)))


def add_request(session: Session, *, actor: Actor, **fields) -> ServiceRequest:
    """Insert a validated request keyed in by the actor — its 首问负责人 the actor's own staff record unless
    ``first_staff_id`` names another —, linked to the latest request of the same unit and 问题类别 within
    :data:`REPEAT_WINDOW` (its repeat)."""
    SR = ServiceRequest
    repeat_of = _repeat_of(session, fields.get("unit_id"), fields.get("category"), fields["received_at"])
    if "first_staff_id" not in fields and actor.user_id is not None:
        fields["first_staff_id"] = _own_staff(session, actor, fields.get("project_id"))
    if fields.get("kind") is RequestKind.COMPLAINT:  # 有效与否由客服主管判定
        fields.setdefault("complaint_validity", ComplaintValidity.PENDING)
    request = SR(**fields, receiver_id=actor.user_id, repeat_of_id=repeat_of)
    session.add(request)
    session.flush()
    return request


def _check_first_staff(session: Session, first_staff_id: int | None, project_id: int | None) -> None:
    """首问负责人 follows the matter until it is closed: someone of the project still at work."""
    if first_staff_id is None:
        return
    staff = session.get(Staff, first_staff_id)
    if staff is None or staff.project_id != project_id or not staff.active:
        raise Refused(f"{label_of(ServiceRequest, 'first_staff')} #{first_staff_id} 不是该项目的在职员工",
                      [first_staff_id])


@records.rule(ServiceRequest)
def _request_form(session: Session, actor: Actor, change: records.Change) -> None:
    """The console's 新增/编辑 form is held to 受理's rules (receive_request above), so the two cannot differ: a
    受理时间 not ahead of now, the complaint's own fields only on a complaint, which then awaits 判定; a new
    request is owned by who keys it in (受理人, 首问负责人) unless the form names them, and linked to its repeat."""
    request = change.obj
    if change.changed("received_at") and request.received_at is not None:
        _check_received_at(request.received_at)
        if not change.created:
            _check_received_before_handling(session, request)
    if change.changed("first_staff_id") or change.changed("project_id"):
        _check_first_staff(session, request.first_staff_id, request.project_id)
    if change.changed("kind") or change.changed("unit_id"):
        _check_home_repair(request.kind, request.unit_id)
    if request.kind is RequestKind.COMPLAINT:
        if request.complaint_validity is None:
            request.complaint_validity = ComplaintValidity.PENDING
    elif request.complaint_major or request.complained_staff_id is not None:
        raise Refused(f"{label_of(ServiceRequest, 'complaint_major')}、{label_of(ServiceRequest, 'complained_staff')}"
                      f"只能用于投诉：请改选诉求类型或清除这两项")
    if not change.created:
        return
    if request.receiver_id is None:
        request.receiver_id = actor.user_id
    if request.first_staff_id is None:
        request.first_staff_id = _own_staff(session, actor, request.project_id)
    if request.repeat_of_id is None and request.received_at is not None:
        request.repeat_of_id = _repeat_of(session, request.unit_id, request.category, request.received_at)


# --- 答复办结: a request settled by the answer given, without a 派工单 ------------------------------------------
# 咨询、求助、建议、表扬 are answered at the desk (前台职责：接待和处理业主咨询…；需要报事的应填写派工单): the answer closes
# them. 报修 and 投诉 are handled through a 派工单, whose satisfied 回访 closes them (「真正的结束是在回访后」).
ANSWERABLE = (RequestKind.INQUIRY, RequestKind.HELP, RequestKind.SUGGESTION, RequestKind.PRAISE)
# 已答复 (an answer given, the request left open — as older records and imports hold it) is closed the same way: its
# answer, kept or completed, closes it (a 报修/投诉 已答复 is dispatched instead: ``work_orders.ANSWERED_TO_DISPATCH``).
ANSWER_FROM = (RequestStatus.PENDING, RequestStatus.ANSWERED)


@dataclass(frozen=True)
class AnswerResult:
    request_id: int
    already: bool = False  # the same answer sent again (a double submit): nothing written

    @property
    def message(self) -> str:
        if self.already:
            return f"诉求 #{self.request_id} 已答复办结，未重复登记"
        return f"已答复诉求 #{self.request_id}，诉求已办结"


def answer_refusal(request: ServiceRequest) -> str | None:
    """Why ``request`` cannot be answered and closed at the desk, or None — asked by the form before it is offered."""
    if request.kind not in ANSWERABLE:
        return f"诉求 #{request.id} 是{request.kind.label}：须派工处理，回访满意后随派工单关闭办结，不能直接答复办结"
    if request.status not in ANSWER_FROM:
        return f"诉求 #{request.id} {request.status.label}，不能再答复办结"
    return None


@as_actor
def answer_request(session: Session, *, request_id: int, reply: str, actor: Actor,
                   version: int | None = None) -> AnswerResult:
    """答复办结: the answer given to a 咨询/求助/建议/表扬 still 待派工 (or 已答复) is recorded and closes it (首问负责人's
    ownership ends here). ``version``: the one the form started from — refused if someone changed the request since;
    the same answer posted again (a double click, the back button) answers that it is done and writes nothing."""
    SR = ServiceRequest
    reply = (reply or "").strip()
    request = session.get(SR, request_id)
    if request is None or not actor.can_see(request.project_id):
        raise Refused(f"诉求 #{request_id} 不存在", [request_id])
    if request.status is RequestStatus.CLOSED and request.reply == reply and not request.work_orders:
        return AnswerResult(request_id, already=True)
    if refusal := answer_refusal(request):
        raise Refused(refusal, [request_id])
    if version is not None and version != request.version:
        raise Refused(f"诉求 #{request_id} 已被他人修改，请刷新后重试", [request_id])
    if not reply:
        raise Refused(f"请填写{label_of(SR, 'reply')}")
    records.check_text_length(SR, "reply", reply)
    request.reply = reply
    request.status = RequestStatus.CLOSED
    request.closed_at = utcnow()
    try:
        session.flush()  # its audit row (答复内容, 状态, 办结时间); the version refuses a request dispatched meanwhile
    except StaleDataError:
        raise Refused(f"诉求 #{request_id} 已被他人处理，请刷新后重试", [request_id]) from None
    log_operation(session, "answer_request", params={"request_id": request_id}, counts={"closed": 1},
                  project_id=request.project_id, message=f"答复办结诉求 #{request_id}")
    return AnswerResult(request_id)


# --- 撤销: the caller withdraws a request ----------------------------------------------------------------------
# 「业主来电告知已自行解决」「自己请了师傅」: a request the caller withdraws ends 已取消 with the reason said, recorded by
# whom and when (its audit row). It then counts in no figure — not 受理 nor 办结 in 投诉统计, not in the scores, the
# service star, the queues or 我的首问 (``complaints.not_withdrawn`` and each one's status filter). A dispatched one is
# withdrawn while its 派工单 is not done (已派工/处理中): the order ends 已取消 with it (``work_orders.cancel_open_order``).
# Once 已完工 it is not withdrawn: it goes to its 回访 and closes with the order.
WITHDRAWABLE = (RequestStatus.PENDING, RequestStatus.DISPATCHED, RequestStatus.ANSWERED)
WITHDRAWN_PREFIX = "撤销原因："


@dataclass(frozen=True)
class WithdrawResult:
    request_id: int
    already: bool = False  # withdrawn already with the same reason (a double submit): nothing written
    order_id: int | None = None  # its 派工单, cancelled with it

    @property
    def message(self) -> str:
        if self.already:
            return f"诉求 #{self.request_id} 已撤销，未重复登记"
        order = f"，派工单 #{self.order_id} 已取消" if self.order_id else ""
        return f"已撤销诉求 #{self.request_id}{order}，不再计入受理与办结统计"


def withdraw_refusal(request: ServiceRequest) -> str | None:
    """Why ``request`` cannot be withdrawn, or None — asked by the form before it is offered."""
    if request.status is RequestStatus.CANCELLED:
        return f"诉求 #{request.id} 已撤销"
    if request.status is RequestStatus.CLOSED:
        return f"诉求 #{request.id} 已办结，不能撤销"
    if request.status not in WITHDRAWABLE:
        return f"诉求 #{request.id} {request.status.label}，不能撤销"
    return next(filter(None, (work_orders.cancel_refusal(o) for o in request.work_orders)), None)


def _withdrawn_reply(request: ServiceRequest, reason: str) -> str:
    """The reason kept after what was answered before (an 已答复 request keeps its answer)."""
    return "\n".join(x for x in (request.reply.strip(), f"{WITHDRAWN_PREFIX}{reason}") if x)


@as_actor
def withdraw_request(session: Session, *, request_id: int, reason: str, actor: Actor,
                     version: int | None = None) -> WithdrawResult:
    """撤销: the caller withdraws a request not yet done (待派工, 已答复, or 已派工 with its order 已派工/处理中): it ends
    已取消 with its 办结时间 and the reason after its 答复内容; its order, if any, ends 已取消 with the reason.
    ``version``: the one the form started from — refused if someone changed the request since (a dispatch
    meanwhile); the same reason posted again answers that it is done and writes nothing."""
    SR = ServiceRequest
    reason = (reason or "").strip()
    request = session.get(SR, request_id)
    if request is None or not actor.can_see(request.project_id):
        raise Refused(f"诉求 #{request_id} 不存在", [request_id])
    if request.status is RequestStatus.CANCELLED and request.reply.endswith(f"{WITHDRAWN_PREFIX}{reason}"):
        return WithdrawResult(request_id, already=True)
    if refusal := withdraw_refusal(request):
        raise Refused(refusal, [request_id])
    if version is not None and version != request.version:
        raise Refused(f"诉求 #{request_id} 已被他人修改，请刷新后重试", [request_id])
    if not reason:
        raise Refused("请填写撤销原因（如：业主来电告知已自行解决）")
    reply = _withdrawn_reply(request, reason)
    records.check_text_length(SR, "reply", reply)
    now = utcnow()
    order = next(iter(request.work_orders), None)
    if order is not None:  # first the order: an engineer completing it meanwhile wins or loses on its row
        records.check_text_length(WorkOrder, "cancel_reason", reason)
        work_orders.cancel_open_order(session, order=order, reason=reason, now=now)
    request.reply = reply
    request.status = RequestStatus.CANCELLED
    request.closed_at = now
    try:
        session.flush()  # its audit row (状态, 答复内容, 办结时间); the version refuses a request dispatched meanwhile
    except StaleDataError:
        raise Refused(f"诉求 #{request_id} 已被他人处理，请刷新后重试", [request_id]) from None
    order_id = order.id if order is not None else None
    log_operation(session, "withdraw_request", params={"request_id": request_id, "reason": reason},
                  counts={"withdrawn": 1, "orders_cancelled": int(order is not None)}, project_id=request.project_id,
                  message=f"撤销诉求 #{request_id}{f'（派工单 #{order_id} 已取消）' if order_id else ''}：{reason}")
    return WithdrawResult(request_id, order_id=order_id)


# --- 我的首问 -------------------------------------------------------------------------------------------------
# 首问负责制 until the matter is done: 已答复 (an inquiry answered: 「杜绝让业主等候回音」) ends it, as 已关闭 and 已取消 do
OPEN = (RequestStatus.PENDING, RequestStatus.DISPATCHED)


def first_asked_of(user_id: int | None) -> ColumnElement[bool]:
    """The requests whose 首问负责人 is the account ``user_id``: those naming its 员工 record — or, for an account
    without one, those it keyed in naming no one. The 工作台's 「我的首问」 and the 我的首问 page read the same."""
    SR = ServiceRequest
    if user_id is None:
        return SR.id.is_(None)
    staff = select(User.staff_id).where(User.id == user_id).scalar_subquery()
    return or_(SR.first_staff_id == staff,
               and_(staff.is_(None), SR.first_staff_id.is_(None), SR.receiver_id == user_id))


@dataclass(frozen=True)
class FirstMatter:
    request_id: int
    project: str
    received_at: dt.datetime
    kind: RequestKind
    unit: str
    content: str
    status: RequestStatus
    order_id: int | None
    order_status: str  # the work order's state as its label, "" without one


@dataclass(frozen=True)
class FirstResponsibility:
    staff_id: int | None
    person: str
    total: int
    matters: tuple[FirstMatter, ...]  # one page, oldest first: the longest waiting first


def first_received(session: Session, *, actor: Actor, staff_id: int | None = None, limit: int = 50,
                   offset: int = 0) -> FirstResponsibility:
    """「我的首问」: the open matters (待派工, 已派工) a person received first, until done — the actor's own
    (by their staff record, or as 受理人 of those keyed in without one), or those of ``staff_id``, a staff member of
    the actor's projects (a supervisor looking at a guard's)."""
    SR = ServiceRequest
    if staff_id is None:
        own = session.execute(select(User.staff_id, Staff.name).outerjoin(Staff, Staff.id == User.staff_id)
                              .where(User.id == actor.user_id)).first()
        staff_id, person = (own.staff_id, own.name) if own and own.staff_id else (None, actor.name)
        mine = first_asked_of(actor.user_id)
    else:
        staff = session.get(Staff, staff_id)
        if staff is None or not actor.can_see(staff.project_id):
            raise Refused(f"员工 #{staff_id} 不存在", [staff_id])
        person, mine = staff.name, SR.first_staff_id == staff_id
    where = (mine, SR.status_in(*OPEN), actor.project_filter(SR.project_id))
    total = session.scalar(select(func.count()).select_from(SR).where(*where))
    rows = session.execute(
        select(SR.id, Project.name, SR.received_at, SR.kind, Building.name, Unit.room_no, SR.content, SR.status,
               WorkOrder.id, WorkOrder.status)
        .join(Project, Project.id == SR.project_id)
        .outerjoin(Unit, Unit.id == SR.unit_id).outerjoin(Building, Building.id == Unit.building_id)
        .outerjoin(WorkOrder, WorkOrder.request_id == SR.id)
        .where(*where).order_by(SR.received_at, SR.id).limit(limit).offset(offset)
    ).all()
    return FirstResponsibility(staff_id, person, total, tuple(
        FirstMatter(rid, project, at, kind, f"{b}-{r}" if b else "", content, status, oid,
                    ostatus.label if ostatus else "")
        for rid, project, at, kind, b, r, content, status, oid, ostatus in rows
    ))
