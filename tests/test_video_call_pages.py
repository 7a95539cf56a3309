"""The video visit's call pages (app/views/video_call.py, app/public/video_call.py): only the
appointment's own doctor and patient get them, inside the join window; everyone else a page that
says why (someone else's visit: 404, logged); a guest goes to the login. And the links to them:
the portal's "Join video visit", the doctor's "Open video call" on My day."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.test_access import ROLES, USERS, _save, audit_rows, world  # noqa: F401 - world: the fixture
from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture


def move(db, appointment_id: int, **fields) -> None:
    from app.models import Appointment

    appointment = db.session.get(Appointment, appointment_id)
    for name, value in fields.items():
        setattr(appointment, name, value)
    db.session.commit()


def page(client, url: str):
    response = client.get(url)
    return response.status_code, response.get_data(as_text=True)


def test_the_doctor_and_the_patient_get_their_pages(login_as, live_visit):  # noqa: F811
    status, html = page(login_as("doctor"), f"/clinic/video/{live_visit}")
    assert status == 200, html[:500]
    assert 'id="video-call"' in html and 'data-role="doctor"' in html and 'data-action="end"' in html
    assert 'id="call-recording"' in html and 'id="call-files"' in html and "js/video_call.js" in html
    status, html = page(login_as("patient"), f"/portal/appointments/{live_visit}/video")
    assert status == 200, html[:500]
    assert 'data-role="patient"' in html and 'data-action="end"' not in html
    assert "The doctor will let you in shortly." in html


def test_each_is_sent_to_their_own_page(login_as, live_visit):  # noqa: F811
    patient_on_doctors = login_as("patient").get(f"/clinic/video/{live_visit}")
    assert patient_on_doctors.status_code == 302
    assert patient_on_doctors.headers["Location"].endswith(f"/portal/appointments/{live_visit}/video")


def test_a_guest_is_asked_to_log_in(client, live_visit):  # noqa: F811
    for url in (f"/clinic/video/{live_visit}", f"/portal/appointments/{live_visit}/video"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_someone_else_gets_404_and_it_is_logged(app, db, login_as, live_visit):  # noqa: F811
    from app.models import AuditEvent

    status, html = page(login_as("receptionist"), f"/clinic/video/{live_visit}")
    assert status == 404 and "This video visit is not yours." in html
    status, html = page(login_as("receptionist"), "/clinic/video/999999")
    assert status == 404
    denied = db.session.execute(select(AuditEvent).where(AuditEvent.action == "denied",
                                                         AuditEvent.entity == "Appointment")).scalars().all()
    assert {row.entity_id for row in denied} >= {str(live_visit), "999999"}


@pytest.mark.parametrize("shift, reason, text", [
    (timedelta(hours=3), "too_early", "The video visit opens 15 minutes before it starts."),
    (-timedelta(hours=3), "too_late", "This video visit is over."),
])
def test_outside_the_join_window_is_refused_with_the_reason(db, login_as, live_visit, shift, reason,  # noqa: F811
                                                            text):
    from app.models import Appointment

    appointment = db.session.get(Appointment, live_visit)
    move(db, live_visit, start_at=appointment.start_at + shift, end_at=appointment.end_at + shift)
    pages = (("doctor", f"/clinic/video/{live_visit}"), ("patient", f"/portal/appointments/{live_visit}/video"))
    for who, url in pages:
        status, html = page(login_as(who), url)
        assert status == 403 and text in html and f'data-reason="{reason}"' in html, (who, status)
        assert ("It opens at" in html) == (reason == "too_early")


def test_an_in_person_visit_has_no_call_page(db, login_as, live_visit):  # noqa: F811
    move(db, live_visit, mode="in_person")
    status, html = page(login_as("patient"), f"/portal/appointments/{live_visit}/video")
    assert status == 403 and "This visit is in person, not by video." in html


def test_the_links_to_the_call_pages(db, login_as, live_visit):  # noqa: F811
    from app.models import Appointment

    _status, html = page(login_as("patient"), "/clinic/me/appointments")
    assert f'href="/portal/appointments/{live_visit}/video"' in html and "Join video visit" in html
    _status, html = page(login_as("doctor"), "/my-day/")
    assert f'href="/clinic/video/{live_visit}"' in html and "Open video call" in html
    appointment = db.session.get(Appointment, live_visit)  # in two days: not yet, it says from when
    later = timedelta(days=2)
    move(db, live_visit, start_at=appointment.start_at + later, end_at=appointment.end_at + later)
    _status, html = page(login_as("patient"), "/clinic/me/appointments")
    assert "Join video visit" not in html and "Video visit: you can join from" in html


def test_a_call_the_doctor_ended_opens_on_ended(app, db, login_as, live_visit):  # noqa: F811
    from app.models import Appointment
    from app.models.types import utcnow
    from app.services import telemedicine

    doctor = app.appbuilder.sm.find_user(username="doctor")
    telemedicine.end_call(db.session, live_visit, doctor, utcnow(), recording_retention_days=30)
    db.session.commit()
    assert db.session.get(Appointment, live_visit).mode == "video"
    _status, html = page(login_as("patient"), f"/portal/appointments/{live_visit}/video")
    assert 'data-ended="true"' in html and 'data-action="reopen"' not in html
    _status, html = page(login_as("doctor"), f"/clinic/video/{live_visit}")
    assert 'data-ended="true"' in html and 'data-action="reopen"' in html


def started_visit(app, db, appointment_id: int):
    """The doctor starts the (checked-in) video visit: its draft record."""
    from app.models.types import utcnow
    from app.services import encounters
    from app.services.settings import ClinicSettings

    move(db, appointment_id, status="checked_in")
    doctor = app.appbuilder.sm.find_user(username="doctor")
    encounter = encounters.start_visit(db.session, appointment_id, doctor, utcnow(),
                                       settings=ClinicSettings.from_config(app.config))
    db.session.commit()
    return encounter


def test_the_visit_workspace_links_to_the_call(app, db, login_as, live_visit):  # noqa: F811
    encounter = started_visit(app, db, live_visit)
    _status, html = page(login_as("doctor"), f"/visit/{encounter.id}")
    assert f'href="/clinic/video/{live_visit}"' in html and "Open video call" in html


# Every role of the access matrix (tests/test_access.py) on both pages of one video visit between
# "doctor_care" and "patient_owner": (doctor's page, patient's page) statuses. Staff have no patient
# record, so the portal's page tells them so (403) before any seat is asked.
CALL_PAGES = {"doctor_care": (200, 403), "patient_owner": (302, 200), "patient_other": (404, 404)}


def world_video_visit(db, world) -> int:  # noqa: F811 - the fixture's value, passed in
    """A video visit under way between "doctor_care" and "patient_owner" of the access matrix."""
    from datetime import datetime, timezone

    from app.models import Appointment

    now = datetime.now(timezone.utc).replace(microsecond=0)
    return _save(db, Appointment(patient_id=world.owner, doctor_id=world.doctor_care, service_id=world.service,
                                 mode="video", status="confirmed", start_at=now - timedelta(minutes=5),
                                 end_at=now + timedelta(minutes=15)))


@pytest.mark.parametrize("role", ROLES)
def test_only_the_visits_doctor_and_patient_get_its_pages(db, world, login_as, role):  # noqa: F811

    visit = world_video_visit(db, world)
    browser = login_as(USERS[role][0])
    doctor_page = browser.get(f"/clinic/video/{visit}").status_code
    patient_page = browser.get(f"/portal/appointments/{visit}/video").status_code
    assert (doctor_page, patient_page) == CALL_PAGES.get(role, (404, 403)), role
    denied = [row.entity_id for row in audit_rows(db, "denied", "Appointment", world.users[role])]
    assert denied == [str(visit)] * ((doctor_page == 404) + (patient_page == 404)), role
