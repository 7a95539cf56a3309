"""The printable prescription of a visit (issue 9, item 5): A5, the clinic's header, the doctor,
the patient, the diagnoses and the items with how to take them, in the layout of a Vietnamese
"Đơn thuốc". Readable by whoever may read the encounter (the care-team access helper)."""
from __future__ import annotations

from flask import current_app
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access

from app.extensions import db
from app.fab.actor import acting_user
from app.fab.hooks import clinic_settings
from app.models.types import utcnow
from app.services import prescribing


class PrescriptionPrintView(BaseView):
    route_base = "/visit"
    class_permission_name = "Encounter"
    method_permission_name = {"print_page": "read"}

    @expose("/<int:encounter_id>/prescription/print")
    @has_access
    def print_page(self, encounter_id: int) -> ResponseReturnValue:
        data = prescribing.printable(db.session, encounter_id, acting_user(), utcnow(), clinic_settings().timezone)
        config = current_app.config
        return self.render_template(
            "clinic/visit/prescription_print.html", rx=data, encounter=data.encounter, patient=data.encounter.patient,
            clinic_name=config.get("APP_NAME", "Clinic"), clinic_address=config.get("CLINIC_ADDRESS", ""),
            clinic_phone=config.get("CLINIC_PHONE", ""))
