"""FHIR read and search over the clinic's records, under the care-team rule of
``app.services.access`` (every row limit comes from ``access.readable_condition`` or, for records
that are not patient-owned, from the reader's own patient record), with paging in SQL.

A refused read of a record that exists is 403 (``CareAccessDenied``, audited as ``denied``), a
record that does not exist 404: the same as the REST API. A search never refuses rows one by one:
it returns only what the reader may read (each list read audited by ``access.record_list_read``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from flask_babel import gettext as _
from sqlalchemy import Select, and_, false, func, literal, or_, select, true, union_all
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.models import (
    Appointment,
    Department,
    Diagnosis,
    Doctor,
    Encounter,
    Invoice,
    LabOrder,
    LabResult,
    Patient,
    Prescription,
    PrescriptionItem,
)
from app.services import access
from app.services.fhir import mapping as fm
from app.services.fhir.errors import FhirError
from app.services.fhir.params import (
    bad,
    date_condition,
    int_id,
    paging,
    parse_span,
    reference_id,
    token,
    valid_fhir_id,
)
from app.services.lookup import patient_condition
from app.services.portal_records import HIDDEN_PRESCRIPTION_STATUSES, SHOWN_RESULT_STATUSES
from app.services.settings import ClinicSettings
from app.services.text import fold


@dataclass(frozen=True)
class Reader:
    """Who reads: the login, the permission names it reads (``can_read``), and whether it is a
    patient's login (no staff role), who reads only their own records as the portal shows them."""

    user: Any
    permissions: frozenset[str]
    patient_only: bool


# The permissions that let staff use a resource type (any one of them); none: any reader.
TYPE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "Patient": ("Patient",), "Practitioner": (), "Organization": (), "Appointment": ("Appointment",),
    "Encounter": ("Encounter",), "Condition": ("Diagnosis",), "Observation": ("Encounter", "LabResult"),
    "MedicationRequest": ("PrescriptionItem",), "Invoice": ("Invoice",),
}
RESOURCE_TYPES = tuple(TYPE_PERMISSIONS)
COMMON_PARAMS = ("_id", "_count", "_offset")
IGNORED_PARAMS = ("_format", "_pretty")  # answers are always JSON
PARAMS: dict[str, tuple[str, ...]] = {
    "Patient": ("identifier", "name", "birthdate", "gender"),
    "Practitioner": ("name", "active"),
    "Organization": ("name", "type"),
    "Appointment": ("patient", "practitioner", "date", "status"),
    "Encounter": ("patient", "practitioner", "date", "status"),
    "Condition": ("patient", "encounter", "code", "recorded-date"),
    "Observation": ("patient", "encounter", "date", "status", "category", "code"),
    "MedicationRequest": ("patient", "encounter", "status", "authoredon"),
    "Invoice": ("patient", "identifier", "date", "status"),
}
PARAM_TYPES = {"identifier": "token", "name": "string", "birthdate": "date", "gender": "token", "active": "token",
               "type": "token", "patient": "reference", "practitioner": "reference", "encounter": "reference",
               "date": "date", "status": "token", "code": "token", "recorded-date": "date", "category": "token",
               "authoredon": "date", "_id": "token"}
EVERYTHING_LIMIT = 1000  # per resource type in $everything
MODEL_OF = {"Patient": Patient, "Practitioner": Doctor, "Appointment": Appointment, "Encounter": Encounter,
            "Condition": Diagnosis, "MedicationRequest": PrescriptionItem, "Invoice": Invoice}


def _usable(reader: Reader, type_name: str) -> None:
    needed = TYPE_PERMISSIONS[type_name]
    if needed and not reader.patient_only and not reader.permissions.intersection(needed):
        raise FhirError(403, _("Your role may not read %(type)s resources.", type=type_name))


def check_type(type_name: str) -> None:
    if type_name not in TYPE_PERMISSIONS:
        raise FhirError(404, _("This server has no resource type %(type)s.", type=type_name))


# --- who sees which rows -----------------------------------------------------------------------------

def _owned(reader: Reader, model: type, now: datetime) -> ColumnElement:
    """The rows of a patient-owned ``model`` the reader may read (``access.readable_condition``),
    and for a patient's login only what the portal shows (signed visits, released results, issued
    prescriptions)."""
    condition = access.readable_condition(reader.user, model, now)
    parts: list[ColumnElement] = [condition] if condition is not None else []
    if reader.patient_only:
        if model in (Encounter, Diagnosis):
            parts += [Encounter.signed_at.is_not(None), Encounter.discarded_at.is_(None)]
        if model is LabResult:
            parts += [LabResult.released_to_patient.is_(True), LabResult.status.in_(SHOWN_RESULT_STATUSES)]
        if model is PrescriptionItem:
            parts.append(Prescription.status.not_in(HIDDEN_PRESCRIPTION_STATUSES))
    return and_(true(), *parts)


def _own_only(reader: Reader, patient_column: Any) -> ColumnElement:
    """Records that are not patient-owned in ``access`` (the patient's card, appointments): staff
    read them by their role's permission; a patient's login only their own."""
    return patient_column.in_(access.own_patients(reader.user)) if reader.patient_only else true()


# --- parameters ----------------------------------------------------------------------------------------

@dataclass
class Criteria:
    """The parsed query: AND of ``conditions``; paging."""

    params: dict[str, list[str]] = field(default_factory=dict)
    count: int = 20
    offset: int = 0


def parse_query(type_name: str, pairs: Iterable[tuple[str, str]]) -> Criteria:
    """The query's parameters by name (each may repeat; a value may list alternatives with commas).
    An unknown parameter or modifier is refused (400) naming it."""
    allowed = set(PARAMS[type_name]) | set(COMMON_PARAMS)
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in IGNORED_PARAMS:
            continue
        if name not in allowed:
            raise FhirError(400, _("Unknown search parameter %(name)s for %(type)s.", name=name, type=type_name),
                            name)
        if not value.strip() or len(value) > 200:
            raise bad(name)
        params.setdefault(name, []).append(value.strip())
    count, offset = paging(params)
    return Criteria({k: v for k, v in params.items() if not k.startswith("_") or k == "_id"}, count, offset)


def _any_of(name: str, values: list[str], one: Callable[[str], ColumnElement]) -> ColumnElement:
    """Repeated parameters AND, comma-separated values OR."""
    return and_(true(), *[or_(*[one(part) for part in value.split(",")]) for value in values])


def _token_in(name: str, mapping: dict[str, tuple[Any, ...]], column: Any) -> Callable[[str], ColumnElement]:
    """A status-like token: the FHIR code -> the clinic's values."""

    def one(text: str) -> ColumnElement:
        _system, code = token(text)
        if code not in mapping:
            raise bad(name, _("The search parameter %(name)s takes one of: %(codes)s.", name=name,
                              codes=", ".join(sorted(mapping))))
        return column.in_(mapping[code])

    return one


def _reverse(mapping: dict[str, str]) -> dict[str, tuple[str, ...]]:
    result: dict[str, list[str]] = {}
    for ours, theirs in mapping.items():
        result.setdefault(theirs, []).append(ours)
    return {k: tuple(v) for k, v in result.items()}


def _ids(name: str) -> Callable[[Any], Callable[[str], ColumnElement]]:
    return lambda column: (lambda text: column == int_id(name, text))


def _dates(name: str, column: Any, zone: Any, as_date: bool = False) -> Callable[[str], ColumnElement]:
    def one(text: str) -> ColumnElement:
        prefix, span = parse_span(name, text, zone, as_date)
        return date_condition(column, prefix, span)

    return one


def _refs(name: str, kind: str, column: Any) -> Callable[[str], ColumnElement]:
    return lambda text: column == reference_id(name, text, kind)


def _patient_identifier(text: str) -> ColumnElement:
    system, value = token(text)
    columns = {fm.PATIENT_CODE_SYSTEM: Patient.code, fm.NATIONAL_ID_SYSTEM: Patient.national_id,
               fm.INSURANCE_SYSTEM: Patient.insurance_number}
    if system:
        return columns[system] == value if system in columns else false()
    return or_(*[column == value for column in columns.values()])


def _name(column: Any) -> Callable[[str], ColumnElement]:
    return lambda text: func.lower(column).like("%" + text.lower().replace("%", "").replace("_", "") + "%")


def _conditions(type_name: str, criteria: Criteria, settings: ClinicSettings) -> list[ColumnElement]:
    zone = settings.timezone
    handlers: dict[str, Callable[[str], ColumnElement]]
    if type_name == "Patient":
        handlers = {"_id": _ids("_id")(Patient.id), "identifier": _patient_identifier,
                    "name": lambda text: patient_condition(text, settings.phone_region),
                    "birthdate": _dates("birthdate", Patient.date_of_birth, zone, as_date=True),
                    "gender": _token_in("gender", {"male": ("male",), "female": ("female",), "other": ("other",),
                                                   "unknown": ()}, Patient.sex)}
    elif type_name == "Practitioner":
        handlers = {"_id": _ids("_id")(Doctor.id), "name": _name(Doctor.full_name),
                    "active": _token_in("active", {"true": (True,), "false": (False,)}, Doctor.active)}
    elif type_name == "Appointment":
        handlers = {"_id": _ids("_id")(Appointment.id), "patient": _refs("patient", "Patient", Appointment.patient_id),
                    "practitioner": _refs("practitioner", "Practitioner", Appointment.doctor_id),
                    "date": _dates("date", Appointment.start_at, zone),
                    "status": _token_in("status", _reverse(fm.APPOINTMENT_STATUS), Appointment.status)}
    elif type_name == "Encounter":
        statuses = {"finished": and_(Encounter.signed_at.is_not(None), Encounter.discarded_at.is_(None)),
                    "in-progress": and_(Encounter.signed_at.is_(None), Encounter.discarded_at.is_(None)),
                    "entered-in-error": Encounter.discarded_at.is_not(None)}

        def encounter_status(text: str) -> ColumnElement:
            code = token(text)[1]
            if code not in statuses:
                raise bad("status", _("The search parameter %(name)s takes one of: %(codes)s.", name="status",
                                      codes=", ".join(sorted(statuses))))
            return statuses[code]

        handlers = {"_id": _ids("_id")(Encounter.id), "patient": _refs("patient", "Patient", Encounter.patient_id),
                    "practitioner": _refs("practitioner", "Practitioner", Encounter.doctor_id),
                    "date": _dates("date", Encounter.created_at, zone), "status": encounter_status}
    elif type_name == "Condition":

        def icd10(text: str) -> ColumnElement:
            system, code = token(text)
            if system not in (None, "", fm.ICD10_SYSTEM):
                return false()
            return func.upper(Diagnosis.icd10_code) == code.upper()

        handlers = {"_id": _ids("_id")(Diagnosis.id), "patient": _refs("patient", "Patient", Encounter.patient_id),
                    "encounter": _refs("encounter", "Encounter", Diagnosis.encounter_id), "code": icd10,
                    "recorded-date": _dates("recorded-date", Encounter.created_at, zone)}
    elif type_name == "MedicationRequest":
        handlers = {"_id": _ids("_id")(PrescriptionItem.id),
                    "patient": _refs("patient", "Patient", Prescription.patient_id),
                    "encounter": _refs("encounter", "Encounter", Prescription.encounter_id),
                    "status": _token_in("status", _reverse(fm.PRESCRIPTION_STATUS), Prescription.status),
                    "authoredon": _dates("authoredon", Prescription.created_at, zone)}
    elif type_name == "Invoice":

        def number(text: str) -> ColumnElement:
            system, value = token(text)
            return Invoice.number == value if system in (None, "", fm.INVOICE_NUMBER_SYSTEM) else false()

        handlers = {"_id": _ids("_id")(Invoice.id), "patient": _refs("patient", "Patient", Invoice.patient_id),
                    "identifier": number, "date": _dates("date", Invoice.created_at, zone),
                    "status": _token_in("status", _reverse(fm.INVOICE_STATUS), Invoice.status)}
    else:  # pragma: no cover - Organization and Observation have their own searches
        handlers = {}
    return [_any_of(name, values, handlers[name]) for name, values in criteria.params.items()]


# --- one query per type ------------------------------------------------------------------------------------

def _base(type_name: str, reader: Reader, now: datetime) -> Select:
    if type_name == "Patient":
        return select(Patient).where(_own_only(reader, Patient.id))
    if type_name == "Practitioner":
        return select(Doctor).options(selectinload(Doctor.specialty))
    if type_name == "Appointment":
        return select(Appointment).where(_own_only(reader, Appointment.patient_id)).options(
            selectinload(Appointment.patient), selectinload(Appointment.doctor), selectinload(Appointment.service))
    if type_name == "Encounter":
        return select(Encounter).where(_owned(reader, Encounter, now)).options(
            selectinload(Encounter.patient), selectinload(Encounter.doctor), selectinload(Encounter.diagnoses),
            selectinload(Encounter.appointment))
    if type_name == "Condition":
        return (select(Diagnosis).join(Encounter, Diagnosis.encounter_id == Encounter.id)
                .where(_owned(reader, Diagnosis, now))
                .options(selectinload(Diagnosis.encounter).selectinload(Encounter.patient),
                         selectinload(Diagnosis.encounter).selectinload(Encounter.doctor)))
    if type_name == "MedicationRequest":
        return (select(PrescriptionItem).join(Prescription, PrescriptionItem.prescription_id == Prescription.id)
                .where(_owned(reader, PrescriptionItem, now))
                .options(selectinload(PrescriptionItem.medicine),
                         selectinload(PrescriptionItem.prescription).selectinload(Prescription.patient),
                         selectinload(PrescriptionItem.prescription).selectinload(Prescription.doctor)))
    if type_name == "Invoice":
        return select(Invoice).where(_owned(reader, Invoice, now)).options(
            selectinload(Invoice.patient), selectinload(Invoice.lines))
    raise AssertionError(type_name)


@dataclass(frozen=True)
class Page:
    """One page of a search: the resources, the total and the paging that produced them."""

    resources: list[dict[str, Any]]
    total: int
    count: int
    offset: int


def _page_of(session: Session, query: Select, criteria: Criteria, order: list[Any]) -> tuple[list[Any], int]:
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    if criteria.count == 0 or criteria.offset >= total:
        return [], total
    rows = session.execute(query.order_by(*order).offset(criteria.offset).limit(criteria.count)).scalars().all()
    return list(rows), total


def search(session: Session, reader: Reader, type_name: str, pairs: Iterable[tuple[str, str]], now: datetime,
           settings: ClinicSettings) -> Page:
    """A page of ``type_name`` resources matching the query, of the records the reader may read."""
    check_type(type_name)
    _usable(reader, type_name)
    criteria = parse_query(type_name, pairs)
    if type_name == "Organization":
        return _organizations(session, criteria, settings)
    if type_name == "Observation":
        return _observations(session, reader, criteria, now, settings)
    model = MODEL_OF[type_name]
    query = _base(type_name, reader, now).where(*_conditions(type_name, criteria, settings))
    rows, total = _page_of(session, query, criteria, [model.id.desc()])  # type: ignore[attr-defined]
    access.record_list_read(session, reader.user, model, rows)
    return Page([fm.MAPPERS[model](row) for row in rows], total, criteria.count, criteria.offset)


def _organizations(session: Session, criteria: Criteria, settings: ClinicSettings) -> Page:
    """The clinic (id ``clinic``) and its active departments (their ids)."""
    clinic = fm.clinic_organization(settings)
    keep_clinic = True
    conditions: list[ColumnElement] = [Department.active.is_(True)]
    for name, values in criteria.params.items():
        for value in values:
            options = value.split(",")
            if name == "_id":
                keep_clinic = keep_clinic and fm.CLINIC_ORGANIZATION in options
                ids = [int_id(name, o) for o in options if o != fm.CLINIC_ORGANIZATION]
                conditions.append(Department.id.in_(ids))
            elif name == "name":
                keep_clinic = keep_clinic and any(fold(o) in fold(settings.name) for o in options)
                conditions.append(or_(*[_name(Department.name)(o) for o in options]))
            elif name == "type":
                codes = {token(o)[1] for o in options}
                keep_clinic = keep_clinic and "prov" in codes
                if "dept" not in codes:
                    conditions.append(false())
    query = select(Department).where(*conditions)
    first = [clinic] if keep_clinic else []
    total_departments = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    total = len(first) + total_departments
    resources = first[criteria.offset:criteria.offset + criteria.count]
    skip = max(0, criteria.offset - len(first))
    room = criteria.count - len(resources)
    if room > 0:
        rows = session.execute(query.order_by(Department.id).offset(skip).limit(room)).scalars().all()
        resources += [fm.department_organization(d) for d in rows]
    return Page(resources, total, criteria.count, criteria.offset)


# --- observations: vitals from the encounter's fields, lab results ---------------------------------------

LAB = "lab"
VITAL_STATUSES = {"final": lambda: and_(Encounter.signed_at.is_not(None), Encounter.discarded_at.is_(None)),
                  "preliminary": lambda: and_(Encounter.signed_at.is_(None), Encounter.discarded_at.is_(None)),
                  "entered-in-error": lambda: Encounter.discarded_at.is_not(None)}


def _observation_key(text: str) -> tuple[str, int] | None:
    """``vs-bp-12`` -> ("bp", 12); ``lab-7`` -> ("lab", 7); anything else None."""
    parts = text.split("-")
    if len(parts) == 3 and parts[0] == "vs" and parts[1] in fm.VITAL_FIELDS:
        kind, number = parts[1], parts[2]
    elif len(parts) == 2 and parts[0] == LAB:
        kind, number = LAB, parts[1]
    else:
        return None
    if not number.isascii() or not number.isdigit() or not 1 <= int(number) <= 2**31 - 1:
        return None
    return kind, int(number)


def _observation_branches(reader: Reader, criteria: Criteria, now: datetime, settings: ClinicSettings) -> list[Select]:
    kinds = []
    if reader.patient_only or "Encounter" in reader.permissions:
        kinds += list(fm.VITAL_FIELDS)
    if reader.patient_only or "LabResult" in reader.permissions:
        kinds.append(LAB)
    zone = settings.timezone
    lab_at = func.coalesce(LabResult.resulted_at, LabResult.created_at)
    branches = []
    for kind in kinds:
        is_lab = kind == LAB
        conditions: list[ColumnElement] = [_owned(reader, LabResult if is_lab else Encounter, now)]
        if not is_lab:
            conditions.append(getattr(Encounter, fm.VITAL_FIELDS[kind]).is_not(None))
        for name, values in criteria.params.items():
            def one(text: str, name: str = name, kind: str = kind, is_lab: bool = is_lab) -> ColumnElement:
                if name == "_id":
                    key = _observation_key(text)
                    if key is None or key[0] != kind:
                        return false()
                    return (LabResult.id if is_lab else Encounter.id) == key[1]
                if name == "patient":
                    return (LabOrder.patient_id if is_lab else Encounter.patient_id) == reference_id(
                        name, text, "Patient")
                if name == "encounter":
                    return (LabOrder.encounter_id if is_lab else Encounter.id) == reference_id(
                        name, text, "Encounter")
                if name == "date":
                    prefix, span = parse_span(name, text, zone, False)
                    return date_condition(lab_at if is_lab else Encounter.created_at, prefix, span)
                if name == "category":
                    code = token(text)[1]
                    if code not in ("vital-signs", "laboratory"):
                        raise bad(name, _("The search parameter %(name)s takes one of: %(codes)s.", name=name,
                                          codes="laboratory, vital-signs"))
                    return true() if (code == "laboratory") == is_lab else false()
                if name == "status":
                    code = token(text)[1]
                    if code not in ("final", "preliminary", "corrected", "entered-in-error"):
                        raise bad(name, _("The search parameter %(name)s takes one of: %(codes)s.", name=name,
                                          codes="corrected, entered-in-error, final, preliminary"))
                    if is_lab:
                        return LabResult.status == code
                    return VITAL_STATUSES[code]() if code in VITAL_STATUSES else false()
                if name == "code":
                    system, code = token(text)
                    if is_lab:
                        if system not in (None, "", fm.LAB_ANALYTE_SYSTEM) or ":" not in code:
                            return false()
                        test, analyte = code.split(":", 1)
                        return and_(LabOrder.test_code == test, LabResult.analyte == analyte)
                    if system not in (None, "", fm.LOINC):
                        return false()
                    return true() if code in fm.VITAL_CODES[kind] else false()
                raise AssertionError(name)

            conditions.append(_any_of(name, values, one))
        if is_lab:
            branches.append(select(literal(LAB).label("kind"), LabResult.id.label("key"), lab_at.label("at"))
                            .join(LabOrder, LabResult.lab_order_id == LabOrder.id).where(*conditions))
        else:
            branches.append(select(literal(kind).label("kind"), Encounter.id.label("key"),
                                   Encounter.created_at.label("at")).where(*conditions))
    return branches


def _observations(session: Session, reader: Reader, criteria: Criteria, now: datetime,
                  settings: ClinicSettings) -> Page:
    branches = _observation_branches(reader, criteria, now, settings)
    if not branches:
        return Page([], 0, criteria.count, criteria.offset)
    rows = union_all(*branches).subquery()
    total = session.execute(select(func.count()).select_from(rows)).scalar_one()
    keys: list[tuple[str, int]] = []
    if criteria.count and criteria.offset < total:
        keys = [(kind, key) for kind, key in session.execute(
            select(rows.c.kind, rows.c.key).order_by(rows.c.at.desc(), rows.c.key.desc(), rows.c.kind)
            .offset(criteria.offset).limit(criteria.count)).all()]
    return Page(_observation_resources(session, reader, keys), total, criteria.count, criteria.offset)


def _observation_resources(session: Session, reader: Reader, keys: list[tuple[str, int]]) -> list[dict[str, Any]]:
    encounter_ids = {key for kind, key in keys if kind != LAB}
    result_ids = {key for kind, key in keys if kind == LAB}
    encounters = {e.id: e for e in session.execute(
        select(Encounter).where(Encounter.id.in_(encounter_ids))
        .options(selectinload(Encounter.patient), selectinload(Encounter.doctor))).scalars()}
    results = {r.id: r for r in session.execute(
        select(LabResult).where(LabResult.id.in_(result_ids))
        .options(selectinload(LabResult.lab_order).selectinload(LabOrder.patient))).scalars()}
    access.record_list_read(session, reader.user, Encounter, list(encounters.values()))
    access.record_list_read(session, reader.user, LabResult, list(results.values()))
    return [fm.lab_observation(results[key]) if kind == LAB else fm.vital_observation(encounters[key], kind)
            for kind, key in keys]


# --- read one -------------------------------------------------------------------------------------------

def _record_of(session: Session, type_name: str, resource_id: str) -> Any:
    """The record behind ``Type/id`` (None when there is none)."""
    if type_name == "Observation":
        key = _observation_key(resource_id)
        if key is None:
            return None
        record = session.get(LabResult if key[0] == LAB else Encounter, key[1])
        if record is not None and key[0] != LAB and getattr(record, fm.VITAL_FIELDS[key[0]]) is None:
            return None
        return record
    if not resource_id.isascii() or not resource_id.isdigit() or not 1 <= int(resource_id) <= 2**31 - 1:
        return None
    model = Department if type_name == "Organization" else MODEL_OF[type_name]
    return session.get(model, int(resource_id))


def read(session: Session, reader: Reader, type_name: str, resource_id: str, now: datetime,
         settings: ClinicSettings) -> dict[str, Any]:
    """``GET Type/id``: the resource, or 404 when there is none, 403 (audited) when the reader may
    not read it."""
    check_type(type_name)
    _usable(reader, type_name)
    if not valid_fhir_id(resource_id):
        raise FhirError(404, _("There is no %(type)s with id %(id)s.", type=type_name, id=resource_id[:64]))
    if type_name == "Organization" and resource_id == fm.CLINIC_ORGANIZATION:
        return fm.clinic_organization(settings)
    record = _record_of(session, type_name, resource_id)
    if record is None:
        raise FhirError(404, _("There is no %(type)s with id %(id)s.", type=type_name, id=resource_id))
    if type_name in ("Practitioner", "Organization"):
        return fm.MAPPERS[type(record)](record)
    page = search(session, reader, type_name, [("_id", resource_id)], now, settings) \
        if type_name == "Observation" else None
    if page is not None and page.resources:
        access.open_record(session, reader.user, record, now)
        return page.resources[0]
    if page is None:
        model = MODEL_OF[type_name]
        visible = session.execute(_base(type_name, reader, now).where(model.id == record.id)).scalars().first()  # type: ignore[attr-defined]
        if visible is not None:
            access.open_record(session, reader.user, visible, now)  # audited (patient-owned records)
            return fm.MAPPERS[type(visible)](visible)
    patient_id = access.patient_id_of(session, record) if type(record) is not Patient else record.id
    access.record_denial(session, reader.user, type(record).__name__, record.id, {"patient_id": patient_id,
                                                                                 "fhir": True})
    raise access.CareAccessDenied(_("This record belongs to a patient outside your care."), patient_id)


# --- $everything ----------------------------------------------------------------------------------------

def everything(session: Session, reader: Reader, patient_id: str, now: datetime,
               settings: ClinicSettings) -> list[dict[str, Any]]:
    """``Patient/id/$everything``: the patient and their records the reader may read. Opening it is
    opening the patient's chart (``access.open_chart``: the care team or the patient themself,
    audited); within it, each type as its search answers the reader."""
    _usable(reader, "Patient")
    if not patient_id.isascii() or not patient_id.isdigit() or not 1 <= int(patient_id) <= 2**31 - 1:
        raise FhirError(404, _("There is no %(type)s with id %(id)s.", type="Patient", id=patient_id[:64]))
    patient = access.open_chart(session, reader.user, int(patient_id), now)
    resources = [fm.patient_resource(patient)]
    for type_name in ("Appointment", "Encounter", "Condition", "Observation", "MedicationRequest", "Invoice"):
        needed = TYPE_PERMISSIONS[type_name]
        if not reader.patient_only and not reader.permissions.intersection(needed):
            continue
        offset = 0
        while True:
            page = search(session, reader, type_name, [("patient", patient_id), ("_count", "100"),
                                                       ("_offset", str(offset))], now, settings)
            resources += page.resources
            offset += 100
            if offset >= min(page.total, EVERYTHING_LIMIT):
                break
    return resources
