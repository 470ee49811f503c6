"""导入批次: one spreadsheet import, so a re-submitted file is recognised by its hash (X21)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped

from .base import SHANGHAI, Base, IdMixin, LabeledEnum, UTCDateTime, col, enum_type, utcnow


class BatchStatus(LabeledEnum):
    RUNNING = "running", "导入中"
    DONE = "done", "已导入"
    FAILED = "failed", "失败"


class ImportBatch(IdMixin, Base):
    """导入批次: kind + target + file hash is unique, so the same file is imported once."""

    __tablename__ = "import_batch"
    __label__ = "导入批次"
    __table_args__ = (UniqueConstraint("kind", "target", "file_hash"), Index(None, "started_at"))

    kind: Mapped[str] = col("导入类型", String(32))
    target: Mapped[str] = col("导入目标", String(64), default="", doc="例如 survey:12 或 project:3")
    project_id: Mapped[int | None] = col("项目", ForeignKey("project.id", ondelete="SET NULL"), index=True)
    file_name: Mapped[str] = col("文件名", String(255))
    file_hash: Mapped[str] = col("文件摘要", String(64))
    status: Mapped[BatchStatus] = col("状态", enum_type(BatchStatus), default=BatchStatus.RUNNING)
    started_at: Mapped[dt.datetime] = col("开始时间", UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = col("完成时间", UTCDateTime())
    actor_id: Mapped[int | None] = col("操作人", ForeignKey("user_account.id", ondelete="SET NULL"))
    counts: Mapped[dict[str, Any]] = col("结果", JSON, default=dict)
    # "<project id>:<table>" → its ProjectMark version once this batch was written: the same file previewed again
    # while every version is unchanged gives every row 无变化 without comparing them (issue 17)
    marks: Mapped[dict[str, int] | None] = col("写入后数据版本", JSON, info={"audited": False})

    def __str__(self) -> str:  # 住户问卷.xlsx（2026-11-20）
        started = f"（{self.started_at.astimezone(SHANGHAI):%Y-%m-%d}）" if self.started_at else ""
        return f"{self.file_name}{started}" if self.file_name else super().__str__()


class ProjectMark(Base):
    """项目数据版本: a number per project and table that moves with every write to that table's rows of the project — its 楼栋, 房屋, 员工,
    客户 and 房屋关系, and the project's own row — whatever makes it (an action's flush, an import, a set-based
    UPDATE, a migration): kept by the database (``models.totals.PROJECT_MARKS``), never written by hand. An import
    batch keeps the versions its write left (``ImportBatch.marks``); while they hold, the same file previewed again
    would find every row as that import left it, so it is not compared row by row. No foreign key: a project's
    deletion cascades to its records, whose triggers move its version as they go."""

    __tablename__ = "project_mark"
    __label__ = "项目数据版本"

    project_id: Mapped[int] = col("项目", Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = col("数据表", String(32), primary_key=True, doc="写入的表，如 unit、customer")
    version: Mapped[int] = col("版本", BigInteger, default=0)
