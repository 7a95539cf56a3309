"""The start page: today's figures for what the reader may see, each linking to its list. A
patient (no role but Patient) is sent to the patient portal: the back office is not theirs."""
from __future__ import annotations

from flask import current_app, g, redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_babel import lazy_gettext as _l

from app.permissions import DASHBOARD_PERMISSION, RESOURCES
from app.services import encounters
from app.services.overview import clinic_overview, month_comparison
from app.services.roles import is_staff, role_names
from app.views.base import clinic_settings

LABELS = {
    "appointments_today": _l("Appointments today"),
    "waiting_now": _l("Checked in, waiting"),
    "requests_to_confirm": _l("Booking requests to confirm"),
    "unpaid_invoices": _l("Unpaid invoices"),
    "invoices_to_issue": _l("Invoices to issue"),
    "new_patients_this_month": _l("New patients this month"),
    "batches_expiring": _l("Stock batches expiring within 30 days"),
    "medicines_below_reorder": _l("Medicines below reorder level"),
    "drafts_to_sign": _l("My records to sign"),
}
LINKS = {
    "Appointment": "/appointmentview/list/", "Invoice": "/invoiceview/list/", "Patient": "/patientview/list/",
    "StockBatch": "/stockbatchview/list/", "Medicine": "/medicineview/list/", "Encounter": "/my-day/",
}
# Figures that open a filtered pharmacy page, for those who read the stock (the others get LINKS).
STOCK_LINKS = {"batches_expiring": "/pharmacy/dashboard", "medicines_below_reorder": "/pharmacy/stock?below=1"}
# Those who work the cashier's counter (write invoices) open invoices there.
COUNTER_LINKS = {"Invoice": "/cashier/"}
# The "waiting" tile opens the front desk's queue for those who read appointments (not a doctor:
# their tiles open My day).
WAITING_LINK = "/front-desk/"
# A cashier's start page: money and who is coming to pay, not the stock or the new patients.
CASHIER_FIGURES = ("unpaid_invoices", "invoices_to_issue", "appointments_today", "waiting_now")
# A manager's home: this month against last month (app.services.overview.month_comparison).
MONTH_LABELS = {"visits": _l("Visits"), "new_patients": _l("New patients"), "money_taken": _l("Money taken"),
                "no_show_rate": _l("No-show rate"), "average_wait": _l("Average wait (min)")}


def month_tiles(session) -> list[dict]:
    from app.views.dashboards import cell_text

    settings = clinic_settings()
    return [{"key": f.key, "label": MONTH_LABELS[f.key], "this": cell_text(f.this_month, f.kind),
             "last": cell_text(f.last_month, f.kind),
             "trend": "" if f.this_month is None or f.last_month is None else
             ("up" if f.this_month > f.last_month else "down" if f.this_month < f.last_month else "same")}
            for f in month_comparison(session, settings.today(), settings)]


class HomeView(IndexView):
    index_template = "clinic/index.html"

    @expose("/")
    def index(self):
        user = g.user
        figures, staff, links, stock_links, months = [], False, LINKS, {}, []
        if user is not None and user.is_authenticated:
            if not is_staff(role_names(user)):
                return redirect(url_for("public.my_appointments"))
            sm = self.appbuilder.sm
            readable = {r.name for r in RESOURCES if sm.has_access("can_read", r.name)}
            staff = bool(readable)
            stock_links = STOCK_LINKS if "StockBatch" in readable else {}
            if staff:
                # a doctor's tiles count their own work (their patients, their drafts)
                doctor = encounters.doctor_of(self.appbuilder.session, user)
                figures = clinic_overview(self.appbuilder.session, clinic_settings(), readable,
                                          doctor.id if doctor is not None else None)
                links = {**LINKS, "Appointment": "/my-day/"} if doctor is not None else LINKS
                if doctor is None:
                    stock_links = {**stock_links, "waiting_now": WAITING_LINK}
                if sm.has_access("can_write", "Invoice"):
                    links = {**links, **COUNTER_LINKS}
                if sm.has_access("can_read", DASHBOARD_PERMISSION):
                    months = month_tiles(self.appbuilder.session)
                if "Cashier" in role_names(user) and doctor is None:
                    figures = sorted((f for f in figures if f.key in CASHIER_FIGURES),
                                     key=lambda f: CASHIER_FIGURES.index(f.key))
        return self.render_template(self.index_template, appbuilder=self.appbuilder, figures=figures,
                                    labels=LABELS, links=links, stock_links=stock_links, staff=staff, months=months,
                                    clinic=current_app.config.get("APP_NAME"))
