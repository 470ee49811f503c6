"""附件 (actions/attachments.py): checked by content and size, photos shrunk upright with a thumbnail, kept in the
database within the record's project, every upload and deletion on the record's audit trail."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions import attachments
from actions.actor import Actor, actor_for_user
from actions.attachments import add_attachments, attachment_file, attachments_of, delete_attachment
from actions.errors import Refused
from models import Attachment, AttachmentStage, AuditLog, OperationLog, WorkOrder
from tests import factories as f


def picture(size=(4000, 3000), fmt="JPEG", mode="RGB", orientation: int | None = None) -> bytes:
    image = Image.new(mode, size, (200, 60, 30, 128) if mode == "RGBA" else (200, 60, 30))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation  # the camera held sideways: shown turned a quarter
    image.save(out, fmt, **({"exif": exif} if orientation else {}))
    return out.getvalue()


def counts(session: Session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Attachment, AuditLog, OperationLog))


@pytest.fixture
def world(session: Session):
    p1, p2 = f.project(session), f.project(session)
    desk = f.user(session, roles=["前台客服"], projects=[p1])
    other = f.user(session, roles=["前台客服"], projects=[p2])
    request = f.service_request(session, project_=p1)
    return {"request": request, "actor": actor_for_user(session, desk), "other": actor_for_user(session, other),
            "p1": p1}


def test_a_photo_is_shrunk_upright_with_a_thumbnail_and_audited(session, world):
    actor = world["actor"]
    result = add_attachments(session, record="service-request", record_id=world["request"].id, actor=actor,
                             files=[("C:\\手机\\IMG_0001.HEIC.jpeg", picture(orientation=6)), ("报价单.pdf", b"%PDF-1.7 x")])
    assert result.filenames == ("IMG_0001.HEIC.jpg", "报价单.pdf")
    row = session.get(Attachment, result.attachment_ids[0])
    assert (row.project_id, row.record_table, row.record_id, row.content_type) == (
        world["p1"].id, "service_request", world["request"].id, "image/jpeg")
    with Image.open(io.BytesIO(row.content)) as shrunk, Image.open(io.BytesIO(row.thumbnail)) as thumb:
        assert shrunk.size == (1200, 1600) and not shrunk.getexif()  # upright, long side 1600, no metadata
        assert max(thumb.size) == 320
    assert row.size == len(row.content) < 400_000
    listed = attachments_of(session, record="service-request", record_id=world["request"].id, actor=actor)
    assert [(a.filename, a.is_image) for a in listed] == [("IMG_0001.HEIC.jpg", True), ("报价单.pdf", False)]
    trail = session.scalars(select(AuditLog.summary).where(
        AuditLog.table_name == "service_request", AuditLog.record_id == str(world["request"].id))).all()
    assert "上传附件：IMG_0001.HEIC.jpg" in trail and "上传附件：报价单.pdf" in trail
    record, file = attachment_file(session, attachment_id=row.id, actor=actor, thumbnail=True)
    assert record == "service-request" and file.content == row.thumbnail


@pytest.mark.parametrize(("name", "content", "message"), [
    ("photo.jpg", b"MZ\x90\x00 not a picture", "文件类型不支持"),  # a program named .jpg
    ("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200, "图片已损坏或无法识别"),
    ("huge.jpg", b"\xff\xd8\xff" + b"\x00" * attachments.MAX_BYTES, "文件过大"),
    ("iphone.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "HEIC"),
    ("empty.png", b"", "文件是空的"),
])
def test_refused_files_write_nothing(session, world, name, content, message):
    good = ("ok.png", picture((50, 50), "PNG", "RGBA"))
    before = counts(session)
    with pytest.raises(Refused, match=message) as refused:
        add_attachments(session, record="service-request", record_id=world["request"].id, actor=world["actor"],
                        files=[good, (name, content)])
    assert refused.value.message.startswith(name.rsplit(".", 1)[0])  # the file is named
    assert counts(session) == before


def test_a_picture_too_big_to_decode_is_refused_before_it_is(session, world):
    """A 2 KB PNG of 4000×4000 palette pixels (made RGBA to be shrunk: 16 megapixels × 9 bytes) is refused by what
    it would take decoded, naming its size; it was decoded (a 250 KB one of 7740×7740 took the process 1.1 GB)."""
    bomb = picture((4000, 4000), "PNG", "P")
    assert len(bomb) < 10_000
    before = counts(session)
    with pytest.raises(Refused) as refused:
        add_attachments(session, record="service-request", record_id=world["request"].id, actor=world["actor"],
                        files=[("ok.jpg", picture((80, 60))), ("巨图.png", bomb)])
    assert refused.value.message == "巨图：图片尺寸过大（4000×4000），请缩小后上传"
    assert counts(session) == before


def test_a_big_phone_photo_is_decoded_at_a_reduced_scale(tmp_path):
    """A 59-megapixel JPEG (a 1 MB file) took the app process 0.86 GB to shrink to 1600 px; decoded at the smallest
    scale that still covers 1600 px it takes a few MB. Measured in a process of its own (peak RSS)."""
    path = tmp_path / "big.jpg"
    path.write_bytes(picture((9000, 6600)))
    script = (
        "import resource, sys\n"
        "from actions.attachments import _photo\n"
        "content = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "photo, thumb = _photo(content)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, len(photo) > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    grown_mb, made = out.stdout.split()
    assert made == "True" and int(grown_mb) < 100, out.stdout


def test_another_projects_record_and_attachment_are_not_found(session, world):
    done = add_attachments(session, record="service-request", record_id=world["request"].id, actor=world["actor"],
                           files=[("a.png", picture((80, 60), "PNG"))])
    before = counts(session)
    with pytest.raises(Refused, match="客户诉求不存在"):
        add_attachments(session, record="service-request", record_id=world["request"].id, actor=world["other"],
                        files=[("b.png", picture((80, 60), "PNG"))])
    with pytest.raises(Refused, match="附件不存在"):
        attachment_file(session, attachment_id=done.attachment_ids[0], actor=world["other"])
    with pytest.raises(Refused, match="附件不存在"):
        delete_attachment(session, attachment_id=done.attachment_ids[0], actor=world["other"], manage=True)
    assert counts(session) == before


def test_only_the_uploader_or_an_editor_deletes(session, world):
    colleague = actor_for_user(session, f.user(session, roles=["前台客服"], projects=[world["p1"]]))
    done = add_attachments(session, record="service-request", record_id=world["request"].id, actor=world["actor"],
                           files=[("a.png", picture((80, 60), "PNG"))])
    before = counts(session)
    with pytest.raises(Refused, match="只能删除自己上传的附件"):
        delete_attachment(session, attachment_id=done.attachment_ids[0], actor=colleague)
    assert counts(session) == before
    result = delete_attachment(session, attachment_id=done.attachment_ids[0], actor=colleague, manage=True)
    assert result.message == "已删除附件 1 个：a.jpg"
    assert session.get(Attachment, done.attachment_ids[0]) is None
    assert session.scalar(select(AuditLog.id).where(AuditLog.summary == "删除附件：a.jpg")) is not None


def test_before_and_after_belong_to_work_orders(session, world):
    from actions.work_orders import dispatch_requests

    dispatch_requests(session, request_ids=[world["request"].id], actor=world["actor"])
    order = session.scalar(select(WorkOrder).where(WorkOrder.request_id == world["request"].id))
    add_attachments(session, record="work-order", record_id=order.id, actor=world["actor"],
                    stage=AttachmentStage.AFTER, files=[("done.png", picture((80, 60), "PNG"))])
    listed = attachments_of(session, record="work-order", record_id=order.id, actor=world["actor"])
    assert [a.stage for a in listed] == [AttachmentStage.AFTER]
    with pytest.raises(Refused, match="只用于派工单"):
        add_attachments(session, record="service-request", record_id=world["request"].id, actor=world["actor"],
                        stage=AttachmentStage.BEFORE, files=[("x.png", picture((80, 60), "PNG"))])


def test_two_uploads_at_once_stay_within_the_records_cap(engine, monkeypatch):
    """每条记录最多 N 个附件 was counted, then written: two uploads at once (two tabs, two app processes) each
    counted the other's files as not there — ten uploads of four photos left 40 on one order. The second now waits
    for the first and is refused, naming how many the record holds; PostgreSQL (SQLite serialises writers)."""
    from sqlalchemy import delete

    from models import Branch, Project, ServiceRequest
    from tests.race_support import second_while_first_open

    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    monkeypatch.setattr(attachments, "MAX_PER_RECORD", 2)
    with Session(engine) as s, s.begin():
        marks = (s.scalar(select(func.max(AuditLog.id))) or 0, s.scalar(select(func.max(OperationLog.id))) or 0)
        project = f.project(s)
        request = f.service_request(s, project_=project)
        ids = (project.id, project.branch_id, request.id)
    actor = Actor(user_id=None, name="前台", project_ids=frozenset({ids[0]}))

    def upload(session: Session, count: int) -> int:
        return len(add_attachments(session, record="service-request", record_id=ids[2], actor=actor,
                                   files=[(f"p{i}.png", picture((80, 60), "PNG")) for i in range(count)]).filenames)

    try:
        waited, box = second_while_first_open(engine, lambda s: upload(s, 2), lambda s: upload(s, 1))
        assert waited
        assert isinstance(box.get("error"), Refused), box
        assert box["error"].message == "每条客户诉求最多 2 个附件（已有 2 个），请先删除不需要的"
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Attachment).where(
                Attachment.record_table == "service_request", Attachment.record_id == ids[2])) == 2
    finally:
        with Session(engine) as s, s.begin():
            s.execute(delete(Attachment).where(Attachment.project_id == ids[0]))
            s.execute(delete(AuditLog).where(AuditLog.id > marks[0]))
            s.execute(delete(OperationLog).where(OperationLog.id > marks[1]))
            s.execute(delete(ServiceRequest).where(ServiceRequest.project_id == ids[0]))
            s.execute(delete(Project).where(Project.id == ids[0]))
            s.execute(delete(Branch).where(Branch.id == ids[1]))
