"""The medicine catalogue from a CSV file: all rows checked first, every problem named with its
line, then all saved together (or nothing)."""
from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Medicine
from app.services.errors import DomainError, ValidationFailed, committing
from app.services.settings import ClinicSettings
from app.services.stock import validate_medicine

COLUMNS = ("code", "name", "active_ingredient", "strength", "dosage_form", "unit", "price", "reorder_level")
REQUIRED = ("code", "name")


class ImportRefused(ValidationFailed):
    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(problems[0][1])
        self.problems = problems


def load_medicines(session: Session, handle: IO[str], settings: ClinicSettings | None = None) -> tuple[int, int]:
    """Add or update (by code) the medicines of the CSV text; (added, updated). Refused whole
    (``ImportRefused`` listing every line's problem) if any row is wrong."""
    reader = csv.DictReader(handle)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportRefused([(1, _("Missing columns: %(names)s.", names=", ".join(missing)))])
    problems: list[tuple[int, str]] = []
    existing = {m.code: m for m in session.execute(select(Medicine)).scalars()}
    seen: set[str] = set()
    added = updated = 0
    with committing(session), session.no_autoflush:
        for row in reader:
            line = reader.line_num
            values = {c: (row.get(c) or "").strip() for c in COLUMNS}
            code = values["code"].upper()
            if code in seen:
                problems.append((line, _("The code %(code)s appears twice.", code=code)))
                continue
            seen.add(code)
            medicine = existing.get(code)
            if medicine is None:
                medicine = Medicine(unit="tablet", price=Decimal(0), reorder_level=0, active=True)
                added += 1
            else:
                updated += 1
            try:
                medicine.code, medicine.name = code, values["name"]
                for name in ("active_ingredient", "strength", "dosage_form"):
                    setattr(medicine, name, values[name] or None)
                if values["unit"]:
                    medicine.unit = values["unit"]
                if values["price"]:
                    medicine.price = Decimal(values["price"].replace(",", "."))
                if values["reorder_level"]:
                    medicine.reorder_level = int(values["reorder_level"])
                validate_medicine(session, medicine, settings)  # type: ignore[arg-type]
            except (InvalidOperation, ValueError):
                problems.append((line, _("Price and reorder level must be numbers.")))
                continue
            except DomainError as exc:
                problems.append((line, f"{exc.field}: {exc.message}" if exc.field else exc.message))
                continue
            session.add(medicine)
        if problems:
            raise ImportRefused(problems)
    return added, updated
