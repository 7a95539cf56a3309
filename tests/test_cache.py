"""The two-level cache (app/services/cache.py): hits and misses, the in-process TTL, invalidation
by scope and namespace, invalidation across processes through a real Redis (db 15, a prefix of
this test's own), never a taken slot shown free, Redis down, the admin page."""
from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from redis import Redis

from app.services import cache
from app.services.cache import TwoLevelCache

REDIS_URL = "redis://127.0.0.1:6379/15"
SLOT_LINK = re.compile(r"/clinic/book/confirm\?[^\"]*start=([0-9T:%A-Z-]+)")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts its calls; returns ``value`` (settable between calls)."""

    def __init__(self, value: object = "v1") -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def prefix():
    """This test's own key prefix on Redis db 15; its keys are deleted afterwards."""
    tag = f"h-cache-test-{uuid.uuid4().hex[:10]}"
    yield tag
    connection = Redis.from_url(REDIS_URL)
    for queue in connection.scan_iter(match=f"rq:queue:{tag}:*"):  # the web processes' notice jobs
        if connection.type(queue) == b"list":
            for job in connection.lrange(queue, 0, -1):
                connection.delete(b"rq:job:" + job)
    for member in connection.smembers("rq:queues"):
        if tag.encode() in member:
            connection.srem("rq:queues", member)
    keys = list(connection.scan_iter(match=f"*{tag}*"))
    if keys:
        connection.delete(*keys)
    connection.close()


def shared(prefix: str, **kwargs) -> TwoLevelCache:
    """One process's cache on the shared Redis."""
    return TwoLevelCache(redis_url=REDIS_URL, prefix=prefix, **kwargs)


# --- one process, no Redis ---------------------------------------------------------------------


def test_the_second_read_is_a_hit_and_the_counters_say_so():
    store, load = TwoLevelCache(), Loader()
    assert store.cached(cache.DOCTORS, ("active",), load) == "v1"
    assert store.cached(cache.DOCTORS, ("active",), load) == "v1"
    assert store.cached(cache.DOCTORS, ("page", 1), Loader("page")) == "page"
    assert load.calls == 1
    assert store.stats()[cache.DOCTORS] == {"hits": 1, "misses": 2}
    assert store.stats()[cache.SLOTS] == {"hits": 0, "misses": 0}
    store.reset_stats()
    assert store.stats()[cache.DOCTORS] == {"hits": 0, "misses": 0}


def test_the_in_process_copy_lives_for_its_ttl_only():
    clock = Clock()
    store, load = TwoLevelCache(local_ttl=30, clock=clock), Loader()
    store.cached(cache.SERVICES, ("active",), load)
    clock.now += 29
    store.cached(cache.SERVICES, ("active",), load)
    assert load.calls == 1
    clock.now += 2
    load.value = "v2"
    assert store.cached(cache.SERVICES, ("active",), load) == "v2"
    assert load.calls == 2


def test_invalidating_a_doctor_drops_that_doctors_slots_only_and_a_namespace_drops_all():
    store = TwoLevelCache()
    first, second = Loader("d1"), Loader("d2")
    store.cached(cache.SLOTS, (5,), first, scope=1)
    store.cached(cache.SLOTS, (5,), second, scope=2)
    store.invalidate(cache.SLOTS, 1)
    store.cached(cache.SLOTS, (5,), first, scope=1)
    store.cached(cache.SLOTS, (5,), second, scope=2)
    assert (first.calls, second.calls) == (2, 1)
    store.invalidate(cache.SLOTS)
    store.cached(cache.SLOTS, (5,), first, scope=1)
    store.cached(cache.SLOTS, (5,), second, scope=2)
    assert (first.calls, second.calls) == (3, 2)


def test_a_failing_load_is_not_cached():
    store = TwoLevelCache()

    def broken() -> str:
        raise LookupError("no such doctor")

    with pytest.raises(LookupError):
        store.cached(cache.DOCTORS, ("page", 9), broken)
    assert store.cached(cache.DOCTORS, ("page", 9), Loader(None)) is None


@cache.value_type
@dataclass(frozen=True)
class Card:
    name: str
    fee: Decimal
    at: datetime


@dataclass(frozen=True)
class Unregistered:
    name: str


def test_values_are_json_with_money_times_and_registered_dataclasses_only():
    value = (Card("Bình", Decimal("200000.50"), datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)), None, 3)
    raw = cache.dumps(value)
    assert raw.startswith(b"[") and "Bình".encode() in raw  # JSON, not a pickle
    back = cache.loads(raw)
    assert back[0] == value[0] and back[0].fee == Decimal("200000.50") and back[0].at.tzinfo is not None
    with pytest.raises(TypeError):
        cache.dumps(Unregistered("x"))
    with pytest.raises(KeyError):  # a name nobody registered is never turned into an object
        cache.loads(b'{"$dc":"os.system","f":{}}')


# --- processes sharing a real Redis ------------------------------------------------------------


@pytest.mark.needs_redis
def test_a_write_in_one_process_is_seen_at_once_by_another_holding_a_copy(prefix):
    first, second = shared(prefix, local_ttl=600), shared(prefix, local_ttl=600)
    load = Loader(["09:00", "09:15"])
    assert first.cached(cache.SLOTS, (5,), load, scope=7) == ["09:00", "09:15"]
    assert second.cached(cache.SLOTS, (5,), load, scope=7) == ["09:00", "09:15"]  # from Redis
    assert second.cached(cache.SLOTS, (5,), load, scope=7) == ["09:00", "09:15"]  # from its memory
    assert load.calls == 1
    load.value = ["09:15"]  # 09:00 booked in the first process, which then invalidates
    first.invalidate(cache.SLOTS, 7)
    assert second.cached(cache.SLOTS, (5,), load, scope=7) == ["09:15"]
    assert first.cached(cache.SLOTS, (5,), load, scope=7) == ["09:15"]
    assert load.calls == 2
    # All processes' counters together, in Redis: the first's sent, the second's own added.
    first.send_counts()
    assert second.stats()[cache.SLOTS] == {"hits": 3, "misses": 2}
    second.send_counts()
    assert first.stats()[cache.SLOTS] == {"hits": 3, "misses": 2}


@pytest.mark.needs_redis
def test_a_load_that_raced_with_a_booking_is_never_served_afterwards(prefix):
    """The second process reads the slots while the first books: its load (from before the
    booking's commit) is stored under the old generation, which nobody reads again."""
    first, second = shared(prefix, local_ttl=600), shared(prefix, local_ttl=600)

    def load_during_a_booking() -> list[str]:
        first.invalidate(cache.SLOTS, 7)  # the booking commits while this load runs
        return ["09:00", "09:15"]  # what the database said before it

    assert second.cached(cache.SLOTS, (5,), load_during_a_booking, scope=7) == ["09:00", "09:15"]
    after = Loader(["09:15"])
    assert second.cached(cache.SLOTS, (5,), after, scope=7) == ["09:15"]
    assert first.cached(cache.SLOTS, (5,), after, scope=7) == ["09:15"]


@pytest.mark.needs_redis
def test_a_redis_that_lost_its_data_never_brings_back_an_old_copy(prefix):
    first, second = shared(prefix, local_ttl=600), shared(prefix, local_ttl=600)
    load = Loader(["09:00"])
    first.invalidate(cache.SLOTS, 7)
    second.cached(cache.SLOTS, (5,), load, scope=7)  # kept under the generation after one write
    first.invalidate(cache.SLOTS, 7)  # the 09:00 booking
    connection = Redis.from_url(REDIS_URL)
    connection.delete(*connection.scan_iter(match=f"{prefix}:*"))  # restarted without persistence
    first.invalidate(cache.SLOTS, 7)  # the generation starts anew, never where it was
    load.value = []
    assert second.cached(cache.SLOTS, (5,), load, scope=7) == []
    assert load.calls == 2


def _slot_starts(page: str) -> list[str]:
    return SLOT_LINK.findall(page)


@pytest.mark.needs_redis
def test_booking_in_one_process_never_leaves_the_other_showing_the_taken_slot(app, client, clinic, prefix,
                                                                               monkeypatch):
    """Two processes' caches (each its own memory, one Redis) in front of the same database: the
    doctor page served by the second, warm, never offers the time just booked through the first."""
    from app.extensions import db
    from app.services import booking
    from app.services.settings import ClinicSettings

    first, second = shared(prefix, local_ttl=600), shared(prefix, local_ttl=600)
    url = f"/clinic/doctors/{clinic.doctor}"
    assert clinic.service

    def page_in(process: TwoLevelCache) -> str:
        monkeypatch.setitem(app.extensions, "cache", process)
        response = client.get(url)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    shown = _slot_starts(page_in(second))
    assert shown and shown == _slot_starts(page_in(second)) == _slot_starts(page_in(first))
    first.send_counts()
    second.send_counts()
    assert second.stats()[cache.SLOTS] == {"hits": 2, "misses": 1}  # three views, one read of the database
    taken = datetime.strptime(shown[0].replace("%3A", ":"), "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
    monkeypatch.setitem(app.extensions, "cache", first)
    with app.app_context():
        booking.book_appointment(db.session, patient_id=clinic.patient, doctor_id=clinic.doctor,
                                 service_id=clinic.service, start=taken, channel="phone",
                                 settings=ClinicSettings.from_config(app.config))
    after = _slot_starts(page_in(second))
    assert after and shown[0] not in after
    # Cancelling frees it again, everywhere.
    from app.models import Appointment

    with app.app_context():
        appointment = db.session.query(Appointment).filter_by(doctor_id=clinic.doctor).one()
        booking.transition_appointment(db.session, appointment.id, "cancelled", actor_id=None,
                                       settings=ClinicSettings.from_config(app.config), reason="test")
    assert _slot_starts(page_in(first))[0] == shown[0]
    assert _slot_starts(page_in(second))[0] == shown[0]


@pytest.mark.needs_redis
def test_catalogue_and_schedule_edits_reach_every_process(app, client, clinic, api, prefix, monkeypatch):
    first, second = shared(prefix, local_ttl=600), shared(prefix, local_ttl=600)
    assert clinic.service

    def page_in(process: TwoLevelCache, url: str) -> str:
        monkeypatch.setitem(app.extensions, "cache", process)
        return client.get(url).get_data(as_text=True)

    assert "Khám tổng quát" in page_in(second, "/clinic/services")
    assert "Trần Thị Bình" in page_in(second, "/clinic/doctors")
    monkeypatch.setitem(app.extensions, "cache", first)
    api.put("service", clinic.service, {"name": "Khám sức khỏe"})
    api.put("doctor", clinic.doctor, {"full_name": "Trần Thị Bích"})
    assert "Khám sức khỏe" in page_in(second, "/clinic/services")
    assert "Trần Thị Bích" in page_in(second, "/clinic/doctors")
    assert "Khám sức khỏe" in page_in(second, f"/clinic/doctors/{clinic.doctor}")
    # The doctor's working hours end: no free time left, in the other process too.
    from app.extensions import db
    from app.models import WorkSchedule

    assert _slot_starts(page_in(second, f"/clinic/doctors/{clinic.doctor}"))
    monkeypatch.setitem(app.extensions, "cache", first)
    with app.app_context():
        for row in db.session.query(WorkSchedule).filter_by(doctor_id=clinic.doctor):
            db.session.delete(row)
        db.session.commit()
    assert _slot_starts(page_in(second, f"/clinic/doctors/{clinic.doctor}")) == []


@pytest.mark.needs_redis
def test_a_payment_marks_its_days_revenue_stale_in_every_process(app, clinic, prefix, monkeypatch):
    first, second = shared(prefix, local_ttl=600), shared(prefix, local_ttl=600)
    monkeypatch.setitem(app.extensions, "cache", first)
    invoice = clinic.invoice
    with app.app_context():
        from app.services.settings import ClinicSettings

        day = ClinicSettings.from_config(app.config).today().isoformat()
    revenue = Loader(Decimal(0))
    second.cached(cache.REVENUE, ("total",), revenue, scope=day)
    second.cached(cache.REVENUE, ("total",), revenue, scope=day)
    assert revenue.calls == 1
    clinic.pay(invoice, 10000)
    second.cached(cache.REVENUE, ("total",), revenue, scope=day)
    assert revenue.calls == 2


# --- Redis down --------------------------------------------------------------------------------


def test_redis_down_the_in_process_level_answers_and_free_slots_are_not_cached(prefix):
    store = TwoLevelCache(redis_url=f"redis://127.0.0.1:{closed_port()}/0", prefix=prefix, timeout=0.2)
    doctors, slots = Loader(["Bình"]), Loader(["09:00"])
    for _ in range(3):
        assert store.cached(cache.DOCTORS, ("active",), doctors) == ["Bình"]
        assert store.cached(cache.SLOTS, (5,), slots, scope=7) == ["09:00"]
    assert doctors.calls == 1  # this process's memory
    assert slots.calls == 3  # another process may have booked: the database every time
    store.invalidate(cache.DOCTORS)  # this process's own write still drops its copy
    store.cached(cache.DOCTORS, ("active",), doctors)
    assert doctors.calls == 2
    assert store.status()["status"] == "degraded"
    assert store.stats()[cache.DOCTORS] == {"hits": 2, "misses": 2}


@pytest.mark.needs_redis
def test_invalidations_made_while_redis_was_down_are_replayed_when_it_answers(prefix):
    first, second = shared(prefix, local_ttl=600), shared(prefix, local_ttl=600, retry_seconds=0)
    load = Loader("before")
    first.cached(cache.DOCTORS, ("active",), load)
    assert second.cached(cache.DOCTORS, ("active",), load) == "before"
    reachable = second.redis
    second.redis = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.2)
    load.value = "after"
    second.invalidate(cache.DOCTORS)  # a write in the second process while Redis is away from it
    second.redis = reachable  # back
    assert second.cached(cache.DOCTORS, ("active",), load) == "after"
    assert first.cached(cache.DOCTORS, ("active",), load) == "after"


def test_redis_down_public_pages_answer_and_health_says_the_cache_is_degraded(app, client, clinic, monkeypatch):
    assert clinic.service
    down = TwoLevelCache(redis_url=f"redis://127.0.0.1:{closed_port()}/0", prefix="h-cache-down", timeout=0.2)
    monkeypatch.setitem(app.extensions, "cache", down)
    for url in ("/clinic/", "/clinic/services", "/clinic/doctors", f"/clinic/doctors/{clinic.doctor}",
                f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}"):
        assert client.get(url).status_code == 200, url
    assert client.get("/clinic/doctors").status_code == 200
    assert down.stats()[cache.DOCTORS]["hits"] >= 1
    health = client.get("/health").get_json()
    assert health["checks"]["cache"]["status"] == "degraded"


def test_health_says_embedded_without_redis(app, client):
    assert client.get("/health").get_json()["checks"]["cache"] == {"status": "embedded", "levels": "in-process"}


# --- the admin page ----------------------------------------------------------------------------


def test_the_admin_page_counts_public_page_views_and_resets(app, client, clinic, login_as):
    assert clinic.service
    store: TwoLevelCache = app.extensions["cache"]
    store.reset_stats()
    for _ in range(3):
        client.get("/clinic/doctors")
    admin = login_as("admin")
    page = admin.get("/cache/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(r'data-namespace="doctors">.*?data-hits>(\d+)<.*?data-misses>(\d+)<', html, re.S)
    assert row and (row.group(1), row.group(2)) == ("2", "1")
    assert "Free times of doctors" in html
    refused = admin.post("/cache/reset", csrf=False)
    assert refused.status_code in (303, 400)
    assert store.stats()[cache.DOCTORS]["hits"] == 2  # no token, nothing reset
    assert admin.post("/cache/reset").status_code == 303
    assert store.stats()[cache.DOCTORS] == {"hits": 0, "misses": 0}


@pytest.mark.parametrize("role", ["manager", "receptionist", "doctor", "cashier"])
def test_only_admins_see_the_cache_page(login_as, role):
    browser = login_as(role)
    assert browser.get("/cache/").status_code in (302, 403)
    assert browser.post("/cache/reset").status_code in (302, 403)


# --- two real web processes (run.py, as two gunicorn workers) ----------------------------------


@pytest.fixture
def process_env(app, db_url, prefix):
    """The environment of this test's web processes: the suite's database and secret, Redis db 15
    with this test's prefix for the cache, the channel and the queues."""
    import os

    from tests.test_realtime_redis import ROOT

    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "MAIL_SERVER"}}
    env.update(DATABASE_URL=db_url, SECRET_KEY=app.config["SECRET_KEY"], REDIS_URL=REDIS_URL,
               CACHE_KEY_PREFIX=prefix, CACHE_TTL_SECONDS="600", SOCKETIO_CHANNEL=prefix,
               RQ_QUEUE_PREFIX=f"{prefix}:", FLASK_APP="app:create_app", PYTHONPATH=str(ROOT), HOST="127.0.0.1",
               MFA_REQUIRED_ROLES="Admin,Manager,Doctor")
    return env


@pytest.fixture
def processes(tmp_path):
    from tests.test_realtime_redis import Server

    started: list = []

    def start(env: dict):
        server = Server(env, tmp_path / f"server{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read().decode()


@pytest.mark.needs_redis
def test_two_web_processes_a_booking_in_one_and_the_other_never_shows_the_slot_free(app, clinic, process_env,
                                                                                    processes):
    import json
    import urllib.request

    from tests.factories import token_headers

    assert clinic.service and clinic.patient
    first, second = processes(process_env), processes(process_env)
    assert first.health["checks"]["cache"]["status"] == "ok"
    page = f"/clinic/doctors/{clinic.doctor}"
    shown = _slot_starts(_get(second.url + page))
    assert shown and _slot_starts(_get(second.url + page)) == shown == _slot_starts(_get(first.url + page))
    start = datetime.strptime(shown[0].replace("%3A", ":"), "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
    body = json.dumps({"patient_id": clinic.patient, "doctor_id": clinic.doctor, "service_id": clinic.service,
                       "start": start.isoformat(), "channel": "phone"}).encode()
    request = urllib.request.Request(f"{first.url}/api/v1/appointments/book", data=body, method="POST", headers={
        **token_headers(app, "receptionist"), "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
    assert shown[0] not in _slot_starts(_get(second.url + page))
    assert shown[0] not in _slot_starts(_get(first.url + page))


@pytest.mark.needs_redis
def test_a_web_process_with_redis_down_answers_and_health_says_degraded(app, clinic, process_env, processes):
    assert clinic.service
    server = processes({**process_env, "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    assert server.health["checks"]["cache"]["status"] == "degraded"
    for url in ("/clinic/", "/clinic/doctors", f"/clinic/doctors/{clinic.doctor}",
                f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}"):
        assert _get(server.url + url)
