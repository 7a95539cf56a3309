"""The chat endpoints of the REST API fuzzed from the OpenAPI document (as tests/test_schemathesis.py
does for every operation), with a conversation and messages in the database so that the fuzzer
reaches the rules: no input answers a server error, every answer matches its documented schema."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.fuzzing import examples, fuzz_operations, report, under
from tests.test_access import ensure_user

EXAMPLES = examples(25)


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
    def aim(case) -> None:
        if "conversation_id" in (case.path_parameters or {}) and case.path_parameters["conversation_id"] % 3 == 0:
            case.path_parameters["conversation_id"] = chat_data  # reach the real conversation too

    operations, failures = fuzz_operations(app, username, under("/api/v1/chat/"), examples=EXAMPLES, prepare=aim)
    assert operations == 9
    assert not failures, report(failures)
