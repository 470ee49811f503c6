"""The console pages of 员工考核 (issue 6): 录入考核, 计算月度考核, 考核结果 with confirm / spot-check / reopen,
breakdown, history, .xlsx, 服务之星评选 — permissions, CSRF, scope and refusals through the real app."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from urllib.parse import unquote_plus

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from actions.actor import SYSTEM, Actor
from actions.jobs import JobSettings, claim_job, enqueue_job, worker_name
from actions.kernel.periods import period_of, today_local
from actions.scores import compute_locks
from actions.service_star import default_deadline
from models import (
    SHANGHAI,
    ComplaintValidity,
    EventSource,
    GradeBand,
    Job,
    JobState,
    MonthlyScore,
    MonthStatus,
    OperationLog,
    RequestKind,
    RewardEntry,
    ScoreEvent,
    ScoreMonth,
    ScoringRule,
    ServiceRequest,
    ServiceStar,
    User,
    label_of,
)
from tests import factories

MONTH = "2026-10"


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def ours(model, org):
    """Rows of this test's projects (the database may hold other tests' committed rows)."""
    return model.project_id.in_([org["project"].id, org["other"].id])


def rule_id(session, code: str) -> int:
    return session.scalar(select(ScoringRule.id).where(ScoringRule.code == code, ScoringRule.valid_to.is_(None)))


@pytest.fixture
def org(session):
    branch = factories.branch(session, name="静安分公司")
    p = factories.project(session, name="锦绣苑", branch_=branch)
    other = factories.project(session, name="外滩中心", branch_=branch)
    staff = [factories.staff(session, project_=p, name=n) for n in ("王芳", "李娜", "张伟")]
    stranger = factories.staff(session, project_=other, name="周外")
    factories.user(session, username="sup", roles=["客服主管"], projects=[p])
    factories.user(session, username="mgr", roles=["客服经理"], projects=[p])
    factories.user(session, username="desk", roles=["前台客服"], projects=[p])
    factories.user(session, username="branch", roles=["分公司管理"], branch_=branch)
    return {"project": p, "other": other, "staff": staff, "stranger": stranger, "branch": branch}


def record(c, session, org, who, code="5.8", points="-4", day="2026-10-12", **extra):
    data = {"project_id": str(org["project"].id), "event_date": day, "rule_id": str(rule_id(session, code)),
            "points": points, "note": "夜班", "staff_id": [str(s.id) for s in who], **extra}
    return c.post("/admin/scores/record", data)


def test_a_supervisor_records_one_event_for_several_employees(console, session, org):
    c = console("sup")
    page = c.get(f"/admin/scores/record?project_id={org['project'].id}&event_date=2026-10-12")
    assert page.status_code == 200 and "王芳" in page.text and "5.8 纪律" in page.text and "周外" not in page.text
    response = record(c, session, org, org["staff"][:2])
    assert response.status_code == 303
    rows = session.scalars(select(ScoreEvent).where(ours(ScoreEvent, org))).all()
    assert {(r.staff_id, r.points, r.event_date) for r in rows} == {
        (s.id, Decimal("-4"), dt.date(2026, 10, 12)) for s in org["staff"][:2]
    }
    assert "已为 2 名员工录入考核记录" in c.get(response.headers["location"]).text


def test_the_record_page_preselects_the_only_project(console, session, org):
    # 客服主管 of one project: it is chosen already and its staff are offered
    page = console("sup").get("/admin/scores/record").text
    assert f'<option value="{org["project"].id}" selected>' in page
    assert "王芳" in page and 'name="staff_id"' in page and "周外" not in page
    # a supervisor of two projects chooses one
    factories.user(session, username="sup2", roles=["客服主管"], projects=[org["project"], org["other"]])
    response = console("sup2").get("/admin/scores/record")
    page = response.text
    assert response.status_code == 200 and org["other"].name in page
    assert " selected>" not in page.split('id="pick_project"', 1)[1].split("</select>", 1)[0]
    assert 'name="staff_id"' not in page and "王芳" not in page


def test_a_double_submitted_form_records_its_events_once(console, session, org):
    c = console("sup")
    page = c.get(f"/admin/scores/record?project_id={org['project'].id}&event_date=2026-10-12")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text)[1]
    assert token not in c.get(f"/admin/scores/record?project_id={org['project'].id}").text  # one per form shown
    first = record(c, session, org, org["staff"][:2], form_token=token)
    assert first.status_code == 303
    again = record(c, session, org, org["staff"][:2], form_token=token)
    assert again.status_code == 303
    assert "该表单已提交过，未重复录入" in c.get(again.headers["location"]).text
    assert count(session, ScoreEvent, ours(ScoreEvent, org)) == 2


def test_a_refused_form_keeps_its_token_and_counts_when_corrected(console, session, org):
    c = console("sup")
    refused = record(c, session, org, org["staff"][:1], points="-9", form_token="a" * 32)
    assert refused.status_code == 400 and f'name="form_token" value="{"a" * 32}"' in refused.text
    assert count(session, ScoreEvent, ours(ScoreEvent, org)) == 0
    assert record(c, session, org, org["staff"][:1], form_token="a" * 32).status_code == 303
    assert count(session, ScoreEvent, ours(ScoreEvent, org)) == 1


@pytest.mark.parametrize(("case", "message"), [
    ("range", "超出细则 5.8 的范围"), ("stranger", "不属于项目 锦绣苑"), ("bad_points", "分值无效"),
])
def test_bad_events_from_the_console_are_refused_and_nothing_is_written(console, session, org, case, message):
    c = console("sup")
    who, points = org["staff"][:1], "-4"
    if case == "range":
        points = "-9"
    elif case == "stranger":
        who = [org["staff"][0], org["stranger"]]
    elif case == "bad_points":
        points = "四分"
    response = record(c, session, org, who, points=points)
    assert response.status_code == 400 and message in response.text
    assert count(session, ScoreEvent, ours(ScoreEvent, org)) == 0


def test_compute_confirm_and_the_lock_through_the_console(console, session, org):
    sup = console("sup")
    assert record(sup, session, org, org["staff"][:1], code="1.1", points="").status_code == 303
    praise = factories.service_request(session, project_=org["project"], kind=RequestKind.PRAISE,
                                       received_at=dt.datetime(2026, 10, 8, 9, tzinfo=SHANGHAI))
    praise.praised_staff_id = org["staff"][1].id
    session.flush()

    preview = sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id), "dry_run": "1"})
    assert preview.status_code == 200 and "预览（未保存）" in preview.text
    assert count(session, MonthlyScore, ours(MonthlyScore, org)) == 0
    done = sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)})
    assert done.status_code == 200 and "已计算 2026-10 月度考核：1 个项目、3 名员工、2 条考核记录" in done.text

    results = sup.get(f"/admin/scores/results?month={MONTH}&project_id={org['project'].id}")
    assert results.status_code == 200
    assert results.text.index("李娜") < results.text.index("张伟") < results.text.index("王芳")  # 102, 100, 99
    assert "确认本月考核" in results.text and "/admin/score-month/reopen" not in results.text

    confirm = sup.post("/admin/score-month/confirm", {"month": MONTH, "project_id": str(org["project"].id)})
    assert confirm.status_code == 303
    assert session.scalar(select(ScoreMonth.status).where(ours(ScoreMonth, org))) is MonthStatus.CONFIRMED
    before = count(session, OperationLog)
    again = sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)})
    assert again.status_code == 400 and "月度考核已确认（锦绣苑），不能重新计算" in again.text
    late = record(sup, session, org, org["staff"][2:], code="1.1", points="")
    assert late.status_code == 400 and "不能再录入该月的考核记录" in late.text
    assert count(session, OperationLog) == before and count(session, ScoreEvent, ours(ScoreEvent, org)) == 2

    # 确认是主管的事，重新开放是经理的事
    assert sup.post("/admin/score-month/reopen", {"month": MONTH, "project_id": str(org["project"].id),
                                                 "note": "更正"}).status_code == 403
    mgr = console("mgr")
    assert mgr.post("/admin/score-month/confirm", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 403
    assert mgr.post("/admin/score-month/spot-check", {"month": MONTH, "project_id": str(org["project"].id),
                                                     "note": "抽查王芳，属实"}).status_code == 303
    # refused on the results page, in Chinese (not an error page), nothing changed
    no_reason = mgr.post("/admin/score-month/reopen", {"month": MONTH, "project_id": str(org["project"].id), "note": " "})
    assert no_reason.status_code == 400 and "考核结果" in no_reason.text
    assert session.scalar(select(ScoreMonth.status).where(ours(ScoreMonth, org))) is MonthStatus.CONFIRMED
    reopened = mgr.post("/admin/score-month/reopen", {"month": MONTH, "project_id": str(org["project"].id),
                                                     "note": "张伟漏记迟到"})
    assert reopened.status_code == 303
    session.expire_all()
    month = session.scalar(select(ScoreMonth).where(ours(ScoreMonth, org)))
    assert month.status is MonthStatus.DRAFT and "抽查王芳，属实" in month.spot_check_note


def test_a_month_not_yet_over_is_not_confirmed(console, session, org):
    """「依据平常成绩到月底进行奖惩」: this month may be computed as a preview, but confirming it before its last day
    would lock it (nothing more recorded for the rest of the month) and pay its rewards on part of it — refused in
    Chinese, the month still a draft, no reward written."""
    sup = console("sup")
    this_month = period_of(today_local())
    done = sup.post_job("/admin/scores/compute", {"month": this_month, "project_id": str(org["project"].id)})
    assert done.status_code == 200 and f"已计算 {this_month} 月度考核" in done.text
    before = (count(session, OperationLog), count(session, RewardEntry, ours(RewardEntry, org)))
    refused = sup.post("/admin/score-month/confirm", {"month": this_month, "project_id": str(org["project"].id)})
    assert refused.status_code == 400 and f"{this_month} 尚未结束，不能确认月度考核" in refused.text
    session.expire_all()
    assert session.scalar(select(ScoreMonth.status).where(ours(ScoreMonth, org), ScoreMonth.month == this_month)) \
        is MonthStatus.DRAFT
    assert (count(session, OperationLog), count(session, RewardEntry, ours(RewardEntry, org))) == before


def test_a_spot_check_or_reopen_note_beyond_the_text_bound_is_refused_on_the_results_page(console, session, org):
    """A pasted 100,000-character 抽查意见 or 重新开放原因: 400 on the results page naming the field, in Chinese,
    the month still confirmed with its notes as they were."""
    sup = console("sup")
    assert record(sup, session, org, org["staff"][:1], code="1.1", points="").status_code == 303
    assert sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 200
    assert sup.post("/admin/score-month/confirm", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 303
    before = (count(session, OperationLog), session.execute(
        select(ScoreMonth.status, ScoreMonth.spot_check_note, ScoreMonth.version).where(ours(ScoreMonth, org))).one())
    mgr = console("mgr")
    for path, label in (("spot-check", "抽查意见"), ("reopen", "重新开放的原因")):
        refused = mgr.post(f"/admin/score-month/{path}", {"month": MONTH, "project_id": str(org["project"].id),
                                                          "note": "长" * 100_000})
        assert refused.status_code == 400 and f"{label}过长：最多 10,000 字，现为 100,000 字" in refused.text
        session.expire_all()
        assert (count(session, OperationLog), session.execute(
            select(ScoreMonth.status, ScoreMonth.spot_check_note, ScoreMonth.version).where(ours(ScoreMonth, org))
        ).one()) == before


def test_a_confirmed_months_form_is_refused_through_the_console(console, session, org):
    """经理 opens a confirmed 月度考核 and changes its 基础分: refused in Chinese (no error page), the month as it
    was; the form offers no 抽查意见 to rewrite."""
    sup = console("sup")
    assert record(sup, session, org, org["staff"][:1], code="1.1", points="").status_code == 303
    assert sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 200
    assert sup.post("/admin/score-month/confirm", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 303
    month = session.scalar(select(ScoreMonth).where(ours(ScoreMonth, org)))
    kept = (month.base_score, month.status, month.version)
    mgr = console("mgr")
    form = mgr.get(f"/admin/score-month/edit/{month.id}")
    assert form.status_code == 200 and 'name="spot_check_note"' not in form.text
    refused = mgr.post(f"/admin/score-month/edit/{month.id}", {"project": str(org["project"].id), "month": MONTH,
                                                              "base_score": "90"})
    assert refused.status_code == 400 and "月度考核已确认，不能修改基础分" in refused.text
    session.expire_all()
    month = session.get(ScoreMonth, month.id)
    assert (month.base_score, month.status, month.version) == kept


def test_breakdown_history_and_export(console, session, org):
    sup = console("sup")
    record(sup, session, org, org["staff"][:1], code="1.1", points="", note="=1+1")
    complaint = factories.service_request(session, project_=org["project"], kind=RequestKind.COMPLAINT,
                                          received_at=dt.datetime(2026, 10, 9, 9, tzinfo=SHANGHAI))
    complaint.complaint_validity, complaint.complained_staff_id = ComplaintValidity.VALID, org["staff"][0].id
    session.flush()
    wang = org["staff"][0]
    before = sup.get(f"/admin/monthly-score/breakdown?staff_id={wang.id}&month={MONTH}")
    # not computed yet: said once, not contradicted by a 「计算之后……有变化」 warning about a score that is not there
    assert "本月尚未计算得分" in before.text and "与得分不符" not in before.text and "不及时接待" in before.text
    sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)})

    bd = sup.get(f"/admin/monthly-score/breakdown?staff_id={wang.id}&month={MONTH}")
    assert bd.status_code == 200
    assert "不及时接待" in bd.text and "=1+1" in bd.text
    assert f"/admin/service-request/details/{complaint.id}" in bd.text and "有效投诉 #" in bd.text
    history = sup.get(f"/admin/monthly-score/history?staff_id={wang.id}")
    assert history.status_code == 200 and "2026-10" in history.text and "94.0" in history.text

    exported = sup.post_job(f"/admin/monthly-score/xlsx?month={MONTH}&project_id={org['project'].id}")
    assert "已导出月度考核" in exported.text and "导出月度考核" in sup.get("/admin/jobs").text
    xlsx = sup.job_file(exported)
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == ["锦绣苑", "明细"]
    formula = [c for row in wb["明细"].iter_rows(min_row=2) for c in row if c.value == "=1+1"]
    assert formula and formula[0].data_type == "s"


def test_a_role_without_the_right_is_refused(console, session, org):
    desk = console("desk")
    assert desk.get("/admin/scores/compute").status_code == 403
    assert desk.post_job("/admin/scores/compute", {"month": MONTH}).status_code == 403
    assert desk.get("/admin/scores/record").status_code == 403
    assert record(desk, session, org, org["staff"][:1]).status_code == 403
    assert desk.post("/admin/score-month/confirm", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 403
    assert count(session, ScoreEvent, ours(ScoreEvent, org)) == 0 and count(session, MonthlyScore, ours(MonthlyScore, org)) == 0 and count(session, ScoreMonth, ours(ScoreMonth, org)) == 0


def test_a_bad_project_on_compute_or_export_is_named_and_nothing_is_written(console, session, org):
    sup = console("sup")
    before = (count(session, ScoreMonth), count(session, MonthlyScore), count(session, Job), count(session, OperationLog))
    project = label_of(ScoreMonth, "project")
    for sent in ({"month": MONTH, "project_id": "一期"}, {"month": MONTH, "project_id": "一期", "dry_run": "1"},
                 {"month": MONTH, "project_id": f"{org['project'].id},0"}):
        refused = sup.post_job("/admin/scores/compute", sent)
        bad = sent["project_id"].split(",")[-1]
        assert refused.status_code == 400 and f"{project}无效：{bad}" in refused.text, sent
    export = sup.post(f"/admin/monthly-score/xlsx?month={MONTH}&project_id=x")
    assert export.status_code == 400 and "项目无效：x" in export.text  # checked before the job is queued
    assert (count(session, ScoreMonth), count(session, MonthlyScore), count(session, Job),
            count(session, OperationLog)) == before


def test_csrf_and_scope(console, session, org):
    sup = console("sup")
    no_token = sup.client.post("/admin/scores/compute", data={"month": MONTH}, follow_redirects=False)
    assert no_token.status_code == 403 and count(session, ScoreMonth, ours(ScoreMonth, org)) == 0
    foreign = sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["other"].id)})
    assert foreign.status_code == 403 and "无权操作" in foreign.text and count(session, ScoreMonth, ours(ScoreMonth, org)) == 0
    assert sup.get(f"/admin/scores/results?month={MONTH}&project_id={org['other'].id}").status_code == 403
    assert sup.get(f"/admin/monthly-score/breakdown?staff_id={org['stranger'].id}&month={MONTH}").status_code == 403
    assert sup.post(f"/admin/monthly-score/xlsx?month={MONTH}&project_id={org['other'].id}").status_code == 403
    assert count(session, Job) == 0  # a report of a project not the user's: refused before anything is queued


def test_a_derived_or_locked_event_is_not_edited_by_hand(console, session, org):
    sup = console("sup")
    praise = factories.service_request(session, project_=org["project"], kind=RequestKind.PRAISE,
                                       received_at=dt.datetime(2026, 10, 8, 9, tzinfo=SHANGHAI))
    praise.praised_staff_id = org["staff"][1].id
    session.flush()
    record(sup, session, org, org["staff"][:1])
    sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)})
    derived = session.scalar(select(ScoreEvent).where(ours(ScoreEvent, org), ScoreEvent.source == EventSource.PRAISE))
    manual = session.scalar(select(ScoreEvent).where(ours(ScoreEvent, org), ScoreEvent.source == EventSource.MANUAL))

    deleted = sup.delete(f"/admin/score-event/delete?pks={derived.id}")  # sqladmin answers with the list URL
    assert "error=" in deleted.text and "自动生成" in unquote_plus(deleted.text)
    out_of_range = sup.post(f"/admin/score-event/edit/{manual.id}", {
        "project": str(org["project"].id), "staff": str(manual.staff_id), "event_date": "2026-10-12",
        "rule": str(manual.rule_id), "points": "-8", "note": "改", "source": "manual",
    })
    assert out_of_range.status_code == 400 and "超出细则 5.8 的范围" in out_of_range.text
    session.expire_all()
    assert session.get(ScoreEvent, manual.id).points == Decimal("-4")
    assert session.get(ScoreEvent, derived.id) is not None
    # its 变更记录 lists the compute's row for the project (one for all the events it derived), the typed one's not
    factories.user(session, username="hq", superuser=True)
    hq = console("hq")
    for event, shown, hidden in ((derived, "根据记录生成考核记录", "录入考核记录"), (manual, "录入考核记录", "根据记录生成考核记录")):
        page = hq.get(f"/admin/audit-log/list?table_name=score_event&record_id={event.id}")
        assert page.status_code == 200 and shown in page.text and hidden not in page.text
        assert len(re.findall(r"/admin/audit-log/details/(\d+)", page.text)) == 1


def test_the_service_star_is_nominated_and_chosen_in_the_console(console, session, org):
    """The page opens on this quarter with its deadline; a past quarter's deadline has passed; the branch decides
    with a 通报表扬 and a reward."""
    sup = console("sup")
    for mon in (7, 8, 9):
        praise = factories.service_request(session, project_=org["project"], kind=RequestKind.PRAISE,
                                           received_at=dt.datetime(2026, mon, 8, 9, tzinfo=SHANGHAI))
        praise.praised_staff_id = org["staff"][1].id
        session.flush()
        month = f"2026-{mon:02d}"
        sup.post_job("/admin/scores/compute", {"month": month, "project_id": str(org["project"].id)})
        assert sup.post("/admin/score-month/confirm", {"month": month, "project_id": str(org["project"].id)}).status_code == 303
    page = sup.get(f"/admin/scores/stars?quarter=2026Q3&project_id={org['project'].id}")
    assert page.status_code == 200 and "李娜" in page.text and "102.00" in page.text
    assert "推荐截止" in page.text and "2026-09-30" in page.text and "已截止" in page.text
    before = count(session, ServiceStar)
    late = sup.post("/admin/service-star/nominate", {"quarter": "2026Q3", "project_id": str(org["project"].id),
                                                     "staff_id": str(org["staff"][1].id), "reason": "表扬"})
    assert late.status_code == 400 and "截止" in late.text and count(session, ServiceStar) == before

    today = dt.datetime.now(SHANGHAI).date()
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    assert f'value="{quarter}"' in sup.get("/admin/scores/stars").text  # opens on this quarter
    form = {"quarter": quarter, "project_id": str(org["project"].id), "staff_id": str(org["staff"][1].id),
            "reason": "季度三次表扬"}
    if today > default_deadline(quarter):  # run on the last days of a quarter: the deadline has passed
        assert sup.post("/admin/service-star/nominate", form).status_code == 400
        return
    assert sup.post("/admin/service-star/nominate", form).status_code == 303
    star = session.scalar(select(ServiceStar).where(ours(ServiceStar, org)))
    assert (star.staff_id, star.reason, star.chosen) == (org["staff"][1].id, "季度三次表扬", False)
    assert sup.get("/admin/service-star/create").status_code in (403, 404)  # no way around the deadline
    assert sup.post("/admin/service-star/choose", {"quarter": quarter,
                                                   "nomination_id": str(star.id)}).status_code == 403
    chosen = console("branch").post("/admin/service-star/choose", {
        "quarter": quarter, "nomination_id": str(star.id), "commendation": "通报表扬", "reward": "300",
        "versions": f"{star.id}:{star.version}"})
    assert chosen.status_code == 303
    session.expire_all()
    star = session.get(ServiceStar, star.id)
    assert (star.chosen, star.commendation, star.reward) == (True, "通报表扬", Decimal("300.00"))


def test_a_star_choice_from_a_form_opened_before_another_is_refused(console, session, org):
    """分公司评定 carried no version: a choice made from a page opened before another's 评定 un-chose the newer
    choice silently. The form carries the nominations' versions: a stale one is refused in Chinese, nothing
    written; a form without them is refused too (B13)."""
    wang, li = org["staff"][0], org["staff"][1]
    stars = [ServiceStar(quarter="2026Q3", project_id=org["project"].id, staff_id=s.id, reason="表扬")
             for s in (wang, li)]
    session.add_all(stars)
    factories.user(session, username="branch2", roles=["分公司管理"], branch_=org["branch"])
    session.flush()
    url = f"/admin/scores/stars?quarter=2026Q3&project_id={org['project'].id}"

    def opened(client) -> dict:
        page = client.get(url)
        assert page.status_code == 200
        versions = re.search(r'name="versions" value="([\d:,]+)"', page.text)
        assert versions, "the 评定 form carries no version"
        return {"quarter": "2026Q3", "project_id": str(org["project"].id), "versions": versions.group(1)}

    def state():
        session.expire_all()
        return [(s.chosen, s.commendation, s.version) for s in (session.get(ServiceStar, x.id) for x in stars)]

    branch, branch2 = console("branch"), console("branch2")
    first, second = opened(branch), opened(branch2)
    done = branch.post("/admin/service-star/choose", {**first, "nomination_id": str(stars[0].id),
                                                      "commendation": "通报表扬"})
    assert done.status_code == 303
    chosen = state()
    assert [c[:2] for c in chosen] == [(True, "通报表扬"), (False, "")]

    stale = branch2.post("/admin/service-star/choose", {**second, "nomination_id": str(stars[1].id)})
    assert stale.status_code == 400 and "2026Q3 服务之星的推荐或评定已被他人修改，请刷新后重试" in stale.text
    assert state() == chosen
    bare = branch2.post("/admin/service-star/choose", {"quarter": "2026Q3", "nomination_id": str(stars[1].id)})
    assert bare.status_code == 400 and "表单缺少版本号" in bare.text and state() == chosen

    fresh = branch2.post("/admin/service-star/choose", {**opened(branch2), "nomination_id": str(stars[1].id)})
    assert fresh.status_code == 303 and [c[0] for c in state()] == [False, True]


def test_the_company_revises_a_rule_from_a_future_date(console, session, org):
    """考核细则 hold for every project: revised by who sees them all (a one-project 客服经理 is refused,
    tests/admin/test_account_views.py)."""
    current = session.get(ScoringRule, rule_id(session, "2.1"))
    factories.user(session, username="hq", superuser=True)
    mgr = console("hq")
    form = mgr.get(f"/admin/scoring-rule/action/revise-rule?pks={current.id}")
    assert form.status_code == 200 and "修订考核细则 2.1" in form.text
    before = count(session, ScoringRule)
    past = mgr.post("/admin/scoring-rule/revise", {"rule_id": str(current.id), "valid_from": "2026-01-01",
                                                   "points_min": "-3", "points_max": "-3", "description": ""})
    assert past.status_code == 400 and "须晚于今天" in past.text and count(session, ScoringRule) == before
    start = (dt.datetime.now(SHANGHAI).date().replace(day=1) + dt.timedelta(days=40)).replace(day=1)
    done = mgr.post("/admin/scoring-rule/revise", {"rule_id": str(current.id), "valid_from": start.isoformat(),
                                                   "points_min": "-3", "points_max": "-3", "description": ""})
    assert done.status_code == 303
    session.expire_all()
    assert session.get(ScoringRule, current.id).valid_to == start
    new = session.scalar(select(ScoringRule).where(ScoringRule.code == "2.1", ScoringRule.valid_from == start))
    assert (new.points_min, new.description) == (Decimal("-3"), current.description)
    assert console("sup").post("/admin/scoring-rule/revise", {"rule_id": str(new.id), "valid_from": "2099-01-01",
                                                              "points_min": "-2", "points_max": "-2"}).status_code == 403


def test_a_rules_form_is_held_to_the_revision_rules(console, session, org):
    """The 考核细则 form obeys 修订: a range with 下限 above 上限 or across 0 is refused, as is changing the points
    or start of a version already in force (past months were scored with it) or ending it before tomorrow;
    its wording is corrected. Each refusal in Chinese, the rules as they were."""
    current = session.get(ScoringRule, rule_id(session, "2.1"))
    factories.user(session, username="hq", superuser=True)
    hq = console("hq")

    def rules():
        session.expire_all()
        return session.execute(select(ScoringRule.id, ScoringRule.points_min, ScoringRule.points_max,
                                      ScoringRule.valid_from, ScoringRule.valid_to, ScoringRule.version)
                               .order_by(ScoringRule.id)).all()

    before = rules()
    future = (dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=40)).isoformat()
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    for changes, message in (
        ({"code": "9.9", "points_min": "-1", "points_max": "-3", "valid_from": future}, "分值下限 -1 大于上限 -3"),
        ({"code": "9.9", "points_min": "-2", "points_max": "2", "valid_from": future}, "分值区间不能跨过 0"),
    ):
        refused = hq.post("/admin/scoring-rule/create", rule_form(current, **changes))
        assert refused.status_code == 400 and message in refused.text, refused.text[-1500:]
    for changes, message in (
        ({"points_min": "-5", "points_max": "-5"}, f"细则 2.1 自 {current.valid_from} 起已用于考核，不能在表单里修改分值下限"),
        ({"valid_from": future}, "不能在表单里修改生效日期"),
        ({"valid_to": today}, f"失效日期须晚于今天（{today}）"),
    ):
        refused = hq.post(f"/admin/scoring-rule/edit/{current.id}", rule_form(current, **changes))
        assert refused.status_code == 400 and message in refused.text, (changes, refused.text[-1500:])
    assert rules() == before
    assert hq.post(f"/admin/scoring-rule/edit/{current.id}", rule_form(current, description="上班迟到、早退")).status_code == 302
    session.expire_all()
    assert session.get(ScoringRule, current.id).description == "上班迟到、早退"


def rule_form(rule, **changes) -> dict[str, str]:
    """考核细则's console form as ``rule`` fills it, with ``changes``."""
    return {"code": rule.code, "category": rule.category.value, "description": rule.description,
            "points_min": str(rule.points_min), "points_max": str(rule.points_max),
            "choose_in_range": "y" if rule.choose_in_range else "", "source": rule.source.value,
            "company_own": "y" if rule.company_own else "", "valid_from": rule.valid_from.isoformat(),
            "valid_to": rule.valid_to.isoformat() if rule.valid_to else "", **changes}


def test_a_second_version_in_force_alongside_the_first_is_refused(console, session, org):
    """考核细则 as data: one version of a rule a day, one rule a day for each source the system applies. A second
    「2.1」 from next month typed as a new rule (instead of 修订), a second 表扬 rule from 2026-11-01, or the old
    version's 失效日期 cleared after a 修订 — each refused naming the version it overlaps; the rules as they were.
    (Before, they were saved: the compute kept scoring with whichever it met first, the new points never applied.)"""
    current = session.get(ScoringRule, rule_id(session, "2.1"))
    praise = session.scalars(select(ScoringRule).where(ScoringRule.source == EventSource.PRAISE)).one()
    factories.user(session, username="hq", superuser=True)
    hq = console("hq")
    future = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=40)

    def rules():
        session.expire_all()
        return session.execute(select(ScoringRule.id, ScoringRule.code, ScoringRule.valid_from, ScoringRule.valid_to)
                               .order_by(ScoringRule.id)).all()

    before = rules()
    for changes, message in (
        ({"points_min": "-3", "points_max": "-3", "valid_from": future.isoformat()},
         f"细则 2.1 已有自 {current.valid_from} 起现行的版本，与 {future} 起的新版本重叠"),
    ):
        refused = hq.post("/admin/scoring-rule/create", rule_form(current, **changes))
        assert refused.status_code == 400 and message in refused.text, refused.text[-1500:]
    second_praise = rule_form(praise, code="AUTO-PRAISE-2", points_min="3", points_max="3", valid_from="2026-11-01")
    refused = hq.post("/admin/scoring-rule/create", second_praise)
    assert refused.status_code == 400 and (
        f"细则 {praise.code}（同为根据客户表扬记录生成） 已有自 {praise.valid_from} 起现行的版本，与 2026-11-01 起的细则 "
        "AUTO-PRAISE-2重叠") in refused.text
    assert rules() == before
    # A rule of its own (typed by hand) is added; a 修订 ends the current version, which then stays ended.
    assert hq.post("/admin/scoring-rule/create", rule_form(current, code="9.1", valid_from=future.isoformat())).status_code == 302
    revised = hq.post("/admin/scoring-rule/revise", {"rule_id": str(current.id), "valid_from": future.isoformat(),
                                                     "points_min": "-3", "points_max": "-3"})
    assert revised.status_code in (200, 302, 303)
    session.expire_all()
    assert session.get(ScoringRule, current.id).valid_to == future
    reopened = hq.post(f"/admin/scoring-rule/edit/{current.id}", rule_form(session.get(ScoringRule, current.id), valid_to=""))
    assert reopened.status_code == 400 and f"细则 2.1 已有自 {future} 起现行的版本" in reopened.text
    session.expire_all()
    assert session.get(ScoringRule, current.id).valid_to == future


def test_a_grade_bands_form_keeps_the_grades_unambiguous_and_given_grades_named(console, session, org):
    """考核等级: a 最低分 another grade has (one of them would never be given), a 最低分 or 奖惩金额 beyond its column,
    or renaming a grade months were scored with — refused in Chinese, the grades as they were; the reward is
    corrected."""
    sup = console("sup")
    assert record(sup, session, org, org["staff"][:1], code="1.1", points="").status_code == 303
    assert sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 200
    given = session.scalar(select(MonthlyScore.grade).where(ours(MonthlyScore, org)).limit(1))
    band = session.scalar(select(GradeBand).where(GradeBand.name == given))
    other = session.scalar(select(GradeBand).where(GradeBand.name != given).order_by(GradeBand.min_total))
    factories.user(session, username="hq", superuser=True)
    hq = console("hq")

    def bands():
        session.expire_all()
        return session.execute(select(GradeBand.name, GradeBand.min_total, GradeBand.reward, GradeBand.version)
                               .order_by(GradeBand.id)).all()

    form = {"name": band.name, "min_total": str(band.min_total), "reward": str(band.reward), "reward_note": ""}
    before = bands()
    for changes, message in (
        ({"min_total": str(other.min_total)}, f"最低分 {other.min_total} 与等级「{other.name}」相同"),
        ({"min_total": "100000"}, "最低分超出范围（最多 99,999.9）：100000"),  # past its column, named as every form does
        ({"reward": "123456789.00"}, "奖惩金额超出范围（最多 99,999,999.99）：123456789.00"),
        ({"name": "特优"}, f"等级「{given}」已用于月度考核（如 {MONTH}），不能改名"),
    ):
        refused = hq.post(f"/admin/grade-band/edit/{band.id}", {**form, **changes})
        assert refused.status_code == 400 and message in refused.text, (changes, refused.text[-1500:])
    assert bands() == before
    assert hq.post(f"/admin/grade-band/edit/{band.id}", {**form, "reward": "350"}).status_code == 302
    session.expire_all()
    assert session.get(GradeBand, band.id).reward == Decimal("350.00")


def test_the_pages_are_in_the_menu_and_open_for_the_supervisor(console, session, org):
    sup = console("sup")
    home = sup.get("/admin/")
    for name in ("录入考核", "计算月度考核", "考核结果", "服务之星评选"):
        assert name in home.text
    for url in ("/admin/scores/record", "/admin/scores/compute", "/admin/scores/results", "/admin/scores/stars"):
        assert sup.get(url).status_code == 200, url
    stars = sup.get("/admin/scores/stars?quarter=2026Q3").text  # no month confirmed: the staff, no scores yet
    assert "王芳" in stars and "推荐截止" in stars


def test_a_supervisor_judges_a_complaint_and_the_desk_cannot(console, session, org):
    complaint = factories.service_request(session, project_=org["project"], kind=RequestKind.COMPLAINT,
                                          received_at=dt.datetime(2026, 10, 9, 9, tzinfo=SHANGHAI))
    complaint.complaint_validity, complaint.complained_staff_id = ComplaintValidity.PENDING, org["staff"][0].id
    session.flush()

    def state():
        session.expire_all()
        row = session.get(ServiceRequest, complaint.id)
        return row.complaint_validity, row.complaint_points

    form = {"request_id": str(complaint.id), "validity": "valid", "points": "8", "version": str(complaint.version)}
    desk = console("desk")
    assert desk.get(f"/admin/service-request/action/judge-complaint?pks={complaint.id}").status_code == 403
    assert desk.post("/admin/service-request/judge-complaint", form).status_code == 403
    assert state() == (ComplaintValidity.PENDING, None)

    sup = console("sup")
    page = sup.get(f"/admin/service-request/action/judge-complaint?pks={complaint.id}")
    assert page.status_code == 200 and "王芳" in page.text and "5 至 10" in page.text and "待判定" in page.text
    wrong = sup.post("/admin/service-request/judge-complaint", {**form, "points": "12"})
    assert wrong.status_code == 400 and "须在 5 至 10 分之间" in wrong.text and state() == (ComplaintValidity.PENDING, None)
    done = sup.post("/admin/service-request/judge-complaint", form)
    assert done.status_code == 303 and state() == (ComplaintValidity.VALID, Decimal("-8"))
    assert "评定扣 8 分" in sup.get(done.headers["location"]).text


def test_a_judgement_from_a_form_opened_before_another_is_refused(console, session, org):
    """判定投诉 carried no version: a supervisor's form opened before another supervisor judged (or before the same
    one judged in another tab) silently replaced the newer judgement. The form carries the complaint's version: the
    stale one is refused in Chinese, nothing written, the newer judgement stays; the same judgement sent again is
    told done, not written twice; a form without its version is refused."""
    complaint = factories.service_request(session, project_=org["project"], kind=RequestKind.COMPLAINT,
                                          received_at=dt.datetime(2026, 10, 9, 9, tzinfo=SHANGHAI))
    complaint.complaint_validity, complaint.complained_staff_id = ComplaintValidity.PENDING, org["staff"][0].id
    factories.user(session, username="sup2", roles=["客服主管"], projects=[org["project"]])
    session.flush()
    url, post = f"/admin/service-request/action/judge-complaint?pks={complaint.id}", "/admin/service-request/judge-complaint"

    def state():
        session.expire_all()
        row = session.get(ServiceRequest, complaint.id)
        logs = count(session, OperationLog, OperationLog.operation == "judge_complaint")
        return row.complaint_validity, row.complaint_points, row.version, logs

    def opened(client) -> dict:
        page = client.get(url)
        assert page.status_code == 200
        version = re.search(r'name="version" value="(\d+)"', page.text)
        assert version, "the 判定投诉 form carries no version"
        return {"request_id": str(complaint.id), "version": version.group(1)}

    sup, sup2 = console("sup"), console("sup2")
    first, second, third = opened(sup), opened(sup2), opened(sup)
    done = sup.post(post, {**first, "validity": "valid", "points": "8"})
    assert done.status_code == 303
    judged = state()
    assert judged[:2] == (ComplaintValidity.VALID, Decimal("-8"))

    stale = sup2.post(post, {**second, "validity": "invalid"})
    assert stale.status_code == 400 and f"投诉 #{complaint.id} 已被他人修改（现为有效），请刷新后重试" in stale.text
    assert state() == judged
    again = sup.post(post, {**third, "validity": "valid", "points": "8"})  # the same judgement from another tab
    assert again.status_code == 303 and state() == judged
    assert "已判定为有效，未重复登记" in sup.get(again.headers["location"]).text
    missing = sup2.post(post, {"request_id": str(complaint.id), "validity": "invalid"})
    assert missing.status_code == 400 and "表单缺少版本号" in missing.text and state() == judged

    fresh = sup2.post(post, {**opened(sup2), "validity": "invalid"})  # reopened on the newer judgement: taken
    assert fresh.status_code == 303 and state()[:2] == (ComplaintValidity.INVALID, None)


def test_judging_is_offered_on_a_complaint_only(console, session, org):
    """判定投诉 was offered on a 报修's page, and its form taken, only to be refused 「不是投诉」 once a judgement
    was chosen: a request's page offers it only on a complaint, and the page opened on anything else says why at
    once, with no form; a post is still refused and nothing is written."""
    def request(kind):
        return factories.service_request(session, project_=org["project"], kind=kind,
                                         received_at=dt.datetime(2026, 10, 9, 9, tzinfo=SHANGHAI))

    repair, complaint = request(RequestKind.REPAIR_PRIVATE), request(RequestKind.COMPLAINT)
    session.flush()
    sup = console("sup")
    offered = "/action/judge-complaint?pks="
    assert offered + str(complaint.id) in sup.get(f"/admin/service-request/details/{complaint.id}").text
    details = sup.get(f"/admin/service-request/details/{repair.id}")
    assert details.status_code == 200 and offered not in details.text
    page = sup.get(f"/admin/service-request/action/judge-complaint?pks={repair.id}")
    assert page.status_code == 200 and f"诉求 #{repair.id} 是报修(户内)，不是投诉" in page.text
    assert "确认判定" not in page.text and 'name="validity"' not in page.text
    posted = sup.post("/admin/service-request/judge-complaint",
                      {"request_id": str(repair.id), "validity": "valid", "version": str(repair.version)})
    assert posted.status_code == 400 and "不是投诉" in posted.text
    session.expire_all()
    assert session.get(ServiceRequest, repair.id).complaint_validity is None


def test_a_compute_is_a_job_one_per_project_and_month(console, session, org):
    """The compute runs as a 后台任务 with its result in 「我的任务」; while one of a project's month is queued or
    running, another is refused — an overlapping choice of projects too — and nothing is queued or written."""
    factories.user(session, username="sup2", roles=["客服主管"], projects=[org["project"]])
    sup, sup2 = console("sup"), console("sup2")
    held = compute_locks(session, month=MONTH, project_ids=[org["project"].id], actor=SYSTEM)
    other_user = session.scalar(select(User).where(User.username == "mgr"))
    running = enqueue_job(session, kind="scores", title="计算中", params={}, settings=JobSettings.from_env(),
                          actor=Actor(user_id=other_user.id, name="mgr", project_ids=None), locks=held)
    claim_job(session, worker=worker_name("test"), settings=JobSettings.from_env())  # a live worker's
    session.flush()

    refused = sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)})
    assert refused.status_code == 409 and "「锦绣苑」2026-10 月度考核正在计算中（mgr发起，进行中）" in refused.text
    everything = sup.post_job("/admin/scores/compute", {"month": MONTH})  # all visible projects: 锦绣苑 among them
    assert everything.status_code == 409
    assert count(session, Job, Job.id != running) == 0 and count(session, ScoreMonth, ours(ScoreMonth, org)) == 0

    session.execute(update(Job).where(Job.id == running).values(state=JobState.FAILED))
    page = sup2.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)})
    assert "已计算 2026-10 月度考核：1 个项目、3 名员工" in page.text and "查看结果：锦绣苑" in page.text
    assert f"/admin/scores/results?month={MONTH}&amp;project_id={org['project'].id}" in page.text
    job = session.scalars(select(Job).where(Job.id != running)).one()
    assert (job.kind, job.state, job.title) == ("scores", JobState.DONE, "计算月度考核 2026-10")
    assert "计算月度考核 2026-10" in sup2.get("/admin/jobs").text
    assert count(session, ScoreMonth, ours(ScoreMonth, org)) == 1


def test_the_confirm_step_lists_the_complaints_still_to_judge_and_refuses_until_they_are(console, session, org):
    """细则：被业主投诉者，视情况扣5-10分: 考核结果 of a draft month lists each complaint deduction still 「暂定扣分，
    待主管评定」 with 判定投诉; confirming is refused naming it (400, no error page), the month still a draft."""
    from models import ComplaintValidity, RequestKind
    from tests.score_support import at, request

    wang = org["staff"][0]
    complaint = request(session, org["project"], RequestKind.COMPLAINT, at(2026, 10, 9),
                        complaint_validity=ComplaintValidity.VALID, complained_staff=wang)
    sup = console("sup")
    assert sup.post_job("/admin/scores/compute", {"month": MONTH, "project_id": str(org["project"].id)}).status_code == 200
    page = sup.get("/admin/scores/results", params={"month": MONTH, "project_id": str(org["project"].id)})
    assert page.status_code == 200 and f"王芳 投诉#{complaint.id}（2026-10-09，暂扣 5 分）" in page.text
    assert f"judge-complaint?pks={complaint.id}" in page.text
    before = (count(session, OperationLog), count(session, RewardEntry, ours(RewardEntry, org)))
    refused = sup.post("/admin/score-month/confirm", {"month": MONTH, "project_id": str(org["project"].id)})
    assert refused.status_code == 400 and "不能确认月度考核：王芳 投诉#" in refused.text
    session.expire_all()
    assert session.scalar(select(ScoreMonth.status).where(ours(ScoreMonth, org), ScoreMonth.month == MONTH)) \
        is MonthStatus.DRAFT
    assert (count(session, OperationLog), count(session, RewardEntry, ours(RewardEntry, org))) == before
