"""The pharmacy's REST operations (``/api/v1/pharmacy/…``, ``supplier``, ``stock_batch``) fuzzed
deeper than the suite-wide run (tests/test_schemathesis.py), as a pharmacist and as a
receptionist: no server error, every answer as documented. A few real records exist first, so
that generated ids sometimes hit something."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import token_headers
from tests.pharmacy_helpers import batch, medicine, prescription

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
PATHS = ("/api/v1/pharmacy/", "/api/v1/supplier/", "/api/v1/stock_batch/")


@pytest.mark.parametrize("role", ["pharmacist", "receptionist"])
def test_pharmacy_operations(app, db, clinic, role):
    med = medicine(db)
    batch(db, med, 20, 300)
    batch(db, med, 5, -2)
    prescription(db, clinic, (med, 3))
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=token_headers(app, "admin"))
    headers = token_headers(app, role)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(PATHS):
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
            failures.append(f"{operation.label}: {str(exc)[:700]}")
    assert operations >= 12
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
