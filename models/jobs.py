"""后台任务: long work (an export, an import and its preview) recorded in the database, so any app process
answers its progress page and its download, and a worker that dies leaves a record that says so."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, LabeledEnum, UTCDateTime, col, enum_type, utcnow


class JobState(LabeledEnum):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "进行中"
    DONE = "done", "已完成"
    REFUSED = "refused", "未执行"
    FAILED = "failed", "失败"


# A job still taking a place in the per-user and overall limits.
ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)


class Job(IdMixin, Base):
    """后台任务: who asked for what (kind + parameters), its state and progress, its outcome (result, file or
    error) and who is running it — a worker holds a lease it renews while it works; an expired lease means the
    worker died, and the job is run again or failed with that reason."""

    __tablename__ = "job"
    __label__ = "后台任务"
    __table_args__ = (
        Index(None, "user_id", "created_at"),
        Index(None, "state", "id"),
        Index(None, "expires_at"),
        CheckConstraint("attempts >= 0 AND done >= 0 AND total >= 0", name="counts",
                        info={"message": "{attempts}、{done}、{total}不能为负数"}),
    )

    user_id: Mapped[int | None] = col("发起人", ForeignKey("user_account.id", ondelete="CASCADE"))
    # The job this one continues: an import's confirm, its preview (whose upload it reads).
    parent_id: Mapped[int | None] = col("上一步", ForeignKey("job.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = col("任务类型", String(40))
    title: Mapped[str] = col("任务", String(120))
    params: Mapped[dict[str, Any]] = col("参数", JSON, default=dict)
    state: Mapped[JobState] = col("状态", enum_type(JobState), default=JobState.QUEUED)
    stage: Mapped[str] = col("阶段", String(40), default="排队中")
    done: Mapped[int] = col("已处理", Integer, default=0)
    total: Mapped[int] = col("总数", Integer, default=0)
    result: Mapped[dict[str, Any] | None] = col("结果", JSON)
    error: Mapped[str] = col("原因", Text, default="")
    file_name: Mapped[str] = col("文件名", String(255), default="")
    file_size: Mapped[int] = col("文件大小", Integer, default=0)
    attempts: Mapped[int] = col("尝试次数", Integer, default=0)
    max_attempts: Mapped[int] = col("最多尝试", Integer, default=2)
    worker: Mapped[str] = col("处理进程", String(120), default="")
    lease_until: Mapped[dt.datetime | None] = col("租约到期", UTCDateTime())
    created_at: Mapped[dt.datetime] = col("提交时间", UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = col("开始时间", UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = col("完成时间", UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = col("文件过期", UTCDateTime())


class JobLock(Base):
    """A queueing lock: while a job is queued or running it holds its keys — 「一个项目·月份·阶段只有一次催缴」,
    one score compute per project and month, one bill generation per project and period — and the primary key
    refuses a second job asking for one, whichever process asks. The row goes with the job's outcome (in the
    same transaction); a row left by a job no longer queued or running is stale and taken over."""

    __tablename__ = "job_lock"
    __label__ = "任务锁"

    key: Mapped[str] = col("锁", String(120), primary_key=True)
    job_id: Mapped[int] = col("任务", ForeignKey("job.id", ondelete="CASCADE"), index=True)


class JobFile(Base):
    """A job's file in pieces of up to a megabyte — the upload it reads (``upload``) or the file it made
    (``result``) — so every process reads it and none holds a whole file in memory."""

    __tablename__ = "job_file"
    __label__ = "任务文件"

    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(10), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    # MariaDB's BLOB holds 64 KB: a piece needs LONGBLOB there
    data: Mapped[bytes] = mapped_column(LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"))
