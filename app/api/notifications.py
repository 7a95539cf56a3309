"""The caller's own notifications over REST (the bell): ``GET /api/v1/notifications/`` (newest
first, a page at a time), ``GET /api/v1/notifications/count`` (unread) and ``POST
/api/v1/notifications/mark-read``. Every signed-in user may use it (a browser session or a JWT):
it only ever reaches the caller's own notifications, so it needs no permission of its own; another
user's ids are ignored."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate

from app.api.profile import signed_in
from app.api.schemas import StrictSchema
from app.extensions import db
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.models.types import utcnow
from app.services import notifications as notification_service

ID = validate.Range(1, 2**31 - 1)


class NotificationQuery(StrictSchema):
    before_id = fields.Integer(load_default=None, validate=ID,
                               metadata={"description": "the next page: the `next_before_id` of the previous one"})
    page_size = fields.Integer(load_default=25, validate=validate.Range(1, 100))
    unread_only = fields.Boolean(load_default=False)


class MarkRead(StrictSchema):
    ids = fields.List(fields.Integer(validate=ID), allow_none=True, load_default=None,
                      validate=validate.Length(max=500),
                      metadata={"description": "the notifications to mark read; null or absent: all of yours"})


class NotificationOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True, allow_none=True)
    link = fields.String(required=True, allow_none=True, metadata={"description": "a path in this app"})
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    read = fields.Boolean(required=True)


class NotificationListResult(Schema):
    result = fields.List(fields.Nested(NotificationOut), required=True)
    unread = fields.Integer(required=True)
    next_before_id = fields.Integer(required=True, allow_none=True,
                                    metadata={"description": "null: this is the last page"})


class CountResult(Schema):
    unread = fields.Integer(required=True)


class MarkReadResult(Schema):
    marked = fields.Integer(required=True, metadata={"description": "how many changed to read"})
    unread = fields.Integer(required=True)


COMPONENTS = (NotificationQuery, MarkRead, NotificationOut, NotificationListResult, CountResult, MarkReadResult)


def notification_json(row: notification_service.NotificationRow) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "title": row.title, "body": row.body, "link": row.link,
            "created_at": row.created_at.isoformat(), "read": row.read}


class NotificationsApi(ClinicBaseApi):
    route_base = "/api/v1/notifications"
    resource_name = "notifications"
    openapi_spec_tag = "Notifications"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "MyNotifications"
    # Documented as needing a login (ClinicBaseApi.operation_helper); checked by @signed_in.
    method_permission_name = {"list_mine": "read", "count": "read", "mark_read": "write"}
    base_permissions: list[str] = []

    @expose("/", methods=["GET"])
    @signed_in
    @openapi(query=NotificationQuery, responses={200: ("your notifications, newest first", NotificationListResult)},
             errors=(422,))
    def list_mine(self, user: Any):
        """Your notifications"""
        args = NotificationQuery().load(request.args.to_dict())
        size = args["page_size"]
        rows = notification_service.list_notifications(db.session, user.id, limit=size + 1,
                                                       unread_only=args["unread_only"], before_id=args["before_id"])
        more = len(rows) > size
        rows = rows[:size]
        return self.response(200, result=[notification_json(r) for r in rows],
                             unread=notification_service.unread_count(db.session, user.id),
                             next_before_id=rows[-1].id if more and rows else None)

    @expose("/count", methods=["GET"])
    @signed_in
    @openapi(responses={200: ("how many of your notifications are unread", CountResult)}, errors=())
    def count(self, user: Any):
        """Your unread count"""
        return self.response(200, unread=notification_service.unread_count(db.session, user.id))

    @expose("/mark-read", methods=["POST"])
    @signed_in
    @openapi(body=MarkRead, responses={200: ("marked", MarkReadResult)}, errors=(400, 422))
    def mark_read(self, user: Any):
        """Mark your notifications read (another user's ids are ignored)"""
        data = MarkRead().load(json_body())
        marked = notification_service.mark_read(db.session, user.id, data["ids"], now=utcnow())
        return self.response(200, marked=marked, unread=notification_service.unread_count(db.session, user.id))
