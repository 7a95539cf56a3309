"""Free times through the cache beyond the public doctor page: the "any doctor" search
(``booking.first_available``) and the REST API's availability read each doctor's cached slots.
The answers are the same cached and uncached, for a patient and for staff, whatever the time now;
a booking, a cancellation, a change of working hours or an exception shows at once, and reloads
that doctor's part only (counted with the cache's stats); a session with its own uncommitted
change reads the database and leaves nothing in the cache."""
from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.services import booking, cache
from app.services.cache import TwoLevelCache
from app.services.settings import BookingPolicy, ClinicSettings
from tests.factories import DAY, local_time
from tests.redis_helpers import REDIS_URL, delete_keys

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def at(hhmm: str, days_after: int = 0) -> datetime:
    """``hhmm`` clinic time on the test day, in UTC (as slots are)."""
    return datetime.fromisoformat(local_time(hhmm, days_after)).astimezone(timezone.utc)


@pytest.fixture
def store(app) -> TwoLevelCache:
    """The app's cache (in-process only in the suite), counters at zero."""
    found: TwoLevelCache = app.extensions["cache"]
    found.reset_stats()
    return found


def counts(store: TwoLevelCache) -> tuple[int, int]:
    """(hits, misses) of the free times."""
    slots = store.stats()[cache.SLOTS]
    return slots["hits"], slots["misses"]


@pytest.fixture
def second_doctor(api, clinic) -> int:
    """A doctor who works 08:00-12:00 every day and offers the test service too (the clinic's own
    doctor works 07:00-19:00, so is first in the "any doctor" search)."""
    doctor = api.create("doctor", {"full_name": "Lê Văn Sáng", "title": "BS."})
    for weekday in range(7):
        api.create("work_schedule", {"doctor": doctor, "weekday": weekday, "start_time": "08:00:00",
                                     "end_time": "12:00:00", "valid_from": "2020-01-01"})
    response = api.put("service", clinic.service, {"doctors": [clinic.doctor, doctor]})
    assert response.status_code == 200, response.get_json()
    return doctor


def book(api, clinic, doctor: int, hhmm: str) -> int:
    response = api.client.post("/api/v1/appointments/book", headers=api.headers, json={
        "patient_id": clinic.patient, "doctor_id": doctor, "service_id": clinic.service, "start": local_time(hhmm)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def cancel(api, appointment: int) -> None:
    response = api.client.post(f"/api/v1/appointments/{appointment}/cancel", headers=api.headers,
                               json={"reason": "test"})
    assert response.status_code == 200, response.get_json()


# --- the same answer, cached or not ------------------------------------------------------------


def test_cached_and_uncached_free_times_are_the_same_for_patients_and_staff_at_any_time(
        db, api, clinic, second_doctor, store):
    """One cached copy per doctor and grid serves every caller: each keeps its own minimum
    notice (a patient) or slot in progress (staff) and horizon, as the database read does."""
    book(api, clinic, clinic.doctor, "09:00")
    book(api, clinic, second_doctor, "10:00")
    policies = (BookingPolicy(), BookingPolicy(buffer_minutes=10, min_notice=timedelta(hours=2)),
                BookingPolicy(slot_minutes=20, horizon=timedelta(days=5)))
    moments = (None, at("06:00"), at("09:10"), at("11:50"), at("20:00", 1), at("09:00", -10), at("23:59", -6))
    calls = 0
    for policy in policies:
        settings = ClinicSettings(timezone=ZONE, booking=policy)
        for now in moments:
            for by_patient in (True, False):
                for doctor in (clinic.doctor, second_doctor):
                    args = dict(doctor_id=doctor, service_id=clinic.service, date_from=DAY - timedelta(days=1),
                                date_to=DAY + timedelta(days=1), settings=settings, now=now, by_patient=by_patient)
                    assert booking.cached_free_slots(db.session, **args) == booking.free_slots(db.session, **args), \
                        (policy, now, by_patient, doctor)
                    calls += 1
    # Each grid (slot length, buffer) of each doctor was read from the database once.
    assert counts(store) == (calls - len(policies) * 2, len(policies) * 2)

    # Where the callers differ: at 09:10 staff are offered the slot in progress, a patient what
    # lies beyond the hour's notice.
    settings = ClinicSettings(timezone=ZONE)
    args = dict(doctor_id=second_doctor, service_id=clinic.service, date_from=DAY, date_to=DAY, settings=settings,
                now=at("09:10"))
    staff = booking.cached_free_slots(db.session, **args, by_patient=False)
    patient = booking.cached_free_slots(db.session, **args)
    assert staff[0].start == at("09:00") and patient[0].start == at("10:30")  # 10:00-10:20 is booked
    assert staff == booking.free_slots(db.session, **args, by_patient=False)


def test_the_any_doctor_search_is_the_same_with_the_cache_off(app, db, clinic, second_doctor, monkeypatch):
    settings = ClinicSettings.from_config(app.config)

    def any_doctor() -> list[tuple[int, datetime]]:
        return [(doctor.id, slot.start) for doctor, slot in booking.first_available(
            db.session, service_id=clinic.service, date_from=DAY, date_to=DAY + timedelta(days=2),
            settings=settings)]

    cached = any_doctor()
    assert cached == [(clinic.doctor, at("07:00")), (second_doctor, at("08:00"))]
    monkeypatch.setitem(app.extensions, "cache", TwoLevelCache(enabled=False))
    assert any_doctor() == cached


# --- invalidation: the "any doctor" search ----------------------------------------------------


def test_any_doctor_shows_every_write_at_once_and_reloads_that_doctors_part_only(
        app, db, api, clinic, second_doctor, store):
    from app.models import WorkSchedule

    settings = ClinicSettings.from_config(app.config)

    def any_doctor() -> list[tuple[int, datetime]]:
        return [(doctor.id, slot.start) for doctor, slot in booking.first_available(
            db.session, service_id=clinic.service, date_from=DAY, date_to=DAY, settings=settings)]

    assert any_doctor() == [(clinic.doctor, at("07:00")), (second_doctor, at("08:00"))]
    assert counts(store) == (0, 2)
    assert any_doctor() == [(clinic.doctor, at("07:00")), (second_doctor, at("08:00"))]
    assert counts(store) == (2, 2)

    # A booking of the first doctor's 07:00 (to 07:20): their next time (07:30), at once; the other doctor's
    # part still from the cache.
    booked = book(api, clinic, clinic.doctor, "07:00")
    assert any_doctor() == [(clinic.doctor, at("07:30")), (second_doctor, at("08:00"))]
    assert counts(store) == (3, 3)

    cancel(api, booked)  # free again
    assert any_doctor() == [(clinic.doctor, at("07:00")), (second_doctor, at("08:00"))]
    assert counts(store) == (4, 4)

    # The second doctor's hours now start at 06:30 on the test day: first in the search.
    schedule = db.session.query(WorkSchedule).filter_by(doctor_id=second_doctor, weekday=DAY.weekday()).one()
    response = api.put("work_schedule", schedule.id, {"start_time": "06:30:00"})
    assert response.status_code == 200, response.get_json()
    assert any_doctor() == [(second_doctor, at("06:30")), (clinic.doctor, at("07:00"))]
    assert counts(store) == (5, 5)

    # The first doctor's leave on the test day: gone from the search.
    api.create("schedule_exception", {"doctor": clinic.doctor, "kind": "leave", "start_date": DAY.isoformat(),
                                      "end_date": DAY.isoformat()})
    assert any_doctor() == [(second_doctor, at("06:30"))]
    assert counts(store) == (6, 6)


# --- invalidation: the REST API ---------------------------------------------------------------


def test_the_api_answers_from_the_cache_as_the_database_would_and_shows_every_write_at_once(
        app, db, api, clinic, second_doctor, store):
    from app.models import WorkSchedule

    settings = ClinicSettings.from_config(app.config)
    query = f"service_id={clinic.service}&date_from={DAY}&date_to={DAY}"

    def starts(doctor: int) -> list[datetime]:
        response = api.client.get(f"/api/v1/availability?doctor_id={doctor}&{query}", headers=api.headers)
        assert response.status_code == 200, response.get_json()
        return [datetime.fromisoformat(slot["start"]) for slot in response.get_json()["slots"]]

    def uncached(doctor: int) -> list[datetime]:
        return [slot.start for slot in booking.free_slots(db.session, doctor_id=doctor, service_id=clinic.service,
                                                          date_from=DAY, date_to=DAY, settings=settings)]

    def firsts() -> list[tuple[int, datetime]]:
        response = api.client.get(f"/api/v1/availability/first?{query}", headers=api.headers)
        assert response.status_code == 200, response.get_json()
        return [(row["doctor_id"], datetime.fromisoformat(row["start"])) for row in response.get_json()["result"]]

    assert starts(second_doctor) == uncached(second_doctor) and starts(second_doctor)[0] == at("08:00")
    assert counts(store) == (1, 1)
    assert firsts() == [(clinic.doctor, at("07:00")), (second_doctor, at("08:00"))]
    assert counts(store) == (2, 2)  # the second doctor's slots were already there

    booked = book(api, clinic, second_doctor, "08:00")
    assert at("08:00") not in starts(second_doctor) and starts(second_doctor) == uncached(second_doctor)
    assert firsts() == [(clinic.doctor, at("07:00")), (second_doctor, at("08:30"))]
    assert counts(store) == (5, 3)  # one reload of the second doctor; the first's part still cached

    cancel(api, booked)
    assert starts(second_doctor)[0] == at("08:00") and starts(second_doctor) == uncached(second_doctor)

    schedule = db.session.query(WorkSchedule).filter_by(doctor_id=second_doctor, weekday=DAY.weekday()).one()
    assert api.put("work_schedule", schedule.id, {"end_time": "09:00:00"}).status_code == 200
    assert starts(second_doctor)[-1] == at("08:30") and starts(second_doctor) == uncached(second_doctor)

    api.create("schedule_exception", {"doctor": second_doctor, "kind": "training", "start_date": DAY.isoformat(),
                                      "end_date": DAY.isoformat(), "start_time": "08:00:00", "end_time": "08:30:00"})
    assert starts(second_doctor) == [at("08:30")] == uncached(second_doctor)
    assert firsts() == [(clinic.doctor, at("07:00")), (second_doctor, at("08:30"))]


def test_the_api_keeps_the_patients_minimum_notice(app, db, api, clinic, store):
    """As before the cache: the API's free times are those a patient may book (from the minimum
    notice on), though staff booking by phone may take an earlier one."""
    settings = ClinicSettings.from_config(app.config)
    today = settings.today()
    response = api.client.get(f"/api/v1/availability?doctor_id={clinic.doctor}&service_id={clinic.service}"
                              f"&date_from={today}&date_to={today + timedelta(days=1)}", headers=api.headers)
    assert response.status_code == 200
    shown = [datetime.fromisoformat(slot["start"]) for slot in response.get_json()["slots"]]
    assert shown and min(shown) >= settings.now() + settings.booking.min_notice
    patient = booking.free_slots(db.session, doctor_id=clinic.doctor, service_id=clinic.service, date_from=today,
                                 date_to=today + timedelta(days=1), settings=settings)
    assert shown == [slot.start for slot in patient]


# --- a session's own uncommitted change -------------------------------------------------------


def test_a_session_with_an_uncommitted_change_reads_the_database_and_leaves_the_cache_alone(
        app, db, api, clinic, store):
    """Its own change must show to it, and what it read must not stay in the cache: rolled back,
    a cancellation would leave a taken slot shown free."""
    from app.models import Appointment, ScheduleException

    settings = ClinicSettings.from_config(app.config)
    args = dict(doctor_id=clinic.doctor, service_id=clinic.service, date_from=DAY, date_to=DAY, settings=settings)
    booked = book(api, clinic, clinic.doctor, "07:00")
    warm = booking.cached_free_slots(db.session, **args)
    assert warm[0].start == at("07:30") and counts(store) == (0, 1)

    appointment = db.session.get(Appointment, booked)
    appointment.status = "cancelled"  # not flushed yet
    assert booking.cached_free_slots(db.session, **args)[0].start == at("07:00")
    db.session.add(ScheduleException(doctor_id=clinic.doctor, kind="training", start_date=DAY, end_date=DAY,
                                     start_time=time(7), end_time=time(8)))
    db.session.flush()
    assert booking.cached_free_slots(db.session, **args)[0].start == at("08:00")
    assert counts(store) == (0, 1)  # neither read nor filled
    db.session.rollback()
    db.session.remove()  # a later request's session
    assert booking.cached_free_slots(db.session, **args) == warm
    assert counts(store) == (1, 1)

    # Another doctor's uncommitted change does not keep this one from the cache.
    other = api.create("doctor", {"full_name": "Lê Văn Sáng", "title": "BS."})
    db.session.add(ScheduleException(doctor_id=other, kind="leave", start_date=DAY, end_date=DAY))
    db.session.flush()
    assert booking.cached_free_slots(db.session, **args) == warm
    assert counts(store) == (2, 1)
    db.session.rollback()


# --- two processes on one Redis ---------------------------------------------------------------


@pytest.fixture
def prefix():
    tag = f"cache-slots-{uuid.uuid4().hex[:10]}"
    yield tag
    delete_keys(f"{tag}:*")


@pytest.mark.needs_redis
def test_a_booking_in_one_process_is_seen_at_once_by_another_processs_any_doctor_search_and_api(
        app, api, clinic, second_doctor, prefix, monkeypatch):
    first = TwoLevelCache(redis_url=REDIS_URL, prefix=prefix, local_ttl=600)
    second = TwoLevelCache(redis_url=REDIS_URL, prefix=prefix, local_ttl=600)
    query = f"service_id={clinic.service}&date_from={DAY}&date_to={DAY}"

    def firsts_in(process: TwoLevelCache) -> list[tuple[int, datetime]]:
        monkeypatch.setitem(app.extensions, "cache", process)
        response = api.client.get(f"/api/v1/availability/first?{query}", headers=api.headers)
        assert response.status_code == 200
        return [(row["doctor_id"], datetime.fromisoformat(row["start"])) for row in response.get_json()["result"]]

    def starts_in(process: TwoLevelCache) -> list[datetime]:
        monkeypatch.setitem(app.extensions, "cache", process)
        response = api.client.get(f"/api/v1/availability?doctor_id={clinic.doctor}&{query}", headers=api.headers)
        assert response.status_code == 200
        return [datetime.fromisoformat(slot["start"]) for slot in response.get_json()["slots"]]

    before = [(clinic.doctor, at("07:00")), (second_doctor, at("08:00"))]
    assert firsts_in(second) == before == firsts_in(second) == firsts_in(first)
    assert starts_in(second)[0] == at("07:00")
    first.send_counts()
    assert second.stats()[cache.SLOTS] == {"hits": 5, "misses": 2}  # one read of each doctor, all processes
    monkeypatch.setitem(app.extensions, "cache", first)
    book(api, clinic, clinic.doctor, "07:00")
    assert firsts_in(second) == [(clinic.doctor, at("07:30")), (second_doctor, at("08:00"))]
    assert starts_in(second)[0] == at("07:30")
