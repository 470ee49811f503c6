"""附件 (``actions.attachments``): uploaded and deleted from a record's page by POST (CSRF-checked like every
POST), served to whoever may open that record; another project's attachment is not found."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqladmin import BaseView, Flash, action, expose
from sqladmin.authorization import custom_action
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import attachments
from actions.errors import Refused
from models import AttachmentStage

from ..forms import EnumField, IdField, PageForm
from .pages import run_action


class UploadForm(PageForm):
    record_id = IdField("记录", required=True)
    stage = EnumField(AttachmentStage, "类别", default=AttachmentStage.GENERAL, required=False)

ATTACH = "attach"  # the grant to upload and delete a record's attachments: ("work-order", "action:attach")


class AttachmentsMixin:
    """Added by the metaclass to the view of every record that carries attachments.

    Its action exists so that ``action:attach`` (上传/删除附件) appears in the role permission matrix; the upload
    and delete routes check it. The button is not rendered: the record's page has the upload form itself.
    """

    @action(ATTACH, label="上传/删除附件", add_in_list=False, add_in_detail=True)
    async def attach(self, request: Request) -> RedirectResponse:
        pks = [pk for pk in request.query_params.get("pks", "").split(",") if pk]
        rows = await self.scoped_targets(request, pks[:1])
        url = request.url_for("admin:details", identity=self.identity, pk=rows[0].id)
        return RedirectResponse(f"{url}#attachments", status_code=302)


def may_attach(view: Any, request: Request) -> bool:
    return view.has_permission(request, custom_action(ATTACH))


def owner_view(admin_view: Any, record: str) -> Any:
    """The model view of the record kind ``record`` (its permissions are the attachments')."""
    if record not in attachments.OWNERS:
        raise HTTPException(status_code=404)
    return next(v for v in admin_view._admin_ref.views if getattr(v, "identity", None) == record)


async def attachments_context(view: Any, request: Request, record_id: int) -> dict[str, Any]:
    """What a record's page shows of its attachments and may do with them (its details template renders it)."""
    if view.identity not in attachments.OWNERS:
        return {}
    listed = await run_action(view.session_maker, request, attachments.attachments_of, record=view.identity,
                              record_id=record_id)
    return {"wuye_attachments": {
        "record": view.identity, "record_id": record_id, "items": listed,
        "stages": AttachmentStage.choices() if view.identity == "work-order" else (),
        "attach": may_attach(view, request),
        "manage": view.has_permission(request, "edit"),
        "user_id": getattr(getattr(request.state, "actor", None), "user_id", None),
    }}


class AttachmentPages(BaseView):
    """Not in the menu: each route checks the permission of the record the attachment belongs to."""

    name = "附件"
    icon = "fa-solid fa-paperclip"

    def is_visible(self, request: Request) -> bool:
        return False

    def is_accessible(self, request: Request) -> bool:
        return True

    @property
    def session_maker(self) -> Any:
        return self._admin_ref.session_maker

    def _back(self, request: Request, record: str, record_id: Any) -> RedirectResponse:
        url = request.url_for("admin:details", identity=record, pk=record_id)
        return RedirectResponse(f"{url}#attachments", status_code=303)

    @expose("/attachments/upload", methods=["POST"], identity="attachment-upload")
    async def upload(self, request: Request) -> Response:
        form = await request.form()
        record = str(form.get("record", ""))
        view = owner_view(self, record)
        if not view.has_permission(request, "details"):
            raise HTTPException(status_code=403, detail="没有查看该记录的权限")
        if not may_attach(view, request):
            raise HTTPException(status_code=403, detail=f"没有上传{view.name}附件的权限")
        record_id = None
        try:
            fields = UploadForm.read(form)
            record_id, stage = fields.record_id.data, fields.stage.data
            # read one byte past the limit: the action refuses a file that big without the rest in memory
            files = [(upload.filename or "", await upload.read(attachments.MAX_BYTES + 1))
                     for upload in form.getlist("file") if hasattr(upload, "read") and upload.filename]
            result = await run_action(self.session_maker, request, attachments.add_attachments, record=record,
                                      record_id=record_id, files=files, stage=stage)
        except Refused as refused:
            if record_id is None:
                raise HTTPException(status_code=400, detail=refused.message) from None
            Flash.error(request, refused.message)
        else:
            Flash.success(request, result.message)
        return self._back(request, record, record_id)

    @expose("/attachments/{attachment_id:int}/delete", methods=["POST"], identity="attachment-delete")
    async def delete(self, request: Request) -> Response:
        attachment_id = request.path_params["attachment_id"]
        record = await self._record_of(request, attachment_id)
        view = owner_view(self, record[0])
        if not view.has_permission(request, "details"):
            raise HTTPException(status_code=404, detail=f"附件不存在：{attachment_id}")
        if not may_attach(view, request):
            raise HTTPException(status_code=403, detail=f"没有删除{view.name}附件的权限")
        try:
            result = await run_action(self.session_maker, request, attachments.delete_attachment,
                                      attachment_id=attachment_id, manage=view.has_permission(request, "edit"))
        except Refused as refused:
            Flash.error(request, refused.message)
        else:
            Flash.success(request, result.message)
        return self._back(request, *record)

    async def _record_of(self, request: Request, attachment_id: int) -> tuple[str, int]:
        """(record kind, record id) of an attachment the user may see, else 404."""
        try:
            return await run_action(self.session_maker, request, attachments.attachment_record,
                                    attachment_id=attachment_id)
        except Refused as refused:
            raise HTTPException(status_code=404, detail=refused.message) from None

    @expose("/attachments/{attachment_id:int}", methods=["GET"], identity="attachment")
    async def download(self, request: Request) -> Response:
        return await self._serve(request, thumbnail=False)

    @expose("/attachments/{attachment_id:int}/thumb", methods=["GET"], identity="attachment-thumb")
    async def thumb(self, request: Request) -> Response:
        return await self._serve(request, thumbnail=True)

    async def _serve(self, request: Request, *, thumbnail: bool) -> Response:
        attachment_id = request.path_params["attachment_id"]
        try:
            record, file = await run_action(self.session_maker, request, attachments.attachment_file,
                                            attachment_id=attachment_id, thumbnail=thumbnail)
        except Refused as refused:
            raise HTTPException(status_code=404, detail=refused.message) from None
        if not owner_view(self, record).has_permission(request, "details"):
            raise HTTPException(status_code=404, detail=f"附件不存在：{attachment_id}")
        # a photo or PDF opens in the browser; a document downloads. Never sniffed into something else.
        shown = "inline" if file.content_type in (attachments.JPEG, "application/pdf") else "attachment"
        extension = file.filename[file.filename.rfind("."):]
        return Response(file.content, media_type=file.content_type, headers={
            "Content-Disposition": f"{shown}; filename=\"file{extension}\"; filename*=UTF-8''{quote(file.filename)}",
            "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
        })
