"""Rollups of the managers' dashboards (issue 14, "fast at scale"): what the appointment figures
read instead of a year of appointment and event rows. Kept by ``app.services.dashboards.rollups``
in the same transaction as the writes (see its docstring for why that stays right), and made
again from the raw rows by ``flask dashboards rebuild``.

- ``dashboard_day``: per local day of the clinic's zone and doctor, the appointments booked for
  that day (any status), the visits, no-shows, cancellations, the seconds booked in the calendar,
  and the sums and counts behind the average wait and consultation length.
- ``patient_first_visit``: each patient's first visit ever (any doctor).
- ``dashboard_patients``: per grain (day, week, month, quarter), whole period (its first local
  day) and doctor (0: the whole clinic), the distinct patients seen who were new (their first
  visit ever in the period) and returning. Distinct counts do not add up across days, hence one
  row per period of each grain.
- ``dashboard_revenue_day``: per local day of the invoice's issue, doctor (the invoice's visit's; 0:
  none), line kind and service (0: none), the billed revenue (issued invoices' lines, after
  discount, before VAT).
- ``dashboard_takings_day``: per local day, doctor (0: none) and payment method, the money taken
  (succeeded payments by the time paid, less succeeded refunds by the time given back)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import Money, UTCDateTime


class DashboardDay(Model):
    __tablename__ = "dashboard_day"
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(primary_key=True)  # no foreign key: a rollup, rebuilt at will
    booked: Mapped[int] = mapped_column(nullable=False, default=0)  # appointments of any status
    visits: Mapped[int] = mapped_column(nullable=False, default=0)
    no_show: Mapped[int] = mapped_column(nullable=False, default=0)
    cancelled: Mapped[int] = mapped_column(nullable=False, default=0)
    booked_seconds: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0)  # no-shows held it too
    waited: Mapped[int] = mapped_column(nullable=False, default=0)
    wait_seconds: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0)
    consulted: Mapped[int] = mapped_column(nullable=False, default=0)
    consult_seconds: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0)
    wait_reviews: Mapped[int] = mapped_column(nullable=False, default=0)  # approved reviews of these visits
    wait_stars: Mapped[int] = mapped_column(nullable=False, default=0)  # their waiting-time stars, summed
    __table_args__ = (sa.Index("ix_dashboard_day_doctor", "doctor_id", "day"),)


class PatientFirstVisit(Model):
    __tablename__ = "patient_first_visit"
    patient_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DashboardPatients(Model):
    __tablename__ = "dashboard_patients"
    grain: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    period: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(primary_key=True)  # 0: every doctor
    new_patients: Mapped[int] = mapped_column(nullable=False, default=0)
    returning_patients: Mapped[int] = mapped_column(nullable=False, default=0)


class DashboardRevenueDay(Model):
    __tablename__ = "dashboard_revenue_day"
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(primary_key=True)  # 0: an invoice with no visit
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    service_id: Mapped[int] = mapped_column(primary_key=True)  # 0: a line with no service
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)


class DashboardTakingsDay(Model):
    __tablename__ = "dashboard_takings_day"
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(primary_key=True)  # 0: an invoice with no visit
    method: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
