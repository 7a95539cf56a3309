"""Reports for printing or e-mailing (issue 14, item 2), ``/reports/``: pick the report (month,
quarter, cashier takings, medicine usage) and its period, get the PDF
(``app.services.reports``). A GET form: it changes nothing. Months as 11/2026 and days as
02/12/2026 in Vietnamese (2026-11, 2026-12-02 otherwise); a month or quarter that has not begun,
an unreadable or reversed range: the page again (422) naming every broken field.

Permission ``Dashboard`` (can_read), the dashboards': managers and admins."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Response, request
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import SelectField, StringField
from wtforms.widgets import TextInput

from app.extensions import db
from app.permissions import DASHBOARD_PERMISSION
from app.services import reports
from app.services.errors import FieldErrors
from app.views.base import clinic_settings
from app.views.fields import LocaleDateField, format_date_input, user_language

REPORT_LABELS = {"monthly": _l("Monthly report"), "quarterly": _l("Quarterly report"),
                 "takings": _l("Cashier takings"), "medicines": _l("Medicine usage")}
LANGUAGE_LABELS = {"vi": "Tiếng Việt", "en": "English"}  # each in its own language


class ReportForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    report = SelectField(_l("Report"), choices=list(REPORT_LABELS.items()), default="monthly")
    month = StringField(_l("Month"))
    quarter = StringField(_l("Quarter"))
    start = LocaleDateField(_l("From"), day_first=True, widget=TextInput())
    end = LocaleDateField(_l("Until"), day_first=True, widget=TextInput())
    language = SelectField(_l("Language"), choices=list(LANGUAGE_LABELS.items()))


def month_text(first: date, language: str) -> str:
    return first.strftime("%m/%Y") if language == "vi" else first.strftime("%Y-%m")


def quarter_text(first: date, language: str) -> str:
    number = (first.month - 1) // 3 + 1
    return f"Q{number}/{first.year}" if language == "vi" else f"{first.year}-Q{number}"


def report_form() -> ReportForm:
    """The form from the query string; with nothing given, last month, last quarter and yesterday."""
    args = MultiDict(request.args)
    language = user_language()
    today = clinic_settings().today()
    last_month = reports.previous_start(today.replace(day=1), "month")
    this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    defaults = {"month": month_text(last_month, language),
                "quarter": quarter_text(reports.previous_start(this_quarter, "quarter"), language),
                "start": format_date_input(today - timedelta(days=1), language),
                "end": format_date_input(today - timedelta(days=1), language),
                "language": "vi" if language == "vi" else "en"}
    for name, value in defaults.items():
        if name not in args:
            args[name] = value
    return ReportForm(args)


def read_period(form: ReportForm, today: date) -> tuple[str, date, date] | None:
    """The chosen report and its first and last days, or None with the broken fields' messages."""
    ok = form.validate()  # the report's choice; the periods are read below, every broken one named
    if form.report.errors:
        return None
    kind = form.report.data
    try:
        if kind == "monthly":
            first = reports.parse_month(form.month.data or "")
            reports.check_range(first, reports.period_end(first, "month"), today, field="month")
            return (kind, first, reports.period_end(first, "month")) if ok else None
        if kind == "quarterly":
            first = reports.parse_quarter(form.quarter.data or "")
            reports.check_range(first, reports.period_end(first, "quarter"), today, field="quarter")
            return (kind, first, reports.period_end(first, "quarter")) if ok else None
        start, end = form.start.data, form.end.data
        if start is None or end is None:
            errors = {}
            empty = {"start": _("Enter the first day."), "end": _("Enter the last day.")}
            for name, field in (("start", form.start), ("end", form.end)):
                if field.data is None and not field.errors:
                    typed = (field.raw_data or [""])[0].strip()
                    errors[name] = _("Type the day as %(example)s.", example=format_date_input(
                        today, user_language())) if typed else empty[name]
            if errors:
                raise FieldErrors(errors)
            return None
        reports.check_days(start, end, today)
        return (kind, start, end) if ok else None
    except FieldErrors as error:
        for name, message in error.errors.items():
            field = getattr(form, name)
            field.errors = [*list(field.errors), message]
        return None


class ReportView(BaseView):
    route_base = "/reports"
    default_view = "index"
    class_permission_name = DASHBOARD_PERMISSION
    method_permission_name = {"index": "read"}

    @expose("/")
    @has_access
    def index(self) -> ResponseReturnValue:
        form = report_form()
        language = user_language()
        hints = {"month": month_text(date(2026, 11, 1), language), "quarter": quarter_text(date(2026, 10, 1), language)}
        if "report" not in request.args:
            return self.render_template("clinic/reports.html", form=form, hints=hints)
        clinic = clinic_settings()
        period = read_period(form, clinic.today())
        if period is None:
            return self.render_template("clinic/reports.html", form=form, hints=hints), 422
        kind, start, end = period
        pdf = reports.report_pdf(db.session, kind, start, end, zone=clinic.timezone, language=form.language.data,
                                 clinic_name=clinic.name, currency=clinic.currency)
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{reports.file_name(kind, start, end)}"'})
