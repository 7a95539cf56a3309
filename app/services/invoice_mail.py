"""The invoice by e-mail: when it is issued, when a payment is received, and again on demand.

The message is in the patient's language (the language saved on the profile of their login, if
any; otherwise Vietnamese), with the number in the subject, a text and an HTML part, and the
invoice's PDF attached. It goes to the patient record's e-mail address, else to their login's.

The outcome is kept on the invoice: ``email_status`` "sent" (``emailed_at``) or "failed" with the
reason in ``email_error``; ``email_attempts`` counts every try. A failure never raises: the invoice
stays issued or paid, the counter shows the failure, and ``retry_failed_invoice_emails`` (the
``flask billing retry-emails`` command, or RQ's own retry) sends it later.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from flask import render_template
from flask_babel import force_locale, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import record_event
from app.i18n import N_
from app.models import Invoice, UserProfile
from app.services import billing, invoice_document, invoice_pdf
from app.services.billing_settings import BillingSettings
from app.services.invoice_document import InvoiceDocument
from app.services.mail import send_email
from app.services.settings import ClinicSettings

log = logging.getLogger(__name__)

KINDS = ("issued", "paid")
MAX_ATTEMPTS = 5  # automatic retries stop after this many tries (a resend on demand always tries)
NO_ADDRESS = N_("no e-mail address")  # kept in English on the invoice, shown translated
ERROR_MAX = 500


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent" or "failed"
    error: str | None = None
    retryable: bool = False  # a failure of the mail server (worth retrying), not a missing address
    to: str | None = None


def patient_language(session: Session, invoice: Invoice, languages: Any = ("vi", "en")) -> str:
    """The language the patient reads: their login's saved choice, else Vietnamese."""
    user_id = invoice.patient.user_id
    if user_id is not None:
        saved = session.execute(select(UserProfile.language).where(UserProfile.user_id == user_id)).scalar()
        if saved and saved.split("_")[0] in languages:
            return saved.split("_")[0]
    return "vi"


def recipient_address(session: Session, invoice: Invoice) -> str | None:
    """Where the invoice's e-mail goes: the patient record's address, else their login's; None
    when there is neither (the one rule: the counter, the print page and the sending use it)."""
    patient = invoice.patient
    user = patient.user
    address = (patient.email or "").strip() or ((user.email or "").strip() if user is not None else "")
    return address or None


def kind_for(invoice: Invoice) -> str:
    """What a resend or retry says: a receipt once something was paid, else the invoice."""
    return "paid" if invoice.status in ("partially_paid", "paid", "refunded") else "issued"


def compose(doc: InvoiceDocument, kind: str) -> tuple[str, str, str]:
    """(subject, text, HTML) in ``doc.language``."""
    with force_locale(doc.language):
        number = doc.number or ""
        if kind == "paid":
            subject = _("Payment received for invoice %(number)s · %(clinic)s", number=number, clinic=doc.clinic_name)
            lead = (_("Thank you: invoice %(number)s is paid in full.", number=number) if doc.balance_value <= 0
                    else _("Thank you: we received your payment for invoice %(number)s. %(balance)s is still owed.",
                           number=number, balance=doc.balance))
        else:
            subject = _("Invoice %(number)s · %(clinic)s", number=number, clinic=doc.clinic_name)
            lead = _("Here is your invoice %(number)s of %(date)s for %(total)s.", number=number, date=doc.issue_day,
                     total=doc.total)
        greeting = _("Dear %(name)s,", name=doc.patient_name)
        text_lines = [greeting, "", lead, ""]
        text_lines += [f"- {line.description}: {line.quantity} × {line.unit_price} = {line.amount}"
                       for line in doc.lines]
        text_lines += ["", f"{_('Subtotal')}: {doc.subtotal}"]
        if doc.discount:
            reason = f" ({doc.discount_reason})" if doc.discount_reason else ""
            text_lines.append(f"{doc.discount_label}{reason}: -{doc.discount}")
        text_lines += [f"{_('VAT')}: {doc.tax}", f"{_('Total')}: {doc.total}", f"Bằng chữ: {doc.words}", ""]
        if doc.payments:
            text_lines.append(f"{_('Payments')}:")
            text_lines += [f"- {p.day} · {p.method}: {p.amount}" for p in doc.payments]
        if doc.refunds:
            text_lines.append(f"{_('Refunds')}:")
            text_lines += [f"- {r.day} · {r.method}: -{r.amount} ({_('Reason: %(reason)s', reason=r.reason)})"
                           for r in doc.refunds]
        text_lines.append(f"{_('Paid')}: {doc.paid}")
        if doc.refunded:
            text_lines += [f"{_('Refunded')}: -{doc.refunded}", f"{_('Net received')}: {doc.net_received}"]
        if doc.shows_balance:
            text_lines.append(f"{_('Balance due')}: {doc.balance}")
        text_lines += [f"{_('Status')}: {doc.status_label}", ""]
        if doc.qr is not None:
            text_lines += [_("Pay by bank transfer to %(bank)s, account %(account)s (%(holder)s), reference %(ref)s.",
                             bank=doc.qr.bank, account=doc.qr.account, holder=doc.qr.account_name,
                             ref=doc.qr.reference), ""]
        text_lines += [_("The invoice is attached as a PDF."), "", doc.clinic_name]
        text_lines += [part for part in (doc.clinic_address, doc.clinic_phone) if part]
        html = render_template("clinic/invoice/email.html", doc=doc, lead=lead, greeting=greeting)
    return subject, "\n".join(text_lines), html


def _record(session: Session, invoice: Invoice, outcome: Outcome, kind: str, now: datetime) -> None:
    invoice.email_attempts = (invoice.email_attempts or 0) + 1
    invoice.email_status = outcome.status
    invoice.email_error = (outcome.error or "")[:ERROR_MAX] or None
    if outcome.status == "sent":
        invoice.emailed_at = now
    if outcome.status == "sent":  # patient data left the clinic: say to whom (a failure is the row's own update)
        record_event(session, "invoice_emailed", "Invoice", invoice.id,
                     {"kind": kind, "attempt": invoice.email_attempts, "to": outcome.to})
    session.commit()


def send_invoice_email(session: Session, invoice_id: int, kind: str, config: Mapping, mail: Any,
                       now: datetime | None = None) -> Outcome:
    """Send invoice ``invoice_id`` to its patient (``kind``: "issued" or "paid") and keep the
    outcome on the invoice (committed). Never raises for a mail that cannot go: returns the
    failure. Needs an application context (labels, templates, Flask-Mail)."""
    clinic = ClinicSettings.from_config(config)
    settings = BillingSettings.from_config(config)
    now = now or clinic.now()
    invoice = billing.get_invoice(session, invoice_id)
    if kind not in KINDS:
        kind = kind_for(invoice)
    if invoice.status in ("draft", "void"):
        outcome = Outcome("failed", _("A %(status)s invoice is not sent.", status=_(invoice.status)))
        _record(session, invoice, outcome, kind, now)
        return outcome
    language = patient_language(session, invoice, config.get("LANGUAGES") or ("vi", "en"))
    try:
        doc = invoice_document.build(session, invoice.id, clinic, settings, language)
        if not doc.patient_email:
            outcome = Outcome("failed", NO_ADDRESS)
        else:
            subject, text, html = compose(doc, kind)
            pdf = invoice_pdf.document_pdf(doc)
            send_email(config, mail, to=[doc.patient_email], subject=subject, body=text, html=html,
                       attachments=[(doc.filename, "application/pdf", pdf)])
            outcome = Outcome("sent", to=doc.patient_email)
    except Exception as exc:  # noqa: BLE001 - any failure (SMTP refused, server down) is kept, not raised
        log.warning("invoice %s: e-mail failed: %s", invoice_id, exc)
        session.rollback()
        invoice = billing.get_invoice(session, invoice_id)
        outcome = Outcome("failed", f"{type(exc).__name__}: {exc}", retryable=True)
    _record(session, invoice, outcome, kind, now)
    return outcome


def retry_failed_invoice_emails(session: Session, now: datetime, config: Mapping, mail: Any,
                                max_attempts: int = MAX_ATTEMPTS) -> list[tuple[int, Outcome]]:
    """Send again every invoice whose e-mail failed and was tried fewer than ``max_attempts``
    times (void and draft invoices are left alone); each outcome is kept on its invoice."""
    ids = list(session.execute(
        select(Invoice.id).where(Invoice.email_status == "failed", Invoice.email_attempts < max_attempts,
                                 Invoice.status.notin_(("draft", "void")))
        .order_by(Invoice.id)).scalars())
    session.rollback()
    results = []
    for invoice_id in ids:
        invoice = billing.get_invoice(session, invoice_id)
        results.append((invoice_id, send_invoice_email(session, invoice_id, kind_for(invoice), config, mail, now)))
    return results


def request_resend(session: Session, invoice_id: int, actor_id: int | None, now: datetime) -> str:
    """Staff asked to send the invoice again: a draft or void invoice is refused (409); otherwise
    the e-mail is marked queued (committed) and what it will say is returned: always "issued"
    (the invoice itself as it stands now, its payments, refunds and what was received; never the
    last payment's receipt). The caller then hands it to ``billing_notify.resend``."""
    from app.services.errors import Conflict

    invoice = billing.get_invoice(session, invoice_id)
    if invoice.status in ("draft", "void"):
        raise Conflict(_("Invoice %(number)s is %(status)s: there is nothing to send.",
                         number=invoice.number or invoice.id, status=_(invoice.status)))
    invoice.email_status = "queued"
    invoice.updated_at = now
    record_event(session, "invoice_email_requested", "Invoice", invoice.id, {}, user_id=actor_id)
    session.commit()
    return "issued"


@dataclass(frozen=True)
class EmailState:
    status: str
    error: str | None
    emailed_at: datetime | None
    attempts: int


def email_state(session: Session, invoice_id: int) -> EmailState:
    """Where the invoice's e-mail stands, read fresh (a job may have just changed it)."""
    invoice = billing.get_invoice(session, invoice_id)
    session.refresh(invoice)
    return EmailState(invoice.email_status, invoice.email_error, invoice.emailed_at, invoice.email_attempts or 0)
