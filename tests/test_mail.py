"""send_email: outbox files without a mail server, and real SMTP delivery to an aiosmtpd server."""
from __future__ import annotations

import socket
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask_mail import Mail

from app.services.errors import ValidationFailed
from app.services.mail import send_email

SUBJECT = "Nhắc lịch hẹn khám: thứ Hai, 09:30"
BODY = "Kính gửi bà Nguyễn Thị Hương,\nLịch khám của bà với bác sĩ Trần Văn Đức là 09:30 thứ Hai."
HTML = "<p>Kính gửi bà <b>Nguyễn Thị Hương</b></p>"


def _parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def _text(part) -> str:
    """Decoded text of a MIME part, with line ends normalised (CRLF on the wire)."""
    return part.get_content().replace("\r\n", "\n").rstrip("\n")


def test_outbox_writes_a_parseable_eml(tmp_path):
    outbox = tmp_path / "deep" / "outbox"  # created on demand
    config = {"MAIL_SERVER": "", "MAIL_OUTBOX_DIR": str(outbox),
              "MAIL_DEFAULT_SENDER": ("Phòng khám An Bình", "clinic@example.vn")}
    path = send_email(config, Mail(), to=["huong@example.vn", "duc@example.vn"], subject=SUBJECT, body=BODY, html=HTML)

    path = Path(path)
    assert path.parent == outbox and path.suffix == ".eml"
    assert [p.name for p in outbox.iterdir()] == [path.name]  # no temporary file left behind
    raw = path.read_bytes()
    raw.decode("ascii")  # headers encoded (RFC 2047), bodies transfer-encoded: 7-bit clean file
    assert b"\r\n" in raw
    msg = _parse(raw)
    assert msg["Subject"] == SUBJECT
    assert parseaddr(msg["From"]) == ("Phòng khám An Bình", "clinic@example.vn")
    assert [a.addr_spec for a in msg["To"].addresses] == ["huong@example.vn", "duc@example.vn"]
    assert msg["Date"].datetime.tzinfo is not None
    assert msg["Message-ID"].endswith("@example.vn>")
    assert _text(msg.get_body(("plain",))) == BODY
    assert _text(msg.get_body(("html",))) == HTML


def test_outbox_plain_text_only_and_bad_input(tmp_path):
    config = {"MAIL_OUTBOX_DIR": str(tmp_path), "MAIL_DEFAULT_SENDER": "clinic@localhost"}
    msg = _parse(Path(send_email(config, Mail(), to=["a@b.vn"], subject="Xin chào", body="Dạ")).read_bytes())
    assert not msg.is_multipart() and _text(msg) == "Dạ"
    with pytest.raises(ValidationFailed):
        send_email(config, Mail(), to=[], subject="x", body="y")
    with pytest.raises(ValidationFailed):
        send_email(config, Mail(), to=["a@b.vn"], subject="x\r\nBcc: evil@example.com", body="y")


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


@pytest.fixture
def smtp_server():
    handler = _Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def test_smtp_mode_delivers_through_flask_mail(smtp_server, tmp_path):
    controller, handler = smtp_server
    app = Flask(__name__)
    # Flask-Mail reads MAIL_SUPPRESS_SEND and TESTING only at init_app: set them before Mail(app).
    app.config.update(
        TESTING=True, MAIL_SUPPRESS_SEND=False, MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port,
        MAIL_USE_TLS=False, MAIL_DEFAULT_SENDER="clinic@example.vn", MAIL_OUTBOX_DIR=str(tmp_path / "outbox"),
    )
    mail = Mail(app)
    with app.app_context():
        message_id = send_email(app.config, mail, to=["huong@example.vn"], subject=SUBJECT, body=BODY, html=HTML)

    assert not (tmp_path / "outbox").exists()
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.mail_from == "clinic@example.vn"
    assert envelope.rcpt_tos == ["huong@example.vn"]
    msg = _parse(envelope.original_content)
    assert msg["Message-ID"] == message_id
    assert msg["Subject"] == SUBJECT
    assert _text(msg.get_body(("plain",))) == BODY
    assert _text(msg.get_body(("html",))) == HTML


PDF = b"%PDF-1.4\n% fake invoice \xe2\x82\xab\n%%EOF\n"


def test_outbox_keeps_attachments_after_the_text_and_html(tmp_path):
    config = {"MAIL_OUTBOX_DIR": str(tmp_path), "MAIL_DEFAULT_SENDER": "clinic@localhost"}
    path = send_email(config, Mail(), to=["huong@example.vn"], subject=SUBJECT, body=BODY, html=HTML,
                      attachments=[("HD2026-000001.pdf", "application/pdf", PDF)])
    msg = _parse(Path(path).read_bytes())
    assert msg.get_content_type() == "multipart/mixed"
    assert _text(msg.get_body(("plain",))) == BODY and _text(msg.get_body(("html",))) == HTML
    [attachment] = list(msg.iter_attachments())
    assert (attachment.get_content_type(), attachment.get_filename()) == ("application/pdf", "HD2026-000001.pdf")
    assert attachment.get_content() == PDF
    with pytest.raises(ValidationFailed):
        send_email(config, Mail(), to=["a@b.vn"], subject="x", body="y", attachments=[("a.pdf", "pdf", PDF)])


def test_smtp_mode_sends_attachments(smtp_server, tmp_path):
    controller, handler = smtp_server
    app = Flask(__name__)
    app.config.update(TESTING=True, MAIL_SUPPRESS_SEND=False, MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port,
                      MAIL_USE_TLS=False, MAIL_DEFAULT_SENDER="clinic@example.vn")
    mail = Mail(app)
    with app.app_context():
        send_email(app.config, mail, to=["huong@example.vn"], subject=SUBJECT, body=BODY, html=HTML,
                   attachments=[("Hóa đơn.pdf", "application/pdf", PDF)])
    msg = _parse(handler.envelopes[0].original_content)
    assert _text(msg.get_body(("plain",))) == BODY and _text(msg.get_body(("html",))) == HTML
    [attachment] = list(msg.iter_attachments())
    assert (attachment.get_content_type(), attachment.get_filename()) == ("application/pdf", "Hóa đơn.pdf")
    assert attachment.get_content() == PDF


class _PipeliningServer(_Collector):
    """Offers PIPELINING (as Postfix, Exim and Amazon SES do); refuses the sender or recipients
    named ``refuse-...``; notes whether the client's next commands had arrived with its MAIL."""

    def __init__(self):
        super().__init__()
        self.sent_ahead: list[bool] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        self.sent_ahead.append(b"DATA" in bytes(server._reader._buffer))  # RCPT and DATA came with MAIL
        if address.startswith("refuse-"):
            return "550 sender not accepted"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("refuse-"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if b"refuse-this-message" in envelope.original_content:
            return "554 message refused"
        return await super().handle_DATA(server, session, envelope)


def test_a_server_offering_pipelining_gets_the_envelope_in_one_write_and_every_refusal_is_smtplibs():
    import smtplib

    from app.services.mail import sendmail

    handler = _PipeliningServer()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    body = b"Subject: x\r\n\r\nD\xc3\xB2ng 1\r\n.leading dot\r\n.\r\nend"
    try:
        with smtplib.SMTP("127.0.0.1", controller.port) as host:
            refused = sendmail(host, "clinic@example.vn", ["huong@example.vn", "refuse-x@example.vn"], body)
            assert refused == {"refuse-x@example.vn": (550, b"no such mailbox")}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                sendmail(host, "clinic@example.vn", ["refuse-a@example.vn", "refuse-b@example.vn"], body)
            with pytest.raises(smtplib.SMTPSenderRefused):
                sendmail(host, "refuse-me@example.vn", ["huong@example.vn"], body)
            with pytest.raises(smtplib.SMTPDataError):
                sendmail(host, "clinic@example.vn", ["huong@example.vn"], body + b"\r\nrefuse-this-message")
            # after every refusal the session is reset and takes the next message
            assert sendmail(host, "clinic@example.vn", ["an@example.vn"], b"Subject: y\r\n\r\nhi") == {}
    finally:
        controller.stop()
    assert handler.sent_ahead == [True] * 5
    delivered = [(e.mail_from, e.rcpt_tos) for e in handler.envelopes]
    assert delivered == [("clinic@example.vn", ["huong@example.vn"]), ("clinic@example.vn", ["an@example.vn"])]
    # dot-stuffed on the wire and unstuffed by the server: the message arrives as written
    assert handler.envelopes[0].original_content.rstrip(b"\r\n") == body


def test_a_server_without_pipelining_gets_one_command_at_a_time(smtp_server):
    import smtplib

    from app.services.mail import sendmail

    controller, handler = smtp_server
    with smtplib.SMTP("127.0.0.1", controller.port) as host:
        assert sendmail(host, "clinic@example.vn", ["huong@example.vn"], b"Subject: z\r\n\r\nhi") == {}
        assert not host.has_extn("pipelining")
    assert handler.envelopes[0].rcpt_tos == ["huong@example.vn"]
