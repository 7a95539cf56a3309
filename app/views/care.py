"""Care-team access in the back office: the "break the glass" form a person outside a patient's
care fills in to read that patient's record (for ``BREAK_GLASS_MINUTES``), the managers' list of
those accesses, and the 403 answer that leads to the form. The rules are in
``app.services.access``."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import InputRequired

from app.extensions import db
from app.fab.actor import acting_user
from app.form_fields import at_most, strip
from app.models.types import utcnow
from app.permissions import CLINICAL
from app.redirects import safe_next
from app.services import access
from app.services.errors import DomainError
from app.views.base import clinic_settings
from app.views.fields import format_moment


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), filters=[strip],
                           validators=[InputRequired(_l("State why you need this record.")),
                                       at_most(access.REASON_MAX)])
    next = HiddenField()


def may_break_glass() -> bool:
    """Whoever reads clinical records at all (a role with read on a clinical resource)."""
    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    user = acting_user()  # the session's user, or the token's on the API
    return user is not None and any(sm._has_view_access(user, "can_read", name) for name in CLINICAL)


def hidden_records_link(patient_id: int) -> str | None:
    """On a patient's page: the way to break the glass when the reader's role reads clinical
    records but this patient is outside their care (the page's visit, prescription and lab tabs
    then list nothing, and must say why instead of looking empty); None otherwise."""
    if not may_break_glass():
        return None
    if access.in_care(db.session, acting_user(), int(patient_id), utcnow()):
        return None
    return break_glass_url(int(patient_id), url_for("PatientView.show", pk=patient_id))


def break_glass_url(patient_id: int | None, next_url: str | None = None) -> str | None:
    if patient_id is None:
        return None
    url = url_for("BreakGlassView.form", patient_id=patient_id)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


class BreakGlassView(BaseView):
    """/care/break-glass/<patient id>: state a reason, get the patient's record for a while.
    Open to every role that reads clinical records (checked here: FAB's permissions name one
    resource per view, this form serves all the clinical ones)."""

    route_base = "/care"
    default_view = "form"

    @expose("/break-glass/<int:patient_id>", methods=["GET", "POST"])
    def form(self, patient_id: int) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        if not may_break_glass():
            return render_template("clinic/message.html", title=_("Forbidden"),
                                   message=_("Your role does not read clinical records."),
                                   appbuilder=self.appbuilder, base_template=self.appbuilder.base_template), 403
        patient = access.patient_for_glass(db.session, patient_id)
        form = BreakGlassForm()
        if request.method == "GET":
            form.next.data = request.args.get("next", "")
        status = 200
        if form.validate_on_submit():
            minutes = int(current_app.config.get("BREAK_GLASS_MINUTES", 60))
            try:
                grant = access.break_glass(db.session, acting_user(), patient_id, form.reason.data, utcnow(), minutes)
            except DomainError as exc:
                db.session.rollback()
                form.reason.errors = [*form.reason.errors, exc.message]
                status = 422
            else:
                local = grant.expires_at.astimezone(clinic_settings().timezone)
                flash(_("You may read this patient's record until %(time)s. Managers see this access.",
                        time=local.strftime("%H:%M")), "warning")
                return redirect(safe_next(form.next.data, url_for("PatientView.show", pk=patient_id)))
        elif form.is_submitted():
            status = 422
        return self.render_template("clinic/break_glass.html", form=form, patient=patient,
                                    minutes=current_app.config.get("BREAK_GLASS_MINUTES", 60)), status


class BreakGlassLogView(BaseView):
    """/care/break-glass-log: every break-the-glass access, newest first (managers, admins: whoever
    reads the audit trail)."""

    route_base = "/care"
    default_view = "log"
    class_permission_name = "AuditEvent"
    method_permission_name = {"log": "read"}

    @expose("/break-glass-log")
    @has_access
    def log(self) -> ResponseReturnValue:
        rows = access.break_glass_log(db.session, utcnow())
        return self.render_template("clinic/break_glass_log.html", rows=rows, local=format_moment)


def denied(exc: access.CareAccessDenied) -> Any:
    """403: a JSON message (with ``break_glass``, the form's address, for those who may), or a page
    that says whose care the record is outside and leads to the form."""
    db.session.rollback()
    link = break_glass_url(exc.patient_id, request.full_path.rstrip("?")) if may_break_glass() else None
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        body: dict[str, Any] = {"message": exc.message}
        if link:
            body["break_glass"] = link
        return jsonify(body), 403
    appbuilder = current_app.appbuilder  # type: ignore[attr-defined]
    return render_template("clinic/care_denied.html", message=exc.message, link=link, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), 403


def register(app: Flask) -> None:
    app.register_error_handler(access.CareAccessDenied, denied)
