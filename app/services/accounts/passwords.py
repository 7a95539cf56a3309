"""Passwords: one strength rule for sign-up, change, reset and admin-set, and those four writes.

The rule: at least PATIENT_MIN_PASSWORD_LENGTH characters for a patient's login and
STAFF_MIN_PASSWORD_LENGTH for staff (any role other than Patient), and zxcvbn's guessability
score (0-4, a maintained estimator with its own common-password, name and keyboard-pattern lists)
at least PASSWORD_MIN_SCORE, with the user's own username, names and e-mail passed to zxcvbn so
that a password made of them counts as guessable. zxcvbn's advice is shown translated.

A change or a reset ends the user's other sessions and refresh tokens
(``app.services.accounts.sessions.end_user_sessions``)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask_appbuilder.security.sqla.models import User
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from app.audit import record_event
from app.models import AccountEmail
from app.services.accounts import links
from app.services.accounts.sessions import end_user_sessions
from app.services.errors import ValidationFailed
from app.services.roles import is_staff, role_names
from app.services.settings import ClinicSettings

MAX_CHECKED_LENGTH = 128  # zxcvbn's time grows with the length; longer passwords are refused by the forms

# zxcvbn's advice (its English strings), in the clinic's languages.
ZXCVBN_FEEDBACK = {
    "Use a few words, avoid common phrases.": _l("Use a few words, avoid common phrases."),
    "No need for symbols, digits, or uppercase letters.": _l("No need for symbols, digits, or uppercase letters."),
    "Add another word or two. Uncommon words are better.": _l("Add another word or two. Uncommon words are better."),
    "Straight rows of keys are easy to guess.": _l("Straight rows of keys are easy to guess."),
    "Short keyboard patterns are easy to guess.": _l("Short keyboard patterns are easy to guess."),
    "Use a longer keyboard pattern with more turns.": _l("Use a longer keyboard pattern with more turns."),
    'Repeats like "aaa" are easy to guess.': _l('Repeats like "aaa" are easy to guess.'),
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".':
        _l('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    "Avoid repeated words and characters.": _l("Avoid repeated words and characters."),
    'Sequences like "abc" or "6543" are easy to guess.': _l('Sequences like "abc" or "6543" are easy to guess.'),
    "Avoid sequences.": _l("Avoid sequences."),
    "Recent years are easy to guess.": _l("Recent years are easy to guess."),
    "Avoid recent years.": _l("Avoid recent years."),
    "Avoid years that are associated with you.": _l("Avoid years that are associated with you."),
    "Dates are often easy to guess.": _l("Dates are often easy to guess."),
    "Avoid dates and years that are associated with you.": _l("Avoid dates and years that are associated with you."),
    "This is a top-10 common password.": _l("This is a top-10 common password."),
    "This is a top-100 common password.": _l("This is a top-100 common password."),
    "This is a very common password.": _l("This is a very common password."),
    "This is similar to a commonly used password.": _l("This is similar to a commonly used password."),
    "A word by itself is easy to guess.": _l("A word by itself is easy to guess."),
    "Names and surnames by themselves are easy to guess.": _l("Names and surnames by themselves are easy to guess."),
    "Common names and surnames are easy to guess.": _l("Common names and surnames are easy to guess."),
    "Capitalization doesn't help very much.": _l("Capitalization doesn't help very much."),
    "All-uppercase is almost as easy to guess as all-lowercase.":
        _l("All-uppercase is almost as easy to guess as all-lowercase."),
    "Reversed words aren't much harder to guess.": _l("Reversed words aren't much harder to guess."),
    "Predictable substitutions like '@' instead of 'a' don't help very much.":
        _l("Predictable substitutions like '@' instead of 'a' don't help very much."),
}


@dataclass(frozen=True)
class PasswordPolicy:
    patient_min_length: int = 8
    staff_min_length: int = 12
    min_score: int = 3
    hash_method: str = "scrypt"
    salt_length: int = 16

    @classmethod
    def from_config(cls, config: Mapping) -> "PasswordPolicy":
        return cls(int(config.get("PATIENT_MIN_PASSWORD_LENGTH", 8)), int(config.get("STAFF_MIN_PASSWORD_LENGTH", 12)),
                   int(config.get("PASSWORD_MIN_SCORE", 3)), config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                   int(config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16)))

    def min_length(self, staff: bool) -> int:
        return self.staff_min_length if staff else self.patient_min_length

    def hash(self, password: str) -> str:
        """The stored form, as FAB writes it (so FAB's login checks it)."""
        return generate_password_hash(password, method=self.hash_method, salt_length=self.salt_length)


def user_inputs(*values: str | None) -> list[str]:
    """What zxcvbn should treat as known to an attacker: the given values, and an e-mail's local
    part and the words of a name separately."""
    inputs: list[str] = []
    for value in values:
        value = (value or "").strip().lower()
        if not value:
            continue
        inputs.append(value)
        if "@" in value:
            inputs.append(value.split("@", 1)[0])
        inputs.extend(word for word in value.replace(".", " ").replace("_", " ").split() if len(word) > 2)
    return inputs


def inputs_of(user: User) -> list[str]:
    return user_inputs(user.username, user.first_name, user.last_name, user.email)


def password_problems(password: str | None, *, staff: bool, inputs: Iterable[str], policy: PasswordPolicy) -> list[str]:
    """What is wrong with ``password`` (empty when it may be used), as messages for the user."""
    password = password or ""
    minimum = policy.min_length(staff)
    if len(password) < minimum:
        return [_("Use at least %(n)d characters.", n=minimum)]
    if len(password) > MAX_CHECKED_LENGTH:
        return [_("Use at most %(n)d characters.", n=MAX_CHECKED_LENGTH)]
    result = zxcvbn(password, user_inputs=list(inputs))
    if result["score"] >= policy.min_score and password.lower() not in set(inputs):
        return []
    feedback = result.get("feedback") or {}
    advice = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    return [_("This password is easy to guess."),
            *(str(ZXCVBN_FEEDBACK.get(text, text)) for text in advice if text)] if any(advice) else [
        _("This password is easy to guess."), _("Add another word or two. Uncommon words are better.")]


def check_password(password: str | None, *, staff: bool, inputs: Iterable[str], policy: PasswordPolicy,
                   field: str = "password") -> None:
    problems = password_problems(password, staff=staff, inputs=inputs, policy=policy)
    if problems:
        raise ValidationFailed(" ".join(problems), field)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ValidationFailed(_("This login does not exist."), "user")
    return user


def check_for_user(session: Session, user_id: int, password: str | None, policy: PasswordPolicy,
                   field: str = "password") -> None:
    """The rule for this user's roles and names."""
    user = _user(session, user_id)
    check_password(password, staff=is_staff(role_names(user)), inputs=inputs_of(user), policy=policy,
                   field=field)


def _store(session: Session, user: User, password: str, policy: PasswordPolicy, now: datetime,
           keep_session_id: str | None, action: str, actor_id: int | None) -> None:
    user.password = policy.hash(password)
    end_user_sessions(session, user.id, now, keep_session_id=keep_session_id)
    record_event(session, action, "User", user.id, user_id=actor_id if actor_id is not None else user.id)


def change_password(session: Session, *, user_id: int, current_password: str | None, new_password: str | None,
                    policy: PasswordPolicy, now: datetime, keep_session_id: str | None) -> None:
    """The user changes their own password: the current one first (all problems at once, by
    field), then the rule. Other sessions end; ``keep_session_id`` (this one) stays. Commits."""
    user = _user(session, user_id)
    errors: dict[str, str] = {}
    if not current_password or not user.password or not check_password_hash(user.password, current_password):
        errors["current_password"] = _("This is not your current password.")
    try:
        check_for_user(session, user_id, new_password, policy)
    except ValidationFailed as exc:
        errors["password"] = exc.message
    if errors:
        session.rollback()
        raise PasswordRefused(errors)
    _store(session, user, new_password or "", policy, now, keep_session_id, "password_change", None)
    session.commit()


def set_password(session: Session, *, user_id: int, password: str | None, policy: PasswordPolicy, now: datetime,
                 actor_id: int | None) -> None:
    """An admin sets another user's password: the same rule, for that user's roles; all of that
    user's sessions end. Commits."""
    user = _user(session, user_id)
    check_for_user(session, user_id, password, policy)
    _store(session, user, password or "", policy, now, None, "password_set", actor_id)
    session.commit()


class PasswordRefused(ValidationFailed):
    """Several fields may be wrong at once: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = errors


# --- reset by e-mail ----------------------------------------------------------------------------


def user_by_email(session: Session, email: str) -> User | None:
    """The active login whose e-mail (or username) is ``email``, compared without case."""
    email = (email or "").strip().lower()
    if not email:
        return None
    return session.execute(select(User).where(
        (func.lower(User.email) == email) | (func.lower(User.username) == email)).order_by(User.id)).scalars().first()


def request_reset(session: Session, *, email: str, now: datetime, config: Mapping) -> tuple[User, str] | None:
    """A reset link for the active login with this address (the user and the token to mail), or
    None; the caller answers the same either way. Commits."""
    user = user_by_email(session, email)
    if user is None or not user.active or not user.email:
        session.rollback()
        return None
    token = links.issue_link(session, user_id=user.id, purpose="reset", now=now,
                             valid_for=links.lifetime(config, "reset"), email=user.email)
    session.commit()
    return user, token


def reset_password(session: Session, *, token: str | None, password: str | None, policy: PasswordPolicy,
                   now: datetime, settings: ClinicSettings) -> int:
    """Use a reset link: the new password (the user's rule), every session of the user ended. The
    link was mailed to the login's address, so that address is now confirmed too. The user's id.
    Commits."""
    link = links.check_link(session, token, "reset", now)
    check_for_user(session, link.user_id, password, policy)
    link = links.use_link(session, token, "reset", now)
    user = _user(session, link.user_id)
    _store(session, user, password or "", policy, now, None, "password_reset", user.id)
    confirmation = session.get(AccountEmail, user.id)
    if confirmation is not None and confirmation.confirmed_at is None and \
            (confirmation.email or "").lower() == (link.email or "").lower():
        from app.services.signup import complete_signup  # sign-up builds on this module

        complete_signup(session, user.id, now, settings)
    session.commit()
    return user.id
