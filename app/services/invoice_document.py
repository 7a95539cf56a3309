"""What an invoice shows, the same on the printable page, in the PDF and in the e-mail: the clinic
(name, address, phone, tax code), the number and issue date, the patient, the lines, subtotal,
discount (with its reason), VAT, total in figures and in Vietnamese words, the payments, the
status, and while something is owed and the clinic has a bank account, the VietQR code.

Figures are written in the reader's language (1.230.000 ₫ in Vietnamese, ₫1,230,000 in English);
the words are always Vietnamese ("Bằng chữ" is the Vietnamese invoice's own line). Drafts have no
number yet: they say so ("DRAFT / NHÁP").

``build`` reads without checking who reads: the entry points check first (the pages through
``app.services.access.open_record``; the e-mail goes to the invoice's own patient).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal
from flask_babel import force_locale, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing_labels import invoice_status_label
from app.i18n import N_
from app.models import Invoice, Refund
from app.services import billing, vietqr
from app.services.billing_settings import BillingSettings
from app.services.settings import ClinicSettings
from app.services.vn_words import amount_in_words

TITLE = "HÓA ĐƠN / INVOICE"
DRAFT = "DRAFT / NHÁP"
VOID = "VOID / ĐÃ HỦY"
LANGUAGES = ("vi", "en")


def nfc(text: Any) -> str:
    return unicodedata.normalize("NFC", "" if text is None else str(text))


def money(amount: Decimal | int, currency: str, language: str) -> str:
    """1.230.000 ₫ (vi), ₫1,230,000 (en): the currency's own decimals (none for VND)."""
    return format_currency(Decimal(amount), (currency or "VND").upper(), locale=language)


def quantity_text(quantity: Decimal, language: str) -> str:
    return format_decimal(Decimal(quantity).normalize(), locale=language, group_separator=True)


def percent_text(rate: Decimal, language: str) -> str:
    return f"{format_decimal(Decimal(rate).normalize(), locale=language)}%"


def phone_text(number: str | None, region: str) -> str:
    """+84912345678 (as stored) -> 0912 345 678 for the clinic's country; others international."""
    if not number:
        return ""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if phonenumbers.region_code_for_number(parsed) == region
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, style)


def day_text(day: date, language: str) -> str:
    """dd/mm/yyyy in Vietnamese (as invoices write it), ISO otherwise."""
    return day.strftime("%d/%m/%Y") if language == "vi" else day.isoformat()


@dataclass(frozen=True)
class Line:
    description: str
    quantity: str
    unit_price: str
    vat: str
    amount: str


@dataclass(frozen=True)
class PaymentRow:
    day: str
    method: str
    amount: str
    status: str
    refunded: str | None


@dataclass(frozen=True)
class RefundRow:
    day: str
    method: str
    amount: str
    reason: str


@dataclass(frozen=True)
class QrCode:
    payload: str
    amount: str
    reference: str
    bank: str
    account: str
    account_name: str


@dataclass(frozen=True)
class InvoiceDocument:
    invoice_id: int
    language: str
    number: str | None
    is_draft: bool
    status: str  # the raw status ("issued", ...)
    status_label: str
    issue_day: str
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    tax_code: str
    patient_name: str
    patient_code: str
    patient_phone: str
    patient_address: str
    patient_email: str | None
    patient_user_id: int | None
    lines: tuple[Line, ...]
    subtotal: str
    discount: str | None
    discount_label: str  # "Discount (10%)" for a percent discount, else "Discount"
    discount_reason: str | None
    tax: str
    total: str
    total_value: Decimal
    words: str
    paid: str
    refunded: str | None
    net_received: str | None  # paid - refunded, when something was refunded
    balance: str
    balance_value: Decimal
    payments: tuple[PaymentRow, ...]
    refunds: tuple[RefundRow, ...]
    qr: QrCode | None
    currency: str
    void_reason: str | None = None

    @property
    def is_void(self) -> bool:
        return self.status == "void"

    @property
    def shows_balance(self) -> bool:
        """Whether "Balance due" is a line of this invoice (not on drafts, void or refunded ones)."""
        return self.status not in ("void", "refunded", "draft")

    @property
    def filename(self) -> str:
        """The PDF's file name: the invoice's number (drafts: their id)."""
        return f"{self.number or f'draft-{self.invoice_id}'}.pdf"


METHOD_LABELS = {"cash": N_("Cash"), "bank_transfer": N_("Bank transfer"), "card": N_("Card"), "vnpay": N_("VNPay")}
PAYMENT_STATUS_LABELS = {"pending": N_("Pending"), "succeeded": N_("Received"), "failed": N_("Failed"),
                         "cancelled": N_("Cancelled"), "unapplied": N_("Not applied")}


def status_label(status: str) -> str:
    """One word per status, the same as the counter's, the back office's and the portal's."""
    return invoice_status_label(status)


def qr_code(invoice: Invoice, settings: BillingSettings, language: str) -> QrCode | None:
    """The VietQR code for what is still owed, while the invoice takes payments and the clinic has
    a bank account; None otherwise (or while the VietQR payload is not available)."""
    balance = invoice.balance
    if not settings.vietqr_enabled or invoice.status not in billing.PAYABLE or balance <= 0 or not invoice.number:
        return None
    try:
        payload = vietqr.emv_payload(settings, balance, invoice.number)
    except ValueError:  # the settings or the amount make no valid code
        return None
    return QrCode(payload=payload, amount=money(balance, invoice.currency, language), reference=invoice.number,
                  bank=vietqr.bank_name(settings), account=settings.bank_account,
                  account_name=settings.bank_account_name)


def qr_matrix(payload: str) -> list[list[bool]]:
    """The QR code's modules (True: dark), quiet zone included (the ``qrcode`` package)."""
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(payload)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_svg(payload: str) -> str:
    """Inline SVG of the QR code (``app.services.vietqr``)."""
    return vietqr.qr_svg(payload)


def build(session: Session, invoice_id: int, clinic: ClinicSettings, settings: BillingSettings,
          language: str = "vi") -> InvoiceDocument:
    """The invoice's document in ``language`` ("vi" or "en"); needs an application context (labels)."""
    language = language if language in LANGUAGES else "vi"
    invoice = billing.get_invoice(session, invoice_id)
    currency = invoice.currency or "VND"
    patient = invoice.patient
    with force_locale(language):
        def fmt(amount: Decimal | int) -> str:
            return money(amount, currency, language)

        moment: datetime = invoice.issued_at or invoice.created_at or clinic.now()
        lines = tuple(Line(description=nfc(line.description), quantity=quantity_text(line.quantity, language),
                           unit_price=fmt(line.unit_price), vat=percent_text(line.tax_rate, language),
                           amount=fmt(line.amount))
                      for line in invoice.lines)
        payments = tuple(
            PaymentRow(day=day_text((p.paid_at or p.created_at).astimezone(clinic.timezone).date(), language),
                       method=_(METHOD_LABELS.get(p.method, p.method)), amount=fmt(p.amount),
                       status=_(PAYMENT_STATUS_LABELS.get(p.status, p.status)),
                       refunded=fmt(p.amount_refunded) if Decimal(p.amount_refunded or 0) > 0 else None)
            for p in invoice.payments if p.status in ("succeeded", "unapplied"))
        refunds = tuple(
            RefundRow(day=day_text(r.refunded_at.astimezone(clinic.timezone).date(), language),
                      method=_(METHOD_LABELS.get(r.method, r.method)), amount=fmt(r.amount), reason=nfc(r.reason))
            for r in session.execute(select(Refund).where(Refund.invoice_id == invoice.id, Refund.status == "succeeded")
                                     .order_by(Refund.refunded_at, Refund.id)).scalars())
        discount = Decimal(invoice.discount or 0)
        refunded = Decimal(invoice.amount_refunded or 0)
        paid = Decimal(invoice.amount_paid or 0)
        if invoice.discount_kind == "percent" and invoice.discount_value is not None:
            discount_label = _("Discount (%(rate)s)", rate=percent_text(invoice.discount_value, language))
        else:
            discount_label = _("Discount")
        from app.services.invoice_mail import recipient_address  # the one rule of who gets the e-mail
        return InvoiceDocument(
            invoice_id=invoice.id, language=language, number=invoice.number, is_draft=invoice.status == "draft",
            status=invoice.status, status_label=status_label(invoice.status),
            issue_day=day_text(moment.astimezone(clinic.timezone).date(), language),
            clinic_name=nfc(clinic.name), clinic_address=nfc(clinic.address), clinic_phone=nfc(clinic.phone),
            tax_code=settings.tax_code, patient_name=nfc(patient.full_name), patient_code=patient.code,
            patient_phone=phone_text(patient.phone, clinic.phone_region), patient_address=nfc(patient.address),
            patient_email=recipient_address(session, invoice),
            patient_user_id=patient.user_id, lines=lines, subtotal=fmt(invoice.subtotal),
            discount=fmt(discount) if discount > 0 else None, discount_label=discount_label,
            discount_reason=nfc(invoice.discount_reason) or None,
            tax=fmt(invoice.tax), total=fmt(invoice.total), total_value=Decimal(invoice.total),
            words=amount_in_words(int(Decimal(invoice.total))),
            paid=fmt(paid), refunded=fmt(refunded) if refunded > 0 else None,
            net_received=fmt(paid - refunded) if refunded > 0 else None,
            balance=fmt(max(invoice.balance, Decimal(0))), balance_value=invoice.balance, payments=payments,
            refunds=refunds, qr=qr_code(invoice, settings, language), currency=currency,
            void_reason=(nfc(invoice.void_reason) or None) if invoice.status == "void" else None)


def open_for_reader(session: Session, user: Any, invoice_id: int, now: datetime) -> Invoice:
    """The invoice ``user`` opens (its print page, its PDF): 404 when there is none; the access
    rule (staff who read billing; a patient only their own) checked and the read audited by
    ``app.services.access.open_record`` (403 ``CareAccessDenied`` otherwise)."""
    from app.services import access

    invoice = billing.get_invoice(session, invoice_id)
    access.open_record(session, user, invoice, now)
    return invoice
