"""The relay (app/services/event_relay.py, ``flask events relay``) against the real RabbitMQ:
delivery with confirms and the message's properties, order per aggregate, backoff, a broker that
is down, a relay killed with SIGKILL mid-batch, and two relays on PostgreSQL at once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pika.exceptions import AMQPConnectionError

from app.models import ConsumedEvent, LabBridgeOrder, OutboxEvent
from app.models.types import utcnow
from app.services import event_relay, outbox
from app.services.event_relay import RelaySettings
from tests.events_helpers import broker  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOSED_PORT_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens on port 1


def _record(db, aggregates: int, per_aggregate: int, type_: str = "patient.updated", aggregate_type: str = "patient",
            occurred_at=None) -> None:
    """Events interleaved across aggregates (1.1, 2.1, 3.1, 1.2 ...), as many changes would write them."""
    for step in range(per_aggregate):
        for aggregate in range(1, aggregates + 1):
            outbox.record(db.session, type_, aggregate_type, aggregate, {"step": step, "code": f"P{aggregate}"},
                          occurred_at=occurred_at)
    db.session.commit()


def _settings(broker, **more) -> RelaySettings:  # noqa: F811
    return RelaySettings(url=more.pop("url", broker.url), exchange=broker.exchange,
                         batch_size=more.pop("batch_size", 50), idle_seconds=0.05, **more)


def _pending(db) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None)))


def _in_order(messages) -> dict[str, list[int]]:
    by_aggregate: dict[str, list[int]] = {}
    for _properties, body in messages:
        by_aggregate.setdefault(body["aggregate_id"], []).append(body["sequence"])
    return by_aggregate


def test_relay_command_is_off_without_amqp_url(app):
    runner = app.test_cli_runner()
    assert app.config.get("AMQP_URL") is None
    result = runner.invoke(args=["events", "relay", "--once"])
    assert result.exit_code == 0, result.output
    assert "AMQP_URL is not set" in result.output


def test_claim_takes_heads_only_and_skips_rows_not_due(db):
    _record(db, 2, 3)
    now = utcnow()
    heads = event_relay.claim_batch(db.session, now, 100)
    assert [(r.aggregate_id, r.sequence) for r in heads] == [("1", 1), ("2", 1)]
    settings = RelaySettings(url="amqp://unused", base_backoff_seconds=2, max_backoff_seconds=10)
    event_relay.mark_failed(db.session, heads[0].id, "boom", now, settings)
    event_relay.mark_sent(db.session, [heads[1].id], now)
    db.session.commit()
    # aggregate 1 waits for its backoff (and its later events behind it); aggregate 2 moves on.
    assert [(r.aggregate_id, r.sequence) for r in event_relay.claim_batch(db.session, now, 100)] == [("2", 2)]
    db.session.rollback()
    later = event_relay.claim_batch(db.session, now + timedelta(seconds=3), 100)
    assert [(r.aggregate_id, r.sequence) for r in later] == [("1", 1), ("2", 2)]
    db.session.rollback()
    failed = db.session.get(OutboxEvent, heads[0].id)
    assert (failed.attempts, failed.last_error) == (1, "boom")
    assert [event_relay.backoff(n, settings).total_seconds() for n in (1, 2, 3, 4, 10)] == [2, 4, 8, 10, 10]


@pytest.mark.needs_rabbitmq
def test_relay_publishes_with_confirms_in_order_per_aggregate(db, broker):  # noqa: F811
    queue = broker.bind("all")
    _record(db, 5, 4)
    sent = event_relay.run(db.session, _settings(broker, batch_size=3), once=True)
    assert sent == 20 and _pending(db) == 0
    messages = broker.drain(queue)
    assert len(messages) == 20
    assert _in_order(messages) == {str(a): [1, 2, 3, 4] for a in range(1, 6)}
    properties, body = messages[0]
    row = db.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.event_id == body["event_id"]))
    assert properties.message_id == row.event_id and properties.type == "patient.updated"
    assert properties.content_type == "application/json" and properties.delivery_mode == 2
    assert properties.timestamp == int(row.occurred_at.timestamp())
    assert properties.headers == {"aggregate_type": "patient", "aggregate_id": row.aggregate_id,
                                  "sequence": row.sequence, "payload_version": 1}
    assert set(body) == {"event_id", "type", "aggregate_type", "aggregate_id", "sequence", "occurred_at",
                         "payload_version", "payload"}
    assert body["payload"] == row.payload and row.sent_at is not None


@pytest.mark.needs_rabbitmq
def test_broker_down_changes_keep_working_and_the_relay_catches_up(app, db, broker, client):  # noqa: F811
    queue = broker.bind("all")
    _record(db, 3, 2, occurred_at=utcnow() - timedelta(minutes=10))
    down = _settings(broker, url=CLOSED_PORT_URL)
    with pytest.raises(AMQPConnectionError):
        event_relay.run(db.session, down, once=True)
    # The loop logs and tries again later: no row is touched while the broker cannot be reached.
    waits: list[float] = []
    stops = iter([False, False, True])
    event_relay.run(db.session, down, sleep=waits.append, should_stop=lambda: next(stops))
    assert len(waits) == 2 and waits[1] > waits[0]
    _record(db, 3, 1)  # changes keep being written: the backlog grows
    assert _pending(db) == 9
    assert db.session.scalar(sa.select(sa.func.max(OutboxEvent.attempts))) == 0
    app.config.update(AMQP_URL=CLOSED_PORT_URL)
    try:
        response = client.get("/health")
    finally:
        app.config.update(AMQP_URL=None)
    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    assert checks["outbox"]["status"] == "degraded" and checks["outbox"]["pending"] == 9
    assert checks["outbox"]["relay"] == "configured" and checks["outbox"]["oldest_age_s"] >= 590
    assert client.get("/health").get_json()["checks"]["outbox"]["status"] == "ok"  # no relay configured
    # The broker is back: everything goes, in order.
    assert event_relay.run(db.session, _settings(broker), once=True) == 9
    assert _in_order(broker.drain(queue)) == {"1": [1, 2, 3], "2": [1, 2, 3], "3": [1, 2, 3]}
    assert _pending(db) == 0


@pytest.mark.needs_rabbitmq
def test_broker_stopped_and_started_again_in_the_middle_of_a_burst(db, broker):  # noqa: F811
    """The broker goes away while the relay is publishing a burst (its connection cut mid-stream,
    new ones refused) and comes back: the changes keep being written, the relay retries, and once
    the broker is back every event arrives (at least once), each aggregate's in order."""
    from tests.events_helpers import CuttableProxy

    queue = broker.bind("all")
    host_port = broker.url.rsplit("@", 1)[1].split("/", 1)[0].split(":")
    proxy = CuttableProxy((host_port[0], int(host_port[1]) if len(host_port) > 1 else 5672))
    settings = _settings(broker, url=proxy.url(broker.url), batch_size=10, base_backoff_seconds=0.2,
                         max_backoff_seconds=0.5)
    _record(db, 20, 3)
    publisher = event_relay.Publisher(settings)
    try:
        for _ in range(3):
            assert event_relay.relay_once(db.session, publisher, settings).sent == 10
        proxy.cut()  # the broker stops
        _record(db, 20, 2)  # the burst goes on: changes are written, the backlog grows
        assert _pending(db) == 70
        try:
            event_relay.relay_once(db.session, publisher, settings)
        except Exception:  # noqa: BLE001 - the lost connection, raised: nothing marked sent
            pass
        assert _pending(db) == 70
        publisher.close()
        proxy.start()  # the broker is back
        passes = iter(range(200))
        event_relay.run(db.session, settings, sleep=time.sleep,
                        should_stop=lambda: next(passes) > 0 and _pending(db) == 0)
    finally:
        publisher.close()
        proxy.cut()
    assert _pending(db) == 0
    messages = broker.drain(queue)
    first_seen: dict[str, list[int]] = {}
    for _properties, body in messages:
        seen = first_seen.setdefault(body["aggregate_id"], [])
        if body["sequence"] not in seen:
            seen.append(body["sequence"])
    assert first_seen == {str(a): [1, 2, 3, 4, 5] for a in range(1, 21)}
    assert len({body["event_id"] for _p, body in messages}) == 100


def _flask_env(db_url: str, broker, tmp_path) -> dict:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URI", "MAIL_SERVER"}}
    env.update(FLASK_APP="app:create_app", DATABASE_URL=db_url, INSTANCE_PATH=str(tmp_path / "instance"),
               PYTHONPATH=ROOT, FLASK_SKIP_DOTENV="1", **broker.config(), RELAY_BATCH_SIZE="25",
               RELAY_IDLE_SECONDS="0.05")
    return env


@pytest.mark.needs_rabbitmq
def test_relay_killed_mid_batch_loses_nothing_and_the_consumer_applies_each_event_once(
        app, db, db_url, broker, tmp_path):  # noqa: F811
    from app.services.event_consumers.base import ConsumeSettings, consume
    from app.services.event_consumers.lab_bridge import LabBridge

    orders = 600
    for order_id in range(1, orders + 1):
        outbox.record(db.session, "lab.ordered", "lab_order", order_id,
                      {"lab_order_id": order_id, "test_code": f"T{order_id % 7}", "patient_id": None})
    db.session.commit()
    consumer = LabBridge(app.config)
    settings = ConsumeSettings(url=broker.url, exchange=broker.exchange, queue_prefix=broker.prefix, prefetch=100)
    queue = broker.bind(consumer.name, *consumer.routing_keys)
    env = _flask_env(db_url, broker, tmp_path)
    command = [sys.executable, "-m", "flask", "events", "relay"]
    relay = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    connection, channel = broker.channel()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            marked = orders - _pending(db)
            published = channel.queue_declare(queue=queue, passive=True).method.message_count
            if marked > 0 and published > marked:  # a batch under way: published, not yet marked sent
                break
            time.sleep(0.005)
        relay.send_signal(signal.SIGKILL)
    finally:
        relay.kill()
        relay.wait(10)
        connection.close()
    left = _pending(db)
    assert 0 < left < orders, "the relay was not killed mid-way"
    # Restarted (in this process: a second app start would double the test's time), it sends the rest.
    restarted = event_relay.run(db.session, _settings(broker, batch_size=25), once=True)
    assert restarted == left and _pending(db) == 0
    result = consume(db.session, consumer, settings, idle_timeout=0.5)
    assert result.applied == orders and result.failed == 0  # result.duplicates: what the kill published twice
    print(f"killed with {left} pending; duplicates delivered: {result.duplicates}")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LabBridgeOrder)) == orders
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsumedEvent)) == orders


@pytest.mark.needs_rabbitmq
@pytest.mark.needs_postgres
def test_two_relays_on_postgresql_keep_order_and_lose_nothing(app, db, broker):  # noqa: F811
    from sqlalchemy.orm import Session

    queue = broker.bind("all")
    _record(db, 40, 8)
    settings = _settings(broker, batch_size=15)
    engine = db.engine
    errors: list[BaseException] = []
    sent: list[int] = []

    def relay() -> None:
        with Session(engine) as session:
            try:
                sent.append(event_relay.run(session, settings, once=True))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert _pending(db) == 0  # one relay may stop early (its last pass found the others' heads locked): drained
    messages = broker.drain(queue)
    assert len(messages) == 320 and sum(sent) == 320
    assert _in_order(messages) == {str(a): list(range(1, 9)) for a in range(1, 41)}
