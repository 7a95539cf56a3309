"""Roles as data. Every resource has one permission name, shared by its screens and its REST API,
with two actions: ``can_read`` and ``can_write``. ``python -m app.permissions`` prints the matrix."""
from __future__ import annotations

from dataclasses import dataclass

READ_METHODS_VIEW = ("list", "show", "download")
WRITE_METHODS_VIEW = ("add", "edit", "delete", "action", "action_post")
READ_METHODS_API = ("get", "get_list", "info")
WRITE_METHODS_API = ("post", "put", "delete")

VIEW_METHOD_PERMISSIONS = {m: "read" for m in READ_METHODS_VIEW} | {m: "write" for m in WRITE_METHODS_VIEW}
API_METHOD_PERMISSIONS = {m: "read" for m in READ_METHODS_API} | {m: "write" for m in WRITE_METHODS_API}


@dataclass(frozen=True)
class Resource:
    name: str  # permission name, e.g. "Patient"
    menu: str  # menu entry, e.g. "Patients"
    category: str
    api: str  # REST resource name under /api/v1/


RESOURCES: tuple[Resource, ...] = (
    Resource("Patient", "Patients", "People", "patient"),
    Resource("Doctor", "Doctors", "People", "doctor"),
    Resource("Employee", "Employees", "People", "employee"),
    Resource("Department", "Departments", "Clinic", "department"),
    Resource("Specialty", "Specialties", "Clinic", "specialty"),
    Resource("Service", "Services", "Clinic", "service"),
    Resource("Appointment", "Appointments", "Scheduling", "appointment"),
    Resource("AppointmentSeries", "Recurring series", "Scheduling", "appointment_series"),
    Resource("AppointmentEvent", "Appointment history", "Scheduling", "appointment_event"),
    Resource("WorkSchedule", "Work schedules", "Scheduling", "work_schedule"),
    Resource("ScheduleException", "Schedule exceptions", "Scheduling", "schedule_exception"),
    Resource("Encounter", "Encounters", "Clinical", "encounter"),
    Resource("Diagnosis", "Diagnoses", "Clinical", "diagnosis"),
    Resource("LabOrder", "Lab orders", "Clinical", "lab_order"),
    Resource("LabResult", "Lab results", "Clinical", "lab_result"),
    Resource("Attachment", "Attachments", "Clinical", "attachment"),
    Resource("Prescription", "Prescriptions", "Pharmacy", "prescription"),
    Resource("PrescriptionItem", "Prescription items", "Pharmacy", "prescription_item"),
    Resource("Medicine", "Medicines", "Pharmacy", "medicine"),
    Resource("StockBatch", "Stock batches", "Pharmacy", "stock_batch"),
    Resource("StockMovement", "Stock ledger", "Pharmacy", "stock_movement"),
    Resource("Invoice", "Invoices", "Billing", "invoice"),
    Resource("InvoiceLine", "Invoice lines", "Billing", "invoice_line"),
    Resource("Payment", "Payments", "Billing", "payment"),
    Resource("Review", "Reviews", "Engagement", "review"),
    Resource("Notification", "Notifications", "Engagement", "notification"),
    Resource("ReminderLog", "Reminder log", "Engagement", "reminder_log"),
    Resource("AuditEvent", "Audit trail", "Administration", "audit_event"),
)
RESOURCE_BY_NAME = {r.name: r for r in RESOURCES}

CLINICAL = ("Encounter", "Diagnosis", "LabOrder", "LabResult", "Attachment", "Prescription", "PrescriptionItem")

# What each role may read (R) and write (W, which includes read). Admin has everything.
ROLE_CONFIGS: dict[str, dict[str, tuple[str, ...]]] = {
    "Manager": {
        "write": ("Department", "Specialty", "Service", "Doctor", "Employee", "WorkSchedule",
                  "ScheduleException", "Medicine", "Review"),
        "read": ("Patient", "Appointment", "AppointmentSeries", "AppointmentEvent", "StockBatch",
                 "StockMovement", "Invoice", "InvoiceLine", "Payment", "Notification", "ReminderLog",
                 "AuditEvent"),
    },
    "Receptionist": {
        "write": ("Patient", "Appointment", "AppointmentSeries", "Invoice", "InvoiceLine", "Payment"),
        "read": ("Department", "Specialty", "Service", "Doctor", "WorkSchedule", "ScheduleException",
                 "AppointmentEvent", "Medicine", "Review", "ReminderLog"),
    },
    "Doctor": {
        "write": ("Patient", "Appointment", "WorkSchedule", "ScheduleException", *CLINICAL),
        "read": ("Department", "Specialty", "Service", "Doctor", "AppointmentSeries", "AppointmentEvent",
                 "Medicine", "StockBatch", "Review"),
    },
    "Pharmacist": {
        "write": ("Medicine", "StockBatch"),
        "read": ("Patient", "Doctor", "Department", "Specialty", "Service", "Prescription",
                 "PrescriptionItem", "StockMovement"),
    },
    # Patients use the public site and their portal, never the back office.
    "Patient": {"write": (), "read": ()},
}
STAFF_ROLES = ("Manager", "Receptionist", "Doctor", "Pharmacist")

# What every staff member needs beside their resources: their own profile and password, the
# API documentation, and FAB's menu API.
STAFF_COMMON = [
    ["^UserDBModelView$", "^can_userinfo$"],
    ["^UserInfoEditView$", "^can_this_form_(get|post)$"],
    ["^ResetMyPasswordView$", "^can_this_form_(get|post)$"],
    ["^(SwaggerView|OpenApi)$", "^can_(show|get)$"],
    ["^MenuApi$", "^can_get$"],
    ["^(Reset my password|User info)$", "^menu_access$"],
]


def readable(role: str) -> set[str]:
    config = ROLE_CONFIGS[role]
    return set(config["read"]) | set(config["write"])


def writable(role: str) -> set[str]:
    return set(ROLE_CONFIGS[role]["write"])


def _alternation(names: list[str]) -> str:
    return "^(" + "|".join(sorted(set(names))) + ")$"


def fab_roles() -> dict[str, list[list[str]]]:
    """FAB_ROLES: (view-name regex, permission regex) pairs per built-in role."""
    roles: dict[str, list[list[str]]] = {}
    for role in ROLE_CONFIGS:
        rules: list[list[str]] = []
        reads, writes = sorted(readable(role)), sorted(writable(role))
        if reads:
            rules.append([_alternation(reads), "^can_read$"])
            menus = [RESOURCE_BY_NAME[n].menu for n in reads] + [RESOURCE_BY_NAME[n].category for n in reads]
            rules.append([_alternation(menus), "^menu_access$"])
        if writes:
            rules.append([_alternation(writes), "^can_write$"])
        if role in STAFF_ROLES:
            rules.extend(STAFF_COMMON)
        roles[role] = rules
    return roles


def matrix_markdown() -> str:
    """The permission matrix as a Markdown table (kept in the README; a test checks they agree)."""
    roles = ["Admin", *ROLE_CONFIGS]
    lines = ["| Resource | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for resource in RESOURCES:
        cells = []
        for role in roles:
            if role == "Admin" or resource.name in writable(role):
                cells.append("RW")
            elif resource.name in readable(role):
                cells.append("R")
            else:
                cells.append("–")
        lines.append(f"| {resource.menu} (`{resource.api}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(matrix_markdown())
