"""Housekeeping jobs: ``prune_sessions`` daily (the same service as ``flask prune-sessions``),
``delete_expired_recordings`` hourly (video call recordings past their retention) and
``stop_abandoned_recordings`` every minute (recordings left open by a call that is over or by a
doctor's browser that went away), ``retire_guest_logins`` every few minutes (a video visit
guest's login once the call is over), ``purge_log_events`` hourly (kept log events past their
retention) and ``announce_expiring_batches`` daily (the ``stock.batch_expiring`` domain events)."""
from __future__ import annotations

from datetime import timedelta

from app.jobs.context import app_context

SESSION_KEEP_DAYS = 30  # as ``flask prune-sessions``'s default


def prune_sessions(days: int = SESSION_KEEP_DAYS) -> int:
    """Delete login sessions that ended or expired more than ``days`` ago; how many."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.accounts.sessions import prune_sessions as prune

    with app_context():
        session = db.session.session_factory()
        try:
            deleted = prune(session, utcnow(), keep=timedelta(days=days))
            session.commit()
        finally:
            session.close()
    return deleted


def delete_expired_recordings() -> int:
    """Delete the video call recordings whose retention (``VIDEO_RECORDING_RETENTION_DAYS``) is
    over: their stored chunks go, the recording is marked deleted; how many."""
    from flask import current_app

    from app.extensions import db
    from app.models.types import utcnow
    from app.services.storage import file_store
    from app.services.video_recording import delete_expired

    with app_context():
        session = db.session.session_factory()
        try:
            return delete_expired(session, utcnow(), store=file_store(current_app.config))
        finally:
            session.close()


def stop_abandoned_recordings() -> int:
    """Stop the video call recordings left open: their call is over without having been ended, or
    the doctor's browser has sent nothing for a while (``video_recording.stop_abandoned``); how many."""
    from flask import current_app

    from app.extensions import db
    from app.models.types import utcnow
    from app.services.telemedicine import JoinWindow
    from app.services.video_recording import retention_days, stop_abandoned

    with app_context():
        session = db.session.session_factory()
        try:
            return stop_abandoned(session, utcnow(), window=JoinWindow.from_config(current_app.config),
                                  retention_days=retention_days(current_app.config))
        finally:
            session.close()


def retire_guest_logins() -> int:
    """Deactivate the logins of video visit guests whose call is over and end their sessions
    (``telemedicine.retire_guest_logins``); how many."""
    from flask import current_app

    from app.extensions import db
    from app.models.types import utcnow
    from app.services.telemedicine import JoinWindow, retire_guest_logins as retire

    with app_context():
        session = db.session.session_factory()
        try:
            return retire(session, utcnow(), JoinWindow.from_config(current_app.config))
        finally:
            session.close()


def purge_log_events() -> int:
    """Delete the kept log events older than ``LOG_RETENTION_DAYS``; how many."""
    import logging

    from flask import current_app

    from app.models.types import utcnow
    from app.services.log_events import purge_log_events as purge

    with app_context():
        deleted = purge(current_app.extensions["documents"], utcnow(), int(current_app.config["LOG_RETENTION_DAYS"]))
    logging.getLogger(__name__).info("log events purged: %d", deleted)
    return deleted


def announce_expiring_batches() -> int:
    """Write a ``stock.batch_expiring`` event for each batch with stock that now expires within the
    pharmacy's expiry window (``PHARMACY_EXPIRY_WINDOW_DAYS``), counted from the clinic's today;
    a batch is announced once. Commits; how many. Two runs at once: the second one's events meet
    the first's at the outbox sequence and it writes nothing (the first announced them)."""
    from flask import current_app
    from sqlalchemy.exc import IntegrityError

    from app.extensions import db
    from app.models.types import utcnow
    from app.services import outbox
    from app.services.dispensing import clinic_today
    from app.services.pharmacy_settings import PharmacyPolicy
    from app.services.settings import ClinicSettings

    with app_context():
        today = clinic_today(utcnow(), ClinicSettings.from_config(current_app.config))
        window = PharmacyPolicy.from_config(current_app.config).expiry_window_days
        session = db.session.session_factory()
        try:
            announced = outbox.announce_expiring_batches(session, today, window)
            session.commit()
        except IntegrityError:
            session.rollback()
            announced = 0
        finally:
            session.close()
    return announced
