"""Files over REST (issue 9, items 8 and 10): upload (multipart, field ``file``) to a visit or a lab
order, the files of a visit, a lab order or a patient, and the file itself. JWT, or the browser's
session with the ``X-CSRFToken`` header. Thin: ``app.services.attachments`` holds every rule
(writable owner, type by content, size, random key, care-team access with its audit rows)."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields

from app.api import schemas
from app.extensions import db
from app.fab.actor import acting_user
from app.fab.api import ClinicBaseApi, openapi
from app.fab.hooks import clinic_settings
from app.file_transfer import max_bytes, read_upload, serve, store
from app.models import Attachment
from app.models.types import utcnow
from app.services import attachments

FILE_TYPES = ("application/octet-stream", *attachments.TYPES)


class FileOut(Schema):
    id = fields.Integer(required=True)
    file_name = fields.String(required=True)
    content_type = fields.String(required=True)
    size_bytes = fields.Integer(required=True)
    uploaded_at = fields.String(required=True, metadata={"format": "date-time"})
    has_thumbnail = fields.Boolean(required=True)
    download_url = fields.String(required=True)
    thumbnail_url = fields.String(allow_none=True)


class FileResult(Schema):
    result = fields.Nested(FileOut)


class FileList(Schema):
    result = fields.List(fields.Nested(FileOut))


def file_json(row: attachments.FileRow | Attachment) -> dict[str, Any]:
    zone = clinic_settings().timezone
    has_thumbnail = row.has_thumbnail if isinstance(row, attachments.FileRow) else row.thumbnail_key is not None
    return {"id": row.id, "file_name": row.file_name, "content_type": row.content_type,
            "size_bytes": row.size_bytes, "uploaded_at": row.uploaded_at.astimezone(zone).isoformat(),
            "has_thumbnail": has_thumbnail, "download_url": f"/api/v1/files/{row.id}/download",
            "thumbnail_url": f"/api/v1/files/{row.id}/thumbnail" if has_thumbnail else None}


UPLOADS = {"upload_to_encounter", "upload_to_lab_order"}
DOWNLOADS = {"download", "thumbnail"}


class FilesApi(ClinicBaseApi):
    route_base = "/api/v1"
    resource_name = "files"
    openapi_spec_tag = "Files"
    openapi_spec_component_schemas = (*schemas.COMPONENTS, FileOut, FileResult, FileList)
    class_permission_name = "Attachment"
    method_permission_name = {"upload_to_encounter": "write", "upload_to_lab_order": "write",
                              "of_encounter": "read", "of_lab_order": "read", "of_patient": "read",
                              "download": "read", "thumbnail": "read"}
    allow_browser_login = True

    def operation_helper(self, path: str | None = None, operations: dict | None = None,
                         methods: list[str] | None = None, func: Any = None, **kwargs: Any) -> None:
        """The shared helper documents JSON bodies; uploads are multipart, downloads are files."""
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        name = getattr(func, "__name__", "")
        for operation in (operations or {}).values():
            if name in UPLOADS:
                operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary",
                                            "description": "a PDF or an image (PNG, JPEG, WebP, GIF)"}}}}}}
                operation["responses"]["413"] = {
                    "description": "the file is over UPLOAD_MAX_BYTES",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
            if name in UPLOADS or name in DOWNLOADS:
                operation["responses"]["503"] = {
                    "description": "the file store cannot be reached (nothing was written)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
            if name in DOWNLOADS:
                binary = {"schema": {"type": "string", "format": "binary"}}
                operation["responses"]["200"] = {
                    "description": "the file (local store)" if name == "download" else "a JPEG preview",
                    "content": {kind: binary for kind in FILE_TYPES}}
                if name == "download":
                    operation["responses"]["302"] = {
                        "description": "cloud store: a redirect to a short-lived signed URL",
                        "headers": {"Location": {"schema": {"type": "string"}}}}

    def _upload(self, owner_type: str, owner_id: int):
        file_name, data = read_upload()  # first: it sets the body's size limit before parsing
        unknown = sorted({name or "_schema" for name in (*request.form.keys(), *request.files.keys())} - {"file"})
        if unknown:  # a stamp, a key, a type: the service decides those, never the client
            raise ValidationError({name: [_("Unknown field.")] for name in unknown})
        attachment = attachments.upload(db.session, owner_type, owner_id, file_name, data, acting_user(), utcnow(),
                                        store=store(), max_bytes=max_bytes())
        return self.response(201, result=file_json(attachment))

    def _list(self, owner_type: str, owner_id: int):
        rows = attachments.list_files(db.session, owner_type, owner_id, acting_user(), utcnow())
        return self.response(200, result=[file_json(row) for row in rows])

    @expose("/files/encounter/<int:owner_id>", methods=["POST"])
    @protect()
    @openapi(responses={201: ("attached", FileResult)})
    def upload_to_encounter(self, owner_id: int):
        """Attach a file (multipart field ``file``) to a draft visit of your own"""
        return self._upload("encounter", owner_id)

    @expose("/files/lab_order/<int:owner_id>", methods=["POST"])
    @protect()
    @openapi(responses={201: ("attached", FileResult)})
    def upload_to_lab_order(self, owner_id: int):
        """Attach a file (multipart field ``file``) to a lab order (its doctor or lab staff)"""
        return self._upload("lab_order", owner_id)

    @expose("/files/encounter/<int:owner_id>", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the visit's files, oldest first", FileList)}, errors=(404,))
    def of_encounter(self, owner_id: int):
        """The files of a visit"""
        return self._list("encounter", owner_id)

    @expose("/files/lab_order/<int:owner_id>", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the lab order's files, oldest first", FileList)}, errors=(404,))
    def of_lab_order(self, owner_id: int):
        """The files of a lab order"""
        return self._list("lab_order", owner_id)

    @expose("/files/patient/<int:owner_id>", methods=["GET"])
    @protect()
    @openapi(responses={200: ("files attached to the patient's record itself, oldest first", FileList)},
             errors=(404,))
    def of_patient(self, owner_id: int):
        """The files attached to a patient's record itself"""
        return self._list("patient", owner_id)

    @expose("/files/<int:pk>/download", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the file", None)}, errors=(404,))
    def download(self, pk: int):
        """The file (streamed, or a redirect to a short-lived signed URL on a cloud store)"""
        return serve(attachments.read(db.session, pk, acting_user(), utcnow()), thumbnail=False)

    @expose("/files/<int:pk>/thumbnail", methods=["GET"])
    @protect()
    @openapi(responses={200: ("a JPEG preview of an image", None)}, errors=(404,))
    def thumbnail(self, pk: int):
        """A small JPEG preview of an image file"""
        return serve(attachments.read(db.session, pk, acting_user(), utcnow()), thumbnail=True)
