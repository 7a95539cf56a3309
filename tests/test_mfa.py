"""Two-step login (TOTP and recovery codes): enrolment with a QR drawn here, the code step of the
form login and the REST login, replay refused, the gate for roles that need it, turning it off.
Each test makes its own logins (the shared ones stay as they are)."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import func, select

from app.services.accounts import second_factor
from tests.conftest import PASSWORD
from tests.factories import enrol

SECRET = pyotp.random_base32()


def make_user(app, role: str, enrolled: bool = False, secret: str = SECRET) -> tuple[str, int]:
    username = f"mfa-{role.lower()}-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.add_user(username, "Thử", "Người", f"{username}@test.example", sm.find_role(role),
                           password=PASSWORD)
        user_id = user.id
    if enrolled:
        enrol(app, username, secret)
    return username, user_id


def password_step(client, username: str, password: str = PASSWORD, next_url: str = ""):
    return client.post("/login/" + (f"?next={next_url}" if next_url else ""),
                       data={"username": username, "password": password})


def code_now(secret: str = SECRET, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(datetime.now(timezone.utc) + timedelta(seconds=30 * offset_steps))


def audit_actions(app, user_id: int) -> list[str]:
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.entity == "User", AuditEvent.entity_id == str(user_id)).order_by(AuditEvent.id)))


# --- the service ------------------------------------------------------------------------------------


def test_a_code_is_accepted_one_step_either_side_and_only_once(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_MAX_FAILED_CODES", 100)  # the limit has its own test
    _name, user_id = make_user(app, "Receptionist", enrolled=True)
    now = datetime(2026, 12, 1, 9, 0, 10, tzinfo=timezone.utc)
    totp = pyotp.TOTP(SECRET)
    too_old, too_new = totp.at(now - timedelta(seconds=60)), totp.at(now + timedelta(seconds=60))
    for wrong in (too_old, too_new, "000000" if totp.at(now) != "000000" else "111111", "12345", "abcdef", ""):
        with pytest.raises(second_factor.SecondFactorRefused) as refused:
            second_factor.verify_second_factor(db.session, user_id, wrong, now)
        assert refused.value.field == "code"
    assert second_factor.verify_second_factor(db.session, user_id, totp.at(now - timedelta(seconds=30)), now) == "totp"
    with pytest.raises(second_factor.SecondFactorRefused):  # replayed
        second_factor.verify_second_factor(db.session, user_id, totp.at(now - timedelta(seconds=30)), now)
    assert second_factor.verify_second_factor(db.session, user_id, f" {totp.at(now)[:3]} {totp.at(now)[3:]} ",
                                              now) == "totp"  # spaces as apps show them
    with pytest.raises(second_factor.SecondFactorRefused):  # an earlier step than the last used one
        second_factor.verify_second_factor(db.session, user_id, totp.at(now - timedelta(seconds=30)), now)
    later = now + timedelta(seconds=30)
    assert second_factor.verify_second_factor(db.session, user_id, totp.at(later), later) == "totp"


def test_check_api_login_by_role_and_enrolment(app, db):
    from app.models.types import utcnow

    sm = app.appbuilder.sm
    enrolled_name, _ = make_user(app, "Receptionist", enrolled=True)
    doctor_name, _ = make_user(app, "Doctor")
    plain_name, _ = make_user(app, "Pharmacist")
    now = utcnow()
    second_factor.check_api_login(db.session, sm.find_user(username=plain_name), None, now)  # optional, off: OK
    with pytest.raises(second_factor.EnrolmentRequired) as refused:
        second_factor.check_api_login(db.session, sm.find_user(username=doctor_name), "123456", now)
    assert refused.value.status == 403 and "enrol in the web app" in refused.value.message
    enrolled = sm.find_user(username=enrolled_name)
    with pytest.raises(second_factor.SecondFactorRefused) as missing:
        second_factor.check_api_login(db.session, enrolled, None, now)
    assert missing.value.status == 401
    second_factor.check_api_login(db.session, enrolled, pyotp.TOTP(SECRET).at(now), now)
    assert isinstance(second_factor.EnrolmentRequired("x"), second_factor.SecondFactorRefused)


def test_the_required_roles_are_a_setting(app):
    assert app.config["MFA_REQUIRED_ROLES"] == "Admin,Manager,Doctor"
    assert second_factor.required_roles(" Admin , Nurse,,") == {"Admin", "Nurse"}
    with app.app_context():
        assert second_factor.required_roles() == {"Admin", "Manager", "Doctor"}


# --- enrolment ---------------------------------------------------------------------------------------


def test_a_doctor_without_enrolment_is_sent_to_enrol_and_reaches_nothing_else(app):
    username, user_id = make_user(app, "Doctor")
    browser = app.test_client()
    response = password_step(browser, username)
    assert response.status_code == 302  # logged in, but only to enrol
    for path in ("/", "/patientview/list/", "/clinic/me/appointments", "/doctor-status/"):
        gated = browser.get(path)
        assert gated.status_code == 303 and gated.headers["Location"] == "/account/two-factor/", path
    api = browser.get("/api/v1/patient/")
    assert api.status_code == 403 and "enrol in the web app" in api.get_json()["message"]
    assert browser.get("/static/css/clinic.css").status_code == 200
    page = browser.get("/account/two-factor/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your role needs two-step login" in html and 'id="start-form"' in html and "/logout/" in html
    assert 'class="two-factor-gated"' in html  # the menus, which lead nowhere yet, are hidden
    # The REST login is refused too, with the reason.
    refused = app.test_client().post("/api/v1/security/login",
                                     json={"username": username, "password": PASSWORD, "provider": "db"})
    assert refused.status_code == 403 and "enrol in the web app first" in str(refused.get_json()["message"])
    assert browser.get("/lang/vi").status_code == 302  # the language menu still works
    assert browser.get("/logout/").status_code == 200  # asks first (a GET changes nothing)
    assert browser.post("/logout/").status_code == 303


def test_enrolment_shows_a_local_qr_and_the_key_refuses_a_wrong_code_and_shows_recovery_codes_once(app):
    username, user_id = make_user(app, "Doctor")
    browser = app.test_client()
    password_step(browser, username)
    assert browser.get("/account/two-factor/").status_code == 200  # a GET changes nothing
    with app.app_context():
        from app.extensions import db

        assert second_factor.pending_secret(db.session, user_id) is None
    assert browser.post("/account/two-factor/start").status_code == 303
    html = browser.get("/account/two-factor/").get_data(as_text=True)
    assert re.search(r'<svg class="qr-code" role="img"[^>]*viewBox="0 0 \d+ \d+"', html)  # drawn here, inline
    svg = html.split('<svg class="qr-code"', 1)[1].split("</svg>")[0]
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"] and "<image" not in svg
    secret = re.search(r'<code class="two-factor-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    assert len(secret) == 32
    wrong = browser.post("/account/two-factor/confirm", data={"code": "12345a"})
    assert wrong.status_code == 422 and "That code is wrong" in wrong.get_data(as_text=True)
    assert browser.get("/patientview/list/").status_code == 303  # still gated
    empty = browser.post("/account/two-factor/confirm", data={"code": ""})
    assert empty.status_code == 422 and "Enter the code from your authenticator app." in empty.get_data(as_text=True)
    done = browser.post("/account/two-factor/confirm", data={"code": code_now(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", done.get_data(as_text=True))
    assert len(set(codes)) == 10
    assert browser.get("/patientview/list/").status_code == 200  # the gate is open
    page = browser.get("/account/two-factor/").get_data(as_text=True)
    assert "Two-step login is on" in page and "10 unused recovery codes" in page
    assert not any(code in page for code in codes)  # shown once
    assert 'id="disable-form"' not in page and "cannot be turned off" in page
    with app.app_context():
        from app.extensions import db
        from app.models.mfa import MfaRecoveryCode

        stored = list(db.session.scalars(select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == user_id)))
    assert len(stored) == 10 and not set(codes) & set(stored)  # hashed
    assert "mfa_enrolled" in audit_actions(app, user_id)


def test_enrolment_pages_need_a_login_and_the_csrf_token(app, client):
    assert client.get("/account/two-factor/").status_code == 302
    assert client.get("/clinic/account/two-factor").status_code == 302
    username, _ = make_user(app, "Receptionist")
    password_step(client, username)
    refused = client.post("/account/two-factor/start", csrf=False)
    assert refused.status_code == 400


# --- the form login -----------------------------------------------------------------------------------


def test_form_login_asks_for_the_code_and_refuses_wrong_and_replayed_codes(app):
    username, user_id = make_user(app, "Doctor", enrolled=True)
    browser = app.test_client()
    step = password_step(browser, username, next_url="/doctor-status/")
    assert step.status_code == 303 and step.headers["Location"] == "/login/code/"
    assert browser.get("/patientview/list/").status_code == 302  # not logged in yet: sent to the login
    page = browser.get("/login/code/", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.get_data(as_text=True)
    wrong = browser.post("/login/code/", data={"code": "000000" if code_now() != "000000" else "111111"})
    assert wrong.status_code == 422 and "That code is wrong or was already used." in wrong.get_data(as_text=True)
    code = code_now()
    done = browser.post("/login/code/", data={"code": code})
    assert done.status_code == 303 and done.headers["Location"] == "/doctor-status/"
    assert browser.get("/doctor-status/").status_code == 200
    assert browser.get("/login/code/").headers["Location"] == "/"  # logged in: nothing to type
    # The same code again, by someone who saw it: refused.
    thief = app.test_client()
    password_step(thief, username)
    replayed = thief.post("/login/code/", data={"code": code})
    assert replayed.status_code == 422 and thief.get("/patientview/list/").status_code == 302
    assert audit_actions(app, user_id).count("mfa_refused") == 2


def test_a_wrong_password_never_reaches_the_code_step(app):
    username, _ = make_user(app, "Doctor", enrolled=True)
    browser = app.test_client()
    response = password_step(browser, username, password="wrong-password")
    assert response.status_code == 401 and "Location" not in response.headers  # the password form again
    assert "Invalid login" in response.get_data(as_text=True)
    assert browser.get("/login/code/").status_code == 303  # nothing pending


def test_a_recovery_code_logs_in_once(app):
    username, user_id = make_user(app, "Manager")
    browser = app.test_client()
    password_step(browser, username)
    browser.post("/account/two-factor/start")
    html = browser.get("/account/two-factor/").get_data(as_text=True)
    secret = re.search(r'<code class="two-factor-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>",
                       browser.post("/account/two-factor/confirm", data={"code": code_now(secret)}).get_data(True))
    browser.get("/logout/")
    for attempt, expected in ((codes[3].upper(), 303), (codes[3], 422)):  # typed in capitals: the same code
        other = app.test_client()
        password_step(other, username)
        assert other.post("/login/code/", data={"code": attempt}).status_code == expected
    assert "mfa_recovery_code_used" in audit_actions(app, user_id)
    # New recovery codes replace the old ones (with a code from the app).
    browser = app.test_client()
    password_step(browser, username)
    browser.post("/login/code/", data={"code": codes[0]})
    renewed = browser.post("/account/two-factor/recovery-codes", data={"code": code_now(secret, 1)})
    assert renewed.status_code == 200
    fresh = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", renewed.get_data(as_text=True))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    other = app.test_client()
    password_step(other, username)
    assert other.post("/login/code/", data={"code": codes[5]}).status_code == 422
    assert other.post("/login/code/", data={"code": fresh[0]}).status_code == 303


def test_the_code_step_expires_and_ends_after_five_wrong_codes(app, monkeypatch):
    username, _ = make_user(app, "Doctor", enrolled=True)
    browser = app.test_client()
    password_step(browser, username)
    monkeypatch.setitem(app.config, "MFA_PENDING_SECONDS", -1)  # any pending login is too old
    expired = browser.post("/login/code/", data={"code": code_now()})
    assert expired.status_code == 303 and expired.headers["Location"] == "/login/"
    monkeypatch.setitem(app.config, "MFA_PENDING_SECONDS", 300)
    password_step(browser, username)
    answers = [browser.post("/login/code/", data={"code": "000000" if code_now() != "000000" else "111111"})
               for _ in range(5)]
    assert [r.status_code for r in answers] == [422] * 4 + [303]
    assert browser.post("/login/code/", data={"code": code_now()}).status_code == 303  # must start again
    assert browser.get("/patientview/list/").status_code == 302


def test_a_tampered_pending_login_is_refused(app):
    from tests.factories import form_login

    username, _ = make_user(app, "Doctor", enrolled=True)
    browser = app.test_client()
    password_step(browser, username)
    with browser.session_transaction() as session:
        value = session["mfa_pending"]
        session["mfa_pending"] = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    assert browser.post("/login/code/", data={"code": code_now()}).status_code == 303
    assert browser.get("/patientview/list/").status_code == 302
    assert form_login(app, app.test_client(), "admin").status_code == 303  # the shared users log in as usual


# --- the REST login -----------------------------------------------------------------------------------


def test_api_login_needs_the_code_of_an_enrolled_user(app):
    username, _ = make_user(app, "Receptionist", enrolled=True)
    client = app.test_client()
    body = {"username": username, "password": PASSWORD, "provider": "db"}
    missing = client.post("/api/v1/security/login", json=body)
    assert missing.status_code == 401 and "code" in missing.get_json()["message"]
    wrong = client.post("/api/v1/security/login", json={**body, "code": "abcdef"})
    assert wrong.status_code == 401 and wrong.get_json()["message"]["code"]
    too_long = client.post("/api/v1/security/login", json={**body, "code": "1" * 40})
    assert too_long.status_code == 400 and "code" in too_long.get_json()["message"]
    code = code_now()
    ok = client.post("/api/v1/security/login", json={**body, "code": code})
    assert ok.status_code == 200 and ok.get_json()["access_token"]
    headers = {"Authorization": f"Bearer {ok.get_json()['access_token']}"}
    assert client.get("/api/v1/patient/", headers=headers).status_code == 200
    assert client.post("/api/v1/security/login", json={**body, "code": code}).status_code == 401  # replayed
    bad_password = client.post("/api/v1/security/login",
                               json={**body, "password": "nope", "code": code_now(offset_steps=1)})
    assert bad_password.status_code == 401


def test_api_login_of_an_optional_user_without_enrolment_needs_no_code(app):
    username, _ = make_user(app, "Pharmacist")
    response = app.test_client().post("/api/v1/security/login",
                                      json={"username": username, "password": PASSWORD, "provider": "db"})
    assert response.status_code == 200


def test_a_token_of_a_user_whose_role_now_needs_enrolment_is_refused(app):
    from app.extensions import db

    username, user_id = make_user(app, "Receptionist")
    client = app.test_client()
    token = client.post("/api/v1/security/login",
                        json={"username": username, "password": PASSWORD, "provider": "db"}).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/patient/", headers=headers).status_code == 200
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.get_user_by_id(user_id)
        user.roles.append(sm.find_role("Doctor"))
        db.session.commit()
    refused = client.get("/api/v1/patient/", headers=headers)
    assert refused.status_code == 403 and "enrol in the web app first" in refused.get_json()["message"]


# --- turning it off, the public site --------------------------------------------------------------------


def test_a_patient_turns_it_on_and_off_on_the_public_site(app):
    from tests.test_public import _make_patient

    username, _patient = _make_patient(app)
    browser = app.test_client()
    assert password_step(browser, username).status_code == 302  # optional: no code asked
    page = browser.get("/clinic/account/two-factor", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'class="pub-header"' in page and "Your role needs" not in page
    assert browser.post("/clinic/account/two-factor/start").headers["Location"] == "/clinic/account/two-factor"
    html = browser.get("/clinic/account/two-factor").get_data(as_text=True)
    assert 'class="pub-header"' in html and '<svg class="qr-code"' in html
    secret = re.search(r'<code class="two-factor-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    confirmed = browser.post("/clinic/account/two-factor/confirm", data={"code": code_now(secret)})
    assert confirmed.status_code == 200
    assert len(re.findall(r"<li>[a-z2-9]{5}-[a-z2-9]{5}</li>", confirmed.get_data(as_text=True))) == 10
    # The next login asks for a code.
    other = app.test_client()
    assert password_step(other, username).headers["Location"] == "/login/code/"
    # Off: needs the password and a code.
    wrong_password = browser.post("/clinic/account/two-factor/disable",
                                  data={"password": "nope", "code": code_now(secret, 1)})
    assert wrong_password.status_code == 422 and "The password is wrong." in wrong_password.get_data(as_text=True)
    no_code = browser.post("/clinic/account/two-factor/disable", data={"password": PASSWORD, "code": ""})
    assert no_code.status_code == 422
    off = browser.post("/clinic/account/two-factor/disable", data={"password": PASSWORD, "code": code_now(secret, 1)})
    assert off.status_code == 303
    assert "Two-step login is off." in browser.get(off.headers["Location"]).get_data(as_text=True)
    again = app.test_client()
    assert password_step(again, username).headers["Location"] != "/login/code/"


def test_a_required_role_cannot_turn_it_off(app):
    from app.extensions import db
    from app.models.mfa import MfaEnrolment

    username, user_id = make_user(app, "Doctor", enrolled=True)
    browser = app.test_client()
    password_step(browser, username)
    browser.post("/login/code/", data={"code": code_now()})
    refused = browser.post("/account/two-factor/disable", data={"password": PASSWORD, "code": code_now(secret=SECRET,
                                                                                                        offset_steps=1)})
    assert refused.status_code == 422 and "cannot be turned off" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MfaEnrolment).where(
            MfaEnrolment.user_id == user_id)) == 1


def test_the_pages_are_in_vietnamese(app):
    username, _ = make_user(app, "Doctor")
    browser = app.test_client()
    password_step(browser, username)
    vi = {"Accept-Language": "vi"}
    page = browser.get("/account/two-factor/", headers=vi).get_data(as_text=True)
    assert "Đăng nhập hai bước" in page and "Thiết lập đăng nhập hai bước" in page
    enrolled, _ = make_user(app, "Doctor", enrolled=True)
    other = app.test_client()
    password_step(other, enrolled)
    assert "Mở ứng dụng xác thực" in other.get("/login/code/", headers=vi).get_data(as_text=True)
    api = other.post("/api/v1/security/login", headers=vi,
                     json={"username": username, "password": PASSWORD, "provider": "db"})
    assert "hãy đăng ký trên ứng dụng web trước" in str(api.get_json()["message"])


# --- the demo seed ------------------------------------------------------------------------------------


def test_the_demo_secret_is_in_the_readme():
    from pathlib import Path

    from app.services.demo_data.maintenance import DEMO_TOTP_SECRET

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"**`{DEMO_TOTP_SECRET}`**" in readme and pyotp.TOTP(DEMO_TOTP_SECRET).now().isdigit()


def test_the_qr_holds_the_authenticator_address(app):
    uri = second_factor.provisioning_uri(SECRET, "bac.si@clinic", "Phòng khám")
    assert uri.startswith("otpauth://totp/") and f"secret={SECRET}" in uri and "issuer=Ph%C3%B2ng%20kh%C3%A1m" in uri
    svg = second_factor.qr_svg(uri)
    assert svg.startswith('<svg class="qr-code" role="img"') and svg.endswith("</svg>") and "<path" in svg


def test_an_administrator_resets_a_lost_second_factor_from_the_command_line(app):
    username, user_id = make_user(app, "Doctor", enrolled=True)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mfa-reset", username])
    assert result.exit_code == 0, result.output
    browser = app.test_client()
    password_step(browser, username)  # no code asked: sent to enrol again
    assert browser.get("/patientview/list/").headers["Location"] == "/account/two-factor/"
    assert "mfa_reset" in audit_actions(app, user_id)
    assert runner.invoke(args=["mfa-reset", "nobody-such"]).exit_code != 0


def test_wrong_codes_in_a_row_stop_every_code_for_a_while(app, db):
    """Whoever has the password cannot try the million codes: after 5 wrong ones in a row even the
    right code is refused for 15 minutes (audited), whichever address or login form they use."""
    _name, user_id = make_user(app, "Receptionist", enrolled=True)
    now = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)
    totp = pyotp.TOTP(SECRET)
    wrong = "000000" if totp.at(now) != "000000" else "111111"
    for minute in range(4):
        with pytest.raises(second_factor.SecondFactorRefused):
            second_factor.verify_second_factor(db.session, user_id, wrong, now + timedelta(minutes=minute))
    assert second_factor.verify_second_factor(db.session, user_id, totp.at(now), now) == "totp"  # resets the count
    for _ in range(5):
        with pytest.raises(second_factor.SecondFactorRefused):
            second_factor.verify_second_factor(db.session, user_id, wrong, now)
    later = now + timedelta(minutes=14)
    with pytest.raises(second_factor.SecondFactorRefused) as locked:
        second_factor.verify_second_factor(db.session, user_id, totp.at(later), later)
    assert "try again in a few minutes" in locked.value.message
    after = now + timedelta(minutes=15, seconds=1)
    assert second_factor.verify_second_factor(db.session, user_id, totp.at(after), after) == "totp"
    assert "mfa_refused_locked" in audit_actions(app, user_id)
