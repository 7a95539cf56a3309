"""Chat in a real browser (Debian's headless Chromium): a patient on a phone writes to the clinic,
a receptionist answers from the inbox (with a canned reply), and the patient sees the answer
without reloading (chat.js polls since the last id; no socket here). In Vietnamese on a 390 px
phone and in English on a desktop; the staff side at the same time. Screenshots go to
``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_access import ensure_user

QUESTION = {"vi": "Cho tôi hỏi giá khám tổng quát", "en": "How much is a general check-up?"}
ANSWER = {"vi": "Dạ, khám tổng quát 350.000 đ ạ.", "en": "A general check-up is 350,000 VND."}
TEXT = {"vi": {"title": "Trò chuyện với phòng khám", "send": "Gửi", "inbox": "Hộp thư trò chuyện",
               "waiting": "Chờ nhân viên", "read": "Đã xem"},
        "en": {"title": "Chat with the clinic", "send": "Send", "inbox": "Chat inbox",
               "waiting": "Waiting for a person", "read": "Seen"}}


@pytest.fixture
def chat_patient(app, db):
    from app.models import ChatCannedReply, Patient

    user_id = ensure_user(app, "chat_browser_patient", "Patient")
    db.session.add(Patient(code="CHB1", full_name="Nguyễn Thị Chat", search_text="nguyen thi chat chb1",
                           user_id=user_id))
    db.session.add(ChatCannedReply(title="Giờ mở cửa", body="Phòng khám mở cửa 7:00–19:00 mỗi ngày.", position=1))
    db.session.commit()
    return "chat_browser_patient"


@pytest.mark.parametrize("lang, width", [("vi", 390), ("en", 1280)])
def test_patient_asks_staff_answer_patient_sees_it(app, db, page_as, chat_patient, tmp_path, lang, width):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    text = TEXT[lang]
    errors: list[str] = []

    def shot(page, name: str) -> None:
        page.screenshot(path=str(shots / f"chat-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    patient = page_as(chat_patient, width=width)
    patient.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    base = patient.base_url
    patient.goto(f"{base}/clinic/language/{lang}?next=/clinic/me/appointments")
    patient.click(f".pub-nav a:has-text('{text['title'].split()[0] if lang == 'en' else 'Trò chuyện'}')")
    patient.wait_for_url("**/clinic/me/chat")
    assert patient.locator("h1").inner_text() == text["title"]
    patient.fill("#chat-text", QUESTION[lang])
    patient.click(f".chat-send:has-text('{text['send']}')")
    mine = patient.locator(".chat-msg.chat-mine .chat-text")
    mine.first.wait_for()
    assert mine.first.inner_text() == QUESTION[lang]
    assert patient.input_value("#chat-text") == ""
    shot(patient, "1-patient-asked")

    desk = page_as("receptionist", width=1280)
    desk.goto(f"{base}/clinic/language/{lang}?next=/chat-inbox/")
    desk.goto(f"{base}/chat-inbox/")
    row = desk.locator(".chat-row", has_text="Nguyễn Thị Chat")
    assert row.count() == 1  # its preview is the last message: the question, or the assistant's answer to it
    assert row.locator(".chat-unread").inner_text() == "1"  # the patient's one message
    shot(desk, "2-inbox")
    row.locator("a").click()
    desk.wait_for_url("**/chat-inbox/*")
    assert desk.locator(".chat-msg:not(.chat-mine) .chat-text").first.inner_text() == QUESTION[lang]
    desk.select_option("#chat-canned", label="Giờ mở cửa")
    assert desk.input_value("#chat-text") == "Phòng khám mở cửa 7:00–19:00 mỗi ngày."
    desk.fill("#chat-text", ANSWER[lang])
    desk.click(".chat-send")
    desk.locator(".chat-msg.chat-mine .chat-text", has_text=ANSWER[lang]).wait_for()
    shot(desk, "3-staff-replied")

    answer = patient.locator(".chat-msg:not(.chat-mine) .chat-text", has_text=ANSWER[lang])
    answer.wait_for(timeout=15000)  # the 5-second poll (no socket in this test)
    shot(patient, "4-patient-sees-answer")
    # the patient's page marked it read: the receptionist's message carries the receipt after a reload
    desk.wait_for_timeout(500)
    desk.reload()
    assert desk.locator(".chat-msg.chat-mine .chat-read").first.inner_text() == text["read"]
    assert not [e for e in errors if "Content Security Policy" in e or "chat.js" in e], errors

    phone_desk = page_as("receptionist", width=390)
    phone_desk.goto(f"{base}/chat-inbox/")
    shot(phone_desk, "5-inbox-phone")


def test_script_in_a_message_stays_text_in_the_browser(app, db, page_as, chat_patient):
    patient = page_as(chat_patient, width=390)
    base = patient.base_url
    patient.goto(f"{base}/clinic/me/chat")
    dialogs: list[str] = []
    patient.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    script = '<img src=x onerror="alert(1)"><b>đậm</b>'
    patient.fill("#chat-text", script)
    patient.click(".chat-send")
    patient.locator(".chat-msg.chat-mine .chat-text").first.wait_for()
    assert patient.locator(".chat-msg.chat-mine .chat-text").first.inner_text() == script
    drawn_at = patient.locator(".chat-msg.chat-mine time").first.inner_text()  # by chat.js
    patient.reload()
    assert patient.locator(".chat-msg.chat-mine time").first.inner_text() == drawn_at  # by the server: same zone
    assert patient.locator(".chat-msg.chat-mine .chat-text").first.inner_text() == script
    assert patient.locator(".chat-log img, .chat-log b").count() == 0 and dialogs == []
