"""Jobs that send invoices by e-mail (``app.services.invoice_mail``), enqueued by
``app.services.billing_notify`` after the commit that issued an invoice or recorded a payment.

Each job makes its own application context: in the web process (jobs run in-process without
``REDIS_URL``) a fresh context of the running app; in an RQ worker, an app made once per process.
A mail that fails is kept on the invoice (``email_status`` "failed"); under RQ the job then raises
so that RQ's ``Retry`` tries again later (in-process it returns: the caller's request goes on).
"""
from __future__ import annotations

from typing import Any

from app.jobs.context import app_context, on_rq as _on_rq


def send(invoice_id: int, kind: str) -> str:
    """E-mail invoice ``invoice_id`` to its patient ("issued" or "paid"); the outcome's status."""
    from app.extensions import db, mail
    from app.services.invoice_mail import send_invoice_email

    with app_context() as app:
        session = db.session.session_factory()  # its own session: the caller's is left alone
        try:
            outcome = send_invoice_email(session, invoice_id, kind, app.config, mail)
        finally:
            session.close()
    if outcome.status == "failed" and outcome.retryable and _on_rq():
        raise RuntimeError(f"invoice {invoice_id}: e-mail failed: {outcome.error}")  # RQ retries
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
    from app.extensions import db, mail
    from app.models.types import utcnow
    from app.services.invoice_mail import retry_failed_invoice_emails

    with app_context() as app:
        session = db.session.session_factory()
        try:
            results = retry_failed_invoice_emails(session, utcnow(), app.config, mail, max_attempts)
        finally:
            session.close()
    return sum(1 for _id, outcome in results if outcome.status == "sent")
