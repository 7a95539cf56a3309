"""What the pharmacy looks at: the dispensing queue, stock on hand with days of cover, and the
alerts (below reorder, order now, expiring soon, expired). Plain rows for the pages, the API and a
future daily digest (``pharmacy_alerts``)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import Medicine, Patient, Prescription, PrescriptionItem, StockBatch, StockMovement, Supplier
from app.services import access, stock_usage
from app.services.dispensing import DISPENSABLE, ITEM_REFERENCE
from app.services.lookup import patient_condition
from app.services.pharmacy_settings import PharmacyPolicy

CODE = re.compile(r"^\s*(?:RX-?)?0*(\d{1,9})\s*$", re.IGNORECASE)


def prescription_code(prescription_id: int) -> str:
    return f"RX-{prescription_id:06d}"


# ---- the dispensing queue -------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    item_id: int
    medicine_id: int
    medicine: str
    unit: str
    prescribed: int
    dispensed: int
    in_stock: int  # usable (unexpired) units on the shelf

    @property
    def remaining(self) -> int:
        return self.prescribed - self.dispensed


@dataclass(frozen=True)
class QueueRow:
    prescription_id: int
    code: str
    status: str
    issued_at: datetime | None
    patient_id: int
    patient: str
    doctor: str
    items: list[QueueItem]


def usable_stock(session: Session, medicine_ids: list[int], today: date) -> dict[int, int]:
    """Unexpired units on the shelf per medicine (a batch is usable up to the day before its expiry)."""
    if not medicine_ids:
        return {}
    rows = session.execute(
        select(StockBatch.medicine_id, func.sum(StockBatch.quantity))
        .where(StockBatch.medicine_id.in_(sorted(set(medicine_ids))), StockBatch.expiry_date > today)
        .group_by(StockBatch.medicine_id)).all()
    return {m: int(n or 0) for m, n in rows}


def dispensing_queue(session: Session, user: Any, now: datetime, today: date, search: str | None = None,
                     limit: int = 100, region: str = "VN", since: datetime | None = None) -> list[QueueRow]:
    """Prescriptions waiting at the pharmacy (issued, partly dispensed) that ``user`` may read,
    newest first; ``search`` is a patient (name, code, phone) or a prescription code (RX-000123 or 123);
    ``since`` keeps those issued from then on (None: all of them)."""
    query = (select(Prescription).join(Patient, Prescription.patient_id == Patient.id)
             .where(Prescription.status.in_(DISPENSABLE))
             .options(selectinload(Prescription.items).selectinload(PrescriptionItem.medicine),
                      selectinload(Prescription.patient), selectinload(Prescription.doctor)))
    condition = access.readable_condition(user, Prescription, now)
    if condition is not None:
        query = query.where(condition)
    if since is not None:
        query = query.where(func.coalesce(Prescription.issued_at, Prescription.created_at) >= since)
    text = (search or "").strip()[:100]
    if text:
        code = CODE.match(text)
        by_patient = patient_condition(text, region)
        query = query.where(or_(Prescription.id == int(code.group(1)), by_patient) if code else by_patient)
    query = query.order_by(func.coalesce(Prescription.issued_at, Prescription.created_at).desc(),
                           Prescription.id.desc()).limit(limit)
    prescriptions = list(session.execute(query).scalars())
    stock = usable_stock(session, [i.medicine_id for p in prescriptions for i in p.items], today)
    return [QueueRow(p.id, prescription_code(p.id), p.status, p.issued_at, p.patient_id, p.patient.full_name,
                     str(p.doctor), [QueueItem(i.id, i.medicine_id, str(i.medicine), i.medicine.unit, i.quantity,
                                               i.dispensed_quantity, stock.get(i.medicine_id, 0))
                                     for i in sorted(p.items, key=lambda i: i.id)])
            for p in prescriptions]


# ---- stock on hand, days of cover ------------------------------------------------------------


def days_of_cover(on_hand: int, average_daily_use: float) -> float | None:
    """How many days the usable stock lasts at the average daily use; None when nothing is used."""
    if average_daily_use <= 0:
        return None
    return on_hand / average_daily_use


def average_daily_use(units_used: int, days: int) -> float:
    """Units dispensed (net of returns) over the last ``days`` days, per day."""
    return max(units_used, 0) / days if days > 0 else 0.0


@dataclass(frozen=True)
class MedicineStock:
    medicine_id: int
    code: str
    name: str
    unit: str
    reorder_level: int
    on_hand: int  # usable units
    expired: int  # units of expired batches still on the books
    nearest_expiry: date | None  # of a usable batch with stock
    daily_use: float
    days_of_cover: float | None
    lead_time_days: int
    supplier: str | None

    @property
    def below_reorder(self) -> bool:
        return self.on_hand < self.reorder_level

    @property
    def order_now(self) -> bool:
        """Order before the shelf is empty: the stock lasts no longer than a delivery takes (days of
        cover <= lead time; an empty shelf with recent use has 0 days). Unused medicines (no cover
        figure) never are; being below the reorder level is its own alert (``below_reorder``)."""
        cover = self.days_of_cover
        return cover is not None and cover <= self.lead_time_days


def medicine_stock(session: Session, today: date, policy: PharmacyPolicy, *, below_reorder: bool = False,
                   search: str | None = None, medicine_ids: list[int] | None = None) -> list[MedicineStock]:
    """Every active medicine (or those asked for) with stock on hand, days of cover and nearest
    expiry; ``below_reorder`` keeps those under their reorder level. Sorted by name."""
    usable = StockBatch.expiry_date > today
    batches = (select(StockBatch.medicine_id.label("medicine_id"),
                      func.sum(case((usable, StockBatch.quantity), else_=0)).label("on_hand"),
                      func.sum(case((usable, 0), else_=StockBatch.quantity)).label("expired"),
                      func.min(case((and_(usable, StockBatch.quantity > 0), StockBatch.expiry_date))).label("nearest"))
               .group_by(StockBatch.medicine_id).subquery())
    # The window: the last ``usage_days`` clinic days, today included (the daily-use rollup).
    used = stock_usage.use_since(session, today - timedelta(days=policy.usage_days - 1), medicine_ids)
    on_hand = func.coalesce(batches.c.on_hand, 0)
    query = (select(Medicine.id, Medicine.code, Medicine.name, Medicine.strength, Medicine.unit,
                    Medicine.reorder_level, on_hand, func.coalesce(batches.c.expired, 0), batches.c.nearest,
                    func.coalesce(used.c.used, 0), Supplier.lead_time_days, Supplier.name)
             .outerjoin(batches, batches.c.medicine_id == Medicine.id)
             .outerjoin(used, used.c.medicine_id == Medicine.id)
             .outerjoin(Supplier, Supplier.id == Medicine.supplier_id)
             .where(Medicine.active.is_(True)).order_by(Medicine.name, Medicine.id))
    if below_reorder:
        query = query.where(on_hand < Medicine.reorder_level)
    if medicine_ids is not None:
        query = query.where(Medicine.id.in_(medicine_ids))
    text = (search or "").strip()[:100]
    if text:
        like = f"%{text}%"
        query = query.where(or_(Medicine.name.ilike(like), Medicine.code.ilike(like),
                                Medicine.active_ingredient.ilike(like)))
    rows = []
    for (mid, code, name, strength, unit, reorder, stock, expired, nearest, used_units, lead, supplier) in \
            session.execute(query):
        daily = average_daily_use(int(used_units), policy.usage_days)
        rows.append(MedicineStock(mid, code, f"{name} {strength or ''}".strip(), unit, reorder, int(stock),
                                  int(expired), _as_date(nearest), daily, days_of_cover(int(stock), daily),
                                  lead if lead is not None else policy.default_lead_time_days, supplier))
    return rows


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))  # SQLite answers MIN(date) as text


# ---- alerts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchAlert:
    batch_id: int
    medicine_id: int
    medicine: str
    lot_number: str
    expiry_date: date
    quantity: int
    unit_cost: Decimal

    @property
    def value(self) -> Decimal:
        return self.unit_cost * self.quantity


@dataclass
class PharmacyAlerts:
    today: date
    below_reorder: list[MedicineStock] = field(default_factory=list)
    order_now: list[MedicineStock] = field(default_factory=list)
    expiring: list[BatchAlert] = field(default_factory=list)  # within the window, not yet expired
    expired: list[BatchAlert] = field(default_factory=list)  # waiting for their write-off

    @property
    def expiring_value(self) -> Decimal:
        return sum((b.value for b in self.expiring), Decimal(0))

    @property
    def expired_value(self) -> Decimal:
        return sum((b.value for b in self.expired), Decimal(0))


def _batch_alerts(session: Session, condition: Any) -> list[BatchAlert]:
    rows = session.execute(
        select(StockBatch.id, StockBatch.medicine_id, Medicine.name, Medicine.strength, StockBatch.lot_number,
               StockBatch.expiry_date, StockBatch.quantity, StockBatch.unit_cost)
        .join(Medicine, Medicine.id == StockBatch.medicine_id)
        .where(StockBatch.quantity > 0, condition).order_by(StockBatch.expiry_date, StockBatch.id)).all()
    return [BatchAlert(r[0], r[1], f"{r[2]} {r[3] or ''}".strip(), r[4], r[5], int(r[6]), Decimal(r[7]))
            for r in rows]


def pharmacy_alerts(session: Session, today: date, policy: PharmacyPolicy) -> PharmacyAlerts:
    """The dashboard (and the daily digest): medicines below reorder, medicines to order now (days of
    cover within the supplier's lead time), batches expiring within ``policy.expiry_window_days``
    with their value at cost, and expired stock waiting for its write-off."""
    stock = medicine_stock(session, today, policy)
    window_end = today + timedelta(days=policy.expiry_window_days)
    return PharmacyAlerts(
        today=today,
        below_reorder=[s for s in stock if s.below_reorder],
        order_now=sorted((s for s in stock if s.order_now),
                         key=lambda s: (s.days_of_cover if s.days_of_cover is not None else math.inf, s.name)),
        expiring=_batch_alerts(session, and_(StockBatch.expiry_date > today, StockBatch.expiry_date <= window_end)),
        expired=_batch_alerts(session, StockBatch.expiry_date <= today),
    )


# ---- one medicine -------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    id: int
    at: datetime
    batch: str
    kind: str
    quantity: int
    reference_type: str | None
    reference_id: int | None
    reason: str | None
    note: str | None
    prescription_id: int | None = None  # a dispense or return: its prescription
    patient: str | None = None  # ... and its patient, when the reader may see the record

    @property
    def prescription_code(self) -> str | None:
        return prescription_code(self.prescription_id) if self.prescription_id else None


def medicine_ledger(session: Session, medicine_id: int, user: Any = None, now: datetime | None = None,
                    limit: int = 200) -> list[LedgerRow]:
    """A medicine's movements, newest first. A dispense or return names its prescription (code),
    and its patient when ``user`` may read that patient's record (``access``)."""
    rows = session.execute(
        select(StockMovement, StockBatch.lot_number).join(StockBatch, StockBatch.id == StockMovement.batch_id)
        .where(StockMovement.medicine_id == medicine_id)
        .order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit)).all()
    item_ids = {m.reference_id for m, _lot in rows if m.reference_type == ITEM_REFERENCE and m.reference_id}
    prescription_of: dict[int, int] = {}
    patients: dict[int, str] = {}
    if item_ids:
        prescription_of = dict(session.execute(select(PrescriptionItem.id, PrescriptionItem.prescription_id)
                                                .where(PrescriptionItem.id.in_(sorted(item_ids)))).all())
        if user is not None and now is not None and prescription_of:
            query = (select(Prescription.id, Patient.full_name).join(Patient, Prescription.patient_id == Patient.id)
                     .where(Prescription.id.in_(sorted(set(prescription_of.values())))))
            condition = access.readable_condition(user, Prescription, now)
            if condition is not None:
                query = query.where(condition)
            patients = dict(session.execute(query).all())
    result = []
    for m, lot in rows:
        pid = prescription_of.get(m.reference_id) if m.reference_type == ITEM_REFERENCE and m.reference_id else None
        result.append(LedgerRow(m.id, m.created_at, lot, m.kind, m.quantity, m.reference_type, m.reference_id,
                                m.reason, m.note, pid, patients.get(pid) if pid else None))
    return result


def daily_usage(session: Session, medicine_id: int, first_day: date) -> list[tuple[date, int]]:
    """Units dispensed (net of returns) per clinic day since ``first_day``, for the usage chart."""
    return stock_usage.daily_use(session, medicine_id, first_day)
