"""What the console's own pages (those beside the model views: 发起催缴, 派工, 计算月度考核, the reports…) share:
the rows ticked on a list, running an action as the requesting user in one transaction, and answering with its
refusal or its file. Their typed input is declared as forms (admin/forms.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from sqladmin import BaseView, Flash
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions.actor import SYSTEM, Actor
from actions.errors import Refused
from models.db import in_turn

from ..forms import PageForm
from ..security import refusal_status

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def request_actor(request: Request) -> Actor:
    """Who is asking: set by the console's authentication for every logged-in request."""
    return getattr(request.state, "actor", None) or SYSTEM


# --- request parameters (the typed ones are declared as forms: admin/forms.py) ------------------------------
def selected_pks(request: Request) -> list[str]:
    """The rows ticked on a list (sqladmin's ``?pks=``)."""
    return [pk for pk in request.query_params.get("pks", "").split(",") if pk]


# --- running actions and answering ---------------------------------------------------------------------------
async def run_action(session_maker: Any, request: Request, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """``fn(session, actor=…, **kwargs)`` in one transaction as the requesting user; committed unless it raised."""
    actor = request_actor(request)

    def work() -> Any:
        with session_maker.begin() as session:
            session.info["actor"] = actor
            return fn(session, actor=actor, **kwargs)

    # Work that reads and then writes (an export and its audit row, under models.db.read_first) waits its turn
    # on SQLite only when a write overtook its read (models.db.in_turn).
    return await anyio.to_thread.run_sync(in_turn, work)


def attachment(name: str) -> str:
    """Content-Disposition of a download named ``name`` (Chinese allowed), with an ASCII fallback name."""
    return f"attachment; filename=\"download{name[name.rfind('.'):]}\"; filename*=UTF-8''{quote(name)}"


async def list_step(view: Any, request: Request, grant: str, fn: Callable[..., Any],
                    fields: type[PageForm] | None = None) -> Response:
    """A POST above a model view's list: the grant, one action called with the ``fields`` the form declares,
    its message, back to the list."""
    view.require(request, grant)
    data = fields.read(await request.form(), actor=request_actor(request)).data if fields else {}
    result = await run_action(view.session_maker, request, fn, **data)
    Flash.success(request, result.message)
    return RedirectResponse(request.url_for("admin:list", identity=view.identity), status_code=303)


# --- one record's step with one text (答复办结, 撤销诉求, 冲正) ---------------------------------------------------------
@dataclass(frozen=True)
class TextStep:
    """A step on one record that takes one text — its page (GET, from the record's page or a list selection) and
    its POST (CSRF checked by the console's authentication, the grant ``action:<name>``): the page says at once why
    the record cannot take the step (``refusal``), the POST reads ``form`` and calls ``fn`` with the record's id as
    ``key``, then goes back to the record with the action's message; a refusal shows the page again with what was
    typed. ``initial(row)``: the form's starting values; ``version``: the form carries the record's version."""

    name: str
    title: str
    intro: str
    field: str
    label: str
    submit: str
    key: str
    fn: Callable[..., Any]
    form: type[PageForm]
    refusal: Callable[[Any], str | None]
    placeholder: str = ""
    version: bool = False
    initial: Callable[[Any], dict[str, str]] | None = None
    caption: Callable[[Any], str] = str  # the record as the page's heading names it

    async def opened(self, view: Any, request: Request) -> Response:
        (row,) = await view.scoped_targets(request, selected_pks(request)[:1])
        values = {self.field: "", **(self.initial(row) if self.initial else {})}
        if self.version:
            values["version"] = str(row.version)
        return await self.page(view, request, row, values, closed=self.refusal(row))

    async def posted(self, view: Any, request: Request) -> Response:
        view.require(request, f"action:{self.name}")
        form = await request.form()
        values = {k: str(form.get(k, "")) for k in (self.key, self.field, "version")}
        (row,) = await view.scoped_targets(request, [values[self.key]])
        try:
            result = await run_action(view.session_maker, request, self.fn, **{self.key: row.id},
                                      **self.form.read(form).data)
        except Refused as refused:
            return await self.page(view, request, row, values, status_code=refusal_status(refused),
                                   error=refused.message)
        Flash.success(request, result.message)
        return RedirectResponse(request.url_for("admin:details", identity=view.identity, pk=row.id), status_code=303)

    async def page(self, view: Any, request: Request, row: Any, values: dict[str, str], *, status_code: int = 200,
                   **context: Any) -> Response:
        return await view.templates.TemplateResponse(request, "wuye/text_step.html", {
            "step": self, "row": row, "caption": self.caption(row), "values": values, "title": self.title,
            "action_url": request.url_for(f"admin:view-{view.identity}-{self.name.replace('-', '_')}_submit"),
            "back": request.url_for("admin:details", identity=view.identity, pk=row.id), **context,
        }, status_code=status_code)


# --- exports -----------------------------------------------------------------------------------------------
def asks_export(request: Request) -> bool:
    """导出 audits, and may queue a 后台任务: a state change, so a POST (its CSRF token checked by the console's
    authentication, as every POST's). A GET of the same address — an old bookmark, a pasted link — exports
    nothing and gets :func:`confirm_export`."""
    return request.method == "POST"


async def confirm_export(view: Any, request: Request, title: str, back_url: Any = None,
                         button: str = "导出") -> Response:
    """What a GET of an export's address answers: nothing exported, a Chinese page saying why, and the POST
    button with the same query (as 退出登录 asks before it acts). ``button``: the page's own button, named."""
    return await view.templates.TemplateResponse(request, "wuye/export_confirm.html", {
        "title": title, "back_url": back_url or request.url_for("admin:index"), "button": button,
    })


def post_too(endpoint: Callable) -> Callable:
    """An ``@action`` (GET only in sqladmin) that also takes the POST of a download it offers (admin.app)."""
    endpoint.post_too = True  # type: ignore[attr-defined]
    return endpoint


def granted(view: Any, request: Request, identity: str, needed: str) -> bool:
    """Whether the user holds a grant — what a page shows depends on it (a button, a column) — asked by a page or
    a model view alike (a model view re-renders a page after a refusal)."""
    return view._authorization_backend().has_permission(request, identity, needed)


class GrantedPage(BaseView):
    """A page whose access is a grant on a model view (``grant``): it has no identity of its own in the role
    matrix."""

    grant: tuple[str, str] = ("bill", "list")

    def has_permission(self, request: Request, action: str, obj: Any | None = None) -> bool:
        identity, needed = self.grant
        return self._authorization_backend().has_permission(request, identity, needed if action == "list" else action, obj)

    @property
    def session_maker(self) -> Any:
        return self._admin_ref.session_maker


_ROUTES: dict[tuple, Any] = {}


def route_url(request: Request, name: str, /, **path_params: Any) -> Any:
    """``request.url_for``, each address looked up among the routes once per console address: a route search walks
    every route, and pages link the same style sheets, buttons and lists again and again. Bounded: links carry
    record ids, and a forged Host header is another address."""
    key = (str(request.base_url), name, *sorted(path_params.items()))
    url = _ROUTES.get(key)
    if url is None:
        if len(_ROUTES) >= 1024:
            _ROUTES.clear()
        url = _ROUTES[key] = request.url_for(name, **path_params)
    return url
