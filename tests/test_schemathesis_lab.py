"""The lab endpoints of the REST API fuzzed from the OpenAPI document (as tests/test_schemathesis.py
does for every operation), with a catalogue, a visit and lab orders in the database so that the
fuzzer reaches the rules and not only "not found": no input answers a server error, every answer
matches its documented schema."""
from __future__ import annotations

import os
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import token_headers
from tests.test_schemathesis import _summary

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


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
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=token_headers(app, "admin"))
    headers = token_headers(app, role)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/lab/"):
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
    assert operations == 9
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
