"""The managers' dashboards (issue 14), ``/dashboards/``: for a range, a grain, a department and a
doctor, every figure of ``app.services.dashboards.figures`` as a plotly chart (built here in
Python, sent as JSON, drawn by plotly.js served from the installed package at
/static-vendor/plotly.min.js: never a CDN) with its table beside it (below it on a phone), and a
CSV and XLSX download each. Numbers and dates in the reader's language (1.000.000 ₫, 02/12/2026).

Permission ``Dashboard`` (can_read): managers and admins; the JSON API shares it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import format_decimal, format_percent, gettext as _, lazy_gettext as _l
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.i18n import choice_label
from app.models.billing import PAYMENT_METHODS
from app.permissions import DASHBOARD_PERMISSION
from app.services import cache, dashboards as dashboard_service
from app.services.dashboards import export
from app.services.dashboards.figures import FIGURES, FigureData
from app.services.errors import FieldErrors
from app.services.front_desk import filter_choices
from app.views.base import clinic_settings
from app.views.dashboard_forms import DashboardForm
from app.views.fields import format_date_input, format_money, user_language

TITLES = {
    "patients": _l("Patients: new and returning"), "visits": _l("Visits"),
    "attendance": _l("No-show and cancellation rates"),
    "waits": _l("Average wait and consultation length (minutes)"),
    "utilisation": _l("Doctor utilisation: booked against working hours"),
    "revenue_by_service": _l("Revenue by service"), "revenue_by_doctor": _l("Revenue by doctor"),
    "revenue_by_method": _l("Money taken by payment method"), "outstanding": _l("Outstanding balances"),
    "medicines": _l("Medicines dispensed (top 10)"), "stock": _l("Stock expiring, by expiry date"),
    "ratings": _l("Ratings per doctor and criterion"),
}
HEADERS = {
    "period": _l("Period"), "new": _l("New"), "returning": _l("Returning"), "total": _l("Total"),
    "visits": _l("Visits"), "booked": _l("Booked"), "no_show": _l("No-shows"), "no_show_rate": _l("No-show rate"),
    "cancelled": _l("Cancelled"), "cancellation_rate": _l("Cancellation rate"),
    "wait_minutes": _l("Wait (min)"), "waited": _l("Patients timed"), "consultation_minutes": _l("Consultation (min)"),
    "consultations": _l("Consultations timed"), "doctor": _l("Doctor"), "booked_hours": _l("Booked hours"),
    "working_hours": _l("Working hours"), "utilisation": _l("Utilisation"), "service": _l("Service"),
    "revenue": _l("Revenue"), "invoices": _l("Invoices"), "balance": _l("Balance owed"),
    "medicine": _l("Medicine"), "unit": _l("Unit"), "quantity": _l("Quantity"), "value": _l("Value"),
    "batches": _l("Batches"), "expiring_value": _l("Value expiring"), "reviews": _l("Reviews"),
    "professional": _l("Professional quality"), "attitude": _l("Attitude"), "waiting_time": _l("Waiting time"),
    "overall": _l("Overall"),
    "review_waiting_time": _l("Patients' waiting-time rating"), "wait_reviews": _l("Waiting-time ratings"),
    "vnpay": "VNPay",  # a name
}
# How each figure is drawn: the chart's kind and the columns that are its series.
CHARTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "patients": ("stack", ("new", "returning")), "visits": ("bar", ("visits",)),
    "attendance": ("line", ("no_show_rate", "cancellation_rate")),
    "waits": ("line", ("wait_minutes", "consultation_minutes")),
    "utilisation": ("group", ("booked_hours", "working_hours")),
    "revenue_by_service": ("bar", ("revenue",)), "revenue_by_doctor": ("bar", ("revenue",)),
    "revenue_by_method": ("stack", PAYMENT_METHODS), "outstanding": ("bar", ("balance",)),
    "medicines": ("bar", ("quantity",)), "stock": ("bar", ("expiring_value",)),
    "ratings": ("group", ("professional", "attitude", "waiting_time", "overall")),
}
ORDER = tuple(CHARTS)
MAX_DEFAULT_MONTHS = 6


@dataclass(frozen=True)
class Query:
    start: date
    end: date
    grain: str
    department_id: int | None
    doctor_id: int | None

    def args(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat(), "grain": self.grain}
        if self.department_id:
            out["department"] = self.department_id
        if self.doctor_id:
            out["doctor"] = self.doctor_id
        return out


def header(key: str) -> str:
    if key in HEADERS:
        return str(HEADERS[key])
    return choice_label(key)  # the payment methods: cash, bank transfer, ...


def period_label(day: date, grain: str) -> str:
    """A bucket as a reader names it: 02/12/2026 (a day, or the Monday of a week), 12/2026, Q4/2026
    (Vietnamese; ISO order in English)."""
    language = user_language()
    vi = language == "vi"
    if grain in ("day", "week"):
        return format_date_input(day, language)
    if grain == "month":
        return day.strftime("%m/%Y") if vi else day.strftime("%Y-%m")
    return _("Q%(quarter)s/%(year)s", quarter=(day.month - 1) // 3 + 1, year=day.year)


def cell_text(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "money":
        return format_money(value)
    if kind == "percent":
        return str(format_percent(value, "#,##0.0%"))
    if kind in ("minutes", "rating"):
        return str(format_decimal(value, "#,##0.0"))
    if kind == "hours":
        return str(format_decimal(value, "#,##0.##"))
    if kind in ("count", "quantity"):
        return str(format_decimal(value, "#,##0"))
    return str(value)


def shown_table(data: FigureData) -> export.Table:
    return export.table(data, str(TITLES[data.key]), {key: header(key) for key, _k in data.columns}, choice_label,
                        period=lambda day: period_label(day, data.grain))


def figure_json(data: FigureData, table: export.Table) -> str:
    """The plotly figure as JSON (plotly.js reads it): categories on x (the period or the name),
    one trace per series column; separators and percent axes in the reader's language. Written as
    plain dicts: plotly's Python figure objects validate every property and took ~40 ms a chart,
    most of a cached page's time."""
    kind, series = CHARTS[data.key]
    keys = [key for key, k in data.columns if k != export.HIDDEN]
    x = [str(row[0]) for row in table.rows]

    def values(key: str) -> list[float | None]:
        column = keys.index(key)
        return [float(row[column]) if row[column] is not None else None for row in table.rows]

    traces: list[dict[str, Any]] = []
    for key in series:
        trace: dict[str, Any] = {"x": x, "y": values(key), "name": header(key)}
        trace.update({"type": "scatter", "mode": "lines+markers"} if kind == "line" else {"type": "bar"})
        traces.append(trace)
    stars_beside = data.key == "waits"  # the reviews' waiting-time stars, on their own axis at the right
    if stars_beside:
        traces.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": values("review_waiting_time"),
                       "name": header("review_waiting_time"), "yaxis": "y2", "line": {"dash": "dot"}})
    percent = any(k == "percent" for key, k in data.columns if key in series)
    stars = any(k == "rating" for key, k in data.columns if key in series)
    layout: dict[str, Any] = {
        "height": 300, "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
        "separators": ",." if user_language() == "vi" else ".,",
        "barmode": "stack" if kind == "stack" else "group", "showlegend": len(series) > 1 or stars_beside,
        # above the plot: long names on x are drawn slanted below it and would run into the legend
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"type": "category", "automargin": True},
        "yaxis": {"tickformat": ".0%" if percent else ",~r", "rangemode": "tozero", "automargin": True,
                  **({"range": [0, 5.2], "dtick": 1} if stars else {})},
    }
    if stars_beside:
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "range": [0, 5.2], "dtick": 1, "showgrid": False,
                            "title": {"text": "★"}}
    return json.dumps({"data": traces, "layout": layout}, ensure_ascii=False, separators=(",", ":"))


def _choices(form: DashboardForm) -> None:
    doctors, departments = filter_choices(db.session)
    form.department.choices = [("", _("All departments"))] + [(d.id, d.name) for d in departments]
    form.doctor.choices = [("", _("All doctors"))] + [(d.id, str(d)) for d in doctors]


def default_range(today: date) -> tuple[date, date]:
    """The last six months, this one included."""
    year, month = today.year, today.month - (MAX_DEFAULT_MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1), today


def dashboard_form() -> DashboardForm:
    """The filters from the query string; with no range given, the default one (typed as the
    reader types dates)."""
    args = MultiDict(request.args)
    if not args.get("start") and not args.get("end"):
        language = user_language()
        first, last = default_range(clinic_settings().today())
        args["start"], args["end"] = format_date_input(first, language), format_date_input(last, language)
    form = DashboardForm(args)
    _choices(form)
    return form


def read_query(form: DashboardForm) -> Query | None:
    """The query of a valid form; otherwise None, with every broken field's message on the form
    (the range's rules too when both dates could be read)."""
    ok = form.validate()
    start, end = form.start.data, form.end.data
    if start is None or end is None:
        return None
    try:
        dashboard_service.check_query(db.session, start, end, form.grain.data if not form.grain.errors else "month",
                                      None if form.department.errors else form.department.data,
                                      None if form.doctor.errors else form.doctor.data)
    except FieldErrors as exc:
        fields = {"start": form.start, "end": form.end, "grain": form.grain, "department_id": form.department,
                  "doctor_id": form.doctor}
        for name, message in exc.errors.items():
            fields[name].errors = [*list(fields[name].errors), message]
        return None
    if not ok:
        return None
    return Query(start, end, form.grain.data, form.department.data, form.doctor.data)


def compute(query: Query, key: str) -> FigureData:
    return dashboard_service.figure(db.session, key, query.start, query.end, query.grain, query.department_id,
                                    query.doctor_id, clinic_settings().timezone)


def shown_panel(query: Query, key: str) -> str:
    """A figure as the page shows it in the reader's language (its section's HTML: the chart's
    JSON, the table's cells, the totals, the download links), through the cache like the figure
    itself: formatting and rendering twelve figures costs more than reading them from the cache."""
    def load() -> str:
        data = compute(query, key)
        table = shown_table(data)
        panel = {
            "key": key, "title": TITLES[key], "table": {"headers": table.headers, "kinds": table.kinds},
            "texts": [[cell_text(v, k) for v, k in zip(row, table.kinds, strict=True)] for row in table.rows],
            "figure": figure_json(data, table) if table.rows else None,
            "totals": {name: format_money(value) for name, value in data.totals.items()},
            "csv": url_for("DashboardView.download", figure=key, fmt="csv", **query.args()),
            "xlsx": url_for("DashboardView.download", figure=key, fmt="xlsx", **query.args()),
        }
        return render_template("clinic/_dashboard_panel.html", p=panel, total_labels=total_labels())

    return Markup(cache.cached(cache.DASHBOARDS, ("panel", user_language(), key, query.start.isoformat(),
                                                  query.end.isoformat(), query.grain, query.department_id,
                                                  query.doctor_id, clinic_settings().timezone.key), load))


def total_labels() -> dict[str, str]:
    return {"stock_value": _("Stock value on hand"), "expiring_value": _("Value expiring in the range")}


class DashboardView(BaseView):
    route_base = "/dashboards"
    default_view = "index"
    class_permission_name = DASHBOARD_PERMISSION
    method_permission_name = {"index": "read", "download": "read"}

    @expose("/")
    @has_access
    def index(self) -> ResponseReturnValue:
        form = dashboard_form()
        query = read_query(form)
        panels = []
        if query is not None:
            panels = [{"key": key, "html": shown_panel(query, key)} for key in ORDER]
        return self.render_template("clinic/dashboards.html", form=form, panels=panels,
                                    plotly_url=url_for("vendor_plotly"), lang=user_language(),
                                    total_labels=total_labels()), \
            200 if query is not None else 422

    @expose("/<figure>.<fmt>")
    @has_access
    def download(self, figure: str, fmt: str) -> ResponseReturnValue:
        if figure not in FIGURES or fmt not in ("csv", "xlsx"):
            return Response(_("No such figure or format."), 404, mimetype="text/plain")
        form = dashboard_form()
        query = read_query(form)
        if query is None:
            errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
            return Response(json.dumps({"message": errors}, ensure_ascii=False), 422, mimetype="application/json")
        data = compute(query, figure)
        table = export.table(data, str(TITLES[figure]), {key: header(key) for key, _k in data.columns}, choice_label)
        name = f"{figure}_{query.start.isoformat()}_{query.end.isoformat()}"
        if fmt == "csv":
            body, mimetype = export.csv_bytes(table), "text/csv; charset=utf-8"
        else:
            body = export.xlsx_bytes(table, figure)
            mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(body, mimetype=mimetype,
                        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


def this_and_last_month(today: date) -> tuple[Query, Query]:
    """This month so far and the whole of last month, by month (the manager's home)."""
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return (Query(first, today, "month", None, None), Query(last_month_end.replace(day=1), last_month_end, "month",
                                                           None, None))
