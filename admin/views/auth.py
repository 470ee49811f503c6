"""Views of accounts, roles and login attempts. Every change is an action of ``actions/accounts.py`` (the
escalation guard, the write, the end of the account's sessions, the operation log, in one transaction); these
views parse the form, ask the same guard before offering a form or a delete button, and show the refusal.

Passwords are only ever typed into the 新密码 field and stored hashed.
"""

from __future__ import annotations

from typing import Any

from sqladmin.authorization import Action
from sqladmin.contrib.rbac import GroupAdmin, build_permission_rows
from sqladmin.i18n import gettext
from sqlalchemy import ColumnElement, select
from starlette.requests import Request
from wtforms import PasswordField
from wtforms.validators import Optional

from actions import accounts
from actions.errors import NotPermitted
from models import LoginAttempt, Role, RoleGrant, User

from .base import (
    DETAIL_OBJ_STATE,
    BooleanFilter,
    ReadOnlyView,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    target_scope_clause,
)
from .pages import request_actor, run_action

NEW_PASSWORD = "new_password"
PERMISSIONS = "permissions"  # GroupAdmin's matrix field


def _ids(values: Any) -> set[int]:
    out: set[int] = set()
    for value in values or []:
        value = getattr(value, "id", value)
        if value in (None, "", "__None"):
            continue
        out.add(int(value))
    return out


def _id(value: Any) -> int | None:
    found = _ids([value])
    return found.pop() if found else None


async def _permitted(view: ScopedModelView, request: Request, guard: Any, **kwargs: Any) -> bool:
    """Does the action's guard let the current user at this record? (A refusal hides the form / button.)"""
    try:
        await run_action(view.session_maker, request, guard, **kwargs)
    except NotPermitted:
        return False
    return True


class RoleAdmin(GroupAdmin, ScopedModelView, model=Role):
    """角色 with its permission matrix, saved by ``accounts.save_role`` (no grant beyond the editor's own)."""

    category = "系统管理"
    icon = "fa-solid fa-user-lock"
    column_list = ["id", "name", "description"]
    # The grants are listed below the fields as the matrix names them (details.html, ``wuye_grants``).
    column_details_list = ["id", "name", "description"]
    column_searchable_list = ["name", "description"]
    column_sortable_list = ["id", "name"]
    column_default_sort = [("name", False)]
    form_columns = ["name", "description"]

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        return (model is not None and await super().check_can_edit(request, model)
                and await _permitted(self, request, accounts.guard_role, role_id=model.id))

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        return (model is not None and await super().check_can_delete(request, model)
                and await _permitted(self, request, accounts.guard_role, role_id=model.id, deleting=True))

    async def insert_model(self, request: Request, data: dict) -> Any:
        return await self._save(request, None, data)

    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        # saved only from the version the form was opened on, like every edited record
        return await self._save(request, int(pk), data, version=data.get("version"))

    async def _save(self, request: Request, role_id: int | None, data: dict, **version: Any) -> Role:
        values = {key: data[key] or "" for key in ("name", "description") if key in data}
        if PERMISSIONS in data:
            values["grants"] = list(data[PERMISSIONS] or [])
            values["offered"] = {c.value for row in build_permission_rows(self._admin_ref) for c in row.choices}
        result = await run_action(self.session_maker, request, accounts.save_role, role_id=role_id, **values, **version)
        return Role(id=result.role_id, name=result.name)

    async def delete_model(self, request: Request, pk: Any) -> None:
        await run_action(self.session_maker, request, accounts.delete_role, role_id=int(pk))

    async def details_context(self, request: Request) -> dict[str, Any]:
        context = await super().details_context(request)
        role = getattr(request.state, DETAIL_OBJ_STATE, None)
        if role is not None:
            rows = await self._run_arbitrary_query(
                select(RoleGrant.identity, RoleGrant.action).where(RoleGrant.group_id == role.id)
            )
            context["wuye_grants"] = role_grants({f"{identity}:{action}" for identity, action in rows},
                                                 self._admin_ref)
        return context


def role_grants(granted: set[str], admin: Any) -> list[tuple[str, str, list[str]]]:
    """A role's grants as the permission matrix names them: (page, its code, [actions]), in the matrix's order.

    Grants the matrix does not offer (checked by a custom page: ``unit:import``, ``work-order:action:dispatch``)
    follow, named after their view and action where the console knows them, else shown as their code.
    """
    shown: dict[str, tuple[str, str, list[str]]] = {}
    offered: set[str] = set()
    for row in build_permission_rows(admin):
        offered.update(choice.value for choice in row.choices)
        actions = [str(choice.label) for choice in row.choices if choice.value in granted]
        if actions:
            shown[row.identity] = (str(row.label), row.identity, actions)
    views = {view.identity: view for view in admin.views if getattr(view, "identity", None)}
    for value in sorted(granted - offered):
        identity, _, action = value.partition(":")
        view = views.get(identity)
        page = str(getattr(view, "name_plural", "") or getattr(view, "name", "") or identity) if view else identity
        shown.setdefault(identity, (page, identity, []))[2].append(_action_label(view, action, views.values()))
    return list(shown.values())


def _custom_actions(view: Any) -> dict[str, Any]:
    return {**getattr(view, "_custom_actions_in_list", {}), **getattr(view, "_custom_actions_in_detail", {})}


def _action_label(view: Any, action: str, views: Any) -> str:
    kind, _, slug = action.partition(":")
    if kind == "action":
        # The view's own action, else the same action of another view (客户诉求 接单 is the 派工单's 接单).
        for candidate in ([view] if view is not None else []) + list(views):
            if label := _custom_actions(candidate).get(slug):
                return str(label)
        return action
    if action in {a.value for a in Action}:
        return gettext(action.capitalize())  # sqladmin's own words: List → 列表, Import → 导入 …
    return action


class UserAdmin(ScopedModelView, model=User):
    category = "系统管理"
    icon = "fa-solid fa-user-shield"
    column_list = ["id", "username", "display_name", "is_superuser", "is_active", "branch", "roles", "last_login_at"]
    column_details_list = ["id", "username", "display_name", "is_superuser", "is_active", "branch", "staff", "roles",
                           "projects", "password_changed_at", "last_login_at", "created_at", "updated_at"]
    column_export_list = ["id", "username", "display_name", "is_superuser", "is_active", "last_login_at"]
    column_searchable_list = ["username", "display_name"]
    column_sortable_list = ["id", "username", "display_name", "is_active", "last_login_at"]
    column_default_sort = [("username", False)]
    column_filters = [BooleanFilter("is_active"), BooleanFilter("is_superuser"), ScopedForeignKeyFilter("branch")]
    form_columns = ["username", "display_name", "is_active", "is_superuser", "branch", "staff", "roles", "projects"]
    form_ajax_refs = ajax_refs(User, "staff")

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        # Accounts have no project of their own: one is seen when it shares a project with the user.
        return target_scope_clause(User, request_actor(request))

    async def scaffold_form(self, rules: list[str] | None = None) -> Any:
        form = await super().scaffold_form(rules)
        password = PasswordField(
            "新密码",
            validators=[Optional()],
            description=f"至少 {accounts.MIN_PASSWORD} 位；修改时留空则不变。设置新密码后该账号须重新登录",
            render_kw={"class": "form-control", "autocomplete": "new-password"},
        )
        return type(form.__name__, (form,), {NEW_PASSWORD: password})

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        return (model is not None and await super().check_can_edit(request, model)
                and await _permitted(self, request, accounts.guard_user, user_id=model.id))

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        return (model is not None and await super().check_can_delete(request, model)
                and await _permitted(self, request, accounts.guard_user, user_id=model.id, deleting=True))

    async def insert_model(self, request: Request, data: dict) -> Any:
        return await self._save(request, None, data)

    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        # saved only from the version the form was opened on, like every edited record
        return await self._save(request, int(pk), data, version=data.get("version"))

    async def _save(self, request: Request, user_id: int | None, data: dict, **version: Any) -> User:
        """The form's fields as the action's arguments; a field the form leaves out stays as it is."""
        values: dict[str, Any] = {key: data[key] for key in ("username", "display_name") if key in data}
        values.update({key: bool(data[key]) for key in ("is_active", "is_superuser") if key in data})
        values.update({f"{key}_id": _id(data[key]) for key in ("branch", "staff") if key in data})
        values.update({f"{key[:-1]}_ids": _ids(data[key]) for key in ("roles", "projects") if key in data})
        result = await run_action(self.session_maker, request, accounts.save_user, user_id=user_id,
                                  password=data.get(NEW_PASSWORD) or None, **values, **version)
        return User(id=result.user_id, username=result.username)

    async def delete_model(self, request: Request, pk: Any) -> None:
        await run_action(self.session_maker, request, accounts.delete_user, user_id=int(pk))


class LoginAttemptAdmin(ReadOnlyView, model=LoginAttempt):
    category = "系统管理"
    icon = "fa-solid fa-right-to-bracket"
    can_export = False
    column_list = ["id", "at", "username", "ip", "success"]
    column_searchable_list = ["username", "ip"]
    column_sortable_list = ["id", "at", "username", "ip", "success"]
    column_default_sort = [("at", True), ("id", True)]
    column_filters = [BooleanFilter("success")]

    def scope_clause(self, request: Request) -> ColumnElement[bool] | None:
        actor = request_actor(request)
        if actor.sees_all:
            return None
        return LoginAttempt.username.in_(select(User.username).where(target_scope_clause(User, actor)))


__all__ = ["LoginAttemptAdmin", "RoleAdmin", "UserAdmin"]
