"""The relay: pending outbox rows to RabbitMQ (issue 17, item 2), at least once and in order per aggregate.

Each pass claims a batch, publishes it to the durable topic exchange ``clinic.events`` (routing key:
the event type; persistent messages) with publisher confirms, and only after the broker confirmed
a message marks its row sent. A relay killed between the confirm and the commit publishes those rows
again after restart: consumers deduplicate by ``event_id`` (the message id).

Order per aggregate: a pass claims only the head of each aggregate's pending chain (a pending row
with no earlier pending row of the same aggregate). The next event of an aggregate becomes
claimable once its predecessor is marked sent, so it is published after it; a row waiting for its
backoff holds back the rest of its aggregate. On PostgreSQL the claim is ``SELECT ... FOR UPDATE
SKIP LOCKED`` in a short transaction held while the batch is published: several relays may run,
each taking other aggregates' heads. SQLite has no row locks: run one relay there.

Failures: the row that failed gets ``attempts`` + 1, ``next_attempt_at`` after an exponential
backoff (capped by ``RELAY_MAX_BACKOFF_SECONDS``) and ``last_error``; rows not yet due are skipped.
A broker that cannot be reached touches no row: the loop logs and tries to connect again later.
The web app never talks to RabbitMQ: without the relay, events wait in the table.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from app.models import OutboxEvent
from app.models.types import utcnow

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class RelaySettings:
    url: str
    exchange: str = "clinic.events"
    batch_size: int = 200
    idle_seconds: float = 0.5
    max_backoff_seconds: float = 300.0
    base_backoff_seconds: float = 2.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RelaySettings | None:
        """None when ``AMQP_URL`` is not set: the relay is off."""
        url = config.get("AMQP_URL")
        if not url:
            return None
        return cls(url=url, exchange=config.get("AMQP_EXCHANGE") or "clinic.events",
                   batch_size=max(1, int(config.get("RELAY_BATCH_SIZE", 200))),
                   idle_seconds=float(config.get("RELAY_IDLE_SECONDS", 0.5)),
                   max_backoff_seconds=float(config.get("RELAY_MAX_BACKOFF_SECONDS", 300)))


def backoff(attempts: int, settings: RelaySettings) -> timedelta:
    """The wait after the ``attempts``-th failure: base * 2^(attempts-1), at most the cap."""
    seconds = settings.base_backoff_seconds * (2 ** max(0, min(attempts - 1, 20)))
    return timedelta(seconds=min(seconds, settings.max_backoff_seconds))


# --- the message -------------------------------------------------------------------------------


def envelope(row: OutboxEvent) -> dict[str, Any]:
    return {"event_id": row.event_id, "type": row.type, "aggregate_type": row.aggregate_type,
            "aggregate_id": row.aggregate_id, "sequence": row.sequence,
            "occurred_at": row.occurred_at.isoformat(), "payload_version": row.payload_version,
            "payload": row.payload}


def message_properties(row: OutboxEvent) -> Any:
    import pika

    return pika.BasicProperties(
        message_id=row.event_id, type=row.type, content_type=CONTENT_TYPE, delivery_mode=2,  # persistent
        timestamp=int(row.occurred_at.timestamp()),
        headers={"aggregate_type": row.aggregate_type, "aggregate_id": row.aggregate_id,
                 "sequence": row.sequence, "payload_version": row.payload_version})


def body(row: OutboxEvent) -> bytes:
    return json.dumps(envelope(row), ensure_ascii=False, separators=(",", ":")).encode()


# --- the broker --------------------------------------------------------------------------------


def connect(url: str) -> Any:
    """A blocking connection to RabbitMQ (pika)."""
    import pika

    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    parameters.blocked_connection_timeout = 30
    return pika.BlockingConnection(parameters)


def open_channel(connection: Any, exchange: str) -> Any:
    """A channel with publisher confirms on the durable topic exchange (declared if missing)."""
    channel = connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    channel.confirm_delivery()
    return channel


class Publisher:
    """One connection and one confirming channel, opened on first use and after a failure."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.connection: Any = None
        self.channel: Any = None

    def ensure(self) -> Any:
        if self.channel is None or not self.channel.is_open:
            self.close()
            self.connection = connect(self.settings.url)
            self.channel = open_channel(self.connection, self.settings.exchange)
        return self.channel

    def publish(self, row: OutboxEvent) -> None:
        """Returns once the broker confirmed the message; raises when it did not (nack, closed)."""
        self.ensure().basic_publish(exchange=self.settings.exchange, routing_key=row.type, body=body(row),
                                    properties=message_properties(row))

    def close(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


# --- claiming and marking ------------------------------------------------------------------------


def claim_batch(session: Session, now: datetime, limit: int) -> list[OutboxEvent]:
    """The heads of the aggregates' pending chains that are due, oldest first; on PostgreSQL
    locked (``FOR UPDATE SKIP LOCKED``) until the caller's transaction ends."""
    earlier = aliased(OutboxEvent)
    earlier_pending = sa.exists().where(
        earlier.aggregate_type == OutboxEvent.aggregate_type, earlier.aggregate_id == OutboxEvent.aggregate_id,
        earlier.sequence < OutboxEvent.sequence, earlier.sent_at.is_(None))
    query = (sa.select(OutboxEvent)
             .where(OutboxEvent.sent_at.is_(None), ~earlier_pending,
                    sa.or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now))
             .order_by(OutboxEvent.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxEvent)
    return list(session.scalars(query))


def mark_sent(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(sa.update(OutboxEvent).where(OutboxEvent.id.in_(list(ids)))
                        .values(sent_at=now, last_error=None, next_attempt_at=None)
                        .execution_options(synchronize_session=False))


def mark_failed(session: Session, row_id: int, error: str, now: datetime, settings: RelaySettings) -> None:
    attempts = (session.scalar(sa.select(OutboxEvent.attempts).where(OutboxEvent.id == row_id)) or 0) + 1
    session.execute(sa.update(OutboxEvent).where(OutboxEvent.id == row_id).values(
        attempts=attempts, next_attempt_at=now + backoff(attempts, settings), last_error=error[:500])
        .execution_options(synchronize_session=False))


@dataclass
class PassResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0


def relay_once(session: Session, publisher: Publisher, settings: RelaySettings, *,
               now: Callable[[], datetime] = utcnow) -> PassResult:
    """One pass: claim a batch, publish it with confirms, mark what was confirmed, commit.
    A failure to publish one row marks it (backoff) and ends the pass: the rest of the batch is left
    as it was (no attempt counted), and the error is raised again when the broker itself failed."""
    result = PassResult()
    try:
        rows = claim_batch(session, now(), settings.batch_size)
        result.claimed = len(rows)
        if not rows:
            session.commit()
            return result
        publisher.ensure()  # a broker that cannot be reached touches no row
        sent: list[int] = []
        failure: Exception | None = None
        for row in rows:
            try:
                publisher.publish(row)
            except Exception as exc:  # noqa: BLE001 - recorded on the row
                failure = exc
                mark_failed(session, row.id, f"{type(exc).__name__}: {exc}", now(), settings)
                result.failed = 1
                publisher.close()
                break
            sent.append(row.id)
        mark_sent(session, sent, now())
        session.commit()
        result.sent = len(sent)
        if failure is not None:
            log.warning("relay: %s sent, then %s failed: %s", len(sent), rows[len(sent)], failure)
        return result
    except Exception:
        session.rollback()
        raise


def drain(session: Session, publisher: Publisher, settings: RelaySettings, *,
          now: Callable[[], datetime] = utcnow) -> int:
    """Passes until nothing due is left (or a pass failed); returns how many were sent."""
    total = 0
    while True:
        result = relay_once(session, publisher, settings, now=now)
        total += result.sent
        if result.claimed == 0 or result.failed:
            return total


def run(session: Session, settings: RelaySettings, *, once: bool = False,
        sleep: Callable[[float], None] = time.sleep, should_stop: Callable[[], bool] = lambda: False) -> int:
    """The relay loop: drain, sleep ``idle_seconds`` when idle; a broker that cannot be reached is
    tried again after an exponential backoff (logged). ``once``: drain what is due and return
    (a broker that cannot be reached then raises). Returns how many events were sent."""
    publisher = Publisher(settings)
    total, failures = 0, 0
    try:
        while not should_stop():
            try:
                sent = drain(session, publisher, settings)
                total += sent
                failures = 0
                if once:
                    return total
                if not sent:
                    sleep(settings.idle_seconds)
            except Exception as exc:
                publisher.close()
                if once:
                    raise
                failures += 1
                wait = backoff(failures, settings).total_seconds()
                log.warning("relay: broker or database unavailable (%s: %s); next try in %.1f s",
                            type(exc).__name__, exc, wait)
                sleep(wait)
        return total
    finally:
        publisher.close()


__all__ = ["Publisher", "RelaySettings", "backoff", "body", "claim_batch", "drain", "envelope", "mark_failed",
           "mark_sent", "message_properties", "relay_once", "run"]
