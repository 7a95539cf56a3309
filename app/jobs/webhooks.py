"""Jobs of the signed webhooks (``app.services.webhooks``): the periodic fan-out (outbox events ->
deliveries, each queued as its own job), one delivery's try, and the periodic sweep that queues
the retries that are due (and anything the fan-out could not queue, Redis being down)."""
from __future__ import annotations

import logging
from collections.abc import Mapping

from app.jobs.context import app_context
from app.jobs.queue import enqueue

log = logging.getLogger(__name__)

DELIVER = "app.jobs.webhooks.deliver"


def allow_http(config: Mapping) -> bool:
    """Plain http:// to this machine: in debug, in tests, or with ``WEBHOOKS_ALLOW_HTTP``."""
    return bool(config.get("WEBHOOKS_ALLOW_HTTP") or config.get("DEBUG") or config.get("TESTING"))


def queue_deliveries(config: Mapping, delivery_ids: list[int]) -> None:
    """One job per delivery (without Redis each runs now, in this process). A Redis that cannot be
    reached is logged: the deliveries wait in the database for the sweep."""
    for delivery_id in delivery_ids:
        try:
            enqueue(config, DELIVER, delivery_id, retry=None)
        except Exception:  # noqa: BLE001 - the sweep queues it later
            log.warning("webhook delivery %s not queued (the sweep will)", delivery_id, exc_info=True)
            return


def fan_out() -> int:
    """Periodic: deliveries for the new outbox events, each queued; how many were made."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services import webhooks

    with app_context() as app:
        session = db.session.session_factory()
        try:
            ids = webhooks.fan_out(session, utcnow())
        finally:
            session.close()
        queue_deliveries(app.config, ids)
    return len(ids)


def deliver(delivery_id: int) -> str:
    """Try one delivery (if still pending and due); its status afterwards."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services import webhooks

    with app_context() as app:
        session = db.session.session_factory()
        try:
            return webhooks.deliver(session, delivery_id, utcnow(), allow_http=allow_http(app.config),
                                    timeout=float(app.config.get("WEBHOOKS_TIMEOUT_SECONDS") or 5))
        finally:
            session.close()


def sweep() -> int:
    """Periodic: queue the deliveries whose next try is due; how many."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services import webhooks

    with app_context() as app:
        session = db.session.session_factory()
        try:
            ids = webhooks.due_deliveries(session, utcnow())
        finally:
            session.close()
        queue_deliveries(app.config, ids)
    return len(ids)
