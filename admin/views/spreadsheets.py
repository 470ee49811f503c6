"""批量导入 and the pages around spreadsheets: upload → preview → confirm, templates, error reports, the
progress of big imports and exports, and a survey's results.

Thin handlers over ``actions/``: the upload is stored with its preview, a 后台任务 (:mod:`actions.jobs`), so
any process shows the preview and the confirm — a job continuing the preview — reads the same bytes; the page
polls its progress (static/js/wuye-progress.js — the CSP forbids inline scripts). A GET never writes; the confirm is a POST with the CSRF token, checked against
the kind's grant explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqladmin import BaseView, expose
from sqladmin.authorization import custom_action
from sqladmin.helpers import slugify_class_name
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from actions.billing import fee_choices
from actions.bulk_import import KINDS, import_records, importer_for
from actions.errors import Refused
from actions.job_runner import JobContext, Outcome
from actions.jobs import job_of, read_file
from actions.spreadsheets.pipeline import ImportResult
from actions.spreadsheets.reader import LIMITS
from actions.spreadsheets.writer import error_report, template
from actions.survey_import import SurveyImporter, import_survey_responses
from actions.survey_results import export_survey_results, survey_results
from actions.surveys import complete_corrective_action, follow_up_corrective_action, survey_in_scope
from models import Job, JobState, SurveyResponse, label_of

from ..forms import IdField, PageForm, ProjectField
from .base import VIEW_PII
from .jobs import queue_job, snapshot, wait_for_job
from .pages import (
    XLSX,
    asks_export,
    attachment,
    confirm_export,
    granted,
    refusal_status,
    request_actor,
    run_action,
)

# Up to this size the preview is waited for in the request; a bigger file shows the progress bar at once.
WAIT_BYTES = 256 * 1024
WAIT_SECONDS = 30
SHOWN_PROBLEMS = 500


@dataclass(frozen=True)
class Kind:
    title: str
    grant: tuple[str, str]  # (view identity, action) the importing user must hold


IMPORT_KINDS: dict[str, Kind] = {
    "surveys": Kind(SurveyResponse.__label__, ("survey", "action:import-responses")),
    **{name: Kind(cls.title, (slugify_class_name(cls.model.__name__), "import")) for name, cls in KINDS.items()},
}



class UploadForm(PageForm):
    """Where an uploaded file goes: the survey a survey file answers, the project other files may name."""

    survey_id = IdField(label_of(SurveyResponse, "survey_id"))
    project_id = ProjectField("项目")


class SpreadsheetPages(BaseView):
    """批量导入 in the menu; the other routes are reached from it, from lists (导出) and from a survey."""

    name = "批量导入"
    category = "导入导出"
    icon = "fa-solid fa-file-import"

    @property
    def session_maker(self) -> Any:
        return self._admin_ref.session_maker

    def _kinds(self, request: Request) -> dict[str, Kind]:
        return {k: v for k, v in IMPORT_KINDS.items() if granted(self, request, *v.grant)}

    def is_accessible(self, request: Request) -> bool:
        # Every logged-in user: each route checks its own grant (an import kind, the survey) or that the
        # background job is the user's own.
        return request_actor(request).user_id is not None

    def is_visible(self, request: Request) -> bool:
        return bool(self._kinds(request))

    def _require(self, request: Request, kind: str) -> Kind:
        spec = IMPORT_KINDS.get(kind)
        if spec is None:
            raise HTTPException(status_code=404, detail="不支持的导入类型")
        if not granted(self, request, *spec.grant):
            raise HTTPException(status_code=403, detail=f"没有导入{spec.title}的权限")
        return spec

    async def _page(self, request: Request, name: str, *, status_code: int = 200, **context: Any) -> Response:
        return await self.templates.TemplateResponse(request, f"wuye/{name}", context, status_code=status_code)

    # --- upload ---------------------------------------------------------------------------------------
    @expose("/import", methods=["GET"], identity="import")
    async def upload_form(self, request: Request) -> Response:
        return await self._upload_page(request, request.query_params.get("kind", ""),
                                       UploadForm.read(request.query_params).survey_id.data)

    async def _upload_page(self, request: Request, kind: str, survey_id: int | None, *, error: str = "",
                           status_code: int = 200) -> Response:
        kinds = self._kinds(request)
        if not kinds:
            raise HTTPException(status_code=403, detail="没有导入数据的权限")
        kind = kind if kind in kinds else next(iter(kinds))
        projects = (await run_action(self.session_maker, request, fee_choices)).projects
        survey = None
        if kind == "surveys" and survey_id is not None:
            survey = await run_action(self.session_maker, request,
                                      lambda session, *, actor: survey_in_scope(session, survey_id, actor))
        return await self._page(request, "imports/upload.html", status_code=status_code, title=self.name, kinds=kinds,
                                kind=kind, projects=projects, survey=survey, error=error,
                                max_mb=LIMITS.max_bytes // (1024 * 1024))

    @expose("/import/template/{kind}", methods=["GET"], identity="import-template")
    async def template_download(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        spec = self._require(request, kind)
        survey_id = UploadForm.read(request.query_params).survey_id.data

        def build(session: Any, *, actor: Any) -> bytes:
            if kind == "surveys":
                if survey_id is None:
                    raise Refused("请先选择满意度调查")
                return template(SurveyImporter(session, actor, survey_in_scope(session, survey_id, actor)))
            return template(importer_for(session, kind, actor=actor))

        data = await run_action(self.session_maker, request, build)
        return Response(data, media_type=XLSX, headers={"content-disposition": attachment(f"{spec.title}导入模板.xlsx")})

    @expose("/import/upload", methods=["POST"], identity="import-upload")
    async def upload(self, request: Request) -> Response:
        form = await request.form()
        kind = str(form.get("kind", ""))
        self._require(request, kind)
        upload = form.get("file")
        try:  # a project or survey not the user's is refused before the file is stored or anything queued
            target = UploadForm.read(form, actor=request_actor(request))
            if kind == "surveys" and (survey_id := target.survey_id.data) is not None:
                await run_action(self.session_maker, request,
                                 lambda session, *, actor: survey_in_scope(session, survey_id, actor))
        except Refused as refused:
            return await self._upload_page(request, kind, None, error=refused.message,
                                           status_code=refusal_status(refused))
        if upload is None or not hasattr(upload, "read") or not upload.filename:
            return await self._upload_page(request, kind, target.survey_id.data, error="请选择要导入的文件",
                                           status_code=400)
        data = await upload.read()
        meta = {
            "kind": kind, "file_name": upload.filename, **target.data,
            # Personal data in full only to a role that sees it in full in the lists and exports (the model
            # view's 查看完整敏感信息 grant, as ``list_export`` decides ``unmask``).
            "unmask": kind != "surveys" and granted(self, request, IMPORT_KINDS[kind].grant[0],
                                                    custom_action(VIEW_PII)),
        }
        if kind == "surveys" and meta["survey_id"] is None:
            return await self._upload_page(request, kind, None, error="请先选择满意度调查", status_code=400)
        job_id = await self._start(request, meta, dry_run=True, upload=[data], wait=len(data) <= WAIT_BYTES)
        return RedirectResponse(request.url_for("admin:view-import-preview", token=str(job_id)), status_code=303)

    async def _start(self, request: Request, meta: dict[str, Any], *, dry_run: bool, upload: list[bytes] = (),
                     parent_id: int | None = None, wait: bool = False) -> int:
        """Queue the import (or its preview) as a 后台任务; wait a little for a small file's."""
        params, kind = {**meta, "dry_run": dry_run}, meta["kind"]
        if not dry_run:  # a failed import is logged as the import (a failed preview wrote nothing to log)
            params.update(operation=f"import:{kind}", writes=True)
        title = f"{'预览' if dry_run else '导入'}{IMPORT_KINDS[kind].title}：{meta['file_name']}"
        job_id = await queue_job(self, request, "import", title, params, upload=upload, parent_id=parent_id)
        await wait_for_job(self, request, job_id, WAIT_SECONDS if wait else 0)
        return job_id

    # --- preview, progress, confirm -------------------------------------------------------------------
    async def _import_job(self, request: Request, *, latest: bool = True) -> Job:
        """The import's preview job named in the URL — or, ``latest``, the confirm continuing it — the user's own."""
        token = request.path_params["token"]
        job = None
        if token.isdigit() and len(token) < 12:
            job = await run_action(self.session_maker, request,
                                   lambda session, *, actor: job_of(session, int(token), actor=actor, latest=latest))
        if job is None or job.kind != "import":
            raise HTTPException(status_code=404, detail="导入文件不存在或已过期，请重新上传")
        self._require(request, job.params["kind"])
        return job

    @expose("/import/{token}", methods=["GET"], identity="import-preview")
    async def preview(self, request: Request) -> Response:
        job = await self._import_job(request)
        meta = job.params
        result = ImportResult.from_stored(job.result) if job.state is JobState.DONE and job.result else None
        return await self._page(
            request, "imports/preview.html", title=f"导入{IMPORT_KINDS[meta['kind']].title}", meta=meta,
            token=request.path_params["token"], job=snapshot(job), result=result, shown=SHOWN_PROBLEMS,
            kind_title=IMPORT_KINDS[meta["kind"]].title,
        )

    @expose("/import/{token}/status", methods=["GET"], identity="import-status")
    async def import_status(self, request: Request) -> Response:
        return JSONResponse(snapshot(await self._import_job(request)))

    @expose("/import/{token}/errors", methods=["GET"], identity="import-errors")
    async def errors(self, request: Request) -> Response:
        job = await self._import_job(request)
        spec = IMPORT_KINDS[job.params["kind"]]
        if job.state is not JobState.DONE or not job.result:
            raise HTTPException(status_code=404, detail="请先等待预览完成")
        meta, problems = job.params, ImportResult.from_stored(job.result).problems
        data = b"".join(read_file(self.session_maker, job.parent_id or job.id, "upload"))

        def build(session: Any, *, actor: Any) -> bytes:
            if meta["kind"] == "surveys":
                importer = SurveyImporter(session, actor, survey_in_scope(session, meta["survey_id"], actor))
            else:
                importer = importer_for(session, meta["kind"], actor=actor, project_id=meta["project_id"])
            return error_report(importer, data, meta["file_name"], problems)

        report = await run_action(self.session_maker, request, build)
        return Response(report, media_type=XLSX,
                        headers={"content-disposition": attachment(f"{spec.title}导入错误报告.xlsx")})

    @expose("/import/{token}/confirm", methods=["POST"], identity="import-confirm")
    async def confirm(self, request: Request) -> Response:
        preview = await self._import_job(request, latest=False)  # explicit grant check: this POST writes (A02)
        current = await self._import_job(request)
        if current.state in (JobState.QUEUED, JobState.RUNNING):
            raise HTTPException(status_code=409, detail="该文件正在处理，请稍候")
        meta = {k: v for k, v in preview.params.items() if k not in ("dry_run", "operation", "writes")}
        await self._start(request, meta, dry_run=False, parent_id=preview.id, wait=True)
        return RedirectResponse(request.url_for("admin:view-import-preview", token=str(preview.id)), status_code=303)

    # --- a survey's results ---------------------------------------------------------------------------
    @expose("/survey-results/{survey_id:int}", methods=["GET", "POST"], identity="survey-results")
    async def results(self, request: Request) -> Response:
        if not granted(self, request, "survey", "list"):
            raise HTTPException(status_code=403, detail="没有查看满意度调查的权限")
        survey_id = request.path_params["survey_id"]
        context: dict[str, Any] = {}
        status_code = 200
        if request.method == "POST":  # 整改完成 / 回访: a state change, checked against its grant (A02)
            if not granted(self, request, "corrective-action", "edit"):
                raise HTTPException(status_code=403, detail="没有登记整改的权限")
            form = await request.form()
            try:
                action_id = int(str(form.get("action_id", "0")))
                if form.get("step") == "complete":
                    await run_action(self.session_maker, request, complete_corrective_action, action_id=action_id)
                    context["notice"] = "已登记整改完成，请安排回访"
                else:
                    result = await run_action(self.session_maker, request, follow_up_corrective_action,
                                              action_id=action_id, satisfied=form.get("satisfied") == "1",
                                              note=str(form.get("note", "")), unit=str(form.get("unit", "")))
                    context["notice"] = f"回访已登记：{result.status.label}" + (
                        f"（走访记录 #{result.visit_id}）" if result.visit_id else "")
            except (Refused, ValueError) as refused:
                context["error"] = getattr(refused, "message", "参数无效")
                status_code = refusal_status(refused) if isinstance(refused, Refused) else 400
        results = await run_action(self.session_maker, request, survey_results, survey_id=survey_id)
        return await self._page(
            request, "surveys/results.html", status_code=status_code, title=f"调查结果：{results.title}",
            r=results, can_import=granted(self, request, *IMPORT_KINDS["surveys"].grant),
            can_follow=granted(self, request, "corrective-action", "edit"),
            can_export=granted(self, request, "survey", "export"),
            labels={"comments": label_of(SurveyResponse, "comments"), "respondent": label_of(SurveyResponse, "respondent")},
            **context,
        )

    @expose("/survey-results/{survey_id:int}/xlsx", methods=["GET", "POST"], identity="survey-results-xlsx")
    async def results_xlsx(self, request: Request) -> Response:
        """导出 the results: a POST (audited, with the survey's 导出 grant); a GET exports nothing and offers it."""
        if not granted(self, request, "survey", "export"):
            raise HTTPException(status_code=403, detail="没有导出满意度调查的权限")
        survey_id = request.path_params["survey_id"]
        if not asks_export(request):
            return await confirm_export(self, request, "导出调查结果",
                                        request.url_for("admin:view-survey-results", survey_id=survey_id))
        exported = await run_action(self.session_maker, request, export_survey_results, survey_id=survey_id)
        return Response(exported.content, media_type=XLSX,
                        headers={"content-disposition": attachment(exported.filename)})


def import_job(session: Any, ctx: JobContext) -> Outcome:
    """The handler of an ``import`` job: the preview (``dry_run``) or the import, by the one action of its kind,
    reading the upload stored with the preview."""
    meta = ctx.params
    data = ctx.upload(ctx.job.parent_id)
    if meta["kind"] == "surveys":
        result = import_survey_responses(session, survey_id=meta["survey_id"], data=data, file_name=meta["file_name"],
                                         actor=ctx.actor, dry_run=meta["dry_run"], progress=ctx.progress)
    else:
        result = import_records(session, kind=meta["kind"], data=data, file_name=meta["file_name"], actor=ctx.actor,
                                project_id=meta["project_id"], dry_run=meta["dry_run"], progress=ctx.progress,
                                unmask=meta["unmask"])
    return Outcome(result.stored())
