"""打印单据 (actions.slips): 派工单, 收据, 放行条, 施工人员出入证, 整改通知书 — one standalone page per slip, opened from
the record's page (its button) and, for the 收据, right after 收款."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..forms import read_id
from .pages import run_action


async def slip_page(view: Any, request: Request, fn: Any, param: str, *, pii: bool = True, back_url: str = ""
                    ) -> Response:
    """Print the slip ``fn`` makes of the record ``?<param>=`` of ``view`` (which the user must be able to see)."""
    if not view.has_permission(request, "details"):
        raise HTTPException(status_code=403, detail="没有查看该记录的权限")
    record_id = read_id(request.query_params, "id", view.model.__label__)
    kwargs: dict[str, Any] = {param: record_id}
    if pii:
        kwargs["full"] = view.can_view_pii(request)
    slip = await run_action(view.session_maker, request, fn, **kwargs)
    back = back_url or str(request.url_for("admin:details", identity=view.identity, pk=record_id))
    return await view.templates.TemplateResponse(request, "wuye/slips/slip.html", {"slip": slip, "back_url": back})


def print_url(request: Request, identity: str, record_id: int) -> str:
    return str(request.url_for(f"admin:view-{identity}-print_slip").include_query_params(id=record_id))
