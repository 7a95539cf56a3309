"""Jobs about invoice e-mails (``app.services.invoice_mail``). The e-mails themselves are messages
of the messaging core, delivered by ``app.jobs.messages.deliver``; ``send`` and ``send_receipt``
remain for jobs queued before that (they send at once, as a new message), and ``retry_failed`` is
the periodic "try the failed ones again now" (``flask billing retry-emails`` does the same)."""
from __future__ import annotations

from typing import Any

from app.jobs.context import app_context


def send(invoice_id: int, kind: str) -> str:
    """E-mail invoice ``invoice_id`` to its patient ("issued" or "paid"); the outcome's status."""
    from app.extensions import db
    from app.services.invoice_mail import send_invoice_email

    with app_context() as app:
        session = db.session.session_factory()  # its own session: the caller's is left alone
        try:
            outcome = send_invoice_email(session, invoice_id, kind, app.config)
        finally:
            session.close()
    return outcome.status


def send_receipt(payment_id: int) -> str:
    """After a payment: the invoice, as now paid (or partly paid), to its patient."""
    from app.extensions import db
    from app.models import Payment

    with app_context():
        session = db.session.session_factory()
        try:
            payment: Any = session.get(Payment, payment_id)
            invoice_id = payment.invoice_id if payment is not None else None
        finally:
            session.close()
    if invoice_id is None:
        return "no such payment"
    return send(invoice_id, "paid")


def retry_failed(max_attempts: int = 5) -> int:
    """Send again the invoices whose e-mail failed (fewer than ``max_attempts`` tries); how many
    were sent. For a scheduler (``flask billing retry-emails`` does the same)."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.invoice_mail import retry_failed_invoice_emails

    with app_context() as app:
        session = db.session.session_factory()
        try:
            results = retry_failed_invoice_emails(session, utcnow(), app.config, None, max_attempts)
        finally:
            session.close()
    return sum(1 for _id, outcome in results if outcome.status == "sent")
