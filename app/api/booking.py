"""Booking over REST: availability, one booking endpoint, and the appointment workflow.
Thin: parse with a schema (``app.api.schemas``), call ``app.services.booking``, answer JSON.
Bad input and domain errors are answered by ``app.errors`` (422/404/409 JSON naming the field)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect

from app.api import schemas
from app.extensions import db
from app.fab.actor import acting_user_id
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.models import Appointment
from app.services import booking
from app.services.settings import ClinicSettings


def appointment_json(appointment: Appointment | booking.Booking, clinic: ClinicSettings) -> dict:
    return {
        "id": appointment.id, "status": appointment.status, "channel": appointment.channel,
        "mode": appointment.mode,
        "patient_id": appointment.patient_id, "doctor_id": appointment.doctor_id,
        "service_id": appointment.service_id,
        "start": appointment.start_at.astimezone(clinic.timezone).isoformat(),
        "end": appointment.end_at.astimezone(clinic.timezone).isoformat(),
        "queue_number": appointment.queue_number, "reason": appointment.reason,
    }


class BookingApi(ClinicBaseApi):
    """Availability and booking; one permission with the appointment screens and resource."""

    route_base = "/api/v1"
    resource_name = "booking"
    openapi_spec_tag = "Booking"
    openapi_spec_component_schemas = schemas.COMPONENTS
    class_permission_name = "Appointment"
    method_permission_name = {
        "availability": "read", "first_available": "read",
        "book": "write", "set_status": "write", "reschedule": "write", "cancel": "write",
    }
    allow_browser_login = True

    def _appointment(self, appointment: Appointment | booking.Booking, status: int = 200, **extra):
        return self.response(status, **extra, result=appointment_json(appointment, clinic_settings()))

    @expose("/availability", methods=["GET"])
    @protect()
    @openapi(query=schemas.AvailabilityQuery,
             responses={200: ("slots: start/end in the clinic's time zone", schemas.AvailabilityResult)})
    def availability(self):
        """Free slots of one doctor for one service"""
        args, clinic = schemas.AvailabilityQuery().load(request.args.to_dict()), clinic_settings()
        slots = booking.cached_free_slots(db.session, settings=clinic, **args)  # a patient's view, as always
        return self.response(200, timezone=str(clinic.timezone), slots=[
            {"start": s.start.astimezone(clinic.timezone).isoformat(),
             "end": s.end.astimezone(clinic.timezone).isoformat()} for s in slots])

    @expose("/availability/first", methods=["GET"])
    @protect()
    @openapi(query=schemas.FirstAvailableQuery,
             responses={200: ("doctors with their first free slot, soonest first", schemas.FirstAvailableResult)})
    def first_available(self):
        """The first free slot of each doctor offering a service, soonest first"""
        args, clinic = schemas.FirstAvailableQuery().load(request.args.to_dict()), clinic_settings()
        found = booking.first_available(db.session, settings=clinic, **args)
        return self.response(200, result=[
            {"doctor_id": doctor.id, "doctor": str(doctor),
             "start": slot.start.astimezone(clinic.timezone).isoformat(),
             "end": slot.end.astimezone(clinic.timezone).isoformat()} for doctor, slot in found])

    @expose("/appointments/book", methods=["POST"])
    @protect()
    @openapi(body=schemas.BookRequest, responses={201: ("booked", schemas.BookedResult)})
    def book(self):
        """Book an appointment (the same rules as every other way of booking)"""
        data = schemas.BookRequest().load(json_body())
        appointment = booking.book_appointment(db.session, settings=clinic_settings(), actor_id=acting_user_id(),
                                               **data)
        return self._appointment(appointment, 201, id=appointment.id)

    @expose("/appointments/<int:pk>/status", methods=["POST"])
    @protect()
    @openapi(body=schemas.StatusRequest, responses={200: ("moved", schemas.AppointmentResult)})
    def set_status(self, pk: int):
        """Move an appointment along its workflow (only legal steps)"""
        data = schemas.StatusRequest().load(json_body())
        return self._appointment(booking.transition_appointment(
            db.session, pk, data["status"], actor_id=acting_user_id(), settings=clinic_settings(),
            reason=data.get("reason")))

    @expose("/appointments/<int:pk>/cancel", methods=["POST"])
    @protect()
    @openapi(body=schemas.CancelRequest, responses={200: ("cancelled", schemas.AppointmentResult)})
    def cancel(self, pk: int):
        """Cancel an appointment, saying why; the slot is free again at once"""
        data = schemas.CancelRequest().load(json_body())
        return self._appointment(booking.transition_appointment(
            db.session, pk, "cancelled", actor_id=acting_user_id(), settings=clinic_settings(),
            reason=data.get("reason")))

    @expose("/appointments/<int:pk>/reschedule", methods=["POST"])
    @protect()
    @openapi(body=schemas.RescheduleRequest, responses={200: ("moved", schemas.AppointmentResult)})
    def reschedule(self, pk: int):
        """Move an appointment to another time (and doctor); if that time is taken nothing changes"""
        data = schemas.RescheduleRequest().load(json_body())
        return self._appointment(booking.reschedule_appointment(
            db.session, pk, data["start"], actor_id=acting_user_id(), settings=clinic_settings(),
            doctor_id=data["doctor_id"]))
