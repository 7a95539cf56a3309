"""Roles as data. Every resource has one permission name, shared by its screens and its REST API,
with two actions: ``can_read`` and ``can_write``. ``python -m app.permissions`` prints the matrix."""
from __future__ import annotations

from dataclasses import dataclass

READ_METHODS_VIEW = ("list", "show", "download")
WRITE_METHODS_VIEW = ("add", "edit", "delete", "action", "action_post")
READ_METHODS_API = ("get", "get_list")
# `_info` describes the add/edit forms, with choices from related resources: writers only.
WRITE_METHODS_API = ("post", "put", "delete", "info")

VIEW_METHOD_PERMISSIONS = {m: "read" for m in READ_METHODS_VIEW} | {m: "write" for m in WRITE_METHODS_VIEW}
API_METHOD_PERMISSIONS = {m: "read" for m in READ_METHODS_API} | {m: "write" for m in WRITE_METHODS_API}


def N_(text: str) -> str:  # noqa: N802 - gettext_noop: marks menu names for translation (babel.cfg)
    return text


@dataclass(frozen=True)
class Resource:
    name: str  # permission name, e.g. "Patient"
    menu: str  # menu entry, e.g. "Patients"
    category: str
    api: str  # REST resource name under /api/v1/


RESOURCES: tuple[Resource, ...] = (
    Resource("Patient", N_("Patients"), N_("People"), "patient"),
    Resource("Doctor", N_("Doctors"), N_("People"), "doctor"),
    Resource("Employee", N_("Employees"), N_("People"), "employee"),
    Resource("Department", N_("Departments"), N_("Clinic"), "department"),
    Resource("Specialty", N_("Specialties"), N_("Clinic"), "specialty"),
    Resource("Service", N_("Services"), N_("Clinic"), "service"),
    Resource("LabTest", N_("Lab test catalogue"), N_("Clinic"), "lab_test"),
    Resource("Appointment", N_("Appointments"), N_("Scheduling"), "appointment"),
    Resource("AppointmentSeries", N_("Recurring series"), N_("Scheduling"), "appointment_series"),
    Resource("AppointmentEvent", N_("Appointment history"), N_("Scheduling"), "appointment_event"),
    Resource("WorkSchedule", N_("Work schedules"), N_("Scheduling"), "work_schedule"),
    Resource("ScheduleException", N_("Schedule exceptions"), N_("Scheduling"), "schedule_exception"),
    Resource("Encounter", N_("Encounters"), N_("Clinical"), "encounter"),
    Resource("Diagnosis", N_("Diagnoses"), N_("Clinical"), "diagnosis"),
    Resource("EncounterAmendment", N_("Amendments"), N_("Clinical"), "encounter_amendment"),
    Resource("LabOrder", N_("Lab orders"), N_("Clinical"), "lab_order"),
    Resource("LabResult", N_("Lab results"), N_("Clinical"), "lab_result"),
    Resource("Attachment", N_("Attachments"), N_("Clinical"), "attachment"),
    Resource("Prescription", N_("Prescriptions"), N_("Pharmacy"), "prescription"),
    Resource("PrescriptionItem", N_("Prescription items"), N_("Pharmacy"), "prescription_item"),
    Resource("Medicine", N_("Medicines"), N_("Pharmacy"), "medicine"),
    Resource("StockBatch", N_("Stock batches"), N_("Pharmacy"), "stock_batch"),
    Resource("StockMovement", N_("Stock ledger"), N_("Pharmacy"), "stock_movement"),
    Resource("Supplier", N_("Suppliers"), N_("Pharmacy"), "supplier"),
    Resource("Invoice", N_("Invoices"), N_("Billing"), "invoice"),
    Resource("InvoiceLine", N_("Invoice lines"), N_("Billing"), "invoice_line"),
    Resource("Payment", N_("Payments"), N_("Billing"), "payment"),
    Resource("Refund", N_("Refunds"), N_("Billing"), "refund"),
    Resource("CashClose", N_("Close history"), N_("Billing"), "cash_close"),
    Resource("Review", N_("Reviews"), N_("Engagement"), "review"),
    Resource("Notification", N_("Notifications"), N_("Engagement"), "notification"),
    Resource("ReminderLog", N_("Reminder log"), N_("Engagement"), "reminder_log"),
    Resource("OutboundMessage", N_("Messages sent"), N_("Engagement"), "outbound_message"),
    Resource("AuditEvent", N_("Audit trail"), N_("Administration"), "audit_event"),
)
RESOURCE_BY_NAME = {r.name: r for r in RESOURCES}

# Menu entries of hand-written pages, shown to whoever may read the resource they show.
EXTRA_MENUS: dict[str, tuple[str, ...]] = {"Doctor": (N_("Doctor status"),),
                                          "Appointment": (N_("Calendar"),),
                                          "Encounter": (N_("My day"), N_("Patients I have seen")),
                                          "AuditEvent": (N_("Break-the-glass log"),),
                                          "OutboundMessage": (N_("Delivery dashboard"),),
                                          "Review": (N_("Review moderation"),),
                                          "LabResult": (N_("Lab worklist"),),
                                          "StockBatch": (N_("Stock on hand"), N_("Pharmacy dashboard")),
                                          "Invoice": (N_("Cashier's day"), N_("Invoice search"))}
# ... and of hand-written pages that only writers can use.
EXTRA_WRITE_MENUS: dict[str, tuple[str, ...]] = {"Appointment": (N_("Book a series"),),
                                                "Invoice": (N_("Cashier's counter"),),
                                                "StockBatch": (N_("Dispensing queue"), N_("Receive a delivery")),
                                                "CashClose": (N_("End-of-day close"),)}

BILLING = ("Invoice", "InvoiceLine", "Payment", "Refund", "CashClose")
CLINICAL = ("Encounter", "Diagnosis", "LabOrder", "LabResult", "Attachment", "Prescription", "PrescriptionItem")

# What each role may read (R) and write (W, which includes read). Admin has everything.
ROLE_CONFIGS: dict[str, dict[str, tuple[str, ...]]] = {
    # Notifications are each user's own (the bell, /notifications): the generic "Notification"
    # screen lists everyone's, whose titles may name patients, so only Admin has it.
    "Manager": {
        "write": ("Department", "Specialty", "Service", "LabTest", "Doctor", "Employee", "WorkSchedule",
                  "ScheduleException", "Medicine", "Review", "OutboundMessage", *BILLING),
        "read": ("Patient", "Appointment", "AppointmentSeries", "AppointmentEvent", "StockBatch",
                 "StockMovement", "Supplier", "ReminderLog", "AuditEvent"),
    },
    "Receptionist": {
        "write": ("Patient", "Appointment", "AppointmentSeries", *BILLING),
        "read": ("Department", "Specialty", "Service", "LabTest", "Doctor", "WorkSchedule", "ScheduleException",
                 "AppointmentEvent", "Medicine", "Review", "ReminderLog"),
    },
    "Doctor": {
        "write": ("Patient", "Appointment", "WorkSchedule", "ScheduleException", *CLINICAL),
        # amendments: made on the visit page by the record's author (its Encounter permission),
        # never changed afterwards: a read-only resource like a ledger
        "read": ("Department", "Specialty", "Service", "LabTest", "Doctor", "AppointmentSeries",
                 "AppointmentEvent", "Medicine", "StockBatch", "Review", "EncounterAmendment"),
    },
    "Pharmacist": {
        "write": ("Medicine", "StockBatch", "Supplier"),
        "read": ("Patient", "Doctor", "Department", "Specialty", "Service", "Prescription",
                 "PrescriptionItem", "StockMovement"),
    },
    # Lab technicians: the worklist, collecting samples, entering and releasing results.
    "Lab": {
        "write": ("LabResult",),
        "read": ("Patient", "Doctor", "LabOrder", "LabTest"),
    },
    # The cashier's counter: invoices, payments, refunds, the end-of-day close.
    "Cashier": {
        "write": BILLING,
        "read": ("Patient", "Appointment", "Doctor", "Department", "Specialty", "Service", "LabTest",
                 "Medicine"),
    },
    # Patients use the public site and their portal, never the back office.
    "Patient": {"write": (), "read": ()},
}
# The chat inbox (issue 13): a permission of its own, not a generated resource (its pages and
# REST API are hand-written: app/views/chat_inbox.py, app/api/chat.py). can_read: the inbox;
# can_write: reply, assign, close; can_manage: edit the canned replies. Which conversations a
# user reads is the chat service's rule (the desk all, a doctor the care team's).
CHAT_PERMISSION = "ChatInbox"
CHAT_ROLES: dict[str, tuple[str, ...]] = {"Manager": ("read", "write", "manage"), "Receptionist": ("read", "write"),
                                          "Doctor": ("read", "write")}
CHAT_MENUS: dict[str, tuple[str, ...]] = {"Manager": (N_("Chat inbox"), N_("Canned replies"), N_("Engagement")),
                                          "Receptionist": (N_("Chat inbox"), N_("Canned replies"), N_("Engagement")),
                                          "Doctor": (N_("Chat inbox"), N_("Canned replies"), N_("Engagement"))}
# The front desk (issue 13): a permission of its own, shared by its page and REST API
# (app/views/front_desk.py, app/api/front_desk.py). can_read: the waiting list; can_write: check in,
# call, mark a no-show, call next and walk a patient in. Managers run the desk beside reception
# (with no other right on appointments); cashiers only look.
FRONT_DESK_PERMISSION = "FrontDesk"
FRONT_DESK_ROLES: dict[str, tuple[str, ...]] = {"Manager": ("read", "write"), "Receptionist": ("read", "write"),
                                                "Doctor": ("read", "write"), "Cashier": ("read",)}
FRONT_DESK_MENUS = (N_("Front desk"),)
# The managers' dashboards (issue 14): hand-written pages and JSON API (app/views/dashboards.py,
# app/api/dashboards.py) under one permission of their own, read only. Admin has everything.
DASHBOARD_PERMISSION = "Dashboard"
DASHBOARD_ROLES = ("Manager",)
DASHBOARD_MENUS = (N_("Dashboards"), N_("Reports"))
STAFF_ROLES = ("Manager", "Receptionist", "Doctor", "Pharmacist", "Lab", "Cashier")
# The FHIR R4 read API (issue 17, app/api/fhir.py): ``can_read`` on ``FHIR`` lets a login use it at
# all; which resources it then reads is its role's read permission on the records behind each
# resource type, under the care-team rule (app/services/fhir/search.py). Patients read their own.
FHIR_PERMISSION = "FHIR"
FHIR_ROLES = (*STAFF_ROLES, "Patient")
# Powers on invoices beyond writing them (``can_<power>`` on ``Invoice``, declared by the cashier's
# counter and the billing API): change a catalogue price, grant a discount, give money back.
BILLING_POWERS = ("change_price", "discount", "refund")
POWERS: dict[str, tuple[str, ...]] = {"Manager": BILLING_POWERS, "Cashier": BILLING_POWERS}

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
            menus += [menu for n in reads for menu in EXTRA_MENUS.get(n, ())]
            menus += [menu for n in writes for menu in EXTRA_WRITE_MENUS.get(n, ())]
            rules.append([_alternation(menus), "^menu_access$"])
        if writes:
            rules.append([_alternation(writes), "^can_write$"])
        if CHAT_ROLES.get(role):
            rules.append(["^" + CHAT_PERMISSION + "$", _alternation([f"can_{a}" for a in CHAT_ROLES[role]])])
            rules.append([_alternation(list(CHAT_MENUS[role])), "^menu_access$"])
        if FRONT_DESK_ROLES.get(role):
            actions = [f"can_{a}" for a in FRONT_DESK_ROLES[role]]
            rules.append(["^" + FRONT_DESK_PERMISSION + "$", _alternation(actions)])
            rules.append([_alternation(list(FRONT_DESK_MENUS)), "^menu_access$"])
        if role in DASHBOARD_ROLES:
            rules.append(["^" + DASHBOARD_PERMISSION + "$", "^can_read$"])
            rules.append([_alternation(list(DASHBOARD_MENUS)), "^menu_access$"])
        if POWERS.get(role):
            rules.append(["^Invoice$", _alternation([f"can_{p}" for p in POWERS[role]])])
        if role in FHIR_ROLES:
            rules.append(["^" + FHIR_PERMISSION + "$", "^can_read$"])
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
