"""The reminder's signed links (app.services.appointment_links) and the pages they open
(app/public/appointment_links.py), without logging in: GET changes nothing, POST confirms, cancels
(within the patient cut-off) or moves to a free time; a tampered, expired, wrong-purpose, other
appointment's or outdated link is refused with a page that says why, and nothing changes."""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta

import pytest

from app.models import Appointment, AppointmentEvent
from app.models.types import utcnow
from app.services import appointment_links as links
from app.services.settings import ClinicSettings
from tests.outbox import body, empty_outbox, outbox  # noqa: F401 - empty_outbox: autouse fixture
from tests.reminder_mail_helpers import VISIT_UTC, confirmed_appointment, links_in, queue_reminder


def _url(app, db, purpose: str, appointment_id: int, language: str | None = None, now: datetime | None = None) -> str:
    """The link's path and query, as the reminder writes it."""
    url = links.link_url(app.config, purpose, db.session.get(Appointment, appointment_id), now=now or utcnow(),
                         language=language)
    return url.removeprefix(app.config["PUBLIC_BASE_URL"].rstrip("/"))


def _token(path: str) -> str:
    return path.split("?")[0].rsplit("/", 1)[1]


def _check(app, db, token: str, purpose: str, now: datetime | None = None):
    with app.test_request_context():
        return links.check_link(db.session, token, purpose, secret=app.config["SECRET_KEY"], now=now or utcnow(),
                                zone=ClinicSettings.from_config(app.config).timezone)


def _refusal(app, db, token: str, purpose: str, now: datetime | None = None) -> links.AppointmentLinkRefused:
    with pytest.raises(links.AppointmentLinkRefused) as refused:
        _check(app, db, token, purpose, now)
    return refused.value


def _status(db, appointment_id: int) -> tuple[str, datetime]:
    db.session.expire_all()
    row = db.session.get(Appointment, appointment_id)
    return row.status, row.start_at


# --- the link service -----------------------------------------------------------------------------


def test_a_link_opens_its_own_appointment_for_its_own_purpose(app, db, clinic):
    appointment = confirmed_appointment(clinic)
    token = _token(_url(app, db, "confirm", appointment))
    assert _check(app, db, token, "confirm").appointment.id == appointment
    # the same token is not a cancel or reschedule link
    for purpose in ("cancel", "reschedule", "choose"):
        assert _refusal(app, db, token, purpose).reason == "invalid"


def test_a_tampered_link_is_refused(app, db, clinic):
    appointment = confirmed_appointment(clinic)
    token = _token(_url(app, db, "cancel", appointment))
    payload, rest = token.split(".", 1)
    for broken in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token + "x", "", "x" * 500,
                   "not-a-token"):
        refused = _refusal(app, db, broken, "cancel")
        assert (refused.reason, refused.status) == ("invalid", 400)
    # pointing the signed link at another appointment breaks the signature
    other = confirmed_appointment(clinic, start=VISIT_UTC + timedelta(hours=3))
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert data[0] == appointment
    forged = base64.urlsafe_b64encode(json.dumps([other, *data[1:]], separators=(",", ":")).encode()).decode()
    assert _refusal(app, db, f"{forged.rstrip('=')}.{rest}", "cancel").reason == "invalid"
    # and a link signed with another key is not ours
    foreign = links.make_token("another-secret", "cancel", other, VISIT_UTC + timedelta(hours=3), VISIT_UTC)
    assert _refusal(app, db, foreign, "cancel").reason == "invalid"


def test_a_link_expires_after_its_days_and_never_outlives_the_visit(app, db, clinic):
    appointment = confirmed_appointment(clinic)
    now = utcnow()
    token = _token(_url(app, db, "confirm", appointment, now=now))
    assert _check(app, db, token, "confirm", now=VISIT_UTC - timedelta(minutes=1)).expires_at == VISIT_UTC
    refused = _refusal(app, db, token, "confirm", now=VISIT_UTC)
    assert (refused.reason, refused.status) == ("expired", 410)
    # a visit further away than REMINDER_LINK_DAYS: the link stops after those days
    far = confirmed_appointment(clinic, start=VISIT_UTC + timedelta(days=40))
    token = _token(_url(app, db, "confirm", far, now=now))
    days = app.config["REMINDER_LINK_DAYS"]
    assert _check(app, db, token, "confirm", now=now + timedelta(days=days) - timedelta(minutes=1))
    assert _refusal(app, db, token, "confirm", now=now + timedelta(days=days)).reason == "expired"


def test_a_link_for_the_old_time_stops_working_once_the_appointment_moves(app, db, clinic):
    appointment = confirmed_appointment(clinic)
    token = _token(_url(app, db, "confirm", appointment))
    row = db.session.get(Appointment, appointment)
    row.start_at, row.end_at = row.start_at + timedelta(hours=2), row.end_at + timedelta(hours=2)
    db.session.commit()
    refused = _refusal(app, db, token, "confirm")
    assert (refused.reason, refused.status) == ("moved", 410)
    assert "10:30" in refused.message  # the new time, in clinic time
    # a new link (the next reminder's) works
    assert _check(app, db, _token(_url(app, db, "confirm", appointment)), "confirm").appointment.id == appointment


def test_a_cancelled_or_unknown_appointment_is_said_so(app, db, clinic):
    appointment = confirmed_appointment(clinic)
    token = _token(_url(app, db, "reschedule", appointment))
    db.session.get(Appointment, appointment).status = "cancelled"
    db.session.commit()
    assert _refusal(app, db, token, "reschedule").reason == "cancelled"
    gone = links.make_token(app.config["SECRET_KEY"], "reschedule", 987654, VISIT_UTC, VISIT_UTC)
    refused = _refusal(app, db, gone, "reschedule")
    assert (refused.reason, refused.status) == ("gone", 404)


# --- the pages ------------------------------------------------------------------------------------


def test_confirm_get_changes_nothing_and_post_confirms(app, db, clinic, client):
    appointment = confirmed_appointment(clinic, status="requested")
    path = _url(app, db, "confirm", appointment, language="en")
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Confirm your appointment" in html and "BS. Trần Thị Bình" in html and "Khám tổng quát" in html
    assert 'name="csrf_token"' in html
    assert _status(db, appointment)[0] == "requested"
    # a POST without the form's token (another site's form) changes nothing
    assert client.post(path, csrf=False).status_code == 400
    assert _status(db, appointment)[0] == "requested"
    done = client.post(path)
    assert done.status_code == 200 and "your appointment is confirmed" in done.get_data(as_text=True)
    assert _status(db, appointment)[0] == "confirmed"
    event = db.session.query(AppointmentEvent).filter_by(appointment_id=appointment, to_status="confirmed").one()
    assert event.actor_id is None and event.note == "Confirmed from the reminder"
    # the link again: already confirmed, no error, nothing new
    again = client.post(path)
    assert again.status_code == 200 and "already confirmed" in again.get_data(as_text=True)
    assert "already confirmed" in client.get(path).get_data(as_text=True)
    assert db.session.query(AppointmentEvent).filter_by(appointment_id=appointment, to_status="confirmed").count() == 1


def test_the_page_speaks_the_language_of_the_link(app, db, clinic, client):
    appointment = confirmed_appointment(clinic, status="requested")
    html = client.get(_url(app, db, "confirm", appointment, language="vi")).get_data(as_text=True)
    assert "Xác nhận lịch hẹn của bạn" in html and "Vâng, tôi sẽ đến" in html


def test_cancel_asks_for_an_optional_reason_and_cancels(app, db, clinic, client):
    appointment = confirmed_appointment(clinic)
    path = _url(app, db, "cancel", appointment, language="en")
    page = client.get(path)
    assert page.status_code == 200 and 'name="reason"' in page.get_data(as_text=True)
    assert _status(db, appointment)[0] == "confirmed"
    done = client.post(path, data={"reason": "Bận việc gia đình"})
    assert done.status_code == 200 and "Your appointment is cancelled" in done.get_data(as_text=True)
    db.session.expire_all()
    row = db.session.get(Appointment, appointment)
    assert (row.status, row.cancel_reason, row.cancelled_by_id) == ("cancelled", "Bận việc gia đình", None)
    # the same link again: "already cancelled", 410
    again = client.post(path, data={"reason": ""})
    assert again.status_code == 410 and "already been cancelled" in again.get_data(as_text=True)


def test_cancel_without_a_reason_is_fine(app, db, clinic, client):
    appointment = confirmed_appointment(clinic)
    assert client.post(_url(app, db, "cancel", appointment), data={"reason": ""}).status_code == 200
    db.session.expire_all()
    row = db.session.get(Appointment, appointment)
    assert row.status == "cancelled" and row.cancel_reason == "Cancelled by the patient from the reminder"


def test_after_the_cut_off_cancel_and_reschedule_say_to_call_the_clinic(app, db, clinic, client, monkeypatch):
    monkeypatch.setitem(app.config, "CLINIC_PHONE", "028 3822 1234")
    monkeypatch.setitem(app.config, "BOOKING_PATIENT_CUTOFF_HOURS", 24 * 30)  # the visit is within the cut-off
    appointment = confirmed_appointment(clinic)
    for purpose in ("cancel", "reschedule"):
        path = _url(app, db, purpose, appointment)
        page = client.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "please call the clinic" in html and "028 3822 1234" in html
        assert 'name="reason"' not in html and "pub-slot" not in html
        refused = client.post(path, data={"reason": "x", "start": "2030-01-01T02:00Z"})
        assert refused.status_code == 409
    assert _status(db, appointment) == ("confirmed", VISIT_UTC)


def test_reschedule_offers_free_times_and_moves(app, db, clinic, client):
    appointment = confirmed_appointment(clinic)
    path = _url(app, db, "reschedule", appointment, language="en")
    old_confirm = _url(app, db, "confirm", appointment)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "pub-slot" in html
    assert _status(db, appointment) == ("confirmed", VISIT_UTC)
    new_start = VISIT_UTC + timedelta(days=1)
    # tapping a time asks once more (a GET): nothing moves yet
    ask = client.get(f"{path}&start={new_start:%Y-%m-%dT%H:%MZ}").get_data(as_text=True)
    assert "Move your appointment to" in ask and f'data-chosen="{new_start:%Y-%m-%dT%H:%MZ}"' in ask
    assert _status(db, appointment) == ("confirmed", VISIT_UTC)
    done = client.post(path, data={"start": new_start.strftime("%Y-%m-%dT%H:%MZ")})
    assert done.status_code == 200 and "Your appointment is moved" in done.get_data(as_text=True)
    assert _status(db, appointment) == ("confirmed", new_start)
    # the links of the old time no longer work, and say where the appointment went
    stale = client.get(path)
    assert stale.status_code == 410 and "has been moved to" in stale.get_data(as_text=True)
    assert client.post(old_confirm).status_code == 410
    assert _status(db, appointment) == ("confirmed", new_start)


def test_a_time_just_taken_says_so_and_offers_the_times_again(app, db, clinic, client):
    from app.models import Patient

    appointment = confirmed_appointment(clinic)
    path = _url(app, db, "reschedule", appointment, language="en")
    taken = VISIT_UTC + timedelta(days=1)
    day = (taken + timedelta(hours=7)).date().isoformat()  # clinic time (UTC+7)
    offered = f"start={taken:%Y-%m-%dT%H:%MZ}"  # each time links to its confirm step
    assert offered in client.get(f"{path}&day={day}").get_data(as_text=True)
    other = clinic.save(Patient(full_name="Lê Thị Cúc", phone="0987 000 111"))
    clinic.save(Appointment(patient_id=other, doctor_id=clinic.doctor, service_id=clinic.service, start_at=taken,
                            status="confirmed"))
    answer = client.post(path, data={"start": taken.strftime("%Y-%m-%dT%H:%MZ")})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "data-error" in html and "pub-slot" in html
    assert f'data-day="{day}"' in html  # the day of the time tried is shown again
    assert offered not in html  # without the taken time
    assert _status(db, appointment) == ("confirmed", VISIT_UTC)


def test_refused_links_say_why_and_change_nothing(app, db, clinic, client, monkeypatch):
    appointment = confirmed_appointment(clinic, status="requested")
    confirm = _url(app, db, "confirm", appointment)
    cancel = _url(app, db, "cancel", appointment)
    # tampered
    answer = client.post(confirm.replace("/confirm/", "/confirm/x"))
    assert answer.status_code == 400 and "This link is not valid" in answer.get_data(as_text=True)
    # another purpose's token under this purpose's address
    answer = client.post(f"/clinic/visit/confirm/{_token(cancel)}")
    assert answer.status_code == 400
    # expired (the visit's time has come)
    monkeypatch.setattr("app.public.appointment_links.utcnow", lambda: VISIT_UTC + timedelta(minutes=1))
    answer = client.post(confirm)
    assert answer.status_code == 410 and "This link has expired" in answer.get_data(as_text=True)
    assert _status(db, appointment) == ("requested", VISIT_UTC)
    assert db.session.query(AppointmentEvent).filter_by(appointment_id=appointment, to_status="confirmed").count() == 0


def test_the_sms_page_offers_the_three_choices(app, db, clinic, client, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://phongkham.example.vn")
    appointment = confirmed_appointment(clinic)
    message = queue_reminder(db, appointment, language="vi", channel="sms")
    from app.services.messaging.render import render

    with app.test_request_context():
        sms = render(db.session, message, app.config).short_text
    page = client.get(links_in(sms)["choose"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Bạn sẽ đến khám chứ?" in html
    hrefs = re.findall(r'href="(/clinic/visit/[^"]+)"', html.replace("&amp;", "&"))
    choices = links_in("\n".join(f"https://phongkham.example.vn{href}" for href in hrefs))
    assert set(choices) == {"confirm", "cancel", "reschedule"}
    assert client.post(choices["cancel"], data={"reason": ""}).status_code == 200
    assert _status(db, appointment)[0] == "cancelled"


def test_the_reminder_email_links_open_the_pages(app, db, clinic, client):
    from app.services.messaging.delivery import deliver_message

    appointment = confirmed_appointment(clinic, status="requested")
    app.config["REMINDER_INCLUDE_REQUESTED"] = True
    try:
        message = queue_reminder(db, appointment, language="en")
        assert deliver_message(db.session, message.id, app.config) == "sent"
    finally:
        app.config["REMINDER_INCLUDE_REQUESTED"] = False
    mail_links = links_in(body(outbox(app)[0]))
    assert client.post(mail_links["confirm"]).status_code == 200
    assert _status(db, appointment)[0] == "confirmed"
    assert client.get(mail_links["reschedule"]).status_code == 200
    assert client.get(mail_links["cancel"]).status_code == 200
