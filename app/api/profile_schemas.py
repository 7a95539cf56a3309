"""Schemas of the profile API (app/api/profile.py): what ``PATCH /api/v1/me`` takes and what the
profile answers give, documented in OpenAPI."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.schemas import StrictSchema
from app.services.accounts.profile import CHANNELS
from config import Config

LANGUAGES = tuple(Config.LANGUAGES)


class ProfilePatch(StrictSchema):
    """Only the fields sent change. ``email``: a link is sent to the new address, which replaces
    the old one when it is opened."""

    full_name = fields.String(validate=validate.Length(max=150),
                              metadata={"example": "Nguyễn Thị Hồng Nhung"})
    phone = fields.String(allow_none=True, validate=validate.Length(max=40),
                          metadata={"example": "0903 123 456", "description": "empty or null: no phone"})
    email = fields.String(validate=validate.Length(max=254))
    language = fields.String(allow_none=True, validate=validate.OneOf(LANGUAGES),
                             metadata={"description": "null: follow the browser"})
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)),
                           validate=validate.Length(max=len(CHANNELS)),
                           metadata={"description": "how the clinic may send notices; [] for none"})
    quiet_from = fields.String(allow_none=True, validate=validate.Length(max=5), metadata={
        "example": "21:00", "description": "no SMS or Zalo from this time (clinic time, HH:MM); "
                                           "with quiet_until, or both null for none"})
    quiet_until = fields.String(allow_none=True, validate=validate.Length(max=5), metadata={
        "example": "07:00", "description": "... until this time (may be the next morning)"})


class TwoFactorOut(Schema):
    enrolled = fields.Boolean(required=True)
    required = fields.Boolean(required=True)


class ProfileOut(Schema):
    user_id = fields.Integer(required=True)
    username = fields.String(required=True)
    full_name = fields.String(required=True)
    email = fields.String(required=True, allow_none=True)
    pending_email = fields.String(required=True, allow_none=True,
                                  metadata={"description": "a new address waiting for its link to be opened"})
    phone = fields.String(required=True, allow_none=True, metadata={"description": "E.164"})
    language = fields.String(required=True, allow_none=True)
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True)
    quiet_from = fields.String(required=True, allow_none=True, metadata={"example": "21:00"})
    quiet_until = fields.String(required=True, allow_none=True, metadata={"example": "07:00"})
    roles = fields.List(fields.String(), required=True)
    is_patient = fields.Boolean(required=True)
    two_factor = fields.Nested(TwoFactorOut, required=True, allow_none=True)


class ProfileResult(Schema):
    result = fields.Nested(ProfileOut, required=True)


class EmailChangeOut(Schema):
    sent_to = fields.String(required=True, metadata={"description": "open the link sent there to finish"})


class ProfilePatchResult(ProfileResult):
    email_change = fields.Nested(EmailChangeOut, allow_none=True)


class ExportResult(Schema):
    """Everything the clinic keeps about the patient, as plain JSON."""

    exported_at = fields.String(required=True, metadata={"format": "date-time"})
    account = fields.Dict(required=True)
    patient = fields.Dict(required=True)
    appointments = fields.List(fields.Dict(), required=True)
    encounters = fields.List(fields.Dict(), required=True)
    prescriptions = fields.List(fields.Dict(), required=True)
    lab_orders = fields.List(fields.Dict(), required=True)
    invoices = fields.List(fields.Dict(), required=True)
    reviews = fields.List(fields.Dict(), required=True)


COMPONENTS = (ProfilePatch, TwoFactorOut, ProfileOut, ProfileResult, EmailChangeOut, ProfilePatchResult, ExportResult)
