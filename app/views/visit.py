"""The visit workspace: one hand-written page per encounter (issue 9, item 2). Its sections
(diagnoses, prescription, lab orders, files) are partial templates under
``templates/clinic/visit/``, each with its own endpoints; this page only puts them together."""
from __future__ import annotations

from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access

from app.extensions import db
from app.fab.actor import acting_user
from app.models.types import utcnow
from app.services import encounters


class VisitView(BaseView):
    route_base = "/visit"
    default_view = "workspace"
    class_permission_name = "Encounter"
    method_permission_name = {"workspace": "read"}

    @expose("/<int:encounter_id>")
    @has_access
    def workspace(self, encounter_id: int) -> ResponseReturnValue:
        user = acting_user()
        encounter = encounters.open_encounter(db.session, encounter_id, user, utcnow())
        return self.render_template("clinic/visit/workspace.html", encounter=encounter, patient=encounter.patient,
                                    editable=encounters.is_editable(db.session, encounter, user))
