"""The back office of money under /billing: the cashier's day, the invoice search with its CSV
export, a patient's payment history (permission ``Invoice``, read), and the end-of-day close
(permission ``CashClose``: the page reads, the close writes). Thin: each page reads its form,
calls one service of ``app.services.cashier_day`` and shows its answer."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import TextInput

from app.billing_labels import invoice_status_label
from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.fab.hooks import clinic_settings
from app.i18n import choice_label
from app.models.billing import INVOICE_STATUSES
from app.models.types import utcnow
from app.services import cashier_day
from app.services.errors import DomainError, FieldErrors, NotFound
from app.views.fields import (
    LocaleDateField,
    LocaleDecimalField,
    format_date_input,
    format_day,
    format_moment,
    format_money,
    money_places,
    user_language,
)

OPEN_SHOWN = 100  # open invoices listed on the day's page (all are counted and summed)
CSV_COLUMNS = (_l("Number"), _l("Issued"), _l("Patient code"), _l("Patient name"), _l("Status"), _l("Subtotal"),
               _l("Discount"), _l("VAT"), _l("Total"), _l("Paid"), _l("Refunded"), _l("Balance"))


def today() -> date:
    return cashier_day.local_day(utcnow(), clinic_settings().timezone)


def _helpers() -> dict[str, Any]:
    return {"fmt_money": format_money, "fmt_day": format_day, "fmt_time": format_moment, "label": choice_label,
            "status_label": invoice_status_label}


class DayForm(FlaskForm):
    """The day to show: a GET form (it changes nothing: no CSRF token, can be bookmarked)."""

    class Meta:
        csrf = False

    date = LocaleDateField(_l("Day"), [Optional()], widget=TextInput())


class InvoiceSearchForm(FlaskForm):
    class Meta:
        csrf = False

    number = StringField(_l("Invoice number"), [Optional(), Length(max=30)])
    patient = StringField(_l("Patient"), [Optional(), Length(max=100)],
                          description=_l("Name (accents optional), code or phone"))
    date_from = LocaleDateField(_l("Date from"), [Optional()], widget=TextInput())
    date_to = LocaleDateField(_l("Date to"), [Optional()], widget=TextInput())
    status = SelectField(_l("Status"), [Optional()],
                         choices=[("", "—")] + [(s, s) for s in INVOICE_STATUSES])

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class CloseForm(FlaskForm):
    counted_cash: LocaleDecimalField  # added by ``close_form`` with the currency's decimals
    note = StringField(_l("Note"), [Optional(), Length(max=cashier_day.NOTE_MAX)],
                       render_kw={"class": "form-control", "maxlength": cashier_day.NOTE_MAX})
    # the close this one replaces (``cashier_day.close_version``): empty for the day's first close
    replaces = HiddenField()
    # the large difference the cashier confirmed (the confirmation step fills it in)
    confirmed_difference = HiddenField()


def close_form(**kwargs: Any) -> CloseForm:
    """The close form; the counted cash takes the currency's decimals (VND: none, so "1.500.000"
    in Vietnamese is a million and a half and "1.000,5" is refused)."""
    places = money_places(clinic_settings().currency, 2)

    class Form(CloseForm):
        counted_cash = LocaleDecimalField(_l("Cash counted in the drawer"), [InputRequired()], places=places,
                                          widget=TextInput(),
                                          render_kw={"class": "form-control"})

    return Form(**kwargs)


def _search_form() -> tuple[InvoiceSearchForm, bool]:
    form = InvoiceSearchForm(request.args)
    form.status.choices = [("", "—")] + [(s, invoice_status_label(s)) for s in INVOICE_STATUSES]
    searched = bool({k for k in request.args if k != "page"})
    valid = form.validate() if searched else True
    return form, valid


def _search(form: InvoiceSearchForm, limit: int, offset: int) -> cashier_day.InvoiceResults:
    settings = clinic_settings()
    return cashier_day.search_invoices(
        db.session, form.number.data or None, form.patient.data or None, form.date_from.data, form.date_to.data,
        form.status.data or None, limit=limit, offset=offset, tz=settings.timezone, region=settings.phone_region,
        reader=acting_user(), now=utcnow())


class BillingOfficeView(BaseView):
    route_base = "/billing"
    default_view = "day"
    class_permission_name = "Invoice"
    method_permission_name = {"day": "read", "invoices": "read", "export": "read", "history": "read"}
    base_permissions = ["can_read"]

    @expose("/day")
    @has_access
    def day(self) -> ResponseReturnValue:
        form = DayForm(request.args)
        valid = form.validate() if request.args.get("date") else True
        day = form.date.data if valid and form.date.data else today()
        settings = clinic_settings()
        takings = cashier_day.day_takings(db.session, day, settings.timezone, reader=acting_user(), now=utcnow())
        lang = user_language()
        links = {"previous": format_date_input(date.fromordinal(day.toordinal() - 1), lang),
                 "next": format_date_input(date.fromordinal(day.toordinal() + 1), lang)}
        return self.render_template("clinic/billing/office_day.html", form=form, takings=takings, day=day,
                                    links=links, is_today=day == today(), open_shown=OPEN_SHOWN,
                                    **_helpers()), (200 if valid else 422)

    @expose("/invoices")
    @has_access
    def invoices(self) -> ResponseReturnValue:
        form, valid = _search_form()
        try:
            page = max(1, min(int(request.args.get("page", 1)), 100_000))
        except ValueError:
            page = 1
        size = cashier_day.SEARCH_PAGE_SIZE
        results = _search(form, size, (page - 1) * size) if valid else cashier_day.InvoiceResults([], 0, size, 0)
        args = {key: value for key, value in request.args.items() if key != "page"}
        return self.render_template("clinic/billing/office_invoices.html", form=form, results=results, args=args,
                                    invalid=not valid, **_helpers()), (200 if valid else 422)

    @expose("/invoices.csv")
    @has_access
    def export(self) -> ResponseReturnValue:
        form, valid = _search_form()
        if not valid:
            raise FieldErrors({name: str(errors[0]) for name, errors in form.errors.items()})
        results = _search(form, cashier_day.EXPORT_LIMIT, 0)
        text = cashier_day.invoices_csv(results.rows, clinic_settings().timezone,
                                        headers=[str(h) for h in CSV_COLUMNS], status_label=invoice_status_label)
        name = f"invoices-{today():%Y%m%d}.csv"
        return Response(text.encode("utf-8"), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store"})

    @expose("/patient/<int:patient_id>/history")
    @has_access
    def history(self, patient_id: int) -> ResponseReturnValue:
        patient = cashier_day.patient_of(db.session, patient_id)
        if patient is None:
            raise NotFound(_("There is no such patient."))
        entries = cashier_day.patient_payment_history(db.session, patient_id, reader=acting_user(), now=utcnow())
        return self.render_template("clinic/billing/office_history.html", patient=patient, entries=entries,
                                    **_helpers())


class CashCloseOfficeView(BaseView):
    """The end-of-day close: the page shows the signed-in cashier's expected cash for today (read),
    the form closes the day (write)."""

    route_base = "/billing"
    default_view = "close"
    class_permission_name = "CashClose"
    method_permission_name = {"close": "read", "close_post": "write"}
    base_permissions = ["can_read", "can_write"]

    def _page(self, form: CloseForm, status: int = 200, problem: str | None = None,
              confirm: cashier_day.LargeDifference | None = None) -> ResponseReturnValue:
        settings = clinic_settings()
        day = today()
        user_id = acting_user_id()
        assert user_id is not None  # has_access: someone is signed in
        expected = cashier_day.expected_cash(db.session, user_id, day, settings.timezone)
        close = cashier_day.find_close(db.session, user_id, day)
        after = cashier_day.cash_after_close(db.session, close, settings.timezone) if close is not None else None
        # a new close names the close the cashier sees now; a confirmation names the difference shown
        form.replaces.data = cashier_day.close_version(close) if close is not None else ""
        form.confirmed_difference.data = cashier_day.plain_amount(confirm.difference) if confirm is not None else ""
        if confirm is not None and confirm.note_error:
            form.note.errors = [confirm.note_error]
        may_close = bool(self.appbuilder.sm.has_access("can_write", "CashClose"))
        return self.render_template("clinic/billing/office_close.html", form=form, close=close, day=day,
                                    expected=expected, after=after, may_close=may_close, problem=problem,
                                    confirm=confirm, cashier=cashier_day.cashier_name(db.session, user_id),
                                    **_helpers()), status

    @expose("/close", methods=["GET"])
    @has_access
    def close(self) -> ResponseReturnValue:
        return self._page(close_form())

    @expose("/close", methods=["POST"])
    @has_access
    def close_post(self) -> ResponseReturnValue:
        form = close_form()
        if not form.validate_on_submit():
            return self._page(form, status=422)
        settings = clinic_settings()
        user_id = acting_user_id()
        assert user_id is not None
        now: datetime = utcnow()
        replaces = form.replaces.data or None
        try:
            cashier_day.close_day(db.session, user_id, today(), form.counted_cash.data, form.note.data, now,
                                  settings.timezone, currency=settings.currency, replaces=replaces,
                                  confirmed_difference=form.confirmed_difference.data or None)
        except cashier_day.LargeDifference as exc:
            db.session.rollback()
            return self._page(form, status=exc.status, confirm=exc)
        except FieldErrors as exc:
            db.session.rollback()
            unplaced = {}
            for name, message in exc.errors.items():
                target = getattr(form, name, None)
                if target is not None and hasattr(target, "errors") and name not in ("replaces",
                                                                                     "confirmed_difference"):
                    target.errors = [message]
                else:
                    unplaced[name] = message
            return self._page(form, status=422, problem=" ".join(unplaced.values()) or None)
        except DomainError as exc:
            db.session.rollback()
            return self._page(form, status=exc.status, problem=exc.message)
        flash(_("Day closed again: the new count replaces the previous one.") if replaces else _("Day closed."),
              "success")
        return redirect(url_for("CashCloseOfficeView.close"))
