"""A third participant of a video visit (issue 15, item 3): the visit's doctor invites a guest (an
interpreter, a family member) by name; the one-time link opens a page that uses nothing up until its
button is pressed, then makes the guest's own login for this call only; the guest waits until the
doctor admits them and then signals like the others; the link works once, can be withdrawn, and
dies with the call; a guest never records, is never asked to consent, and sees no files; and while
a guest is invited the call cannot be recorded (nor a guest invited while it may record)."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.test_access import ROLES, USERS, world  # noqa: F401 - world: the fixture
from tests.test_realtime import connected, user_id
from tests.test_video_call_tools import live_visit  # noqa: F401 - the fixture
from tests.test_video_signalling import cookies  # noqa: F401 - the fixture

LINK = re.compile(r"/video-guest/([\w-]{20,})")


def page_csrf_token(client, url: str) -> str:
    """The CSRF token a call page hands its scripts (``data-csrf``)."""
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match, html[:300]
    return match.group(1)


def invite(client, appointment_id: int, name: str = "Nguyễn Thị Mai (phiên dịch)"):
    token = page_csrf_token(client, f"/clinic/video/{appointment_id}")
    return client.post(f"/video-call/{appointment_id}/guests", json={"display_name": name},
                       headers={"X-CSRFToken": token})


def secret_of(answer) -> str:
    match = LINK.search(answer.get_json()["link"])
    assert match, answer.get_json()
    return match.group(1)


def use_link(app, secret: str):
    """A fresh browser opens the link and presses the button; returns the browser and the answer."""
    browser = app.test_client()
    landing = browser.get(f"/video-guest/{secret}")
    assert landing.status_code == 200, landing.get_data(as_text=True)[:300]
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', landing.get_data(as_text=True)).group(1)
    return browser, browser.post(f"/video-guest/{secret}", data={"csrf_token": csrf})


def test_only_the_doctor_invites_and_the_link_is_shown_once(app, db, login_as, live_visit):  # noqa: F811
    from app.models import VideoCallGuest

    doctor = login_as("doctor")
    made = invite(doctor, live_visit)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["name"] == "Nguyễn Thị Mai (phiên dịch)" and body["state"] == "invited"
    secret = secret_of(made)
    stored = db.session.execute(select(VideoCallGuest)).scalar_one()
    assert secret not in stored.token_digest and len(stored.token_digest) == 64  # only its hash is kept
    listed = doctor.get(f"/video-call/{live_visit}/guests").get_json()["guests"]
    assert [(g["name"], g["state"]) for g in listed] == [("Nguyễn Thị Mai (phiên dịch)", "invited")]
    assert "link" not in listed[0]  # never shown again

    patient = login_as("patient")
    token = page_csrf_token(patient, f"/portal/appointments/{live_visit}/video")
    refused = patient.post(f"/video-call/{live_visit}/guests", json={"display_name": "Bà ngoại"},
                           headers={"X-CSRFToken": token})
    assert refused.status_code == 403 and refused.get_json()["reason"] == "not_doctor"
    assert patient.get(f"/video-call/{live_visit}/guests").status_code == 403


def test_a_name_is_required_and_one_guest_at_a_time(login_as, live_visit):  # noqa: F811
    doctor = login_as("doctor")
    empty = invite(doctor, live_visit, name="   ")
    assert empty.status_code == 422 and empty.get_json()["field"] == "display_name"
    assert invite(doctor, live_visit, name="x" * 121).status_code == 422
    first = invite(doctor, live_visit)
    assert first.status_code == 201
    second = invite(doctor, live_visit, name="Lê Văn Hùng")
    assert second.status_code == 409 and "one guest" in second.get_json()["message"]
    withdraw = first.get_json()["withdraw_url"]
    token = page_csrf_token(doctor, f"/clinic/video/{live_visit}")
    assert doctor.post(withdraw, json={}, headers={"X-CSRFToken": token}).get_json()["state"] == "withdrawn"
    assert invite(doctor, live_visit, name="Lê Văn Hùng").status_code == 201


def test_opening_the_link_uses_nothing_and_the_button_makes_a_login_for_this_call(app, db, login_as,
                                                                                  live_visit):  # noqa: F811
    from app.models import VideoCallGuest

    secret = secret_of(invite(login_as("doctor"), live_visit))
    page = app.test_client().get(f"/video-guest/{secret}").get_data(as_text=True)
    assert "Nguyễn Thị Mai (phiên dịch)" in page and "Lê Minh Tâm" in page and "Continue to the video visit" in page
    assert db.session.execute(select(VideoCallGuest.redeemed_at)).scalar_one() is None  # a GET changes nothing

    browser, joined = use_link(app, secret)
    assert joined.status_code == 302 and joined.headers["Location"].endswith(f"/video-guest/call/{live_visit}")
    call_page = browser.get(f"/video-guest/call/{live_visit}").get_data(as_text=True)
    assert 'data-role="guest"' in call_page and "Nguyễn Thị Mai (phiên dịch)" in call_page
    assert 'id="call-recording"' not in call_page and 'id="call-files"' not in call_page  # no tools for a guest
    db.session.expire_all()
    guest = db.session.execute(select(VideoCallGuest)).scalar_one()
    assert guest.redeemed_at is not None and guest.user_id is not None

    # the guest's login opens this call and nothing of the clinic's
    tools = f"/video-call/{live_visit}"
    for url, allowed in ((f"/portal/appointments/{live_visit}/video", (403,)), ("/patientview/list/", (302, 403)),
                         ("/clinic/me/appointments", (403,)), (f"{tools}/files", (403,)),
                         (f"{tools}/recordings", (403,)), (f"{tools}/guests", (403,))):
        assert browser.get(url).status_code in allowed, url

    # the link works once: a second browser is told so
    again = app.test_client().get(f"/video-guest/{secret}")
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)


@contextmanager
def invitation_reads(engine):
    """The SELECTs that read the ``video_call_guest`` table while the block runs."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "video_call_guest" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_using_the_link_and_taking_the_guests_seat_read_the_invitation_once(app, db, login_as,
                                                                              live_visit):  # noqa: F811
    from app.models.types import utcnow
    from app.services.telemedicine import JoinWindow, call_seat

    secret = secret_of(invite(login_as("doctor"), live_visit))
    browser = app.test_client()
    landing = browser.get(f"/video-guest/{secret}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', landing).group(1)
    with invitation_reads(db.engine) as reads:
        pressed = browser.post(f"/video-guest/{secret}", data={"csrf_token": csrf})
    assert pressed.status_code in (302, 303) and pressed.headers["Location"].endswith(f"/video-guest/call/{live_visit}")
    assert len(reads) == 1, reads
    # the refusals read it once too, and still come first
    with invitation_reads(db.engine) as reads:
        again = browser.post(f"/video-guest/{secret}", data={"csrf_token": csrf})
    assert again.status_code == 410 and len(reads) == 1, reads

    from app.models import VideoCallGuest

    db.session.expire_all()
    guest = app.appbuilder.sm.get_user_by_id(db.session.execute(select(VideoCallGuest.user_id)).scalar_one())
    with invitation_reads(db.engine) as reads:
        seat = call_seat(db.session, guest, live_visit, utcnow(), JoinWindow(15, 30))
    assert (seat.role, seat.admitted) == ("guest", False)
    assert len(reads) == 1, reads


def test_two_uses_of_one_link_at_once_make_one_login(app, db, login_as, live_visit):  # noqa: F811
    from app.models import VideoCallGuest

    secret = secret_of(invite(login_as("doctor"), live_visit))
    browsers = []
    for _ in range(2):
        browser = app.test_client()
        page = browser.get(f"/video-guest/{secret}").get_data(as_text=True)
        browsers.append((browser, re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)))
    answers: list[int] = []

    def press(browser, csrf):
        answers.append(browser.post(f"/video-guest/{secret}", data={"csrf_token": csrf}).status_code)

    threads = [threading.Thread(target=press, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [302, 410]
    db.session.expire_all()
    assert db.session.execute(select(VideoCallGuest.user_id)).scalar_one() is not None


def test_a_withdrawn_link_and_a_finished_call_do_not_open(app, db, login_as, live_visit):  # noqa: F811
    from app.models import Appointment

    doctor = login_as("doctor")
    made = invite(doctor, live_visit)
    secret = secret_of(made)
    token = page_csrf_token(doctor, f"/clinic/video/{live_visit}")
    doctor.post(made.get_json()["withdraw_url"], json={}, headers={"X-CSRFToken": token})
    withdrawn = app.test_client().get(f"/video-guest/{secret}")
    assert withdrawn.status_code == 410 and "withdrew" in withdrawn.get_data(as_text=True)

    secret = secret_of(invite(doctor, live_visit, name="Lê Văn Hùng"))
    appointment = db.session.get(Appointment, live_visit)
    appointment.start_at -= timedelta(hours=3)
    appointment.end_at -= timedelta(hours=3)
    db.session.commit()
    over = app.test_client().get(f"/video-guest/{secret}")
    assert over.status_code == 410 and "over" in over.get_data(as_text=True)
    assert app.test_client().get("/video-guest/not-a-real-secret-at-all-123").status_code == 404


def test_a_signed_in_browser_is_not_logged_out_by_the_link(app, login_as, live_visit):  # noqa: F811
    doctor = login_as("doctor")
    secret = secret_of(invite(doctor, live_visit))
    page = doctor.get(f"/video-guest/{secret}")
    assert page.status_code == 200 and "another browser" in page.get_data(as_text=True)
    assert "Continue to the video visit" not in page.get_data(as_text=True)
    assert doctor.get(f"/clinic/video/{live_visit}").status_code == 200  # still the doctor


def test_no_recording_while_a_guest_is_invited_and_no_guest_while_it_may_record(app, login_as,
                                                                                 live_visit):  # noqa: F811
    doctor = login_as("doctor")
    token = page_csrf_token(doctor, f"/clinic/video/{live_visit}")
    asked = doctor.post(f"/video-call/{live_visit}/recordings", headers={"X-CSRFToken": token})
    assert asked.status_code == 201
    blocked = invite(doctor, live_visit)
    assert blocked.status_code == 409 and "Stop the recording" in blocked.get_json()["message"]
    stop = doctor.post(f"/video-call/{live_visit}/recordings/{asked.get_json()['recording_id']}/stop",
                       headers={"X-CSRFToken": token})
    assert stop.status_code == 200
    assert invite(doctor, live_visit).status_code == 201
    refused = doctor.post(f"/video-call/{live_visit}/recordings", headers={"X-CSRFToken": token})
    assert refused.status_code == 409 and refused.get_json()["reason"] == "guest"


def invited_guest_cookie(app, login_as, appointment_id: int) -> str:
    """The ``Cookie`` header of a browser that used a fresh invitation of the visit's call."""
    browser, _joined = use_link(app, secret_of(invite(login_as("doctor"), appointment_id)))
    name = app.config.get("SESSION_COOKIE_NAME", "session")
    return f"{name}={browser.get_cookie(name).value}"


def test_the_guest_waits_is_admitted_by_the_doctor_and_signals(app, login_as, live_server, live_visit,  # noqa: F811
                                                                cookies):  # noqa: F811
    guest_cookie = invited_guest_cookie(app, login_as, live_visit)
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=guest_cookie) as guest:
        seated = doctor.call("call:join", {"appointment_id": live_visit})
        waiting = guest.call("call:join", {"appointment_id": live_visit})
        assert (waiting["ok"], waiting["role"], waiting["state"]) == (True, "guest", "waiting")
        assert doctor.wait_for("call:waiting")["name"] == "Nguyễn Thị Mai (phiên dịch)"
        assert guest.call("call:signal", {"appointment_id": live_visit, "to": seated["sid"], "kind": "offer",
                                          "data": {"sdp": "v=0"}})["reason"] == "not_in_call"
        assert doctor.call("call:admit", {"appointment_id": live_visit})["admitted"] == [waiting["sid"]]
        assert guest.wait_for("call:admitted")["names"] == {seated["sid"]: "BS. Lê Minh Tâm"}
        joined = doctor.wait_for("call:peer-joined")
        assert (joined["role"], joined["name"]) == ("guest", "Nguyễn Thị Mai (phiên dịch)")
        assert guest.call("call:signal", {"appointment_id": live_visit, "to": seated["sid"], "kind": "offer",
                                          "data": {"sdp": "v=0"}}) == {"ok": True}
        assert doctor.wait_for("call:signal")["from"] == waiting["sid"]
        # the guest's admission is the guest's own: a rejoin goes straight in
        back = guest.call("call:join", {"appointment_id": live_visit})
        assert back["state"] == "admitted"
        assert guest.call("call:admit", {"appointment_id": live_visit})["reason"] == "not_doctor"
    # the guest's seat is a login of its own, not the doctor's or the patient's
    from app.extensions import db
    from app.models import VideoCallGuest

    with app.app_context():
        guest_user = db.session.execute(select(VideoCallGuest.user_id)).scalar_one()
    assert guest_user not in (None, user_id(app, "doctor"), user_id(app, "patient"))


def test_the_patient_still_waits_after_a_guest_was_admitted(app, login_as, live_server, live_visit,  # noqa: F811
                                                            cookies):  # noqa: F811
    """Admitting is per person: a guest let in first does not open the door for the patient."""
    guest_cookie = invited_guest_cookie(app, login_as, live_visit)
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=guest_cookie) as guest:
        doctor.call("call:join", {"appointment_id": live_visit})
        guest.call("call:join", {"appointment_id": live_visit})
        doctor.wait_for("call:waiting")
        doctor.call("call:admit", {"appointment_id": live_visit})
    with connected(live_server, cookie=cookies("patient")) as patient:
        assert patient.call("call:join", {"appointment_id": live_visit})["state"] == "waiting"


def test_the_doctor_admits_the_one_person_whose_admit_he_pressed(app, db, login_as, live_server,  # noqa: F811
                                                                  live_visit, cookies):  # noqa: F811
    """Each waiting person has their own *Admit* (``call:admit`` with that person's sid): the guest
    let in, the patient (in two tabs) still waits and hears nothing; then the patient, both tabs."""
    from app.models import VideoCall, VideoCallGuest

    guest_cookie = invited_guest_cookie(app, login_as, live_visit)
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=guest_cookie) as guest, \
            connected(live_server, cookie=cookies("patient")) as patient, \
            connected(live_server, cookie=cookies("patient")) as patient_tab:
        seated = doctor.call("call:join", {"appointment_id": live_visit})
        guest_sid = guest.call("call:join", {"appointment_id": live_visit})["sid"]
        patient_sid = patient.call("call:join", {"appointment_id": live_visit})["sid"]
        tab_sid = patient_tab.call("call:join", {"appointment_id": live_visit})["sid"]
        for _each in range(3):
            doctor.wait_for("call:waiting")

        # a sid that is not waiting in this call: the doctor's own, or made up
        for wrong in (seated["sid"], "nobody-waiting-here", 42):
            refused = doctor.call("call:admit", {"appointment_id": live_visit, "sid": wrong})
            assert (refused["ok"], refused["reason"]) == (False, "not_waiting")
            assert refused["message"] == "That person is not waiting to be admitted any more."

        answer = doctor.call("call:admit", {"appointment_id": live_visit, "sid": guest_sid})
        assert answer["ok"] and answer["admitted"] == [guest_sid]
        assert guest.wait_for("call:admitted")["names"] == {seated["sid"]: "BS. Lê Minh Tâm"}
        assert doctor.wait_for("call:peer-joined")["role"] == "guest"
        patient.nothing("call:admitted")
        patient_tab.nothing("call:admitted")
        db.session.expire_all()
        call = db.session.execute(select(VideoCall).where(VideoCall.appointment_id == live_visit)).scalar_one()
        assert call.admitted_at is None  # the patient is not recorded as admitted
        assert db.session.execute(select(VideoCallGuest.admitted_at)).scalar_one() is not None
        # still waiting: a signal to the doctor is refused, and a rejoin waits again
        assert patient.call("call:signal", {"appointment_id": live_visit, "to": seated["sid"], "kind": "offer",
                                            "data": {"sdp": "v=0"}})["reason"] == "not_in_call"

        answer = doctor.call("call:admit", {"appointment_id": live_visit, "sid": tab_sid})
        assert answer["ok"] and sorted(answer["admitted"]) == sorted([patient_sid, tab_sid])
        for tab in (patient, patient_tab):
            assert set(tab.wait_for("call:admitted")["peers"]) == {seated["sid"], guest_sid}
        guest.nothing("call:admitted", within=0.3)  # it heard its own admission only, once
        db.session.expire_all()
        call = db.session.execute(select(VideoCall).where(VideoCall.appointment_id == live_visit)).scalar_one()
        assert call.admitted_at is not None
        # the guest, in the call, is no longer waiting: admitting it again is refused
        again = doctor.call("call:admit", {"appointment_id": live_visit, "sid": guest_sid})
        assert again["reason"] == "not_waiting"


# Every role of the access matrix (tests/test_access.py) on the invitations of one video visit
# between "doctor_care" and "patient_owner": only its doctor lists and makes them; its patient has a
# seat but is not the doctor (403); everyone else has no seat at all (404, logged like any read of
# someone else's visit).
@pytest.mark.parametrize("role", ROLES)
def test_only_the_visits_doctor_sees_and_makes_invitations(db, world, login_as, role):  # noqa: F811
    from app.models import VideoCallGuest
    from tests.test_video_call_pages import world_video_visit

    visit = world_video_visit(db, world)
    browser = login_as(USERS[role][0])
    listed = browser.get(f"/video-call/{visit}/guests")
    expected = {"doctor_care": 200, "patient_owner": 403}.get(role, 403)
    assert listed.status_code == expected, (role, listed.get_json())
    if role != "doctor_care":
        assert listed.get_json()["reason"] in ("not_yours", "not_doctor")
        assert "guests" not in listed.get_json()
    db.session.rollback()
    assert db.session.execute(select(VideoCallGuest)).first() is None


def _in_call_with_a_guest(doctor, guest, appointment_id: int) -> tuple[str, str]:
    """The doctor in the call and the guest admitted; their sids."""
    seated = doctor.call("call:join", {"appointment_id": appointment_id})
    waiting = guest.call("call:join", {"appointment_id": appointment_id})
    assert doctor.call("call:admit", {"appointment_id": appointment_id})["admitted"] == [waiting["sid"]]
    guest.wait_for("call:admitted")
    doctor.wait_for("call:peer-joined")
    return seated["sid"], waiting["sid"]


def test_a_guest_whose_invitation_is_withdrawn_is_out_of_the_call_at_once(app, login_as, live_server,  # noqa: F811
                                                                          live_visit, cookies):  # noqa: F811
    """The withdrawal takes the guest's sockets out of the call room there and then: no signal
    either way, even though the guest's seat was checked a moment ago."""
    doctor_page = login_as("doctor")
    made = invite(doctor_page, live_visit)
    browser, _joined = use_link(app, secret_of(made))
    name = app.config.get("SESSION_COOKIE_NAME", "session")
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=f"{name}={browser.get_cookie(name).value}") as guest:
        doctor_sid, guest_sid = _in_call_with_a_guest(doctor, guest, live_visit)
        offer = {"appointment_id": live_visit, "to": doctor_sid, "kind": "offer", "data": {"sdp": "v=0"}}
        assert guest.call("call:signal", offer) == {"ok": True}
        doctor.wait_for("call:signal")
        token = page_csrf_token(doctor_page, f"/clinic/video/{live_visit}")
        assert doctor_page.post(made.get_json()["withdraw_url"], json={}, headers={"X-CSRFToken": token}
                                ).get_json()["state"] == "withdrawn"
        assert doctor.wait_for("call:peer-left") == {"sid": guest_sid, "role": "guest"}
        assert guest.wait_for("call:ended") == {"appointment_id": live_visit}
        assert guest.call("call:signal", offer)["reason"] == "not_in_call"
        assert doctor.call("call:signal", {**offer, "to": guest_sid})["reason"] == "peer_not_in_call"
        assert guest.call("call:join", {"appointment_id": live_visit})["reason"] == "not_yours"
        doctor.nothing("call:signal")


def test_a_guest_withdrawn_elsewhere_is_refused_at_the_seats_next_check(app, db, login_as, live_server,  # noqa: F811
                                                                         live_visit, cookies, monkeypatch):  # noqa: F811
    """Withdrawn where this process did not hear of it (another process, a script): the seat's
    periodic check (one query) finds it, refuses the signal with its reason and audits it, and
    takes the guest out of the call."""
    from app.models import VideoCallGuest
    from app.models.types import utcnow
    from app.realtime import calls
    from app.services import telemedicine
    from tests.test_video_signalling import call_denials

    monkeypatch.setattr(calls.Calls, "sweep", lambda self: 0)  # this test is about a signal's own check
    guest_cookie = invited_guest_cookie(app, login_as, live_visit)
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=guest_cookie) as guest:
        doctor_sid, guest_sid = _in_call_with_a_guest(doctor, guest, live_visit)
        offer = {"appointment_id": live_visit, "to": doctor_sid, "kind": "offer", "data": {"sdp": "v=0"}}
        assert guest.call("call:signal", offer) == {"ok": True}
        doctor.wait_for("call:signal")
        invitation = db.session.execute(select(VideoCallGuest)).scalar_one()
        telemedicine.revoke_guest(db.session, live_visit, invitation.id, app.appbuilder.sm.find_user(username="doctor"),
                                  utcnow())
        db.session.commit()
        assert guest.call("call:signal", offer) == {"ok": True}  # checked at the join, moments ago
        doctor.wait_for("call:signal")
        monkeypatch.setattr(calls, "RECHECK_SECONDS", 0.0)  # the check is due
        refused = guest.call("call:signal", offer)
        assert (refused["ok"], refused["reason"]) == (False, "withdrawn")
        assert doctor.wait_for("call:peer-left") == {"sid": guest_sid, "role": "guest"}
        assert guest.call("call:signal", offer)["reason"] == "not_in_call"
        doctor.nothing("call:signal")
    assert [(row["event"], row["reason"]) for row in call_denials(app)][:2] == [("call:signal", "withdrawn"),
                                                                                 ("call:signal", "not_in_call")]


def test_the_seats_are_swept_every_few_seconds_and_a_withdrawn_guest_leaves(app, db, login_as, live_server,  # noqa: F811
                                                                           live_visit, cookies):  # noqa: F811
    """Every seat of the process is re-checked together in the background (``Calls.sweep``, every
    RECHECK_SECONDS / 2): one that holds counts as checked now, a withdrawn guest leaves the call."""
    import time

    from app.models import VideoCallGuest
    from app.models.types import utcnow
    from app.services import telemedicine

    calls = app.extensions["video_calls"]
    guest_cookie = invited_guest_cookie(app, login_as, live_visit)
    with connected(live_server, cookie=cookies("doctor")) as doctor, \
            connected(live_server, cookie=guest_cookie) as guest:
        doctor_sid, guest_sid = _in_call_with_a_guest(doctor, guest, live_visit)
        assert calls.sweeping
        before = calls.seat(doctor_sid)["checked"]
        time.sleep(0.01)
        with app.app_context():
            assert calls.sweep() == 0
        assert calls.seat(doctor_sid)["checked"] > before and calls.seat(guest_sid)["checked"] > before
        invitation = db.session.execute(select(VideoCallGuest)).scalar_one()
        telemedicine.revoke_guest(db.session, live_visit, invitation.id, app.appbuilder.sm.find_user(username="doctor"),
                                  utcnow())
        db.session.commit()
        with app.app_context():
            assert calls.sweep() == 1
        assert doctor.wait_for("call:peer-left") == {"sid": guest_sid, "role": "guest"}
        offer = {"appointment_id": live_visit, "to": doctor_sid, "kind": "offer", "data": {"sdp": "v=0"}}
        assert guest.call("call:signal", offer)["reason"] == "not_in_call"
        assert calls.seat(doctor_sid) is not None and calls.seat(guest_sid) is None


def test_a_guests_login_is_retired_once_the_call_is_over(app, db, login_as, live_server, live_visit,  # noqa: F811
                                                          cookies):  # noqa: F811
    """The periodic job deactivates a guest's login once the call is over (the doctor ended it, or
    the visit is no longer callable) and ends its sessions: the cookie neither opens the guest's page
    nor takes a seat. The user row stays (audit rows name it); a guest of a call still open is
    untouched."""
    import socketio
    from flask_appbuilder.security.sqla.models import User

    from app.jobs.maintenance import retire_guest_logins
    from app.jobs.periodic import PERIODIC_JOBS
    from app.models import Appointment, VideoCall, VideoCallGuest
    from app.models.types import utcnow
    from app.services.accounts.sessions import SESSIONS
    from app.services.telemedicine import end_call

    assert any(p.func == "app.jobs.maintenance.retire_guest_logins" and p.every_seconds <= 600
               for p in PERIODIC_JOBS)
    visit = db.session.get(Appointment, live_visit)
    later = Appointment(patient_id=visit.patient_id, doctor_id=visit.doctor_id, service_id=visit.service_id,
                        mode="video", start_at=visit.end_at, end_at=visit.end_at + timedelta(minutes=20),
                        status="confirmed")  # right after: its call opens now too
    db.session.add(later)
    db.session.commit()
    later_id = later.id
    doctor_page = login_as("doctor")
    ended_guest, _pressed = use_link(app, secret_of(invite(doctor_page, live_visit)))
    open_guest, _pressed = use_link(app, secret_of(invite(doctor_page, later_id, name="Lê Văn Hùng")))
    assert ended_guest.get(f"/video-guest/call/{live_visit}").status_code == 200
    assert open_guest.get(f"/video-guest/call/{later_id}").status_code == 200

    def guest_of(appointment_id):
        db.session.expire_all()
        return db.session.execute(select(User).join(VideoCallGuest, VideoCallGuest.user_id == User.id)
                                  .join(VideoCall, VideoCall.id == VideoCallGuest.video_call_id)
                                  .where(VideoCall.appointment_id == appointment_id)).scalar_one()

    assert retire_guest_logins() == 0  # both calls still open
    assert guest_of(live_visit).active and guest_of(later_id).active

    end_call(db.session, live_visit, app.appbuilder.sm.find_user(username="doctor"), utcnow(),
             recording_retention_days=30)
    db.session.commit()
    assert retire_guest_logins() == 1
    retired, kept = guest_of(live_visit), guest_of(later_id)
    assert retired.active is False and kept.active is True
    ends = {row.user_id: row.end_reason for row in db.session.execute(
        select(SESSIONS.c.user_id, SESSIONS.c.end_reason).where(SESSIONS.c.user_id.in_([retired.id, kept.id])))}
    assert ends == {retired.id: "guest_call_over", kept.id: None}

    # the retired guest's cookie: no page, no seat
    page = ended_guest.get(f"/video-guest/call/{live_visit}")
    assert page.status_code == 403 and "Open the invitation link the doctor sent you" in page.get_data(as_text=True)
    name = app.config.get("SESSION_COOKIE_NAME", "session")
    cookie = f"{name}={ended_guest.get_cookie(name).value}"
    try:
        with connected(live_server, cookie=cookie) as guest:
            assert guest.call("call:join", {"appointment_id": live_visit})["reason"] == "login"
    except socketio.exceptions.ConnectionError:
        pass  # refused at the connection already
    # the guest of the call still open keeps its page and its seat
    assert open_guest.get(f"/video-guest/call/{later_id}").status_code == 200
    cookie = f"{name}={open_guest.get_cookie(name).value}"
    with connected(live_server, cookie=cookie) as guest:
        assert guest.call("call:join", {"appointment_id": later_id})["state"] == "waiting"

    assert retire_guest_logins() == 0  # once
    # a visit no longer callable retires its guest too
    db.session.get(Appointment, later_id).status = "cancelled"
    db.session.commit()
    assert retire_guest_logins() == 1
    assert guest_of(later_id).active is False
    assert open_guest.get(f"/video-guest/call/{later_id}").status_code == 403
