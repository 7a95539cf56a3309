"""The lab endpoints of the REST API fuzzed from the OpenAPI document (as tests/test_schemathesis.py
does for every operation), with a catalogue, a visit and lab orders in the database so that the
fuzzer reaches the rules and not only "not found": no input answers a server error, every answer
matches its documented schema."""
from __future__ import annotations

from datetime import date

import pytest

from tests.fuzzing import examples, fuzz_operations, report, under

EXAMPLES = examples(25)


@pytest.fixture
def lab_data(app, db):
    from app.models import Doctor, Encounter, Patient
    from app.models.types import utcnow
    from app.services import lab
    from app.services.demo_data.lab_catalogue import seed_lab_catalogue

    seed_lab_catalogue(db.session)
    user = app.appbuilder.sm.find_user(username="doctor")
    doctor = Doctor(full_name="Bác Sĩ Thử", user_id=user.id)
    patient = Patient(code="FUZZ1", full_name="Bệnh Nhân Thử", sex="female", date_of_birth=date(1990, 1, 1),
                      search_text="benh nhan thu fuzz1")
    db.session.add_all([doctor, patient])
    db.session.commit()
    encounter = Encounter(patient_id=patient.id, doctor_id=doctor.id)
    db.session.add(encounter)
    db.session.commit()
    lab.order_tests(db.session, encounter.id, ["GLU", "CBC"], user, utcnow())


@pytest.mark.parametrize("role", ["lab", "doctor"])
def test_lab_endpoints_never_answer_a_server_error(app, lab_data, role):
    operations, failures = fuzz_operations(app, role, under("/api/v1/lab/"), examples=EXAMPLES)
    assert operations == 9
    assert not failures, report(failures)
