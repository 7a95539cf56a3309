"""What happens after an invoice is issued or paid: the patient gets it by e-mail (HTML and text,
the PDF attached, in their language). Called after the commit, so a mail that fails never undoes
the issue or the payment: the failure is kept on the invoice (``email_status``, ``email_error``),
shown at the counter and retried.

Shell (issue 11): the e-mail part fills ``invoice_issued``/``payment_received`` (enqueue the send
as a job through ``app.jobs.queue.enqueue``)."""
from __future__ import annotations

from app.models import Invoice


def mark_queued(invoice: Invoice) -> None:
    """In the issuing transaction: the invoice's e-mail is on its way."""
    invoice.email_status = "queued"


def invoice_issued(invoice_id: int) -> None:
    """After the commit that issued the invoice."""
    return None


def payment_received(payment_id: int) -> None:
    """After the commit that recorded a succeeded payment."""
    return None
