"""Booking over REST: availability, one booking endpoint, and the appointment workflow.
Thin: parse, call ``app.services.booking``, answer JSON (domain errors as 404/409/422)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable

from flask import current_app, request
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_babel import gettext as _

from app.extensions import db
from app.models import Appointment
from app.services import booking
from app.services.errors import DomainError, ValidationFailed
from app.services.settings import ClinicSettings
from app.views.base import acting_user_id


def settings() -> ClinicSettings:
    return ClinicSettings.from_config(current_app.config)


def _required(source: dict, field: str) -> Any:
    value = source.get(field)
    if value in (None, ""):
        raise ValidationFailed(_("This field is required."), field)
    return value


def parse_int(source: dict, field: str, required: bool = True) -> int | None:
    value = _required(source, field) if required else source.get(field)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Give a whole number."), field) from None
    if not 0 < number < 2**31:
        raise ValidationFailed(_("There is no record with id %(id)s.", id=value), field)
    return number


def parse_date(source: dict, field: str) -> date:
    try:
        return date.fromisoformat(str(_required(source, field)))
    except ValueError:
        raise ValidationFailed(_("Give a date like 2026-12-01."), field) from None


def parse_instant(source: dict, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(str(_required(source, field)))
    except ValueError:
        raise ValidationFailed(_("Give a date and time like 2026-12-01T09:00:00+07:00."), field) from None
    if value.tzinfo is None:
        raise ValidationFailed(_("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00."), field)
    return value


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed(_("Send a JSON object."))
    return data


def appointment_json(appointment: Appointment | booking.Booking, clinic: ClinicSettings) -> dict:
    return {
        "id": appointment.id, "status": appointment.status, "channel": appointment.channel,
        "patient_id": appointment.patient_id, "doctor_id": appointment.doctor_id,
        "service_id": appointment.service_id,
        "start": appointment.start_at.astimezone(clinic.timezone).isoformat(),
        "end": appointment.end_at.astimezone(clinic.timezone).isoformat(),
        "queue_number": appointment.queue_number, "reason": appointment.reason,
    }


class BookingApi(BaseApi):
    """Availability and booking; one permission with the appointment screens and resource."""

    route_base = "/api/v1"
    resource_name = "booking"
    openapi_spec_tag = "Booking"
    class_permission_name = "Appointment"
    method_permission_name = {
        "availability": "read", "first_available": "read",
        "book": "write", "set_status": "write", "reschedule": "write", "cancel": "write",
    }
    allow_browser_login = True

    def _answer(self, call: Callable[[], tuple[int, dict]]):
        try:
            status, payload = call()
            return self.response(status, **payload)
        except DomainError as exc:
            db.session.rollback()
            return self.response(exc.status, **exc.as_dict())

    def _change(self, change: Callable[[dict, ClinicSettings], Appointment]):
        """Run a change on one appointment with the JSON body; answer the appointment."""
        def call():
            clinic = settings()
            return 200, {"result": appointment_json(change(body(), clinic), clinic)}
        return self._answer(call)

    @expose("/availability", methods=["GET"])
    @protect()
    @safe
    def availability(self):
        """Free slots of one doctor for one service
        ---
        get:
          parameters:
          - {in: query, name: doctor_id, required: true, schema: {type: integer}}
          - {in: query, name: service_id, required: true, schema: {type: integer}}
          - {in: query, name: date_from, required: true, schema: {type: string, format: date}}
          - {in: query, name: date_to, required: true, schema: {type: string, format: date}}
          responses:
            200: {description: "slots: start/end in the clinic's time zone"}
            422: {description: a parameter is missing or wrong}
        """
        def call():
            args, clinic = request.args, settings()
            slots = booking.free_slots(
                db.session, doctor_id=parse_int(args, "doctor_id"), service_id=parse_int(args, "service_id"),
                date_from=parse_date(args, "date_from"), date_to=parse_date(args, "date_to"), settings=clinic)
            return 200, {"timezone": str(clinic.timezone), "slots": [
                {"start": s.start.astimezone(clinic.timezone).isoformat(),
                 "end": s.end.astimezone(clinic.timezone).isoformat()} for s in slots]}
        return self._answer(call)

    @expose("/availability/first", methods=["GET"])
    @protect()
    @safe
    def first_available(self):
        """The first free slot of each doctor offering a service, soonest first
        ---
        get:
          parameters:
          - {in: query, name: service_id, required: true, schema: {type: integer}}
          - {in: query, name: date_from, required: true, schema: {type: string, format: date}}
          - {in: query, name: date_to, required: true, schema: {type: string, format: date}}
          responses:
            200: {description: doctors with their first free slot}
        """
        def call():
            args, clinic = request.args, settings()
            found = booking.first_available(
                db.session, service_id=parse_int(args, "service_id"), date_from=parse_date(args, "date_from"),
                date_to=parse_date(args, "date_to"), settings=clinic)
            return 200, {"result": [
                {"doctor_id": doctor.id, "doctor": str(doctor),
                 "start": slot.start.astimezone(clinic.timezone).isoformat(),
                 "end": slot.end.astimezone(clinic.timezone).isoformat()} for doctor, slot in found]}
        return self._answer(call)

    @expose("/appointments/book", methods=["POST"])
    @protect()
    @safe
    def book(self):
        """Book an appointment (the same rules as every other way of booking)
        ---
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    patient_id: {type: integer}
                    doctor_id: {type: integer}
                    service_id: {type: integer}
                    start: {type: string, format: date-time}
                    channel: {type: string, enum: [walk_in, phone, online, chat]}
                    reason: {type: string}
          responses:
            201: {description: booked}
            409: {description: the time is taken (by the doctor or the patient)}
            422: {description: a field is missing or breaks a rule}
        """
        def call():
            data, clinic = body(), settings()
            appointment = booking.book_appointment(
                db.session, patient_id=parse_int(data, "patient_id"), doctor_id=parse_int(data, "doctor_id"),
                service_id=parse_int(data, "service_id"), start=parse_instant(data, "start"), settings=clinic,
                actor_id=acting_user_id(), channel=str(data.get("channel") or "phone"),
                reason=data.get("reason"), notes=data.get("notes"))
            return 201, {"id": appointment.id, "result": appointment_json(appointment, clinic)}
        return self._answer(call)

    @expose("/appointments/<int:pk>/status", methods=["POST"])
    @protect()
    @safe
    def set_status(self, pk: int):
        """Move an appointment along its workflow
        ---
        post:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    status: {type: string, enum: [confirmed, checked_in, in_consultation, completed, cancelled, no_show]}
                    reason: {type: string}
          responses:
            200: {description: moved}
            409: {description: not a legal step from the current status}
        """
        return self._change(lambda data, clinic: booking.transition_appointment(
            db.session, pk, str(_required(data, "status")), actor_id=acting_user_id(), settings=clinic,
            reason=data.get("reason")))

    @expose("/appointments/<int:pk>/cancel", methods=["POST"])
    @protect()
    @safe
    def cancel(self, pk: int):
        """Cancel an appointment, saying why; the slot is free again at once
        ---
        post:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: cancelled}
        """
        return self._change(lambda data, clinic: booking.transition_appointment(
            db.session, pk, "cancelled", actor_id=acting_user_id(), settings=clinic, reason=data.get("reason")))

    @expose("/appointments/<int:pk>/reschedule", methods=["POST"])
    @protect()
    @safe
    def reschedule(self, pk: int):
        """Move an appointment to another time (and doctor); if that time is taken nothing changes
        ---
        post:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200: {description: moved}
            409: {description: the new time is taken; the old one is kept}
        """
        return self._change(lambda data, clinic: booking.reschedule_appointment(
            db.session, pk, parse_instant(data, "start"), actor_id=acting_user_id(), settings=clinic,
            doctor_id=parse_int(data, "doctor_id", required=False)))
