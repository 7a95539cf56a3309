"""Rules for invoices and payments: totals are derived, never typed; a paid invoice takes no more."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import InstanceState, Session

from app.models import Invoice, InvoiceLine, Payment
from app.services import validation as v
from app.services.errors import Conflict, ValidationFailed
from app.services.settings import ClinicSettings

ZERO = Decimal("0")


def next_invoice_number(session: Session, settings: ClinicSettings) -> str:
    """INV-YYYYMM-000001, counting per month; the unique constraint settles races."""
    prefix = f"INV-{settings.today():%Y%m}-"
    last = session.execute(
        select(func.max(Invoice.number)).where(Invoice.number.like(f"{prefix}%"))
    ).scalar()
    seq = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{seq:06d}"


def recalculate_invoice(invoice: Invoice) -> None:
    subtotal = sum((line.amount or ZERO for line in invoice.lines), ZERO)
    invoice.subtotal = subtotal
    if (invoice.discount or ZERO) > subtotal:
        raise ValidationFailed(_("The discount cannot exceed the subtotal."), "discount")
    invoice.total = subtotal - (invoice.discount or ZERO) + (invoice.tax or ZERO)


# Status changes a person may make; paid and partially paid follow from payments only.
MANUAL_INVOICE_STATUS = {
    None: {"draft", "issued"},
    "draft": {"draft", "issued", "void"},
    "issued": {"issued", "void"},
    "partially_paid": {"partially_paid"},
    "paid": {"paid"},
    "void": {"void"},
    "refunded": {"refunded"},
}


def _check_invoice_status(invoice: Invoice, settings: ClinicSettings) -> None:
    state: InstanceState[Invoice] = inspect(invoice)
    old = None
    if state.persistent:
        history = state.attrs.status.history
        old = history.deleted[0] if history.deleted else invoice.status
    new = invoice.status or "draft"
    if new == "void" and (invoice.amount_paid or ZERO) > ZERO:
        raise Conflict(_("Refund the payments before voiding invoice %(number)s.", number=invoice.number), "status")
    if new not in MANUAL_INVOICE_STATUS.get(old, set()):
        if old in ("paid", "void", "refunded"):
            raise Conflict(_("Invoice %(number)s is %(status)s and can no longer be changed.",
                             number=invoice.number, status=_(old)), "status")
        if new in ("paid", "partially_paid", "refunded"):
            raise Conflict(_("An invoice becomes paid by recording its payments, not by editing its status."),
                           "status")
        raise Conflict(_("An invoice cannot go from %(old)s back to %(new)s.", old=_(old), new=_(new)), "status")
    invoice.status = new
    if new == "issued" and invoice.issued_at is None:
        invoice.issued_at = settings.now()


def validate_invoice(session: Session, invoice: Invoice, settings: ClinicSettings) -> None:
    _check_invoice_status(invoice, settings)
    v.non_negative("discount", invoice.discount)
    v.non_negative("tax", invoice.tax)
    invoice.currency = (invoice.currency or settings.currency).upper()
    v.matches("currency", invoice.currency, r"[A-Z]{3}", _("Use a three-letter currency code such as VND."))
    if not invoice.number:
        invoice.number = next_invoice_number(session, settings)
    v.unique(session, invoice, "number", _("Another invoice already has this number."))
    with session.no_autoflush:
        recalculate_invoice(invoice)
    if (invoice.amount_paid or ZERO) > invoice.total:
        raise Conflict(_("The invoice total cannot be less than what has already been paid."), "total")


def validate_invoice_line(session: Session, line: InvoiceLine, settings: ClinicSettings) -> None:
    line.description = v.require_text("description", line.description, 300)
    v.positive("quantity", line.quantity)
    v.non_negative("unit_price", line.unit_price)
    invoice = line.invoice or session.get(Invoice, line.invoice_id)
    if invoice is None:
        raise ValidationFailed(_("Unknown invoice."), "invoice_id")
    if invoice.status in ("paid", "void", "refunded"):
        raise Conflict(_("Invoice %(number)s is %(status)s and can no longer be changed.",
                         number=invoice.number, status=_(invoice.status)))
    line.amount = (Decimal(str(line.quantity)) * Decimal(str(line.unit_price))).quantize(Decimal("0.01"))
    with session.no_autoflush:
        if line not in invoice.lines:
            invoice.lines.append(line)
        recalculate_invoice(invoice)


def validate_payment(session: Session, payment: Payment, settings: ClinicSettings) -> None:
    v.positive("amount", payment.amount)
    invoice = payment.invoice or session.get(Invoice, payment.invoice_id)
    if invoice is None:
        raise ValidationFailed(_("Unknown invoice."), "invoice_id")
    if payment.id is not None:
        raise Conflict(_("A recorded payment cannot be changed; record a refund instead."))
    if invoice.status in ("void", "refunded", "draft"):
        raise Conflict(_("Invoice %(number)s is %(status)s and cannot take payments.",
                         number=invoice.number, status=_(invoice.status)))
    if payment.idempotency_key:
        v.unique(session, payment, "idempotency_key", _("This payment was already recorded."))
    if payment.status == "succeeded":
        amount = Decimal(str(payment.amount))
        if invoice.balance <= ZERO:
            raise Conflict(_("Invoice %(number)s is already paid.", number=invoice.number))
        if amount > invoice.balance:
            raise Conflict(_("The payment is more than the %(balance)s still owed on invoice %(number)s.",
                             balance=invoice.balance, number=invoice.number), "amount")
        invoice.amount_paid = (invoice.amount_paid or ZERO) + amount
        invoice.status = "paid" if invoice.balance == ZERO else "partially_paid"
        if payment.paid_at is None:
            payment.paid_at = settings.now()


def check_invoice_line_delete(session: Session, line: InvoiceLine, settings: ClinicSettings) -> None:
    """Removing a line changes the invoice like editing one: refused once the invoice is closed,
    and the totals follow in the same transaction."""
    invoice = line.invoice or session.get(Invoice, line.invoice_id)
    if invoice is None:
        return
    if invoice.status in ("paid", "void", "refunded"):
        raise Conflict(_("Invoice %(number)s is %(status)s and can no longer be changed.",
                         number=invoice.number, status=_(invoice.status)))
    with session.no_autoflush:
        if line in invoice.lines:
            invoice.lines.remove(line)
        recalculate_invoice(invoice)
    if (invoice.amount_paid or ZERO) > invoice.total:
        raise Conflict(_("The invoice total cannot be less than what has already been paid."), "total")


def check_payment_delete(session: Session, payment: Payment, settings: ClinicSettings) -> None:
    """A succeeded payment is money received: it stays, and a refund is recorded instead
    (deleting it would leave the invoice's amount paid counting money that has no payment)."""
    if payment.status in ("succeeded", "refunded"):
        raise Conflict(_("A recorded payment cannot be deleted; record a refund instead."))
