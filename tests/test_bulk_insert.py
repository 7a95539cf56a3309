"""Many rows in one statement (app.services.bulk_insert), on the suite's database: what the reminder
job writes (claims and messages) arrives whole, JSON, times and NULLs included, a row that exists
already is left out, and a delivery batch's asynchronous commits leave the pooled connection as it
was."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.models import OutboundMessage
from app.models.types import utcnow
from app.services.bulk_insert import insert_ignoring_duplicates, set_by_id
from app.services.messaging.delivery import _close_recorder, _recorder
from app.services.messaging.settings import MessagingSettings


def _row(n: int, **values):
    now = utcnow()
    return {"dedupe_key": f"bulk:{n}", "channel": "email", "kind": "plain",
            "params": {"subject": f"Nhắc lịch {n}", "list": [1, "hai"]}, "language": "vi",
            "recipient": f"bn{n}@example.vn", "recipient_name": "Nguyễn Thị Ánh" if n % 2 else None,
            "user_id": None, "patient_id": None, "appointment_id": None,
            "not_before": now + timedelta(hours=n) if n % 3 == 0 else None, "status": "queued",
            "skip_reason": None, "attempts": 0, "created_at": now} | values


def test_rows_arrive_whole_and_a_duplicate_is_left_out(app, db):
    rows = [_row(n) for n in range(1, 8)]
    first = insert_ignoring_duplicates(db.session, OutboundMessage, rows[:4], ("id", "dedupe_key"))
    db.session.commit()
    assert sorted(row.dedupe_key for row in first) == ["bulk:1", "bulk:2", "bulk:3", "bulk:4"]
    # bulk:3 and bulk:4 exist already: only the three new ones come back, and nothing is doubled
    second = insert_ignoring_duplicates(db.session, OutboundMessage, rows[2:], ("id", "dedupe_key", "status"))
    db.session.commit()
    assert sorted(row.dedupe_key for row in second) == ["bulk:5", "bulk:6", "bulk:7"]
    assert db.session.query(OutboundMessage).count() == 7
    db.session.expire_all()
    three = db.session.execute(sa.select(OutboundMessage).where(OutboundMessage.dedupe_key == "bulk:3")).scalar_one()
    assert three.params == {"subject": "Nhắc lịch 3", "list": [1, "hai"]}
    assert three.recipient_name == "Nguyễn Thị Ánh" and three.not_before is not None
    assert abs(three.not_before - rows[2]["not_before"]) < timedelta(seconds=1)
    two = db.session.execute(sa.select(OutboundMessage).where(OutboundMessage.dedupe_key == "bulk:2")).scalar_one()
    assert two.recipient_name is None and two.not_before is None


def test_set_by_id_writes_each_rows_own_value(app, db):
    written = insert_ignoring_duplicates(db.session, OutboundMessage, [_row(n) for n in range(1, 4)],
                                         ("id", "dedupe_key"))
    by_key = {row.dedupe_key: row.id for row in written}
    set_by_id(db.session, OutboundMessage, "attempts", {by_key["bulk:1"]: 2, by_key["bulk:3"]: 5})
    db.session.commit()
    attempts = dict(db.session.execute(sa.select(OutboundMessage.dedupe_key, OutboundMessage.attempts)).all())
    assert attempts == {"bulk:1": 2, "bulk:2": 0, "bulk:3": 5}


@pytest.mark.needs_postgres
@pytest.mark.parametrize("asynchronous", [True, False])
def test_a_batch_commits_without_waiting_for_the_disk_and_gives_its_connection_back_as_it_was(app, db,
                                                                                              asynchronous):
    engine = sa.create_engine(db.engine.url, pool_size=1, max_overflow=0)  # one connection: the same one back
    try:
        with engine.connect() as first:  # the session's own value (the suite's engines set it off)
            before = first.exec_driver_sql("SHOW synchronous_commit").scalar()
            default = first.exec_driver_sql("SELECT reset_val FROM pg_settings WHERE name = 'synchronous_commit'"
                                            ).scalar()
        settings = MessagingSettings.from_config({**app.config, "MESSAGE_ASYNC_COMMIT": asynchronous})
        recorder = _recorder(engine, settings)
        assert recorder.exec_driver_sql("SHOW synchronous_commit").scalar() == ("off" if asynchronous else before)
        backend = recorder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        _close_recorder(recorder, settings)
        with engine.connect() as again:
            assert again.exec_driver_sql("SELECT pg_backend_pid()").scalar() == backend
            assert again.exec_driver_sql("SHOW synchronous_commit").scalar() == (default if asynchronous else before)
    finally:
        engine.dispose()
