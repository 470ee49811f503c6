"""The fee and dunning pages through the real app: forms on GET, changes on POST with the CSRF token and the
action's grant, previews that write nothing, letters, arrears and collection rate with .xlsx exports."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from dataclasses import asdict
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from actions import dunning as dunning_actions
from actions.actor import Actor
from actions.billing import generation_lock
from actions.dunning import DunningScope, record_delivery, run_lock
from actions.job_runner import JobRunner
from actions.jobs import HOST, JobSettings, claim_job, enqueue_job, worker_name
from actions.kernel.periods import today_local
from admin.views.base import local_datetime
from admin.views.fees import dunning_job
from models import (
    SHANGHAI,
    AuditLog,
    Bill,
    BillStatus,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    DunningStage,
    FeeBasis,
    Job,
    JobLock,
    JobState,
    OperationLog,
    OperationStatus,
    ParkingSpace,
    Payment,
    StaffPosition,
    User,
    label_of,
    utcnow,
)
from models.fees import FeeCycle, FeeType
from tests import factories as f
from tests.actions.test_billing import Estate, make_estate, one_off, with_bills
from tests.admin.test_listing import ids_listed
from tests.admin.test_stale_forms import _opened

D = Decimal


@pytest.fixture
def estate(session) -> Estate:
    return make_estate(session)


def count(session, model, e: Estate) -> int:
    """Rows of the estate's project (other tests' data may share the database)."""
    return session.scalar(select(func.count()).select_from(model).where(model.project_id == e.project.id))


@pytest.fixture
def staff_of(session, estate):
    """``staff_of("收费员")`` → the username of a new account with that role on the estate's project."""
    made = {}

    def make(role: str) -> str:
        name = f"u{len(made)}{abs(hash(role)) % 1000}"
        f.user(session, username=name, roles=[role], projects=[estate.project])
        made[name] = role
        return name

    return make


def preview_params(e: Estate, stage: int, day: int) -> dict:
    return {"stage": str(stage), "as_of": f"2026-04-{day:02d}", "scope": "project", "project_id": str(e.project.id)}


# --- bills --------------------------------------------------------------------------------------------------
def test_generate_bills_form_preview_and_generate(session, console, estate, staff_of):
    e = estate
    renovation = one_off(session, e, "装修管理费")
    cashier = console(staff_of("收费员"))

    form = cashier.get("/admin/bill/action/generate-bills?pks=")
    assert form.status_code == 200 and "翠湖收费测试苑" in form.text and 'name="csrf_token"' in form.text
    offered = 'name="fee_type_id" value="{}"'
    assert offered.format(e.mgmt.id) in form.text
    assert offered.format(renovation.id) not in form.text  # one-off fees are not offered

    data = {"project_id": str(e.project.id), "period": "2026-03"}
    preview = cashier.post_job("/admin/bill/generate-bills", {**data, "dry_run": "1"})
    assert preview.status_code == 200 and "将生成 3 张" in preview.text
    assert count(session, Bill, e) == 0
    done = cashier.post_job("/admin/bill/generate-bills", data)
    assert done.status_code == 200 and "已生成 3 张" in done.text
    again = cashier.post_job("/admin/bill/generate-bills", data)
    assert "已存在 3 张" in again.text and count(session, Bill, e) == 3

    assert not session.scalar(select(func.count()).where(Bill.fee_type_id == renovation.id))

    refused = cashier.post_job("/admin/bill/generate-bills", {**data, "period": "2026-13"})
    assert refused.status_code == 400 and "账期格式" in refused.text
    asked = cashier.post_job("/admin/bill/generate-bills", {**data, "period": "2026-04", "fee_type_id": str(renovation.id)})
    assert asked.status_code == 400 and "按次" in asked.text and "装修管理费" in asked.text
    assert count(session, Bill, e) == 3


def test_the_preview_names_a_lease_whose_rent_has_no_unit_to_go_to(session, console, estate, staff_of):
    """车位租赁's 月租 goes to the lessee's unit: a lessee with none here is named on the preview (before the run),
    and on the run's answer, and no bill is made for it."""
    from actions.fee_tasks import lease_parking_space

    e = estate
    parking = f.fee_type(session, project_=e.project, name="停车费", basis=FeeBasis.PER_SPACE, rate=Decimal("300.00"))
    space = ParkingSpace(project=e.project, code="B2-018")
    session.add(space)
    session.flush()
    outsider = f.customer(session, project_=e.project, name="孙丽", phone="13500004444")
    lease_parking_space(session, space_id=space.id, customer_id=outsider.id, start_date=dt.date(2026, 3, 1),
                        end_date=dt.date(2026, 12, 31), monthly_rent=Decimal("200.00"), actor=e.actor)
    cashier = console(staff_of("收费员"))
    data = {"project_id": str(e.project.id), "period": "2026-04", "fee_type_id": str(parking.id)}
    warning = "车位 B2-018 的承租人在本项目没有关联房屋，月租未计入账单"
    preview = cashier.post_job("/admin/bill/generate-bills", {**data, "dry_run": "1"})
    assert preview.status_code == 200 and warning in preview.text and "alert-warning" in preview.text
    done = cashier.post_job("/admin/bill/generate-bills", data)
    assert warning in done.text
    assert count(session, Bill, e) == 0


def test_generate_bills_needs_the_grant(session, console, estate, staff_of):
    desk = console(staff_of("前台客服"))
    assert desk.get("/admin/bill/action/generate-bills?pks=").status_code == 403
    response = desk.post_job("/admin/bill/generate-bills", {"project_id": str(estate.project.id), "period": "2026-03"})
    assert response.status_code == 403 and count(session, Bill, estate) == 0


# --- dunning ------------------------------------------------------------------------------------------------
def test_dunning_preview_on_get_issue_on_post_once(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    params = preview_params(e, 1, 5)

    page = cashier.get("/admin/dunning")
    assert page.status_code == 200 and "计划日" in page.text
    preview = cashier.get("/admin/dunning", params={**params, "preview": "1"})
    assert preview.status_code == 200
    assert "将发出 3 份通知" in preview.text and "B栋-201" in preview.text and "确认发出 3 份通知" in preview.text
    assert count(session, DunningNotice, e) == 0  # a GET (even cross-site) never issues (C01)

    issued = cashier.post_job("/admin/dunning", params)
    assert issued.status_code == 200 and "已发出第一次催缴" in issued.text and "打印通知函" in issued.text
    assert count(session, DunningNotice, e) == 3
    double = cashier.post_job("/admin/dunning", params)
    assert double.status_code == 200 and "已执行过" in double.text
    assert count(session, DunningNotice, e) == 3 and count(session, DunningRun, e) == 1


def test_dunning_refusals_are_chinese_and_write_nothing(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    other = f.project(session)
    cashier = console(staff_of("收费员"))
    desk = console(staff_of("前台客服"))
    before = session.scalar(select(func.count()).select_from(OperationLog))

    future = cashier.post_job("/admin/dunning", {**preview_params(e, 1, 5), "as_of": "2099-01-05"})
    assert future.status_code == 400 and "晚于今天" in future.text
    foreign = cashier.post_job("/admin/dunning", {**preview_params(e, 1, 5), "project_id": str(other.id)})
    assert foreign.status_code == 403 and "无权操作项目" in foreign.text
    early = cashier.post_job("/admin/dunning", preview_params(e, 3, 12))
    assert early.status_code == 400 and "第三次催缴及停电函、违约函(15日)须在每月15日及以后发出" in early.text
    assert desk.post_job("/admin/dunning", preview_params(e, 1, 5)).status_code == 403  # A02
    assert desk.get("/admin/dunning").status_code == 403
    assert count(session, DunningNotice, e) == 0 and session.scalar(select(func.count()).select_from(OperationLog)) == before


def test_selected_bills_lead_to_the_dunning_form(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    foreign = f.bill(session, unit_=f.unit(session, project_=f.project(session)), fee_type_=e.mgmt, period="2026-01")
    ids = session.scalars(select(Bill.id).where(Bill.unit_id == e.a101.id).order_by(Bill.id)).all()
    cashier = console(staff_of("收费员"))

    redirect = cashier.get(f"/admin/bill/action/dunning?pks={ids[0]},{ids[1]}", follow_redirects=False)
    assert redirect.status_code == 302 and f"bill_ids={ids[0]}%2C{ids[1]}" in redirect.headers["location"]
    form = cashier.get(redirect.headers["location"])
    assert "所选账单（2 张）" in form.text
    preview = cashier.get("/admin/dunning", params={"stage": "1", "as_of": "2026-04-05", "bill_ids": f"{ids[0]},{ids[1]}",
                                                    "preview": "1"})
    assert "将发出 1 份通知" in preview.text
    assert cashier.get(f"/admin/bill/action/dunning?pks={ids[0]},{foreign.id}").status_code == 403


def test_dunning_page_offers_this_months_days_only(session, console, estate, staff_of, issue_day):
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    issue_day(dt.date(2026, 4, 6))

    page = cashier.get("/admin/dunning")
    assert '<option value="1" selected>第一次催缴(5日) — 本月计划日 2026-04-05</option>' in page.text
    assert "第二次催缴(10日) — 本月计划日 2026-04-10（未到）" in page.text
    # Previewing stage 2 with no date on the 6th: no March run offered, the 10th named.
    undated = cashier.get("/admin/dunning", params={"stage": "2", "scope": "project", "project_id": str(e.project.id),
                                                    "preview": "1"})
    assert undated.status_code == 400 and "本月10日（2026-04-10）未到" in undated.text and "2026-03" not in undated.text
    assert count(session, DunningRun, e) == 0


def _cutoff_proposed(session, e, cashier, butler, issue_day, *, delivered: list[int]):
    """Stage 3 issued on the 15th in the console, the 停电函 of the ``delivered`` units delivered on the 16th (signed
    by 王芳), stage 4 proposed on the 20th: the page's answer."""
    issue_day(dt.date(2026, 4, 15))
    cashier.post_job("/admin/dunning", preview_params(e, 3, 15))
    issue_day(dt.date(2026, 4, 20))
    letters = session.scalars(select(DunningNotice.id).where(DunningNotice.project_id == e.project.id,
                                                            DunningNotice.unit_id.in_(delivered))).all()
    record_delivery(session, notice_ids=letters, actor=e.actor, delivered_by_id=butler.id, way="hand", signed_by="王芳",
                    delivered_at=dt.datetime(2026, 4, 16, 10, 0, tzinfo=SHANGHAI))
    return cashier.post_job("/admin/dunning", preview_params(e, 4, 20))


def test_cutoff_needs_a_managers_approval_in_the_console(session, console, estate, staff_of, issue_day):
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    manager = console(staff_of("客服经理"))
    butler = f.staff(session, project_=e.project, name="吴管家")

    # Before any 停电函 this month, stage 4 lists nobody.
    issue_day(dt.date(2026, 4, 15))
    early = cashier.post_job("/admin/dunning", preview_params(e, 4, 15))
    assert early.status_code == 400 and "停电/封铺(20日)须在每月20日及以后发出" in early.text
    proposed = _cutoff_proposed(session, e, cashier, butler, issue_day, delivered=[e.b201.id])
    assert proposed.status_code == 200 and "待客服经理审批" in proposed.text
    assert "其中 1 户的停电函尚未登记送达" in proposed.text
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == e.project.id,
                                                   DunningRun.stage == DunningStage.CUTOFF)).one()
    assert run.status is DunningRunStatus.PROPOSED
    assert cashier.get(f"/admin/dunning-run/action/letters?pks={run.id}").status_code == 400

    assert cashier.get(f"/admin/dunning-run/action/approve-dunning?pks={run.id}").status_code == 403
    assert cashier.post("/admin/dunning-run/approve", {"run_id": str(run.id), "decision": "approve"}).status_code == 403
    page = manager.get(f"/admin/dunning-run/action/approve-dunning?pks={run.id}")
    assert page.status_code == 200 and "A栋-101" in page.text and "B栋-201" in page.text and "批准停电/封铺" in page.text
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><td>([^<]+)</td>(.*?)</tr>", page.text, re.S)}
    assert "2026-04-16 已送达（王芳签收）" in rows["B栋-201"] and "2026-04-15 / 2026-04-20" in rows["B栋-201"]
    assert "未送达，审批时移出名单" in rows["A栋-101"]

    for form, message in (({"decision": "approve"}, "请指定批次"), ({"run_id": "第3批", "decision": "approve"}, "批次无效：第3批"),
                          ({"run_id": str(run.id)}, "请选择批准或驳回"),
                          ({"run_id": str(run.id), "decision": "同意"}, "批准或驳回无效：同意")):
        refused = manager.post("/admin/dunning-run/approve", form)
        assert refused.status_code == 400 and message in refused.text, form
    unexplained = manager.post("/admin/dunning-run/approve", {"run_id": str(run.id), "decision": "reject", "note": " "})
    assert unexplained.status_code == 400 and "驳回停电/封铺名单须填写驳回理由" in unexplained.text
    session.expire_all()
    assert session.get(DunningRun, run.id).status is DunningRunStatus.PROPOSED and count(session, DunningNotice, e) == 5
    approved = manager.post("/admin/dunning-run/approve", {"run_id": str(run.id), "decision": "approve", "note": "同意"})
    assert approved.status_code == 200 and "已批准停电/封铺 1 户" in approved.text
    assert "1 户停电函未送达，已移出名单" in approved.text and "同意" in approved.text
    session.expire_all()
    assert session.get(DunningRun, run.id).status is DunningRunStatus.APPROVED
    twice = manager.post("/admin/dunning-run/approve", {"run_id": str(run.id), "decision": "approve"})
    assert twice.status_code == 400 and "不是待审批" in twice.text


def test_the_approval_page_approves_the_list_without_the_accounts_ticked_off(session, console, estate, staff_of, issue_day):
    """审批停电/封铺: each account of a proposed list has a 「不停电」 box (the 主力店 the manager negotiates with); the
    list is approved without the ticked ones, the reason required in 审批意见 — refused without it, the tick kept."""
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    manager = console(staff_of("客服经理"))
    butler = f.staff(session, project_=e.project, name="吴管家")
    _cutoff_proposed(session, e, cashier, butler, issue_day, delivered=[e.a101.id, e.b201.id])
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == e.project.id,
                                                   DunningRun.stage == DunningStage.CUTOFF)).one()
    page = manager.get(f"/admin/dunning-run/action/approve-dunning?pks={run.id}")
    assert page.status_code == 200
    assert f'name="keep_out" value="{e.b201.id}" form="approve-form"' in page.text and "不停电" in page.text

    unexplained = manager.post("/admin/dunning-run/approve",
                               {"run_id": str(run.id), "decision": "approve", "keep_out": str(e.b201.id)})
    assert unexplained.status_code == 400 and "移出名单的住户须在审批意见中说明理由" in unexplained.text
    assert f'name="keep_out" value="{e.b201.id}" form="approve-form" checked' in unexplained.text
    session.expire_all()
    assert session.get(DunningRun, run.id).status is DunningRunStatus.PROPOSED and count(session, DunningNotice, e) == 5

    approved = manager.post("/admin/dunning-run/approve", {"run_id": str(run.id), "decision": "approve",
                                                           "keep_out": str(e.b201.id), "note": "主力店，经理谈判"})
    assert approved.status_code == 200 and "已批准停电/封铺 1 户" in approved.text
    assert "1 户由审批人移出名单，不停电/封铺" in approved.text
    session.expire_all()
    assert session.get(DunningRun, run.id).status is DunningRunStatus.APPROVED
    assert session.scalars(select(DunningNotice.unit_id).where(DunningNotice.run_id == run.id)).all() == [e.a101.id]


def test_letters_print_one_per_page_and_download_as_one_file(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    cashier.post_job("/admin/dunning", preview_params(e, 3, 15))
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == e.project.id)).one()

    page = cashier.get(f"/admin/dunning-run/action/letters?pks={run.id}")

    assert page.status_code == 200
    html = page.text
    assert html.count('<section class="sheet">') == 9  # three accounts × 催缴通知书 + 停电函 + 违约函
    assert "@page { size: A4" in html and "page-break-after: always" in html
    # Issued today for the 15th: the deadline is five days from today, not the 20th already past.
    deadline = (max(dt.date(2026, 4, 15), today_local()) + dt.timedelta(days=5)).isoformat()
    for text in ("测试物业服务有限公司", "尊敬的 张伟（翠湖收费测试苑 A栋-101）", "650.00", "陆佰伍拾元整", "停电函", "违约函",
                 f"请贵户于 <span class=\"strong\">{deadline}</span> 前", "2026-03", "150.00"):
        assert text in html, text
    # stage 3 went out once its date came, with no reminder before it this month: the letter claims none
    assert "这是本月第" not in html and "向贵户催缴" not in html and "多次催缴" not in html
    assert "催缴通知书</h1>" in html and "（第一次）" in html and "（第三次）" not in html and "至今仍未缴清" in html
    assert f'<form method="post" action="http://testserver/admin/dunning-run/action/letters?pks={run.id}&amp;download=1"' in html
    # a GET of the download's address (a bookmark) queues nothing and names the button the letters page has
    bookmark = cashier.get(f"/admin/dunning-run/action/letters?pks={run.id}&download=1")
    assert bookmark.status_code == 200 and "点击页面上的「下载为一个文件」按钮" in bookmark.text
    assert "「导出」" not in bookmark.text
    download = cashier.job_file(cashier.post_job(f"/admin/dunning-run/action/letters?pks={run.id}&download=1"))
    assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment;")
    assert ".html" in download.headers["content-disposition"] and "Ctrl+P" not in download.text
    assert download.text.count('<section class="sheet">') == 9

    notice = session.scalars(select(DunningNotice).where(DunningNotice.unit_id == e.b201.id)).one()
    one = cashier.get(f"/admin/dunning-notice/action/letters?pks={notice.id}")
    assert one.text.count('<section class="sheet">') == 3 and "停电并封铺" in one.text  # B-201 is a shop


def test_delivery_is_recorded_from_the_notice_list(session, console, estate, staff_of, issue_day):
    e = estate
    with_bills(session, e)
    butler_staff = f.staff(session, project_=e.project, name="吴管家")
    cashier = console(staff_of("收费员"))
    butler = console(staff_of("楼宇管家"))
    issue_day(dt.date(2026, 4, 5))
    cashier.post_job("/admin/dunning", preview_params(e, 1, 5))
    issue_day(dt.date(2026, 4, 6), hour=10)
    ids = session.scalars(select(DunningNotice.id).where(DunningNotice.project_id == e.project.id)
                          .order_by(DunningNotice.id)).all()

    form = butler.get(f"/admin/dunning-notice/action/deliver?pks={ids[0]},{ids[1]}")
    assert form.status_code == 200 and "吴管家" in form.text
    # Refused (dated before the notices were issued), the form comes back as typed: 送达人 not reset to the user.
    typed = {"notice_ids": f"{ids[0]},{ids[1]}", "delivered_by_id": str(butler_staff.id), "way": "door",
             "signed_by": "张伟", "delivered_at": "2026-04-04T09:30"}
    early = butler.post("/admin/dunning-notice/deliver", typed)
    assert early.status_code == 400 and "早于通知发出时间" in early.text
    assert f'<option value="{butler_staff.id}" selected>' in early.text
    assert '<option value="door" selected>' in early.text and 'name="signed_by" maxlength="64" value="张伟"' in early.text
    assert 'name="delivered_at" value="2026-04-04T09:30"' in early.text
    session.expire_all()
    assert session.get(DunningNotice, ids[0]).delivered_at is None
    done = butler.post("/admin/dunning-notice/deliver", {
        "notice_ids": f"{ids[0]},{ids[1]}", "delivered_by_id": str(butler_staff.id), "way": "door",
        "signed_by": "张伟", "delivered_at": "2026-04-06T09:30",
    })
    assert done.status_code == 303
    session.expire_all()
    first = session.get(DunningNotice, ids[0])
    assert (first.delivered_by_id, first.signed_by, first.delivered_at) == (
        butler_staff.id, "张伟", dt.datetime(2026, 4, 6, 1, 30, tzinfo=dt.UTC))
    assert session.get(DunningNotice, ids[2]).delivered_at is None
    desk = console(staff_of("前台客服"))
    assert desk.post("/admin/dunning-notice/deliver", {"notice_ids": str(ids[2])}).status_code == 403



def test_a_notices_trail_shows_the_run_that_issued_it_and_the_audit_search_finds_the_run(session, console, estate,
                                                                                           staff_of, issue_day):
    """A run's notices are audited by one row for the run: a notice's 变更记录 lists it (who issued which stage of
    which month, for how many accounts and how much) beside the notice's own rows (送达), and the audit list's search
    finds it by its 摘要 and by its 操作人."""
    e = estate
    _, butler = _first_reminders_issued(session, e, console, staff_of, issue_day)
    butler_staff = f.staff(session, project_=e.project, name="吴管家")
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == e.project.id)).one()
    row = session.scalars(select(AuditLog).where(AuditLog.table_name == "dunning_notice")
                          .where(AuditLog.project_id == e.project.id)).one()
    assert (row.record_id, row.actor_id, row.summary) == (
        f"run:{run.id}", run.requested_by_id, "第一次催缴(5日) 2026-04：发出 3 份，欠费合计 2055.00 元")
    ids = session.scalars(select(DunningNotice.id).where(DunningNotice.run_id == run.id).order_by(DunningNotice.id)).all()
    issue_day(dt.date(2026, 4, 6), hour=10)
    assert butler.post("/admin/dunning-notice/deliver", {
        "notice_ids": str(ids[0]), "delivered_by_id": str(butler_staff.id), "way": "door", "delivered_at": "2026-04-06T09:30",
    }).status_code == 303
    delivered = session.scalars(select(AuditLog.id).where(AuditLog.table_name == "dunning_notice",
                                                          AuditLog.record_id == str(ids[0]))).one()
    f.user(session, username="hq", superuser=True)
    hq = console("hq")

    assert ids_listed(hq.get(f"/admin/audit-log/list?table_name=dunning_notice&record_id={ids[0]}"),
                      "audit-log") == [delivered, row.id]
    trail = hq.get(f"/admin/audit-log/list?table_name=dunning_notice&record_id={ids[1]}")
    assert ids_listed(trail, "audit-log") == [row.id] and "第一次催缴(5日) 2026-04：发出 3 份" in trail.text
    detail = hq.get(f"/admin/audit-log/details/{row.id}").text
    for shown in (row.actor_name, "记录数", "欠费金额(元)", "2055.00", "限缴日期", "2026-04-10", "第一次催缴(5日)"):
        assert shown in detail, shown
    for term in ("第一次催缴", "欠费合计", row.actor_name):
        assert row.id in ids_listed(hq.get("/admin/audit-log/list", params={"search": term}), "audit-log"), term


def _first_reminders_issued(session, e, console, staff_of, issue_day):
    """The estate's bills, and their 第一次催缴 issued by its 收费员 on the 5th: (收费员's, 楼宇管家's console)."""
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    butler = console(staff_of("楼宇管家"))
    issue_day(dt.date(2026, 4, 5))
    cashier.post_job("/admin/dunning", preview_params(e, 1, 5))
    return cashier, butler


def test_the_notice_list_shows_each_notices_deadline(session, console, estate, staff_of, issue_day):
    """催缴通知: the list shows 限缴日期 — the day the letter gave the household (stage 1 of the 5th: the 10th) — which
    the collector chases by; it was only a sort key, not shown."""
    e = estate
    cashier, _ = _first_reminders_issued(session, e, console, staff_of, issue_day)
    page = cashier.get("/admin/dunning-notice/list")
    assert page.status_code == 200
    headers = [re.sub(r"<[^>]+>|\s", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", page.text, re.S)]
    assert headers.index("限缴日期") == headers.index("欠费月数") + 1
    assert page.text.count("2026-04-10") == 3  # each of the three notices


def test_a_bad_value_on_a_fee_page_is_named_and_nothing_is_written(session, console, estate, staff_of, issue_day):
    """生成账单, 发起催缴, 送达登记, 收款, 欠费账龄: a value that is not what the field takes is refused before the
    action runs, naming the field and the value."""
    e = estate
    cashier, butler = _first_reminders_issued(session, e, console, staff_of, issue_day)
    notice = session.scalars(select(DunningNotice.id).where(DunningNotice.project_id == e.project.id)).first()

    def state():
        session.expire_all()
        return (count(session, Bill, e), count(session, Payment, e), count(session, DunningNotice, e),
                session.scalar(select(func.count()).select_from(Job)),
                session.scalar(select(func.count()).select_from(OperationLog)),
                session.get(DunningNotice, notice).delivered_at)

    before = state()
    for client, url, sent, message in (
        (cashier, "/admin/bill/generate-bills", {"project_id": str(e.project.id), "period": "2026-05",
                                                 "fee_type_id": "物业费"}, "收费项目无效：物业费"),
        (cashier, "/admin/bill/generate-bills", {"project_id": "一期", "period": "2026-05"}, "项目无效：一期"),
        (cashier, "/admin/dunning", {**preview_params(e, 1, 5), "as_of": "2026-04-31"},
         f"{label_of(DunningRun, 'as_of')}「2026-04-31」无法识别为日期"),
        (cashier, "/admin/dunning", {"stage": "1", "as_of": "2026-04-05", "bill_ids": "1,x"}, "账单无效：x"),
        (butler, "/admin/dunning-notice/deliver", {"notice_ids": str(notice), "delivered_by_id": "吴管家",
                                                   "way": "door", "delivered_at": "2026-04-06T09:30"},
         f"{label_of(DunningNotice, 'delivered_by_id')}无效：吴管家"),
        (butler, "/admin/dunning-notice/deliver", {"notice_ids": str(notice), "way": "door",
                                                   "delivered_at": "昨天上午"},
         f"{label_of(DunningNotice, 'delivered_at')}格式无效：昨天上午"),
        (cashier, "/admin/bill/account/pay", {"unit_id": str(e.a101.id), "amount": "300.00", "method": "cash",
                                              "collector_id": "-3"}, f"{label_of(Payment, 'collector_id')}无效：-3"),
        (cashier, "/admin/bill/account/pay", {"unit_id": str(e.a101.id), "amount": "300.00", "method": "银行卡"},
         f"{label_of(Payment, 'method')}无效：银行卡"),
    ):
        refused = client.post_job(url, sent)
        assert refused.status_code == 400 and message in html.unescape(refused.text), (url, sent)
    aging = cashier.get("/admin/arrears", params={"as_of": "2026-04-05", "min_months": "三"})
    assert aging.status_code == 400 and "欠费月数无效：三" in html.unescape(aging.text)
    assert cashier.post("/admin/arrears", params={"min_months": "2", "export": "xlsx", "building_id": "A栋"}
                        ).status_code == 400
    assert state() == before


# --- account, payments ------------------------------------------------------------------------------------------
def test_account_page_and_account_payment(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    desk = console(staff_of("前台客服"))  # takes payments after hours

    page = desk.get(f"/admin/bill/account?unit_id={e.a101.id}")
    assert page.status_code == 200 and "A栋-101" in page.text and "650.00" in page.text and "收款" in page.text

    over = desk.post("/admin/bill/account/pay", {"unit_id": str(e.a101.id), "amount": "650.01", "method": "cash"})
    assert over.status_code == 400 and "不设预存款" in over.text
    assert 'name="receipt_no"' not in page.text  # the system numbers the 收据
    paid = desk.post("/admin/bill/account/pay", {"unit_id": str(e.a101.id), "amount": "300.00", "method": "cash",
                                                 "collector_id": str(e.c1.id)})
    assert paid.status_code == 303 and "/admin/payment/print?" in paid.headers["location"]
    number = f"SJ{dt.datetime.now(SHANGHAI).year}-000001"  # the project's first 收据 of the year
    receipt = desk.get(paid.headers["location"]).text  # the 收据, right after 收款: one number for both bills paid
    assert f"<title>收据 {number}</title>" in receipt and receipt.count("<tr><td>2026-0") == 2 * 2
    assert "300.00" in receipt and "叁佰元整" in receipt and "客户联" in receipt and "存根联" in receipt
    assert f"已收款 300.00 元，冲抵 2 张账单，收据号 {number}" in desk.get(f"/admin/bill/account?unit_id={e.a101.id}").text
    assert set(session.scalars(select(Payment.receipt_no).where(Payment.project_id == e.project.id))) == {number}
    listed = desk.get("/admin/payment/list", params={"search": number}).text  # the payment list finds it
    assert listed.count(f">{number}<") == 2
    statuses = dict(session.execute(select(Bill.period, Bill.status).where(Bill.unit_id == e.a101.id)).all())
    assert statuses["2026-02"] is BillStatus.PAID and statuses["2026-03"] is BillStatus.PARTIAL

    outsider = f.user(session, username="outsider", roles=["收费员"], projects=[f.project(session)])
    assert console(outsider.username).get(f"/admin/bill/account?unit_id={e.a101.id}").status_code == 403


def test_the_account_payment_form_sent_twice_takes_the_money_once(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    desk = console(staff_of("前台客服"))
    page = desk.get(f"/admin/bill/account?unit_id={e.a101.id}")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text).group(1)
    form = {"unit_id": str(e.a101.id), "amount": "300.00", "method": "cash", "form_token": token}
    first = desk.post("/admin/bill/account/pay", form)
    assert first.status_code == 303
    before = _payments(session, e)
    again = desk.post("/admin/bill/account/pay", form)  # a double click: the same form again
    assert again.status_code == 303
    assert again.headers["location"] == first.headers["location"]  # the same 收据 again
    number = before[0][2]
    assert f"该表单已提交过：已收款 300.00 元（收据号 {number}），未重复收款；尚欠 350.00 元" in desk.get(page.url).text
    assert _payments(session, e) == before and sum(p[1] for p in before) == D("300.00")
    # a second 收款 is a second 收据: the next number
    fresh = re.search(r'name="form_token" value="([0-9a-f]{32})"', desk.get(page.url).text).group(1)
    assert desk.post("/admin/bill/account/pay", {**form, "amount": "50.00", "form_token": fresh}).status_code == 303
    numbers = [p[2] for p in _payments(session, e)]
    assert numbers == [number, number, number[:-1] + "2"]


def test_an_account_payment_form_sent_for_another_unit_is_refused_and_takes_nothing(session, console, estate,
                                                                                    staff_of):
    """A-101's 收款 form token sent with B-201 (a tampered or mixed-up form) was answered as A-101's payment sent
    again: 「已收款…未重复收款」 with A-101's 收据, and B-201's money was never booked. It is refused; nothing taken."""
    e = estate
    with_bills(session, e)
    desk = console(staff_of("前台客服"))
    page = desk.get(f"/admin/bill/account?unit_id={e.a101.id}")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text).group(1)
    assert desk.post("/admin/bill/account/pay", {"unit_id": str(e.a101.id), "amount": "300.00", "method": "cash",
                                                 "form_token": token}).status_code == 303
    before = _payments(session, e)
    other = desk.post("/admin/bill/account/pay", {"unit_id": str(e.b201.id), "amount": "301.25", "method": "cash",
                                                  "form_token": token})
    assert other.status_code == 400 and "表单编号无效：该表单不是本账号为此打开的" in other.text
    assert _payments(session, e) == before


def test_an_amount_of_more_digits_than_decimal_holds_is_refused_on_the_account_page(session, console, estate, staff_of):
    """「1e309」 typed as 收款金额 (or as a 报价/收费 of a work order, read by the same kernel) was an HTTP 500
    (InvalidOperation from quantize); the number written out (310 digits) is refused 「…超出范围」, 「1e309」 itself as
    no number (Python's syntax, ``money.decimal_text``), and nothing is taken."""
    e = estate
    with_bills(session, e)
    desk = console(staff_of("前台客服"))
    page = desk.get(f"/admin/bill/account?unit_id={e.a101.id}")
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text).group(1)
    before = _payments(session, e)
    response = desk.post("/admin/bill/account/pay", {"unit_id": str(e.a101.id), "amount": "1" + "0" * 309,
                                                     "method": "cash", "form_token": token})
    if response.status_code == 303:
        response = desk.get(response.headers["location"])
    assert response.status_code in (200, 400) and "超出范围" in response.text
    assert _payments(session, e) == before


def _payments(session, e) -> list:
    session.expire_all()
    return session.execute(select(Payment.bill_id, Payment.amount, Payment.receipt_no)
                           .where(Payment.project_id == e.project.id).order_by(Payment.id)).all()


def test_a_bill_corrected_in_the_console_keeps_its_money_consistent(session, console, estate, staff_of):
    """应收 not below what was paid nor 0, 账期 a real month no later than next month; the status follows."""
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    bills = {b.period: b for b in session.scalars(select(Bill).where(Bill.unit_id == e.a101.id))}

    def edit(bill, **changes):
        form = {"project": str(e.project.id), "unit": str(bill.unit_id), "fee_type": str(bill.fee_type_id),
                "period": bill.period, "amount_due": str(bill.amount_due), "due_date": bill.due_date.isoformat(),
                **changes}
        return cashier.post(f"/admin/bill/edit/{bill.id}", form)

    def stored(bill):
        session.expire_all()
        row = session.get(Bill, bill.id)
        return row.period, row.amount_due, row.amount_paid, row.status

    march, feb = bills["2026-03"], bills["2026-02"]  # 100 of 250 paid; nothing paid
    before = stored(march), stored(feb)
    for bill, changes, reason in (
        (march, {"amount_due": "99.99"}, f"应收(元) 99.99 元低于账单#{march.id}已收的 100.00 元"),
        (feb, {"amount_due": "0"}, "应收(元) 0.00 须大于 0"),
        (feb, {"period": "2026-13"}, "账期格式应为 YYYY-MM（如 2026-05），收到：2026-13"),
        (feb, {"period": "2030-01"}, "账期 2030-01 晚于下月"),
        # beyond what the column holds: SQLite stored it, PostgreSQL refused it naming no field
        (feb, {"amount_due": "99999999999"}, "应收(元)超出范围（最多 9,999,999,999.99 元）"),
    ):
        refused = edit(bill, **changes)
        assert refused.status_code == 400 and reason in refused.text, (changes, refused.text[-2000:])
    assert (stored(march), stored(feb)) == before
    # corrected down to what was paid: 已缴清; a paid bill raised: 部分缴纳 again
    assert edit(march, amount_due="100.00").status_code == 302
    assert stored(march)[1:] == (D("100.00"), D("100.00"), BillStatus.PAID)
    assert edit(march, amount_due="120.00").status_code == 302
    assert stored(march)[1:] == (D("120.00"), D("100.00"), BillStatus.PARTIAL)


def test_a_bill_stays_with_its_project_and_once_paid_with_its_account_and_month(session, console, estate):
    """A cashier of two projects: a bill of one project for the other's unit (or fee type, payer, collector) is
    refused — it would count in the wrong 收费率 and account; a bill with money taken is not moved to another unit,
    fee type or month (its 收款 would go with it); an unpaid one is corrected. Nothing half-written."""
    e = estate
    other = make_estate(session, name="别的收费苑")
    with_bills(session, e)
    f.user(session, username="cash2", roles=["收费员"], projects=[e.project, other.project])
    cashier = console("cash2")
    new = {"project": str(e.project.id), "unit": str(e.a101.id), "fee_type": str(e.mgmt.id), "period": "2026-05",
           "amount_due": "100", "due_date": "2026-05-10"}
    before = (count(session, Bill, e), count(session, Bill, other), count(session, AuditLog, e))
    for changes, label in (
        ({"unit": str(other.a101.id)}, "房屋"),
        ({"fee_type": str(other.mgmt.id)}, "收费项目"),
        ({"customer": str(other.owner.id)}, "缴费人"),
        ({"collector": str(other.c1.id)}, "责任收费员"),
    ):
        refused = cashier.post("/admin/bill/create", {**new, **changes})
        reason = f"属于项目「别的收费苑」，不属于本记录的项目「{e.project.name}」：请选择本项目的{label}"
        assert refused.status_code == 400 and reason in refused.text, (changes, refused.text[-1500:])
    assert (count(session, Bill, e), count(session, Bill, other), count(session, AuditLog, e)) == before

    bills = {b.period: b for b in session.scalars(select(Bill).where(Bill.unit_id == e.a101.id))}
    march, feb = bills["2026-03"], bills["2026-02"]  # 100 of 250 paid; nothing paid

    def edit(bill, **changes):
        return cashier.post(f"/admin/bill/edit/{bill.id}", {
            "project": str(e.project.id), "unit": str(bill.unit_id), "fee_type": str(bill.fee_type_id),
            "period": bill.period, "amount_due": str(bill.amount_due), "due_date": bill.due_date.isoformat(), **changes})

    def stored(bill):
        session.expire_all()
        row = session.get(Bill, bill.id)
        return row.unit_id, row.fee_type_id, row.period, row.amount_paid, row.version

    kept = stored(march)
    parking = f.fee_type(session, project_=e.project, name="停车费", rate=D("300"))
    for changes, label in (({"unit": str(e.a102.id)}, "房屋"), ({"period": "2026-05"}, "账期"),
                           ({"fee_type": str(parking.id)}, "收费项目")):
        refused = edit(march, **changes)
        assert refused.status_code == 400, changes
        assert f"账单#{march.id}已收款 100.00 元，不能修改{label}" in refused.text
        assert stored(march) == kept
    assert edit(feb, period="2026-05").status_code == 302
    assert stored(feb)[2] == "2026-05"


def test_account_payment_defaults_to_the_cashiers_own_staff_record(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    f.staff(session, project_=e.project, name="孙维修", position=StaffPosition.ENGINEER)
    f.staff(session, project_=e.project, name="钱保安", position=StaffPosition.GUARD)
    username = staff_of("收费员")
    session.scalars(select(User).where(User.username == username)).one().staff_id = e.c2.id
    session.flush()
    cashier = console(username)

    page = cashier.get(f"/admin/bill/account?unit_id={e.b201.id}")
    assert page.status_code == 200
    assert f'<option value="{e.c2.id}" selected>周收费</option>' in page.text
    assert "陈收费" in page.text and "孙维修" not in page.text and "钱保安" not in page.text

    paid = cashier.post("/admin/bill/account/pay", {"unit_id": str(e.b201.id), "amount": "301.25", "method": "cash",
                                                    "collector_id": ""})
    assert paid.status_code == 303
    session.expire_all()
    (payment,) = session.scalars(select(Payment).where(Payment.project_id == e.project.id)).all()
    assert (payment.amount, payment.collector_id) == (D("301.25"), e.c2.id)

    # The 收款记录 form's 收款人 lookup offers the same people: cashiers and the front desk, not engineers or guards.
    found = cashier.get("/admin/payment/ajax/lookup?name=collector&term=收费").json()["results"]
    assert {int(x["id"]) for x in found} >= {e.c1.id, e.c2.id}
    for term in ("孙维修", "钱保安"):
        assert cashier.get(f"/admin/payment/ajax/lookup?name=collector&term={term}").json()["results"] == []


def test_payment_form_goes_through_the_payment_action(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    apr = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-04")).one()
    cashier = console(staff_of("收费员"))

    over = cashier.post("/admin/payment/create", {"bill": str(apr.id), "amount": "300.00", "method": "wechat",
                                                  "paid_at": "2026-04-06 10:00:00"})
    assert over.status_code == 400 and "超过账单" in over.text and count(session, Payment, e) == 0
    ok = cashier.post("/admin/payment/create", {"bill": str(apr.id), "amount": "100.00", "method": "wechat",
                                                "paid_at": "2026-04-06 10:00:00"})
    assert ok.status_code == 302, ok.text[:2000]
    session.expire_all()
    assert (session.get(Bill, apr.id).amount_paid, session.get(Bill, apr.id).status) == (D("100.00"), BillStatus.PARTIAL)
    payment = session.scalars(select(Payment).where(Payment.project_id == e.project.id)).one()
    assert payment.paid_at == dt.datetime(2026, 4, 6, 2, 0, tzinfo=dt.UTC)  # typed in Beijing time


def test_the_payment_form_sent_twice_books_one_payment(session, console, estate, staff_of):
    """收款记录 → 新增 carries a one-time token: the same form POSTed again (a double click, a resend) answers
    with the payment it made and takes nothing twice (issue 14 item 4)."""
    e = estate
    with_bills(session, e)
    apr = session.scalars(select(Bill).where(Bill.unit_id == e.a101.id, Bill.period == "2026-04")).one()
    cashier = console(staff_of("收费员"))
    page = cashier.get("/admin/payment/create")
    token = re.search(r'name="form_token"[^>]*value="([0-9a-f]{32})"', page.text)
    assert token, "the create form carries no one-time token"
    form = {"bill": str(apr.id), "amount": "100.00", "method": "wechat", "paid_at": "2026-04-06 10:00:00",
            "form_token": token.group(1)}
    first, second = cashier.post("/admin/payment/create", form), cashier.post("/admin/payment/create", form)
    assert (first.status_code, second.status_code) == (302, 302)
    assert first.headers["location"] == second.headers["location"]  # the same payment shown again
    session.expire_all()
    assert count(session, Payment, e) == 1
    assert (session.get(Bill, apr.id).amount_paid, session.get(Bill, apr.id).status) == (D("100.00"), BillStatus.PARTIAL)
    # a new form is a new payment
    again = cashier.get("/admin/payment/create")
    assert token.group(1) not in again.text


# --- arrears and collection rate ----------------------------------------------------------------------------------
def test_arrears_page_totals_filters_and_export(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    butler = console(staff_of("楼宇管家"))

    page = cashier.get("/admin/arrears?as_of=2026-04-05")
    assert page.status_code == 200
    assert "2055.00" in page.text and "筛选结果共 3 户" in page.text and "陈收费" in page.text
    shops = cashier.get("/admin/arrears?as_of=2026-04-05&key_tenant=yes")
    assert "1205.00" in shops.text and "筛选结果共 1 户" in shops.text and "A栋-101" not in shops.text

    export = cashier.job_file(cashier.post_job("/admin/arrears?as_of=2026-04-05&min_months=2&export=xlsx"))
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(min_row=2, values_only=True))
    assert [r[2] for r in rows[1:]] == ["201", "101"]
    assert butler.get("/admin/arrears?as_of=2026-04-05").status_code == 200
    assert butler.post("/admin/arrears?as_of=2026-04-05&export=xlsx").status_code == 403
    assert cashier.get("/admin/arrears?as_of=2026-04-31").status_code == 400


def test_arrears_of_another_project_are_refused_not_shown_as_none(session, console, estate, staff_of):
    """欠费账龄 of a project the user does not work for: 「无权操作项目」 as 收费率 answers, not 「没有欠费」 for a
    project that owes — on the page and in the export, which writes nothing."""
    e = estate
    with_bills(session, e)
    other = f.project(session)
    cashier = console(staff_of("收费员"))
    before = _written(session)
    page = cashier.get(f"/admin/arrears?as_of=2026-04-05&project_id={other.id}")
    assert page.status_code == 403 and f"无权操作项目：{other.id}" in page.text and "没有欠费" not in page.text
    assert cashier.post(f"/admin/arrears?as_of=2026-04-05&project_id={other.id}&export=xlsx").status_code == 403
    assert _written(session) == before
    own = cashier.get(f"/admin/arrears?as_of=2026-04-05&project_id={e.project.id}")
    assert own.status_code == 200 and "2055.00" in own.text


def _written(session) -> tuple[int, int, int]:
    """Jobs, audit rows and operation-log rows: what an export writes."""
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Job, AuditLog, OperationLog))


def test_the_arrears_export_is_a_post_with_the_token(session, console, estate, staff_of):
    """导出 queues a 后台任务 and audits: the page's button posts the page's query with the CSRF token. A GET of
    the export's address (an old bookmark) queues nothing and offers the button; a POST without the token is
    refused; each time nothing is written."""
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    page = cashier.get("/admin/arrears?as_of=2026-04-05&min_months=2")
    address = "http://testserver/admin/arrears?as_of=2026-04-05&amp;min_months=2&amp;export=xlsx"
    assert f'<form id="export-form" method="post" action="{address}"' in page.text
    assert '<button type="submit" form="export-form"' in page.text and not re.search(r'href="[^"]*export=xlsx', page.text)
    before = _written(session)

    bookmark = cashier.get("/admin/arrears?as_of=2026-04-05&min_months=2&export=xlsx")
    assert bookmark.status_code == 200 and "打开这个地址本身不会导出" in bookmark.text
    assert f'<form method="post" action="{address}"' in bookmark.text
    assert 'href="http://testserver/admin/arrears?as_of=2026-04-05&amp;min_months=2"' in bookmark.text  # 返回
    for data in ({}, {"csrf_token": "forged"}):
        forged = cashier.client.post("/admin/arrears?as_of=2026-04-05&min_months=2&export=xlsx", data=data)
        assert forged.status_code == 403 and "CSRF" in forged.text
    assert _written(session) == before

    started = cashier.post("/admin/arrears?as_of=2026-04-05&min_months=2&export=xlsx")
    assert started.status_code == 303 and "/admin/jobs/" in started.headers["location"]
    jobs, audits, operations = _written(session)
    assert (jobs, audits, operations) == (before[0] + 1, before[1] + 1, before[2] + 1)  # the job's own audit rows
    job = session.scalars(select(Job).order_by(Job.id.desc())).first()
    assert (job.kind, job.state, job.params["query"]) == ("report", JobState.DONE, "as_of=2026-04-05&min_months=2&export=xlsx")


def test_collection_rate_page_and_export(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    manager = console(staff_of("客服经理"))

    page = manager.get("/admin/collection-rate?period_from=2026-03&group_by=building")
    assert page.status_code == 200
    assert "翠湖收费测试苑 · A栋" in page.text and "66.7%" in page.text and "目标：每月 93% 以上" in page.text
    export = manager.job_file(manager.post_job("/admin/collection-rate?period_from=2026-03&group_by=building&export=xlsx"))
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(min_row=2, values_only=True))
    assert rows[0][1] == "楼栋" and rows[-1][1] == "合计"
    assert rows[0][9] == "达标" and {r[9] for r in rows[1:]} == {"未达标"}
    assert "<td>未达标</td>" in page.text and "<td>否</td>" not in page.text
    assert manager.get("/admin/collection-rate?period_from=2026-03&group_by=floor").status_code == 400
    # a range: each month's 合计 and the range's total, on the page and in its export
    ranged = manager.get("/admin/collection-rate?period_from=2026-01&period_to=2026-03")
    assert ranged.status_code == 200 and "区间合计" in ranged.text and "2253.75" in ranged.text and "42.2%" in ranged.text
    export = manager.job_file(manager.post_job("/admin/collection-rate?period_from=2026-01&period_to=2026-03&export=xlsx"))
    last = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(min_row=2, values_only=True))[-1]
    assert last[:5] == ("2026-01~2026-03", "区间合计", 2253.75, 950, 0.422)


def test_a_month_or_day_beyond_the_calendar_is_refused_in_chinese(session, console, estate, staff_of):
    """收费率 from 9999-12 or 0000-01, a 催缴基准日 of 9999-12-31: refused naming the value (the calendar has no month
    after 9999-12 nor a year 0), not a 500; nothing is written."""
    e = estate
    with_bills(session, e)
    manager = console(staff_of("客服经理"))
    cashier = console(staff_of("收费员"))
    before = (count(session, DunningNotice, e), session.scalar(select(func.count()).select_from(OperationLog)))
    for period_from, period_to in (("9999-12", "9999-12"), ("0000-01", "2026-03"), ("2026-03", "9999-12")):
        page = manager.get("/admin/collection-rate", params={"period_from": period_from, "period_to": period_to})
        wrong = period_from if period_from != "2026-03" else period_to
        assert page.status_code == 400 and f"账期 {wrong} 超出范围：年份应在 1900–2100 之间" in page.text
    # the calendar's last day is past the years any record lives in (the page's day box says so); a day within
    # them but ahead of today is the dunning's own refusal
    beyond = cashier.post_job("/admin/dunning", {**preview_params(e, 1, 5), "as_of": "9999-12-31"})
    assert beyond.status_code == 400 and "催缴基准日 「9999-12-31」 超出范围：年份应在 1900–2100 之间" in beyond.text
    future = cashier.post_job("/admin/dunning", {**preview_params(e, 1, 5), "as_of": "2099-12-31"})
    assert future.status_code == 400 and "催缴基准日 2099-12-31 晚于今天" in future.text
    preview = cashier.get("/admin/dunning", params={**preview_params(e, 1, 5), "as_of": "2099-12-31", "preview": "1"})
    assert preview.status_code == 400 and "晚于今天" in preview.text
    assert (count(session, DunningNotice, e), session.scalar(select(func.count()).select_from(OperationLog))) == before


def test_menu_shows_the_fee_pages_by_grant(session, console, estate, staff_of):
    cashier = console(staff_of("收费员")).get("/admin/").text
    desk = console(staff_of("前台客服")).get("/admin/").text
    for page in ("发起催缴", "欠费账龄", "收费率"):
        assert page in cashier
    assert "欠费账龄" in desk and "发起催缴" not in desk


def test_fee_type_form_and_list_show_the_billing_cycle(session, console, estate):
    e = estate
    one_off(session, e, "装修管理费")
    admin = console(f.user(session, username="feeadmin", superuser=True).username)

    listed = admin.get(f"/admin/fee-type/list?project_id={e.project.id}")
    assert listed.status_code == 200 and "计费周期" in listed.text and "按次" in listed.text and "按月" in listed.text
    form = admin.get("/admin/fee-type/create")
    assert form.status_code == 200 and '<option value="once">按次</option>' in form.text

    created = admin.post("/admin/fee-type/create", {"project": str(e.project.id), "name": "装修押金", "basis": "fixed",
                                                    "billing_cycle": "once", "rate": "2000", "due_day": "1", "active": "y"})
    assert created.status_code == 302, created.text[:2000]
    session.expire_all()
    deposit = session.scalars(select(FeeType).where(FeeType.project_id == e.project.id, FeeType.name == "装修押金")).one()
    assert deposit.billing_cycle is FeeCycle.ONCE



def test_a_fee_types_rate_day_and_project_are_checked_on_its_form(session, console, estate):
    """单价 from 0 with at most four decimals (a fifth was rounded by PostgreSQL and kept by SQLite), 缴费截止日 1–31,
    and a fee type that has bills stays its project's: each refused in Chinese, nothing written."""
    e = estate
    with_bills(session, e)
    elsewhere = f.project(session, name="别处苑")
    admin = console(f.user(session, username="feerules", superuser=True).username)
    new = {"project": str(e.project.id), "name": "装修押金", "basis": "fixed", "billing_cycle": "once", "rate": "2000",
           "due_day": "1", "active": "y"}
    before = (count(session, FeeType, e), count(session, AuditLog, e))
    for changes, reason in (
        ({"rate": "0.81255"}, "单价(元)须在 0–99999999.9999 之间，最多四位小数：0.81255"),
        ({"rate": "-1"}, "单价(元)须在 0–99999999.9999 之间"),
        ({"due_day": "0"}, "缴费截止日须为每月 1–31 日（小月按月末）：0"),
        ({"due_day": "45"}, "缴费截止日须为每月 1–31 日（小月按月末）：45"),
    ):
        refused = admin.post("/admin/fee-type/create", {**new, **changes})
        assert refused.status_code == 400 and reason in html.unescape(refused.text), (changes, refused.text[-1500:])
    assert (count(session, FeeType, e), count(session, AuditLog, e)) == before
    url = f"/admin/fee-type/edit/{e.mgmt.id}"
    moved = admin.post(url, {**_opened(admin, url), "project": str(elsewhere.id)})
    assert moved.status_code == 400 and "收费项目「物业管理费」已有账单，不能改到其他项目" in html.unescape(moved.text)
    session.expire_all()
    assert session.get(FeeType, e.mgmt.id).project_id == e.project.id

def test_a_fee_types_rate_reads_as_money_on_its_list_and_details(session, console, estate):
    """单价 is kept at four places (元/㎡·月 rates such as 0.8125 exist): it reads 2.50, not 2.5000 — and a rate
    that needs its four places keeps them."""
    e = estate
    fine = f.fee_type(session, project_=e.project, name="公共能耗分摊", rate=D("0.8125"))
    session.flush()
    admin = console(f.user(session, username="rateadmin", superuser=True).username)

    listed = admin.get(f"/admin/fee-type/list?project_id={e.project.id}")
    assert listed.status_code == 200
    cells = re.findall(r"<td[^>]*>\s*([\d.]+)\s*</td>", listed.text)
    assert "2.50" in cells and "0.8125" in cells, cells
    assert "2.5000" not in listed.text
    details = admin.get(f"/admin/fee-type/details/{e.mgmt.id}")
    assert details.status_code == 200 and "2.50" in details.text and "2.5000" not in details.text
    assert "0.8125" in admin.get(f"/admin/fee-type/details/{fine.id}").text


def test_a_fee_types_rate_reads_as_money_on_its_edit_form_and_saves_unchanged(session, console, estate):
    """The edit form shows 单价 as the list does (2.50, not 2.5000; 0.8125 keeps its places) and sending it back
    unchanged stores the same rate."""
    e = estate
    fine = f.fee_type(session, project_=e.project, name="公共能耗分摊", rate=D("0.8125"))
    session.flush()
    admin = console(f.user(session, username="rateeditor", superuser=True).username)

    for fee_type, shown in ((e.mgmt, "2.50"), (fine, "0.8125")):
        url = f"/admin/fee-type/edit/{fee_type.id}"
        form = _opened(admin, url)
        assert form["rate"] == shown
        saved = admin.post(url, form)
        assert saved.status_code == 302, html.unescape(saved.text)[-1500:]
    session.expire_all()
    assert (session.get(FeeType, e.mgmt.id).rate, session.get(FeeType, fine.id).rate) == (D("2.5000"), D("0.8125"))

# --- runs as 后台任务 (issue 15) --------------------------------------------------------------------------------
def _jobs(session, username: str) -> list[Job]:
    return list(session.scalars(select(Job).join(User, User.id == Job.user_id).where(User.username == username)
                                .order_by(Job.id)))


def _held_by_a_running_job(session, username: str, kind: str, lock) -> Job:
    """A job of ``username``'s holding ``lock`` that a live worker runs (this process: never taken for dead)."""
    user = session.scalar(select(User).where(User.username == username))
    actor = Actor(user_id=user.id, name=user.display_name or user.username, project_ids=None)
    job_id = enqueue_job(session, kind=kind, title="进行中的任务", params={}, actor=actor,
                         settings=JobSettings.from_env(), locks=[lock])
    claim_job(session, worker=worker_name("test"), settings=JobSettings.from_env())
    session.flush()
    return session.get(Job, job_id)


def test_a_dunning_run_is_a_job_with_its_result_in_my_jobs_and_audited_as_its_user(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    name = staff_of("收费员")
    cashier = console(name)

    page = cashier.post_job("/admin/dunning", preview_params(e, 1, 5))

    (job,) = _jobs(session, name)
    assert (job.kind, job.state, job.title) == ("dunning", JobState.DONE, "发起催缴：第一次催缴(5日)")
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == e.project.id)).one()
    assert "已发出第一次催缴(5日) 3 份" in page.text and f"查看批次#{run.id}" in page.text
    assert f"/admin/dunning-run/action/letters?pks={run.id}" in page.text
    listed = cashier.get("/admin/jobs")
    assert "发起催缴：第一次催缴(5日)" in listed.text and "已发出第一次催缴(5日) 3 份" in listed.text
    log = session.scalars(select(OperationLog).where(OperationLog.operation == "issue_dunning",
                                                     OperationLog.project_id == e.project.id)).one()
    assert log.actor_name == name and log.status is OperationStatus.DONE
    assert session.scalar(select(func.count()).select_from(JobLock)) == 0  # given back with the outcome

    # the letters of the run as one file: a job of its own, downloaded from its page
    letters = cashier.post_job(f"/admin/dunning-run/action/letters?pks={run.id}&download=1")
    assert "通知函 3 份" in letters.text
    assert cashier.job_file(letters).text.count('<section class="sheet">') == 3


def test_a_dunning_run_under_way_shows_the_shared_progress_bar(session, console, estate, staff_of):
    """发起催缴 that outlasts its wait sends the user to its job's page: queued or running, that page carries the
    progress box every job shows (polled by wuye-progress.js), not a bare spinner."""
    e = estate
    name = staff_of("收费员")
    cashier = console(name)
    user = session.scalar(select(User).where(User.username == name))
    actor = Actor(user_id=user.id, name=user.username, project_ids=None)
    lock = run_lock(session, stage=1, scope=DunningScope(project_id=e.project.id), actor=e.actor,
                    as_of=dt.date(2026, 4, 5))
    job_id = enqueue_job(session, kind="dunning", title="发起催缴：第一次催缴(5日)", params={}, actor=actor,
                         settings=JobSettings.from_env(), locks=[lock])
    session.flush()
    for state in (JobState.QUEUED, JobState.RUNNING):
        if state is JobState.RUNNING:
            claim_job(session, worker=worker_name("test"), settings=JobSettings.from_env())
            session.flush()
        assert session.get(Job, job_id).state is state
        page = cashier.get(f"/admin/jobs/{job_id}")
        assert page.status_code == 200 and "发起催缴：第一次催缴(5日)" in page.text
        assert f'data-job-status="http://testserver/admin/jobs/{job_id}/status"' in page.text, state
        assert 'class="progress-bar"' in page.text and "/static/wuye/js/wuye-progress.js" in page.text
        assert cashier.get(f"/admin/jobs/{job_id}/status").json()["state"] == state.value


def test_a_second_run_of_a_project_month_and_stage_is_refused_while_one_is_under_way(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    first, second = staff_of("收费员"), staff_of("收费员")
    lock = run_lock(session, stage=2, scope=DunningScope(project_id=e.project.id), actor=e.actor,
                    as_of=dt.date(2026, 4, 10))
    running = _held_by_a_running_job(session, first, "dunning", lock)
    cashier = console(second)

    building = {**preview_params(e, 2, 10), "scope": "building", "building_id": str(e.b201.building_id)}
    for params in (preview_params(e, 2, 10), building):  # the whole project or one of its buildings
        refused = cashier.post_job("/admin/dunning", params)
        assert refused.status_code == 409, re.findall(r"alert[^>]*>([^<]*)", refused.text)
        assert f"「{e.project.name}」2026-04 第二次催缴(10日)正在进行中（{first}发起，进行中）" in refused.text
    assert _jobs(session, second) == [] and count(session, DunningNotice, e) == 0
    other_stage = cashier.post_job("/admin/dunning", preview_params(e, 1, 5))  # another stage is free
    assert "已发出第一次催缴(5日) 3 份" in other_stage.text

    session.execute(update(Job).where(Job.id == running.id).values(state=JobState.FAILED))  # it ended
    assert "已发出第二次催缴(10日)" in cashier.post_job("/admin/dunning", preview_params(e, 2, 10)).text


def test_runs_for_a_project_not_the_users_are_refused_before_anything_is_queued(session, console, estate, staff_of):
    e = estate
    with_bills(session, e)
    other = f.project(session)
    name = staff_of("收费员")
    cashier = console(name)

    dunning = cashier.post_job("/admin/dunning", {**preview_params(e, 1, 5), "project_id": str(other.id)})
    bills = cashier.post_job("/admin/bill/generate-bills", {"project_id": str(other.id), "period": "2026-03"})
    letters = cashier.post("/admin/dunning-run/action/letters?pks=999999&download=1")

    assert dunning.status_code == 403 and "无权操作项目" in dunning.text
    assert bills.status_code == 403 and "无权操作项目" in bills.text
    assert letters.status_code in (403, 404)
    assert _jobs(session, name) == [] and count(session, DunningRun, e) == 0


def test_bill_generation_is_a_job_one_per_project_and_period(session, console, estate, staff_of):
    e = estate
    first, second = staff_of("收费员"), staff_of("收费员")
    lock = generation_lock(session, project_id=e.project.id, period="2026-03", actor=e.actor)
    running = _held_by_a_running_job(session, first, "bills", lock)
    cashier = console(second)
    data = {"project_id": str(e.project.id), "period": "2026-03"}

    refused = cashier.post_job("/admin/bill/generate-bills", data)
    assert refused.status_code == 409 and f"「{e.project.name}」2026-03 账单正在生成中" in refused.text
    assert _jobs(session, second) == [] and count(session, Bill, e) == 0

    session.execute(update(Job).where(Job.id == running.id).values(state=JobState.DONE))
    done = cashier.post_job("/admin/bill/generate-bills", data)
    assert "2026-03 账单已生成 3 张" in done.text and "<td>物业管理费</td><td>3</td>" in done.text
    assert count(session, Bill, e) == 3 and _jobs(session, second)[0].state is JobState.DONE
    assert "生成账单 2026-03" in cashier.get("/admin/jobs").text


def test_a_dunning_job_whose_worker_dies_mid_run_leaves_nothing_and_its_retry_issues_each_notice_once(
        session, session_maker, estate, staff_of, monkeypatch):
    e = estate
    with_bills(session, e)
    user = session.scalar(select(User).where(User.username == staff_of("收费员")))
    actor = Actor(user_id=user.id, name=user.username, project_ids=None)
    scope = DunningScope(project_id=e.project.id)
    lock = run_lock(session, stage=1, scope=scope, actor=actor, as_of=dt.date(2026, 4, 5))
    job_id = enqueue_job(session, kind="dunning", title="发起催缴", actor=actor, settings=JobSettings.from_env(),
                         locks=[lock], params={"stage": "1", "as_of": "2026-04-05", "scope": asdict(scope),
                                               "operation": "issue_dunning", "writes": True})
    session.commit()
    runner = JobRunner(session_maker, {"dunning": dunning_job}, heartbeat=False)

    def killed(*args, **kwargs):  # the process dies once the notices are written, before the run commits
        raise SystemExit("kill -9")

    monkeypatch.setattr(dunning_actions, "log_operation", killed)
    with pytest.raises(SystemExit):
        runner.run_pending()
    session.expire_all()
    job = session.get(Job, job_id)
    assert (job.state, job.attempts, count(session, DunningNotice, e), count(session, DunningRun, e)) == (
        JobState.RUNNING, 1, 0, 0)  # nothing half-written
    assert session.scalar(select(JobLock.job_id).where(JobLock.key == lock.key)) == job_id  # a second run waits

    monkeypatch.undo()
    session.execute(update(Job).where(Job.id == job_id).values(  # its worker is gone: pid and lease
        worker=f"{HOST}:999999999", lease_until=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    runner.run_pending()
    session.expire_all()
    job = session.get(Job, job_id)
    assert (job.state, job.attempts) == (JobState.DONE, 2) and "已发出第一次催缴(5日) 3 份" in job.result["message"]
    assert count(session, DunningNotice, e) == 3 and count(session, DunningRun, e) == 1
    assert session.scalar(select(func.count()).select_from(JobLock)) == 0


def test_the_notice_edit_form_records_a_delivery_by_the_delivery_rules(session, console, estate, staff_of, issue_day):
    """送达 typed in the notice's own edit form is held to 登记送达's rules (dunning.record_delivery): not later
    than now, not before the notice was issued (a staff member of another project is refused by the form's scope)."""
    e = estate
    cashier, butler = _first_reminders_issued(session, e, console, staff_of, issue_day)
    issue_day(dt.date(2026, 4, 6), hour=10)
    notice = session.scalars(select(DunningNotice).where(DunningNotice.project_id == e.project.id)).first()
    ours, theirs = f.staff(session, project_=e.project), f.staff(session, project_=f.project(session))
    form = {"delivered_by": str(ours.id), "delivery_way": "door", "signed_by": "张伟", "note": "",
            "version": str(notice.version)}
    for when, who, message in (("2099-01-01 09:00:00", ours, "不能晚于现在"), ("2026-04-01 09:00:00", ours, "早于通知发出时间"),
                               ("2026-04-06 09:00:00", theirs, "送达人：无权引用该记录")):
        sent = butler.post(f"/admin/dunning-notice/edit/{notice.id}",
                           {**form, "delivered_at": when, "delivered_by": str(who.id)})
        assert sent.status_code in (400, 403) and message in sent.text, (when, sent.status_code)
        session.expire_all()
        assert session.get(DunningNotice, notice.id).delivered_at is None
    saved = butler.post(f"/admin/dunning-notice/edit/{notice.id}", {**form, "delivered_at": "2026-04-06 09:30:00"})
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(DunningNotice, notice.id).delivered_at == dt.datetime(2026, 4, 6, 1, 30, tzinfo=dt.UTC)


def test_the_notice_edit_form_records_no_delivery_without_its_time(session, console, estate, staff_of, issue_day):
    """送达人, 送达方式 or 签收人 typed without 送达时间 would show a notice as handed over that was never delivered
    (the letters and the 停电 approval read 送达时间): refused naming the field, the notice unchanged; with neither
    送达时间 nor 送达人 the notice is refused too."""
    e = estate
    cashier, butler = _first_reminders_issued(session, e, console, staff_of, issue_day)
    issue_day(dt.date(2026, 4, 6), hour=10)
    notice = session.scalars(select(DunningNotice).where(DunningNotice.project_id == e.project.id)).first()
    ours = f.staff(session, project_=e.project)
    blank = {"delivered_at": "", "delivered_by": "", "delivery_way": "__None", "signed_by": "", "note": "",
             "version": str(notice.version)}
    for typed, message in (({"delivered_by": str(ours.id), "delivery_way": "hand", "signed_by": "张伟"},
                            f"请填写{label_of(DunningNotice, 'delivered_at')}"),
                           ({"signed_by": "张伟"}, f"请填写{label_of(DunningNotice, 'delivered_at')}"),
                           ({"delivered_at": "2026-04-06 09:30:00", "delivery_way": "hand"},
                            f"请选择{label_of(DunningNotice, 'delivered_by_id')}")):
        sent = butler.post(f"/admin/dunning-notice/edit/{notice.id}", {**blank, **typed})
        assert sent.status_code == 400 and message in html.unescape(sent.text), (typed, sent.status_code)
        session.expire_all()
        stored = session.get(DunningNotice, notice.id)
        assert (stored.delivered_at, stored.delivered_by_id, stored.delivery_way, stored.signed_by, stored.version) == (
            None, None, None, "", notice.version)
    noted = butler.post(f"/admin/dunning-notice/edit/{notice.id}", {**blank, "note": "业主外出，改日再送"})
    assert noted.status_code == 302  # a note alone is no delivery


def test_a_payment_recorded_wrongly_is_reversed_never_deleted(session, console, estate, staff_of):
    """冲正: a cashier had no way to undo a payment keyed wrongly (payments can be neither edited nor deleted), so the
    bill showed paid. 冲正 (POST, CSRF, its own grant) with a reason required keeps the payment and its receipt
    number, marks it with who, when and why; the bill's 实收 and status are recomputed (and 收费率's kept totals with
    them); the account lists it struck through; a double submit writes nothing more. A blank reason and an account
    without the grant are refused, nothing changed."""
    from models import AuditKind, AuditLog, BillTotal

    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    paid = cashier.post("/admin/bill/account/pay", {"unit_id": str(e.b201.id), "amount": "301.25", "method": "cash",
                                                    "collector_id": str(e.c1.id)})
    assert paid.status_code == 303
    payment = session.scalars(select(Payment).where(Payment.project_id == e.project.id)).one()
    bill = session.get(Bill, payment.bill_id)
    session.refresh(bill)
    assert bill.status is BillStatus.PAID

    def paid_total() -> Decimal:
        return session.scalar(select(func.sum(BillTotal.amount_paid)).where(BillTotal.project_id == e.project.id,
                                                                            BillTotal.period == bill.period))

    total_before = paid_total()
    desk = console(staff_of("前台客服"))  # takes payments after hours; no 冲正
    assert desk.post("/admin/payment/reverse", {"payment_id": str(payment.id), "reason": "误录"}).status_code == 403
    details = cashier.get(f"/admin/payment/details/{payment.id}")
    assert "/action/reverse-payment?" in details.text
    page = cashier.get(f"/admin/payment/action/reverse-payment?pks={payment.id}")
    assert page.status_code == 200 and 'name="reason"' in page.text and 'name="csrf_token"' in page.text
    blank = cashier.post("/admin/payment/reverse", {"payment_id": str(payment.id), "reason": " "})
    assert blank.status_code == 400 and "请填写冲正原因" in blank.text
    session.expire_all()
    assert session.get(Payment, payment.id).reversed_at is None and session.get(Bill, bill.id).status is BillStatus.PAID

    for _ in range(2):  # the second: a double click — nothing more written
        done = cashier.post("/admin/payment/reverse", {"payment_id": str(payment.id), "reason": "收错房屋，应为 A栋-101"})
        assert done.status_code == 303
    session.expire_all()
    kept = session.get(Payment, payment.id)
    assert (kept.amount, kept.receipt_no, kept.reversal_reason) == (D("301.25"), payment.receipt_no,
                                                                    "收错房屋，应为 A栋-101")
    assert kept.reversed_at is not None and kept.reversed_by_id is not None
    after = session.get(Bill, bill.id)
    assert (after.amount_paid, after.status) == (D("0.00"), BillStatus.UNPAID)
    assert paid_total() == total_before - D("301.25")
    assert session.scalar(select(func.count()).select_from(OperationLog)
                          .where(OperationLog.operation == "reverse_payment")) == 1
    assert session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.table_name == "payment", AuditLog.record_id == str(payment.id), AuditLog.kind == AuditKind.UPDATE)) == 1
    assert "已冲正" in cashier.get(f"/admin/payment/action/reverse-payment?pks={payment.id}").text
    assert "/action/reverse-payment?" not in cashier.get(f"/admin/payment/details/{payment.id}").text
    account = cashier.get(f"/admin/bill/account?unit_id={e.b201.id}").text
    assert "已冲正" in account and f"<s>{D('301.25')}</s>" in account
    receipt = cashier.get(f"/admin/payment/print?id={payment.id}").text  # reprinted: the line marked, no total
    assert "301.25（已冲正）" in receipt and "零元整" in receipt
    # the bill takes the right payment again
    assert cashier.post("/admin/bill/account/pay", {"unit_id": str(e.b201.id), "amount": "1204.99",
                                                    "method": "cash"}).status_code == 303


def test_the_payment_list_shows_and_filters_the_reversed_payments(session, console, estate, staff_of):
    """收款记录 gave no sign of a 冲正: a cashier looking for the reversed payments had to open each one. The list
    and its export now show 冲正时间, and 是否冲正 (已冲正 / 未冲正) lists only those."""
    e = estate
    with_bills(session, e)
    cashier = console(staff_of("收费员"))
    for unit, amount in ((e.b201, "301.25"), (e.a101, "150.00")):
        assert cashier.post("/admin/bill/account/pay", {"unit_id": str(unit.id), "amount": amount,
                                                        "method": "cash"}).status_code == 303
    wrong, standing = session.scalars(select(Payment).where(Payment.project_id == e.project.id)
                                      .order_by(Payment.id)).all()
    assert cashier.post("/admin/payment/reverse", {"payment_id": str(wrong.id),
                                                   "reason": "收错房屋"}).status_code == 303
    session.expire_all()
    reversed_at = session.get(Payment, wrong.id).reversed_at
    assert reversed_at is not None and session.get(Payment, standing.id).reversed_at is None
    shown = local_datetime(reversed_at)

    everything = cashier.get("/admin/payment/list")
    assert set(ids_listed(everything, "payment")) == {wrong.id, standing.id}
    assert "冲正时间" in everything.text and "是否冲正" in everything.text and shown in everything.text
    done = cashier.get("/admin/payment/list?reversed_at_filled=filled")
    assert ids_listed(done, "payment") == [wrong.id] and shown in done.text
    assert ids_listed(cashier.get("/admin/payment/list?reversed_at_filled=empty"), "payment") == [standing.id]

    export = cashier.post("/admin/payment/export/xlsx?reversed_at_filled=filled")
    assert export.status_code == 200, export.text[:300]
    sheet = [[c for c in r] for r in load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(values_only=True)]
    header = next(r for r in sheet if "冲正时间" in r)
    rows = sheet[sheet.index(header) + 1:]
    assert [r[header.index("收据号")] for r in rows] == [wrong.receipt_no]
    assert rows[0][header.index("冲正时间")] not in (None, "")
