"""The service catalogue and the laboratory's test catalogue: their rules, and the reads of what
the clinic offers (active services and doctors, for the public site and the booking forms)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Doctor, InvoiceLine, LabAnalyte, LabOrder, LabTest, Service
from app.services import cache, validation as v
from app.services.errors import Conflict
from app.services.money import is_exact
from app.services.settings import ClinicSettings

MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger number names no record


def validate_service(session: Session, service: Service, settings: ClinicSettings) -> None:
    service.code = v.require_text("code", service.code, 20).upper()
    service.name = v.require_text("name", service.name, 150)
    v.non_negative("price", service.price)
    if service.duration_minutes is None:
        raise v.ValidationFailed(_("This field is required."), "duration_minutes")
    v.in_range("duration_minutes", service.duration_minutes, 5, 480)
    v.unique(session, service, "code", _("Another service already has this code."))


def validate_lab_test(session: Session, test: LabTest, settings: ClinicSettings) -> None:
    """A catalogue test as the back office edits it (code, name, specimen, active, price; its
    analytes and reference ranges are not edited there). The price is what a visit that orders
    the test bills: never negative, in whole units of the clinic's currency (no fractional đồng)."""
    test.code = v.require_text("code", test.code, 30).upper()
    test.name = v.require_text("name", test.name, 200)
    specimen = (test.specimen or "").strip()
    if len(specimen) > 60:
        raise v.ValidationFailed(_("At most %(n)d characters.", n=60), "specimen")
    test.specimen = specimen or None
    if test.price is None:
        raise v.ValidationFailed(_("This field is required."), "price")
    v.non_negative("price", test.price)
    if not is_exact(test.price, settings.currency):
        raise v.ValidationFailed(_("Amounts in %(currency)s have no smaller unit: round the amount.",
                                   currency=settings.currency), "price")
    v.unique(session, test, "code", _("Another lab test already has this code."))


def check_lab_test_delete(session: Session, test: LabTest, settings: ClinicSettings) -> None:
    """A test ordered at a visit or billed stays in the catalogue (the orders and invoice lines
    keep pointing at it): it is made inactive instead (409)."""
    if test.id is None:
        return
    ordered = session.execute(select(LabOrder.id).where(LabOrder.lab_test_id == test.id).limit(1)).first()
    billed = session.execute(select(InvoiceLine.id).where(InvoiceLine.lab_test_id == test.id).limit(1)).first()
    if ordered or billed:
        raise Conflict(_("This test has been ordered or billed: untick \"Active\" instead of deleting it."))


# --- reads ---------------------------------------------------------------------------------------


def active_services(session: Session) -> list[Service]:
    return list(session.execute(select(Service).where(Service.active.is_(True)).order_by(Service.name)).scalars())


def active_doctors(session: Session) -> list[Doctor]:
    return list(session.execute(select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.full_name)).scalars())


def active_doctor(session: Session, doctor_id: int | None) -> Doctor | None:
    doctor = session.get(Doctor, doctor_id) if doctor_id is not None and 0 < doctor_id <= MAX_ID else None
    return doctor if doctor is not None and doctor.active else None


def active_service(session: Session, service_id: int | None) -> Service | None:
    service = session.get(Service, service_id) if service_id is not None and 0 < service_id <= MAX_ID else None
    return service if service is not None and service.active else None


def services_of(doctor: Doctor) -> list[Service]:
    """The active services a doctor offers, in a stable order."""
    return sorted((s for s in doctor.services if s.active), key=lambda s: s.id)


def doctors_for(service: Service) -> list[Doctor]:
    """The active doctors who offer a service, by name."""
    return sorted((d for d in service.doctors if d.active), key=lambda d: d.full_name)


def offers(doctor: Doctor, service: Service) -> bool:
    return service in doctor.services


# --- the public site's reads, cached (namespaces ``services`` and ``doctors``) -------------------


@cache.value_type
@dataclass(frozen=True)
class ServiceCard:
    """A service as the public site shows it."""
    id: int
    name: str
    department: str | None
    description: str | None
    price: Decimal
    duration_minutes: int


@cache.value_type
@dataclass(frozen=True)
class DoctorCard:
    """A doctor as the public site shows it (``str()``: the name with the title)."""
    id: int
    name: str
    full_name: str
    specialty: str | None
    department: str | None
    bio: str | None
    consultation_fee: Decimal
    years_of_experience: int
    languages: str | None

    def __str__(self) -> str:
        return self.name


@cache.value_type
@dataclass(frozen=True)
class DoctorPage:
    doctor: DoctorCard
    services: tuple[ServiceCard, ...]  # the active services the doctor offers, by id


def service_card(service: Service) -> ServiceCard:
    return ServiceCard(id=service.id, name=service.name,
                       department=service.department.name if service.department else None,
                       description=service.description, price=Decimal(service.price or 0),
                       duration_minutes=service.duration_minutes)


def doctor_card(doctor: Doctor) -> DoctorCard:
    return DoctorCard(id=doctor.id, name=str(doctor), full_name=doctor.full_name,
                      specialty=doctor.specialty.name if doctor.specialty else None,
                      department=doctor.department.name if doctor.department else None, bio=doctor.bio,
                      consultation_fee=Decimal(doctor.consultation_fee or 0),
                      years_of_experience=doctor.years_of_experience or 0, languages=doctor.languages)


def public_services(session: Session) -> list[ServiceCard]:
    return list(cache.cached(cache.SERVICES, ("active",),
                             lambda: tuple(service_card(s) for s in active_services(session))))


def public_doctors(session: Session) -> list[DoctorCard]:
    return list(cache.cached(cache.DOCTORS, ("active",),
                             lambda: tuple(doctor_card(d) for d in active_doctors(session))))


def public_doctor(session: Session, doctor_id: int) -> DoctorPage | None:
    """An active doctor's page (None: no such active doctor)."""
    def load() -> DoctorPage | None:
        doctor = active_doctor(session, doctor_id)
        if doctor is None:
            return None
        return DoctorPage(doctor_card(doctor), tuple(service_card(s) for s in services_of(doctor)))

    return cache.cached(cache.DOCTORS, ("page", doctor_id), load)


def lab_test_analytes(session: Session, test_id: int) -> list[LabAnalyte]:
    """A catalogue test's analytes in their order, each with its reference ranges (the test's
    page shows them read-only)."""
    if not 0 < test_id <= MAX_ID:
        return []
    return list(session.execute(select(LabAnalyte).where(LabAnalyte.test_id == test_id)
                                .options(selectinload(LabAnalyte.ranges))
                                .order_by(LabAnalyte.position, LabAnalyte.id)).scalars())
