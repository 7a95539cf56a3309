"""What a write invalidates in the cache (``app.services.cache``), in one place.

Every ORM write of a session is looked at when it is flushed: an appointment (booked, moved,
cancelled, checked in, ... by any path: services, generic screens, REST), a doctor's working hours
or exception, a doctor, service, specialty or department, a payment or refund. What it makes stale
is noted in ``session.info`` and invalidated *after the commit* (``after_commit``), so no process
can load the old rows again under the new generation. A write the ORM does not see (the booking's
own SQL in ``app.services.booking.statement``, a bulk UPDATE) notes what it changed with
``touch(session, namespace, scope)``, in the same transaction.

Invalidating too much costs a reload; too little would show a taken slot as free: when in doubt,
a whole namespace. The dashboards' figures (``cache.DASHBOARDS``) are dropped whole by a write of
any row they read (``DASHBOARD_SOURCES``); their rollups are kept by ``dashboards.rollups``.
A Core write of medicines' stock or invoices that the ORM does not see must ``touch`` it too."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Hashable, Iterable

from sqlalchemy import event as sa_event, inspect
from sqlalchemy.orm import Session

from app.models import (
    Appointment,
    AppointmentEvent,
    Department,
    Doctor,
    Invoice,
    InvoiceLine,
    Medicine,
    Payment,
    Prescription,
    PrescriptionItem,
    Refund,
    Review,
    ScheduleException,
    Service,
    Specialty,
    StockBatch,
    StockMovement,
    WorkSchedule,
)
from app.services import cache
from app.services.dashboards import rollups  # noqa: F401  (its listeners keep the dashboards' rollups)

# Every row a dashboard figure reads: a write of any of them drops the cached figures (all of them:
# a figure's key is a range, and one write may fall in many ranges).
DASHBOARD_SOURCES = (Appointment, AppointmentEvent, Department, Doctor, Invoice, InvoiceLine, Medicine, Payment,
                     Prescription, PrescriptionItem, Refund, Review, ScheduleException, Service, StockBatch,
                     StockMovement, WorkSchedule)

log = logging.getLogger(__name__)

PENDING = "cache_invalidations"  # session.info: {(namespace, scope)} to invalidate after the commit


def touch(session: Session, namespace: str, scope: Hashable = None) -> None:
    """Note that this transaction changes ``scope`` of ``namespace`` (None: all of it)."""
    session.info.setdefault(PENDING, set()).add((namespace, scope))


def _values(obj: Any, attribute: str) -> list[Any]:
    """The attribute's value now and, when this flush changed it, before."""
    history = inspect(obj).attrs[attribute].history
    values = [getattr(obj, attribute, None), *(history.deleted or ())]
    return [value for value in values if value is not None]


def _day(moment: datetime) -> str:
    from flask import current_app, has_app_context

    if has_app_context():
        from app.services.settings import ClinicSettings

        moment = moment.astimezone(ClinicSettings.from_config(current_app.config).timezone)
    return moment.date().isoformat()


def stale(obj: Any) -> Iterable[tuple[str, Hashable]]:
    """What a new, changed or deleted row makes stale."""
    if isinstance(obj, DASHBOARD_SOURCES):
        yield cache.DASHBOARDS, None
    if isinstance(obj, (Appointment, WorkSchedule, ScheduleException)):
        for doctor_id in _values(obj, "doctor_id"):
            yield cache.SLOTS, doctor_id
    elif isinstance(obj, Doctor):
        yield cache.DOCTORS, None
        if obj.id is not None:
            yield cache.SLOTS, obj.id
    elif isinstance(obj, Service):  # its length changes every offering doctor's slots
        yield from ((cache.SERVICES, None), (cache.DOCTORS, None), (cache.SLOTS, None))
    elif isinstance(obj, (Department, Specialty)):
        yield from ((cache.SERVICES, None), (cache.DOCTORS, None))
    elif isinstance(obj, Payment):
        for moment in _values(obj, "paid_at"):
            yield cache.REVENUE, _day(moment)
    elif isinstance(obj, Refund):
        for moment in _values(obj, "refunded_at"):
            yield cache.REVENUE, _day(moment)
        payment = obj.payment
        if payment is not None and payment.paid_at is not None:
            yield cache.REVENUE, _day(payment.paid_at)


def uncommitted(session: Session, namespace: str, scope: Hashable) -> bool:
    """Whether this transaction changed ``scope`` of ``namespace`` (or all of it) and has not
    committed yet (flushed, or still only in the session). Such a session must neither read the
    cache (it would not see its own change) nor fill it (a rollback would leave the cache holding
    rows that never existed): it reads the database."""
    noted = set(session.info.get(PENDING, ()))
    with session.no_autoflush:
        for obj in (*session.new, *session.dirty, *session.deleted):
            noted.update(stale(obj))
    return (namespace, None) in noted or (namespace, scope) in noted


@sa_event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, flush_context: Any) -> None:
    try:
        for obj in (*session.new, *session.dirty, *session.deleted):
            for namespace, scope in stale(obj):
                touch(session, namespace, scope)
    except Exception:  # noqa: BLE001 - never fail a write; invalidate everything instead
        log.exception("cache: could not tell what a flush changed; invalidating every namespace")
        for namespace in cache.NAMESPACES:
            touch(session, namespace)


@sa_event.listens_for(Session, "after_commit")
def _invalidate_committed(session: Session) -> None:
    """After the commit (a savepoint's release does not come here: its outer commit does). A
    rollback keeps the notes: invalidating after a later commit costs one reload at most."""
    for namespace, scope in session.info.pop(PENDING, set()):
        cache.invalidate(namespace, scope)


def revenue_changed(session: Session, *moments: datetime | None) -> None:
    """The payment service's hook (``app.services.payments``): the revenue of each moment's day
    (the clinic's local day) is stale once this transaction commits. The flush above notes the
    same for ORM writes; this says it where the money is written, whatever the write's form."""
    touch(session, cache.DASHBOARDS)
    for moment in moments:
        if moment is not None:
            touch(session, cache.REVENUE, _day(moment))
