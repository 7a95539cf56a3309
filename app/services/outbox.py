"""Domain events through the transactional outbox (issue 17, item 1).

Each event is an ``outbox`` row written in the same transaction as the change that caused it: a
rolled-back booking emits nothing, a committed one is never lost. Most events are found by one
``after_flush`` listener that reads what the flush wrote (new rows, and the old and new values of
the columns that matter), whichever entry point made the change: the pages, the REST API, chat,
jobs and the CLI all go through the ORM. Changes written with SQL the ORM does not see (the
booking statement) call ``record`` themselves.

Events carry ids and the fields consumers need (codes, times, amounts, statuses), never clinical
free text: a consumer that needs more reads it through the FHIR API, within its rights.

Per aggregate (one appointment, one invoice ...) the events are numbered 1, 2, 3 ... by
``sequence``; the unique constraint on it makes two transactions that change one aggregate at the
same moment meet there (the second is refused as a conflict, nothing of it written), so the
numbers follow the commit order and consumers see an aggregate's events in order.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Sequence

from flask import current_app, has_app_context
from sqlalchemy import Connection, case, event, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from app.models import (
    Appointment,
    Encounter,
    EncounterAmendment,
    Invoice,
    LabOrder,
    LabResult,
    Medicine,
    OutboxEvent,
    Patient,
    Prescription,
    PrescriptionItem,
    StockBatch,
    StockMovement,
)
from app.models.types import utcnow
from app.services.settings import ClinicSettings

PAYLOAD_VERSION = 1

# Every event type, as published (the RabbitMQ routing key, the webhook's event name).
EVENT_TYPES = (
    "appointment.booked", "appointment.confirmed", "appointment.moved", "appointment.checked_in",
    "appointment.completed", "appointment.cancelled", "appointment.no_show",
    "encounter.signed", "encounter.amended",
    "lab.ordered", "lab.cancelled", "lab.result_released",
    "prescription.issued", "prescription.dispensed",
    "stock.low", "stock.batch_expiring",
    "invoice.issued", "invoice.paid", "invoice.refunded", "invoice.voided",
    "patient.registered", "patient.updated",
)

# An appointment's new status -> its event (statuses not listed, like in_consultation, emit none).
_APPOINTMENT_STATUS_EVENTS = {
    "confirmed": "appointment.confirmed", "checked_in": "appointment.checked_in",
    "completed": "appointment.completed", "cancelled": "appointment.cancelled", "no_show": "appointment.no_show",
}
_INVOICE_STATUS_EVENTS = {"issued": "invoice.issued", "paid": "invoice.paid", "void": "invoice.voided"}
_PRESCRIPTION_STATUS_EVENTS = {"issued": "prescription.issued", "dispensed": "prescription.dispensed",
                               "partially_dispensed": "prescription.dispensed"}
# A prescription's statuses in the order a dispense moves it; a return moves it back (no event).
_PRESCRIPTION_PROGRESS = ("draft", "issued", "partially_dispensed", "dispensed")
# A patient's columns whose change is not news to anyone outside (derived or bookkeeping).
_PATIENT_QUIET = frozenset({"search_text", "created_at", "updated_at"})


@dataclass
class Event:
    type: str
    aggregate_type: str
    aggregate_id: int | str
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


def jsonable(value: Any) -> Any:
    """A payload value as JSON keeps it: instants and days in ISO 8601, amounts as exact strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


# --- writing -----------------------------------------------------------------------------------


def record(where: Any, type_: str, aggregate_type: str, aggregate_id: int | str,
           payload: dict[str, Any], occurred_at: datetime | None = None, *, new_aggregate: bool = False) -> str:
    """Write one event in the caller's transaction; returns its event id. ``new_aggregate``: the
    aggregate was created in this transaction, so this is its first event (no read needed)."""
    return record_all(where, [Event(type_, aggregate_type, aggregate_id, payload, occurred_at)],
                      new_aggregates={(aggregate_type, str(aggregate_id))} if new_aggregate else set())[0]


def record_all(where: Any, events: Sequence[Event],
               new_aggregates: set[tuple[str, str]] = frozenset()) -> list[str]:  # type: ignore[assignment]
    if not events:
        return []
    connection = where if isinstance(where, Connection) else where.connection()
    if connection.dialect.name == "sqlite":
        # SQLite hands the highest id of a deleted row out again: a "new" aggregate may have events.
        new_aggregates = set()
    now = utcnow()
    last: dict[tuple[str, str], int] = {}
    rows = []
    for item in events:
        if item.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {item.type}")
        key = (item.aggregate_type, str(item.aggregate_id))
        if key not in last:
            last[key] = 0 if key in new_aggregates else _last_sequence(connection, *key)
        last[key] += 1
        rows.append({"event_id": str(uuid.uuid4()), "type": item.type, "aggregate_type": key[0],
                     "aggregate_id": key[1], "sequence": last[key], "occurred_at": item.occurred_at or now,
                     "payload": jsonable(item.payload), "payload_version": PAYLOAD_VERSION, "attempts": 0})
    connection.execute(insert(OutboxEvent.__table__), rows)
    return [row["event_id"] for row in rows]


def _last_sequence(connection: Connection, aggregate_type: str, aggregate_id: str) -> int:
    return connection.execute(select(func.max(OutboxEvent.sequence)).where(
        OutboxEvent.aggregate_type == aggregate_type, OutboxEvent.aggregate_id == aggregate_id)).scalar() or 0


# --- reading -----------------------------------------------------------------------------------


def events_for(session: Session, aggregate_type: str, aggregate_id: int | str) -> list[OutboxEvent]:
    """An aggregate's events in order."""
    return list(session.scalars(select(OutboxEvent).where(
        OutboxEvent.aggregate_type == aggregate_type, OutboxEvent.aggregate_id == str(aggregate_id))
        .order_by(OutboxEvent.sequence)))


def recent(session: Session, *, types: Iterable[str] | None = None, after_id: int = 0,
           limit: int = 100) -> list[OutboxEvent]:
    """Events written after ``after_id`` (oldest first), of ``types`` if given."""
    query = select(OutboxEvent).where(OutboxEvent.id > after_id).order_by(OutboxEvent.id).limit(limit)
    if types is not None:
        query = query.where(OutboxEvent.type.in_(list(types)))
    return list(session.scalars(query))


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_at: datetime | None


def backlog(session: Session) -> Backlog:
    """How many events wait for the relay, and since when (``/health``)."""
    count, oldest = session.execute(select(func.count(), func.min(OutboxEvent.occurred_at))
                                    .where(OutboxEvent.sent_at.is_(None))).one()
    return Backlog(int(count or 0), oldest)


# --- the events a flush wrote --------------------------------------------------------------------


def _history(obj: Any, key: str) -> tuple[bool, Any, Any]:
    """(changed, old, new) of one column in this flush; old is None for a new row or when the old
    value was not loaded."""
    history = inspect(obj).attrs[key].history
    if not history.has_changes():
        return False, None, None
    old = history.deleted[0] if history.deleted else None
    new = history.added[0] if history.added else None
    return True, old, new


def _appointment_payload(a: Appointment) -> dict[str, Any]:
    return {"appointment_id": a.id, "patient_id": a.patient_id, "doctor_id": a.doctor_id, "service_id": a.service_id,
            "start_at": a.start_at, "end_at": a.end_at, "status": a.status, "channel": a.channel, "mode": a.mode}


def _appointment_events(obj: Appointment, new: bool) -> list[Event]:
    if new:
        return [Event("appointment.booked", "appointment", obj.id, _appointment_payload(obj))]
    found = []
    moved = [key for key in ("start_at", "end_at", "doctor_id") if _history(obj, key)[0]]
    if moved:
        found.append(Event("appointment.moved", "appointment", obj.id, _appointment_payload(obj)))
    changed, old, status = _history(obj, "status")
    if changed and status != old and status in _APPOINTMENT_STATUS_EVENTS:
        payload = {**_appointment_payload(obj), "previous_status": old}
        found.append(Event(_APPOINTMENT_STATUS_EVENTS[status], "appointment", obj.id, payload))
    return found


def _encounter_events(obj: Encounter) -> list[Event]:
    changed, old, signed = _history(obj, "signed_at")
    if changed and old is None and signed is not None:
        return [Event("encounter.signed", "encounter", obj.id, {
            "encounter_id": obj.id, "patient_id": obj.patient_id, "doctor_id": obj.doctor_id,
            "appointment_id": obj.appointment_id, "signed_at": signed, "signed_by_id": obj.signed_by_id})]
    return []


def _amendment_events(connection: Connection, obj: EncounterAmendment) -> list[Event]:
    patient_id = connection.execute(select(Encounter.patient_id).where(Encounter.id == obj.encounter_id)).scalar()
    return [Event("encounter.amended", "encounter", obj.encounter_id, {
        "encounter_id": obj.encounter_id, "patient_id": patient_id, "amendment_id": obj.id, "field": obj.field,
        "amended_at": obj.amended_at, "author_id": obj.author_id})]


def _lab_order_payload(obj: LabOrder) -> dict[str, Any]:
    return {"lab_order_id": obj.id, "patient_id": obj.patient_id, "encounter_id": obj.encounter_id,
            "doctor_id": obj.doctor_id, "lab_test_id": obj.lab_test_id, "test_code": obj.test_code,
            "test_name": obj.test_name, "status": obj.status}


def _lab_order_events(obj: LabOrder, new: bool) -> list[Event]:
    if new:
        return [Event("lab.ordered", "lab_order", obj.id, _lab_order_payload(obj))]
    changed, old, status = _history(obj, "status")
    if changed and status == "cancelled" and old != status:
        return [Event("lab.cancelled", "lab_order", obj.id, _lab_order_payload(obj))]
    return []


def _released_results(connection: Connection, results: list[LabResult]) -> list[Event]:
    """One event per lab order whose results were released in this flush, listing them."""
    by_order: dict[int, list[LabResult]] = {}
    for result in results:
        by_order.setdefault(result.lab_order_id, []).append(result)
    found = []
    for order_id, released in sorted(by_order.items()):
        order = connection.execute(select(LabOrder.patient_id, LabOrder.test_code, LabOrder.test_name)
                                   .where(LabOrder.id == order_id)).one()
        found.append(Event("lab.result_released", "lab_order", order_id, {
            "lab_order_id": order_id, "patient_id": order.patient_id, "test_code": order.test_code,
            "test_name": order.test_name,
            "results": [{"lab_result_id": r.id, "analyte": r.analyte, "value": r.value, "unit": r.unit,
                         "reference_range": r.reference_range, "flag": r.flag, "status": r.status,
                         "released_at": r.released_at} for r in sorted(released, key=lambda r: r.id)]}))
    return found


def _prescription_payload(connection: Connection, prescription_id: int) -> dict[str, Any]:
    """The prescription as the flush left it, with each item's prescribed and dispensed units."""
    row = connection.execute(select(Prescription.patient_id, Prescription.doctor_id, Prescription.encounter_id,
                                    Prescription.status, Prescription.issued_at, Prescription.dispensed_at)
                             .where(Prescription.id == prescription_id)).one()
    items = connection.execute(select(PrescriptionItem.id, PrescriptionItem.medicine_id, PrescriptionItem.quantity,
                                      PrescriptionItem.dispensed_quantity)
                               .where(PrescriptionItem.prescription_id == prescription_id)
                               .order_by(PrescriptionItem.id)).all()
    return {"prescription_id": prescription_id, "patient_id": row.patient_id, "doctor_id": row.doctor_id,
            "encounter_id": row.encounter_id, "status": row.status, "issued_at": row.issued_at,
            "dispensed_at": row.dispensed_at,
            "items": [{"item_id": i.id, "medicine_id": i.medicine_id, "quantity": i.quantity,
                       "dispensed_quantity": i.dispensed_quantity} for i in items]}


def _prescription_events(connection: Connection, obj: Prescription, dispensed: set[int]) -> list[Event]:
    """``prescription.issued`` when it goes to the pharmacy; a status moving on to (partly)
    dispensed counts as a dispense (``dispensed``), as does any item's dispensed units growing
    (a second partial dispense leaves the status as it was)."""
    changed, old, status = _history(obj, "status")
    if not (changed and status != old and status in _PRESCRIPTION_STATUS_EVENTS):
        return []
    if old in _PRESCRIPTION_PROGRESS and _PRESCRIPTION_PROGRESS.index(status) < _PRESCRIPTION_PROGRESS.index(old):
        return []  # units returned: not issued or dispensed again
    if status == "issued":
        return [Event("prescription.issued", "prescription", obj.id, _prescription_payload(connection, obj.id))]
    dispensed.add(obj.id)
    return []


def _dispensed_units(obj: PrescriptionItem, dispensed: set[int]) -> None:
    changed, before, after = _history(obj, "dispensed_quantity")
    if changed and after is not None and int(after) > int(before or 0):
        dispensed.add(obj.prescription_id)


def _money(value: Any) -> str:
    """An amount as the invoice's columns hold it (two decimals), whatever Python last assigned."""
    return f"{Decimal(value or 0):.2f}"


def _invoice_payload(obj: Invoice) -> dict[str, Any]:
    return {"invoice_id": obj.id, "number": obj.number, "patient_id": obj.patient_id,
            "appointment_id": obj.appointment_id, "status": obj.status, "currency": obj.currency,
            "total": _money(obj.total), "amount_paid": _money(obj.amount_paid),
            "amount_refunded": _money(obj.amount_refunded), "issued_at": obj.issued_at}


def _invoice_events(obj: Invoice) -> list[Event]:
    found = []
    changed, old, status = _history(obj, "status")
    if changed and status != old and status in _INVOICE_STATUS_EVENTS:
        found.append(Event(_INVOICE_STATUS_EVENTS[status], "invoice", obj.id, _invoice_payload(obj)))
    changed, before, after = _history(obj, "amount_refunded")
    if changed and after is not None and Decimal(after) > Decimal(before or 0):
        found.append(Event("invoice.refunded", "invoice", obj.id,
                           {**_invoice_payload(obj), "refunded_now": _money(Decimal(after) - Decimal(before or 0))}))
    return found


def _patient_events(obj: Patient, new: bool) -> list[Event]:
    if new:
        return [Event("patient.registered", "patient", obj.id, {"patient_id": obj.id, "code": obj.code})]
    state: Any = inspect(obj)
    fields = sorted(attr.key for attr in state.attrs
                    if attr.key not in _PATIENT_QUIET and attr.key in Patient.__table__.c
                    and attr.history.has_changes())
    if not fields:
        return []
    return [Event("patient.updated", "patient", obj.id, {"patient_id": obj.id, "code": obj.code, "fields": fields})]


def _clinic_today() -> date:
    """The clinic's date now (its time zone from the app's configuration; UTC outside an app)."""
    if not has_app_context():
        return utcnow().date()
    return ClinicSettings.from_config(current_app.config).today()


def _stock_low_events(connection: Connection, movements: list[StockMovement]) -> list[Event]:
    """``stock.low`` when this flush's movements took a medicine's usable stock from at or above
    its reorder level to below it (once per crossing, not on every later dispense). Usable: in
    batches not past their expiry date (the clinic's today, as dispensing counts it)."""
    moved: dict[int, int] = {}
    for movement in movements:
        moved[movement.medicine_id] = moved.get(movement.medicine_id, 0) + movement.quantity
    today = _clinic_today()
    found = []
    for medicine_id, delta in sorted(moved.items()):
        if delta >= 0:
            continue
        usable = case((StockBatch.expiry_date > today, StockBatch.quantity), else_=0)
        row = connection.execute(
            select(Medicine.code, Medicine.name, Medicine.reorder_level, func.coalesce(func.sum(usable), 0))
            .outerjoin(StockBatch, StockBatch.medicine_id == Medicine.id)
            .where(Medicine.id == medicine_id).group_by(Medicine.id, Medicine.code, Medicine.name,
                                                        Medicine.reorder_level)).one_or_none()
        if row is None:
            continue
        code, name, level, on_hand = row[0], row[1], int(row[2]), int(row[3])
        if on_hand < level <= on_hand - delta:
            found.append(Event("stock.low", "medicine", medicine_id, {
                "medicine_id": medicine_id, "code": code, "name": name, "on_hand": on_hand, "reorder_level": level}))
    return found


def _events_of_flush(session: Session) -> list[Event]:
    connection = session.connection()
    found: list[Event] = []
    released: list[LabResult] = []
    movements: list[StockMovement] = []
    dispensed: set[int] = set()
    for objects, new in ((session.new, True), (session.dirty, False)):
        for obj in objects:
            if isinstance(obj, Appointment):
                found += _appointment_events(obj, new)
            elif isinstance(obj, Patient):
                found += _patient_events(obj, new)
            elif isinstance(obj, LabOrder):
                found += _lab_order_events(obj, new)
            elif isinstance(obj, EncounterAmendment) and new:  # an amendment is written once, never changed
                found += _amendment_events(connection, obj)
            elif isinstance(obj, StockMovement) and new:  # a ledger row, never changed
                movements.append(obj)
            elif isinstance(obj, PrescriptionItem) and not new:  # units dispensed grow on an existing item
                _dispensed_units(obj, dispensed)
            elif isinstance(obj, Invoice | Prescription | Encounter | LabResult):
                found += _changes(connection, obj, released, dispensed)
    found += _released_results(connection, released)
    found += [Event("prescription.dispensed", "prescription", prescription_id,
                    _prescription_payload(connection, prescription_id)) for prescription_id in sorted(dispensed)]
    found += _stock_low_events(connection, movements)
    return found


def _changes(connection: Connection, obj: Any, released: list[LabResult], dispensed: set[int]) -> list[Event]:
    """Events of a row read by the change of a column (new or updated alike)."""
    if isinstance(obj, Invoice):
        return _invoice_events(obj)
    if isinstance(obj, Prescription):
        return _prescription_events(connection, obj, dispensed)
    if isinstance(obj, Encounter):
        return _encounter_events(obj)
    changed, old, at = _history(obj, "released_at")
    if changed and old is None and at is not None:
        released.append(obj)
    return []


def _merge_results(written: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Results released in a later flush join those already in the event."""
    results = sorted(written["results"] + jsonable(later["results"]), key=lambda r: r["lab_result_id"])
    return {**written, "results": results}


def _latest(written: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """The payload read after the later flush: it already holds what the earlier one wrote."""
    return jsonable(later)


# Events one action writes once per aggregate even when the action spans several flushes of its
# transaction (an autoflush in the middle of it, a ``before_commit`` hook's flush): a later flush's
# event of the same type and aggregate updates the payload of the one already written.
_ONE_PER_TRANSACTION = {"lab.result_released": _merge_results, "prescription.dispensed": _latest}
_WRITTEN = "outbox.written"


def _written_in_transaction(session: Session) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(type, aggregate id) -> (event id, payload) of the events of ``_ONE_PER_TRANSACTION`` this
    transaction wrote so far."""
    transaction = session.get_transaction()
    held = session.info.get(_WRITTEN)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_WRITTEN] = held
    return held[1]


def _merge_in_transaction(session: Session, events: list[Event]) -> list[Event]:
    """The events still to write; those of ``_ONE_PER_TRANSACTION`` already written by this
    transaction update that row instead."""
    if not any(item.type in _ONE_PER_TRANSACTION for item in events):
        return events
    written = _written_in_transaction(session)
    kept = []
    for item in events:
        key = (item.type, str(item.aggregate_id))
        if key not in written:
            kept.append(item)
            continue
        event_id, payload = written[key]
        payload = _ONE_PER_TRANSACTION[item.type](payload, item.payload)
        session.connection().execute(update(OutboxEvent.__table__).where(OutboxEvent.event_id == event_id)
                                     .values(payload=payload))
        written[key] = (event_id, payload)
    return kept


def _write(session: Session, flush_context: Any) -> None:
    """After the flush (new rows have their ids; new, dirty and the attribute history still say
    what the flush did: SQLAlchemy's documented after_flush state), on the flush's connection."""
    events = _merge_in_transaction(session, _events_of_flush(session))
    if events:
        news = {(e.aggregate_type, str(e.aggregate_id)) for e in events
                if e.type in ("appointment.booked", "patient.registered", "lab.ordered")}
        ids = record_all(session, events, new_aggregates=news)
        for item, event_id in zip(events, ids, strict=True):
            if item.type in _ONE_PER_TRANSACTION:
                _written_in_transaction(session)[(item.type, str(item.aggregate_id))] = \
                    (event_id, jsonable(item.payload))


def register(db: Any) -> None:
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_flush", _write):
        event.listen(session_class, "after_flush", _write)


# --- events of time, not of a change ---------------------------------------------------------------


def announce_expiring_batches(session: Session, today: date, window_days: int) -> int:
    """``stock.batch_expiring`` once for each batch with stock left whose expiry date falls within
    ``window_days`` of ``today`` (the pharmacy's expiry window). Run by a periodic job; a batch
    already announced is not announced again. Returns how many were announced; the caller commits."""
    announced = select(OutboxEvent.aggregate_id).where(OutboxEvent.aggregate_type == "stock_batch",
                                                       OutboxEvent.type == "stock.batch_expiring")
    rows = session.execute(
        select(StockBatch.id, StockBatch.medicine_id, StockBatch.lot_number, StockBatch.expiry_date,
               StockBatch.quantity, Medicine.code)
        .join(Medicine, Medicine.id == StockBatch.medicine_id)
        .where(StockBatch.quantity > 0, StockBatch.expiry_date <= today + timedelta(days=window_days),
               StockBatch.expiry_date > today,
               ~func.cast(StockBatch.id, OutboxEvent.aggregate_id.type).in_(announced))
        .order_by(StockBatch.expiry_date, StockBatch.id)).all()
    record_all(session, [Event("stock.batch_expiring", "stock_batch", r.id, {
        "batch_id": r.id, "medicine_id": r.medicine_id, "medicine_code": r.code, "lot_number": r.lot_number,
        "expiry_date": r.expiry_date, "quantity": r.quantity}) for r in rows])
    return len(rows)


__all__ = ["EVENT_TYPES", "Backlog", "Event", "announce_expiring_batches", "backlog", "events_for", "jsonable",
           "recent", "record", "record_all", "register"]
