"""附件: the photos and files of a record — a 报修's picture, a work order's before/after, a 房屋整改 defect, a
renovation check, a vendor check. The bytes live in the database, so every app process serves them alike."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped

from .base import Base, IdMixin, LabeledEnum, ProjectScoped, UTCDateTime, col, enum_type, utcnow

# A shrunk photo is well under a megabyte, a PDF at most the upload limit: MariaDB's plain BLOB stops at 64 KB.
Blob = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


class AttachmentStage(LabeledEnum):
    """When a photo was taken: a work order's 处理前 / 完工后, or just a record's 附件."""

    GENERAL = "general", "附件"
    BEFORE = "before", "处理前"
    AFTER = "after", "完工后"


class Attachment(IdMixin, ProjectScoped, Base):
    """附件: one photo or file of one record (``record_table`` + ``record_id``), in that record's project. An image
    is kept shrunk (the long side at most 1600 px, re-encoded, so no camera metadata is kept) with a thumbnail."""

    __tablename__ = "attachment"
    __label__ = "附件"
    __table_args__ = (
        Index(None, "record_table", "record_id"),
        CheckConstraint("size > 0", name="size_positive", info={"message": "{size}须大于 0"}),
    )

    record_table: Mapped[str] = col("所属记录", String(64))
    record_id: Mapped[int] = col("记录编号", Integer)
    stage: Mapped[AttachmentStage] = col("类别", enum_type(AttachmentStage), default=AttachmentStage.GENERAL)
    filename: Mapped[str] = col("文件名", String(120))
    content_type: Mapped[str] = col("文件类型", String(100))
    size: Mapped[int] = col("大小(字节)", Integer)
    content: Mapped[bytes] = col("内容", Blob, deferred=True)
    thumbnail: Mapped[bytes | None] = col("缩略图", Blob, nullable=True, deferred=True)
    uploaded_by_id: Mapped[int | None] = col("上传人", ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = col("上传时间", UTCDateTime(), default=utcnow)
