"""Lab orders and results (issue 9, item 7): the doctor orders tests from the visit, the laboratory
collects and enters results, flags are computed from the catalogue's reference range for the
patient's sex and age on the result date, and results reach the patient only when released.

Rules:

* ordering: only on an encounter its author may still edit (``encounters.editable_encounter``);
  a catalogue test (active) at most once per visit (a cancelled order does not count);
* cancelling: an order without results, while its visit is a draft of the caller's, or at any
  time while it is still only ``ordered`` (not collected);
* results: ``preliminary`` (values may be changed, some may be missing) -> ``final`` (every
  analyte) -> ``corrected`` (a final value changed: the value it replaces is kept in
  ``LabResult.previous_value`` and in a ``lab_result_corrected`` audit row with the old and new
  value and flag; a correction withdraws the release until it is released again);
* numbers take a decimal comma or point ("5,4", "5.4"); an analyte with reference ranges needs a
  number, one without (urine protein "Âm tính") takes text and gets no flag;
* flag: ``critical`` outside the critical limits, else ``low``/``high`` outside the range, else
  ``normal``; no flag when no range fits the patient (unknown age, or a sex-specific range and an
  unknown sex with no range for any sex). The range text, its limits and the unit are stored on the
  result as they were at the time;
* release to the patient: an explicit action on final/corrected results only, audited
  (``lab_results_released``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.audit import record_event
from app.models import Doctor, LabAnalyte, LabOrder, LabReferenceRange, LabResult, LabTest, Patient
from app.services import access, encounters
from app.services.errors import Conflict, NotFound, ValidationFailed, committing
from app.services.text import fold

OPEN_STATUSES = ("ordered", "collected", "in_progress")
WORKLIST_FILTERS = ("open", "ordered", "collected", "in_progress", "completed", "cancelled", "all")
RESULT_STATUSES = ("preliminary", "final", "corrected")
MAX_VALUE = Decimal("9999999999")  # Numeric(14, 4)
VALUE_MAX_LENGTH = 120


class ValuesRefused(ValidationFailed):
    """Result values refused, every broken one at once: analyte name -> message. The JSON answer
    names each (``{"message": {"values": {analyte: [message]}}}``)."""

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors))
        super().__init__(errors[first], first)
        self.errors = errors

    def as_dict(self) -> dict:
        return {"message": {"values": {name: [message] for name, message in self.errors.items()}}}


class CriticalNotConfirmed(ValidationFailed):
    """Final (or corrected) values in the critical range, saved without ``confirm_critical``:
    nothing written; the page asks the technician to check them and confirm."""

    def __init__(self, analytes: list[str]):
        super().__init__(_("Critical values: %(names)s. Check them, tick the confirmation and save again.",
                           names=", ".join(analytes)), "confirm_critical")
        self.analytes = analytes


# --- the catalogue ------------------------------------------------------------------------------

def catalogue(session: Session, search: str | None = None, active_only: bool = True) -> list[LabTest]:
    """Tests of the catalogue (with their analytes and ranges), by code; ``search`` matches the
    code or the name, accents ignored."""
    query = select(LabTest).options(selectinload(LabTest.analytes).selectinload(LabAnalyte.ranges)) \
        .order_by(LabTest.code)
    if active_only:
        query = query.where(LabTest.active.is_(True))
    tests = list(session.execute(query).scalars())
    if search:
        needle = fold(search)
        tests = [t for t in tests if needle in fold(t.code) or needle in fold(t.name)]
    return tests


def test_by_code(session: Session, code: str) -> LabTest | None:
    return session.execute(select(LabTest).where(LabTest.code == code)).scalar_one_or_none()


# --- numbers, ages, ranges, flags ---------------------------------------------------------------

def parse_number(text: str | None) -> Decimal | None:
    """``"5,4"`` and ``"5.4"`` -> Decimal("5.4"); None when the text is not one plain number."""
    if text is None:
        return None
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if cleaned.count(",") + cleaned.count(".") > 1:
        return None
    cleaned = cleaned.replace(",", ".")
    if not cleaned or not all(ch.isdigit() or ch in ".-+" for ch in cleaned):
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def age_in_years(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return max(years, 0)


def pick_range(ranges: Iterable[LabReferenceRange], sex: str | None, age: int | None) -> LabReferenceRange | None:
    """The range for a patient of ``sex`` aged ``age`` (whole years): a range of their sex before
    one for any sex, the narrowest age band first. None when no range fits (no age: only a range
    covering every age fits)."""
    fitting = []
    for candidate in ranges:
        if candidate.sex not in ("any", sex):
            continue
        if age is None:
            if candidate.age_min_years > 0 or candidate.age_max_years is not None:
                continue
        elif age < candidate.age_min_years or (candidate.age_max_years is not None
                                               and age >= candidate.age_max_years):
            continue
        width = (candidate.age_max_years if candidate.age_max_years is not None else 200) - candidate.age_min_years
        fitting.append((candidate.sex == "any", width, candidate.id or 0, candidate))
    if not fitting:
        return None
    fitting.sort(key=lambda item: item[:3])
    return fitting[0][3]


def compute_flag(value: Decimal | None, band: LabReferenceRange | None) -> str | None:
    if value is None or band is None:
        return None
    if band.critical_low is not None and value < band.critical_low:
        return "critical"
    if band.critical_high is not None and value > band.critical_high:
        return "critical"
    if band.low is not None and value < band.low:
        return "low"
    if band.high is not None and value > band.high:
        return "high"
    return "normal"


def _fmt(value: Decimal, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def range_text(band: LabReferenceRange | None, decimals: int) -> str | None:
    if band is None:
        return None
    if band.low is not None and band.high is not None:
        return f"{_fmt(band.low, decimals)}–{_fmt(band.high, decimals)}"
    if band.high is not None:
        return f"≤ {_fmt(band.high, decimals)}"
    if band.low is not None:
        return f"≥ {_fmt(band.low, decimals)}"
    return None


# --- ordering -----------------------------------------------------------------------------------

def _load_order(session: Session, order_id: int) -> LabOrder:
    order = session.get(LabOrder, order_id)
    if order is None:
        raise NotFound(_("No such lab order."))
    return order


def order_tests(session: Session, encounter_id: int, test_codes: Iterable[str], user: Any,
                now: datetime) -> list[LabOrder]:
    """Order catalogue tests for the visit: one order per test. Refused whole when a code is
    unknown or inactive, repeated, or already ordered in this visit (field ``test_codes``)."""
    encounter = encounters.editable_encounter(session, encounter_id, user, now)
    codes = [str(code).strip().upper() for code in test_codes if str(code).strip()]
    if not codes:
        raise ValidationFailed(_("Choose at least one test."), "test_codes")
    problems: list[str] = []
    tests: list[LabTest] = []
    seen: set[str] = set()
    ordered = set(session.execute(select(LabOrder.test_code).where(
        LabOrder.encounter_id == encounter.id, LabOrder.status != "cancelled")).scalars())
    for code in codes:
        test = test_by_code(session, code)
        if test is None or not test.active:
            problems.append(_("There is no test %(code)s in the catalogue.", code=code[:30]))
        elif code in seen or code in ordered:
            problems.append(_("%(code)s is already ordered in this visit.", code=code))
        else:
            tests.append(test)
        seen.add(code)
    if problems:
        raise ValidationFailed(" ".join(problems), "test_codes")
    orders = []
    with committing(session):
        for test in tests:
            order = LabOrder(encounter_id=encounter.id, patient_id=encounter.patient_id,
                             doctor_id=encounter.doctor_id, lab_test_id=test.id, test_code=test.code,
                             test_name=test.name, status="ordered", ordered_by_id=user.id, created_at=now,
                             updated_at=now)
            session.add(order)
            orders.append(order)
    return orders


def cancel_rule(session: Session, order: LabOrder, user: Any) -> str | None:
    """Why ``order`` cannot be cancelled by ``user`` now, or None when it can."""
    if order.status == "cancelled":
        return _("This order is already cancelled.")
    if order.results:
        return _("This order has results and can no longer be cancelled.")
    encounter = order.encounter
    if encounter is not None and encounters.is_editable(session, encounter, user):
        return None
    if order.status == "ordered":
        return None
    return _("The sample is already collected: the order can no longer be cancelled.")


def cancel_order(session: Session, order_id: int, user: Any, now: datetime) -> LabOrder:
    order = _load_order(session, order_id)
    access.open_record(session, user, order, now)
    reason = cancel_rule(session, order, user)
    if reason is not None:
        raise Conflict(reason)
    with committing(session):
        order.status = "cancelled"
        order.cancelled_at = now
        order.cancelled_by_id = user.id
    return order


def mark_collected(session: Session, order_id: int, user: Any, now: datetime) -> LabOrder:
    """The laboratory has the sample: ``ordered`` -> ``collected``."""
    order = _load_order(session, order_id)
    access.open_record(session, user, order, now)
    if order.status != "ordered":
        raise Conflict(_("Only an order waiting for its sample can be marked collected."))
    with committing(session):
        order.status = "collected"
        order.updated_at = now
    return order


# --- the worklist -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkItem:
    id: int
    ordered_at: datetime
    patient_id: int
    patient: str
    patient_code: str
    sex: str | None
    age: int | None
    test_code: str
    test_name: str
    specimen: str | None
    doctor: str | None
    status: str
    results: int
    flagged: int
    released: int


def worklist(session: Session, user: Any, now: datetime, status: str = "open", search: str | None = None,
             limit: int = 200) -> list[WorkItem]:
    """Lab orders for the laboratory, oldest first (``open``: to collect or to result), limited to
    what ``user`` may read; ``search`` matches the patient's name, code or phone."""
    from app.services.lookup import patient_condition

    query = (select(LabOrder, Patient, Doctor.full_name, LabTest.specimen)
             .join(Patient, Patient.id == LabOrder.patient_id)
             .outerjoin(Doctor, Doctor.id == LabOrder.doctor_id)
             .outerjoin(LabTest, LabTest.id == LabOrder.lab_test_id))
    if status == "open":
        query = query.where(LabOrder.status.in_(OPEN_STATUSES))
    elif status != "all":
        if status not in WORKLIST_FILTERS:
            raise ValidationFailed(_("Unknown status."), "status")
        query = query.where(LabOrder.status == status)
    condition = access.readable_condition(user, LabOrder, now)
    if condition is not None:
        query = query.where(condition)
    if search and search.strip():
        query = query.where(patient_condition(search))
    newest_first = status in ("completed", "cancelled", "all")
    order_by = LabOrder.created_at.desc() if newest_first else LabOrder.created_at
    rows = session.execute(query.order_by(order_by, LabOrder.id).limit(limit)).all()
    ids = [order.id for order, *_rest in rows]
    counts: dict[int, tuple[int, int, int]] = {}
    if ids:
        for order_id, total, flagged, released in session.execute(
                select(LabResult.lab_order_id, func.count(),
                       func.count(LabResult.flag).filter(LabResult.flag.in_(("low", "high", "critical"))),
                       func.count(LabResult.id).filter(LabResult.released_to_patient.is_(True)))
                .where(LabResult.lab_order_id.in_(ids)).group_by(LabResult.lab_order_id)):
            counts[order_id] = (total, flagged, released)
    items = [WorkItem(
        id=order.id, ordered_at=order.created_at, patient_id=patient.id, patient=patient.full_name,
        patient_code=patient.code, sex=patient.sex, age=age_in_years(patient.date_of_birth, now.date()),
        test_code=order.test_code, test_name=order.test_name, specimen=specimen, doctor=doctor,
        status=order.status, results=counts.get(order.id, (0, 0, 0))[0], flagged=counts.get(order.id, (0, 0, 0))[1],
        released=counts.get(order.id, (0, 0, 0))[2],
    ) for order, patient, doctor, specimen in rows]
    access.record_list_read(session, user, LabOrder, [order for order, *_rest in rows])
    return items


# --- one order with its results -----------------------------------------------------------------

@dataclass(frozen=True)
class AnalyteLine:
    """One analyte of an order: the catalogue's analyte and the range for this patient, and the
    result entered so far (if any)."""

    name: str
    unit: str | None
    decimals: int
    range_text: str | None
    numeric: bool
    result: LabResult | None


def open_order(session: Session, order_id: int, user: Any, now: datetime) -> LabOrder:
    """The order, read through the care-team access helper (audited; 403 outside care)."""
    order = _load_order(session, order_id)
    access.open_record(session, user, order, now)
    return order


def analyte_lines(session: Session, order: LabOrder, on: date) -> list[AnalyteLine]:
    patient = order.patient
    age = age_in_years(patient.date_of_birth, on)
    results = {result.analyte: result for result in order.results}
    lines: list[AnalyteLine] = []
    test = order.lab_test
    names: list[str] = []
    if test is not None:
        for analyte in test.analytes:
            band = pick_range(analyte.ranges, patient.sex, age)
            lines.append(AnalyteLine(analyte.name, analyte.unit, analyte.decimals,
                                     range_text(band, analyte.decimals), bool(analyte.ranges),
                                     results.get(analyte.name)))
            names.append(analyte.name)
    for name, result in results.items():  # results of analytes no longer in the catalogue, or of no test
        if name not in names:
            lines.append(AnalyteLine(name, result.unit, 2, result.reference_range, result.numeric_value is not None,
                                     result))
    return lines


def order_result_status(order: LabOrder) -> str | None:
    """The stage of the order's results: None (none yet), preliminary, final or corrected."""
    statuses = {result.status for result in order.results}
    if not statuses:
        return None
    if "preliminary" in statuses:
        return "preliminary"
    return "corrected" if "corrected" in statuses else "final"


def enter_results(session: Session, order_id: int, values: Mapping[str, str | None], status: str, user: Any,
                  now: datetime, *, confirm_critical: bool = True) -> LabOrder:
    """Enter (or correct) the results of one order. ``values``: analyte name -> value as typed.
    Every broken value is refused at once (``ValidationFailed`` with ``errors``: analyte -> message),
    nothing written. With ``confirm_critical=False`` (the result page until the box is ticked), final
    values in the critical range are refused (``CriticalNotConfirmed``), nothing written."""
    order = _load_order(session, order_id)
    access.open_record(session, user, order, now)
    if status not in RESULT_STATUSES:
        raise ValidationFailed(_("Choose preliminary, final or corrected."), "status")
    if order.status == "cancelled":
        raise Conflict(_("This order is cancelled."))
    stage = order_result_status(order)
    if stage in ("final", "corrected") and status != "corrected":
        raise Conflict(_("These results are final: enter a correction instead."))
    if stage in (None, "preliminary") and status == "corrected":
        raise Conflict(_("Only final results can be corrected."))

    patient = order.patient
    on = now.date()
    age = age_in_years(patient.date_of_birth, on)
    catalogue_analytes = {a.name: a for a in order.lab_test.analytes} if order.lab_test is not None else {}
    existing = {result.analyte: result for result in order.results}
    known = list(catalogue_analytes) or list(existing) or [name for name in values]
    errors: dict[str, str] = {}
    for name in values:
        if name not in known:
            errors[name] = _("This test has no analyte %(name)s.", name=name[:120])
    parsed: dict[str, tuple[str, Decimal | None]] = {}
    for name in known:
        text = (values.get(name) or "").strip()
        if not text:
            if status in ("final", "corrected") and name not in existing:
                errors[name] = _("Enter a value: final results need every analyte.")
            continue
        if len(text) > VALUE_MAX_LENGTH:
            errors[name] = _("Use at most %(max)d characters.", max=VALUE_MAX_LENGTH)
            continue
        analyte = catalogue_analytes.get(name)
        numeric = parse_number(text)
        needs_number = bool(analyte.ranges) if analyte is not None else False
        if needs_number and numeric is None:
            errors[name] = _("Enter a number, such as 5,4 or 5.4.")
            continue
        if numeric is not None and abs(numeric) > MAX_VALUE:
            errors[name] = _("This number is too large.")
            continue
        parsed[name] = (text, numeric)
    if errors:
        raise ValuesRefused(errors)
    if not parsed:
        raise ValidationFailed(_("Enter at least one value."), "values")
    if not confirm_critical and status in ("final", "corrected"):
        critical = [name for name, (_text, numeric) in parsed.items() if name in catalogue_analytes and compute_flag(
            numeric, pick_range(catalogue_analytes[name].ranges, patient.sex, age)) == "critical"]
        if critical:
            raise CriticalNotConfirmed(critical)

    changed = False
    with committing(session):
        for name, (text, numeric) in parsed.items():
            analyte = catalogue_analytes.get(name)
            band = pick_range(analyte.ranges, patient.sex, age) if analyte is not None else None
            flag = compute_flag(numeric, band)
            decimals = analyte.decimals if analyte is not None else 2
            result = existing.get(name)
            if result is not None and status == "corrected":
                if result.value == text:
                    continue
                record_event(session, "lab_result_corrected", "LabResult", result.id, {
                    "lab_order_id": order.id, "analyte": name, "old_value": result.value, "old_flag": result.flag,
                    "new_value": text, "new_flag": flag}, user.id)
                result.previous_value = result.value
                result.released_to_patient = False
                result.released_at = None
                result.released_by_id = None
            if result is None:
                result = LabResult(lab_order_id=order.id, analyte=name, created_at=now)
                order.results.append(result)
            elif result.value == text and result.status == status:
                continue
            result.value = text
            result.numeric_value = numeric
            result.unit = analyte.unit if analyte is not None else result.unit
            result.reference_range = range_text(band, decimals) if analyte is not None else result.reference_range
            result.ref_low = band.low if band is not None else None
            result.ref_high = band.high if band is not None else None
            result.flag = flag
            result.status = status
            result.resulted_at = now
            result.resulted_by_id = user.id
            result.updated_at = now
            changed = True
        if status in ("final", "corrected"):
            for result in order.results:  # the whole order moves on together
                if result.status == "preliminary":
                    result.status = "final"
                    changed = True
        if not changed:
            raise ValidationFailed(_("Nothing changed."), "values")
        order.status = "completed" if status in ("final", "corrected") else "in_progress"
        order.updated_at = now
    return order


def release_results(session: Session, order_id: int, user: Any, now: datetime) -> list[LabResult]:
    """Release the order's final (or corrected) results to the patient: an explicit action, audited.
    Refused while any result is preliminary or when there is nothing new to release."""
    order = _load_order(session, order_id)
    access.open_record(session, user, order, now)
    if order.status == "cancelled":
        raise Conflict(_("This order is cancelled."))
    stage = order_result_status(order)
    if stage is None:
        raise Conflict(_("There are no results to release yet."))
    if stage == "preliminary":
        raise Conflict(_("Only final results can be released to the patient."))
    pending = [result for result in order.results if not result.released_to_patient]
    if not pending:
        raise Conflict(_("These results are already released."))
    with committing(session):
        for result in pending:
            result.released_to_patient = True
            result.released_at = now
            result.released_by_id = user.id
        record_event(session, "lab_results_released", "LabOrder", order.id, {
            "patient_id": order.patient_id, "results": sorted(result.id for result in pending)}, user.id)
    from app.services import appointment_hooks

    # After the commit: the patient is told the results are ready, the ordering doctor sees it.
    appointment_hooks.lab_results_released(order_id, released_at=now, actor_id=user.id)
    return pending


# --- the trend of one analyte (the patient chart) -----------------------------------------------

class TrendPoint(NamedTuple):
    at: datetime  # when the result was entered (aware, UTC)
    value: Decimal
    unit: str | None
    low: Decimal | None
    high: Decimal | None
    flag: str | None


def analyte_trend(session: Session, patient_id: int, analyte_name: str, final_only: bool = False) -> list[TrendPoint]:
    """Numeric results of one analyte for one patient, oldest first: (date, value, unit, low, high,
    flag). Results of cancelled orders are left out; ``final_only`` leaves out preliminary ones.
    No access check here: the caller has opened the patient's chart (``access``)."""
    query = (select(LabResult.resulted_at, LabResult.created_at, LabResult.numeric_value, LabResult.unit,
                    LabResult.ref_low, LabResult.ref_high, LabResult.flag)
             .join(LabOrder, LabOrder.id == LabResult.lab_order_id)
             .where(LabOrder.patient_id == patient_id, LabOrder.status != "cancelled",
                    LabResult.analyte == analyte_name, LabResult.numeric_value.is_not(None)))
    if final_only:
        query = query.where(LabResult.status != "preliminary")
    rows = session.execute(query).all()
    points = [TrendPoint(resulted or created, value, unit, low, high, flag)
              for resulted, created, value, unit, low, high, flag in rows if value is not None]
    return sorted(points, key=lambda point: point.at)


def orders_of_encounter(session: Session, encounter_id: int) -> list[LabOrder]:
    """The visit's lab orders with their results, oldest first (the encounter is already opened)."""
    return list(session.execute(
        select(LabOrder).options(selectinload(LabOrder.results), selectinload(LabOrder.lab_test))
        .where(LabOrder.encounter_id == encounter_id).order_by(LabOrder.created_at, LabOrder.id)).scalars())


def analytes_named(session: Session, patient_id: int) -> list[str]:
    """Names of the numeric analytes a patient has results for (the chart's choice of trend)."""
    return list(session.execute(
        select(LabResult.analyte).join(LabOrder, LabOrder.id == LabResult.lab_order_id)
        .where(LabOrder.patient_id == patient_id, LabOrder.status != "cancelled",
               LabResult.numeric_value.is_not(None))
        .group_by(LabResult.analyte).order_by(LabResult.analyte)).scalars())
