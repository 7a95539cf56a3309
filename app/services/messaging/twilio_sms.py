"""SMS through Twilio's Messages API, with the ``twilio`` library (``SMS_PROVIDER=twilio``).

Settings: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM`` (the sending number in
E.164, or a Messaging Service SID ``MG...``), and ``TWILIO_API_BASE`` only to send the library's
requests to another server (the tests' local one): the library builds every URL from
``client.api.base_url`` (``https://api.twilio.com``).

Twilio's answers: 201 gives the message's SID (kept as the provider reference); 429, any 5xx, a
timeout or a refused connection is a :class:`TemporaryFailure` (tried again with backoff); a 4xx
is a :class:`PermanentFailure`, for instance 21211 (not a valid number), 21610 (the recipient
sent STOP) or 21614 (not a mobile number). Twilio's Messages API has no idempotency key: the
one duplicate the delivery core allows (a worker killed between sending and recording) can
reach the patient as two texts.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.services.messaging.channels import ADAPTERS, PermanentFailure, TemporaryFailure
from app.services.messaging.render import Rendered
from app.services.messaging.text import sms_text

TIMEOUT_SECONDS = 20.0

# Twilio error codes that name the recipient or the message as the problem: never retried.
# https://www.twilio.com/docs/api/errors
RECIPIENT_REFUSED = {
    21211: "not a valid phone number",
    21408: "sending to this region is not enabled on the account",
    21610: "the recipient has unsubscribed (replied STOP)",
    21612: "Twilio cannot route to this number",
    21614: "not a mobile number",
    21617: "the message is too long",
}


class TwilioSender:
    """``send`` posts one message; returns Twilio's message SID."""

    def __init__(self, config: Mapping):
        self.config = config
        self.account_sid = str(config.get("TWILIO_ACCOUNT_SID") or "")
        self.auth_token = str(config.get("TWILIO_AUTH_TOKEN") or "")
        self.sender = str(config.get("TWILIO_FROM") or "")
        missing = [name for name, value in (("TWILIO_ACCOUNT_SID", self.account_sid),
                                            ("TWILIO_AUTH_TOKEN", self.auth_token),
                                            ("TWILIO_FROM", self.sender)) if not value]
        if missing:
            raise PermanentFailure(f"SMS_PROVIDER=twilio needs {', '.join(missing)}")
        self.client = Client(self.account_sid, self.auth_token,
                             http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
        base = str(config.get("TWILIO_API_BASE") or "")
        if base:
            self.client.api.base_url = base.rstrip("/")

    def send(self, recipient: str, rendered: Rendered, key: str) -> str:
        fields: dict[str, Any] = {"to": recipient, "body": sms_text(self.config, rendered)}
        if self.sender.startswith("MG"):
            fields["messaging_service_sid"] = self.sender
        else:
            fields["from_"] = self.sender
        try:
            message = self.client.api.account.messages.create(**fields)
        except TwilioRestException as exc:
            raise _failure(exc.status, exc.code, exc.msg) from exc
        except TwilioServiceException as exc:
            raise _failure(exc.status, exc.code, exc.detail or exc.title) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TemporaryFailure(f"Twilio not reachable: {type(exc).__name__}: {exc}") from exc
        except (requests.RequestException, TwilioException) as exc:
            raise TemporaryFailure(f"Twilio: {type(exc).__name__}: {exc}") from exc
        if not message.sid:
            raise TemporaryFailure("Twilio answered without a message SID")
        return str(message.sid)


def _failure(status: int | None, code: int | None, text: str | None) -> Exception:
    detail = f"Twilio {status}"
    if code and code != status:
        detail += f" error {code}"
    reason = RECIPIENT_REFUSED.get(int(code or 0))
    detail += f": {reason} ({text})" if reason else f": {text}"
    if status is not None and (status == 429 or status >= 500):
        return TemporaryFailure(detail)
    return PermanentFailure(detail)


ADAPTERS["sms"]["twilio"] = TwilioSender
