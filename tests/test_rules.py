"""Rules that hold whichever way a write comes in: who made a record, declared defaults, invoice
status changes, recurring-series rules, and characters that are never data."""
from __future__ import annotations

import pytest

from app.models import StockMovement
from tests.factories import START


def test_records_are_stamped_with_the_acting_user(api, clinic, admin_id, db):
    assert api.show("appointment", clinic.appointment)["created_by_id"] == admin_id
    batch = api.create("stock_batch", {"medicine": clinic.medicine, "lot_number": "L1",
                                       "expiry_date": "2030-01-01", "quantity": 10})
    movement = db.session.query(StockMovement).filter_by(batch_id=batch).one()
    assert movement.actor_id == admin_id and movement.quantity == 10


def test_declared_defaults_apply_before_the_rules(api, clinic):
    service = api.create("service", {"code": "TV", "name": "Tư vấn", "price": 0})
    assert api.show("service", service)["duration_minutes"] == 15


@pytest.mark.parametrize("rule, accepted", [
    ("FREQ=WEEKLY;INTERVAL=2;COUNT=6", True),
    ("RRULE:FREQ=DAILY;UNTIL=20270101T000000Z", True),
    ("FREQ=WEEKLY", False),  # no end: a course has a last visit
    ("FREQ=WEEKLY;COUNT=500", False),
    ("every tuesday", False),
])
def test_series_rules(api, clinic, rule, accepted):
    response = api.post("appointment_series", {"patient": clinic.patient, "doctor": clinic.doctor,
                                                "service": clinic.service, "rule": rule})
    if accepted:
        assert response.status_code == 201, response.get_json()
        assert not api.show("appointment_series", response.get_json()["id"])["rule"].startswith("RRULE:")
    else:
        assert response.status_code == 422 and "rule" in response.get_json()["message"]


@pytest.mark.parametrize("body", [
    {"full_name": "Nguyễn\x00Văn An"},
    {"full_name": "Nguyễn Văn An", "address": "12 Lê Lợi\x00"},
])
def test_nul_bytes_are_refused_in_json(api, body):
    before = api.count("patient")
    response = api.post("patient", body)
    assert response.status_code == 400
    assert api.count("patient") == before


def test_nul_bytes_are_refused_in_searches_and_forms(login_as):
    browser = login_as("receptionist")
    assert browser.get("/patientview/list/?_flt_0_search_text=an%00").status_code == 400
    response = browser.post("/patientview/add", data={"full_name": "Trần\x00 Bình"})
    assert response.status_code == 400
    assert "not allowed" in response.get_data(as_text=True)


def test_the_service_layer_refuses_nul_bytes_too(app, db):
    """Jobs and commands do not pass through the HTTP guard: the rules refuse NUL themselves."""
    from app.models import Patient
    from app.services import rules
    from app.services.errors import ValidationFailed
    from app.services.settings import ClinicSettings

    with pytest.raises(ValidationFailed) as refused:
        rules.validate(db.session, Patient(full_name="A\x00B"), ClinicSettings.from_config(app.config))
    assert refused.value.field == "full_name"


@pytest.mark.parametrize("path", ["/patientview/show/100000000000000000000", "/patientview/edit/99999999999"])
def test_impossible_ids_are_not_found_on_pages(login_as, path):
    assert login_as("admin").get(path).status_code == 404


def test_appointment_times_are_shown_in_the_clinic_zone(api, clinic, login_as):
    api.show("appointment", clinic.appointment)
    page = login_as("receptionist").get("/appointmentview/list/").get_data(as_text=True)
    assert START[:10] + " 09:00" in page  # typed as 09:00 at UTC+7, stored as 02:00 UTC
