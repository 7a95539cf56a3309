"""Logs kept as documents, on PostgreSQL: what keeping them costs a request, and how fast the
admin log viewer finds events among many.

    .venv/bin/python bench/log_writes.py --quick     # 20,000 kept events (well under a minute)
    .venv/bin/python bench/log_writes.py             # 1,000,000 kept events

Prints `name: value` lines:
- log_write_overhead_us: the median request's time with document logging on minus off (the same
  page, ``GET /login/``, through the test client, on and off interleaved in rounds; its access
  event is the one kept);
- log_emit_us: the logging call's own added time per kept event (a direct measure of the same,
  which the request's noise can hide);
- log_events: events in the store; log_search_ms_p50 / log_search_ms_p95: the viewer's queries
  (one request's events, a level in the last hour, a user's, a status, words in the message) over
  them; log_dropped: events the writer had to drop during the run (0 expected).
A scratch database is built with the migrations and dropped afterwards.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="clinic-bench-logs-")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_postgres  # noqa: E402
from config import Config  # noqa: E402

LEVELS = ["INFO"] * 90 + ["WARNING"] * 8 + ["ERROR"] * 2
ROUTES = ["/patientview/list/", "/patientview/show/<pk>", "/api/v1/realtime/state", "/cashier/pay",
          "/pharmacy/dispense/<int:prescription_id>", "/my-day/"]
QUERY_KINDS = ("request", "level_last_hour", "user", "status_last_day", "text_last_day")
WORDS = ["saved", "refused", "queued", "sent", "stock low", "payment", "reminder", "timeout", "slot taken"]


def seed_events(store, count: int, now: datetime) -> list[str]:
    """``count`` events over the last 30 days, in batches; returns some of their request ids."""
    from app.services.log_events import COLLECTION, source_of

    rng = random.Random(7)
    request_ids: list[str] = []
    batch: list[dict] = []
    span = 30 * 86400
    for n in range(count):
        request_id = f"r{n // 3:09d}"
        event = {"created_at": now - timedelta(seconds=span * (count - n) / count), "level": rng.choice(LEVELS),
                 "logger": "app.access", "message": f"{rng.choice(WORDS)} {n}", "request_id": request_id,
                 "user_id": rng.randint(1, 60), "route": rng.choice(ROUTES), "method": "GET",
                 "status": rng.choice([200] * 20 + [302, 404, 409, 500]), "duration_ms": rng.random() * 80}
        event["source"] = source_of(event)
        batch.append(event)
        if n % 997 == 0:
            request_ids.append(request_id)
        if len(batch) == 5000:
            store.insert_many(COLLECTION, batch)
            batch = []
    if batch:
        store.insert_many(COLLECTION, batch)
    return request_ids


def time_requests(client, handler, store, app, rounds: int, per_round: int) -> tuple[float, float]:
    """Median request time (seconds) with the handler detached and attached, interleaved."""
    off: list[float] = []
    on: list[float] = []
    for _ in range(rounds):
        for keeping, times in ((False, off), (True, on)):
            handler.attach(app if keeping else None, store if keeping else None)
            for _ in range(per_round):
                started = time.perf_counter()
                client.get("/login/")
                times.append(time.perf_counter() - started)
            handler.drain(30)
    handler.attach(None, None)
    return statistics.median(off), statistics.median(on)


def time_emit(handler, store, app, calls: int) -> float:
    """The logging call's added time per kept event, in seconds."""
    log = logging.getLogger("bench.logs")
    log.setLevel(logging.INFO)
    log.propagate = False  # only the handler under test: the console's cost is the same either way
    results = []
    for keeping in (False, True):
        log.handlers = [handler] if keeping else []
        handler.attach(app, store)
        spent = 0.0
        for chunk in range(0, calls, 2000):  # below the queue's size: dropping would cost less than keeping
            started = time.perf_counter()
            for n in range(chunk, min(calls, chunk + 2000)):
                log.info("event %d", n, extra={"status": 200})
            spent += time.perf_counter() - started
            handler.drain(30)  # the writer's own time is not the caller's (it runs beside it)
        results.append(spent)
    log.handlers = []
    handler.attach(None, None)
    return (results[1] - results[0]) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 kept events")
    parser.add_argument("--events", type=int, help="kept events (default 1,000,000; 20,000 with --quick)")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    count = args.events or (20_000 if args.quick else 1_000_000)

    from flask_migrate import upgrade

    from app import create_app, log_store
    from app.services import log_events
    from app.services.log_events import LogFilters

    sys.stderr = open(os.devnull, "w")  # the console handler's lines cost the same on and off
    with scratch_postgres(args.postgres) as url:
        class BenchConfig(Config):
            SQLALCHEMY_DATABASE_URI = url
            LOG_DOCUMENTS = False  # attached by hand, on and off
            LOG_FORMAT = "json"
            RATELIMIT_ENABLED = False
            SCHEDULER_IN_PROCESS = False
            REDIS_URL = ""

        app = create_app(BenchConfig)
        with app.app_context():
            upgrade()
        store = app.extensions["documents"]
        handler = log_store.handler()
        client = app.test_client()
        client.get("/login/")  # warm up templates and the pool
        quick = args.quick
        off, on = time_requests(client, handler, store, app, rounds=3 if quick else 8,
                                 per_round=60 if quick else 250)
        emit = time_emit(handler, store, app, 5000 if quick else 50_000)
        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        with app.app_context():
            request_ids = seed_events(store, count, now)
        seed_s = time.perf_counter() - started
        with app.app_context():  # as autovacuum would have done by then on a live database
            from sqlalchemy import text

            from app.extensions import db

            db.session.execute(text("ANALYZE stored_document"))
            db.session.commit()
        queries = []
        rng = random.Random(3)
        for n in range(60 if quick else 200):
            kind = n % 5
            if kind == 0:
                queries.append(("request", rng.choice(request_ids)))
            elif kind == 1:
                level = rng.choice(["WARNING", "ERROR"])
                queries.append(("filters", LogFilters(level=level, since=now - timedelta(hours=1))))
            elif kind == 2:
                queries.append(("filters", LogFilters(user_id=rng.randint(1, 60))))
            elif kind == 3:
                queries.append(("filters", LogFilters(status=500, since=now - timedelta(days=1))))
            else:
                queries.append(("filters", LogFilters(text=rng.choice(WORDS), since=now - timedelta(days=1))))
        timings = []
        by_kind: dict[str, list[float]] = {}
        with app.app_context():
            for n, (kind, query) in enumerate(queries):
                started = time.perf_counter()
                if kind == "request":
                    found = log_events.request_events(store, query)
                    assert found, query
                else:
                    log_events.search_log_events(store, query)
                spent = (time.perf_counter() - started) * 1000
                timings.append(spent)
                by_kind.setdefault(QUERY_KINDS[n % 5], []).append(spent)
        timings.sort()
        print(f"log_write_overhead_us: {(on - off) * 1e6:.1f}")
        print(f"request_us_off: {off * 1e6:.1f}")
        print(f"request_us_on: {on * 1e6:.1f}")
        print(f"log_emit_us: {emit * 1e6:.2f}")
        print(f"log_events: {count}")
        print(f"log_seed_s: {seed_s:.1f}")
        print(f"log_search_ms_p50: {statistics.median(timings):.1f}")
        print(f"log_search_ms_p95: {timings[int(len(timings) * 0.95) - 1]:.1f}")
        print(f"log_dropped: {handler.dropped}")
        for kind, spent in by_kind.items():
            print(f"log_search_ms_max_{kind}: {max(spent):.1f}")
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
