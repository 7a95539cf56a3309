"""What the cache gains on the pages read most (issue 14's benchmark), on PostgreSQL with a seeded
clinic: 100,000 patients (the demo seed, `bench/seed.py`) and its appointments topped up to
1,000,000 (past visits, COPY). A scratch database is created on the server and dropped.

The public part: a replay of 1,000 public page views (the service list, the doctor list, doctor
pages, a doctor's next free times: a fixed random mix, the same in both passes), with a booking
every 50 views (it invalidates that doctor's free times, as on a live site), once with the cache
off and once with it on (an empty cache at the start; Redis too with --redis).

    .venv/bin/python bench/dashboard.py --quick     # 10,000 patients, 100,000 appointments, 300 views
    .venv/bin/python bench/dashboard.py             # 100,000 patients, 1,000,000 appointments, 1,000 views
    .venv/bin/python bench/dashboard.py --redis redis://127.0.0.1:6379/15

Prints `name: value` lines: public_doctors_uncached_ms and public_doctors_cached_ms (medians of a
page view over the replay, misses included), cache_hit_ratio; dashboard_cold_ms (median of the
whole dashboards page, one year by month, the cache's dashboards namespace dropped before each
request, the connection pool warm, over a few one-year ranges interleaved) and dashboard_cached_ms
(the same pages from the cache); plus context lines. A measurement is a function
``measure_x(bench) -> dict[str, str]`` added to ``MEASUREMENTS``.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.booking import copy_rows, ts  # noqa: E402
from bench.helpers import form_login, release_database  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402
from bench.seed import seed_once  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MIX = (("services", 0.15), ("doctors", 0.25), ("doctor", 0.35), ("slots", 0.25))  # kind, share of the views
WARM_UP = 30  # untimed views, cache off, before each pass (templates compiled, connections open)


@dataclass
class Bench:
    """What every measurement gets: the app on the seeded database and what is in it."""
    app: Any
    url: str
    doctors: list[int]
    offers: list[tuple[int, int]]  # (doctor, service) pairs on offer
    patients: list[int]
    views: int
    book_every: int
    results: dict[str, str] = field(default_factory=dict)


def top_up_appointments(url: str, target: int) -> int:
    """Past completed visits added (COPY) until the table holds ``target`` rows: each doctor's on
    their own 20-minute grid, 3 to 10 years back, so none overlaps another of that doctor's."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            have = session.execute(text("SELECT count(*) FROM appointment")).scalar_one()
            missing = target - have
            if missing <= 0:
                return have
            doctors = list(session.execute(text("SELECT id FROM doctor ORDER BY id")).scalars())
            offers = dict(session.execute(text("SELECT doctor_id, min(service_id) FROM doctor_service "
                                               "GROUP BY doctor_id")).all())
            patients = list(session.execute(text("SELECT id FROM patient ORDER BY id")).scalars())
            doctors = [d for d in doctors if d in offers]
            start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=3650)
            now = ts(datetime.now(timezone.utc))

            def lines():
                for i in range(missing):
                    doctor = doctors[i % len(doctors)]
                    at = start + timedelta(minutes=20 * (i // len(doctors)))
                    patient = patients[i % len(patients)]
                    yield (f"{patient}\t{doctor}\t{offers[doctor]}\t{ts(at)}\t{ts(at + timedelta(minutes=20))}\t"
                           f"completed\twalk_in\t{now}\t{now}\n")

            copy_rows(session, "appointment", "patient_id, doctor_id, service_id, start_at, end_at, status, channel, "
                      "created_at, updated_at", lines())
            session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
            return conn.execute(text("SELECT count(*) FROM appointment")).scalar_one()
    finally:
        engine.dispose()


def rebuild_rollups(url: str) -> float:
    """The dashboards' rollups made again after the bulk COPY (no write hook saw it), as
    ``flask dashboards rebuild`` does; its seconds."""
    from sqlalchemy import create_engine

    from app.services.dashboards import rollups

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            rollups.rebuild(session, TZ)
            session.commit()
            seconds = time.perf_counter() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        return seconds
    finally:
        engine.dispose()


def make_app(url: str, redis_url: str, prefix: str) -> Any:
    from app import create_app
    from app.services import appointment_hooks
    from config import Config

    # The bench's bookings tell nobody (no notice jobs, no live updates): only their cache invalidation counts.
    appointment_hooks.appointment_booked = lambda *args, **kwargs: None  # type: ignore[assignment]
    return create_app(Config, SQLALCHEMY_DATABASE_URI=url, REDIS_URL=redis_url, CACHE_KEY_PREFIX=prefix,
                      RATELIMIT_ENABLED=False, SCHEDULER_IN_PROCESS=False, FAB_UPDATE_PERMS=False,
                      CLINIC_TIMEZONE=str(TZ))


def plan(bench: Bench, seed: int = 14) -> list[str]:
    """The replay's URLs (the same in both passes)."""
    rng = random.Random(seed)
    kinds = [kind for kind, _share in MIX]
    weights = [share for _kind, share in MIX]
    urls = []
    for _ in range(bench.views):
        kind = rng.choices(kinds, weights)[0]
        if kind == "services":
            urls.append("/clinic/services")
        elif kind == "doctors":
            urls.append("/clinic/doctors")
        elif kind == "doctor":
            urls.append(f"/clinic/doctors/{rng.choice(bench.doctors)}")
        else:
            doctor, service = rng.choice(bench.offers)
            urls.append(f"/clinic/book?service={service}&doctor={doctor}")
    return urls


def book_first_free(bench: Bench, rng: random.Random) -> None:
    """A booking of a doctor's first free time, as the front desk would make it (invalidates that
    doctor's free times in the cache, after its commit)."""
    from app.extensions import db
    from app.services import booking
    from app.services.errors import DomainError
    from app.services.settings import ClinicSettings

    doctor, service = rng.choice(bench.offers)
    settings = ClinicSettings.from_config(bench.app.config)
    today = settings.today()
    with bench.app.app_context():
        slots = booking.free_slots(db.session, doctor_id=doctor, service_id=service, date_from=today,
                                   date_to=today + timedelta(days=13), settings=settings)
        if slots:
            try:
                booking.book_appointment(db.session, patient_id=rng.choice(bench.patients), doctor_id=doctor,
                                         service_id=service, start=slots[0].start, settings=settings, channel="phone")
            except DomainError:
                db.session.rollback()
        db.session.remove()


def replay(bench: Bench, urls: list[str], cached: bool) -> list[float]:
    store = bench.app.extensions["cache"]
    client = bench.app.test_client()
    rng = random.Random(7)
    store.enabled = False
    for url in urls[:WARM_UP]:
        client.get(url)
    store.enabled = cached
    store.clear_local()
    store.reset_stats()
    timings = []
    for number, url in enumerate(urls, start=1):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
        if bench.book_every and number % bench.book_every == 0:
            book_first_free(bench, rng)
    return timings


def measure_public(bench: Bench) -> dict[str, str]:
    urls = plan(bench)
    uncached = replay(bench, urls, cached=False)
    cached = replay(bench, urls, cached=True)
    store = bench.app.extensions["cache"]
    store.send_counts()
    counts = store.stats()
    hits = sum(c["hits"] for c in counts.values())
    lookups = hits + sum(c["misses"] for c in counts.values())
    lines = {
        "public_views": str(len(urls)),
        "public_doctors_uncached_ms": f"{statistics.median(uncached):.2f}",
        "public_doctors_cached_ms": f"{statistics.median(cached):.2f}",
        "public_doctors_uncached_p95_ms": f"{statistics.quantiles(uncached, n=20)[-1]:.2f}",
        "public_doctors_cached_p95_ms": f"{statistics.quantiles(cached, n=20)[-1]:.2f}",
        "cache_hit_ratio": f"{hits / lookups:.3f}" if lookups else "n/a",
    }
    for namespace, c in counts.items():
        if c["hits"] or c["misses"]:
            lines[f"cache_{namespace}_hits_misses"] = f"{c['hits']}/{c['misses']}"
    return lines


MANAGER, MANAGER_PASSWORD = "bench-manager", "Bench-Passw0rd!"
MANAGER_TOTP = "BENCHTOTPSECRETJBSWY3DPEHPK3PXP"  # the bench manager's, in its own throwaway database
DASHBOARD_RANGES = 4  # one-year ranges, whole months
DASHBOARD_ROUNDS = 3  # each range this many times cold (and as many from the cache), interleaved


def manager_client(bench: Bench) -> Any:
    """A test client logged in (form and two-step code) as a manager made for the run."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.accounts.second_factor import enrol_with_secret

    with bench.app.app_context():
        sm = bench.app.appbuilder.sm
        sm.sync_roles()
        user = sm.add_user(MANAGER, "Bench", "Manager", "manager@bench.example", sm.find_role("Manager"),
                           password=MANAGER_PASSWORD)
        enrol_with_secret(db.session, user.id, MANAGER_TOTP, utcnow())
        db.session.commit()
        db.session.remove()
    client = bench.app.test_client()
    form_login(bench.app, client, MANAGER, MANAGER_PASSWORD, MANAGER_TOTP)
    return client


def dashboard_ranges(bench: Bench, count: int = DASHBOARD_RANGES) -> list[tuple[date, date]]:
    """``count`` one-year ranges of whole months where the appointments are: the last twelve whole
    months (the demo seed's) and years spread over the bulk-added history (different rows each,
    so PostgreSQL's buffer cache does not answer them all)."""
    with bench.app.app_context():
        from app.extensions import db

        first, last = db.session.execute(text("SELECT min(start_at), max(start_at) FROM appointment")).one()
        db.session.remove()
    this_month = datetime.now(TZ).date().replace(day=1)
    recent = (add_months(this_month, -12), this_month - timedelta(days=1))
    oldest = add_months(first.astimezone(TZ).date().replace(day=1), 1)
    newest = add_months(min(last.astimezone(TZ).date().replace(day=1), this_month), -12)
    starts: list[date] = []
    cursor = oldest
    while cursor <= newest and len(starts) < count - 1:  # overlapping years, four months apart
        starts.append(cursor)
        cursor = add_months(cursor, 4)
    return [recent, *((s, add_months(s, 12) - timedelta(days=1)) for s in starts if s != recent[0])]


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def measure_dashboards(bench: Bench) -> dict[str, str]:
    """The whole dashboards page (12 figures, one year by month, no filter), through the app with a
    manager's login: cold (the cache's dashboards namespace dropped before each request, the
    connection pool warm) and from the cache; plus each figure's own time, cold, on one range."""
    from app.extensions import db
    from app.services import cache
    from app.services.dashboards.figures import FIGURES

    client = manager_client(bench)
    store = bench.app.extensions["cache"]
    store.enabled = True
    ranges = dashboard_ranges(bench)

    def page(start: date, end: date) -> float:
        started = time.perf_counter()
        response = client.get("/dashboards/", query_string={"start": start.isoformat(), "end": end.isoformat(),
                                                            "grain": "month"})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"/dashboards/ {start}..{end}: {response.status_code}")
        return elapsed

    def drop() -> None:
        with bench.app.app_context():
            cache.invalidate(cache.DASHBOARDS)
        store.clear_local()

    page(date(2020, 1, 1), date(2020, 12, 31))  # warm-up: templates, the connection pool
    cold: list[float] = []
    warm: list[float] = []
    for _round in range(DASHBOARD_ROUNDS):
        for start, end in ranges:
            drop()
            cold.append(page(start, end))
            warm.extend(page(start, end) for _ in range(3))
    per_figure: dict[str, float] = {}
    start, end = ranges[-1]
    with bench.app.app_context():
        for key, function in FIGURES.items():
            began = time.perf_counter()
            function(db.session, start, end, "month", zone=TZ)
            per_figure[key] = (time.perf_counter() - began) * 1000
        db.session.remove()
    slowest = sorted(per_figure.items(), key=lambda item: -item[1])[:4]
    return {
        "dashboard_ranges": "; ".join(f"{s}..{e}" for s, e in ranges),
        "dashboard_cold_ms": f"{statistics.median(cold):.1f}",
        "dashboard_cold_max_ms": f"{max(cold):.1f}",
        "dashboard_cached_ms": f"{statistics.median(warm):.1f}",
        "dashboard_cached_max_ms": f"{max(warm):.1f}",
        "dashboard_slowest_figures_ms": ", ".join(f"{key}={ms:.1f}" for key, ms in slowest),
    }


# Each measurement runs on the same seeded clinic and app, in this order.
MEASUREMENTS: list[Callable[[Bench], dict[str, str]]] = [measure_public, measure_dashboards]


def run(url: str, patients: int, appointments: int, views: int, book_every: int, redis_url: str) -> None:
    started = time.perf_counter()
    seconds = seed_once(url, patients)
    total = top_up_appointments(url, appointments)
    rebuild_seconds = rebuild_rollups(url)
    print(f"patients: {patients}")
    print(f"appointments: {total}")
    print(f"seed_seconds: {seconds:.1f}")
    print(f"rollup_rebuild_seconds: {rebuild_seconds:.1f}")
    print(f"build_seconds: {time.perf_counter() - started:.1f}")
    prefix = f"clinic-cache-bench-{uuid.uuid4().hex[:8]}"
    app = make_app(url, redis_url, prefix)
    try:
        with app.app_context():
            from app.extensions import db

            doctors = list(db.session.execute(text("SELECT id FROM doctor WHERE active ORDER BY id")).scalars())
            offers = [tuple(row) for row in db.session.execute(text(
                "SELECT ds.doctor_id, ds.service_id FROM doctor_service ds JOIN doctor d ON d.id = ds.doctor_id "
                "JOIN service s ON s.id = ds.service_id WHERE d.active AND s.active ORDER BY 1, 2")).all()]
            patient_ids = list(db.session.execute(text("SELECT id FROM patient ORDER BY id LIMIT 5000")).scalars())
            db.session.remove()
        print(f"doctors: {len(doctors)}")
        print(f"cache_levels: {'in-process+redis' if redis_url else 'in-process'}")
        bench = Bench(app, url, doctors, offers, patient_ids, views, book_every)  # type: ignore[arg-type]
        for measurement in MEASUREMENTS:
            for name, value in measurement(bench).items():
                print(f"{name}: {value}")
    finally:
        store = app.extensions["cache"]
        if store.redis is not None:
            keys = list(store.redis.scan_iter(match=f"{prefix}:*"))
            if keys:
                store.redis.delete(*keys)
        release_database(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10,000 patients, 100,000 appointments and 300 views instead of 100,000, "
                             "1,000,000 and 1,000")
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--appointments", type=int, default=None)
    parser.add_argument("--views", type=int, default=None, help="public page views replayed")
    parser.add_argument("--book-every", type=int, default=50, help="a booking every N views (0: none)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server URL; a scratch database is used there")
    parser.add_argument("--redis", default="", help="Redis for the cache's second level (keys under a "
                        "prefix of the run's own, deleted afterwards); none: in-process level only")
    args = parser.parse_args()
    patients = args.patients or (10_000 if args.quick else 100_000)
    appointments = args.appointments or (100_000 if args.quick else 1_000_000)
    views = args.views or (300 if args.quick else 1_000)
    started = time.perf_counter()
    with scratch_postgres(args.postgres) as url:
        run(url, patients, appointments, views, args.book_every, args.redis)
    print(f"total_seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
