"""Reading invoices for whoever asks (the billing API): staff whose role reads billing see every
invoice; a patient only their own, and only once issued (a draft is the clinic's work in progress,
not yet a bill). Every read goes through ``app.services.access`` (``readable_condition`` for lists,
``open_record`` for one invoice), which leaves the audit row; another patient's invoice is
"not found" to a patient, never "forbidden" (it does not say that it exists)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Invoice
from app.services import access
from app.services.errors import NotFound
from app.services.roles import is_staff, role_names

# What a patient never sees of their own invoices.
HIDDEN_FROM_PATIENTS = ("draft",)
MAX_PAGE_SIZE = 100


def sees_drafts(user: Any) -> bool:
    return user is not None and is_staff(role_names(user))


@dataclass(frozen=True)
class InvoiceSearch:
    """What the invoice list is narrowed to: a part of the number, a patient, a status, and the
    invoice's date (issued, or created for a draft) from ``start`` (inclusive) to ``end``
    (exclusive), aware instants."""

    number: str | None = None
    patient_id: int | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    count: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_invoices(session: Session, user: Any, now: datetime, search: InvoiceSearch, page: int = 0,
                    page_size: int = 25) -> InvoicePage:
    """The invoices ``user`` may read that match ``search``, newest first, one page of them
    (``page`` counts from 0), and how many match in all. One audit row lists the ids shown."""
    query = select(Invoice)
    condition = access.readable_condition(user, Invoice, now)
    if condition is not None:
        query = query.where(condition)
    if not sees_drafts(user):
        query = query.where(Invoice.status.not_in(HIDDEN_FROM_PATIENTS))
    number = (search.number or "").strip().upper()
    if number:
        query = query.where(Invoice.number.like(_like(number), escape="\\"))
    if search.patient_id is not None:
        query = query.where(Invoice.patient_id == search.patient_id)
    if search.status:
        query = query.where(Invoice.status == search.status)
    day = func.coalesce(Invoice.issued_at, Invoice.created_at)
    if search.start is not None:
        query = query.where(day >= search.start)
    if search.end is not None:
        query = query.where(day < search.end)
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    invoices = list(session.execute(query.order_by(day.desc(), Invoice.id.desc())
                                    .offset(max(page, 0) * size).limit(size)).scalars())
    access.record_list_read(session, user, Invoice, invoices)
    return InvoicePage(invoices, count)


def open_invoice(session: Session, user: Any, invoice_id: int, now: datetime) -> Invoice:
    """One invoice as ``user`` may read it, with the audit row (``access.open_record``);
    ``NotFound`` when there is none, when it is a draft and ``user`` a patient, or when it is
    another patient's (the refusal is audited as ``denied``)."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or (invoice.status in HIDDEN_FROM_PATIENTS and not sees_drafts(user)):
        raise NotFound(_("There is no such invoice."), "invoice_id")
    try:
        access.open_record(session, user, invoice, now)
    except access.CareAccessDenied:
        raise NotFound(_("There is no such invoice."), "invoice_id") from None
    return invoice
