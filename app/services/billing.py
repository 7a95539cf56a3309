"""Invoices: they build themselves from the visit and the pharmacy, take manual lines at the
catalogue's price, a discount with its reason, VAT per line kind, and are numbered when issued.

* Totals are derived, never typed, exact ``Decimal`` in the currency's minor unit
  (``compute_totals``): each line's amount is quantity x unit price rounded to the minor unit; the
  invoice's discount is split over the lines by largest remainder; each line's VAT is its rate on
  (amount - its share of the discount), rounded half up; total = subtotal - discount + VAT.
* A draft takes lines; an issued invoice is fixed (void it and bill again to correct it).
  Statuses: draft -> issued -> partially_paid -> paid (payments, ``app.services.payments``);
  draft or issued with nothing paid -> void; paid back in full -> refunded.
* Numbers (HD2026-000001) are given when the invoice is issued, from ``invoice_sequence`` under a
  row lock in the issuing transaction: a rolled-back issue gives its number back, so a year's
  numbers have no gaps and no repeats (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: the
  database's single writer).
* Automatic lines name their source (``source``, ``source_id``) so that completing a visit or
  dispensing is billed once, whatever is retried.

Functions that change an invoice lock its row first (``lock_invoice``) and leave the commit to
their caller unless their docstring says they commit.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import record_event
from app.models import (
    Doctor,
    Encounter,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    LabOrder,
    LabTest,
    Medicine,
    Patient,
    PrescriptionItem,
    Service,
    StockMovement,
)
from app.services import billing_notify
from app.services.billing_settings import BillingSettings
from app.services.errors import Conflict, FieldErrors, Forbidden, NotFound, committing
from app.services.money import ZERO, allocate, is_exact, percent_of, quantize

EDITABLE = ("draft",)
PAYABLE = ("issued", "partially_paid")
CLOSED = ("paid", "void", "refunded")
MAX_QUANTITY = Decimal("99999999")
MAX_PRICE = Decimal("999999999999")
# What an amount column (Numeric(14, 2)) holds: a line's amount and the invoice's total stay below it.
MAX_AMOUNT = Decimal("999999999999")
REASON_MAX = 300


# ---- arithmetic ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineFigures:
    amount: Decimal
    discount_share: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    lines: tuple[LineFigures, ...]


def line_amount(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    return quantize(Decimal(quantity) * Decimal(unit_price), currency)


def discount_amount(kind: str | None, value: Decimal | None, subtotal: Decimal, currency: str) -> Decimal:
    """The discount in money: a percent of the subtotal (rounded half up) or an amount, never more
    than the subtotal."""
    if not kind or value is None:
        return ZERO
    amount = percent_of(subtotal, value, currency) if kind == "percent" else quantize(value, currency)
    return min(max(amount, ZERO), subtotal)


def compute_totals(amounts: Sequence[Decimal], rates: Sequence[Decimal], discount: Decimal,
                   currency: str) -> Totals:
    """The invoice's figures from its lines' amounts and VAT rates and the discount in money."""
    subtotal = sum(amounts, ZERO)
    discount = min(max(discount, ZERO), subtotal)
    shares = allocate(discount, amounts, currency)
    figures = tuple(LineFigures(a, s, percent_of(a - s, r, currency))
                    for a, s, r in zip(amounts, shares, rates, strict=True))
    tax = sum((f.tax for f in figures), ZERO)
    return Totals(subtotal, discount, tax, subtotal - discount + tax, figures)


def recalculate(invoice: Invoice) -> None:
    """Set every line's share of the discount and VAT and the invoice's totals."""
    currency = invoice.currency or "VND"
    lines = list(invoice.lines)
    for line in lines:
        line.amount = line_amount(line.quantity, line.unit_price, currency)
    subtotal = sum((line.amount for line in lines), ZERO)
    discount = discount_amount(invoice.discount_kind, invoice.discount_value, subtotal, currency)
    totals = compute_totals([line.amount for line in lines], [Decimal(line.tax_rate or 0) for line in lines],
                            discount, currency)
    for line, figures in zip(lines, totals.lines, strict=True):
        line.discount_share, line.tax = figures.discount_share, figures.tax
    invoice.subtotal, invoice.discount, invoice.tax, invoice.total = (
        totals.subtotal, totals.discount, totals.tax, totals.total)


def _check_fits(invoice: Invoice, field: str = "quantity") -> None:
    """After ``recalculate``: refuse (422, naming ``field``) an invoice whose line amounts or total
    the books cannot hold, before anything is written."""
    if any(line.amount > MAX_AMOUNT for line in invoice.lines) or invoice.total > MAX_AMOUNT \
            or invoice.subtotal > MAX_AMOUNT:
        raise FieldErrors({field: _("The amount is too large for one invoice.")})


# ---- reading ------------------------------------------------------------------------------------

def get_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(_("There is no such invoice."), "invoice_id")
    return invoice


def lock_invoice(session: Session, invoice_id: int) -> Invoice:
    """The invoice, its row locked until the transaction ends (PostgreSQL), read fresh."""
    invoice = session.execute(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if invoice is None:
        raise NotFound(_("There is no such invoice."), "invoice_id")
    return invoice


def find_by_number(session: Session, number: str) -> Invoice | None:
    text = (number or "").strip().upper()
    if not text:
        return None
    return session.execute(select(Invoice).where(Invoice.number == text)).scalar_one_or_none()


def open_invoices(session: Session, patient_id: int) -> list[Invoice]:
    """A patient's invoices not yet settled (draft, issued, partly paid), oldest first."""
    return list(session.execute(
        select(Invoice).where(Invoice.patient_id == patient_id, Invoice.status.in_(("draft", *PAYABLE)))
        .order_by(Invoice.created_at, Invoice.id)).scalars())


def patient_invoices(session: Session, patient_id: int, limit: int = 200) -> list[Invoice]:
    """All of a patient's invoices, newest first."""
    return list(session.execute(
        select(Invoice).where(Invoice.patient_id == patient_id)
        .order_by(Invoice.created_at.desc(), Invoice.id.desc()).limit(limit)).scalars())


# ---- drafts and lines ---------------------------------------------------------------------------

def _check_editable(invoice: Invoice) -> None:
    if invoice.status not in EDITABLE:
        raise Conflict(_("Invoice %(number)s is already %(status)s: its lines can no longer change. "
                         "Void it and bill again to correct it.",
                         number=invoice.number or invoice.id, status=_(invoice.status)))


def new_draft(session: Session, patient_id: int, actor_id: int | None, now: datetime, billing: BillingSettings,
              appointment_id: int | None = None) -> Invoice:
    if session.get(Patient, patient_id) is None:
        raise NotFound(_("There is no such patient."), "patient_id")
    invoice = Invoice(patient_id=patient_id, appointment_id=appointment_id, status="draft",
                      currency=billing.currency, created_by_id=actor_id, created_at=now, updated_at=now)
    session.add(invoice)
    session.flush()
    return invoice


def draft_for_patient(session: Session, patient_id: int, actor_id: int | None, now: datetime,
                      billing: BillingSettings, appointment_id: int | None = None) -> Invoice:
    """The patient's open draft (the newest), locked, or a new one: what the visit and the
    pharmacy add to."""
    found = session.execute(
        select(Invoice.id).where(Invoice.patient_id == patient_id, Invoice.status == "draft")
        .order_by(Invoice.id.desc()).limit(1)).scalar()
    if found is not None:
        invoice = lock_invoice(session, found)
        if invoice.status == "draft":
            if invoice.appointment_id is None and appointment_id is not None:
                invoice.appointment_id = appointment_id
            return invoice
    return new_draft(session, patient_id, actor_id, now, billing, appointment_id)


def _source_line(session: Session, source: str, source_id: int) -> InvoiceLine | None:
    """The line already billed for this source on an invoice that is not void."""
    return session.execute(
        select(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.source == source, InvoiceLine.source_id == source_id, Invoice.status != "void")
        .order_by(InvoiceLine.id.desc()).limit(1)).scalar_one_or_none()


def _append(invoice: Invoice, billing: BillingSettings, **values: Any) -> InvoiceLine:
    kind = values.get("kind", "service")
    line = InvoiceLine(tax_rate=billing.vat_rate(kind), **values)
    invoice.lines.append(line)
    return line


def bill_visit(session: Session, encounter: Encounter, actor_id: int | None, now: datetime,
               billing: BillingSettings) -> Invoice | None:
    """Completing a visit adds to the patient's draft: the booked service at its price, the
    doctor's consultation fee (when the clinic charges it) and the lab tests ordered at the visit
    (not cancelled). Each once, however often this runs. Not committed. The lines read in the
    clinic's language (``BABEL_DEFAULT_LOCALE``), whatever the language of the screen that
    completed the visit: the invoice is the patient's, not the signer's."""
    from flask import current_app, has_app_context
    from flask_babel import force_locale

    language = (current_app.config.get("BABEL_DEFAULT_LOCALE") or "en") if has_app_context() else "en"
    appointment = encounter.appointment
    wanted: list[dict[str, Any]] = []
    if appointment is not None:
        service = session.get(Service, appointment.service_id)
        if service is not None and _source_line(session, "appointment", appointment.id) is None:
            wanted.append(dict(kind="service", service_id=service.id, description=service.name, quantity=Decimal(1),
                               unit_price=Decimal(service.price), source="appointment", source_id=appointment.id))
    doctor = session.get(Doctor, encounter.doctor_id) if encounter.doctor_id else None
    if (billing.charge_consultation_fee and doctor is not None and Decimal(doctor.consultation_fee or 0) > 0
            and _source_line(session, "consultation", encounter.id) is None):
        with force_locale(language):
            description = _("Consultation fee: %(doctor)s", doctor=doctor.full_name)
        wanted.append(dict(kind="service", description=description,
                           quantity=Decimal(1), unit_price=Decimal(doctor.consultation_fee), source="consultation",
                           source_id=encounter.id))
    orders = session.execute(select(LabOrder, LabTest).outerjoin(LabTest, LabTest.id == LabOrder.lab_test_id)
                             .where(LabOrder.encounter_id == encounter.id, LabOrder.status != "cancelled")
                             .order_by(LabOrder.id)).all()
    for order, test in orders:
        if _source_line(session, "lab_order", order.id) is None:
            with force_locale(language):
                description = _("Lab test: %(name)s", name=order.test_name)
            wanted.append(dict(kind="lab", lab_test_id=order.lab_test_id,
                               description=description, quantity=Decimal(1),
                               unit_price=Decimal(test.price if test is not None else 0), source="lab_order",
                               source_id=order.id))
    if not wanted:
        return None
    invoice = draft_for_patient(session, encounter.patient_id, actor_id, now, billing,
                                appointment.id if appointment is not None else None)
    for values in wanted:
        _append(invoice, billing, **values)
    recalculate(invoice)
    invoice.updated_at = now
    session.flush()
    return invoice


def bill_dispensed(session: Session, movements: Iterable[StockMovement], now: datetime,
                   billing: BillingSettings) -> Invoice | None:
    """Dispensed medicines join the patient's draft at the medicine's price (one line per
    prescription item, growing with each dispense while the invoice is a draft); a return takes
    units off the draft's line. A return after the invoice was issued leaves it as it is (the
    cashier refunds). Not committed."""
    per_item: dict[int, int] = defaultdict(int)
    for movement in movements:
        if movement.reference_type == "prescription_item" and movement.reference_id is not None:
            per_item[movement.reference_id] += -int(movement.quantity)  # dispense: negative quantity
    invoice: Invoice | None = None
    for item_id, units in sorted(per_item.items()):
        if units == 0:
            continue
        item = session.get(PrescriptionItem, item_id)
        if item is None:
            continue
        patient_id = item.prescription.patient_id
        if units > 0:
            invoice = draft_for_patient(session, patient_id, None, now, billing)
            line = next((ln for ln in invoice.lines if ln.source == "prescription_item" and ln.source_id == item_id),
                        None)
            if line is not None:
                line.quantity = Decimal(line.quantity) + units
            else:
                medicine = session.get(Medicine, item.medicine_id)
                assert medicine is not None
                label = " ".join(p for p in (medicine.name, medicine.strength or "") if p)
                _append(invoice, billing, kind="medicine", medicine_id=medicine.id,
                        description=f"{label} ({medicine.unit})" if medicine.unit else label,
                        quantity=Decimal(units), unit_price=Decimal(medicine.price),
                        source="prescription_item", source_id=item_id)
        else:
            line = _source_line(session, "prescription_item", item_id)
            if line is None or line.invoice.status != "draft":
                continue
            invoice = lock_invoice(session, line.invoice_id)
            left = Decimal(line.quantity) + units
            if left > 0:
                line.quantity = left
            else:
                invoice.lines.remove(line)
        assert invoice is not None
        recalculate(invoice)
        invoice.updated_at = now
    session.flush()
    return invoice


@dataclass(frozen=True)
class LineInput:
    """A line typed at the counter: a service, medicine or lab test from the catalogue (its price
    unless changed with permission and a reason), or a free line (kind ``other``, description,
    price and reason)."""

    kind: str
    quantity: Any = Decimal(1)
    service_id: int | None = None
    medicine_id: int | None = None
    lab_test_id: int | None = None
    description: str | None = None
    unit_price: Any = None
    reason: str | None = None


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidOperation
    result = Decimal(str(value))
    if not result.is_finite():
        raise InvalidOperation
    return result


def _check_quantity(value: Any, errors: dict[str, str]) -> Decimal | None:
    try:
        quantity = _decimal(value)
    except (InvalidOperation, ValueError):
        errors["quantity"] = _("Enter a number.")
        return None
    if quantity is None or quantity <= 0:
        errors["quantity"] = _("Enter a quantity above zero.")
    elif quantity > MAX_QUANTITY or quantity != quantity.quantize(Decimal("0.01")):
        errors["quantity"] = _("Enter a quantity of at most two decimals.")
    else:
        return quantity
    return None


def _check_price(value: Any, currency: str, errors: dict[str, str]) -> Decimal | None:
    try:
        price = _decimal(value)
    except (InvalidOperation, ValueError):
        errors["unit_price"] = _("Enter an amount.")
        return None
    if price is None:
        errors["unit_price"] = _("Enter the price.")
    elif price < 0:
        errors["unit_price"] = _("The price cannot be negative.")
    elif price > MAX_PRICE:
        errors["unit_price"] = _("Too large.")
    elif not is_exact(price, currency):
        errors["unit_price"] = _("Amounts in %(currency)s have no smaller unit: round the price.", currency=currency)
    else:
        return price
    return None


def _reason(value: Any) -> str:
    return value.strip()[:REASON_MAX] if isinstance(value, str) else ""


def add_line(session: Session, invoice_id: int, data: LineInput, actor_id: int | None, now: datetime,
             billing: BillingSettings, *, may_change_price: bool) -> InvoiceLine:
    """Add a line to a draft. Every broken field is reported at once (422); commits."""
    with committing(session):
        invoice = lock_invoice(session, invoice_id)
        _check_editable(invoice)
        errors: dict[str, str] = {}
        quantity = _check_quantity(data.quantity, errors)
        catalogue: Any = None
        values: dict[str, Any] = {}
        if data.kind == "service":
            catalogue = session.get(Service, data.service_id) if data.service_id else None
            values["service_id"] = data.service_id
        elif data.kind == "medicine":
            catalogue = session.get(Medicine, data.medicine_id) if data.medicine_id else None
            values["medicine_id"] = data.medicine_id
        elif data.kind == "lab":
            catalogue = session.get(LabTest, data.lab_test_id) if data.lab_test_id else None
            values["lab_test_id"] = data.lab_test_id
        elif data.kind != "other":
            errors["kind"] = _("Choose a service, medicine, lab test or a free line.")
        reason = _reason(data.reason)
        if data.kind in ("service", "medicine", "lab"):
            if catalogue is None:
                errors[f"{data.kind}_id" if data.kind != "lab" else "lab_test_id"] = _("Choose an item from the list.")
            price = catalogue_price = Decimal(catalogue.price) if catalogue is not None else None
            typed = None
            if data.unit_price not in (None, ""):
                typed = _check_price(data.unit_price, invoice.currency, errors)
            overridden = typed is not None and catalogue_price is not None and typed != catalogue_price
            if overridden:
                if not may_change_price:
                    errors["unit_price"] = _("You may not change catalogue prices; ask a manager.")
                elif not reason:
                    errors["reason"] = _("Say why the price is changed.")
                price = typed
            description = (data.description or "").strip() or (
                _medicine_label(catalogue) if data.kind == "medicine" and catalogue is not None
                else getattr(catalogue, "name", ""))
        else:
            overridden = False
            description = (data.description or "").strip()
            if not description:
                errors["description"] = _("Describe what is billed.")
            elif len(description) > 300:
                errors["description"] = _("Use at most %(max)d characters.", max=300)
            price = _check_price(data.unit_price, invoice.currency, errors)
            if not reason:
                errors["reason"] = _("Say why this line is added.")
        if errors:
            raise FieldErrors(errors)
        assert quantity is not None and price is not None
        line = _append(invoice, billing, kind=data.kind, description=description[:300], quantity=quantity,
                       unit_price=price, reason=reason or None, price_overridden=overridden, **values)
        recalculate(invoice)
        _check_fits(invoice)
        invoice.updated_at = now
        session.flush()
        record_event(session, "invoice_line_added", "Invoice", invoice.id,
                     {"line": line.id, "price_overridden": overridden}, user_id=actor_id)
    return line


def _medicine_label(medicine: Medicine) -> str:
    label = " ".join(p for p in (medicine.name, medicine.strength or "") if p)
    return f"{label} ({medicine.unit})" if medicine.unit else label


def update_line(session: Session, line_id: int, quantity: Any, unit_price: Any, reason: Any, actor_id: int | None,
                now: datetime, *, may_change_price: bool) -> InvoiceLine:
    """Change a draft line's quantity (and price, with permission and a reason). Commits."""
    with committing(session):
        line = session.get(InvoiceLine, line_id)
        if line is None:
            raise NotFound(_("There is no such invoice line."), "line_id")
        invoice = lock_invoice(session, line.invoice_id)
        _check_editable(invoice)
        errors: dict[str, str] = {}
        new_quantity = _check_quantity(quantity, errors) if quantity not in (None, "") else Decimal(line.quantity)
        new_price = Decimal(line.unit_price)
        why = _reason(reason)
        if unit_price not in (None, ""):
            typed = _check_price(unit_price, invoice.currency, errors)
            if typed is not None and typed != new_price:
                if line.kind != "other" and not may_change_price:
                    errors["unit_price"] = _("You may not change catalogue prices; ask a manager.")
                elif not why:
                    errors["reason"] = _("Say why the price is changed.")
                else:
                    new_price = typed
        if (line.source and not may_change_price and new_quantity is not None
                and new_quantity < Decimal(line.quantity)):
            errors["quantity"] = _("This line came from the visit or the pharmacy: only a manager or cashier "
                                   "may lower it.")
        if errors:
            raise FieldErrors(errors)
        assert new_quantity is not None
        if new_price != Decimal(line.unit_price):
            line.price_overridden = line.kind != "other"
            line.reason = why
        line.quantity, line.unit_price = new_quantity, new_price
        recalculate(invoice)
        _check_fits(invoice)
        invoice.updated_at = now
        record_event(session, "invoice_line_changed", "Invoice", invoice.id, {"line": line.id}, user_id=actor_id)
    return line


def remove_line(session: Session, line_id: int, actor_id: int | None, now: datetime, *,
                may_change_price: bool = False, reason: str | None = None) -> Invoice:
    """Take a line off a draft. A line that came by itself (from the appointment, the
    consultation, a lab order or the pharmacy: it has a ``source``) is a discount in effect: only
    with the power to change prices, and with a reason (audited). A free or manual line: any
    writer. Commits."""
    with committing(session):
        line = session.get(InvoiceLine, line_id)
        if line is None:
            raise NotFound(_("There is no such invoice line."), "line_id")
        invoice = lock_invoice(session, line.invoice_id)
        _check_editable(invoice)
        why = _reason(reason)
        if line.source:
            if not may_change_price:
                raise Forbidden(_("This line came from the visit or the pharmacy: only a manager or cashier "
                                  "may remove it."))
            if not why:
                raise FieldErrors({"reason": _("Say why a line that came from the visit or the pharmacy "
                                               "is removed.")})
        invoice.lines.remove(line)
        recalculate(invoice)
        invoice.updated_at = now
        details: dict[str, Any] = {"line": line_id, "description": line.description}
        if line.source:
            details.update(source=line.source, source_id=line.source_id, amount=str(line.amount))
        if why:
            details["reason"] = why
        record_event(session, "invoice_line_removed", "Invoice", invoice.id, details, user_id=actor_id)
    return invoice


def set_discount(session: Session, invoice_id: int, kind: str | None, value: Any, reason: Any,
                 actor_id: int | None, now: datetime, *, may_discount: bool) -> Invoice:
    """Grant (or with ``kind`` None, take back) a discount on a draft: an amount or a percent of the
    subtotal, with a reason; only with the discount permission. Commits."""
    if not may_discount:
        raise Forbidden(_("You may not grant discounts; ask a manager."))
    with committing(session):
        invoice = lock_invoice(session, invoice_id)
        _check_editable(invoice)
        if not kind:
            invoice.discount_kind = invoice.discount_value = invoice.discount_reason = None
        else:
            errors: dict[str, str] = {}
            why = _reason(reason)
            amount: Decimal | None = None
            try:
                amount = _decimal(value)
            except (InvalidOperation, ValueError):
                errors["value"] = _("Enter a number.")
            if kind not in ("amount", "percent"):
                errors["kind"] = _("Choose an amount or a percent.")
            elif amount is not None or "value" not in errors:
                if amount is None or amount <= 0:
                    errors["value"] = _("Enter a discount above zero.")
                elif kind == "percent" and (amount > 100 or amount != amount.quantize(Decimal("0.01"))):
                    errors["value"] = _("Enter a percent between 0 and 100 (at most two decimals).")
                elif kind == "amount" and not is_exact(amount, invoice.currency):
                    errors["value"] = _("Amounts in %(currency)s have no smaller unit: round the amount.",
                                        currency=invoice.currency)
                elif kind == "amount" and amount > invoice.subtotal:
                    errors["value"] = _("The discount cannot exceed the subtotal.")
            if not why:
                errors["reason"] = _("Say why the discount is given.")
            if errors:
                raise FieldErrors(errors)
            invoice.discount_kind, invoice.discount_value, invoice.discount_reason = kind, amount, why
        recalculate(invoice)
        invoice.updated_at = now
        record_event(session, "invoice_discount", "Invoice", invoice.id,
                     {"kind": kind, "value": str(invoice.discount_value) if invoice.discount_value else None},
                     user_id=actor_id)
    return invoice


# ---- issue and void -----------------------------------------------------------------------------

def next_number(session: Session, year: int, prefix: str) -> str:
    """The year's next invoice number, taken under the counter row's lock (not committed)."""
    counter = session.execute(select(InvoiceSequence).where(InvoiceSequence.year == year).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()
    if counter is None:
        from sqlalchemy.exc import IntegrityError

        from app.services.errors import from_database_error

        try:
            with session.begin_nested():  # two first issues of a year: one inserts, the other re-reads
                session.add(InvoiceSequence(year=year, last_number=0))
        except IntegrityError as exc:
            if session.get(InvoiceSequence, year) is None:
                raise from_database_error(exc) from exc
        counter = session.execute(select(InvoiceSequence).where(InvoiceSequence.year == year).with_for_update()
                                  .execution_options(populate_existing=True)).scalar_one()
    counter.last_number += 1
    return f"{prefix}{year}-{counter.last_number:06d}"


def issue_invoice(session: Session, invoice_id: int, actor_id: int | None, now: datetime,
                  billing: BillingSettings, today_year: int) -> Invoice:
    """Issue a draft: it gets the year's next number and can take payments (one of 0 is paid as
    issued); its lines are fixed.
    Commits; then the invoice goes to the patient by e-mail (``billing_notify``), whose failure
    never undoes the issue."""
    with committing(session):
        invoice = lock_invoice(session, invoice_id)
        if invoice.status != "draft":
            raise Conflict(_("Invoice %(number)s is already %(status)s.", number=invoice.number or invoice.id,
                             status=_(invoice.status)))
        if not invoice.lines:
            raise Conflict(_("Add at least one line before issuing the invoice."), "lines")
        recalculate(invoice)
        invoice.number = next_number(session, today_year, billing.invoice_prefix)
        # Nothing to pay (a free follow-up): settled as it is issued, not left open at the counter.
        invoice.status = "issued" if invoice.total > 0 else "paid"
        invoice.issued_at = now
        invoice.issued_by_id = actor_id
        invoice.updated_at = now
        if billing.email_on_issue:
            billing_notify.mark_queued(invoice)
        record_event(session, "invoice_issued", "Invoice", invoice.id, {"number": invoice.number},
                     user_id=actor_id)
    if billing.email_on_issue:
        billing_notify.invoice_issued(invoice.id)
    return invoice


def void_invoice(session: Session, invoice_id: int, reason: Any, actor_id: int | None, now: datetime) -> Invoice:
    """Cancel a draft or an issued invoice with nothing paid on it (its number stays used). Commits."""
    with committing(session):
        invoice = lock_invoice(session, invoice_id)
        why = _reason(reason)
        if not why:
            raise FieldErrors({"reason": _("Say why the invoice is voided.")})
        if invoice.status not in ("draft", "issued"):
            if invoice.status == "void":
                raise Conflict(_("Invoice %(number)s is already void.", number=invoice.number or invoice.id))
            raise Conflict(_("Invoice %(number)s has payments: refund them instead of voiding it.",
                             number=invoice.number or invoice.id))
        if Decimal(invoice.amount_paid or 0) > 0:
            raise Conflict(_("Invoice %(number)s has payments: refund them instead of voiding it.",
                             number=invoice.number or invoice.id))
        invoice.status = "void"
        invoice.voided_at, invoice.voided_by_id, invoice.void_reason = now, actor_id, why
        invoice.updated_at = now
        record_event(session, "invoice_voided", "Invoice", invoice.id, {"reason": why}, user_id=actor_id)
    return invoice
