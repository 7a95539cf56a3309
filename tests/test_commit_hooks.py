"""Work that follows a commit and opens a session of its own runs once the committing session has
given its connection back (app/services/commit_hooks.py). Before, it ran inside SQLAlchemy's
``after_commit``, with the connection still held: 200 video patients joining at once on one
gevent process each held one connection and waited for a second, the pool (5 + 10) ran dry and
every join stood still for the pool's 30 s timeout. Here the pool has ONE connection and a
1-second timeout: anything that needs two at once fails fast and shows in the log."""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from tests.factories import CLINIC_ZONE, DAY


@pytest.fixture
def one_connection(app, db, monkeypatch):
    """narrow() replaces the app's engine by one whose pool holds a single connection (1 s timeout)."""
    narrow_engine = create_engine(db.engine.url, poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=1)
    engines = app.extensions["sqlalchemy"]._app_engines[app]

    def narrow():
        db.session.remove()
        monkeypatch.setitem(engines, None, narrow_engine)
        return narrow_engine

    yield narrow
    db.session.remove()
    monkeypatch.undo()
    narrow_engine.dispose()


def test_a_hook_runs_after_the_commit_with_the_connection_given_back(app, db, one_connection):
    from app.services import commit_hooks

    engine = one_connection()
    seen = []

    @commit_hooks.after_commit_released
    def count_checked_out(session: Session) -> None:
        if session.info.pop("test_commit_hooks", None):
            seen.append(engine.pool.checkedout())
            with Session(engine) as own:  # a session of its own, as the search job's
                seen.append(own.execute(text("SELECT 1")).scalar_one())

    try:
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            session.info["test_commit_hooks"] = True
            session.commit()
            assert seen == [0, 1]  # nothing held while the hook ran; its own session got the connection

            session.execute(text("SELECT 1"))
            session.info["test_commit_hooks"] = True
            session.rollback()  # a rollback runs no hook
            nested = session.begin_nested()
            nested.commit()  # nor does a savepoint's release
            assert seen == [0, 1]
            session.info.pop("test_commit_hooks", None)
    finally:
        commit_hooks._hooks.remove(count_checked_out)


def test_a_check_in_with_its_pushes_and_index_job_needs_one_connection(app, db, clinic, one_connection, caplog,
                                                                         monkeypatch):
    """The desk's check-in commits, then the search index job (in-process without Redis) and the
    queue's live update each open a session: with one connection in the pool, none of them waits."""
    import app.jobs.search as search_jobs
    import app.realtime.emit as emit
    from app.extensions import db as database
    from app.models import Appointment, Patient
    from app.services import front_desk
    from app.services.settings import ClinicSettings

    indexed, sent = [], []

    def index_records(changes: list[list]) -> int:  # the job's reading, without touching the real index
        with Session(database.engine) as own:
            indexed.extend((kind, ref) for kind, ref in changes
                           if own.execute(text("SELECT 1")).scalar_one() == 1)
        return len(changes)

    monkeypatch.setattr(search_jobs, "index_records", index_records)
    monkeypatch.setattr(emit, "send", lambda event, payload, rooms: sent.append((event, payload)))
    monkeypatch.setitem(app.config, "SEARCH_INDEX_ON_WRITE", True)
    settings = ClinicSettings.from_config(app.config)
    now = datetime.combine(DAY, time(9, 7), CLINIC_ZONE).astimezone(timezone.utc)
    patient = clinic.save(Patient(full_name="Nguyễn Thị Hồng"))
    appointment = clinic.save(Appointment(patient_id=patient, doctor_id=clinic.doctor, service_id=clinic.service,
                                          status="confirmed", start_at=datetime.combine(DAY, time(9, 0), CLINIC_ZONE)))
    receptionist = app.appbuilder.sm.find_user(username="receptionist").id
    one_connection()
    indexed.clear()
    sent.clear()
    caplog.set_level(logging.INFO)
    started = datetime.now()
    checked = front_desk.check_in(db.session, appointment, receptionist, now, settings=settings)
    assert datetime.now() - started < timedelta(seconds=1)  # nobody waited for the pool's timeout
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert ("appointments", appointment) in indexed  # the index job read in a session of its own
    assert ("queue", {"doctor_id": clinic.doctor, "day": DAY.isoformat()}) in sent  # the desk's live update
    assert checked.status == "checked_in" and checked.queue_number == 1
