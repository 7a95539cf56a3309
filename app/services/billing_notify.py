"""What happens after an invoice is issued or paid: the patient gets it by e-mail (HTML and text,
the PDF attached, in their language). Called after the commit, so a mail that fails never undoes
the issue or the payment: the failure is kept on the invoice (``email_status``, ``email_error``),
shown at the counter and retried.

Each e-mail is a message of the messaging core (``app.services.invoice_mail``): written here in
its own transaction (once per decision: the issue, each payment, each "e-mail again"), then handed
to ``enqueue_deliveries``: one ``app.jobs.messages.deliver`` job on RQ with ``REDIS_URL``,
otherwise sent at once in this process. Retries are the messaging core's (backoff, the sweep).
Nothing here raises into the caller: a message that cannot be written marks the invoice's e-mail
failed, for ``flask billing retry-emails``; a queue that cannot be reached loses nothing (the
sweep finds the message)."""
from __future__ import annotations

import logging

from app.models import Invoice

log = logging.getLogger(__name__)


def mark_queued(invoice: Invoice) -> None:
    """In the issuing transaction: the invoice's e-mail is on its way."""
    invoice.email_status = "queued"


def _send(invoice_id: int, kind: str, key: str | None, actor_id: int | None = None) -> None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return  # a script without the app: nothing to send with
    from app.extensions import db
    from app.services import invoice_mail
    from app.services.messaging.delivery import enqueue_deliveries

    config = current_app.config
    session = db.session.session_factory()  # its own transaction: the caller's session is left alone
    try:
        message = invoice_mail.queue_invoice_email(session, invoice_id, kind, config, key=key,
                                                   created_by_id=actor_id)
        session.commit()
        ids = [message.id] if message is not None and message.status == "queued" else []
    except Exception as exc:  # noqa: BLE001 - the issue or payment stands; the mail is retried later
        session.rollback()
        log.exception("could not queue the %s e-mail of invoice %s", kind, invoice_id)
        _mark_failed(invoice_id, f"{type(exc).__name__}: {exc}")
        return
    finally:
        session.close()
    enqueue_deliveries(config, ids)


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
    _send(invoice_id, "issued", "issued")


def payment_received(payment_id: int) -> None:
    """After the commit that recorded a succeeded payment (unless the clinic sends no receipts,
    ``BILLING_EMAIL_ON_PAYMENT``). One receipt per payment, however often this is called."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    from app.extensions import db
    from app.models import Payment
    from app.services.billing_settings import BillingSettings

    if not BillingSettings.from_config(current_app.config).email_on_payment:
        return
    session = db.session.session_factory()
    try:
        payment = session.get(Payment, payment_id)
        invoice_id = payment.invoice_id if payment is not None else None
    finally:
        session.close()
    if invoice_id is not None:
        _send(invoice_id, "paid", f"paid:{payment_id}")


def resend(invoice_id: int, kind: str, actor_id: int | None = None) -> None:
    """Staff asked for the invoice to be sent again (``invoice_mail.request_resend`` marked it
    queued): a new message each time."""
    _send(invoice_id, kind, None, actor_id)
