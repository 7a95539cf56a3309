"""End to end, as a clinic would start it: the CLI builds and seeds a database, `python run.py`
serves it, and a demo login works over real HTTP (JWT API and the CSRF-protected login form)."""
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

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def server_env(scratch_url, tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URI", "MAIL_SERVER", "SECRET_KEY"}}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=scratch_url, HOST="127.0.0.1",
               PORT=str(free_port()))
    return env


def test_cli_seed_then_run_py_serves_demo_logins(server_env, tmp_path):
    for command in (("db", "upgrade"), ("sync-roles",), ("seed", "--patients", "25", "--seed", "7")):
        result = flask(server_env, *command)
        assert result.returncode == 0, result.stderr + result.stdout
    assert "Demo logins" in result.stdout
    assert (tmp_path / "instance" / "secret_key.txt").exists()

    again = flask(server_env, "seed", "--patients", "5")
    assert again.returncode != 0 and "not empty" in again.stderr + again.stdout
    assert flask(server_env, "seed", "--if-empty").returncode == 0

    base = f"http://127.0.0.1:{server_env['PORT']}"
    server = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=server_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    assert json.load(response)["status"] == "ok"
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "run.py did not start"
                time.sleep(0.3)

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
        assert body["count"] == 25

        # Pages: the login form with its CSRF token, as a browser does it.
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = browser.open(f"{base}/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        data = urllib.parse.urlencode({"username": "doctor", "password": "ClinicDemo1!", "csrf_token": csrf})
        browser.open(f"{base}/login/", data=data.encode(), timeout=10).read()
        page = browser.open(f"{base}/patientview/list/", timeout=10).read().decode()
        assert body["result"][0]["full_name"] in page or "BN0000" in page

        stranger = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = stranger.open(f"{base}/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        wrong = urllib.parse.urlencode({"username": "doctor", "password": "wrong", "csrf_token": csrf})
        stranger.open(f"{base}/login/", data=wrong.encode(), timeout=10).read()
        with stranger.open(f"{base}/patientview/list/", timeout=10) as response:
            assert urllib.parse.urlparse(response.url).path == "/login/"  # sent to log in, no patient data
    finally:
        server.terminate()
        server.wait(timeout=20)
