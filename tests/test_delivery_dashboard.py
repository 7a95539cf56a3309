"""The delivery dashboard (/messages/, app/views/delivery.py; reads in
app.services.messaging.dashboard): every outgoing message newest first, filters, counts per
status and per skip reason for the period, what was sent (never the link tokens in ``params``),
and "Send again" for a failed message only, by a POST with the CSRF token."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.models import OutboundMessage
from app.services.messaging import dashboard
from app.services.messaging.delivery import queue_message
from tests.outbox import empty_outbox, outbox  # noqa: F401 - empty_outbox: autouse fixture

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET = "tok-SECRET-confirm-link-9f8e7d"


def _message(db, *, status="sent", created_at=None, skip_reason=None, channel="email", kind="plain",
             recipient="an.nguyen@example.vn", name="Nguyễn Văn An", last_error=None, attempts=1,
             subject="Nhắc lịch khám ngày mai", body="Chào anh An, hẹn gặp lúc 08:30.") -> int:
    message = queue_message(db.session, channel=channel, kind=kind, recipient=recipient, recipient_name=name,
                            language="vi", params={"subject": subject, "text": body, "token": SECRET})
    message.status, message.skip_reason, message.last_error, message.attempts = status, skip_reason, last_error, \
        attempts if status != "queued" else 0
    if status == "sent":
        message.subject, message.body = subject, body
    if created_at is not None:
        message.created_at = created_at
    db.session.commit()
    return message.id


@pytest.fixture
def messages(db):
    """Two days of traffic: 1 Dec (clinic time) and 2 Dec."""
    day1 = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)  # 10:00 in Hanoi
    day2 = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
    return {
        "sent": _message(db, created_at=day1),
        "failed": _message(db, status="failed", created_at=day1 + timedelta(minutes=5), attempts=5,
                           last_error="SMTP 451: try again later", recipient="binh.tran@example.vn",
                           name="Trần Thị Bình"),
        "no_phone": _message(db, status="skipped", skip_reason="no_address", channel="sms", recipient=None,
                             name="Lê Văn Cường", created_at=day2, attempts=0),
        "opted_out": _message(db, status="skipped", skip_reason="opted_out", created_at=day2 + timedelta(minutes=1),
                              attempts=0, kind="appointment_reminder"),
        "queued": _message(db, status="queued", created_at=day2 + timedelta(minutes=2), kind="appointment_reminder"),
    }


def test_the_list_is_newest_first_with_counts_per_status_and_skip_reason(db, messages):
    found = dashboard.list_messages(db.session, dashboard.MessageFilter(), ZONE)
    assert [r.id for r in found.rows] == [messages[k] for k in ("queued", "opted_out", "no_phone", "failed", "sent")]
    assert found.by_status == {"queued": 1, "sending": 0, "sent": 1, "failed": 1, "skipped": 2}
    assert found.by_skip_reason == {"no_address": 1, "opted_out": 1}


def test_filters_narrow_the_list_and_the_counts_follow_the_period(db, messages):
    one_day = dashboard.MessageFilter(date_from=date(2026, 12, 1), date_to=date(2026, 12, 1))
    found = dashboard.list_messages(db.session, one_day, ZONE)
    assert {r.id for r in found.rows} == {messages["sent"], messages["failed"]}
    assert found.by_status["skipped"] == 0 and found.by_skip_reason == {}
    # the status filter narrows the list, not the counts (they are per status)
    failed = dashboard.list_messages(db.session, dashboard.MessageFilter(status="failed"), ZONE)
    assert [r.id for r in failed.rows] == [messages["failed"]] and failed.by_status["sent"] == 1
    by_name = dashboard.list_messages(db.session, dashboard.MessageFilter(recipient="trần thị"), ZONE)
    assert [r.id for r in by_name.rows] == [messages["failed"]]
    by_address = dashboard.list_messages(db.session, dashboard.MessageFilter(recipient="BINH.TRAN@"), ZONE)
    assert [r.id for r in by_address.rows] == [messages["failed"]]
    sms = dashboard.list_messages(db.session, dashboard.MessageFilter(channel="sms"), ZONE)
    assert [r.id for r in sms.rows] == [messages["no_phone"]]
    reminders = dashboard.list_messages(db.session, dashboard.MessageFilter(kind="appointment_reminder"), ZONE)
    assert {r.id for r in reminders.rows} == {messages["opted_out"], messages["queued"]}
    nothing = dashboard.list_messages(db.session, dashboard.MessageFilter(recipient="100%_x"), ZONE)
    assert nothing.rows == [] and nothing.total == 0


def test_the_day_boundary_is_the_clinics(db):
    # 23:30 on 1 Dec in Hanoi is 16:30 UTC: it belongs to 1 Dec, not 2 Dec
    late = _message(db, created_at=datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc))
    first = dashboard.list_messages(db.session, dashboard.MessageFilter(date_from=date(2026, 12, 1),
                                                                        date_to=date(2026, 12, 1)), ZONE)
    second = dashboard.list_messages(db.session, dashboard.MessageFilter(date_from=date(2026, 12, 2)), ZONE)
    assert [r.id for r in first.rows] == [late] and second.rows == []


def test_pages_of_the_list(db):
    ids = [_message(db, created_at=datetime(2026, 12, 1, 3, i, tzinfo=timezone.utc)) for i in range(5)]
    second = dashboard.list_messages(db.session, dashboard.MessageFilter(), ZONE, page=2, page_size=2)
    assert [r.id for r in second.rows] == [ids[2], ids[1]] and second.total == 5 and second.pages == 3


def test_the_manager_sees_the_dashboard_with_reasons_in_words(login_as, messages):
    manager = login_as("manager")
    page = manager.get("/messages/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "No phone number on file" in html and "Opted out" in html and "SMTP 451: try again later" in html
    assert "Trần Thị Bình" in html and "binh.tran@example.vn" in html
    assert 'data-status="skipped" data-count="2"' in html and 'data-reason="no_address" data-count="1"' in html
    assert SECRET not in html
    vi = manager.get("/messages/?_l_=vi", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Không có số điện thoại" in vi and "Bảng theo dõi gửi tin" in vi
    only_failed = manager.get("/messages/?status=failed").get_data(as_text=True)
    assert f'data-message="{messages["failed"]}"' in only_failed
    assert f'data-message="{messages["sent"]}"' not in only_failed
    bad = manager.get("/messages/?date_from=2026-12-05&date_to=2026-12-01")
    assert bad.status_code == 422 and "The end date is before the start date." in bad.get_data(as_text=True)


def test_the_detail_shows_what_was_sent_never_the_params(login_as, messages):
    html = login_as("manager").get(f"/messages/{messages['sent']}").get_data(as_text=True)
    assert "Nhắc lịch khám ngày mai" in html and "hẹn gặp lúc 08:30" in html
    assert SECRET not in html
    assert 'id="resend"' not in html  # sent: nothing to send again
    assert 'id="resend"' in login_as("manager").get(f"/messages/{messages['failed']}").get_data(as_text=True)
    assert login_as("manager").get("/messages/999999").status_code == 404


@pytest.mark.parametrize("role", ["receptionist", "doctor", "patient", "cashier"])
def test_other_roles_are_refused(login_as, messages, role):
    browser = login_as(role)
    for path in ("/messages/", f"/messages/{messages['failed']}"):
        response = browser.get(path)
        assert response.status_code in (302, 403), (role, path)
        assert "SMTP 451" not in response.get_data(as_text=True)
    assert browser.post(f"/messages/{messages['failed']}/resend").status_code in (302, 403)


def test_the_menu_has_the_dashboard_for_managers_only(login_as):
    assert 'href="/messages/"' in login_as("manager").get("/").get_data(as_text=True) or \
        "/messages/" in login_as("manager").get("/", follow_redirects=True).get_data(as_text=True)
    assert "/messages/" not in login_as("receptionist").get("/", follow_redirects=True).get_data(as_text=True)


def test_send_again_only_a_failed_one_with_the_csrf_token(app, db, login_as, messages):
    manager = login_as("manager")
    failed = messages["failed"]
    refused = manager.post(f"/messages/{failed}/resend", csrf=False)
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(OutboundMessage, failed).status == "failed"
    # a sent one is not sent again
    response = manager.post(f"/messages/{messages['sent']}/resend", follow_redirects=True)
    assert "Only a message that failed can be sent again." in response.get_data(as_text=True)
    assert outbox(app) == []
    # the failed one goes out again (no Redis in the tests: the job runs in this process)
    done = manager.post(f"/messages/{failed}/resend", follow_redirects=True)
    assert done.status_code == 200 and "queued to be sent again" in done.get_data(as_text=True)
    db.session.expire_all()
    row = db.session.get(OutboundMessage, failed)
    assert (row.status, row.attempts) == ("sent", 1)
    assert [m["To"] for m in outbox(app)] == ["binh.tran@example.vn"]


def test_dates_are_typed_day_first_in_english_too_and_anything_else_is_refused(login_as, messages):
    """The clinic writes 02/12/2026 for 2 December: in English it is read so (never as 12 February),
    ISO still works, and a month-first date is refused with a message, not silently misread."""
    manager = login_as("manager")
    page = manager.get("/messages/?date_from=02/12/2026&date_to=02/12/2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-message="{messages["queued"]}"' in html and f'data-message="{messages["sent"]}"' not in html
    assert "yyyy-mm-dd or dd/mm/yyyy" in html  # the hint says both ways
    iso = manager.get("/messages/?date_from=2026-12-01&date_to=2026-12-01").get_data(as_text=True)
    assert f'data-message="{messages["sent"]}"' in iso and f'data-message="{messages["queued"]}"' not in iso
    month_first = manager.get("/messages/?date_from=12/25/2026")
    assert month_first.status_code == 422
    assert "Not a date; write it as yyyy-mm-dd or dd/mm/yyyy." in month_first.get_data(as_text=True)
    vi = manager.get("/messages/?_l_=vi&date_from=01/12/2026&date_to=01/12/2026").get_data(as_text=True)
    assert f'data-message="{messages["sent"]}"' in vi and f'data-message="{messages["queued"]}"' not in vi
    assert "dd/mm/yyyy" in vi


def test_recipients_are_found_as_staff_type_them(db, make_patient_for_search):
    """A phone written any way finds its E.164 form; a name without accents finds the name."""
    by_phone = _message(db, channel="sms", recipient="+84912345678", name="Phạm Minh Đức")
    by_name = _message(db, recipient="ngan@example.vn", name="Nguyễn Thị Ngân")
    patient_id = make_patient_for_search
    patients = _message(db, recipient="hoa@example.vn", name="H. Le")
    db.session.get(OutboundMessage, patients).patient_id = patient_id
    db.session.commit()

    def found(text: str) -> set[int]:
        return {r.id for r in dashboard.list_messages(db.session, dashboard.MessageFilter(recipient=text), ZONE).rows}

    assert found("0912 345 678") == {by_phone}
    assert found("0912345678") == {by_phone}
    assert found("+84 912 345 678") == {by_phone}
    assert found("0912 345") == {by_phone}  # part of the number
    assert found("nguyen thi ngan") == {by_name}
    assert found("NGUYỄN THỊ") == {by_name}
    assert found("pham minh duc") == {by_phone}
    assert found("le thi hoa") == {patients}  # the patient's name on the record, accents ignored
    assert found("0988 000 111") == set()


@pytest.fixture
def make_patient_for_search(db):
    from app.models import Patient
    from app.services.people import patient_search_text

    patient = Patient(code="BN-SEARCH-1", full_name="Lê Thị Hoa", date_of_birth=date(1990, 1, 1))
    patient.search_text = patient_search_text(patient)
    db.session.add(patient)
    db.session.commit()
    return patient.id
