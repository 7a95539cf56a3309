"""Schemas of the locked-accounts API (app/api/lockout.py): what it answers, documented in OpenAPI."""
from __future__ import annotations

from marshmallow import Schema, fields


class LockedAccountOut(Schema):
    user_id = fields.Integer(required=True)
    username = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    failures = fields.Integer(required=True, metadata={"description": "failed logins in a row"})
    locked_at = fields.String(required=True, metadata={"format": "date-time"})
    locked_until = fields.String(required=True, metadata={"format": "date-time"})


class LockedAccountsResult(Schema):
    result = fields.List(fields.Nested(LockedAccountOut), required=True)


class UnlockedResult(Schema):
    user_id = fields.Integer(required=True)
    unlocked = fields.Boolean(required=True)


COMPONENTS = (LockedAccountOut, LockedAccountsResult, UnlockedResult)
