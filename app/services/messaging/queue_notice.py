"""The "you're next" message (kind ``queue_next``, ``app.services.waiting_room.tell_next``): the
patient's queue number, the doctor, and the link to their ticket. Nothing clinical. Skipped when
the patient has been called in (or left the queue) before the message went out."""
from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Appointment, OutboundMessage
from app.services.messaging.notice_renderers import Notice, _clinic, _greeting, compose, doctor_name
from app.services.messaging.render import Rendered, Skip, renderer

KIND = "queue_next"


@renderer(KIND)
def render_queue_next(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    """params: appointment_id, number, ticket_url."""
    params = message.params or {}
    appointment = session.get(Appointment, int(params["appointment_id"]))
    if appointment is None:
        return Skip("gone")
    if appointment.status == "cancelled":
        return Skip("cancelled")
    if appointment.status != "checked_in":  # called in, seen or marked absent: the news is stale
        return Skip("not_due")
    clinic = _clinic(config)
    args = {"number": str(params.get("number") or appointment.queue_number or ""),
            "doctor": doctor_name(appointment), "clinic": clinic["name"]}
    url = str(params.get("ticket_url") or "")
    if url and message.language:
        url += f"?lang={message.language}"  # the ticket page opens in the patient's language
    subject = _("You are next: number %(number)s", **args)
    lead = _("Your number %(number)s is next for %(doctor)s. Please stay near the consultation room: you will be "
             "called in soon.", **args)
    sms = _("%(clinic)s: number %(number)s, you are next for %(doctor)s. Please stay near the consultation room.",
            **args)
    if url:
        sms += " " + url
    notice = Notice(subject=subject, greeting=_greeting(message), lead=lead,
                    details=[(_("Queue number"), args["number"]), (_("Doctor"), args["doctor"])],
                    action=(url, _("My ticket")) if url else None)
    return compose(notice, message, config, sms, {"patient_name": message.recipient_name or "",
                                                  "number": args["number"], "doctor": args["doctor"],
                                                  "clinic": clinic["name"]})
