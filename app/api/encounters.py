"""The visit record over REST (issue 9, item 10): save a draft (with the version the client
read), sign, amend, discard, and read a record's amendments, under ``/api/v1/encounters/<id>/...``.
The same functions as the visit page (``app.services.encounters``), the same permission as the
encounter screens and resource (``Encounter``), a JWT or the browser session with its
``X-CSRFToken`` header (the workspace's autosave uses this API)."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.api import schemas
from app.extensions import db
from app.fab.actor import acting_user
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.fab.interface import MAX_ID
from app.models import Encounter
from app.models.types import utcnow
from app.services import encounters

_NUMBER = {"type": "number", "nullable": True}


class DraftRequest(Schema):
    """The fields to save (those left out are kept) and the version the client last read."""

    class Meta:
        unknown = RAISE

    version = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))
    chief_complaint = fields.Raw(allow_none=True, metadata={"type": "string", "nullable": True})
    history = fields.Raw(allow_none=True, metadata={"type": "string", "nullable": True})
    examination = fields.Raw(allow_none=True, metadata={"type": "string", "nullable": True})
    treatment_plan = fields.Raw(allow_none=True, metadata={"type": "string", "nullable": True})
    private_notes = fields.Raw(allow_none=True, metadata={"type": "string", "nullable": True})
    pulse = fields.Raw(allow_none=True, metadata=_NUMBER)
    systolic_bp = fields.Raw(allow_none=True, metadata=_NUMBER)
    diastolic_bp = fields.Raw(allow_none=True, metadata=_NUMBER)
    temperature_c = fields.Raw(allow_none=True, metadata=_NUMBER)
    respiratory_rate = fields.Raw(allow_none=True, metadata=_NUMBER)
    spo2 = fields.Raw(allow_none=True, metadata=_NUMBER)
    height_cm = fields.Raw(allow_none=True, metadata=_NUMBER)
    weight_kg = fields.Raw(allow_none=True, metadata=_NUMBER)
    follow_up_date = fields.Raw(allow_none=True, metadata={"type": "string", "format": "date", "nullable": True})


class VersionRequest(Schema):
    class Meta:
        unknown = RAISE

    version = fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), load_default=None)


class AmendRequest(Schema):
    class Meta:
        unknown = RAISE

    field = fields.String(required=True, validate=validate.OneOf(encounters.AMENDABLE))
    new_text = fields.String(required=True)
    reason = fields.String(required=True)


class EncounterStateOut(Schema):
    id = fields.Integer()
    version = fields.Integer()
    status = fields.String(metadata={"enum": ["draft", "signed", "discarded"]})
    saved_time = fields.String(metadata={"description": "hh:mm in the clinic's time zone"})
    signed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    bmi = fields.Float(allow_none=True)
    flags = fields.Dict(keys=fields.String(), values=fields.String())


class EncounterStateResult(Schema):
    result = fields.Nested(EncounterStateOut)


class AmendmentOut(Schema):
    id = fields.Integer()
    field = fields.String()
    original_text = fields.String(allow_none=True)
    new_text = fields.String()
    reason = fields.String()
    author_id = fields.Integer(allow_none=True)
    amended_at = fields.String(metadata={"format": "date-time"})


class AmendmentResult(Schema):
    result = fields.Nested(AmendmentOut)


class AmendmentList(Schema):
    result = fields.List(fields.Nested(AmendmentOut))


COMPONENTS = (DraftRequest, VersionRequest, AmendRequest, EncounterStateOut, EncounterStateResult, AmendmentOut,
              AmendmentResult, AmendmentList, schemas.ErrorOut)
ERRORS = (400, 404, 409, 422)


def draft_data(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The version and the draft's values from the JSON body; every broken field at once (the
    schema's and the rules' together)."""
    try:
        loaded = DraftRequest().load(body)
        problems: dict[str, Any] = {}
    except ValidationError as exc:
        loaded = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        problems = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    version = loaded.pop("version", None)
    if "follow_up_date" in loaded and loaded["follow_up_date"] is not None:
        text = loaded["follow_up_date"]
        try:
            loaded["follow_up_date"] = date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
            if loaded["follow_up_date"] is None:
                raise ValueError
        except ValueError:
            del loaded["follow_up_date"]
            problems["follow_up_date"] = [_("Give a date like 2026-12-01.")]
    if problems:
        _values, more = encounters.draft_values(loaded)
        raise ValidationError({**{k: [m] for k, m in more.items()}, **problems})
    return int(version), loaded


def state_json(encounter: Encounter) -> dict[str, Any]:
    settings = clinic_settings()
    status = "discarded" if encounter.discarded_at else "signed" if encounter.signed_at else "draft"
    stamp = encounter.updated_at or utcnow()
    found = encounters.bmi(encounter.height_cm, encounter.weight_kg)
    return {"id": encounter.id, "version": encounter.version, "status": status,
            "saved_time": stamp.astimezone(settings.timezone).strftime("%H:%M"),
            "signed_at": encounter.signed_at.isoformat() if encounter.signed_at else None,
            "bmi": float(found) if found is not None else None, "flags": encounters.vital_flags(encounter)}


def amendment_json(amendment: Any) -> dict[str, Any]:
    return {"id": amendment.id, "field": amendment.field, "original_text": amendment.original_text,
            "new_text": amendment.new_text, "reason": amendment.reason, "author_id": amendment.author_id,
            "amended_at": amendment.amended_at.isoformat()}


class EncounterVisitApi(ClinicBaseApi):
    route_base = "/api/v1"
    resource_name = "encounters"
    openapi_spec_tag = "Visit record"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "Encounter"
    method_permission_name = {"draft": "write", "sign": "write", "amend": "write", "discard": "write",
                              "amendments": "read"}
    allow_browser_login = True

    @expose("/encounters/<int:pk>/draft", methods=["POST"])
    @protect()
    @openapi(body=DraftRequest, errors=ERRORS, responses={200: ("saved", EncounterStateResult)})
    def draft(self, pk: int):
        """Save the draft (its author only); refused 409 if the record changed since ``version``"""
        version, data = draft_data(json_body())
        encounter = encounters.save_draft(db.session, pk, data, version, acting_user(), utcnow())
        return self.response(200, result=state_json(encounter))

    @expose("/encounters/<int:pk>/sign", methods=["POST"])
    @protect()
    @openapi(body=VersionRequest, errors=ERRORS, responses={200: ("signed", EncounterStateResult)})
    def sign(self, pk: int):
        """Sign the record (its author; a chief complaint and a diagnosis needed); read-only afterwards"""
        data = VersionRequest().load(json_body())
        encounter = encounters.sign_encounter(db.session, pk, acting_user(), utcnow(), data.get("version"))
        return self.response(200, result=state_json(encounter))

    @expose("/encounters/<int:pk>/discard", methods=["POST"])
    @protect()
    @openapi(body=VersionRequest, errors=ERRORS, responses={200: ("discarded (kept, read-only)",
                                                                   EncounterStateResult)})
    def discard(self, pk: int):
        """Discard a draft (its author): the row is kept, read-only, with an audit row"""
        data = VersionRequest().load(json_body())
        encounter = encounters.discard_draft(db.session, pk, acting_user(), utcnow(), data.get("version"))
        return self.response(200, result=state_json(encounter))

    @expose("/encounters/<int:pk>/amend", methods=["POST"])
    @protect()
    @openapi(body=AmendRequest, errors=ERRORS, responses={201: ("amended; the original text is kept",
                                                                 AmendmentResult)})
    def amend(self, pk: int):
        """Correct a signed record (its author): the original text is kept with who, when and why"""
        data = AmendRequest().load(json_body())
        amendment = encounters.amend_encounter(db.session, pk, data["field"], data["new_text"], data["reason"],
                                               acting_user(), utcnow())
        return self.response(201, result=amendment_json(amendment))

    @expose("/encounters/<int:pk>/amendments", methods=["GET"])
    @protect()
    @openapi(errors=(404,), responses={200: ("the record's amendments, oldest first", AmendmentList)})
    def amendments(self, pk: int):
        """The amendments of a record (read through the care-team access check)"""
        encounter = encounters.open_encounter(db.session, pk, acting_user(), utcnow())
        found = [amendment_json(a) for a in encounters.amendments_of(db.session, encounter.id)]
        db.session.commit()  # the audited read
        return self.response(200, result=found)
