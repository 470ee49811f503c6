"""Who runs the 后台任务 of this app: the handlers of each kind of job (the export of any list, imports …) and the runner
that claims them — a thread of this process, ``wuye worker`` processes, or the request itself (tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqladmin import Admin

from actions.job_runner import JobRunner

from .views.fees import bills_job, dunning_job, letters_job
from .views.jobs import RUNNER_MODES, report_job
from .views.list_export import export_job
from .views.scoring import compute_job
from .views.spreadsheets import import_job


@dataclass(frozen=True)
class Jobs:
    runner: JobRunner
    mode: str  # one of RUNNER_MODES


def runner_mode_from_env() -> str:
    mode = os.environ.get("WUYE_JOB_RUNNER", "").strip() or "thread"
    if mode not in RUNNER_MODES[:2]:
        raise ValueError(f"WUYE_JOB_RUNNER 应为 thread（由本进程执行后台任务）或 worker（由 wuye worker 执行），当前为 {mode!r}")
    return mode


def install_jobs(admin: Admin, mode: str) -> Jobs:
    """The runner with every kind's handler, on ``admin.jobs`` for the pages that start jobs."""
    views = {view.identity: view for view in admin.views if getattr(view, "is_model", False)}
    handlers = {"export": export_job(views), "import": import_job, "dunning": dunning_job,
                "letters": letters_job(admin.templates.env), "bills": bills_job, "scores": compute_job, "report": report_job}
    admin.jobs = Jobs(JobRunner(admin.session_maker, handlers, heartbeat=mode != "sync"), mode)
    return admin.jobs
