"""Signing up on the public site: confirmed by a link mailed to the address, the same answer
whatever is already registered, single-use expiring links, and linking to the desk's record only
by a confirmed e-mail or by phone plus date of birth."""
from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.factories import DAY, local_time
from tests.outbox import body, empty_outbox, mails_to  # noqa: F401  (empty_outbox: autouse)

GOOD_PASSWORD = "Mưa-rơi trên phố Huế 7"
LINK = re.compile(r"https?://[^\s]+/clinic/(confirm|password/reset)/([A-Za-z0-9_\-]+)")


# --- helpers -----------------------------------------------------------------------------------









def link_in(message) -> str:
    found = LINK.search(body(message))
    assert found, body(message)
    return "/" + found.group(0).split("/", 3)[3]


def new_email() -> str:
    return f"an.{uuid.uuid4().hex[:8]}@mail.example"


def sign_up(client, email: str, **fields):
    data = {"full_name": "Nguyễn Thị Ánh", "phone": "0912 345 678", "email": email, "date_of_birth": "1990-05-17",
            "password": GOOD_PASSWORD, **fields}
    return client.post("/clinic/signup", data=data)


def log_in(app, login: str, password: str = GOOD_PASSWORD):
    browser = app.test_client()
    response = browser.post("/login/", data={"username": login, "password": password})
    return browser, response


def without_token(html: str, *variable: str) -> str:
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*"[^>]*name="csrf_token"', "CSRF", html)
    for value in variable:
        html = html.replace(value, "VALUE")
    return html


def _slot(hhmm: str = "09:00") -> str:
    from datetime import datetime, timezone

    return datetime.fromisoformat(local_time(hhmm)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def desk_patient(app, **fields) -> int:
    from app.extensions import db
    from app.models import Patient
    from app.services import rules
    from app.services.settings import ClinicSettings

    with app.app_context():
        patient = Patient(**{"full_name": "Nguyễn Thị Ánh", **fields})
        rules.validate(db.session, patient, ClinicSettings.from_config(app.config))
        db.session.add(patient)
        db.session.commit()
        return patient.id


def patient_of(app, login: str):
    from app.extensions import db
    from app.models import Patient

    with app.app_context():
        user = app.appbuilder.sm.find_user(username=login)
        patient = db.session.execute(select(Patient).where(Patient.user_id == user.id)).scalar_one_or_none()
        return None if patient is None else (patient.id, patient.full_name, patient.phone)


def confirm(app, email: str):
    """Open the newest link mailed to ``email`` and press its button (as a guest)."""
    browser = app.test_client()
    url = link_in(mails_to(app, email)[-1])
    page = browser.get(url)
    assert page.status_code == 200 and "Confirm my e-mail address" in page.get_data(as_text=True)
    return browser.post(url), url


# --- the main flow -----------------------------------------------------------------------------


def test_sign_up_then_confirm_then_book(app, clinic):
    email = new_email()
    guest = app.test_client()
    response = sign_up(guest, email.upper(), next="/clinic/book")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Check your e-mail" in page and email in page  # the address is the login, in lower case
    [message] = mails_to(app, email)
    assert "Confirm your e-mail address" in message["Subject"] and "Your login is this e-mail address" in body(message)

    # The login works, booking does not: the page says why and offers the link again.
    browser, response = log_in(app, email)
    assert response.status_code == 302 and not response.headers["Location"].startswith("/login")
    booking = {"service": clinic.service, "doctor": clinic.doctor, "start": _slot("10:00"), "reason": ""}
    refused = browser.post("/clinic/book/confirm", data=booking)
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "Confirm your e-mail address first" in page and email in page
    assert 'action="/clinic/confirm/resend"' in page and "Send the link again" in page
    assert browser.get("/clinic/me/appointments").status_code == 403
    assert patient_of(app, email) is None

    # The resend button: a new link, and the first one stops working.
    first = link_in(mails_to(app, email)[-1])
    assert browser.post("/clinic/confirm/resend", data={"next": "/clinic/book"}).status_code == 302
    assert len(mails_to(app, email)) == 2
    assert app.test_client().get(first).status_code == 400

    response, url = confirm(app, email)
    assert response.status_code == 302
    assert patient_of(app, email)[1:] == ("Nguyễn Thị Ánh", "+84912345678")
    booked = browser.post("/clinic/book/confirm", data=booking)
    assert booked.status_code == 302 and booked.headers["Location"] == "/clinic/me/appointments"
    assert "Khám tổng quát" in browser.get("/clinic/me/appointments").get_data(as_text=True)
    # the link is spent
    again = app.test_client().post(url)
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)


def test_sign_up_gives_the_patient_role_only_and_no_staff_can_sign_up(app, client):
    email = new_email()
    assert sign_up(client, email, roles="1", role="Admin", username="boss").status_code == 200
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=email)
        assert [role.name for role in user.roles] == ["Patient"]
        assert app.appbuilder.sm.find_user(username="boss") is None
        assert not app.config.get("AUTH_USER_REGISTRATION")  # FAB's self-registration is off
    for url in ("/register/form", "/register/activation/x", "/registeruser/add"):
        assert client.get(url).status_code == 404


def test_the_login_page_leads_to_the_reset_and_the_sign_up(client):
    page = client.get("/login/").get_data(as_text=True)
    assert 'name="username"' in page and 'href="/clinic/password/forgot"' in page and 'href="/clinic/signup"' in page
    assert "Patients log in with their e-mail address." in page
    assert "Bệnh nhân đăng nhập bằng địa chỉ e-mail" in client.get("/login/", headers={
        "Accept-Language": "vi"}).get_data(as_text=True)


# --- the same answer whatever is registered ----------------------------------------------------


@pytest.mark.parametrize("taken", ["email", "email_other_case", "username", "unconfirmed_email", "desk_phone",
                                   "desk_email"])
def test_the_answer_is_the_same_for_registered_and_new_details(app, taken):
    desk_patient(app, phone="0911 222 333", date_of_birth=date(1980, 1, 2), email="desk@mail.example")
    earlier = new_email()
    if taken == "unconfirmed_email":
        sign_up(app.test_client(), earlier)
    if taken == "username":  # a login named like an address, with another e-mail
        with app.app_context():
            sm = app.appbuilder.sm
            sm.add_user(earlier, "Khoa", "Lê", f"other.{earlier}", sm.find_role("Receptionist"), password="x")
    existing = {"email": "doctor@test.example", "email_other_case": "Doctor@Test.Example", "username": earlier,
                "unconfirmed_email": earlier, "desk_phone": new_email(), "desk_email": "desk@mail.example"}[taken]
    fresh = new_email()
    phone = "0911 222 333" if taken == "desk_phone" else "0912 345 678"
    answers = []
    for address in (existing, fresh):
        client = app.test_client()
        client.get("/clinic/signup")
        response = sign_up(client, address, phone=phone)
        answers.append((response.status_code, without_token(response.get_data(as_text=True), address.lower()),
                        sorted(response.headers.keys())))
    assert answers[0] == answers[1]
    with app.app_context():
        assert app.appbuilder.sm.find_user(username=fresh) is not None
    if taken not in ("desk_phone", "desk_email"):  # a record the desk made is no login
        # the owner of the address is told, with the way back in; no second login is made
        [note] = [m for m in mails_to(app, existing) if "Someone tried" in m["Subject"]]
        assert "/clinic/password/forgot" in body(note) and "/login/" in body(note)
        with app.app_context():
            assert app.appbuilder.sm.find_user(username=existing.lower()) is None or taken in (
                "unconfirmed_email", "username")


def test_the_answer_in_vietnamese_and_the_mails_too(app):
    client = app.test_client()
    client.get("/clinic/language/vi")
    email = new_email()
    page = sign_up(client, email).get_data(as_text=True)
    assert "Kiểm tra e-mail" in page
    [message] = mails_to(app, email)
    assert "Xác nhận địa chỉ e-mail" in message["Subject"] and "/clinic/confirm/" in body(message)
    sign_up(client, "receptionist@test.example")
    [note] = [m for m in mails_to(app, "receptionist@test.example") if "đăng ký" in m["Subject"]]
    assert "mật khẩu" in body(note)


# --- links: tampered, expired, reused ----------------------------------------------------------


def test_tampered_expired_and_reused_confirmation_links_are_refused(app):
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.accounts import links

    email = new_email()
    sign_up(app.test_client(), email)
    url = link_in(mails_to(app, email)[-1])
    token = url.rsplit("/", 1)[1]
    guest = app.test_client()
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:-3], "x" * 500, "nothing"):
        response = guest.get(f"/clinic/confirm/{bad}")
        assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
        assert guest.post(f"/clinic/confirm/{bad}").status_code == 400
    assert patient_of(app, email) is None

    with app.app_context():
        user_id = app.appbuilder.sm.find_user(username=email).id
        old = links.issue_link(db.session, user_id=user_id, purpose="confirm", now=utcnow() - timedelta(hours=49),
                               valid_for=links.lifetime(app.config, "confirm"))
        db.session.commit()
        with pytest.raises(links.LinkRefused) as refused:
            links.check_link(db.session, old, "confirm", utcnow())
        assert refused.value.reason == "expired"
        with pytest.raises(links.LinkRefused):  # a link of one purpose is not one of another
            links.check_link(db.session, old, "reset", utcnow() - timedelta(hours=48))
    response = guest.get(f"/clinic/confirm/{old}")
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert guest.post(f"/clinic/confirm/{old}").status_code == 400
    # the link mailed first was replaced by the expired one (a newer link retires older ones)
    assert "already used" in guest.get(url).get_data(as_text=True)


def test_only_a_hash_of_the_token_is_stored_and_one_use_wins(app):
    from app.extensions import db
    from app.models import AccountLink
    from app.models.types import utcnow
    from app.services.accounts import links

    email = new_email()
    sign_up(app.test_client(), email)
    token = link_in(mails_to(app, email)[-1]).rsplit("/", 1)[1]
    with app.app_context():
        stored = db.session.execute(select(AccountLink)).scalars().all()
        assert all(token not in (row.token_hash, row.email) for row in stored)
        assert [row.token_hash for row in stored] == [links.token_hash(token)]
        links.use_link(db.session, token, "confirm", utcnow())
        db.session.commit()
        with pytest.raises(links.LinkRefused) as refused:
            links.use_link(db.session, token, "confirm", utcnow())
        assert refused.value.reason == "used"


# --- linking to the desk's record --------------------------------------------------------------


def test_a_confirmed_email_links_the_desk_record(app):
    email = new_email()
    desk = desk_patient(app, full_name="Trần Văn Bảo", email=email, phone="0933 000 111")
    sign_up(app.test_client(), email.upper(), full_name="Nguyễn Thị Ánh")
    assert patient_of(app, email) is None  # not before the address is confirmed
    confirm(app, email)
    assert patient_of(app, email) == (desk, "Trần Văn Bảo", "+84933000111")  # the desk's record, unchanged


def test_phone_and_date_of_birth_link_the_desk_record(app):
    desk = desk_patient(app, phone="0912 345 678", date_of_birth=date(1990, 5, 17))
    email = new_email()
    sign_up(app.test_client(), email)
    confirm(app, email)
    assert patient_of(app, email)[0] == desk


@pytest.mark.parametrize("desk", [
    {"full_name": "Nguyễn Thị Ánh"},  # the same name only
    {"phone": "0912 345 678"},  # the phone without the date of birth
    {"phone": "0912 345 678", "date_of_birth": date(1991, 5, 17)},  # another date of birth
])
def test_no_link_by_name_or_by_phone_alone(app, desk):
    desk_id = desk_patient(app, **desk)
    email = new_email()
    sign_up(app.test_client(), email)
    confirm(app, email)
    linked = patient_of(app, email)
    assert linked is not None and linked[0] != desk_id  # a new record of its own


def test_two_desk_records_that_match_link_neither(app):
    first = desk_patient(app, phone="0912 345 678", date_of_birth=date(1990, 5, 17))
    second = desk_patient(app, phone="0912 345 678", date_of_birth=date(1990, 5, 17), full_name="Nguyễn Thị Ánh B")
    email = new_email()
    sign_up(app.test_client(), email)
    confirm(app, email)
    assert patient_of(app, email)[0] not in (first, second)


def test_a_record_with_a_login_is_never_taken_over(app):
    from app.extensions import db
    from app.models import Patient

    email = new_email()
    taken = desk_patient(app, email=email, phone="0912 345 678", date_of_birth=date(1990, 5, 17))
    with app.app_context():
        db.session.get(Patient, taken).user_id = app.appbuilder.sm.find_user(username="patient").id
        db.session.commit()
    sign_up(app.test_client(), email)
    confirm(app, email)
    assert patient_of(app, email)[0] != taken


def test_a_record_the_desk_linked_before_the_confirmation_stays(app):
    from app.extensions import db
    from app.models import Patient

    email = new_email()
    sign_up(app.test_client(), email)
    desk = desk_patient(app, full_name="Phan Thị Mai", phone="0977 111 222")
    with app.app_context():
        db.session.get(Patient, desk).user_id = app.appbuilder.sm.find_user(username=email).id
        db.session.commit()
    response, _url = confirm(app, email)
    assert response.status_code == 302
    assert patient_of(app, email)[:2] == (desk, "Phan Thị Mai")


def test_existing_logins_without_a_sign_up_book_as_before(app, login_as, clinic):
    """Logins made by an admin or the seed were vouched for by the clinic: nothing to confirm."""
    from tests.test_public import _make_patient

    username, _patient = _make_patient(app)
    browser = login_as(username)
    assert browser.get(f"/clinic/book/confirm?service={clinic.service}&doctor={clinic.doctor}"
                       f"&start={_slot()}").status_code == 200
    assert DAY  # the booking day of the fixtures


# --- a new e-mail address (the profile page's link) --------------------------------------------


def test_an_email_change_link_moves_the_login_and_is_single_use(app):
    from app.extensions import db
    from app.models.types import utcnow
    from app.services import signup
    from app.services.accounts.links import LinkRefused
    from app.services.errors import ValidationFailed

    email = new_email()
    sign_up(app.test_client(), email)
    confirm(app, email)
    with app.app_context():
        user_id = app.appbuilder.sm.find_user(username=email).id
        assert signup.request_email_change(db.session, user_id=user_id, new_email="doctor@test.example",
                                           now=utcnow(), config=app.config)[1] is None  # taken: no link
        new, token = signup.request_email_change(db.session, user_id=user_id, new_email="Moi.Dia.Chi@Mail.Example",
                                                 now=utcnow(), config=app.config)
        assert new == "moi.dia.chi@mail.example" and token
        with pytest.raises(LinkRefused):
            signup.confirm_email(db.session, token=token, now=utcnow(), settings=None)  # not a confirm link
        db.session.rollback()
        assert signup.change_email(db.session, token=token, now=utcnow()) == user_id
        with pytest.raises(LinkRefused):
            signup.change_email(db.session, token=token, now=utcnow())
        db.session.rollback()
        with pytest.raises(ValidationFailed):
            signup.request_email_change(db.session, user_id=user_id, new_email="not an address", now=utcnow(),
                                        config=app.config)
    _browser, response = log_in(app, new)
    assert response.status_code == 302 and not response.headers["Location"].startswith("/login")
    assert patient_of(app, new) is not None


def test_a_link_used_at_the_same_moment_twice_works_once(app):
    """Eight clicks on one reset link at once (each its own connection): one sets the password."""
    import threading

    from app.extensions import db
    from app.models.types import utcnow
    from app.services.accounts import links

    email = new_email()
    sign_up(app.test_client(), email)
    with app.app_context():
        user_id = app.appbuilder.sm.find_user(username=email).id
        token = links.issue_link(db.session, user_id=user_id, purpose="reset", now=utcnow(),
                                 valid_for=timedelta(minutes=5))
        db.session.commit()
    barrier, results = threading.Barrier(8), []

    def attempt() -> None:
        with app.app_context():
            barrier.wait()
            try:
                links.use_link(db.session, token, "reset", utcnow())
                db.session.commit()
                results.append("ok")
            except links.LinkRefused as refused:
                db.session.rollback()
                results.append(refused.reason)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok"] + ["used"] * 7, results
