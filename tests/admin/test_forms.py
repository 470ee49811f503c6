"""The custom pages' declared input (admin/forms.py): each field kind reads what people type, or refuses in Chinese
naming the field and the value — and a page refuses before its action runs, so nothing is written."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from starlette.datastructures import FormData

from actions.actor import Actor
from actions.errors import NotPermitted, Refused
from actions.kernel.periods import today_local
from admin.forms import (
    DateField,
    DecimalField,
    EnumField,
    IdField,
    IdsField,
    LocalDateTimeField,
    MonthField,
    PageForm,
    ProjectField,
    TextField,
)
from models import (
    SHANGHAI,
    Escalation,
    EscalationLevel,
    OperationLog,
    Priority,
    ScoreEvent,
    WeeklyTask,
    label_of,
)
from tests import factories


class Sample(PageForm):
    project_id = ProjectField()
    order_id = IdField("派工单")
    ids = IdsField("通知", name="id")
    day = DateField("送达日期")
    month = MonthField("账期")
    at = LocalDateTimeField("开始时间")
    points = DecimalField("分值")
    priority = EnumField(Priority, "优先级", required=False)
    note = TextField("说明")


def read(*pairs: tuple[str, str], actor: Actor | None = None) -> Sample:
    return Sample.read(FormData(list(pairs)), actor=actor)


@pytest.mark.parametrize("typed", ["2026-12-07", "20261207", "2026/12/7", "2026.12.07", "2026年12月7日", "2026年12月7号",
                                   "２０２６－１２－０７", " 2026-12-07 "])
def test_a_date_is_read_the_way_the_picker_reads_it(typed):
    assert read(("day", typed)).day.data == dt.date(2026, 12, 7)


def test_a_day_without_its_year_is_this_year():
    assert read(("day", "12月7日")).day.data == dt.date(today_local().year, 12, 7)


@pytest.mark.parametrize("typed", ["2026-13-01", "12/07/2026", "2026-02-30", "下周三", "2026-12"])
def test_a_date_not_understood_is_refused_never_changed(typed):
    with pytest.raises(Refused) as refused:
        read(("day", typed))
    assert refused.value.message == f"送达日期「{typed}」无法识别为日期（如 2026-12-07、20261207、2026年12月7日）"


@pytest.mark.parametrize(("pair", "message"), [
    (("order_id", "12x"), "派工单无效：12x"),
    (("order_id", "0"), "派工单无效：0"),
    (("id", "3,a"), "通知无效：a"),
    (("month", "2026-13"), "账期格式应为 YYYY-MM（如 2026-05），收到：2026-13"),
    (("at", "明早九点"), "开始时间格式无效：明早九点"),
    (("points", "NaN"), "分值无效：NaN"),
    (("points", "1e3"), "分值无效：1e3"),  # Python's number syntax, read as 1000 before
    (("points", "1_0"), "分值无效：1_0"),
    (("points", "三分"), "分值无效：三分"),
    (("priority", "asap"), "优先级无效：asap"),
])
def test_a_bad_value_is_refused_naming_the_field_and_the_value(pair, message):
    with pytest.raises(Refused) as refused:
        read(pair)
    assert refused.value.message == message and not isinstance(refused.value, NotPermitted)


def test_values_read_into_the_actions_arguments():
    form = read(("project_id", "7"), ("order_id", "１２"), ("id", "3, 4"), ("id", "5"), ("day", "2026/12/7"),
                ("month", "2026-05"), ("at", "2026-12-07T09:30"), ("points", "-1.5"), ("priority", "urgent"),
                ("note", " 门禁，坏了 "))
    assert form.data == {
        "project_id": 7, "order_id": 12, "ids": (3, 4, 5), "day": dt.date(2026, 12, 7), "month": "2026-05",
        "at": dt.datetime(2026, 12, 7, 9, 30, tzinfo=SHANGHAI), "points": Decimal("-1.5"),
        "priority": Priority.URGENT, "note": "门禁，坏了"}  # free text keeps its full-width comma
    blank = read()
    assert blank.data == {"project_id": None, "order_id": None, "ids": (), "day": None, "month": None, "at": None,
                          "points": None, "priority": None, "note": ""}


def test_a_required_field_left_blank_is_named():
    class Required(PageForm):
        order_id = IdField("派工单", required=True)
        level = EnumField(EscalationLevel, "上报级别")

    with pytest.raises(Refused, match="^请指定派工单$"):
        Required.read(FormData([]))
    with pytest.raises(Refused, match="^请选择上报级别$"):
        Required.read(FormData([("order_id", "1")]))


def test_a_project_outside_the_users_scope_is_not_permitted():
    mine = Actor(user_id=1, name="前台", project_ids=frozenset({7}))
    assert read(("project_id", "7"), actor=mine).project_id.data == 7
    with pytest.raises(NotPermitted, match="无权操作项目"):
        read(("project_id", "8"), actor=mine)


# --- on the pages ------------------------------------------------------------------------------------------
def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_bad_value_on_a_step_above_a_list_writes_nothing(console, session):
    project = factories.project(session)
    factories.user(session, username="lead", roles=["客服主管"], projects=[project])
    request = factories.service_request(session, project_=project)
    c = console("lead")
    before = (_count(session, Escalation), _count(session, OperationLog))
    level = label_of(Escalation, "level")
    for sent, message in (({"request_id": str(request.id), "level": "最高"}, f"{level}无效：最高"),
                          ({"request_id": f"{request.id}号", "level": "supervisor"},
                           f"{label_of(Escalation, 'request')}无效：{request.id}号"),
                          ({"request_id": str(request.id)}, f"请选择{level}")):
        refused = c.post("/admin/escalation/raise", {**sent, "reason": "业主多次来电"})
        assert refused.status_code == 400 and message in html.unescape(refused.text), sent
    assert (_count(session, Escalation), _count(session, OperationLog)) == before


def test_a_date_typed_the_chinese_way_is_understood_and_a_wrong_one_refused(console, session):
    factories.user(session, username="root", superuser=True)
    factories.project(session)
    c = console("root")
    before = (_count(session, WeeklyTask), _count(session, OperationLog))
    label = label_of(WeeklyTask, "week_start")
    refused = c.post("/admin/weekly-task/carry-over", {"week_start": "2026-13-01"})
    assert refused.status_code == 400 and f"{label}「2026-13-01」无法识别为日期" in html.unescape(refused.text)
    assert (_count(session, WeeklyTask), _count(session, OperationLog)) == before

    done = c.post("/admin/weekly-task/carry-over", {"week_start": "2026年12月9日"})
    assert done.status_code == 303 and done.headers["location"].endswith("week_start=2026-12-07")  # its Monday


def test_a_bad_value_on_a_page_with_its_own_form_is_shown_on_the_page(console, session):
    project = factories.project(session)
    factories.user(session, username="root", superuser=True)
    staff = factories.staff(session, project_=project)
    c = console("root")
    before = (_count(session, ScoreEvent), _count(session, OperationLog))
    page = c.post("/admin/scores/record", {"project_id": str(project.id), "staff_id": str(staff.id),
                                           "event_date": "下周三", "rule_id": "1", "points": "-1"})
    shown = html.unescape(page.text)
    assert page.status_code == 400 and f"{label_of(ScoreEvent, 'event_date')}「下周三」无法识别为日期" in shown
    assert 'value="下周三"' in shown  # the typed form comes back as typed
    assert (_count(session, ScoreEvent), _count(session, OperationLog)) == before


def test_a_month_typed_the_chinese_way_is_understood(console, session):
    """Firefox and Safari show a month input as a text box: 「2026年11月」 (or ２０２６／１１, 2026.11, 2026-1) typed there
    was refused 「开始月份格式应为 YYYY-MM」 on 投诉统计, 走访统计 and 月度报告; it is now read as the month it names."""
    factories.user(session, username="root", superuser=True)
    factories.project(session)
    c = console("root")
    for typed in ("2026年11月", "２０２６／１１", "2026.11", "2026-11 "):
        page = c.get("/admin/complaint-stats", params={"month_from": typed, "month_to": "2026年12月"})
        assert page.status_code == 200 and "格式应为" not in page.text, typed
        assert 'name="month_from" value="2026-11"' in page.text and "2026-11～2026-12" in page.text, typed
    refused = c.get("/admin/complaint-stats", params={"month_from": "2026年13月"})
    assert refused.status_code == 400 and "开始月份格式应为 YYYY-MM" in html.unescape(refused.text)
