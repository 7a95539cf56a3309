"""The demo's today (app/services/demo_data/front_desk_day.py): a front desk's busy day, played up to
the moment of seeding through the workflow's services, with every status's history in order."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timezone

from sqlalchemy import select

from app.models import Appointment, AppointmentEvent, Encounter
from app.services import front_desk
from app.services.demo_data import maintenance, seed_demo_data
from app.services.demo_data.front_desk_day import seed_front_desk_day
from app.services.settings import ClinicSettings

DAY = date(2026, 12, 2)  # a Wednesday, no holiday


def test_today_has_done_in_consultation_waiting_no_show_and_expected(app, db):
    settings = ClinicSettings.from_config(app.config)
    zone = settings.timezone
    seed_demo_data(db.session, patients=120, timezone=zone, today=DAY)
    maintenance.reset_sequences(db.session)  # as `flask seed` does before this step (PostgreSQL's ids)
    now = datetime.combine(DAY, time(10, 30), tzinfo=zone).astimezone(timezone.utc)
    states = seed_front_desk_day(db.session, settings, now)
    start, end = front_desk.day_bounds(DAY, settings)
    today = list(db.session.execute(select(Appointment).where(Appointment.start_at >= start,
                                                              Appointment.start_at < end)).scalars())
    assert 25 <= len(today) <= 42, len(today)
    assert states == Counter(front_desk.state_of(a) for a in today)
    assert states.get("done", 0) >= 3 and states.get("waiting", 0) >= 2 and states.get("no_show") == 1, states
    assert states.get("in_consultation", 0) >= 2 and states.get("expected", 0) >= 5, states
    doctors = {a.doctor_id for a in today}
    assert len(doctors) >= 4
    busy = Counter(a.doctor_id for a in today if a.status == "in_consultation")
    assert max(busy.values()) == 1  # a doctor sees one patient at a time
    numbers = defaultdict(list)
    for a in today:
        events = list(db.session.execute(select(AppointmentEvent).where(AppointmentEvent.appointment_id == a.id)
                                         .order_by(AppointmentEvent.at, AppointmentEvent.id)).scalars())
        assert all(e.at <= now for e in events), a.id
        path = [e.to_status for e in events if e.from_status != e.to_status]
        if a.status in ("checked_in", "in_consultation", "completed"):
            assert a.queue_date == DAY and a.queue_number and a.checked_in_at <= now
            assert a.channel == "walk_in" or a.checked_in_at <= a.start_at  # booked patients come early
            numbers[a.doctor_id].append((a.checked_in_at, a.queue_number))
            assert path[-(["checked_in", "in_consultation", "completed"].index(a.status) + 1):][0] == "checked_in"
        if a.status in ("in_consultation", "completed"):
            encounter = db.session.execute(select(Encounter).where(Encounter.appointment_id == a.id)).scalar_one()
            assert encounter.doctor_id == a.doctor_id and encounter.patient_id == a.patient_id
        if a.status == "completed":
            assert path[-3:] == ["checked_in", "in_consultation", "completed"]
        if a.status in ("requested", "confirmed"):
            assert not events or path[-1] in ("requested", "confirmed")
    for doctor, seen in numbers.items():  # queue numbers in the order of arrival, from 1
        assert [n for _at, n in sorted(seen)] == list(range(1, len(seen) + 1)), doctor
    assert len({a.patient_id for a in today}) == len(today)  # nobody booked twice today


def test_before_opening_the_day_has_not_begun(app, db):
    settings = ClinicSettings.from_config(app.config)
    seed_demo_data(db.session, patients=60, timezone=settings.timezone, today=DAY)
    maintenance.reset_sequences(db.session)
    early = datetime.combine(DAY, time(5, 0), tzinfo=settings.timezone).astimezone(timezone.utc)
    states = seed_front_desk_day(db.session, settings, early)
    assert set(states) == {"expected"} and states["expected"] >= 20
