"""Building pharmacy records for the tests: medicines, batches received through the ledger, and
issued prescriptions (as the doctor's visit issues them)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import count

from app.models import Medicine, Prescription, PrescriptionItem, StockBatch, StockMovement

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)  # 10:00 in Hà Nội
TODAY = date(2026, 12, 1)
_codes = count(1)


def medicine(db, name: str = "Paracetamol", reorder_level: int = 0, **extra) -> int:
    item = Medicine(code=f"M{next(_codes):04d}", name=name, strength="500 mg", unit="viên",
                    price=Decimal(1000), reorder_level=reorder_level, **extra)
    db.session.add(item)
    db.session.commit()
    return item.id


def batch(db, medicine_id: int, quantity: int, expires_in_days: int, lot: str | None = None,
          unit_cost: int = 500, received_at: datetime | None = None) -> int:
    """A batch and its receipt row in the ledger."""
    item = StockBatch(medicine_id=medicine_id, lot_number=lot or f"L{next(_codes):05d}",
                      expiry_date=TODAY + timedelta(days=expires_in_days), quantity=quantity,
                      unit_cost=Decimal(unit_cost))
    db.session.add(item)
    db.session.flush()
    if quantity:
        db.session.add(StockMovement(batch_id=item.id, medicine_id=medicine_id, kind="receipt", quantity=quantity,
                                     reference_type="stock_batch", created_at=received_at or NOW - timedelta(days=40)))
    db.session.commit()
    return item.id


def prescription(db, clinic, *items: tuple[int, int], duration_days: int = 5, status: str = "issued") -> int:
    """An issued prescription of (medicine id, quantity) items."""
    record = Prescription(patient_id=clinic.patient, doctor_id=clinic.doctor, status=status,
                          issued_at=NOW if status != "draft" else None)
    record.items = [PrescriptionItem(medicine_id=m, dose="1 viên", frequency="3 lần/ngày", duration_days=duration_days,
                                     quantity=q) for m, q in items]
    db.session.add(record)
    db.session.commit()
    return record.id


def item_ids(db, prescription_id: int) -> list[int]:
    record = db.session.get(Prescription, prescription_id)
    return [i.id for i in sorted(record.items, key=lambda i: i.id)]


def stock_of(db, batch_id: int) -> int:
    db.session.expire_all()
    return db.session.get(StockBatch, batch_id).quantity
