"""Files attached to a visit, a lab order or a patient's record (issue 9, item 8): the one way in
(``upload``) and the one way out (``read``, then ``content`` / ``signed_url``), for the visit
page, the lab result page, the REST API and the patient portal alike.

The rules:

* the owner must be writable by the user: an encounter through ``encounters.editable_encounter``
  (a draft, by its author); a lab order by its ordering doctor or lab staff; a patient's record by
  staff whose role writes attachments and who are in the patient's care;
* the type is decided by the file's first bytes (PDF, PNG, JPEG, WebP, GIF), never by its name or
  the browser's type; an image must also decode (a PNG header on garbage is refused);
* at most ``max_bytes`` (``UPLOAD_MAX_BYTES``);
* stored under a random key chosen here (the user's file name is kept only as the display name,
  cleaned of paths and control characters); images get a thumbnail under its own random key;
* the bytes are stored first, then the row; when the row cannot be written the stored bytes are
  deleted again, and when the store cannot be reached nothing is written at all;
* files are never deleted here (clinical records are never hard-deleted).

Reading goes through ``access.open_record`` (care-team access, audited).
"""
from __future__ import annotations

import io
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.models import Attachment, Doctor, Encounter, LabOrder, Patient
from app.permissions import ROLE_CONFIGS
from app.services import access, encounters
from app.services.errors import DomainError, Forbidden, NotFound, ValidationFailed, from_database_error
from app.services.roles import role_names
from app.services.storage import FileStore, StorageUnavailable

OWNER_TYPES = ("encounter", "lab_order", "patient")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
THUMBNAIL_SIZE = (320, 320)
MAX_IMAGE_PIXELS = 80_000_000  # larger images are refused (decompression bombs)
NAME_MAX = 255

# Sniffed type -> (extension of the stored key, label shown to people)
TYPES = {
    "application/pdf": ("pdf", "PDF"),
    "image/png": ("png", "PNG"),
    "image/jpeg": ("jpg", "JPEG"),
    "image/webp": ("webp", "WebP"),
    "image/gif": ("gif", "GIF"),
}
IMAGE_TYPES = frozenset(t for t in TYPES if t.startswith("image/"))


class TooLarge(ValidationFailed):
    status = 413


class StorageDown(DomainError):
    """The store cannot be reached: 503 with a message; nothing was written."""

    status = 503


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves show, or None for anything else."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def clean_name(file_name: str | None, content_type: str) -> str:
    """The display name: no folders, no control characters, NFC, at most 255 characters (the
    extension kept); never used to store anything."""
    name = unicodedata.normalize("NFC", file_name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if not name:
        name = f"file.{TYPES[content_type][0]}"
    if len(name) > NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and len(extension) < 10:
            name = stem[:NAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:NAME_MAX]
    return name


def new_key(extension: str) -> str:
    """A random key (128 bits), fanned out over 256 folders; the extension is the sniffed type's."""
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{extension}"


def _thumbnail(data: bytes) -> bytes:
    """A small JPEG of the image; ValidationFailed when the bytes do not decode as an image."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValueError("too many pixels")
            image.load()
            picture = ImageOps.exif_transpose(image) or image
            picture.thumbnail(THUMBNAIL_SIZE)
            if picture.mode not in ("RGB", "L"):
                rgba = picture.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                picture = background
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationFailed(_("This image is damaged or too large to open."), "file") from exc


# --- who may attach to what ------------------------------------------------------------------

def _writes_attachments(user: Any) -> bool:
    names = role_names(user)
    return "Admin" in names or any("Attachment" in ROLE_CONFIGS.get(name, {}).get("write", ()) for name in names)


def _lab_staff(user: Any) -> bool:
    """Lab staff: a role (other than Doctor) that writes lab results."""
    return any(name != "Doctor" and "LabResult" in ROLE_CONFIGS.get(name, {}).get("write", ())
               for name in role_names(user))


def _is_doctor(session: Session, doctor_id: int | None, user: Any) -> bool:
    if doctor_id is None or user is None:
        return False
    return session.execute(select(Doctor.user_id).where(Doctor.id == doctor_id)).scalar_one_or_none() == user.id


def _denied(session: Session, user: Any, owner_type: str, owner_id: int, patient_id: int | None) -> Forbidden:
    access.record_denial(session, user, "Attachment", None,
                         {"owner_type": owner_type, "owner_id": owner_id, "patient_id": patient_id, "write": True})
    return Forbidden(_("You cannot attach files here."))


def writable_owner(session: Session, owner_type: str, owner_id: int, user: Any, now: datetime) -> int:
    """The patient id of the owner ``user`` is about to attach a file to; refused (403/404/409)
    when the owner does not exist or is not theirs to change."""
    if user is None:
        raise Forbidden(_("You cannot attach files here."))
    if owner_type == "encounter":
        encounter: Encounter = encounters.editable_encounter(session, owner_id, user, now)
        return encounter.patient_id
    if owner_type == "lab_order":
        order = session.get(LabOrder, owner_id)
        if order is None:
            raise NotFound(_("No such lab order."))
        ordering = _is_doctor(session, order.doctor_id, user) and access.in_care(session, user, order.patient_id, now)
        if not (ordering or _lab_staff(user)):
            raise _denied(session, user, owner_type, owner_id, order.patient_id)
        return order.patient_id
    if owner_type == "patient":
        if session.get(Patient, owner_id) is None:
            raise NotFound(_("No such patient."))
        if not (_writes_attachments(user) and access.in_care(session, user, owner_id, now)):
            raise _denied(session, user, owner_type, owner_id, owner_id)
        return owner_id
    raise ValidationFailed(_("Files are attached to a visit, a lab order or a patient."), "owner_type")


def can_upload(session: Session, owner_type: str, owner_id: int, user: Any, now: datetime) -> bool:
    """Whether the upload form should be offered (no audit row: nothing is read or refused yet)."""
    if user is None:
        return False
    if owner_type == "encounter":
        encounter = session.get(Encounter, owner_id)
        return encounter is not None and encounters.is_editable(session, encounter, user)
    if owner_type == "lab_order":
        order = session.get(LabOrder, owner_id)
        return order is not None and (_lab_staff(user) or (
            _is_doctor(session, order.doctor_id, user) and access.in_care(session, user, order.patient_id, now)))
    if owner_type == "patient":
        return _writes_attachments(user) and access.in_care(session, user, owner_id, now)
    return False


# --- upload ----------------------------------------------------------------------------------

def upload(session: Session, owner_type: str, owner_id: int, file_name: str | None, data: bytes, user: Any,
           now: datetime, *, store: FileStore, max_bytes: int = DEFAULT_MAX_BYTES) -> Attachment:
    """Attach ``data`` to the owner; returns the new row (committed). Nothing is left behind on a
    refusal: no row, no stored bytes."""
    patient_id = writable_owner(session, owner_type, owner_id, user, now)
    return store_checked(session, patient_id, owner_type, owner_id, file_name, data, user, now, store=store,
                         max_bytes=max_bytes)


def store_checked(session: Session, patient_id: int, owner_type: str, owner_id: int, file_name: str | None,
                  data: bytes, user: Any, now: datetime, *, store: FileStore, max_bytes: int = DEFAULT_MAX_BYTES,
                  also: Callable[[Attachment], Any] | None = None) -> Attachment:
    """``upload`` after the caller has decided that ``user`` may add a file to ``patient_id``'s
    record under this owner (``upload`` asks ``writable_owner``; a video call asks for the user's
    seat in the call). The same size and type checks; ``also`` adds rows of the caller's in the
    same transaction (the call's list of shared files)."""
    if owner_type not in OWNER_TYPES:
        raise ValidationFailed(_("Files are attached to a visit, a lab order or a patient."), "owner_type")
    if not data:
        raise ValidationFailed(_("Choose a file to upload."), "file")
    if len(data) > max_bytes:
        raise TooLarge(_("This file is larger than the limit of %(size)s.", size=human_size(max_bytes)), "file")
    content_type = sniff(data)
    if content_type is None:
        raise ValidationFailed(_("Only PDF files and images (PNG, JPEG, WebP, GIF) can be attached; "
                                 "this file is neither, whatever its name says."), "file")
    thumbnail = _thumbnail(data) if content_type in IMAGE_TYPES else None
    extension = TYPES[content_type][0]
    key = new_key(extension)
    thumbnail_key = new_key("jpg") if thumbnail is not None else None
    stored: list[str] = []
    try:
        store.put(key, data, content_type)
        stored.append(key)
        if thumbnail is not None and thumbnail_key is not None:
            store.put(thumbnail_key, thumbnail, "image/jpeg")
            stored.append(thumbnail_key)
        attachment = Attachment(patient_id=patient_id, owner_type=owner_type, owner_id=owner_id,
                                file_name=clean_name(file_name, content_type), content_type=content_type,
                                size_bytes=len(data), storage_key=key, thumbnail_key=thumbnail_key,
                                uploaded_by_id=getattr(user, "id", None), uploaded_at=now)
        session.add(attachment)
        if also is not None:
            session.flush()
            also(attachment)
        session.commit()
        return attachment
    except StorageUnavailable as exc:
        session.rollback()
        _forget(store, stored)
        raise StorageDown(_("The file store cannot be reached; nothing was saved. Try again in a moment.")) from exc
    except SQLAlchemyError as exc:
        session.rollback()
        _forget(store, stored)
        raise from_database_error(exc) from exc
    except BaseException:
        session.rollback()
        _forget(store, stored)
        raise


def _forget(store: FileStore, keys: list[str]) -> None:
    """Delete bytes stored for a row that was never written (best effort: the store may be down)."""
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB" if size % (1024 * 1024) == 0 else f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


# --- reading ---------------------------------------------------------------------------------

def read(session: Session, attachment_id: int, user: Any, now: datetime) -> Attachment:
    """One attachment, through the care-team access helper (audited ``read``; ``denied`` and 403
    outside the patient's care; 404 when there is none)."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(_("No such file."))
    access.open_record(session, user, attachment, now)
    return attachment


@dataclass(frozen=True)
class FileRow:
    """One line of a file list."""

    id: int
    file_name: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime
    uploaded_by: str
    has_thumbnail: bool
    is_image: bool
    is_pdf: bool
    size_label: str


def _owner_patient(session: Session, owner_type: str, owner_id: int) -> int:
    model: Any = {"encounter": Encounter, "lab_order": LabOrder, "patient": Patient}.get(owner_type)
    if model is None:
        raise ValidationFailed(_("Files are attached to a visit, a lab order or a patient."), "owner_type")
    record = session.get(model, owner_id)
    if record is None:
        raise NotFound(_("There is no record with id %(id)s.", id=owner_id))
    return record.id if model is Patient else record.patient_id


def list_files(session: Session, owner_type: str, owner_id: int, user: Any, now: datetime) -> list[FileRow]:
    """The files of one owner, oldest first, for a reader in the patient's care (403 and a
    ``denied`` row otherwise; one audited ``read`` row for the list)."""
    patient_id = _owner_patient(session, owner_type, owner_id)
    if not access.in_care(session, user, patient_id, now):
        access.record_denial(session, user, "Attachment", None,
                             {"owner_type": owner_type, "owner_id": owner_id, "patient_id": patient_id})
        raise access.CareAccessDenied(_("This record belongs to a patient outside your care."), patient_id)
    rows = list(session.execute(
        select(Attachment).where(Attachment.owner_type == owner_type, Attachment.owner_id == owner_id)
        .order_by(Attachment.uploaded_at, Attachment.id)).scalars())
    access.record_list_read(session, user, Attachment, rows)
    return [_row(a) for a in rows]


def _row(attachment: Attachment) -> FileRow:
    by = attachment.uploaded_by
    name = " ".join(part for part in (getattr(by, "first_name", ""), getattr(by, "last_name", "")) if part)
    return FileRow(id=attachment.id, file_name=attachment.file_name, content_type=attachment.content_type,
                   size_bytes=attachment.size_bytes, uploaded_at=attachment.uploaded_at, uploaded_by=name,
                   has_thumbnail=attachment.thumbnail_key is not None,
                   is_image=attachment.content_type in IMAGE_TYPES,
                   is_pdf=attachment.content_type == "application/pdf",
                   size_label=human_size(attachment.size_bytes))


def content(store: FileStore, attachment: Attachment, thumbnail: bool = False) -> bytes:
    """The stored bytes of an attachment already read through ``read`` (404 when gone; 503 when
    the store is down)."""
    key = attachment.thumbnail_key if thumbnail else attachment.storage_key
    if key is None:
        raise NotFound(_("This file has no preview."))
    try:
        return store.get(key)
    except (KeyError, FileNotFoundError) as exc:
        raise NotFound(_("The stored file is missing.")) from exc
    except StorageUnavailable as exc:
        raise StorageDown(_("The file store cannot be reached. Try again in a moment.")) from exc


def signed_url(store: FileStore, attachment: Attachment, seconds: int) -> str | None:
    """A short-lived signed address of the file for cloud stores (the caller redirects to it after
    ``read``); None for local disk, whose bytes the app streams itself."""
    try:
        return store.url(attachment.storage_key, attachment.file_name, attachment.content_type,
                         timedelta(seconds=seconds))
    except StorageUnavailable as exc:
        raise StorageDown(_("The file store cannot be reached. Try again in a moment.")) from exc
