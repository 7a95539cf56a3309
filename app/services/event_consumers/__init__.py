"""The domain-event consumers (``flask events consume NAME``), one module each; ``base`` holds what
they share. A clinic adds its own: a module with a ``base.Consumer`` subclass, listed in ``CONSUMERS``."""
from __future__ import annotations

from app.services.event_consumers.accounting_export import AccountingExport
from app.services.event_consumers.base import Consumer
from app.services.event_consumers.lab_bridge import LabBridge
from app.services.event_consumers.notifications_bridge import NotificationsBridge

CONSUMERS: dict[str, type[Consumer]] = {c.name: c for c in (LabBridge, AccountingExport, NotificationsBridge)}

__all__ = ["CONSUMERS", "AccountingExport", "Consumer", "LabBridge", "NotificationsBridge"]
