"""Files over HTTP, shared by the pages (``app.views.files``) and the REST API (``app.api.files``):
the configured store, the upload read with its size limit, and the answer that serves a file
already read through the access check (``app.services.attachments``).

Downloads: local disk streams the bytes from here; a cloud store gets a redirect to a
short-lived signed URL, issued only after the access check. Thumbnails are always streamed
from here (small, and the pages' ``img-src 'self'`` policy keeps images on this site)."""
from __future__ import annotations

import io
from typing import Any

from flask import current_app, redirect, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from app.services import attachments
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
