"""Video call signalling: N call rooms at once, each with two python-socketio clients (asyncio,
WebSocket transport) connected to ONE server process, the doctor and the patient of one video
appointment. In each room the doctor joins, the patient joins and waits, the doctor admits, then
the patient (the newcomer) sends an offer, the doctor an answer, and each side some ICE
candidates, all through ``call:signal`` (app/realtime/calls.py), every room at the same time.
The server is the production one, as in bench/fanout.py: ``gunicorn -k gevent -w 1`` (Socket.IO in
gevent mode); a throw-away SQLite database, no Redis. The clients log in with JWTs the bench's
server makes for its own users.

    .venv/bin/python bench/telemedicine.py --quick     # 200 rooms, 2 ICE candidates a side (under a minute)
    .venv/bin/python bench/telemedicine.py             # 200 rooms, 8 ICE candidates a side
    .venv/bin/python bench/telemedicine.py --rooms 50 --media 0   # signalling only, no browser

Prints `name: value` lines: join_s (all rooms joined and admitted, each patient checked in on
joining), settle_s (the wait for the server to be quiet after the joins, before the signalling),
failed_connects; then the signalling twice on the same rooms. First as in a busy hour (each room
starts within --spread seconds, its ICE candidates --trickle-ms apart): signalling_rooms (rooms
whose two sides got every signal), signalling_p99_ms and signalling_p50_ms (from the sender's
``call:signal`` to the other side's receipt, over every relayed signal; one clock),
signalling_signals, signalling_lost (not received within 10 s; must be 0), signalling_refused
(must be 0), signalling_server_cpu_ms, signalling_client_cpu_ms (this process's 400 clients);
then every room and candidate at the same instant: the same lines named signalling_burst_*.
load_average (the machine's, at the end). Then, in two Chromium pages per visit (fake camera and
microphone; 3 visits with --quick, else 10): join_to_media_ms_p50 and join_to_media_ms_max, from
the doctor's "Admit" to the first video frame of the patient on the doctor's page, and
join_to_media_rounds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import _cpu_ms, _percentile, free_port  # noqa: E402 - the benches' shared helpers

ROOT = Path(__file__).resolve().parent.parent
RECEIVE_TIMEOUT = 10.0
CONNECT_AT_ONCE = 50
SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + "a=candidate-ish\r\n" * 60


def bench_app() -> Any:
    """The app on a fresh SQLite database (in ``$TELECALL_INSTANCE``) with ``$TELECALL_ROOMS``
    video appointments under way, each with its own doctor and patient login, and a live API
    session and access token for each login in ``tokens.json`` there (no password check per
    client). Prints ``ready <pid> <mode>``."""
    instance = os.environ["TELECALL_INSTANCE"]
    rooms = int(os.environ["TELECALL_ROOMS"]) + int(os.environ.get("TELECALL_MEDIA_ROUNDS", "0"))
    os.environ["INSTANCE_PATH"] = instance
    sys.path.insert(0, str(ROOT))
    from datetime import timedelta
    from decimal import Decimal

    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade
    from werkzeug.security import generate_password_hash

    from app import create_app
    from app.extensions import db
    from app.models import Appointment, Department, Doctor, Patient, Service
    from app.models.types import utcnow
    from app.web_sessions import start_api_session
    from config import Config

    class BenchConfig(Config):
        REDIS_URL = ""
        RATELIMIT_ENABLED = False
        SCHEDULER_IN_PROCESS = False
        MFA_REQUIRED_ROLES = ""
        SOCKETIO_PING_INTERVAL = 60
        JWT_ACCESS_MINUTES = 60

    app = create_app(BenchConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance}/telecall.db")
    with app.app_context():
        upgrade()
        sm = app.appbuilder.sm
        sm.sync_roles()
        hashed = generate_password_hash("Bench-Passw0rd!")
        department = Department(code="TM", name="Telemedicine")
        db.session.add(department)
        db.session.flush()
        service = Service(code="TV", name="Video visit", price=Decimal(0), duration_minutes=20,
                          department_id=department.id, visit_modes="video")
        db.session.add(service)
        start = utcnow().replace(microsecond=0) - timedelta(minutes=5)
        for n in range(rooms):
            doctor_user = sm.add_user(f"bench-doc-{n}", "Doc", str(n), f"doc{n}@bench.example", sm.find_role("Doctor"),
                                      hashed_password=hashed)
            patient_user = sm.add_user(f"bench-pt-{n}", "Pt", str(n), f"pt{n}@bench.example",
                                       sm.find_role("Patient"), hashed_password=hashed)
            doctor = Doctor(full_name=f"Bác sĩ {n}", user_id=doctor_user.id, department_id=department.id)
            patient = Patient(code=f"BN{n:06d}", full_name=f"Bệnh nhân {n}", user_id=patient_user.id)
            db.session.add_all([doctor, patient])
            db.session.flush()
            db.session.add(Appointment(patient_id=patient.id, doctor_id=doctor.id, service_id=service.id,
                                       mode="video", start_at=start, end_at=start + timedelta(minutes=20),
                                       status="confirmed"))
        db.session.commit()

    with app.test_request_context():  # a live API session and an access token for each login
        made = []
        for appointment in db.session.query(Appointment).order_by(Appointment.id):
            pair: dict[str, Any] = {"appointment_id": appointment.id}
            for side, user_id in (("doctor", appointment.doctor.user_id), ("patient", appointment.patient.user_id)):
                user = sm.get_user_by_id(user_id)
                session_id = start_api_session(user)
                pair[side] = create_access_token(identity=str(user.id), additional_claims={"sid": session_id})
            made.append(pair)
        db.session.commit()
        Path(instance, "tokens.json").write_text(json.dumps(made))

    print(f"ready {os.getpid()} {app.extensions['socketio'].async_mode}", flush=True)
    return app


def server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "2000",
            "-b", f"127.0.0.1:{port}", "--pythonpath", str(ROOT / "bench"), "telemedicine:bench_app()"]


class Side:
    """One participant's client; ``got`` holds the receipt time of each signal by its id."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.got: dict[str, float] = {}
        self.admitted = asyncio.Event()
        self.sid = ""


async def run_rooms(url: str, pairs: list[dict], ice: int, server_pid: int | None, spread: float,
                    trickle_ms: float) -> dict[str, str]:
    import socketio

    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    failed = 0

    async def side(token: str) -> Side | None:
        nonlocal failed
        client = socketio.AsyncClient(reconnection=False)
        me = Side(client)

        @client.on("call:signal")
        async def on_signal(data: Any) -> None:
            me.got.setdefault(data["data"]["id"], time.time())

        @client.on("call:admitted")
        async def on_admitted(_data: Any) -> None:
            me.admitted.set()

        async with gate:
            for attempt in range(3):
                try:
                    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=30)
                    return me
                except Exception:  # noqa: BLE001 - retried; a client that never connects is counted
                    await asyncio.sleep(0.5 * (attempt + 1))
        failed += 1
        return None

    async def seat(pair: dict) -> tuple[dict, Side, Side] | None:
        doctor, patient = await side(pair["doctor"]), await side(pair["patient"])
        if doctor is None or patient is None:
            return None
        body = {"appointment_id": pair["appointment_id"]}
        doctor.sid = (await doctor.client.call("call:join", body, timeout=30))["sid"]
        patient.sid = (await patient.client.call("call:join", body, timeout=30))["sid"]
        await doctor.client.call("call:admit", body, timeout=30)
        await asyncio.wait_for(patient.admitted.wait(), 30)
        return pair, doctor, patient

    started = time.monotonic()
    seated = [s for s in await asyncio.gather(*(seat(pair) for pair in pairs)) if s is not None]
    join_s = time.monotonic() - started

    # The joins check each patient in (app.services.telemedicine.patient_arrived: the queue's events and
    # jobs run on after the answers); the signalling is timed once the server is quiet again.
    settle_started = time.monotonic()
    if server_pid:
        last = _cpu_ms(server_pid)
        while time.monotonic() - settle_started < 30:
            await asyncio.sleep(0.5)
            now_cpu = _cpu_ms(server_pid)
            if now_cpu - last < 25:
                break
            last = now_cpu
    settle_s = time.monotonic() - settle_started
    results = {"join_s": f"{join_s:.1f}", "settle_s": f"{settle_s:.1f}", "failed_connects": str(failed)}
    # First the rooms as they come in a busy hour: each starts within `spread` seconds, candidates
    # trickling in as a browser gathers them; then every room at the same instant (the burst).
    results.update(await exchange_phase(seated, ice, server_pid, "signalling", spread, trickle_ms))
    results.update(await exchange_phase(seated, ice, server_pid, "signalling_burst", 0.0, 0.0))
    await asyncio.gather(*(c.client.disconnect() for _p, d, p in seated for c in (d, p)), return_exceptions=True)
    results["load_average"] = f"{os.getloadavg()[0]:.1f}"
    return results


async def exchange_phase(seated: list[tuple[dict, Side, Side]], ice: int, server_pid: int | None, name: str,
                         spread: float, trickle_ms: float) -> dict[str, str]:
    """Every seated room exchanges an offer, an answer and ``ice`` candidates a side. Each room
    starts after a random delay under ``spread`` seconds (0: all at once) and sends its candidates
    ``trickle_ms`` apart (0: all at once). Lines named ``name``_p99_ms and so on."""
    sent: dict[str, tuple[float, Side]] = {}
    refused = 0
    rng = random.Random(15)

    async def signal(pair: dict, sender: Side, receiver: Side, kind: str, payload: dict, key: str) -> None:
        nonlocal refused
        payload = {**payload, "id": key}
        sent[key] = (time.time(), receiver)
        answer = await sender.client.call("call:signal", {"appointment_id": pair["appointment_id"],
                                                          "to": receiver.sid, "kind": kind, "data": payload},
                                          timeout=30)
        if not answer.get("ok"):
            refused += 1

    async def candidates(pair: dict, sender: Side, receiver: Side, side: str) -> None:
        room = pair["appointment_id"]
        sending = []
        for i in range(ice):
            if trickle_ms and i:
                await asyncio.sleep(trickle_ms / 1000)
            sending.append(asyncio.ensure_future(signal(
                pair, sender, receiver, "ice", {"candidate": f"candidate:{i} 1 udp 2122260223 10.0.0.{i} 5{i:04d} typ "
                                                             "host", "sdpMid": "0"}, f"{name}:{room}:ice:{side}:{i}")))
        await asyncio.gather(*sending)

    async def exchange(pair: dict, doctor: Side, patient: Side, delay: float) -> None:
        room = pair["appointment_id"]
        await asyncio.sleep(delay)
        await signal(pair, patient, doctor, "offer", {"type": "offer", "sdp": SDP}, f"{name}:{room}:offer")
        await signal(pair, doctor, patient, "answer", {"type": "answer", "sdp": SDP}, f"{name}:{room}:answer")
        await asyncio.gather(candidates(pair, patient, doctor, "p"), candidates(pair, doctor, patient, "d"))

    cpu_before = _cpu_ms(server_pid) if server_pid else 0.0
    client_cpu_before = time.process_time()
    await asyncio.gather(*(exchange(pair, doctor, patient, rng.uniform(0, spread) if spread else 0.0)
                           for pair, doctor, patient in seated))
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while any(key not in receiver.got for key, (_at, receiver) in sent.items()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    server_cpu = (_cpu_ms(server_pid) - cpu_before) if server_pid else float("nan")
    client_cpu = (time.process_time() - client_cpu_before) * 1000
    latencies = [(receiver.got[key] - at) * 1000 for key, (at, receiver) in sent.items() if key in receiver.got]
    lost = len(sent) - len(latencies)
    complete = sum(1 for pair, doctor, patient in seated
                   if all(key in receiver.got for key, (_at, receiver) in sent.items()
                          if key.startswith(f"{name}:{pair['appointment_id']}:")))
    prefix = "signalling" if name == "signalling" else name
    return {f"{prefix}_rooms": str(complete),
            f"{prefix}_p99_ms": f"{_percentile(latencies, 99):.1f}" if latencies else "nan",
            f"{prefix}_p50_ms": f"{statistics.median(latencies):.1f}" if latencies else "nan",
            f"{prefix}_signals": str(len(latencies)), f"{prefix}_lost": str(lost),
            f"{prefix}_refused": str(refused), f"{prefix}_server_cpu_ms": f"{server_cpu:.0f}",
            f"{prefix}_client_cpu_ms": f"{client_cpu:.0f}"}


# Chromium with a fake camera and microphone (a test pattern and a tone), as tests/test_browser_video_call.py.
MEDIA_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
              "--disable-features=WebRtcHideLocalIpsWithMdns"]
# On the doctor's page: click "Admit" and time it to the first decoded frame of the patient's video.
ADMIT_TO_FRAME = """() => new Promise((resolve, reject) => {
    const started = performance.now();
    document.querySelector('.video-call-waiter button').click();
    const look = () => {
        const video = document.querySelector('.video-call-remote video');
        if (video && video.videoWidth > 0) { resolve(performance.now() - started); return; }
        if (performance.now() - started > 20000) { reject(new Error('no video in 20 s')); return; }
        setTimeout(look, 2);
    };
    look();
})"""


def join_to_media(url: str, pairs: list[dict], numbers: list[int]) -> dict[str, str]:
    """One video visit per number, each in two fresh Chromium pages (Debian's /usr/bin/chromium,
    fake media): the patient opens the portal's call page and waits, the doctor opens his and
    sees them waiting; then the time from the doctor's "Admit" to the first video frame of the
    patient received on the doctor's page (signalling, ICE on loopback, DTLS, the first frame)."""
    from playwright.sync_api import sync_playwright

    def login(context: Any, username: str) -> Any:
        page = context.new_page()
        page.goto(f"{url}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "Bench-Passw0rd!")
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state()
        return page

    times: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=MEDIA_ARGS)
        try:
            for number in numbers:
                appointment_id = pairs[number]["appointment_id"]
                doctor_context, patient_context = browser.new_context(), browser.new_context()
                try:
                    patient = login(patient_context, f"bench-pt-{number}")
                    patient.goto(f"{url}/portal/appointments/{appointment_id}/video")
                    patient.locator('[data-part="camera"] option').first.wait_for(state="attached")
                    patient.click('[data-action="join"]')
                    patient.locator('[data-part="waiting"]').wait_for()
                    doctor = login(doctor_context, f"bench-doc-{number}")
                    doctor.goto(f"{url}/clinic/video/{appointment_id}")
                    doctor.locator('[data-part="camera"] option').first.wait_for(state="attached")
                    doctor.click('[data-action="join"]')
                    doctor.locator(".video-call-waiter").wait_for()
                    times.append(doctor.evaluate(ADMIT_TO_FRAME))
                finally:
                    doctor_context.close()
                    patient_context.close()
        finally:
            browser.close()
    return {"join_to_media_rounds": str(len(times)),
            "join_to_media_ms_p50": f"{statistics.median(times):.0f}" if times else "n/a",
            "join_to_media_ms_max": f"{max(times):.0f}" if times else "n/a"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 ICE candidates a side instead of 8")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--ice", type=int, default=None)
    parser.add_argument("--spread", type=float, default=2.0,
                        help="seconds over which the rooms start their exchange (0: all at once)")
    parser.add_argument("--trickle-ms", type=float, default=20.0,
                        help="milliseconds between one side's ICE candidates, as a browser gathers them")
    parser.add_argument("--media", type=int, default=None,
                        help="video visits measured in two Chromium pages (default 3 with --quick, else 10; 0: none)")
    args = parser.parse_args()
    if args.media is None:
        args.media = 3 if args.quick else 10
    ice = args.ice or (2 if args.quick else 8)
    instance = tempfile.mkdtemp(prefix="clinic-bench-telecall-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(instance) / "server.log", "w")
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "MONGO_URI", "DATABASE_URL", "SOCKETIO_ASYNC_MODE"}}
    env.update(TELECALL_INSTANCE=instance, TELECALL_ROOMS=str(args.rooms), TELECALL_MEDIA_ROUNDS=str(args.media))
    server = subprocess.Popen(server_command(port), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        if not line or line[0] != "ready":
            raise SystemExit(f"the server did not start: {(Path(instance) / 'server.log').read_text()[-3000:]}")
        server_pid, mode = int(line[1]), line[2]
        print(f"server: gevent (socketio {mode})", flush=True)
        pairs = json.loads(Path(instance, "tokens.json").read_text())
        for name, value in asyncio.run(run_rooms(url, pairs[:args.rooms], ice, server_pid, args.spread,
                                                            args.trickle_ms)).items():
            print(f"{name}: {value}", flush=True)
        if args.media:
            for name, value in join_to_media(url, pairs, list(range(args.rooms, args.rooms + args.media))).items():
                print(f"{name}: {value}", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
