"""Views of 业主档案: customers and their links to units. ID number and phone are masked outside the detail
page, and there shown in full only to roles granted ``action:view-pii`` on 客户 (audited)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from sqladmin import expose
from sqlalchemy import Select
from sqlalchemy.orm import selectinload
from starlette.requests import Request
from starlette.responses import Response

from actions import units
from actions.actor import Actor
from models import Customer, Unit, UnitCustomer

from .base import BooleanFilter, EnumFilter, ScopedForeignKeyFilter, ScopedModelView, ajax_refs
from .files import customer_page

CURRENT_UNITS = "current_units"  # the list's 房屋 column: no attribute of the customer, read for the page at once


def _unit_links(model: Any, _name: Any) -> list[str]:
    return [f"{link.unit}（{link.relation.label}）" for link in model.unit_links]


def _current_units(model: Any, _name: Any, request: Request) -> Markup:
    """1栋-101（业主）、商业街-S-12（商户）: a unit is not broken across lines (8 / 栋-2202) in the list's narrow
    cell; its relation may go to the next line, so that the list still fits the screen."""
    shown = (getattr(request.state, "page_extra", None) or {}).get(model.id, ())
    return Markup("、").join(Markup('<span class="text-nowrap">{}</span>（{}）').format(unit, relation)
                            for unit, relation in shown)


class CustomerAdmin(ScopedModelView, model=Customer):
    category = "客户档案"
    icon = "fa-solid fa-address-card"
    column_list = ["id", "project", "name", CURRENT_UNITS, "kind", "phone", "id_number", "emergency_contact",
                   "created_at"]
    column_labels = {CURRENT_UNITS: Unit.__label__}
    column_export_list = ["id", "project", "name", "kind", "phone", "id_number", "emergency_contact", "created_at"]
    # 手机号 is searched (callers give it); 身份证号 is not, so a search cannot probe ID numbers.
    column_searchable_list = ["name", "phone"]
    column_sortable_list = ["id", "name", "kind", "created_at"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("kind")]
    form_columns = ["project", "name", "kind", "phone", "id_number", "vip", "emergency_contact", "note"]
    confidential_columns = ("vip",)
    column_formatters = {CURRENT_UNITS: _current_units}
    column_formatters_detail = {"unit_links": _unit_links}

    def page_extra(self, session: Any, actor: Actor, rows: list[Any]) -> Any:
        """The units each customer of the page lives in now (1栋-101（业主）): the desk finds a caller by name or
        尾号 and sees which unit he is — one query for the page, within the user's projects."""
        return units.current_units(session, customer_ids=[row.id for row in rows], actor=actor)

    def details_query(self, request: Request) -> Select:
        # The 房屋 of a customer are shown as 楼栋-房号（关系）: load them with the links.
        links = selectinload(Customer.unit_links)
        return super().details_query(request).options(links.selectinload(UnitCustomer.unit).selectinload(Unit.building))

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        url = request.url_for("admin:view-customer-file_page").include_query_params(customer_id=obj.id)
        return [("客户档案", str(url))]

    @expose("/file", methods=["GET"])
    async def file_page(self, request: Request) -> Response:
        """客户档案: the customer's units and accounts, requests, visits, notices …"""
        return await customer_page(self, request)


class UnitCustomerAdmin(ScopedModelView, model=UnitCustomer):
    category = "客户档案"
    icon = "fa-solid fa-people-roof"
    column_list = ["id", "project", "unit", "customer", "relation", "is_primary", "start_date", "end_date"]
    column_searchable_list = ["customer.name", "unit.room_no"]
    column_sortable_list = ["id", "relation", "is_primary", "start_date", "end_date"]
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("relation"), BooleanFilter("is_primary")]
    form_columns = ["project", "unit", "customer", "relation", "is_primary", "start_date", "end_date"]
    form_ajax_refs = ajax_refs(UnitCustomer, "unit", "customer")
