"""The chat endpoints of the REST API fuzzed from the OpenAPI document (as tests/test_schemathesis.py
does for every operation), with a conversation and messages in the database so that the fuzzer
reaches the rules: no input answers a server error, every answer matches its documented schema."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import token_headers
from tests.test_access import ensure_user
from tests.test_schemathesis import _summary

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture
def chat_data(app, db):
    from app.models import Patient
    from app.services import chat

    user_id = ensure_user(app, "fuzz_chat_patient", "Patient")
    patient = Patient(code="FZC1", full_name="Bệnh Nhân Chat", search_text="benh nhan chat fzc1", user_id=user_id)
    db.session.add(patient)
    db.session.commit()
    now = datetime.now(timezone.utc)
    conversation = chat.patient_conversation(db.session, patient.id, now)
    user = app.appbuilder.sm.get_user_by_id(user_id)
    for text in ("Cho tôi hỏi giá khám tổng quát", "<b>giờ</b> mở cửa?"):
        chat.post_message(db.session, app.extensions["documents"], user, conversation.id, text, now)
    return conversation.id


@pytest.mark.parametrize("username", ["fuzz_chat_patient", "receptionist"])
def test_chat_endpoints_never_answer_a_server_error(app, chat_data, username):
    schema = schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=token_headers(app, "admin"))
    headers = token_headers(app, username)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/chat/"):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            if "conversation_id" in (case.path_parameters or {}) and case.path_parameters["conversation_id"] % 3 == 0:
                case.path_parameters["conversation_id"] = chat_data  # reach the real conversation too
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failing operation is reported at once
            failures.append(f"{operation.label}: {_summary(exc)}")
    assert operations == 9
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
