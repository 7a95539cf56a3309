"""The periodic reminder job (every minute, ``app.jobs.periodic``): queue the reminders that are
due and one delivery job per message. Harmless when run twice at once: the claims in the database
let one run take each reminder (``app.services.reminders``)."""
from __future__ import annotations

from datetime import datetime, timezone

from app.jobs.context import app_context


def parse_moment(text: str | None, clinic_timezone: str) -> datetime | None:
    """``--at``: an ISO 8601 time; one without an offset is clinic time. None: now."""
    if not text:
        return None
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(clinic_timezone))
    return moment.astimezone(timezone.utc)


def run_due(at: str | None = None) -> int:
    """Queue every reminder due at ``at`` (ISO time; default now) and enqueue its delivery; how
    many messages were queued for delivery."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.messaging.delivery import enqueue_deliveries
    from app.services.messaging.settings import MessagingSettings
    from app.services.reminders import queue_due_reminders

    with app_context() as app:
        now = parse_moment(at, app.config.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh")) or utcnow()
        session = db.session.session_factory()  # its own session: a caller's is left alone
        try:  # each batch's deliveries queued as soon as it is committed
            ids = queue_due_reminders(session, now, MessagingSettings.from_config(app.config), app.config,
                                      on_batch=lambda batch: enqueue_deliveries(app.config, batch))
        finally:
            session.close()
    return len(ids)
