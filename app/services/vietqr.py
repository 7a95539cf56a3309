"""Bank transfer by VietQR (NAPAS 247): the EMVCo QR payload with the clinic's bank BIN and account
(settings), the exact amount and the invoice number as the transfer's reference, and the QR code
as SVG (the ``qrcode`` package, pure Python).

Shell (issue 11): the VietQR part fills ``emv_payload`` and ``qr_svg``."""
from __future__ import annotations

from decimal import Decimal

from app.services.billing_settings import BillingSettings


def emv_payload(billing: BillingSettings, amount: Decimal, reference: str) -> str:
    """The EMVCo payload (ends with its CRC16) a banking app scans to pay ``amount`` đồng to the
    clinic's account with ``reference`` as the message."""
    raise NotImplementedError


def qr_svg(payload: str) -> str:
    """The QR code of ``payload`` as inline SVG markup (scales to its container)."""
    raise NotImplementedError
