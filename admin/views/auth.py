"""Views of accounts, roles and login attempts, with the escalation guard (A09).

A user who does not see every project (that is, anyone but a 系统管理员) may not:
make or edit a 系统管理员, change their own account's roles, projects, branch or status, grant a role holding
a permission they lack themselves, or give an account a project outside their own scope. Passwords are only
ever typed into the 新密码 field and stored hashed; a new password or a disabled account voids every
session of that account (``session_epoch``, L04).
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

from actions.accounts import MIN_PASSWORD, hash_password
from actions.errors import NotPermitted, Refused
from models import LoginAttempt, Role, RoleGrant, User, user_role, utcnow

from .base import (
    DETAIL_OBJ_STATE,
    BooleanFilter,
    ReadOnlyView,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    target_scope_clause,
)
from .pages import request_actor

NEW_PASSWORD = "new_password"


def _refuse(message: str) -> NotPermitted:
    return NotPermitted(message)


def _ids(values: Any) -> set[int]:
    out: set[int] = set()
    for value in values or []:
        value = getattr(value, "id", value)
        if value in (None, "", "__None"):
            continue
        out.add(int(value))
    return out


async def _own_role_ids(view: ScopedModelView, request: Request) -> set[int]:
    actor = request_actor(request)
    if actor.user_id is None:
        return set()
    rows = await view._run_arbitrary_query(select(user_role.c.group_id).where(user_role.c.user_id == actor.user_id))
    return {row[0] for row in rows}


class RoleAdmin(GroupAdmin, ScopedModelView, model=Role):
    """角色 with its permission matrix. GroupAdmin.can_grant already refuses a grant the editor lacks."""

    category = "系统管理"
    icon = "fa-solid fa-user-lock"
    column_list = ["id", "name", "description"]
    # The grants are listed below the fields as the matrix names them (details.html, ``wuye_grants``).
    column_details_list = ["id", "name", "description"]
    column_searchable_list = ["name", "description"]
    column_sortable_list = ["id", "name"]
    column_default_sort = [("name", False)]
    form_columns = ["name", "description"]

    async def _own_role(self, request: Request, model: Any) -> bool:
        if model is None or request_actor(request).sees_all:
            return False
        return model.id in await _own_role_ids(self, request)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        # Nobody but a 系统管理员 changes a role they hold themselves.
        return not await self._own_role(request, model) and await super().check_can_edit(request, model)

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        return not await self._own_role(request, model) and await super().check_can_delete(request, model)

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
            description=f"至少 {MIN_PASSWORD} 位；修改时留空则不变。设置新密码后该账号须重新登录",
            render_kw={"class": "form-control", "autocomplete": "new-password"},
        )
        return type(form.__name__, (form,), {NEW_PASSWORD: password})

    async def _guarded(self, request: Request, model: Any) -> bool:
        """May the current user touch this account at all? Not a 系统管理员's, nor one holding a permission
        the user lacks — resetting its password would hand that permission over."""
        actor = request_actor(request)
        if model is None:
            return False
        if actor.sees_all or model.id == actor.user_id:
            return True
        if model.is_superuser:
            return False
        rows = await self._run_arbitrary_query(
            select(RoleGrant.identity, RoleGrant.action)
            .join(user_role, user_role.c.group_id == RoleGrant.group_id)
            .where(user_role.c.user_id == model.id)
            .distinct()
        )
        backend = self._authorization_backend()
        return all(backend.has_permission(request, identity, act) for identity, act in rows)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        return await self._guarded(request, model) and await super().check_can_edit(request, model)

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        if model is not None and model.id == request_actor(request).user_id:
            return False  # 不能删除自己的账号
        return await self._guarded(request, model) and await super().check_can_delete(request, model)

    async def on_model_change(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        password = data.pop(NEW_PASSWORD, None) or ""
        actor = request_actor(request)
        kept_projects: set[int] = set()
        if not actor.sees_all:
            await self._guard(data, model, is_created, request)
            if not is_created and "projects" in data:
                # Projects the editor cannot see stay as they are; the editor cannot even see them offered.
                kept_projects = {p.id for p in model.projects if not actor.can_see(p.id)}
        await super().on_model_change(data, model, is_created, request)
        if kept_projects:
            data["projects"] = [str(i) for i in sorted(_ids(data.get("projects")) | kept_projects)]
        if is_created and not password:
            raise Refused("请设置初始密码")
        revoke = False
        if password:
            model.password_hash = hash_password(password)  # Refused("密码至少 8 位") on a short one
            model.password_changed_at = utcnow()
            revoke = True
        if not is_created and model.is_active and data.get("is_active") is False:
            revoke = True
        if revoke and not is_created:
            model.session_epoch = (model.session_epoch or 1) + 1

    async def _guard(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        actor = request_actor(request)
        if data.get("is_superuser") and (is_created or not model.is_superuser):
            raise _refuse("只有系统管理员可以设置系统管理员")
        if not is_created and model.is_superuser:
            raise _refuse("只有系统管理员可以修改系统管理员账号")
        current_roles = set() if is_created else {r.id for r in model.roles}
        current_projects = set() if is_created else {p.id for p in model.projects}
        current_branch = None if is_created else model.branch_id
        if not is_created and model.id == actor.user_id:
            changed = [
                label
                for key, label, before in (
                    ("roles", "角色", current_roles),
                    ("projects", "项目", current_projects),
                )
                if key in data and _ids(data[key]) != before
            ]
            if "is_active" in data and bool(data["is_active"]) != bool(model.is_active):
                changed.append("启用")
            if changed:
                raise _refuse(f"不能修改自己账号的{'、'.join(changed)}")
        if "branch" in data:
            branch = _ids([data["branch"]]) if data["branch"] not in (None, "") else set()
            if branch != ({current_branch} if current_branch is not None else set()):
                raise _refuse("只有系统管理员可以设置所属分公司")
        added = _ids(data.get("roles")) - current_roles if "roles" in data else set()
        if added:
            rows = await self._run_arbitrary_query(
                select(Role.name, RoleGrant.identity, RoleGrant.action)
                .join(RoleGrant, RoleGrant.group_id == Role.id)
                .where(Role.id.in_(sorted(added)))
            )
            backend = self._authorization_backend()
            beyond = sorted({name for name, identity, act in rows if not backend.has_permission(request, identity, act)})
            if beyond:
                raise _refuse(f"不能授予超出自己权限的角色：{'、'.join(beyond)}")
        outside = [p for p in _ids(data.get("projects")) if not actor.can_see(p)]
        if outside:
            raise _refuse("不能授予自己无权访问的项目")


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
