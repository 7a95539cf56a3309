"""Signing up as a patient, and the public site's language switch."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _, refresh
from flask_login import current_user, login_user

from app.extensions import db
from app.public.common import appbuilder, bp, settings
from app.public.forms import SignupForm
from app.redirects import safe_next
from app.services.errors import DomainError
from app.services.signup import SignupRefused, sign_up_patient


@bp.get("/language/<locale>")
def language(locale: str) -> ResponseReturnValue:
    """The public site's language switch: the same session setting as FAB's ``/lang/<locale>``
    (app/i18n.py), but back to the page it was clicked on rather than FAB's page history."""
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    session["locale"] = locale
    refresh()
    return redirect(safe_next(request.args.get("next"), url_for("public.index")))


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"), url_for("public.my_appointments"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = SignupForm()
    if not form.is_submitted():
        return render_template("public/signup.html", form=form, errors={}, next_url=next_url)
    form.validate()
    sm = appbuilder().sm

    def create_user(username: str, first_name: str, last_name: str, email: str, password: str) -> int | None:
        user = sm.add_user(username, first_name, last_name, email, sm.find_role("Patient"), password=password)
        return user.id if user else None

    try:
        patient = sign_up_patient(
            db.session, username=form.username.data or "", full_name=form.full_name.data or "",
            phone=form.phone.data or "", email=form.email.data or "", date_of_birth=form.date_of_birth.data,
            password=form.password.data or "", settings=settings(), known_errors=form.field_errors(),
            username_taken=lambda name: sm.find_user(username=name) is not None,
            email_taken=lambda email: sm.find_user(email=email) is not None, create_user=create_user)
    except SignupRefused as exc:
        return render_template("public/signup.html", form=form, errors=exc.errors, next_url=next_url), 422
    except DomainError as exc:
        db.session.rollback()
        return render_template("public/signup.html", form=form, errors={"form": exc.message},
                               next_url=next_url), exc.status
    login_user(sm.get_user_by_id(patient.user_id))
    flash(_("Welcome! Your account is ready."), "success")
    return redirect(next_url)
