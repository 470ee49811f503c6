"""The audit trail: one row per changed record, login and sensitive read; one row per batch operation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    UTCDateTime,
    col,
    enum_type,
    list_order_indexes,
    searched_among,
    table_label,
    trigram_indexes,
    utcnow,
)


class AuditKind(LabeledEnum):
    INSERT = "insert", "新增"
    UPDATE = "update", "修改"
    DELETE = "delete", "删除"
    LOGIN = "login", "登录"
    LOGIN_FAILED = "login_failed", "登录失败"
    LOGOUT = "logout", "退出"
    EXPORT = "export", "导出"
    VIEW_PII = "view_pii", "查看敏感信息"


class AuditSource(LabeledEnum):
    """Where a recorded change came from: the acting Actor's ``source`` (AuditLog.source)."""

    CONSOLE = "console", "控制台"
    CLI = "cli", "命令行"
    SYSTEM = "system", "系统"
    IMPORT = "import", "导入"
    ACTION = "action", "批量操作"
    SEED = "seed", "初始数据"


class AuditLog(IdMixin, Base):
    """变更记录: written in the same transaction as the change it records, whatever made it."""

    __tablename__ = "audit_log"
    __label__ = "变更记录"
    __table_args__ = (
        Index(None, "table_name", "record_id"),
        # 记录编号 is searched whole (``column_searched_whole``): its parts' n-grams were 12 of the ≈ 57 search-index
        # entries each audit row cost (issue 17)
        Index(None, "record_id", "project_id"),
        # 操作人 is searched among the few names the trail holds (``AuditActor``, ``searched_among``): a part of a
        # name finds the names, the names their rows by this B-tree — one index entry a row where its trigrams and
        # 2-character substrings were ≈ 10 (issue 17)
        Index(None, "actor_name", "project_id"),
        *list_order_indexes("at"),
        # 摘要 too, though every write path adds audit rows: unindexed, each search of 变更记录 scanned it in the
        # list's scope (a project's 200,000 rows: 140–173 ms of CPU on SQLite), the other columns' indexes or not
        *trigram_indexes("audit_log", "summary", within="project_id"),
    )

    at: Mapped[dt.datetime] = col("时间", UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = col("操作人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    actor_name: Mapped[str] = col("操作人姓名", String(64), default="")
    source: Mapped[str] = col("来源", String(32), default="", doc="console / import / action / cli / seed")
    kind: Mapped[AuditKind] = col("类型", enum_type(AuditKind), index=True)
    # shown_as: lists and exports show the table as its records are called (客户诉求, not service_request)
    table_name: Mapped[str] = col("数据表", String(64), default="", info={"shown_as": table_label})
    record_id: Mapped[str] = col("记录编号", String(64), default="")
    project_id: Mapped[int | None] = col("项目", Integer)
    summary: Mapped[str] = col("摘要", String(255), default="")
    changes: Mapped[dict[str, Any]] = col("变更内容", JSON, default=dict)
    ip: Mapped[str] = col("IP地址", String(64), default="")


class AuditActor(Base):
    """An 操作人 the audit trail names: each name an audit row was written with (a user's name then, 命令行, 系统),
    once. Who acts is few — a project group's staff —, the rows are millions: the list's search by 操作人 matches a
    part of these names, then reads the rows of the names it matched (``AuditLog.actor_name``'s B-tree). Written
    with the rows, by the audit trail's writers (``actions.audit``); a name is never taken off (an extra name finds
    no row)."""

    __tablename__ = "audit_actor"
    __label__ = "操作人"

    name: Mapped[str] = col("操作人姓名", String(64), primary_key=True)


searched_among(AuditLog.__table__.c.actor_name, AuditActor.__table__.c.name)


class OperationStatus(LabeledEnum):
    RUNNING = "running", "执行中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"
    REFUSED = "refused", "已拒绝"


class OperationLog(IdMixin, Base):
    """操作日志: one row per batch action, import or export — who, what, parameters, counts."""

    __tablename__ = "operation_log"
    __label__ = "操作日志"
    __table_args__ = (Index(None, "operation", "at"),)

    at: Mapped[dt.datetime] = col("时间", UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = col("操作人", ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    actor_name: Mapped[str] = col("操作人姓名", String(64), default="")
    operation: Mapped[str] = col("操作", String(64))
    project_id: Mapped[int | None] = col("项目", Integer, index=True)
    status: Mapped[OperationStatus] = col("状态", enum_type(OperationStatus), default=OperationStatus.DONE)
    params: Mapped[dict[str, Any]] = col("参数", JSON, default=dict)
    counts: Mapped[dict[str, Any]] = col("结果", JSON, default=dict)
    message: Mapped[str] = col("说明", String(500), default="")


class FormSubmission(IdMixin, Base):
    """A console create form's one-time token, used: which record that form made. The same form sent again (a
    double click, a resend) finds its token here and is answered with that record instead of a second one."""

    __tablename__ = "form_submission"
    __label__ = "表单提交"
    __table_args__ = (UniqueConstraint("token"),)

    token: Mapped[str] = col("表单编号", String(32))
    table_name: Mapped[str] = col("表", String(64))
    record_id: Mapped[int | None] = col("记录", Integer)
    at: Mapped[dt.datetime] = col("时间", UTCDateTime(), default=utcnow)
