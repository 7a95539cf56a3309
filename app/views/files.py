"""Files on the pages (issue 9, item 8): the upload form's target, the download and the thumbnail.
Thin: ``app.services.attachments`` checks who may attach or read (care-team access, audited),
the type by content, the size; this module turns its answers into redirects, flashes and files.

Downloads: local disk streams the bytes from here; a cloud store gets a redirect to a
short-lived signed URL, issued only after the access check. Thumbnails are always streamed
from here (small, and the pages' ``img-src 'self'`` policy keeps images on this site)."""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_appbuilder import AppBuilder, BaseView, expose, has_access
from flask_babel import gettext as _

from app.extensions import db
from app.fab.actor import acting_user
from app.fab.hooks import clinic_settings
from app.file_transfer import max_bytes, read_upload, serve, store
from app.models.types import utcnow
from app.redirects import safe_next
from app.services import attachments
from app.services.errors import DomainError


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
