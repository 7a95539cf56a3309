"""The pharmacy on PostgreSQL: (1) 50 threads each dispense one unit of a medicine that has 10 units
in 3 batches, at once: exactly 10 go out, 40 are refused, no batch goes below zero and the ledger
still adds up; (2) the pharmacy dashboard (``stock_views.pharmacy_alerts``: below reorder, days of
cover against lead time, expiring and expired batches) over 2,000 medicines and 500,000 ledger rows.
A scratch database is built with the migrations and dropped afterwards.

    .venv/bin/python bench/pharmacy.py --quick     # 300 medicines, 50,000 ledger rows, 5 dashboard runs
    .venv/bin/python bench/pharmacy.py             # 2,000 medicines, 500,000 ledger rows, 15 runs
    .venv/bin/python bench/pharmacy.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints `name: value` lines: dispensed (must be 10), refused (40), negative_stock_rows (0),
ledger_mismatches (0), other_errors (0), dashboard_ms_median (target < 200), plus context
(medicines, ledger_rows, order_now, expiring, expired).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="clinic-bench-pharmacy-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.scratch import scratch_postgres  # noqa: E402
from config import Config  # noqa: E402

NOW = datetime.now(timezone.utc)
COLUMNS = "batch_id, medicine_id, kind, quantity, reference_type, reference_id, created_at"
TODAY = NOW.date()


def build(url: str, migrate: bool = True):
    """The app on a scratch database: built by the migrations, or (``--quick``) from the models."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import Department, Doctor, Patient, Specialty

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        if migrate:
            upgrade()
        else:
            db.create_all()
        department = Department(code="NOI", name="Khoa Nội")
        specialty = Specialty(name="Nội tổng quát")
        db.session.add_all([department, specialty])
        db.session.flush()
        doctor = Doctor(full_name="Trần Thị Bình", title="BS.", department_id=department.id,
                        specialty_id=specialty.id, consultation_fee=Decimal(200000))
        patient = Patient(code="BN0000001", full_name="Nguyễn Văn An", search_text="bn0000001 nguyen van an")
        db.session.add_all([doctor, patient])
        db.session.commit()
        return app, doctor.id, patient.id


def race(app, doctor_id: int, patient_id: int) -> dict[str, int]:
    from app.extensions import db
    from app.models import Medicine, Prescription, PrescriptionItem, StockBatch, StockMovement
    from app.services import dispensing
    from app.services.errors import Conflict
    from app.services.stock import verify_ledger

    with app.app_context():
        medicine = Medicine(code="RACE", name="Paracetamol", strength="500 mg", unit="viên", price=Decimal(1000))
        db.session.add(medicine)
        db.session.flush()
        for n, (quantity, days) in enumerate(((3, 100), (3, 200), (4, 300))):
            batch = StockBatch(medicine_id=medicine.id, lot_number=f"RACE-{n}", quantity=quantity,
                               expiry_date=TODAY + timedelta(days=days), unit_cost=Decimal(500))
            db.session.add(batch)
            db.session.flush()
            db.session.add(StockMovement(batch_id=batch.id, medicine_id=medicine.id, kind="receipt",
                                         quantity=quantity, reference_type="stock_batch", created_at=NOW))
        prescriptions = []
        for _ in range(50):
            prescription = Prescription(patient_id=patient_id, doctor_id=doctor_id, status="issued", issued_at=NOW)
            prescription.items = [PrescriptionItem(medicine_id=medicine.id, dose="1 viên", frequency="1 lần/ngày",
                                                   duration_days=1, quantity=1)]
            db.session.add(prescription)
            prescriptions.append(prescription)
        db.session.commit()
        ids = [p.id for p in prescriptions]
        medicine_id = medicine.id
        engine = db.engine

    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []
    lock = threading.Lock()

    def dispense(pid: int) -> None:
        with app.app_context(), Session(engine) as session:
            barrier.wait()
            try:
                dispensing.dispense_prescription(session, pid, None, None, datetime.now(timezone.utc))
                outcome = "dispensed"
            except Conflict:
                outcome = "refused"
            except Exception as exc:  # noqa: BLE001 - counted and shown
                outcome = f"error {exc!r}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=dispense, args=(pid,)) for pid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        negative = db.session.execute(select(func.count()).select_from(StockBatch)
                                      .where(StockBatch.quantity < 0)).scalar_one()
        left = db.session.execute(select(func.sum(StockBatch.quantity))
                                  .where(StockBatch.medicine_id == medicine_id)).scalar_one()
        mismatches = len(verify_ledger(db.session))
    errors = [o for o in outcomes if o.startswith("error")]
    for error in errors[:3]:
        print(f"# {error}", file=sys.stderr)
    return {"dispensed": outcomes.count("dispensed"), "refused": outcomes.count("refused"),
            "negative_stock_rows": negative, "ledger_mismatches": mismatches, "other_errors": len(errors),
            "units_left": int(left or 0)}


def fill(app, medicines: int, ledger_rows: int, seed: int = 7) -> None:
    """``medicines`` medicines with 3 batches each (some short-dated, some expired) and
    ``ledger_rows`` movements over the last 120 days (receipts first, then dispenses), written in
    bulk; each batch's quantity is the sum of its rows."""
    from app.extensions import db
    from app.models import Medicine, StockBatch, Supplier

    rng = random.Random(seed)
    with app.app_context():
        suppliers = [Supplier(name=f"Nhà cung cấp {n}", lead_time_days=rng.choice((3, 7, 14, 21))) for n in range(20)]
        db.session.add_all(suppliers)
        db.session.flush()
        db.session.execute(insert(Medicine), [
            {"code": f"M{n:05d}", "name": f"Thuốc {n:05d}", "strength": "500 mg", "unit": "viên",
             "price": Decimal(1000 + n), "reorder_level": rng.choice((0, 50, 100, 200)), "active": True,
             "supplier_id": suppliers[n % len(suppliers)].id, "created_at": NOW, "updated_at": NOW}
            for n in range(medicines)])
        medicine_ids = list(db.session.execute(select(Medicine.id).where(Medicine.code.like("M%"))
                                               .order_by(Medicine.id)).scalars())
        batches = []
        for mid in medicine_ids:
            for k in range(3):
                days = rng.choice((-20, 25, 50, 200, 400, 700)) if k == 0 else rng.randint(120, 900)
                batches.append({"medicine_id": mid, "lot_number": f"L{mid}-{k}", "quantity": 0,
                                "expiry_date": TODAY + timedelta(days=days),
                                "unit_cost": Decimal(rng.randint(2, 50) * 100), "created_at": NOW, "updated_at": NOW})
        db.session.execute(insert(StockBatch), batches)
        # The ledger is made by the server (generate_series): dispenses spread over 120 days, then
        # one receipt per batch covering them plus some stock left; each batch's quantity is its sum.
        batch_count = db.session.execute(select(func.count()).select_from(StockBatch)).scalar_one()
        per_batch = max(1, ledger_rows // batch_count - 1)
        db.session.execute(text("SELECT setseed(0.42)"))
        db.session.execute(text(
            f"INSERT INTO stock_movement ({COLUMNS}) "
            "SELECT b.id, b.medicine_id, 'dispense', -(1 + floor(random() * 6))::int, 'prescription_item', g, "
            "       :now - random() * interval '120 days' "
            "FROM stock_batch b CROSS JOIN generate_series(1, :per) g"), {"now": NOW, "per": per_batch})
        db.session.execute(text(
            f"INSERT INTO stock_movement ({COLUMNS}) "
            "SELECT batch_id, medicine_id, 'receipt', -sum(quantity) + floor(random() * 400)::int + 1, 'stock_batch', "
            "       batch_id, :then FROM stock_movement GROUP BY batch_id, medicine_id"),
            {"then": NOW - timedelta(days=121)})
        db.session.execute(text(
            "UPDATE stock_batch SET quantity = s.total FROM (SELECT batch_id, sum(quantity) AS total "
            "FROM stock_movement GROUP BY batch_id) s WHERE s.batch_id = stock_batch.id"))
        # The daily-use rollup, as the dispensing service keeps it (per clinic day).
        db.session.execute(text(
            "INSERT INTO medicine_daily_use (medicine_id, day, units) "
            "SELECT medicine_id, (created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, -sum(quantity) "
            "FROM stock_movement WHERE kind IN ('dispense', 'return') "
            "AND medicine_id IN (SELECT id FROM medicine WHERE code LIKE 'M%') GROUP BY 1, 2"))
        db.session.commit()
    # As autovacuum would: statistics, and the visibility map index-only scans need.
    with app.app_context():
        from app.extensions import db as database

        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE stock_movement"))
            conn.execute(text("VACUUM ANALYZE stock_batch"))
            conn.execute(text("VACUUM ANALYZE medicine_daily_use"))
            conn.execute(text("ANALYZE medicine"))


def dashboard(app, runs: int) -> dict[str, float]:
    from app.extensions import db
    from app.models import StockMovement
    from app.services import stock_views
    from app.services.pharmacy_settings import PharmacyPolicy

    policy = PharmacyPolicy()
    timings = []
    with app.app_context():
        alerts = stock_views.pharmacy_alerts(db.session, TODAY, policy)  # warm-up
        for _ in range(runs):
            db.session.rollback()
            start = time.perf_counter()
            alerts = stock_views.pharmacy_alerts(db.session, TODAY, policy)
            timings.append((time.perf_counter() - start) * 1000)
        ledger = db.session.execute(select(func.count()).select_from(StockMovement)).scalar_one()
    return {"dashboard_ms_median": round(statistics.median(timings), 1), "ledger_rows": ledger,
            "order_now": len(alerts.order_now), "expiring": len(alerts.expiring), "expired": len(alerts.expired)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer runs (under a minute)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server (a scratch database is made there and dropped)")
    args = parser.parse_args()
    medicines, ledger_rows, runs = (300, 50_000, 5) if args.quick else (2_000, 500_000, 15)
    started = time.perf_counter()

    def phase(name: str) -> None:
        print(f"# {name} done at {time.perf_counter() - started:.1f} s", file=sys.stderr)

    with scratch_postgres(args.postgres) as url:
        app, doctor_id, patient_id = build(url, migrate=not args.quick)
        phase("migrations")
        for name, value in race(app, doctor_id, patient_id).items():
            print(f"{name}: {value}", flush=True)
        phase("race")
        fill(app, medicines, ledger_rows)
        phase("fill")
        print(f"medicines: {medicines}")
        for name, value in dashboard(app, runs).items():
            print(f"{name}: {value}")
        phase("dashboard")
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
