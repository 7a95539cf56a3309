"""Queue a message, then deliver it once.

The protocol that makes a message go out once even with several workers:
1. ``queue_message`` writes the row (``queued``). A ``dedupe_key`` makes the same decision taken
   twice (a scheduler firing twice) one row: the second insert finds the first and writes nothing.
2. ``claim_messages`` moves them ``queued -> sending`` in one conditional UPDATE and commits: of
   two workers given the same message, exactly one gets the row; the other sees it taken and stops.
3. Each message is rendered and sent, then ``sent`` (or back to ``queued`` with a backoff, or
   ``failed`` after the last attempt) is committed for it alone, before the next is sent.
A delivery job carries up to ``MESSAGE_BATCH_SIZE`` messages: RQ spends a few milliseconds of CPU
on every job (measured: about 190 empty jobs a second per worker here), more than a reminder takes
to render and send, so one job per message could not send 100,000 reminders in three minutes on two
cores. Steps 2 and 3 are per message, so a batch changes nothing about once-only delivery.
A worker that dies between 2 and 3 leaves ``sending``: after ``claim_timeout`` the claim is taken
again and the message sent again. If the first send had left before the worker died, that is the
one duplicate this design allows; the message's id goes to the provider as its idempotency key
(the e-mail's Message-ID, Zalo's ``tracking_id``), so a receiver that honours it shows one.
On PostgreSQL the outcomes of a batch are committed asynchronously (``MESSAGE_ASYNC_COMMIT``,
on by default): the commit returns before the write-ahead log reaches the disk, which saved about
1.3 ms of a reminder's 6 here. A worker that dies loses nothing by it (the server has the commit);
only a crash of the database server itself can forget the last fraction of a second of outcomes
(``wal_writer_delay``, 200 ms, three times at worst), and those messages are then sent again after
``claim_timeout``. The claim (step 2) is always committed synchronously.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import set_committed_value

from app.models import OutboundMessage
from app.models.types import utcnow
from app.services.errors import Conflict, NotFound
from app.services.messaging.channels import PermanentFailure, TemporaryFailure, sender_for
from app.services.messaging.render import Rendered, Skip, prefetch, render
from app.services.messaging.settings import MessagingSettings

log = logging.getLogger(__name__)

DELIVER_JOB = "app.jobs.messages.deliver"


def queue_message(session: Session, *, channel: str, kind: str, recipient: str | None, language: str,
                  params: Mapping[str, Any] | None = None, dedupe_key: str | None = None,
                  recipient_name: str | None = None, user_id: int | None = None, patient_id: int | None = None,
                  appointment_id: int | None = None, not_before: datetime | None = None,
                  skip_reason: str | None = None, created_by_id: int | None = None,
                  now: datetime | None = None) -> OutboundMessage | None:
    """Add a message (no commit). ``skip_reason`` writes it as skipped (never sent) so the
    dashboard counts it. Returns None when a message with ``dedupe_key`` already exists."""
    message = OutboundMessage(
        dedupe_key=dedupe_key, channel=channel, kind=kind, params=dict(params or {}), language=language or "en",
        recipient=recipient, recipient_name=(recipient_name or None) and recipient_name[:150], user_id=user_id,
        patient_id=patient_id, appointment_id=appointment_id, not_before=not_before,
        status="skipped" if skip_reason else "queued", skip_reason=skip_reason, attempts=0,
        created_by_id=created_by_id, created_at=now or utcnow())
    if dedupe_key is None:
        session.add(message)
        session.flush()
        return message
    if session.execute(sa.select(OutboundMessage.id).where(OutboundMessage.dedupe_key == dedupe_key)).first():
        return None
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # another process wrote the same key first
        return None
    return message


def batch_size(config: Mapping) -> int:
    return max(1, int(config.get("MESSAGE_BATCH_SIZE", 100)))


def enqueue_deliveries(config: Mapping, message_ids: Sequence[int]) -> None:
    """After the commit that queued them: delivery jobs of up to ``MESSAGE_BATCH_SIZE`` messages
    each on the ``high`` queue (in-process without Redis). A queue that cannot be reached loses
    nothing: the first failure stops the loop (no request waits on a dead Redis once per message)
    and the sweep finds the messages later. No RQ retry: the sweep re-queues a message after its own backoff."""
    from redis.exceptions import RedisError

    from app.jobs.queue import enqueue_many

    try:
        # result_ttl=0: the outcome is the message row's status; RQ keeps no result or finished entry.
        ids, size = [int(message_id) for message_id in message_ids], batch_size(config)
        enqueue_many(config, DELIVER_JOB, [tuple(ids[start:start + size]) for start in range(0, len(ids), size)],
                     queue="high", retry=None, result_ttl=0)
    except RedisError:  # the rows are committed; ``sweep`` picks them up
        log.exception("Redis unreachable: %s message(s) left for the sweep", len(message_ids))
    except Exception:  # noqa: BLE001 - the rows are committed; ``sweep`` picks them up
        log.exception("could not queue the delivery of %s message(s)", len(message_ids))


def _claimable(now: datetime, settings: MessagingSettings) -> sa.ColumnElement[bool]:
    m = OutboundMessage
    return sa.or_(sa.and_(m.status == "queued", sa.or_(m.not_before.is_(None), m.not_before <= now)),
                  sa.and_(m.status == "sending", m.claimed_at < now - settings.claim_timeout))


def claim_message(session: Session, message_id: int, now: datetime, settings: MessagingSettings) -> bool:
    """Take the message for sending (and commit); False when another worker has it or it is done."""
    m = OutboundMessage
    result = session.execute(
        sa.update(m).where(m.id == message_id, _claimable(now, settings))
        .values(status="sending", claimed_at=now, attempts=m.attempts + 1)
        .execution_options(synchronize_session=False))
    session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def claim_messages(session: Session, message_ids: Sequence[int], now: datetime, settings: MessagingSettings
                   ) -> list[int]:
    """``claim_message`` for many in one UPDATE ... RETURNING (and commit): the ids taken."""
    ids = sorted({int(message_id) for message_id in message_ids})
    if not ids:
        return []
    if not session.get_bind().dialect.update_returning:
        return [message_id for message_id in ids if claim_message(session, message_id, now, settings)]
    m = OutboundMessage
    taken = session.execute(
        sa.update(m).where(m.id.in_(ids), _claimable(now, settings))
        .values(status="sending", claimed_at=now, attempts=m.attempts + 1).returning(m.id)
        .execution_options(synchronize_session=False)).scalars().all()
    session.commit()
    return sorted(taken)


# session.info key: the connection a PostgreSQL batch records its outcomes on, checked out once for
# the batch (a commit returns the session's connection to the pool, and each checkout pings the
# server: a round trip and server CPU per message).
_RECORDER = "messaging.delivery.recorder"


def _finish(session: Session, message: OutboundMessage, config: Mapping, **values: Any) -> None:
    """Record a try's outcome (and commit). Kinds without an after-attempt hook (reminders among
    them) take the fast path: one Core statement for the message and its reminder claim."""
    from app.services.messaging.render import AFTER_ATTEMPT, load_renderers

    load_renderers()
    if message.kind in AFTER_ATTEMPT or message.id is None or session.is_modified(message):
        for name, value in values.items():
            setattr(message, name, value)
        _after_final(session, message)
        _after_attempt(session, message, config)
        session.commit()
        return
    own = session() if isinstance(session, scoped_session) else session  # Flask-SQLAlchemy's db.session
    recorder = own.info.get(_RECORDER)
    if recorder is None:
        _record_outcome(session.connection(), message, values)
        session.commit()
    else:
        if own.in_transaction():
            session.commit()  # whatever the session itself holds first, as one commit would
        _record_outcome(recorder, message, values)  # autocommit: written when it returns
    for name, value in values.items():  # the loaded object says what the row says, without a reload
        set_committed_value(message, name, value)


def _record_outcome(connection: sa.Connection, message: OutboundMessage, values: Mapping[str, Any]) -> None:
    """``values`` onto the message's row and, for a reminder's final outcome, onto its claim:
    on PostgreSQL one statement (a data-modifying WITH), elsewhere two; Core statements built once
    (no flush, no ORM bookkeeping, no statement compiled per message)."""
    from app.services.reminder_rules import REMINDER_KIND

    status = values.get("status", message.status)
    claim = message.kind == REMINDER_KIND and status in ("sent", "failed", "skipped")
    params = {"b_message_id": message.id, **{f"v_{name}": value for name, value in values.items()}}
    if claim:
        params.update(c_status=status, c_sent_at=values.get("sent_at", message.sent_at),
                      c_error=(values.get("last_error", message.last_error)
                               or values.get("skip_reason", message.skip_reason) or None))
    for statement in _outcome_statements(tuple(sorted(values)), claim, connection.dialect.name == "postgresql"):
        connection.execute(statement, params)


@functools.lru_cache(maxsize=32)
def _outcome_statements(names: tuple[str, ...], claim: bool, one_statement: bool) -> tuple[sa.Executable, ...]:
    from app.models import ReminderLog

    m, r = OutboundMessage.__table__, ReminderLog.__table__
    update_message = sa.update(m).where(m.c.id == sa.bindparam("b_message_id")).values(
        {m.c[name]: sa.bindparam(f"v_{name}", type_=m.c[name].type) for name in names})
    if not claim:
        return (update_message,)
    update_claim = sa.update(r).where(r.c.message_id == sa.bindparam("b_message_id")).values(
        {r.c.status: sa.bindparam("c_status", type_=r.c.status.type),
         r.c.sent_at: sa.bindparam("c_sent_at", type_=r.c.sent_at.type),
         r.c.error: sa.bindparam("c_error", type_=r.c.error.type)})
    if one_statement:
        return (update_claim.add_cte(update_message.cte("message_outcome")),)
    return (update_message, update_claim)


def _after_attempt(session: Session, message: OutboundMessage, config: Mapping) -> None:
    """The kind's own bookkeeping of this try (``render.after_attempt``), in the same commit. A
    hook that fails is logged and undone; the message's own record stands."""
    from app.services.messaging.render import AFTER_ATTEMPT, load_renderers, run_after_attempt

    load_renderers()
    if message.kind not in AFTER_ATTEMPT:
        return  # no savepoint for nothing: most kinds have no hook
    try:
        with session.begin_nested():
            run_after_attempt(session, message, config)
    except Exception:  # noqa: BLE001 - the message was sent (or not) either way: record that
        log.exception("message %s (%s): the after-attempt hook failed", message.id, message.kind)


def _after_final(session: Session, message: OutboundMessage) -> None:
    """Keep a reminder's claim row in step with the message that carries it."""
    from app.models import ReminderLog
    from app.services.reminder_rules import REMINDER_KIND

    if message.kind != REMINDER_KIND or message.status not in ("sent", "failed", "skipped"):
        return
    session.execute(sa.update(ReminderLog).where(ReminderLog.message_id == message.id).values(
        status=message.status, sent_at=message.sent_at,
        error=(message.last_error or message.skip_reason or None)).execution_options(synchronize_session=False))


def deliver_message(session: Session, message_id: int, config: Mapping, *, now: datetime | None = None,
                    keep_open: bool = False) -> str:
    """Claim, render and send one message; its status afterwards ("sent", "queued" for a retry,
    "failed", "skipped"), or "busy" when it was not ours to send. Commits."""
    return deliver_messages(session, [message_id], config, now=now, keep_open=keep_open)[int(message_id)]


def deliver_messages(session: Session, message_ids: Sequence[int], config: Mapping, *,
                     now: datetime | None = None, keep_open: bool = False) -> dict[int, str]:
    """``deliver_message`` for a batch: one claim and one load for all, then each message sent
    and recorded on its own (a commit each). Once a channel's provider fails for the moment, the
    batch's other messages on that channel wait for the same backoff without being tried.
    On a database server (not SQLite) the batch is shared out to ``MESSAGE_SEND_THREADS`` threads,
    each with its own session, SMTP connection and share of the batch (``_in_threads``)."""
    settings = MessagingSettings.from_config(config)
    now = now or utcnow()
    ids = list(dict.fromkeys(int(message_id) for message_id in message_ids))
    threads = _thread_count(session, config, len(ids))
    if threads > 1:
        return _in_threads(session, ids, config, settings, now, keep_open, threads)
    return _deliver_batch(session, ids, config, settings, now, keep_open, {})


def _thread_count(session: Session, config: Mapping, messages: int) -> int:
    bind = session.get_bind()
    if not isinstance(bind, sa.Engine) or bind.dialect.name == "sqlite":
        return 1  # SQLite has one writer at a time: threads would only queue for its lock
    return max(1, min(int(config.get("MESSAGE_SEND_THREADS", 2)), messages))


_POOL: dict[int, ThreadPoolExecutor] = {}  # threads -> this process's pool (its threads keep their SMTP connections)
_POOL_LOCK = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOL_LOCK:
        if threads not in _POOL:
            _POOL[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="message-send")
        return _POOL[threads]


def _in_threads(session: Session, ids: list[int], config: Mapping, settings: MessagingSettings, now: datetime,
                keep_open: bool, threads: int) -> dict[int, str]:
    """Most of a message's time is spent waiting (the SMTP server's four replies, the database's
    commit), so a worker process sends on a few threads at once. Each thread keeps the protocol
    of the module's docstring for its share: claimed, then sent and recorded one at a time. A
    worker that dies can so leave one message per thread sent and not recorded."""
    from flask import current_app, has_app_context

    engine = session.get_bind()
    app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
    session.rollback()  # nothing held open by the caller's session while the threads work

    unavailable: dict[str, str] = {}  # shared: a provider found down is not tried again by another thread

    def share(part: list[int]) -> dict[int, str]:
        with app.app_context() if app is not None else contextlib.nullcontext():
            own = Session(bind=engine)
            try:
                return _deliver_batch(own, part, config, settings, now, keep_open, unavailable)
            finally:
                own.close()

    outcome: dict[int, str] = {}
    for result in _pool(threads).map(share, [ids[start::threads] for start in range(threads)]):
        outcome.update(result)
    return outcome


def _deliver_batch(session: Session, ids: list[int], config: Mapping, settings: MessagingSettings, now: datetime,
                   keep_open: bool, unavailable: dict[str, str]) -> dict[int, str]:
    """One share of a batch: ``unavailable`` (channel -> the temporary failure of its provider)
    stops further tries on a channel found down."""
    claimed = claim_messages(session, ids, now, settings)
    outcome: dict[int, str] = {}
    taken = set(claimed)
    others = [message_id for message_id in ids if message_id not in taken]
    if others:
        found = {row.id: row.status for row in session.execute(
            sa.select(OutboundMessage.id, OutboundMessage.status).where(OutboundMessage.id.in_(others)))}
        session.rollback()
        for message_id in others:
            status = found.get(message_id)
            outcome[message_id] = "busy" if status in ("queued", "sending") else str(status or "gone")
    if not claimed:
        return outcome
    own = session() if isinstance(session, scoped_session) else session  # Flask-SQLAlchemy's db.session
    kept = own.expire_on_commit
    own.expire_on_commit = False  # what the batch loaded once stays loaded between its commits
    try:
        messages = session.scalars(sa.select(OutboundMessage).where(OutboundMessage.id.in_(claimed))
                                   .order_by(OutboundMessage.id).execution_options(populate_existing=True)).all()
        loaded = prefetch(session, messages, config)  # noqa: F841 - held: the session keeps objects weakly
        bind = session.get_bind()
        if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
            session.commit()  # the batch is loaded: no transaction left open while it is sent
            own.info[_RECORDER] = _recorder(bind, settings)
        started, claimed_at, ours = time.monotonic(), now, {message.id for message in messages}
        for index, message in enumerate(messages):
            elapsed = timedelta(seconds=time.monotonic() - started)
            if elapsed > settings.claim_timeout / 3 + (claimed_at - now):
                # A slow batch renews its claim on what it has not sent yet, before the sweep could
                # take those messages for a dead worker's and send them a second time.
                claimed_at, ours = now + elapsed, _renew_claims(
                    session, [m.id for m in messages[index:] if m.id in ours], claimed_at, now + elapsed)
            if message.id not in ours:
                outcome[message.id] = "busy"
                continue
            if message.channel in unavailable:
                outcome[message.id] = _retry_later(session, message, config, settings, now,
                                                   f"not tried: {unavailable[message.channel]}"[:500])
                continue
            outcome[message.id] = _deliver_claimed(session, message, config, settings, now, keep_open, unavailable)
    finally:
        own.expire_on_commit = kept
        recorder = own.info.pop(_RECORDER, None)
        if recorder is not None:
            _close_recorder(recorder, settings)
    return outcome


def _recorder(engine: sa.Engine, settings: MessagingSettings) -> sa.Connection:
    """The batch's connection for outcomes, in autocommit: an outcome is one statement (on
    PostgreSQL the message and its claim in one data-modifying WITH), atomic by itself, so it
    costs one round trip instead of three (BEGIN, the statement, COMMIT). With ``async_commit``
    its commits don't wait for the disk."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    if settings.async_commit:
        connection.exec_driver_sql("SET synchronous_commit TO off")
    return connection


def _close_recorder(connection: sa.Connection, settings: MessagingSettings) -> None:
    """Back to the pool as it came: the session setting undone (the pool restores the isolation
    level), or the connection dropped."""
    try:
        if settings.async_commit:
            connection.exec_driver_sql("RESET synchronous_commit")
    except sa.exc.DBAPIError:
        connection.invalidate()
    finally:
        connection.close()


def _renew_claims(session: Session, message_ids: Sequence[int], held_since: datetime, now: datetime) -> set[int]:
    """Move this batch's claims on ``message_ids`` to ``now`` (and commit); the ids still ours."""
    m = OutboundMessage
    statement = (sa.update(m).where(m.id.in_(message_ids), m.status == "sending", m.claimed_at == held_since)
                 .values(claimed_at=now).execution_options(synchronize_session=False))
    if session.get_bind().dialect.update_returning:
        ids = set(session.execute(statement.returning(m.id)).scalars())
    else:
        ids = {message_id for message_id in message_ids
               if session.execute(statement.where(m.id == message_id)).rowcount == 1}  # type: ignore[attr-defined]
    session.commit()
    for message_id in ids:
        message = session.get(OutboundMessage, message_id)
        if message is not None:
            set_committed_value(message, "claimed_at", now)
    return ids


def _retry_later(session: Session, message: OutboundMessage, config: Mapping, settings: MessagingSettings,
                 now: datetime, error: str) -> str:
    if message.attempts >= settings.max_attempts:
        _finish(session, message, config, status="failed", last_error=error)
        return "failed"
    message.status, message.last_error = "queued", error
    message.not_before = now + settings.backoff(message.attempts)
    _after_attempt(session, message, config)
    session.commit()
    return "queued"


def _deliver_claimed(session: Session, message: OutboundMessage, config: Mapping, settings: MessagingSettings,
                     now: datetime, keep_open: bool, unavailable: dict[str, str]) -> str:
    try:
        result = render(session, message, config)
    except Exception as exc:  # noqa: BLE001 - a renderer's bug fails this message, not the worker
        log.exception("message %s (%s) could not be rendered", message.id, message.kind)
        session.rollback()
        _finish(session, message, config, status="failed", last_error=f"render: {type(exc).__name__}: {exc}"[:500])
        return "failed"
    if isinstance(result, Skip):
        _finish(session, message, config, status="skipped", skip_reason=result.reason,
                last_error=(result.detail or None) and result.detail[:500])
        return "skipped"
    if not message.recipient:
        _finish(session, message, config, status="skipped", skip_reason="no_address")
        return "skipped"
    rendered: Rendered = result
    if message.channel == "zalo" and not rendered.template:  # ZALO_TEMPLATES is keyed by kind by default
        rendered = replace(rendered, template=message.kind)
    try:
        ref = sender_for(message.channel, config, keep_open=keep_open).send(
            message.recipient, rendered, key=f"msg-{message.id}")
    except TemporaryFailure as exc:
        unavailable[message.channel] = str(exc)
        return _retry_later(session, message, config, settings, now, str(exc)[:500])
    except PermanentFailure as exc:
        _finish(session, message, config, status="failed", last_error=str(exc)[:500])
        return "failed"
    _finish(session, message, config, status="sent", sent_at=utcnow(), provider_ref=str(ref)[:200],
            subject=rendered.subject[:300], body=_kept_body(message.channel, rendered, config), last_error=None)
    return "sent"


def _kept_body(channel: str, rendered: Rendered, config: Mapping) -> str:
    """What the recipient got: an SMS as sent (without diacritics with SMS_ASCII_ONLY)."""
    from app.services.messaging.text import sms_text

    if channel == "sms":
        return sms_text(config, rendered)
    return rendered.text if channel == "email" else (rendered.short_text or rendered.subject)


def due_message_ids(session: Session, now: datetime, settings: MessagingSettings, limit: int = 1000) -> list[int]:
    """Messages the sweep should hand to a worker: retries whose wait is over, claims left by a dead
    worker, and messages queued long ago whose job was lost (a Redis restart). A message queued
    just now is left alone: its own job is on its way."""
    m = OutboundMessage
    lost = now - settings.claim_timeout
    rows = session.execute(
        sa.select(m.id).where(sa.or_(
            # queued: its wait is over, or (no wait) it was tried before or its job is long overdue
            sa.and_(m.status == "queued", sa.or_(
                m.not_before <= now, sa.and_(m.not_before.is_(None), sa.or_(m.attempts > 0, m.created_at < lost)))),
            sa.and_(m.status == "sending", m.claimed_at < lost),
        )).order_by(m.id).limit(limit)).scalars()
    return list(rows)


def resend_message(session: Session, message_id: int, *, actor_id: int | None, now: datetime | None = None
                   ) -> OutboundMessage:
    """Put a failed message back on the queue (with a fresh set of attempts); commits."""
    message = session.get(OutboundMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound("message")
    if message.status != "failed":
        from flask_babel import gettext as _

        raise Conflict(_("Only a message that failed can be sent again."), "status")
    message.status, message.attempts, message.not_before, message.claimed_at = "queued", 0, None, None
    from app import audit

    audit.record_event(session, "message_resent", "OutboundMessage", message.id,
                       {"channel": message.channel, "kind": message.kind}, user_id=actor_id)
    session.commit()
    return message
