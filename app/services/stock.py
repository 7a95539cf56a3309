"""Rules for medicines and stock. A batch's quantity only changes together with a ledger entry."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.orm import InstanceState, Session

from app.models import Medicine, StockBatch, StockMovement
from app.services import validation as v
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings


def validate_medicine(session: Session, medicine: Medicine, settings: ClinicSettings) -> None:
    medicine.code = v.require_text("code", medicine.code, 30).upper()
    medicine.name = v.require_text("name", medicine.name, 200)
    medicine.unit = v.require_text("unit", medicine.unit, 30)
    v.non_negative("price", medicine.price)
    v.non_negative("reorder_level", medicine.reorder_level)
    v.unique(session, medicine, "code", _("Another medicine already has this code."))


def validate_stock_batch(session: Session, batch: StockBatch, settings: ClinicSettings) -> None:
    batch.lot_number = v.require_text("lot_number", batch.lot_number, 40)
    if batch.expiry_date is None:
        raise ValidationFailed(_("This field is required."), "expiry_date")
    v.non_negative("quantity", batch.quantity)
    v.non_negative("unit_cost", batch.unit_cost)
    _record_quantity_change(session, batch)


def _record_quantity_change(session: Session, batch: StockBatch) -> None:
    """A new batch is a receipt; a changed quantity is an adjustment. Both land in the ledger
    in the same transaction as the batch itself."""
    state: InstanceState[StockBatch] = inspect(batch)
    if state.persistent:
        history = state.attrs.quantity.history
        old = history.deleted[0] if history.deleted else batch.quantity
        delta, kind = (batch.quantity or 0) - (old or 0), "adjustment"
    else:
        delta, kind = batch.quantity or 0, "receipt"
    if delta:
        session.add(StockMovement(
            batch=batch, medicine_id=batch.medicine_id if batch.medicine_id else batch.medicine.id,
            kind=kind, quantity=delta, reference_type="stock_batch",
            note=_("Entered on the stock batch screen"),
        ))
