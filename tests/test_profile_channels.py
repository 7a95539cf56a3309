"""Patients choose how the clinic reaches them (e-mail, SMS, Zalo) and their quiet hours, on the
profile page and over ``/api/v1/me``; the messages queued for them follow those choices
(app.services.messaging.recipients): Zalo sent to their phone, texts inside the quiet hours held
until the hours end, e-mail never held."""
from __future__ import annotations

import re
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from tests.outbox import empty_outbox  # noqa: F401 - autouse fixture
from tests.test_profile import _form, bearer, browser, make_user

CLINIC = ZoneInfo("Asia/Ho_Chi_Minh")


def stored(app, user_id: int):
    from app.extensions import db
    from app.models import UserProfile

    with app.app_context():
        row = db.session.get(UserProfile, user_id)
        return (row.notify_email, row.notify_sms, row.notify_zalo, row.quiet_from, row.quiet_until) if row else None


def test_a_patient_chooses_zalo_and_quiet_hours_and_messages_follow(app):
    me = make_user(app)
    headers = bearer(app, me["username"])
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).get_json()["result"]["quiet_from"] is None
    changed = client.patch("/api/v1/me", headers=headers, json={
        "channels": ["email", "zalo"], "quiet_from": "21:00", "quiet_until": "7:00"})
    assert changed.status_code == 200, changed.get_json()
    result = changed.get_json()["result"]
    assert result["channels"] == ["email", "zalo"]
    assert (result["quiet_from"], result["quiet_until"]) == ("21:00", "07:00")
    assert stored(app, me["user_id"]) == (True, False, True, time(21, 0), time(7, 0))

    from app.extensions import db
    from app.services.accounts.profile import patient_notification_channels
    from app.services.messaging.recipients import queue_for_patient
    from app.services.messaging.settings import MessagingSettings

    with app.app_context():
        assert patient_notification_channels(db.session, me["patient_id"]) == {"email", "zalo"}
        settings = MessagingSettings.from_config({**app.config, "MESSAGE_CHANNELS": "email,sms,zalo"})
        late = datetime(2026, 12, 2, 22, 15, tzinfo=CLINIC).astimezone(timezone.utc)  # inside the quiet hours
        made = {m.channel: m for m in queue_for_patient(db.session, me["patient_id"], "plain",
                                                        {"subject": "s", "text": "t"}, now=late, settings=settings)}
        assert set(made) == {"email", "zalo"}  # no SMS: not chosen
        assert made["zalo"].recipient == "+84912000111"
        assert made["zalo"].not_before == datetime(2026, 12, 3, 7, 0, tzinfo=CLINIC)  # when the quiet hours end
        assert made["email"].not_before is None
        db.session.rollback()

    # both empty: no quiet hours any more
    cleared = client.patch("/api/v1/me", headers=headers, json={"quiet_from": None, "quiet_until": ""})
    assert cleared.status_code == 200, cleared.get_json()
    assert cleared.get_json()["result"]["quiet_from"] is None and stored(app, me["user_id"])[3:] == (None, None)


def test_quiet_hours_are_both_or_neither_and_every_broken_field_is_named(app):
    me = make_user(app)
    headers = bearer(app, me["username"])
    client = app.test_client()
    cases = [
        ({"quiet_from": "21:00"}, {"quiet_until"}),  # only one of the two
        ({"quiet_until": "07:00", "quiet_from": None}, {"quiet_from"}),
        ({"quiet_from": "25:00", "quiet_until": "07:00"}, {"quiet_from"}),
        ({"quiet_from": "9pm", "quiet_until": "7"}, {"quiet_from", "quiet_until"}),
        ({"quiet_from": "07:00", "quiet_until": "07:00"}, {"quiet_until"}),
        ({"quiet_from": "21:00", "quiet_until": "07:00:00:00"}, {"quiet_until"}),  # too long for the schema
        ({"full_name": "", "phone": "12", "channels": ["zalo", "fax"], "quiet_from": "21:00"},
         {"full_name", "phone", "channels", "quiet_until"}),
    ]
    for body, fields in cases:
        refused = client.patch("/api/v1/me", headers=headers, json=body)
        assert refused.status_code == 422, (body, refused.get_json())
        assert set(refused.get_json()["message"]) == fields, (body, refused.get_json())
    assert stored(app, me["user_id"]) is None  # nothing saved

    vi = client.patch("/api/v1/me?_l_=vi", headers=headers, json={"quiet_from": "21:00"})
    assert vi.get_json()["message"]["quiet_until"] == ["Hãy nhập cả hai mốc giờ không làm phiền, hoặc để trống cả hai."]

    # one bound changed alone keeps the other
    assert client.patch("/api/v1/me", headers=headers, json={"quiet_from": "22:00", "quiet_until": "06:30"}) \
        .status_code == 200
    moved = client.patch("/api/v1/me", headers=headers, json={"quiet_from": "20:30"})
    assert moved.status_code == 200 and moved.get_json()["result"]["quiet_until"] == "06:30"


def test_zalo_needs_a_phone(app):
    me = make_user(app, "Receptionist", name="Lê Thu Hà")  # staff: no phone yet
    headers = bearer(app, me["username"])
    refused = app.test_client().patch("/api/v1/me", headers=headers, json={"channels": ["zalo"]})
    assert refused.status_code == 422 and set(refused.get_json()["message"]) == {"channels"}
    assert "Zalo" in refused.get_json()["message"]["channels"][0]
    ok = app.test_client().patch("/api/v1/me", headers=headers, json={"channels": ["zalo"], "phone": "0903 123 456"})
    assert ok.status_code == 200 and ok.get_json()["result"]["channels"] == ["zalo"]


def test_the_profile_page_shows_and_saves_zalo_and_quiet_hours(app):
    me = make_user(app)
    client = browser(app, me["username"])
    html = client.get("/clinic/me/profile").get_data(as_text=True)
    assert 'id="channel-zalo"' in html and 'id="quiet_from"' in html and 'id="quiet_until"' in html
    saved = client.post("/clinic/me/profile", data=_form(html, full_name="Phạm Minh Châu", phone="0912 000 111",
                                                          email=me["email"], channels=["sms", "zalo"],
                                                          quiet_from="21:30", quiet_until="06:45"))
    assert saved.status_code == 303
    html = client.get("/clinic/me/profile").get_data(as_text=True)
    assert re.search(r'id="channel-zalo"\s+checked', html) and not re.search(r'id="channel-email"\s+checked', html)
    assert 'value="21:30"' in html and 'value="06:45"' in html
    assert stored(app, me["user_id"]) == (False, True, True, time(21, 30), time(6, 45))

    # every broken field at once, what was typed kept, nothing saved
    refused = client.post("/clinic/me/profile", data=_form(html, full_name="", phone="0912 000 111", email=me["email"],
                                                            channels=["zalo"], quiet_from="22:00", quiet_until=""))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert set(re.findall(r'data-field="(\w+)"', text)) == {"full_name", "quiet_until"}
    assert "Give both times of your quiet hours, or neither." in text and 'value="22:00"' in text
    bad = client.post("/clinic/me/profile", data=_form(html, full_name="Phạm Minh Châu", phone="0912 000 111",
                                                        email=me["email"], quiet_from="9pm", quiet_until="7am"))
    assert bad.status_code == 422
    assert set(re.findall(r'data-field="(\w+)"', bad.get_data(as_text=True))) == {"quiet_from", "quiet_until"}
    assert stored(app, me["user_id"]) == (False, True, True, time(21, 30), time(6, 45))

    # emptied on the page: no quiet hours
    cleared = client.post("/clinic/me/profile", data=_form(html, full_name="Phạm Minh Châu", phone="0912 000 111",
                                                            email=me["email"], channels=["email"], quiet_from="",
                                                            quiet_until=""))  # a browser sends the empty fields
    assert cleared.status_code == 303 and stored(app, me["user_id"]) == (True, False, False, None, None)


def test_a_clinic_without_zalo_does_not_offer_it(app, monkeypatch):
    me = make_user(app)
    client = browser(app, me["username"])
    monkeypatch.setitem(app.config, "MESSAGE_CHANNELS", "email,sms")
    html = client.get("/clinic/me/profile").get_data(as_text=True)
    assert 'id="channel-sms"' in html and 'id="channel-zalo"' not in html
