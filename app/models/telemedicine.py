"""Video visits (app.services.telemedicine): one call room per video appointment."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import user_fk
from app.models.scheduling import Appointment
from app.models.types import UTCDateTime, utcnow


class VideoCall(Model):
    """The call room of a video appointment. ``room_key`` names its Socket.IO room (random, never
    derived from ids); the media flows between the browsers, the server only relays signalling.
    ``admitted_at`` is when the doctor let the patient in from the waiting room; ``started_at`` and
    ``ended_at`` bound the call (its duration lands in the visit workspace)."""

    __tablename__ = "video_call"
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(sa.ForeignKey("appointment.id", ondelete="CASCADE"), nullable=False)
    appointment: Mapped[Appointment] = relationship()
    room_key: Mapped[str] = mapped_column(sa.String(43), nullable=False)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    admitted_by_id: Mapped[int | None] = user_fk()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        sa.UniqueConstraint("appointment_id", name="uq_video_call_appointment"),
        sa.UniqueConstraint("room_key", name="uq_video_call_room_key"),
        sa.CheckConstraint("ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at",
                           name="ck_video_call_ends_after_start"),
    )

    def __repr__(self) -> str:
        return f"video call of appointment #{self.appointment_id}"


class VideoCallGuest(Model):
    """A third participant of a video call (an interpreter, a family member), invited by the
    visit's doctor with a one-time link. Only the SHA-256 of the link's secret is stored. Opening
    the link (``redeemed_at``) makes a login of its own for the guest (``user_id``: no role, no
    password), good for this call only; the doctor admits the guest from the waiting room like the
    patient (``admitted_at``) and can withdraw the invitation (``revoked_at``)."""

    __tablename__ = "video_call_guest"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_call_id: Mapped[int] = mapped_column(sa.ForeignKey("video_call.id", ondelete="CASCADE"), nullable=False)
    display_name: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    token_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    invited_by_id: Mapped[int | None] = user_fk()
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = user_fk()
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("token_digest", name="uq_video_call_guest_token"),
        sa.UniqueConstraint("user_id", name="uq_video_call_guest_user"),
        sa.Index("ix_video_call_guest_call", "video_call_id"),
    )

    def __repr__(self) -> str:
        return f"guest {self.display_name} of video call #{self.video_call_id}"
