"""Card payments through Stripe Checkout: the ``stripe`` library creates the Checkout Session for
what is owed; ``POST /webhooks/stripe`` verifies the signature and applies each event id once;
refunds through Stripe's Refund API.

Shell (issue 11): the card part fills this module."""
from __future__ import annotations

from decimal import Decimal

from app.models import Payment
from app.services.billing_settings import BillingSettings
from app.services.errors import ProviderUnavailable


def refund(payment: Payment, amount: Decimal, reason: str, billing: BillingSettings) -> str:
    """Stripe's refund id for ``amount`` of the card payment."""
    raise ProviderUnavailable("Stripe refunds are not built yet.")


def start_checkout(session, invoice_id: int, amount: Decimal, actor_id: int | None, now, billing: BillingSettings,
                   *, success_url: str, cancel_url: str, locale: str = "en", customer_email: str | None = None) -> str:
    """Create a Stripe Checkout Session for ``amount`` of the invoice, record the pending payment
    (``payments.start_online_payment``), commit, and return the Checkout URL to send the payer to."""
    raise ProviderUnavailable("Stripe Checkout is not built yet.")


def handle_webhook(session, payload: bytes, signature_header: str | None, now, billing: BillingSettings):
    """Verify ``Stripe-Signature`` and apply the event once; raises ``SignatureInvalid`` (400)."""
    raise ProviderUnavailable("Stripe webhooks are not built yet.")
