"""Recurring appointments over REST: preview a series, book it, cancel the rest of it.
Thin: parse with a schema (``app.api.schemas``), call ``app.services.series``, answer JSON.
Bad input and domain errors are answered by ``app.errors`` (422/404/409 JSON naming the field)."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.api import expose, protect

from app.api import schemas
from app.api.booking import appointment_json
from app.extensions import db
from app.fab.actor import acting_user_id
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.services import series as series_service
from app.services.settings import ClinicSettings


def occurrence_json(occurrence: series_service.Occurrence, clinic: ClinicSettings) -> dict[str, Any]:
    return {"start": occurrence.start.astimezone(clinic.timezone).isoformat(),
            "end": occurrence.end.astimezone(clinic.timezone).isoformat(),
            "ok": occurrence.ok, "problem": occurrence.problem}


def _series_args(data: dict[str, Any]) -> dict[str, Any]:
    return {"patient_id": data["patient_id"], "doctor_id": data["doctor_id"], "service_id": data["service_id"],
            "first_start": data["start"], "rule": data["rule"]}


class SeriesApi(ClinicBaseApi):
    """Recurring appointments; the same permission as booking single appointments."""

    route_base = "/api/v1"
    resource_name = "series"
    openapi_spec_tag = "Appointment series"
    openapi_spec_component_schemas = schemas.COMPONENTS
    class_permission_name = "Appointment"
    method_permission_name = {"preview": "read", "book": "write", "cancel_rest": "write"}
    allow_browser_login = True

    @expose("/series/preview", methods=["POST"])
    @protect()
    @openapi(body=schemas.SeriesRequest, responses={
        200: ("occurrences: start/end in the clinic's time zone, ok, problem", schemas.SeriesPreviewResult)})
    def preview(self):
        """Every date of a recurring booking, each checked like a single booking; nothing is saved"""
        data, clinic = schemas.SeriesRequest().load(json_body()), clinic_settings()
        occurrences = series_service.preview_series(db.session, settings=clinic, **_series_args(data))
        return self.response(200, timezone=str(clinic.timezone),
                             occurrences=[occurrence_json(o, clinic) for o in occurrences])

    @expose("/series/book", methods=["POST"])
    @protect()
    @openapi(body=schemas.SeriesBookRequest, responses={
        201: ("series_id, appointment_ids, skipped dates with their reasons", schemas.SeriesBookedResult)})
    def book(self):
        """Book every date of a recurring booking at once (all or nothing, unless skip_conflicts)"""
        data, clinic = schemas.SeriesBookRequest().load(json_body()), clinic_settings()
        series, appointments, skipped = series_service.book_series(
            db.session, settings=clinic, actor_id=acting_user_id(), skip_conflicts=data["skip_conflicts"],
            channel=data["channel"], reason=data.get("reason"), notes=data.get("notes"), **_series_args(data))
        return self.response(201, series_id=series.id, rule=series.rule,
                             appointment_ids=[a.id for a in appointments],
                             appointments=[appointment_json(a, clinic) for a in appointments],
                             skipped=[occurrence_json(o, clinic) for o in skipped])

    @expose("/series/appointments/<int:pk>/cancel-rest", methods=["POST"])
    @protect()
    @openapi(body=schemas.CancelRestRequest, responses={200: ("the cancelled appointments", schemas.CancelledResult)})
    def cancel_rest(self, pk: int):
        """Cancel this visit (unless include_this is false) and every later visit of its series"""
        data, clinic = schemas.CancelRestRequest().load(json_body()), clinic_settings()
        cancelled = series_service.cancel_series_from(
            db.session, pk, actor_id=acting_user_id(), reason=data.get("reason"), settings=clinic,
            include_this=data["include_this"])
        return self.response(200, cancelled_ids=[a.id for a in cancelled],
                             result=[appointment_json(a, clinic) for a in cancelled])
