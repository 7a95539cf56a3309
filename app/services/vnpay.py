"""VNPay (the gateway Vietnamese clinics use): the signed payment URL, the return page and the IPN
callback, each verified with HMAC-SHA512 and each transaction applied once; refunds through
VNPay's merchant API.

Shell (issue 11): the VNPay part fills this module."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.models import Payment
from app.services.billing_settings import BillingSettings
from app.services.errors import ProviderUnavailable


def refund(payment: Payment, amount: Decimal, reason: str, billing: BillingSettings, now: datetime) -> str:
    """VNPay's reference for the refund of ``amount`` of the payment."""
    raise ProviderUnavailable("VNPay refunds are not built yet.")
