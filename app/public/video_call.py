"""The patient's page of a video visit, ``/portal/appointments/<id>/video`` (the path of
``telemedicine.patient_join_path``, linked from reminders and "My appointments"): the waiting room
and the call. Thin, like the doctor's page (``app.views.video_call``), with the portal's layout and
login (``patient_required``)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.models import Patient
from app.public.common import helpers, patient_required
from app.services import telemedicine
from app.views.video_call import CallPageRefused, open_call

bp = Blueprint("portal_video", __name__, url_prefix="/portal")
bp.context_processor(helpers)  # the public layout's helpers (language, links)


@bp.get("/appointments/<int:appointment_id>/video")
@patient_required
def patient_call(patient: Patient, appointment_id: int) -> ResponseReturnValue:
    found = open_call(current_user, appointment_id)
    if isinstance(found, CallPageRefused):
        return render_template("video/call_portal_refused.html", refused=found), found.status
    if found.seat.role != "patient":
        return redirect(telemedicine.doctor_join_path(appointment_id))
    return render_template("video/call_portal.html", seat=found.seat, ice_servers=found.ice_servers,
                           ended=found.ended)
