"""Chat (issue 13, items 6 and 8): the service's rules (who reads and posts, validation, paging and
catch-up, unread counts and receipts, the assistant's hand-over, assignment, files), the REST API's
answers, and the pages. The flow runs on both document stores (the SQL table and MongoDB through
mongomock, which stands in for a server that cannot run here)."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import mongomock
import pytest
from sqlalchemy import select

from tests.factories import START, token_headers
from tests.test_access import ensure_user

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


REAL_ASSISTANT_REPLY = None


@pytest.fixture(autouse=True)
def _a_person_answers(monkeypatch):
    """The person's side of chat is tested with the assistant handing every message over (None);
    the assistant's own tests set their replies, and one test uses the real assistant."""
    from app.services import assistant_hook

    global REAL_ASSISTANT_REPLY
    REAL_ASSISTANT_REPLY = REAL_ASSISTANT_REPLY or assistant_hook.assistant_reply
    monkeypatch.setattr(assistant_hook, "assistant_reply", lambda *args, **kwargs: None)


@dataclass
class People:
    patient: int  # patient record ids
    other: int
    doctor_care: int  # Doctor ids
    users: dict[str, object]  # role key -> User


USERS = {"owner": ("chat_patient", "Patient"), "other": ("chat_other", "Patient"),
         "doctor_care": ("chat_doctor_care", "Doctor"), "doctor_other": ("chat_doctor_other", "Doctor"),
         "receptionist": ("receptionist", "Receptionist"), "manager": ("manager", "Manager"),
         "pharmacist": ("pharmacist", "Pharmacist"), "admin": ("admin", "Admin")}


@pytest.fixture
def people(app, db, clinic) -> People:
    from app.models import Appointment, Doctor, Patient

    ids = {key: ensure_user(app, name, role) for key, (name, role) in USERS.items()}
    sm = app.appbuilder.sm
    patient = Patient(code="CH1", full_name="Trần Thị Hỏi", search_text="tran thi hoi ch1", user_id=ids["owner"])
    other = Patient(code="CH2", full_name="Lê Văn Khác", search_text="le van khac ch2", user_id=ids["other"])
    care = Doctor(full_name="Bác Sĩ Quen", user_id=ids["doctor_care"])
    stranger = Doctor(full_name="Bác Sĩ Lạ", user_id=ids["doctor_other"])
    db.session.add_all([patient, other, care, stranger])
    db.session.commit()
    db.session.add(Appointment(patient_id=patient.id, doctor_id=care.id, service_id=clinic.service,
                               start_at=datetime.fromisoformat(START),
                               end_at=datetime.fromisoformat(START) + timedelta(minutes=20)))
    db.session.commit()
    users = {key: sm.get_user_by_id(uid) for key, uid in ids.items()}
    return People(patient.id, other.id, care.id, users)


@pytest.fixture(params=["sql", "mongo"])
def store(request, app):
    from app.services.documents import MongoDocumentStore

    if request.param == "sql":
        return app.extensions["documents"]
    return MongoDocumentStore("mongodb://localhost/chat_test", client=mongomock.MongoClient(tz_aware=True))


def _audit(db, action: str, user_id: int) -> list:
    from app.models import AuditEvent

    db.session.rollback()
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.entity ==
                                                            "ChatConversation", AuditEvent.user_id == user_id))
                .scalars())


# --- the service -----------------------------------------------------------------------------

def test_patient_and_staff_talk_with_counts_receipts_and_catch_up(app, db, people, store):
    from app.services import chat

    s, u = db.session, people.users
    conversation = chat.patient_conversation(s, people.patient, T0)
    posted = chat.post_message(s, store, u["owner"], conversation.id, "Cho tôi hỏi giá khám tổng quát", T0)
    assert [m.sender for m in posted.messages] == ["patient"] and posted.handed_over  # no assistant yet
    s.refresh(conversation)
    assert conversation.status == "waiting" and conversation.unread_for_staff == 1

    first = chat.history(s, store, u["receptionist"], conversation.id, T0)
    assert [m.text for m in first.messages] == ["Cho tôi hỏi giá khám tổng quát"] and first.side == "staff"
    chat.post_message(s, store, u["receptionist"], conversation.id, "Khám tổng quát 350.000 đ ạ.",
                      T0 + timedelta(minutes=1))
    s.refresh(conversation)
    assert conversation.status == "assigned" and conversation.assigned_to_id == u["receptionist"].id
    assert conversation.unread_for_patient == 1

    # catch-up: what came after the last id the patient has
    missed = chat.history(s, store, u["owner"], conversation.id, T0 + timedelta(minutes=2),
                          since_id=first.messages[-1].id)
    assert [(m.sender, m.text) for m in missed.messages] == [("staff", "Khám tổng quát 350.000 đ ạ.")]
    assert chat.history(s, store, u["owner"], conversation.id, T0, since_id=missed.messages[-1].id).messages == []

    # read receipts: the patient reads; the staff message carries read_at, counts go to 0
    assert chat.mark_read(s, store, u["owner"], conversation.id, T0 + timedelta(minutes=3)) == 1
    s.refresh(conversation)
    assert conversation.unread_for_patient == 0
    staff_message = chat.history(s, store, u["receptionist"], conversation.id, T0).messages[-1]
    assert staff_message.read_at == T0 + timedelta(minutes=3)
    assert chat.history(s, store, u["receptionist"], conversation.id, T0).messages[0].read_at is None


def test_history_says_up_to_when_the_other_side_has_read(app, db, people, store):
    """What lets a page already open mark its own messages "Seen" when the other side reads."""
    from app.services import chat

    s, u = db.session, people.users
    conversation = chat.patient_conversation(s, people.patient, T0)
    asked = chat.post_message(s, store, u["owner"], conversation.id, "Còn lịch sáng mai không?", T0).messages[-1]
    assert chat.history(s, store, u["owner"], conversation.id, T0).read_until is None  # nobody read it yet

    chat.mark_read(s, store, u["receptionist"], conversation.id, T0 + timedelta(minutes=2))
    polled = chat.history(s, store, u["owner"], conversation.id, T0 + timedelta(minutes=3), since_id=asked.id)
    assert polled.messages == [] and polled.read_until == T0 + timedelta(minutes=2)  # a poll with nothing new
    assert chat.history(s, store, u["receptionist"], conversation.id, T0).read_until is None  # the patient has not

    chat.post_message(s, store, u["receptionist"], conversation.id, "Dạ còn ạ.", T0 + timedelta(minutes=4))
    chat.mark_read(s, store, u["owner"], conversation.id, T0 + timedelta(minutes=5))
    assert chat.history(s, store, u["receptionist"], conversation.id, T0).read_until == T0 + timedelta(minutes=5)
    assert chat.history(s, store, u["owner"], conversation.id, T0).read_until == T0 + timedelta(minutes=2)


def test_history_pages_back_without_gaps(app, db, people, store):
    from app.services import chat

    s, owner = db.session, people.users["owner"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    for i in range(7):  # same timestamp on purpose: times are made strictly increasing
        chat.post_message(s, store, owner, conversation.id, f"tin {i}", T0)
    latest = chat.history(s, store, owner, conversation.id, T0, limit=3)
    assert [m.text for m in latest.messages] == ["tin 4", "tin 5", "tin 6"] and latest.has_more
    older = chat.history(s, store, owner, conversation.id, T0, before_id=latest.messages[0].id, limit=3)
    assert [m.text for m in older.messages] == ["tin 1", "tin 2", "tin 3"] and older.has_more
    oldest = chat.history(s, store, owner, conversation.id, T0, before_id=older.messages[0].id, limit=3)
    assert [m.text for m in oldest.messages] == ["tin 0"] and not oldest.has_more
    times = [m.created_at for m in oldest.messages + older.messages + latest.messages]
    assert times == sorted(set(times))
    with pytest.raises(chat.ValidationFailed) as caught:
        chat.history(s, store, owner, conversation.id, T0, since_id="nope")
    assert caught.value.field == "since_id"


@pytest.mark.parametrize("reader, allowed", [
    ("owner", True), ("receptionist", True), ("manager", True), ("admin", True), ("doctor_care", True),
    ("other", False), ("doctor_other", False), ("pharmacist", False),
])
def test_who_reads_a_conversation(app, db, people, reader, allowed):
    from app.services import chat

    s = db.session
    store = app.extensions["documents"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    chat.post_message(s, store, people.users["owner"], conversation.id, "MARK-chat", T0)
    user = people.users[reader]
    assert chat.may_join_conversation(s, user, conversation.id, T0) is allowed
    if allowed:
        page = chat.history(s, store, user, conversation.id, T0)
        assert page.messages[0].text == "MARK-chat"
        assert any(json.loads(r.details)["patient_id"] == people.patient for r in _audit(db, "read", user.id))
    else:
        with pytest.raises(chat.ChatAccessDenied):
            chat.history(s, store, user, conversation.id, T0)
        with pytest.raises(chat.ChatAccessDenied):
            chat.post_message(s, store, user, conversation.id, "xin chào", T0)
        denied = _audit(db, "denied", user.id)
        assert len(denied) == 3 and {r.entity_id for r in denied} == {str(conversation.id)}
        assert chat.history(s, store, people.users["owner"], conversation.id, T0).messages[-1].text == "MARK-chat"


def test_a_doctor_sees_only_the_care_teams_conversations_in_the_inbox(app, db, people):
    from app.services import chat

    s, store = db.session, app.extensions["documents"]
    mine = chat.patient_conversation(s, people.patient, T0)
    theirs = chat.patient_conversation(s, people.other, T0)
    chat.post_message(s, store, people.users["owner"], mine.id, "a", T0)
    chat.post_message(s, store, people.users["other"], theirs.id, "b", T0 + timedelta(seconds=1))
    assert [r.id for r in chat.inbox(s, people.users["doctor_care"], T0)] == [mine.id]
    assert chat.inbox(s, people.users["doctor_other"], T0) == []
    assert [r.id for r in chat.inbox(s, people.users["receptionist"], T0)] == [theirs.id, mine.id]
    assert chat.staff_unread(s, people.users["receptionist"], T0) == 2
    assert chat.staff_unread(s, people.users["doctor_care"], T0) == 1
    assert [r.id for r in chat.inbox(s, people.users["receptionist"], T0, which="waiting")] == [theirs.id, mine.id]
    assert chat.inbox(s, people.users["receptionist"], T0, which="mine") == []


def test_assign_to_a_colleague_who_can_see_the_patient(app, db, people):
    from app.services import chat

    s, store = db.session, app.extensions["documents"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    chat.post_message(s, store, people.users["owner"], conversation.id, "Bác sĩ ơi", T0)
    desk = people.users["receptionist"]
    with pytest.raises(chat.Conflict) as refused:
        chat.assign(s, desk, conversation.id, people.users["doctor_other"].id, T0)
    assert refused.value.field == "assigned_to_id" and refused.value.status == 409
    with pytest.raises(chat.Conflict):
        chat.assign(s, desk, conversation.id, people.users["pharmacist"].id, T0)
    chat.assign(s, desk, conversation.id, people.users["doctor_care"].id, T0)
    rows = chat.inbox(s, people.users["doctor_care"], T0, which="mine")
    assert [r.id for r in rows] == [conversation.id] and rows[0].status == "assigned"
    with pytest.raises(chat.Forbidden):
        chat.assign(s, people.users["owner"], conversation.id, None, T0)
    chat.assign(s, desk, conversation.id, None, T0)
    assert [r.id for r in chat.inbox(s, desk, T0, which="unassigned")] == [conversation.id]


@pytest.mark.parametrize("text, field_message", [
    ("", "Write a message."), ("   \n ", "Write a message."), ("x" * 2001, "at most 2000"),
    ("xin\x00chào", "control characters"), ("a\x1b[31mred", "control characters"), ("abc\u202egnp.exe", "control"),
])
def test_bad_messages_are_refused_naming_the_field(app, db, people, text, field_message):
    from app.services import chat

    s, store = db.session, app.extensions["documents"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    with pytest.raises(chat.ValidationFailed) as caught:
        chat.post_message(s, store, people.users["owner"], conversation.id, text, T0)
    assert caught.value.field == "text" and field_message in caught.value.message
    assert store.find(chat.collection_of(conversation.id)) == []


def test_script_is_stored_as_text_and_shown_as_text(app, db, people, login_as):
    from app.services import chat

    s, store = db.session, app.extensions["documents"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    chat.post_message(s, store, people.users["owner"], conversation.id, script, T0)
    assert chat.history(s, store, people.users["owner"], conversation.id, T0).messages[0].text == script
    html = login_as("receptionist").get(f"/chat-inbox/{conversation.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in html and '<script>alert("x")' not in html and "<img src=x" not in html


def test_the_assistant_answers_with_buttons_until_a_person_takes_over(app, db, people, monkeypatch):
    from app.services import assistant_hook, chat

    calls = []

    def reply(session, *, patient_id, user, text, language, now):
        calls.append(("reply", text, language))
        if "người" in text:
            return None
        return assistant_hook.AssistantReply(text="Chọn giờ:", intent="book", choices=(
            assistant_hook.Choice("09:00", "book_slot", {"slot": "09:00"}),
            assistant_hook.Choice("10:00", "book_slot", {"slot": "10:00"})))

    def action(session, *, patient_id, user, action, params, language, now):
        calls.append(("action", action, params))
        return assistant_hook.AssistantReply(text="Đã đặt lịch 10:00.", intent="book")

    monkeypatch.setattr(assistant_hook, "assistant_reply", reply)
    monkeypatch.setattr(assistant_hook, "assistant_action", action)
    s, store, owner = db.session, app.extensions["documents"], people.users["owner"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    posted = chat.post_message(s, store, owner, conversation.id, "đặt lịch khám sáng mai", T0, language="vi")
    assert [m.sender for m in posted.messages] == ["patient", "assistant"] and not posted.handed_over
    buttons = posted.messages[1]
    assert [c["label"] for c in buttons.choices] == ["09:00", "10:00"]
    s.refresh(conversation)
    assert conversation.status == "open" and conversation.unread_for_patient == 1

    tapped = chat.tap_choice(s, store, owner, conversation.id, buttons.id, 1, T0 + timedelta(seconds=5))
    assert [(m.sender, m.text) for m in tapped.messages] == [("patient", "10:00"), ("assistant", "Đã đặt lịch 10:00.")]
    assert calls[-1] == ("action", "book_slot", {"slot": "10:00"})
    with pytest.raises(chat.Conflict):
        chat.tap_choice(s, store, owner, conversation.id, buttons.id, 0, T0)
    with pytest.raises(chat.Forbidden):
        chat.tap_choice(s, store, people.users["receptionist"], conversation.id, buttons.id, 0, T0)

    handed = chat.post_message(s, store, owner, conversation.id, "cho tôi gặp người thật", T0 + timedelta(minutes=1))
    assert handed.handed_over
    s.refresh(conversation)
    assert conversation.status == "waiting"
    chat.post_message(s, store, people.users["receptionist"], conversation.id, "Chào chị", T0 + timedelta(minutes=2))
    calls.clear()
    chat.post_message(s, store, owner, conversation.id, "đặt lịch", T0 + timedelta(minutes=3))
    assert calls == []  # a person has it now: the assistant stays quiet


def test_the_real_assistant_answers_opening_hours_in_the_chat(app, db, people, monkeypatch):
    from app.services import assistant_hook, chat

    monkeypatch.setattr(assistant_hook, "assistant_reply", REAL_ASSISTANT_REPLY)
    s, store = db.session, app.extensions["documents"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    posted = chat.post_message(s, store, people.users["owner"], conversation.id, "phòng khám mở cửa mấy giờ?", T0,
                               language="vi")
    assert [m.sender for m in posted.messages] == ["patient", "assistant"] and not posted.handed_over
    assert posted.messages[1].text
    page = chat.history(s, store, people.users["owner"], conversation.id, T0)
    assert [m.id for m in page.messages] == [m.id for m in posted.messages]
    s.refresh(conversation)
    assert conversation.status == "open" and conversation.unread_for_patient == 1 and conversation.unread_for_staff == 1


def test_a_failing_assistant_hands_over_and_keeps_the_message(app, db, people, monkeypatch):
    from app.services import assistant_hook, chat

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(assistant_hook, "assistant_reply", broken)
    s, store = db.session, app.extensions["documents"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    posted = chat.post_message(s, store, people.users["owner"], conversation.id, "giờ mở cửa?", T0)
    assert posted.handed_over and [m.text for m in posted.messages] == ["giờ mở cửa?"]
    s.refresh(conversation)
    assert conversation.status == "waiting"


def test_hooks_are_called_after_the_message_is_stored_and_never_fail_it(app, db, people, monkeypatch):
    from app.services import chat, realtime_hooks

    seen = []

    def hook(conversation_id, message_id):
        seen.append((conversation_id, app.extensions["documents"].get(chat.collection_of(conversation_id),
                                                                      message_id)["text"]))
        raise ConnectionError("socket down")

    monkeypatch.setattr(realtime_hooks, "chat_message_posted", hook)
    s, store = db.session, app.extensions["documents"]
    conversation = chat.patient_conversation(s, people.patient, T0)
    chat.post_message(s, store, people.users["owner"], conversation.id, "vẫn lưu", T0)
    assert seen == [(conversation.id, "vẫn lưu")]


def test_files_images_and_pdf_only_checked_by_their_bytes(app, db, people, tmp_path):
    from app.services import attachments, chat
    from app.services.storage import LocalFileStore

    files = LocalFileStore(str(tmp_path))
    ref = chat.store_attachment(files, "../../ảnh chụp.png", PNG, max_bytes=1000)
    assert ref["content_type"] == "image/png" and ref["name"] == "ảnh chụp.png" and ref["key"].startswith("chat/")
    assert files.get(ref["key"]) == PNG
    pdf = chat.store_attachment(files, "kq.pdf", b"%PDF-1.4\n%%EOF", max_bytes=1000)
    assert pdf["content_type"] == "application/pdf"
    for name, data, message in [("x.png", b"MZ\x90\x00 not an image", "Only images"),
                                ("x.png", b"\x89PNG\r\n\x1a\ngarbage", "cannot be read"), ("x.pdf", b"", "empty")]:
        with pytest.raises(chat.ValidationFailed) as caught:
            chat.store_attachment(files, name, data, max_bytes=1000)
        assert caught.value.field == "file" and message in caught.value.message
    with pytest.raises(attachments.TooLarge):
        chat.store_attachment(files, "big.pdf", b"%PDF-" + b"0" * 2000, max_bytes=1000)


# --- the REST API ----------------------------------------------------------------------------

def test_api_patient_and_staff_exchange_messages(app, db, people):
    client = app.test_client()
    patient = token_headers(app, "chat_patient")
    desk = token_headers(app, "receptionist")
    assert client.get("/api/v1/chat/conversations", headers=patient).get_json()["result"] == []
    opened = client.post("/api/v1/chat/conversations/mine", headers=patient)
    assert opened.status_code == 200
    cid = opened.get_json()["result"]["id"]
    sent = client.post(f"/api/v1/chat/conversations/{cid}/messages", headers=patient,
                       json={"text": "Cho tôi hỏi giá khám tổng quát"})
    assert sent.status_code == 201 and sent.get_json()["handed_over"] is True
    first_id = sent.get_json()["result"][0]["id"]
    inbox = client.get("/api/v1/chat/conversations?filter=waiting", headers=desk).get_json()["result"]
    assert [(r["id"], r["unread"], r["patient_name"]) for r in inbox] == [(cid, 1, "Trần Thị Hỏi")]
    reply = client.post(f"/api/v1/chat/conversations/{cid}/messages", headers=desk, json={"text": "350.000 đ"})
    assert reply.status_code == 201
    page = client.get(f"/api/v1/chat/conversations/{cid}/messages?since_id={first_id}", headers=patient).get_json()
    assert [m["text"] for m in page["result"]] == ["350.000 đ"] and page["side"] == "patient"
    assert client.post(f"/api/v1/chat/conversations/{cid}/read", headers=patient).get_json()["marked"] == 1
    again = client.get(f"/api/v1/chat/conversations/{cid}/messages", headers=desk).get_json()
    assert again["result"][-1]["read_at"] is not None and again["side"] == "staff"
    assigned = client.post(f"/api/v1/chat/conversations/{cid}/assign", headers=desk,
                           json={"assigned_to_id": people.users["doctor_care"].id})
    assert assigned.status_code == 200 and assigned.get_json()["result"]["status"] == "assigned"


def test_api_errors_name_the_field(app, db, people):
    from app.services import chat

    cid = chat.patient_conversation(db.session, people.patient, T0).id
    client = app.test_client()
    patient = token_headers(app, "chat_patient")
    long = client.post(f"/api/v1/chat/conversations/{cid}/messages", headers=patient, json={"text": "x" * 2001})
    assert long.status_code == 422 and "text" in json.dumps(long.get_json())
    control = client.post(f"/api/v1/chat/conversations/{cid}/messages", headers=patient, json={"text": "a\x07b"})
    assert control.status_code == 422 and "control characters" in control.get_json()["message"]["text"][0]
    unknown = client.post(f"/api/v1/chat/conversations/{cid}/messages", headers=patient, json={"txt": "hi"})
    assert unknown.status_code == 422 and "txt" in json.dumps(unknown.get_json())
    missing = client.get("/api/v1/chat/conversations/999999/messages", headers=patient)
    assert missing.status_code == 404
    stale = client.get(f"/api/v1/chat/conversations/{cid}/messages?since_id=gone", headers=patient)
    assert stale.status_code == 422 and list(stale.get_json()["message"]) == ["since_id"]
    bad_assign = client.post(f"/api/v1/chat/conversations/{cid}/assign", headers=token_headers(app, "receptionist"),
                             json={"assigned_to_id": people.users["doctor_other"].id})
    assert bad_assign.status_code == 409 and list(bad_assign.get_json()["message"]) == ["assigned_to_id"]
    assert app.test_client().get("/api/v1/chat/conversations").status_code == 401


@pytest.mark.parametrize("who", ["chat_other", "chat_doctor_other", "pharmacist"])
def test_api_refuses_other_patients_and_doctors_outside_the_care_team(app, db, people, who):
    from app.services import chat

    s, store = db.session, app.extensions["documents"]
    cid = chat.patient_conversation(s, people.patient, T0).id
    chat.post_message(s, store, people.users["owner"], cid, "MARK-secret", T0)
    client = app.test_client()
    headers = token_headers(app, who)
    for response in (client.get(f"/api/v1/chat/conversations/{cid}/messages", headers=headers),
                     client.post(f"/api/v1/chat/conversations/{cid}/messages", headers=headers, json={"text": "hi"}),
                     client.post(f"/api/v1/chat/conversations/{cid}/read", headers=headers)):
        assert response.status_code == 403 and "MARK-secret" not in response.get_data(as_text=True)
    listing = client.get("/api/v1/chat/conversations", headers=headers).get_data(as_text=True)
    assert "MARK-secret" not in listing and "Trần Thị Hỏi" not in listing


# --- the pages -------------------------------------------------------------------------------

def test_portal_chat_posts_with_csrf_and_shows_the_reply(app, db, people, login_as):
    from app.services import chat

    browser = login_as("chat_patient")
    page = browser.get("/clinic/me/chat")
    assert page.status_code == 200 and "chat.js" in page.get_data(as_text=True)
    assert chat.conversations_of(db.session, people.users["owner"], T0) == []  # a GET makes nothing
    sent = browser.post("/clinic/me/chat/send", data={"text": "Xin chào"}, headers={"X-Requested-With": "fetch"})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    cid = chat.conversations_of(db.session, people.users["owner"], T0)[0].id
    assert sent.get_json()["conversation_id"] == cid  # chat.js joins its room after the first message
    chat.post_message(db.session, app.extensions["documents"], people.users["receptionist"], cid, "Chào chị ạ", T0)
    since = browser.get(f"/clinic/me/chat/messages?since_id={sent.get_json()['result'][0]['id']}").get_json()
    assert [m["text"] for m in since["result"]] == ["Chào chị ạ"]
    refused = app.test_client().post("/clinic/me/chat/send", data={"text": "no token"})
    assert refused.status_code in (302, 400)


def test_portal_and_api_messages_say_when_the_other_side_read(app, db, people, login_as):
    from app.services import chat

    s, store = db.session, app.extensions["documents"]
    cid = chat.patient_conversation(s, people.patient, T0).id
    asked = chat.post_message(s, store, people.users["owner"], cid, "Xin chào", T0).messages[-1]
    browser = login_as("chat_patient")
    unread = browser.get(f"/clinic/me/chat/messages?since_id={asked.id}").get_json()
    assert unread["result"] == [] and unread["read_until"] is None
    chat.mark_read(s, store, people.users["receptionist"], cid, T0 + timedelta(minutes=1))
    seen = browser.get(f"/clinic/me/chat/messages?since_id={asked.id}").get_json()
    assert seen["result"] == [] and datetime.fromisoformat(seen["read_until"]) == T0 + timedelta(minutes=1)
    api = app.test_client().get(f"/api/v1/chat/conversations/{cid}/messages",
                                headers=token_headers(app, "chat_patient")).get_json()
    assert datetime.fromisoformat(api["read_until"]) == T0 + timedelta(minutes=1)
    assert api["result"][0]["read_at"] is not None


def test_portal_attachment_round_trip_and_isolation(app, db, people, login_as):
    browser = login_as("chat_patient")
    sent = browser.post("/clinic/me/chat/send", data={"text": "", "file": (io.BytesIO(PNG), "da.png")},
                        headers={"X-Requested-With": "fetch"}, content_type="multipart/form-data")
    assert sent.status_code == 201, sent.get_data(as_text=True)
    message = sent.get_json()["result"][0]
    assert message["attachment"]["content_type"] == "image/png"
    got = browser.get(message["attachment"]["url"])
    assert got.status_code == 200 and got.data == PNG
    other = login_as("chat_other").get(f"/clinic/me/chat/file/{message['id']}")
    assert other.status_code == 404
    bad = browser.post("/clinic/me/chat/send", data={"text": "", "file": (io.BytesIO(b"<html>"), "x.png")},
                       headers={"X-Requested-With": "fetch"}, content_type="multipart/form-data")
    assert bad.status_code == 422 and bad.get_json()["field"] == "file"


def test_inbox_pages_by_role(app, db, people, login_as):
    from app.services import chat

    s, store = db.session, app.extensions["documents"]
    cid = chat.patient_conversation(s, people.patient, T0).id
    chat.post_message(s, store, people.users["owner"], cid, "Hỏi giá", T0)
    desk = login_as("receptionist")
    listing = desk.get("/chat-inbox/").get_data(as_text=True)
    assert "Trần Thị Hỏi" in listing and "Hỏi giá" in listing
    assert desk.get(f"/chat-inbox/{cid}").status_code == 200
    reply = desk.post(f"/chat-inbox/{cid}/reply", data={"text": "350.000 đ"})
    assert reply.status_code == 302
    assert chat.history(s, store, people.users["owner"], cid, T0).messages[-1].text == "350.000 đ"
    assert login_as("pharmacist").get("/chat-inbox/").status_code in (302, 403)
    stranger = login_as("chat_doctor_other")
    assert "Trần Thị Hỏi" not in stranger.get("/chat-inbox/").get_data(as_text=True)
    assert stranger.get(f"/chat-inbox/{cid}/messages").status_code == 403
