"""The doctor status board derives each doctor's state now from schedule, leave and appointments."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.models import Appointment, Doctor, ScheduleException, WorkSchedule
from app.services.doctor_status import doctor_states
from app.services.settings import ClinicSettings

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SETTINGS = ClinicSettings(timezone=ZONE)
MONDAY = date(2027, 1, 4)
NOW = datetime.combine(MONDAY, time(9, 10), ZONE)


def make_doctor(db, name: str, hours=(time(8, 0), time(12, 0))) -> int:
    doctor = Doctor(full_name=name)
    db.session.add(doctor)
    db.session.flush()
    db.session.add(WorkSchedule(doctor_id=doctor.id, weekday=0, start_time=hours[0], end_time=hours[1],
                                valid_from=date(2020, 1, 1)))
    return doctor.id


def states(db) -> dict[str, tuple]:
    return {s.doctor.full_name: (s.state, s.queue_number, s.waiting)
            for s in doctor_states(db.session, SETTINGS, now=NOW)}


def test_each_doctor_state_now(db, clinic):
    available = make_doctor(db, "BS. Có Mặt")
    consulting = make_doctor(db, "BS. Đang Khám")
    make_doctor(db, "BS. Chiều", hours=(time(13, 0), time(17, 0)))
    on_leave = make_doctor(db, "BS. Nghỉ Phép")
    db.session.add(ScheduleException(doctor_id=on_leave, kind="leave", start_date=MONDAY, end_date=MONDAY))
    start = datetime.combine(MONDAY, time(9, 0), ZONE)
    db.session.add(Appointment(patient_id=clinic.patient, doctor_id=consulting, service_id=clinic.service,
                               start_at=start, end_at=start + timedelta(minutes=20), status="in_consultation",
                               queue_date=MONDAY, queue_number=3, checked_in_at=start))
    db.session.commit()
    seen = states(db)
    assert seen["BS. Có Mặt"] == ("available", None, 0)
    assert seen["BS. Đang Khám"][:2] == ("in_consultation", 3)
    assert seen["BS. Chiều"][0] == "off"
    assert seen["BS. Nghỉ Phép"][0] == "on_leave"
    assert available


def test_the_board_page_for_staff_only(db, clinic, login_as):
    make_doctor(db, "BS. Bảng Trạng Thái")
    db.session.commit()
    page = login_as("receptionist").get("/doctor-status/")
    assert page.status_code == 200 and "BS. Bảng Trạng Thái" in page.get_data(as_text=True)
    assert login_as("patient").get("/doctor-status/").status_code == 403
    assert "Doctor status" in login_as("receptionist").get("/").get_data(as_text=True)
