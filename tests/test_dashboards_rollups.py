"""The dashboards at scale (issue 14): the appointment figures read from the rollups equal the
raw-row computation (``figures.DIRECT``) on the same data, before and after the writes that change
them (book, check in, start, complete, cancel, move, no-show, a payment), and the rollups kept by
the write hooks equal a rebuild from scratch; the cached figures are dropped by a write; the
reviews' waiting-time stars beside the measured wait. On SQLite by default, on PostgreSQL with
TEST_DATABASE_URL (the same tests)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.models import Appointment, DashboardDay, Review
from app.services.dashboards import figures, rollups
from tests.dashboard_data import build, utc
from tests.factories import token_headers

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
RANGES = (  # whole months, ranges cutting their first and last bucket, a week and a day across midnight
    (date(2026, 10, 1), date(2026, 11, 30), "month"), (date(2026, 10, 15), date(2026, 12, 10), "month"),
    (date(2026, 9, 1), date(2026, 12, 31), "quarter"), (date(2026, 10, 20), date(2026, 12, 5), "week"),
    (date(2026, 10, 30), date(2026, 12, 2), "day"), (date(2026, 11, 10), date(2026, 11, 20), "quarter"),
)


def assert_same_as_raw(session, ranges=RANGES, scopes=({},)) -> None:
    for start, end, grain in ranges:
        for scope in scopes:
            for key, direct in figures.DIRECT.items():
                fast = figures.FIGURES[key](session, start, end, grain, zone=ZONE, **scope)
                raw = direct(session, start, end, grain, zone=ZONE, **scope)
                assert fast.columns == raw.columns
                assert fast.rows == raw.rows, (key, start, end, grain, scope)


def snapshot(session) -> dict:
    return {model.__tablename__: sorted(tuple(row) for row in session.execute(sa.select(*model.__table__.c)))
            for model in rollups.ROLLUPS}


def assert_rollups_as_rebuilt(session) -> None:
    """What the write hooks kept equals what a rebuild from the raw rows makes (then rolled back)."""
    kept = snapshot(session)
    rollups.rebuild(session, ZONE)
    assert snapshot(session) == kept
    session.rollback()


@pytest.fixture
def ids(db):
    return build(db.session)


def test_rollup_figures_equal_the_raw_rows(db, ids):
    assert_same_as_raw(db.session, scopes=({}, {"doctor_id": ids.doctor_a}, {"doctor_id": ids.doctor_b},
                                           {"department_id": ids.department}))
    assert_rollups_as_rebuilt(db.session)
    # the hand-worked answers still hold (tests/test_dashboards.py): a1 at 23:30 local on 31/10, then
    # a2 at 00:30 local on 01/11, p2 on 10/11 and p3 checked in at 23:59 local on 30/11
    assert figures.visits(db.session, OCT, date(2026, 11, 30), "month", zone=ZONE).rows == [(OCT, 1), (NOV, 3)]


def test_rollups_follow_raw_sql_writes_noted_by_the_caller(db, ids):
    """A write the ORM does not see (the booking's own SQL) is noted with note_appointment."""
    appointment = db.session.execute(sa.select(Appointment).where(Appointment.status == "no_show")).scalar_one()
    db.session.execute(sa.update(Appointment).where(Appointment.id == appointment.id).values(status="completed")
                       .execution_options(synchronize_session=False))
    rollups.note_appointment(db.session, appointment.id)
    db.session.commit()
    assert_same_as_raw(db.session)
    assert_rollups_as_rebuilt(db.session)


def test_a_cancelled_first_visit_makes_a_later_visit_the_first(db, ids):
    # p1's first visit ever is a1 (31/10 23:30 local); a2 the same evening. Cancel a1: a2 is still
    # in October, so p1 stays new there; then move a2 into November: p1 is new in November.
    first = db.session.execute(sa.select(Appointment).order_by(Appointment.start_at)).scalars().first()
    first.status = "cancelled"
    db.session.commit()
    assert_same_as_raw(db.session)
    second = db.session.execute(sa.select(Appointment).where(Appointment.patient_id == first.patient_id,
                                                             Appointment.status == "completed")).scalar_one()
    second.start_at, second.end_at = utc("2026-11-05 03:00"), utc("2026-11-05 03:30")
    db.session.commit()
    assert_same_as_raw(db.session)
    assert_rollups_as_rebuilt(db.session)
    rows = dict((period, (new, returning)) for period, new, returning, _total in
                figures.patients(db.session, OCT, date(2026, 11, 30), "month", zone=ZONE).rows)
    assert rows[OCT] == (0, 0)
    assert rows[NOV] == (3, 0)  # p1 (moved), p2 (10/11) and p3 (checked in 30/11 23:59 local) all new
    db.session.delete(second)  # a deleted visit: its day and its patient again
    db.session.commit()
    assert_same_as_raw(db.session)
    assert_rollups_as_rebuilt(db.session)


def test_rollups_after_the_services_writes(app, db, clinic):
    """Book, check in, start, complete, cancel, move, no-show and a payment, each through its
    service: after each, every appointment figure equals the raw computation."""
    from app.services import booking, payments
    from app.services.booking import workflow
    from app.services.settings import ClinicSettings

    settings = ClinicSettings.from_config(app.config)
    doctor, service, patient = clinic.doctor, clinic.service, clinic.patient
    today = settings.today()
    ranges = ((today - timedelta(days=40), today + timedelta(days=40), grain) for grain in
              ("day", "week", "month", "quarter"))
    ranges = tuple(ranges)

    def check() -> None:
        assert_same_as_raw(db.session, ranges, scopes=({}, {"doctor_id": doctor}))
        assert_rollups_as_rebuilt(db.session)

    tomorrow_9 = datetime.combine(today + timedelta(days=1), datetime.min.time().replace(hour=9), ZONE)
    booked = [booking.book_appointment(db.session, patient_id=patient, doctor_id=doctor, service_id=service,
                                       start=(tomorrow_9 + timedelta(hours=h)).astimezone(timezone.utc),
                                       settings=settings, channel="phone").id for h in (0, 1, 2, 3)]
    check()
    assert figures.attendance(db.session, today, today + timedelta(days=1), "day", zone=ZONE).rows[1][1] == 4
    later = tomorrow_9.astimezone(timezone.utc) + timedelta(hours=6)
    for step in ("checked_in", "in_consultation", "completed"):  # a phone booking is confirmed
        workflow.transition_appointment(db.session, booked[0], step, actor_id=None, settings=settings,
                                        now=later)
        later += timedelta(minutes=10)
        check()
    workflow.transition_appointment(db.session, booked[1], "cancelled", actor_id=None, settings=settings,
                                    reason="Bận việc")
    check()
    workflow.reschedule_appointment(db.session, booked[2], (tomorrow_9 + timedelta(days=2)).astimezone(timezone.utc),
                                    actor_id=None, settings=settings)
    check()
    workflow.transition_appointment(db.session, booked[3], "no_show", actor_id=None, settings=settings,
                                    now=tomorrow_9.astimezone(timezone.utc) + timedelta(hours=5))
    check()
    visits = figures.visits(db.session, today, today + timedelta(days=3), "day", zone=ZONE).rows
    assert [n for _day, n in visits] == [0, 1, 0, 0]
    payments.record_payment(db.session, clinic.invoice, "cash", Decimal(100000), None, datetime.now(timezone.utc))
    check()


def test_a_write_drops_the_cached_figures(app, db, ids):
    """The API's figure is cached; a completed visit shows at once in the next answer."""
    client = app.test_client()
    headers = token_headers(app, "manager")
    query = {"figure": "visits", "start": "2026-11-01", "end": "2026-11-30", "grain": "month"}

    def visits() -> int:
        return client.get("/api/v1/dashboards/figure", headers=headers, query_string=query).get_json()["rows"][0][
            "visits"]

    assert visits() == 3
    store = app.extensions["cache"]
    hits = store.stats()["dashboards"]["hits"]
    assert visits() == 3
    assert store.stats()["dashboards"]["hits"] == hits + 1  # the second answer came from the cache
    with app.app_context():
        appointment = db.session.execute(sa.select(Appointment).where(Appointment.status == "no_show")).scalar_one()
        appointment.status = "completed"
        db.session.commit()
    assert visits() == 4


def test_the_waiting_time_rating_beside_the_measured_wait(db, ids):
    visits = {a.start_at: a for a in db.session.execute(
        sa.select(Appointment).where(Appointment.status == "completed")).scalars()}
    a1, a2 = visits[utc("2026-10-31 16:30")], visits[utc("2026-10-31 17:30")]
    other = visits[utc("2026-11-10 03:00")].patient_id  # one review per visit and patient: another's, rejected
    for appointment, stars, status, patient in ((a1, 2, "approved", a1.patient_id), (a2, 5, "approved", a2.patient_id),
                                                (a2, 1, "rejected", other)):
        db.session.add(Review(patient_id=patient, doctor_id=appointment.doctor_id,
                              appointment_id=appointment.id, rating_overall=4, rating_waiting_time=stars,
                              status=status, created_at=utc("2026-11-02 03:00")))
    db.session.commit()
    rows = figures.waits(db.session, OCT, date(2026, 11, 30), "month", zone=ZONE).rows
    # a1 (31/10 23:30 local) is October's; a2 (01/11 00:30 local) November's; the rejected one not counted
    assert rows == [(OCT, 10.0, 1, 20.0, 1, 2.0, 1), (NOV, 15.0, 1, 15.0, 1, 5.0, 1)]
    assert figures.waits_direct(db.session, OCT, date(2026, 11, 30), "month", zone=ZONE).rows == rows
    assert figures.waits(db.session, OCT, date(2026, 12, 31), "quarter", zone=ZONE).rows[0][5:] == (3.5, 2)
    # a manager hides the November one: gone at once from the rollup's figure
    hidden = db.session.execute(sa.select(Review).where(Review.appointment_id == a2.id,
                                                        Review.status == "approved")).scalar_one()
    hidden.status = "rejected"
    db.session.commit()
    rows = figures.waits(db.session, OCT, date(2026, 11, 30), "month", zone=ZONE).rows
    assert rows[1][5:] == (None, 0)
    assert figures.waits_direct(db.session, OCT, date(2026, 11, 30), "month", zone=ZONE).rows == rows


def test_the_page_shows_the_rating_column_in_vietnamese(login_as, ids):
    browser = login_as("manager")
    browser.get("/lang/vi")
    html = browser.get("/dashboards/", query_string={"start": "01/10/2026", "end": "30/11/2026",
                                                     "grain": "month"}).get_data(as_text=True)
    assert "Đánh giá thời gian chờ của bệnh nhân" in html


def test_rebuild_command(app, db, ids):
    db.session.execute(sa.delete(DashboardDay))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["dashboards", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "dashboard_day:" in result.output
    db.session.expire_all()
    assert_same_as_raw(db.session)


def test_money_follows_a_visit_moved_to_another_doctor_and_a_voided_invoice(db, ids):
    from app.models import Invoice

    visit = db.session.execute(sa.select(Appointment).where(Appointment.start_at == utc("2026-10-31 17:30"))
                               ).scalar_one()
    visit.doctor_id = ids.doctor_b  # its invoice's revenue and payments are now doctor B's
    db.session.commit()
    assert_same_as_raw(db.session, scopes=({}, {"doctor_id": ids.doctor_a}, {"doctor_id": ids.doctor_b}))
    invoice = db.session.execute(sa.select(Invoice).where(Invoice.status == "paid")).scalars().first()
    invoice.status = "void"
    db.session.commit()
    assert_same_as_raw(db.session, scopes=({}, {"doctor_id": ids.doctor_b}))
    assert_rollups_as_rebuilt(db.session)


def test_a_rolled_back_write_leaves_nothing_for_the_next_commit_to_recompute(db, ids, monkeypatch):
    """Notes die with the transaction that made them; a savepoint's rollback keeps the notes made
    before it (its caller's commit still recomputes those days)."""
    refreshed: list[set] = []
    real = rollups.refresh
    monkeypatch.setattr(rollups, "refresh", lambda session, instants, *a, **k: (
        refreshed.append(set(instants)), real(session, instants, *a, **k))[1])
    far = datetime(2031, 5, 5, 3, 0, tzinfo=timezone.utc)
    rollups.note_appointment(db.session, at=far)
    db.session.rollback()
    db.session.commit()  # nothing left to recompute
    assert refreshed == []

    near = datetime(2026, 11, 10, 3, 0, tzinfo=timezone.utc)
    rollups.note_appointment(db.session, at=near)
    savepoint = db.session.begin_nested()
    rollups.note_appointment(db.session, at=far)
    savepoint.rollback()
    db.session.commit()
    assert len(refreshed) == 1 and near in refreshed[0]
    assert_rollups_as_rebuilt(db.session)
