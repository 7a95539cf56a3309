"""Care-team access over REST: the list of break-the-glass accesses, newest first, for those who
read the audit trail (managers, admins). Thin: ``app.services.access`` reads, this answers JSON."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect
from marshmallow import Schema, fields

from app.api import schemas
from app.extensions import db
from app.fab.api import ClinicBaseApi, openapi
from app.fab.hooks import clinic_settings
from app.models.types import utcnow
from app.services import access


class GlassBreakOut(Schema):
    id = fields.Integer()
    user = fields.String()
    patient_id = fields.Integer()
    patient = fields.String()
    reason = fields.String()
    granted_at = fields.String(metadata={"format": "date-time"})
    expires_at = fields.String(metadata={"format": "date-time"})
    active = fields.Boolean()


class GlassBreakList(Schema):
    result = fields.List(fields.Nested(GlassBreakOut))


class CareAccessApi(ClinicBaseApi):
    route_base = "/api/v1"
    resource_name = "care_access"
    openapi_spec_tag = "Care-team access"
    openapi_spec_component_schemas = (*schemas.COMPONENTS, GlassBreakOut, GlassBreakList)
    class_permission_name = "AuditEvent"
    method_permission_name = {"break_glass_log": "read"}
    allow_browser_login = True

    @expose("/care_access/break_glass", methods=["GET"])
    @protect()
    @openapi(responses={200: ("break-the-glass accesses, newest first", GlassBreakList)}, errors=())
    def break_glass_log(self):
        """Break-the-glass accesses, newest first: who, which patient, why, when, until when"""
        zone = clinic_settings().timezone
        return self.response(200, result=[{
            "id": row.id, "user": row.user, "patient_id": row.patient_id, "patient": row.patient,
            "reason": row.reason, "granted_at": row.granted_at.astimezone(zone).isoformat(),
            "expires_at": row.expires_at.astimezone(zone).isoformat(), "active": row.active,
        } for row in access.break_glass_log(db.session, utcnow())])
