"""Bad input is refused with a message naming the field, and nothing is written: through the REST
API (422/409/404/400 JSON) and through the generated pages (the form comes back with the error and
the typed values)."""
from __future__ import annotations

import html
from typing import Any, Callable

import pytest

from tests.factories import START, Clinic, iso_date, local_time


def field_errors(response) -> dict:
    body = response.get_json()
    assert body is not None, response.get_data(True)
    message = body.get("message")
    assert isinstance(message, dict), body
    return message


def assert_refused(response, field: str, statuses=(422,)) -> None:
    assert response.status_code in statuses, (response.status_code, response.get_json())
    errors = field_errors(response)
    assert field in errors, errors
    assert errors[field] and all(isinstance(m, str) and m for m in errors[field])


# --- one bad value per case: (resource, valid body, bad values, field named) ------------------

def _patient(c: Clinic) -> dict:
    return {"full_name": "Nguyễn Văn Bình", "phone": "0912 345 678"}


def _appointment(c: Clinic) -> dict:
    return {"patient": c.patient, "doctor": c.doctor, "service": c.service, "start_at": START}


BAD_INPUT: dict[str, tuple[str, Callable[[Clinic], dict], dict, str]] = {
    "invalid email": ("patient", _patient, {"email": "binh@@example"}, "email"),
    "email without domain": ("patient", _patient, {"email": "binh"}, "email"),
    "invalid phone": ("patient", _patient, {"phone": "12345"}, "phone"),
    "phone in words": ("patient", _patient, {"phone": "không có"}, "phone"),
    "invalid emergency phone": ("patient", _patient, {"emergency_contact_phone": "0000"}, "emergency_contact_phone"),
    "birth date in the future": ("patient", _patient, {"date_of_birth": iso_date(1)}, "date_of_birth"),
    "malformed national ID": ("patient", _patient, {"national_id": "12-34"}, "national_id"),
    "blank name": ("patient", _patient, {"full_name": "   "}, "full_name"),
    "unknown sex": ("patient", _patient, {"sex": "unknown"}, "sex"),
    "negative service price": (
        "service", lambda c: {"code": "KX", "name": "Khám", "duration_minutes": 15}, {"price": -1}, "price"),
    "service duration too long": (
        "service", lambda c: {"code": "KX", "name": "Khám"}, {"duration_minutes": 600}, "duration_minutes"),
    "negative medicine price": (
        "medicine", lambda c: {"code": "M1", "name": "Thuốc ho", "unit": "chai"}, {"price": -0.01}, "price"),
    "negative batch quantity": (
        "stock_batch", lambda c: {"medicine": c.medicine, "lot_number": "L1", "expiry_date": "2028-01-01"},
        {"quantity": -5}, "quantity"),
    "negative doctor fee": ("doctor", lambda c: {"full_name": "BS. Hòa"}, {"consultation_fee": -1}, "consultation_fee"),
    # An appointment lasts as long as its service: its end is not taken from the client at all.
    "appointment end is not accepted": (
        "appointment", _appointment, {"end_at": local_time("08:30")}, "end_at"),
    "work schedule end before start": (
        "work_schedule", lambda c: {"doctor": c.doctor, "weekday": 1, "valid_from": "2026-01-01"},
        {"start_time": "12:00:00", "end_time": "08:00:00"}, "end_time"),
    "leave ending before it starts": (
        "schedule_exception", lambda c: {"doctor": c.doctor, "kind": "leave"},
        {"start_date": iso_date(10), "end_date": iso_date(9)}, "end_date"),
    "naive start time": ("appointment", _appointment, {"start_at": START[:19]}, "start_at"),
    "malformed start time": ("appointment", _appointment, {"start_at": "mai lúc 9 giờ"}, "start_at"),
    "ICD-10 code too short": (
        "diagnosis", lambda c: {"encounter": c.encounter, "text": "Viêm họng"}, {"icd10_code": "J6"}, "icd10_code"),
    "ICD-10 code digits first": (
        "diagnosis", lambda c: {"encounter": c.encounter, "text": "Viêm họng"}, {"icd10_code": "06.9J"},
        "icd10_code"),
    "vital sign out of range": (
        "encounter", lambda c: {"patient": c.patient, "doctor": c.doctor}, {"spo2": 120}, "spo2"),
    "unknown patient": ("appointment", _appointment, {"patient": 999999}, "patient"),
    "unknown service": ("appointment", _appointment, {"service": 999999}, "service"),
    "patient id not a number": ("appointment", _appointment, {"patient": "BN000001"}, "patient"),
    "unknown department": (
        "service", lambda c: {"code": "KX", "name": "Khám", "duration_minutes": 15}, {"department": 424242},
        "department"),
    "unknown user": (
        "notification", lambda c: {"kind": "info", "title": "Thông báo"}, {"user": 999999}, "user"),
    "client sets a derived field": ("appointment", _appointment, {"queue_number": 5}, "queue_number"),
    # Numbers the column cannot hold (were 500s: SQLite OverflowError, PostgreSQL out of range).
    "related id beyond any key": ("appointment", _appointment, {"patient": 10**20}, "patient"),
    "integer beyond 32 bits": ("lab_order", lambda c: {"patient": c.patient, "test_code": "X", "test_name": "Y"},
                               {"doctor": 2**31}, "doctor"),
    "price beyond NUMERIC(14,2)": (
        "medicine", lambda c: {"code": "M1", "name": "Thuốc", "unit": "viên"}, {"price": 10**12}, "price"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_refused(case, api, clinic):
    resource, valid, bad, field = BAD_INPUT[case]
    body = valid(clinic) | bad
    before, audit_before = api.count(resource), api.count("audit_event")
    response = api.post(resource, body)
    assert_refused(response, field, statuses=(400, 422))
    assert api.count(resource) == before
    assert api.count("audit_event") == audit_before


@pytest.mark.parametrize("case", ["invalid email", "invalid phone", "birth date in the future", "blank name"])
def test_bad_update_is_refused(case, api, clinic):
    _, _, bad, field = BAD_INPUT[case]
    patient = clinic.patient
    before = api.show("patient", patient)
    assert_refused(api.put("patient", patient, bad), field)
    after = api.show("patient", patient)
    assert after == before


def test_unknown_relation_on_update(api, clinic):
    appointment = clinic.appointment
    assert_refused(api.put("appointment", appointment, {"doctor": 999999}), "doctor")
    assert api.show("appointment", appointment)["doctor_id"] == clinic.doctor


def test_unknown_relation_creates_nothing(api, clinic):
    """An unknown id never makes a new related record on the way (``department: 424242``)."""
    departments = api.count("department")
    assert_refused(api.post("doctor", {"full_name": "BS. Hòa", "department": 424242}), "department")
    assert_refused(api.post("doctor", {"full_name": "BS. Hòa", "department": {"id": 424242}}), "department")
    assert api.count("department") == departments
    assert api.count("doctor") == 0


# --- uniqueness: the friendly pre-check and the database constraint behind it ----------------

DUPLICATES: dict[str, tuple[str, Callable[[Clinic], dict], dict, dict, str]] = {
    "national ID": ("patient", _patient, {"national_id": "079190000123"}, {"national_id": " 079190000123 "},
                    "national_id"),
    "patient code": ("patient", _patient, {"code": "BN-VIP-01"}, {"code": "bn-vip-01"}, "code"),
    "service code": ("service", lambda c: {"name": "Khám", "duration_minutes": 15}, {"code": "KB01"},
                     {"code": "kb01"}, "code"),
    "medicine code": ("medicine", lambda c: {"name": "Thuốc", "unit": "viên"}, {"code": "PARA"}, {"code": "para"},
                      "code"),
    "department name": ("department", lambda c: {}, {"code": "A", "name": "Khoa Nhi"},
                        {"code": "B", "name": "Khoa Nhi"}, "name"),
    # No pre-check: the unique constraint answers, naming the column.
    "batch lot number": ("stock_batch", lambda c: {"medicine": c.medicine, "expiry_date": "2028-01-01",
                                                    "quantity": 10},
                         {"lot_number": "LÔ-1"}, {"lot_number": "LÔ-1"}, "lot_number"),
}


@pytest.mark.parametrize("case", sorted(DUPLICATES))
def test_duplicates_are_refused(case, api, clinic):
    resource, base, first, second, field = DUPLICATES[case]
    api.create(resource, base(clinic) | first)
    before, movements = api.count(resource), api.count("stock_movement")
    response = api.post(resource, base(clinic) | second)
    assert_refused(response, field, statuses=(409, 422))
    assert api.count(resource) == before
    assert api.count("stock_movement") == movements


def test_duplicate_on_update(api, clinic):
    api.create("patient", _patient(clinic) | {"national_id": "079190000123"})
    other = api.create("patient", {"full_name": "Lê Văn Cường"})
    assert_refused(api.put("patient", other, {"national_id": "079190000123"}), "national_id", statuses=(409, 422))
    assert api.show("patient", other)["national_id"] is None


# --- unknown records, unknown routes, bodies that are not JSON --------------------------------

@pytest.mark.parametrize("method", ["get", "put", "delete"])
@pytest.mark.parametrize("pk", [999999, 2**31, 10**20, "abc", -1, 0])
def test_unknown_id_is_404(method, pk, api, clinic):
    clinic.patient  # noqa: B018 - one patient exists
    kwargs = {"json": {"full_name": "Ai đó"}} if method == "put" else {}
    response = api._send(method, api.url("patient", pk), **kwargs)
    # FAB's GET route takes <int:pk>: "abc" or -1 match only the PUT/DELETE routes (405).
    allowed = (404,) if isinstance(pk, int) and pk > 0 or method != "get" else (404, 405)
    assert response.status_code in allowed, response.get_data(True)
    assert api.count("patient") == 1


@pytest.mark.parametrize("resource,flt", [
    ("work_schedule", {"col": "weekday", "opr": "eq", "value": "abc"}),
    ("work_schedule", {"col": "weekday", "opr": "gt", "value": 10**20}),
    ("appointment", {"col": "patient", "opr": "rel_o_m", "value": "abc"}),
    ("appointment", {"col": "patient", "opr": "rel_o_m", "value": 10**20}),
    ("appointment", {"col": "start_at", "opr": "gt", "value": "ngày mai"}),
    ("invoice", {"col": "total", "opr": "gt", "value": "abc"}),
    ("patient", {"col": "full_name", "opr": "ct", "value": "a\x00b"}),
    ("patient", {"col": "date_of_birth", "opr": "gt", "value": "abc"}),
])
def test_bad_filter_value_is_not_a_500(resource, flt, api, clinic):
    clinic.appointment  # noqa: B018 - some rows to filter
    response = api.get(resource, query={"filters": [flt]})
    assert response.status_code in (200, 400), response.get_data(True)
    if response.status_code == 200:
        assert response.get_json()["count"] >= 0


@pytest.mark.parametrize("body", [
    {"data": "full_name=Nguyễn Văn An", "content_type": "application/x-www-form-urlencoded"},
    {"data": "Nguyễn Văn An", "content_type": "text/plain"},
    {"data": '{"full_name": "Nguyễn', "content_type": "application/json"},
])
def test_non_json_body_is_400(body, api, clinic):
    patient = clinic.patient
    before = api.count("patient")
    assert api.post("patient", **body).status_code == 400
    assert api.put("patient", patient, **body).status_code == 400
    assert api.count("patient") == before
    assert api.show("patient", patient)["full_name"] == "Nguyễn Văn An"


@pytest.mark.parametrize("payload", [[{"full_name": "Nguyễn Văn An"}], "Nguyễn Văn An", 42, None])
def test_json_that_is_not_an_object(payload, api):
    response = api.post("patient", data=__import__("json").dumps(payload), content_type="application/json")
    assert response.status_code in (400, 422), response.get_data(True)
    assert api.count("patient") == 0


def test_unknown_field_is_refused(api):
    response = api.post("patient", {"full_name": "Nguyễn Văn An", "favourite_colour": "xanh"})
    assert_refused(response, "favourite_colour", statuses=(400, 422))
    assert api.count("patient") == 0


# --- deleting what others still use ---------------------------------------------------------

def test_deleting_a_patient_with_appointments_is_409(api, clinic):
    appointment = clinic.appointment
    response = api.delete("patient", clinic.patient)
    assert response.status_code == 409
    message = response.get_json()["message"]
    assert isinstance(message, str) and "cannot be deleted" in message
    assert api.show("patient", clinic.patient)["id"] == clinic.patient
    assert api.show("appointment", appointment)["patient_id"] == clinic.patient


# --- the same rules through the pages --------------------------------------------------------

def _patients(db) -> int:
    from app.models import Patient

    return db.session.query(Patient).count()


def _input_value(page: str, name: str) -> str | None:
    """The value attribute of the <input name=...> on the page, unescaped."""
    import re

    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page)
    if not match:
        return None
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


FORM = {"full_name": "Nguyễn Thị Lan", "phone": "0912 345 678", "email": "lan@example.com",
        "address": "15 Nguyễn Trãi, Thanh Xuân, Hà Nội", "national_id": "", "date_of_birth": "1985-03-02"}

PAGE_CASES: dict[str, tuple[dict, str, str]] = {
    "invalid email": ({"email": "lan@@example"}, "email", "Enter a valid email address."),
    "invalid phone": ({"phone": "12345"}, "phone", "Enter a valid phone number."),
    "birth date in the future": (
        {"date_of_birth": iso_date(30)}, "date_of_birth", "This date cannot be in the future."),
    "malformed national ID": ({"national_id": "12-34"}, "national_id", "A national ID is 9 or 12 digits"),
}


def _post_form(browser, url: str, data: dict[str, Any]):
    response = browser.post(url, data=data)
    assert response.status_code < 500, response.get_data(True)
    return response


@pytest.mark.parametrize("case", sorted(PAGE_CASES))
def test_page_shows_the_error_and_keeps_the_values(case, login_as, db):
    bad, field, message = PAGE_CASES[case]
    browser = login_as("receptionist")
    data = FORM | bad
    before = _patients(db)
    response = _post_form(browser, "/patientview/add", data)
    assert response.status_code == 200  # the form again, not a redirect
    page = response.get_data(True)
    assert message in html.unescape(page)
    for name in ("full_name", "phone", "email", "address", field):
        assert _input_value(page, name) == data[name], name
    assert _patients(db) == before


def test_page_duplicate_national_id(login_as, db, api):
    api.create("patient", {"full_name": "Trần Văn Hải", "national_id": "079190000123"})
    browser = login_as("receptionist")
    data = FORM | {"national_id": "079190000123"}
    response = _post_form(browser, "/patientview/add", data)
    page = html.unescape(response.get_data(True))
    assert response.status_code == 200
    assert "Another patient already has this national ID." in page
    assert _input_value(response.get_data(True), "full_name") == "Nguyễn Thị Lan"
    assert _patients(db) == 1


def test_page_valid_form_saves(login_as, db):
    browser = login_as("receptionist")
    response = _post_form(browser, "/patientview/add", FORM)
    assert response.status_code == 302
    from app.models import Patient

    patient = db.session.query(Patient).one()
    assert (patient.full_name, patient.phone, patient.address) == (
        "Nguyễn Thị Lan", "+84912345678", "15 Nguyễn Trãi, Thanh Xuân, Hà Nội")
    assert patient.code.startswith("BN")


def test_page_edit_shows_the_error(login_as, db, api, clinic):
    patient = clinic.patient
    browser = login_as("receptionist")
    data = FORM | {"email": "lan@@example"}
    response = _post_form(browser, f"/patientview/edit/{patient}", data)
    assert response.status_code == 200
    page = response.get_data(True)
    assert "Enter a valid email address." in html.unescape(page)
    assert _input_value(page, "email") == "lan@@example"
    assert api.show("patient", patient)["full_name"] == "Nguyễn Văn An"


def test_page_delete_of_a_used_patient_flashes(login_as, api, clinic):
    patient, appointment = clinic.patient, clinic.appointment
    browser = login_as("receptionist")
    response = browser.post(f"/patientview/delete/{patient}")
    assert response.status_code == 302, response.status_code
    page = browser.get(response.headers["Location"])
    assert page.status_code == 200
    assert "cannot be deleted" in html.unescape(page.get_data(True))
    assert api.show("patient", patient)["id"] == patient
    assert api.show("appointment", appointment)["patient_id"] == patient
