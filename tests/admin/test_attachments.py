"""附件 on a record's page (admin/views/attachments.py): uploaded and deleted by CSRF-checked POSTs, served to
those who may open the record; a user of another project gets 404."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from models import Attachment
from tests import factories as f
from tests.actions.test_attachments import picture


def test_upload_show_serve_and_delete_from_the_records_page(console, session):
    p1, p2 = f.project(session), f.project(session)
    request = f.service_request(session, project_=p1, content="卫生间漏水")
    f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    f.user(session, username="other", roles=["前台客服"], projects=[p2])
    session.commit()
    c = console("desk")
    page = f"/admin/service-request/details/{request.id}"
    assert "照片与附件（0）" in c.get(page).text

    photo = picture((2400, 1800))
    no_token = c.client.post("/admin/attachments/upload", data={"record": "service-request", "record_id": request.id},
                             files={"file": ("a.jpg", photo, "image/jpeg")}, follow_redirects=False)
    assert no_token.status_code == 403
    sent = c.post("/admin/attachments/upload", data={"record": "service-request", "record_id": str(request.id)},
                  files=[("file", ("漏水.jpg", photo, "image/jpeg")), ("file", ("说明.pdf", b"%PDF-1.4 x", "application/pdf"))])
    assert sent.status_code == 303 and sent.headers["location"].endswith(f"{page}#attachments")
    ids = session.scalars(select(Attachment.id).order_by(Attachment.id)).all()
    assert len(ids) == 2
    shown = html.unescape(c.get(page).text)
    assert "照片与附件（2）" in shown and "漏水.jpg" in shown and f"/admin/attachments/{ids[0]}/thumb" in shown
    thumb = c.get(f"/admin/attachments/{ids[0]}/thumb")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg" and len(thumb.content) < 30_000
    pdf = c.get(f"/admin/attachments/{ids[1]}")
    assert pdf.content == b"%PDF-1.4 x" and pdf.headers["x-content-type-options"] == "nosniff"

    bad = c.post("/admin/attachments/upload", data={"record": "service-request", "record_id": str(request.id)},
                 files={"file": ("病毒.jpg", b"MZ\x90\x00", "image/jpeg")})
    assert bad.status_code == 303
    assert "文件类型不支持" in html.unescape(c.get(page).text)
    assert session.scalar(select(func.count()).select_from(Attachment)) == 2

    other = console("other")
    for url in (f"/admin/attachments/{ids[0]}", f"/admin/attachments/{ids[0]}/thumb"):
        assert other.get(url).status_code == 404
    assert other.post(f"/admin/attachments/{ids[0]}/delete").status_code == 404
    refused = other.post("/admin/attachments/upload", data={"record": "service-request", "record_id": str(request.id)},
                         files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")})
    assert refused.status_code == 303
    assert session.scalar(select(func.count()).select_from(Attachment)) == 2

    assert c.get(f"/admin/attachments/{ids[0]}/delete").status_code == 405
    gone = c.post(f"/admin/attachments/{ids[0]}/delete")
    assert gone.status_code == 303
    session.expire_all()
    assert session.scalars(select(Attachment.id)).all() == [ids[1]]


def test_who_may_attach_is_a_grant_of_the_role_matrix(console, session):
    """上传/删除附件 is ``action:attach`` on the record's view: the 工程部 attaches 完工 photos to its work orders but
    not to the owner's request (which it only reads); a role the matrix takes it from is refused — upload and
    delete — in Chinese, nothing written."""
    from actions.actor import SYSTEM
    from actions.work_orders import dispatch_requests
    from models import Role, RoleGrant, WorkOrder

    p = f.project(session)
    request = f.service_request(session, project_=p, content="厨房漏水")
    dispatch_requests(session, request_ids=[request.id], actor=SYSTEM)
    order = session.scalar(select(WorkOrder).where(WorkOrder.request_id == request.id))
    f.user(session, username="desk", roles=["前台客服"], projects=[p])
    f.user(session, username="eng", roles=["工程部"], projects=[p])
    session.commit()
    desk, eng = console("desk"), console("eng")

    def upload(c, record: str, record_id: int):
        return c.post("/admin/attachments/upload", data={"record": record, "record_id": str(record_id)},
                      files={"file": ("现场.pdf", b"%PDF-1.4 x", "application/pdf")})

    assert upload(desk, "service-request", request.id).status_code == 303
    assert upload(eng, "work-order", order.id).status_code == 303
    mine = session.scalars(select(Attachment.id).order_by(Attachment.id)).all()
    refused = upload(eng, "service-request", request.id)
    assert refused.status_code == 403 and "没有上传客户诉求附件的权限" in refused.text
    gone = eng.post(f"/admin/attachments/{mine[0]}/delete")  # the desk's photo on the request
    assert gone.status_code == 403 and "没有删除客户诉求附件的权限" in gone.text
    page = eng.get(f"/admin/service-request/details/{request.id}").text
    assert "照片与附件（1）" in page and "wuye-attachment-upload" not in page and "wuye-attachment-delete" not in page
    assert "wuye-attachment-upload" in eng.get(f"/admin/work-order/details/{order.id}").text

    # the matrix offers it on each record that carries attachments; taken from the desk, the desk is refused
    f.user(session, username="root", superuser=True)
    session.commit()
    edit = console("root").get(f"/admin/role/edit/{session.scalar(select(Role.id).where(Role.name == '前台客服'))}").text
    assert 'value="service-request:action:attach"' in edit and "上传/删除附件" in edit
    desk_role = session.scalar(select(Role.id).where(Role.name == "前台客服"))
    session.execute(RoleGrant.__table__.delete().where(RoleGrant.group_id == desk_role,
                                                       RoleGrant.identity == "service-request",
                                                       RoleGrant.action == "action:attach"))
    session.commit()
    desk = console("desk")
    assert upload(desk, "service-request", request.id).status_code == 403
    assert desk.post(f"/admin/attachments/{mine[0]}/delete").status_code == 403
    session.expire_all()
    assert session.scalars(select(Attachment.id).order_by(Attachment.id)).all() == mine
