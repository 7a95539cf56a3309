"""The JSON the hand-written endpoints take and give, as marshmallow schemas: each validates every
field at once (a ``ValidationError`` is answered 422 naming each broken field, by ``app.errors``)
and documents itself as an OpenAPI component (``openapi_spec_component_schemas``)."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _
from marshmallow import RAISE, Schema, fields, validate

from app.fab.interface import MAX_ID
from app.models.scheduling import APPOINTMENT_MODES, APPOINTMENT_STATUSES, CHANNELS

# Days the booking calendar can compute with (a day's end and the next day stay inside Python's
# calendar): year 1 and year 9999 are refused here, with the field named.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)
TEXT_MAX = 2000


def _id(strict: bool = True, **kwargs: Any) -> fields.Integer:
    """An id: a JSON number in bodies (``strict``), digits in query strings."""
    return fields.Integer(strict=strict, validate=validate.Range(1, MAX_ID), **kwargs)


def _day(**kwargs: Any) -> fields.Date:
    return fields.Date(validate=validate.Range(FIRST_DAY, LAST_DAY), **kwargs)


def _text(**kwargs: Any) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=TEXT_MAX), **kwargs)


def _flag(**kwargs: Any) -> fields.Boolean:
    """JSON true or false (not "yes", "no", 1 or 0)."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


def _choice(choices: tuple[str, ...], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(choices), **kwargs)


def _messages(field: fields.Field) -> dict[str, str]:
    """marshmallow's messages in the request's language (they are English only)."""
    messages = {"required": _("This field is required."), "null": _("This field is required.")}
    if isinstance(field, fields.AwareDateTime):
        messages["invalid"] = _("Give a date and time like 2026-12-01T09:00:00+07:00.")
        messages["invalid_awareness"] = _("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+07:00.")
    elif isinstance(field, fields.Date):
        messages["invalid"] = _("Give a date like 2026-12-01.")
    elif isinstance(field, fields.Integer):
        messages["invalid"] = _("Give a whole number.")
    elif isinstance(field, fields.Boolean):
        messages["invalid"] = _("Give true or false.")
    elif isinstance(field, fields.String):
        messages["invalid"] = _("Give a text.")
    return messages


class StrictSchema(Schema):
    """Unknown fields are refused (a typo such as ``"pacient_id"`` is named, not ignored); every
    message is in the request's language. Make a new instance per request."""

    class Meta:
        unknown = RAISE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_messages = {**self.error_messages, "unknown": _("Unknown field."),
                               "type": _("Send a JSON object.")}

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.error_messages = {**field_obj.error_messages, **_messages(field_obj)}
        for validator in field_obj.validators:  # this instance's copies
            if isinstance(validator, validate.OneOf):
                validator.error = _("Choose one of: %(choices)s.", choices="{choices}")
            elif isinstance(validator, validate.Length):
                validator.error = _("At most %(max)s characters.", max="{max}")
            elif isinstance(validator, validate.Range) and isinstance(field_obj, fields.Integer):
                validator.error = _("There is no record with id %(id)s.", id="{input}")
            elif isinstance(validator, validate.Range):
                validator.error = _("Give a date between %(low)s and %(high)s.", low="{min}", high="{max}")


# --- what clients send -------------------------------------------------------------------------


class AvailabilityQuery(StrictSchema):
    doctor_id = _id(False, required=True)
    service_id = _id(False, required=True)
    date_from = _day(required=True)
    date_to = _day(required=True)


class FirstAvailableQuery(StrictSchema):
    service_id = _id(False, required=True)
    date_from = _day(required=True)
    date_to = _day(required=True)


class BookRequest(StrictSchema):
    patient_id = _id(required=True)
    doctor_id = _id(required=True)
    service_id = _id(required=True)
    start = fields.AwareDateTime(required=True, metadata={"description": "with its UTC offset"})
    channel = _choice(CHANNELS, load_default="phone")
    mode = _choice(APPOINTMENT_MODES, allow_none=True, load_default=None, metadata={
        "description": "in_person or video, as the service is offered; by default the service's own "
                       "(video for a video-only service)"})
    reason = _text()
    notes = _text()


class StatusRequest(StrictSchema):
    status = _choice(APPOINTMENT_STATUSES, required=True)
    reason = _text()


class CancelRequest(StrictSchema):
    reason = _text()


class RescheduleRequest(StrictSchema):
    start = fields.AwareDateTime(required=True)
    doctor_id = _id(allow_none=True, load_default=None, metadata={"description": "another doctor, if given"})


class SeriesRequest(StrictSchema):
    patient_id = _id(required=True)
    doctor_id = _id(required=True)
    service_id = _id(required=True)
    start = fields.AwareDateTime(required=True, metadata={"description": "the first visit"})
    rule = fields.String(required=True, validate=validate.Length(1, 200),
                         metadata={"example": "FREQ=WEEKLY;COUNT=6"})


class SeriesBookRequest(SeriesRequest):
    skip_conflicts = _flag(load_default=False)
    channel = _choice(CHANNELS, load_default="phone")
    reason = _text()
    notes = _text()


class CancelRestRequest(StrictSchema):
    reason = _text()
    include_this = _flag(load_default=True)


# --- what they get back ------------------------------------------------------------------------


class AppointmentOut(Schema):
    id = fields.Integer()
    status = fields.String(validate=validate.OneOf(APPOINTMENT_STATUSES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    mode = fields.String(validate=validate.OneOf(APPOINTMENT_MODES))
    patient_id = fields.Integer()
    doctor_id = fields.Integer()
    service_id = fields.Integer()
    start = fields.String(metadata={"format": "date-time"})
    end = fields.String(metadata={"format": "date-time"})
    queue_number = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


class AppointmentResult(Schema):
    result = fields.Nested(AppointmentOut)


class BookedResult(AppointmentResult):
    id = fields.Integer()


class SlotOut(Schema):
    start = fields.String(metadata={"format": "date-time"})
    end = fields.String(metadata={"format": "date-time"})


class AvailabilityResult(Schema):
    timezone = fields.String()
    slots = fields.List(fields.Nested(SlotOut))


class DoctorSlotOut(SlotOut):
    doctor_id = fields.Integer()
    doctor = fields.String()


class FirstAvailableResult(Schema):
    result = fields.List(fields.Nested(DoctorSlotOut))


class OccurrenceOut(SlotOut):
    ok = fields.Boolean()
    problem = fields.String(allow_none=True)


class SeriesPreviewResult(Schema):
    timezone = fields.String()
    occurrences = fields.List(fields.Nested(OccurrenceOut))


class SeriesBookedResult(Schema):
    series_id = fields.Integer()
    rule = fields.String()
    appointment_ids = fields.List(fields.Integer())
    appointments = fields.List(fields.Nested(AppointmentOut))
    skipped = fields.List(fields.Nested(OccurrenceOut))


class CancelledResult(Schema):
    cancelled_ids = fields.List(fields.Integer())
    result = fields.List(fields.Nested(AppointmentOut))


class ErrorOut(Schema):
    """``message`` is a text, or an object naming each broken field with its reasons."""

    message = fields.Raw(required=True, metadata={"oneOf": [{"type": "string"}, {"type": "object"}]})


COMPONENTS = (
    AvailabilityQuery, FirstAvailableQuery, BookRequest, StatusRequest, CancelRequest, RescheduleRequest,
    SeriesRequest, SeriesBookRequest, CancelRestRequest, AppointmentOut, AppointmentResult, BookedResult, SlotOut,
    AvailabilityResult, DoctorSlotOut, FirstAvailableResult, OccurrenceOut, SeriesPreviewResult, SeriesBookedResult,
    CancelledResult, ErrorOut,
)
