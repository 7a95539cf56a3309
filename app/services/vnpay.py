"""VNPay (the gateway Vietnamese clinics use): the signed payment URL, the return page and the IPN
callback, each verified with HMAC-SHA512 and each transaction applied once; refunds through
VNPay's merchant API.

The protocol (VNPay payment gateway, version 2.1.0):

* **Payment URL** (``start_payment``): the ``vnp_*`` parameters sorted by name, each key and value
  URL-encoded (``quote_plus``) and joined with ``&``; ``vnp_SecureHash`` = HMAC-SHA512 of that
  query with the terminal's hash secret, appended to it. ``vnp_Amount`` is the amount x 100 (VND
  has no minor unit; VNPay still counts in hundredths), dates are ``yyyyMMddHHmmss`` in
  Vietnam's time (GMT+7). ``vnp_TxnRef`` is ours and unique per attempt: ``<invoice id>-<token>``;
  the pending payment keeps it as its ``provider_reference``.
* **Return URL** (``return_status``): where VNPay sends the payer back. It is signed the same way
  but only *shows* what happened: the payer's browser could be replayed or stopped, so the state
  changes only through the IPN.
* **IPN** (``handle_ipn``): VNPay's server-to-server call (a GET with the same signed parameters)
  that settles the payment. The answer is the JSON ``{"RspCode": .., "Message": ..}`` VNPay
  expects: 97 bad signature, 01 unknown order, 04 wrong amount, 02 already confirmed (a
  redelivery, or a failure for a payment already settled: VNPay stops retrying), 00 applied, 99 an
  error of ours (VNPay retries). Each (vnp_TxnRef, vnp_TransactionNo) is claimed once
  (``payments.claim_event``) in the transaction that applies it.
* **Refund** (``refund``): a JSON POST to the merchant API (``vnp_Command=refund``) signed with
  HMAC-SHA512 over its fields joined by ``|`` in the order VNPay fixes; VNPay's answer is
  signed the same way and checked.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.models import Invoice, Payment, ProviderEvent
from app.services import billing_notify, payments
from app.services.billing_settings import BillingSettings
from app.services.errors import Conflict, FieldErrors, ProviderUnavailable, committing
from app.services.vietqr import ascii_text

log = logging.getLogger(__name__)

PROVIDER = "vnpay"
VERSION = "2.1.0"
VN_TIME = ZoneInfo("Asia/Ho_Chi_Minh")  # VNPay reads and writes its dates in GMT+7
EXPIRE_MINUTES = 15
LOCALES = ("vn", "en")
API_TIMEOUT_SECONDS = 20
# The fields of a refund request and of its answer, in the order VNPay signs them.
REFUND_SIGNED = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType",
                 "vnp_TxnRef", "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy",
                 "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
REFUND_ANSWER_SIGNED = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
                        "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                        "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo")
UNSIGNED = ("vnp_SecureHash", "vnp_SecureHashType")


# ---- signatures ---------------------------------------------------------------------------------

def vnp_date(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` in Vietnam's time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VN_TIME).strftime("%Y%m%d%H%M%S")


def hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def signed_query(params: Mapping[str, Any], *, keep_empty: bool = False) -> str:
    """The query VNPay signs: the ``vnp_*`` parameters but the hash, by name, ``quote_plus``-encoded.
    Empty values are left out (VNPay's .NET and Java samples) or kept (its PHP sample)."""
    pairs = sorted((str(key), "" if value is None else str(value)) for key, value in params.items()
                   if str(key).startswith("vnp_") and key not in UNSIGNED and (keep_empty or value not in (None, "")))
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pairs)


def sign(params: Mapping[str, Any], secret: str) -> str:
    return hmac_sha512(secret, signed_query(params))


def payment_url(params: Mapping[str, Any], billing: BillingSettings) -> str:
    query = signed_query(params)
    return f"{billing.vnpay_pay_url}?{query}&vnp_SecureHash={hmac_sha512(billing.vnpay_hash_secret, query)}"


def verify(params: Mapping[str, Any], secret: str) -> bool:
    """Whether ``params`` (a return or IPN query) carry VNPay's signature made with ``secret``."""
    given = params.get("vnp_SecureHash")
    if not secret or not isinstance(given, str) or not given:
        return False
    given = given.strip().lower()
    if hmac.compare_digest(sign(params, secret), given):
        return True
    # A parameter sent empty (vnp_BankTranNo of a failed payment): VNPay's samples differ on
    # whether it is signed, so both readings are accepted.
    has_empty = any(str(key).startswith("vnp_") and key not in UNSIGNED and value in (None, "")
                    for key, value in params.items())
    return has_empty and hmac.compare_digest(hmac_sha512(secret, signed_query(params, keep_empty=True)), given)


# ---- starting a payment -------------------------------------------------------------------------

def new_reference(invoice_id: int) -> str:
    """vnp_TxnRef: unique per attempt, so a second try at the same invoice is a new order for VNPay."""
    return f"{invoice_id}-{secrets.token_hex(6)}"


def order_info(invoice: Invoice) -> str:
    """vnp_OrderInfo: Vietnamese without diacritics, no special characters (VNPay's rule)."""
    return ascii_text(f"Thanh toan hoa don {invoice.number or invoice.id}", 255)


def start_payment(session: Session, invoice_id: int, amount: Decimal, actor_id: int | None, now: datetime,
                  billing: BillingSettings, *, return_url: str, client_ip: str, locale: str = "vn") -> str:
    """Record the pending VNPay payment (its vnp_TxnRef), commit, and return the signed payment URL."""
    if not billing.vnpay_enabled:
        raise ProviderUnavailable(_("VNPay is not set up for this clinic (VNPAY_TMN_CODE, VNPAY_HASH_SECRET)."))
    if locale not in LOCALES:
        locale = "en" if str(locale).lower().startswith("en") else "vn"
    reference = new_reference(invoice_id)
    with committing(session):
        payment = payments.start_online_payment(session, invoice_id, "vnpay", amount, reference, actor_id, now)
        invoice = payment.invoice
        if invoice.currency != "VND":
            raise Conflict(_("VNPay takes payments in VND only; this invoice is in %(currency)s.",
                             currency=invoice.currency))
        params = {
            "vnp_Version": VERSION,
            "vnp_Command": "pay",
            "vnp_TmnCode": billing.vnpay_tmn_code,
            "vnp_Amount": str(int(Decimal(payment.amount) * 100)),
            "vnp_CurrCode": "VND",
            "vnp_TxnRef": reference,
            "vnp_OrderInfo": order_info(invoice),
            "vnp_OrderType": "other",
            "vnp_Locale": locale,
            "vnp_ReturnUrl": return_url,
            "vnp_IpAddr": client_ip or "127.0.0.1",
            "vnp_CreateDate": vnp_date(now),
            "vnp_ExpireDate": vnp_date(now + timedelta(minutes=EXPIRE_MINUTES)),
        }
        url = payment_url(params, billing)
        payment.checkout_url = url
    return url


# ---- the IPN: VNPay's server tells us the outcome -----------------------------------------------

CONFIRMED = ("00", "Confirm Success")
ALREADY = ("02", "Order already confirmed")
NOT_FOUND = ("01", "Order not found")
BAD_AMOUNT = ("04", "Invalid amount")
BAD_SIGNATURE = ("97", "Invalid signature")
OUR_ERROR = ("99", "Unknown error")


def _amount_of(params: Mapping[str, Any]) -> Decimal | None:
    try:
        hundredths = Decimal(str(params.get("vnp_Amount", "")))
    except (InvalidOperation, ValueError):
        return None
    if not hundredths.is_finite() or hundredths <= 0:
        return None
    return hundredths / 100


def paid(params: Mapping[str, Any]) -> bool:
    """VNPay's answer says the money was taken."""
    return params.get("vnp_ResponseCode") == "00" and params.get("vnp_TransactionStatus") == "00"


def handle_ipn(session: Session, params: Mapping[str, Any], now: datetime,
               billing: BillingSettings) -> tuple[str, str]:
    """Apply VNPay's IPN once; (RspCode, Message) as VNPay expects them. Commits."""
    if not verify(params, billing.vnpay_hash_secret):
        return BAD_SIGNATURE
    reference = str(params.get("vnp_TxnRef") or "")
    applied: Payment | None = None
    try:
        payment = payments.find_online_payment(session, PROVIDER, reference) if reference else None
        if payment is None:
            return NOT_FOUND
        amount = _amount_of(params)
        if amount is None or amount != Decimal(payment.amount):
            return BAD_AMOUNT
        # Settled already: a redelivery, or a failure arriving after the success (it stays
        # succeeded). A success after a failure is still counted: the money was taken.
        if payment.status in ("succeeded", "unapplied") or (payment.status != "pending" and not paid(params)):
            return ALREADY
        event_id = f"{reference}:{params.get('vnp_TransactionNo') or '-'}"
        with committing(session):
            if not payments.claim_event(session, PROVIDER, event_id, "ipn", now):
                return ALREADY
            if paid(params):
                settled = payments.settle_online_payment(session, PROVIDER, reference, amount,
                                                         str(params.get("vnp_TransactionNo") or ""), now)
                outcome = settled.payment.status if settled.payment is not None else "unknown"
                applied = settled.payment if settled.applied else None
            else:
                status = "cancelled" if params.get("vnp_ResponseCode") == "24" else "failed"
                failed = payments.fail_online_payment(session, PROVIDER, reference, now, status)
                if failed is not None and failed.status in ("failed", "cancelled"):
                    failed.note = ascii_text(f"VNPay {params.get('vnp_ResponseCode')}", 300)
                outcome = f"{status} (vnp_ResponseCode {params.get('vnp_ResponseCode')})"
            session.execute(update(ProviderEvent).where(ProviderEvent.provider == PROVIDER,
                                                        ProviderEvent.event_id == event_id[:120])
                            .values(outcome=outcome[:300]))
    except (SQLAlchemyError, Conflict, FieldErrors) as exc:
        session.rollback()
        log.warning("VNPay IPN for %s not applied: %s", reference, exc)
        return OUR_ERROR
    if applied is not None and billing.email_on_payment:
        billing_notify.payment_received(applied.id)
    return CONFIRMED


# ---- the return page: shows, never changes ------------------------------------------------------

@dataclass(frozen=True)
class ReturnStatus:
    """What the payer is shown on coming back from VNPay. ``state``: "received" (settled),
    "confirming" (VNPay says paid, its IPN has not arrived yet), "failed", "invalid" (the
    signature does not hold: show nothing of the order), "unknown" (no such order)."""

    state: str
    invoice_id: int | None = None
    invoice_number: str | None = None
    amount: Decimal | None = None
    response_code: str | None = None


def return_status(session: Session, params: Mapping[str, Any], billing: BillingSettings) -> ReturnStatus:
    """Read-only: what to show on the return page for VNPay's signed redirect ``params``."""
    if not verify(params, billing.vnpay_hash_secret):
        return ReturnStatus("invalid")
    reference = str(params.get("vnp_TxnRef") or "")
    payment = payments.find_online_payment(session, PROVIDER, reference) if reference else None
    code = str(params.get("vnp_ResponseCode") or "")
    if payment is None:
        return ReturnStatus("unknown", response_code=code)
    invoice = session.get(Invoice, payment.invoice_id)
    number = invoice.number if invoice is not None else None
    if payment.status in ("succeeded", "unapplied"):
        state = "received"
    elif payment.status in ("failed", "cancelled") or not paid(params):
        state = "failed"
    else:
        state = "confirming"
    return ReturnStatus(state, payment.invoice_id, number, Decimal(payment.amount), code)


# ---- refunds through the merchant API -----------------------------------------------------------

def refund_request(payment: Payment, amount: Decimal, reason: str, billing: BillingSettings,
                   now: datetime) -> dict[str, str]:
    """The signed JSON body of a refund of ``amount`` of ``payment``."""
    full = Decimal(amount) == Decimal(payment.amount) and not Decimal(payment.amount_refunded or 0)
    body = {
        "vnp_RequestId": uuid.uuid4().hex,
        "vnp_Version": VERSION,
        "vnp_Command": "refund",
        "vnp_TmnCode": billing.vnpay_tmn_code,
        "vnp_TransactionType": "02" if full else "03",  # 02 full, 03 partial
        "vnp_TxnRef": payment.provider_reference or "",
        "vnp_Amount": str(int(Decimal(amount) * 100)),
        "vnp_TransactionNo": payment.provider_charge or "",
        "vnp_TransactionDate": vnp_date(payment.created_at),  # the payment's vnp_CreateDate
        "vnp_CreateBy": "clinic",
        "vnp_CreateDate": vnp_date(now),
        "vnp_IpAddr": "127.0.0.1",
        "vnp_OrderInfo": ascii_text(f"Hoan tien {payment.provider_reference}: {reason}", 255),
    }
    body["vnp_SecureHash"] = hmac_sha512(billing.vnpay_hash_secret, "|".join(body[key] for key in REFUND_SIGNED))
    return body


def answer_is_signed(answer: Mapping[str, Any], secret: str) -> bool:
    given = answer.get("vnp_SecureHash")
    if not isinstance(given, str) or not given:
        return False
    data = "|".join(str(answer.get(key) if answer.get(key) is not None else "") for key in REFUND_ANSWER_SIGNED)
    return hmac.compare_digest(hmac_sha512(secret, data), given.strip().lower())


def refund(payment: Payment, amount: Decimal, reason: str, billing: BillingSettings, now: datetime) -> str:
    """VNPay's reference for the refund of ``amount`` of the payment."""
    import requests

    if not billing.vnpay_enabled:
        raise ProviderUnavailable(_("VNPay is not set up for this clinic: the refund was not made."))
    if not payment.provider_charge:
        raise ProviderUnavailable(_("VNPay has not confirmed this payment's transaction: it cannot be refunded "
                                    "through VNPay."))
    body = refund_request(payment, amount, reason, billing, now)
    try:
        response = requests.post(billing.vnpay_api_url, json=body, timeout=API_TIMEOUT_SECONDS)
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("VNPay refund of %s: %s", payment.provider_reference, exc)
        raise ProviderUnavailable(_("VNPay could not be reached: the refund was not made. Try again later.")) from exc
    if not isinstance(answer, dict):
        raise ProviderUnavailable(_("VNPay gave an answer that could not be read: the refund was not made."))
    code = str(answer.get("vnp_ResponseCode") or "")
    if code != "00":
        message = str(answer.get("vnp_Message") or "")[:200]
        raise ProviderUnavailable(_("VNPay refused the refund (code %(code)s: %(message)s); nothing was changed.",
                                    code=code or "?", message=message or "-"))
    if not answer_is_signed(answer, billing.vnpay_hash_secret):
        raise ProviderUnavailable(_("VNPay's answer to the refund is not signed with the clinic's secret: "
                                    "nothing was recorded. Check the refund in VNPay's merchant portal."))
    return str(answer.get("vnp_TransactionNo") or answer.get("vnp_ResponseId") or body["vnp_RequestId"])[:120]
