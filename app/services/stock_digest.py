"""The pharmacy's daily digest: once per clinic day, at or after ``STOCK_DIGEST_HOUR`` clinic time,
pharmacists and managers get an e-mail (HTML table and text, in their language) and an in-app
notice linking to the pharmacy dashboard, listing what the dashboard's alerts list
(``stock_views.pharmacy_alerts``): medicines below their reorder level, medicines to order now
(days of cover within the supplier's lead time), batches expiring soon and expired batches
waiting for their write-off. A day with nothing to report sends nothing.

The periodic job runs every few minutes; the dedupe key (day and user) makes the first run after
the hour the only one that writes, however many schedulers fire."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.services.messaging.notice_renderers import DIGEST_KIND, PHARMACY_DASHBOARD
from app.services.messaging.recipients import queue_for_user, to_send
from app.services.messaging.settings import MessagingSettings
from app.services.notices import notify_once
from app.services.notifications import users_with_roles
from app.services.pharmacy_settings import PharmacyPolicy
from app.services.stock_views import PharmacyAlerts, pharmacy_alerts

DIGEST_ROLES = ("Pharmacist", "Manager")
MAX_ROWS = 200  # per section; the dashboard has the rest


def digest_day(now: datetime, settings: MessagingSettings) -> date | None:
    """The clinic day whose digest is due at ``now`` (None before the hour)."""
    local = now.astimezone(settings.timezone)
    return local.date() if local.hour >= settings.digest_hour else None


def _rounded(days: float | None) -> float | None:
    return None if days is None else round(days, 1)


def digest_params(alerts: PharmacyAlerts) -> dict[str, Any]:
    """The digest's content as plain values (what the message will say, whatever the stock later)."""
    return {
        "day": alerts.today.isoformat(),
        "below_reorder": [{"name": s.name, "code": s.code, "on_hand": s.on_hand, "unit": s.unit,
                           "reorder_level": s.reorder_level} for s in alerts.below_reorder[:MAX_ROWS]],
        "order_now": [{"name": s.name, "code": s.code, "on_hand": s.on_hand, "unit": s.unit,
                       "days_of_cover": _rounded(s.days_of_cover), "lead_time_days": s.lead_time_days}
                      for s in alerts.order_now[:MAX_ROWS]],
        "expiring": [{"medicine": b.medicine, "lot": b.lot_number, "expiry": b.expiry_date.strftime("%d/%m/%Y"),
                      "quantity": b.quantity} for b in alerts.expiring[:MAX_ROWS]],
        "expired": [{"medicine": b.medicine, "lot": b.lot_number, "expiry": b.expiry_date.strftime("%d/%m/%Y"),
                     "quantity": b.quantity} for b in alerts.expired[:MAX_ROWS]],
    }


def send_stock_digest(session: Session, *, config: Mapping, now: datetime) -> list[int]:
    """Queue today's digest if it is due and there is something to report. Commits; the message
    ids to deliver (none before the hour, on a quiet day, or when today's was already written)."""
    settings = MessagingSettings.from_config(config)
    day = digest_day(now, settings)
    if day is None:
        return []
    alerts = pharmacy_alerts(session, day, PharmacyPolicy.from_config(config))
    if not (alerts.below_reorder or alerts.order_now or alerts.expiring or alerts.expired):
        return []
    params = digest_params(alerts)
    counts = {"low": len(alerts.below_reorder), "order": len(alerts.order_now), "expiring": len(alerts.expiring),
              "expired": len(alerts.expired)}
    messages = []
    users = users_with_roles(session, DIGEST_ROLES)
    for user_id in users:
        messages += queue_for_user(session, user_id, DIGEST_KIND, params, now=now, settings=settings,
                                   dedupe_key=f"digest:{day.isoformat()}:user:{user_id}", channels=("email",))

    def make() -> tuple[str, str | None]:
        return (_("Pharmacy digest: %(low)d below reorder level, %(expiring)d batches expiring soon", **counts),
                _("%(order)d to order now, %(expired)d expired batches to write off.", **counts))

    notify_once(session, users, DIGEST_KIND, make, f"{PHARMACY_DASHBOARD}#digest-{day.isoformat()}",
                settings=settings, now=now)
    session.commit()
    return to_send(messages)
