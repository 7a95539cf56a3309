"""Tomorrow's reminders at scale, on PostgreSQL, Redis and real RQ workers: 100,000 confirmed
appointments tomorrow, the reminder job run for today's reminder hour, 2 worker processes
(``flask worker``) delivering the reminders (jobs of ``MESSAGE_BATCH_SIZE``) to a local SMTP sink
(aiosmtpd) that counts the messages it receives by their Message-ID, which names the message and so the appointment.

    .venv/bin/python bench/reminders.py --quick     # 1,000 appointments (about a minute)
    .venv/bin/python bench/reminders.py             # 100,000 appointments (target: < 180 s)

Prints `name: value` lines: expected, delivered, duplicates (messages received beyond one per
appointment), missing (appointments with no message), per_s (delivered per second, from the
reminder job's start to the last message received), plus context (queue_s, elapsed_s, workers,
worker_cpu_ms: the workers' CPU per message delivered, sink_cpu_ms: the SMTP sink's (a process of
its own), machine_cpu_ms: the whole machine's busy CPU, all processes).
A scratch database is built with the migrations and dropped afterwards; the RQ queues get a
prefix of their own and are deleted, as are the cache keys (their own CACHE_KEY_PREFIX).
"""
from __future__ import annotations

import argparse
import collections
import logging
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="clinic-bench-reminders-")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bench.scratch import scratch_postgres  # noqa: E402
from config import Config  # noqa: E402

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<msg-(\d+)@", re.I | re.M)


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far, all cores (Linux /proc/stat), 0 elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (Linux /proc), 0 where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sink:
    """An SMTP server that only counts: message id -> times received; the running total and the
    time of the last message also in memory shared with the bench (``SinkProcess``)."""

    def __init__(self, total: Any, last_at: Any) -> None:
        self.received: collections.Counter[int] = collections.Counter()
        self.total, self.last_at = total, last_at  # multiprocessing values, written by this loop only

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd hook name
        """Offer PIPELINING, as the servers a clinic sends through do (Postfix, Exim, Amazon SES,
        Mailtrap); aiosmtpd reads commands one line at a time, so it takes them pipelined, but
        does not say so by itself."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        match = MESSAGE_ID.search(envelope.content)
        self.received[int(match.group(1)) if match else -1] += 1
        self.total.value += 1
        self.last_at.value = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
        return "250 OK"


def _serve_sink(port: int, total: Any, last_at: Any, control: Any) -> None:
    # aiosmtpd logs every SMTP session at INFO (logger "mail.log"): 5 lines a message
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = Sink(total, last_at)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    control.send("ready")
    control.recv()  # stop
    controller.stop()
    control.send(dict(sink.received))


class SinkProcess:
    """The SMTP sink in a process of its own, as a mail server is: in the bench's process it
    shared one interpreter lock with the reminder job, which then slowed the server's replies."""

    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("fork")  # before the app or any thread exists
        self._total, self._last_at = context.Value("q", 0, lock=False), context.Value("d", 0.0, lock=False)
        self._control, child = context.Pipe()
        self.process = context.Process(target=_serve_sink, args=(port, self._total, self._last_at, child),
                                       daemon=True)
        self.process.start()
        self._control.recv()

    def total(self) -> int:
        return int(self._total.value)

    @property
    def last_at(self) -> float:
        return float(self._last_at.value)

    def stop(self) -> collections.Counter[int]:
        """Stop it; message id -> times received."""
        if not self.process.is_alive():
            return collections.Counter()
        self._control.send("stop")
        received = collections.Counter(self._control.recv())
        self.process.join(10)
        return received


def seed(app, count: int, day) -> None:
    """``count`` patients (each with an e-mail, no login) and one confirmed appointment each on
    ``day``: 10-minute visits from 07:00, 60 per doctor."""
    from app.extensions import db
    from app.models import Appointment, Department, Doctor, Patient, Service, Specialty

    per_doctor = 60
    with app.app_context():
        department = Department(code="NOI", name="Khoa Nội")
        specialty = Specialty(name="Nội tổng quát")
        db.session.add_all([department, specialty])
        db.session.flush()
        service = Service(code="KB", name="Khám tổng quát", price=Decimal(150000), duration_minutes=10,
                          department_id=department.id)
        db.session.add(service)
        doctors = [Doctor(full_name=f"Bác sĩ {n:05d}", title="BS.", department_id=department.id,
                          specialty_id=specialty.id, consultation_fee=Decimal(200000))
                   for n in range((count + per_doctor - 1) // per_doctor)]
        db.session.add_all(doctors)
        db.session.commit()
        now = datetime.now(timezone.utc)
        batch = 10000
        for start in range(0, count, batch):
            rows = [{"code": f"BN{n:07d}", "full_name": f"Nguyễn Văn {n:06d}", "search_text": f"bn{n:07d}",
                     "email": f"bn{n:07d}@example.vn", "created_at": now, "updated_at": now}
                    for n in range(start, min(count, start + batch))]
            db.session.execute(insert(Patient), rows)
        db.session.commit()
        patient_ids = list(db.session.execute(select(Patient.id).order_by(Patient.id)).scalars())
        first = datetime(day.year, day.month, day.day, 7, tzinfo=ZONE).astimezone(timezone.utc)
        for start in range(0, count, batch):
            rows = []
            for n in range(start, min(count, start + batch)):
                begin = first + timedelta(minutes=10 * (n % per_doctor))
                rows.append({"patient_id": patient_ids[n], "doctor_id": doctors[n // per_doctor].id,
                             "service_id": service.id, "start_at": begin, "end_at": begin + timedelta(minutes=10),
                             "status": "confirmed", "channel": "phone", "created_at": now, "updated_at": now})
            db.session.execute(insert(Appointment), rows)
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 appointments")
    parser.add_argument("--count", type=int, help="appointments (default 100,000; 1,000 with --quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--prefix", default="bench-", help="start of the RQ queue prefix (a random part follows)")
    args = parser.parse_args()
    count = args.count or (1000 if args.quick else 100000)

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import OutboundMessage
    from app.services.reminder_rules import REMINDER_KIND

    with socket.socket() as probe:  # a free port (aiosmtpd checks its server by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SinkProcess(port)
    prefix = f"{args.prefix}{uuid.uuid4().hex[:8]}-"
    today = datetime.now(ZONE).date()
    reminder_moment = datetime(today.year, today.month, today.day, 18, tzinfo=ZONE)
    workers: list[subprocess.Popen] = []
    try:
        with scratch_postgres(args.postgres) as url:
            settings = dict(SQLALCHEMY_DATABASE_URI=url, REDIS_URL=args.redis, RQ_QUEUE_PREFIX=prefix,
                            CACHE_KEY_PREFIX=f"{prefix}cache", MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                            CLINIC_TIMEZONE="Asia/Ho_Chi_Minh",
                            REMINDER_HOUR=18, REMINDER_HOURS_BEFORE=0, SCHEDULER_IN_PROCESS=False)
            app = create_app(Config, **settings)
            with app.app_context():
                upgrade()
            seed(app, count, today + timedelta(days=1))
            env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": args.redis, "RQ_QUEUE_PREFIX": prefix,
                   "CACHE_KEY_PREFIX": f"{prefix}cache", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port),
                   "CLINIC_TIMEZONE": "Asia/Ho_Chi_Minh",
                   "SCHEDULER_IN_PROCESS": "false", "FLASK_APP": "app:create_app", "FLASK_SKIP_DOTENV": "1"}
            log = open(Path(os.environ["INSTANCE_PATH"]) / "workers.log", "w")
            started = time.monotonic()
            for _ in range(args.workers):
                workers.append(subprocess.Popen([sys.executable, "-m", "flask", "worker", "high", "default", "low"],
                                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log))
            with app.app_context():
                from app.jobs.reminders import run_due

                queued = run_due(at=reminder_moment.isoformat())
            queue_s = time.monotonic() - started
            deadline = started + args.timeout
            base_cpu = base_count = None
            while sink.total() < count and time.monotonic() < deadline and all(w.poll() is None for w in workers):
                if base_cpu is None and sink.total() > 0:  # workers started and delivering: CPU from here
                    base_cpu, base_count = sum(cpu_seconds(w.pid) for w in workers), sink.total()
                    base_machine, base_sink = machine_cpu_seconds(), cpu_seconds(sink.process.pid)
                time.sleep(0.2)
            end_cpu, end_count = sum(cpu_seconds(w.pid) for w in workers), sink.total()
            end_machine, end_sink = machine_cpu_seconds(), cpu_seconds(sink.process.pid)
            time.sleep(2)  # late duplicates, if any
            elapsed = (sink.last_at or time.monotonic()) - started
            received = sink.stop()
            with app.app_context():
                appointment_of = dict(db.session.execute(
                    select(OutboundMessage.id, OutboundMessage.appointment_id).where(
                        OutboundMessage.kind == REMINDER_KIND, OutboundMessage.channel == "email")).all())
                db.session.remove()
                db.engine.dispose()
            per_appointment: collections.Counter[int] = collections.Counter()
            for message_id, times in received.items():
                per_appointment[appointment_of.get(message_id, -1)] += times
            delivered = sum(1 for appointment, _n in per_appointment.items() if appointment != -1)
            duplicates = sum(n - 1 for appointment, n in per_appointment.items() if appointment != -1 and n > 1)
            print(f"expected: {count}")
            print(f"queued: {queued}")
            print(f"delivered: {delivered}")
            print(f"duplicates: {duplicates}")
            print(f"missing: {count - delivered}")
            print(f"unknown: {per_appointment.get(-1, 0)}")
            print(f"per_s: {delivered / elapsed if elapsed > 0 else 0:.1f}")
            print(f"queue_s: {queue_s:.1f}")
            print(f"elapsed_s: {elapsed:.1f}")
            print(f"workers: {args.workers}")
            if base_cpu is not None and end_count > (base_count or 0):
                # the workers' own CPU per message delivered (render, MIME, SMTP, SQL, RQ), whatever
                # else the machine runs; PostgreSQL's, Redis's and the sink's come on top
                done = end_count - (base_count or 0)
                print(f"worker_cpu_ms: {(end_cpu - base_cpu) / done * 1000:.2f}")
                print(f"sink_cpu_ms: {(end_sink - base_sink) / done * 1000:.2f}")
                # every process of the machine: workers, sink, PostgreSQL, Redis and anything else running
                print(f"machine_cpu_ms: {(end_machine - base_machine) / done * 1000:.2f}")
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(10)
                except subprocess.TimeoutExpired:
                    worker.kill()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        sink.stop()
        from redis import Redis
        from rq import Queue

        connection = Redis.from_url(args.redis)
        for name in ("high", "default", "low"):
            Queue(prefix + name, connection=connection).delete(delete_jobs=True)
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)


if __name__ == "__main__":
    main()
