"""Screens for schedules and appointments."""
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.widgets import ListWidget
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from app.models import Appointment, AppointmentEvent, AppointmentSeries, ScheduleException, WorkSchedule
from app.views.appointment_actions import may_use_workflow
from app.views.base import ClinicInterface, ClinicModelView, ReadOnlyModelView
from app.views.fields import format_choice

WEEKDAYS = [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"), _l("Sunday")]


class WorkScheduleView(ClinicModelView):
    datamodel = ClinicInterface(WorkSchedule)
    class_permission_name = "WorkSchedule"
    list_columns = ["doctor", "weekday", "start_time", "end_time", "valid_from", "valid_to"]
    search_columns = ["doctor", "weekday", "valid_from", "valid_to"]
    add_columns = edit_columns = ["doctor", "weekday", "start_time", "end_time", "valid_from", "valid_to"]
    base_order = ("weekday", "asc")
    formatters_columns = {"weekday": lambda d: WEEKDAYS[d] if d is not None and 0 <= d <= 6 else d}
    description_columns = {"weekday": _l("0 = Monday … 6 = Sunday")}


class ScheduleExceptionView(ClinicModelView):
    datamodel = ClinicInterface(ScheduleException)
    class_permission_name = "ScheduleException"
    list_columns = ["doctor", "kind", "start_date", "end_date", "start_time", "end_time", "reason"]
    search_columns = ["doctor", "kind", "start_date", "end_date"]
    add_columns = edit_columns = ["doctor", "kind", "start_date", "end_date", "start_time", "end_time", "reason"]
    base_order = ("start_date", "desc")


class AppointmentEventView(ReadOnlyModelView):
    datamodel = ClinicInterface(AppointmentEvent)
    class_permission_name = "AppointmentEvent"
    list_columns = ["appointment", "from_status", "to_status", "actor", "at", "note"]
    search_columns = ["appointment", "to_status", "actor", "at"]
    # Appointment statuses kept as plain text (a log outlives the list of statuses): shown translated.
    formatters_columns = {"from_status": format_choice, "to_status": format_choice}
    base_order = ("at", "desc")


class AppointmentListWidget(ListWidget):
    """FAB's list with a "Workflow" link (/appointment-actions/<id>) in each row, for those who may act.
    Also used where appointments are a related list (under a patient, a doctor, a series)."""

    template = "clinic/widgets/appointment_list.html"

    def __call__(self, **kwargs):
        kwargs["workflow"] = may_use_workflow()
        return super().__call__(**kwargs)


def mode_field() -> SelectField:
    """In person or video, or (empty) as the service is offered: video for a video-only service
    (``app.services.booking.modes``)."""
    return SelectField(_l("In person or video"), choices=[
        ("", _l("As the service is offered")), ("in_person", _l("At the clinic")), ("video", _l("By video call"))],
        validators=[Optional()], coerce=lambda value: value or None, widget=Select2Widget(),
        description=_l("A video visit takes place over a video call; the service must offer it."))


class AppointmentView(ClinicModelView):
    datamodel = ClinicInterface(Appointment)
    class_permission_name = "Appointment"
    list_columns = ["start_at", "end_at", "patient", "doctor", "service", "mode", "status", "channel", "queue_number"]
    show_columns = ["patient", "doctor", "service", "mode", "start_at", "end_at", "status", "channel", "reason",
                    "notes", "queue_date", "queue_number", "checked_in_at", "cancelled_by", "cancelled_at",
                    "cancel_reason", "series", "created_by", "created_at", "updated_at"]
    search_columns = ["patient", "doctor", "service", "mode", "status", "channel", "start_at"]
    add_columns = ["patient", "doctor", "service", "mode", "start_at", "status", "channel", "reason", "notes"]
    edit_columns = add_columns + ["cancel_reason"]
    base_order = ("start_at", "desc")
    related_views = [AppointmentEventView]
    description_columns = {"start_at": _l("The visit lasts as long as the service.")}
    add_form_extra_fields = {"mode": mode_field()}
    edit_form_extra_fields = {"mode": mode_field()}
    # Both add a "Workflow" link (/appointment-actions/<id>) for those who may act (may_use_workflow).
    show_template = "clinic/appointment_show.html"
    list_widget = AppointmentListWidget
    extra_args = {"may_use_workflow": may_use_workflow}


class AppointmentSeriesView(ClinicModelView):
    datamodel = ClinicInterface(AppointmentSeries)
    class_permission_name = "AppointmentSeries"
    list_columns = ["patient", "doctor", "service", "rule", "created_at"]
    search_columns = ["patient", "doctor", "service"]
    add_columns = edit_columns = ["patient", "doctor", "service", "rule"]
    related_views = [AppointmentView]
