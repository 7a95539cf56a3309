"""Demo data: what someone opening the demo clinic would notice if it were wrong."""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from flask_appbuilder import Model
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (registers every table on the shared metadata)
from app.models import (
    Appointment,
    Department,
    Diagnosis,
    Doctor,
    Employee,
    Encounter,
    Invoice,
    InvoiceLine,
    LabOrder,
    LabResult,
    Medicine,
    Patient,
    Payment,
    Prescription,
    PrescriptionItem,
    Refund,
    Review,
    ScheduleException,
    Service,
    StockBatch,
    StockMovement,
    WorkSchedule,
)
from app.services.demo_data import seed_demo_data
from app.services.records import ICD10_PATTERN
from app.services.text import fold

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TODAY = date(2025, 3, 14)
PATIENTS = 50
NOW = datetime.combine(TODAY, datetime.min.time(), tzinfo=ZONE).astimezone(timezone.utc)  # the demo's "now"


def _seeded_session(path, *, seed=42, patients=PATIENTS, currency="VND", progress=None) -> Session:
    engine = create_engine(f"sqlite:///{path}")
    Model.metadata.create_all(engine)
    session = Session(engine)
    counts = seed_demo_data(session, patients=patients, seed=seed, timezone=ZONE, currency=currency, today=TODAY,
                            progress=progress)
    session.info["counts"] = counts
    return session


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    calls: list[int] = []
    session = _seeded_session(tmp_path_factory.mktemp("demo") / "demo.db", progress=calls.append)
    session.info["progress"] = calls
    yield session
    session.close()
    session.get_bind().dispose()


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_counts_match_the_database_and_the_request(db):
    counts = db.info["counts"]
    for model in (Department, Service, Doctor, Employee, WorkSchedule, ScheduleException, Medicine, StockBatch,
                  StockMovement, Patient, Appointment, Encounter, Diagnosis, LabOrder, LabResult, Prescription,
                  PrescriptionItem, Invoice, InvoiceLine, Payment, Refund, Review):
        assert counts[model.__tablename__] == _count(db, model), model.__tablename__
    assert counts["patient"] == PATIENTS
    assert 6 <= counts["department"] <= 10
    assert 10 <= counts["service"] <= 16
    assert 8 <= counts["doctor"] <= 12
    assert counts["employee"] >= 3
    assert 35 <= counts["medicine"] <= 45
    assert PATIENTS <= counts["appointment"] <= 3 * PATIENTS
    for table in ("encounter", "diagnosis", "prescription", "invoice", "payment", "review", "lab_order",
                  "lab_result", "stock_batch", "schedule_exception"):
        assert counts[table] > 0, table
    assert sum(db.info["progress"]) == PATIENTS


def test_patient_codes_search_text_and_contact_details(db):
    patients = db.execute(select(Patient).order_by(Patient.id)).scalars().all()
    codes = [p.code for p in patients]
    assert codes == [f"BN{i:06d}" for i in range(1, PATIENTS + 1)]
    national_ids = [p.national_id for p in patients if p.national_id]
    assert len(national_ids) == len(set(national_ids)) > PATIENTS // 3
    assert all(re.fullmatch(r"[0-9]{12}", n) for n in national_ids)
    assert any(p.national_id is None for p in patients)
    assert any(p.email is None for p in patients) and any(p.email for p in patients)
    assert any(p.insurance_number for p in patients)
    for p in patients:
        assert p.search_text == " ".join(filter(None, [fold(p.full_name), p.code.lower(), p.phone or ""]))
        assert p.date_of_birth < TODAY
        assert p.address and p.sex in ("male", "female")
        for phone in (p.phone, p.emergency_contact_phone):
            if phone:
                assert phone.startswith("+84")
                assert phonenumbers.is_valid_number(phonenumbers.parse(phone)), phone
    # Vietnamese names keep their diacritics (Nguyễn, Trần, Thị...).
    accented = [p.full_name for p in patients if fold(p.full_name) != p.full_name.lower()]
    assert len(accented) >= 0.8 * PATIENTS
    assert all(len(p.full_name.split()) >= 3 for p in patients)
    doctors = db.execute(select(Doctor)).scalars().all()
    assert all(d.title and d.bio and d.languages and d.consultation_fee > 0 for d in doctors)
    assert sum(fold(d.full_name) != d.full_name.lower() for d in doctors) >= len(doctors) - 1
    assert len({d.full_name for d in doctors}) == len(doctors)


def test_same_seed_same_clinic_other_seed_other_clinic(db, tmp_path):
    names = db.execute(select(Patient.full_name).order_by(Patient.id)).scalars().all()
    again = _seeded_session(tmp_path / "again.db")
    other = _seeded_session(tmp_path / "other.db", seed=43)
    try:
        assert again.execute(select(Patient.full_name).order_by(Patient.id)).scalars().all() == names
        assert again.info["counts"] == db.info["counts"]
        totals = select(Invoice.number, Invoice.total).order_by(Invoice.id)
        assert again.execute(totals).all() == db.execute(totals).all()
        assert other.execute(select(Patient.full_name).order_by(Patient.id)).scalars().all() != names
    finally:
        for session in (again, other):
            session.close()
            session.get_bind().dispose()


ACTIVE = "('requested', 'confirmed', 'checked_in', 'in_consultation', 'completed')"


@pytest.mark.parametrize("who", ["doctor_id", "patient_id"])
def test_no_overlapping_active_appointments(db, who):
    overlaps = db.execute(text(f"""
        SELECT COUNT(*) FROM appointment a JOIN appointment b
          ON a.{who} = b.{who} AND a.id < b.id AND a.start_at < b.end_at AND b.start_at < a.end_at
        WHERE a.status IN {ACTIVE} AND b.status IN {ACTIVE}""")).scalar_one()
    assert overlaps == 0


def test_appointments_are_in_working_hours_of_the_clinic_zone(db):
    hours = defaultdict(list)
    for ws in db.execute(select(WorkSchedule)).scalars():
        hours[(ws.doctor_id, ws.weekday)].append((ws.start_time, ws.end_time))
    exceptions = db.execute(select(ScheduleException)).scalars().all()
    appointments = db.execute(select(Appointment)).scalars().all()
    future = [a for a in appointments if a.status in ("requested", "confirmed")]
    assert future, "the demo has bookings to come"
    assert {a.status for a in appointments} >= {"completed", "cancelled", "requested", "confirmed"}
    for a in appointments:
        assert a.start_at.tzinfo is not None and a.end_at > a.start_at
        start, end = a.start_at.astimezone(ZONE), a.end_at.astimezone(ZONE)
        assert start.date() == end.date()
        if a.status in ("requested", "confirmed"):
            assert start.date() >= TODAY
        else:
            assert start.date() < TODAY
        assert any(s <= start.time() and end.time() <= e for s, e in hours[(a.doctor_id, start.weekday())]), a
        for x in exceptions:
            if x.doctor_id == a.doctor_id and x.start_date <= start.date() <= x.end_date:
                assert x.start_time is not None, f"appointment {a.id} on a day off ({x.kind})"
                assert end.time() <= x.start_time or start.time() >= x.end_time
        service = db.get(Service, a.service_id)
        assert a.end_at - a.start_at == timedelta(minutes=service.duration_minutes)
        assert service in db.get(Doctor, a.doctor_id).services
        patient = db.get(Patient, a.patient_id)
        assert patient.date_of_birth < start.date()



def test_the_clinic_closes_on_vietnams_public_holidays(db):
    """Lunar holidays are computed, not typed in: Tết 2025 ran from 27 January to 1 February, and the
    Hùng Kings' day (10th day of the 3rd lunar month) fell on 7 April 2025."""
    doctors = _count(db, Doctor)
    holidays = db.execute(select(ScheduleException).where(ScheduleException.kind == "holiday")).scalars().all()
    closed: dict[date, set[int]] = defaultdict(set)
    for x in holidays:
        assert x.start_time is None and x.reason
        day = x.start_date
        while day <= x.end_date:
            closed[day].add(x.doctor_id)
            day += timedelta(days=1)
    for day in (date(2025, 1, 1), date(2025, 1, 27), date(2025, 1, 29), date(2025, 2, 1), date(2025, 4, 7)):
        assert len(closed[day]) == doctors, day
    assert date(2025, 2, 3) not in closed  # the Monday after Tết
    assert {x.reason for x in holidays if x.start_date <= date(2025, 4, 7) <= x.end_date} == {"Ngày Giỗ Tổ Hùng Vương"}
    appointments = db.execute(select(Appointment)).scalars().all()
    assert not [a.id for a in appointments if a.start_at.astimezone(ZONE).date() in closed]

def test_demo_patients_have_vitals_over_time_for_their_charts(db):
    """Some demo patients come back many times, and each keeps their build: an adult's height is the
    same at every visit and the weight moves by a few per cent, so the chart's curves follow one
    person (issue 9: the patient chart)."""
    visits: dict[int, list] = {}
    for e in db.execute(select(Encounter).order_by(Encounter.created_at)).scalars():
        visits.setdefault(e.patient_id, []).append(e)
    assert max(len(v) for v in visits.values()) >= 5
    assert sum(len(v) >= 3 for v in visits.values()) >= len(visits) // 20
    for patient_id, seen in visits.items():
        patient = db.get(Patient, patient_id)
        adult = [e for e in seen if (e.created_at.date() - patient.date_of_birth).days >= 18 * 366]
        if len(adult) >= 2:
            assert len({e.height_cm for e in adult}) == 1, patient_id
            weights = [float(e.weight_kg) for e in adult]
            assert max(weights) <= min(weights) * 1.07, (patient_id, weights)


def test_completed_visits_have_records_and_bills(db):
    completed = db.execute(select(Appointment).where(Appointment.status == "completed")).scalars().all()
    assert completed
    encounters = {e.appointment_id: e for e in db.execute(select(Encounter)).scalars()}
    invoices = {i.appointment_id: i for i in db.execute(select(Invoice)).scalars()}
    assert set(encounters) == {a.id for a in completed} == set(invoices)
    for e in encounters.values():
        assert 36.0 <= e.temperature_c <= 40.0 and 80 <= e.spo2 <= 100 and 50 <= e.pulse <= 190
        assert e.weight_kg > 0 and e.height_cm > 0
        primary = [d for d in e.diagnoses if d.is_primary]
        assert len(primary) == 1
        for d in e.diagnoses:
            assert re.fullmatch(ICD10_PATTERN, d.icd10_code), d.icd10_code
            assert "(" in d.text  # "Viêm họng cấp (Acute pharyngitis, unspecified)"
    queues = db.execute(text("SELECT doctor_id, queue_date, COUNT(*), MAX(queue_number) FROM appointment "
                             "WHERE queue_number IS NOT NULL GROUP BY 1, 2")).all()
    assert all(count == highest for _d, _day, count, highest in queues)


def test_completed_visits_have_the_history_the_dashboards_time(db):
    """Checked in, seen, finished, in that order: the dashboard's average wait and consultation
    length have figures on the demo clinic."""
    from app.models import AppointmentEvent

    completed = {a.id: a for a in db.execute(select(Appointment).where(Appointment.status == "completed")).scalars()}
    history: dict[int, dict[str, object]] = {}
    for event in db.execute(select(AppointmentEvent)).scalars():
        history.setdefault(event.appointment_id, {})[event.to_status] = event.at
    assert set(history) == set(completed)
    waits = set()
    for appointment_id, steps in history.items():
        assert steps["checked_in"] == completed[appointment_id].checked_in_at
        assert steps["checked_in"] <= steps["in_consultation"] < steps["completed"]
        waits.add(steps["in_consultation"] - steps["checked_in"])
    assert len(waits) > 5  # waits vary from visit to visit


SOURCES = {"service": ("appointment", "consultation"), "lab": ("lab_order",), "medicine": ("prescription_item",)}
PROVIDERS = {"cash": "manual", "bank_transfer": "bank", "card": "stripe", "vnpay": "vnpay"}


def _same_as_the_counter(inv: Invoice) -> None:
    """The invoice's figures are what app.services.billing computes from its lines."""
    from app.services.billing import compute_totals, discount_amount

    lines = inv.lines
    amounts = [line.amount for line in lines]
    discount = discount_amount(inv.discount_kind, inv.discount_value, sum(amounts, Decimal(0)), inv.currency)
    totals = compute_totals(amounts, [line.tax_rate for line in lines], discount, inv.currency)
    assert (inv.subtotal, inv.discount, inv.tax, inv.total) == (
        totals.subtotal, totals.discount, totals.tax, totals.total), inv.id
    assert [(line.discount_share, line.tax) for line in lines] == [
        (f.discount_share, f.tax) for f in totals.lines], inv.id


def test_invoice_totals_lines_and_payments_agree(db):
    from app.services.billing_settings import DEFAULT_VAT

    invoices = db.execute(select(Invoice).order_by(Invoice.id)).scalars().all()
    statuses, methods = set(), set()
    for inv in invoices:
        assert inv.currency == "VND"
        lines = inv.lines
        assert lines and (lines[0].kind, lines[0].source, lines[0].source_id) == (
            "service", "appointment", inv.appointment_id)
        for line in lines:
            assert line.amount == line.quantity * line.unit_price and line.amount % 1 == 0
            assert line.tax_rate == DEFAULT_VAT[line.kind] and line.source in SOURCES[line.kind]
            assert line.discount_share % 1 == 0 and line.tax % 1 == 0
            assert line.unit_price > 0 or (line.kind == "lab" and line.reason and line.price_overridden)
        _same_as_the_counter(inv)
        if inv.discount_kind is not None:
            assert inv.discount_kind == "percent" and inv.discount_value in (5, 10) and inv.discount_reason
            assert inv.discount == (inv.subtotal * inv.discount_value / 100).quantize(Decimal(1), "ROUND_HALF_UP")
        else:
            assert inv.discount == 0
        paid = sum((p.amount for p in inv.payments if p.status == "succeeded"), Decimal(0))
        refunds = db.execute(select(Refund).where(Refund.invoice_id == inv.id)).scalars().all()
        assert inv.amount_paid == paid <= inv.total
        assert inv.amount_refunded == sum((r.amount for r in refunds), Decimal(0)) <= paid
        for p in inv.payments:
            methods.add(p.method)
            assert p.provider == PROVIDERS[p.method] and p.amount > 0 and p.paid_at >= inv.issued_at
            assert p.amount_refunded == sum((r.amount for r in p.refunds), Decimal(0)) <= p.amount
            if p.method == "cash":
                assert p.tendered >= p.amount and p.change_given == p.tendered - p.amount
            else:
                assert p.tendered is None and p.provider_reference
            for r in p.refunds:
                assert r.method == p.method and r.reason and p.paid_at <= r.refunded_at < NOW
        if inv.status == "draft":
            assert inv.number is None and inv.issued_at is None and paid == 0
        else:
            assert inv.number and inv.issued_at >= inv.created_at
        if inv.status == "refunded":
            expected = "refunded"
            assert inv.amount_refunded == paid > 0
        else:
            expected = ("paid" if paid == inv.total else "partially_paid" if paid > 0
                        else inv.status if inv.status in ("issued", "void", "draft") else "?")
        assert inv.status == expected, inv.id
        assert (inv.status == "void") == (inv.void_reason is not None) == (inv.voided_at is not None)
        statuses.add(inv.status)
    assert {"paid", "partially_paid", "issued", "draft", "refunded"} <= statuses
    assert methods == set(PROVIDERS)
    assert {r.amount == r.payment.amount for r in db.execute(select(Refund)).scalars()} == {True, False}
    # Every dispensed unit is billed once, every lab order once, on the line naming it.
    dispensed = db.execute(select(func.sum(PrescriptionItem.dispensed_quantity))).scalar_one()
    billed = db.execute(select(func.sum(InvoiceLine.quantity)).where(InvoiceLine.kind == "medicine")).scalar_one()
    assert dispensed == billed
    item_lines = db.execute(select(InvoiceLine.source_id, PrescriptionItem.dispensed_quantity, InvoiceLine.quantity)
                            .join(PrescriptionItem, PrescriptionItem.id == InvoiceLine.source_id)
                            .where(InvoiceLine.source == "prescription_item")).all()
    assert item_lines and all(given == quantity for _id, given, quantity in item_lines)
    orders = db.execute(select(LabOrder.id, LabOrder.lab_test_id)).all()
    lab_lines = dict(db.execute(select(InvoiceLine.source_id, InvoiceLine.lab_test_id)
                                .where(InvoiceLine.source == "lab_order")).all())
    assert lab_lines == dict(orders)


def test_invoice_numbers_are_given_at_issue_gapless_per_year(db):
    """HD<year>-<6 digits>, counted per year in the order invoices were issued; the yearly counter
    holds each year's last number, so the first invoice issued in the running app continues it."""
    from app.models import InvoiceSequence

    issued = db.execute(select(Invoice).where(Invoice.number.is_not(None))
                        .order_by(Invoice.issued_at, Invoice.id)).scalars().all()
    per_year: dict[int, list[int]] = defaultdict(list)
    for inv in issued:
        match = re.fullmatch(r"HD(\d{4})-(\d{6})", inv.number)
        assert match and int(match[1]) == inv.issued_at.astimezone(ZONE).year, inv.number
        per_year[int(match[1])].append(int(match[2]))
    assert len(per_year) >= 1 and sum(map(len, per_year.values())) == len({i.number for i in issued})
    for year, seqs in per_year.items():
        assert seqs == list(range(1, len(seqs) + 1)), year
    sequence = {s.year: s.last_number for s in db.execute(select(InvoiceSequence)).scalars()}
    assert sequence == {year: max(seqs) for year, seqs in per_year.items()}


def test_the_counter_has_work_on_the_demo_day(db):
    """The last visits before the demo day wait at the cash desk: drafts (no number yet) and issued
    invoices, one of them part paid."""
    last = db.execute(select(Appointment.id).where(Appointment.status == "completed")
                      .order_by(Appointment.end_at.desc(), Appointment.id.desc()).limit(6)).scalars().all()
    waiting = db.execute(select(Invoice).where(Invoice.appointment_id.in_(last))).scalars().all()
    states = sorted(i.status for i in waiting)
    assert states == ["draft"] * 3 + ["issued"] * 2 + ["partially_paid"], states
    assert all((i.number is None) == (i.status == "draft") for i in waiting)


def test_a_visit_billed_again_adds_nothing(db):
    """Every line names its source, so the billing of a signed visit, run again, finds it billed."""
    from app.services import billing
    from app.services.billing_settings import BillingSettings

    encounters = db.execute(select(Encounter).order_by(Encounter.id).limit(40)).scalars().all()
    for encounter in encounters:
        assert billing.bill_visit(db, encounter, None, NOW, BillingSettings()) is None, encounter.id
    db.rollback()


def test_lab_tests_carry_their_price(db):
    from app.models import LabTest
    from app.services.demo_data.lab_tests import LAB_TESTS

    prices = {t.code: t.price for t in db.execute(select(LabTest)).scalars()}
    assert prices == {code: Decimal(price) for code, (_name, price, _a) in LAB_TESTS.items()}
    lines = db.execute(select(InvoiceLine, LabTest.price).join(LabTest, LabTest.id == InvoiceLine.lab_test_id)).all()
    assert lines
    for line, price in lines:  # at the test's price, or in a package's price (with the reason)
        assert line.unit_price == price or (line.unit_price == 0 and line.reason and line.price_overridden)


def test_the_demo_cash_desk_is_staffed_by_the_demo_logins(tmp_path):
    """After the demo logins exist (``flask seed``): the counter's payments were received by the
    cashier (some by the receptionist), and each has end-of-day closes for past days whose expected
    cash is the day's cash in less the cash given back."""
    from flask_appbuilder.security.sqla.models import User

    from app.models import CashClose
    from app.services import cashier_day
    from app.services.demo_data.maintenance import staff_the_demo_cash_desk

    session = _seeded_session(tmp_path / "desk.db", patients=60)
    try:
        users = [User(first_name=n, last_name="Demo", username=n, email=f"{n}@clinic.example", active=True)
                 for n in ("cashier", "reception")]
        session.add_all(users)
        session.flush()
        cashier, reception = (u.id for u in users)
        closes = staff_the_demo_cash_desk(session, cashier, reception, ZONE, TODAY)
        rows = session.execute(select(CashClose)).scalars().all()
        assert closes == len(rows) >= 4 and {r.cashier_id for r in rows} == {cashier, reception}
        counter = session.execute(select(Payment).where(Payment.method.in_(("cash", "bank_transfer")))).scalars().all()
        assert {p.received_by_id for p in counter} == {cashier, reception}
        online = session.execute(select(Payment).where(Payment.method.in_(("card", "vnpay")))).scalars().all()
        assert online and all(p.received_by_id is None for p in online)
        for close in rows:
            assert close.business_date < TODAY and close.closed_at.astimezone(ZONE).date() == close.business_date
            day_in = sum((p.amount for p in counter if p.method == "cash" and p.received_by_id == close.cashier_id
                          and p.paid_at.astimezone(ZONE).date() == close.business_date), Decimal(0))
            day_out = sum((r.amount for r in session.execute(select(Refund)).scalars()
                           if r.method == "cash" and r.refunded_by_id == close.cashier_id
                           and r.refunded_at.astimezone(ZONE).date() == close.business_date), Decimal(0))
            assert close.expected_cash == day_in - day_out > 0
            assert close.expected_cash == cashier_day.expected_cash(session, close.cashier_id, close.business_date,
                                                                    ZONE)  # the counter's own rule
            assert close.difference == close.counted_cash - close.expected_cash
            assert close.difference == 0 or close.note
        assert any(r.difference for r in rows)
        issued = session.execute(select(Invoice).where(Invoice.issued_at.is_not(None))).scalars().all()
        assert all(i.issued_by_id == cashier for i in issued)
    finally:
        session.close()
        session.get_bind().dispose()


def test_stock_ledger_adds_up_and_the_pharmacy_has_something_to_do(db):
    batches = db.execute(select(StockBatch)).scalars().all()
    ledger = dict(db.execute(select(StockMovement.batch_id, func.sum(StockMovement.quantity))
                             .group_by(StockMovement.batch_id)).all())
    for b in batches:
        assert ledger.get(b.id) == b.quantity, b.lot_number
    receipts = db.execute(select(func.count()).where(StockMovement.kind == "receipt")).scalar_one()
    assert receipts == len(batches)
    # Dispensing in the ledger matches what the prescriptions say was handed out.
    out = -db.execute(select(func.sum(StockMovement.quantity)).where(StockMovement.kind == "dispense")).scalar_one()
    assert out == db.execute(select(func.sum(PrescriptionItem.dispensed_quantity))).scalar_one()
    soon = [b for b in batches if TODAY <= b.expiry_date <= TODAY + timedelta(days=30) and b.quantity > 0]
    assert len(soon) >= 3
    stock = dict(db.execute(select(StockBatch.medicine_id, func.sum(StockBatch.quantity))
                            .group_by(StockBatch.medicine_id)).all())
    medicines = db.execute(select(Medicine)).scalars().all()
    low = [m for m in medicines if stock.get(m.id, 0) < m.reorder_level]
    assert 3 <= len(low) < len(medicines) // 2
    names = {m.name for m in medicines}
    assert {"Paracetamol", "Amoxicillin", "Omeprazole", "Metformin", "Amlodipine"} <= names
    lots = db.execute(select(StockBatch.medicine_id, StockBatch.lot_number)).all()
    assert len(lots) == len(set(lots))


def test_labs_and_reviews_are_plausible(db):
    results = db.execute(select(LabResult)).scalars().all()
    assert results
    for r in results:
        assert r.flag in ("normal", "low", "high", "critical")
        assert not (r.released_to_patient and r.status == "preliminary")
        assert Decimal(r.value) == r.numeric_value
    assert {o.status for o in db.execute(select(LabOrder)).scalars()} <= {"completed", "in_progress"}
    reviews = db.execute(select(Review)).scalars().all()
    now = datetime.combine(TODAY, datetime.min.time(), tzinfo=ZONE).astimezone(timezone.utc)
    for r in reviews:
        assert 1 <= r.rating_overall <= 5
        assert r.appointment.status == "completed" and r.appointment.patient_id == r.patient_id
        assert r.created_at <= now
    assert db.execute(select(func.count()).select_from(Prescription)).scalar_one() > 0


def test_refuses_a_database_that_already_has_a_clinic(db):
    with pytest.raises(ValueError):
        seed_demo_data(db, patients=5, timezone=ZONE, today=TODAY)


def test_other_currency_keeps_totals_exact(tmp_path):
    session = _seeded_session(tmp_path / "usd.db", patients=10, currency="usd")
    try:
        invoices = session.execute(select(Invoice)).scalars().all()
        assert invoices and all(i.currency == "USD" for i in invoices)
        for inv in invoices:
            assert inv.subtotal == sum(line.amount for line in inv.lines)
            assert inv.total == inv.subtotal - inv.discount + inv.tax
            assert inv.amount_paid == sum(p.amount for p in inv.payments)
            _same_as_the_counter(inv)
            assert all(x == x.quantize(Decimal("0.01")) for x in (inv.subtotal, inv.discount, inv.tax, inv.total))
        assert session.execute(select(func.max(Service.price))).scalar_one() < 100
    finally:
        session.close()
        session.get_bind().dispose()


def test_the_demo_pharmacy_has_suppliers_and_a_daily_use_rollup(db):
    """Each medicine has its usual supplier (with a lead time), the daily-use rollup adds up to the
    ledger's dispenses, and the pharmacy dashboard has something to say (app.services.stock_views)."""
    from app.models import MedicineDailyUse, Supplier
    from app.services.pharmacy_settings import PharmacyPolicy
    from app.services.stock_views import pharmacy_alerts

    suppliers = db.execute(select(Supplier)).scalars().all()
    assert len(suppliers) >= 5 and all(1 <= s.lead_time_days <= 30 for s in suppliers)
    without = select(func.count()).select_from(Medicine).where(Medicine.supplier_id.is_(None))
    assert db.execute(without).scalar_one() == 0
    rollup = db.execute(select(func.sum(MedicineDailyUse.units))).scalar_one()
    dispensed = -db.execute(select(func.sum(StockMovement.quantity))
                            .where(StockMovement.kind.in_(("dispense", "return")))).scalar_one()
    assert rollup == dispensed > 0
    alerts = pharmacy_alerts(db, TODAY, PharmacyPolicy())
    assert alerts.below_reorder and alerts.expiring
    # "Order now" follows its rule (cover within the lead time); the demo's day may have none.
    assert all(m.days_of_cover is not None and m.days_of_cover <= m.lead_time_days for m in alerts.order_now)


def test_the_delivery_dashboard_has_messages_of_every_kind_of_outcome(db):
    """The demo shows what patients would receive: sent, failed, queued and skipped messages."""
    from app.models import OutboundMessage
    from app.services.messaging import dashboard

    assert db.info["counts"]["outbound_message"] == _count(db, OutboundMessage) >= 8
    found = dashboard.list_messages(db, dashboard.MessageFilter(), ZONE)
    assert all(found.by_status[s] > 0 for s in ("sent", "failed", "queued", "skipped")), found.by_status
    assert {"no_address", "opted_out", "quiet_hours"} <= set(found.by_skip_reason)
    sent = db.execute(select(OutboundMessage).where(OutboundMessage.status == "sent")).scalars().all()
    assert all(m.recipient and m.body and m.subject for m in sent)


def test_demo_reviews_follow_the_review_rules(db):
    """Each review is of a completed visit of its own patient, once; most are published, the hidden
    ones carry their reason, some published ones the doctor's reply; the public summary reads them."""
    from app.services import reviews

    rows = db.execute(select(Review, Appointment).join(Appointment, Appointment.id == Review.appointment_id)).all()
    assert rows and len(rows) == _count(db, Review)
    assert all(a.status == "completed" and r.patient_id == a.patient_id and r.doctor_id == a.doctor_id
               and r.service_id == a.service_id for r, a in rows)
    assert all(r.rating_professional and r.rating_attitude and r.rating_waiting_time for r, _a in rows)
    assert all(bool(r.hidden_reason) == (r.status == reviews.HIDDEN) for r, _a in rows)
    assert any(r.reply for r, _a in rows if r.status == reviews.PUBLISHED)
    assert not any(r.reply for r, _a in rows if r.status != reviews.PUBLISHED)
    published = [r for r, _a in rows if r.status == reviews.PUBLISHED]
    assert len(published) > len(rows) / 2
    doctor = max({r.doctor_id for r in published}, key=lambda d: sum(r.doctor_id == d for r in published))
    count = sum(r.doctor_id == doctor for r in published)
    summary = reviews.public_summary(db, doctor_id=doctor, settings=reviews.ReviewSettings(min_count=count))
    assert summary.count == count and summary.averages is not None and len(summary.reviews) == min(count, 20)


def test_a_day_whose_cash_refunds_outweigh_its_cash_in_is_not_closed(tmp_path):
    """The seed's random refunds can give a day more cash out than in: that day has no drawer to
    count (counted cash is never negative), and the seed still finishes."""
    from datetime import time as clock

    from flask_appbuilder.security.sqla.models import User

    from app.models import CashClose
    from app.services.demo_data.maintenance import staff_the_demo_cash_desk

    session = _seeded_session(tmp_path / "refunds.db", patients=60)
    try:
        users = [User(first_name=n, last_name="Demo", username=n, email=f"{n}@clinic.example", active=True)
                 for n in ("cashier", "reception")]
        session.add_all(users)
        session.flush()
        day = TODAY - timedelta(days=2)
        noon = datetime.combine(day, clock(12), ZONE)
        payment = session.execute(select(Payment).where(Payment.method == "cash", Payment.status == "succeeded")
                                  .order_by(Payment.id)).scalars().first()
        payment.paid_at = noon
        session.add(Refund(payment_id=payment.id, invoice_id=payment.invoice_id, amount=Decimal(900_000_000),
                           method="cash", status="succeeded", reason="Test", refunded_at=noon))
        session.flush()
        staff_the_demo_cash_desk(session, users[0].id, users[1].id, ZONE, TODAY)
        closes = session.execute(select(CashClose)).scalars().all()
        assert closes and day not in {c.business_date for c in closes}
        assert all(c.counted_cash >= 0 and c.expected_cash >= 0 for c in closes)
    finally:
        session.close()
        session.get_bind().dispose()
