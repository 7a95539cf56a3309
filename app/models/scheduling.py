"""Time: doctors' working hours, their exceptions, and appointments."""
from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import TimestampMixin, choice, user_fk
from app.models.catalogue import Service
from app.models.people import Doctor, Patient
from app.models.types import UTCDateTime, utcnow

EXCEPTION_KINDS = (N_("leave"), N_("holiday"), N_("training"), N_("extra_shift"))
APPOINTMENT_STATUSES = (
    N_("requested"), N_("confirmed"), N_("checked_in"), N_("in_consultation"), N_("completed"), N_("cancelled"),
    N_("no_show"),
)
# Statuses that hold a slot in the doctor's calendar.
ACTIVE_STATUSES = ("requested", "confirmed", "checked_in", "in_consultation", "completed")
CHANNELS = (N_("walk_in"), N_("phone"), N_("online"), N_("chat"))
APPOINTMENT_MODES = (N_("in_person"), N_("video"))


class WorkSchedule(Model):
    """Weekly working hours, in the clinic's local time (weekday 0 = Monday)."""

    __tablename__ = "work_schedule"
    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", ondelete="CASCADE"), nullable=False)
    doctor: Mapped[Doctor] = relationship()
    weekday: Mapped[int] = mapped_column(nullable=False)
    start_time: Mapped[time] = mapped_column(sa.Time, nullable=False)
    end_time: Mapped[time] = mapped_column(sa.Time, nullable=False)
    valid_from: Mapped[date] = mapped_column(sa.Date, nullable=False)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    __table_args__ = (
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="ck_work_schedule_weekday"),
        sa.CheckConstraint("end_time > start_time", name="ck_work_schedule_end_after_start"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_work_schedule_validity"),
        sa.Index("ix_work_schedule_doctor_weekday", "doctor_id", "weekday"),
    )


class ScheduleException(Model):
    """A change to the weekly hours: leave, holiday, training, or an extra shift.
    Without times it covers whole days; with times, only those hours of each day."""

    __tablename__ = "schedule_exception"
    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", ondelete="CASCADE"), nullable=False)
    doctor: Mapped[Doctor] = relationship()
    kind: Mapped[str] = mapped_column(choice("schedule_exception_kind", *EXCEPTION_KINDS), nullable=False)
    start_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    end_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    start_time: Mapped[time | None] = mapped_column(sa.Time)
    end_time: Mapped[time | None] = mapped_column(sa.Time)
    reason: Mapped[str | None] = mapped_column(sa.Unicode(300))
    __table_args__ = (
        sa.CheckConstraint("end_date >= start_date", name="ck_schedule_exception_dates"),
        sa.CheckConstraint(
            "(start_time IS NULL AND end_time IS NULL) OR (start_time IS NOT NULL AND end_time IS NOT NULL "
            "AND end_time > start_time)",
            name="ck_schedule_exception_times",
        ),
        sa.Index("ix_schedule_exception_doctor_dates", "doctor_id", "start_date", "end_date"),
    )


class AppointmentSeries(Model):
    """A recurring booking (a course of physiotherapy): the rule its appointments came from."""

    __tablename__ = "appointment_series"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False)
    patient: Mapped[Patient] = relationship()
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", ondelete="CASCADE"), nullable=False)
    doctor: Mapped[Doctor] = relationship()
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("service.id", ondelete="RESTRICT"), nullable=False)
    service: Mapped[Service] = relationship()
    rule: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False)  # RFC 5545 RRULE
    created_by_id: Mapped[int | None] = user_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Appointment(TimestampMixin, Model):
    __tablename__ = "appointment"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="RESTRICT"), nullable=False)
    patient: Mapped[Patient] = relationship()
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctor.id", ondelete="RESTRICT"), nullable=False)
    doctor: Mapped[Doctor] = relationship()
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("service.id", ondelete="RESTRICT"), nullable=False)
    service: Mapped[Service] = relationship()
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(
        choice("appointment_status", *APPOINTMENT_STATUSES), nullable=False, default="requested"
    )
    channel: Mapped[str] = mapped_column(choice("appointment_channel", *CHANNELS), nullable=False, default="walk_in")
    # A video visit (app.services.telemedicine) has a private call room (VideoCall). The database's
    # default only: the booking's INSERT ... SELECT (app.services.booking) would otherwise carry a
    # Python-side default as a parameter it does not pass.
    mode: Mapped[str] = mapped_column(choice("appointment_mode", *APPOINTMENT_MODES), nullable=False,
                                      server_default="in_person")
    reason: Mapped[str | None] = mapped_column(sa.Unicode(500))
    notes: Mapped[str | None] = mapped_column(sa.UnicodeText)
    queue_date: Mapped[date | None] = mapped_column(sa.Date)  # clinic-local day of the queue number
    queue_number: Mapped[int | None] = mapped_column()
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The front desk's "called" step: a checked-in patient asked to the doctor's room (the status
    # stays checked_in until the doctor starts the visit; app.services.front_desk).
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_by_id: Mapped[int | None] = user_fk()
    called_by: Mapped[User | None] = relationship(User, foreign_keys=[called_by_id])
    cancelled_by_id: Mapped[int | None] = user_fk()
    cancelled_by: Mapped[User | None] = relationship(User, foreign_keys=[cancelled_by_id])
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Unicode(500))
    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appointment_series.id", ondelete="SET NULL"))
    series: Mapped[AppointmentSeries | None] = relationship()
    created_by_id: Mapped[int | None] = user_fk()
    created_by: Mapped[User | None] = relationship(User, foreign_keys=[created_by_id])

    __table_args__ = (
        sa.CheckConstraint("end_at > start_at", name="ck_appointment_end_after_start"),
        sa.CheckConstraint("queue_number IS NULL OR queue_number > 0", name="ck_appointment_queue_positive"),
        sa.UniqueConstraint("doctor_id", "queue_date", "queue_number", name="uq_appointment_queue"),
        sa.Index("ix_appointment_doctor_start", "doctor_id", "start_at"),
        sa.Index("ix_appointment_patient_start", "patient_id", "start_at"),
        sa.Index("ix_appointment_start_at", "start_at"),
        sa.Index("ix_appointment_status", "status"),
        # The dashboards (app.services.dashboards): visits, patients and rates per time bucket.
        sa.Index("ix_appointment_start_cover", "start_at", "status", "doctor_id", "patient_id"),
        # PostgreSQL also has ex_appointment_doctor_overlap and ex_appointment_patient_overlap:
        # two active appointments of one doctor, or of one patient, never overlap (btree_gist
        # exclusion constraints, migration 0002). SQLite relies on the booking lock alone.
    )

    def __repr__(self) -> str:
        return f"#{self.id} {self.start_at:%Y-%m-%d %H:%M} UTC" if self.start_at else f"#{self.id}"


class AppointmentEvent(Model):
    """Status history of an appointment: who moved it from what to what, and when."""

    __tablename__ = "appointment_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("appointment.id", ondelete="CASCADE"), nullable=False
    )
    appointment: Mapped[Appointment] = relationship()
    from_status: Mapped[str | None] = mapped_column(sa.Unicode(20))
    to_status: Mapped[str] = mapped_column(sa.Unicode(20), nullable=False)
    actor_id: Mapped[int | None] = user_fk()
    actor: Mapped[User | None] = relationship(User, foreign_keys=[actor_id])
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    note: Mapped[str | None] = mapped_column(sa.Unicode(500))
    __table_args__ = (sa.Index("ix_appointment_event_appointment", "appointment_id", "at"),)
