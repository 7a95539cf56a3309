"""The review operations (``/api/v1/reviews/…``) fuzzed from the OpenAPI document, with a patient's
completed visit, its review and a doctor in the database, and the generated path ids aimed at them
half of the time, so that the fuzzer reaches the rules: no input answers a server error, every
answer matches its documented schema."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.fuzzing import examples, fuzz_operations, report, under

EXAMPLES = examples(20)


@pytest.fixture
def review_data(app, db, clinic) -> dict:
    from app.models import Appointment, Patient, Review

    with app.app_context():
        patient_user = app.appbuilder.sm.find_user(username="patient").id
    patient = clinic.save(Patient(full_name="Nguyễn Văn An", user_id=patient_user))
    start = datetime.now(timezone.utc) - timedelta(days=1)
    visits = []
    for days in (1, 2):
        visit = Appointment(patient_id=patient, doctor_id=clinic.doctor, service_id=clinic.service,
                            start_at=start - timedelta(days=days), end_at=start - timedelta(days=days, minutes=-20),
                            status="completed")
        db.session.add(visit)
        db.session.flush()
        visits.append(visit.id)
    review = Review(patient_id=patient, doctor_id=clinic.doctor, service_id=clinic.service, appointment_id=visits[0],
                    rating_professional=5, rating_attitude=4, rating_waiting_time=3, rating_overall=4, comment="Tốt")
    db.session.add(review)
    db.session.commit()
    return {"appointment_id": visits[1], "doctor_id": clinic.doctor, "service_id": clinic.service, "pk": review.id}


def aim(data: dict):
    def prepare(case) -> None:
        for name in list(case.path_parameters or {}):
            if name in data and case.path_parameters[name] % 2 == 0:
                case.path_parameters[name] = data[name]
    return prepare


@pytest.mark.parametrize("role", ["patient", "manager", "doctor"])
def test_review_operations(app, review_data, role):
    operations, failures = fuzz_operations(app, role, under("/api/v1/reviews/"), examples=EXAMPLES,
                                           prepare=aim(review_data))
    assert operations == 9
    assert not failures, report(failures)
