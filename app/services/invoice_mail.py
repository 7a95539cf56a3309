"""The invoice by e-mail: when it is issued, when a payment is received, and again on demand.

The message is in the patient's language (the language saved on the profile of their login, if
any; otherwise Vietnamese), with the number in the subject, a text and an HTML part, and the
invoice's PDF attached. It goes to the patient record's e-mail address, else to their login's.

Each e-mail is a message of the messaging core (``OutboundMessage``, kind "invoice_issued" or
"invoice_paid", ``params`` {"invoice_id"}; ``dedupe_key`` "invoice:<id>:..."), so the delivery
dashboard lists it: ``deliver_message`` sends it (the renderer below builds the text and the PDF
at send time, from the invoice as it stands), retries it with backoff while the mail server is
down and gives up after the last attempt. One bookkeeping: the invoice's ``email_status``,
``email_error``, ``emailed_at`` and ``email_attempts`` are written only by the after-attempt hook
below, from the message's outcome, in the same commit as the message row, so the two cannot
disagree: "sent" when a message went, "failed" (with the reason) when the last try failed,
whether or not the message is queued for another; ``email_attempts`` counts every try of every
message of the invoice. ``retry_failed_invoice_emails`` (``flask billing retry-emails``, the
periodic job) tries again now, without waiting for the backoff, while the invoice has had fewer
than five tries.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from flask import render_template
from flask_babel import force_locale, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import record_event
from app.i18n import N_
from app.models import Invoice, OutboundMessage, UserProfile
from app.models.types import utcnow
from app.services import billing, invoice_document, invoice_pdf
from app.services.billing_settings import BillingSettings
from app.services.invoice_document import InvoiceDocument
from app.services.messaging.render import Rendered, Skip, after_attempt, renderer
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


MESSAGE_KINDS = {"issued": "invoice_issued", "paid": "invoice_paid"}


def dedupe_prefix(invoice_id: int) -> str:
    return f"invoice:{invoice_id}:"


def queue_invoice_email(session: Session, invoice_id: int, kind: str, config: Mapping, *, key: str | None = None,
                        now: datetime | None = None, created_by_id: int | None = None) -> OutboundMessage | None:
    """Write the message that sends invoice ``invoice_id`` (``kind`` "issued" or "paid"; another
    value: what ``kind_for`` says), no commit. ``key`` names the decision ("issued", "paid:<payment
    id>"; default: a new one each call): the same decision twice writes one message (None the
    second time). Without an address it is written skipped (no_address) and the invoice says so."""
    from app.services.messaging.delivery import queue_message

    invoice = billing.get_invoice(session, invoice_id)
    if kind not in KINDS:
        kind = kind_for(invoice)
    address = recipient_address(session, invoice)
    patient = invoice.patient
    message = queue_message(
        session, channel="email", kind=MESSAGE_KINDS[kind], recipient=address,
        language=patient_language(session, invoice, config.get("LANGUAGES") or ("vi", "en")),
        params={"invoice_id": invoice.id}, dedupe_key=dedupe_prefix(invoice.id) + (key or f"again:{uuid.uuid4().hex}"),
        recipient_name=patient.full_name, user_id=patient.user_id, patient_id=patient.id,
        skip_reason=None if address else "no_address", created_by_id=created_by_id, now=now or utcnow())
    if message is not None and message.status == "skipped":
        _mirror(session, invoice, message)  # no delivery will run: the invoice is told here
    return message


def latest_message(session: Session, invoice_id: int) -> OutboundMessage | None:
    """The invoice's most recent e-mail message."""
    return session.execute(
        select(OutboundMessage).where(OutboundMessage.dedupe_key.startswith(dedupe_prefix(invoice_id), autoescape=True),
                                      OutboundMessage.kind.in_(tuple(MESSAGE_KINDS.values())))
        .order_by(OutboundMessage.id.desc()).limit(1)).scalar()


def _mirror(session: Session, invoice: Invoice, message: OutboundMessage) -> None:
    """The invoice's e-mail fields after one try of ``message`` (the only place they are written
    from a send; no commit)."""
    invoice.email_attempts = (invoice.email_attempts or 0) + 1
    if message.status == "sent":
        invoice.email_status, invoice.email_error, invoice.emailed_at = "sent", None, message.sent_at or utcnow()
        kind = "paid" if message.kind == MESSAGE_KINDS["paid"] else "issued"
        # patient data left the clinic: say to whom (a failure is the row's own update)
        record_event(session, "invoice_emailed", "Invoice", invoice.id,
                     {"kind": kind, "attempt": invoice.email_attempts, "to": message.recipient,
                      "message": message.id})
        return
    if message.status == "skipped" and message.skip_reason == "no_address":
        error = NO_ADDRESS
    else:
        error = message.last_error or message.skip_reason or "not sent"
    invoice.email_status, invoice.email_error = "failed", error[:ERROR_MAX]


def _after_attempt(session: Session, message: OutboundMessage, config: Mapping) -> None:
    invoice_id = (message.params or {}).get("invoice_id")
    invoice = session.get(Invoice, invoice_id) if isinstance(invoice_id, int) else None
    if invoice is not None:
        _mirror(session, invoice, message)


for _kind in MESSAGE_KINDS.values():
    after_attempt(_kind)(_after_attempt)


def _render(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    """The invoice as it stands now, in the message's language, its PDF attached."""
    invoice_id = (message.params or {}).get("invoice_id")
    invoice = session.get(Invoice, invoice_id) if isinstance(invoice_id, int) else None
    if invoice is None:
        return Skip("gone", "the invoice no longer exists")
    if invoice.status in ("draft", "void"):
        return Skip("gone", _("A %(status)s invoice is not sent.", status=_(invoice.status)))
    doc = invoice_document.build(session, invoice.id, ClinicSettings.from_config(config),
                                 BillingSettings.from_config(config), message.language or "vi")
    subject, text, html = compose(doc, "paid" if message.kind == MESSAGE_KINDS["paid"] else "issued")
    pdf = invoice_pdf.document_pdf(doc)
    return Rendered(subject=subject, text=text, html=html, attachments=((doc.filename, "application/pdf", pdf),))


for _kind in MESSAGE_KINDS.values():
    renderer(_kind)(_render)


def _outcome(session: Session, invoice_id: int, message: OutboundMessage | None) -> Outcome:
    invoice = billing.get_invoice(session, invoice_id)
    session.refresh(invoice)
    if message is not None:
        session.refresh(message)
    return Outcome(invoice.email_status if invoice.email_status in ("sent", "failed") else "failed",
                   invoice.email_error, retryable=message is not None and message.status == "queued",
                   to=message.recipient if message is not None else None)


def deliver_now(session: Session, message_id: int, config: Mapping, now: datetime) -> str:
    """Send a queued invoice message now, without waiting for its backoff (commits)."""
    from app.services.messaging.delivery import deliver_message

    message = session.get(OutboundMessage, message_id)
    if message is not None and message.status == "queued" and message.not_before is not None:
        message.not_before = None
        session.commit()
    return deliver_message(session, message_id, config, now=now)


def send_invoice_email(session: Session, invoice_id: int, kind: str, config: Mapping, mail: Any = None,
                       now: datetime | None = None) -> Outcome:
    """Send invoice ``invoice_id`` to its patient now (``kind``: "issued" or "paid"), as a new
    message, and return the outcome kept on the invoice. Never raises for a mail that cannot go.
    Needs an application context (labels, templates, Flask-Mail). ``mail`` is not used (the
    message's e-mail adapter sends with the app's Flask-Mail); kept for the callers."""
    now = now or utcnow()
    message = queue_invoice_email(session, invoice_id, kind, config, now=now)
    session.commit()
    if message is not None and message.status == "queued":
        deliver_now(session, message.id, config, now)
    return _outcome(session, invoice_id, message)


def retry_failed_invoice_emails(session: Session, now: datetime, config: Mapping, mail: Any = None,
                                max_attempts: int = MAX_ATTEMPTS) -> list[tuple[int, Outcome]]:
    """Try again now every invoice whose e-mail failed and was tried fewer than ``max_attempts``
    times (void and draft invoices are left alone): its message waiting for a retry is sent now;
    when it has none (given up, refused, no address then), a new one is written with the address
    the invoice has now. Each outcome is kept on its invoice."""
    ids = list(session.execute(
        select(Invoice.id).where(Invoice.email_status == "failed", Invoice.email_attempts < max_attempts,
                                 Invoice.status.notin_(("draft", "void")))
        .order_by(Invoice.id)).scalars())
    session.rollback()
    results = []
    for invoice_id in ids:
        message = latest_message(session, invoice_id)
        if message is not None and message.status == "sending":
            continue  # a worker has it right now
        if message is not None and message.status == "queued":
            deliver_now(session, message.id, config, now)
            results.append((invoice_id, _outcome(session, invoice_id, message)))
        else:
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
