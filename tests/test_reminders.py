"""Appointment reminders (app.services.reminders, app.jobs.reminders, ``flask reminders run``):
when each is due in clinic time whatever the server's zone, exactly one per appointment, kind and
channel however often or concurrently the scheduler runs, and delivered once through real RQ
worker processes to a real SMTP server on loopback, even when a worker is killed mid-send or the
mail server is down for a while; a cancelled visit is not reminded and a moved one is re-armed."""
from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time as clock
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask_mail import Mail

from app.models import Appointment, Doctor, OutboundMessage, Patient, ReminderLog, Service, UserProfile
from app.services.messaging.recipients import patient_recipient, patient_recipients
from app.services.messaging.settings import MessagingSettings
from app.services.reminders import due_moment, due_reminders, queue_due_reminders
from tests.outbox import empty_outbox, outbox  # noqa: F401 - empty_outbox: autouse fixture
from tests.reminder_helpers import SmtpSink, ensure_reminder_renderer

UTC = timezone.utc
HCM, NY = "Asia/Ho_Chi_Minh", "America/New_York"
REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parent.parent
SENDER = "clinic@example.vn"
_codes = itertools.count(1)


@pytest.fixture(autouse=True)
def _reminder_renderer():
    ensure_reminder_renderer()


@pytest.fixture
def rows(db):
    service = Service(code="KB", name="Khám tổng quát", price=150000, duration_minutes=20)
    doctors = [Doctor(full_name=f"Trần Thị Bình {n}", title="BS.") for n in range(4)]
    db.session.add_all([service, *doctors])
    db.session.commit()
    return SimpleNamespace(service=service.id, doctors=[d.id for d in doctors], doctor=doctors[0].id)


def at(zone: str, y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A clinic-time moment, as UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def settings(zone: str = HCM, **values) -> MessagingSettings:
    return MessagingSettings(timezone=ZoneInfo(zone), **values)


def add_patient(db, name: str = "Nguyễn Văn An", email: str | None = None, phone: str | None = None,
                user_id: int | None = None) -> int:
    number = next(_codes)
    patient = Patient(code=f"BN{number:06d}", full_name=name, search_text="",
                      email=email if email is not None else f"patient{number}@example.vn", phone=phone,
                      user_id=user_id)
    db.session.add(patient)
    db.session.commit()
    return patient.id


def add_visit(db, rows, patient_id: int, start: datetime, *, status: str = "confirmed",
              created: datetime | None = None, doctor_id: int | None = None) -> int:
    visit = Appointment(patient_id=patient_id, doctor_id=doctor_id or rows.doctor, service_id=rows.service,
                        start_at=start, end_at=start + timedelta(minutes=20), status=status,
                        created_at=created or start - timedelta(days=7))
    db.session.add(visit)
    db.session.commit()
    return visit.id


def due_ids(db, moment: datetime, s: MessagingSettings, kind: str = "day_before") -> set[int]:
    return {d.appointment_id for d in due_reminders(db.session, moment, s) if d.kind == kind}


def email_of(db, patient_id: int) -> str:
    return db.session.get(Patient, patient_id).email


def soon_visit(days: int = 2, hour: int = 9, minute: int = 0, zone: str = HCM) -> datetime:
    """A visit in the real future (the message checks, when sent, that the visit is still ahead)."""
    day = datetime.now(ZoneInfo(zone)).date() + timedelta(days=days)
    return at(zone, day.year, day.month, day.day, hour, minute)


def run_at(start: datetime, zone: str = HCM) -> str:
    """The ``--at`` a minute after the day-before reminder of a visit at ``start`` is due."""
    return (due_moment("day_before", start, settings(zone)) + timedelta(minutes=1)).isoformat()


def messages(db) -> list[OutboundMessage]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(OutboundMessage).order_by(OutboundMessage.id)).scalars())


def claims(db) -> list[ReminderLog]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(ReminderLog).order_by(ReminderLog.id)).scalars())


# --- when a reminder is due ----------------------------------------------------------------------

@pytest.mark.parametrize("zone", [HCM, NY])
def test_the_day_before_reminder_is_due_from_the_hour_in_clinic_time_until_the_visit(db, rows, zone):
    s = settings(zone)
    patient = add_patient(db)
    early = add_visit(db, rows, patient, at(zone, 2026, 12, 10, 0, 30))  # HCM: 17:30 UTC the day before
    late = add_visit(db, rows, patient, at(zone, 2026, 12, 10, 23, 30))  # New York: 04:30 UTC the day after
    next_day = add_visit(db, rows, patient, at(zone, 2026, 12, 11, 0, 30))

    assert due_ids(db, at(zone, 2026, 12, 8, 18, 0), s) == set()  # not by the visit's UTC date
    assert due_ids(db, at(zone, 2026, 12, 9, 17, 59), s) == set()
    assert due_ids(db, at(zone, 2026, 12, 9, 18, 0), s) == {early, late}
    # a scheduler that was down catches up after the hour, until the visit starts...
    assert due_ids(db, at(zone, 2026, 12, 10, 0, 29), s) == {early, late}
    # ...and never once it has started
    assert due_ids(db, at(zone, 2026, 12, 10, 0, 30), s) == {late}
    assert due_ids(db, at(zone, 2026, 12, 10, 18, 0), s) == {late, next_day}
    assert due_ids(db, at(zone, 2026, 12, 10, 23, 30), s) == {next_day}


def test_the_reminder_hour_follows_daylight_saving_time_in_new_york():
    s = settings(NY)
    # the day summer time starts: 18:00 the evening before is still EST (UTC-5)
    assert due_moment("day_before", at(NY, 2027, 3, 14, 9), s) == datetime(2027, 3, 13, 23, 0, tzinfo=UTC)
    # the day after it ends the evening before is still EDT (UTC-4)
    assert due_moment("day_before", at(NY, 2027, 11, 7, 9), s) == datetime(2027, 11, 6, 22, 0, tzinfo=UTC)
    assert due_moment("day_before", at(HCM, 2026, 12, 10, 0, 30), settings(HCM, reminder_hour=20)) == \
        datetime(2026, 12, 9, 13, 0, tzinfo=UTC)


def test_the_servers_own_time_zone_changes_nothing(db, rows):
    patient = add_patient(db)
    early = add_visit(db, rows, patient, at(HCM, 2026, 12, 10, 0, 30))
    late = add_visit(db, rows, patient, at(HCM, 2026, 12, 10, 23, 30))
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    clock.tzset()
    try:
        assert clock.strftime("%Z") in ("PST", "PDT")
        s = settings(HCM)
        assert due_ids(db, at(HCM, 2026, 12, 9, 17, 59), s) == set()
        assert due_ids(db, at(HCM, 2026, 12, 9, 18, 0), s) == {early, late}
        assert due_ids(db, at(HCM, 2026, 12, 10, 0, 30), s) == {late}
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        clock.tzset()


def test_a_visit_booked_after_the_hour_is_reminded_at_once_and_a_same_day_booking_is_not(db, rows):
    s = settings()
    evening = add_visit(db, rows, add_patient(db), at(HCM, 2026, 12, 10, 9), created=at(HCM, 2026, 12, 9, 20))
    walk_in = add_visit(db, rows, add_patient(db, "Lê Thị Cúc"), at(HCM, 2026, 12, 10, 10),
                        created=at(HCM, 2026, 12, 10, 7, 45))
    assert due_ids(db, at(HCM, 2026, 12, 9, 20, 1), s) == {evening}
    assert walk_in not in due_ids(db, at(HCM, 2026, 12, 10, 8), s)  # made on the day: the patient knows


def test_only_confirmed_visits_are_reminded_unless_requested_ones_are_included(db, rows):
    patient = add_patient(db)
    statuses = ("confirmed", "requested", "cancelled", "checked_in", "no_show")
    ids = {status: add_visit(db, rows, patient, at(HCM, 2026, 12, 10, 8 + n), status=status)
           for n, status in enumerate(statuses)}
    moment = at(HCM, 2026, 12, 9, 18, 30)
    assert due_ids(db, moment, settings()) == {ids["confirmed"]}
    assert due_ids(db, moment, settings(remind_requested=True)) == {ids["confirmed"], ids["requested"]}


def test_the_second_reminder_goes_hours_before_and_replaces_a_missed_first(app, db, rows):
    s = settings(reminder_hours_before=2)
    visit = add_visit(db, rows, add_patient(db), at(HCM, 2026, 12, 10, 9))
    queue_due_reminders(db.session, at(HCM, 2026, 12, 9, 18), s, app.config)  # the day before: sent
    assert due_reminders(db.session, at(HCM, 2026, 12, 10, 6, 59), s) == []
    assert [(d.appointment_id, d.kind) for d in due_reminders(db.session, at(HCM, 2026, 12, 10, 7), s)] == \
        [(visit, "hours_before")]
    # A scheduler down from before 18:00 until after 10:00 finds both due for the 11:00 visit: only
    # the closer one goes (one message, not two at once).
    missed = add_visit(db, rows, add_patient(db), at(HCM, 2026, 12, 10, 11))
    assert [(d.appointment_id, d.kind) for d in due_reminders(db.session, at(HCM, 2026, 12, 10, 10), s)
            if d.appointment_id == missed] == [(missed, "hours_before")]
    # booked less than two hours ahead: no hours-before reminder
    short = add_visit(db, rows, add_patient(db), at(HCM, 2026, 12, 10, 13), created=at(HCM, 2026, 12, 10, 11, 30))
    assert short not in {d.appointment_id for d in due_reminders(db.session, at(HCM, 2026, 12, 10, 12), s)}
    # without the setting there is no second reminder
    assert due_ids(db, at(HCM, 2026, 12, 10, 8), settings(), "hours_before") == set()


# --- queued once --------------------------------------------------------------------------------

@pytest.fixture
def in_process(app, monkeypatch):
    """Jobs run in-process (no Redis), mail to the outbox folder, the clinic in Ho Chi Minh City."""
    for key, value in {"REDIS_URL": "", "MAIL_SERVER": "", "CLINIC_TIMEZONE": HCM,
                       "MESSAGE_CHANNELS": "email,sms,zalo", "SMS_DEFAULT_ON": False}.items():
        monkeypatch.setitem(app.config, key, value)


def _user_id(app, username: str) -> int:
    return app.appbuilder.sm.find_user(username=username).id


def test_run_due_twice_reminds_each_patient_once_on_each_chosen_channel(app, db, rows, in_process):
    from app.jobs.reminders import run_due

    start = soon_visit()
    an = add_patient(db, "Nguyễn Văn An", email="an.nguyen@example.vn", phone="0912345678")
    no_email = add_patient(db, "Phạm Văn Bảo", email="", phone="0988000111")
    db.session.get(Patient, no_email).email = None
    both = add_patient(db, "Lê Thị Cúc", email="cuc.le@example.vn", phone="+84912000111",
                       user_id=_user_id(app, "patient"))
    opted_out = add_patient(db, "Võ Văn Dũng", email="dung.vo@example.vn", user_id=_user_id(app, "lab"))
    db.session.add_all([UserProfile(user_id=_user_id(app, "patient"), notify_email=True, notify_sms=True),
                        UserProfile(user_id=_user_id(app, "lab"), notify_email=False, notify_sms=False)])
    db.session.commit()
    visits = {p: add_visit(db, rows, p, start + timedelta(minutes=30 * n))
              for n, p in enumerate((an, no_email, both, opted_out))}

    # An's e-mail; Bảo never chose and has no e-mail: SMS; Cúc's e-mail and SMS
    assert run_due(run_at(start)) == 4
    assert run_due(run_at(start)) == 0  # the scheduler firing again finds nothing more to do

    mails = outbox(app)
    assert sorted(m["To"] for m in mails) == ["an.nguyen@example.vn", "cuc.le@example.vn"]
    sms = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.sms.json"))
    texts = sorted(path.read_text(encoding="utf-8") for path in sms)
    assert len(texts) == 2 and any("+84912000111" in t for t in texts) and any("988000111" in t for t in texts)
    sent = {(m.appointment_id, m.channel): m for m in messages(db)}
    assert {key: (m.status, m.skip_reason) for key, m in sent.items()} == {
        (visits[an], "email"): ("sent", None),
        (visits[no_email], "email"): ("skipped", "no_address"),
        (visits[no_email], "sms"): ("sent", None),
        (visits[both], "email"): ("sent", None),
        (visits[both], "sms"): ("sent", None),
        (visits[opted_out], "email"): ("skipped", "opted_out"),
    }
    an_mail = next(m for m in mails if m["To"] == "an.nguyen@example.vn")
    assert an_mail["Message-ID"].startswith(f"<msg-{sent[(visits[an], 'email')].id}@")
    text = an_mail.get_body(preferencelist=("plain",)).get_content()
    assert f"{start.astimezone(ZoneInfo(HCM)):%H:%M}" in text and "Trần Thị Bình 0" in text  # clinic time, doctor
    # every claim points at its message and tells its outcome
    assert {(c.appointment_id, c.channel, c.status, c.for_start_at) for c in claims(db)} == {
        (visits[an], "email", "sent", start), (visits[no_email], "email", "skipped", start + timedelta(minutes=30)),
        (visits[no_email], "sms", "sent", start + timedelta(minutes=30)),
        (visits[both], "email", "sent", start + timedelta(minutes=60)),
        (visits[both], "sms", "sent", start + timedelta(minutes=60)),
        (visits[opted_out], "email", "skipped", start + timedelta(minutes=90))}
    assert all(c.message_id == sent[(c.appointment_id, c.channel)].id for c in claims(db))
    m = sent[(visits[an], "email")]
    assert (m.params["appointment_id"], datetime.fromisoformat(m.params["for_start_at"]), m.params["reminder"]) == \
        (visits[an], start, "day_before")


def test_an_sms_in_quiet_hours_waits_and_is_dropped_when_the_window_ends_after_the_visit(app, db, rows, in_process):
    from datetime import time

    user = _user_id(app, "patient")
    patient = add_patient(db, "Lê Thị Cúc", phone="+84912000111", user_id=user)
    db.session.add(UserProfile(user_id=user, notify_email=False, notify_sms=True, quiet_from=time(21),
                               quiet_until=time(7)))
    db.session.commit()
    s = MessagingSettings.from_config(app.config)
    tomorrow_morning = add_visit(db, rows, patient, at(HCM, 2026, 12, 10, 9))
    early = add_visit(db, rows, patient, at(HCM, 2026, 12, 11, 6, 30))
    queue_due_reminders(db.session, at(HCM, 2026, 12, 9, 22), s, app.config)
    queue_due_reminders(db.session, at(HCM, 2026, 12, 10, 22), s, app.config)
    sms = {m.appointment_id: m for m in messages(db) if m.channel == "sms"}
    assert (sms[tomorrow_morning].status, sms[tomorrow_morning].not_before) == ("queued", at(HCM, 2026, 12, 10, 7))
    assert (sms[early].status, sms[early].skip_reason) == ("skipped", "quiet_hours")


def test_two_scheduler_runs_at_once_queue_each_reminder_once(app, db, rows, in_process):
    start = at(HCM, 2026, 12, 10, 7)
    visits = {add_visit(db, rows, add_patient(db), start + timedelta(minutes=20 * (n // 4)),
                        doctor_id=rows.doctors[n % 4]) for n in range(60)}
    s = MessagingSettings.from_config(app.config)
    moment = at(HCM, 2026, 12, 9, 18, 5)
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        with app.app_context():
            from app.extensions import db as database

            session = database.session.session_factory()
            try:
                barrier.wait(timeout=10)
                results.append(queue_due_reminders(session, moment, s, app.config))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                session.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    queued = sorted(results[0] + results[1])
    assert len(queued) == len(set(queued)) == 60
    rows_ = messages(db)
    assert len(rows_) == 60 and {m.appointment_id for m in rows_} == visits
    assert len(claims(db)) == 60


def test_queuing_many_reminders_takes_a_few_statements_not_one_per_visit(app, db, rows, in_process):
    start = at(HCM, 2026, 12, 10, 7)
    for n in range(200):
        add_visit(db, rows, add_patient(db), start + timedelta(minutes=20 * (n // 4)), doctor_id=rows.doctors[n % 4])
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        queued = queue_due_reminders(db.session, at(HCM, 2026, 12, 9, 18), MessagingSettings.from_config(app.config),
                                     app.config)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(queued) == 200
    assert len(statements) < 30, statements


def test_recipients_read_in_bulk_are_the_ones_read_one_by_one(app, db, rows, in_process):
    user = _user_id(app, "patient")
    db.session.add(UserProfile(user_id=user, language="vi", notify_email=True, notify_sms=True))
    db.session.commit()
    ids = [add_patient(db, "Nguyễn Văn An"), add_patient(db, "Lê Thị Cúc", email="", phone="0912", user_id=user),
           add_patient(db, "Võ Văn Dũng", phone="0988", user_id=_user_id(app, "lab"))]
    s = MessagingSettings.from_config(app.config)
    bulk = patient_recipients(db.session, ids + [10 ** 9], s)
    assert bulk == {pid: patient_recipient(db.session, pid, s) for pid in ids}


def test_a_cancelled_visit_is_not_reminded_and_a_moved_one_is_reminded_for_its_new_time(app, db, rows, in_process):
    from app.jobs.reminders import run_due
    from app.services.messaging.delivery import deliver_message

    start = soon_visit()
    kept, cancelled, moved = (add_patient(db, name) for name in ("Nguyễn Văn An", "Lê Thị Cúc", "Võ Văn Dũng"))
    visits = {p: add_visit(db, rows, p, start + timedelta(minutes=30 * n))
              for n, p in enumerate((kept, cancelled, moved))}
    s = MessagingSettings.from_config(app.config)
    moment = datetime.fromisoformat(run_at(start))
    queued = queue_due_reminders(db.session, moment, s, app.config)  # queued, not yet sent
    assert len(queued) == 3

    db.session.get(Appointment, visits[cancelled]).status = "cancelled"
    new_start = start + timedelta(days=2)
    visit = db.session.get(Appointment, visits[moved])
    visit.start_at, visit.end_at = new_start, new_start + timedelta(minutes=20)
    db.session.commit()

    outcomes = {m.appointment_id: deliver_message(db.session, m.id, app.config) for m in messages(db)}
    assert outcomes == {visits[kept]: "sent", visits[cancelled]: "skipped", visits[moved]: "skipped"}
    reasons = {m.appointment_id: m.skip_reason for m in messages(db)}
    assert reasons == {visits[kept]: None, visits[cancelled]: "cancelled", visits[moved]: "moved"}
    assert {c.appointment_id: (c.status, c.error) for c in claims(db)} == {
        visits[kept]: ("sent", None), visits[cancelled]: ("skipped", "cancelled"), visits[moved]: ("skipped", "moved")}
    assert [m["To"] for m in outbox(app)] == [email_of(db, kept)]

    # the move re-armed the reminder: not at the old time, at the new one's
    assert run_due(moment.isoformat()) == 0
    assert run_due(run_at(new_start)) == 1
    assert sorted(m["To"] for m in outbox(app)) == sorted([email_of(db, kept), email_of(db, moved)])
    moved_claims = [(c.for_start_at, c.status) for c in claims(db) if c.appointment_id == visits[moved]]
    assert moved_claims == [(start + timedelta(minutes=60), "skipped"), (new_start, "sent")]


def test_flask_reminders_run_at_queues_what_is_due_then(app, db, rows, in_process):
    start = soon_visit()
    patient = add_patient(db)
    add_visit(db, rows, patient, start)
    runner = app.test_cli_runner()
    before = (due_moment("day_before", start, settings()) - timedelta(minutes=1)).astimezone(ZoneInfo(HCM))
    result = runner.invoke(args=["reminders", "run", "--at", before.replace(tzinfo=None).isoformat()])
    assert result.exit_code == 0 and "Reminders queued: 0." in result.output  # clinic time, before the hour
    result = runner.invoke(args=["reminders", "run", "--at", run_at(start)])
    assert result.exit_code == 0 and "Reminders queued: 1." in result.output, result.output
    assert [m["To"] for m in outbox(app)] == [email_of(db, patient)]
    result = runner.invoke(args=["reminders", "run", "--at", "tomorrow evening"])
    assert result.exit_code == 2 and "--at" in result.output


# --- delivered once: a real SMTP server, real RQ workers ----------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _use_smtp(app, monkeypatch, port: int) -> None:
    """Point the app's Flask-Mail at 127.0.0.1:``port`` (Flask-Mail reads its settings at init)."""
    values = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_USE_TLS": False, "MAIL_USE_SSL": False,
              "MAIL_SUPPRESS_SEND": False, "MAIL_DEFAULT_SENDER": SENDER}
    for key, value in values.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.extensions, "mail", Mail().init_mail(values))


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on loopback, made by the test (``start(port, sink)``), stopped after it."""
    controllers = []

    def start(sink: SmtpSink, port: int | None = None) -> Controller:
        controller = Controller(sink, hostname="127.0.0.1", port=port or _free_port())
        controller.start()
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        controller.stop()


def test_smtp_down_then_up_loses_nothing_and_sends_once(app, db, rows, in_process, smtp, monkeypatch):
    from app.jobs.messages import sweep
    from app.jobs.reminders import run_due

    port = _free_port()  # nothing listens there yet: the mail server is down
    _use_smtp(app, monkeypatch, port)
    monkeypatch.setitem(app.config, "MESSAGE_BACKOFF_SECONDS", "1")
    start = soon_visit()
    patient = add_patient(db)
    add_visit(db, rows, patient, start)

    assert run_due(run_at(start)) == 1
    [message] = messages(db)
    assert (message.status, message.attempts) == ("queued", 1) and "refused" in message.last_error.lower()
    assert claims(db)[0].status == "queued"

    sink = SmtpSink()
    smtp(sink, port)  # the server is back
    clock.sleep(1.2)  # the backoff
    assert sweep() == 1
    assert sweep() == 0
    copies = sink.to(email_of(db, patient))
    assert len(copies) == 1 and copies[0]["Message-ID"] == f"<msg-{message.id}@example.vn>"
    [message] = messages(db)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)
    assert claims(db)[0].status == "sent"
    assert run_due(run_at(start)) == 0 and len(sink.messages) == 1


@pytest.fixture
def rq_run(app, db_url, monkeypatch, tmp_path):
    """A Redis queue of this test's own (database 15) and a way to start real ``rq worker``
    processes on it; everything is removed afterwards."""
    from redis import Redis
    from rq import Queue

    name = f"test-reminders-{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE", name)
    connection = Redis.from_url(REDIS_URL)
    started: list[tuple[subprocess.Popen, str]] = []

    def worker(port: int, label: str, claim_timeout: int = 600) -> subprocess.Popen:
        worker_name = f"{name}-{label}"
        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "RQ_QUEUE": name,
               "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "MAIL_USE_TLS": "0",
               "MAIL_DEFAULT_SENDER": SENDER, "MESSAGE_CLAIM_TIMEOUT_SECONDS": str(claim_timeout),
               "CLINIC_TIMEZONE": app.config["CLINIC_TIMEZONE"], "SCHEDULER_IN_PROCESS": "0",
               "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT), "MAIL_OUTBOX_DIR": app.config["MAIL_OUTBOX_DIR"]}
        log = open(tmp_path / f"{label}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", REDIS_URL, "--name", worker_name,
             "--worker-class", "tests.reminder_helpers.ReminderTestWorker", name],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append((process, worker_name))
        return process

    def logs() -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("*.log")))

    yield SimpleNamespace(name=name, worker=worker, logs=logs, connection=connection)
    for process, _worker_name in started:
        if process.poll() is None:
            process.kill()
        process.wait()
    queue = Queue(name, connection=connection)
    job_ids = set(queue.job_ids)
    for registry in (queue.started_job_registry, queue.finished_job_registry, queue.failed_job_registry,
                     queue.scheduled_job_registry, queue.deferred_job_registry, queue.canceled_job_registry):
        job_ids |= set(registry.get_job_ids())
        connection.delete(registry.key)
    for job_id in job_ids:
        for key in connection.scan_iter(f"rq:*{job_id}*"):
            connection.delete(key)
    queue.delete(delete_jobs=True)
    for _process, worker_name in started:
        key = f"rq:worker:{worker_name}"
        for own in connection.scan_iter(f"{key}*"):  # the worker's record and its executions
            connection.delete(own)
        connection.srem("rq:workers", key)
        connection.srem(f"rq:workers:{name}", key)
    connection.close()


def _wait(process: subprocess.Popen, logs, seconds: float = 120) -> None:
    try:
        assert process.wait(seconds) == 0, logs()
    except subprocess.TimeoutExpired:
        pytest.fail(f"worker still running after {seconds}s\n{logs()}")


@pytest.mark.needs_redis
def test_two_workers_racing_on_the_same_jobs_send_each_reminder_once(app, db, rows, in_process, smtp, rq_run,
                                                                      monkeypatch):
    from app.jobs.reminders import run_due
    from app.services.messaging.delivery import enqueue_deliveries

    sink = SmtpSink()
    controller = smtp(sink)
    _use_smtp(app, monkeypatch, controller.port)
    start = soon_visit()
    patients = [add_patient(db) for _ in range(8)]
    for n, patient in enumerate(patients):
        add_visit(db, rows, patient, start + timedelta(minutes=20 * (n // 4)), doctor_id=rows.doctors[n % 4])
    assert run_due(run_at(start)) == 8  # one delivery job each...
    assert run_due(run_at(start)) == 0
    enqueue_deliveries(app.config, [m.id for m in messages(db)])  # ...and a second job for each message
    db.session.rollback()

    first, second = rq_run.worker(controller.port, "w1"), rq_run.worker(controller.port, "w2")
    _wait(first, rq_run.logs)
    _wait(second, rq_run.logs)
    assert sorted(m["To"] for m in sink.messages) == sorted(email_of(db, p) for p in patients)
    assert {(m.status, m.attempts) for m in messages(db)} == {("sent", 1)}
    assert {c.status for c in claims(db)} == {"sent"}


@pytest.mark.needs_redis
def test_a_worker_killed_mid_send_loses_nothing_and_resends_once_with_the_same_message_id(
        app, db, rows, in_process, smtp, rq_run, monkeypatch):
    from app.jobs.messages import sweep
    from app.jobs.reminders import run_due

    monkeypatch.setitem(app.config, "MESSAGE_CLAIM_TIMEOUT_SECONDS", 1)
    sink = SmtpSink(hold_first=True)  # the server takes the message, then holds back its "250 OK"
    controller = smtp(sink)
    _use_smtp(app, monkeypatch, controller.port)
    start = soon_visit()
    patient = add_patient(db)
    add_visit(db, rows, patient, start)
    assert run_due(run_at(start)) == 1
    db.session.rollback()

    doomed = rq_run.worker(controller.port, "doomed", claim_timeout=1)
    if not sink.received.wait(90):
        pytest.fail(f"the worker never sent\n{rq_run.logs()}")
    os.kill(doomed.pid, signal.SIGKILL)  # between "the server has it" and "the worker recorded it"
    doomed.wait(10)
    sink.release.set()
    [message] = messages(db)
    assert message.status == "sending" and message.attempts == 1  # the claim a dead worker left

    clock.sleep(1.2)  # MESSAGE_CLAIM_TIMEOUT_SECONDS
    assert sweep() == 1  # the claim is taken again
    _wait(rq_run.worker(controller.port, "after", claim_timeout=1), rq_run.logs)

    copies = sink.to(email_of(db, patient))
    # No loss, and the one duplicate the README states: the same Message-ID, so a receiver that
    # deduplicates by it shows one message.
    assert len(copies) == 2
    assert {m["Message-ID"] for m in copies} == {f"<msg-{message.id}@example.vn>"}
    [message] = messages(db)
    assert (message.status, message.attempts) == ("sent", 2)
    assert claims(db)[0].status == "sent"
    assert sweep() == 0
    assert len(sink.messages) == 2


def test_due_moment_is_none_for_a_switched_off_second_reminder():
    assert due_moment("hours_before", at(HCM, 2026, 12, 10, 9), settings()) is None
    with pytest.raises(ValueError):
        due_moment("week_before", at(HCM, 2026, 12, 10, 9), settings())


def test_a_reminder_queued_with_at_shows_when_it_was_really_queued(app, db, rows, in_process):
    """``flask reminders run --at`` (a future moment) decides what is due; the message's time on
    the delivery dashboard is when it was written, not that moment."""
    start = soon_visit(days=3)
    add_visit(db, rows, add_patient(db), start)
    before = datetime.now(timezone.utc)
    result = app.test_cli_runner().invoke(args=["reminders", "run", "--at", run_at(start)])
    after = datetime.now(timezone.utc)
    assert "Reminders queued: 1." in result.output, result.output
    [message] = messages(db)
    assert before - timedelta(seconds=1) <= message.created_at <= after + timedelta(seconds=1)
    assert message.created_at < due_moment("day_before", start, settings())
