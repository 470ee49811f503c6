"""导出 for every list: the .xlsx of exactly what the list shows, replacing sqladmin 0.32's export.

sqladmin's export loads every row of the unfiltered table and writes raw values. Here the export builds the
list's own query — scope, search, filters and sort, from the export's address, which carries the query string of
the list it is on (:func:`export_link`; kept in the URL, not in the session cookie, which would outgrow what
browsers keep; the 导出 button posts to that address with the CSRF token, and a GET of it exports nothing) — and
hands it to :func:`actions.export.export_list`, which streams it into an .xlsx (typed cells, personal data masked
unless the role may see it, formulas as text) and audits it.
A big export runs as a 后台任务 (:mod:`admin.views.jobs`): the user gets its progress page and then the file, from
whichever process answers.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anyio
import jinja2
from sqladmin.models import _UNSET
from sqlalchemy import Select, func, select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from actions.errors import Refused
from actions.export import ExportResult, export_columns, export_list
from actions.job_runner import Handler, JobContext, Outcome
from actions.kpis import Drill, describe
from models.db import read_first

from . import drill
from .jobs import job_request, start_job
from .pages import XLSX, asks_export, attachment, confirm_export, run_action

# Up to this many rows the file comes back in the same request; more go to a 后台任务.
INLINE_ROWS = 5_000


def export_link(url_for: Any) -> Any:
    """The templates' ``url_for``, giving the list's 导出 link the list's own query string."""

    @jinja2.pass_context
    def link(context: Any, name: str, /, **path_params: Any) -> Any:
        url = url_for(context, name, **path_params)
        query = context["request"].url.query
        return url.replace(query=query) if name == "admin:export" and query else url

    return link


# Whether the search being built may match personal-data columns by a part of the number (``search_query``):
# only for a role that may see the numbers; for the others a number is matched whole or by its 尾号 (``privacy``).
PII_SEARCH: ContextVar[bool] = ContextVar("wuye_pii_search", default=False)


async def filtered_query(view: Any, request: Request, *, pii_full: bool | None = None) -> Select:
    """What ``ModelView.list`` selects, without paging: scope, filters, sort, search. ``pii_full``: whether the
    user may see personal data (a job passes what was decided when it was asked), else decided here."""
    if pii_full is None:
        pii_full = view.can_view_pii(request) if hasattr(view, "can_view_pii") else False
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
        token = PII_SEARCH.set(pii_full)
        try:
            stmt = view.search_query(stmt=stmt, term=params["search"])
        finally:
            PII_SEARCH.reset(token)
    return stmt



async def export_response(view: Any, request: Request) -> Response:
    """The list as .xlsx, or — when it is long — a 后台任务 whose page shows its progress and then the file."""
    if not asks_export(request):
        back = request.url_for("admin:list", identity=view.identity).replace(query=request.url.query)
        return await confirm_export(view, request, f"导出{view.name_plural}", back)
    with read_first():  # the count and a small export read long and write one audit row at the end
        return await _export(view, request)


async def _export(view: Any, request: Request) -> Response:
    query = await filtered_query(view, request)
    keys = export_keys(view, request)
    # Personal data in full only for a role granted it on this view (the list and details pages' rule).
    unmask = view.can_view_pii(request) if hasattr(view, "can_view_pii") else False
    session_maker = view.session_maker

    def count() -> int:
        with session_maker() as session:
            return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0

    if await anyio.to_thread.run_sync(count) > INLINE_ROWS:
        params = {"view": view.identity, "query": request.url.query, "keys": keys, "unmask": unmask,
                  "operation": f"export:{view.model.__tablename__}"}
        return await start_job(view, request, "export", f"导出{view.name_plural}", params)
    fd, name = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    path = Path(name)

    def work(session: Any, *, actor: Any) -> Any:
        return export_view(session, view, query, keys, unmask=unmask, actor=actor, path=path,
                           filters=dict(request.query_params))

    try:
        result = await run_action(session_maker, request, work)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return file_response(path, result.file_name)


def export_keys(view: Any, request: Request) -> list[str]:
    """The columns the view exports, less the confidential ones this user may not see."""
    hidden = view.hidden_columns(request) if hasattr(view, "hidden_columns") else frozenset()
    return [key for k in view._export_prop_names if (key := k if isinstance(k, str) else k.key) not in hidden]


def export_view(session: Any, view: Any, query: Select, keys: list[str], *, unmask: bool, actor: Any, path: Path,
                filters: dict[str, str], progress: Any = None) -> ExportResult:
    """The action, with the view's columns and title."""
    columns = export_columns(view.model, keys, {k: view._column_labels.get(k, k) for k in keys})
    return export_list(session, query=query, model=view.model, columns=columns, title=view.name_plural, actor=actor,
                       path=path, unmask=unmask, filters=filters, progress=progress,
                       subtitle=_drilled(session, filters.get(drill.PARAMETER), actor))


def _drilled(session: Any, code: str | None, actor: Any) -> str | None:
    """What a 指标明细 list holds, as its page says (「2026-06 已回收问卷 · 锦绣华庭」): the file says which figure
    its rows are, not just 「被调查户」."""
    if not code:
        return None
    try:
        return describe(session, Drill.parse(code), actor=actor)
    except Refused:
        return None  # a code naming nothing exports nothing, under the list's own title


def export_job(views: dict[str, Any]) -> Handler:
    """The handler of an ``export`` job: the list's query built again from the link's query string, as the
    user who asked (their scope), by whichever process runs it."""

    def handle(session: Any, ctx: JobContext) -> Outcome:
        view = views.get(ctx.params["view"])
        if view is None:
            raise Refused("该列表已不存在，无法导出")
        request = job_request(ctx.actor, ctx.params["query"])
        query = asyncio.run(filtered_query(view, request, pii_full=ctx.params["unmask"]))
        result = export_view(session, view, query, ctx.params["keys"], unmask=ctx.params["unmask"], actor=ctx.actor,
                             path=ctx.output, filters=dict(request.query_params), progress=ctx.progress)
        return Outcome({"rows": result.rows, "total": result.total, "truncated": result.truncated,
                        "masked": result.masked}, result.file_name)

    return handle


def file_response(path: Path, name: str) -> Response:
    """The file, deleted once sent."""
    return FileResponse(path, media_type=XLSX, headers={"content-disposition": attachment(name)},
                        background=BackgroundTask(path.unlink, missing_ok=True))
