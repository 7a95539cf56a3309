"""Locking an account after too many failed logins, and unlocking it.

More than ``threshold`` consecutive failed logins (the form and the API alike: both call the
security manager's ``auth_user_db``, which calls ``record_login_attempt``) lock the account for
``minutes``. During the lock every attempt is refused, the right password included, with the same
answer as a wrong one; a success resets the count; an admin may unlock early.

The count is FAB's ``ab_user.fail_login_count``; the lock is a row of ``ab_account_lock``. Each
attempt first locks the user's ``ab_user`` row (``SELECT ... FOR UPDATE`` on PostgreSQL) and holds it
until the commit, so parallel guesses at one account are decided one after another: however many
arrive at once, the first ``threshold + 1`` failures lock the account and every later attempt is
refused as locked, whatever its password (no guess beyond those can succeed, and nothing in the
answer tells which one was right). SQLite has no row locks; it runs one writer at a time.

Every attempt leaves an audit row (``login_succeeded`` or ``login_failed`` with the login name that
was tried, never the password), a new lock ``account_locked``, an unlock ``account_unlocked``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from flask_appbuilder.security.sqla.models import User
from flask_babel import force_locale, gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.audit import record_event
from app.models.lockout import AccountLock
from app.services.errors import NotFound

SUCCEEDED, FAILED, LOCKED_NOW, LOCKED = "succeeded", "failed", "locked_now", "locked"


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int = 5  # this many failures in a row are allowed; one more locks
    minutes: int = 15

    @classmethod
    def from_config(cls, config: Mapping) -> LockoutPolicy:
        return cls(threshold=int(config.get("LOCKOUT_THRESHOLD", 5)), minutes=int(config.get("LOCKOUT_MINUTES", 15)))


@dataclass(frozen=True)
class LoginAttempt:
    outcome: str  # SUCCEEDED, FAILED, LOCKED_NOW (this failure locked the account) or LOCKED (refused: locked)
    failures: int  # consecutive failures after this attempt
    locked_until: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome == SUCCEEDED


@dataclass(frozen=True)
class LockedAccount:
    user_id: int
    username: str
    name: str
    email: str
    failures: int
    locked_at: datetime
    locked_until: datetime


def _failure_details(username: str, reason: str) -> dict:
    return {"username": username[:254], "reason": reason}


def record_login_attempt(session: Session, *, user_id: int, username: str, password_ok: bool, now: datetime,
                         policy: LockoutPolicy) -> LoginAttempt:
    """Decide a login of a known, active account whose password check gave ``password_ok``;
    write the counts and the audit rows and commit. ``username``: what was typed (for the audit)."""
    users = User.__table__
    failures = session.execute(
        select(users.c.fail_login_count).where(users.c.id == user_id).with_for_update()
    ).scalar_one() or 0
    lock = session.get(AccountLock, user_id, populate_existing=True)
    if lock is not None and lock.locked_until > now:
        record_event(session, "login_failed", "User", user_id, _failure_details(username, "locked"), user_id=user_id)
        session.commit()
        return LoginAttempt(LOCKED, failures, lock.locked_until)
    if lock is not None:  # the lock has lapsed: a fresh start
        session.delete(lock)
        failures = 0
    if password_ok:
        session.execute(update(users).where(users.c.id == user_id).values(
            fail_login_count=0, login_count=func.coalesce(users.c.login_count, 0) + 1,
            # FAB's own column: a naive local time, as FAB writes it
            last_login=now.astimezone().replace(tzinfo=None)))
        record_event(session, "login_succeeded", "User", user_id, {"username": username[:254]}, user_id=user_id)
        session.commit()
        return LoginAttempt(SUCCEEDED, 0)
    failures += 1
    session.execute(update(users).where(users.c.id == user_id).values(fail_login_count=failures))
    record_event(session, "login_failed", "User", user_id, _failure_details(username, "password"), user_id=user_id)
    if failures <= policy.threshold:
        session.commit()
        return LoginAttempt(FAILED, failures)
    until = now + timedelta(minutes=policy.minutes)
    session.flush()  # the lapsed lock's DELETE before this INSERT
    session.add(AccountLock(user_id=user_id, locked_at=now, locked_until=until))
    record_event(session, "account_locked", "User", user_id,
                 {"failures": failures, "locked_until": until.isoformat()}, user_id=user_id)
    session.commit()
    return LoginAttempt(LOCKED_NOW, failures, until)


def record_refused_login(session: Session, *, username: str, reason: str, user_id: int | None = None) -> None:
    """A login refused before any password check counts: an unknown name, an inactive account, an
    empty password. Only the audit row; commits."""
    record_event(session, "login_failed", "User", user_id, _failure_details(username or "", reason),
                 user_id=user_id)
    session.commit()


def is_locked(session: Session, user_id: int, now: datetime) -> bool:
    until = session.execute(select(AccountLock.locked_until).where(AccountLock.user_id == user_id)).scalar()
    return until is not None and until > now


def locked_accounts(session: Session, now: datetime) -> list[LockedAccount]:
    """Accounts locked now, the most recently locked first."""
    users = User.__table__
    rows = session.execute(
        select(users.c.id, users.c.username, users.c.first_name, users.c.last_name, users.c.email,
               users.c.fail_login_count, AccountLock.locked_at, AccountLock.locked_until)
        .join(AccountLock, AccountLock.user_id == users.c.id)
        .where(AccountLock.locked_until > now)
        .order_by(AccountLock.locked_at.desc(), users.c.id)
    ).all()
    return [LockedAccount(row.id, row.username, f"{row.first_name or ''} {row.last_name or ''}".strip(),
                          row.email or "", row.fail_login_count or 0, row.locked_at, row.locked_until)
            for row in rows]


def unlock_account(session: Session, *, user_id: int, now: datetime, actor_id: int | None) -> None:
    """End the lock of ``user_id`` now and reset its failure count; commits. A lock that has
    already lapsed (or none) is NotFound: there is nothing to unlock."""
    if not is_locked(session, user_id, now):
        raise NotFound(_("This account is not locked."), "user_id")
    users = User.__table__
    session.execute(delete(AccountLock).where(AccountLock.user_id == user_id))
    session.execute(update(users).where(users.c.id == user_id).values(fail_login_count=0))
    record_event(session, "account_unlocked", "User", user_id, None, user_id=actor_id)
    session.commit()


def lock_notice(*, name: str, locked_until: datetime, timezone_name: str, language: str | None,
                default_language: str = "en") -> tuple[str, str]:
    """Subject and text of the e-mail that tells the owner their account was locked, in their
    language when known; otherwise in the default language followed by Vietnamese or English."""
    from zoneinfo import ZoneInfo

    local = locked_until.astimezone(ZoneInfo(timezone_name)).strftime("%H:%M %d/%m/%Y")
    languages = [language] if language else [default_language, "vi" if default_language != "vi" else "en"]
    subjects, bodies = [], []
    for code in languages:
        with force_locale(code):
            subjects.append(_("Your clinic account was locked"))
            bodies.append("\n\n".join([
                _("Hello %(name)s,", name=name),
                _("Someone entered a wrong password for your account several times in a row, so we locked it "
                  "until %(until)s. Nobody can log in to it until then, not even with the right password.",
                  until=local),
                _("If this was you, wait until then and log in again, or ask the clinic's administrator to "
                  "unlock it. If it was not you, consider choosing a stronger password once the lock ends."),
            ]))
    return " / ".join(dict.fromkeys(subjects)), "\n\n----\n\n".join(bodies)
