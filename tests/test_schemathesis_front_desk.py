"""The front desk's REST operations (``/api/v1/front-desk/…``) fuzzed from the OpenAPI document,
with a doctor, a service and today's appointments in the database so that the fuzzer reaches the
rules: no input answers a server error, every answer matches its documented schema."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from tests.fuzzing import examples, fuzz_operations, report, under

EXAMPLES = examples(25)


@pytest.fixture
def queue_data(app, db, clinic):
    from app.models import Appointment, Patient
    from app.services.settings import ClinicSettings

    zone = ClinicSettings.from_config(app.config).timezone
    today = datetime.now(zone).date()
    for n, hour in enumerate((7, 12, 18)):
        patient = clinic.save(Patient(full_name=f"Bệnh nhân {n}"))
        db.session.add(Appointment(patient_id=patient, doctor_id=clinic.doctor, service_id=clinic.service,
                                   start_at=datetime.combine(today, time(hour), zone),
                                   end_at=datetime.combine(today, time(hour), zone) + timedelta(minutes=20),
                                   status="confirmed"))
    db.session.commit()


@pytest.mark.parametrize("role", ["receptionist", "doctor"])
def test_front_desk_operations(app, queue_data, role):
    operations, failures = fuzz_operations(app, role, under("/api/v1/front-desk/"), examples=EXAMPLES)
    assert operations == 7
    assert not failures, report(failures)
