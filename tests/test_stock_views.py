"""Stock views (app.services.stock_views): days of cover from the average daily use, the reorder
flag and filter, the alerts, and the dispensing queue."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.models import Supplier
from app.services import dispensing, stock_views
from app.services.pharmacy_settings import PharmacyPolicy
from tests.pharmacy_helpers import NOW, TODAY, batch, medicine, prescription


@pytest.mark.parametrize("on_hand,used,days,cover", [(300, 150, 30, 60.0), (10, 30, 30, 10.0), (0, 30, 30, 0.0),
                                                     (50, 0, 30, None), (7, 14, 7, 3.5)])
def test_days_of_cover_arithmetic(on_hand, used, days, cover):
    assert stock_views.days_of_cover(on_hand, stock_views.average_daily_use(used, days)) == cover


def _dispense(db, clinic, med, quantity, at):
    pid = prescription(db, clinic, (med, quantity))
    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, at)


def test_days_of_cover_against_the_suppliers_lead_time(db, clinic):
    supplier = Supplier(name="Công ty Dược Hậu Giang", lead_time_days=10)
    db.session.add(supplier)
    db.session.commit()
    fast = medicine(db, "Paracetamol", reorder_level=20, supplier_id=supplier.id)
    slow = medicine(db, "Vitamin C", reorder_level=5, supplier_id=supplier.id)
    batch(db, fast, 120, 300, unit_cost=400)
    batch(db, slow, 100, 300)
    # 60 units over the last 30 days: 2 a day; 60 left (after these) = 30 days of cover.
    for days_ago in (1, 5, 20):
        _dispense(db, clinic, fast, 20, NOW - timedelta(days=days_ago))
    _dispense(db, clinic, fast, 50, NOW - timedelta(days=45))  # outside the window
    policy = PharmacyPolicy(usage_days=30)
    rows = {r.medicine_id: r for r in stock_views.medicine_stock(db.session, TODAY, policy)}
    assert rows[fast].on_hand == 10 and rows[fast].daily_use == 2.0 and rows[fast].days_of_cover == 5.0
    assert rows[fast].below_reorder and rows[fast].order_now
    assert rows[slow].days_of_cover is None and not rows[slow].order_now
    assert [r.medicine_id for r in stock_views.medicine_stock(db.session, TODAY, policy, below_reorder=True)] == [fast]
    alerts = stock_views.pharmacy_alerts(db.session, TODAY, policy)
    assert [r.medicine_id for r in alerts.order_now] == [fast]
    assert [r.medicine_id for r in alerts.below_reorder] == [fast]


def test_order_now_before_below_reorder(db, clinic):
    """Enough on the shelf for the reorder level, not for the supplier's lead time: order now."""
    supplier = Supplier(name="Phân phối Zuellig", lead_time_days=14)
    db.session.add(supplier)
    db.session.commit()
    med = medicine(db, reorder_level=10, supplier_id=supplier.id)
    batch(db, med, 130, 300)
    _dispense(db, clinic, med, 90, NOW - timedelta(days=2))  # 3 a day over 30 days; 40 left: 13.3 days
    [row] = stock_views.medicine_stock(db.session, TODAY, PharmacyPolicy(usage_days=30))
    assert not row.below_reorder and row.order_now and round(row.days_of_cover, 1) == 13.3


def test_order_now_is_exactly_cover_within_lead_time(db, clinic):
    """The dashboard's rule, no more: below the reorder level with months of cover, or not used at
    all (no cover), is not "order now" (it is "below reorder"); an empty shelf that was used is."""
    supplier = Supplier(name="Pharmacity", lead_time_days=5)
    db.session.add(supplier)
    db.session.commit()
    plenty = medicine(db, "Aspirin", reorder_level=500, supplier_id=supplier.id)
    unused = medicine(db, "Vitamin B1", reorder_level=50, supplier_id=supplier.id)
    empty = medicine(db, "Salbutamol", reorder_level=0, supplier_id=supplier.id)
    batch(db, plenty, 330, 300)
    _dispense(db, clinic, plenty, 30, NOW - timedelta(days=3))  # 1 a day, 300 left: 300 days of cover
    batch(db, empty, 6, 300)
    _dispense(db, clinic, empty, 6, NOW - timedelta(days=3))  # used, now out of stock
    alerts = stock_views.pharmacy_alerts(db.session, TODAY, PharmacyPolicy(usage_days=30))
    assert [r.medicine_id for r in alerts.order_now] == [empty]
    assert {r.medicine_id for r in alerts.below_reorder} == {plenty, unused}
    assert all(r.days_of_cover is not None and r.days_of_cover <= r.lead_time_days for r in alerts.order_now)


def test_ledger_names_the_prescription_the_receipt_and_the_adjustment(app, db, clinic):
    from app.services import receiving, stock

    supplier = Supplier(name="Dược Hậu Giang", lead_time_days=5)
    db.session.add(supplier)
    db.session.commit()
    med = medicine(db)
    opened = batch(db, med, 20, 300)
    pid = prescription(db, clinic, (med, 4))
    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    stock.adjust_stock(db.session, opened, -1, "damage", None, clinic.user_id, NOW)
    receipt = receiving.receive_delivery(db.session, supplier.id, [receiving.ReceiptLine(
        med, "R1", TODAY + timedelta(days=400), 10, "500")], clinic.user_id, NOW, TODAY, policy=PharmacyPolicy())
    pharmacist = app.appbuilder.sm.find_user(username="pharmacist")
    rows = stock_views.medicine_ledger(db.session, med, pharmacist, NOW)
    by_kind = {r.kind: r for r in rows}
    assert by_kind["dispense"].prescription_code == f"RX-{pid:06d}"
    assert by_kind["dispense"].patient == "Nguyễn Văn An"
    assert {(r.reference_type, r.reference_id) for r in rows if r.kind == "receipt"} == {
        ("goods_receipt", receipt), ("stock_batch", None)}
    assert by_kind["adjustment"].prescription_id is None
    # without a reader, no patient is named
    assert {r.patient for r in stock_views.medicine_ledger(db.session, med)} == {None}


def test_queue_keeps_recent_prescriptions_unless_asked_for_all(app, db, clinic):
    from app.models import Prescription

    med = medicine(db)
    batch(db, med, 7, 300)
    recent = prescription(db, clinic, (med, 1))
    old = prescription(db, clinic, (med, 1))
    db.session.get(Prescription, old).issued_at = NOW - timedelta(days=120)
    db.session.commit()
    pharmacist = app.appbuilder.sm.find_user(username="pharmacist")
    since = NOW - timedelta(days=30)
    assert [r.prescription_id for r in stock_views.dispensing_queue(db.session, pharmacist, NOW, TODAY,
                                                                    since=since)] == [recent]
    assert [r.prescription_id for r in stock_views.dispensing_queue(db.session, pharmacist, NOW, TODAY)] == [
        recent, old]


def test_expiring_and_expired_batches_with_their_value(db, clinic):
    med = medicine(db)
    soon = batch(db, med, 10, 30, unit_cost=1500)
    batch(db, med, 10, 90)
    gone = batch(db, med, 4, -2, unit_cost=250)
    alerts = stock_views.pharmacy_alerts(db.session, TODAY, PharmacyPolicy(expiry_window_days=60))
    assert [b.batch_id for b in alerts.expiring] == [soon] and alerts.expiring_value == Decimal(15000)
    assert [b.batch_id for b in alerts.expired] == [gone] and alerts.expired_value == Decimal(1000)
    [row] = stock_views.medicine_stock(db.session, TODAY, PharmacyPolicy())
    assert (row.on_hand, row.expired, row.nearest_expiry) == (20, 4, TODAY + timedelta(days=30))


def test_queue_newest_first_with_stock_and_search(app, db, clinic):
    med = medicine(db)
    batch(db, med, 7, 300)
    older = prescription(db, clinic, (med, 5))
    newer = prescription(db, clinic, (med, 2))
    draft = prescription(db, clinic, (med, 2), status="draft")
    done = prescription(db, clinic, (med, 1))
    dispensing.dispense_prescription(db.session, done, None, clinic.user_id, NOW)
    pharmacist = app.appbuilder.sm.find_user(username="pharmacist")
    rows = stock_views.dispensing_queue(db.session, pharmacist, NOW, TODAY)
    assert [r.prescription_id for r in rows] == [newer, older]  # same issue time: the later one first
    assert rows[0].items[0].in_stock == 6 and rows[0].patient == "Nguyễn Văn An"
    assert draft not in [r.prescription_id for r in rows]
    assert [r.prescription_id for r in stock_views.dispensing_queue(
        db.session, pharmacist, NOW, TODAY, search=f"RX-{older:06d}")] == [older]
    assert len(stock_views.dispensing_queue(db.session, pharmacist, NOW, TODAY, search="nguyen van")) == 2
    assert stock_views.dispensing_queue(db.session, pharmacist, NOW, TODAY, search="Lê Thị Z") == []
