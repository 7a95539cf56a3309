"""``flask events relay [--once]`` (outbox -> RabbitMQ) and ``flask events consume NAME`` (one of the
consumers in app/services/event_consumers). Without ``AMQP_URL`` both say so and exit 0: events
wait in the outbox table (the webhooks deliver them separately)."""
from __future__ import annotations

import logging

import click
from flask import Flask, current_app


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # pika logs every connection step at INFO


def register(app: Flask) -> None:
    @app.cli.group("events")
    def events_group() -> None:
        """Domain events: the relay to RabbitMQ and the consumers."""

    @events_group.command("relay")
    @click.option("--once", is_flag=True, help="Publish what is due now, then exit.")
    def relay(once: bool) -> None:
        """Publish pending outbox events to RabbitMQ (AMQP_URL), in order per aggregate."""
        from app.extensions import db
        from app.services import event_relay

        settings = event_relay.RelaySettings.from_config(current_app.config)
        if settings is None:
            click.echo("AMQP_URL is not set: the relay is off (events wait in the outbox).")
            return
        _logging()
        click.echo(f"relay to exchange {settings.exchange} ({db.engine.dialect.name})"
                   f"{' (once)' if once else ''}")
        try:
            sent = event_relay.run(db.session, settings, once=once)
        except Exception as exc:  # noqa: BLE001 - --once: the broker or database could not be reached
            raise click.ClickException(f"relay failed: {type(exc).__name__}: {exc}") from exc
        finally:
            db.session.remove()
        click.echo(f"sent {sent}")

    @events_group.command("consume")
    @click.argument("name")
    @click.option("--once", is_flag=True, help="Handle what is queued now, then exit (idle timeout 1 s).")
    @click.option("--max-messages", type=click.IntRange(1), default=None, help="Exit after this many messages.")
    @click.option("--idle-timeout", type=click.FloatRange(0.05), default=None,
                  help="Exit when no message came for this many seconds.")
    @click.option("--prefetch", type=click.IntRange(1, 10_000), default=50, show_default=True,
                  help="Messages the broker hands over before their acks (basic_qos).")
    @click.option("--batch", type=click.IntRange(1, 10_000), default=100, show_default=True,
                  help="Messages already delivered applied in one transaction, acked after its commit.")
    def consume(name: str, once: bool, max_messages: int | None, idle_timeout: float | None, prefetch: int,
                batch: int) -> None:
        """Run the consumer NAME (lab-bridge, accounting-export, notifications-bridge)."""
        from app.extensions import db
        from app.services.event_consumers import CONSUMERS
        from app.services.event_consumers.base import ConsumeSettings, consume as run_consumer

        if name not in CONSUMERS:
            raise click.BadParameter(f"unknown consumer {name!r}; one of {', '.join(sorted(CONSUMERS))}",
                                     param_hint="NAME")
        settings = ConsumeSettings.from_config(current_app.config, prefetch=prefetch)
        if settings is None:
            click.echo("AMQP_URL is not set: consumers are off.")
            return
        _logging()
        consumer = CONSUMERS[name](current_app.config)
        if once and idle_timeout is None:
            idle_timeout = 1.0
        try:
            result = run_consumer(db.session, consumer, settings, max_messages=max_messages,
                                  idle_timeout=idle_timeout, batch=batch)
        finally:
            db.session.remove()
        click.echo(f"{name}: applied {result.applied}, duplicates {result.duplicates}, "
                   f"ignored {result.ignored}, failed {result.failed}")
