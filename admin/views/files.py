"""一户一档 and 客户档案 pages (``actions.unit_file``): opened from a unit's or a customer's detail page
(button 一户一档 / 客户档案) and from the links of each other; what a section shows follows the user's grants."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actions import unit_file

from ..forms import read_id
from .base import local_datetime
from .pages import granted, run_action


def _may(view: Any, request: Request) -> Any:
    """``may(identity)`` for the sections, read while the request is at hand (the action runs in a thread)."""
    held = {k.key for k in unit_file.KINDS if granted(view, request, k.key, "list")}
    if granted(view, request, "bill", "action:account"):
        held.add("bill")
    return lambda identity: identity in held


async def file_page(view: Any, request: Request, fn: Any, template: str, param: str, what: str) -> Response:
    """Render ``fn``'s file of the record ``?param=`` (a unit or a customer) with what the user may do from it."""
    if not view.has_permission(request, "details"):
        raise HTTPException(status_code=403, detail="没有查看档案的权限")
    record_id = read_id(request.query_params, param, what)
    record = await run_action(view.session_maker, request, fn, may=_may(view, request), **{param: record_id})
    can = {
        "intake": granted(view, request, "service-request", "create"),
        "pay": granted(view, request, "payment", "create") and granted(view, request, "bill", "action:account"),
        "visit": granted(view, request, "visit", "create"),
        "occupant": granted(view, request, "customer", "create") and granted(view, request, "unit-customer", "create"),
    }
    return await view.templates.TemplateResponse(request, f"wuye/files/{template}", {
        "title": "一户一档" if template == "unit.html" else "客户档案", "file": record, "can": can,
        "local": lambda v: local_datetime(v) if hasattr(v, "tzinfo") and hasattr(v, "hour") else (v or ""),
    })


async def unit_page(view: Any, request: Request) -> Response:
    return await file_page(view, request, unit_file.unit_file, "unit.html", "unit_id", "房屋")


async def customer_page(view: Any, request: Request) -> Response:
    return await file_page(view, request, unit_file.customer_file, "customer.html", "customer_id", "客户")
