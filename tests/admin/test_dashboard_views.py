"""The home page, the trends and the monthly report through the console (admin/views/dashboard.py, reports.py,
drill.py): figures against targets within the user's projects, drill-down lists that match the figures, the
month close by POST only, and the report after a correction."""

from __future__ import annotations

import html
import io
import json
import re
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlparse

import openpyxl
import pytest
from sqlalchemy import func, select

from actions import kpis
from actions.actor import SYSTEM
from actions.billing import record_payment
from models import AuditLog, BillStatus, MonthSnapshot, OperationLog, utcnow
from tests import dashboard_support as ds
from tests import factories as f


@pytest.fixture
def world(session):
    return ds.build(session)


@pytest.fixture
def manager(session, world):
    f.user(session, username="p1-manager", roles=["客服经理"], projects=[world.p1])
    return "p1-manager"


def text_of(page) -> str:
    body = re.sub(r"<script.*?</script>", " ", page.text, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def drill_links(page) -> list[tuple[str, str]]:
    """(href, link text) of every drill-down link on the page."""
    return [(html.unescape(href), re.sub(r"<[^>]+>", "", label).strip())
            for href, label in re.findall(r'<a href="([^"]*drill=[^"]*)"[^>]*>(.*?)</a>', page.text, flags=re.S)]


def listed(c, href: str) -> int:
    page = c.get(href)
    assert page.status_code == 200, href
    match = re.search(r"共 (\d+) 条", text_of(page))
    return int(match.group(1)) if match else 0


def charts(page) -> list[dict]:
    block = re.search(r'<script type="application/json" id="wuye-charts">(.*?)</script>', page.text, flags=re.S)
    return json.loads(block.group(1))


def test_the_home_page_shows_each_kpi_against_its_target(console, world, manager):
    c = console(manager)
    page = c.get(f"/admin/?month={ds.MONTH}")
    assert page.status_code == 200
    text = text_of(page)
    assert "首页看板" in text and f"{ds.MONTH} 指标与目标" in text
    for kpi in kpis.CATALOGUE:
        assert kpi.name in text and f"目标 {kpi.target_text}" in text
    for key, (_, _, shown) in ds.EXPECTED["P1"].items():
        assert shown in text, key
    assert "52.9% 未达标" in text and "未完成派工单" in text and "今日受理" in text and "欠费及账龄" in text
    assert "2025年下半年调查" in text  # the latest survey, by department
    # the chosen month's figures drawn as bars, against the targets
    chart = charts(page)[0]
    assert chart["categories"] == [k.name for k in kpis.CATALOGUE] and chart["targets"][:2] == [93.0, 90.0]
    # rounded half-up to one decimal exactly as the tables show them (52.94 → 52.9, 40.91 → 40.9, 66.67 → 66.7)
    assert chart["series"] == [{"name": "甲项目", "values": [52.9, 40.9, 50.0, 50.0, 50.0, 75.0, 60.0, 66.7]}]
    assert "全年收费率" in text and "目标 ≥ 90%" in text and "40.9% 未达标" in text
    assert [f"{v:.1f}%" for v in chart["series"][0]["values"]] == [ds.EXPECTED["P1"][k.key][2] for k in kpis.CATALOGUE]


def test_a_project_user_sees_only_their_projects(console, session, world, manager):
    c = console(manager)
    text = text_of(c.get(f"/admin/?month={ds.MONTH}"))
    assert "甲项目" in text and "乙项目" not in text and "丙项目" not in text
    refused = c.get(f"/admin/?project_id={world.p3.id}")
    assert refused.status_code == 403 and "丙项目" not in text_of(refused)
    assert f"无权查看所选项目（编号 {world.p3.id}）的指标" in text_of(refused)
    # a drill code naming another project opens nothing of it
    code = kpis.Drill("complaints_received", ds.MONTH, (world.p3.id,)).code
    assert listed(c, f"/admin/service-request/list?drill={code}") == 0


def test_a_branch_account_sees_its_projects_and_their_total(console, session, world):
    f.user(session, username="b1", roles=["分公司管理"], branch_=world.b1)
    text = text_of(console("b1").get(f"/admin/?month={ds.MONTH}"))
    assert "甲项目" in text and "乙项目" in text and "合计" in text and "丙项目" not in text
    for shown in (v[2] for v in ds.EXPECTED["total"].values()):
        assert shown in text


@pytest.mark.parametrize("who", ["manager", "branch"])
def test_every_drill_down_list_holds_the_records_of_its_figure(console, session, world, manager, who):
    if who == "branch":
        f.user(session, username="b1", roles=["分公司管理"], branch_=world.b1)
    c = console(manager if who == "manager" else "b1")
    links = drill_links(c.get(f"/admin/?month={ds.MONTH}"))
    assert len(links) > 30
    for href, label in links:
        code = parse_qs(urlparse(href).query)["drill"][0]
        drill = kpis.Drill.parse(code)
        expected = session.scalar(select(func.count()).select_from(drill.records.model).where(drill.where()))
        assert listed(c, href) == expected, (code, label)
        if label.isdigit():  # a count shown is the length of its list
            assert int(label) == expected, (code, label)


def test_the_drill_filter_says_what_the_list_holds(console, world, manager):
    c = console(manager)
    code = kpis.Drill("complaints_closed", ds.MONTH, (world.p1.id,)).code
    page = c.get(f"/admin/service-request/list?drill={code}")
    assert "指标明细" in text_of(page) and "当月办结" in text_of(page)
    assert listed(c, f"/admin/service-request/list?drill={code}") == 2
    assert listed(c, "/admin/service-request/list?drill=nonsense") == 0  # never the whole list


def test_a_drill_argument_naming_nothing_lists_nothing(console, session, world, manager):
    """A code whose argument is no member of what it narrows by (a 问题类别, 诉求类型, 回访类型/结果, 调查部门 typed or
    pasted wrong) answered HTTP 500 「数据库出错」 — the driver could not bind it; it now lists nothing, like any code
    that names nothing, and writes nothing."""
    c = console(manager)
    before = session.scalar(select(func.count()).select_from(AuditLog))
    p1 = world.p1.id
    for identity, code in (
        ("service-request", f"complaints_received:{ds.MONTH}:{p1}:x"),
        ("service-request", f"complaints_closed:{ds.MONTH}:{p1}:<b>"),
        ("service-request", f"requests_received:{ds.MONTH}:{p1}:nope"),
        ("visit", f"visits:{ds.MONTH}:{p1}:x/none"),
        ("visit", f"visits:{ds.MONTH}:{p1}:repair/x"),
        ("survey-score", f"scores_answered:2025H2:{p1}:x"),
        ("survey-score", f"scores_satisfied:2025H2:{p1}:x"),
    ):
        assert listed(c, f"/admin/{identity}/list?drill={code}") == 0, code
    assert session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_a_drill_caption_names_nobody_of_another_project(console, session, world, manager):
    """The caption named any 收费员 or account by the number in the code — another project's staff and users
    included (「待催收欠费账单（邵梦）」 for a 前台客服 of another project); it now gives their number only."""
    outsider = f.staff(session, project_=world.p3, name="丙项目收费员")
    account = f.user(session, username="p3-desk", roles=["前台客服"], projects=[world.p3])
    account.display_name = "丙项目前台"
    session.flush()
    c = console(manager)
    for identity, code, shown in (
        ("bill", f"arrears_to_chase:2025-10-15:{world.p1.id}:{outsider.id}", f"员工 #{outsider.id}"),
        ("service-request", f"first_asked:{ds.MONTH}:{world.p1.id}:{account.id}", f"用户 #{account.id}"),
    ):
        page = text_of(c.get(f"/admin/{identity}/list?drill={code}"))
        assert shown in page and "丙项目收费员" not in page and "丙项目前台" not in page, code


def test_the_trends_page_has_twelve_months_per_kpi(console, world, manager):
    page = console(manager).get("/admin/dashboard/trends?month=2025-12")
    assert page.status_code == 200
    got = charts(page)
    assert [g["id"] for g in got] == [k.key for k in kpis.CATALOGUE]
    collection = got[0]
    assert collection["categories"][0] == "2025-01" and collection["categories"][-1] == "2025-12"
    assert collection["target"] == 93.0
    assert collection["series"][0]["values"][8] == 52.9 and collection["series"][0]["values"][11] is None
    assert "—" in text_of(page)


def test_the_report_print_view_and_xlsx(console, session, world, manager):
    c = console(manager)
    page = c.get(f"/admin/dashboard/report?month={ds.MONTH}&project_id={world.p1.id}")
    assert page.status_code == 200
    text = text_of(page)
    for title in ("主要指标", "诉求类型统计", "投诉问题类别统计", "重大投诉及处理情况", "收费情况（按分期）", "回访走访情况",
                  "满意度调查", "员工考核"):
        assert title in text
    printed = c.get(f"/admin/dashboard/report/print?month={ds.MONTH}&project_id={world.p1.id}")
    assert printed.status_code == 200 and "@media print" not in printed.text  # the print CSS is a file
    assert '<link rel="icon" href="http://testserver/static/wuye/img/favicon.svg">' in printed.text  # no /favicon.ico 404
    assert "dashboard.css" in printed.text and "甲项目 2025年9月客服月度报告" in text_of(printed)
    book = c.job_file(c.post_job(f"/admin/dashboard/report/xlsx?month={ds.MONTH}&project_id={world.p1.id}"))
    assert book.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(book.content))["主要指标"]
    assert [cell.value for cell in sheet[3]][6] == 0.529 and sheet["G3"].number_format == "0.0%"
    f.user(session, username="desk", roles=["前台客服"], projects=[world.p1])
    desk = console("desk")
    assert desk.get(f"/admin/dashboard/report?month={ds.MONTH}").status_code == 403
    assert desk.post(f"/admin/dashboard/report/xlsx?month={ds.MONTH}").status_code == 403
    assert desk.get("/admin/").status_code == 200  # the home page is everyone's


def test_month_close_is_a_post_with_the_token_and_the_grant(console, session, world, manager):
    c = console(manager)
    f.user(session, username="sv", roles=["客服主管"], projects=[world.p1])
    supervisor = console("sv")
    params = {"month": ds.MONTH, "project_id": str(world.p1.id), "branch_id": ""}
    before = ds.counts(session)
    confirm = c.get(f"/admin/dashboard/report/close?month={ds.MONTH}&project_id={world.p1.id}")
    assert confirm.status_code == 200 and "确认月结" in confirm.text and "将月结 1 个项目（甲项目）" in text_of(confirm)
    assert ds.counts(session) == before  # C01: a GET writes nothing
    no_token = c.client.post("/admin/dashboard/report/close", data=params, follow_redirects=False)
    assert no_token.status_code == 403 and ds.counts(session) == before  # C02
    assert supervisor.post("/admin/dashboard/report/close", params).status_code == 403  # A02
    assert ds.counts(session) == before
    done = c.post("/admin/dashboard/report/close", params)
    assert done.status_code == 303 and "/admin/dashboard/report" in done.headers["location"]
    assert session.scalar(select(func.count()).select_from(MonthSnapshot)) == 1
    assert session.scalar(select(func.count()).select_from(OperationLog).where(OperationLog.operation == "close_month")) == 1
    again = c.post("/admin/dashboard/report/close", params)
    assert again.status_code == 303 and session.scalar(select(func.count()).select_from(MonthSnapshot)) == 1


def test_closing_an_unfinished_month_is_refused(console, session, world, manager):
    c = console(manager)
    before = ds.counts(session)
    refused = c.post("/admin/dashboard/report/close", {"month": "2099-01", "project_id": str(world.p1.id)})
    assert refused.status_code == 400 and "尚未结束" in text_of(refused)
    assert ds.counts(session) == before


def test_after_a_correction_the_closed_report_shows_the_difference(console, session, world, manager):
    c = console(manager)
    c.post("/admin/dashboard/report/close", {"month": ds.MONTH, "project_id": str(world.p1.id)})
    world.unpaid.amount_paid, world.unpaid.status = Decimal("250.00"), BillStatus.PAID
    session.flush()
    url = f"/admin/dashboard/report?month={ds.MONTH}&project_id={world.p1.id}"
    text = text_of(c.get(url))
    assert "本报告已月结，以下为报送时的数据" in text and "月结后有" in text
    # as reported: 52.9 %; the difference: 实收 450 → 700, the rate 52.9 % → 82.4 %
    assert "52.9%" in text and "450.00 700.00 +250.00" in text and "52.9% 82.4% +29.5个百分点" in text
    live = text_of(c.get(url + "&live=1"))
    assert "以下为当前数据" in live and "82.4%" in live
    printed = text_of(c.get(f"/admin/dashboard/report/print?month={ds.MONTH}&project_id={world.p1.id}"))
    assert "本报告已于" in printed and "450.00 700.00 +250.00" in printed
    # the .xlsx is what the page shows: as reported with the corrections, live only with live=1
    page = c.get(url)
    assert f'/admin/dashboard/report/xlsx?month={ds.MONTH}&amp;project_id={world.p1.id}&amp;branch_id="' in page.text
    book = openpyxl.load_workbook(io.BytesIO(c.job_file(c.post_job(f"/admin/dashboard/report/xlsx?month={ds.MONTH}"
                                                        f"&project_id={world.p1.id}")).content))
    assert [cell.value for cell in book["主要指标"][3]][3:7] == [450, "应收账单", 850, 0.529]
    corrections = [[cell.value for cell in row] for row in book["月结后更正"].iter_rows(min_row=3)]
    assert ["甲项目", "主要指标", "收费率", "完成值", 0.529, 0.824, "+29.5个百分点"] in corrections
    live_page = c.get(url + "&live=1").text
    assert f'/admin/dashboard/report/xlsx?month={ds.MONTH}&amp;project_id={world.p1.id}&amp;branch_id=&amp;live=1"' in live_page
    book = openpyxl.load_workbook(io.BytesIO(c.job_file(c.post_job(f"/admin/dashboard/report/xlsx?month={ds.MONTH}"
                                                        f"&project_id={world.p1.id}&live=1")).content))
    assert [cell.value for cell in book["主要指标"][3]][3:7] == [700, "应收账单", 850, 0.824]


def test_a_late_payment_reads_as_collection_after_the_close_not_as_corrections(console, session, world, manager):
    c = console(manager)
    c.post("/admin/dashboard/report/close", {"month": ds.MONTH, "project_id": str(world.p1.id)})
    record_payment(session, bill_id=world.unpaid.id, amount="223.90", paid_at=utcnow(), actor=SYSTEM)

    text = text_of(c.get(f"/admin/dashboard/report?month={ds.MONTH}&project_id={world.p1.id}"))

    assert "本报告已月结，以下为报送时的数据；月结后补收 223.90 元（1 笔）。" in text
    assert "处更正" not in text and "月结后数据无更正" in text
    assert "450.00 673.90 +223.90" in text  # the 补收's figures, listed apart


def test_hostile_text_is_shown_as_text(console, session, world, manager):
    world.p1.name = "<script>alert(1)</script>花园"
    world.c1.content = "<img src=x onerror=alert(2)>{{7*7}}"
    session.flush()
    c = console(manager)
    for url in (f"/admin/?month={ds.MONTH}", f"/admin/dashboard/report?month={ds.MONTH}&project_id={world.p1.id}",
                f"/admin/dashboard/report/print?month={ds.MONTH}&project_id={world.p1.id}",
                "/admin/dashboard/trends"):
        page = c.get(url)
        assert page.status_code == 200, url
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text, url
        assert "&lt;script&gt;alert(1)" in page.text or "\\u003cscript\\u003e" in page.text, url
    assert "{{7*7}}" in text_of(c.get(f"/admin/dashboard/report?month={ds.MONTH}&project_id={world.p1.id}"))


def test_no_inline_script_and_the_chart_library_is_served_here(console, world, manager):
    c = console(manager)
    page = c.get("/admin/")
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page.text, flags=re.S):
        assert "src=" in attrs or 'type="application/json"' in attrs or "sqladmin" in body or not body.strip() \
            or "flash" in body or "Toast" in body or "toast" in body, attrs
    sources = re.findall(r'<script src="([^"]+)"', page.text)
    assert any(s.endswith("echarts.common.min.js") for s in sources)
    for src in sources:
        assert urlparse(src).netloc == "testserver", src  # served here, no CDN
        assert c.get(unquote(src)).status_code == 200, src


def test_a_user_without_projects_gets_an_empty_home_page(console, session, world):
    f.user(session, username="nobody", roles=["前台客服"])
    page = console("nobody").get("/admin/")
    assert page.status_code == 200 and "没有可查看的项目" in text_of(page)
    assert session.scalar(select(func.count()).select_from(AuditLog)) > 0


def test_drill_captions_name_things_in_chinese(console, world, manager):
    c = console(manager)
    for drill, caption in (
        (kpis.Drill("orders_overdue", "", (world.p1.id,), str(world.engineering.id)), "超时工单（工程部） · 甲项目"),
        (kpis.Drill("scores_answered", "2025H2", (world.p1.id,), "service"), "2025H2 答题数（客服部） · 甲项目"),
        (kpis.Drill("bills_overdue", "2025-10-15", (world.p1.id,), "m2"), "截至 2025-10-15 欠费账单（2个月） · 甲项目"),
        (kpis.Drill("forms_rated", "2025H2", (world.p1.id,)), "2025H2 填写总体满意度的调查问卷 · 甲项目"),
    ):
        page = c.get(drill_url_of(drill))
        assert page.status_code == 200
        shown = re.search(r'<span class="text-dark wuye-drill">(.*?)</span>', page.text, flags=re.S).group(1)
        assert html.unescape(shown).strip() == caption, drill.code


def drill_url_of(drill: kpis.Drill) -> str:
    identity = {"WorkOrder": "work-order", "SurveyScore": "survey-score", "Bill": "bill",
                "SurveyResponse": "survey-response"}[drill.records.model.__name__]
    return f"/admin/{identity}/list?drill={drill.code}"


def test_the_latest_survey_names_its_figures(console, world, manager):
    """总体满意度 is the forms' own figure, as 调查结果 shows it; the departments pooled are 各部门合计."""
    text = text_of(console(manager).get(f"/admin/?month={ds.MONTH}"))
    survey = text[text.index("最新满意度调查"):]
    assert survey.startswith("最新满意度调查 项目 调查 总体满意度 各部门合计 客服部")
    assert "甲项目 2025年下半年调查（2025H2） 50.0% 60.0% 66.7% 50.0%" in survey
    assert "筹备中" not in survey


def test_a_drill_down_lists_export_says_which_figure_it_holds(console, session, world):
    """A branch compares its projects, opens a figure's records and exports them: the file's first line said only
    「客户诉求（导出时间 …）」, so a file kept or sent on no longer said which figure, month and projects it was.
    Its rows are the figure's, as the page and the list count them; the 导出 audit row keeps the code."""
    f.user(session, username="b1", roles=["分公司管理"], branch_=world.b1)
    c = console("b1")
    code = kpis.Drill("complaints_closed", ds.MONTH, (world.p1.id, world.p2.id)).code
    response = c.post(f"/admin/service-request/export/xlsx?drill={code}")
    assert response.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0].startswith(f"客户诉求 · {ds.MONTH} 当月办结 · 甲项目、乙项目（导出时间 ")
    assert len(rows) - 2 == listed(c, f"/admin/service-request/list?drill={code}") > 0
    trail = session.scalars(select(AuditLog).where(AuditLog.kind == "export")).all()
    assert [entry.changes["filters"]["drill"] for entry in trail] == [code]
    # a code naming nothing exports nothing, under the list's own title
    rows = list(openpyxl.load_workbook(io.BytesIO(c.post("/admin/service-request/export/xlsx?drill=x").content))
                .active.iter_rows(values_only=True))
    assert rows[0][0].startswith("客户诉求（导出时间 ") and len(rows) == 2


def test_the_reports_amounts_read_with_thousands_separators_as_on_the_home_page(console, session, world, manager):
    """月度报告 wrote 实收 1233767.89 where the home page writes 2,879,506.66: amounts on the page (and as frozen by
    the month close, and what came in after it) read 1,233,767.89; the .xlsx keeps them numbers to add up."""
    world.unpaid.amount_due, world.unpaid.amount_paid = Decimal("1234567.89"), Decimal("1233317.89")
    world.unpaid.status = BillStatus.PARTIAL
    session.flush()
    c = console(manager)
    url = f"/admin/dashboard/report?month={ds.MONTH}&project_id={world.p1.id}"
    text = text_of(c.get(url))
    assert "1,233,767.89" in text and "1233767.89" not in text  # 实收: 450.00 + 1,233,317.89
    book = openpyxl.load_workbook(io.BytesIO(c.job_file(c.post_job(f"/admin/dashboard/report/xlsx?month={ds.MONTH}"
                                                        f"&project_id={world.p1.id}")).content))
    assert book["主要指标"]["D3"].value == 1233767.89
    assert c.post("/admin/dashboard/report/close", {"month": ds.MONTH, "project_id": str(world.p1.id)}).status_code == 303
    record_payment(session, bill_id=world.unpaid.id, amount="1250.00", paid_at=utcnow(), actor=SYSTEM)
    reported = text_of(c.get(url))
    assert "本报告已月结" in reported and "1233767.89" not in reported
    assert "月结后补收 1,250.00 元（1 笔）" in reported and "1,233,767.89 1,235,017.89 +1,250.00" in reported
