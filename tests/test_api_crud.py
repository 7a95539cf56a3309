"""CRUD through the REST API, as admin, for every resource in ``app.api.MODELS``; and the business
hooks that run on those writes (stock ledger, invoice totals, payments, appointment end, audit)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

import pytest

from app.api import MODELS, NO_GENERIC_WRITES
from app.permissions import CLINICAL, RESOURCE_BY_NAME
from tests.factories import (
    START,
    START_UTC,
    Api,
    Clinic,
    add_appointment_event,
    add_reminder_log,
)

# --- what a create and an update send, per resource ------------------------------------------


@dataclass
class Case:
    create: Callable[[Clinic], dict]
    update: dict
    text: str | None = None  # a field holding Vietnamese text, checked byte for byte
    update_status: int = 200  # Payment: a recorded payment is never edited (409)


CASES: dict[str, Case] = {
    "Patient": Case(
        lambda c: {"full_name": "Nguyễn Thị Ánh", "date_of_birth": "1990-05-17", "sex": "female",
                   "phone": "+84912345678", "email": "anh.nguyen@example.com", "national_id": "079190000123",
                   "address": "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
                   "allergies": "Dị ứng penicillin", "blood_type": "O+"},
        {"address": "45 Trần Hưng Đạo, Hoàn Kiếm, Hà Nội", "insurance_number": "DN4797915123456"},
        text="full_name"),
    "Doctor": Case(
        lambda c: {"full_name": "Lê Minh Đức", "title": "ThS. BS.", "department": c.department,
                   "specialty": c.specialty, "consultation_fee": 250000, "years_of_experience": 12,
                   "languages": "vi, en", "bio": "Chuyên khoa tim mạch, 12 năm kinh nghiệm"},
        {"bio": "Trưởng khoa Nội", "years_of_experience": 13, "department": None},
        text="full_name"),
    "Employee": Case(
        lambda c: {"full_name": "Phạm Thị Hương", "position": "nurse", "department": c.department,
                   "phone": "+84987654321", "email": "huong@example.com"},
        {"position": "cashier", "full_name": "Phạm Thu Hương"},
        text="full_name"),
    "Department": Case(
        lambda c: {"code": "NGOAI", "name": "Khoa Ngoại", "description": "Phẫu thuật tổng quát"},
        {"description": "Ngoại tổng hợp – tiết niệu", "active": False},
        text="name"),
    "Specialty": Case(
        lambda c: {"name": "Tim mạch", "description": "Bệnh lý tim và mạch máu"},
        {"description": "Tim mạch can thiệp"},
        text="name"),
    "Service": Case(
        lambda c: {"code": "SA01", "name": "Siêu âm ổ bụng", "price": 250000, "duration_minutes": 30,
                   "department": c.department, "description": "Siêu âm tổng quát ổ bụng"},
        {"price": 300000, "name": "Siêu âm bụng tổng quát"},
        text="name"),
    "Appointment": Case(
        lambda c: {"patient": c.patient, "doctor": c.doctor, "service": c.service, "start_at": START,
                   "channel": "phone", "reason": "Đau đầu kéo dài"},
        {"status": "confirmed", "notes": "Bệnh nhân đến sớm 15 phút"},
        text="reason"),
    "AppointmentSeries": Case(
        lambda c: {"patient": c.patient, "doctor": c.doctor, "service": c.service,
                   "rule": "FREQ=WEEKLY;COUNT=4"},
        {"rule": "FREQ=WEEKLY;COUNT=6"}),
    "WorkSchedule": Case(
        lambda c: {"doctor": c.doctor, "weekday": 0, "start_time": "08:00:00", "end_time": "12:00:00",
                   "valid_from": "2026-01-01"},
        {"end_time": "11:30:00", "valid_to": "2026-12-31"}),
    "ScheduleException": Case(
        lambda c: {"doctor": c.doctor, "kind": "leave", "start_date": "2026-12-24", "end_date": "2026-12-26",
                   "reason": "Nghỉ phép năm"},
        {"kind": "holiday", "reason": "Nghỉ lễ Giáng sinh"},
        text="reason"),
    "Encounter": Case(
        lambda c: {"patient": c.patient, "doctor": c.doctor, "chief_complaint": "Sốt cao, ho khan",
                   "systolic_bp": 120, "diastolic_bp": 80, "temperature_c": 38.5, "follow_up_date": "2026-12-08"},
        {"examination": "Họng đỏ, phổi không ran", "pulse": 90},
        text="chief_complaint"),
    "Diagnosis": Case(
        lambda c: {"encounter": c.encounter, "icd10_code": "J06.9", "text": "Nhiễm trùng hô hấp trên cấp",
                   "is_primary": True},
        {"icd10_code": "J02.9", "text": "Viêm họng cấp"},
        text="text"),
    "LabOrder": Case(
        lambda c: {"patient": c.patient, "doctor": c.doctor, "test_code": "GLU",
                   "test_name": "Đường huyết lúc đói"},
        {"status": "collected", "notes": "Lấy mẫu lúc 7 giờ sáng"},
        text="test_name"),
    "LabResult": Case(
        lambda c: {"lab_order": c.lab_order, "analyte": "Hồng cầu", "value": "4.5", "numeric_value": 4.5,
                   "unit": "T/L", "reference_range": "3,8 – 5,5", "flag": "normal"},
        {"status": "final", "value": "4.6", "numeric_value": 4.6},
        text="analyte"),
    "Prescription": Case(
        lambda c: {"patient": c.patient, "doctor": c.doctor, "encounter": c.encounter, "notes": "Uống sau ăn"},
        {"status": "issued", "notes": "Tái khám sau 7 ngày"},
        text="notes"),
    "PrescriptionItem": Case(
        lambda c: {"prescription": c.prescription, "medicine": c.medicine, "dose": "1 viên",
                   "frequency": "3 lần/ngày", "duration_days": 5, "quantity": 15, "route": "oral",
                   "instructions": "Uống sau ăn no"},
        {"quantity": 10, "instructions": "Uống khi sốt trên 38,5 độ"},
        text="frequency"),
    "Medicine": Case(
        lambda c: {"code": "AMOX500", "name": "Amoxicillin", "active_ingredient": "Amoxicillin trihydrat",
                   "strength": "500 mg", "dosage_form": "viên nang", "unit": "viên", "price": 2500,
                   "reorder_level": 100},
        {"price": 2700, "dosage_form": "viên nang cứng"},
        text="dosage_form"),
    # Quantity 0: no receipt in the ledger, so the batch can be deleted (see the stock tests).
    "StockBatch": Case(
        lambda c: {"medicine": c.medicine, "lot_number": "Lô-2026-01", "expiry_date": "2028-06-30",
                   "quantity": 0, "unit_cost": 1800},
        {"unit_cost": 1900, "expiry_date": "2028-07-31"},
        text="lot_number"),
    "Supplier": Case(
        lambda c: {"name": "Công ty CP Dược Hậu Giang", "contact": "Chị Lan, phòng kinh doanh",
                   "phone": "+842923891433", "lead_time_days": 5},
        {"lead_time_days": 7, "contact": "Anh Tuấn"},
        text="name"),
    "LabTest": Case(
        lambda c: {"code": "FERRITIN", "name": "Định lượng Ferritin", "specimen": "Huyết thanh", "price": 180000},
        {"price": 195000, "name": "Ferritin huyết thanh", "active": False},
        text="name"),
    "Notification": Case(
        lambda c: {"user": c.user_id, "kind": "appointment", "title": "Lịch hẹn đã được xác nhận",
                   "body": "Hẹn gặp bạn lúc 9 giờ sáng"},
        {"read_at": "2026-12-01T10:00:00+07:00"},
        text="title"),
}

WRITABLE = sorted(CASES)


def resource(name: str) -> str:
    return RESOURCE_BY_NAME[name].api


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, (int, float, Decimal)):
        return actual is not None and Decimal(str(actual)) == Decimal(str(expected))
    if isinstance(expected, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d", expected):
        return actual is not None and datetime.fromisoformat(actual) == datetime.fromisoformat(expected)
    return actual == expected


def assert_shows(result: dict, sent: dict) -> None:
    """Every value sent is shown back: relationships as their ``<name>_id`` column."""
    for key, value in sent.items():
        shown = result[key] if key in result else result[f"{key}_id"]
        assert _same(value, shown), f"{key}: sent {value!r}, shown {shown!r}"


def test_every_resource_has_a_case():
    assert set(CASES) | NO_GENERIC_WRITES == set(MODELS)
    assert not set(CASES) & NO_GENERIC_WRITES


@pytest.mark.parametrize("name", WRITABLE)
def test_crud(name, api, clinic, admin_id):
    case, res = CASES[name], resource(name)
    if name in CLINICAL:
        clinic.break_glass("admin")  # the admin is outside the patient's care team (issue 8)
        _author(clinic, admin_id)  # only the author of a draft record changes it (issue 9)
    body = case.create(clinic)
    count_before = api.count(res)

    # Create, then read back.
    response = api.post(res, body)
    assert response.status_code == 201, response.get_json()
    pk = response.get_json()["id"]
    shown = api.show(res, pk)
    assert shown["id"] == pk
    assert_shows(shown, body)
    if case.text:
        assert shown[case.text] == body[case.text]  # Vietnamese text round-trips unchanged
    assert api.count(res) == count_before + 1

    # List.
    assert pk in api.ids(res)

    # Update.
    response = api.put(res, pk, case.update)
    assert response.status_code == case.update_status, response.get_json()
    after = api.show(res, pk)
    if case.update_status == 200:
        assert_shows(after, case.update)
    else:
        assert response.get_json()["message"]
        assert_shows(after, body)  # the refused edit left the record as it was

    # Delete: clinical records are never deleted (issue 9), the others are.
    response = api.delete(res, pk)
    if name in CLINICAL:
        assert response.status_code == 409 and "never deleted" in response.get_json()["message"]
        assert api.get(res, pk).status_code == 200
    else:
        assert response.status_code == 200, response.get_json()
        assert api.get(res, pk).status_code == 404
        assert pk not in api.ids(res)

    # The audit trail has each change, by the acting user.
    events = api.audit(name, pk)
    actions = [e["action"] for e in events]
    expected = {"create"} | ({"delete"} if name not in CLINICAL else set()) \
        | ({"update"} if case.update_status == 200 else set())
    assert expected <= set(actions), actions
    assert all(e["user_id"] == admin_id for e in events)
    if case.update_status == 200:
        update = next(e for e in events if e["action"] == "update")
        assert set(case.update) & {f.removesuffix("_id") for f in _fields(update)}
    creates = api.listing("audit_event", [{"col": "entity", "opr": "eq", "value": name},
                                          {"col": "action", "opr": "eq", "value": "create"}])["result"]
    assert creates and all(e["user_id"] == admin_id for e in creates)


def _author(clinic: Clinic, user_id: int) -> None:
    """The test's doctor is the admin's login: the admin writes the draft records of that doctor."""
    from app.extensions import db
    from app.models import Doctor

    with clinic.app.app_context():
        doctor = db.session.get(Doctor, clinic.doctor)
        doctor.user_id = user_id
        db.session.commit()


def _fields(event: dict) -> list[str]:
    return json.loads(event["details"] or "{}").get("fields", [])


def _read_only_rows(name: str, clinic: Clinic, db) -> int:
    """Make one row of a read-only resource the way the clinic makes it; return its id."""
    if name == "AppointmentEvent":
        return add_appointment_event(db, clinic.appointment)
    if name == "ReminderLog":
        return add_reminder_log(db, clinic.appointment)
    if name == "OutboundMessage":  # queued by the messaging services
        from app.services.messaging.delivery import queue_message

        message = queue_message(db.session, channel="email", kind="plain", recipient="an.nguyen@example.vn",
                                language="vi", params={"subject": "Nhắc lịch khám", "text": "Hẹn gặp bạn"})
        db.session.commit()
        return message.id
    if name == "EncounterAmendment":
        from app.models import EncounterAmendment

        clinic.break_glass("admin")
        amendment = EncounterAmendment(encounter_id=clinic.encounter, field="history", original_text="Ho",
                                       new_text="Ho khan", reason="Ghi thiếu", amended_at=START_UTC)
        db.session.add(amendment)
        db.session.commit()
        return amendment.id
    if name == "StockMovement":
        clinic.api.create("stock_batch", {"medicine": clinic.medicine, "lot_number": "L1",
                                          "expiry_date": "2028-01-31", "quantity": 10})
        return clinic.api.ids("stock_movement")[0]
    if name == "Attachment":  # made only by the upload service (tests/test_files.py)
        from app.models import Attachment

        clinic.break_glass("admin")  # a clinical record: the admin is outside the patient's care (issue 8)
        return clinic.save(Attachment(patient_id=clinic.patient, owner_type="patient", owner_id=clinic.patient,
                                      file_name="phiếu khám bệnh.pdf", content_type="application/pdf",
                                      size_bytes=2048, storage_key="tests/phieu-kham.pdf"))
    if name == "Review":  # written by its patient and moderated through app.services.reviews (test_reviews.py)
        from app.models import Review

        return clinic.save(Review(patient_id=clinic.patient, doctor_id=clinic.doctor, rating_overall=5,
                                  comment="Bác sĩ rất tận tình, chu đáo"))
    if name in ("Invoice", "InvoiceLine", "Payment", "Refund", "CashClose"):  # the billing services make them
        from app.models import CashClose, Refund
        from app.services import payments
        from app.services.billing_settings import BillingSettings

        invoice = clinic.invoice
        if name == "Invoice":
            return invoice
        if name == "InvoiceLine":
            return clinic.api.ids("invoice_line")[0]
        payment = clinic.pay(invoice, 100000)
        if name == "Payment":
            return payment
        if name == "Refund":
            refund = payments.refund_payment(db.session, payment, 1000, "Thu thừa", None, START_UTC,
                                             BillingSettings())
            return db.session.get(Refund, refund.id).id
        close = CashClose(cashier_id=clinic.admin_id if hasattr(clinic, "admin_id") else 1,
                          business_date=START_UTC.date(), expected_cash=Decimal(100000),
                          counted_cash=Decimal(100000), difference=Decimal(0), closed_at=START_UTC)
        return clinic.save(close)
    clinic.department  # noqa: B018 - any write leaves an audit event
    return clinic.api.ids("audit_event")[0]


@pytest.mark.parametrize("name", sorted(NO_GENERIC_WRITES))
def test_read_only_resources(name, api, clinic, db):
    res = resource(name)
    pk = _read_only_rows(name, clinic, db)
    assert pk in api.ids(res)
    assert api.show(res, pk)["id"] == pk
    count = api.count(res)

    assert api.post(res, {"note": "x"}).status_code in (404, 405)
    assert api.put(res, pk, {"note": "x"}).status_code in (404, 405)
    assert api.delete(res, pk).status_code in (404, 405)
    assert api.count(res) == count
    assert api.show(res, pk)["id"] == pk


# --- business hooks -------------------------------------------------------------------------


def _movements(api: Api, batch: int) -> list[dict]:
    rows = api.listing("stock_movement", [{"col": "batch", "opr": "rel_o_m", "value": batch}])["result"]
    return sorted(rows, key=lambda r: r["id"])


def test_stock_batch_writes_the_ledger(api, clinic):
    batch = api.create("stock_batch", {"medicine": clinic.medicine, "lot_number": "Lô 7",
                                       "expiry_date": "2028-01-31", "quantity": 120, "unit_cost": 800})
    [receipt] = _movements(api, batch)
    assert (receipt["kind"], receipt["quantity"]) == ("receipt", 120)
    assert receipt["medicine_id"] == clinic.medicine
    assert (receipt["reference_type"]) == "stock_batch"

    # The quantity is read-only once the batch exists: it changes only through the stock services
    # (dispensing, receipts, "Adjust stock"), each with its ledger row (tests/test_pharmacy_pages.py).
    assert api.put("stock_batch", batch, {"quantity": 95}).status_code == 422
    assert api.put("stock_batch", batch, {"unit_cost": 850}).status_code == 200  # no quantity change
    moves = _movements(api, batch)
    assert [(m["kind"], m["quantity"]) for m in moves] == [("receipt", 120)]
    assert sum(m["quantity"] for m in moves) == api.show("stock_batch", batch)["quantity"] == 120

    # A refused edit writes no ledger entry; a batch with a ledger cannot be deleted.
    assert api.put("stock_batch", batch, {"quantity": -1}).status_code == 422
    assert len(_movements(api, batch)) == 1
    response = api.delete("stock_batch", batch)
    assert response.status_code == 409
    assert response.get_json()["message"]
    assert api.show("stock_batch", batch)["quantity"] == 120


def test_appointment_end_defaults_to_service_duration(api, clinic):
    pk = api.create("appointment", {"patient": clinic.patient, "doctor": clinic.doctor,
                                    "service": clinic.service, "start_at": START})
    shown = api.show("appointment", pk)
    start, end = datetime.fromisoformat(shown["start_at"]), datetime.fromisoformat(shown["end_at"])
    assert start == START_UTC
    assert (end - start).total_seconds() == 20 * 60  # the service's duration
    assert shown["status"] == "requested"


def test_audit_create_event_names_the_record(api, clinic, admin_id):
    patient = clinic.patient
    events = {e["action"]: e for e in api.audit("Patient", patient)}
    assert "create" in events
    assert events["create"]["user_id"] == admin_id


def test_audit_trail_records_who_changed_what(api, clinic, admin_id):
    patient = clinic.patient
    assert api.put("patient", patient, {"email": "an@example.com"}).status_code == 200
    events = {e["action"]: e for e in api.audit("Patient", patient)}
    assert "update" in events
    assert events["update"]["user_id"] == admin_id
    assert "email" in _fields(events["update"])
    # A refused write leaves no trace.
    assert api.put("patient", patient, {"email": "nope"}).status_code == 422
    assert len(api.audit("Patient", patient)) == len(events)
