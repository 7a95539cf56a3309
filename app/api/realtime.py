"""``GET /api/v1/realtime/state``: what a page that reconnects to the live updates missed (its
unread count, its notifications after the last one it saw, the versions of the waiting lists it
follows). Every signed-in user (a browser session or a JWT); only the caller's own data."""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate

from app.api.notifications import NotificationOut, notification_json
from app.api.profile import signed_in
from app.api.schemas import StrictSchema
from app.extensions import db
from app.fab.api import ClinicBaseApi, openapi
from app.services import realtime_access
from app.services.overview import local_day_bounds
from app.services.settings import ClinicSettings


class RealtimeStateQuery(StrictSchema):
    since_id = fields.Integer(load_default=None, validate=validate.Range(0, 2**31 - 1),
                              metadata={"description": "the id of the last notification the page has; "
                                                       "absent: the latest ones"})


class RealtimeState(Schema):
    unread = fields.Integer(required=True)
    notifications = fields.List(fields.Nested(NotificationOut), required=True,
                                metadata={"description": "oldest first, at most 50"})
    more = fields.Boolean(required=True, metadata={"description": "more notifications after these"})
    day = fields.String(required=True, metadata={"format": "date", "description": "today at the clinic"})
    queue_versions = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                                 metadata={"description": "doctor id -> version of today's waiting list; "
                                                          "reload a list whose version changed"})


class RealtimeApi(ClinicBaseApi):
    route_base = "/api/v1/realtime"
    resource_name = "realtime"
    openapi_spec_tag = "Live updates"
    openapi_spec_component_schemas = (RealtimeStateQuery, RealtimeState)
    class_permission_name = "MyNotifications"
    method_permission_name = {"state": "read"}
    base_permissions: list[str] = []

    @expose("/state", methods=["GET"])
    @signed_in
    @openapi(query=RealtimeStateQuery, responses={200: ("what you missed", RealtimeState)}, errors=(422,))
    def state(self, user: Any):
        """What you missed since your last notification"""
        args = RealtimeStateQuery().load(request.args.to_dict())
        settings = ClinicSettings.from_config(current_app.config)
        day = settings.today()
        start, end = local_day_bounds(day, settings)
        found = realtime_access.catch_up(db.session, user, since_id=args["since_id"], day=day, day_start=start,
                                         day_end=end)
        db.session.rollback()
        return self.response(200, unread=found.unread,
                             notifications=[notification_json(n) for n in found.notifications], more=found.more,
                             day=found.day.isoformat(),
                             queue_versions={str(k): v for k, v in found.queue_versions.items()})
