"""指标明细: the list filter that opens a list on exactly the records behind one figure of the home page, the
trends or the monthly report — the ``actions.kpis`` record set the figure is counted over. The view's own
project scope still applies, so a code naming other projects shows nothing more."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqladmin.helpers import slugify_class_name
from sqlalchemy import Select, false
from starlette.requests import Request

from actions.errors import Refused
from actions.kpis import Drill, describe

from .pages import route_url, run_action

PARAMETER = "drill"


def drill_url(request: Request, drill: Drill) -> str:
    url = route_url(request, "admin:list", identity=slugify_class_name(drill.records.model.__name__))
    return f"{url}?{urlencode({PARAMETER: drill.code})}"


class DrillFilter:
    has_operator = False
    template = "wuye/dashboard/_drill_filter.html"
    title = "指标明细"
    parameter_name = PARAMETER

    def bind(self, model: type) -> None:
        self.model = model

    async def caption(self, request: Request, view: Any) -> list[tuple[str, str]]:
        """The sidebar's one entry (``_drill_filter.html``; there is nothing to pick from): the active code and
        what the list holds, in Chinese names (``kpis.describe``, read as the user), to show it and clear it."""
        code = request.query_params.get(PARAMETER)
        if not code:
            return []
        try:
            drill = Drill.parse(code)
        except Refused as refused:
            return [(code, refused.message)]
        return [(code, await run_action(view.session_maker, request, describe, drill=drill))]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        try:
            drill = Drill.parse(str(value))
            if drill.records.model is not self.model:
                return query.where(false())
            return query.where(drill.where())
        except (Refused, ValueError):
            return query.where(false())  # a code that names nothing selects nothing, never everything
