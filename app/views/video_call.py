"""The video visit's call pages (issue 15): the doctor's ``/clinic/video/<id>`` here, the patient's
``/portal/appointments/<id>/video`` in ``app.public.video_call``. Both thin: ``telemedicine.call_seat``
decides who may enter and when; the page gets the seat and the ICE servers and
``static/js/video_call.js`` does the rest over the Socket.IO connection (``app.realtime.calls``).

A refusal is a page that says why (404 for someone else's visit or none, logged like
``video_call_tools``; 403 for too early, too late, cancelled or in person)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, redirect, request
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose
from flask_babel import format_datetime, gettext as _

from app.extensions import db
from app.fab.actor import acting_user
from app.fab.hooks import clinic_settings
from app.models.types import utcnow
from app.services import access, telemedicine
from app.services.telemedicine import CallRefused, CallSeat, JoinWindow
from app.views.video_call_tools import ACCESS_REFUSALS


@dataclass(frozen=True)
class CallPage:
    """What the call template needs: the seat, the browser's ICE servers, whether the doctor ended
    the call already."""

    seat: CallSeat
    ice_servers: list[dict[str, Any]]
    ended: bool


@dataclass(frozen=True)
class CallPageRefused:
    """A refused call page: the reason code, the message, when it opens (too early) and the status."""

    reason: str
    message: str
    opens_at: str | None
    status: int


def open_call(user: Any, appointment_id: int, now: datetime | None = None) -> CallPage | CallPageRefused:
    """``user``'s call page of ``appointment_id`` (committing the call room made on first need), or
    the refusal; someone else's appointment (or none) is logged as a denied read."""
    now = now or utcnow()
    try:
        seat = telemedicine.call_seat(db.session, user, appointment_id, now, JoinWindow.from_config(current_app.config))
        ice = telemedicine.ice_servers(current_app.config, user.id, now)
        ended = telemedicine.call_ended(db.session, seat.appointment_id)
        db.session.commit()
    except CallRefused as refused:
        db.session.rollback()
        if refused.reason in ACCESS_REFUSALS:
            access.record_denial(db.session, user, "Appointment", appointment_id,
                                 {"video_call": refused.reason, "path": request.path})
        opens = (format_datetime(refused.opens_at.astimezone(clinic_settings().timezone).replace(tzinfo=None),
                                 "short") if refused.opens_at else None)
        return CallPageRefused(refused.reason, refused.message, opens,
                               404 if refused.reason in ACCESS_REFUSALS else 403)
    return CallPage(seat, ice, ended)


class DoctorCallView(BaseView):
    """No role permission: the seat in the call decides (only the visit's own doctor gets here;
    its patient is sent to the portal's page)."""

    route_base = "/clinic/video"
    default_view = "call"

    @expose("/<int:appointment_id>")
    def call(self, appointment_id: int) -> ResponseReturnValue:
        user = acting_user()
        if user is None:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path.rstrip("?")))
        found = open_call(user, appointment_id)
        if isinstance(found, CallPageRefused):
            return self.render_template("video/call_clinic_refused.html", refused=found,
                                        title=_("Video visit")), found.status
        if found.seat.role != "doctor":
            return redirect(telemedicine.patient_join_path(appointment_id))
        return self.render_template("video/call_clinic.html", seat=found.seat, ice_servers=found.ice_servers,
                                    ended=found.ended)
