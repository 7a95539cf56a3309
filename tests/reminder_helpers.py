"""Shared by tests/test_reminders.py and the RQ worker processes it starts: a local SMTP server
(aiosmtpd) that can hold a message in the DATA phase, the worker class those processes run, and a
stand-in renderer for reminders when the app has none registered yet (the real one, once it is
there, is used instead: the tests only read who got a message, how often, and its Message-ID)."""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from email import message_from_bytes, policy as email_policy
from typing import Any

from rq.worker import SimpleWorker


def ensure_reminder_renderer() -> None:
    from app.services.messaging.render import RENDERERS, load_renderers, renderer
    from app.services.reminder_rules import REMINDER_KIND

    load_renderers()
    if REMINDER_KIND not in RENDERERS:
        renderer(REMINDER_KIND)(_stand_in_render)


def _stand_in_render(session: Any, message: Any, config: Any) -> Any:
    from app.models import Appointment
    from app.models.types import utcnow
    from app.services.messaging.render import Rendered, Skip
    from app.services.messaging.settings import MessagingSettings
    from app.services.reminder_rules import obsolete_reason

    params = message.params or {}
    appointment = session.get(Appointment, int(params["appointment_id"]))
    for_start_at = datetime.fromisoformat(params["for_start_at"])
    settings = MessagingSettings.from_config(config)
    reason = obsolete_reason(appointment, for_start_at, utcnow(), settings.remind_requested)
    if reason:
        return Skip(reason)
    local = for_start_at.astimezone(settings.timezone)
    text = f"Appointment reminder: {local:%Y-%m-%d %H:%M}"
    return Rendered(subject=text, text=text, short_text=text)


class ReminderTestWorker(SimpleWorker):
    """``rq worker --worker-class tests.reminder_helpers.ReminderTestWorker``: RQ's SimpleWorker
    (the job runs in the worker process itself, so killing that process kills the send)."""


ensure_reminder_renderer()  # in a worker process, before its first job


class SmtpSink:
    """aiosmtpd handler: keeps every message it accepts. With ``hold_first`` the first message is
    kept (the server has it) and the answer to DATA is held back until ``release`` is set, so a
    test can kill the sender between "the server has it" and "the sender knows"."""

    def __init__(self, hold_first: bool = False):
        self.messages: list[Any] = []
        self.hold_first = hold_first
        self.received = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        message = message_from_bytes(envelope.original_content or envelope.content, policy=email_policy.default)
        with self._lock:
            self.messages.append(message)
            first = len(self.messages) == 1
        self.received.set()
        if self.hold_first and first:
            for _ in range(1200):  # at most a minute
                if self.release.is_set():
                    break
                await asyncio.sleep(0.05)
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        with self._lock:
            return [m for m in self.messages if m["To"].lower() == address.lower()]
