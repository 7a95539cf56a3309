"""Prescribing in the visit over REST (issue 9, items 5 and 10): the medicine search, the
encounter's prescription, the warnings preview and the items (add, change, remove). The visit
page's script uses these same endpoints with the session cookie and the ``X-CSRFToken`` header;
other clients use a JWT. Thin: parse with a schema, call ``app.services.prescribing``, answer JSON;
the rules (editable encounter, field ranges, warnings, override reasons) are the service's."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect
from marshmallow import Schema, fields, validate

from app.api import schemas
from app.extensions import db
from app.fab.actor import acting_user
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.interface import MAX_ID
from app.models import Medicine, PrescriptionItem
from app.models.interactions import SEVERITIES
from app.models.pharmacy import ROUTES
from app.models.types import utcnow
from app.services import encounters, prescribing
from app.services.errors import NotFound

_ID = validate.Range(1, MAX_ID)
_BIG = validate.Range(-(2**31), 2**31 - 1)


class MedicineQuery(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=100))


class MedicineOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    strength = fields.String(allow_none=True)
    active_ingredient = fields.String(allow_none=True)
    dosage_form = fields.String(allow_none=True)
    unit = fields.String()
    countable = fields.Boolean()
    label = fields.String()


class MedicineList(Schema):
    result = fields.List(fields.Nested(MedicineOut))


class ItemIn(Schema):
    medicine_id = fields.Integer(required=True, strict=True, validate=_ID)
    dose_amount = fields.Decimal(required=True, allow_nan=False, as_string=False)
    times_per_day = fields.Integer(required=True, strict=True, validate=_BIG)
    duration_days = fields.Integer(required=True, strict=True, validate=_BIG)
    route = fields.String(load_default="oral", validate=validate.OneOf(ROUTES))
    instructions = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    quantity = fields.Integer(load_default=None, allow_none=True, strict=True, validate=_BIG,
                              metadata={"description": "left out: computed where the unit is countable"})
    acknowledged = fields.Boolean(load_default=False,
                                  metadata={"description": "the doctor saw the warnings of the preview"})
    override_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000),
                                    metadata={"description": "needed for an allergy or a severe interaction"})


class PreviewIn(ItemIn):
    item_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=_ID,
                             metadata={"description": "the item being changed (not compared with itself)"})


class WarningOut(Schema):
    kind = fields.String(validate=validate.OneOf(("allergy", "duplicate", "interaction", "note")))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    message = fields.String()
    needs_reason = fields.Boolean()
    other = fields.String(allow_none=True)


class PreviewOut(Schema):
    warnings = fields.List(fields.Nested(WarningOut))
    needs_reason = fields.Boolean()
    quantity = fields.Integer(allow_none=True)
    countable = fields.Boolean()


class PreviewResult(Schema):
    result = fields.Nested(PreviewOut)


class ItemOut(Schema):
    id = fields.Integer()
    medicine_id = fields.Integer()
    medicine = fields.String()
    active_ingredient = fields.String(allow_none=True)
    unit = fields.String()
    dose = fields.String()
    frequency = fields.String()
    dose_amount = fields.String(allow_none=True)
    times_per_day = fields.Integer(allow_none=True)
    duration_days = fields.Integer()
    route = fields.String()
    quantity = fields.Integer()
    instructions = fields.String(allow_none=True)
    override_reason = fields.String(allow_none=True)
    warnings = fields.List(fields.Nested(WarningOut))


class ItemResult(Schema):
    result = fields.Nested(ItemOut)


class PrescriptionOut(Schema):
    id = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True)
    issued_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    editable = fields.Boolean()
    items = fields.List(fields.Nested(ItemOut))


class PrescriptionResult(Schema):
    result = fields.Nested(PrescriptionOut)


class RemovedResult(Schema):
    message = fields.String()


def medicine_json(medicine: Medicine) -> dict[str, Any]:
    return {"id": medicine.id, "code": medicine.code, "name": medicine.name, "strength": medicine.strength,
            "active_ingredient": medicine.active_ingredient, "dosage_form": medicine.dosage_form,
            "unit": medicine.unit, "countable": prescribing.is_countable(medicine.unit),
            "label": f"{medicine.name} {medicine.strength or ''}".strip()}


def item_json(item: PrescriptionItem) -> dict[str, Any]:
    return {
        "id": item.id, "medicine_id": item.medicine_id,
        "medicine": f"{item.medicine.name} {item.medicine.strength or ''}".strip(),
        "active_ingredient": item.medicine.active_ingredient, "unit": item.medicine.unit,
        "dose": item.dose, "frequency": item.frequency,
        "dose_amount": None if item.dose_amount is None else format(item.dose_amount.normalize(), "f"),
        "times_per_day": item.times_per_day, "duration_days": item.duration_days, "route": item.route,
        "quantity": item.quantity, "instructions": item.instructions, "override_reason": item.override_reason,
        "warnings": prescribing.stored_warnings(item),
    }


def _input(data: dict[str, Any]) -> prescribing.ItemInput:
    return prescribing.ItemInput(
        medicine_id=data["medicine_id"], dose_amount=data["dose_amount"], times_per_day=data["times_per_day"],
        duration_days=data["duration_days"], route=data["route"], instructions=data["instructions"],
        quantity=data["quantity"], acknowledged=data["acknowledged"], override_reason=data["override_reason"])


def _check_ids(*ids: int) -> None:
    if any(not 1 <= pk <= MAX_ID for pk in ids):
        raise NotFound("No such record.")


class VisitPrescriptionApi(ClinicBaseApi):
    """One permission with the generic prescription items (``PrescriptionItem``)."""

    route_base = "/api/v1"
    resource_name = "visit_prescription"
    openapi_spec_tag = "Prescribing in the visit"
    openapi_spec_component_schemas = (*schemas.COMPONENTS, MedicineOut, MedicineList, WarningOut, PreviewOut,
                                      PreviewResult, ItemOut, ItemResult, PrescriptionOut, PrescriptionResult,
                                      RemovedResult)
    class_permission_name = "PrescriptionItem"
    method_permission_name = {"medicines": "read", "show": "read", "preview": "read", "add": "write",
                              "update": "write", "remove": "write"}
    allow_browser_login = True

    @expose("/visit_prescription/medicines", methods=["GET"])
    @protect()
    @openapi(query=MedicineQuery, responses={200: ("active medicines matching the words typed", MedicineList)},
             errors=(400, 422))
    def medicines(self):
        """Search the medicine catalogue by name, code or active ingredient (accents ignored)"""
        args = MedicineQuery().load(request.args.to_dict())
        return self.response(200, result=[medicine_json(m) for m in prescribing.search_medicines(db.session,
                                                                                                 args["q"])])

    @expose("/visit_prescription/<int:encounter_id>", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the visit's prescription and whether it may be changed", PrescriptionResult)},
             errors=(403, 404))
    def show(self, encounter_id: int):
        """The prescription of one visit (read through the care-team access helper)"""
        _check_ids(encounter_id)
        user = acting_user()
        encounter = encounters.open_encounter(db.session, encounter_id, user, utcnow())
        prescription = prescribing.draft_prescription(db.session, encounter)
        editable = encounters.is_editable(db.session, encounter, user) and (
            prescription is None or prescription.status == "draft")
        db.session.commit()  # the audited read
        return self.response(200, result={
            "id": prescription.id if prescription else None, "status": prescription.status if prescription else None,
            "issued_at": prescription.issued_at.isoformat() if prescription and prescription.issued_at else None,
            "editable": editable, "items": [item_json(i) for i in prescribing.item_rows(prescription)]})

    @expose("/visit_prescription/<int:encounter_id>/preview", methods=["POST"])
    @protect()
    @openapi(body=PreviewIn, responses={200: ("the warnings and computed quantity; nothing written", PreviewResult)},
             errors=(400, 403, 404, 409, 422))
    def preview(self, encounter_id: int):
        """The warnings of an item before it is saved (allergy, same ingredient twice, interactions)"""
        _check_ids(encounter_id)
        data = PreviewIn().load(json_body())
        result = prescribing.preview_item(db.session, encounter_id, acting_user(), _input(data), utcnow(),
                                          item_id=data["item_id"])
        db.session.commit()  # the audited read
        return self.response(200, result=result)

    @expose("/visit_prescription/<int:encounter_id>/items", methods=["POST"])
    @protect()
    @openapi(body=ItemIn, responses={201: ("added", ItemResult)}, errors=(400, 403, 404, 409, 422))
    def add(self, encounter_id: int):
        """Add an item to the visit's prescription (warnings must be acknowledged; an allergy or a severe
        interaction needs an override reason)"""
        _check_ids(encounter_id)
        data = ItemIn().load(json_body())
        item = prescribing.add_item(db.session, encounter_id, acting_user(), _input(data), utcnow())
        return self.response(201, result=item_json(item))

    @expose("/visit_prescription/<int:encounter_id>/items/<int:item_id>", methods=["PUT"])
    @protect()
    @openapi(body=ItemIn, responses={200: ("changed", ItemResult)}, errors=(400, 403, 404, 409, 422))
    def update(self, encounter_id: int, item_id: int):
        """Change an item of the visit's prescription (the same rules as adding one)"""
        _check_ids(encounter_id, item_id)
        data = ItemIn().load(json_body())
        item = prescribing.update_item(db.session, encounter_id, item_id, acting_user(), _input(data), utcnow())
        return self.response(200, result=item_json(item))

    @expose("/visit_prescription/<int:encounter_id>/items/<int:item_id>", methods=["DELETE"])
    @protect()
    @openapi(responses={200: ("removed", RemovedResult)}, errors=(400, 403, 404, 409))
    def remove(self, encounter_id: int, item_id: int):
        """Take an item off the visit's draft prescription"""
        _check_ids(encounter_id, item_id)
        prescribing.remove_item(db.session, encounter_id, item_id, acting_user(), utcnow())
        return self.response(200, message="removed")
