"""Prescribing in the visit (issue 9, item 5).

The encounter's draft prescription (one per encounter, created with its first item) is changed
only while the encounter is editable (draft, by its author: ``encounters.check_editable``).
Every item is checked on the server before it is written: its fields (every broken one at once),
then the warnings (``item_warnings``):

- **allergy**: the patient's allergy text names an active ingredient (or the medicine's name);
- **duplicate**: the same ingredient twice in this prescription, or in another active one;
- **interaction**: a pair in the interaction table between this item's ingredients and those of
  the other items (and of the patient's other active prescriptions).

Never a silent pass: an item with warnings is saved only when the doctor acknowledged them
(``acknowledged``, else 409 listing them); an allergy or a severe interaction also needs an
override reason (else 422 on ``override_reason``), kept on the item with the warnings shown.

Ingredient names are compared by ``ingredient_key``: folded (case and accents ignored), doubled
letters single, a final "e" dropped and "ph" as "f" (so the Vietnamese spelling "Amoxicilin",
"Penicilin", "Loratadin" meets "Amoxicillin", "penicillin", "Loratadine"), English "X acid"
as "acid X", and a few synonyms (aspirin = acid acetylsalicylic, acetaminophen = paracetamol).
An interaction row names an ingredient by its key; it matches a medicine's ingredient whose words
contain it ("amlodipin" matches "Amlodipine besylate").
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence

from flask_babel import get_locale, gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import DrugInteraction, Encounter, Medicine, Patient, Prescription, PrescriptionItem
from app.models.interactions import SEVERITIES
from app.models.pharmacy import ROUTES
from app.services import encounters
from app.services.errors import Conflict, NotFound, ValidationFailed, committing
from app.services.text import fold

DOSE_MAX = Decimal("1000")
TIMES_PER_DAY_MAX = 24
DURATION_MAX = 365
QUANTITY_MAX = 100_000
INSTRUCTIONS_MAX = 500
REASON_MAX = 1000
REASON_MIN = 5
SEARCH_LIMIT = 20
# Units counted one by one: the quantity is dose x times a day x days, rounded up.
COUNTABLE_UNITS = frozenset({
    "tablet", "tablets", "capsule", "capsules", "sachet", "sachets", "ampoule", "ampoules", "suppository",
    "suppositories", "pill", "pills", "lozenge", "patch", "vial", "vials",
    "vien", "goi", "ong", "vien dat", "mieng", "lo tiem",
})
# Prescriptions the pharmacy has still to give out (or is giving out): "the patient's active prescriptions".
ACTIVE_STATUSES = ("issued", "partially_dispensed")

# ---- ingredient names -------------------------------------------------------------------------

# Words that name a salt or a carrier, not the drug: left out when a name is compared as a whole.
SALT_WORDS = frozenset({
    "acid", "natri", "kali", "calci", "magnesi", "magnesium", "besylat", "hydroclorid", "dihydroclorid",
    "hydrobromid", "fumarat", "axetil", "sulfat", "digluconat", "dipropionat", "maleat", "mesylat",
    "succinat", "tartrat", "citrat", "carbonat", "clorid", "hcl", "kalium", "trihydrat", "monohydrat",
})
WORD_SYNONYMS = {
    "calcium": "calci", "sodium": "natri", "potassium": "kali", "iron": "sat", "chlorid": "clorid",
    "hydrochlorid": "hydroclorid", "dihydrochlorid": "dihydroclorid",
}
PHRASE_SYNONYMS = (
    ("aspirin", "acid acetylsalicylic"), ("acetaminophen", "paracetamol"), ("albuterol", "salbutamol"),
    ("vitamin c", "acid ascorbic"), ("vitamin d3", "cholecalciferol"),
)
_SPLIT = re.compile(r"[,;+/\n]|\bva\b|\band\b")
_WORD = re.compile(r"[a-z0-9]+")


def _word_key(word: str) -> str:
    word = WORD_SYNONYMS.get(word, word).replace("ph", "f")
    word = re.sub(r"(.)\1+", r"\1", word)
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return WORD_SYNONYMS.get(word, word)


def ingredient_words(text: str | None) -> tuple[str, ...]:
    """The comparison form of one ingredient name, as words."""
    folded = " ".join(_WORD.findall(fold(text)))
    for name, same in PHRASE_SYNONYMS:
        folded = re.sub(rf"\b{name}\b", same, folded)
    words = [_word_key(w) for w in folded.split()]
    if len(words) >= 2 and words[-1] == "acid":  # "clavulanic acid" -> "acid clavulanic"
        words = ["acid", *words[:-1]]
    return tuple(words)


def ingredient_key(text: str | None) -> str:
    return " ".join(ingredient_words(text))


def base_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words that name the drug (salts left out), or all of them when nothing else is left."""
    kept = tuple(w for w in words if w not in SALT_WORDS)
    return kept or words


def split_ingredients(text: str | None) -> list[str]:
    """"Amoxicillin + Clavulanic acid", "Natri clorid, Kali clorid": one name per ingredient."""
    return [part.strip() for part in _SPLIT.split(fold(text) if text else "") if part.strip()]


def medicine_ingredients(medicine: Medicine) -> list[tuple[str, ...]]:
    raw = medicine.active_ingredient if medicine.active_ingredient and medicine.active_ingredient.strip() \
        else medicine.name
    return [w for w in (ingredient_words(part) for part in split_ingredients(raw)) if w]


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _subphrases(words: tuple[str, ...]) -> set[str]:
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


# ---- warnings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemWarning:
    kind: str  # allergy, duplicate, interaction
    severity: str  # minor, moderate, severe
    message: str
    needs_reason: bool
    other: str | None = None  # the other medicine (duplicate, interaction)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Other:
    label: str  # how the doctor names it: "Aspirin 81 mg" or "Aspirin 81 mg (active prescription of 01/12/2026)"
    ingredients: list[tuple[str, ...]]


def _medicine_label(medicine: Medicine) -> str:
    return f"{medicine.name} {medicine.strength or ''}".strip()


def _describe(row: DrugInteraction) -> str:
    locale = get_locale()
    return row.description_vi if locale is not None and locale.language == "vi" else row.description_en


def allergy_matches(allergies: str | None, medicine: Medicine) -> list[str]:
    """The patient's allergy entries that name one of the medicine's ingredients (or its name)."""
    if not allergies or not allergies.strip():
        return []
    names = [base_words(w) for w in medicine_ingredients(medicine)]
    names.append(base_words(ingredient_words(medicine.name)))
    found = []
    for entry in split_ingredients(allergies):
        words = ingredient_words(entry)
        if not words or all(w in SALT_WORDS for w in words):
            continue
        core = base_words(words)
        # The entry names the drug ("dị ứng amoxicilin"), or part of its name ("penicilin" for "Penicillin V").
        if any(_contains(words, name) or _contains(name, core) for name in names if name):
            found.append(entry)
    return found


def _interactions(session: Session, mine: list[tuple[str, ...]], theirs: list[tuple[str, ...]]
                  ) -> list[DrugInteraction]:
    """Interaction rows between an ingredient of ``mine`` and one of ``theirs`` (either order)."""
    if not mine or not theirs:
        return []
    mine_keys = set().union(*(_subphrases(w) for w in mine))
    their_keys = set().union(*(_subphrases(w) for w in theirs))
    rows = session.scalars(select(DrugInteraction).where(or_(
        DrugInteraction.ingredient_a.in_(mine_keys) & DrugInteraction.ingredient_b.in_(their_keys),
        DrugInteraction.ingredient_b.in_(mine_keys) & DrugInteraction.ingredient_a.in_(their_keys),
    ))).all()
    result = []
    for row in rows:
        a, b = tuple(row.ingredient_a.split()), tuple(row.ingredient_b.split())
        if (any(_contains(m, a) for m in mine) and any(_contains(t, b) for t in theirs)) or \
                (any(_contains(m, b) for m in mine) and any(_contains(t, a) for t in theirs)):
            result.append(row)
    return result


def _others(session: Session, patient_id: int, prescription: Prescription | None,
            exclude: PrescriptionItem | None) -> list[_Other]:
    """The other medicines to check against: this prescription's other items, then the items of
    the patient's other active prescriptions."""
    others: list[_Other] = []
    if prescription is not None:
        for item in prescription.items:
            if item is exclude or item.medicine is None:
                continue
            others.append(_Other(_medicine_label(item.medicine), medicine_ingredients(item.medicine)))
    query = (select(Prescription).where(Prescription.patient_id == patient_id,
                                        Prescription.status.in_(ACTIVE_STATUSES))
             .options(selectinload(Prescription.items).selectinload(PrescriptionItem.medicine))
             .order_by(Prescription.issued_at.desc()).limit(20))
    if prescription is not None and prescription.id is not None:
        query = query.where(Prescription.id != prescription.id)
    for other in session.scalars(query).all():
        when = other.issued_at.strftime("%d/%m/%Y") if other.issued_at else ""
        for item in other.items:
            label = _("%(medicine)s (active prescription of %(date)s)", medicine=_medicine_label(item.medicine),
                      date=when)
            others.append(_Other(label, medicine_ingredients(item.medicine)))
    return others


def item_warnings(session: Session, patient: Patient, medicine: Medicine, prescription: Prescription | None = None,
                  exclude: PrescriptionItem | None = None) -> list[ItemWarning]:
    """What the doctor must see before ``medicine`` goes on ``prescription`` of ``patient``
    (``exclude``: the item being changed, not compared with itself)."""
    warnings: list[ItemWarning] = []
    for entry in allergy_matches(patient.allergies, medicine):
        warnings.append(ItemWarning(
            "allergy", "severe", _("Allergy: the patient's record says \"%(entry)s\"; %(medicine)s contains "
                                   "%(ingredients)s.", entry=entry, medicine=_medicine_label(medicine),
                                   ingredients=medicine.active_ingredient or medicine.name), True))
    mine = medicine_ingredients(medicine)
    mine_bases = {base_words(w) for w in mine}
    for other in _others(session, patient.id, prescription, exclude):
        shared = mine_bases & {base_words(w) for w in other.ingredients}
        if shared:
            warnings.append(ItemWarning(
                "duplicate", "moderate", _("Same ingredient twice: %(ingredient)s is also in %(other)s.",
                                           ingredient=", ".join(sorted(" ".join(s) for s in shared)),
                                           other=other.label), False, other.label))
        for row in _interactions(session, mine, other.ingredients):
            warnings.append(ItemWarning(
                "interaction", row.severity,
                _("Interaction (%(severity)s) with %(other)s (%(a)s + %(b)s): %(description)s",
                  severity=_(row.severity), other=other.label, a=row.ingredient_a, b=row.ingredient_b,
                  description=_describe(row)),
                row.severity == "severe", other.label))
    order = {"severe": 0, "moderate": 1, "minor": 2}
    warnings.sort(key=lambda w: order.get(w.severity, 3))
    return warnings


# ---- input ------------------------------------------------------------------------------------


class ItemRefused(ValidationFailed):
    """Several fields may be wrong at once: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = errors

    def as_dict(self) -> dict:
        return {"message": {name: [message] for name, message in self.errors.items()}}


class WarningsNotAcknowledged(Conflict):
    """409: the item has warnings the doctor has not acknowledged; they come with the answer."""

    def __init__(self, warnings: list[ItemWarning]):
        super().__init__(_("Read the warnings and confirm them before saving this item."), "acknowledged")
        self.warnings = warnings

    def as_dict(self) -> dict:
        return {"message": {"acknowledged": [self.message]}, "warnings": [w.as_dict() for w in self.warnings]}


@dataclass
class ItemInput:
    medicine_id: int | None = None
    dose_amount: Any = None
    times_per_day: Any = None
    duration_days: Any = None
    route: str | None = None
    instructions: str | None = None
    quantity: Any = None  # None: computed where the unit is countable
    acknowledged: bool = False
    override_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def is_countable(unit: str | None) -> bool:
    return fold(unit) in COUNTABLE_UNITS


def computed_quantity(unit: str | None, dose_amount: Decimal | None, times_per_day: int | None,
                      duration_days: int | None) -> int | None:
    """ceil(dose x times a day x days) for a countable unit; None where it cannot be computed."""
    if not is_countable(unit) or not dose_amount or not times_per_day or not duration_days:
        return None
    return int(math.ceil(Decimal(dose_amount) * times_per_day * duration_days))


def _decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValueError from None
    if not number.is_finite():
        raise ValueError
    return number


def _integer(value: Any) -> int | None:
    number = _decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError
    return int(number)


@dataclass
class _Clean:
    medicine: Medicine
    dose_amount: Decimal
    times_per_day: int
    duration_days: int
    route: str
    instructions: str | None
    quantity: int
    override_reason: str | None


def _check(session: Session, data: ItemInput, *, for_preview: bool = False) -> tuple[_Clean | None, dict[str, str]]:
    errors: dict[str, str] = {}
    medicine = None
    if data.medicine_id is None:
        errors["medicine_id"] = _("Choose a medicine from the catalogue.")
    else:
        medicine = session.get(Medicine, data.medicine_id) if isinstance(data.medicine_id, int) else None
        if medicine is None:
            errors["medicine_id"] = _("No such medicine in the catalogue.")
        elif not medicine.active:
            errors["medicine_id"] = _("This medicine is no longer in use; choose another.")
    dose = times = days = quantity = None
    try:
        dose = _decimal(data.dose_amount)
        if dose is None:
            errors["dose_amount"] = _("Enter the dose.")
        elif dose <= 0:
            errors["dose_amount"] = _("The dose must be more than zero.")
        elif dose > DOSE_MAX or dose != dose.quantize(Decimal("0.01")):
            errors["dose_amount"] = _("Enter a dose between 0.01 and %(max)s.", max=DOSE_MAX)
    except ValueError:
        errors["dose_amount"] = _("Enter the dose as a number.")
    try:
        times = _integer(data.times_per_day)
        if times is None:
            errors["times_per_day"] = _("Enter how many times a day.")
        elif not 1 <= times <= TIMES_PER_DAY_MAX:
            errors["times_per_day"] = _("Between 1 and %(max)d times a day.", max=TIMES_PER_DAY_MAX)
    except ValueError:
        errors["times_per_day"] = _("Enter a whole number of times a day.")
    try:
        days = _integer(data.duration_days)
        if days is None:
            errors["duration_days"] = _("Enter for how many days.")
        elif not 1 <= days <= DURATION_MAX:
            errors["duration_days"] = _("Between 1 and %(max)d days.", max=DURATION_MAX)
    except ValueError:
        errors["duration_days"] = _("Enter a whole number of days.")
    route = (data.route or "oral").strip()
    if route not in ROUTES:
        errors["route"] = _("Choose a route from the list.")
    instructions = (data.instructions or "").strip() or None
    if instructions and len(instructions) > INSTRUCTIONS_MAX:
        errors["instructions"] = _("At most %(n)d characters.", n=INSTRUCTIONS_MAX)
    reason = (data.override_reason or "").strip() or None
    if reason and len(reason) > REASON_MAX:
        errors["override_reason"] = _("At most %(n)d characters.", n=REASON_MAX)
    try:
        quantity = _integer(data.quantity)
        if quantity is not None and not 1 <= quantity <= QUANTITY_MAX:
            errors["quantity"] = _("Between 1 and %(max)d.", max=QUANTITY_MAX)
    except ValueError:
        errors["quantity"] = _("Enter a whole number.")
    if quantity is None and "quantity" not in errors and medicine is not None:
        quantity = computed_quantity(medicine.unit, dose, times, days) if not (
            {"dose_amount", "times_per_day", "duration_days"} & errors.keys()) else None
        if quantity is None and not ({"dose_amount", "times_per_day", "duration_days"} & errors.keys()):
            if not for_preview:
                errors["quantity"] = _("Enter the quantity to dispense (%(unit)s).", unit=medicine.unit)
        elif quantity is not None and quantity > QUANTITY_MAX:
            errors["quantity"] = _("Between 1 and %(max)d.", max=QUANTITY_MAX)
    if errors or medicine is None or dose is None or times is None or days is None:
        return None, errors
    return _Clean(medicine, dose, times, days, route, instructions, quantity or 0, reason), errors


def _number_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",")  # the clinic's prescriptions are written in Vietnamese


def _apply(item: PrescriptionItem, clean: _Clean, warnings: list[ItemWarning]) -> None:
    item.medicine = clean.medicine
    item.medicine_id = clean.medicine.id
    item.dose_amount = clean.dose_amount
    item.times_per_day = clean.times_per_day
    item.duration_days = clean.duration_days
    item.route = clean.route
    item.instructions = clean.instructions
    item.quantity = clean.quantity
    item.dose = f"{_number_text(clean.dose_amount)} {clean.medicine.unit}"[:60]
    item.frequency = f"{clean.times_per_day} lần/ngày"
    item.warnings = json.dumps([w.as_dict() for w in warnings], ensure_ascii=False) if warnings else None
    item.override_reason = clean.override_reason if warnings else None


def _gate(warnings: list[ItemWarning], data: ItemInput, clean: _Clean) -> None:
    """Never a silent pass: warnings need the doctor's acknowledgement, the blocking ones a reason."""
    if not warnings:
        return
    if not data.acknowledged:
        raise WarningsNotAcknowledged(warnings)
    blocking = [w for w in warnings if w.needs_reason]
    if blocking and (clean.override_reason is None or len(clean.override_reason) < REASON_MIN):
        kinds = sorted({_("an allergy") if w.kind == "allergy" else _("a severe interaction") for w in blocking})
        raise ItemRefused({"override_reason": _(
            "Prescribing despite %(problems)s needs a reason (at least %(n)d characters).",
            problems=_(" and ").join(kinds), n=REASON_MIN)})


# ---- the encounter's prescription -------------------------------------------------------------


def draft_prescription(session: Session, encounter: Encounter) -> Prescription | None:
    """The encounter's own prescription (the draft, or what it became when the visit was signed)."""
    return session.scalars(
        select(Prescription).where(Prescription.encounter_id == encounter.id)
        .options(selectinload(Prescription.items).selectinload(PrescriptionItem.medicine))
        .order_by(Prescription.id).limit(1)
    ).first()


def _draft_for_writing(session: Session, encounter: Encounter) -> Prescription | None:
    prescription = draft_prescription(session, encounter)
    if prescription is not None and prescription.status != "draft":
        raise Conflict(_("This prescription was already issued to the pharmacy and can no longer be changed."))
    return prescription


def _item_of(session: Session, encounter: Encounter, item_id: int) -> tuple[Prescription, PrescriptionItem]:
    prescription = _draft_for_writing(session, encounter)
    item = session.get(PrescriptionItem, item_id)
    if prescription is None or item is None or item.prescription_id != prescription.id:
        raise NotFound(_("No such item in this visit's prescription."))
    return prescription, item


def preview_item(session: Session, encounter_id: int, user: Any, data: ItemInput, now: datetime,
                 item_id: int | None = None) -> dict[str, Any]:
    """The warnings and the computed quantity of an item before it is saved; writes nothing.
    Field errors are answered like a save's (every broken field at once)."""
    encounter = encounters.editable_encounter(session, encounter_id, user, now)
    prescription = _draft_for_writing(session, encounter)
    clean, errors = _check(session, data, for_preview=True)
    if errors:
        raise ItemRefused(errors)
    assert clean is not None
    exclude = session.get(PrescriptionItem, item_id) if item_id is not None else None
    warnings = item_warnings(session, encounter.patient, clean.medicine, prescription, exclude)
    return {
        "warnings": [w.as_dict() for w in warnings],
        "needs_reason": any(w.needs_reason for w in warnings),
        "quantity": computed_quantity(clean.medicine.unit, clean.dose_amount, clean.times_per_day,
                                      clean.duration_days),
        "countable": is_countable(clean.medicine.unit),
    }


def add_item(session: Session, encounter_id: int, user: Any, data: ItemInput, now: datetime) -> PrescriptionItem:
    with committing(session):
        encounter = encounters.editable_encounter(session, encounter_id, user, now)
        prescription = _draft_for_writing(session, encounter)
        clean, errors = _check(session, data)
        if errors:
            raise ItemRefused(errors)
        assert clean is not None
        warnings = item_warnings(session, encounter.patient, clean.medicine, prescription)
        _gate(warnings, data, clean)
        if prescription is None:
            prescription = Prescription(encounter=encounter, encounter_id=encounter.id,
                                        patient_id=encounter.patient_id, doctor_id=encounter.doctor_id,
                                        status="draft")
            session.add(prescription)
        item = PrescriptionItem(prescription=prescription)
        _apply(item, clean, warnings)
        session.add(item)
        session.flush()
    return item


def update_item(session: Session, encounter_id: int, item_id: int, user: Any, data: ItemInput,
                now: datetime) -> PrescriptionItem:
    with committing(session):
        encounter = encounters.editable_encounter(session, encounter_id, user, now)
        prescription, item = _item_of(session, encounter, item_id)
        clean, errors = _check(session, data)
        if errors:
            raise ItemRefused(errors)
        assert clean is not None
        warnings = item_warnings(session, encounter.patient, clean.medicine, prescription, item)
        _gate(warnings, data, clean)
        _apply(item, clean, warnings)
    return item


def remove_item(session: Session, encounter_id: int, item_id: int, user: Any, now: datetime) -> None:
    """Take an item off the draft (the draft is not yet a record anyone relies on; the audit trail
    keeps the row)."""
    with committing(session):
        encounter = encounters.editable_encounter(session, encounter_id, user, now)
        prescription, item = _item_of(session, encounter, item_id)
        prescription.items.remove(item)
        session.delete(item)


def issue_for_encounter(session: Session, encounter: Encounter, actor_id: int | None, now: datetime) -> None:
    """Called by signing (``app.services.encounters``) in the signing transaction, no commit: the
    encounter's draft prescription, if it has items, is issued to the pharmacy queue (status
    ``issued``, ``issued_at`` = now). An empty draft stays a draft (nothing for the pharmacy)."""
    prescription = session.scalars(
        select(Prescription).where(Prescription.encounter_id == encounter.id, Prescription.status == "draft")
    ).first()
    if prescription is None or not prescription.items:
        return
    prescription.status = "issued"
    prescription.issued_at = now
    session.flush()


def check_generic_item(session: Session, item: PrescriptionItem) -> None:
    """The rules of this module for an item written through the generic screen or REST resource
    (``records.validate_prescription_item``): structured dose and times a day in range, the
    quantity computed when it is left out, and, there being no preview there, every warning
    needs an override reason (kept on the item with the warnings)."""
    errors: dict[str, str] = {}
    if item.dose_amount is not None and not (0 < Decimal(item.dose_amount) <= DOSE_MAX):
        errors["dose_amount"] = _("Enter a dose between 0.01 and %(max)s.", max=DOSE_MAX)
    if item.times_per_day is not None and not 1 <= item.times_per_day <= TIMES_PER_DAY_MAX:
        errors["times_per_day"] = _("Between 1 and %(max)d times a day.", max=TIMES_PER_DAY_MAX)
    if item.duration_days is not None and not 1 <= item.duration_days <= DURATION_MAX:
        errors["duration_days"] = _("Between 1 and %(max)d days.", max=DURATION_MAX)
    if item.quantity is not None and item.quantity > QUANTITY_MAX:
        errors["quantity"] = _("Between 1 and %(max)d.", max=QUANTITY_MAX)
    medicine = item.medicine if item.medicine is not None else (
        session.get(Medicine, item.medicine_id) if item.medicine_id is not None else None)
    if medicine is not None and item.quantity is None and not errors:
        item.quantity = computed_quantity(medicine.unit, item.dose_amount, item.times_per_day, item.duration_days)
    reason = (item.override_reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        errors["override_reason"] = _("At most %(n)d characters.", n=REASON_MAX)
    if errors:
        raise ItemRefused(errors)
    prescription = item.prescription if item.prescription is not None else (
        session.get(Prescription, item.prescription_id) if item.prescription_id is not None else None)
    if medicine is None or prescription is None:
        return
    patient = prescription.patient if prescription.patient is not None else \
        session.get(Patient, prescription.patient_id)
    if patient is None:
        return
    with session.no_autoflush:
        warnings = item_warnings(session, patient, medicine, prescription, item)
    if warnings and (reason is None or len(reason) < REASON_MIN):
        raise ItemRefused({"override_reason": _(
            "This item has warnings (%(warnings)s); write an override reason (at least %(n)d characters) to "
            "prescribe it anyway.", warnings=" ".join(w.message for w in warnings), n=REASON_MIN)})
    item.override_reason = reason if warnings else None
    item.warnings = json.dumps([w.as_dict() for w in warnings], ensure_ascii=False) if warnings else None


# ---- reading ----------------------------------------------------------------------------------


def stored_warnings(item: PrescriptionItem) -> list[dict[str, Any]]:
    if not item.warnings:
        return []
    try:
        value = json.loads(item.warnings)
    except ValueError:
        return [{"kind": "note", "severity": "minor", "message": item.warnings, "needs_reason": False, "other": None}]
    return value if isinstance(value, list) else []


def search_medicines(session: Session, text: str, limit: int = SEARCH_LIMIT) -> list[Medicine]:
    """Active medicines whose name, code or ingredient contains every word typed, accents and case
    ignored ("amoxicilin" finds Amoxicillin too, by the ingredient key)."""
    words = fold(text).split()
    keys = ingredient_words(text)
    if not words:
        return []
    found = []
    for medicine in session.scalars(select(Medicine).where(Medicine.active.is_(True)).order_by(Medicine.name,
                                                                                               Medicine.strength)):
        haystack = fold(f"{medicine.name} {medicine.code} {medicine.active_ingredient or ''} {medicine.strength or ''}")
        keyed = " ".join(ingredient_words(f"{medicine.name} {medicine.active_ingredient or ''}"))
        if all(w in haystack for w in words) or (keys and all(k in keyed for k in keys)):
            found.append(medicine)
            if len(found) >= limit:
                break
    return found


# ---- the interaction table ---------------------------------------------------------------------

CSV_COLUMNS = ("ingredient_a", "ingredient_b", "severity", "description_en", "description_vi")


@dataclass(frozen=True)
class LoadResult:
    added: int
    updated: int


class InteractionFileRefused(ValidationFailed):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems), "file")
        self.problems = problems


def _rows(text: str) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InteractionFileRefused([_("line 1: missing columns: %(columns)s", columns=", ".join(missing))])
    for row in reader:
        yield reader.line_num, {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}


def parse_interactions(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """The rows of an interaction CSV (columns ``CSV_COLUMNS``) by canonical pair; every bad row
    is reported with its line number (``InteractionFileRefused``)."""
    text = text.lstrip("\ufeff")
    problems: list[str] = []
    pairs: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}
    for line, row in _rows(text):
        a, b = ingredient_key(row["ingredient_a"]), ingredient_key(row["ingredient_b"])
        bad = []
        for name, key in (("ingredient_a", a), ("ingredient_b", b)):
            if not key:
                bad.append(_("%(column)s is empty", column=name))
            elif len(key) > 120:
                bad.append(_("%(column)s is too long", column=name))
            elif len(key.split()) == 1 and key in SALT_WORDS:
                bad.append(_("%(column)s \"%(value)s\" names no drug", column=name, value=row[name]))
        if a and a == b:
            bad.append(_("an ingredient cannot interact with itself"))
        if row["severity"].lower() not in SEVERITIES:
            bad.append(_("severity must be minor, moderate or severe"))
        for name in ("description_en", "description_vi"):
            if not row[name]:
                bad.append(_("%(column)s is empty", column=name))
            elif len(row[name]) > 500:
                bad.append(_("%(column)s is too long", column=name))
        pair = (min(a, b), max(a, b))
        if not bad and pair in pairs:
            bad.append(_("the pair is already on line %(line)d", line=pairs[pair][0]))
        if bad:
            problems.append(_("line %(line)d: %(problems)s", line=line, problems="; ".join(bad)))
        else:
            pairs[pair] = (line, row)
    if problems:
        raise InteractionFileRefused(problems)
    if not pairs:
        raise InteractionFileRefused([_("the file has no rows")])
    return {pair: row for pair, (_line, row) in pairs.items()}


def write_interactions(session: Session, pairs: dict[tuple[str, str], dict[str, str]],
                       keep_existing: bool = False) -> LoadResult:
    """Add the pairs (update those already there, or leave them with ``keep_existing``). No commit."""
    added = updated = 0
    existing = {(r.ingredient_a, r.ingredient_b): r for r in session.scalars(select(DrugInteraction))}
    for (a, b), row in pairs.items():
        record = existing.get((a, b))
        if record is None:
            record = DrugInteraction(ingredient_a=a, ingredient_b=b)
            session.add(record)
            added += 1
        elif keep_existing:
            continue
        else:
            updated += 1
        record.severity = row["severity"].lower()
        record.description_en = row["description_en"]
        record.description_vi = row["description_vi"]
    session.flush()
    return LoadResult(added, updated)


def load_interactions(session: Session, text: str) -> LoadResult:
    """``flask interactions load FILE``: the whole file in one transaction, or nothing."""
    pairs = parse_interactions(text)
    with committing(session):
        result = write_interactions(session, pairs)
    return result


def interaction_between(session: Session, first: str, second: str) -> DrugInteraction | None:
    """The row for two ingredient names, in either order."""
    a, b = ingredient_key(first), ingredient_key(second)
    return session.scalars(select(DrugInteraction).where(
        DrugInteraction.ingredient_a == min(a, b), DrugInteraction.ingredient_b == max(a, b))).first()


def item_rows(prescription: Prescription | None) -> Sequence[PrescriptionItem]:
    return list(prescription.items) if prescription is not None else []


# ---- the printable prescription ---------------------------------------------------------------


@dataclass(frozen=True)
class Printable:
    encounter: Encounter
    prescription: Prescription | None
    items: list[PrescriptionItem]
    age_years: int | None
    age_months: int | None  # for children under six, as the Vietnamese form asks
    day: Any  # the date printed: signing day, else today (clinic's zone)


def printable(session: Session, encounter_id: int, user: Any, now: datetime, zone: Any) -> Printable:
    """What the printable prescription shows, read through the care-team access helper (audited)."""
    encounter = encounters.open_encounter(session, encounter_id, user, now)
    prescription = draft_prescription(session, encounter)
    day = (encounter.signed_at or now).astimezone(zone).date()
    years = months = None
    dob = encounter.patient.date_of_birth
    if dob is not None:
        total = (day.year - dob.year) * 12 + day.month - dob.month - (1 if day.day < dob.day else 0)
        years = total // 12
        months = total if total < 72 else None
    return Printable(encounter, prescription, list(prescription.items) if prescription else [], years, months, day)
