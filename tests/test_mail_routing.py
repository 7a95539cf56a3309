"""Account and invoice e-mails go through the messaging core: each one is an ``OutboundMessage``
(the delivery dashboard's row) with its status; a mail server that is down leaves the message
queued for its retry while the request answers as usual; a link's token is never readable on the
row (sealed while waiting, gone once sent, masked in the kept text)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import OutboundMessage
from app.services import account_mail
from app.services.messaging import channels
from app.services.messaging.delivery import deliver_message, due_message_ids, resend_message
from app.services.messaging.settings import MessagingSettings
from tests.outbox import body, empty_outbox, mails_to  # noqa: F401  (empty_outbox: autouse)
from tests.test_signup import GOOD_PASSWORD, link_in, new_email, sign_up


def _messages(app, recipient: str) -> list[OutboundMessage]:
    from app.extensions import db

    with app.app_context():
        rows = list(db.session.execute(select(OutboundMessage).where(OutboundMessage.recipient == recipient)
                                       .order_by(OutboundMessage.id)).scalars())
        for row in rows:
            db.session.expunge(row)
    return rows


def _row_text(message: OutboundMessage) -> str:
    """Everything the dashboard could show of a row."""
    return " ".join(str(value) for value in (message.subject, message.body, json.dumps(message.params),
                                             message.last_error, message.provider_ref))


@pytest.fixture
def server_down(monkeypatch):
    """The e-mail adapter answers as when the SMTP server refuses the connection."""
    calls = []

    def refuse(self, recipient, rendered, key):
        calls.append(recipient)
        raise channels.TemporaryFailure("ConnectionRefusedError: [Errno 111] Connection refused")

    monkeypatch.setattr(channels.EmailSender, "send", refuse)
    return calls


def _deliver_later(app, message_id: int) -> str:
    """What the sweep does once the backoff is over."""
    from app.extensions import db

    later = datetime.now(timezone.utc) + timedelta(hours=2)
    with app.app_context():
        assert message_id in due_message_ids(db.session, later, MessagingSettings.from_config(app.config))
        return deliver_message(db.session, message_id, app.config, now=later)


# --- account e-mails -----------------------------------------------------------------------------


def test_a_sign_up_confirmation_is_one_sent_message_without_its_token(app):
    email = new_email()
    assert sign_up(app.test_client(), email).status_code == 200
    [mail] = mails_to(app, email)
    token = link_in(mail).rsplit("/", 1)[1]
    [message] = _messages(app, email)
    assert (message.channel, message.kind, message.status, message.attempts) == ("email", "account_confirm", "sent", 1)
    assert message.subject == mail["Subject"] and "Confirm your e-mail address" in message.subject
    assert token not in _row_text(message) and "sealed" not in message.params
    assert f"/clinic/confirm/{account_mail.MASK}" in message.body  # what was sent, the token masked
    # the mail itself carries the working link
    guest = app.test_client()
    assert guest.get(f"/clinic/confirm/{token}").status_code == 200


def test_a_sign_up_with_a_taken_address_is_a_message_too(app):
    sign_up(app.test_client(), "receptionist@test.example")
    kinds = [(m.kind, m.status) for m in _messages(app, "receptionist@test.example")]
    assert ("account_exists", "sent") in kinds


def test_sign_up_with_the_mail_server_down_answers_and_the_retry_sends_a_working_link(app, server_down,
                                                                                      monkeypatch):
    email = new_email()
    response = sign_up(app.test_client(), email)
    assert response.status_code == 200 and email in response.get_data(as_text=True)  # the usual answer
    assert server_down == [email] and mails_to(app, email) == []
    [message] = _messages(app, email)
    assert (message.status, message.attempts) == ("queued", 1) and "Connection refused" in message.last_error
    assert message.not_before is not None and message.body is None
    sealed = message.params["sealed"]
    assert account_mail.TOKEN_PLACEHOLDER in message.params["link"]
    waiting = _row_text(message)

    monkeypatch.undo()  # the server is back
    assert _deliver_later(app, message.id) == "sent"
    [mail] = mails_to(app, email)
    token = link_in(mail).rsplit("/", 1)[1]
    with app.app_context():
        assert account_mail.unseal(app.config, sealed) == token  # it was that token, sealed
    assert token not in waiting  # not readable while it waited
    [message] = _messages(app, email)
    assert message.status == "sent" and "sealed" not in message.params and token not in _row_text(message)
    guest = app.test_client()
    guest.get(f"/clinic/confirm/{token}")
    assert guest.post(f"/clinic/confirm/{token}").status_code == 302  # the link works


def test_password_reset_same_answer_one_message_and_server_down_is_no_error(app, server_down, monkeypatch):
    from tests.test_passwords import make_user

    username, user_id = make_user(app, "Patient", password=GOOD_PASSWORD)
    known, unknown = f"{username}@staff.example", new_email()
    answers = []
    for address in (known, unknown):
        client = app.test_client()
        response = client.post("/clinic/password/forgot", data={"email": address})
        answers.append((response.status_code, response.get_data(as_text=True).replace(address, "ADDRESS")))
    answers = [(status, re.sub(r'value="[^"]*"', "", html)) for status, html in answers]
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert _messages(app, unknown) == []
    [message] = _messages(app, known)
    assert (message.kind, message.status, message.user_id) == ("password_reset", "queued", user_id)

    monkeypatch.undo()
    assert _deliver_later(app, message.id) == "sent"
    url = link_in(mails_to(app, known)[-1])
    assert "/clinic/password/reset/" in url and app.test_client().get(url).status_code == 200
    [message] = _messages(app, known)
    assert url.rsplit("/", 1)[1] not in _row_text(message)


def test_a_link_replaced_before_its_message_could_go_is_not_sent(app, server_down, monkeypatch):
    """Two resets while the server is down: the first link was replaced by the second, so its
    message is skipped (a dead link is not mailed) and its sealed token leaves the row."""
    from tests.test_passwords import make_user

    username, _user_id = make_user(app, "Patient", password=GOOD_PASSWORD)
    known = f"{username}@staff.example"
    for _ in range(2):
        app.test_client().post("/clinic/password/forgot", data={"email": known})
    first, second = _messages(app, known)
    monkeypatch.undo()
    assert _deliver_later(app, first.id) == "skipped"
    assert _deliver_later(app, second.id) == "sent"
    first, second = _messages(app, known)
    assert (first.status, first.skip_reason, "sealed" in first.params) == ("skipped", "gone", False)
    assert len(mails_to(app, known)) == 1 and app.test_client().get(link_in(mails_to(app, known)[0])).status_code == 200
    # the dashboard's resend cannot bring a withdrawn token back: skipped again, nothing mailed
    from app.extensions import db

    with app.app_context():
        db.session.execute(OutboundMessage.__table__.update().where(OutboundMessage.id == first.id)
                           .values(status="failed", skip_reason=None))
        db.session.commit()
        resend_message(db.session, first.id, actor_id=None)
        assert deliver_message(db.session, first.id, app.config) == "skipped"
    assert len(mails_to(app, known)) == 1


def test_a_failed_link_message_keeps_its_token_sealed_for_a_resend(app, monkeypatch):
    """Refused for good (a 5xx): failed, the token still sealed (never readable) so that staff can
    send it again from the dashboard; then it goes with a working link and the token leaves."""
    from app.extensions import db

    def refuse(self, recipient, rendered, key):
        raise channels.PermanentFailure("SMTP 554: b'relay refused'")

    monkeypatch.setattr(channels.EmailSender, "send", refuse)
    email = new_email()
    assert sign_up(app.test_client(), email).status_code == 200
    [message] = _messages(app, email)
    assert message.status == "failed" and "sealed" in message.params and message.body is None
    monkeypatch.undo()
    with app.app_context():
        resend_message(db.session, message.id, actor_id=None)
        assert deliver_message(db.session, message.id, app.config) == "sent"
    token = link_in(mails_to(app, email)[-1]).rsplit("/", 1)[1]
    [message] = _messages(app, email)
    assert "sealed" not in message.params and token not in _row_text(message)
    assert app.test_client().get(f"/clinic/confirm/{token}").status_code == 200


def test_the_lockout_notice_is_a_message(app, monkeypatch):
    from tests.test_lockout import WRONG, form_login

    with app.app_context():
        sm = app.appbuilder.sm
        name = f"lockmsg_{new_email()[3:11]}"
        user = sm.add_user(name, "Lan", "Nguyễn", f"{name}@test.example", sm.find_role("Receptionist"),
                           password="Another-Passw0rd!")
        user_id = user.id
    for _ in range(6):
        form_login(app, name, WRONG)
    [message] = _messages(app, f"{name}@test.example")
    assert (message.kind, message.status, message.user_id) == ("account_locked", "sent", user_id)
    assert "Your clinic account was locked" in message.subject and "Lan Nguyễn" in message.body
    [mail] = mails_to(app, f"{name}@test.example")
    assert mail["Subject"] == message.subject


def test_the_lockout_answer_is_the_same_when_the_mail_server_is_down(app, server_down):
    from tests.test_lockout import WRONG, form_login

    with app.app_context():
        sm = app.appbuilder.sm
        name = f"lockdown_{new_email()[3:11]}"
        sm.add_user(name, "Lan", "Nguyễn", f"{name}@test.example", sm.find_role("Receptionist"),
                    password="Another-Passw0rd!")
    answers = {form_login(app, name, WRONG)[:3] for _ in range(6)}
    assert len(answers) == 1 and next(iter(answers))[0] != 500
    [message] = _messages(app, f"{name}@test.example")
    assert (message.kind, message.status) == ("account_locked", "queued")


def test_an_email_change_sends_three_messages_the_link_masked(app):
    from tests.test_profile import LINK as CHANGE_LINK, bearer, make_user

    me = make_user(app)
    new = f"moi.{new_email()[3:11]}@mail.example"
    answer = app.test_client().patch("/api/v1/me", headers=bearer(app, me["username"]), json={"email": new})
    assert answer.status_code == 200
    [change] = _messages(app, new)
    link = CHANGE_LINK.search(body(mails_to(app, new)[-1])).group(1)
    assert (change.kind, change.status) == ("email_change", "sent")
    assert link.rsplit("/", 1)[1] not in _row_text(change) and account_mail.MASK in change.body
    assert [(m.kind, m.status) for m in _messages(app, me["email"])] == [("email_change_notice", "sent")]
    guest = app.test_client()
    guest.get(link)
    assert guest.post(link).status_code == 302
    assert [m.kind for m in _messages(app, me["email"])] == ["email_change_notice", "email_changed"]


# --- invoice e-mails -----------------------------------------------------------------------------


@pytest.fixture
def invoices(app, db, clinic, monkeypatch):
    from tests import test_invoice_documents as docs

    for key, value in {"CLINIC_TAX_CODE": docs.TAX_CODE, "APP_NAME": "Phòng khám Đa khoa An Bình",
                       "BILLING_VAT_OTHER": "0"}.items():
        monkeypatch.setitem(app.config, key, value)
    return docs


def _invoice_messages(db, invoice_id: int) -> list[OutboundMessage]:
    db.session.expire_all()
    return list(db.session.execute(select(OutboundMessage).where(
        OutboundMessage.dedupe_key.startswith(f"invoice:{invoice_id}:")).order_by(OutboundMessage.id)).scalars())


def test_issued_and_paid_invoices_are_messages_in_step_with_the_invoice(app, db, clinic, invoices, monkeypatch):
    from app.services import payments

    monkeypatch.setitem(app.config, "BILLING_EMAIL_ON_PAYMENT", True)
    patient = invoices._patient(clinic)
    invoice = invoices._invoice(app, patient, settings=invoices._settings(email_on_issue=True))
    [issued] = _invoice_messages(db, invoice)
    row = invoices._invoice_row(db, invoice)
    assert (issued.kind, issued.status, issued.recipient, issued.patient_id) == (
        "invoice_issued", "sent", invoices.EMAIL, patient)
    assert (row.email_status, row.email_attempts, row.emailed_at) == ("sent", 1, issued.sent_at)
    assert row.number in issued.subject
    [mail] = mails_to(app, invoices.EMAIL)
    assert [a.get_filename() for a in mail.iter_attachments()] == [f"{row.number}.pdf"]

    payments.record_payment(db.session, invoice, "cash", Decimal(225000), None, datetime.now(timezone.utc),
                            tendered=Decimal(300000))
    kinds = [(m.kind, m.status) for m in _invoice_messages(db, invoice)]
    assert kinds == [("invoice_issued", "sent"), ("invoice_paid", "sent")]
    assert invoices._invoice_row(db, invoice).email_attempts == 2


def test_an_invoice_without_an_address_is_a_skipped_message(app, db, clinic, invoices):
    invoice = invoices._invoice(app, invoices._patient(clinic, email=None),
                                settings=invoices._settings(email_on_issue=True))
    [message] = _invoice_messages(db, invoice)
    assert (message.status, message.skip_reason) == ("skipped", "no_address")
    row = invoices._invoice_row(db, invoice)
    assert (row.email_status, row.email_error, row.email_attempts) == ("failed", "no e-mail address", 1)


def test_issuing_with_the_mail_server_down_answers_and_the_message_waits(app, db, clinic, invoices, login_as,
                                                                         server_down, monkeypatch):
    """The cashier issues at the counter while the server is down: no error page; the invoice is
    issued, its e-mail failed once (shown at the counter) and queued for a retry on the dashboard;
    the retry sends it and the invoice says so."""
    monkeypatch.setitem(app.config, "BILLING_EMAIL_ON_ISSUE", True)
    draft = invoices._invoice(app, invoices._patient(clinic), issue=False)
    cashier = login_as("cashier")
    response = cashier.post(f"/cashier/invoice/{draft}/issue")
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    row = invoices._invoice_row(db, draft)
    assert (row.status, row.email_status, row.email_attempts) == ("issued", "failed", 1)
    assert "Connection refused" in row.email_error
    [message] = _invoice_messages(db, draft)
    assert (message.status, message.attempts, message.last_error) == ("queued", 1, row.email_error)

    monkeypatch.undo()
    assert _deliver_later(app, message.id) == "sent"
    row = invoices._invoice_row(db, draft)
    assert (row.email_status, row.email_error, row.email_attempts) == ("sent", None, 2)
    assert len(mails_to(app, invoices.EMAIL)) == 1


def test_a_failed_invoice_message_resent_from_the_dashboard_updates_the_invoice(app, db, clinic, invoices,
                                                                               monkeypatch):
    def refuse(self, recipient, rendered, key):
        raise channels.PermanentFailure("550 mailbox unavailable")

    monkeypatch.setattr(channels.EmailSender, "send", refuse)
    invoice = invoices._invoice(app, invoices._patient(clinic), settings=invoices._settings(email_on_issue=True))
    [message] = _invoice_messages(db, invoice)
    assert message.status == "failed"
    assert invoices._invoice_row(db, invoice).email_status == "failed"
    monkeypatch.undo()
    resend_message(db.session, message.id, actor_id=None)
    assert deliver_message(db.session, message.id, app.config) == "sent"
    row = invoices._invoice_row(db, invoice)
    assert (row.email_status, row.email_error, row.email_attempts) == ("sent", None, 2)
