"""批量导入 in the console: upload → preview → confirm, templates, error report, progress, grants, CSRF."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from actions.actor import Actor
from actions.surveys import create_survey
from admin.views import spreadsheets
from models import (
    AuditKind,
    AuditLog,
    ImportBatch,
    Job,
    JobFile,
    JobState,
    OperationLog,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyScore,
    SurveyStatus,
    Unit,
)
from tests import factories as f
from tests.data.workbooks import workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def site(session):
    project = f.project(session, name="翠湖花园")
    b1 = f.building(session, project_=project, name="1栋")
    for room in ("1-101", "1-102", "1-103"):
        f.unit(session, project_=project, building_=b1, room_no=room)
    other = f.project(session, name="别的项目")
    f.user(session, username="sv", roles=["客服主管"], projects=[project])
    f.user(session, username="fd", roles=["前台客服"], projects=[project])
    f.user(session, username="ca", roles=["收费员"], projects=[project])
    f.user(session, username="sv2", roles=["客服主管"], projects=[other])
    actor = Actor(user_id=None, name="主管", project_ids=frozenset({project.id}))
    survey = create_survey(session, project_id=project.id, title="2026年上半年满意度调查", actor=actor)
    return project, survey.survey_id


SURVEY_FILE = workbook({"问卷": [
    ["翠湖花园业主满意度调查表"],
    ["楼栋", "房号", "客服部", "工程部", "意见建议"],
    ["1栋", "1-101", "满意", "5分", "<script>alert(1)</script>"],
    ["1栋", "1-102", 3, 4, ""],
]})


def _upload(client, kind, data, name="问卷.xlsx", **fields):
    return client.post("/admin/import/upload", data={"kind": kind, **{k: str(v) for k, v in fields.items()}},
                       files={"file": (name, data, XLSX)})


def _token(response) -> str:
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rstrip("/").rsplit("/", 1)[-1]


def test_survey_upload_preview_confirm(console, session, site):
    _, survey_id = site
    sv = console("sv")
    token = _token(_upload(sv, "surveys", SURVEY_FILE, survey_id=survey_id))
    page = sv.get(f"/admin/import/{token}")
    assert page.status_code == 200
    assert "预览：以下内容尚未写入" in page.text and "确认导入" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert(1)" not in page.text
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0

    done = sv.post(f"/admin/import/{token}/confirm")
    assert done.status_code == 303
    page = sv.get(f"/admin/import/{token}")
    assert "已导入：新增 2 行" in page.text
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 2
    assert session.scalar(select(func.count()).select_from(SurveyScore)) == 4
    assert session.scalar(select(func.count()).where(OperationLog.operation == "import:surveys")) == 1

    results = sv.get(f"/admin/survey-results/{survey_id}")
    assert results.status_code == 200 and "调查率" in results.text and "66.7%" in results.text  # 2 of 3 households
    xlsx = sv.post(f"/admin/survey-results/{survey_id}/xlsx")
    assert xlsx.headers["content-type"] == XLSX
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "概况"

    again = sv.post(f"/admin/import/{token}/confirm")  # double submit
    assert again.status_code == 303
    assert "该批次已导入" in sv.get(f"/admin/import/{token}").text
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 2


def test_survey_results_xlsx_takes_the_export_grant_a_post_and_is_audited(console, session, site):
    """The results' .xlsx names each household that commented (楼栋, 房号, 填表人): a 前台客服, who may read the page
    but holds no 导出 of surveys, downloaded it by a GET, and nobody's export was on the trail."""
    _, survey_id = site
    token = _token(_upload(console("sv"), "surveys", SURVEY_FILE, survey_id=survey_id))
    console("sv").post(f"/admin/import/{token}/confirm")
    url = f"/admin/survey-results/{survey_id}/xlsx"

    def exports() -> int:
        return session.scalar(select(func.count()).where(AuditLog.kind == AuditKind.EXPORT))

    before = exports()
    fd = console("fd")
    assert fd.get(f"/admin/survey-results/{survey_id}").status_code == 200  # the page itself: the list grant
    assert url not in fd.get(f"/admin/survey-results/{survey_id}").text  # no 导出 button
    for response in (fd.get(url), fd.post(url)):
        assert response.status_code == 403 and "没有导出满意度调查的权限" in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert console("sv2").post(url).status_code in (403, 404)  # another project's supervisor
    sv = console("sv")
    asked = sv.get(url)  # a pasted link: nothing exported, the POST offered
    assert asked.status_code == 200 and asked.headers["content-type"].startswith("text/html") and "开始导出" in asked.text
    assert exports() == before
    done = sv.post(url)
    assert done.status_code == 200 and done.headers["content-type"] == XLSX
    assert "意见建议" in load_workbook(io.BytesIO(done.content)).sheetnames
    row = session.scalars(select(AuditLog).where(AuditLog.kind == AuditKind.EXPORT).order_by(AuditLog.id.desc())).first()
    assert exports() == before + 1
    assert (row.actor_name, row.table_name, row.record_id) == ("sv", "survey", str(survey_id))
    assert row.summary == "导出调查结果：2026年上半年满意度调查（意见建议 1 条）"


def test_an_upload_naming_a_bad_survey_or_project_is_refused_with_nothing_queued(console, session, site):
    sv = console("sv")
    jobs = session.scalar(select(func.count()).select_from(Job))
    for fields, message in (({"survey_id": "第二期"}, "满意度调查无效：第二期"), ({}, "请先选择满意度调查")):
        refused = _upload(sv, "surveys", SURVEY_FILE, **fields)
        assert refused.status_code == 400 and message in refused.text and "批量导入" in refused.text, fields
    refused = _upload(sv, "units", SURVEY_FILE, name="房屋.xlsx", project_id="-1")
    assert refused.status_code == 400 and "项目无效：-1" in refused.text
    assert sv.get("/admin/import?kind=surveys&survey_id=abc").status_code == 400
    assert sv.get("/admin/import/template/surveys?survey_id=abc").status_code == 400
    assert session.scalar(select(func.count()).select_from(Job)) == jobs
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_an_upload_into_another_project_is_refused_before_it_is_stored(console, session, site):
    """The file was stored and its preview queued, to be refused by the job (「无权向该项目导入数据」 on its page): the
    supervisor of another project is now refused at the upload, nothing stored, nothing queued."""
    project, survey_id = site
    sv2 = console("sv2")
    before = tuple(session.scalar(select(func.count()).select_from(m)) for m in (Job, JobFile))
    for kind, fields, message in (
        ("customers", {"project_id": project.id}, f"无权操作项目：项目编号 {project.id}"),
        ("units", {"project_id": project.id}, f"无权操作项目：项目编号 {project.id}"),
        ("surveys", {"survey_id": survey_id}, "无权访问该项目的满意度调查"),
    ):
        refused = _upload(sv2, kind, SURVEY_FILE, **fields)
        assert refused.status_code == 403 and message in refused.text, (kind, refused.text[-800:])
    assert tuple(session.scalar(select(func.count()).select_from(m)) for m in (Job, JobFile)) == before


def test_errors_are_listed_and_downloadable(console, session, site):
    _, survey_id = site
    sv = console("sv")
    bad = workbook({"问卷": [["楼栋", "房号", "客服部"], ["1栋", "1-101", 11], ["9栋", "9-999", 5]]})
    token = _token(_upload(sv, "surveys", bad, survey_id=survey_id))
    page = sv.get(f"/admin/import/{token}").text
    assert "文件有 2 行错误" in page and "确认导入" not in page
    assert "11 超出范围（1–5 分）" in page and "9栋 9-999 不存在于本项目" in page
    report = sv.get(f"/admin/import/{token}/errors")
    rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(report.content)).worksheets[0].iter_rows()]
    assert rows[0][-1] == "错误原因" and rows[1][0] == 2 and "超出范围" in rows[1][-1]
    refused = sv.post(f"/admin/import/{token}/confirm")
    assert refused.status_code == 303
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_preview_shows_a_bad_cell_as_typed(console, session, site):
    _, survey_id = site
    sv = console("sv")
    bad = workbook({"问卷": [["楼栋", "房号", "客服部", "工程部"], ["1栋", "1-101", 7, "5分"]]})
    page = sv.get(f"/admin/import/{_token(_upload(sv, 'surveys', bad, survey_id=survey_id))}").text
    preview = page[page.index("按系统理解"):]
    cells = re.findall(r"<td>(.*?)</td>", preview)
    assert cells == ["2", "错误", "1栋", "1-101", "7", "5"]
    assert "Invalid(" not in page
    assert "7 超出范围（1–5 分）" in page  # the reason stays in the problem list
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_hostile_file_is_refused_in_chinese(console, session, site):
    _, survey_id = site
    sv = console("sv")
    token = _token(_upload(sv, "surveys", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, name="旧.xls",
                           survey_id=survey_id))
    assert "97-2003" in sv.get(f"/admin/import/{token}").text


def test_upload_needs_the_grant_and_the_token(console, session, site):
    project, survey_id = site
    fd = console("fd")
    assert _upload(fd, "surveys", SURVEY_FILE, survey_id=survey_id).status_code == 403
    assert _upload(fd, "units", SURVEY_FILE).status_code == 403
    sv = console("sv")
    no_csrf = sv.client.post("/admin/import/upload", data={"kind": "units"},
                             files={"file": ("a.xlsx", SURVEY_FILE, XLSX)})
    assert no_csrf.status_code == 403
    token = _token(_upload(sv, "surveys", SURVEY_FILE, survey_id=survey_id))
    other = console("sv2")  # another user cannot see or confirm this upload
    assert other.get(f"/admin/import/{token}").status_code == 404
    assert other.post(f"/admin/import/{token}/confirm").status_code == 404
    outsider = _upload(other, "surveys", SURVEY_FILE, survey_id=survey_id)  # survey of a project not theirs
    assert outsider.status_code == 403 and "无权" in outsider.text
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_templates_download(console, site):
    _, survey_id = site
    sv = console("sv")
    for kind in ("units", "customers", "parking", "bills", "payments"):
        response = sv.get(f"/admin/import/template/{kind}")
        assert response.status_code == 200 and response.headers["content-type"] == XLSX, kind
    survey = sv.get(f"/admin/import/template/surveys?survey_id={survey_id}")
    assert "客服部" in [c.value for c in load_workbook(io.BytesIO(survey.content)).worksheets[0][1]]
    assert sv.get("/admin/import/template/staff").status_code == 403  # staff import is the manager's


def test_units_import_with_project_chosen(console, session, site):
    project, _ = site
    sv = console("sv")
    data = workbook({"房屋": [["楼栋", "房号", "建筑面积(㎡)"], ["2栋", "2-101", 99.5], ["1栋", "1-101", 89.5]]})
    token = _token(_upload(sv, "units", data, name="房屋.xlsx", project_id=project.id))
    page = sv.get(f"/admin/import/{token}").text
    assert "<td>1</td><td>0</td><td>1</td>" in re.sub(r"\s+", "", page)  # 新增 1, 更新 0, 无变化 1 (1-101: 89.50)
    sv.post(f"/admin/import/{token}/confirm")
    assert session.scalar(select(Unit.area).where(Unit.room_no == "2-101")) == 99.5


def test_big_file_runs_in_the_background(console, session, site, monkeypatch):
    _, survey_id = site
    monkeypatch.setattr(spreadsheets, "WAIT_BYTES", 10)  # every file is "big"
    sv = console("sv")
    response = _upload(sv, "surveys", SURVEY_FILE, survey_id=survey_id)
    token = _token(response)
    job = session.get(Job, int(token))
    assert (job.kind, job.user_id, job.params["dry_run"]) == ("import", _uid(session, "sv"), True)
    assert job.state is JobState.DONE  # run in the request here (tests); a worker or the app's thread elsewhere
    status = sv.get(f"/admin/import/{token}/status").json()
    assert status["state"] == "done" and status["percent"] == 100 and status["stage"] == "核对数据"
    page = sv.get(f"/admin/import/{token}").text
    assert "确认导入" in page and "wuye-progress.js" in page


def test_a_preview_not_yet_started_shows_its_progress_bar(console, session, site):
    """A busy runner claims the job after the upload's redirect: the page of a queued job polls for it too (it
    used to show an empty card, which never refreshed)."""
    _, survey_id = site
    sv = console("sv")
    token = _token(_upload(sv, "surveys", SURVEY_FILE, survey_id=survey_id))
    session.execute(update(Job).where(Job.id == int(token)).values(state=JobState.QUEUED, result=None))
    page = sv.get(f"/admin/import/{token}").text
    assert f'data-job-status="http://testserver/admin/import/{token}/status"' in page and "确认导入" not in page
    assert sv.get(f"/admin/import/{token}/status").json()["state"] == "queued"


def _uid(session, username: str) -> int:
    from models import User

    return session.scalar(select(User.id).where(User.username == username))


def test_survey_detail_links(console, session, site):
    _, survey_id = site
    sv = console("sv")
    to_import = sv.get(f"/admin/survey/action/import-responses?pks={survey_id}", follow_redirects=False)
    assert to_import.status_code == 302 and "kind=surveys" in to_import.headers["location"]
    to_results = sv.get(f"/admin/survey/action/survey-results?pks={survey_id}", follow_redirects=False)
    assert to_results.status_code == 302 and f"/survey-results/{survey_id}" in to_results.headers["location"]
    assert console("fd").get(f"/admin/survey/action/import-responses?pks={survey_id}",
                             follow_redirects=False).status_code == 403


def test_distribution_is_recorded_from_the_household_list(console, session, site):
    _, survey_id = site
    sv = console("sv")
    ids = [str(i) for i in session.scalars(select(SurveyHousehold.id).where(SurveyHousehold.survey_id == survey_id))]
    form = sv.get(f"/admin/survey-household/action/distribute?pks={','.join(ids)}")
    assert form.status_code == 200 and "登记问卷发放" in form.text
    assert session.scalar(select(func.count()).where(SurveyHousehold.receipt_signed.is_(True))) == 0
    for typed, message in (("2026-02-30", "发放日期「2026-02-30」无法识别为日期"), ("", "请填写发放日期")):
        refused = sv.post("/admin/survey-household/distribute",
                          {"pks": ",".join(ids), "distributed_on": typed, "receipt_signed": "1"})
        assert refused.status_code == 400 and message in refused.text
    assert session.scalar(select(func.count()).where(SurveyHousehold.distributed_at.is_not(None))) == 0
    done = sv.post("/admin/survey-household/distribute",
                   {"pks": ",".join(ids), "distributed_on": "2026-03-01", "receipt_signed": "1"})
    assert done.status_code == 303
    session.expire_all()
    assert session.scalar(select(func.count()).where(SurveyHousehold.receipt_signed.is_(True))) == 3


def test_new_survey_from_the_form_lists_households(console, session, site):
    project, _ = site
    sv = console("sv")
    response = sv.post("/admin/survey/create", {"project": str(project.id), "title": "2026年下半年满意度调查",
                                                "period": "2026H2", "status": "planned", "scale_max": "5"})
    assert response.status_code == 302, response.text[:300]
    survey = session.scalar(select(SurveyHousehold.survey_id).order_by(SurveyHousehold.survey_id.desc()))
    assert session.scalar(select(func.count()).where(SurveyHousehold.survey_id == survey)) == 3
    assert not re.search("Traceback", response.text)


def test_new_survey_form_does_not_offer_a_status(console, session, site):
    """A campaign starts 筹备中 (登记问卷发放 moves it on): the create form does not offer a status it would ignore;
    the edit form still does."""
    project, survey_id = site
    sv = console("sv")
    form = sv.get("/admin/survey/create").text
    assert 'name="title"' in form and 'name="status"' not in form
    assert 'name="status"' in sv.get(f"/admin/survey/edit/{survey_id}").text
    response = sv.post("/admin/survey/create", {"project": str(project.id), "title": "2026年冬季满意度调查",
                                                "period": "2026H2", "status": "closed", "scale_max": "5"})
    assert response.status_code == 302, response.text[:300]
    status = session.scalar(select(Survey.status).where(Survey.title == "2026年冬季满意度调查"))
    assert status is SurveyStatus.PLANNED


def test_batch_is_visible_in_the_batch_list(console, session, site):
    _, survey_id = site
    sv = console("sv")
    token = _token(_upload(sv, "surveys", SURVEY_FILE, survey_id=survey_id))
    sv.post(f"/admin/import/{token}/confirm")
    batch = session.scalar(select(ImportBatch))
    assert batch.file_name == "问卷.xlsx" and batch.target == f"survey:{survey_id}"
    assert "问卷.xlsx" in sv.get("/admin/import-batch/list").text


@pytest.mark.parametrize("kind", ["surveys", "units", "customers", "parking", "staff", "bills", "payments"])
def test_a_hostile_workbook_is_refused_for_every_kind(console, session, site, kind):
    """X16: one cell at XFD100000 (a 52 GB grid to a reader that trusts it) is refused from the file's XML
    before any reader allocates; the server answers, in Chinese, and nothing is written."""
    from tests.data.workbooks import sparse_cell

    project, survey_id = site
    f.user(session, username="boss", roles=["系统管理员"], projects=[project])
    boss = console("boss")
    before = {m: session.scalar(select(func.count()).select_from(m)) for m in (SurveyResponse, Unit, ImportBatch)}
    extra = {"survey_id": survey_id} if kind == "surveys" else {"project_id": project.id}
    token = _token(_upload(boss, kind, sparse_cell("XFD100000"), name="攻击.xlsx", **extra))
    page = boss.get(f"/admin/import/{token}")
    assert page.status_code == 200
    assert "列数过多：单元格 XFD100000 在第 16,384 列，上限 256 列" in page.text
    assert "确认导入" not in page.text
    assert {m: session.scalar(select(func.count()).select_from(m)) for m in before} == before
    assert boss.get("/admin/").status_code == 200  # the server is still there


def test_an_unused_column_is_a_warning_on_the_preview_before_the_confirm(console, session, site):
    _, survey_id = site
    sv = console("sv")
    data = workbook({"问卷": [["楼栋", "房号", "客服服务", "业主电话"], ["1号楼", "1-101", 5, "13812345678"]]})
    token = _token(_upload(sv, "surveys", data, survey_id=survey_id))
    page = sv.get(f"/admin/import/{token}")
    assert page.status_code == 200 and 'class="alert alert-warning"' in page.text
    warning = page.text.index("以下 1 列未能识别，其内容不会导入：「业主电话」")
    assert warning < page.text.index("确认导入</button>")  # seen before the confirm button
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    assert sv.post(f"/admin/import/{token}/confirm").status_code == 303
    assert session.scalar(select(func.count()).select_from(SurveyScore)) == 1  # 客服服务 read as 客服部
