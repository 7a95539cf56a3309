"""The production way to serve live updates (README "Running on real services"): gunicorn with one
gevent worker, Socket.IO in gevent mode (chosen by itself: ``SOCKETIO_ASYNC_MODE=auto``). A real
process on the suite's database, real python-socketio clients over WebSocket: pages and the REST
API work on the event loop, and a booking made through that process reaches every receptionist's
open connection at once. Threading mode (``run.py``, the tests' ``live_server``) is
tests/test_realtime.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.factories import token_headers
from tests.test_realtime import bearer, connected, session_cookie
from tests.test_realtime_redis import book, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def gevent_server(app, db_url, tmp_path):
    """``gunicorn -k gevent -w 1 'app:create_app()'`` on the suite's database and secret (the
    suite's tokens and web sessions are good there), no Redis; its URL once ``/health`` answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "MONGO_URI", "MAIL_SERVER", "SOCKETIO_ASYNC_MODE"}}
    env.update(DATABASE_URL=db_url, SECRET_KEY=app.config["SECRET_KEY"], SCHEDULER_IN_PROCESS="false",
               MFA_REQUIRED_ROLES="Admin,Manager,Doctor", PYTHONPATH=str(ROOT))
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1",
                                    "-b", f"127.0.0.1:{port}", "app:create_app()"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=30):  # listening before the app loads
                    break
            except urllib.error.HTTPError:
                break  # up; the test looks at what it says
            except OSError:  # not listening yet
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


def test_gunicorn_with_gevent_serves_the_site_and_socketio_runs_on_its_event_loop(gevent_server):
    with urllib.request.urlopen(f"{gevent_server}/health", timeout=10) as response:
        health = json.load(response)
    assert health["status"] == "ok"
    assert health["checks"]["socketio"] == {"status": "embedded", "message_queue": "in-process", "mode": "gevent"}
    with urllib.request.urlopen(f"{gevent_server}/login/", timeout=10) as response:
        assert response.status == 200 and b'name="password"' in response.read()


def test_a_booking_on_the_gevent_server_reaches_every_open_reception_page(app, clinic, gevent_server):
    token = bearer(app, "receptionist")
    with ExitStack() as stack:
        desks = [stack.enter_context(connected(gevent_server, token=token)) for _ in range(20)]
        desks.append(stack.enter_context(connected(gevent_server, cookie=session_cookie(app, "receptionist"))))
        patient = stack.enter_context(connected(gevent_server, token=bearer(app, "patient")))
        for each in (*desks, patient):
            each.wait_for("ready")
        appointment = book(gevent_server, token_headers(app, "receptionist"), clinic)
        for desk in desks:
            booked = desk.wait_for("appointment")
            assert (booked["appointment_id"], booked["change"]) == (appointment, "booked")
            assert booked["patient_initials"] == "N.V.A."
        patient.nothing("appointment")
