"""Signing up a patient on the public site, confirming the e-mail address, and linking the login
to the patient record the front desk may already have made.

**The e-mail address is the login.** A self-registered patient logs in with their e-mail
address (it is their username). A username the patient picks could be taken, and saying so
tells anyone which usernames exist; hiding it would need a second, silent way to name the
account. An address, by contrast, can only be claimed by its owner (the confirmation goes
there), and a clinic already asks for it to send reminders. So the sign-up answer is the same
page whatever was typed ("we sent a message to <address>"), and:

- a new address: the login is made (role Patient), and a confirmation link is mailed;
- an address that is already some login's e-mail or username: nothing is made, and the owner
  of the address is told by e-mail that someone tried to sign up with it (log in, or reset the
  password). The password is hashed anyway, so both answers take as long.

Phone numbers are not unique (families share one), so a phone never makes a sign-up differ.

**Until the address is confirmed** the login can log in but not book: it has no patient record
yet (``PendingSignup`` keeps the name, phone and date of birth). Confirming (the link, or a
password reset mailed to the same address) links the login to the desk's record of this patient,
only when exactly one record without a login has this e-mail address, or else exactly one has
this phone number and this date of birth; never by name (two patients may share a name). With no
such record, a new one is made.

Staff accounts are made only by admins (FAB's user screens); FAB's self-registration is off
(``AUTH_USER_REGISTRATION`` unset) and this module only ever gives the Patient role."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import record_event
from app.models import AccountEmail, Patient, PendingSignup
from app.services import rules, validation as v
from app.services.accounts import links
from app.services.accounts.passwords import PasswordPolicy, password_problems, user_by_email, user_inputs
from app.services.errors import DomainError, ValidationFailed
from app.services.roles import PATIENT_ROLE
from app.services.settings import ClinicSettings


class SignupRefused(ValidationFailed):
    """Several fields may be wrong at once: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = errors


@dataclass(frozen=True)
class SignupOutcome:
    """What to mail to ``email``: a confirmation link (``token``) for a new login, or, when the
    address already belongs to a login (``token`` None), a note that someone tried to sign up."""

    email: str
    token: str | None
    user_id: int | None


def split_name(full_name: str) -> tuple[str, str]:
    """'Nguyễn Văn An' -> ('An', 'Nguyễn Văn'): the given name is the last word in Vietnamese."""
    parts = full_name.strip().rsplit(" ", 1)
    return (parts[1], parts[0]) if len(parts) == 2 else (parts[0], "")


def sign_up_patient(session: Session, *, full_name: str, phone: str, email: str, date_of_birth: date | None,
                    password: str, settings: ClinicSettings, policy: PasswordPolicy, now: datetime,
                    config: Mapping, known_errors: dict[str, str] | None = None) -> SignupOutcome:
    """Check every field (all errors at once; none depends on what is registered), then make the
    login and its confirmation link, or nothing when the address is taken. Commits."""
    errors: dict[str, str] = {}
    checks = {
        "full_name": lambda: v.require_text("full_name", full_name, 150),
        "phone": lambda: v.require_text("phone", phone) and v.normalize_phone("phone", phone, settings.phone_region),
        "email": lambda: v.require_text("email", email) and v.normalize_email("email", email),
    }
    clean: dict[str, str | None] = {}
    for field, check in checks.items():
        try:
            clean[field] = check()
        except ValidationFailed as exc:
            errors[field] = exc.message
    address = (clean.get("email") or "").lower()
    problems = password_problems(password, staff=False, policy=policy,
                                 inputs=user_inputs(address, email, full_name, phone))
    if problems:
        errors["password"] = " ".join(problems)
    for field, message in (known_errors or {}).items():
        errors.setdefault(field, message)
    patient = Patient(full_name=clean.get("full_name") or full_name, phone=clean.get("phone"), email=address or None,
                      date_of_birth=date_of_birth)
    if not errors:
        try:
            rules.validate(session, patient, settings)  # the same rules as the back office
        except ValidationFailed as exc:
            errors[exc.field or "full_name"] = exc.message
    if errors:
        session.rollback()
        raise SignupRefused(errors)
    hashed = policy.hash(password)  # also when nothing is made: both answers take as long
    owner = user_by_email(session, address)
    if owner is not None:
        session.rollback()
        record_event(session, "signup_address_taken", "User", owner.id)  # for admins: who probes addresses
        session.commit()
        return SignupOutcome(address, None, None)
    role = session.execute(select(Role).where(Role.name == PATIENT_ROLE)).scalar_one_or_none()
    if role is None:
        raise DomainError(_("The account could not be created. Please try again."))
    first_name, last_name = split_name(patient.full_name)
    user = User(first_name=first_name[:64], last_name=last_name[:64], username=address, email=address, active=True,
                password=hashed, roles=[role])
    session.add(user)
    session.flush()
    session.add(AccountEmail(user_id=user.id, email=address, confirmed_at=None))
    session.add(PendingSignup(user_id=user.id, full_name=patient.full_name, phone=patient.phone,
                              date_of_birth=date_of_birth, created_at=now))
    token = links.issue_link(session, user_id=user.id, purpose="confirm", now=now,
                             valid_for=links.lifetime(config, "confirm"), email=address)
    record_event(session, "signup", "User", user.id, user_id=user.id)
    session.commit()
    return SignupOutcome(address, token, user.id)


def confirmation_pending(session: Session, user_id: int | None) -> AccountEmail | None:
    """The sign-up of ``user_id`` whose address is not confirmed yet (None: nothing to confirm)."""
    if user_id is None:
        return None
    row = session.get(AccountEmail, user_id)
    return row if row is not None and row.confirmed_at is None else None


def resend_confirmation(session: Session, *, user_id: int, now: datetime, config: Mapping) -> tuple[str, str] | None:
    """A new confirmation link (the older ones stop working): (address, token) to mail, or None
    when the address is confirmed already. Commits."""
    pending = confirmation_pending(session, user_id)
    if pending is None:
        return None
    token = links.issue_link(session, user_id=user_id, purpose="confirm", now=now,
                             valid_for=links.lifetime(config, "confirm"), email=pending.email)
    session.commit()
    return pending.email, token


def check_confirmation(session: Session, token: str | None, now: datetime) -> None:
    """Raise ``links.LinkRefused`` unless the confirmation link may be used (changes nothing)."""
    links.check_link(session, token, "confirm", now)


def confirm_email(session: Session, *, token: str | None, now: datetime, settings: ClinicSettings) -> int:
    """Use the confirmation link: the address is confirmed and the sign-up completed (the login
    linked to its patient record). The user's id. Commits."""
    link = links.use_link(session, token, "confirm", now)
    complete_signup(session, link.user_id, now, settings)
    session.commit()
    return link.user_id


def desk_record_for(session: Session, *, email: str | None, phone: str | None,
                    date_of_birth: date | None) -> Patient | None:
    """The patient record without a login that a confirmed sign-up is linked to: the only one
    with this e-mail address, else the only one with this phone and this date of birth. Never by
    name."""
    unlinked = select(Patient).where(Patient.user_id.is_(None))
    if email:
        found = session.execute(unlinked.where(func.lower(Patient.email) == email.lower()).limit(2)).scalars().all()
        if len(found) == 1:
            return found[0]
    if phone and date_of_birth:
        found = session.execute(unlinked.where(Patient.phone == phone, Patient.date_of_birth == date_of_birth)
                                .limit(2)).scalars().all()
        if len(found) == 1:
            return found[0]
    return None


def complete_signup(session: Session, user_id: int, now: datetime, settings: ClinicSettings) -> Patient | None:
    """Mark the address confirmed and apply the waiting sign-up: link the desk's record (see
    ``desk_record_for``) or make a new one. The caller commits."""
    confirmation = session.get(AccountEmail, user_id)
    if confirmation is not None and confirmation.confirmed_at is None:
        confirmation.confirmed_at = now
    pending = session.get(PendingSignup, user_id)
    if pending is None:
        return None
    email = confirmation.email if confirmation is not None else None
    linked = session.execute(select(Patient).where(Patient.user_id == user_id)).scalars().first()
    if linked is not None:  # the desk linked a record to this login meanwhile: it stays
        session.delete(pending)
        session.flush()
        return linked
    patient = desk_record_for(session, email=email, phone=pending.phone, date_of_birth=pending.date_of_birth)
    if patient is not None:
        patient.user_id = user_id
        patient.email = patient.email or email
        record_event(session, "signup_linked", "Patient", patient.id, user_id=user_id)
    else:
        patient = Patient(full_name=pending.full_name, phone=pending.phone, email=email,
                          date_of_birth=pending.date_of_birth, user_id=user_id)
        rules.validate(session, patient, settings)
        session.add(patient)
    session.delete(pending)
    session.flush()
    return patient


# --- a new e-mail address (for the profile page) ------------------------------------------------


def request_email_change(session: Session, *, user_id: int, new_email: str, now: datetime,
                         config: Mapping) -> tuple[str, str | None]:
    """Ask to move ``user_id`` to ``new_email``: (the normalised address, a token to mail to it),
    the token None when the address already belongs to another login (the caller answers the
    same either way, and may tell that address's owner). Nothing changes until the link is
    used (``change_email``). Commits."""
    address = (v.normalize_email("email", v.require_text("email", new_email, 254)) or "").lower()
    owner = user_by_email(session, address)
    if owner is not None and owner.id != user_id:
        session.rollback()
        return address, None
    token = links.issue_link(session, user_id=user_id, purpose="email_change", now=now,
                             valid_for=links.lifetime(config, "email_change"), email=address)
    session.commit()
    return address, token


def change_email(session: Session, *, token: str | None, now: datetime) -> int:
    """Use an ``email_change`` link: the login's e-mail becomes the address the link carries, and
    so does its username when that was the old address (a self-registered patient logs in with
    it), the confirmed address, and the linked patient record's e-mail. The user's id. Commits.
    Refused (``ValidationFailed`` on "email") when another login took the address meanwhile."""
    link = links.use_link(session, token, "email_change", now)
    address = (link.email or "").lower()
    owner = user_by_email(session, address)
    if owner is not None and owner.id != link.user_id:
        session.rollback()
        raise ValidationFailed(_("This address now belongs to another login."), "email")
    user = session.get(User, link.user_id)
    if user is None:
        session.rollback()
        raise links.LinkRefused("invalid")
    old = (user.email or "").lower()
    if (user.username or "").lower() == old:
        user.username = address
    user.email = address
    confirmation = session.get(AccountEmail, user.id)
    if confirmation is None:
        session.add(AccountEmail(user_id=user.id, email=address, confirmed_at=now))
    else:
        confirmation.email, confirmation.confirmed_at = address, now
    patient = session.execute(select(Patient).where(Patient.user_id == user.id)).scalars().first()
    if patient is not None:
        patient.email = address
    record_event(session, "email_change", "User", user.id, user_id=user.id)
    session.commit()
    return user.id
