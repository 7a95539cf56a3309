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

from app.models import Appointment, Doctor, Patient, VideoCall, VideoCallGuest, VideoRecording
from app.models.video_recording import OPEN_STATES
from app.services.errors import Conflict, DomainError, ValidationFailed

ROOM_KIND = "call"
# The mesh sends each picture to every other participant: a doctor, the patient and ONE guest is
# what it carries well on ordinary connections (README, "Video visits: STUN and TURN").
MAX_GUESTS = 1
GUEST_NAME_LENGTH = 120
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


def _role(session: Session, user: Any, appointment: Appointment) -> tuple[str, str, VideoCallGuest | None] | None:
    """("doctor" | "patient" | "guest", display name, the guest's invitation or None) when ``user``
    is this appointment's doctor, its patient or its call's guest (an invitation not withdrawn)."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        return None
    doctor = session.get(Doctor, appointment.doctor_id)
    if doctor is not None and doctor.user_id == user_id:
        return "doctor", " ".join(part for part in (doctor.title, doctor.full_name) if part), None
    patient = session.get(Patient, appointment.patient_id)
    if patient is not None and patient.user_id == user_id:
        return "patient", patient.full_name, None
    guest = _guest_of(session, user_id, appointment.id)
    if guest is not None:
        return "guest", guest.display_name, guest
    return None


def _guest_of(session: Session, user_id: int, appointment_id: int) -> VideoCallGuest | None:
    """The invitation ``user_id`` (a guest's own login) holds for the call of ``appointment_id``,
    unless the doctor withdrew it."""
    return session.execute(
        sa.select(VideoCallGuest).join(VideoCall, VideoCall.id == VideoCallGuest.video_call_id)
        .where(VideoCallGuest.user_id == user_id, VideoCall.appointment_id == appointment_id,
               VideoCallGuest.revoked_at.is_(None))).scalar()


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
    guest = role[2]
    if guest is not None:  # the doctor admits each guest, whatever was decided for the patient
        admitted = guest.admitted_at is not None
    else:
        admitted = role[0] == "doctor" or call.admitted_at is not None
    return CallSeat(appointment_id=appointment.id, role=role[0], user_id=user.id, display_name=role[1],
                    room=room_name(call.room_key), opens_at=opens_at, closes_at=closes_at, admitted=admitted)


@dataclass(frozen=True)
class SeatLogin:
    """A seat as a socket took it: its login (user and login session) and its call and role."""

    user_id: int
    login_session_id: str
    appointment_id: int
    role: str


def seats_hold(session: Session, seats: list[SeatLogin], now: datetime) -> list[str | None]:
    """For each seat taken at a socket's ``call:join``, whether it still holds at ``now``: None if
    it does, else why not, as a refusal reason: ``login`` (the login session ended or ran out, or
    the user was deactivated), ``withdrawn`` (a guest's invitation was withdrawn). The doctor's end
    of the call is not asked: it takes everyone out of the call's rooms when it happens, and the
    doctor may open the call again (a new join). One query for all the seats (two when some are
    guests'): the signalling checks its seats every few seconds (``app.realtime.calls``). A live
    session is marked used as a request marks it (at most once a minute). The caller commits."""
    from flask_appbuilder.security.sqla.models import User

    from app.services.accounts import sessions as login_sessions

    if not seats:
        return []
    sessions = login_sessions.SESSIONS
    rows = session.execute(sa.select(sessions.c.user_id, User.active, *login_sessions.STATE_COLUMNS)
                           .join(User, User.id == sessions.c.user_id)
                           .where(sessions.c.id.in_({seat.login_session_id for seat in seats}))).all()
    states = {row[2]: (row[0], row[1], login_sessions.SessionState(*row[2:8])) for row in rows}
    guests = [seat for seat in seats if seat.role == "guest"]
    invited: set[tuple[int | None, int]] = set()
    if guests:
        invited = {(row[0], row[1]) for row in session.execute(
            sa.select(VideoCallGuest.user_id, VideoCall.appointment_id)
            .join(VideoCall, VideoCall.id == VideoCallGuest.video_call_id)
            .where(VideoCallGuest.user_id.in_({seat.user_id for seat in guests}),
                   VideoCallGuest.revoked_at.is_(None)))}
    verdicts: list[str | None] = []
    touched: set[str] = set()
    for seat in seats:
        found = states.get(seat.login_session_id)
        if found is None or found[0] != seat.user_id or not found[1] or not login_sessions.is_live(found[2], now):
            verdicts.append("login")
            continue
        if login_sessions.needs_touch(found[2], now) and seat.login_session_id not in touched:
            login_sessions.touch_session(session, seat.login_session_id, now)
            touched.add(seat.login_session_id)
        verdicts.append("withdrawn" if seat.role == "guest" and (seat.user_id, seat.appointment_id) not in invited
                        else None)
    return verdicts


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


def call_over(call: VideoCall, appointment: Appointment, now: datetime, window: JoinWindow) -> bool:
    """Whether nothing more happens in this call at ``now``: the doctor ended it, the visit is no
    longer callable (finished, cancelled, no-show), or its join window closed."""
    return (call.ended_at is not None or appointment.status not in CALLABLE
            or now > window.bounds(appointment)[1])


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


def admit(session: Session, appointment_id: Any, actor: Any, now: datetime,
          guest_user_ids: tuple[int, ...] = (), patient: bool = True) -> VideoCall:
    """The doctor lets those waiting in: with ``patient``, ``admitted_at``/``admitted_by_id`` of the
    call are set the first time (a second admit changes nothing); the guests among them
    (``guest_user_ids``, their logins) are admitted each. Anyone but the visit's doctor:
    CallRefused. The caller commits."""
    call = _doctors_call(session, actor, appointment_id)
    if patient and call.admitted_at is None:
        call.admitted_at = now
        call.admitted_by_id = actor.id
    if guest_user_ids:
        session.execute(sa.update(VideoCallGuest).where(
            VideoCallGuest.video_call_id == call.id, VideoCallGuest.user_id.in_(guest_user_ids),
            VideoCallGuest.admitted_at.is_(None), VideoCallGuest.revoked_at.is_(None))
            .values(admitted_at=now).execution_options(synchronize_session=False))
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


def end_call(session: Session, appointment_id: Any, actor: Any, now: datetime, *,
             recording_retention_days: int) -> VideoCall:
    """The doctor ends the call: ``ended_at`` set the first time (never before ``started_at``);
    a second end changes nothing of it. Any open recording of the call stops with it, in the same
    transaction (``video_recording.stop_for_call_end``: ``call_ended``, by the doctor, kept
    ``recording_retention_days`` from now), also on a second end (the doctor may have joined again
    and recorded since). Anyone but the visit's doctor: CallRefused. The caller commits."""
    from app.services import video_recording  # imported here: it imports this module

    call = _doctors_call(session, actor, appointment_id)
    if call.ended_at is None:
        call.ended_at = max(now, call.started_at) if call.started_at is not None else now
        session.flush()
    video_recording.stop_for_call_end(session, call, now, ended_by_id=actor.id,
                                      retention_days=recording_retention_days)
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


# --- a third participant, invited with a one-time link ------------------------------------------


@dataclass(frozen=True)
class GuestInvite:
    """A new invitation and its one-time secret (shown to the doctor once, never stored)."""

    guest: VideoCallGuest
    token: str


GUEST_LOGIN_PREFIX = "video-guest-"


def is_guest_login(user: Any) -> bool:
    """A login made by ``redeem_guest_link`` for one call's guest (no role, no password)."""
    return str(getattr(user, "username", "") or "").startswith(GUEST_LOGIN_PREFIX)


def guest_link_path(token: str) -> str:
    return f"/video-guest/{token}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_guest(session: Session, appointment_id: Any, actor: Any, display_name: Any, now: datetime,
                 window: JoinWindow) -> GuestInvite:
    """The visit's doctor invites a third participant (an interpreter, a family member) by name:
    a one-time link, good until the call closes. At most ``MAX_GUESTS`` invitations not withdrawn
    per call (Conflict). Anyone but the doctor: CallRefused. The caller commits."""
    call = _doctors_call(session, actor, appointment_id)
    appointment = session.get(Appointment, call.appointment_id)
    assert appointment is not None
    name = display_name.strip() if isinstance(display_name, str) else ""
    if not name:
        raise ValidationFailed(_("Give the guest's name, as the others will see it."), "display_name")
    if len(name) > GUEST_NAME_LENGTH:
        raise ValidationFailed(_("A name has at most %(n)d characters.", n=GUEST_NAME_LENGTH), "display_name")
    if appointment.status not in CALLABLE or now > window.bounds(appointment)[1]:
        raise CallRefused("cancelled", _("This video visit is over: nobody can be invited any more."))
    recording = session.execute(sa.select(VideoRecording.id).where(
        VideoRecording.video_call_id == call.id, VideoRecording.state.in_(OPEN_STATES))).first()
    if recording is not None:  # a guest is never asked to consent: no guest while it may record
        raise Conflict(_("Stop the recording before inviting a guest."), "display_name")
    active = session.execute(sa.select(sa.func.count()).select_from(VideoCallGuest).where(
        VideoCallGuest.video_call_id == call.id, VideoCallGuest.revoked_at.is_(None))).scalar_one()
    if active >= MAX_GUESTS:
        raise Conflict(_("A video visit can have one guest. Withdraw the invitation first to invite someone "
                         "else."), "display_name")
    token = secrets.token_urlsafe(32)
    guest = VideoCallGuest(video_call_id=call.id, display_name=name, token_digest=_digest(token),
                           invited_by_id=actor.id, invited_at=now)
    session.add(guest)
    session.flush()
    return GuestInvite(guest, token)


def call_guests(session: Session, appointment_id: Any, actor: Any) -> list[VideoCallGuest]:
    """The invitations of a call, oldest first (the doctor's list). Anyone but the doctor: CallRefused."""
    call = _doctors_call(session, actor, appointment_id)
    return list(session.execute(sa.select(VideoCallGuest).where(VideoCallGuest.video_call_id == call.id)
                                .order_by(VideoCallGuest.id)).scalars())


def revoke_guest(session: Session, appointment_id: Any, guest_id: Any, actor: Any, now: datetime) -> VideoCallGuest:
    """The doctor withdraws an invitation: its link no longer opens, and a guest who used it has no
    seat any more (the signalling refuses their next event). The caller commits."""
    call = _doctors_call(session, actor, appointment_id)
    guest = session.get(VideoCallGuest, guest_id) if isinstance(guest_id, int) and 0 < guest_id < 2**31 else None
    if guest is None or guest.video_call_id != call.id:
        raise CallRefused("not_found", _("There is no such invitation."))
    if guest.revoked_at is None:
        guest.revoked_at = now
        session.flush()
    return guest


@dataclass(frozen=True)
class GuestLink:
    """What a one-time link opens: the guest's name, the visit and its doctor (for the page)."""

    guest_id: int
    display_name: str
    appointment_id: int
    doctor_name: str
    starts_at: datetime


def guest_link(session: Session, token: Any, now: datetime, window: JoinWindow) -> GuestLink:
    """The invitation a link's secret opens, or CallRefused saying why not: unknown, withdrawn,
    already used, or the call is over. Changes nothing."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise CallRefused("invalid_link", _("This invitation link is not valid."))
    guest = session.execute(sa.select(VideoCallGuest).where(VideoCallGuest.token_digest == _digest(token))).scalar()
    if guest is None:
        raise CallRefused("invalid_link", _("This invitation link is not valid."))
    if guest.revoked_at is not None:
        raise CallRefused("revoked", _("The doctor withdrew this invitation."))
    if guest.redeemed_at is not None:
        raise CallRefused("used", _("This invitation link was already used. Ask the doctor for a new one."))
    call = session.get(VideoCall, guest.video_call_id)
    appointment = session.get(Appointment, call.appointment_id) if call is not None else None
    if appointment is None or appointment.status not in CALLABLE or now > window.bounds(appointment)[1]:
        raise CallRefused("too_late", _("This video visit is over."))
    doctor = session.get(Doctor, appointment.doctor_id)
    doctor_name = " ".join(part for part in (doctor.title, doctor.full_name) if part) if doctor else ""
    return GuestLink(guest.id, guest.display_name, appointment.id, doctor_name, appointment.start_at)


def redeem_guest_link(session: Session, token: Any, now: datetime, window: JoinWindow) -> tuple[GuestLink, Any]:
    """Use a one-time link: a login of the guest's own (no role, no password; it can take a seat in
    this call and nothing else) and the invitation marked used, both in the caller's transaction.
    Of two uses at once, one wins (a conditional UPDATE); the other gets CallRefused ``used``.
    Returns the link and the new login (a FAB ``User``); the caller commits and logs it in."""
    from flask_appbuilder.security.sqla.models import User

    link = guest_link(session, token, now, window)
    claimed = session.execute(sa.update(VideoCallGuest).where(
        VideoCallGuest.id == link.guest_id, VideoCallGuest.redeemed_at.is_(None),
        VideoCallGuest.revoked_at.is_(None)).values(redeemed_at=now)
        .execution_options(synchronize_session=False))
    if getattr(claimed, "rowcount", 0) != 1:
        raise CallRefused("used", _("This invitation link was already used. Ask the doctor for a new one."))
    handle = f"{GUEST_LOGIN_PREFIX}{link.guest_id}-{secrets.token_hex(6)}"
    user = User(first_name=link.display_name[:64], last_name="", username=handle, email=f"{handle}@guest.invalid",
                active=True, password=None)
    session.add(user)
    session.flush()
    session.execute(sa.update(VideoCallGuest).where(VideoCallGuest.id == link.guest_id).values(user_id=user.id)
                    .execution_options(synchronize_session=False))
    return link, user


GUEST_LOGIN_RETIRED = "guest_call_over"  # the end reason of a retired guest login's sessions


def retire_guest_logins(session: Session, now: datetime, window: JoinWindow) -> int:
    """The periodic clean-up of guest logins (``app.jobs.maintenance.retire_guest_logins``): each
    login made by ``redeem_guest_link`` whose call is over (``call_over``: ended by the doctor, the
    visit no longer callable, or its join window closed) or whose invitation was withdrawn is
    deactivated, and its login sessions end (``accounts.sessions.end_user_sessions``), so its
    cookie neither takes a seat nor opens a page any more. The ``User`` row stays: audit rows name
    it. A guest of a call still open is left alone. How many were retired; commits."""
    from flask_appbuilder.security.sqla.models import User

    from app.services.accounts.sessions import end_user_sessions

    rows = session.execute(
        sa.select(User, VideoCallGuest, VideoCall, Appointment)
        .join(VideoCallGuest, VideoCallGuest.user_id == User.id)
        .join(VideoCall, VideoCall.id == VideoCallGuest.video_call_id)
        .join(Appointment, Appointment.id == VideoCall.appointment_id)
        .where(User.active.is_(True), User.username.startswith(GUEST_LOGIN_PREFIX))
        .order_by(User.id)).all()
    retired = 0
    for user, guest, call, appointment in rows:
        if guest.revoked_at is None and not call_over(call, appointment, now, window):
            continue
        user.active = False
        end_user_sessions(session, user.id, now, reason=GUEST_LOGIN_RETIRED)
        retired += 1
    session.commit()
    return retired


def has_invited_guest(session: Session, appointment_id: int) -> bool:
    """Whether the call has an invitation not withdrawn (used or not)."""
    return session.execute(sa.select(sa.exists().where(
        VideoCallGuest.video_call_id == VideoCall.id, VideoCall.appointment_id == appointment_id,
        VideoCallGuest.revoked_at.is_(None)))).scalar_one()


def patient_arrived(session: Session, appointment_id: int, actor_id: int, now: datetime, settings: Any) -> bool:
    """The patient entered the call's waiting room: a requested or confirmed video visit of today is
    checked in (``front_desk.check_in``: a queue number, the desk's board and the doctor's My day
    show them waiting), as a patient walking up to the desk is. Whether it was checked in now; a
    visit already further along, or of another day, is left as it is. Commits (check_in does)."""
    from app.services import front_desk

    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status not in ("requested", "confirmed"):
        return False
    try:
        front_desk.check_in(session, appointment_id, actor_id, now, settings=settings)
    except DomainError:  # another day, or the desk was quicker: nothing to do
        session.rollback()
        return False
    return True


@dataclass(frozen=True)
class CallSummary:
    """A video visit's call as the visit workspace shows it."""

    started_at: datetime | None
    ended_at: datetime | None

    @property
    def minutes(self) -> int | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0, round((self.ended_at - self.started_at).total_seconds() / 60))


def call_summary(session: Session, appointment_id: int | None) -> CallSummary | None:
    """When the call of a video appointment started and ended (None: no call room yet)."""
    call = _call_of(session, appointment_id) if appointment_id else None
    return CallSummary(call.started_at, call.ended_at) if call is not None else None
