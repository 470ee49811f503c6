"""楼宇周报: the butler's weekly statistics of what their buildings reported (actions/building_week.py), on screen and
printable."""

from __future__ import annotations

from typing import Any

from sqladmin import expose
from starlette.requests import Request
from starlette.responses import Response

from actions import building_week, scores
from models import Building, ServiceRequest, label_of

from ..forms import DateField, IdField, PageForm, ProjectField
from .pages import GrantedPage, request_actor, run_action


class WeekForm(PageForm):
    project_id = ProjectField(label_of(ServiceRequest, "project"))
    butler_id = IdField(label_of(Building, "butler"))
    week = DateField("周")


class BuildingWeekPage(GrantedPage):
    name = "楼宇周报"
    icon = "fa-solid fa-building-circle-check"
    category = "客服工单"
    grant = ("service-request", "list")

    @expose("/building-week", methods=["GET"], identity="building-week")
    async def building_week_page(self, request: Request) -> Response:
        query = request.query_params
        fields = WeekForm.read(query, actor=request_actor(request))

        def load(session: Any, *, actor: Any) -> dict[str, Any]:
            projects = scores.project_choices(session, actor=actor)
            project_id = fields.project_id.data or (projects[0].id if projects else None)
            if project_id is None:
                return {"projects": projects, "project_id": None, "butlers": None, "report": None}
            butlers = building_week.butlers(session, project_id=project_id, actor=actor)
            # A butler's report opens on their own buildings; 全部 (an empty choice) shows every building.
            butler_id = fields.butler_id.data if "butler_id" in query else butlers.own
            report = building_week.building_week(session, project_id=project_id, butler_id=butler_id, actor=actor,
                                                 week=fields.week.data)
            return {"projects": projects, "project_id": project_id, "butlers": butlers, "report": report}

        context = await run_action(self.session_maker, request, load)
        template = "building_week_print.html" if query.get("print") == "1" and context["report"] else "building_week.html"
        return await self.templates.TemplateResponse(request, f"wuye/orders/{template}", context)
