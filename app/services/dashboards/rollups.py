"""The dashboards' rollups (``app.models.dashboard_rollups``): kept right in the same transaction
as every write that changes them, and made again from the raw rows at will.

Why this way. A write of an appointment (booked, moved, cancelled, checked in, completed, any
path) or of its status history (``appointment_event``) notes what it touched: the local days of
the appointment's old and new times and the patient(s). Just before the commit, in the same
transaction, the rollup rows of those days (every doctor's), of those patients' first visits,
and of the periods (day, week, month, quarter) that hold those days or a first visit that moved
are deleted and computed again from the raw rows with one INSERT ... SELECT each (GROUP BY in
the database). So a rollup row is never an increment of a previous value that could drift: it is
always the raw computation of its day or period, re-run whenever any row it depends on changed,
and it commits or rolls back with that change. A new-vs-returning count cannot be kept by +1/-1
anyway (a cancelled first visit turns a later visit into the patient's first).

Concurrency (PostgreSQL): the refresh takes one transaction-level advisory lock, so two writers'
refreshes run one after the other; under READ COMMITTED each statement of the second sees the
first's committed rows, so the last refresh of a day is computed with both writes. The lock is
held only for the refresh, at the end of the transaction.

What the rollups assume: the days are the clinic's local days in ``CLINIC_TIMEZONE`` at the time
of the refresh: after changing the zone run ``flask dashboards rebuild``. Writes that go around
the ORM (Core INSERT/UPDATE of appointments or events) must call :func:`note_appointment`, as the
booking service does; the demo seed and the benchmark's bulk COPY call :func:`rebuild`."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import event as sa_event, inspect
from sqlalchemy.orm import Session

from app.models import (
    Appointment,
    AppointmentEvent,
    DashboardDay,
    DashboardPatients,
    DashboardRevenueDay,
    DashboardTakingsDay,
    Invoice,
    InvoiceLine,
    PatientFirstVisit,
    Payment,
    Refund,
    Review,
)
from app.models.types import UTCDateTime
from app.services.dashboards.buckets import GRAINS, bucket_start, local_midnight, next_start

log = logging.getLogger(__name__)

DEFAULT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VISIT_STATUSES = ("checked_in", "in_consultation", "completed")
TIMED_STATUSES = ("in_consultation", "completed")
BOOKED_STATUSES = ("requested", "confirmed", "checked_in", "in_consultation", "completed", "no_show")
BILLED_STATUSES = ("issued", "partially_paid", "paid")  # figures.BILLED_STATUSES
# session.info: {"at": {instants}, "appointments": {ids}, "patients": {ids}, "booked": {ids}}
PENDING = "dashboard_rollups"
LOCK_KEY = 1_400_014  # the advisory lock of the refresh (issue 14)
CHUNK = 300  # periods per statement (a VALUES table of bounds)
ROLLUPS = (DashboardDay, DashboardPatients, PatientFirstVisit, DashboardRevenueDay, DashboardTakingsDay)


def _zone() -> ZoneInfo:
    from flask import current_app, has_app_context

    if has_app_context():
        from app.services.settings import ClinicSettings

        return ClinicSettings.from_config(current_app.config).timezone
    return DEFAULT_ZONE


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _seconds(dialect: str, later: Any, earlier: Any) -> Any:
    if dialect == "postgresql":
        return sa.cast(sa.func.extract("epoch", later - earlier), sa.Float)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _bounds(periods: list[tuple[date, date]], zone: ZoneInfo, name: str = "bounds") -> Any:
    """(period, lo, hi): each period's first day and the UTC instants of its start and end."""
    rows = [(first, local_midnight(first, zone), local_midnight(after, zone)) for first, after in periods]
    return sa.values(sa.column("period", sa.Date()), sa.column("lo", UTCDateTime()), sa.column("hi", UTCDateTime()),
                     name=name).data(rows).cte(name)


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


# --- the refreshes: delete the rows, compute them again from the raw rows -------------------------


def _runs(starts: Iterable[date], grain: str, limit: int | None) -> Iterable[list[date]]:
    """The periods in runs of neighbours (each the next of the one before), at most ``limit`` long."""
    run: list[date] = []
    for first in sorted(set(starts)):
        if run and (next_start(run[-1], grain) != first or (limit and len(run) >= limit)):
            yield run
            run = []
        run.append(first)
    if run:
        yield run


class _Periods:
    """How a statement puts appointments in the periods of one run: on PostgreSQL each row's local
    period computed by the database (``date_trunc`` of the time in the clinic's zone, with the run's
    bounds as an index range); elsewhere a join to a VALUES table of the periods' UTC bounds (no
    time zones in SQLite), at most CHUNK periods a statement."""

    def __init__(self, dialect: str, column: Any, grain: str, run: list[date], zone: ZoneInfo,
                 name: str = "bounds") -> None:
        self.column = column
        self.zone_sql: Any = None
        self.trunc: Any = None
        self.bounds: Any = None
        self.key: Any = None
        self.lo, self.hi = local_midnight(run[0], zone), local_midnight(next_start(run[-1], grain), zone)
        if dialect == "postgresql":
            self.zone_sql = sa.literal_column("'" + zone.key.replace("'", "") + "'")
            assert grain in GRAINS
            self.trunc = sa.func.date_trunc(sa.literal_column(f"'{grain}'"), sa.func.timezone(self.zone_sql, column))
            self.key = sa.cast(self.trunc, sa.Date)
            self.bounds = None
        else:
            self.bounds = _bounds([(first, next_start(first, grain)) for first in run], zone, name)
            self.key = self.bounds.c.period

    def attach(self, query: Any) -> Any:
        if self.bounds is None:
            return query.where(self.column >= self.lo, self.column < self.hi)
        return query.join(self.bounds, sa.and_(self.column >= self.bounds.c.lo, self.column < self.bounds.c.hi))

    def at_or_after_start(self, instant: Any) -> Any:
        """``instant`` is at or after the start of the row's period."""
        if self.bounds is None:
            return sa.func.timezone(self.zone_sql, instant) >= self.trunc
        return instant >= self.bounds.c.lo


def _limit(session: Session) -> int | None:
    return None if session.get_bind().dialect.name == "postgresql" else CHUNK


def refresh_days(session: Session, days: Iterable[date], zone: ZoneInfo) -> None:
    """``dashboard_day`` of these local days, every doctor."""
    dialect = session.get_bind().dialect.name
    for run in _runs(days, "day", _limit(session)):
        session.execute(sa.delete(DashboardDay).where(DashboardDay.day >= run[0], DashboardDay.day <= run[-1]))
        a, e = Appointment, AppointmentEvent
        periods = _Periods(dialect, a.start_at, "day", run, zone)
        in_range = sa.select(a.id).where(a.start_at >= periods.lo, a.start_at < periods.hi)
        timing = (sa.select(e.appointment_id.label("appointment_id"),
                            sa.func.min(sa.case((e.to_status == "in_consultation", e.at))).label("started"),
                            sa.func.max(sa.case((e.to_status == "completed", e.at))).label("finished"))
                  .where(e.to_status.in_(TIMED_STATUSES), e.appointment_id.in_(in_range))
                  .group_by(e.appointment_id).subquery("timing"))
        rating = Review.rating_waiting_time
        stars = (sa.select(Review.appointment_id.label("appointment_id"), sa.func.count(rating).label("n"),
                           sa.func.sum(rating).label("total"))
                 .where(Review.status == "approved", rating.is_not(None), Review.appointment_id.in_(in_range))
                 .group_by(Review.appointment_id).subquery("stars"))
        timed = a.status.in_(TIMED_STATUSES)
        wait = sa.case((timed, _seconds(dialect, timing.c.started, a.checked_in_at)))
        length = sa.case((timed, _seconds(dialect, timing.c.finished, timing.c.started)))
        booked_seconds = sa.case((a.status.in_(BOOKED_STATUSES), _seconds(dialect, a.end_at, a.start_at)), else_=0.0)

        def flag(condition: Any) -> Any:
            return sa.func.sum(sa.case((condition, 1), else_=0))

        select = periods.attach(
            sa.select(periods.key, a.doctor_id, sa.func.count(a.id), flag(a.status.in_(VISIT_STATUSES)),
                      flag(a.status == "no_show"), flag(a.status == "cancelled"),
                      sa.func.coalesce(sa.func.sum(booked_seconds), 0.0), sa.func.count(wait),
                      sa.func.coalesce(sa.func.sum(wait), 0.0), sa.func.count(length),
                      sa.func.coalesce(sa.func.sum(length), 0.0), sa.func.coalesce(sa.func.sum(stars.c.n), 0),
                      sa.func.coalesce(sa.func.sum(stars.c.total), 0))
            .select_from(a).outerjoin(timing, timing.c.appointment_id == a.id)
            .outerjoin(stars, stars.c.appointment_id == a.id)
        ).group_by(periods.key, a.doctor_id)
        session.execute(sa.insert(DashboardDay).from_select(
            ["day", "doctor_id", "booked", "visits", "no_show", "cancelled", "booked_seconds", "waited",
             "wait_seconds", "consulted", "consult_seconds", "wait_reviews", "wait_stars"], select))


def _first_visits(session: Session, patient_ids: list[int]) -> set[datetime]:
    return set(session.execute(sa.select(PatientFirstVisit.first_at)
                               .where(PatientFirstVisit.patient_id.in_(patient_ids))).scalars())


def refresh_first_visits(session: Session, patient_ids: Iterable[int]) -> set[datetime]:
    """``patient_first_visit`` of these patients; returns their first visits before and after
    (the instants whose periods' new-vs-returning counts may have changed)."""
    wanted = sorted(set(patient_ids))
    changed: set[datetime] = set()
    for chunk in _chunks(wanted):
        before = _first_visits(session, chunk)
        session.execute(sa.delete(PatientFirstVisit).where(PatientFirstVisit.patient_id.in_(chunk)))
        session.execute(sa.insert(PatientFirstVisit).from_select(
            ["patient_id", "first_at"],
            sa.select(Appointment.patient_id, sa.func.min(Appointment.start_at))
            .where(Appointment.patient_id.in_(chunk), Appointment.status.in_(VISIT_STATUSES))
            .group_by(Appointment.patient_id)))
        after = _first_visits(session, chunk)
        changed |= before ^ after
    return changed


def refresh_periods(session: Session, grain: str, starts: Iterable[date], zone: ZoneInfo) -> None:
    """``dashboard_patients`` of these whole periods of ``grain`` (of the periods holding these days)."""
    dialect = session.get_bind().dialect.name
    a, f, p = Appointment, PatientFirstVisit, DashboardPatients
    for run in _runs({bucket_start(day, grain) for day in starts}, grain, _limit(session)):
        session.execute(sa.delete(p).where(p.grain == grain, p.period >= run[0], p.period <= run[-1]))
        periods = _Periods(dialect, a.start_at, grain, run, zone)
        is_new = periods.at_or_after_start(f.first_at)
        new = sa.func.count(sa.distinct(sa.case((is_new, a.patient_id))))
        returning = sa.func.count(sa.distinct(sa.case((sa.not_(is_new), a.patient_id))))
        seen = periods.attach(sa.select(sa.literal(grain, sa.String), periods.key).select_from(a)
                              .join(f, f.patient_id == a.patient_id).where(a.status.in_(VISIT_STATUSES)))
        names = ["grain", "period", "doctor_id", "new_patients", "returning_patients"]
        session.execute(sa.insert(p).from_select(
            names, seen.add_columns(sa.literal(0, sa.Integer), new, returning).group_by(periods.key)))
        session.execute(sa.insert(p).from_select(
            names, seen.add_columns(a.doctor_id, new, returning).group_by(periods.key, a.doctor_id)))


def refresh_revenue_days(session: Session, days: Iterable[date], zone: ZoneInfo) -> None:
    """``dashboard_revenue_day`` of these local days (of the invoices' issue)."""
    dialect = session.get_bind().dialect.name
    for run in _runs(days, "day", _limit(session)):
        session.execute(sa.delete(DashboardRevenueDay).where(DashboardRevenueDay.day >= run[0],
                                                             DashboardRevenueDay.day <= run[-1]))
        periods = _Periods(dialect, Invoice.issued_at, "day", run, zone)
        doctor = sa.func.coalesce(Appointment.doctor_id, 0)
        service = sa.func.coalesce(InvoiceLine.service_id, 0)
        select = periods.attach(
            sa.select(periods.key, doctor, InvoiceLine.kind, service,
                      sa.func.sum(InvoiceLine.amount - InvoiceLine.discount_share))
            .select_from(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .outerjoin(Appointment, Appointment.id == Invoice.appointment_id)
            .where(Invoice.status.in_(BILLED_STATUSES))
        ).group_by(periods.key, doctor, InvoiceLine.kind, service)
        session.execute(sa.insert(DashboardRevenueDay).from_select(
            ["day", "doctor_id", "kind", "service_id", "amount"], select))


def refresh_takings_days(session: Session, days: Iterable[date], zone: ZoneInfo) -> None:
    """``dashboard_takings_day`` of these local days (of the payments and refunds)."""
    dialect = session.get_bind().dialect.name
    doctor = sa.func.coalesce(Appointment.doctor_id, 0)
    for run in _runs(days, "day", _limit(session)):
        session.execute(sa.delete(DashboardTakingsDay).where(DashboardTakingsDay.day >= run[0],
                                                             DashboardTakingsDay.day <= run[-1]))
        paid = _Periods(dialect, Payment.paid_at, "day", run, zone, "paid_bounds")
        given = _Periods(dialect, Refund.refunded_at, "day", run, zone, "refund_bounds")
        money = sa.union_all(
            paid.attach(sa.select(paid.key.label("day"), doctor.label("doctor_id"), Payment.method.label("method"),
                                  Payment.amount.label("amount")).select_from(Payment)
                        .join(Invoice, Invoice.id == Payment.invoice_id)
                        .outerjoin(Appointment, Appointment.id == Invoice.appointment_id)
                        .where(Payment.status == "succeeded")),
            given.attach(sa.select(given.key, doctor, Refund.method, -Refund.amount).select_from(Refund)
                         .join(Invoice, Invoice.id == Refund.invoice_id)
                         .outerjoin(Appointment, Appointment.id == Invoice.appointment_id)
                         .where(Refund.status == "succeeded"))).subquery("money")
        select = (sa.select(money.c.day, money.c.doctor_id, money.c.method, sa.func.sum(money.c.amount))
                  .group_by(money.c.day, money.c.doctor_id, money.c.method))
        session.execute(sa.insert(DashboardTakingsDay).from_select(["day", "doctor_id", "method", "amount"], select))


def _days_between(first: datetime | None, last: datetime | None, zone: ZoneInfo) -> list[date]:
    if first is None or last is None:
        return []
    a, b = _local_day(first, zone), _local_day(last, zone)
    return [a + timedelta(days=n) for n in range((b - a).days + 1)]


def refresh_money(session: Session, invoice_ids: Iterable[int], revenue_at: Iterable[datetime],
                  takings_at: Iterable[datetime], zone: ZoneInfo) -> None:
    """The money rollups of these invoices (their issue day, their payments' and refunds' days) and
    of the days of these instants."""
    revenue, takings = set(revenue_at), set(takings_at)
    ids = sorted(set(invoice_ids))
    for chunk in _chunks(ids):
        revenue.update(t for t in session.execute(sa.select(Invoice.issued_at).where(Invoice.id.in_(chunk)))
                       .scalars() if t is not None)
        takings.update(t for t in session.execute(sa.select(Payment.paid_at).where(Payment.invoice_id.in_(chunk)))
                       .scalars() if t is not None)
        takings.update(session.execute(sa.select(Refund.refunded_at).where(Refund.invoice_id.in_(chunk))).scalars())
    if revenue:
        refresh_revenue_days(session, {_local_day(t, zone) for t in revenue}, zone)
    if takings:
        refresh_takings_days(session, {_local_day(t, zone) for t in takings}, zone)


def refresh(session: Session, instants: Iterable[datetime], patient_ids: Iterable[int],
            zone: ZoneInfo | None = None, booked_at: Iterable[datetime] = ()) -> None:
    """Everything that depends on appointments at these instants and on these patients; of
    ``booked_at`` (new bookings that are not visits), only the days' counts."""
    zone = zone or _zone()
    _lock(session)
    moments = set(instants)
    moments |= refresh_first_visits(session, patient_ids)
    days = {_local_day(moment, zone) for moment in moments}
    booked_days = {_local_day(moment, zone) for moment in booked_at}
    if days or booked_days:
        refresh_days(session, days | booked_days, zone)
    if days:
        for grain in GRAINS:
            refresh_periods(session, grain, days, zone)


def rebuild(session: Session, zone: ZoneInfo | None = None) -> dict[str, int]:
    """Every rollup made again from the raw rows (not committed). Returns the rows written."""
    zone = zone or _zone()
    _lock(session)
    for model in ROLLUPS:
        session.execute(sa.delete(model))
    session.execute(sa.insert(PatientFirstVisit).from_select(
        ["patient_id", "first_at"],
        sa.select(Appointment.patient_id, sa.func.min(Appointment.start_at))
        .where(Appointment.status.in_(VISIT_STATUSES)).group_by(Appointment.patient_id)))
    first, last = session.execute(sa.select(sa.func.min(Appointment.start_at), sa.func.max(Appointment.start_at))).one()
    if first is not None:
        first_day, last_day = _local_day(first, zone), _local_day(last, zone)
        refresh_days(session, (first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)), zone)
        for grain in GRAINS:
            starts, cursor = [], bucket_start(first_day, grain)
            while cursor <= last_day:
                starts.append(cursor)
                cursor = next_start(cursor, grain)
            refresh_periods(session, grain, starts, zone)
    issued = session.execute(sa.select(sa.func.min(Invoice.issued_at), sa.func.max(Invoice.issued_at))).one()
    refresh_revenue_days(session, _days_between(issued[0], issued[1], zone), zone)
    moments = session.execute(sa.select(sa.func.min(Payment.paid_at), sa.func.max(Payment.paid_at),
                                        sa.select(sa.func.min(Refund.refunded_at)).scalar_subquery(),
                                        sa.select(sa.func.max(Refund.refunded_at)).scalar_subquery())).one()
    known = [m for m in moments if m is not None]
    if known:
        refresh_takings_days(session, _days_between(min(known), max(known), zone), zone)
    return {model.__tablename__: session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in ROLLUPS}


# --- what a write touched ---------------------------------------------------------------------------


def _pending(session: Session) -> dict[str, set[Any]]:
    return session.info.setdefault(PENDING, {"at": set(), "appointments": set(), "patients": set(),
                                             "booked": set(), "invoices": set(), "revenue_at": set(),
                                             "takings_at": set(), "visits_of_invoices": set()})


def note_appointment(session: Session, appointment_id: int | None = None, *, at: datetime | None = None,
                     patient_id: int | None = None, day_only: bool = False) -> None:
    """A write the ORM does not see changed this appointment (or one at ``at`` of ``patient_id``):
    its rollups are computed again before this transaction commits. ``day_only``: a new booking
    that is not a visit (no first visit or patient count can change; its day's counts do)."""
    pending = _pending(session)
    if appointment_id is not None:
        pending["booked" if day_only else "appointments"].add(appointment_id)
    if at is not None:
        pending["at"].add(at)
    if patient_id is not None:
        pending["patients"].add(patient_id)


def _values(obj: Any, attribute: str) -> list[Any]:
    history = inspect(obj).attrs[attribute].history
    values = [getattr(obj, attribute, None), *(history.deleted or ())]
    return [value for value in values if value is not None]


@sa_event.listens_for(Session, "before_flush")
def _note_deleted_visits(session: Session, flush_context: Any, instances: Any) -> None:
    """A deleted appointment's invoices lose their doctor (the database sets it to NULL): note them
    while they can still be found."""
    gone = [obj.id for obj in session.deleted if isinstance(obj, Appointment) and obj.id is not None]
    if gone:
        _pending(session)["invoices"].update(session.execute(
            sa.select(Invoice.id).where(Invoice.appointment_id.in_(gone))).scalars())


@sa_event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Appointment):
            pending = _pending(session)
            pending["at"].update(_values(obj, "start_at"))
            pending["patients"].update(_values(obj, "patient_id"))
            if obj.id is not None and inspect(obj).attrs["doctor_id"].history.deleted:
                pending["visits_of_invoices"].add(obj.id)  # its invoices' money moves to the new doctor
        elif isinstance(obj, AppointmentEvent):
            for appointment_id in _values(obj, "appointment_id"):
                _pending(session)["appointments"].add(appointment_id)
        elif isinstance(obj, Review):  # its visit's day: the waiting-time stars beside the wait
            _pending(session)["booked"].update(_values(obj, "appointment_id"))
        elif isinstance(obj, Invoice):
            pending = _pending(session)
            pending["revenue_at"].update(_values(obj, "issued_at"))
            if obj.id is not None:
                pending["invoices"].add(obj.id)
        elif isinstance(obj, InvoiceLine):
            _pending(session)["invoices"].update(_values(obj, "invoice_id"))
        elif isinstance(obj, Payment):
            _pending(session)["takings_at"].update(_values(obj, "paid_at"))
            _pending(session)["invoices"].update(_values(obj, "invoice_id"))
        elif isinstance(obj, Refund):
            _pending(session)["takings_at"].update(_values(obj, "refunded_at"))
            _pending(session)["invoices"].update(_values(obj, "invoice_id"))


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: Any) -> None:
    """The notes of a rolled-back transaction go with it (a commit has taken them already). Only
    the outermost transaction's end: a savepoint rolled back leaves the notes made before it,
    which its caller's commit still needs (a few extra days recomputed is harmless)."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


@sa_event.listens_for(Session, "before_commit")
def _refresh_before_commit(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this hook: note the last changes now
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    instants, patients, booked = set(pending["at"]), set(pending["patients"]), set()
    ids = pending["appointments"] | pending["booked"]
    if ids:
        for appointment_id, start_at, patient_id in session.execute(
                sa.select(Appointment.id, Appointment.start_at, Appointment.patient_id)
                .where(Appointment.id.in_(sorted(ids)))):
            if appointment_id in pending["appointments"]:
                instants.add(start_at)
                patients.add(patient_id)
            else:
                booked.add(start_at)
    invoices = set(pending["invoices"])
    if pending["visits_of_invoices"]:
        invoices.update(session.execute(sa.select(Invoice.id).where(
            Invoice.appointment_id.in_(sorted(pending["visits_of_invoices"])))).scalars())
    if instants or patients or booked or invoices or pending["revenue_at"] or pending["takings_at"]:
        if instants or patients or booked:
            refresh(session, instants, patients, booked_at=booked)
        else:
            _lock(session)
        refresh_money(session, invoices, pending["revenue_at"], pending["takings_at"], _zone())
        from app.services import cache, cache_hooks

        cache_hooks.touch(session, cache.DASHBOARDS)
