"""Recordings of video calls, taken only with every participant's consent, and the files shared in a
call (app.services.video_recording, app.services.video_files)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import choice, user_fk
from app.models.telemedicine import VideoCall
from app.models.types import UTCDateTime, utcnow

RECORDING_STATES = (N_("requested"), N_("recording"), N_("stopped"), N_("refused"), N_("deleted"))
# A request or a recording not over yet: at most one per call, and no guest may be invited meanwhile
# (app.services.video_recording and app.services.telemedicine both read it here).
OPEN_STATES = ("requested", "recording")
CONSENT_DECISIONS = ("accepted", "refused")
PARTICIPANT_ROLES = ("doctor", "patient")


class VideoRecording(Model):
    """One recording of a call. It may move to ``recording`` only once every participant has
    accepted (their ``RecordingConsent`` rows); ``patient_id`` is kept so that playback follows the
    care-team rule like any clinical record. ``key_id`` names the key its chunks are sealed with
    (a fingerprint, never the key); ``retain_until`` is when the retention job deletes it."""

    __tablename__ = "video_recording"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_call_id: Mapped[int] = mapped_column(sa.ForeignKey("video_call.id", ondelete="CASCADE"), nullable=False)
    video_call: Mapped[VideoCall] = relationship()
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False)
    state: Mapped[str] = mapped_column(choice("video_recording_state", *RECORDING_STATES), nullable=False,
                                       default="requested")
    requested_by_id: Mapped[int | None] = user_fk()
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_by_id: Mapped[int | None] = user_fk()
    # "stopped" (the doctor's stop, or a request cancelled), "consent_withdrawn" (the patient's stop or refusal
    # while it records), "refused" (a participant said no), "call_ended" and "recorder_gone" (stopped by the server)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(20))
    key_id: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consents: Mapped[list[RecordingConsent]] = relationship(back_populates="recording",
                                                            cascade="all, delete-orphan",
                                                            order_by="RecordingConsent.id")

    __table_args__ = (
        sa.Index("ix_video_recording_call", "video_call_id"),
        sa.Index("ix_video_recording_retain", "state", "retain_until"),
        sa.CheckConstraint("state <> 'recording' OR started_at IS NOT NULL", name="ck_video_recording_started"),
    )

    def __repr__(self) -> str:
        return f"recording #{self.id} of video call #{self.video_call_id}"


class RecordingConsent(Model):
    """One participant's answer to a recording request: who, as what, accepted or refused, when;
    ``withdrawn_at`` when an acceptance was taken back during the recording (which stops it)."""

    __tablename__ = "video_recording_consent"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(sa.ForeignKey("video_recording.id", ondelete="CASCADE"),
                                              nullable=False)
    recording: Mapped[VideoRecording] = relationship(back_populates="consents")
    user_id: Mapped[int | None] = user_fk()
    role: Mapped[str] = mapped_column(choice("video_recording_role", *PARTICIPANT_ROLES), nullable=False)
    decision: Mapped[str] = mapped_column(choice("video_recording_decision", *CONSENT_DECISIONS), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("recording_id", "role", name="uq_video_recording_consent_role"),)


class RecordingChunk(Model):
    """One uploaded piece of a recording, sealed (AES-GCM) and stored under a random key."""

    __tablename__ = "video_recording_chunk"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(sa.ForeignKey("video_recording.id", ondelete="CASCADE"),
                                              nullable=False)
    seq: Mapped[int] = mapped_column(nullable=False)
    storage_key: Mapped[str] = mapped_column(sa.Unicode(255), nullable=False)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)  # of the plain bytes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("recording_id", "seq", name="uq_video_recording_chunk_seq"),
        sa.UniqueConstraint("storage_key", name="uq_video_recording_chunk_key"),
        sa.CheckConstraint("seq >= 0", name="ck_video_recording_chunk_seq"),
        sa.CheckConstraint("size_bytes >= 0", name="ck_video_recording_chunk_size"),
    )


class VideoCallFile(Model):
    """A file sent during a call: the attachment (in the patient's record) and who sent it."""

    __tablename__ = "video_call_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_call_id: Mapped[int] = mapped_column(sa.ForeignKey("video_call.id", ondelete="CASCADE"), nullable=False)
    attachment_id: Mapped[int] = mapped_column(sa.ForeignKey("attachment.id", ondelete="CASCADE"), nullable=False)
    shared_by_id: Mapped[int | None] = user_fk()
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("attachment_id", name="uq_video_call_file_attachment"),
        sa.Index("ix_video_call_file_call", "video_call_id"),
    )
