"""我的任务 / 下载中心: the user's 后台任务 (exports, imports) with their progress, outcome and file — answered by
any app process, since the job, its progress and its file live in the database (:mod:`actions.jobs`).

Starting a job (:func:`start_job`) is the one way pages hand long work over: within the per-user and overall
limits (past them: 429 in Chinese), then the page of the job, which polls its progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio
from sqladmin import BaseView, expose
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from actions.accounts import hold_grant
from actions.actor import Actor
from actions.errors import Refused
from actions.job_runner import LIVE, JobContext, Outcome
from actions.jobs import (
    GRANT,
    NoSuchJob,
    QueueLock,
    TooManyJobs,
    enqueue_job,
    file_refusal,
    job_of,
    my_jobs,
    read_file,
)
from actions.kernel.scope import visible_project
from models import Job, JobState, utcnow

from ..forms import IdField, PageForm
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

# How app processes have their jobs run: "thread" (a thread of each process: the default, and SQLite's),
# "worker" (by ``wuye worker`` processes only), "sync" (at once, in the request: the tests).
RUNNER_MODES = ("thread", "worker", "sync")
# How long a page that started a run (催缴, 生成账单, 计算考核) waits for it before showing its progress page: a
# small run's page shows its outcome at once.
JOB_WAIT = 3.0


def job_request(actor: Actor, query: str) -> Request:
    """A stand-in for the request a job was asked with: its query string and its user, which is all a list's
    query is built from (scope, filters, sort, search)."""
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": query.encode(),
                    "state": {"actor": actor}, "path_params": {}})


async def start_job(view: Any, request: Request, kind: str, title: str, params: dict[str, Any], *,
                    upload: Iterable[bytes] = (), locks: Locks | None = None, wait: float = 0) -> Response:
    """Queue a job of the requesting user's and send them to its page (after up to ``wait`` seconds, so a
    small job's page shows its outcome at once); past the limits, 429 in Chinese."""
    job_id = await queue_job(view, request, kind, title, params, upload=upload, locks=locks)
    await wait_for_job(view, request, job_id, wait)
    return RedirectResponse(request.url_for("admin:view-job", job_id=job_id), status_code=303)


# An action ``(session, *, actor) → QueueLock | [QueueLock]``: the checks of what the job will do (scope, grant,
# dates — refused before anything is queued) and the queueing locks it holds while queued or running.
Locks = Callable[..., QueueLock | list[QueueLock]]


async def queue_job(view: Any, request: Request, kind: str, title: str, params: dict[str, Any], *,
                    upload: Iterable[bytes] = (), parent_id: int | None = None, locks: Locks | None = None) -> int:
    """Queue a job of the requesting user's, in one transaction with ``locks``' checks; past the limits, 429 in
    Chinese; the checks' refusals and :class:`actions.jobs.JobBusy` (the same run under way) are the caller's
    to show."""
    jobs = view._admin_ref.jobs

    def enqueue(session: Any, *, actor: Actor) -> int:
        held = locks(session, actor=actor) if locks else []
        return enqueue_job(session, kind=kind, title=title, params=params, actor=actor, settings=jobs.runner.settings,
                           upload=upload, parent_id=parent_id, locks=[held] if isinstance(held, QueueLock) else held)

    try:
        job_id = await run_action(view._admin_ref.session_maker, request, enqueue)
    except TooManyJobs as refused:
        raise HTTPException(status_code=429, detail=refused.message) from None
    except NoSuchJob as refused:
        raise HTTPException(status_code=404, detail=refused.message) from None
    jobs.runner.wake()
    return job_id


def job_link(label: str, route: str, query: str = "", **path_params: Any) -> dict[str, Any]:
    """A link a job's page offers once it is done (to the run it made, its results …), kept in the job's result."""
    return {"label": label, "route": route, "params": path_params, "query": query}


async def wait_for_job(view: Any, request: Request, job_id: int, seconds: float) -> None:
    """Run the job now (tests), or give it up to ``seconds`` to finish, so a small one's page shows its outcome
    at once rather than a progress bar."""
    jobs = view._admin_ref.jobs
    if jobs.mode == "sync":
        await anyio.to_thread.run_sync(jobs.runner.run_pending)
        return
    deadline = anyio.current_time() + seconds
    while anyio.current_time() < deadline:
        job = await run_action(view._admin_ref.session_maker, request,
                               lambda session, *, actor: job_of(session, job_id, actor=actor))
        if job is None or job.state not in (JobState.QUEUED, JobState.RUNNING):
            return
        await anyio.sleep(0.2)


@dataclass(frozen=True)
class Report:
    title: str
    # (session, actor, the page's query) → (content, file name): the page's parameters read again, its action
    build: Callable[[Any, Actor, QueryParams], tuple[bytes, str]]
    # The console's grant ``(identity, action)`` exporting it takes: checked by :func:`start_report`, held when its
    # job is queued and noted in the job, whose file is refused once its user no longer holds it (file_refusal).
    grant: tuple[str, str]


# The reports whose .xlsx is a 后台任务 (收费率, 欠费账龄, 投诉统计, 部门日报, 月度报告, 考核结果 …), by name.
REPORTS: dict[str, Report] = {}


def report_export(name: str, title: str, *, grant: tuple[str, str]) -> Callable:
    """Declare a report's .xlsx export, built by the decorated function in a job (:func:`start_report`), and the
    grant exporting it takes (e.g. ``("bill", "export")``)."""

    def register(build: Callable[[Any, Actor, QueryParams], tuple[bytes, str]]) -> Callable:
        REPORTS[name] = Report(title, build, grant)
        return build

    return register


def may_export(view: Any, request: Request, name: str) -> bool:
    """Whether report ``name``'s page offers its 导出 button: the grant its registration names — the one
    :func:`start_report` and the job's file check — so the button is never shown to someone then refused."""
    return granted(view, request, *REPORTS[name].grant)


class ReportForm(PageForm):
    """The one parameter every report's query is checked for before its job is queued."""

    project_id = IdField("项目")


async def start_report(view: Any, request: Request, name: str, back_url: Any = None) -> Response:
    """A report's .xlsx as a 后台任务 — a branch's year of figures can be big — built from the page's own query
    string as the user who asked (their scope): its page, then the download (also in 「我的任务」). Asked by a
    POST (the 导出 button's form, whose address carries the page's query); a GET queues nothing and offers the
    POST, then goes back to ``back_url`` (default: the report's page, its query without ``export``). Without the
    report's grant: 403, nothing queued."""
    report = REPORTS[name]
    if not granted(view, request, *report.grant):
        raise HTTPException(status_code=403, detail="没有导出的权限")
    if not asks_export(request):
        back = back_url or (request.url.remove_query_params("export") if "export" in request.query_params else None)
        return await confirm_export(view, request, f"导出{report.title}", back)

    def check(session: Any, *, actor: Actor) -> list[QueueLock]:
        """The grant (the account's roles as stored now) and a report of a project not the user's are refused
        before anything is queued (the rest of its checks are the report's action's, in the job)."""
        hold_grant(session, actor, *report.grant, f"导出{report.title}")
        project_id = ReportForm.read(request.query_params).project_id.data
        if project_id is not None:
            visible_project(session, actor, project_id)
        return []

    try:
        return await start_job(view, request, "report", f"导出{report.title}",
                               {"report": name, "query": request.url.query, GRANT: list(report.grant)},
                               wait=JOB_WAIT, locks=check)
    except Refused as refused:
        raise HTTPException(status_code=refusal_status(refused), detail=refused.message) from None


def report_job(session: Any, ctx: JobContext) -> Outcome:
    """The handler of a ``report`` job."""
    report = REPORTS.get(ctx.params["report"])
    if report is None:
        raise Refused("该报表已不存在，无法导出")
    content, file_name = report.build(session, ctx.actor, QueryParams(ctx.params["query"]))
    ctx.output.write_bytes(content)
    return Outcome({"message": f"已导出{report.title}"}, file_name)


def snapshot(job: Job) -> dict[str, Any]:
    """What the progress bar shows (static/js/wuye-progress.js polls it)."""
    stage, done, total = LIVE.get(job.id) or (job.stage, job.done, job.total)
    active = job.state in (JobState.QUEUED, JobState.RUNNING)
    percent = round(100 * done / total) if total else (0 if active else 100)
    end = job.finished_at or utcnow()
    seconds = (end - job.started_at).total_seconds() if job.started_at else 0
    return {"id": job.id, "title": job.title, "state": job.state.value, "state_label": job.state.label,
            "stage": stage, "done": done, "total": total, "percent": min(100, percent),
            "message": job.error, "seconds": round(seconds, 1)}


def file_kept(job: Job) -> bool:
    return job.state is JobState.DONE and job.file_size > 0 and (job.expires_at is None or job.expires_at > utcnow())


class JobPages(BaseView):
    name = "我的任务"
    category = "导入导出"
    icon = "fa-solid fa-list-check"

    def is_accessible(self, request: Request) -> bool:
        return request_actor(request).user_id is not None  # every user's own jobs, nobody else's

    async def _job(self, request: Request) -> Job:
        raw = request.path_params["job_id"]
        job = None
        if raw.isdigit() and len(raw) < 12:
            job = await run_action(self._admin_ref.session_maker, request,
                                   lambda session, *, actor: job_of(session, int(raw), actor=actor))
        if job is None:
            raise HTTPException(status_code=404, detail="任务不存在或不是您发起的")
        return job

    @expose("/jobs", methods=["GET"], identity="jobs")
    async def index(self, request: Request) -> Response:
        from .base import local_datetime  # base imports the export, which starts jobs from here

        jobs = await run_action(self._admin_ref.session_maker, request, my_jobs)
        return await self.templates.TemplateResponse(request, "wuye/jobs/list.html", {
            "title": "我的任务 / 下载中心", "jobs": [(job, snapshot(job), file_kept(job)) for job in jobs],
            "local": lambda v: local_datetime(v) if isinstance(v, dt.datetime) else "",
        })

    @expose("/jobs/{job_id}", methods=["GET"], identity="job")
    async def page(self, request: Request) -> Response:
        from .base import local_datetime

        job = await self._job(request)
        if job.kind.startswith("import") and job.params.get("token"):  # an import shows on its preview page
            return RedirectResponse(request.url_for("admin:view-import-preview", token=job.params["token"]), 303)
        return await self.templates.TemplateResponse(request, "wuye/jobs/job.html", {
            "title": job.title, "job": snapshot(job), "result": job.result or {}, "file_name": job.file_name,
            "kept": file_kept(job), "expires": local_datetime(job.expires_at) if job.expires_at else "",
        })

    @expose("/jobs/{job_id}/status", methods=["GET"], identity="job-status")
    async def status(self, request: Request) -> Response:
        return JSONResponse(snapshot(await self._job(request)))

    @expose("/jobs/{job_id}/file", methods=["GET"], identity="job-file")
    async def file(self, request: Request) -> Response:
        job = await self._job(request)
        if not file_kept(job):
            raise HTTPException(status_code=404, detail="文件不存在或已过期，请重新导出")
        try:
            await run_action(self._admin_ref.session_maker, request, file_refusal, job=job)
        except Refused as refused:
            raise HTTPException(status_code=refusal_status(refused), detail=refused.message) from None
        pieces = read_file(self._admin_ref.session_maker, job.id, "result")
        return StreamingResponse(pieces, media_type=XLSX if job.file_name.endswith(".xlsx") else None,
                                 headers={"content-disposition": attachment(job.file_name),
                                          "content-length": str(job.file_size)})
