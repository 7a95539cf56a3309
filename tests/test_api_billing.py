"""The billing API (``/api/v1/billing/…``, app/api/billing.py): the cashier's whole flow over REST
with the counter's rules, every refusal a clear 4xx JSON naming the field with nothing written,
the powers (change a price, discount, refund) read from the caller's roles under a JWT, and
patients reading only their own issued invoices."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.factories import token_headers

BASE = "/api/v1/billing"
BILLING_TABLES = ("invoice", "invoice_line", "payment", "refund", "invoice_sequence", "provider_event")
WRITERS = ("admin", "manager", "receptionist", "cashier")
OUTSIDERS = ("doctor", "pharmacist", "lab")


@pytest.fixture
def call(app, client):
    """call("cashier", "post", "/invoices", json=...) -> the answer (never a 500)."""

    def send(username: str, method: str, path: str, headers: dict | None = None, **kwargs):
        all_headers = {**token_headers(app, username), **(headers or {})}
        response = getattr(client, method)(BASE + path, headers=all_headers, **kwargs)
        assert response.status_code < 500 or response.status_code == 502, response.get_data(True)
        assert response.is_json, response.get_data(True)
        return response

    return send


def billing_rows(db) -> dict[str, str]:
    """A fingerprint of every billing table's rows: any insert, update or delete shows."""
    db.session.rollback()
    prints = {}
    for table in BILLING_TABLES:
        rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
        prints[table] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    db.session.rollback()
    return prints


@pytest.fixture
def own_patient(app, clinic) -> int:
    """The patient record of the shared ``patient`` login."""
    from app.models import Patient

    with app.app_context():
        user_id = app.appbuilder.sm.find_user(username="patient").id
    return clinic.save(Patient(full_name="Lê Thị Hoa", phone="0987 654 321", user_id=user_id))


def new_draft(call, patient: int, username: str = "cashier") -> int:
    response = call(username, "post", "/invoices", json={"patient_id": patient})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def free_line(call, invoice: int, price: str = "100000", username: str = "cashier"):
    return call(username, "post", f"/invoices/{invoice}/lines",
                json={"kind": "other", "description": "Thay băng", "unit_price": price, "reason": "Ngoài bảng giá"})


def issued(call, patient: int, price: str = "100000") -> int:
    """An issued invoice of one free line at ``price`` (plus its 10 % VAT)."""
    invoice = new_draft(call, patient)
    assert free_line(call, invoice, price).status_code == 201
    assert call("cashier", "post", f"/invoices/{invoice}/issue", json={}).status_code == 200
    return invoice


def messages(response) -> dict:
    body = response.get_json()
    assert isinstance(body["message"], dict), body
    return body["message"]


def test_the_whole_flow_from_draft_to_refund(app, db, call, clinic):
    year = datetime.now(timezone(timedelta(hours=7))).year
    invoice = new_draft(call, clinic.patient)
    draft = call("cashier", "get", f"/invoices/{invoice}").get_json()["result"]
    assert (draft["status"], draft["number"], draft["total"], draft["lines"]) == ("draft", None, "0", [])

    # A catalogue service at its price, a medicine (5 % VAT) and a free line (10 % VAT) with its reason.
    service = call("cashier", "post", f"/invoices/{invoice}/lines",
                   json={"kind": "service", "service_id": clinic.service})
    assert service.status_code == 201, service.get_json()
    assert service.get_json()["line"]["unit_price"] == "150000"
    assert service.get_json()["line"]["description"] == "Khám tổng quát"
    medicine = call("cashier", "post", f"/invoices/{invoice}/lines",
                    json={"kind": "medicine", "medicine_id": clinic.medicine, "quantity": 10})
    assert medicine.status_code == 201, medicine.get_json()
    free = free_line(call, invoice, "50000")
    assert free.status_code == 201
    assert free.get_json()["result"]["subtotal"] == "210000"

    changed = call("cashier", "patch", f"/lines/{medicine.get_json()['id']}", json={"quantity": "20"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["line"]["amount"] == "20000"

    discounted = call("cashier", "put", f"/invoices/{invoice}/discount",
                      json={"kind": "amount", "value": "20000", "reason": "Người cao tuổi"})
    assert discounted.status_code == 200, discounted.get_json()
    totals = discounted.get_json()["result"]
    # 20 000 split over 150 000 / 20 000 / 50 000 by largest remainder: 13 636, 1 818, 4 546;
    # VAT 5 % of 18 182 = 909 and 10 % of 45 454 = 4 545.
    assert [line["discount_share"] for line in totals["lines"]] == ["13636", "1818", "4546"]
    assert [line["tax"] for line in totals["lines"]] == ["0", "909", "4545"]
    assert (totals["subtotal"], totals["discount"], totals["tax"], totals["total"]) == (
        "220000", "20000", "5454", "205454")

    out = call("cashier", "post", f"/invoices/{invoice}/issue")
    assert out.status_code == 200, out.get_json()
    assert out.get_json()["result"]["status"] == "issued"
    assert out.get_json()["result"]["number"] == f"HD{year}-000001"

    # Part in cash (the change is kept), the same request again records nothing more.
    cash = {"method": "cash", "amount": "100000", "tendered": 200000}
    first = call("cashier", "post", f"/invoices/{invoice}/payments", json=cash, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["payment"]["change_given"] == "100000"
    assert first.get_json()["result"]["status"] == "partially_paid"
    again = call("cashier", "post", f"/invoices/{invoice}/payments", json=cash, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    assert len(again.get_json()["result"]["payments"]) == 1
    assert again.get_json()["result"]["balance"] == "105454"

    transfer = call("cashier", "post", f"/invoices/{invoice}/payments",
                    json={"method": "bank_transfer", "amount": 105454, "reference": "FT26001"})
    assert transfer.status_code == 201, transfer.get_json()
    paid = transfer.get_json()["result"]
    assert (paid["status"], paid["amount_paid"], paid["balance"]) == ("paid", "205454", "0")

    cash_id, transfer_id = first.get_json()["id"], transfer.get_json()["id"]
    refund = call("cashier", "post", f"/payments/{cash_id}/refunds",
                  json={"amount": "50000", "reason": "Trả lại thuốc"})
    assert refund.status_code == 201, refund.get_json()
    assert refund.get_json()["refund"]["method"] == "cash"
    after = refund.get_json()["result"]
    assert (after["status"], after["amount_refunded"]) == ("paid", "50000")
    assert [p["refundable"] for p in after["payments"]] == ["50000", "105454"]

    call("cashier", "post", f"/payments/{cash_id}/refunds", json={"amount": "50000", "reason": "Hủy dịch vụ"})
    last = call("cashier", "post", f"/payments/{transfer_id}/refunds",
                json={"amount": "105454", "reason": "Hủy dịch vụ"})
    assert last.status_code == 201
    final = call("manager", "get", f"/invoices/{invoice}").get_json()["result"]
    assert (final["status"], final["amount_refunded"], len(final["refunds"])) == ("refunded", "205454", 3)

    found = call("receptionist", "get", f"/invoices?number=HD{year}-0000").get_json()
    assert found["count"] == 1 and found["result"][0]["id"] == invoice


def test_bad_amounts_are_named_and_write_nothing(db, call, clinic):
    invoice = issued(call, clinic.patient)
    before = billing_rows(db)
    cases = [
        ({"method": "cash", "amount": "1000.5"}, "amount"),  # VND has no fraction of a đồng
        ({"method": "cash", "amount": 1000.5}, "amount"),
        ({"method": "cash", "amount": "-5000"}, "amount"),
        ({"method": "cash", "amount": 0}, "amount"),
        ({"method": "cash", "amount": "1.000.000"}, "amount"),
        ({"method": "cash", "amount": True}, "amount"),
        ({"method": "cash", "amount": [1000]}, "amount"),
        ({"method": "cash", "amount": "5000", "tendered": "4000"}, "tendered"),
        ({"method": "bank_transfer", "amount": "5000", "tendered": "5000"}, "tendered"),
        ({"method": "card", "amount": "5000"}, "method"),
        ({"method": "cash", "amount": "5000", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = call("cashier", "post", f"/invoices/{invoice}/payments", json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert field in messages(response), (body, response.get_json())
    missing = call("cashier", "post", f"/invoices/{invoice}/payments", json={})
    assert missing.status_code == 422 and {"method", "amount"} <= set(messages(missing))
    not_object = call("cashier", "post", f"/invoices/{invoice}/payments", json=[1, 2])
    assert not_object.status_code == 422
    too_much = call("cashier", "post", f"/invoices/{invoice}/payments", json={"method": "cash", "amount": "110001"})
    assert too_much.status_code == 409 and "amount" in messages(too_much)
    long_key = call("cashier", "post", f"/invoices/{invoice}/payments", json={"method": "cash", "amount": "1000"},
                    headers={"Idempotency-Key": "x" * 81})
    assert long_key.status_code == 422 and "Idempotency-Key" in messages(long_key)
    assert billing_rows(db) == before


def test_lines_and_discounts_refuse_bad_input(db, call, clinic):
    invoice = new_draft(call, clinic.patient)
    assert free_line(call, invoice).status_code == 201
    before = billing_rows(db)
    line_cases = [
        ({"kind": "other", "description": "X", "unit_price": "1000.5", "reason": "r"}, {"unit_price"}),
        ({"kind": "other", "description": "", "unit_price": "-1"}, {"description", "unit_price", "reason"}),
        ({"kind": "service"}, {"service_id"}),
        ({"kind": "service", "service_id": 2_000_000_000}, {"service_id"}),
        ({"kind": "medicine", "medicine_id": clinic.medicine, "quantity": 0}, {"quantity"}),
        ({"kind": "medicine", "medicine_id": clinic.medicine, "quantity": "abc"}, {"quantity"}),
        ({"kind": "gift"}, {"kind"}),
        ({"description": "X"}, {"kind"}),
        ({"kind": "other", "description": "X", "unit_price": "1", "reason": "r", "invoice_id": 1}, {"invoice_id"}),
        ({"kind": "service", "service_id": "1"}, {"service_id"}),
    ]
    for body, fields in line_cases:
        response = call("cashier", "post", f"/invoices/{invoice}/lines", json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert fields <= set(messages(response)), (body, response.get_json())
    # A catalogue price changed without the power (a receptionist) is refused naming the price.
    response = call("receptionist", "post", f"/invoices/{invoice}/lines",
                    json={"kind": "service", "service_id": clinic.service, "unit_price": "1000", "reason": "Quen"})
    assert response.status_code == 422 and "unit_price" in messages(response)
    discount_cases = [
        ({"kind": "percent", "value": "120", "reason": "r"}, "value"),
        ({"kind": "amount", "value": "100001", "reason": "r"}, "value"),
        ({"kind": "amount", "value": "50.5", "reason": "r"}, "value"),
        ({"kind": "amount", "value": "5000"}, "reason"),
        ({"kind": "coupon", "value": "5", "reason": "r"}, "kind"),
        ({"value": "5", "reason": "r"}, "kind"),
    ]
    for body, field in discount_cases:
        response = call("cashier", "put", f"/invoices/{invoice}/discount", json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert field in messages(response), (body, response.get_json())
    line_id = call("cashier", "get", f"/invoices/{invoice}").get_json()["result"]["lines"][0]["id"]
    bad_patch = call("cashier", "patch", f"/lines/{line_id}", json={"quantity": -1, "unit_price": "9.5"})
    assert bad_patch.status_code == 422 and {"quantity", "unit_price"} <= set(messages(bad_patch))
    assert call("cashier", "patch", f"/lines/{line_id}", json={"unit_price": "9000"}).status_code == 422  # no reason
    assert call("cashier", "post", f"/invoices/{invoice}/void", json={}).status_code == 422
    assert billing_rows(db) == before

    # Taking the discount back and removing a line work on a draft.
    percent = call("cashier", "put", f"/invoices/{invoice}/discount",
                   json={"kind": "percent", "value": 10, "reason": "Khách quen"})
    assert percent.get_json()["result"]["discount"] == "10000"
    back = call("cashier", "put", f"/invoices/{invoice}/discount", json={"kind": None})
    assert back.status_code == 200 and back.get_json()["result"]["discount"] == "0"
    removed = call("cashier", "delete", f"/lines/{line_id}")
    assert removed.status_code == 200 and removed.get_json()["result"]["lines"] == []
    empty = call("cashier", "post", f"/invoices/{invoice}/issue")
    assert empty.status_code == 409  # nothing to bill


def test_states_that_cannot_take_the_request_are_409_and_write_nothing(db, call, clinic):
    draft = new_draft(call, clinic.patient)
    assert free_line(call, draft).status_code == 201
    void = issued(call, clinic.patient)
    assert call("cashier", "post", f"/invoices/{void}/void", json={"reason": "Lập nhầm"}).status_code == 200
    paid = issued(call, clinic.patient, "30000")  # 33 000 with the free line's 10 % VAT
    payment = call("cashier", "post", f"/invoices/{paid}/payments", json={"method": "cash", "amount": "33000"})
    assert payment.get_json()["result"]["status"] == "paid"
    payment_id = payment.get_json()["id"]
    line_of_paid = call("cashier", "get", f"/invoices/{paid}").get_json()["result"]["lines"][0]["id"]
    before = billing_rows(db)
    for invoice in (draft, void, paid):
        response = call("cashier", "post", f"/invoices/{invoice}/payments", json={"method": "cash", "amount": "1000"})
        assert response.status_code == 409, (invoice, response.get_json())
        assert response.get_json()["message"]
    assert call("cashier", "post", f"/invoices/{paid}/void", json={"reason": "x"}).status_code == 409
    assert call("cashier", "post", f"/invoices/{void}/void", json={"reason": "x"}).status_code == 409
    assert call("cashier", "post", f"/invoices/{paid}/issue").status_code == 409
    assert call("cashier", "post", f"/invoices/{paid}/lines",
                json={"kind": "other", "description": "X", "unit_price": "1", "reason": "r"}).status_code == 409
    assert call("cashier", "patch", f"/lines/{line_of_paid}", json={"quantity": 3}).status_code == 409
    assert call("cashier", "delete", f"/lines/{line_of_paid}").status_code == 409
    assert call("cashier", "put", f"/invoices/{paid}/discount",
                json={"kind": "amount", "value": "1000", "reason": "r"}).status_code == 409
    above = call("cashier", "post", f"/payments/{payment_id}/refunds", json={"amount": "33001", "reason": "Trả lại"})
    assert above.status_code == 409 and "amount" in messages(above)
    for body, field in (({"amount": "0", "reason": "r"}, "amount"), ({"amount": "100"}, "reason"),
                        ({"amount": "10.5", "reason": "r"}, "amount")):
        response = call("cashier", "post", f"/payments/{payment_id}/refunds", json=body)
        assert response.status_code == 422 and field in messages(response), response.get_json()
    # The same Idempotency-Key on another invoice is refused, and answers nothing of the first.
    key = {"Idempotency-Key": "dup-1"}
    other = issued(call, clinic.patient, "5000")
    first = call("cashier", "post", f"/invoices/{other}/payments", json={"method": "cash", "amount": "1000"},
                 headers=key)
    assert first.status_code == 201
    before = billing_rows(db)
    clash = call("cashier", "post", f"/invoices/{draft}/payments", json={"method": "cash", "amount": "1000"},
                 headers=key)
    assert clash.status_code == 409 and "Idempotency-Key" in messages(clash)
    assert billing_rows(db) == before


def test_unknown_records_are_404(db, call, clinic):
    before = billing_rows(db)
    for method, path, body in (("get", "/invoices/999999", None), ("post", "/invoices/999999/issue", {}),
                               ("post", "/invoices/999999/payments", {"method": "cash", "amount": "1000"}),
                               ("post", "/invoices/999999/lines", {"kind": "other", "description": "X",
                                                                   "unit_price": "1", "reason": "r"}),
                               ("post", "/invoices/999999/void", {"reason": "r"}),
                               ("put", "/invoices/999999/discount", {"kind": None}),
                               ("post", "/invoices/999999/checkout", {"method": "card"}),
                               ("patch", "/lines/999999", {"quantity": 1}), ("delete", "/lines/999999", None),
                               ("post", "/payments/999999/refunds", {"amount": "1", "reason": "r"})):
        response = call("cashier", method, path, json=body) if body is not None else call("cashier", method, path)
        assert response.status_code == 404, (method, path, response.get_json())
    unknown_patient = call("cashier", "post", "/invoices", json={"patient_id": 999999})
    assert unknown_patient.status_code == 404
    assert call("cashier", "post", "/invoices", json={"patient_id": "x"}).status_code == 422
    assert billing_rows(db) == before


@pytest.mark.parametrize("method", ["card", "vnpay"])
def test_an_unreachable_provider_is_a_502_and_nothing_is_written(db, call, clinic, method):
    invoice = issued(call, clinic.patient)
    before = billing_rows(db)
    response = call("cashier", "post", f"/invoices/{invoice}/checkout", json={"method": method, "amount": "50000"})
    assert response.status_code == 502, response.get_json()
    assert isinstance(response.get_json()["message"], str) and response.get_json()["message"]
    assert call("cashier", "post", f"/invoices/{invoice}/checkout",
                json={"method": method, "return_path": "//evil.example/"}).status_code == 422
    assert billing_rows(db) == before


@pytest.mark.parametrize("username", WRITERS)
def test_billing_staff_write(call, clinic, username):
    invoice = new_draft(call, clinic.patient, username)
    assert free_line(call, invoice, username=username).status_code == 201
    assert call(username, "post", f"/invoices/{invoice}/issue").status_code == 200
    response = call(username, "post", f"/invoices/{invoice}/payments", json={"method": "cash", "amount": "1000"})
    assert response.status_code == 201
    assert call(username, "get", "/invoices").get_json()["count"] == 1


@pytest.mark.parametrize("username", OUTSIDERS)
def test_clinical_staff_have_no_billing(db, call, clinic, username):
    invoice = issued(call, clinic.patient)
    before = billing_rows(db)
    assert call(username, "get", "/invoices").status_code == 403
    assert call(username, "get", f"/invoices/{invoice}").status_code == 403
    assert call(username, "post", "/invoices", json={"patient_id": clinic.patient}).status_code == 403
    assert call(username, "post", f"/invoices/{invoice}/payments",
                json={"method": "cash", "amount": "1000"}).status_code == 403
    assert billing_rows(db) == before


def test_the_powers_follow_the_roles_under_a_jwt(db, call, clinic):
    """``app.billing_rights`` sees the token's user: a cashier (powers) discounts, changes a price
    and refunds; a receptionist (writes, no powers) is refused each, nothing written."""
    draft = new_draft(call, clinic.patient, "receptionist")
    free_line(call, draft, username="receptionist")
    invoice = issued(call, clinic.patient)
    payment = call("receptionist", "post", f"/invoices/{invoice}/payments",
                   json={"method": "cash", "amount": "1000"}).get_json()["id"]
    before = billing_rows(db)
    discount = call("receptionist", "put", f"/invoices/{draft}/discount", json={"kind": "amount", "value": "1000",
                                                                             "reason": "Khách quen"})
    assert discount.status_code == 403 and discount.get_json()["message"]
    refund = call("receptionist", "post", f"/payments/{payment}/refunds", json={"amount": "1000", "reason": "Trả lại"})
    assert refund.status_code == 403 and refund.get_json()["message"]
    price = call("receptionist", "post", f"/invoices/{draft}/lines",
                 json={"kind": "medicine", "medicine_id": clinic.medicine, "unit_price": "500", "reason": "Giảm giá"})
    assert price.status_code == 422 and "unit_price" in messages(price)
    assert billing_rows(db) == before
    assert call("cashier", "put", f"/invoices/{draft}/discount",
                json={"kind": "amount", "value": "1000", "reason": "Khách quen"}).status_code == 200
    changed = call("cashier", "post", f"/invoices/{draft}/lines",
                   json={"kind": "medicine", "medicine_id": clinic.medicine, "unit_price": "500", "reason": "Giảm giá"})
    assert changed.status_code == 201 and changed.get_json()["line"]["price_overridden"] is True
    assert call("cashier", "post", f"/payments/{payment}/refunds",
                json={"amount": "1000", "reason": "Trả lại"}).status_code == 201


def test_patients_read_only_their_own_issued_invoices(db, call, clinic, own_patient):
    mine = issued(call, own_patient, "70000")
    my_draft = new_draft(call, own_patient)
    theirs = issued(call, clinic.patient)
    listing = call("patient", "get", "/invoices")
    assert listing.status_code == 200
    assert [row["id"] for row in listing.get_json()["result"]] == [mine] and listing.get_json()["count"] == 1
    # Asking for someone else's by their patient id finds nothing either.
    assert call("patient", "get", f"/invoices?patient_id={clinic.patient}").get_json()["count"] == 0
    shown = call("patient", "get", f"/invoices/{mine}")
    assert shown.status_code == 200 and shown.get_json()["result"]["total"] == "77000"
    assert call("patient", "get", f"/invoices/{my_draft}").status_code == 404
    assert call("patient", "get", f"/invoices/{theirs}").status_code == 404
    before = billing_rows(db)
    for method, path, body in (("post", "/invoices", {"patient_id": own_patient}),
                               ("post", f"/invoices/{mine}/payments", {"method": "cash", "amount": "1000"}),
                               ("post", f"/invoices/{mine}/checkout", {"method": "card"}),
                               ("post", f"/invoices/{my_draft}/issue", {}),
                               ("put", f"/invoices/{my_draft}/discount", {"kind": None})):
        assert call("patient", method, path, json=body).status_code == 403, path
    assert billing_rows(db) == before


def test_reads_leave_audit_rows_and_refusals_are_denied(db, api, call, clinic, own_patient):
    theirs = issued(call, clinic.patient)
    call("cashier", "get", f"/invoices/{theirs}")
    call("patient", "get", f"/invoices/{theirs}")
    actions = [row["action"] for row in api.audit("Invoice", theirs)]
    assert "read" in actions and "denied" in actions


def test_search_by_status_date_and_pages(call, clinic):
    ids = [issued(call, clinic.patient) for _ in range(3)]
    draft = new_draft(call, clinic.patient)
    today = datetime.now(timezone(timedelta(hours=7))).date()
    assert call("cashier", "get", "/invoices?status=draft").get_json()["count"] == 1
    assert call("cashier", "get", f"/invoices?status=issued&date_from={today}&date_to={today}").get_json()["count"] == 3
    assert call("cashier", "get", f"/invoices?date_from={today + timedelta(days=1)}").get_json()["count"] == 0
    page = call("cashier", "get", "/invoices?page=1&page_size=2").get_json()
    assert page["count"] == 4 and page["page"] == 1 and len(page["result"]) == 2
    first = call("cashier", "get", "/invoices?page_size=2").get_json()["result"]
    assert {row["id"] for row in first} | {row["id"] for row in page["result"]} == {*ids, draft}
    for query, field in (("page_size=0", "page_size"), ("page_size=101", "page_size"), ("status=lost", "status"),
                         ("date_from=2026-13-01", "date_from"), (f"date_from={today}&date_to={today - timedelta(1)}",
                                                                 "date_to"), ("colour=red", "colour")):
        response = call("cashier", "get", f"/invoices?{query}")
        assert response.status_code == 422 and field in messages(response), query


def test_a_browser_session_writes_with_its_csrf_token(login_as, clinic):
    browser = login_as("cashier")
    refused = browser.post(f"{BASE}/invoices", json={"patient_id": clinic.patient}, csrf=False)
    assert refused.status_code == 400
    made = browser.post(f"{BASE}/invoices", json={"patient_id": clinic.patient})
    assert made.status_code == 201, made.get_json()
    assert browser.get(f"{BASE}/invoices/{made.get_json()['id']}").status_code == 200


def test_no_token_is_401(app, client):
    assert client.get(f"{BASE}/invoices").status_code == 401
    assert client.post(f"{BASE}/invoices", json={"patient_id": 1}, csrf=False).status_code in (400, 401)


def test_amounts_are_exact_strings_for_a_currency_with_cents(call, clinic, app):
    """The JSON's amounts carry the currency's digits ("12.50" dollars), exact."""
    from app.api.billing import money

    assert money(Decimal("150000.00"), "VND") == "150000"
    assert money(Decimal("12.5"), "USD") == "12.50"


def test_refusals_speak_the_clients_language(call, clinic):
    invoice = issued(call, clinic.patient)
    vi = {"Accept-Language": "vi"}
    fraction = call("cashier", "post", f"/invoices/{invoice}/payments", json={"method": "cash", "amount": "abc"},
                    headers=vi)
    assert messages(fraction)["amount"] == ["Hãy nhập số tiền dạng số hoặc chuỗi chữ số, ví dụ \"150000\"."]
    payment = call("cashier", "post", f"/invoices/{invoice}/payments",
                   json={"method": "cash", "amount": "1000"}).get_json()["id"]
    refund = call("receptionist", "post", f"/payments/{payment}/refunds", json={"amount": "1000", "reason": "x"},
                  headers=vi)
    assert refund.status_code == 403
    assert refund.get_json()["message"] == "Bạn không được phép hoàn tiền; hãy nhờ quản lý."


def test_a_stripe_that_cannot_be_reached_is_a_502_and_nothing_is_written(app, db, call, clinic, monkeypatch):
    """Stripe set up but down (nothing listens on its address): 502, no pending payment left."""
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_api")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    invoice = issued(call, clinic.patient)
    before = billing_rows(db)
    response = call("cashier", "post", f"/invoices/{invoice}/checkout", json={"method": "card"})
    assert response.status_code == 502, response.get_json()
    assert billing_rows(db) == before


def test_a_vnpay_checkout_answers_the_signed_url_and_keeps_the_payment_pending(app, call, clinic, monkeypatch):
    monkeypatch.setitem(app.config, "VNPAY_TMN_CODE", "CLINIC01")
    monkeypatch.setitem(app.config, "VNPAY_HASH_SECRET", "test-secret")
    invoice = issued(call, clinic.patient)  # 110 000 owed
    refused = call("cashier", "post", f"/invoices/{invoice}/checkout", json={"method": "vnpay", "amount": "110001"})
    assert refused.status_code == 409 and "amount" in messages(refused)
    response = call("cashier", "post", f"/invoices/{invoice}/checkout",
                    json={"method": "vnpay", "amount": 50000, "return_path": f"/portal/invoices/{invoice}"})
    assert response.status_code == 201, response.get_json()
    url = response.get_json()["payment_url"]
    assert url.startswith(app.config["VNPAY_PAY_URL"]) and "vnp_Amount=5000000" in url and "vnp_SecureHash=" in url
    assert "vnp_ReturnUrl=http%3A%2F%2Flocalhost%2Fportal%2Finvoices%2F" in url
    shown = call("cashier", "get", f"/invoices/{invoice}").get_json()["result"]
    assert [(p["method"], p["status"], p["amount"]) for p in shown["payments"]] == [("vnpay", "pending", "50000")]
    assert (shown["status"], shown["balance"]) == ("issued", "110000")  # counted only when VNPay says paid


def test_a_line_from_the_visit_is_removed_only_with_the_power_and_a_reason(db, call, clinic):
    from app.models import InvoiceLine

    invoice = new_draft(call, clinic.patient)
    added = call("cashier", "post", f"/invoices/{invoice}/lines",
                 json={"kind": "service", "service_id": clinic.service, "quantity": 1})
    assert added.status_code in (200, 201), added.get_json()
    line_id = added.get_json()["id"]
    line = db.session.get(InvoiceLine, line_id)
    line.source, line.source_id = "appointment", 77
    db.session.commit()
    before = billing_rows(db)
    refused = call("receptionist", "delete", f"/lines/{line_id}?reason=asked")
    assert refused.status_code == 403
    no_reason = call("cashier", "delete", f"/lines/{line_id}")
    assert no_reason.status_code == 422 and "reason" in messages(no_reason)
    assert billing_rows(db) == before
    removed = call("cashier", "delete", f"/lines/{line_id}", json={"reason": "Khám lại miễn phí"})
    assert removed.status_code == 200 and removed.get_json()["result"]["lines"] == []
