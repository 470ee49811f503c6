"""指标明细: the list filter that opens a list on exactly the records behind one figure of the home page, the
trends or the monthly report — the ``actions.kpis`` record set the figure is counted over. The view's own
project scope still applies, so a code naming other projects shows nothing more."""

from __future__ import annotations

from typing import Any

from sqladmin.helpers import slugify_class_name
from sqlalchemy import Select, false
from starlette.requests import Request

from actions.errors import Refused
from actions.kpis import Drill

PARAMETER = "drill"


def drill_url(request: Request, drill: Drill) -> str:
    identity = slugify_class_name(drill.records.model.__name__)
    return str(request.url_for("admin:list", identity=identity).include_query_params(**{PARAMETER: drill.code}))


def describe(drill: Drill) -> str:
    """``2025-09 受理投诉（项目 #1、#2）``."""
    parts = [drill.period, drill.records.label + (f"（{drill.arg}）" if drill.arg else "")]
    return " ".join(p for p in parts if p) + f" · 项目 {'、'.join(f'#{p}' for p in drill.project_ids)}"


class DrillFilter:
    has_operator = False
    template = "wuye/dashboard/_drill_filter.html"
    title = "指标明细"
    parameter_name = PARAMETER

    def bind(self, model: type) -> None:
        self.model = model

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        """Only the active code, to show what the list holds and clear it; nothing to pick from."""
        code = request.query_params.get(PARAMETER)
        if not code:
            return []
        try:
            return [(code, describe(Drill.parse(code)))]
        except Refused as refused:
            return [(code, refused.message)]

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        try:
            drill = Drill.parse(str(value))
            if drill.records.model is not self.model:
                return query.where(false())
            return query.where(drill.where())
        except (Refused, ValueError):
            return query.where(false())  # a code that names nothing selects nothing, never everything
