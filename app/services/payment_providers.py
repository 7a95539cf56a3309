"""Refunds by the payment's own method: cash and bank transfers are given back by the cashier (no
provider call); a card payment through Stripe's Refund API, a VNPay payment through VNPay's
refund API. Asked before anything is written; a refusal raises ``ProviderUnavailable`` (502).

Shell (issue 11): ``app.services.stripe_gateway.refund`` and ``app.services.vnpay.refund`` are
filled by the card and VNPay parts."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.models import Payment
from app.services.billing_settings import BillingSettings


def refund(payment: Payment, amount: Decimal, reason: str, billing: BillingSettings, now: datetime) -> str | None:
    """The provider's refund reference, or None for a refund made by hand (cash, transfer)."""
    if payment.provider == "stripe":
        from app.services.stripe_gateway import refund as stripe_refund

        return stripe_refund(payment, amount, reason, billing)
    if payment.provider == "vnpay":
        from app.services.vnpay import refund as vnpay_refund

        return vnpay_refund(payment, amount, reason, billing, now)
    return None
