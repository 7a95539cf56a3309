"""The numbers on the start page: what needs attention in the clinic today."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.models import Appointment, Encounter, Invoice, Medicine, Patient, StockBatch
from app.models.scheduling import ACTIVE_STATUSES
from app.services.settings import ClinicSettings

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class Figure:
    key: str
    resource: str  # the permission name a user needs to see it
    value: int


def local_day_bounds(day: date, settings: ClinicSettings) -> tuple[datetime, datetime]:
    """The UTC instants at which ``day`` starts and ends in the clinic's zone."""
    start = datetime.combine(day, time.min, settings.timezone)
    return start, start + timedelta(days=1)


def clinic_overview(session: Session, settings: ClinicSettings, resources: set[str],
                    doctor_id: int | None = None) -> list[Figure]:
    """Only the figures whose resource the reader may read are computed. For a doctor
    (``doctor_id``) the appointment figures count their own patients, and their drafts to sign
    are counted too."""
    today = settings.today()
    start, end = local_day_bounds(today, settings)
    own = (Appointment.doctor_id == doctor_id,) if doctor_id is not None else ()
    queries = {
        ("appointments_today", "Appointment"): select(func.count()).select_from(Appointment).where(
            Appointment.start_at >= start, Appointment.start_at < end, Appointment.status.in_(ACTIVE_STATUSES),
            *own),
        ("waiting_now", "Appointment"): select(func.count()).select_from(Appointment).where(
            Appointment.start_at >= start, Appointment.start_at < end, Appointment.status == "checked_in", *own),
        ("requests_to_confirm", "Appointment"): select(func.count()).select_from(Appointment).where(
            Appointment.start_at >= start, Appointment.status == "requested", *own),
        ("unpaid_invoices", "Invoice"): select(func.count()).select_from(Invoice).where(
            Invoice.status.in_(("issued", "partially_paid"))),
        ("invoices_to_issue", "Invoice"): select(func.count()).select_from(Invoice).where(
            Invoice.status == "draft", Invoice.subtotal > 0),
        ("new_patients_this_month", "Patient"): select(func.count()).select_from(Patient).where(
            Patient.created_at >= datetime.combine(today.replace(day=1), time.min, settings.timezone)),
        ("batches_expiring", "StockBatch"): select(func.count()).select_from(StockBatch).where(
            StockBatch.quantity > 0, StockBatch.expiry_date <= today + timedelta(days=EXPIRY_WARNING_DAYS)),
        ("medicines_below_reorder", "Medicine"): select(func.count()).select_from(
            select(Medicine.id).outerjoin(StockBatch, and_(StockBatch.medicine_id == Medicine.id,
                                                          StockBatch.expiry_date >= today))
            .where(Medicine.active.is_(True))
            .group_by(Medicine.id, Medicine.reorder_level)
            .having(func.coalesce(func.sum(StockBatch.quantity), 0) < Medicine.reorder_level)
            .subquery()),
    }
    if doctor_id is not None:
        queries[("drafts_to_sign", "Encounter")] = select(func.count()).select_from(Encounter).where(
            Encounter.doctor_id == doctor_id, Encounter.signed_at.is_(None), Encounter.discarded_at.is_(None))
    return [Figure(key, resource, session.execute(query).scalar_one())
            for (key, resource), query in queries.items() if resource in resources]


@dataclass(frozen=True)
class MonthFigure:
    """One of the manager's main figures this month (so far) and over the whole of last month."""

    key: str
    kind: str  # count, money, percent, minutes (app.services.dashboards.figures)
    this_month: Any
    last_month: Any


def month_comparison(session: Session, today: date, settings: ClinicSettings) -> list[MonthFigure]:
    """Visits, new patients, money taken, the no-show rate and the average wait: this month from
    its first day to ``today`` against last month, from the dashboards' figures (aggregate SQL)."""
    from app.services.dashboards import figures

    first = today.replace(day=1)
    last_end = first - timedelta(days=1)
    periods = ((first, today), (last_end.replace(day=1), last_end))
    wanted = (("visits", figures.visits, 1, "count"), ("new_patients", figures.patients, 1, "count"),
              ("money_taken", figures.revenue_by_method, -1, "money"), ("no_show_rate", figures.attendance, 3,
                                                                       "percent"),
              ("average_wait", figures.waits, 1, "minutes"))
    out = []
    for key, figure, column, kind in wanted:
        values = []
        for start, end in periods:
            rows = figure(session, start, end, "month", zone=settings.timezone).rows
            values.append(rows[0][column] if rows else None)
        out.append(MonthFigure(key, kind, values[0], values[1]))
    return out
