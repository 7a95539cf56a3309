"""How a rendered message leaves: one adapter per channel and provider, behind one interface.

An adapter's ``send(recipient, rendered, key)`` returns the provider's reference, or raises
:class:`TemporaryFailure` (try again later: server down, rate limited) or :class:`PermanentFailure`
(will never work: address refused, template rejected). ``key`` is the message's own id, passed
to the provider as its idempotency key where it has one (the e-mail's Message-ID, Zalo's
``tracking_id``), so a message sent twice after a worker died can be recognised as one.

Without a provider configured, SMS and Zalo go to the outbox folder like e-mail, as JSON files
that say what the patient would receive.
"""
from __future__ import annotations

import json
import os
import smtplib
import socket
import tempfile
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from app.services.messaging.render import Rendered


class TemporaryFailure(Exception):
    """Try again later."""


class PermanentFailure(Exception):
    """Trying again will not help."""


class Sender(Protocol):
    def send(self, recipient: str, rendered: Rendered, key: str) -> str: ...


def outbox_dir(config: Mapping) -> Path:
    return Path(config.get("MAIL_OUTBOX_DIR") or "outbox")


def write_outbox_json(config: Mapping, suffix: str, payload: dict) -> Path:
    """``payload`` as ``<time>-<id>.<suffix>.json`` in the outbox folder, written whole then renamed."""
    folder = outbox_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{uuid.uuid4().hex[:12]}.{suffix}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class EmailSender:
    """Flask-Mail over SMTP with ``MAIL_SERVER``, else an ``.eml`` file in the outbox folder."""

    def __init__(self, config: Mapping, keep_open: bool = False):
        self.config = config
        self.keep_open = keep_open

    def send(self, recipient: str, rendered: Rendered, key: str) -> str:
        from app.extensions import mail
        from app.services.errors import ValidationFailed
        from app.services.mail import send_email

        domain = (str(self.config.get("MAIL_DEFAULT_SENDER") or "clinic@localhost").rpartition("@")[2]
                  .strip(">") or "localhost")
        try:
            return send_email(self.config, mail, to=[recipient], subject=rendered.subject, body=rendered.text,
                              html=rendered.html, attachments=list(rendered.attachments),
                              message_id=f"<{key}@{domain}>", keep_open=self.keep_open)
        except ValidationFailed as exc:
            raise PermanentFailure(exc.message) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise TemporaryFailure(f"recipient refused for now: {exc.recipients}") from exc
            raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TemporaryFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc


class OutboxSender:
    """SMS or Zalo written to the outbox folder (no provider configured)."""

    def __init__(self, config: Mapping, channel: str):
        self.config = config
        self.channel = channel

    def send(self, recipient: str, rendered: Rendered, key: str) -> str:
        from app.services.messaging.text import sms_text

        # an SMS as the provider would send it (without diacritics with SMS_ASCII_ONLY)
        text = sms_text(self.config, rendered) if self.channel == "sms" else (rendered.short_text or rendered.subject)
        payload: dict[str, Any] = {"channel": self.channel, "to": recipient, "text": text, "key": key}
        if self.channel == "zalo":
            payload.update(template=rendered.template, template_data=rendered.template_data)
        return str(write_outbox_json(self.config, self.channel, payload))


# channel -> provider name -> factory; provider modules add themselves here.
ADAPTERS: dict[str, dict[str, Callable[[Mapping], Sender]]] = {
    "email": {"smtp": lambda config: EmailSender(config)},
    "sms": {"outbox": lambda config: OutboxSender(config, "sms")},
    "zalo": {"outbox": lambda config: OutboxSender(config, "zalo")},
}


def provider_name(channel: str, config: Mapping) -> str:
    if channel == "email":
        return "smtp"
    if channel == "sms":
        return str(config.get("SMS_PROVIDER") or "outbox")
    return "zns" if config.get("ZALO_ENABLED") else "outbox"


def sender_for(channel: str, config: Mapping, keep_open: bool = False) -> Sender:
    if channel == "email":
        return EmailSender(config, keep_open=keep_open)
    load_providers()
    name = provider_name(channel, config)
    factory = ADAPTERS.get(channel, {}).get(name)
    if factory is None:
        raise PermanentFailure(f"no {channel} provider called {name!r}")
    return factory(config)


# Modules whose import adds provider adapters to ADAPTERS.
PROVIDER_MODULES: list[str] = [
    "app.services.messaging.twilio_sms",  # sms: twilio (SMS_PROVIDER=twilio)
    "app.services.messaging.zalo_zns",  # zalo: zns (ZALO_ENABLED)
]


def load_providers() -> None:
    import importlib

    for name in PROVIDER_MODULES:
        importlib.import_module(name)
