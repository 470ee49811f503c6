"""导出 for every list: the .xlsx of exactly what the list shows, replacing sqladmin 0.32's export.

sqladmin's export loads every row of the unfiltered table and writes raw values. Here the export builds the
list's own query — scope, search, filters and sort, from the export link, which carries the query string of the
list it is on (:func:`export_link`; kept in the URL, not in the session cookie, which would outgrow what browsers
keep) — and hands it to :func:`actions.export.export_list`, which streams it into
an .xlsx (typed cells, personal data masked unless the role may see it, formulas as text) and audits it.
A big export runs in the background: the user gets a progress page and then the file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import jinja2
from sqladmin.models import _UNSET
from sqlalchemy import Select, func, select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from actions.actor import SYSTEM
from actions.audit import log_operation
from actions.export import export_columns, export_list
from actions.spreadsheets import jobs
from models import OperationStatus
from models.db import in_turn

from .pages import XLSX, attachment

# Up to this many rows the file comes back in the same request; more go to the background.
INLINE_ROWS = 5_000
EXPORT_DIR = Path(tempfile.gettempdir()) / "wuye-exports"
# A finished background export waits this long to be downloaded (as long as its job is kept).
KEEP_SECONDS = jobs.KEEP_SECONDS


def _actor(request: Request):
    return getattr(request.state, "actor", None) or SYSTEM


def export_link(url_for: Any) -> Any:
    """The templates' ``url_for``, giving the list's 导出 link the list's own query string."""

    @jinja2.pass_context
    def link(context: Any, name: str, /, **path_params: Any) -> Any:
        url = url_for(context, name, **path_params)
        query = context["request"].url.query
        return url.replace(query=query) if name == "admin:export" and query else url

    return link


async def filtered_query(view: Any, request: Request) -> Select:
    """What ``ModelView.list`` selects, without paging: scope, filters, sort, search."""
    params = request.query_params
    stmt = view.list_query(request)
    for flt in view.get_filters():
        value = params.get(flt.parameter_name)
        if value or getattr(flt, "default_value", _UNSET) is not _UNSET:
            if getattr(flt, "has_operator", False):
                operation = params.get(f"{flt.parameter_name}_op")
                if operation:
                    stmt = await flt.get_filtered_query(stmt, operation, value, view.model)
            else:
                stmt = await flt.get_filtered_query(stmt, value, view.model)
    stmt = view.sort_query(stmt, request)
    if params.get("search"):
        stmt = view.search_query(stmt=stmt, term=params["search"])
    return stmt



async def export_response(view: Any, request: Request) -> Response:
    """The list as .xlsx, or — when it is long — a progress page that ends with the file."""
    query = await filtered_query(view, request)
    hidden = view.hidden_columns(request) if hasattr(view, "hidden_columns") else frozenset()
    keys = [key for k in view._export_prop_names if (key := k if isinstance(k, str) else k.key) not in hidden]
    columns = export_columns(view.model, keys, {k: view._column_labels.get(k, k) for k in keys})
    # Personal data in full only for a role granted it on this view (the list and details pages' rule).
    unmask = view.can_view_pii(request) if hasattr(view, "can_view_pii") else False
    actor = _actor(request)
    filters = dict(request.query_params)
    session_maker = view.session_maker

    def export(job: jobs.Job | None, path: Path) -> Any:
        with session_maker.begin() as session:
            session.info["actor"] = actor
            return export_list(session, query=query, model=view.model, columns=columns, title=view.name_plural,
                               actor=actor, path=path, unmask=unmask, filters=filters,
                               progress=job.progress if job else None)

    def work(job: jobs.Job | None = None) -> Any:
        # The rows are read, then the audit row written: on SQLite that waits its turn (in_turn). A file not
        # handed out is removed whatever went wrong.
        path = _new_file()
        try:
            return in_turn(lambda: export(job, path))
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def count() -> int:
        with session_maker() as session:
            return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0

    if await anyio.to_thread.run_sync(count) <= INLINE_ROWS:
        result = await anyio.to_thread.run_sync(work)
        return file_response(result.path, result.file_name)

    def failed(job: jobs.Job, exc: BaseException) -> None:
        with session_maker.begin() as session:
            session.info["actor"] = actor
            log_operation(session, f"export:{view.model.__tablename__}", params={"filters": filters}, counts={},
                          status=OperationStatus.FAILED, message=job.message)

    job = jobs.start(f"导出{view.name_plural}", actor.user_id, work, failed)
    return RedirectResponse(request.url_for("admin:view-export-job", job_id=job.id), status_code=303)


def _new_file() -> Path:
    """A fresh file for an export; files older than a job is kept (never downloaded, or left by a process that
    died while writing one) are removed first."""
    EXPORT_DIR.mkdir(exist_ok=True)
    stale = time.time() - KEEP_SECONDS
    for old in EXPORT_DIR.glob("*.xlsx"):
        try:
            if old.stat().st_mtime < stale:
                old.unlink()
        except FileNotFoundError:  # another process removed it first
            pass
    return Path(tempfile.mkstemp(suffix=".xlsx", dir=EXPORT_DIR)[1])


def file_response(path: Path, name: str) -> Response:
    """The file, deleted once sent."""
    return FileResponse(path, media_type=XLSX, headers={"content-disposition": attachment(name)},
                        background=BackgroundTask(path.unlink, missing_ok=True))
