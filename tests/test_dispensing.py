"""Dispensing (app.services.dispensing): FEFO with the course-end rule, shortfalls, the pharmacist's
own batch, returns, refusals that write nothing, and the ledger adding up after any sequence."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.models import Prescription, PrescriptionItem, StockBatch, StockMovement
from app.services import dispensing
from app.services.dispensing import BatchChoice
from app.services.errors import Conflict, DomainError, ValidationFailed
from app.services.pharmacy_settings import PharmacyPolicy
from app.services.stock import verify_ledger
from tests.pharmacy_helpers import NOW, batch, item_ids, medicine, prescription, stock_of


def _status(db, pid: int) -> str:
    db.session.expire_all()
    return db.session.get(Prescription, pid).status


def _ledger_count(db) -> int:
    return db.session.execute(select(func.count()).select_from(StockMovement)).scalar_one()


def test_first_expiry_first_never_expired(db, clinic):
    med = medicine(db)
    expired = batch(db, med, 50, -3)
    late = batch(db, med, 50, 400)
    early = batch(db, med, 4, 200)
    pid = prescription(db, clinic, (med, 10))
    result = dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    assert [(t.batch_id, t.quantity) for t in result.items[0].takes] == [(early, 4), (late, 6)]
    assert (stock_of(db, early), stock_of(db, late), stock_of(db, expired)) == (0, 44, 50)
    assert _status(db, pid) == "dispensed"
    rows = db.session.execute(select(StockMovement).where(StockMovement.kind == "dispense")
                              .order_by(StockMovement.id)).scalars().all()
    [item] = item_ids(db, pid)
    assert [(r.batch_id, r.quantity, r.reference_type, r.reference_id) for r in rows] == [
        (early, -4, "prescription_item", item), (late, -6, "prescription_item", item)]
    assert verify_ledger(db.session) == []


def test_a_batch_expiring_before_the_course_ends_is_skipped_while_a_later_one_has_stock(db, clinic):
    med = medicine(db)
    short = batch(db, med, 100, 5)  # expires on day 5 of a 10-day course
    long = batch(db, med, 100, 300)
    pid = prescription(db, clinic, (med, 30), duration_days=10)
    plan = dispensing.preview_dispense(db.session, pid, None, NOW)
    assert [t.batch_id for t in plan[0].takes] == [long]
    # Without the rule (setting), plain FEFO takes the short-dated batch.
    plain = dispensing.preview_dispense(db.session, pid, None, NOW, policy=PharmacyPolicy(course_end_rule=False))
    assert [t.batch_id for t in plain[0].takes] == [short]
    # A 3-day course ends before the batch expires: it is used first.
    pid3 = prescription(db, clinic, (med, 9), duration_days=3)
    assert [t.batch_id for t in dispensing.preview_dispense(db.session, pid3, None, NOW)[0].takes] == [short]


def test_only_short_dated_stock_is_still_dispensed(db, clinic):
    med = medicine(db)
    short = batch(db, med, 100, 5)
    pid = prescription(db, clinic, (med, 30), duration_days=10)
    result = dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    assert [t.batch_id for t in result.items[0].takes] == [short]


def test_shortfall_leaves_the_item_partly_dispensed_and_the_rest_follows(db, clinic):
    med = medicine(db)
    first = batch(db, med, 6, 200)
    pid = prescription(db, clinic, (med, 10))
    result = dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    assert (result.dispensed, result.shortfall, result.status) == (6, 4, "partially_dispensed")
    assert stock_of(db, first) == 0
    # Nothing on the shelf: refused, nothing written.
    before = _ledger_count(db)
    with pytest.raises(Conflict):
        dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    assert _ledger_count(db) == before and _status(db, pid) == "partially_dispensed"
    batch(db, med, 20, 300)
    result = dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    assert (result.dispensed, result.status) == (4, "dispensed")
    with pytest.raises(Conflict):  # already dispensed in full
        dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)


@pytest.mark.parametrize("quantity", [0, -1, 11, "3", True])
def test_bad_quantities_are_refused_and_write_nothing(db, clinic, quantity):
    med = medicine(db)
    stock = batch(db, med, 50, 200)
    pid = prescription(db, clinic, (med, 10))
    [item] = item_ids(db, pid)
    before = _ledger_count(db)
    with pytest.raises(ValidationFailed) as refused:
        dispensing.dispense_prescription(db.session, pid, {item: quantity}, clinic.user_id, NOW)
    assert refused.value.status == 422 and f"quantities.{item}" in refused.value.as_dict()["message"]
    assert (_ledger_count(db), stock_of(db, stock), _status(db, pid)) == (before, 50, "issued")


def test_every_broken_quantity_at_once(db, clinic):
    a, b = medicine(db), medicine(db, "Amoxicillin")
    pid = prescription(db, clinic, (a, 10), (b, 5))
    first, second = item_ids(db, pid)
    with pytest.raises(ValidationFailed) as refused:
        dispensing.dispense_prescription(db.session, pid, {first: 0, second: 6, 999999: 1}, clinic.user_id, NOW)
    assert set(refused.value.as_dict()["message"]) == {f"quantities.{first}", f"quantities.{second}",
                                                       "quantities.999999"}


def test_only_issued_prescriptions_are_dispensed(db, clinic):
    med = medicine(db)
    batch(db, med, 50, 200)
    for status in ("draft", "cancelled"):
        pid = prescription(db, clinic, (med, 1), status=status)
        with pytest.raises(Conflict):
            dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)


def test_chosen_quantities_and_status_path(db, clinic):
    a, b = medicine(db), medicine(db, "Amoxicillin")
    batch(db, a, 50, 200)
    batch(db, b, 50, 200)
    pid = prescription(db, clinic, (a, 10), (b, 5))
    first, second = item_ids(db, pid)
    assert dispensing.dispense_prescription(db.session, pid, {first: 3}, clinic.user_id, NOW).status == \
        "partially_dispensed"
    assert dispensing.dispense_prescription(db.session, pid, {first: None, second: 5}, clinic.user_id,
                                            NOW).status == "dispensed"
    db.session.expire_all()
    assert [i.dispensed_quantity for i in db.session.get(Prescription, pid).items] == [10, 5]


def test_pharmacist_picks_another_batch_with_a_reason_never_an_expired_one(db, clinic):
    med = medicine(db)
    expired = batch(db, med, 50, -1)
    early = batch(db, med, 50, 100)
    late = batch(db, med, 50, 300)
    pid = prescription(db, clinic, (med, 10))
    [item] = item_ids(db, pid)
    with pytest.raises(ValidationFailed) as refused:
        dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW,
                                         {item: BatchChoice(expired, "Bệnh nhân yêu cầu")})
    assert f"batch_choices.{item}" in refused.value.as_dict()["message"]
    with pytest.raises(ValidationFailed) as refused:
        dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW, {item: BatchChoice(late, " ")})
    assert f"batch_choices.{item}.reason" in refused.value.as_dict()["message"]
    assert _ledger_count(db) == 3
    result = dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW,
                                              {item: BatchChoice(late, "Hộp lô cũ bị móp")})
    assert [(t.batch_id, t.manual) for t in result.items[0].takes] == [(late, True)]
    assert (stock_of(db, early), stock_of(db, late)) == (50, 40)
    row = db.session.execute(select(StockMovement).where(StockMovement.kind == "dispense")).scalar_one()
    assert (row.reason, row.note) == ("manual_batch", "Hộp lô cũ bị móp")


def test_returns_put_stock_back_within_the_window(db, clinic):
    med = medicine(db)
    early = batch(db, med, 4, 100)
    late = batch(db, med, 50, 300)
    pid = prescription(db, clinic, (med, 10))
    [item] = item_ids(db, pid)
    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    with pytest.raises(ValidationFailed) as refused:
        dispensing.return_dispense(db.session, item, 0, "", clinic.user_id, NOW)
    assert set(refused.value.as_dict()["message"]) == {"quantity", "reason"}
    with pytest.raises(ValidationFailed):
        dispensing.return_dispense(db.session, item, 11, "Kê nhầm", clinic.user_id, NOW)
    # The most recently dispensed batch (here: the same dispense, the later batch) comes back first.
    dispensing.return_dispense(db.session, item, 7, "Bác sĩ đổi thuốc", clinic.user_id, NOW + timedelta(hours=1))
    assert (stock_of(db, early), stock_of(db, late)) == (1, 50)
    assert _status(db, pid) == "partially_dispensed"
    dispensing.return_dispense(db.session, item, 3, "Bác sĩ đổi thuốc", clinic.user_id, NOW + timedelta(hours=2))
    assert (stock_of(db, early), stock_of(db, late)) == (4, 50) and _status(db, pid) == "issued"
    db.session.expire_all()
    assert db.session.get(PrescriptionItem, item).dispensed_quantity == 0
    assert verify_ledger(db.session) == []
    kinds = db.session.execute(select(StockMovement.kind, func.sum(StockMovement.quantity))
                               .where(StockMovement.reference_id == item).group_by(StockMovement.kind)).all()
    assert dict(kinds) == {"dispense": -10, "return": 10}


def test_no_return_after_the_window(db, clinic):
    med = medicine(db)
    batch(db, med, 40, 300)
    pid = prescription(db, clinic, (med, 10))
    [item] = item_ids(db, pid)
    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    with pytest.raises(Conflict):
        dispensing.return_dispense(db.session, item, 1, "Trả lại", clinic.user_id, NOW + timedelta(hours=25))
    dispensing.return_dispense(db.session, item, 1, "Trả lại", clinic.user_id, NOW + timedelta(hours=25),
                               policy=PharmacyPolicy(return_window=timedelta(hours=48)))


def test_ledger_adds_up_after_random_sequences(db, clinic):
    """Receipts, dispenses, returns and adjustments in random order and amounts: every batch's
    quantity is the sum of its ledger rows, and no quantity is ever negative."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    from app.services.stock import adjust_stock

    med = medicine(db)
    batches = [batch(db, med, 5, days) for days in (30, 90, 400)]
    steps = st.lists(st.tuples(st.sampled_from(["receive", "dispense", "return", "adjust"]),
                               st.integers(0, 2), st.integers(-6, 12)), max_size=12)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(steps)
    def run(sequence):
        for kind, which, n in sequence:
            try:
                if kind == "receive":
                    batch(db, med, abs(n) + 1, 50 + which * 100)
                elif kind == "dispense":
                    pid = prescription(db, clinic, (med, abs(n) + 1))
                    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
                elif kind == "return":
                    items = db.session.execute(select(PrescriptionItem.id).where(
                        PrescriptionItem.dispensed_quantity > 0)).scalars().all()
                    if items:
                        dispensing.return_dispense(db.session, items[which % len(items)], abs(n) + 1, "Trả",
                                                   clinic.user_id, NOW)
                else:
                    adjust_stock(db.session, batches[which], n, "count_correction", "Kiểm kê", clinic.user_id, NOW)
            except DomainError:
                db.session.rollback()
            assert verify_ledger(db.session) == []
        db.session.expire_all()
        assert db.session.execute(select(func.min(StockBatch.quantity))).scalar_one() >= 0

    run()
