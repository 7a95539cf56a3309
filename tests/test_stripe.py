"""Card payments through Stripe Checkout, against a local HTTP server playing Stripe's API (set as
the library's API base: the ``stripe`` library's real requests, no network) and webhooks signed
as Stripe signs them (``t=<ts>,v1=<HMAC-SHA256(secret, "<ts>.<body>")>``)."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from app.services.billing_settings import BillingSettings

SECRET_KEY = "sk_test_clinic_51NzQ"
WEBHOOK_SECRET = "whsec_test_clinic_secret"
SUCCESS_URL = "https://clinic.example/clinic/invoices/paid"
CANCEL_URL = "https://clinic.example/clinic/invoices/cancelled"


# ---- a local server playing Stripe's API ----------------------------------------------------------

class FakeStripe:
    """Answers ``POST /v1/checkout/sessions`` and ``POST /v1/refunds`` as Stripe does (JSON
    objects, the same answer again for a repeated ``Idempotency-Key``) and records every request
    the library really sent. ``mode``: "ok", "500" (Stripe failing) or "invalid" (a 400 refusal)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.mode = "ok"
        self.answers: dict[str, tuple[int, dict]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "form": form})
                status, answer = fake.answer(self.path, form, self.headers.get("Idempotency-Key"))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_test_{len(fake.requests)}")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str, form: dict, key: str | None) -> tuple[int, dict]:
        if self.mode == "500":
            return 500, {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        if self.mode == "invalid":
            return 400, {"error": {"type": "invalid_request_error", "message": "Invalid currency: vnd"}}
        if key and key in self.answers:
            return self.answers[key]
        n = len(self.answers) + 1
        if path == "/v1/checkout/sessions":
            answer = (200, {
                "id": f"cs_test_a1{n:04d}", "object": "checkout.session", "mode": "payment", "status": "open",
                "payment_status": "unpaid", "currency": form.get("line_items[0][price_data][currency]"),
                "amount_total": int(form.get("line_items[0][price_data][unit_amount]", 0)),
                "client_reference_id": form.get("client_reference_id"),
                "metadata": {"invoice_id": form.get("metadata[invoice_id]")},
                "url": f"https://checkout.stripe.com/c/pay/cs_test_a1{n:04d}",
            })
        elif path == "/v1/refunds":
            answer = (200, {"id": f"re_test_{n:04d}", "object": "refund", "amount": int(form.get("amount", 0)),
                            "currency": "vnd", "payment_intent": form.get("payment_intent"), "status": "succeeded"})
        else:
            answer = (404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}})
        if key:
            self.answers[key] = answer
        return answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def stripe_api():
    server = FakeStripe()
    yield server
    server.close()


@pytest.fixture
def billing(app, stripe_api, monkeypatch) -> BillingSettings:
    """The clinic's Stripe settings (the webhook route reads them from the config too)."""
    for name, value in (("STRIPE_SECRET_KEY", SECRET_KEY), ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
                        ("STRIPE_API_BASE", stripe_api.url)):
        monkeypatch.setitem(app.config, name, value)
    return BillingSettings.from_config(app.config)


@pytest.fixture
def notified(monkeypatch) -> list[int]:
    """The payments whose receipt e-mail was asked for (app.services.billing_notify)."""
    from app.services import billing_notify

    calls: list[int] = []
    monkeypatch.setattr(billing_notify, "payment_received", calls.append)
    return calls


@pytest.fixture
def invoice(app, clinic) -> int:
    """An issued invoice of 300 000 VND, ready to take payments: ``Clinic.invoice``'s two lines
    (tests/factories.py), without the 10 % VAT that the default settings put on "other" lines
    (the factory's invoice comes to 330 000)."""
    from app.extensions import db
    from app.services import billing
    from app.services.billing_settings import DEFAULT_VAT

    settings = BillingSettings(email_on_issue=False, email_on_payment=False,
                               vat_rates={**DEFAULT_VAT, "other": Decimal(0)})
    moment = now()
    with app.app_context():
        draft = billing.new_draft(db.session, clinic.patient, None, moment, settings)
        db.session.commit()
        for description, quantity, unit_price in (("Khám tổng quát", 1, 200000), ("Xét nghiệm máu", 2, 50000)):
            billing.add_line(db.session, draft.id, billing.LineInput(
                kind="other", description=description, quantity=Decimal(quantity), unit_price=Decimal(unit_price),
                reason="test"), None, moment, settings, may_change_price=False)
        issued = billing.issue_invoice(db.session, draft.id, None, moment, settings, moment.year)
        assert (issued.status, issued.total) == ("issued", 300000)
        return issued.id


def now() -> datetime:
    return datetime.now(timezone.utc)


def checkout(app, db, invoice: int, billing: BillingSettings, amount=300000, **kwargs) -> str:
    from app.services import stripe_gateway

    with app.test_request_context():
        return stripe_gateway.start_checkout(db.session, invoice, Decimal(amount), None, now(), billing,
                                             success_url=SUCCESS_URL, cancel_url=CANCEL_URL, **kwargs)


def payments_of(db, invoice: int):
    from app.services import payments

    db.session.expire_all()
    return payments.invoice_payments(db.session, invoice)


def invoice_row(db, invoice: int):
    from app.models import Invoice

    db.session.expire_all()
    return db.session.get(Invoice, invoice)


# ---- webhooks as Stripe sends them -----------------------------------------------------------------

def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


_events = iter(range(1, 10**6))


def event(kind: str, session_id: str, *, event_id: str | None = None, amount: int | None = 300000,
          payment_status: str = "paid", intent: str | None = "pi_test_3Nq", currency: str = "vnd") -> str:
    return json.dumps({
        "id": event_id or f"evt_test_{next(_events):06d}", "object": "event", "api_version": "2025-01-27.acacia",
        "created": int(time.time()), "livemode": False, "pending_webhooks": 1, "type": kind,
        "data": {"object": {"id": session_id, "object": "checkout.session", "mode": "payment",
                            "amount_total": amount, "currency": currency, "payment_status": payment_status,
                            "payment_intent": intent, "status": "complete" if kind.endswith("completed") else "open"}},
    })


def deliver(client, payload: str | bytes, signature: str | None = "sign", **headers):
    """POST the body to the webhook as Stripe's server would: no session, no CSRF token."""
    if signature == "sign":
        signature = sign(payload if isinstance(payload, str) else payload.decode())
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", data=payload, headers=headers, content_type="application/json",
                       csrf=False)


def session_id_of(db, invoice: int) -> str:
    (payment,) = payments_of(db, invoice)
    return payment.provider_reference


# ---- Checkout ----------------------------------------------------------------------------------------

def test_checkout_sends_what_is_owed_to_stripe_and_keeps_a_pending_payment(app, db, invoice, billing, stripe_api):
    url = checkout(app, db, invoice, billing, locale="vi", customer_email="an.nguyen@example.vn")

    assert url == "https://checkout.stripe.com/c/pay/cs_test_a10001"
    (sent,) = stripe_api.requests
    assert sent["path"] == "/v1/checkout/sessions"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent["headers"]["Idempotency-Key"].startswith("clinic-checkout-")
    number = invoice_row(db, invoice).number
    form = sent["form"]
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "vnd"
    assert form["line_items[0][price_data][unit_amount]"] == "300000"  # whole đồng: VND is zero-decimal
    assert form["line_items[0][price_data][product_data][name]"] == f"Invoice {number}"
    assert form["line_items[0][quantity]"] == "1"
    assert "line_items[1][quantity]" not in form
    assert form["client_reference_id"] == str(invoice)
    assert form["metadata[invoice_id]"] == str(invoice)
    assert form["metadata[payment_token]"] and form["metadata[payment_token]"] in sent["headers"]["Idempotency-Key"]
    assert form["success_url"] == SUCCESS_URL and form["cancel_url"] == CANCEL_URL
    assert form["locale"] == "vi"
    assert form["customer_email"] == "an.nguyen@example.vn"

    (payment,) = payments_of(db, invoice)
    assert (payment.method, payment.status, payment.provider) == ("card", "pending", "stripe")
    assert payment.amount == 300000
    assert payment.provider_reference == "cs_test_a10001"
    assert payment.checkout_url == url
    assert invoice_row(db, invoice).status == "issued"  # nothing counted before Stripe says it was paid


def test_a_partial_card_payment_and_the_english_page(app, db, invoice, billing, stripe_api):
    checkout(app, db, invoice, billing, amount=120000)
    form = stripe_api.requests[0]["form"]
    assert form["line_items[0][price_data][unit_amount]"] == "120000"
    assert form["locale"] == "en"
    assert "customer_email" not in form


@pytest.mark.parametrize("amount, status", [(300001, 409), (0, 422), ("12.5", 422)])
def test_checkout_is_refused_before_stripe_is_asked(app, db, invoice, billing, stripe_api, amount, status):
    from app.services.errors import DomainError

    with pytest.raises(DomainError) as refused:
        checkout(app, db, invoice, billing, amount=amount)
    assert refused.value.status == status
    assert stripe_api.requests == []
    assert payments_of(db, invoice) == []


def test_a_paid_invoice_cannot_start_a_card_payment(app, db, clinic, invoice, billing, stripe_api):
    from app.services.errors import Conflict

    clinic.pay(invoice, 300000)
    with pytest.raises(Conflict):
        checkout(app, db, invoice, billing, amount=1000)
    assert stripe_api.requests == []


@pytest.mark.parametrize("failure", ["500", "invalid", "closed"])
def test_stripe_failing_is_a_502_and_nothing_is_written(app, db, invoice, billing, stripe_api, failure):
    from app.services.errors import ProviderUnavailable

    if failure == "closed":
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        billing = BillingSettings(stripe_secret_key=SECRET_KEY, stripe_api_base=f"http://127.0.0.1:{port}")
    else:
        stripe_api.mode = failure
    with pytest.raises(ProviderUnavailable) as refused:
        checkout(app, db, invoice, billing)
    assert refused.value.status == 502
    message = refused.value.message
    if failure == "invalid":
        assert "Invalid currency: vnd" in message  # Stripe's own reason, for the cashier
    elif failure == "closed":
        assert "could not be reached" in message
    else:
        assert "Stripe" in message and "Traceback" not in message
        keys = {sent["headers"]["Idempotency-Key"] for sent in stripe_api.requests}
        assert len(stripe_api.requests) == 3 and len(keys) == 1  # retried, under one key: never two sessions
    assert payments_of(db, invoice) == []
    assert invoice_row(db, invoice).status == "issued"


def test_without_a_key_card_payments_are_off(app, db, invoice, stripe_api):
    from app.services.errors import ProviderUnavailable

    with pytest.raises(ProviderUnavailable, match="STRIPE_SECRET_KEY"):
        checkout(app, db, invoice, BillingSettings(stripe_api_base=stripe_api.url))
    assert stripe_api.requests == []


def test_stripe_s_refusal_reads_in_vietnamese(app, db, invoice, billing, stripe_api):
    from app.services import stripe_gateway
    from app.services.errors import ProviderUnavailable

    stripe_api.mode = "invalid"
    with app.test_request_context(headers={"Accept-Language": "vi"}):
        with pytest.raises(ProviderUnavailable) as refused:
            stripe_gateway.start_checkout(db.session, invoice, Decimal(300000), None, now(), billing,
                                          success_url=SUCCESS_URL, cancel_url=CANCEL_URL, locale="vi")
    assert refused.value.message == "Stripe từ chối yêu cầu: Invalid currency: vnd. Chưa ghi nhận gì."
    assert payments_of(db, invoice) == []


# ---- webhooks ----------------------------------------------------------------------------------------

def test_the_completed_webhook_marks_the_invoice_paid(app, db, client, invoice, billing, notified):
    checkout(app, db, invoice, billing)
    session_id = session_id_of(db, invoice)

    response = deliver(client, event("checkout.session.completed", session_id, intent="pi_test_3Nq"))
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "outcome": "paid"}
    row = invoice_row(db, invoice)
    assert (row.status, row.amount_paid, row.balance) == ("paid", 300000, 0)
    (payment,) = payments_of(db, invoice)
    assert (payment.status, payment.provider_charge) == ("succeeded", "pi_test_3Nq")
    assert payment.paid_at is not None
    assert notified == [payment.id]  # the receipt e-mail, once


def test_the_same_event_five_times_counts_once(app, db, client, invoice, billing, notified):
    from app.models import ProviderEvent

    checkout(app, db, invoice, billing)
    body = event("checkout.session.completed", session_id_of(db, invoice), event_id="evt_test_once")
    outcomes = [deliver(client, body).get_json()["outcome"] for _ in range(5)]
    assert outcomes == ["paid"] + ["duplicate"] * 4
    row = invoice_row(db, invoice)
    assert (row.status, row.amount_paid) == ("paid", 300000)
    assert [p.status for p in payments_of(db, invoice)] == ["succeeded"]
    assert len(notified) == 1
    assert db.session.scalar(select(func.count()).select_from(ProviderEvent)) == 1


def test_another_event_about_the_same_session_still_counts_once(app, db, client, invoice, billing, notified):
    checkout(app, db, invoice, billing, amount=200000)
    session_id = session_id_of(db, invoice)
    first = deliver(client, event("checkout.session.completed", session_id, amount=200000))
    second = deliver(client, event("checkout.session.async_payment_succeeded", session_id, amount=200000))
    assert first.get_json()["outcome"] == "paid"
    assert second.status_code == 200 and second.get_json()["outcome"] == "already paid"
    row = invoice_row(db, invoice)
    assert (row.status, row.amount_paid, row.balance) == ("partially_paid", 200000, 100000)
    assert len(notified) == 1


def test_expired_after_completed_stays_paid(app, db, client, invoice, billing):
    checkout(app, db, invoice, billing)
    session_id = session_id_of(db, invoice)
    assert deliver(client, event("checkout.session.completed", session_id)).status_code == 200
    late = deliver(client, event("checkout.session.expired", session_id, payment_status="unpaid"))
    assert late.status_code == 200 and late.get_json()["outcome"] == "kept succeeded"
    assert invoice_row(db, invoice).status == "paid"
    assert [p.status for p in payments_of(db, invoice)] == ["succeeded"]


def test_an_expired_checkout_is_cancelled_and_the_invoice_still_owed(app, db, client, invoice, billing):
    checkout(app, db, invoice, billing)
    response = deliver(client, event("checkout.session.expired", session_id_of(db, invoice), payment_status="unpaid"))
    assert response.get_json()["outcome"] == "cancelled"
    assert [p.status for p in payments_of(db, invoice)] == ["cancelled"]
    row = invoice_row(db, invoice)
    assert (row.status, row.balance) == ("issued", 300000)


def test_a_delayed_method_is_paid_when_stripe_says_it_succeeded(app, db, client, invoice, billing):
    checkout(app, db, invoice, billing)
    session_id = session_id_of(db, invoice)
    waiting = deliver(client, event("checkout.session.completed", session_id, payment_status="unpaid", intent=None))
    assert waiting.get_json()["outcome"] == "awaiting payment"
    assert invoice_row(db, invoice).status == "issued"
    paid = deliver(client, event("checkout.session.async_payment_succeeded", session_id))
    assert paid.get_json()["outcome"] == "paid"
    assert invoice_row(db, invoice).status == "paid"


def test_a_failed_delayed_payment_leaves_the_invoice_owed(app, db, client, invoice, billing):
    checkout(app, db, invoice, billing)
    response = deliver(client, event("checkout.session.async_payment_failed", session_id_of(db, invoice),
                                     payment_status="unpaid"))
    assert response.get_json()["outcome"] == "failed"
    assert [p.status for p in payments_of(db, invoice)] == ["failed"]
    assert invoice_row(db, invoice).status == "issued"


def test_a_different_amount_or_currency_is_never_counted(app, db, client, invoice, billing):
    checkout(app, db, invoice, billing, amount=100000)
    checkout(app, db, invoice, billing, amount=100000)
    first, second = (p.provider_reference for p in payments_of(db, invoice))
    assert deliver(client, event("checkout.session.completed", first, amount=1000)).status_code == 200
    in_dollars = event("checkout.session.completed", second, amount=100000, currency="usd")
    assert deliver(client, in_dollars).status_code == 200
    assert [p.status for p in payments_of(db, invoice)] == ["failed", "failed"]
    assert invoice_row(db, invoice).amount_paid == 0


def test_paid_meanwhile_in_cash_the_card_payment_is_unapplied(app, db, client, clinic, invoice, billing, notified):
    checkout(app, db, invoice, billing)
    clinic.pay(invoice, 300000, "cash")
    response = deliver(client, event("checkout.session.completed", session_id_of_card(db, invoice)))
    assert response.status_code == 200 and response.get_json()["outcome"] == "unapplied"
    row = invoice_row(db, invoice)
    assert (row.status, row.amount_paid) == ("paid", 300000)  # never above the total
    card = next(p for p in payments_of(db, invoice) if p.method == "card")
    assert card.status == "unapplied" and "refund" in card.note
    assert card.id not in notified  # no receipt for money the invoice did not take

    given_back = refund(app, db, card.id, 300000, billing, reason="Đã thanh toán tiền mặt")  # back to the card
    assert given_back.provider_reference.startswith("re_test_")
    assert invoice_row(db, invoice).status == "paid"  # the cash payment still pays it


def session_id_of_card(db, invoice: int) -> str:
    return next(p.provider_reference for p in payments_of(db, invoice) if p.method == "card")


def test_other_events_are_acknowledged_and_ignored(app, db, client, billing):
    from app.models import ProviderEvent

    response = deliver(client, json.dumps({"id": "evt_test_charge", "object": "event", "type": "charge.succeeded",
                                           "data": {"object": {"id": "ch_1", "object": "charge"}}}))
    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"
    unknown = deliver(client, event("checkout.session.completed", "cs_test_not_ours"))
    assert unknown.status_code == 200 and unknown.get_json()["outcome"] == "unknown session"
    db.session.expire_all()
    assert sorted(db.session.scalars(select(ProviderEvent.outcome))) == ["ignored", "unknown session"]


@pytest.mark.parametrize("signature", [
    "another secret", "t=1700000000,v1=" + "0" * 64, "v1=abc", "t=now", "garbage", "", None,
])
def test_a_bad_or_missing_signature_is_400_and_changes_nothing(app, db, client, invoice, billing, notified,
                                                               signature):
    from app.models import ProviderEvent

    checkout(app, db, invoice, billing)
    body = event("checkout.session.completed", session_id_of(db, invoice))
    if signature == "another secret":
        signature = sign(body, secret="whsec_someone_else")
    elif signature == "t=now":  # a timestamp but no v1 signature
        signature = f"t={int(time.time())}"
    response = deliver(client, body, signature=signature)
    assert response.status_code == 400
    assert response.is_json and response.get_json()["received"] is False
    assert "signature" in json.dumps(response.get_json()).lower()
    assert invoice_row(db, invoice).status == "issued"
    assert [p.status for p in payments_of(db, invoice)] == ["pending"]
    assert db.session.scalar(select(func.count()).select_from(ProviderEvent)) == 0
    assert notified == []


def test_a_signature_for_another_body_or_too_old_is_refused(app, db, client, invoice, billing):
    checkout(app, db, invoice, billing)
    body = event("checkout.session.completed", session_id_of(db, invoice))
    tampered = body.replace("300000", "3000")
    assert deliver(client, tampered, signature=sign(body)).status_code == 400
    replayed = deliver(client, body, signature=sign(body, timestamp=int(time.time()) - 3600))
    assert replayed.status_code == 400
    assert invoice_row(db, invoice).status == "issued"


def test_the_webhook_needs_no_login_and_no_csrf_token_but_only_post(app, client, billing):
    assert client.get("/webhooks/stripe").status_code == 405
    assert deliver(client, json.dumps({"id": "evt_test_x", "object": "event", "type": "ping",
                                       "data": {"object": {}}})).status_code == 200


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)
EVENT_LIKE = st.fixed_dictionaries({
    "id": st.one_of(st.text(max_size=200), st.integers(), st.none()),
    "object": st.sampled_from(["event", "v2.core.event", "charge", ""]),
    "type": st.one_of(st.sampled_from(["checkout.session.completed", "checkout.session.expired",
                                       "checkout.session.async_payment_failed"]), st.text(max_size=100), st.none()),
    "data": st.one_of(JSON_VALUES, st.fixed_dictionaries({"object": st.dictionaries(
        st.sampled_from(["id", "object", "amount_total", "currency", "payment_status", "payment_intent"]),
        JSON_VALUES)})),
})


def test_the_webhook_never_answers_500_to_garbage(app, db, client, invoice, billing):
    """Unsigned bytes, and bodies signed with the right secret that are no proper event: always a
    JSON 200 or 400, never a server error, and never a payment counted."""
    checkout(app, db, invoice, billing)

    @given(body=st.one_of(st.binary(max_size=300), JSON_VALUES.map(json.dumps), EVENT_LIKE.map(json.dumps)),
           signed=st.booleans(), header=st.one_of(st.none(), st.text(max_size=80)))
    @settings(max_examples=150, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    def post(body, signed, header):
        raw = body if isinstance(body, bytes) else body.encode()
        if signed:
            try:
                header = sign(raw.decode())
            except UnicodeDecodeError:
                pass
        if header is not None and not header.isprintable():
            header = None
        response = deliver(client, raw, signature=header)
        assert response.status_code in (200, 400), (raw, header, response.get_data(as_text=True)[:300])
        assert response.is_json

    post()
    assert invoice_row(db, invoice).status == "issued"


# ---- refunds -----------------------------------------------------------------------------------------

def paid_by_card(app, db, client, invoice, billing) -> tuple[int, int]:
    checkout(app, db, invoice, billing)
    assert deliver(client, event("checkout.session.completed", session_id_of(db, invoice),
                                 intent="pi_test_refundme")).get_json()["outcome"] == "paid"
    return invoice, payments_of(db, invoice)[0].id


def refund(app, db, payment: int, amount, billing, reason="Bệnh nhân không làm xét nghiệm", admin_id=None):
    from app.services import payments

    with app.test_request_context():
        return payments.refund_payment(db.session, payment, amount, reason, admin_id, now(), billing)


def test_card_refunds_partial_then_full_through_stripe(app, db, client, invoice, billing, stripe_api, admin_id):
    invoice, payment = paid_by_card(app, db, client, invoice, billing)
    stripe_api.requests.clear()

    first = refund(app, db, payment, 100000, billing, admin_id=admin_id)
    assert first.provider_reference == "re_test_0002"
    (sent,) = stripe_api.requests
    assert sent["path"] == "/v1/refunds"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent["headers"]["Idempotency-Key"].startswith("clinic-refund-")
    assert sent["form"]["payment_intent"] == "pi_test_refundme"
    assert sent["form"]["amount"] == "100000"  # whole đồng
    assert sent["form"]["metadata[reason]"] == "Bệnh nhân không làm xét nghiệm"
    row = invoice_row(db, invoice)
    assert (row.status, row.amount_refunded) == ("paid", 100000)

    second = refund(app, db, payment, 200000, billing, reason="Huỷ toàn bộ")
    assert second.provider_reference == "re_test_0003"
    assert stripe_api.requests[1]["form"]["amount"] == "200000"
    assert stripe_api.requests[1]["headers"]["Idempotency-Key"] != sent["headers"]["Idempotency-Key"]
    row = invoice_row(db, invoice)
    assert (row.status, row.amount_refunded) == ("refunded", 300000)


def test_a_refund_above_what_is_left_is_409_before_stripe_is_asked(app, db, client, invoice, billing, stripe_api):
    from app.services.errors import Conflict

    invoice, payment = paid_by_card(app, db, client, invoice, billing)
    refund(app, db, payment, 250000, billing)
    stripe_api.requests.clear()
    with pytest.raises(Conflict) as refused:
        refund(app, db, payment, 50001, billing)
    assert refused.value.status == 409
    assert stripe_api.requests == []
    assert invoice_row(db, invoice).amount_refunded == 250000


def test_a_refund_stripe_refuses_is_502_and_nothing_is_written(app, db, client, invoice, billing, stripe_api):
    from app.models import Refund
    from app.services.errors import ProviderUnavailable

    invoice, payment = paid_by_card(app, db, client, invoice, billing)
    stripe_api.mode = "invalid"
    with pytest.raises(ProviderUnavailable) as refused:
        refund(app, db, payment, 100000, billing)
    assert refused.value.status == 502
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
    assert invoice_row(db, invoice).amount_refunded == 0
    assert payments_of(db, invoice)[0].amount_refunded == 0


# ---- PostgreSQL: deliveries at the same moment --------------------------------------------------------

def test_simultaneous_deliveries_count_once(app, db, invoice, billing, live_server):
    """Five copies of the event and a second event for the same session, sent at once over HTTP to
    the running app (PostgreSQL: each on its own connection, racing for the invoice's row lock)."""
    import requests

    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent transactions: PostgreSQL (SQLite serialises writers)")
    checkout(app, db, invoice, billing)
    session_id = session_id_of(db, invoice)
    same = event("checkout.session.completed", session_id, event_id="evt_test_race")
    bodies = [same] * 5 + [event("checkout.session.async_payment_succeeded", session_id)]
    barrier = threading.Barrier(len(bodies))
    answers: list[int] = []

    def send(body: str) -> None:
        barrier.wait()
        response = requests.post(f"{live_server}/webhooks/stripe", data=body.encode(), timeout=30,
                                 headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"})
        answers.append(response.status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * len(bodies)
    row = invoice_row(db, invoice)
    assert (row.status, row.amount_paid) == ("paid", 300000)
    assert [p.status for p in payments_of(db, invoice)] == ["succeeded"]
