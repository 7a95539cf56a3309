"""The delivery core (app.services.messaging.delivery): a message is written once per decision,
claimed by one worker, sent, retried with backoff when the server is down, given up after the last
attempt, and sent again after a dead worker's claim times out."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from app.models import OutboundMessage
from app.models.types import utcnow
from app.services.errors import Conflict
from app.services.messaging import channels
from app.services.messaging.delivery import (
    claim_message,
    deliver_message,
    due_message_ids,
    queue_message,
    resend_message,
)
from app.services.messaging.settings import MessagingSettings
from tests.outbox import body, empty_outbox, outbox  # noqa: F401 - empty_outbox: autouse fixture


def _queue(db, **values):
    base = dict(channel="email", kind="plain", recipient="an.nguyen@example.vn", language="vi",
                params={"subject": "Nhắc lịch khám ngày mai", "text": "Chào anh An, hẹn gặp lúc 08:30."})
    message = queue_message(db.session, **(base | values))
    db.session.commit()
    return message


def test_a_queued_email_is_sent_once_to_the_outbox(app, db):
    message = _queue(db)
    assert deliver_message(db.session, message.id, app.config) == "sent"
    mails = outbox(app)
    assert len(mails) == 1 and mails[0]["Subject"] == "Nhắc lịch khám ngày mai"
    assert mails[0]["Message-ID"].startswith(f"<msg-{message.id}@")  # the idempotency key a receiver can use
    assert "hẹn gặp lúc 08:30" in body(mails[0])
    # a second job for the same message sends nothing
    assert deliver_message(db.session, message.id, app.config) == "sent"
    assert len(outbox(app)) == 1
    db.session.expire_all()
    row = db.session.get(OutboundMessage, message.id)
    assert (row.status, row.attempts, row.subject) == ("sent", 1, "Nhắc lịch khám ngày mai")


def test_the_same_decision_twice_makes_one_message(app, db):
    first = _queue(db, dedupe_key="reminder:1:day_before")
    assert _queue(db, dedupe_key="reminder:1:day_before") is None
    assert db.session.query(OutboundMessage).count() == 1 and first.id


def test_only_one_claim_wins(app, db):
    message = _queue(db)
    settings = MessagingSettings.from_config(app.config)
    now = utcnow()
    assert claim_message(db.session, message.id, now, settings) is True
    assert claim_message(db.session, message.id, now, settings) is False
    # a claim older than the timeout was left by a dead worker: taken again, counted as a new attempt
    later = now + settings.claim_timeout + timedelta(seconds=1)
    assert message.id in due_message_ids(db.session, later, settings)
    assert claim_message(db.session, message.id, later, settings) is True
    db.session.expire_all()
    assert db.session.get(OutboundMessage, message.id).attempts == 2


def test_server_down_retries_with_backoff_then_fails(app, db, monkeypatch):
    calls = []

    def refuse(self, recipient, rendered, key):
        calls.append(key)
        raise channels.TemporaryFailure("ConnectionRefusedError: [Errno 111] Connection refused")

    monkeypatch.setattr(channels.EmailSender, "send", refuse)
    message = _queue(db)
    settings = MessagingSettings.from_config(app.config)
    now = utcnow()
    assert deliver_message(db.session, message.id, app.config, now=now) == "queued"
    db.session.expire_all()
    row = db.session.get(OutboundMessage, message.id)
    assert row.status == "queued" and "Connection refused" in row.last_error
    assert row.not_before == now + settings.backoff(1)
    # not before the wait is over
    assert deliver_message(db.session, message.id, app.config, now=now) == "busy"
    assert message.id not in due_message_ids(db.session, now, settings)
    moment = now
    for attempt in range(2, settings.max_attempts + 1):
        moment = moment + settings.backoff(attempt - 1) + timedelta(seconds=1)
        assert message.id in due_message_ids(db.session, moment, settings)
        status = deliver_message(db.session, message.id, app.config, now=moment)
        assert status == ("failed" if attempt == settings.max_attempts else "queued")
    assert len(calls) == settings.max_attempts
    db.session.expire_all()
    assert db.session.get(OutboundMessage, message.id).status == "failed"
    # staff resend it: back on the queue with fresh attempts, and it goes once the server is back
    monkeypatch.undo()
    resend_message(db.session, message.id, actor_id=None)
    from app.models import AuditEvent

    assert db.session.query(AuditEvent).filter_by(action="message_resent", entity_id=str(message.id)).count() == 1
    assert deliver_message(db.session, message.id, app.config) == "sent"
    assert len(outbox(app)) == 1
    with pytest.raises(Conflict):
        resend_message(db.session, message.id, actor_id=None)


def test_a_refused_address_fails_at_once(app, db, monkeypatch):
    def refuse(self, recipient, rendered, key):
        raise channels.PermanentFailure("550 no such user")

    monkeypatch.setattr(channels.EmailSender, "send", refuse)
    message = _queue(db)
    assert deliver_message(db.session, message.id, app.config) == "failed"


def test_no_address_is_skipped_with_its_reason(app, db):
    message = _queue(db, recipient=None)
    assert deliver_message(db.session, message.id, app.config) == "skipped"
    db.session.expire_all()
    assert db.session.get(OutboundMessage, message.id).skip_reason == "no_address"
    assert outbox(app) == []


def test_sms_without_a_provider_lands_in_the_outbox(app, db):
    message = _queue(db, channel="sms", recipient="+84912345678", params={
        "subject": "Nhắc lịch", "text": "x", "short_text": "Phòng khám: hẹn khám 08:30 ngày 03/12"})
    assert deliver_message(db.session, message.id, app.config) == "sent"
    files = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.sms.json"))
    assert len(files) == 1
    payload = json.loads(files[0].read_text(encoding="utf-8"))
    assert payload["to"] == "+84912345678" and payload["text"] == "Phòng khám: hẹn khám 08:30 ngày 03/12"


def test_a_batch_sends_each_message_once_and_leaves_taken_ones_alone(app, db):
    from app.services.messaging.delivery import deliver_messages

    messages = [_queue(db, recipient=f"bn{n}@example.vn") for n in range(4)]
    settings = MessagingSettings.from_config(app.config)
    assert claim_message(db.session, messages[1].id, utcnow(), settings) is True  # another worker has it
    outcome = deliver_messages(db.session, [m.id for m in messages] + [messages[0].id, 987654], app.config)
    assert outcome == {messages[0].id: "sent", messages[1].id: "busy", messages[2].id: "sent",
                       messages[3].id: "sent", 987654: "gone"}
    assert sorted(mail["To"] for mail in outbox(app)) == ["bn0@example.vn", "bn2@example.vn", "bn3@example.vn"]


def _refuse_email(monkeypatch) -> list[str]:
    """The SMTP server refuses every connection from now on: the keys of the messages tried."""
    calls: list[str] = []

    def refuse(self, recipient, rendered, key):
        calls.append(key)
        raise channels.TemporaryFailure("ConnectionRefusedError: [Errno 111] Connection refused")

    monkeypatch.setattr(channels.EmailSender, "send", refuse)
    return calls


def test_a_batch_stops_trying_a_provider_that_is_down(app, db, monkeypatch):
    """SMTP refusing: the batch's first e-mail is tried and the others wait for the same backoff
    without a try each (a dead server costs one timeout per batch, not fifty). One sending thread
    here: with several, each may meet the dead server once (the next test)."""
    from app.services.messaging.delivery import deliver_messages

    monkeypatch.setitem(app.config, "MESSAGE_SEND_THREADS", 1)
    calls = _refuse_email(monkeypatch)
    messages = [_queue(db, recipient=f"bn{n}@example.vn") for n in range(3)]
    sms = _queue(db, channel="sms", recipient="+84901234567")
    now = utcnow()
    outcome = deliver_messages(db.session, [m.id for m in messages] + [sms.id], app.config, now=now)
    assert outcome == {messages[0].id: "queued", messages[1].id: "queued", messages[2].id: "queued", sms.id: "sent"}
    assert calls == [f"msg-{messages[0].id}"]
    db.session.expire_all()
    rows = [db.session.get(OutboundMessage, m.id) for m in messages]
    settings = MessagingSettings.from_config(app.config)
    assert {(r.status, r.attempts, r.not_before) for r in rows} == {("queued", 1, now + settings.backoff(1))}
    assert rows[1].last_error.startswith("not tried: ConnectionRefusedError")


@pytest.mark.needs_postgres
def test_a_batch_on_several_threads_sends_each_message_once(app, db, monkeypatch):
    """On a database server a batch is shared out to MESSAGE_SEND_THREADS threads: every message
    sent once and recorded, by more than one thread; a provider found down by one thread is not
    tried again by the others' later messages."""
    import threading

    from app.services.messaging.delivery import deliver_messages

    monkeypatch.setitem(app.config, "MESSAGE_SEND_THREADS", 3)
    sent_by: dict[str, str] = {}
    original = channels.EmailSender.send

    def send(self, recipient, rendered, key):
        sent_by[key] = threading.current_thread().name
        return original(self, recipient, rendered, key)

    monkeypatch.setattr(channels.EmailSender, "send", send)
    messages = [_queue(db, recipient=f"bn{n}@example.vn") for n in range(12)]
    outcome = deliver_messages(db.session, [m.id for m in messages], app.config)
    assert outcome == {m.id: "sent" for m in messages}
    assert sorted(sent_by) == sorted(f"msg-{m.id}" for m in messages)
    assert len(set(sent_by.values())) == 3 and all(name.startswith("message-send") for name in sent_by.values())
    assert sorted(mail["To"] for mail in outbox(app)) == sorted(f"bn{n}@example.vn" for n in range(12))
    db.session.expire_all()
    assert {(db.session.get(OutboundMessage, m.id).status, db.session.get(OutboundMessage, m.id).attempts)
            for m in messages} == {("sent", 1)}

    calls = _refuse_email(monkeypatch)
    down = [_queue(db, recipient=f"down{n}@example.vn") for n in range(12)]
    outcome = deliver_messages(db.session, [m.id for m in down], app.config)
    assert outcome == {m.id: "queued" for m in down}
    assert 1 <= len(calls) <= 3  # at most one try per thread, not one per message


def test_a_slow_batch_renews_its_claims_and_never_sends_what_another_worker_took(app, db, monkeypatch):
    """With a claim timeout shorter than the batch, the batch renews its claims on what it has
    not sent before each message; a message another worker took meanwhile (as a dead worker's)
    is left to that worker: sent once, not twice. (One sending thread: the order is the test's.)"""
    from app.services.messaging.delivery import deliver_messages

    config = {**app.config, "MESSAGE_CLAIM_TIMEOUT_SECONDS": 0, "MESSAGE_SEND_THREADS": 1}
    settings = MessagingSettings.from_config(config)
    messages = [_queue(db, recipient=f"bn{n}@example.vn") for n in range(3)]
    real_send, sent = channels.EmailSender.send, []

    def send_while_another_worker_takes_the_last(self, recipient, rendered, key):
        sent.append(recipient)
        if len(sent) == 1:  # meanwhile the sweep gives the third message to another worker
            from app.extensions import db as database

            other = database.session.session_factory()
            try:
                assert claim_message(other, messages[2].id, utcnow(), settings) is True
            finally:
                other.close()
        return real_send(self, recipient, rendered, key)

    monkeypatch.setattr(channels.EmailSender, "send", send_while_another_worker_takes_the_last)
    outcome = deliver_messages(db.session, [m.id for m in messages], config)
    assert outcome == {messages[0].id: "sent", messages[1].id: "sent", messages[2].id: "busy"}
    assert sent == ["bn0@example.vn", "bn1@example.vn"]
