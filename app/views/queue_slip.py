"""The check-in slip the front desk prints (``/front-desk/slip/<id>``): the queue number, the doctor,
and the QR code of the patient's ticket page (``/queue/ticket/<token>``, their place in the queue
and predicted wait on their phone). Read permission on appointments (reception)."""
from __future__ import annotations

from flask import abort, current_app, url_for
from flask_appbuilder import BaseView, expose, has_access

from app.extensions import db
from app.services import waiting_room
from app.services.errors import Conflict, NotFound
from app.views.base import clinic_settings


class QueueSlipView(BaseView):
    route_base = "/front-desk/slip"
    default_view = "slip"
    class_permission_name = "Appointment"
    method_permission_name = {"slip": "read"}

    @expose("/<int:pk>")
    @has_access
    def slip(self, pk: int):
        try:
            slip = waiting_room.check_in_slip(  # without PUBLIC_BASE_URL: the address the desk uses
                db.session, pk, config=current_app.config,
                link=lambda token: url_for("queue_display.ticket", token=token, _external=True))
        except NotFound as exc:
            abort(404, description=exc.message)
        except Conflict as exc:
            return self.render_template("clinic/queue_slip.html", slip=None, message=exc.message, pk=pk), 409
        local = slip.checked_in_at.astimezone(clinic_settings().timezone) if slip.checked_in_at else None
        return self.render_template("clinic/queue_slip.html", slip=slip, message=None, pk=pk,
                                    checked_in=local.strftime("%H:%M %d/%m/%Y") if local else "")
