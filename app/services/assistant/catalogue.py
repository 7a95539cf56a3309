"""The clinic's own names as the assistant reads them: its active services (with their
departments) and doctors, folded once per message, and how a specialty the patient named becomes
a service to book (and, for a specialty only some doctors have, those doctors)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Doctor, Service
from app.services.assistant.understanding import DOCTOR_MARKERS, SPECIALTIES, SPELLINGS, fold, tokenize

if TYPE_CHECKING:
    from app.services.assistant.understanding import Token


def name_words(text: str | None) -> tuple[str, ...]:
    return tuple(fold(text or "").replace("-", " ").split())


def name_typed(text: str | None) -> tuple[str, ...]:
    """The name's words as written (lower case, with their diacritics)."""
    return tuple(t.typed for t in tokenize(text or ""))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...], typed: tuple[str, ...] = ()) -> bool:
    """``phrase`` (folded words) in ``words``; a one-word phrase whose folded form means two things
    ("mat": "mắt" eye, "mặt" face) must be written as the table says when ``typed`` is given."""
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if words[i:i + n] != phrase:
            continue
        spellings = SPELLINGS.get(phrase[0]) if n == 1 else None
        if spellings and len(typed) == len(words) and typed[i] != words[i] and typed[i] not in spellings:
            continue
        return n > 0
    return False


@dataclass(frozen=True)
class ServiceName:
    id: int
    name: str
    words: tuple[str, ...]
    department_id: int | None
    department: str
    department_words: tuple[str, ...]
    typed_words: tuple[str, ...]  # as written, for the words that fold alike
    department_typed: tuple[str, ...]
    price: Decimal
    duration_minutes: int
    doctor_ids: tuple[int, ...]  # active doctors offering it

    @property
    def consultation(self) -> bool:
        """A plain consultation ("Khám ...", "... consultation"): what a specialty books first."""
        return self.words[:1] == ("kham",) or "consultation" in self.words


@dataclass(frozen=True)
class DoctorName:
    id: int
    label: str  # "BS. Trần Thị Bình"
    words: tuple[str, ...]
    specialty_words: tuple[str, ...]
    department_words: tuple[str, ...]
    specialty_typed: tuple[str, ...]
    service_ids: tuple[int, ...]  # active services they offer


@dataclass(frozen=True)
class Names:
    services: tuple[ServiceName, ...]
    doctors: tuple[DoctorName, ...]

    def service(self, service_id: int | None) -> ServiceName | None:
        return next((s for s in self.services if s.id == service_id), None)

    def doctor(self, doctor_id: int | None) -> DoctorName | None:
        return next((d for d in self.doctors if d.id == doctor_id), None)

    # --- doctors -------------------------------------------------------------------------------

    def doctors_named(self, typed: str) -> list[int]:
        """The doctors whose name contains the words ``typed`` (folded) in order; one word must be
        the given name (last) or the family name (first)."""
        words = tuple(typed.split())
        found = []
        for doctor in self.doctors:
            if len(words) == 1:
                if words[0] in (doctor.words[:1] + doctor.words[-1:]):
                    found.append(doctor.id)
            elif _contains(doctor.words, words):
                found.append(doctor.id)
        return found

    def _doctor_at(self, tokens: list["Token"], start: int) -> tuple[int, list[int]]:
        """The longest run of name words from ``start`` naming some doctors: (length, their ids)."""
        for n in range(min(4, len(tokens) - start), 0, -1):
            typed = " ".join(t.folded for t in tokens[start:start + n])
            ids = self.doctors_named(typed)
            if ids:
                return n, ids
        return 0, []

    # --- in a message --------------------------------------------------------------------------

    def find(self, tokens: list["Token"], taken: set[int]) -> dict[str, Any]:
        """The clinic's names in ``tokens``: a doctor after "bác sĩ" / "Dr" (or a full name
        anywhere), a service or department by its whole name. Marks the tokens used in ``taken``."""
        slots: dict[str, Any] = {}
        words = [t.folded for t in tokens]
        markers = [tuple(m.split()) for m in DOCTOR_MARKERS]
        for i in range(len(words)):
            for marker in markers:
                if tuple(words[i:i + len(marker)]) == marker:
                    n, ids = self._doctor_at(tokens, i + len(marker))
                    if n:
                        slots["doctor_ids"] = ids
                        slots["doctor"] = " ".join(words[i + len(marker):i + len(marker) + n])
                        taken |= set(range(i + len(marker), i + len(marker) + n))
                        break
            if "doctor_ids" in slots:
                break
        if "doctor_ids" not in slots:
            for doctor in self.doctors:
                n = len(doctor.words)
                for i in range(len(words) - n + 1):
                    if n >= 2 and tuple(words[i:i + n]) == doctor.words:
                        slots["doctor_ids"], slots["doctor"] = [doctor.id], " ".join(doctor.words)
                        taken |= set(range(i, i + n))
        best: tuple[int, int, int] | None = None  # (length, start, service id)
        for service in self.services:
            n = len(service.words)
            for i in range(len(words) - n + 1):
                if n and tuple(words[i:i + n]) == service.words and not taken & set(range(i, i + n)):
                    if best is None or n > best[0]:
                        best = (n, i, service.id)
        if best is not None:
            slots["service_id"] = best[2]
            taken |= set(range(best[1], best[1] + best[0]))
        return slots

    # --- a specialty -------------------------------------------------------------------------------

    def resolve(self, key: str, typed: str, doctor_ids: list[int] | None = None
                ) -> tuple[int | None, list[int] | None]:
        """The service a specialty books (``typed``: the words the patient used), and the doctors
        to book it with when the specialty belongs to some doctors only (a cardiologist among the
        internists). (None, None): the clinic does not offer it."""
        phrases = [tuple(p.split()) for p in SPECIALTIES.get(key, ())]
        typed_words = tuple(typed.split())
        specialists = [d.id for d in self.doctors
                       if any(_contains(d.specialty_words, p, d.specialty_typed) for p in phrases)]
        allowed = set(doctor_ids or ()) or None
        scored: list[tuple[int, bool, int, int, ServiceName]] = []
        for service in self.services:
            offered_by = set(service.doctor_ids)
            if allowed is not None and not offered_by & allowed:
                continue
            score = 4 * _contains(service.words, typed_words)
            score += 2 * any(_contains(service.words, p, service.typed_words) for p in phrases)
            score += any(_contains(service.department_words, p, service.department_typed) for p in phrases)
            if score:
                scored.append((score, service.consultation, -service.duration_minutes, -service.id, service))
        if scored:
            return max(scored, key=lambda row: row[:4])[4].id, None
        if specialists:  # a specialty of doctors, not of the catalogue: their consultation
            doctors = [d for d in self.doctors if d.id in specialists and (allowed is None or d.id in allowed)]
            offered = [s for s in self.services if any(s.id in d.service_ids for d in doctors)]
            if offered:
                chosen = max(offered, key=lambda s: (s.consultation, -s.duration_minutes, -s.id))
                return chosen.id, [d.id for d in doctors if chosen.id in d.service_ids]
        return None, None

    def main_service(self, doctor_id: int) -> int | None:
        """The consultation a doctor offers (their first service otherwise)."""
        doctor = self.doctor(doctor_id)
        offered = [s for s in self.services if doctor is not None and s.id in doctor.service_ids]
        if not offered:
            return None
        preferred = [s for s in offered if s.consultation and
                     (not doctor or not doctor.department_words or s.department_words == doctor.department_words)]
        return (preferred or [s for s in offered if s.consultation] or offered)[0].id


def load_names(session: Session) -> Names:
    """The active services and doctors, with what they are called, in two queries."""
    services = session.execute(select(Service).where(Service.active.is_(True)).order_by(Service.id)
                               .options(selectinload(Service.doctors), selectinload(Service.department))
                               ).scalars().all()
    doctors = session.execute(select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.id)
                              .options(selectinload(Doctor.specialty), selectinload(Doctor.department))
                              ).scalars().all()
    service_rows = tuple(ServiceName(
        id=s.id, name=s.name, words=name_words(s.name), department_id=s.department_id,
        department=s.department.name if s.department else "",
        department_words=name_words(s.department.name if s.department else ""), typed_words=name_typed(s.name),
        department_typed=name_typed(s.department.name if s.department else ""), price=s.price,
        duration_minutes=s.duration_minutes, doctor_ids=tuple(d.id for d in s.doctors if d.active))
        for s in services)
    doctor_rows = tuple(DoctorName(
        id=d.id, label=str(d), words=name_words(d.full_name),
        specialty_words=name_words(d.specialty.name if d.specialty else ""),
        department_words=name_words(d.department.name if d.department else ""),
        specialty_typed=name_typed(d.specialty.name if d.specialty else ""),
        service_ids=tuple(s.id for s in service_rows if d.id in s.doctor_ids))
        for d in doctors)
    return Names(services=service_rows, doctors=doctor_rows)
