"""Registers every back-office screen, with its menu entry from ``app.permissions.RESOURCES``."""
from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from app.permissions import RESOURCES
from app.views import files
from app.views.account import AccountSessionsView
from app.views.appointment_actions import AppointmentActionsView, SeriesBookingView
from app.views.audit_trail import AuditEventView
from app.views.billing import CashCloseView, InvoiceLineView, InvoiceView, PaymentView, RefundView
from app.views.billing_office import BillingOfficeView, CashCloseOfficeView
from app.views.calendar import CalendarView
from app.views.care import BreakGlassLogView, BreakGlassView
from app.views.cashier import CashierView
from app.views.chart import ChartView, PatientsSeenView
from app.views.chat_inbox import ChatCannedReplyView, ChatInboxView
from app.views.clinical import (
    AttachmentView,
    DiagnosisView,
    EncounterAmendmentView,
    EncounterView,
    LabOrderView,
    LabResultView,
)
from app.views.delivery import DeliveryView
from app.views.doctor_status import DoctorStatusView
from app.views.engagement import NotificationView, OutboundMessageView, ReminderLogView, ReviewView
from app.views.front_desk import FrontDeskView
from app.views.invoice_documents import InvoiceDocumentsView
from app.views.lab import LabView, register_lab_globals
from app.views.lab_catalogue import LabTestView
from app.views.lookup import LookupView
from app.views.my_day import MyDayView
from app.views.notifications import NotificationsView, register_notification_globals
from app.views.people import DepartmentView, DoctorView, EmployeeView, PatientView, ServiceView, SpecialtyView
from app.views.pharmacy import (
    MedicineView,
    PrescriptionItemView,
    PrescriptionView,
    StockBatchView,
    StockMovementView,
    SupplierView,
)
from app.views.pharmacy_pages import PharmacyView
from app.views.prescription_print import PrescriptionPrintView
from app.views.profile import ProfileView
from app.views.queue_slip import QueueSlipView
from app.views.scheduling import (
    AppointmentEventView,
    AppointmentSeriesView,
    AppointmentView,
    ScheduleExceptionView,
    WorkScheduleView,
)
from app.views.search import SearchView
from app.views.visit import VisitView

VIEWS = {
    view.class_permission_name: view
    for view in (
        PatientView, DoctorView, EmployeeView, DepartmentView, SpecialtyView, ServiceView, AppointmentView,
        AppointmentSeriesView, AppointmentEventView, WorkScheduleView, ScheduleExceptionView, EncounterView,
        EncounterAmendmentView,
        DiagnosisView, LabOrderView, LabResultView, AttachmentView, PrescriptionView, PrescriptionItemView,
        MedicineView, StockBatchView, StockMovementView, InvoiceView, InvoiceLineView, PaymentView,
        RefundView, CashCloseView,
        ReviewView,
        NotificationView, ReminderLogView, AuditEventView, SupplierView, LabTestView, OutboundMessageView,
    )
}

CATEGORY_ICONS = {
    "People": "fa-users", "Clinic": "fa-hospital-o", "Scheduling": "fa-calendar", "Clinical": "fa-stethoscope",
    "Pharmacy": "fa-medkit", "Billing": "fa-money", "Engagement": "fa-comments", "Administration": "fa-cogs",
}


def register_views(appbuilder: AppBuilder) -> None:
    for resource in RESOURCES:
        appbuilder.add_view(
            VIEWS[resource.name], resource.menu, label=_l(resource.menu), category=resource.category,
            category_label=_l(resource.category), category_icon=CATEGORY_ICONS[resource.category],
        )
    # Hand-written pages, after the generated ones so the menus keep their order.
    appbuilder.add_view_no_menu(LookupView)
    appbuilder.add_view_no_menu(SearchView)  # the top bar's search box and the full results
    appbuilder.add_view_no_menu(AccountSessionsView)
    appbuilder.add_view_no_menu(AppointmentActionsView)
    appbuilder.add_view_no_menu(QueueSlipView)  # the check-in slip with the ticket's QR code
    appbuilder.add_view_no_menu(ProfileView)
    appbuilder.add_view_no_menu(BreakGlassView)
    appbuilder.add_view_no_menu(VisitView)
    appbuilder.add_view_no_menu(PrescriptionPrintView)
    appbuilder.add_view_no_menu(InvoiceDocumentsView)
    files.register(appbuilder)
    appbuilder.add_view_no_menu(ChartView)
    appbuilder.add_view(LabView, "Lab worklist", label=_l("Lab worklist"), category="Clinical",
                        category_label=_l("Clinical"), category_icon=CATEGORY_ICONS["Clinical"])
    from flask import current_app

    register_lab_globals(current_app)
    for view, menu, label in ((FrontDeskView, "Front desk", _l("Front desk")),
                              (CalendarView, "Calendar", _l("Calendar")),
                              (DoctorStatusView, "Doctor status", _l("Doctor status")),
                              (SeriesBookingView, "Book a series", _l("Book a series"))):
        appbuilder.add_view(view, menu, label=label, category="Scheduling", category_label=_l("Scheduling"),
                            category_icon=CATEGORY_ICONS["Scheduling"])
    appbuilder.add_view(MyDayView, "My day", label=_l("My day"), category="Clinical",
                        category_label=_l("Clinical"), category_icon=CATEGORY_ICONS["Clinical"])
    appbuilder.add_view_no_menu(PharmacyView)
    appbuilder.add_view(CashierView, "Cashier's counter", label=_l("Cashier's counter"), category="Billing",
                        category_label=_l("Billing"), category_icon=CATEGORY_ICONS["Billing"])
    for endpoint, menu, label in (("queue", "Dispensing queue", _l("Dispensing queue")),
                                  ("stock", "Stock on hand", _l("Stock on hand")),
                                  ("dashboard", "Pharmacy dashboard", _l("Pharmacy dashboard")),
                                  ("receive", "Receive a delivery", _l("Receive a delivery"))):
        appbuilder.add_link(menu, href=f"/pharmacy/{endpoint}", label=label, category="Pharmacy",
                            category_label=_l("Pharmacy"), category_icon=CATEGORY_ICONS["Pharmacy"])
    appbuilder.add_view(BreakGlassLogView, "Break-the-glass log", label=_l("Break-the-glass log"),
                        category="Administration", category_label=_l("Administration"),
                        category_icon=CATEGORY_ICONS["Administration"])
    # The managers' dashboards (issue 14; permission Dashboard).
    from app.views.dashboards import DashboardView

    appbuilder.add_view(DashboardView, "Dashboards", label=_l("Dashboards"), category="Reports",
                        category_label=_l("Reports"), category_icon="fa-bar-chart")
    from app.views.reports import ReportView

    appbuilder.add_view(ReportView, "Printed reports", label=_l("Printed reports"), category="Reports",
                        category_label=_l("Reports"), category_icon="fa-bar-chart")
    from app.views.background_jobs import BackgroundJobsView

    appbuilder.add_view(BackgroundJobsView, "Background jobs", label=_l("Background jobs"),
                        category="Administration", category_label=_l("Administration"),
                        category_icon=CATEGORY_ICONS["Administration"])
    from app.views.log_viewer import LogViewerView

    appbuilder.add_view(LogViewerView, "Logs", label=_l("Logs"), category="Administration",
                        category_label=_l("Administration"), category_icon=CATEGORY_ICONS["Administration"])
    from app.views.webhooks import WebhooksView

    appbuilder.add_view(WebhooksView, "Webhooks", label=_l("Webhooks"), category="Administration",
                        category_label=_l("Administration"), category_icon=CATEGORY_ICONS["Administration"])
    from app.views.cache_stats import CacheStatsView

    appbuilder.add_view(CacheStatsView, "Cache", label=_l("Cache"), category="Administration",
                        category_label=_l("Administration"), category_icon=CATEGORY_ICONS["Administration"])
    appbuilder.add_view(PatientsSeenView, "Patients I have seen", label=_l("Patients I have seen"),
                        category="Clinical", category_label=_l("Clinical"), category_icon=CATEGORY_ICONS["Clinical"])
    # The back office of money (app/views/billing_office.py).
    appbuilder.add_view(BillingOfficeView, "Cashier's day", label=_l("Cashier's day"), category="Billing",
                        category_label=_l("Billing"), category_icon=CATEGORY_ICONS["Billing"])
    appbuilder.add_view(CashCloseOfficeView, "End-of-day close", label=_l("End-of-day close"), category="Billing",
                        category_label=_l("Billing"), category_icon=CATEGORY_ICONS["Billing"])
    appbuilder.add_link("Invoice search", href="/billing/invoices", label=_l("Invoice search"), category="Billing",
                        category_label=_l("Billing"), category_icon=CATEGORY_ICONS["Billing"])
    # The bell: every signed-in user's own notifications, and the count on every page.
    appbuilder.add_view_no_menu(NotificationsView)
    register_notification_globals(current_app)
    # Video visits' recording with consent and files sent in the call (the call page's JSON).
    from app.views.video_call_tools import VideoCallToolsView

    appbuilder.add_view_no_menu(VideoCallToolsView)
    from app.views.video_call import DoctorCallView

    appbuilder.add_view_no_menu(DoctorCallView)  # the doctor's call page, /clinic/video/<id>
    # Chat (issue 13): the staff inbox and the canned replies (permission ChatInbox).
    appbuilder.add_view(ChatInboxView, "Chat inbox", label=_l("Chat inbox"), category="Engagement",
                        category_label=_l("Engagement"), category_icon=CATEGORY_ICONS["Engagement"])
    appbuilder.add_view(ChatCannedReplyView, "Canned replies", label=_l("Canned replies"), category="Engagement",
                        category_label=_l("Engagement"), category_icon=CATEGORY_ICONS["Engagement"])
    from app.views.reviews import ReviewModerationView

    appbuilder.add_view(ReviewModerationView, "Review moderation", label=_l("Review moderation"),
                        category="Engagement", category_label=_l("Engagement"),
                        category_icon=CATEGORY_ICONS["Engagement"])
    appbuilder.add_view(DeliveryView, "Delivery dashboard", label=_l("Delivery dashboard"), category="Engagement",
                        category_label=_l("Engagement"), category_icon=CATEGORY_ICONS["Engagement"])
