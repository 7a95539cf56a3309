"""What every consumer shares: apply an event once (deduplicated by its id), and the RabbitMQ loop.

A consumer is a module with a ``Consumer`` subclass: its ``name`` (the queue is
``AMQP_QUEUE_PREFIX`` + name), the ``routing_keys`` (event types) it binds, and ``apply(session,
event)``, which makes its effect in the session without committing. ``handle`` writes the
``consumed_event`` row (consumer, event id) in the same transaction as the effect, then commits;
the message is acked after the commit. A duplicate delivery finds the row: acked, skipped.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import ConsumedEvent
from app.models.types import utcnow

log = logging.getLogger(__name__)

APPLIED, DUPLICATE, IGNORED = "applied", "duplicate", "ignored"


class Consumer:
    name: ClassVar[str]
    routing_keys: ClassVar[tuple[str, ...]]

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def apply(self, session: Session, event: dict[str, Any]) -> None:
        """The effect of one event, in ``session``, no commit."""
        raise NotImplementedError

    def before_commit(self, session: Session, event: dict[str, Any]) -> None:
        """Work outside the database, done after the dedupe row and the effect are flushed and
        before the commit (the accounting export's file)."""


def already_consumed(session: Session, consumer: str, event_id: str) -> bool:
    return session.scalar(sa.select(ConsumedEvent.id).where(
        ConsumedEvent.consumer == consumer, ConsumedEvent.event_id == event_id)) is not None


def _claim(session: Session, consumer: str, event_id: str) -> bool:
    """Write the dedupe row; False when it is there already (a duplicate). PostgreSQL and SQLite:
    one ``INSERT ... ON CONFLICT DO NOTHING`` (a concurrent twin waits for the first's commit, then
    inserts nothing); elsewhere a read, then the insert (the unique constraint decides a race)."""
    values = {"consumer": consumer, "event_id": event_id, "consumed_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (insert(ConsumedEvent).values(**values)
                     .on_conflict_do_nothing(index_elements=["consumer", "event_id"]).returning(ConsumedEvent.id))
        return session.execute(statement).first() is not None
    if already_consumed(session, consumer, event_id):
        return False
    session.add(ConsumedEvent(**values))
    session.flush()  # two deliveries at once meet here: the second fails on the unique constraint
    return True


def handle(session: Session, consumer: Consumer, event: dict[str, Any]) -> str:
    """Apply ``event`` once for ``consumer`` and commit; ``duplicate`` when it was applied before."""
    event_id = str(event["event_id"])
    if event.get("type") not in consumer.routing_keys:
        return IGNORED
    try:
        if not _claim(session, consumer.name, event_id):
            session.rollback()
            return DUPLICATE
        consumer.apply(session, event)
        session.flush()
        consumer.before_commit(session, event)
        session.commit()
        return APPLIED
    except IntegrityError:
        session.rollback()
        if already_consumed(session, consumer.name, event_id):
            session.rollback()
            return DUPLICATE
        raise
    except Exception:
        session.rollback()
        raise


def handle_many(session: Session, consumer: Consumer, events: list[dict[str, Any]]) -> list[str]:
    """``handle`` for several events in one transaction (each event's dedupe row beside its effect,
    one commit for all): the outcome of each. Raises, with nothing of them committed, when one
    fails; the caller then handles them one by one."""
    outcomes = []
    try:
        for event in events:
            event_id = str(event["event_id"])
            if event.get("type") not in consumer.routing_keys:
                outcomes.append(IGNORED)
            elif not _claim(session, consumer.name, event_id):
                outcomes.append(DUPLICATE)
            else:
                consumer.apply(session, event)
                session.flush()
                consumer.before_commit(session, event)
                outcomes.append(APPLIED)
        session.commit()
        return outcomes
    except Exception:
        session.rollback()
        raise


def decode(body: bytes) -> dict[str, Any]:
    event = json.loads(body)
    if not isinstance(event, dict) or "event_id" not in event or "type" not in event:
        raise ValueError("not an event envelope")
    return event


# --- RabbitMQ --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumeSettings:
    url: str
    exchange: str = "clinic.events"
    queue_prefix: str = "clinic."
    prefetch: int = 50

    @classmethod
    def from_config(cls, config: Mapping[str, Any], prefetch: int = 50) -> ConsumeSettings | None:
        if not config.get("AMQP_URL"):
            return None
        return cls(url=config["AMQP_URL"], exchange=config.get("AMQP_EXCHANGE") or "clinic.events",
                   queue_prefix=config.get("AMQP_QUEUE_PREFIX", "clinic."), prefetch=prefetch)


def queue_name(consumer: Consumer, settings: ConsumeSettings) -> str:
    return settings.queue_prefix + consumer.name


def declare(channel: Any, consumer: Consumer, settings: ConsumeSettings) -> str:
    """The exchange, the consumer's durable queue and its bindings (idempotent)."""
    channel.exchange_declare(exchange=settings.exchange, exchange_type="topic", durable=True)
    queue = queue_name(consumer, settings)
    channel.queue_declare(queue=queue, durable=True)
    for key in consumer.routing_keys:
        channel.queue_bind(queue=queue, exchange=settings.exchange, routing_key=key)
    return queue


@dataclass
class ConsumeResult:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    failed: int = 0

    @property
    def messages(self) -> int:
        return self.applied + self.duplicates + self.ignored + self.failed


def consume(session: Session, consumer: Consumer, settings: ConsumeSettings, *, max_messages: int | None = None,
            idle_timeout: float | None = None, batch: int = 100) -> ConsumeResult:
    """Consume until ``max_messages`` were handled or no message came for ``idle_timeout``
    seconds (both None: forever). The messages already delivered (up to ``batch``) are applied in
    one transaction and acked together after its commit; when one of them fails, they are handled
    one by one: a message whose handling fails is rejected back to the queue (logged) and tried
    again after a second. One that is not an event envelope is dropped (logged)."""
    from app.services.event_relay import connect

    result = ConsumeResult()
    connection = connect(settings.url)
    try:
        channel = connection.channel()
        queue = declare(channel, consumer, settings)
        channel.basic_qos(prefetch_count=settings.prefetch)
        messages = channel.consume(queue, inactivity_timeout=idle_timeout or 1.0)
        while max_messages is None or result.messages < max_messages:
            method, _properties, body = next(messages)
            if method is None:
                if idle_timeout is not None:
                    break
                continue
            taken = [(method, body)]
            room = batch if max_messages is None else min(batch, max_messages - result.messages)
            while len(taken) < room and channel.get_waiting_message_count() > 0:
                method, _properties, body = next(messages)
                taken.append((method, body))
            _handle_batch(session, consumer, channel, taken, result)
        channel.cancel()
    finally:
        if connection.is_open:
            connection.close()
    return result


def _count(result: ConsumeResult, outcome: str) -> None:
    if outcome == APPLIED:
        result.applied += 1
    elif outcome == DUPLICATE:
        result.duplicates += 1
    else:
        result.ignored += 1


def _handle_batch(session: Session, consumer: Consumer, channel: Any, taken: list[tuple[Any, bytes]],
                  result: ConsumeResult) -> None:
    events: list[tuple[Any, dict[str, Any]]] = []
    for method, body in taken:
        try:
            events.append((method, decode(body)))
        except ValueError:
            log.error("%s: dropped a message that is not an event: %r", consumer.name, body[:200])
            channel.basic_reject(method.delivery_tag, requeue=False)
            result.failed += 1
    if not events:
        return
    try:
        outcomes = handle_many(session, consumer, [event for _method, event in events])
    except Exception:  # noqa: BLE001 - one of them failed: one by one, to find it
        outcomes = None
    if outcomes is not None:
        for (method, _event), outcome in zip(events, outcomes, strict=True):
            channel.basic_ack(method.delivery_tag)  # after the commit
            _count(result, outcome)
        return
    for method, event in events:
        try:
            outcome = handle(session, consumer, event)
        except Exception:  # noqa: BLE001 - back to the queue, tried again
            log.exception("%s: event %s failed; back to the queue", consumer.name, event.get("event_id"))
            channel.basic_nack(method.delivery_tag, requeue=True)
            result.failed += 1
            time.sleep(1.0)
        else:
            channel.basic_ack(method.delivery_tag)  # after the commit
            _count(result, outcome)
