"""Domain events are written in the same transaction as the change that caused them
(app/services/outbox.py): a committed change has its event, numbered per aggregate in order; a
rolled-back change has none; two changes of one record at the same moment meet at the sequence."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.factories import START


def _events(db, aggregate_type: str, aggregate_id) -> list[tuple[int, str]]:
    from app.services import outbox

    db.session.rollback()
    return [(e.sequence, e.type) for e in outbox.events_for(db.session, aggregate_type, aggregate_id)]


def _settings(app):
    from app.services.settings import ClinicSettings

    return ClinicSettings.from_config(app.config)


def _book(app, db, clinic, start=None):
    from app.services import booking

    with app.test_request_context():
        made = booking.book_appointment(db.session, patient_id=clinic.patient, doctor_id=clinic.doctor,
                                        service_id=clinic.service, start=start or datetime.fromisoformat(START),
                                        settings=_settings(app), actor_id=clinic.user_id, channel="phone")
    return made.id


def test_a_booking_and_each_step_of_its_day_are_events_in_order(app, db, clinic):
    from app.services import booking, front_desk, outbox

    appointment = _book(app, db, clinic)
    first = outbox.events_for(db.session, "appointment", appointment)[0]
    assert first.payload["patient_id"] == clinic.patient and first.payload["doctor_id"] == clinic.doctor
    assert first.payload["start_at"] == datetime.fromisoformat(START).astimezone(timezone.utc).isoformat()
    assert first.payload["status"] == "confirmed" and first.payload["end_at"]
    assert len(first.event_id) == 36 and first.payload_version == 1 and first.sent_at is None
    settings = _settings(app)
    later = datetime.fromisoformat(START) + timedelta(hours=2)
    with app.test_request_context():
        booking.reschedule_appointment(db.session, appointment, later, actor_id=clinic.user_id, settings=settings)
        front_desk.check_in(db.session, appointment, clinic.user_id, later - timedelta(minutes=10), settings=settings)
    assert _events(db, "appointment", appointment) == [
        (1, "appointment.booked"), (2, "appointment.moved"), (3, "appointment.checked_in")]
    moved = outbox.events_for(db.session, "appointment", appointment)[1]
    assert moved.payload["start_at"] == later.astimezone(timezone.utc).isoformat()


def test_a_cancellation_carries_the_status_it_left(app, db, clinic):
    from app.services import booking, outbox

    appointment = _book(app, db, clinic)
    with app.test_request_context():
        booking.transition_appointment(db.session, appointment, "cancelled", actor_id=clinic.user_id,
                                       settings=_settings(app), reason="Bệnh nhân bận")
    last = outbox.events_for(db.session, "appointment", appointment)[-1]
    assert (last.sequence, last.type, last.payload["previous_status"]) == (2, "appointment.cancelled", "confirmed")
    assert "Bệnh nhân bận" not in str(last.payload)  # the reason is free text: not in the event


def test_a_refused_booking_and_a_rolled_back_change_leave_no_event(app, db, clinic):
    from app.models import OutboxEvent, Patient
    from app.services.errors import Conflict

    _book(app, db, clinic)
    before = db.session.query(OutboxEvent).count()
    with pytest.raises(Conflict):
        _book(app, db, clinic)  # the same time: taken
    db.session.add(Patient(full_name="Lê Thị Hoa", code="BN-ROLLBACK"))
    db.session.flush()  # the event row is written with the flush ...
    assert db.session.query(OutboxEvent).count() == before + 1
    db.session.rollback()  # ... and goes with the transaction
    assert db.session.query(OutboxEvent).count() == before


def test_a_patient_registered_then_updated_names_the_fields_not_their_values(app, db, clinic):
    from app.models import Patient
    from app.services import outbox

    patient = clinic.patient
    row = db.session.get(Patient, patient)
    row.phone, row.allergies = "0987 654 321", "Penicillin"
    db.session.commit()
    events = outbox.events_for(db.session, "patient", patient)
    assert [(e.sequence, e.type) for e in events] == [(1, "patient.registered"), (2, "patient.updated")]
    assert events[1].payload["fields"] == ["allergies", "phone"]
    assert "Penicillin" not in str(events[1].payload) and "0987" not in str(events[1].payload)
    assert events[0].payload == {"patient_id": patient, "code": row.code}


def test_an_invoice_issued_paid_and_refunded(app, db, clinic):
    from app.services import outbox, payments
    from app.services.billing_settings import BillingSettings

    invoice = clinic.invoice
    payment = clinic.pay(invoice, 300000)
    with app.app_context():
        payments.refund_payment(db.session, payment, Decimal(100000), "Trả lại tiền xét nghiệm", None,
                                datetime.now(timezone.utc), BillingSettings.from_config(app.config))
    events = outbox.events_for(db.session, "invoice", invoice)
    assert [e.type for e in events] == ["invoice.issued", "invoice.paid", "invoice.refunded"]
    assert [e.sequence for e in events] == [1, 2, 3]
    paid, refunded = events[1].payload, events[2].payload
    assert (paid["total"], paid["amount_paid"], paid["currency"]) == ("300000.00", "300000.00", "VND")
    assert paid["number"] and refunded["refunded_now"] == "100000.00"


def test_two_changes_of_one_record_at_the_same_moment_meet_at_the_sequence(app, db, clinic):
    """The second transaction numbered its event from what it saw: the same number as the first's.
    The unique constraint refuses it, with the conflict message a receptionist understands."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from app.models import OutboxEvent
    from app.services import outbox
    from app.services.errors import Conflict, from_database_error

    patient = clinic.patient
    outbox.record(db.session, "patient.updated", "patient", patient, {"patient_id": patient, "fields": ["phone"]})
    db.session.commit()
    with pytest.raises(IntegrityError) as raised:
        # As a second transaction that read the sequence before the first committed.
        db.session.connection().execute(insert(OutboxEvent.__table__),
            {"event_id": "0" * 36, "type": "patient.updated", "aggregate_type": "patient",
             "aggregate_id": str(patient), "sequence": 2, "occurred_at": datetime.now(timezone.utc),
             "payload": {}, "payload_version": 1, "attempts": 0})
    error = from_database_error(raised.value)
    db.session.rollback()
    assert isinstance(error, Conflict) and "same moment" in str(error.message)


def test_an_unknown_event_type_is_a_programming_error(db):
    from app.services import outbox

    with pytest.raises(ValueError):
        outbox.record(db.session, "appointment.teleported", "appointment", 1, {})
