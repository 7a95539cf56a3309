"""All models; importing this package registers every table on FAB's shared metadata."""
from app.models.access import PermissionVersion
from app.models.account_links import AccountEmail, AccountLink, PendingSignup
from app.models.amendments import EncounterAmendment
from app.models.audit import AuditEvent, StoredDocument
from app.models.billing import CashClose, Invoice, InvoiceLine, InvoiceSequence, Payment, ProviderEvent, Refund
from app.models.care_access import CareAccessGrant
from app.models.catalogue import Service
from app.models.chat import ChatCannedReply, ChatConversation
from app.models.clinical import Attachment, Diagnosis, Encounter, LabOrder, LabResult
from app.models.dashboard_rollups import (
    DashboardDay,
    DashboardPatients,
    DashboardRevenueDay,
    DashboardTakingsDay,
    PatientFirstVisit,
)
from app.models.engagement import Notification, ReminderLog, Review
from app.models.event_consumers import ConsumedEvent, LabBridgeOrder
from app.models.icd10 import Icd10Code
from app.models.interactions import DrugInteraction
from app.models.lab_catalogue import LabAnalyte, LabReferenceRange, LabTest
from app.models.lockout import AccountLock
from app.models.messaging import OutboundMessage
from app.models.mfa import MfaEnrolment, MfaRecoveryCode
from app.models.outbox import OutboxEvent
from app.models.people import Department, Doctor, Employee, Patient, Specialty, doctor_service
from app.models.pharmacy import Medicine, Prescription, PrescriptionItem, StockBatch, StockMovement
from app.models.profile import UserProfile
from app.models.scheduling import (
    Appointment,
    AppointmentEvent,
    AppointmentSeries,
    ScheduleException,
    WorkSchedule,
)
from app.models.search import SearchDocument, SearchWord
from app.models.sessions import RefreshToken, UserSession
from app.models.stock_usage import MedicineDailyUse
from app.models.suppliers import GoodsReceipt, GoodsReceiptLine, Supplier
from app.models.telemedicine import VideoCall, VideoCallGuest
from app.models.video_recording import RecordingChunk, RecordingConsent, VideoCallFile, VideoRecording
from app.models.webhooks import WebhookCursor, WebhookDelivery, WebhookEndpoint, WebhookReceived

__all__ = [
    "AccountEmail", "AccountLink", "AccountLock", "PendingSignup",
    "Appointment", "AppointmentEvent", "AppointmentSeries", "Attachment", "AuditEvent", "CareAccessGrant", "CashClose",
    "ChatCannedReply", "ChatConversation", "ConsumedEvent", "LabBridgeOrder",
    "DashboardDay", "DashboardPatients", "DashboardRevenueDay", "DashboardTakingsDay", "Department",
    "Diagnosis", "Doctor", "DrugInteraction",
    "Employee", "Encounter", "EncounterAmendment", "Icd10Code", "Invoice", "InvoiceLine", "LabOrder", "LabResult",
    "Employee", "Encounter", "EncounterAmendment", "Invoice", "InvoiceLine",
    "LabAnalyte", "LabOrder", "LabReferenceRange", "LabResult", "LabTest",
    "Employee", "Encounter", "EncounterAmendment", "GoodsReceipt", "GoodsReceiptLine", "Icd10Code",
    "Invoice", "InvoiceLine", "InvoiceSequence", "LabOrder", "LabResult",
    "Medicine", "MedicineDailyUse", "MfaEnrolment", "MfaRecoveryCode",
    "Notification", "OutboundMessage", "OutboxEvent", "Patient",
    "PatientFirstVisit", "Payment", "PermissionVersion", "Prescription", "PrescriptionItem",
    "ProviderEvent", "Refund",
    "RefreshToken", "ReminderLog", "Review", "ScheduleException", "SearchDocument", "SearchWord",
    "Service", "Specialty", "StockBatch", "StockMovement",
    "StoredDocument", "Supplier", "UserProfile", "UserSession", "VideoCall", "VideoCallGuest", "WorkSchedule",
    "doctor_service",
    "RecordingChunk", "RecordingConsent", "VideoCallFile", "VideoRecording",
    "WebhookCursor", "WebhookDelivery", "WebhookEndpoint", "WebhookReceived",
]
