"""The patient's money in the portal (issue 11, item 4): my invoices and my payment history, one
invoice with its lines, totals and payments, its PDF, and paying what is still owed online: a card
through Stripe Checkout, VNPay, or a bank transfer by VietQR code.

Thin: what a patient may see is decided in ``app.services.portal_billing`` (through the access
helper, every read audited); another patient's invoice or a draft is "not found" (404). Paying
only *starts* a payment at the provider: the invoice is marked paid by the provider's signed
webhook or IPN (``app.services.payments.settle_online_payment``), never by the page the payer
comes back to."""
from __future__ import annotations

import io
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_currency, format_decimal, format_percent, get_locale, gettext as _
from flask_login import current_user
from markupsafe import Markup

from app.billing_labels import invoice_status_label
from app.extensions import db
from app.models import Patient
from app.public.common import bp, patient_required, settings
from app.services import invoice_pdf, portal_billing, stripe_gateway, vietqr
from app.services.billing_settings import BillingSettings
from app.services.errors import DomainError, NotFound, ProviderUnavailable
from app.views import vnpay_routes

log = logging.getLogger(__name__)


def billing_settings() -> BillingSettings:
    return BillingSettings.from_config(current_app.config)


def _language() -> str:
    return "vi" if str(get_locale() or "en").startswith("vi") else "en"


def _private(response: Any) -> Any:
    """Money is private: not kept by shared caches or the browser's back-forward store."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


def invoice_money(amount: Decimal | None, currency: str) -> str:
    return format_currency(amount or 0, currency or settings().currency)


def status_word(status: str) -> str:
    """An invoice's status as the patient says it."""
    return invoice_status_label(status)


def method_word(method: str) -> str:
    words = {"cash": _("Cash at the clinic"), "bank_transfer": _("Bank transfer"), "card": _("Card (online)"),
             "vnpay": _("VNPay (online)")}
    return words.get(method, method)


def quantity_text(quantity: Decimal) -> str:
    return format_decimal(quantity)


def rate_text(rate: Decimal) -> str:
    return format_percent(Decimal(rate) / 100, "#,##0.##%")


def _helpers() -> dict:
    return {"invoice_money": invoice_money, "status_word": status_word, "method_word": method_word,
            "quantity_text": quantity_text, "rate_text": rate_text}


@bp.get("/me/invoices")
@patient_required
def my_invoices(patient: Patient) -> ResponseReturnValue:
    now = settings().now()
    invoices = portal_billing.patient_invoice_list(db.session, current_user, patient.id, now)
    history = portal_billing.patient_payment_history(db.session, current_user, patient.id, now)
    owed: dict[str, Decimal] = {}
    for invoice in invoices:
        if invoice.payable:
            owed[invoice.currency] = owed.get(invoice.currency, Decimal(0)) + invoice.balance
    return _private(current_app.make_response(render_template(
        "public/invoices/list.html", patient=patient, invoices=invoices, history=history, owed=owed,
        **_helpers())))


def _transfer(billing: BillingSettings, invoice: portal_billing.InvoiceSummary) -> dict | None:
    """What the patient needs to pay by bank transfer: the account, the amount, the reference to
    type, and the VietQR code their banking app scans (None when the code cannot be made)."""
    if not billing.vietqr_enabled or not invoice.payable:
        return None
    qr: Markup | None = None
    try:
        qr = Markup(vietqr.qr_svg(vietqr.emv_payload(billing, invoice.balance, invoice.number)))
    except ValueError:  # the settings or the amount make no valid code: the account details still show
        log.exception("VietQR code of invoice %s", invoice.id)
        qr = None
    return {"qr": qr, "bank": vietqr.bank_name(billing), "account": billing.bank_account,
            "holder": billing.bank_account_name, "amount": invoice.balance, "reference": invoice.number}


@bp.get("/me/invoices/<int:invoice_id>")
@patient_required
def my_invoice(patient: Patient, invoice_id: int) -> ResponseReturnValue:
    try:
        detail = portal_billing.patient_invoice(db.session, current_user, patient.id, invoice_id, settings().now())
    except NotFound:
        abort(404)
    billing = billing_settings()
    invoice = detail.summary
    return _private(current_app.make_response(render_template(
        "public/invoices/invoice.html", patient=patient, detail=detail, invoice=invoice,
        just_paid=request.args.get("paid") == "1", transfer=_transfer(billing, invoice),
        card=billing.stripe_enabled and invoice.payable, vnpay=billing.vnpay_enabled and invoice.payable,
        **_helpers())))


@bp.get("/me/invoices/<int:invoice_id>/invoice.pdf")
@patient_required
def my_invoice_pdf(patient: Patient, invoice_id: int) -> ResponseReturnValue:
    try:
        invoice = portal_billing.patient_invoice_summary(db.session, current_user, patient.id, invoice_id,
                                                         settings().now())
    except NotFound:
        abort(404)
    pdf = invoice_pdf.render_pdf(db.session, invoice.id, settings(), billing_settings(), _language())
    return _private(send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                              download_name=f"{invoice.number}.pdf"))


def _payable_or_back(patient: Patient, invoice_id: int) -> portal_billing.InvoiceSummary | ResponseReturnValue:
    try:
        invoice = portal_billing.patient_invoice_summary(db.session, current_user, patient.id, invoice_id,
                                                         settings().now())
    except NotFound:
        abort(404)
    if not invoice.payable:
        flash(_("Nothing is left to pay on invoice %(number)s.", number=invoice.number), "info")
        return redirect(url_for("public.my_invoice", invoice_id=invoice.id), 303)
    return invoice


def _provider_refused(invoice_id: int, exc: DomainError, way: str) -> ResponseReturnValue:
    """The provider could not start the payment (nothing was recorded): say so on the invoice."""
    db.session.rollback()
    if isinstance(exc, ProviderUnavailable):
        flash(_("%(way)s is not available just now, so nothing was charged. Please try again later, or choose "
                "another way to pay.", way=way), "danger")
    else:
        flash(exc.message, "danger")
    return redirect(url_for("public.my_invoice", invoice_id=invoice_id), 303)


def _start_payment(patient: Patient, invoice_id: int, enabled: bool, way: str,
                   start: Callable[[portal_billing.InvoiceSummary], str]) -> ResponseReturnValue:
    """The two online ways to pay share their steps: offered only when set up (404 otherwise), only
    while something is owed, and a provider's refusal is told on the invoice; ``start`` asks the
    provider for the page to send the payer to (303)."""
    if not enabled:
        abort(404)
    found = _payable_or_back(patient, invoice_id)
    if not isinstance(found, portal_billing.InvoiceSummary):
        return found
    try:
        url = start(found)
    except DomainError as exc:
        return _provider_refused(found.id, exc, way)
    return redirect(url, 303)


@bp.post("/me/invoices/<int:invoice_id>/pay/card")
@patient_required
def pay_by_card(patient: Patient, invoice_id: int) -> ResponseReturnValue:
    """Start a Stripe Checkout for what is owed and send the payer there (303)."""
    billing = billing_settings()
    return _start_payment(patient, invoice_id, billing.stripe_enabled, _("Card payment"), lambda invoice: (
        stripe_gateway.start_checkout(
            db.session, invoice.id, invoice.balance, None, settings().now(), billing,
            success_url=url_for("public.my_invoice", invoice_id=invoice.id, paid=1, _external=True),
            cancel_url=url_for("public.my_invoice", invoice_id=invoice.id, _external=True),
            locale=_language(), customer_email=patient.email or getattr(current_user, "email", None))))


@bp.post("/me/invoices/<int:invoice_id>/pay/vnpay")
@patient_required
def pay_by_vnpay(patient: Patient, invoice_id: int) -> ResponseReturnValue:
    """Start a VNPay payment for what is owed and send the payer to VNPay's page (303), coming back
    to its return page (/pay/vnpay/return) in the reader's language."""
    return _start_payment(patient, invoice_id, billing_settings().vnpay_enabled, _("Payment by VNPay"),
                          lambda invoice: vnpay_routes.payment_link(invoice.id, invoice.balance, None))
