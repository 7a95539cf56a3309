"""Outgoing e-mail: through SMTP (Flask-Mail) when ``MAIL_SERVER`` is set, otherwise written as
``.eml`` files into ``MAIL_OUTBOX_DIR`` so that nothing is lost on a machine without a mail server."""
from __future__ import annotations

import os
import smtplib
import tempfile
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Sequence

from flask_mail import Mail, Message

from app.services.errors import ValidationFailed

__all__ = ["Attachment", "close_kept_connections", "send_email"]

# One SMTP connection kept open per thread for senders that pass ``keep_open`` (the message
# worker): a connection per message costs a TCP handshake, EHLO and QUIT each time.
_kept = threading.local()

# Flask-Mail sets ``policy.SMTP`` on the message it builds; generating with that policy parses
# every header through the email package's header registry, which took 2.5 ms of a 1 ms message
# here (most of the CPU of a reminder). The message is built the same way; it is only written out
# with compat32 and CRLF line ends, which SMTP wants.
_WIRE_POLICY = policy.compat32.clone(linesep="\r\n")


class _WireMessage(Message):
    def as_bytes(self) -> bytes:
        msg = self._message()
        msg.policy = _WIRE_POLICY
        subject = str(self.subject or "")
        if not subject.isascii():
            # Flask-Mail sets the subject pre-encoded; compat32 would fold that before its first
            # word, which readers show as a leading space. A Header folds it properly.
            del msg["Subject"]
            msg["Subject"] = Header(subject, self.charset or "utf-8")  # type: ignore[assignment]
        return msg.as_bytes()


Attachment = tuple[str, str, bytes]  # (file name, MIME type such as "application/pdf", content)


def _sender(config: Mapping) -> str:
    sender = config.get("MAIL_DEFAULT_SENDER") or "clinic@localhost"
    if isinstance(sender, (tuple, list)):
        return formataddr((sender[0], sender[1]))
    return str(sender)


def _check(to: list[str], subject: str, attachments: Sequence[Attachment] = ()) -> None:
    if not to or any(not isinstance(addr, str) or not addr.strip() for addr in to):
        raise ValidationFailed("at least one recipient address is needed", field="to")
    for value, field in [(subject, "subject"), *((addr, "to") for addr in to),
                         *((name, "attachments") for name, _type, _data in attachments)]:
        if "\r" in value or "\n" in value:
            raise ValidationFailed("line breaks are not allowed in mail headers", field=field)
    for name, mimetype, data in attachments:
        if not name or mimetype.count("/") != 1 or not isinstance(data, (bytes, bytearray)):
            raise ValidationFailed("an attachment is (file name, type/subtype, bytes)", field="attachments")


def _build(sender: str, to: list[str], subject: str, body: str, html: str | None,
           attachments: Sequence[Attachment] = (), message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)  # CRLF line ends, RFC 2047 encoded UTF-8 headers
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id or make_msgid(domain=parseaddr(sender)[1].partition("@")[2] or None)
    # quoted-printable keeps the file 7-bit clean (no 8BITMIME needed if it is ever relayed)
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for name, mimetype, data in attachments:  # multipart/mixed: the text (and HTML), then the files
        maintype, subtype = mimetype.split("/")
        # A text file (an .ics) is UTF-8: say so, or readers take it for US-ASCII and garble Vietnamese.
        msg.add_attachment(bytes(data), maintype=maintype, subtype=subtype, filename=name,
                           params={"charset": "utf-8"} if maintype == "text" else None)
    return msg


def _write_outbox(directory: str | os.PathLike, msg: EmailMessage) -> Path:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")  # written whole, then renamed
    try:
        with os.fdopen(fd, "wb") as fh:
            # Headers unfolded: Python 3.11's folding of RFC 2047 words drops the space at each fold
            # ("07/12/2026 lúc" -> "07/12/2026lúc") and can split a UTF-8 character across two words.
            fh.write(msg.as_bytes(policy=msg.policy.clone(max_line_length=None)))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def send_email(
    config: Mapping,
    mail: Mail,
    *,
    to: list[str],
    subject: str,
    body: str,
    html: str | None = None,
    attachments: Sequence[Attachment] | None = None,
    message_id: str | None = None,
    keep_open: bool = False,
) -> str:
    """Send a plain-text (optionally also HTML) message to ``to``, with ``attachments`` (each
    ``(file name, MIME type, bytes)``) if any.

    With ``MAIL_SERVER`` set the message goes through ``mail`` (Flask-Mail; needs an application
    context) and its Message-ID is returned; ``message_id`` (``<...@...>``) fixes that header, so
    a message sent twice can be recognised as one by the receiving side; ``keep_open`` reuses this
    thread's SMTP connection. Otherwise a complete RFC 5322 message is written to
    ``MAIL_OUTBOX_DIR`` (created if missing) and the file's path is returned.
    """
    to = list(to)
    files = list(attachments or ())
    _check(to, subject, files)
    sender = _sender(config)
    if config.get("MAIL_SERVER"):
        recipients: list[str | tuple[str, str]] = list(to)
        message = _WireMessage(subject=subject, recipients=recipients, body=body, html=html, sender=sender,
                               charset="utf-8")
        for name, mimetype, data in files:
            # Flask-Mail writes content_type's "type/subtype" as given: a text file gets its charset there.
            content_type = f"{mimetype}; charset=utf-8" if mimetype.startswith("text/") else mimetype
            message.attach(filename=name, content_type=content_type, data=bytes(data), disposition="attachment")
        if message_id:
            message.msgId = message_id
        if keep_open:
            _send_kept(mail, message)
        else:
            mail.send(message)
        return message.msgId
    outbox = config.get("MAIL_OUTBOX_DIR") or "outbox"
    return str(_write_outbox(outbox, _build(sender, to, subject, body, html, files, message_id)))


def _send_kept(mail: Mail, message: Message) -> None:
    """Send on this thread's open connection; a connection the server dropped is opened again once."""
    for attempt in (1, 2):
        connection = getattr(_kept, "connection", None)
        if connection is None:
            connection = mail.connect()
            connection.__enter__()  # opens the SMTP session (Flask-Mail's Connection)
            _kept.connection = connection
        try:
            connection.send(message)
            return
        except smtplib.SMTPResponseException:
            raise  # the server answered (refused a recipient, the data): not a stale connection
        except (smtplib.SMTPServerDisconnected, OSError):
            close_kept_connections()
            if attempt == 2:
                raise


def close_kept_connections() -> None:
    connection = getattr(_kept, "connection", None)
    _kept.connection = None
    if connection is not None:
        try:
            connection.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - the connection is gone either way
            pass
