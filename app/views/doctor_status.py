"""The doctor status board: who is available, consulting (queue number), off or on leave now."""
from __future__ import annotations

from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.services.doctor_status import doctor_states
from app.views.base import clinic_settings

STATE_LABELS = {
    "available": _l("Available"), "in_consultation": _l("In consultation"), "off": _l("Off duty"),
    "on_leave": _l("On leave"),
}
STATE_STYLES = {"available": "success", "in_consultation": "warning", "off": "default", "on_leave": "danger"}


class DoctorStatusView(BaseView):
    route_base = "/doctor-status"
    default_view = "board"
    class_permission_name = "Doctor"
    method_permission_name = {"board": "read"}

    @expose("/")
    @has_access
    def board(self):
        return self.render_template("clinic/doctor_status.html", states=doctor_states(db.session, clinic_settings()),
                                    labels=STATE_LABELS, styles=STATE_STYLES)
