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


def start_payment(session, invoice_id: int, amount: Decimal, actor_id: int | None, now: datetime,
                  billing: BillingSettings, *, return_url: str, client_ip: str, locale: str = "vn") -> str:
    """Record the pending VNPay payment (its vnp_TxnRef), commit, and return the signed payment URL."""
    raise ProviderUnavailable("VNPay is not built yet.")
