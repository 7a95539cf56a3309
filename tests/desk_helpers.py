"""Shared by the tests of the doctor's and the front desk's pages: the login "doctor" as a clinic
doctor (one way for every browser test), and the desk's clock pinned to a working hour of today so
the tests run the same at 03:00 or 23:00 clinic time."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

import pytest

DESK_HOUR = time(10)  # the pinned clinic time: inside the test doctors' hours (tests/factories.py: 07:00-19:00)
DESK_MODULES = ("app.views.front_desk", "app.views.my_day")  # the pages that read the clock for the queue


def login_doctor(app: Any, db: Any, *, full_name: str = "Lê Văn Bác Sĩ", all_day: bool = False,
                 **fields: Any) -> Any:
    """The ``Doctor`` of the login "doctor", made on first use (``fields``: title, department_id...);
    ``all_day``: with a schedule of every day from 00:00 to 23:45."""
    from app.models import Doctor, WorkSchedule

    user = app.appbuilder.sm.find_user(username="doctor")
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none()
    if doctor is not None:
        return doctor
    doctor = Doctor(full_name=full_name, user_id=user.id, **fields)
    db.session.add(doctor)
    db.session.flush()
    if all_day:
        db.session.add_all(WorkSchedule(doctor_id=doctor.id, weekday=weekday, start_time=time(0),
                                        end_time=time(23, 45), valid_from=date(2020, 1, 1)) for weekday in range(7))
    db.session.commit()
    return doctor


def pinned_clock(zone: Any, hour: time = DESK_HOUR) -> Callable[[], datetime]:
    """A clock that reads ``hour`` of today (clinic time) when made and then runs on with the real one."""
    real = datetime.now(timezone.utc)
    start = datetime.combine(real.astimezone(zone).date(), hour, zone).astimezone(timezone.utc)
    return lambda: start + (datetime.now(timezone.utc) - real)


@pytest.fixture
def desk_clock(app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[], datetime]:
    """The front desk's and My day's clock at 10:00 today clinic time (running on from there): their
    routes take ``now`` from ``utcnow``, and a test booking "in half an hour" or walking a patient in
    needs the doctor at work, whatever the hour the suite runs. The clock, for the test's own bookings."""
    from app.services.settings import ClinicSettings

    clock = pinned_clock(ClinicSettings.from_config(app.config).timezone)
    for module in DESK_MODULES:
        monkeypatch.setattr(f"{module}.utcnow", clock)
    return clock


def slot_after(moment: datetime, minutes: int) -> datetime:
    """The 15-minute grid's start ``minutes`` after the slot in progress at ``moment``."""
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0) + \
        timedelta(minutes=minutes)
