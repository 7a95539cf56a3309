"""Signed webhooks (issue 17, item 3): admins register HTTPS endpoints per event type; each outbox
event (``app.services.outbox``) of a subscribed type becomes one delivery per endpoint, sent by a
background job, signed, and retried with backoff for a day.

Signature (Stripe's scheme): header ``Clinic-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>``
is HMAC-SHA256 of ``"<t>.<raw body>"`` with the endpoint's secret. A receiver recomputes it over
the bytes it got and refuses a timestamp older than five minutes (a replay).

Outcome of one attempt:
* 2xx: ``delivered``.
* a timeout, a refused connection, 408, 429 or 5xx: tried again after 1 min, 5 min, 30 min, 2 h,
  6 h, then every 12 h, the last try 24 hours after the event (or the resend); then ``failed``.
* any other answer (3xx: redirects are not followed; 4xx: the receiver refused this body) is
  ``failed`` at once: sending the same bytes again would get the same answer. An admin fixes the
  receiver and presses Resend.

Fan-out reads the outbox after a cursor (one ``webhook_cursor`` row, taken with a row lock so two
workers do not both advance it). Ids are handed out before commit, so a slow transaction may
commit an event with a lower id than one already read: the cursor only moves past events older
than ``SETTLE`` (a minute), and the newer ones are read again on the next run; the unique
(endpoint, event) pair makes each delivery once whatever runs twice.

Services here commit their own transaction (they are the top of the call for the jobs and pages)
and never do HTTP for a page: only ``deliver``, run by a job, does.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import OutboxEvent, WebhookCursor, WebhookDelivery, WebhookEndpoint, WebhookReceived
from app.services.errors import FieldErrors, NotFound
from app.services.outbox import EVENT_TYPES, recent

SIGNATURE_HEADER = "Clinic-Signature"
TOLERANCE_SECONDS = 300  # a signature older (or newer) than this is refused: a replay
RETRY_DELAYS = (60, 300, 1800, 7200, 21600, 43200)  # seconds after the 1st, 2nd ... failed try
RETRY_WINDOW = timedelta(hours=24)
RETRYABLE_STATUS = frozenset({408, 429})
TIMEOUT_SECONDS = 5.0
SETTLE = timedelta(seconds=60)
FAN_OUT_BATCH = 500
SWEEP_GRACE = timedelta(seconds=15)  # the fan-out queues new deliveries itself: the sweep leaves them a moment
RECEIVER_KEEP = 50  # payloads the test receiver keeps
RECEIVER_MAX_BYTES = 256 * 1024
CURSOR = "fan_out"
RECEIVER_PATH = "/webhooks/test-receiver/"

HttpPost = Callable[[str, bytes, dict[str, str], float], int]


# --- signing -----------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Clinic-Signature`` header's value: ``t=<timestamp>,v1=<hex>``."""
    return f"t={int(timestamp)},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, now: datetime,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` seconds of ``now``."""
    if not header:
        return False
    timestamp: int | None = None
    candidates = []
    for part in header.split(","):
        key, _sep, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now.timestamp() - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def event_body(event: OutboxEvent) -> bytes:
    """What is POSTed for one outbox event (UTF-8 JSON; keys sorted, so the bytes are stable)."""
    document = {"id": event.event_id, "type": event.type, "occurred_at": event.occurred_at.isoformat(),
                "aggregate": {"type": event.aggregate_type, "id": event.aggregate_id, "sequence": event.sequence},
                "payload_version": event.payload_version, "data": event.payload}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


# --- endpoints ---------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, allow_http: bool) -> str | None:
    """Why ``url`` cannot be an endpoint (a sentence), or None. HTTPS only; plain HTTP only to this
    machine (localhost, 127.0.0.1, ::1) and only when ``allow_http`` (debug, tests, ``WEBHOOKS_ALLOW_HTTP``)."""
    url = (url or "").strip()
    if not url:
        return _("Enter the address that receives the events.")
    if len(url) > 500:
        return _("The address is too long (500 characters at most).")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return _("This is not a web address (https://...).")
    if parts.scheme not in ("https", "http") or not host or any(c.isspace() for c in url):
        return _("This is not a web address (https://...).")
    if parts.scheme == "http":
        if not allow_http:
            return _("The address must start with https://: events carry patient data.")
        if not is_loopback(host):
            return _("Plain http:// is allowed only to this machine (localhost); use https://.")
    return None


def _check(url: str, event_types: Iterable[str], description: str | None, allow_http: bool) -> list[str]:
    errors: dict[str, str] = {}
    problem = url_problem(url, allow_http)
    if problem:
        errors["url"] = problem
    chosen = list(dict.fromkeys(event_types))
    if not chosen:
        errors["event_types"] = _("Choose at least one event.")
    elif any(kind not in EVENT_TYPES for kind in chosen):
        errors["event_types"] = _("Unknown event: %(name)s.", name=next(k for k in chosen if k not in EVENT_TYPES))
    if description and len(description) > 200:
        errors["description"] = _("The description is too long (200 characters at most).")
    if errors:
        raise FieldErrors(errors)
    return chosen


def create_endpoint(session: Session, *, url: str, event_types: Iterable[str], description: str | None,
                    actor_id: int | None, now: datetime, allow_http: bool) -> tuple[int, str]:
    """A new active endpoint; its id and its secret (shown once to the admin who made it)."""
    chosen = _check(url, event_types, description, allow_http)
    endpoint = WebhookEndpoint(url=url.strip(), event_types=chosen, description=(description or "").strip() or None,
                               secret=new_secret(), active=True, created_by_id=actor_id, created_at=now)
    session.add(endpoint)
    session.commit()
    return endpoint.id, endpoint.secret


def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."))
    return endpoint


def update_endpoint(session: Session, endpoint_id: int, *, url: str, event_types: Iterable[str],
                    description: str | None, active: bool, allow_http: bool) -> None:
    endpoint = _endpoint(session, endpoint_id)
    chosen = _check(url, event_types, description, allow_http)
    endpoint.url, endpoint.event_types = url.strip(), chosen
    endpoint.description = (description or "").strip() or None
    endpoint.active = active
    session.commit()


def set_active(session: Session, endpoint_id: int, active: bool) -> None:
    """Deactivate (no new deliveries; pending ones fail on their next try) or activate again."""
    _endpoint(session, endpoint_id).active = active
    session.commit()


def endpoint_secret(session: Session, endpoint_id: int) -> str:
    return _endpoint(session, endpoint_id).secret


@dataclass(frozen=True)
class EndpointRow:
    id: int
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    created_at: datetime
    pending: int = 0
    delivered: int = 0
    failed: int = 0


def _row(endpoint: WebhookEndpoint, counts: dict[str, int] | None = None) -> EndpointRow:
    counts = counts or {}
    return EndpointRow(endpoint.id, endpoint.url, endpoint.description, list(endpoint.event_types or []),
                       endpoint.active, endpoint.created_at, counts.get("pending", 0), counts.get("delivered", 0),
                       counts.get("failed", 0))


def list_endpoints(session: Session) -> list[EndpointRow]:
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status, count in session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)):
        counts.setdefault(endpoint_id, {})[status] = count
    endpoints = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.active.desc(), WebhookEndpoint.id))
    return [_row(e, counts.get(e.id)) for e in endpoints]


def get_endpoint(session: Session, endpoint_id: int) -> EndpointRow:
    return _row(_endpoint(session, endpoint_id))


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


def deliveries(session: Session, endpoint_id: int, limit: int = 100) -> list[DeliveryRow]:
    """An endpoint's newest deliveries first."""
    rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
                           .order_by(WebhookDelivery.id.desc()).limit(limit))
    return [DeliveryRow(d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.created_at,
                        d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.delivered_at)
            for d in rows]


# --- fan-out -----------------------------------------------------------------------------------


def _cursor(session: Session) -> WebhookCursor:
    query = select(WebhookCursor).where(WebhookCursor.name == CURSOR).with_for_update()
    row = session.scalars(query).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(WebhookCursor(name=CURSOR, last_outbox_id=0))
        except IntegrityError:
            pass  # another worker made it first: take theirs
        row = session.scalars(query).one()
    return row


def fan_out(session: Session, now: datetime, limit: int = FAN_OUT_BATCH) -> list[int]:
    """One delivery per new outbox event and active endpoint subscribed to its type (events that
    happened before the endpoint was made are not sent to it). Commits; returns the new deliveries' ids."""
    cursor = _cursor(session)
    events = recent(session, after_id=cursor.last_outbox_id, limit=limit)
    if not events:
        session.commit()
        return []
    endpoints = list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))))
    existing = {(row[0], row[1]) for row in session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id)
        .where(WebhookDelivery.event_id.in_([e.event_id for e in events])))}
    made = []
    for event in events:
        for endpoint in endpoints:
            if event.type in (endpoint.event_types or []) and event.occurred_at >= endpoint.created_at \
                    and (endpoint.id, event.event_id) not in existing:
                delivery = WebhookDelivery(endpoint_id=endpoint.id, outbox_id=event.id, event_id=event.event_id,
                                           event_type=event.type, status="pending", attempts=0, created_at=now,
                                           retry_until=event.occurred_at + RETRY_WINDOW, next_attempt_at=now)
                session.add(delivery)
                made.append(delivery)
    settled = cursor.last_outbox_id
    for event in events:
        if event.occurred_at > now - SETTLE:
            break
        settled = event.id
    if len(events) >= limit:
        settled = events[-1].id  # a full batch: move on (under such load the gap closes in far less than a minute)
    cursor.last_outbox_id = settled
    session.flush()
    ids = [d.id for d in made]
    session.commit()
    return ids


def due_deliveries(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Pending deliveries whose next try is due (for the sweep that queues them)."""
    return list(session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now - SWEEP_GRACE)
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)))


# --- delivery ----------------------------------------------------------------------------------


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body``; the answer's status (redirects are not followed). Raises on a network error."""
    import requests

    response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    response.close()
    return response.status_code


def next_attempt(attempts: int, now: datetime, retry_until: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed tries, or None: the day is over."""
    if now >= retry_until:
        return None
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1] if attempts else 0
    return min(now + timedelta(seconds=delay), retry_until)


def _fail(delivery: WebhookDelivery, error: str) -> None:
    delivery.status, delivery.next_attempt_at, delivery.last_error = "failed", None, error[:500]


def deliver(session: Session, delivery_id: int, now: datetime, *, allow_http: bool,
            post: HttpPost | None = None, timeout: float = TIMEOUT_SECONDS) -> str:
    """Try delivery ``delivery_id`` once if it is pending and due; its status afterwards. The row is
    locked meanwhile (a second job for it skips it). Commits."""
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(skip_locked=True)
    delivery = session.scalars(query).first()
    if delivery is None:
        session.rollback()
        return "busy"  # another job holds it, or it is gone
    if delivery.status != "pending" or (delivery.next_attempt_at is not None and delivery.next_attempt_at > now):
        status = delivery.status
        session.rollback()
        return status
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    event = session.get(OutboxEvent, delivery.outbox_id)
    assert endpoint is not None
    problem = None if endpoint.active else "the endpoint is deactivated"
    problem = problem or ("the event is no longer in the outbox" if event is None else None)
    problem = problem or url_problem(endpoint.url, allow_http)
    if problem:
        _fail(delivery, problem)
        session.commit()
        return delivery.status
    assert event is not None
    body = event_body(event)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Clinic-Webhooks/1",
               SIGNATURE_HEADER: sign(endpoint.secret, int(now.timestamp()), body),
               "Clinic-Event-Id": event.event_id, "Clinic-Event-Type": event.type}
    code: int | None = None
    error: str | None = None
    try:
        code = (post or http_post)(endpoint.url, body, headers, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure to get an answer is tried again
        error = f"{type(exc).__name__}: {exc}"
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = code
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at, delivery.last_error = \
            "delivered", now, None, None
    elif code is None or code in RETRYABLE_STATUS or code >= 500:
        error = error or f"HTTP {code}"
        later = next_attempt(delivery.attempts, now, delivery.retry_until)
        if later is None:
            _fail(delivery, error)
        else:
            delivery.next_attempt_at, delivery.last_error = later, error[:500]
    else:
        _fail(delivery, f"HTTP {code}: refused by the receiver, not tried again")
    session.commit()
    return delivery.status


def resend(session: Session, delivery_id: int, now: datetime) -> None:
    """Send a delivery again (whatever its status): pending now, with a new day of retries. Commits."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(_("No such delivery."))
    delivery.status, delivery.next_attempt_at, delivery.retry_until = "pending", now, now + RETRY_WINDOW
    delivery.delivered_at = None
    session.commit()


def delivery_endpoint_id(session: Session, delivery_id: int) -> int:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(_("No such delivery."))
    return delivery.endpoint_id


# --- the built-in test receiver ----------------------------------------------------------------


def receiver_token(secret_key: str) -> str:
    """The test receiver's URL token: derived from the app's SECRET_KEY (no other token is accepted)."""
    return hmac.new(secret_key.encode(), b"webhooks-test-receiver", hashlib.sha256).hexdigest()[:32]


def receiver_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + RECEIVER_PATH + token


def receive_test_payload(session: Session, token: str, body: bytes, header: str | None, now: datetime) -> bool:
    """Keep a POST to the test receiver (the last ``RECEIVER_KEEP``); whether its signature is one of
    the endpoints pointing at the receiver. Commits."""
    endpoints = session.scalars(select(WebhookEndpoint.secret).where(
        WebhookEndpoint.url.like(f"%{RECEIVER_PATH}{token}")))
    verified = any(verify(secret, header, body, now) for secret in endpoints)
    event_id = event_type = None
    try:
        document: Any = json.loads(body)
        if isinstance(document, dict):
            event_id = str(document.get("id") or "")[:36] or None
            event_type = str(document.get("type") or "")[:60] or None
    except ValueError:
        pass
    session.add(WebhookReceived(received_at=now, signature=(header or "")[:300] or None, verified=verified,
                                event_id=event_id, event_type=event_type,
                                body=body.decode("utf-8", errors="replace")))
    session.flush()
    keep = select(WebhookReceived.id).order_by(WebhookReceived.id.desc()).limit(RECEIVER_KEEP).subquery()
    session.execute(delete(WebhookReceived).where(WebhookReceived.id.not_in(select(keep.c.id))))
    session.commit()
    return verified


@dataclass(frozen=True)
class ReceivedRow:
    id: int
    received_at: datetime
    verified: bool
    event_id: str | None
    event_type: str | None
    body: str  # pretty-printed when it is JSON


def received_payloads(session: Session, limit: int = RECEIVER_KEEP) -> list[ReceivedRow]:
    rows = session.scalars(select(WebhookReceived).order_by(WebhookReceived.id.desc()).limit(limit))
    found = []
    for row in rows:
        try:
            text = json.dumps(json.loads(row.body), ensure_ascii=False, indent=2, sort_keys=True)
        except ValueError:
            text = row.body
        found.append(ReceivedRow(row.id, row.received_at, row.verified, row.event_id, row.event_type, text))
    return found


__all__ = ["EVENT_TYPES", "SIGNATURE_HEADER", "DeliveryRow", "EndpointRow", "ReceivedRow", "create_endpoint",
           "deliver", "deliveries", "due_deliveries", "endpoint_secret", "event_body", "fan_out", "get_endpoint",
           "http_post", "list_endpoints", "next_attempt", "receive_test_payload", "received_payloads",
           "receiver_token", "receiver_url", "resend", "set_active", "sign", "signature", "update_endpoint",
           "url_problem", "verify"]
