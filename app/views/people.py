"""Screens for patients, doctors, staff, and the clinic's organisation and catalogue."""
from flask_babel import lazy_gettext as _l

from app.models import Department, Doctor, Employee, Patient, Service, Specialty
from app.views.base import ClinicInterface, ClinicModelView
from app.views.billing import InvoiceView
from app.views.care import hidden_records_link
from app.views.clinical import EncounterView, LabOrderView
from app.views.pharmacy import PrescriptionView
from app.views.scheduling import AppointmentView, ScheduleExceptionView, WorkScheduleView


class PatientView(ClinicModelView):
    datamodel = ClinicInterface(Patient)
    class_permission_name = "Patient"
    list_columns = ["code", "full_name", "date_of_birth", "sex", "phone", "insurance_number"]
    search_columns = ["search_text", "code", "phone", "national_id", "insurance_number", "date_of_birth", "sex"]
    label_columns = {"search_text": _l("Name, code or phone")}
    personal = ["code", "full_name", "date_of_birth", "sex", "national_id", "insurance_number"]
    contact = ["phone", "email", "address", "emergency_contact_name", "emergency_contact_phone"]
    medical = ["blood_type", "allergies"]
    add_fieldsets = edit_fieldsets = [
        (_l("Identity"), {"fields": personal}),
        (_l("Contact"), {"fields": contact}),
        (_l("Medical"), {"fields": medical}),
        (_l("Portal"), {"fields": ["user"], "expanded": False}),
    ]
    show_fieldsets = add_fieldsets
    description_columns = {
        "code": _l("Leave empty to get the next code (BN000123)."),
        "phone": _l("Local (0912 345 678) or international (+84…) number."),
        "national_id": _l("CCCD (12 digits), CMND (9 digits) or passport number."),
    }
    base_order = ("id", "desc")
    related_views = [AppointmentView, EncounterView, PrescriptionView, LabOrderView, InvoiceView]
    # Outside the reader's care the clinical tabs list nothing: the page says so, with the way in.
    show_template = "clinic/patient_show.html"
    extra_args = {"hidden_records_link": hidden_records_link}


class DoctorView(ClinicModelView):
    datamodel = ClinicInterface(Doctor)
    class_permission_name = "Doctor"
    list_columns = ["full_name", "title", "specialty", "department", "consultation_fee", "years_of_experience",
                    "active"]
    search_columns = ["full_name", "specialty", "department", "languages", "active"]
    add_columns = edit_columns = ["full_name", "title", "user", "specialty", "department", "services",
                                  "consultation_fee", "years_of_experience", "languages", "phone", "email", "bio",
                                  "photo", "active"]
    label_columns = {"title": _l("Academic title")}  # BS., ThS. BS., ...
    base_order = ("full_name", "asc")
    related_views = [WorkScheduleView, ScheduleExceptionView, AppointmentView]


class EmployeeView(ClinicModelView):
    datamodel = ClinicInterface(Employee)
    class_permission_name = "Employee"
    list_columns = ["full_name", "position", "department", "phone", "email", "active"]
    search_columns = ["full_name", "position", "department", "active"]
    add_columns = edit_columns = ["full_name", "user", "position", "department", "phone", "email", "active"]
    base_order = ("full_name", "asc")


class ServiceView(ClinicModelView):
    datamodel = ClinicInterface(Service)
    class_permission_name = "Service"
    list_columns = ["code", "name", "department", "price", "duration_minutes", "visit_modes", "active"]
    search_columns = ["code", "name", "department", "price", "visit_modes", "active"]
    add_columns = edit_columns = ["code", "name", "department", "description", "what_to_bring", "price",
                                  "duration_minutes", "visit_modes", "doctors", "active"]
    description_columns = {"what_to_bring": _l("One item per line. Listed in the appointment reminder, before what "
                                               "every visit needs."),
                           "visit_modes": _l("In person, by video call, or either.")}
    base_order = ("name", "asc")


class DepartmentView(ClinicModelView):
    datamodel = ClinicInterface(Department)
    class_permission_name = "Department"
    list_columns = ["code", "name", "active"]
    search_columns = ["code", "name", "active"]
    add_columns = edit_columns = ["code", "name", "description", "active"]
    base_order = ("name", "asc")
    related_views = [DoctorView, ServiceView]


class SpecialtyView(ClinicModelView):
    datamodel = ClinicInterface(Specialty)
    class_permission_name = "Specialty"
    list_columns = ["name", "description"]
    search_columns = ["name"]
    add_columns = edit_columns = ["name", "description"]
    base_order = ("name", "asc")
