"""The domain events of the visit, the laboratory and the pharmacy (app/services/outbox.py), each
caused through the service a user's action calls: their type, their order per aggregate, the
fields consumers need, and no clinical free text (complaints, amendments, notes) in any payload."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.pharmacy_helpers import NOW, TODAY, batch, item_ids, medicine, prescription

COMPLAINT = "Sốt cao ba ngày, đau họng"
AMENDED = "Sốt cao ba ngày, ho khan về đêm"
WHY = "Ghi thiếu triệu chứng ho"
ORDER_NOTE = "Lấy máu lúc đói, bệnh nhân sợ kim"
CBC = {"WBC (Bạch cầu)": "6,5", "RBC (Hồng cầu)": "4.8", "HGB (Huyết sắc tố)": "125", "HCT (Hematocrit)": "42",
       "PLT (Tiểu cầu)": "250"}


def _types(db, aggregate_type: str, aggregate_id) -> list[tuple[int, str]]:
    from app.services import outbox

    db.session.expire_all()
    return [(e.sequence, e.type) for e in outbox.events_for(db.session, aggregate_type, aggregate_id)]


def _payloads(db, *types: str) -> list[dict]:
    from app.models import OutboxEvent

    query = select(OutboxEvent).order_by(OutboxEvent.id)
    if types:
        query = query.where(OutboxEvent.type.in_(types))
    return [e.payload for e in db.session.scalars(query)]


def _no_free_text(db) -> None:
    """No payload written so far carries a clinical text of this module."""
    everything = str(_payloads(db))
    for text in (COMPLAINT, AMENDED, WHY, ORDER_NOTE, "Nhiễm trùng hô hấp", "Uống sau ăn"):
        assert text not in everything


def _user(app, username: str = "doctor"):
    return app.appbuilder.sm.find_user(username=username)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _call(app, func, *args, **kwargs):
    """A service call inside a request, as a page or the API makes it."""
    with app.test_request_context():
        return func(*args, **kwargs)


@pytest.fixture
def visit(app, db, clinic):
    """The doctor login's draft encounter with the test patient (no appointment), with a primary
    diagnosis, and the demo lab catalogue; its id."""
    from app.models import Diagnosis, Doctor, Encounter, Patient
    from app.services.demo_data.lab_catalogue import seed_lab_catalogue

    patient = db.session.get(Patient, clinic.patient)
    patient.sex, patient.date_of_birth = "female", date(1980, 5, 1)  # the reference ranges need both
    doctor = Doctor(full_name="Lê Văn Bác Sĩ", title="BS.", user_id=_user(app).id)
    db.session.add(doctor)
    db.session.commit()
    encounter = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor.id, chief_complaint=COMPLAINT))
    db.session.add(Diagnosis(encounter_id=encounter, icd10_code="J06.9", text="Nhiễm trùng hô hấp trên cấp",
                             is_primary=True))
    seed_lab_catalogue(db.session)
    db.session.commit()
    return encounter


def test_a_visit_signed_and_amended_with_its_lab_orders_and_prescription(app, db, clinic, visit):
    from app.models import LabOrder, Prescription
    from app.services import encounters, lab, outbox, prescribing
    from app.services.prescribing import ItemInput

    doctor = _user(app)
    cbc, kidney = _call(app, lab.order_tests, db.session, visit, ["CBC", "KIDNEY"], doctor, _now())
    cbc, kidney = cbc.id, kidney.id
    db.session.get(LabOrder, kidney).notes = ORDER_NOTE  # as the lab order screen keeps a note
    db.session.commit()
    _call(app, lab.cancel_order, db.session, kidney, doctor, _now())
    medicine_id = clinic.medicine
    _call(app, prescribing.add_item, db.session, visit, doctor,
          ItemInput(medicine_id=medicine_id, dose_amount="1", times_per_day=2, duration_days=5, route="oral",
                    instructions="Uống sau ăn"), _now())
    signed_at = _now()
    _call(app, encounters.sign_encounter, db.session, visit, doctor, signed_at)
    _call(app, encounters.amend_encounter, db.session, visit, "chief_complaint", AMENDED, WHY, doctor, _now())

    assert _types(db, "encounter", visit) == [(1, "encounter.signed"), (2, "encounter.amended")]
    assert _types(db, "lab_order", cbc) == [(1, "lab.ordered")]
    assert _types(db, "lab_order", kidney) == [(1, "lab.ordered"), (2, "lab.cancelled")]
    rx = db.session.scalars(select(Prescription).where(Prescription.encounter_id == visit)).one()
    assert _types(db, "prescription", rx.id) == [(1, "prescription.issued")]

    signed, amended = outbox.events_for(db.session, "encounter", visit)
    assert signed.payload == {"encounter_id": visit, "patient_id": clinic.patient, "doctor_id": rx.doctor_id,
                              "appointment_id": None, "signed_at": signed_at.isoformat(),
                              "signed_by_id": doctor.id}
    assert amended.payload["field"] == "chief_complaint" and amended.payload["author_id"] == doctor.id
    assert amended.payload["patient_id"] == clinic.patient and amended.payload["amendment_id"]
    ordered = outbox.events_for(db.session, "lab_order", cbc)[0].payload
    assert (ordered["test_code"], ordered["status"], ordered["encounter_id"], ordered["patient_id"]) == \
        ("CBC", "ordered", visit, clinic.patient)
    cancelled = outbox.events_for(db.session, "lab_order", kidney)[1].payload
    assert (cancelled["test_code"], cancelled["status"]) == ("KIDNEY", "cancelled")
    issued = outbox.events_for(db.session, "prescription", rx.id)[0].payload
    assert (issued["status"], issued["encounter_id"], issued["patient_id"]) == ("issued", visit, clinic.patient)
    assert issued["issued_at"] == signed_at.isoformat() and issued["dispensed_at"] is None
    assert [(i["medicine_id"], i["quantity"]) for i in issued["items"]] == [(medicine_id, 10)]
    _no_free_text(db)


def test_released_results_are_one_event_per_order_listing_them(app, db, clinic, visit):
    from app.services import lab, outbox

    doctor, technician = _user(app), _user(app, "lab")
    order = _call(app, lab.order_tests, db.session, visit, ["CBC"], doctor, _now())[0].id
    _call(app, lab.enter_results, db.session, order, CBC, "final", technician, NOW)
    assert _types(db, "lab_order", order) == [(1, "lab.ordered")]  # entered, not yet released: no news
    _call(app, lab.release_results, db.session, order, technician, NOW)
    assert _types(db, "lab_order", order) == [(1, "lab.ordered"), (2, "lab.result_released")]
    released = outbox.events_for(db.session, "lab_order", order)[1].payload
    assert (released["lab_order_id"], released["patient_id"], released["test_code"]) == (order, clinic.patient, "CBC")
    results = {r["analyte"]: r for r in released["results"]}
    assert {name: r["value"] for name, r in results.items()} == CBC
    hgb = results["HGB (Huyết sắc tố)"]
    assert (hgb["unit"], hgb["flag"], hgb["status"], hgb["released_at"]) == ("g/L", "normal", "final", NOW.isoformat())
    assert hgb["reference_range"] and hgb["lab_result_id"]

    # A correction is released again: a second event, listing only what was released this time.
    later = NOW + timedelta(hours=1)
    _call(app, lab.enter_results, db.session, order, {**CBC, "HGB (Huyết sắc tố)": "160"}, "corrected", technician,
          later)
    _call(app, lab.release_results, db.session, order, technician, later)
    assert [t for _s, t in _types(db, "lab_order", order)] == ["lab.ordered", "lab.result_released",
                                                               "lab.result_released"]
    again = outbox.events_for(db.session, "lab_order", order)[2].payload
    assert [(r["analyte"], r["value"], r["flag"], r["status"]) for r in again["results"]] == [
        ("HGB (Huyết sắc tố)", "160", "high", "corrected")]
    _no_free_text(db)


def test_a_prescription_dispensed_in_part_then_in_full(db, clinic):
    from app.services import dispensing, outbox

    med, other = medicine(db), medicine(db, "Amoxicillin")
    batch(db, med, 6, 200)
    batch(db, other, 50, 200)
    pid = prescription(db, clinic, (med, 10), (other, 5))
    first, second = item_ids(db, pid)
    result = dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    assert result.status == "partially_dispensed"
    assert _types(db, "prescription", pid) == [(1, "prescription.issued"), (2, "prescription.dispensed")]
    part = outbox.events_for(db.session, "prescription", pid)[1].payload
    assert (part["status"], part["dispensed_at"], part["patient_id"]) == ("partially_dispensed", None, clinic.patient)
    assert [(i["item_id"], i["medicine_id"], i["quantity"], i["dispensed_quantity"]) for i in part["items"]] == [
        (first, med, 10, 6), (second, other, 5, 5)]
    batch(db, med, 20, 300)
    later = NOW + timedelta(minutes=30)
    assert dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, later).status == "dispensed"
    assert _types(db, "prescription", pid) == [(1, "prescription.issued"), (2, "prescription.dispensed"),
                                               (3, "prescription.dispensed")]
    full = outbox.events_for(db.session, "prescription", pid)[2].payload
    assert (full["status"], full["dispensed_at"]) == ("dispensed", later.isoformat())


def test_a_second_partial_dispense_is_a_dispense_too(db, clinic):
    """The status stays "partially dispensed", but units left the shelf: the event says how many."""
    from app.services import dispensing, outbox

    med = medicine(db)
    batch(db, med, 3, 200)
    pid = prescription(db, clinic, (med, 10))
    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    batch(db, med, 4, 300)
    later = NOW + timedelta(minutes=30)
    assert dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, later).status == \
        "partially_dispensed"
    assert _types(db, "prescription", pid) == [(1, "prescription.issued"), (2, "prescription.dispensed"),
                                               (3, "prescription.dispensed")]
    events = outbox.events_for(db.session, "prescription", pid)
    assert [e.payload["items"][0]["dispensed_quantity"] for e in events[1:]] == [3, 7]
    assert all(e.payload["status"] == "partially_dispensed" for e in events[1:])


def test_a_return_is_not_a_dispense(db, clinic):
    """Units brought back move the prescription from dispensed to partly dispensed, then back to
    issued: that is no news of medicines leaving the shelf, nor a new prescription (there is no
    return event)."""
    from app.models import Prescription
    from app.services import dispensing

    med = medicine(db)
    batch(db, med, 50, 200)
    pid = prescription(db, clinic, (med, 10))
    dispensing.dispense_prescription(db.session, pid, None, clinic.user_id, NOW)
    [item] = item_ids(db, pid)
    dispensing.return_dispense(db.session, item, 3, "Bệnh nhân trả lại", clinic.user_id, NOW + timedelta(hours=1))
    assert db.session.get(Prescription, pid).status == "partially_dispensed"
    dispensing.return_dispense(db.session, item, 7, "Bệnh nhân trả lại", clinic.user_id, NOW + timedelta(hours=2))
    assert db.session.get(Prescription, pid).status == "issued"
    assert _types(db, "prescription", pid) == [(1, "prescription.issued"), (2, "prescription.dispensed")]


def _low(db, medicine_id: int) -> list[dict]:
    from app.services import outbox

    db.session.expire_all()
    return [e.payload for e in outbox.events_for(db.session, "medicine", medicine_id) if e.type == "stock.low"]


def test_stock_low_fires_when_a_dispense_crosses_the_reorder_level_only(app, db, clinic):
    from app.models import Supplier
    from app.services import dispensing, receiving

    med = medicine(db, reorder_level=20)
    batch(db, med, 10, 100)
    batch(db, med, 20, 300)
    batch(db, med, 500, -2)  # expired: not usable, not counted
    dispensing.dispense_prescription(db.session, prescription(db, clinic, (med, 5)), None, clinic.user_id, NOW)
    assert _low(db, med) == []  # 25 left: above the level
    # 10 from the first batch and 5 from the second: 10 left, below 20, in one dispense.
    dispensing.dispense_prescription(db.session, prescription(db, clinic, (med, 15)), None, clinic.user_id, NOW)
    low = _low(db, med)
    assert len(low) == 1
    assert {k: low[0][k] for k in ("medicine_id", "on_hand", "reorder_level")} == {
        "medicine_id": med, "on_hand": 10, "reorder_level": 20}
    assert low[0]["code"] and low[0]["name"] == "Paracetamol"
    dispensing.dispense_prescription(db.session, prescription(db, clinic, (med, 4)), None, clinic.user_id, NOW)
    assert len(_low(db, med)) == 1  # still below: no new event

    supplier = Supplier(name="Công ty Dược Hà Nội", lead_time_days=7)
    db.session.add(supplier)
    db.session.commit()
    receiving.receive_delivery(db.session, supplier.id, [
        receiving.ReceiptLine(med, "LOT-NEW", TODAY + timedelta(days=400), 40, 500)], clinic.user_id, NOW, TODAY)
    assert len(_low(db, med)) == 1  # a receipt is no low stock (46 on the shelf now)
    dispensing.dispense_prescription(db.session, prescription(db, clinic, (med, 30)), None, clinic.user_id, NOW)
    low = _low(db, med)
    assert len(low) == 2 and low[1]["on_hand"] == 16  # crossed again after the restock


def test_batches_expiring_within_the_window_are_announced_once(db, clinic):
    from app.models import StockBatch
    from app.services import outbox

    med = medicine(db)
    soon = batch(db, med, 12, 30, lot="SOON")
    edge = batch(db, med, 3, 60, lot="EDGE")  # the last day of the window
    batch(db, med, 40, 61)  # after the window
    batch(db, med, 8, 0)  # expires today: expired, no longer news
    batch(db, med, 5, -10)  # expired
    empty = batch(db, med, 7, 20)
    db.session.get(StockBatch, empty).quantity = 0  # none left: nothing to announce
    db.session.commit()

    assert outbox.announce_expiring_batches(db.session, TODAY, 60) == 2
    db.session.commit()
    assert outbox.announce_expiring_batches(db.session, TODAY, 60) == 0  # already announced
    db.session.commit()
    announced = _payloads(db, "stock.batch_expiring")
    assert [(p["batch_id"], p["lot_number"], p["quantity"]) for p in announced] == [(soon, "SOON", 12),
                                                                                   (edge, "EDGE", 3)]
    assert announced[0]["medicine_id"] == med and announced[0]["medicine_code"]
    assert announced[0]["expiry_date"] == (TODAY + timedelta(days=30)).isoformat()
    assert _types(db, "stock_batch", soon) == [(1, "stock.batch_expiring")]
    # A later day brings the next batch into the window; the ones announced stay announced once.
    assert outbox.announce_expiring_batches(db.session, TODAY + timedelta(days=1), 60) == 1
    db.session.commit()
    assert len(_payloads(db, "stock.batch_expiring")) == 3


def test_the_daily_job_announces_with_the_pharmacys_window(app, db, clinic, monkeypatch):
    from app.jobs.maintenance import announce_expiring_batches
    from app.jobs.periodic import PERIODIC_JOBS
    from app.models import StockBatch
    from app.services.dispensing import clinic_today
    from app.services.settings import ClinicSettings

    assert any(p.func == "app.jobs.maintenance.announce_expiring_batches" and p.every_seconds == 86400
               for p in PERIODIC_JOBS)
    today = clinic_today(_now(), ClinicSettings.from_config(app.config))
    med = medicine(db)
    near = StockBatch(medicine_id=med, lot_number="NEAR", expiry_date=today + timedelta(days=10), quantity=5)
    far = StockBatch(medicine_id=med, lot_number="FAR", expiry_date=today + timedelta(days=45), quantity=5)
    db.session.add_all([near, far])
    db.session.commit()
    monkeypatch.setitem(app.config, "PHARMACY_EXPIRY_WINDOW_DAYS", 30)
    assert announce_expiring_batches() == 1  # commits in its own session
    assert announce_expiring_batches() == 0
    db.session.expire_all()
    assert [p["lot_number"] for p in _payloads(db, "stock.batch_expiring")] == ["NEAR"]
