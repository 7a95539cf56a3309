"""Files sent during a video call (issue 15, item 3): an image or a PDF from either participant lands
in the patient's record through the attachments service (the same size limit and the same type
check by the file's own bytes), is listed as shared in this call, and is announced to the call's
room (``call:file``, ids and the file's name only).

Where it lands: the visit's record (owner ``encounter``) when the doctor has opened it and it is
still a draft, so it shows with the visit; otherwise the patient's record (owner ``patient``).
Either way it is in the chart (which lists every file of the patient) and in the patient's
portal. Who may send: the holder of a seat in the call (``telemedicine.call_seat``: only the
appointment's own doctor and patient, inside the join window); the patient needs no role that
writes attachments, the seat is the permission. Reading a shared file back goes through
``attachments.read`` (care-team rule, audited)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Appointment, Attachment, Encounter, VideoCall, VideoCallFile
from app.realtime.emit import send
from app.services import access, attachments
from app.services.errors import NotFound
from app.services.storage import FileStore
from app.services.telemedicine import CallSeat

EVENT = "call:file"


@dataclass(frozen=True)
class _Uploader:
    id: int


def _call(session: Session, seat: CallSeat) -> VideoCall:
    call = session.execute(select(VideoCall).where(VideoCall.appointment_id == seat.appointment_id)).scalar()
    if call is None:
        raise NotFound(_("There is no such video visit."))
    return call


def owner_of(session: Session, appointment: Appointment) -> tuple[str, int]:
    """Where a file sent in this appointment's call is attached: its draft visit record, else the
    patient's record."""
    encounter = session.execute(select(Encounter).where(Encounter.appointment_id == appointment.id)).scalar()
    if encounter is not None and encounter.signed_at is None and encounter.discarded_at is None:
        return "encounter", encounter.id
    return "patient", appointment.patient_id


def send_file(session: Session, seat: CallSeat, file_name: str | None, data: bytes, now: datetime, *,
              store: FileStore, max_bytes: int = attachments.DEFAULT_MAX_BYTES) -> Attachment:
    """Attach the file to the patient's record, list it as shared in the call, tell the room."""
    call = _call(session, seat)
    appointment = session.get(Appointment, seat.appointment_id)
    if appointment is None:
        raise NotFound(_("There is no such video visit."))
    owner_type, owner_id = owner_of(session, appointment)

    def link(attachment: Attachment) -> None:
        session.add(VideoCallFile(video_call_id=call.id, attachment_id=attachment.id, shared_by_id=seat.user_id,
                                  shared_at=now))

    attachment = attachments.store_checked(session, appointment.patient_id, owner_type, owner_id, file_name, data,
                                           _Uploader(seat.user_id), now, store=store, max_bytes=max_bytes, also=link)
    send(EVENT, {"appointment_id": seat.appointment_id, "attachment_id": attachment.id,
                 "name": attachment.file_name}, [seat.room])
    return attachment


@dataclass(frozen=True)
class SharedFile:
    attachment_id: int
    file_name: str
    content_type: str
    size_label: str
    shared_at: datetime
    mine: bool
    is_image: bool

    def as_json(self) -> dict[str, Any]:
        return {"attachment_id": self.attachment_id, "name": self.file_name, "content_type": self.content_type,
                "size": self.size_label, "shared_at": self.shared_at.isoformat(), "mine": self.mine,
                "is_image": self.is_image}


def shared_files(session: Session, seat: CallSeat, user: Any) -> list[SharedFile]:
    """The files sent in the seat's call, oldest first (one audited list read)."""
    call = _call(session, seat)
    rows = list(session.execute(
        select(Attachment, VideoCallFile).join(VideoCallFile, VideoCallFile.attachment_id == Attachment.id)
        .where(VideoCallFile.video_call_id == call.id).order_by(VideoCallFile.shared_at, VideoCallFile.id)).all())
    access.record_list_read(session, user, Attachment, [attachment for attachment, _link in rows])
    return [SharedFile(a.id, a.file_name, a.content_type, attachments.human_size(a.size_bytes), link.shared_at,
                       link.shared_by_id == seat.user_id, a.content_type in attachments.IMAGE_TYPES)
            for a, link in rows]


def open_shared(session: Session, seat: CallSeat, user: Any, attachment_id: int, now: datetime) -> Attachment:
    """One file shared in the seat's call (404 for any other file), read through the care-team rule."""
    call = _call(session, seat)
    shared = session.execute(select(VideoCallFile.id).where(VideoCallFile.video_call_id == call.id,
                                                            VideoCallFile.attachment_id == attachment_id)).first()
    if shared is None:
        raise NotFound(_("No such file in this call."))
    return attachments.read(session, attachment_id, user, now)
