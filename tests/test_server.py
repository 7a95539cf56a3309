"""End to end, as a clinic would start it: `python run.py --prepare` (what `python3 manage.py run`
runs) builds and seeds a database and serves it in one process, and a demo login works over real
HTTP (JWT API and the CSRF-protected login form); a second start finds the data and says so."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp
import pytest

from app.services.demo_data.maintenance import DEMO_TOTP_SECRET

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_env(scratch_url, tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URI", "MAIL_SERVER", "SECRET_KEY"}}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=scratch_url, HOST="127.0.0.1",
               PORT=str(free_port()))
    return env


def start(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """``run.py --prepare`` until /health answers; the process and its output so far."""
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "run.py", "--prepare"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/health", timeout=2) as response:
                assert json.load(response)["status"] == "ok"
                return server, log.read_text()
        except (urllib.error.URLError, ConnectionError):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "run.py did not start"
            time.sleep(0.3)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=20)


QUIET = ("Refused to delete", "WARNING", "Werkzeug appears to be used in a production", "Traceback")


def test_run_prepares_seeds_and_serves_demo_logins_in_one_process(server_env, tmp_path):
    base = f"http://127.0.0.1:{server_env['PORT']}"
    server, output = start(server_env, tmp_path / "first.log")
    try:
        assert "Demo logins" in output
        assert re.search(r"^app [\d.]+ s, migrate [\d.]+ s, roles [\d.]+ s, seed [\d.]+ s; ready in [\d.]+ s$",
                         output, re.M), output
        assert f"Serving {base} with Werkzeug's development server" in output
        assert not [word for word in QUIET if word in output], output
        assert (tmp_path / "instance" / "secret_key.txt").exists()

        # REST: FAB's JWT login, then the patients the seed made.
        request = urllib.request.Request(
            f"{base}/api/v1/security/login", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"username": "reception", "password": "ClinicDemo1!", "provider": "db"}).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            token = json.load(response)["access_token"]
        request = urllib.request.Request(f"{base}/api/v1/patient/?q=(page_size:5)",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        assert body["count"] == 200

        # Pages: the login form with its CSRF token, as a browser does it.
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = browser.open(f"{base}/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        data = urllib.parse.urlencode({"username": "doctor", "password": "ClinicDemo1!", "csrf_token": csrf})
        code_page = browser.open(f"{base}/login/", data=data.encode(), timeout=10).read().decode()
        # Two-step login: the seed enrols the doctor with the README's demo secret.
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', code_page).group(1)
        code = pyotp.TOTP(DEMO_TOTP_SECRET).now()
        browser.open(f"{base}/login/code/", data=urllib.parse.urlencode({"code": code, "csrf_token": csrf}).encode(),
                     timeout=10).read()
        page = browser.open(f"{base}/patientview/list/", timeout=10).read().decode()
        assert body["result"][0]["full_name"] in page or "BN0000" in page

        stranger = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = stranger.open(f"{base}/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        wrong = urllib.parse.urlencode({"username": "doctor", "password": "wrong", "csrf_token": csrf})
        try:
            stranger.open(f"{base}/login/", data=wrong.encode(), timeout=10).read()
        except urllib.error.HTTPError as refused:  # the form again, with the refusal
            assert refused.code == 401
        else:
            raise AssertionError("a wrong password was not refused")
        with stranger.open(f"{base}/patientview/list/", timeout=10) as response:
            assert urllib.parse.urlparse(response.url).path == "/login/"  # sent to log in, no patient data
    finally:
        stop(server)

    server, output = start(server_env, tmp_path / "second.log")  # the data is there: nothing to do but serve
    stop(server)
    assert re.search(r"migrate [\d.]+ s, roles [\d.]+ s, seed [\d.]+ s \(data present\); ready in", output), output
    assert "Demo logins" not in output and not [word for word in QUIET if word in output], output


def test_seed_refuses_a_database_with_data_unless_asked(scratch_url):
    from app import create_app
    from config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_url)
    cli = app.test_cli_runner()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    for args in (["sync-roles"], ["seed", "--patients", "5", "--seed", "7"]):
        result = cli.invoke(args=args)
        assert result.exit_code == 0, result.output
    assert "Demo logins" in result.output
    again = cli.invoke(args=["seed", "--patients", "5"])
    assert again.exit_code != 0 and "not empty" in again.output
    quietly = cli.invoke(args=["seed", "--if-empty"])
    assert quietly.exit_code == 0 and "not seeding" in quietly.output
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
