"""The encounter (the record of one visit): reading it through the access helper and the one
answer to "may this user change this encounter now?" that every section of the visit
(diagnoses, prescription, lab orders, files) asks before it writes.

A record is a draft until its doctor signs it; only the author (the login of the encounter's
doctor) changes a draft; a signed record is read-only for everyone (corrections are amendments).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, inspect as sa_inspect, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.audit import record_event
from app.i18n import N_
from app.models import (
    Appointment,
    Diagnosis,
    Doctor,
    Encounter,
    EncounterAmendment,
    Patient,
    Prescription,
    PrescriptionItem,
)
from app.services import access, billing_hooks, booking, prescribing
from app.services.booking.workflow import apply_transition
from app.services.errors import Conflict, DomainError, FieldErrors, Forbidden, NotFound, ValidationFailed, committing
from app.services.queue_push import announce, queue_of
from app.services.settings import ClinicSettings


def load_encounter(session: Session, encounter_id: int) -> Encounter:
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound(_("No such visit."))
    return encounter


def open_encounter(session: Session, encounter_id: int, user: Any, now: datetime) -> Encounter:
    """The encounter, read through the care-team access helper (audited; 403 outside care)."""
    encounter = load_encounter(session, encounter_id)
    access.open_record(session, user, encounter, now)
    return encounter


def is_author(session: Session, encounter: Encounter, user: Any) -> bool:
    doctor = encounter.doctor if encounter.doctor is not None else session.get(Doctor, encounter.doctor_id)
    return user is not None and doctor is not None and doctor.user_id == user.id


def is_editable(session: Session, encounter: Encounter, user: Any) -> bool:
    return encounter.signed_at is None and encounter.discarded_at is None and is_author(session, encounter, user)


def check_editable(session: Session, encounter: Encounter, user: Any) -> None:
    """Refuse a change to ``encounter`` by ``user``: 409 once signed, 403 for anyone but the author."""
    if encounter.signed_at is not None:
        raise Conflict(_("This record is signed and can no longer be changed; add an amendment instead."))
    if encounter.discarded_at is not None:
        raise Conflict(_("This draft was discarded and can no longer be changed."))
    if not is_author(session, encounter, user):
        raise Forbidden(_("Only the doctor who wrote this record can change it."))


def editable_encounter(session: Session, encounter_id: int, user: Any, now: datetime) -> Encounter:
    """The encounter ``user`` is about to change: readable by them and still theirs to edit."""
    encounter = open_encounter(session, encounter_id, user, now)
    check_editable(session, encounter, user)
    return encounter


# --- the visit: from My day to a signed record (issue 9, items 1, 2 and 4) ------------------------

TEXT_FIELDS: dict[str, int] = {  # field -> most characters
    "chief_complaint": 500, "history": 20000, "examination": 20000, "treatment_plan": 20000,
    "private_notes": 20000,
}
WHOLE_VITALS = ("pulse", "systolic_bp", "diastolic_bp", "respiratory_rate", "spo2")
DECIMAL_VITALS = ("temperature_c", "height_cm", "weight_kg")  # one decimal place
VITAL_FIELDS = (*WHOLE_VITALS, *DECIMAL_VITALS)
DRAFT_FIELDS = (*TEXT_FIELDS, *VITAL_FIELDS, "follow_up_date")
# What a human body can show at all: a value outside is a typing mistake, refused (the database's
# CHECK constraints hold the same limits as a last line of defence).
PHYSICAL_LIMITS: dict[str, tuple[Decimal, Decimal]] = {
    "pulse": (Decimal(10), Decimal(300)), "systolic_bp": (Decimal(30), Decimal(300)),
    "diastolic_bp": (Decimal(10), Decimal(200)), "respiratory_rate": (Decimal(1), Decimal(100)),
    "spo2": (Decimal(0), Decimal(100)), "temperature_c": (Decimal(25), Decimal(45)),
    "height_cm": (Decimal(20), Decimal(300)), "weight_kg": (Decimal("0.2"), Decimal(500)),
}
# Normal ranges of a resting adult: outside them a value is shown high or low (never refused).
NORMAL_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "pulse": (Decimal(60), Decimal(100)), "systolic_bp": (Decimal(90), Decimal(139)),
    "diastolic_bp": (Decimal(60), Decimal(89)), "respiratory_rate": (Decimal(12), Decimal(20)),
    "spo2": (Decimal(95), Decimal(100)), "temperature_c": (Decimal("36.1"), Decimal("37.5")),
    "bmi": (Decimal("18.5"), Decimal("24.9")),
}
# Fields an amendment corrects (the vitals are measurements: a wrong one is explained in the text).
AMENDABLE = ("chief_complaint", "history", "examination", "treatment_plan", "private_notes")
REASON_MAX = 500
STALE_MESSAGE = N_("This record was changed in another tab or window since you opened it. Reload the page to "
                   "see the latest version; your last changes were not saved.")


def doctor_of(session: Session, user: Any) -> Doctor | None:
    if user is None:
        return None
    return session.execute(select(Doctor).where(Doctor.user_id == user.id)).scalar_one_or_none()


def _own_doctor(session: Session, user: Any) -> Doctor:
    doctor = doctor_of(session, user)
    if doctor is None:
        raise Forbidden(_("Only a doctor can run a visit."))
    return doctor


def _own_appointment(session: Session, appointment_id: int, user: Any) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(_("No such appointment."))
    if appointment.doctor_id != _own_doctor(session, user).id:
        raise Forbidden(_("This appointment is with another doctor."))
    return appointment


def encounter_of_appointment(session: Session, appointment_id: int) -> Encounter | None:
    return session.execute(select(Encounter).where(Encounter.appointment_id == appointment_id)).scalar_one_or_none()


def start_visit(session: Session, appointment_id: int, user: Any, now: datetime, *,
                settings: ClinicSettings) -> Encounter:
    """Start (or resume) the visit of a checked-in appointment of the user's own: the draft
    encounter of the appointment (made if there is none) and the appointment moved to
    in_consultation through the booking workflow (its history event)."""
    appointment = _own_appointment(session, appointment_id, user)
    if appointment.status not in ("checked_in", "in_consultation"):
        raise Conflict(_("Only a checked-in patient's visit can be started (this appointment is %(status)s).",
                         status=_(appointment.status)), "status")
    encounter = encounter_of_appointment(session, appointment.id)
    with committing(session):
        if appointment.status == "checked_in":
            apply_transition(session, appointment, "checked_in", "in_consultation", actor_id=user.id,
                             settings=settings, now=now)
        if encounter is None:
            encounter = Encounter(patient_id=appointment.patient_id, doctor_id=appointment.doctor_id,
                                  appointment_id=appointment.id, chief_complaint=appointment.reason)
            session.add(encounter)
        queue = queue_of(appointment, settings)
    announce(*queue)
    return encounter


def finish_visit(session: Session, appointment_id: int, user: Any, now: datetime, *,
                 settings: ClinicSettings) -> Appointment:
    """The patient leaves: the appointment in consultation becomes completed (its record may be
    signed later, by its author)."""
    appointment = _own_appointment(session, appointment_id, user)
    with committing(session):
        apply_transition(session, appointment, appointment.status, "completed", actor_id=user.id,
                         settings=settings, now=now)
        queue = queue_of(appointment, settings)
    announce(*queue)
    return appointment


def _number(field: str, value: Any, whole: bool) -> tuple[Decimal | None, str | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None, _("Enter a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None, _("Enter a number.")
    if not number.is_finite():
        return None, _("Enter a number.")
    if whole and number != number.to_integral_value():
        return None, _("Enter a whole number.")
    if not whole and number != number.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP):
        return None, _("Use at most one decimal.")
    low, high = PHYSICAL_LIMITS[field]
    if not low <= number <= high:
        return None, _("%(value)s is not possible: it must be between %(low)s and %(high)s.",
                       value=_plain(number), low=_plain(low), high=_plain(high))
    return number, None


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f") if number == number.to_integral_value() else format(number, "f")


def draft_values(data: dict[str, Any], encounter_day: date | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The draft's values checked: (the values to store, the broken fields with their message).
    Every broken field is reported at once; numbers outside the physical limits are refused."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, value in data.items():
        if field in TEXT_FIELDS:
            if value is not None and not isinstance(value, str):
                errors[field] = _("Enter a text.")
                continue
            text = (value or "").strip()
            if len(text) > TEXT_FIELDS[field]:
                errors[field] = _("Use at most %(max)d characters.", max=TEXT_FIELDS[field])
            elif "\x00" in text:
                errors[field] = _("Contains characters that are not allowed.")
            else:
                values[field] = text or None
        elif field in VITAL_FIELDS:
            number, problem = _number(field, value, field in WHOLE_VITALS)
            if problem:
                errors[field] = problem
            else:
                values[field] = int(number) if number is not None and field in WHOLE_VITALS else number
        elif field == "follow_up_date":
            if value is not None and not isinstance(value, date):
                errors[field] = _("Enter a date.")
            elif value is not None and encounter_day is not None and value <= encounter_day:
                errors[field] = _("The follow-up is after the day of this visit.")
            else:
                values[field] = value
        else:
            errors[field] = _("Unknown field.")
    systolic, diastolic = values.get("systolic_bp"), values.get("diastolic_bp")
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        errors["diastolic_bp"] = _("The diastolic pressure must be lower than the systolic pressure.")
    return values, errors


def _stale() -> Conflict:
    return Conflict(_(STALE_MESSAGE))


def _commit_versioned(session: Session) -> None:
    """Commit; a row changed by another save since it was read (the version column) is a Conflict."""
    try:
        with committing(session):
            session.flush()
    except DomainError:
        raise
    except StaleDataError:
        session.rollback()
        raise _stale() from None


def check_version(encounter: Encounter, expected_version: int | None) -> None:
    if expected_version is not None and encounter.version != expected_version:
        raise _stale()


def save_draft(session: Session, encounter_id: int, data: dict[str, Any], expected_version: int | None,
               user: Any, now: datetime) -> Encounter:
    """Save the draft's fields in ``data`` (the others are left as they are): all or nothing.
    ``expected_version`` is the version the doctor's page was showing; if the record changed since
    (another tab), the save is refused with a Conflict and nothing is written."""
    encounter = editable_encounter(session, encounter_id, user, now)
    created = encounter.created_at.date() if encounter.created_at else now.date()
    values, errors = draft_values(data, created)
    # the pressure pair is checked with the stored half when only one half is sent
    systolic = values.get("systolic_bp", encounter.systolic_bp) if "systolic_bp" in data else None
    diastolic = values.get("diastolic_bp", encounter.diastolic_bp) if "diastolic_bp" in data else None
    if ("systolic_bp" in data) != ("diastolic_bp" in data):
        systolic = values.get("systolic_bp", encounter.systolic_bp)
        diastolic = values.get("diastolic_bp", encounter.diastolic_bp)
        if systolic is not None and diastolic is not None and diastolic >= systolic \
                and "diastolic_bp" not in errors:
            errors["diastolic_bp"] = _("The diastolic pressure must be lower than the systolic pressure.")
    if errors:
        session.rollback()
        raise FieldErrors(errors)
    check_version(encounter, expected_version)
    for field, value in values.items():
        setattr(encounter, field, value)
    if session.is_modified(encounter):
        _commit_versioned(session)
    return encounter


def bmi(height_cm: Decimal | None, weight_kg: Decimal | None) -> Decimal | None:
    """Body-mass index from the height and weight (computed, never stored)."""
    if not height_cm or not weight_kg:
        return None
    metres = Decimal(height_cm) / 100
    return (Decimal(weight_kg) / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def vital_flags(encounter: Encounter) -> dict[str, str]:
    """``{"pulse": "high", "spo2": "low", "bmi": "high"}``: the vitals outside a resting adult's
    normal range (the values themselves are within the physical limits)."""
    readings: dict[str, Any] = {field: getattr(encounter, field) for field in NORMAL_RANGES if field != "bmi"}
    readings["bmi"] = bmi(encounter.height_cm, encounter.weight_kg)
    flags = {}
    for field, value in readings.items():
        if value is None:
            continue
        low, high = NORMAL_RANGES[field]
        if Decimal(value) < low:
            flags[field] = "low"
        elif Decimal(value) > high:
            flags[field] = "high"
    return flags


def diagnosis_count(session: Session, encounter_id: int) -> int:
    return session.execute(select(func.count()).select_from(Diagnosis)
                           .where(Diagnosis.encounter_id == encounter_id)).scalar_one()


def primary_diagnosis_count(session: Session, encounter_id: int) -> int:
    return session.execute(select(func.count()).select_from(Diagnosis)
                           .where(Diagnosis.encounter_id == encounter_id, Diagnosis.is_primary.is_(True))).scalar_one()


def signer_name(encounter: Encounter) -> str:
    """Who signed, as the printout, chart, portal and pharmacy name him: the encounter's doctor
    (title and full name) when the signer is that doctor's login, else the login's name."""
    signer = encounter.signed_by
    doctor = encounter.doctor
    if signer is None:
        return ""
    if doctor is not None and doctor.user_id == signer.id:
        return " ".join(part for part in (doctor.title, doctor.full_name) if part)
    return f"{signer.first_name} {signer.last_name}".strip()


def sign_encounter(session: Session, encounter_id: int, user: Any, now: datetime,
                   expected_version: int | None = None, *, settings: ClinicSettings | None = None) -> Encounter:
    """Sign the draft: its author only, with a chief complaint and a primary diagnosis. From
    then on the record is read-only for everyone (corrections are amendments). The draft
    prescription is issued to the pharmacy and the appointment still in consultation is completed
    (through the booking workflow) in the same transaction; an audit row says who signed."""
    encounter = editable_encounter(session, encounter_id, user, now)
    check_version(encounter, expected_version)
    errors = {}
    if not (encounter.chief_complaint or "").strip():
        errors["chief_complaint"] = _("Write the chief complaint before signing.")
    if diagnosis_count(session, encounter.id) == 0:
        errors["diagnoses"] = _("Add at least one diagnosis before signing.")
    elif primary_diagnosis_count(session, encounter.id) == 0:
        errors["diagnoses"] = _("Mark one diagnosis as primary before signing.")
    if errors:
        raise FieldErrors(errors)
    encounter.signed_at = now
    encounter.signed_by_id = user.id
    prescribing.issue_for_encounter(session, encounter, user.id, now)
    appointment = encounter.appointment
    if appointment is not None and appointment.status == "in_consultation":
        if settings is None:
            from flask import current_app
            settings = ClinicSettings.from_config(current_app.config)
        apply_transition(session, appointment, "in_consultation", "completed", actor_id=user.id,
                         settings=settings, now=now)
    billing_hooks.visit_completed(session, encounter, user.id, now)
    record_event(session, "encounter_signed", "Encounter", encounter.id, {"patient_id": encounter.patient_id},
                 user_id=user.id)
    _commit_versioned(session)
    return encounter


def amend_encounter(session: Session, encounter_id: int, field: str, new_text: Any, reason: Any, user: Any,
                    now: datetime) -> EncounterAmendment:
    """Correct a signed record: the amendment keeps the original text, the new text, who, when
    and why; the field then reads the new text. Only the record's author amends it."""
    encounter = open_encounter(session, encounter_id, user, now)
    if encounter.signed_at is None:
        raise Conflict(_("This record is still a draft: change it directly; amendments are for signed records."))
    if not is_author(session, encounter, user):
        raise Forbidden(_("Only the doctor who signed this record can amend it."))
    errors = {}
    if field not in AMENDABLE:
        errors["field"] = _("Choose one of: %(choices)s.", choices=", ".join(AMENDABLE))
    text = new_text.strip() if isinstance(new_text, str) else ""
    why = reason.strip() if isinstance(reason, str) else ""
    if not text:
        errors["new_text"] = _("Write the corrected text.")
    elif field in TEXT_FIELDS and len(text) > TEXT_FIELDS[field]:
        errors["new_text"] = _("Use at most %(max)d characters.", max=TEXT_FIELDS[field])
    elif field in AMENDABLE and text == (getattr(encounter, field) or ""):
        errors["new_text"] = _("The corrected text is the same as the current one.")
    if not why:
        errors["reason"] = _("Say why the record is corrected.")
    elif len(why) > REASON_MAX:
        errors["reason"] = _("Use at most %(max)d characters.", max=REASON_MAX)
    if errors:
        raise FieldErrors(errors)
    amendment = EncounterAmendment(encounter_id=encounter.id, field=field, original_text=getattr(encounter, field),
                                   new_text=text, reason=why, author_id=user.id, amended_at=now)
    session.add(amendment)
    setattr(encounter, field, text)
    record_event(session, "encounter_amended", "Encounter", encounter.id,
                 {"patient_id": encounter.patient_id, "field": field}, user_id=user.id)
    _commit_versioned(session)
    return amendment


def amendments_of(session: Session, encounter_id: int) -> list[EncounterAmendment]:
    return list(session.execute(select(EncounterAmendment).where(EncounterAmendment.encounter_id == encounter_id)
                                .order_by(EncounterAmendment.amended_at, EncounterAmendment.id)).scalars())


def discard_draft(session: Session, encounter_id: int, user: Any, now: datetime,
                  expected_version: int | None = None) -> Encounter:
    """Discard a draft (its author): the row is kept, read-only and hidden from My day, with an
    audit row; it lets go of its appointment, whose visit can be started again."""
    encounter = editable_encounter(session, encounter_id, user, now)
    check_version(encounter, expected_version)
    appointment_id = encounter.appointment_id
    encounter.discarded_at = now
    encounter.discarded_by_id = user.id
    encounter.appointment_id = None
    record_event(session, "encounter_discarded", "Encounter", encounter.id,
                 {"patient_id": encounter.patient_id, "appointment_id": appointment_id}, user_id=user.id)
    _commit_versioned(session)
    return encounter


def book_follow_up(session: Session, encounter_id: int, user: Any, now: datetime, *,
                   settings: ClinicSettings) -> booking.Booking:
    """Book the follow-up on the record's follow-up date with the same doctor (and service), at
    the first free time of that day, through the booking service (its refusals as they are)."""
    encounter = open_encounter(session, encounter_id, user, now)
    if encounter.discarded_at is not None:
        raise Conflict(_("This draft was discarded."))
    if not is_author(session, encounter, user):
        raise Forbidden(_("Only the doctor who wrote this record can book its follow-up."))
    day = encounter.follow_up_date
    if day is None:
        raise ValidationFailed(_("Set the follow-up date first."), "follow_up_date")
    service_id = encounter.appointment.service_id if encounter.appointment is not None else None
    if service_id is None:
        doctor = session.get(Doctor, encounter.doctor_id)
        offered = [s.id for s in getattr(doctor, "services", []) if s.active] if doctor is not None else []
        if not offered:
            raise ValidationFailed(_("This doctor offers no service to book."), "follow_up_date")
        service_id = offered[0]
    taken = session.execute(select(Appointment.id).where(
        Appointment.patient_id == encounter.patient_id, Appointment.doctor_id == encounter.doctor_id,
        Appointment.status.in_(("requested", "confirmed")),
        Appointment.start_at >= datetime.combine(day, time.min, settings.timezone),
        Appointment.start_at < datetime.combine(day + timedelta(days=1), time.min, settings.timezone))).first()
    if taken is not None:
        raise Conflict(_("The follow-up on this day is already booked."), "follow_up_date")
    slots = booking.free_slots(session, doctor_id=encounter.doctor_id, service_id=service_id, date_from=day,
                               date_to=day, settings=settings, now=now)
    if not slots:
        raise Conflict(_("The doctor has no free time on %(day)s; choose another follow-up date.",
                         day=day.strftime("%d/%m/%Y")), "follow_up_date")
    return booking.book_appointment(session, patient_id=encounter.patient_id, doctor_id=encounter.doctor_id,
                                    service_id=service_id, start=slots[0].start, settings=settings,
                                    actor_id=user.id, channel="walk_in", reason=_("Follow-up"), now=now)


@dataclass
class Workspace:
    """What the visit page shows: the record, its patient's header and what surrounds the visit."""
    encounter: Encounter
    patient: Patient
    age: int | None
    editable: bool
    is_author: bool
    last_visit: Encounter | None
    active_prescriptions: list[Prescription]
    amendments: list[EncounterAmendment]
    flags: dict[str, str]
    bmi: Decimal | None


def age_on(born: date | None, day: date) -> int | None:
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def workspace(session: Session, encounter_id: int, user: Any, now: datetime) -> Workspace:
    """The visit page's data, read through the access helper (audited)."""
    encounter = open_encounter(session, encounter_id, user, now)
    patient = encounter.patient
    last_visit = session.execute(
        select(Encounter).where(Encounter.patient_id == patient.id, Encounter.id != encounter.id,
                                Encounter.discarded_at.is_(None), Encounter.created_at < encounter.created_at)
        .options(selectinload(Encounter.diagnoses), selectinload(Encounter.doctor))
        .order_by(Encounter.created_at.desc()).limit(1)).scalar_one_or_none()
    active = list(session.execute(
        select(Prescription).where(Prescription.patient_id == patient.id,
                                   Prescription.status.in_(("issued", "partially_dispensed", "dispensed")),
                                   Prescription.created_at >= now - timedelta(days=ACTIVE_PRESCRIPTION_DAYS))
        .options(selectinload(Prescription.items).selectinload(PrescriptionItem.medicine))
        .order_by(Prescription.created_at.desc()).limit(5)).scalars())
    author = is_author(session, encounter, user)
    return Workspace(encounter=encounter, patient=patient, age=age_on(patient.date_of_birth, now.date()),
                     editable=author and encounter.signed_at is None and encounter.discarded_at is None,
                     is_author=author, last_visit=last_visit, active_prescriptions=active,
                     amendments=amendments_of(session, encounter.id), flags=vital_flags(encounter),
                     bmi=bmi(encounter.height_cm, encounter.weight_kg))


ACTIVE_PRESCRIPTION_DAYS = 90  # a prescription issued within this many days counts as current


# --- the generic screens and REST resources (app.fab.interface.ClinicInterface) ---------------

def _undeletable() -> tuple[type, ...]:
    from app.models import Attachment, LabOrder, LabResult

    return (Encounter, Diagnosis, LabOrder, LabResult, Attachment, Prescription, PrescriptionItem,
            EncounterAmendment)


def check_generic_delete(item: Any) -> None:
    """Clinical records are never deleted, by anyone, through any generic screen or resource."""
    if isinstance(item, _undeletable()):
        raise Conflict(_("Clinical records are never deleted. Discard a draft from its visit page, or amend a "
                         "signed record."))


def _changed_columns(item: Any) -> set[str]:
    state = sa_inspect(item)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _encounters_of(session: Session, item: Any) -> list[Encounter]:
    """The encounters a clinical row belongs to now and (when it is being moved) before."""
    from app.models import LabOrder

    found: list[Encounter] = []

    def add(encounter_id: Any) -> None:
        if isinstance(encounter_id, Encounter):
            found.append(encounter_id)
        elif encounter_id is not None:
            encounter = session.get(Encounter, encounter_id)
            if encounter is not None:
                found.append(encounter)

    def moved_from(key: str) -> list[Any]:
        state: Any = sa_inspect(item)
        return [old for old in state.attrs[key].history.deleted if old is not None]

    if isinstance(item, (Diagnosis, LabOrder, Prescription)):
        add(item.encounter if item.encounter is not None else item.encounter_id)
        for old in moved_from("encounter") + moved_from("encounter_id"):
            add(old)
    elif isinstance(item, PrescriptionItem):
        prescriptions: list[Prescription | None] = [
            item.prescription if item.prescription is not None else session.get(Prescription, item.prescription_id)]
        prescriptions += [old if isinstance(old, Prescription) else session.get(Prescription, old)
                          for old in moved_from("prescription") + moved_from("prescription_id")]
        for prescription in prescriptions:
            if prescription is not None:
                add(prescription.encounter if prescription.encounter is not None else prescription.encounter_id)
    return found


# A lab order of a signed visit still moves through the lab (collected, in progress, completed).
LAB_ORDER_PROGRESS = {"status", "notes", "updated_at"}


def check_generic_write(session: Session, user: Any, item: Any, new: bool) -> None:
    """The one check of a generic create or edit of a clinical row: a signed (or discarded) record
    and what belongs to it (diagnoses, lab orders, prescriptions and their items) are read-only;
    a draft is changed only by its author. Amendments are made on the visit page only."""
    from app.models import LabOrder

    if isinstance(item, EncounterAmendment):
        raise Conflict(_("Amendments are made from the visit page and never changed."))
    if isinstance(item, Encounter):
        if new:
            if item.signed_at is not None or item.discarded_at is not None:
                raise Conflict(_("A new record starts as a draft."))
            return
        check_editable(session, item, user)
        return
    for encounter in _encounters_of(session, item):
        if isinstance(item, LabOrder) and not new and encounter.signed_at is not None \
                and _changed_columns(item) <= LAB_ORDER_PROGRESS:
            continue
        check_editable(session, encounter, user)


# --- My day: the doctor's start page -----------------------------------------------------------

@dataclass
class DayRow:
    appointment: Appointment
    encounter: Encounter | None
    waiting_minutes: int | None  # checked in: since when


@dataclass
class MyDay:
    doctor: Doctor | None
    in_consultation: list[DayRow]
    waiting: list[DayRow]  # checked in, in queue order
    expected: list[DayRow]  # booked for today, not arrived yet
    done: list[DayRow]
    upcoming: list[Appointment]  # the next days of the week
    drafts: list[Encounter]  # unsigned records of earlier days


def my_day(session: Session, user: Any, now: datetime, *, settings: ClinicSettings) -> MyDay:
    """Today's patients of the user's doctor in queue order, their coming week and the drafts
    still to sign (discarded drafts are not shown)."""
    doctor = doctor_of(session, user)
    if doctor is None:
        return MyDay(None, [], [], [], [], [], [])
    today = now.astimezone(settings.timezone).date()
    start = datetime.combine(today, time.min, settings.timezone)
    tomorrow = start + timedelta(days=1)
    week_end = start + timedelta(days=8)
    appointments = list(session.execute(
        select(Appointment).where(Appointment.doctor_id == doctor.id, Appointment.start_at >= start,
                                  Appointment.start_at < week_end,
                                  Appointment.status.in_(("requested", "confirmed", "checked_in",
                                                          "in_consultation", "completed")))
        .options(selectinload(Appointment.patient))
        .order_by(Appointment.start_at)).scalars())
    todays = [a for a in appointments if a.start_at < tomorrow]
    records = {e.appointment_id: e for e in session.execute(
        select(Encounter).where(Encounter.appointment_id.in_([a.id for a in todays]),
                                Encounter.discarded_at.is_(None))).scalars()} if todays else {}

    def row(appointment: Appointment) -> DayRow:
        waited = None
        if appointment.status == "checked_in" and appointment.checked_in_at is not None:
            waited = max(0, int((now - appointment.checked_in_at).total_seconds() // 60))
        return DayRow(appointment, records.get(appointment.id), waited)

    def of(*statuses: str) -> list[DayRow]:
        return [row(a) for a in todays if a.status in statuses]

    waiting = sorted(of("checked_in"), key=lambda r: (r.appointment.queue_number or 0, r.appointment.start_at))
    drafts = list(session.execute(
        select(Encounter).where(Encounter.doctor_id == doctor.id, Encounter.signed_at.is_(None),
                                Encounter.discarded_at.is_(None), Encounter.created_at < start)
        .options(selectinload(Encounter.patient)).order_by(Encounter.created_at.desc()).limit(20)).scalars())
    return MyDay(doctor, of("in_consultation"), waiting, of("requested", "confirmed"), of("completed"),
                 [a for a in appointments if a.start_at >= tomorrow and a.status in ("requested", "confirmed")],
                 drafts)
