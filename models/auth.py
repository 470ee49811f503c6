"""Login accounts, roles (sqladmin's RBAC groups with their grants) and project scope."""

from __future__ import annotations

import datetime as dt

from sqladmin.contrib.rbac import GroupAccessMixin, GroupMixin, user_group_table
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, relationship

from .base import Base, IdMixin, TimestampMixin, UTCDateTime, VersionedMixin, col
from .org import Branch, Project, Staff

user_role = user_group_table(Base, "user_account", group_table="role", table_name="user_role")

user_project = Table(
    "user_project",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
)


class Role(GroupMixin, VersionedMixin, Base):
    """角色: a named set of grants (view × action), edited in the console's permission matrix."""

    __tablename__ = "role"
    __label__ = "角色"
    __access_model__ = "RoleGrant"

    name: Mapped[str] = col("角色名称", String(64), unique=True, nullable=False)
    description: Mapped[str] = col("说明", String(200), default="")


class RoleGrant(GroupAccessMixin, Base):
    """One grant of a role: ``identity`` is a view's identity, ``action`` list/edit/…/action:<slug>."""

    __tablename__ = "role_grant"
    __label__ = "角色权限"
    __group_table__ = "role"
    __group_model__ = "Role"


class User(IdMixin, TimestampMixin, VersionedMixin, Base):
    """后台账号. Scope: superusers see everything, a branch account all its projects, others their projects."""

    __tablename__ = "user_account"
    __label__ = "账号"

    username: Mapped[str] = col("用户名", String(64), unique=True)
    display_name: Mapped[str] = col("姓名", String(64), default="")
    password_hash: Mapped[str] = col("密码摘要", String(255))
    is_superuser: Mapped[bool] = col("系统管理员", Boolean, default=False)
    is_active: Mapped[bool] = col("启用", Boolean, default=True)
    branch_id: Mapped[int | None] = col(
        "所属分公司", ForeignKey("branch.id", ondelete="SET NULL"), index=True, doc="设置后可查看该分公司全部项目"
    )
    staff_id: Mapped[int | None] = col("对应员工", ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    # Bumped on logout-everywhere, password change and disable: every cookie minted before is void (L04).
    session_epoch: Mapped[int] = col("会话版本", Integer, default=1, server_default="1")
    password_changed_at: Mapped[dt.datetime | None] = col("改密时间", UTCDateTime())
    # Bookkeeping, not an edit of the account: the login itself is in the audit trail (登录).
    last_login_at: Mapped[dt.datetime | None] = col("最近登录", UTCDateTime(), info={"audited": False})

    roles: Mapped[list[Role]] = relationship(secondary=user_role, info={"label": "角色"})
    projects: Mapped[list[Project]] = relationship(secondary=user_project, info={"label": "项目"})
    branch: Mapped[Branch | None] = relationship(info={"label": "所属分公司"})
    staff: Mapped[Staff | None] = relationship(info={"label": "对应员工"})

    def __str__(self) -> str:
        return self.display_name or self.username


class LoginAttempt(IdMixin, Base):
    """Every login try, kept to throttle by account and by address (L01/L02)."""

    __tablename__ = "login_attempt"
    __label__ = "登录尝试"
    __table_args__ = (Index(None, "username", "at"), Index(None, "ip", "at"))

    at: Mapped[dt.datetime] = col("时间", UTCDateTime())
    username: Mapped[str] = col("用户名", String(64))
    ip: Mapped[str] = col("IP地址", String(64))
    success: Mapped[bool] = col("成功", Boolean)
