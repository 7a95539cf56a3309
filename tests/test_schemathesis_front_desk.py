"""The front desk's REST operations (``/api/v1/front-desk/…``) fuzzed from the OpenAPI document,
with a doctor, a service and today's appointments in the database so that the fuzzer reaches the
rules: no input answers a server error, every answer matches its documented schema."""
from __future__ import annotations

import os
from datetime import datetime, time, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import token_headers
from tests.test_schemathesis import _summary

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


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
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=token_headers(app, "admin"))
    headers = token_headers(app, role)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/front-desk/"):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failing operation is reported at once
            failures.append(f"{operation.label}: {_summary(exc)}")
    assert operations == 7
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
