"""Every signed-in user's own profile: ``GET/PATCH /api/v1/me`` and the page (back office for
staff, public site for patients): name, phone, e-mail changed by a link to the new address,
language applied to pages and e-mails, notification channels, and a patient's "download all my
data". Each test makes its own logins (the shared role users stay as they are)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.factories import page_csrf_token
from tests.outbox import body, empty_outbox, mails_to  # noqa: F401  (empty_outbox: autouse)

LINK = re.compile(r"https?://[^\s]+(/clinic/me/email/[A-Za-z0-9_\-]+)")


# --- helpers -----------------------------------------------------------------------------------









def make_user(app, role: str = "Patient", *, patient: bool = True, name: str = "Phạm Minh Châu") -> dict:
    """A login of ``role`` (a patient gets a patient record linked to it)."""
    from app.extensions import db
    from app.models import Patient
    from app.services import rules
    from app.services.settings import ClinicSettings

    tag = uuid.uuid4().hex[:8]
    username = f"{role.lower()}.{tag}"
    email = f"{username}@mail.example"
    with app.app_context():
        sm = app.appbuilder.sm
        given, family = name.rsplit(" ", 1)[1], name.rsplit(" ", 1)[0]
        user = sm.add_user(username, given, family, email, sm.find_role(role), password=PASSWORD)
        found = {"username": username, "email": email, "user_id": user.id, "patient_id": None}
        if role == "Patient" and patient:
            record = Patient(full_name=name, phone="0912 000 111", email=email, user_id=user.id)
            rules.validate(db.session, record, ClinicSettings.from_config(app.config))
            db.session.add(record)
            db.session.commit()
            found["patient_id"] = record.id
    return found


def bearer(app, username: str) -> dict:
    response = app.test_client().post("/api/v1/security/login",
                                      json={"username": username, "password": PASSWORD, "provider": "db"})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def browser(app, username: str):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], "login failed"
    return client


def patient_row(app, patient_id: int):
    from app.extensions import db
    from app.models import Patient

    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        return patient.full_name, patient.phone, patient.email


def audit_rows(app, action: str, entity_id) -> list:
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        return list(db.session.execute(select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.entity_id == str(entity_id))).scalars())


# --- the API -----------------------------------------------------------------------------------


def test_a_patient_reads_and_changes_their_profile_over_the_api(app):
    me = make_user(app)
    headers = bearer(app, me["username"])
    client = app.test_client()
    got = client.get("/api/v1/me", headers=headers)
    assert got.status_code == 200, got.get_json()
    result = got.get_json()["result"]
    assert result["username"] == me["username"] and result["full_name"] == "Phạm Minh Châu"
    assert result["phone"] == "+84912000111" and result["channels"] == ["email"] and result["language"] is None
    assert result["is_patient"] is True

    changed = client.patch("/api/v1/me", headers=headers, json={
        "full_name": "  Nguyễn Thị Hồng   Nhung ", "phone": "0903 123 456", "language": "vi",
        "channels": ["sms", "email"]})
    assert changed.status_code == 200, changed.get_json()
    result = changed.get_json()["result"]
    assert result["full_name"] == "Nguyễn Thị Hồng Nhung"
    assert result["phone"] == "+84903123456"
    assert result["language"] == "vi" and result["channels"] == ["email", "sms"]
    assert changed.get_json()["email_change"] is None
    assert patient_row(app, me["patient_id"])[:2] == ("Nguyễn Thị Hồng Nhung", "+84903123456")
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=me["username"])
        assert (user.first_name, user.last_name) == ("Nhung", "Nguyễn Thị Hồng")
        from app.extensions import db
        from app.services.accounts.profile import notification_channels, patient_notification_channels

        assert notification_channels(db.session, me["user_id"]) == {"email", "sms"}
        assert patient_notification_channels(db.session, me["patient_id"]) == {"email", "sms"}
    assert len(audit_rows(app, "profile_update", me["user_id"])) == 1

    none = client.patch("/api/v1/me", headers=headers, json={"channels": []})
    assert none.status_code == 200 and none.get_json()["result"]["channels"] == []


def test_staff_without_a_patient_record_keep_their_phone_on_the_profile(app):
    me = make_user(app, "Receptionist", name="Lê Thu Hà")
    headers = bearer(app, me["username"])
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).get_json()["result"]["phone"] is None
    changed = client.patch("/api/v1/me", headers=headers, json={"phone": "+84 903 123 456", "channels": ["sms"]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["result"]["phone"] == "+84903123456"
    assert changed.get_json()["result"]["is_patient"] is False
    assert client.get("/api/v1/me/export", headers=headers).status_code == 404  # no patient data to export


def test_every_bad_field_is_named_at_once_and_nothing_is_saved(app):
    me = make_user(app)
    headers = bearer(app, me["username"])
    client = app.test_client()
    refused = client.patch("/api/v1/me", headers=headers, json={
        "full_name": "", "phone": "12", "email": "not an address", "language": "fr", "channels": ["fax"],
        "colour": "blue"})
    assert refused.status_code == 422
    message = refused.get_json()["message"]
    assert set(message) == {"full_name", "phone", "email", "language", "channels", "colour"}, message
    assert patient_row(app, me["patient_id"])[:2] == ("Phạm Minh Châu", "+84912000111")

    # rules only (the schema is happy): still all at once
    refused = client.patch("/api/v1/me", headers=headers, json={"full_name": " ", "phone": "abc"})
    assert refused.status_code == 422 and set(refused.get_json()["message"]) == {"full_name", "phone"}
    # SMS needs a phone
    refused = client.patch("/api/v1/me", headers=headers, json={"phone": None, "channels": ["sms"]})
    assert refused.status_code == 422 and set(refused.get_json()["message"]) == {"channels"}
    for bad in ("[1, 2]", "not json", '{"full_name": 5}', '{"channels": "email"}'):
        answer = client.patch("/api/v1/me", headers={**headers, "Content-Type": "application/json"}, data=bad)
        assert answer.status_code in (400, 422), (bad, answer.status_code)
    assert patient_row(app, me["patient_id"])[:2] == ("Phạm Minh Châu", "+84912000111")


def test_vietnamese_messages_over_the_api(app):
    me = make_user(app)
    answer = app.test_client().patch("/api/v1/me?_l_=vi", headers=bearer(app, me["username"]), json={"phone": "12"})
    assert answer.status_code == 422
    assert answer.get_json()["message"]["phone"] == ["Nhập số điện thoại hợp lệ."]


def test_nobody_signed_in_gets_401_and_the_pages_send_to_the_login(app):
    client = app.test_client()
    for method, url in (("get", "/api/v1/me"), ("patch", "/api/v1/me"), ("get", "/api/v1/me/export")):
        answer = getattr(client, method)(url, json={} if method == "patch" else None)
        assert answer.status_code == 401, (url, answer.status_code)
    answer = client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.token"})
    assert answer.status_code == 401
    for url in ("/profile/", "/clinic/me/profile", "/clinic/me/export"):
        answer = client.get(url)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], url


def test_a_session_needs_the_csrf_token_to_patch(app):
    me = make_user(app)
    client = browser(app, me["username"])
    assert client.patch("/api/v1/me", json={"full_name": "Ai Đó"}, csrf=False).status_code in (400, 403)
    assert client.patch("/api/v1/me", json={"full_name": "Trần Văn Đức"}).status_code == 200
    assert patient_row(app, me["patient_id"])[0] == "Trần Văn Đức"


# --- the pages ---------------------------------------------------------------------------------


def _form(page_html: str, **fields) -> dict:
    data = {"csrf_token": page_csrf_token(page_html), "full_name": "", "phone": "", "email": "", "language": "",
            "channels": ["email"]}
    data.update(fields)
    return data


def test_a_patient_edits_the_profile_page(app):
    me = make_user(app)
    client = browser(app, me["username"])
    page = client.get("/clinic/me/profile")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="Phạm Minh Châu"' in html and "Download all my data" in html
    assert client.get("/profile/").headers["Location"].endswith("/clinic/me/profile")  # patients: public site
    saved = client.post("/clinic/me/profile", data=_form(html, full_name="Đặng Thị Thuý Hằng", phone="0903 123 456",
                                                          email=me["email"], channels=["email", "sms"]))
    assert saved.status_code == 303
    html = client.get("/clinic/me/profile").get_data(as_text=True)
    assert "Your profile is saved." in html and 'value="Đặng Thị Thuý Hằng"' in html and 'value="0903 123 456"' in html
    assert patient_row(app, me["patient_id"])[:2] == ("Đặng Thị Thuý Hằng", "+84903123456")

    refused = client.post("/clinic/me/profile", data=_form(html, full_name="", phone="99", email="x@"))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert {m for m in re.findall(r'data-field="(\w+)"', text)} == {"full_name", "phone", "email"}
    assert 'value="99"' in text  # what was typed stays
    too_long = client.post("/clinic/me/profile", data=_form(html, full_name="Đ" * 151, phone="99", email="x@"))
    assert too_long.status_code == 422  # the form's length check and the rules' checks, together
    assert set(re.findall(r'data-field="(\w+)"', too_long.get_data(as_text=True))) == {"full_name", "phone", "email"}
    no_token = client.post("/clinic/me/profile", data={"full_name": "Hacker"}, csrf=False)
    assert no_token.status_code in (400, 422)
    assert patient_row(app, me["patient_id"])[0] == "Đặng Thị Thuý Hằng"


def test_staff_edit_the_back_office_page_and_the_language_applies(app):
    me = make_user(app, "Receptionist", name="Lê Thu Hà")
    client = browser(app, me["username"])
    page = client.get("/profile/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "My profile" in html and "Download all my data" not in html
    assert client.get("/clinic/me/profile").headers["Location"].endswith("/profile/")
    saved = client.post("/profile/", data=_form(html, full_name="Lê Thu Hà", email=me["email"], language="vi"))
    assert saved.status_code == 303
    assert "Hồ sơ của bạn đã được lưu." in client.get("/profile/").get_data(as_text=True)
    # a new session (another browser) follows the stored language at login
    other = browser(app, me["username"])
    html = other.get("/profile/").get_data(as_text=True)
    assert "Hồ sơ của tôi" in html
    # and so do e-mails sent without a request of theirs (the lock notice's hook)
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=me["username"])
        assert app.appbuilder.sm.user_language(user) == "vi"
    # back to "follow my browser": the next login has no stored language
    html = other.get("/profile/").get_data(as_text=True)
    other.post("/profile/", data=_form(html, full_name="Lê Thu Hà", email=me["email"], language=""))
    with app.app_context():
        assert app.appbuilder.sm.user_language(app.appbuilder.sm.find_user(username=me["username"])) is None
    assert "My profile" in browser(app, me["username"]).get("/profile/").get_data(as_text=True)


# --- a new e-mail address ----------------------------------------------------------------------


def test_a_new_email_changes_only_by_the_link_and_the_old_address_is_told(app):
    me = make_user(app)
    headers = bearer(app, me["username"])
    client = app.test_client()
    new = f"moi.{uuid.uuid4().hex[:6]}@mail.example"
    answer = client.patch("/api/v1/me", headers=headers, json={"email": new.upper()})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["email_change"] == {"sent_to": new}
    result = answer.get_json()["result"]
    assert result["email"] == me["email"] and result["pending_email"] == new  # not yet
    assert "is being changed" in mails_to(app, me["email"])[-1]["Subject"]
    link = LINK.search(body(mails_to(app, new)[-1])).group(1)

    guest = app.test_client()
    shown = guest.get(link)
    assert shown.status_code == 200 and new in shown.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=headers).get_json()["result"]["email"] == me["email"]  # GET changes nothing
    used = guest.post(link)
    assert used.status_code == 302
    got = client.get("/api/v1/me", headers=headers).get_json()["result"]
    assert got["email"] == new and got["pending_email"] is None
    assert patient_row(app, me["patient_id"])[2] == new
    assert "was changed" in mails_to(app, me["email"])[-1]["Subject"]
    assert guest.post(link).status_code == 400  # used once only
    assert "already used" in guest.get(link).get_data(as_text=True)
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert guest.get(tampered).status_code == 400 and guest.post(tampered).status_code == 400
    assert browser(app, me["username"])  # the username was not the address: it stays


def test_an_expired_link_is_refused_and_a_taken_address_answers_the_same(app):
    from app.extensions import db
    from app.models.types import utcnow
    from app.services import signup

    me = make_user(app)
    with app.app_context():
        _address, token = signup.request_email_change(db.session, user_id=me["user_id"], new_email="late@mail.example",
                                                      now=utcnow() - timedelta(days=2), config=app.config)
    guest = app.test_client()
    assert guest.get(f"/clinic/me/email/{token}").status_code == 400
    assert "expired" in guest.post(f"/clinic/me/email/{token}").get_data(as_text=True)

    other = make_user(app)
    answer = app.test_client().patch("/api/v1/me", headers=bearer(app, me["username"]), json={"email": other["email"]})
    assert answer.status_code == 200 and answer.get_json()["email_change"] == {"sent_to": other["email"]}
    assert not any(LINK.search(body(m)) for m in mails_to(app, other["email"]))  # no link for a taken address
    assert app.test_client().get("/api/v1/me", headers=bearer(app, me["username"])).get_json()["result"][
        "email"] == me["email"]


# --- "download all my data" --------------------------------------------------------------------


def test_a_patient_downloads_their_data_and_nothing_of_another_patient(app, clinic):
    from app.extensions import db
    from app.models import Diagnosis, Invoice, LabResult, Patient

    me = make_user(app, patient=False)
    with app.app_context():
        db.session.get(Patient, clinic.patient).user_id = me["user_id"]
        db.session.commit()
    clinic.save(Diagnosis(encounter_id=clinic.encounter, icd10_code="J06.9", text="Viêm họng cấp"))
    clinic.save(LabResult(lab_order_id=clinic.lab_order, analyte="WBC", value="7.2", status="final",
                          released_to_patient=True))
    invoice = clinic.invoice
    clinic.pay(invoice, "100000")
    other = clinic.save(Patient(full_name="Hoàng Văn Khác", phone="0988 777 666"))
    clinic.save(Invoice(patient_id=other, notes="Hoá đơn của người khác"))

    client = browser(app, me["username"])
    answer = client.get("/clinic/me/export")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert "attachment" in answer.headers["Content-Disposition"]
    data = json.loads(answer.get_data(as_text=True))
    assert data["patient"]["id"] == clinic.patient and data["patient"]["full_name"] == "Nguyễn Văn An"
    assert "search_text" not in data["patient"] and "user_id" not in data["patient"]
    assert [a["id"] for a in data["appointments"]] == [clinic.appointment]
    assert data["encounters"][0]["diagnoses"][0]["text"] == "Viêm họng cấp"
    assert data["lab_orders"][0]["results"][0]["analyte"] == "WBC"
    assert [i["id"] for i in data["invoices"]] == [invoice]
    assert len(data["invoices"][0]["lines"]) == 2 and Decimal(data["invoices"][0]["payments"][0]["amount"]) == 100000
    text = json.dumps(data, ensure_ascii=False)
    assert "Hoàng Văn Khác" not in text and "người khác" not in text
    assert len(audit_rows(app, "export", clinic.patient)) == 1

    over_api = app.test_client().get("/api/v1/me/export", headers=bearer(app, me["username"]))
    assert over_api.status_code == 200 and over_api.get_json()["patient"]["id"] == clinic.patient
    assert len(audit_rows(app, "export", clinic.patient)) == 2


def test_mails_follow_the_stored_language_even_from_an_english_request(app):
    me = make_user(app)
    headers = bearer(app, me["username"])
    client = app.test_client()
    assert client.patch("/api/v1/me", headers=headers, json={"language": "vi"}).status_code == 200
    new = f"viet.{uuid.uuid4().hex[:6]}@mail.example"
    answer = client.patch("/api/v1/me", headers=headers, json={"email": new})  # no Accept-Language: English
    assert answer.status_code == 200
    assert mails_to(app, new)[-1]["Subject"].startswith("Xác nhận địa chỉ e-mail mới")
    assert mails_to(app, me["email"])[-1]["Subject"].startswith("Địa chỉ e-mail của bạn đang được thay đổi")
    link = LINK.search(body(mails_to(app, new)[-1])).group(1)
    guest = app.test_client()
    guest.get(link)
    assert guest.post(link).status_code == 302
    assert mails_to(app, me["email"])[-1]["Subject"].startswith("Địa chỉ e-mail của bạn đã được thay đổi")


def test_a_sign_up_not_yet_confirmed_gets_the_new_name_and_phone_on_its_record(app):
    from app.extensions import db
    from app.models import AccountEmail, Patient, PendingSignup
    from app.models.types import utcnow
    from app.services.settings import ClinicSettings
    from app.services.signup import complete_signup

    me = make_user(app, patient=False)
    with app.app_context():
        db.session.add(AccountEmail(user_id=me["user_id"], email=me["email"], confirmed_at=None))
        db.session.add(PendingSignup(user_id=me["user_id"], full_name="Phạm Minh Châu", phone="+84912000111",
                                     created_at=utcnow()))
        db.session.commit()
    answer = app.test_client().patch("/api/v1/me", headers=bearer(app, me["username"]),
                                     json={"full_name": "Phạm Minh Chau", "phone": "0903 123 456"})
    assert answer.status_code == 200 and answer.get_json()["result"]["phone"] == "+84903123456"
    with app.app_context():
        complete_signup(db.session, me["user_id"], utcnow(), ClinicSettings.from_config(app.config))
        db.session.commit()
        record = db.session.execute(select(Patient).where(Patient.user_id == me["user_id"])).scalar_one()
        assert (record.full_name, record.phone) == ("Phạm Minh Chau", "+84903123456")


def test_links_to_the_other_account_pages_only_when_they_exist(app):
    from app.public.profile import endpoint_url

    with app.test_request_context():
        assert endpoint_url(("no.such.endpoint",)) is None
        assert endpoint_url(("no.such.endpoint", "ProfileView.index")) == "/profile/"
        assert endpoint_url(("public.change_password",)) == "/clinic/me/password"


@pytest.mark.parametrize("role,url,two_factor", [("Receptionist", "/profile/", "/account/two-factor/"),
                                                 ("Patient", "/clinic/me/profile", "/clinic/account/two-factor")])
def test_the_page_shows_the_two_step_login_and_the_sessions(app, role, url, two_factor):
    me = make_user(app, role)
    client = browser(app, me["username"])
    html = client.get(url).get_data(as_text=True)
    assert f'href="{two_factor}" id="two-factor-link"' in html
    assert 'id="sessions-link"' in html and 'id="sign-out-everywhere"' in html
    assert "Turned off" in html
    got = client.get("/api/v1/me").get_json()["result"]
    assert got["two_factor"] == {"enrolled": False, "required": False}
    # "Sign out on every device": this session ends too
    action = re.search(r'<form method="post" action="([^"]+)" class="pub-inline">', html).group(1)
    assert client.post(action, data={"csrf_token": page_csrf_token(html)}, csrf=False).status_code == 302
    assert client.get(url).status_code == 302 and client.get("/api/v1/me").status_code == 401
