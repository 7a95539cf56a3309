"""The visit workspace: one hand-written page per encounter (issue 9, item 2). Its sections
(diagnoses, prescription, lab orders, files) are partial templates under
``templates/clinic/visit/``, each with its own endpoints; this page puts them together with the
record itself: the patient's header, the complaint, history, examination, vitals, plan, private
notes and follow-up (autosaved through ``/api/v1/encounters/<id>/draft``; a plain form post to
``/visit/<id>/save`` does the same without script), signing, discarding and amendments. Every
change goes through ``app.services.encounters``."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l

from app.extensions import db
from app.fab.actor import acting_user
from app.i18n import choice_label
from app.models.types import utcnow
from app.services import encounters, telemedicine, video_recording
from app.services.errors import DomainError
from app.views.base import clinic_settings
from app.views.fields import (
    date_example,
    format_date_input,
    format_decimal_input,
    format_moment,
    parse_date,
    parse_decimal,
    user_language,
)

FIELD_LABELS = {
    "chief_complaint": _l("Chief complaint"), "history": _l("History of present illness"),
    "examination": _l("Examination"), "treatment_plan": _l("Treatment plan"),
    "private_notes": _l("Private notes"), "pulse": _l("Pulse"), "systolic_bp": _l("Systolic BP"),
    "diastolic_bp": _l("Diastolic BP"), "temperature_c": _l("Temperature"),
    "respiratory_rate": _l("Respiratory rate"), "spo2": _l("SpO2"), "height_cm": _l("Height"),
    "weight_kg": _l("Weight"), "follow_up_date": _l("Follow-up date"), "diagnoses": _l("Diagnoses"),
    "version": _l("Version"), "new_text": _l("Corrected text"), "reason": _l("Reason"), "field": _l("Field"),
    "bmi": _l("BMI"),
}
PER_MINUTE = _l("/min")
VITALS = [  # (field, unit, decimal places)
    ("pulse", PER_MINUTE, 0), ("systolic_bp", "mmHg", 0), ("diastolic_bp", "mmHg", 0), ("temperature_c", "°C", 1),
    ("respiratory_rate", PER_MINUTE, 0), ("spo2", "%", 0), ("height_cm", "cm", 1), ("weight_kg", "kg", 1),
]
FLAG_LABELS = {"high": _l("high"), "low": _l("low")}


def parse_form(form: Any, language: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The draft's fields as typed on the page (decimal comma and dd/mm/yyyy in Vietnamese)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in encounters.TEXT_FIELDS:
        if field in form:
            data[field] = form.get(field, "")
    for field in encounters.VITAL_FIELDS:
        if field in form:
            try:
                data[field] = parse_decimal(form.get(field, ""), language)
            except ValueError as exc:
                errors[field] = str(exc)
    if "follow_up_date" in form:
        try:
            data["follow_up_date"] = parse_date(form.get("follow_up_date", ""), language)
        except ValueError as exc:
            errors["follow_up_date"] = str(exc)
    return data, errors


def flash_errors(errors: dict[str, str]) -> None:
    for field, message in errors.items():
        label = FIELD_LABELS.get(field)
        flash(f"{label}: {message}" if label else message, "danger")


def flash_domain_error(exc: DomainError) -> None:
    errors = getattr(exc, "errors", None)
    if errors:
        flash(exc.message, "danger")
        flash_errors(errors)
    elif exc.field in FIELD_LABELS:
        flash_errors({str(exc.field): exc.message})
    else:
        flash(exc.message, "danger")


def expected_version() -> int | None:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        return None


def _video_call(encounter: Any) -> dict[str, Any]:
    """A video visit's call for the workspace: its start, end and length, and its kept recordings."""
    appointment = encounter.appointment
    if appointment is None or appointment.mode != "video":
        return {"video_call": None, "recordings": []}
    return {"video_call": telemedicine.call_summary(db.session, appointment.id) or telemedicine.CallSummary(None, None),
            "recordings": video_recording.appointment_recordings(db.session, appointment.id)}


class VisitView(BaseView):
    route_base = "/visit"
    default_view = "workspace"
    class_permission_name = "Encounter"
    method_permission_name = {"workspace": "read", "save": "write", "sign": "write", "discard": "write",
                              "amend": "write", "follow_up": "write"}

    def _back(self, encounter_id: int) -> ResponseReturnValue:
        return redirect(url_for("VisitView.workspace", encounter_id=encounter_id))

    @expose("/<int:encounter_id>")
    @has_access
    def workspace(self, encounter_id: int) -> ResponseReturnValue:
        user = acting_user()
        found = encounters.workspace(db.session, encounter_id, user, utcnow())
        db.session.commit()  # the audited read
        language = user_language()
        encounter = found.encounter
        values = {field: format_decimal_input(getattr(encounter, field), language, places)
                  if getattr(encounter, field) is not None else "" for field, _unit, places in VITALS}
        normal = {field: [str(low), str(high)] for field, (low, high) in encounters.NORMAL_RANGES.items()}
        return self.render_template(
            "clinic/visit/workspace.html", encounter=encounter, patient=found.patient, editable=found.editable,
            ws=found, vitals=VITALS, values=values, labels=FIELD_LABELS, flag_labels=FLAG_LABELS,
            follow_up=format_date_input(encounter.follow_up_date, language), date_hint=date_example(language),
            language=language, normal=normal, signer_name=encounters.signer_name(encounter), choice_label=choice_label,
            amendable=encounters.AMENDABLE, format_moment=format_moment,
            format_day=lambda day: format_date_input(day, language),
            format_number=lambda value: format_decimal_input(value, language, 1), **_video_call(encounter))

    @expose("/<int:encounter_id>/save", methods=["POST"])
    @has_access
    def save(self, encounter_id: int) -> ResponseReturnValue:
        """The draft as a plain form post (the page's autosave uses the JSON API)."""
        data, errors = parse_form(request.form, user_language())
        try:
            if errors:
                values, more = encounters.draft_values({k: v for k, v in data.items() if k not in errors})
                flash(_("Some values cannot be saved; nothing was changed."), "danger")
                flash_errors({**errors, **more})
                return self._back(encounter_id)
            encounters.save_draft(db.session, encounter_id, data, expected_version(), acting_user(), utcnow())
            flash(_("Draft saved."), "success")
        except DomainError as exc:
            db.session.rollback()
            flash_domain_error(exc)
        return self._back(encounter_id)

    @expose("/<int:encounter_id>/sign", methods=["POST"])
    @has_access
    def sign(self, encounter_id: int) -> ResponseReturnValue:
        try:
            encounters.sign_encounter(db.session, encounter_id, acting_user(), utcnow(), expected_version(),
                                      settings=clinic_settings())
            flash(_("The record is signed. It can no longer be changed; corrections are amendments."), "success")
        except DomainError as exc:
            db.session.rollback()
            flash_domain_error(exc)
        return self._back(encounter_id)

    @expose("/<int:encounter_id>/discard", methods=["POST"])
    @has_access
    def discard(self, encounter_id: int) -> ResponseReturnValue:
        try:
            encounters.discard_draft(db.session, encounter_id, acting_user(), utcnow(), expected_version())
        except DomainError as exc:
            db.session.rollback()
            flash_domain_error(exc)
            return self._back(encounter_id)
        flash(_("The draft was discarded; it is kept, read-only, in the audit trail."), "info")
        return redirect(url_for("MyDayView.day"))

    @expose("/<int:encounter_id>/amend", methods=["POST"])
    @has_access
    def amend(self, encounter_id: int) -> ResponseReturnValue:
        form = request.form
        try:
            encounters.amend_encounter(db.session, encounter_id, form.get("field", ""), form.get("new_text", ""),
                                       form.get("reason", ""), acting_user(), utcnow())
            flash(_("The amendment is added; the original text is kept in the history."), "success")
        except DomainError as exc:
            db.session.rollback()
            flash_domain_error(exc)
        return self._back(encounter_id)

    @expose("/<int:encounter_id>/follow-up", methods=["POST"])
    @has_access
    def follow_up(self, encounter_id: int) -> ResponseReturnValue:
        settings = clinic_settings()
        try:
            booked = encounters.book_follow_up(db.session, encounter_id, acting_user(), utcnow(), settings=settings)
            local = booked.start_at.astimezone(settings.timezone)
            flash(_("Follow-up booked on %(day)s at %(time)s.",
                    day=format_date_input(local.date(), user_language()), time=local.strftime("%H:%M")), "success")
        except DomainError as exc:
            db.session.rollback()
            flash_domain_error(exc)
        return self._back(encounter_id)
