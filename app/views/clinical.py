"""Screens for clinical records."""
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.fab.actor import acting_user
from app.file_transfer import serve
from app.models import Attachment, Diagnosis, Encounter, EncounterAmendment, LabOrder, LabResult
from app.models.types import utcnow
from app.permissions import VIEW_METHOD_PERMISSIONS
from app.services import attachments
from app.views.base import ClinicInterface, ClinicModelView, ReadOnlyModelView, prefill_own_doctor
from app.views.pharmacy import PrescriptionView


class DiagnosisView(ClinicModelView):
    datamodel = ClinicInterface(Diagnosis)
    class_permission_name = "Diagnosis"
    list_columns = ["encounter", "icd10_code", "text", "is_primary"]
    search_columns = ["icd10_code", "text", "is_primary"]
    add_columns = edit_columns = ["encounter", "icd10_code", "text", "is_primary"]


class LabResultView(ClinicModelView):
    datamodel = ClinicInterface(LabResult)
    class_permission_name = "LabResult"
    list_columns = ["lab_order", "analyte", "value", "unit", "reference_range", "flag", "status",
                    "released_to_patient"]
    search_columns = ["lab_order", "analyte", "flag", "status", "released_to_patient"]
    add_columns = edit_columns = ["lab_order", "analyte", "value", "numeric_value", "unit", "reference_range",
                                  "flag", "status", "released_to_patient", "resulted_at"]


class LabOrderView(ClinicModelView):
    datamodel = ClinicInterface(LabOrder)
    class_permission_name = "LabOrder"
    list_columns = ["created_at", "patient", "test_name", "doctor", "status"]
    search_columns = ["patient", "test_code", "test_name", "doctor", "status", "created_at"]
    add_columns = edit_columns = ["patient", "encounter", "doctor", "test_code", "test_name", "status", "notes"]
    base_order = ("created_at", "desc")
    related_views = [LabResultView]

    def prefill_add(self, form) -> None:
        prefill_own_doctor(self.datamodel.session, form)


class AttachmentView(ReadOnlyModelView):
    """Every file of the clinic the reader may see (list and show pages). Files are added only
    through the upload service (a visit, a lab result, the REST API), which checks the type by
    content and picks the storage key: this screen has no add or edit form, so nobody can type in
    a storage key, a size or a content type."""

    datamodel = ClinicInterface(Attachment)
    class_permission_name = "Attachment"
    list_columns = ["uploaded_at", "patient", "file_name", "content_type", "size_bytes", "owner_type"]
    search_columns = ["patient", "file_name", "content_type", "owner_type"]
    show_columns = ["uploaded_at", "uploaded_by", "patient", "owner_type", "owner_id", "file_name", "content_type",
                    "size_bytes"]
    base_order = ("uploaded_at", "desc")
    method_permission_name = {**VIEW_METHOD_PERMISSIONS, "file": "read"}

    @expose("/file/<int:pk>")
    @has_access
    def file(self, pk: int):
        """The stored file itself, read through the upload service's one reading path (care-team
        access checked, the read audited); streamed from local disk, or a redirect to a
        short-lived signed URL on a cloud store."""
        return serve(attachments.read(db.session, pk, acting_user(), utcnow()), thumbnail=False)


class EncounterAmendmentView(ReadOnlyModelView):
    """Corrections of signed records, read here; they are made on the visit page
    (``/visit/<id>``) and never changed or deleted (``app.services.encounters``)."""

    datamodel = ClinicInterface(EncounterAmendment)
    class_permission_name = "EncounterAmendment"
    list_columns = ["amended_at", "encounter", "field", "author", "reason"]
    show_columns = ["encounter", "field", "original_text", "new_text", "reason", "author", "amended_at"]
    search_columns = ["encounter", "field", "amended_at"]
    include_route_methods = {"list", "show"}  # never added, changed or deleted here
    base_order = ("amended_at", "desc")


class EncounterView(ClinicModelView):
    datamodel = ClinicInterface(Encounter)
    class_permission_name = "Encounter"
    list_columns = ["created_at", "patient", "doctor", "chief_complaint", "diagnoses", "follow_up_date", "signed_at"]
    search_columns = ["patient", "doctor", "chief_complaint", "created_at", "follow_up_date"]
    vitals = ["systolic_bp", "diastolic_bp", "pulse", "temperature_c", "respiratory_rate", "spo2", "weight_kg",
              "height_cm"]
    add_columns = edit_columns = ["appointment", "patient", "doctor", "chief_complaint", "history", "examination",
                                  *vitals, "treatment_plan", "follow_up_date"]
    show_fieldsets = [
        (_l("Visit"), {"fields": ["patient", "doctor", "appointment", "created_at", "signed_by", "signed_at"]}),
        (_l("Assessment"), {"fields": ["chief_complaint", "history", "examination", "diagnoses"]}),
        (_l("Vital signs"), {"fields": vitals}),
        (_l("Plan"), {"fields": ["treatment_plan", "follow_up_date"]}),
    ]
    base_order = ("created_at", "desc")
    related_views = [DiagnosisView, PrescriptionView, LabOrderView, EncounterAmendmentView]

    def prefill_add(self, form) -> None:
        prefill_own_doctor(self.datamodel.session, form)
