"""ICD-10 search and a visit's diagnoses over REST (the visit page's script uses the same calls
with the browser session and its CSRF header). Thin: parse with a schema, call
``app.services.icd10`` / ``app.services.diagnoses``, answer JSON; domain errors are answered by
``app.errors`` (403/404/409/422 naming the field)."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect
from flask_babel import get_locale
from marshmallow import Schema, fields, validate

from app.api import schemas
from app.api.schemas import StrictSchema, _flag
from app.extensions import db
from app.fab.actor import acting_user
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.models import Diagnosis
from app.models.icd10 import Icd10Code
from app.models.types import utcnow
from app.services import diagnoses, icd10


def language() -> str:
    return str(get_locale() or "en")


# --- what clients send -------------------------------------------------------------------------


class Icd10Query(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(max=icd10.QUERY_MAX),
                      metadata={"description": "code or words of the English or Vietnamese title, "
                                               "accents and case ignored"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, icd10.LIMIT_MAX))


class DiagnosisAdd(StrictSchema):
    icd10_code = fields.String(required=True, validate=validate.Length(min=1, max=10),
                               metadata={"description": "a code of the ICD-10 table, e.g. J02.9"})
    is_primary = _flag(load_default=False)
    text = fields.String(allow_none=True, validate=validate.Length(max=diagnoses.TEXT_MAX),
                         metadata={"description": "the doctor's wording; default: the code's title in the "
                                                  "user's language"})


class DiagnosisChange(StrictSchema):
    is_primary = _flag()
    text = fields.String(validate=validate.Length(min=1, max=diagnoses.TEXT_MAX))


# --- what they get -----------------------------------------------------------------------------


class Icd10Out(Schema):
    code = fields.String()
    title = fields.String(metadata={"description": "the title in the user's language"})
    title_en = fields.String()
    title_vi = fields.String()


class Icd10List(Schema):
    result = fields.List(fields.Nested(Icd10Out))


class DiagnosisOut(Schema):
    id = fields.Integer()
    encounter_id = fields.Integer()
    icd10_code = fields.String()
    text = fields.String()
    is_primary = fields.Boolean()


class DiagnosisResult(Schema):
    result = fields.Nested(DiagnosisOut)
    diagnoses = fields.List(fields.Nested(DiagnosisOut), metadata={"description": "all of the visit's, primary first"})


class DiagnosisList(Schema):
    result = fields.List(fields.Nested(DiagnosisOut))


def icd10_json(entry: Icd10Code, lang: str) -> dict[str, Any]:
    return {"code": entry.code, "title": icd10.title(entry, lang), "title_en": entry.title_en,
            "title_vi": entry.title_vi}


def diagnosis_json(diagnosis: Diagnosis) -> dict[str, Any]:
    return {"id": diagnosis.id, "encounter_id": diagnosis.encounter_id, "icd10_code": diagnosis.icd10_code,
            "text": diagnosis.text, "is_primary": diagnosis.is_primary}


class Icd10Api(ClinicBaseApi):
    """Search the ICD-10 table: for whoever may read encounters (the doctors who write them)."""

    route_base = "/api/v1"
    resource_name = "icd10"
    openapi_spec_tag = "ICD-10"
    openapi_spec_component_schemas = (*schemas.COMPONENTS, Icd10Query, Icd10Out, Icd10List)
    class_permission_name = "Encounter"
    method_permission_name = {"search": "read"}
    allow_browser_login = True

    @expose("/icd10/", methods=["GET"])
    @protect()
    @openapi(query=Icd10Query, responses={200: ("matching codes, best first", Icd10List)}, errors=(400, 422))
    def search(self):
        """Search ICD-10 codes by code or title words (English or Vietnamese, accents ignored)"""
        args = Icd10Query().load({k: v for k, v in request.args.items() if k != "_l_"})  # ?_l_=vi: the language
        lang = language()
        return self.response(200, result=[icd10_json(entry, lang)
                                          for entry in icd10.search(db.session, args["q"], args["limit"])])


class VisitDiagnosisApi(ClinicBaseApi):
    """A visit's diagnoses: listed for readers, changed by the author of a draft only."""

    route_base = "/api/v1"
    resource_name = "visit_diagnosis"
    openapi_spec_tag = "Visit diagnoses"
    openapi_spec_component_schemas = (*schemas.COMPONENTS, DiagnosisAdd, DiagnosisChange, DiagnosisOut,
                                      DiagnosisResult, DiagnosisList)
    class_permission_name = "Diagnosis"
    method_permission_name = {"list_diagnoses": "read", "add": "write", "change": "write", "remove": "write"}
    allow_browser_login = True

    def _all(self, encounter_id: int) -> list[dict[str, Any]]:
        return [diagnosis_json(d) for d in diagnoses.diagnoses_of(db.session, encounter_id)]

    @expose("/encounter/<int:encounter_id>/diagnoses", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the visit's diagnoses, primary first", DiagnosisList)}, errors=(404,))
    def list_diagnoses(self, encounter_id: int):
        """The diagnoses of a visit"""
        found = diagnoses.list_diagnoses(db.session, encounter_id, acting_user(), utcnow())
        return self.response(200, result=[diagnosis_json(d) for d in found])

    @expose("/encounter/<int:encounter_id>/diagnoses", methods=["POST"])
    @protect()
    @openapi(body=DiagnosisAdd, responses={201: ("added", DiagnosisResult)})
    def add(self, encounter_id: int):
        """Add a diagnosis (an ICD-10 code of the table) to a draft visit"""
        data = DiagnosisAdd().load(json_body())
        diagnosis = diagnoses.add_diagnosis(db.session, encounter_id, data["icd10_code"], data["is_primary"],
                                            acting_user(), utcnow(), text=data.get("text"), language=language())
        return self.response(201, result=diagnosis_json(diagnosis), diagnoses=self._all(encounter_id))

    @expose("/encounter/<int:encounter_id>/diagnoses/<int:diagnosis_id>", methods=["PATCH"])
    @protect()
    @openapi(body=DiagnosisChange, responses={200: ("changed", DiagnosisResult)})
    def change(self, encounter_id: int, diagnosis_id: int):
        """Make a diagnosis of a draft visit primary or secondary, or change its wording"""
        data = DiagnosisChange().load(json_body())
        diagnosis = diagnoses.update_diagnosis(db.session, encounter_id, diagnosis_id, acting_user(), utcnow(),
                                               is_primary=data.get("is_primary"), text=data.get("text"))
        return self.response(200, result=diagnosis_json(diagnosis), diagnoses=self._all(encounter_id))

    @expose("/encounter/<int:encounter_id>/diagnoses/<int:diagnosis_id>", methods=["DELETE"])
    @protect()
    @openapi(responses={200: ("removed; the visit's remaining diagnoses", DiagnosisList)})
    def remove(self, encounter_id: int, diagnosis_id: int):
        """Take a diagnosis off a draft visit"""
        diagnoses.remove_diagnosis(db.session, encounter_id, diagnosis_id, acting_user(), utcnow())
        return self.response(200, result=self._all(encounter_id))
