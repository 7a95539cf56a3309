"""The SMS and Zalo adapters (app/services/messaging/twilio_sms.py, zalo_zns.py) against local servers
that speak Twilio's and Zalo's documented APIs (tests/provider_servers.py): the request each
provider expects, the provider's reference kept on the message, a rate limit retried with
backoff, a refusal failed with its reason; and SMS without diacritics (SMS_ASCII_ONLY).

No real Twilio or Zalo server is reachable here: these prove the requests have the documented
shape and the documented answers are handled, not that a live account accepts them."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from app.models import OutboundMessage
from app.models.types import utcnow
from app.services.messaging import channels
from app.services.messaging.delivery import deliver_message, queue_message
from app.services.messaging.render import Rendered
from app.services.messaging.settings import MessagingSettings
from app.services.messaging.text import sms_text, without_diacritics
from tests.outbox import empty_outbox  # noqa: F401 - autouse fixture
from tests.provider_servers import FakeProvider, twilio_error

REMINDER = "Nhắc lịch khám: Bác sĩ Trần Thị Bình, 08:30 Thứ Năm"
MESSAGING_SERVICE = "MG" + "ab" * 16


@pytest.fixture
def twilio():
    provider = FakeProvider("twilio").start()
    yield provider
    provider.stop()


@pytest.fixture
def zalo():
    provider = FakeProvider("zalo").start()
    yield provider
    provider.stop()


def twilio_config(app, provider: FakeProvider, **extra) -> dict:
    return {**app.config, "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": provider.account_sid,
            "TWILIO_AUTH_TOKEN": provider.auth_token, "TWILIO_FROM": "+15005550006",
            "TWILIO_API_BASE": provider.url, **extra}


def zalo_config(app, provider: FakeProvider, **extra) -> dict:
    return {**app.config, "ZALO_ENABLED": True, "ZALO_ACCESS_TOKEN": provider.access_token,
            "ZALO_API_URL": provider.url + "/message/template",
            "ZALO_TEMPLATES": "appointment_reminder=231456, plain=231457", **extra}


def _queue(db, channel: str, recipient: str = "+84912345678", **params):
    message = queue_message(db.session, channel=channel, kind="plain", recipient=recipient, language="vi",
                            params={"subject": "Nhắc lịch", "text": REMINDER, "short_text": REMINDER, **params})
    db.session.commit()
    return message


def _row(db, message_id: int) -> OutboundMessage:
    db.session.expire_all()
    return db.session.get(OutboundMessage, message_id)


# --- text --------------------------------------------------------------------------------------

def test_vietnamese_without_diacritics():
    assert without_diacritics(REMINDER) == "Nhac lich kham: Bac si Tran Thi Binh, 08:30 Thu Nam"
    assert without_diacritics("Đặng Văn Đức — đã đặt lịch") == "Dang Van Duc - da dat lich"
    assert without_diacritics("ƯỚC Ở ỄNH Ỹ") == "UOC O ENH Y"
    assert without_diacritics(REMINDER).isascii()


def test_the_outbox_sms_is_what_the_patient_would_get(app, db):
    message = _queue(db, "sms")
    config = {**app.config, "SMS_ASCII_ONLY": True}
    assert deliver_message(db.session, message.id, config) == "sent"
    files = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.sms.json"))
    assert json.loads(files[0].read_text(encoding="utf-8"))["text"] == \
        "Nhac lich kham: Bac si Tran Thi Binh, 08:30 Thu Nam"
    assert _row(db, message.id).body == "Nhac lich kham: Bac si Tran Thi Binh, 08:30 Thu Nam"  # the dashboard's copy
    # without the setting the accents stay
    assert sms_text(app.config, Rendered(subject="x", text="x", short_text=REMINDER)) == REMINDER


# --- Twilio ------------------------------------------------------------------------------------

def test_twilio_sends_the_documented_request_and_keeps_the_sid(app, db, twilio):
    message = _queue(db, "sms")
    assert deliver_message(db.session, message.id, twilio_config(app, twilio, SMS_ASCII_ONLY=True)) == "sent"
    [seen] = twilio.requests
    assert seen.method == "POST" and seen.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    user, _, password = base64.b64decode(seen.headers["authorization"].split()[1]).decode().partition(":")
    assert (user, password) == (twilio.account_sid, twilio.auth_token)
    assert {name: values[0] for name, values in seen.form.items()} == {
        "To": "+84912345678", "From": "+15005550006", "Body": "Nhac lich kham: Bac si Tran Thi Binh, 08:30 Thu Nam"}
    row = _row(db, message.id)
    assert row.status == "sent" and row.provider_ref.startswith("SM") and len(row.provider_ref) == 34
    assert row.body == "Nhac lich kham: Bac si Tran Thi Binh, 08:30 Thu Nam" and row.last_error is None
    assert list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.sms.json")) == []  # not the outbox


def test_twilio_from_a_messaging_service_keeps_the_accents_without_the_setting(app, db, twilio):
    message = _queue(db, "sms")
    assert deliver_message(db.session, message.id, twilio_config(app, twilio, TWILIO_FROM=MESSAGING_SERVICE)) == "sent"
    form = {name: values[0] for name, values in twilio.requests[0].form.items()}
    assert form == {"To": "+84912345678", "MessagingServiceSid": MESSAGING_SERVICE, "Body": REMINDER}


def test_twilio_rate_limited_is_retried_with_backoff_then_sent(app, db, twilio):
    twilio.answers = [(429, twilio_error(20429, "Too Many Requests", 429))]
    message = _queue(db, "sms")
    config = twilio_config(app, twilio)
    now = utcnow()
    assert deliver_message(db.session, message.id, config, now=now) == "queued"
    row = _row(db, message.id)
    settings = MessagingSettings.from_config(config)
    assert row.status == "queued" and row.attempts == 1 and row.not_before == now + settings.backoff(1)
    assert "429" in row.last_error and "Too Many Requests" in row.last_error
    # the limit lifts: the retry after the wait goes through
    twilio.answers = []
    assert deliver_message(db.session, message.id, config, now=row.not_before) == "sent"
    row = _row(db, message.id)
    assert row.attempts == 2 and row.provider_ref.startswith("SM") and row.last_error is None
    assert len(twilio.requests) == 2


@pytest.mark.parametrize("status", [500, 503])
def test_twilio_server_errors_are_temporary(app, db, twilio, status):
    twilio.answers = [(status, twilio_error(20500, "Internal Server Error", status))]
    message = _queue(db, "sms")
    assert deliver_message(db.session, message.id, twilio_config(app, twilio)) == "queued"


def test_twilio_unreachable_is_temporary(app, db, twilio):
    config = twilio_config(app, twilio)
    twilio.stop()  # nothing listens on that port now: connection refused
    message = _queue(db, "sms")
    assert deliver_message(db.session, message.id, config) == "queued"
    assert "not reachable" in _row(db, message.id).last_error


@pytest.mark.parametrize("code, words", [(21610, "unsubscribed"), (21614, "not a mobile number")])
def test_twilio_refusing_the_recipient_fails_at_once_with_the_reason(app, db, twilio, code, words):
    twilio.answers = [(400, twilio_error(code, "Attempt to send to unsubscribed recipient", 400))]
    message = _queue(db, "sms")
    assert deliver_message(db.session, message.id, twilio_config(app, twilio)) == "failed"
    row = _row(db, message.id)
    assert row.status == "failed" and row.attempts == 1
    assert f"error {code}" in row.last_error and words in row.last_error


def test_twilio_checks_the_number_itself(app, db, twilio):
    message = _queue(db, "sms", recipient="0912345678")  # not E.164: the server refuses it as Twilio does
    assert deliver_message(db.session, message.id, twilio_config(app, twilio)) == "failed"
    assert "21211" in _row(db, message.id).last_error and "not a valid phone number" in _row(db, message.id).last_error


def test_twilio_wrong_credentials_fail(app, db, twilio):
    message = _queue(db, "sms")
    assert deliver_message(db.session, message.id, twilio_config(app, twilio, TWILIO_AUTH_TOKEN="wrong")) == "failed"
    assert "401" in _row(db, message.id).last_error and "20003" in _row(db, message.id).last_error


def test_twilio_without_settings_says_which_are_missing(app, db):
    message = _queue(db, "sms")
    config = {**app.config, "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}
    assert deliver_message(db.session, message.id, config) == "failed"
    assert "TWILIO_ACCOUNT_SID" in _row(db, message.id).last_error


# --- Zalo ZNS ----------------------------------------------------------------------------------

def _zalo_message(db, recipient="+84912345678"):
    return _queue(db, "zalo", recipient=recipient)


@pytest.fixture
def zalo_data(monkeypatch):
    """The plain renderer gives no template data: give it what a reminder's renderer would."""
    from app.services.messaging import builtin_notices, render

    original = builtin_notices.render_plain

    def with_data(session, message, config):
        rendered = original(session, message, config)
        return Rendered(subject=rendered.subject, text=rendered.text, short_text=rendered.short_text,
                        template_data={"customer_name": "Trần Thị Bình", "booking_time": "08:30 03/12/2026",
                                       "booking_code": 42})

    monkeypatch.setitem(render.RENDERERS, "plain", with_data)


def test_zalo_sends_the_documented_request_and_keeps_the_msg_id(app, db, zalo, zalo_data):
    message = _zalo_message(db)
    assert deliver_message(db.session, message.id, zalo_config(app, zalo)) == "sent"
    [seen] = zalo.requests
    assert seen.method == "POST" and seen.path == "/message/template"
    assert seen.headers["access_token"] == zalo.access_token
    assert seen.headers["content-type"].startswith("application/json")
    assert seen.json == {"phone": "84912345678", "template_id": "231457", "tracking_id": f"msg-{message.id}",
                         "template_data": {"customer_name": "Trần Thị Bình", "booking_time": "08:30 03/12/2026",
                                           "booking_code": "42"}}
    row = _row(db, message.id)
    assert row.status == "sent" and len(row.provider_ref) == 32 and row.last_error is None


def test_zalo_template_chosen_by_the_renderer(app, db, zalo, monkeypatch):
    from app.services.messaging import render

    monkeypatch.setitem(render.RENDERERS, "plain", lambda session, message, config: Rendered(
        subject="x", text="x", template="appointment_reminder", template_data={"name": "An"}))
    message = _zalo_message(db, recipient="0912 345 678")  # a national number: sent as 84...
    assert deliver_message(db.session, message.id, zalo_config(app, zalo)) == "sent"
    assert zalo.requests[0].json["template_id"] == "231456" and zalo.requests[0].json["phone"] == "84912345678"


@pytest.mark.parametrize("answer", [
    (429, {"error": -32, "message": "Too many requests"}),
    (200, {"error": -115, "message": "Out of quota"}),
    (200, {"error": -133, "message": "Can't send ZNS message in night time"}),
    (502, {"error": -100, "message": "Bad gateway"}),
])
def test_zalo_rate_limit_and_quota_are_retried_with_backoff(app, db, zalo, zalo_data, answer):
    zalo.answers = [answer]
    message = _zalo_message(db)
    config = zalo_config(app, zalo)
    now = utcnow()
    assert deliver_message(db.session, message.id, config, now=now) == "queued"
    row = _row(db, message.id)
    assert row.not_before == now + MessagingSettings.from_config(config).backoff(1) and row.last_error
    zalo.answers = []
    assert deliver_message(db.session, message.id, config, now=row.not_before) == "sent"
    assert _row(db, message.id).provider_ref


@pytest.mark.parametrize("answer, words", [
    ({"error": -112, "message": "Template data invalid"}, "template data is invalid"),
    ({"error": -109, "message": "Template ID invalid"}, "template id is invalid"),
    ({"error": -118, "message": "Zalo account not existed"}, "no Zalo account"),
    ({"error": -139, "message": "User refused to receive ZNS"}, "refused"),
])
def test_zalo_rejections_fail_at_once_with_the_reason(app, db, zalo, zalo_data, answer, words):
    zalo.answers = [(200, answer)]
    message = _zalo_message(db)
    assert deliver_message(db.session, message.id, zalo_config(app, zalo)) == "failed"
    row = _row(db, message.id)
    assert row.status == "failed" and row.attempts == 1
    assert f"Zalo error {answer['error']}" in row.last_error and words in row.last_error
    assert answer["message"] in row.last_error


def test_zalo_checks_token_phone_and_data_as_zalo_does(app, db, zalo, zalo_data):
    wrong_token = _zalo_message(db)
    assert deliver_message(db.session, wrong_token.id, zalo_config(app, zalo, ZALO_ACCESS_TOKEN="expired")) == "queued"
    assert "-124" in _row(db, wrong_token.id).last_error and "ZALO_ACCESS_TOKEN" in _row(db, wrong_token.id).last_error
    not_a_number = _zalo_message(db, recipient="12")
    assert deliver_message(db.session, not_a_number.id, zalo_config(app, zalo)) == "failed"
    assert "not a valid phone number" in _row(db, not_a_number.id).last_error
    assert len(zalo.requests) == 1  # the bad number never left


def test_zalo_without_a_template_for_the_kind_fails_clearly(app, db, zalo, zalo_data):
    message = _zalo_message(db)
    assert deliver_message(db.session, message.id, zalo_config(app, zalo, ZALO_TEMPLATES="other=1")) == "failed"
    error = _row(db, message.id).last_error
    assert "no Zalo template for 'plain'" in error and "ZALO_TEMPLATES" in error
    assert zalo.requests == []


def test_zalo_unreachable_is_temporary(app, db, zalo, zalo_data):
    config = zalo_config(app, zalo)
    zalo.stop()
    message = _zalo_message(db)
    assert deliver_message(db.session, message.id, config) == "queued"
    assert "not reachable" in _row(db, message.id).last_error


def test_both_providers_are_registered():
    channels.load_providers()
    assert channels.ADAPTERS["sms"]["twilio"].__name__ == "TwilioSender"
    assert channels.ADAPTERS["zalo"]["zns"].__name__ == "ZaloZnsSender"
    assert channels.provider_name("zalo", {"ZALO_ENABLED": False}) == "outbox"
