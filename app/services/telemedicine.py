"""Video visits: who may enter an appointment's call room and when, the room itself, and the ICE
servers (STUN, and TURN with time-limited credentials) handed to the browsers.

The media flows between the browsers (WebRTC); the server only relays the signalling over the
authenticated Socket.IO connection (``app.realtime.calls``), one room per appointment, named
``call:<room key>`` with a random key. Every entry point (the portal's and the doctor's call pages,
the signalling handlers) asks ``call_seat`` and nothing else."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Appointment, Doctor, Patient, VideoCall
from app.services.errors import DomainError

ROOM_KIND = "call"
# Statuses in which the call can take place (the doctor's "start visit" moves it to in_consultation).
CALLABLE = ("confirmed", "requested", "checked_in", "in_consultation")


class CallRefused(DomainError):
    """Entry to a call room refused; ``reason`` is a short code for the audit trail and the tests:
    ``not_found``, ``not_video``, ``not_yours``, ``cancelled``, ``too_early``, ``too_late``;
    ``not_doctor`` for what only the visit's doctor may do (admit, end the call)."""

    status = 403

    def __init__(self, reason: str, message: str, opens_at: datetime | None = None):
        super().__init__(message)
        self.reason = reason
        self.opens_at = opens_at


@dataclass(frozen=True)
class JoinWindow:
    early_minutes: int = 15
    late_minutes: int = 30

    @classmethod
    def from_config(cls, config: Mapping) -> JoinWindow:
        return cls(int(config.get("VIDEO_JOIN_EARLY_MINUTES", 15)), int(config.get("VIDEO_JOIN_LATE_MINUTES", 30)))

    def bounds(self, appointment: Appointment) -> tuple[datetime, datetime]:
        return (appointment.start_at - timedelta(minutes=self.early_minutes),
                appointment.end_at + timedelta(minutes=self.late_minutes))


@dataclass(frozen=True)
class CallSeat:
    """A user's place in one appointment's call: ``role`` is ``doctor`` or ``patient``."""

    appointment_id: int
    role: str
    user_id: int
    display_name: str
    room: str
    opens_at: datetime
    closes_at: datetime
    admitted: bool


def patient_join_path(appointment_id: int) -> str:
    """The patient's page of the call (the portal's waiting room), as linked from reminders."""
    return f"/portal/appointments/{appointment_id}/video"


def doctor_join_path(appointment_id: int) -> str:
    """The doctor's page of the call (from My day and the visit workspace)."""
    return f"/clinic/video/{appointment_id}"


def new_room_key() -> str:
    return secrets.token_urlsafe(32)[:43]


def room_name(room_key: str) -> str:
    return f"{ROOM_KIND}:{room_key}"


def ensure_call(session: Session, appointment: Appointment) -> VideoCall:
    """The call room of a video appointment, created on first need (in the caller's transaction)."""
    call = session.execute(sa.select(VideoCall).where(VideoCall.appointment_id == appointment.id)).scalar()
    if call is None:
        call = VideoCall(appointment_id=appointment.id, room_key=new_room_key())
        session.add(call)
        session.flush()
    return call


def _role(session: Session, user: Any, appointment: Appointment) -> tuple[str, str] | None:
    """("doctor" | "patient", display name) when ``user`` is this appointment's doctor or patient."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        return None
    doctor = session.get(Doctor, appointment.doctor_id)
    if doctor is not None and doctor.user_id == user_id:
        return "doctor", " ".join(part for part in (doctor.title, doctor.full_name) if part)
    patient = session.get(Patient, appointment.patient_id)
    if patient is not None and patient.user_id == user_id:
        return "patient", patient.full_name
    return None


def call_seat(session: Session, user: Any, appointment_id: Any, now: datetime, window: JoinWindow) -> CallSeat:
    """``user``'s seat in the call of ``appointment_id`` at ``now``, or CallRefused. Only the
    appointment's own doctor and patient get one, only for a video appointment that is not
    cancelled, and only from ``window.early_minutes`` before its start to ``window.late_minutes``
    after its end. Someone else's appointment and an unknown one are refused alike (``not_found``
    is kept for ids that are not ids at all), so a refusal tells nothing about other patients."""
    if not isinstance(appointment_id, int) or isinstance(appointment_id, bool) or not 0 < appointment_id < 2**31:
        raise CallRefused("not_found", _("There is no such video visit."))
    appointment = session.get(Appointment, appointment_id)
    role = _role(session, user, appointment) if appointment is not None else None
    if appointment is None or role is None:
        raise CallRefused("not_yours", _("This video visit is not yours."))
    if appointment.mode != "video":
        raise CallRefused("not_video", _("This visit is in person, not by video."))
    if appointment.status not in CALLABLE:
        raise CallRefused("cancelled", _("This visit was cancelled or has ended."))
    opens_at, closes_at = window.bounds(appointment)
    if now < opens_at:
        raise CallRefused("too_early", _("The video visit opens %(minutes)d minutes before it starts.",
                                         minutes=window.early_minutes), opens_at)
    if now > closes_at:
        raise CallRefused("too_late", _("This video visit is over."))
    call = ensure_call(session, appointment)
    return CallSeat(appointment_id=appointment.id, role=role[0], user_id=user.id, display_name=role[1],
                    room=room_name(call.room_key), opens_at=opens_at, closes_at=closes_at,
                    admitted=role[0] == "doctor" or call.admitted_at is not None)


def turn_credentials(secret: str, user_id: int, now: datetime, ttl_seconds: int) -> tuple[str, str]:
    """coturn's REST API credentials (``use-auth-secret``): the user name is the expiry as a Unix
    time and the user id, the password the base64 HMAC-SHA1 of that user name under the shared
    secret. coturn checks both itself; the app never stores them."""
    expires = int(now.timestamp()) + ttl_seconds
    username = f"{expires}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(config: Mapping, user_id: int, now: datetime) -> list[dict[str, Any]]:
    """The RTCPeerConnection ``iceServers`` for ``user_id``: the STUN addresses, and TURN with
    fresh credentials when a TURN address and secret are set. Empty: host candidates only."""
    servers: list[dict[str, Any]] = []
    stun = [url.strip() for url in str(config.get("VIDEO_STUN_URLS") or "").split(",") if url.strip()]
    if stun:
        servers.append({"urls": stun})
    turn = [url.strip() for url in str(config.get("VIDEO_TURN_URLS") or "").split(",") if url.strip()]
    secret = str(config.get("VIDEO_TURN_SECRET") or "")
    if turn and secret:
        username, credential = turn_credentials(secret, user_id, now, int(config.get("VIDEO_TURN_TTL_SECONDS", 3600)))
        servers.append({"urls": turn, "username": username, "credential": credential})
    return servers


def _call_of(session: Session, appointment_id: int) -> VideoCall | None:
    return session.execute(sa.select(VideoCall).where(VideoCall.appointment_id == appointment_id)).scalar()


def call_ended(session: Session, appointment_id: int) -> bool:
    """Whether the doctor ended this appointment's call (the call pages then open on "ended")."""
    call = _call_of(session, appointment_id)
    return call is not None and call.ended_at is not None


def _doctors_call(session: Session, actor: Any, appointment_id: Any) -> VideoCall:
    """The call room of ``appointment_id`` when ``actor`` is its doctor, else CallRefused."""
    if not isinstance(appointment_id, int) or isinstance(appointment_id, bool) or not 0 < appointment_id < 2**31:
        raise CallRefused("not_found", _("There is no such video visit."))
    appointment = session.get(Appointment, appointment_id)
    role = _role(session, actor, appointment) if appointment is not None else None
    if appointment is None or role is None:
        raise CallRefused("not_yours", _("This video visit is not yours."))
    if role[0] != "doctor":
        raise CallRefused("not_doctor", _("Only the visit's doctor can do this."))
    if appointment.mode != "video":
        raise CallRefused("not_video", _("This visit is in person, not by video."))
    return ensure_call(session, appointment)


def admit(session: Session, appointment_id: Any, actor: Any, now: datetime) -> VideoCall:
    """The doctor lets the patient in from the waiting room: ``admitted_at``/``admitted_by_id`` are
    set the first time; a second admit changes nothing. Anyone but the visit's doctor: CallRefused.
    The caller commits."""
    call = _doctors_call(session, actor, appointment_id)
    if call.admitted_at is None:
        call.admitted_at = now
        call.admitted_by_id = actor.id
        session.flush()
    return call


def mark_started(session: Session, appointment_id: int, now: datetime) -> bool:
    """The call started (both the doctor and the patient in the call room): ``started_at`` set the
    first time only, and never after the doctor ended it (a call ended before anyone joined stays
    unstarted); whether it was set now. The caller commits."""
    call = _call_of(session, appointment_id)
    if call is None or call.started_at is not None or call.ended_at is not None:
        return False
    call.started_at = now
    session.flush()
    return True


def end_call(session: Session, appointment_id: Any, actor: Any, now: datetime) -> VideoCall:
    """The doctor ends the call: ``ended_at`` set the first time (never before ``started_at``);
    a second end changes nothing. Anyone but the visit's doctor: CallRefused. The caller commits."""
    call = _doctors_call(session, actor, appointment_id)
    if call.ended_at is None:
        call.ended_at = max(now, call.started_at) if call.started_at is not None else now
        session.flush()
    return call


def record_call_refusal(session: Session, user_id: int | None, appointment_id: Any, event: str, reason: str, *,
                        to: str | None = None, address: str | None = None) -> None:
    """The audit row of a refused signalling event (``call:join``, ``call:admit``, ``call:signal``):
    who, which appointment (as sent, cut short), the event, the reason and the addressee of a
    signal. The caller commits."""
    from app.audit import record_event

    details: dict[str, Any] = {"event": event, "reason": reason}
    if to:
        details["to"] = to[:40]
    if address:
        details["address"] = address
    record_event(session, "call_denied", "Appointment", str(appointment_id)[:40], details=details, user_id=user_id)
