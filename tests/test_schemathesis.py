"""Every operation of the REST API, fuzzed from the app's own OpenAPI document (schemathesis,
through the WSGI app: no network), as an admin and as a patient: no input answers a server error,
and every answer matches the documented schema. A bounded, seeded run (a few examples per
operation, ``tests/fuzzing.py``) so that it fits in the suite; ``SCHEMATHESIS_EXAMPLES=50`` digs deeper."""
from __future__ import annotations

import pytest

from tests.fuzzing import examples, fuzz_operations, report

EXAMPLES = examples(4)


@pytest.mark.parametrize("role", ["admin", "patient"])
def test_no_server_error_and_documented_answers(app, role):
    # logout would end the session of the shared token used here (tests/test_tokens.py)
    operations, failures = fuzz_operations(app, role, lambda operation: not operation.path.endswith("/security/logout"),
                                           examples=EXAMPLES)
    _restore_names(app, role)  # PATCH /api/v1/me renamed the shared login
    assert operations > 80
    assert not failures, report(failures)


def _restore_names(app, username: str) -> None:
    from app.extensions import db

    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        user.first_name, user.last_name = username.capitalize(), "Tester"
        db.session.commit()
