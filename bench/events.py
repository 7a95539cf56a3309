"""Domain events end to end (PostgreSQL and the local RabbitMQ): bookings and payments write their
events through the outbox (the ORM's after_flush listener of app/services/outbox.py, the path every
page, API call and job goes through), the relay (app/services/event_relay.py) publishes them with
publisher confirms, and a consumer (app/services/event_consumers/base.py: dedupe row and effect in
one transaction, ack after the commit) applies them. The three run at the same time, each in its
own thread with its own connection; a scratch database and a scratch exchange and queue are
created and dropped.

    .venv/bin/python bench/events.py --quick     # about 5,000 events
    .venv/bin/python bench/events.py             # about 100,000 events

Each visit writes three events: appointment.booked (the booking's flush), invoice.issued and
invoice.paid (the invoice issued, then paid in full); patients registered beforehand add theirs.
Prints `name: value` lines: events_per_s (events written, published and applied, over the time from
the first write to the last apply), lost (expected 0: events in the outbox never applied), applied_twice
(expected 0: events whose effect is there more than once), max_lag_ms (the longest time from an
event's commit to its apply), plus context lines; then `fhir_patient_search_ms_p95` (and p50): the
FHIR API's `Patient?name=` over 100,000 patients (--quick: 10,000), bench/fhir_search.py.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask_appbuilder import Model  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

import app  # noqa: E402,F401
import app.models  # noqa: E402,F401
from app.models import Appointment, Doctor, Invoice, OutboxEvent, Patient, Service  # noqa: E402
from app.models.types import utcnow  # noqa: E402
from app.services import event_relay, outbox  # noqa: E402
from app.services.event_consumers.base import Consumer, ConsumeSettings, consume  # noqa: E402
from bench import fhir_search  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
VISITS_PER_COMMIT = 20  # a front desk's commits are one visit each; batches keep the writer ahead of nothing
DOCTORS = 20

EFFECT = sa.Table("bench_effect", Model.metadata,
                  sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
                  sa.Column("event_id", sa.String(36), nullable=False),
                  sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False))


class BenchConsumer(Consumer):
    """Every event; its effect is one row in ``bench_effect`` (no unique key: a second apply shows)."""
    name = "bench"
    routing_keys = ("#",)

    def apply(self, session: Session, event_: dict[str, Any]) -> None:
        session.execute(sa.insert(EFFECT).values(event_id=event_["event_id"], applied_at=utcnow()))


def handles_every_type(consumer: Consumer) -> None:
    """``handle`` checks the event's type against the routing keys: ``#`` stands for all of them."""
    type(consumer).routing_keys = ("#", *outbox.EVENT_TYPES)


def setup(session: Session, patients: int) -> tuple[list[int], int, list[int]]:
    service = Service(code="BENCH", name="Bench consultation", price=Decimal(150000), duration_minutes=20,
                      active=True)
    session.add(service)
    doctors = [Doctor(full_name=f"Doctor {i:02d}", consultation_fee=0, years_of_experience=0, active=True)
               for i in range(DOCTORS)]
    session.add_all(doctors)
    people = [Patient(code=f"BP{i:07d}", full_name=f"Bench Patient {i}", search_text=f"bench patient {i}")
              for i in range(patients)]
    session.add_all(people)
    session.commit()  # patient.registered for each, through the listener
    return [d.id for d in doctors], service.id, [p.id for p in people]


def produce(factory: sessionmaker, visits: int, doctor_ids: list[int], service_id: int, patient_ids: list[int],
            done: threading.Event) -> None:
    """Bookings, then their invoices issued and paid: the events come from the flushes."""
    start = datetime(2030, 1, 1, 0, 0, tzinfo=timezone.utc)
    try:
        with factory() as session:
            for first in range(0, visits, VISITS_PER_COMMIT):
                batch = range(first, min(first + VISITS_PER_COMMIT, visits))
                booked = [Appointment(patient_id=patient_ids[i % len(patient_ids)],
                                      doctor_id=doctor_ids[i % len(doctor_ids)], service_id=service_id,
                                      start_at=start + timedelta(minutes=20 * (i // len(doctor_ids))),
                                      end_at=start + timedelta(minutes=20 * (i // len(doctor_ids)) + 20),
                                      status="confirmed", channel="walk_in") for i in batch]
                session.add_all(booked)
                session.commit()  # appointment.booked
                invoices = [Invoice(patient_id=a.patient_id, appointment_id=a.id, status="issued", currency="VND",
                                    subtotal=Decimal(150000), total=Decimal(150000), number=f"HD-{a.id:08d}",
                                    issued_at=utcnow()) for a in booked]
                session.add_all(invoices)
                session.commit()  # invoice.issued
                for invoice in invoices:
                    invoice.amount_paid, invoice.status = invoice.total, "paid"
                session.commit()  # invoice.paid
    finally:
        done.set()


def relay_process(url: str, settings: event_relay.RelaySettings, stop: Any, sent: Any) -> None:
    """The relay in its own process, as ``flask events relay`` runs: drain, sleep when idle, stop
    once the writer is done and nothing is left."""
    engine = create_engine(url)
    publisher = event_relay.Publisher(settings)
    try:
        with Session(engine) as session:
            while True:
                finished = stop.is_set()
                count = event_relay.drain(session, publisher, settings)
                with sent.get_lock():
                    sent.value += count
                if finished and count == 0:
                    return
                if not count:
                    time.sleep(settings.idle_seconds)
    finally:
        publisher.close()
        engine.dispose()


def consumer_process(url: str, settings: ConsumeSettings, counts: Any) -> None:
    """The consumer in its own process, as ``flask events consume`` runs; stops after 3 s idle."""
    engine = create_engine(url)
    consumer = BenchConsumer({})
    handles_every_type(consumer)
    try:
        with Session(engine) as session:
            result = consume(session, consumer, settings, idle_timeout=3.0)
        counts[0], counts[1], counts[2] = result.applied, result.duplicates, result.failed
    finally:
        engine.dispose()


def run(url: str, visits: int, patients: int, batch: int, relays: int) -> None:
    engine = create_engine(url, pool_size=6)
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory.class_, "after_flush", outbox._write)  # as outbox.register does for the app's session
    tag = uuid.uuid4().hex[:8]
    relay_settings = event_relay.RelaySettings(url=AMQP_URL, exchange=f"bench.events.{tag}", batch_size=batch,
                                               idle_seconds=0.01)
    consume_settings = ConsumeSettings(url=AMQP_URL, exchange=relay_settings.exchange, queue_prefix=f"bench.{tag}.",
                                       prefetch=500)
    consumer = BenchConsumer({})
    handles_every_type(consumer)
    try:
        Model.metadata.create_all(engine)
        with factory() as session:
            doctor_ids, service_id, patient_ids = setup(session, patients)
        # The consumer's queue exists before the first event is published.
        connection = event_relay.connect(AMQP_URL)
        from app.services.event_consumers.base import declare
        declare(connection.channel(), consumer, consume_settings)
        connection.close()

        context = multiprocessing.get_context("spawn")
        produced, stop = threading.Event(), context.Event()
        sent, consumed = context.Value("q", 0), context.Array("q", 3)
        relayers = [context.Process(target=relay_process, args=(url, relay_settings, stop, sent))
                    for _ in range(relays)]
        reader = context.Process(target=consumer_process, args=(url, consume_settings, consumed))
        for process in (*relayers, reader):
            process.start()
        time.sleep(3.0)  # both processes started (imports) before the first write
        started = time.perf_counter()
        produce(factory, visits, doctor_ids, service_id, patient_ids, produced)
        write_seconds = time.perf_counter() - started
        stop.set()
        for process in relayers:
            process.join()
        relay_seconds = time.perf_counter() - started
        reader.join()
        counts = {"sent": sent.value}
        result = tuple(consumed)
        with engine.connect() as conn:
            last_apply = conn.scalar(text("SELECT max(applied_at) FROM bench_effect"))
            first_write = conn.scalar(sa.select(sa.func.min(OutboxEvent.occurred_at))
                                      .where(OutboxEvent.aggregate_type != "patient"))
            total = conn.scalar(sa.select(sa.func.count()).select_from(OutboxEvent))
            pending = conn.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)
                                  .where(OutboxEvent.sent_at.is_(None)))
            lost = conn.scalar(text("SELECT count(*) FROM outbox o WHERE NOT EXISTS "
                                    "(SELECT 1 FROM bench_effect e WHERE e.event_id = o.event_id)"))
            twice = conn.scalar(text("SELECT count(*) FROM (SELECT event_id FROM bench_effect GROUP BY event_id "
                                     "HAVING count(*) > 1) t"))
            lag = conn.scalar(text("SELECT max(extract(epoch FROM e.applied_at - o.occurred_at)) * 1000 "
                                   "FROM outbox o "
                                   "JOIN bench_effect e ON e.event_id = o.event_id "
                                   "WHERE o.aggregate_type <> 'patient'"))
            out_of_order = conn.scalar(text(
                "SELECT count(*) FROM (SELECT o.aggregate_type, o.aggregate_id, o.sequence, "
                "min(e.id) AS first_apply, lag(min(e.id)) OVER (PARTITION BY o.aggregate_type, o.aggregate_id "
                "ORDER BY o.sequence) AS previous FROM outbox o JOIN bench_effect e ON e.event_id = o.event_id "
                "GROUP BY o.aggregate_type, o.aggregate_id, o.sequence) t WHERE previous > first_apply"))
        visit_events = total - patients
        span = (last_apply - first_write).total_seconds() if last_apply and first_write else float("nan")
        print(f"events: {total} ({visit_events} from {visits} visits, {patients} patient.registered)")
        print(f"write_seconds: {write_seconds:.1f}")
        print(f"relay_done_seconds: {relay_seconds:.1f}")
        print(f"relay_sent: {counts.get('sent', 0)} by {relays} relay processes (pending after: {pending})")
        print(f"consumer: applied {result[0]}, duplicates {result[1]}, failed {result[2]}")
        print(f"events_per_s: {visit_events / span:.0f}")
        print(f"lost: {lost}")
        print(f"applied_twice: {twice}")
        print(f"out_of_order: {out_of_order}")
        print(f"max_lag_ms: {lag:.0f}")
    finally:
        try:
            connection = event_relay.connect(AMQP_URL)
            channel = connection.channel()
            channel.queue_delete(queue=consume_settings.queue_prefix + consumer.name)
            channel.exchange_delete(exchange=relay_settings.exchange)
            connection.close()
        except Exception as exc:  # noqa: BLE001 - cleanup
            print(f"cleanup_error: {exc!r}")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 5,000 events instead of 100,000")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server URL; a scratch database is used there")
    parser.add_argument("--batch", type=int, default=200, help="the relay's batch size (RELAY_BATCH_SIZE)")
    parser.add_argument("--relays", type=int, default=2,
                        help="relay processes at once (FOR UPDATE SKIP LOCKED shares the work)")
    parser.add_argument("--skip-fhir", action="store_true", help="leave out the FHIR patient search phase")
    args = parser.parse_args()
    visits, patients = (1_600, 200) if args.quick else (33_000, 1_000)
    started = time.perf_counter()
    with scratch_postgres(args.postgres) as url:
        run(url, visits, patients, args.batch, args.relays)
    if not args.skip_fhir:  # the FHIR API's patient search at size, on a database of its own
        with scratch_postgres(args.postgres) as url:
            fhir_search.run(url, 10_000 if args.quick else 100_000, 100 if args.quick else 400)
    print(f"total_seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
