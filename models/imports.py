"""导入批次: one spreadsheet import, so a re-submitted file is recognised by its hash (X21)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
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

    def __str__(self) -> str:  # 住户问卷.xlsx（2026-11-20）
        started = f"（{self.started_at.astimezone(SHANGHAI):%Y-%m-%d}）" if self.started_at else ""
        return f"{self.file_name}{started}" if self.file_name else super().__str__()
