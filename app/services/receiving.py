"""Goods receipts: a delivery from a supplier, line by line. Each line becomes a stock batch (or
adds to the batch of the same medicine, lot and expiry) and a ``receipt`` row of the ledger."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Sequence

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import GoodsReceipt, GoodsReceiptLine, Medicine, StockBatch, StockMovement, Supplier
from app.services import validation as v
from app.services.errors import NotFound, committing
from app.services.pharmacy_settings import PharmacyPolicy
from app.services.settings import ClinicSettings
from app.services.stock import StockRefused

MAX_LINES = 200
RECEIPT_REFERENCE = "goods_receipt"


@dataclass(frozen=True)
class ReceiptLine:
    medicine_id: Any
    lot_number: Any
    expiry_date: Any
    quantity: Any
    unit_cost: Any = 0


def validate_supplier(session: Session, supplier: Supplier, settings: ClinicSettings) -> None:
    supplier.name = v.require_text("name", supplier.name, 200)
    supplier.phone = v.normalize_phone("phone", supplier.phone, settings.phone_region)
    if supplier.lead_time_days is None:
        supplier.lead_time_days = 7
    v.in_range("lead_time_days", supplier.lead_time_days, 0, 365)
    v.unique(session, supplier, "name", _("Another supplier already has this name."))


def _line_errors(session: Session, index: int, line: ReceiptLine, today: date, policy: PharmacyPolicy,
                 errors: dict[str, str]) -> tuple[int, str, date, int, Decimal] | None:
    prefix = f"lines.{index}"
    before = len(errors)
    medicine = None
    if isinstance(line.medicine_id, int) and not isinstance(line.medicine_id, bool):
        medicine = session.get(Medicine, line.medicine_id)
    if medicine is None:
        errors[f"{prefix}.medicine_id"] = _("Choose a medicine from the catalogue.")
    lot = (line.lot_number or "").strip() if isinstance(line.lot_number, str) else ""
    if not lot:
        errors[f"{prefix}.lot_number"] = _("This field is required.")
    elif len(lot) > 40:
        errors[f"{prefix}.lot_number"] = _("At most %(n)s characters.", n=40)
    expiry = line.expiry_date if isinstance(line.expiry_date, date) else None
    earliest = today + timedelta(days=policy.min_shelf_life_days)
    if expiry is None:
        errors[f"{prefix}.expiry_date"] = _("Enter the expiry date.")
    elif expiry <= today:
        errors[f"{prefix}.expiry_date"] = _("This expiry date has passed: the delivery cannot be accepted.")
    elif expiry < earliest:
        errors[f"{prefix}.expiry_date"] = _(
            "Expires too soon: at least %(days)s days of shelf life are required (until %(date)s or later).",
            days=policy.min_shelf_life_days, date=earliest.strftime("%d/%m/%Y"))
    quantity = line.quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        errors[f"{prefix}.quantity"] = _("Enter a quantity of at least 1.")
    elif quantity > 10_000_000:
        errors[f"{prefix}.quantity"] = _("At most %(n)s.", n="10 000 000")
    try:
        cost = Decimal(str(line.unit_cost if line.unit_cost not in (None, "") else 0))
        if not cost.is_finite() or cost < 0 or cost >= Decimal("1e12"):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors[f"{prefix}.unit_cost"] = _("Enter a cost of zero or more.")
        cost = Decimal(0)
    if len(errors) > before:
        return None
    return line.medicine_id, lot, expiry, quantity, cost  # type: ignore[return-value]


def receive_delivery(session: Session, supplier_id: Any, lines: Sequence[ReceiptLine], actor_id: int | None,
                     now: datetime, today: date, *, policy: PharmacyPolicy | None = None,
                     delivery_note: str | None = None) -> int:
    """Receive a delivery: every broken line named at once (422, nothing written), else one batch
    and one ledger receipt per line. Commits; the receipt's id."""
    policy = policy or PharmacyPolicy()
    with committing(session):
        errors: dict[str, str] = {}
        supplier = session.get(Supplier, supplier_id) if isinstance(supplier_id, int) else None
        if supplier is None:
            errors["supplier_id"] = _("Choose a supplier.")
        if not lines:
            errors["lines"] = _("Add at least one line.")
        elif len(lines) > MAX_LINES:
            errors["lines"] = _("At most %(n)s lines per delivery.", n=MAX_LINES)
        note = (delivery_note or "").strip() or None
        if note is not None and len(note) > 60:
            errors["delivery_note"] = _("At most %(n)s characters.", n=60)
        checked = [_line_errors(session, i, line, today, policy, errors) for i, line in enumerate(lines[:MAX_LINES])]
        # The same lot of a medicine has one expiry date (on the shelf and within this delivery).
        seen: dict[tuple[int, str], date] = {}
        for index, values in enumerate(checked):
            if values is None:
                continue
            medicine_id, lot, expiry, _quantity, _cost = values
            known = seen.setdefault((medicine_id, lot), expiry)
            existing = session.execute(select(StockBatch.expiry_date).where(
                StockBatch.medicine_id == medicine_id, StockBatch.lot_number == lot)).scalar_one_or_none()
            if known != expiry or (existing is not None and existing != expiry):
                errors[f"lines.{index}.lot_number"] = _(
                    "This lot is already recorded with another expiry date (%(date)s).",
                    date=(existing or known).strftime("%d/%m/%Y"))
        if errors:
            raise StockRefused(errors)
        receipt = GoodsReceipt(supplier_id=supplier_id, delivery_note=note, received_at=now, received_by_id=actor_id)
        session.add(receipt)
        session.flush()
        for values in checked:
            assert values is not None
            medicine_id, lot, expiry, quantity, cost = values
            batch = session.execute(select(StockBatch).where(
                StockBatch.medicine_id == medicine_id, StockBatch.lot_number == lot).with_for_update()
                .execution_options(populate_existing=True)).scalar_one_or_none()
            if batch is None:
                batch = StockBatch(medicine_id=medicine_id, lot_number=lot, expiry_date=expiry, quantity=quantity,
                                   unit_cost=cost)
                session.add(batch)
                session.flush()
            else:
                total = batch.quantity + quantity
                average = ((batch.unit_cost * batch.quantity + cost * quantity) / total) if total else cost
                session.execute(update(StockBatch).where(StockBatch.id == batch.id).values(
                    quantity=StockBatch.quantity + quantity,
                    unit_cost=average.quantize(Decimal("0.01"), ROUND_HALF_UP))
                    .execution_options(synchronize_session=False))
                session.expire(batch, ["quantity", "unit_cost"])
            session.add(GoodsReceiptLine(receipt_id=receipt.id, medicine_id=medicine_id, batch_id=batch.id,
                                         lot_number=lot, expiry_date=expiry, quantity=quantity, unit_cost=cost))
            session.add(StockMovement(batch_id=batch.id, medicine_id=medicine_id, kind="receipt", quantity=quantity,
                                      reference_type=RECEIPT_REFERENCE, reference_id=receipt.id, actor_id=actor_id,
                                      created_at=now, note=str(supplier)[:300]))
        session.flush()
    return receipt.id


def get_receipt(session: Session, receipt_id: int) -> GoodsReceipt:
    receipt = session.get(GoodsReceipt, receipt_id)
    if receipt is None:
        raise NotFound(_("No such goods receipt."), "receipt_id")
    return receipt


__all__ = ["ReceiptLine", "get_receipt", "receive_delivery", "validate_supplier"]
