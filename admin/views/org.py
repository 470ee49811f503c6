"""Views of the organisation: branches, projects, phases, buildings, units, parking spaces, departments, staff."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from sqladmin import Flash, expose
from sqlalchemy import ColumnElement
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import units
from actions.actor import Actor
from actions.errors import Refused
from actions.form_tokens import new_form_token
from actions.kernel.posts import BUTLER_POSITIONS, COLLECTING_POSITIONS
from models import (
    Branch,
    Building,
    Customer,
    Department,
    ParkingSpace,
    Phase,
    Project,
    Staff,
    Unit,
    UnitCustomer,
    UnitRelation,
    label_of,
)

from ..forms import DateField, EnumField, FlagField, IdField, PageForm, TextField, read_id
from ..security import refusal_status
from .base import (
    BooleanFilter,
    EnumFilter,
    OperationColumnFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    target_scope_clause,
)
from .files import unit_page
from .pages import granted, request_actor, run_action


class OccupantForm(PageForm):
    """登记住户 (``units.add_occupant``)."""

    unit_id = IdField(label_of(UnitCustomer, "unit"), required=True)
    name = TextField(label_of(Customer, "name"))
    phone = TextField(label_of(Customer, "phone"))
    id_number = TextField(label_of(Customer, "id_number"))
    relation = EnumField(UnitRelation, label_of(UnitCustomer, "relation"), required=True)
    start_date = DateField(label_of(UnitCustomer, "start_date"))
    is_primary = FlagField(label_of(UnitCustomer, "is_primary"))
    form_token = TextField("表单")


class BranchAdmin(ScopedModelView, model=Branch):
    category = "系统管理"
    icon = "fa-solid fa-sitemap"
    column_list = ["id", "name", "company", "created_at"]
    column_details_exclude_list = ["projects"]  # would name projects outside the user's scope
    column_searchable_list = ["name", "company"]
    column_sortable_list = ["id", "name", "created_at"]
    column_default_sort = [("name", False)]
    form_columns = ["name", "company"]

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        # A branch is seen by whoever sees one of its projects.
        return target_scope_clause(Branch, request_actor(request))


class ProjectAdmin(ScopedModelView, model=Project):
    category = "客户档案"
    icon = "fa-solid fa-city"
    column_list = ["id", "name", "kind", "branch", "address", "phone", "company"]
    column_searchable_list = ["name", "address"]
    column_sortable_list = ["id", "name", "kind"]
    column_default_sort = [("name", False)]
    column_filters = [EnumFilter("kind"), ScopedForeignKeyFilter("branch")]
    form_columns = ["branch", "name", "kind", "address", "phone", "company"]

    @classmethod
    def project_column(cls):
        return Project.id  # a project is in scope when it is one of the user's projects


class PhaseAdmin(ScopedModelView, model=Phase):
    category = "客户档案"
    icon = "fa-solid fa-layer-group"
    column_list = ["id", "project", "name"]
    column_searchable_list = ["name", "project.name"]
    column_sortable_list = ["id", "name"]
    column_default_sort = [("project_id", False), ("name", False)]
    column_filters = [ScopedForeignKeyFilter("project")]
    form_columns = ["project", "name"]


class BuildingAdmin(ScopedModelView, model=Building):
    category = "客户档案"
    icon = "fa-solid fa-building"
    column_list = ["id", "project", "phase", "name", "floors", "butler"]
    column_searchable_list = ["name", "butler.name"]
    column_sortable_list = ["id", "name", "floors"]
    column_default_sort = [("project_id", False), ("name", False)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("phase"),
                      ScopedForeignKeyFilter("butler")]
    form_columns = ["project", "phase", "name", "floors", "butler"]
    form_ajax_refs = ajax_refs(Building, "butler")


OCCUPANTS = "occupants"  # the unit list's 客户 column: read for the page at once (``page_extra``)


def _occupants(model: Any, _name: Any, request: Request) -> Markup:
    """陈静（业主）、陈晓（家庭成员）: a name is not broken across lines, the list of them may wrap."""
    shown = (getattr(request.state, "page_extra", None) or {}).get(model.id, ())
    return Markup("、").join(Markup('<span class="text-nowrap">{}</span>（{}）').format(name, relation)
                            for name, relation in shown)


class UnitAdmin(ScopedModelView, model=Unit):
    category = "客户档案"
    icon = "fa-solid fa-house"
    # 楼栋, 房号 and who lives there first: a butler on patrol reads them on a phone, where the table scrolls
    # sideways and the last columns are a swipe away (编号 last; 项目 only for who sees several projects)
    column_list = ["building", "room_no", OCCUPANTS, "status", "project", "kind", "area", "butler", "id"]
    column_labels = {OCCUPANTS: Customer.__label__}
    column_formatters = {OCCUPANTS: _occupants}
    column_export_list = ["id", "project", "building", "room_no", "kind", "status", "area", "butler"]
    column_searchable_list = ["room_no", "building.name"]
    column_sortable_list = ["id", "room_no", "kind", "status", "area", "handover_date", "move_in_date"]
    column_default_sort = [("building.name", False), ("room_no", False)]  # 2栋 before 10栋, 903 before 1303
    column_filters = [
        ScopedForeignKeyFilter("project"),
        ScopedForeignKeyFilter("building"),
        EnumFilter("kind"),
        EnumFilter("status"),
        ScopedForeignKeyFilter("butler"),
        BooleanFilter("key_tenant"),
        OperationColumnFilter("handover_date"),
    ]
    form_columns = ["project", "building", "room_no", "kind", "status", "area", "handover_date", "move_in_date",
                    "butler", "collector", "key_tenant"]
    # 责任管家 a 楼宇管家, 责任收费员 a 收费员 or the front desk (as the units import holds them), active
    form_ajax_refs = ajax_refs(
        Unit, "building", "butler", "collector",
        butler={"where": [Staff.position.in_(BUTLER_POSITIONS), Staff.active.is_(True)]},
        collector={"where": [Staff.position.in_(COLLECTING_POSITIONS), Staff.active.is_(True)]},
    )
    # 楼宇管家 keep their units' state (空置 → 已交房 → 装修中 → 已入住, and the dates); the unit itself, its area
    # and who is responsible for it are master data, changed only by roles that may also create units.
    limited_form_columns = ("status", "handover_date", "move_in_date")

    def page_extra(self, session: Any, actor: Actor, rows: list[Any]) -> Any:
        return units.current_occupants(session, unit_ids=[row.id for row in rows], actor=actor)

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        return [("一户一档", str(request.url_for("admin:view-unit-file_page").include_query_params(unit_id=obj.id)))]

    @expose("/file", methods=["GET"])
    async def file_page(self, request: Request) -> Response:
        """一户一档: owners, account, requests and orders, visits, notices, ledgers of one unit."""
        return await unit_page(self, request)

    @expose("/occupant", methods=["GET", "POST"])
    async def occupant_page(self, request: Request) -> Response:
        """登记住户: a tenant, family member or new owner of the unit, customer and link in one form."""
        if not (granted(self, request, "customer", "create") and granted(self, request, "unit-customer", "create")):
            raise HTTPException(status_code=403, detail="没有登记住户的权限")
        source = await request.form() if request.method == "POST" else request.query_params
        unit_id = read_id(source, "unit_id", Unit.__label__)
        values = {name: str(source.get(name, "")) for name in OccupantForm().data}
        values["relation"] = values["relation"] or UnitRelation.TENANT.value
        values["form_token"] = values["form_token"] or new_form_token()
        error, status_code = "", 200
        if request.method == "POST":
            try:
                data = OccupantForm.read(source, actor=request_actor(request)).data
                result = await run_action(self.session_maker, request, units.add_occupant, **data)
            except Refused as refused:
                error, status_code = refused.message, refusal_status(refused)
            else:
                Flash.success(request, result.message)
                url = request.url_for("admin:view-unit-file_page").include_query_params(unit_id=unit_id)
                return RedirectResponse(url, status_code=303)
        title = await run_action(self.session_maker, request, units.occupant_unit, unit_id=unit_id)
        return await self.templates.TemplateResponse(request, "wuye/files/occupant.html", {
            "title": f"登记住户：{title}", "values": values, "error": error, "unit_id": unit_id,
            "relations": UnitRelation.choices(),
        }, status_code=status_code)


class ParkingSpaceAdmin(ScopedModelView, model=ParkingSpace):
    category = "客户档案"
    icon = "fa-solid fa-square-parking"
    column_list = ["id", "project", "code", "area_name", "unit", "plate_no", "is_rented"]
    column_searchable_list = ["code", "plate_no", "area_name"]
    column_sortable_list = ["id", "code", "area_name", "is_rented"]
    column_default_sort = [("code", False)]
    column_filters = [ScopedForeignKeyFilter("project"), BooleanFilter("is_rented")]
    form_columns = ["project", "code", "area_name", "unit", "plate_no", "is_rented"]
    form_ajax_refs = ajax_refs(ParkingSpace, "unit")


class DepartmentAdmin(ScopedModelView, model=Department):
    category = "系统管理"
    icon = "fa-solid fa-people-group"
    shared_rows_visible = True  # 项目为空的部门由所有项目共用
    column_list = ["id", "name", "kind", "project", "active"]
    column_searchable_list = ["name"]
    column_sortable_list = ["id", "name", "kind", "active"]
    column_default_sort = [("kind", False), ("name", False)]
    column_filters = [EnumFilter("kind"), ScopedForeignKeyFilter("project"), BooleanFilter("active")]
    form_columns = ["project", "name", "kind", "active"]


class StaffAdmin(ScopedModelView, model=Staff):
    category = "系统管理"
    icon = "fa-solid fa-id-badge"
    column_list = ["id", "project", "employee_no", "name", "position", "department", "phone", "active"]
    column_searchable_list = ["name", "employee_no", "phone"]
    column_sortable_list = ["id", "employee_no", "name", "position", "hired_on", "active"]
    column_default_sort = [("employee_no", False)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("position"),
        ScopedForeignKeyFilter("department"),
        BooleanFilter("active"),
    ]
    form_columns = ["project", "employee_no", "name", "phone", "position", "department", "hired_on", "active"]

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        """The staff member's 培训记录 (sessions attended, test scores): the attendance list filtered by them."""
        url = request.url_for("admin:list", identity="training-attendance").include_query_params(staff_id=obj.id)
        return [("培训记录", str(url))]
