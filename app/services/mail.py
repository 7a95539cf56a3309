"""Outgoing e-mail: through SMTP (Flask-Mail) when ``MAIL_SERVER`` is set, otherwise written as
``.eml`` files into ``MAIL_OUTBOX_DIR`` so that nothing is lost on a machine without a mail server."""
from __future__ import annotations

import base64
import functools
import os
import random
import re
import smtplib
import sys
import tempfile
import threading
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Sequence

from flask_mail import Connection, Mail, sanitize_address

from app.services.errors import ValidationFailed

__all__ = ["Attachment", "close_kept_connections", "send_email", "sendmail", "wire_message"]

# One SMTP connection kept open per thread for senders that pass ``keep_open`` (the message
# worker): a connection per message costs a TCP handshake, EHLO and QUIT each time.
_kept = threading.local()

# The message sent over SMTP is written here directly as bytes: the same MIME structure and
# headers Flask-Mail's ``Message`` builds (multipart/mixed around multipart/alternative, UTF-8
# text parts as 8bit, attachments in base64), without the email package's generator, which
# re-encoded every header of every part and was most of a reminder's CPU (measured: 4 ms of 6).
_CRLF = "\r\n"


def _boundary(parts: Sequence[bytes]) -> str:
    while True:
        boundary = f"==============={random.randrange(sys.maxsize):019d}=="
        marker = f"--{boundary}".encode()
        if not any(marker in part for part in parts):
            return boundary


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", _CRLF).encode("utf-8")


def encode_header_words(text: str) -> str:
    """A header value as RFC 2047 "B" encoded words (UTF-8, each under 76 characters, split
    between characters, folded); ASCII without line breaks stays as it is."""
    if text.isascii():
        return text
    data, words, start = text.encode("utf-8"), [], 0
    while start < len(data):
        end = min(start + 45, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never inside a character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return (_CRLF + " ").join(words)


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def _address(addr: str) -> str:
    """An address as Flask-Mail writes it (a display name RFC 2047 encoded); a bare address as it is."""
    return addr if _PLAIN_ADDRESS.fullmatch(addr) else _named_address(addr)


@functools.lru_cache(maxsize=64)
def _named_address(addr: str) -> str:
    return sanitize_address(addr, "utf-8")


def _part(headers: Sequence[str], body: bytes) -> bytes:
    return (_CRLF.join(headers) + _CRLF + _CRLF).encode("ascii") + body


def _multipart(subtype: str, parts: Sequence[bytes], headers: Sequence[str] = ()) -> bytes:
    boundary = _boundary(parts)
    dash = f"--{boundary}".encode()
    body = dash + b"\r\n" + (b"\r\n" + dash + b"\r\n").join(parts) + b"\r\n" + dash + b"--\r\n"
    content_type = (f'Content-Type: multipart/{subtype}; boundary="{boundary}"' if headers
                    else f'Content-Type: multipart/{subtype};{_CRLF} boundary="{boundary}"')
    return _part([content_type, "MIME-Version: 1.0", *headers], body)


def _text_part(text: str, subtype: str, headers: Sequence[str] = ()) -> bytes:
    return _part([f'Content-Type: text/{subtype}; charset="utf-8"', "MIME-Version: 1.0",
                  "Content-Transfer-Encoding: 8bit", *headers], _crlf(text))


def wire_message(sender: str, to: Sequence[str], subject: str, body: str, html: str | None,
                 attachments: Sequence[Attachment] = (), message_id: str | None = None) -> bytes:
    """The message as it goes over SMTP (CRLF line ends; text parts 8bit UTF-8)."""
    headers = [f"From: {_address(sender)}", f"To: {', '.join(_address(addr) for addr in to)}",
               f"Date: {formatdate(localtime=True)}",
               f"Message-ID: {message_id or make_msgid(domain=parseaddr(sender)[1].partition('@')[2] or None)}"]
    if subject:
        headers.append(f"Subject: {encode_header_words(subject)}")
    if html is None and not attachments:
        return _text_part(body, "plain", headers)
    parts = [_multipart("alternative", [_text_part(body, "plain"), _text_part(html, "html")])
             if html is not None else _text_part(body, "plain")]
    for name, mimetype, data in attachments:
        content_type = f"{mimetype}; charset=utf-8" if mimetype.startswith("text/") else mimetype
        filename = (f'filename="{name}"' if name.isascii()
                    else f"filename*=UTF8''{urllib.parse.quote(name, safe='')}")
        parts.append(_part([f"Content-Type: {content_type}", "MIME-Version: 1.0", "Content-Transfer-Encoding: base64",
                            f"Content-Disposition: attachment; {filename}"],
                           base64.encodebytes(bytes(data)).replace(b"\n", b"\r\n")))
    return _multipart("mixed", parts, headers)


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
        message_id = message_id or make_msgid()
        data = wire_message(sender, to, subject, body, html, files, message_id)
        envelope = (_address(sender), [_address(addr) for addr in dict.fromkeys(to)])
        if keep_open:
            _send_kept(mail, envelope, data)
        else:
            with mail.connect() as connection:
                _send_on(connection, envelope, data)
        return message_id
    outbox = config.get("MAIL_OUTBOX_DIR") or "outbox"
    return str(_write_outbox(outbox, _build(sender, to, subject, body, html, files, message_id)))


def _send_on(connection: Connection, envelope: tuple[str, list[str]], data: bytes) -> None:
    """What Flask-Mail's ``Connection.send`` does with a message, for bytes already written:
    nothing with ``MAIL_SUPPRESS_SEND`` (no host), a new session after ``MAIL_MAX_EMAILS``."""
    if connection.host is not None:
        sendmail(connection.host, envelope[0], envelope[1], data)
    connection.num_emails += 1
    if connection.num_emails == connection.mail.max_emails:
        connection.num_emails = 0
        if connection.host is not None:
            connection.host.quit()
            connection.host = connection.configure_host()


def sendmail(host: smtplib.SMTP, from_addr: str, to_addrs: Sequence[str], data: bytes) -> dict[str, tuple[int, bytes]]:
    """``smtplib.SMTP.sendmail`` (same errors, same return: the refused recipients), with the
    envelope pipelined when the server offers PIPELINING (RFC 2920: Postfix, Exim, Amazon SES and
    Mailtrap do): MAIL, RCPT and DATA go in one write and their replies are read together, so a
    message costs two round trips instead of four. smtplib itself never pipelines."""
    host.ehlo_or_helo_if_needed()
    options = [f"SIZE={len(data)}"] if host.does_esmtp and host.has_extn("size") else []
    commands = [" ".join([f"MAIL FROM:{smtplib.quoteaddr(from_addr)}", *options]),
                *(f"RCPT TO:{smtplib.quoteaddr(addr)}" for addr in to_addrs), "DATA"]
    if not (host.does_esmtp and host.has_extn("pipelining")) or not all(line.isascii() for line in commands):
        return host.sendmail(from_addr, list(to_addrs), data)
    host.send("".join(f"{line}\r\n" for line in commands).encode("ascii"))
    replies = [host.getreply() for _line in commands]  # every reply read, whatever comes first
    (mail_code, mail_reply), (data_code, data_reply) = replies[0], replies[-1]
    refused = {addr: reply for addr, reply in zip(to_addrs, replies[1:-1], strict=True) if reply[0] not in (250, 251)}
    if data_code == 354 and (mail_code != 250 or len(refused) == len(to_addrs)):
        host.send(b".\r\n")  # a server that took DATA anyway gets an empty message, ended at once
        host.getreply()
    if 421 in (code for code, _reply in replies):
        host.close()
    elif mail_code != 250 or len(refused) == len(to_addrs) or data_code != 354:
        _reset(host)
    if mail_code != 250:
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, from_addr)
    if len(refused) == len(to_addrs):
        raise smtplib.SMTPRecipientsRefused(refused)
    if data_code != 354:
        raise smtplib.SMTPDataError(data_code, data_reply)
    body = _LEADING_DOT.sub(b"..", data)  # dot-stuffing, as smtplib's data() does
    host.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    code, reply = host.getreply()
    if code != 250:
        if code == 421:
            host.close()
        else:
            _reset(host)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _reset(host: smtplib.SMTP) -> None:
    """RSET after a refusal, as smtplib does: a server that hung up meanwhile is no error here."""
    try:
        host.rset()
    except smtplib.SMTPServerDisconnected:
        pass


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _send_kept(mail: Mail, envelope: tuple[str, list[str]], data: bytes) -> None:
    """Send on this thread's open connection; a connection the server dropped is opened again once."""
    for attempt in (1, 2):
        connection = getattr(_kept, "connection", None)
        if connection is None:
            connection = mail.connect()
            connection.__enter__()  # opens the SMTP session (Flask-Mail's Connection)
            _kept.connection = connection
        try:
            _send_on(connection, envelope, data)
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
