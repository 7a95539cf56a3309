"""The e-invoice: the printable page, the PDF (text read back with pypdf: Vietnamese intact), who
may open them, and the e-mail with its PDF received by a real SMTP server on loopback (aiosmtpd),
a failing server, and the retry."""
from __future__ import annotations

import io
import re
import socket
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from flask_mail import Mail
from pypdf import PdfReader
from sqlalchemy import select

from app.services.vn_words import amount_in_words

TAX_CODE = "0312345678"
NAME = "Nguyễn Thị Hương"
ADDRESS = "45 Trần Hưng Đạo, Hoàn Kiếm, Hà Nội"
EMAIL = "huong@example.vn"
# 150 000 + 80 000 + 20 x 1 000 = 250 000, 10 % off (25 000), no VAT on free lines ("other" is 10 %)
LINES = (("Khám tổng quát", 1, 150000), ("Xét nghiệm công thức máu", 1, 80000), ("Paracetamol 500 mg (viên)", 20, 1000))


def _settings(**overrides):
    from app.services.billing_settings import BillingSettings

    values = dict(email_on_issue=False, email_on_payment=False, tax_code=TAX_CODE,
                  vat_rates={"service": Decimal(0), "lab": Decimal(0), "medicine": Decimal(5), "other": Decimal(0)})
    values.update(overrides)
    return BillingSettings(**values)


@pytest.fixture
def clinic_config(app, monkeypatch):
    for key, value in {"CLINIC_TAX_CODE": TAX_CODE, "APP_NAME": "Phòng khám Đa khoa An Bình",
                       "CLINIC_ADDRESS": "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh", "CLINIC_PHONE": "028 3822 1234",
                       "BILLING_VAT_OTHER": "0"}.items():
        monkeypatch.setitem(app.config, key, value)


def _patient(clinic, email: str | None = EMAIL, name: str = NAME, user_id: int | None = None) -> int:
    from app.models import Patient

    return clinic.save(Patient(full_name=name, phone="0912 345 678", email=email, address=ADDRESS, user_id=user_id))


def _invoice(app, patient_id: int, issue: bool = True, settings=None) -> int:
    from app.extensions import db
    from app.services import billing

    settings = settings or _settings()
    now = datetime.now(timezone.utc)
    with app.app_context():
        draft = billing.new_draft(db.session, patient_id, None, now, settings)
        db.session.commit()
        for description, quantity, price in LINES:
            billing.add_line(db.session, draft.id, billing.LineInput(
                kind="other", description=description, quantity=Decimal(quantity), unit_price=Decimal(price),
                reason="test"), None, now, settings, may_change_price=True)
        billing.set_discount(db.session, draft.id, "percent", "10", "Khách hàng thân thiết", None, now,
                             may_discount=True)
        if not issue:
            return draft.id
        return billing.issue_invoice(db.session, draft.id, None, now, settings, now.year).id


def _number(app, invoice_id: int) -> str:
    from app.extensions import db
    from app.models import Invoice

    with app.app_context():
        return db.session.get(Invoice, invoice_id).number


def _invoice_row(db, invoice_id: int):
    from app.models import Invoice

    db.session.expire_all()
    return db.session.get(Invoice, invoice_id)


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


WORDS = amount_in_words(225000)  # "Hai trăm hai mươi lăm nghìn đồng chẵn"


def test_pdf_has_the_words_the_patient_the_number_and_the_tax_code(db, clinic, clinic_config, login_as):
    invoice = _invoice(clinic.app, _patient(clinic))
    number = _number(clinic.app, invoice)
    cashier = login_as("cashier")
    response = cashier.get(f"/invoices/{invoice}/pdf?lang=vi")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert f'filename="{number}.pdf"' in response.headers["Content-Disposition"]
    text = _pdf_text(response.data)
    assert WORDS == "Hai trăm hai mươi lăm nghìn đồng chẵn"
    assert f"Bằng chữ: {WORDS}" in text
    assert NAME in text and ADDRESS in text  # diacritics intact
    assert number in text and TAX_CODE in text and "HÓA ĐƠN / INVOICE" in text
    assert "Phòng khám Đa khoa An Bình" in text
    assert "225.000 ₫" in text and "Mã số thuế" in text  # Vietnamese figures and labels
    assert "Khách hàng thân thiết" in text  # the discount's reason

    english = _pdf_text(cashier.get(f"/invoices/{invoice}/pdf?lang=en").data)
    assert "₫225,000" in english and "Tax code" in english
    assert f"In words (Bằng chữ): {WORDS}" in english  # the words stay Vietnamese


def test_print_page_shows_the_invoice_and_audits_the_read(db, clinic, clinic_config, login_as):
    invoice = _invoice(clinic.app, _patient(clinic))
    number = _number(clinic.app, invoice)
    page = login_as("cashier").get(f"/invoices/{invoice}/print", headers={"Accept-Language": "vi"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for expected in (NAME, number, TAX_CODE, WORDS, "Bằng chữ", "HÓA ĐƠN / INVOICE", "@media print",
                     f"/invoices/{invoice}/pdf", f"/invoices/{invoice}/email"):
        assert expected in html
    assert "DRAFT / NHÁP" not in html
    from app.models import AuditEvent

    reads = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "Invoice", AuditEvent.action == "read",
                                                        AuditEvent.entity_id == str(invoice))).scalars().all()
    assert reads


def test_a_draft_has_no_number_and_says_so(db, clinic, clinic_config, login_as):
    draft = _invoice(clinic.app, _patient(clinic), issue=False)
    cashier = login_as("cashier")
    html = cashier.get(f"/invoices/{draft}/print").get_data(as_text=True)
    assert "DRAFT / NHÁP" in html
    assert f"/invoices/{draft}/email" not in html  # nothing to send yet
    response = cashier.get(f"/invoices/{draft}/pdf")
    assert f"draft-{draft}.pdf" in response.headers["Content-Disposition"]
    assert "DRAFT / NHÁP" in _pdf_text(response.data)
    assert cashier.post(f"/invoices/{draft}/email").status_code == 409


@pytest.mark.parametrize("role", ["doctor", "pharmacist", "patient"])
def test_print_and_pdf_refused_without_billing_rights(db, clinic, clinic_config, login_as, role):
    invoice = _invoice(clinic.app, _patient(clinic))
    browser = login_as(role)
    for url in (f"/invoices/{invoice}/print", f"/invoices/{invoice}/pdf"):
        response = browser.get(url)
        assert response.status_code == 403, (role, url)
        assert NAME not in response.get_data(as_text=True)
    assert browser.post(f"/invoices/{invoice}/email").status_code == 403


def test_a_patient_reads_only_their_own_invoice(app, db, clinic, clinic_config):
    from app.services import invoice_document
    from app.services.access import CareAccessDenied

    user = app.appbuilder.sm.find_user(username="patient")
    own = _invoice(app, _patient(clinic, email="me@example.vn", name="Trần Văn Mình", user_id=user.id))
    other = _invoice(app, _patient(clinic))
    now = datetime.now(timezone.utc)
    assert invoice_document.open_for_reader(db.session, user, own, now).id == own
    with pytest.raises(CareAccessDenied):
        invoice_document.open_for_reader(db.session, user, other, now)


def test_unknown_invoice_is_404(db, clinic, login_as):
    cashier = login_as("cashier")
    assert cashier.get("/invoices/999999/print").status_code == 404
    assert cashier.get("/invoices/999999/pdf").status_code == 404


# ---- e-mail ---------------------------------------------------------------------------------------

class _Collector:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _use_smtp(app, monkeypatch, port: int) -> None:
    """Point the app's Flask-Mail at 127.0.0.1:``port`` (Flask-Mail reads its settings at init)."""
    settings = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_USE_TLS": False, "MAIL_USE_SSL": False,
                "MAIL_SUPPRESS_SEND": False, "MAIL_DEFAULT_SENDER": ("Phòng khám An Bình", "clinic@example.vn")}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.extensions, "mail", Mail().init_mail(settings))


@pytest.fixture
def smtp_server(app, monkeypatch):
    handler = _Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    _use_smtp(app, monkeypatch, controller.port)
    try:
        yield handler
    finally:
        controller.stop()


def _parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def _issue_with_mail(app, patient_id: int) -> int:
    return _invoice(app, patient_id, settings=_settings(email_on_issue=True))


def test_issuing_emails_the_invoice_in_vietnamese_with_its_pdf(db, clinic, clinic_config, smtp_server):
    invoice = _issue_with_mail(clinic.app, _patient(clinic))
    number = _number(clinic.app, invoice)
    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == [EMAIL]
    msg = _parse(envelope.original_content)
    assert number in msg["Subject"] and "Hóa đơn" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content().replace("\xa0", " ")
    html = msg.get_body(("html",)).get_content()
    assert f"Kính gửi {NAME}" in text and WORDS in text and "225.000 ₫" in text
    assert NAME in html and WORDS in html
    attachments = list(msg.iter_attachments())
    assert [(a.get_content_type(), a.get_filename()) for a in attachments] == [("application/pdf", f"{number}.pdf")]
    pdf_text = _pdf_text(attachments[0].get_content())
    assert NAME in pdf_text and f"Bằng chữ: {WORDS}" in pdf_text and "Mã số thuế" in pdf_text

    row = _invoice_row(db, invoice)
    assert (row.status, row.email_status, row.email_error, row.email_attempts) == ("issued", "sent", None, 1)
    assert row.emailed_at is not None


def test_an_english_reader_gets_english_and_a_payment_sends_the_receipt(db, clinic, clinic_config, smtp_server,
                                                                        monkeypatch):
    from app.models import UserProfile
    from app.services import payments

    user = clinic.app.appbuilder.sm.find_user(username="patient")
    db.session.add(UserProfile(user_id=user.id, language="en"))
    db.session.commit()
    patient = _patient(clinic, email=None, name="Trần Văn Mình", user_id=user.id)  # the login's address is used
    invoice = _issue_with_mail(clinic.app, patient)
    number = _number(clinic.app, invoice)
    first = _parse(smtp_server.envelopes[0].original_content)
    assert smtp_server.envelopes[0].rcpt_tos == ["patient@test.example"]
    assert first["Subject"].startswith(f"Invoice {number}")
    assert "Dear Trần Văn Mình" in first.get_body(("plain",)).get_content()

    monkeypatch.setitem(clinic.app.config, "BILLING_EMAIL_ON_PAYMENT", True)
    payments.record_payment(db.session, invoice, "cash", Decimal(225000), None, datetime.now(timezone.utc),
                            tendered=Decimal(300000))
    assert len(smtp_server.envelopes) == 2
    receipt = _parse(smtp_server.envelopes[1].original_content)
    assert receipt["Subject"].startswith(f"Payment received for invoice {number}")
    assert "paid in full" in receipt.get_body(("plain",)).get_content()
    assert "Paid" in _pdf_text(next(receipt.iter_attachments()).get_content())
    row = _invoice_row(db, invoice)
    assert (row.status, row.email_status, row.email_attempts) == ("paid", "sent", 2)


def test_a_failing_mail_server_leaves_the_invoice_issued_and_the_retry_sends_it(app, db, clinic, clinic_config,
                                                                               monkeypatch):
    port = _free_port()  # nothing listens there: the connection is refused
    _use_smtp(app, monkeypatch, port)
    invoice = _issue_with_mail(app, _patient(clinic))
    row = _invoice_row(db, invoice)
    assert row.status == "issued" and row.number
    assert row.email_status == "failed" and row.email_attempts == 1
    assert "Connection" in row.email_error or "refused" in row.email_error.lower()

    handler = _Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)  # the server is back
    controller.start()
    try:
        result = app.test_cli_runner().invoke(args=["billing", "retry-emails"])
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert "sent again: 1 of 1" in result.output
    assert len(handler.envelopes) == 1 and handler.envelopes[0].rcpt_tos == [EMAIL]
    row = _invoice_row(db, invoice)
    assert (row.email_status, row.email_error, row.email_attempts) == ("sent", None, 2)


def test_retries_stop_after_five_attempts(app, db, clinic, clinic_config, monkeypatch):
    from app.extensions import mail
    from app.services.invoice_mail import retry_failed_invoice_emails

    _use_smtp(app, monkeypatch, _free_port())
    invoice = _issue_with_mail(app, _patient(clinic))
    now = datetime.now(timezone.utc)
    for _ in range(6):
        retry_failed_invoice_emails(db.session, now, app.config, mail)
    row = _invoice_row(db, invoice)
    assert (row.email_status, row.email_attempts) == ("failed", 5)


def test_no_address_is_a_failure_with_its_reason(db, clinic, clinic_config, login_as):
    invoice = _issue_with_mail(clinic.app, _patient(clinic, email=None))
    row = _invoice_row(db, invoice)
    assert (row.status, row.email_status, row.email_error) == ("issued", "failed", "no e-mail address")
    page = login_as("cashier").get(f"/invoices/{invoice}/print").get_data(as_text=True)
    assert "no e-mail address" in page


def test_resend_on_demand_needs_csrf_then_sends(db, clinic, clinic_config, login_as, smtp_server):
    invoice = _invoice(clinic.app, _patient(clinic))
    cashier = login_as("cashier")
    refused = cashier.post(f"/invoices/{invoice}/email", csrf=False)
    assert refused.status_code == 400
    assert smtp_server.envelopes == [] and _invoice_row(db, invoice).email_attempts == 0

    print_url = f"http://localhost/invoices/{invoice}/print"
    response = cashier.post(f"/invoices/{invoice}/email", headers={"Referer": print_url})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/invoices/{invoice}/print")
    assert len(smtp_server.envelopes) == 1
    assert "sent to the patient" in cashier.get(f"/invoices/{invoice}/print").get_data(as_text=True)
    assert _invoice_row(db, invoice).email_status == "sent"

    elsewhere = cashier.post(f"/invoices/{invoice}/email", headers={"Referer": "https://evil.example/x"})
    assert elsewhere.headers["Location"].endswith(f"/cashier/invoice/{invoice}")
    assert len(smtp_server.envelopes) == 2


def test_the_vietqr_code_is_drawn_while_something_is_owed(db, clinic, clinic_config, login_as, monkeypatch):
    from app.services import vietqr

    for key, value in {"VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0071000123456",
                       "VIETQR_ACCOUNT_NAME": "PHONG KHAM AN BINH", "VIETQR_BANK_NAME": "Vietcombank"}.items():
        monkeypatch.setitem(clinic.app.config, key, value)
    seen = []
    real = vietqr.emv_payload

    def payload(billing, amount, reference):
        seen.append((amount, reference))
        return real(billing, amount, reference)

    monkeypatch.setattr(vietqr, "emv_payload", payload)
    invoice = _invoice(clinic.app, _patient(clinic))
    number = _number(clinic.app, invoice)
    cashier = login_as("cashier")
    html = cashier.get(f"/invoices/{invoice}/print").get_data(as_text=True)
    assert 'id="invoice-qr"' in html and "<svg" in html and "0071000123456" in html
    text = _pdf_text(cashier.get(f"/invoices/{invoice}/pdf").data)
    assert "0071000123456" in text and "Vietcombank" in text
    assert seen[-1] == (Decimal(225000), number)  # the exact amount owed, the number as reference

    clinic.pay(invoice, 225000)
    html = cashier.get(f"/invoices/{invoice}/print").get_data(as_text=True)
    assert 'id="invoice-qr"' not in html  # paid: nothing to scan
    assert "0071000123456" not in _pdf_text(cashier.get(f"/invoices/{invoice}/pdf").data)


@pytest.mark.needs_redis
def test_on_rq_the_send_is_a_message_job_retried_after_its_backoff(app, db, clinic, clinic_config, monkeypatch):
    """On RQ the invoice's e-mail is a message of the messaging core: one delivery job; with the
    mail server down the try is kept on the invoice and on the message, which waits for its
    backoff; once the server is back the retry sends it, and the invoice says so."""
    import uuid

    from redis import Redis
    from rq import Queue, SimpleWorker
    from rq.job import Job

    from app.models import OutboundMessage
    from app.services.messaging.delivery import deliver_message, due_message_ids
    from app.services.messaging.settings import MessagingSettings

    url, name = "redis://127.0.0.1:6379/15", f"test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    monkeypatch.setitem(app.config, "RQ_QUEUE", name)
    port = _free_port()
    _use_smtp(app, monkeypatch, port)  # the mail server is down
    connection = Redis.from_url(url)
    queue = Queue(name, connection=connection)
    try:
        invoice = _issue_with_mail(app, _patient(clinic))
        assert _invoice_row(db, invoice).email_status == "queued"  # on its way, not sent in the request
        [message] = db.session.query(OutboundMessage).filter_by(kind="invoice_issued").all()
        assert (message.status, message.recipient, message.params) == ("queued", EMAIL, {"invoice_id": invoice})
        [job_id] = queue.job_ids
        job = Job.fetch(job_id, connection=connection)
        assert (job.func_name, job.args) == ("app.jobs.messages.deliver", (message.id,))

        worker = SimpleWorker([queue], connection=connection)
        worker.work(burst=True)
        connection.delete(worker.key)
        row = _invoice_row(db, invoice)
        assert (row.status, row.email_status, row.email_attempts) == ("issued", "failed", 1)
        db.session.expire_all()
        message = db.session.get(OutboundMessage, message.id)
        assert (message.status, message.attempts) == ("queued", 1) and message.last_error == row.email_error
        settings = MessagingSettings.from_config(app.config)
        assert message.id not in due_message_ids(db.session, datetime.now(timezone.utc), settings)

        handler = _Collector()
        controller = Controller(handler, hostname="127.0.0.1", port=port)  # the server is back
        controller.start()
        try:
            later = message.not_before + timedelta(seconds=1)
            assert message.id in due_message_ids(db.session, later, settings)  # the sweep hands it back
            assert deliver_message(db.session, message.id, app.config, now=later) == "sent"
        finally:
            controller.stop()
        assert [e.rcpt_tos for e in handler.envelopes] == [[EMAIL]]
        row = _invoice_row(db, invoice)
        assert (row.email_status, row.email_error, row.email_attempts) == ("sent", None, 2)
    finally:
        for registry in (queue.finished_job_registry, queue.failed_job_registry, queue.scheduled_job_registry):
            for job_id in registry.get_job_ids():
                Job.fetch(job_id, connection=connection).delete()
        queue.delete(delete_jobs=True)
        connection.close()


# --- refunds, the bank's name, the e-mail again, the recipient, void, the discount's rate -------

def _paid_and_refunded(clinic) -> tuple[int, str]:
    """225 000 paid as 100 000 + 125 000 in cash, then 50 000 of the second given back."""
    from app.extensions import db
    from app.services import payments

    invoice = _invoice(clinic.app, _patient(clinic))
    clinic.pay(invoice, 100000)
    second = clinic.pay(invoice, 125000)
    with clinic.app.app_context():
        payments.refund_payment(db.session, second, Decimal(50000), "Thu nhầm phí xét nghiệm", None,
                                datetime.now(timezone.utc), _settings())
    return invoice, _number(clinic.app, invoice)


def test_refunds_and_what_was_received_are_on_the_page_and_the_pdf(db, clinic, clinic_config, login_as):
    invoice, _no = _paid_and_refunded(clinic)
    cashier = login_as("cashier")
    html = cashier.get(f"/invoices/{invoice}/print?lang=vi").get_data(as_text=True).replace("\xa0", " ")
    refunds = html[html.index('id="invoice-refunds"'):]
    refunds = refunds[:refunds.index("</table>")]
    assert "Thu nhầm phí xét nghiệm" in refunds and "-50.000 ₫" in refunds and "Tiền mặt" in refunds
    assert "Thực nhận" in html and 'id="invoice-net">175.000 ₫<' in html
    assert 'id="invoice-paid">225.000 ₫<' in html and 'id="invoice-refunded">-50.000 ₫<' in html
    assert 'id="invoice-balance">0 ₫<' in html  # a refund does not make the invoice owed again

    text = _pdf_text(cashier.get(f"/invoices/{invoice}/pdf?lang=vi").data)
    assert "Thu nhầm phí xét nghiệm" in text and "Thực nhận" in text and "175.000 ₫" in text
    english = _pdf_text(cashier.get(f"/invoices/{invoice}/pdf?lang=en").data)
    assert "Net received" in english and "₫175,000" in english and "Refunds" in english


def test_e_mail_again_sends_the_invoice_as_it_stands_with_its_refunds(db, clinic, clinic_config, login_as,
                                                                      smtp_server):
    invoice, number = _paid_and_refunded(clinic)
    before = len(smtp_server.envelopes)  # the payments' own receipts
    response = login_as("cashier").post(f"/invoices/{invoice}/email")
    assert response.status_code == 302
    [envelope] = smtp_server.envelopes[before:]
    msg = _parse(envelope.original_content)
    assert msg["Subject"].startswith(f"Hóa đơn {number}")  # the invoice, not the last payment's receipt
    text = msg.get_body(("plain",)).get_content().replace("\xa0", " ")
    assert "Thanh toán" not in msg["Subject"]
    assert "Thu nhầm phí xét nghiệm" in text and "-50.000 ₫" in text
    assert "Thực nhận: 175.000 ₫" in text and "100.000 ₫" in text and "125.000 ₫" in text
    html = msg.get_body(("html",)).get_content().replace("\xa0", " ")
    assert "Thu nhầm phí xét nghiệm" in html and "Thực nhận" in html and "175.000 ₫" in html
    pdf_text = _pdf_text(next(msg.iter_attachments()).get_content())
    assert "Thực nhận" in pdf_text and "Thu nhầm phí xét nghiệm" in pdf_text


def test_the_payment_e_mail_shows_the_refund_and_net(db, clinic, clinic_config, smtp_server):
    from app.extensions import db as _db
    from app.services import invoice_mail

    invoice, _no = _paid_and_refunded(clinic)
    with clinic.app.app_context():
        outcome = invoice_mail.send_invoice_email(_db.session, invoice, "paid", clinic.app.config,
                                                  clinic.app.extensions["mail"])
    assert outcome.status == "sent"
    text = _parse(smtp_server.envelopes[-1].original_content).get_body(("plain",)).get_content().replace("\xa0", " ")
    assert "Đã hoàn: -50.000 ₫" in text and "Thực nhận: 175.000 ₫" in text


def test_the_bank_is_named_from_its_bin(db, clinic, clinic_config, login_as, monkeypatch):
    for key, value in {"VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0071000123456",
                       "VIETQR_ACCOUNT_NAME": "PHONG KHAM AN BINH", "VIETQR_BANK_NAME": ""}.items():
        monkeypatch.setitem(clinic.app.config, key, value)
    invoice = _invoice(clinic.app, _patient(clinic))
    cashier = login_as("cashier")
    html = cashier.get(f"/invoices/{invoice}/print?lang=vi").get_data(as_text=True)
    assert "Ngân hàng: Vietcombank" in html and "970436" not in html.split('id="invoice-qr"')[1].split("</svg>")[-1]
    text = _pdf_text(cashier.get(f"/invoices/{invoice}/pdf?lang=vi").data)
    assert "Ngân hàng: Vietcombank" in text and "Ngân hàng: 970436" not in text


def test_the_print_page_says_where_the_e_mail_goes(db, clinic, clinic_config, login_as):
    cashier = login_as("cashier")
    invoice = _invoice(clinic.app, _patient(clinic))
    html = cashier.get(f"/invoices/{invoice}/print?lang=en").get_data(as_text=True)
    assert f"E-mail goes to: {EMAIL}" in html
    assert re.search(r'<button type="submit" id="email-button">', html)

    nowhere = _invoice(clinic.app, _patient(clinic, email=None))
    html = cashier.get(f"/invoices/{nowhere}/print?lang=vi").get_data(as_text=True)
    assert "Chưa có địa chỉ e-mail" in html
    assert re.search(r'<button type="submit" id="email-button" disabled', html)


def test_recipient_address_is_the_record_then_the_login(db, clinic, clinic_config):
    from app.extensions import db as _db
    from app.models import Invoice
    from app.services.invoice_mail import recipient_address

    user = clinic.app.appbuilder.sm.find_user(username="patient")
    login = _invoice(clinic.app, _patient(clinic, email=None, user_id=user.id))
    own = _invoice(clinic.app, _patient(clinic))
    none = _invoice(clinic.app, _patient(clinic, email=None))
    with clinic.app.app_context():
        assert recipient_address(_db.session, _db.session.get(Invoice, own)) == EMAIL
        assert recipient_address(_db.session, _db.session.get(Invoice, login)) == "patient@test.example"
        assert recipient_address(_db.session, _db.session.get(Invoice, none)) is None


def test_a_void_invoice_says_so_and_is_not_sent(db, clinic, clinic_config, login_as, smtp_server, monkeypatch):
    from app.extensions import db as _db
    from app.services import billing

    for key, value in {"VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0071000123456"}.items():
        monkeypatch.setitem(clinic.app.config, key, value)
    invoice = _invoice(clinic.app, _patient(clinic))
    with clinic.app.app_context():
        billing.void_invoice(_db.session, invoice, "Lập trùng hóa đơn", None, datetime.now(timezone.utc))
    cashier = login_as("cashier")
    html = cashier.get(f"/invoices/{invoice}/print?lang=vi").get_data(as_text=True)
    assert 'id="invoice-void"' in html and "VOID / ĐÃ HỦY" in html and "Lập trùng hóa đơn" in html
    assert 'id="invoice-balance"' not in html and 'id="invoice-qr"' not in html and 'id="email-button"' not in html
    text = _pdf_text(cashier.get(f"/invoices/{invoice}/pdf?lang=vi").data)
    assert "VOID / ĐÃ HỦY" in text and "Lập trùng hóa đơn" in text
    assert "Còn phải trả" not in text and "0071000123456" not in text

    refused = cashier.post(f"/invoices/{invoice}/email")
    assert refused.status_code == 409
    assert smtp_server.envelopes == []


def test_a_percent_discount_shows_its_rate(db, clinic, clinic_config, login_as):
    invoice = _invoice(clinic.app, _patient(clinic))
    cashier = login_as("cashier")
    html = cashier.get(f"/invoices/{invoice}/print?lang=vi").get_data(as_text=True)
    assert "Giảm giá (10%)" in html and "Khách hàng thân thiết" in html
    assert "Discount (10%)" in _pdf_text(cashier.get(f"/invoices/{invoice}/pdf?lang=en").data)
    assert "Giảm giá (10%)" in _pdf_text(cashier.get(f"/invoices/{invoice}/pdf?lang=vi").data)
