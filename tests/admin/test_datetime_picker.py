"""Date-time fields in the console's forms keep the seconds' leading zero: a stored 10:00:00 reads back as
``2026-11-23 10:00:00`` in the edit form, also after the date picker (flatpickr, created by sqladmin's main.js
with the unpadded ``s`` token) has re-written the field — admin/statics/js/datetime-picker.js."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from models import SHANGHAI, BookingStatus, MeetingBooking
from tests import factories
from tests.browser_support import log_in

START = dt.datetime(2026, 11, 23, 10, 0, 0, tzinfo=SHANGHAI)


def _booking(session) -> MeetingBooking:
    p = factories.project(session)
    booking = MeetingBooking(project=p, room="一号会议室", starts_at=START, ends_at=START + dt.timedelta(hours=2),
                             booked_by="陈静", phone="13812345678", status=BookingStatus.PENDING)
    session.add(booking)
    session.flush()
    return booking


def test_the_edit_form_renders_seconds_padded_and_loads_the_fix_before_the_pickers(console, session):
    factories.user(session, username="boss", superuser=True)
    booking = _booking(session)
    c = console("boss")
    page = c.get(f"/admin/meeting-booking/edit/{booking.id}").text
    field = re.search(r'<input[^>]*name="starts_at"[^>]*>', page).group(0)
    assert 'value="2026-11-23 10:00:00"' in field and 'data-role="datetimepicker"' in field
    # the fix wraps jQuery.fn.flatpickr, so it must run after flatpickr and before main.js creates the pickers
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    names = [s.rsplit("/", 1)[-1] for s in scripts]
    assert names.index("flatpickr.min.js") < names.index("datetime-picker.js") < names.index("main.js")
    served = c.get(next(s for s in scripts if s.endswith("/datetime-picker.js")).replace("http://testserver", ""))
    assert served.status_code == 200
    assert 'config.dateFormat.replace(/(^|[^\\\\])s/g, "$1S")' in served.text


@pytest.mark.browser
def test_the_picker_keeps_the_leading_zero_in_a_real_browser(live_server, browser):
    with live_server.session_maker.begin() as s:
        factories.user(s, username="picker-admin", superuser=True)
        booking_id = _booking(s).id
    page = browser.new_page(locale="zh-CN")
    try:
        log_in(page, live_server.url, "picker-admin")
        page.goto(f"{live_server.url}/admin/meeting-booking/edit/{booking_id}")
        page.wait_for_function("document.querySelector('input[name=starts_at]')._flatpickr !== undefined")
        assert page.input_value("input[name=starts_at]") == "2026-11-23 10:00:00"
        assert page.eval_on_selector("input[name=starts_at]", "e => e._flatpickr.config.dateFormat") == "Y-m-d H:i:S"
        assert page.input_value("input[name=ends_at]") == "2026-11-23 12:00:00"
    finally:
        page.close()


@pytest.mark.browser
def test_a_typed_date_is_understood_or_refused_never_changed(live_server, browser):
    with live_server.session_maker.begin() as s:
        factories.user(s, username="typist-admin", superuser=True)
        booking_id = _booking(s).id
        unit_id = factories.unit(s, project_=factories.project(s)).id
    page = browser.new_page(locale="zh-CN")
    try:
        log_in(page, live_server.url, "typist-admin")

        def typed(name: str, text: str) -> tuple[str, str]:
            field = f"input[name={name}]"
            page.fill(field, text)
            page.press(field, "Tab")  # leaving the field: flatpickr reads what was typed
            return page.input_value(field), page.eval_on_selector(field, "e => e.validationMessage")

        page.goto(f"{live_server.url}/admin/unit/edit/{unit_id}")
        page.wait_for_function("document.querySelector('input[name=handover_date]')._flatpickr !== undefined")
        for text in ("20261207", "2026/12/7", "2026.12.07", "2026年12月7日", "２０２６－１２－０７"):
            assert typed("handover_date", text) == ("2026-12-07", ""), text
        year = page.evaluate("new Date().getFullYear()")
        assert typed("handover_date", "12月7日") == (f"{year}-12-07", "")
        for text in ("2026-13-01", "12/07/2026", "2026-02-30", "下周三"):
            value, why = typed("handover_date", text)
            assert value == text and "无法识别的日期" in why, text  # kept as typed, marked, not 2027-…
        # the form is not sent while a field is refused
        page.click("input[type=submit][name=save] >> nth=0")
        assert f"/admin/unit/edit/{unit_id}" in page.url

        page.goto(f"{live_server.url}/admin/meeting-booking/edit/{booking_id}")
        page.wait_for_function("document.querySelector('input[name=starts_at]')._flatpickr !== undefined")
        assert typed("starts_at", "2026/12/7 14:30") == ("2026-12-07 14:30:00", "")
        assert typed("starts_at", "20261207 9:05") == ("2026-12-07 09:05:00", "")
        assert typed("starts_at", "2026-12-07 25:00")[1].startswith("无法识别的日期时间")
    finally:
        page.close()
