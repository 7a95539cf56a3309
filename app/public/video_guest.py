"""A guest's way into a video visit (issue 15, a third participant): the one-time link the doctor
made (``telemedicine.invite_guest``) opens ``/video-guest/<secret>``, which says who invites whom
to what and offers one button. Pressing it (a POST with the CSRF token: opening the link changes
nothing, so a mail scanner that fetches it does not use it up) makes the guest's own login for
this call (``telemedicine.redeem_guest_link``), logs it in, and opens ``/video-guest/call/<id>``:
the call page with the guest's seat. Thin: the rules are in ``app.services.telemedicine``."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user
from flask_wtf import FlaskForm

from app.extensions import db
from app.models.types import utcnow
from app.public.common import helpers
from app.services import telemedicine
from app.services.telemedicine import CallRefused, JoinWindow
from app.views.video_call import CallPageRefused, open_call

bp = Blueprint("video_guest", __name__, url_prefix="/video-guest")
bp.context_processor(helpers)  # the public layout's helpers (language, links)

REFUSED_STATUS = {"invalid_link": 404, "revoked": 410, "used": 410, "too_late": 410}


class GuestJoinForm(FlaskForm):
    """Only the CSRF token: the secret is in the path."""


def _window() -> JoinWindow:
    return JoinWindow.from_config(current_app.config)


def _refused(refused: CallRefused) -> ResponseReturnValue:
    db.session.rollback()
    page = CallPageRefused(refused.reason, refused.message, None, REFUSED_STATUS.get(refused.reason, 403))
    return render_template("video/call_guest_refused.html", refused=page), page.status


def _signed_in_as_someone_else() -> bool:
    """A login of the clinic's own (staff or patient) in this browser: using the link here would
    replace it, so the page asks to open it in another browser instead."""
    return bool(current_user.is_authenticated and not telemedicine.is_guest_login(current_user))


@bp.get("/<token>")
def landing(token: str) -> ResponseReturnValue:
    try:
        link = telemedicine.guest_link(db.session, token, utcnow(), _window())
    except CallRefused as refused:
        return _refused(refused)
    return render_template("video/guest_landing.html", link=link, form=GuestJoinForm(),
                           signed_in=_signed_in_as_someone_else())


@bp.post("/<token>")
def redeem(token: str) -> ResponseReturnValue:
    """The invitation is read once: by ``redeem_guest_link`` when the press is good, else to show
    the page again (a refusal of the link itself comes first either way)."""
    form = GuestJoinForm()
    signed_in = _signed_in_as_someone_else()
    if signed_in or not form.validate():
        try:
            link = telemedicine.guest_link(db.session, token, utcnow(), _window())
        except CallRefused as refused:
            return _refused(refused)
        if signed_in:
            return render_template("video/guest_landing.html", link=link, form=form, signed_in=True), 409
        return render_template("video/guest_landing.html", link=link, form=form, signed_in=False,
                               error=_("The page had expired; press the button again.")), 400
    try:
        link, user = telemedicine.redeem_guest_link(db.session, token, utcnow(), _window())
        db.session.commit()
    except CallRefused as refused:
        return _refused(refused)
    login_user(user)  # the guest's own web session (app.web_sessions)
    return redirect(url_for("video_guest.call", appointment_id=link.appointment_id))


@bp.get("/call/<int:appointment_id>")
def call(appointment_id: int) -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return _refused(CallRefused("login", _("Open the invitation link the doctor sent you to join.")))
    found = open_call(current_user, appointment_id)
    if isinstance(found, CallPageRefused):
        return render_template("video/call_guest_refused.html", refused=found), found.status
    if found.seat.role == "doctor":
        return redirect(telemedicine.doctor_join_path(appointment_id))
    if found.seat.role == "patient":
        return redirect(telemedicine.patient_join_path(appointment_id))
    return render_template("video/call_guest.html", seat=found.seat, ice_servers=found.ice_servers,
                           ended=found.ended)
