"""Managers' dashboards (issue 14): the figures (``figures.py``), their time buckets in the
clinic's zone (``buckets.py``), the rollups the appointment figures read (``rollups.py``), the
check of a dashboard query, a figure through the two-level cache (``figure``) and the CSV/XLSX
exports."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import Department, Doctor
from app.services import cache
from app.services.dashboards.buckets import GRAINS, MAX_RANGE_DAYS
from app.services.dashboards.figures import FIGURES, FigureData
from app.services.errors import FieldErrors

FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2199, 12, 31)  # beyond: no clinic data, and no time zone maths


def check_query(session: Session, start: date, end: date, grain: str, department_id: int | None = None,
                doctor_id: int | None = None) -> None:
    """Every broken field at once (422): a day before 1970 or after 2199, a reversed range, one
    over three years, an unknown grain, doctor or department."""
    from flask_babel import gettext as _

    errors: dict[str, str] = {}
    for name, day in (("start", start), ("end", end)):
        if not FIRST_DAY <= day <= LAST_DAY:
            errors[name] = _("Choose a date from %(first)s to %(last)s.", first=FIRST_DAY.year, last=LAST_DAY.year)
    if not errors and end < start:
        errors["end"] = _("The end date is before the start date.")
    elif not errors and (end - start).days + 1 > MAX_RANGE_DAYS:
        errors["end"] = _("The range is longer than three years.")
    if grain not in GRAINS:
        errors["grain"] = _("Choose day, week, month or quarter.")
    if department_id is not None and session.get(Department, department_id) is None:
        errors["department_id"] = _("No such department.")
    if doctor_id is not None and session.execute(
            sa.select(Doctor.id).where(Doctor.id == doctor_id)).scalar() is None:
        errors["doctor_id"] = _("No such doctor.")
    if errors:
        raise FieldErrors(errors)


def figure(session: Session, key: str, start: date, end: date, grain: str, department_id: int | None,
           doctor_id: int | None, zone: ZoneInfo) -> FigureData:
    """One figure, from the two-level cache (namespace ``dashboards``, dropped whole by any write a
    figure reads: ``app.services.cache_hooks``), else computed. The page, its downloads and the
    API all read through here, so they show the same numbers."""
    def load() -> FigureData:
        return FIGURES[key](session, start, end, grain, department_id=department_id, doctor_id=doctor_id,
                            zone=zone)

    found = cache.cached(cache.DASHBOARDS, (key, start.isoformat(), end.isoformat(), grain, department_id, doctor_id,
                                            zone.key), load)
    if isinstance(found.columns, tuple):
        return found
    # from Redis, the tuples come back as lists: the same figure again, with tuples
    return FigureData(found.key, found.grain, tuple(tuple(column) for column in found.columns),
                      [tuple(row) for row in found.rows], dict(found.totals))
