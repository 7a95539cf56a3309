"""Booking and cancelling through the chat in a real browser (Debian's headless Chromium): a patient
on a 390x844 phone, in Vietnamese, asks the assistant for a general check-up tomorrow morning,
taps one of the free times it offers, reads the confirmation, then asks to cancel "my
appointment" and taps it; the database says what the patient was told. Once more in English on a
desktop. Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
import re
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.test_access import ensure_user

CLINIC_ZONE = timezone(timedelta(hours=7))
ASK = {"vi": "đặt lịch khám tổng quát sáng mai", "en": "book a general check-up tomorrow morning"}
CANCEL = {"vi": "hủy lịch hẹn của tôi", "en": "cancel my appointment"}
TEXT = {
    "vi": {"offer": "Các giờ còn trống cho Khám tổng quát vào ", "sent": "Đã gửi yêu cầu đặt lịch Khám tổng quát",
           "cancelled": " đã được hủy", "which": "Tap", "assistant": "Trợ lý", "send": "Gửi"},
    "en": {"offer": "Free times for Khám tổng quát on ", "sent": "Your request for Khám tổng quát",
           "cancelled": " is cancelled", "which": "Tap", "assistant": "Assistant", "send": "Send"},
}


@pytest.fixture
def booking_patient(app, db, clinic):
    """A patient with a login, and the test clinic's general check-up ("Khám tổng quát", 20 minutes)
    with its doctor, who works every day 07:00-19:00."""
    from app.models import Patient

    username = "chatbook_patient"
    user_id = ensure_user(app, username, "Patient")
    patient = Patient(code="CBK1", full_name="Trần Văn Đặt", search_text="tran van dat cbk1", user_id=user_id)
    db.session.add(patient)
    db.session.commit()
    return {"username": username, "patient": patient.id, "service": clinic.service, "doctor": clinic.doctor}


def _appointments(db, patient_id: int) -> list:
    from app.models import Appointment

    db.session.expire_all()
    return list(db.session.execute(select(Appointment).where(Appointment.patient_id == patient_id)
                                   .order_by(Appointment.id)).scalars())


@pytest.mark.parametrize("lang, width, height", [("vi", 390, 844), ("en", 1280, 900)])
def test_patient_books_and_cancels_in_the_chat(app, db, page_as, browser_engine, browser_logins, booking_patient,
                                               tmp_path, lang, width, height):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    login = page_as(booking_patient["username"], width=width)  # logs in through the form once
    phone = width < 768
    context = browser_engine.new_context(viewport={"width": width, "height": height}, has_touch=phone,
                                         is_mobile=phone, storage_state=browser_logins[booking_patient["username"]])
    try:
        _book_and_cancel(db, context.new_page(), login.base_url, booking_patient, shots, lang, width)
    finally:
        context.close()


def _book_and_cancel(db, page, base_url: str, booking_patient: dict, shots: Path, lang: str, width: int) -> None:
    text = TEXT[lang]
    errors: list[str] = []

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"chatbook-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base_url}/clinic/language/{lang}?next=/clinic/me/chat")
    page.wait_for_url("**/clinic/me/chat")

    # 1. ask: the assistant answers with tomorrow morning's free times as buttons
    page.fill("#chat-text", ASK[lang])
    page.click(f".chat-send:has-text('{text['send']}')")
    page.locator(".chat-msg.chat-assistant .chat-choice").first.wait_for()
    offer = page.locator(".chat-msg.chat-assistant").nth(0)  # the only one so far
    assert offer.locator(".chat-name").inner_text() == text["assistant"]
    assert offer.locator(".chat-text").inner_text().startswith(text["offer"])
    buttons = offer.locator("button.chat-choice")
    assert 1 <= buttons.count() <= 6
    tomorrow = (datetime.now(CLINIC_ZONE) + timedelta(days=1)).date()
    labels = [buttons.nth(i).inner_text() for i in range(buttons.count())]
    assert all(f"{tomorrow:%d/%m}" in label and "Trần Thị Bình" in label for label in labels), labels
    hours = [re.search(r"(\d\d):(\d\d)", label) for label in labels]
    assert all(m and time(7) <= time(int(m[1]), int(m[2])) < time(12) for m in hours), labels
    box = buttons.first.bounding_box()
    assert box and box["height"] >= 32 and box["x"] + box["width"] <= width  # a thumb can tap it, on screen
    shot("1-offered")

    # 2. tap a time: the confirmation appears in the chat, the tapped button stays marked
    chosen_label = labels[0]
    buttons.first.tap() if width < 768 else buttons.first.click()
    confirmation = page.locator(".chat-msg.chat-assistant .chat-text", has_text=text["sent"])
    confirmation.wait_for()
    assert page.locator(".chat-msg.chat-mine .chat-text").last.inner_text() == chosen_label
    assert offer.locator("button.chat-choice.chat-chosen").inner_text() == chosen_label
    assert offer.locator("button.chat-choice:not([disabled])").count() == 0  # a slot is booked once
    shot("2-booked")
    [appointment] = _appointments(db, booking_patient["patient"])
    start = appointment.start_at.astimezone(CLINIC_ZONE)
    assert (appointment.channel, appointment.status) == ("chat", "requested")
    assert (appointment.service_id, appointment.doctor_id) == (booking_patient["service"], booking_patient["doctor"])
    assert start.date() == tomorrow and f"{start:%H:%M}" in chosen_label
    assert f"{start:%H:%M}" in confirmation.inner_text()

    # the page drawn by the server after a reload shows the same conversation
    page.reload()
    assert page.locator(".chat-msg.chat-assistant .chat-text", has_text=text["sent"]).count() == 1

    # 3. cancel "my appointment": it is offered as a button; tapping it cancels it
    before = page.locator(".chat-msg.chat-assistant").count()
    page.fill("#chat-text", CANCEL[lang])
    page.click(".chat-send")
    page.locator(f".chat-msg.chat-assistant >> nth={before} >> .chat-choice").first.wait_for()
    page.reload()  # the patient comes back to it later: the button is now drawn by the server (a form)
    question = page.locator(".chat-msg.chat-assistant").nth(before)
    cancel_buttons = question.locator("button.chat-choice")
    assert cancel_buttons.count() == 1
    assert f"{start:%H:%M}" in cancel_buttons.first.inner_text()
    assert f"{start:%d/%m}" in cancel_buttons.first.inner_text()
    shot("3-cancel-offered")
    cancel_buttons.first.tap() if width < 768 else cancel_buttons.first.click()
    page.locator(".chat-msg.chat-assistant .chat-text", has_text=text["cancelled"]).wait_for()
    shot("4-cancelled")
    [appointment] = _appointments(db, booking_patient["patient"])
    assert appointment.status == "cancelled"
    assert not errors, errors


def _staff_reads(app, db, patient_id: int) -> None:
    """The receptionist opens the conversation and reads it (as the inbox page does)."""
    from app.models.types import utcnow
    from app.services import chat

    with app.test_request_context():
        conversation = chat.patient_conversation(db.session, patient_id, utcnow())
        reader = app.appbuilder.sm.find_user(username="receptionist")
        chat.mark_read(db.session, app.extensions["documents"], reader, conversation.id, utcnow())


def _conversation_id(app, db, patient_id: int) -> int:
    from app.models import ChatConversation

    db.session.expire_all()
    return db.session.execute(select(ChatConversation.id).where(ChatConversation.patient_id == patient_id)).scalar_one()


def test_seen_receipt_appears_on_messages_already_shown(app, db, page_as, booking_patient, tmp_path):
    """The staff read the patient's messages: "Đã xem" appears under them without a reload, from the
    5-second poll and at once on a ``realtime:chat`` read push."""
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    page = page_as(booking_patient["username"], width=390)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/clinic/me/chat")
    page.wait_for_url("**/clinic/me/chat")
    mine = page.locator(".chat-msg.chat-mine")

    page.fill("#chat-text", "Cho tôi gặp nhân viên")
    page.click(".chat-send")
    mine.first.wait_for()
    page.wait_for_timeout(300)
    assert mine.first.locator(".chat-read").count() == 0
    _staff_reads(app, db, booking_patient["patient"])
    mine.first.locator(".chat-read").wait_for(timeout=12000)  # the poll, no reload
    assert mine.first.locator(".chat-read").inner_text() == "Đã xem"

    page.fill("#chat-text", "Tôi muốn hỏi thêm về giá")
    page.click(".chat-send")
    mine.nth(1).wait_for()
    assert mine.nth(1).locator(".chat-read").count() == 0
    _staff_reads(app, db, booking_patient["patient"])
    conversation_id = page.locator("#chat").get_attribute("data-conversation-id") or ""
    assert conversation_id == str(_conversation_id(app, db, booking_patient["patient"]))  # set by the first message
    page.evaluate("""(cid) => document.dispatchEvent(new CustomEvent('realtime:chat',
                      {detail: {conversation_id: cid, read: 'staff'}}))""", conversation_id)
    mine.nth(1).locator(".chat-read").wait_for(timeout=2500)  # the push: well before the next poll is due
    assert mine.first.locator(".chat-read").count() == 1  # drawn once, not twice
    page.screenshot(path=str(shots / "chatbook-vi-390-5-seen.png"), full_page=True)
