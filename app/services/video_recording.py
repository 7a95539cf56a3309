"""Recording a video call, only with every participant's consent (issue 15, item 4).

The rules:

* only the appointment's doctor asks for a recording (``request_recording``), and only one request
  or recording of a call is open at a time;
* each participant (the doctor and the patient: the call's two seats) answers on their own screen
  (``decide``); one refusal refuses the request; the recording starts only when both have accepted,
  and the answers (who, as what, when) are stored with it;
* the recording is made in the doctor's browser (MediaRecorder) and uploaded in chunks
  (``add_chunk``): accepted only from the doctor's seat and only while the recording is
  ``recording`` with both consents standing; a chunk for a request, a refused or a stopped
  recording is refused (409);
* either participant stops it at any time: the doctor's stop (``stop``) is a stop; the patient's
  stop of a running recording, like taking back their consent (``decide(accept=False)``), withdraws
  their consent: it stops the recording and the consent row keeps when it was withdrawn (the
  doctor records in his own browser, so only the other seat has a consent to take back by
  stopping);
* the server stops an open recording itself (``stop_reason`` ``call_ended``): when the call ends
  (``telemedicine.end_call`` calls ``stop_for_call_end`` in its transaction), and, through the
  periodic ``stop_abandoned``, when the call is over without being ended (the visit finished or
  cancelled, the join window closed) or when the doctor's browser has sent nothing for
  ``RECORDER_SILENCE`` (``recorder_gone``: his tab closed, his browser or connection died);
* each chunk is sealed with AES-256-GCM (the ``cryptography`` package) under a key derived from
  ``VIDEO_RECORDING_KEY``; the nonce is random per chunk and the recording's id and the chunk's
  number are authenticated with it, so a chunk cannot be swapped into another place unnoticed;
  the sealed bytes go through the file store (``FileStore``) under random keys;
* playing it back (``open_recording`` then ``play``) is a read of a clinical record: the
  care-team rule of ``app.services.access`` and an audit row (``read`` or ``denied``);
* ``VIDEO_RECORDING_RETENTION_DAYS`` after it stops (or starts, if it was never stopped) the
  periodic job ``delete_expired`` deletes the stored chunks and marks the recording ``deleted``.

Each change is announced to the two participants' own rooms (``user:<id>``) with ids and states
only (``call:recording``), so each sees the request on their own screen.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask_babel import gettext as _
from sqlalchemy import event as sa_event, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.models import Appointment, Doctor, Patient, RecordingChunk, RecordingConsent, VideoCall, VideoRecording
from app.models.video_recording import OPEN_STATES
from app.realtime.emit import send
from app.services import access, telemedicine
from app.services.errors import DomainError, from_database_error
from app.services.storage import FileStore, StorageUnavailable
from app.services.telemedicine import CallSeat

EVENT = "call:recording"
ROLES = ("doctor", "patient")
NONCE_BYTES = 12
DEFAULT_RETENTION_DAYS = 30
DEFAULT_CHUNK_MAX_BYTES = 16 * 1024 * 1024  # MediaRecorder slices of a few seconds are far smaller
# The doctor's browser uploads a piece every 4 s: a recording with no piece for this long has no
# recorder any more (the tab closed, the browser or its connection died). Longer than a reload.
RECORDER_SILENCE = timedelta(minutes=2)
# Why the server stopped a recording itself (``stop_reason``); ``stopped_by_id`` is who ended the
# call, or None for the periodic sweep.
CALL_ENDED = "call_ended"
RECORDER_GONE = "recorder_gone"
PENDING_ANNOUNCEMENTS = "video_recording_announcements"  # session.info key: sent after the commit


class RecordingRefused(DomainError):
    """A recording step refused; ``reason`` is a short code for the JSON answer and the tests."""

    def __init__(self, reason: str, message: str, status: int = 409, field: str | None = None):
        super().__init__(message, field)
        self.reason = reason
        self.status = status


# --- the key and the seal --------------------------------------------------------------------

def derive_key(secret: str) -> bytes:
    """The AES-256 key from the configured secret (any long random string) through HKDF-SHA256."""
    if not secret:
        raise ValueError("VIDEO_RECORDING_KEY is empty")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"clinic video recording chunks v1").derive(secret.encode())


def key_fingerprint(key: bytes) -> str:
    """Which key sealed a recording (kept on the row; never the key itself)."""
    return hashlib.sha256(b"clinic video recording key id" + key).hexdigest()[:16]


def _aad(recording_id: int, seq: int) -> bytes:
    return f"video-recording:{recording_id}:{seq}".encode()


def seal(key: bytes, recording_id: int, seq: int, data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, data, _aad(recording_id, seq))


def unseal(key: bytes, recording_id: int, seq: int, sealed: bytes) -> bytes:
    """The plain bytes; ``InvalidTag`` under another key, or when the bytes or their place changed."""
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(recording_id, seq))


def retention_days(config: Mapping[str, Any]) -> int:
    """``VIDEO_RECORDING_RETENTION_DAYS``: how long a recording is kept after it stops."""
    return int(config.get("VIDEO_RECORDING_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


@dataclass(frozen=True)
class RecordingSetup:
    """Where and how recordings are kept: the store, the key, the retention, the chunk limit."""

    store: FileStore
    key: bytes
    retention_days: int = DEFAULT_RETENTION_DAYS
    chunk_max_bytes: int = DEFAULT_CHUNK_MAX_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any], store: FileStore) -> RecordingSetup:
        return cls(store=store, key=derive_key(str(config.get("VIDEO_RECORDING_KEY") or "")),
                   retention_days=retention_days(config),
                   chunk_max_bytes=int(config.get("VIDEO_RECORDING_CHUNK_MAX_BYTES", DEFAULT_CHUNK_MAX_BYTES)))


# --- reading the call ------------------------------------------------------------------------

def _call(session: Session, appointment_id: int, lock: bool = False) -> VideoCall:
    query = select(VideoCall).where(VideoCall.appointment_id == appointment_id)
    call = session.execute(query.with_for_update() if lock else query).scalar()
    if call is None:  # call_seat creates it: a seat always has one
        raise RecordingRefused("not_found", _("There is no such video visit."), 404)
    return call


def participants(session: Session, appointment_id: int) -> dict[str, int | None]:
    """The user ids of the call's two seats: {"doctor": id, "patient": id}."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return {"doctor": None, "patient": None}
    doctor = session.get(Doctor, appointment.doctor_id)
    patient = session.get(Patient, appointment.patient_id)
    return {"doctor": doctor.user_id if doctor else None, "patient": patient.user_id if patient else None}


def _recording(session: Session, seat: CallSeat, recording_id: Any) -> VideoRecording:
    """The recording ``recording_id`` of the seat's own call (another call's is not found)."""
    if not isinstance(recording_id, int) or isinstance(recording_id, bool) or not 0 < recording_id < 2**31:
        raise RecordingRefused("not_found", _("There is no such recording in this call."), 404)
    # Locked for the rest of the transaction (PostgreSQL; SQLite writes one at a time anyway): two
    # answers at the same moment, or a chunk racing a stop, are taken one after the other, each
    # seeing what the other wrote.
    recording = session.execute(
        select(VideoRecording).where(VideoRecording.id == recording_id).with_for_update()
        .execution_options(populate_existing=True)).scalar()
    if recording is None or recording.video_call.appointment_id != seat.appointment_id:
        raise RecordingRefused("not_found", _("There is no such recording in this call."), 404)
    session.expire(recording, ["consents"])
    return recording


def _consent(recording: VideoRecording, role: str) -> RecordingConsent | None:
    return next((c for c in recording.consents if c.role == role), None)


def all_consented(recording: VideoRecording) -> bool:
    """Both participants accepted and neither took it back."""
    for role in ROLES:
        consent = _consent(recording, role)
        if consent is None or consent.decision != "accepted" or consent.withdrawn_at is not None:
            return False
    return True


@dataclass(frozen=True)
class RecordingView:
    """What the call page shows of a recording (ids and states, no patient data)."""

    id: int
    appointment_id: int
    state: str
    consents: dict[str, str | None]  # role -> "accepted" | "refused" | "withdrawn" | None
    requested_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None
    chunks: int
    retain_until: datetime | None

    def as_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {"recording_id": self.id, "appointment_id": self.appointment_id, "state": self.state,
                "consents": self.consents, "requested_at": iso(self.requested_at),
                "started_at": iso(self.started_at), "stopped_at": iso(self.stopped_at),
                "stop_reason": self.stop_reason, "chunks": self.chunks, "retain_until": iso(self.retain_until)}


def view(session: Session, recording: VideoRecording) -> RecordingView:
    consents: dict[str, str | None] = {}
    for role in ROLES:
        consent = _consent(recording, role)
        consents[role] = None if consent is None else (
            "withdrawn" if consent.withdrawn_at is not None else consent.decision)
    chunks = len(session.execute(select(RecordingChunk.id).where(
        RecordingChunk.recording_id == recording.id)).all())
    return RecordingView(recording.id, recording.video_call.appointment_id, recording.state, consents,
                         recording.requested_at, recording.started_at, recording.stopped_at, recording.stop_reason,
                         chunks, recording.retain_until)


def call_recordings(session: Session, seat: CallSeat) -> list[RecordingView]:
    """The recordings of the seat's call, oldest first (states only: nothing of them is played)."""
    call = _call(session, seat.appointment_id)
    rows = session.execute(select(VideoRecording).where(VideoRecording.video_call_id == call.id)
                           .order_by(VideoRecording.id)).scalars()
    return [view(session, row) for row in rows]


def _announce(session: Session, recording: VideoRecording) -> None:
    seats = participants(session, recording.video_call.appointment_id)
    send(EVENT, view(session, recording).as_json(), [f"user:{uid}" for uid in seats.values() if uid is not None])


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise RecordingRefused("conflict", _("Someone else changed this recording at the same moment; "
                                             "try again.")) from exc
    except SQLAlchemyError as exc:
        session.rollback()
        raise from_database_error(exc) from exc


# --- the consent flow ------------------------------------------------------------------------

def request_recording(session: Session, seat: CallSeat, now: datetime, *, setup: RecordingSetup) -> VideoRecording:
    """The doctor asks to record the call: a ``requested`` recording that waits for both answers."""
    if seat.role != "doctor":
        raise RecordingRefused("not_doctor", _("Only the doctor can ask to record the call."), 403)
    call = _call(session, seat.appointment_id, lock=True)  # two clicks at once: one request
    busy = session.execute(select(VideoRecording.id).where(VideoRecording.video_call_id == call.id,
                                                           VideoRecording.state.in_(OPEN_STATES))).first()
    if busy is not None:
        raise RecordingRefused("already_open", _("A recording of this call is already asked for or running."))
    if telemedicine.has_invited_guest(session, seat.appointment_id):
        # the guest was never asked: no recording while one is invited (invite_guest refuses the other way round)
        raise RecordingRefused("guest", _("A guest is invited to this call: withdraw the invitation to record."))
    appointment = session.get(Appointment, seat.appointment_id)
    assert appointment is not None
    recording = VideoRecording(video_call_id=call.id, patient_id=appointment.patient_id, state="requested",
                               requested_by_id=seat.user_id, requested_at=now, key_id=key_fingerprint(setup.key))
    session.add(recording)
    _commit(session)
    _announce(session, recording)
    return recording


def decide(session: Session, seat: CallSeat, recording_id: Any, accept: bool, now: datetime, *,
           setup: RecordingSetup) -> VideoRecording:
    """The seat's own answer. Accepting a request: recorded; when both have accepted, the recording
    starts. Refusing a request: it is refused for good. Refusing while it records: the consent is
    withdrawn and the recording stops. Anything else (an answer to a finished recording): 409."""
    recording = _recording(session, seat, recording_id)
    consent = _consent(recording, seat.role)
    if recording.state == "recording" and not accept:
        return _withdraw(session, recording, seat, now, setup)
    if recording.state == "recording" and accept:
        return recording  # already given
    if recording.state != "requested":
        raise RecordingRefused("not_requested", _("This recording is no longer waiting for an answer."))
    if consent is None:
        consent = RecordingConsent(recording=recording, user_id=seat.user_id, role=seat.role,
                                   decision="accepted" if accept else "refused", decided_at=now)
        session.add(consent)
    else:
        consent.decision, consent.decided_at, consent.user_id = ("accepted" if accept else "refused"), now, seat.user_id
    if not accept:
        recording.state, recording.stopped_at = "refused", now
        recording.stopped_by_id, recording.stop_reason = seat.user_id, "refused"
    elif all_consented(recording):
        recording.state, recording.started_at = "recording", now
        recording.retain_until = now + timedelta(days=setup.retention_days)
    _commit(session)
    _announce(session, recording)
    return recording


def _stop(recording: VideoRecording, stopped_by_id: int | None, now: datetime, reason: str,
          retention_days: int) -> None:
    recording.state = "stopped"
    recording.stopped_at, recording.stopped_by_id, recording.stop_reason = now, stopped_by_id, reason
    recording.retain_until = now + timedelta(days=retention_days)


def _withdraw(session: Session, recording: VideoRecording, seat: CallSeat, now: datetime,
              setup: RecordingSetup) -> VideoRecording:
    """The seat takes back its consent to a running recording: the consent keeps when, and the
    recording stops (``consent_withdrawn``, by the seat's user)."""
    consent = _consent(recording, seat.role)
    if consent is not None:
        consent.withdrawn_at = now
    _stop(recording, seat.user_id, now, "consent_withdrawn", setup.retention_days)
    _commit(session)
    _announce(session, recording)
    return recording


def stop(session: Session, seat: CallSeat, recording_id: Any, now: datetime, *,
         setup: RecordingSetup) -> VideoRecording:
    """Either participant stops the recording (or withdraws the request) at any time; stopping one
    that is already over changes nothing. The doctor's stop is a stop (``stopped``); the patient's
    stop of a running recording withdraws their consent (``consent_withdrawn``, the consent's
    ``withdrawn_at`` set), as ``decide(accept=False)`` does: the recorder is the doctor, the one
    who stops it from the other seat takes back what they gave."""
    recording = _recording(session, seat, recording_id)
    if recording.state not in OPEN_STATES:
        return recording
    if recording.state == "recording" and seat.role != "doctor":
        return _withdraw(session, recording, seat, now, setup)
    _stop(recording, seat.user_id, now, "stopped", setup.retention_days)
    _commit(session)
    _announce(session, recording)
    return recording


# --- stops by the server itself --------------------------------------------------------------

def _announce_after_commit(session: Session, recording: VideoRecording) -> None:
    """Queue the recording's news for the participants, sent once the caller's transaction commits
    (dropped if it rolls back): a stop made inside someone else's transaction (``end_call``)."""
    seats = participants(session, recording.video_call.appointment_id)
    rooms = [f"user:{uid}" for uid in seats.values() if uid is not None]
    session.info.setdefault(PENDING_ANNOUNCEMENTS, []).append((view(session, recording).as_json(), rooms))


@sa_event.listens_for(Session, "after_commit")
def _send_announcements(session: Session) -> None:
    for payload, rooms in session.info.pop(PENDING_ANNOUNCEMENTS, ()):
        send(EVENT, payload, rooms)


@sa_event.listens_for(Session, "after_rollback")
def _drop_announcements(session: Session) -> None:
    session.info.pop(PENDING_ANNOUNCEMENTS, None)


def _locked_open(session: Session, call_id: int) -> list[VideoRecording]:
    return list(session.execute(
        select(VideoRecording).where(VideoRecording.video_call_id == call_id,
                                     VideoRecording.state.in_(OPEN_STATES))
        .order_by(VideoRecording.id).with_for_update().execution_options(populate_existing=True)).scalars())


def stop_for_call_end(session: Session, call: VideoCall, now: datetime, *, ended_by_id: int | None,
                      retention_days: int) -> list[VideoRecording]:
    """The call ends: every open recording of it (a request, a running recording) stops, as a stop
    by the server (``call_ended``, ``stopped_by_id`` who ended the call, ``stopped_at`` the end), in
    the caller's transaction; a piece uploaded after is refused as after any stop. The participants
    hear of it after the caller commits. Which recordings it stopped."""
    stopped = _locked_open(session, call.id)
    for recording in stopped:
        _stop(recording, ended_by_id, now, CALL_ENDED, retention_days)
    session.flush()
    for recording in stopped:
        _announce_after_commit(session, recording)
    return stopped


def _recorder_silent_since(session: Session, recording: VideoRecording) -> datetime | None:
    """When the doctor's browser last showed it records: its newest piece, else the start."""
    newest = session.execute(select(func.max(RecordingChunk.created_at)).where(
        RecordingChunk.recording_id == recording.id)).scalar()
    return newest or recording.started_at


def stop_abandoned(session: Session, now: datetime, *, window: telemedicine.JoinWindow, retention_days: int,
                   silence: timedelta = RECORDER_SILENCE) -> int:
    """The periodic sweep (``app.jobs.maintenance.stop_abandoned_recordings``): stops, as the
    server, each open recording whose call is over without having been ended (the visit finished,
    cancelled or marked no-show, or its join window closed: ``call_ended``), and each running
    recording whose doctor's browser has sent nothing for ``silence`` (``recorder_gone``: his tab
    closed without ending the call, his browser or connection died; nothing more can be recorded).
    ``stopped_by_id`` stays empty. Each is locked and checked again before it stops, and committed
    and announced on its own; how many it stopped."""
    candidates = list(session.execute(select(VideoRecording.id).where(VideoRecording.state.in_(OPEN_STATES))
                                      .order_by(VideoRecording.id)).scalars())
    done = 0
    for recording_id in candidates:
        recording = session.execute(
            select(VideoRecording).where(VideoRecording.id == recording_id).with_for_update()
            .execution_options(populate_existing=True)).scalar()
        reason: str | None = None
        if recording is not None and recording.state in OPEN_STATES:
            call = recording.video_call
            appointment = session.get(Appointment, call.appointment_id)
            if appointment is None or telemedicine.call_over(call, appointment, now, window):
                reason = CALL_ENDED
            elif recording.state == "recording":
                since = _recorder_silent_since(session, recording)
                if since is None or now - since > silence:
                    reason = RECORDER_GONE
        if reason is None:
            session.rollback()  # the lock
            continue
        assert recording is not None
        _stop(recording, None, now, reason, retention_days)
        session.flush()
        _announce_after_commit(session, recording)
        _commit(session)
        done += 1
    return done


# --- the chunks ------------------------------------------------------------------------------

def _storage_key() -> str:
    token = secrets.token_hex(16)
    return f"recordings/{token[:2]}/{token}.bin"


def add_chunk(session: Session, seat: CallSeat, recording_id: Any, seq: Any, data: bytes, now: datetime, *,
              setup: RecordingSetup) -> RecordingChunk:
    """One piece of the recording from the doctor's browser, sealed and stored. Refused unless the
    recording is ``recording`` with both consents standing (409), from another seat than the
    doctor's (403), or when the piece is empty, too large or numbered twice."""
    recording = _recording(session, seat, recording_id)
    if seat.role != "doctor":
        raise RecordingRefused("not_doctor", _("The recording is made in the doctor's browser only."), 403)
    if recording.state != "recording":
        raise RecordingRefused("not_recording", _("This call is not being recorded (the recording is %(state)s).",
                                                  state=_(recording.state)))
    if not all_consented(recording):  # the state says so already; checked again, never trusted alone
        raise RecordingRefused("no_consent", _("Both participants must accept before the call is recorded."))
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**31:
        raise RecordingRefused("bad_seq", _("The chunk's number must be a whole number from 0."), 422, "seq")
    if not data:
        raise RecordingRefused("empty_chunk", _("The chunk is empty."), 422, "chunk")
    if len(data) > setup.chunk_max_bytes:
        raise RecordingRefused("chunk_too_large", _("The chunk is larger than the limit."), 413, "chunk")
    taken = session.execute(select(RecordingChunk.id).where(RecordingChunk.recording_id == recording.id,
                                                            RecordingChunk.seq == seq)).first()
    if taken is not None:
        raise RecordingRefused("duplicate_chunk", _("This chunk was already received."), 409, "seq")
    key = _storage_key()
    try:
        setup.store.put(key, seal(setup.key, recording.id, seq, data), "application/octet-stream")
    except StorageUnavailable as exc:
        session.rollback()
        raise RecordingRefused("storage_down", _("The file store cannot be reached; the chunk was not saved."),
                               503) from exc
    chunk = RecordingChunk(recording_id=recording.id, seq=seq, storage_key=key, size_bytes=len(data), created_at=now)
    session.add(chunk)
    try:
        _commit(session)
    except DomainError:
        _forget(setup.store, key)
        raise
    return chunk


def _forget(store: FileStore, key: str) -> None:
    try:
        store.delete(key)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


# --- playback --------------------------------------------------------------------------------

def open_recording(session: Session, user: Any, recording_id: int, now: datetime) -> VideoRecording:
    """A recording to play: the care-team rule and an audit row (``read``, or ``denied`` then
    ``CareAccessDenied``); 404 when there is none, 410 once deleted, 409 when nothing was recorded."""
    recording = session.get(VideoRecording, recording_id)
    if recording is None:
        raise RecordingRefused("not_found", _("There is no such recording."), 404)
    access.open_record(session, user, recording, now)
    if recording.state == "deleted":
        raise RecordingRefused("deleted", _("This recording was deleted at the end of its retention period."), 410)
    if recording.state in ("requested", "refused") or recording.started_at is None:
        raise RecordingRefused("not_recorded", _("Nothing was recorded."), 409)
    return recording


def chunk_keys(session: Session, recording: VideoRecording) -> list[tuple[int, str]]:
    return [(row.seq, row.storage_key) for row in session.execute(
        select(RecordingChunk.seq, RecordingChunk.storage_key)
        .where(RecordingChunk.recording_id == recording.id).order_by(RecordingChunk.seq))]


def play(session: Session, recording: VideoRecording, *, setup: RecordingSetup) -> Iterator[bytes]:
    """The recording's plain bytes, chunk by chunk in order (after ``open_recording``). Checks the
    key first: a recording sealed under another key is refused before anything is sent."""
    if recording.key_id != key_fingerprint(setup.key):
        raise RecordingRefused("other_key", _("This recording was sealed with another key than the one "
                                              "configured (VIDEO_RECORDING_KEY)."))
    keys = chunk_keys(session, recording)
    recording_id = recording.id

    def chunks() -> Iterator[bytes]:
        for seq, key in keys:
            yield unseal(setup.key, recording_id, seq, setup.store.get(key))

    return chunks()


def read_all(session: Session, recording: VideoRecording, *, setup: RecordingSetup) -> bytes:
    """The whole recording at once (tests and small downloads); ``InvalidTag`` as ``play``."""
    return b"".join(play(session, recording, setup=setup))


# --- retention -------------------------------------------------------------------------------

def delete_expired(session: Session, now: datetime, *, store: FileStore) -> int:
    """Delete the chunks of every recording whose retention is over and mark it ``deleted``; how
    many recordings. A chunk whose bytes cannot be deleted (the store is down) keeps its row and
    its recording, so the next run tries again."""
    due = list(session.execute(select(VideoRecording).where(
        VideoRecording.state != "deleted", VideoRecording.retain_until.is_not(None),
        VideoRecording.retain_until <= now)).scalars())
    done = 0
    for recording in due:
        chunks = list(session.execute(select(RecordingChunk).where(
            RecordingChunk.recording_id == recording.id)).scalars())
        kept = False
        for chunk in chunks:
            try:
                store.delete(chunk.storage_key)
            except StorageUnavailable:
                kept = True
                continue
            session.delete(chunk)
        if not kept:
            recording.state, recording.deleted_at = "deleted", now
            done += 1
        session.commit()
    return done


__all__ = ["InvalidTag", "RecordingRefused", "RecordingSetup", "add_chunk", "call_recordings", "decide",
           "delete_expired", "open_recording", "play", "request_recording", "stop", "stop_abandoned",
           "stop_for_call_end"]


def appointment_recordings(session: Session, appointment_id: int) -> list[RecordingView]:
    """The recordings of an appointment's call that were recorded and are kept (stopped, not yet
    deleted), oldest first: for the visit workspace, which the care-team rule already guards.
    Playing one is its own audited read (``open_recording``)."""
    rows = session.execute(select(VideoRecording).join(VideoCall, VideoCall.id == VideoRecording.video_call_id)
                           .where(VideoCall.appointment_id == appointment_id, VideoRecording.state == "stopped",
                                  VideoRecording.started_at.is_not(None))
                           .order_by(VideoRecording.id)).scalars()
    return [view(session, row) for row in rows]
