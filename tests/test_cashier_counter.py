"""The cashier's counter (/cashier/, issue 11): find the patient or scan the invoice number, bill
by hand at the catalogue's price, discounts and price changes only with the power to, issue, take
cash with the change, a confirmed transfer, card and VNPay handed to their gateways, refunds; bad
input answered with a clear message and nothing written; one payment per form however often it
is sent; who may do what."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import Invoice, InvoiceLine, Payment, Refund

NO_MAIL = {"BILLING_EMAIL_ON_ISSUE": False, "BILLING_EMAIL_ON_PAYMENT": False}


@pytest.fixture(autouse=True)
def _no_mail(app, monkeypatch):
    for key, value in NO_MAIL.items():
        monkeypatch.setitem(app.config, key, value)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _payments(db) -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(Payment)).scalar_one()


def _invoice(db, invoice_id: int) -> Invoice:
    db.session.expire_all()
    return db.session.get(Invoice, invoice_id)


def _draft(app, db, clinic) -> int:
    from app.services import billing
    from app.services.billing_settings import BillingSettings

    with app.app_context():
        invoice = billing.new_draft(db.session, clinic.patient, None, _now(), BillingSettings())
        db.session.commit()
        return invoice.id


def _vietnamese(browser):
    browser.get("/clinic/language/vi?next=/")
    return browser


def _text(response) -> str:
    return response.get_data(as_text=True)


def _flat(html: str) -> str:
    """The page's text with the non-breaking spaces of amounts made plain."""
    return html.replace("\xa0", " ").replace("&nbsp;", " ")


# ---- who may use the counter -----------------------------------------------------------------------


def test_a_doctor_may_not_use_the_counter(db, clinic, login_as):
    invoice = clinic.invoice
    doctor = login_as("doctor")
    assert doctor.get("/cashier/").status_code == 403
    assert doctor.get(f"/cashier/invoice/{invoice}").status_code == 403
    assert doctor.post(f"/cashier/invoice/{invoice}/pay", data={"pay-method": "cash", "pay-amount": "300000"}
                       ).status_code == 403
    assert _payments(db) == 0


def test_a_cashier_lands_on_the_counter_and_sees_money_on_the_start_page(app, db, clinic, login_as):
    from tests.factories import form_login

    response = form_login(app, app.test_client(), "cashier")
    assert response.status_code in (302, 303) and response.headers["Location"] == "/cashier/"
    assert clinic.invoice
    home = _text(login_as("cashier").get("/"))
    figures = re.findall(r'data-figure="(\w+)"', home)
    assert "unpaid_invoices" in figures and "medicines_below_reorder" not in figures
    assert 'href="/cashier/"' in home


def test_the_counter_lists_todays_open_invoices_and_a_scanned_number_opens_one(db, clinic, login_as):
    invoice = clinic.invoice
    number = _invoice(db, invoice).number
    cashier = login_as("cashier")
    page = _flat(_text(cashier.get("/cashier/")))
    assert number in page and "Nguyễn Văn An" in page and "₫300,000" in page
    assert f'href="/cashier/invoice/{invoice}"' in page
    scanned = cashier.get(f"/cashier/?q={number.lower()}")
    assert scanned.status_code == 302 and scanned.headers["Location"].endswith(f"/cashier/invoice/{invoice}")
    # a patient found without accents, by phone, with their open invoices
    for typed in ("nguyen van an", "0912345678"):
        found = _text(cashier.get("/cashier/", query_string={"q": typed}))
        assert f'data-patient="{clinic.patient}"' in found and number in found
    assert "No patient or invoice matches" in _text(cashier.get("/cashier/?q=HD1999-000001"))


# ---- a draft at the counter -----------------------------------------------------------------------


def test_a_line_takes_the_catalogues_price_and_only_a_cashier_may_change_it(app, db, clinic, login_as):
    draft = _draft(app, db, clinic)
    service = clinic.service  # 150 000
    reception = login_as("receptionist")
    page = _text(reception.get(f"/cashier/invoice/{draft}"))
    assert 'data-price="150,000"' in page and "readonly" in page
    added = reception.post(f"/cashier/invoice/{draft}/lines", data={
        "add-kind": "service", "add-service_id": service, "add-quantity": "2"})
    assert added.status_code == 303
    assert _invoice(db, draft).total == Decimal(300000)
    refused = reception.post(f"/cashier/invoice/{draft}/lines", data={
        "add-kind": "service", "add-service_id": service, "add-quantity": "1", "add-unit_price": "99,000",
        "add-reason": "friend"})
    assert refused.status_code == 422 and "You may not change catalogue prices" in _text(refused)
    assert len(_invoice(db, draft).lines) == 1
    cashier = login_as("cashier")
    no_reason = cashier.post(f"/cashier/invoice/{draft}/lines", data={
        "add-kind": "service", "add-service_id": service, "add-quantity": "1", "add-unit_price": "99,000"})
    assert no_reason.status_code == 422 and "Say why the price is changed." in _text(no_reason)
    assert 'value="99,000"' in _text(no_reason)  # what was typed is kept
    changed = cashier.post(f"/cashier/invoice/{draft}/lines", data={
        "add-kind": "service", "add-service_id": service, "add-quantity": "1", "add-unit_price": "99,000",
        "add-reason": "Tái khám trong tuần"})
    assert changed.status_code == 303
    invoice = _invoice(db, draft)
    assert [(ln.unit_price, ln.price_overridden) for ln in invoice.lines] == [
        (Decimal(150000), False), (Decimal(99000), True)]
    assert invoice.total == Decimal(399000)


def test_free_lines_quantities_removal_and_a_discount_with_its_reason(app, db, clinic, login_as):
    draft = _draft(app, db, clinic)
    cashier = _vietnamese(login_as("cashier"))
    no_reason = cashier.post(f"/cashier/invoice/{draft}/lines", data={
        "add-kind": "other", "add-description": "Băng gạc", "add-quantity": "1", "add-unit_price": "50.000"})
    assert no_reason.status_code == 422 and _invoice(db, draft).lines == []
    assert cashier.post(f"/cashier/invoice/{draft}/lines", data={
        "add-kind": "other", "add-description": "Băng gạc", "add-quantity": "1", "add-unit_price": "50.000",
        "add-reason": "Thay băng"}).status_code == 303
    assert cashier.post(f"/cashier/invoice/{draft}/lines", data={
        "add-kind": "medicine", "add-medicine_id": clinic.medicine, "add-quantity": "10"}).status_code == 303
    invoice = _invoice(db, draft)
    other, medicine = invoice.lines
    assert (other.amount, medicine.amount, medicine.tax) == (Decimal(50000), Decimal(10000), Decimal(500))
    assert cashier.post(f"/cashier/line/{medicine.id}", data={f"line{medicine.id}-quantity": "20"}).status_code == 303
    bad = cashier.post(f"/cashier/line/{medicine.id}", data={f"line{medicine.id}-quantity": "-1"})
    assert bad.status_code == 422 and "số lượng lớn hơn 0" in _flat(_text(bad))  # in the user's language
    assert _invoice(db, draft).lines[1].quantity == 20
    # a discount: 10 % with a reason (70 000 of goods: 7 000 off, shared over the lines)
    no_why = cashier.post(f"/cashier/invoice/{draft}/discount", data={"discount-kind": "percent",
                                                                      "discount-value": "10"})
    assert no_why.status_code == 422 and _invoice(db, draft).discount == 0
    assert cashier.post(f"/cashier/invoice/{draft}/discount", data={
        "discount-kind": "percent", "discount-value": "10", "discount-reason": "Người cao tuổi"}).status_code == 303
    invoice = _invoice(db, draft)
    assert (invoice.subtotal, invoice.discount) == (Decimal(70000), Decimal(7000))
    assert "Người cao tuổi" in _text(cashier.get(f"/cashier/invoice/{draft}"))
    assert cashier.post(f"/cashier/invoice/{draft}/discount", data={"discount-remove": "1"}).status_code == 303
    assert _invoice(db, draft).discount == 0
    assert cashier.post(f"/cashier/line/{other.id}/remove").status_code == 303
    assert [ln.description for ln in _invoice(db, draft).lines] == [medicine.description]


def test_a_receptionist_may_not_discount(app, db, clinic, login_as):
    draft = _draft(app, db, clinic)
    reception = login_as("receptionist")
    reception.post(f"/cashier/invoice/{draft}/lines", data={"add-kind": "service", "add-service_id": clinic.service,
                                                           "add-quantity": "1"})
    assert 'id="discount"' not in _text(reception.get(f"/cashier/invoice/{draft}"))
    refused = reception.post(f"/cashier/invoice/{draft}/discount", data={
        "discount-kind": "amount", "discount-value": "10000", "discount-reason": "friend"})
    assert refused.status_code == 403 and "You may not grant discounts" in _text(refused)
    assert _invoice(db, draft).discount == 0


def test_issue_numbers_the_invoice_and_void_needs_a_reason(app, db, clinic, login_as):
    draft = _draft(app, db, clinic)
    cashier = login_as("cashier")
    empty = cashier.post(f"/cashier/invoice/{draft}/issue")
    assert empty.status_code == 409 and "Add at least one line" in _text(empty)
    cashier.post(f"/cashier/invoice/{draft}/lines", data={"add-kind": "service", "add-service_id": clinic.service,
                                                         "add-quantity": "1"})
    assert cashier.post(f"/cashier/invoice/{draft}/issue").status_code == 303
    invoice = _invoice(db, draft)
    assert invoice.status == "issued" and re.fullmatch(r"HD\d{4}-000001", invoice.number)
    page = _text(cashier.get(f"/cashier/invoice/{draft}"))
    assert invoice.number in page and 'id="take-payment"' in page and 'id="add-line"' not in page
    late = cashier.post(f"/cashier/invoice/{draft}/lines", data={"add-kind": "service",
                                                                "add-service_id": clinic.service,
                                                                "add-quantity": "1"})
    assert late.status_code == 409 and len(_invoice(db, draft).lines) == 1
    no_reason = cashier.post(f"/cashier/invoice/{draft}/void", data={"void-reason": "  "})
    assert no_reason.status_code == 422 and "Say why the invoice is voided." in _text(no_reason)
    assert cashier.post(f"/cashier/invoice/{draft}/void", data={"void-reason": "Nhập nhầm bệnh nhân"}
                        ).status_code == 303
    assert _invoice(db, draft).status == "void"


# ---- payments -------------------------------------------------------------------------------------


def test_cash_in_vietnamese_shows_the_change_and_the_receipt(db, clinic, login_as):
    invoice = clinic.invoice  # 300 000
    cashier = _vietnamese(login_as("cashier"))
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert 'name="pay-amount"' in page and 'value="300.000"' in page  # the balance, typed the Vietnamese way
    key = re.search(r'name="pay-key"[^>]*value="([0-9a-f]{32})"', page) or re.search(
        r'value="([0-9a-f]{32})"[^>]*name="pay-key"', page)
    assert key
    paid = cashier.post(f"/cashier/invoice/{invoice}/pay", data={
        "pay-method": "cash", "pay-amount": "300.000", "pay-tendered": "500.000", "pay-key": key.group(1)})
    assert paid.status_code == 303 and "/cashier/payment/" in paid.headers["Location"]
    receipt = _flat(_text(cashier.get(paid.headers["Location"])))
    assert re.search(r'id="receipt-change">200\.000 ₫<', receipt)
    assert re.search(r'id="receipt-tendered">500\.000 ₫<', receipt)
    assert 'href="/invoices/%d/print"' % invoice in receipt and 'href="/invoices/%d/pdf"' % invoice in receipt
    assert 'action="/invoices/%d/email"' % invoice in receipt
    settled = _invoice(db, invoice)
    assert settled.status == "paid" and settled.amount_paid == Decimal(300000)
    payment = settled.payments[0]
    assert (payment.tendered, payment.change_given, payment.idempotency_key) == (
        Decimal(500000), Decimal(200000), key.group(1))


@pytest.mark.parametrize(("typed", "status", "message"), [
    ({"pay-amount": "-5"}, 422, "Enter an amount above zero."),
    ({"pay-amount": "0"}, 422, "Enter an amount above zero."),
    ({"pay-amount": "abc"}, 422, "Not a number."),
    ({"pay-amount": "300000", "pay-tendered": "200000"}, 422, "The cash handed over is less than the amount paid."),
    ({"pay-amount": "400000"}, 409, "Only ₫300,000 is still owed"),
])
def test_bad_payments_are_refused_with_a_message_and_nothing_written(db, clinic, login_as, typed, status, message):
    invoice = clinic.invoice
    response = login_as("cashier").post(f"/cashier/invoice/{invoice}/pay", data={"pay-method": "cash", **typed})
    assert response.status_code == status and message in _flat(_text(response))
    assert _payments(db) == 0 and _invoice(db, invoice).status == "issued"


def test_a_draft_cannot_take_payment(app, db, clinic, login_as):
    draft = _draft(app, db, clinic)
    cashier = login_as("cashier")
    cashier.post(f"/cashier/invoice/{draft}/lines", data={"add-kind": "service", "add-service_id": clinic.service,
                                                         "add-quantity": "1"})
    assert 'id="take-payment"' not in _text(cashier.get(f"/cashier/invoice/{draft}"))
    refused = cashier.post(f"/cashier/invoice/{draft}/pay", data={"pay-method": "cash", "pay-amount": "150000"})
    assert refused.status_code == 409 and "still a draft" in _text(refused)
    assert _payments(db) == 0


def test_the_same_form_sent_twice_records_one_payment(db, clinic, login_as):
    invoice = clinic.invoice
    cashier = login_as("receptionist")
    form = {"pay-method": "cash", "pay-amount": "100000", "pay-tendered": "100000", "pay-key": "a" * 32}
    first = cashier.post(f"/cashier/invoice/{invoice}/pay", data=form)
    again = cashier.post(f"/cashier/invoice/{invoice}/pay", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert _payments(db) == 1 and _invoice(db, invoice).amount_paid == Decimal(100000)


def test_a_partial_cash_payment_then_a_confirmed_transfer(db, clinic, login_as):
    invoice = clinic.invoice
    cashier = login_as("cashier")
    assert cashier.post(f"/cashier/invoice/{invoice}/pay", data={
        "pay-method": "cash", "pay-amount": "100,000"}).status_code == 303
    assert _invoice(db, invoice).status == "partially_paid"
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert 'name="transfer-amount"' in page and 'value="200,000"' in page
    assert cashier.post(f"/cashier/invoice/{invoice}/pay", data={
        "transfer-method": "bank_transfer", "transfer-amount": "200,000", "transfer-reference": "FT26335123"}
    ).status_code == 303
    settled = _invoice(db, invoice)
    assert settled.status == "paid"
    assert [(p.method, p.provider_reference) for p in settled.payments] == [("cash", None),
                                                                            ("bank_transfer", "FT26335123")]
    assert 'id="take-payment"' not in _text(cashier.get(f"/cashier/invoice/{invoice}"))


def test_the_transfer_tab_shows_the_account_with_or_without_the_qr_code(app, db, clinic, login_as, monkeypatch):
    from app.services import vietqr

    for key, value in {"VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0071000123456",
                       "VIETQR_ACCOUNT_NAME": "PHONG KHAM AN BINH"}.items():
        monkeypatch.setitem(app.config, key, value)
    invoice = clinic.invoice
    cashier = login_as("cashier")

    def refused(*args, **kwargs):
        raise ValueError("VietQR needs the bank's BIN and the account number")

    monkeypatch.setattr(vietqr, "emv_payload", refused)
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert "0071000123456" in page and 'id="vietqr"' not in page
    asked = []
    monkeypatch.setattr(vietqr, "emv_payload", lambda billing, amount, reference: asked.append(
        (billing.bank_account, amount, reference)) or "000201PAYLOAD")
    monkeypatch.setattr(vietqr, "qr_svg", lambda payload: f'<svg data-payload="{payload}"></svg>')
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert '<svg data-payload="000201PAYLOAD"></svg>' in page
    assert asked == [("0071000123456", Decimal(300000), _invoice(db, invoice).number)]


def test_card_and_vnpay_go_to_their_gateway_and_a_refusal_is_a_message(app, db, clinic, login_as, monkeypatch):
    from app.services import stripe_gateway, vnpay
    from app.services.errors import ProviderUnavailable

    invoice = clinic.invoice
    cashier = login_as("cashier")
    assert 'href="#pay-card"' not in _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert cashier.post(f"/cashier/invoice/{invoice}/card", data={}).status_code == 404  # Stripe not set up
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setitem(app.config, "VNPAY_TMN_CODE", "CLINIC01")
    monkeypatch.setitem(app.config, "VNPAY_HASH_SECRET", "secret")
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert 'href="#pay-card"' in page and 'href="#pay-vnpay"' in page
    asked = []

    def down(*args, **kwargs):
        raise ProviderUnavailable("Stripe could not be reached.")

    monkeypatch.setattr(stripe_gateway, "start_checkout", down)
    refused = cashier.post(f"/cashier/invoice/{invoice}/card", data={"card-amount": "300,000"})
    assert refused.status_code == 303
    assert "Stripe could not be reached." in _text(cashier.get(refused.headers["Location"]))

    def checkout(session, invoice_id, amount, actor_id, now, billing, **kwargs):
        asked.append((invoice_id, amount, kwargs["success_url"]))
        return "https://checkout.stripe.test/c/pay/cs_test_1"

    monkeypatch.setattr(stripe_gateway, "start_checkout", checkout)
    sent = cashier.post(f"/cashier/invoice/{invoice}/card", data={"card-amount": "300,000"})
    assert sent.status_code == 303 and sent.headers["Location"] == "https://checkout.stripe.test/c/pay/cs_test_1"
    assert asked == [(invoice, Decimal(300000), f"http://localhost/cashier/invoice/{invoice}")]
    monkeypatch.setattr(vnpay, "start_payment", lambda *args, **kwargs: "https://sandbox.vnpay.test/pay?x=1")
    sent = cashier.post(f"/cashier/invoice/{invoice}/vnpay", data={})
    assert sent.status_code == 303 and sent.headers["Location"] == "https://sandbox.vnpay.test/pay?x=1"


def test_refunds_need_the_power_a_reason_and_stay_within_the_payment(db, clinic, login_as):
    invoice = clinic.invoice
    payment = clinic.pay(invoice, 300000)
    reception = login_as("receptionist")
    assert f'data-refund-for="{payment}"' not in _text(reception.get(f"/cashier/invoice/{invoice}"))
    refused = reception.post(f"/cashier/payment/{payment}/refund", data={
        f"refund{payment}-amount": "100000", f"refund{payment}-reason": "Bỏ xét nghiệm"})
    assert refused.status_code == 403
    cashier = login_as("cashier")
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert f'data-refund-for="{payment}"' in page and f'name="refund{payment}-amount"' in page
    too_much = cashier.post(f"/cashier/payment/{payment}/refund", data={
        f"refund{payment}-amount": "400000", f"refund{payment}-reason": "Bỏ xét nghiệm"})
    assert too_much.status_code == 409 and "At most ₫300,000 can be refunded" in _text(too_much)
    no_reason = cashier.post(f"/cashier/payment/{payment}/refund", data={f"refund{payment}-amount": "100000"})
    assert no_reason.status_code == 422
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Refund)).scalar_one() == 0
    done = cashier.post(f"/cashier/payment/{payment}/refund", data={
        f"refund{payment}-amount": "100000", f"refund{payment}-reason": "Bỏ xét nghiệm"})
    assert done.status_code == 303
    refunds = db.session.execute(select(Refund)).scalars().all()
    assert [(r.amount, r.method, r.reason) for r in refunds] == [(Decimal(100000), "cash", "Bỏ xét nghiệm")]
    assert "Bỏ xét nghiệm" in _text(cashier.get(f"/cashier/invoice/{invoice}"))


def test_a_failed_e_mail_is_shown_clearly(db, clinic, login_as):
    invoice = _invoice(db, clinic.invoice)
    invoice.email_status, invoice.email_error = "failed", "SMTP: 550 mailbox unavailable"
    db.session.commit()
    page = _text(login_as("cashier").get(f"/cashier/invoice/{invoice.id}"))
    assert "Sending failed" in page and "SMTP: 550 mailbox unavailable" in page


def test_unknown_records_are_404(db, clinic, login_as):
    cashier = login_as("cashier")
    assert cashier.get("/cashier/invoice/999999").status_code == 404
    assert cashier.get("/cashier/payment/999999/receipt").status_code == 404
    assert cashier.post("/cashier/invoice/999999/pay", data={"pay-method": "cash", "pay-amount": "1"}
                        ).status_code == 404
    assert cashier.post("/cashier/line/999999", data={"line999999-quantity": "1"}).status_code == 404


def test_bill_a_walk_in_patient_by_hand(db, clinic, login_as):
    cashier = login_as("cashier")
    started = cashier.post(f"/cashier/patient/{clinic.patient}/new")
    assert started.status_code == 303
    draft = int(started.headers["Location"].rsplit("/", 1)[1])
    again = cashier.post(f"/cashier/patient/{clinic.patient}/new")  # the same open draft, not a second one
    assert again.headers["Location"] == started.headers["Location"]
    invoice = _invoice(db, draft)
    assert invoice.status == "draft" and invoice.patient_id == clinic.patient
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(InvoiceLine)).scalar_one() == 0


def test_a_double_click_that_races_the_first_payment_still_records_one(db, clinic, login_as, monkeypatch):
    """Both clicks pass the early "already recorded?" check; the second insert meets the unique
    key in the database (the invoice could still take it: a part payment) and the counter shows the
    first payment's receipt instead of an error."""
    from app.services import payments

    invoice = clinic.invoice
    cashier = login_as("cashier")
    form = {"pay-method": "cash", "pay-amount": "100000", "pay-tendered": "200000", "pay-key": "b" * 32}
    first = cashier.post(f"/cashier/invoice/{invoice}/pay", data=form)
    monkeypatch.setattr(payments, "_existing", lambda session, key, invoice_id=None: None)
    raced = cashier.post(f"/cashier/invoice/{invoice}/pay", data=form)
    assert first.status_code == raced.status_code == 303
    assert raced.headers["Location"] == first.headers["Location"]
    assert _payments(db) == 1 and _invoice(db, invoice).amount_paid == Decimal(100000)


def test_a_payment_without_the_forms_csrf_token_is_refused(db, clinic, login_as):
    invoice = clinic.invoice
    response = login_as("cashier").post(f"/cashier/invoice/{invoice}/pay", csrf=False,
                                        data={"pay-method": "cash", "pay-amount": "300000"})
    assert response.status_code == 400 and _payments(db) == 0


# ---- the walk's findings (helper pcounter) ---------------------------------------------------------


def _automatic_draft(app, db, clinic, login_as) -> tuple[int, int, int]:
    """A draft with a line from the consultation (``source`` set, as billing_hooks makes it) and a
    free line typed at the counter: (invoice, automatic line, free line)."""
    draft = _draft(app, db, clinic)
    cashier = login_as("cashier")
    cashier.post(f"/cashier/invoice/{draft}/lines", data={"add-kind": "service", "add-service_id": clinic.service,
                                                         "add-quantity": "2"})
    cashier.post(f"/cashier/invoice/{draft}/lines", data={"add-kind": "other", "add-description": "Băng gạc",
                                                         "add-quantity": "1", "add-unit_price": "5000",
                                                         "add-reason": "Thay băng"})
    automatic, free = _invoice(db, draft).lines
    automatic.source, automatic.source_id = "consultation", 4242
    db.session.commit()
    return draft, automatic.id, free.id


def _audit(db, action: str) -> list[dict]:
    import json

    from app.models import AuditEvent

    db.session.rollback()
    return [json.loads(row.details or "{}") for row in db.session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()]


def test_a_receptionist_may_not_remove_or_lower_a_line_that_came_from_the_visit(app, db, clinic, login_as):
    draft, automatic, free = _automatic_draft(app, db, clinic, login_as)
    reception = login_as("receptionist")
    page = _text(reception.get(f"/cashier/invoice/{draft}"))
    edit_rows = re.findall(r'<tr class="cashier-line-edit[^"]*" data-line-edit="(\d+)">(.*?)</tr>', page, re.S)
    removable = {int(line) for line, row in edit_rows if "/remove" in row}
    assert removable == {free}  # the button is not offered on the visit's line
    refused = reception.post(f"/cashier/line/{automatic}/remove", data={f"remove{automatic}-reason": "khách xin"})
    assert refused.status_code == 403 and "only a manager or cashier may remove it" in _text(refused)
    lowered = reception.post(f"/cashier/line/{automatic}", data={f"line{automatic}-quantity": "1"})
    assert lowered.status_code == 422 and "only a manager or cashier may lower it" in _text(lowered)
    assert [ln.quantity for ln in _invoice(db, draft).lines] == [2, 1]
    # raising it (another consultation) and removing a free line stay open to any writer
    assert reception.post(f"/cashier/line/{automatic}", data={f"line{automatic}-quantity": "3"}).status_code == 303
    assert reception.post(f"/cashier/line/{free}/remove").status_code == 303
    assert [ln.id for ln in _invoice(db, draft).lines] == [automatic]


def test_a_cashier_removes_a_line_from_the_visit_only_with_a_reason_which_is_audited(app, db, clinic, login_as):
    draft, automatic, _free = _automatic_draft(app, db, clinic, login_as)
    cashier = _vietnamese(login_as("cashier"))
    page = _text(cashier.get(f"/cashier/invoice/{draft}"))
    assert f'name="remove{automatic}-reason"' in page
    no_reason = cashier.post(f"/cashier/line/{automatic}/remove", data={f"remove{automatic}-reason": " "})
    text = _text(no_reason)
    assert no_reason.status_code == 422 and text.count("Hãy nêu lý do xóa dòng") == 1  # once, under the field
    assert re.search(r'field-error" data-field="reason">Hãy nêu lý do xóa dòng', text)
    assert len(_invoice(db, draft).lines) == 2
    done = cashier.post(f"/cashier/line/{automatic}/remove", data={f"remove{automatic}-reason": "Khám lại miễn phí"})
    assert done.status_code == 303 and [ln.kind for ln in _invoice(db, draft).lines] == ["other"]
    removed = _audit(db, "invoice_line_removed")
    assert [(d.get("source"), d.get("reason")) for d in removed] == [("consultation", "Khám lại miễn phí")]


def test_service_messages_name_amounts_the_vietnamese_way_and_are_said_once(db, clinic, login_as):
    invoice = clinic.invoice  # 300 000 owed
    cashier = _vietnamese(login_as("cashier"))
    too_much = cashier.post(f"/cashier/invoice/{invoice}/pay", data={"pay-method": "cash", "pay-amount": "400.000"})
    text = _flat(_text(too_much))
    assert too_much.status_code == 409 and "300.000 ₫" in text and "300,000" not in text
    assert text.count("300.000 ₫ is still owed") + text.count("chỉ còn nợ 300.000 ₫") <= 1
    message = re.search(r'field-error" data-field="amount">([^<]+)<', text)
    assert message and "300.000 ₫" in message.group(1)
    assert text.count(message.group(1)) == 1  # not flashed as well
    # a transfer's refusal opens the transfer tab, where its message stands
    transfer = cashier.post(f"/cashier/invoice/{invoice}/pay", data={
        "transfer-method": "bank_transfer", "transfer-amount": "400.000"})
    assert re.search(r'class="tab-pane active" id="pay-transfer"', _text(transfer))
    payment = clinic.pay(invoice, 200000)
    refund = cashier.post(f"/cashier/payment/{payment}/refund", data={
        f"refund{payment}-amount": "250.000", f"refund{payment}-reason": "Hủy xét nghiệm"})
    text = _flat(_text(refund))
    assert refund.status_code == 409 and "200.000 ₫" in text and "200,000" not in text


def test_the_e_mail_goes_to_the_patients_login_when_the_record_has_no_address(app, db, clinic, login_as):
    from app.models import Patient

    invoice = clinic.invoice
    patient = db.session.get(Patient, clinic.patient)
    patient.email = None
    db.session.commit()
    cashier = login_as("cashier")
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert "the patient has no e-mail address" in page
    assert re.search(r'<button type="submit" class="btn btn-default" id="email-button" disabled', page)
    sm = app.appbuilder.sm
    user = sm.add_user("an.portal", "An", "Patient", "an@example.vn", sm.find_role("Patient"), password="x" * 16)
    patient = db.session.get(Patient, clinic.patient)
    patient.user_id = user.id
    db.session.commit()
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert "to an@example.vn" in page and "no e-mail address" not in page
    assert re.search(r'<button type="submit" class="btn btn-default" id="email-button" >', page)
    receipt = _text(cashier.get(f"/cashier/payment/{clinic.pay(invoice, 1000)}/receipt"))
    assert "to an@example.vn" in receipt
    with app.app_context():
        from app.services import invoice_mail

        assert invoice_mail.recipient_address(db.session, db.session.get(Invoice, invoice)) == "an@example.vn"


def test_a_void_invoice_shows_who_voided_it_and_offers_no_money_or_mail(app, db, clinic, login_as):
    draft = _draft(app, db, clinic)
    cashier = login_as("cashier")
    cashier.post(f"/cashier/invoice/{draft}/lines", data={"add-kind": "service", "add-service_id": clinic.service,
                                                         "add-quantity": "1"})
    cashier.post(f"/cashier/invoice/{draft}/issue")
    assert cashier.post(f"/cashier/invoice/{draft}/void", data={"void-reason": "Nhập nhầm bệnh nhân"}
                        ).status_code == 303
    page = _flat(_text(cashier.get(f"/cashier/invoice/{draft}")))
    voided = re.search(r'id="voided">(.*?)</p>', page, re.S)
    assert voided and "Voided: Nhập nhầm bệnh nhân" in voided.group(1) and "by " in voided.group(1)
    assert 'data-total="balance"' not in page and 'data-total="paid"' not in page
    assert 'id="take-payment"' not in page and "E-mail to patient" not in page and "/pdf" not in page
    assert f"/invoices/{draft}/print" in page and "Print invoice (Void)" in page


def test_the_vietqr_code_follows_the_amount_asked(app, db, clinic, login_as, monkeypatch):
    from app.services import vietqr

    for key, value in {"VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0071000123456",
                       "VIETQR_ACCOUNT_NAME": "PHONG KHAM AN BINH"}.items():
        monkeypatch.setitem(app.config, key, value)
    invoice = clinic.invoice  # 300 000 owed
    number = _invoice(db, invoice).number
    cashier = login_as("cashier")
    page = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert f'data-url="/cashier/invoice/{invoice}/vietqr.svg"' in page and "QR code for" in page
    answer = cashier.get(f"/cashier/invoice/{invoice}/vietqr.svg?amount=120000")
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml" and "<svg" in _text(answer)
    expected = vietqr.emv_payload(vietqr_settings(app), Decimal(120000), number)
    assert "54061200005802VN" in expected  # the amount is in the payload the code draws
    shown = []
    real = vietqr.qr_svg
    monkeypatch.setattr(vietqr, "qr_svg", lambda payload: shown.append(payload) or real(payload))
    assert cashier.get(f"/cashier/invoice/{invoice}/vietqr.svg?amount=120000").status_code == 200
    assert shown == [expected]
    whole = cashier.get(f"/cashier/invoice/{invoice}/vietqr.svg")
    assert whole.status_code == 200 and shown[-1] == vietqr.emv_payload(vietqr_settings(app), Decimal(300000), number)
    for bad in ("0", "-5", "300001", "1000.5", "abc", "1e3x"):
        refused = cashier.get(f"/cashier/invoice/{invoice}/vietqr.svg?amount={bad}")
        assert refused.status_code == 422, bad
    assert login_as("doctor").get(f"/cashier/invoice/{invoice}/vietqr.svg").status_code == 403
    clinic.pay(invoice, 300000)
    assert cashier.get(f"/cashier/invoice/{invoice}/vietqr.svg").status_code == 404  # nothing owed


def vietqr_settings(app):
    from app.services.billing_settings import BillingSettings

    return BillingSettings.from_config(app.config)


def test_status_words_are_the_same_everywhere_in_vietnamese(app, db, clinic, login_as):
    from app.billing_labels import invoice_status_label
    from app.services import invoice_document
    from app.services.settings import ClinicSettings

    invoice = clinic.invoice
    clinic.pay(invoice, 300000)
    cashier = _vietnamese(login_as("cashier"))
    counter = _text(cashier.get(f"/cashier/invoice/{invoice}"))
    assert re.search(r'data-status="paid">Đã thanh toán<', counter)
    draft = _draft(app, db, clinic)
    assert re.search(r'data-status="draft">Nháp<', _text(cashier.get(f"/cashier/invoice/{draft}")))
    office = _text(cashier.get("/billing/invoices"))  # the back office's status filter says the same
    assert re.search(r'<option value="draft">Nháp</option>', office)
    assert re.search(r'<option value="paid">Đã thanh toán</option>', office)
    with app.test_request_context():
        from flask_babel import force_locale

        with force_locale("vi"):
            words = {s: invoice_status_label(s) for s in ("draft", "issued", "paid", "void")}
            doc = invoice_document.build(db.session, invoice, ClinicSettings.from_config(app.config),
                                         vietqr_settings(app), "vi")
    assert words == {"draft": "Nháp", "issued": "Chưa thanh toán", "paid": "Đã thanh toán", "void": "Đã hủy"}
    assert doc.status_label == "Đã thanh toán"
