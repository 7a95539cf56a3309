"""VNPay: the payment URL signed as VNPay checks it (HMAC-SHA512 over the sorted, quote_plus-encoded
query), the IPN applied once whatever is redelivered, tampered with or sent out of order, the
return page that shows without changing anything, and refunds through VNPay's merchant API
answered by a local HTTP server."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import pytest
from sqlalchemy import func, select

from app.services.errors import ProviderUnavailable
from tests.vnpay_helpers import (
    NOW,
    RETURN_URL,
    SECRET,
    TMN,
    Started,
    hand_sign,
    ipn_params,
    start,
    switch_on,
    url_params,
)

VI = {"Accept-Language": "vi-VN,vi;q=0.9"}


@pytest.fixture
def vnpay_on(app, monkeypatch):
    switch_on(app, monkeypatch)


@pytest.fixture
def billing(app, vnpay_on):
    from app.services.billing_settings import BillingSettings

    return BillingSettings.from_config(app.config)


@pytest.fixture
def started(app, db, clinic, billing) -> Started:
    return start(app, db, clinic)


def state(db, invoice_id: int) -> dict[str, Any]:
    from app.models import Invoice, Payment, ProviderEvent

    db.session.rollback()
    invoice = db.session.get(Invoice, invoice_id)
    payments = db.session.execute(select(Payment).where(Payment.invoice_id == invoice_id)).scalars().all()
    events = db.session.execute(select(func.count()).select_from(ProviderEvent)).scalar()
    return {"status": invoice.status, "paid": Decimal(invoice.amount_paid),
            "payments": [(p.status, Decimal(p.amount), p.provider_charge) for p in payments], "events": events}


def deliver(client, params: dict[str, str], method: str = "GET"):
    if method == "POST":
        return client.post("/webhooks/vnpay/ipn", data=params, csrf=False)
    return client.get("/webhooks/vnpay/ipn", query_string=params)


# ---- the payment URL ------------------------------------------------------------------------------

def test_signature_matches_a_hand_computed_hmac():
    from app.services import vnpay

    params = {"vnp_Amount": "1000000", "vnp_OrderInfo": "Thanh toan don hang", "vnp_TxnRef": "5-abc",
              "vnp_ReturnUrl": "https://x.test/r?a=1&b=2", "vnp_Command": "pay"}
    data = ("vnp_Amount=1000000&vnp_Command=pay&vnp_OrderInfo=Thanh+toan+don+hang"
            "&vnp_ReturnUrl=https%3A%2F%2Fx.test%2Fr%3Fa%3D1%26b%3D2&vnp_TxnRef=5-abc")
    expected = hmac.new(SECRET.encode(), data.encode(), hashlib.sha512).hexdigest()
    assert vnpay.signed_query(params) == data
    assert vnpay.sign(params, SECRET) == expected
    assert vnpay.verify({**params, "vnp_SecureHash": expected.upper(), "vnp_SecureHashType": "HmacSHA512"}, SECRET)
    assert not vnpay.verify({**params, "vnp_SecureHash": expected}, "another secret")
    assert not vnpay.verify({**params, "vnp_Amount": "2000000", "vnp_SecureHash": expected}, SECRET)
    assert not vnpay.verify(params, SECRET)  # no hash at all


def test_an_ipn_with_an_empty_parameter_verifies_either_way(db, client, started):
    """VNPay's samples differ on signing an empty value (vnp_BankTranNo of a failed payment)."""
    from app.services import vnpay

    params = {key: value for key, value in ipn_params(started.reference, started.total).items()
              if key not in ("vnp_SecureHash", "vnp_SecureHashType")}
    params["vnp_BankTranNo"] = ""
    with_empty = "&".join(f"{key}={quote_plus(value)}" for key, value in sorted(params.items()))
    signed = {**params, "vnp_SecureHash": hmac.new(SECRET.encode(), with_empty.encode(), hashlib.sha512).hexdigest()}
    assert vnpay.verify(signed, SECRET)
    assert vnpay.verify({**params, "vnp_SecureHash": hand_sign(params)}, SECRET)
    assert not vnpay.verify({**signed, "vnp_Amount": "1"}, SECRET)
    assert deliver(client, signed).get_json()["RspCode"] == "00"


def test_payment_url_is_signed_and_records_a_pending_payment(db, started):
    invoice, url, total = started.invoice, started.url, started.total
    assert url.startswith("https://sandbox.vnpayment.test/paymentv2/vpcpay.html?")
    query = urlsplit(url).query
    signed, _, secure = query.rpartition("&vnp_SecureHash=")
    assert secure == hmac.new(SECRET.encode(), signed.encode(), hashlib.sha512).hexdigest()
    keys = [key for key, _ in parse_qsl(signed)]
    assert keys == sorted(keys)
    params = url_params(url)
    assert params["vnp_SecureHash"] == hand_sign(params)
    assert params["vnp_Version"] == "2.1.0" and params["vnp_Command"] == "pay" and params["vnp_TmnCode"] == TMN
    assert params["vnp_Amount"] == str(total * 100)  # VNPay counts hundredths, even of đồng
    assert params["vnp_CurrCode"] == "VND" and params["vnp_OrderType"] == "other" and params["vnp_Locale"] == "vn"
    assert params["vnp_ReturnUrl"] == RETURN_URL and params["vnp_IpAddr"] == "203.0.113.7"
    assert params["vnp_CreateDate"] == "20260302083005"  # Hanoi time
    assert params["vnp_ExpireDate"] == "20260302084505"
    assert params["vnp_TxnRef"].startswith(f"{invoice}-")
    assert params["vnp_OrderInfo"].isascii() and "HD" in params["vnp_OrderInfo"]
    from app.models import Payment

    payment = db.session.execute(select(Payment).where(Payment.invoice_id == invoice)).scalar_one()
    assert (payment.status, payment.method, payment.provider) == ("pending", "vnpay", "vnpay")
    assert payment.provider_reference == params["vnp_TxnRef"] and payment.checkout_url == url
    assert state(db, invoice)["status"] == "issued"


def test_payment_link_comes_back_to_the_return_page_in_the_users_language(app, db, clinic, vnpay_on):
    from app.views.vnpay_routes import payment_link

    invoice = clinic.invoice
    with app.test_request_context("/cashier/", headers=VI, environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        url = payment_link(invoice, Decimal(100000), None)
    params = url_params(url)
    assert params["vnp_ReturnUrl"] == "http://localhost/pay/vnpay/return"
    assert params["vnp_Locale"] == "vn" and params["vnp_IpAddr"] == "198.51.100.4"
    assert params["vnp_SecureHash"] == hand_sign(params)


def test_two_attempts_get_two_references(app, db, started, billing):
    from app.services import vnpay

    invoice, first = started.invoice, started.url
    with app.test_request_context():
        second = vnpay.start_payment(db.session, invoice, Decimal(100000), None, NOW, billing,
                                     return_url=RETURN_URL, client_ip="203.0.113.7", locale="en")
    assert url_params(first)["vnp_TxnRef"] != url_params(second)["vnp_TxnRef"]
    assert url_params(second)["vnp_Locale"] == "en" and url_params(second)["vnp_Amount"] == "10000000"


def test_more_than_owed_or_without_settings_is_refused_and_nothing_written(app, db, clinic, billing):
    from app.models import Invoice
    from app.services import vnpay
    from app.services.billing_settings import BillingSettings
    from app.services.errors import Conflict

    invoice = clinic.invoice
    before = state(db, invoice)
    owed = db.session.get(Invoice, invoice).total
    with app.test_request_context():
        with pytest.raises(Conflict):
            vnpay.start_payment(db.session, invoice, owed + 1, None, NOW, billing,
                                return_url=RETURN_URL, client_ip="127.0.0.1")
        with pytest.raises(ProviderUnavailable):
            vnpay.start_payment(db.session, invoice, Decimal(1000), None, NOW, BillingSettings(),
                                return_url=RETURN_URL, client_ip="127.0.0.1")
    assert state(db, invoice) == before


# ---- the IPN ------------------------------------------------------------------------------------

def test_ipn_delivered_five_times_is_applied_once(db, client, started):
    invoice, url, total = started.invoice, started.url, started.total
    params = ipn_params(url_params(url)["vnp_TxnRef"], total)
    answers = [deliver(client, params, "POST" if i % 2 else "GET") for i in range(5)]
    assert all(a.status_code == 200 for a in answers)
    assert answers[0].get_json() == {"RspCode": "00", "Message": "Confirm Success"}
    assert [a.get_json()["RspCode"] for a in answers[1:]] == ["02"] * 4
    after = state(db, invoice)
    assert after["status"] == "paid" and after["paid"] == total
    assert after["payments"] == [("succeeded", Decimal(total), "14123456")]
    assert after["events"] == 1


def test_five_deliveries_at_once_are_applied_once(app, db, started):
    """VNPay retries while the first answer is slow: five IPNs arrive together (on PostgreSQL, each
    in its own connection and transaction)."""
    params = ipn_params(started.reference, started.total)
    codes: list[str] = []
    barrier = threading.Barrier(5)

    def one() -> None:
        client = app.test_client()
        barrier.wait()
        codes.append(deliver(client, params).get_json()["RspCode"])

    threads = [threading.Thread(target=one) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == ["00", "02", "02", "02", "02"]
    after = state(db, started.invoice)
    assert after["paid"] == started.total and after["events"] == 1 and after["payments"][0][0] == "succeeded"


def test_tampered_ipn_is_refused_and_changes_nothing(db, client, started):
    invoice, url, total = started.invoice, started.url, started.total
    reference = url_params(url)["vnp_TxnRef"]
    before = state(db, invoice)
    forged = {**ipn_params(reference, total), "vnp_Amount": "100"}
    response = deliver(client, forged)
    assert response.status_code == 400 and response.get_json()["RspCode"] == "97"
    wrong_secret = ipn_params(reference, total, secret="not the clinic's secret")
    assert deliver(client, wrong_secret, "POST").get_json()["RspCode"] == "97"
    unsigned = {key: value for key, value in ipn_params(reference, total).items() if key != "vnp_SecureHash"}
    assert deliver(client, unsigned).get_json()["RspCode"] == "97"
    assert state(db, invoice) == before


def test_failure_after_success_leaves_the_payment_succeeded(db, client, started):
    invoice, url, total = started.invoice, started.url, started.total
    reference = url_params(url)["vnp_TxnRef"]
    assert deliver(client, ipn_params(reference, total)).get_json()["RspCode"] == "00"
    late = deliver(client, ipn_params(reference, total, response="24", status="02", transaction="0"))
    assert late.get_json()["RspCode"] == "02"
    after = state(db, invoice)
    assert after["status"] == "paid" and after["payments"][0][0] == "succeeded"


def test_a_failed_payment_is_marked_and_a_later_success_still_counts(db, client, started):
    invoice, url, total = started.invoice, started.url, started.total
    reference = url_params(url)["vnp_TxnRef"]
    assert deliver(client, ipn_params(reference, total, response="24", status="02", transaction="0")).get_json() == {
        "RspCode": "00", "Message": "Confirm Success"}
    after = state(db, invoice)
    assert after["status"] == "issued" and after["paid"] == 0 and after["payments"][0][0] == "cancelled"
    assert deliver(client, ipn_params(reference, total, response="24", status="02", transaction="0")).get_json()[
        "RspCode"] == "02"
    # a success after it (the payer tried again on VNPay's page): the money was taken, so it counts, once
    assert deliver(client, ipn_params(reference, total)).get_json()["RspCode"] == "00"
    assert deliver(client, ipn_params(reference, total)).get_json()["RspCode"] == "02"
    after = state(db, invoice)
    assert after["status"] == "paid" and after["paid"] == total and after["payments"][0][0] == "succeeded"


def test_amount_mismatch_answers_04(db, client, started):
    invoice, url, total = started.invoice, started.url, started.total
    before = state(db, invoice)
    response = deliver(client, ipn_params(url_params(url)["vnp_TxnRef"], total - 1000))
    assert response.get_json() == {"RspCode": "04", "Message": "Invalid amount"}
    assert state(db, invoice) == before


def test_unknown_reference_answers_01(db, client, started):
    invoice, total = started.invoice, started.total
    before = state(db, invoice)
    response = deliver(client, ipn_params("999999-deadbeef", total))
    assert response.get_json() == {"RspCode": "01", "Message": "Order not found"}
    assert state(db, invoice) == before


# ---- the return page ----------------------------------------------------------------------------

def return_params(reference: str, total: int, response: str = "00", status: str = "00") -> dict[str, str]:
    return ipn_params(reference, total, response=response, status=status)


def test_return_page_shows_without_changing_anything(db, client, started):
    from tests.test_csrf import changed, snapshot

    invoice, url, total = started.invoice, started.url, started.total
    reference = url_params(url)["vnp_TxnRef"]
    before = snapshot(db)
    page = client.get("/pay/vnpay/return", query_string=return_params(reference, total))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Payment being confirmed" in text and f"{total:,}" in text
    assert not changed(before, snapshot(db))  # only the IPN settles
    assert state(db, invoice)["payments"][0][0] == "pending"

    deliver(client, ipn_params(reference, total))
    text = client.get("/pay/vnpay/return", query_string=return_params(reference, total)).get_data(as_text=True)
    assert "Payment received" in text and "HD" in text
    vietnamese = client.get("/pay/vnpay/return", query_string=return_params(reference, total), headers=VI)
    assert "Đã nhận thanh toán" in vietnamese.get_data(as_text=True)


def test_return_page_with_a_bad_signature_shows_an_error_and_changes_nothing(db, client, started):
    from tests.test_csrf import changed, snapshot

    url, total = started.url, started.total
    reference = url_params(url)["vnp_TxnRef"]
    before = snapshot(db)
    forged = {**return_params(reference, total), "vnp_ResponseCode": "00", "vnp_Amount": "1"}
    page = client.get("/pay/vnpay/return", query_string=forged)
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "could not be verified" in text and f"{total:,}" not in text
    vietnamese = client.get("/pay/vnpay/return", query_string=forged, headers=VI).get_data(as_text=True)
    assert "không xác minh được" in vietnamese.lower()
    assert client.get("/pay/vnpay/return").status_code == 400
    assert not changed(before, snapshot(db))


def test_return_page_after_a_cancelled_payment(db, client, started):
    invoice, url, total = started.invoice, started.url, started.total
    reference = url_params(url)["vnp_TxnRef"]
    page = client.get("/pay/vnpay/return", query_string=return_params(reference, total, response="24", status="02"))
    assert page.status_code == 200 and "Payment not completed" in page.get_data(as_text=True)
    assert state(db, invoice)["payments"][0][0] == "pending"  # the IPN says so, not the browser


# ---- refunds through the merchant API -----------------------------------------------------------

REFUND_FIELDS = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType", "vnp_TxnRef",
                 "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate",
                 "vnp_IpAddr", "vnp_OrderInfo")
ANSWER_FIELDS = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
                 "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
                 "vnp_TransactionStatus", "vnp_OrderInfo")


class FakeVnpayApi:
    """VNPay's merchant API on loopback: checks each request's signature as VNPay does and answers
    with ``answer(request)`` signed with the same secret."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.code = "00"
        self.sign_answers = True
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                data = "|".join(str(body.get(key, "")) for key in REFUND_FIELDS)
                good = hmac.compare_digest(hmac.new(SECRET.encode(), data.encode(), hashlib.sha512).hexdigest(),
                                           body.get("vnp_SecureHash", ""))
                answer = {"vnp_ResponseId": "R" + body["vnp_RequestId"][:10], "vnp_Command": "refund",
                          "vnp_ResponseCode": fake.code if good else "97",
                          "vnp_Message": "Refund success" if good and fake.code == "00" else "Refused",
                          "vnp_TmnCode": TMN, "vnp_TxnRef": body.get("vnp_TxnRef"),
                          "vnp_Amount": body.get("vnp_Amount"),
                          "vnp_BankCode": "NCB", "vnp_PayDate": "20260302090000", "vnp_TransactionNo": "14999000",
                          "vnp_TransactionType": body.get("vnp_TransactionType"), "vnp_TransactionStatus": "05",
                          "vnp_OrderInfo": body.get("vnp_OrderInfo")}
                signed = "|".join(str(answer.get(key) or "") for key in ANSWER_FIELDS)
                key = SECRET if fake.sign_answers else "wrong"
                answer["vnp_SecureHash"] = hmac.new(key.encode(), signed.encode(), hashlib.sha512).hexdigest()
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/merchant_webapi/api/transaction"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def vnpay_api(app, monkeypatch, vnpay_on):
    fake = FakeVnpayApi()
    monkeypatch.setitem(app.config, "VNPAY_API_URL", fake.url)
    yield fake
    fake.close()


@pytest.fixture
def paid_by_vnpay(db, client, started) -> tuple[int, int, int]:
    """The started payment settled by its IPN: (invoice id, payment id, amount)."""
    from app.models import Payment

    invoice, url, total = started.invoice, started.url, started.total
    assert deliver(client, ipn_params(url_params(url)["vnp_TxnRef"], total)).get_json()["RspCode"] == "00"
    payment = db.session.execute(select(Payment).where(Payment.invoice_id == invoice)).scalar_one()
    return invoice, payment.id, total


def refund(app, db, payment_id: int, amount: int) -> Any:
    from app.services import payments
    from app.services.billing_settings import BillingSettings

    with app.test_request_context():
        return payments.refund_payment(db.session, payment_id, amount, "Bệnh nhân đổi ý", None,
                                       NOW + timedelta(hours=1), BillingSettings.from_config(app.config))


def test_partial_then_full_refund_through_the_api(app, db, vnpay_api, paid_by_vnpay):
    invoice, payment, total = paid_by_vnpay
    first = refund(app, db, payment, 100000)
    assert first.provider_reference == "14999000" and first.method == "vnpay"
    sent = vnpay_api.requests[0]
    assert sent["vnp_Command"] == "refund" and sent["vnp_TransactionType"] == "03"  # partial
    assert sent["vnp_Amount"] == "10000000" and sent["vnp_TransactionNo"] == "14123456"
    assert sent["vnp_TransactionDate"] == "20260302083005"  # the payment's vnp_CreateDate
    assert sent["vnp_CreateDate"] == "20260302093005" and sent["vnp_TmnCode"] == TMN
    assert sent["vnp_OrderInfo"].isascii()
    after = state(db, invoice)
    assert after["status"] == "paid"
    refund(app, db, payment, total - 100000)
    assert vnpay_api.requests[1]["vnp_Amount"] == str((total - 100000) * 100)
    from app.models import Invoice

    db.session.rollback()
    assert Decimal(db.session.get(Invoice, invoice).amount_refunded) == total
    assert db.session.get(Invoice, invoice).status == "refunded"


def test_a_full_refund_at_once_is_type_02(app, db, vnpay_api, paid_by_vnpay):
    _, payment, total = paid_by_vnpay
    refund(app, db, payment, total)
    assert vnpay_api.requests[0]["vnp_TransactionType"] == "02"


def refunds_written(db) -> int:
    from app.models import Refund

    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(Refund)).scalar()


def test_a_refused_refund_is_502_and_nothing_written(app, db, vnpay_api, paid_by_vnpay):
    invoice, payment, total = paid_by_vnpay
    before = state(db, invoice)
    vnpay_api.code = "94"
    with pytest.raises(ProviderUnavailable) as refused:
        refund(app, db, payment, 100000)
    assert refused.value.status == 502 and "94" in refused.value.message and "Refused" in refused.value.message
    assert refunds_written(db) == 0 and state(db, invoice) == before


def test_an_unsigned_answer_is_not_trusted(app, db, vnpay_api, paid_by_vnpay):
    invoice, payment, total = paid_by_vnpay
    vnpay_api.sign_answers = False
    with pytest.raises(ProviderUnavailable):
        refund(app, db, payment, 100000)
    assert refunds_written(db) == 0


def test_an_unreachable_api_is_502_and_nothing_written(app, db, monkeypatch, vnpay_api, paid_by_vnpay):
    invoice, payment, total = paid_by_vnpay
    before = state(db, invoice)
    url = vnpay_api.url
    vnpay_api.close()  # nothing listens there any more
    monkeypatch.setitem(app.config, "VNPAY_API_URL", url)
    with pytest.raises(ProviderUnavailable) as refused:
        refund(app, db, payment, 100000)
    assert refused.value.status == 502 and "could not be reached" in refused.value.message
    assert refunds_written(db) == 0 and state(db, invoice) == before
    vnpay_api.close = lambda: None  # already closed
