"""Recurring appointments: a series is previewed date by date with the single-booking rules,
booked all or nothing (or skipping the dates that cannot be booked), keeps its local time of day
across a daylight-saving change, and can be cancelled from one visit on."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.models import Appointment, AppointmentEvent, AppointmentSeries, ScheduleException
from app.services import series as series_service
from app.services.errors import Conflict, ValidationFailed
from app.services.settings import BookingPolicy, ClinicSettings
from tests.factories import DAY, local_time, token_headers

WEEKLY_6 = "FREQ=WEEKLY;COUNT=6"


def post(api, path: str, body: dict, headers: dict | None = None):
    """POST /api/v1/<path> (as admin unless other headers are given), checked for 500s."""
    response = api.client.post(f"/api/v1/{path}", json=body, headers=headers or api.headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    return response


def series_body(clinic, **overrides) -> dict:
    data = {"patient_id": clinic.patient, "doctor_id": clinic.doctor, "service_id": clinic.service,
            "start": local_time("09:00"), "rule": WEEKLY_6}
    data.update(overrides)
    return data


def week(n: int, hhmm: str = "09:00") -> str:
    """The n-th weekly visit (0 = the first) in the clinic's zone, as the API answers it."""
    return local_time(hhmm, days_after=7 * n)


def appointments(db) -> list[Appointment]:
    db.session.expire_all()
    return db.session.query(Appointment).order_by(Appointment.start_at).all()


def book_series(api, clinic, **overrides):
    response = post(api, "series/book", series_body(clinic, **overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- preview and booking -----------------------------------------------------------------------


def test_a_weekly_course_of_six_all_free(api, clinic, db):
    preview = post(api, "series/preview", series_body(clinic))
    assert preview.status_code == 200, preview.get_json()
    occurrences = preview.get_json()["occurrences"]
    assert [o["start"] for o in occurrences] == [week(n) for n in range(6)]
    assert occurrences[0]["end"] == local_time("09:20")
    assert all(o["ok"] and o["problem"] is None for o in occurrences)
    assert appointments(db) == []  # a preview writes nothing

    booked = book_series(api, clinic, rule="RRULE:" + WEEKLY_6)
    assert len(booked["appointment_ids"]) == 6 and booked["skipped"] == []
    series = db.session.get(AppointmentSeries, booked["series_id"])
    assert series.rule == WEEKLY_6  # stored without "RRULE:"
    assert (series.patient_id, series.doctor_id, series.service_id) == (clinic.patient, clinic.doctor,
                                                                        clinic.service)
    rows = appointments(db)
    assert [a.id for a in rows] == booked["appointment_ids"]
    assert {a.series_id for a in rows} == {series.id} and {a.status for a in rows} == {"confirmed"}
    assert [a.start_at for a in rows] == [datetime.fromisoformat(week(n)) for n in range(6)]
    events = db.session.query(AppointmentEvent).filter(AppointmentEvent.appointment_id.in_(booked["appointment_ids"]))
    assert sorted((e.from_status, e.to_status) for e in events) == [(None, "confirmed")] * 6


@pytest.fixture(params=["leave", "appointment"])
def blocked_week(request, api, clinic, db) -> tuple[int, str]:
    """The 3rd weekly visit's time is taken: by the doctor's leave or by another patient's visit."""
    if request.param == "leave":
        day = DAY + timedelta(days=14)
        db.session.add(ScheduleException(doctor_id=clinic.doctor, kind="leave", start_date=day, end_date=day))
        db.session.commit()
        return 2, "leave"
    other = api.create("patient", {"full_name": "Phạm Thị Hoa"})
    response = post(api, "appointments/book", {"patient_id": other, "doctor_id": clinic.doctor,
                                              "service_id": clinic.service, "start": week(2)})
    assert response.status_code == 201, response.get_json()
    return 2, "09:00"


def test_a_blocked_week_is_shown_refused_or_skipped(api, clinic, db, blocked_week):
    index, reason = blocked_week
    before = len(appointments(db))

    preview = post(api, "series/preview", series_body(clinic)).get_json()["occurrences"]
    bad = [o for o in preview if not o["ok"]]
    assert len(bad) == 1 and bad[0]["start"] == week(index) and reason in bad[0]["problem"], preview

    refused = post(api, "series/book", series_body(clinic))
    assert refused.status_code == 409, refused.get_json()
    conflicts = refused.get_json()["conflicts"]
    assert [c["start"] for c in conflicts] == [week(index)] and reason in conflicts[0]["problem"]
    assert len(appointments(db)) == before and db.session.query(AppointmentSeries).count() == 0

    booked = book_series(api, clinic, skip_conflicts=True)
    assert len(booked["appointment_ids"]) == 5
    assert [s["start"] for s in booked["skipped"]] == [week(index)] and reason in booked["skipped"][0]["problem"]
    mine = [a for a in appointments(db) if a.series_id == booked["series_id"]]
    assert [a.start_at for a in mine] == [datetime.fromisoformat(week(n)) for n in range(6) if n != index]


@pytest.mark.parametrize("rule", [
    "FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2", "garbage", "FREQ=FORTNIGHTLY;COUNT=3", "FREQ=WEEKLY;COUNT=0",
    "FREQ=WEEKLY;COUNT=101", "FREQ=DAILY;UNTIL=20991231T000000Z", "FREQ=WEEKLY;COUNT=abc", "", 42,
    ["FREQ=WEEKLY;COUNT=6"],
])
def test_bad_rules_are_refused_naming_the_rule(api, clinic, db, rule):
    for path in ("series/preview", "series/book"):
        response = post(api, path, series_body(clinic, rule=rule))
        assert response.status_code == 422 and "rule" in response.get_json()["message"], response.get_json()
    assert appointments(db) == []


@pytest.mark.parametrize("field, value", [
    ("patient_id", None), ("doctor_id", "abc"), ("service_id", 999), ("start", "tomorrow"),
    ("start", local_time("09:00")[:19]), ("skip_conflicts", "yes"),
])
def test_bad_input_names_the_field(api, clinic, field, value):
    response = post(api, "series/book", series_body(clinic, **{field: value}))
    assert response.status_code == 422 and field in response.get_json()["message"], response.get_json()
    assert post(api, "series/book", ["not", "an", "object"]).status_code == 422


def test_until_ends_the_series(api, clinic):
    until = (DAY + timedelta(days=15)).strftime("%Y%m%d")
    preview = post(api, "series/preview", series_body(clinic, rule=f"FREQ=WEEKLY;UNTIL={until}T235959Z"))
    assert [o["start"] for o in preview.get_json()["occurrences"]] == [week(0), week(1), week(2)]
    floating = post(api, "series/preview", series_body(clinic, rule=f"FREQ=WEEKLY;UNTIL={until}"))
    assert [o["start"] for o in floating.get_json()["occurrences"]] == [week(0), week(1), week(2)]


# --- cancelling --------------------------------------------------------------------------------


def test_cancelling_one_visit_leaves_the_others(api, clinic, db):
    ids = book_series(api, clinic)["appointment_ids"]
    response = post(api, f"appointments/{ids[1]}/cancel", {"reason": "Bệnh nhân đi công tác"})
    assert response.status_code == 200, response.get_json()
    assert [a.status for a in appointments(db)] == ["confirmed", "cancelled"] + ["confirmed"] * 4
    assert post(api, f"appointments/{ids[3]}/reschedule", {"start": week(3, "14:00")}).status_code == 200
    assert db.session.get(Appointment, ids[3]).series_id is not None  # a moved visit stays in its series


def test_cancelling_the_rest_from_the_third_visit(api, clinic, db, admin_id):
    ids = book_series(api, clinic)["appointment_ids"]
    assert post(api, f"series/appointments/{ids[2]}/cancel-rest", {}).status_code == 422  # no reason
    response = post(api, f"series/appointments/{ids[2]}/cancel-rest", {"reason": "Đã khỏi"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["cancelled_ids"] == ids[2:]
    rows = appointments(db)
    assert [a.status for a in rows] == ["confirmed"] * 2 + ["cancelled"] * 4
    assert all(a.cancel_reason == "Đã khỏi" and a.cancelled_by_id == admin_id for a in rows[2:])
    for appointment_id in ids[2:]:
        history = db.session.query(AppointmentEvent).filter_by(appointment_id=appointment_id).order_by(
            AppointmentEvent.id)
        assert [(e.from_status, e.to_status, e.note) for e in history] == [
            (None, "confirmed", None), ("confirmed", "cancelled", "Đã khỏi")]
    for appointment_id in ids[:2]:
        assert db.session.query(AppointmentEvent).filter_by(appointment_id=appointment_id).count() == 1


def test_cancelling_the_rest_after_a_visit(api, clinic, db):
    ids = book_series(api, clinic)["appointment_ids"]
    response = post(api, f"series/appointments/{ids[3]}/cancel-rest", {"reason": "Đổi bác sĩ",
                                                                        "include_this": False})
    assert response.status_code == 200 and response.get_json()["cancelled_ids"] == ids[4:]
    assert [a.status for a in appointments(db)] == ["confirmed"] * 4 + ["cancelled"] * 2


def test_cancel_rest_refusals(api, clinic):
    single = post(api, "appointments/book", {"patient_id": clinic.patient, "doctor_id": clinic.doctor,
                                            "service_id": clinic.service, "start": local_time("15:00")})
    assert post(api, f"series/appointments/{single.get_json()['id']}/cancel-rest",
                {"reason": "x"}).status_code == 409  # not part of a series
    assert post(api, "series/appointments/999999/cancel-rest", {"reason": "x"}).status_code == 404
    assert post(api, f"series/appointments/{single.get_json()['id']}/cancel-rest",
                {"reason": "x", "include_this": "no"}).status_code == 422


# --- time zones --------------------------------------------------------------------------------


def test_a_daylight_saving_change_keeps_the_local_time(db, clinic, admin_id):
    """New York moves its clocks on 14 March 2027: 09:00 stays 09:00, so the UTC time moves."""
    new_york = ZoneInfo("America/New_York")
    settings = ClinicSettings(timezone=new_york, booking=BookingPolicy())
    now = datetime(2027, 3, 1, 12, 0, tzinfo=timezone.utc)
    first = datetime(2027, 3, 4, 9, 0, tzinfo=new_york)  # a Thursday, clinic.doctor works 07:00-19:00 daily
    kwargs = dict(patient_id=clinic.patient, doctor_id=clinic.doctor, service_id=clinic.service,
                  first_start=first, rule="FREQ=WEEKLY;COUNT=4", settings=settings, now=now)
    occurrences = series_service.preview_series(db.session, **kwargs)
    assert all(o.ok for o in occurrences), occurrences
    assert [o.start.astimezone(new_york).strftime("%m-%d %H:%M") for o in occurrences] == [
        "03-04 09:00", "03-11 09:00", "03-18 09:00", "03-25 09:00"]
    assert [o.start.astimezone(timezone.utc).hour for o in occurrences] == [14, 14, 13, 13]

    series, booked, skipped = series_service.book_series(db.session, actor_id=admin_id, **kwargs)
    assert skipped == [] and {a.series_id for a in booked} == {series.id}
    assert [a.start_at.astimezone(new_york).strftime("%H:%M") for a in booked] == ["09:00"] * 4

    with pytest.raises(Conflict) as refused:  # the same course again: every date is taken
        series_service.book_series(db.session, actor_id=admin_id, skip_conflicts=True, **kwargs)
    assert len(refused.value.conflicts) == 4
    assert db.session.query(AppointmentSeries).count() == 1


def test_service_refuses_an_unaware_first_visit(db, clinic):
    settings = ClinicSettings(timezone=ZoneInfo("Asia/Ho_Chi_Minh"))
    with pytest.raises(ValidationFailed) as refused:
        series_service.preview_series(db.session, patient_id=clinic.patient, doctor_id=clinic.doctor,
                                      service_id=clinic.service, first_start=datetime(2030, 1, 1, 9, 0),
                                      rule=WEEKLY_6, settings=settings)
    assert refused.value.field == "start"


def test_visits_of_one_series_may_not_overlap(api, clinic, db):
    preview = post(api, "series/preview", series_body(clinic, rule="FREQ=MINUTELY;INTERVAL=15;COUNT=3"))
    assert [o["ok"] for o in preview.get_json()["occurrences"]] == [True, False, True]
    booked = book_series(api, clinic, rule="FREQ=MINUTELY;INTERVAL=15;COUNT=3", skip_conflicts=True)
    assert len(booked["appointment_ids"]) == 2 and len(booked["skipped"]) == 1


# --- permissions -------------------------------------------------------------------------------


def test_who_may_use_series(app, api, clinic, db):
    pharmacist = token_headers(app, "pharmacist")
    for path in ("series/preview", "series/book", "series/appointments/1/cancel-rest"):
        assert post(api, path, series_body(clinic), headers=pharmacist).status_code == 403
    receptionist = token_headers(app, "receptionist")
    assert post(api, "series/preview", series_body(clinic), headers=receptionist).status_code == 200
    assert post(api, "series/book", series_body(clinic), headers=receptionist).status_code == 201
    assert appointments(db)[0].created_by_id == app.appbuilder.sm.find_user(username="receptionist").id
