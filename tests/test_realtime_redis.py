"""The live updates' Redis message queue: two web processes (``run.py``, as gunicorn would run two
workers) and an RQ worker share one Redis channel, so an event sent in any of them reaches a client
connected to another; with Redis gone a process still reaches its own clients and ``/health``
says so. Real processes, real Redis (skipped, or failed with ``CI=true``, without one:
tests/system_parts.py), the suite's own database."""
from __future__ import annotations

import json
import os
import socket as sockets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import local_time, token_headers
from tests.redis_helpers import REDIS_URL, delete_keys
from tests.test_realtime import WAIT, bearer, connected

pytestmark = pytest.mark.needs_redis

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with sockets.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def shared_env(app, db_url, tmp_path):
    """The environment of this test's processes: the suite's database and secret (the tokens the
    test makes are good there), Redis with a channel and queue prefix of its own."""
    tag = f"h-socket-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "MAIL_SERVER"}}
    env.update(DATABASE_URL=db_url, SECRET_KEY=app.config["SECRET_KEY"], REDIS_URL=REDIS_URL,
               SOCKETIO_CHANNEL=tag, RQ_QUEUE_PREFIX=f"{tag}:", FLASK_APP="app:create_app", PYTHONPATH=str(ROOT),
               HOST="127.0.0.1", MFA_REQUIRED_ROLES="Admin,Manager,Doctor")
    yield env
    delete_keys(f"*{tag}*")


class Server:
    def __init__(self, env: dict, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env={**env, "PORT": str(self.port)},
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    self.health = json.load(response)
                    return
            except urllib.error.HTTPError as answer:  # 503: up, something unhealthy (the test looks)
                self.health = json.load(answer)
                return
            except (urllib.error.URLError, ConnectionError):
                assert self.process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "run.py did not start"
                time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture
def servers(shared_env, tmp_path):
    started: list[Server] = []

    def start(env: dict | None = None) -> Server:
        server = Server(env or shared_env, tmp_path / f"server{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def book(url: str, headers: dict, clinic, channel: str = "phone") -> int:
    """Book through ``url``'s REST API (the booking's after-commit hooks run in that process)."""
    body = json.dumps({"patient_id": clinic.patient, "doctor_id": clinic.doctor, "service_id": clinic.service,
                       "start": local_time("10:00"), "channel": channel}).encode()
    request = urllib.request.Request(f"{url}/api/v1/appointments/book", data=body, method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return int(json.load(response)["id"])


def test_an_event_sent_in_one_process_reaches_a_client_of_the_other(app, clinic, servers):
    first, second = servers(), servers()
    assert first.health["checks"]["socketio"] == {"status": "ok", "message_queue": "redis", "mode": "threading"}
    desk_token = bearer(app, "receptionist")
    with connected(first.url, token=desk_token) as on_first, connected(second.url, token=desk_token) as on_second:
        on_first.wait_for("ready")
        on_second.wait_for("ready")
        appointment = book(second.url, token_headers(app, "receptionist"), clinic)
        for listener in (on_first, on_second):  # once each, whichever process the booking ran in
            got = listener.wait_for("appointment")
            assert (got["appointment_id"], got["change"]) == (appointment, "booked")
            listener.nothing("appointment")


def test_an_event_sent_by_an_rq_worker_job_reaches_a_client(app, clinic, servers, shared_env, db):
    from app.jobs.queue import enqueue
    from app.models import Appointment

    server = servers()
    desk_id = app.appbuilder.sm.find_user(username="receptionist").id
    start = datetime.fromisoformat(local_time("11:00"))
    appointment = Appointment(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                              start_at=start, end_at=start + timedelta(minutes=20), channel="online",
                              status="requested")
    db.session.add(appointment)
    db.session.commit()
    with connected(server.url, token=bearer(app, "receptionist")) as desk:
        desk.wait_for("ready")
        enqueue({"REDIS_URL": REDIS_URL, "RQ_QUEUE_PREFIX": shared_env["RQ_QUEUE_PREFIX"]},
                "app.jobs.notices.appointment_event", appointment.id, "booked")
        worker = subprocess.run([sys.executable, "-m", "flask", "worker", "--burst"], cwd=ROOT, env=shared_env,
                                capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stderr[-2000:]
        got = desk.wait_for("notification", timeout=WAIT * 2)  # written and sent by the worker
        assert got["unread"] >= 1 and "Online booking" in got["title"]
    from app.services.notifications import unread_count

    assert unread_count(db.session, desk_id) == got["unread"]


def test_with_redis_down_one_process_still_reaches_its_clients_and_health_says_so(app, clinic, servers, shared_env):
    dead = free_port()  # nothing listens there
    server = servers({**shared_env, "REDIS_URL": f"redis://127.0.0.1:{dead}/0"})
    assert server.health["status"] == "error"
    assert server.health["checks"]["socketio"]["status"] == "error"
    assert server.health["checks"]["socketio"]["message_queue"] == "redis"
    with connected(server.url, token=bearer(app, "receptionist")) as desk:
        desk.wait_for("ready")
        appointment = book(server.url, token_headers(app, "receptionist"), clinic)
        assert desk.wait_for("appointment", timeout=WAIT * 3)["appointment_id"] == appointment
