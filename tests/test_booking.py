"""Booking: availability from schedules, exceptions, appointments, buffer and notice; one booking
path with the same checks everywhere; the workflow; rescheduling; and no double booking even when
many people book one slot at once."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from app.models import Appointment, AppointmentEvent, ScheduleException, WorkSchedule
from app.services import booking
from app.services.errors import Conflict
from app.services.settings import BookingPolicy, ClinicSettings
from tests.factories import DAY, local_time, token_headers

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def post(api, path: str, body: dict):
    """POST /api/v1/<path> as admin, checked for 500s like every Api call."""
    response = api.client.post(f"/api/v1/{path}", json=body, headers=api.headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    return response


def clinic_settings(**policy) -> ClinicSettings:
    return ClinicSettings(timezone=ZONE, booking=BookingPolicy(**policy))


@pytest.fixture
def morning_doctor(api, clinic) -> int:
    """A doctor who works 08:00-12:00 on the test day's weekday only, offering the 20-minute service."""
    doctor = api.create("doctor", {"full_name": "Lê Văn Sáng", "title": "BS."})
    api.create("work_schedule", {"doctor": doctor, "weekday": DAY.weekday(), "start_time": "08:00:00",
                                 "end_time": "12:00:00", "valid_from": "2020-01-01"})
    response = api.put("service", clinic.service, {"doctors": [clinic.doctor, doctor]})
    assert response.status_code == 200, response.get_json()
    return doctor


def starts(slots) -> list[str]:
    return [s.start.astimezone(ZONE).strftime("%H:%M") for s in slots]


def day_slots(db, doctor, service, **policy) -> list[str]:
    return starts(booking.free_slots(db.session, doctor_id=doctor, service_id=service, date_from=DAY, date_to=DAY,
                                     settings=clinic_settings(**policy)))


def grid(first: str, last: str) -> list[str]:
    t, end, out = datetime.strptime(first, "%H:%M"), datetime.strptime(last, "%H:%M"), []
    while t <= end:
        out.append(t.strftime("%H:%M"))
        t += timedelta(minutes=15)
    return out


# --- availability ------------------------------------------------------------------------------


def test_slots_follow_the_working_hours_and_the_service_length(db, clinic, morning_doctor):
    assert day_slots(db, morning_doctor, clinic.service) == grid("08:00", "11:30")  # 11:45 + 20 min > 12:00
    other_day = DAY + timedelta(days=1)
    assert booking.free_slots(db.session, doctor_id=morning_doctor, service_id=clinic.service, date_from=other_day,
                              date_to=other_day, settings=clinic_settings()) == []


def test_leave_and_partial_training_remove_slots(db, clinic, morning_doctor):
    db.session.add(ScheduleException(doctor_id=morning_doctor, kind="training", start_date=DAY, end_date=DAY,
                                     start_time=time(9, 0), end_time=time(10, 0)))
    db.session.commit()
    assert day_slots(db, morning_doctor, clinic.service) == grid("08:00", "08:30") + grid("10:00", "11:30")
    db.session.add(ScheduleException(doctor_id=morning_doctor, kind="leave", start_date=DAY - timedelta(days=1),
                                     end_date=DAY + timedelta(days=1)))
    db.session.commit()
    assert day_slots(db, morning_doctor, clinic.service) == []


def test_an_extra_shift_adds_slots(db, clinic, morning_doctor):
    db.session.add(ScheduleException(doctor_id=morning_doctor, kind="extra_shift", start_date=DAY, end_date=DAY,
                                     start_time=time(14, 0), end_time=time(15, 0)))
    db.session.commit()
    assert day_slots(db, morning_doctor, clinic.service)[-3:] == ["14:00", "14:15", "14:30"]


def test_appointments_and_the_buffer_take_slots(api, db, clinic, morning_doctor):
    booked = post(api, "appointments/book", {"patient_id": clinic.patient, "doctor_id": morning_doctor,
                                            "service_id": clinic.service, "start": local_time("09:00")})
    assert booked.status_code == 201, booked.get_json()
    free = day_slots(db, morning_doctor, clinic.service)
    assert "09:00" not in free and "09:15" not in free and "08:45" not in free
    assert "08:30" in free and "09:30" in free
    with_buffer = day_slots(db, morning_doctor, clinic.service, buffer_minutes=10)
    assert "08:30" in with_buffer and "08:45" not in with_buffer and "09:30" in with_buffer
    assert "09:15" not in with_buffer


def test_no_slot_before_the_minimum_notice_or_after_the_horizon(db, clinic, morning_doctor):
    opening = datetime.combine(DAY, time(8, 0), ZONE)
    slots = booking.free_slots(db.session, doctor_id=morning_doctor, service_id=clinic.service, date_from=DAY,
                               date_to=DAY, settings=clinic_settings(min_notice=timedelta(hours=2)),
                               now=opening + timedelta(minutes=30))
    assert starts(slots)[0] == "10:30"
    late = booking.free_slots(db.session, doctor_id=morning_doctor, service_id=clinic.service, date_from=DAY,
                              date_to=DAY, settings=clinic_settings(horizon=timedelta(days=1)),
                              now=opening - timedelta(days=3))
    assert late == []


def test_the_first_available_doctor(db, api, clinic, morning_doctor):
    found = booking.first_available(db.session, service_id=clinic.service, date_from=DAY, date_to=DAY,
                                    settings=clinic_settings())
    assert [doctor.id for doctor, _slot in found] == [clinic.doctor, morning_doctor]  # 07:00 before 08:00
    response = api.client.get(
        f"/api/v1/availability/first?service_id={clinic.service}&date_from={DAY}&date_to={DAY}", headers=api.headers)
    assert response.status_code == 200 and response.get_json()["result"][0]["doctor_id"] == clinic.doctor


def test_availability_api_answers_in_the_clinic_zone(api, clinic, morning_doctor):
    response = api.client.get(f"/api/v1/availability?doctor_id={morning_doctor}&service_id={clinic.service}"
                              f"&date_from={DAY}&date_to={DAY}", headers=api.headers)
    assert response.status_code == 200
    first = response.get_json()["slots"][0]
    assert first["start"] == f"{DAY}T08:00:00+07:00" and first["end"] == f"{DAY}T08:20:00+07:00"


@pytest.mark.parametrize("query, field", [
    ("service_id=1&date_from={d}&date_to={d}", "doctor_id"),
    ("doctor_id=abc&service_id=1&date_from={d}&date_to={d}", "doctor_id"),
    ("doctor_id=999&service_id={s}&date_from={d}&date_to={d}", "doctor_id"),
    ("doctor_id={doc}&service_id=999&date_from={d}&date_to={d}", "service_id"),
    ("doctor_id={doc}&service_id={s}&date_from=01/12/2026&date_to={d}", "date_from"),
    ("doctor_id={doc}&service_id={s}&date_from={d}&date_to={far}", "date_to"),
    ("doctor_id={doc}&service_id={s}&date_from={d}&date_to={before}", "date_to"),
])
def test_availability_bad_input_names_the_field(api, clinic, query, field):
    url = "/api/v1/availability?" + query.format(d=DAY, s=clinic.service, doc=clinic.doctor,
                                                  far=DAY + timedelta(days=70), before=DAY - timedelta(days=1))
    response = api.client.get(url, headers=api.headers)
    assert response.status_code == 422 and field in response.get_json()["message"], response.get_json()


def test_a_service_the_doctor_does_not_offer(api, clinic):
    other = api.create("service", {"code": "SA", "name": "Siêu âm", "price": 300000, "duration_minutes": 30})
    response = api.client.get(f"/api/v1/availability?doctor_id={clinic.doctor}&service_id={other}"
                              f"&date_from={DAY}&date_to={DAY}", headers=api.headers)
    assert response.status_code == 422 and "does not offer" in response.get_json()["message"]["service_id"][0]


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sessions=st.lists(st.tuples(st.integers(6 * 4, 20 * 4), st.integers(1, 16)), min_size=1, max_size=3),
    blocks=st.lists(st.tuples(st.integers(6 * 4, 20 * 4), st.integers(1, 8)), max_size=2),
    booked=st.lists(st.tuples(st.integers(6 * 4, 21 * 4), st.sampled_from(["confirmed", "cancelled",
                                                                           "checked_in", "no_show"])),
                    max_size=6),
    buffer=st.sampled_from([0, 5, 10]),
)
def test_no_slot_ever_overlaps_an_appointment_or_leaves_working_hours(db, clinic, sessions, blocks, booked, buffer):
    """Property: whatever the schedule, exceptions and bookings, every free slot lies inside working
    time and keeps clear of every active appointment (with the buffer)."""
    doctor, service = clinic.doctor, clinic.service
    db.session.query(WorkSchedule).filter_by(doctor_id=doctor).delete()
    db.session.query(ScheduleException).filter_by(doctor_id=doctor).delete()
    db.session.query(AppointmentEvent).delete()
    db.session.query(Appointment).delete()

    def at(quarter: int) -> time:
        return time(min(quarter // 4, 23), (quarter % 4) * 15)

    working = []
    for begin, length in sessions:
        end = min(begin + length, 23 * 4)
        if end > begin:
            db.session.add(WorkSchedule(doctor_id=doctor, weekday=DAY.weekday(), start_time=at(begin),
                                        end_time=at(end), valid_from=date(2020, 1, 1)))
            working.append((at(begin), at(end)))
    blocked = []
    for begin, length in blocks:
        end = min(begin + length, 23 * 4)
        db.session.add(ScheduleException(doctor_id=doctor, kind="training", start_date=DAY, end_date=DAY,
                                         start_time=at(begin), end_time=at(end)))
        blocked.append((at(begin), at(end)))
    taken = []
    for begin, status in booked:
        start = datetime.combine(DAY, at(begin), ZONE)
        end = start + timedelta(minutes=20)
        active = status not in ("cancelled", "no_show")
        if active and any(start < e and s < end for s, e in taken):
            continue  # the database itself refuses overlapping active appointments (PostgreSQL)
        db.session.add(Appointment(patient_id=clinic.patient, doctor_id=doctor, service_id=service, start_at=start,
                                   end_at=end, status=status))
        if active:
            taken.append((start, end))
    db.session.commit()

    merged: list[tuple[time, time]] = []  # back-to-back sessions are one stretch of work
    for s, e in sorted(working):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    working = merged
    pad = timedelta(minutes=buffer)
    for slot in booking.free_slots(db.session, doctor_id=doctor, service_id=service, date_from=DAY, date_to=DAY,
                                   settings=clinic_settings(buffer_minutes=buffer)):
        local_start, local_end = slot.start.astimezone(ZONE).time(), slot.end.astimezone(ZONE).time()
        assert any(s <= local_start and local_end <= e for s, e in working), slot
        assert not any(local_start < e and s < local_end for s, e in blocked), slot
        assert not any(slot.start < e + pad and s < slot.end + pad for s, e in taken), slot


# --- booking -----------------------------------------------------------------------------------


def book(api, clinic, **overrides):
    data = {"patient_id": clinic.patient, "doctor_id": clinic.doctor, "service_id": clinic.service,
            "start": local_time("10:00"), **overrides}
    return post(api, "appointments/book", data)


def test_booking_answers_with_the_appointment_in_the_clinic_zone(api, clinic):
    response = book(api, clinic, channel="phone", reason="Ho kéo dài")
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    assert result["status"] == "confirmed" and result["start"] == local_time("10:00")
    assert result["end"] == local_time("10:20")



def test_a_booking_takes_the_services_length_at_that_moment(api, clinic):
    """The length is read with the booking, never remembered from an earlier one."""
    assert book(api, clinic).get_json()["result"]["end"] == local_time("10:20")
    assert api.put("service", clinic.service, {"duration_minutes": 40}).status_code == 200
    other = api.create("patient", {"full_name": "Phạm Thị Hoa"})
    response = book(api, clinic, patient_id=other, start=local_time("11:00"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["result"]["end"] == local_time("11:40")

def test_online_bookings_wait_for_confirmation(api, clinic):
    assert book(api, clinic, channel="online").get_json()["result"]["status"] == "requested"


def test_the_same_slot_twice_is_a_conflict_naming_it(api, clinic):
    assert book(api, clinic).status_code == 201
    other = api.create("patient", {"full_name": "Phạm Thị Hoa"})
    response = book(api, clinic, patient_id=other, start=local_time("10:15"))
    assert response.status_code == 409
    message = response.get_json()["message"]["start_at"][0]
    assert "Trần Thị Bình" in message and "10:00" in message and "10:20" in message


def test_a_patient_cannot_be_in_two_places_at_once(api, clinic, morning_doctor):
    assert book(api, clinic).status_code == 201
    response = book(api, clinic, doctor_id=morning_doctor, start=local_time("10:00"))
    assert response.status_code == 409
    assert "The patient already has an appointment" in response.get_json()["message"]["start_at"][0]


@pytest.mark.parametrize("start, words", [
    (lambda: local_time("06:00"), "working hours"),
    (lambda: local_time("10:05"), "every 15 minutes"),
    (lambda: (datetime.now(timezone.utc) - timedelta(days=1)).isoformat(), "past"),
    (lambda: (datetime.now(timezone.utc) + timedelta(days=200)).isoformat(), "days ahead"),
    (lambda: local_time("10:00")[:19], "UTC offset"),
])
def test_booking_refusals_say_why(api, clinic, start, words):
    response = book(api, clinic, start=start())
    assert response.status_code == 422, response.get_json()
    assert words in response.get_json()["message"]["start"][0] if "start" in response.get_json()["message"] \
        else words in response.get_json()["message"]["start_at"][0]


def test_booking_on_leave_says_so(api, clinic, db):
    db.session.add(ScheduleException(doctor_id=clinic.doctor, kind="leave", start_date=DAY, end_date=DAY))
    db.session.commit()
    response = book(api, clinic)
    assert response.status_code == 422 and "leave" in response.get_json()["message"]["start_at"][0]


def test_generic_screens_and_resource_use_the_same_rules(api, clinic, login_as):
    assert book(api, clinic).status_code == 201
    twin = api.post("appointment", {"patient": api.create("patient", {"full_name": "Đỗ Minh"}),
                                    "doctor": clinic.doctor, "service": clinic.service,
                                    "start_at": local_time("10:00")})
    assert twin.status_code == 409
    page = login_as("receptionist").post("/appointmentview/add", data={
        "patient": clinic.patient, "doctor": clinic.doctor, "service": clinic.service,
        "start_at": local_time("06:00")[:16], "status": "confirmed", "channel": "phone"})
    assert page.status_code == 200 and "working hours" in page.get_data(as_text=True)


# --- workflow ----------------------------------------------------------------------------------


def set_status(api, appointment_id, status, reason=None):
    return post(api, f"appointments/{appointment_id}/status", {"status": status, "reason": reason})


def test_the_workflow_with_queue_numbers_and_history(api, clinic, db, admin_id):
    first = book(api, clinic).get_json()["id"]
    other_patient = api.create("patient", {"full_name": "Vũ Thị Lan"})
    second = book(api, clinic, patient_id=other_patient, start=local_time("11:00")).get_json()["id"]
    assert set_status(api, second, "checked_in").get_json()["result"]["queue_number"] == 1
    assert set_status(api, first, "checked_in").get_json()["result"]["queue_number"] == 2
    for status in ("in_consultation", "completed"):
        assert set_status(api, first, status).status_code == 200
    refused = set_status(api, first, "confirmed")
    assert refused.status_code == 409 and "completed" in refused.get_json()["message"]["status"][0]
    history = db.session.query(AppointmentEvent).filter_by(appointment_id=first).order_by(AppointmentEvent.id)
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "confirmed"), ("confirmed", "checked_in"), ("checked_in", "in_consultation"),
        ("in_consultation", "completed")]
    assert all(e.actor_id == admin_id for e in history)


def test_cancelling_needs_a_reason_and_frees_the_slot_at_once(api, clinic):
    first = book(api, clinic).get_json()["id"]
    assert post(api, f"appointments/{first}/cancel", {}).status_code == 422
    cancelled = post(api, f"appointments/{first}/cancel", {"reason": "Bệnh nhân bận"})
    assert cancelled.status_code == 200 and cancelled.get_json()["result"]["status"] == "cancelled"
    other = api.create("patient", {"full_name": "Hoàng Văn Nam"})
    assert book(api, clinic, patient_id=other).status_code == 201


def test_rescheduling_keeps_the_old_time_when_the_new_one_is_taken(api, clinic):
    mine = book(api, clinic).get_json()["id"]
    other = api.create("patient", {"full_name": "Trịnh Thu Hà"})
    assert book(api, clinic, patient_id=other, start=local_time("11:00")).status_code == 201
    taken = post(api, f"appointments/{mine}/reschedule", {"start": local_time("11:00")})
    assert taken.status_code == 409
    assert api.show("appointment", mine)["start_at"].startswith(f"{DAY}T03:00")  # still 10:00 local
    moved = post(api, f"appointments/{mine}/reschedule", {"start": local_time("14:00")})
    assert moved.status_code == 200 and moved.get_json()["result"]["start"] == local_time("14:00")


def test_patients_may_change_only_until_the_cutoff(db, clinic, api):
    appointment = book(api, clinic).get_json()["id"]
    start = datetime.fromisoformat(local_time("10:00"))
    with pytest.raises(Conflict):
        booking.transition_appointment(db.session, appointment, "cancelled", actor_id=None, reason="bận",
                                       settings=clinic_settings(), by_patient=True, now=start - timedelta(hours=1))
    db.session.rollback()
    booking.transition_appointment(db.session, appointment, "cancelled", actor_id=None, reason="bận",
                                   settings=clinic_settings(), by_patient=True, now=start - timedelta(hours=3))


@pytest.fixture
def server_in_new_york(monkeypatch):
    """The server's own zone (``TZ``) is neither the clinic's nor UTC."""
    import time as process_clock

    monkeypatch.setenv("TZ", "America/New_York")
    process_clock.tzset()
    yield
    monkeypatch.undo()
    process_clock.tzset()


def test_another_time_zone(app, api, db, clinic, server_in_new_york, monkeypatch):
    """A clinic in London (CLINIC_TIMEZONE) on a server set to New York: the doctor's 07:00-19:00
    are London's, in the rules, in the API's answers and in a booking."""
    london = ZoneInfo("Europe/London")
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Europe/London")
    slots = booking.free_slots(db.session, doctor_id=clinic.doctor, service_id=clinic.service, date_from=DAY,
                               date_to=DAY, settings=ClinicSettings.from_config(app.config))
    local = [slot.start.astimezone(london) for slot in slots]
    assert {moment.date() for moment in local} == {DAY}
    assert (local[0].strftime("%H:%M"), local[-1].strftime("%H:%M")) == ("07:00", "18:30")  # 18:30 + 20 min fits

    offset = datetime.combine(DAY, time(7), london).isoformat()[-6:]  # +00:00 (GMT) or +01:00 (BST)
    response = api.client.get(f"/api/v1/availability?doctor_id={clinic.doctor}&service_id={clinic.service}"
                              f"&date_from={DAY}&date_to={DAY}", headers=api.headers)
    assert response.status_code == 200
    assert response.get_json()["slots"][0]["start"] == f"{DAY}T07:00:00{offset}"

    early = book(api, clinic, start=f"{DAY}T06:45:00{offset}")  # 13:45 in Vietnam: inside its working hours
    assert early.status_code == 422 and "(07:00–19:00)" in str(early.get_json()["message"]), early.get_json()
    booked = book(api, clinic, start=f"{DAY}T07:00:00{offset}")
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["result"]["start"] == f"{DAY}T07:00:00{offset}"


# --- the race ----------------------------------------------------------------------------------


def race(app, live_server, bodies: list[dict]) -> list[tuple[int, dict]]:
    """POST each body to /api/v1/appointments/book from its own thread, all at the same moment, as
    a receptionist; the (status, JSON) answers."""
    headers = {**token_headers(app, "receptionist"), "Content-Type": "application/json"}
    barrier, results = threading.Barrier(len(bodies)), []

    def attempt(body: dict) -> None:
        request = urllib.request.Request(f"{live_server}/api/v1/appointments/book", data=json.dumps(body).encode(),
                                         headers=headers, method="POST")
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                results.append((response.status, json.loads(response.read())))
        except urllib.error.HTTPError as error:
            results.append((error.code, json.loads(error.read())))

    threads = [threading.Thread(target=attempt, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_many_people_booking_one_slot_at_once(app, live_server, api, clinic, db):
    """50 receptionists press "book" for the same slot at the same moment, each for another patient:
    exactly one gets it, the others get 409, and there is one appointment."""
    patients = [api.create("patient", {"full_name": f"Bệnh nhân {n}"}) for n in range(50)]
    results = [status for status, _ in race(app, live_server, [
        {"patient_id": p, "doctor_id": clinic.doctor, "service_id": clinic.service, "start": local_time("15:00")}
        for p in patients])]
    assert sorted(results) == [201] + [409] * 49, results
    db.session.expire_all()
    start = datetime.fromisoformat(local_time("15:00"))
    assert db.session.query(Appointment).filter(Appointment.start_at == start).count() == 1


def test_one_patient_booked_with_many_doctors_at_once(app, live_server, api, clinic, db):
    """Eight desks book the same patient at the same time, each with another doctor: one booking,
    seven 409s that say why (the doctors' locks differ, so the patient's own rule decides)."""
    doctors = [clinic.doctor] + [api.create("doctor", {"full_name": f"Bác sĩ {n}"}) for n in range(7)]
    for doctor in doctors[1:]:
        api.create("work_schedule", {"doctor": doctor, "weekday": DAY.weekday(), "start_time": "07:00:00",
                                     "end_time": "19:00:00", "valid_from": "2020-01-01"})
    assert api.put("service", clinic.service, {"doctors": doctors}).status_code == 200
    results = race(app, live_server, [{"patient_id": clinic.patient, "doctor_id": d, "service_id": clinic.service,
                                        "start": local_time("14:00")} for d in doctors])
    assert sorted(code for code, _ in results) == [201] + [409] * 7, results
    reasons = ("patient already has an appointment", "just taken", "try again")  # the check, the constraint, a deadlock
    assert all(any(reason in str(body["message"]) for reason in reasons) for code, body in results if code == 409), \
        results
    db.session.expire_all()
    start = datetime.fromisoformat(local_time("14:00"))
    assert db.session.query(Appointment).filter(Appointment.patient_id == clinic.patient,
                                                Appointment.start_at == start).count() == 1


@pytest.mark.needs_postgres  # SQLite has no exclusion constraints: there the booking lock alone serialises bookings
def test_the_database_itself_refuses_overlapping_bookings(db, clinic):
    """Even a write that skips the services cannot double-book on PostgreSQL (exclusion constraint)."""
    from sqlalchemy.exc import IntegrityError

    from app.services.errors import from_database_error

    start = datetime.fromisoformat(local_time("16:00"))
    for offset in (0, 10):
        db.session.add(Appointment(patient_id=api_patient(db, offset), doctor_id=clinic.doctor,
                                   service_id=clinic.service, start_at=start + timedelta(minutes=offset),
                                   end_at=start + timedelta(minutes=offset + 20), status="confirmed"))
    with pytest.raises(IntegrityError) as refused:
        db.session.commit()
    db.session.rollback()
    error = from_database_error(refused.value)
    assert isinstance(error, Conflict) and error.field == "start_at"


def api_patient(db, n: int) -> int:
    from app.models import Patient

    patient = Patient(code=f"RACE{n:04d}", full_name=f"Người bệnh {n}", search_text="")
    db.session.add(patient)
    db.session.flush()
    return patient.id


@pytest.mark.parametrize("sqlstate, constraint, words", [
    ("23P01", "ex_appointment_doctor_overlap", "just taken by another booking"),
    ("23P01", "ex_appointment_patient_overlap", "patient already has an appointment"),
    ("40P01", None, "try again"),
])
def test_database_refusals_of_a_booking_read_as_conflicts(app, sqlstate, constraint, words):
    """What PostgreSQL answers when two bookings race past the checks becomes a 409 with a reason."""
    from types import SimpleNamespace

    from app.services.errors import from_database_error

    orig = SimpleNamespace(sqlstate=sqlstate, diag=SimpleNamespace(constraint_name=constraint))
    with app.test_request_context():
        error = from_database_error(SimpleNamespace(orig=orig))
    assert isinstance(error, Conflict) and words in error.message


def test_the_one_statement_booking_stays_cheap_for_the_driver():
    """psycopg converts a query's placeholders once and caches it only up to a size; beyond that
    every booking would pay the conversion again (bench/booking.py measures the effect)."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
    from sqlalchemy.dialects.postgresql import psycopg

    sql = str(booking._BOOK_IN_ONE_STATEMENT.compile(dialect=psycopg.dialect()))
    assert len(sql.encode()) <= MAX_CACHED_STATEMENT_LENGTH
