"""Domain events end to end (PostgreSQL and the local RabbitMQ): visits booked, invoiced and paid
through the services the desk and the counter call (book_appointment, billing, payments), on a
database built with the migrations, write their events through the outbox; the relay
(app/services/event_relay.py) publishes them with publisher confirms, and a consumer
(app/services/event_consumers/base.py: dedupe row and effect in one transaction, ack after the
commit) applies them. The writer, the relays and the consumer run at the same time, the last two in
processes of their own; a scratch database and a scratch exchange and queue are
created and dropped.

    .venv/bin/python bench/events.py --quick                # 300 visits through the services: 1,100 events
    .venv/bin/python bench/events.py                        # 33,000 visits: 100,000 events (hours on 2 cores)
    .venv/bin/python bench/events.py --writer orm [--quick] # the same events straight through the ORM

Each visit writes three events: appointment.booked (the booking statement), invoice.issued and
invoice.paid (the invoice issued, then paid in cash in full); patients registered beforehand add theirs.
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
import time
import uuid
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask_appbuilder import Model  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

import app  # noqa: E402,F401
import app.models  # noqa: E402,F401
from app.models import Appointment, Doctor, Invoice, OutboxEvent, Patient, Service, WorkSchedule  # noqa: E402
from app.models.types import utcnow  # noqa: E402
from app.services import event_relay, outbox  # noqa: E402
from app.services.billing_settings import BillingSettings  # noqa: E402
from app.services.event_consumers.base import Consumer, ConsumeSettings, consume  # noqa: E402
from app.services.settings import BookingPolicy, ClinicSettings  # noqa: E402
from bench import fhir_search  # noqa: E402
from bench.helpers import release_database  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DOCTORS = 20
VISITS_PER_COMMIT = 20  # --writer orm
SLOTS_PER_DAY = 71  # 20-minute visits from 00:00, the last ending 23:40 (the bench's doctors work 00:00-23:59)
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# Staff booking on a 20-minute grid up to ten years ahead (the bench's visits fill the doctors' days).
SETTINGS = ClinicSettings(timezone=ZONE, booking=BookingPolicy(slot_minutes=20, horizon=timedelta(days=3650)))
BILLING = BillingSettings(email_on_issue=False, email_on_payment=False,
                          vat_rates={"service": Decimal(0), "lab": Decimal(0), "medicine": Decimal(0),
                                     "other": Decimal(0)})

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
    """A service, DOCTORS doctors who offer it and work every day from 00:00 to 23:59, and the patients."""
    doctors = [Doctor(full_name=f"Doctor {i:02d}", consultation_fee=0, years_of_experience=0, active=True)
               for i in range(DOCTORS)]
    service = Service(code="BENCH", name="Bench consultation", price=Decimal(150000), duration_minutes=20,
                      active=True, doctors=doctors)
    session.add(service)
    session.flush()
    session.add_all(WorkSchedule(doctor_id=d.id, weekday=weekday, start_time=dtime(0, 0), end_time=dtime(23, 59),
                                 valid_from=date(2020, 1, 1)) for d in doctors for weekday in range(7))
    people = [Patient(code=f"BP{i:07d}", full_name=f"Bench Patient {i}", search_text=f"bench patient {i}")
              for i in range(patients)]
    session.add_all(people)
    session.commit()  # patient.registered for each, through the listener
    return [d.id for d in doctors], service.id, [p.id for p in people]


def produce(app: Any, visits: int, doctor_ids: list[int], service_id: int, patient_ids: list[int]) -> None:
    """Visits as the desk and the counter make them, through the services: booked
    (``book_appointment``: appointment.booked), then an invoice drafted with its line, issued
    (invoice.issued) and paid in cash in full (invoice.paid), each step its own transaction."""
    from app.extensions import db
    from app.services import billing, payments
    from app.services.booking import book_appointment

    now = datetime.now(timezone.utc)
    first_day = (now.astimezone(ZONE) + timedelta(days=1)).date()
    with app.app_context():
        session = db.session
        for i in range(visits):
            doctor = doctor_ids[i % len(doctor_ids)]
            slot = i // len(doctor_ids)
            day, in_day = first_day + timedelta(days=slot // SLOTS_PER_DAY), slot % SLOTS_PER_DAY
            start = datetime.combine(day, dtime(0, 0), ZONE) + timedelta(minutes=20 * in_day)
            patient = patient_ids[i % len(patient_ids)]
            booked = book_appointment(session, patient_id=patient, doctor_id=doctor, service_id=service_id,
                                      start=start, settings=SETTINGS, channel="walk_in", now=now)
            draft = billing.new_draft(session, patient, None, now, BILLING, appointment_id=booked.id)
            session.commit()
            billing.add_line(session, draft.id, billing.LineInput(
                kind="other", description="Khám tổng quát", quantity=Decimal(1), unit_price=Decimal(150000),
                reason="bench"), None, now, BILLING, may_change_price=False)
            issued = billing.issue_invoice(session, draft.id, None, now, BILLING, now.year)
            payments.record_payment(session, issued.id, "cash", issued.total, None, now, billing=None)
            session.remove() if False else session.expunge_all()


def produce_orm(factory: sessionmaker, visits: int, doctor_ids: list[int], service_id: int,
                patient_ids: list[int]) -> None:
    """``--writer orm``: the same three events a visit written straight through the ORM, many visits a
    commit (the outbox's flush listener finds them as it does for every page and job): enough events
    a second to load the relay and the consumer, which the services alone do not on 2 cores."""
    start = datetime(2040, 1, 1, 0, 0, tzinfo=timezone.utc)
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


def build_app(url: str) -> Any:
    """The app on the scratch database, migrated (the booking's constraints and the audit chain's
    triggers come with the migrations), its session writing the outbox's events."""
    from flask_migrate import upgrade

    from app import create_app
    from config import Config

    flask_app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, LOG_LEVEL="WARNING", SCHEDULER_IN_PROCESS=False)
    with flask_app.app_context():
        upgrade()
    return flask_app


def run(url: str, visits: int, patients: int, batch: int, relays: int, writer: str = "services") -> None:
    from app.extensions import db

    engine = create_engine(url, pool_size=6)
    flask_app = build_app(url)
    tag = uuid.uuid4().hex[:8]
    relay_settings = event_relay.RelaySettings(url=AMQP_URL, exchange=f"bench.events.{tag}", batch_size=batch,
                                               idle_seconds=0.01)
    consume_settings = ConsumeSettings(url=AMQP_URL, exchange=relay_settings.exchange, queue_prefix=f"bench.{tag}.",
                                       prefetch=500)
    consumer = BenchConsumer({})
    handles_every_type(consumer)
    try:
        EFFECT.create(engine)
        with flask_app.app_context():
            doctor_ids, service_id, patient_ids = setup(db.session, patients)
        # The consumer's queue exists before the first event is published.
        connection = event_relay.connect(AMQP_URL)
        from app.services.event_consumers.base import declare
        declare(connection.channel(), consumer, consume_settings)
        connection.close()

        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        sent, consumed = context.Value("q", 0), context.Array("q", 3)
        relayers = [context.Process(target=relay_process, args=(url, relay_settings, stop, sent))
                    for _ in range(relays)]
        reader = context.Process(target=consumer_process, args=(url, consume_settings, consumed))
        for process in (*relayers, reader):
            process.start()
        time.sleep(3.0)  # both processes started (imports) before the first write
        started = time.perf_counter()
        if writer == "orm":
            factory = sessionmaker(engine, expire_on_commit=False)
            event.listen(factory.class_, "after_flush", outbox._write)  # as outbox.register does for the app
            produce_orm(factory, visits, doctor_ids, service_id, patient_ids)
        else:
            produce(flask_app, visits, doctor_ids, service_id, patient_ids)
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
        release_database(flask_app)
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
    parser.add_argument("--writer", choices=("services", "orm"), default="services",
                        help="services: visits booked, invoiced and paid through the services (about 4 a second "
                             "here); orm: the same events written straight through the ORM, many a commit")
    args = parser.parse_args()
    visits = 33_000 if not args.quick else (300 if args.writer == "services" else 1_600)
    patients = 200 if args.quick else 1_000
    started = time.perf_counter()
    with scratch_postgres(args.postgres) as url:
        run(url, visits, patients, args.batch, args.relays, args.writer)
    if not args.skip_fhir:  # the FHIR API's patient search at size, on a database of its own
        with scratch_postgres(args.postgres) as url:
            fhir_search.run(url, 10_000 if args.quick else 100_000, 100 if args.quick else 400)
    print(f"total_seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
