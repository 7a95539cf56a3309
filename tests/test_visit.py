"""The doctor's visit (issue 9): My day, starting a visit, the draft (physical limits, every broken
field at once, two tabs), vitals flags and BMI, signing, amendments that keep the original,
discarding, the follow-up booking, and the rules every generic screen and REST resource obeys:
clinical records are never deleted and a signed record is read-only."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from tests.factories import token_headers
from tests.test_i18n import VI


@dataclass
class Visit:
    doctor: int  # the Doctor of the login "doctor"
    appointment: int  # today 09:00, checked in
    patient: int


def _link_doctor(app, db, username: str, name: str) -> int:
    from app.models import Doctor, WorkSchedule

    user = app.appbuilder.sm.find_user(username=username)
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none()
    if doctor is None:
        doctor = Doctor(full_name=name, user_id=user.id)
        db.session.add(doctor)
        db.session.flush()
        for weekday in range(7):
            db.session.add(WorkSchedule(doctor_id=doctor.id, weekday=weekday, start_time=time(7),
                                        end_time=time(19), valid_from=date(2020, 1, 1)))
        db.session.commit()
    return doctor.id


@pytest.fixture
def visit(app, db, clinic) -> Visit:
    from app.models import Appointment, Doctor, Patient, Service

    doctor = _link_doctor(app, db, "doctor", "Lê Văn Bác Sĩ")
    service = db.session.get(Service, clinic.service)
    service.doctors.append(db.session.get(Doctor, doctor))
    patient = db.session.get(Patient, clinic.patient)
    patient.allergies = "Penicillin"
    patient.chronic_conditions = "Tăng huyết áp"
    patient.date_of_birth = date(1980, 5, 17)
    start = _earlier_today(app)
    appointment = Appointment(patient_id=clinic.patient, doctor_id=doctor, service_id=clinic.service,
                              start_at=start, end_at=start + timedelta(minutes=20), status="checked_in",
                              queue_number=1, queue_date=start.date(),
                              checked_in_at=datetime.now(timezone.utc) - timedelta(minutes=12))
    db.session.add(appointment)
    db.session.commit()
    return Visit(doctor, appointment.id, clinic.patient)


def _earlier_today(app) -> datetime:
    """An instant of the clinic's today, already past (My day lists today's patients)."""
    now = datetime.now(_settings(app).timezone)
    midnight = datetime.combine(now.date(), time.min, now.tzinfo)
    return (midnight + (now - midnight) / 2).replace(microsecond=0)


def _user(app, username: str = "doctor"):
    return app.appbuilder.sm.find_user(username=username)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _settings(app):
    from app.services.settings import ClinicSettings

    return ClinicSettings.from_config(app.config)


def _start(app, db, visit: Visit):
    from app.services import encounters

    with app.test_request_context():
        return encounters.start_visit(db.session, visit.appointment, _user(app), _now(), settings=_settings(app)).id


def _diagnose(db, encounter_id: int) -> None:
    from app.models import Diagnosis

    db.session.add(Diagnosis(encounter_id=encounter_id, icd10_code="J06.9", text="Nhiễm trùng hô hấp trên cấp",
                             is_primary=True))
    db.session.commit()


def _call(app, func, *args, **kwargs):
    """A service call inside a request (the audit trail's actor), as a page or the API makes it."""
    with app.test_request_context():
        return func(*args, **kwargs)


# --- starting and finishing ----------------------------------------------------------------------

def test_start_visit_moves_the_appointment_and_opens_one_draft(app, db, visit):
    from app.models import Appointment, AppointmentEvent, Encounter

    first = _start(app, db, visit)
    db.session.expire_all()
    appointment = db.session.get(Appointment, visit.appointment)
    assert appointment.status == "in_consultation"
    events = db.session.query(AppointmentEvent).filter_by(appointment_id=visit.appointment).all()
    assert [(e.from_status, e.to_status) for e in events] == [("checked_in", "in_consultation")]
    encounter = db.session.get(Encounter, first)
    assert encounter.signed_at is None and encounter.patient_id == visit.patient
    assert _start(app, db, visit) == first  # resuming opens the same draft
    assert db.session.query(Encounter).count() == 1


def test_only_the_appointments_doctor_starts_it_and_only_when_checked_in(app, db, visit):
    from app.models import Appointment
    from app.services import encounters
    from app.services.errors import Conflict, Forbidden

    with pytest.raises(Forbidden):
        _call(app, encounters.start_visit, db.session, visit.appointment, _user(app, "admin"), _now(),
              settings=_settings(app))
    db.session.get(Appointment, visit.appointment).status = "confirmed"
    db.session.commit()
    with pytest.raises(Conflict):
        _start(app, db, visit)
    assert db.session.get(Appointment, visit.appointment).status == "confirmed"


def test_finish_visit_completes_the_appointment(app, db, visit):
    from app.models import Appointment
    from app.services import encounters

    _start(app, db, visit)
    _call(app, encounters.finish_visit, db.session, visit.appointment, _user(app), _now(), settings=_settings(app))
    db.session.expire_all()
    assert db.session.get(Appointment, visit.appointment).status == "completed"


# --- the draft ------------------------------------------------------------------------------------

def test_values_outside_physical_limits_are_refused_all_at_once_and_nothing_is_written(app, db, visit):
    from app.models import Encounter
    from app.services import encounters
    from app.services.errors import ValidationFailed

    encounter_id = _start(app, db, visit)
    with pytest.raises(ValidationFailed) as refused:
        _call(app, encounters.save_draft, db.session, encounter_id,
              {"chief_complaint": "Sốt", "temperature_c": Decimal(60), "spo2": 120, "systolic_bp": 80,
               "diastolic_bp": 95, "pulse": 72, "weight_kg": 0}, 1, _user(app), _now())
    errors = refused.value.as_dict()["message"]
    assert set(errors) == {"temperature_c", "spo2", "diastolic_bp", "weight_kg"}
    assert "25" in errors["temperature_c"][0] and "45" in errors["temperature_c"][0]
    db.session.expire_all()
    encounter = db.session.get(Encounter, encounter_id)
    assert encounter.chief_complaint is None and encounter.pulse is None and encounter.version == 1


def test_a_save_from_an_older_version_is_refused_not_lost(app, db, visit):
    from app.models import Encounter
    from app.services import encounters
    from app.services.errors import Conflict

    encounter_id = _start(app, db, visit)
    saved = _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "Ho 3 ngày"}, 1,
                  _user(app), _now())
    assert saved.version == 2
    with pytest.raises(Conflict) as refused:  # the other tab still shows version 1
        _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "Sốt"}, 1, _user(app),
              _now())
    assert "another tab" in refused.value.message
    db.session.expire_all()
    assert db.session.get(Encounter, encounter_id).chief_complaint == "Ho 3 ngày"


def test_vital_flags_and_bmi(app, db, visit):
    from app.models import Encounter
    from app.services import encounters

    encounter_id = _start(app, db, visit)
    _call(app, encounters.save_draft, db.session, encounter_id,
          {"temperature_c": Decimal("37.8"), "pulse": 110, "spo2": 92, "systolic_bp": 120, "diastolic_bp": 80,
           "height_cm": Decimal("170"), "weight_kg": Decimal("80")}, 1, _user(app), _now())
    encounter = db.session.get(Encounter, encounter_id)
    assert encounters.bmi(encounter.height_cm, encounter.weight_kg) == Decimal("27.7")
    assert encounters.vital_flags(encounter) == {"temperature_c": "high", "pulse": "high", "spo2": "low",
                                                 "bmi": "high"}


# --- signing, amendments, discarding --------------------------------------------------------------

def test_signing_needs_a_complaint_and_a_diagnosis_then_the_record_is_read_only(app, db, visit, monkeypatch):
    from app.models import AuditEvent, Encounter
    from app.services import encounters, prescribing
    from app.services.errors import Conflict, ValidationFailed

    issued = []
    monkeypatch.setattr(prescribing, "issue_for_encounter",
                        lambda session, encounter, actor_id, now: issued.append((encounter.id, actor_id)))
    encounter_id = _start(app, db, visit)
    with pytest.raises(ValidationFailed) as refused:
        _call(app, encounters.sign_encounter, db.session, encounter_id, _user(app), _now())
    assert set(refused.value.as_dict()["message"]) == {"chief_complaint", "diagnoses"}
    _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "Sốt"}, 1, _user(app), _now())
    _diagnose(db, encounter_id)
    _call(app, encounters.sign_encounter, db.session, encounter_id, _user(app), _now())
    db.session.expire_all()
    encounter = db.session.get(Encounter, encounter_id)
    assert encounter.signed_at is not None and encounter.signed_by_id == _user(app).id
    assert issued == [(encounter_id, _user(app).id)]
    assert db.session.query(AuditEvent).filter_by(action="encounter_signed", entity_id=str(encounter_id)).count() == 1
    with pytest.raises(Conflict):
        _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "x"}, encounter.version,
              _user(app), _now())


def _break_glass(app, db, username: str, patient: int) -> None:
    from app.services import access

    _call(app, access.break_glass, db.session, _user(app, username), patient, "Test: reads this patient's record",
          _now(), 60)


def test_only_the_author_signs(app, db, visit):
    from app.services import encounters
    from app.services.errors import Forbidden

    encounter_id = _start(app, db, visit)
    _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "Sốt"}, 1, _user(app), _now())
    _diagnose(db, encounter_id)
    _break_glass(app, db, "admin", visit.patient)
    with pytest.raises(Forbidden):
        _call(app, encounters.sign_encounter, db.session, encounter_id, _user(app, "admin"), _now())


def _signed(app, db, visit) -> int:
    from app.services import encounters

    encounter_id = _start(app, db, visit)
    _call(app, encounters.save_draft, db.session, encounter_id,
          {"chief_complaint": "Sốt cao", "treatment_plan": "Paracetamol 500 mg"}, 1, _user(app), _now())
    _diagnose(db, encounter_id)
    _call(app, encounters.sign_encounter, db.session, encounter_id, _user(app), _now())
    return encounter_id


def test_an_amendment_keeps_the_original_text(app, db, visit):
    from app.models import Encounter, EncounterAmendment
    from app.services import encounters
    from app.services.errors import ValidationFailed

    encounter_id = _signed(app, db, visit)
    with pytest.raises(ValidationFailed) as refused:
        _call(app, encounters.amend_encounter, db.session, encounter_id, "treatment_plan", "", " ", _user(app),
              _now())
    assert set(refused.value.as_dict()["message"]) == {"new_text", "reason"}
    _call(app, encounters.amend_encounter, db.session, encounter_id, "treatment_plan", "Paracetamol 325 mg",
          "Nhầm liều khi ghi", _user(app), _now())
    db.session.expire_all()
    amendment = db.session.query(EncounterAmendment).one()
    assert (amendment.original_text, amendment.new_text, amendment.reason) == \
        ("Paracetamol 500 mg", "Paracetamol 325 mg", "Nhầm liều khi ghi")
    assert amendment.author_id == _user(app).id and amendment.amended_at is not None
    assert db.session.get(Encounter, encounter_id).treatment_plan == "Paracetamol 325 mg"


def test_a_draft_is_not_amended_and_only_the_author_amends(app, db, visit):
    from app.services import encounters
    from app.services.errors import Conflict, Forbidden

    encounter_id = _start(app, db, visit)
    with pytest.raises(Conflict):
        _call(app, encounters.amend_encounter, db.session, encounter_id, "history", "x", "because", _user(app),
              _now())
    db.session.rollback()
    signed = _signed(app, db, visit)
    _break_glass(app, db, "admin", visit.patient)
    with pytest.raises(Forbidden):
        _call(app, encounters.amend_encounter, db.session, signed, "history", "x", "because", _user(app, "admin"),
              _now())


def test_discarding_keeps_the_row_read_only_and_off_my_day(app, db, visit):
    from app.models import AuditEvent, Encounter
    from app.services import encounters
    from app.services.errors import Conflict

    encounter_id = _start(app, db, visit)
    _call(app, encounters.discard_draft, db.session, encounter_id, _user(app), _now())
    db.session.expire_all()
    encounter = db.session.get(Encounter, encounter_id)
    assert encounter.discarded_at is not None and encounter.discarded_by_id == _user(app).id
    assert db.session.query(AuditEvent).filter_by(action="encounter_discarded").count() == 1
    with pytest.raises(Conflict):
        _call(app, encounters.save_draft, db.session, encounter_id, {"history": "x"}, None, _user(app), _now())
    day = encounters.my_day(db.session, _user(app), _now(), settings=_settings(app))
    assert [row.encounter for row in day.in_consultation] == [None]  # the visit can be started again
    assert _start(app, db, visit) != encounter_id


def test_book_follow_up_through_the_booking_service(app, db, visit):
    from app.models import Appointment
    from app.services import encounters
    from app.services.errors import Conflict, ValidationFailed

    encounter_id = _start(app, db, visit)
    with pytest.raises(ValidationFailed):
        _call(app, encounters.book_follow_up, db.session, encounter_id, _user(app), _now(), settings=_settings(app))
    db.session.rollback()
    day = _settings(app).today() + timedelta(days=7)
    _call(app, encounters.save_draft, db.session, encounter_id, {"follow_up_date": day}, 1, _user(app), _now())
    booked = _call(app, encounters.book_follow_up, db.session, encounter_id, _user(app), _now(),
                   settings=_settings(app))
    appointment = db.session.get(Appointment, booked.id)
    assert appointment.doctor_id == visit.doctor and appointment.patient_id == visit.patient
    assert appointment.start_at.astimezone(_settings(app).timezone).date() == day
    with pytest.raises(Conflict):  # not twice
        _call(app, encounters.book_follow_up, db.session, encounter_id, _user(app), _now(), settings=_settings(app))


# --- generic screens and REST resources -----------------------------------------------------------

@pytest.mark.parametrize("resource,model", [("encounter", "Encounter"), ("diagnosis", "Diagnosis")])
def test_no_hard_delete_through_the_api(app, db, visit, resource, model):
    import app.models as m

    encounter_id = _start(app, db, visit)
    _diagnose(db, encounter_id)
    pk = encounter_id if model == "Encounter" else db.session.query(m.Diagnosis).one().id
    response = app.test_client().delete(f"/api/v1/{resource}/{pk}", headers=token_headers(app, "doctor"))
    assert response.status_code == 409, response.get_json()
    assert "never deleted" in response.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(getattr(m, model), pk) is not None


def test_no_hard_delete_through_the_screens(app, db, visit, login_as):
    from app.models import Encounter

    encounter_id = _start(app, db, visit)
    browser = login_as("doctor")
    page = browser.post(f"/encounterview/delete/{encounter_id}", follow_redirects=True)
    assert "never deleted" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Encounter, encounter_id) is not None


def test_a_signed_record_is_read_only_through_the_api_and_screens(app, db, visit, login_as):
    from app.models import Diagnosis, Encounter

    encounter_id = _signed(app, db, visit)
    headers = token_headers(app, "doctor")
    client = app.test_client()
    edit = client.put(f"/api/v1/encounter/{encounter_id}", json={"chief_complaint": "đổi"}, headers=headers)
    assert edit.status_code == 409 and "signed" in edit.get_json()["message"]
    diagnosis = db.session.query(Diagnosis).one().id
    assert client.put(f"/api/v1/diagnosis/{diagnosis}", json={"text": "đổi"}, headers=headers).status_code == 409
    added = client.post("/api/v1/diagnosis/", json={"encounter": encounter_id, "icd10_code": "J02.9",
                                                     "text": "Viêm họng"}, headers=headers)
    assert added.status_code == 409
    page = login_as("doctor").post(f"/diagnosisview/edit/{diagnosis}",
                                   data={"encounter": encounter_id, "icd10_code": "J02.9", "text": "đổi"},
                                   follow_redirects=True)
    assert "signed" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Encounter, encounter_id).chief_complaint == "Sốt cao"
    assert [d.text for d in db.session.query(Diagnosis)] == ["Nhiễm trùng hô hấp trên cấp"]


def test_only_the_author_edits_a_draft_through_the_api(app, db, visit, clinic):
    from app.models import Encounter

    encounter_id = _start(app, db, visit)
    clinic.break_glass("admin", visit.patient)
    response = app.test_client().put(f"/api/v1/encounter/{encounter_id}", json={"history": "x"},
                                     headers=token_headers(app, "admin"))
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Encounter, encounter_id).history is None


# --- the REST API of the visit --------------------------------------------------------------------

def test_api_draft_sign_amend_discard(app, db, visit):
    encounter_id = _start(app, db, visit)
    client, headers = app.test_client(), token_headers(app, "doctor")
    base = f"/api/v1/encounters/{encounter_id}"
    bad = client.post(f"{base}/draft", json={"version": 1, "temperature_c": 60, "spo2": 120, "pulse": "abc",
                                             "follow_up_date": "31/02/2026"}, headers=headers)
    assert bad.status_code == 422
    assert set(bad.get_json()["message"]) == {"temperature_c", "spo2", "pulse", "follow_up_date"}
    saved = client.post(f"{base}/draft", json={"version": 1, "chief_complaint": "Sốt", "temperature_c": 37.8,
                                               "height_cm": 170, "weight_kg": 80}, headers=headers)
    assert saved.status_code == 200, saved.get_json()
    result = saved.get_json()["result"]
    assert result["version"] == 2 and result["bmi"] == 27.7 and result["flags"]["temperature_c"] == "high"
    stale = client.post(f"{base}/draft", json={"version": 1, "history": "x"}, headers=headers)
    assert stale.status_code == 409 and "another tab" in stale.get_json()["message"]
    refused = client.post(f"{base}/sign", json={}, headers=headers)
    assert refused.status_code == 422 and "diagnoses" in refused.get_json()["message"]
    _diagnose(db, encounter_id)
    signed = client.post(f"{base}/sign", json={"version": 2}, headers=headers)
    assert signed.status_code == 200 and signed.get_json()["result"]["status"] == "signed"
    amended = client.post(f"{base}/amend", json={"field": "chief_complaint", "new_text": "Sốt cao",
                                                 "reason": "Ghi thiếu"}, headers=headers)
    assert amended.status_code == 201 and amended.get_json()["result"]["original_text"] == "Sốt"
    listed = client.get(f"{base}/amendments", headers=headers).get_json()["result"]
    assert [(a["original_text"], a["new_text"]) for a in listed] == [("Sốt", "Sốt cao")]
    assert client.post(f"{base}/discard", json={}, headers=headers).status_code == 409


# --- the pages ------------------------------------------------------------------------------------

def test_my_day_start_visit_and_the_workspace(app, db, visit, login_as):
    browser = login_as("doctor")
    page = browser.get("/my-day/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Nguyễn Văn An" in html and "Start visit" in html and "12 minutes" in html
    started = browser.post(f"/my-day/start/{visit.appointment}")
    assert started.status_code == 302 and "/visit/" in started.headers["Location"]
    workspace = browser.get(started.headers["Location"]).get_data(as_text=True)
    for shown in ("Nguyễn Văn An", "Penicillin", "Tăng huyết áp", "Chief complaint", "Sign", "visit.js"):
        assert shown in workspace, shown


def test_the_page_form_takes_a_decimal_comma_and_dd_mm_yyyy_in_vietnamese(app, db, visit, login_as):
    from app.models import Encounter

    encounter_id = _start(app, db, visit)
    browser = login_as("doctor")
    day = _settings(app).today() + timedelta(days=10)
    response = browser.post(f"/visit/{encounter_id}/save", headers=VI, data={
        "version": "1", "chief_complaint": "Sốt", "temperature_c": "37,8", "weight_kg": "62,5",
        "follow_up_date": day.strftime("%d/%m/%Y")}, follow_redirects=True)
    assert response.status_code == 200
    db.session.expire_all()
    encounter = db.session.get(Encounter, encounter_id)
    assert encounter.temperature_c == Decimal("37.8") and encounter.weight_kg == Decimal("62.5")
    assert encounter.follow_up_date == day
    page = browser.get(f"/visit/{encounter_id}", headers=VI).get_data(as_text=True)
    assert 'value="37,8"' in page


def test_a_doctor_lands_on_my_day_and_the_home_tiles_count_their_own_work(app, db, visit, clinic):
    from app.models import Appointment, Patient
    from tests.factories import form_login

    start = _earlier_today(app) + timedelta(minutes=1)
    other = Patient(full_name="Phạm Thị Cúc", code="P-OTHER")  # one patient is never booked twice at once
    db.session.add(other)
    db.session.flush()
    db.session.add(Appointment(patient_id=other.id, doctor_id=clinic.doctor, service_id=clinic.service,
                               start_at=start, end_at=start + timedelta(minutes=20), status="confirmed"))
    db.session.commit()
    browser = app.test_client()
    response = form_login(app, browser, "doctor")
    assert response.headers["Location"].endswith("/my-day/")
    home = browser.get("/").get_data(as_text=True)
    assert 'data-figure="appointments_today">1<' in home  # their own, not the other doctor's
    assert 'data-figure="drafts_to_sign">0<' in home


def test_lab_orders_and_prescription_items_of_a_signed_record(app, db, visit, clinic):
    """A signed visit's lab order still moves through the lab (status, notes) but its test cannot
    change; its prescription items are read-only."""
    from app.models import LabOrder, Prescription, PrescriptionItem

    encounter_id = _start(app, db, visit)
    order = LabOrder(patient_id=visit.patient, doctor_id=visit.doctor, encounter_id=encounter_id, test_code="CBC",
                     test_name="Công thức máu")
    prescription = Prescription(patient_id=visit.patient, doctor_id=visit.doctor, encounter_id=encounter_id)
    db.session.add_all([order, prescription])
    db.session.flush()
    item = PrescriptionItem(prescription_id=prescription.id, medicine_id=clinic.medicine, dose="1 viên",
                            frequency="3 lần/ngày", quantity=9)
    db.session.add(item)
    db.session.commit()
    order_id, item_id = order.id, item.id
    from app.services import encounters

    _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "Sốt"}, 1, _user(app), _now())
    _diagnose(db, encounter_id)
    _call(app, encounters.sign_encounter, db.session, encounter_id, _user(app), _now())
    client, headers = app.test_client(), token_headers(app, "doctor")
    assert client.put(f"/api/v1/lab_order/{order_id}", json={"status": "collected"},
                      headers=headers).status_code == 200
    assert client.put(f"/api/v1/lab_order/{order_id}", json={"test_name": "Đường huyết"},
                      headers=headers).status_code == 409
    assert client.put(f"/api/v1/prescription_item/{item_id}", json={"quantity": 3},
                      headers=headers).status_code == 409
    db.session.expire_all()
    assert db.session.get(LabOrder, order_id).test_name == "Công thức máu"
    assert db.session.get(PrescriptionItem, item_id).quantity == 9


# --- the tester's walk (polishvisit) ----------------------------------------------------------------

def test_signing_completes_the_appointment_in_consultation(app, db, visit, login_as):
    """Signing the record also finishes the visit on My day (one transaction, a booking history
    event), and the page names the signer as the printout does: the doctor's title and name."""
    from app.models import Appointment, AppointmentEvent, Doctor

    doctor = db.session.get(Doctor, visit.doctor)
    doctor.title = "ThS. BS."
    db.session.commit()
    from app.services import encounters

    encounter_id = _start(app, db, visit)
    _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "Sốt"}, 1, _user(app), _now())
    _diagnose(db, encounter_id)
    browser = login_as("doctor")
    signed = browser.post(f"/visit/{encounter_id}/sign", data={"version": "2"}, follow_redirects=True)
    html = signed.get_data(as_text=True)
    assert signed.status_code == 200 and "ThS. BS. Lê Văn Bác Sĩ" in html
    assert 'id="visit-finish"' not in html  # nothing left to finish
    db.session.expire_all()
    assert db.session.get(Appointment, visit.appointment).status == "completed"
    events = db.session.query(AppointmentEvent).filter_by(appointment_id=visit.appointment).all()
    assert ("in_consultation", "completed") in [(e.from_status, e.to_status) for e in events]
    day = browser.get("/my-day/").get_data(as_text=True)
    assert 'data-status="completed"' in day and 'data-status="in_consultation"' not in day


def test_finishing_an_unsigned_draft_asks_first(app, db, visit, login_as):
    encounter_id = _start(app, db, visit)
    browser = login_as("doctor")
    page = browser.get(f"/visit/{encounter_id}", headers=VI).get_data(as_text=True)
    assert 'class="pull-right visit-finish"' in page and 'data-unsigned="true"' in page
    assert "Bệnh án chưa được ký" in page  # the question the script asks
    day = browser.get("/my-day/", headers=VI).get_data(as_text=True)
    assert 'class="my-day-finish" data-unsigned="true"' in day and "visit_my_day.js" in day


def test_signing_needs_a_primary_diagnosis(app, db, visit, login_as):
    from app.models import Diagnosis, Encounter
    from app.services import encounters
    from app.services.errors import ValidationFailed

    encounter_id = _start(app, db, visit)
    _call(app, encounters.save_draft, db.session, encounter_id, {"chief_complaint": "Sốt"}, 1, _user(app), _now())
    db.session.add(Diagnosis(encounter_id=encounter_id, icd10_code="J06.9", text="Nhiễm trùng", is_primary=False))
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        _call(app, encounters.sign_encounter, db.session, encounter_id, _user(app), _now())
    assert "primary" in " ".join(refused.value.as_dict()["message"]["diagnoses"])
    page = login_as("doctor").post(f"/visit/{encounter_id}/sign", data={"version": "2"}, headers=VI,
                                   follow_redirects=True).get_data(as_text=True)
    assert "chẩn đoán chính trước khi ký" in page
    db.session.expire_all()
    assert db.session.get(Encounter, encounter_id).signed_at is None


def test_the_header_translates_sex_and_blood_type(app, db, visit, login_as):
    from app.models import Patient

    patient = db.session.get(Patient, visit.patient)
    patient.sex, patient.blood_type = "female", "unknown"
    db.session.commit()
    encounter_id = _start(app, db, visit)
    page = login_as("doctor").get(f"/visit/{encounter_id}", headers=VI).get_data(as_text=True)
    assert "Nữ" in page and "Nhóm máu Chưa rõ" in page and "unknown" not in page


def test_my_day_stacks_on_a_phone(app, db, visit, login_as):
    page = login_as("doctor").get("/my-day/").get_data(as_text=True)
    assert "my-day-queue stacked-table" in page and 'class="text-right my-day-actions"' in page
