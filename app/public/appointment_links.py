"""The pages a reminder's links open, without logging in (app.services.appointment_links):
``/clinic/visit/<token>`` (the SMS's page with the three choices), and ``confirm``, ``cancel`` and
``reschedule``. GET only shows the appointment (time, doctor, service: nothing clinical) and a
button; only the POST (with the CSRF token) changes anything. A link that cannot be used answers
with a page that says why (400 not valid, 404 gone, 410 cancelled / moved / expired).

Language: the link carries ``lang`` (the patient's); it applies while the visitor has not chosen
a language on the site (the language switch still works on these pages)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l, refresh
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Optional

from app.extensions import db
from app.form_fields import at_most, first_errors, strip
from app.models.types import utcnow
from app.public.common import bp, settings
from app.public.forms import MoveForm, parse_slot
from app.services import appointment_links as links, slot_display
from app.services.errors import DomainError
from app.services.settings import public_base_url


class LinkActionForm(FlaskForm):
    """The button of a link's page (CSRF only)."""


class LinkCancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason for cancelling (optional)"), filters=[strip],
                           validators=[Optional(), at_most(500)])


def _language_from_link() -> None:
    asked = request.args.get("lang")
    if asked in current_app.config["LANGUAGES"] and session.get("locale") not in current_app.config["LANGUAGES"]:
        session["locale"] = asked
        refresh()


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _check(token: str, purpose: str) -> links.LinkTarget:
    return links.check_link(db.session, token, purpose, secret=_secret(), now=utcnow(), zone=settings().timezone)


def _refused(exc: links.AppointmentLinkRefused) -> ResponseReturnValue:
    db.session.rollback()
    return render_template("public/visit_refused.html", message=exc.message, reason=exc.reason,
                           phone=current_app.config.get("CLINIC_PHONE") or ""), exc.status


def _page(template: str, target: links.LinkTarget, status: int = 200, **context: object) -> ResponseReturnValue:
    appointment = target.appointment
    return render_template(template, appointment=appointment,
                           when=links.visit_time(appointment.start_at, settings().timezone),
                           phone=current_app.config.get("CLINIC_PHONE") or "",
                           clinic_address=current_app.config.get("CLINIC_ADDRESS") or "", **context), status


def _too_late(target: links.LinkTarget, status: int = 200) -> ResponseReturnValue:
    return _page("public/visit_too_late.html", target, status,
                 hours=int(settings().booking.patient_cutoff.total_seconds() // 3600))


@bp.get("/visit/<token>")
def visit_choose(token: str) -> ResponseReturnValue:
    _language_from_link()
    try:
        target = _check(token, "choose")
    except links.AppointmentLinkRefused as exc:
        return _refused(exc)
    language = request.args.get("lang") if request.args.get("lang") in current_app.config["LANGUAGES"] else None
    urls = {name: url.removeprefix(public_base_url(current_app.config))
            for name, url in links.action_urls(current_app.config, target, language=language).items()}
    return _page("public/visit_choose.html", target, urls=urls)


@bp.route("/visit/confirm/<token>", methods=["GET", "POST"])
def visit_confirm(token: str) -> ResponseReturnValue:
    _language_from_link()
    form = LinkActionForm()
    try:
        target = _check(token, "confirm")
        if request.method == "GET" or not form.validate_on_submit():
            if target.appointment.status == "confirmed":
                return _page("public/visit_done.html", target, done="already_confirmed")
            return _page("public/visit_confirm.html", target, form=form,
                         error=" ".join(first_errors(form).values()) if form.is_submitted() else None)
        appointment, newly = links.confirm_by_link(db.session, token, secret=_secret(), settings=settings(),
                                                   now=utcnow())
    except links.AppointmentLinkRefused as exc:
        return _refused(exc)
    except DomainError as exc:
        db.session.rollback()
        return render_template("public/visit_refused.html", message=exc.message, reason="refused",
                               phone=current_app.config.get("CLINIC_PHONE") or ""), exc.status
    return _page("public/visit_done.html", target, done="confirmed" if newly else "already_confirmed")


@bp.route("/visit/cancel/<token>", methods=["GET", "POST"])
def visit_cancel(token: str) -> ResponseReturnValue:
    _language_from_link()
    form = LinkCancelForm()
    now = utcnow()
    try:
        target = _check(token, "cancel")
        if links.too_late_to_change(target.appointment, settings(), now):
            return _too_late(target, 409 if request.method == "POST" else 200)
        if request.method == "GET" or not form.validate_on_submit():
            status = 422 if form.is_submitted() else 200
            return _page("public/visit_cancel.html", target, status, form=form, errors=first_errors(form))
        links.cancel_by_link(db.session, token, reason=form.reason.data, secret=_secret(), settings=settings(),
                             now=now)
    except links.AppointmentLinkRefused as exc:
        return _refused(exc)
    except DomainError as exc:  # the cut-off passed between the page and the button, or the status changed
        db.session.rollback()
        if links.too_late_to_change(target.appointment, settings(), now):
            return _too_late(target, exc.status)
        return render_template("public/visit_refused.html", message=exc.message, reason="refused",
                               phone=current_app.config.get("CLINIC_PHONE") or ""), exc.status
    return _page("public/visit_done.html", target, done="cancelled")


@bp.route("/visit/reschedule/<token>", methods=["GET", "POST"])
def visit_reschedule(token: str) -> ResponseReturnValue:
    _language_from_link()
    form = MoveForm()
    now = utcnow()
    error, status = None, 200
    try:
        target = _check(token, "reschedule")
        if links.too_late_to_change(target.appointment, settings(), now):
            return _too_late(target, 409 if request.method == "POST" else 200)
        if request.method == "POST":
            if not form.validate() or form.start.data is None:
                error, status = " ".join(first_errors(form).values()), 422
            else:
                old_when = links.visit_time(target.appointment.start_at, settings().timezone)
                try:
                    links.reschedule_by_link(db.session, token, form.start.data, secret=_secret(),
                                             settings=settings(), now=now)
                except links.AppointmentLinkRefused:
                    raise
                except DomainError as exc:  # the time was just taken, or is no longer bookable
                    db.session.rollback()
                    error, status = exc.message, exc.status
                else:
                    return _page("public/visit_done.html", target, done="moved", old_when=old_when)
        slots = links.reschedule_choices(db.session, target.appointment, settings=settings(), now=now)
    except links.AppointmentLinkRefused as exc:
        return _refused(exc)
    zone = settings().timezone
    tried = form.start.data if request.method == "POST" and isinstance(form.start.data, datetime) else None
    # A time tapped in the list (GET ?start=) is shown for one more tap: nothing moves on a GET.
    chosen = parse_slot(request.args.get("start")) if request.method == "GET" else None
    shown = tried or chosen
    day = shown.astimezone(zone).date() if shown is not None else slot_display.parse_day(request.args.get("day"))
    language = request.args.get("lang") if request.args.get("lang") in current_app.config["LANGUAGES"] else None
    return _page("public/visit_reschedule.html", target, status, choice=slot_display.choose_slots(slots, zone, day),
                 error=error, token=token, link_language=language, chosen=chosen,
                 chosen_when=links.visit_time(chosen, zone) if chosen else None)
