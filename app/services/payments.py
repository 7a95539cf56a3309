"""Payments and refunds: money in and out of an issued invoice, exactly once.

* Cash and confirmed bank transfers are recorded at the counter (``record_payment``); a card
  (Stripe Checkout) or VNPay payment starts ``pending`` (``start_online_payment``) and becomes
  ``succeeded`` when the provider's signed webhook or IPN says so (``settle_online_payment``),
  each provider event applied at most once (``claim_event``).
* Never above what is owed: the invoice row is locked (PostgreSQL ``SELECT ... FOR UPDATE``) while
  the payment is checked and added, and the database refuses ``amount_paid > total`` as the last
  line. An online payment that arrives after the invoice was settled another way is kept as
  ``unapplied`` for the cashier to refund.
* Refunds, full or partial, go back by the payment's own method (card and VNPay through the
  provider's API, ``app.services.payment_providers``), never above what the payment took.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import format_currency, gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import record_event
from app.models import Invoice, Payment, ProviderEvent, Refund
from app.services import billing_notify, cache_hooks
from app.services.billing import MAX_PRICE, PAYABLE, lock_invoice
from app.services.billing_settings import BillingSettings
from app.services.errors import Conflict, FieldErrors, NotFound, committing
from app.services.money import ZERO, is_exact

COUNTER_METHODS = ("cash", "bank_transfer")
ONLINE_METHODS = {"card": "stripe", "vnpay": "vnpay"}


def _amount(value: Any, field: str, currency: str, errors: dict[str, str]) -> Decimal | None:
    try:
        amount = None if value in (None, "") or isinstance(value, bool) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        amount = None
        errors[field] = _("Enter an amount.")
        return None
    if amount is None or not amount.is_finite():
        errors[field] = _("Enter an amount.")
    elif amount <= 0:
        errors[field] = _("Enter an amount above zero.")
    elif amount > MAX_PRICE:
        errors[field] = _("Too large.")
    elif not is_exact(amount, currency):
        errors[field] = _("Amounts in %(currency)s have no smaller unit: round the amount.", currency=currency)
    else:
        return amount
    return None


def _check_payable(invoice: Invoice) -> None:
    label = invoice.number or invoice.id
    if invoice.status == "draft":
        raise Conflict(_("Invoice %(number)s is still a draft: issue it before taking payment.", number=label))
    if invoice.status == "paid":
        raise Conflict(_("Invoice %(number)s is already paid in full.", number=label))
    if invoice.status not in PAYABLE:
        raise Conflict(_("Invoice %(number)s is %(status)s and cannot take payments.", number=label,
                         status=_(invoice.status)))


def _follow_status(invoice: Invoice) -> None:
    paid, refunded = Decimal(invoice.amount_paid or 0), Decimal(invoice.amount_refunded or 0)
    if paid > 0 and refunded >= paid:
        invoice.status = "refunded"
    elif paid >= Decimal(invoice.total) and paid > 0:
        invoice.status = "paid"
    elif paid > 0:
        invoice.status = "partially_paid"
    elif invoice.status in ("partially_paid", "paid"):
        invoice.status = "issued"


def _existing(session: Session, idempotency_key: str | None, invoice_id: int | None = None) -> Payment | None:
    """The payment already recorded under this key; a key reused for another invoice is refused
    (409) rather than answered with a payment of someone else's bill."""
    if not idempotency_key:
        return None
    first = session.execute(select(Payment).where(Payment.idempotency_key == idempotency_key)).scalar_one_or_none()
    if first is not None and invoice_id is not None and first.invoice_id != invoice_id:
        raise Conflict(_("This payment key was already used for another invoice."), "idempotency_key")
    return first


def record_payment(session: Session, invoice_id: int, method: str, amount: Any, actor_id: int | None,
                   now: datetime, *, tendered: Any = None, reference: str | None = None,
                   idempotency_key: str | None = None, note: str | None = None,
                   billing: BillingSettings | None = None) -> Payment:
    """Cash (``tendered``: what the patient handed over; the change is kept on the payment) or a
    bank transfer the cashier saw arrive (``reference``: the bank's transaction reference). The
    same ``idempotency_key`` again returns the first payment. Commits; 422 for bad amounts, 409
    when the invoice cannot take it. Then the receipt goes by e-mail."""
    first = _existing(session, idempotency_key, invoice_id)
    if first is not None:
        return first
    with committing(session):
        invoice = lock_invoice(session, invoice_id)
        # The same click twice at once: the second waited for the invoice's lock and now sees
        # the first one's payment (committed meanwhile).
        first = _existing(session, idempotency_key, invoice_id)
        if first is not None:
            return first
        errors: dict[str, str] = {}
        if method not in COUNTER_METHODS:
            errors["method"] = _("Choose cash or bank transfer (cards and VNPay are paid online).")
        value = _amount(amount, "amount", invoice.currency, errors)
        cash_given: Decimal | None = None
        if method == "cash" and tendered not in (None, ""):
            cash_given = _amount(tendered, "tendered", invoice.currency, errors)
            if cash_given is not None and value is not None and cash_given < value:
                errors["tendered"] = _("The cash handed over is less than the amount paid.")
        ref = (reference or "").strip()[:120] or None
        if errors:
            raise FieldErrors(errors)
        assert value is not None
        _check_payable(invoice)
        if value > invoice.balance:
            raise Conflict(_("Only %(balance)s is still owed on invoice %(number)s: the payment cannot be more.",
                             balance=_plain(invoice.balance, invoice.currency), number=invoice.number), "amount")
        payment = Payment(invoice_id=invoice.id, method=method, amount=value, status="succeeded",
                          provider="manual" if method == "cash" else "bank", provider_reference=ref,
                          idempotency_key=idempotency_key, tendered=cash_given,
                          change_given=(cash_given - value) if cash_given is not None else None,
                          note=(note or "").strip()[:300] or None, received_by_id=actor_id, paid_at=now,
                          created_at=now, updated_at=now)
        session.add(payment)
        cache_hooks.revenue_changed(session, now)
        invoice.amount_paid = Decimal(invoice.amount_paid or 0) + value
        _follow_status(invoice)
        invoice.updated_at = now
        session.flush()
        record_event(session, "payment_recorded", "Invoice", invoice.id,
                     {"payment": payment.id, "method": method, "amount": str(value)}, user_id=actor_id)
    if billing is None or billing.email_on_payment:
        billing_notify.payment_received(payment.id)
    return payment


def _plain(amount: Decimal, currency: str | None = None) -> str:
    """An amount in a message, the way the reader's language writes money ("491.063 ₫" in
    Vietnamese, "₫491,063" in English)."""
    return format_currency(Decimal(amount), currency or "VND")


# ---- online payments (Stripe Checkout, VNPay) -----------------------------------------------------

def start_online_payment(session: Session, invoice_id: int, method: str, amount: Any, reference: str,
                         actor_id: int | None, now: datetime, *, checkout_url: str | None = None) -> Payment:
    """A pending card or VNPay payment for ``amount`` (at most what is owed), under the provider's
    reference (Stripe's Checkout Session id, VNPay's vnp_TxnRef). Not committed: the caller asks
    the provider first and commits when it answered."""
    invoice = lock_invoice(session, invoice_id)
    _check_payable(invoice)  # a paid or void invoice first: "already paid" says more than "amount"
    errors: dict[str, str] = {}
    if method not in ONLINE_METHODS:
        errors["method"] = _("Choose card or VNPay.")
    value = _amount(amount, "amount", invoice.currency, errors)
    if errors:
        raise FieldErrors(errors)
    assert value is not None
    if value > invoice.balance:
        raise Conflict(_("Only %(balance)s is still owed on invoice %(number)s: the payment cannot be more.",
                         balance=_plain(invoice.balance, invoice.currency), number=invoice.number), "amount")
    payment = Payment(invoice_id=invoice.id, method=method, amount=value, status="pending",
                      provider=ONLINE_METHODS[method], provider_reference=reference[:120], checkout_url=checkout_url,
                      received_by_id=actor_id, created_at=now, updated_at=now)
    session.add(payment)
    session.flush()
    return payment


def find_online_payment(session: Session, provider: str, reference: str) -> Payment | None:
    return session.execute(select(Payment).where(Payment.provider == provider,
                                                 Payment.provider_reference == reference)).scalar_one_or_none()


def claim_event(session: Session, provider: str, event_id: str, kind: str | None, now: datetime) -> bool:
    """Record that ``event_id`` from ``provider`` is being applied; False when it already was (a
    redelivery). In the caller's transaction: if applying fails, the claim rolls back too."""
    try:
        with session.begin_nested():
            session.add(ProviderEvent(provider=provider, event_id=event_id[:120], kind=(kind or "")[:80] or None,
                                      received_at=now))
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class Settled:
    payment: Payment | None
    applied: bool  # False: already applied, unknown, or kept as unapplied


def settle_online_payment(session: Session, provider: str, reference: str, amount: Decimal | None,
                          charge: str | None, now: datetime) -> Settled:
    """The provider says the payment under ``reference`` succeeded (for ``amount``): count it on
    its invoice once. If the invoice meanwhile needs less, the payment is kept ``unapplied`` for a
    refund. Not committed (the webhook handler commits with its event claim)."""
    payment = find_online_payment(session, provider, reference)
    if payment is None:
        return Settled(None, False)
    invoice = lock_invoice(session, payment.invoice_id)
    session.refresh(payment, with_for_update=True)
    if payment.status in ("succeeded", "unapplied"):
        return Settled(payment, False)
    if amount is not None and Decimal(amount) != Decimal(payment.amount):
        payment.status = "failed"
        payment.note = _("The provider reported %(amount)s, not the amount asked.",
                         amount=_plain(Decimal(amount), invoice.currency))
        return Settled(payment, False)
    payment.provider_charge = (charge or "")[:120] or payment.provider_charge
    payment.paid_at = now
    payment.updated_at = now
    cache_hooks.revenue_changed(session, now)
    if invoice.status in PAYABLE and Decimal(payment.amount) <= invoice.balance:
        payment.status = "succeeded"
        invoice.amount_paid = Decimal(invoice.amount_paid or 0) + Decimal(payment.amount)
        _follow_status(invoice)
        invoice.updated_at = now
        record_event(session, "payment_recorded", "Invoice", invoice.id,
                     {"payment": payment.id, "method": payment.method, "amount": str(payment.amount)}, user_id=None)
        session.flush()
        return Settled(payment, True)  # the caller commits, then calls billing_notify.payment_received
    payment.status = "unapplied"
    payment.note = _("Paid after the invoice was settled another way: refund it.")
    return Settled(payment, False)


def fail_online_payment(session: Session, provider: str, reference: str, now: datetime,
                        status: str = "failed") -> Payment | None:
    """The provider says the payment failed or expired; a succeeded one stays as it is. Not committed."""
    payment = find_online_payment(session, provider, reference)
    if payment is not None and payment.status == "pending":
        payment.status = status
        payment.updated_at = now
    return payment


# ---- refunds ------------------------------------------------------------------------------------

def refundable(payment: Payment) -> Decimal:
    if payment.status not in ("succeeded", "unapplied"):
        return ZERO
    return Decimal(payment.amount) - Decimal(payment.amount_refunded or 0)


def refund_payment(session: Session, payment_id: int, amount: Any, reason: Any, actor_id: int | None,
                   now: datetime, billing: BillingSettings, *, idempotency_key: str | None = None) -> Refund:
    """Give back ``amount`` of a payment by its own method, with a reason: cash from the drawer,
    a transfer back, a card or VNPay payment through the provider's API (asked before anything is
    written; its refusal is a 502 and nothing changes). Never above what the payment took less its
    earlier refunds. Commits."""
    from app.services import payment_providers

    if idempotency_key:
        first = session.execute(select(Refund).where(Refund.idempotency_key == idempotency_key)).scalar_one_or_none()
        if first is not None:
            return first
    with committing(session):
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound(_("There is no such payment."), "payment_id")
        invoice = lock_invoice(session, payment.invoice_id)
        session.refresh(payment, with_for_update=True)
        if idempotency_key:  # the same refund asked twice at once: the second sees the first's
            first = session.execute(select(Refund).where(Refund.idempotency_key == idempotency_key)
                                    ).scalar_one_or_none()
            if first is not None:
                return first
        errors: dict[str, str] = {}
        value = _amount(amount, "amount", invoice.currency, errors)
        why = reason.strip()[:300] if isinstance(reason, str) else ""
        if not why:
            errors["reason"] = _("Say why the money is given back.")
        if errors:
            raise FieldErrors(errors)
        assert value is not None
        left = refundable(payment)
        if left <= 0:
            raise Conflict(_("Nothing is left to refund on this payment."), "amount")
        if value > left:
            raise Conflict(_("At most %(left)s can be refunded on this payment.",
                             left=_plain(left, invoice.currency)), "amount")
        reference = payment_providers.refund(payment, value, why, billing, now)
        refund = Refund(payment_id=payment.id, invoice_id=invoice.id, amount=value, method=payment.method,
                        status="succeeded", reason=why, provider_reference=reference,
                        idempotency_key=idempotency_key, refunded_by_id=actor_id, refunded_at=now,
                        created_at=now, updated_at=now)
        session.add(refund)
        cache_hooks.revenue_changed(session, now, payment.paid_at)
        payment.amount_refunded = Decimal(payment.amount_refunded or 0) + value
        if payment.status == "succeeded":
            invoice.amount_refunded = Decimal(invoice.amount_refunded or 0) + value
            _follow_status(invoice)
        invoice.updated_at = now
        session.flush()
        record_event(session, "payment_refunded", "Invoice", invoice.id,
                     {"payment": payment.id, "refund": refund.id, "amount": str(value)}, user_id=actor_id)
    return refund


def invoice_payments(session: Session, invoice_id: int) -> list[Payment]:
    return list(session.execute(select(Payment).where(Payment.invoice_id == invoice_id)
                                .order_by(Payment.id)).scalars())


def invoice_refunds(session: Session, invoice_id: int) -> list[Refund]:
    return list(session.execute(select(Refund).where(Refund.invoice_id == invoice_id)
                                .order_by(Refund.id)).scalars())
