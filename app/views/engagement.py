"""Screens for reviews, notifications and reminders (the audit trail: app/views/audit_trail.py)."""
from flask_babel import lazy_gettext as _l

from app.models import Notification, OutboundMessage, ReminderLog, Review
from app.views.base import ClinicInterface, ClinicModelView, ReadOnlyModelView


class ReviewView(ReadOnlyModelView):
    """Every review as a plain list; written by their patients and moderated on /reviews/
    (app/views/reviews.py), never typed here."""

    datamodel = ClinicInterface(Review)
    class_permission_name = "Review"
    list_columns = ["created_at", "patient", "doctor", "service", "rating_overall", "status"]
    show_columns = ["created_at", "patient", "doctor", "service", "appointment", "rating_professional",
                    "rating_attitude", "rating_waiting_time", "rating_overall", "comment", "status",
                    "hidden_reason", "reply", "replied_at", "updated_at"]
    search_columns = ["doctor", "service", "status", "rating_overall", "created_at"]
    base_order = ("created_at", "desc")


class NotificationView(ClinicModelView):
    datamodel = ClinicInterface(Notification)
    class_permission_name = "Notification"
    list_columns = ["created_at", "user", "kind", "title", "read_at"]
    search_columns = ["user", "kind", "title", "created_at"]
    add_columns = edit_columns = ["user", "kind", "title", "body", "link"]
    base_order = ("created_at", "desc")


class ReminderLogView(ReadOnlyModelView):
    datamodel = ClinicInterface(ReminderLog)
    class_permission_name = "ReminderLog"
    list_columns = ["created_at", "appointment", "kind", "channel", "for_start_at", "status", "sent_at", "error"]
    label_columns = {"channel": _l("Sent through")}  # not the appointment's booking channel
    search_columns = ["kind", "channel", "status", "created_at"]
    base_order = ("created_at", "desc")


class OutboundMessageView(ReadOnlyModelView):
    """Every message sent or tried, as a plain list (the delivery dashboard is the page to use)."""

    datamodel = ClinicInterface(OutboundMessage)
    class_permission_name = "OutboundMessage"
    list_columns = ["created_at", "channel", "kind", "recipient", "status", "skip_reason", "attempts", "sent_at",
                    "last_error"]
    show_exclude_columns = ["params"]
    label_columns = {"channel": _l("Sent through")}
    search_columns = ["channel", "kind", "status", "skip_reason", "recipient", "created_at"]
    base_order = ("created_at", "desc")
