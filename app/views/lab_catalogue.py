"""The laboratory's test catalogue in the back office: code, name, specimen, active and the price
a visit that orders the test bills (managers edit; doctors, lab, cashiers and receptionists read).
A test's analytes and reference ranges are shown on its page, read-only."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _, lazy_gettext as _l

from app.extensions import db
from app.i18n import choice_label
from app.models import LabReferenceRange, LabTest
from app.services import catalogue, lab
from app.views.base import ClinicInterface, ClinicModelView
from app.views.lab import localized_range


@dataclass(frozen=True)
class AnalyteRow:
    name: str
    unit: str
    decimals: int
    ranges: list[str]


def _age_band(band: LabReferenceRange) -> str:
    if band.age_max_years is None:
        return _("all ages") if band.age_min_years == 0 else _("%(low)d years and over", low=band.age_min_years)
    return _("from %(low)d to under %(high)d years", low=band.age_min_years, high=band.age_max_years)


def _number(value: Decimal, decimals: int) -> str:
    return localized_range(f"{value:.{decimals}f}")


def describe_range(band: LabReferenceRange, decimals: int) -> str:
    """One reference range as a reader sees it: "Male, 18 years and over: 130–170 (critical below
    70, above 200)", in the reader's language and decimal mark."""
    text = f"{choice_label(band.sex)}, {_age_band(band)}: {localized_range(lab.range_text(band, decimals)) or '–'}"
    critical = []
    if band.critical_low is not None:
        critical.append(_("critical below %(value)s", value=_number(band.critical_low, decimals)))
    if band.critical_high is not None:
        critical.append(_("critical above %(value)s", value=_number(band.critical_high, decimals)))
    return f"{text} ({', '.join(critical)})" if critical else text


def lab_test_analytes(pk: int | str) -> list[AnalyteRow]:
    """The rows of the test's "Analytes and reference ranges" table (its show page)."""
    try:
        test_id = int(pk)
    except (TypeError, ValueError):
        return []
    return [AnalyteRow(analyte.name, analyte.unit or "", analyte.decimals,
                       [describe_range(band, analyte.decimals) for band in analyte.ranges])
            for analyte in catalogue.lab_test_analytes(db.session, test_id)]


class LabTestView(ClinicModelView):
    datamodel = ClinicInterface(LabTest)
    class_permission_name = "LabTest"
    list_columns = ["code", "name", "specimen", "price", "active"]
    search_columns = ["code", "name", "specimen", "price", "active"]
    add_columns = edit_columns = ["code", "name", "specimen", "price", "active"]
    show_columns = ["code", "name", "specimen", "price", "active", "created_at", "updated_at"]
    description_columns = {
        "price": _l("Billed on the patient's invoice when the test is ordered at a visit."),
        "active": _l("Inactive tests can no longer be ordered; past orders keep them."),
    }
    base_order = ("code", "asc")
    show_template = "clinic/lab/test_show.html"
    extra_args = {"lab_test_analytes": lab_test_analytes}
