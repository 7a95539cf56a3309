"""Files on the pages (issue 9, item 8): the upload form's target, the download and the thumbnail.
Thin: ``app.services.attachments`` checks who may attach or read (care-team access, audited),
the type by content, the size; this module turns its answers into redirects, flashes and files.

Downloads: local disk streams the bytes from here; a cloud store gets a redirect to a
short-lived signed URL, issued only after the access check. Thumbnails are always streamed
from here (small, and the pages' ``img-src 'self'`` policy keeps images on this site)."""
from __future__ import annotations

import io
from typing import Any

from flask import current_app, flash, redirect, request, send_file
from flask.typing import ResponseReturnValue
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from app.extensions import db
from app.fab.actor import acting_user
from app.fab.hooks import clinic_settings
from app.models.types import utcnow
from app.redirects import safe_next
from app.services import attachments
from app.services.errors import DomainError
from app.services.storage import FileStore, file_store

UPLOAD_READ_CHUNK = 1024 * 1024


def store() -> FileStore:
    """The configured store of this app (``STORAGE_BACKEND``)."""
    return file_store(current_app.config)


def max_bytes() -> int:
    return int(current_app.config.get("UPLOAD_MAX_BYTES") or attachments.DEFAULT_MAX_BYTES)


# Room for the form's other fields and the multipart headers beyond the file itself.
FORM_OVERHEAD = 64 * 1024


def read_upload(field: str = "file") -> tuple[str | None, bytes]:
    """The uploaded file's name and bytes, reading at most one byte over the limit (a larger
    file is refused by the service without being read whole into memory). A request body far
    over the limit is not even parsed: ``TooLarge`` (413)."""
    request.max_content_length = max_bytes() + FORM_OVERHEAD
    try:
        upload = request.files.get(field)
    except RequestEntityTooLarge as exc:
        raise attachments.TooLarge(_("This file is larger than the limit of %(size)s.",
                                     size=attachments.human_size(max_bytes())), field) from exc
    if upload is None:
        return None, b""
    limit = max_bytes() + 1
    chunks, size = [], 0
    while size < limit:
        chunk = upload.stream.read(min(UPLOAD_READ_CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return upload.filename, b"".join(chunks)


def serve(attachment: Any, thumbnail: bool) -> ResponseReturnValue:
    """The file of an attachment already read through the access check."""
    files = store()
    if not thumbnail:
        url = attachments.signed_url(files, attachment, int(current_app.config.get("STORAGE_URL_SECONDS", 300)))
        if url is not None:
            response = redirect(url, 302)
            response.headers["Cache-Control"] = "no-store"
            return response
    data = attachments.content(files, attachment, thumbnail=thumbnail)
    response = send_file(io.BytesIO(data), mimetype="image/jpeg" if thumbnail else attachment.content_type,
                         as_attachment=not thumbnail, download_name=attachment.file_name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class FilesView(BaseView):
    route_base = "/files"
    class_permission_name = "Attachment"
    method_permission_name = {"upload": "write", "download": "read", "thumbnail": "read"}
    default_view = "download"

    @expose("/upload/<owner_type>/<int:owner_id>", methods=["POST"])
    @has_access
    def upload(self, owner_type: str, owner_id: int) -> ResponseReturnValue:
        back = f"/visit/{owner_id}" if owner_type == "encounter" else "/"
        try:
            file_name, data = read_upload()
            back = safe_next(request.form.get("next"), back)
            attachment = attachments.upload(db.session, owner_type, owner_id, file_name, data, acting_user(),
                                            utcnow(), store=store(), max_bytes=max_bytes())
        except DomainError as exc:
            flash(exc.message, "danger")
            return redirect(back + "#files")
        flash(_("%(name)s was attached.", name=attachment.file_name), "success")
        return redirect(back + "#files")

    @expose("/<int:pk>")
    @has_access
    def download(self, pk: int) -> ResponseReturnValue:
        return serve(attachments.read(db.session, pk, acting_user(), utcnow()), thumbnail=False)

    @expose("/<int:pk>/thumbnail")
    @has_access
    def thumbnail(self, pk: int) -> ResponseReturnValue:
        return serve(attachments.read(db.session, pk, acting_user(), utcnow()), thumbnail=True)


def file_list(owner_type: str, owner_id: int) -> list[dict[str, Any]]:
    """For the ``clinic/files/_attachments.html`` partial: the owner's files as the reader may
    see them (nothing when they may not; the page around it has already said why)."""
    try:
        rows = attachments.list_files(db.session, owner_type, owner_id, acting_user(), utcnow())
    except DomainError:
        return []
    zone = clinic_settings().timezone
    return [{"id": row.id, "file_name": row.file_name, "size": row.size_label, "is_image": row.is_image,
             "is_pdf": row.is_pdf, "has_thumbnail": row.has_thumbnail, "uploaded_by": row.uploaded_by,
             "uploaded_at": row.uploaded_at.astimezone(zone).strftime("%d/%m/%Y %H:%M")} for row in rows]


def upload_limit_label() -> str:
    return attachments.human_size(max_bytes())


def can_attach(owner_type: str, owner_id: int) -> bool:
    """For pages that include the files partial: whether to offer the upload form (the upload
    itself checks again)."""
    return attachments.can_upload(db.session, owner_type, owner_id, acting_user(), utcnow())


def register(appbuilder: AppBuilder) -> None:
    appbuilder.add_view_no_menu(FilesView)
    globals_ = current_app.jinja_env.globals  # register_views runs inside the app context
    globals_["file_list"] = file_list
    globals_["upload_limit_label"] = upload_limit_label
    globals_["can_attach"] = can_attach
