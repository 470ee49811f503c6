"""导出 from every list: the list's search, filters and sort, masking by role, scope, formulas, audit, progress."""

from __future__ import annotations

import html
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from actions.actor import Actor
from actions.export import export_columns, export_list
from admin.views import VIEWS, list_export
from models import AuditKind, AuditLog, Customer, Job, JobState, OperationLog, Role, User, labels_of
from tests import factories as f

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def people(session):
    p1 = f.project(session, name="翠湖花园")
    p2 = f.project(session, name="别的项目")
    b1 = f.building(session, project_=p1, name="1栋")
    for i, name in enumerate(("张伟", "张敏", "李娜", "=HYPERLINK(\"http://x\")")):
        f.customer(session, project_=p1, name=name, phone=f"1381234567{i}", id_number="11010519491231002X",
                   unit_=f.unit(session, project_=p1, building_=b1, room_no=f"1-10{i}"))
    f.customer(session, project_=p2, name="张外人")
    f.user(session, username="sv", roles=["客服主管"], projects=[p1])
    f.user(session, username="mg", roles=["客服经理"], projects=[p1])
    f.user(session, username="fd", roles=["前台客服"], projects=[p1])
    return p1, p2


def _sheet(response) -> list[list]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == XLSX
    return [[c.value for c in r] for r in load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(min_row=2)]


def test_export_follows_the_list_the_user_looks_at(console, people):
    sv = console("sv")
    page = sv.get("/admin/customer/list?search=张&sortBy=name&sort=desc")
    form = re.search(r'<form method="post" action="([^"]*/admin/customer/export/xlsx[^"]*)"[^>]*>\s*'
                     r'<input type="hidden" name="csrf_token" value="([^"]+)">', page.text)
    link = html.unescape(form.group(1))
    assert link.endswith("/admin/customer/export/xlsx?search=%E5%BC%A0&sortBy=name&sort=desc")  # in the URL
    rows = _sheet(sv.client.post(link, data={"csrf_token": form.group(2)}))  # the button, as the browser sends it
    header = rows[0]
    assert header[:3] == ["编号", "项目", "姓名"]
    assert [r[2] for r in rows[1:]] == ["张敏", "张伟"]  # searched, sorted, only P1 (张外人 is P2)
    explicit = _sheet(sv.post("/admin/customer/export/xlsx?search=李"))
    assert [r[2] for r in explicit[1:]] == ["李娜"]


def test_personal_data_masked_by_role(console, people):
    phone = lambda rows: rows[1][rows[0].index("手机号")]  # noqa: E731
    sv_rows = _sheet(console("sv").post("/admin/customer/export/xlsx?search=张伟"))
    assert phone(sv_rows) == "138****5670" and sv_rows[1][sv_rows[0].index("身份证号")] == "110***********002X"
    mg_rows = _sheet(console("mg").post("/admin/customer/export/xlsx?search=张伟"))
    assert phone(mg_rows) == "13812345670"
    assert console("fd").post("/admin/customer/export/xlsx").status_code == 403  # no export grant


def test_formulas_written_as_text_and_export_audited(console, session, people):
    sv = console("sv")
    response = sv.post("/admin/customer/export/xlsx?search=HYPERLINK")
    sheet = zipfile.ZipFile(io.BytesIO(response.content)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and _sheet(response)[1][2] == "=HYPERLINK(\"http://x\")"
    event = session.scalar(select(AuditLog).where(AuditLog.kind == AuditKind.EXPORT))
    assert event.changes["rows"] == 1 and event.changes["filters"] == {"search": "HYPERLINK"}
    assert event.changes["masked"] is True and event.actor_name == "sv"


def test_unit_list_export_is_typed_and_scoped(console, people):
    rows = _sheet(console("sv").post("/admin/unit/export/xlsx"))
    assert rows[0][:4] == ["编号", "项目", "楼栋", "房号"]
    assert {r[1] for r in rows[1:]} == {"翠湖花园"} and len(rows) == 5
    area = rows[0].index("建筑面积(㎡)")
    assert rows[1][area] == 89.5


def test_big_export_runs_as_a_recorded_job(console, session, people, monkeypatch):
    monkeypatch.setattr(list_export, "INLINE_ROWS", 1)
    sv = console("sv")
    started = sv.post("/admin/customer/export/xlsx?search=")
    assert started.status_code == 303
    job_id = int(started.headers["location"].rstrip("/").rsplit("/", 1)[-1])
    job = session.get(Job, job_id)
    session.refresh(job)
    user_id = session.scalar(select(User.id).where(User.username == "sv"))
    assert (job.user_id, job.kind, job.state, job.attempts) == (user_id, "export", JobState.DONE, 1)
    assert job.result["rows"] == 4 and job.file_name.endswith(".xlsx") and job.file_size > 0
    assert sv.get(f"/admin/jobs/{job_id}/status").json()["state"] == "done"
    page = sv.get(f"/admin/jobs/{job_id}").text
    assert "已导出 4 行" in page
    assert f"/admin/jobs/{job_id}/file" in sv.get("/admin/jobs").text  # 我的任务 lists it with its download
    rows = _sheet(sv.get(f"/admin/jobs/{job_id}/file"))
    assert len(rows) == 5
    assert len(_sheet(sv.get(f"/admin/jobs/{job_id}/file"))) == 5  # kept until it expires, not gone once sent
    assert console("mg").get(f"/admin/jobs/{job_id}/file").status_code == 404  # not their job
    assert console("mg").get(f"/admin/jobs/{job_id}").status_code == 404


def test_a_jobs_file_is_refused_once_its_user_no_longer_sees_what_it_holds(console, session, people, monkeypatch):
    """我的任务 kept serving an export for its 24 hours to a user moved off the project it came from, or whose 导出
    grant was taken away: the file is now refused as a new export would be, nothing else written."""
    monkeypatch.setattr(list_export, "INLINE_ROWS", 1)
    p1, p2 = people
    started = console("sv").post("/admin/customer/export/xlsx?search=")
    job_id = int(started.headers["location"].rstrip("/").rsplit("/", 1)[-1])
    url = f"/admin/jobs/{job_id}/file"
    assert len(_sheet(console("sv").get(url))) == 5
    sv = session.scalar(select(User).where(User.username == "sv"))
    message = "该文件含有您现在无权查看的数据（负责项目或权限已变更），不再提供下载；如仍需要，请重新导出"

    def refused() -> None:
        c = console("sv")  # signed in again (a login is on the trail)
        before = _written(session)
        answer = c.get(url)
        assert answer.status_code == 403 and message in html.unescape(answer.text)
        assert not answer.headers["content-type"].startswith(XLSX)
        assert _written(session) == before

    sv.projects = [p2]  # moved to another project
    session.flush()
    refused()
    sv.projects = [p1, p2]
    session.flush()
    assert len(_sheet(console("sv").get(url))) == 5  # back on it: the file again
    sv.roles = [r for r in sv.roles if r.name != "客服主管"] + [
        session.scalar(select(Role).where(Role.name == "前台客服"))]  # no 导出 of customers any more
    session.flush()
    refused()


@pytest.mark.parametrize("report", [
    "/admin/complaint-stats?month_from=2026-11&export=xlsx",  # 投诉统计: 工单 (service-request) 导出
    "/admin/dashboard/report/xlsx?month=2026-11",  # 月度报告: month-snapshot 导出
])
def test_a_report_jobs_file_is_refused_once_its_user_lost_the_reports_grant(console, session, people, report):
    """A report exported as a 后台任务 (投诉统计, 月度报告 …) was re-checked by project only: a user whose 导出 of it
    was taken away still downloaded it from 我的任务. Each report names the grant its export takes; the job notes it
    and its file is refused once the user no longer holds it — and served to one who still does."""
    jobs = {name: console(name).post(report) for name in ("sv", "mg")}
    assert all(r.status_code == 303 and "/admin/jobs/" in r.headers["location"] for r in jobs.values())
    url = {name: r.headers["location"].rstrip("/") + "/file" for name, r in jobs.items()}
    assert console("sv").get(url["sv"]).status_code == 200
    sv = session.scalar(select(User).where(User.username == "sv"))
    sv.roles = [session.scalar(select(Role).where(Role.name == "前台客服"))]  # no 导出 of the report any more
    session.flush()
    c = console("sv")  # signed in again (a login is on the trail)
    before = _written(session)
    answer = c.get(url["sv"])
    assert answer.status_code == 403 and not answer.headers["content-type"].startswith(XLSX)
    assert "该文件含有您现在无权查看的数据（负责项目或权限已变更），不再提供下载；如仍需要，请重新导出" in html.unescape(answer.text)
    assert _written(session) == before  # nothing written
    assert _sheet_of(console("mg").get(url["mg"]))  # still holds it: the file
    before = _written(session)
    again = c.post(report)  # nor can a new one be queued
    assert again.status_code == 403 and _written(session) == before


def _sheet_of(response) -> bool:
    assert response.status_code == 200 and response.headers["content-type"] == XLSX, response.text[:300]
    return bool(load_workbook(io.BytesIO(response.content)).worksheets)


def _written(session) -> tuple[int, int, int]:
    """Jobs, audit rows and operation-log rows: what an export writes."""
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Job, AuditLog, OperationLog))


@pytest.mark.parametrize("inline_rows", [5_000, 1])  # a small export (the file) and a big one (a 后台任务)
def test_a_get_of_the_export_address_exports_nothing_and_offers_the_post(console, session, people, monkeypatch,
                                                                         inline_rows):
    """导出 audits and may queue a job: a state change, so a POST. An old bookmark (a GET) gets a page saying so,
    with the button — the same query — and nothing is queued or audited."""
    monkeypatch.setattr(list_export, "INLINE_ROWS", inline_rows)
    sv = console("sv")
    before = _written(session)
    page = sv.get("/admin/customer/export/xlsx?search=张&sortBy=name")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "打开这个地址本身不会导出" in page.text and "开始导出" in page.text
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrf_token" '
                     r'value="([^"]+)">', page.text)
    assert html.unescape(form.group(1)).endswith("/admin/customer/export/xlsx?search=%E5%BC%A0&sortBy=name")
    assert '/admin/customer/list?search=%E5%BC%A0&amp;sortBy=name"' in page.text  # 返回: the list as it was
    assert _written(session) == before
    assert sv.client.head("/admin/customer/export/xlsx").status_code == 200 and _written(session) == before
    # the page's button does export
    done = sv.client.post(html.unescape(form.group(1)), data={"csrf_token": form.group(2)}, follow_redirects=False)
    jobs, audits, operations = _written(session)
    if inline_rows == 1:
        assert done.status_code == 303 and "/admin/jobs/" in done.headers["location"]
        assert jobs == before[0] + 1
    else:
        assert [r[2] for r in _sheet(done)[1:]] == ["张伟", "张敏"] and jobs == before[0]
    assert (audits, operations) == (before[1] + 1, before[2] + 1)


@pytest.mark.parametrize("inline_rows", [5_000, 1])
def test_an_export_post_without_the_token_writes_nothing(console, session, people, monkeypatch, inline_rows):
    monkeypatch.setattr(list_export, "INLINE_ROWS", inline_rows)
    sv = console("sv")
    before = _written(session)
    for data in ({}, {"csrf_token": "forged"}):
        refused = sv.client.post("/admin/customer/export/xlsx?search=张", data=data, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert _written(session) == before


def test_exported_list_reimports_unchanged(console, session, people):
    sv = console("sv")
    data = sv.post("/admin/unit/export/xlsx").content
    upload = sv.post("/admin/import/upload", {"kind": "units"}, files={"file": ("房屋.xlsx", data, XLSX)})
    page = sv.get(upload.headers["location"]).text
    assert "<td>0</td><td>0</td><td>4</td>" in re.sub(r"\s+", "", page)  # 新增 0, 更新 0, 无变化 4
    assert session.scalar(select(Customer.name).where(Customer.name == "张伟")) == "张伟"


def test_every_lists_export_columns_export(session, tmp_path):
    """Each console list's export columns — its own, or many-to-one relations shown as the list shows them — are
    read as plain rows and written under the list's headers."""
    actor = Actor(user_id=None, name="管理员", project_ids=None)
    f.customer(session, project_=f.project(session))
    for view in VIEWS:
        model = getattr(view, "model", None)
        if model is None:
            continue
        keys = [k if isinstance(k, str) else k.key for k in (view.column_export_list or view.column_list or ["id"])]
        path = tmp_path / "out.xlsx"
        export_list(session, query=select(model), model=model, columns=export_columns(model, keys, labels_of(model)),
                    title=view.name_plural, actor=actor, path=path)
        header = next(load_workbook(path).worksheets[0].iter_rows(min_row=2, max_row=2, values_only=True))
        assert list(header) == [labels_of(model).get(k, k) for k in keys], view.__name__


def test_the_audit_logs_export_names_tables_as_its_list_does(console, session, people):
    """数据表 in the 变更记录 export reads 客户诉求, as the list shows it, not the table's name service_request."""
    session.add(AuditLog(actor_name="测试", source="console", kind=AuditKind.UPDATE, table_name="service_request",
                         record_id="1", summary="导出表名测试", changes={}))
    session.flush()
    f.user(session, username="root-auditor", superuser=True)
    rows = _sheet(console("root-auditor").post("/admin/audit-log/export/xlsx?search=导出表名测试"))
    header, *data = rows
    assert len(data) == 1 and data[0][header.index("数据表")] == "客户诉求"


def test_a_number_searched_for_is_masked_in_the_exports_audit_and_operation_log(console, session, people):
    """P02: the trail keeps the search an export was made with, but not the ID or phone number typed in it."""
    sv = console("sv")
    rows = _sheet(sv.post("/admin/customer/export/xlsx?search=13812345670"))
    assert [r[2] for r in rows[1:]] == ["张伟"]  # the number still finds its customer
    assert _sheet(sv.post("/admin/customer/export/xlsx?search=11010519491231002X"))[1:] == []
    events = session.scalars(select(AuditLog).where(AuditLog.kind == AuditKind.EXPORT).order_by(AuditLog.id)).all()
    assert [e.changes["filters"] for e in events] == [{"search": "138****5670"}, {"search": "110***********002X"}]
    operations = session.scalars(select(OperationLog).where(OperationLog.operation == "export:customer")
                                 .order_by(OperationLog.id)).all()
    assert [o.params["filters"] for o in operations] == [{"search": "138****5670"}, {"search": "110***********002X"}]
    trail = str([(e.summary, e.changes) for e in events] + [(o.params, o.message) for o in operations])
    assert "13812345670" not in trail and "11010519491231002X" not in trail


# each report page that offers a .xlsx 导出 button (考核结果's, of a month computed, added in the test)
REPORT_PAGES = {
    "arrears": ("/admin/arrears", "/admin/arrears?export=xlsx"),
    "collection-rate": ("/admin/collection-rate?period_from=2026-11", "/admin/collection-rate?period_from=2026-11&export=xlsx"),
    "department-report": ("/admin/department-report", "/admin/department-report?export=xlsx"),
    "complaint-stats": ("/admin/complaint-stats?month_from=2026-11", "/admin/complaint-stats?month_from=2026-11&export=xlsx"),
    "monthly-report": ("/admin/dashboard/report?month=2026-11", "/admin/dashboard/report/xlsx?month=2026-11"),
}


def _offers_export(page) -> bool:
    assert page.status_code == 200, page.text[:300]
    return bool(re.search(r'<form[^>]*action="[^"]*(export=xlsx|/xlsx\?)', page.text))


@pytest.mark.parametrize("registry", ["as declared", "changed in the registry"])
def test_a_report_pages_export_button_follows_the_grant_its_registry_names(console, session, people, monkeypatch,
                                                                             registry):
    """A report's 导出 button is shown to the users holding the grant its ``@report_export(..., grant=...)`` names —
    the one its POST and its job's file check — so nobody sees a button that then refuses. Two managers: one with
    the role's grants, one without its 导出 grants (a read-only copy of the role). Changing a report's grant in the
    registry alone moves the button with it."""
    from admin.views.jobs import REPORTS

    p1, _ = people
    manager = session.scalar(select(Role).where(Role.name == "客服经理"))
    exports = {r.grant for r in REPORTS.values()}
    read_only = Role(name="客服经理（只读）", description="")
    read_only.accesses = [type(g)(identity=g.identity, action=g.action) for g in manager.accesses
                          if (g.identity, g.action) not in exports]
    extra = Role(name="报表导出", description="")
    extra.accesses = [type(manager.accesses[0])(identity="report-file", action="export")]
    session.add_all([read_only, extra])
    session.flush()
    f.user(session, username="mgro", roles=["客服经理（只读）", "报表导出"], projects=[p1])
    f.staff(session, project_=p1, name="王芳")
    computed = console("mg").post_job("/admin/scores/compute", {"month": "2026-10", "project_id": str(p1.id)})
    assert computed.status_code == 200
    pages = {**REPORT_PAGES, "monthly-scores": (f"/admin/scores/results?month=2026-10&project_id={p1.id}",
                                                f"/admin/monthly-score/xlsx?month=2026-10&project_id={p1.id}")}
    assert set(pages) == set(REPORTS)
    holder, without = "mg", "mgro"
    if registry != "as declared":  # every report now takes the grant only the second holds
        for name, report in list(REPORTS.items()):
            monkeypatch.setitem(REPORTS, name, type(report)(report.title, report.build, ("report-file", "export")))
        holder, without = "mgro", "mg"
    has, lacks = console(holder), console(without)
    for name, (page, export) in pages.items():
        assert _offers_export(has.get(page)), name
        assert not _offers_export(lacks.get(page)), name
        before = _written(session)
        assert lacks.post(export).status_code == 403, name
        assert _written(session) == before
        started = has.post(export)
        assert started.status_code == 303 and "/admin/jobs/" in started.headers["location"], name
