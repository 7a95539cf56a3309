"""Registers a REST resource under /api/v1/<resource>/ for every entity."""
from flask_appbuilder import AppBuilder

from app import models as m
from app.api.base import make_api
from app.api.billing import BillingApi
from app.api.booking import BookingApi
from app.api.care import CareAccessApi
from app.api.chat import ChatApi
from app.api.dashboards import DashboardApi
from app.api.diagnoses import Icd10Api, VisitDiagnosisApi
from app.api.encounters import EncounterVisitApi
from app.api.fhir import FhirApi
from app.api.files import FilesApi
from app.api.front_desk import FrontDeskApi
from app.api.lab import LabOrdersApi, LabResultsApi
from app.api.notifications import NotificationsApi
from app.api.pharmacy import PharmacyApi
from app.api.prescribing import VisitPrescriptionApi
from app.api.profile import ProfileApi
from app.api.realtime import RealtimeApi
from app.api.reviews import ReviewsApi
from app.api.search import SearchApi
from app.api.series import SeriesApi
from app.permissions import RESOURCE_BY_NAME
from app.services.rules import FILLED_BY_SERVICES

READ_ONLY = {"AppointmentEvent", "StockMovement", "ReminderLog", "AuditEvent", "EncounterAmendment"}
# Written only through their own endpoints, never as a generic record: files come in through the
# upload service (app/api/files.py: type by content, a random storage key), so the generated
# resource lists and shows them only (no ``_info``: it has no forms). Its writers keep the write
# permission, which the upload uses.
UPLOAD_ONLY = {"Attachment"}
# Money moves only through the billing services (app/api/billing.py, the cashier's counter): an
# invoice's lines, totals, number and status, a payment or a refund are never typed as a generic
# record. Their writers keep the write permission, which those endpoints use.
SERVICE_ONLY = {"Invoice", "InvoiceLine", "Payment", "Refund", "CashClose"}
# Messages are queued and sent only by the messaging services; staff resend a failed one on the
# delivery dashboard (its writers' permission).
SERVICE_ONLY |= {"OutboundMessage"}
# Reviews are written by their patient and moderated only through app.services.reviews (the
# portal, /reviews/ in the back office, app/api/reviews.py).
SERVICE_ONLY |= {"Review"}
# Resources whose generic screen and REST resource take no writes at all.
NO_GENERIC_WRITES = READ_ONLY | UPLOAD_ONLY | SERVICE_ONLY
# Values the services compute; a client cannot set them.
DERIVED = {
    "Appointment": ("end_at", "queue_date", "queue_number", "checked_in_at", "cancelled_by", "cancelled_at",
                    "created_by"),
    "Patient": ("user",),
    "Doctor": ("user", "calendar_token"),
    "Employee": ("user",),
    "Prescription": ("dispensed_at",),
    "PrescriptionItem": ("dispensed_quantity", "warnings"),
    "Encounter": ("signed_by", "signed_at"),
}
HIDDEN = {
    "Patient": ("search_text",),
    "Doctor": ("calendar_token",),
}
MODELS = {
    "Patient": m.Patient, "Doctor": m.Doctor, "Employee": m.Employee, "Department": m.Department,
    "Specialty": m.Specialty, "Service": m.Service, "Appointment": m.Appointment,
    "AppointmentSeries": m.AppointmentSeries, "AppointmentEvent": m.AppointmentEvent,
    "WorkSchedule": m.WorkSchedule, "ScheduleException": m.ScheduleException, "Encounter": m.Encounter,
    "EncounterAmendment": m.EncounterAmendment,
    "Diagnosis": m.Diagnosis, "LabOrder": m.LabOrder, "LabResult": m.LabResult, "Attachment": m.Attachment,
    "Prescription": m.Prescription, "PrescriptionItem": m.PrescriptionItem, "Medicine": m.Medicine,
    "StockBatch": m.StockBatch, "StockMovement": m.StockMovement, "Invoice": m.Invoice,
    "InvoiceLine": m.InvoiceLine, "Payment": m.Payment, "Refund": m.Refund, "CashClose": m.CashClose,
    "Review": m.Review, "Notification": m.Notification,
    "ReminderLog": m.ReminderLog, "AuditEvent": m.AuditEvent, "Supplier": m.Supplier, "LabTest": m.LabTest,
    "OutboundMessage": m.OutboundMessage,
}
# Set when the record is made, read-only afterwards: a batch's quantity changes only through the
# stock services, each with its ledger row (a PUT that sends it is refused 422, "Unknown field").
FIXED_AFTER_ADD = {"StockBatch": ("quantity",)}


def register_apis(appbuilder: AppBuilder) -> None:
    appbuilder.add_api(BookingApi)
    appbuilder.add_api(ChatApi)
    appbuilder.add_api(SeriesApi)
    appbuilder.add_api(ProfileApi)
    appbuilder.add_api(RealtimeApi)
    appbuilder.add_api(CareAccessApi)
    appbuilder.add_api(VisitPrescriptionApi)
    appbuilder.add_api(EncounterVisitApi)
    appbuilder.add_api(FilesApi)
    appbuilder.add_api(Icd10Api)
    appbuilder.add_api(VisitDiagnosisApi)
    appbuilder.add_api(LabOrdersApi)
    appbuilder.add_api(LabResultsApi)
    appbuilder.add_api(NotificationsApi)
    appbuilder.add_api(FrontDeskApi)
    appbuilder.add_api(ReviewsApi)
    appbuilder.add_api(DashboardApi)
    appbuilder.add_api(SearchApi)
    for name, model in MODELS.items():
        resource = RESOURCE_BY_NAME[name]
        appbuilder.add_api(make_api(
            model, resource.api, name, read_only=name in NO_GENERIC_WRITES, derived=DERIVED.get(name, ()),
            hidden=HIDDEN.get(name, ()), optional=FILLED_BY_SERVICES.get(model, ()),
            fixed=FIXED_AFTER_ADD.get(name, ()),
        ))
    appbuilder.add_api(PharmacyApi)
    appbuilder.add_api(BillingApi)
    appbuilder.add_api(FhirApi)  # /fhir/R4: the read-only HL7 FHIR R4 API
