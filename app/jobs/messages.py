"""Jobs that deliver messages (``app.services.messaging.delivery``): one job per message, and a
periodic sweep that hands retries, deferred messages and dead workers' claims back to a worker."""
from __future__ import annotations

from app.jobs.context import app_context, on_rq


def deliver(*message_ids: int) -> dict[int, str]:
    """Send each of ``message_ids`` that is still due and nobody else has; their statuses after
    (a batch of up to ``MESSAGE_BATCH_SIZE``). A failed try is recorded on the message and
    retried by the sweep after its backoff, not by RQ."""
    from app.extensions import db
    from app.services.messaging.delivery import deliver_messages

    with app_context() as app:
        session = db.session.session_factory()
        try:
            return deliver_messages(session, message_ids, app.config, keep_open=on_rq())
        finally:
            session.close()


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
