"""Probes behind ``GET /health``."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def ping_database(session: Session) -> str:
    """One round trip to the database; raises what the driver raises when it cannot answer."""
    session.execute(text("SELECT 1"))
    return "ok"


def socketio_queue(config, redis_probe) -> dict:
    """The live updates' message queue: ``in-process`` without ``REDIS_URL`` (this process's
    clients only, status ``embedded``); with it, Redis answering (``ok``) or not (``error``: each
    process still reaches its own clients, not the others')."""
    if not config.get("REDIS_URL"):
        return {"status": "embedded", "message_queue": "in-process"}
    try:
        redis_probe()
    except Exception as exc:  # noqa: BLE001 - a probe reports, it never raises
        return {"status": "error", "message_queue": "redis", "error": type(exc).__name__,
                "note": "each process reaches its own clients only"}
    return {"status": "ok", "message_queue": "redis"}


def cache_levels(cache) -> dict:
    """The two-level cache: ``embedded`` (no REDIS_URL: each process's memory), ``ok`` (memory,
    then Redis) or ``degraded`` (Redis configured and not answering: memory only, free slots not
    cached; pages still answer)."""
    return cache.status()


def outbox_status(session, config, now) -> dict:
    """The domain events waiting for the relay: how many, and the oldest's age in seconds.
    ``degraded`` when the relay is configured (``AMQP_URL``) and the oldest has waited longer than
    ``OUTBOX_STALE_SECONDS`` (the relay or RabbitMQ is down): the app keeps working, events wait."""
    from app.services.outbox import backlog

    waiting = backlog(session)
    age = (now - waiting.oldest_at).total_seconds() if waiting.oldest_at is not None else 0.0
    configured = bool(config.get("AMQP_URL"))
    stale = configured and age > float(config.get("OUTBOX_STALE_SECONDS", 300))
    return {"status": "degraded" if stale else "ok", "pending": waiting.pending,
            "oldest_age_s": round(max(age, 0.0), 1), "relay": "configured" if configured else "off"}
