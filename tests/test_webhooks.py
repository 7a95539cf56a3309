"""Signed webhooks (app/services/webhooks.py): the signature, the fan-out from the outbox (one
delivery per subscribed endpoint, never twice), delivery to a real HTTP server on loopback that
checks the signature, retries with backoff and their end after a day, resend, the built-in test
receiver, and the admin pages (Admin only, CSRF on every POST, every broken field at once)."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.models.types import utcnow

SECRET = "whsec_test_0123456789"


# --- the signature ---------------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    from app.services import webhooks

    body = '{"type":"patient.registered","data":{"name":"Nguyễn"}}'.encode()
    expected = hmac.new(SECRET.encode(), b"1764820800." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign(SECRET, 1764820800, body) == f"t=1764820800,v1={expected}"
    # A known vector, computed once with another tool (Python's hmac module, by hand):
    assert webhooks.signature("secret", 0, b"{}") == hmac.new(b"secret", b"0.{}", hashlib.sha256).hexdigest()


def test_verify_refuses_a_tampered_body_an_old_timestamp_a_wrong_secret_and_garbage():
    from app.services import webhooks

    body = b'{"id":"1"}'
    now = datetime(2026, 12, 4, 3, 0, tzinfo=timezone.utc)
    header = webhooks.sign(SECRET, int(now.timestamp()), body)
    assert webhooks.verify(SECRET, header, body, now)
    assert webhooks.verify(SECRET, header, body, now + timedelta(seconds=299))
    assert not webhooks.verify(SECRET, header, b'{"id":"2"}', now)
    assert not webhooks.verify(SECRET, header, body, now + timedelta(seconds=301))  # a replay
    assert not webhooks.verify("whsec_other", header, body, now)
    for bad in (None, "", "t=abc,v1=00", f"v1={header.split('v1=')[1]}", "t=1"):
        assert not webhooks.verify(SECRET, bad, body, now)
    # Several v1 values (a receiver rolling its secret): any one that matches is enough.
    assert webhooks.verify(SECRET, header.replace("v1=", "v1=00,v1="), body, now)


def test_the_backoff_is_one_day_long():
    from app.services.webhooks import next_attempt

    start = datetime(2026, 12, 4, tzinfo=timezone.utc)
    until = start + timedelta(hours=24)
    assert next_attempt(1, start, until) == start + timedelta(minutes=1)
    assert next_attempt(2, start, until) == start + timedelta(minutes=5)
    assert next_attempt(3, start, until) == start + timedelta(minutes=30)
    assert next_attempt(4, start, until) == start + timedelta(hours=2)
    assert next_attempt(5, start, until) == start + timedelta(hours=6)
    assert next_attempt(9, start + timedelta(hours=20), until) == until  # the last try at the day's end
    assert next_attempt(10, until, until) is None


@pytest.mark.parametrize("url, allow_http, ok", [
    ("https://hooks.example.vn/clinic", False, True),
    ("http://hooks.example.vn/clinic", True, False),  # http only to this machine
    ("http://127.0.0.1:8080/x", True, True),
    ("http://localhost/x", True, True),
    ("http://127.0.0.1:8080/x", False, False),
    ("ftp://hooks.example.vn/", True, False),
    ("hooks.example.vn", True, False),
    ("https://", True, False),
    ("https://exa mple.vn/", True, False),
    ("", True, False),
])
def test_endpoint_addresses(app, url, allow_http, ok):
    from app.services.webhooks import url_problem

    with app.test_request_context():
        assert (url_problem(url, allow_http) is None) is ok


# --- a local receiver --------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that checks each POST's signature with ``secret`` and answers
    with the next of ``answers`` (a status, or "sleep" to time out)."""

    def __init__(self):
        self.secret = ""
        self.answers: list = []
        self.got: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get("Clinic-Signature") or ""
                parts = dict(part.split("=", 1) for part in header.split(","))
                expected = hmac.new(receiver.secret.encode(), parts["t"].encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
                receiver.got.append({"body": json.loads(body), "signed": hmac.compare_digest(expected, parts["v1"]),
                                     "event_type": self.headers.get("Clinic-Event-Type")})
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "sleep":
                    time.sleep(1.5)
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _endpoint(app, db, url: str, types=("patient.registered",), now=None) -> tuple[int, str]:
    from app.services import webhooks

    with app.test_request_context():
        return webhooks.create_endpoint(db.session, url=url, event_types=list(types), description="CRM",
                                        actor_id=None, now=now or utcnow(), allow_http=True)


def _patient(app, db, name="Trần Thị Bình") -> int:
    from app.models import Patient
    from app.services.people import next_patient_code

    patient = Patient(full_name=name, phone="0903 111 222", code=next_patient_code(db.session))
    db.session.add(patient)
    db.session.commit()
    return patient.id


def _delivery(db, delivery_id):
    from app.models import WebhookDelivery

    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)


# --- fan-out -----------------------------------------------------------------------------------------


def test_fan_out_makes_one_delivery_per_subscribed_endpoint_and_none_twice(app, db):
    from app.services import webhooks

    crm, _ = _endpoint(app, db, "https://crm.example.vn/hook", ("patient.registered", "patient.updated"))
    billing, _ = _endpoint(app, db, "https://billing.example.vn/hook", ("invoice.paid",))
    off, _ = _endpoint(app, db, "https://off.example.vn/hook", ("patient.registered",))
    webhooks.set_active(db.session, off, False)
    _patient(app, db)
    _patient(app, db, "Lê Văn Cường")
    made = webhooks.fan_out(db.session, utcnow())
    assert len(made) == 2
    assert {(d.endpoint_id, d.event_type, d.status) for d in webhooks.deliveries(db.session, crm)} == {
        (crm, "patient.registered", "pending")}
    assert webhooks.deliveries(db.session, billing) == [] and webhooks.deliveries(db.session, off) == []
    # Run again (the events are recent: the cursor stays behind them and they are read again): nothing new.
    assert webhooks.fan_out(db.session, utcnow()) == []
    # A minute later the cursor moves past them; still nothing new.
    assert webhooks.fan_out(db.session, utcnow() + timedelta(minutes=2)) == []
    from app.models import WebhookCursor

    assert db.session.get(WebhookCursor, "fan_out").last_outbox_id > 0
    assert len(webhooks.deliveries(db.session, crm)) == 2


def test_an_endpoint_gets_no_event_from_before_it_existed(app, db):
    from app.services import webhooks

    _patient(app, db)
    later, _ = _endpoint(app, db, "https://crm.example.vn/hook", now=utcnow() + timedelta(seconds=5))
    assert webhooks.fan_out(db.session, utcnow()) == []


def test_two_fan_outs_at_once_make_each_delivery_once(app, db):
    from app.extensions import db as database
    from app.models import WebhookDelivery
    from app.services import webhooks

    _endpoint(app, db, "https://crm.example.vn/hook")
    for n in range(5):
        _patient(app, db, f"Bệnh nhân {n}")
    results: list = []

    def run():
        with app.app_context():
            session = database.session.session_factory()
            try:
                results.append(webhooks.fan_out(session, utcnow()))
            except Exception as exc:  # noqa: BLE001 - SQLite may refuse the second writer: also fine
                results.append(exc)
            finally:
                session.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    db.session.rollback()
    assert db.session.query(WebhookDelivery).count() == 5
    assert sum(len(r) for r in results if isinstance(r, list)) == 5


# --- delivery ----------------------------------------------------------------------------------------


def test_delivery_to_a_real_server_is_signed_and_delivered(app, db, receiver):
    from app.services import webhooks

    endpoint_id, secret = _endpoint(app, db, receiver.url)
    receiver.secret = secret
    patient_id = _patient(app, db)
    [delivery_id] = webhooks.fan_out(db.session, utcnow())
    assert webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=True) == "delivered"
    [got] = receiver.got
    assert got["signed"] and got["event_type"] == "patient.registered"
    assert got["body"]["type"] == "patient.registered" and got["body"]["data"]["patient_id"] == patient_id
    assert got["body"]["aggregate"] == {"type": "patient", "id": str(patient_id), "sequence": 1}
    delivery = _delivery(db, delivery_id)
    assert (delivery.attempts, delivery.last_status_code, delivery.next_attempt_at) == (1, 200, None)
    assert delivery.delivered_at is not None
    # Delivered: a second job for it (the sweep's, a duplicate) sends nothing.
    assert webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=True) == "delivered"
    assert len(receiver.got) == 1


def test_a_500_and_a_timeout_are_tried_again_later_then_delivered(app, db, receiver):
    from app.services import webhooks

    _endpoint_id, receiver.secret = _endpoint(app, db, receiver.url)
    _patient(app, db)
    [delivery_id] = webhooks.fan_out(db.session, utcnow())
    receiver.answers = [500, "sleep"]
    now = utcnow()
    assert webhooks.deliver(db.session, delivery_id, now, allow_http=True) == "pending"
    delivery = _delivery(db, delivery_id)
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 500, "HTTP 500")
    assert delivery.next_attempt_at == now + timedelta(minutes=1)
    # Not due yet: the sweep does not pick it, a job for it sends nothing.
    assert delivery_id not in webhooks.due_deliveries(db.session, now + timedelta(seconds=30))
    assert webhooks.deliver(db.session, delivery_id, now + timedelta(seconds=30), allow_http=True) == "pending"
    assert len(receiver.got) == 1
    later = now + timedelta(minutes=1)
    assert delivery_id in webhooks.due_deliveries(db.session, later + timedelta(seconds=20))
    assert webhooks.deliver(db.session, delivery_id, later, allow_http=True, timeout=0.5) == "pending"
    delivery = _delivery(db, delivery_id)
    assert delivery.attempts == 2 and delivery.last_status_code is None
    assert "Timeout" in delivery.last_error or "timed out" in delivery.last_error
    assert delivery.next_attempt_at == later + timedelta(minutes=5)
    assert webhooks.deliver(db.session, delivery_id, later + timedelta(minutes=5), allow_http=True) == "delivered"
    delivery = _delivery(db, delivery_id)
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (3, 200, None)
    assert all(got["signed"] for got in receiver.got)


def test_after_a_day_of_failures_the_delivery_is_failed(app, db):
    from app.services import webhooks

    _endpoint(app, db, "https://crm.example.vn/hook")
    _patient(app, db)
    [delivery_id] = webhooks.fan_out(db.session, utcnow())
    tries: list = []

    def down(url, body, headers, timeout):
        tries.append(headers["Clinic-Signature"])
        raise ConnectionError("connection refused")

    now = utcnow()
    while True:
        status = webhooks.deliver(db.session, delivery_id, now, allow_http=False, post=down)
        delivery = _delivery(db, delivery_id)
        if status != "pending":
            break
        now = delivery.next_attempt_at
    assert status == "failed" and delivery.next_attempt_at is None
    assert "connection refused" in delivery.last_error
    assert now >= delivery.retry_until - timedelta(seconds=1) and 7 <= len(tries) <= 10


def test_a_4xx_fails_at_once_but_408_and_429_are_tried_again(app, db):
    from app.services import webhooks

    _endpoint(app, db, "https://crm.example.vn/hook")
    for n in range(3):
        _patient(app, db, f"Bệnh nhân {n}")
    ids = webhooks.fan_out(db.session, utcnow())
    for delivery_id, code, expected in zip(ids, (404, 408, 429), ("failed", "pending", "pending"), strict=True):
        assert webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=False,
                                post=lambda *args, code=code: code) == expected


def test_resend_sends_a_delivered_or_failed_event_again(app, db, receiver):
    from app.services import webhooks

    endpoint_id, receiver.secret = _endpoint(app, db, receiver.url)
    _patient(app, db)
    [delivery_id] = webhooks.fan_out(db.session, utcnow())
    receiver.answers = [410]
    assert webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=True) == "failed"
    webhooks.resend(db.session, delivery_id, utcnow())
    assert _delivery(db, delivery_id).status == "pending"
    assert webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=True) == "delivered"
    assert [got["body"]["id"] for got in receiver.got] == [receiver.got[0]["body"]["id"]] * 2
    assert _delivery(db, delivery_id).attempts == 2


def test_a_deactivated_endpoint_s_pending_delivery_fails(app, db):
    from app.services import webhooks

    endpoint_id, _ = _endpoint(app, db, "https://crm.example.vn/hook")
    _patient(app, db)
    [delivery_id] = webhooks.fan_out(db.session, utcnow())
    webhooks.set_active(db.session, endpoint_id, False)
    assert webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=False,
                            post=lambda *args: pytest.fail("sent")) == "failed"


def test_the_jobs_fan_out_and_deliver_in_process(app, db, receiver):
    from app.jobs import webhooks as jobs

    _endpoint_id, receiver.secret = _endpoint(app, db, receiver.url)
    _patient(app, db)
    with app.app_context():
        assert jobs.fan_out() == 1  # no Redis: each delivery job runs at once
    assert len(receiver.got) == 1 and receiver.got[0]["signed"]


# --- the built-in test receiver ------------------------------------------------------------------------


def test_the_test_receiver_keeps_payloads_and_says_whether_they_verify(app, db, client):
    from app.services import webhooks

    token = webhooks.receiver_token(app.secret_key)
    url = f"http://localhost{webhooks.RECEIVER_PATH}{token}"
    _id, secret = _endpoint(app, db, url)
    body = json.dumps({"id": "e-1", "type": "patient.registered", "data": {"name": "Phạm Thu"}},
                      ensure_ascii=False).encode()
    header = webhooks.sign(secret, int(time.time()), body)
    answer = client.post(f"/webhooks/test-receiver/{token}", data=body, headers={"Clinic-Signature": header},
                         content_type="application/json", csrf=False)
    assert answer.status_code == 200 and answer.get_json() == {"received": True, "verified": True}
    answer = client.post(f"/webhooks/test-receiver/{token}", data=body + b" ", headers={"Clinic-Signature": header},
                         content_type="application/json", csrf=False)
    assert answer.get_json()["verified"] is False
    assert client.post("/webhooks/test-receiver/not-the-token", data=body, csrf=False).status_code == 404
    rows = webhooks.received_payloads(db.session)
    assert [(r.verified, r.event_type) for r in rows] == [(False, "patient.registered"), (True, "patient.registered")]
    assert "Phạm Thu" in rows[0].body


# --- the pages -------------------------------------------------------------------------------------------


def test_admin_creates_an_endpoint_sees_the_secret_once_and_its_deliveries(app, db, login_as):
    from app.models import WebhookEndpoint
    from app.services import webhooks

    admin = login_as("admin")
    assert "Webhooks" in admin.get("/webhooks/").get_data(as_text=True)
    assert admin.get("/webhooks/new").status_code == 200
    answer = admin.post("/webhooks/new", data={"url": "https://crm.example.vn/hook", "description": "CRM",
                                               "event_types": ["patient.registered", "invoice.paid"]})
    html = answer.get_data(as_text=True)
    db.session.rollback()
    endpoint = db.session.query(WebhookEndpoint).one()
    assert answer.status_code == 200 and endpoint.secret in html
    assert endpoint.event_types == ["patient.registered", "invoice.paid"]
    page = admin.get(f"/webhooks/{endpoint.id}/").get_data(as_text=True)
    assert endpoint.secret not in page and "crm.example.vn" in page
    assert endpoint.secret in admin.post(f"/webhooks/{endpoint.id}/reveal").get_data(as_text=True)
    _patient(app, db)
    [delivery_id] = webhooks.fan_out(db.session, utcnow())
    webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=False, post=lambda *args: 503)
    page = admin.get(f"/webhooks/{endpoint.id}/").get_data(as_text=True)
    assert f'data-delivery="{delivery_id}"' in page and "HTTP 503" in page
    assert admin.post(f"/webhooks/deliveries/{delivery_id}/resend").status_code == 303
    assert _delivery(db, delivery_id).next_attempt_at <= utcnow()
    answer = admin.post(f"/webhooks/{endpoint.id}/edit", data={"url": "https://crm2.example.vn/hook",
                                                               "event_types": ["invoice.paid"]})
    assert answer.status_code == 303
    db.session.expire_all()
    assert (endpoint.url, endpoint.event_types, endpoint.active) == ("https://crm2.example.vn/hook",
                                                                     ["invoice.paid"], False)
    assert admin.post(f"/webhooks/{endpoint.id}/activate").status_code == 303
    db.session.expire_all()
    assert endpoint.active
    assert admin.post(f"/webhooks/{endpoint.id}/deactivate").status_code == 303
    db.session.expire_all()
    assert not endpoint.active
    assert admin.get("/webhooks/test-receiver/").status_code == 200


def test_the_form_names_every_broken_field_at_once(app, db, login_as):
    from app.models import WebhookEndpoint

    admin = login_as("admin")
    answer = admin.post("/webhooks/new", data={"url": "http://crm.example.vn/hook", "description": "x" * 250})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Plain http:// is allowed only to this machine" in html
    assert "Choose at least one event." in html
    assert "The description is too long" in html
    assert 'value="http://crm.example.vn/hook"' in html  # what was typed is kept
    answer = admin.post("/webhooks/new", data={"url": "not a url", "event_types": ["no.such"]})
    html = answer.get_data(as_text=True)
    assert "This is not a web address" in html and "Unknown event: no.such." in html
    db.session.rollback()
    assert db.session.query(WebhookEndpoint).count() == 0


def test_a_post_without_the_csrf_token_is_refused(app, db, login_as):
    from app.models import WebhookDelivery, WebhookEndpoint
    from app.services import webhooks

    admin = login_as("admin")
    answer = admin.post("/webhooks/new", data={"url": "https://crm.example.vn/hook",
                                               "event_types": ["patient.registered"]}, csrf=False)
    assert answer.status_code == 400
    db.session.rollback()
    assert db.session.query(WebhookEndpoint).count() == 0
    endpoint_id, _ = _endpoint(app, db, "https://crm.example.vn/hook")
    _patient(app, db)
    [delivery_id] = webhooks.fan_out(db.session, utcnow())
    webhooks.deliver(db.session, delivery_id, utcnow(), allow_http=False, post=lambda *args: 404)
    for url in (f"/webhooks/deliveries/{delivery_id}/resend", f"/webhooks/{endpoint_id}/deactivate",
                f"/webhooks/{endpoint_id}/reveal"):
        assert admin.post(url, csrf=False).status_code == 400, url
    assert _delivery(db, delivery_id).status == "failed"
    assert db.session.get(WebhookEndpoint, endpoint_id).active
    assert db.session.query(WebhookDelivery).count() == 1


@pytest.mark.parametrize("role", ["manager", "receptionist", "doctor", "cashier"])
def test_the_pages_are_the_admin_s_only(app, db, login_as, role):
    endpoint_id, secret = _endpoint(app, db, "https://crm.example.vn/hook")
    user = login_as(role)
    for url in ("/webhooks/", "/webhooks/new", f"/webhooks/{endpoint_id}/", f"/webhooks/{endpoint_id}/edit",
                "/webhooks/test-receiver/"):
        answer = user.get(url)
        assert answer.status_code == 403, (url, answer.status_code)
        assert secret not in answer.get_data(as_text=True)
    for url in (f"/webhooks/{endpoint_id}/reveal", f"/webhooks/{endpoint_id}/deactivate"):
        answer = user.post(url)
        assert answer.status_code == 403 and secret not in answer.get_data(as_text=True)
    db.session.rollback()
    from app.models import WebhookEndpoint

    assert db.session.get(WebhookEndpoint, endpoint_id).active
