"""An invoice's status in words: one word per status, the same at the cashier's counter, in the
back office (search, the cashier's day, CSV), in the patient portal and on the printed, PDF and
e-mailed invoice. The words carry the context "invoice status" so that a translator can choose
them apart from the same English words used for amounts ("Paid: 100.000 ₫")."""
from __future__ import annotations

from flask_babel import pgettext

INVOICE_STATUSES = ("draft", "issued", "partially_paid", "paid", "void", "refunded")


def invoice_status_label(status: str | None) -> str:
    """``status`` ("draft", "issued", ...) in the reader's language; an unknown one as it is."""
    words = {
        "draft": pgettext("invoice status", "Draft"),
        "issued": pgettext("invoice status", "Unpaid"),
        "partially_paid": pgettext("invoice status", "Partly paid"),
        "paid": pgettext("invoice status", "Paid"),
        "void": pgettext("invoice status", "Void"),
        "refunded": pgettext("invoice status", "Refunded"),
    }
    return words.get(status or "", status or "")


def invoice_status_labels() -> dict[str, str]:
    """Every status with its word, in the reader's language (for a page's badges and choices)."""
    return {status: invoice_status_label(status) for status in INVOICE_STATUSES}
