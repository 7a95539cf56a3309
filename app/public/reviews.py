"""The patient rates a completed visit (``/clinic/me/appointments/<id>/review``): 1 to 5 stars on
professional quality, attitude, waiting time and overall, and an optional comment. Thin: the
rules are ``app.services.reviews``; a refusal is shown on the page with its reason (4xx)."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.models import Patient
from app.public.common import bp, patient_required, settings
from app.public.forms import ReviewForm
from app.services import access, reviews
from app.services.errors import DomainError, FieldErrors, NotFound


def review_settings() -> reviews.ReviewSettings:
    return reviews.ReviewSettings.from_config(current_app.config)


@bp.route("/me/appointments/<int:appointment_id>/review", methods=["GET", "POST"])
@patient_required
def review_visit(patient: Patient, appointment_id: int) -> ResponseReturnValue:
    policy, now = review_settings(), settings().now()
    try:
        appointment = reviews.reviewable_visit(db.session, patient.id, appointment_id)
    except NotFound as exc:
        access.record_denial(db.session, current_user, "Appointment", appointment_id, {"portal_patient": patient.id})
        return render_template("public/review_refused.html", message=exc.message), 404
    except DomainError as exc:
        return render_template("public/review_refused.html", message=exc.message), exc.status
    existing = reviews.review_of_visit(db.session, appointment.id)
    locked = existing is not None and not reviews.may_edit(existing, now, policy)
    form = ReviewForm()
    errors: dict[str, str] = {}
    error, status = None, 200
    if form.is_submitted() and not locked:
        if not form.validate():  # the CSRF token
            error, status = _("The form has expired; please try again."), 400
        else:
            ratings = {c: getattr(form, c).data for c in reviews.CRITERIA}
            try:
                reviews.submit_review(db.session, patient_id=patient.id, appointment_id=appointment.id,
                                      ratings=ratings, comment=form.comment.data, actor_id=current_user.id,
                                      now=now, settings=policy)
            except FieldErrors as exc:
                db.session.rollback()
                errors, error, status = exc.errors, exc.message, exc.status
            except DomainError as exc:
                db.session.rollback()
                error, status = exc.message, exc.status
            else:
                if existing is None:
                    flash(_("Thank you! Your review will appear once the clinic has checked it."), "success")
                else:  # a change goes back to the clinic for checking
                    flash(_("Your changes are saved; they appear once the clinic has checked them."), "success")
                return redirect(url_for("public.my_appointments"))
    elif existing is not None and not form.is_submitted():
        for criterion in reviews.CRITERIA:
            getattr(form, criterion).data = str(getattr(existing, f"rating_{criterion}") or "")
        form.comment.data = existing.comment or ""
    return render_template("public/review.html", appointment=appointment, form=form, errors=errors, error=error,
                           existing=existing, locked=locked, criteria=reviews.CRITERIA,
                           labels=reviews.CRITERION_LABELS, comment_max=policy.comment_max,
                           status_labels=reviews.STATUS_LABELS,
                           editable_until=reviews.editable_until(existing, policy) if existing else None), status
