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
