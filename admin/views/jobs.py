"""我的任务 / 下载中心: the user's 后台任务 (exports, imports) with their progress, outcome and file — answered by
any app process, since the job, its progress and its file live in the database (:mod:`actions.jobs`).

Starting a job (:func:`start_job`) is the one way pages hand long work over: within the per-user and overall
limits (past them: 429 in Chinese), then the page of the job, which polls its progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import anyio
from sqladmin import BaseView, expose
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from actions.actor import Actor
from actions.errors import Refused
from actions.job_runner import LIVE
from actions.jobs import TooManyJobs, enqueue_job, job_of, my_jobs, read_file
from models import Job, JobState, utcnow

from .pages import XLSX, attachment, request_actor, run_action

# How app processes have their jobs run: "thread" (a thread of each process: the default, and SQLite's),
# "worker" (by ``wuye worker`` processes only), "sync" (at once, in the request: the tests).
RUNNER_MODES = ("thread", "worker", "sync")


def job_request(actor: Actor, query: str) -> Request:
    """A stand-in for the request a job was asked with: its query string and its user, which is all a list's
    query is built from (scope, filters, sort, search)."""
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": query.encode(),
                    "state": {"actor": actor}, "path_params": {}})


async def start_job(view: Any, request: Request, kind: str, title: str, params: dict[str, Any], *,
                    upload: Iterable[bytes] = ()) -> Response:
    """Queue a job of the requesting user's and send them to its page; past the limits, 429 in Chinese."""
    job_id = await queue_job(view, request, kind, title, params, upload=upload)
    await wait_for_job(view, request, job_id, 0)
    return RedirectResponse(request.url_for("admin:view-job", job_id=job_id), status_code=303)


async def queue_job(view: Any, request: Request, kind: str, title: str, params: dict[str, Any], *,
                    upload: Iterable[bytes] = (), parent_id: int | None = None) -> int:
    """Queue a job of the requesting user's; past the limits, 429 in Chinese."""
    jobs = view._admin_ref.jobs
    try:
        job_id = await run_action(view._admin_ref.session_maker, request, enqueue_job, kind=kind, title=title,
                                  params=params, settings=jobs.runner.settings, upload=upload, parent_id=parent_id)
    except TooManyJobs as refused:
        raise HTTPException(status_code=429, detail=refused.message) from None
    except Refused as refused:
        raise HTTPException(status_code=404, detail=refused.message) from None
    jobs.runner.wake()
    return job_id


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
        pieces = read_file(self._admin_ref.session_maker, job.id, "result")
        return StreamingResponse(pieces, media_type=XLSX if job.file_name.endswith(".xlsx") else None,
                                 headers={"content-disposition": attachment(job.file_name),
                                          "content-length": str(job.file_size)})
