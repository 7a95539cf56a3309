"""The front desk's queue over REST (issue 13, items 2 and 3), under ``/api/v1/front-desk/...``:
the board, check-in, call, no-show, call next, the doctor's finish and a walk-in. The same
functions as the page (``app.services.front_desk``), the page's permission ``FrontDesk``
(read: the board; write: the steps), a JWT or the browser session with its ``X-CSRFToken``.
Thin: parse with a schema, call one service, answer JSON; domain errors answer 404/409/422."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect
from marshmallow import RAISE, Schema, fields, validate

from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.fab.interface import MAX_ID
from app.models import Appointment
from app.models.people import SEXES
from app.models.types import utcnow
from app.permissions import FRONT_DESK_PERMISSION
from app.services import front_desk

_ID = validate.Range(1, MAX_ID)


class BoardQuery(Schema):
    class Meta:
        unknown = RAISE

    doctor_id = fields.Integer(validate=_ID, load_default=None, metadata={"description": "one doctor only"})
    department_id = fields.Integer(validate=_ID, load_default=None)


class QueueRowOut(Schema):
    appointment_id = fields.Integer()
    state = fields.String(metadata={"enum": list(front_desk.STATES)})
    status = fields.String()
    queue_number = fields.Integer(allow_none=True)
    patient_id = fields.Integer()
    patient_code = fields.String()
    patient_name = fields.String()
    service = fields.String()
    start = fields.String(metadata={"description": "HH:MM, the clinic's time"})
    channel = fields.String()
    checked_in_at = fields.String(allow_none=True)
    waiting_minutes = fields.Integer(allow_none=True)
    called_at = fields.String(allow_none=True)
    called_by = fields.String(allow_none=True)
    can_no_show = fields.Boolean(metadata={"description": "whether No-show would be accepted now"})
    mode = fields.String(metadata={"enum": ["in_person", "video"],
                                   "description": "video: the patient waits in the call's waiting room"})


class DoctorQueueOut(Schema):
    doctor_id = fields.Integer()
    name = fields.String()
    department_id = fields.Integer(allow_none=True)
    department = fields.String(allow_none=True)
    working = fields.Boolean()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    rows = fields.List(fields.Nested(QueueRowOut))


class BoardResult(Schema):
    day = fields.String(metadata={"format": "date"})
    doctors = fields.List(fields.Nested(DoctorQueueOut))


class QueueStepOut(Schema):
    id = fields.Integer()
    status = fields.String()
    state = fields.String()
    doctor_id = fields.Integer()
    patient_id = fields.Integer()
    queue_number = fields.Integer(allow_none=True)
    start = fields.String(metadata={"format": "date-time"})
    called_at = fields.String(allow_none=True)


class QueueStepResult(Schema):
    result = fields.Nested(QueueStepOut)


class EmptyRequest(Schema):
    class Meta:
        unknown = RAISE


class NewPatientIn(Schema):
    class Meta:
        unknown = RAISE

    full_name = fields.String(required=True, validate=validate.Length(1, 150))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    date_of_birth = fields.Date(load_default=None, allow_none=True)
    sex = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SEXES))


class WalkInRequest(Schema):
    """A patient found (``patient_id``) or a new one (``new_patient``); no ``doctor_id``: the first
    free doctor of the service's department now."""

    class Meta:
        unknown = RAISE

    patient_id = fields.Integer(validate=_ID, load_default=None, allow_none=True)
    new_patient = fields.Nested(NewPatientIn, load_default=None, allow_none=True)
    service_id = fields.Integer(required=True, validate=_ID)
    doctor_id = fields.Integer(validate=_ID, load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


COMPONENTS = (BoardQuery, QueueRowOut, DoctorQueueOut, BoardResult, QueueStepOut, QueueStepResult, EmptyRequest,
              NewPatientIn, WalkInRequest)


def step_json(appointment: Appointment) -> dict[str, Any]:
    zone = clinic_settings().timezone
    return {"id": appointment.id, "status": appointment.status, "state": front_desk.state_of(appointment),
            "doctor_id": appointment.doctor_id, "patient_id": appointment.patient_id,
            "queue_number": appointment.queue_number, "start": appointment.start_at.astimezone(zone).isoformat(),
            "called_at": appointment.called_at.astimezone(zone).isoformat() if appointment.called_at else None}


class FrontDeskApi(ClinicBaseApi):
    """The waiting list; the same permission as the front desk page (``FrontDesk``)."""

    route_base = "/api/v1/front-desk"
    resource_name = "front_desk"
    openapi_spec_tag = "Front desk"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = FRONT_DESK_PERMISSION
    method_permission_name = {"board": "read", "check_in": "write", "call": "write", "no_show": "write",
                              "call_next": "write", "finish": "write", "walk_in": "write"}
    allow_browser_login = True

    def _step(self, action, target: int):
        json_body() and EmptyRequest().load(json_body())  # nothing else is accepted
        appointment = action(db.session, target, acting_user_id(), utcnow(), settings=clinic_settings())
        return self.response(200, result=step_json(appointment))

    @expose("/board", methods=["GET"])
    @protect()
    @openapi(query=BoardQuery, responses={200: ("today's queue per doctor, in queue order", BoardResult)})
    def board(self):
        """Today's patients per doctor: in consultation, called, waiting, expected, done, no-show"""
        args = BoardQuery().load(request.args.to_dict())
        settings, now = clinic_settings(), utcnow()
        day = front_desk.clinic_day(now, settings)
        board = front_desk.queue_board(db.session, day, now, settings=settings,
                                       doctor_ids=[args["doctor_id"]] if args["doctor_id"] else None,
                                       department_id=args["department_id"])
        return self.response(200, day=day.isoformat(), doctors=[queue.as_json(settings) for queue in board])

    @expose("/appointments/<int:pk>/check-in", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("checked in with its queue number", QueueStepResult)})
    def check_in(self, pk: int):
        """Check in today's appointment: the doctor's next queue number"""
        return self._step(front_desk.check_in, pk)

    @expose("/appointments/<int:pk>/call", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("called", QueueStepResult)})
    def call(self, pk: int):
        """Call a checked-in patient (409 if another desk called them first)"""
        return self._step(front_desk.call_patient, pk)

    @expose("/appointments/<int:pk>/no-show", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("marked as no-show", QueueStepResult)})
    def no_show(self, pk: int):
        """Mark a no-show (a confirmed appointment whose time has passed, or a checked-in patient who left)"""
        return self._step(front_desk.mark_no_show, pk)

    @expose("/doctors/<int:pk>/call-next", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("the patient called", QueueStepResult)})
    def call_next(self, pk: int):
        """Call the doctor's next waiting patient (lowest queue number not yet called)"""
        return self._step(front_desk.call_next, pk)

    @expose("/appointments/<int:pk>/finish", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("completed", QueueStepResult)})
    def finish(self, pk: int):
        """The doctor finishes their own patient's visit (the queue moves on)"""
        json_body() and EmptyRequest().load(json_body())
        appointment = front_desk.finish_visit(db.session, pk, acting_user(), utcnow(), settings=clinic_settings())
        return self.response(200, result=step_json(appointment))

    @expose("/walk-in", methods=["POST"])
    @protect()
    @openapi(body=WalkInRequest, responses={201: ("booked now and checked in", QueueStepResult)})
    def walk_in(self):
        """A walk-in: the patient found or registered, booked now with the chosen or first free doctor, checked in"""
        data = WalkInRequest().load(json_body())
        new = data["new_patient"]
        appointment = front_desk.walk_in(
            db.session, service_id=data["service_id"], actor_id=acting_user_id(), now=utcnow(),
            settings=clinic_settings(), patient_id=data["patient_id"],
            new_patient=front_desk.NewPatient(**new) if new else None, doctor_id=data["doctor_id"],
            reason=data["reason"])
        return self.response(201, result=step_json(appointment))
