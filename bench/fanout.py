"""Live-update fan-out: N python-socketio clients (WebSocket transport, asyncio, offering
permessage-deflate as browsers do) connected to ONE server process, then a waiting-list change
(``realtime_hooks.queue_changed``) sent to all of them, several times. The server is the
production one (README "Running on real services"): ``gunicorn -k gevent -w 1``, Socket.IO in
gevent mode; ``--server threading`` runs ``run.py``'s Werkzeug threaded server instead (Socket.IO
in threading mode, a thread per connection), for comparison. No Redis; a throw-away SQLite
database; every client logs in with the same receptionist's JWT, so each is in
``role:Receptionist``, one of the rooms a queue change goes to.

    .venv/bin/python bench/fanout.py --quick      # 1,000 clients, 3 broadcasts (about half a minute)
    .venv/bin/python bench/fanout.py              # 1,000 clients, 10 broadcasts
    .venv/bin/python bench/fanout.py --clients 200 --rounds 5 --server threading

Prints `name: value` lines: server (which, and Socket.IO's mode), clients (connected), p50_ms and
p99_ms (from the moment the hook is called to the moment each client has the event, over every
client and broadcast; both processes read the same clock), lost (events not received within
10 s; must be 0), connect_s, rounds, failed_connects, server_send_ms (how long the hook took to
hand the event to every connection, the median of the broadcasts), server_cpu_ms and
client_cpu_ms (CPU time, user and system, of the server process and of this one, all 1,000
clients, per broadcast: the median; steadier than p99 on a shared machine), receipt_spread_ms
(first to last client's receipt) and load_average (the machine's, at the end: a busy machine
shows in p99); then chat_msgs_per_s (100 conversations exchanging messages, run by
``bench/chat.py``; leave it out with --no-chat). Target: p99 under 250 ms on 2 cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
USERNAME, PASSWORD = "bench-desk", "Bench-Passw0rd!"
RECEIVE_TIMEOUT = 10.0  # seconds after a broadcast; later is lost
CONNECT_AT_ONCE = 50  # clients connecting at the same time (the server's listen queue is 128)

# Further measurements over the same connected clients: each is called with (url, token,
# clients, quick) after the fan-out and returns its `name: value` lines.
EXTRA_MEASUREMENTS: list[Callable[[str, str, list[Any], bool], Awaitable[dict[str, str]]]] = []


def chat_rate(quick: bool) -> dict[str, str]:
    """`chat_msgs_per_s`: 100 conversations exchanging messages through the chat service
    (``bench/chat.py``, its own scratch database), run after the fan-out so the two do not share
    the cores."""
    command = [sys.executable, str(ROOT / "bench" / "chat.py")] + (["--quick"] if quick else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    found = dict(line.split(": ", 1) for line in done.stdout.splitlines() if line.startswith("chat_"))
    return found or {"chat_msgs_per_s": "nan"}


# --- the server (child process) -----------------------------------------------------------------


def bench_app() -> Any:
    """The app on a fresh SQLite database (in ``$FANOUT_INSTANCE``) with one receptionist, plus
    ``POST /bench/queue-changed`` (this bench only): it calls the real hook and answers the moment
    it started sending. Prints ``ready <pid>`` (the process the clients connect to)."""
    instance = os.environ["FANOUT_INSTANCE"]
    os.environ["INSTANCE_PATH"] = instance
    sys.path.insert(0, str(ROOT))
    from flask import jsonify
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services import realtime_hooks
    from config import Config

    class BenchConfig(Config):
        REDIS_URL = ""
        RATELIMIT_ENABLED = False
        SCHEDULER_IN_PROCESS = False
        MFA_REQUIRED_ROLES = ""
        SOCKETIO_PING_INTERVAL = 60
        WTF_CSRF_ENABLED = False  # the bench's own POST /bench/queue-changed has no page to carry a token

    app = create_app(BenchConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance}/fanout.db")
    with app.app_context():
        upgrade()
        sm = app.appbuilder.sm
        sm.sync_roles()
        sm.add_user(USERNAME, "Bench", "Desk", "desk@bench.example", sm.find_role("Receptionist"), password=PASSWORD)
        db.session.commit()

    @app.post("/bench/queue-changed")
    def queue_changed():
        from datetime import date

        sent_at = time.time()
        realtime_hooks.queue_changed(1, date.today())
        return jsonify(sent_at=sent_at, done_at=time.time())

    print(f"ready {os.getpid()} {app.extensions['socketio'].async_mode}", flush=True)
    return app


def serve_threaded(port: int) -> None:
    """``--server threading``: Werkzeug's threaded server, as ``run.py`` serves the app."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, bench_app(), threaded=True)
    server.serve_forever()


def server_command(kind: str, port: int) -> list[str]:
    """The server's command line: ``gevent`` is the production way (README "Running on real
    services"): gunicorn, one gevent worker; ``threading`` is ``run.py``'s Werkzeug server."""
    if kind == "threading":
        return [sys.executable, __file__, "--serve", str(port)]
    return [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "2000",
            "-b", f"127.0.0.1:{port}", "--pythonpath", str(ROOT / "bench"), "fanout:bench_app()"]


# --- the clients (this process) -----------------------------------------------------------------


def _post(url: str, body: dict | None = None, headers: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)
    except urllib.error.HTTPError as refused:
        raise SystemExit(f"{url}: {refused.code} {refused.read()[:500]!r}") from refused


def _cpu_ms(pid: int | None) -> float:
    """CPU time (user + system) so far of process ``pid``, or of this process when None, in ms."""
    if pid is None:
        return time.process_time() * 1000
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def run_clients(url: str, token: str, count: int, rounds: int, quick: bool,
                      server_pid: int | None = None, deflate: bool = True) -> dict[str, str]:
    import socketio

    received: list[dict[int, float]] = [dict() for _ in range(rounds)]
    current = {"round": -1}
    clients: list[socketio.AsyncClient] = []
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def connect(index: int) -> None:
        # deflate: offer permessage-deflate, as browsers do (aiohttp does not by default)
        client = socketio.AsyncClient(reconnection=False, websocket_extra_options={"compress": 15 if deflate else 0})

        @client.on("queue")
        async def on_queue(_data: Any, index: int = index) -> None:
            at = time.time()
            r = current["round"]
            if r >= 0:
                received[r].setdefault(index, at)

        async with gate:
            for attempt in range(3):
                try:
                    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=30)
                    clients.append(client)
                    return
                except Exception:  # noqa: BLE001 - retried; a client that never connects is not counted
                    await asyncio.sleep(0.5 * (attempt + 1))

    started = time.monotonic()
    await asyncio.gather(*(connect(i) for i in range(count)))
    connect_s = time.monotonic() - started
    await asyncio.sleep(1.0)  # every connect handler has put its client in its rooms

    latencies: list[float] = []
    send_ms: list[float] = []
    server_cpu: list[float] = []
    client_cpu: list[float] = []
    spread: list[float] = []
    lost = 0
    loop = asyncio.get_running_loop()
    for r in range(rounds):
        current["round"] = r
        cpu_before = (_cpu_ms(server_pid) if server_pid else 0.0), _cpu_ms(None)
        answer = await loop.run_in_executor(None, _post, f"{url}/bench/queue-changed", None,
                                            {"Authorization": f"Bearer {token}"})
        sent_at = float(answer["sent_at"])
        send_ms.append((float(answer["done_at"]) - sent_at) * 1000)
        deadline = time.monotonic() + RECEIVE_TIMEOUT
        while len(received[r]) < len(clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if server_pid:
            server_cpu.append(_cpu_ms(server_pid) - cpu_before[0])
        client_cpu.append(_cpu_ms(None) - cpu_before[1])
        latencies += [(at - sent_at) * 1000 for at in received[r].values()]
        if received[r]:
            spread.append((max(received[r].values()) - min(received[r].values())) * 1000)
        lost += len(clients) - len(received[r])
        await asyncio.sleep(0.5)

    results = {"clients": str(len(clients)), "p50_ms": f"{statistics.median(latencies):.1f}" if latencies else "nan",
               "p99_ms": f"{_percentile(latencies, 99):.1f}" if latencies else "nan", "lost": str(lost),
               "connect_s": f"{connect_s:.1f}", "rounds": str(rounds), "failed_connects": str(count - len(clients)),
               "server_send_ms": f"{statistics.median(send_ms):.1f}" if send_ms else "nan",
               "server_cpu_ms": f"{statistics.median(server_cpu):.0f}" if server_cpu else "nan",
               "client_cpu_ms": f"{statistics.median(client_cpu):.0f}" if client_cpu else "nan",
               "receipt_spread_ms": f"{statistics.median(spread):.1f}" if spread else "nan",
               "load_average": f"{os.getloadavg()[0]:.1f}"}
    for measure in EXTRA_MEASUREMENTS:
        results.update(await measure(url, token, clients, quick))
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    return results


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 broadcasts instead of 10")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-chat", action="store_true", help="leave out chat_msgs_per_s (bench/chat.py)")
    parser.add_argument("--server", choices=("gevent", "threading"), default="gevent",
                        help="gevent: gunicorn -k gevent -w 1 (production); threading: run.py's Werkzeug server")
    parser.add_argument("--no-deflate", action="store_true",
                        help="clients do not offer permessage-deflate (browsers do; aiohttp does not by default)")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve_threaded(args.serve)
        return
    rounds = args.rounds or (3 if args.quick else 10)
    instance = tempfile.mkdtemp(prefix="clinic-bench-fanout-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(instance) / "server.log", "w")
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "MONGO_URI", "DATABASE_URL", "SOCKETIO_ASYNC_MODE"}}
    env["FANOUT_INSTANCE"] = instance
    server = subprocess.Popen(server_command(args.server, port), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=log, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        if not line or line[0] != "ready":
            raise SystemExit(f"the server did not start: {(Path(instance) / 'server.log').read_text()[-3000:]}")
        server_pid, mode = int(line[1]), line[2]
        print(f"server: {args.server} (socketio {mode})", flush=True)
        for _ in range(100):
            try:
                token = _post(f"{url}/api/v1/security/login",
                              {"username": USERNAME, "password": PASSWORD, "provider": "db"})["access_token"]
                break
            except OSError:
                time.sleep(0.1)
        results = asyncio.run(run_clients(url, token, args.clients, rounds, args.quick, server_pid,
                                          deflate=not args.no_deflate))
        for name, value in results.items():
            print(f"{name}: {value}", flush=True)
        if not args.no_chat:
            for name, value in chat_rate(args.quick).items():
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
