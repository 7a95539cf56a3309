"""What happens after an invoice is issued or paid: the patient gets it by e-mail (HTML and text,
the PDF attached, in their language). Called after the commit, so a mail that fails never undoes
the issue or the payment: the failure is kept on the invoice (``email_status``, ``email_error``),
shown at the counter and retried.

The send is a job (``app.jobs.billing_mail``) put on the queue by ``app.jobs.queue.enqueue``: on
RQ with ``REDIS_URL`` (retried by RQ's ``Retry`` when the mail server fails), otherwise run at once
in this process. Nothing here raises into the caller: a queue that cannot be reached marks the
invoice's e-mail failed, for ``flask billing retry-emails``."""
from __future__ import annotations

import logging
from typing import Any

from app.models import Invoice

log = logging.getLogger(__name__)

SEND_JOB = "app.jobs.billing_mail.send"
RECEIPT_JOB = "app.jobs.billing_mail.send_receipt"
RETRY_INTERVALS = [60, 300, 1800]  # seconds between RQ's tries


def mark_queued(invoice: Invoice) -> None:
    """In the issuing transaction: the invoice's e-mail is on its way."""
    invoice.email_status = "queued"


def _enqueue(func_path: str, *args: Any, invoice_id: int | None = None) -> None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return  # a script without the app: nothing to send with
    config = current_app.config
    try:
        from app.jobs.queue import enqueue

        options: dict[str, Any] = {}
        if config.get("REDIS_URL"):
            from rq import Retry

            options["retry"] = Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
        enqueue(config, func_path, *args, **options)
    except Exception as exc:  # noqa: BLE001 - the issue or payment stands; the mail is retried later
        log.exception("could not queue %s%r", func_path, args)
        if invoice_id is not None:
            _mark_failed(invoice_id, f"{type(exc).__name__}: {exc}")


def _mark_failed(invoice_id: int, error: str) -> None:
    from app.extensions import db

    session = db.session.session_factory()
    try:
        invoice = session.get(Invoice, invoice_id)
        if invoice is not None:
            invoice.email_status, invoice.email_error = "failed", error[:500]
            session.commit()
    except Exception:  # noqa: BLE001
        log.exception("could not mark invoice %s's e-mail failed", invoice_id)
    finally:
        session.close()


def invoice_issued(invoice_id: int) -> None:
    """After the commit that issued the invoice."""
    _enqueue(SEND_JOB, invoice_id, "issued", invoice_id=invoice_id)


def payment_received(payment_id: int) -> None:
    """After the commit that recorded a succeeded payment (unless the clinic sends no receipts,
    ``BILLING_EMAIL_ON_PAYMENT``)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    from app.services.billing_settings import BillingSettings

    if not BillingSettings.from_config(current_app.config).email_on_payment:
        return
    _enqueue(RECEIPT_JOB, payment_id)


def resend(invoice_id: int, kind: str) -> None:
    """Staff asked for the invoice to be sent again (``invoice_mail.request_resend`` marked it queued)."""
    _enqueue(SEND_JOB, invoice_id, kind, invoice_id=invoice_id)
