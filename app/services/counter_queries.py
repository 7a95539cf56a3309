"""What the cashier's counter (/cashier/) reads beside ``app.services.billing`` and
``app.services.payments``: today's open invoices, the open invoices of the patients a search
found, the catalogue a line is picked from (with its prices), and a payment by its idempotency key
(a double click that raced the first one to the database)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import Invoice, LabTest, Medicine, Payment, Service
from app.services.billing import PAYABLE

OPEN = ("draft", *PAYABLE)
MAX_ROWS = 100


def open_invoices_since(session: Session, since: datetime, limit: int = MAX_ROWS) -> list[Invoice]:
    """Invoices still open (draft, issued, partly paid) that were made or changed since ``since``
    (the start of the clinic's today): the counter's list, newest change first."""
    return list(session.execute(
        select(Invoice).where(Invoice.status.in_(OPEN), or_(Invoice.created_at >= since, Invoice.updated_at >= since))
        .options(selectinload(Invoice.patient)).order_by(Invoice.updated_at.desc(), Invoice.id.desc()).limit(limit)
    ).scalars())


def open_invoices_of(session: Session, patient_ids: Iterable[int]) -> dict[int, list[Invoice]]:
    """The open invoices of each of ``patient_ids`` (oldest first), in one query."""
    ids = sorted(set(patient_ids))
    found: dict[int, list[Invoice]] = {pid: [] for pid in ids}
    if not ids:
        return found
    for invoice in session.execute(select(Invoice).where(Invoice.patient_id.in_(ids), Invoice.status.in_(OPEN))
                                   .order_by(Invoice.created_at, Invoice.id)).scalars():
        found[invoice.patient_id].append(invoice)
    return found


def invoices_numbered_like(session: Session, text: str, limit: int = 20) -> list[Invoice]:
    """Invoices whose number starts with ``text`` (a number typed in part), newest first."""
    prefix = (text or "").strip().upper()
    if not prefix:
        return []
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return list(session.execute(
        select(Invoice).where(Invoice.number.like(f"{escaped}%", escape="\\"))
        .options(selectinload(Invoice.patient)).order_by(Invoice.id.desc()).limit(limit)).scalars())


@dataclass(frozen=True)
class CatalogueItem:
    id: int
    name: str
    price: Decimal


@dataclass(frozen=True)
class Catalogue:
    services: list[CatalogueItem]
    medicines: list[CatalogueItem]
    lab_tests: list[CatalogueItem]


def _medicine_name(medicine: Medicine) -> str:
    label = " ".join(p for p in (medicine.name, medicine.strength or "") if p)
    return f"{label} ({medicine.unit})" if medicine.unit else label


def line_catalogue(session: Session) -> Catalogue:
    """The active services, medicines and lab tests a line can be picked from, with their prices."""
    services = [CatalogueItem(s.id, s.name, Decimal(s.price)) for s in session.execute(
        select(Service).where(Service.active.is_(True)).order_by(Service.name)).scalars()]
    medicines = [CatalogueItem(m.id, _medicine_name(m), Decimal(m.price)) for m in session.execute(
        select(Medicine).where(Medicine.active.is_(True)).order_by(Medicine.name, Medicine.id)).scalars()]
    lab_tests = [CatalogueItem(t.id, t.name, Decimal(t.price)) for t in session.execute(
        select(LabTest).where(LabTest.active.is_(True)).order_by(LabTest.name)).scalars()]
    return Catalogue(services, medicines, lab_tests)


def payment_by_key(session: Session, idempotency_key: str | None) -> Payment | None:
    """The payment recorded under ``idempotency_key`` (the form's hidden key), if any."""
    if not idempotency_key:
        return None
    return session.execute(select(Payment).where(Payment.idempotency_key == idempotency_key)).scalar_one_or_none()


def get_payment(session: Session, payment_id: int) -> Payment | None:
    return session.get(Payment, payment_id)


def user_label(session: Session, user_id: int | None) -> str | None:
    """The name of a staff user (who voided an invoice), or None."""
    if user_id is None:
        return None
    from flask_appbuilder.security.sqla.models import User

    user = session.get(User, user_id)
    return str(user) if user is not None else None
