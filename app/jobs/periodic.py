"""The periodic jobs, as data: what runs, how often. ``flask scheduler`` (Redis) and the web
process's timer (no Redis) both read this list. Each job is harmless when run twice at once: it
only queues what is due, and what it queues is deduplicated by the database."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str  # dotted path, called with no arguments
    every_seconds: int
    queue: str = "default"


PERIODIC_JOBS: tuple[Periodic, ...] = (
    Periodic("reminders", "app.jobs.reminders.run_due", 60, "high"),
    Periodic("message-sweep", "app.jobs.messages.sweep", 60, "high"),
    Periodic("stock-digest", "app.jobs.digest.send_if_due", 600, "low"),
    Periodic("invoice-email-retry", "app.jobs.billing_mail.retry_failed", 1800, "low"),
    Periodic("monthly-report", "app.jobs.reports.send_monthly", 3600, "low"),
    Periodic("prune-sessions", "app.jobs.maintenance.prune_sessions", 86400, "low"),
    Periodic("expired-recordings", "app.jobs.maintenance.delete_expired_recordings", 3600, "low"),
    Periodic("abandoned-recordings", "app.jobs.maintenance.stop_abandoned_recordings", 60, "low"),
    Periodic("retire-guest-logins", "app.jobs.maintenance.retire_guest_logins", 300, "low"),
    Periodic("purge-log-events", "app.jobs.maintenance.purge_log_events", 3600, "low"),
    Periodic("announce-expiring-batches", "app.jobs.maintenance.announce_expiring_batches", 86400, "low"),
    Periodic("webhooks-fan-out", "app.jobs.webhooks.fan_out", 10, "default"),
    Periodic("webhooks-retry", "app.jobs.webhooks.sweep", 30, "default"),
)
