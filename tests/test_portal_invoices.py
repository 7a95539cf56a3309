"""The patient's invoices in the portal (issue 11, item 4): own issued invoices only (never a draft,
never another patient's: 404 with a ``denied`` audit row), totals, discount and VAT, the payment
history with refunds, the PDF, and paying what is owed online: the card and VNPay buttons start
the provider's payment and send the payer there (the invoice is marked paid by the provider's
webhook, never by the page the payer comes back to), the VietQR transfer details. Providers and
the PDF are replaced by stand-ins where a test needs their answer."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.factories import Clinic

PAY_CONFIG = {
    "STRIPE_SECRET_KEY": "sk_test_portal", "VNPAY_TMN_CODE": "PORTAL01", "VNPAY_HASH_SECRET": "secret-portal",
    "VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0011004455667", "VIETQR_ACCOUNT_NAME": "PHONG KHAM HOA BINH",
    "VIETQR_BANK_NAME": "Vietcombank",
}
OTHERS = "OTHER-PATIENT-LINE-3f1a"
DRAFT = "DRAFT-LINE-77b0"


@dataclass
class Bills:
    owner_login: str
    other_login: str
    owner: int
    other: int
    owner_user: int
    older: int  # issued, partly paid (cash), then a part of it refunded
    newer: int  # issued, with a percent discount and VAT, nothing paid
    draft: int
    others: int  # another patient's issued invoice
    cash: int  # the cash payment on ``older``


def _login(app, full_name: str, code: str) -> tuple[str, int, int]:
    """A patient login linked to a patient record, as tests/test_portal_records.py links them."""
    from app.extensions import db
    from app.models import Patient

    username = f"pi-{uuid.uuid4().hex[:8]}"
    sm = app.appbuilder.sm
    user = sm.add_user(username, "Test", "Patient", f"{username}@test.example", sm.find_role("Patient"),
                       password=PASSWORD)
    patient = Patient(code=code, full_name=full_name, search_text=full_name.lower(), user_id=user.id,
                      date_of_birth=date(1985, 7, 20), email=f"{username}@patient.example")
    db.session.add(patient)
    db.session.commit()
    return username, user.id, patient.id


def _billing(**overrides):
    from app.services.billing_settings import BillingSettings

    return BillingSettings(email_on_issue=False, email_on_payment=False, **overrides)


def _draft(app, patient: int, lines, *, discount_percent=None):
    """A draft with free lines (kind ``other``: VAT 10 % by default) and maybe a percent discount."""
    from app.extensions import db
    from app.services import billing

    settings, now = _billing(), datetime.now(timezone.utc)
    draft = billing.new_draft(db.session, patient, None, now, settings)
    db.session.commit()
    for description, quantity, unit_price in lines:
        billing.add_line(db.session, draft.id, billing.LineInput(
            kind="other", description=description, quantity=Decimal(quantity), unit_price=Decimal(unit_price),
            reason="test"), None, now, settings, may_change_price=False)
    if discount_percent is not None:
        billing.set_discount(db.session, draft.id, "percent", Decimal(discount_percent), "Người cao tuổi", None, now,
                             may_discount=True)
    return draft.id


def _issue(app, draft: int) -> int:
    from app.extensions import db
    from app.services import billing

    now = datetime.now(timezone.utc)
    return billing.issue_invoice(db.session, draft, None, now, _billing(), now.year).id


@pytest.fixture
def bills(app, db, clinic) -> Bills:
    from app.services import payments

    owner_login, owner_user, owner = _login(app, "Phạm Thị Hương", "BN-PI1")
    other_login, _other_user, other = _login(app, "Người Khác Hẳn", "BN-PI2")
    clinic.patient = owner  # the factory's invoice is this patient's
    older = clinic.invoice
    cash = clinic.pay(older, 100000, "cash")
    payments.refund_payment(db.session, cash, 20000, "Thu thừa", None, datetime.now(timezone.utc), _billing())
    newer = _issue(app, _draft(app, owner, [("Siêu âm bụng", 1, 250000), ("Nội soi tai mũi họng", 2, 175000)],
                               discount_percent=10))
    draft = _draft(app, owner, [(DRAFT, 1, 99000)])
    others = Clinic(clinic.api, clinic.user_id, app)
    others.patient = other
    others_invoice = _issue(app, _draft(app, other, [(OTHERS, 1, 500000)]))
    return Bills(owner_login, other_login, owner, other, owner_user, older, newer, draft, others_invoice, cash)


def _invoice(db, invoice_id: int):
    from app.models import Invoice

    db.session.rollback()
    return db.session.get(Invoice, invoice_id)


def _audit(db, action: str, entity: str, user_id: int) -> list:
    from app.models import AuditEvent

    db.session.rollback()
    return list(db.session.execute(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.entity == entity, AuditEvent.user_id == user_id)
        .order_by(AuditEvent.id)).scalars())


def _text(response) -> str:
    return response.get_data(as_text=True)


def _vnd(amount, lang: str = "en") -> str:
    """An amount as the page writes it: ₫330,000 in English, 330.000 ₫ in Vietnamese."""
    from babel.numbers import format_currency

    return format_currency(Decimal(amount), "VND", locale=lang)


def _day(app, moment: datetime) -> date:
    from app.services.settings import ClinicSettings

    return moment.astimezone(ClinicSettings.from_config(app.config).timezone).date()


def _row(body: str, marker: str) -> str:
    row = body[body.index(marker):]
    return row[:row.index("</tr>")]


def _payments(db, invoice_id: int) -> list:
    from app.models import Payment

    db.session.rollback()
    return list(db.session.execute(select(Payment).where(Payment.invoice_id == invoice_id)).scalars())


# --- the list and the history -----------------------------------------------------------------

def test_my_invoices_lists_my_issued_invoices_newest_first_with_totals_and_status(app, db, bills, login_as):
    older, newer = _invoice(db, bills.older), _invoice(db, bills.newer)
    response = login_as(bills.owner_login).get("/clinic/me/invoices")
    body = _text(response)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert body.index(newer.number) < body.index(older.number)  # newest first
    row = _row(body, f'data-id="{older.id}"')
    assert _day(app, older.issued_at).isoformat() in row  # English: 2026-12-02
    for shown in (_vnd(older.total), _vnd(100000), _vnd(older.total - 100000), "Partly paid"):
        assert shown in row, shown
    row = _row(body, f'data-id="{newer.id}"')
    for shown in (_vnd(newer.total), _vnd(0), "Unpaid", f"/clinic/me/invoices/{newer.id}"):
        assert shown in row, shown
    assert DRAFT not in body and f'data-id="{bills.draft}"' not in body  # drafts are not shown
    assert OTHERS not in body and _invoice(db, bills.others).number not in body
    assert _vnd(older.total - 100000 + newer.total) in body  # what is still owed, in all
    listed = [json.loads(row.details) for row in _audit(db, "read", "Invoice", bills.owner_user)]
    assert listed and sorted(listed[-1]["ids"]) == sorted([bills.older, bills.newer])
    assert listed[-1]["patients"] == [bills.owner]


def test_the_payment_history_lists_every_payment_and_refund(app, db, bills, login_as):
    from app.services import payments

    older = _invoice(db, bills.older)
    # a card payment started but never confirmed by the provider is not money received
    payments.start_online_payment(db.session, bills.newer, "card", Decimal(1000), "cs_test_pending", None,
                                  datetime.now(timezone.utc))
    db.session.commit()
    body = _text(login_as(bills.owner_login).get("/clinic/me/invoices"))
    history = body[body.index('id="history"'):]
    payment = _row(history, 'data-kind="payment"')
    assert "Cash at the clinic" in payment and _vnd(100000) in payment and older.number in payment
    refund = _row(history, 'data-kind="refund"')
    assert "Refund: Cash at the clinic" in refund and "−" + _vnd(20000) in refund
    assert history.index('data-kind="refund"') < history.index('data-kind="payment"')  # newest first
    assert history.count('class="pub-movement') == 2
    assert _vnd(1000) not in history


def test_in_vietnamese_dates_are_dd_mm_yyyy_and_amounts_use_dots(app, db, bills, login_as):
    older = _invoice(db, bills.older)
    day = _day(app, older.issued_at).strftime("%d/%m/%Y")
    browser = login_as(bills.owner_login)
    browser.get("/clinic/language/vi")
    for path in ("/clinic/me/invoices", f"/clinic/me/invoices/{bills.older}"):
        body = _text(browser.get(path))
        assert day in body, path
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b", body), path
        assert _vnd(older.total, "vi") in body and "." in _vnd(older.total, "vi"), path
        assert "Đã thanh toán một phần" in body and "Tiền mặt tại phòng khám" in body, path
    listing = _text(browser.get("/clinic/me/invoices"))
    assert "Hóa đơn của tôi" in listing and "Lịch sử thanh toán" in listing and "Còn phải trả" in listing


# --- one invoice ------------------------------------------------------------------------------

def test_one_invoice_shows_its_lines_discount_vat_totals_and_payments(app, db, bills, login_as):
    newer = _invoice(db, bills.newer)
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}"))
    for shown in (newer.number, "Siêu âm bụng", "Nội soi tai mũi họng", _vnd(175000), _vnd(350000),
                  "Discount (10%)", "−" + _vnd(newer.discount), _vnd(newer.subtotal), _vnd(newer.tax),
                  _vnd(newer.total), "Phạm Thị Hương", "BN-PI1", "Unpaid", "No payments yet."):
        assert shown in body, shown
    assert newer.subtotal == Decimal(600000) and newer.discount == Decimal(60000) and newer.tax == Decimal(54000)
    line = _row(body, "Nội soi tai mũi họng")
    assert ">2<" in line and "10%" in line  # quantity and VAT rate
    assert "Người cao tuổi" not in body  # the discount's reason is the clinic's note
    reads = _audit(db, "read", "Invoice", bills.owner_user)
    assert [row.entity_id for row in reads if row.entity_id] == [str(bills.newer)]
    lines = [json.loads(row.details) for row in _audit(db, "read", "InvoiceLine", bills.owner_user)]
    assert len(lines[-1]["ids"]) == 2


def test_a_partly_paid_invoice_shows_what_was_paid_given_back_and_is_still_owed(app, db, bills, login_as):
    older = _invoice(db, bills.older)
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.older}"))
    payments = body[body.index('id="payments"'):]
    assert "Cash at the clinic" in _row(payments, 'data-kind="payment"')
    assert "−" + _vnd(20000) in _row(payments, 'data-kind="refund"')
    totals = body[body.index('class="pub-inv-totals"'):]
    assert _vnd(100000) in totals and _vnd(20000) in totals and _vnd(older.total - 100000) in totals


@pytest.mark.parametrize("which", ["others", "draft", "missing"])
@pytest.mark.parametrize("path", ["/clinic/me/invoices/{id}", "/clinic/me/invoices/{id}/invoice.pdf"])
def test_another_patients_invoice_or_a_draft_is_not_found_and_audited(app, db, bills, login_as, which, path):
    wanted = {"others": bills.others, "draft": bills.draft, "missing": 999999}[which]
    response = login_as(bills.owner_login).get(path.format(id=wanted))
    body = _text(response)
    assert response.status_code == 404
    assert OTHERS not in body and DRAFT not in body and "Người Khác Hẳn" not in body
    denied = _audit(db, "denied", "Invoice", bills.owner_user)
    assert [row.entity_id for row in denied] == [str(wanted)]
    assert json.loads(denied[0].details) == {"portal_patient": bills.owner}


@pytest.mark.parametrize("way", ["card", "vnpay"])
def test_paying_another_patients_invoice_is_not_found(app, db, bills, login_as, monkeypatch, way):
    from app.services import stripe_gateway, vnpay

    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    started = []
    monkeypatch.setattr(stripe_gateway, "start_checkout", lambda *a, **k: started.append(a) or "https://x")
    monkeypatch.setattr(vnpay, "start_payment", lambda *a, **k: started.append(a) or "https://x")
    response = login_as(bills.owner_login).post(f"/clinic/me/invoices/{bills.others}/pay/{way}")
    assert response.status_code == 404 and not started


def test_the_other_patient_sees_only_their_own(app, db, bills, login_as):
    browser = login_as(bills.other_login)
    body = _text(browser.get("/clinic/me/invoices"))
    assert _invoice(db, bills.others).number in body and _invoice(db, bills.older).number not in body
    assert "Cash at the clinic" not in body
    assert browser.get(f"/clinic/me/invoices/{bills.older}").status_code == 404


def test_guests_go_to_the_login_and_staff_are_not_patients(app, db, bills, client, login_as):
    for path in ("/clinic/me/invoices", f"/clinic/me/invoices/{bills.older}",
                 f"/clinic/me/invoices/{bills.older}/invoice.pdf"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response.headers["Location"], path
    staff = login_as("receptionist").get(f"/clinic/me/invoices/{bills.older}")
    assert staff.status_code == 403 and "not linked to a patient" in _text(staff)
    assert _invoice(db, bills.older).number not in _text(staff)


def test_the_portal_navigation_links_to_my_invoices(app, db, bills, login_as):
    browser = login_as(bills.owner_login)
    for path in ("/clinic/me/appointments", "/clinic/me/visits", "/clinic/me/invoices"):
        assert 'href="/clinic/me/invoices"' in _text(browser.get(path)), path


# --- the PDF ----------------------------------------------------------------------------------

def test_download_pdf(app, db, bills, login_as, monkeypatch):
    from app.services import invoice_pdf

    asked = []

    def render(session, invoice_id, clinic, billing, language="vi"):
        asked.append((invoice_id, language, billing.bank_account))
        return b"%PDF-1.4 test"

    monkeypatch.setattr(invoice_pdf, "render_pdf", render)
    monkeypatch.setitem(app.config, "VIETQR_ACCOUNT_NO", "0011004455667")
    browser = login_as(bills.owner_login)
    browser.get("/clinic/language/vi")
    response = browser.get(f"/clinic/me/invoices/{bills.older}/invoice.pdf")
    assert response.status_code == 200 and response.data == b"%PDF-1.4 test"
    assert response.headers["Content-Type"] == "application/pdf"
    number = _invoice(db, bills.older).number
    assert response.headers["Content-Disposition"] == f"attachment; filename={number}.pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert asked == [(bills.older, "vi", "0011004455667")]
    assert f'href="/clinic/me/invoices/{bills.older}/invoice.pdf"' in _text(
        browser.get(f"/clinic/me/invoices/{bills.older}"))
    # another patient's invoice never reaches the PDF maker
    assert browser.get(f"/clinic/me/invoices/{bills.others}/invoice.pdf").status_code == 404
    assert len(asked) == 1


def test_the_real_pdf_of_my_invoice_in_vietnamese(app, db, bills, login_as):
    """The documents part (app.services.invoice_pdf) makes the file: the patient's own invoice, in
    their language, with its number, lines and total."""
    from tests.test_portal_records import pdf_text

    older = _invoice(db, bills.older)
    browser = login_as(bills.owner_login)
    browser.get("/clinic/language/vi")
    response = browser.get(f"/clinic/me/invoices/{bills.older}/invoice.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = pdf_text(response.data)
    for shown in (older.number, "Phạm Thị Hương", "Khám tổng quát", "Xét nghiệm máu", "Bằng chữ"):
        assert shown in text, shown


# --- paying -----------------------------------------------------------------------------------

def test_without_payment_settings_the_patient_is_asked_to_pay_at_the_counter(app, db, bills, login_as):
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}"))
    assert "Please pay at the clinic" in body
    assert "pay/card" not in body and "pay/vnpay" not in body and "Pay by bank transfer" not in body


def test_the_ways_to_pay_follow_the_settings(app, db, bills, login_as, monkeypatch):
    from app.services import vietqr

    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    made = []
    monkeypatch.setattr(vietqr, "emv_payload", lambda billing, amount, reference: made.append(
        (billing.bank_bin, amount, reference)) or "000201-payload")
    monkeypatch.setattr(vietqr, "qr_svg", lambda payload: f'<svg class="test-qr" data-payload="{payload}"></svg>')
    newer = _invoice(db, bills.newer)
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}"))
    pay = body[body.index('id="pay"'):body.index('id="lines"')]
    assert f'action="/clinic/me/invoices/{bills.newer}/pay/card"' in pay
    assert f'action="/clinic/me/invoices/{bills.newer}/pay/vnpay"' in pay
    assert pay.count('name="csrf_token"') == 2
    assert f"Pay {_vnd(newer.total)} by card" in pay
    assert '<svg class="test-qr" data-payload="000201-payload">' in pay
    assert made == [("970436", newer.total, newer.number)]
    for shown in ("Vietcombank", "0011004455667", "PHONG KHAM HOA BINH", _vnd(newer.total), newer.number):
        assert shown in pay, shown

    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    monkeypatch.setitem(app.config, "VNPAY_TMN_CODE", "")
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}"))
    assert "pay/card" not in body and "pay/vnpay" not in body and "Pay by bank transfer" in body


def test_the_transfer_details_stay_when_the_qr_code_cannot_be_made(app, db, bills, login_as, monkeypatch):
    from app.services import vietqr

    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)

    def refused(*args, **kwargs):
        raise ValueError("VietQR needs the bank's BIN and the account number")

    monkeypatch.setattr(vietqr, "emv_payload", refused)
    response = login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}")
    body = _text(response)
    assert response.status_code == 200 and "pub-inv-qr" not in body  # no QR code (the bell has an icon of its own)
    assert "0011004455667" in body and _invoice(db, bills.newer).number in body


def test_a_paid_invoice_offers_no_payment(app, db, bills, login_as, clinic, monkeypatch):
    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    clinic.pay(bills.newer, _invoice(db, bills.newer).total, "bank_transfer")
    browser = login_as(bills.owner_login)
    body = _text(browser.get(f"/clinic/me/invoices/{bills.newer}"))
    assert re.search(r"data-status=\"paid\">Paid<", body) and 'id="pay"' not in body and "pay/card" not in body
    assert "Bank transfer" in body
    response = browser.post(f"/clinic/me/invoices/{bills.newer}/pay/card")
    assert response.status_code == 303
    assert "Nothing is left to pay" in _text(browser.get(response.headers["Location"]))


def test_pay_by_card_starts_a_checkout_for_what_is_owed_and_sends_the_payer_there(app, db, bills, login_as,
                                                                                 monkeypatch):
    from app.services import stripe_gateway

    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    asked = []

    def start_checkout(session, invoice_id, amount, actor_id, now, billing, **kw):
        asked.append((invoice_id, amount, billing.stripe_secret_key, kw))
        return "https://checkout.stripe.test/c/pay/cs_test_portal"

    monkeypatch.setattr(stripe_gateway, "start_checkout", start_checkout)
    browser = login_as(bills.owner_login)
    browser.get("/clinic/language/vi")
    response = browser.post(f"/clinic/me/invoices/{bills.older}/pay/card")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://checkout.stripe.test/c/pay/cs_test_portal"
    older = _invoice(db, bills.older)
    [(invoice_id, amount, key, kw)] = asked
    assert invoice_id == bills.older and amount == older.total - 100000 and key == "sk_test_portal"
    assert kw["success_url"] == f"http://localhost/clinic/me/invoices/{bills.older}?paid=1"
    assert kw["cancel_url"] == f"http://localhost/clinic/me/invoices/{bills.older}"
    assert kw["locale"] == "vi" and kw["customer_email"].endswith("@patient.example")


def test_pay_by_card_for_real_through_the_stripe_library(app, db, bills, login_as, monkeypatch):
    """The card part (app.services.stripe_gateway, the ``stripe`` library) against a local server
    playing Stripe's API: the Checkout Session asks for what is owed and comes back to the invoice;
    a pending payment is recorded; Stripe failing leaves nothing written and says so."""
    from tests.test_stripe import FakeStripe

    stripe_api = FakeStripe()
    try:
        for key, value in {**PAY_CONFIG, "STRIPE_API_BASE": stripe_api.url}.items():
            monkeypatch.setitem(app.config, key, value)
        browser = login_as(bills.owner_login)
        browser.get("/clinic/language/vi")
        response = browser.post(f"/clinic/me/invoices/{bills.older}/pay/card")
        assert response.status_code == 303
        assert response.headers["Location"] == "https://checkout.stripe.com/c/pay/cs_test_a10001"
        [sent] = [r["form"] for r in stripe_api.requests if r["path"] == "/v1/checkout/sessions"]
        owed = _invoice(db, bills.older).total - 100000
        assert sent["line_items[0][price_data][unit_amount]"] == str(int(owed))
        assert sent["success_url"] == f"http://localhost/clinic/me/invoices/{bills.older}?paid=1"
        assert sent["locale"] == "vi" and sent["customer_email"].endswith("@patient.example")
        pending = [p for p in _payments(db, bills.older) if p.method == "card"]
        assert [(p.status, p.amount, p.provider_reference) for p in pending] == [("pending", owed, "cs_test_a10001")]
        assert _invoice(db, bills.older).amount_paid == 100000  # only the cash: the webhook settles the card

        stripe_api.mode = "500"
        response = browser.post(f"/clinic/me/invoices/{bills.newer}/pay/card")
        assert response.status_code == 303 and response.headers["Location"] == f"/clinic/me/invoices/{bills.newer}"
        assert "hiện chưa dùng được nên bạn chưa bị trừ tiền" in _text(browser.get(response.headers["Location"]))
        assert not _payments(db, bills.newer)
    finally:
        stripe_api.close()


def test_coming_back_from_the_checkout_never_marks_the_invoice_paid(app, db, bills, login_as, monkeypatch):
    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    browser = login_as(bills.owner_login)
    body = _text(browser.get(f"/clinic/me/invoices/{bills.newer}?paid=1"))
    assert "confirmation may take a moment" in body
    assert "pay/card" not in body  # no second payment offered while the first is being confirmed
    invoice = _invoice(db, bills.newer)
    assert invoice.status == "issued" and invoice.amount_paid == 0 and not _payments(db, bills.newer)
    again = _text(browser.get(f"/clinic/me/invoices/{bills.newer}"))
    assert "confirmation may take a moment" not in again and "pay/card" in again and "Unpaid" in again


def test_coming_back_after_the_webhook_says_paid(app, db, bills, login_as, clinic):
    clinic.pay(bills.newer, _invoice(db, bills.newer).total, "bank_transfer")  # as the webhook would settle it
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}?paid=1"))
    assert "Thank you: your payment was received." in body and "may take a moment" not in body


def test_pay_with_vnpay_sends_the_payer_to_vnpay(app, db, bills, login_as, monkeypatch):
    from app.services import vnpay

    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    asked = []

    def start_payment(session, invoice_id, amount, actor_id, now, billing, **kw):
        asked.append((invoice_id, amount, billing.vnpay_tmn_code, kw))
        return "https://sandbox.vnpayment.test/paymentv2/vpcpay.html?vnp_TxnRef=1"

    monkeypatch.setattr(vnpay, "start_payment", start_payment)
    browser = login_as(bills.owner_login)
    browser.get("/clinic/language/vi")
    response = browser.post(f"/clinic/me/invoices/{bills.newer}/pay/vnpay", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 303 and response.headers["Location"].startswith("https://sandbox.vnpayment.test/")
    [(invoice_id, amount, code, kw)] = asked
    assert invoice_id == bills.newer and amount == _invoice(db, bills.newer).total and code == "PORTAL01"
    assert kw == {"return_url": "http://localhost/pay/vnpay/return", "client_ip": "10.1.2.3", "locale": "vn"}


def test_pay_with_vnpay_for_real_records_a_pending_payment_and_signs_the_url(app, db, bills, login_as, monkeypatch):
    """VNPay's own part (app.services.vnpay) answers: the payer goes to VNPay's page with the amount
    owed in VNPay's units (x 100) and the return page; the invoice is not paid until the IPN."""
    from urllib.parse import parse_qs, urlsplit

    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    newer = _invoice(db, bills.newer)
    response = login_as(bills.owner_login).post(f"/clinic/me/invoices/{bills.newer}/pay/vnpay")
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.netloc == "sandbox.vnpayment.vn"
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query["vnp_Amount"] == str(int(newer.total) * 100) and query["vnp_TmnCode"] == "PORTAL01"
    assert query["vnp_ReturnUrl"] == "http://localhost/pay/vnpay/return" and query["vnp_SecureHash"]
    [pending] = _payments(db, bills.newer)
    assert pending.status == "pending" and pending.method == "vnpay" and pending.amount == newer.total
    assert _invoice(db, bills.newer).amount_paid == 0


@pytest.mark.parametrize("way, words", [("card", "Card payment"), ("vnpay", "Payment by VNPay")])
def test_a_provider_that_cannot_start_says_so_and_nothing_is_recorded(app, db, bills, login_as, monkeypatch, way,
                                                                      words):
    from app.services import stripe_gateway, vnpay
    from app.services.errors import ProviderUnavailable

    for key, value in PAY_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)

    def refuse(*args, **kwargs):
        raise ProviderUnavailable("connection refused")

    monkeypatch.setattr(stripe_gateway, "start_checkout", refuse)
    monkeypatch.setattr(vnpay, "start_payment", refuse)
    browser = login_as(bills.owner_login)
    response = browser.post(f"/clinic/me/invoices/{bills.newer}/pay/{way}")
    assert response.status_code == 303 and response.headers["Location"] == f"/clinic/me/invoices/{bills.newer}"
    body = _text(browser.get(response.headers["Location"]))
    assert f"{words} is not available just now, so nothing was charged" in body
    assert _invoice(db, bills.newer).amount_paid == 0 and not _payments(db, bills.newer)


def test_paying_needs_the_csrf_token_and_a_configured_provider(app, db, bills, login_as, monkeypatch):
    from app.services import stripe_gateway

    started = []
    monkeypatch.setattr(stripe_gateway, "start_checkout", lambda *a, **k: started.append(a) or "https://x")
    browser = login_as(bills.owner_login)
    assert browser.post(f"/clinic/me/invoices/{bills.newer}/pay/card").status_code == 404  # no Stripe key
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_portal")
    assert browser.post(f"/clinic/me/invoices/{bills.newer}/pay/card", csrf=False).status_code == 400
    assert not started
    assert browser.get(f"/clinic/me/invoices/{bills.newer}/pay/card").status_code == 405  # never on GET


# --- refunds with their reason and what was received, the bank's name, VAT 0 %, the wording ----

def test_a_refund_shows_its_reason_and_the_net_received(app, db, bills, login_as):
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.older}"))
    refund = _row(body[body.index('id="payments"'):], 'data-kind="refund"')
    assert "Reason: Thu thừa" in refund and "−" + _vnd(20000) in refund
    totals = body[body.index('class="pub-inv-totals"'):]
    totals = totals[:totals.index("</dl>")]
    assert "Net received" in totals and f'pub-inv-net">{_vnd(80000)}<' in totals

    vi = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.older}",
                                               headers={"Accept-Language": "vi"}))
    assert "Thực nhận" in vi and "Lý do: Thu thừa" in vi
    newer = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}"))
    assert "Net received" not in newer  # nothing given back: paid is what was received


def test_a_line_without_vat_shows_0_percent(app, db, bills, login_as):
    from app.extensions import db as _db
    from app.services import billing

    now = datetime.now(timezone.utc)
    settings = _billing(vat_rates={"service": Decimal(0), "lab": Decimal(0), "medicine": Decimal(5),
                                   "other": Decimal(0)})
    draft = billing.new_draft(_db.session, bills.owner, None, now, settings)
    _db.session.commit()
    billing.add_line(_db.session, draft.id, billing.LineInput(kind="other", description="Khám miễn thuế",
                                                              quantity=Decimal(1), unit_price=Decimal(90000),
                                                              reason="test"), None, now, settings,
                     may_change_price=False)
    invoice = billing.issue_invoice(_db.session, draft.id, None, now, settings, now.year).id
    for lang in ("en", "vi"):
        body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{invoice}",
                                                     headers={"Accept-Language": lang}))
        line = _row(body, "Khám miễn thuế")
        assert "0%" in line and "không có" not in line and ">none<" not in line


def test_the_bank_is_named_from_its_bin_and_the_wording_reads_naturally(app, db, bills, login_as, monkeypatch):
    for key, value in {**PAY_CONFIG, "VIETQR_BANK_NAME": "", "VIETQR_BANK_BIN": "970418"}.items():
        monkeypatch.setitem(app.config, key, value)
    body = _text(login_as(bills.owner_login).get(f"/clinic/me/invoices/{bills.newer}",
                                                 headers={"Accept-Language": "vi"}))
    account = body[body.index('class="pub-facts-inline pub-inv-account"'):]
    account = account[:account.index("</dl>")]
    assert "<dd>BIDV</dd>" in account
    assert "Hóa đơn sẽ chuyển sang đã thanh toán khi phòng khám xác nhận đã nhận tiền." in body
    assert "hiện là đã thanh toán" not in body
