"""Calendar downloads and feeds (plain Flask, not FAB views):

- ``GET /appointments/<id>.ics``: one appointment, for staff who may read appointments or for
  the patient it belongs to (browser session or ``Authorization: Bearer <JWT>``);
- ``GET /calendar/<token>.ics``: a doctor's private feed, public to whoever holds the secret URL;
- ``POST`` / ``DELETE /api/v1/doctors/<id>/calendar-token``: make a new feed URL (the old one
  stops working) or switch the feed off; for users who may edit doctors, or the doctor themself
  (with the browser's session, the CSRF token in ``X-CSRFToken``: app/csrf.py).

The work is done by ``app.services.ical``; this module only finds the user and answers.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_jwt_extended import get_current_user, verify_jwt_in_request
from flask_login import current_user
from werkzeug.exceptions import abort

from app.extensions import db
from app.services import ical
from app.services.errors import DomainError
from app.services.settings import ClinicSettings

bp = Blueprint("calendar", __name__)
ICS_MIMETYPE = "text/calendar; charset=utf-8"


# --- helpers -----------------------------------------------------------------------------------


def _settings() -> ClinicSettings:
    return ClinicSettings.from_config(current_app.config)


def _clinic_name() -> str:
    return current_app.config.get("APP_NAME") or "Clinic"


def _uid_domain() -> str | None:
    """A configured host name keeps event UIDs stable; otherwise the clinic's name is used
    (never the request's host, which changes with the way the site is reached)."""
    server_name = current_app.config.get("SERVER_NAME")
    return server_name.split(":", 1)[0] if server_name else None


def _bearer() -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ")


def _is_browser_page() -> bool:
    """A person's browser navigating here (rather than a script, an API client or a calendar app)."""
    accept = request.accept_mimetypes
    return (not request.path.startswith("/api/") and not _bearer() and accept.provided
            and accept.best == "text/html")


def _current_user() -> Any | None:
    """The logged-in user: the browser session's, else the Bearer JWT's (an invalid or expired
    token is answered 401 by the JWT manager)."""
    if current_user.is_authenticated:
        return current_user
    verify_jwt_in_request(optional=True)
    user = get_current_user()
    return user if user is not None and user.is_active else None


def _error(status: int, message: str) -> Response:
    if _is_browser_page():
        if status == 401:
            return redirect(current_app.appbuilder.get_url_for_login_with(request.full_path.rstrip("?")))
        abort(status, description=message)
    response = jsonify(message=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _not_logged_in() -> Response:
    return _error(401, _("Log in to see this."))


def _ics(body: bytes, filename: str | None = None) -> Response:
    response = Response(body, content_type=ICS_MIMETYPE)
    if filename:
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def feed_url(token: str) -> str:
    return url_for("calendar.doctor_feed", token=token, _external=True)


# --- routes ------------------------------------------------------------------------------------


@bp.get("/appointments/<int:appointment_id>.ics")
def appointment_ics(appointment_id: int) -> Response:
    user = _current_user()
    if user is None:
        return _not_logged_in()
    staff = current_app.appbuilder.sm.has_access("can_read", "Appointment")
    try:
        appointment = ical.appointment_for_calendar(db.session, appointment_id, user_id=user.id,
                                                    can_read_appointments=staff)
    except DomainError as exc:
        return _error(exc.status, exc.message)
    body = ical.appointment_ics(appointment, _settings(), clinic_name=_clinic_name(), uid_domain=_uid_domain())
    return _ics(body, f"appointment-{appointment.id}.ics")


@bp.get("/calendar/<token>.ics")
def doctor_feed(token: str) -> Response:
    doctor = ical.doctor_for_token(db.session, token)
    if doctor is None:
        return _error(404, _("This calendar link does not exist or was revoked."))
    body = ical.doctor_feed_ics(db.session, doctor.id, _settings(), clinic_name=_clinic_name(),
                                uid_domain=_uid_domain())
    return _ics(body)


@bp.route("/api/v1/doctors/<int:doctor_id>/calendar-token", methods=["POST", "DELETE"])
def calendar_token(doctor_id: int) -> Response:
    user = _current_user()
    if user is None:
        return _not_logged_in()
    can_write = current_app.appbuilder.sm.has_access("can_write", "Doctor")
    # A refusal (404/403) is answered by the app's error mapping (app.errors), which rolls back.
    ical.check_calendar_manager(db.session, doctor_id, user_id=user.id, can_write_doctors=can_write)
    if request.method == "DELETE":
        ical.revoke_calendar_token(db.session, doctor_id)
        return jsonify(message=_("The calendar link was revoked."))
    token = ical.rotate_calendar_token(db.session, doctor_id)
    url = feed_url(token)
    return jsonify(result={"url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]})


def register_calendar(app: Flask) -> None:
    """Serve the routes above (call from the app factory, after FAB is set up)."""
    app.register_blueprint(bp)
