"""The managers' dashboard figures (issue 14): one read function per figure.

Each takes ``(session, start, end, grain, department_id=None, doctor_id=None, zone=...)`` (local
days, both included; the clinic's zone) and returns a :class:`FigureData` of plain rows. Every sum,
count and average is done by the database (GROUP BY), by time bucket in the clinic's zone
(``buckets.py``): nothing here adds rows up in Python. Each is a pure function of its arguments and
the database, so a cache layer can wrap it.

The doctor and department filters apply through the doctor of the visit: an appointment's doctor,
an invoice's appointment's doctor, a dispensed item's prescribing doctor, a review's doctor. The
stock figure is the pharmacy's and ignores them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from app.i18n import N_
from app.models import (
    Appointment,
    AppointmentEvent,
    DashboardDay,
    DashboardPatients,
    DashboardRevenueDay,
    DashboardTakingsDay,
    Doctor,
    Invoice,
    InvoiceLine,
    Medicine,
    Payment,
    Prescription,
    PrescriptionItem,
    Refund,
    Review,
    Service,
    StockBatch,
    StockMovement,
)
from app.models.billing import PAYMENT_METHODS
from app.models.scheduling import ACTIVE_STATUSES
from app.services.cache import value_type
from app.services.dashboards.buckets import (
    Bucket,
    buckets,
    day_table,
    group_instants,
    instant_table,
    local_midnight,
    next_start,
)
from app.services.schedule_rules import working_intervals

DEFAULT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# An appointment the patient came to.
VISIT_STATUSES = ("checked_in", "in_consultation", "completed")
# An appointment that took the doctor's time in the calendar (a no-show held its slot).
BOOKED_STATUSES = (*ACTIVE_STATUSES, "no_show")
# Invoices whose lines count as revenue: issued and not voided or refunded.
BILLED_STATUSES = ("issued", "partially_paid", "paid")
OPEN_STATUSES = ("issued", "partially_paid")
DISPENSE_REFERENCE = "prescription_item"  # app.services.dispensing.ITEM_REFERENCE
TOP_MEDICINES = 10
CRITERIA = ("professional", "attitude", "waiting_time", "overall")
# Rows that are no catalogue entry, shown by their code's translation (app.i18n.choice_label): the
# revenue of invoices with no visit, and of service lines with no service (the doctors'
# consultation fees, lines typed by the cashier); medicine, lab and other lines by their kind.
NO_DOCTOR = N_("no_doctor")
OTHER_SERVICES = N_("consultation_fees_and_other_services")


def _by_service(grain: str, found: Any) -> FigureData:
    """Revenue rows (line kind, service name or None, amount) as the figure: a line with no
    catalogue service under its kind, a service line's as "consultation fees and other services"."""
    rows = [(name, "text", _money(amount)) if name is not None
            else (OTHER_SERVICES if kind == "service" else kind, "choice", _money(amount))
            for kind, name, amount in found]
    return FigureData("revenue_by_service", grain, (("service", "text"), ("label_kind", "hidden"),
                                                    ("revenue", "money")), rows)


def _by_method(grain: str, items: list[Bucket], found: Any) -> FigureData:
    """Money rows (bucket index, method, amount) as the figure: one row per bucket, a column per method."""
    per_bucket: dict[int, dict[str, Decimal]] = {}
    for idx, method, amount in found:
        per_bucket.setdefault(idx, {})[method] = _money(amount)
    rows = []
    for bucket in items:
        per_method = per_bucket.get(bucket.index, {})
        amounts = [per_method.get(method, _money(0)) for method in PAYMENT_METHODS]
        rows.append((bucket.start, *amounts, sum(amounts, _money(0))))
    return FigureData("revenue_by_method", grain,
                      (("period", "period"), *((method, "money") for method in PAYMENT_METHODS), ("total", "money")),
                      rows)


def _by_doctor(grain: str, found: Any) -> FigureData:
    """Revenue rows (doctor id, title, name or None, amount) as the figure."""
    rows = [(f"{title} {name}" if title else name, "text", _money(amount)) if name is not None
            else (NO_DOCTOR, "choice", _money(amount)) for _id, title, name, amount in found]
    return FigureData("revenue_by_doctor", grain, (("doctor", "text"), ("label_kind", "hidden"),
                                                   ("revenue", "money")), rows)


@value_type
@dataclass(frozen=True)
class FigureData:
    """Rows of one figure. ``columns``: (key, kind) pairs; kinds: period (the bucket's first day),
    text, choice (a stored code, translated for display), count, money, percent (0..1), minutes,
    hours, rating, quantity."""

    key: str
    grain: str
    columns: tuple[tuple[str, str], ...]
    rows: list[tuple[Any, ...]]
    totals: dict[str, Any] = field(default_factory=dict)

    def as_dicts(self) -> list[dict[str, Any]]:
        keys = [key for key, _kind in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _seconds(session: Session, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, computed by the database."""
    if _dialect(session) == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _doctor_scope(column: Any, department_id: int | None, doctor_id: int | None) -> list[Any]:
    conditions = []
    if doctor_id is not None:
        conditions.append(column == doctor_id)
    if department_id is not None:
        conditions.append(column.in_(sa.select(Doctor.id).where(Doctor.department_id == department_id)))
    return conditions


def _invoice_scope(invoice_id: Any, department_id: int | None, doctor_id: int | None) -> list[Any]:
    """An invoice's doctor is its appointment's: an invoice with none is left out when filtering."""
    scope = _doctor_scope(Appointment.doctor_id, department_id, doctor_id)
    if not scope:
        return []
    return [invoice_id.in_(sa.select(Invoice.id).join(Appointment, Invoice.appointment_id == Appointment.id)
                           .where(*scope))]


def _range(start: date, end: date, zone: ZoneInfo) -> tuple[Any, Any]:
    return local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)


def _per_bucket(items: list[Bucket], found: dict[int | None, tuple[Any, ...]] | dict[int, tuple[Any, ...]],
                width: int) -> list[tuple[Any, ...]]:
    """One row per bucket, in order, with zeros where the database found nothing."""
    return [(b.start, *found.get(b.index, (0,) * width)) for b in items]


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _minutes(seconds: Any) -> float | None:
    return round(float(seconds) / 60, 1) if seconds is not None else None


def _money(value: Any) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(Decimal("0.01"))


def patients_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
             doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Patients seen per bucket: new (their first visit to the clinic ever is in this bucket) and
    returning (they had come before it)."""
    items = buckets(start, end, grain)
    b = instant_table(items, zone)
    lo, hi = _range(start, end, zone)
    scope = _doctor_scope(Appointment.doctor_id, department_id, doctor_id)
    seen = sa.select(Appointment.patient_id).where(Appointment.start_at >= lo, Appointment.start_at < hi,
                                                   Appointment.status.in_(VISIT_STATUSES), *scope)
    earlier = aliased(Appointment)
    # each patient seen in the range: their first visit ever (any doctor)
    first = (sa.select(earlier.patient_id.label("patient_id"), sa.func.min(earlier.start_at).label("first_at"))
             .where(earlier.status.in_(VISIT_STATUSES), earlier.patient_id.in_(seen))
             .group_by(earlier.patient_id).subquery("first_visit"))
    query = (sa.select(b.c.idx,
                       sa.func.count(sa.distinct(sa.case((first.c.first_at >= b.c.lo, Appointment.patient_id)))),
                       sa.func.count(sa.distinct(sa.case((first.c.first_at < b.c.lo, Appointment.patient_id)))))
             .select_from(Appointment)
             .join(b, sa.and_(Appointment.start_at >= b.c.lo, Appointment.start_at < b.c.hi))
             .join(first, first.c.patient_id == Appointment.patient_id)
             .where(Appointment.status.in_(VISIT_STATUSES), *scope)
             .group_by(b.c.idx))
    found = {idx: (int(new), int(returning)) for idx, new, returning in session.execute(query)}
    rows = [(s, new, returning, new + returning) for s, new, returning in _per_bucket(items, found, 2)]
    return FigureData("patients", grain, PATIENTS_COLUMNS, rows)


PATIENTS_COLUMNS = (("period", "period"), ("new", "count"), ("returning", "count"), ("total", "count"))


def visits_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
           doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Visits (appointments the patient came to: checked in, in consultation, completed) per bucket."""
    items = buckets(start, end, grain)
    g = group_instants(_dialect(session), Appointment.start_at, items, grain, zone)
    query = (g.attach(sa.select(g.key, sa.func.count(Appointment.id)).select_from(Appointment))
             .where(Appointment.status.in_(VISIT_STATUSES),
                    *_doctor_scope(Appointment.doctor_id, department_id, doctor_id))
             .group_by(g.key))
    found = {g.index(key): (int(n),) for key, n in session.execute(query)}
    return FigureData("visits", grain, (("period", "period"), ("visits", "count")), _per_bucket(items, found, 1))


def attendance_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
               doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """No-show and cancellation rates per bucket: of the appointments booked for that time (any
    status), the share marked no-show and the share cancelled."""
    items = buckets(start, end, grain)
    g = group_instants(_dialect(session), Appointment.start_at, items, grain, zone)
    query = (g.attach(sa.select(g.key, sa.func.count(Appointment.id),
                                sa.func.sum(sa.case((Appointment.status == "no_show", 1), else_=0)),
                                sa.func.sum(sa.case((Appointment.status == "cancelled", 1), else_=0)))
                      .select_from(Appointment))
             .where(*_doctor_scope(Appointment.doctor_id, department_id, doctor_id))
             .group_by(g.key))
    found = {g.index(key): (int(total), int(no_show or 0), int(cancelled or 0))
             for key, total, no_show, cancelled in session.execute(query)}
    rows = [(s, total, no_show, no_show / total if total else 0.0, cancelled, cancelled / total if total else 0.0)
            for s, total, no_show, cancelled in _per_bucket(items, found, 3)]
    return FigureData("attendance", grain, (("period", "period"), ("booked", "count"), ("no_show", "count"),
                                            ("no_show_rate", "percent"), ("cancelled", "count"),
                                            ("cancellation_rate", "percent")), rows)


def waits_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
          doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Average wait from check-in to the start of the consultation, and average consultation length
    (start to completion), in minutes, per bucket of the appointment's time. The start and the end
    of the consultation are the appointment's status changes (``appointment_event``)."""
    items = buckets(start, end, grain)
    lo, hi = _range(start, end, zone)
    event = AppointmentEvent
    # one row per consultation in the range: its first start and its last completion (a join and a
    # GROUP BY, not a lookup per appointment)
    visit = (sa.select(Appointment.start_at.label("start_at"), Appointment.checked_in_at.label("checked_in_at"),
                       sa.func.min(sa.case((event.to_status == "in_consultation", event.at))).label("started"),
                       sa.func.max(sa.case((event.to_status == "completed", event.at))).label("finished"))
             .select_from(Appointment)
             .join(event, sa.and_(event.appointment_id == Appointment.id,
                                  event.to_status.in_(("in_consultation", "completed"))))
             .where(Appointment.start_at >= lo, Appointment.start_at < hi,
                    Appointment.status.in_(("in_consultation", "completed")),
                    *_doctor_scope(Appointment.doctor_id, department_id, doctor_id))
             .group_by(Appointment.id, Appointment.start_at, Appointment.checked_in_at)
             .subquery("visit"))
    wait = _seconds(session, visit.c.started, visit.c.checked_in_at)
    length = _seconds(session, visit.c.finished, visit.c.started)
    g = group_instants(_dialect(session), visit.c.start_at, items, grain, zone)
    query = (g.attach(sa.select(g.key, sa.func.avg(wait), sa.func.count(wait), sa.func.avg(length),
                                sa.func.count(length)).select_from(visit))
             .group_by(g.key))
    found = {g.index(key): (_minutes(w), int(nw), _minutes(ln), int(nl))
             for key, w, nw, ln, nl in session.execute(query)}
    return _waits_figure(session, items, grain, zone, department_id, doctor_id, found)


WAITS_COLUMNS = (("period", "period"), ("wait_minutes", "minutes"), ("waited", "count"),
                 ("consultation_minutes", "minutes"), ("consultations", "count"),
                 ("review_waiting_time", "rating"), ("wait_reviews", "count"))


def review_waits(session: Session, items: list[Bucket], grain: str, zone: ZoneInfo, department_id: int | None = None,
                 doctor_id: int | None = None) -> dict[int, tuple[float | None, int]]:
    """The patients' own view of the wait beside the measured one: the average "waiting time"
    stars (1-5) of the approved reviews of the visits in each bucket (by the visit's time, so the
    same visits as the measured wait; a review with no visit is left out), and how many."""
    g = group_instants(_dialect(session), Appointment.start_at, items, grain, zone)
    rating = Review.rating_waiting_time
    query = (g.attach(sa.select(g.key, sa.func.avg(rating), sa.func.count(rating)).select_from(Review)
                      .join(Appointment, Appointment.id == Review.appointment_id))
             .where(Review.status == "approved", rating.is_not(None),
                    *_doctor_scope(Appointment.doctor_id, department_id, doctor_id))
             .group_by(g.key))
    found: dict[int, tuple[float | None, int]] = {}
    for key, avg, n in session.execute(query):
        index = g.index(key)
        if index is not None:
            found[index] = (round(float(avg), 2) if avg is not None else None, int(n))
    return found


def _waits_figure(session: Session, items: list[Bucket], grain: str, zone: ZoneInfo, department_id: int | None,
                  doctor_id: int | None, found: dict[Any, tuple[Any, ...]],
                  rated: dict[int, tuple[float | None, int]] | None = None) -> FigureData:
    if rated is None:
        rated = review_waits(session, items, grain, zone, department_id, doctor_id)
    rows = [(b.start, *found.get(b.index, (None, 0, None, 0)), *rated.get(b.index, (None, 0)))
            for b in items]  # no visit timed (no review): no average
    return FigureData("waits", grain, WAITS_COLUMNS, rows)


def utilisation_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                       doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    return utilisation(session, start, end, grain, department_id, doctor_id, zone, rollup=False)


def utilisation(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE, rollup: bool = True) -> FigureData:
    """Per doctor over the range: hours booked (appointments holding the calendar, no-shows
    included, cancellations not) against hours of work from the schedules (weekly hours minus
    leave, holidays and training, plus extra shifts). Booked hours are summed by the database;
    the working hours are expanded from the schedule's rules (``schedule_rules``)."""
    lo, hi = _range(start, end, zone)
    doctors = session.execute(
        sa.select(Doctor.id, Doctor.title, Doctor.full_name)
        .where(sa.or_(Doctor.active.is_(True), Doctor.id == doctor_id), *_doctor_scope(Doctor.id, department_id,
                                                                                       doctor_id))
        .order_by(Doctor.full_name, Doctor.id)).all()
    if rollup:
        booked: dict[int, Any] = dict(session.execute(
            sa.select(DashboardDay.doctor_id, sa.func.sum(DashboardDay.booked_seconds))
            .where(DashboardDay.day >= start, DashboardDay.day <= end,
                   *_doctor_scope(DashboardDay.doctor_id, department_id, doctor_id))
            .group_by(DashboardDay.doctor_id)).all())
    else:
        booked = dict(session.execute(
            sa.select(Appointment.doctor_id, sa.func.sum(_seconds(session, Appointment.end_at, Appointment.start_at)))
            .where(Appointment.start_at >= lo, Appointment.start_at < hi, Appointment.status.in_(BOOKED_STATUSES),
                   *_doctor_scope(Appointment.doctor_id, department_id, doctor_id))
            .group_by(Appointment.doctor_id)).all())
    rows = []
    for doctor in doctors:
        days = working_intervals(session, doctor.id, start, end)
        working = sum((b_ - a_).total_seconds() for intervals in days.values() for a_, b_ in intervals) / 3600
        hours = round(_num(booked.get(doctor.id))) / 3600  # whole seconds: SQLite's julianday is not exact
        if not working and not hours:
            continue
        name = f"{doctor.title} {doctor.full_name}" if doctor.title else doctor.full_name
        # No working hours (bookings outside any schedule): no rate, shown as a dash, not as 0%.
        rows.append((name, round(hours, 2), round(working, 2), round(hours / working, 4) if working else None))
    return FigureData("utilisation", grain, (("doctor", "text"), ("booked_hours", "hours"),
                                             ("working_hours", "hours"), ("utilisation", "percent")), rows)


def _net_line() -> Any:
    return InvoiceLine.amount - InvoiceLine.discount_share


def revenue_by_service_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                       doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Billed revenue (invoice lines of issued invoices, after discount, before VAT) per service over
    the range, by the invoice's issue time; lines without a service (medicines, lab tests, other)
    are grouped by their kind."""
    lo, hi = _range(start, end, zone)
    total = sa.func.sum(_net_line())
    query = (sa.select(InvoiceLine.kind, Service.name, total).select_from(InvoiceLine)
             .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
             .outerjoin(Service, Service.id == InvoiceLine.service_id)
             .where(Invoice.status.in_(BILLED_STATUSES), Invoice.issued_at >= lo, Invoice.issued_at < hi,
                    *_invoice_scope(Invoice.id, department_id, doctor_id))
             .group_by(InvoiceLine.kind, InvoiceLine.service_id, Service.name)
             .order_by(total.desc(), Service.name))
    return _by_service(grain, session.execute(query))


def revenue_by_doctor_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                      doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Billed revenue per doctor (the invoice's appointment's doctor; invoices with no appointment
    under "no doctor"), after discount, before VAT, by the invoice's issue time."""
    lo, hi = _range(start, end, zone)
    total = sa.func.sum(_net_line())
    query = (sa.select(Doctor.id, Doctor.title, Doctor.full_name, total).select_from(InvoiceLine)
             .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
             .outerjoin(Appointment, Appointment.id == Invoice.appointment_id)
             .outerjoin(Doctor, Doctor.id == Appointment.doctor_id)
             .where(Invoice.status.in_(BILLED_STATUSES), Invoice.issued_at >= lo, Invoice.issued_at < hi,
                    *_doctor_scope(Appointment.doctor_id, department_id, doctor_id))
             .group_by(Doctor.id, Doctor.title, Doctor.full_name)
             .order_by(total.desc(), Doctor.full_name))
    return _by_doctor(grain, session.execute(query))


def revenue_by_method_direct(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                      doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Money taken per bucket and payment method: succeeded payments by the time they were paid,
    less succeeded refunds by the time they were given back."""
    items = buckets(start, end, grain)
    b = instant_table(items, zone)
    paid = (sa.select(b.c.idx.label("idx"), Payment.method.label("method"), Payment.amount.label("amount"))
            .select_from(Payment).join(b, sa.and_(Payment.paid_at >= b.c.lo, Payment.paid_at < b.c.hi))
            .where(Payment.status == "succeeded", *_invoice_scope(Payment.invoice_id, department_id, doctor_id)))
    refunded = (sa.select(b.c.idx, Refund.method, -Refund.amount)
                .select_from(Refund).join(b, sa.and_(Refund.refunded_at >= b.c.lo, Refund.refunded_at < b.c.hi))
                .where(Refund.status == "succeeded", *_invoice_scope(Refund.invoice_id, department_id, doctor_id)))
    money = sa.union_all(paid, refunded).subquery("money")
    query = (sa.select(money.c.idx, money.c.method, sa.func.sum(money.c.amount))
             .group_by(money.c.idx, money.c.method))
    return _by_method(grain, items, session.execute(query))


def outstanding(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Invoices still owed (issued or partly paid), by the bucket they were issued in: how many and
    the balance (total less paid) now."""
    items = buckets(start, end, grain)
    b = instant_table(items, zone)
    query = (sa.select(b.c.idx, sa.func.count(Invoice.id), sa.func.sum(Invoice.total - Invoice.amount_paid))
             .select_from(Invoice).join(b, sa.and_(Invoice.issued_at >= b.c.lo, Invoice.issued_at < b.c.hi))
             .where(Invoice.status.in_(OPEN_STATUSES), *_invoice_scope(Invoice.id, department_id, doctor_id))
             .group_by(b.c.idx))
    found = {idx: (int(n), _money(balance)) for idx, n, balance in session.execute(query)}
    return FigureData("outstanding", grain, (("period", "period"), ("invoices", "count"), ("balance", "money")),
                      _per_bucket(items, found, 2))


def medicines_dispensed(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                        doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE,
                        top: int = TOP_MEDICINES) -> FigureData:
    """The ``top`` medicines by quantity dispensed over the range (dispenses less returns, from the
    stock ledger), with their value at the medicine's price."""
    lo, hi = _range(start, end, zone)
    scope = _doctor_scope(Prescription.doctor_id, department_id, doctor_id)
    conditions = []
    if scope:
        conditions.append(StockMovement.reference_type == DISPENSE_REFERENCE)
        conditions.append(StockMovement.reference_id.in_(
            sa.select(PrescriptionItem.id).join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
            .where(*scope)))
    quantity = -sa.func.sum(StockMovement.quantity)
    query = (sa.select(Medicine.name, Medicine.strength, Medicine.unit, quantity,
                       -sa.func.sum(StockMovement.quantity * Medicine.price))
             .select_from(StockMovement).join(Medicine, Medicine.id == StockMovement.medicine_id)
             .where(StockMovement.kind.in_(("dispense", "return")), StockMovement.created_at >= lo,
                    StockMovement.created_at < hi, *conditions)
             .group_by(Medicine.id, Medicine.name, Medicine.strength, Medicine.unit)
             .having(quantity > 0)
             .order_by(quantity.desc(), Medicine.name).limit(top))
    rows = [(f"{name} {strength}" if strength else name, unit, int(qty), _money(value))
            for name, strength, unit, qty, value in session.execute(query)]
    return FigureData("medicines", grain, (("medicine", "text"), ("unit", "text"), ("quantity", "quantity"),
                                           ("value", "money")), rows)


def stock(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
          doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """The value of the stock on hand (quantity x unit cost of every batch with stock), and per
    bucket the value of the batches on hand that expire in it (expiry dates in the range)."""
    items = buckets(start, end, grain)
    b = day_table(items)
    value = sa.func.sum(StockBatch.quantity * StockBatch.unit_cost)
    query = (sa.select(b.c.idx, sa.func.count(StockBatch.id), value).select_from(StockBatch)
             .join(b, sa.and_(StockBatch.expiry_date >= b.c.lo, StockBatch.expiry_date < b.c.hi))
             .where(StockBatch.quantity > 0).group_by(b.c.idx))
    found = {idx: (int(n), _money(v)) for idx, n, v in session.execute(query)}
    on_hand = session.execute(sa.select(value).where(StockBatch.quantity > 0)).scalar()
    expiring = session.execute(sa.select(value).where(StockBatch.quantity > 0, StockBatch.expiry_date >= start,
                                                      StockBatch.expiry_date <= end)).scalar()
    return FigureData("stock", grain, (("period", "period"), ("batches", "count"), ("expiring_value", "money")),
                      _per_bucket(items, found, 2),
                      totals={"stock_value": _money(on_hand), "expiring_value": _money(expiring)})


def ratings(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
            doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Average stars per doctor and criterion of the approved reviews written in the range. Read
    straight from ``review`` (status "approved") so it does not depend on the reviews service."""
    lo, hi = _range(start, end, zone)
    query = (sa.select(Doctor.title, Doctor.full_name, sa.func.count(Review.id),
                       sa.func.avg(Review.rating_professional), sa.func.avg(Review.rating_attitude),
                       sa.func.avg(Review.rating_waiting_time), sa.func.avg(Review.rating_overall))
             .select_from(Review).join(Doctor, Doctor.id == Review.doctor_id)
             .where(Review.status == "approved", Review.created_at >= lo, Review.created_at < hi,
                    *_doctor_scope(Review.doctor_id, department_id, doctor_id))
             .group_by(Doctor.id, Doctor.title, Doctor.full_name).order_by(Doctor.full_name))
    rows = [(f"{title} {name}" if title else name, int(n),
             *(round(float(avg), 2) if avg is not None else None for avg in averages))
            for title, name, n, *averages in session.execute(query)]
    return FigureData("ratings", grain, (("doctor", "text"), ("reviews", "count"),
                                         *((criterion, "rating") for criterion in CRITERIA)), rows)


# --- the appointment figures from the rollups (``app.services.dashboards.rollups``) -----------------
# Each equals its ``*_direct`` twin above (the raw-row computation, kept as the reference the
# tests compare against); they read a row per local day and doctor instead of every appointment.


def _day_sums(session: Session, items: list[Bucket], department_id: int | None, doctor_id: int | None,
              *sums: Any) -> dict[int, tuple[Any, ...]]:
    b = day_table(items, name="day_bucket")
    query = (sa.select(b.c.idx, *(sa.func.sum(column) for column in sums)).select_from(DashboardDay)
             .join(b, sa.and_(DashboardDay.day >= b.c.lo, DashboardDay.day < b.c.hi))
             .where(*_doctor_scope(DashboardDay.doctor_id, department_id, doctor_id))
             .group_by(b.c.idx))
    return {int(idx): tuple(values) for idx, *values in session.execute(query)}


def visits(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
           doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Visits (appointments the patient came to: checked in, in consultation, completed) per bucket."""
    items = buckets(start, end, grain)
    found = {idx: (int(n or 0),) for idx, (n,) in
             _day_sums(session, items, department_id, doctor_id, DashboardDay.visits).items()}
    return FigureData("visits", grain, (("period", "period"), ("visits", "count")), _per_bucket(items, found, 1))


def attendance(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
               doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """No-show and cancellation rates per bucket: of the appointments booked for that time (any
    status), the share marked no-show and the share cancelled."""
    items = buckets(start, end, grain)
    found = {idx: (int(total or 0), int(no_show or 0), int(cancelled or 0)) for idx, (total, no_show, cancelled)
             in _day_sums(session, items, department_id, doctor_id, DashboardDay.booked, DashboardDay.no_show,
                          DashboardDay.cancelled).items() if total}
    rows = [(s, total, no_show, no_show / total if total else 0.0, cancelled, cancelled / total if total else 0.0)
            for s, total, no_show, cancelled in _per_bucket(items, found, 3)]
    return FigureData("attendance", grain, (("period", "period"), ("booked", "count"), ("no_show", "count"),
                                            ("no_show_rate", "percent"), ("cancelled", "count"),
                                            ("cancellation_rate", "percent")), rows)


def waits(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
          doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Average wait from check-in to the start of the consultation, and average consultation length
    (start to completion), in minutes, per bucket; beside them the reviews' waiting-time stars."""
    items = buckets(start, end, grain)
    found: dict[Any, tuple[Any, ...]] = {}
    for idx, (waited, wait_s, consulted, consult_s) in _day_sums(
            session, items, department_id, doctor_id, DashboardDay.waited, DashboardDay.wait_seconds,
            DashboardDay.consulted, DashboardDay.consult_seconds).items():
        waited, consulted = int(waited or 0), int(consulted or 0)
        if waited or consulted:
            found[idx] = (_minutes(float(wait_s) / waited) if waited else None, waited,
                          _minutes(float(consult_s) / consulted) if consulted else None, consulted)
    stars = _day_sums(session, items, department_id, doctor_id, DashboardDay.wait_reviews, DashboardDay.wait_stars)
    rated: dict[int, tuple[float | None, int]] = {idx: (round(float(total) / int(n), 2), int(n))
                                                  for idx, (n, total) in stars.items() if n}
    return _waits_figure(session, items, grain, zone, department_id, doctor_id, found, rated)


def _whole(bucket: Bucket, grain: str) -> bool:
    return bucket.first == bucket.start and bucket.last == next_start(bucket.start, grain) - timedelta(days=1)


def patients(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
             doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Patients seen per bucket: new (their first visit to the clinic ever is in this bucket) and
    returning (they had come before it). Whole periods come from ``dashboard_patients`` (distinct
    patients do not add up across days, so it holds one row per period of each grain and doctor);
    a period cut by the range's ends, and a department's figure (its doctors' patients overlap),
    are counted from the appointments (``patients_direct``, with the index on start time)."""
    items = buckets(start, end, grain)
    whole = [b for b in items if _whole(b, grain)] if department_id is None else []
    found: dict[int, tuple[int, int]] = {}
    if whole:
        by_start = {b.start: b.index for b in whole}
        for period, new, returning in session.execute(
                sa.select(DashboardPatients.period, DashboardPatients.new_patients,
                          DashboardPatients.returning_patients)
                .where(DashboardPatients.grain == grain, DashboardPatients.doctor_id == (doctor_id or 0),
                       DashboardPatients.period >= whole[0].start, DashboardPatients.period <= whole[-1].start)):
            if period in by_start:
                found[by_start[period]] = (int(new), int(returning))
    taken = {w.index for w in whole}
    runs: list[list[Bucket]] = []  # the buckets counted from the appointments, in runs of neighbours
    for bucket in items:
        if bucket.index in taken:
            continue
        if runs and runs[-1][-1].index == bucket.index - 1:
            runs[-1].append(bucket)
        else:
            runs.append([bucket])
    for run in runs:  # at most the first and the last bucket (every one, for a department)
        by_start = {b.start: b.index for b in run}
        direct = patients_direct(session, run[0].first, run[-1].last, grain, department_id, doctor_id, zone)
        for period, new, returning, _total in direct.rows:
            found[by_start[period]] = (new, returning)
    rows = [(s, new, returning, new + returning) for s, new, returning in _per_bucket(items, found, 2)]
    return FigureData("patients", grain, PATIENTS_COLUMNS, rows)


def revenue_by_service(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                       doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Billed revenue per service over the range (``revenue_by_service_direct``), from the day rollup."""
    r = DashboardRevenueDay
    total = sa.func.sum(r.amount)
    query = (sa.select(r.kind, Service.name, total).select_from(r)
             .outerjoin(Service, Service.id == r.service_id)
             .where(r.day >= start, r.day <= end, *_doctor_scope(r.doctor_id, department_id, doctor_id))
             .group_by(r.kind, r.service_id, Service.name)
             .order_by(total.desc(), Service.name))
    return _by_service(grain, session.execute(query))


def revenue_by_doctor(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                      doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Billed revenue per doctor (``revenue_by_doctor_direct``), from the day rollup."""
    r = DashboardRevenueDay
    total = sa.func.sum(r.amount)
    query = (sa.select(Doctor.id, Doctor.title, Doctor.full_name, total).select_from(r)
             .outerjoin(Doctor, Doctor.id == r.doctor_id)
             .where(r.day >= start, r.day <= end, *_doctor_scope(r.doctor_id, department_id, doctor_id))
             .group_by(Doctor.id, Doctor.title, Doctor.full_name)
             .order_by(total.desc(), Doctor.full_name))
    return _by_doctor(grain, session.execute(query))


def revenue_by_method(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                      doctor_id: int | None = None, zone: ZoneInfo = DEFAULT_ZONE) -> FigureData:
    """Money taken per bucket and method (``revenue_by_method_direct``), from the day rollup."""
    items = buckets(start, end, grain)
    t = DashboardTakingsDay
    b = day_table(items, name="takings_bucket")
    query = (sa.select(b.c.idx, t.method, sa.func.sum(t.amount)).select_from(t)
             .join(b, sa.and_(t.day >= b.c.lo, t.day < b.c.hi))
             .where(*_doctor_scope(t.doctor_id, department_id, doctor_id))
             .group_by(b.c.idx, t.method))
    return _by_method(grain, items, session.execute(query))


FigureFunction = Callable[..., FigureData]
FIGURES: dict[str, FigureFunction] = {
    "patients": patients, "visits": visits, "attendance": attendance, "waits": waits, "utilisation": utilisation,
    "revenue_by_service": revenue_by_service, "revenue_by_doctor": revenue_by_doctor,
    "revenue_by_method": revenue_by_method, "outstanding": outstanding, "medicines": medicines_dispensed,
    "stock": stock, "ratings": ratings,
}
# The raw-row computations of the figures that have a rollup (the tests' reference).
DIRECT: dict[str, FigureFunction] = {
    "patients": patients_direct, "visits": visits_direct, "attendance": attendance_direct, "waits": waits_direct,
    "utilisation": utilisation_direct, "revenue_by_service": revenue_by_service_direct,
    "revenue_by_doctor": revenue_by_doctor_direct, "revenue_by_method": revenue_by_method_direct,
}
