"""The patient's own money in the portal (issue 11, item 4): my invoices, one invoice with its
lines, discount, VAT, totals and payments, and my payment history. Read only.

What a patient sees:

* invoices once *issued* (they have a number): issued, partly paid, paid, refunded, and void when
  an issued invoice was cancelled. Never a draft (the clinic is still adding to it), nor a draft
  voided before it was issued (it never had a number);
* payments the provider or the cashier confirmed (``succeeded``, and ``unapplied``: money taken
  after the invoice was settled another way, which the clinic refunds); never a ``pending``,
  ``failed`` or ``cancelled`` attempt;
* refunds that went through (``succeeded``).

Every function takes the portal's patient id *and* the login: a row must belong to that patient
and pass ``app.services.access`` (``readable_condition`` in the query, ``open_record`` for one
invoice, ``record_list_read`` for lists: each read leaves its audit row). Any other id (another
patient's invoice, a draft) is ``NotFound``, never "forbidden", and leaves a ``denied`` row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from flask_babel import gettext as _
from sqlalchemy import and_, false, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.models import Invoice, InvoiceLine, Payment, Refund
from app.services import access
from app.services.billing import PAYABLE
from app.services.errors import NotFound

MAX_INVOICES = 200
MAX_HISTORY = 500
SHOWN_PAYMENT_STATUSES = ("succeeded", "unapplied")
SHOWN_REFUND_STATUSES = ("succeeded",)


# --- what the pages get -----------------------------------------------------------------------

@dataclass(frozen=True)
class InvoiceLineView:
    id: int
    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    discount_share: Decimal
    tax_rate: Decimal
    tax: Decimal


@dataclass(frozen=True)
class InvoiceSummary:
    id: int
    number: str
    issued_at: datetime
    status: str  # issued | partially_paid | paid | refunded | void
    currency: str
    total: Decimal
    paid: Decimal
    refunded: Decimal
    balance: Decimal

    @property
    def net_received(self) -> Decimal:
        """What the clinic kept: paid minus given back."""
        return self.paid - self.refunded

    @property
    def payable(self) -> bool:
        """Whether the patient can still pay something on it (online or by transfer)."""
        return self.status in PAYABLE and self.balance > 0


@dataclass(frozen=True)
class MoneyMovement:
    """One line of the payment history: money in (a payment) or back out (a refund)."""

    id: int
    kind: str  # payment | refund
    at: datetime
    invoice_id: int
    invoice_number: str
    method: str  # cash | bank_transfer | card | vnpay
    amount: Decimal
    currency: str
    status: str  # a payment's succeeded | unapplied; a refund's succeeded
    reason: str | None = None  # a refund's reason


@dataclass(frozen=True)
class InvoiceDetail:
    summary: InvoiceSummary
    patient_name: str
    patient_code: str
    lines: list[InvoiceLineView]
    subtotal: Decimal
    discount: Decimal
    discount_kind: str | None  # amount | percent
    discount_value: Decimal | None  # the discount's reason is the clinic's note: not shown
    tax: Decimal
    movements: list[MoneyMovement]  # its payments and refunds, oldest first


@dataclass(frozen=True)
class _Ref:
    """A row's id for the audit (``record_list_read`` reads only ``id``; the audit rows commit,
    which expires loaded rows)."""

    id: int


def _refs(ids: Iterable[int]) -> list[_Ref]:
    return [_Ref(i) for i in ids]


# --- what a patient may see -------------------------------------------------------------------

def shown_invoice(patient_id: int) -> ColumnElement:
    """The patient's invoices that were issued (numbered): not drafts, not drafts voided unissued."""
    return and_(Invoice.patient_id == patient_id, Invoice.status != "draft", Invoice.number.is_not(None),
                Invoice.issued_at.is_not(None))


def _readable(user: Any, model: type, now: datetime) -> ColumnElement:
    condition = access.readable_condition(user, model, now)
    return condition if condition is not None else false()


def _summary(invoice: Invoice) -> InvoiceSummary:
    total, paid = Decimal(invoice.total or 0), Decimal(invoice.amount_paid or 0)
    assert invoice.number is not None and invoice.issued_at is not None
    return InvoiceSummary(id=invoice.id, number=invoice.number, issued_at=invoice.issued_at, status=invoice.status,
                          currency=invoice.currency, total=total, paid=paid,
                          refunded=Decimal(invoice.amount_refunded or 0),
                          balance=max(total - paid, Decimal(0)) if invoice.status in PAYABLE else Decimal(0))


def _not_found(session: Session, user: Any, invoice_id: int, patient_id: int) -> NotFound:
    access.record_denial(session, user, "Invoice", invoice_id, {"portal_patient": patient_id})
    return NotFound(_("There is no such invoice."), "invoice_id")


# --- invoices ---------------------------------------------------------------------------------

def patient_invoice_list(session: Session, user: Any, patient_id: int, now: datetime) -> list[InvoiceSummary]:
    """The patient's issued invoices, newest first (at most ``MAX_INVOICES``); one audit row."""
    invoices = list(session.execute(
        select(Invoice).where(shown_invoice(patient_id), _readable(user, Invoice, now))
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc()).limit(MAX_INVOICES)
    ).scalars())
    summaries = [_summary(invoice) for invoice in invoices]
    access.record_list_read(session, user, Invoice, _refs(s.id for s in summaries))
    return summaries


def _movements(session: Session, user: Any, patient_id: int, now: datetime,
               invoice_id: int | None = None) -> tuple[list[MoneyMovement], list[int], list[int]]:
    """Payments and refunds of the patient's shown invoices (or of one), oldest first; with the
    ids of the payments and of the refunds for the audit."""
    payment_query = (select(Payment, Invoice.number, Invoice.currency).join(Invoice, Invoice.id == Payment.invoice_id)
                     .where(shown_invoice(patient_id), Payment.status.in_(SHOWN_PAYMENT_STATUSES),
                            _readable(user, Payment, now)))
    refund_query = (select(Refund, Invoice.number, Invoice.currency).join(Invoice, Invoice.id == Refund.invoice_id)
                    .where(shown_invoice(patient_id), Refund.status.in_(SHOWN_REFUND_STATUSES),
                           _readable(user, Refund, now)))
    if invoice_id is not None:
        payment_query = payment_query.where(Invoice.id == invoice_id)
        refund_query = refund_query.where(Invoice.id == invoice_id)
    payments = session.execute(payment_query.order_by(Payment.id.desc()).limit(MAX_HISTORY)).all()
    refunds = session.execute(refund_query.order_by(Refund.id.desc()).limit(MAX_HISTORY)).all()
    movements = [MoneyMovement(p.id, "payment", p.paid_at or p.created_at, p.invoice_id, number or "", p.method,
                               Decimal(p.amount), currency, p.status) for p, number, currency in payments]
    movements += [MoneyMovement(r.id, "refund", r.refunded_at, r.invoice_id, number or "", r.method,
                                Decimal(r.amount), currency, r.status, r.reason) for r, number, currency in refunds]
    movements.sort(key=lambda m: (m.at, m.kind == "refund", m.id))
    return movements, [row[0].id for row in payments], [row[0].id for row in refunds]


def patient_payment_history(session: Session, user: Any, patient_id: int, now: datetime) -> list[MoneyMovement]:
    """Every payment and refund on the patient's invoices, newest first; audited."""
    movements, payment_ids, refund_ids = _movements(session, user, patient_id, now)
    access.record_list_read(session, user, Payment, _refs(payment_ids))
    access.record_list_read(session, user, Refund, _refs(refund_ids))
    return list(reversed(movements))


def patient_invoice_summary(session: Session, user: Any, patient_id: int, invoice_id: int,
                            now: datetime) -> InvoiceSummary:
    """One issued invoice of the patient in short (what paying it needs), audited as a ``read``;
    anything else: ``NotFound`` and a ``denied`` row."""
    invoice = session.execute(
        select(Invoice).where(Invoice.id == invoice_id, shown_invoice(patient_id))
    ).scalar_one_or_none()
    if invoice is None or not access.may_read(session, user, invoice, now):
        raise _not_found(session, user, invoice_id, patient_id)
    summary = _summary(invoice)
    access.open_record(session, user, invoice, now)
    return summary


def patient_invoice(session: Session, user: Any, patient_id: int, invoice_id: int, now: datetime) -> InvoiceDetail:
    """One issued invoice of the patient with its lines and its payments and refunds (audited:
    ``read`` of the invoice, its lines, payments and refunds). Anything else: ``NotFound`` and a
    ``denied`` row."""
    invoice = session.execute(
        select(Invoice).where(Invoice.id == invoice_id, shown_invoice(patient_id))
    ).scalar_one_or_none()
    if invoice is None or not access.may_read(session, user, invoice, now):
        raise _not_found(session, user, invoice_id, patient_id)
    lines = list(session.execute(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id, _readable(user, InvoiceLine, now))
        .order_by(InvoiceLine.id)
    ).scalars())
    movements, payment_ids, refund_ids = _movements(session, user, patient_id, now, invoice.id)
    patient = invoice.patient
    detail = InvoiceDetail(
        summary=_summary(invoice), patient_name=patient.full_name, patient_code=patient.code,
        lines=[InvoiceLineView(line.id, line.kind, line.description, Decimal(line.quantity), Decimal(line.unit_price),
                               Decimal(line.amount), Decimal(line.discount_share or 0), Decimal(line.tax_rate or 0),
                               Decimal(line.tax or 0)) for line in lines],
        subtotal=Decimal(invoice.subtotal or 0), discount=Decimal(invoice.discount or 0),
        discount_kind=invoice.discount_kind,
        discount_value=Decimal(invoice.discount_value) if invoice.discount_value is not None else None,
        tax=Decimal(invoice.tax or 0), movements=movements,
    )
    line_ids = [line.id for line in lines]
    access.open_record(session, user, invoice, now)
    access.record_list_read(session, user, InvoiceLine, _refs(line_ids))
    access.record_list_read(session, user, Payment, _refs(payment_ids))
    access.record_list_read(session, user, Refund, _refs(refund_ids))
    return detail
