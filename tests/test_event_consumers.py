"""The consumers (app/services/event_consumers): each applies an event once, deduplicated by its
id in ``consumed_event``; through the real RabbitMQ, the same message delivered twice has one effect."""
from __future__ import annotations

import csv
import json
import uuid

import pytest
import sqlalchemy as sa

from app.models import ConsumedEvent, LabBridgeOrder, OutboundMessage, Patient
from app.models.types import utcnow
from app.services.event_consumers import CONSUMERS
from app.services.event_consumers.accounting_export import AccountingExport, append_once, export_path
from app.services.event_consumers.base import APPLIED, DUPLICATE, IGNORED, ConsumeSettings, consume, handle
from app.services.event_consumers.lab_bridge import LabBridge
from app.services.event_consumers.notifications_bridge import NotificationsBridge
from tests.events_helpers import broker  # noqa: F401  (fixture)


def _event(type_: str, aggregate_type: str, aggregate_id: int, payload: dict, sequence: int = 1) -> dict:
    return {"event_id": str(uuid.uuid4()), "type": type_, "aggregate_type": aggregate_type,
            "aggregate_id": str(aggregate_id), "sequence": sequence, "occurred_at": utcnow().isoformat(),
            "payload_version": 1, "payload": payload}


def _patient(db, phone: str | None = "0912345678") -> Patient:
    patient = Patient(code=f"BN{uuid.uuid4().hex[:6]}", full_name="Nguyễn Văn An", phone=phone)
    db.session.add(patient)
    db.session.commit()
    return patient


def _count(db, model) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_every_consumer_is_listed():
    assert set(CONSUMERS) == {"lab-bridge", "accounting-export", "notifications-bridge"}


def test_consume_command_is_off_without_amqp_url(app):
    result = app.test_cli_runner().invoke(args=["events", "consume", "lab-bridge", "--once"])
    assert result.exit_code == 0 and "AMQP_URL is not set" in result.output
    unknown = app.test_cli_runner().invoke(args=["events", "consume", "nobody"])
    assert unknown.exit_code != 0 and "unknown consumer" in unknown.output


def test_lab_bridge_queues_then_cancels_once(app, db):
    patient = _patient(db)
    consumer = LabBridge(app.config)
    ordered = _event("lab.ordered", "lab_order", 41, {"lab_order_id": 41, "test_code": "GLU",
                                                      "patient_id": patient.id})
    assert handle(db.session, consumer, ordered) == APPLIED
    assert handle(db.session, consumer, ordered) == DUPLICATE
    row = db.session.scalar(sa.select(LabBridgeOrder))
    assert (row.lab_order_id, row.test_code, row.patient_code, row.status) == (41, "GLU", patient.code, "queued")
    cancelled = _event("lab.cancelled", "lab_order", 41, {"lab_order_id": 41, "test_code": "GLU",
                                                          "patient_id": patient.id}, sequence=2)
    assert handle(db.session, consumer, cancelled) == APPLIED
    assert handle(db.session, consumer, ordered) == DUPLICATE  # a late duplicate does not revive it
    db.session.rollback()
    assert [r.status for r in db.session.scalars(sa.select(LabBridgeOrder))] == ["cancelled"]
    assert _count(db, ConsumedEvent) == 2
    assert handle(db.session, consumer, _event("invoice.paid", "invoice", 1, {})) == IGNORED


def test_a_failing_effect_leaves_no_dedupe_row(app, db):
    consumer = LabBridge(app.config)
    broken = _event("lab.ordered", "lab_order", 7, {"lab_order_id": 7, "test_code": "X" * 31})
    broken["payload"]["test_code"] = None
    broken["payload"]["lab_order_id"] = "not a number"
    with pytest.raises(ValueError):
        handle(db.session, consumer, broken)
    assert _count(db, ConsumedEvent) == 0  # delivered again later, applied then


def test_accounting_export_writes_each_payment_once_even_after_a_crash(app, db, tmp_path):
    consumer = AccountingExport({**app.config, "ACCOUNTING_EXPORT_DIR": str(tmp_path)})
    paid = _event("invoice.paid", "invoice", 5, {"invoice_id": 5, "number": "HD-0005", "patient_id": 3,
                                                 "currency": "VND", "total": "150000.00", "amount_paid": "150000.00",
                                                 "amount_refunded": "0.00"})
    # A crash after the file was written and before the commit: the row is in the file, not the database.
    append_once(tmp_path, paid, {})
    assert handle(db.session, consumer, paid) == APPLIED  # the redelivery: committed, not written again
    assert handle(db.session, consumer, paid) == DUPLICATE
    refunded = _event("invoice.refunded", "invoice", 5, {"invoice_id": 5, "refunded_now": "50000.00"}, 2)
    assert handle(db.session, consumer, refunded) == APPLIED
    with open(export_path(tmp_path, paid), newline="", encoding="utf-8") as handle_:
        rows = list(csv.DictReader(handle_))
    assert [(r["event_id"], r["type"]) for r in rows] == [(paid["event_id"], "invoice.paid"),
                                                          (refunded["event_id"], "invoice.refunded")]
    assert rows[0]["number"] == "HD-0005" and rows[0]["amount_paid"] == "150000.00"
    assert rows[1]["refunded_now"] == "50000.00"
    assert export_path(tmp_path, paid).name == f"accounting-{utcnow().date().isoformat()}.csv"


def test_notifications_bridge_queues_one_sms_per_event(app, db, clinic):
    appointment, patient = clinic.appointment, clinic.patient
    db.session.execute(sa.delete(OutboundMessage))  # the booking's own notices (in-process)
    db.session.commit()
    consumer = NotificationsBridge({**app.config, "SMS_DEFAULT_ON": True, "MESSAGE_CHANNELS": "email,sms,zalo"})
    booked = _event("appointment.booked", "appointment", appointment, {
        "appointment_id": appointment, "patient_id": patient, "start_at": utcnow().isoformat(), "status": "booked"})
    assert handle(db.session, consumer, booked) == APPLIED
    assert handle(db.session, consumer, booked) == DUPLICATE
    db.session.rollback()
    messages = list(db.session.scalars(sa.select(OutboundMessage)))
    assert [(m.channel, m.kind, m.recipient, m.appointment_id) for m in messages] == [
        ("sms", "appointment_booked", "+84912345678", appointment)]
    assert messages[0].dedupe_key == f"event:{booked['event_id']}:sms"
    gone = _event("appointment.cancelled", "appointment", 999, {"appointment_id": 999, "patient_id": patient})
    assert handle(db.session, consumer, gone) == APPLIED  # applied: nothing to send
    assert _count(db, OutboundMessage) == 1


@pytest.mark.needs_rabbitmq
def test_the_same_message_delivered_twice_through_rabbitmq_has_one_effect(app, db, broker):  # noqa: F811
    consumer = LabBridge(app.config)
    settings = ConsumeSettings(url=broker.url, exchange=broker.exchange, queue_prefix=broker.prefix, prefetch=10)
    broker.bind(consumer.name, *consumer.routing_keys)
    events = [_event("lab.ordered", "lab_order", n, {"lab_order_id": n, "test_code": "HBA1C"}) for n in (1, 2, 3)]
    for event in events + events[:2]:  # the relay published 1 and 2 twice (killed before marking them sent)
        broker.publish(event["type"], json.dumps(event).encode(), event["event_id"])
    broker.publish("lab.ordered", b"not json at all", "x")
    result = consume(db.session, consumer, settings, idle_timeout=0.3)
    assert (result.applied, result.duplicates, result.failed) == (3, 2, 1)
    assert _count(db, LabBridgeOrder) == 3 and _count(db, ConsumedEvent) == 3
    # Every message was acked: the queue is empty.
    assert consume(db.session, consumer, settings, idle_timeout=0.2).messages == 0


@pytest.mark.needs_rabbitmq
def test_a_failing_message_in_a_batch_goes_back_and_the_others_are_applied(app, db, broker):  # noqa: F811
    consumer = LabBridge(app.config)
    settings = ConsumeSettings(url=broker.url, exchange=broker.exchange, queue_prefix=broker.prefix, prefetch=10)
    broker.bind(consumer.name, *consumer.routing_keys)
    good = [_event("lab.ordered", "lab_order", n, {"lab_order_id": n, "test_code": "CBC"}) for n in (1, 2)]
    bad = _event("lab.ordered", "lab_order", 3, {"lab_order_id": "three", "test_code": "CBC"})
    for event in (good[0], bad, good[1]):
        broker.publish(event["type"], json.dumps(event).encode(), event["event_id"])
    result = consume(db.session, consumer, settings, max_messages=3)
    assert (result.applied, result.failed) == (2, 1)
    assert sorted(db.session.scalars(sa.select(LabBridgeOrder.lab_order_id))) == [1, 2]
    assert _count(db, ConsumedEvent) == 2  # the failed one left no dedupe row: it is back in the queue


@pytest.mark.needs_rabbitmq
def test_consume_command_runs_once(app, db, broker):  # noqa: F811
    broker.bind("lab-bridge", *LabBridge.routing_keys)
    event = _event("lab.cancelled", "lab_order", 12, {"lab_order_id": 12, "test_code": "CBC"})
    broker.publish(event["type"], json.dumps(event).encode(), event["event_id"])
    app.config.update(broker.config())
    try:
        result = app.test_cli_runner().invoke(args=["events", "consume", "lab-bridge", "--idle-timeout", "0.3",
                                                    "--max-messages", "5"])
    finally:
        app.config.update(AMQP_URL=None, AMQP_EXCHANGE="clinic.events", AMQP_QUEUE_PREFIX="clinic.")
    assert result.exit_code == 0, result.output
    assert "lab-bridge: applied 1, duplicates 0" in result.output
    assert [r.status for r in db.session.scalars(sa.select(LabBridgeOrder))] == ["cancelled"]
