"""Every operation of the REST API, fuzzed from the app's own OpenAPI document (schemathesis,
through the WSGI app: no network), as an admin and as a patient: no input answers a server error,
and every answer matches the documented schema. A bounded, seeded run (a few examples per
operation) so that it fits in the suite; ``SCHEMATHESIS_EXAMPLES=50`` digs deeper.

schemathesis' own pytest plugin (``from_fixture``) does not run under pytest 9, so each
operation's strategy is driven by hypothesis here."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import token_headers

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [not_a_server_error, response_schema_conformance]


def _summary(exc: BaseException) -> str:
    """The failure's kinds and the request that shows it (schemathesis' report, shortened)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kinds = [line for line in lines if line.startswith("- ")]
    curl = [line for line in lines if line.startswith("curl ")]
    text = "; ".join(kinds + [f"{type(exc).__name__}: {lines[0] if lines else ''}"] + curl[:1])
    return text[:900]


@pytest.mark.parametrize("role", ["admin", "patient"])
def test_no_server_error_and_documented_answers(app, role):
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=token_headers(app, "admin"))
    headers = token_headers(app, role)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path.endswith("/security/logout"):
            continue  # it would end the session of the shared token used here (tests/test_tokens.py)

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failing operation is reported at once
            failures.append(f"{operation.label}: {_summary(exc)}")
    _restore_names(app, role)  # PATCH /api/v1/me renamed the shared login
    assert operations > 80
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def _restore_names(app, username: str) -> None:
    from app.extensions import db

    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        user.first_name, user.last_name = username.capitalize(), "Tester"
        db.session.commit()
