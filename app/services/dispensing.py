"""Dispensing a prescription, and undoing a dispense: the only two ways a prescription's medicines
leave (and come back to) the shelf.

* Batches are taken first-expiry-first (FEFO). Never an expired batch (``expiry_date`` on or
  before today, in the clinic's time zone), and, with ``PHARMACY_COURSE_END_RULE``, never a batch
  that expires before the end of the course (``today + duration_days``) while a batch lasting the
  course has stock.
* Never below zero. **PostgreSQL: row locks.** The prescription row, then every batch row of the
  medicines being dispensed, are locked with ``SELECT ... FOR UPDATE`` in one stable order
  (prescription, then batches by medicine id and batch id), so two pharmacists dispensing the last
  units of a medicine are serialised and the second one sees what the first left. Every batch
  decrement is also a conditional ``UPDATE ... SET quantity = quantity - n WHERE quantity >= n``
  whose row count is checked, and the ``quantity >= 0`` CHECK constraint stands behind both. On
  SQLite the database's single write lock serialises the writers (a writer that read a stale
  snapshot is refused by SQLite and answered 409), and the conditional update still guards.
* A shortfall is not an error: what the shelf has is dispensed, the item stays partly dispensed,
  the answer says what is missing. Nothing at all on the shelf: 409, nothing written.
* Each batch taken is one ledger row (kind ``dispense``, referencing the prescription item).
* The prescription's status follows: issued -> partially_dispensed -> dispensed (and back on returns).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Prescription, PrescriptionItem, StockBatch, StockMovement
from app.services import appointment_hooks, billing_hooks, realtime_hooks, stock_usage
from app.services.errors import Conflict, NotFound, committing
from app.services.pharmacy_settings import PharmacyPolicy
from app.services.settings import ClinicSettings
from app.services.stock import StockRefused, move_batch_quantity

DISPENSABLE = ("issued", "partially_dispensed")
ITEM_REFERENCE = "prescription_item"
DEFAULT_POLICY = PharmacyPolicy()
MANUAL_BATCH = "manual_batch"  # the ledger row's reason when the pharmacist picked the batch


@dataclass(frozen=True)
class BatchChoice:
    """The pharmacist's own pick of a batch for one item, out of FEFO order, with the reason."""

    batch_id: int
    reason: str


@dataclass(frozen=True)
class Take:
    batch_id: int
    lot_number: str
    expiry_date: date
    quantity: int
    manual: bool = False


@dataclass
class ItemPlan:
    item_id: int
    medicine_id: int
    medicine: str
    unit: str
    prescribed: int
    already_dispensed: int
    asked: int
    takes: list[Take] = field(default_factory=list)

    @property
    def taken(self) -> int:
        return sum(t.quantity for t in self.takes)

    @property
    def shortfall(self) -> int:
        return self.asked - self.taken


@dataclass
class DispenseResult:
    prescription_id: int
    status: str
    items: list[ItemPlan]
    movement_ids: list[int]

    @property
    def dispensed(self) -> int:
        return sum(i.taken for i in self.items)

    @property
    def shortfall(self) -> int:
        return sum(i.shortfall for i in self.items)


def clinic_today(now: datetime, clinic: ClinicSettings | None) -> date:
    return now.astimezone(clinic.timezone).date() if clinic is not None else now.date()


def is_expired(expiry: date, today: date) -> bool:
    """A batch may be dispensed up to the day before its expiry date."""
    return expiry <= today


def fefo(batches: Iterable[Any], quantity: int, today: date, course_end: date | None,
         skip: Iterable[int] = ()) -> list[Take]:
    """The batches to take ``quantity`` from, first expiry first (ties: the older batch). Expired
    and empty batches never; with ``course_end``, batches expiring before it only when no batch
    lasting the course has stock. May cover less than ``quantity`` (the shortfall)."""
    skipped = set(skip)
    usable = sorted((b for b in batches if b.quantity > 0 and not is_expired(b.expiry_date, today)
                     and b.id not in skipped), key=lambda b: (b.expiry_date, b.id))
    if course_end is not None and any(b.expiry_date >= course_end for b in usable):
        usable = [b for b in usable if b.expiry_date >= course_end]
    takes, left = [], quantity
    for batch in usable:
        if left <= 0:
            break
        n = min(left, batch.quantity)
        takes.append(Take(batch.id, batch.lot_number, batch.expiry_date, n))
        left -= n
    return takes


def _prescription(session: Session, prescription_id: int, lock: bool) -> Prescription:
    query = select(Prescription).where(Prescription.id == prescription_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    prescription = session.execute(query).scalar_one_or_none()
    if prescription is None:
        raise NotFound(_("No such prescription."), "prescription_id")
    return prescription


def _items(session: Session, prescription_id: int) -> list[PrescriptionItem]:
    return list(session.execute(
        select(PrescriptionItem).where(PrescriptionItem.prescription_id == prescription_id)
        .order_by(PrescriptionItem.id).execution_options(populate_existing=True)).scalars())


def _batches(session: Session, medicine_ids: Iterable[int], lock: bool) -> dict[int, list[StockBatch]]:
    """The batches of these medicines, locked (PostgreSQL) in one stable order: medicine, batch id."""
    ids = sorted(set(medicine_ids))
    found: dict[int, list[StockBatch]] = {m: [] for m in ids}
    if not ids:
        return found
    query = (select(StockBatch).where(StockBatch.medicine_id.in_(ids))
             .order_by(StockBatch.medicine_id, StockBatch.id).execution_options(populate_existing=True))
    if lock:
        query = query.with_for_update()
    for batch in session.execute(query).scalars():
        found[batch.medicine_id].append(batch)
    return found


def _asked(items: Sequence[PrescriptionItem], quantities: Mapping[int, int | None] | None) -> dict[int, int]:
    """How much of each item to dispense now; every broken value at once (422)."""
    by_id = {i.id: i for i in items}
    errors: dict[str, str] = {}
    asked: dict[int, int] = {}
    wanted: Mapping[int, int | None] = quantities if quantities is not None else {i.id: None for i in items}
    for key, value in wanted.items():
        name = f"quantities.{key}"
        item = by_id.get(key) if isinstance(key, int) else None
        if item is None:
            errors[name] = _("This prescription has no such item.")
            continue
        remaining = item.quantity - item.dispensed_quantity
        if value is None:
            if remaining > 0:
                asked[item.id] = remaining
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = _("Enter a whole number.")
        elif value <= 0:
            errors[name] = _("Enter a quantity of at least 1.")
        elif value > remaining:
            errors[name] = _("More than prescribed: %(remaining)s left to dispense.", remaining=remaining)
        else:
            asked[item.id] = value
    if errors:
        raise StockRefused(errors)
    return asked


def _check_choices(items: dict[int, PrescriptionItem], batches: dict[int, list[StockBatch]],
                   choices: Mapping[int, BatchChoice], today: date) -> None:
    errors: dict[str, str] = {}
    for item_id, choice in choices.items():
        name = f"batch_choices.{item_id}"
        item = items.get(item_id)
        if item is None:
            errors[name] = _("This prescription has no such item.")
            continue
        batch = next((b for b in batches.get(item.medicine_id, []) if b.id == choice.batch_id), None)
        if batch is None:
            errors[name] = _("This batch is not a batch of the prescribed medicine.")
        elif is_expired(batch.expiry_date, today):
            errors[name] = _("This batch has expired and cannot be dispensed.")
        elif not (choice.reason or "").strip():
            errors[f"{name}.reason"] = _("Say why this batch is taken instead of the first-expiring one.")
    if errors:
        raise StockRefused(errors)


def plan_items(session: Session, prescription: Prescription, items: Sequence[PrescriptionItem],
               asked: Mapping[int, int], today: date, policy: PharmacyPolicy,
               batch_choices: Mapping[int, BatchChoice] | None = None, lock: bool = False) -> list[ItemPlan]:
    by_id = {i.id: i for i in items}
    batches = _batches(session, (by_id[i].medicine_id for i in asked), lock)
    choices = dict(batch_choices or {})
    _check_choices(by_id, batches, choices, today)
    plans: list[ItemPlan] = []
    available: dict[int, int] = {b.id: b.quantity for group in batches.values() for b in group}
    for item in items:
        if item.id not in asked:
            continue
        medicine = item.medicine
        plan = ItemPlan(item.id, item.medicine_id, str(medicine), medicine.unit, item.quantity,
                        item.dispensed_quantity, asked[item.id])
        # What earlier items of the same prescription already took from a batch is no longer there.
        pool = [_Shelf(b.id, b.lot_number, b.expiry_date, available[b.id]) for b in batches[item.medicine_id]]
        left = plan.asked
        choice = choices.get(item.id)
        if choice is not None:
            shelf = next(s for s in pool if s.id == choice.batch_id)
            n = min(left, shelf.quantity)
            if n > 0:
                plan.takes.append(Take(shelf.id, shelf.lot_number, shelf.expiry_date, n, manual=True))
                left -= n
        course_end = today + timedelta(days=item.duration_days) if policy.course_end_rule else None
        skip = [choice.batch_id] if choice is not None else []
        plan.takes.extend(fefo(pool, left, today, course_end, skip=skip))
        for take in plan.takes:
            available[take.batch_id] -= take.quantity
        plans.append(plan)
    return plans


@dataclass
class _Shelf:
    id: int
    lot_number: str
    expiry_date: date
    quantity: int


def preview_dispense(session: Session, prescription_id: int, quantities: Mapping[int, int | None] | None,
                     now: datetime, *, policy: PharmacyPolicy = DEFAULT_POLICY,
                     clinic: ClinicSettings | None = None,
                     batch_choices: Mapping[int, BatchChoice] | None = None) -> list[ItemPlan]:
    """The FEFO plan a dispense would follow, shown before the pharmacist confirms; nothing written."""
    prescription = _prescription(session, prescription_id, lock=False)
    _check_dispensable(prescription)
    items = _items(session, prescription_id)
    asked = _asked(items, quantities)
    return plan_items(session, prescription, items, asked, clinic_today(now, clinic), policy, batch_choices)


def _check_dispensable(prescription: Prescription) -> None:
    if prescription.status == "dispensed":
        raise Conflict(_("This prescription has already been dispensed in full."), "status")
    if prescription.status not in DISPENSABLE:
        raise Conflict(_("Only an issued prescription can be dispensed."), "status")


def _follow_status(prescription: Prescription, items: Sequence[PrescriptionItem], actor_id: int | None,
                   now: datetime) -> None:
    if all(i.dispensed_quantity >= i.quantity for i in items):
        prescription.status = "dispensed"
        prescription.dispensed_at = now
        prescription.dispensed_by_id = actor_id
    else:
        prescription.status = "partially_dispensed" if any(i.dispensed_quantity for i in items) else "issued"
        prescription.dispensed_at = None
        prescription.dispensed_by_id = None


def _move_batch(session: Session, batch_id: int, delta: int) -> None:
    """Change one batch's quantity by ``delta``, refusing (409) to go below zero."""
    if not move_batch_quantity(session, batch_id, delta):
        raise Conflict(_("The stock of this batch was just taken by another dispense. Please try again."),
                       "quantities")


def dispense_prescription(session: Session, prescription_id: int, quantities: Mapping[int, int | None] | None,
                          actor_id: int | None, now: datetime,
                          batch_choices: Mapping[int, BatchChoice] | None = None, *,
                          policy: PharmacyPolicy = DEFAULT_POLICY,
                          clinic: ClinicSettings | None = None) -> DispenseResult:
    """Dispense ``quantities`` (item id -> units; ``None`` for an item, or for the whole mapping:
    all that remains) by FEFO, or from the batch the pharmacist chose for an item (with a reason).
    Commits; 422 for bad quantities or choices, 409 when nothing at all could be dispensed."""
    with committing(session):
        prescription = _prescription(session, prescription_id, lock=True)
        _check_dispensable(prescription)
        items = _items(session, prescription_id)
        asked = _asked(items, quantities)
        if not asked:
            raise Conflict(_("Nothing is left to dispense on this prescription."), "quantities")
        plans = plan_items(session, prescription, items, asked, clinic_today(now, clinic), policy, batch_choices,
                           lock=True)
        if not any(p.takes for p in plans):
            raise Conflict(_("Out of stock: none of these medicines can be dispensed now."), "quantities")
        by_id = {i.id: i for i in items}
        choices = dict(batch_choices or {})
        movements: list[StockMovement] = []
        for plan in plans:
            item = by_id[plan.item_id]
            for take in plan.takes:
                _move_batch(session, take.batch_id, -take.quantity)
                movement = StockMovement(
                    batch_id=take.batch_id, medicine_id=item.medicine_id, kind="dispense", quantity=-take.quantity,
                    reference_type=ITEM_REFERENCE, reference_id=item.id, actor_id=actor_id, created_at=now,
                    reason=MANUAL_BATCH if take.manual else None,
                    note=(choices[item.id].reason.strip()[:300] if take.manual else None))
                session.add(movement)
                movements.append(movement)
            item.dispensed_quantity += plan.taken
            stock_usage.add_use(session, item.medicine_id, clinic_today(now, clinic), plan.taken)
        _follow_status(prescription, items, actor_id, now)
        session.flush()
        billing_hooks.dispensed(session, movements)
    realtime_hooks.dispensing_queue_changed(prescription_id)
    if prescription.status == "dispensed":  # after the commit: the patient is told the medicines are ready
        appointment_hooks.prescription_dispensed(prescription_id, actor_id=actor_id)
    return DispenseResult(prescription_id, prescription.status, plans, [m.id for m in movements])


@dataclass(frozen=True)
class Returnable:
    batch_id: int
    quantity: int


def returnable(session: Session, item_id: int, now: datetime, policy: PharmacyPolicy) -> list[Returnable]:
    """Per batch, the units of this item dispensed within the return window and not yet returned,
    the most recently dispensed batch first."""
    since = now - policy.return_window
    dispensed = session.execute(
        select(StockMovement.batch_id, -func.sum(StockMovement.quantity), func.max(StockMovement.id))
        .where(StockMovement.reference_type == ITEM_REFERENCE, StockMovement.reference_id == item_id,
               StockMovement.kind == "dispense", StockMovement.created_at >= since)
        .group_by(StockMovement.batch_id)).all()
    returned: dict[int, int] = dict(session.execute(
        select(StockMovement.batch_id, func.sum(StockMovement.quantity))
        .where(StockMovement.reference_type == ITEM_REFERENCE, StockMovement.reference_id == item_id,
               StockMovement.kind == "return")
        .group_by(StockMovement.batch_id)).all())
    rows = sorted(dispensed, key=lambda r: -r[2])
    return [Returnable(b, int(n) - int(returned.get(b, 0))) for b, n, _last in rows
            if int(n) - int(returned.get(b, 0)) > 0]


def return_dispense(session: Session, item_id: int, quantity: int, reason: str, actor_id: int | None,
                    now: datetime, *, policy: PharmacyPolicy = DEFAULT_POLICY,
                    clinic: ClinicSettings | None = None) -> list[int]:
    """Undo (part of) a dispense of one item within ``PHARMACY_RETURN_WINDOW_HOURS``, with a reason:
    the units go back to the batches they came from, each a ``return`` ledger row; the item's
    dispensed quantity and the prescription's status follow. Commits; the new movement ids."""
    with committing(session):
        item = session.get(PrescriptionItem, item_id)
        if item is None:
            raise NotFound(_("No such prescription item."), "item_id")
        prescription = _prescription(session, item.prescription_id, lock=True)
        items = _items(session, prescription.id)
        item = next(i for i in items if i.id == item_id)
        errors: dict[str, str] = {}
        if not (reason or "").strip():
            errors["reason"] = _("Say why the medicine comes back.")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            errors["quantity"] = _("Enter a quantity of at least 1.")
        if errors:
            raise StockRefused(errors)
        sources = returnable(session, item_id, now, policy)
        available = sum(r.quantity for r in sources)
        if available == 0:
            raise Conflict(_("Nothing of this item was dispensed within the return window."), "quantity")
        if quantity > min(available, item.dispensed_quantity):
            raise StockRefused({"quantity": _("At most %(n)s can be returned.",
                                              n=min(available, item.dispensed_quantity))})
        _batches(session, [item.medicine_id], lock=True)
        movements: list[StockMovement] = []
        left = quantity
        for source in sources:
            n = min(left, source.quantity)
            if n <= 0:
                break
            _move_batch(session, source.batch_id, n)
            movement = StockMovement(batch_id=source.batch_id, medicine_id=item.medicine_id, kind="return",
                                     quantity=n, reference_type=ITEM_REFERENCE, reference_id=item.id,
                                     actor_id=actor_id, created_at=now, reason="return", note=reason.strip()[:300])
            session.add(movement)
            movements.append(movement)
            left -= n
        item.dispensed_quantity -= quantity
        stock_usage.add_use(session, item.medicine_id, clinic_today(now, clinic), -quantity)
        _follow_status(prescription, items, actor_id, now)
        session.flush()
        billing_hooks.dispensed(session, movements)
    realtime_hooks.dispensing_queue_changed(prescription.id)
    return [m.id for m in movements]
