"""The pharmacy's daily stock digest (``app.services.stock_digest``): a periodic job
(``app.jobs.periodic``, every 10 minutes) that sends it once per clinic day at or after
``STOCK_DIGEST_HOUR``."""
from __future__ import annotations


def send_if_due() -> int:
    """Queue today's digest if it is due and not yet written; how many e-mails went to delivery."""
    from app.extensions import db
    from app.jobs.context import app_context
    from app.models.types import utcnow
    from app.services.messaging.delivery import enqueue_deliveries
    from app.services.stock_digest import send_stock_digest

    with app_context() as app:
        session = db.session.session_factory()
        try:
            ids = send_stock_digest(session, config=app.config, now=utcnow())
        finally:
            session.close()
        enqueue_deliveries(app.config, ids)
    return len(ids)
