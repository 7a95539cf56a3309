"""Recurring appointments over REST: preview a series, book it, cancel the rest of it.
Thin: parse, call ``app.services.series``, answer JSON (domain errors as 404/409/422)."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_babel import gettext as _

from app.api.booking import BookingApi, appointment_json, body, parse_instant, parse_int, settings
from app.extensions import db
from app.services import series as series_service
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings
from app.views.base import acting_user_id


def parse_rule(source: dict) -> str:
    value = source.get("rule")
    if value in (None, ""):
        raise ValidationFailed(_("This field is required."), "rule")
    if not isinstance(value, str):
        raise ValidationFailed(_("Write the repeat rule like FREQ=WEEKLY;INTERVAL=2;COUNT=6."), "rule")
    return value


def parse_flag(source: dict, field: str, default: bool) -> bool:
    value = source.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationFailed(_("Give true or false."), field)
    return value


def parse_text(source: dict, field: str) -> str | None:
    value = source.get(field)
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(_("Give a text."), field)
    return value


def occurrence_json(occurrence: series_service.Occurrence, clinic: ClinicSettings) -> dict[str, Any]:
    return {"start": occurrence.start.astimezone(clinic.timezone).isoformat(),
            "end": occurrence.end.astimezone(clinic.timezone).isoformat(),
            "ok": occurrence.ok, "problem": occurrence.problem}


def _series_args(data: dict) -> dict[str, Any]:
    return {"patient_id": parse_int(data, "patient_id"), "doctor_id": parse_int(data, "doctor_id"),
            "service_id": parse_int(data, "service_id"), "first_start": parse_instant(data, "start"),
            "rule": parse_rule(data)}


class SeriesApi(BaseApi):
    """Recurring appointments; the same permission as booking single appointments."""

    route_base = "/api/v1"
    resource_name = "series"
    openapi_spec_tag = "Appointment series"
    class_permission_name = "Appointment"
    method_permission_name = {"preview": "read", "book": "write", "cancel_rest": "write"}
    allow_browser_login = True

    _answer = BookingApi._answer

    @expose("/series/preview", methods=["POST"])
    @protect()
    @safe
    def preview(self):
        """Every date of a recurring booking, each checked like a single booking; nothing is saved
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
                    start: {type: string, format: date-time, description: the first visit}
                    rule: {type: string, example: "FREQ=WEEKLY;COUNT=6"}
          responses:
            200: {description: "occurrences: start/end in the clinic's time zone, ok, problem"}
            422: {description: a field is missing or wrong (e.g. a rule without COUNT or UNTIL)}
        """
        def call():
            data, clinic = body(), settings()
            occurrences = series_service.preview_series(db.session, settings=clinic, **_series_args(data))
            return 200, {"timezone": str(clinic.timezone),
                         "occurrences": [occurrence_json(o, clinic) for o in occurrences]}
        return self._answer(call)

    @expose("/series/book", methods=["POST"])
    @protect()
    @safe
    def book(self):
        """Book every date of a recurring booking at once (all or nothing, unless skip_conflicts)
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
                    rule: {type: string, example: "FREQ=WEEKLY;COUNT=6"}
                    skip_conflicts: {type: boolean}
                    channel: {type: string, enum: [walk_in, phone, online, chat]}
                    reason: {type: string}
          responses:
            201: {description: "series_id, appointment_ids, skipped dates with their reasons"}
            409: {description: "some dates cannot be booked (conflicts: start, problem); nothing saved"}
            422: {description: a field is missing or wrong}
        """
        def call():
            data, clinic = body(), settings()
            args = _series_args(data)
            skip = parse_flag(data, "skip_conflicts", False)
            channel = data.get("channel") or "phone"
            if not isinstance(channel, str):
                raise ValidationFailed(_("Unknown channel."), "channel")
            series, appointments, skipped = series_service.book_series(
                db.session, settings=clinic, actor_id=acting_user_id(), skip_conflicts=skip, channel=channel,
                reason=parse_text(data, "reason"), notes=parse_text(data, "notes"), **args)
            return 201, {"series_id": series.id, "rule": series.rule,
                         "appointment_ids": [a.id for a in appointments],
                         "appointments": [appointment_json(a, clinic) for a in appointments],
                         "skipped": [occurrence_json(o, clinic) for o in skipped]}
        return self._answer(call)

    @expose("/series/appointments/<int:pk>/cancel-rest", methods=["POST"])
    @protect()
    @safe
    def cancel_rest(self, pk: int):
        """Cancel this visit (unless include_this is false) and every later visit of its series
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
                    reason: {type: string}
                    include_this: {type: boolean, default: true}
          responses:
            200: {description: the cancelled appointments}
            404: {description: no such appointment}
            409: {description: not part of a series, or a visit that can no longer be cancelled}
            422: {description: no reason given}
        """
        def call():
            data, clinic = body(), settings()
            cancelled = series_service.cancel_series_from(
                db.session, pk, actor_id=acting_user_id(), reason=parse_text(data, "reason"), settings=clinic,
                include_this=parse_flag(data, "include_this", True))
            return 200, {"cancelled_ids": [a.id for a in cancelled],
                         "result": [appointment_json(a, clinic) for a in cancelled]}
        return self._answer(call)
