"""Engagement: reviews, in-app notifications and the reminder log."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import choice, user_fk
from app.models.catalogue import Service
from app.models.people import Doctor, Patient
from app.models.scheduling import Appointment
from app.models.types import UTCDateTime, utcnow

# "approved" is shown as *published* (on the public pages), "rejected" as *hidden*: the stored
# values are kept from the first schema (app.services.reviews names them PUBLISHED and HIDDEN).
REVIEW_STATUSES = (N_("pending"), N_("approved"), N_("rejected"))
REMINDER_CHANNELS = (N_("email"), N_("sms"), N_("zalo"), N_("push"), N_("in_app"))
REMINDER_STATUSES = (N_("queued"), N_("sent"), N_("failed"), N_("skipped"))


def _rating(name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{name} IS NULL OR ({name} BETWEEN 1 AND 5)", name=f"ck_review_{name}")


class Review(Model):
    __tablename__ = "review"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False)
    patient: Mapped[Patient] = relationship()
    doctor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("doctor.id", ondelete="CASCADE"))
    doctor: Mapped[Doctor | None] = relationship()
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service.id", ondelete="CASCADE"))
    service: Mapped[Service | None] = relationship()
    appointment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appointment.id", ondelete="SET NULL"))
    appointment: Mapped[Appointment | None] = relationship()
    rating_professional: Mapped[int | None] = mapped_column()
    rating_attitude: Mapped[int | None] = mapped_column()
    rating_waiting_time: Mapped[int | None] = mapped_column()
    rating_overall: Mapped[int] = mapped_column(nullable=False)
    comment: Mapped[str | None] = mapped_column(sa.UnicodeText)
    status: Mapped[str] = mapped_column(choice("review_status", *REVIEW_STATUSES), nullable=False, default="pending")
    moderated_by_id: Mapped[int | None] = user_fk()
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # why a manager hid it (told to its author; never shown publicly)
    hidden_reason: Mapped[str | None] = mapped_column(sa.Unicode(500))
    # the doctor's one public reply
    reply: Mapped[str | None] = mapped_column(sa.UnicodeText)
    replied_by_id: Mapped[int | None] = user_fk()
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the patient's last edit
    __table_args__ = (
        sa.CheckConstraint("doctor_id IS NOT NULL OR service_id IS NOT NULL", name="ck_review_has_subject"),
        _rating("rating_professional"),
        _rating("rating_attitude"),
        _rating("rating_waiting_time"),
        _rating("rating_overall"),
        sa.UniqueConstraint("appointment_id", "patient_id", name="uq_review_appointment_patient"),
        sa.Index("ix_review_doctor", "doctor_id", "status"),
        sa.Index("ix_review_service", "service_id", "status"),
        sa.Index("ix_review_status_created", "status", "created_at", "doctor_id"),  # the dashboards' ratings
    )


class Notification(Model):
    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    user: Mapped[User] = relationship(User, foreign_keys=[user_id])
    kind: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)
    title: Mapped[str] = mapped_column(sa.Unicode(200), nullable=False)
    body: Mapped[str | None] = mapped_column(sa.UnicodeText)
    link: Mapped[str | None] = mapped_column(sa.Unicode(500))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (sa.Index("ix_notification_user_read", "user_id", "read_at"),)


class ReminderLog(Model):
    """The claim of one reminder: one row per appointment, kind ("day_before", "hours_before"),
    channel and visit time, inserted before anything is sent. Its unique key is what makes a
    scheduler firing twice or two racing workers send one reminder; the visit time in the key is
    what re-arms the reminder when the appointment moves. ``message_id`` is the message that
    carries it (its delivery, retries and outcome are on that row)."""

    __tablename__ = "reminder_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(sa.ForeignKey("appointment.id", ondelete="CASCADE"), nullable=False)
    appointment: Mapped[Appointment] = relationship()
    kind: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)  # e.g. "day_before"
    channel: Mapped[str] = mapped_column(choice("reminder_channel", *REMINDER_CHANNELS), nullable=False)
    status: Mapped[str] = mapped_column(choice("reminder_status", *REMINDER_STATUSES), nullable=False, default="queued")
    error: Mapped[str | None] = mapped_column(sa.Unicode(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    for_start_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # the visit time reminded of
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbound_message.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("appointment_id", "kind", "channel", "for_start_at", name="uq_reminder_log_once"),
        sa.Index("ix_reminder_log_message", "message_id"),  # a message's outcome is copied onto its claim
    )
