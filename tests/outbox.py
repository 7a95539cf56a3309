"""The mail a test caused, read back from the outbox folder (where mail goes without an SMTP server).

Modules that read mail import ``empty_outbox`` (an autouse fixture: each test reads only the mail
it caused) and the readers below."""
from __future__ import annotations

import shutil
from email import message_from_bytes, policy as email_policy
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def empty_outbox(app):
    shutil.rmtree(app.config["MAIL_OUTBOX_DIR"], ignore_errors=True)


def outbox(app) -> list:
    folder = Path(app.config["MAIL_OUTBOX_DIR"])
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [message_from_bytes(path.read_bytes(), policy=email_policy.default) for path in files]


def mails_to(app, address: str) -> list:
    return [m for m in outbox(app) if m["To"].lower() == address.lower()]


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()
