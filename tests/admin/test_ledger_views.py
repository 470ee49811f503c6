"""前台台帐 in the console: a new entry is pre-filled with who registers it and when; a status that needs other
fields (已发还 needs the claimant …) is refused without them, nothing written; a key goes out only while a copy
is in the cabinet, and its status follows its loans."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import (
    SHANGHAI,
    AuditKind,
    AuditLog,
    BookingStatus,
    DefectStatus,
    DutyLog,
    HouseDefect,
    ItemLoan,
    ItemLoanStatus,
    KeyLoan,
    KeyRecord,
    KeyStatus,
    LostItem,
    LostItemStatus,
    MeetingBooking,
    OwnerNotice,
    StaffPosition,
    VendorCheck,
)
from tests import factories as f


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def _field(page: str, name: str) -> str:
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bname="{name}"[^>]*>', page)
    assert match, f"no field {name}"
    return match.group(0)


def _value(page: str, name: str) -> str:
    match = re.search(r'\bvalue="([^"]*)"', _field(page, name))
    return match.group(1) if match else ""


def _ajax_choice(page: str, name: str) -> list[dict]:
    match = re.search(r'data-json="([^"]*)"', _field(page, name))
    return json.loads(html.unescape(match.group(1))) if match else []


@pytest.fixture
def site(session):
    p1, p2 = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    desk.staff_id = f.staff(session, project_=p1, name="王芳").id
    # an account whose 员工 record belongs to a project it cannot see
    stray = f.user(session, username="stray", roles=["前台客服"], projects=[p1])
    stray.staff_id = f.staff(session, project_=p2, name="赵强").id
    session.flush()
    return {"p1": p1, "p2": p2, "desk": desk, "stray": stray}


def _refused_create(session, client, identity: str, model, form: dict, message: str) -> None:
    """A create form refused with ``message``, nothing written."""
    before = _count(session, model)
    refused = client.post(f"/admin/{identity}/create", form)
    assert refused.status_code == 400, refused.text[:300]
    assert message in html.unescape(refused.text)
    assert _count(session, model) == before


def _today() -> str:
    return dt.datetime.now(SHANGHAI).strftime("%Y-%m-%d")


def test_new_lost_item_form_is_prefilled_with_the_user_and_now(session, console, site):
    before = _count(session, LostItem)
    page = console("desk").get("/admin/lost-item/create")
    assert page.status_code == 200
    assert _ajax_choice(page.text, "recorded_by") == [{"id": str(site["desk"].id), "text": "desk"}]
    found_at = dt.datetime.strptime(_value(page.text, "found_at"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    assert abs(dt.datetime.now(SHANGHAI) - found_at) < dt.timedelta(minutes=5)  # Beijing time, not UTC
    assert _count(session, LostItem) == before


@pytest.mark.parametrize(("identity", "user_field", "now_field"), [
    ("key-loan", "recorded_by", "lent_at"),
    ("item-loan", "recorded_by", "lent_at"),
    ("goods-pass", "recorded_by", "pass_date"),
    ("mail-item", "recorded_by", "received_at"),
    ("meeting-booking", "recorded_by", None),
])
def test_desk_registers_default_the_recorder_and_the_date(session, console, site, identity, user_field, now_field):
    page = console("desk").get(f"/admin/{identity}/create")
    assert page.status_code == 200
    assert _ajax_choice(page.text, user_field) == [{"id": str(site["desk"].id), "text": "desk"}]
    if now_field:
        assert _value(page.text, now_field).startswith(_today())


def test_duty_log_defaults_to_the_users_staff_record_and_today(session, console, site):
    page = console("desk").get("/admin/duty-log/create")
    assert _ajax_choice(page.text, "on_duty") == [{"id": str(site["desk"].staff_id), "text": "王芳"}]
    assert _value(page.text, "duty_date") == _today()
    # a 员工 record outside the user's projects is not offered
    stray = console("stray").get("/admin/duty-log/create")
    assert stray.status_code == 200
    assert _ajax_choice(stray.text, "on_duty") == []
    assert _value(stray.text, "duty_date") == _today()


def test_edit_form_keeps_the_stored_values(session, console, site):
    item = LostItem(project=site["p1"], name="钱包", found_at=dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC))
    session.add(item)
    session.flush()
    page = console("desk").get(f"/admin/lost-item/edit/{item.id}")
    assert page.status_code == 200
    assert _ajax_choice(page.text, "recorded_by") == []
    assert _value(page.text, "found_at") == "2026-03-01 10:00:00"


def _lost_item_form(site, **overrides) -> dict:
    return {"project": str(site["p1"].id), "name": "黑色双肩包", "found_at": "2026-11-20 09:30:00",
            "status": "held", "recorded_by": str(site["desk"].id), **overrides}


def test_lost_item_returned_without_claimant_is_refused_and_nothing_written(session, console, site):
    c = console("desk")
    before = _count(session, LostItem)
    response = c.post("/admin/lost-item/create", _lost_item_form(site, status="returned"))
    assert response.status_code == 400
    assert "状态为“已发还”时须填写认领人、发还时间" in html.unescape(response.text)
    assert _count(session, LostItem) == before
    # the claimant alone is not enough: the return time is missing
    response = c.post("/admin/lost-item/create", _lost_item_form(site, status="returned", claimant="李娜"))
    assert response.status_code == 400
    assert "状态为“已发还”时须填写发还时间" in html.unescape(response.text)
    assert _count(session, LostItem) == before
    # with both it is saved, recorded by the user
    response = c.post("/admin/lost-item/create", _lost_item_form(
        site, status="returned", claimant="李娜", returned_at="2026-11-21 15:00:00"))
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    row = session.scalars(select(LostItem).where(LostItem.name == "黑色双肩包")).one()
    assert (row.status, row.claimant, row.recorded_by_id) == (LostItemStatus.RETURNED, "李娜", site["desk"].id)
    assert row.returned_at == dt.datetime(2026, 11, 21, 7, 0, tzinfo=dt.UTC)


def test_lost_item_edited_to_returned_without_claimant_is_refused(session, console, site):
    item = LostItem(project=site["p1"], name="雨伞", found_at=dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC))
    session.add(item)
    session.flush()
    response = console("desk").post(f"/admin/lost-item/edit/{item.id}", _lost_item_form(
        site, name="雨伞", status="returned", claimant="  ", returned_at="2026-11-21 15:00:00"))
    assert response.status_code == 400
    assert "状态为“已发还”时须填写认领人" in html.unescape(response.text)
    session.expire_all()
    row = session.get(LostItem, item.id)
    assert (row.status, row.claimant, row.returned_at) == (LostItemStatus.HELD, "", None)


def test_damaged_item_loan_needs_return_time_and_condition(session, console, site):
    c = console("desk")
    form = {"project": str(site["p1"].id), "name": "手推车", "quantity": "1", "borrower": "陈静", "deposit": "0",
            "lent_at": "2026-11-20 09:00:00", "status": "damaged"}
    before = _count(session, ItemLoan)
    response = c.post("/admin/item-loan/create", form)
    assert response.status_code == 400
    assert "状态为“归还有损坏”时须填写归还时间、归还检查" in html.unescape(response.text)
    assert _count(session, ItemLoan) == before
    response = c.post("/admin/item-loan/create", {**form, "returned_at": "2026-11-20 18:00:00",
                                                   "return_condition": "轮子断了一个"})
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    row = session.scalars(select(ItemLoan).where(ItemLoan.name == "手推车")).one()
    assert (row.status, row.return_condition) == (ItemLoanStatus.DAMAGED, "轮子断了一个")


def test_house_defect_closed_without_closing_date_is_refused(session, console, site):
    unit = f.unit(session, project_=site["p1"], room_no="1201")
    boss = f.user(session, username="boss", superuser=True)
    form = {"project": str(site["p1"].id), "unit": str(unit.id), "description": "卫生间渗水",
            "found_on": "2026-11-01", "status": "closed"}
    before = _count(session, HouseDefect)
    response = console(boss.username).post("/admin/house-defect/create", form)
    assert response.status_code == 400
    assert "状态为“已关闭”时须填写关闭日期" in html.unescape(response.text)
    assert _count(session, HouseDefect) == before
    response = console(boss.username).post("/admin/house-defect/create", {**form, "closed_on": "2026-11-10"})
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    assert session.scalars(select(HouseDefect.status)).all() == [DefectStatus.CLOSED]


def test_duty_log_created_with_its_defaults_is_saved(session, console, site):
    c = console("desk")
    page = c.get("/admin/duty-log/create")
    form = {"project": str(site["p1"].id), "duty_date": _value(page.text, "duty_date"), "shift": "morning",
            "post": "大堂前台", "on_duty": _ajax_choice(page.text, "on_duty")[0]["id"]}
    response = c.post("/admin/duty-log/create", form)
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    row = session.scalars(select(DutyLog)).one()
    assert (row.on_duty_id, row.duty_date.isoformat()) == (site["desk"].staff_id, _today())


def _key(session, site, code="K-0301", **fields) -> KeyRecord:
    key = KeyRecord(project=site["p1"], code=code, name="3-1201入户门", **fields)
    session.add(key)
    session.flush()
    return key


def _loan_form(site, key, **overrides) -> dict:
    return {"project": str(site["p1"].id), "key": str(key.id), "borrower": "张师傅", "purpose": "入户维修",
            "lent_at": "2026-11-20 09:00:00", "recorded_by": str(site["desk"].id), **overrides}


def _key_state(session, key):
    session.expire_all()
    loans = session.scalars(select(KeyLoan).where(KeyLoan.key_id == key.id).order_by(KeyLoan.id)).all()
    return session.get(KeyRecord, key.id).status, [loan.returned_at is None for loan in loans]


def test_a_key_goes_out_only_while_a_copy_is_in_and_its_status_follows_the_loans(session, console, site):
    key = _key(session, site, copies=1)
    c = console("desk")
    response = c.post("/admin/key-loan/create", _loan_form(site, key))
    assert response.status_code == 302, response.text[:500]
    assert _key_state(session, key) == (KeyStatus.LENT, [True])
    change = session.scalars(select(AuditLog).where(AuditLog.table_name == "key_record",
                                                    AuditLog.kind == AuditKind.UPDATE)).one()
    assert change.changes["status"] == ["in_stock", "lent"] and change.actor_id == site["desk"].id
    # its only copy is out: a second loan is refused, nothing written
    response = c.post("/admin/key-loan/create", _loan_form(site, key, borrower="李娜"))
    assert response.status_code == 400
    assert "钥匙 K-0301 3-1201入户门 共 1 把，均已借出未还：请先登记归还" in html.unescape(response.text)
    assert _key_state(session, key) == (KeyStatus.LENT, [True])
    # the key cannot be put back 在库 by hand while it is out
    key_form = {"project": str(site["p1"].id), "code": "K-0301", "name": "3-1201入户门", "kind": "unit",
                "copies": "1", "status": "in_stock"}
    response = c.post(f"/admin/key-record/edit/{key.id}", key_form)
    assert response.status_code == 400
    assert "该钥匙尚有 1 把借出未还：登记归还后自动改为在库" in html.unescape(response.text)
    # returned: the key is 在库 again and may go out again; the list shows who has not returned
    loan_id = session.scalars(select(KeyLoan.id)).one()
    response = c.post(f"/admin/key-loan/edit/{loan_id}", _loan_form(site, key, returned_at="2026-11-20 11:30:00"))
    assert response.status_code == 302, response.text[:500]
    assert _key_state(session, key) == (KeyStatus.IN_STOCK, [False])
    response = c.post("/admin/key-loan/create", _loan_form(site, key, borrower="李娜"))
    assert response.status_code == 302, response.text[:500]
    assert _key_state(session, key) == (KeyStatus.LENT, [False, True])
    out = c.get("/admin/key-loan/list?returned_at_filled=empty")
    assert "李娜" in out.text and "张师傅" not in out.text and "未归还" in out.text
    back = c.get("/admin/key-loan/list?returned_at_filled=filled")
    assert "张师傅" in back.text and "李娜" not in back.text
    # the open loan deleted by a supervisor (typed by mistake): the key is back in stock
    f.user(session, username="zhuguan", roles=["客服主管"], projects=[site["p1"]])
    open_id = session.scalars(select(KeyLoan.id).where(KeyLoan.returned_at.is_(None))).one()
    response = console("zhuguan").delete(f"/admin/key-loan/delete?pks={open_id}")
    assert response.status_code == 200, response.text[:300]
    assert _key_state(session, key) == (KeyStatus.IN_STOCK, [False])


def test_a_key_with_two_copies_lends_both_and_a_lost_key_none(session, console, site):
    key = _key(session, site, copies=2)
    c = console("desk")
    for who in ("张师傅", "李娜"):
        assert c.post("/admin/key-loan/create", _loan_form(site, key, borrower=who)).status_code == 302
    assert _key_state(session, key) == (KeyStatus.LENT, [True, True])
    assert c.post("/admin/key-loan/create", _loan_form(site, key, borrower="陈静")).status_code == 400
    lost = _key(session, site, code="K-0302", copies=1, status=KeyStatus.LOST)
    response = c.post("/admin/key-loan/create", _loan_form(site, lost))
    assert response.status_code == 400
    assert "钥匙 K-0302 3-1201入户门 遗失，不能借出" in html.unescape(response.text)
    assert _key_state(session, lost) == (KeyStatus.LOST, [])


def _months_from_now(months: int) -> tuple[int, int]:
    today = dt.datetime.now(SHANGHAI).date()
    index = today.year * 12 + today.month - 1 + months
    return index // 12, index % 12 + 1


def test_vendor_check_month_is_a_real_month_that_has_come(session, console, site):
    c = console("desk")
    form = {"project": str(site["p1"].id), "vendor_name": "洁美保洁", "service_kind": "cleaning", "score": "92"}
    year, month = _months_from_now(1)
    before = _count(session, VendorCheck)
    for typed, message in (("2026-13", "检查月份「2026-13」无效：须为 YYYY-MM 格式的月份"),
                           ("下个月", "检查月份「下个月」无效"),
                           (f"{year}-{month:02d}", f"检查月份 {year}-{month:02d} 晚于本月")):
        response = c.post("/admin/vendor-check/create", {**form, "month": typed})
        assert response.status_code == 400, typed
        assert message in html.unescape(response.text)
        assert _count(session, VendorCheck) == before
    # last month, typed the way people write it, is stored as YYYY-MM
    year, month = _months_from_now(-1)
    response = c.post("/admin/vendor-check/create", {**form, "month": f"{year}/{month}"})
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    assert session.scalars(select(VendorCheck.month)).all() == [f"{year}-{month:02d}"]


def test_vendor_check_month_typed_as_a_text_box_browser_types_it_is_stored_as_yyyy_mm(session, console, site):
    """Firefox and Safari show the month box as text: 「2026年12月」 (8 characters, the column holds the 7 of
    YYYY-MM) was refused for its length; it is read as the month it names and stored as YYYY-MM, the form no
    longer capping what is typed at 7 characters."""
    c = console("desk")
    year, month = _months_from_now(0)
    typed = f"{year}年{month}月"
    page = c.get("/admin/vendor-check/create")
    assert not re.search(r'<input[^>]*name="month"[^>]*maxlength', page.text)
    response = c.post("/admin/vendor-check/create", {"project": str(site["p1"].id), "vendor_name": "洁美保洁",
                                                     "service_kind": "cleaning", "score": "92", "month": typed})
    assert response.status_code == 302, html.unescape(response.text)[:800]
    session.expire_all()
    assert session.scalars(select(VendorCheck.month)).all() == [f"{year}-{month:02d}"]


def _booking_form(site, **overrides) -> dict:
    return {"project": str(site["p1"].id), "room": "一号会议室", "starts_at": "2026-11-20 09:00:00",
            "ends_at": "2026-11-20 11:00:00", "booked_by": "陈静", "attendees": "8", "status": "pending",
            "recorded_by": str(site["desk"].id), **overrides}


def _utc(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(dt.UTC)


def test_meeting_room_is_not_booked_twice_and_needs_attendees(session, console, site):
    held = MeetingBooking(project=site["p1"], room="一号会议室", starts_at=_utc("2026-11-20 10:00"),
                          ends_at=_utc("2026-11-20 12:00"), booked_by="李娜", status=BookingStatus.APPROVED)
    cancelled = MeetingBooking(project=site["p1"], room="一号会议室", starts_at=_utc("2026-11-20 13:00"),
                               ends_at=_utc("2026-11-20 15:00"), booked_by="赵强", status=BookingStatus.CANCELLED)
    # the same room name in another project is another room
    elsewhere = MeetingBooking(project=site["p2"], room="一号会议室", starts_at=_utc("2026-11-20 15:00"),
                               ends_at=_utc("2026-11-20 17:00"), booked_by="周敏", status=BookingStatus.APPROVED)
    session.add_all([held, cancelled, elsewhere])
    session.flush()
    c = console("desk")
    before = _count(session, MeetingBooking)
    response = c.post("/admin/meeting-booking/create", _booking_form(site))
    assert response.status_code == 400
    assert (f"会议室「一号会议室」2026-11-20 09:00–11:00 与已有预订重叠：李娜 2026-11-20 10:00–12:00"
            f"（已批准，预订#{held.id}）") in html.unescape(response.text)
    response = c.post("/admin/meeting-booking/create", _booking_form(site, attendees="-5"))
    assert response.status_code == 400
    assert "参会人数须至少 1 人，填写的是 -5" in html.unescape(response.text)
    assert _count(session, MeetingBooking) == before
    # right after it, over a cancelled booking, or cancelled itself: saved
    supervisor = f.staff(session, project_=site["p1"], name="刘主管", position=StaffPosition.SUPERVISOR)
    for starts, ends, status in (("12:00", "13:00", "pending"), ("13:00", "15:00", "approved"),
                                 ("15:00", "17:00", "pending"), ("10:30", "11:00", "cancelled")):
        response = c.post("/admin/meeting-booking/create", _booking_form(
            site, starts_at=f"2026-11-20 {starts}:00", ends_at=f"2026-11-20 {ends}:00", status=status,
            approved_by=str(supervisor.id) if status == "approved" else ""))
        assert response.status_code == 302, (starts, response.text[:500])
    assert _count(session, MeetingBooking) == before + 4
    # a booking does not overlap itself: the held one is edited in place
    response = c.post(f"/admin/meeting-booking/edit/{held.id}", _booking_form(
        site, starts_at="2026-11-20 10:00:00", ends_at="2026-11-20 11:30:00", booked_by="李娜", status="approved"))
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    assert session.get(MeetingBooking, held.id).ends_at == _utc("2026-11-20 11:30")


def test_check_constraints_are_refused_with_the_rule_they_state(session, console, site):
    """A table's CHECK rule, broken by a form, is told as the model declares it (issue 26), nothing written."""
    c = console("desk")
    before = (_count(session, MeetingBooking), _count(session, ItemLoan))
    response = c.post("/admin/meeting-booking/create", _booking_form(
        site, starts_at="2026-11-21 11:00:00", ends_at="2026-11-21 09:00:00"))
    assert response.status_code == 400
    assert "会议室预订：结束时间须晚于开始时间" in html.unescape(response.text)
    loan = {"project": str(site["p1"].id), "name": "雨伞", "quantity": "1", "borrower": "陈静", "deposit": "0",
            "lent_at": "2026-11-20 09:00:00", "status": "returned", "returned_at": "2026-11-20 08:00:00"}
    response = c.post("/admin/item-loan/create", loan)
    assert response.status_code == 400
    assert "物品借用：归还时间不能早于借出时间" in html.unescape(response.text)
    response = c.post("/admin/item-loan/create", {**loan, "returned_at": "", "status": "lent", "quantity": "0"})
    assert response.status_code == 400
    assert "物品借用：数量须大于 0" in html.unescape(response.text)
    assert (_count(session, MeetingBooking), _count(session, ItemLoan)) == before


def test_item_loan_is_due_back_after_it_is_lent(session, console, site):
    c = console("desk")
    form = {"project": str(site["p1"].id), "name": "工具箱", "quantity": "1", "borrower": "陈静", "deposit": "0",
            "lent_at": "2026-11-20 09:00:00", "due_at": "2026-11-19 18:00:00", "status": "lent"}
    before = _count(session, ItemLoan)
    response = c.post("/admin/item-loan/create", form)
    assert response.status_code == 400
    assert "约定归还时间 2026-11-19 18:00 早于借出时间 2026-11-20 09:00" in html.unescape(response.text)
    assert _count(session, ItemLoan) == before
    response = c.post("/admin/item-loan/create", {**form, "due_at": "2026-11-20 18:00:00"})
    assert response.status_code == 302, response.text[:500]
    session.expire_all()
    assert session.scalars(select(ItemLoan.due_at)).one() == dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def test_a_ledger_entry_of_one_project_cannot_name_another_projects_unit(session, console, site):
    """A supervisor of both projects: a 放行条 of 锦绣华庭 for a 翠湖天地 unit is refused on the form, nothing
    written; the unit of its own project is saved."""
    from models import GoodsPass

    f.user(session, username="both", roles=["客服主管"], projects=[site["p1"], site["p2"]])
    own, other = f.unit(session, project_=site["p1"]), f.unit(session, project_=site["p2"])
    form = {"project": site["p1"].id, "code": "FX-9", "unit": other.id, "applicant": "张伟", "items": "沙发一张",
            "pass_date": "2026-11-20", "status": "issued"}
    c = console("both")
    before = _count(session, GoodsPass)
    _refused_create(session, c, "goods-pass", GoodsPass, form,
                    f"房屋「{other}」属于项目「翠湖天地」，不属于本记录的项目「锦绣华庭」")
    response = c.post("/admin/goods-pass/create", {**form, "unit": own.id})
    assert response.status_code == 302, response.text[:300]
    assert _count(session, GoodsPass) == before + 1


def test_a_worker_permit_is_issued_for_an_approved_renovation_within_its_period(session, console, site):
    """装修出入证: not for a renovation still 待审核 (nor 已驳回), and valid within its 开工日期–完工日期 — refused
    naming why, nothing written; once approved, a permit within the period is issued."""
    from models import RenovationApplication, RenovationStatus, WorkerPermit

    unit = f.unit(session, project_=site["p1"])
    renovation = RenovationApplication(project=site["p1"], unit=unit, applicant="张伟", start_date=dt.date(2026, 11, 1),
                                       end_date=dt.date(2026, 12, 31))
    session.add(renovation)
    session.flush()
    form = {"project": site["p1"].id, "renovation": renovation.id, "code": "ZX-0001", "name": "李师傅",
            "trade": "水电", "valid_from": "2026-11-01", "valid_to": "2026-12-31", "fee": "20"}
    c = console("desk")
    before = _count(session, WorkerPermit)
    _refused_create(session, c, "worker-permit", WorkerPermit, form, "待审核：出入证只能为已批准或施工中的装修办理")
    session.get(RenovationApplication, renovation.id).status = RenovationStatus.APPROVED
    session.flush()
    _refused_create(session, c, "worker-permit", WorkerPermit, {**form, "valid_to": "2027-01-31"},
                    "有效期止 2027-01-31 不在装修期内（2026-11-01～2026-12-31）")
    assert c.post("/admin/worker-permit/create", form).status_code == 302
    assert _count(session, WorkerPermit) == before + 1



def test_a_meeting_room_is_granted_by_a_supervisor_named_as_its_approver(session, console, site):
    """「填写客户会议室使用申请单，报告主管领导审批」: a booking set 已批准 names its 审批人, a 客服主管 or 客服经理 —
    without one, or with the desk's own staff, it is refused and nothing changes; 待审批 needs none."""
    c = console("desk")
    _refused_create(session, c, "meeting-booking", MeetingBooking, _booking_form(site, status="approved"),
                    "状态为“已批准”时须填写审批人：会议室使用须报主管领导审批（客服主管或客服经理）")
    _refused_create(session, c, "meeting-booking", MeetingBooking,
                    _booking_form(site, status="approved", approved_by=str(site["desk"].staff_id)),
                    "审批人 王芳 的岗位是前台客服：会议室使用须由客服主管或客服经理审批")
    assert c.post("/admin/meeting-booking/create", _booking_form(site)).status_code == 302
    booking = session.scalars(select(MeetingBooking).where(MeetingBooking.booked_by == "陈静")).one()
    refused = c.post(f"/admin/meeting-booking/edit/{booking.id}", _booking_form(site, status="approved"))
    assert refused.status_code == 400
    session.expire_all()
    assert session.get(MeetingBooking, booking.id).status is BookingStatus.PENDING
    boss = f.staff(session, project_=site["p1"], name="刘主管", position=StaffPosition.SUPERVISOR)
    granted = c.post(f"/admin/meeting-booking/edit/{booking.id}",
                     _booking_form(site, status="approved", approved_by=str(boss.id)))
    assert granted.status_code == 302, granted.text[:300]
    session.expire_all()
    assert (session.get(MeetingBooking, booking.id).status, session.get(MeetingBooking, booking.id).approved_by_id) \
        == (BookingStatus.APPROVED, boss.id)


def test_a_tenants_goods_pass_needs_the_owners_consent(session, console, site):
    """「租户搬出须经业主同意」: a 放行条 for the unit's 租户 is refused until 业主确认 is ticked, nothing written; the
    owner's own pass needs no such tick; a tenancy that ended before the 放行日期 no longer counts."""
    from models import GoodsPass, UnitCustomer, UnitRelation

    unit = f.unit(session, project_=site["p1"])
    tenant = f.customer(session, project_=site["p1"], name="李娜")
    owner = f.customer(session, project_=site["p1"], name="张伟", unit_=unit)
    session.add(UnitCustomer(project=site["p1"], unit=unit, customer=tenant, relation=UnitRelation.TENANT,
                             is_primary=False, start_date=dt.date(2025, 1, 1)))
    session.flush()
    form = {"project": site["p1"].id, "code": "FX-0001", "unit": unit.id, "applicant": "李娜", "customer": tenant.id,
            "items": "冰箱一台、沙发一张", "pass_date": "2026-11-20", "status": "issued"}
    c = console("desk")
    before = _count(session, GoodsPass)
    _refused_create(session, c, "goods-pass", GoodsPass, form,
                    "客户 李娜 是该房屋的租户：租户搬出须经业主同意，请先取得业主同意并勾选「业主确认」")
    assert c.post("/admin/goods-pass/create", {**form, "owner_confirmed": "y"}).status_code == 302
    assert c.post("/admin/goods-pass/create", {**form, "code": "FX-0002", "customer": owner.id,
                                                "applicant": "张伟"}).status_code == 302
    assert _count(session, GoodsPass) == before + 2
    link = session.scalars(select(UnitCustomer).where(UnitCustomer.customer_id == tenant.id)).one()
    link.end_date = dt.date(2026, 10, 31)
    session.flush()
    assert c.post("/admin/goods-pass/create", {**form, "code": "FX-0003"}).status_code == 302


def test_a_return_is_recorded_once_it_has_happened(session, console, site):
    """A key's 归还时间 typed a month ahead would put the key back 在库 while it is still out: refused naming the
    time, the loan and the key as they were; the same for a parcel's 领取时间. A return of now is recorded."""
    key = _key(session, site, copies=1)
    c = console("desk")
    assert c.post("/admin/key-loan/create", _loan_form(site, key)).status_code == 302
    loan = session.scalars(select(KeyLoan).where(KeyLoan.key_id == key.id)).one()
    ahead = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    refused = c.post(f"/admin/key-loan/edit/{loan.id}", _loan_form(site, key, returned_at=f"{ahead}:00"))
    assert refused.status_code == 400
    assert f"归还时间 {ahead} 晚于当前时间" in html.unescape(refused.text)
    assert "只能登记已发生的时间" in html.unescape(refused.text)
    assert _key_state(session, key) == (KeyStatus.LENT, [True])
    assert session.get(KeyLoan, loan.id).returned_at is None
    before = _count(session, KeyLoan)
    refused = c.post("/admin/key-loan/create", _loan_form(site, key, lent_at=f"{ahead}:00"))
    assert refused.status_code == 400 and _count(session, KeyLoan) == before

    from models import MailItem

    mail = {"project": site["p1"].id, "kind": "parcel", "recipient": "张伟", "received_at": "2026-11-20 10:00:00",
            "picked_up_by": "张伟", "picked_up_at": f"{ahead}:00"}
    _refused_create(session, c, "mail-item", MailItem, mail, f"领取时间 {ahead} 晚于当前时间")

    now = dt.datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    back = c.post(f"/admin/key-loan/edit/{loan.id}", _loan_form(site, key, returned_at=now))
    assert back.status_code == 302, back.text[:300]
    assert _key_state(session, key) == (KeyStatus.IN_STOCK, [False])


def test_a_rectification_notice_is_closed_by_its_recheck(session, console, site):
    """整改通知书: 已整改 / 逾期未改 need the 复查日期; 逾期未改 only once the 整改期限 has come, a 复查 neither before the
    notice nor after today — each refused naming why, the notice unchanged; a 复查 after the deadline is recorded."""
    from models import NoticeStatus, RectificationNotice

    unit = f.unit(session, project_=site["p1"])
    notice = RectificationNotice(project=site["p1"], code="ZG-001", unit=unit, violation="阳台外置防盗网",
                                 issued_on=dt.date(2026, 10, 1), deadline=dt.date(2026, 10, 15))
    session.add(notice)
    session.flush()
    form = {"project": site["p1"].id, "code": "ZG-001", "unit": unit.id, "violation": "阳台外置防盗网",
            "issued_on": "2026-10-01", "deadline": "2026-10-15", "status": "rectified"}
    c = console("desk")
    tomorrow = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=1)
    for values, message in (
        ({}, "状态为“已整改”时须填写复查日期"),
        ({"status": "overdue", "checked_on": "2026-10-10"}, "整改期限 2026-10-15 未到（复查日期 2026-10-10）：不能登记为“逾期未改”"),
        ({"checked_on": "2026-09-30"}, "复查日期 2026-09-30 早于发出日期 2026-10-01"),
        ({"checked_on": str(tomorrow)}, f"复查日期 {tomorrow} 晚于今天"),
    ):
        refused = c.post(f"/admin/rectification-notice/edit/{notice.id}", {**form, **values})
        assert refused.status_code == 400, values
        assert message in html.unescape(refused.text), values
        session.expire_all()
        row = session.get(RectificationNotice, notice.id)
        assert (row.status, row.checked_on) == (NoticeStatus.ISSUED, None)
    done = c.post(f"/admin/rectification-notice/edit/{notice.id}", {**form, "status": "overdue",
                                                                   "checked_on": "2026-10-16", "check_result": "未拆除"})
    assert done.status_code == 302, done.text[:300]
    session.expire_all()
    assert session.get(RectificationNotice, notice.id).status is NoticeStatus.OVERDUE


def test_a_keys_count_is_not_set_below_the_copies_still_out(session, console, site):
    """Two copies lent: the key record corrected to 1 把 would say one is out of none — refused naming how many are
    out, the count as it was; once one is back, 1 把 is saved."""
    key = _key(session, site, copies=2)
    c = console("desk")
    for who in ("张师傅", "李娜"):
        assert c.post("/admin/key-loan/create", _loan_form(site, key, borrower=who)).status_code == 302
    form = {"project": site["p1"].id, "code": "K-0301", "name": "3-1201入户门", "kind": "unit", "copies": "1",
            "status": "lent"}
    refused = c.post(f"/admin/key-record/edit/{key.id}", form)
    assert refused.status_code == 400
    assert "该钥匙尚有 2 把借出未还，数量(把)不能少于 2：请先登记归还" in html.unescape(refused.text)
    session.expire_all()
    assert session.get(KeyRecord, key.id).copies == 2
    first = session.scalars(select(KeyLoan).where(KeyLoan.key_id == key.id).order_by(KeyLoan.id)).first()
    now = dt.datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    assert c.post(f"/admin/key-loan/edit/{first.id}", _loan_form(site, key, returned_at=now)).status_code == 302
    assert c.post(f"/admin/key-record/edit/{key.id}", form).status_code == 302
    assert _key_state(session, key) == (KeyStatus.LENT, [False, True])
    session.expire_all()
    assert session.get(KeyRecord, key.id).copies == 1


def test_a_house_defect_is_of_its_checklists_unit_and_says_when_it_was_sent(session, console, site):
    """房屋整改: 已报开发商 needs its 报开发商日期, not before the defect was found; a defect linked to the 交房验收 of
    another unit is refused — each naming why, nothing written; the right checklist, sent, is saved."""
    from models import MoveInChecklist

    unit, other = f.unit(session, project_=site["p1"]), f.unit(session, project_=site["p1"])
    checklists = [MoveInChecklist(project=site["p1"], unit=u, received_by="张伟", handover_date=dt.date(2026, 11, 1))
                  for u in (unit, other)]
    session.add_all(checklists)
    session.flush()
    form = {"project": site["p1"].id, "unit": unit.id, "checklist": checklists[0].id, "location": "卫生间",
            "description": "地漏反水", "found_on": "2026-11-01", "status": "sent"}
    c = console("desk")
    _refused_create(session, c, "house-defect", HouseDefect, form, "状态为“已报开发商”时须填写报开发商日期")
    _refused_create(session, c, "house-defect", HouseDefect, {**form, "sent_on": "2026-10-30"},
                    "报开发商日期 2026-10-30 早于发现日期 2026-11-01")
    _refused_create(session, c, "house-defect", HouseDefect,
                    {**form, "sent_on": "2026-11-03", "checklist": checklists[1].id}, "是另一套房屋的")
    assert c.post("/admin/house-defect/create", {**form, "sent_on": "2026-11-03"}).status_code == 302
    session.expire_all()
    assert session.scalars(select(HouseDefect.checklist_id)).all() == [checklists[0].id]


def test_a_number_typed_as_nan_or_infinity_is_refused_not_stored(session, console, site):
    """Decimal reads 「NaN」 and 「Infinity」: PostgreSQL stored the meter reading as NaN (every sum over it NaN), SQLite
    as blank; 「1e3」 and 「1_000」 (Python's number syntax) as 1000. Refused naming the value as no number, as an
    import refuses the cell (both through ``money.decimal_text``); nothing written, and a real reading is saved —
    「1,200.50」 read as an import reads it."""
    from models import MoveInChecklist

    unit = f.unit(session, project_=site["p1"])
    session.flush()
    c = console("desk")
    form = {"project": site["p1"].id, "unit": unit.id, "received_by": "张伟", "handover_date": "2026-11-01",
            "keys_count": "2"}
    for typed in ("NaN", "Infinity", "-inf", "1e3", "1_000", "1E+3"):
        _refused_create(session, c, "move-in-checklist", MoveInChecklist, {**form, "water_reading": typed},
                        f"「{typed}」不是有效的小数")
    assert c.post("/admin/move-in-checklist/create", {**form, "water_reading": "1,200.50"}).status_code == 302
    assert session.scalars(select(MoveInChecklist.water_reading)).all() == [Decimal("1200.50")]


def test_a_duty_log_is_handed_over_to_the_next_person_at_the_end_of_its_shift(session, console, site):
    """「做好服务中心值班记录和交接班记录」: a shift handed over to the one on duty himself, a shift dated ahead, a
    交接时间 in the future or a week off the 值班日期 is refused naming what is wrong, nothing written; a night
    shift handed over the next morning is recorded."""
    c = console("desk")
    other = f.staff(session, project_=site["p1"], name="李娜")
    today = dt.datetime.now(SHANGHAI).date()
    yesterday = today - dt.timedelta(days=1)
    base = {"project": str(site["p1"].id), "duty_date": yesterday.isoformat(), "shift": "night", "post": "大堂前台",
            "on_duty": str(site["desk"].staff_id), "handed_to": str(other.id),
            "handed_over_at": f"{yesterday} 20:00:00"}
    ahead = dt.datetime.now(SHANGHAI) + dt.timedelta(days=3)
    week_off = yesterday - dt.timedelta(days=7)
    for changes, message in [
        ({"handed_to": str(site["desk"].staff_id)}, "接班人与值班人是同一人"),
        ({"duty_date": (today + dt.timedelta(days=3)).isoformat(), "handed_over_at": ""}, "晚于今天"),
        ({"handed_over_at": ahead.strftime("%Y-%m-%d %H:%M:00")}, "只能登记已发生的时间"),
        ({"handed_over_at": f"{week_off} 08:00:00"}, f"交接时间 {week_off} 08:00 不在值班日期 {yesterday} 当天或次日"),
    ]:
        _refused_create(session, c, "duty-log", DutyLog, {**base, **changes}, message)
    morning_after = f"{today} 00:01:00"
    saved = c.post("/admin/duty-log/create", {**base, "handed_over_at": morning_after})
    assert saved.status_code == 302, saved.text[:500]
    session.expire_all()
    row = session.scalars(select(DutyLog)).one()
    assert (row.duty_date, row.on_duty_id, row.handed_to_id) == (yesterday, site["desk"].staff_id, other.id)
    # the edit that makes the log handed over to himself is refused too, the log as it was
    edit = c.get(f"/admin/duty-log/edit/{row.id}")
    refused = c.post(f"/admin/duty-log/edit/{row.id}", {**base, "handed_over_at": morning_after,
                                                        "handed_to": str(site["desk"].staff_id),
                                                        "version": _value(edit.text, "version")})
    assert refused.status_code == 400 and "接班人与值班人是同一人" in html.unescape(refused.text)
    session.expire_all()
    assert session.get(DutyLog, row.id).handed_to_id == other.id


def _renovation_form(session, site, unit) -> tuple:
    """A supervisor of the project and a 装修申请 of ``unit`` approved by him."""
    supervisor = f.staff(session, project_=site["p1"], position=StaffPosition.SUPERVISOR)
    return supervisor, {"project": str(site["p1"].id), "unit": str(unit.id), "applicant": "张伟", "contractor": "自行装修",
                        "start_date": "2026-12-10", "end_date": "2027-01-10", "deposit": "2000", "deposit_refunded": "0",
                        "status": "approved", "approved_by": str(supervisor.id), "approved_on": "2026-12-01"}


def test_a_vacant_units_renovation_is_not_approved_before_its_handover(session, console, site):
    """「交房手续办理完毕后…申报房屋装修」: approving the renovation of a unit still 空置 made it 装修中, then 已交房
    when it ended, with no 交房验收 ever made. Refused naming the unit, nothing written; a pending application is
    taken, and approved once the handover is done."""
    from models import MoveInChecklist, RenovationApplication, RenovationStatus, Unit, UnitStatus

    unit = f.unit(session, project_=site["p1"], building_=f.building(session, project_=site["p1"], name="1栋"),
                  room_no="1302", status=UnitStatus.VACANT)
    supervisor, form = _renovation_form(session, site, unit)
    c = console("desk")
    for status in ("approved", "in_progress"):
        _refused_create(session, c, "renovation-application", RenovationApplication, {**form, "status": status},
                        "房屋「1栋-1302」空置，尚未交房")
    session.expire_all()
    assert session.get(Unit, unit.id).status is UnitStatus.VACANT
    assert c.post("/admin/renovation-application/create", {**form, "status": "pending"}).status_code == 302
    renovation = session.scalars(select(RenovationApplication)).one()
    edit = c.get(f"/admin/renovation-application/edit/{renovation.id}")
    refused = c.post(f"/admin/renovation-application/edit/{renovation.id}",
                     {**form, "version": _value(edit.text, "version")})
    assert refused.status_code == 400 and "请先办理交房验收" in html.unescape(refused.text)
    session.expire_all()
    assert (session.get(RenovationApplication, renovation.id).status, session.get(Unit, unit.id).status) == (
        RenovationStatus.PENDING, UnitStatus.VACANT)

    session.add(MoveInChecklist(project=site["p1"], unit=session.get(Unit, unit.id), received_by="张伟",
                                handover_date=dt.date(2026, 12, 1), accepted=True))
    session.flush()
    edit = c.get(f"/admin/renovation-application/edit/{renovation.id}")
    approved = c.post(f"/admin/renovation-application/edit/{renovation.id}",
                      {**form, "version": _value(edit.text, "version")})
    assert approved.status_code == 302, approved.text[:500]
    session.expire_all()
    assert (session.get(RenovationApplication, renovation.id).status, session.get(Unit, unit.id).status) == (
        RenovationStatus.APPROVED, UnitStatus.DECORATING)


def test_a_handover_is_accepted_once_its_walk_through_is_done(session, console, site):
    """同意交房 on a 验收日期 a month ahead handed the unit over with that 交房日期 — one its own form refuses, so
    every later edit of the unit was refused too. Refused naming the date, the unit untouched; today's is taken."""
    from models import MoveInChecklist, Unit, UnitStatus

    unit = f.unit(session, project_=site["p1"], status=UnitStatus.VACANT)
    today = dt.datetime.now(SHANGHAI).date()
    ahead = today + dt.timedelta(days=30)
    form = {"project": str(site["p1"].id), "unit": str(unit.id), "received_by": "张伟", "keys_count": "3",
            "handover_date": ahead.isoformat(), "accepted": "y", "owner_signed": "y"}
    c = console("desk")
    _refused_create(session, c, "move-in-checklist", MoveInChecklist, form, f"验收日期 {ahead} 晚于今天（{today}）")
    session.expire_all()
    assert (session.get(Unit, unit.id).status, session.get(Unit, unit.id).handover_date) == (UnitStatus.VACANT, None)
    saved = c.post("/admin/move-in-checklist/create", {**form, "handover_date": today.isoformat()})
    assert saved.status_code == 302, saved.text[:500]
    session.expire_all()
    assert (session.get(Unit, unit.id).status, session.get(Unit, unit.id).handover_date) == (
        UnitStatus.HANDED_OVER, today)


def test_the_desk_lists_the_parcels_not_picked_up_and_the_permits_not_handed_back(session, console, site):
    """「邮件、包裹单等的签收与发放」: an owner at the desk asks for their parcels — the list filters 未领取 / 已领取;
    at a renovation's inspection the 出入证 not yet handed back (未交回) are listed the same way."""
    from models import MailItem, RenovationApplication, RenovationStatus, WorkerPermit

    at = dt.datetime(2026, 11, 20, 2, tzinfo=dt.UTC)
    session.add_all([
        MailItem(project=site["p1"], recipient="待领甲", tracking_no="SF001", received_at=at),
        MailItem(project=site["p1"], recipient="已领乙", tracking_no="SF002", received_at=at, picked_up_by="已领乙",
                 picked_up_at=at + dt.timedelta(hours=3)),
    ])
    renovation = RenovationApplication(project=site["p1"], unit=f.unit(session, project_=site["p1"]), applicant="张伟",
                                       start_date=dt.date(2026, 11, 1), end_date=dt.date(2026, 12, 31),
                                       status=RenovationStatus.IN_PROGRESS)
    session.add(renovation)
    session.flush()
    session.add_all([WorkerPermit(project=site["p1"], renovation=renovation, code="ZX-01", name="未交师傅",
                                  valid_from=dt.date(2026, 11, 1), valid_to=dt.date(2026, 12, 31)),
                     WorkerPermit(project=site["p1"], renovation=renovation, code="ZX-02", name="已交师傅",
                                  valid_from=dt.date(2026, 11, 1), valid_to=dt.date(2026, 12, 31),
                                  returned_on=dt.date(2026, 12, 1))])
    session.flush()
    c = console("desk")
    for url, shown, hidden in (("/admin/mail-item/list?picked_up_at_filled=empty", "待领甲", "已领乙"),
                               ("/admin/mail-item/list?picked_up_at_filled=filled", "已领乙", "待领甲"),
                               ("/admin/worker-permit/list?returned_on_filled=empty", "未交师傅", "已交师傅")):
        page = c.get(url)
        assert page.status_code == 200 and shown in page.text and hidden not in page.text, url
    assert "未领取" in c.get("/admin/mail-item/list").text and "未交回" in c.get("/admin/worker-permit/list").text


def test_a_parcel_handed_out_names_who_took_it_and_when(session, console, site):
    """「邮件、包裹单等的签收与发放工作，认真填写记录」: a 领取时间 without 领取人, or a 领取人 without 领取时间 (the list
    would show the parcel still waiting), is refused naming the missing field, nothing written; both are taken."""
    from models import MailItem

    c = console("desk")
    base = {"project": str(site["p1"].id), "kind": "parcel", "recipient": "张伟", "tracking_no": "SF100",
            "received_at": "2026-11-20 10:00:00", "recorded_by": str(site["desk"].id)}
    _refused_create(session, c, "mail-item", MailItem, {**base, "picked_up_at": "2026-11-20 12:00:00"},
                    "已填写领取时间，请填写领取人")
    _refused_create(session, c, "mail-item", MailItem, {**base, "picked_up_by": "张伟"}, "已填写领取人 张伟，请填写领取时间")
    saved = c.post("/admin/mail-item/create", {**base, "picked_up_by": "张伟家人", "picked_up_at": "2026-11-20 12:00:00"})
    assert saved.status_code == 302, saved.text[:300]
    row = session.scalars(select(MailItem).where(MailItem.tracking_no == "SF100")).one()
    assert row.picked_up_by == "张伟家人" and row.picked_up_at == dt.datetime(2026, 11, 20, 4, tzinfo=dt.UTC)


def test_a_vendor_checks_rectification_deadline_is_not_before_the_month_checked(session, console, site):
    """「对问题及时进行整改，建立完善的检查整改机制」: a 限期整改日期 before the month checked (2026-10-01 for 2026-11's
    check) is a deadline passed before the fault was found — refused naming both, nothing written."""
    c = console("desk")
    form = {"project": str(site["p1"].id), "vendor_name": "洁美保洁", "service_kind": "cleaning", "score": "80",
            "month": "2026-11", "findings": "楼道未清扫"}
    _refused_create(session, c, "vendor-check", VendorCheck, {**form, "rectify_by": "2026-10-01"},
                    "限期整改日期 2026-10-01 早于检查月份 2026-11")
    assert c.post("/admin/vendor-check/create", {**form, "rectify_by": "2026-11-05"}).status_code == 302
    session.expire_all()
    assert session.scalars(select(VendorCheck.rectify_by)).all() == [dt.date(2026, 11, 5)]


def test_a_notice_to_some_buildings_names_them(session, console, site):
    """公告 发布对象 部分楼栋/住户 without its 发布范围 tells nobody who was told: refused naming the field, nothing
    written; with 「3栋」 it is published."""
    from models import Audience, OwnerNotice

    c = console("desk")
    form = {"project": str(site["p1"].id), "title": "停水通知", "body": "明日 9:00–12:00 停水", "audience": "part",
            "audience_note": " ", "published_from": "2026-11-20"}
    _refused_create(session, c, "owner-notice", OwnerNotice, form, "发布对象为“部分楼栋/住户”时须填写发布范围")
    assert c.post("/admin/owner-notice/create", {**form, "audience_note": "3栋"}).status_code == 302
    session.expire_all()
    assert session.execute(select(OwnerNotice.audience, OwnerNotice.audience_note)).all() == [(Audience.PART, "3栋")]


def test_an_item_loan_given_back_is_not_still_lent(session, console, site):
    """A loan with its 归还时间 filled but left 借出中 stayed in 到期未还物品 as if the umbrella were out: refused naming
    the status to choose, nothing written; 已归还 with the time is taken, and so is 借出中 without one."""
    c = console("desk")
    form = {"project": str(site["p1"].id), "name": "雨伞", "quantity": "1", "borrower": "王五", "deposit": "0",
            "lent_at": "2026-11-20 09:00:00", "due_at": "2026-11-21 09:00:00", "returned_at": "2026-11-20 12:00:00",
            "status": "lent"}
    _refused_create(session, c, "item-loan", ItemLoan, form,
                    "已填写归还时间 2026-11-20 12:00，状态不能为“借出中”：请选择“已归还”或“归还有损坏”")
    assert c.post("/admin/item-loan/create", {**form, "status": "returned"}).status_code == 302
    assert c.post("/admin/item-loan/create", {**form, "returned_at": ""}).status_code == 302
    session.expire_all()
    assert sorted((s.value, r is None) for s, r in session.execute(select(ItemLoan.status, ItemLoan.returned_at))) == [
        ("lent", True), ("returned", False)]


def test_a_lost_item_given_back_is_not_still_held(session, console, site):
    """「如有客户认领，需在《物品发还清单》中进行记录」: a 发还时间 and 认领人 typed but the status left 待认领 listed the
    wallet as still in the cabinet: refused naming the status to choose, nothing written; 已发还 is taken."""
    c = console("desk")
    form = {"project": str(site["p1"].id), "name": "钱包", "found_at": "2026-11-20 09:00:00", "found_place": "大堂",
            "status": "held", "claimant": "赵六", "returned_at": "2026-11-20 12:00:00"}
    _refused_create(session, c, "lost-item", LostItem, form,
                    "已填写发还时间 2026-11-20 12:00，状态不能为“待认领”：请选择“已发还”")
    assert c.post("/admin/lost-item/create", {**form, "status": "returned"}).status_code == 302
    session.expire_all()
    assert session.execute(select(LostItem.status, LostItem.claimant)).all() == [(LostItemStatus.RETURNED, "赵六")]


def test_a_decided_renovation_application_names_who_decided_it_and_when(session, console, site):
    """装修申请 recorded 已批准 (or 已驳回, 施工中 …) with no 审批人 or 审批日期 was saved: nobody could say who let the work
    start. A decided application now names both, refused otherwise naming what is missing, nothing written; a pending
    one needs neither."""
    from models import RenovationApplication, UnitStatus

    unit = f.unit(session, project_=site["p1"], building_=f.building(session, project_=site["p1"], name="2栋"),
                  room_no="801", status=UnitStatus.HANDED_OVER)
    supervisor, form = _renovation_form(session, site, unit)
    c = console("desk")
    for status, blank, message in (("approved", ("approved_by", "approved_on"), "已批准的装修申请须填写审批人、审批日期"),
                                   ("rejected", ("approved_on",), "已驳回的装修申请须填写审批日期"),
                                   ("in_progress", ("approved_by",), "施工中的装修申请须填写审批人")):
        _refused_create(session, c, "renovation-application", RenovationApplication,
                        {**form, "status": status, **{k: "" for k in blank}}, message)
    assert c.post("/admin/renovation-application/create",
                  {**form, "status": "pending", "approved_by": "", "approved_on": ""}).status_code == 302
    assert c.post("/admin/renovation-application/create", form).status_code == 302
    session.expire_all()
    assert sorted((r.status.value, r.approved_by_id) for r in session.scalars(select(RenovationApplication))) == [
        ("approved", supervisor.id), ("pending", None)]


@pytest.mark.parametrize(("identity", "model", "form", "next_one"), [
    ("lost-item", LostItem, {"name": "黑色雨伞", "found_at": "2026-11-20 09:30:00", "found_place": "大堂",
                             "status": "held"}, {"name": "钥匙串"}),
    ("owner-notice", OwnerNotice, {"title": "停水通知", "body": "12月10日9:00-12:00停水", "audience": "all",
                                   "published_from": "2026-11-20"}, {"title": "停电通知"}),
    ("vendor-check", VendorCheck, {"vendor_name": "晨星保洁", "service_kind": "cleaning", "month": "2026-11",
                                   "score": "90"}, {"vendor_name": "绿源园林"}),
])
def test_a_ledger_form_saved_twice_by_a_double_click_writes_one_entry(session, console, site, identity, model, form,
                                                                       next_one):
    """「双击保存」 on a 失物招领 (公告, 外包方月度检查 …) wrote the entry twice — two umbrellas in the book for one
    found. The new form carries a one-time number: the same form sent again is answered with the entry it made."""
    c = console("desk")
    page = c.get(f"/admin/{identity}/create")
    token = _value(page.text, "form_token")
    assert re.fullmatch(r"[0-9a-f]{32}", token), token
    sent = {"project": str(site["p1"].id), **form, "form_token": token}
    before = _count(session, model)
    first = c.post(f"/admin/{identity}/create", sent)
    again = c.post(f"/admin/{identity}/create", sent)
    assert (first.status_code, again.status_code) == (302, 302), again.text[:500]
    assert _count(session, model) == before + 1
    # a new form is a new entry
    fresh = _value(c.get(f"/admin/{identity}/create").text, "form_token")
    assert fresh != token
    assert c.post(f"/admin/{identity}/create", {**sent, **next_one, "form_token": fresh}).status_code == 302
    assert _count(session, model) == before + 2


def test_carrying_last_weeks_tasks_over_opens_that_weeks_plan(session, console, site):
    """结转上周未完成 went back to the list with ?week_start=… — which filters nothing without its 等于, so the new week
    was listed among every week's tasks. It opens on that week's plan alone: the carried task and the week's own.
    Its date box was the browser's own (mm/dd/yyyy in an English-language browser); it is the console's picker."""
    from models import PlanSection, TaskStatus, WeeklyTask

    f.user(session, username="lead", roles=["客服主管"], projects=[site["p1"]])
    wang = f.staff(session, project_=site["p1"], name="王芳")
    last, this = dt.date(2026, 11, 23), dt.date(2026, 11, 30)

    def task(week, text, status):
        return WeeklyTask(project=site["p1"], week_start=week, section=PlanSection.ROUTINE, task=text,
                          owner_id=wang.id, deadline=week + dt.timedelta(days=2), status=status)

    session.add_all([task(last, "欠费户第二次催缴", TaskStatus.IN_PROGRESS), task(last, "更新公告栏", TaskStatus.DONE),
                     task(last - dt.timedelta(days=7), "两周前的任务", TaskStatus.DONE),
                     task(this, "本周投诉处理率达到98%", TaskStatus.NOT_STARTED)])
    session.flush()
    c = console("lead")
    # the week is typed as any other date (the picker reads 12月2日), not a browser's mm/dd/yyyy box
    box = re.search(r'<input[^>]*id="carry-week"[^>]*>', c.get("/admin/weekly-task/list").text).group(0)
    assert 'data-role="datepicker"' in box and 'type="date"' not in box
    done = c.post("/admin/weekly-task/carry-over", {"week_start": "2026年12月2日"})
    assert done.status_code == 303, done.text[:300]
    page = c.get(done.headers["location"])
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", " ", html.unescape(page.text))
    assert "共 2 条" in text, re.findall(r"共 \d+ 条", text)
    assert "欠费户第二次催缴" in text and "本周投诉处理率达到98%" in text
    assert "更新公告栏" not in text and "两周前的任务" not in text
    session.expire_all()
    assert sorted(session.scalars(select(WeeklyTask.task).where(WeeklyTask.week_start == this))) == [
        "本周投诉处理率达到98%", "欠费户第二次催缴"]


def test_a_lists_days_and_units_stay_on_one_line(session, console, site):
    """房屋整改 at 1440 px beside its filters broke 「2026-01-」 over 「01」 and 「11」 over 「栋-1403」: a day, an amount and
    a unit are kept on one line (the text of 问题描述 still wraps)."""
    from models import Unit

    unit = f.unit(session, project_=site["p1"], building_=f.building(session, project_=site["p1"], name="11栋"),
                  room_no="1403")
    session.add(HouseDefect(project=site["p1"], unit=session.get(Unit, unit.id), location="主卧",
                            description="墙面有裂缝", found_on=dt.date(2026, 1, 1), sent_on=dt.date(2026, 1, 3)))
    session.flush()
    page = console("desk").get("/admin/house-defect/list").text
    assert '<td class="text-nowrap">2026-01-01</td>' in page and '<td class="text-nowrap">2026-01-03</td>' in page
    assert re.search(r'<td class="text-nowrap"><a href="[^"]*/unit/details/\d+">11栋-1403</a></td>', page)
    assert "<td>墙面有裂缝</td>" in page


def test_a_weekly_review_opens_the_plan_of_its_week(session, console, site):
    """「每周工作结束后，召开复盘会议，总结本周工作，分析问题」: the 周复盘 page did not lead to the week it reviews; its
    该周计划 opens that project's plan of that week, and nothing else."""
    from models import PlanSection, TaskStatus, WeeklyReview, WeeklyTask

    f.user(session, username="lead", roles=["客服主管"], projects=[site["p1"]])
    wang = f.staff(session, project_=site["p1"], name="王芳")
    week = dt.date(2026, 11, 2)
    session.add_all([
        WeeklyTask(project=site["p1"], week_start=week, section=PlanSection.ROUTINE, task="更新公告栏通知",
                   owner_id=wang.id, deadline=week, status=TaskStatus.DONE),
        WeeklyTask(project=site["p1"], week_start=week + dt.timedelta(days=7), section=PlanSection.ROUTINE,
                   task="下周的任务", owner_id=wang.id, deadline=week + dt.timedelta(days=7),
                   status=TaskStatus.NOT_STARTED),
    ])
    review = WeeklyReview(project=site["p1"], week_start=week, reviewed_on=dt.date(2026, 11, 6), summary="基本完成")
    session.add(review)
    session.flush()
    c = console("lead")
    details = html.unescape(c.get(f"/admin/weekly-review/details/{review.id}").text)
    link = re.search(r'href="([^"]*/admin/weekly-task/list\?[^"]*)"[^>]*>\s*该周计划', details)
    assert link, "no 该周计划 link"
    listing = re.sub(r"<[^>]+>", " ", html.unescape(c.get(link.group(1)).text))
    assert "共 1 条" in listing and "更新公告栏通知" in listing and "下周的任务" not in listing


def test_a_branch_reads_each_projects_plan_by_its_project(session, console, site):
    """004: the 分公司 compares its projects. Its 周计划 list held both projects' tasks with no 项目 column — two
    「回访上周完工的维修工单」 of the same week, nobody could tell whose; 周复盘 and 外包方月度检查 the same. Each row
    now names its project."""
    from models import PlanSection, TaskStatus, VendorService, WeeklyReview, WeeklyTask

    f.user(session, username="branch", roles=["分公司管理"], projects=[site["p1"], site["p2"]])
    week = dt.date(2026, 11, 2)
    for project in (site["p1"], site["p2"]):
        owner = f.staff(session, project_=project)
        session.add_all([
            WeeklyTask(project=project, week_start=week, section=PlanSection.ROUTINE, task="回访上周完工的维修工单",
                       owner_id=owner.id, deadline=week, status=TaskStatus.DONE),
            WeeklyReview(project=project, week_start=week, reviewed_on=week + dt.timedelta(days=4), summary="基本完成"),
            VendorCheck(project=project, vendor_name="晨星保洁", service_kind=VendorService.CLEANING, month="2026-10",
                        score=90),
        ])
    session.flush()
    c = console("branch")
    for identity in ("weekly-task", "weekly-review", "vendor-check"):
        page = html.unescape(c.get(f"/admin/{identity}/list").text)
        rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
        named = [p for p in ("锦绣华庭", "翠湖天地") if any(p in row and "<td" in row for row in rows)]
        assert named == ["锦绣华庭", "翠湖天地"], identity


def test_a_new_weekly_task_starts_in_this_week(session, console, site):
    """Writing a week's plan task by task (保存并继续新建) asked for 周起始日 on every form: a new task starts in this
    week (its Monday, Beijing time); an edit keeps the task's own week."""
    from actions.kernel.periods import monday_of, today_local
    from models import PlanSection, TaskStatus, WeeklyTask

    f.user(session, username="lead", roles=["客服主管"], projects=[site["p1"]])
    c = console("lead")
    assert _value(c.get("/admin/weekly-task/create").text, "week_start") == str(monday_of(today_local()))
    old = WeeklyTask(project=site["p1"], week_start=dt.date(2026, 11, 2), section=PlanSection.ROUTINE, task="更新公告栏",
                     owner_id=f.staff(session, project_=site["p1"]).id, deadline=dt.date(2026, 11, 4),
                     status=TaskStatus.DONE)
    session.add(old)
    session.flush()
    assert _value(c.get(f"/admin/weekly-task/edit/{old.id}").text, "week_start") == "2026-11-02"


def _headers(page: str) -> list[str]:
    head = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    return [re.sub(r"<[^>]+>|\s", "", cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]


def test_every_ledger_names_each_rows_project_to_who_sees_several(session, console, site):
    """004: the 分公司 reads all its projects' ledgers. 房屋整改, 整改通知书, 交房验收, 钥匙 and 邮件包裹 listed
    「11栋-1403」 with no 项目 — a unit of either project. They name it now, for who sees several projects; to the
    front desk of one project it would be the same word on every row, and is left out."""
    from models import MailItem, MoveInChecklist, RectificationNotice

    f.user(session, username="branch", roles=["分公司管理"], projects=[site["p1"], site["p2"]])
    day = dt.date(2026, 11, 2)
    for project in (site["p1"], site["p2"]):
        unit = f.unit(session, project_=project, building_=f.building(session, project_=project, name="11栋"),
                      room_no="1403")
        session.add_all([
            HouseDefect(project=project, unit=unit, description="卫生间渗水", found_on=day),
            RectificationNotice(project=project, code=f"ZG{project.id}", unit=unit, violation="阳台封闭",
                                issued_on=day, deadline=day),
            MoveInChecklist(project=project, unit=unit, handover_date=day),
            KeyRecord(project=project, code=f"K{project.id}", name="11-1403入户门", unit=unit),
            MailItem(project=project, unit=unit, recipient="陈静"),
        ])
    session.flush()
    branch, desk = console("branch"), console("desk")
    for identity in ("house-defect", "rectification-notice", "move-in-checklist", "key-record", "mail-item"):
        page = html.unescape(branch.get(f"/admin/{identity}/list").text)
        assert "项目" in _headers(page), identity
        rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
        named = [p for p in ("锦绣华庭", "翠湖天地") if any(p in row and "<td" in row for row in rows)]
        assert named == ["锦绣华庭", "翠湖天地"], identity
        assert re.search(r'<td class="text-nowrap">(<a [^>]*>)?锦绣华庭<', page), identity  # not 锦绣华 over 庭
        own = html.unescape(desk.get(f"/admin/{identity}/list").text)
        assert "项目" not in _headers(own) and "11栋-1403" in own, identity
        assert "翠湖天地" not in own, identity


def _required_labels(page: str) -> dict[str, bool]:
    """Each form label's text → whether it carries the required marker (the asterisk)."""
    return {re.sub(r"<[^>]+>|\s", "", text): "required-label" in attrs
            for attrs, text in re.findall(r"<label([^>]*)>(.*?)</label>", page, re.S)}


def test_a_required_drop_down_is_marked_as_required_as_a_required_text_is(session, console, site):
    """新建周计划 refused a blank 负责人 (「该字段是必填字段。」) after 保存, yet only 任务内容 carried the asterisk: a
    required drop-down (a relation or a status with no blank choice) is marked now, an optional one is not."""
    f.user(session, username="super", roles=["客服主管"], projects=[site["p1"]])
    session.flush()
    c = console("super")
    task = _required_labels(html.unescape(c.get("/admin/weekly-task/create").text))
    assert task["负责人"] and task["工作任务"] and task["状态"] and not task["完成时间"], task
    checklist = _required_labels(html.unescape(c.get("/admin/move-in-checklist/create").text))
    assert checklist["房屋"] and checklist["验收日期"] and not checklist["业主"], checklist


def test_a_vendor_check_records_whether_the_vendor_put_it_right(session, console, site):
    """000 工作规划3 三.1 「利用对外包方的“月会”制度……发现问题让其限期整改」: the check recorded the deadline, never
    whether the vendor met it. 整改情况 / 复查日期 / 复查结果 now: 已整改 without the day of the recheck is refused
    naming it (nothing written), a recheck ahead of today too; the list shows 整改情况 and filters by it."""
    from actions.kernel.periods import today_local
    from models import VendorRectification

    c = console("desk")
    year, month = _months_from_now(-1)
    form = {"project": str(site["p1"].id), "vendor_name": "洁美保洁", "service_kind": "cleaning", "score": "80",
            "month": f"{year}-{month:02d}", "findings": "楼道未清扫", "rectification": "done"}
    _refused_create(session, c, "vendor-check", VendorCheck, form, "整改情况为「已整改」须填写复查日期")
    ahead = today_local() + dt.timedelta(days=1)
    _refused_create(session, c, "vendor-check", VendorCheck, {**form, "rechecked_on": ahead.isoformat()},
                    f"复查日期 {ahead} 晚于今天")
    day = today_local().isoformat()
    saved = c.post("/admin/vendor-check/create", {**form, "rechecked_on": day, "recheck_result": "已清扫，复查合格"})
    assert saved.status_code == 302, html.unescape(saved.text)[:500]
    open_one = c.post("/admin/vendor-check/create", {**form, "vendor_name": "绿源园林", "service_kind": "greening",
                                                     "rectification": "pending"})
    assert open_one.status_code == 302, html.unescape(open_one.text)[:500]
    session.expire_all()
    rows = {r.vendor_name: r for r in session.scalars(select(VendorCheck))}
    assert rows["洁美保洁"].rectification is VendorRectification.DONE
    assert (rows["洁美保洁"].rechecked_on, rows["洁美保洁"].recheck_result) == (today_local(), "已清扫，复查合格")
    assert rows["绿源园林"].rectification is VendorRectification.PENDING and rows["绿源园林"].rechecked_on is None
    form_page = _required_labels(html.unescape(c.get("/admin/vendor-check/create").text))
    assert {"整改情况", "复查日期", "复查结果"} <= set(form_page)
    pending = html.unescape(c.get("/admin/vendor-check/list?rectification=pending").text)
    assert "绿源园林" in pending and "洁美保洁" not in pending and "待整改" in pending
