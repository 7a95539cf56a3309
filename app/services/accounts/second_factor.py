"""Two-factor login: TOTP (RFC 6238, pyotp) with a QR enrolment drawn locally, and one-time
recovery codes stored hashed.

Who must use it: the roles of the ``MFA_REQUIRED_ROLES`` setting (default Admin, Manager, Doctor);
everyone else may. A code is accepted within one 30-second step either side of ``now`` (clocks of
phones drift) and only once: the enrolment keeps the step of the last accepted code, and a code of
that step or an earlier one is refused (replay). Recovery codes are random (50 bits), shown once,
stored as SHA-256 and spent on use.

Plain functions with explicit arguments (``session``, ids, ``now``); the functions that finish a
user's action commit, the ones other code builds on (``enrol_with_secret``) leave it to the caller."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

import pyotp
from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from app.audit import record_event
from app.models.mfa import MfaEnrolment, MfaRecoveryCode
from app.services.errors import Conflict, DomainError, Forbidden
from app.services.roles import role_names

STEP_SECONDS = 30
WINDOW_STEPS = 1  # a code of the step before or after now is accepted too
RECOVERY_CODES = 10
MAX_FAILED_CODES = 5  # wrong codes in a row (setting MFA_MAX_FAILED_CODES) before codes are refused for a while
CODE_LOCK_MINUTES = 15  # setting MFA_CODE_LOCK_MINUTES
DEFAULT_REQUIRED_ROLES = "Admin,Manager,Doctor"
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt


class SecondFactorRefused(DomainError):
    """The API login needs a (valid) code, or the user must enrol in the web app first."""

    status = 401


class EnrolmentRequired(SecondFactorRefused):
    """The user's role needs two-factor login and they have not enrolled yet."""

    status = 403


@dataclass(frozen=True)
class Status:
    enrolled: bool  # confirmed: codes are asked at login
    required: bool  # the user's role needs it (it cannot be turned off)
    recovery_codes_left: int


# --- who needs it ---------------------------------------------------------------------------------

def required_roles(setting: str | None = None) -> frozenset[str]:
    """The role names of ``MFA_REQUIRED_ROLES`` (comma-separated), read from the app's settings
    when ``setting`` is not given."""
    if setting is None:
        setting = current_app.config.get("MFA_REQUIRED_ROLES", DEFAULT_REQUIRED_ROLES) if has_app_context() \
            else DEFAULT_REQUIRED_ROLES
    return frozenset(name.strip() for name in (setting or "").split(",") if name.strip())



def is_required(user: Any, roles: Iterable[str] | None = None) -> bool:
    """Whether the user's role needs two-factor login."""
    return bool(role_names(user) & set(required_roles() if roles is None else roles))


def _enrolment(session: Session, user_id: int) -> MfaEnrolment | None:
    return session.scalar(select(MfaEnrolment).where(MfaEnrolment.user_id == user_id))


def is_enrolled(session: Session, user_id: int) -> bool:
    """Whether the user has confirmed an enrolment (their logins then need a code)."""
    return session.scalar(select(MfaEnrolment.id).where(
        MfaEnrolment.user_id == user_id, MfaEnrolment.confirmed_at.is_not(None))) is not None


def pending_secret(session: Session, user_id: int) -> str | None:
    """The secret of an enrolment started but not yet confirmed (shown as a QR), or None."""
    return session.scalar(select(MfaEnrolment.secret).where(
        MfaEnrolment.user_id == user_id, MfaEnrolment.confirmed_at.is_(None)))


def status(session: Session, user: Any) -> Status:
    left = session.scalar(select(func.count()).select_from(MfaRecoveryCode).where(
        MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))) or 0
    return Status(enrolled=is_enrolled(session, user.id), required=is_required(user), recovery_codes_left=left)


# --- codes ------------------------------------------------------------------------------------------

def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _normalise(code: str | None) -> str:
    return "".join(ch for ch in (code or "").strip().lower() if ch not in " -")


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _matching_step(secret: str, code: str, now: datetime, after_step: int | None) -> int | None:
    """The time step (within the window around ``now``, later than ``after_step``) whose code is ``code``."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp, step = pyotp.TOTP(secret), time_step(now)
    for candidate in range(step - WINDOW_STEPS, step + WINDOW_STEPS + 1):
        if after_step is not None and candidate <= after_step:
            continue
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(text: str) -> str:
    """``text`` as a QR code in inline SVG (drawn here: no image library, no outside service)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    svg = svg[svg.index("<svg"):]
    # Sized by the page (CSS), not in millimetres; named for screen readers.
    return re.sub(r'^<svg width="[^"]*" height="[^"]*"', '<svg class="qr-code" role="img" aria-label="QR"', svg)


def _new_recovery_codes(session: Session, user_id: int, now: datetime) -> list[str]:
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = []
    for _index in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _char in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    session.add_all(MfaRecoveryCode(user_id=user_id, code_hash=_hash(code), created_at=now) for code in codes)
    return codes


def _spend(session: Session, enrolment: MfaEnrolment, code: str, now: datetime) -> str | None:
    """Accept ``code`` for a confirmed enrolment: "totp" or "recovery", or None when wrong or used."""
    normal = _normalise(code)
    step = _matching_step(enrolment.secret, normal, now, enrolment.last_used_step)
    if step is not None:
        enrolment.last_used_step = step
        return "totp"
    if len(normal) == 10:
        recovery = session.scalar(select(MfaRecoveryCode).where(
            MfaRecoveryCode.user_id == enrolment.user_id, MfaRecoveryCode.code_hash == _hash(normal),
            MfaRecoveryCode.used_at.is_(None)))
        if recovery is not None:
            recovery.used_at = now
            return "recovery"
    return None


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def verify_second_factor(session: Session, user_id: int, code: str | None, now: datetime) -> str:
    """Check the login code of an enrolled user (a TOTP code or an unused recovery code) and spend
    it; "totp" or "recovery". Raises ``SecondFactorRefused`` (field ``code``) when it is missing,
    wrong or already used (the refusal is audited). After ``MFA_MAX_FAILED_CODES`` wrong codes in
    a row, every code is refused for ``MFA_CODE_LOCK_MINUTES``. Commits."""
    enrolment = _enrolment(session, user_id)
    if enrolment is None or enrolment.confirmed_at is None:
        raise SecondFactorRefused(_("Two-step login is not turned on for this account."), "code")
    if not _normalise(code):
        raise SecondFactorRefused(_("Enter the code from your authenticator app, or a recovery code."), "code")
    if enrolment.codes_locked_until is not None and now < enrolment.codes_locked_until:
        record_event(session, "mfa_refused_locked", "User", user_id, user_id=user_id)
        session.commit()
        raise SecondFactorRefused(_("Too many wrong codes: try again in a few minutes."), "code")
    kind = _spend(session, enrolment, code or "", now)
    if kind is None:
        session.rollback()
        enrolment.failed_codes = (enrolment.failed_codes or 0) + 1
        details = None
        if enrolment.failed_codes >= _setting("MFA_MAX_FAILED_CODES", MAX_FAILED_CODES):
            enrolment.failed_codes = 0
            enrolment.codes_locked_until = now + timedelta(minutes=_setting("MFA_CODE_LOCK_MINUTES",
                                                                            CODE_LOCK_MINUTES))
            details = {"codes_locked_until": enrolment.codes_locked_until.isoformat()}
        record_event(session, "mfa_refused", "User", user_id, details, user_id=user_id)
        session.commit()
        raise SecondFactorRefused(_("That code is wrong or was already used."), "code")
    enrolment.failed_codes, enrolment.codes_locked_until = 0, None
    if kind == "recovery":
        record_event(session, "mfa_recovery_code_used", "User", user_id, user_id=user_id)
    session.commit()
    return kind


# --- enrolment --------------------------------------------------------------------------------------

def start_enrolment(session: Session, user_id: int, now: datetime) -> str:
    """A secret for the user to scan (kept unconfirmed until a code proves the scan worked); the
    one already started when there is one. Refused when two-step login is on already. Commits."""
    enrolment = _enrolment(session, user_id)
    if enrolment is not None and enrolment.confirmed_at is not None:
        raise Conflict(_("Two-step login is already on."))
    if enrolment is None:
        enrolment = MfaEnrolment(user_id=user_id, secret=new_secret(), created_at=now)
        session.add(enrolment)
        session.commit()
    return enrolment.secret


def confirm_enrolment(session: Session, user_id: int, code: str | None, now: datetime) -> list[str]:
    """Turn two-step login on once ``code`` matches the scanned secret; the new recovery codes (to
    show once). Commits."""
    enrolment = _enrolment(session, user_id)
    if enrolment is None:
        raise Conflict(_("Start again: scan the QR code first."))
    if enrolment.confirmed_at is not None:
        raise Conflict(_("Two-step login is already on."))
    step = _matching_step(enrolment.secret, _normalise(code), now, enrolment.last_used_step)
    if step is None:
        raise SecondFactorRefused(_("That code is wrong: check your phone's clock and type the code shown now."),
                                  "code")
    enrolment.confirmed_at, enrolment.last_used_step = now, step
    codes = _new_recovery_codes(session, user_id, now)
    record_event(session, "mfa_enrolled", "User", user_id, user_id=user_id)
    session.commit()
    return codes


def enrol_with_secret(session: Session, user_id: int, secret: str, now: datetime) -> None:
    """A confirmed enrolment with a given secret, without recovery codes: the demo logins and test
    users, whose secret is published. The caller commits."""
    enrolment = _enrolment(session, user_id)
    if enrolment is None:
        enrolment = MfaEnrolment(user_id=user_id, secret=secret, created_at=now)
        session.add(enrolment)
    enrolment.secret, enrolment.confirmed_at, enrolment.last_used_step = secret, now, None
    enrolment.failed_codes, enrolment.codes_locked_until = 0, None
    session.flush()


def regenerate_recovery_codes(session: Session, user_id: int, code: str | None, now: datetime) -> list[str]:
    """New recovery codes (the old ones stop working), after a valid code from the app. Commits."""
    verify_second_factor(session, user_id, code, now)
    codes = _new_recovery_codes(session, user_id, now)
    record_event(session, "mfa_recovery_codes_renewed", "User", user_id, user_id=user_id)
    session.commit()
    return codes


def disable_second_factor(session: Session, user: Any, password: str | None, code: str | None,
                          now: datetime) -> None:
    """Turn two-step login off: only where the role does not need it, with the password and a
    valid code. Commits."""
    if is_required(user):
        raise Forbidden(_("Your role needs two-step login: it cannot be turned off."))
    if not password or not user.password or not check_password_hash(user.password, password):
        raise SecondFactorRefused(_("The password is wrong."), "password")
    verify_second_factor(session, user.id, code, now)
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    session.execute(delete(MfaEnrolment).where(MfaEnrolment.user_id == user.id))
    record_event(session, "mfa_disabled", "User", user.id, user_id=user.id)
    session.commit()


def reset_second_factor(session: Session, user_id: int) -> None:
    """Remove the user's enrolment and recovery codes (an administrator's step, from the command
    line, for a lost phone and lost codes). Commits."""
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    session.execute(delete(MfaEnrolment).where(MfaEnrolment.user_id == user_id))
    record_event(session, "mfa_reset", "User", user_id)
    session.commit()


# --- the API login ----------------------------------------------------------------------------------

def check_api_login(session: Session, user: Any, code: str | None, now: datetime) -> None:
    """Raise ``SecondFactorRefused`` unless ``user`` (whose password was right) may finish an API
    login with ``code``: an enrolled user needs a valid code (TOTP or recovery, spent here); a user
    whose role needs two-step login and who has not enrolled is refused (``EnrolmentRequired``,
    403: they enrol in the web app first); anyone else passes."""
    if is_enrolled(session, user.id):
        verify_second_factor(session, user.id, code, now)
    elif is_required(user):
        raise EnrolmentRequired(_("Your role needs two-step login: enrol in the web app first."), "code")
