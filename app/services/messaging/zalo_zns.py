"""Zalo ZNS template messages (a Zalo Official Account's notices to a phone number), ``ZALO_ENABLED``.

One POST to ``ZALO_API_URL`` (``https://business.openapi.zalo.me/message/template``) with the
header ``access_token: <ZALO_ACCESS_TOKEN>`` and the JSON body
``{"phone": "84912345678", "template_id": "...", "template_data": {...}, "tracking_id": "msg-42"}``:
the phone in international form without "+", the template approved by Zalo for this kind of
message (``ZALO_TEMPLATES``: ``kind=template_id,...``, looked up by the renderer's
``Rendered.template``, which the delivery core fills with the message's kind when a renderer
names none), its parameters from the renderer (``Rendered.template_data``), and the message's own
id as ``tracking_id`` (Zalo's reference for this send, echoed in its delivery reports).

Zalo answers HTTP 200 with ``{"error": 0, "message": "Success", "data": {"msg_id": "..."}}``, or a
non-zero ``error``: ``ERROR_CODES`` says which are worth another try (Zalo's side, the account's
quota, the night-time ban) and which never will be (bad phone, no Zalo account, template refused).
An HTTP 429 or 5xx, a timeout or a refused connection is tried again too.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers
import requests

from app.services.messaging.channels import ADAPTERS, PermanentFailure, TemporaryFailure
from app.services.messaging.render import Rendered

TIMEOUT_SECONDS = (5.0, 20.0)  # connect, read
DEFAULT_REGION = "VN"  # for a number stored without its country code

# Zalo's ZNS error codes (zalo.cloud/zns/guidelines/handle-error-code): True = try again later.
ERROR_CODES: dict[int, tuple[bool, str]] = {
    -100: (True, "unknown error on Zalo's side"),
    -101: (False, "the sending application is invalid"),
    -102: (False, "the sending application does not exist"),
    -103: (False, "the sending application is not activated"),
    -104: (False, "the application's secret key is invalid"),
    -105: (False, "the application is not linked to an Official Account"),
    -106: (False, "method not supported"),
    -108: (False, "the phone number is invalid"),
    -109: (False, "the template id is invalid"),
    -111: (False, "the template data is empty"),
    -112: (False, "the template data is invalid (rejected by the template)"),
    -114: (False, "the user is inactive or refuses these messages"),
    -115: (True, "out of quota: the ZNS account's balance is too low"),
    -117: (False, "the Official Account may not use this template"),
    -118: (False, "this phone number has no Zalo account"),
    -119: (False, "this account cannot receive ZNS messages"),
    -124: (True, "the access token is invalid or expired: renew ZALO_ACCESS_TOKEN"),
    -133: (True, "ZNS messages may not be sent at night"),
    -139: (False, "the user refused ZNS messages"),
    -144: (True, "the Official Account has reached its daily limit"),
}


def zalo_phone(recipient: str, region: str = DEFAULT_REGION) -> str:
    """"+84912345678" or "0912 345 678" -> "84912345678" (Zalo's form); PermanentFailure if not a number."""
    try:
        number = phonenumbers.parse(recipient, region)
    except phonenumbers.NumberParseException as exc:
        raise PermanentFailure(f"not a phone number: {recipient!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise PermanentFailure(f"not a valid phone number: {recipient!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def template_ids(config: Mapping) -> dict[str, str]:
    """``ZALO_TEMPLATES`` ("appointment_reminder=231456, booking_confirmed=231457") as a dict."""
    pairs = (item.split("=", 1) for item in str(config.get("ZALO_TEMPLATES") or "").split(",") if "=" in item)
    return {kind.strip(): template.strip() for kind, template in pairs if kind.strip() and template.strip()}


class ZaloZnsSender:
    """``send`` posts one template message; returns Zalo's ``msg_id``."""

    def __init__(self, config: Mapping):
        self.config = config
        self.url = str(config.get("ZALO_API_URL") or "")
        self.token = str(config.get("ZALO_ACCESS_TOKEN") or "")
        if not self.url or not self.token:
            raise PermanentFailure("ZALO_ENABLED needs ZALO_API_URL and ZALO_ACCESS_TOKEN")

    def send(self, recipient: str, rendered: Rendered, key: str) -> str:
        kind = rendered.template or ""
        template_id = template_ids(self.config).get(kind)
        if not template_id:
            raise PermanentFailure(f"no Zalo template for {kind or 'this message'!r}: add it to ZALO_TEMPLATES "
                                   f"(kind=template_id)")
        region = str(self.config.get("CLINIC_PHONE_REGION") or DEFAULT_REGION)
        payload: dict[str, Any] = {
            "phone": zalo_phone(recipient, region), "template_id": template_id,
            "template_data": {name: str(value) for name, value in (rendered.template_data or {}).items()},
            "tracking_id": key}
        try:
            response = requests.post(self.url, json=payload, timeout=TIMEOUT_SECONDS,
                                     headers={"access_token": self.token, "Content-Type": "application/json"})
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TemporaryFailure(f"Zalo not reachable: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise TemporaryFailure(f"Zalo: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(f"Zalo HTTP {response.status_code}")
        try:
            answer: Any = response.json()
        except ValueError as exc:
            raise TemporaryFailure(f"Zalo HTTP {response.status_code}: not JSON") from exc
        if response.status_code != 200 or not isinstance(answer, dict):
            raise PermanentFailure(f"Zalo HTTP {response.status_code}: {str(answer)[:200]}")
        return _outcome(answer)


def _outcome(answer: dict) -> str:
    try:
        code = int(answer.get("error", -1))
    except (TypeError, ValueError):
        code = -1
    message = str(answer.get("message") or "")
    if code == 0:
        msg_id = (answer.get("data") or {}).get("msg_id")
        if not msg_id:
            raise TemporaryFailure("Zalo answered success without a msg_id")
        return str(msg_id)
    retry, meaning = ERROR_CODES.get(code, (False, "refused"))
    detail = f"Zalo error {code}: {meaning} ({message})" if message else f"Zalo error {code}: {meaning}"
    raise (TemporaryFailure if retry else PermanentFailure)(detail)


ADAPTERS["zalo"]["zns"] = ZaloZnsSender
