"""Big imports and exports in a background thread, with progress the console polls.

A file of tens of thousands of rows takes seconds to minutes: the request that starts it returns at once
and the page asks for :meth:`Job.snapshot` every second. The work itself is the ordinary action in its own
transaction; its outcome is kept where every action keeps it — the operation log (and the import batch).
Jobs live in this process's memory, bound to the user who started them, and are forgotten after a day.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Refused

log = logging.getLogger(__name__)
KEEP_SECONDS = 24 * 3600


@dataclass
class Job:
    id: str
    user_id: int | None
    title: str
    state: str = "running"  # running / done / refused / failed
    stage: str = "排队中"
    done: int = 0
    total: int = 0
    result: Any = None
    message: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None
    thread: threading.Thread | None = None

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total

    def snapshot(self) -> dict[str, Any]:
        percent = round(100 * self.done / self.total) if self.total else (100 if self.state != "running" else 0)
        return {"id": self.id, "title": self.title, "state": self.state, "stage": self.stage, "done": self.done,
                "total": self.total, "percent": percent, "message": self.message,
                "seconds": round((self.finished or time.time()) - self.started, 1)}


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def start(title: str, user_id: int | None, work: Callable[[Job], Any],
          on_failure: Callable[[Job, BaseException], None] | None = None) -> Job:
    """Run ``work(job)`` in a thread; its return value becomes ``job.result``.

    A :class:`Refused` ends the job as refused with its message; any other exception as failed, reported to
    ``on_failure`` (which records it) and logged.
    """
    job = Job(secrets.token_urlsafe(12), user_id, title)

    def run() -> None:
        try:
            job.result = work(job)
            job.state = "done"
        except Refused as refused:
            job.state, job.message = "refused", refused.message
        except Exception as exc:  # the console shows it; the log keeps the trace
            log.exception("background job %s failed", title)
            job.state, job.message = "failed", f"{title}失败：{exc.__class__.__name__}"
            if on_failure is not None:
                on_failure(job, exc)
        finally:
            job.finished = time.time()

    with _lock:
        now = time.time()
        for key in [k for k, j in _jobs.items() if j.finished and now - j.finished > KEEP_SECONDS]:
            del _jobs[key]
        _jobs[job.id] = job
    job.thread = threading.Thread(target=run, name=f"job-{job.id}", daemon=True)
    job.thread.start()
    return job


def get(job_id: str, user_id: int | None) -> Job | None:
    """The job, if it exists and belongs to ``user_id``."""
    job = _jobs.get(job_id)
    return job if job is not None and job.user_id == user_id else None
