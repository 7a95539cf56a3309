"""One password rule (zxcvbn, 8 characters for patients and 12 for staff) on sign-up, change,
reset and admin-set; a change needs the current password; reset by a single-use expiring link;
every change or reset ends the user's other sessions."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from tests.conftest import MFA_ROLES
from tests.factories import enrol, form_login
from tests.outbox import empty_outbox, mails_to, outbox  # noqa: F401  (empty_outbox: autouse)
from tests.test_signup import GOOD_PASSWORD, link_in, new_email, sign_up, without_token

STRONG_11 = "Mưa#rơi7Huế"  # strong, but 11 characters: enough for a patient, not for staff
STRONG_STAFF = "Bệnh-viện xanh 2026 mùa thu"
WEAK = ("password", "12345678", "Password1", "qwertyuiop123")


@pytest.fixture
def ended(monkeypatch):
    """The calls to end_user_sessions (the sessions work implements it): (user_id, keep_session_id)."""
    from app.services.accounts import passwords

    calls: list[tuple[int, str | None]] = []

    def record(session, user_id, now, keep_session_id=None):
        calls.append((user_id, keep_session_id))
        return 0

    monkeypatch.setattr(passwords, "end_user_sessions", record)
    return calls


def make_user(app, role: str, password: str = STRONG_STAFF) -> tuple[str, int]:
    with app.app_context():
        sm = app.appbuilder.sm
        username = f"{role.lower()}-{uuid.uuid4().hex[:6]}"
        user = sm.add_user(username, "Minh", "Trần Quang", f"{username}@staff.example", sm.find_role(role),
                           password=password)
        user_id = user.id
    if role in MFA_ROLES:  # their role needs two-step login
        enrol(app, username)
    return username, user_id


def log_in(app, username: str, password: str):
    """The login form, and the two-step login's code when the user has it (tests.factories)."""
    browser = app.test_client()
    return browser, form_login(app, browser, username, password)


def can_log_in(app, username: str, password: str) -> bool:
    """FAB answers a failed login with a redirect back to the login page."""
    response = log_in(app, username, password)[1]
    return response.status_code in (302, 303) and not response.headers["Location"].startswith("/login")


def form_errors(html: str) -> str:
    return " ".join(re.findall(r'class="[^"]*(?:help-block|text-danger|alert-danger)[^"]*"[^>]*>\s*([^<]+)', html))


# --- the rule ----------------------------------------------------------------------------------


def test_the_rule_lengths_guessability_and_the_users_own_details(app):
    from app.services.accounts.passwords import PasswordPolicy, password_problems, user_inputs

    policy = PasswordPolicy.from_config(app.config)
    assert (policy.patient_min_length, policy.staff_min_length, policy.min_score) == (8, 12, 3)
    with app.test_request_context():
        for weak in WEAK:
            assert password_problems(weak, staff=False, inputs=[], policy=policy), weak
        assert password_problems(STRONG_11, staff=False, inputs=[], policy=policy) == []
        assert password_problems(STRONG_11, staff=True, inputs=[], policy=policy) == ["Use at least 12 characters."]
        assert password_problems(STRONG_STAFF, staff=True, inputs=[], policy=policy) == []
        mine = user_inputs("ngocanh.tran@mail.example", "Trần Ngọc Anh")
        for own in ("ngocanh.tran@mail.example", "ngocanh.tran", "tranngocanh"):
            assert password_problems(own, staff=False, inputs=mine, policy=policy), own
        problems = password_problems("password", staff=False, inputs=[], policy=policy)
        assert problems[:2] == ["This password is easy to guess.", "This is a top-10 common password."]
        assert password_problems("x" * 129, staff=False, inputs=[], policy=policy) == ["Use at most 128 characters."]
    assert PasswordPolicy.from_config({"STAFF_MIN_PASSWORD_LENGTH": "16"}).min_length(True) == 16


@pytest.mark.parametrize("password", [*WEAK, "{email}", "Nguyễn Thị Ánh"])
def test_sign_up_refuses_weak_passwords(app, password):
    email = new_email()
    response = sign_up(app.test_client(), email, password=password.format(email=email))
    assert response.status_code == 422
    errors = dict(re.findall(r'data-field="(\w+)">([^<]+)<', response.get_data(as_text=True)))
    assert set(errors) == {"password"}
    with app.app_context():
        assert app.appbuilder.sm.find_user(username=email) is None


def test_the_advice_is_in_vietnamese(app):
    client = app.test_client()
    client.get("/clinic/language/vi")
    response = sign_up(client, new_email(), password="password")
    errors = dict(re.findall(r'data-field="(\w+)">([^<]+)<', response.get_data(as_text=True)))
    assert errors["password"].startswith("Mật khẩu này dễ bị đoán ra. Đây là một trong 10 mật khẩu phổ biến nhất.")


# --- change: the current password first -------------------------------------------------------


@pytest.mark.parametrize("role, url", [("Doctor", "/resetmypassword/form"), ("Patient", "/clinic/me/password")])
def test_change_needs_the_current_password_and_the_rule(app, ended, monkeypatch, role, url):
    """Staff use FAB's "Reset my password", patients the public site's page: the same checks."""
    from app import web_sessions

    monkeypatch.setattr(web_sessions, "current_session_id", lambda: "this-session")
    username, user_id = make_user(app, role)
    browser, _response = log_in(app, username, STRONG_STAFF)
    page = browser.get(url).get_data(as_text=True)
    assert 'name="current_password"' in page

    def change(current: str, new: str):
        return browser.post(url, data={"current_password": current, "password": new, "conf_password": new})

    refused = change("not my password", "Cây-bàng lá đỏ 1975 xưa")
    assert refused.status_code in (200, 422) and "This is not your current password." in refused.get_data(as_text=True)
    for weak in (*WEAK, username, "Trần Quang Minh"):
        refused = change(STRONG_STAFF, weak)
        assert refused.status_code in (200, 422), weak
    short = change(STRONG_STAFF, STRONG_11)
    assert (short.status_code == 302) is (role == "Patient")  # 11 characters: enough for a patient only
    current = STRONG_11 if role == "Patient" else STRONG_STAFF
    ended.clear()
    done = change(current, "Cây-bàng lá đỏ 1975 xưa")
    assert done.status_code == 302
    assert ended == [(user_id, "this-session")]  # every other session ends, this one stays
    assert can_log_in(app, username, "Cây-bàng lá đỏ 1975 xưa") and not can_log_in(app, username, current)


# --- an admin sets a password, or adds a user --------------------------------------------------


def test_admin_set_password_follows_the_rule_of_that_users_roles(app, login_as, ended):
    username, user_id = make_user(app, "Receptionist")
    admin = login_as("admin")
    url = f"/resetpassword/form?pk={user_id}"
    assert 'name="password"' in admin.get(url).get_data(as_text=True)
    for weak in (*WEAK, STRONG_11, username):
        response = admin.post(url, data={"password": weak, "conf_password": weak})
        assert response.status_code == 200, weak
    assert ended == [] and can_log_in(app, username, STRONG_STAFF)
    response = admin.post(url, data={"password": "Đèn-lồng phố cổ 2026", "conf_password": "Đèn-lồng phố cổ 2026"})
    assert response.status_code == 302
    assert ended == [(user_id, None)]  # all of that user's sessions end
    assert can_log_in(app, username, "Đèn-lồng phố cổ 2026")
    patient, patient_id = make_user(app, "Patient")
    response = admin.post(f"/resetpassword/form?pk={patient_id}", data={"password": STRONG_11,
                                                                         "conf_password": STRONG_11})
    assert response.status_code == 302 and can_log_in(app, patient, STRONG_11)


def test_admin_add_user_follows_the_rule_of_the_chosen_roles(app, login_as):
    admin = login_as("admin")
    with app.app_context():
        doctor_role = app.appbuilder.sm.find_role("Doctor").id
        patient_role = app.appbuilder.sm.find_role("Patient").id

    def add(username: str, password: str, role: int):
        return admin.post("/users/add", data={
            "first_name": "Lan", "last_name": "Phạm", "username": username, "active": "y",
            "email": f"{username}@staff.example", "roles": str(role), "password": password,
            "conf_password": password})

    for weak, role in [("password", doctor_role), ("12345678", patient_role), (STRONG_11, doctor_role),
                       ("lan-pham-1", patient_role)]:
        name = f"lan-pham-{uuid.uuid4().hex[:4]}"
        response = add(name if weak != "lan-pham-1" else "lan-pham-1", weak, role)
        assert response.status_code == 200, weak
        with app.app_context():
            assert app.appbuilder.sm.find_user(username=name) is None
    assert add("lan-pham-ok", STRONG_STAFF, doctor_role).status_code == 302
    assert can_log_in(app, "lan-pham-ok", STRONG_STAFF)


# --- reset by e-mail ---------------------------------------------------------------------------


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(app):
    username, _user_id = make_user(app, "Patient", password=GOOD_PASSWORD)
    known, unknown = f"{username}@staff.example", new_email()
    answers = []
    for address in (known, unknown):
        client = app.test_client()
        client.get("/clinic/password/forgot")
        response = client.post("/clinic/password/forgot", data={"email": address})
        answers.append((response.status_code, without_token(response.get_data(as_text=True), address)))
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert len(mails_to(app, known)) == 1 and mails_to(app, unknown) == []
    assert [m["To"] for m in outbox(app)] == [known]


def test_reset_by_link_single_use_and_every_session_ends(app, ended):
    username, user_id = make_user(app, "Doctor")
    client = app.test_client()
    client.post("/clinic/password/forgot", data={"email": f"{username.upper()}@STAFF.example"})
    url = link_in(mails_to(app, f"{username}@staff.example")[-1])
    assert "/clinic/password/reset/" in url
    page = client.get(url)
    assert page.status_code == 200 and 'name="conf_password"' in page.get_data(as_text=True)
    for weak in (*WEAK, STRONG_11, username):
        response = client.post(url, data={"password": weak, "conf_password": weak})
        assert response.status_code == 422 and 'data-field="password"' in response.get_data(as_text=True), weak
    mismatch = client.post(url, data={"password": STRONG_STAFF + "x", "conf_password": STRONG_STAFF})
    assert mismatch.status_code == 422 and 'data-field="conf_password"' in mismatch.get_data(as_text=True)
    assert ended == []
    new = "Sông-Hương chiều tím 1968"
    done = client.post(url, data={"password": new, "conf_password": new})
    assert done.status_code == 302 and done.headers["Location"].startswith("/login/")
    assert ended == [(user_id, None)]
    assert can_log_in(app, username, new) and not can_log_in(app, username, STRONG_STAFF)
    again = client.post(url, data={"password": "Một-mật khẩu khác 2027", "conf_password": "Một-mật khẩu khác 2027"})
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    assert client.get(url).status_code == 400
    tampered = url[:-2] + ("xy" if not url.endswith("xy") else "zz")
    assert client.get(tampered).status_code == 400
    assert client.post(tampered, data={"password": new + "!", "conf_password": new + "!"}).status_code == 400
    assert can_log_in(app, username, new)


def test_an_expired_reset_link_is_refused(app):
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.accounts import links

    username, user_id = make_user(app, "Patient", password=GOOD_PASSWORD)
    with app.app_context():
        token = links.issue_link(db.session, user_id=user_id, purpose="reset", now=utcnow() - timedelta(minutes=61),
                                 valid_for=links.lifetime(app.config, "reset"))
        db.session.commit()
    client = app.test_client()
    response = client.post(f"/clinic/password/reset/{token}", data={"password": STRONG_STAFF,
                                                                    "conf_password": STRONG_STAFF})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert can_log_in(app, username, GOOD_PASSWORD)


def test_a_reset_confirms_an_unconfirmed_sign_up(app):
    """The reset link went to the sign-up's address: it proves the address as well (so the owner
    of an address someone else signed up with takes the account over by resetting)."""
    from tests.test_signup import patient_of

    email = new_email()
    sign_up(app.test_client(), email)
    client = app.test_client()
    client.post("/clinic/password/forgot", data={"email": email})
    url = link_in([m for m in mails_to(app, email) if "new password" in m["Subject"]][-1])
    client.post(url, data={"password": STRONG_STAFF, "conf_password": STRONG_STAFF})
    assert patient_of(app, email) is not None
    assert can_log_in(app, email, STRONG_STAFF) and not can_log_in(app, email, GOOD_PASSWORD)


# --- the FAB behaviours these screens work around (app.fab.passwords) --------------------------


def test_fab_still_changes_a_password_without_the_current_one_and_with_no_rule(app):
    """The day FAB asks for the current password and checks strength itself, app.fab.passwords
    may go."""
    from flask_appbuilder.security import views as fab_views
    from flask_appbuilder.security.forms import ResetPasswordForm

    from app.fab import passwords as screens

    with app.test_request_context():
        assert "current_password" not in fab_views.ResetMyPasswordView.form(meta={"csrf": False})._fields
        form = ResetPasswordForm(meta={"csrf": False}, data={"password": "1", "conf_password": "1"})
        assert form.validate()  # FAB takes "1" (its complexity check is off unless configured)
        assert app.appbuilder.sm.resetmypasswordview.__module__ == "app.fab.passwords"
        assert app.appbuilder.sm.resetpasswordview.__module__ == "app.fab.passwords"
        assert issubclass(app.appbuilder.sm.userdbmodelview, screens.UserDBModelView)
