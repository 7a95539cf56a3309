"""The patient chart (/chart/<patient id>) and "Patients I have seen" (/patients-seen), for the
clinical staff (whoever reads encounters); the reads are in ``app.services.chart``. The charts are
drawn in the browser by plotly.js from the JSON the page carries; plotly.js is served by the app
itself from the installed ``plotly`` package (/static-vendor/plotly.min.js), never from a CDN."""
from __future__ import annotations

import gzip
import hashlib
import re
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l

from app.extensions import db
from app.fab.actor import acting_user
from app.models.types import utcnow
from app.services import chart as charts
from app.views.base import clinic_settings
from app.views.fields import clinic_zone, format_date_input, format_day, format_moment, format_phone, user_language
from app.views.lab import localized_range

TIMELINE_LIMIT = 50  # entries shown before "show all"
VENDOR_MAX_AGE = 365 * 24 * 3600  # the file changes only with the package; its URL carries the version

KIND_LABELS = {"visit": _l("Visits"), "prescription": _l("Prescriptions"), "lab": _l("Lab results"),
               "file": _l("Files")}
KIND_ICONS = {"visit": "fa-stethoscope", "prescription": "fa-medkit", "lab": "fa-flask", "file": "fa-file-o"}
VITAL_TITLES = {"weight": _l("Weight (kg)"), "bmi": _l("BMI (kg/m²)"), "bp": _l("Blood pressure (mmHg)"),
                "temperature": _l("Temperature (°C)")}


def _plotly_folder() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


def _plotly_version() -> str:
    import plotly

    return str(plotly.__version__)


def _points(series: charts.Series, zone: tzinfo) -> dict[str, Any]:
    """A series as plotly wants it: the clinic's local time (plotly ignores time zones)."""
    return {"x": [at.astimezone(zone).strftime("%Y-%m-%d %H:%M") for at in series.x],
            "y": series.y, "unit": series.unit, "range": localized_range(series.reference_range)}


def chart_data(chart: charts.Chart) -> dict[str, Any]:
    """What static/js/chart.js draws."""
    zone = clinic_zone()
    return {
        "lang": user_language(),
        "vitals": {name: _points(series, zone) for name, series in chart.vitals.items()},
        "labs": {name: _points(series, zone) for name, series in chart.labs.items()},
        "titles": {key: str(value) for key, value in VITAL_TITLES.items()},
        "names": {"systolic": str(_l("Systolic")), "diastolic": str(_l("Diastolic")),
                  "empty": str(_l("No measurements yet."))},
    }


def _age(born: date | None) -> int | None:
    if born is None:
        return None
    today = datetime.now(clinic_settings().timezone).date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class _Moments:
    """``format_moment`` for many instants of one page: the zone and the language looked up once."""

    def __init__(self) -> None:
        self.zone, self.language = clinic_zone(), user_language()

    def __call__(self, value: datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(self.zone)
        return f"{format_date_input(local.date(), self.language)} {local:%H:%M}"


class _Days(dict):
    """"%(n)s days", translated once per number."""

    def __missing__(self, n: int) -> str:
        self[n] = _("%(n)s days", n=n)
        return self[n]

    def __call__(self, n: int) -> str:
        return self[n]


class _Labels(dict):
    """A status or flag code's label, translated once per page."""

    def __missing__(self, code: str) -> str:
        self[code] = _(code)
        return self[code]


class ChartView(BaseView):
    """/chart/<patient id>: allergies and problems, the timeline (filter by kind), vitals and one
    analyte's trend. Outside the reader's care: the care-denied page with the way to break the glass
    (``CareAccessDenied``, app/views/care.py)."""

    route_base = "/chart"
    default_view = "show"
    class_permission_name = "Encounter"
    method_permission_name = {"show": "read"}

    @expose("/<int:patient_id>")
    @has_access
    def show(self, patient_id: int) -> ResponseReturnValue:
        kinds = [kind for kind in request.args.getlist("kind") if kind in charts.KINDS]
        chart = charts.chart(db.session, patient_id, acting_user(), utcnow(), kinds=kinds)
        show_all = request.args.get("all") == "1"
        entries = chart.entries if show_all else chart.entries[:TIMELINE_LIMIT]
        return self.render_template(
            "clinic/chart.html", chart=chart, patient=chart.patient, entries=entries, hidden=len(chart.entries) -
            len(entries), kinds=kinds, kind_labels=KIND_LABELS, kind_icons=KIND_ICONS, data=chart_data(chart),
            age=_age(chart.patient.date_of_birth), moment=format_moment, day=format_day, when=_Moments(),
            label=_Labels().__getitem__, days=_Days(),
            plotly_url=url_for("vendor_plotly", v=_plotly_version()),
        )


class PatientsSeenView(BaseView):
    """/patients-seen: the patients the logged-in doctor has seen, the latest visit first, with search."""

    route_base = "/patients-seen"
    default_view = "index"
    class_permission_name = "Encounter"
    method_permission_name = {"index": "read"}

    @expose("/")
    @has_access
    def index(self) -> ResponseReturnValue:
        query = (request.args.get("q") or "").strip()[:100]
        try:
            page = int(request.args.get("page") or 1)
        except ValueError:
            page = 1
        result = charts.patients_seen(db.session, acting_user(), query, page, region=clinic_settings().phone_region)
        return self.render_template("clinic/patients_seen.html", result=result, query=query, moment=format_moment,
                                    day=format_day, phone=format_phone)


class _Vendored:
    """A vendored file's bytes, read and gzip-compressed once per process (plotly.min.js is 4.8 MB,
    about 1.4 MB compressed), with an ETag per variant so a cached copy is revalidated, not refetched."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.packed = gzip.compress(raw, compresslevel=9, mtime=0)
        self.etag = hashlib.sha256(raw).hexdigest()[:32]


_PLOTLY: dict[Path, _Vendored] = {}


def _plotly_file() -> _Vendored | None:
    path = _plotly_folder() / "plotly.min.js"
    vendored = _PLOTLY.get(path)
    if vendored is None:
        if not path.is_file():
            return None
        vendored = _PLOTLY.setdefault(path, _Vendored(path.read_bytes()))
    return vendored


def vendor_plotly() -> Response:
    """plotly.min.js from the installed package (no CDN), cached for a year (the URL carries the version),
    gzip-compressed when the browser accepts it."""
    vendored = _plotly_file()
    if vendored is None:
        abort(404)
    packed = request.accept_encodings["gzip"] > 0
    response = Response(vendored.packed if packed else vendored.raw, mimetype="text/javascript")
    if packed:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(f"{vendored.etag}-gz" if packed else vendored.etag)
    response.headers["Cache-Control"] = f"public, max-age={VENDOR_MAX_AGE}, immutable"
    response.make_conditional(request)
    return response


NUMERIC_VALUE = re.compile(r"[<>≤≥]?\s*-?\d+(\.\d+)?")


def localized_value(value: object) -> str:
    """A result's value as recorded, a plain number in the reader's decimal mark ("13.2" -> "13,2" in
    Vietnamese), as its range (``localized_range``); words ("Mẫu đục") are left as written."""
    text = "" if value is None else str(value)
    return localized_range(text) if NUMERIC_VALUE.fullmatch(text.strip()) else text


def register(app: Flask) -> None:
    app.jinja_env.filters["lab_value"] = localized_value
    app.add_url_rule("/static-vendor/plotly.min.js", "vendor_plotly", vendor_plotly)
