"""The invoice's documents (/invoices/<id>/...): the printable page (A4), the PDF, and sending it
to the patient again by e-mail. Thin: each checks the reader through the access helper
(``invoice_document.open_for_reader``: audited), calls one service and shows its answer.

Reading the page or the PDF needs ``can_read`` on ``Invoice`` (the cashier, the receptionist, the
manager; not a doctor, a pharmacist or a patient: patients have their portal). Sending the e-mail
changes the invoice (its e-mail status), so it is a POST with the session's CSRF token and needs
``can_write``."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Response, current_app, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import force_locale, gettext as _
from markupsafe import Markup

from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.models.types import utcnow
from app.redirects import safe_next
from app.services import billing_notify, invoice_document, invoice_mail, invoice_pdf
from app.services.billing_settings import BillingSettings
from app.services.settings import ClinicSettings
from app.views.fields import format_moment, user_language


def _settings() -> tuple[ClinicSettings, BillingSettings]:
    config = current_app.config
    return ClinicSettings.from_config(config), BillingSettings.from_config(config)


def _language() -> str:
    wanted = request.args.get("lang") or user_language()
    return wanted if wanted in invoice_document.LANGUAGES else "vi"


def _back(invoice_id: int) -> str:
    default = f"/cashier/invoice/{invoice_id}"
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if not referrer or parts.netloc != request.host:
        return default
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, default)


class InvoiceDocumentsView(BaseView):
    route_base = "/invoices"
    class_permission_name = "Invoice"
    method_permission_name = {"print_page": "read", "pdf": "read", "email": "write"}

    @expose("/<int:invoice_id>/print")
    @has_access
    def print_page(self, invoice_id: int) -> ResponseReturnValue:
        invoice_document.open_for_reader(db.session, acting_user(), invoice_id, utcnow())
        clinic, settings = _settings()
        doc = invoice_document.build(db.session, invoice_id, clinic, settings, _language())
        state = invoice_mail.email_state(db.session, invoice_id)
        sm = self.appbuilder.sm
        with force_locale(doc.language):  # the labels in the invoice's language, as its figures and its PDF
            return self.render_template(
                "clinic/invoice/print.html", doc=doc, email=state, emailed_at=format_moment(state.emailed_at),
                qr_svg=Markup(invoice_document.qr_svg(doc.qr.payload)) if doc.qr is not None else None,  # noqa: S704
                may_send=bool(sm.has_access("can_write", "Invoice")), back=_back(invoice_id))

    @expose("/<int:invoice_id>/pdf")
    @has_access
    def pdf(self, invoice_id: int) -> ResponseReturnValue:
        invoice_document.open_for_reader(db.session, acting_user(), invoice_id, utcnow())
        clinic, settings = _settings()
        doc = invoice_document.build(db.session, invoice_id, clinic, settings, _language())
        body = invoice_pdf.document_pdf(doc)
        disposition = "attachment" if request.args.get("download") else "inline"
        name = doc.filename
        return Response(body, mimetype="application/pdf", headers={
            "Content-Disposition": f"{disposition}; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store"})

    @expose("/<int:invoice_id>/email", methods=["POST"])
    @has_access
    def email(self, invoice_id: int) -> ResponseReturnValue:
        invoice_document.open_for_reader(db.session, acting_user(), invoice_id, utcnow())
        kind = invoice_mail.request_resend(db.session, invoice_id, acting_user_id(), utcnow())
        billing_notify.resend(invoice_id, kind, acting_user_id())
        state = invoice_mail.email_state(db.session, invoice_id)
        if state.status == "sent":
            flash(_("The invoice was sent to the patient by e-mail."), "success")
        elif state.status == "failed" and state.error == invoice_mail.NO_ADDRESS:
            flash(_("The patient has no e-mail address: add one to their record, then send again."), "danger")
        elif state.status == "failed":
            flash(_("The e-mail could not be sent (%(error)s). It will be tried again.", error=state.error), "danger")
        else:
            flash(_("The invoice is on its way to the patient by e-mail."), "info")
        return redirect(_back(invoice_id))
