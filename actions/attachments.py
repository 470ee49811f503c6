"""附件: photos and files on a record (报事, 派工单 处理前/完工后, 房屋整改, 装修, 外包方检查).

A file is accepted by what its bytes are, never by its name: JPEG, PNG, WEBP or GIF photos, PDF, and Word/Excel
(.docx/.xlsx) documents. A photo is decoded and re-encoded as a JPEG whose long side is at most 1600 px, with a
320 px thumbnail: a phone's 5 MB picture keeps ~300 KB, turned upright by its EXIF orientation and without its
metadata (GPS). Each attachment belongs to its record's project — out of scope reads as not found — and its
upload and deletion are audited on the record's own trail."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    Attachment,
    AttachmentStage,
    AuditKind,
    HouseDefect,
    RenovationApplication,
    ServiceRequest,
    User,
    VendorCheck,
    WorkOrder,
)

from .actor import Actor
from .audit import log_event, log_operation
from .errors import Refused

# The records that carry attachments, by the console's name for them.
OWNERS: dict[str, type] = {
    "service-request": ServiceRequest,
    "work-order": WorkOrder,
    "house-defect": HouseDefect,
    "renovation-application": RenovationApplication,
    "vendor-check": VendorCheck,
}
MAX_BYTES = 8 * 1024 * 1024  # a phone photo is 3–6 MB; the request body limit is 10 MB
MAX_PER_RECORD = 30
MAX_PIXELS = 60_000_000  # a decompression bomb (a tiny file of a huge picture) is refused before it is decoded
# What a picture may take in memory decoded (and converted for shrinking), checked before it is decoded: a 250 KB
# PNG of 7740×7740 with transparency took 1.1 GB of the app process, a 59-megapixel JPEG 0.86 GB. A JPEG is decoded
# at 1/2–1/8 of its size when that still covers the photo kept (its 59 megapixels then take 11 MB).
DECODE_BUDGET = 128 * 1024 * 1024
# Bytes a pixel takes decoded (Pillow keeps 3 or 4 bands in 4 bytes) and while shrunk (transparency is shrunk
# from a premultiplied copy); a mode not shrunk as it is (palette, 16-bit) is made RGBA first.
_DECODED = {"1": 1, "L": 1, "P": 1, "I;16": 2}  # others 4
_SHRINKING = {"1": 1, "L": 1, "RGB": 4, "CMYK": 4, "RGBA": 8, "LA": 8}
PHOTO_SIDE, THUMB_SIDE = 1600, 320
JPEG = "image/jpeg"
_SIGNATURES = (
    (b"\xff\xd8\xff", "image"), (b"\x89PNG\r\n\x1a\n", "image"), (b"GIF87a", "image"), (b"GIF89a", "image"),
    (b"%PDF-", "application/pdf"),
)
_OFFICE = {
    "word/document.xml": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xl/workbook.xml": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}
ACCEPTED = "图片（JPG、PNG、WEBP、GIF）、PDF 或 Word/Excel 文件（.docx、.xlsx）"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    filename: str
    content_type: str
    size: int
    stage: AttachmentStage
    is_image: bool
    uploaded_by: str
    uploaded_by_id: int | None
    created_at: dt.datetime


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class AttachmentResult:
    attachment_ids: tuple[int, ...]
    filenames: tuple[str, ...]
    verb: str = "上传"

    @property
    def message(self) -> str:
        return f"已{self.verb}附件 {len(self.filenames)} 个：{'、'.join(self.filenames)}"


def _owner(session: Session, record: str, record_id: int, actor: Actor) -> tuple[type, int]:
    """The record's model and project; a record of another project is as missing as one that does not exist."""
    model = OWNERS.get(record)
    if model is None:
        raise Refused(f"该类记录不能添加附件：{record}")
    project_id = session.scalar(select(model.project_id).where(model.id == record_id))
    if project_id is None or not actor.can_see(project_id):
        raise Refused(f"{model.__label__}不存在：{record_id}", [record_id])
    return model, project_id


def _kind(content: bytes) -> tuple[str, str]:
    """(content type, extension) read from the bytes; anything else is refused."""
    for signature, kind in _SIGNATURES:
        if content.startswith(signature):
            return (kind, "") if kind == "image" else (kind, ".pdf")
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image", ""
    if content[4:8] == b"ftyp" and content[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        raise Refused("不支持 HEIC 格式的照片：请在手机相机设置中选「兼容性最佳」，或转成 JPG 后上传")
    if content.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
        except (zipfile.BadZipFile, ValueError):
            names = set()
        for member, kind in _OFFICE.items():
            if member in names:
                return kind
    raise Refused(f"文件类型不支持：只能上传{ACCEPTED}")


def _jpeg(image: Image.Image, side: int, quality: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _photo(content: bytes) -> tuple[bytes, bytes]:
    """The shrunk photo and its thumbnail, both JPEG; a picture that cannot be decoded is refused, and one that
    would take more than :data:`DECODE_BUDGET` decoded is refused before it is."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
            image.draft("RGB", (PHOTO_SIDE, PHOTO_SIDE))  # a JPEG: decoded at the smallest scale still ≥ the photo
            if width * height > MAX_PIXELS or _decoded_bytes(image) > DECODE_BUDGET:
                raise Refused(f"图片尺寸过大（{width}×{height}），请缩小后上传")
            shrunk = image if image.mode in _SHRINKING else image.convert("RGBA")
            shrunk.thumbnail((PHOTO_SIDE, PHOTO_SIDE))  # in place: the full-size picture is not copied
            upright = ImageOps.exif_transpose(shrunk)
            if upright.mode != "RGB":  # transparency on white, as it prints
                canvas = Image.new("RGB", upright.size, "white")
                rgba = upright.convert("RGBA")
                canvas.paste(rgba, mask=rgba.getchannel("A"))
                upright = canvas
            return _jpeg(upright, PHOTO_SIDE, 82), _jpeg(upright, THUMB_SIDE, 75)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise Refused("图片已损坏或无法识别，请重新拍照或换一张上传") from None


def _decoded_bytes(image: Image.Image) -> int:
    """The memory the picture takes decoded at its (draft) size and shrunk, with its RGBA copy if one is made."""
    width, height = image.size
    mode = image.mode
    per_pixel = _SHRINKING[mode] if mode in _SHRINKING else _DECODED.get(mode, 4) + _SHRINKING["RGBA"]
    return width * height * per_pixel


def _filename(name: str, extension: str) -> str:
    """The name as uploaded (no path, no control characters), ending in the extension its content has."""
    base = _UNSAFE_NAME.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" ._") or "附件"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem[:100]}{extension}"


def add_attachments(session: Session, *, record: str, record_id: int, files: Sequence[tuple[str, bytes]],
                    actor: Actor, stage: AttachmentStage = AttachmentStage.GENERAL) -> AttachmentResult:
    """上传附件 to a record the actor can see: each file checked by content and size, a photo shrunk and
    thumbnailed; one refused file refuses them all (naming it), nothing half-uploaded."""
    model, project_id = _owner(session, record, record_id, actor)
    if not files:
        raise Refused("请选择要上传的文件")
    if stage is not AttachmentStage.GENERAL and model is not WorkOrder:
        raise Refused(f"「{stage.label}」照片只用于派工单")
    table = model.__tablename__
    checked = [_checked(name, content) for name, content in files]  # the slow part, before the record is locked
    # The cap is counted with the record locked: two uploads at once (two tabs, two app processes) each counting
    # the other's files as not there went past it. NO KEY UPDATE: a row naming the record (a 回访 of the order)
    # is not held up by it.
    session.execute(select(model.id).where(model.id == record_id).with_for_update(key_share=True))
    held = session.scalar(select(func.count()).select_from(Attachment)
                          .where(Attachment.record_table == table, Attachment.record_id == record_id))
    if held + len(files) > MAX_PER_RECORD:
        raise Refused(f"每条{model.__label__}最多 {MAX_PER_RECORD} 个附件（已有 {held} 个），请先删除不需要的", [record_id])
    rows = [Attachment(project_id=project_id, record_table=table, record_id=record_id, stage=stage,
                       uploaded_by_id=actor.user_id, **fields) for fields in checked]
    session.add_all(rows)
    session.flush()
    for row in rows:
        _log(session, "add_attachment", "上传", row, model)
    return AttachmentResult(tuple(r.id for r in rows), tuple(r.filename for r in rows))


def _checked(name: str, content: bytes) -> dict[str, object]:
    """The columns of one upload, or a refusal naming the file."""
    shown = _filename(name, "")
    if not content:
        raise Refused(f"{shown}：文件是空的")
    if len(content) > MAX_BYTES:
        raise Refused(f"{shown}：文件过大（{len(content) / 1024 / 1024:.1f} MB），每个文件不超过 {MAX_BYTES // 1024 // 1024} MB")
    try:
        kind, extension = _kind(content)
        thumbnail = None
        if kind == "image":
            content, thumbnail = _photo(content)
            kind, extension = JPEG, ".jpg"
    except Refused as refused:
        raise Refused(f"{shown}：{refused.message}") from None
    return {"filename": _filename(name, extension), "content_type": kind, "size": len(content),
            "content": content, "thumbnail": thumbnail}


def delete_attachment(session: Session, *, attachment_id: int, actor: Actor, manage: bool = False
                      ) -> AttachmentResult:
    """删除附件: the one who uploaded it, or one who may edit its record (``manage``)."""
    row = _attachment(session, attachment_id, actor)
    if row.uploaded_by_id != actor.user_id and not manage:
        raise Refused("只能删除自己上传的附件", [attachment_id])
    model = OWNERS[_record_key(row)]
    result = AttachmentResult((row.id,), (row.filename,), "删除")
    _log(session, "delete_attachment", "删除", row, model)
    session.delete(row)
    session.flush()
    return result


def _log(session: Session, operation: str, verb: str, row: Attachment, model: type) -> None:
    """Audited on the record's own trail (its 变更记录 lists it), and as one operation."""
    log_event(session, AuditKind.UPDATE, summary=f"{verb}附件：{row.filename}", table=row.record_table,
              record_id=str(row.record_id), project_id=row.project_id,
              changes={"attachment": row.id, "filename": row.filename, "size": row.size, "stage": row.stage.value})
    log_operation(session, operation, params={"record": model.__label__, "record_id": row.record_id,
                                              "attachment_id": row.id, "filename": row.filename},
                  counts={"attachments": 1}, project_id=row.project_id)


def _attachment(session: Session, attachment_id: int, actor: Actor) -> Attachment:
    row = session.get(Attachment, attachment_id)
    if row is None or not actor.can_see(row.project_id):
        raise Refused(f"附件不存在：{attachment_id}", [attachment_id])
    return row


def attachments_of(session: Session, *, record: str, record_id: int, actor: Actor) -> tuple[AttachmentInfo, ...]:
    """A record's attachments, oldest first (what the record's page shows; no content is read)."""
    model, _ = _owner(session, record, record_id, actor)
    rows = session.execute(
        select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size, Attachment.stage,
               Attachment.thumbnail.is_not(None), func.coalesce(User.display_name, User.username, ""),
               Attachment.uploaded_by_id, Attachment.created_at)
        .outerjoin(User, User.id == Attachment.uploaded_by_id)
        .where(Attachment.record_table == model.__tablename__, Attachment.record_id == record_id)
        .order_by(Attachment.id)
    ).all()
    return tuple(AttachmentInfo(*row) for row in rows)


def attachment_record(session: Session, *, attachment_id: int, actor: Actor) -> tuple[str, int]:
    """(record kind, record id) of an attachment the actor can see."""
    row = _attachment(session, attachment_id, actor)
    return _record_key(row), row.record_id


def _record_key(row: Attachment) -> str:
    return next(key for key, m in OWNERS.items() if m.__tablename__ == row.record_table)


def attachment_file(session: Session, *, attachment_id: int, actor: Actor, thumbnail: bool = False
                    ) -> tuple[str, AttachmentFile]:
    """The bytes to serve (the thumbnail of a photo when asked) and the record it belongs to, whose page
    permission the caller checks: (record, file)."""
    row = _attachment(session, attachment_id, actor)
    record = _record_key(row)
    if thumbnail and row.thumbnail is not None:
        return record, AttachmentFile(row.filename, JPEG, row.thumbnail)
    return record, AttachmentFile(row.filename, row.content_type, row.content)
