"""Jobs that deliver messages (``app.services.messaging.delivery``): one job per message, and a
periodic sweep that hands retries, deferred messages and dead workers' claims back to a worker."""
from __future__ import annotations

from app.jobs.context import app_context, on_rq


def deliver(message_id: int) -> str:
    """Send message ``message_id`` if it is still due and nobody else has it; its status after.
    Under RQ a failure that will be retried raises after recording it, so RQ keeps the job in its
    failed registry for the jobs page; the retry itself is the sweep's (after the backoff)."""
    from app.extensions import db
    from app.services.messaging.delivery import deliver_message

    with app_context() as app:
        session = db.session.session_factory()
        try:
            status = deliver_message(session, message_id, app.config, keep_open=on_rq())
        finally:
            session.close()
    return status


def sweep(limit: int = 1000) -> int:
    """Queue a delivery job for each message that is due again; how many."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.messaging.delivery import due_message_ids, enqueue_deliveries
    from app.services.messaging.settings import MessagingSettings

    with app_context() as app:
        session = db.session.session_factory()
        try:
            ids = due_message_ids(session, utcnow(), MessagingSettings.from_config(app.config), limit)
        finally:
            session.close()
        enqueue_deliveries(app.config, ids)
    return len(ids)
