"""GET /lookup/<resource>?q=...: what the record pickers of the back office ask for as you type.
Answers Select2's format; only to users who may read the resource."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_appbuilder import BaseView, expose
from flask_login import current_user

from app.fab.actor import acting_user
from app.models import Patient
from app.models.types import utcnow
from app.services.access import CareAccessDenied
from app.services.lookup import lookup_record, lookup_records
from app.views.base import describe, pk_in_range
from app.views.remote import PERMISSIONS, REMOTE_MODELS


class LookupView(BaseView):
    route_base = "/lookup"
    default_view = "search"

    @expose("/<resource>")
    def search(self, resource: str):
        if not current_user.is_authenticated:
            return jsonify(message="Log in first."), 401
        model = REMOTE_MODELS.get(resource)
        if model is None:
            return jsonify(message="Unknown resource."), 404
        if not self.appbuilder.sm.has_access(*PERMISSIONS[resource]):
            return jsonify(message="Forbidden"), 403
        session = self.appbuilder.session
        record_id = request.args.get("id")
        user, now = acting_user(), utcnow()
        if record_id is not None:
            try:
                records = lookup_record(session, user, model, int(record_id), now) \
                    if pk_in_range(model, record_id) else []
            except CareAccessDenied as exc:
                return jsonify(message=exc.message), 403
        else:
            region = current_app.config.get("CLINIC_PHONE_REGION", "VN")
            # ?patient=<id>: only that patient's records (the form's patient is already chosen).
            patient = request.args.get("patient", "")
            patient_id = int(patient) if patient.isdigit() and pk_in_range(Patient, patient) else None
            records = lookup_records(session, user, model, request.args.get("q", ""), now, region,
                                     patient_id=patient_id)
        return jsonify(results=[{"id": record.id, "text": describe(record)} for record in records])
