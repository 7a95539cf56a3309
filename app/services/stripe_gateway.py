"""Card payments through Stripe Checkout: the ``stripe`` library creates the Checkout Session for
what is owed; ``POST /webhooks/stripe`` verifies the signature and applies each event id once;
refunds through Stripe's Refund API.

* ``start_checkout``: the pending payment is checked and written first (amount, invoice state:
  ``payments.start_online_payment`` under the invoice's row lock), then Stripe is asked, then the
  transaction commits with the Checkout Session's id and URL. If Stripe refuses or cannot be
  reached, the transaction rolls back: nothing is recorded (502).
* ``handle_webhook``: ``Stripe-Signature`` is verified with the endpoint's signing secret (a bad or
  missing one: 400, nothing changes); each event id is claimed once (``payments.claim_event``), so
  a redelivery, or a second event about the same session, never counts the money twice, and an
  ``expired`` that arrives after ``completed`` never un-pays (``fail_online_payment`` leaves a
  succeeded payment alone).
* ``refund``: Stripe's Refund API on the payment's PaymentIntent, with an idempotency key, so a
  retried request never refunds twice.

Amounts go to Stripe in the currency's minor unit: VND is zero-decimal in Stripe as in ISO 4217,
so ``unit_amount`` is whole đồng (300 000 đ -> ``300000``)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import stripe
from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import Invoice, Payment, ProviderEvent
from app.services import billing_notify, payments
from app.services.billing_settings import BillingSettings
from app.services.errors import DomainError, ProviderUnavailable, committing
from app.services.money import minor_digits

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

PROVIDER = "stripe"
# Stripe recommends retrying network failures; every POST carries an idempotency key, so a retry
# can never create a second session or a second refund.
NETWORK_RETRIES = 2
# Connect, read. The invoice's row stays locked while Stripe is asked (the payment is checked
# before and committed after), so a slow Stripe is given up on after at most about half a minute.
TIMEOUT_SECONDS = (5, 10)


class SignatureInvalid(DomainError):
    """The webhook's ``Stripe-Signature`` is missing, malformed, too old or not made with the
    endpoint's signing secret: nothing is applied (400)."""

    status = 400


class BadEvent(DomainError):
    """A signed body that is not a Stripe event (400)."""

    status = 400


def client(billing: BillingSettings) -> stripe.StripeClient:
    if not billing.stripe_enabled:
        raise ProviderUnavailable(_("Card payments through Stripe are not set up (STRIPE_SECRET_KEY)."))
    base = {"api": billing.stripe_api_base.rstrip("/")} if billing.stripe_api_base else None
    return stripe.StripeClient(billing.stripe_secret_key, base_addresses=base,  # type: ignore[arg-type]
                               max_network_retries=NETWORK_RETRIES,
                               http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS))


def to_minor(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's smallest unit, as Stripe counts (VND: whole đồng)."""
    return int(Decimal(amount).scaleb(minor_digits(currency)).to_integral_value())


def from_minor(amount: Any, currency: str) -> Decimal | None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        return None
    return Decimal(amount).scaleb(-minor_digits(currency))


def _refused(exc: stripe.StripeError) -> ProviderUnavailable:
    """Stripe's refusal as a message for the cashier (its own text says what is wrong)."""
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderUnavailable(_("Stripe could not be reached. Nothing was recorded; try again in a moment."))
    said = (exc.user_message or "").strip()[:200]
    if said:
        return ProviderUnavailable(_("Stripe refused the request: %(reason)s. Nothing was recorded.", reason=said))
    return ProviderUnavailable(_("Stripe did not answer properly (HTTP %(status)s). Nothing was recorded; "
                                 "try again in a moment.", status=exc.http_status or "?"))


# ---- Checkout --------------------------------------------------------------------------------------

def start_checkout(session: Session, invoice_id: int, amount: Decimal, actor_id: int | None, now: datetime,
                   billing: BillingSettings, *, success_url: str, cancel_url: str, locale: str = "en",
                   customer_email: str | None = None) -> str:
    """Create a Stripe Checkout Session for ``amount`` of the invoice, record the pending payment
    (``payments.start_online_payment``), commit, and return the Checkout URL to send the payer to.
    422/409 (bad amount, invoice not payable) before Stripe is asked; 502 when Stripe refuses or is
    down, and then nothing is written."""
    stripe_client = client(billing)
    token = secrets.token_urlsafe(18)
    with committing(session):
        # The placeholder reference is replaced by the Checkout Session's id before the commit.
        payment = payments.start_online_payment(session, invoice_id, "card", amount, f"pending:{token}", actor_id,
                                                now)
        invoice = session.get(Invoice, payment.invoice_id)
        assert invoice is not None
        number = invoice.number or str(invoice.id)
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [{
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "product_data": {"name": f"Invoice {number}"},
                    "unit_amount": to_minor(payment.amount, invoice.currency),
                },
                "quantity": 1,
            }],
            "client_reference_id": str(invoice.id),
            "metadata": {"invoice_id": str(invoice.id), "invoice_number": number, "payment_token": token},
            "payment_intent_data": {"metadata": {"invoice_id": str(invoice.id), "invoice_number": number}},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "locale": "vi" if (locale or "").lower().startswith("vi") else "en",
        }
        if customer_email:
            params["customer_email"] = customer_email
        try:
            checkout = stripe_client.v1.checkout.sessions.create(params,
                                                                 {"idempotency_key": f"clinic-checkout-{token}"})
        except stripe.StripeError as exc:
            raise _refused(exc) from exc
        checkout_id, url = getattr(checkout, "id", None), getattr(checkout, "url", None)
        if not isinstance(checkout_id, str) or not checkout_id or not isinstance(url, str) or not url:
            raise ProviderUnavailable(_("Stripe did not return a payment page. Nothing was recorded."))
        payment.provider_reference = checkout_id[:120]
        payment.checkout_url = url[:2000]
        payment.updated_at = now
    return url


# ---- webhooks --------------------------------------------------------------------------------------

SETTLING = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
FAILING = {"checkout.session.expired": "cancelled", "checkout.session.async_payment_failed": "failed"}


@dataclass(frozen=True)
class _Event:
    id: str
    type: str
    session_id: str | None
    payment_status: str | None
    amount_total: Any
    currency: str | None
    payment_intent: str | None


def _verified_event(payload: bytes, signature_header: str | None, billing: BillingSettings) -> _Event:
    if not billing.stripe_webhook_secret:
        raise SignatureInvalid(_("Stripe webhooks are not set up (STRIPE_WEBHOOK_SECRET)."))
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, billing.stripe_webhook_secret)
    except stripe.SignatureVerificationError as exc:
        raise SignatureInvalid(_("The Stripe signature is missing or wrong.")) from exc
    except UnicodeDecodeError as exc:  # not text at all: cannot have been signed by Stripe
        raise SignatureInvalid(_("The Stripe signature is missing or wrong.")) from exc
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:  # signed, but no event
        raise BadEvent(_("The body is not a Stripe event.")) from exc
    try:
        values = event.to_dict()
    except (TypeError, AttributeError, RecursionError) as exc:
        raise BadEvent(_("The body is not a Stripe event.")) from exc
    event_id, kind = values.get("id"), values.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(kind, str) or not kind:
        raise BadEvent(_("The body is not a Stripe event."))
    data = values.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):  # expanded
        intent = intent.get("id")

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    is_checkout = obj.get("object") in (None, "checkout.session")
    return _Event(id=event_id, type=kind, session_id=text(obj.get("id")) if is_checkout else None,
                  payment_status=text(obj.get("payment_status")), amount_total=obj.get("amount_total"),
                  currency=text(obj.get("currency")), payment_intent=text(intent))


def handle_webhook(session: Session, payload: bytes, signature_header: str | None, now: datetime,
                   billing: BillingSettings) -> str:
    """Verify ``Stripe-Signature`` and apply the event once; raises ``SignatureInvalid`` (400).
    Returns what was done: "paid", "unapplied", "duplicate", "cancelled", "failed", "unknown
    session", "ignored", ... (kept on the event's row)."""
    event = _verified_event(payload, signature_header, billing)
    settled: payments.Settled | None = None
    with committing(session):
        if not payments.claim_event(session, PROVIDER, event.id, event.type, now):
            session.rollback()
            return "duplicate"
        outcome = _apply(session, event, now)
        if isinstance(outcome, payments.Settled):
            settled = outcome
            outcome = _settled_outcome(outcome)
        session.execute(update(ProviderEvent)
                        .where(ProviderEvent.provider == PROVIDER, ProviderEvent.event_id == event.id[:120])
                        .values(outcome=outcome[:300]))
    if settled is not None and settled.applied and settled.payment is not None and billing.email_on_payment:
        billing_notify.payment_received(settled.payment.id)
    return outcome


def _settled_outcome(settled: payments.Settled) -> str:
    if settled.payment is None:
        return "unknown session"
    if settled.applied:
        return "paid"
    return settled.payment.status if settled.payment.status != "succeeded" else "already paid"


def _apply(session: Session, event: _Event, now: datetime) -> str | payments.Settled:
    if event.type not in SETTLING and event.type not in FAILING:
        return "ignored"
    if event.session_id is None:
        return "no checkout session"
    if event.type in FAILING:
        payment = payments.fail_online_payment(session, PROVIDER, event.session_id, now, FAILING[event.type])
        if payment is None:
            return "unknown session"
        return payment.status if payment.status in ("cancelled", "failed") else f"kept {payment.status}"
    if event.type == "checkout.session.completed" and event.payment_status != "paid":
        return "awaiting payment"  # a delayed method: async_payment_succeeded/failed follows
    payment = payments.find_online_payment(session, PROVIDER, event.session_id)
    if payment is None:
        return "unknown session"
    invoice = session.get(Invoice, payment.invoice_id)
    currency = invoice.currency if invoice is not None else "VND"
    if event.currency is not None and event.currency.upper() != currency.upper():
        payments.fail_online_payment(session, PROVIDER, event.session_id, now)
        return "wrong currency"
    try:
        amount = from_minor(event.amount_total, currency)
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None:
        # Never count a payment whose amount Stripe did not state: it stays pending.
        return "no amount"
    return payments.settle_online_payment(session, PROVIDER, event.session_id, amount, event.payment_intent, now)


# ---- refunds ---------------------------------------------------------------------------------------

def refund(payment: Payment, amount: Decimal, reason: str, billing: BillingSettings) -> str:
    """Stripe's refund id for ``amount`` of the card payment (Refund API on its PaymentIntent).

    The idempotency key names the payment, what it had refunded so far and the amount: a request
    retried after a lost answer (or after our commit failed) gets Stripe's first refund back instead
    of a second one, while a later refund of the same amount is a new request."""
    if not payment.provider_charge:
        raise ProviderUnavailable(_("Stripe has not told us the payment behind this card payment: refund it "
                                    "in Stripe's dashboard."))
    stripe_client = client(billing)
    currency = payment.invoice.currency if getattr(payment, "invoice", None) is not None else "VND"
    key = f"clinic-refund-{payment.id}-{Decimal(payment.amount_refunded or 0):f}-{Decimal(amount):f}"
    try:
        made = stripe_client.v1.refunds.create(
            {"payment_intent": payment.provider_charge, "amount": to_minor(amount, currency),
             "metadata": {"reason": reason[:500], "payment_id": str(payment.id),
                          "invoice_id": str(payment.invoice_id)}},
            {"idempotency_key": key})
    except stripe.StripeError as exc:
        raise _refused(exc) from exc
    refund_id = getattr(made, "id", None)
    status = getattr(made, "status", None)
    if not isinstance(refund_id, str) or not refund_id:
        raise ProviderUnavailable(_("Stripe did not return a refund. Nothing was recorded."))
    if status in ("failed", "canceled"):
        raise ProviderUnavailable(_("Stripe refused the refund (%(status)s). Nothing was recorded.", status=status))
    return refund_id
