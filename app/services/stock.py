"""Rules for medicines and stock. A batch's quantity only changes together with a ledger entry."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import InstanceState, Session

from app.i18n import N_
from app.models import Medicine, StockBatch, StockMovement
from app.services import validation as v
from app.services.errors import Conflict, NotFound, ValidationFailed, committing
from app.services.settings import ClinicSettings


def validate_medicine(session: Session, medicine: Medicine, settings: ClinicSettings) -> None:
    medicine.code = v.require_text("code", medicine.code, 30).upper()
    medicine.name = v.require_text("name", medicine.name, 200)
    medicine.unit = v.require_text("unit", medicine.unit, 30)
    v.non_negative("price", medicine.price)
    v.non_negative("reorder_level", medicine.reorder_level)
    v.unique(session, medicine, "code", _("Another medicine already has this code."))


def validate_stock_batch(session: Session, batch: StockBatch, settings: ClinicSettings) -> None:
    """The generic batch screen and REST resource: a new batch's quantity is its receipt (a ledger
    row); afterwards the quantity is read-only there. It changes only through dispensing, returns,
    goods receipts and ``adjust_stock``, each writing its ledger row."""
    batch.lot_number = v.require_text("lot_number", batch.lot_number, 40)
    if batch.expiry_date is None:
        raise ValidationFailed(_("This field is required."), "expiry_date")
    v.non_negative("quantity", batch.quantity)
    v.non_negative("unit_cost", batch.unit_cost)
    state: InstanceState[StockBatch] = inspect(batch)
    if state.persistent:
        if state.attrs.quantity.history.has_changes():
            raise ValidationFailed(_("The quantity changes only through dispensing, receipts and the "
                                     "\"Adjust stock\" action (with a reason)."), "quantity")
        return
    if batch.quantity:
        session.add(StockMovement(
            batch=batch, medicine_id=batch.medicine_id if batch.medicine_id else batch.medicine.id,
            kind="receipt", quantity=batch.quantity, reference_type="stock_batch",
            note=_("Entered on the stock batch screen"),
        ))


class StockRefused(ValidationFailed):
    """Several fields may be wrong at once: ``errors`` maps each field to its message (422)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = errors

    def as_dict(self) -> dict:
        return {"message": {name: [message] for name, message in self.errors.items()}}


# Why a count is adjusted by hand. The last one writes the ledger kind of the same name.
ADJUSTMENT_REASONS = (N_("count_correction"), N_("damage"), N_("loss"), N_("expiry_write_off"))
OUT_ONLY = ("damage", "loss", "expiry_write_off")


def adjust_stock(session: Session, batch_id: int, delta: int, reason: str, note: str | None,
                 actor_id: int | None, now: datetime) -> int:
    """Change a batch's count by ``delta`` with a reason (and a note): one ledger row, kind
    ``adjustment`` (``expiry_write_off`` for that reason). Never below zero: the batch row is
    locked (``SELECT ... FOR UPDATE`` on PostgreSQL) and the decrement is conditional. Commits;
    the movement's id."""
    with committing(session):
        batch = session.execute(select(StockBatch).where(StockBatch.id == batch_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one_or_none()
        if batch is None:
            raise NotFound(_("No such stock batch."), "batch_id")
        errors: dict[str, str] = {}
        if reason not in ADJUSTMENT_REASONS:
            errors["reason"] = _("Choose a reason: count correction, damage, loss or expiry write-off.")
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            errors["delta"] = _("Enter a change other than zero (negative to take stock out).")
        elif abs(delta) > 10_000_000:
            errors["delta"] = _("At most %(n)s.", n="10 000 000")
        elif reason in OUT_ONLY and delta > 0:
            errors["delta"] = _("Damage, loss and expiry write-off take stock out: enter a negative change.")
        elif batch.quantity + delta < 0:
            errors["delta"] = _("Only %(n)s left in this batch.", n=batch.quantity)
        note = (note or "").strip() or None
        if note is not None and len(note) > 300:
            errors["note"] = _("At most %(n)s characters.", n=300)
        if errors:
            raise StockRefused(errors)
        if not move_batch_quantity(session, batch_id, delta):
            raise Conflict(_("The stock of this batch changed meanwhile. Please try again."), "delta")
        movement = StockMovement(batch_id=batch.id, medicine_id=batch.medicine_id,
                                 kind="expiry_write_off" if reason == "expiry_write_off" else "adjustment",
                                 quantity=delta, reference_type="stock_batch", reference_id=batch.id,
                                 reason=reason, note=note, actor_id=actor_id, created_at=now)
        session.add(movement)
        session.flush()
        session.expire(batch, ["quantity"])
    return movement.id


@dataclass(frozen=True)
class LedgerMismatch:
    batch_id: int
    medicine_id: int
    lot_number: str
    quantity: int
    ledger: int


def verify_ledger(session: Session) -> list[LedgerMismatch]:
    """Every batch whose quantity is not the sum of its ledger rows (none, when all is well)."""
    sums = (select(StockMovement.batch_id, func.sum(StockMovement.quantity).label("total"))
            .group_by(StockMovement.batch_id).subquery())
    ledger = func.coalesce(sums.c.total, 0)
    rows = session.execute(
        select(StockBatch.id, StockBatch.medicine_id, StockBatch.lot_number, StockBatch.quantity, ledger)
        .outerjoin(sums, sums.c.batch_id == StockBatch.id)
        .where(StockBatch.quantity != ledger).order_by(StockBatch.id)).all()
    return [LedgerMismatch(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


def move_batch_quantity(session: Session, batch_id: int, delta: int) -> bool:
    """Change one batch's quantity by ``delta`` in one conditional UPDATE that never takes it
    below zero (False when the units were no longer there); the loaded batch is refreshed. Every
    path that moves stock calls this beside writing its ledger row."""
    statement = update(StockBatch).where(StockBatch.id == batch_id)
    if delta < 0:
        statement = statement.where(StockBatch.quantity >= -delta)
    result = session.execute(statement.values(quantity=StockBatch.quantity + delta)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    batch = session.get(StockBatch, batch_id)
    if batch is not None:
        session.expire(batch, ["quantity"])
    return True
