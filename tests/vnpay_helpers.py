"""VNPay in tests: the test terminal's settings, VNPay's signing recipe written out apart from the
app's code, a started payment, and the IPN VNPay's server would send."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, quote_plus, urlsplit

SECRET = "TESTSECRETVNPAY0123456789ABCDEF"
TMN = "CLINIC01"
NOW = datetime(2026, 3, 2, 1, 30, 5, tzinfo=timezone.utc)  # 08:30:05 in Hanoi
RETURN_URL = "http://clinic.test/pay/vnpay/return"


def hand_sign(params: dict[str, str], secret: str = SECRET) -> str:
    """VNPay's own recipe, written out again: vnp_ fields but the hash, by name, key=quote_plus(value)."""
    data = "&".join(f"{key}={quote_plus(str(value))}" for key, value in sorted(params.items())
                    if key.startswith("vnp_") and key not in ("vnp_SecureHash", "vnp_SecureHashType") and value != "")
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def switch_on(app, monkeypatch) -> None:
    """The test terminal in the app's config (undone by ``monkeypatch`` after the test)."""
    for key, value in (("VNPAY_TMN_CODE", TMN), ("VNPAY_HASH_SECRET", SECRET),
                       ("VNPAY_PAY_URL", "https://sandbox.vnpayment.test/paymentv2/vpcpay.html"),
                       ("BILLING_EMAIL_ON_PAYMENT", False)):
        monkeypatch.setitem(app.config, key, value)


def url_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@dataclass
class Started:
    invoice: int
    url: str
    total: int  # what the invoice owes, all of it asked through VNPay

    @property
    def reference(self) -> str:
        return url_params(self.url)["vnp_TxnRef"]


def start(app, db, clinic) -> Started:
    """The factory's issued invoice and a VNPay payment started for all it owes (VNPay switched on)."""
    from app.models import Invoice
    from app.services import vnpay
    from app.services.billing_settings import BillingSettings

    invoice = clinic.invoice
    total = int(db.session.get(Invoice, invoice).total)
    assert total >= 300000
    billing = BillingSettings.from_config(app.config)
    with app.test_request_context():
        url = vnpay.start_payment(db.session, invoice, Decimal(total), None, NOW, billing,
                                  return_url=RETURN_URL, client_ip="203.0.113.7", locale="vn")
    return Started(invoice, url, total)


def ipn_params(reference: str, amount: int, response: str = "00", status: str = "00",
               transaction: str = "14123456", secret: str = SECRET) -> dict[str, str]:
    """What VNPay's server sends to the IPN address, signed as VNPay signs it."""
    params = {
        "vnp_Amount": str(amount * 100), "vnp_BankCode": "NCB", "vnp_BankTranNo": "VNP14123456",
        "vnp_CardType": "ATM", "vnp_OrderInfo": "Thanh toan hoa don", "vnp_PayDate": "20260302083200",
        "vnp_ResponseCode": response, "vnp_TmnCode": TMN, "vnp_TransactionNo": transaction,
        "vnp_TransactionStatus": status, "vnp_TxnRef": reference,
    }
    params["vnp_SecureHashType"] = "HmacSHA512"
    params["vnp_SecureHash"] = hand_sign(params, secret)
    return params
